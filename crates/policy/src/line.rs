//! Splitting one bill line by its catalogue class: fully self-paid, over the price cap, class B
//! first self-pay, and the in-scope rest.

use yibao_domain::{ChargeClass, Money, Quantity, Ratio, UnitPrice};

use crate::explain::{Rule, Step};

/// What the catalogue says about an item (`med_list_codg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueItem {
    pub code: String,
    pub name: String,
    pub class: ChargeClass,
    /// The person's first share of a class B line (乙类先行自付比例).
    pub first_selfpay: Ratio,
    /// The most the fund recognises per unit (`pric_uplmt_amt`).
    pub price_cap: Option<UnitPrice>,
}

/// One bill line as the institution sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInput {
    pub serial: String,
    pub code: String,
    pub price: UnitPrice,
    /// Negative on a refund line.
    pub quantity: Quantity,
    /// `det_item_fee_sumamt`: price × quantity to the fen.
    pub amount: Money,
}

/// A line split into the four parts of the national interface; the parts sum to `amount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSplit {
    pub serial: String,
    pub amount: Money,
    /// `chrgitm_lv`; `None` for an item not in the catalogue (priced as self-funded).
    pub class: Option<ChargeClass>,
    pub selfpay_ratio: Ratio,
    pub price_cap: Option<UnitPrice>,
    pub fully_selfpaid: Money,
    pub over_limit: Money,
    pub first_selfpay: Money,
    pub in_scope: Money,
    pub steps: Vec<Step>,
}

/// Splits a line: self-funded or unknown items are paid in full by the person; otherwise the
/// part of the unit price above the cap times the quantity is over-limit, class B then pays its
/// first self-pay ratio of the rest, and what remains is in scope. Each part is rounded half
/// away from zero to the fen; a refund line (negative quantity) splits as the mirror image.
pub fn split_line(line: &LineInput, item: Option<&CatalogueItem>) -> LineSplit {
    let amount = line.amount;
    let mut split = LineSplit {
        serial: line.serial.clone(),
        amount,
        class: item.map(|item| item.class),
        selfpay_ratio: Ratio::ONE,
        price_cap: item.and_then(|item| item.price_cap),
        fully_selfpaid: Money::ZERO,
        over_limit: Money::ZERO,
        first_selfpay: Money::ZERO,
        in_scope: Money::ZERO,
        steps: Vec::new(),
    };
    let step = |rule, money: Money, zh: String, en: String| Step {
        line: Some(line.serial.clone()),
        ..Step::new(rule, money, zh, en)
    };
    let item = match item {
        Some(item) if item.class != ChargeClass::SelfFunded => item,
        Some(item) => {
            split.fully_selfpaid = amount;
            split.steps.push(step(
                Rule::LineSelfFunded,
                amount,
                format!("{}（{}）为自费项目，{amount}元全部由个人负担", item.name, item.code),
                format!("{} ({}) is self-funded: the person pays all {amount} yuan", item.name, item.code),
            ));
            return split;
        }
        None => {
            split.fully_selfpaid = amount;
            split.steps.push(step(
                Rule::LineSelfFunded,
                amount,
                format!("项目{}不在医保目录内，{amount}元按自费处理", line.code),
                format!("item {} is not in the catalogue: its {amount} yuan are self-paid", line.code),
            ));
            return split;
        }
    };
    if let Some(cap) = item.price_cap.filter(|cap| line.price > *cap) {
        let excess = UnitPrice::from_micro_yuan(line.price.micro_yuan() - cap.micro_yuan());
        // Never more than the line itself, whatever rounding did.
        split.over_limit = match amount.is_negative() {
            true => excess.times(line.quantity).max(amount),
            false => excess.times(line.quantity).min(amount),
        };
        split.steps.push(step(
            Rule::LineOverLimit,
            split.over_limit,
            format!(
                "{}单价{}元超过医保支付限价{}元，超出部分（{}元×{}）{}元由个人负担",
                item.name, line.price, cap, excess, line.quantity, split.over_limit
            ),
            format!(
                "{} costs {} yuan a unit, above the cap of {}: the excess ({} × {}) of {} yuan is self-paid",
                item.name, line.price, cap, excess, line.quantity, split.over_limit
            ),
        ));
    }
    let rest = amount - split.over_limit;
    match item.class {
        ChargeClass::ClassB => {
            split.selfpay_ratio = item.first_selfpay;
            split.first_selfpay = rest.times(item.first_selfpay);
            split.in_scope = rest - split.first_selfpay;
            split.steps.push(step(
                Rule::LineClassBFirstSelfPay,
                split.first_selfpay,
                format!(
                    "{}为乙类项目，先由个人自付{}×{}={}元",
                    item.name, rest, item.first_selfpay, split.first_selfpay
                ),
                format!(
                    "{} is class B: the person first pays {} × {} = {} yuan",
                    item.name, rest, item.first_selfpay, split.first_selfpay
                ),
            ));
            split.steps.push(step(
                Rule::LineClassBInScope,
                split.in_scope,
                format!("其余{}元进入医保支付范围", split.in_scope),
                format!("the remaining {} yuan are in scope", split.in_scope),
            ));
        }
        ChargeClass::ClassA | ChargeClass::SelfFunded => {
            split.selfpay_ratio = Ratio::ZERO;
            split.in_scope = rest;
            split.steps.push(step(
                Rule::LineClassA,
                rest,
                format!("{}为甲类项目，{rest}元全部进入医保支付范围", item.name),
                format!("{} is class A: all {rest} yuan are in scope", item.name),
            ));
        }
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(class: ChargeClass, ratio: &str, cap: Option<&str>) -> CatalogueItem {
        CatalogueItem {
            code: "X".into(),
            name: "测试".into(),
            class,
            first_selfpay: ratio.parse().unwrap(),
            price_cap: cap.map(|cap| cap.parse().unwrap()),
        }
    }

    fn line(price: &str, quantity: &str) -> LineInput {
        let price: UnitPrice = price.parse().unwrap();
        let quantity: Quantity = quantity.parse().unwrap();
        LineInput { serial: "1".into(), code: "X".into(), price, quantity, amount: price.times(quantity) }
    }

    fn parts(split: &LineSplit) -> [i64; 4] {
        [split.fully_selfpaid.fen(), split.over_limit.fen(), split.first_selfpay.fen(), split.in_scope.fen()]
    }

    #[test]
    fn hebei_sample_class_b_five_percent() {
        let split = split_line(&line("4.52", "1"), Some(&item(ChargeClass::ClassB, "0.05", None)));
        assert_eq!(parts(&split), [0, 0, 23, 429]);
    }

    #[test]
    fn ultrasound_above_its_cap() {
        let split = split_line(&line("120", "1"), Some(&item(ChargeClass::ClassB, "0.1", Some("110"))));
        assert_eq!(parts(&split), [0, 1000, 1100, 9900]);
    }

    #[test]
    fn refund_is_the_mirror_image() {
        let b = item(ChargeClass::ClassB, "0.1", Some("110"));
        let sale = split_line(&line("120", "2"), Some(&b));
        let refund = split_line(&line("120", "-2"), Some(&b));
        assert_eq!(parts(&refund), parts(&sale).map(|fen| -fen));
    }

    #[test]
    fn unknown_and_self_funded_items_are_self_paid() {
        assert_eq!(parts(&split_line(&line("20", "1"), None)), [2000, 0, 0, 0]);
        let c = item(ChargeClass::SelfFunded, "1", None);
        assert_eq!(parts(&split_line(&line("20", "1"), Some(&c))), [2000, 0, 0, 0]);
    }
}

//! The settlement waterfall: from split bill lines, the person's year so far and the policy, to
//! the fund's, the personal account's and the person's cash part, with every step explained.

use std::fmt;

use yibao_domain::{InstitutionLevel, InsuranceType, MedType, Money, PersonType, PersonTypeGroup, Ratio};

use crate::explain::{Rule, Step};
use crate::line::LineSplit;
use crate::model::{DeductibleRule, Disease, Policy, Scheme};

/// A person's totals for one insurance year (累计信息). Also used for the change one
/// settlement makes to them; a cancellation subtracts that change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accumulators {
    /// Outpatient deductible paid this year.
    pub outpatient_deductible_paid: Money,
    /// Inpatient deductible paid this year.
    pub inpatient_deductible_paid: Money,
    /// Admissions settled this year (住院次数).
    pub admissions: i64,
    /// In-scope outpatient cost already shared within the annual band.
    pub outpatient_band_used: Money,
    /// What the pooled fund paid this year, toward the annual cap.
    pub fund_paid: Money,
    /// All medical costs settled this year (医疗费合计).
    pub medfee_total: Money,
    /// What the civil-servant subsidy paid this year, toward its annual cap.
    pub subsidy_paid: Money,
}

impl Accumulators {
    #[must_use]
    pub fn plus(&self, change: &Accumulators) -> Accumulators {
        Accumulators {
            outpatient_deductible_paid: self.outpatient_deductible_paid + change.outpatient_deductible_paid,
            inpatient_deductible_paid: self.inpatient_deductible_paid + change.inpatient_deductible_paid,
            admissions: self.admissions + change.admissions,
            outpatient_band_used: self.outpatient_band_used + change.outpatient_band_used,
            fund_paid: self.fund_paid + change.fund_paid,
            medfee_total: self.medfee_total + change.medfee_total,
            subsidy_paid: self.subsidy_paid + change.subsidy_paid,
        }
    }

    #[must_use]
    pub fn negated(&self) -> Accumulators {
        Accumulators::default().minus(self)
    }

    #[must_use]
    pub fn minus(&self, change: &Accumulators) -> Accumulators {
        Accumulators {
            outpatient_deductible_paid: self.outpatient_deductible_paid - change.outpatient_deductible_paid,
            inpatient_deductible_paid: self.inpatient_deductible_paid - change.inpatient_deductible_paid,
            admissions: self.admissions - change.admissions,
            outpatient_band_used: self.outpatient_band_used - change.outpatient_band_used,
            fund_paid: self.fund_paid - change.fund_paid,
            medfee_total: self.medfee_total - change.medfee_total,
            subsidy_paid: self.subsidy_paid - change.subsidy_paid,
        }
    }

    /// Total deductible paid this year, inpatient and outpatient (`Q0000`).
    pub fn deductible_paid(&self) -> Money {
        self.outpatient_deductible_paid + self.inpatient_deductible_paid
    }
}

/// Where an admission stands before this settlement (for inpatient settlements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Admission {
    /// An earlier (mid-stay) settlement of this admission already counted it as an admission.
    pub counted: bool,
    /// The deductible earlier settlements of this admission paid.
    pub deductible_paid: Money,
}

/// The two parts of a personal account, when it may pay (`acct_used_flag = 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountBalances {
    pub current_year: Money,
    pub prior_years: Money,
}

/// Which rule of the scheme priced the settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettlementKind {
    Outpatient,
    Inpatient,
    SpecialOutpatient,
}

impl SettlementKind {
    /// `clr_type` of the national interface: 11 outpatient, 21 inpatient.
    pub fn clearing_type(self) -> &'static str {
        match self {
            SettlementKind::Outpatient | SettlementKind::SpecialOutpatient => "11",
            SettlementKind::Inpatient => "21",
        }
    }
}

/// Everything pricing needs, already loaded and checked by the caller.
#[derive(Debug, Clone, Copy)]
pub struct PriceInput<'a> {
    pub policy: &'a Policy,
    pub scheme: &'a Scheme,
    pub insurance: InsuranceType,
    pub person_type: PersonType,
    /// The institution's level; `None` for a pharmacy.
    pub level: Option<InstitutionLevel>,
    pub med_type: MedType,
    pub lines: &'a [LineSplit],
    pub year_to_date: &'a Accumulators,
    /// For inpatient settlements; ignored otherwise.
    pub admission: Admission,
    /// The registered special disease the visit treats, for special outpatient care.
    pub special_disease: Option<&'a Disease>,
    /// `Some` when the person has a personal account and the terminal asked to use it.
    pub account: Option<AccountBalances>,
}

/// The priced settlement. Identities: `medfee = fully_selfpaid + over_limit + first_selfpay +
/// in_scope` and `medfee = fund + subsidy + account + cash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    pub kind: SettlementKind,
    pub medfee: Money,
    pub fully_selfpaid: Money,
    pub over_limit: Money,
    pub first_selfpay: Money,
    pub in_scope: Money,
    /// The deductible paid by this settlement (`act_pay_dedc`).
    pub deductible: Money,
    /// The deductible standard that applied (`dedc_std`): the level's, halved for a repeat
    /// admission, or the annual outpatient one; zero where none applies.
    pub deductible_standard: Money,
    /// The fund's share applied to the in-scope cost above the deductible.
    pub fund_share: Ratio,
    /// What the pooled fund pays (`hifp_pay`).
    pub fund: Money,
    /// What the civil-servant subsidy pays (`cvlserv_pay`).
    pub subsidy: Money,
    pub account_current_year: Money,
    pub account_prior_years: Money,
    pub cash: Money,
    /// What this settlement adds to the person's accumulators.
    pub change: Accumulators,
    /// Line steps first (in line order), then the settlement's steps.
    pub steps: Vec<Step>,
}

impl Pricing {
    /// `acct_pay`.
    pub fn account(&self) -> Money {
        self.account_current_year + self.account_prior_years
    }

    /// `fund_pay_sumamt`: what the funds pay (pooled fund and civil-servant subsidy).
    pub fn funds(&self) -> Money {
        self.fund + self.subsidy
    }

    /// `psn_part_amt`: what the person bears, from the account or in cash.
    pub fn person_part(&self) -> Money {
        self.medfee - self.funds()
    }
}

/// Why a bill cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PricingError {
    MedTypeNotCovered {
        med_type: MedType,
        policy: String,
    },
    /// The rule has no share for this kind of institution (e.g. inpatient care at a pharmacy).
    LevelNotPriced {
        med_type: MedType,
    },
    /// Special outpatient care needs a special disease registered for the person.
    SpecialDiseaseRequired,
    /// The lines net to less than zero (more refunded than charged).
    NegativeTotal {
        medfee: Money,
    },
}

impl fmt::Display for PricingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PricingError::MedTypeNotCovered { med_type, policy } => {
                write!(f, "medical type {med_type} is not priced by policy {policy}")
            }
            PricingError::LevelNotPriced { med_type } => {
                write!(f, "medical type {med_type} is not priced at this kind of institution")
            }
            PricingError::SpecialDiseaseRequired => {
                write!(f, "special outpatient care needs a registered special disease")
            }
            PricingError::NegativeTotal { medfee } => {
                write!(f, "the lines total {medfee}, less than zero")
            }
        }
    }
}

impl std::error::Error for PricingError {}

/// Prices a settlement. Deterministic and pure: the same input always gives the same output.
///
/// The waterfall: (1) sum the line parts; (2) deductible from the year's accumulators;
/// (3) the fund's share of the in-scope rest, within the outpatient band where there is one,
/// rounded once; (4) the annual cap; (5) for civil servants, the subsidy's share of what the
/// person bears in scope above the deductible, within its own annual cap; (6) the personal
/// account pays the person's part, the current-year part first; (7) the rest is cash.
///
/// # Errors
/// [`PricingError`] when the policy does not price this medical type here, or the lines net
/// below zero.
pub fn price(input: &PriceInput<'_>) -> Result<Pricing, PricingError> {
    let scheme = input.scheme;
    let mut pricing = Pricing {
        kind: kind_of(input)?,
        medfee: Money::ZERO,
        fully_selfpaid: Money::ZERO,
        over_limit: Money::ZERO,
        first_selfpay: Money::ZERO,
        in_scope: Money::ZERO,
        deductible: Money::ZERO,
        deductible_standard: Money::ZERO,
        fund_share: Ratio::ZERO,
        fund: Money::ZERO,
        subsidy: Money::ZERO,
        account_current_year: Money::ZERO,
        account_prior_years: Money::ZERO,
        cash: Money::ZERO,
        change: Accumulators::default(),
        steps: Vec::new(),
    };
    for line in input.lines {
        pricing.medfee += line.amount;
        pricing.fully_selfpaid += line.fully_selfpaid;
        pricing.over_limit += line.over_limit;
        pricing.first_selfpay += line.first_selfpay;
        pricing.in_scope += line.in_scope;
        pricing.steps.extend(line.steps.iter().cloned());
    }
    if pricing.medfee.is_negative() {
        return Err(PricingError::NegativeTotal { medfee: pricing.medfee });
    }
    let in_scope = pricing.in_scope.clamp_to_zero();
    let fund_before_cap = match pricing.kind {
        SettlementKind::Outpatient => outpatient(input, in_scope, &mut pricing)?,
        SettlementKind::Inpatient => inpatient(input, in_scope, &mut pricing)?,
        SettlementKind::SpecialOutpatient => special_outpatient(input, in_scope, &mut pricing)?,
    };
    let cap_left = (scheme.annual_fund_cap - input.year_to_date.fund_paid).clamp_to_zero();
    pricing.fund = fund_before_cap.min(cap_left);
    if pricing.fund < fund_before_cap {
        pricing.steps.push(Step::new(
            Rule::AnnualCap,
            fund_before_cap - pricing.fund,
            format!(
                "统筹基金年度最高支付限额{}元，本年已支付{}元，本次基金支付由{}元降为{}元",
                scheme.annual_fund_cap, input.year_to_date.fund_paid, fund_before_cap, pricing.fund
            ),
            format!(
                "the fund pays at most {} yuan a year and has paid {}: its part falls from {} to {} yuan",
                scheme.annual_fund_cap, input.year_to_date.fund_paid, fund_before_cap, pricing.fund
            ),
        ));
    }
    pricing.change.fund_paid = pricing.fund;
    pricing.change.medfee_total = pricing.medfee;
    civil_servant_subsidy(input, &mut pricing);
    pay_person_part(input, &mut pricing);
    debug_assert_eq!(
        pricing.medfee,
        pricing.fully_selfpaid + pricing.over_limit + pricing.first_selfpay + pricing.in_scope
    );
    debug_assert_eq!(pricing.medfee, pricing.funds() + pricing.account() + pricing.cash);
    Ok(pricing)
}

fn kind_of(input: &PriceInput<'_>) -> Result<SettlementKind, PricingError> {
    let scheme = input.scheme;
    let med_type = input.med_type;
    if scheme.outpatient.med_types.contains(&med_type) {
        return Ok(SettlementKind::Outpatient);
    }
    if scheme.inpatient.med_types.contains(&med_type) {
        return Ok(SettlementKind::Inpatient);
    }
    if scheme.special_outpatient.as_ref().is_some_and(|rule| rule.med_types.contains(&med_type)) {
        return Ok(SettlementKind::SpecialOutpatient);
    }
    Err(PricingError::MedTypeNotCovered { med_type, policy: input.policy.label() })
}

fn level_name(level: Option<InstitutionLevel>) -> (&'static str, &'static str) {
    match level {
        Some(InstitutionLevel::Tertiary) => ("三级医疗机构", "a tertiary hospital"),
        Some(InstitutionLevel::Secondary) => ("二级医疗机构", "a secondary hospital"),
        Some(InstitutionLevel::Primary) => ("一级医疗机构", "a primary hospital"),
        Some(InstitutionLevel::Community) => ("社区卫生服务机构", "a community health centre"),
        None => ("定点零售药店", "a designated pharmacy"),
    }
}

fn outpatient(input: &PriceInput<'_>, in_scope: Money, pricing: &mut Pricing) -> Result<Money, PricingError> {
    let rule = &input.scheme.outpatient;
    let (where_zh, where_en) = level_name(input.level);
    let owed = (rule.annual_deductible - input.year_to_date.outpatient_deductible_paid).clamp_to_zero();
    let deductible = owed.min(in_scope);
    if rule.annual_deductible.is_positive() {
        pricing.deductible = deductible;
        pricing.deductible_standard = rule.annual_deductible;
        pricing.change.outpatient_deductible_paid = deductible;
        pricing.steps.push(Step::new(
            Rule::OutpatientDeductible,
            deductible,
            format!(
                "门诊年度起付标准{}元，本年已付{}元，本次{}元计入起付线由个人负担",
                rule.annual_deductible, input.year_to_date.outpatient_deductible_paid, deductible
            ),
            format!(
                "the outpatient deductible is {} yuan a year, {} already paid: {} yuan of this bill count toward it",
                rule.annual_deductible, input.year_to_date.outpatient_deductible_paid, deductible
            ),
        ));
    }
    let share = rule.fund_share.get(input.level).unwrap_or(Ratio::ZERO);
    if share == Ratio::ZERO {
        pricing.steps.push(Step::new(
            Rule::OutpatientNoFundShare,
            Money::ZERO,
            format!("本政策下{}在{}的普通门诊费用统筹基金不予支付", input.scheme.name, where_zh),
            format!(
                "under this policy the pooled fund pays no share of {} outpatient care at {where_en}",
                input.scheme.name
            ),
        ));
        return Ok(Money::ZERO);
    }
    let mut eligible = in_scope - deductible;
    if let Some(band) = rule.annual_band {
        let band_left = (band - input.year_to_date.outpatient_band_used).clamp_to_zero();
        let within = eligible.min(band_left);
        pricing.change.outpatient_band_used = within;
        pricing.steps.push(Step::new(
            Rule::OutpatientBand,
            within,
            format!(
                "门诊年度{}元以内（含）的费用由统筹基金按比例支付，本年已用{}元，本次{}元在此范围内",
                band, input.year_to_date.outpatient_band_used, within
            ),
            format!(
                "the fund shares only the first {} yuan of in-scope outpatient cost a year; {} were used, {} yuan of this bill fall within",
                band, input.year_to_date.outpatient_band_used, within
            ),
        ));
        eligible = within;
    }
    let fund = eligible.times(share);
    pricing.fund_share = share;
    pricing.steps.push(Step::new(
        Rule::OutpatientFundShare,
        fund,
        format!("统筹基金在{where_zh}支付门诊费用的{share}：{eligible}×{share}={fund}元"),
        format!("at {where_en} the fund pays {share} of outpatient cost: {eligible} × {share} = {fund} yuan"),
    ));
    Ok(fund)
}

fn inpatient_share(input: &PriceInput<'_>, pricing: &mut Pricing) -> Result<Ratio, PricingError> {
    let rule = &input.scheme.inpatient;
    let base = rule.fund_share.get(input.level).ok_or(PricingError::LevelNotPriced { med_type: input.med_type })?;
    if input.person_type.group() == PersonTypeGroup::Retired && rule.retiree_bonus > Ratio::ZERO {
        let share = base.saturating_add(rule.retiree_bonus);
        pricing.steps.push(Step::new(
            Rule::RetireeBonus,
            Money::ZERO,
            format!("退休人员统筹基金支付比例提高{}，由{}提高到{}", rule.retiree_bonus, base, share),
            format!(
                "retired persons get {} more: the fund's share rises from {} to {}",
                rule.retiree_bonus, base, share
            ),
        ));
        return Ok(share);
    }
    Ok(base)
}

fn inpatient(input: &PriceInput<'_>, in_scope: Money, pricing: &mut Pricing) -> Result<Money, PricingError> {
    let rule = &input.scheme.inpatient;
    let (where_zh, where_en) = level_name(input.level);
    let standard = rule.deductible.get(input.level).ok_or(PricingError::LevelNotPriced { med_type: input.med_type })?;
    let earlier_admissions = input.year_to_date.admissions - i64::from(input.admission.counted);
    if !input.admission.counted {
        pricing.change.admissions = 1;
    }
    let (owed, applied_standard) = match rule.deductible_rule {
        DeductibleRule::PerAdmission { repeat_factor } => {
            let this_admission = match earlier_admissions {
                0 => standard,
                _ => {
                    let reduced = standard.times(repeat_factor);
                    pricing.steps.push(Step::new(
                        Rule::InpatientRepeatAdmission,
                        reduced,
                        format!(
                            "本年第{}次住院，起付标准按{}计：{}×{}={}元",
                            earlier_admissions + 1,
                            repeat_factor,
                            standard,
                            repeat_factor,
                            reduced
                        ),
                        format!(
                            "admission {} of the year: the deductible is {} × {} = {} yuan",
                            earlier_admissions + 1,
                            standard,
                            repeat_factor,
                            reduced
                        ),
                    ));
                    reduced
                }
            };
            ((this_admission - input.admission.deductible_paid).clamp_to_zero(), this_admission)
        }
        DeductibleRule::AnnualHighestLevel => {
            ((standard - input.year_to_date.inpatient_deductible_paid).clamp_to_zero(), standard)
        }
    };
    pricing.deductible_standard = applied_standard;
    let deductible = owed.min(in_scope);
    pricing.deductible = deductible;
    pricing.change.inpatient_deductible_paid = deductible;
    pricing.steps.push(Step::new(
        Rule::InpatientDeductible,
        deductible,
        format!("{where_zh}住院起付标准{standard}元，本次尚需支付{owed}元，计入起付线{deductible}元由个人负担"),
        format!(
            "the inpatient deductible at {where_en} is {standard} yuan, {owed} still owed: {deductible} yuan of this bill are the person's"
        ),
    ));
    let share = inpatient_share(input, pricing)?;
    let eligible = in_scope - deductible;
    let fund = eligible.times(share);
    pricing.fund_share = share;
    pricing.steps.push(Step::new(
        Rule::InpatientFundShare,
        fund,
        format!("起付线以上{eligible}元由统筹基金支付{share}：{eligible}×{share}={fund}元"),
        format!("above the deductible the fund pays {share} of {eligible}: {fund} yuan"),
    ));
    Ok(fund)
}

fn special_outpatient(input: &PriceInput<'_>, in_scope: Money, pricing: &mut Pricing) -> Result<Money, PricingError> {
    let disease = input.special_disease.ok_or(PricingError::SpecialDiseaseRequired)?;
    let share = inpatient_share(input, pricing)?;
    let fund = in_scope.times(share);
    pricing.fund_share = share;
    pricing.steps.push(Step::new(
        Rule::SpecialOutpatientFundShare,
        fund,
        format!(
            "门诊特殊病种（{}）不设起付线，统筹基金按住院比例支付：{in_scope}×{share}={fund}元",
            disease.name
        ),
        format!(
            "special outpatient care for a registered disease ({}) has no deductible and the inpatient share: {in_scope} × {share} = {fund} yuan",
            disease.code
        ),
    ));
    Ok(fund)
}

fn civil_servant_subsidy(input: &PriceInput<'_>, pricing: &mut Pricing) {
    let Some(rule) = &input.scheme.civil_servant_subsidy else {
        return;
    };
    if !input.person_type.is_civil_servant() || !rule.med_types.contains(&input.med_type) {
        return;
    }
    let borne = (pricing.in_scope.clamp_to_zero() - pricing.deductible - pricing.fund).clamp_to_zero();
    let wanted = borne.times(rule.share);
    let cap_left = (rule.annual_cap - input.year_to_date.subsidy_paid).clamp_to_zero();
    let subsidy = wanted.min(cap_left);
    pricing.subsidy = subsidy;
    pricing.change.subsidy_paid = subsidy;
    pricing.steps.push(Step::new(
        Rule::CivilServantSubsidy,
        subsidy,
        format!(
            "公务员医疗补助支付起付线以上个人负担的政策范围内费用{borne}元的{}：{borne}×{}={wanted}元",
            rule.share, rule.share
        ),
        format!(
            "the civil-servant subsidy pays {} of the {borne} yuan in scope the person bears above the deductible: {borne} × {} = {wanted} yuan",
            rule.share, rule.share
        ),
    ));
    if subsidy < wanted {
        pricing.steps.push(Step::new(
            Rule::CivilServantSubsidyCap,
            wanted - subsidy,
            format!(
                "公务员医疗补助年度最高支付{}元，本年已支付{}元，本次由{wanted}元降为{subsidy}元",
                rule.annual_cap, input.year_to_date.subsidy_paid
            ),
            format!(
                "the subsidy pays at most {} yuan a year and has paid {}: its part falls from {wanted} to {subsidy} yuan",
                rule.annual_cap, input.year_to_date.subsidy_paid
            ),
        ));
    }
}

fn pay_person_part(input: &PriceInput<'_>, pricing: &mut Pricing) {
    let person_part = pricing.person_part();
    let account = input.account.filter(|_| input.scheme.personal_account);
    let Some(balances) = account else {
        pricing.cash = person_part;
        pricing.steps.push(Step::new(
            Rule::Cash,
            person_part,
            format!("个人负担{person_part}元以现金（含自费支付方式）支付"),
            format!("the person's part of {person_part} yuan is paid in cash"),
        ));
        return;
    };
    let available = balances.current_year + balances.prior_years;
    let from_account = person_part.min(available).clamp_to_zero();
    pricing.account_current_year = from_account.min(balances.current_year);
    pricing.account_prior_years = from_account - pricing.account_current_year;
    pricing.cash = person_part - from_account;
    pricing.steps.push(Step::new(
        Rule::PersonalAccount,
        from_account,
        format!(
            "个人账户支付{from_account}元（当年账户{}元，历年账户{}元）",
            pricing.account_current_year, pricing.account_prior_years
        ),
        format!(
            "the personal account pays {from_account} yuan ({} from the current year, {} from prior years)",
            pricing.account_current_year, pricing.account_prior_years
        ),
    ));
    if pricing.cash.is_positive() {
        let rule = match from_account < person_part && available < person_part {
            true => Rule::PersonalAccountShortfall,
            false => Rule::Cash,
        };
        pricing.steps.push(Step::new(
            rule,
            pricing.cash,
            format!("个人账户余额{available}元不足，其余{}元由现金支付", pricing.cash),
            format!("the account held {available} yuan: the remaining {} yuan are paid in cash", pricing.cash),
        ));
    }
}

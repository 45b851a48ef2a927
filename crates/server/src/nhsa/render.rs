//! Writing the national interface's outputs: field names and shapes as the real samples of
//! `reference/nhsa.md` §1.7 have them, amounts as exact JSON numbers in yuan.

use serde_json::{Map, Value, json};
use yibao_domain::{Date, FundPayType, InsuranceType, Money, Quantity, Ratio, UnitPrice};
use yibao_engine::Catalogue;
use yibao_engine::commands::SettlementOutcome;
use yibao_engine::records::{FeeLine, Person, Settlement, SettlementStatus, Visit};

/// An exact JSON number from decimal text (serde_json keeps the digits as written).
fn number(text: String) -> Value {
    Value::Number(text.parse().expect("decimal text is a JSON number"))
}

/// An amount in yuan with two decimals: `170.00`, `-25.10`.
pub fn amount(money: Money) -> Value {
    number(money.to_string())
}

pub fn ratio(ratio: Ratio) -> Value {
    number(ratio.to_string())
}

pub fn quantity(quantity: Quantity) -> Value {
    number(quantity.to_string())
}

pub fn price(price: UnitPrice) -> Value {
    number(price.to_string())
}

/// Age in years with one decimal, as the samples give it (`35.0`).
pub fn age(birth: Date, on: Date) -> Value {
    let days = (on.days_since_epoch() - birth.days_since_epoch()).max(0);
    let tenths = days * 40 / 1461; // days / 365.25 × 10
    number(format!("{}.{}", tenths / 10, tenths % 10))
}

/// The person fields every settlement and person output carries. The national interface
/// answers the institution that identified the person (its patient) with the whole ID number,
/// as the national platform does: HIS clients copy `certno` into later messages. (The samples
/// in the reference were masked for publication; logs, the REST API and pages keep masking.)
pub fn person_fields(person: &Person, on: Date) -> Map<String, Value> {
    let id = &person.id_number;
    let mut map = Map::new();
    map.insert("psn_no".into(), json!(person.psn_no.as_str()));
    map.insert("psn_name".into(), json!(person.name));
    map.insert("psn_cert_type".into(), json!("01"));
    map.insert("certno".into(), json!(id.expose()));
    map.insert("gend".into(), json!(id.sex().code()));
    map.insert("naty".into(), json!(person.ethnicity));
    map.insert("brdy".into(), json!(id.birth_date().to_string()));
    map.insert("age".into(), age(id.birth_date(), on));
    map
}

fn pool_fund_type(insurance: InsuranceType) -> FundPayType {
    match insurance.is_resident() {
        true => FundPayType::ResidentPool,
        false => FundPayType::EmployeePool,
    }
}

/// `setldetail[]`: one row per fund that paid something.
pub fn setldetail(settlement: &Settlement) -> Value {
    let amounts = &settlement.amounts;
    let mut rows = Vec::new();
    let mut row = |kind: FundPayType, paid: Money| {
        rows.push(json!({
            "fund_pay_type": kind.code(),
            "fund_payamt": amount(paid),
            "setl_proc_info": null,
            "crt_payb_lmt_amt": null,
            "inscp_scp_amt": amount(amounts.in_scope),
            "fund_pay_type_name": kind.name_zh(),
        }));
    };
    if !amounts.fund.is_zero() {
        row(pool_fund_type(settlement.insurance), amounts.fund);
    }
    if !amounts.subsidy.is_zero() {
        row(FundPayType::CivilServantSubsidy, amounts.subsidy);
    }
    if !amounts.account().is_zero() {
        row(FundPayType::EmployeeAccount, amounts.account());
    }
    Value::Array(rows)
}

/// `setlinfo`: the settlement in the national field names. `medins_setl_id` is the msgid
/// of the message that produced the output, as in the samples. A cancellation shows the
/// cancelled `setl_id` with negated amounts, as the 2208 sample does.
pub fn setlinfo(outcome: &SettlementOutcome, settled: bool, msgid: &str) -> Value {
    let settlement = &outcome.settlement;
    let amounts = &settlement.amounts;
    let person = &outcome.person;
    let setl_id = match (&settlement.status, settled) {
        (_, false) => Value::Null,
        (SettlementStatus::Mirror { of }, true) => json!(of.as_str()),
        (_, true) => json!(settlement.setl_id.as_str()),
    };
    let mut map = person_fields(person, settlement.at.date());
    let fund_part = amounts.funds();
    let person_part = amounts.person_part();
    let pool_selfpay = match amounts.fund.is_zero() {
        true => Ratio::ZERO,
        false => settlement.fund_share.complement(),
    };
    let fields: [(&str, Value); 52] = [
        ("setl_id", setl_id),
        ("mdtrt_id", json!(settlement.mdtrt_id.as_str())),
        ("setl_time", if settled { json!(settlement.at.to_string()) } else { Value::Null }),
        ("insutype", json!(settlement.insurance.code())),
        ("psn_type", json!(settlement.person_type.code())),
        ("cvlserv_flag", json!(if settlement.person_type.is_civil_servant() { "1" } else { "0" })),
        ("mdtrt_cert_type", json!(settlement.certificate.kind.code())),
        ("mdtrt_cert_no", json!(mask_certificate(&settlement.certificate.number))),
        ("med_type", json!(settlement.med_type.to_string())),
        ("medfee_sumamt", amount(amounts.medfee)),
        ("fulamt_ownpay_amt", amount(amounts.fully_selfpaid)),
        ("overlmt_selfpay", amount(amounts.over_limit)),
        ("preselfpay_amt", amount(amounts.first_selfpay)),
        ("inscp_scp_amt", amount(amounts.in_scope)),
        ("inscp_amt", amount(amounts.in_scope)),
        ("act_pay_dedc", amount(amounts.deductible)),
        ("dedc_std", amount(amounts.deductible_standard)),
        ("crt_dedc", amount(amounts.deductible)),
        ("hifp_pay", amount(amounts.fund)),
        ("pool_prop_selfpay", ratio(pool_selfpay)),
        ("cvlserv_pay", amount(amounts.subsidy)),
        ("hifes_pay", amount(Money::ZERO)),
        ("hifmi_pay", amount(Money::ZERO)),
        ("hifob_pay", amount(Money::ZERO)),
        ("hifdm_pay", amount(Money::ZERO)),
        ("maf_pay", amount(Money::ZERO)),
        ("othfund_pay", amount(Money::ZERO)),
        ("oth_pay", amount(Money::ZERO)),
        ("fund_pay_sumamt", amount(fund_part)),
        ("psn_part_amt", amount(person_part)),
        ("psn_pay", amount(person_part)),
        ("acct_pay", amount(amounts.account())),
        ("acct_mulaid_pay", amount(Money::ZERO)),
        ("psn_cash_pay", amount(amounts.cash)),
        ("cashPayamt", amount(amounts.cash)),
        ("hosp_part_amt", amount(Money::ZERO)),
        ("ownpay_hosp_part", amount(Money::ZERO)),
        ("balc", amount(settlement.balance_after)),
        ("medins_setl_id", json!(msgid)),
        ("clr_optins", json!(settlement.treated_admdvs.as_str())),
        ("clr_way", json!("1")),
        ("clr_type", json!(settlement.clearing_type)),
        ("insu_admdvs", json!(settlement.insured_admdvs.as_str())),
        ("psn_insu_rlts_id", json!(format!("{}{}", settlement.psn_no, settlement.insurance))),
        ("setl_type", json!(if matches!(settlement.status, SettlementStatus::Mirror { .. }) { "2" } else { "1" })),
        ("begndate", json!(outcome.visit.begin.date().to_string())),
        ("enddate", json!(outcome.visit.end.unwrap_or(settlement.at).date().to_string())),
        ("invono", if settlement.invoice_no.is_empty() { Value::Null } else { json!(settlement.invoice_no) }),
        ("mid_setl_flag", json!(if settlement.mid_stay { "1" } else { "0" })),
        ("acct_used_flag", json!(if settlement.account_used { "1" } else { "0" })),
        ("policy_version", json!(settlement.policy)),
        ("exp_content", Value::Null),
    ];
    for (key, value) in fields {
        map.insert(key.into(), value);
    }
    Value::Object(map)
}

/// The certificate number as shown back: ID numbers masked, card numbers and tokens kept.
fn mask_certificate(number: &str) -> String {
    match number.parse::<yibao_domain::IdNumber>() {
        Ok(id) => id.masked(),
        Err(_) => number.to_string(),
    }
}

/// The explanation of a settlement: every step with its rule, amount and sentences.
pub fn explanation(settlement: &Settlement) -> Value {
    Value::Array(
        settlement
            .steps
            .iter()
            .map(|step| {
                json!({
                    "rule": step.rule.id(),
                    "feedetl_sn": step.line,
                    "amount": amount(step.amount),
                    "zh": step.zh,
                    "en": step.en,
                })
            })
            .collect(),
    )
}

/// `{setlinfo, setldetail}`: a settlement output (2206/2207/2208, 2303/2304/2305, 2101–2103, 5203).
pub fn settlement_output(outcome: &SettlementOutcome, settled: bool, msgid: &str) -> Value {
    json!({
        "setlinfo": setlinfo(outcome, settled, msgid),
        "setldetail": setldetail(&outcome.settlement),
        "explanation": explanation(&outcome.settlement),
        "expContent": null,
    })
}

/// One row of `result[]` (2204, 2301) or `detlcutinfo[]` (2101/2102): a line's split.
pub fn line_result(line: &FeeLine, catalogue: &Catalogue) -> Value {
    let entry = catalogue.lookup(&line.code, line.occurred_at.date());
    json!({
        "feedetl_sn": line.serial,
        "det_item_fee_sumamt": amount(line.amount),
        "cnt": quantity(line.quantity),
        "pric": price(line.price),
        "pric_uplmt_amt": line.price_cap.map_or_else(|| json!(999999), price),
        "selfpay_prop": ratio(line.selfpay_ratio),
        "fulamt_ownpay_amt": amount(line.fully_selfpaid),
        "overlmt_amt": amount(line.over_limit),
        "preselfpay_amt": amount(line.first_selfpay),
        "inscp_scp_amt": amount(line.in_scope),
        "chrgitm_lv": line.class.map_or("03", |class| class.code()),
        "med_chrgitm_type": entry.map_or("14", |entry| entry.item_type.as_str()),
        "bas_medn_flag": "0",
        "hi_nego_drug_flag": "0",
        "chld_medc_flag": null,
        "list_sp_item_flag": null,
        "lmt_used_flag": if line.price_cap.is_some() { "1" } else { "0" },
        "drt_reim_flag": "0",
        "memo": if line.class.is_none() { json!("目录外项目，按自费处理") } else { Value::Null },
        "exp_content": null,
    })
}

/// A visit as 5201 lists it.
pub fn visit(visit: &Visit) -> Value {
    json!({
        "mdtrt_id": visit.mdtrt_id.as_str(),
        "psn_no": visit.psn_no.as_str(),
        "fixmedins_code": visit.institution.as_str(),
        "insutype": visit.insurance.code(),
        "med_type": visit.med_type.map(|t| t.to_string()),
        "begntime": visit.begin.to_string(),
        "endtime": visit.end.map(|t| t.to_string()),
        "ipt_otp_no": visit.his_no,
        "dept_code": visit.dept_code,
        "dept_name": visit.dept_name,
        "dise_codg": visit.diagnosis_code,
        "dise_name": visit.diagnosis_name,
        "mdtrt_cert_type": visit.certificate.kind.code(),
        "insuplc_admdvs": visit.insured_admdvs.as_str(),
        "mdtrtarea_admvs": visit.treated_admdvs.as_str(),
        "vali_flag": if visit.status == yibao_engine::records::VisitStatus::Cancelled { "0" } else { "1" },
        "mdtrt_stas": visit.status.as_str(),
    })
}

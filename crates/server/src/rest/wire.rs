//! The REST API's wire forms: request bodies parsed into domain records (once, here), and
//! records written out as JSON with amounts as decimal strings and ID numbers masked.

use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::{Date, Money};
use yibao_engine::records::{
    AuditEntry, CatalogueEntry, Employer, Institution, Person, Region, Settlement, SettlementStatus,
};
use yibao_policy::Accumulators;

use super::common::parse;
use super::error::ApiError;

/// Amounts in the REST API are decimal strings in yuan (`"170.00"`): exact in every language.
pub fn yuan(money: Money) -> Value {
    json!(money.to_string())
}

pub fn name(text: &str) -> Result<String, ApiError> {
    let trimmed = text.trim();
    match trimmed.chars().count() {
        1..=100 => Ok(trimmed.to_string()),
        _ => Err(ApiError::invalid("name must have 1 to 100 characters", "名称须为1至100个字符")),
    }
}

pub fn code(field: &str, text: &str) -> Result<String, ApiError> {
    let ok = (1..=30).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    match ok {
        true => Ok(text.to_string()),
        false => Err(ApiError::invalid(
            format!("{field} must be 1 to 30 letters, digits, '-' or '_'"),
            format!("{field}须为1至30位字母、数字、-或_"),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub role: String,
    pub username: Option<String>,
    pub id_number: Option<String>,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password (not needed right after logging in with the initial one).
    pub password: Option<String>,
    pub new_password: String,
    /// With the initial password: the person's card number and its PIN…
    pub card_no: Option<String>,
    pub pin: Option<String>,
    /// …or a one-time activation code from the agency.
    pub activation_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOperator {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRegion {
    pub admdvs: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInstitution {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub level: Option<String>,
    pub admdvs: String,
    pub designated_from: String,
    pub designated_to: Option<String>,
    #[serde(default)]
    pub accepts_evoucher: bool,
    pub gateway_secret: String,
}

impl NewInstitution {
    pub fn into_record(self) -> Result<Institution, ApiError> {
        Ok(Institution {
            code: parse("code", &self.code)?,
            name: name(&self.name)?,
            kind: parse("kind", &self.kind)?,
            level: self.level.as_deref().map(|level| parse("level", level)).transpose()?,
            admdvs: parse("admdvs", &self.admdvs)?,
            designated_from: parse("designated_from", &self.designated_from)?,
            designated_to: match &self.designated_to {
                Some(text) => parse("designated_to", text)?,
                None => Date::FOREVER,
            },
            accepts_evoucher: self.accepts_evoucher,
            gateway_secret: self.gateway_secret,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEmployer {
    pub code: String,
    pub name: String,
    pub admdvs: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    pub id_number: String,
    pub name: String,
    pub admdvs: String,
    pub insutype: String,
    pub psn_type: String,
    pub employer: Option<String>,
    pub insured_since: Option<String>,
    pub naty: Option<String>,
    pub custody_bank: Option<String>,
    /// Monthly contribution base in yuan, as a decimal string.
    pub contribution_base: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCatalogueEntry {
    pub code: String,
    pub name: String,
    /// `chrgitm_lv`: 01 class A, 02 class B, 03 self-funded.
    pub class: String,
    #[serde(default = "zero")]
    pub first_selfpay: String,
    pub price_cap: Option<String>,
    pub item_type: String,
    pub list_type: String,
    pub begin: String,
    pub end: Option<String>,
}

fn zero() -> String {
    "0".into()
}

impl NewCatalogueEntry {
    pub fn into_record(self) -> Result<CatalogueEntry, ApiError> {
        Ok(CatalogueEntry {
            code: code("code", &self.code)?,
            name: name(&self.name)?,
            class: parse("class", &self.class)?,
            first_selfpay: parse("first_selfpay", &self.first_selfpay)?,
            price_cap: self.price_cap.as_deref().map(|cap| parse("price_cap", cap)).transpose()?,
            item_type: code("item_type", &self.item_type)?,
            list_type: code("list_type", &self.list_type)?,
            begin: parse("begin", &self.begin)?,
            end: match &self.end {
                Some(text) => parse("end", text)?,
                None => Date::FOREVER,
            },
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct InstitutionFilter {
    pub admdvs: Option<String>,
    pub kind: Option<String>,
    pub level: Option<String>,
    pub evoucher: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct PersonPage {
    pub admdvs: Option<String>,
    /// A whole ID number, a person number, a name or a card number.
    pub q: Option<String>,
    pub page: Option<u64>,
    pub page_size: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct StatementQuery {
    /// First day (inclusive), `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Reveal {
    pub reveal: Option<bool>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CatalogueFilter {
    pub code: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AuditFilter {
    pub subject: Option<String>,
    pub limit: Option<u64>,
}

pub fn region(region: &Region) -> Value {
    json!({"admdvs": region.admdvs.as_str(), "name": region.name})
}

pub fn institution(institution: &Institution) -> Value {
    json!({
        "code": institution.code.as_str(),
        "name": institution.name,
        "kind": institution.kind.code(),
        "level": institution.level.map(|level| level.code()),
        "admdvs": institution.admdvs.as_str(),
        "designated_from": institution.designated_from.to_string(),
        "designated_to": institution.designated_to.to_string(),
        "accepts_evoucher": institution.accepts_evoucher,
    })
}

pub fn employer(employer: &Employer) -> Value {
    json!({"code": employer.code, "name": employer.name, "admdvs": employer.admdvs.as_str()})
}

/// A person; the ID number whole only when `reveal` (a privileged, audited read).
pub fn person(person: &Person, reveal: bool) -> Value {
    let id = &person.id_number;
    let mut value = json!({
        "psn_no": person.psn_no.as_str(),
        "name": person.name,
        "id_number": if reveal { id.expose().to_string() } else { id.masked() },
        "id_number_masked": !reveal,
        "sex": id.sex().code(),
        "birth_date": id.birth_date().to_string(),
        "admdvs": person.admdvs.as_str(),
        "insutype": person.insurance.code(),
        "psn_type": person.person_type.code(),
        "employer": person.employer,
        "status": person.status.code(),
        "insured_since": person.insured_since.to_string(),
        "custody_bank": person.custody_bank.as_str(),
        "contribution_base": person.contribution_base.map(yuan),
    });
    // The mask hides the birth date, so the birth date is shown only beside the whole number.
    if !reveal && let Some(map) = value.as_object_mut() {
        map.remove("birth_date");
    }
    value
}

pub fn accumulators(year: u16, row: &Accumulators) -> Value {
    json!({
        "year": year,
        "deductible_paid": yuan(row.deductible_paid()),
        "inpatient_deductible_paid": yuan(row.inpatient_deductible_paid),
        "outpatient_deductible_paid": yuan(row.outpatient_deductible_paid),
        "admissions": row.admissions,
        "outpatient_band_used": yuan(row.outpatient_band_used),
        "subsidy_paid": yuan(row.subsidy_paid),
        "fund_paid": yuan(row.fund_paid),
        "medfee_total": yuan(row.medfee_total),
    })
}

/// A settlement record's state in one word: `normal`, `cancelled` or `cancellation`.
pub fn status_word(settlement: &Settlement) -> &'static str {
    match &settlement.status {
        SettlementStatus::Normal => "normal",
        SettlementStatus::Cancelled { .. } => "cancelled",
        SettlementStatus::Mirror { .. } => "cancellation",
    }
}

fn status(settlement: &Settlement) -> Value {
    match &settlement.status {
        SettlementStatus::Normal => json!({"status": "normal"}),
        SettlementStatus::Cancelled { by } => json!({"status": "cancelled", "cancelled_by": by.as_str()}),
        SettlementStatus::Mirror { of } => json!({"status": "cancellation", "cancels": of.as_str()}),
    }
}

pub fn settlement_summary(settlement: &Settlement) -> Value {
    let a = &settlement.amounts;
    json!({
        "setl_id": settlement.setl_id.as_str(),
        "mdtrt_id": settlement.mdtrt_id.as_str(),
        "institution": settlement.institution.as_str(),
        "med_type": settlement.med_type.to_string(),
        "kind": settlement.visit_kind.as_str(),
        "at": settlement.at.to_string(),
        "status": status(settlement),
        "medfee": yuan(a.medfee),
        "fund": yuan(a.fund),
        "subsidy": yuan(a.subsidy),
        "account": yuan(a.account()),
        "cash": yuan(a.cash),
        "balance_after": yuan(settlement.balance_after),
        "policy": settlement.policy,
    })
}

/// A settlement's (or a reimbursement's) amounts, every one in yuan.
pub fn amounts(a: &yibao_engine::records::Amounts) -> Value {
    json!({
        "medfee": yuan(a.medfee),
        "fully_selfpaid": yuan(a.fully_selfpaid),
        "over_limit": yuan(a.over_limit),
        "first_selfpay": yuan(a.first_selfpay),
        "in_scope": yuan(a.in_scope),
        "deductible": yuan(a.deductible),
        "deductible_standard": yuan(a.deductible_standard),
        "fund": yuan(a.fund),
        "subsidy": yuan(a.subsidy),
        "account_current_year": yuan(a.account_current_year),
        "account_prior_years": yuan(a.account_prior_years),
        "account": yuan(a.account()),
        "cash": yuan(a.cash),
    })
}

/// The steps that explain a priced bill.
pub fn explanation(steps: &[yibao_policy::Step]) -> Value {
    json!(steps
        .iter()
        .map(|step| json!({"rule": step.rule.id(), "feedetl_sn": step.line, "amount": yuan(step.amount), "zh": step.zh, "en": step.en}))
        .collect::<Vec<_>>())
}

pub fn settlement_detail(settlement: &Settlement) -> Value {
    let mut detail = settlement_summary(settlement);
    detail["psn_no"] = json!(settlement.psn_no.as_str());
    detail["amounts"] = amounts(&settlement.amounts);
    detail["amounts"]["fund_share"] = json!(settlement.fund_share.to_string());
    detail["insured_admdvs"] = json!(settlement.insured_admdvs.as_str());
    detail["treated_admdvs"] = json!(settlement.treated_admdvs.as_str());
    detail["lines"] = json!(
        settlement
            .lines
            .iter()
            .map(|(visit, serial)| json!({"mdtrt_id": visit.as_str(), "feedetl_sn": serial}))
            .collect::<Vec<_>>()
    );
    detail["explanation"] = explanation(&settlement.steps);
    detail
}

pub fn catalogue_entry(entry: &CatalogueEntry) -> Value {
    json!({
        "code": entry.code,
        "name": entry.name,
        "class": entry.class.code(),
        "first_selfpay": entry.first_selfpay.to_string(),
        "price_cap": entry.price_cap.map(|cap| cap.to_string()),
        "item_type": entry.item_type,
        "list_type": entry.list_type,
        "begin": entry.begin.to_string(),
        "end": entry.end.to_string(),
    })
}

pub fn audit_entry(entry: &AuditEntry) -> Value {
    json!({"at": entry.at.to_string(), "actor": entry.actor, "action": entry.action, "subject": entry.subject, "reason": entry.reason})
}

//! Records to rows and back, every column by its name in [`crate::schema`] (never by where it
//! sits: a row is read with [`Columns`] and written with [`named`]); structured fields
//! (explanations, line lists, accumulator changes, effects) are JSON text.

use serde_json::{Value as Json, json};
use yibao_domain::{Date, DateTime, MdtrtId, Money, Quantity, Ratio, SetlId, UnitPrice};
use yibao_engine::StoreFailure;
use yibao_engine::records::{
    Amounts, AuditEntry, Card, CardApplication, CardStatus, CardTransaction, CatalogueEntry, Certificate,
    ClearingNotice, Credential, CredentialKind, Diagnosis, DiagnosisStage, DiseaseRegistration, EVoucher, Effect,
    Employer, FeeLine, Grant, GrantKind, Institution, LineState, Message, Person, PersonStatus, Region, Settlement,
    SettlementStatus, SignIn, StoredFile, Visit, VisitDiagnoses, VisitKind, VisitStatus,
};
use yibao_ledger::{Account, Posting, Side, Transfer, TransferCode, TransferId};
use yibao_policy::{Accumulators, Rule, Step};

use crate::schema;
use crate::value::{Columns, Value, named};

fn failure(what: &str, detail: impl std::fmt::Display) -> StoreFailure {
    StoreFailure(format!("{what}: {detail}"))
}

fn money(value: &Money) -> Value {
    Value::Int(value.fen())
}

fn time(value: &DateTime) -> Value {
    Value::Text(value.to_string())
}

fn date(value: &Date) -> Value {
    Value::Text(value.to_string())
}

fn text(value: &impl ToString) -> Value {
    Value::Text(value.to_string())
}

fn json_text(value: &Json) -> Value {
    Value::Text(value.to_string())
}

fn parse_json(table: &str, text: &str) -> Result<Json, StoreFailure> {
    serde_json::from_str(text).map_err(|error| failure(table, error))
}

fn ratio(basis_points: i64, table: &str) -> Result<Ratio, StoreFailure> {
    u16::try_from(basis_points)
        .ok()
        .and_then(|bp| Ratio::from_basis_points(bp).ok())
        .ok_or_else(|| failure(table, format!("{basis_points} is not a ratio in basis points")))
}

pub fn region(row: &Region) -> Vec<Value> {
    named(&schema::REGIONS, [("admdvs", text(&row.admdvs)), ("name", text(&row.name))])
}

pub fn decode_region(row: &[Value]) -> Result<Region, StoreFailure> {
    let mut c = Columns::new(&schema::REGIONS, row);
    Ok(Region { admdvs: c.parse("admdvs")?, name: c.text("name")? })
}

pub fn employer(row: &Employer) -> Vec<Value> {
    named(&schema::EMPLOYERS, [("code", text(&row.code)), ("name", text(&row.name)), ("admdvs", text(&row.admdvs))])
}

pub fn decode_employer(row: &[Value]) -> Result<Employer, StoreFailure> {
    let mut c = Columns::new(&schema::EMPLOYERS, row);
    Ok(Employer { code: c.text("code")?, name: c.text("name")?, admdvs: c.parse("admdvs")? })
}

pub fn institution(row: &Institution) -> Vec<Value> {
    named(
        &schema::INSTITUTIONS,
        [
            ("code", text(&row.code)),
            ("name", text(&row.name)),
            ("kind", text(&row.kind.code())),
            ("level", row.level.map(|level| level.code()).into()),
            ("admdvs", text(&row.admdvs)),
            ("designated_from", date(&row.designated_from)),
            ("designated_to", date(&row.designated_to)),
            ("accepts_evoucher", row.accepts_evoucher.into()),
            ("gateway_secret", text(&row.gateway_secret)),
        ],
    )
}

pub fn decode_institution(row: &[Value]) -> Result<Institution, StoreFailure> {
    let mut c = Columns::new(&schema::INSTITUTIONS, row);
    Ok(Institution {
        code: c.parse("code")?,
        name: c.text("name")?,
        kind: c.parse("kind")?,
        level: c.opt_parse("level")?,
        admdvs: c.parse("admdvs")?,
        designated_from: c.parse("designated_from")?,
        designated_to: c.parse("designated_to")?,
        accepts_evoucher: c.boolean("accepts_evoucher")?,
        gateway_secret: c.text("gateway_secret")?,
    })
}

pub fn person(row: &Person) -> Vec<Value> {
    named(
        &schema::PERSONS,
        [
            ("psn_no", text(&row.psn_no)),
            ("id_number", Value::Text(row.id_number.expose().to_string())),
            ("name", text(&row.name)),
            ("admdvs", text(&row.admdvs)),
            ("insutype", text(&row.insurance)),
            ("psn_type", text(&row.person_type)),
            ("employer", row.employer.clone().into()),
            ("status", Value::Text(row.status.code().to_string())),
            ("insured_since", date(&row.insured_since)),
            ("ethnicity", text(&row.ethnicity)),
            ("custody_bank", text(&row.custody_bank)),
            ("contribution_base_fen", row.contribution_base.map(|m| m.fen()).into()),
            ("account_frozen", row.account_frozen.into()),
        ],
    )
}

pub fn decode_person(row: &[Value]) -> Result<Person, StoreFailure> {
    let mut c = Columns::new(&schema::PERSONS, row);
    Ok(Person {
        psn_no: c.parse("psn_no")?,
        id_number: c.parse("id_number")?,
        name: c.text("name")?,
        admdvs: c.parse("admdvs")?,
        insurance: c.parse("insutype")?,
        person_type: c.parse("psn_type")?,
        employer: c.opt_text("employer")?,
        status: {
            let code = c.text("status")?;
            PersonStatus::parse(&code).ok_or_else(|| failure("persons.status", &code))?
        },
        insured_since: c.parse("insured_since")?,
        ethnicity: c.text("ethnicity")?,
        custody_bank: c.parse("custody_bank")?,
        contribution_base: c.opt_int("contribution_base_fen")?.map(Money::from_fen),
        account_frozen: c.boolean("account_frozen")?,
    })
}

pub fn card(row: &Card) -> Vec<Value> {
    named(
        &schema::CARDS,
        [
            ("card_no", text(&row.card_no)),
            ("card_sn", text(&row.card_sn)),
            ("psn_no", text(&row.psn_no)),
            ("status", Value::Text(row.status.as_str().to_string())),
            ("bank", text(&row.bank)),
            ("issued_on", row.issued_on.map(|d| d.to_string()).into()),
            ("unprinted", Value::Int(i64::from(row.unprinted))),
            ("replaces", row.replaces.as_ref().map(|c| c.to_string()).into()),
        ],
    )
}

pub fn decode_card(row: &[Value]) -> Result<Card, StoreFailure> {
    let mut c = Columns::new(&schema::CARDS, row);
    Ok(Card {
        card_no: c.parse("card_no")?,
        card_sn: c.parse("card_sn")?,
        psn_no: c.parse("psn_no")?,
        status: {
            let status = c.text("status")?;
            CardStatus::parse(&status).ok_or_else(|| failure("cards.status", &status))?
        },
        bank: c.parse("bank")?,
        issued_on: c.opt_parse("issued_on")?,
        unprinted: u32::try_from(c.int("unprinted")?).map_err(|e| failure("cards.unprinted", e))?,
        replaces: c.opt_parse("replaces")?,
    })
}

pub fn account(row: &Account) -> Vec<Value> {
    named(
        &schema::ACCOUNTS,
        [
            ("account", text(&row.key)),
            ("debits_fen", money(&row.debits_posted)),
            ("credits_fen", money(&row.credits_posted)),
        ],
    )
}

pub fn decode_account(row: &[Value]) -> Result<Account, StoreFailure> {
    let mut c = Columns::new(&schema::ACCOUNTS, row);
    Ok(Account {
        key: c.parse("account")?,
        debits_posted: Money::from_fen(c.int("debits_fen")?),
        credits_posted: Money::from_fen(c.int("credits_fen")?),
    })
}

pub fn accumulators(person: &yibao_domain::PersonNo, year: u16, row: &Accumulators) -> Vec<Value> {
    named(
        &schema::ACCUMULATORS,
        [
            ("psn_no", text(person)),
            ("year", Value::Int(i64::from(year))),
            ("outpatient_deductible_fen", money(&row.outpatient_deductible_paid)),
            ("inpatient_deductible_fen", money(&row.inpatient_deductible_paid)),
            ("admissions", Value::Int(row.admissions)),
            ("outpatient_band_fen", money(&row.outpatient_band_used)),
            ("fund_fen", money(&row.fund_paid)),
            ("medfee_fen", money(&row.medfee_total)),
        ],
    )
}

pub fn decode_accumulators(row: &[Value]) -> Result<(yibao_domain::PersonNo, u16, Accumulators), StoreFailure> {
    let mut c = Columns::new(&schema::ACCUMULATORS, row);
    let person = c.parse("psn_no")?;
    let year = u16::try_from(c.int("year")?).map_err(|e| failure("accumulators.year", e))?;
    Ok((
        person,
        year,
        Accumulators {
            outpatient_deductible_paid: Money::from_fen(c.int("outpatient_deductible_fen")?),
            inpatient_deductible_paid: Money::from_fen(c.int("inpatient_deductible_fen")?),
            admissions: c.int("admissions")?,
            outpatient_band_used: Money::from_fen(c.int("outpatient_band_fen")?),
            fund_paid: Money::from_fen(c.int("fund_fen")?),
            medfee_total: Money::from_fen(c.int("medfee_fen")?),
        },
    ))
}

fn accumulators_json(row: &Accumulators) -> Json {
    json!([
        row.outpatient_deductible_paid.fen(),
        row.inpatient_deductible_paid.fen(),
        row.admissions,
        row.outpatient_band_used.fen(),
        row.fund_paid.fen(),
        row.medfee_total.fen()
    ])
}

fn accumulators_from_json(value: &Json) -> Result<Accumulators, StoreFailure> {
    let numbers: Vec<i64> = value
        .as_array()
        .map(|items| items.iter().filter_map(Json::as_i64).collect())
        .filter(|numbers: &Vec<i64>| numbers.len() == 6)
        .ok_or_else(|| failure("settlements.change", value))?;
    Ok(Accumulators {
        outpatient_deductible_paid: Money::from_fen(numbers[0]),
        inpatient_deductible_paid: Money::from_fen(numbers[1]),
        admissions: numbers[2],
        outpatient_band_used: Money::from_fen(numbers[3]),
        fund_paid: Money::from_fen(numbers[4]),
        medfee_total: Money::from_fen(numbers[5]),
    })
}

pub fn visit(row: &Visit) -> Vec<Value> {
    named(
        &schema::VISITS,
        [
            ("mdtrt_id", text(&row.mdtrt_id)),
            ("psn_no", text(&row.psn_no)),
            ("institution", text(&row.institution)),
            ("kind", Value::Text(row.kind.as_str().to_string())),
            ("insutype", text(&row.insurance)),
            ("med_type", row.med_type.map(|t| t.to_string()).into()),
            ("begin_at", time(&row.begin)),
            ("end_at", row.end.map(|t| t.to_string()).into()),
            ("status", Value::Text(row.status.as_str().to_string())),
            ("cert_type", text(&row.certificate.kind)),
            ("cert_no", text(&row.certificate.number)),
            ("his_no", text(&row.his_no)),
            ("dept_code", text(&row.dept_code)),
            ("dept_name", text(&row.dept_name)),
            ("doctor_code", text(&row.doctor_code)),
            ("doctor_name", text(&row.doctor_name)),
            ("diagnosis_code", row.diagnosis_code.clone().into()),
            ("diagnosis_name", row.diagnosis_name.clone().into()),
            ("insured_admdvs", text(&row.insured_admdvs)),
            ("treated_admdvs", text(&row.treated_admdvs)),
            ("admission_counted", row.admission_counted.into()),
            ("deductible_paid_fen", money(&row.deductible_paid)),
            ("folded_into", row.folded_into.as_ref().map(|id| id.to_string()).into()),
            ("created_at", time(&row.created_at)),
        ],
    )
}

pub fn decode_visit(row: &[Value]) -> Result<Visit, StoreFailure> {
    let mut c = Columns::new(&schema::VISITS, row);
    Ok(Visit {
        mdtrt_id: c.parse("mdtrt_id")?,
        psn_no: c.parse("psn_no")?,
        institution: c.parse("institution")?,
        kind: {
            let kind = c.text("kind")?;
            VisitKind::parse(&kind).ok_or_else(|| failure("visits.kind", &kind))?
        },
        insurance: c.parse("insutype")?,
        med_type: c.opt_parse("med_type")?,
        begin: c.parse("begin_at")?,
        end: c.opt_parse("end_at")?,
        status: {
            let status = c.text("status")?;
            VisitStatus::parse(&status).ok_or_else(|| failure("visits.status", &status))?
        },
        certificate: Certificate { kind: c.parse("cert_type")?, number: c.text("cert_no")? },
        his_no: c.text("his_no")?,
        dept_code: c.text("dept_code")?,
        dept_name: c.text("dept_name")?,
        doctor_code: c.text("doctor_code")?,
        doctor_name: c.text("doctor_name")?,
        diagnosis_code: c.opt_text("diagnosis_code")?,
        diagnosis_name: c.opt_text("diagnosis_name")?,
        insured_admdvs: c.parse("insured_admdvs")?,
        treated_admdvs: c.parse("treated_admdvs")?,
        admission_counted: c.boolean("admission_counted")?,
        deductible_paid: Money::from_fen(c.int("deductible_paid_fen")?),
        folded_into: c.opt_parse("folded_into")?,
        created_at: c.parse("created_at")?,
    })
}

pub fn steps_json(steps: &[Step]) -> Json {
    Json::Array(
        steps
            .iter()
            .map(|step| json!({"rule": step.rule.id(), "line": step.line, "amount": step.amount.fen(), "zh": step.zh, "en": step.en}))
            .collect(),
    )
}

pub fn steps_from_json(value: &Json) -> Result<Vec<Step>, StoreFailure> {
    let items = value.as_array().ok_or_else(|| failure("steps", value))?;
    items
        .iter()
        .map(|item| {
            let rule = item["rule"].as_str().and_then(Rule::parse).ok_or_else(|| failure("steps.rule", item))?;
            Ok(Step {
                rule,
                line: item["line"].as_str().map(str::to_string),
                amount: Money::from_fen(item["amount"].as_i64().ok_or_else(|| failure("steps.amount", item))?),
                zh: item["zh"].as_str().unwrap_or_default().to_string(),
                en: item["en"].as_str().unwrap_or_default().to_string(),
            })
        })
        .collect()
}

pub fn line(row: &FeeLine) -> Vec<Value> {
    let (state, settled_by) = match &row.state {
        LineState::Unsettled => ("unsettled", None),
        LineState::Settled(setl_id) => ("settled", Some(setl_id.to_string())),
        LineState::Revoked => ("revoked", None),
    };
    named(
        &schema::FEE_LINES,
        [
            ("mdtrt_id", text(&row.mdtrt_id)),
            ("serial", text(&row.serial)),
            ("psn_no", text(&row.psn_no)),
            ("batch", text(&row.batch)),
            ("code", text(&row.code)),
            ("his_code", text(&row.his_code)),
            ("name", text(&row.name)),
            ("price_micro", Value::Int(row.price.micro_yuan())),
            ("quantity_e4", Value::Int(row.quantity.ten_thousandths())),
            ("amount_fen", money(&row.amount)),
            ("occurred_at", time(&row.occurred_at)),
            ("refund_of", row.refund_of.clone().into()),
            ("class", row.class.map(|class| class.code()).into()),
            ("selfpay_bp", Value::Int(i64::from(row.selfpay_ratio.basis_points()))),
            ("price_cap_micro", row.price_cap.map(|cap| cap.micro_yuan()).into()),
            ("fully_selfpaid_fen", money(&row.fully_selfpaid)),
            ("over_limit_fen", money(&row.over_limit)),
            ("first_selfpay_fen", money(&row.first_selfpay)),
            ("in_scope_fen", money(&row.in_scope)),
            ("state", Value::Text(state.to_string())),
            ("settled_by", settled_by.into()),
            ("rx_no", text(&row.rx_no)),
            ("dept_code", text(&row.dept_code)),
            ("dept_name", text(&row.dept_name)),
            ("doctor_code", text(&row.doctor_code)),
            ("doctor_name", text(&row.doctor_name)),
            ("steps", json_text(&steps_json(&row.steps))),
        ],
    )
}

pub fn decode_line(row: &[Value]) -> Result<FeeLine, StoreFailure> {
    let mut c = Columns::new(&schema::FEE_LINES, row);
    let mdtrt_id = c.parse("mdtrt_id")?;
    let serial = c.text("serial")?;
    let psn_no = c.parse("psn_no")?;
    let batch = c.text("batch")?;
    let code = c.text("code")?;
    let his_code = c.text("his_code")?;
    let name = c.text("name")?;
    let price = c.int("price_micro")?;
    let quantity = c.int("quantity_e4")?;
    let amount = Money::from_fen(c.int("amount_fen")?);
    let occurred_at = c.parse("occurred_at")?;
    let refund_of = c.opt_text("refund_of")?;
    let class = c.opt_parse("class")?;
    let selfpay_ratio = ratio(c.int("selfpay_bp")?, "fee_lines.selfpay_bp")?;
    let price_cap = c.opt_int("price_cap_micro")?;
    let fully_selfpaid = Money::from_fen(c.int("fully_selfpaid_fen")?);
    let over_limit = Money::from_fen(c.int("over_limit_fen")?);
    let first_selfpay = Money::from_fen(c.int("first_selfpay_fen")?);
    let in_scope = Money::from_fen(c.int("in_scope_fen")?);
    let state = c.text("state")?;
    let settled_by: Option<SetlId> = c.opt_parse("settled_by")?;
    let state = match (state.as_str(), settled_by) {
        ("unsettled", _) => LineState::Unsettled,
        ("settled", Some(setl_id)) => LineState::Settled(setl_id),
        ("revoked", _) => LineState::Revoked,
        (other, _) => return Err(failure("fee_lines.state", other)),
    };
    let check_range = |micro: i64| (0..=UnitPrice::MAX).contains(&micro);
    if !check_range(price) || price_cap.is_some_and(|cap| !check_range(cap)) || quantity.abs() > Quantity::MAX_ABS {
        return Err(failure("fee_lines", "price or quantity out of range"));
    }
    Ok(FeeLine {
        mdtrt_id,
        serial,
        psn_no,
        batch,
        code,
        his_code,
        name,
        price: UnitPrice::from_micro_yuan(price),
        quantity: Quantity::from_ten_thousandths(quantity),
        amount,
        occurred_at,
        refund_of,
        class,
        selfpay_ratio,
        price_cap: price_cap.map(UnitPrice::from_micro_yuan),
        fully_selfpaid,
        over_limit,
        first_selfpay,
        in_scope,
        state,
        rx_no: c.text("rx_no")?,
        dept_code: c.text("dept_code")?,
        dept_name: c.text("dept_name")?,
        doctor_code: c.text("doctor_code")?,
        doctor_name: c.text("doctor_name")?,
        steps: steps_from_json(&parse_json("fee_lines.steps", &c.text("steps")?)?)?,
    })
}

pub fn settlement(row: &Settlement) -> Vec<Value> {
    let a = &row.amounts;
    let (status, status_ref) = match &row.status {
        SettlementStatus::Normal => ("normal", None),
        SettlementStatus::Cancelled { by } => ("cancelled", Some(by.to_string())),
        SettlementStatus::Mirror { of } => ("mirror", Some(of.to_string())),
    };
    let lines: Vec<Json> = row.lines.iter().map(|(visit, serial)| json!([visit.as_str(), serial])).collect();
    let folded: Vec<Json> = row.folded.iter().map(|id| json!(id.as_str())).collect();
    named(
        &schema::SETTLEMENTS,
        [
            ("setl_id", text(&row.setl_id)),
            ("psn_no", text(&row.psn_no)),
            ("mdtrt_id", text(&row.mdtrt_id)),
            ("institution", text(&row.institution)),
            ("insutype", text(&row.insurance)),
            ("psn_type", text(&row.person_type)),
            ("med_type", text(&row.med_type)),
            ("visit_kind", Value::Text(row.visit_kind.as_str().to_string())),
            ("clr_type", text(&row.clearing_type)),
            ("at", time(&row.at)),
            ("medfee_fen", money(&a.medfee)),
            ("fully_selfpaid_fen", money(&a.fully_selfpaid)),
            ("over_limit_fen", money(&a.over_limit)),
            ("first_selfpay_fen", money(&a.first_selfpay)),
            ("in_scope_fen", money(&a.in_scope)),
            ("deductible_fen", money(&a.deductible)),
            ("deductible_standard_fen", money(&a.deductible_standard)),
            ("fund_fen", money(&a.fund)),
            ("account_current_fen", money(&a.account_current_year)),
            ("account_prior_fen", money(&a.account_prior_years)),
            ("cash_fen", money(&a.cash)),
            ("fund_share_bp", Value::Int(i64::from(row.fund_share.basis_points()))),
            ("balance_after_fen", money(&row.balance_after)),
            ("change", json_text(&accumulators_json(&row.change))),
            ("year", Value::Int(i64::from(row.year))),
            ("policy", text(&row.policy)),
            ("status", Value::Text(status.to_string())),
            ("status_ref", status_ref.into()),
            ("msgid", text(&row.msgid)),
            ("lines", json_text(&Json::Array(lines))),
            ("insured_admdvs", text(&row.insured_admdvs)),
            ("treated_admdvs", text(&row.treated_admdvs)),
            ("cert_type", text(&row.certificate.kind)),
            ("cert_no", text(&row.certificate.number)),
            ("invoice_no", text(&row.invoice_no)),
            ("mid_stay", row.mid_stay.into()),
            ("account_used", row.account_used.into()),
            ("folded", json_text(&Json::Array(folded))),
            ("steps", json_text(&steps_json(&row.steps))),
        ],
    )
}

pub fn decode_settlement(row: &[Value]) -> Result<Settlement, StoreFailure> {
    let mut c = Columns::new(&schema::SETTLEMENTS, row);
    let setl_id = c.parse("setl_id")?;
    let psn_no = c.parse("psn_no")?;
    let mdtrt_id = c.parse("mdtrt_id")?;
    let institution = c.parse("institution")?;
    let insurance = c.parse("insutype")?;
    let person_type = c.parse("psn_type")?;
    let med_type = c.parse("med_type")?;
    let visit_kind = {
        let kind = c.text("visit_kind")?;
        VisitKind::parse(&kind).ok_or_else(|| failure("settlements.visit_kind", &kind))?
    };
    let clearing_type = c.text("clr_type")?;
    let at = c.parse("at")?;
    let amounts = Amounts {
        medfee: Money::from_fen(c.int("medfee_fen")?),
        fully_selfpaid: Money::from_fen(c.int("fully_selfpaid_fen")?),
        over_limit: Money::from_fen(c.int("over_limit_fen")?),
        first_selfpay: Money::from_fen(c.int("first_selfpay_fen")?),
        in_scope: Money::from_fen(c.int("in_scope_fen")?),
        deductible: Money::from_fen(c.int("deductible_fen")?),
        deductible_standard: Money::from_fen(c.int("deductible_standard_fen")?),
        fund: Money::from_fen(c.int("fund_fen")?),
        account_current_year: Money::from_fen(c.int("account_current_fen")?),
        account_prior_years: Money::from_fen(c.int("account_prior_fen")?),
        cash: Money::from_fen(c.int("cash_fen")?),
    };
    let fund_share = ratio(c.int("fund_share_bp")?, "settlements.fund_share_bp")?;
    let balance_after = Money::from_fen(c.int("balance_after_fen")?);
    let change = accumulators_from_json(&parse_json("settlements.change", &c.text("change")?)?)?;
    let year = u16::try_from(c.int("year")?).map_err(|e| failure("settlements.year", e))?;
    let policy = c.text("policy")?;
    let status = c.text("status")?;
    let status_ref: Option<SetlId> = c.opt_parse("status_ref")?;
    let status = match (status.as_str(), status_ref) {
        ("normal", _) => SettlementStatus::Normal,
        ("cancelled", Some(by)) => SettlementStatus::Cancelled { by },
        ("mirror", Some(of)) => SettlementStatus::Mirror { of },
        (other, _) => return Err(failure("settlements.status", other)),
    };
    let msgid = c.parse("msgid")?;
    let lines_json = parse_json("settlements.lines", &c.text("lines")?)?;
    let lines = lines_json
        .as_array()
        .ok_or_else(|| failure("settlements.lines", &lines_json))?
        .iter()
        .map(|pair| {
            let visit = pair[0].as_str().and_then(|v| v.parse::<MdtrtId>().ok());
            let serial = pair[1].as_str();
            visit.zip(serial.map(str::to_string)).ok_or_else(|| failure("settlements.lines", pair))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let insured_admdvs = c.parse("insured_admdvs")?;
    let treated_admdvs = c.parse("treated_admdvs")?;
    let certificate = Certificate { kind: c.parse("cert_type")?, number: c.text("cert_no")? };
    let invoice_no = c.text("invoice_no")?;
    let mid_stay = c.boolean("mid_stay")?;
    let account_used = c.boolean("account_used")?;
    let folded_json = parse_json("settlements.folded", &c.text("folded")?)?;
    let folded = folded_json
        .as_array()
        .ok_or_else(|| failure("settlements.folded", &folded_json))?
        .iter()
        .map(|id| id.as_str().and_then(|id| id.parse().ok()).ok_or_else(|| failure("settlements.folded", id)))
        .collect::<Result<Vec<_>, _>>()?;
    let steps = steps_from_json(&parse_json("settlements.steps", &c.text("steps")?)?)?;
    Ok(Settlement {
        setl_id,
        psn_no,
        mdtrt_id,
        institution,
        insurance,
        person_type,
        med_type,
        visit_kind,
        clearing_type,
        at,
        amounts,
        fund_share,
        balance_after,
        change,
        year,
        policy,
        status,
        msgid,
        lines,
        insured_admdvs,
        treated_admdvs,
        certificate,
        invoice_no,
        mid_stay,
        account_used,
        folded,
        steps,
    })
}

fn effect_json(effect: &Effect) -> Json {
    match effect {
        Effect::Nothing => json!({"kind": "nothing"}),
        Effect::OpenedVisit(id) => json!({"kind": "visit", "mdtrt_id": id.as_str()}),
        Effect::AddedLines { mdtrt_id, serials } => {
            json!({"kind": "lines", "mdtrt_id": mdtrt_id.as_str(), "serials": serials})
        }
        Effect::Settled(id) => json!({"kind": "settled", "setl_id": id.as_str()}),
        Effect::CancelledSettlement(id) => json!({"kind": "cancelled", "setl_id": id.as_str()}),
        Effect::Tombstone => json!({"kind": "tombstone"}),
    }
}

fn effect_from_json(value: &Json) -> Result<Effect, StoreFailure> {
    let bad = || failure("messages.effect", value);
    let id = |field: &str| value[field].as_str().ok_or_else(bad);
    Ok(match value["kind"].as_str().ok_or_else(bad)? {
        "nothing" => Effect::Nothing,
        "visit" => Effect::OpenedVisit(id("mdtrt_id")?.parse().map_err(|_| bad())?),
        "lines" => Effect::AddedLines {
            mdtrt_id: id("mdtrt_id")?.parse().map_err(|_| bad())?,
            serials: value["serials"]
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(|s| s.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<_, _>>()?,
        },
        "settled" => Effect::Settled(id("setl_id")?.parse().map_err(|_| bad())?),
        "cancelled" => Effect::CancelledSettlement(id("setl_id")?.parse().map_err(|_| bad())?),
        "tombstone" => Effect::Tombstone,
        _ => return Err(bad()),
    })
}

pub fn message(row: &Message) -> Vec<Value> {
    named(
        &schema::MESSAGES,
        [
            ("msgid", text(&row.msgid)),
            ("institution", text(&row.institution)),
            ("infno", text(&row.infno)),
            ("request_hash", text(&row.request_hash)),
            ("response", Value::Blob(row.response.clone())),
            ("at", time(&row.at)),
            ("effect", json_text(&effect_json(&row.effect))),
            ("reversed_by", row.reversed_by.as_ref().map(|id| id.to_string()).into()),
        ],
    )
}

pub fn decode_message(row: &[Value]) -> Result<Message, StoreFailure> {
    let mut c = Columns::new(&schema::MESSAGES, row);
    Ok(Message {
        msgid: c.parse("msgid")?,
        institution: c.parse("institution")?,
        infno: c.text("infno")?,
        request_hash: c.text("request_hash")?,
        response: c.blob("response")?,
        at: c.parse("at")?,
        effect: effect_from_json(&parse_json("messages.effect", &c.text("effect")?)?)?,
        reversed_by: c.opt_parse("reversed_by")?,
    })
}

pub fn registration(row: &DiseaseRegistration) -> Vec<Value> {
    named(
        &schema::REGISTRATIONS,
        [
            ("serial", text(&row.serial)),
            ("psn_no", text(&row.psn_no)),
            ("code", text(&row.code)),
            ("name", text(&row.name)),
            ("begin_on", date(&row.begin)),
            ("end_on", date(&row.end)),
            ("institution", text(&row.institution)),
            ("revoked", row.revoked.into()),
            ("msgid", text(&row.msgid)),
        ],
    )
}

pub fn decode_registration(row: &[Value]) -> Result<DiseaseRegistration, StoreFailure> {
    let mut c = Columns::new(&schema::REGISTRATIONS, row);
    Ok(DiseaseRegistration {
        serial: c.text("serial")?,
        psn_no: c.parse("psn_no")?,
        code: c.text("code")?,
        name: c.text("name")?,
        begin: c.parse("begin_on")?,
        end: c.parse("end_on")?,
        institution: c.parse("institution")?,
        revoked: c.boolean("revoked")?,
        msgid: c.parse("msgid")?,
    })
}

pub fn sign_in(row: &SignIn) -> Vec<Value> {
    named(
        &schema::SIGN_INS,
        [
            ("sign_no", text(&row.sign_no)),
            ("institution", text(&row.institution)),
            ("operator", text(&row.operator)),
            ("signed_in_at", time(&row.signed_in_at)),
            ("signed_out_at", row.signed_out_at.map(|t| t.to_string()).into()),
        ],
    )
}

pub fn decode_sign_in(row: &[Value]) -> Result<SignIn, StoreFailure> {
    let mut c = Columns::new(&schema::SIGN_INS, row);
    Ok(SignIn {
        sign_no: c.text("sign_no")?,
        institution: c.parse("institution")?,
        operator: c.text("operator")?,
        signed_in_at: c.parse("signed_in_at")?,
        signed_out_at: c.opt_parse("signed_out_at")?,
    })
}

pub fn transfer(row: &Transfer) -> Vec<Value> {
    named(
        &schema::TRANSFERS,
        [
            ("id", text(&row.id)),
            ("code", Value::Text(row.code.as_str().to_string())),
            ("at", time(&row.at)),
            ("reference", text(&row.reference)),
        ],
    )
}

pub fn postings(row: &Transfer) -> Vec<Vec<Value>> {
    row.postings
        .iter()
        .enumerate()
        .map(|(index, posting)| {
            named(
                &schema::POSTINGS,
                [
                    ("transfer_id", text(&row.id)),
                    ("idx", Value::Int(index as i64)),
                    ("account", text(&posting.account)),
                    ("side", Value::Text(posting.side.as_str().to_string())),
                    ("amount_fen", money(&posting.amount)),
                ],
            )
        })
        .collect()
}

/// A transfer from its row and its postings' rows (in `idx` order).
pub fn decode_transfer(row: &[Value], postings: &[Vec<Value>]) -> Result<Transfer, StoreFailure> {
    let mut c = Columns::new(&schema::TRANSFERS, row);
    let id = TransferId::new(c.text("id")?);
    let code_text = c.text("code")?;
    let code = TransferCode::parse(&code_text).ok_or_else(|| failure("transfers.code", &code_text))?;
    let at = c.parse("at")?;
    let reference = c.text("reference")?;
    let postings = postings
        .iter()
        .map(|row| {
            let mut p = Columns::new(&schema::POSTINGS, row);
            let _transfer = p.text("transfer_id")?;
            let _index = p.int("idx")?;
            let account = p.parse("account")?;
            let side = match p.text("side")?.as_str() {
                "debit" => Side::Debit,
                "credit" => Side::Credit,
                other => return Err(failure("postings.side", other)),
            };
            Ok(Posting { account, side, amount: Money::from_fen(p.int("amount_fen")?) })
        })
        .collect::<Result<Vec<_>, StoreFailure>>()?;
    Ok(Transfer { id, code, at, reference, postings })
}

pub fn catalogue_entry(row: &CatalogueEntry) -> Vec<Value> {
    named(
        &schema::CATALOGUE,
        [
            ("code", text(&row.code)),
            ("begin_on", date(&row.begin)),
            ("end_on", date(&row.end)),
            ("name", text(&row.name)),
            ("class", text(&row.class)),
            ("first_selfpay_bp", Value::Int(i64::from(row.first_selfpay.basis_points()))),
            ("price_cap_micro", row.price_cap.map(|cap| cap.micro_yuan()).into()),
            ("item_type", text(&row.item_type)),
            ("list_type", text(&row.list_type)),
        ],
    )
}

pub fn decode_catalogue_entry(row: &[Value]) -> Result<CatalogueEntry, StoreFailure> {
    let mut c = Columns::new(&schema::CATALOGUE, row);
    let code = c.text("code")?;
    let begin = c.parse("begin_on")?;
    let end = c.parse("end_on")?;
    let name = c.text("name")?;
    let class = c.parse("class")?;
    let first_selfpay = ratio(c.int("first_selfpay_bp")?, "catalogue.first_selfpay_bp")?;
    let price_cap = match c.opt_int("price_cap_micro")? {
        Some(micro) if (0..=UnitPrice::MAX).contains(&micro) => Some(UnitPrice::from_micro_yuan(micro)),
        Some(micro) => return Err(failure("catalogue.price_cap_micro", micro)),
        None => None,
    };
    Ok(CatalogueEntry {
        code,
        name,
        class,
        first_selfpay,
        price_cap,
        item_type: c.text("item_type")?,
        list_type: c.text("list_type")?,
        begin,
        end,
    })
}

pub fn audit(row: &AuditEntry) -> Vec<Value> {
    named(
        &schema::AUDIT_LOG,
        [
            ("at", time(&row.at)),
            ("actor", text(&row.actor)),
            ("action", text(&row.action)),
            ("subject", text(&row.subject)),
            ("reason", text(&row.reason)),
        ],
    )
}

pub fn decode_audit(row: &[Value]) -> Result<AuditEntry, StoreFailure> {
    let mut c = Columns::new(&schema::AUDIT_LOG, row);
    Ok(AuditEntry {
        at: c.parse("at")?,
        actor: c.text("actor")?,
        action: c.text("action")?,
        subject: c.text("subject")?,
        reason: c.text("reason")?,
    })
}

pub fn credential(row: &Credential) -> Vec<Value> {
    named(
        &schema::CREDENTIALS,
        [
            ("subject", text(&row.subject)),
            ("kind", Value::Text(row.kind.as_str().to_string())),
            ("hash", text(&row.hash)),
            ("must_change", row.must_change.into()),
            ("failures", Value::Int(i64::from(row.failures))),
            ("locked_until", row.locked_until.map(|t| t.to_string()).into()),
            ("roles", json_text(&json!(row.roles))),
            ("updated_at", time(&row.updated_at)),
        ],
    )
}

pub fn decode_credential(row: &[Value]) -> Result<Credential, StoreFailure> {
    let mut c = Columns::new(&schema::CREDENTIALS, row);
    let subject = c.text("subject")?;
    let kind_text = c.text("kind")?;
    let kind = CredentialKind::parse(&kind_text).ok_or_else(|| failure("credentials.kind", &kind_text))?;
    let hash = c.text("hash")?;
    let must_change = c.boolean("must_change")?;
    let failures = u32::try_from(c.int("failures")?).map_err(|e| failure("credentials.failures", e))?;
    let locked_until = c.opt_parse("locked_until")?;
    let roles_json = parse_json("credentials.roles", &c.text("roles")?)?;
    let roles = roles_json
        .as_array()
        .ok_or_else(|| failure("credentials.roles", &roles_json))?
        .iter()
        .map(|role| role.as_str().map(str::to_string).ok_or_else(|| failure("credentials.roles", role)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Credential {
        subject,
        kind,
        hash,
        must_change,
        failures,
        locked_until,
        roles,
        updated_at: c.parse("updated_at")?,
    })
}

pub fn file(row: &StoredFile) -> Vec<Value> {
    named(
        &schema::FILES,
        [
            ("file_qury_no", text(&row.file_qury_no)),
            ("institution", text(&row.institution)),
            ("filename", text(&row.filename)),
            ("content", Value::Blob(row.content.clone())),
            ("at", time(&row.at)),
        ],
    )
}

pub fn decode_file(row: &[Value]) -> Result<StoredFile, StoreFailure> {
    let mut c = Columns::new(&schema::FILES, row);
    Ok(StoredFile {
        file_qury_no: c.text("file_qury_no")?,
        institution: c.parse("institution")?,
        filename: c.text("filename")?,
        content: c.blob("content")?,
        at: c.parse("at")?,
    })
}

fn opt_date(value: Option<Date>) -> Value {
    value.map(|d| d.to_string()).into()
}

pub fn card_application(row: &CardApplication) -> Vec<Value> {
    named(
        &schema::CARD_APPLICATIONS,
        [
            ("id", text(&row.id)),
            ("psn_no", text(&row.psn_no)),
            ("employer", row.employer.clone().into()),
            ("registered_on", date(&row.registered_on)),
            ("bank", text(&row.bank)),
            ("card_no", text(&row.card_no)),
            ("photo_paid_on", opt_date(row.photo_paid_on)),
            ("forms_paid_on", opt_date(row.forms_paid_on)),
            ("submitted_on", opt_date(row.submitted_on)),
            ("produced_on", opt_date(row.produced_on)),
            ("received_on", opt_date(row.received_on)),
            ("issued_on", opt_date(row.issued_on)),
            ("replaces", row.replaces.as_ref().map(|c| c.to_string()).into()),
            ("created_at", time(&row.created_at)),
        ],
    )
}

pub fn decode_card_application(row: &[Value]) -> Result<CardApplication, StoreFailure> {
    let mut c = Columns::new(&schema::CARD_APPLICATIONS, row);
    Ok(CardApplication {
        id: c.text("id")?,
        psn_no: c.parse("psn_no")?,
        employer: c.opt_text("employer")?,
        registered_on: c.parse("registered_on")?,
        bank: c.parse("bank")?,
        card_no: c.parse("card_no")?,
        photo_paid_on: c.opt_parse("photo_paid_on")?,
        forms_paid_on: c.opt_parse("forms_paid_on")?,
        submitted_on: c.opt_parse("submitted_on")?,
        produced_on: c.opt_parse("produced_on")?,
        received_on: c.opt_parse("received_on")?,
        issued_on: c.opt_parse("issued_on")?,
        replaces: c.opt_parse("replaces")?,
        created_at: c.parse("created_at")?,
    })
}

pub fn card_transaction(row: &CardTransaction) -> Vec<Value> {
    named(
        &schema::CARD_TRANSACTIONS,
        [
            ("card_no", text(&row.card_no)),
            ("seq", Value::Int(row.seq)),
            ("at", time(&row.at)),
            ("setl_id", text(&row.setl_id)),
            ("institution", text(&row.institution)),
            ("medfee_fen", money(&row.medfee)),
            ("account_fen", money(&row.account)),
            ("cash_fen", money(&row.cash)),
            ("balance_after_fen", money(&row.balance_after)),
            ("printed", row.printed.into()),
        ],
    )
}

pub fn decode_card_transaction(row: &[Value]) -> Result<CardTransaction, StoreFailure> {
    let mut c = Columns::new(&schema::CARD_TRANSACTIONS, row);
    Ok(CardTransaction {
        card_no: c.parse("card_no")?,
        seq: c.int("seq")?,
        at: c.parse("at")?,
        setl_id: c.parse("setl_id")?,
        institution: c.parse("institution")?,
        medfee: Money::from_fen(c.int("medfee_fen")?),
        account: Money::from_fen(c.int("account_fen")?),
        cash: Money::from_fen(c.int("cash_fen")?),
        balance_after: Money::from_fen(c.int("balance_after_fen")?),
        printed: c.boolean("printed")?,
    })
}

pub fn clearing_notice(row: &ClearingNotice) -> Vec<Value> {
    named(
        &schema::CLEARING_NOTICES,
        [
            ("id", text(&row.id)),
            ("psn_no", text(&row.psn_no)),
            ("old_card", text(&row.old_card)),
            ("old_bank", text(&row.old_bank)),
            ("new_bank", text(&row.new_bank)),
            ("issued_at", time(&row.issued_at)),
            ("confirmed_at", row.confirmed_at.map(|t| t.to_string()).into()),
            ("moved_fen", row.moved.map(|m| m.fen()).into()),
        ],
    )
}

pub fn decode_clearing_notice(row: &[Value]) -> Result<ClearingNotice, StoreFailure> {
    let mut c = Columns::new(&schema::CLEARING_NOTICES, row);
    Ok(ClearingNotice {
        id: c.text("id")?,
        psn_no: c.parse("psn_no")?,
        old_card: c.parse("old_card")?,
        old_bank: c.parse("old_bank")?,
        new_bank: c.parse("new_bank")?,
        issued_at: c.parse("issued_at")?,
        confirmed_at: c.opt_parse("confirmed_at")?,
        moved: c.opt_int("moved_fen")?.map(Money::from_fen),
    })
}

pub fn evoucher(row: &EVoucher) -> Vec<Value> {
    named(
        &schema::EVOUCHERS,
        [
            ("psn_no", text(&row.psn_no)),
            ("channel", text(&row.channel)),
            ("activated_at", time(&row.activated_at)),
            ("revoked_before", row.revoked_before.map(|t| t.to_string()).into()),
        ],
    )
}

pub fn decode_evoucher(row: &[Value]) -> Result<EVoucher, StoreFailure> {
    let mut c = Columns::new(&schema::EVOUCHERS, row);
    Ok(EVoucher {
        psn_no: c.parse("psn_no")?,
        channel: c.text("channel")?,
        activated_at: c.parse("activated_at")?,
        revoked_before: c.opt_parse("revoked_before")?,
    })
}

pub fn grant(row: &Grant) -> Vec<Value> {
    named(
        &schema::GRANTS,
        [
            ("hash", text(&row.hash)),
            ("kind", Value::Text(row.kind.as_str().to_string())),
            ("psn_no", text(&row.psn_no)),
            ("institution", row.institution.as_ref().map(|i| i.to_string()).into()),
            ("issued_at", time(&row.issued_at)),
            ("expires_at", time(&row.expires_at)),
            ("used_at", row.used_at.map(|t| t.to_string()).into()),
            ("used_by", row.used_by.as_ref().map(|i| i.to_string()).into()),
            ("used_ref", row.used_ref.clone().into()),
        ],
    )
}

pub fn decode_grant(row: &[Value]) -> Result<Grant, StoreFailure> {
    let mut c = Columns::new(&schema::GRANTS, row);
    let hash = c.text("hash")?;
    let kind_text = c.text("kind")?;
    let kind = GrantKind::parse(&kind_text).ok_or_else(|| failure("evoucher_grants.kind", &kind_text))?;
    Ok(Grant {
        hash,
        kind,
        psn_no: c.parse("psn_no")?,
        institution: c.opt_parse("institution")?,
        issued_at: c.parse("issued_at")?,
        expires_at: c.parse("expires_at")?,
        used_at: c.opt_parse("used_at")?,
        used_by: c.opt_parse("used_by")?,
        used_ref: c.opt_text("used_ref")?,
    })
}

pub fn diagnoses(row: &VisitDiagnoses) -> Vec<Value> {
    let entries: Vec<Json> = row
        .entries
        .iter()
        .map(|entry| {
            json!({
                "stage": entry.stage.code(),
                "diag_type": entry.diag_type,
                "main": entry.main,
                "order": entry.order,
                "code": entry.code,
                "name": entry.name,
                "adm_cond": entry.admission_condition,
                "dept": entry.dept,
                "doctor_code": entry.doctor_code,
                "doctor_name": entry.doctor_name,
                "at": entry.at.map(|at| at.to_string()),
            })
        })
        .collect();
    named(
        &schema::DIAGNOSES,
        [
            ("mdtrt_id", text(&row.mdtrt_id)),
            ("psn_no", text(&row.psn_no)),
            ("entries", json_text(&Json::Array(entries))),
        ],
    )
}

pub fn decode_diagnoses(row: &[Value]) -> Result<VisitDiagnoses, StoreFailure> {
    let mut c = Columns::new(&schema::DIAGNOSES, row);
    let mdtrt_id = c.parse("mdtrt_id")?;
    let psn_no = c.parse("psn_no")?;
    let entries = parse_json("visit_diagnoses", &c.text("entries")?)?;
    let items = entries.as_array().ok_or_else(|| failure("visit_diagnoses.entries", &entries))?;
    let text_of = |item: &Json, key: &str| item[key].as_str().unwrap_or_default().to_string();
    let entries = items
        .iter()
        .map(|item| {
            Ok(Diagnosis {
                stage: item["stage"]
                    .as_str()
                    .and_then(DiagnosisStage::parse)
                    .ok_or_else(|| failure("visit_diagnoses.stage", item))?,
                diag_type: text_of(item, "diag_type"),
                main: item["main"].as_bool().unwrap_or(false),
                order: item["order"].as_u64().and_then(|order| u32::try_from(order).ok()).unwrap_or(0),
                code: text_of(item, "code"),
                name: text_of(item, "name"),
                admission_condition: text_of(item, "adm_cond"),
                dept: text_of(item, "dept"),
                doctor_code: text_of(item, "doctor_code"),
                doctor_name: text_of(item, "doctor_name"),
                at: match item["at"].as_str() {
                    Some(at) => Some(at.parse().map_err(|error| failure("visit_diagnoses.at", error))?),
                    None => None,
                },
            })
        })
        .collect::<Result<Vec<_>, StoreFailure>>()?;
    Ok(VisitDiagnoses { mdtrt_id, psn_no, entries })
}

//! Records to rows and back. Column order follows [`crate::schema`]; structured fields
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
use crate::value::{Columns, Value};

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
    vec![text(&row.admdvs), text(&row.name)]
}

pub fn decode_region(row: &[Value]) -> Result<Region, StoreFailure> {
    let mut c = Columns::new(&schema::REGIONS, row);
    Ok(Region { admdvs: c.parse()?, name: c.text()? })
}

pub fn employer(row: &Employer) -> Vec<Value> {
    vec![text(&row.code), text(&row.name), text(&row.admdvs)]
}

pub fn decode_employer(row: &[Value]) -> Result<Employer, StoreFailure> {
    let mut c = Columns::new(&schema::EMPLOYERS, row);
    Ok(Employer { code: c.text()?, name: c.text()?, admdvs: c.parse()? })
}

pub fn institution(row: &Institution) -> Vec<Value> {
    vec![
        text(&row.code),
        text(&row.name),
        text(&row.kind.code()),
        row.level.map(|level| level.code()).into(),
        text(&row.admdvs),
        date(&row.designated_from),
        date(&row.designated_to),
        row.accepts_evoucher.into(),
        text(&row.gateway_secret),
    ]
}

pub fn decode_institution(row: &[Value]) -> Result<Institution, StoreFailure> {
    let mut c = Columns::new(&schema::INSTITUTIONS, row);
    Ok(Institution {
        code: c.parse()?,
        name: c.text()?,
        kind: c.parse()?,
        level: c.opt_parse()?,
        admdvs: c.parse()?,
        designated_from: c.parse()?,
        designated_to: c.parse()?,
        accepts_evoucher: c.boolean()?,
        gateway_secret: c.text()?,
    })
}

pub fn person(row: &Person) -> Vec<Value> {
    vec![
        text(&row.psn_no),
        Value::Text(row.id_number.expose().to_string()),
        text(&row.name),
        text(&row.admdvs),
        text(&row.insurance),
        text(&row.person_type),
        row.employer.clone().into(),
        Value::Text(row.status.code().to_string()),
        date(&row.insured_since),
        text(&row.ethnicity),
        text(&row.custody_bank),
        row.contribution_base.map(|m| m.fen()).into(),
        row.account_frozen.into(),
    ]
}

pub fn decode_person(row: &[Value]) -> Result<Person, StoreFailure> {
    let mut c = Columns::new(&schema::PERSONS, row);
    Ok(Person {
        psn_no: c.parse()?,
        id_number: c.parse()?,
        name: c.text()?,
        admdvs: c.parse()?,
        insurance: c.parse()?,
        person_type: c.parse()?,
        employer: c.opt_text()?,
        status: {
            let code = c.text()?;
            PersonStatus::parse(&code).ok_or_else(|| failure("persons.status", &code))?
        },
        insured_since: c.parse()?,
        ethnicity: c.text()?,
        custody_bank: c.parse()?,
        contribution_base: c.opt_int()?.map(Money::from_fen),
        account_frozen: c.boolean()?,
    })
}

pub fn card(row: &Card) -> Vec<Value> {
    vec![
        text(&row.card_no),
        text(&row.card_sn),
        text(&row.psn_no),
        Value::Text(row.status.as_str().to_string()),
        text(&row.bank),
        row.issued_on.map(|d| d.to_string()).into(),
        Value::Int(i64::from(row.unprinted)),
        row.replaces.as_ref().map(|c| c.to_string()).into(),
    ]
}

pub fn decode_card(row: &[Value]) -> Result<Card, StoreFailure> {
    let mut c = Columns::new(&schema::CARDS, row);
    Ok(Card {
        card_no: c.parse()?,
        card_sn: c.parse()?,
        psn_no: c.parse()?,
        status: {
            let status = c.text()?;
            CardStatus::parse(&status).ok_or_else(|| failure("cards.status", &status))?
        },
        bank: c.parse()?,
        issued_on: c.opt_parse()?,
        unprinted: u32::try_from(c.int()?).map_err(|e| failure("cards.unprinted", e))?,
        replaces: c.opt_parse()?,
    })
}

pub fn account(row: &Account) -> Vec<Value> {
    vec![text(&row.key), money(&row.debits_posted), money(&row.credits_posted)]
}

pub fn decode_account(row: &[Value]) -> Result<Account, StoreFailure> {
    let mut c = Columns::new(&schema::ACCOUNTS, row);
    Ok(Account { key: c.parse()?, debits_posted: Money::from_fen(c.int()?), credits_posted: Money::from_fen(c.int()?) })
}

pub fn accumulators(person: &yibao_domain::PersonNo, year: u16, row: &Accumulators) -> Vec<Value> {
    vec![
        text(person),
        Value::Int(i64::from(year)),
        money(&row.outpatient_deductible_paid),
        money(&row.inpatient_deductible_paid),
        Value::Int(row.admissions),
        money(&row.outpatient_band_used),
        money(&row.fund_paid),
        money(&row.medfee_total),
    ]
}

pub fn decode_accumulators(row: &[Value]) -> Result<(yibao_domain::PersonNo, u16, Accumulators), StoreFailure> {
    let mut c = Columns::new(&schema::ACCUMULATORS, row);
    let person = c.parse()?;
    let year = u16::try_from(c.int()?).map_err(|e| failure("accumulators.year", e))?;
    Ok((
        person,
        year,
        Accumulators {
            outpatient_deductible_paid: Money::from_fen(c.int()?),
            inpatient_deductible_paid: Money::from_fen(c.int()?),
            admissions: c.int()?,
            outpatient_band_used: Money::from_fen(c.int()?),
            fund_paid: Money::from_fen(c.int()?),
            medfee_total: Money::from_fen(c.int()?),
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
    vec![
        text(&row.mdtrt_id),
        text(&row.psn_no),
        text(&row.institution),
        Value::Text(row.kind.as_str().to_string()),
        text(&row.insurance),
        row.med_type.map(|t| t.to_string()).into(),
        time(&row.begin),
        row.end.map(|t| t.to_string()).into(),
        Value::Text(row.status.as_str().to_string()),
        text(&row.certificate.kind),
        text(&row.certificate.number),
        text(&row.his_no),
        text(&row.dept_code),
        text(&row.dept_name),
        text(&row.doctor_code),
        text(&row.doctor_name),
        row.diagnosis_code.clone().into(),
        row.diagnosis_name.clone().into(),
        text(&row.insured_admdvs),
        text(&row.treated_admdvs),
        row.admission_counted.into(),
        money(&row.deductible_paid),
        row.folded_into.as_ref().map(|id| id.to_string()).into(),
        time(&row.created_at),
    ]
}

pub fn decode_visit(row: &[Value]) -> Result<Visit, StoreFailure> {
    let mut c = Columns::new(&schema::VISITS, row);
    Ok(Visit {
        mdtrt_id: c.parse()?,
        psn_no: c.parse()?,
        institution: c.parse()?,
        kind: {
            let kind = c.text()?;
            VisitKind::parse(&kind).ok_or_else(|| failure("visits.kind", &kind))?
        },
        insurance: c.parse()?,
        med_type: c.opt_parse()?,
        begin: c.parse()?,
        end: c.opt_parse()?,
        status: {
            let status = c.text()?;
            VisitStatus::parse(&status).ok_or_else(|| failure("visits.status", &status))?
        },
        certificate: Certificate { kind: c.parse()?, number: c.text()? },
        his_no: c.text()?,
        dept_code: c.text()?,
        dept_name: c.text()?,
        doctor_code: c.text()?,
        doctor_name: c.text()?,
        diagnosis_code: c.opt_text()?,
        diagnosis_name: c.opt_text()?,
        insured_admdvs: c.parse()?,
        treated_admdvs: c.parse()?,
        admission_counted: c.boolean()?,
        deductible_paid: Money::from_fen(c.int()?),
        folded_into: c.opt_parse()?,
        created_at: c.parse()?,
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
    vec![
        text(&row.mdtrt_id),
        text(&row.serial),
        text(&row.psn_no),
        text(&row.batch),
        text(&row.code),
        text(&row.his_code),
        text(&row.name),
        Value::Int(row.price.micro_yuan()),
        Value::Int(row.quantity.ten_thousandths()),
        money(&row.amount),
        time(&row.occurred_at),
        row.refund_of.clone().into(),
        row.class.map(|class| class.code()).into(),
        Value::Int(i64::from(row.selfpay_ratio.basis_points())),
        row.price_cap.map(|cap| cap.micro_yuan()).into(),
        money(&row.fully_selfpaid),
        money(&row.over_limit),
        money(&row.first_selfpay),
        money(&row.in_scope),
        Value::Text(state.to_string()),
        settled_by.into(),
        text(&row.rx_no),
        text(&row.dept_code),
        text(&row.dept_name),
        text(&row.doctor_code),
        text(&row.doctor_name),
        json_text(&steps_json(&row.steps)),
    ]
}

pub fn decode_line(row: &[Value]) -> Result<FeeLine, StoreFailure> {
    let mut c = Columns::new(&schema::FEE_LINES, row);
    let mdtrt_id = c.parse()?;
    let serial = c.text()?;
    let psn_no = c.parse()?;
    let batch = c.text()?;
    let code = c.text()?;
    let his_code = c.text()?;
    let name = c.text()?;
    let price = c.int()?;
    let quantity = c.int()?;
    let amount = Money::from_fen(c.int()?);
    let occurred_at = c.parse()?;
    let refund_of = c.opt_text()?;
    let class = c.opt_parse()?;
    let selfpay_ratio = ratio(c.int()?, "fee_lines.selfpay_bp")?;
    let price_cap = c.opt_int()?;
    let fully_selfpaid = Money::from_fen(c.int()?);
    let over_limit = Money::from_fen(c.int()?);
    let first_selfpay = Money::from_fen(c.int()?);
    let in_scope = Money::from_fen(c.int()?);
    let state = c.text()?;
    let settled_by: Option<SetlId> = c.opt_parse()?;
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
        rx_no: c.text()?,
        dept_code: c.text()?,
        dept_name: c.text()?,
        doctor_code: c.text()?,
        doctor_name: c.text()?,
        steps: steps_from_json(&parse_json("fee_lines.steps", &c.text()?)?)?,
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
    vec![
        text(&row.setl_id),
        text(&row.psn_no),
        text(&row.mdtrt_id),
        text(&row.institution),
        text(&row.insurance),
        text(&row.person_type),
        text(&row.med_type),
        Value::Text(row.visit_kind.as_str().to_string()),
        text(&row.clearing_type),
        time(&row.at),
        money(&a.medfee),
        money(&a.fully_selfpaid),
        money(&a.over_limit),
        money(&a.first_selfpay),
        money(&a.in_scope),
        money(&a.deductible),
        money(&a.deductible_standard),
        money(&a.fund),
        money(&a.account_current_year),
        money(&a.account_prior_years),
        money(&a.cash),
        Value::Int(i64::from(row.fund_share.basis_points())),
        money(&row.balance_after),
        json_text(&accumulators_json(&row.change)),
        Value::Int(i64::from(row.year)),
        text(&row.policy),
        Value::Text(status.to_string()),
        status_ref.into(),
        text(&row.msgid),
        json_text(&Json::Array(lines)),
        text(&row.insured_admdvs),
        text(&row.treated_admdvs),
        text(&row.certificate.kind),
        text(&row.certificate.number),
        text(&row.invoice_no),
        row.mid_stay.into(),
        row.account_used.into(),
        json_text(&Json::Array(folded)),
        json_text(&steps_json(&row.steps)),
    ]
}

pub fn decode_settlement(row: &[Value]) -> Result<Settlement, StoreFailure> {
    let mut c = Columns::new(&schema::SETTLEMENTS, row);
    let setl_id = c.parse()?;
    let psn_no = c.parse()?;
    let mdtrt_id = c.parse()?;
    let institution = c.parse()?;
    let insurance = c.parse()?;
    let person_type = c.parse()?;
    let med_type = c.parse()?;
    let visit_kind = {
        let kind = c.text()?;
        VisitKind::parse(&kind).ok_or_else(|| failure("settlements.visit_kind", &kind))?
    };
    let clearing_type = c.text()?;
    let at = c.parse()?;
    let mut fen = || c.int().map(Money::from_fen);
    let amounts = Amounts {
        medfee: fen()?,
        fully_selfpaid: fen()?,
        over_limit: fen()?,
        first_selfpay: fen()?,
        in_scope: fen()?,
        deductible: fen()?,
        deductible_standard: fen()?,
        fund: fen()?,
        account_current_year: fen()?,
        account_prior_years: fen()?,
        cash: fen()?,
    };
    let fund_share = ratio(c.int()?, "settlements.fund_share_bp")?;
    let balance_after = Money::from_fen(c.int()?);
    let change = accumulators_from_json(&parse_json("settlements.change", &c.text()?)?)?;
    let year = u16::try_from(c.int()?).map_err(|e| failure("settlements.year", e))?;
    let policy = c.text()?;
    let status = c.text()?;
    let status_ref: Option<SetlId> = c.opt_parse()?;
    let status = match (status.as_str(), status_ref) {
        ("normal", _) => SettlementStatus::Normal,
        ("cancelled", Some(by)) => SettlementStatus::Cancelled { by },
        ("mirror", Some(of)) => SettlementStatus::Mirror { of },
        (other, _) => return Err(failure("settlements.status", other)),
    };
    let msgid = c.parse()?;
    let lines_json = parse_json("settlements.lines", &c.text()?)?;
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
    let insured_admdvs = c.parse()?;
    let treated_admdvs = c.parse()?;
    let certificate = Certificate { kind: c.parse()?, number: c.text()? };
    let invoice_no = c.text()?;
    let mid_stay = c.boolean()?;
    let account_used = c.boolean()?;
    let folded_json = parse_json("settlements.folded", &c.text()?)?;
    let folded = folded_json
        .as_array()
        .ok_or_else(|| failure("settlements.folded", &folded_json))?
        .iter()
        .map(|id| id.as_str().and_then(|id| id.parse().ok()).ok_or_else(|| failure("settlements.folded", id)))
        .collect::<Result<Vec<_>, _>>()?;
    let steps = steps_from_json(&parse_json("settlements.steps", &c.text()?)?)?;
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
    vec![
        text(&row.msgid),
        text(&row.institution),
        text(&row.infno),
        text(&row.request_hash),
        Value::Blob(row.response.clone()),
        time(&row.at),
        json_text(&effect_json(&row.effect)),
        row.reversed_by.as_ref().map(|id| id.to_string()).into(),
    ]
}

pub fn decode_message(row: &[Value]) -> Result<Message, StoreFailure> {
    let mut c = Columns::new(&schema::MESSAGES, row);
    Ok(Message {
        msgid: c.parse()?,
        institution: c.parse()?,
        infno: c.text()?,
        request_hash: c.text()?,
        response: c.blob()?,
        at: c.parse()?,
        effect: effect_from_json(&parse_json("messages.effect", &c.text()?)?)?,
        reversed_by: c.opt_parse()?,
    })
}

pub fn registration(row: &DiseaseRegistration) -> Vec<Value> {
    vec![
        text(&row.serial),
        text(&row.psn_no),
        text(&row.code),
        text(&row.name),
        date(&row.begin),
        date(&row.end),
        text(&row.institution),
        row.revoked.into(),
        text(&row.msgid),
    ]
}

pub fn decode_registration(row: &[Value]) -> Result<DiseaseRegistration, StoreFailure> {
    let mut c = Columns::new(&schema::REGISTRATIONS, row);
    Ok(DiseaseRegistration {
        serial: c.text()?,
        psn_no: c.parse()?,
        code: c.text()?,
        name: c.text()?,
        begin: c.parse()?,
        end: c.parse()?,
        institution: c.parse()?,
        revoked: c.boolean()?,
        msgid: c.parse()?,
    })
}

pub fn sign_in(row: &SignIn) -> Vec<Value> {
    vec![
        text(&row.sign_no),
        text(&row.institution),
        text(&row.operator),
        time(&row.signed_in_at),
        row.signed_out_at.map(|t| t.to_string()).into(),
    ]
}

pub fn decode_sign_in(row: &[Value]) -> Result<SignIn, StoreFailure> {
    let mut c = Columns::new(&schema::SIGN_INS, row);
    Ok(SignIn {
        sign_no: c.text()?,
        institution: c.parse()?,
        operator: c.text()?,
        signed_in_at: c.parse()?,
        signed_out_at: c.opt_parse()?,
    })
}

pub fn transfer(row: &Transfer) -> Vec<Value> {
    vec![text(&row.id), Value::Text(row.code.as_str().to_string()), time(&row.at), text(&row.reference)]
}

pub fn postings(row: &Transfer) -> Vec<Vec<Value>> {
    row.postings
        .iter()
        .enumerate()
        .map(|(index, posting)| {
            vec![
                text(&row.id),
                Value::Int(index as i64),
                text(&posting.account),
                Value::Text(posting.side.as_str().to_string()),
                money(&posting.amount),
            ]
        })
        .collect()
}

/// A transfer from its row and its postings' rows (in `idx` order).
pub fn decode_transfer(row: &[Value], postings: &[Vec<Value>]) -> Result<Transfer, StoreFailure> {
    let mut c = Columns::new(&schema::TRANSFERS, row);
    let id = TransferId::new(c.text()?);
    let code_text = c.text()?;
    let code = TransferCode::parse(&code_text).ok_or_else(|| failure("transfers.code", &code_text))?;
    let at = c.parse()?;
    let reference = c.text()?;
    let postings = postings
        .iter()
        .map(|row| {
            let mut p = Columns::new(&schema::POSTINGS, row);
            let _transfer = p.text()?;
            let _index = p.int()?;
            let account = p.parse()?;
            let side = match p.text()?.as_str() {
                "debit" => Side::Debit,
                "credit" => Side::Credit,
                other => return Err(failure("postings.side", other)),
            };
            Ok(Posting { account, side, amount: Money::from_fen(p.int()?) })
        })
        .collect::<Result<Vec<_>, StoreFailure>>()?;
    Ok(Transfer { id, code, at, reference, postings })
}

pub fn catalogue_entry(row: &CatalogueEntry) -> Vec<Value> {
    vec![
        text(&row.code),
        date(&row.begin),
        date(&row.end),
        text(&row.name),
        text(&row.class),
        Value::Int(i64::from(row.first_selfpay.basis_points())),
        row.price_cap.map(|cap| cap.micro_yuan()).into(),
        text(&row.item_type),
        text(&row.list_type),
    ]
}

pub fn decode_catalogue_entry(row: &[Value]) -> Result<CatalogueEntry, StoreFailure> {
    let mut c = Columns::new(&schema::CATALOGUE, row);
    let code = c.text()?;
    let begin = c.parse()?;
    let end = c.parse()?;
    let name = c.text()?;
    let class = c.parse()?;
    let first_selfpay = ratio(c.int()?, "catalogue.first_selfpay_bp")?;
    let price_cap = match c.opt_int()? {
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
        item_type: c.text()?,
        list_type: c.text()?,
        begin,
        end,
    })
}

pub fn audit(row: &AuditEntry) -> Vec<Value> {
    vec![time(&row.at), text(&row.actor), text(&row.action), text(&row.subject), text(&row.reason)]
}

pub fn decode_audit(row: &[Value]) -> Result<AuditEntry, StoreFailure> {
    let mut c = Columns::new(&schema::AUDIT_LOG, row);
    Ok(AuditEntry { at: c.parse()?, actor: c.text()?, action: c.text()?, subject: c.text()?, reason: c.text()? })
}

pub fn credential(row: &Credential) -> Vec<Value> {
    vec![
        text(&row.subject),
        Value::Text(row.kind.as_str().to_string()),
        text(&row.hash),
        row.must_change.into(),
        Value::Int(i64::from(row.failures)),
        row.locked_until.map(|t| t.to_string()).into(),
        json_text(&json!(row.roles)),
        time(&row.updated_at),
    ]
}

pub fn decode_credential(row: &[Value]) -> Result<Credential, StoreFailure> {
    let mut c = Columns::new(&schema::CREDENTIALS, row);
    let subject = c.text()?;
    let kind_text = c.text()?;
    let kind = CredentialKind::parse(&kind_text).ok_or_else(|| failure("credentials.kind", &kind_text))?;
    let hash = c.text()?;
    let must_change = c.boolean()?;
    let failures = u32::try_from(c.int()?).map_err(|e| failure("credentials.failures", e))?;
    let locked_until = c.opt_parse()?;
    let roles_json = parse_json("credentials.roles", &c.text()?)?;
    let roles = roles_json
        .as_array()
        .ok_or_else(|| failure("credentials.roles", &roles_json))?
        .iter()
        .map(|role| role.as_str().map(str::to_string).ok_or_else(|| failure("credentials.roles", role)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Credential { subject, kind, hash, must_change, failures, locked_until, roles, updated_at: c.parse()? })
}

pub fn file(row: &StoredFile) -> Vec<Value> {
    vec![
        text(&row.file_qury_no),
        text(&row.institution),
        text(&row.filename),
        Value::Blob(row.content.clone()),
        time(&row.at),
    ]
}

pub fn decode_file(row: &[Value]) -> Result<StoredFile, StoreFailure> {
    let mut c = Columns::new(&schema::FILES, row);
    Ok(StoredFile {
        file_qury_no: c.text()?,
        institution: c.parse()?,
        filename: c.text()?,
        content: c.blob()?,
        at: c.parse()?,
    })
}

fn opt_date(value: Option<Date>) -> Value {
    value.map(|d| d.to_string()).into()
}

pub fn card_application(row: &CardApplication) -> Vec<Value> {
    vec![
        text(&row.id),
        text(&row.psn_no),
        row.employer.clone().into(),
        date(&row.registered_on),
        text(&row.bank),
        text(&row.card_no),
        opt_date(row.photo_paid_on),
        opt_date(row.forms_paid_on),
        opt_date(row.submitted_on),
        opt_date(row.produced_on),
        opt_date(row.received_on),
        opt_date(row.issued_on),
        row.replaces.as_ref().map(|c| c.to_string()).into(),
        time(&row.created_at),
    ]
}

pub fn decode_card_application(row: &[Value]) -> Result<CardApplication, StoreFailure> {
    let mut c = Columns::new(&schema::CARD_APPLICATIONS, row);
    Ok(CardApplication {
        id: c.text()?,
        psn_no: c.parse()?,
        employer: c.opt_text()?,
        registered_on: c.parse()?,
        bank: c.parse()?,
        card_no: c.parse()?,
        photo_paid_on: c.opt_parse()?,
        forms_paid_on: c.opt_parse()?,
        submitted_on: c.opt_parse()?,
        produced_on: c.opt_parse()?,
        received_on: c.opt_parse()?,
        issued_on: c.opt_parse()?,
        replaces: c.opt_parse()?,
        created_at: c.parse()?,
    })
}

pub fn card_transaction(row: &CardTransaction) -> Vec<Value> {
    vec![
        text(&row.card_no),
        Value::Int(row.seq),
        time(&row.at),
        text(&row.setl_id),
        text(&row.institution),
        money(&row.medfee),
        money(&row.account),
        money(&row.cash),
        money(&row.balance_after),
        row.printed.into(),
    ]
}

pub fn decode_card_transaction(row: &[Value]) -> Result<CardTransaction, StoreFailure> {
    let mut c = Columns::new(&schema::CARD_TRANSACTIONS, row);
    Ok(CardTransaction {
        card_no: c.parse()?,
        seq: c.int()?,
        at: c.parse()?,
        setl_id: c.parse()?,
        institution: c.parse()?,
        medfee: Money::from_fen(c.int()?),
        account: Money::from_fen(c.int()?),
        cash: Money::from_fen(c.int()?),
        balance_after: Money::from_fen(c.int()?),
        printed: c.boolean()?,
    })
}

pub fn clearing_notice(row: &ClearingNotice) -> Vec<Value> {
    vec![
        text(&row.id),
        text(&row.psn_no),
        text(&row.old_card),
        text(&row.old_bank),
        text(&row.new_bank),
        time(&row.issued_at),
        row.confirmed_at.map(|t| t.to_string()).into(),
        row.moved.map(|m| m.fen()).into(),
    ]
}

pub fn decode_clearing_notice(row: &[Value]) -> Result<ClearingNotice, StoreFailure> {
    let mut c = Columns::new(&schema::CLEARING_NOTICES, row);
    Ok(ClearingNotice {
        id: c.text()?,
        psn_no: c.parse()?,
        old_card: c.parse()?,
        old_bank: c.parse()?,
        new_bank: c.parse()?,
        issued_at: c.parse()?,
        confirmed_at: c.opt_parse()?,
        moved: c.opt_int()?.map(Money::from_fen),
    })
}

pub fn evoucher(row: &EVoucher) -> Vec<Value> {
    vec![
        text(&row.psn_no),
        text(&row.channel),
        time(&row.activated_at),
        row.revoked_before.map(|t| t.to_string()).into(),
    ]
}

pub fn decode_evoucher(row: &[Value]) -> Result<EVoucher, StoreFailure> {
    let mut c = Columns::new(&schema::EVOUCHERS, row);
    Ok(EVoucher { psn_no: c.parse()?, channel: c.text()?, activated_at: c.parse()?, revoked_before: c.opt_parse()? })
}

pub fn grant(row: &Grant) -> Vec<Value> {
    vec![
        text(&row.hash),
        Value::Text(row.kind.as_str().to_string()),
        text(&row.psn_no),
        row.institution.as_ref().map(|i| i.to_string()).into(),
        time(&row.issued_at),
        time(&row.expires_at),
        row.used_at.map(|t| t.to_string()).into(),
        row.used_by.as_ref().map(|i| i.to_string()).into(),
        row.used_ref.clone().into(),
    ]
}

pub fn decode_grant(row: &[Value]) -> Result<Grant, StoreFailure> {
    let mut c = Columns::new(&schema::GRANTS, row);
    let hash = c.text()?;
    let kind_text = c.text()?;
    let kind = GrantKind::parse(&kind_text).ok_or_else(|| failure("evoucher_grants.kind", &kind_text))?;
    Ok(Grant {
        hash,
        kind,
        psn_no: c.parse()?,
        institution: c.opt_parse()?,
        issued_at: c.parse()?,
        expires_at: c.parse()?,
        used_at: c.opt_parse()?,
        used_by: c.opt_parse()?,
        used_ref: c.opt_text()?,
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
    vec![text(&row.mdtrt_id), text(&row.psn_no), json_text(&Json::Array(entries))]
}

pub fn decode_diagnoses(row: &[Value]) -> Result<VisitDiagnoses, StoreFailure> {
    let mut c = Columns::new(&schema::DIAGNOSES, row);
    let mdtrt_id = c.parse()?;
    let psn_no = c.parse()?;
    let entries = parse_json("visit_diagnoses", &c.text()?)?;
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

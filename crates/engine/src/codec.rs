//! Every stored table, declared once. A record kept one to a row has one `impl` [`Record`]
//! here: its table (name, columns by name and storage type, key, indexes: the store makes the
//! DDL from it), its key, the column loads select on, and its row codec. A few tables whose
//! rows are not one record each (accumulators by person and year, a transfer and its
//! postings, sequences, the audit log) are a [`TableDef`] and functions. Every column is read
//! and written by its name (never by where it sits: a row is read with [`Columns`] and written
//! with [`named`]); structured fields (explanations, line lists, accumulator changes, effects)
//! are JSON text. No SQL here.

use crate::error::StoreFailure;
use crate::records::{
    Amounts, AuditEntry, Card, CardApplication, CardStatus, CardTransaction, CatalogueEntry, Certificate,
    ClearingNotice, Credential, CredentialKind, Diagnosis, DiagnosisStage, DiseaseRegistration, EVoucher, Effect,
    Employer, FeeLine, Grant, GrantKind, Institution, LifeEvent, LifeEventKind, LineState, Message, Payee, Payout,
    PayoutKind, PayoutState, Person, PersonState, PersonStatus, Region, Settlement, SettlementStatus, SignIn,
    StoredFile, Visit, VisitDiagnoses, VisitKind, VisitStatus, WithheldCredit,
};
use crate::records::{
    BankPayment, CareProvider, Dispute, DisputeState, ElsewhereKind, ElsewhereRegistration, LossChannel, LossReport,
    Notification, NotificationKind, ProofLetter, ReceiptLine, Reimbursement, ReimbursementCause, ReimbursementState,
    ReplacementPath,
};
use serde_json::{Value as Json, json};
use yibao_domain::{
    Admdvs, CardNo, Date, DateTime, InstitutionCode, MdtrtId, Money, Month, MsgId, PersonNo, Quantity, Ratio, SetlId,
    UnitPrice,
};
use yibao_ledger::{Account, AccountKey, Posting, Side, Transfer, TransferCode, TransferId};
use yibao_policy::{Accumulators, Rule, Step};

use crate::record::Record;
use crate::row::Ty::{Blob, Int, Text};
use crate::row::{Columns, TableDef, Value, col, named, opt};

/// The tables whose rows are not one record each: written and read by the functions below.
pub const ACCUMULATORS: TableDef = TableDef {
    name: "accumulators",
    columns: &[
        col("psn_no", Text),
        col("year", Int),
        col("outpatient_deductible_fen", Int),
        col("inpatient_deductible_fen", Int),
        col("admissions", Int),
        col("outpatient_band_fen", Int),
        col("fund_fen", Int),
        col("medfee_fen", Int),
        col("subsidy_fen", Int),
    ],
    key: &["psn_no", "year"],
    ordered: false,
    indexes: &[],
};

pub const TRANSFERS: TableDef = TableDef {
    name: "transfers",
    columns: &[col("id", Text), col("code", Text), col("at", Text), col("reference", Text)],
    key: &["id"],
    ordered: true,
    indexes: &[],
};

pub const POSTINGS: TableDef = TableDef {
    name: "postings",
    columns: &[
        col("transfer_id", Text),
        col("idx", Int),
        col("account", Text),
        col("side", Text),
        col("amount_fen", Int),
    ],
    key: &["transfer_id", "idx"],
    ordered: false,
    indexes: &[&["account"]],
};

pub const SEQUENCES: TableDef = TableDef {
    name: "sequences",
    columns: &[col("name", Text), col("value", Int)],
    key: &["name"],
    ordered: false,
    indexes: &[],
};

pub const AUDIT_LOG: TableDef = TableDef {
    name: "audit_log",
    columns: &[col("at", Text), col("actor", Text), col("action", Text), col("subject", Text), col("reason", Text)],
    key: &[],
    ordered: true,
    indexes: &[&["subject"]],
};

/// The tables written by their own code rather than as one record a row, in creation order.
pub const OTHER_TABLES: [&TableDef; 7] =
    [&ACCUMULATORS, DiseaseRegistration::TABLE, &TRANSFERS, &POSTINGS, &SEQUENCES, CatalogueEntry::TABLE, &AUDIT_LOG];

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

impl Record for Region {
    type Key = Admdvs;
    const TABLE: &'static TableDef = &TableDef {
        name: "regions",
        columns: &[col("admdvs", Text), col("name", Text)],
        key: &["admdvs"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "admdvs";

    fn key(&self) -> Admdvs {
        self.admdvs.clone()
    }

    fn load_key(key: &Admdvs) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(Self::TABLE, [("admdvs", text(&self.admdvs)), ("name", text(&self.name))])
    }

    fn decode(row: &[Value]) -> Result<Region, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        Ok(Region { admdvs: c.parse("admdvs")?, name: c.text("name")? })
    }
}

impl Record for Employer {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "employers",
        columns: &[col("code", Text), col("name", Text), col("admdvs", Text)],
        key: &["code"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "code";

    fn key(&self) -> String {
        self.code.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(Self::TABLE, [("code", text(&self.code)), ("name", text(&self.name)), ("admdvs", text(&self.admdvs))])
    }

    fn decode(row: &[Value]) -> Result<Employer, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        Ok(Employer { code: c.text("code")?, name: c.text("name")?, admdvs: c.parse("admdvs")? })
    }
}

impl Record for Institution {
    type Key = InstitutionCode;
    const TABLE: &'static TableDef = &TableDef {
        name: "institutions",
        columns: &[
            col("code", Text),
            col("name", Text),
            col("kind", Text),
            opt("level", Text),
            col("admdvs", Text),
            col("designated_from", Text),
            col("designated_to", Text),
            col("accepts_evoucher", Int),
            col("gateway_secret", Text),
        ],
        key: &["code"],
        ordered: false,
        indexes: &[&["admdvs", "kind"]],
    };
    const LOAD_BY: &'static str = "code";

    fn key(&self) -> InstitutionCode {
        self.code.clone()
    }

    fn load_key(key: &InstitutionCode) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("code", text(&self.code)),
                ("name", text(&self.name)),
                ("kind", text(&self.kind.code())),
                ("level", self.level.map(|level| level.code()).into()),
                ("admdvs", text(&self.admdvs)),
                ("designated_from", date(&self.designated_from)),
                ("designated_to", date(&self.designated_to)),
                ("accepts_evoucher", self.accepts_evoucher.into()),
                ("gateway_secret", text(&self.gateway_secret)),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Institution, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

impl Record for Person {
    type Key = PersonNo;
    const TABLE: &'static TableDef = &TableDef {
        name: "persons",
        columns: &[
            col("psn_no", Text),
            col("id_number", Text),
            col("name", Text),
            col("admdvs", Text),
            col("insutype", Text),
            col("psn_type", Text),
            opt("employer", Text),
            col("status", Text),
            col("insured_since", Text),
            col("ethnicity", Text),
            col("custody_bank", Text),
            opt("contribution_base_fen", Int),
            col("account_frozen", Int),
        ],
        key: &["psn_no"],
        ordered: false,
        indexes: &[&["id_number"], &["admdvs", "psn_no"], &["employer"], &["name"]],
    };
    const LOAD_BY: &'static str = "psn_no";

    fn key(&self) -> PersonNo {
        self.psn_no.clone()
    }

    fn load_key(key: &PersonNo) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("psn_no", text(&self.psn_no)),
                ("id_number", Value::Text(self.id_number.expose().to_string())),
                ("name", text(&self.name)),
                ("admdvs", text(&self.admdvs)),
                ("insutype", text(&self.insurance)),
                ("psn_type", text(&self.person_type)),
                ("employer", self.employer.clone().into()),
                ("status", Value::Text(self.status.code().to_string())),
                ("insured_since", date(&self.insured_since)),
                ("ethnicity", text(&self.ethnicity)),
                ("custody_bank", text(&self.custody_bank)),
                ("contribution_base_fen", self.contribution_base.map(|m| m.fen()).into()),
                ("account_frozen", self.account_frozen.into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Person, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

impl Record for Card {
    type Key = CardNo;
    const TABLE: &'static TableDef = &TableDef {
        name: "cards",
        columns: &[
            col("card_no", Text),
            col("card_sn", Text),
            col("psn_no", Text),
            col("status", Text),
            col("bank", Text),
            opt("issued_on", Text),
            col("unprinted", Int),
            opt("replaces", Text),
        ],
        key: &["card_no"],
        ordered: false,
        indexes: &[&["psn_no"]],
    };
    const LOAD_BY: &'static str = "card_no";

    fn key(&self) -> CardNo {
        self.card_no.clone()
    }

    fn load_key(key: &CardNo) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("card_no", text(&self.card_no)),
                ("card_sn", text(&self.card_sn)),
                ("psn_no", text(&self.psn_no)),
                ("status", Value::Text(self.status.as_str().to_string())),
                ("bank", text(&self.bank)),
                ("issued_on", self.issued_on.map(|d| d.to_string()).into()),
                ("unprinted", Value::Int(i64::from(self.unprinted))),
                ("replaces", self.replaces.as_ref().map(|c| c.to_string()).into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Card, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

impl Record for Account {
    type Key = AccountKey;
    const TABLE: &'static TableDef = &TableDef {
        name: "accounts",
        columns: &[col("account", Text), col("debits_fen", Int), col("credits_fen", Int)],
        key: &["account"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "account";

    fn key(&self) -> AccountKey {
        self.key.clone()
    }

    fn load_key(key: &AccountKey) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("account", text(&self.key)),
                ("debits_fen", money(&self.debits_posted)),
                ("credits_fen", money(&self.credits_posted)),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Account, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        Ok(Account {
            key: c.parse("account")?,
            debits_posted: Money::from_fen(c.int("debits_fen")?),
            credits_posted: Money::from_fen(c.int("credits_fen")?),
        })
    }
}

pub fn accumulators(person: &yibao_domain::PersonNo, year: u16, row: &Accumulators) -> Vec<Value> {
    named(
        &ACCUMULATORS,
        [
            ("psn_no", text(person)),
            ("year", Value::Int(i64::from(year))),
            ("outpatient_deductible_fen", money(&row.outpatient_deductible_paid)),
            ("inpatient_deductible_fen", money(&row.inpatient_deductible_paid)),
            ("admissions", Value::Int(row.admissions)),
            ("outpatient_band_fen", money(&row.outpatient_band_used)),
            ("fund_fen", money(&row.fund_paid)),
            ("medfee_fen", money(&row.medfee_total)),
            ("subsidy_fen", money(&row.subsidy_paid)),
        ],
    )
}

pub fn decode_accumulators(row: &[Value]) -> Result<(yibao_domain::PersonNo, u16, Accumulators), StoreFailure> {
    let mut c = Columns::new(&ACCUMULATORS, row);
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
            subsidy_paid: Money::from_fen(c.int("subsidy_fen")?),
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
        row.medfee_total.fen(),
        row.subsidy_paid.fen()
    ])
}

fn accumulators_from_json(value: &Json) -> Result<Accumulators, StoreFailure> {
    let numbers: Vec<i64> = value
        .as_array()
        .map(|items| items.iter().filter_map(Json::as_i64).collect())
        // Six numbers before the civil-servant subsidy (schema version 1), seven since.
        .filter(|numbers: &Vec<i64>| matches!(numbers.len(), 6 | 7))
        .ok_or_else(|| failure("settlements.change", value))?;
    Ok(Accumulators {
        outpatient_deductible_paid: Money::from_fen(numbers[0]),
        inpatient_deductible_paid: Money::from_fen(numbers[1]),
        admissions: numbers[2],
        outpatient_band_used: Money::from_fen(numbers[3]),
        fund_paid: Money::from_fen(numbers[4]),
        medfee_total: Money::from_fen(numbers[5]),
        subsidy_paid: Money::from_fen(numbers.get(6).copied().unwrap_or(0)),
    })
}

impl Record for Visit {
    type Key = MdtrtId;
    const TABLE: &'static TableDef = &TableDef {
        name: "visits",
        columns: &[
            col("mdtrt_id", Text),
            col("psn_no", Text),
            col("institution", Text),
            col("kind", Text),
            col("insutype", Text),
            opt("med_type", Text),
            col("begin_at", Text),
            opt("end_at", Text),
            col("status", Text),
            col("cert_type", Text),
            col("cert_no", Text),
            col("his_no", Text),
            col("dept_code", Text),
            col("dept_name", Text),
            col("doctor_code", Text),
            col("doctor_name", Text),
            opt("diagnosis_code", Text),
            opt("diagnosis_name", Text),
            col("insured_admdvs", Text),
            col("treated_admdvs", Text),
            col("admission_counted", Int),
            col("deductible_paid_fen", Int),
            opt("folded_into", Text),
            col("created_at", Text),
        ],
        key: &["mdtrt_id"],
        ordered: false,
        indexes: &[&["psn_no", "begin_at"], &["institution", "begin_at"]],
    };
    const LOAD_BY: &'static str = "mdtrt_id";

    fn key(&self) -> MdtrtId {
        self.mdtrt_id.clone()
    }

    fn load_key(key: &MdtrtId) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("mdtrt_id", text(&self.mdtrt_id)),
                ("psn_no", text(&self.psn_no)),
                ("institution", text(&self.institution)),
                ("kind", Value::Text(self.kind.as_str().to_string())),
                ("insutype", text(&self.insurance)),
                ("med_type", self.med_type.map(|t| t.to_string()).into()),
                ("begin_at", time(&self.begin)),
                ("end_at", self.end.map(|t| t.to_string()).into()),
                ("status", Value::Text(self.status.as_str().to_string())),
                ("cert_type", text(&self.certificate.kind)),
                ("cert_no", text(&self.certificate.number)),
                ("his_no", text(&self.his_no)),
                ("dept_code", text(&self.dept_code)),
                ("dept_name", text(&self.dept_name)),
                ("doctor_code", text(&self.doctor_code)),
                ("doctor_name", text(&self.doctor_name)),
                ("diagnosis_code", self.diagnosis_code.clone().into()),
                ("diagnosis_name", self.diagnosis_name.clone().into()),
                ("insured_admdvs", text(&self.insured_admdvs)),
                ("treated_admdvs", text(&self.treated_admdvs)),
                ("admission_counted", self.admission_counted.into()),
                ("deductible_paid_fen", money(&self.deductible_paid)),
                ("folded_into", self.folded_into.as_ref().map(|id| id.to_string()).into()),
                ("created_at", time(&self.created_at)),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Visit, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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

impl Record for FeeLine {
    type Key = (MdtrtId, String);
    const TABLE: &'static TableDef = &TableDef {
        name: "fee_lines",
        columns: &[
            col("mdtrt_id", Text),
            col("serial", Text),
            col("psn_no", Text),
            col("batch", Text),
            col("code", Text),
            col("his_code", Text),
            col("name", Text),
            col("price_micro", Int),
            col("quantity_e4", Int),
            col("amount_fen", Int),
            col("occurred_at", Text),
            opt("refund_of", Text),
            opt("class", Text),
            col("selfpay_bp", Int),
            opt("price_cap_micro", Int),
            col("fully_selfpaid_fen", Int),
            col("over_limit_fen", Int),
            col("first_selfpay_fen", Int),
            col("in_scope_fen", Int),
            col("state", Text),
            opt("settled_by", Text),
            col("rx_no", Text),
            col("dept_code", Text),
            col("dept_name", Text),
            col("doctor_code", Text),
            col("doctor_name", Text),
            col("steps", Text),
        ],
        key: &["mdtrt_id", "serial"],
        ordered: true,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "mdtrt_id";

    fn key(&self) -> (MdtrtId, String) {
        (self.mdtrt_id.clone(), self.serial.clone())
    }

    fn load_key(key: &(MdtrtId, String)) -> String {
        key.0.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        let (state, settled_by) = match &self.state {
            LineState::Unsettled => ("unsettled", None),
            LineState::Settled(setl_id) => ("settled", Some(setl_id.to_string())),
            LineState::Revoked => ("revoked", None),
        };
        named(
            Self::TABLE,
            [
                ("mdtrt_id", text(&self.mdtrt_id)),
                ("serial", text(&self.serial)),
                ("psn_no", text(&self.psn_no)),
                ("batch", text(&self.batch)),
                ("code", text(&self.code)),
                ("his_code", text(&self.his_code)),
                ("name", text(&self.name)),
                ("price_micro", Value::Int(self.price.micro_yuan())),
                ("quantity_e4", Value::Int(self.quantity.ten_thousandths())),
                ("amount_fen", money(&self.amount)),
                ("occurred_at", time(&self.occurred_at)),
                ("refund_of", self.refund_of.clone().into()),
                ("class", self.class.map(|class| class.code()).into()),
                ("selfpay_bp", Value::Int(i64::from(self.selfpay_ratio.basis_points()))),
                ("price_cap_micro", self.price_cap.map(|cap| cap.micro_yuan()).into()),
                ("fully_selfpaid_fen", money(&self.fully_selfpaid)),
                ("over_limit_fen", money(&self.over_limit)),
                ("first_selfpay_fen", money(&self.first_selfpay)),
                ("in_scope_fen", money(&self.in_scope)),
                ("state", Value::Text(state.to_string())),
                ("settled_by", settled_by.into()),
                ("rx_no", text(&self.rx_no)),
                ("dept_code", text(&self.dept_code)),
                ("dept_name", text(&self.dept_name)),
                ("doctor_code", text(&self.doctor_code)),
                ("doctor_name", text(&self.doctor_name)),
                ("steps", json_text(&steps_json(&self.steps))),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<FeeLine, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

impl Record for Settlement {
    type Key = SetlId;
    const TABLE: &'static TableDef = &TableDef {
        name: "settlements",
        columns: &[
            col("setl_id", Text),
            col("psn_no", Text),
            col("mdtrt_id", Text),
            col("institution", Text),
            col("insutype", Text),
            col("psn_type", Text),
            col("med_type", Text),
            col("visit_kind", Text),
            col("clr_type", Text),
            col("at", Text),
            col("medfee_fen", Int),
            col("fully_selfpaid_fen", Int),
            col("over_limit_fen", Int),
            col("first_selfpay_fen", Int),
            col("in_scope_fen", Int),
            col("deductible_fen", Int),
            col("deductible_standard_fen", Int),
            col("fund_fen", Int),
            col("subsidy_fen", Int),
            col("account_current_fen", Int),
            col("account_prior_fen", Int),
            col("cash_fen", Int),
            col("fund_share_bp", Int),
            col("balance_after_fen", Int),
            col("change", Text),
            col("year", Int),
            col("policy", Text),
            col("status", Text),
            opt("status_ref", Text),
            col("msgid", Text),
            col("lines", Text),
            col("insured_admdvs", Text),
            col("treated_admdvs", Text),
            col("cert_type", Text),
            col("cert_no", Text),
            col("invoice_no", Text),
            col("mid_stay", Int),
            col("account_used", Int),
            col("folded", Text),
            col("steps", Text),
        ],
        key: &["setl_id"],
        ordered: false,
        indexes: &[
            &["psn_no", "at"],
            &["mdtrt_id"],
            &["institution", "at"],
            &["treated_admdvs", "insured_admdvs", "at"],
        ],
    };
    const LOAD_BY: &'static str = "setl_id";

    fn key(&self) -> SetlId {
        self.setl_id.clone()
    }

    fn load_key(key: &SetlId) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        let a = &self.amounts;
        let (status, status_ref) = match &self.status {
            SettlementStatus::Normal => ("normal", None),
            SettlementStatus::Cancelled { by } => ("cancelled", Some(by.to_string())),
            SettlementStatus::Mirror { of } => ("mirror", Some(of.to_string())),
        };
        let lines: Vec<Json> = self.lines.iter().map(|(visit, serial)| json!([visit.as_str(), serial])).collect();
        let folded: Vec<Json> = self.folded.iter().map(|id| json!(id.as_str())).collect();
        named(
            Self::TABLE,
            [
                ("setl_id", text(&self.setl_id)),
                ("psn_no", text(&self.psn_no)),
                ("mdtrt_id", text(&self.mdtrt_id)),
                ("institution", text(&self.institution)),
                ("insutype", text(&self.insurance)),
                ("psn_type", text(&self.person_type)),
                ("med_type", text(&self.med_type)),
                ("visit_kind", Value::Text(self.visit_kind.as_str().to_string())),
                ("clr_type", text(&self.clearing_type)),
                ("at", time(&self.at)),
                ("medfee_fen", money(&a.medfee)),
                ("fully_selfpaid_fen", money(&a.fully_selfpaid)),
                ("over_limit_fen", money(&a.over_limit)),
                ("first_selfpay_fen", money(&a.first_selfpay)),
                ("in_scope_fen", money(&a.in_scope)),
                ("deductible_fen", money(&a.deductible)),
                ("deductible_standard_fen", money(&a.deductible_standard)),
                ("fund_fen", money(&a.fund)),
                ("subsidy_fen", money(&a.subsidy)),
                ("account_current_fen", money(&a.account_current_year)),
                ("account_prior_fen", money(&a.account_prior_years)),
                ("cash_fen", money(&a.cash)),
                ("fund_share_bp", Value::Int(i64::from(self.fund_share.basis_points()))),
                ("balance_after_fen", money(&self.balance_after)),
                ("change", json_text(&accumulators_json(&self.change))),
                ("year", Value::Int(i64::from(self.year))),
                ("policy", text(&self.policy)),
                ("status", Value::Text(status.to_string())),
                ("status_ref", status_ref.into()),
                ("msgid", text(&self.msgid)),
                ("lines", json_text(&Json::Array(lines))),
                ("insured_admdvs", text(&self.insured_admdvs)),
                ("treated_admdvs", text(&self.treated_admdvs)),
                ("cert_type", text(&self.certificate.kind)),
                ("cert_no", text(&self.certificate.number)),
                ("invoice_no", text(&self.invoice_no)),
                ("mid_stay", self.mid_stay.into()),
                ("account_used", self.account_used.into()),
                ("folded", json_text(&Json::Array(folded))),
                ("steps", json_text(&steps_json(&self.steps))),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Settlement, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
            subsidy: Money::from_fen(c.int("subsidy_fen")?),
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

impl Record for Message {
    type Key = MsgId;
    const TABLE: &'static TableDef = &TableDef {
        name: "messages",
        columns: &[
            col("msgid", Text),
            col("institution", Text),
            col("infno", Text),
            col("request_hash", Text),
            col("response", Blob),
            col("at", Text),
            col("effect", Text),
            opt("reversed_by", Text),
        ],
        key: &["msgid"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "msgid";

    fn key(&self) -> MsgId {
        self.msgid.clone()
    }

    fn load_key(key: &MsgId) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("msgid", text(&self.msgid)),
                ("institution", text(&self.institution)),
                ("infno", text(&self.infno)),
                ("request_hash", text(&self.request_hash)),
                ("response", Value::Blob(self.response.clone())),
                ("at", time(&self.at)),
                ("effect", json_text(&effect_json(&self.effect))),
                ("reversed_by", self.reversed_by.as_ref().map(|id| id.to_string()).into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Message, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

impl Record for DiseaseRegistration {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "disease_registrations",
        columns: &[
            col("serial", Text),
            col("psn_no", Text),
            col("code", Text),
            col("name", Text),
            col("begin_on", Text),
            col("end_on", Text),
            col("institution", Text),
            col("revoked", Int),
            col("msgid", Text),
        ],
        key: &["serial"],
        ordered: false,
        indexes: &[&["psn_no"], &["end_on"]],
    };
    const LOAD_BY: &'static str = "serial";

    fn key(&self) -> String {
        self.serial.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("serial", text(&self.serial)),
                ("psn_no", text(&self.psn_no)),
                ("code", text(&self.code)),
                ("name", text(&self.name)),
                ("begin_on", date(&self.begin)),
                ("end_on", date(&self.end)),
                ("institution", text(&self.institution)),
                ("revoked", self.revoked.into()),
                ("msgid", text(&self.msgid)),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<DiseaseRegistration, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

impl Record for SignIn {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "sign_ins",
        columns: &[
            col("sign_no", Text),
            col("institution", Text),
            col("operator", Text),
            col("signed_in_at", Text),
            opt("signed_out_at", Text),
        ],
        key: &["sign_no"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "sign_no";

    fn key(&self) -> String {
        self.sign_no.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("sign_no", text(&self.sign_no)),
                ("institution", text(&self.institution)),
                ("operator", text(&self.operator)),
                ("signed_in_at", time(&self.signed_in_at)),
                ("signed_out_at", self.signed_out_at.map(|t| t.to_string()).into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<SignIn, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        Ok(SignIn {
            sign_no: c.text("sign_no")?,
            institution: c.parse("institution")?,
            operator: c.text("operator")?,
            signed_in_at: c.parse("signed_in_at")?,
            signed_out_at: c.opt_parse("signed_out_at")?,
        })
    }
}

pub fn transfer(row: &Transfer) -> Vec<Value> {
    named(
        &TRANSFERS,
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
                &POSTINGS,
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
    let mut c = Columns::new(&TRANSFERS, row);
    let id = TransferId::new(c.text("id")?);
    let code_text = c.text("code")?;
    let code = TransferCode::parse(&code_text).ok_or_else(|| failure("transfers.code", &code_text))?;
    let at = c.parse("at")?;
    let reference = c.text("reference")?;
    let postings = postings
        .iter()
        .map(|row| {
            let mut p = Columns::new(&POSTINGS, row);
            let _transfer = p.text("transfer_id")?;
            let _index = p.int("idx")?;
            let account = p.parse("account")?;
            let side = p.text("side")?;
            let side = Side::parse(&side).ok_or_else(|| failure("postings.side", &side))?;
            Ok(Posting { account, side, amount: Money::from_fen(p.int("amount_fen")?) })
        })
        .collect::<Result<Vec<_>, StoreFailure>>()?;
    Ok(Transfer { id, code, at, reference, postings })
}

impl Record for CatalogueEntry {
    type Key = (String, Date);
    const TABLE: &'static TableDef = &TableDef {
        name: "catalogue",
        columns: &[
            col("code", Text),
            col("begin_on", Text),
            col("end_on", Text),
            col("name", Text),
            col("class", Text),
            col("first_selfpay_bp", Int),
            opt("price_cap_micro", Int),
            col("item_type", Text),
            col("list_type", Text),
        ],
        key: &["code", "begin_on"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "code";

    fn key(&self) -> (String, Date) {
        (self.code.clone(), self.begin)
    }

    fn load_key(key: &(String, Date)) -> String {
        key.0.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("code", text(&self.code)),
                ("begin_on", date(&self.begin)),
                ("end_on", date(&self.end)),
                ("name", text(&self.name)),
                ("class", text(&self.class)),
                ("first_selfpay_bp", Value::Int(i64::from(self.first_selfpay.basis_points()))),
                ("price_cap_micro", self.price_cap.map(|cap| cap.micro_yuan()).into()),
                ("item_type", text(&self.item_type)),
                ("list_type", text(&self.list_type)),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<CatalogueEntry, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

pub fn audit(row: &AuditEntry) -> Vec<Value> {
    named(
        &AUDIT_LOG,
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
    let mut c = Columns::new(&AUDIT_LOG, row);
    Ok(AuditEntry {
        at: c.parse("at")?,
        actor: c.text("actor")?,
        action: c.text("action")?,
        subject: c.text("subject")?,
        reason: c.text("reason")?,
    })
}

impl Record for Credential {
    type Key = (String, CredentialKind);
    const TABLE: &'static TableDef = &TableDef {
        name: "credentials",
        columns: &[
            col("subject", Text),
            col("kind", Text),
            col("hash", Text),
            col("must_change", Int),
            col("failures", Int),
            opt("locked_until", Text),
            col("roles", Text),
            col("updated_at", Text),
        ],
        key: &["subject", "kind"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "subject";

    fn key(&self) -> (String, CredentialKind) {
        (self.subject.clone(), self.kind)
    }

    fn load_key(key: &(String, CredentialKind)) -> String {
        key.0.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("subject", text(&self.subject)),
                ("kind", Value::Text(self.kind.as_str().to_string())),
                ("hash", text(&self.hash)),
                ("must_change", self.must_change.into()),
                ("failures", Value::Int(i64::from(self.failures))),
                ("locked_until", self.locked_until.map(|t| t.to_string()).into()),
                ("roles", json_text(&json!(self.roles))),
                ("updated_at", time(&self.updated_at)),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Credential, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

impl Record for StoredFile {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "files",
        columns: &[
            col("file_qury_no", Text),
            col("institution", Text),
            col("filename", Text),
            col("content", Blob),
            col("at", Text),
        ],
        key: &["file_qury_no"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "file_qury_no";

    fn key(&self) -> String {
        self.file_qury_no.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("file_qury_no", text(&self.file_qury_no)),
                ("institution", text(&self.institution)),
                ("filename", text(&self.filename)),
                ("content", Value::Blob(self.content.clone())),
                ("at", time(&self.at)),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<StoredFile, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        Ok(StoredFile {
            file_qury_no: c.text("file_qury_no")?,
            institution: c.parse("institution")?,
            filename: c.text("filename")?,
            content: c.blob("content")?,
            at: c.parse("at")?,
        })
    }
}

fn opt_date(value: Option<Date>) -> Value {
    value.map(|d| d.to_string()).into()
}

impl Record for CardApplication {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "card_applications",
        columns: &[
            col("id", Text),
            col("psn_no", Text),
            opt("employer", Text),
            col("registered_on", Text),
            col("bank", Text),
            col("card_no", Text),
            opt("photo_paid_on", Text),
            opt("forms_paid_on", Text),
            opt("submitted_on", Text),
            opt("produced_on", Text),
            opt("received_on", Text),
            opt("issued_on", Text),
            opt("replaces", Text),
            col("created_at", Text),
        ],
        key: &["id"],
        ordered: false,
        indexes: &[&["psn_no"], &["employer"]],
    };
    const LOAD_BY: &'static str = "id";

    fn key(&self) -> String {
        self.id.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("id", text(&self.id)),
                ("psn_no", text(&self.psn_no)),
                ("employer", self.employer.clone().into()),
                ("registered_on", date(&self.registered_on)),
                ("bank", text(&self.bank)),
                ("card_no", text(&self.card_no)),
                ("photo_paid_on", opt_date(self.photo_paid_on)),
                ("forms_paid_on", opt_date(self.forms_paid_on)),
                ("submitted_on", opt_date(self.submitted_on)),
                ("produced_on", opt_date(self.produced_on)),
                ("received_on", opt_date(self.received_on)),
                ("issued_on", opt_date(self.issued_on)),
                ("replaces", self.replaces.as_ref().map(|c| c.to_string()).into()),
                ("created_at", time(&self.created_at)),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<CardApplication, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

impl Record for CardTransaction {
    type Key = (CardNo, i64);
    const TABLE: &'static TableDef = &TableDef {
        name: "card_transactions",
        columns: &[
            col("card_no", Text),
            col("seq", Int),
            col("at", Text),
            col("setl_id", Text),
            col("institution", Text),
            col("medfee_fen", Int),
            col("account_fen", Int),
            col("cash_fen", Int),
            col("balance_after_fen", Int),
            col("printed", Int),
        ],
        key: &["card_no", "seq"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "card_no";

    fn key(&self) -> (CardNo, i64) {
        (self.card_no.clone(), self.seq)
    }

    fn load_key(key: &(CardNo, i64)) -> String {
        key.0.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("card_no", text(&self.card_no)),
                ("seq", Value::Int(self.seq)),
                ("at", time(&self.at)),
                ("setl_id", text(&self.setl_id)),
                ("institution", text(&self.institution)),
                ("medfee_fen", money(&self.medfee)),
                ("account_fen", money(&self.account)),
                ("cash_fen", money(&self.cash)),
                ("balance_after_fen", money(&self.balance_after)),
                ("printed", self.printed.into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<CardTransaction, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

impl Record for ClearingNotice {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "clearing_notices",
        columns: &[
            col("id", Text),
            col("psn_no", Text),
            col("old_card", Text),
            col("old_bank", Text),
            col("new_bank", Text),
            col("issued_at", Text),
            opt("confirmed_at", Text),
            opt("moved_fen", Int),
        ],
        key: &["id"],
        ordered: false,
        indexes: &[&["psn_no"]],
    };
    const LOAD_BY: &'static str = "id";

    fn key(&self) -> String {
        self.id.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("id", text(&self.id)),
                ("psn_no", text(&self.psn_no)),
                ("old_card", text(&self.old_card)),
                ("old_bank", text(&self.old_bank)),
                ("new_bank", text(&self.new_bank)),
                ("issued_at", time(&self.issued_at)),
                ("confirmed_at", self.confirmed_at.map(|t| t.to_string()).into()),
                ("moved_fen", self.moved.map(|m| m.fen()).into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<ClearingNotice, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

impl Record for LossReport {
    type Key = CardNo;
    const TABLE: &'static TableDef = &TableDef {
        name: "loss_reports",
        columns: &[
            col("card_no", Text),
            col("psn_no", Text),
            col("notice_no", Text),
            col("reported_at", Text),
            col("channel", Text),
            col("bank", Text),
            col("reason", Text),
            opt("proof", Text),
            opt("replacement_path", Text),
            opt("replacement_on", Text),
        ],
        key: &["card_no"],
        ordered: false,
        indexes: &[&["psn_no"]],
    };
    const LOAD_BY: &'static str = "card_no";

    fn key(&self) -> CardNo {
        self.card_no.clone()
    }

    fn load_key(key: &CardNo) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        let proof = self.proof.as_ref().map(|p| {
            json!({"employer": p.employer, "letter_no": p.letter_no, "issued_on": p.issued_on.to_string(),
                "sealed_on": p.sealed_on.to_string(), "sealed_by": p.sealed_by})
            .to_string()
        });
        named(
            Self::TABLE,
            [
                ("card_no", text(&self.card_no)),
                ("psn_no", text(&self.psn_no)),
                ("notice_no", text(&self.notice_no)),
                ("reported_at", time(&self.reported_at)),
                ("channel", Value::Text(self.channel.as_str().to_string())),
                ("bank", text(&self.bank)),
                ("reason", text(&self.reason)),
                ("proof", proof.into()),
                ("replacement_path", self.replacement.map(|(path, _)| path.as_str().to_string()).into()),
                ("replacement_on", self.replacement.map(|(_, on)| on.to_string()).into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<LossReport, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        let channel = c.text("channel")?;
        let proof = match c.opt_text("proof")? {
            None => None,
            Some(text) => {
                let value = parse_json("loss_reports.proof", &text)?;
                let field = |name: &str| {
                    value
                        .get(name)
                        .and_then(Json::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| failure("loss_reports.proof", &value))
                };
                let day = |name: &str| field(name)?.parse::<Date>().map_err(|e| failure("loss_reports.proof", e));
                Some(ProofLetter {
                    employer: field("employer")?,
                    letter_no: field("letter_no")?,
                    issued_on: day("issued_on")?,
                    sealed_on: day("sealed_on")?,
                    sealed_by: field("sealed_by")?,
                })
            }
        };
        let path = c.opt_text("replacement_path")?;
        let on: Option<Date> = c.opt_parse("replacement_on")?;
        let replacement = match (path, on) {
            (Some(path), Some(on)) => Some((
                ReplacementPath::parse(&path).ok_or_else(|| failure("loss_reports.replacement_path", &path))?,
                on,
            )),
            _ => None,
        };
        Ok(LossReport {
            card_no: c.parse("card_no")?,
            psn_no: c.parse("psn_no")?,
            notice_no: c.text("notice_no")?,
            reported_at: c.parse("reported_at")?,
            channel: LossChannel::parse(&channel).ok_or_else(|| failure("loss_reports.channel", &channel))?,
            bank: c.parse("bank")?,
            reason: c.text("reason")?,
            proof,
            replacement,
        })
    }
}

impl Record for BankPayment {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "bank_payments",
        columns: &[
            col("id", Text),
            col("psn_no", Text),
            col("bank", Text),
            col("amount_fen", Int),
            col("bank_ref", Text),
            col("paid_on", Text),
            col("confirmed_by", Text),
            col("confirmed_at", Text),
        ],
        key: &["id"],
        ordered: false,
        indexes: &[&["psn_no"]],
    };
    const LOAD_BY: &'static str = "id";

    fn key(&self) -> String {
        self.id.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("id", text(&self.id)),
                ("psn_no", text(&self.psn_no)),
                ("bank", text(&self.bank)),
                ("amount_fen", money(&self.amount)),
                ("bank_ref", text(&self.bank_ref)),
                ("paid_on", text(&self.paid_on)),
                ("confirmed_by", text(&self.confirmed_by)),
                ("confirmed_at", time(&self.confirmed_at)),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<BankPayment, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        Ok(BankPayment {
            id: c.text("id")?,
            psn_no: c.parse("psn_no")?,
            bank: c.parse("bank")?,
            amount: Money::from_fen(c.int("amount_fen")?),
            bank_ref: c.text("bank_ref")?,
            paid_on: c.parse("paid_on")?,
            confirmed_by: c.text("confirmed_by")?,
            confirmed_at: c.parse("confirmed_at")?,
        })
    }
}

impl Record for EVoucher {
    type Key = PersonNo;
    const TABLE: &'static TableDef = &TableDef {
        name: "evouchers",
        columns: &[col("psn_no", Text), col("channel", Text), col("activated_at", Text), opt("revoked_before", Text)],
        key: &["psn_no"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "psn_no";

    fn key(&self) -> PersonNo {
        self.psn_no.clone()
    }

    fn load_key(key: &PersonNo) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("psn_no", text(&self.psn_no)),
                ("channel", text(&self.channel)),
                ("activated_at", time(&self.activated_at)),
                ("revoked_before", self.revoked_before.map(|t| t.to_string()).into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<EVoucher, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        Ok(EVoucher {
            psn_no: c.parse("psn_no")?,
            channel: c.text("channel")?,
            activated_at: c.parse("activated_at")?,
            revoked_before: c.opt_parse("revoked_before")?,
        })
    }
}

impl Record for Grant {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "evoucher_grants",
        columns: &[
            col("hash", Text),
            col("kind", Text),
            col("psn_no", Text),
            opt("institution", Text),
            col("issued_at", Text),
            col("expires_at", Text),
            opt("used_at", Text),
            opt("used_by", Text),
            opt("used_ref", Text),
        ],
        key: &["hash"],
        ordered: false,
        indexes: &[&["psn_no"]],
    };
    const LOAD_BY: &'static str = "hash";

    fn key(&self) -> String {
        self.hash.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("hash", text(&self.hash)),
                ("kind", Value::Text(self.kind.as_str().to_string())),
                ("psn_no", text(&self.psn_no)),
                ("institution", self.institution.as_ref().map(|i| i.to_string()).into()),
                ("issued_at", time(&self.issued_at)),
                ("expires_at", time(&self.expires_at)),
                ("used_at", self.used_at.map(|t| t.to_string()).into()),
                ("used_by", self.used_by.as_ref().map(|i| i.to_string()).into()),
                ("used_ref", self.used_ref.clone().into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Grant, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

/// A life event: one row per person and sequence number; the states before and after as JSON.
impl Record for LifeEvent {
    type Key = (PersonNo, i64);
    const TABLE: &'static TableDef = &TableDef {
        name: "life_events",
        columns: &[
            col("psn_no", Text),
            col("seq", Int),
            col("kind", Text),
            col("effective_on", Text),
            col("recorded_at", Text),
            col("actor", Text),
            col("reason", Text),
            col("before_state", Text),
            col("after_state", Text),
            opt("region", Text),
        ],
        key: &["psn_no", "seq"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "psn_no";

    fn key(&self) -> (PersonNo, i64) {
        (self.psn_no.clone(), self.seq)
    }

    fn load_key(key: &(PersonNo, i64)) -> String {
        key.0.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("psn_no", text(&self.psn_no)),
                ("seq", Value::Int(self.seq)),
                ("kind", Value::Text(self.kind.code().to_string())),
                ("effective_on", date(&self.effective)),
                ("recorded_at", time(&self.recorded_at)),
                ("actor", text(&self.actor)),
                ("reason", text(&self.reason)),
                ("before_state", json_text(&person_state_json(&self.before))),
                ("after_state", json_text(&person_state_json(&self.after))),
                ("region", self.region.as_ref().map(|r| r.to_string()).into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<LifeEvent, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        let kind_text = c.text("kind")?;
        Ok(LifeEvent {
            psn_no: c.parse("psn_no")?,
            seq: c.int("seq")?,
            kind: LifeEventKind::parse(&kind_text).ok_or_else(|| failure("life_events.kind", &kind_text))?,
            effective: c.parse("effective_on")?,
            recorded_at: c.parse("recorded_at")?,
            actor: c.text("actor")?,
            reason: c.text("reason")?,
            before: person_state_from_json(&parse_json("life_events", &c.text("before_state")?)?)?,
            after: person_state_from_json(&parse_json("life_events", &c.text("after_state")?)?)?,
            region: c.opt_parse("region")?,
        })
    }
}

fn person_state_json(state: &PersonState) -> Json {
    json!({
        "psn_type": state.person_type.code(),
        "employer": state.employer,
        "base_fen": state.contribution_base.map(Money::fen),
        "status": state.status.code(),
    })
}

fn person_state_from_json(value: &Json) -> Result<PersonState, StoreFailure> {
    let bad = || failure("life_events state", value);
    let text = |name: &str| value.get(name).and_then(Json::as_str).ok_or_else(bad);
    Ok(PersonState {
        person_type: text("psn_type")?.parse().map_err(|_| bad())?,
        employer: value.get("employer").and_then(Json::as_str).map(str::to_string),
        contribution_base: value.get("base_fen").and_then(Json::as_i64).map(Money::from_fen),
        status: PersonStatus::parse(text("status")?).ok_or_else(bad)?,
    })
}

/// A payout out of a personal account, with its four-eyes state.
impl Record for Payout {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "payouts",
        columns: &[
            col("id", Text),
            col("psn_no", Text),
            col("kind", Text),
            col("amount_fen", Int),
            col("payee_name", Text),
            col("payee_bank", Text),
            col("payee_account", Text),
            opt("payee_reference", Text),
            col("reason", Text),
            col("proposed_by", Text),
            col("proposed_at", Text),
            col("state", Text),
            opt("reviewed_by", Text),
            opt("reviewed_at", Text),
            opt("review_reason", Text),
        ],
        key: &["id"],
        ordered: false,
        indexes: &[&["psn_no"], &["state"]],
    };
    const LOAD_BY: &'static str = "id";

    fn key(&self) -> String {
        self.id.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        let (by, at, why) = match &self.state {
            PayoutState::Proposed => (None, None, None),
            PayoutState::Approved { by, at } => (Some(by.clone()), Some(at.to_string()), None),
            PayoutState::Rejected { by, at, reason } => (Some(by.clone()), Some(at.to_string()), Some(reason.clone())),
        };
        named(
            Self::TABLE,
            [
                ("id", text(&self.id)),
                ("psn_no", text(&self.psn_no)),
                ("kind", Value::Text(self.kind.code().to_string())),
                ("amount_fen", money(&self.amount)),
                ("payee_name", text(&self.payee.name)),
                ("payee_bank", text(&self.payee.bank)),
                ("payee_account", text(&self.payee.account)),
                ("payee_reference", self.payee.reference.clone().into()),
                ("reason", text(&self.reason)),
                ("proposed_by", text(&self.proposed_by)),
                ("proposed_at", time(&self.proposed_at)),
                ("state", Value::Text(self.state.code().to_string())),
                ("reviewed_by", by.into()),
                ("reviewed_at", at.into()),
                ("review_reason", why.into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Payout, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        let kind_text = c.text("kind")?;
        let kind = PayoutKind::parse(&kind_text).ok_or_else(|| failure("payouts.kind", &kind_text))?;
        let state_text = c.text("state")?;
        let by = c.opt_text("reviewed_by")?;
        let at: Option<DateTime> = c.opt_parse("reviewed_at")?;
        let why = c.opt_text("review_reason")?;
        let state = match (state_text.as_str(), by, at) {
            ("proposed", _, _) => PayoutState::Proposed,
            ("approved", Some(by), Some(at)) => PayoutState::Approved { by, at },
            ("rejected", Some(by), Some(at)) => PayoutState::Rejected { by, at, reason: why.unwrap_or_default() },
            _ => return Err(failure("payouts.state", &state_text)),
        };
        Ok(Payout {
            id: c.text("id")?,
            psn_no: c.parse("psn_no")?,
            kind,
            amount: Money::from_fen(c.int("amount_fen")?),
            payee: Payee {
                name: c.text("payee_name")?,
                bank: c.text("payee_bank")?,
                account: c.text("payee_account")?,
                reference: c.opt_text("payee_reference")?,
            },
            reason: c.text("reason")?,
            proposed_by: c.text("proposed_by")?,
            proposed_at: c.parse("proposed_at")?,
            state,
        })
    }
}

/// A manual reimbursement: the bill's lines, provider, payee, amounts and steps as JSON.
impl Record for Reimbursement {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "reimbursements",
        columns: &[
            col("id", Text),
            col("psn_no", Text),
            col("provider", Text),
            col("med_type", Text),
            col("begin_on", Text),
            col("end_on", Text),
            col("cause", Text),
            col("medfee_fen", Int),
            col("lines", Text),
            col("use_account", Int),
            col("amounts", Text),
            col("steps", Text),
            col("change", Text),
            col("year", Int),
            col("payee", Text),
            col("note", Text),
            col("submitted_by", Text),
            col("submitted_at", Text),
            col("state", Text),
            opt("state_by", Text),
            opt("state_at", Text),
            opt("state_reason", Text),
        ],
        key: &["id"],
        ordered: false,
        indexes: &[&["psn_no"], &["state"]],
    };
    const LOAD_BY: &'static str = "id";

    fn key(&self) -> String {
        self.id.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        let (by, at, why) = match &self.state {
            ReimbursementState::Submitted => (None, None, None),
            ReimbursementState::Approved { by, at } => (Some(by.clone()), Some(at.to_string()), None),
            ReimbursementState::DocumentsRequested { by, at, reason }
            | ReimbursementState::Rejected { by, at, reason } => {
                (Some(by.clone()), Some(at.to_string()), Some(reason.clone()))
            }
        };
        let provider = json!({
            "code": self.provider.code.as_ref().map(ToString::to_string),
            "name": self.provider.name,
            "level": self.provider.level.map(|level| level.code()),
            "admdvs": self.provider.admdvs.as_str(),
        });
        let lines: Vec<Json> = self
            .lines
            .iter()
            .map(|line| {
                json!({"code": line.code, "name": line.name, "price": line.price.to_string(),
                    "quantity": line.quantity.to_string(), "amount_fen": line.amount.fen()})
            })
            .collect();
        let a = &self.amounts;
        let amounts = json!({
            "medfee": a.medfee.fen(), "deductible_standard": a.deductible_standard.fen(),
            "fully_selfpaid": a.fully_selfpaid.fen(), "over_limit": a.over_limit.fen(),
            "first_selfpay": a.first_selfpay.fen(), "in_scope": a.in_scope.fen(), "deductible": a.deductible.fen(),
            "fund": a.fund.fen(), "subsidy": a.subsidy.fen(), "account_current_year": a.account_current_year.fen(),
            "account_prior_years": a.account_prior_years.fen(), "cash": a.cash.fen(),
        });
        let payee = json!({"name": self.payee.name, "bank": self.payee.bank, "account": self.payee.account,
            "reference": self.payee.reference});
        named(
            Self::TABLE,
            [
                ("id", text(&self.id)),
                ("psn_no", text(&self.psn_no)),
                ("provider", json_text(&provider)),
                ("med_type", text(&self.med_type)),
                ("begin_on", date(&self.begin)),
                ("end_on", date(&self.end)),
                ("cause", Value::Text(self.cause.code().to_string())),
                ("medfee_fen", money(&self.amounts.medfee)),
                ("lines", json_text(&Json::Array(lines))),
                ("use_account", self.use_account.into()),
                ("amounts", json_text(&amounts)),
                ("steps", json_text(&steps_json(&self.steps))),
                ("change", json_text(&accumulators_json(&self.change))),
                ("year", Value::Int(i64::from(self.year))),
                ("payee", json_text(&payee)),
                ("note", text(&self.note)),
                ("submitted_by", text(&self.submitted_by)),
                ("submitted_at", time(&self.submitted_at)),
                ("state", Value::Text(self.state.code().to_string())),
                ("state_by", by.into()),
                ("state_at", at.into()),
                ("state_reason", why.into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Reimbursement, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        let bad = |what: &str, value: &dyn std::fmt::Display| failure(&format!("reimbursements.{what}"), value);
        let provider = parse_json("reimbursements", &c.text("provider")?)?;
        let get = |value: &Json, name: &str| value.get(name).and_then(Json::as_str).map(str::to_string);
        let provider = CareProvider {
            code: get(&provider, "code")
                .map(|code| code.parse())
                .transpose()
                .map_err(|_| bad("provider", &provider))?,
            name: get(&provider, "name").ok_or_else(|| bad("provider", &provider))?,
            level: get(&provider, "level")
                .map(|level| level.parse())
                .transpose()
                .map_err(|_| bad("provider", &provider))?,
            admdvs: get(&provider, "admdvs")
                .and_then(|admdvs| admdvs.parse().ok())
                .ok_or_else(|| bad("provider", &provider))?,
        };
        let lines_json = parse_json("reimbursements", &c.text("lines")?)?;
        let lines = lines_json
            .as_array()
            .ok_or_else(|| bad("lines", &lines_json))?
            .iter()
            .map(|line| {
                Some(ReceiptLine {
                    code: get(line, "code")?,
                    name: get(line, "name")?,
                    price: get(line, "price")?.parse().ok()?,
                    quantity: get(line, "quantity")?.parse().ok()?,
                    amount: Money::from_fen(line.get("amount_fen")?.as_i64()?),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("lines", &lines_json))?;
        let amounts = parse_json("reimbursements", &c.text("amounts")?)?;
        let fen = |name: &str| -> Result<Money, StoreFailure> {
            amounts.get(name).and_then(Json::as_i64).map(Money::from_fen).ok_or_else(|| bad("amounts", &amounts))
        };
        let amounts = Amounts {
            medfee: fen("medfee")?,
            deductible_standard: fen("deductible_standard")?,
            fully_selfpaid: fen("fully_selfpaid")?,
            over_limit: fen("over_limit")?,
            first_selfpay: fen("first_selfpay")?,
            in_scope: fen("in_scope")?,
            deductible: fen("deductible")?,
            fund: fen("fund")?,
            // Absent from reimbursements stored before the civil-servant subsidy.
            subsidy: amounts.get("subsidy").map_or(Ok(Money::ZERO), |_| fen("subsidy"))?,
            account_current_year: fen("account_current_year")?,
            account_prior_years: fen("account_prior_years")?,
            cash: fen("cash")?,
        };
        let payee = parse_json("reimbursements", &c.text("payee")?)?;
        let payee = Payee {
            name: get(&payee, "name").ok_or_else(|| bad("payee", &payee))?,
            bank: get(&payee, "bank").ok_or_else(|| bad("payee", &payee))?,
            account: get(&payee, "account").ok_or_else(|| bad("payee", &payee))?,
            reference: get(&payee, "reference"),
        };
        let cause_text = c.text("cause")?;
        let state_text = c.text("state")?;
        let by = c.opt_text("state_by")?;
        let at: Option<DateTime> = c.opt_parse("state_at")?;
        let why = c.opt_text("state_reason")?.unwrap_or_default();
        let state = match (state_text.as_str(), by, at) {
            ("submitted", _, _) => ReimbursementState::Submitted,
            ("approved", Some(by), Some(at)) => ReimbursementState::Approved { by, at },
            ("rejected", Some(by), Some(at)) => ReimbursementState::Rejected { by, at, reason: why },
            ("documents-requested", Some(by), Some(at)) => {
                ReimbursementState::DocumentsRequested { by, at, reason: why }
            }
            _ => return Err(bad("state", &state_text)),
        };
        Ok(Reimbursement {
            id: c.text("id")?,
            psn_no: c.parse("psn_no")?,
            provider,
            med_type: c.parse("med_type")?,
            begin: c.parse("begin_on")?,
            end: c.parse("end_on")?,
            cause: ReimbursementCause::parse(&cause_text).ok_or_else(|| bad("cause", &cause_text))?,
            lines,
            use_account: c.boolean("use_account")?,
            amounts,
            steps: steps_from_json(&parse_json("reimbursements", &c.text("steps")?)?)?,
            change: accumulators_from_json(&parse_json("reimbursements", &c.text("change")?)?)?,
            year: u16::try_from(c.int("year")?).map_err(|_| failure("reimbursements.year", "out of range"))?,
            payee,
            note: c.text("note")?,
            submitted_by: c.text("submitted_by")?,
            submitted_at: c.parse("submitted_at")?,
            state,
        })
    }
}

/// A notification to a person.
impl Record for Notification {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "notifications",
        columns: &[
            col("id", Text),
            col("psn_no", Text),
            col("kind", Text),
            col("at", Text),
            col("text_zh", Text),
            col("text_en", Text),
            opt("read_at", Text),
        ],
        key: &["id"],
        // In commit order (the one writer): webhooks deliver by it.
        ordered: true,
        indexes: &[&["psn_no", "at"]],
    };
    const LOAD_BY: &'static str = "id";

    fn key(&self) -> String {
        self.id.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("id", text(&self.id)),
                ("psn_no", text(&self.psn_no)),
                ("kind", Value::Text(self.kind.code().to_string())),
                ("at", time(&self.at)),
                ("text_zh", text(&self.text_zh)),
                ("text_en", text(&self.text_en)),
                ("read_at", self.read_at.map(|t| t.to_string()).into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Notification, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        let kind_text = c.text("kind")?;
        Ok(Notification {
            id: c.text("id")?,
            psn_no: c.parse("psn_no")?,
            kind: NotificationKind::parse(&kind_text).ok_or_else(|| failure("notifications.kind", &kind_text))?,
            at: c.parse("at")?,
            text_zh: c.text("text_zh")?,
            text_en: c.text("text_en")?,
            read_at: c.opt_parse("read_at")?,
        })
    }
}

/// A dispute of a statement entry.
impl Record for Dispute {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "disputes",
        columns: &[
            col("id", Text),
            col("psn_no", Text),
            col("transfer_id", Text),
            col("amount_fen", Int),
            col("reason", Text),
            col("raised_by", Text),
            col("raised_at", Text),
            col("state", Text),
            opt("resolved_by", Text),
            opt("resolved_at", Text),
            opt("resolution", Text),
            opt("reversal", Text),
        ],
        key: &["id"],
        ordered: false,
        indexes: &[&["psn_no"], &["state"]],
    };
    const LOAD_BY: &'static str = "id";

    fn key(&self) -> String {
        self.id.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        let (by, at, why, reversal) = match &self.state {
            DisputeState::Open => (None, None, None, None),
            DisputeState::Reversed { by, at, reason, reversal } => {
                (Some(by.clone()), Some(at.to_string()), Some(reason.clone()), Some(reversal.clone()))
            }
            DisputeState::Rejected { by, at, reason } => {
                (Some(by.clone()), Some(at.to_string()), Some(reason.clone()), None)
            }
        };
        named(
            Self::TABLE,
            [
                ("id", text(&self.id)),
                ("psn_no", text(&self.psn_no)),
                ("transfer_id", text(&self.transfer)),
                ("amount_fen", money(&self.amount)),
                ("reason", text(&self.reason)),
                ("raised_by", text(&self.raised_by)),
                ("raised_at", time(&self.raised_at)),
                ("state", Value::Text(self.state.code().to_string())),
                ("resolved_by", by.into()),
                ("resolved_at", at.into()),
                ("resolution", why.into()),
                ("reversal", reversal.into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<Dispute, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        let state_text = c.text("state")?;
        let by = c.opt_text("resolved_by")?;
        let at: Option<DateTime> = c.opt_parse("resolved_at")?;
        let reason = c.opt_text("resolution")?.unwrap_or_default();
        let reversal = c.opt_text("reversal")?;
        let state = match (state_text.as_str(), by, at, reversal) {
            ("open", ..) => DisputeState::Open,
            ("reversed", Some(by), Some(at), Some(reversal)) => DisputeState::Reversed { by, at, reason, reversal },
            ("rejected", Some(by), Some(at), _) => DisputeState::Rejected { by, at, reason },
            _ => return Err(failure("disputes.state", &state_text)),
        };
        Ok(Dispute {
            id: c.text("id")?,
            psn_no: c.parse("psn_no")?,
            transfer: c.text("transfer_id")?,
            amount: Money::from_fen(c.int("amount_fen")?),
            reason: c.text("reason")?,
            raised_by: c.text("raised_by")?,
            raised_at: c.parse("raised_at")?,
            state,
        })
    }
}

/// A registration for treatment in another region.
impl Record for ElsewhereRegistration {
    type Key = String;
    const TABLE: &'static TableDef = &TableDef {
        name: "elsewhere_registrations",
        columns: &[
            col("serial", Text),
            col("psn_no", Text),
            col("region", Text),
            col("kind", Text),
            col("begin_on", Text),
            col("end_on", Text),
            col("registered_by", Text),
            col("registered_at", Text),
            col("revoked", Int),
        ],
        key: &["serial"],
        ordered: false,
        indexes: &[&["psn_no"], &["end_on"]],
    };
    const LOAD_BY: &'static str = "serial";

    fn key(&self) -> String {
        self.serial.clone()
    }

    fn load_key(key: &String) -> String {
        key.clone()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("serial", text(&self.serial)),
                ("psn_no", text(&self.psn_no)),
                ("region", text(&self.region)),
                ("kind", Value::Text(self.kind.code().to_string())),
                ("begin_on", date(&self.begin)),
                ("end_on", date(&self.end)),
                ("registered_by", text(&self.registered_by)),
                ("registered_at", time(&self.registered_at)),
                ("revoked", self.revoked.into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<ElsewhereRegistration, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        let kind_text = c.text("kind")?;
        Ok(ElsewhereRegistration {
            serial: c.text("serial")?,
            psn_no: c.parse("psn_no")?,
            region: c.parse("region")?,
            kind: ElsewhereKind::parse(&kind_text)
                .ok_or_else(|| failure("elsewhere_registrations.kind", &kind_text))?,
            begin: c.parse("begin_on")?,
            end: c.parse("end_on")?,
            registered_by: c.text("registered_by")?,
            registered_at: c.parse("registered_at")?,
            revoked: c.boolean("revoked")?,
        })
    }
}

/// A month's credit withheld for an unpaid contribution: one row per person and month.
impl Record for WithheldCredit {
    type Key = (PersonNo, Month);
    const TABLE: &'static TableDef = &TableDef {
        name: "withheld_credits",
        columns: &[col("psn_no", Text), col("month", Text), col("withheld_at", Text), opt("credited_at", Text)],
        key: &["psn_no", "month"],
        ordered: false,
        indexes: &[&["month"]],
    };
    const LOAD_BY: &'static str = "psn_no";

    fn key(&self) -> (PersonNo, Month) {
        (self.psn_no.clone(), self.month)
    }

    fn load_key(key: &(PersonNo, Month)) -> String {
        key.0.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        named(
            Self::TABLE,
            [
                ("psn_no", text(&self.psn_no)),
                ("month", text(&self.month)),
                ("withheld_at", time(&self.withheld_at)),
                ("credited_at", self.credited_at.map(|t| t.to_string()).into()),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<WithheldCredit, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
        Ok(WithheldCredit {
            psn_no: c.parse("psn_no")?,
            month: c.parse("month")?,
            withheld_at: c.parse("withheld_at")?,
            credited_at: c.opt_parse("credited_at")?,
        })
    }
}

/// A visit's diagnoses as uploaded (2203, 2401–2403): one row per visit, the list as JSON.
impl Record for VisitDiagnoses {
    type Key = MdtrtId;
    const TABLE: &'static TableDef = &TableDef {
        name: "visit_diagnoses",
        columns: &[col("mdtrt_id", Text), col("psn_no", Text), col("entries", Text)],
        key: &["mdtrt_id"],
        ordered: false,
        indexes: &[],
    };
    const LOAD_BY: &'static str = "mdtrt_id";

    fn key(&self) -> MdtrtId {
        self.mdtrt_id.clone()
    }

    fn load_key(key: &MdtrtId) -> String {
        key.to_string()
    }

    fn encode(&self) -> Vec<Value> {
        let entries: Vec<Json> = self
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
            Self::TABLE,
            [
                ("mdtrt_id", text(&self.mdtrt_id)),
                ("psn_no", text(&self.psn_no)),
                ("entries", json_text(&Json::Array(entries))),
            ],
        )
    }

    fn decode(row: &[Value]) -> Result<VisitDiagnoses, StoreFailure> {
        let mut c = Columns::new(Self::TABLE, row);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryDb;
    use crate::working_set::{Loader, RECORD_TABLES, load};

    /// The example of ARCHITECTURE.md ("Where new things go: a table"), as written there.
    #[derive(Debug, Clone, PartialEq)]
    struct Note {
        id: String,
        psn_no: PersonNo,
        text: String,
    }

    impl Record for Note {
        type Key = String;
        const TABLE: &'static TableDef = &TableDef {
            name: "notes",
            columns: &[col("id", Text), col("psn_no", Text), col("text", Text)],
            key: &["id"],
            ordered: false,
            indexes: &[&["psn_no"]],
        };
        const LOAD_BY: &'static str = "id";
        fn key(&self) -> String {
            self.id.clone()
        }
        fn load_key(key: &String) -> String {
            key.clone()
        }
        fn encode(&self) -> Vec<Value> {
            named(Self::TABLE, [("id", text(&self.id)), ("psn_no", text(&self.psn_no)), ("text", text(&self.text))])
        }
        fn decode(row: &[Value]) -> Result<Note, StoreFailure> {
            let mut c = Columns::new(Self::TABLE, row);
            Ok(Note { id: c.text("id")?, psn_no: c.parse("psn_no")?, text: c.text("text")? })
        }
    }

    #[test]
    fn a_table_is_one_declaration_loaded_by_key_and_by_any_column() {
        let note = Note { id: "n1".into(), psn_no: "3301000000000001".parse().unwrap(), text: "<b>".into() };
        let mut db = MemoryDb::default();
        db.put(note.clone());
        db.put(Note { id: "n2".into(), ..note.clone() });
        assert_eq!(load::<Note>(&mut db, &["n1".to_string(), "n9".to_string()]).unwrap(), vec![note.clone()]);
        let rows = db.rows(Note::TABLE, "psn_no", vec!["3301000000000001".into()]).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(db.rows(Note::TABLE, "nope", vec!["x".into()]).is_err(), "an unknown column is an error");
    }

    #[test]
    fn every_table_names_its_key_and_index_columns_among_its_columns_once() {
        for table in RECORD_TABLES.iter().copied().chain(OTHER_TABLES) {
            let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
            assert_eq!(unique.len(), names.len(), "{}: a column named twice", table.name);
            for column in table.key.iter().chain(table.indexes.iter().flat_map(|index| index.iter())) {
                assert!(names.contains(column), "{}: no column {column}", table.name);
            }
        }
        let mut tables: Vec<&str> = RECORD_TABLES.iter().chain(&OTHER_TABLES).map(|t| t.name).collect();
        tables.sort_unstable();
        let count = tables.len();
        tables.dedup();
        assert_eq!(tables.len(), count, "a table declared twice");
    }
}

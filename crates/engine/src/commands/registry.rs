//! Registry changes: regions, institutions, employers, insured persons and their accounts,
//! cards, catalogue entries, opening balances.

use yibao_domain::{
    Admdvs, BankCode, CardNo, CardSn, Date, IdNumber, InstitutionKind, InsuranceType, Money, PersonNo, PersonType,
    PersonTypeGroup,
};
use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode, TransferId};

use super::{Command, Context, Outcome};
use crate::error::{EngineError, Refusal};
use crate::records::{
    AuditEntry, Card, CardStatus, CatalogueEntry, Employer, Institution, Person, PersonStatus, Region,
};
use crate::working_set::{Keys, WorkingSet};

/// Insurance types a region opens pooled funds for.
const POOLED_INSURANCE_TYPES: [InsuranceType; 2] = [InsuranceType::EmployeeBasic, InsuranceType::ResidentBasic];

/// Adds a pooling region and opens its pooled fund and contribution income accounts.
#[derive(Debug, Clone)]
pub struct CreateRegion {
    pub region: Region,
    pub actor: String,
}

impl Command for CreateRegion {
    fn name(&self) -> &'static str {
        "create-region"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let admdvs = &self.region.admdvs;
        if ws.region(admdvs)?.is_some() {
            return Err(EngineError::conflict(
                format!("统筹区{admdvs}已存在"),
                format!("region {admdvs} already exists"),
            ));
        }
        ws.put_region(self.region.clone());
        for insurance in POOLED_INSURANCE_TYPES {
            ws.open_account(AccountKey::PoolFund(admdvs.clone(), insurance))?;
            ws.open_account(AccountKey::ContributionIncome(admdvs.clone(), insurance))?;
        }
        // The civil-servant subsidy is funded from the budget, not by contributions.
        ws.open_account(AccountKey::PoolFund(admdvs.clone(), InsuranceType::CivilServantSubsidy))?;
        ws.audit(audit(ctx, &self.actor, "create-region", admdvs.as_str(), ""));
        Ok(Outcome::Done)
    }
}

/// Adds a designated institution and opens its payable account.
#[derive(Debug, Clone)]
pub struct CreateInstitution {
    pub institution: Institution,
    pub actor: String,
}

impl Command for CreateInstitution {
    fn name(&self) -> &'static str {
        "create-institution"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.institutions.insert(self.institution.code.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let institution = &self.institution;
        let code = &institution.code;
        if ws.institution(code)?.is_some() {
            return Err(EngineError::conflict(
                format!("定点医药机构{code}已存在"),
                format!("institution {code} already exists"),
            ));
        }
        require_region(ws, &institution.admdvs)?;
        match (institution.kind, institution.level) {
            (InstitutionKind::Hospital, None) => {
                return Err(EngineError::invalid("定点医疗机构须有医院等级", "a hospital needs a level"));
            }
            (InstitutionKind::Pharmacy, Some(_)) => {
                return Err(EngineError::invalid("定点零售药店没有医院等级", "a pharmacy has no level"));
            }
            _ => {}
        }
        if institution.designated_to < institution.designated_from {
            return Err(EngineError::invalid(
                format!("定点协议结束日期{}早于开始日期{}", institution.designated_to, institution.designated_from),
                format!(
                    "designated_to {} is before designated_from {}",
                    institution.designated_to, institution.designated_from
                ),
            ));
        }
        if institution.gateway_secret.len() < 8 {
            return Err(EngineError::invalid("接口密钥至少8个字符", "the gateway secret needs at least 8 characters"));
        }
        ws.put_institution(institution.clone());
        ws.open_account(AccountKey::InstitutionPayable(code.clone()))?;
        ws.audit(audit(ctx, &self.actor, "create-institution", code.as_str(), ""));
        Ok(Outcome::Done)
    }
}

fn require_region(ws: &mut WorkingSet<'_>, admdvs: &Admdvs) -> Result<Region, EngineError> {
    ws.region(admdvs)?
        .ok_or_else(|| EngineError::not_found(format!("统筹区{admdvs}不存在"), format!("no region {admdvs}")))
}

/// Adds an employer (参保单位).
#[derive(Debug, Clone)]
pub struct CreateEmployer {
    pub employer: Employer,
    pub actor: String,
}

impl Command for CreateEmployer {
    fn name(&self) -> &'static str {
        "create-employer"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let code = &self.employer.code;
        if code.is_empty() || code.len() > 30 {
            return Err(EngineError::invalid("单位编号须为1至30个字符", "an employer code has 1 to 30 characters"));
        }
        if ws.employer(code)?.is_some() {
            return Err(EngineError::conflict(
                format!("参保单位{code}已存在"),
                format!("employer {code} already exists"),
            ));
        }
        require_region(ws, &self.employer.admdvs)?;
        ws.put_employer(self.employer.clone());
        ws.audit(audit(ctx, &self.actor, "create-employer", code, ""));
        Ok(Outcome::Done)
    }
}

/// Enrols an insured person: a person number, and for employees a personal account in two
/// parts (current year, prior years) held at their custody bank.
#[derive(Debug, Clone)]
pub struct CreatePerson {
    pub id_number: IdNumber,
    pub name: String,
    pub admdvs: Admdvs,
    pub insurance: InsuranceType,
    pub person_type: PersonType,
    pub employer: Option<String>,
    pub insured_since: Date,
    pub ethnicity: String,
    pub custody_bank: BankCode,
    pub contribution_base: Option<Money>,
    pub number: PersonNumber,
    pub actor: String,
}

/// What an enrolment gives; what it leaves out takes the agency's defaults (see
/// [`CreatePerson::new`]).
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub id_number: IdNumber,
    pub name: String,
    pub admdvs: Admdvs,
    pub insurance: InsuranceType,
    pub person_type: PersonType,
    pub employer: Option<String>,
    /// Insured from this day; the day of enrolment when left out.
    pub insured_since: Option<Date>,
    /// 民族 (GB 3304); `01` (汉族) when left out.
    pub ethnicity: Option<String>,
    pub custody_bank: BankCode,
    pub contribution_base: Option<Money>,
}

impl CreatePerson {
    /// The enrolment under a person number, on the day `today`: the one place an enrolment
    /// becomes its command (the agency's desk, the demo, generated persons).
    pub fn new(enrolment: Enrolment, number: PersonNumber, today: Date, actor: String) -> CreatePerson {
        let Enrolment {
            id_number,
            name,
            admdvs,
            insurance,
            person_type,
            employer,
            insured_since,
            ethnicity,
            custody_bank,
            contribution_base,
        } = enrolment;
        CreatePerson {
            id_number,
            name,
            admdvs,
            insurance,
            person_type,
            employer,
            insured_since: insured_since.unwrap_or(today),
            ethnicity: ethnicity.unwrap_or_else(|| "01".to_string()),
            custody_bank,
            contribution_base,
            number,
            actor,
        }
    }
}

/// How a new person's number (`psn_no`: the region, then ten digits) is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonNumber {
    /// The region's next sequence number: reproducible, for the demo and generated persons.
    Next,
    /// Digits drawn at random by the caller (enrolment), so that knowing one person's number
    /// says nothing about another's. Drawn numbers are at least [`DRAWN_MIN`], above any
    /// sequence number, and a number already taken is refused (draw again).
    Drawn(u64),
}

/// The least drawn person number (the ten digits after the region).
pub const DRAWN_MIN: u64 = 1_000_000_000;
/// The greatest person number.
pub const PERSON_NUMBER_MAX: u64 = 9_999_999_999;

impl Command for CreatePerson {
    fn name(&self) -> &'static str {
        "create-person"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.id_numbers.insert(self.id_number.expose().to_string());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        if let Some(existing) = ws.person_number(self.id_number.expose())? {
            return Err(EngineError::conflict(
                format!("身份证号{}已参保（人员编号{existing}）", self.id_number),
                format!("ID number {} is already insured as {existing}", self.id_number),
            ));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 50 {
            return Err(EngineError::invalid("姓名须为1至50个字符", "a name has 1 to 50 characters"));
        }
        if self.id_number.birth_date() > ctx.now.date() {
            return Err(EngineError::invalid(
                format!("身份证号{}的出生日期晚于今天", self.id_number),
                format!("ID number {} has a birth date in the future", self.id_number),
            ));
        }
        require_region(ws, &self.admdvs)?;
        let resident_scheme = self.insurance.is_resident();
        let resident_type = self.person_type.group() == PersonTypeGroup::Resident;
        if resident_scheme != resident_type {
            return Err(EngineError::invalid(
                format!("人员类别{}（{}）与险种{}不匹配", self.person_type, self.person_type.name_zh(), self.insurance),
                format!("person type {} does not belong to insurance type {}", self.person_type, self.insurance),
            ));
        }
        if let Some(employer) = &self.employer
            && ws.employer(employer)?.is_none()
        {
            return Err(EngineError::not_found(format!("参保单位{employer}不存在"), format!("no employer {employer}")));
        }
        let digits = match self.number {
            PersonNumber::Next => u64::try_from(ws.next_sequence("psn_no")?).unwrap_or(0),
            PersonNumber::Drawn(drawn) => drawn.clamp(DRAWN_MIN, PERSON_NUMBER_MAX),
        };
        let psn_no: PersonNo = format!("{}{digits:010}", self.admdvs).parse().expect("digits");
        if ws.person(&psn_no)?.is_some() {
            return Err(Refusal::PersonNumberTaken { psn_no }.into());
        }
        ws.new_person_number(&psn_no);
        let person = Person {
            psn_no: psn_no.clone(),
            id_number: self.id_number.clone(),
            name: self.name.trim().to_string(),
            admdvs: self.admdvs.clone(),
            insurance: self.insurance,
            person_type: self.person_type,
            employer: self.employer.clone(),
            status: PersonStatus::Active,
            insured_since: self.insured_since,
            ethnicity: self.ethnicity.clone(),
            custody_bank: self.custody_bank.clone(),
            contribution_base: self.contribution_base,
            account_frozen: false,
        };
        if person.has_personal_account() {
            ws.open_account(AccountKey::PersonalCurrent(psn_no.clone()))?;
            ws.open_account(AccountKey::PersonalPrior(psn_no.clone()))?;
            ws.open_account(AccountKey::BankCustody(self.custody_bank.clone()))?;
        }
        ws.open_account(AccountKey::PoolFund(self.admdvs.clone(), self.insurance))?;
        ws.put_person(person.clone());
        ws.audit(audit(ctx, &self.actor, "create-person", psn_no.as_str(), ""));
        Ok(Outcome::Person(Box::new(person)))
    }
}

/// Issues an active card to a person (the card application workflow comes before this).
#[derive(Debug, Clone)]
pub struct IssueCard {
    pub card_no: CardNo,
    pub card_sn: CardSn,
    pub psn_no: PersonNo,
    pub bank: BankCode,
    pub actor: String,
}

impl Command for IssueCard {
    fn name(&self) -> &'static str {
        "issue-card"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        if ws.card(&self.card_no)?.is_some() {
            return Err(EngineError::conflict(
                format!("卡号{}已存在", self.card_no),
                format!("card {} already exists", self.card_no),
            ));
        }
        if ws.person(&self.psn_no)?.is_none() {
            return Err(EngineError::not_found(
                format!("人员编号{}不存在", self.psn_no),
                format!("no person {}", self.psn_no),
            ));
        }
        if let Some(live) = ws.person_cards(&self.psn_no)?.into_iter().find(|card| card.status.is_live()) {
            return Err(EngineError::conflict(
                format!("参保人已有社保卡{}，不能再发一张", live.card_no),
                format!("the person already has card {}", live.card_no),
            ));
        }
        ws.put_card(Card {
            card_no: self.card_no.clone(),
            card_sn: self.card_sn.clone(),
            psn_no: self.psn_no.clone(),
            status: CardStatus::Active,
            bank: self.bank.clone(),
            issued_on: Some(ctx.now.date()),
            unprinted: 0,
            replaces: None,
        });
        ws.audit(audit(ctx, &self.actor, "issue-card", self.card_no.as_str(), ""));
        Ok(Outcome::Done)
    }
}

/// Adds or replaces a catalogue entry.
#[derive(Debug, Clone)]
pub struct PutCatalogueEntry {
    pub entry: CatalogueEntry,
    pub actor: String,
}

impl Command for PutCatalogueEntry {
    fn name(&self) -> &'static str {
        "put-catalogue-entry"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let entry = &self.entry;
        if entry.code.is_empty() || entry.code.len() > 50 || entry.name.is_empty() {
            return Err(EngineError::invalid(
                "目录编码须为1至50个字符且名称不能为空",
                "a catalogue entry needs a code (1 to 50 characters) and a name",
            ));
        }
        if entry.end < entry.begin {
            return Err(EngineError::invalid(
                format!("目录有效期结束日期{}早于开始日期{}", entry.end, entry.begin),
                format!("end {} is before begin {}", entry.end, entry.begin),
            ));
        }
        ws.put_catalogue_entry(entry.clone());
        ws.audit(audit(ctx, &self.actor, "put-catalogue-entry", &entry.code, ""));
        Ok(Outcome::Done)
    }
}

/// Brings in an account's opening balance (go-live, demo data): custody bank → account.
/// Its transfer id makes it happen once per account.
#[derive(Debug, Clone)]
pub struct OpeningBalance {
    pub account: AccountKey,
    pub bank: BankCode,
    pub amount: Money,
    pub actor: String,
}

impl Command for OpeningBalance {
    fn name(&self) -> &'static str {
        "opening-balance"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.accounts.insert(self.account.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        if !self.amount.is_positive() {
            return Err(EngineError::invalid("期初余额须大于0", "an opening balance must be positive"));
        }
        if ws.account(&self.account)?.is_none() {
            return Err(EngineError::not_found(
                format!("账户{}不存在", self.account),
                format!("no account {}", self.account),
            ));
        }
        let custody = AccountKey::BankCustody(self.bank.clone());
        ws.open_account(custody.clone())?;
        ws.post(Transfer {
            id: TransferId::new(format!("opening/{}", self.account)),
            code: TransferCode::Opening,
            at: ctx.now,
            reference: "opening balance".to_string(),
            postings: vec![Posting::debit(custody, self.amount), Posting::credit(self.account.clone(), self.amount)],
        })?;
        ws.audit(audit(ctx, &self.actor, "opening-balance", &self.account.to_string(), &self.amount.to_string()));
        Ok(Outcome::Done)
    }
}

fn audit(ctx: &Context<'_>, actor: &str, action: &str, subject: &str, reason: &str) -> AuditEntry {
    AuditEntry {
        at: ctx.now,
        actor: actor.to_string(),
        action: action.to_string(),
        subject: subject.to_string(),
        reason: reason.to_string(),
    }
}

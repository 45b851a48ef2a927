//! A person's insured life after enrolment (R3, seeds 000–003): employer and contribution base
//! changes, retirement, suspension and resumption, death, emigration, transfer out of the
//! region. Each is dated (effective on a day, never after today, never before the person's
//! previous event), changes the person at once, is kept as a life event with the state before
//! and after, and is audited with actor and reason. What a month's credit needs from the past
//! (the person type before a retirement, the base of a month) is read back from the events (see
//! [`crate::records::person_as_of`]).
//!
//! Recording the same event again (same kind and day, the person already so) answers the
//! stored event: a retried request changes nothing.

use yibao_domain::{Admdvs, Date, Money, PersonNo, PersonType, PersonTypeGroup};

use super::command::reason;
use super::lookup::not_insured;
use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{AuditEntry, LifeEvent, LifeEventKind, Person, PersonState, PersonStatus};
use crate::working_set::{Keys, WorkingSet};

/// The highest monthly contribution base accepted (a sanity bound, far above any region's cap).
pub const BASE_MAX_YUAN: i64 = 1_000_000;

/// What a life event changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifeChange {
    Employer(String),
    Base(Money),
    Retirement,
    Suspension,
    Resumption,
    Death,
    Emigration,
    /// Out of the region, to this one.
    TransferOut(Admdvs),
}

impl LifeChange {
    pub fn kind(&self) -> LifeEventKind {
        match self {
            LifeChange::Employer(_) => LifeEventKind::EmployerChange,
            LifeChange::Base(_) => LifeEventKind::BaseChange,
            LifeChange::Retirement => LifeEventKind::Retirement,
            LifeChange::Suspension => LifeEventKind::Suspension,
            LifeChange::Resumption => LifeEventKind::Resumption,
            LifeChange::Death => LifeEventKind::Death,
            LifeChange::Emigration => LifeEventKind::Emigration,
            LifeChange::TransferOut(_) => LifeEventKind::TransferOut,
        }
    }
}

/// The person type a retiring employee becomes.
pub fn retired_type(person_type: PersonType) -> Option<PersonType> {
    match person_type {
        PersonType::EmployeeInService => Some(PersonType::EmployeeRetired),
        PersonType::CivilServantInService => Some(PersonType::CivilServantRetired),
        PersonType::FlexibleInService => Some(PersonType::FlexibleRetired),
        _ => None,
    }
}

/// Records a life event (operator).
#[derive(Debug, Clone)]
pub struct RecordLifeEvent {
    pub psn_no: PersonNo,
    pub change: LifeChange,
    pub effective: Date,
    pub reason: String,
    pub actor: String,
}

fn refuse(zh: String, en: String) -> EngineError {
    EngineError::refused(zh, en)
}

impl RecordLifeEvent {
    /// The person after the change, or why it cannot be made.
    fn after(&self, ws: &mut WorkingSet<'_>, person: &Person) -> Result<PersonState, EngineError> {
        let psn_no = &person.psn_no;
        let mut state = PersonState::of(person);
        let in_service = person.person_type.group() == PersonTypeGroup::InService;
        let live = matches!(person.status, PersonStatus::Active | PersonStatus::Suspended);
        if !live {
            return Err(not_insured(ws, person)?);
        }
        match &self.change {
            LifeChange::Employer(code) => {
                if !matches!(person.person_type, PersonType::EmployeeInService | PersonType::CivilServantInService) {
                    return Err(refuse(
                        format!("人员{psn_no}不是在职职工（{}），没有参保单位", person.person_type.name_zh()),
                        format!("person {psn_no} is not an in-service employee ({})", person.person_type),
                    ));
                }
                let Some(employer) = ws.employer(code)? else {
                    return Err(EngineError::not_found(format!("参保单位{code}不存在"), format!("no employer {code}")));
                };
                if employer.admdvs != person.admdvs {
                    return Err(refuse(
                        format!("参保单位{code}在{}参保，人员在{}", employer.admdvs, person.admdvs),
                        format!("employer {code} is insured in {}, the person in {}", employer.admdvs, person.admdvs),
                    ));
                }
                state.employer = Some(code.clone());
            }
            LifeChange::Base(base) => {
                if !in_service {
                    return Err(refuse(
                        format!("人员{psn_no}（{}）不按月缴费，没有缴费基数", person.person_type.name_zh()),
                        format!("person {psn_no} ({}) pays no monthly contribution", person.person_type),
                    ));
                }
                if !base.is_positive() || *base > Money::yuan(BASE_MAX_YUAN) {
                    return Err(EngineError::invalid(
                        format!("缴费基数{base}须大于0且不超过{BASE_MAX_YUAN}元"),
                        format!("the base {base} must be above 0 and at most {BASE_MAX_YUAN} yuan"),
                    ));
                }
                state.contribution_base = Some(*base);
            }
            LifeChange::Retirement => {
                let Some(retired) = retired_type(person.person_type) else {
                    return Err(refuse(
                        format!("人员{psn_no}（{}）不是在职职工，不能办理退休", person.person_type.name_zh()),
                        format!("person {psn_no} ({}) is not in service: cannot retire", person.person_type),
                    ));
                };
                if person.status != PersonStatus::Active {
                    return Err(not_insured(ws, person)?);
                }
                state.person_type = retired;
                // Retirees pay no contribution: no employer declares them, no base.
                state.employer = None;
                state.contribution_base = None;
            }
            LifeChange::Suspension => {
                if person.status != PersonStatus::Active {
                    return Err(not_insured(ws, person)?);
                }
                state.status = PersonStatus::Suspended;
            }
            LifeChange::Resumption => {
                if person.status != PersonStatus::Suspended {
                    return Err(refuse(
                        format!("人员{psn_no}未暂停参保，无需恢复"),
                        format!("person {psn_no} is not suspended"),
                    ));
                }
                state.status = PersonStatus::Active;
            }
            LifeChange::Death | LifeChange::Emigration => state.status = PersonStatus::Terminated,
            LifeChange::TransferOut(region) => {
                if *region == person.admdvs {
                    return Err(EngineError::invalid(
                        format!("转出地不能是参保地{region}"),
                        format!("a transfer out goes to another region than {region}"),
                    ));
                }
                state.status = PersonStatus::Terminated;
            }
        }
        if state == PersonState::of(person) {
            return Err(refuse(
                format!("人员{psn_no}已是该状态，无需变更"),
                format!("person {psn_no} already stands so: nothing to change"),
            ));
        }
        Ok(state)
    }
}

impl Command for RecordLifeEvent {
    fn name(&self) -> &'static str {
        "record-life-event"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let reason = reason(&self.reason)?;
        let psn_no = &self.psn_no;
        let Some(person) = ws.person(psn_no)? else {
            return Err(EngineError::not_found(format!("人员编号{psn_no}不存在"), format!("no person {psn_no}")));
        };
        if person.status == PersonStatus::Guest {
            return Err(refuse(
                format!("人员{psn_no}在其他统筹区参保，由参保地办理变更"),
                format!("person {psn_no} is insured in another deployment's region: the insuring region records it"),
            ));
        }
        let events = ws.life_events(psn_no)?;
        let kind = self.change.kind();
        // A retry of the event just recorded answers it again.
        let same_target = |last: &LifeEvent| match &self.change {
            LifeChange::Employer(code) => last.after.employer.as_ref() == Some(code),
            LifeChange::Base(base) => last.after.contribution_base == Some(*base),
            _ => true,
        };
        if let Some(last) = events.last()
            && last.kind == kind
            && last.effective == self.effective
            && last.after == PersonState::of(&person)
            && last.region == self.region()
            && same_target(last)
        {
            return Ok(Outcome::LifeEvent(Box::new(last.clone())));
        }
        let today = ctx.now.date();
        if self.effective > today {
            return Err(EngineError::invalid(
                format!("生效日期{}晚于今天{today}：变更在发生后办理", self.effective),
                format!(
                    "effective date {} is after today {today}: record a change once it has happened",
                    self.effective
                ),
            ));
        }
        let earliest = events.last().map_or(person.insured_since, |last| last.effective.max(person.insured_since));
        if self.effective < earliest {
            return Err(EngineError::invalid(
                format!("生效日期{}早于{earliest}（参保或上一次变更的日期）", self.effective),
                format!("effective date {} is before {earliest} (enrolment or the previous change)", self.effective),
            ));
        }
        let after = self.after(ws, &person)?;
        let event = LifeEvent {
            psn_no: psn_no.clone(),
            seq: events.last().map_or(1, |last| last.seq + 1),
            kind,
            effective: self.effective,
            recorded_at: ctx.now,
            actor: self.actor.clone(),
            reason: reason.to_string(),
            before: PersonState::of(&person),
            after: after.clone(),
            region: self.region(),
        };
        ws.put_person(after.applied_to(&person));
        ws.put_life_event(event.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: format!("life-event/{}", kind.code()),
            subject: psn_no.to_string(),
            reason: format!("{} {}", self.effective, reason),
        });
        Ok(Outcome::LifeEvent(Box::new(event)))
    }
}

impl RecordLifeEvent {
    fn region(&self) -> Option<Admdvs> {
        match &self.change {
            LifeChange::TransferOut(region) => Some(region.clone()),
            _ => None,
        }
    }
}

/// The most a balance brought from another region may be (a sanity bound).
pub const TRANSFER_IN_MAX_YUAN: i64 = 10_000_000;

/// The transfer that brings a person's balance from another region, once per certificate.
pub fn transfer_in_id(psn_no: &PersonNo, certificate_no: &str) -> yibao_ledger::TransferId {
    yibao_ledger::TransferId::new(format!("transfer-in/{psn_no}/{certificate_no}"))
}

/// A person enrolled here arrives from another region (关系转入) with its certificate: the
/// months of contributions paid there are recorded, the balance that came with them is credited
/// to the prior-years account from the custody bank (operator). Once per certificate.
#[derive(Debug, Clone)]
pub struct RecordTransferIn {
    pub psn_no: PersonNo,
    pub from: Admdvs,
    pub certificate_no: String,
    pub months_paid: u16,
    pub balance: Money,
    pub effective: Date,
    pub reason: String,
    pub actor: String,
}

impl Command for RecordTransferIn {
    fn name(&self) -> &'static str {
        "record-transfer-in"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys.transfers.insert(transfer_in_id(&self.psn_no, &self.certificate_no));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let certificate = &self.certificate_no;
        if certificate.is_empty() || certificate.len() > 40 || !certificate.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(EngineError::invalid(
                "转移凭证编号须为1至40位字母或数字",
                "the certificate number has 1 to 40 letters or digits",
            ));
        }
        if self.months_paid > 1_200 || self.balance.is_negative() || self.balance > Money::yuan(TRANSFER_IN_MAX_YUAN) {
            return Err(EngineError::invalid(
                format!("缴费月数须不超过1200，转入金额须在0至{TRANSFER_IN_MAX_YUAN}元之间"),
                format!("months paid at most 1,200; the balance from 0 to {TRANSFER_IN_MAX_YUAN} yuan"),
            ));
        }
        let reason = reason(&self.reason)?;
        let psn_no = &self.psn_no;
        let Some(person) = ws.person(psn_no)? else {
            return Err(EngineError::not_found(format!("人员编号{psn_no}不存在"), format!("no person {psn_no}")));
        };
        let events = ws.life_events(psn_no)?;
        let id = transfer_in_id(psn_no, certificate);
        let prefix = format!("{certificate} ");
        if let Some(recorded) =
            events.iter().rev().find(|e| e.kind == LifeEventKind::TransferIn && e.reason.starts_with(&prefix))
        {
            // The same certificate again: what it recorded.
            return Ok(Outcome::LifeEvent(Box::new(recorded.clone())));
        }
        if person.status != PersonStatus::Active {
            return Err(not_insured(ws, &person)?);
        }
        if self.from == person.admdvs {
            return Err(EngineError::invalid(
                format!("转出地不能是参保地{}", self.from),
                format!("a transfer in comes from another region than {}", self.from),
            ));
        }
        let today = ctx.now.date();
        let earliest = events.last().map_or(person.insured_since, |last| last.effective.max(person.insured_since));
        if self.effective > today || self.effective < earliest {
            return Err(EngineError::invalid(
                format!("生效日期{}须在{earliest}至{today}之间", self.effective),
                format!("the effective date {} must be from {earliest} to {today}", self.effective),
            ));
        }
        if self.balance.is_positive() {
            if !person.has_personal_account() {
                return Err(EngineError::refused(
                    format!("人员{psn_no}没有个人账户，不能转入余额"),
                    format!("person {psn_no} has no personal account to take a balance"),
                ));
            }
            let bank = yibao_ledger::AccountKey::BankCustody(person.custody_bank.clone());
            let prior = yibao_ledger::AccountKey::PersonalPrior(psn_no.clone());
            ws.open_account(bank.clone())?;
            ws.open_account(prior.clone())?;
            ws.post(yibao_ledger::Transfer {
                id,
                code: yibao_ledger::TransferCode::TransferIn,
                at: ctx.now,
                reference: format!("{} {certificate}", self.from),
                postings: vec![
                    yibao_ledger::Posting::debit(bank, self.balance),
                    yibao_ledger::Posting::credit(prior, self.balance),
                ],
            })?;
        }
        let event = LifeEvent {
            psn_no: psn_no.clone(),
            seq: events.last().map_or(1, |last| last.seq + 1),
            kind: LifeEventKind::TransferIn,
            effective: self.effective,
            recorded_at: ctx.now,
            actor: self.actor.clone(),
            reason: format!("{certificate} {}个月 {}元: {reason}", self.months_paid, self.balance),
            before: PersonState::of(&person),
            after: PersonState::of(&person),
            region: Some(self.from.clone()),
        };
        ws.put_life_event(event.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: "life-event/transfer-in".to_string(),
            subject: psn_no.to_string(),
            reason: event.reason.clone(),
        });
        Ok(Outcome::LifeEvent(Box::new(event)))
    }
}

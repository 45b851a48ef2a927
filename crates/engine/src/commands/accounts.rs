//! Money into personal accounts (R2, seed 003): the monthly credit at month end. In service and
//! flexible employees: the month's credit arrives at the person's custody bank with the
//! contribution; retirees: a fixed amount from the pooled fund. Once per person and month: the
//! transfer id `allocation/<psn_no>/<YYYY-MM>` is the idempotency key, so a batch retried or
//! interrupted and run again credits nobody twice.

use yibao_domain::{Money, Month, PersonNo, PersonTypeGroup};
use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode, TransferId};

use super::summary::AllocationSummary;
use super::{Command, Context, Outcome};
use crate::error::{EngineError, Refusal};
use crate::records::{AuditEntry, PersonStatus};
use crate::working_set::{Keys, WorkingSet};

/// The most persons one allocation command credits (the CLI sends batches of this size).
pub const ALLOCATION_BATCH_MAX: usize = 1_000;

/// Credits the month's amount to each person's current-year account.
#[derive(Debug, Clone)]
pub struct AllocateMonth {
    pub month: Month,
    pub persons: Vec<PersonNo>,
    pub actor: String,
}

fn check_batch(persons: &[PersonNo], zh: &str, en: &str) -> Result<(), EngineError> {
    match persons.len() > ALLOCATION_BATCH_MAX {
        true => Err(EngineError::invalid(
            format!("一次最多{zh}{ALLOCATION_BATCH_MAX}人"),
            format!("at most {ALLOCATION_BATCH_MAX} persons per {en} batch"),
        )),
        false => Ok(()),
    }
}

/// One audit entry for a batch that moved money.
fn audit_batch(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    summary: AllocationSummary,
) {
    if summary.credited > 0 {
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.to_string(),
            reason: format!("{} accounts, {}", summary.credited, summary.amount),
        });
    }
}

/// The transfer that credits a person's account for a month.
pub fn allocation_id(psn_no: &PersonNo, month: Month) -> TransferId {
    TransferId::new(format!("allocation/{psn_no}/{month}"))
}

impl Command for AllocateMonth {
    fn name(&self) -> &'static str {
        "allocate-month"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.extend(self.persons.iter().cloned());
        keys.transfers.extend(self.persons.iter().map(|psn_no| allocation_id(psn_no, self.month)));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        check_batch(&self.persons, "划拨", "allocation")?;
        if self.month.first_day() > ctx.now.date() {
            return Err(EngineError::refused(
                format!("{}尚未开始，不能划拨", self.month),
                format!("month {} has not begun", self.month),
            ));
        }
        let mut summary = AllocationSummary::default();
        for psn_no in &self.persons {
            let Some(person) = ws.person(psn_no)? else {
                return Err(EngineError::not_found(format!("人员编号{psn_no}不存在"), format!("no person {psn_no}")));
            };
            let day = self.month.last_day();
            let credit = match ctx.policies.resolve(&person.admdvs, person.insurance, day) {
                Some(resolved) if resolved.scheme.personal_account && person.status == PersonStatus::Active => resolved
                    .scheme
                    .account_credit
                    .map_or(Money::ZERO, |rule| rule.monthly(person.person_type, person.contribution_base)),
                _ => Money::ZERO,
            };
            if !credit.is_positive() || person.insured_since > day {
                summary.not_eligible += 1;
                continue;
            }
            let id = allocation_id(psn_no, self.month);
            if ws.transfer(&id)?.is_some() {
                summary.already += 1;
                continue;
            }
            let source = match person.person_type.group() {
                PersonTypeGroup::Retired => AccountKey::PoolFund(person.admdvs.clone(), person.insurance),
                _ => AccountKey::BankCustody(person.custody_bank.clone()),
            };
            let target = AccountKey::PersonalCurrent(psn_no.clone());
            ws.open_account(source.clone())?;
            ws.open_account(target.clone())?;
            ws.post(Transfer {
                id,
                code: TransferCode::Allocation,
                at: ctx.now,
                reference: format!("{} {}", self.month, person.person_type.code()),
                postings: vec![Posting::debit(source, credit), Posting::credit(target, credit)],
            })?;
            summary.credited += 1;
            summary.amount += credit;
        }
        audit_batch(ws, ctx, &self.actor, "allocate-month", &self.month.to_string(), summary);
        Ok(Outcome::Allocation(summary))
    }
}

/// The transfer that rolls a person's current-year account over at the end of `year`.
pub fn year_end_id(psn_no: &PersonNo, year: u16) -> TransferId {
    TransferId::new(format!("year-end/{psn_no}/{year}"))
}

/// Year end: each person's current-year account rolls into the prior-years account (the
/// transfer id `year-end/<psn_no>/<year>` makes it once per person and year). Accumulators are
/// kept per insurance year, so the new year starts afresh without a write.
#[derive(Debug, Clone)]
pub struct CloseYear {
    pub year: u16,
    pub persons: Vec<PersonNo>,
    pub actor: String,
}

impl Command for CloseYear {
    fn name(&self) -> &'static str {
        "close-year"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.extend(self.persons.iter().cloned());
        keys.transfers.extend(self.persons.iter().map(|psn_no| year_end_id(psn_no, self.year)));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        check_batch(&self.persons, "结转", "year-end")?;
        let this_year = ctx.now.date().year();
        if this_year <= self.year {
            return Err(EngineError::refused(
                format!("{}年尚未结束，不能结转", self.year),
                format!("the year {} has not ended", self.year),
            ));
        }
        if self.year + 1 != this_year {
            // The current-year account now holds a later year's money: rolling it over under
            // an older year would move money that year never had.
            return Err(Refusal::NotTheYearJustEnded { year: self.year, this_year }.into());
        }
        let mut summary = AllocationSummary::default();
        for psn_no in &self.persons {
            let current = AccountKey::PersonalCurrent(psn_no.clone());
            let balance = ws.account(&current)?.map_or(Money::ZERO, |account| account.balance());
            let id = year_end_id(psn_no, self.year);
            if ws.transfer(&id)?.is_some() {
                summary.already += 1;
                continue;
            }
            if !balance.is_positive() {
                summary.not_eligible += 1;
                continue;
            }
            let prior = AccountKey::PersonalPrior(psn_no.clone());
            ws.open_account(prior.clone())?;
            ws.post(Transfer {
                id,
                code: TransferCode::YearEnd,
                at: ctx.now,
                reference: format!("year end {}", self.year),
                postings: vec![Posting::debit(current, balance), Posting::credit(prior, balance)],
            })?;
            summary.credited += 1;
            summary.amount += balance;
        }
        audit_batch(ws, ctx, &self.actor, "close-year", &self.year.to_string(), summary);
        Ok(Outcome::Allocation(summary))
    }
}

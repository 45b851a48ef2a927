//! Money into personal accounts (R2, seed 003): the monthly credit after the month ends. In
//! service and flexible employees: the month's credit arrives at the person's custody bank with
//! the contribution, so a month whose contribution is not paid is not credited: the allocation
//! records it as withheld, and paying the arrears (补缴) credits it then. Retirees: a fixed
//! amount from the pooled fund. Once per person and month: the transfer id
//! `allocation/<psn_no>/<YYYY-MM>` is the idempotency key, so a batch retried or interrupted
//! and run again, or arrears paid after the run, credit nobody twice.

use yibao_domain::{Money, Month, PersonNo};
use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode, TransferId};

use super::credit::{MonthCredit, allocation_id, credit_month};
use super::summary::{AllocationSummary, SkipReason};
use super::{Command, Context, Outcome};
use crate::error::{EngineError, Refusal};
use crate::records::{AuditEntry, PersonStatus, WithheldCredit};
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
    summary: &AllocationSummary,
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

/// Refuses a month that has not ended: a month is credited after it, never during it.
fn ended(month: Month, ctx: &Context<'_>) -> Result<(), EngineError> {
    match month.last_day() < ctx.now.date() {
        true => Ok(()),
        false => Err(EngineError::refused(
            format!("{month}尚未结束，不能划拨"),
            format!("month {month} has not ended: it is credited after its last day"),
        )),
    }
}

impl Command for AllocateMonth {
    fn name(&self) -> &'static str {
        "allocate-month"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.extend(self.persons.iter().cloned());
        keys.transfers.extend(self.persons.iter().map(|psn_no| allocation_id(psn_no, self.month)));
        let period = super::credit::ContributionPeriod::Month(self.month);
        keys.transfers.extend(self.persons.iter().map(|psn_no| super::credit::contribution_id(psn_no, period)));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        check_batch(&self.persons, "划拨", "allocation")?;
        ended(self.month, ctx)?;
        ws.prefetch_life_events(&self.persons)?;
        ws.fetch::<WithheldCredit>(self.persons.iter().map(|psn_no| (psn_no.clone(), self.month)).collect())?;
        let mut summary = AllocationSummary::default();
        let mut unpaid = Vec::new();
        for psn_no in &self.persons {
            let Some(person) = ws.person(psn_no)? else {
                return Err(EngineError::not_found(format!("人员编号{psn_no}不存在"), format!("no person {psn_no}")));
            };
            match credit_month(ws, ctx, &person, self.month)? {
                MonthCredit::Credited(amount) => {
                    summary.credited += 1;
                    summary.amount += amount;
                    // A month withheld by an earlier run (paid since, or the person resumed).
                    let key = (psn_no.clone(), self.month);
                    if let Some(withheld) = ws.get::<WithheldCredit>(&key)? {
                        ws.put(WithheldCredit { credited_at: Some(ctx.now), ..withheld });
                    }
                }
                MonthCredit::Already => summary.already += 1,
                MonthCredit::Skipped(reason) => {
                    // Kept for the arrears: an unpaid month, or a suspended person's month.
                    let suspended = reason == SkipReason::NotInsured && person.status == PersonStatus::Suspended;
                    if reason == SkipReason::ContributionUnpaid || suspended {
                        unpaid.push((psn_no.clone(), self.month));
                    }
                    summary.skip(psn_no, reason);
                }
            }
        }
        // The months withheld, kept so that paying them later credits them at once.
        for (psn_no, month) in unpaid {
            if ws.get::<WithheldCredit>(&(psn_no.clone(), month))?.is_none() {
                ws.put(WithheldCredit { psn_no, month, withheld_at: ctx.now, credited_at: None });
            }
        }
        audit_batch(ws, ctx, &self.actor, "allocate-month", &self.month.to_string(), &summary);
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
        audit_batch(ws, ctx, &self.actor, "close-year", &self.year.to_string(), &summary);
        Ok(Outcome::Allocation(summary))
    }
}

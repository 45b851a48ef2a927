//! Clearing (R8, seed 002, Social Insurance Law art. 29): paying designated institutions what
//! the fund and the personal accounts owe them for their settlements, and settling what one
//! region owes another for its insured persons treated there (异地就医).
//!
//! Clearing is by whole days that have ended. A day's amounts are read inside the writer from
//! committed data, so no settlement can still join a day being paid; each day is paid once
//! (`institution-clearing/<code>/<day>`, `inter-region-clearing/<insured>/<treated>/<day>`), so
//! paying a period again, or an overlapping one, pays nobody twice. Cancellations count on the
//! day they happen: a day can net below zero, and its transfer then runs the other way.

use yibao_domain::{Admdvs, Date, InstitutionCode, Money};
use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode, TransferId};

use super::summary::ClearingSummary;
use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{AuditEntry, ClearingParty};
use crate::working_set::{Keys, WorkingSet};

/// The longest period one clearing command pays.
pub const CLEARING_DAYS_MAX: i64 = 366;

/// Pays a designated institution for its settlements of the days `from..=to` (all ended).
#[derive(Debug, Clone)]
pub struct PayInstitution {
    pub institution: InstitutionCode,
    pub from: Date,
    pub to: Date,
    pub actor: String,
}

/// Settles what `insured` owes `treated` for the days `from..=to` (all ended).
#[derive(Debug, Clone)]
pub struct PayInterRegion {
    pub insured: Admdvs,
    pub treated: Admdvs,
    pub from: Date,
    pub to: Date,
    pub actor: String,
}

/// The transfer that pays an institution for a day.
pub fn institution_clearing_id(institution: &InstitutionCode, day: Date) -> TransferId {
    TransferId::new(format!("institution-clearing/{institution}/{day}"))
}

/// The transfer that settles a day between two regions.
pub fn inter_region_clearing_id(insured: &Admdvs, treated: &Admdvs, day: Date) -> TransferId {
    TransferId::new(format!("inter-region-clearing/{insured}/{treated}/{day}"))
}

fn check_period(from: Date, to: Date, ctx: &Context<'_>) -> Result<(), EngineError> {
    if to < from {
        return Err(EngineError::invalid(
            format!("清算结束日期{to}早于开始日期{from}"),
            format!("the period ends ({to}) before it begins ({from})"),
        ));
    }
    if to.days_since_epoch() - from.days_since_epoch() >= CLEARING_DAYS_MAX {
        return Err(EngineError::invalid(
            format!("一次清算最多{CLEARING_DAYS_MAX}天"),
            format!("a clearing covers at most {CLEARING_DAYS_MAX} days"),
        ));
    }
    let today = ctx.now.date();
    if to >= today {
        return Err(EngineError::refused(
            format!("{to}尚未结束，只能清算{}及以前的日期", today.plus_days(-1)),
            format!("{to} has not ended; clear days up to {}", today.plus_days(-1)),
        ));
    }
    Ok(())
}

/// Posts one transfer per unpaid day with a nonzero amount; `postings(amount)` gives the
/// postings for a positive amount (they run the other way for a negative one).
fn pay_days(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    party: &ClearingParty,
    (from, to): (Date, Date),
    code: TransferCode,
    id: impl Fn(Date) -> TransferId,
    postings: impl Fn(Money) -> Vec<Posting>,
) -> Result<ClearingSummary, EngineError> {
    let mut summary = ClearingSummary::default();
    for day in ws.settlement_days(party, from, to)? {
        let id = id(day.day);
        if ws.transfer(&id)?.is_some() {
            summary.already.push(day.day);
            continue;
        }
        let owed = day.owed();
        if !owed.is_zero() {
            let mut lines = postings(owed.abs());
            if owed.is_negative() {
                lines = lines.into_iter().map(Posting::reversed).collect();
            }
            for line in &lines {
                ws.open_account(line.account.clone())?;
            }
            ws.post(Transfer {
                id,
                code,
                at: ctx.now,
                reference: format!("{} settlements of {}", day.count, day.day),
                postings: lines,
            })?;
        }
        summary.amount += owed;
        summary.paid.push(day);
    }
    Ok(summary)
}

fn audit(ws: &mut WorkingSet<'_>, ctx: &Context<'_>, actor: &str, action: &str, subject: String, s: &ClearingSummary) {
    if !s.paid.is_empty() {
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: actor.to_string(),
            action: action.to_string(),
            subject,
            reason: format!("{} days, {}", s.paid.len(), s.amount),
        });
    }
}

impl Command for PayInstitution {
    fn name(&self) -> &'static str {
        "pay-institution"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.institutions.insert(self.institution.clone());
        keys.accounts.insert(AccountKey::InstitutionPayable(self.institution.clone()));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        check_period(self.from, self.to, ctx)?;
        let Some(institution) = ws.institution(&self.institution)? else {
            return Err(EngineError::not_found(
                format!("定点医药机构{}不存在", self.institution),
                format!("no institution {}", self.institution),
            ));
        };
        let payable = AccountKey::InstitutionPayable(institution.code.clone());
        let bank = AccountKey::FundBank(institution.admdvs.clone());
        let summary = pay_days(
            ws,
            ctx,
            &ClearingParty::Institution(institution.code.clone()),
            (self.from, self.to),
            TransferCode::InstitutionClearing,
            |day| institution_clearing_id(&institution.code, day),
            |amount| vec![Posting::debit(payable.clone(), amount), Posting::credit(bank.clone(), amount)],
        )?;
        audit(ws, ctx, &self.actor, "pay-institution", institution.code.to_string(), &summary);
        Ok(Outcome::Clearing(summary))
    }
}

impl Command for PayInterRegion {
    fn name(&self) -> &'static str {
        "pay-inter-region"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        check_period(self.from, self.to, ctx)?;
        if self.insured == self.treated {
            return Err(EngineError::invalid(
                "参保地与就医地相同，不是异地就医",
                "the insured and the treating region are the same: nothing to clear between regions",
            ));
        }
        for region in [&self.insured, &self.treated] {
            if ws.region(region)?.is_none() {
                return Err(EngineError::not_found(format!("统筹区{region}不存在"), format!("no region {region}")));
            }
        }
        let (insured, treated) = (self.insured.clone(), self.treated.clone());
        let payable = AccountKey::InterRegionPayable { debtor: insured.clone(), creditor: treated.clone() };
        let receivable = AccountKey::InterRegionReceivable { creditor: treated.clone(), debtor: insured.clone() };
        // Each deployment pays or receives only the half it booked: both in one deployment, the
        // insured side's or the treating side's when the regions run apart.
        let (ours_owes, ours_is_owed) = (ws.account(&payable)?.is_some(), ws.account(&receivable)?.is_some());
        if !ours_owes && !ours_is_owed {
            return Err(EngineError::not_found(
                format!("{insured}与{treated}之间没有异地就医结算"),
                format!("no cross-region settlements between {insured} and {treated} here"),
            ));
        }
        let summary = pay_days(
            ws,
            ctx,
            &ClearingParty::Regions { insured: insured.clone(), treated: treated.clone() },
            (self.from, self.to),
            TransferCode::InterRegionClearing,
            |day| inter_region_clearing_id(&insured, &treated, day),
            |amount| {
                let mut postings = Vec::new();
                if ours_owes {
                    postings.push(Posting::debit(payable.clone(), amount));
                    postings.push(Posting::credit(AccountKey::FundBank(insured.clone()), amount));
                }
                if ours_is_owed {
                    postings.push(Posting::debit(AccountKey::FundBank(treated.clone()), amount));
                    postings.push(Posting::credit(receivable.clone(), amount));
                }
                postings
            },
        )?;
        audit(ws, ctx, &self.actor, "pay-inter-region", format!("{insured}->{treated}"), &summary);
        Ok(Outcome::Clearing(summary))
    }
}

//! A personal account's monthly credit, and the transfer ids that keep money into accounts to
//! once: the contribution of a person and period, the allocation of a person and month. Both
//! the allocation (an ended month, paid) and a late contribution (arrears of a month the
//! allocation withheld) credit a month through [`credit_month`].

use yibao_domain::{Money, Month, PersonNo, PersonTypeGroup};
use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode, TransferId};

use super::Context;
use super::summary::SkipReason;
use crate::error::EngineError;
use crate::records::{Notification, NotificationKind, Person, PersonStatus, person_as_of};
use crate::working_set::WorkingSet;

/// The period a contribution pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContributionPeriod {
    /// Employees (in service and flexible): a month.
    Month(Month),
    /// Residents: an insurance year.
    Year(u16),
}

impl std::fmt::Display for ContributionPeriod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContributionPeriod::Month(month) => write!(f, "{month}"),
            ContributionPeriod::Year(year) => write!(f, "{year}"),
        }
    }
}

/// The transfer of a person's contribution for a period.
pub fn contribution_id(psn_no: &PersonNo, period: ContributionPeriod) -> TransferId {
    TransferId::new(format!("contribution/{psn_no}/{period}"))
}

/// A contribution transfer's reference: the period, who paid, and the base it was paid on —
/// `declared base` when the payer declared it for the period, `base` when it was the registered
/// one.
pub(crate) fn contribution_reference(
    period: ContributionPeriod,
    payer: &str,
    base: Option<Money>,
    declared: bool,
) -> String {
    match (base, declared) {
        (Some(base), true) => format!("{period} {payer} declared base {base}"),
        (Some(base), false) => format!("{period} {payer} base {base}"),
        (None, _) => format!("{period} {payer}"),
    }
}

/// The base the payer declared for the period, from its contribution transfer's reference
/// (`None` where the registered base was used: a later change of it then counts).
pub(crate) fn declared_base(reference: &str) -> Option<Money> {
    reference.rsplit_once(" declared base ").and_then(|(_, base)| base.parse().ok())
}

/// The transfer that credits a person's account for a month.
pub fn allocation_id(psn_no: &PersonNo, month: Month) -> TransferId {
    TransferId::new(format!("allocation/{psn_no}/{month}"))
}

/// What crediting one person's month came to.
pub(crate) enum MonthCredit {
    Credited(Money),
    Already,
    Skipped(SkipReason),
}

/// Credits `person`'s account for an ended `month`, once (the transfer id is the key). In
/// service and flexible employees are credited only when the month's contribution is paid;
/// retirees' credit comes from the pooled fund and needs none. Only a person insured now is
/// credited (a suspended person's months wait for the resumption and the arrears).
pub(crate) fn credit_month(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    person: &Person,
    month: Month,
) -> Result<MonthCredit, EngineError> {
    let day = month.last_day();
    if !person.has_personal_account() {
        return Ok(MonthCredit::Skipped(SkipReason::NothingDue));
    }
    if person.status != PersonStatus::Active {
        return Ok(MonthCredit::Skipped(SkipReason::NotInsured));
    }
    if person.insured_since > day {
        return Ok(MonthCredit::Skipped(SkipReason::NotYetInsured));
    }
    // The person type is the one at the end of the month before (a retiree's credit starts the
    // month after retirement); the base the one the month's contribution was declared on, or
    // else the one in force at the month's end (or, in the month of retirement, the last one).
    let events = ws.life_events(&person.psn_no)?;
    let before = person_as_of(person, &events, month.first_day().plus_days(-1));
    let person_type = before.person_type;
    let retired = person_type.group() == PersonTypeGroup::Retired;
    let contribution = contribution_id(&person.psn_no, ContributionPeriod::Month(month));
    let paid = match retired {
        true => None,
        false => ws.transfer(&contribution)?,
    };
    let registered = person_as_of(person, &events, day).contribution_base.or(before.contribution_base);
    let base = paid.as_ref().and_then(|transfer| declared_base(&transfer.reference)).or(registered);
    let credit = match ctx.policies.resolve(&person.admdvs, person.insurance, day) {
        Some(resolved) if resolved.scheme.personal_account => {
            resolved.scheme.account_credit.map_or(Money::ZERO, |rule| rule.monthly(person_type, base))
        }
        _ => Money::ZERO,
    };
    if !credit.is_positive() {
        return Ok(MonthCredit::Skipped(SkipReason::NothingDue));
    }
    let id = allocation_id(&person.psn_no, month);
    if ws.transfer(&id)?.is_some() {
        return Ok(MonthCredit::Already);
    }
    if !retired && paid.is_none() {
        return Ok(MonthCredit::Skipped(SkipReason::ContributionUnpaid));
    }
    let source = match retired {
        true => AccountKey::PoolFund(person.admdvs.clone(), person.insurance),
        false => AccountKey::BankCustody(person.custody_bank.clone()),
    };
    let target = AccountKey::PersonalCurrent(person.psn_no.clone());
    ws.open_account(source.clone())?;
    ws.open_account(target.clone())?;
    ws.post(Transfer {
        id,
        code: TransferCode::Allocation,
        at: ctx.now,
        reference: format!("{month} {}", person_type.code()),
        postings: vec![Posting::debit(source, credit), Posting::credit(target, credit)],
    })?;
    ws.notify(Notification::new(
        format!("credit/{}/{month}", person.psn_no),
        person.psn_no.clone(),
        NotificationKind::Credit,
        ctx.now,
        format!("{month}个人账户划入{credit}元。"),
        format!("{credit} yuan credited to your account for {month}."),
    ));
    Ok(MonthCredit::Credited(credit))
}

#[cfg(test)]
mod tests {
    use super::{ContributionPeriod, contribution_reference, declared_base};
    use yibao_domain::Money;

    #[test]
    fn the_declared_base_reads_back_from_the_reference() {
        let month = ContributionPeriod::Month("2026-11".parse().unwrap());
        let reference = contribution_reference(month, "E33010000001", Some(Money::yuan(9_000)), true);
        assert_eq!(reference, "2026-11 E33010000001 declared base 9000.00");
        assert_eq!(declared_base(&reference), Some(Money::yuan(9_000)));
        let registered = contribution_reference(month, "E33010000001", Some(Money::yuan(8_000)), false);
        assert_eq!((registered.as_str(), declared_base(&registered)), ("2026-11 E33010000001 base 8000.00", None));
        assert_eq!(declared_base(&contribution_reference(month, "individual", None, false)), None);
        assert_eq!(
            declared_base(&contribution_reference(ContributionPeriod::Year(2026), "individual", None, false)),
            None
        );
    }
}

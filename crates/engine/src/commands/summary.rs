//! What the commands that work on many rows at once report: an allocation batch, a clearing, a
//! contribution declaration, a bank's payment answer. Values only; `Outcome` carries them, so
//! they live apart from the commands that make them.

use yibao_domain::{Date, Money, Month, PersonNo};

use crate::records::DayTotals;

/// Why a person's account is not credited for a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// The month's contribution is not paid: the credit is withheld until it is (补缴).
    ContributionUnpaid,
    /// The insurance is suspended or terminated.
    NotInsured,
    /// Insured only after the month.
    NotYetInsured,
    /// No personal account, or the policy credits nothing for the person's type.
    NothingDue,
}

impl SkipReason {
    pub const ALL: [SkipReason; 4] =
        [SkipReason::ContributionUnpaid, SkipReason::NotInsured, SkipReason::NotYetInsured, SkipReason::NothingDue];

    /// The name on the wire.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::ContributionUnpaid => "contribution-unpaid",
            SkipReason::NotInsured => "not-insured",
            SkipReason::NotYetInsured => "not-yet-insured",
            SkipReason::NothingDue => "nothing-due",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            SkipReason::ContributionUnpaid => "当月未缴费，暂停划账",
            SkipReason::NotInsured => "暂停或终止参保",
            SkipReason::NotYetInsured => "当月尚未参保",
            SkipReason::NothingDue => "无个人账户或无应划金额",
        }
    }
}

/// A person an allocation did not credit, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub psn_no: PersonNo,
    pub reason: SkipReason,
}

/// The most skipped persons a summary lists by name (all are counted; a month's withheld
/// credits can be listed in full from the store).
pub const SKIPPED_LISTED: usize = 1_000;

/// What an allocation batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocationSummary {
    /// Accounts credited now.
    pub credited: u64,
    /// Accounts already credited for the month (an earlier or interrupted run).
    pub already: u64,
    /// Persons with no credit this month (no personal account, not active, nothing due, the
    /// contribution unpaid).
    pub not_eligible: u64,
    /// Of those, persons whose month's contribution is not paid (the credit is withheld).
    pub unpaid: u64,
    /// The money credited now.
    pub amount: Money,
    /// Skipped persons with the reason, except those with nothing due (residents), up to
    /// [`SKIPPED_LISTED`].
    pub skipped: Vec<Skipped>,
}

impl AllocationSummary {
    pub fn plus(mut self, other: AllocationSummary) -> AllocationSummary {
        self.credited += other.credited;
        self.already += other.already;
        self.not_eligible += other.not_eligible;
        self.unpaid += other.unpaid;
        self.amount += other.amount;
        let room = SKIPPED_LISTED.saturating_sub(self.skipped.len());
        self.skipped.extend(other.skipped.into_iter().take(room));
        self
    }

    /// Counts a skipped person (and lists them, within the limit).
    pub fn skip(&mut self, psn_no: &PersonNo, reason: SkipReason) {
        self.not_eligible += 1;
        if reason == SkipReason::ContributionUnpaid {
            self.unpaid += 1;
        }
        if reason != SkipReason::NothingDue && self.skipped.len() < SKIPPED_LISTED {
            self.skipped.push(Skipped { psn_no: psn_no.clone(), reason });
        }
    }
}

/// What a clearing did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClearingSummary {
    /// Days paid now, with their totals.
    pub paid: Vec<DayTotals>,
    /// Days of the period paid before.
    pub already: Vec<Date>,
    /// The net amount paid now (negative: money comes back).
    pub amount: Money,
}

/// One person's paid contribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContributionLine {
    pub psn_no: PersonNo,
    /// The base it was computed on (residents: none).
    pub base: Option<Money>,
    /// Into the pooled fund.
    pub pooled: Money,
    /// The employee part.
    pub employee: Money,
}

/// What a contribution command did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContributionSummary {
    pub paid: Vec<ContributionLine>,
    /// Persons whose contribution for the period was paid before.
    pub already: Vec<PersonNo>,
    /// Arrears of a month whose credit the allocation had withheld: credited now, with the amount.
    pub arrears_credited: Vec<(PersonNo, Month, Money)>,
    /// The money paid now.
    pub total: Money,
}

/// What a confirmation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankPaymentSummary {
    /// Lines paid now.
    pub paid: Vec<crate::records::BankPayment>,
    /// Lines already recorded as paid (a repeated file).
    pub already: Vec<String>,
    pub amount: Money,
}

//! What the commands that work on many rows at once report: an allocation batch, a clearing, a
//! contribution declaration. Values only; `Outcome` carries them, so they live apart from the
//! commands that make them.

use yibao_domain::{Date, Money, PersonNo};

use crate::records::DayTotals;

/// What an allocation batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocationSummary {
    /// Accounts credited now.
    pub credited: u64,
    /// Accounts already credited for the month (an earlier or interrupted run).
    pub already: u64,
    /// Persons with no credit this month (no personal account, not active, nothing due).
    pub not_eligible: u64,
    /// The money credited now.
    pub amount: Money,
}

impl AllocationSummary {
    pub fn plus(self, other: AllocationSummary) -> AllocationSummary {
        AllocationSummary {
            credited: self.credited + other.credited,
            already: self.already + other.already,
            not_eligible: self.not_eligible + other.not_eligible,
            amount: self.amount + other.amount,
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
    /// The money paid now.
    pub total: Money,
}

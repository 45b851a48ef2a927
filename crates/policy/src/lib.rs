//! Policy files and pricing.
//!
//! A *policy* is data: a TOML file (see `policies/seed.toml`) that says, for some pooling
//! regions and insurance types over a date range, how the pooled fund shares a bill. This crate
//! reads such files into a checked [`Policy`] (every error names the file, line and field),
//! splits bill lines by their catalogue class ([`split_line`]) and runs the settlement waterfall
//! ([`price`]): deductible, fund share, annual cap, the outpatient band, the civil-servant subsidy, personal
//! account, cash.
//! Every amount it produces comes with a [`Step`] saying which rule made it, in Chinese and
//! English. It does no IO and never uses floating point.

mod explain;
mod file;
mod line;
mod model;
mod price;
mod set;

pub use explain::{Rule, Step};
pub use file::{PolicyError, parse_policy};
pub use line::{CatalogueItem, LineInput, LineSplit, split_line};
pub use model::{
    AccountCredit, CivilServantSubsidy, ContributionDue, ContributionRule, DeductibleRule, Disease,
    EmergencyAdmissionRule, InpatientRule, LevelTable, OutpatientRule, Policy, Scheme, Scope, SpecialOutpatientRule,
};
pub use price::{AccountBalances, Accumulators, Admission, PriceInput, Pricing, PricingError, SettlementKind, price};
pub use set::{PolicySet, Resolved};

/// The seed policy as shipped in `policies/seed.toml`, embedded so `serve --demo` needs no files.
pub const SEED_POLICY_TOML: &str = include_str!("../../../policies/seed.toml");

//! The application layer: every business action written once.
//!
//! The national interface, the REST API, the pages and the peer endpoints are translators:
//! they turn their wire into the domain-typed requests of this crate and its outcomes back into
//! their wire. What a business action needs (the command, its lookups, its idempotency
//! envelope) is built here, once, so that two edges cannot price or decide the same thing
//! differently. The engine's commands do the deciding inside the writer's transaction; this
//! crate knows neither HTTP nor SQL.
//!
//! Every command more than one edge (or place) issues is built here, once: settlement and
//! purchase and their cancellation ([`settlement`]), visits and their lines ([`visits`]), the
//! e-voucher's QR code and suspension ([`evoucher`]), credentials and the audit log
//! ([`access`]), a card's state ([`cards`]), enrolment ([`registry`]), reconciliation's files ([`clearing`]); and the
//! idempotency envelope of every write ([`idempotency`], with the [`Channel`] it came through).
//! An edge runs what it gets back through [`run()`] under its envelope.

pub mod access;
pub mod cards;
pub mod clearing;
pub mod evoucher;
pub mod idempotency;
pub mod registry;
pub mod run;
pub mod settlement;
pub mod visits;

pub use idempotency::{Channel, Idempotency, hex, sha256_hex};
pub use run::{Run, run};
pub use settlement::{PurchaseRequest, SettleRequest, SettlementRef, Treated, settle};
pub use visits::{Diagnosed, VisitRef};

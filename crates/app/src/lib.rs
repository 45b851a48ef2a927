//! The application layer: every business action written once.
//!
//! The national interface, the REST API, the pages and the peer endpoints are translators:
//! they turn their wire into the domain-typed requests of this crate and its outcomes back into
//! their wire. What a business action needs (the command, its lookups, its idempotency
//! envelope) is built here, once, so that two edges cannot price or decide the same thing
//! differently. The engine's commands do the deciding inside the writer's transaction; this
//! crate knows neither HTTP nor SQL.
//!
//! Moved here so far: settlement ([`settlement`]) and the idempotency envelope of every write
//! ([`idempotency`]). The other actions follow the same shape.

pub mod idempotency;
pub mod run;
pub mod settlement;

pub use idempotency::{Idempotency, hex, sha256_hex};
pub use run::{Run, run};
pub use settlement::{SettleRequest, Treated, settle};

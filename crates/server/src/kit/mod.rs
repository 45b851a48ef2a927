//! The server's neutral parts: what every audience may use and that imports none of them
//! (nor the shared state). Secrets and signing, sessions, nonces, metrics, the guard's
//! counters, the body budget, log-safe text, the face verifier, PDF and QR output.

pub mod budget;
pub mod clock;
pub mod face;
pub mod logtext;
pub mod metrics;
pub mod nonce;
pub mod pdf;
pub mod qr;
pub mod secret;
pub mod sessions;
pub mod tally;

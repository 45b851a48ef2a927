//! Black-box tests: the real server on an ephemeral port, the demo loaded, driven over HTTP
//! with signed headers exactly as an HIS does.

mod agency;
mod application;
mod attacks;
mod cards;
mod clearing;
mod counter;
mod escaping;
mod evoucher;
mod helpers;
mod inpatient;
mod life;
mod negative;
mod outpatient;
mod pharmacy;
mod portal;
mod rest;
mod samples;
mod shenzhen;
mod webhooks;

//! The REST API, `/api/v1/…`: logins, the registry (regions, institutions, employers,
//! persons), personal records (account, accumulators, settlements with their explanation),
//! the catalogue, the audit log and a ledger check. JSON in and out, one error shape, the
//! OpenAPI document at `/api/v1/openapi.json`.
//!
//! ID numbers are masked in every response; an operator with the `privileged` role sees one
//! whole only by asking (`?reveal=true&reason=…`), and that read is written to the audit log,
//! as is every read of a person's records by someone other than the person.

mod access;
mod bank_payments;
mod caller;
pub(crate) mod cards;
mod clearing;
mod common;
mod contributions;
mod disputes;
mod error;
mod evoucher;
mod flows;
mod life;
pub(crate) mod notifications;
pub mod openapi;
mod payouts;
mod registrations;
mod registry;
mod reimbursements;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub(crate) use access::{PasswordUpdate, Proof, authenticate, set_password};
pub use caller::{Caller, PRIVILEGED, REVIEWER, operator_actor};
pub use common::PAGE_SIZE_MAX;
pub use error::ApiError;
pub use evoucher::check_face;

use crate::state::AppState;

/// The largest REST request body.
pub const BODY_MAX_BYTES: usize = 256 * 1024;

/// What a family of routes adds to the router.
type Mount = fn(Router<Arc<AppState>>) -> Router<Arc<AppState>>;

pub fn router() -> Router<Arc<AppState>> {
    // Each family of routes mounts its own.
    let families: [Mount; 11] = [
        cards::routes,
        evoucher::routes,
        clearing::routes,
        contributions::routes,
        life::routes,
        payouts::routes,
        bank_payments::routes,
        reimbursements::routes,
        registrations::routes,
        disputes::routes,
        notifications::routes,
    ];
    families
        .into_iter()
        .fold(Router::new(), |router, mount| mount(router))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/auth/login", post(access::login))
        .route("/api/v1/auth/logout", post(access::logout))
        .route("/api/v1/me", get(access::me))
        .route("/api/v1/me/password", post(access::change_password))
        .route("/api/v1/operators", post(access::create_operator))
        .route("/api/v1/regions", get(registry::regions).post(registry::create_region))
        .route("/api/v1/institutions", get(registry::institutions).post(registry::create_institution))
        .route("/api/v1/employers", get(registry::employers).post(registry::create_employer))
        .route("/api/v1/persons", get(registry::persons).post(registry::create_person))
        .route("/api/v1/persons/{psn_no}", get(registry::person))
        .route("/api/v1/persons/{psn_no}/activation-code", post(registry::issue_activation_code))
        .route("/api/v1/persons/{psn_no}/account", get(registry::account))
        .route("/api/v1/persons/{psn_no}/account/statement", get(registry::statement))
        .route("/api/v1/persons/{psn_no}/accumulators", get(registry::accumulators))
        .route("/api/v1/persons/{psn_no}/settlements", get(registry::person_settlements))
        .route("/api/v1/settlements/{setl_id}", get(registry::settlement))
        .route("/api/v1/visits", post(flows::open_visit))
        .route("/api/v1/visits/{mdtrt_id}/lines", post(flows::add_lines))
        .route("/api/v1/visits/{mdtrt_id}/discharge", post(flows::discharge))
        .route("/api/v1/visits/{mdtrt_id}/cancel", post(flows::cancel_visit))
        .route("/api/v1/visits/{mdtrt_id}/settlement", post(flows::settle))
        .route("/api/v1/settlements/{setl_id}/cancel", post(flows::cancel))
        .route("/api/v1/purchases", post(flows::purchase))
        .route("/api/v1/catalogue", get(registry::catalogue).post(registry::create_catalogue_entry))
        .route("/api/v1/audit", get(registry::audit))
        .route("/api/v1/ledger/verify", get(registry::verify_ledger))
        .route("/api/v1/allocations", post(registry::allocate))
        .route("/api/v1/year-ends", post(registry::close_year))
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
}

//! Who is calling: an operator or an insured person (bearer token from `/auth/login`), an
//! institution (the `x-tif-*` signature, as on the national interface), or nobody.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use yibao_engine::records::Institution;

use super::error::ApiError;
use crate::kit::sessions::Subject;
use crate::state::AppState;

/// The privileged operator role: may see whole ID numbers (with a stated reason).
pub const PRIVILEGED: &str = "privileged";

/// The reviewer role: approves or rejects what another operator proposed (four eyes).
pub const REVIEWER: &str = "reviewer";

#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    Operator { username: String, roles: Vec<String>, token: String },
    Person { psn_no: String, change_password_only: bool, token: String },
    Institution(Box<Institution>),
}

/// How the audit log names an agency operator, whether they act through the REST API or a page.
pub fn operator_actor(username: &str) -> String {
    format!("operator:{username}")
}

impl Caller {
    /// An operator, or 401/403.
    pub fn operator(&self) -> Result<(&str, &[String]), ApiError> {
        match self {
            Caller::Operator { username, roles, .. } => Ok((username, roles)),
            Caller::Anonymous => Err(ApiError::unauthenticated("log in as an agency operator")),
            _ => Err(ApiError::forbidden("only agency operators may do this")),
        }
    }

    /// The actor name written to the audit log.
    pub fn actor(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".into(),
            Caller::Operator { username, .. } => operator_actor(username),
            Caller::Person { psn_no, .. } => format!("person:{psn_no}"),
            Caller::Institution(institution) => format!("institution:{}", institution.code),
        }
    }

    /// Whether the caller may read this person's records at all: the person, an operator,
    /// or an institution (which then sees only its own visits and settlements).
    pub fn may_read_person(&self, psn_no: &str) -> Result<(), ApiError> {
        match self {
            Caller::Person { psn_no: own, change_password_only: false, .. } if own == psn_no => Ok(()),
            Caller::Person { change_password_only: true, .. } => Err(initial_password_only()),
            Caller::Person { .. } => Err(ApiError::forbidden("a person may read only their own records")),
            Caller::Operator { .. } | Caller::Institution(_) => Ok(()),
            Caller::Anonymous => Err(ApiError::unauthenticated("log in to read personal records")),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Caller, ApiError> {
        if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let text = value.to_str().map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
            let token = text
                .strip_prefix("Bearer ")
                .ok_or_else(|| ApiError::unauthenticated("the Authorization header must be: Bearer <token>"))?
                .trim();
            let session = state
                .sessions
                .find(token, crate::kit::clock::unix_now())
                .ok_or_else(|| ApiError::unauthenticated("the token is unknown or expired; log in again"))?;
            return Ok(match session.subject {
                Subject::Operator { username, roles } => Caller::Operator { username, roles, token: token.to_string() },
                Subject::Person { psn_no } => Caller::Person {
                    psn_no,
                    change_password_only: session.change_password_only,
                    token: token.to_string(),
                },
                Subject::Institution { .. } => {
                    return Err(ApiError::unauthenticated(
                        "a counter session opens the counter pages only; sign API calls with x-tif-* headers",
                    ));
                }
            });
        }
        if parts.headers.contains_key("x-tif-paasid") {
            return crate::nhsa::verify_signature(state, &parts.headers)
                .await
                .map(|institution| Caller::Institution(Box::new(institution)))
                .map_err(|refusal| ApiError::unauthenticated(refusal.message));
        }
        Ok(Caller::Anonymous)
    }
}

/// The refusal of anything but the password change to a session of the initial password.
pub fn initial_password_only() -> ApiError {
    ApiError::forbidden("the initial password only allows setting a new password")
}

//! What the REST handlers share: reading a body and a field, answering, hashing a secret,
//! auditing a read, loading a person.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;
use yibao_domain::PersonNo;
use yibao_engine::records::Person;

use super::caller::Caller;
use super::error::ApiError;
use crate::state::AppState;

/// The largest page of a list.
pub const PAGE_SIZE_MAX: u64 = 500;

/// Reads a JSON body into a wire type; every problem is a 400 naming it.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::invalid(format!("invalid JSON body: {error}"), format!("请求体不是合法的JSON：{error}"))
    })
}

pub(crate) fn parse<T: std::str::FromStr<Err = yibao_domain::ParseError>>(
    field: &str,
    text: &str,
) -> Result<T, ApiError> {
    text.parse().map_err(|error: yibao_domain::ParseError| {
        ApiError::invalid(format!("{field}: {error}"), format!("{field}格式错误：{}", error.problem_zh()))
    })
}

pub(crate) fn created(value: Value) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

pub(crate) fn ok(value: Value) -> Response {
    axum::Json(value).into_response()
}

pub(crate) fn unexpected() -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "unexpected outcome", "系统内部错误")
}

/// An Argon2id hash of a password or PIN, on a blocking thread.
pub(crate) async fn hash_secret(state: &AppState, secret: String) -> Result<String, ApiError> {
    let secrets = state.secrets.clone();
    tokio::task::spawn_blocking(move || secrets.hash(&secret))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "hashing failed", "系统内部错误"))
}

pub(crate) async fn audit_read(
    state: &AppState,
    caller: &Caller,
    action: &str,
    subject: &str,
    reason: &str,
) -> Result<(), ApiError> {
    state.store.execute(yibao_app::access::audit(caller.actor(), action, subject.into(), reason.into())).await?;
    Ok(())
}

pub(crate) async fn load_person(state: &AppState, psn_no: &str) -> Result<Person, ApiError> {
    let number: PersonNo = parse("psn_no", psn_no)?;
    state
        .store
        .read(move |r| r.person(&number))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no person {psn_no}")))
}

/// A person's own records at the agency (life events, payouts, reimbursements, disputes,
/// registrations, notifications): the person or an operator, whose read is audited as `action`;
/// institutions have no business with them (403, `what` named).
pub(crate) async fn own_records(
    state: &AppState,
    caller: &Caller,
    psn_no: &str,
    action: &str,
    what: &str,
) -> Result<Person, ApiError> {
    if matches!(caller, Caller::Institution(_)) {
        return Err(ApiError::forbidden(format!("institutions may not read a person's {what}")));
    }
    caller.may_read_person(psn_no)?;
    let person = load_person(state, psn_no).await?;
    if !matches!(caller, Caller::Person { .. }) {
        audit_read(state, caller, action, psn_no, "").await?;
    }
    Ok(person)
}

/// The rows of a desk's queue reader: those in a state, oldest first, at most so many.
pub(crate) type QueueRead<T> =
    fn(&mut yibao_store::Reader<'_>, &str, u64) -> Result<Vec<T>, yibao_engine::StoreFailure>;

/// An operator's queue (payouts, reimbursements, disputes in a state): the state asked, one of
/// `allowed` (the first by default; 400 otherwise), at most `limit` rows (100 by default, at
/// most [`PAGE_SIZE_MAX`]), read by `read` and the read audited as `action`.
pub(crate) async fn queue<T: Send + 'static>(
    state: &AppState,
    caller: &Caller,
    wanted: Option<String>,
    limit: Option<u64>,
    allowed: &[&str],
    action: &str,
    read: QueueRead<T>,
) -> Result<(String, Vec<T>), ApiError> {
    caller.operator()?;
    let wanted = wanted.unwrap_or_else(|| allowed[0].to_string());
    if !allowed.contains(&wanted.as_str()) {
        return Err(ApiError::invalid(
            format!("state {wanted:?} is not one of {}", allowed.join(", ")),
            format!("状态须为{}之一", allowed.join("、")),
        ));
    }
    let limit = limit.unwrap_or(100).clamp(1, PAGE_SIZE_MAX);
    let filter = wanted.clone();
    let rows = state.store.read(move |r| read(r, &filter, limit)).await?;
    audit_read(state, caller, action, &wanted, "").await?;
    Ok((wanted, rows))
}

/// Whether a `format=` query asks for the other form than JSON (`other`: `csv` or `pdf`), the
/// default being JSON; anything else is a 400 naming both.
pub(crate) fn wants(format: Option<&str>, other: &str) -> Result<bool, ApiError> {
    match format.unwrap_or("json") {
        "json" => Ok(false),
        asked if asked == other => Ok(true),
        asked => Err(ApiError::invalid(
            format!("format {asked:?} is neither json nor {other}"),
            format!("格式须为json或{other}"),
        )),
    }
}

//! A person's inbox (R5): the notifications written with their causes (settlements, credits,
//! payouts, reimbursements, a low balance, a card lost or ready).

use std::sync::Arc;

use super::error::{Path, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::PersonNo;
use yibao_engine::Outcome;
use yibao_engine::commands::MarkRead;
use yibao_engine::records::Notification;

use super::caller::Caller;
use super::common::{PAGE_SIZE_MAX, body, ok, own_records, parse, unexpected};
use super::error::ApiError;
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    router
        .route("/api/v1/persons/{psn_no}/notifications", get(list))
        .route("/api/v1/persons/{psn_no}/notifications/read", post(mark_read))
}

pub(crate) fn notification_json(notification: &Notification) -> Value {
    json!({
        "id": notification.id,
        "kind": notification.kind.code(),
        "at": notification.at.to_string(),
        "text": notification.text_zh,
        "text_en": notification.text_en,
        "read_at": notification.read_at.map(|at| at.to_string()),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    unread: Option<bool>,
    limit: Option<u64>,
}

/// A person's notifications, newest first: the person or an operator (audited).
async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let person = own_records(&state, &caller, &psn_no, "read-notifications", "notifications").await?;
    let limit = query.limit.unwrap_or(50).clamp(1, PAGE_SIZE_MAX);
    let unread_only = query.unread.unwrap_or(false);
    let number = person.psn_no.clone();
    let (rows, unread) = state
        .store
        .read(move |r| Ok((r.notifications_of(&number, unread_only, limit)?, r.unread_count(&number)?)))
        .await?;
    Ok(ok(
        json!({"psn_no": psn_no, "unread": unread, "notifications": rows.iter().map(notification_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadRequest {
    /// The notifications read; all (the newest 500) when absent.
    ids: Option<Vec<String>>,
}

/// Marks notifications read: only the person, for their own inbox.
async fn mark_read(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    if !matches!(caller, Caller::Person { .. }) {
        caller.operator()?;
        return Err(ApiError::forbidden("only the person marks their own notifications read"));
    }
    caller.may_read_person(&psn_no)?;
    let psn_no: PersonNo = parse("psn_no", &psn_no)?;
    let request: ReadRequest = if bytes.is_empty() { ReadRequest::default() } else { body(&bytes)? };
    // How many at once is the command's to say (at most READ_MAX); each id is bounded here.
    if let Some(ids) = &request.ids
        && ids.iter().any(|id| id.is_empty() || id.len() > 120)
    {
        return Err(ApiError::invalid("ids: each of 1 to 120 characters", "ids：每条1至120个字符"));
    }
    let count = mark(&state, psn_no, request.ids).await?;
    Ok(ok(json!({"marked": count})))
}

/// Marks a person's notifications read: those named, or all (the portal's inbox). How many
/// were unread.
pub(crate) async fn mark(state: &AppState, psn_no: PersonNo, ids: Option<Vec<String>>) -> Result<usize, ApiError> {
    match state.store.execute(MarkRead { psn_no, ids }).await? {
        Outcome::Marked(count) => Ok(count),
        _ => Err(unexpected()),
    }
}

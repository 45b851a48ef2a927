//! A person's insured life after enrolment (R3): life events recorded by an operator, listed
//! for the operator and the person.

use std::sync::Arc;

use super::error::Path;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::{Date, Money, PersonNo};
use yibao_engine::Outcome;
use yibao_engine::commands::{LifeChange, RecordLifeEvent};
use yibao_engine::records::{LifeEvent, LifeEventKind, PersonState};

use super::caller::Caller;
use super::common::{audit_read, body, created, load_person, ok, parse, unexpected};
use super::error::ApiError;
use super::wire;
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::get;
    router.route("/api/v1/persons/{psn_no}/life-events", get(list).post(record))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventRequest {
    /// One of [`LifeEventKind`]'s codes.
    kind: String,
    /// `YYYY-MM-DD`, today or earlier.
    effective: String,
    reason: String,
    /// employer-change: the new employer's code.
    employer: Option<String>,
    /// base-change: the new monthly base, yuan.
    base: Option<String>,
    /// transfer-out: the region the person moves to.
    region: Option<String>,
}

fn state_json(state: &PersonState) -> Value {
    json!({
        "psn_type": state.person_type.code(),
        "employer": state.employer,
        "contribution_base": state.contribution_base.map(wire::yuan),
        "status": state.status.code(),
    })
}

/// A life event on the wire.
pub(crate) fn event_json(event: &LifeEvent) -> Value {
    json!({
        "psn_no": event.psn_no.as_str(),
        "seq": event.seq,
        "kind": event.kind.code(),
        "kind_zh": event.kind.name_zh(),
        "effective": event.effective.to_string(),
        "recorded_at": event.recorded_at.to_string(),
        "actor": event.actor,
        "reason": event.reason,
        "before": state_json(&event.before),
        "after": state_json(&event.after),
        "region": event.region.as_ref().map(|region| region.as_str()),
    })
}

fn only(field: &'static str, value: Option<&String>, kind: LifeEventKind) -> Result<String, ApiError> {
    value.cloned().ok_or_else(|| {
        ApiError::invalid(format!("{} needs {field}", kind.code()), format!("{}须填写{field}", kind.name_zh()))
    })
}

/// Records a life event (operator): 201 with the event; the same event again answers it again.
async fn record(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let psn_no: PersonNo = parse("psn_no", &psn_no)?;
    let request: EventRequest = body(&bytes)?;
    let kind = LifeEventKind::parse(&request.kind).ok_or_else(|| {
        let codes: Vec<&str> = LifeEventKind::ALL.iter().map(|kind| kind.code()).collect();
        ApiError::invalid(
            format!("kind {:?} is not one of {}", request.kind, codes.join(", ")),
            format!("变更类型须为{}之一", codes.join("、")),
        )
    })?;
    let extras = [("employer", &request.employer), ("base", &request.base), ("region", &request.region)];
    let wanted = match kind {
        LifeEventKind::EmployerChange => Some("employer"),
        LifeEventKind::BaseChange => Some("base"),
        LifeEventKind::TransferOut => Some("region"),
        _ => None,
    };
    if let Some((field, _)) = extras.iter().find(|(field, value)| value.is_some() && Some(*field) != wanted) {
        return Err(ApiError::invalid(
            format!("{field} does not belong to a {} event", kind.code()),
            format!("{}不需要{field}", kind.name_zh()),
        ));
    }
    let change = match kind {
        LifeEventKind::EmployerChange => {
            let code = only("employer", request.employer.as_ref(), kind)?;
            if code.is_empty() || code.chars().count() > 40 {
                return Err(ApiError::invalid("employer must have 1 to 40 characters", "单位编号须为1至40个字符"));
            }
            LifeChange::Employer(code)
        }
        LifeEventKind::BaseChange => {
            LifeChange::Base(parse::<Money>("base", &only("base", request.base.as_ref(), kind)?)?)
        }
        LifeEventKind::Retirement => LifeChange::Retirement,
        LifeEventKind::Suspension => LifeChange::Suspension,
        LifeEventKind::Resumption => LifeChange::Resumption,
        LifeEventKind::Death => LifeChange::Death,
        LifeEventKind::Emigration => LifeChange::Emigration,
        LifeEventKind::TransferOut => {
            LifeChange::TransferOut(parse("region", &only("region", request.region.as_ref(), kind)?)?)
        }
    };
    let effective: Date = parse("effective", &request.effective)?;
    let command = RecordLifeEvent { psn_no, change, effective, reason: request.reason, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::LifeEvent(event) => Ok(created(event_json(&event))),
        _ => Err(unexpected()),
    }
}

/// A person's life events, in order: the person or an operator (audited).
async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    if matches!(caller, Caller::Institution(_)) {
        return Err(ApiError::forbidden("institutions may not read a person's life events"));
    }
    caller.may_read_person(&psn_no)?;
    let person = load_person(&state, &psn_no).await?;
    let number = person.psn_no.clone();
    let events = state.store.read(move |r| r.life_events(&number)).await?;
    if !matches!(&caller, Caller::Person { .. }) {
        audit_read(&state, &caller, "read-life-events", &psn_no, "").await?;
    }
    Ok(ok(json!({
        "psn_no": psn_no,
        "status": person.status.code(),
        "psn_type": person.person_type.code(),
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
    })))
}

//! Registrations at the agency (R6): special outpatient diseases (门诊慢特病备案, as 2503 from a
//! hospital) and treatment in another region (异地就医备案); listed and revocable.

use std::sync::Arc;

use super::error::Path;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::{Date, MsgId, PersonNo};
use yibao_engine::Outcome;
use yibao_engine::commands::{AgencyAct, RegisterDisease, RegisterElsewhere, RevokeDisease, RevokeElsewhere};
use yibao_engine::records::{DiseaseRegistration, ElsewhereKind, ElsewhereRegistration};

use super::caller::Caller;
use super::common::{body, created, ok, own_records, parse, unexpected};
use super::error::ApiError;
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    router
        .route("/api/v1/persons/{psn_no}/registrations", get(list).post(register))
        .route("/api/v1/persons/{psn_no}/registrations/{serial}/revoke", post(revoke))
        .route("/api/v1/reminders", post(remind))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemindRequest {
    /// The day to run for (default: today): today, or a missed day of the last month.
    on: Option<String>,
}

/// Runs the daily reminders now (operator): persons whose registrations end within 30 days of
/// `on` are told once. Idempotent: running it again the same day writes nothing more.
async fn remind(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: RemindRequest = if bytes.is_empty() { RemindRequest::default() } else { body(&bytes)? };
    let today = state.store.now().date();
    let on: Date = match &request.on {
        Some(text) => parse("on", text)?,
        None => today,
    };
    if on > today || today.days_since_epoch() - on.days_since_epoch() > 31 {
        return Err(ApiError::invalid(
            format!("on {on} must be today or a missed day of the last month"),
            "日期须为今天或过去一个月内漏跑的日子",
        ));
    }
    let sent = crate::reminders::remind_expiring(&state.store, on).await?;
    Ok(ok(
        json!({"on": on.to_string(), "until": on.plus_days(yibao_engine::commands::REMINDER_DAYS).to_string(), "sent": sent}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationRequest {
    /// `special-disease` or `elsewhere`.
    kind: String,
    /// special-disease: the disease code of the policy's list, and the designated institution
    /// the person chose for it.
    code: Option<String>,
    institution: Option<String>,
    /// elsewhere: the treating region and why (`resettled`, `long-term-residence`, `referral`).
    region: Option<String>,
    #[serde(rename = "type")]
    kind_of_stay: Option<String>,
    begin: String,
    /// special-disease: open-ended when absent.
    end: Option<String>,
    reason: String,
}

pub(crate) fn disease_json(registration: &DiseaseRegistration) -> Value {
    json!({
        "serial": registration.serial,
        "code": registration.code,
        "name": registration.name,
        "institution": registration.institution.as_str(),
        "begin": registration.begin.to_string(),
        "end": registration.end.to_string(),
        "revoked": registration.revoked,
    })
}

pub(crate) fn elsewhere_json(registration: &ElsewhereRegistration) -> Value {
    json!({
        "serial": registration.serial,
        "region": registration.region.as_str(),
        "type": registration.kind.code(),
        "type_zh": registration.kind.name_zh(),
        "begin": registration.begin.to_string(),
        "end": registration.end.to_string(),
        "registered_by": registration.registered_by,
        "registered_at": registration.registered_at.to_string(),
        "revoked": registration.revoked,
    })
}

fn needed(field: &str, value: Option<String>) -> Result<String, ApiError> {
    value.ok_or_else(|| ApiError::invalid(format!("{field} is required for this kind"), format!("须填写{field}")))
}

fn unwanted(fields: &[(&str, bool)]) -> Result<(), ApiError> {
    match fields.iter().find(|(_, present)| *present) {
        Some((field, _)) => Err(ApiError::invalid(
            format!("{field} does not belong to this kind of registration"),
            format!("该类备案不需要{field}"),
        )),
        None => Ok(()),
    }
}

/// Registers a person (operator): 201 with the registration.
async fn register(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let psn_no: PersonNo = parse("psn_no", &psn_no)?;
    let request: RegistrationRequest = body(&bytes)?;
    let begin: Date = parse("begin", &request.begin)?;
    let act = AgencyAct { actor: caller.actor(), reason: request.reason.clone() };
    match request.kind.as_str() {
        "special-disease" => {
            unwanted(&[("region", request.region.is_some()), ("type", request.kind_of_stay.is_some())])?;
            let end = match &request.end {
                Some(end) => parse("end", end)?,
                None => Date::FOREVER,
            };
            // A registration's message id: the agency's, never one an institution could send.
            let msgid: MsgId =
                parse("msgid", &format!("agency-{}", yibao_app::hex(&crate::kit::secret::random_bytes::<16>())))?;
            let command = RegisterDisease {
                institution: parse("institution", &needed("institution", request.institution)?)?,
                psn_no,
                code: needed("code", request.code)?,
                begin,
                end,
                msgid,
                agency: Some(act),
            };
            match state.store.execute(command).await? {
                Outcome::Registration(registration) => Ok(created(disease_json(&registration))),
                _ => Err(unexpected()),
            }
        }
        "elsewhere" => {
            unwanted(&[("code", request.code.is_some()), ("institution", request.institution.is_some())])?;
            let kind_text = needed("type", request.kind_of_stay)?;
            let kind = ElsewhereKind::parse(&kind_text).ok_or_else(|| {
                ApiError::invalid(
                    format!("type {kind_text:?} is not resettled, long-term-residence or referral"),
                    "异地就医类型须为resettled、long-term-residence或referral",
                )
            })?;
            let command = RegisterElsewhere {
                psn_no,
                region: parse("region", &needed("region", request.region)?)?,
                kind,
                begin,
                end: parse("end", &needed("end", request.end)?)?,
                reason: request.reason,
                actor: caller.actor(),
            };
            match state.store.execute(command).await? {
                Outcome::Elsewhere(registration) => Ok(created(elsewhere_json(&registration))),
                _ => Err(unexpected()),
            }
        }
        other => Err(ApiError::invalid(
            format!("kind {other:?} is neither special-disease nor elsewhere"),
            "备案类型须为special-disease或elsewhere",
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    reason: String,
}

/// Revokes a registration (operator): an agency revokes any, whoever made it.
async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((psn_no, serial)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let psn_no: PersonNo = parse("psn_no", &psn_no)?;
    if serial.is_empty() || serial.len() > 40 {
        return Err(ApiError::invalid("a serial has 1 to 40 characters", "备案流水号须为1至40个字符"));
    }
    let request: RevokeRequest = body(&bytes)?;
    if serial.starts_with("YD") {
        let number = psn_no.clone();
        let owned = state.store.read(move |r| r.elsewhere_of(&number)).await?;
        if !owned.iter().any(|registration| registration.serial == serial) {
            return Err(ApiError::not_found(format!("person {psn_no} has no registration {serial}")));
        }
        let command = RevokeElsewhere { serial, reason: request.reason, actor: caller.actor() };
        return match state.store.execute(command).await? {
            Outcome::Elsewhere(registration) => Ok(ok(elsewhere_json(&registration))),
            _ => Err(unexpected()),
        };
    }
    let act = AgencyAct { actor: caller.actor(), reason: request.reason };
    // The institution is the registration's own; the agency may revoke it.
    let number = psn_no.clone();
    let registrations = state.store.read(move |r| r.registrations(&number)).await?;
    let Some(found) = registrations.into_iter().find(|registration| registration.serial == serial) else {
        return Err(ApiError::not_found(format!("person {psn_no} has no registration {serial}")));
    };
    let command = RevokeDisease { institution: found.institution, psn_no, serial, agency: Some(act) };
    match state.store.execute(command).await? {
        Outcome::Registration(registration) => Ok(ok(disease_json(&registration))),
        _ => Err(unexpected()),
    }
}

/// A person's registrations, revoked ones too: the person or an operator (audited; institutions
/// query them over the national interface, 5301).
async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    let person = own_records(&state, &caller, &psn_no, "read-registrations", "registrations").await?;
    let number = person.psn_no.clone();
    let (diseases, elsewhere) =
        state.store.read(move |r| Ok((r.registrations(&number)?, r.elsewhere_of(&number)?))).await?;
    Ok(ok(json!({
        "psn_no": psn_no,
        "special_diseases": diseases.iter().map(disease_json).collect::<Vec<_>>(),
        "elsewhere": elsewhere.iter().map(elsewhere_json).collect::<Vec<_>>(),
    })))
}

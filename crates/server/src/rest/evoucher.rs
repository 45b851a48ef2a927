//! The e-voucher for the insured person (R5): activation through a channel app with the payment
//! password and a face check, and dynamic QR codes as JSON, SVG or PNG.
//!
//! A QR code is `<admdvs>ec<32 random hex>`: opaque, no personal data, valid
//! [`QR_SECONDS`] seconds, good for one decoding. Only its SHA-256 is stored; the code itself
//! exists only in this response.

use std::sync::Arc;

use super::error::{Path, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use yibao_domain::PersonNo;
use yibao_engine::Outcome;
use yibao_engine::commands::{ActivateEVoucher, QR_SECONDS};
use yibao_engine::records::Person;

use super::caller::Caller;
use super::common::{body, hash_secret, load_person, ok, parse, unexpected};
use super::error::ApiError;
use crate::kit::face::{FaceVerdict, PROBE_MAX_BYTES};
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    router
        .route("/api/v1/evoucher", get(status))
        .route("/api/v1/evoucher/activation", post(activate))
        .route("/api/v1/evoucher/qr-codes", post(issue_qr))
        .route("/api/v1/evoucher/suspension", post(suspend))
        .route("/api/v1/persons/{psn_no}/evoucher/suspension", post(suspend_for))
}

/// The insured person behind the session (not one still limited to changing the password).
fn holder(caller: &Caller) -> Result<PersonNo, ApiError> {
    match caller {
        Caller::Person { psn_no, .. } => {
            caller.may_read_person(psn_no)?;
            parse("psn_no", psn_no)
        }
        Caller::Anonymous => Err(ApiError::unauthenticated("log in as the insured person")),
        _ => Err(ApiError::forbidden("only the insured person uses their e-voucher")),
    }
}

/// Decodes a base64 face image and asks the verifier about it.
pub async fn check_face(state: &AppState, person: Person, image: &str) -> Result<(), ApiError> {
    if image.len() > PROBE_MAX_BYTES * 4 / 3 + 4 {
        return Err(ApiError::invalid("the face image is larger than 2 MiB", "人脸图像超过2MB"));
    }
    let probe = base64::engine::general_purpose::STANDARD
        .decode(image.trim())
        .map_err(|_| ApiError::invalid("face_image is not base64", "人脸图像不是合法的Base64"))?;
    let verifier = state.face.clone();
    let verdict = tokio::task::spawn_blocking(move || verifier.verify(&person, &probe))
        .await
        .unwrap_or_else(|_| FaceVerdict::Unavailable("the verifier failed".into()));
    match verdict {
        FaceVerdict::Match => Ok(()),
        FaceVerdict::NoMatch => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "face_mismatch",
            "the face does not match the insured person",
            "人脸核验未通过",
        )),
        FaceVerdict::Unavailable(why) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the face service is unavailable: {why}"),
            "人脸核验服务暂不可用，请稍后重试",
        )),
    }
}

async fn status(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
    let psn_no = holder(&caller)?;
    let lookup = psn_no.clone();
    let voucher = state.store.read(move |r| r.evoucher(&lookup)).await?;
    Ok(ok(json!({
        "psn_no": psn_no.as_str(),
        "activated": voucher.is_some(),
        "suspended": voucher.as_ref().is_some_and(yibao_engine::records::EVoucher::is_suspended),
        "channel": voucher.as_ref().map(|v| v.channel.clone()),
        "activated_at": voucher.as_ref().map(|v| v.activated_at.to_string()),
    })))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Suspension {
    reason: Option<String>,
}

fn suspension_reason(bytes: &Bytes) -> Result<String, ApiError> {
    let request: Suspension = if bytes.is_empty() { Suspension::default() } else { body(bytes)? };
    let reason = request.reason.unwrap_or_else(|| "lost phone".into());
    match reason.trim().chars().count() {
        1..=200 => Ok(reason.trim().to_string()),
        _ => Err(ApiError::invalid("reason must have 1 to 200 characters", "原因须为1至200个字符")),
    }
}

/// The holder suspends their e-voucher (a lost phone): every code dies at once, no new one is
/// issued until it is activated again with a face check. The card is not touched.
async fn suspend(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    let psn_no = holder(&caller)?;
    let reason = suspension_reason(&bytes)?;
    suspended(&state, psn_no, caller.actor(), reason).await
}

/// The agency suspends a person's e-voucher (the person called in).
async fn suspend_for(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let psn_no: PersonNo = parse("psn_no", &psn_no)?;
    let reason = suspension_reason(&bytes)?;
    suspended(&state, psn_no, caller.actor(), reason).await
}

async fn suspended(state: &AppState, psn_no: PersonNo, actor: String, reason: String) -> Result<Response, ApiError> {
    let command = yibao_app::evoucher::suspend(psn_no.clone(), actor, reason);
    match state.store.execute(command).await? {
        Outcome::EVoucher(_) => Ok(ok(json!({"psn_no": psn_no.as_str(), "suspended": true}))),
        _ => Err(unexpected()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Activation {
    /// `wechat`, `alipay` or `agency-app`.
    channel: String,
    /// The e-voucher's payment password: 6 digits.
    payment_password: String,
    /// The face captured by the channel app, base64.
    face_image: String,
}

async fn activate(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    let psn_no = holder(&caller)?;
    let request: Activation = body(&bytes)?;
    let password = &request.payment_password;
    if password.len() != 6 || !password.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid("payment_password must be 6 digits", "支付密码须为6位数字"));
    }
    let person = load_person(&state, psn_no.as_str()).await?;
    if !yibao_engine::commands::CHANNELS.contains(&request.channel.as_str()) {
        return Err(ApiError::invalid(
            format!("channel {:?} is not wechat, alipay or agency-app", request.channel),
            "激活渠道须为wechat、alipay或agency-app",
        ));
    }
    check_face(&state, person, &request.face_image).await?;
    let password_hash = hash_secret(&state, request.payment_password.clone()).await?;
    let command = ActivateEVoucher { psn_no: psn_no.clone(), channel: request.channel.clone(), password_hash };
    match state.store.execute(command).await? {
        Outcome::EVoucher(voucher) => Ok(ok(json!({
            "psn_no": psn_no.as_str(),
            "activated": true,
            "channel": voucher.channel,
            "activated_at": voucher.activated_at.to_string(),
        }))),
        _ => Err(unexpected()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QrFormat {
    /// `json` (default: the code, its life and an SVG), `svg` or `png`.
    format: Option<String>,
}

async fn issue_qr(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<QrFormat>,
) -> Result<Response, ApiError> {
    let psn_no = holder(&caller)?;
    let format = query.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "svg" | "png") {
        return Err(ApiError::invalid("format must be json, svg or png", "格式须为json、svg或png"));
    }
    let person = load_person(&state, psn_no.as_str()).await?;
    let (code, command) = yibao_app::evoucher::qr_code(&person.admdvs, psn_no, crate::kit::secret::random_bytes());
    let Outcome::Grant(grant) = state.store.execute(command).await? else {
        return Err(unexpected());
    };
    let image_error =
        |error: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", error, "系统内部错误");
    let expires = grant.expires_at.to_string();
    let no_store = (header::CACHE_CONTROL, "no-store".to_string());
    match format {
        "svg" => Ok((
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "image/svg+xml".to_string()), no_store, (header::EXPIRES, expires)],
            crate::kit::qr::svg(&code, 6).map_err(image_error)?,
        )
            .into_response()),
        "png" => Ok((
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "image/png".to_string()), no_store, (header::EXPIRES, expires)],
            crate::kit::qr::png(&code, 6).map_err(image_error)?,
        )
            .into_response()),
        _ => Ok((
            StatusCode::CREATED,
            [no_store],
            axum::Json(json!({
                "qr_code": code,
                "expires_at": expires,
                "expires_in": QR_SECONDS,
                "svg": crate::kit::qr::svg(&code, 6).map_err(image_error)?,
            })),
        )
            .into_response()),
    }
}

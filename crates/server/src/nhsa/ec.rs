//! The e-voucher front-end (`NationEcTransUrl`, reference §2): `POST /fsi/api/ec/trans`, signed
//! with the `x-tif-*` headers like the national interface.
//!
//! Request: `{"orgId", "transType", "data": {…}, "extra"}`. Success:
//! `{"code": 0, "data": "<JSON text>", "message": "成功", "orgId"}` (`data` is a JSON *string*,
//! as the national SDK returns it); a refusal: `{"code": <non-zero>, "message", "success": false}`.
//!
//! - `cn.nhsa.qrcode.get` / `ec.query`: `data.ecQrCode` (the code the terminal scanned) →
//!   the holder and an `ecToken` for this institution, valid for the visit (24 h). A code is
//!   good for one decoding; the same `outBizNo` from the same institution is a retry and gets
//!   the same answer.
//! - `cn.nhsa.ec.auth` (face pay): `data.idNo` + `data.faceImage` (base64) → `authNo`.
//! - `cn.nhsa.auth.check`: `data.authNo` → the holder and an `ecToken`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use yibao_domain::IdNumber;
use yibao_engine::Outcome;
use yibao_engine::commands::{AuthorizeFace, FACE_AUTH_SECONDS, RedeemGrant, grant_hash};
use yibao_engine::records::{GrantKind, Institution, Person};

use crate::state::AppState;

/// The largest request (a face image of up to 2 MiB, base64).
pub const BODY_MAX_BYTES: usize = 3 * 1024 * 1024;

/// The transaction types served.
pub const TRANS_TYPES: [&str; 4] = ["cn.nhsa.qrcode.get", "ec.query", "cn.nhsa.ec.auth", "cn.nhsa.auth.check"];

/// Refusal codes. 500159 is the national SDK's own for a code that is not a valid e-voucher.
const BAD_REQUEST: i64 = 500_100;
const BAD_SIGNATURE: i64 = 500_101;
const NOT_ACCEPTED: i64 = 500_102;
const INVALID_CODE: i64 = 500_159;
const FACE_REFUSED: i64 = 500_160;
const INVALID_AUTH: i64 = 500_161;
const UNAVAILABLE: i64 = 500_199;

struct Refusal {
    code: i64,
    message: String,
}

fn refuse(code: i64, message: impl Into<String>) -> Refusal {
    Refusal { code, message: message.into() }
}

impl From<yibao_engine::EngineError> for Refusal {
    fn from(error: yibao_engine::EngineError) -> Refusal {
        match error.kind {
            yibao_engine::ErrorKind::Internal | yibao_engine::ErrorKind::Unavailable => {
                tracing::warn!(error = %error.en, "e-voucher front-end failed");
                refuse(UNAVAILABLE, "医保电子凭证服务暂时不可用，请稍后重试")
            }
            _ => refuse(INVALID_CODE, error.zh),
        }
    }
}

impl From<yibao_engine::StoreFailure> for Refusal {
    fn from(failure: yibao_engine::StoreFailure) -> Refusal {
        tracing::warn!(%failure, "e-voucher front-end read failed");
        refuse(UNAVAILABLE, "医保电子凭证服务暂时不可用，请稍后重试")
    }
}

fn reply(body: &Value) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response()
}

pub async fn trans(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&app, &headers, &body).await {
        Ok((org_id, data)) => reply(&json!({"code": 0, "data": data.to_string(), "message": "成功", "orgId": org_id})),
        Err(refusal) => reply(&json!({"code": refusal.code, "message": refusal.message, "success": false})),
    }
}

fn text<'a>(data: &'a Value, field: &str) -> Result<Option<&'a str>, Refusal> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim())),
        Some(_) => Err(refuse(BAD_REQUEST, format!("data.{field}类型错误：应为字符串"))),
    }
}

fn required<'a>(data: &'a Value, field: &str) -> Result<&'a str, Refusal> {
    text(data, field)?.ok_or_else(|| refuse(BAD_REQUEST, format!("data.{field}不能为空")))
}

async fn handle(app: &Arc<AppState>, headers: &HeaderMap, body: &[u8]) -> Result<(String, Value), Refusal> {
    let institution =
        super::verify_signature(app, headers).await.map_err(|refusal| refuse(BAD_SIGNATURE, refusal.message))?;
    let request: Value =
        serde_json::from_slice(body).map_err(|error| refuse(BAD_REQUEST, format!("请求不是合法的JSON：{error}")))?;
    let org_id =
        request.get("orgId").and_then(Value::as_str).ok_or_else(|| refuse(BAD_REQUEST, "orgId不能为空"))?.to_string();
    if org_id != institution.code.as_str() {
        return Err(refuse(BAD_REQUEST, format!("orgId {org_id}与签名机构{}不符", institution.code)));
    }
    let trans_type =
        request.get("transType").and_then(Value::as_str).ok_or_else(|| refuse(BAD_REQUEST, "transType不能为空"))?;
    let data = match request.get("data") {
        Some(Value::Object(_)) => request["data"].clone(),
        Some(Value::String(text)) => serde_json::from_str(text)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| refuse(BAD_REQUEST, "data类型错误：应为JSON对象"))?,
        _ => return Err(refuse(BAD_REQUEST, "data不能为空")),
    };
    if let Some(business) = text(&data, "businessType")?
        && (business.len() != 5 || !business.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(refuse(BAD_REQUEST, "data.businessType须为5位数字（用码业务类型）"));
    }
    if let Some(reference) = text(&data, "outBizNo")?
        && reference.len() > 64
    {
        return Err(refuse(BAD_REQUEST, "data.outBizNo不能超过64位"));
    }
    if !institution.accepts_evoucher {
        return Err(refuse(NOT_ACCEPTED, format!("定点医药机构{}未开通医保电子凭证", institution.code)));
    }
    let answer = match trans_type {
        "cn.nhsa.qrcode.get" | "ec.query" => {
            let code = required(&data, "ecQrCode")?;
            redeem(app, &institution, code, GrantKind::QrCode, text(&data, "outBizNo")?).await?
        }
        "cn.nhsa.auth.check" => {
            let auth_no = required(&data, "authNo")?;
            if auth_no.len() > 128 {
                return Err(refuse(INVALID_AUTH, "刷脸授权无效或已过期，请重新刷脸"));
            }
            redeem(app, &institution, auth_no, GrantKind::FaceAuth, text(&data, "outBizNo")?).await?
        }
        "cn.nhsa.ec.auth" => face_auth(app, &institution, &data).await?,
        other => {
            return Err(refuse(BAD_REQUEST, format!("transType {other}不支持，可用：{}", TRANS_TYPES.join("、"))));
        }
    };
    Ok((org_id, answer))
}

/// The `ecToken` an institution gets for a code: `<holder's region>ec<32 hex>`, the hex derived
/// from the code with the server secret, so a retry with the same code gets the same token and
/// nothing but the token's hash is stored.
fn ec_token(app: &AppState, region: &str, code: &str, institution: &Institution) -> String {
    let mac = app.secrets.mac(format!("ecToken\n{code}\n{}", institution.code).as_bytes());
    format!("{region}ec{}", &yibao_app::hex(&mac)[..32])
}

async fn redeem(
    app: &Arc<AppState>,
    institution: &Institution,
    code: &str,
    kind: GrantKind,
    reference: Option<&str>,
) -> Result<Value, Refusal> {
    let invalid = || match kind {
        GrantKind::FaceAuth => refuse(INVALID_AUTH, "刷脸授权无效或已过期，请重新刷脸"),
        _ => refuse(INVALID_CODE, "请使用有效的医保电子凭证二维码（二维码无效、已使用或已过期）"),
    };
    // A QR code that is not even shaped like one is refused like any other bad code.
    if kind == GrantKind::QrCode && code.parse::<yibao_domain::EcCode>().is_err() {
        return Err(invalid());
    }
    // The token carries the holder's region: find the holder first (a grant's holder never
    // changes; whether the code is still good is decided by the writer).
    let hash = grant_hash(code);
    let lookup = hash.clone();
    let region = app
        .store
        .read(move |r| match r.grant(&lookup)? {
            Some(grant) => Ok(r.person(&grant.psn_no)?.map(|person| person.admdvs.to_string())),
            None => Ok(None),
        })
        .await?
        .ok_or_else(invalid)?;
    let token = ec_token(app, &region, code, institution);
    let command = RedeemGrant {
        hash,
        kind,
        institution: institution.code.clone(),
        token_hash: grant_hash(&token),
        reference: reference.map(str::to_string),
    };
    let outcome = app.store.execute(command).await.map_err(|error| match error.kind {
        yibao_engine::ErrorKind::Refused | yibao_engine::ErrorKind::NotFound => invalid(),
        _ => Refusal::from(error),
    })?;
    let Outcome::Person(person) = outcome else {
        return Err(refuse(UNAVAILABLE, "医保电子凭证服务内部错误"));
    };
    let psn_no = person.psn_no.clone();
    let channel = app.store.read(move |r| r.evoucher(&psn_no)).await?.map(|v| v.channel).unwrap_or_default();
    Ok(identity(app, &person, &token, &channel))
}

/// Who the decoded code names, for the institution that will treat them: the whole ID number
/// (its HIS copies `idNo` into 1101's `certno`, as it would 1101's own answer; a mask beside the
/// birthday would hide nothing).
fn identity(app: &AppState, person: &Person, token: &str, channel: &str) -> Value {
    let birth = person.id_number.birth_date();
    let index =
        yibao_app::hex(&app.secrets.mac(format!("ecIndexNo\n{}", person.psn_no).as_bytes()))[..32].to_uppercase();
    json!({
        "idNo": person.id_number.expose(),
        "idType": "01",
        "userName": person.name,
        "ecToken": token,
        "insuOrg": person.admdvs.as_str(),
        "ecIndexNo": index,
        "gender": match person.id_number.sex() { yibao_domain::Sex::Male => "男", yibao_domain::Sex::Female => "女" },
        "birthday": format!("{}.{:02}.{:02}", birth.year(), birth.month(), birth.day()),
        "nationality": "中国",
        "email": "",
        "chnlId": channel,
        "extData": {"psn_no": person.psn_no.as_str(), "tokenExpiresIn": yibao_engine::commands::EC_TOKEN_SECONDS},
    })
}

async fn face_auth(app: &Arc<AppState>, institution: &Institution, data: &Value) -> Result<Value, Refusal> {
    let id_text = required(data, "idNo")?;
    let id: IdNumber = id_text.parse().map_err(|error: yibao_domain::ParseError| {
        refuse(BAD_REQUEST, format!("data.idNo格式错误：{}", error.problem_zh()))
    })?;
    let image = required(data, "faceImage")?;
    let refused = || refuse(FACE_REFUSED, "人脸核验未通过");
    let person = app.store.read(move |r| r.person_by_id_number(id.expose())).await?.ok_or_else(refused)?;
    crate::rest::check_face(app, person.clone(), image).await.map_err(|error| match error.status {
        StatusCode::SERVICE_UNAVAILABLE => refuse(UNAVAILABLE, error.message_zh),
        StatusCode::BAD_REQUEST => refuse(BAD_REQUEST, error.message_zh),
        _ => refused(),
    })?;
    let auth_no = yibao_app::hex(&crate::kit::secret::random_bytes::<16>());
    let command = AuthorizeFace {
        psn_no: person.psn_no.clone(),
        institution: institution.code.clone(),
        hash: grant_hash(&auth_no),
    };
    app.store.execute(command).await.map_err(|error| match error.kind {
        yibao_engine::ErrorKind::Refused | yibao_engine::ErrorKind::NotFound => refuse(FACE_REFUSED, error.zh),
        _ => Refusal::from(error),
    })?;
    Ok(
        json!({"authNo": auth_no, "expiresIn": FACE_AUTH_SECONDS, "userName": person.name, "idNo": person.id_number.masked()}),
    )
}

/// Decodes a QR code scanned at `institution`'s counter, as `cn.nhsa.qrcode.get` does (the code
/// is then used): the holder's person number and the `ecToken` for this visit, or why not.
pub(crate) async fn decode_at_counter(
    app: &Arc<AppState>,
    institution: &Institution,
    code: &str,
) -> Result<(String, String), String> {
    if !institution.accepts_evoucher {
        return Err(format!("定点医药机构{}未开通医保电子凭证", institution.code));
    }
    let identity = redeem(app, institution, code, GrantKind::QrCode, None).await.map_err(|refusal| refusal.message)?;
    let psn_no = identity["extData"]["psn_no"].as_str().unwrap_or_default().to_string();
    let token = identity["ecToken"].as_str().unwrap_or_default().to_string();
    Ok((psn_no, token))
}

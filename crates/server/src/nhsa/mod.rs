//! The national interface (定点医药机构接口): `POST /fsi/api/rsfComIfsService/callService`.
//!
//! A message is authenticated (`x-tif-*` signature), its envelope parsed, its `fixmedins_code`
//! checked against the signer, and its `infno` dispatched to a transaction. Writes run through
//! the store's writer with the msgid as idempotency key, the response stored in the same
//! commit; reads are recorded too, so a repeated msgid answers exactly as before and a
//! reused msgid with another input is refused. Business errors are HTTP 200 with
//! `infcode: -1` and a Chinese `err_msg`; a bad signature is HTTP 401; nothing is a 500.

mod auth;
mod call;
pub mod ec;
mod error;
pub mod fields;
pub(crate) mod files;
pub mod infno;
pub mod render;
mod tx;

use call::json_response;
pub use call::{
    Answer, Call, Envelope, MSGID_SUFFIX_MAX, MSGID_SUFFIX_MIN, Output, ResponseMeta, WarnedOutput, check_msgid_form,
    verify_signature,
};
pub use error::NhsaError;
pub use infno::Infno;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use yibao_engine::records::Institution;

use crate::state::AppState;

/// The largest message accepted (a 1 000-line bill is about 700 KB).
pub const BODY_MAX_BYTES: usize = 4 * 1024 * 1024;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/fsi/api/rsfComIfsService/callService", post(call_service))
        .route("/fsi/api/rsfComIfsService/callService/{infno}", post(call_service_with_code))
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
        .merge(
            Router::new().route("/fsi/api/ec/trans", post(ec::trans)).layer(DefaultBodyLimit::max(ec::BODY_MAX_BYTES)),
        )
}

async fn call_service(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(app, None, &headers, &body).await
}

async fn call_service_with_code(
    State(app): State<Arc<AppState>>,
    Path(infno): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(app, Some(infno), &headers, &body).await
}

async fn handle(app: Arc<AppState>, path_infno: Option<String>, headers: &HeaderMap, body: &[u8]) -> Response {
    let started = std::time::Instant::now();
    let institution = match auth::verify(&app, headers).await {
        Ok(institution) => institution,
        Err(refusal) => {
            app.metrics.record_nhsa("auth", false, started.elapsed());
            let meta = ResponseMeta::new("000000");
            return json_response(StatusCode::UNAUTHORIZED, meta.failure(&refusal.message));
        }
    };
    let meta = ResponseMeta::new(institution.admdvs.as_str());
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let unpacked = match files::boundary(content_type) {
        Some(boundary) => {
            files::parse_multipart(body, &boundary).map(|parts| (parts.json.unwrap_or_default(), parts.file))
        }
        None if files::is_form(content_type) => files::form_envelope(body).map(|json| (json, None)),
        None => Ok((body.to_vec(), None)),
    };
    let (json, upload) = match unpacked {
        Ok(unpacked) => unpacked,
        Err(error) => {
            app.metrics.record_nhsa("unknown", false, started.elapsed());
            return json_response(StatusCode::OK, meta.failure(&error.message));
        }
    };
    let parsed = match serde_json::from_slice::<Value>(&json) {
        Ok(value) => Envelope::parse(&value),
        Err(error) => Err(NhsaError::new(format!("报文不是合法的JSON：{error}"))),
    };
    let infno = parsed.as_ref().map_or_else(|_| "unknown".to_string(), |e| e.infno.clone());
    let result = match parsed {
        Err(error) => Err(error),
        Ok(envelope) => check_and_dispatch(app.clone(), institution, envelope, meta.clone(), path_infno, upload).await,
    };
    app.metrics.record_nhsa(&infno, result.is_ok(), started.elapsed());
    match result {
        Ok(Answer::Body(body)) => json_response(StatusCode::OK, body),
        Ok(Answer::File { name, content }) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (header::CONTENT_DISPOSITION, files::content_disposition(&name)),
            ],
            content,
        )
            .into_response(),
        Err(error) => {
            tracing::info!(
                infno = %crate::kit::logtext::loggable(&infno),
                error = %crate::kit::logtext::loggable(&error.message),
                "refused"
            );
            json_response(StatusCode::OK, meta.failure(&error.message))
        }
    }
}

async fn check_and_dispatch(
    app: Arc<AppState>,
    institution: Institution,
    envelope: Envelope,
    meta: ResponseMeta,
    path_infno: Option<String>,
    upload: Option<(Option<String>, Vec<u8>)>,
) -> Result<Answer, NhsaError> {
    if let Some(path_infno) = path_infno
        && path_infno != envelope.infno
    {
        return Err(NhsaError::new(format!("地址中的交易编号{path_infno}与报文infno {}不一致", envelope.infno)));
    }
    if envelope.fixmedins_code != institution.code {
        return Err(NhsaError::new(format!(
            "定点医药机构编号fixmedins_code {}与认证的机构{}不一致",
            envelope.fixmedins_code, institution.code
        )));
    }
    check_msgid_form(&envelope.msgid, &institution.code)?;
    if envelope.mdtrtarea_admvs != institution.admdvs {
        return Err(NhsaError::new(format!(
            "就医地医保区划mdtrtarea_admvs {}与机构所在统筹区{}不一致",
            envelope.mdtrtarea_admvs, institution.admdvs
        )));
    }
    let call = Call { app, institution, envelope, meta, upload };
    tx::dispatch(&call).await
}

#[cfg(test)]
mod tests {
    use super::Infno;

    const GUIDE: &str = include_str!("../../../../docs/nhsa.md");

    #[test]
    fn the_guide_lists_and_shows_every_supported_transaction() {
        for (code, name) in Infno::ALL.iter().map(|t| (t.code(), t.name())) {
            assert!(
                GUIDE.contains(&format!("| {code}")) || GUIDE.contains(&format!(", {code} |")),
                "docs/nhsa.md lists no {code} {name}"
            );
            if code != "2203A" {
                assert!(GUIDE.contains(&format!("### {code} ")), "docs/nhsa.md has no example of {code} {name}");
            }
        }
    }
}

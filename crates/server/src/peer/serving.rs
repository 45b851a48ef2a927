//! The insured side: answering peers.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use yibao_app::SettlementRef;
use yibao_domain::{Admdvs, CertType, InstitutionCode, MsgId, PersonNo, SetlId};
use yibao_engine::commands::{PeerSettle, SettleRequest};
use yibao_engine::records::{Certificate, PersonStatus};
use yibao_engine::{EngineError, ErrorKind, Outcome, Reply};
use yibao_store::exchange;

use super::client::{BODY_MAX_BYTES, Peer, WINDOW_SECONDS, signature};
use crate::nhsa::infno::Infno;
use crate::state::AppState;

/// The peer exchange (mounted only when peers are configured). A request that does not claim
/// a configured peer with a fresh timestamp and a well-formed signature is refused before its
/// body is read; the signature over the body is checked once it is.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/peer/v1/person", post(person))
        .route("/peer/v1/settle", post(peer_settle))
        .route("/peer/v1/cancel", post(peer_cancel))
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
        .layer(axum::middleware::from_fn_with_state(state, precheck))
}

async fn precheck(
    State(app): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("");
    let known = text("x-yibao-peer").parse::<Admdvs>().is_ok_and(|region| app.peers.get(&region).is_some());
    let fresh = text("x-yibao-timestamp")
        .parse::<i64>()
        .is_ok_and(|at| crate::kit::clock::unix_now().abs_diff(at) <= WINDOW_SECONDS.unsigned_abs());
    let signed =
        text("x-yibao-signature").len() == 64 && text("x-yibao-signature").bytes().all(|b| b.is_ascii_hexdigit());
    match known && fresh && signed {
        true => next.run(request).await,
        false => refuse(StatusCode::UNAUTHORIZED, "对端系统认证失败").into_response(),
    }
}

/// A refused peer request: its status and Chinese message.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"error": self.message}))).into_response()
    }
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal { status, message: message.into() }
}

fn engine_refusal(error: &EngineError) -> Refusal {
    match error.kind {
        ErrorKind::Internal | ErrorKind::Unavailable => {
            tracing::warn!(error = %error.en, "peer request failed");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "参保地医保服务暂时不可用")
        }
        _ => refuse(StatusCode::UNPROCESSABLE_ENTITY, error.zh.clone()),
    }
}

/// The refusal when a peer speaks another wire format than [`exchange::FORMAT`] (a missing
/// header: format 1, before formats were named).
fn format_refusal(peer: &Admdvs, theirs: &str) -> String {
    let theirs = if theirs.is_empty() { "1" } else { theirs };
    format!(
        "参保地{peer}与本地医保系统的跨域交换格式版本不一致（对方{theirs}，本地{}），请双方升级到同一版本后再办理",
        exchange::FORMAT
    )
}

/// The calling peer, when its signature holds.
fn authenticate<'a>(app: &'a AppState, headers: &HeaderMap, path: &str, body: &[u8]) -> Result<&'a Peer, Refusal> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("");
    let unauthorized = || refuse(StatusCode::UNAUTHORIZED, "对端系统认证失败");
    let region: Admdvs = text("x-yibao-peer").parse().map_err(|_| unauthorized())?;
    let peer = app.peers.get(&region).ok_or_else(unauthorized)?;
    let timestamp = text("x-yibao-timestamp");
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|at| crate::kit::clock::unix_now().abs_diff(at) <= WINDOW_SECONDS.unsigned_abs());
    let expected = signature(&peer.secret, timestamp, path, body);
    if !(fresh && crate::kit::secret::constant_time_equal(&expected, text("x-yibao-signature"))) {
        return Err(unauthorized());
    }
    // An authenticated peer on another wire format is told so; its body is not read.
    match text(exchange::FORMAT_HEADER) == exchange::FORMAT.to_string() {
        true => Ok(peer),
        false => Err(refuse(StatusCode::CONFLICT, format_refusal(&region, text(exchange::FORMAT_HEADER)))),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice(body)
        .map_err(|error| refuse(StatusCode::BAD_REQUEST, format!("请求不是合法的JSON：{error}")))
}

fn field<T: std::str::FromStr>(value: &Value, name: &str) -> Result<T, Refusal> {
    value[name]
        .as_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, format!("{name}缺失或格式错误")))
}

fn optional<T: std::str::FromStr>(value: &Value, name: &str) -> Result<Option<T>, Refusal> {
    match &value[name] {
        Value::Null => Ok(None),
        Value::String(text) => {
            text.parse().map(Some).map_err(|_| refuse(StatusCode::BAD_REQUEST, format!("{name}格式错误")))
        }
        _ => Err(refuse(StatusCode::BAD_REQUEST, format!("{name}格式错误"))),
    }
}

async fn person(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    let caller = authenticate(&app, &headers, PERSON_PATH, &body)?.clone();
    let peer = caller.admdvs.clone();
    let request = parse_body(&body)?;
    let kind = request["cert_type"].as_str().and_then(|code| code.parse::<CertType>().ok());
    let number = request["cert_no"].as_str().unwrap_or("").to_string();
    let card_sn = request["card_sn"].as_str().map(str::to_string);
    let found = app
        .store
        .read(move |r| {
            let person = match kind {
                Some(CertType::IdNumber) => r.person_by_id_number(&number.to_ascii_uppercase())?,
                Some(CertType::Card) => {
                    match number.parse().ok().map(|card_no| r.card(&card_no)).transpose()?.flatten() {
                        Some(card) if card_sn.as_deref() == Some(card.card_sn.as_str()) => r.person(&card.psn_no)?,
                        _ => None,
                    }
                }
                _ => None,
            };
            let Some(person) = person.filter(|person| person.status == PersonStatus::Active) else {
                return Ok(None);
            };
            let (current, prior) = r.balances(&person.psn_no)?;
            let employer = match &person.employer {
                Some(code) => r.employer(code)?.map(|e| e.name),
                None => None,
            };
            Ok(Some((person, current + prior, employer)))
        })
        .await
        .map_err(|failure| {
            tracing::warn!(%failure, "peer person lookup failed");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "参保地医保服务暂时不可用")
        })?;
    let Some((person, balance, employer)) = found else {
        return Ok(answer_bytes(&caller, PERSON_PATH, json!({"person": null}).to_string().into_bytes()));
    };
    let audit = yibao_app::access::audit(
        format!("peer:{peer}"),
        "peer-read-person",
        person.psn_no.to_string(),
        "异地就医人员信息查询".to_string(),
    );
    app.store.execute(audit).await.map_err(|error| engine_refusal(&error))?;
    let answer = json!({
        "person": exchange::person(&person),
        "balance": balance.to_string(),
        "employer_name": employer,
    });
    Ok(answer_bytes(&caller, PERSON_PATH, answer.to_string().into_bytes()))
}

/// The request hash a peer's message is stored under: the treating side's, so a retry is
/// recognised as the same business and anything else under that msgid is refused.
fn envelope(
    request: &Value,
    institution: &InstitutionCode,
    infno: Infno,
    render: yibao_engine::commands::Render,
) -> Result<yibao_engine::Envelope, Refusal> {
    let request_hash = request["request_hash"].as_str().unwrap_or("").to_string();
    if request_hash.is_empty() || request_hash.len() > 128 {
        return Err(refuse(StatusCode::BAD_REQUEST, "request_hash缺失"));
    }
    let idempotency = yibao_app::Idempotency {
        key: field(request, "msgid")?,
        institution: institution.clone(),
        channel: yibao_app::Channel::Peer(infno.code()),
        request_hash,
        reversible: false,
    };
    Ok(idempotency.envelope(render))
}

async fn peer_settle(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    let caller = authenticate(&app, &headers, SETTLE_PATH, &body)?.clone();
    let peer = caller.admdvs.clone();
    let request = parse_body(&body)?;
    let command = peer_settle_command(&request, &peer)?;
    let render: yibao_engine::commands::Render = Box::new(|outcome| match outcome {
        Outcome::Settlement(outcome) => {
            serde_json::to_vec(&json!({"settlement": exchange::settlement(&outcome.settlement)})).unwrap_or_default()
        }
        _ => Vec::new(),
    });
    let institution = command.institution.code.clone();
    // The transaction the treating side received: stored with the msgid, so one of its own.
    let infno = match request["infno"].as_str().map(|code| (code, Infno::parse(code))) {
        None => Infno::OutpatientSettle,
        Some((
            _,
            Some(
                infno @ (Infno::OutpatientPreSettle
                | Infno::OutpatientSettle
                | Infno::InpatientPreSettle
                | Infno::InpatientSettle),
            ),
        )) => infno,
        Some((other, _)) => return Err(refuse(StatusCode::BAD_REQUEST, format!("不支持的交易编号infno：{other}"))),
    };
    if request["dry_run"].as_bool() == Some(true) {
        return match yibao_app::run(&app.store, Box::new(command), yibao_app::Run::Preview).await {
            Ok(Reply::Done { outcome, .. }) => Ok(answer_bytes(&caller, SETTLE_PATH, render(&outcome))),
            Ok(Reply::Replayed(body)) => Ok(answer_bytes(&caller, SETTLE_PATH, body)),
            Err(error) => Err(engine_refusal(&error)),
        };
    }
    let envelope = envelope(&request, &institution, infno, render)?;
    let answer = submitted(&app, envelope, Box::new(command)).await?;
    still_in_force(&app, &caller, answer).await
}

/// A settlement answer, unless (replayed for a retry) its settlement has been cancelled since:
/// the treating side must never record a payment that no longer stands.
async fn still_in_force(app: &AppState, caller: &Peer, answer: (Vec<u8>, bool)) -> Result<Response, Refusal> {
    let (body, replayed) = answer;
    if replayed {
        let stored: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let record = &stored["settlement"];
        let decoded = match record.is_null() {
            // A stored refusal: nothing was settled.
            true => None,
            false => Some(exchange::decode_settlement(record).map_err(|_| {
                refuse(StatusCode::SERVICE_UNAVAILABLE, "参保地无法核对原结算的状态，请稍后用同一报文ID重试")
            })?),
        };
        if let Some(settlement) = decoded {
            let setl_id = settlement.setl_id.clone();
            let now = app
                .store
                .read(move |r| r.settlement(&setl_id))
                .await
                .map_err(|_| refuse(StatusCode::SERVICE_UNAVAILABLE, "参保地医保服务暂时不可用"))?;
            if !now.is_some_and(|settlement| settlement.is_in_force()) {
                return Err(refuse(
                    StatusCode::CONFLICT,
                    format!("结算{}已在参保地撤销，请用新的报文ID重新结算", settlement.setl_id),
                ));
            }
        }
    }
    Ok(answer_bytes(caller, SETTLE_PATH, body))
}

/// Runs a peer's write under its msgid: the answer, and whether it is the stored one of an
/// earlier try.
async fn submitted(
    app: &AppState,
    envelope: yibao_engine::Envelope,
    command: Box<dyn yibao_engine::Command>,
) -> Result<(Vec<u8>, bool), Refusal> {
    match yibao_app::run(&app.store, command, yibao_app::Run::Commit(envelope)).await {
        Ok(Reply::Done { body: Some(body), .. }) => Ok((body, false)),
        Ok(Reply::Replayed(body)) => Ok((body, true)),
        Ok(Reply::Done { body: None, .. }) => Err(refuse(StatusCode::SERVICE_UNAVAILABLE, "未生成应答")),
        Err(error) => Err(engine_refusal(&error)),
    }
}

const PERSON_PATH: &str = "/peer/v1/person";
const SETTLE_PATH: &str = "/peer/v1/settle";
const CANCEL_PATH: &str = "/peer/v1/cancel";

/// An answer to a peer, signed like its request (over `answer:` + the path), so a forged or
/// altered answer on the way back is refused.
fn answer_bytes(peer: &Peer, path: &str, body: Vec<u8>) -> Response {
    let timestamp = crate::kit::clock::unix_now().to_string();
    let signed = signature(&peer.secret, &timestamp, &format!("answer:{path}"), &body);
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::HeaderName::from_static("x-yibao-timestamp"), timestamp),
            (header::HeaderName::from_static("x-yibao-signature"), signed),
            (header::HeaderName::from_static(exchange::FORMAT_HEADER), exchange::FORMAT.to_string()),
        ],
        body,
    )
        .into_response()
}

fn peer_settle_command(request: &Value, peer: &Admdvs) -> Result<PeerSettle, Refusal> {
    let bad = |what: &str, error: yibao_engine::StoreFailure| {
        refuse(StatusCode::BAD_REQUEST, format!("{what}无法识别：{error}"))
    };
    let mut institution = exchange::decode_institution(&request["institution"]).map_err(|e| bad("institution", e))?;
    if &institution.admdvs != peer {
        return Err(refuse(StatusCode::FORBIDDEN, format!("机构{}不属于对端统筹区{peer}", institution.code)));
    }
    // Nobody signs as this institution here: it talks to its own region's deployment.
    institution.gateway_secret = crate::kit::secret::token();
    let visit = exchange::decode_visit(&request["visit"]).map_err(|e| bad("visit", e))?;
    let lines = match &request["lines"] {
        Value::Array(lines) if lines.len() <= 20_000 => lines
            .iter()
            .map(|line| exchange::decode_line(line).map_err(|e| bad("lines", e)))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(refuse(StatusCode::BAD_REQUEST, "lines缺失或超过20000条")),
    };
    let settle = &request["settle"];
    let certificate = match (optional::<CertType>(settle, "cert_type")?, settle["cert_no"].as_str()) {
        (Some(kind), Some(number)) => Some(Certificate { kind, number: number.to_string() }),
        _ => None,
    };
    let bill = SettleRequest {
        kind: Some(visit.kind),
        insurance: optional(settle, "insutype")?,
        med_type: optional(settle, "med_type")?,
        batch: settle["chrg_bchno"].as_str().map(str::to_string),
        declared_medfee: optional(settle, "medfee_sumamt")?,
        use_account: settle["acct_used_flag"].as_bool().unwrap_or(false),
        invoice_no: settle["invono"].as_str().unwrap_or_default().to_string(),
        certificate,
        ..SettleRequest::new(institution.code.clone(), field::<PersonNo>(settle, "psn_no")?, visit.mdtrt_id.clone())
    };
    Ok(PeerSettle { institution, visit, lines, settle: bill, msgid: field(request, "msgid")? })
}

async fn peer_cancel(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    let caller = authenticate(&app, &headers, CANCEL_PATH, &body)?.clone();
    let peer = caller.admdvs.clone();
    let request = parse_body(&body)?;
    let institution: InstitutionCode = field(&request, "institution")?;
    let psn_no: PersonNo = field(&request, "psn_no")?;
    let setl_id: SetlId = field(&request, "setl_id")?;
    let msgid: MsgId = field(&request, "msgid")?;
    match app.institution(&institution).await {
        Ok(Some(known)) if known.admdvs == peer => {}
        Ok(_) => return Err(refuse(StatusCode::FORBIDDEN, format!("机构{institution}不属于对端统筹区{peer}"))),
        Err(_) => return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, "参保地医保服务暂时不可用")),
    }
    let render: yibao_engine::commands::Render = Box::new(|outcome| match outcome {
        Outcome::Settlement(outcome) => {
            serde_json::to_vec(&json!({"mirror": exchange::settlement(&outcome.settlement)})).unwrap_or_default()
        }
        _ => Vec::new(),
    });
    let envelope = envelope(&request, &institution, Infno::OutpatientSettleCancel, render)?;
    let command = yibao_app::settlement::cancel(SettlementRef { institution, psn_no, setl_id }, None, None, msgid);
    submitted(&app, envelope, Box::new(command)).await.map(|(body, _)| answer_bytes(&caller, CANCEL_PATH, body))
}

//! Peers: other yibao deployments, each holding the persons of its own regions (异地就医 across
//! deployments, R8). When a person insured in a peer's region is treated here, this server asks
//! the peer for the person (1101) and, at settlement, sends it the visit and its lines; the
//! peer prices them by its own policy, pays from its fund and the person's account, and
//! answers with the settlement, which this server then records with its own half of the
//! inter-region claim. A peer that does not answer means no settlement on either side.
//!
//! Calls are JSON over HTTP, `POST /peer/v1/…`, signed with a secret the two deployments
//! share: `x-yibao-peer` (the caller's region), `x-yibao-timestamp` (Unix seconds, within five
//! minutes) and `x-yibao-signature` = hex(HMAC-SHA256(secret, timestamp + "\n" + path + "\n" +
//! body)); answers are signed the same way over `answer:` + the path, and an answer whose
//! signature does not hold counts as no answer. Run peers over a private network or a TLS
//! tunnel all the same: the exchange carries ID numbers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use yibao_domain::{Admdvs, CertType, InstitutionCode, Money, MsgId, PersonNo, SetlId};
use yibao_engine::commands::{CancelSettlement, PeerSettle, SettleRequest};
use yibao_engine::records::{Certificate, Person, PersonStatus, Settlement, VisitKind};
use yibao_engine::{EngineError, ErrorKind, Outcome, Reply};
use yibao_store::exchange;

use crate::AppState;

/// The largest peer request (a bill of 20 000 lines is well under it).
pub const BODY_MAX_BYTES: usize = 16 * 1024 * 1024;
/// How far a peer request's timestamp may be from our clock.
const WINDOW_SECONDS: i64 = 300;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Another deployment: the region it holds, where it answers, the secret shared with it.
#[derive(Clone)]
pub struct Peer {
    pub admdvs: Admdvs,
    /// `http://host:port`; a peer that only calls us needs none.
    pub url: Option<String>,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("admdvs", &self.admdvs).field("url", &self.url).finish_non_exhaustive()
    }
}

impl Peer {
    /// # Errors
    /// A secret shorter than 16 bytes, or a URL that is not `http://host:port`.
    pub fn new(admdvs: Admdvs, url: Option<String>, secret: Vec<u8>) -> Result<Peer, String> {
        if secret.len() < 16 {
            return Err(format!("the secret shared with peer {admdvs} must be at least 16 bytes"));
        }
        if let Some(url) = &url {
            address(url).map_err(|problem| format!("peer {admdvs}: {problem}"))?;
        }
        Ok(Peer { admdvs, url, secret })
    }
}

/// The configured peers, by the region each holds.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    by_region: BTreeMap<Admdvs, Peer>,
}

impl Peers {
    pub fn new(peers: Vec<Peer>) -> Peers {
        Peers { by_region: peers.into_iter().map(|peer| (peer.admdvs.clone(), peer)).collect() }
    }

    pub fn get(&self, admdvs: &Admdvs) -> Option<&Peer> {
        self.by_region.get(admdvs)
    }

    pub fn is_empty(&self) -> bool {
        self.by_region.is_empty()
    }

    pub fn all(&self) -> impl Iterator<Item = &Peer> {
        self.by_region.values()
    }
}

/// `host:port` of an `http://host:port` URL.
fn address(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http://host:port URLs are supported"))?;
    let host_port = rest.trim_end_matches('/');
    if host_port.is_empty() || host_port.contains('/') || !host_port.contains(':') {
        return Err(format!("{url}: expected http://host:port"));
    }
    Ok(host_port.to_string())
}

fn signature(secret: &[u8], timestamp: &str, path: &str, body: &[u8]) -> String {
    let mut message = Vec::with_capacity(timestamp.len() + path.len() + body.len() + 2);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(path.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    yibao_app::hex(&crate::secret::hmac_sha256(secret, &message))
}

/// Why a peer call did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// It could not be reached: the request never arrived, nothing was done there.
    Unavailable(String),
    /// The request went out but no answer came back (timeout, broken connection): it may or
    /// may not have been done; the same request again gets the stored result.
    Unknown(String),
    /// It answered with a refusal (its Chinese message).
    Refused(String),
}

impl PeerError {
    /// The message for an HIS.
    pub fn message(&self, admdvs: &Admdvs) -> String {
        match self {
            PeerError::Unavailable(_) => {
                format!("参保地{admdvs}医保系统暂时无法连接，本次业务未办理，请稍后重试")
            }
            PeerError::Unknown(_) => format!(
                "参保地{admdvs}医保系统未及时应答，办理结果未知：请用同一报文ID（msgid）重发本报文以取得结果，不要换用新的报文ID"
            ),
            PeerError::Refused(message) => message.clone(),
        }
    }
}

/// Calls a peer: `POST url + path` with a signed JSON body, as the deployment of `caller`.
///
/// # Errors
/// Unreachable, timed out, or refused.
pub async fn call(peer: &Peer, caller: &Admdvs, path: &str, body: &Value) -> Result<Value, PeerError> {
    let Some(url) = &peer.url else {
        return Err(PeerError::Unavailable(format!("no URL configured for peer {}", peer.admdvs)));
    };
    let host = address(url).map_err(PeerError::Unavailable)?;
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let timestamp = crate::unix_now().to_string();
    let signed = signature(&peer.secret, &timestamp, path, &bytes);
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&host)).await;
    let stream = match connect {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Err(PeerError::Unavailable(format!("{host}: {error}"))),
        Err(_) => return Err(PeerError::Unavailable(format!("{host}: no connection within {CONNECT_TIMEOUT:?}"))),
    };
    let exchange = async {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let request = hyper::Request::builder()
            .method("POST")
            .uri(path)
            .header(header::HOST, host.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-yibao-peer", caller.as_str())
            .header("x-yibao-timestamp", timestamp.as_str())
            .header("x-yibao-signature", signed.as_str())
            .body(Full::new(Bytes::from(bytes)))
            .expect("a valid request");
        let response = sender.send_request(request).await?;
        let status = response.status();
        let text =
            |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or("").to_string();
        let (answered_at, answer_signature) = (text("x-yibao-timestamp"), text("x-yibao-signature"));
        let body = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, body, answered_at, answer_signature))
    };
    let (status, body, answered_at, answer_signature) = match tokio::time::timeout(ANSWER_TIMEOUT, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => return Err(PeerError::Unknown(format!("{host}: {error}"))),
        Err(_) => return Err(PeerError::Unknown(format!("{host}: no answer within {ANSWER_TIMEOUT:?}"))),
    };
    let parsed: Value =
        serde_json::from_slice(&body).map_err(|error| PeerError::Unknown(format!("{host}: not JSON ({error})")))?;
    match status {
        StatusCode::OK => {
            let expected = signature(&peer.secret, &answered_at, &format!("answer:{path}"), &body);
            let fresh = answered_at
                .parse::<i64>()
                .is_ok_and(|at| crate::unix_now().abs_diff(at) <= WINDOW_SECONDS.unsigned_abs());
            match fresh && crate::secret::constant_time_equal(&expected, &answer_signature) {
                true => Ok(parsed),
                false => Err(PeerError::Unknown(format!("{host}: the answer's signature does not hold"))),
            }
        }
        status if status.is_client_error() => Err(PeerError::Refused(
            parsed["error"].as_str().map_or_else(|| format!("参保地医保系统拒绝了请求（{status}）"), str::to_string),
        )),
        status => Err(PeerError::Unknown(format!("{host}: {status}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// The treating side: what the national interface asks of a peer.

/// The person a certificate names, from the peer holding `admdvs` (or from every peer when
/// that is not known), with their account balance there; registered here as a guest.
///
/// # Errors
/// The message for the HIS when a peer is unreachable or refuses; `Ok(None)` when no peer knows
/// the person.
pub async fn find_person(
    app: &AppState,
    caller: &Admdvs,
    region: Option<&Admdvs>,
    certificate: &Certificate,
    card_sn: Option<&str>,
) -> Result<Option<(Person, Money, Option<String>)>, String> {
    let candidates: Vec<&Peer> = match region.and_then(|region| app.peers.get(region)) {
        Some(peer) => vec![peer],
        None => app.peers.all().collect(),
    };
    let request = json!({"cert_type": certificate.kind.code(), "cert_no": certificate.number, "card_sn": card_sn});
    let mut unavailable = None;
    for peer in candidates {
        match call(peer, caller, "/peer/v1/person", &request).await {
            Ok(answer) if answer["person"].is_null() => continue,
            Ok(answer) => {
                let person = exchange::decode_person(&answer["person"])
                    .map_err(|error| format!("参保地{}返回的人员信息无法识别：{error}", peer.admdvs))?;
                if person.admdvs != peer.admdvs {
                    return Err(format!("参保地{}返回了其他统筹区的人员", peer.admdvs));
                }
                let balance: Money =
                    answer["balance"].as_str().and_then(|text| text.parse().ok()).unwrap_or(Money::ZERO);
                let employer = answer["employer_name"].as_str().map(str::to_string);
                app.store
                    .execute(yibao_engine::commands::RegisterGuest { person: person.clone() })
                    .await
                    .map_err(|error| error.zh)?;
                return Ok(Some((person, balance, employer)));
            }
            Err(PeerError::Refused(message)) => return Err(message),
            Err(error @ (PeerError::Unavailable(_) | PeerError::Unknown(_))) => {
                tracing::warn!(peer = %peer.admdvs, ?error, "peer unavailable");
                unavailable = Some(error.message(&peer.admdvs));
            }
        }
    }
    match unavailable {
        Some(message) => Err(message),
        None => Ok(None),
    }
}

/// What the treating side sends with a settlement.
#[derive(Debug)]
pub struct RemoteSettle<'a> {
    pub request: &'a SettleRequest,
    pub msgid: &'a MsgId,
    pub guest: &'a Person,
    pub dry_run: bool,
    pub infno: &'a str,
    pub request_hash: &'a str,
}

/// Asks the insured region's deployment to price and pay a guest's bill; its settlement.
///
/// # Errors
/// The message for the HIS.
pub async fn settle(
    app: &AppState,
    institution: &yibao_engine::records::Institution,
    remote: RemoteSettle<'_>,
) -> Result<Settlement, String> {
    let command = remote.request;
    let peer = app
        .peers
        .get(&remote.guest.admdvs)
        .ok_or_else(|| format!("参保地{}的医保系统未接入本系统，不能结算", remote.guest.admdvs))?;
    let mdtrt_id = command.mdtrt_id.clone();
    let (visit, lines) = app
        .store
        .read(move |r| Ok((r.visit(&mdtrt_id)?, r.lines_of(&mdtrt_id)?)))
        .await
        .map_err(|_| "医保服务暂时不可用，请稍后重试".to_string())?;
    let visit = visit.ok_or_else(|| format!("就诊ID{}不存在", command.mdtrt_id))?;
    if visit.kind != VisitKind::Outpatient || command.kind.is_some_and(|kind| kind != VisitKind::Outpatient) {
        return Err("跨系统异地就医目前只办理门诊结算（2206/2207）".to_string());
    }
    let shared = yibao_engine::records::Institution { gateway_secret: String::new(), ..institution.clone() };
    let request = json!({
        "dry_run": remote.dry_run,
        "msgid": remote.msgid.as_str(),
        "infno": remote.infno,
        "request_hash": remote.request_hash,
        "institution": exchange::institution(&shared),
        "visit": exchange::visit(&visit),
        "lines": lines.iter().map(exchange::line).collect::<Vec<_>>(),
        "settle": {
            "psn_no": command.psn_no.as_str(),
            "insutype": command.insurance.map(|i| i.to_string()),
            "med_type": command.med_type.map(|m| m.to_string()),
            "chrg_bchno": command.batch,
            "medfee_sumamt": command.declared_medfee.map(|m| m.to_string()),
            "acct_used_flag": command.use_account,
            "invono": command.invoice_no,
            "cert_type": command.certificate.as_ref().map(|c| c.kind.code()),
            "cert_no": command.certificate.as_ref().map(|c| c.number.clone()),
        },
    });
    let caller = institution.admdvs.clone();
    let answer = call(peer, &caller, "/peer/v1/settle", &request).await.map_err(|error| error.message(&peer.admdvs))?;
    let settlement = exchange::decode_settlement(&answer["settlement"])
        .map_err(|error| format!("参保地{}返回的结算结果无法识别：{error}", peer.admdvs))?;
    if settlement.psn_no != command.psn_no || settlement.mdtrt_id != command.mdtrt_id {
        return Err(format!("参保地{}返回的结算结果与本次结算不符", peer.admdvs));
    }
    Ok(settlement)
}

/// Asks the insured region's deployment to cancel a guest's settlement; the cancelling mirror.
///
/// # Errors
/// The message for the HIS.
pub async fn cancel(
    app: &AppState,
    institution: &yibao_engine::records::Institution,
    original: &Settlement,
    msgid: &MsgId,
    request_hash: &str,
) -> Result<Settlement, String> {
    let peer = app
        .peers
        .get(&original.insured_admdvs)
        .ok_or_else(|| format!("参保地{}的医保系统未接入本系统，不能撤销", original.insured_admdvs))?;
    let request = json!({
        "msgid": msgid.as_str(),
        "request_hash": request_hash,
        "institution": institution.code.as_str(),
        "psn_no": original.psn_no.as_str(),
        "setl_id": original.setl_id.as_str(),
    });
    let answer = call(peer, &institution.admdvs, "/peer/v1/cancel", &request)
        .await
        .map_err(|error| error.message(&peer.admdvs))?;
    let mirror = exchange::decode_settlement(&answer["mirror"])
        .map_err(|error| format!("参保地{}返回的撤销结果无法识别：{error}", peer.admdvs))?;
    match &mirror.status {
        yibao_engine::records::SettlementStatus::Mirror { of } if of == &original.setl_id => Ok(mirror),
        _ => Err(format!("参保地{}返回的撤销结果与原结算不符", peer.admdvs)),
    }
}

// ---------------------------------------------------------------------------------------------
// The insured side: answering peers.

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
        .is_ok_and(|at| crate::unix_now().abs_diff(at) <= WINDOW_SECONDS.unsigned_abs());
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

/// The calling peer, when its signature holds.
fn authenticate<'a>(app: &'a AppState, headers: &HeaderMap, path: &str, body: &[u8]) -> Result<&'a Peer, Refusal> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("");
    let unauthorized = || refuse(StatusCode::UNAUTHORIZED, "对端系统认证失败");
    let region: Admdvs = text("x-yibao-peer").parse().map_err(|_| unauthorized())?;
    let peer = app.peers.get(&region).ok_or_else(unauthorized)?;
    let timestamp = text("x-yibao-timestamp");
    let fresh =
        timestamp.parse::<i64>().is_ok_and(|at| crate::unix_now().abs_diff(at) <= WINDOW_SECONDS.unsigned_abs());
    let expected = signature(&peer.secret, timestamp, path, body);
    match fresh && crate::secret::constant_time_equal(&expected, text("x-yibao-signature")) {
        true => Ok(peer),
        false => Err(unauthorized()),
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
    let audit = yibao_engine::commands::RecordAudit {
        actor: format!("peer:{peer}"),
        action: "peer-read-person".to_string(),
        subject: person.psn_no.to_string(),
        reason: "异地就医人员信息查询".to_string(),
    };
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
    infno: &str,
    render: yibao_engine::commands::Render,
) -> Result<yibao_engine::Envelope, Refusal> {
    let request_hash = request["request_hash"].as_str().unwrap_or("").to_string();
    if request_hash.is_empty() || request_hash.len() > 128 {
        return Err(refuse(StatusCode::BAD_REQUEST, "request_hash缺失"));
    }
    let idempotency = yibao_app::Idempotency {
        key: field(request, "msgid")?,
        institution: institution.clone(),
        channel: format!("peer-{infno}"),
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
    let infno = request["infno"].as_str().unwrap_or("2207").to_string();
    if request["dry_run"].as_bool() == Some(true) {
        return match yibao_app::run(&app.store, Box::new(command), yibao_app::Run::Preview).await {
            Ok(Reply::Done { outcome, .. }) => Ok(answer_bytes(&caller, SETTLE_PATH, render(&outcome))),
            Ok(Reply::Replayed(body)) => Ok(answer_bytes(&caller, SETTLE_PATH, body)),
            Err(error) => Err(engine_refusal(&error)),
        };
    }
    let envelope = envelope(&request, &institution, &infno, render)?;
    let answer = submitted(&app, envelope, Box::new(command)).await?;
    still_in_force(&app, &caller, answer).await
}

/// A settlement answer, unless (replayed for a retry) its settlement has been cancelled since:
/// the treating side must never record a payment that no longer stands.
async fn still_in_force(app: &AppState, caller: &Peer, answer: (Vec<u8>, bool)) -> Result<Response, Refusal> {
    let (body, replayed) = answer;
    if replayed {
        let stored: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Ok(settlement) = exchange::decode_settlement(&stored["settlement"]) {
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
    let timestamp = crate::unix_now().to_string();
    let signed = signature(&peer.secret, &timestamp, &format!("answer:{path}"), &body);
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::HeaderName::from_static("x-yibao-timestamp"), timestamp),
            (header::HeaderName::from_static("x-yibao-signature"), signed),
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
    institution.gateway_secret = crate::secret::token();
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
    let envelope = envelope(&request, &institution, "2208", render)?;
    let command = CancelSettlement { institution, psn_no, setl_id, mdtrt_id: None, kind: None, msgid };
    submitted(&app, envelope, Box::new(command)).await.map(|(body, _)| answer_bytes(&caller, CANCEL_PATH, body))
}

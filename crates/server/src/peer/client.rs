//! Another deployment and the signed call to it.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use yibao_domain::Admdvs;
use yibao_store::exchange;

/// The largest peer request (a bill of 20 000 lines is well under it).
pub const BODY_MAX_BYTES: usize = 16 * 1024 * 1024;
/// How far a peer request's timestamp may be from our clock.
pub(super) const WINDOW_SECONDS: i64 = 300;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Another deployment: the region it holds, where it answers, the secret shared with it.
#[derive(Clone)]
pub struct Peer {
    pub admdvs: Admdvs,
    /// `http://host:port`; a peer that only calls us needs none.
    pub url: Option<String>,
    pub(super) secret: Vec<u8>,
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

pub(super) fn signature(secret: &[u8], timestamp: &str, path: &str, body: &[u8]) -> String {
    let mut message = Vec::with_capacity(timestamp.len() + path.len() + body.len() + 2);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(path.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    yibao_app::hex(&crate::kit::secret::hmac_sha256(secret, &message))
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
    let timestamp = crate::kit::clock::unix_now().to_string();
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
            .header(exchange::FORMAT_HEADER, exchange::FORMAT.to_string())
            .body(Full::new(Bytes::from(bytes)))
            .expect("a valid request");
        let response = sender.send_request(request).await?;
        let status = response.status();
        let text =
            |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or("").to_string();
        let (answered_at, answer_signature) = (text("x-yibao-timestamp"), text("x-yibao-signature"));
        let format = text(exchange::FORMAT_HEADER);
        let body = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, body, answered_at, answer_signature, format))
    };
    let (status, body, answered_at, answer_signature, format) =
        match tokio::time::timeout(ANSWER_TIMEOUT, exchange).await {
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
                .is_ok_and(|at| crate::kit::clock::unix_now().abs_diff(at) <= WINDOW_SECONDS.unsigned_abs());
            match fresh && crate::kit::secret::constant_time_equal(&expected, &answer_signature) {
                // An answer of the previous format (no header: records as arrays) still reads, so
                // what an older peer did (a cancellation) is recorded here, not lost.
                true if format.is_empty() || format == "1" || format == exchange::FORMAT.to_string() => Ok(parsed),
                // A newer format than this side knows: what the peer did is unknown here; the
                // same msgid, sent again once both sides run one format, finds it.
                true => Err(PeerError::Unknown(format!("{host}: answer in wire format {format}"))),
                false => Err(PeerError::Unknown(format!("{host}: the answer's signature does not hold"))),
            }
        }
        status if status.is_client_error() => Err(PeerError::Refused(
            parsed["error"].as_str().map_or_else(|| format!("参保地医保系统拒绝了请求（{status}）"), str::to_string),
        )),
        status => Err(PeerError::Unknown(format!("{host}: {status}"))),
    }
}

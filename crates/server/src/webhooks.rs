//! Webhooks: the notifications outbox delivered to configured HTTPS endpoints — the hook a
//! WeChat or Alipay channel or an SMS gateway plugs into.
//!
//! Each hook has a cursor (the number of the last notification it acknowledged, kept in the
//! store's `meta` as `webhook:<name>`) and a worker that posts the notifications after it, one
//! at a time in commit order, as JSON signed with the hook's secret: `x-yibao-signature` is the
//! hex HMAC-SHA256 of `<x-yibao-timestamp>\n<body>`. A 2xx answer acknowledges; anything else
//! (or no answer within 10 s) is retried with back-off from 1 s doubling to 5 minutes, never
//! skipped, so a hook sees every notification in order. The cursor only moves forward, once per
//! acknowledgement: a notification is never marked delivered twice. A crash between the answer
//! and the cursor's write sends it again; receivers deduplicate by `x-yibao-delivery` (the
//! notification's id). A new hook starts at the newest notification (`from = "start"` delivers
//! the whole outbox).
//!
//! HTTPS with certificate verification (rustls: the system's roots, or `ca_file` for a private
//! CA); plain `http://` only with `insecure = true`, which logs a warning at start-up.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Request, header};
use http_body_util::{BodyExt, Full};
use serde_json::json;
use yibao_engine::records::Notification;
use yibao_store::Store;

/// Notifications read per round.
const BATCH: u64 = 100;
/// How long an idle worker waits before looking for new notifications.
const IDLE: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// A configured webhook.
#[derive(Clone)]
pub struct Webhook {
    pub name: String,
    target: Target,
    secret: Vec<u8>,
    /// Only these notification kinds (`settlement`, `card-lost`, …); all when empty.
    kinds: Vec<String>,
    /// Deliver the outbox from its beginning (rather than from the newest notification) the
    /// first time this hook runs.
    from_start: bool,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("name", &self.name).field("target", &self.target).finish_non_exhaustive()
    }
}

/// Where a hook posts: scheme, host, port and path of its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    https: bool,
    host: String,
    port: u16,
    path: String,
    /// The `Host` header: the URL's authority (`host`, `host:port`, `[v6]:port`).
    authority: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            _ => return Err(format!("{url}: a webhook URL starts with https://")),
        };
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') || path.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!("{url}: expected https://host[:port]/path"));
        }
        // `[v6]:port`, `[v6]`, `host:port` or `host`.
        let (host, port) = match authority.strip_prefix('[') {
            Some(bracketed) => {
                let (host, rest) =
                    bracketed.split_once(']').ok_or_else(|| format!("{url}: an unclosed [ in the host"))?;
                (host, rest.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(port) => port.parse::<u16>().map_err(|_| format!("{url}: the port {port:?} is not a number"))?,
            None if https => 443,
            None => 80,
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{url}: no host, or one with blanks"));
        }
        Ok(Target { https, host: host.to_string(), port, path: path.to_string(), authority: authority.to_string() })
    }
}

/// A hook's configuration as `[[webhooks]]` in yibao.toml gives it.
#[derive(Debug, Clone, Default)]
pub struct WebhookSettings {
    pub name: String,
    pub url: String,
    pub secret: Vec<u8>,
    pub kinds: Vec<String>,
    pub from_start: bool,
    /// A PEM file of the CA certificates to trust instead of the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// Allow `http://` (logged as a warning).
    pub insecure: bool,
}

impl Webhook {
    /// # Errors
    /// A bad name, URL, secret (at least 16 bytes), kind, CA file, or `http://` without
    /// `insecure`.
    pub fn new(settings: WebhookSettings) -> Result<Webhook, String> {
        let name = settings.name;
        if name.is_empty()
            || name.len() > 40
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("webhook {name:?}: a name is 1 to 40 letters, digits, '-' or '_'"));
        }
        let target = Target::parse(&settings.url).map_err(|problem| format!("webhook {name}: {problem}"))?;
        if !target.https && !settings.insecure {
            return Err(format!("webhook {name}: {} is plain HTTP; use https:// or set insecure = true", settings.url));
        }
        if settings.secret.len() < 16 {
            return Err(format!("webhook {name}: the secret must be at least 16 bytes"));
        }
        if let Some(kind) =
            settings.kinds.iter().find(|kind| yibao_engine::records::NotificationKind::parse(kind).is_none())
        {
            return Err(format!("webhook {name}: {kind:?} is not a notification kind"));
        }
        let tls = match target.https {
            false => None,
            true => {
                Some(Arc::new(client_config(settings.ca_file.as_deref()).map_err(|p| format!("webhook {name}: {p}"))?))
            }
        };
        Ok(Webhook {
            name,
            target,
            secret: settings.secret,
            kinds: settings.kinds,
            from_start: settings.from_start,
            tls,
        })
    }

    fn cursor_key(&self) -> String {
        format!("webhook:{}", self.name)
    }

    fn wants(&self, notification: &Notification) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|kind| kind == notification.kind.code())
    }

    /// Whether the hook posts over plain HTTP.
    pub fn is_insecure(&self) -> bool {
        !self.target.https
    }
}

/// Certificates from the system's store, or only those of `ca_file`.
fn client_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|error| format!("ca_file {}: {error}", path.display()))?
                .collect::<Result<_, _>>()
                .map_err(|error| format!("ca_file {}: {error}", path.display()))?;
            if certificates.is_empty() {
                return Err(format!("ca_file {} holds no certificate", path.display()));
            }
            for certificate in certificates {
                roots.add(certificate).map_err(|error| format!("ca_file {}: {error}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for certificate in found.certs {
                // A system store may hold a certificate rustls cannot use; the rest still count.
                let _ = roots.add(certificate);
            }
            if roots.is_empty() {
                return Err("the system holds no CA certificates (install ca-certificates or set ca_file)".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The signature of a delivery: hex HMAC-SHA256 of `timestamp \n body` with the hook's secret.
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    yibao_app::hex(&crate::kit::secret::hmac_sha256(secret, &message))
}

/// The JSON a hook receives for a notification.
pub fn payload(hook: &str, seq: i64, notification: &Notification) -> Vec<u8> {
    json!({
        "webhook": hook,
        "seq": seq,
        "id": notification.id,
        "psn_no": notification.psn_no.as_str(),
        "kind": notification.kind.code(),
        "at": notification.at.to_string(),
        "text_zh": notification.text_zh,
        "text_en": notification.text_en,
    })
    .to_string()
    .into_bytes()
}

/// Starts one worker per hook; they run until the runtime stops.
pub fn spawn(store: Store, hooks: Vec<Webhook>) -> Vec<tokio::task::JoinHandle<()>> {
    hooks
        .into_iter()
        .map(|hook| {
            if hook.is_insecure() {
                tracing::warn!(webhook = %hook.name, "webhook over plain HTTP (insecure = true): notifications travel unencrypted");
            }
            let store = store.clone();
            tokio::spawn(async move { run(&store, &hook).await })
        })
        .collect()
}

async fn run(store: &Store, hook: &Webhook) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        match round(store, hook).await {
            Ok(0) => {
                backoff = BACKOFF_FIRST;
                tokio::time::sleep(IDLE).await;
            }
            Ok(_) => backoff = BACKOFF_FIRST,
            Err(problem) => {
                tracing::warn!(webhook = %hook.name, %problem, retry_in = ?backoff, "webhook delivery failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Delivers what follows the cursor, in order, moving the cursor after each acknowledgement;
/// how many notifications it got past. Stops at the first failure.
///
/// # Errors
/// The first delivery that failed, or the store's failure.
pub async fn round(store: &Store, hook: &Webhook) -> Result<usize, String> {
    let key = hook.cursor_key();
    let lookup = key.clone();
    let cursor = store.read(move |r| r.meta(&lookup)).await.map_err(|e| e.to_string())?;
    let cursor: i64 = match cursor {
        Some(text) => text.parse().map_err(|_| format!("meta {key} holds {text:?}, not a number"))?,
        None => {
            let start = match hook.from_start {
                true => 0,
                false => store.read(|r| r.last_notification_seq()).await.map_err(|e| e.to_string())?,
            };
            store.set_meta(&key, &start.to_string()).await.map_err(|e| e.to_string())?;
            start
        }
    };
    let rows = store.read(move |r| r.notifications_after(cursor, BATCH)).await.map_err(|e| e.to_string())?;
    let mut passed = 0;
    // Notifications the hook does not want move the cursor with the next delivery (or at the
    // end of the batch), not one write each.
    let mut skipped_to = None;
    let result = async {
        for (seq, notification) in rows {
            if hook.wants(&notification) {
                deliver(hook, &payload(&hook.name, seq, &notification), &notification.id).await?;
                store.set_meta(&key, &seq.to_string()).await.map_err(|e| e.to_string())?;
                skipped_to = None;
            } else {
                skipped_to = Some(seq);
            }
            passed += 1;
        }
        Ok::<(), String>(())
    }
    .await;
    if let Some(seq) = skipped_to {
        store.set_meta(&key, &seq.to_string()).await.map_err(|e| e.to_string())?;
    }
    result.map(|()| passed)
}

/// Posts one delivery; `Ok` on a 2xx answer.
async fn deliver(hook: &Webhook, body: &[u8], id: &str) -> Result<(), String> {
    let timestamp = crate::kit::clock::unix_now().to_string();
    let request = Request::post(&hook.target.path)
        .header(header::HOST, &hook.target.authority)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "yibao-webhook/1")
        .header("x-yibao-webhook", &hook.name)
        .header("x-yibao-delivery", id)
        .header("x-yibao-timestamp", &timestamp)
        .header("x-yibao-signature", signature(&hook.secret, &timestamp, body))
        .body(Full::new(axum::body::Bytes::copy_from_slice(body)))
        .map_err(|error| format!("request: {error}"))?;
    let status = tokio::time::timeout(TIMEOUT, send(hook, request))
        .await
        .map_err(|_| format!("no answer from {}:{} within {TIMEOUT:?}", hook.target.host, hook.target.port))??;
    match status.is_success() {
        true => Ok(()),
        false => Err(format!("{} answered {status} for {id}", hook.target.host)),
    }
}

async fn send(hook: &Webhook, request: Request<Full<axum::body::Bytes>>) -> Result<axum::http::StatusCode, String> {
    let address = (hook.target.host.as_str(), hook.target.port);
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|error| format!("cannot connect to {}:{}: {error}", hook.target.host, hook.target.port))?;
    match &hook.tls {
        None => exchange(hyper_util::rt::TokioIo::new(tcp), request).await,
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(hook.target.host.clone())
                .map_err(|error| format!("{}: {error}", hook.target.host))?;
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|error| format!("TLS with {}: {error}", hook.target.host))?;
            exchange(hyper_util::rt::TokioIo::new(stream), request).await
        }
    }
}

async fn exchange<S>(io: S, request: Request<Full<axum::body::Bytes>>) -> Result<axum::http::StatusCode, String>
where
    S: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(|error| format!("HTTP: {error}"))?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|error| format!("HTTP: {error}"))?;
    let status = response.status();
    // The answer's body is not needed: at most 64 KiB of it is read (so the connection ends
    // cleanly) and dropped.
    let _ = http_body_util::Limited::new(response.into_body(), 64 * 1024).collect().await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::{Target, Webhook, WebhookSettings, signature};

    #[test]
    fn urls_and_settings_are_checked() {
        let target = Target::parse("https://hooks.example.cn/yibao/in").unwrap();
        assert_eq!(
            (target.https, target.host.as_str(), target.port, target.path.as_str()),
            (true, "hooks.example.cn", 443, "/yibao/in")
        );
        let target = Target::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!((target.https, target.port, target.path.as_str()), (false, 9000, "/"));
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("https://user@host/").is_err());
        assert!(Target::parse("https://host:port/").is_err());
        assert_eq!(Target::parse("https://[::1]:8443/x").unwrap().host, "::1");
        assert_eq!(Target::parse("https://[::1]/x").unwrap().port, 443);
        let settings = |url: &str, insecure: bool| WebhookSettings {
            name: "sms".into(),
            url: url.into(),
            secret: b"0123456789abcdef".to_vec(),
            insecure,
            ..WebhookSettings::default()
        };
        let plain = Webhook::new(settings("http://127.0.0.1:9000/in", false)).unwrap_err();
        assert!(plain.contains("insecure = true"), "{plain}");
        assert!(Webhook::new(settings("http://127.0.0.1:9000/in", true)).unwrap().is_insecure());
        let short = Webhook::new(WebhookSettings { secret: b"short".to_vec(), ..settings("http://h:1/", true) });
        assert!(short.unwrap_err().contains("16 bytes"));
        let kind = Webhook::new(WebhookSettings { kinds: vec!["sms".into()], ..settings("http://h:1/", true) });
        assert!(kind.unwrap_err().contains("not a notification kind"));
        let name = Webhook::new(WebhookSettings { name: "a b".into(), ..settings("http://h:1/", true) });
        assert!(name.is_err());
    }

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        let secret = b"0123456789abcdef";
        let one = signature(secret, "1796140800", b"{}");
        assert_eq!(one.len(), 64);
        assert_ne!(one, signature(secret, "1796140801", b"{}"));
        assert_ne!(one, signature(secret, "1796140800", b"{ }"));
    }
}

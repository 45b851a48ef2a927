//! The edge every request crosses before a handler sees it: the connection loop with its
//! timeouts and cap, the cap on request bytes held in memory at once, the deadline for
//! receiving a body, the headers every browser-facing page carries, the same-origin check on
//! the pages' forms, and one log line per request with attacker text made harmless.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::Frame;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::kit::budget::ROOM_WAIT;
use crate::kit::logtext::loggable;
use crate::state::AppState;

/// Connections held open at once; more are closed as they arrive.
pub const CONNECTIONS_MAX: usize = 8_192;
/// How long a client may take to send a request's headers, and how long an idle kept-alive
/// connection stays open.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest body of the server's pages' forms.
pub const FORM_MAX_BYTES: usize = 256 * 1024;

/// Who a route serves, read from its path in this one place; each audience has its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The national interface (`/fsi/api/rsfComIfsService/…`).
    National,
    /// The e-voucher front-end (`/fsi/api/ec/…`).
    EVoucher,
    /// Another deployment (`/peer/…`).
    Peer,
    /// The REST API (`/api/…`).
    Rest,
    /// The pages (portal, counter, agency) and everything else.
    Pages,
}

impl Audience {
    pub fn of(path: &str) -> Audience {
        if path.starts_with("/fsi/api/rsfComIfsService") {
            Audience::National
        } else if path.starts_with("/fsi/api/ec") {
            Audience::EVoucher
        } else if path.starts_with("/peer/") {
            Audience::Peer
        } else if path.starts_with("/api/") {
            Audience::Rest
        } else {
            Audience::Pages
        }
    }

    /// The largest body a route of this audience takes.
    pub fn body_max_bytes(self) -> usize {
        match self {
            Audience::National => crate::nhsa::BODY_MAX_BYTES,
            Audience::EVoucher => crate::nhsa::ec::BODY_MAX_BYTES,
            Audience::Peer => crate::peer::BODY_MAX_BYTES,
            Audience::Rest => crate::rest::BODY_MAX_BYTES,
            Audience::Pages => FORM_MAX_BYTES,
        }
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.to_string()).into_response()
}

/// Holds room for a request's body among the bytes in flight until its answer is made: a
/// declared length over the route's limit is refused unread, a source holding its share
/// (`kit::budget::BODY_BYTES_PER_SOURCE_MAX`) is turned away at once, and when the room is taken the
/// request waits a moment and is then turned away with 503. A body of unknown length (chunked)
/// is counted at the route's limit.
pub async fn body_budget(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let has_body = declared.is_some_and(|length| length > 0)
        || (declared.is_none() && request.headers().contains_key(header::TRANSFER_ENCODING));
    if !has_body {
        return next.run(request).await;
    }
    let limit = Audience::of(request.uri().path()).body_max_bytes();
    let bytes = declared.unwrap_or(limit);
    if bytes > limit {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large for this route");
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let forwarded = request.headers().get("x-forwarded-for").and_then(|value| value.to_str().ok());
    let source = crate::guard::ClientAddr::of(peer, forwarded, &state.trusted_proxies).0;
    let Some(_share) = state.body_budget.share(source, bytes) else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "too many request bodies from this address at once; try again");
    };
    let permits = u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let semaphore = state.body_budget.room.clone();
    let Ok(Ok(_room)) = tokio::time::timeout(ROOM_WAIT, semaphore.acquire_many_owned(permits)).await else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "the server is busy receiving other requests; try again");
    };
    next.run(request.map(|body| Body::new(DeadlineBody::new(body, BODY_READ_TIMEOUT)))).await
}

/// A request body that fails once its deadline passes: a client sending a byte now and then
/// cannot hold a handler (and its room among the bytes in flight) for long.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Body, within: Duration) -> DeadlineBody {
        DeadlineBody { inner, deadline: Box::pin(tokio::time::sleep(within)) }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new("the request body was not received in time")))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The content security policy of the pages: their own style sheet and script only, no
/// framing, forms posted only to this server.
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers on every answer (`nosniff`, the referrer policy, HSTS behind TLS) and, on pages, the
/// content security policy and a refusal to be framed.
pub async fn security_headers(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if html {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if state.https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// The pages' forms are posted from the pages only: a POST to `/portal`, `/counter` or
/// `/agency` whose `Origin` (or, without one, `Referer`) names another site is refused, so no
/// other site can log a browser in or act with its cookie. (Requests without either header are
/// not from a browser form.)
pub async fn same_origin_forms(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let page = ["/portal", "/counter", "/agency"].iter().any(|prefix| path.starts_with(prefix));
    if request.method() != Method::GET && request.method() != Method::HEAD && page {
        let headers = request.headers();
        let claimed = headers
            .get(header::ORIGIN)
            .or_else(|| headers.get(header::REFERER))
            .map(|value| value.to_str().unwrap_or("\u{0}").to_string());
        if let Some(claimed) = claimed
            && !same_origin(&claimed, headers.get(header::HOST).and_then(|h| h.to_str().ok()), state.public_origin())
        {
            return plain(StatusCode::FORBIDDEN, "forms are accepted only from this site's own pages");
        }
    }
    next.run(request).await
}

/// Whether `claimed` (an origin or a referring URL) is this server: the host the request was
/// sent to, or the configured public origin.
fn same_origin(claimed: &str, host: Option<&str>, public: Option<&str>) -> bool {
    let Some((scheme, rest)) = claimed.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let origin = format!("{scheme}://{authority}");
    host.is_some_and(|host| authority.eq_ignore_ascii_case(host))
        || public.is_some_and(|public| origin.eq_ignore_ascii_case(public))
}

/// One log line per request: method, path (made loggable), status and time. Never a query
/// string, a header value or a body: those carry ID numbers, passwords, PINs and QR codes.
pub async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = loggable(request.uri().path());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path = %path,
        status = response.status().as_u16(),
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

/// Connections one address may hold open at once (a trusted proxy's are not capped).
pub const CONNECTIONS_PER_SOURCE_MAX: usize = 256;
/// How long writing an answer may stall (a client that does not read) before the connection is
/// dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection loop treats clients.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub header_read_timeout: Duration,
    /// Addresses exempt from the per-address connection cap (reverse proxies).
    pub trusted_proxies: Vec<IpAddr>,
}

/// Serves `router` on `listener` until `shutdown`: HTTP/1.1 with a deadline for every request's
/// headers (which also closes idle kept-alive connections) and for every stalled write, at most
/// [`CONNECTIONS_MAX`] connections and [`CONNECTIONS_PER_SOURCE_MAX`] from one address, each
/// request knowing its peer's address. On shutdown it stops accepting and gives the requests in
/// progress up to ten seconds.
///
/// # Errors
/// When accepting fails for good.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper::service::Service as _;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let connections = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    let per_source: Arc<std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>> = Arc::default();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let ip = peer.ip();
        let capped = !options.trusted_proxies.contains(&ip);
        if capped {
            let mut held = per_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let count = held.entry(ip).or_insert(0);
            if *count >= CONNECTIONS_PER_SOURCE_MAX {
                drop(stream);
                continue;
            }
            *count += 1;
        }
        let _ = stream.set_nodelay(true);
        let router = TowerToHyperService::new(router.clone());
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            router.call(request)
        });
        let io = TokioIo::new(WriteDeadline::new(stream, WRITE_TIMEOUT));
        let connection = graceful.watch(builder.serve_connection(io, service));
        let per_source = per_source.clone();
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
            if capped {
                let mut held = per_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(count) = held.get_mut(&ip) {
                    *count -= 1;
                    if *count == 0 {
                        held.remove(&ip);
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    Ok(())
}

/// A connection whose writes may not stall longer than a limit: a client that stops reading an
/// answer (a PDF, say) cannot hold its connection forever.
struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(inner: S, limit: Duration) -> WriteDeadline<S> {
        WriteDeadline { inner, limit, stalled: None }
    }

    /// After a write that did not go through: the deadline's verdict.
    fn stall(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        let limit = self.limit;
        let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading"))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for WriteDeadline<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.stall(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.stall(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.stall(cx).map(Err),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_cannot_forge_lines_or_carry_id_numbers() {
        assert_eq!(loggable("2207\n2026-12-01 INFO forged"), "2207\\n2026-12-01 INFO forged");
        assert_eq!(loggable("a\u{1b}[31m"), "a\\u{1b}[31m");
        assert_eq!(loggable("psn 330102198503121236 x"), "psn 330102********1236 x");
        assert_eq!(loggable("33010619950505678X"), "330106********678X");
        assert_eq!(loggable("H33010000001202612011000000001"), "H33010000001202612011000000001", "a msgid stays");
        assert_eq!(loggable("id=330102198503121236&x"), "id=330102********1236&x");
        assert_eq!(loggable("330102850312123"), "330102*****2123", "an old 15-digit number");
        assert_eq!(loggable("12345678901234"), "12345678901234", "shorter runs are left alone");
        assert_eq!(loggable("330102198503121236abc"), "330102********1236abc", "letters may follow");
        let long = format!("{}330102198503121236", "x".repeat(490));
        assert!(!loggable(&long).contains("3301021985"), "masked before it is cut");
    }

    #[test]
    fn same_origin_is_the_host_asked_or_the_public_origin() {
        assert!(same_origin("http://127.0.0.1:8080", Some("127.0.0.1:8080"), None));
        assert!(same_origin("http://127.0.0.1:8080/portal/login", Some("127.0.0.1:8080"), None));
        assert!(!same_origin("https://evil.example", Some("127.0.0.1:8080"), None));
        assert!(!same_origin("http://127.0.0.1:8080.evil.example", Some("127.0.0.1:8080"), None));
        assert!(same_origin("https://yibao.example.cn", Some("10.0.0.5:8080"), Some("https://yibao.example.cn")));
        assert!(same_origin(
            "https://yibao.example.cn/portal/login",
            Some("10.0.0.5"),
            Some("https://yibao.example.cn")
        ));
        for other in ["https://yibao.example.cn.evil.com", "https://yibao.example.cn:8443", "http://yibao.example.cn"] {
            assert!(!same_origin(other, Some("10.0.0.5:8080"), Some("https://yibao.example.cn")), "{other}");
        }
        assert!(!same_origin("null", Some("127.0.0.1:8080"), None));
    }
}

#![recursion_limit = "512"]
//! yibao's HTTP server: the national interface for HIS clients (`/fsi/…`), the REST API
//! (`/api/v1/…`), health and metrics. This is the only crate that knows HTTP and JSON; it
//! turns wire input into domain types once, at the edge, and hands commands to the store.

pub mod allocation;
pub mod demo;
pub mod edge;
#[doc(hidden)]
pub mod fuzz;
pub mod guard;
mod kit;
pub mod nhsa;
pub mod pages;
pub mod peer;
pub mod reminders;
pub mod rest;
pub mod state;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use yibao_store::Store;

use kit::clock::unix_now;
pub use kit::metrics::Metrics;
pub use kit::secret::Secrets;
pub use kit::{face, pdf, qr, secret};
pub use nhsa::fields::LINES_PER_MESSAGE_MAX;
pub use state::AppState;

/// The whole HTTP surface. The peer exchange is there only when peers are configured.
pub fn app(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/assets/app.css", get(|| asset("text/css; charset=utf-8", pages::html::STYLESHEET)))
        .route("/assets/app.js", get(|| asset("text/javascript; charset=utf-8", pages::html::SCRIPT)))
        .merge(nhsa::router())
        .merge(rest::router())
        .merge(pages::home::router())
        .merge(pages::portal::router())
        .merge(pages::counter::router())
        .merge(pages::agency::router());
    if !state.peers.is_empty() {
        router = router.merge(peer::router(state.clone()));
    }
    // Room for a body only on a route that exists: anything else is answered unread.
    router
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), edge::body_budget))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), edge::same_origin_forms))
        .layer(axum::middleware::from_fn_with_state(state.clone(), edge::security_headers))
        .layer(axum::middleware::from_fn(edge::log_request))
        .with_state(state)
}

async fn asset(content_type: &'static str, text: &'static str) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "max-age=3600")], text)
        .into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    rest::ApiError::not_found(format!("no route {}", uri.path())).into_response()
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    rest::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
        "不支持该请求方法",
    )
    .into_response()
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.store.read(|r| r.meta("schema_version")).await {
        Ok(_) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#).into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"status":"unavailable"}"#,
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = state.metrics.render(&state.store.metrics());
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// The `meta` key saying a server has served this database (and when it last started).
const SERVED_KEY: &str = "served_since";

/// A bound server, ready to run. Tests bind port 0 and read [`Application::port`].
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: Arc<AppState>,
    header_read_timeout: std::time::Duration,
}

impl Application {
    /// Binds `listen` (e.g. `127.0.0.1:8080`, or port 0 for any free port).
    ///
    /// # Errors
    /// When the address cannot be bound.
    ///
    /// When another process served the database before, this waits for the next second (at most
    /// one) before it returns, and refuses every signature made up to the second it started in:
    /// the nonces that process saw are gone, and a header captured from it must not be replayed
    /// (an honest client signs after the server is up, so in a later second).
    pub async fn build(store: Store, secrets: Secrets, listen: &str) -> std::io::Result<Application> {
        let listener = TcpListener::bind(listen).await?;
        let served_before =
            store.read(|r| Ok(r.meta(SERVED_KEY)?.is_some() || r.has_messages()?)).await.unwrap_or(true);
        let mut state = AppState::new(store, secrets);
        if served_before {
            state.replay_floor = state.started_at;
            while unix_now() <= state.started_at {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        if let Err(failure) = state.store.set_meta(SERVED_KEY, &state.started_at.to_string()).await {
            return Err(std::io::Error::other(failure.to_string()));
        }
        Ok(Application { listener, state: Arc::new(state), header_read_timeout: edge::HEADER_READ_TIMEOUT })
    }

    /// Plugs in the deployment's face verifier (the default is [`face::DeterministicFaceVerifier`]).
    ///
    /// # Panics
    /// When called after the server started serving.
    #[must_use]
    pub fn with_face_verifier(mut self, verifier: Arc<dyn face::FaceVerifier>) -> Application {
        Arc::get_mut(&mut self.state).expect("the state is not shared before the server runs").face = verifier;
        self
    }

    /// The address the public reaches this server at (e.g. `https://yibao.example.gov.cn`,
    /// behind a TLS-terminating proxy): with `https://`, cookies are `Secure` and answers carry
    /// HSTS; the pages accept forms posted from it.
    ///
    /// # Panics
    /// When called after the server started serving.
    #[must_use]
    pub fn with_public_url(mut self, url: &str) -> Application {
        let state = Arc::get_mut(&mut self.state).expect("the state is not shared before the server runs");
        let url = url.trim().trim_end_matches('/');
        state.https = url.starts_with("https://");
        state.public_origin =
            url.split_once("://").map(|(scheme, rest)| format!("{scheme}://{}", rest.split('/').next().unwrap_or("")));
        self
    }

    /// How long a client may take to send a request's headers, and an idle kept-alive
    /// connection stays open (default [`edge::HEADER_READ_TIMEOUT`]).
    #[must_use]
    pub fn with_header_read_timeout(mut self, timeout: std::time::Duration) -> Application {
        self.header_read_timeout = timeout;
        self
    }

    /// The reverse proxies in front of this server: for requests from them, the client is the
    /// address they forwarded (`X-Forwarded-For`), so limits per source hold per client.
    ///
    /// # Panics
    /// When called after the server started serving.
    #[must_use]
    pub fn with_trusted_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> Application {
        Arc::get_mut(&mut self.state).expect("the state is not shared before the server runs").trusted_proxies =
            proxies;
        self
    }

    /// The other deployments this one settles cross-region treatment with.
    ///
    /// # Panics
    /// When called after the server started serving.
    #[must_use]
    pub fn with_peers(mut self, peers: peer::Peers) -> Application {
        Arc::get_mut(&mut self.state).expect("the state is not shared before the server runs").peers = peers;
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn port(&self) -> u16 {
        self.local_addr().map_or(0, |addr| addr.port())
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` completes.
    ///
    /// # Errors
    /// When serving fails.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let options = edge::ServeOptions {
            header_read_timeout: self.header_read_timeout,
            trusted_proxies: self.state.trusted_proxies.clone(),
        };
        edge::serve(self.listener, app(self.state), options, shutdown).await
    }
}

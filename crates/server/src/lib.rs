#![recursion_limit = "512"]
//! yibao's HTTP server: the national interface for HIS clients (`/fsi/…`), the REST API
//! (`/api/v1/…`), health and metrics. This is the only crate that knows HTTP and JSON; it
//! turns wire input into domain types once, at the edge, and hands commands to the store.

pub mod agency;
pub mod allocation;
pub mod counter;
pub mod demo;
pub mod face;
#[doc(hidden)]
pub mod fuzz;
mod metrics;
pub mod nhsa;
mod nonce;
pub mod pdf;
pub mod peer;
pub mod portal;
pub mod qr;
pub mod rest;
pub mod secret;
mod sessions;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use yibao_domain::InstitutionCode;
use yibao_engine::StoreFailure;
use yibao_engine::records::Institution;
use yibao_store::Store;

pub use metrics::Metrics;
pub use nhsa::fields::LINES_PER_MESSAGE_MAX;
pub use secret::Secrets;

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    pub secrets: Secrets,
    pub sessions: sessions::Sessions,
    pub nonces: nonce::NonceCache,
    pub metrics: Metrics,
    /// The face check behind e-voucher activation and face pay (see [`face`]).
    pub face: Arc<dyn face::FaceVerifier>,
    /// Other deployments, by the region each holds (see [`peer`]).
    pub peers: peer::Peers,
    institutions: RwLock<HashMap<InstitutionCode, Institution>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("store", &self.store).finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(store: Store, secrets: Secrets) -> AppState {
        AppState {
            store,
            secrets,
            sessions: sessions::Sessions::default(),
            nonces: nonce::NonceCache::default(),
            metrics: Metrics::default(),
            face: Arc::new(face::DeterministicFaceVerifier),
            peers: peer::Peers::default(),
            institutions: RwLock::new(HashMap::new()),
        }
    }

    /// An institution, from the cache or the store (cached afterwards).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn institution(&self, code: &InstitutionCode) -> Result<Option<Institution>, StoreFailure> {
        if let Some(found) = self.institutions.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(code) {
            return Ok(Some(found.clone()));
        }
        let lookup = code.clone();
        let found = self.store.read(move |r| r.institution(&lookup)).await?;
        if let Some(institution) = &found {
            self.institutions
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(code.clone(), institution.clone());
        }
        Ok(found)
    }

    /// Forgets cached institutions (after a registry change).
    pub fn forget_institutions(&self) {
        self.institutions.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}

/// The whole HTTP surface.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(nhsa::router())
        .merge(rest::router())
        .merge(peer::router())
        .merge(portal::router())
        .merge(counter::router())
        .merge(agency::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// One log line per request: method, path, status and time. Never a query string, a header
/// value or a body: those carry ID numbers, passwords, PINs and QR codes.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
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

/// Seconds since the Unix epoch, by the system clock (signature timestamps, session expiry).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// A bound server, ready to run. Tests bind port 0 and read [`Application::port`].
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: Arc<AppState>,
}

impl Application {
    /// Binds `listen` (e.g. `127.0.0.1:8080`, or port 0 for any free port).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn build(store: Store, secrets: Secrets, listen: &str) -> std::io::Result<Application> {
        let listener = TcpListener::bind(listen).await?;
        Ok(Application { listener, state: Arc::new(AppState::new(store, secrets)) })
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
        axum::serve(self.listener, app(self.state)).with_graceful_shutdown(shutdown).await
    }
}

//! What every handler shares ([`AppState`]) and the wall clock. Built only from the neutral
//! parts (store, secrets, sessions, nonces, metrics, the face verifier, peers, the guard's
//! counters, the body budget); no audience's module is imported here.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use yibao_domain::InstitutionCode;
use yibao_engine::StoreFailure;
use yibao_engine::records::Institution;
use yibao_store::Store;

use crate::kit::clock::unix_now;
use crate::kit::metrics::Metrics;
use crate::kit::secret::Secrets;
use crate::kit::{budget, face, nonce, sessions, tally};
use crate::peer::client::Peers;

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    pub secrets: Secrets,
    pub sessions: sessions::Sessions,
    pub nonces: nonce::NonceCache,
    pub metrics: Metrics,
    /// The face check behind e-voucher activation and face pay (see [`face`]).
    pub face: Arc<dyn face::FaceVerifier>,
    /// Other deployments, by the region each holds (see [`crate::peer`]).
    pub peers: Peers,
    /// Attempts at secrets, per source and per unknown name (see [`crate::guard`]).
    pub guard: tally::Guard,
    /// Reads of personal records by institutions, per minute.
    pub reads: tally::Quota,
    /// When this process started (Unix seconds).
    pub started_at: i64,
    /// Signatures with a timestamp at or before this are refused: when another process served
    /// this database before, its nonces are gone, so a header it accepted must not be accepted
    /// again. (`i64::MIN` for a database served for the first time.)
    pub replay_floor: i64,
    /// Request body bytes held in memory at once (see [`crate::edge`]).
    pub body_budget: budget::BodyBudget,
    /// Reached over TLS (the public URL is `https://`): session cookies are `Secure` and
    /// answers carry HSTS.
    pub https: bool,
    /// The public origin (`https://host[:port]`), when configured: pages' forms may come from it.
    pub public_origin: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see `guard::ClientAddr`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
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
            peers: Peers::default(),
            guard: tally::Guard::default(),
            reads: tally::Quota::default(),
            started_at: unix_now(),
            replay_floor: i64::MIN,
            body_budget: budget::BodyBudget::default(),
            https: false,
            public_origin: None,
            trusted_proxies: Vec::new(),
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

    pub fn public_origin(&self) -> Option<&str> {
        self.public_origin.as_deref()
    }

    /// Forgets cached institutions (after a registry change).
    pub fn forget_institutions(&self) {
        self.institutions.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}

//! Guessing secrets, limited. Every check of a password, PIN, activation code or counter
//! secret goes through [`try_secret`]:
//!
//! - **Counted before checked.** The attempt is counted (through the store's writer, which runs
//!   one command after another) before the secret is compared, so a hundred attempts at once
//!   cannot each see a count below the limit. The fifth consecutive failure locks the
//!   credential: a password for [`LOCK_MINUTES`] minutes, a card PIN until the bank resets it.
//! - **Per source as well as per account.** A source address (the TCP peer) that keeps failing
//!   is backed off, whatever names it tries: after [`SOURCE_FREE_FAILURES`] failures in
//!   [`WINDOW_SECONDS`], each further attempt waits twice as long as the one before (from 30 s
//!   to 15 minutes). A locked password may still be tried from a source with no recent
//!   failures, so one attacker cannot lock `admin` out of every desk.
//! - **The same for names that do not exist.** An unknown user, ID number or card is counted
//!   and locked in memory exactly like a real one, and its secret is "checked" against a dummy
//!   hash, so neither the answers nor their timing tell which names exist.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use yibao_domain::DateTime;
use yibao_engine::commands::{BeginAttempt, DESPITE_LOCK_FAILURES_MAX, FAILURES_MAX, LOCK_MINUTES, RecordAttempt};
use yibao_engine::records::{Credential, CredentialKind};
use yibao_engine::{ErrorKind, Outcome};

use crate::AppState;
use crate::rest::ApiError;

/// Failures a source may make in a window before it is backed off.
pub const SOURCE_FREE_FAILURES: u32 = 10;
/// How long failures are remembered (and a password lock lasts).
pub const WINDOW_SECONDS: i64 = LOCK_MINUTES * 60;
/// The first back-off; it doubles with every further failure.
const BACKOFF_FIRST_SECONDS: i64 = 30;
/// The longest back-off.
const BACKOFF_MAX_SECONDS: i64 = 15 * 60;
/// Sources and unknown names remembered at most (the oldest are forgotten first).
const ENTRIES_MAX: usize = 100_000;

/// The address a request came from: the TCP peer, or, when the peer is a configured trusted
/// proxy, the nearest address in `X-Forwarded-For` that is not one. An IPv6 address counts as
/// its /64 (one host has them all). `None` when the server does not know.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    /// The address from the peer and the headers, given the trusted proxies.
    pub fn of(peer: Option<IpAddr>, forwarded: Option<&str>, trusted: &[IpAddr]) -> ClientAddr {
        let mut client = peer;
        if let (Some(address), Some(forwarded)) = (peer, forwarded)
            && trusted.contains(&address)
        {
            // Right to left: each trusted proxy appended the address it received from.
            for hop in forwarded.rsplit(',') {
                match hop.trim().parse::<IpAddr>() {
                    Ok(hop) if trusted.contains(&hop) => client = Some(hop),
                    Ok(hop) => {
                        client = Some(hop);
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        ClientAddr(client.map(|address| match address {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(prefix))
            }
            IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().expect("checked")),
            v4 => v4,
        }))
    }
}

impl FromRequestParts<std::sync::Arc<AppState>> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &std::sync::Arc<AppState>,
    ) -> Result<ClientAddr, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip());
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|value| value.to_str().ok());
        Ok(ClientAddr::of(peer, forwarded, &state.trusted_proxies))
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Source {
    failures: u32,
    /// Attempts admitted and not yet decided.
    pending: u32,
    last_attempt: i64,
    last_failure: i64,
}

/// A name without a stored credential, counted in memory like a real one.
#[derive(Debug, Clone, Copy, Default)]
struct Phantom {
    failures: u32,
    locked_until: Option<i64>,
    last: i64,
}

/// The attempt counters kept in memory: per source address and per unknown name.
#[derive(Debug, Default)]
pub struct Guard {
    sources: Mutex<HashMap<IpAddr, Source>>,
    phantoms: Mutex<HashMap<[u8; 32], Phantom>>,
    dummy_hash: OnceLock<String>,
}

/// Leave to try a secret from a source, until the attempt is decided.
#[derive(Debug)]
pub struct Ticket<'g> {
    guard: &'g Guard,
    source: Option<IpAddr>,
    /// The source had no recent failures and nothing pending when admitted.
    clean: bool,
    decided: bool,
}

impl Ticket<'_> {
    fn decide(&mut self, failed: bool, now: i64) {
        if self.decided {
            return;
        }
        self.decided = true;
        let Some(ip) = self.source else { return };
        let mut sources = lock(&self.guard.sources);
        if let Some(source) = sources.get_mut(&ip) {
            source.pending = source.pending.saturating_sub(1);
            if failed {
                source.failures = source.failures.saturating_add(1);
                source.last_failure = now;
            }
        }
    }
}

impl Drop for Ticket<'_> {
    /// An attempt abandoned (the store failed) releases its place without counting.
    fn drop(&mut self) {
        self.decide(false, 0);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn backoff_seconds(count: u32) -> i64 {
    let doublings = count.saturating_sub(SOURCE_FREE_FAILURES).min(10);
    (BACKOFF_FIRST_SECONDS << doublings).min(BACKOFF_MAX_SECONDS)
}

impl Guard {
    /// Admits an attempt from `source`, or says how many seconds it must wait.
    ///
    /// # Errors
    /// The seconds to wait when the source is backed off.
    pub fn admit(&self, source: Option<IpAddr>, now: i64) -> Result<Ticket<'_>, i64> {
        let Some(ip) = source else {
            return Ok(Ticket { guard: self, source: None, clean: false, decided: false });
        };
        let mut sources = lock(&self.sources);
        if sources.len() >= ENTRIES_MAX && !sources.contains_key(&ip) {
            // Forget what no longer matters; never a source still in flight or backed off.
            sources.retain(|_, s| s.pending > 0 || now - s.last_failure <= WINDOW_SECONDS);
            if sources.len() >= ENTRIES_MAX {
                // Full of live back-offs: a new source is let through untracked rather than
                // wiping the others.
                return Ok(Ticket { guard: self, source: None, clean: false, decided: false });
            }
        }
        let source = sources.entry(ip).or_default();
        if source.pending == 0 && now - source.last_failure > WINDOW_SECONDS {
            source.failures = 0;
        }
        let count = source.failures + source.pending;
        if count >= SOURCE_FREE_FAILURES {
            let wait = source.last_attempt + backoff_seconds(count) - now;
            if wait > 0 {
                return Err(wait);
            }
        }
        let clean = count == 0;
        source.pending += 1;
        source.last_attempt = now;
        Ok(Ticket { guard: self, source: Some(ip), clean, decided: false })
    }

    fn phantom_key(kind: &str, name: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(kind.as_bytes());
        hasher.update([0]);
        hasher.update(name.as_bytes());
        hasher.finalize().into()
    }

    /// Counts an attempt at a name counted in memory (no stored credential, or a count of its
    /// own), as [`BeginAttempt`] counts one with a credential, and with the same rules for its
    /// kind: whether it may go on, and when its lock (if any) ends. A card PIN's lock does not
    /// run out and no source may try past it.
    fn phantom_begin(&self, kind: &str, name: &str, despite_lock: bool, now: i64) -> (bool, Option<i64>) {
        let pin = kind == CredentialKind::CardPin.as_str();
        let mut phantoms = lock(&self.phantoms);
        let key = Guard::phantom_key(kind, name);
        if phantoms.len() >= ENTRIES_MAX && !phantoms.contains_key(&key) {
            phantoms.retain(|_, p| now - p.last <= WINDOW_SECONDS || p.locked_until.is_some_and(|until| until > now));
            if phantoms.len() >= ENTRIES_MAX {
                // Full of live locks: an unknown name is let through uncounted rather than
                // wiping the locks of the others (it has no account to protect).
                return (true, None);
            }
        }
        let phantom = phantoms.entry(key).or_default();
        phantom.last = now;
        match phantom.locked_until {
            Some(until) if until > now => {
                let may_try = despite_lock && !pin && phantom.failures < DESPITE_LOCK_FAILURES_MAX;
                if !may_try {
                    return (false, Some(until));
                }
            }
            Some(_) => *phantom = Phantom { last: now, ..Phantom::default() },
            None => {}
        }
        phantom.failures = phantom.failures.saturating_add(1);
        if phantom.failures >= FAILURES_MAX && phantom.locked_until.is_none() {
            phantom.locked_until = Some(if pin { i64::MAX } else { now + WINDOW_SECONDS });
        }
        (true, phantom.locked_until)
    }

    fn phantom_succeeded(&self, kind: &str, name: &str) {
        lock(&self.phantoms).remove(&Guard::phantom_key(kind, name));
    }

    /// A hash that no presented secret matches, checked in place of a missing one so that an
    /// unknown name costs as much time as a known one.
    fn dummy_hash(&self, state: &AppState) -> String {
        self.dummy_hash.get_or_init(|| state.secrets.hash(&crate::secret::token())).clone()
    }
}

/// What a presented secret is checked against.
#[derive(Debug, Clone)]
pub enum Holder {
    /// A stored credential (it may have vanished meanwhile: then it is treated as unknown).
    Stored { subject: String, kind: CredentialKind },
    /// A name with no credential: an unknown user, ID number or card.
    Unknown { kind: CredentialKind, name: String },
    /// A stored hash whose attempts are counted apart from its credential, in memory under
    /// `name` with the rules of a password (a card's PIN given as proof of possession: those
    /// guesses must not lock the card itself).
    /// No hash: nothing matches (the name's owner has no such secret), counted all the same.
    Apart { name: String, hash: Option<String> },
}

/// How a check came out.
#[derive(Debug)]
pub enum Verdict {
    Right(Box<Credential>),
    Wrong,
    /// Locked (until this instant, when it ends).
    Locked(Option<DateTime>),
    /// The source must wait this many seconds.
    BackedOff(i64),
}

/// Whether the source's failures count (passwords: yes; a PIN typed at a hospital's terminal:
/// no, the card's own lock is the limit there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    Limited,
    Unlimited,
}

/// Checks `presented` against `holder`, counting the attempt first. See the module docs.
///
/// # Errors
/// When the store fails.
pub async fn try_secret(
    state: &AppState,
    client: ClientAddr,
    holder: Holder,
    presented: String,
    sources: Sources,
) -> Result<Verdict, ApiError> {
    let now = crate::unix_now();
    let source = match sources {
        Sources::Limited => client.0,
        Sources::Unlimited => None,
    };
    let mut ticket = match state.guard.admit(source, now) {
        Ok(ticket) => ticket,
        Err(wait) => return Ok(Verdict::BackedOff(wait)),
    };
    let despite_lock = ticket.clean;
    let mut holder = holder;
    let credential = match &holder {
        Holder::Stored { subject, kind } => {
            let begin = BeginAttempt { subject: subject.clone(), kind: *kind, despite_lock };
            match state.store.execute(begin).await {
                Ok(Outcome::Attempt { credential, allowed: true }) => Some(credential),
                Ok(Outcome::Attempt { credential, allowed: false }) => {
                    ticket.decide(true, now);
                    return Ok(Verdict::Locked(credential.locked_until));
                }
                Ok(_) => return Err(ApiError::from(yibao_engine::EngineError::internal("unexpected outcome"))),
                Err(error) if error.kind == ErrorKind::NotFound => {
                    holder = Holder::Unknown { kind: *kind, name: subject.clone() };
                    None
                }
                Err(error) => return Err(error.into()),
            }
        }
        Holder::Unknown { .. } | Holder::Apart { .. } => None,
    };
    let counted_apart = match &holder {
        Holder::Unknown { kind, name } => Some((kind.as_str(), name.clone())),
        Holder::Apart { name, .. } => Some(("apart", name.clone())),
        Holder::Stored { .. } => None,
    };
    if let Some((kind, name)) = &counted_apart {
        let (allowed, until) = state.guard.phantom_begin(kind, name, despite_lock, now);
        if !allowed {
            ticket.decide(true, now);
            return Ok(Verdict::Locked(until.filter(|until| *until < i64::MAX).map(DateTime::from_unix)));
        }
    }
    let hash = match (&credential, &holder) {
        (Some(credential), _) => credential.hash.clone(),
        (None, Holder::Apart { hash: Some(hash), .. }) => hash.clone(),
        (None, _) => state.guard.dummy_hash(state),
    };
    let secrets = state.secrets.clone();
    let matches = tokio::task::spawn_blocking(move || secrets.verify(&presented, &hash)).await.unwrap_or(false);
    match (matches, credential, &holder) {
        (true, Some(credential), _) => {
            let kind = credential.kind;
            state.store.execute(RecordAttempt { subject: credential.subject.clone(), kind, success: true }).await?;
            ticket.decide(false, now);
            Ok(Verdict::Right(credential))
        }
        (true, None, Holder::Apart { name, hash: Some(hash) }) => {
            state.guard.phantom_succeeded("apart", name);
            ticket.decide(false, now);
            Ok(Verdict::Right(Box::new(Credential {
                subject: name.clone(),
                kind: CredentialKind::CardPin,
                hash: hash.clone(),
                must_change: false,
                failures: 0,
                locked_until: None,
                roles: Vec::new(),
                updated_at: DateTime::from_unix(now),
            })))
        }
        _ => {
            ticket.decide(true, now);
            Ok(Verdict::Wrong)
        }
    }
}

/// Checks a secret that is compared in constant time rather than hashed (an institution's
/// gateway secret at the counter), with the same counting as [`try_secret`]: per source, and
/// per name in memory. `matches` is asked only when the attempt may go on.
///
/// # Errors
/// The verdict when the secret is not accepted (wrong, locked or backed off).
pub fn try_plain(
    state: &AppState,
    client: ClientAddr,
    kind: &str,
    name: &str,
    matches: impl FnOnce() -> bool,
) -> Result<(), Verdict> {
    let now = crate::unix_now();
    let mut ticket = state.guard.admit(client.0, now).map_err(Verdict::BackedOff)?;
    let (allowed, until) = state.guard.phantom_begin(kind, name, ticket.clean, now);
    if !allowed {
        ticket.decide(true, now);
        return Err(Verdict::Locked(until.map(DateTime::from_unix)));
    }
    match matches() {
        true => {
            state.guard.phantom_succeeded(kind, name);
            ticket.decide(false, now);
            Ok(())
        }
        false => {
            ticket.decide(true, now);
            Err(Verdict::Wrong)
        }
    }
}

/// 403 for a locked password (or name), 429 for a backed-off source.
pub fn refusal(verdict: &Verdict) -> Option<ApiError> {
    match verdict {
        Verdict::Locked(until) => {
            let until = until.map_or_else(|| "later".to_string(), |until| until.to_string());
            Some(ApiError::new(
                StatusCode::FORBIDDEN,
                "locked",
                format!("too many wrong attempts; locked until {until}"),
                format!("错误次数过多，已锁定至{until}"),
            ))
        }
        Verdict::BackedOff(wait) => Some(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("too many failed attempts from this address; try again in {wait} s"),
            format!("该地址失败次数过多，请{wait}秒后再试"),
        )),
        Verdict::Right(_) | Verdict::Wrong => None,
    }
}

/// Reads of personal records one institution may make over the REST API in a minute: an
/// HIS reads what it needs about its patients; more looks like harvesting.
pub const INSTITUTION_READS_PER_MINUTE: u32 = 60;

/// Fixed one-minute windows of requests per caller.
#[derive(Debug, Default)]
pub struct Quota {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl Quota {
    /// Takes one request of `caller`'s allowance this minute.
    ///
    /// # Errors
    /// The seconds until the next minute when the allowance is spent.
    pub fn take(&self, caller: &str, now: i64, per_minute: u32) -> Result<(), i64> {
        let minute = now.div_euclid(60);
        let mut windows = lock(&self.windows);
        if windows.len() >= ENTRIES_MAX {
            windows.retain(|_, (window, _)| *window == minute);
        }
        let entry = windows.entry(caller.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= per_minute {
            return Err((minute + 1) * 60 - now);
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn a_source_is_backed_off_after_its_free_failures_counting_those_in_flight() {
        let guard = Guard::default();
        let mut tickets: Vec<Ticket<'_>> =
            (0..SOURCE_FREE_FAILURES).map(|_| guard.admit(ip(2), 1_000).unwrap()).collect();
        assert!(tickets[0].clean && !tickets[1].clean);
        assert_eq!(guard.admit(ip(2), 1_000).unwrap_err(), BACKOFF_FIRST_SECONDS, "pending attempts count");
        assert!(guard.admit(ip(3), 1_000).is_ok_and(|ticket| ticket.clean), "another source is not touched");
        for ticket in &mut tickets {
            ticket.decide(true, 1_000);
        }
        drop(tickets);
        assert!(guard.admit(ip(2), 1_029).is_err());
        let mut after = guard.admit(ip(2), 1_030).expect("the back-off ran out");
        after.decide(true, 1_030);
        drop(after);
        assert_eq!(guard.admit(ip(2), 1_031).unwrap_err(), 2 * BACKOFF_FIRST_SECONDS - 1, "and doubles");
        assert!(guard.admit(ip(2), 1_030 + WINDOW_SECONDS + 1).is_ok_and(|t| t.clean), "forgotten after the window");
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_says_who_it_forwarded() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let peer = Some(proxy);
        assert_eq!(ClientAddr::of(peer, Some("1.2.3.4"), &[]).0, peer, "an untrusted peer's header is ignored");
        assert_eq!(ClientAddr::of(peer, Some("9.9.9.9, 1.2.3.4"), &[proxy]).0, Some("1.2.3.4".parse().unwrap()));
        let inner: IpAddr = "10.0.0.6".parse().unwrap();
        assert_eq!(
            ClientAddr::of(peer, Some("1.2.3.4, 10.0.0.6"), &[proxy, inner]).0,
            Some("1.2.3.4".parse().unwrap())
        );
        let v6: IpAddr = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap();
        assert_eq!(
            ClientAddr::of(Some(v6), None, &[]).0,
            Some("2001:db8:1:2::".parse().unwrap()),
            "a /64 is one source"
        );
    }

    #[test]
    fn an_unknown_card_locks_for_good_and_no_source_tries_past_it() {
        let guard = Guard::default();
        for _ in 0..FAILURES_MAX {
            assert!(guard.phantom_begin("card-pin", "A1", false, 100).0);
        }
        assert!(!guard.phantom_begin("card-pin", "A1", true, 100 + 10 * WINDOW_SECONDS).0);
    }

    #[test]
    fn a_clean_source_gets_a_few_more_tries_at_a_lock_not_unbounded_ones() {
        let guard = Guard::default();
        for _ in 0..FAILURES_MAX {
            guard.phantom_begin("portal", "y", false, 100);
        }
        let extra = (0..20).filter(|_| guard.phantom_begin("portal", "y", true, 101).0).count();
        assert_eq!(u32::try_from(extra).unwrap(), DESPITE_LOCK_FAILURES_MAX - FAILURES_MAX);
    }

    #[test]
    fn an_unknown_name_locks_like_a_real_one_and_a_clean_source_may_still_try() {
        let guard = Guard::default();
        for _ in 1..FAILURES_MAX {
            assert_eq!(guard.phantom_begin("portal", "x", false, 100), (true, None));
        }
        assert_eq!(guard.phantom_begin("portal", "x", false, 100), (true, Some(100 + WINDOW_SECONDS)));
        assert!(!guard.phantom_begin("portal", "x", false, 101).0);
        assert!(guard.phantom_begin("portal", "x", true, 101).0);
        assert!(guard.phantom_begin("portal", "x", false, 101 + WINDOW_SECONDS).0, "the lock runs out");
        assert!(guard.phantom_begin("counter", "x", false, 101).0, "names are per kind");
    }
}

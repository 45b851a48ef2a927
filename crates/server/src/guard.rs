//! Guessing secrets, limited. Every check of a password, PIN, activation code or counter
//! secret goes through [`try_secret`]:
//!
//! - **Counted before checked.** The attempt is counted (through the store's writer, which runs
//!   one command after another) before the secret is compared, so a hundred attempts at once
//!   cannot each see a count below the limit. The fifth consecutive failure locks the
//!   credential: a password for [`LOCK_MINUTES`](yibao_engine::commands::LOCK_MINUTES) minutes, a card PIN until the bank resets it.
//! - **Per source as well as per account.** A source address (the TCP peer) that keeps failing
//!   is backed off, whatever names it tries: after [`SOURCE_FREE_FAILURES`] failures in
//!   [`WINDOW_SECONDS`], each further attempt waits twice as long as the one before (from 30 s
//!   to 15 minutes). A locked password may still be tried from a source with no recent
//!   failures, so one attacker cannot lock `admin` out of every desk.
//! - **The same for names that do not exist.** An unknown user, ID number or card is counted
//!   and locked in memory exactly like a real one, and its secret is "checked" against a dummy
//!   hash, so neither the answers nor their timing tell which names exist.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use yibao_domain::DateTime;
use yibao_engine::commands::{BeginAttempt, RecordAttempt};
use yibao_engine::records::{Credential, CredentialKind};
use yibao_engine::{ErrorKind, Outcome};

pub use crate::kit::tally::{Guard, INSTITUTION_READS_PER_MINUTE, Quota, SOURCE_FREE_FAILURES, Ticket, WINDOW_SECONDS};
use crate::rest::ApiError;
use crate::state::AppState;

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
    let now = crate::kit::clock::unix_now();
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
        (None, _) => state.guard.dummy_hash(&state.secrets),
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
    let now = crate::kit::clock::unix_now();
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! The attempt counters kept in memory (per source address and per name without a stored
//! credential) and the per-minute quotas: plain data with their rules, no IO. [`crate::guard`]
//! checks secrets with them; [`crate::state::AppState`] holds them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};
use yibao_engine::commands::{DESPITE_LOCK_FAILURES_MAX, FAILURES_MAX, LOCK_MINUTES};
use yibao_engine::records::CredentialKind;

use crate::kit::secret::Secrets;

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
    pub(crate) clean: bool,
    decided: bool,
}

impl Ticket<'_> {
    pub(crate) fn decide(&mut self, failed: bool, now: i64) {
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
    pub(crate) fn phantom_begin(&self, kind: &str, name: &str, despite_lock: bool, now: i64) -> (bool, Option<i64>) {
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

    pub(crate) fn phantom_succeeded(&self, kind: &str, name: &str) {
        lock(&self.phantoms).remove(&Guard::phantom_key(kind, name));
    }

    /// A hash that no presented secret matches, checked in place of a missing one so that an
    /// unknown name costs as much time as a known one.
    pub(crate) fn dummy_hash(&self, secrets: &Secrets) -> String {
        self.dummy_hash.get_or_init(|| secrets.hash(&crate::kit::secret::token())).clone()
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

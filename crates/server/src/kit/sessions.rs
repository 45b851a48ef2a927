//! Login sessions: random bearer tokens, kept in memory by their SHA-256 (a restart logs
//! everyone out, which is acceptable for an agency desk and a portal).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// How long a session lasts, in seconds.
pub const SESSION_SECONDS: i64 = 8 * 3600;
/// The most sessions held; the oldest expire first when full.
const SESSIONS_MAX: usize = 100_000;

/// Who a session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Operator {
        username: String,
        roles: Vec<String>,
    },
    Person {
        psn_no: String,
    },
    /// A designated institution's counter (signed in with its gateway secret): the counter
    /// pages only.
    Institution {
        code: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub subject: Subject,
    /// The initial password opens only the password change.
    pub change_password_only: bool,
    pub expires: i64,
}

#[derive(Debug, Default)]
pub struct Sessions {
    by_token: Mutex<HashMap<[u8; 32], Session>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// Starts a session and returns its token.
    pub fn start(&self, session: Session, now: i64) -> String {
        let token = crate::kit::secret::token();
        let mut sessions = self.by_token.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if sessions.len() >= SESSIONS_MAX {
            sessions.retain(|_, s| s.expires > now);
        }
        if sessions.len() >= SESSIONS_MAX
            && let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(digest(&token), session);
        token
    }

    pub fn find(&self, token: &str, now: i64) -> Option<Session> {
        let sessions = self.by_token.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.get(&digest(token)).filter(|s| s.expires > now).cloned()
    }

    pub fn end(&self, token: &str) {
        self.by_token.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&digest(token));
    }

    /// Ends every session of a person (after a password change).
    pub fn end_person(&self, psn_no: &str) {
        self.by_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, s| !matches!(&s.subject, Subject::Person { psn_no: p } if p == psn_no));
    }
}

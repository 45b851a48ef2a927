//! Credentials (operator passwords, portal passwords, card PINs), login attempts and the
//! audit of sensitive reads. Hashing happens in the server (it holds the secret); these
//! commands keep the hashes and the attempt counters.

use yibao_domain::DateTime;

use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{AuditEntry, Credential, CredentialKind};
use crate::working_set::{Keys, WorkingSet};

/// Consecutive failures that lock a credential.
pub const FAILURES_MAX: u32 = 5;
/// How long a portal or operator lock lasts (a card PIN lock lasts until reset at the bank).
pub const LOCK_MINUTES: i64 = 15;
/// The failures after which a locked password refuses even a source with no failures of its
/// own (see [`BeginAttempt`]).
pub const DESPITE_LOCK_FAILURES_MAX: u32 = 2 * FAILURES_MAX;

/// Creates or replaces a credential.
#[derive(Debug, Clone)]
pub struct PutCredential {
    pub credential: Credential,
    pub actor: String,
}

impl Command for PutCredential {
    fn name(&self) -> &'static str {
        "put-credential"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut credential = self.credential.clone();
        credential.updated_at = ctx.now;
        ws.put_credential(credential.clone());
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: format!("set-{}", credential.kind.as_str()),
            subject: credential.subject.clone(),
            reason: String::new(),
        });
        Ok(Outcome::Credential(Box::new(credential)))
    }
}

/// Counts an attempt at a secret *before* the secret is checked, so that many attempts at once
/// cannot each see a count below the limit: the writer runs these one after another. The
/// attempt that reaches [`FAILURES_MAX`] locks the credential at once (it is still checked; if
/// it is right, [`RecordAttempt`] with success clears the lock). A locked credential refuses
/// further attempts, unless `despite_lock` (a password tried from a source with no recent
/// failures: one attacker must not lock the owner out everywhere). A lock that has run out is
/// cleared here.
#[derive(Debug, Clone)]
pub struct BeginAttempt {
    pub subject: String,
    pub kind: CredentialKind,
    pub despite_lock: bool,
}

/// The stored credential of `subject`, which must exist.
fn stored(ws: &mut WorkingSet<'_>, subject: &str, kind: CredentialKind) -> Result<Credential, EngineError> {
    ws.credential(subject, kind)?.ok_or_else(|| EngineError::not_found("凭证不存在", "no such credential"))
}

/// When a lock taken now ends: a card PIN's lasts until the bank resets it.
pub fn lock_end(kind: CredentialKind, now: DateTime) -> DateTime {
    match kind {
        CredentialKind::CardPin => DateTime::start_of(yibao_domain::Date::FOREVER),
        _ => now.plus_seconds(LOCK_MINUTES * 60),
    }
}

impl Command for BeginAttempt {
    fn name(&self) -> &'static str {
        "begin-attempt"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut credential = stored(ws, &self.subject, self.kind)?;
        match credential.locked_until {
            Some(until) if until > ctx.now => {
                // A clean source gets a few more tries at a locked password, never unbounded: a
                // crowd of fresh addresses must not make the lock count for nothing.
                let may_try = self.despite_lock
                    && self.kind != CredentialKind::CardPin
                    && credential.failures < DESPITE_LOCK_FAILURES_MAX;
                if !may_try {
                    return Ok(Outcome::Attempt { credential: Box::new(credential), allowed: false });
                }
            }
            Some(_) => {
                credential.failures = 0;
                credential.locked_until = None;
            }
            None => {}
        }
        credential.failures = credential.failures.saturating_add(1);
        if credential.failures >= FAILURES_MAX && credential.locked_until.is_none() {
            credential.locked_until = Some(lock_end(self.kind, ctx.now));
        }
        ws.put_credential(credential.clone());
        Ok(Outcome::Attempt { credential: Box::new(credential), allowed: true })
    }
}

/// Records the result of checking a secret: success clears the failure count; a failure adds
/// one and locks the credential at [`FAILURES_MAX`]. (Attempts counted first with
/// [`BeginAttempt`] need only the success recorded.)
#[derive(Debug, Clone)]
pub struct RecordAttempt {
    pub subject: String,
    pub kind: CredentialKind,
    pub success: bool,
}

impl Command for RecordAttempt {
    fn name(&self) -> &'static str {
        "record-attempt"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut credential = stored(ws, &self.subject, self.kind)?;
        match self.success {
            true => {
                credential.failures = 0;
                credential.locked_until = None;
            }
            false => {
                credential.failures += 1;
                if credential.failures >= FAILURES_MAX {
                    credential.locked_until = Some(lock_end(self.kind, ctx.now));
                }
            }
        }
        ws.put_credential(credential.clone());
        Ok(Outcome::Credential(Box::new(credential)))
    }
}

/// Replaces a secret chosen by its holder (a new password after the initial one).
#[derive(Debug, Clone)]
pub struct ChangeSecret {
    pub subject: String,
    pub kind: CredentialKind,
    pub hash: String,
    /// Who changed it (`person:…`, `operator:…`), for the audit log; the subject is the
    /// credential's holder (a person number, a card number, an operator name).
    pub actor: String,
}

impl Command for ChangeSecret {
    fn name(&self) -> &'static str {
        "change-secret"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut credential = stored(ws, &self.subject, self.kind)?;
        credential.hash.clone_from(&self.hash);
        credential.must_change = false;
        credential.failures = 0;
        credential.locked_until = None;
        credential.updated_at = ctx.now;
        ws.put_credential(credential.clone());
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: format!("change-{}", self.kind.as_str()),
            subject: self.subject.clone(),
            reason: String::new(),
        });
        Ok(Outcome::Credential(Box::new(credential)))
    }
}

/// Uses up a one-time secret (an activation code) the server just checked: only if it is still
/// the one checked (`expected_hash`), so of two requests that checked it at once, one wins.
/// The hash is replaced by one nothing matches.
#[derive(Debug, Clone)]
pub struct ConsumeCredential {
    pub subject: String,
    pub kind: CredentialKind,
    pub expected_hash: String,
    pub replacement_hash: String,
    pub actor: String,
}

impl Command for ConsumeCredential {
    fn name(&self) -> &'static str {
        "consume-credential"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut credential = stored(ws, &self.subject, self.kind)?;
        if credential.hash != self.expected_hash {
            return Err(EngineError::conflict("该凭证已被使用", "the secret was used already"));
        }
        credential.hash.clone_from(&self.replacement_hash);
        credential.failures = 0;
        credential.locked_until = None;
        credential.updated_at = ctx.now;
        ws.put_credential(credential.clone());
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: format!("use-{}", self.kind.as_str()),
            subject: self.subject.clone(),
            reason: String::new(),
        });
        Ok(Outcome::Credential(Box::new(credential)))
    }
}

/// Writes an audit entry (a sensitive read, a login).
#[derive(Debug, Clone)]
pub struct RecordAudit {
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub reason: String,
}

impl Command for RecordAudit {
    fn name(&self) -> &'static str {
        "record-audit"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: self.action.clone(),
            subject: self.subject.clone(),
            reason: self.reason.clone(),
        });
        Ok(Outcome::Done)
    }
}

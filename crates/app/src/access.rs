//! Credentials and the audit log, written the same way from every edge: a credential put in
//! place (an operator's, a person's activation code, the demo's), a secret changed by its
//! holder or reset (a password, a card PIN), an entry of the audit log.

use yibao_engine::commands::{ChangeSecret, PutCredential, RecordAudit};
use yibao_engine::records::{Credential, CredentialKind};

/// Puts `credential` in place; `actor` did it.
pub fn put_credential(credential: Credential, actor: String) -> PutCredential {
    PutCredential { credential, actor }
}

/// Replaces `subject`'s secret of `kind` with `hash` (an Argon2id hash); `actor` did it.
pub fn change_secret(subject: String, kind: CredentialKind, hash: String, actor: String) -> ChangeSecret {
    ChangeSecret { subject, kind, hash, actor }
}

/// An entry of the audit log: `actor` did `action` to `subject`, for `reason`.
pub fn audit(actor: String, action: &str, subject: String, reason: String) -> RecordAudit {
    RecordAudit { actor, action: action.to_string(), subject, reason }
}

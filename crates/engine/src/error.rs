//! Why a command was refused, in Chinese (for HIS operators) and English (for the REST API).

use std::fmt;

/// The class of a refusal, which the server maps to HTTP statuses and error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or contradicts itself.
    Invalid,
    /// Something it names does not exist.
    NotFound,
    /// It conflicts with the current state (already settled, msgid reused, …).
    Conflict,
    /// The caller may not do this.
    Forbidden,
    /// A business rule refuses it (not designated, insufficient, not registered, …).
    Refused,
    /// The store failed; nothing was changed. Safe to retry.
    Unavailable,
    /// A bug: an invariant did not hold. Logged in full, reported without detail.
    Internal,
}

/// A refused command. Messages say precisely what is wrong, quoting the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    pub kind: ErrorKind,
    pub zh: String,
    pub en: String,
}

impl EngineError {
    pub fn new(kind: ErrorKind, zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError { kind, zh: zh.into(), en: en.into() }
    }

    pub fn invalid(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError::new(ErrorKind::Invalid, zh, en)
    }

    pub fn not_found(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError::new(ErrorKind::NotFound, zh, en)
    }

    pub fn conflict(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError::new(ErrorKind::Conflict, zh, en)
    }

    pub fn refused(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError::new(ErrorKind::Refused, zh, en)
    }

    pub fn forbidden(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError::new(ErrorKind::Forbidden, zh, en)
    }

    pub fn unavailable(detail: impl fmt::Display) -> EngineError {
        EngineError::new(
            ErrorKind::Unavailable,
            "医保服务暂时不可用，请稍后重试",
            format!("the store is unavailable, nothing was changed; retry later ({detail})"),
        )
    }

    pub fn internal(detail: impl fmt::Display) -> EngineError {
        EngineError::new(ErrorKind::Internal, "医保服务内部错误", format!("internal error: {detail}"))
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

impl std::error::Error for EngineError {}

/// The store could not load or write: the whole batch is abandoned and nothing is changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFailure(pub String);

impl fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreFailure {}

impl From<StoreFailure> for EngineError {
    fn from(failure: StoreFailure) -> EngineError {
        EngineError::unavailable(failure)
    }
}

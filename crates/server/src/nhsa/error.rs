//! A refusal on the national interface: `infcode: -1` and a message for the HIS.

use yibao_engine::{EngineError, ErrorKind};

/// A refusal: `infcode: -1` and this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NhsaError {
    pub message: String,
}

impl NhsaError {
    pub fn new(message: impl Into<String>) -> NhsaError {
        NhsaError { message: message.into() }
    }
}

impl From<EngineError> for NhsaError {
    fn from(error: EngineError) -> NhsaError {
        match error.kind {
            ErrorKind::Internal => {
                tracing::error!(error = %error.en, "internal error");
                NhsaError::new("医保服务内部错误，请联系医保经办机构")
            }
            ErrorKind::Unavailable => {
                tracing::warn!(error = %error.en, "store unavailable");
                NhsaError::new(error.zh)
            }
            _ => NhsaError::new(error.zh),
        }
    }
}

impl From<yibao_engine::StoreFailure> for NhsaError {
    fn from(failure: yibao_engine::StoreFailure) -> NhsaError {
        tracing::warn!(%failure, "store read failed");
        NhsaError::new("医保服务暂时不可用，请稍后重试")
    }
}

//! The REST API's one error shape: `{"error": {"code", "message", "message_zh"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use yibao_engine::{EngineError, ErrorKind, StoreFailure};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub message_zh: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        message_zh: impl Into<String>,
    ) -> ApiError {
        ApiError { status, code, message: message.into(), message_zh: message_zh.into() }
    }

    pub fn invalid(message: impl Into<String>, message_zh: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", message, message_zh)
    }

    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message, "未登录或登录已失效")
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message, "无权访问")
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message, "未找到")
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        let (status, code) = match error.kind {
            ErrorKind::Invalid => (StatusCode::BAD_REQUEST, "invalid"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ErrorKind::Refused => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
            ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ErrorKind::Internal => {
                tracing::error!(error = %error.en, "internal error");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error", "系统内部错误");
            }
        };
        ApiError::new(status, code, error.en, error.zh)
    }
}

impl From<StoreFailure> for ApiError {
    fn from(failure: StoreFailure) -> ApiError {
        tracing::warn!(%failure, "store read failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store is unavailable; retry later",
            "服务暂时不可用",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message, "message_zh": self.message_zh}});
        (self.status, axum::Json(body)).into_response()
    }
}

/// `axum`'s query extractor, refusing in the API's error shape (axum's own answers in plain text).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => {
                let problem = rejection.body_text();
                let problem = problem.strip_prefix("Failed to deserialize query string: ").unwrap_or(&problem);
                Err(ApiError::invalid(format!("query: {problem}"), format!("查询参数错误：{problem}")))
            }
        }
    }
}

/// `axum`'s path extractor, refusing in the API's error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => {
                let problem = rejection.body_text();
                Err(ApiError::invalid(format!("path: {problem}"), format!("路径参数错误：{problem}")))
            }
        }
    }
}

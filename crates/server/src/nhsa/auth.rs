//! The gateway signature in front of the national interface (§1.1): `x-tif-paasid` names the
//! institution, `x-tif-signature` = hex(SHA-256(timestamp + secret + nonce + timestamp)). The
//! timestamp must be within the window and not before this process started, and a signature
//! (institution, timestamp, nonce) is accepted once: a replay is refused, while an honest client
//! whose short nonces repeat with a new timestamp is not.
//!
//! The signature covers the headers, not the body: whoever can read a request in transit can
//! replace its body within the same second. Run the national interface behind TLS (docs/nhsa.md).

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use yibao_domain::InstitutionCode;
use yibao_engine::records::Institution;

use super::NhsaError;
use crate::state::AppState;
use yibao_app::hex;

/// How far a request's timestamp may be from the server's clock, either way.
pub const TIMESTAMP_WINDOW_SECONDS: i64 = 300;
/// The longest nonce accepted.
const NONCE_MAX: usize = 128;

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, NhsaError> {
    match headers.get(name).map(|value| value.to_str()) {
        None => Err(NhsaError::new(format!("缺少请求头{name}"))),
        Some(Err(_)) => Err(NhsaError::new(format!("请求头{name}含有非法字符"))),
        Some(Ok(value)) if value.trim().is_empty() => Err(NhsaError::new(format!("请求头{name}不能为空"))),
        Some(Ok(value)) => Ok(value.trim()),
    }
}

/// The expected signature for a timestamp, secret and nonce.
pub fn signature(timestamp: &str, secret: &str, nonce: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(timestamp.as_bytes());
    hasher.update(secret.as_bytes());
    hasher.update(nonce.as_bytes());
    hasher.update(timestamp.as_bytes());
    hex(&hasher.finalize())
}

/// Compares without stopping at the first difference.
/// Checks the signature headers and returns the institution that signed.
///
/// # Errors
/// Why the request is not authentic (answered with HTTP 401).
pub async fn verify(app: &AppState, headers: &HeaderMap) -> Result<Institution, NhsaError> {
    let paasid = header(headers, "x-tif-paasid")?;
    let timestamp = header(headers, "x-tif-timestamp")?;
    let nonce = header(headers, "x-tif-nonce")?;
    let given = header(headers, "x-tif-signature")?;
    let code: InstitutionCode = paasid.parse().map_err(|_| NhsaError::new(format!("x-tif-paasid {paasid}格式错误")))?;
    let seconds: i64 =
        timestamp.parse().map_err(|_| NhsaError::new(format!("x-tif-timestamp {timestamp}不是Unix时间戳（秒）")))?;
    if nonce.len() > NONCE_MAX {
        return Err(NhsaError::new(format!("x-tif-nonce超长：最多{NONCE_MAX}个字符")));
    }
    let now = crate::kit::clock::unix_now();
    if now.abs_diff(seconds) > TIMESTAMP_WINDOW_SECONDS.unsigned_abs() {
        return Err(NhsaError::new(format!(
            "x-tif-timestamp {timestamp}已超出有效期（与服务器时间相差超过{TIMESTAMP_WINDOW_SECONDS}秒）"
        )));
    }
    // The nonces seen before a restart are gone: a signature made before it could be replayed.
    if seconds <= app.replay_floor {
        return Err(NhsaError::new(format!(
            "x-tif-timestamp {timestamp}早于医保服务本次启动时间，请用当前时间重新签名"
        )));
    }
    let institution = app
        .institution(&code)
        .await
        .map_err(|_| NhsaError::new("认证服务暂时不可用，请稍后重试"))?
        .ok_or_else(|| NhsaError::new(format!("x-tif-paasid {paasid}未注册为定点医药机构")))?;
    if !crate::kit::secret::constant_time_equal(
        &signature(timestamp, &institution.gateway_secret, nonce),
        &given.to_ascii_lowercase(),
    ) {
        return Err(NhsaError::new("x-tif-signature签名校验失败"));
    }
    if !app.nonces.accept(&format!("{paasid}:{seconds}:{nonce}"), now, seconds + TIMESTAMP_WINDOW_SECONDS) {
        return Err(NhsaError::new("x-tif-nonce与x-tif-timestamp的组合已使用过，请求被视为重放"));
    }
    Ok(institution)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_sha256_of_timestamp_secret_nonce_timestamp() {
        // sha256("1700000000" + "demo-H33010000001" + "abc" + "1700000000")
        let expected = {
            let mut hasher = Sha256::new();
            hasher.update(b"1700000000demo-H33010000001abc1700000000");
            hex(&hasher.finalize())
        };
        assert_eq!(signature("1700000000", "demo-H33010000001", "abc"), expected);
        assert!(crate::kit::secret::constant_time_equal("abc", "abc"));
        assert!(!crate::kit::secret::constant_time_equal("abc", "abd"));
        assert!(!crate::kit::secret::constant_time_equal("abc", "ab"));
    }
}

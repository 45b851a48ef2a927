//! The e-voucher's opaque codes: a dynamic QR code and the `ecToken` an institution gets for it.

use std::fmt;
use std::str::FromStr;

use crate::{Admdvs, ParseError};

/// A dynamic QR code or an `ecToken`: `<holder's admdvs>ec<32 lowercase hex>`, 40 characters.
/// Opaque: the hex part carries no personal data (random for a QR code, derived with the server
/// secret for a token); only its hash is ever stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EcCode(String);

impl EcCode {
    pub const LEN: usize = 40;

    /// The holder's region, the code's first six digits.
    pub fn region(&self) -> Admdvs {
        self.0[..6].parse().expect("checked when parsed")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EcCode {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<EcCode, ParseError> {
        let invalid = |problem: &str, zh: &str| Err(ParseError::bilingual("e-voucher code", problem, zh));
        if text.len() != EcCode::LEN || !text.is_ascii() {
            return invalid("must be 40 characters: <admdvs>ec<32 hex>", "应为40位：6位区划+ec+32位十六进制");
        }
        let bytes = text.as_bytes();
        if text[..6].parse::<Admdvs>().is_err() {
            return invalid("must start with a six-digit region code", "应以6位行政区划代码开头");
        }
        if &bytes[6..8] != b"ec" {
            return invalid("the region code must be followed by \"ec\"", "区划代码后应为ec");
        }
        if !bytes[8..].iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) {
            return invalid("must end in 32 lowercase hex digits", "应以32位小写十六进制结尾");
        }
        Ok(EcCode(text.to_string()))
    }
}

impl fmt::Display for EcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_its_own_shape_only() {
        let code: EcCode = "330100ec0123456789abcdef0123456789abcdef".parse().unwrap();
        assert_eq!(code.region().as_str(), "330100");
        assert_eq!(code.to_string().parse::<EcCode>().unwrap(), code);
        for bad in [
            "",
            "330100ec0123456789abcdef0123456789abcde",
            "330100ec0123456789abcdef0123456789ABCDEF",
            "33010xec0123456789abcdef0123456789abcdef",
            "330100EC0123456789abcdef0123456789abcdef",
            "330100ec0123456789abcdef0123456789abcdeg",
            "330100ec0123456789abcdef0123456789abcdé",
            "33010éc0123456789abcdef0123456789abcdef",
        ] {
            assert!(bad.parse::<EcCode>().is_err(), "{bad}");
        }
    }
}

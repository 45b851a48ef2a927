//! The idempotency envelope of a write, built the same way for every edge: a key the caller
//! chose (the national interface's `msgid`, REST's `Idempotency-Key`, the counter's message id,
//! a peer's `msgid`), the institution it is scoped to, the channel it came through and a
//! fingerprint of the request. The same key with the same request replays the stored answer;
//! with another request it is refused.

use sha2::{Digest, Sha256};
use yibao_domain::{InstitutionCode, MsgId};
use yibao_engine::Envelope;
use yibao_engine::commands::Render;

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// SHA-256 (hex) of `parts`, each followed by a newline but the last.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            hasher.update(b"\n");
        }
        hasher.update(part);
    }
    hex(&hasher.finalize())
}

/// Who asks for a write, under which key, with which request. Each edge fingerprints its
/// request its own way (the national interface its canonical envelope, REST the route and the
/// body, the counter the bill), and must keep doing so: a retry after an upgrade is recognised
/// only by the same fingerprint. Each edge fingerprints its
/// request its own way (the national interface its canonical envelope, REST the route and the
/// body, the counter the bill), and must keep doing so: a retry after an upgrade is recognised
/// only by the same fingerprint.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: MsgId,
    pub institution: InstitutionCode,
    /// Where the request came from: a transaction code (`2207`), `rest:settle`, `counter-2207`…
    pub channel: String,
    /// SHA-256 (hex) of what the request asked for.
    pub request_hash: String,
    /// Whether a reversal (2601) may undo it later.
    pub reversible: bool,
}

impl Idempotency {
    /// The envelope the writer stores the answer under; `render` makes the stored answer.
    pub fn envelope(self, render: Render) -> Envelope {
        Envelope {
            msgid: self.key,
            institution: self.institution,
            infno: self.channel,
            request_hash: self.request_hash,
            reversible: self.reversible,
            render,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_digest() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        // SHA-256 of "abc".
        assert_eq!(sha256_hex(&[b"abc"]), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_hex(&[b"a", b"b"]), sha256_hex(&[b"a\nb"]));
    }
}

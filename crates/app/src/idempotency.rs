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

/// Where a write came from. Stored beside its key (the messages' `infno`), so a retry is
/// recognised only when it comes the same way, and a reversal (2601) names a transaction of the
/// national interface, never a page's or a peer's. The stored forms are fixed: messages written
/// by earlier releases must still be recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// The national interface, by transaction code: stored as the code (`2207`).
    National(String),
    /// The REST API, by route: stored as `rest:<route>` (`rest:settle`).
    Rest(&'static str),
    /// An institution's counter page, by the transaction it stands for: `counter-<infno>`.
    Counter(&'static str),
    /// A peer deployment's request, by the transaction it stands for: `peer-<infno>`.
    Peer(&'static str),
}

impl Channel {
    /// The form stored with the message.
    pub fn stored(&self) -> String {
        match self {
            Channel::National(infno) => infno.clone(),
            Channel::Rest(route) => format!("rest:{route}"),
            Channel::Counter(infno) => format!("counter-{infno}"),
            Channel::Peer(infno) => format!("peer-{infno}"),
        }
    }
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
    /// Where the request came from.
    pub channel: Channel,
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
            infno: self.channel.stored(),
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

    #[test]
    fn channels_are_stored_as_earlier_releases_stored_them() {
        assert_eq!(Channel::National("2207".into()).stored(), "2207");
        assert_eq!(Channel::Rest("settle").stored(), "rest:settle");
        assert_eq!(Channel::Counter("2304").stored(), "counter-2304");
        assert_eq!(Channel::Peer("2208").stored(), "peer-2208");
    }
}

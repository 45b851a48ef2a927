//! Passwords and PINs: Argon2id keyed with the server's secret (a pepper kept outside the
//! database), so a stolen database alone cannot be used to test guesses. Random tokens.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// The server's secret and the Argon2id parameters.
#[derive(Clone)]
pub struct Secrets {
    pepper: Vec<u8>,
    params: Params,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").finish_non_exhaustive()
    }
}

/// The shortest server secret accepted.
pub const SECRET_MIN_BYTES: usize = 32;

impl Secrets {
    /// # Errors
    /// When the secret is shorter than [`SECRET_MIN_BYTES`].
    pub fn new(pepper: Vec<u8>) -> Result<Secrets, String> {
        if pepper.len() < SECRET_MIN_BYTES {
            return Err(format!("the server secret must be at least {SECRET_MIN_BYTES} bytes"));
        }
        Ok(Secrets { pepper, params: Params::default() })
    }

    /// A fresh random secret (for tests, or a first start that writes it to a file).
    pub fn generate() -> Vec<u8> {
        random_bytes::<32>().to_vec()
    }

    fn argon2(&self) -> Argon2<'_> {
        Argon2::new_with_secret(&self.pepper, Algorithm::Argon2id, Version::V0x13, self.params.clone())
            .expect("the secret's length was checked")
    }

    /// The PHC string of a new hash of `secret`.
    pub fn hash(&self, secret: &str) -> String {
        let salt = random_bytes::<16>();
        self.argon2()
            .hash_password_with_salt(secret.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .expect("Argon2id hashes any password of sane length")
    }

    /// Whether `secret` matches `hash`.
    pub fn verify(&self, secret: &str, hash: &str) -> bool {
        self.argon2().verify_password(secret.as_bytes(), hash).is_ok()
    }
}

impl Secrets {
    /// HMAC-SHA256 (RFC 2104) of `message` under the server secret: values only this server
    /// can derive (an `ecToken` from the QR code it was decoded from).
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.pepper, message)
    }
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(secret: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut key = [0u8; 64];
    if secret.len() > 64 {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
}

/// A random number below `bound` (not zero); the bias of taking a 64-bit draw modulo a bound
/// this small is below one in 10^9.
pub fn random_below(bound: u64) -> u64 {
    u64::from_le_bytes(random_bytes::<8>()) % bound
}

/// A random token, 64 hex characters.
pub fn token() -> String {
    yibao_app::hex(&random_bytes::<32>())
}

/// Whether two secrets (signatures, shared secrets) are equal, in time that does not depend on
/// where they first differ.
pub fn constant_time_equal(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && expected.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2 uses a 4-byte key; pad ours to the minimum with a longer case:
        // test case 6 (a 131-byte key, hashed first).
        let secrets = Secrets::new(vec![0xaa; 131]).unwrap();
        let mac = secrets.mac(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(yibao_app::hex(&mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn hashes_verify_only_with_the_same_secret() {
        let secrets = Secrets::new(vec![7; 32]).unwrap();
        let hash = secrets.hash("Demo@2026");
        assert!(hash.starts_with("$argon2id$"));
        assert!(secrets.verify("Demo@2026", &hash));
        assert!(!secrets.verify("demo@2026", &hash));
        let other = Secrets::new(vec![8; 32]).unwrap();
        assert!(!other.verify("Demo@2026", &hash), "the pepper is part of the hash");
        assert!(Secrets::new(vec![1; 8]).is_err());
    }
}

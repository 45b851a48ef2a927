//! Nonces seen in the signature window, so a replayed request is refused.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Mutex;

/// Width of a bucket of expiry times, in seconds.
const BUCKET_SECONDS: i64 = 10;

/// Hashes of nonces by when they stop mattering. A nonce is remembered until the signature
/// window of its timestamp has passed; older buckets are dropped whole.
#[derive(Debug, Default)]
pub struct NonceCache {
    hasher: RandomState,
    buckets: Mutex<BTreeMap<i64, HashSet<u64>>>,
}

impl NonceCache {
    /// Records `key` until `expires` (Unix seconds); false when it was already recorded.
    pub fn accept(&self, key: &str, now: i64, expires: i64) -> bool {
        let hash = self.hasher.hash_one(key);
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let live = now.div_euclid(BUCKET_SECONDS);
        while let Some((&oldest, _)) = buckets.first_key_value() {
            if oldest >= live {
                break;
            }
            buckets.pop_first();
        }
        if buckets.values().any(|bucket| bucket.contains(&hash)) {
            return false;
        }
        buckets.entry(expires.div_euclid(BUCKET_SECONDS)).or_default().insert(hash);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_once_within_its_window() {
        let cache = NonceCache::default();
        assert!(cache.accept("H1:n1", 1_000, 1_300));
        assert!(!cache.accept("H1:n1", 1_100, 1_400));
        assert!(cache.accept("H2:n1", 1_100, 1_400));
        // After the window the bucket is gone; the timestamp check refuses such requests anyway.
        assert!(cache.accept("H1:n1", 1_320, 1_600));
    }
}

//! The bytes of request bodies held in memory at once, and each source's share of them:
//! [`crate::edge`] takes a share before a body is read.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Request body bytes held in memory at once, across all requests (1 KiB units).
pub const BODY_BYTES_IN_FLIGHT_MAX: usize = 64 * 1024 * 1024;
/// How long a request waits for room among the bytes in flight before it is turned away.
pub const ROOM_WAIT: Duration = Duration::from_secs(5);

/// Request body bytes one source may hold in memory at once: a quarter of the whole, so that a
/// few connections from one address cannot take every POST's room.
pub const BODY_BYTES_PER_SOURCE_MAX: usize = BODY_BYTES_IN_FLIGHT_MAX / 4;
/// The bytes of request bodies in memory, in KiB permits, and each source's share of them.
#[derive(Debug)]
pub struct BodyBudget {
    pub(crate) room: Arc<Semaphore>,
    by_source: std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>,
}

impl Default for BodyBudget {
    fn default() -> BodyBudget {
        BodyBudget {
            room: Arc::new(Semaphore::new(BODY_BYTES_IN_FLIGHT_MAX / 1024)),
            by_source: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }
}

/// A source's share of the bytes in flight, given back when the request is answered.
pub(crate) struct Share<'b> {
    budget: &'b BodyBudget,
    source: Option<IpAddr>,
    bytes: usize,
}

impl BodyBudget {
    pub(crate) fn share(&self, source: Option<IpAddr>, bytes: usize) -> Option<Share<'_>> {
        if let Some(ip) = source {
            let mut by_source = self.by_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let held = by_source.entry(ip).or_insert(0);
            if *held + bytes > BODY_BYTES_PER_SOURCE_MAX {
                return None;
            }
            *held += bytes;
        }
        Some(Share { budget: self, source, bytes })
    }
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        let Some(ip) = self.source else { return };
        let mut by_source = self.budget.by_source.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(held) = by_source.get_mut(&ip) {
            *held = held.saturating_sub(self.bytes);
            if *held == 0 {
                by_source.remove(&ip);
            }
        }
    }
}

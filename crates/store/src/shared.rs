//! What the writer and the readers share: the clock, the policies, the catalogue and the
//! writer's counters. A leaf: the writer and the store both import it, it imports neither.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use yibao_domain::DateTime;
use yibao_engine::Catalogue;
use yibao_engine::records::CatalogueEntry;
use yibao_policy::PolicySet;

/// What time it is: the system clock in production, a controlled one in tests.
pub type Clock = Arc<dyn Fn() -> DateTime + Send + Sync>;

/// The system clock in China Standard Time.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX));
        DateTime::from_unix(seconds)
    })
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    batches: AtomicU64,
    submissions: AtomicU64,
    failures: AtomicU64,
    write_micros: AtomicU64,
    largest_batch: AtomicU64,
}

/// A snapshot of [`Metrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub batches: u64,
    pub submissions: u64,
    pub failures: u64,
    pub write_seconds_micros: u64,
    pub largest_batch: u64,
}

impl Metrics {
    pub(crate) fn record_batch(&self, size: usize, elapsed: Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.submissions.fetch_add(size as u64, Ordering::Relaxed);
        self.write_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.largest_batch.fetch_max(size as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            batches: self.batches.load(Ordering::Relaxed),
            submissions: self.submissions.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            write_seconds_micros: self.write_micros.load(Ordering::Relaxed),
            largest_batch: self.largest_batch.load(Ordering::Relaxed),
        }
    }
}

/// What the writer and the readers share.
pub(crate) struct Shared {
    pub(crate) policies: Arc<PolicySet>,
    pub(crate) catalogue: RwLock<Arc<Catalogue>>,
    pub(crate) clock: Clock,
    pub(crate) metrics: Metrics,
}

impl Shared {
    pub(crate) fn now(&self) -> DateTime {
        (self.clock)()
    }

    pub(crate) fn catalogue(&self) -> Arc<Catalogue> {
        self.catalogue.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(crate) fn add_to_catalogue(&self, entries: Vec<CatalogueEntry>) {
        let mut guard = self.catalogue.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut catalogue = (**guard).clone();
        for entry in entries {
            catalogue.insert(entry);
        }
        *guard = Arc::new(catalogue);
    }
}

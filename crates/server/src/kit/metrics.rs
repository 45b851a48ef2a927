//! Request counters and latency sums, rendered as Prometheus text at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use yibao_store::MetricsSnapshot;

#[derive(Debug, Default, Clone, Copy)]
struct Counter {
    count: u64,
    micros: u64,
}

/// Counters by national transaction and outcome.
#[derive(Debug, Default)]
pub struct Metrics {
    nhsa: Mutex<BTreeMap<(String, bool), Counter>>,
}

impl Metrics {
    pub fn record_nhsa(&self, infno: &str, ok: bool, elapsed: Duration) {
        // Unknown codes are folded together so a client cannot grow the table.
        let infno = match infno.len() <= 6 && infno.bytes().all(|b| b.is_ascii_alphanumeric()) {
            true => infno.to_string(),
            false => "invalid".to_string(),
        };
        let mut table = self.nhsa.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if table.len() > 512 && !table.contains_key(&(infno.clone(), ok)) {
            return;
        }
        let counter = table.entry((infno, ok)).or_default();
        counter.count += 1;
        counter.micros += u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    }

    pub fn render(&self, store: &MetricsSnapshot) -> String {
        let mut text = String::new();
        let _ =
            writeln!(text, "# HELP yibao_nhsa_requests_total National interface messages by transaction and result.");
        let _ = writeln!(text, "# TYPE yibao_nhsa_requests_total counter");
        let table = self.nhsa.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        for ((infno, ok), counter) in &table {
            let result = if *ok { "ok" } else { "refused" };
            let _ =
                writeln!(text, "yibao_nhsa_requests_total{{infno=\"{infno}\",result=\"{result}\"}} {}", counter.count);
        }
        let _ =
            writeln!(text, "# HELP yibao_nhsa_request_seconds_sum Time spent answering national interface messages.");
        let _ = writeln!(text, "# TYPE yibao_nhsa_request_seconds_sum counter");
        for ((infno, ok), counter) in &table {
            let result = if *ok { "ok" } else { "refused" };
            let _ = writeln!(
                text,
                "yibao_nhsa_request_seconds_sum{{infno=\"{infno}\",result=\"{result}\"}} {}.{:06}",
                counter.micros / 1_000_000,
                counter.micros % 1_000_000
            );
        }
        let rows = [
            ("yibao_store_batches_total", "Write batches committed.", store.batches),
            ("yibao_store_submissions_total", "Commands committed in batches.", store.submissions),
            ("yibao_store_failures_total", "Write batches that failed.", store.failures),
            ("yibao_store_largest_batch", "Most commands committed together.", store.largest_batch),
        ];
        for (name, help, value) in rows {
            let _ = writeln!(text, "# HELP {name} {help}");
            let _ = writeln!(text, "# TYPE {name} {}", if name.ends_with("_total") { "counter" } else { "gauge" });
            let _ = writeln!(text, "{name} {value}");
        }
        let _ = writeln!(text, "# HELP yibao_store_write_seconds_sum Time spent writing batches.");
        let _ = writeln!(text, "# TYPE yibao_store_write_seconds_sum counter");
        let micros = store.write_seconds_micros;
        let _ = writeln!(text, "yibao_store_write_seconds_sum {}.{:06}", micros / 1_000_000, micros % 1_000_000);
        text
    }
}

//! The daily reminders run: registrations ending within [`REMINDER_DAYS`] get a word to their
//! person (the outbox), in batches of [`REMINDER_BATCH_MAX`], each a transaction; a reminder
//! is written once per registration and end date, so a run repeated the same day (or killed
//! and run again) writes nothing twice. `serve` runs it shortly after each midnight (China
//! Standard Time); operators run it at once with `POST /api/v1/reminders`.

use yibao_domain::{Date, PersonNo};
use yibao_engine::commands::{REMINDER_BATCH_MAX, REMINDER_DAYS, RemindExpiring};
use yibao_engine::{EngineError, Outcome};
use yibao_store::{RegistrationTable, Store};

/// Reminds the persons whose registrations end from `on` to `on` + [`REMINDER_DAYS`]; how
/// many reminders were written.
///
/// # Errors
/// A store failure (batches written before it stay; running again continues).
pub async fn remind_expiring(store: &Store, on: Date) -> Result<u64, EngineError> {
    let to = on.plus_days(REMINDER_DAYS);
    let mut sent = 0;
    for table in [RegistrationTable::Disease, RegistrationTable::Elsewhere] {
        let mut after: Option<String> = None;
        loop {
            let from = after.clone();
            let rows: Vec<(PersonNo, String)> = store
                .read(move |r| r.registrations_ending(table, on, to, from.as_deref(), REMINDER_BATCH_MAX as u64))
                .await?;
            let Some((_, last)) = rows.last().cloned() else {
                break;
            };
            let count = rows.len();
            let command = match table {
                RegistrationTable::Disease => RemindExpiring { on, diseases: rows, elsewhere: Vec::new() },
                RegistrationTable::Elsewhere => RemindExpiring {
                    on,
                    diseases: Vec::new(),
                    elsewhere: rows.into_iter().map(|(_, serial)| serial).collect(),
                },
            };
            match store.execute(command).await? {
                Outcome::Reminded(written) => sent += written,
                _ => return Err(EngineError::internal("unexpected outcome of a reminder batch")),
            }
            after = Some(last);
            if count < REMINDER_BATCH_MAX {
                break;
            }
        }
    }
    Ok(sent)
}

/// Seconds from `unix` to five past the next midnight in China Standard Time (UTC+8).
fn seconds_to_next_run(unix: i64) -> u64 {
    const DAY: i64 = 86_400;
    let local = unix + 8 * 3_600;
    let mut next = local.div_euclid(DAY) * DAY + 300;
    if next <= local {
        next += DAY;
    }
    u64::try_from(next - local).unwrap_or(DAY as u64)
}

/// Runs [`remind_expiring`] every day shortly after midnight, for the store's today, until the
/// task is dropped. Failures are logged and retried the next day (the run is idempotent).
pub fn spawn_daily(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let wait = seconds_to_next_run(crate::kit::clock::unix_now());
            tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
            let today = store.now().date();
            match remind_expiring(&store, today).await {
                Ok(sent) => tracing::info!(%today, sent, "registration reminders"),
                Err(error) => tracing::warn!(%today, %error, "registration reminders failed; they run again tomorrow"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::seconds_to_next_run;

    #[test]
    fn the_daily_run_waits_for_five_past_midnight_in_china() {
        // 2026-12-01 16:00:00 UTC is midnight in Beijing: the run is five minutes on.
        let midnight = 1_796_140_800;
        assert_eq!(seconds_to_next_run(midnight), 300);
        assert_eq!(seconds_to_next_run(midnight - 60), 360);
        assert_eq!(seconds_to_next_run(midnight + 300), 86_400);
    }
}

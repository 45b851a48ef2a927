//! The agency's daily reminders (the outbox): registrations about to expire — special
//! outpatient diseases (慢特病) and treatment in another region (异地就医备案) — get a word to
//! the person [`REMINDER_DAYS`] days ahead, once per registration and end date.

use yibao_domain::{Date, PersonNo};

use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{Notification, NotificationKind};
use crate::working_set::{Keys, WorkingSet};

/// How many days before its end a registration is mentioned.
pub const REMINDER_DAYS: i64 = 30;

/// The most registrations one reminder batch looks at.
pub const REMINDER_BATCH_MAX: usize = 500;

/// Reminds the persons of these registrations, found by the store as ending within
/// [`REMINDER_DAYS`] of `on`. Each is read again here (a revoked or extended one is passed
/// over); a reminder already written is left as it is (read or not).
#[derive(Debug, Clone)]
pub struct RemindExpiring {
    pub on: Date,
    /// Special disease registrations: the person and the serial.
    pub diseases: Vec<(PersonNo, String)>,
    /// Treatment-elsewhere registrations, by serial.
    pub elsewhere: Vec<String>,
}

impl Command for RemindExpiring {
    fn name(&self) -> &'static str {
        "remind-expiring-registrations"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        if self.diseases.len() + self.elsewhere.len() > REMINDER_BATCH_MAX {
            return Err(EngineError::invalid(
                format!("一批最多{REMINDER_BATCH_MAX}项备案"),
                format!("at most {REMINDER_BATCH_MAX} registrations a batch"),
            ));
        }
        let today = ctx.now.date();
        if self.on > today {
            return Err(EngineError::invalid(
                format!("提醒日期{}晚于今天：提前提醒会使到期前的提醒不再发送", self.on),
                format!(
                    "{} is after today: an early reminder would take the place of the one due before the end",
                    self.on
                ),
            ));
        }
        // A run for a missed day reminds of registrations still in force, none already ended.
        let until = self.on.plus_days(REMINDER_DAYS);
        let due = |end: Date| self.on.max(today) <= end && end <= until;
        let mut sent = 0;
        for (psn_no, serial) in &self.diseases {
            let Some(registration) = ws.registrations(psn_no)?.into_iter().find(|r| &r.serial == serial) else {
                continue;
            };
            if registration.revoked || !due(registration.end) {
                continue;
            }
            let zh = format!(
                "您的门诊慢特病（{}）备案{}将于{}到期，如需继续享受待遇请及时到定点医疗机构或经办机构办理续期。",
                registration.name, registration.serial, registration.end
            );
            let en = format!(
                "Your special outpatient disease registration {} ({}) ends on {}: renew it at a designated hospital or the agency to keep its benefits.",
                registration.serial, registration.code, registration.end
            );
            sent += u64::from(remind(ws, ctx, &registration.psn_no, &registration.serial, registration.end, zh, en)?);
        }
        for serial in &self.elsewhere {
            let Some(registration) = ws.elsewhere_registration(serial)? else {
                continue;
            };
            if registration.revoked || !due(registration.end) {
                continue;
            }
            let zh = format!(
                "您的异地就医备案{}（就医地{}，{}）将于{}到期，到期后在就医地就医需重新备案。",
                registration.serial,
                registration.region,
                registration.kind.name_zh(),
                registration.end
            );
            let en = format!(
                "Your registration {} for treatment in region {} ends on {}: register again to be treated there after it.",
                registration.serial, registration.region, registration.end
            );
            sent += u64::from(remind(ws, ctx, &registration.psn_no, &registration.serial, registration.end, zh, en)?);
        }
        Ok(Outcome::Reminded(sent))
    }
}

/// Writes the reminder unless it was written before; whether it wrote one.
fn remind(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    psn_no: &PersonNo,
    serial: &str,
    end: Date,
    zh: String,
    en: String,
) -> Result<bool, EngineError> {
    let id = format!("registration-expiring/{serial}/{end}");
    if ws.notification(&id)?.is_some() {
        return Ok(false);
    }
    ws.notify(Notification::new(id, psn_no.clone(), NotificationKind::RegistrationExpiring, ctx.now, zh, en));
    Ok(true)
}

//! The person reads their inbox: notifications marked read.

use yibao_domain::PersonNo;

use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::Notification;
use crate::working_set::{Keys, WorkingSet, load_by};

/// The most notifications one command marks read (the newest, for "all").
pub const READ_MAX: usize = 500;

/// Marks a person's notifications read: those named, or all (the newest [`READ_MAX`]).
#[derive(Debug, Clone)]
pub struct MarkRead {
    pub psn_no: PersonNo,
    /// `None`: all.
    pub ids: Option<Vec<String>>,
}

impl Command for MarkRead {
    fn name(&self) -> &'static str {
        "mark-notifications-read"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mine: Vec<Notification> = match &self.ids {
            Some(ids) if ids.len() > READ_MAX => {
                return Err(EngineError::invalid(
                    format!("一次最多标记{READ_MAX}条"),
                    format!("at most {READ_MAX} notifications at once"),
                ));
            }
            Some(ids) => {
                let mut found = Vec::new();
                for id in ids {
                    match ws.notification(id)? {
                        Some(notification) if notification.psn_no == self.psn_no => found.push(notification),
                        // Another person's, or none: not found, whichever it is.
                        _ => {
                            return Err(EngineError::not_found(
                                format!("通知{id}不存在"),
                                format!("no notification {id}"),
                            ));
                        }
                    }
                }
                found
            }
            None => {
                let mut all: Vec<Notification> = load_by(ws.loader(), "psn_no", vec![self.psn_no.to_string()])?;
                all.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
                all.truncate(READ_MAX);
                all
            }
        };
        let mut marked = 0;
        for mut notification in mine.into_iter().filter(|n| n.read_at.is_none()) {
            notification.read_at = Some(ctx.now);
            ws.notify(notification);
            marked += 1;
        }
        Ok(Outcome::Marked(marked))
    }
}

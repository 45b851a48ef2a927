//! Registrations for treatment in another region (异地就医备案), made at the agency: the
//! treating region, why, and from when to when; revocable. 1101 shows them.

use yibao_domain::{Admdvs, Date, PersonNo};

use super::command::reason;
use super::lookup::insured_person;
use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{AuditEntry, ElsewhereKind, ElsewhereRegistration, PersonStatus};
use crate::working_set::{Keys, WorkingSet};

/// The longest a registration runs.
pub const ELSEWHERE_DAYS_MAX: i64 = 5 * 366;

/// Registers a person for treatment in another region (operator).
#[derive(Debug, Clone)]
pub struct RegisterElsewhere {
    pub psn_no: PersonNo,
    pub region: Admdvs,
    pub kind: ElsewhereKind,
    pub begin: Date,
    pub end: Date,
    pub reason: String,
    pub actor: String,
}

impl Command for RegisterElsewhere {
    fn name(&self) -> &'static str {
        "register-elsewhere"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let why = reason(&self.reason)?;
        let person = insured_person(ws, &self.psn_no)?;
        if person.status == PersonStatus::Guest {
            return Err(EngineError::refused(
                format!("人员{}由参保地办理异地就医备案", self.psn_no),
                format!("person {} registers with their insuring region", self.psn_no),
            ));
        }
        if self.region == person.admdvs {
            return Err(EngineError::invalid(
                format!("就医地{}就是参保地", self.region),
                format!("{} is the person's own region", self.region),
            ));
        }
        let days = self.end.days_since_epoch() - self.begin.days_since_epoch();
        let today = ctx.now.date();
        if !(0..=ELSEWHERE_DAYS_MAX).contains(&days) || self.end < today {
            return Err(EngineError::invalid(
                format!("备案期间{}至{}须先后有序、未过期且不超过5年", self.begin, self.end),
                format!("the period {} to {} must be in order, not over and at most 5 years", self.begin, self.end),
            ));
        }
        let existing = ws.elsewhere_of(&self.psn_no)?;
        if let Some(overlap) = existing
            .iter()
            .find(|r| !r.revoked && r.region == self.region && r.begin <= self.end && self.begin <= r.end)
        {
            return Err(EngineError::conflict(
                format!("已有{}的异地就医备案{}（{}至{}）", overlap.region, overlap.serial, overlap.begin, overlap.end),
                format!(
                    "registration {} for {} already covers {} to {}",
                    overlap.serial, overlap.region, overlap.begin, overlap.end
                ),
            ));
        }
        let registration = ElsewhereRegistration {
            serial: format!("YD{:010}", ws.next_sequence("elsewhere_registration")?),
            psn_no: self.psn_no.clone(),
            region: self.region.clone(),
            kind: self.kind,
            begin: self.begin,
            end: self.end,
            registered_by: self.actor.clone(),
            registered_at: ctx.now,
            revoked: false,
        };
        ws.put_elsewhere(registration.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: "registration/elsewhere".to_string(),
            subject: self.psn_no.to_string(),
            reason: format!(
                "{} {} {} {}..{}: {}",
                registration.serial,
                self.kind.code(),
                self.region,
                self.begin,
                self.end,
                why
            ),
        });
        Ok(Outcome::Elsewhere(Box::new(registration)))
    }
}

/// Revokes a registration for treatment in another region (operator).
#[derive(Debug, Clone)]
pub struct RevokeElsewhere {
    pub serial: String,
    pub reason: String,
    pub actor: String,
}

impl Command for RevokeElsewhere {
    fn name(&self) -> &'static str {
        "revoke-elsewhere"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let why = reason(&self.reason)?;
        let Some(mut registration) = ws.elsewhere_registration(&self.serial)? else {
            return Err(EngineError::not_found(
                format!("异地就医备案{}不存在", self.serial),
                format!("no registration {}", self.serial),
            ));
        };
        if registration.revoked {
            // A retry: already so.
            return Ok(Outcome::Elsewhere(Box::new(registration)));
        }
        registration.revoked = true;
        ws.put_elsewhere(registration.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: "registration/revoke".to_string(),
            subject: registration.psn_no.to_string(),
            reason: format!("{}: {}", registration.serial, why),
        });
        Ok(Outcome::Elsewhere(Box::new(registration)))
    }
}

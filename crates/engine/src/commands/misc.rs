//! Reversal by message id (2601), special disease registration (2503/2504), sign-in and
//! sign-out (9001/9002), and recording a read's msgid.

use yibao_domain::{Date, InstitutionCode, MsgId, PersonNo};

use super::command::reason;
use super::lookup::insured_person;
use super::settle::{CancelSettlement, cancel_settlement};
use super::{Command, Context, Outcome};
use crate::error::{EngineError, Refusal};
use crate::records::{AuditEntry, DiseaseRegistration, Effect, LineState, Message, SignIn, StoredFile, VisitStatus};
use crate::working_set::{Keys, WorkingSet};

/// Stores the msgid of a read (1101, 2206, 5xxx, …) so that a repeat returns the same
/// response and a different input under the same msgid is refused.
#[derive(Debug, Clone, Copy)]
pub struct RecordRead;

impl Command for RecordRead {
    fn name(&self) -> &'static str {
        "record-read"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, _ws: &mut WorkingSet<'_>, _ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        Ok(Outcome::Done)
    }
}

/// Records an institution's identification of a person (1101 with a certificate) as a read
/// is recorded, and writes it to the audit log: a sensitive read, and what later lets the
/// institution read the person's records as its patient.
#[derive(Debug, Clone)]
pub struct RecordIdentification {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    /// The certificate type it was presented with (`mdtrt_cert_type`).
    pub certificate: String,
}

impl Command for RecordIdentification {
    fn name(&self) -> &'static str {
        "record-identification"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        ws.audit(crate::records::AuditEntry {
            at: ctx.now,
            actor: format!("institution:{}", self.institution),
            action: "identify-person".into(),
            subject: self.psn_no.to_string(),
            reason: format!("1101 mdtrt_cert_type {}", self.certificate),
        });
        Ok(Outcome::Done)
    }
}

/// 2601 冲正交易: undoes the message `omsgid` as if it had not happened. A message not (yet)
/// received is marked so that it is refused if it ever arrives.
#[derive(Debug, Clone)]
pub struct Reverse {
    pub institution: InstitutionCode,
    pub psn_no: Option<PersonNo>,
    pub omsgid: MsgId,
    pub oinfno: String,
    pub msgid: MsgId,
}

impl Command for Reverse {
    fn name(&self) -> &'static str {
        "reverse"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.messages.insert(self.omsgid.clone());
        keys.persons.extend(self.psn_no.iter().cloned());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let omsgid = &self.omsgid;
        let Some(mut original) = ws.message(omsgid)? else {
            ws.put_message(Message {
                msgid: omsgid.clone(),
                institution: self.institution.clone(),
                infno: self.oinfno.clone(),
                request_hash: String::new(),
                response: Vec::new(),
                at: ctx.now,
                effect: Effect::Tombstone,
                reversed_by: Some(self.msgid.clone()),
            });
            return Ok(Outcome::Reversed { omsgid: omsgid.clone(), effect: Effect::Tombstone });
        };
        if original.institution != self.institution {
            return Err(EngineError::forbidden(
                format!("原报文{omsgid}不是本机构发送的"),
                format!("message {omsgid} was sent by another institution"),
            ));
        }
        if original.infno != self.oinfno {
            return Err(EngineError::invalid(
                format!("原交易编号{}与原报文{omsgid}的交易编号{}不符", self.oinfno, original.infno),
                format!("oinfno {} does not match message {omsgid}, which was {}", self.oinfno, original.infno),
            ));
        }
        if let Some(by) = &original.reversed_by {
            return Err(Refusal::AlreadyReversed { omsgid: omsgid.clone(), by: by.clone() }.into());
        }
        match &original.effect {
            Effect::Settled(setl_id) => {
                let settlement =
                    ws.settlement(setl_id)?.ok_or_else(|| EngineError::internal("reversed settlement vanished"))?;
                self.check_person(&settlement.psn_no)?;
                cancel_settlement(
                    &CancelSettlement {
                        institution: self.institution.clone(),
                        psn_no: settlement.psn_no.clone(),
                        setl_id: setl_id.clone(),
                        mdtrt_id: None,
                        kind: None,
                        msgid: self.msgid.clone(),
                    },
                    ws,
                    ctx,
                )?;
            }
            Effect::OpenedVisit(mdtrt_id) => {
                let mut visit = ws.visit(mdtrt_id)?.ok_or_else(|| EngineError::internal("reversed visit vanished"))?;
                self.check_person(&visit.psn_no)?;
                if ws.visit_settlements(mdtrt_id)?.iter().any(|s| s.is_in_force()) {
                    return Err(EngineError::conflict(
                        format!("就诊ID{mdtrt_id}存在未撤销的结算，请先冲正或撤销结算"),
                        format!("visit {mdtrt_id} has a settlement in force; reverse or cancel it first"),
                    ));
                }
                for mut line in ws.lines(mdtrt_id)? {
                    if line.state == LineState::Unsettled {
                        line.state = LineState::Revoked;
                        ws.put_line(line)?;
                    }
                }
                visit.status = VisitStatus::Cancelled;
                ws.put_visit(visit);
            }
            Effect::AddedLines { mdtrt_id, serials } => {
                let mut lines = Vec::with_capacity(serials.len());
                for serial in serials {
                    lines.extend(ws.line(mdtrt_id, serial)?);
                }
                if let Some(line) = lines.first() {
                    self.check_person(&line.psn_no)?;
                }
                if let Some(settled) = lines.iter().find(|l| matches!(l.state, LineState::Settled(_))) {
                    return Err(EngineError::conflict(
                        format!("明细{}已结算，请先冲正或撤销结算", settled.serial),
                        format!("line {} is settled; reverse or cancel the settlement first", settled.serial),
                    ));
                }
                for mut line in lines {
                    line.state = LineState::Revoked;
                    ws.put_line(line)?;
                }
            }
            Effect::CancelledSettlement(_) | Effect::Nothing | Effect::Tombstone => {
                return Err(EngineError::refused(
                    format!("交易{}不支持冲正", original.infno),
                    format!("transaction {} cannot be reversed", original.infno),
                ));
            }
        }
        original.reversed_by = Some(self.msgid.clone());
        let effect = original.effect.clone();
        ws.put_message(original);
        Ok(Outcome::Reversed { omsgid: omsgid.clone(), effect })
    }
}

impl Reverse {
    fn check_person(&self, owner: &PersonNo) -> Result<(), EngineError> {
        match &self.psn_no {
            Some(psn_no) if psn_no != owner => Err(EngineError::invalid(
                format!("人员编号{psn_no}与原报文的人员不符"),
                format!("psn_no {psn_no} is not the person of message {}", self.omsgid),
            )),
            _ => Ok(()),
        }
    }
}

/// An agency operator acting at the counter (not an institution over the national interface):
/// audited with actor and reason.
#[derive(Debug, Clone)]
pub struct AgencyAct {
    pub actor: String,
    pub reason: String,
}

fn audit_agency(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    act: &AgencyAct,
    action: &str,
    subject: &PersonNo,
    what: &str,
) {
    ws.audit(AuditEntry {
        at: ctx.now,
        actor: act.actor.clone(),
        action: action.to_string(),
        subject: subject.to_string(),
        reason: format!("{what}: {}", act.reason.trim()),
    });
}

/// 2503 人员慢特病备案, from an institution, or at the agency (`agency`; the institution is the
/// designated one the person chose for the disease).
#[derive(Debug, Clone)]
pub struct RegisterDisease {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub code: String,
    pub begin: Date,
    pub end: Date,
    pub msgid: MsgId,
    pub agency: Option<AgencyAct>,
}

impl Command for RegisterDisease {
    fn name(&self) -> &'static str {
        "register-disease"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        if let Some(act) = &self.agency {
            reason(&act.reason)?;
        }
        let person = insured_person(ws, &self.psn_no)?;
        if self.end < self.begin {
            return Err(EngineError::invalid(
                format!("备案结束日期{}早于开始日期{}", self.end, self.begin),
                format!("enddate {} is before begndate {}", self.end, self.begin),
            ));
        }
        let resolved = ctx
            .policies
            .resolve(&person.admdvs, person.insurance, ctx.now.date())
            .ok_or_else(|| super::visits::no_policy(&person, ctx.now.date()))?;
        let disease = resolved
            .scheme
            .special_outpatient
            .as_ref()
            .and_then(|rule| rule.disease(&self.code))
            .ok_or_else(|| {
                EngineError::refused(
                    format!("病种编码{}不在本统筹区门诊慢特病病种目录内", self.code),
                    format!("{} is not a special outpatient disease of policy {}", self.code, resolved.policy.label()),
                )
            })?
            .clone();
        let mut registrations = ws.registrations(&person.psn_no)?;
        if let Some(existing) = registrations
            .iter()
            .find(|r| !r.revoked && r.code == self.code && r.begin <= self.end && self.begin <= r.end)
        {
            return Err(EngineError::conflict(
                format!("参保人已备案该病种（备案流水号{}，{}至{}）", existing.serial, existing.begin, existing.end),
                format!(
                    "{} is already registered ({}, {} to {})",
                    self.code, existing.serial, existing.begin, existing.end
                ),
            ));
        }
        let sequence = ws.next_sequence("disease_registration")?;
        let registration = DiseaseRegistration {
            serial: format!("{}{sequence:010}", person.admdvs),
            psn_no: person.psn_no.clone(),
            code: disease.code,
            name: disease.name,
            begin: self.begin,
            end: self.end,
            institution: self.institution.clone(),
            revoked: false,
            msgid: self.msgid.clone(),
        };
        registrations.push(registration.clone());
        ws.put_registrations(person.psn_no.clone(), registrations);
        if let Some(act) = &self.agency {
            if ws.institution(&self.institution)?.is_none() {
                return Err(EngineError::not_found(
                    format!("定点医药机构{}不存在", self.institution),
                    format!("no institution {}", self.institution),
                ));
            }
            let what = format!(
                "{} {} {}..{} at {}",
                registration.serial, registration.code, self.begin, self.end, self.institution
            );
            audit_agency(ws, ctx, act, "registration/special-disease", &person.psn_no, &what);
        }
        Ok(Outcome::Registration(registration))
    }
}

/// 2504 人员慢特病备案撤销.
#[derive(Debug, Clone)]
pub struct RevokeDisease {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub serial: String,
    /// At the agency, which revokes any registration (an institution only its own).
    pub agency: Option<AgencyAct>,
}

impl Command for RevokeDisease {
    fn name(&self) -> &'static str {
        "revoke-disease"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        if let Some(act) = &self.agency {
            reason(&act.reason)?;
        }
        let mut registrations = ws.registrations(&self.psn_no)?;
        let Some(registration) = registrations.iter_mut().find(|r| r.serial == self.serial) else {
            return Err(EngineError::not_found(
                format!("备案流水号{}不存在", self.serial),
                format!("no registration {} for person {}", self.serial, self.psn_no),
            ));
        };
        if registration.revoked {
            return Err(EngineError::conflict(
                format!("备案流水号{}已撤销", self.serial),
                format!("registration {} was already revoked", self.serial),
            ));
        }
        if self.agency.is_none() && registration.institution != self.institution {
            return Err(EngineError::forbidden(
                format!("备案流水号{}不是本机构办理的", self.serial),
                format!("registration {} was made by another institution", self.serial),
            ));
        }
        registration.revoked = true;
        let revoked = registration.clone();
        ws.put_registrations(self.psn_no.clone(), registrations);
        if let Some(act) = &self.agency {
            audit_agency(ws, ctx, act, "registration/revoke", &self.psn_no, &revoked.serial);
        }
        Ok(Outcome::Registration(revoked))
    }
}

/// 9001 签到.
#[derive(Debug, Clone)]
pub struct SignInCommand {
    pub institution: InstitutionCode,
    pub operator: String,
}

impl Command for SignInCommand {
    fn name(&self) -> &'static str {
        "sign-in"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.institutions.insert(self.institution.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let institution = super::lookup::designated_institution(ws, &self.institution, ctx.now.date())?;
        let sequence = ws.next_sequence("sign_no")?;
        let sign_in = SignIn {
            sign_no: format!("{}{sequence:08}", institution.admdvs),
            institution: institution.code,
            operator: self.operator.clone(),
            signed_in_at: ctx.now,
            signed_out_at: None,
        };
        ws.put_sign_in(sign_in.clone());
        Ok(Outcome::SignIn(sign_in))
    }
}

/// 9002 签退.
#[derive(Debug, Clone)]
pub struct SignOut {
    pub institution: InstitutionCode,
    pub sign_no: String,
}

impl Command for SignOut {
    fn name(&self) -> &'static str {
        "sign-out"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut sign_in = ws.sign_in(&self.sign_no)?.ok_or_else(|| {
            EngineError::not_found(format!("签到流水号{}不存在", self.sign_no), format!("no sign-in {}", self.sign_no))
        })?;
        if sign_in.institution != self.institution {
            return Err(EngineError::forbidden(
                format!("签到流水号{}不是本机构的", self.sign_no),
                format!("sign-in {} belongs to another institution", self.sign_no),
            ));
        }
        if sign_in.signed_out_at.is_some() {
            return Err(EngineError::conflict(
                format!("签到流水号{}已签退", self.sign_no),
                format!("sign-in {} is already signed out", self.sign_no),
            ));
        }
        sign_in.signed_out_at = Some(ctx.now);
        ws.put_sign_in(sign_in.clone());
        Ok(Outcome::SignIn(sign_in))
    }
}

/// The largest file kept (9101 uploads, 3202 results).
pub const FILE_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Keeps a file and gives it a `file_qury_no` (9101; 3202's result file).
#[derive(Debug, Clone)]
pub struct StoreFile {
    pub institution: InstitutionCode,
    pub filename: String,
    pub content: Vec<u8>,
}

impl Command for StoreFile {
    fn name(&self) -> &'static str {
        "store-file"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        if self.content.len() > FILE_MAX_BYTES {
            return Err(EngineError::invalid(
                format!("文件超过{}字节", FILE_MAX_BYTES),
                format!("a file holds at most {FILE_MAX_BYTES} bytes"),
            ));
        }
        let name_ok = !self.filename.is_empty()
            && self.filename.chars().count() <= 100
            && !self.filename.contains(['/', '\\', '\0']);
        if !name_ok {
            return Err(EngineError::invalid(
                "文件名filename须为1至100个字符且不含路径",
                "a filename has 1 to 100 characters and no path",
            ));
        }
        let sequence = ws.next_sequence("file")?;
        let file = StoredFile {
            file_qury_no: format!("F{}{sequence:010}", ctx.now.compact()),
            institution: self.institution.clone(),
            filename: self.filename.clone(),
            content: self.content.clone(),
            at: ctx.now,
        };
        ws.put_file(file.clone());
        Ok(Outcome::File(Box::new(file)))
    }
}

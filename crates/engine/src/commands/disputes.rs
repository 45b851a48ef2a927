//! Disputes (R2): a person flags one entry of their account statement with a reason; an
//! operator resolves it — upheld, the entry is reversed through its normal path (a settlement is
//! cancelled, its mirror restoring the money and the accumulators), or rejected with a reason.

use yibao_domain::{MsgId, PersonNo, SetlId};
use yibao_ledger::{Side, TransferId};

use super::command::reason;
use super::settle::{CancelSettlement, cancel_settlement};
use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{AuditEntry, Dispute, DisputeState};
use crate::working_set::{Keys, WorkingSet};

/// The most disputes one person may have open at once.
pub const OPEN_DISPUTES_MAX: usize = 10;

/// A person disputes a statement entry (the person, or an operator for them).
#[derive(Debug, Clone)]
pub struct RaiseDispute {
    pub psn_no: PersonNo,
    pub transfer: TransferId,
    pub reason: String,
    pub actor: String,
}

impl Command for RaiseDispute {
    fn name(&self) -> &'static str {
        "raise-dispute"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys.transfers.insert(self.transfer.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let why = reason(&self.reason)?;
        let psn_no = &self.psn_no;
        let not_on_statement = || {
            EngineError::not_found(
                format!("人员{psn_no}的个人账户没有交易{}", self.transfer),
                format!("no entry {} on person {psn_no}'s statement", self.transfer),
            )
        };
        let transfer = ws.transfer(&self.transfer)?.ok_or_else(not_on_statement)?;
        let amount = transfer.postings.iter().filter(|p| p.account.person() == Some(psn_no)).fold(
            yibao_domain::Money::ZERO,
            |sum, p| match p.side {
                Side::Credit => sum + p.amount,
                Side::Debit => sum - p.amount,
            },
        );
        if !transfer.postings.iter().any(|p| p.account.person() == Some(psn_no)) {
            return Err(not_on_statement());
        }
        let mine = ws.disputes_of(psn_no)?;
        let open: Vec<&Dispute> = mine.iter().filter(|d| d.state == DisputeState::Open).collect();
        if let Some(same) = open.iter().find(|d| d.transfer == self.transfer.as_str()) {
            // Raised again: the open dispute answers.
            return Ok(Outcome::Dispute(Box::new((*same).clone())));
        }
        if open.len() >= OPEN_DISPUTES_MAX {
            return Err(EngineError::refused(
                format!("已有{OPEN_DISPUTES_MAX}件异议待处理，请等待处理后再提出"),
                format!("{OPEN_DISPUTES_MAX} disputes are already open: wait for them to be resolved"),
            ));
        }
        let dispute = Dispute {
            id: format!("DS{:010}", ws.next_sequence("dispute")?),
            psn_no: psn_no.clone(),
            transfer: self.transfer.to_string(),
            amount,
            reason: why.to_string(),
            raised_by: self.actor.clone(),
            raised_at: ctx.now,
            state: DisputeState::Open,
        };
        ws.put_dispute(dispute.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: "dispute/raise".to_string(),
            subject: psn_no.to_string(),
            reason: format!("{} {} {}: {}", dispute.id, dispute.transfer, amount, dispute.reason),
        });
        Ok(Outcome::Dispute(Box::new(dispute)))
    }
}

/// An operator resolves a dispute: `reverse` (upheld) or not (rejected).
#[derive(Debug, Clone)]
pub struct ResolveDispute {
    pub id: String,
    pub reverse: bool,
    pub reason: String,
    pub actor: String,
}

impl Command for ResolveDispute {
    fn name(&self) -> &'static str {
        "resolve-dispute"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let why = reason(&self.reason)?;
        let Some(mut dispute) = ws.dispute(&self.id)? else {
            return Err(EngineError::not_found(format!("异议{}不存在", self.id), format!("no dispute {}", self.id)));
        };
        match (&dispute.state, self.reverse) {
            (DisputeState::Open, _) => {}
            (DisputeState::Reversed { .. }, true) | (DisputeState::Rejected { .. }, false) => {
                return Ok(Outcome::Dispute(Box::new(dispute)));
            }
            (state, _) => {
                return Err(EngineError::conflict(
                    format!("异议{}已处理（{}）", dispute.id, state.code()),
                    format!("dispute {} is already {}", dispute.id, state.code()),
                ));
            }
        }
        if self.actor == dispute.raised_by {
            return Err(EngineError::forbidden(
                "提出异议的经办人不能处理该异议",
                "the operator who raised a dispute may not resolve it (four eyes)",
            ));
        }
        let (by, at, reason) = (self.actor.clone(), ctx.now, why.to_string());
        dispute.state = match self.reverse {
            false => DisputeState::Rejected { by, at, reason },
            true => {
                // Only a settlement has a normal path back: its cancellation.
                let Some(setl_id) = dispute.transfer.strip_prefix("setl/").and_then(|id| id.parse::<SetlId>().ok())
                else {
                    return Err(EngineError::refused(
                        format!("交易{}不是医药费用结算，不能通过异议冲销；请驳回并说明更正途径", dispute.transfer),
                        format!(
                            "entry {} is not a settlement: only a settlement is reversed here; reject it saying how it is corrected",
                            dispute.transfer
                        ),
                    ));
                };
                let Some(settlement) = ws.settlement(&setl_id)? else {
                    return Err(EngineError::internal(format!("transfer of unknown settlement {setl_id}")));
                };
                let msgid: MsgId = format!("dispute-{}", dispute.id)
                    .parse()
                    .map_err(|_| EngineError::internal("a dispute's message id"))?;
                let cancel = CancelSettlement {
                    institution: settlement.institution.clone(),
                    psn_no: settlement.psn_no.clone(),
                    setl_id: setl_id.clone(),
                    mdtrt_id: Some(settlement.mdtrt_id.clone()),
                    kind: None,
                    msgid,
                };
                let cancelled = cancel_settlement(&cancel, ws, ctx)?;
                DisputeState::Reversed { by, at, reason, reversal: cancelled.settlement.setl_id.to_string() }
            }
        };
        ws.put_dispute(dispute.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: format!("dispute/{}", dispute.state.code()),
            subject: dispute.psn_no.to_string(),
            reason: format!("{}: {}", dispute.id, why),
        });
        Ok(Outcome::Dispute(Box::new(dispute)))
    }
}

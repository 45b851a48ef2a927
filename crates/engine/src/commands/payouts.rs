//! Money paid out of a personal account (R2, seeds 000 and 004: the account "can't be withdrawn
//! casually"): to the heirs after a death, to the person on emigration, to the new region on a
//! transfer out (each the whole balance, after the life event), or a premium of the person's own
//! commercial or accident insurance. Two steps, four eyes: one operator proposes, a different
//! one approves (or rejects with a reason). Approval is one balanced transfer
//! `payout/<id>` from the personal account to the custody bank's payable
//! (`payable/bank/<bank>`), which the bank's payment file empties: it never overdraws (the
//! amount is checked against the balance at approval) and runs once (approving again answers
//! the approved payout).

use yibao_domain::{Money, PersonNo};
use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode, TransferId};

use super::command::text_within;
use super::settle::balance;
use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{
    AuditEntry, Notification, NotificationKind, Payee, Payout, PayoutKind, PayoutState, PersonStatus, status_event,
};
use crate::working_set::{Keys, WorkingSet};

/// The transfer that pays a payout.
pub fn payout_id(id: &str) -> TransferId {
    TransferId::new(format!("payout/{id}"))
}

/// Proposes a payout (an operator; another approves it).
#[derive(Debug, Clone)]
pub struct ProposePayout {
    pub psn_no: PersonNo,
    pub kind: PayoutKind,
    /// A premium's amount; the other kinds pay the whole balance and name none.
    pub amount: Option<Money>,
    pub payee: Payee,
    pub reason: String,
    pub actor: String,
}

impl Command for ProposePayout {
    fn name(&self) -> &'static str {
        "propose-payout"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        text_within("收款人", &self.payee.name, 40)?;
        text_within("收款银行", &self.payee.bank, 60)?;
        text_within("原因", &self.reason, super::REASON_MAX_CHARS)?;
        if let Some(reference) = &self.payee.reference {
            text_within("保单号或参考号", reference, 60)?;
        }
        let account = &self.payee.account;
        if !(6..=34).contains(&account.len()) || !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(EngineError::invalid(
                "收款账号须为6至34位字母或数字",
                "the payee's account must be 6 to 34 letters or digits",
            ));
        }
        let psn_no = &self.psn_no;
        let Some(person) = ws.person(psn_no)? else {
            return Err(EngineError::not_found(format!("人员编号{psn_no}不存在"), format!("no person {psn_no}")));
        };
        if !person.has_personal_account() || person.status == PersonStatus::Guest {
            return Err(EngineError::refused(
                format!("人员{psn_no}在本统筹区没有个人账户"),
                format!("person {psn_no} has no personal account here"),
            ));
        }
        let held = balance(ws, &person)?;
        let amount = match (self.kind.requires(), self.amount) {
            (Some(needed), None) => {
                let event = status_event(&person, &ws.life_events(psn_no)?);
                if event.map(|(kind, _)| kind) != Some(needed) {
                    return Err(EngineError::refused(
                        format!("{}须先办理{}", self.kind.name_zh(), needed.name_zh()),
                        format!("a {} payout needs the person's {} recorded first", self.kind.code(), needed.code()),
                    ));
                }
                held
            }
            (Some(_), Some(_)) => {
                return Err(EngineError::invalid(
                    format!("{}支付账户全部余额，不填写金额", self.kind.name_zh()),
                    format!("a {} payout pays the whole balance: name no amount", self.kind.code()),
                ));
            }
            (None, Some(amount)) => {
                if person.status != PersonStatus::Active {
                    return Err(super::lookup::not_insured(ws, &person)?);
                }
                if self.payee.reference.is_none() {
                    return Err(EngineError::invalid(
                        "购买保险须填写保单号",
                        "a premium needs the insurer's policy number",
                    ));
                }
                if !amount.is_positive() || amount > held {
                    return Err(EngineError::refused(
                        format!("支取金额{amount}须大于0且不超过账户余额{held}"),
                        format!("the amount {amount} must be above 0 and at most the balance {held}"),
                    ));
                }
                amount
            }
            (None, None) => {
                return Err(EngineError::invalid("购买保险须填写金额", "a premium needs an amount"));
            }
        };
        if !amount.is_positive() {
            return Err(EngineError::refused(
                format!("人员{psn_no}的个人账户余额为0，无可支取"),
                format!("person {psn_no}'s account holds nothing to pay out"),
            ));
        }
        if let Some(pending) = ws.payouts_of(psn_no)?.into_iter().find(|p| p.state == PayoutState::Proposed) {
            return Err(EngineError::conflict(
                format!("人员{psn_no}已有待审核的支取申请{}", pending.id),
                format!("person {psn_no} already has payout {} awaiting review", pending.id),
            ));
        }
        let id = format!("PO{:010}", ws.next_sequence("payout")?);
        let payout = Payout {
            id: id.clone(),
            psn_no: psn_no.clone(),
            kind: self.kind,
            amount,
            payee: self.payee.clone(),
            reason: self.reason.clone(),
            proposed_by: self.actor.clone(),
            proposed_at: ctx.now,
            state: PayoutState::Proposed,
        };
        ws.put_payout(payout.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: "payout/propose".to_string(),
            subject: psn_no.to_string(),
            reason: format!("{id} {} {amount}: {}", self.kind.code(), self.reason),
        });
        Ok(Outcome::Payout(Box::new(payout)))
    }
}

/// Approves or rejects a proposed payout (an operator with the reviewer role, never the one who
/// proposed it).
#[derive(Debug, Clone)]
pub struct ReviewPayout {
    pub id: String,
    pub approve: bool,
    pub reason: String,
    pub actor: String,
}

impl Command for ReviewPayout {
    fn name(&self) -> &'static str {
        "review-payout"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.transfers.insert(payout_id(&self.id));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        text_within("审核意见", &self.reason, super::REASON_MAX_CHARS)?;
        let Some(payout) = ws.payout(&self.id)? else {
            return Err(EngineError::not_found(format!("支取申请{}不存在", self.id), format!("no payout {}", self.id)));
        };
        match (&payout.state, self.approve) {
            (PayoutState::Proposed, _) => {}
            // Approving again (a retry) answers the approved payout; it is paid once.
            (PayoutState::Approved { .. }, true) | (PayoutState::Rejected { .. }, false) => {
                return Ok(Outcome::Payout(Box::new(payout)));
            }
            (state, _) => {
                return Err(EngineError::conflict(
                    format!("支取申请{}已{}", payout.id, if self.approve { "驳回" } else { "批准" }),
                    format!("payout {} is already {}", payout.id, state.code()),
                ));
            }
        }
        if self.actor == payout.proposed_by {
            return Err(EngineError::forbidden(
                "同一经办人不能审核自己提交的支取申请",
                "the operator who proposed a payout may not review it (four eyes)",
            ));
        }
        let mut reviewed = payout.clone();
        if !self.approve {
            reviewed.state = PayoutState::Rejected { by: self.actor.clone(), at: ctx.now, reason: self.reason.clone() };
        } else {
            let Some(person) = ws.person(&payout.psn_no)? else {
                return Err(EngineError::internal(format!("payout {} names no stored person", payout.id)));
            };
            if person.account_frozen {
                return Err(EngineError::refused(
                    "个人账户正在转移至新银行（清户通知单待确认），暂不能支取",
                    "the account is frozen while it moves to another bank: pay out after the clearing is confirmed",
                ));
            }
            let current_key = AccountKey::PersonalCurrent(person.psn_no.clone());
            let prior_key = AccountKey::PersonalPrior(person.psn_no.clone());
            let current = ws.account(&current_key)?.map_or(Money::ZERO, |a| a.balance());
            let prior = ws.account(&prior_key)?.map_or(Money::ZERO, |a| a.balance());
            let held = current + prior;
            let amount = match payout.kind.requires() {
                // The whole balance as it stands now (a credit or refund may have come since).
                Some(_) => held,
                None => payout.amount,
            };
            if !amount.is_positive() || amount > held {
                return Err(EngineError::refused(
                    format!("账户余额{held}不足以支付{}（{}）", payout.id, payout.amount),
                    format!("the balance {held} does not cover payout {} of {}", payout.id, payout.amount),
                ));
            }
            let from_current = amount.min(current);
            let from_prior = amount - from_current;
            let payable = AccountKey::BankPayable(person.custody_bank.clone());
            let mut postings = Vec::new();
            if from_current.is_positive() {
                postings.push(Posting::debit(current_key, from_current));
            }
            if from_prior.is_positive() {
                postings.push(Posting::debit(prior_key, from_prior));
            }
            postings.push(Posting::credit(payable.clone(), amount));
            ws.open_account(payable)?;
            ws.post(Transfer {
                id: payout_id(&payout.id),
                code: TransferCode::Payout,
                at: ctx.now,
                reference: format!("{} {} {}", payout.id, payout.kind.code(), payout.payee.name),
                postings,
            })?;
            reviewed.amount = amount;
            reviewed.state = PayoutState::Approved { by: self.actor.clone(), at: ctx.now };
            ws.notify(Notification::new(
                format!("payout/{}", payout.id),
                person.psn_no.clone(),
                NotificationKind::Payout,
                ctx.now,
                format!("个人账户支取{amount}元（{}）已批准，将付至{}。", payout.kind.name_zh(), payout.payee.name),
                format!("{amount} yuan paid out of your account ({}) to {}.", payout.kind.code(), payout.payee.name),
            ));
        }
        ws.put_payout(reviewed.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: format!("payout/{}", if self.approve { "approve" } else { "reject" }),
            subject: payout.psn_no.to_string(),
            reason: format!("{} {}: {}", payout.id, reviewed.amount, self.reason),
        });
        Ok(Outcome::Payout(Box::new(reviewed)))
    }
}

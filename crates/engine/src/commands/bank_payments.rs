//! The bank's answer to a payment file: the lines it executed. Each approved payout or
//! reimbursement credited a custody bank's payable (`payable/bank/<bank>`); when the bank pays
//! it, the payable is emptied — the account's part out of the bank's custody, the funds' part
//! out of the region's fund bank — and the line is recorded as paid, once.

use yibao_domain::{BankCode, Date, Money};
use yibao_ledger::{AccountKey, Posting, Side, Transfer, TransferCode, TransferId};

use super::command::text_within;
use super::payouts::payout_id;
use super::reimbursements::reimbursement_id;
use super::summary::BankPaymentSummary;
use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{AuditEntry, BankPayment, PayoutState, ReimbursementState};
use crate::working_set::{Keys, WorkingSet};

/// The most lines one confirmation carries.
pub const BANK_PAYMENT_LINES_MAX: usize = 500;
/// How far back a payment may be dated.
pub const BANK_PAYMENT_DAYS_BACK: i64 = 90;

/// The transfer that pays a payment file line.
pub fn bank_payment_id(id: &str) -> TransferId {
    TransferId::new(format!("bank-payment/{id}"))
}

/// One executed line of the payment file: the payout's or reimbursement's id, the amount the
/// bank paid, the bank's reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidLine {
    pub id: String,
    pub amount: Money,
    pub bank_ref: String,
}

/// Records the lines a bank executed (operator). Every line is checked first: an unknown or
/// unapproved id, another bank's line, an amount other than the approved one, or a line twice
/// in the file refuses the whole file, and nothing is stored.
#[derive(Debug, Clone)]
pub struct ConfirmBankPayments {
    pub bank: BankCode,
    pub paid_on: Date,
    pub lines: Vec<PaidLine>,
    pub actor: String,
}

impl Command for ConfirmBankPayments {
    fn name(&self) -> &'static str {
        "confirm-bank-payments"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let today = ctx.now.date();
        if self.lines.is_empty() || self.lines.len() > BANK_PAYMENT_LINES_MAX {
            return Err(EngineError::invalid(
                format!("一次确认1至{BANK_PAYMENT_LINES_MAX}笔"),
                format!("confirm 1 to {BANK_PAYMENT_LINES_MAX} lines at once"),
            ));
        }
        if self.paid_on > today || self.paid_on < today.plus_days(-BANK_PAYMENT_DAYS_BACK) {
            return Err(EngineError::invalid(
                format!("付款日期{}须在{BANK_PAYMENT_DAYS_BACK}日前至今天之间", self.paid_on),
                format!("the payment date {} must be within the last {BANK_PAYMENT_DAYS_BACK} days", self.paid_on),
            ));
        }
        let mut summary = BankPaymentSummary::default();
        let mut seen = std::collections::BTreeSet::new();
        for line in &self.lines {
            if !seen.insert(line.id.as_str()) {
                return Err(EngineError::invalid(
                    format!("{}在文件中出现两次", line.id),
                    format!("{} is twice in the file", line.id),
                ));
            }
            text_within("bank_ref", &line.bank_ref, 60)?;
            if line.bank_ref.chars().any(char::is_control) {
                return Err(EngineError::invalid("银行流水号含控制字符", "bank_ref holds control characters"));
            }
            let bank_ref = line.bank_ref.clone();
            if let Some(paid) = ws.bank_payment(&line.id)? {
                if paid.amount != line.amount || paid.bank != self.bank || paid.bank_ref != line.bank_ref {
                    return Err(EngineError::conflict(
                        format!("{}已于{}由{}付款{}元，与本行不符", line.id, paid.paid_on, paid.bank, paid.amount),
                        format!(
                            "{} was paid on {} by {}, {} yuan: this line differs",
                            line.id, paid.paid_on, paid.bank, paid.amount
                        ),
                    ));
                }
                summary.already.push(line.id.clone());
                continue;
            }
            let (psn_no, transfer_id, approved_at) = approved(ws, &line.id)?;
            if self.paid_on < approved_at.date() {
                return Err(EngineError::invalid(
                    format!("{}于{}批准，付款日期{}早于批准", line.id, approved_at.date(), self.paid_on),
                    format!(
                        "{} was approved on {}: it cannot have been paid on {}",
                        line.id,
                        approved_at.date(),
                        self.paid_on
                    ),
                ));
            }
            let Some(approval) = ws.transfer(&transfer_id)? else {
                return Err(EngineError::refused(
                    format!("{}没有待付款项", line.id),
                    format!("{} has nothing to pay", line.id),
                ));
            };
            // What the approval put in the payable, and where the money came from.
            let mut payable = None;
            let mut from_account = Money::ZERO;
            let mut from_funds: Vec<(yibao_domain::Admdvs, Money)> = Vec::new();
            for posting in &approval.postings {
                match (&posting.account, posting.side) {
                    (AccountKey::BankPayable(bank), Side::Credit) => payable = Some((bank.clone(), posting.amount)),
                    (AccountKey::PersonalCurrent(_) | AccountKey::PersonalPrior(_), Side::Debit) => {
                        from_account += posting.amount;
                    }
                    (AccountKey::PoolFund(admdvs, _), Side::Debit) => {
                        match from_funds.iter_mut().find(|(a, _)| a == admdvs) {
                            Some((_, sum)) => *sum += posting.amount,
                            None => from_funds.push((admdvs.clone(), posting.amount)),
                        }
                    }
                    _ => {}
                }
            }
            let Some((bank, amount)) = payable else {
                return Err(EngineError::internal(format!("{} credited no bank payable", line.id)));
            };
            if bank != self.bank {
                return Err(EngineError::refused(
                    format!("{}由{}付款，不在{}的付款文件中", line.id, bank, self.bank),
                    format!("{} is paid by {}, not in {}'s payment file", line.id, bank, self.bank),
                ));
            }
            if amount != line.amount {
                return Err(EngineError::refused(
                    format!("{}应付{}元，银行付款{}元", line.id, amount, line.amount),
                    format!("{} is {} yuan to pay; the bank's line says {}", line.id, amount, line.amount),
                ));
            }
            let custody = AccountKey::BankCustody(bank.clone());
            let mut postings = vec![Posting::debit(AccountKey::BankPayable(bank.clone()), amount)];
            if from_account.is_positive() {
                ws.open_account(custody.clone())?;
                postings.push(Posting::credit(custody, from_account));
            }
            for (admdvs, part) in from_funds {
                let fund_bank = AccountKey::FundBank(admdvs);
                ws.open_account(fund_bank.clone())?;
                postings.push(Posting::credit(fund_bank, part));
            }
            ws.post(Transfer {
                id: bank_payment_id(&line.id),
                code: TransferCode::BankPayment,
                at: ctx.now,
                reference: format!("{} {bank_ref}", line.id),
                postings,
            })?;
            let paid = BankPayment {
                id: line.id.clone(),
                psn_no,
                bank: bank.clone(),
                amount,
                bank_ref,
                paid_on: self.paid_on,
                confirmed_by: self.actor.clone(),
                confirmed_at: ctx.now,
            };
            ws.put_bank_payment(paid.clone());
            summary.amount += amount;
            summary.paid.push(paid);
        }
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: "confirm-bank-payments".into(),
            subject: self.bank.to_string(),
            reason: format!("{} paid, {} already, {} yuan", summary.paid.len(), summary.already.len(), summary.amount),
        });
        Ok(Outcome::BankPayments(Box::new(summary)))
    }
}

/// The person and the approving transfer of an approved payout or reimbursement.
fn approved(
    ws: &mut WorkingSet<'_>,
    id: &str,
) -> Result<(yibao_domain::PersonNo, TransferId, yibao_domain::DateTime), EngineError> {
    let not_approved = |state: &str| {
        EngineError::refused(
            format!("{id}状态为{state}，未经批准不能付款"),
            format!("{id} is {state}: only approved ones are paid"),
        )
    };
    if let Some(payout) = ws.payout(&id.to_string())? {
        return match payout.state {
            PayoutState::Approved { at, .. } => Ok((payout.psn_no, payout_id(id), at)),
            other => Err(not_approved(other.code())),
        };
    }
    if let Some(bill) = ws.reimbursement(&id.to_string())? {
        return match bill.state {
            ReimbursementState::Approved { at, .. } => Ok((bill.psn_no, reimbursement_id(id), at)),
            other => Err(not_approved(other.code())),
        };
    }
    Err(EngineError::not_found(format!("没有支取或报销{id}"), format!("no payout or reimbursement {id}")))
}

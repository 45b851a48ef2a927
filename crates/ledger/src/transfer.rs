//! Transfers: immutable, balanced sets of postings, and the rules for applying one.

use std::collections::BTreeMap;
use std::fmt;

use yibao_domain::{DateTime, Money};

use crate::{Account, AccountKey, NormalSide};

/// The most postings one transfer may have (a settlement needs at most five).
pub const MAX_POSTINGS: usize = 16;

/// A transfer's id and idempotency key, e.g. `setl/400000001`. Posting the same id twice
/// changes nothing; posting it with other content is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(String);

impl TransferId {
    /// # Panics
    /// When `id` is empty or longer than 128 bytes: ids are built by code, never by users.
    pub fn new(id: impl Into<String>) -> TransferId {
        let id = id.into();
        assert!(!id.is_empty() && id.len() <= 128, "transfer ids are 1..=128 bytes");
        TransferId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferCode {
    /// Balances brought in when a region goes live (demo data, migrations).
    Opening,
    /// A settlement: fund and personal account pay the institution.
    Settlement,
    /// The mirror of a settlement being cancelled or reversed.
    SettlementCancel,
    /// Contributions received at the custody bank.
    Contribution,
    /// The monthly credit of a personal account.
    Allocation,
    /// Contribution income assigned to the pooled fund.
    PoolFunding,
    /// Current-year part rolled into the prior-years part at year end.
    YearEnd,
    /// The agency pays an institution what it is owed.
    InstitutionClearing,
    /// One region's fund settles what it owes another for cross-region care.
    InterRegionClearing,
    /// A personal account's custody moves to another bank.
    CustodyMove,
    /// Money paid out of a personal account (death, emigration, transfer out, a premium).
    Payout,
    /// A bill paid in cash, reimbursed by the fund (and the account) to the person's bank.
    Reimbursement,
    /// A personal account's balance brought from another region (关系转入).
    TransferIn,
    /// The bank executed a line of the payment file: the payable is emptied.
    BankPayment,
}

impl TransferCode {
    pub const ALL: [TransferCode; 14] = [
        TransferCode::Opening,
        TransferCode::Settlement,
        TransferCode::SettlementCancel,
        TransferCode::Contribution,
        TransferCode::Allocation,
        TransferCode::PoolFunding,
        TransferCode::YearEnd,
        TransferCode::InstitutionClearing,
        TransferCode::InterRegionClearing,
        TransferCode::CustodyMove,
        TransferCode::Payout,
        TransferCode::Reimbursement,
        TransferCode::TransferIn,
        TransferCode::BankPayment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferCode::Opening => "opening",
            TransferCode::Settlement => "settlement",
            TransferCode::SettlementCancel => "settlement-cancel",
            TransferCode::Contribution => "contribution",
            TransferCode::Allocation => "allocation",
            TransferCode::PoolFunding => "pool-funding",
            TransferCode::YearEnd => "year-end",
            TransferCode::InstitutionClearing => "institution-clearing",
            TransferCode::InterRegionClearing => "inter-region-clearing",
            TransferCode::CustodyMove => "custody-move",
            TransferCode::Payout => "payout",
            TransferCode::Reimbursement => "reimbursement",
            TransferCode::TransferIn => "transfer-in",
            TransferCode::BankPayment => "bank-payment",
        }
    }

    pub fn parse(text: &str) -> Option<TransferCode> {
        TransferCode::ALL.into_iter().find(|code| code.as_str() == text)
    }

    /// What the movement was, in Chinese, as an account holder reads it on a statement.
    pub fn name_zh(self) -> &'static str {
        match self {
            TransferCode::Opening => "期初余额",
            TransferCode::Settlement => "医药费用支付",
            TransferCode::SettlementCancel => "结算撤销退回",
            TransferCode::Contribution => "缴费",
            TransferCode::Allocation => "个人账户划入",
            TransferCode::PoolFunding => "统筹基金划转",
            TransferCode::YearEnd => "年度结转",
            TransferCode::InstitutionClearing => "机构结算",
            TransferCode::InterRegionClearing => "异地清算",
            TransferCode::CustodyMove => "托管银行变更",
            TransferCode::Payout => "个人账户支取",
            TransferCode::Reimbursement => "零星报销",
            TransferCode::TransferIn => "医保关系转入",
            TransferCode::BankPayment => "银行代付",
        }
    }

    /// The same in English.
    pub fn name_en(self) -> &'static str {
        match self {
            TransferCode::Opening => "opening balance",
            TransferCode::Settlement => "medical bill paid",
            TransferCode::SettlementCancel => "settlement cancelled, refunded",
            TransferCode::Contribution => "contribution",
            TransferCode::Allocation => "monthly credit",
            TransferCode::PoolFunding => "pool funding",
            TransferCode::YearEnd => "year-end roll-over",
            TransferCode::InstitutionClearing => "institution clearing",
            TransferCode::InterRegionClearing => "inter-region clearing",
            TransferCode::CustodyMove => "custody bank changed",
            TransferCode::Payout => "paid out of the account",
            TransferCode::Reimbursement => "bill reimbursed",
            TransferCode::TransferIn => "moved in from another region",
            TransferCode::BankPayment => "paid by the bank",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Debit,
    Credit,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Debit => "debit",
            Side::Credit => "credit",
        }
    }

    pub fn parse(text: &str) -> Option<Side> {
        [Side::Debit, Side::Credit].into_iter().find(|side| side.as_str() == text)
    }
}

/// One leg of a transfer: a positive amount on one side of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: AccountKey,
    pub side: Side,
    pub amount: Money,
}

impl Posting {
    pub fn debit(account: AccountKey, amount: Money) -> Posting {
        Posting { account, side: Side::Debit, amount }
    }

    pub fn credit(account: AccountKey, amount: Money) -> Posting {
        Posting { account, side: Side::Credit, amount }
    }

    /// What the posting does to its account's balance (on the account's normal side): a credit
    /// raises a credit-normal account, a debit lowers it, and the other way round.
    pub fn balance_effect(&self) -> Money {
        match (self.account.normal_side(), self.side) {
            (NormalSide::Credit, Side::Credit) | (NormalSide::Debit, Side::Debit) => self.amount,
            _ => -self.amount,
        }
    }

    /// The same amount on the same account, on the other side.
    #[must_use]
    pub fn reversed(self) -> Posting {
        let side = match self.side {
            Side::Debit => Side::Credit,
            Side::Credit => Side::Debit,
        };
        Posting { side, ..self }
    }
}

/// An immutable movement of money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub code: TransferCode,
    pub at: DateTime,
    /// What caused it: a settlement id, a month, a clearing statement.
    pub reference: String,
    pub postings: Vec<Posting>,
}

impl Transfer {
    /// Whether `other` has the same content (ignoring the time it was requested).
    pub fn same_content(&self, other: &Transfer) -> bool {
        self.id == other.id
            && self.code == other.code
            && self.reference == other.reference
            && self.postings == other.postings
    }

    pub fn debits(&self) -> Money {
        self.postings.iter().filter(|p| p.side == Side::Debit).map(|p| p.amount).sum()
    }

    pub fn credits(&self) -> Money {
        self.postings.iter().filter(|p| p.side == Side::Credit).map(|p| p.amount).sum()
    }
}

/// Why a transfer was refused, in order of precedence: the first that applies is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferError {
    TooFewPostings,
    TooManyPostings {
        count: usize,
    },
    AmountNotPositive {
        index: usize,
        amount: Money,
    },
    Unbalanced {
        debits: Money,
        credits: Money,
    },
    AccountNotFound(AccountKey),
    /// A personal account would go below zero.
    ExceedsBalance {
        account: AccountKey,
        balance: Money,
        debit: Money,
    },
    /// The id was used before for a transfer with other content.
    ExistsWithDifferentContent(TransferId),
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::TooFewPostings => write!(f, "a transfer needs at least two postings"),
            TransferError::TooManyPostings { count } => {
                write!(f, "a transfer has at most {MAX_POSTINGS} postings, this one has {count}")
            }
            TransferError::AmountNotPositive { index, amount } => {
                write!(f, "posting {index} has amount {amount}; amounts must be positive")
            }
            TransferError::Unbalanced { debits, credits } => {
                write!(f, "debits {debits} do not equal credits {credits}")
            }
            TransferError::AccountNotFound(key) => write!(f, "account {key} does not exist"),
            TransferError::ExceedsBalance { account, balance, debit } => {
                write!(f, "account {account} holds {balance}, cannot pay {debit}")
            }
            TransferError::ExistsWithDifferentContent(id) => {
                write!(f, "transfer {id} already exists with different content")
            }
        }
    }
}

impl std::error::Error for TransferError {}

/// Where accounts live while a transfer is applied: the in-memory [`crate::Ledger`], or the
/// engine's working set of accounts loaded from the store.
pub trait Accounts {
    fn account(&self, key: &AccountKey) -> Option<&Account>;
    fn account_mut(&mut self, key: &AccountKey) -> Option<&mut Account>;
}

/// Checks that `transfer` may be applied to `accounts`, without changing anything.
///
/// # Errors
/// The first [`TransferError`] that applies, in the order of the enum.
pub fn check(accounts: &impl Accounts, transfer: &Transfer) -> Result<(), TransferError> {
    let count = transfer.postings.len();
    if count < 2 {
        return Err(TransferError::TooFewPostings);
    }
    if count > MAX_POSTINGS {
        return Err(TransferError::TooManyPostings { count });
    }
    if let Some((index, posting)) = transfer.postings.iter().enumerate().find(|(_, p)| !p.amount.is_positive()) {
        return Err(TransferError::AmountNotPositive { index, amount: posting.amount });
    }
    let (debits, credits) = (transfer.debits(), transfer.credits());
    if debits != credits {
        return Err(TransferError::Unbalanced { debits, credits });
    }
    // Net effect per account, so an account debited and credited in one transfer is judged
    // on the result.
    let mut net: BTreeMap<&AccountKey, Money> = BTreeMap::new();
    for posting in &transfer.postings {
        if accounts.account(&posting.account).is_none() {
            return Err(TransferError::AccountNotFound(posting.account.clone()));
        }
        *net.entry(&posting.account).or_default() += posting.balance_effect();
    }
    for (key, change) in net {
        let account = accounts.account(key).expect("looked up above");
        if key.must_not_go_negative() && (account.balance() + change).is_negative() {
            return Err(TransferError::ExceedsBalance {
                account: key.clone(),
                balance: account.balance(),
                debit: -change,
            });
        }
    }
    Ok(())
}

/// Checks `transfer` and, if it may be applied, adds its postings to the accounts' totals.
///
/// Idempotency (an id seen before) is the caller's business: it knows where transfers are kept.
///
/// # Errors
/// As [`check`]; nothing is changed then.
pub fn apply(accounts: &mut impl Accounts, transfer: &Transfer) -> Result<(), TransferError> {
    check(accounts, transfer)?;
    for posting in &transfer.postings {
        let account = accounts.account_mut(&posting.account).expect("checked above");
        match posting.side {
            Side::Debit => account.debits_posted += posting.amount,
            Side::Credit => account.credits_posted += posting.amount,
        }
    }
    Ok(())
}

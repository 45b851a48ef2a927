//! The double-entry ledger: accounts, transfers made of balanced postings, and the rules that
//! keep them honest. Pure logic; the store persists what it decides.
//!
//! Model (after TigerBeetle): every account keeps the totals of its posted debits and credits;
//! a transfer is immutable, identified by an id that doubles as its idempotency key, and made
//! of two or more postings whose debits equal their credits. Balances are derived:
//! credits − debits for credit-normal accounts (what the insurer owes or holds for someone),
//! debits − credits for debit-normal ones (money held at a bank). Personal accounts may never
//! go below zero. Replaying the journal from empty accounts must reproduce every stored total.
//!
//! The chart of accounts:
//!
//! | account | normal side | may go negative |
//! |---|---|---|
//! | personal account, current-year part (当年账户) | credit | no |
//! | personal account, prior-years part (历年账户) | credit | no |
//! | pooled fund (统筹基金) per region × insurance type | credit | yes (a deficit is reported, not refused) |
//! | institution payable (应付定点机构) | credit | yes |
//! | contribution income (征缴收入) per region × insurance type | credit | yes |
//! | inter-region payable (异地清算应付) per insured region → treating region | credit | yes |
//! | bank custody (银行存管) per bank | debit | yes |

mod account;
mod ledger;
mod transfer;

pub use account::{Account, AccountKey, NormalSide};
pub use ledger::{Ledger, Mismatch, Posted, replay, verify_replay};
pub use transfer::{
    Accounts, MAX_POSTINGS, Posting, Side, Transfer, TransferCode, TransferError, TransferId, apply, check,
};

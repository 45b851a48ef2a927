//! An in-memory ledger with its journal: the reference model the stores are checked against,
//! and the replay that recomputes balances from a journal.

use std::collections::{BTreeMap, HashMap};

use yibao_domain::Money;

use crate::transfer::{Accounts, Side, Transfer, TransferError, TransferId, apply};
use crate::{Account, AccountKey};

/// What posting a transfer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Applied,
    /// The same transfer was posted before; nothing changed.
    AlreadyApplied,
}

/// Accounts plus the append-only journal of every transfer applied to them.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    accounts: BTreeMap<AccountKey, Account>,
    journal: Vec<Transfer>,
    index: HashMap<TransferId, usize>,
}

impl Accounts for Ledger {
    fn account(&self, key: &AccountKey) -> Option<&Account> {
        self.accounts.get(key)
    }

    fn account_mut(&mut self, key: &AccountKey) -> Option<&mut Account> {
        self.accounts.get_mut(key)
    }
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Opens an account with zero totals; opening an open account changes nothing.
    pub fn open(&mut self, key: AccountKey) {
        self.accounts.entry(key.clone()).or_insert_with(|| Account::open(key));
    }

    /// Applies `transfer` once: a repeat of the same transfer is [`Posted::AlreadyApplied`].
    ///
    /// # Errors
    /// [`TransferError::ExistsWithDifferentContent`] for a reused id, or why it was refused.
    pub fn post(&mut self, transfer: Transfer) -> Result<Posted, TransferError> {
        if let Some(&position) = self.index.get(&transfer.id) {
            return match self.journal[position].same_content(&transfer) {
                true => Ok(Posted::AlreadyApplied),
                false => Err(TransferError::ExistsWithDifferentContent(transfer.id)),
            };
        }
        apply(self, &transfer)?;
        self.index.insert(transfer.id.clone(), self.journal.len());
        self.journal.push(transfer);
        Ok(Posted::Applied)
    }

    pub fn balance(&self, key: &AccountKey) -> Option<Money> {
        self.accounts.get(key).map(Account::balance)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn journal(&self) -> &[Transfer] {
        &self.journal
    }
}

/// Recomputes every account's totals from a journal, starting from zero.
pub fn replay<'a>(journal: impl IntoIterator<Item = &'a Transfer>) -> BTreeMap<AccountKey, Account> {
    let mut accounts: BTreeMap<AccountKey, Account> = BTreeMap::new();
    for transfer in journal {
        for posting in &transfer.postings {
            let account =
                accounts.entry(posting.account.clone()).or_insert_with(|| Account::open(posting.account.clone()));
            match posting.side {
                Side::Debit => account.debits_posted += posting.amount,
                Side::Credit => account.credits_posted += posting.amount,
            }
        }
    }
    accounts
}

/// An account whose stored totals differ from what its journal says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub stored: Account,
    pub replayed: Account,
}

/// Compares stored accounts with the replay of the journal; every difference is returned.
/// Also reports when total debits and credits over all accounts differ (as a mismatch of a
/// synthetic account is impossible, that case shows as per-account mismatches).
pub fn verify_replay<'a>(
    stored: impl IntoIterator<Item = &'a Account>,
    journal: impl IntoIterator<Item = &'a Transfer>,
) -> Vec<Mismatch> {
    let mut replayed = replay(journal);
    let mut mismatches = Vec::new();
    for account in stored {
        let expected = replayed.remove(&account.key).unwrap_or_else(|| Account::open(account.key.clone()));
        if expected != *account {
            mismatches.push(Mismatch { stored: account.clone(), replayed: expected });
        }
    }
    for (key, account) in replayed {
        mismatches.push(Mismatch { stored: Account::open(key), replayed: account });
    }
    mismatches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Posting, TransferCode};
    use proptest::prelude::*;
    use yibao_domain::{DateTime, InsuranceType};

    fn person(n: u8) -> AccountKey {
        AccountKey::PersonalCurrent(format!("P{n}").parse().unwrap())
    }

    fn pool() -> AccountKey {
        AccountKey::PoolFund("330100".parse().unwrap(), InsuranceType::EmployeeBasic)
    }

    fn payable() -> AccountKey {
        AccountKey::InstitutionPayable("H33010000001".parse().unwrap())
    }

    fn custody() -> AccountKey {
        AccountKey::BankCustody("BOC".parse().unwrap())
    }

    fn transfer(id: &str, postings: Vec<Posting>) -> Transfer {
        Transfer {
            id: TransferId::new(id),
            code: TransferCode::Settlement,
            at: DateTime::from_unix(1_700_000_000),
            reference: String::new(),
            postings,
        }
    }

    fn ledger() -> Ledger {
        let mut ledger = Ledger::new();
        for key in [person(1), person(2), pool(), payable(), custody()] {
            ledger.open(key);
        }
        ledger
    }

    #[test]
    fn refusals_in_order_of_precedence() {
        let mut ledger = ledger();
        let cases = [
            (vec![Posting::debit(pool(), Money::yuan(1))], TransferError::TooFewPostings),
            (
                vec![Posting::debit(pool(), Money::ZERO), Posting::credit(payable(), Money::ZERO)],
                TransferError::AmountNotPositive { index: 0, amount: Money::ZERO },
            ),
            (
                vec![Posting::debit(pool(), Money::yuan(2)), Posting::credit(payable(), Money::yuan(1))],
                TransferError::Unbalanced { debits: Money::yuan(2), credits: Money::yuan(1) },
            ),
            (
                vec![Posting::debit(person(9), Money::yuan(1)), Posting::credit(payable(), Money::yuan(1))],
                TransferError::AccountNotFound(person(9)),
            ),
            (
                vec![Posting::debit(person(1), Money::yuan(1)), Posting::credit(payable(), Money::yuan(1))],
                TransferError::ExceedsBalance { account: person(1), balance: Money::ZERO, debit: Money::yuan(1) },
            ),
        ];
        for (index, (postings, expected)) in cases.into_iter().enumerate() {
            assert_eq!(ledger.post(transfer(&format!("t{index}"), postings)), Err(expected));
        }
        assert!(ledger.journal().is_empty());
    }

    #[test]
    fn a_pool_may_run_a_deficit_but_a_person_may_not() {
        let mut ledger = ledger();
        let pay = |id: &str, from: AccountKey| {
            transfer(id, vec![Posting::debit(from, Money::yuan(5)), Posting::credit(payable(), Money::yuan(5))])
        };
        assert_eq!(ledger.post(pay("a", pool())), Ok(Posted::Applied));
        assert_eq!(ledger.balance(&pool()), Some(Money::yuan(-5)));
        assert!(matches!(ledger.post(pay("b", person(1))), Err(TransferError::ExceedsBalance { .. })));
    }

    #[test]
    fn a_transfer_id_is_applied_once() {
        let mut ledger = ledger();
        let fund =
            transfer("t", vec![Posting::debit(custody(), Money::yuan(5)), Posting::credit(person(1), Money::yuan(5))]);
        assert_eq!(ledger.post(fund.clone()), Ok(Posted::Applied));
        assert_eq!(ledger.post(fund.clone()), Ok(Posted::AlreadyApplied));
        assert_eq!(ledger.balance(&person(1)), Some(Money::yuan(5)));
        let mut changed = fund;
        changed.postings[0].amount = Money::yuan(6);
        changed.postings[1].amount = Money::yuan(6);
        assert_eq!(ledger.post(changed), Err(TransferError::ExistsWithDifferentContent(TransferId::new("t"))));
        assert_eq!(ledger.balance(&person(1)), Some(Money::yuan(5)));
    }

    fn accounts() -> Vec<AccountKey> {
        vec![person(1), person(2), pool(), payable(), custody()]
    }

    fn arbitrary_transfer() -> impl Strategy<Value = Transfer> {
        let posting = (0..5usize, any::<bool>(), 1i64..50_000).prop_map(|(account, debit, fen)| Posting {
            account: accounts()[account].clone(),
            side: if debit { Side::Debit } else { Side::Credit },
            amount: Money::from_fen(fen),
        });
        (0u32..40, prop::collection::vec(posting, 1..5), any::<bool>()).prop_map(|(id, mut postings, balance)| {
            if balance {
                // Close the transfer with one posting that balances it.
                let debits: Money = postings.iter().filter(|p| p.side == Side::Debit).map(|p| p.amount).sum();
                let credits: Money = postings.iter().filter(|p| p.side == Side::Credit).map(|p| p.amount).sum();
                let gap = debits - credits;
                if gap.is_positive() {
                    postings.push(Posting::credit(custody(), gap));
                } else if gap.is_negative() {
                    postings.push(Posting::debit(custody(), -gap));
                }
            }
            transfer(&format!("t{id}"), postings)
        })
    }

    proptest! {
        #[test]
        fn random_transfers_keep_every_invariant(transfers in prop::collection::vec(arbitrary_transfer(), 1..60)) {
            let mut ledger = ledger();
            for transfer in transfers {
                let before = ledger.clone();
                let result = ledger.post(transfer.clone());
                match result {
                    Ok(Posted::Applied) => prop_assert_eq!(transfer.debits(), transfer.credits()),
                    Ok(Posted::AlreadyApplied) | Err(_) => {
                        prop_assert_eq!(ledger.accounts().cloned().collect::<Vec<_>>(), before.accounts().cloned().collect::<Vec<_>>());
                    }
                }
                let debits: Money = ledger.accounts().map(|a| a.debits_posted).sum();
                let credits: Money = ledger.accounts().map(|a| a.credits_posted).sum();
                prop_assert_eq!(debits, credits);
                for account in ledger.accounts() {
                    if account.key.must_not_go_negative() {
                        prop_assert!(!account.balance().is_negative(), "{} below zero", account.key);
                    }
                }
                prop_assert!(verify_replay(ledger.accounts(), ledger.journal()).is_empty());
            }
        }
    }
}

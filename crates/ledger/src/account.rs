//! Accounts and their keys.

use std::fmt;
use std::str::FromStr;

use yibao_domain::{Admdvs, BankCode, InstitutionCode, InsuranceType, Money, ParseError, PersonNo};

/// Which side increases an account's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalSide {
    Debit,
    Credit,
}

/// What an account is, and whose. Its string form (`personal-current/3301000000000001`) is
/// the account's key in storage; hot accounts lead with the person so they shard by person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccountKey {
    PersonalCurrent(PersonNo),
    PersonalPrior(PersonNo),
    PoolFund(Admdvs, InsuranceType),
    InstitutionPayable(InstitutionCode),
    ContributionIncome(Admdvs, InsuranceType),
    /// What the insured region (`debtor`) owes the treating region (`creditor`).
    InterRegionPayable {
        debtor: Admdvs,
        creditor: Admdvs,
    },
    BankCustody(BankCode),
    /// What the treating region (`creditor`) is owed by the insured region (`debtor`): the
    /// other side of [`AccountKey::InterRegionPayable`], on the treating region's books.
    InterRegionReceivable {
        creditor: Admdvs,
        debtor: Admdvs,
    },
    /// A region's fund bank account (基金专户): contributions arrive here, institutions and
    /// other regions are paid from here.
    FundBank(Admdvs),
    /// What a custody bank is to pay out of personal accounts (heirs, emigrants, another
    /// region's agency, an insurer): credited when a payout is approved, emptied when the
    /// bank's payment file is executed.
    BankPayable(BankCode),
}

impl AccountKey {
    pub fn normal_side(&self) -> NormalSide {
        match self {
            AccountKey::BankCustody(_) | AccountKey::InterRegionReceivable { .. } | AccountKey::FundBank(_) => {
                NormalSide::Debit
            }
            _ => NormalSide::Credit,
        }
    }

    /// Whether the balance may never go below zero.
    pub fn must_not_go_negative(&self) -> bool {
        matches!(self, AccountKey::PersonalCurrent(_) | AccountKey::PersonalPrior(_))
    }

    /// The person this account belongs to, for personal accounts.
    pub fn person(&self) -> Option<&PersonNo> {
        match self {
            AccountKey::PersonalCurrent(person) | AccountKey::PersonalPrior(person) => Some(person),
            _ => None,
        }
    }

    /// A short Chinese name for statements and explanations.
    pub fn name_zh(&self) -> &'static str {
        match self {
            AccountKey::PersonalCurrent(_) => "个人账户(当年)",
            AccountKey::PersonalPrior(_) => "个人账户(历年)",
            AccountKey::PoolFund(..) => "统筹基金",
            AccountKey::InstitutionPayable(_) => "应付定点医药机构",
            AccountKey::ContributionIncome(..) => "征缴收入",
            AccountKey::InterRegionPayable { .. } => "异地就医清算应付",
            AccountKey::BankCustody(_) => "银行存管",
            AccountKey::InterRegionReceivable { .. } => "异地就医清算应收",
            AccountKey::FundBank(_) => "基金专户",
            AccountKey::BankPayable(_) => "个人账户应付款",
        }
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountKey::PersonalCurrent(person) => write!(f, "personal-current/{person}"),
            AccountKey::PersonalPrior(person) => write!(f, "personal-prior/{person}"),
            AccountKey::PoolFund(region, insurance) => write!(f, "pool/{region}/{insurance}"),
            AccountKey::InstitutionPayable(institution) => write!(f, "payable/{institution}"),
            AccountKey::ContributionIncome(region, insurance) => {
                write!(f, "income/{region}/{insurance}")
            }
            AccountKey::InterRegionPayable { debtor, creditor } => {
                write!(f, "inter-region/{debtor}/{creditor}")
            }
            AccountKey::BankCustody(bank) => write!(f, "custody/{bank}"),
            AccountKey::InterRegionReceivable { creditor, debtor } => {
                write!(f, "inter-region-receivable/{creditor}/{debtor}")
            }
            AccountKey::FundBank(region) => write!(f, "fund-bank/{region}"),
            AccountKey::BankPayable(bank) => write!(f, "payable/bank/{bank}"),
        }
    }
}

impl FromStr for AccountKey {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<AccountKey, ParseError> {
        let parts: Vec<&str> = text.split('/').collect();
        let key = match parts.as_slice() {
            ["personal-current", person] => AccountKey::PersonalCurrent(person.parse()?),
            ["personal-prior", person] => AccountKey::PersonalPrior(person.parse()?),
            ["pool", region, insurance] => AccountKey::PoolFund(region.parse()?, insurance.parse()?),
            ["payable", institution] => AccountKey::InstitutionPayable(institution.parse()?),
            ["income", region, insurance] => AccountKey::ContributionIncome(region.parse()?, insurance.parse()?),
            ["inter-region", debtor, creditor] => {
                AccountKey::InterRegionPayable { debtor: debtor.parse()?, creditor: creditor.parse()? }
            }
            ["custody", bank] => AccountKey::BankCustody(bank.parse()?),
            ["inter-region-receivable", creditor, debtor] => {
                AccountKey::InterRegionReceivable { creditor: creditor.parse()?, debtor: debtor.parse()? }
            }
            ["fund-bank", region] => AccountKey::FundBank(region.parse()?),
            ["payable", "bank", bank] => AccountKey::BankPayable(bank.parse()?),
            _ => {
                return Err(ParseError::new("account key", format!("{text:?} is not a known account key")));
            }
        };
        Ok(key)
    }
}

/// An account: its key and the totals posted to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub key: AccountKey,
    pub debits_posted: Money,
    pub credits_posted: Money,
}

impl Account {
    pub fn open(key: AccountKey) -> Account {
        Account { key, debits_posted: Money::ZERO, credits_posted: Money::ZERO }
    }

    /// The balance on the account's normal side.
    pub fn balance(&self) -> Money {
        match self.key.normal_side() {
            NormalSide::Credit => self.credits_posted - self.debits_posted,
            NormalSide::Debit => self.debits_posted - self.credits_posted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let keys = [
            AccountKey::PersonalCurrent("3301000000000001".parse().unwrap()),
            AccountKey::PersonalPrior("3301000000000001".parse().unwrap()),
            AccountKey::PoolFund("330100".parse().unwrap(), InsuranceType::EmployeeBasic),
            AccountKey::InstitutionPayable("H33010000001".parse().unwrap()),
            AccountKey::ContributionIncome("330100".parse().unwrap(), InsuranceType::ResidentBasic),
            AccountKey::InterRegionPayable { debtor: "330200".parse().unwrap(), creditor: "330100".parse().unwrap() },
            AccountKey::BankCustody("BOC".parse().unwrap()),
            AccountKey::InterRegionReceivable {
                creditor: "330100".parse().unwrap(),
                debtor: "330200".parse().unwrap(),
            },
            AccountKey::FundBank("330100".parse().unwrap()),
        ];
        for key in keys {
            assert_eq!(key.to_string().parse::<AccountKey>(), Ok(key.clone()), "{key}");
        }
        let error = "nonsense/1".parse::<AccountKey>().unwrap_err();
        assert_eq!(error.to_string(), "invalid account key: \"nonsense/1\" is not a known account key");
    }
}

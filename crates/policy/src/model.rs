//! The checked policy model: what a policy file says, as types that cannot hold nonsense.

use yibao_domain::{Admdvs, Date, InstitutionLevel, InsuranceType, MedType, Money, PersonType, PersonTypeGroup, Ratio};

/// A checked policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub id: String,
    pub version: String,
    pub name_zh: String,
    pub name_en: String,
    /// Where the numbers come from, as the file's header says.
    pub source: String,
    pub scopes: Vec<Scope>,
    pub schemes: Vec<Scheme>,
    pub emergency_admission: Option<EmergencyAdmissionRule>,
}

impl Policy {
    /// `seed@2026.1`: how a settlement records what priced it.
    pub fn label(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    /// The scheme for an insurance type, if this policy covers it.
    pub fn scheme(&self, insurance: InsuranceType) -> Option<&Scheme> {
        self.schemes.iter().find(|scheme| scheme.insurance_types.contains(&insurance))
    }
}

/// Where and when a policy applies: one region, some insurance types, a closed date range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub admdvs: Admdvs,
    pub insurance_types: Vec<InsuranceType>,
    pub begin: Date,
    pub end: Date,
}

impl Scope {
    pub fn contains(&self, admdvs: &Admdvs, insurance: InsuranceType, on: Date) -> bool {
        &self.admdvs == admdvs && self.insurance_types.contains(&insurance) && self.begin <= on && on <= self.end
    }
}

/// The rules of one scheme (employees, residents) within a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    pub name: String,
    pub insurance_types: Vec<InsuranceType>,
    /// Whether members have a personal account that may pay their part.
    pub personal_account: bool,
    /// The monthly credit of members' personal accounts (seed 003: at month end).
    pub account_credit: Option<AccountCredit>,
    /// What is paid in, when the scheme says (R2): rates of the monthly base, or a yearly amount.
    pub contribution: Option<ContributionRule>,
    /// The most the pooled fund pays for one person in an insurance year (封顶线).
    pub annual_fund_cap: Money,
    pub outpatient: OutpatientRule,
    pub inpatient: InpatientRule,
    pub special_outpatient: Option<SpecialOutpatientRule>,
    /// The civil-servant medical subsidy (公务员医疗补助), a fund of its own for civil servants.
    pub civil_servant_subsidy: Option<CivilServantSubsidy>,
}

impl Scheme {
    /// The yearly contribution that covers a resident for an insurance year (zero where the
    /// scheme sets none, and then coverage does not depend on paying).
    pub fn annual_contribution(&self) -> Money {
        self.contribution.map_or(Money::ZERO, |rule| rule.annual)
    }
}

/// What a personal account is credited each month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountCredit {
    /// In service: this share of the monthly contribution base.
    pub in_service_share: Ratio,
    /// Flexible employees in service: a fixed amount.
    pub flexible_monthly: Money,
    /// Retirees: a fixed amount from the pooled fund.
    pub retiree_monthly: Money,
}

impl AccountCredit {
    /// The month's credit for a person of this type with this contribution base.
    pub fn monthly(&self, person_type: PersonType, base: Option<Money>) -> Money {
        match (person_type, person_type.group()) {
            (PersonType::FlexibleInService, _) => self.flexible_monthly,
            (_, PersonTypeGroup::InService) => base.map_or(Money::ZERO, |base| base.times(self.in_service_share)),
            (_, PersonTypeGroup::Retired) => self.retiree_monthly,
            (_, PersonTypeGroup::Resident) => Money::ZERO,
        }
    }
}

/// Contributions: employers and their employees pay rates of the monthly base, flexible
/// employees pay one rate of their own, residents a yearly amount (which covers the year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContributionRule {
    /// Employer part (to the pooled fund).
    pub employer_rate: Ratio,
    /// Employee part (recorded; it is what the monthly allocation credits to the account).
    pub employee_rate: Ratio,
    /// Flexible employees: the whole contribution, paid by themselves (to the pooled fund).
    pub flexible_rate: Ratio,
    /// Residents: the yearly individual contribution (to the pooled fund).
    pub annual: Money,
}

/// What one person's contribution for a period is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContributionDue {
    /// Into the pooled fund.
    pub pooled: Money,
    /// The employee's own part (in service only).
    pub employee: Money,
}

impl ContributionRule {
    /// What a person of this type owes for a month on this base (residents: for a year; the
    /// base is then ignored). Retirees pay nothing.
    pub fn due(&self, person_type: PersonType, base: Money) -> ContributionDue {
        match (person_type, person_type.group()) {
            (PersonType::FlexibleInService, _) => {
                ContributionDue { pooled: base.times(self.flexible_rate), employee: Money::ZERO }
            }
            (_, PersonTypeGroup::InService) => {
                ContributionDue { pooled: base.times(self.employer_rate), employee: base.times(self.employee_rate) }
            }
            (_, PersonTypeGroup::Retired) => ContributionDue::default(),
            (_, PersonTypeGroup::Resident) => ContributionDue { pooled: self.annual, employee: Money::ZERO },
        }
    }
}

/// A value per hospital level, with an optional value for pharmacies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelTable<T> {
    pub tertiary: T,
    pub secondary: T,
    pub primary: T,
    pub community: T,
    pub pharmacy: Option<T>,
}

impl<T: Copy> LevelTable<T> {
    /// The value for a hospital level, or for a pharmacy when `level` is `None`.
    pub fn get(&self, level: Option<InstitutionLevel>) -> Option<T> {
        match level {
            Some(InstitutionLevel::Tertiary) => Some(self.tertiary),
            Some(InstitutionLevel::Secondary) => Some(self.secondary),
            Some(InstitutionLevel::Primary) => Some(self.primary),
            Some(InstitutionLevel::Community) => Some(self.community),
            None => self.pharmacy,
        }
    }
}

/// General outpatient care and pharmacy purchases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutpatientRule {
    pub med_types: Vec<MedType>,
    /// Paid by the person each year before the fund shares (0 for none).
    pub annual_deductible: Money,
    /// The fund's share of the in-scope cost above the deductible.
    pub fund_share: LevelTable<Ratio>,
    /// When set, the fund shares only the first this-much in-scope cost of the year.
    pub annual_band: Option<Money>,
}

/// How the inpatient deductible is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeductibleRule {
    /// Each admission pays its level's deductible; from the second admission of the year it is
    /// multiplied by `repeat_factor` (seed: halved).
    PerAdmission { repeat_factor: Ratio },
    /// One deductible a year: the highest standard among the year's admissions, less what the
    /// year already paid (Hangzhou residents).
    AnnualHighestLevel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InpatientRule {
    pub med_types: Vec<MedType>,
    pub deductible: LevelTable<Money>,
    pub deductible_rule: DeductibleRule,
    pub fund_share: LevelTable<Ratio>,
    /// Added to the fund share for retired persons (seed: 5 points).
    pub retiree_bonus: Ratio,
}

/// A special outpatient disease (门诊慢特病) the fund pays for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disease {
    pub code: String,
    pub name: String,
}

/// Outpatient treatment of registered special diseases: no deductible, the inpatient share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialOutpatientRule {
    pub med_types: Vec<MedType>,
    pub diseases: Vec<Disease>,
}

impl SpecialOutpatientRule {
    pub fn disease(&self, code: &str) -> Option<&Disease> {
        self.diseases.iter().find(|disease| disease.code == code)
    }
}

/// The civil-servant medical subsidy (公务员医疗补助): for civil servants (in service and
/// retired), a share of the in-scope amount the person would bear above the deductible (what
/// the pooled fund leaves, including what its annual cap leaves), up to a yearly cap. It pays
/// before the personal account (`cvlserv_pay`, fund type 320100).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CivilServantSubsidy {
    /// The medical types it covers.
    pub med_types: Vec<MedType>,
    /// Its share of the in-scope amount the person bears above the deductible.
    pub share: Ratio,
    /// The most it pays for one person in an insurance year.
    pub annual_cap: Money,
}

/// Emergency care followed by admission at the same institution: the emergency fees of the
/// `window_days` before admission are settled again as part of the admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyAdmissionRule {
    pub emergency_med_types: Vec<MedType>,
    pub window_days: u16,
}

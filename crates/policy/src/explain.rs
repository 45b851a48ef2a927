//! Explanations: for every amount the engine produces, the rule that made it, in two languages.

use yibao_domain::Money;

/// The rules an amount can come from. Stable identifiers: they are stored with settlements
/// and shown in portals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The item is not in the catalogue, or is self-funded (丙类): the person pays it all.
    LineSelfFunded,
    /// The unit price exceeds the catalogue's cap: the excess is the person's.
    LineOverLimit,
    /// Class B (乙类): the person first pays a share of the line.
    LineClassBFirstSelfPay,
    /// Class A (甲类): the whole line is in scope.
    LineClassA,
    /// What remains of a class B line is in scope.
    LineClassBInScope,
    OutpatientDeductible,
    OutpatientFundShare,
    OutpatientBand,
    OutpatientNoFundShare,
    InpatientDeductible,
    InpatientRepeatAdmission,
    InpatientFundShare,
    RetireeBonus,
    SpecialOutpatientFundShare,
    AnnualCap,
    /// The civil-servant medical subsidy's share (公务员医疗补助).
    CivilServantSubsidy,
    /// The civil-servant subsidy's annual cap.
    CivilServantSubsidyCap,
    PersonalAccount,
    PersonalAccountShortfall,
    Cash,
    EmergencyFolded,
    /// The personal account is frozen while its money moves to another bank.
    AccountFrozen,
}

impl Rule {
    pub const ALL: [Rule; 22] = [
        Rule::LineSelfFunded,
        Rule::LineOverLimit,
        Rule::LineClassBFirstSelfPay,
        Rule::LineClassA,
        Rule::LineClassBInScope,
        Rule::OutpatientDeductible,
        Rule::OutpatientFundShare,
        Rule::OutpatientBand,
        Rule::OutpatientNoFundShare,
        Rule::InpatientDeductible,
        Rule::InpatientRepeatAdmission,
        Rule::InpatientFundShare,
        Rule::RetireeBonus,
        Rule::SpecialOutpatientFundShare,
        Rule::AnnualCap,
        Rule::CivilServantSubsidy,
        Rule::CivilServantSubsidyCap,
        Rule::PersonalAccount,
        Rule::PersonalAccountShortfall,
        Rule::Cash,
        Rule::EmergencyFolded,
        Rule::AccountFrozen,
    ];

    /// The rule with this [`Rule::id`].
    pub fn parse(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.id() == id)
    }

    pub fn id(self) -> &'static str {
        match self {
            Rule::LineSelfFunded => "line.self-funded",
            Rule::LineOverLimit => "line.over-limit",
            Rule::LineClassBFirstSelfPay => "line.class-b-first-self-pay",
            Rule::LineClassA => "line.class-a",
            Rule::LineClassBInScope => "line.class-b-in-scope",
            Rule::OutpatientDeductible => "outpatient.deductible",
            Rule::OutpatientFundShare => "outpatient.fund-share",
            Rule::OutpatientBand => "outpatient.band",
            Rule::OutpatientNoFundShare => "outpatient.no-fund-share",
            Rule::InpatientDeductible => "inpatient.deductible",
            Rule::InpatientRepeatAdmission => "inpatient.repeat-admission",
            Rule::InpatientFundShare => "inpatient.fund-share",
            Rule::RetireeBonus => "inpatient.retiree-bonus",
            Rule::SpecialOutpatientFundShare => "special-outpatient.fund-share",
            Rule::AnnualCap => "fund.annual-cap",
            Rule::CivilServantSubsidy => "civil-servant-subsidy.share",
            Rule::CivilServantSubsidyCap => "civil-servant-subsidy.annual-cap",
            Rule::PersonalAccount => "account.pays",
            Rule::PersonalAccountShortfall => "account.shortfall",
            Rule::Cash => "cash",
            Rule::EmergencyFolded => "emergency.folded-into-admission",
            Rule::AccountFrozen => "account.frozen",
        }
    }
}

/// One step of an explanation: the rule, the amount it concerns and a sentence in Chinese and
/// English saying what happened, with the numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub rule: Rule,
    /// For line steps, the line's `feedetl_sn`.
    pub line: Option<String>,
    pub amount: Money,
    pub zh: String,
    pub en: String,
}

impl Step {
    pub(crate) fn new(rule: Rule, amount: Money, zh: String, en: String) -> Step {
        Step { rule, line: None, amount, zh, en }
    }
}

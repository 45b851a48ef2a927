//! The demo dataset of `DEMO.md`, as the commands that create it. `yibao serve --demo`, the
//! test suites and the benchmarks all load exactly this.

use yibao_domain::{Date, InstitutionKind, InstitutionLevel, InsuranceType, Money, PersonType, PersonTypeGroup};
use yibao_ledger::AccountKey;

use crate::commands::{
    Command, CreateEmployer, CreateInstitution, CreatePerson, CreateRegion, Enrolment, IssueCard, OpeningBalance,
    PutCatalogueEntry,
};
use crate::records::{CatalogueEntry, Employer, Institution, Region};

/// The actor recorded in the audit log for demo data.
pub const ACTOR: &str = "demo-loader";
/// The bank holding the demo's personal accounts and funds.
pub const BANK: &str = "BOC";
/// The demo's portal password and operator password.
pub const PASSWORD: &str = "Demo@2026";
/// The demo cards' PIN.
pub const CARD_PIN: &str = "147258";
/// The demo's agency operator.
pub const OPERATOR: &str = "admin";
/// The demo's second operator, who reviews what others propose (same password).
pub const REVIEWER: &str = "reviewer";

/// A demo institution: code, name, kind, level, region.
pub const INSTITUTIONS: [(&str, &str, InstitutionKind, Option<InstitutionLevel>, &str); 5] = [
    ("H33010000001", "浙江示例第一医院", InstitutionKind::Hospital, Some(InstitutionLevel::Tertiary), "330100"),
    ("H33010000002", "杭州示例区人民医院", InstitutionKind::Hospital, Some(InstitutionLevel::Secondary), "330100"),
    (
        "H33010000003",
        "示例街道社区卫生服务中心",
        InstitutionKind::Hospital,
        Some(InstitutionLevel::Community),
        "330100",
    ),
    ("P33010000001", "示例大药房", InstitutionKind::Pharmacy, None, "330100"),
    // Not in DEMO.md ("may add more"): a Ningbo hospital, for cross-region cases both ways.
    ("H33020000001", "宁波示例医院", InstitutionKind::Hospital, Some(InstitutionLevel::Tertiary), "330200"),
];

/// The demo gateway secret of an institution: `demo-` + its code.
pub fn gateway_secret(code: &str) -> String {
    format!("demo-{code}")
}

/// A demo person: ID number, name, region, insurance, person type, employer, monthly
/// contribution base, account balance (yuan), card number, whether they have logged in.
#[derive(Debug)]
pub struct DemoPerson {
    pub id_number: &'static str,
    pub name: &'static str,
    pub admdvs: &'static str,
    pub insurance: InsuranceType,
    pub person_type: PersonType,
    pub employer: Option<&'static str>,
    pub contribution_base: Option<i64>,
    pub balance: Option<i64>,
    pub card_no: &'static str,
    /// Only the initial password (ID digits 12–17) works, and only to set a new one.
    pub never_logged_in: bool,
    /// Months before the current one whose contributions the employer has not paid (arrears,
    /// 欠缴): they are not credited until paid (补缴).
    pub arrears_months: u32,
}

pub const PERSONS: [DemoPerson; 8] = [
    DemoPerson {
        id_number: "330102198503121236",
        name: "张伟",
        admdvs: "330100",
        insurance: InsuranceType::EmployeeBasic,
        person_type: PersonType::EmployeeInService,
        employer: Some("E33010000001"),
        contribution_base: Some(8_000),
        balance: Some(1_000),
        card_no: "A10000001",
        never_logged_in: false,
        arrears_months: 0,
    },
    DemoPerson {
        id_number: "330106195207082342",
        name: "李秀英",
        admdvs: "330100",
        insurance: InsuranceType::EmployeeBasic,
        person_type: PersonType::EmployeeRetired,
        employer: None,
        contribution_base: None,
        balance: Some(2_000),
        card_no: "A10000002",
        never_logged_in: false,
        arrears_months: 0,
    },
    DemoPerson {
        id_number: "330105199001013458",
        name: "王强",
        admdvs: "330100",
        insurance: InsuranceType::EmployeeBasic,
        person_type: PersonType::FlexibleInService,
        employer: None,
        contribution_base: None,
        balance: Some(45),
        card_no: "A10000003",
        never_logged_in: false,
        arrears_months: 0,
    },
    DemoPerson {
        id_number: "330106200106154566",
        name: "刘芳",
        admdvs: "330100",
        insurance: InsuranceType::ResidentBasic,
        person_type: PersonType::ResidentAdult,
        employer: None,
        contribution_base: None,
        balance: None,
        card_no: "A10000004",
        never_logged_in: false,
        arrears_months: 0,
    },
    DemoPerson {
        id_number: "330203197811205674",
        name: "陈军",
        admdvs: "330200",
        insurance: InsuranceType::EmployeeBasic,
        person_type: PersonType::EmployeeInService,
        employer: Some("E33020000001"),
        contribution_base: Some(6_000),
        balance: Some(500),
        card_no: "A10000005",
        never_logged_in: false,
        arrears_months: 0,
    },
    DemoPerson {
        id_number: "330106199505056781",
        name: "赵敏",
        admdvs: "330100",
        insurance: InsuranceType::EmployeeBasic,
        person_type: PersonType::EmployeeInService,
        employer: Some("E33010000001"),
        contribution_base: Some(5_000),
        balance: Some(300),
        card_no: "A10000006",
        never_logged_in: true,
        arrears_months: 0,
    },
    // Beyond DEMO.md's six: a civil servant (公务员医疗补助 pays part of what they bear) and an
    // employee whose employer owes the last two months (arrears: not credited until paid).
    DemoPerson {
        id_number: "330103198002143046",
        name: "孙丽",
        admdvs: "330100",
        insurance: InsuranceType::EmployeeBasic,
        person_type: PersonType::CivilServantInService,
        employer: Some("E33010000002"),
        contribution_base: Some(9_000),
        balance: Some(800),
        card_no: "A10000007",
        never_logged_in: false,
        arrears_months: 0,
    },
    DemoPerson {
        id_number: "330104199207185515",
        name: "周涛",
        admdvs: "330100",
        insurance: InsuranceType::EmployeeBasic,
        person_type: PersonType::EmployeeInService,
        employer: Some("E33010000003"),
        contribution_base: Some(6_000),
        balance: Some(200),
        card_no: "A10000008",
        never_logged_in: false,
        arrears_months: 2,
    },
];

/// `CSN` followed by the card number's digits: `CSN10000001` for `A10000001`.
pub fn card_sn(card_no: &str) -> String {
    format!("CSN{}", card_no.trim_start_matches(|c: char| !c.is_ascii_digit()))
}

/// A demo catalogue item.
#[derive(Debug)]
pub struct DemoItem {
    pub code: &'static str,
    pub name: &'static str,
    /// `chrgitm_lv`: 01 class A, 02 class B, 03 self-funded.
    pub class: &'static str,
    pub first_selfpay: &'static str,
    pub price_cap: Option<&'static str>,
    /// `med_chrgitm_type`: 01 床位费, 02 诊察费, 03 检查费, 05 治疗费, 09 西药费.
    pub item_type: &'static str,
    /// `list_type`: 101 西药中成药, 201 医疗服务项目.
    pub list_type: &'static str,
}

const fn item(
    code: &'static str,
    name: &'static str,
    class: &'static str,
    first_selfpay: &'static str,
    price_cap: Option<&'static str>,
    item_type: &'static str,
    list_type: &'static str,
) -> DemoItem {
    DemoItem { code, name, class, first_selfpay, price_cap, item_type, list_type }
}

/// The demo catalogue of DEMO.md.
pub const CATALOGUE: [DemoItem; 7] = [
    item("DEMO-A-001", "阿莫西林胶囊", "01", "0", None, "09", "101"),
    item("DEMO-A-002", "普通门诊诊查费", "01", "0", None, "02", "201"),
    item("DEMO-A-003", "床位费", "01", "0", None, "01", "201"),
    item("DEMO-A-004", "血液透析", "01", "0", None, "05", "201"),
    item("DEMO-B-001", "头孢克肟片", "02", "0.1", None, "09", "101"),
    item("DEMO-B-002", "彩色多普勒超声检查", "02", "0.1", Some("110"), "03", "201"),
    item("DEMO-C-001", "维生素C泡腾片", "03", "1", None, "09", "101"),
];

/// Opening balance of each region's pooled funds (yuan): large enough never to run dry in a
/// demo, so fund deficits show only when a test makes them.
pub const POOL_OPENING_YUAN: i64 = 100_000_000;

/// What each region's civil-servant subsidy fund starts with (from the budget).
pub const SUBSIDY_OPENING_YUAN: i64 = 10_000_000;

/// The demo employers (单位): code, name, region.
pub const EMPLOYERS: [(&str, &str, &str); 4] = [
    ("E33010000001", "示例科技有限公司", "330100"),
    ("E33020000001", "宁波示例贸易有限公司", "330200"),
    ("E33010000002", "杭州市示例机关事务管理局", "330100"),
    ("E33010000003", "示例餐饮管理有限公司", "330100"),
];

/// The commands that create the demo, in order. Persons get their numbers in this order, so
/// 张伟 is `3301000000000001`.
pub fn commands() -> Vec<Box<dyn Command>> {
    commands_for(None)
}

/// The demo as one deployment of two sees it (cross-region treatment across deployments):
/// both regions, but only `region`'s institutions and insured persons. Person numbers stay
/// those of the whole demo.
pub fn commands_for(region: Option<&str>) -> Vec<Box<dyn Command>> {
    let ours = |admdvs: &str| region.is_none_or(|region| region == admdvs);
    let actor = ACTOR.to_string();
    let since = Date::new(2020, 1, 1).expect("valid");
    let mut commands: Vec<Box<dyn Command>> = Vec::new();
    for (admdvs, name) in [("330100", "杭州市"), ("330200", "宁波市")] {
        commands.push(Box::new(CreateRegion {
            region: Region { admdvs: admdvs.parse().expect("valid"), name: name.to_string() },
            actor: actor.clone(),
        }));
        for insurance in [InsuranceType::EmployeeBasic, InsuranceType::ResidentBasic] {
            commands.push(Box::new(OpeningBalance {
                account: AccountKey::PoolFund(admdvs.parse().expect("valid"), insurance),
                bank: BANK.parse().expect("valid"),
                amount: Money::yuan(POOL_OPENING_YUAN),
                actor: actor.clone(),
            }));
        }
        commands.push(Box::new(OpeningBalance {
            account: AccountKey::PoolFund(admdvs.parse().expect("valid"), InsuranceType::CivilServantSubsidy),
            bank: BANK.parse().expect("valid"),
            amount: Money::yuan(SUBSIDY_OPENING_YUAN),
            actor: actor.clone(),
        }));
    }
    for (code, name, kind, level, admdvs) in INSTITUTIONS {
        if !ours(admdvs) {
            continue;
        }
        commands.push(Box::new(CreateInstitution {
            institution: Institution {
                code: code.parse().expect("valid"),
                name: name.to_string(),
                kind,
                level,
                admdvs: admdvs.parse().expect("valid"),
                designated_from: since,
                designated_to: Date::FOREVER,
                accepts_evoucher: true,
                gateway_secret: gateway_secret(code),
            },
            actor: actor.clone(),
        }));
    }
    for (code, name, admdvs) in EMPLOYERS {
        commands.push(Box::new(CreateEmployer {
            employer: Employer {
                code: code.to_string(),
                name: name.to_string(),
                admdvs: admdvs.parse().expect("valid"),
            },
            actor: actor.clone(),
        }));
    }
    for item in &CATALOGUE {
        commands.push(Box::new(PutCatalogueEntry {
            entry: CatalogueEntry {
                code: item.code.to_string(),
                name: item.name.to_string(),
                class: item.class.parse().expect("valid"),
                first_selfpay: item.first_selfpay.parse().expect("valid"),
                price_cap: item.price_cap.map(|cap| cap.parse().expect("valid")),
                item_type: item.item_type.to_string(),
                list_type: item.list_type.to_string(),
                begin: since,
                end: Date::FOREVER,
            },
            actor: actor.clone(),
        }));
    }
    for (index, person) in PERSONS.iter().enumerate() {
        let psn_no = person_number(index);
        if !ours(person.admdvs) {
            commands.push(Box::new(SkipSequence { name: "psn_no" }));
            continue;
        }
        commands.push(Box::new(CreatePerson::new(
            Enrolment {
                id_number: person.id_number.parse().expect("valid"),
                name: person.name.to_string(),
                admdvs: person.admdvs.parse().expect("valid"),
                insurance: person.insurance,
                person_type: person.person_type,
                employer: person.employer.map(str::to_string),
                insured_since: None,
                ethnicity: None,
                custody_bank: BANK.parse().expect("valid"),
                contribution_base: person.contribution_base.map(Money::yuan),
            },
            crate::commands::PersonNumber::Next,
            since,
            actor.clone(),
        )));
        commands.push(Box::new(IssueCard {
            card_no: person.card_no.parse().expect("valid"),
            card_sn: card_sn(person.card_no).parse().expect("valid"),
            psn_no: psn_no.parse().expect("valid"),
            bank: BANK.parse().expect("valid"),
            actor: actor.clone(),
        }));
        commands.push(Box::new(CoverPerson {
            psn_no: psn_no.parse().expect("valid"),
            arrears_months: person.arrears_months,
            actor: actor.clone(),
        }));
        if let Some(balance) = person.balance {
            commands.push(Box::new(OpeningBalance {
                account: AccountKey::PersonalCurrent(psn_no.parse().expect("valid")),
                bank: BANK.parse().expect("valid"),
                amount: Money::yuan(balance),
                actor: actor.clone(),
            }));
        }
    }
    // A reimbursement waiting for the reviewer (零星报销): 李秀英's emergency admission at a
    // hospital that is not networked (2,000 yuan, three days), submitted by `admin`, so
    // `reviewer` can approve it at once.
    if ours(PERSONS[1].admdvs) {
        commands.push(Box::new(PendingReimbursement { psn_no: person_number(1).parse().expect("valid") }));
    }
    commands
}

/// The demo's pending reimbursement, dated the day the demo is loaded.
#[derive(Debug, Clone)]
struct PendingReimbursement {
    psn_no: yibao_domain::PersonNo,
}

impl Command for PendingReimbursement {
    fn name(&self) -> &'static str {
        "demo-pending-reimbursement"
    }

    fn keys(&self) -> crate::Keys {
        crate::Keys::default()
    }

    fn execute(
        &self,
        ws: &mut crate::WorkingSet<'_>,
        ctx: &crate::Context<'_>,
    ) -> Result<crate::Outcome, crate::EngineError> {
        let today = ctx.now.date();
        crate::commands::SubmitReimbursement {
            psn_no: self.psn_no.clone(),
            provider: crate::commands::ProviderRef::Other {
                name: "示例县人民医院（未联网）".to_string(),
                level: Some(yibao_domain::InstitutionLevel::Secondary),
                admdvs: "330100".parse().expect("valid"),
            },
            med_type: "21".parse().expect("valid"),
            begin: today.plus_days(-3),
            end: today,
            cause: crate::records::ReimbursementCause::Emergency,
            lines: vec![
                (
                    "DEMO-A-001".to_string(),
                    "1700.00".parse().expect("valid"),
                    "1".parse().expect("valid"),
                    Money::yuan(1_700),
                ),
                (
                    "DEMO-A-003".to_string(),
                    "100.00".parse().expect("valid"),
                    "3".parse().expect("valid"),
                    Money::yuan(300),
                ),
            ],
            use_account: false,
            payee: crate::records::Payee {
                name: PERSONS[1].name.to_string(),
                bank: "中国银行杭州分行".to_string(),
                account: "6217000010000000002".to_string(),
                reference: None,
            },
            note: "夜间急诊，医院未联网，现金垫付".to_string(),
            actor: format!("operator:{OPERATOR}"),
        }
        .execute(ws, ctx)
    }
}

/// What a demo database needs each time it starts: its persons' contributions around today
/// (residents this insurance year and the next; employees the twelve months before this one,
/// this one and the eleven after), so a demo loaded long ago still counts as paid, as DEMO.md
/// says. Paying twice is impossible; no balance changes (an allocation credits the months).
pub fn upkeep(region: Option<&str>) -> Vec<Box<dyn Command>> {
    PERSONS
        .iter()
        .enumerate()
        .filter(|(_, person)| region.is_none_or(|region| region == person.admdvs))
        .map(|(index, person)| {
            Box::new(CoverPerson {
                psn_no: person_number(index).parse().expect("valid"),
                arrears_months: person.arrears_months,
                actor: ACTOR.to_string(),
            }) as Box<dyn Command>
        })
        .collect()
}

/// The monthly base the demo declares for its flexible employee, who has no registered one
/// (a demo choice, not a sourced figure).
pub const FLEXIBLE_BASE: i64 = 5_000;

/// The person number the demo gives its `index`-th person (0-based). Numbers are the
/// region of the first demo region with a deployment-wide sequence.
pub fn person_number(index: usize) -> String {
    format!("{}{:010}", PERSONS[index].admdvs, index + 1)
}

/// Draws a number from a sequence and leaves it unused (a demo person another deployment holds
/// keeps their number there).
#[derive(Debug, Clone)]
struct SkipSequence {
    name: &'static str,
}

impl Command for SkipSequence {
    fn name(&self) -> &'static str {
        "skip-sequence"
    }

    fn keys(&self) -> crate::Keys {
        crate::Keys::default()
    }

    fn execute(
        &self,
        ws: &mut crate::WorkingSet<'_>,
        _ctx: &crate::Context<'_>,
    ) -> Result<crate::Outcome, crate::EngineError> {
        ws.next_sequence(self.name)?;
        Ok(crate::Outcome::Done)
    }
}

/// A demo person's contributions are paid: a resident's this insurance year and the next, an
/// employee's (in service: by the employer; flexible: on [`FLEXIBLE_BASE`]) for the months
/// around today, so they are covered and credited as DEMO.md describes; but for the
/// `arrears_months` just before the current one, which stay owed until someone pays them.
#[derive(Debug, Clone)]
struct CoverPerson {
    psn_no: yibao_domain::PersonNo,
    arrears_months: u32,
    actor: String,
}

impl Command for CoverPerson {
    fn name(&self) -> &'static str {
        "cover-demo-person"
    }

    fn keys(&self) -> crate::Keys {
        crate::Keys::default()
    }

    fn execute(
        &self,
        ws: &mut crate::WorkingSet<'_>,
        ctx: &crate::Context<'_>,
    ) -> Result<crate::Outcome, crate::EngineError> {
        use crate::commands::{ContributionPeriod, PayContributions};
        let Some(person) = ws.person(&self.psn_no)? else {
            return Ok(crate::Outcome::Done);
        };
        if person.status != crate::records::PersonStatus::Active {
            // Suspended, deceased, moved away: nothing is due any more.
            return Ok(crate::Outcome::Done);
        }
        let today = ctx.now.date();
        let pay = |period, employer: Option<String>, base: Option<Money>| PayContributions {
            employer,
            period,
            entries: vec![(self.psn_no.clone(), base)],
            actor: self.actor.clone(),
        };
        match person.person_type.group() {
            PersonTypeGroup::Resident => {
                for year in [today.year(), today.year() + 1] {
                    // Only where the policy in force sets a yearly contribution.
                    let day = Date::new(year, 1, 1).expect("a valid year");
                    let annual = ctx
                        .policies
                        .resolve(&person.admdvs, person.insurance, day)
                        .map_or(Money::ZERO, |resolved| resolved.scheme.annual_contribution());
                    if annual.is_positive() {
                        pay(ContributionPeriod::Year(year), None, None).execute(ws, ctx)?;
                    }
                }
            }
            PersonTypeGroup::InService => {
                let flexible = person.person_type == yibao_domain::PersonType::FlexibleInService;
                let (employer, base) = match flexible {
                    true => (None, Some(Money::yuan(FLEXIBLE_BASE))),
                    false => (person.employer.clone(), None),
                };
                let current = today.year_month();
                let mut owed_from = current;
                for _ in 0..self.arrears_months {
                    owed_from = owed_from.previous();
                }
                let mut month = current;
                for _ in 0..12 {
                    month = month.previous();
                }
                for _ in 0..24 {
                    if owed_from <= month && month < current {
                        month = month.next();
                        continue;
                    }
                    let sets_contributions = ctx
                        .policies
                        .resolve(&person.admdvs, person.insurance, month.last_day())
                        .is_some_and(|resolved| resolved.scheme.contribution.is_some());
                    if sets_contributions && person.insured_since <= month.last_day() {
                        pay(ContributionPeriod::Month(month), employer.clone(), base).execute(ws, ctx)?;
                    }
                    month = month.next();
                }
            }
            PersonTypeGroup::Retired => {}
        }
        Ok(crate::Outcome::Done)
    }
}

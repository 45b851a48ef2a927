//! Pricing, checked against the worked examples of reference/policy.md and a table of cases
//! covering every seed rule. Amounts in the tables are yuan, exact to the fen.

use proptest::prelude::*;
use yibao_domain::{ChargeClass, InstitutionLevel, InsuranceType, MedType, Money, PersonType, Quantity, UnitPrice};
use yibao_policy::{
    AccountBalances, Accumulators, Admission, CatalogueItem, LineInput, Policy, PriceInput, Pricing, PricingError,
    Rule, SEED_POLICY_TOML, parse_policy, price, split_line,
};

fn seed() -> Policy {
    parse_policy("policies/seed.toml", SEED_POLICY_TOML).expect("the seed policy parses")
}

fn hangzhou() -> Policy {
    let text = include_str!("../../../policies/hangzhou-resident-2021.toml");
    parse_policy("policies/hangzhou-resident-2021.toml", text).expect("the Hangzhou policy parses")
}

fn yuan(text: &str) -> Money {
    text.parse().unwrap()
}

/// The demo catalogue of DEMO.md.
fn catalogue(code: &str) -> Option<CatalogueItem> {
    let (class, ratio, cap) = match code {
        "DEMO-A-001" | "DEMO-A-002" | "DEMO-A-003" | "DEMO-A-004" => (ChargeClass::ClassA, "0", None),
        "DEMO-B-001" => (ChargeClass::ClassB, "0.1", None),
        "DEMO-B-002" => (ChargeClass::ClassB, "0.1", Some("110")),
        "DEMO-C-001" => (ChargeClass::SelfFunded, "1", None),
        _ => return None,
    };
    Some(CatalogueItem {
        code: code.to_string(),
        name: code.to_string(),
        class,
        first_selfpay: ratio.parse().unwrap(),
        price_cap: cap.map(|cap| cap.parse().unwrap()),
    })
}

#[derive(Clone, Debug)]
struct Case {
    policy: Policy,
    insurance: InsuranceType,
    person_type: PersonType,
    level: Option<InstitutionLevel>,
    med_type: MedType,
    lines: Vec<(String, String, String)>,
    ytd: Accumulators,
    admission: Admission,
    disease: Option<String>,
    account: Option<AccountBalances>,
}

impl Case {
    fn employee() -> Case {
        Case {
            policy: seed(),
            insurance: InsuranceType::EmployeeBasic,
            person_type: PersonType::EmployeeInService,
            level: Some(InstitutionLevel::Tertiary),
            med_type: MedType::GENERAL_OUTPATIENT,
            lines: Vec::new(),
            ytd: Accumulators::default(),
            admission: Admission::default(),
            disease: None,
            account: None,
        }
    }

    fn resident() -> Case {
        Case { insurance: InsuranceType::ResidentBasic, person_type: PersonType::ResidentAdult, ..Case::employee() }
    }

    fn retiree() -> Case {
        Case { person_type: PersonType::EmployeeRetired, ..Case::employee() }
    }

    fn civil_servant() -> Case {
        Case { person_type: PersonType::CivilServantInService, ..Case::employee() }
    }

    fn policy(self, policy: Policy) -> Case {
        Case { policy, ..self }
    }

    fn level(self, level: InstitutionLevel) -> Case {
        Case { level: Some(level), ..self }
    }

    fn pharmacy(self) -> Case {
        Case { level: None, med_type: MedType::PHARMACY, ..self }
    }

    fn med_type(self, code: &str) -> Case {
        Case { med_type: code.parse().unwrap(), ..self }
    }

    fn inpatient(self) -> Case {
        self.med_type("21")
    }

    fn line(mut self, code: &str, price: &str, quantity: &str) -> Case {
        self.lines.push((code.to_string(), price.to_string(), quantity.to_string()));
        self
    }

    fn ytd(self, ytd: Accumulators) -> Case {
        Case { ytd, ..self }
    }

    fn admission(self, counted: bool, deductible_paid: &str) -> Case {
        Case { admission: Admission { counted, deductible_paid: yuan(deductible_paid) }, ..self }
    }

    fn disease(self, code: &str) -> Case {
        Case { disease: Some(code.to_string()), ..self }
    }

    fn account(self, current: &str, prior: &str) -> Case {
        Case { account: Some(AccountBalances { current_year: yuan(current), prior_years: yuan(prior) }), ..self }
    }

    fn run(&self) -> Result<Pricing, PricingError> {
        let scheme = self.policy.scheme(self.insurance).expect("scheme");
        let splits: Vec<_> = self
            .lines
            .iter()
            .enumerate()
            .map(|(index, (code, price, quantity))| {
                let price: UnitPrice = price.parse().unwrap();
                let quantity: Quantity = quantity.parse().unwrap();
                let line = LineInput {
                    serial: (index + 1).to_string(),
                    code: code.clone(),
                    price,
                    quantity,
                    amount: price.times(quantity),
                };
                split_line(&line, catalogue(code).as_ref())
            })
            .collect();
        let disease = self.disease.as_ref().map(|code| {
            scheme.special_outpatient.as_ref().and_then(|rule| rule.disease(code)).expect("listed disease")
        });
        price(&PriceInput {
            policy: &self.policy,
            scheme,
            insurance: self.insurance,
            person_type: self.person_type,
            level: self.level,
            med_type: self.med_type,
            lines: &splits,
            year_to_date: &self.ytd,
            admission: self.admission,
            special_disease: disease,
            account: self.account,
        })
    }
}

/// The amounts of a settlement, in yuan: medfee, fulamt_ownpay, overlmt_selfpay,
/// preselfpay, inscp, act_pay_dedc, hifp_pay, acct_pay, psn_cash_pay.
type Expected = [&'static str; 9];

fn check(name: &str, case: Case, expected: Expected) {
    let pricing = case.run().unwrap_or_else(|error| panic!("{name}: {error}"));
    let actual = [
        pricing.medfee,
        pricing.fully_selfpaid,
        pricing.over_limit,
        pricing.first_selfpay,
        pricing.in_scope,
        pricing.deductible,
        pricing.fund,
        pricing.account(),
        pricing.cash,
    ];
    let expected = expected.map(yuan);
    assert_eq!(actual, expected, "{name}: [medfee, fulamt, overlmt, preselfpay, inscp, dedc, fund, acct, cash]");
    assert_identities(&pricing);
}

fn assert_identities(pricing: &Pricing) {
    assert_eq!(pricing.medfee, pricing.fully_selfpaid + pricing.over_limit + pricing.first_selfpay + pricing.in_scope);
    assert_eq!(pricing.medfee, pricing.fund + pricing.subsidy + pricing.account() + pricing.cash);
    assert_eq!(pricing.funds(), pricing.fund + pricing.subsidy);
    assert_eq!(pricing.change.subsidy_paid, pricing.subsidy);
}

fn ytd_admissions(admissions: i64) -> Accumulators {
    Accumulators { admissions, ..Accumulators::default() }
}

#[test]
fn worked_example_employee_outpatient_tertiary() {
    let case = Case::employee()
        .line("DEMO-A-001", "50", "1")
        .line("DEMO-B-001", "100", "1")
        .line("DEMO-C-001", "20", "1")
        .account("0", "1000");
    check("employee outpatient", case, ["170", "20", "0", "10", "140", "0", "0", "170", "0"]);
}

#[test]
fn worked_example_resident_outpatient_band() {
    let first = Case::resident().level(InstitutionLevel::Community).line("DEMO-A-002", "80", "1");
    check("first visit", first.clone(), ["80", "0", "0", "0", "80", "0", "24", "0", "56"]);
    let used = first.run().unwrap().change;
    assert_eq!(used.outpatient_band_used, yuan("80"));
    let second = Case::resident().level(InstitutionLevel::Community).line("DEMO-A-002", "50", "1").ytd(used);
    check("second visit", second, ["50", "0", "0", "0", "50", "0", "6", "0", "44"]);
}

#[test]
fn worked_example_employee_inpatient_first_admission() {
    let case = Case::employee().inpatient().line("DEMO-A-003", "10000", "1");
    check("first admission", case.clone(), ["10000", "0", "0", "0", "10000", "800", "7820", "0", "2180"]);
    assert_eq!(case.run().unwrap().change.admissions, 1);
}

#[test]
fn worked_examples_hangzhou_resident() {
    let outpatient = Case::resident().policy(hangzhou()).line("DEMO-A-002", "1000", "1");
    check("hangzhou outpatient", outpatient, ["1000", "0", "0", "0", "1000", "300", "280", "0", "720"]);
    let inpatient = Case::resident().policy(hangzhou()).inpatient().line("DEMO-A-003", "10000", "1");
    check("hangzhou inpatient", inpatient, ["10000", "0", "0", "0", "10000", "800", "6440", "0", "3560"]);
}

#[test]
fn seed_rules_table() {
    let a10000 = |case: Case| case.inpatient().line("DEMO-A-003", "10000", "1");
    let cases: Vec<(&str, Case, Expected)> = vec![
        (
            "2nd admission halves the deductible",
            a10000(Case::employee()).ytd(ytd_admissions(1)),
            ["10000", "0", "0", "0", "10000", "400", "8160", "0", "1840"],
        ),
        (
            "3rd admission also halved",
            a10000(Case::employee()).ytd(ytd_admissions(2)),
            ["10000", "0", "0", "0", "10000", "400", "8160", "0", "1840"],
        ),
        (
            "secondary hospital",
            a10000(Case::employee()).level(InstitutionLevel::Secondary),
            ["10000", "0", "0", "0", "10000", "500", "8360", "0", "1640"],
        ),
        (
            "primary hospital",
            a10000(Case::employee()).level(InstitutionLevel::Primary),
            ["10000", "0", "0", "0", "10000", "300", "8924", "0", "1076"],
        ),
        (
            "community centre",
            a10000(Case::employee()).level(InstitutionLevel::Community),
            ["10000", "0", "0", "0", "10000", "300", "8924", "0", "1076"],
        ),
        ("retiree +5 points", a10000(Case::retiree()), ["10000", "0", "0", "0", "10000", "800", "8280", "0", "1720"]),
        (
            "resident inpatient tertiary",
            a10000(Case::resident()),
            ["10000", "0", "0", "0", "10000", "800", "6440", "0", "3560"],
        ),
        (
            "resident 2nd admission secondary",
            a10000(Case::resident()).level(InstitutionLevel::Secondary).ytd(ytd_admissions(1)),
            ["10000", "0", "0", "0", "10000", "250", "7312.50", "0", "2687.50"],
        ),
        (
            "emergency-to-inpatient 24 is inpatient",
            a10000(Case::employee()).med_type("24"),
            ["10000", "0", "0", "0", "10000", "800", "7820", "0", "2180"],
        ),
        (
            "annual cap reached mid-bill",
            a10000(Case::employee()).ytd(Accumulators { fund_paid: yuan("399000"), ..Accumulators::default() }),
            ["10000", "0", "0", "0", "10000", "800", "1000", "0", "9000"],
        ),
        (
            "annual cap already reached",
            a10000(Case::employee()).ytd(Accumulators { fund_paid: yuan("400000"), ..Accumulators::default() }),
            ["10000", "0", "0", "0", "10000", "800", "0", "0", "10000"],
        ),
        (
            "resident cap is 300000",
            a10000(Case::resident()).ytd(Accumulators { fund_paid: yuan("299999.99"), ..Accumulators::default() }),
            ["10000", "0", "0", "0", "10000", "800", "0.01", "0", "9999.99"],
        ),
        (
            "band crossed mid-bill",
            Case::resident()
                .line("DEMO-A-002", "50", "1")
                .ytd(Accumulators { outpatient_band_used: yuan("90"), ..Accumulators::default() }),
            ["50", "0", "0", "0", "50", "0", "3", "0", "47"],
        ),
        (
            "band used up",
            Case::resident()
                .line("DEMO-A-002", "50", "1")
                .ytd(Accumulators { outpatient_band_used: yuan("100"), ..Accumulators::default() }),
            ["50", "0", "0", "0", "50", "0", "0", "0", "50"],
        ),
        (
            "band counts in-scope cost only",
            Case::resident().line("DEMO-B-001", "100", "1").line("DEMO-C-001", "30", "1"),
            ["130", "30", "0", "10", "90", "0", "27", "0", "103"],
        ),
        (
            "resident pharmacy shares the band",
            Case::resident().pharmacy().line("DEMO-A-001", "80", "1"),
            ["80", "0", "0", "0", "80", "0", "24", "0", "56"],
        ),
        (
            "employee pharmacy paid by account",
            Case::employee().pharmacy().line("DEMO-B-001", "45.5", "2").account("0", "1000"),
            ["91", "0", "0", "9.10", "81.90", "0", "0", "91", "0"],
        ),
        (
            "special outpatient dialysis",
            Case::employee().med_type("14").line("DEMO-A-004", "1000", "1").disease("M07800"),
            ["1000", "0", "0", "0", "1000", "0", "850", "0", "150"],
        ),
        (
            "special outpatient retiree",
            Case::retiree().med_type("14").line("DEMO-A-004", "1000", "1").disease("M07800").account("0", "2000"),
            ["1000", "0", "0", "0", "1000", "0", "900", "100", "0"],
        ),
        (
            "special outpatient resident community",
            Case::resident()
                .level(InstitutionLevel::Community)
                .med_type("14")
                .line("DEMO-A-004", "500", "1")
                .disease("M00500"),
            ["500", "0", "0", "0", "500", "0", "400", "0", "100"],
        ),
        (
            "price cap: over-limit then class B",
            Case::employee().line("DEMO-B-002", "120", "1").account("0", "1000"),
            ["120", "0", "10", "11", "99", "0", "0", "120", "0"],
        ),
        (
            "price cap times quantity",
            Case::employee().inpatient().line("DEMO-B-002", "120", "3"),
            ["360", "0", "30", "33", "297", "297", "0", "0", "360"],
        ),
        (
            "unknown item is self-funded",
            Case::employee().line("HIS-LOCAL-9", "35", "1").account("0", "1000"),
            ["35", "35", "0", "0", "0", "0", "0", "35", "0"],
        ),
        (
            "account shortfall",
            Case::employee().line("DEMO-A-001", "170", "1").account("0", "45"),
            ["170", "0", "0", "0", "170", "0", "0", "45", "125"],
        ),
        (
            "account not asked for",
            Case::employee().line("DEMO-A-001", "170", "1"),
            ["170", "0", "0", "0", "170", "0", "0", "0", "170"],
        ),
        (
            "resident has no account even if asked",
            Case::resident().line("DEMO-A-001", "200", "1").account("0", "500"),
            ["200", "0", "0", "0", "200", "0", "30", "0", "170"],
        ),
        (
            "inpatient deductible larger than the bill",
            Case::employee().inpatient().line("DEMO-A-003", "500", "1"),
            ["500", "0", "0", "0", "500", "500", "0", "0", "500"],
        ),
        (
            "mid-stay: the rest of the deductible",
            Case::employee().inpatient().line("DEMO-A-003", "1000", "1").admission(true, "500").ytd(ytd_admissions(1)),
            ["1000", "0", "0", "0", "1000", "300", "595", "0", "405"],
        ),
        (
            "mid-stay: deductible already paid",
            Case::employee().inpatient().line("DEMO-A-003", "1000", "1").admission(true, "800").ytd(ytd_admissions(1)),
            ["1000", "0", "0", "0", "1000", "0", "850", "0", "150"],
        ),
        (
            "class B rounding per line",
            Case::employee().inpatient().line("DEMO-B-001", "3.33", "3").admission(true, "800").ytd(ytd_admissions(1)),
            ["9.99", "0", "0", "1", "8.99", "0", "7.64", "0", "2.35"],
        ),
        (
            "refund line nets within the bill",
            Case::employee().inpatient().line("DEMO-A-003", "100", "10").line("DEMO-A-003", "100", "-2"),
            ["800", "0", "0", "0", "800", "800", "0", "0", "800"],
        ),
        (
            "fund share rounds once per settlement",
            Case::employee().inpatient().line("DEMO-A-003", "800.01", "1").line("DEMO-A-001", "0.01", "1"),
            ["800.02", "0", "0", "0", "800.02", "800", "0.02", "0", "800"],
        ),
        (
            "hangzhou: one deductible a year, highest level",
            Case::resident()
                .policy(hangzhou())
                .inpatient()
                .level(InstitutionLevel::Secondary)
                .line("DEMO-A-003", "10000", "1")
                .ytd(Accumulators { admissions: 1, inpatient_deductible_paid: yuan("800"), ..Accumulators::default() }),
            ["10000", "0", "0", "0", "10000", "0", "7500", "0", "2500"],
        ),
        (
            "hangzhou: a higher level later pays the difference",
            Case::resident().policy(hangzhou()).inpatient().line("DEMO-A-003", "10000", "1").ytd(Accumulators {
                admissions: 1,
                inpatient_deductible_paid: yuan("500"),
                ..Accumulators::default()
            }),
            ["10000", "0", "0", "0", "10000", "300", "6790", "0", "3210"],
        ),
        (
            "hangzhou: outpatient deductible already paid",
            Case::resident()
                .policy(hangzhou())
                .level(InstitutionLevel::Community)
                .line("DEMO-A-002", "100", "1")
                .ytd(Accumulators { outpatient_deductible_paid: yuan("300"), ..Accumulators::default() }),
            ["100", "0", "0", "0", "100", "0", "70", "0", "30"],
        ),
        (
            "employee retiree outpatient has no share",
            Case::retiree().line("DEMO-A-002", "30", "1").account("10", "5"),
            ["30", "0", "0", "0", "30", "0", "0", "15", "15"],
        ),
    ];
    assert!(cases.len() >= 25);
    for (name, case, expected) in cases {
        check(name, case, expected);
    }
}

/// The seed's civil-servant subsidy: half of the in-scope amount the person bears above the
/// deductible, at most 30,000 yuan a year, before the personal account; not at pharmacies.
#[test]
fn civil_servant_subsidy() {
    // Inpatient, tertiary, 10,000 in scope: deductible 800, fund 9,200 × 0.85 = 7,820, the
    // person would bear 1,380 in scope above the deductible: the subsidy pays 690.
    let inpatient = Case::civil_servant().inpatient().line("DEMO-A-003", "10000", "1").account("100", "0");
    let pricing = inpatient.run().unwrap();
    assert_eq!((pricing.deductible, pricing.fund, pricing.subsidy), (yuan("800"), yuan("7820"), yuan("690")));
    assert_eq!((pricing.account(), pricing.cash), (yuan("100"), yuan("1390")));
    assert_eq!(pricing.person_part(), yuan("1490"));
    assert_identities(&pricing);
    assert!(pricing.steps.iter().any(|step| step.rule == Rule::CivilServantSubsidy && step.amount == yuan("690")));
    // Employees' outpatient care has no pooled share: the subsidy pays half of what is in scope
    // (seed 000: civil servants' outpatient care is reimbursed otherwise), not the self-funded line.
    let outpatient = Case::civil_servant()
        .line("DEMO-A-001", "50", "1")
        .line("DEMO-B-001", "100", "1")
        .line("DEMO-C-001", "20", "1")
        .account("0", "1000");
    check("civil servant outpatient", outpatient.clone(), ["170", "20", "0", "10", "140", "0", "0", "100", "0"]);
    assert_eq!(outpatient.run().unwrap().subsidy, yuan("70"));
    // Retired civil servants too; pharmacy purchases are not covered.
    let retired = Case { person_type: PersonType::CivilServantRetired, ..Case::civil_servant() };
    assert_eq!(retired.clone().line("DEMO-A-001", "50", "1").run().unwrap().subsidy, yuan("25"));
    assert_eq!(Case::civil_servant().pharmacy().line("DEMO-A-001", "50", "1").run().unwrap().subsidy, Money::ZERO);
    // Other employees get nothing from it.
    assert_eq!(Case::employee().inpatient().line("DEMO-A-003", "10000", "1").run().unwrap().subsidy, Money::ZERO);
    // The annual cap: 29,900 paid, 690 wanted, 100 left.
    let capped = inpatient.ytd(Accumulators { subsidy_paid: yuan("29900"), ..Accumulators::default() }).run().unwrap();
    assert_eq!(capped.subsidy, yuan("100"));
    assert!(capped.steps.iter().any(|step| step.rule == Rule::CivilServantSubsidyCap && step.amount == yuan("590")));
    assert_identities(&capped);
}

#[test]
fn account_pays_current_year_first() {
    let pricing = Case::employee().line("DEMO-A-001", "50", "1").account("30", "100").run().unwrap();
    assert_eq!((pricing.account_current_year, pricing.account_prior_years), (yuan("30"), yuan("20")));
}

#[test]
fn refusals() {
    let no_disease = Case::employee().med_type("14").line("DEMO-A-004", "10", "1");
    assert_eq!(no_disease.run().unwrap_err(), PricingError::SpecialDiseaseRequired);
    let maternity = Case::employee().med_type("52").line("DEMO-A-001", "10", "1");
    assert!(matches!(maternity.run().unwrap_err(), PricingError::MedTypeNotCovered { .. }));
    let inpatient_at_pharmacy = Case::employee().pharmacy().inpatient().line("DEMO-A-001", "10", "1");
    assert!(matches!(inpatient_at_pharmacy.run().unwrap_err(), PricingError::LevelNotPriced { .. }));
    let net_refund = Case::employee().inpatient().line("DEMO-A-003", "100", "-1");
    assert_eq!(net_refund.run().unwrap_err(), PricingError::NegativeTotal { medfee: yuan("-100") });
}

#[test]
fn every_amount_has_a_reason() {
    let pricing = Case::retiree()
        .inpatient()
        .line("DEMO-B-002", "120", "1")
        .line("DEMO-C-001", "20", "1")
        .line("NOT-LISTED", "5", "1")
        .ytd(Accumulators { admissions: 1, fund_paid: yuan("399990"), ..Accumulators::default() })
        .account("1", "2")
        .run()
        .unwrap();
    let rules: Vec<Rule> = pricing.steps.iter().map(|step| step.rule).collect();
    for rule in [
        Rule::LineOverLimit,
        Rule::LineClassBFirstSelfPay,
        Rule::LineSelfFunded,
        Rule::InpatientRepeatAdmission,
        Rule::InpatientDeductible,
        Rule::RetireeBonus,
        Rule::InpatientFundShare,
        Rule::PersonalAccount,
        Rule::PersonalAccountShortfall,
    ] {
        assert!(rules.contains(&rule), "no {rule:?} step in {rules:?}");
    }
    for step in &pricing.steps {
        assert!(!step.zh.is_empty() && !step.en.is_empty());
    }
}

fn arbitrary_case() -> impl Strategy<Value = Case> {
    let codes = ["DEMO-A-001", "DEMO-A-003", "DEMO-B-001", "DEMO-B-002", "DEMO-C-001", "UNKNOWN"];
    let line = (0..codes.len(), 0i64..5_000_000, 1i64..5).prop_map(move |(code, fen, quantity)| {
        (codes[code].to_string(), Money::from_fen(fen).to_string(), quantity.to_string())
    });
    let ytd = (0i64..3, 0i64..41_000_000, 0i64..12_000, 0i64..90_000, 0i64..3_100_000).prop_map(
        |(admissions, fund, band, dedc, subsidy)| Accumulators {
            admissions,
            fund_paid: Money::from_fen(fund),
            outpatient_band_used: Money::from_fen(band),
            inpatient_deductible_paid: Money::from_fen(dedc),
            subsidy_paid: Money::from_fen(subsidy),
            ..Accumulators::default()
        },
    );
    (
        0..4usize,
        prop::option::of(0..4usize),
        prop::sample::select(vec!["11", "13", "21", "24", "41"]),
        prop::collection::vec(line, 1..8),
        ytd,
        any::<bool>(),
        0i64..100_000,
        prop::option::of((0i64..200_000, 0i64..200_000)),
    )
        .prop_map(|(person, level, med_type, lines, ytd, counted, paid, account)| {
            let base = [Case::employee(), Case::resident(), Case::retiree(), Case::civil_servant()][person].clone();
            let level = level.map(|l| InstitutionLevel::ALL[l]);
            let med_type = match (level, med_type) {
                (None, _) => "41",
                (Some(_), "41") => "11",
                (Some(_), other) => other,
            };
            let mut case = Case { level, ..base }.med_type(med_type).ytd(ytd);
            case.lines = lines;
            case.admission =
                Admission { counted: counted && ytd.admissions > 0, deductible_paid: Money::from_fen(paid) };
            case.account = account.map(|(current, prior)| AccountBalances {
                current_year: Money::from_fen(current),
                prior_years: Money::from_fen(prior),
            });
            case
        })
}

proptest! {
    #[test]
    fn identities_and_bounds_hold_for_random_bills(case in arbitrary_case()) {
        let pricing = case.run().expect("every generated case is priceable");
        assert_identities(&pricing);
        for part in [pricing.fully_selfpaid, pricing.over_limit, pricing.first_selfpay, pricing.in_scope,
                     pricing.deductible, pricing.fund, pricing.subsidy, pricing.account(), pricing.cash] {
            prop_assert!(!part.is_negative());
        }
        prop_assert!(pricing.fund + pricing.subsidy + pricing.deductible <= pricing.in_scope.max(Money::ZERO));
        if let Some(rule) = &case.policy.scheme(case.insurance).unwrap().civil_servant_subsidy {
            prop_assert!(case.ytd.subsidy_paid + pricing.subsidy <= rule.annual_cap.max(case.ytd.subsidy_paid));
        }
        if !case.person_type.is_civil_servant() {
            prop_assert_eq!(pricing.subsidy, Money::ZERO);
        }
        let scheme = case.policy.scheme(case.insurance).unwrap();
        prop_assert!(case.ytd.fund_paid + pricing.fund <= scheme.annual_fund_cap.max(case.ytd.fund_paid));
        if let Some(account) = case.account {
            prop_assert!(pricing.account_current_year <= account.current_year);
            prop_assert!(pricing.account_prior_years <= account.prior_years);
        }
        prop_assert_eq!(case.run().unwrap(), pricing, "pricing is deterministic");
    }
}

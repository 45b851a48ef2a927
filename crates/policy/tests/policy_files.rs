//! Policy files: the shipped ones load; broken ones are refused with file, line and field.

use yibao_domain::{Date, InsuranceType};
use yibao_policy::{PolicySet, SEED_POLICY_TOML, parse_policy};

const HANGZHOU: &str = include_str!("../../../policies/hangzhou-resident-2021.toml");

/// Replaces the first `from` in the seed policy with `to` and returns the error it causes.
fn broken(from: &str, to: &str) -> String {
    assert!(SEED_POLICY_TOML.contains(from), "{from:?} is not in the seed policy");
    let text = SEED_POLICY_TOML.replacen(from, to, 1);
    parse_policy("seed.toml", &text).expect_err("the broken policy is refused").to_string()
}

fn line_of(needle: &str) -> usize {
    SEED_POLICY_TOML[..SEED_POLICY_TOML.find(needle).unwrap()].matches('\n').count() + 1
}

#[test]
fn shipped_policies_load_and_resolve() {
    let seed = parse_policy("policies/seed.toml", SEED_POLICY_TOML).unwrap();
    assert_eq!(seed.label(), "seed@2026.1");
    let hangzhou = parse_policy("policies/hangzhou-resident-2021.toml", HANGZHOU).unwrap();
    let mut set = PolicySet::new();
    set.add("policies/seed.toml", seed).unwrap();
    let today = Date::new(2026, 11, 23).unwrap();
    let resolved = set.resolve(&"330200".parse().unwrap(), InsuranceType::ResidentBasic, today).unwrap();
    assert_eq!(resolved.scheme.name, "城乡居民基本医疗保险");
    assert!(set.resolve(&"110100".parse().unwrap(), InsuranceType::ResidentBasic, today).is_none());
    let error = set.add("policies/hangzhou-resident-2021.toml", hangzhou).unwrap_err().to_string();
    assert_eq!(
        error,
        "policies/hangzhou-resident-2021.toml:0: scope[0]: region 330100 overlaps policy seed@2026.1 (2000-01-01 to 9999-12-31) for the same insurance type"
    );
}

#[test]
fn errors_name_file_line_and_field() {
    let share = line_of("fund_share = { tertiary = \"0.85\"");
    let cases = [
        (
            broken("tertiary = \"0.85\"", "tertiary = \"1.85\""),
            format!("seed.toml:{share}: scheme[0].inpatient.fund_share.tertiary: invalid ratio: 1.85 is more than 1"),
        ),
        (
            broken("tertiary = \"0.85\"", "tertiary = 0.85"),
            format!(
                "seed.toml:{share}: scheme[0].inpatient.fund_share.tertiary: write decimals as strings (\"0.85\"), TOML floats are not exact"
            ),
        ),
        (
            broken("annual_fund_cap = \"400000\"", "annual_fund_cap = \"400000.001\""),
            format!(
                "seed.toml:{}: scheme[0].annual_fund_cap: invalid amount: 400000.001 has more than two decimals",
                line_of("annual_fund_cap = \"400000\"")
            ),
        ),
        (
            broken("admdvs = \"330200\"", "admdvs = \"33020\""),
            format!(
                "seed.toml:{}: scope[1].admdvs: invalid region code: \"33020\" is not 6 digits",
                line_of("admdvs = \"330200\"")
            ),
        ),
        (
            broken("deductible_rule = \"per-admission\"", "deductible_rule = \"per-visit\""),
            format!(
                "seed.toml:{}: scheme[0].inpatient.deductible_rule: \"per-visit\" is not \"per-admission\" or \"annual-highest-level\"",
                line_of("deductible_rule = \"per-admission\"")
            ),
        ),
        (
            broken("retiree_bonus = \"0.05\"", "retiree_bonus = \"0.05\"\nbonus_typo = \"1\""),
            format!(
                "seed.toml:{}: bonus_typo: unknown field `bonus_typo`, expected one of `med_types`, `deductible`, `deductible_rule`, `repeat_admission_factor`, `fund_share`, `retiree_bonus`",
                line_of("retiree_bonus = \"0.05\"") + 1
            ),
        ),
        (
            broken("med_types = [\"21\", \"24\"]", "med_types = [\"21\", \"11\"]"),
            format!(
                "seed.toml:{}: scheme[0].inpatient.med_types: medical type 11 is already priced by another rule of this scheme",
                line_of("med_types = [\"21\", \"24\"]")
            ),
        ),
        (
            broken("med_types = [\"11\", \"13\", \"14\", \"21\", \"24\"]", "med_types = [\"11\", \"52\"]"),
            format!(
                "seed.toml:{}: scheme[0].civil_servant_subsidy.med_types: medical type 52 is not priced by any rule of this scheme",
                line_of("med_types = [\"11\", \"13\", \"14\", \"21\", \"24\"]")
            ),
        ),
        (
            broken("annual_cap = \"30000\"", "annual_cap = \"0\""),
            format!(
                "seed.toml:{}: scheme[0].civil_servant_subsidy.annual_cap: must be above zero",
                line_of("annual_cap = \"30000\"")
            ),
        ),
    ];
    for (actual, expected) in cases {
        assert_eq!(actual, expected);
    }
}

#[test]
fn missing_fields_and_syntax_errors_are_located() {
    let missing = broken("source = \"seeds 000 and 004; reference/policy.md, seed policy parameters\"\n", "");
    assert!(missing.starts_with("seed.toml:"), "{missing}");
    assert!(missing.contains(": source: missing field `source`"), "{missing}");
    let syntax = broken("[[scheme]]", "[[scheme]");
    assert!(syntax.starts_with(&format!("seed.toml:{}:", line_of("[[scheme]]"))), "{syntax}");
}

#[test]
fn overlapping_date_ranges_for_one_region_are_refused() {
    let text = format!(
        "{SEED_POLICY_TOML}\n[[scope]]\nadmdvs = \"330100\"\ninsutypes = [\"390\"]\nbegin = \"2025-01-01\"\nend = \"2025-12-31\"\n"
    );
    let error = parse_policy("seed.toml", &text).unwrap_err();
    assert_eq!(error.field, "scope[2]");
    assert_eq!(error.problem, "overlaps scope[0] for region 330100 in the same dates");
    assert!(error.line > line_of("[emergency_admission]"));
    let inverted = broken("begin = \"2000-01-01\"", "begin = \"2000-01-01\"\nend = \"1999-12-31\"");
    assert!(inverted.ends_with("scope[0].end: 1999-12-31 is before begin 2000-01-01"), "{inverted}");
}

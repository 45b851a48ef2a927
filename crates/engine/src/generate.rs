//! Generated insured persons for benchmarks and load tests: deterministic (the `n`-th person is
//! always the same), valid (real GB 11643 check digits, unique ID numbers), and a realistic mix
//! of in-service employees, flexible employees, retirees and residents.

use yibao_domain::{Admdvs, Date, IdNumber, InsuranceType, Money, PersonType};

use crate::commands::{CreatePerson, Enrolment};
use crate::demo;

/// The address code generated ID numbers carry (no demo person uses it).
const ADDRESS_CODE: &str = "330199";

/// The `n`-th generated ID number (distinct for every `n` below 36 million).
pub fn id_number(n: u64) -> IdNumber {
    let born = Date::new(1950, 1, 1).expect("valid").plus_days(i64::try_from(n / 999).unwrap_or(0) % 20_000);
    let first_17 = format!("{ADDRESS_CODE}{}{:03}", born.to_string().replace('-', ""), n % 999 + 1);
    let text = format!("{first_17}{}", IdNumber::check_character(&first_17));
    text.parse().expect("a generated ID number is valid")
}

/// The employer of every generated in-service employee: the demo's first, which benchmarks load
/// before generating.
pub const EMPLOYER: &str = "E33010000001";

/// The `n`-th generated person of `admdvs`: seven in ten in-service employees of [`EMPLOYER`]
/// (bases from 4,000 to 20,000 yuan), one flexible employee (base 5,000), one retiree, one
/// resident adult.
pub fn person(n: u64, admdvs: &Admdvs, actor: &str) -> CreatePerson {
    let (insurance, person_type, base) = match n % 10 {
        0..=6 => (
            InsuranceType::EmployeeBasic,
            PersonType::EmployeeInService,
            Some(Money::yuan(4_000 + (n % 161) as i64 * 100)),
        ),
        7 => (InsuranceType::EmployeeBasic, PersonType::FlexibleInService, Some(Money::yuan(demo::FLEXIBLE_BASE))),
        8 => (InsuranceType::EmployeeBasic, PersonType::EmployeeRetired, None),
        _ => (InsuranceType::ResidentBasic, PersonType::ResidentAdult, None),
    };
    let employer = (person_type == PersonType::EmployeeInService).then(|| EMPLOYER.to_string());
    CreatePerson::new(
        Enrolment {
            id_number: id_number(n),
            name: format!("测试{n}"),
            admdvs: admdvs.clone(),
            insurance,
            person_type,
            employer,
            insured_since: None,
            ethnicity: None,
            custody_bank: demo::BANK.parse().expect("valid"),
            contribution_base: base,
        },
        crate::commands::PersonNumber::Next,
        Date::new(2020, 1, 1).expect("valid"),
        actor.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_id_numbers_are_valid_and_distinct() {
        let numbers: std::collections::HashSet<String> =
            (0..5_000).map(|n| id_number(n).expose().to_string()).collect();
        assert_eq!(numbers.len(), 5_000);
        assert_eq!(id_number(1_000_000).expose(), id_number(1_000_000).expose());
    }
}

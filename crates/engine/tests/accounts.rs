//! Money into personal accounts: the monthly allocation, once per person and month.

mod world;

use world::*;
use yibao_domain::Money;
use yibao_engine::Outcome;
use yibao_engine::commands::{AllocateMonth, AllocationSummary};

fn everyone() -> Vec<yibao_domain::PersonNo> {
    ["张伟", "李秀英", "王强", "刘芳", "陈军", "赵敏"].iter().map(|name| person(name)).collect()
}

fn allocate(world: &mut World, month: &str, persons: Vec<yibao_domain::PersonNo>) -> AllocationSummary {
    match world.exec(AllocateMonth { month: month.parse().unwrap(), persons, actor: "test".into() }).unwrap() {
        Outcome::Allocation(summary) => summary,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_demo_month_credits_exactly_the_seed_amounts_once() {
    let mut world = World::demo();
    let before: Vec<Money> =
        ["张伟", "李秀英", "王强", "刘芳", "陈军", "赵敏"].iter().map(|n| world.balance(n)).collect();
    let summary = allocate(&mut world, "2026-02", everyone());
    assert_eq!((summary.credited, summary.already, summary.not_eligible), (5, 0, 1));
    assert_eq!(summary.amount, yuan("495"));
    // In service 2% of the base (8000, 6000, 5000), retiree 100, flexible 15, resident nothing.
    let credits = ["160", "100", "15", "0", "120", "100"];
    for ((name, before), credit) in ["张伟", "李秀英", "王强", "刘芳", "陈军", "赵敏"].iter().zip(&before).zip(credits)
    {
        assert_eq!(world.balance(name), *before + yuan(credit), "{name}");
    }
    let again = allocate(&mut world, "2026-02", everyone());
    assert_eq!((again.credited, again.already, again.amount), (0, 5, Money::ZERO));
    world.check_invariants();
}

#[test]
fn an_interrupted_run_continues_without_crediting_anyone_twice() {
    let mut world = World::demo();
    let total_before: Money = ["张伟", "李秀英", "王强", "陈军", "赵敏"].iter().map(|n| world.balance(n)).sum();
    // The first batch got through, then the run died.
    allocate(&mut world, "2026-02", everyone()[..2].to_vec());
    let resumed = allocate(&mut world, "2026-02", everyone());
    assert_eq!((resumed.credited, resumed.already), (3, 2));
    let total_after: Money = ["张伟", "李秀英", "王强", "陈军", "赵敏"].iter().map(|n| world.balance(n)).sum();
    assert_eq!(total_after - total_before, yuan("495"));
    // Another month is another credit; a month not yet begun is refused.
    assert_eq!(allocate(&mut world, "2026-01", everyone()).credited, 5);
    let future =
        world.exec(AllocateMonth { month: "2026-04".parse().unwrap(), persons: everyone(), actor: "t".into() });
    assert_eq!(future.unwrap_err().kind, yibao_engine::ErrorKind::Refused);
    world.check_invariants();
}

#[test]
fn year_end_rolls_the_current_year_into_prior_years_and_the_deductible_starts_afresh() {
    use yibao_engine::commands::CloseYear;
    use yibao_engine::records::VisitKind;
    let mut world = World::demo();
    allocate(&mut world, "2026-02", everyone());
    // An admission in 2026 pays the tertiary deductible (800); the second would pay half.
    world.now = "2026-06-01 09:00:00".parse().unwrap();
    let first = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &first, VisitKind::Inpatient, &[("DEMO-A-001", "2000.00", "1")]);
    world.discharge("张伟", TERTIARY, &first);
    let command = world.settle_command("张伟", TERTIARY, &first, VisitKind::Inpatient, false);
    let paid_2026 = world.settle(command).unwrap().settlement.change.deductible_paid();
    assert_eq!(paid_2026, yuan("800"));

    let before: Vec<Money> =
        ["张伟", "李秀英", "王强", "刘芳", "陈军", "赵敏"].iter().map(|n| world.balance(n)).collect();
    let early = world.exec(CloseYear { year: 2026, persons: everyone(), actor: "t".into() });
    assert_eq!(early.unwrap_err().kind, yibao_engine::ErrorKind::Refused, "2026 has not ended");
    world.now = "2027-01-01 00:30:00".parse().unwrap();
    let Outcome::Allocation(closed) =
        world.exec(CloseYear { year: 2026, persons: everyone(), actor: "t".into() }).unwrap()
    else {
        panic!()
    };
    assert_eq!(closed.credited, 5, "{closed:?}");
    let Outcome::Allocation(again) =
        world.exec(CloseYear { year: 2026, persons: everyone(), actor: "t".into() }).unwrap()
    else {
        panic!()
    };
    assert_eq!((again.credited, again.already), (0, 5));
    let after: Vec<Money> =
        ["张伟", "李秀英", "王强", "刘芳", "陈军", "赵敏"].iter().map(|n| world.balance(n)).collect();
    assert_eq!(before, after, "balances conserved");
    let psn = person("张伟");
    let current = world
        .db
        .accounts
        .get(&yibao_ledger::AccountKey::PersonalCurrent(psn.clone()))
        .map_or(Money::ZERO, |a| a.balance());
    assert_eq!(current, Money::ZERO, "everything moved to the prior-years part");

    // The new year's first admission pays the full deductible again.
    world.now = "2027-01-10 09:00:00".parse().unwrap();
    let next = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &next, VisitKind::Inpatient, &[("DEMO-A-001", "2000.00", "1")]);
    world.discharge("张伟", TERTIARY, &next);
    let command = world.settle_command("张伟", TERTIARY, &next, VisitKind::Inpatient, false);
    let outcome = world.settle(command).unwrap();
    assert_eq!(outcome.settlement.year, 2027);
    assert_eq!(outcome.settlement.change.deductible_paid(), yuan("800"));
    world.check_invariants();
}

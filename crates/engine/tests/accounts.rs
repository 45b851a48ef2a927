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
        .get::<Account>(&yibao_ledger::AccountKey::PersonalCurrent(psn.clone()))
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

fn contribute(
    world: &mut World,
    employer: Option<&str>,
    period: yibao_engine::commands::ContributionPeriod,
    entries: &[(&str, Option<&str>)],
) -> Result<yibao_engine::commands::ContributionSummary, yibao_engine::EngineError> {
    let command = yibao_engine::commands::PayContributions {
        employer: employer.map(str::to_string),
        period,
        entries: entries.iter().map(|(name, base)| (person(name), base.map(yuan))).collect(),
        actor: "test".into(),
    };
    world.exec(command).map(|outcome| match outcome {
        Outcome::Contributions(summary) => summary,
        other => panic!("{other:?}"),
    })
}

#[test]
fn contributions_go_to_the_pool_once_per_person_and_period() {
    use yibao_engine::ErrorKind;
    use yibao_engine::commands::ContributionPeriod::{Month, Year};
    use yibao_ledger::AccountKey;
    let mut world = World::demo();
    let pool = |world: &World, insurance: &str| {
        let key = AccountKey::PoolFund("330100".parse().unwrap(), insurance.parse().unwrap());
        world.db.get::<Account>(&key).map_or(Money::ZERO, |a| a.balance())
    };
    let (pool_310, pool_390) = (pool(&world, "310"), pool(&world, "390"));
    // The demo paid the months around its load (2025-03 to 2027-02): March 2027 is paid ahead.
    let month = Month("2027-03".parse().unwrap());

    // The employer declares 张伟's base (8,000 registered; 9,000 declared for the month) and
    // 赵敏's registered one: employer 9% to the pool, the employee's 2% recorded.
    let paid = contribute(&mut world, Some("E33010000001"), month, &[("张伟", Some("9000")), ("赵敏", None)]).unwrap();
    assert_eq!(paid.paid.len(), 2);
    assert_eq!((paid.paid[0].pooled, paid.paid[0].employee), (yuan("810"), yuan("180")));
    let zhao_base = paid.paid[1].base.unwrap();
    assert_eq!(paid.total, yuan("990") + zhao_base.times("0.11".parse().unwrap()));
    assert_eq!(pool(&world, "310"), pool_310 + yuan("810") + paid.paid[1].pooled);
    let again = contribute(&mut world, Some("E33010000001"), month, &[("张伟", Some("9000"))]).unwrap();
    assert_eq!((again.paid.len(), again.already.len(), again.total), (0, 1, Money::ZERO));

    // Flexible employees and residents pay their own; residents per insurance year.
    let flexible = contribute(&mut world, None, month, &[("王强", Some("5000"))]).unwrap();
    assert_eq!(flexible.total, yuan("550"));
    // The demo paid 刘芳's 2026 and 2027; 2025 is a back payment.
    let covered = contribute(&mut world, None, Year(2026), &[("刘芳", None)]).unwrap();
    assert_eq!((covered.total, covered.already.len()), (Money::ZERO, 1));
    let resident = contribute(&mut world, None, Year(2025), &[("刘芳", None)]).unwrap();
    assert_eq!(resident.total, yuan("400"));
    assert_eq!(pool(&world, "390"), pool_390 + yuan("400"));

    // Refusals store nothing: a whole declaration fails with one bad entry.
    let transfers = world.db.transfers.len();
    for (employer, period, entries, kind) in [
        (Some("E33010000001"), month, vec![("张伟", None), ("李秀英", None)], ErrorKind::Refused),
        (Some("E33020000001"), month, vec![("张伟", None)], ErrorKind::Refused),
        (None, month, vec![("张伟", None)], ErrorKind::Refused),
        (None, month, vec![("刘芳", None)], ErrorKind::Refused),
        (None, Year(2026), vec![("王强", Some("5000"))], ErrorKind::Refused),
        (None, month, vec![("王强", None)], ErrorKind::Invalid),
        (Some("E99"), month, vec![("张伟", None)], ErrorKind::NotFound),
        (Some("E33010000001"), month, vec![("赵敏", None), ("赵敏", None)], ErrorKind::Invalid),
    ] {
        let error = contribute(&mut world, employer, period, &entries).unwrap_err();
        assert_eq!(error.kind, kind, "{entries:?}: {error:?}");
    }
    assert_eq!(world.db.transfers.len(), transfers);
    world.check_invariants();
}

#[test]
fn a_resident_is_covered_only_for_paid_insurance_years() {
    use yibao_engine::commands::ContributionPeriod::Year;
    use yibao_engine::records::VisitKind;
    let mut world = World::demo();
    // The demo paid 2026 and 2027; in 2028 刘芳 is not covered until she pays.
    world.now = "2028-02-01 09:00:00".parse().unwrap();
    let visit = world.register("刘芳", COMMUNITY, "11");
    world.upload("刘芳", COMMUNITY, &visit, VisitKind::Outpatient, &[("DEMO-A-002", "80.00", "1")]);
    let command = world.settle_command("刘芳", COMMUNITY, &visit, VisitKind::Outpatient, false);
    let refused = world.settle(command.clone()).unwrap_err();
    assert_eq!(refused.kind, yibao_engine::ErrorKind::Refused);
    assert!(
        matches!(refused.refusal.as_deref(), Some(yibao_engine::Refusal::ResidentYearUnpaid { year: 2028, .. })),
        "{refused:?}"
    );
    contribute(&mut world, None, Year(2028), &[("刘芳", None)]).unwrap();
    let command = world.settle_command("刘芳", COMMUNITY, &visit, VisitKind::Outpatient, false);
    let settled = world.settle(command).unwrap();
    assert!(settled.settlement.amounts.fund.is_positive());
    world.check_invariants();
}

#[test]
fn a_month_is_credited_only_after_it_ends_and_only_when_its_contribution_is_paid() {
    use yibao_engine::commands::ContributionPeriod::Month;
    use yibao_engine::commands::SkipReason;
    use yibao_engine::records::WithheldCredit;
    let mut world = World::demo();
    // A month is credited after its last day, never during it.
    world.now = "2026-03-31 23:00:00".parse().unwrap();
    let during =
        world.exec(AllocateMonth { month: "2026-03".parse().unwrap(), persons: everyone(), actor: "t".into() });
    assert_eq!(during.unwrap_err().kind, yibao_engine::ErrorKind::Refused);

    // The demo paid its employees' months up to February 2027; March 2027 nobody paid.
    world.now = "2027-04-02 09:00:00".parse().unwrap();
    let balances = |world: &World| -> Vec<Money> {
        ["张伟", "李秀英", "王强", "刘芳", "陈军", "赵敏"].iter().map(|n| world.balance(n)).collect()
    };
    let start = balances(&world);
    let march = allocate(&mut world, "2027-03", everyone());
    // Only the retiree (from the pool, no contribution) is credited; the four employees are
    // withheld and named with the reason; the resident has nothing due and is not listed.
    assert_eq!((march.credited, march.amount, march.unpaid, march.not_eligible), (1, yuan("100"), 4, 5));
    let listed: Vec<_> = march.skipped.iter().map(|s| (s.psn_no.clone(), s.reason)).collect();
    let unpaid = |name: &str| (person(name), SkipReason::ContributionUnpaid);
    assert_eq!(listed, [unpaid("张伟"), unpaid("王强"), unpaid("陈军"), unpaid("赵敏")]);
    let withheld = world.db.get::<WithheldCredit>(&(person("张伟"), "2027-03".parse().unwrap())).unwrap();
    assert_eq!(withheld.credited_at, None);
    let after_run = balances(&world);
    assert_eq!(after_run[1], start[1] + yuan("100"));
    assert_eq!((after_run[0], after_run[2], after_run[5]), (start[0], start[2], start[5]));

    // The employer pays March late (补缴) for 张伟: the withheld month is credited at once.
    let month = Month("2027-03".parse().unwrap());
    let paid = contribute(&mut world, Some("E33010000001"), month, &[("张伟", None)]).unwrap();
    assert_eq!(paid.arrears_credited, [(person("张伟"), "2027-03".parse().unwrap(), yuan("160"))]);
    assert_eq!(world.balance("张伟"), start[0] + yuan("160"));
    let withheld = world.db.get::<WithheldCredit>(&(person("张伟"), "2027-03".parse().unwrap())).unwrap();
    assert_eq!(withheld.credited_at, Some(world.now));
    // Running the allocation again credits nobody twice; the unpaid stay withheld.
    let again = allocate(&mut world, "2027-03", everyone());
    assert_eq!((again.credited, again.already, again.unpaid), (0, 2, 3));
    assert_eq!(world.balance("张伟"), start[0] + yuan("160"));
    // Paying again pays nothing and credits nothing.
    let twice = contribute(&mut world, Some("E33010000001"), month, &[("张伟", None)]).unwrap();
    assert_eq!((twice.already.len(), twice.arrears_credited.len()), (1, 0));
    assert_eq!(world.balance("张伟"), start[0] + yuan("160"));

    // A month paid late but before its allocation ran is credited by the allocation, not by
    // the payment.
    world.now = "2027-05-03 09:00:00".parse().unwrap();
    let april = Month("2027-04".parse().unwrap());
    let on_time = contribute(&mut world, None, april, &[("王强", Some("5000"))]).unwrap();
    assert!(on_time.arrears_credited.is_empty());
    assert_eq!(world.balance("王强"), start[2]);
    let run = allocate(&mut world, "2027-04", vec![person("王强")]);
    assert_eq!((run.credited, run.amount), (1, yuan("15")));
    world.check_invariants();
}

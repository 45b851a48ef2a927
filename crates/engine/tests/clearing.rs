//! Clearing: institutions are paid for ended days once; what one region owes another for its
//! insured persons treated there is recorded on both sides and settled once.

mod world;

use world::*;
use yibao_domain::Money;
use yibao_engine::commands::{ClearingSummary, PayInstitution, PayInterRegion};
use yibao_engine::records::VisitKind;
use yibao_engine::{ErrorKind, Outcome};
use yibao_ledger::AccountKey;

fn outpatient(world: &mut World, name: &str, institution: &str, price: &str) -> yibao_domain::SetlId {
    let visit = world.register(name, institution, "11");
    world.upload(name, institution, &visit, VisitKind::Outpatient, &[("DEMO-A-002", price, "1")]);
    let command = world.settle_command(name, institution, &visit, VisitKind::Outpatient, true);
    world.settle(command).unwrap().settlement.setl_id
}

fn pay(
    world: &mut World,
    institution: &str,
    from: &str,
    to: &str,
) -> Result<ClearingSummary, yibao_engine::EngineError> {
    let command = PayInstitution {
        institution: institution.parse().unwrap(),
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
        actor: "test".into(),
    };
    world.exec(command).map(|outcome| match outcome {
        Outcome::Clearing(summary) => summary,
        other => panic!("{other:?}"),
    })
}

fn balance(world: &World, key: &AccountKey) -> Money {
    world.db.get::<Account>(key).map_or(Money::ZERO, |a| a.balance())
}

#[test]
fn an_institution_is_paid_for_ended_days_once_and_its_payable_is_then_zero() {
    let mut world = World::demo();
    let kept = outpatient(&mut world, "张伟", TERTIARY, "300.00");
    let cancelled = outpatient(&mut world, "李秀英", TERTIARY, "500.00");
    outpatient(&mut world, "王强", TERTIARY, "80.00");
    world.cancel("李秀英", TERTIARY, &cancelled).unwrap();
    let owed = world.payable(TERTIARY);
    assert!(owed.is_positive());
    let today = pay(&mut world, TERTIARY, "2026-03-02", "2026-03-02").unwrap_err();
    assert_eq!(today.kind, ErrorKind::Refused, "the day has not ended: {today:?}");

    world.now = "2026-03-03 08:00:00".parse().unwrap();
    let paid = pay(&mut world, TERTIARY, "2026-03-01", "2026-03-02").unwrap();
    assert_eq!(paid.amount, owed);
    assert_eq!(paid.paid.len(), 1);
    assert_eq!(paid.paid[0].count, 4, "three settlements (one now cancelled) and the cancelling mirror");
    assert_eq!(world.payable(TERTIARY), Money::ZERO);
    let again = pay(&mut world, TERTIARY, "2026-03-02", "2026-03-02").unwrap();
    assert_eq!((again.amount, again.already.len()), (Money::ZERO, 1));

    // Cancelling a paid settlement the next day: that day nets below zero, and paying it
    // takes the money back.
    world.cancel("张伟", TERTIARY, &kept).unwrap();
    let refund = world.payable(TERTIARY);
    assert!(refund.is_negative());
    world.now = "2026-03-04 08:00:00".parse().unwrap();
    let back = pay(&mut world, TERTIARY, "2026-03-03", "2026-03-03").unwrap();
    assert_eq!(back.amount, refund);
    assert_eq!(world.payable(TERTIARY), Money::ZERO);
    world.check_invariants();
}

#[test]
fn cross_region_treatment_is_owed_by_the_insured_region_and_settled_once() {
    let mut world = World::demo();
    // The fund banks hold what the demo paid in (its resident's contributions).
    let bank = |world: &World, region: &str| balance(world, &AccountKey::FundBank(region.parse().unwrap()));
    let (ningbo, hangzhou) = (bank(&world, "330200"), bank(&world, "330100"));
    // 陈军 is insured in 330200 and treated at a 330100 hospital.
    let setl_id = outpatient(&mut world, "陈军", TERTIARY, "400.00");
    let settlement = world.db.get::<Settlement>(&setl_id).unwrap();
    assert!(settlement.is_cross_region());
    let owed = settlement.amounts.fund + settlement.amounts.account();
    let (insured, treated) = ("330200".parse().unwrap(), "330100".parse().unwrap());
    let payable =
        AccountKey::InterRegionPayable { debtor: "330200".parse().unwrap(), creditor: "330100".parse().unwrap() };
    let receivable =
        AccountKey::InterRegionReceivable { creditor: "330100".parse().unwrap(), debtor: "330200".parse().unwrap() };
    assert_eq!(balance(&world, &payable), owed);
    assert_eq!(balance(&world, &receivable), owed);
    assert_eq!(world.payable(TERTIARY), owed, "the treating region pays its institution");

    world.now = "2026-03-03 08:00:00".parse().unwrap();
    let command = PayInterRegion {
        insured,
        treated,
        from: "2026-03-02".parse().unwrap(),
        to: "2026-03-02".parse().unwrap(),
        actor: "t".into(),
    };
    let Outcome::Clearing(paid) = world.exec(command.clone()).unwrap() else { panic!() };
    assert_eq!(paid.amount, owed);
    assert_eq!(balance(&world, &payable), Money::ZERO);
    assert_eq!(balance(&world, &receivable), Money::ZERO);
    assert_eq!(bank(&world, "330200"), ningbo - owed);
    assert_eq!(bank(&world, "330100"), hangzhou + owed);
    let Outcome::Clearing(again) = world.exec(command).unwrap() else { panic!() };
    assert_eq!((again.amount, again.already.len()), (Money::ZERO, 1));

    pay(&mut world, TERTIARY, "2026-03-02", "2026-03-02").unwrap();
    assert_eq!(world.payable(TERTIARY), Money::ZERO);
    assert_eq!(bank(&world, "330100"), hangzhou);
    world.check_invariants();
}

#[test]
fn a_period_that_is_too_long_or_backwards_is_refused() {
    let mut world = World::demo();
    world.now = "2027-06-01 08:00:00".parse().unwrap();
    assert_eq!(pay(&mut world, TERTIARY, "2026-03-02", "2026-03-01").unwrap_err().kind, ErrorKind::Invalid);
    assert_eq!(pay(&mut world, TERTIARY, "2026-01-01", "2027-01-31").unwrap_err().kind, ErrorKind::Invalid);
    assert_eq!(pay(&mut world, "H99999999999", "2026-01-01", "2026-01-31").unwrap_err().kind, ErrorKind::NotFound);
}

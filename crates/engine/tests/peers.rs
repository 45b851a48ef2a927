//! Cross-region treatment across two deployments, in memory: 330200's deployment insures
//! 陈军, 330100's treats him. Each posts its half; nothing is paid twice; only the insured side
//! can undo its payment.

mod world;

use world::*;
use yibao_domain::Money;
use yibao_engine::commands::{
    CancelSettlement, PayInstitution, PayInterRegion, PeerSettle, RecordPeerCancellation, RecordPeerSettlement,
    RegisterGuest,
};
use yibao_engine::records::VisitKind;
use yibao_engine::{ErrorKind, Outcome};
use yibao_ledger::AccountKey;

fn balance(world: &World, key: &AccountKey) -> Money {
    world.db.get::<Account>(key).map_or(Money::ZERO, |a| a.balance())
}

#[test]
fn each_side_posts_its_half_and_only_the_insured_side_undoes_a_payment() {
    let mut ningbo = World::demo_region("330200");
    let mut hangzhou = World::demo_region("330100");
    let chen = person("陈军");
    let guest = ningbo.db.get::<Person>(&chen).unwrap();
    hangzhou.exec(RegisterGuest { person: guest }).unwrap();

    // The treating side keeps the visit and its lines.
    let visit = hangzhou.register("陈军", TERTIARY, "11");
    hangzhou.upload("陈军", TERTIARY, &visit, VisitKind::Outpatient, &[("DEMO-A-002", "260.00", "1")]);
    let command = hangzhou.settle_command("陈军", TERTIARY, &visit, VisitKind::Outpatient, true);
    let local = hangzhou.settle(command);
    assert_eq!(local.unwrap_err().kind, ErrorKind::Refused, "a guest is never priced here");

    let institution = hangzhou.db.get::<Institution>(&TERTIARY.parse().unwrap()).unwrap();
    let visit_row = hangzhou.db.get::<Visit>(&visit).unwrap();
    let lines: Vec<_> = hangzhou.db.all::<FeeLine>().into_iter().filter(|line| line.mdtrt_id == visit).collect();
    let peer_settle = |ningbo: &mut World, msgid: yibao_domain::MsgId| PeerSettle {
        institution: institution.clone(),
        visit: visit_row.clone(),
        lines: lines.clone(),
        settle: ningbo.settle_command("陈军", TERTIARY, &visit, VisitKind::Outpatient, true).request,
        msgid,
    };
    let command = peer_settle(&mut ningbo, "M1".parse().unwrap());
    let Outcome::Settlement(paid) = ningbo.exec(command).unwrap() else { panic!() };
    let settlement = paid.settlement.clone();
    assert!(settlement.setl_id.as_str().starts_with("330200"));
    let owed = settlement.amounts.fund + settlement.amounts.account();
    let payable =
        AccountKey::InterRegionPayable { debtor: "330200".parse().unwrap(), creditor: "330100".parse().unwrap() };
    let receivable =
        AccountKey::InterRegionReceivable { creditor: "330100".parse().unwrap(), debtor: "330200".parse().unwrap() };
    assert_eq!(balance(&ningbo, &payable), owed);
    assert_eq!(ningbo.payable(TERTIARY), Money::ZERO, "the insured side owes the region, not the hospital");

    // A second 2207 under another msgid, with the lines as the treating side still shows them:
    // nothing is left to pay.
    let command = peer_settle(&mut ningbo, "M2".parse().unwrap());
    let again = ningbo.exec(command).unwrap_err();
    assert_eq!(again.kind, ErrorKind::Refused, "{again:?}");

    let Outcome::Settlement(recorded) = hangzhou.exec(RecordPeerSettlement { settlement: settlement.clone() }).unwrap()
    else {
        panic!()
    };
    assert_eq!(recorded.settlement.setl_id, settlement.setl_id);
    assert_eq!(balance(&hangzhou, &receivable), owed);
    assert_eq!(hangzhou.payable(TERTIARY), owed, "the treating side owes its hospital");
    assert_eq!(balance(&hangzhou, &payable), Money::ZERO);

    // Only the insured side can undo its payment.
    let cancel = |msgid: &str| CancelSettlement {
        institution: TERTIARY.parse().unwrap(),
        psn_no: chen.clone(),
        setl_id: settlement.setl_id.clone(),
        mdtrt_id: None,
        kind: None,
        msgid: msgid.parse().unwrap(),
    };
    let refused = hangzhou.exec(cancel("C0")).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Refused, "{refused:?}");

    // Clearing: each side pays only its half.
    ningbo.now = "2026-03-03 08:00:00".parse().unwrap();
    hangzhou.now = "2026-03-03 08:00:00".parse().unwrap();
    let day = "2026-03-02".parse().unwrap();
    let pay_hospital = PayInstitution { institution: TERTIARY.parse().unwrap(), from: day, to: day, actor: "t".into() };
    let Outcome::Clearing(nothing) = ningbo.exec(pay_hospital.clone()).unwrap() else { panic!() };
    assert_eq!(nothing.amount, Money::ZERO, "the insured side never pays the peer's hospital");
    let Outcome::Clearing(hospital) = hangzhou.exec(pay_hospital).unwrap() else { panic!() };
    assert_eq!(hospital.amount, owed);
    let settle_regions = PayInterRegion {
        insured: "330200".parse().unwrap(),
        treated: "330100".parse().unwrap(),
        from: day,
        to: day,
        actor: "t".into(),
    };
    for world in [&mut ningbo, &mut hangzhou] {
        let Outcome::Clearing(regions) = world.exec(settle_regions.clone()).unwrap() else { panic!() };
        assert_eq!(regions.amount, owed);
        assert_eq!(balance(world, &payable), Money::ZERO);
        assert_eq!(balance(world, &receivable), Money::ZERO);
        world.check_invariants();
    }

    // A cancellation: the insured side first, then the treating side records the mirror.
    let Outcome::Settlement(undone) = ningbo.exec(cancel("C1")).unwrap() else { panic!() };
    hangzhou.exec(RecordPeerCancellation { mirror: undone.settlement.clone() }).unwrap();
    assert_eq!(balance(&ningbo, &payable), -owed, "the insured side is owed back what it paid over");
    assert_eq!(balance(&hangzhou, &receivable), -owed);
    assert_eq!(hangzhou.payable(TERTIARY), -owed, "the hospital owes back what it was paid");
    ningbo.check_invariants();
    hangzhou.check_invariants();
}

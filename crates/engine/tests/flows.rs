//! Settlement flows on the demo data, end to end through the engine's commands.

mod world;

use proptest::prelude::*;
use world::*;
use yibao_domain::{CertType, Money};
use yibao_engine::commands::{RegisterDisease, Reverse, UploadLines};
use yibao_engine::records::{Certificate, LineState, SettlementStatus, VisitKind};
use yibao_engine::{Envelope, ErrorKind, Outcome, Refusal, Reply, Submission};

#[test]
fn worked_example_employee_outpatient() {
    let mut world = World::demo();
    let visit = world.register("张伟", TERTIARY, "11");
    world.upload(
        "张伟",
        TERTIARY,
        &visit,
        VisitKind::Outpatient,
        &[("DEMO-A-001", "50", "1"), ("DEMO-B-001", "100", "1"), ("DEMO-C-001", "20", "1")],
    );
    let command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Outpatient, true);
    let pre = world.dry(command.clone()).unwrap();
    let Outcome::Settlement(settled) = world.exec(command).unwrap() else { panic!() };
    let Outcome::Settlement(pre) = pre else { panic!() };
    assert_eq!(pre.settlement.amounts, settled.settlement.amounts, "pre-settlement equals settlement");
    let a = settled.settlement.amounts;
    assert_eq!(
        [a.medfee, a.fully_selfpaid, a.first_selfpay, a.in_scope, a.fund, a.account(), a.cash],
        ["170", "20", "10", "140", "0", "170", "0"].map(yuan)
    );
    assert_eq!(settled.settlement.balance_after, yuan("830"));
    assert_eq!(world.balance("张伟"), yuan("830"));
    assert_eq!(world.payable(TERTIARY), yuan("170"));
    world.check_invariants();
}

#[test]
fn pre_settlement_changes_nothing() {
    let mut world = World::demo();
    let visit = world.register("张伟", TERTIARY, "11");
    world.upload("张伟", TERTIARY, &visit, VisitKind::Outpatient, &[("DEMO-A-001", "50", "1")]);
    let before = format!("{:?}", world.db);
    let command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Outpatient, true);
    world.dry(command).unwrap();
    assert_eq!(format!("{:?}", world.db), before);
}

#[test]
fn worked_example_resident_band_across_visits() {
    let mut world = World::demo();
    let first = world.register("刘芳", COMMUNITY, "11");
    world.upload("刘芳", COMMUNITY, &first, VisitKind::Outpatient, &[("DEMO-A-002", "80", "1")]);
    let command = world.settle_command("刘芳", COMMUNITY, &first, VisitKind::Outpatient, true);
    let settled = world.settle(command).unwrap().settlement;
    assert_eq!((settled.amounts.fund, settled.amounts.cash), (yuan("24"), yuan("56")));
    let second = world.register("刘芳", COMMUNITY, "11");
    world.upload("刘芳", COMMUNITY, &second, VisitKind::Outpatient, &[("DEMO-A-002", "50", "1")]);
    let command = world.settle_command("刘芳", COMMUNITY, &second, VisitKind::Outpatient, true);
    let settled = world.settle(command).unwrap().settlement;
    assert_eq!((settled.amounts.fund, settled.amounts.cash), (yuan("6"), yuan("44")));
    world.check_invariants();
}

#[test]
fn inpatient_first_and_second_admission() {
    let mut world = World::demo();
    let first = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &first, VisitKind::Inpatient, &[("DEMO-A-003", "10000", "1")]);
    let command = world.settle_command("张伟", TERTIARY, &first, VisitKind::Inpatient, false);
    let error = world.settle(command.clone()).unwrap_err();
    assert!(matches!(error.refusal.as_deref(), Some(Refusal::NotDischarged { .. })), "{error:?}");
    world.discharge("张伟", TERTIARY, &first);
    let settled = world.settle(command).unwrap().settlement;
    assert_eq!(
        [settled.amounts.deductible, settled.amounts.fund, settled.amounts.cash],
        ["800", "7820", "2180"].map(yuan)
    );
    let second = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &second, VisitKind::Inpatient, &[("DEMO-A-003", "10000", "1")]);
    world.discharge("张伟", TERTIARY, &second);
    let command = world.settle_command("张伟", TERTIARY, &second, VisitKind::Inpatient, true);
    let settled = world.settle(command).unwrap().settlement;
    assert_eq!(
        [settled.amounts.deductible, settled.amounts.fund, settled.amounts.account(), settled.amounts.cash],
        ["400", "8160", "1000", "840"].map(yuan)
    );
    assert_eq!(world.db.accumulators[&(person("张伟"), 2026)].admissions, 2);
    world.check_invariants();
}

#[test]
fn cancel_restores_every_balance_and_accumulator() {
    let mut world = World::demo();
    let before_balances = balances(&world);
    let visit = world.admit("李秀英", SECONDARY);
    world.upload(
        "李秀英",
        SECONDARY,
        &visit,
        VisitKind::Inpatient,
        &[("DEMO-A-003", "3000", "1"), ("DEMO-B-002", "120", "2")],
    );
    world.discharge("李秀英", SECONDARY, &visit);
    let command = world.settle_command("李秀英", SECONDARY, &visit, VisitKind::Inpatient, true);
    let settled = world.settle(command).unwrap().settlement;
    assert!(settled.amounts.fund.is_positive());
    let cancelled = world.cancel("李秀英", SECONDARY, &settled.setl_id).unwrap();
    assert_eq!(cancelled.settlement.amounts, settled.amounts.negated());
    assert_eq!(cancelled.settlement.status, SettlementStatus::Mirror { of: settled.setl_id.clone() });
    assert_eq!(balances(&world), before_balances);
    assert!(world.db.accumulators.values().all(|a| *a == Default::default()));
    for line in world.db.all::<FeeLine>() {
        assert_eq!(
            line.state,
            LineState::Unsettled,
            "{} {} of {:?}",
            line.mdtrt_id,
            line.serial,
            world.db.table::<Settlement>().keys().collect::<Vec<_>>()
        );
    }
    let again = world.cancel("李秀英", SECONDARY, &settled.setl_id).unwrap_err();
    assert_eq!(again.kind, ErrorKind::Conflict);
    // Settling again after the cancellation gives the same amounts (the admission counts once).
    let command = world.settle_command("李秀英", SECONDARY, &visit, VisitKind::Inpatient, true);
    assert_eq!(world.settle(command).unwrap().settlement.amounts, settled.amounts);
    world.check_invariants();
}

/// Every account's balance: what a cancellation must restore (the posted totals grow).
/// Every account's balance; the regions' clearing accounts, opened by a first cross-region
/// settlement, count as unchanged while they stand at zero.
fn balances(world: &World) -> Vec<(String, Money)> {
    world
        .db
        .all::<Account>()
        .iter()
        .filter(|account| !(account.balance().is_zero() && account.key.to_string().starts_with("inter-region")))
        .map(|account| (account.key.to_string(), account.balance()))
        .collect()
}

#[test]
fn mid_stay_then_final_settlement_and_cancel_order() {
    let mut world = World::demo();
    let visit = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &visit, VisitKind::Inpatient, &[("DEMO-A-003", "500", "1")]);
    let mut mid = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Inpatient, false);
    mid.request.mid_stay = true;
    let first = world.settle(mid).unwrap().settlement;
    assert_eq!([first.amounts.deductible, first.amounts.fund], ["500", "0"].map(yuan));
    world.upload("张伟", TERTIARY, &visit, VisitKind::Inpatient, &[("DEMO-A-003", "1000", "1")]);
    world.discharge("张伟", TERTIARY, &visit);
    let command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Inpatient, false);
    let last = world.settle(command).unwrap().settlement;
    assert_eq!([last.amounts.deductible, last.amounts.fund], ["300", "595"].map(yuan));
    assert_eq!(world.db.accumulators[&(person("张伟"), 2026)].admissions, 1);
    let refused = world.cancel("张伟", TERTIARY, &first.setl_id).unwrap_err();
    assert!(matches!(refused.refusal.as_deref(), Some(Refusal::LaterSettlement { .. })), "{refused:?}");
    world.cancel("张伟", TERTIARY, &last.setl_id).unwrap();
    world.cancel("张伟", TERTIARY, &first.setl_id).unwrap();
    assert_eq!(world.db.accumulators[&(person("张伟"), 2026)], Default::default());
    world.check_invariants();
}

#[test]
fn refund_lines_net_out_and_cannot_exceed_the_sale() {
    let mut world = World::demo();
    let visit = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &visit, VisitKind::Inpatient, &[("DEMO-A-003", "100", "10")]);
    let sale = world.db.all::<FeeLine>()[0].serial.clone();
    let mut refund = world.lines(&[("DEMO-A-003", "100", "-3")]);
    refund[0].refund_of = Some(sale.clone());
    world
        .exec(UploadLines {
            institution: TERTIARY.parse().unwrap(),
            psn_no: person("张伟"),
            mdtrt_id: visit.clone(),
            kind: Some(VisitKind::Inpatient),
            lines: refund,
        })
        .unwrap();
    let mut too_much = world.lines(&[("DEMO-A-003", "100", "-8")]);
    too_much[0].refund_of = Some(sale);
    let error = world
        .exec(UploadLines {
            institution: TERTIARY.parse().unwrap(),
            psn_no: person("张伟"),
            mdtrt_id: visit.clone(),
            kind: Some(VisitKind::Inpatient),
            lines: too_much,
        })
        .unwrap_err();
    assert!(matches!(error.refusal.as_deref(), Some(Refusal::RefundExceedsLine { line: 1, .. })), "{error:?}");
    world.discharge("张伟", TERTIARY, &visit);
    let command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Inpatient, false);
    let settled = world.settle(command).unwrap().settlement;
    assert_eq!(settled.amounts.medfee, yuan("700"));
    world.check_invariants();
}

#[test]
fn emergency_within_seven_days_is_folded_into_the_admission() {
    let mut world = World::demo();
    world.now = "2026-03-02 22:00:00".parse().unwrap();
    let emergency = world.register("张伟", TERTIARY, "13");
    world.upload("张伟", TERTIARY, &emergency, VisitKind::Outpatient, &[("DEMO-A-001", "200", "1")]);
    let command = world.settle_command("张伟", TERTIARY, &emergency, VisitKind::Outpatient, true);
    let emergency_settlement = world.settle(command).unwrap().settlement;
    assert_eq!(world.balance("张伟"), yuan("800"));
    world.now = "2026-03-05 10:00:00".parse().unwrap();
    let admission = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &admission, VisitKind::Inpatient, &[("DEMO-A-003", "10000", "1")]);
    world.discharge("张伟", TERTIARY, &admission);
    // The settlement finds the emergency visit itself.
    let command = world.settle_command("张伟", TERTIARY, &admission, VisitKind::Inpatient, false);
    let pre = world.dry(command.clone()).unwrap();
    let settled = world.settle(command).unwrap().settlement;
    let Outcome::Settlement(pre) = pre else { panic!() };
    assert_eq!(pre.settlement.amounts, settled.amounts);
    assert_eq!(
        [settled.amounts.medfee, settled.amounts.deductible, settled.amounts.fund, settled.amounts.cash],
        ["10200", "800", "7990", "2210"].map(yuan)
    );
    assert_eq!(settled.folded, vec![emergency_settlement.setl_id.clone()]);
    assert!(matches!(
        world.db.get::<Settlement>(&emergency_settlement.setl_id).unwrap().status,
        SettlementStatus::Cancelled { .. }
    ));
    assert_eq!(world.balance("张伟"), yuan("1000"), "the emergency account payment was returned");
    assert_eq!(world.payable(TERTIARY), yuan("7990"));
    world.check_invariants();
}

#[test]
fn emergency_outside_the_window_or_elsewhere_is_not_folded() {
    let mut world = World::demo();
    world.now = "2026-03-01 22:00:00".parse().unwrap();
    let old = world.register("张伟", TERTIARY, "13");
    world.upload("张伟", TERTIARY, &old, VisitKind::Outpatient, &[("DEMO-A-001", "200", "1")]);
    let command = world.settle_command("张伟", TERTIARY, &old, VisitKind::Outpatient, false);
    world.settle(command).unwrap();
    // Emergency care within the window, but at another hospital.
    world.now = "2026-03-07 22:00:00".parse().unwrap();
    let elsewhere = world.register("张伟", SECONDARY, "13");
    world.upload("张伟", SECONDARY, &elsewhere, VisitKind::Outpatient, &[("DEMO-A-001", "100", "1")]);
    let command = world.settle_command("张伟", SECONDARY, &elsewhere, VisitKind::Outpatient, false);
    world.settle(command).unwrap();
    world.now = "2026-03-09 10:00:00".parse().unwrap();
    let admission = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &admission, VisitKind::Inpatient, &[("DEMO-A-003", "1000", "1")]);
    world.discharge("张伟", TERTIARY, &admission);
    let command = world.settle_command("张伟", TERTIARY, &admission, VisitKind::Inpatient, false);
    let settled = world.settle(command).unwrap().settlement;
    assert_eq!(settled.amounts.medfee, yuan("1000"));
    assert!(settled.folded.is_empty());
}

#[test]
fn pharmacy_purchase_and_cancel() {
    let mut world = World::demo();
    let purchase = world.purchase("王强", &[("DEMO-A-001", "30", "2"), ("DEMO-C-001", "15", "1")], true);
    let settled = world.settle_outcome(purchase);
    assert_eq!([settled.amounts.medfee, settled.amounts.account(), settled.amounts.cash], ["75", "45", "30"].map(yuan));
    assert_eq!(world.balance("王强"), Money::ZERO);
    world.cancel("王强", PHARMACY, &settled.setl_id).unwrap();
    assert_eq!(world.balance("王强"), yuan("45"));
    world.check_invariants();
}

impl World {
    fn settle_outcome(&mut self, command: yibao_engine::commands::Purchase) -> yibao_engine::records::Settlement {
        match self.exec(command).unwrap() {
            Outcome::Settlement(outcome) => outcome.settlement,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn special_outpatient_needs_a_registration() {
    let mut world = World::demo();
    let visit = world.register("张伟", TERTIARY, "14");
    world.upload("张伟", TERTIARY, &visit, VisitKind::Outpatient, &[("DEMO-A-004", "1000", "1")]);
    let command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Outpatient, false);
    let error = world.settle(command.clone()).unwrap_err();
    assert!(matches!(error.refusal.as_deref(), Some(Refusal::DiseaseNotRegistered { .. })), "{error:?}");
    let msgid = world.msgid();
    world
        .exec(RegisterDisease {
            institution: TERTIARY.parse().unwrap(),
            psn_no: person("张伟"),
            code: "M07800".into(),
            begin: "2026-01-01".parse().unwrap(),
            end: "2026-12-31".parse().unwrap(),
            msgid,
            agency: None,
        })
        .unwrap();
    world.set_diagnosis("张伟", TERTIARY, &visit, "M07800");
    let settled = world.settle(command).unwrap().settlement;
    assert_eq!([settled.amounts.deductible, settled.amounts.fund, settled.amounts.cash], ["0", "850", "150"].map(yuan));
}

fn envelope(msgid: &str, hash: &str) -> Envelope {
    Envelope {
        msgid: msgid.parse().unwrap(),
        institution: TERTIARY.parse().unwrap(),
        infno: "2207".into(),
        request_hash: hash.into(),
        reversible: true,
        render: Box::new(|outcome| format!("{:?}", outcome.effect()).into_bytes()),
    }
}

#[test]
fn a_msgid_settles_once_and_replays_its_response() {
    let mut world = World::demo();
    let visit = world.register("张伟", TERTIARY, "11");
    world.upload("张伟", TERTIARY, &visit, VisitKind::Outpatient, &[("DEMO-A-001", "50", "1")]);
    let command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Outpatient, true);
    let first =
        world.submit(Submission { envelope: Some(envelope("M1", "h")), command: Box::new(command.clone()) }).unwrap();
    let Reply::Done { body: Some(body), .. } = first else { panic!("{first:?}") };
    let settlements = world.db.all::<Settlement>().len();
    let replay =
        world.submit(Submission { envelope: Some(envelope("M1", "h")), command: Box::new(command.clone()) }).unwrap();
    assert_eq!(replay, Reply::Replayed(body));
    let changed =
        world.submit(Submission { envelope: Some(envelope("M1", "other")), command: Box::new(command) }).unwrap_err();
    assert_eq!(changed.kind, ErrorKind::Conflict);
    assert!(matches!(changed.refusal.as_deref(), Some(Refusal::MessageReused { .. })), "{changed:?}");
    assert_eq!(world.db.all::<Settlement>().len(), settlements);
    assert_eq!(world.balance("张伟"), yuan("950"));
}

#[test]
fn reversal_by_msgid_and_tombstones() {
    let mut world = World::demo();
    let visit = world.register("张伟", TERTIARY, "11");
    world.upload("张伟", TERTIARY, &visit, VisitKind::Outpatient, &[("DEMO-A-001", "50", "1")]);
    let command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Outpatient, true);
    world.submit(Submission { envelope: Some(envelope("S1", "h")), command: Box::new(command.clone()) }).unwrap();
    assert_eq!(world.balance("张伟"), yuan("950"));
    let reverse = |omsgid: &str, msgid: &str| Reverse {
        institution: TERTIARY.parse().unwrap(),
        psn_no: Some(person("张伟")),
        omsgid: omsgid.parse().unwrap(),
        oinfno: "2207".into(),
        msgid: msgid.parse().unwrap(),
    };
    world.exec(reverse("S1", "R1")).unwrap();
    assert_eq!(world.balance("张伟"), yuan("1000"));
    let twice = world.exec(reverse("S1", "R2")).unwrap_err();
    assert!(matches!(twice.refusal.as_deref(), Some(Refusal::AlreadyReversed { .. })), "{twice:?}");
    // A message reversed before it arrives is refused when it does.
    let Outcome::Reversed { .. } = world.exec(reverse("S9", "R3")).unwrap() else { panic!() };
    let late =
        world.submit(Submission { envelope: Some(envelope("S9", "h")), command: Box::new(command) }).unwrap_err();
    assert!(matches!(late.refusal.as_deref(), Some(Refusal::MessageReversed { .. })), "{late:?}");
    assert_eq!(world.balance("张伟"), yuan("1000"));
    world.check_invariants();
}

#[test]
fn certificates_must_name_the_person() {
    let mut world = World::demo();
    let mut details = world.details("张伟", TERTIARY, "11");
    details.certificate = Certificate { kind: CertType::IdNumber, number: "330106195207082342".into() };
    let error = world.exec(yibao_engine::commands::OpenVisit(details.clone())).unwrap_err();
    assert!(matches!(error.refusal.as_deref(), Some(Refusal::CertificateNotThePerson { .. })), "{error:?}");
    details.certificate = Certificate { kind: CertType::Card, number: "A10000001".into() };
    world.exec(yibao_engine::commands::OpenVisit(details)).unwrap();
}

/// One step of a random history: who (person index), where (hospital index), what kind
/// (outpatient, inpatient, pharmacy), which lines (item index, price in fen, count), whether
/// to use the account, and whether to cancel afterwards.
type Step = (usize, usize, u8, Vec<(usize, i64, i64)>, bool, bool);

fn history() -> impl Strategy<Value = Vec<Step>> {
    let line = (0..7usize, 1i64..300_000, 1i64..4);
    let step = (0..6usize, 0..3usize, 0u8..3, prop::collection::vec(line, 1..5), any::<bool>(), any::<bool>());
    prop::collection::vec(step, 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_keep_every_invariant(history in history()) {
        let mut world = World::demo();
        let codes = ["DEMO-A-001", "DEMO-A-002", "DEMO-A-003", "DEMO-B-001", "DEMO-B-002", "DEMO-C-001", "NOT-LISTED"];
        let names = ["张伟", "李秀英", "王强", "刘芳", "陈军", "赵敏"];
        let hospitals = [TERTIARY, SECONDARY, COMMUNITY];
        for (who, at, kind, lines, use_account, cancel) in history {
            let name = names[who];
            let items: Vec<(String, String, String)> = lines.iter()
                .map(|(code, fen, count)| (codes[*code].to_string(), Money::from_fen(*fen).to_string(), count.to_string()))
                .collect();
            let items: Vec<(&str, &str, &str)> = items.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
            let accounts_before = balances(&world);
            let accumulators_before = world.db.accumulators.clone();
            let settled = match kind {
                0 => {
                    let visit = world.register(name, hospitals[at], "11");
                    world.upload(name, hospitals[at], &visit, VisitKind::Outpatient, &items);
                    let command = world.settle_command(name, hospitals[at], &visit, VisitKind::Outpatient, use_account);
                    let pre = world.dry(command.clone()).unwrap();
                    let settled = world.settle(command).unwrap();
                    let Outcome::Settlement(pre) = pre else { panic!() };
                    prop_assert_eq!(pre.settlement.amounts, settled.settlement.amounts);
                    (settled.settlement, hospitals[at])
                }
                1 => {
                    let visit = world.admit(name, hospitals[at]);
                    world.upload(name, hospitals[at], &visit, VisitKind::Inpatient, &items);
                    world.discharge(name, hospitals[at], &visit);
                    let command = world.settle_command(name, hospitals[at], &visit, VisitKind::Inpatient, use_account);
                    (world.settle(command).unwrap().settlement, hospitals[at])
                }
                _ => {
                    let command = world.purchase(name, &items, use_account);
                    (world.settle_outcome(command), PHARMACY)
                }
            };
            let (settlement, institution) = settled;
            for part in [settlement.amounts.fund, settlement.amounts.account(), settlement.amounts.cash, settlement.amounts.deductible] {
                prop_assert!(!part.is_negative());
            }
            world.check_invariants();
            if cancel {
                world.cancel(name, institution, &settlement.setl_id).unwrap();
                prop_assert_eq!(balances(&world), accounts_before);
                let nonzero_before: Vec<_> = accumulators_before.iter().filter(|(_, a)| **a != Default::default()).collect();
                let nonzero_after: Vec<_> = world.db.accumulators.iter().filter(|(_, a)| **a != Default::default()).collect();
                prop_assert_eq!(nonzero_before, nonzero_after);
                world.check_invariants();
            }
        }
    }
}

#[test]
fn emergency_folded_at_mid_stay_is_not_folded_again_and_a_cancelled_emergency_never() {
    let mut world = World::demo();
    world.now = "2026-03-02 22:00:00".parse().unwrap();
    let emergency = world.register("张伟", TERTIARY, "13");
    world.upload("张伟", TERTIARY, &emergency, VisitKind::Outpatient, &[("DEMO-A-001", "200", "1")]);
    let command = world.settle_command("张伟", TERTIARY, &emergency, VisitKind::Outpatient, false);
    world.settle(command).unwrap();
    // A second emergency visit, registered and billed but cancelled: never folded.
    let cancelled = world.register("张伟", TERTIARY, "13");
    world.upload("张伟", TERTIARY, &cancelled, VisitKind::Outpatient, &[("DEMO-A-001", "70", "1")]);
    world
        .exec(yibao_engine::commands::CancelVisit {
            institution: TERTIARY.parse().unwrap(),
            psn_no: person("张伟"),
            mdtrt_id: cancelled.clone(),
            kind: Some(VisitKind::Outpatient),
        })
        .unwrap();
    world.now = "2026-03-05 10:00:00".parse().unwrap();
    let admission = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &admission, VisitKind::Inpatient, &[("DEMO-A-003", "1000", "1")]);
    let mut mid = world.settle_command("张伟", TERTIARY, &admission, VisitKind::Inpatient, false);
    mid.request.mid_stay = true;
    let first = world.settle(mid).unwrap().settlement;
    assert_eq!(first.amounts.medfee, yuan("1200"), "the emergency bill is folded into the first settlement");
    assert_eq!(first.folded.len(), 1);
    world.upload("张伟", TERTIARY, &admission, VisitKind::Inpatient, &[("DEMO-A-003", "500", "1")]);
    world.discharge("张伟", TERTIARY, &admission);
    let command = world.settle_command("张伟", TERTIARY, &admission, VisitKind::Inpatient, false);
    let last = world.settle(command).unwrap().settlement;
    assert_eq!(last.amounts.medfee, yuan("500"), "and not again into the final one");
    assert!(last.folded.is_empty());
    assert_eq!(world.db.get::<Visit>(&emergency).unwrap().folded_into.as_ref(), Some(&admission));
    assert_eq!(world.db.get::<Visit>(&cancelled).unwrap().folded_into, None);
    world.check_invariants();
}

#[test]
fn only_a_stay_is_settled_mid_stay() {
    let mut world = World::demo();
    let visit = world.register("张伟", TERTIARY, "11");
    world.upload("张伟", TERTIARY, &visit, VisitKind::Outpatient, &[("DEMO-A-001", "50", "1")]);
    let mut command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Outpatient, false);
    command.request.mid_stay = true;
    let refused = world.settle(command).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Invalid, "{refused:?}");
    assert!(matches!(refused.refusal.as_deref(), Some(Refusal::MidStayOfNonStay { .. })), "{}", refused.zh);
}

/// The writer runs many commands on one working set: an emergency visit opened and settled
/// earlier in the same batch is found by the admission's settlement (it is not in the store
/// yet), and one whose opening was refused and rolled back is not.
#[test]
fn an_emergency_visit_opened_earlier_in_the_same_batch_is_folded() {
    use yibao_engine::commands::{Admit, Discharge, OpenVisit};
    let mut world = World::demo();
    world.now = "2026-03-05 10:00:00".parse().unwrap();
    let (policies, catalogue) = (world.policies.clone(), world.catalogue.clone());
    let ctx = yibao_engine::Context { now: world.now, policies: &policies, catalogue: &catalogue };
    let emergency_details = world.details("张伟", TERTIARY, "13");
    let admission_details = world.details("张伟", TERTIARY, "21");
    let emergency_lines = world.lines(&[("DEMO-A-001", "200", "1")]);
    let stay_lines = world.lines(&[("DEMO-A-003", "1000", "1")]);
    let (emergency_msgid, stay_msgid) = (world.msgid(), world.msgid());
    let mut db = std::mem::take(&mut world.db);
    let changes = {
        let mut ws = yibao_engine::WorkingSet::new(&mut db);
        let mut exec = |command: Box<dyn yibao_engine::Command>| -> Result<Outcome, yibao_engine::EngineError> {
            match yibao_engine::run(&mut ws, &ctx, &Submission { envelope: None, command })? {
                Reply::Done { outcome, .. } => Ok(outcome),
                Reply::Replayed(_) => unreachable!("no envelope"),
            }
        };
        let Outcome::Visit(emergency) = exec(Box::new(OpenVisit(emergency_details))).unwrap() else { panic!() };
        let upload = |mdtrt_id: &yibao_domain::MdtrtId, kind, lines| UploadLines {
            institution: TERTIARY.parse().unwrap(),
            psn_no: person("张伟"),
            mdtrt_id: mdtrt_id.clone(),
            kind,
            lines,
        };
        exec(Box::new(upload(&emergency.mdtrt_id, Some(VisitKind::Outpatient), emergency_lines))).unwrap();
        let request = |mdtrt_id: &yibao_domain::MdtrtId, kind| yibao_engine::commands::SettleRequest {
            kind: Some(kind),
            ..yibao_engine::commands::SettleRequest::new(TERTIARY.parse().unwrap(), person("张伟"), mdtrt_id.clone())
        };
        let settle = |request, msgid| {
            Box::new(yibao_engine::commands::Settle::new(request, msgid, yibao_engine::commands::Treated::Here))
        };
        exec(settle(request(&emergency.mdtrt_id, VisitKind::Outpatient), emergency_msgid)).unwrap();
        // Refused (a person who does not exist) and rolled back: leaves nothing behind.
        let mut nobody = world.details("张伟", TERTIARY, "13");
        nobody.psn_no = "3301009999999999".parse().unwrap();
        assert!(exec(Box::new(OpenVisit(nobody))).is_err());
        let Outcome::Visit(stay) = exec(Box::new(Admit(admission_details))).unwrap() else { panic!() };
        exec(Box::new(upload(&stay.mdtrt_id, Some(VisitKind::Inpatient), stay_lines))).unwrap();
        exec(Box::new(Discharge {
            institution: TERTIARY.parse().unwrap(),
            psn_no: person("张伟"),
            mdtrt_id: stay.mdtrt_id.clone(),
            end: ctx.now,
            diagnosis_code: None,
            diagnosis_name: None,
            diagnoses: Vec::new(),
        }))
        .unwrap();
        let Outcome::Settlement(settled) =
            exec(settle(request(&stay.mdtrt_id, VisitKind::Inpatient), stay_msgid)).unwrap()
        else {
            panic!()
        };
        assert_eq!(settled.settlement.amounts.medfee, yuan("1200"), "the same batch's emergency bill is folded in");
        assert_eq!(settled.settlement.folded.len(), 1);
        ws.changes()
    };
    db.apply(changes);
    world.db = db;
    world.check_invariants();
}

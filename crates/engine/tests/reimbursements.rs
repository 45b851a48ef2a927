//! Manual reimbursement: priced as a real-time settlement of the same bill, reviewed by a second
//! operator, paid once; a bill a settlement already paid is refused.

mod world;

use world::*;
use yibao_domain::{InstitutionLevel, Money};
use yibao_engine::commands::{
    ProviderRef, ResubmitReimbursement, ReviewDecision, ReviewReimbursement, SubmitReimbursement,
};
use yibao_engine::records::{Amounts, Payee, Reimbursement, ReimbursementCause, ReimbursementState, VisitKind};
use yibao_engine::{EngineError, ErrorKind, Outcome};

fn bill(name: &str, provider: ProviderRef, med_type: &str, day: &str, items: &[(&str, &str)]) -> SubmitReimbursement {
    SubmitReimbursement {
        psn_no: person(name),
        provider,
        med_type: med_type.parse().unwrap(),
        begin: day.parse().unwrap(),
        end: day.parse().unwrap(),
        cause: ReimbursementCause::Emergency,
        lines: items
            .iter()
            .map(|(code, amount)| (code.to_string(), amount.parse().unwrap(), "1".parse().unwrap(), yuan(amount)))
            .collect(),
        use_account: true,
        payee: Payee {
            name: name.into(),
            bank: "中国银行杭州分行".into(),
            account: "6217000010009876543".into(),
            reference: None,
        },
        note: "外地急诊，医院未联网".into(),
        actor: "operator:clerk".into(),
    }
}

fn submitted(world: &mut World, command: SubmitReimbursement) -> Result<Reimbursement, EngineError> {
    world.exec(command).map(|outcome| match outcome {
        Outcome::Reimbursement(bill) => *bill,
        other => panic!("{other:?}"),
    })
}

fn decide(world: &mut World, id: &str, decision: ReviewDecision, by: &str) -> Result<Reimbursement, EngineError> {
    let command = ReviewReimbursement { id: id.into(), decision, reason: "票据齐全".into(), actor: by.into() };
    world.exec(command).map(|outcome| match outcome {
        Outcome::Reimbursement(bill) => *bill,
        other => panic!("{other:?}"),
    })
}

fn split(a: &Amounts) -> (Money, Money, Money, Money) {
    (a.medfee, a.fund, a.account(), a.cash)
}

/// The real-time settlement of the same inpatient bill at the tertiary hospital, in a world of
/// its own.
fn real_time_inpatient(amount: &str) -> Amounts {
    let mut world = World::demo();
    let visit = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &visit, VisitKind::Inpatient, &[("DEMO-A-001", amount, "1")]);
    world.discharge("张伟", TERTIARY, &visit);
    let command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Inpatient, true);
    world.settle(command).unwrap().settlement.amounts
}

#[test]
fn the_worked_inpatient_example_is_reimbursed_as_its_real_time_settlement_once_with_four_eyes() {
    let real_time = real_time_inpatient("10000.00");
    // policy.md: deductible 800, fund (10,000 − 800) × 85% = 7,820; the account pays 1,000.
    assert_eq!(split(&real_time), (yuan("10000"), yuan("7820"), yuan("1000"), yuan("1180")));

    let mut world = World::demo();
    let day = world.now.date().to_string();
    let elsewhere = ProviderRef::Other {
        name: "外省某县人民医院".into(),
        level: Some(InstitutionLevel::Tertiary),
        admdvs: "510100".parse().unwrap(),
    };
    let claim =
        submitted(&mut world, bill("张伟", elsewhere.clone(), "21", &day, &[("DEMO-A-001", "10000.00")])).unwrap();
    assert_eq!(claim.state, ReimbursementState::Submitted);
    assert_eq!(split(&claim.amounts), split(&real_time));
    assert_eq!(claim.amounts, real_time, "the same split, to the fen");
    assert!(!claim.steps.is_empty(), "explained step by step");
    // Nothing is paid on submission; the same bill cannot be claimed twice.
    assert_eq!(world.balance("张伟"), yuan("1000"));
    let twice = submitted(&mut world, bill("张伟", elsewhere, "21", &day, &[("DEMO-A-001", "10000.00")])).unwrap_err();
    assert_eq!(twice.kind, ErrorKind::Conflict);

    // The clerk cannot approve their own; the reviewer asks for documents, they come, approved.
    let own = decide(&mut world, &claim.id, ReviewDecision::Approve, "operator:clerk").unwrap_err();
    assert_eq!(own.kind, ErrorKind::Forbidden);
    let asked = decide(&mut world, &claim.id, ReviewDecision::RequestDocuments, "operator:reviewer").unwrap();
    assert!(matches!(asked.state, ReimbursementState::DocumentsRequested { .. }));
    let early = decide(&mut world, &claim.id, ReviewDecision::Approve, "operator:reviewer").unwrap_err();
    assert_eq!(early.kind, ErrorKind::Conflict, "not before the documents come");
    world
        .exec(ResubmitReimbursement {
            id: claim.id.clone(),
            note: "补交出院小结".into(),
            actor: "operator:clerk".into(),
        })
        .unwrap();
    let pool = yibao_ledger::AccountKey::PoolFund("330100".parse().unwrap(), "310".parse().unwrap());
    let pool_before = world.db.get::<yibao_ledger::Account>(&pool).unwrap().balance();
    let approved = decide(&mut world, &claim.id, ReviewDecision::Approve, "operator:reviewer").unwrap();
    assert!(matches!(approved.state, ReimbursementState::Approved { .. }));
    assert_eq!(approved.amounts, real_time);
    assert_eq!(world.balance("张伟"), Money::ZERO);
    let pool_after = world.db.get::<yibao_ledger::Account>(&pool).unwrap().balance();
    assert_eq!(pool_before - pool_after, yuan("7820"));
    let payable = yibao_ledger::AccountKey::BankPayable(yibao_engine::demo::BANK.parse().unwrap());
    assert_eq!(world.db.get::<yibao_ledger::Account>(&payable).unwrap().balance(), yuan("8820"));
    // Approved again: the same answer, paid once.
    let transfers = world.db.transfers.len();
    assert_eq!(decide(&mut world, &claim.id, ReviewDecision::Approve, "operator:reviewer").unwrap(), approved);
    assert_eq!(world.db.transfers.len(), transfers);

    // The accumulators moved as a settlement's do: a second admission pays half the deductible.
    let visit = world.admit("张伟", TERTIARY);
    world.upload("张伟", TERTIARY, &visit, VisitKind::Inpatient, &[("DEMO-A-001", "2000.00", "1")]);
    world.discharge("张伟", TERTIARY, &visit);
    let command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Inpatient, false);
    let second = world.settle(command).unwrap().settlement;
    assert_eq!(second.amounts.deductible, yuan("400"));
    world.check_invariants();
}

#[test]
fn the_worked_outpatient_example_matches_and_a_bill_settled_in_real_time_is_refused() {
    let mut world = World::demo();
    let items = [("DEMO-A-001", "50.00"), ("DEMO-B-001", "100.00"), ("DEMO-C-001", "20.00")];
    let day = world.now.date().to_string();
    // A non-networked clinic's bill, priced as policy.md's first example.
    let clinic = ProviderRef::Other {
        name: "某街道诊所".into(),
        level: Some(InstitutionLevel::Tertiary),
        admdvs: "330100".parse().unwrap(),
    };
    let claim = submitted(&mut world, bill("张伟", clinic, "11", &day, &items)).unwrap();
    let a = claim.amounts;
    assert_eq!(split(&a), (yuan("170"), Money::ZERO, yuan("170"), Money::ZERO));
    assert_eq!((a.fully_selfpaid, a.first_selfpay, a.in_scope), (yuan("20"), yuan("10"), yuan("140")));

    // The same bill settled at the tertiary hospital in real time cannot be reimbursed as well.
    let visit = world.register("张伟", TERTIARY, "11");
    world.upload(
        "张伟",
        TERTIARY,
        &visit,
        VisitKind::Outpatient,
        &[("DEMO-A-001", "50.00", "1"), ("DEMO-B-001", "100.00", "1"), ("DEMO-C-001", "20.00", "1")],
    );
    let command = world.settle_command("张伟", TERTIARY, &visit, VisitKind::Outpatient, true);
    let settled = world.settle(command).unwrap().settlement;
    let duplicate =
        submitted(&mut world, bill("张伟", ProviderRef::Designated(TERTIARY.parse().unwrap()), "11", &day, &items))
            .unwrap_err();
    assert_eq!(duplicate.kind, ErrorKind::Conflict);
    assert!(duplicate.zh.contains(settled.setl_id.as_str()), "{}", duplicate.zh);
    // Bad bills are refused plainly.
    let mut future = bill("张伟", ProviderRef::Designated(SECONDARY.parse().unwrap()), "11", "2026-03-03", &items);
    future.end = "2026-03-03".parse().unwrap();
    assert_eq!(submitted(&mut world, future).unwrap_err().kind, ErrorKind::Invalid);
    let mut empty = bill("张伟", ProviderRef::Designated(SECONDARY.parse().unwrap()), "11", &day, &items);
    empty.lines.clear();
    assert_eq!(submitted(&mut world, empty).unwrap_err().kind, ErrorKind::Invalid);
    let mut wrong = bill("张伟", ProviderRef::Designated(SECONDARY.parse().unwrap()), "11", &day, &items);
    wrong.lines[0].3 = yuan("49.00");
    assert_eq!(submitted(&mut world, wrong).unwrap_err().kind, ErrorKind::Invalid);
    world.check_invariants();
}

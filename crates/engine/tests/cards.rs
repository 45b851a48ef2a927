//! The card and the e-voucher through the engine's commands (R4, R5): every state transition
//! and every illegal one, replacement with money conservation, the 60-transaction rule, and the
//! single use of QR codes.

mod world;

use world::*;
use yibao_domain::{CardNo, CertType, Date, Money};
use yibao_engine::commands::{
    ActivateEVoucher, ApplicationStep, ApplyForCard, ChangeCardStatus, ConfirmClearing, ConfirmProofLetter,
    IssueQrCode, PrintStatement, ProduceCard, RecordApplicationStep, RedeemGrant, ReplaceCard, SuspendEVoucher,
    grant_hash, transition_allowed,
};
use yibao_engine::records::{CardStatus, Certificate, GrantKind, LossChannel, LossReport, ReplacementPath};
use yibao_engine::{ErrorKind, Outcome, Refusal};
use yibao_ledger::AccountKey;

fn card_no(text: &str) -> CardNo {
    text.parse().unwrap()
}

fn day(text: &str) -> Date {
    text.parse().unwrap()
}

/// The specification, written out as a table: the only allowed transitions.
const ALLOWED: [(CardStatus, CardStatus); 13] = [
    (CardStatus::Applied, CardStatus::Produced),
    (CardStatus::Applied, CardStatus::Cancelled),
    (CardStatus::Produced, CardStatus::Issued),
    (CardStatus::Produced, CardStatus::Cancelled),
    (CardStatus::Issued, CardStatus::Active),
    (CardStatus::Issued, CardStatus::Cancelled),
    (CardStatus::Active, CardStatus::Lost),
    (CardStatus::Active, CardStatus::Blocked),
    (CardStatus::Active, CardStatus::Cancelled),
    (CardStatus::Blocked, CardStatus::Active),
    (CardStatus::Blocked, CardStatus::Lost),
    (CardStatus::Blocked, CardStatus::Cancelled),
    (CardStatus::Lost, CardStatus::Replaced),
];

#[test]
fn the_transition_table_is_exactly_the_specification() {
    for from in CardStatus::ALL {
        for to in CardStatus::ALL {
            let specified = ALLOWED.contains(&(from, to)) || (from, to) == (CardStatus::Lost, CardStatus::Cancelled);
            assert_eq!(transition_allowed(from, to), specified, "{from:?} → {to:?}");
        }
    }
}

/// Every (from, to) pair the status command can be asked for, from a card put in `from`:
/// allowed ones succeed and audit the actor and reason; the rest are refused and change nothing.
#[test]
fn every_status_change_from_every_state_is_applied_or_refused() {
    for from in CardStatus::ALL {
        for to in CardStatus::ALL {
            let mut world = World::demo();
            let number = card_no("A10000001");
            let mut card = world.db.get::<Card>(&number).unwrap();
            card.status = from;
            world.db.put(card);
            let before = world.db.table::<Card>();
            let audit_before = world.db.audit.len();
            let result = world.exec(ChangeCardStatus {
                card_no: number.clone(),
                to,
                channel: None,
                actor: "operator:clerk".into(),
                reason: "测试".into(),
            });
            let through_flows =
                matches!(to, CardStatus::Applied | CardStatus::Produced | CardStatus::Issued | CardStatus::Replaced);
            match result {
                Ok(Outcome::Card(card)) => {
                    assert!(transition_allowed(from, to) && !through_flows, "{from:?} → {to:?} was applied");
                    assert_eq!(card.status, to);
                    assert_eq!(world.db.get::<Card>(&number).unwrap().status, to);
                    let entry = world.db.audit.last().unwrap();
                    assert_eq!(entry.actor, "operator:clerk");
                    assert_eq!(entry.reason, "测试");
                    assert_eq!(entry.action, format!("card-{}", to.as_str()));
                }
                Ok(other) => panic!("{other:?}"),
                Err(error) => {
                    assert!(!transition_allowed(from, to) || through_flows, "{from:?} → {to:?} refused: {error}");
                    let expected = if through_flows { ErrorKind::Invalid } else { ErrorKind::Conflict };
                    assert_eq!(error.kind, expected, "{from:?} → {to:?}: {error}");
                    assert_eq!(world.db.table::<Card>(), before, "a refusal changes nothing");
                    assert_eq!(world.db.audit.len(), audit_before);
                }
            }
        }
    }
}

fn apply(world: &mut World, name: &str, registered_on: &str) -> (String, CardNo) {
    match world
        .exec(ApplyForCard {
            psn_no: person(name),
            employer: None,
            registered_on: day(registered_on),
            bank: "BOC".parse().unwrap(),
            replaces: None,
            actor: "operator:hr".into(),
            reason: "new employee".into(),
        })
        .unwrap()
    {
        Outcome::CardApplication(application) => (application.id, application.card_no),
        other => panic!("{other:?}"),
    }
}

fn step(world: &mut World, id: &str, step: ApplicationStep, on: &str) -> Result<Outcome, yibao_engine::EngineError> {
    world.exec(RecordApplicationStep { id: id.into(), step, on: day(on), actor: "operator:hr".into() })
}

fn produce(world: &mut World, id: &str, on: &str) -> Result<Outcome, yibao_engine::EngineError> {
    world.exec(ProduceCard { id: id.into(), on: day(on), pin_hash: "$argon2id$test".into(), actor: "bank:BOC".into() })
}

fn cancel_card(world: &mut World, number: &str) {
    world
        .exec(ChangeCardStatus {
            card_no: card_no(number),
            to: CardStatus::Cancelled,
            channel: None,
            actor: "operator:clerk".into(),
            reason: "注销".into(),
        })
        .unwrap();
}

#[test]
fn issue_14_one_live_card_per_person_a_new_one_only_as_a_replacement() {
    let mut world = World::demo();
    let second = ApplyForCard {
        psn_no: person("张伟"),
        employer: None,
        registered_on: day("2026-01-10"),
        bank: "BOC".parse().unwrap(),
        replaces: None,
        actor: "operator:hr".into(),
        reason: "a second card".into(),
    };
    let before = world.db.clone();
    assert_eq!(world.exec(second.clone()).unwrap_err().kind, ErrorKind::Conflict, "张伟 holds A10000001");
    assert_eq!(world.db.table::<Card>(), before.table::<Card>(), "nothing was made");
    // Lost: still his card until it is replaced, and only a replacement replaces it.
    lose(&mut world, "A10000001");
    assert_eq!(world.exec(second.clone()).unwrap_err().kind, ErrorKind::Conflict);
    world
        .exec(ReplaceCard {
            old_card: card_no("A10000001"),
            path: ReplacementPath::LossNotice,
            new_bank: None,
            actor: "operator:clerk".into(),
            reason: "补卡".into(),
        })
        .unwrap();
    // While the replacement is under way, nothing else.
    assert_eq!(world.exec(second.clone()).unwrap_err().kind, ErrorKind::Conflict);
    // A cancelled card leaves room for a new one.
    let mut world = World::demo();
    cancel_card(&mut world, "A10000001");
    world.exec(second.clone()).unwrap();
    assert_eq!(world.exec(second).unwrap_err().kind, ErrorKind::Conflict, "and only one");
}

#[test]
fn issue_14_steps_come_in_order_and_an_early_hand_over_is_remarked_on() {
    let mut world = World::demo();
    cancel_card(&mut world, "A10000004");
    let (id, _) = apply(&mut world, "刘芳", "2026-01-10");
    let forms_first = step(&mut world, &id, ApplicationStep::Forms, "2026-01-20").unwrap_err();
    assert_eq!(forms_first.kind, ErrorKind::Conflict, "the photo receipt is pasted on the form: {forms_first}");
    step(&mut world, &id, ApplicationStep::Photo, "2026-01-20").unwrap();
    step(&mut world, &id, ApplicationStep::Forms, "2026-01-21").unwrap();
    step(&mut world, &id, ApplicationStep::Submit, "2026-02-10").unwrap();
    let application = &world.db.get::<CardApplication>(&id).unwrap();
    assert_eq!(application.submit_from(), day("2026-02-20"));
    assert_eq!(application.warnings().len(), 1, "handed over before the 19th of the next month");
    assert!(application.warnings()[0].0.contains("2026-02-20"));
}

#[test]
fn an_application_goes_applied_produced_issued_active_with_its_deadlines() {
    let mut world = World::demo();
    cancel_card(&mut world, "A10000004");
    let (id, number) = apply(&mut world, "刘芳", "2026-01-10");
    assert_eq!(world.db.get::<Card>(&number).unwrap().status, CardStatus::Applied);
    let application = world.db.get::<CardApplication>(&id).unwrap();
    assert_eq!(application.photo_due(), day("2026-02-03"));
    assert_eq!(application.forms_due(), day("2026-02-19"));
    assert_eq!(application.overdue(day("2026-02-01"), None), Vec::<&str>::new());
    assert_eq!(application.overdue(day("2026-02-20"), None), vec!["photo", "forms"]);

    // Out of order: refused, nothing changes.
    assert_eq!(produce(&mut world, &id, "2026-02-01").unwrap_err().kind, ErrorKind::Refused);
    assert_eq!(step(&mut world, &id, ApplicationStep::Submit, "2026-02-01").unwrap_err().kind, ErrorKind::Refused);
    assert_eq!(step(&mut world, &id, ApplicationStep::Receive, "2026-02-01").unwrap_err().kind, ErrorKind::Refused);
    assert_eq!(step(&mut world, &id, ApplicationStep::Issue, "2026-02-01").unwrap_err().kind, ErrorKind::Refused);
    // A card cannot be activated before it is produced and issued.
    let activate = |world: &mut World| {
        world.exec(ChangeCardStatus {
            card_no: number.clone(),
            to: CardStatus::Active,
            channel: None,
            actor: "x".into(),
            reason: "启用".into(),
        })
    };
    assert_eq!(activate(&mut world).unwrap_err().kind, ErrorKind::Conflict);

    step(&mut world, &id, ApplicationStep::Photo, "2026-02-02").unwrap();
    assert_eq!(step(&mut world, &id, ApplicationStep::Photo, "2026-02-02").unwrap_err().kind, ErrorKind::Conflict);
    step(&mut world, &id, ApplicationStep::Forms, "2026-02-25").unwrap();
    let application = world.db.get::<CardApplication>(&id).unwrap();
    assert_eq!(application.overdue(day("2026-02-26"), None), vec!["forms"], "the forms came late");
    step(&mut world, &id, ApplicationStep::Submit, "2026-02-26").unwrap();
    assert!(world.db.get::<CardApplication>(&id).unwrap().warnings().is_empty(), "handed over after the 19th");
    produce(&mut world, &id, "2026-03-01").unwrap();
    assert_eq!(world.db.get::<Card>(&number).unwrap().status, CardStatus::Produced);
    assert_eq!(produce(&mut world, &id, "2026-03-01").unwrap_err().kind, ErrorKind::Conflict, "produced once");
    step(&mut world, &id, ApplicationStep::Receive, "2026-03-02").unwrap();
    let application = world.db.get::<CardApplication>(&id).unwrap();
    assert_eq!(application.issue_due(), Some(day("2026-03-09")));
    assert_eq!(application.overdue(day("2026-03-10"), None), vec!["forms", "issue"]);
    step(&mut world, &id, ApplicationStep::Issue, "2026-03-05").unwrap();
    assert_eq!(world.db.get::<Card>(&number).unwrap().status, CardStatus::Issued);
    assert_eq!(world.db.get::<CardApplication>(&id).unwrap().overdue(day("2026-03-10"), None), vec!["forms"]);
    activate(&mut world).unwrap();
    assert_eq!(world.db.get::<Card>(&number).unwrap().status, CardStatus::Active);
    assert_eq!(activate(&mut world).unwrap_err().kind, ErrorKind::Conflict);
}

/// Everything in the ledger that belongs to a person or is held for them.
fn total(world: &World) -> Money {
    world
        .db
        .all::<Account>()
        .iter()
        .filter(|a| matches!(a.key, AccountKey::BankCustody(_)))
        .map(|a| a.balance())
        .sum::<Money>()
}

fn custody(world: &World, bank: &str) -> Money {
    world.db.get::<Account>(&AccountKey::BankCustody(bank.parse().unwrap())).map_or(Money::ZERO, |a| a.balance())
}

fn lose(world: &mut World, number: &str) {
    world
        .exec(ChangeCardStatus {
            card_no: card_no(number),
            to: CardStatus::Lost,
            channel: None,
            actor: "person".into(),
            reason: "丢失".into(),
        })
        .unwrap();
}

fn bring_to_issue(world: &mut World, id: &str) {
    for (kind, on) in [
        (ApplicationStep::Photo, "2026-03-02"),
        (ApplicationStep::Forms, "2026-03-02"),
        (ApplicationStep::Submit, "2026-03-02"),
    ] {
        step(world, id, kind, on).unwrap();
    }
    produce(world, id, "2026-03-02").unwrap();
    step(world, id, ApplicationStep::Receive, "2026-03-02").unwrap();
    step(world, id, ApplicationStep::Issue, "2026-03-02").unwrap();
}

#[test]
fn replacement_at_the_same_bank_keeps_the_balance_and_repeats_change_nothing() {
    let mut world = World::demo();
    let balance = world.balance("张伟");
    let money = total(&world);
    lose(&mut world, "A10000001");
    let replace = ReplaceCard {
        old_card: card_no("A10000001"),
        path: ReplacementPath::LossNotice,
        new_bank: None,
        actor: "operator:clerk".into(),
        reason: "补卡".into(),
    };
    let Outcome::Replacement { application, notice } = world.exec(replace.clone()).unwrap() else { panic!() };
    assert!(notice.is_none(), "same bank: no clearing notice");
    let snapshot = (world.db.table::<Card>(), world.db.table::<CardApplication>(), world.db.transfers.len());
    assert_eq!(world.exec(replace).unwrap_err().kind, ErrorKind::Conflict, "one replacement per card");
    assert_eq!((world.db.table::<Card>(), world.db.table::<CardApplication>(), world.db.transfers.len()), snapshot);

    bring_to_issue(&mut world, &application.id);
    world
        .exec(ChangeCardStatus {
            card_no: application.card_no.clone(),
            to: CardStatus::Active,
            channel: None,
            actor: "x".into(),
            reason: "启用".into(),
        })
        .unwrap();
    assert_eq!(world.db.get::<Card>(&card_no("A10000001")).unwrap().status, CardStatus::Replaced);
    assert_eq!(world.db.get::<Card>(&application.card_no).unwrap().status, CardStatus::Active);
    assert_eq!(world.balance("张伟"), balance);
    assert_eq!(total(&world), money, "total money before = after");

    // The new card pays; the old one does not.
    let card_no = application.card_no.to_string();
    let purchase = world.purchase_with("张伟", &[("DEMO-A-001", "10.00", "1")], true, |request| {
        request.certificate = Certificate { kind: CertType::Card, number: card_no };
    });
    world.exec(purchase).unwrap();
    let purchase = world.purchase_with("张伟", &[("DEMO-A-001", "10.00", "1")], true, |request| {
        request.certificate = Certificate { kind: CertType::Card, number: "A10000001".into() };
    });
    assert_eq!(world.exec(purchase).unwrap_err().kind, ErrorKind::Refused);
    world.check_invariants();
}

#[test]
fn replacement_at_another_bank_moves_money_only_after_confirmation_and_only_once() {
    let mut world = World::demo();
    let balance = world.balance("李秀英");
    let money = total(&world);
    let boc = custody(&world, "BOC");
    lose(&mut world, "A10000002");
    let replace = ReplaceCard {
        old_card: card_no("A10000002"),
        path: ReplacementPath::LossNotice,
        new_bank: Some("ICBC".parse().unwrap()),
        actor: "operator:clerk".into(),
        reason: "补卡（换银行）".into(),
    };
    let Outcome::Replacement { application, notice } = world.exec(replace.clone()).unwrap() else { panic!() };
    let notice = notice.expect("another bank: a clearing notice");
    assert!(world.db.get::<Person>(&person("李秀英")).unwrap().account_frozen);
    assert_eq!(world.exec(replace).unwrap_err().kind, ErrorKind::Conflict);

    // Until the old bank confirms, no money has moved and the account cannot pay.
    bring_to_issue(&mut world, &application.id);
    world
        .exec(ChangeCardStatus {
            card_no: application.card_no.clone(),
            to: CardStatus::Active,
            channel: None,
            actor: "x".into(),
            reason: "启用".into(),
        })
        .unwrap();
    assert_eq!(custody(&world, "BOC"), boc);
    assert_eq!(custody(&world, "ICBC"), Money::ZERO);
    let purchase = world.purchase("李秀英", &[("DEMO-A-001", "10.00", "1")], true);
    let Outcome::Settlement(paid) = world.exec(purchase).unwrap() else { panic!() };
    assert_eq!(paid.settlement.amounts.account(), Money::ZERO, "a frozen account pays nothing");
    assert_eq!(world.balance("李秀英"), balance);

    let confirm = ConfirmClearing { notice_id: notice.id.clone(), actor: "bank:BOC".into() };
    world.exec(confirm.clone()).unwrap();
    assert_eq!(custody(&world, "ICBC"), balance);
    assert_eq!(custody(&world, "BOC"), boc - balance);
    assert_eq!(world.balance("李秀英"), balance, "the balance is the person's, unchanged");
    assert!(!world.db.get::<Person>(&person("李秀英")).unwrap().account_frozen);
    assert_eq!(world.db.get::<Card>(&card_no("A10000002")).unwrap().status, CardStatus::Cancelled);
    let transfers = world.db.transfers.len();
    world.exec(confirm).unwrap();
    assert_eq!(world.db.transfers.len(), transfers, "confirming twice moves nothing");
    assert_eq!(custody(&world, "ICBC"), balance);
    assert_eq!(total(&world), money, "total money before = after");
    world.check_invariants();
}

#[test]
fn the_sixtieth_unprinted_transaction_pays_the_sixty_first_waits_for_the_printout() {
    let mut world = World::demo();
    let buy = |world: &mut World| {
        let purchase = world.purchase_with("张伟", &[("DEMO-A-001", "1.00", "1")], true, |request| {
            request.certificate = Certificate { kind: CertType::Card, number: "A10000001".into() };
        });
        world.exec(purchase)
    };
    for n in 1..=60 {
        buy(&mut world).unwrap_or_else(|e| panic!("transaction {n}: {e}"));
    }
    assert_eq!(world.db.get::<Card>(&card_no("A10000001")).unwrap().unprinted, 60);
    let refused = buy(&mut world).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Refused);
    assert!(matches!(refused.refusal.as_deref(), Some(Refusal::CardUnprinted { unprinted: 60, .. })), "{}", refused.zh);
    let Outcome::Statement { transactions, person: holder, .. } =
        world.exec(PrintStatement { card_no: card_no("A10000001"), actor: "operator:clerk".into() }).unwrap()
    else {
        panic!()
    };
    assert_eq!(transactions.len(), 60);
    assert_eq!(holder.name, "张伟");
    assert_eq!(world.db.get::<Card>(&card_no("A10000001")).unwrap().unprinted, 0);
    buy(&mut world).unwrap();
    world.check_invariants();
}

fn activate_evoucher(world: &mut World, name: &str) {
    world
        .exec(ActivateEVoucher { psn_no: person(name), channel: "wechat".into(), password_hash: "$argon2id$x".into() })
        .unwrap();
}

fn issue(world: &mut World, name: &str, code: &str) {
    world.exec(IssueQrCode { psn_no: person(name), hash: grant_hash(code), seconds: 60 }).unwrap();
}

fn redeem(
    world: &mut World,
    code: &str,
    institution: &str,
    token: &str,
    reference: Option<&str>,
) -> Result<Outcome, yibao_engine::EngineError> {
    world.exec(RedeemGrant {
        hash: grant_hash(code),
        kind: GrantKind::QrCode,
        institution: institution.parse().unwrap(),
        token_hash: grant_hash(token),
        reference: reference.map(str::to_string),
    })
}

#[test]
fn a_qr_code_is_good_once_within_its_minute_and_dies_with_a_suspension_not_a_card_loss() {
    let mut world = World::demo();
    let code = "330100ec00000000000000000000000000000001";
    assert_eq!(
        world.exec(IssueQrCode { psn_no: person("张伟"), hash: grant_hash(code), seconds: 60 }).unwrap_err().kind,
        ErrorKind::Refused,
        "not activated"
    );
    activate_evoucher(&mut world, "张伟");
    issue(&mut world, "张伟", code);
    redeem(&mut world, code, TERTIARY, "t1", Some("biz-1")).unwrap();
    // The same institution retrying with the same business number gets the answer again.
    redeem(&mut world, code, TERTIARY, "t1", Some("biz-1")).unwrap();
    // Any other use is refused.
    assert_eq!(redeem(&mut world, code, TERTIARY, "t2", Some("biz-2")).unwrap_err().kind, ErrorKind::Refused);
    assert_eq!(redeem(&mut world, code, SECONDARY, "t3", Some("biz-1")).unwrap_err().kind, ErrorKind::Refused);
    assert_eq!(redeem(&mut world, code, TERTIARY, "t4", None).unwrap_err().kind, ErrorKind::Refused);

    // Expiry: 60 s.
    let late = "330100ec00000000000000000000000000000002";
    issue(&mut world, "张伟", late);
    world.now = world.now.plus_seconds(60);
    assert_eq!(redeem(&mut world, late, TERTIARY, "t5", None).unwrap_err().kind, ErrorKind::Refused);
    let fresh = "330100ec00000000000000000000000000000003";
    issue(&mut world, "张伟", fresh);
    world.now = world.now.plus_seconds(59);
    redeem(&mut world, fresh, TERTIARY, "t6", None).unwrap();

    // The e-voucher is a credential of its own (issue 14): a lost card does not stop it.
    let outstanding = ["330100ec00000000000000000000000000000004", "330100ec00000000000000000000000000000005"];
    for code in outstanding {
        issue(&mut world, "张伟", code);
    }
    lose(&mut world, "A10000001");
    redeem(&mut world, outstanding[0], TERTIARY, "u0", None).unwrap();
    // A lost phone: the suspension kills every outstanding code and token at once, and no new
    // code comes until the e-voucher is activated again.
    world
        .exec(SuspendEVoucher { psn_no: person("张伟"), actor: "person:x".into(), reason: "手机丢失".into() })
        .unwrap();
    assert_eq!(redeem(&mut world, outstanding[1], TERTIARY, "u1", None).unwrap_err().kind, ErrorKind::Refused);
    let suspended = "330100ec00000000000000000000000000000006";
    let refused = world.exec(IssueQrCode { psn_no: person("张伟"), hash: grant_hash(suspended), seconds: 60 });
    assert_eq!(refused.unwrap_err().kind, ErrorKind::Conflict);
    activate_evoucher(&mut world, "张伟");
    let after = "330100ec00000000000000000000000000000007";
    issue(&mut world, "张伟", after);
    redeem(&mut world, after, TERTIARY, "u2", None).unwrap();
    world.check_invariants();
}

#[test]
fn issue_14_a_blocked_card_being_replaced_stays_blocked() {
    let mut world = World::demo();
    let block = |world: &mut World, to: CardStatus| {
        world.exec(ChangeCardStatus {
            card_no: card_no("A10000001"),
            to,
            channel: None,
            actor: "operator:clerk".into(),
            reason: "单位申请".into(),
        })
    };
    block(&mut world, CardStatus::Blocked).unwrap();
    world
        .exec(ReplaceCard {
            old_card: card_no("A10000001"),
            path: ReplacementPath::LossNotice,
            new_bank: None,
            actor: "operator:clerk".into(),
            reason: "补卡".into(),
        })
        .unwrap();
    assert_eq!(
        block(&mut world, CardStatus::Active).unwrap_err().kind,
        ErrorKind::Conflict,
        "two live cards otherwise"
    );
}

/// Issue 16: a lost card's replacement follows its seed's path. Seed 000: the loss reported at
/// the bank gives a loss notice, and the new card comes within 45 working days of the
/// application; seed 003: the employer's proof letter, its seal confirmed by the agency, then
/// the new card 7 days after. The proof-letter path needs the letter first.
#[test]
fn issue_16_each_replacement_path_has_its_own_dated_steps() {
    let mut world = World::demo();
    world
        .exec(ChangeCardStatus {
            card_no: card_no("A10000001"),
            to: CardStatus::Lost,
            channel: Some(LossChannel::Bank),
            actor: "operator:clerk".into(),
            reason: "遗失".into(),
        })
        .unwrap();
    let report = world.db.get::<LossReport>(&card_no("A10000001")).unwrap();
    assert_eq!((report.notice_no.as_str(), report.channel), ("GSA10000001", LossChannel::Bank));
    assert_eq!(report.reported_at.date(), day("2026-03-02"));
    let by_letter = ReplaceCard {
        old_card: card_no("A10000001"),
        new_bank: None,
        path: ReplacementPath::ProofLetter,
        actor: "operator:clerk".into(),
        reason: "补卡".into(),
    };
    assert_eq!(world.exec(by_letter).unwrap_err().kind, ErrorKind::Refused, "no proof letter yet");
    let Outcome::Replacement { application, .. } = world
        .exec(ReplaceCard {
            old_card: card_no("A10000001"),
            new_bank: None,
            path: ReplacementPath::LossNotice,
            actor: "operator:clerk".into(),
            reason: "补卡".into(),
        })
        .unwrap()
    else {
        panic!()
    };
    // 2026-03-02 is a Monday: 45 working days are nine weeks.
    assert_eq!(application.card_due(ReplacementPath::LossNotice), Some(day("2026-05-04")));
    let report = world.db.get::<LossReport>(&card_no("A10000001")).unwrap();
    assert_eq!(report.replacement, Some((ReplacementPath::LossNotice, day("2026-03-02"))));
    assert_eq!(report.card_due(), Some(day("2026-05-04")));
    let path = Some(ReplacementPath::LossNotice);
    assert!(application.overdue(day("2026-05-04"), path).is_empty(), "not a new employee's photo and forms");
    assert_eq!(application.overdue(day("2026-05-05"), path), vec!["card"]);

    let mut world = World::demo();
    lose(&mut world, "A10000001");
    let letter = |employer: &str, letter_no: &str| ConfirmProofLetter {
        card_no: card_no("A10000001"),
        employer: employer.into(),
        letter_no: letter_no.into(),
        issued_on: day("2026-03-01"),
        actor: "operator:clerk".into(),
    };
    let wrong = world.exec(letter("E33020000001", "甬证1号")).unwrap_err();
    assert_eq!(wrong.kind, ErrorKind::Refused, "not 张伟's employer: {wrong}");
    let mut future = letter("E33010000001", "示例科技证字〔2026〕3号");
    future.issued_on = day("2026-03-03");
    assert_eq!(world.exec(future).unwrap_err().kind, ErrorKind::Invalid, "dated tomorrow");
    world.exec(letter("E33010000001", "示例科技证字〔2026〕3号")).unwrap();
    world.exec(letter("E33010000001", "示例科技证字〔2026〕3号")).expect("the same letter again changes nothing");
    assert_eq!(world.exec(letter("E33010000001", "另一封")).unwrap_err().kind, ErrorKind::Conflict);
    let report = world.db.get::<LossReport>(&card_no("A10000001")).unwrap();
    let proof = report.proof.clone().unwrap();
    assert_eq!((proof.issued_on, proof.sealed_on), (day("2026-03-01"), day("2026-03-02")));
    assert_eq!(report.channel, LossChannel::Agency, "reported by an operator without a channel");
    let Outcome::Replacement { application, .. } = world
        .exec(ReplaceCard {
            old_card: card_no("A10000001"),
            new_bank: None,
            path: ReplacementPath::ProofLetter,
            actor: "operator:clerk".into(),
            reason: "补卡".into(),
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(application.card_due(ReplacementPath::ProofLetter), Some(day("2026-03-09")));
    assert_eq!(application.overdue(day("2026-03-10"), Some(ReplacementPath::ProofLetter)), vec!["card"]);
}

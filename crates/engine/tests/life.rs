//! A person's insured life after enrolment: each life event's effect on settlement, credits and
//! the person's record.

mod world;

use world::*;
use yibao_domain::{Money, PersonType};
use yibao_engine::commands::{AllocateMonth, AllocationSummary, LifeChange, RecordLifeEvent, SkipReason};
use yibao_engine::records::{LifeEvent, LifeEventKind, PersonStatus, VisitKind};
use yibao_engine::{EngineError, ErrorKind, Outcome, Refusal};
use yibao_ledger::Account;

fn record(world: &mut World, name: &str, change: LifeChange, effective: &str) -> Result<LifeEvent, EngineError> {
    let command = RecordLifeEvent {
        psn_no: person(name),
        change,
        effective: effective.parse().unwrap(),
        reason: "经办测试".into(),
        actor: "operator:test".into(),
    };
    world.exec(command).map(|outcome| match outcome {
        Outcome::LifeEvent(event) => *event,
        other => panic!("{other:?}"),
    })
}

fn allocate(world: &mut World, month: &str, names: &[&str]) -> AllocationSummary {
    let persons = names.iter().map(|name| person(name)).collect();
    match world.exec(AllocateMonth { month: month.parse().unwrap(), persons, actor: "t".into() }).unwrap() {
        Outcome::Allocation(summary) => summary,
        other => panic!("{other:?}"),
    }
}

/// An inpatient stay of 2,000 yuan (甲类) at the tertiary hospital, discharged, not settled.
fn stay(world: &mut World, name: &str) -> yibao_domain::MdtrtId {
    let visit = world.admit(name, TERTIARY);
    world.upload(name, TERTIARY, &visit, VisitKind::Inpatient, &[("DEMO-A-001", "2000.00", "1")]);
    world.discharge(name, TERTIARY, &visit);
    visit
}

/// Settles a stay: what the fund pays.
fn settle(world: &mut World, name: &str, visit: &yibao_domain::MdtrtId) -> Result<Money, EngineError> {
    let command = world.settle_command(name, TERTIARY, visit, VisitKind::Inpatient, false);
    world.settle(command).map(|outcome| outcome.settlement.amounts.fund)
}

/// A stay admitted and settled at once.
fn stay_fund(world: &mut World, name: &str) -> Result<Money, EngineError> {
    let visit = stay(world, name);
    settle(world, name, &visit)
}

/// Why an admission of `name` is refused.
fn admission_refused(world: &mut World, name: &str) -> EngineError {
    let details = world.details(name, TERTIARY, "21");
    world.exec(yibao_engine::commands::Admit(details)).unwrap_err()
}

#[test]
fn a_deceased_person_is_refused_by_name_credited_no_more_and_the_event_is_kept_once() {
    let mut world = World::demo();
    let admitted = stay(&mut world, "张伟");
    let death = record(&mut world, "张伟", LifeChange::Death, "2026-03-01").unwrap();
    assert_eq!((death.kind, death.seq, death.after.status), (LifeEventKind::Death, 1, PersonStatus::Terminated));
    assert_eq!(death.before.status, PersonStatus::Active);
    // Recording it again answers the same event; nothing else changes.
    let again = record(&mut world, "张伟", LifeChange::Death, "2026-03-01").unwrap();
    assert_eq!(again, death);
    assert_eq!(world.db.all::<LifeEvent>().len(), 1);

    // The stay admitted before cannot be settled; no new visit opens.
    let refused = settle(&mut world, "张伟", &admitted).unwrap_err();
    assert_eq!(admission_refused(&mut world, "张伟").refusal, refused.refusal);
    assert_eq!(refused.kind, ErrorKind::Refused);
    assert!(
        matches!(
            refused.refusal.as_deref(),
            Some(Refusal::NotInsured { status: PersonStatus::Terminated, event: Some((LifeEventKind::Death, _)), .. })
        ),
        "{refused:?}"
    );
    assert!(refused.zh.contains("2026-03-01死亡"), "{}", refused.zh);
    let february = allocate(&mut world, "2026-02", &["张伟"]);
    assert_eq!((february.credited, february.skipped[0].reason), (0, SkipReason::NotInsured));
    // Nothing can follow a death.
    for change in [LifeChange::Resumption, LifeChange::Suspension, LifeChange::Base(yuan("9000"))] {
        let error = record(&mut world, "张伟", change, "2026-03-02").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Refused, "{error:?}");
    }
    world.check_invariants();
}

#[test]
fn a_retiree_is_priced_as_one_from_the_effective_date_and_credited_as_one_from_the_next_month() {
    let mut world = World::demo();
    let in_service = stay_fund(&mut world, "张伟").unwrap();
    // 2,000 less the 800 deductible, 85% in service.
    assert_eq!(in_service, yuan("1020"));
    let retirement = record(&mut world, "张伟", LifeChange::Retirement, "2026-03-02").unwrap();
    assert_eq!(retirement.after.person_type, PersonType::EmployeeRetired);
    assert_eq!((retirement.after.employer.clone(), retirement.after.contribution_base), (None, None));
    // The second admission of the year pays half the deductible; retirees get 5 points more.
    let retired = stay_fund(&mut world, "张伟").unwrap();
    assert_eq!(retired, (yuan("2000") - yuan("400")).times("0.90".parse().unwrap()));

    // February (before): in service, 2% of 8,000; March (the month of retirement): still in
    // service; April: the retiree's 100 from the pool, no contribution needed.
    world.now = "2026-05-02 09:00:00".parse().unwrap();
    let before = world.balance("张伟");
    let credits: Vec<Money> =
        ["2026-02", "2026-03", "2026-04"].iter().map(|month| allocate(&mut world, month, &["张伟"]).amount).collect();
    assert_eq!(credits, [yuan("160"), yuan("160"), yuan("100")]);
    assert_eq!(world.balance("张伟"), before + yuan("420"));
    // A retiree pays no contribution and cannot retire twice.
    let twice = record(&mut world, "张伟", LifeChange::Retirement, "2026-05-01").unwrap_err();
    assert_eq!(twice.kind, ErrorKind::Refused);
    world.check_invariants();
}

#[test]
fn a_suspended_person_is_refused_until_resumed_and_the_suspended_months_follow_the_resumption() {
    let mut world = World::demo();
    world.now = "2026-05-02 09:00:00".parse().unwrap();
    record(&mut world, "王强", LifeChange::Suspension, "2026-03-01").unwrap();
    let refused = admission_refused(&mut world, "王强");
    assert!(
        matches!(
            refused.refusal.as_deref(),
            Some(Refusal::NotInsured { event: Some((LifeEventKind::Suspension, _)), .. })
        ),
        "{refused:?}"
    );
    let before = world.balance("王强");
    let march = allocate(&mut world, "2026-03", &["王强"]);
    assert_eq!((march.credited, march.skipped[0].reason), (0, SkipReason::NotInsured));
    // A resumption before the suspension's day is refused; on or after it, insured again.
    let early = record(&mut world, "王强", LifeChange::Resumption, "2026-02-20").unwrap_err();
    assert_eq!(early.kind, ErrorKind::Invalid);
    record(&mut world, "王强", LifeChange::Resumption, "2026-05-01").unwrap();
    assert!(stay_fund(&mut world, "王强").is_ok());
    // March's contribution was paid (the demo pays ahead): the month follows at the next run.
    let rerun = allocate(&mut world, "2026-03", &["王强"]);
    assert_eq!((rerun.credited, rerun.amount), (1, yuan("15")));
    // (The stays paid nothing from the account.)
    assert_eq!(world.balance("王强"), before + yuan("15"));
    world.check_invariants();
}

#[test]
fn an_employer_change_moves_who_declares_and_a_base_change_counts_from_its_month() {
    use yibao_engine::commands::{ContributionPeriod, CreateEmployer, PayContributions};
    let mut world = World::demo();
    world
        .exec(CreateEmployer {
            employer: yibao_engine::records::Employer {
                code: "E33010000009".into(),
                name: "示例新单位".into(),
                admdvs: "330100".parse().unwrap(),
            },
            actor: "t".into(),
        })
        .unwrap();
    let foreign = record(&mut world, "张伟", LifeChange::Employer("E33020000001".into()), "2026-03-01").unwrap_err();
    assert_eq!(foreign.kind, ErrorKind::Refused, "an employer of another region");
    let missing = record(&mut world, "张伟", LifeChange::Employer("E99".into()), "2026-03-01").unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound);
    let flexible = record(&mut world, "王强", LifeChange::Employer("E33010000009".into()), "2026-03-01").unwrap_err();
    assert_eq!(flexible.kind, ErrorKind::Refused, "a flexible employee has no employer");
    record(&mut world, "张伟", LifeChange::Employer("E33010000009".into()), "2026-03-01").unwrap();
    let ahead = ContributionPeriod::Month("2027-03".parse().unwrap());
    let declare = |employer: &str| PayContributions {
        employer: Some(employer.into()),
        period: ahead,
        entries: vec![(person("张伟"), None)],
        actor: "t".into(),
    };
    assert_eq!(world.exec(declare("E33010000001")).unwrap_err().kind, ErrorKind::Refused);
    assert!(world.exec(declare("E33010000009")).is_ok());

    // A base of 10,000 from 15 February: February is credited 2% of it, January of the old.
    let future = record(&mut world, "张伟", LifeChange::Base(yuan("10000")), "2026-03-03").unwrap_err();
    assert_eq!(future.kind, ErrorKind::Invalid, "a change is recorded once it has happened");
    let backwards = record(&mut world, "张伟", LifeChange::Base(yuan("10000")), "2026-02-15").unwrap_err();
    assert_eq!(backwards.kind, ErrorKind::Invalid, "before the employer change");
    record(&mut world, "张伟", LifeChange::Base(yuan("9000")), "2026-03-02").unwrap();
    // Another base the same day is a change, not a retry of the first.
    let corrected = record(&mut world, "张伟", LifeChange::Base(yuan("10000")), "2026-03-02").unwrap();
    assert_eq!((corrected.seq, corrected.after.contribution_base), (3, Some(yuan("10000"))));
    let zero = record(&mut world, "赵敏", LifeChange::Base(Money::ZERO), "2026-03-02").unwrap_err();
    assert_eq!(zero.kind, ErrorKind::Invalid);
    assert_eq!(allocate(&mut world, "2026-01", &["张伟"]).amount, yuan("160"));
    assert_eq!(allocate(&mut world, "2026-02", &["张伟"]).amount, yuan("160"));
    world.now = "2026-04-01 09:00:00".parse().unwrap();
    assert_eq!(allocate(&mut world, "2026-03", &["张伟"]).amount, yuan("200"));
    let history: Vec<LifeEventKind> =
        world.db.all::<LifeEvent>().into_iter().filter(|e| e.psn_no == person("张伟")).map(|e| e.kind).collect();
    assert_eq!(history, [LifeEventKind::EmployerChange, LifeEventKind::BaseChange, LifeEventKind::BaseChange]);
    world.check_invariants();
}

#[test]
fn a_transfer_out_terminates_the_insurance_here() {
    let mut world = World::demo();
    let same =
        record(&mut world, "赵敏", LifeChange::TransferOut("330100".parse().unwrap()), "2026-03-01").unwrap_err();
    assert_eq!(same.kind, ErrorKind::Invalid);
    let out = record(&mut world, "赵敏", LifeChange::TransferOut("310100".parse().unwrap()), "2026-03-01").unwrap();
    assert_eq!((out.after.status, out.region.clone()), (PersonStatus::Terminated, Some("310100".parse().unwrap())));
    let refused = admission_refused(&mut world, "赵敏");
    assert!(matches!(refused.refusal.as_deref(), Some(Refusal::NotInsured { .. })), "{refused:?}");
    let emigrate = record(&mut world, "赵敏", LifeChange::Emigration, "2026-03-02").unwrap_err();
    assert_eq!(emigrate.kind, ErrorKind::Refused);
    world.check_invariants();
}

fn payee(name: &str, reference: Option<&str>) -> yibao_engine::records::Payee {
    yibao_engine::records::Payee {
        name: name.into(),
        bank: "中国银行杭州分行".into(),
        account: "6217000010001234567".into(),
        reference: reference.map(str::to_string),
    }
}

fn propose(
    world: &mut World,
    name: &str,
    kind: yibao_engine::records::PayoutKind,
    amount: Option<&str>,
    by: &str,
) -> Result<yibao_engine::records::Payout, EngineError> {
    let reference = (kind == yibao_engine::records::PayoutKind::Premium).then_some("PICC-2026-0001");
    let command = yibao_engine::commands::ProposePayout {
        psn_no: person(name),
        kind,
        amount: amount.map(yuan),
        payee: payee("张伟之子", reference),
        reason: "申请支取".into(),
        actor: by.into(),
    };
    world.exec(command).map(|outcome| match outcome {
        Outcome::Payout(payout) => *payout,
        other => panic!("{other:?}"),
    })
}

fn review(world: &mut World, id: &str, approve: bool, by: &str) -> Result<yibao_engine::records::Payout, EngineError> {
    let command =
        yibao_engine::commands::ReviewPayout {
            id: id.into(), approve, reason: "材料齐全".into(), actor: by.into()
        };
    world.exec(command).map(|outcome| match outcome {
        Outcome::Payout(payout) => *payout,
        other => panic!("{other:?}"),
    })
}

#[test]
fn a_death_payout_empties_the_account_into_the_heirs_payable_once_and_only_with_four_eyes() {
    use yibao_engine::records::{PayoutKind, PayoutState};
    use yibao_ledger::AccountKey;
    let mut world = World::demo();
    // Not before the death is recorded.
    let early = propose(&mut world, "张伟", PayoutKind::Inheritance, None, "operator:clerk").unwrap_err();
    assert_eq!(early.kind, ErrorKind::Refused);
    record(&mut world, "张伟", LifeChange::Death, "2026-03-01").unwrap();
    let whole = propose(&mut world, "张伟", PayoutKind::Inheritance, Some("10"), "operator:clerk").unwrap_err();
    assert_eq!(whole.kind, ErrorKind::Invalid, "an inheritance pays the whole balance");
    let balance = world.balance("张伟");
    assert_eq!(balance, yuan("1000"));
    let proposed = propose(&mut world, "张伟", PayoutKind::Inheritance, None, "operator:clerk").unwrap();
    assert_eq!((proposed.amount, proposed.state.clone()), (balance, PayoutState::Proposed));
    let second = propose(&mut world, "张伟", PayoutKind::Inheritance, None, "operator:other").unwrap_err();
    assert_eq!(second.kind, ErrorKind::Conflict, "one pending payout at a time");
    // Nothing moves until a second operator approves.
    assert_eq!(world.balance("张伟"), balance);
    let own = review(&mut world, &proposed.id, true, "operator:clerk").unwrap_err();
    assert_eq!(own.kind, ErrorKind::Forbidden);
    let approved = review(&mut world, &proposed.id, true, "operator:reviewer").unwrap();
    assert!(matches!(approved.state, PayoutState::Approved { .. }));
    assert_eq!(world.balance("张伟"), Money::ZERO);
    let payable = AccountKey::BankPayable(yibao_engine::demo::BANK.parse().unwrap());
    let owed = world.db.get::<Account>(&payable).unwrap().balance();
    assert_eq!(owed, balance);
    // Approving again answers the approved payout and pays nothing more; rejecting it now is a
    // conflict.
    let transfers = world.db.transfers.len();
    let again = review(&mut world, &proposed.id, true, "operator:reviewer").unwrap();
    assert_eq!(again, approved);
    assert_eq!((world.db.transfers.len(), world.balance("张伟")), (transfers, Money::ZERO));
    let reject = review(&mut world, &proposed.id, false, "operator:reviewer").unwrap_err();
    assert_eq!(reject.kind, ErrorKind::Conflict);
    world.check_invariants();
}

#[test]
fn a_premium_is_paid_from_an_insured_account_never_beyond_its_balance() {
    use yibao_engine::records::{PayoutKind, PayoutState};
    let mut world = World::demo();
    let too_much = propose(&mut world, "张伟", PayoutKind::Premium, Some("1000.01"), "operator:clerk").unwrap_err();
    assert_eq!(too_much.kind, ErrorKind::Refused);
    let nothing = propose(&mut world, "张伟", PayoutKind::Premium, None, "operator:clerk").unwrap_err();
    assert_eq!(nothing.kind, ErrorKind::Invalid);
    let first = propose(&mut world, "张伟", PayoutKind::Premium, Some("300"), "operator:clerk").unwrap();
    let rejected = review(&mut world, &first.id, false, "operator:reviewer").unwrap();
    assert!(matches!(rejected.state, PayoutState::Rejected { .. }));
    assert_eq!(world.balance("张伟"), yuan("1000"));
    let second = propose(&mut world, "张伟", PayoutKind::Premium, Some("950"), "operator:clerk").unwrap();
    // The balance falls below the amount before approval: refused, nothing paid.
    let third_party = propose(&mut world, "张伟", PayoutKind::Premium, Some("100"), "operator:x").unwrap_err();
    assert_eq!(third_party.kind, ErrorKind::Conflict);
    let purchase = world.purchase("张伟", &[("DEMO-A-001", "100.00", "1")], true);
    world.exec(purchase).unwrap();
    let short = world.balance("张伟");
    assert!(short < yuan("950"), "{short}");
    let refused = review(&mut world, &second.id, true, "operator:reviewer").unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Refused);
    assert_eq!(world.balance("张伟"), short);
    // Rejected, a smaller premium goes through.
    review(&mut world, &second.id, false, "operator:reviewer").unwrap();
    let smaller = propose(&mut world, "张伟", PayoutKind::Premium, Some("200"), "operator:clerk").unwrap();
    let paid = review(&mut world, &smaller.id, true, "operator:reviewer").unwrap();
    assert_eq!(paid.amount, yuan("200"));
    assert_eq!(world.balance("张伟"), short - yuan("200"));
    world.check_invariants();
}

//! The store conformance suite: every check runs on SQLite and on PostgreSQL.
//!
//! PostgreSQL tests read the server's URL from `YIBAO_TEST_POSTGRES_URL` and each work in a
//! schema of their own. Without the variable they are skipped with a loud message, unless
//! `YIBAO_REQUIRE_POSTGRES=1` (as CI sets), which makes a missing server a failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use yibao_domain::{CertType, DateTime, Money, PersonNo, UnitPrice};
use yibao_engine::commands::{
    Admit, CancelSettlement, LineUpload, OpenVisit, Purchase, PurchaseRequest, Settle, SettleRequest, Treated,
    UploadLines, VisitDetails,
};
use yibao_engine::records::{Certificate, SettlementStatus, VisitKind};
use yibao_engine::{Envelope, ErrorKind, Outcome, Reply, Submission, demo};
use yibao_ledger::AccountKey;
use yibao_policy::{PolicySet, SEED_POLICY_TOML, parse_policy};
use yibao_store::{Options, SettlementFilter, Store};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{name}_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn options() -> Options {
    options_with(Days::default())
}

/// Whole days added to the fixed test time, for tests that need time to pass.
#[derive(Debug, Clone, Default)]
struct Days(Arc<std::sync::atomic::AtomicI64>);

impl Days {
    fn advance(&self, days: i64) {
        self.0.fetch_add(days, Ordering::Relaxed);
    }
}

fn options_with(days: Days) -> Options {
    let mut policies = PolicySet::new();
    policies.add("seed.toml", parse_policy("seed.toml", SEED_POLICY_TOML).unwrap()).unwrap();
    let mut options = Options::new(Arc::new(policies));
    let now: DateTime = "2026-03-02 09:00:00".parse().unwrap();
    options.clock = Arc::new(move || now.plus_seconds(days.0.load(Ordering::Relaxed) * 86_400));
    options
}

async fn sqlite(name: &str) -> Store {
    sqlite_with(name, options()).await
}

async fn sqlite_with(name: &str, options: Options) -> Store {
    let dir = std::env::temp_dir().join("yibao-store-tests");
    let path = dir.join(format!("{}.db", unique(name)));
    Store::open(path.to_str().unwrap(), options).await.expect("SQLite store opens")
}

async fn postgres(name: &str) -> Option<Store> {
    postgres_with(name, options()).await
}

async fn postgres_with(name: &str, options: Options) -> Option<Store> {
    let url = postgres_url(name).await?;
    Some(Store::open(&url, options).await.expect("PostgreSQL store opens"))
}

/// The URL of a fresh schema of its own on the test server, or `None` when there is none.
async fn postgres_url(name: &str) -> Option<String> {
    let Ok(url) = std::env::var("YIBAO_TEST_POSTGRES_URL") else {
        if std::env::var("YIBAO_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
            panic!("YIBAO_REQUIRE_POSTGRES=1 but YIBAO_TEST_POSTGRES_URL is not set");
        }
        eprintln!(
            "\n!!! SKIPPED PostgreSQL conformance test {name}: set YIBAO_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it !!!\n"
        );
        return None;
    };
    let schema = unique(name).to_lowercase();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("PostgreSQL answers");
    tokio::spawn(connection);
    client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("schema created");
    let separator = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{separator}options=-csearch_path%3D{schema}"))
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::sqlite(stringify!($name)).await).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = super::postgres(stringify!($name)).await {
                        super::$name(store).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    demo_loads_and_reads_back,
    settlement_round_trips_and_dry_run_matches,
    cancel_restores_balances,
    same_msgid_twenty_times_concurrently_settles_once,
    concurrent_settlements_never_overdraw_an_account,
    journal_replay_equals_stored_balances,
    queries_page_and_total,
    dashboard_aggregates,
    stays_to_settle_sum_unsettled_lines,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_pays_ended_days_once_on_sqlite() {
    let days = Days::default();
    clearing_pays_ended_days_once(sqlite_with("clearing", options_with(days.clone())).await, days).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_pays_ended_days_once_on_postgres() {
    let days = Days::default();
    if let Some(store) = postgres_with("clearing", options_with(days.clone())).await {
        clearing_pays_ended_days_once(store, days).await;
    }
}

/// Per-day totals and clearing read committed data the same way on both backends; keyset
/// paging over persons too.
async fn clearing_pays_ended_days_once(store: Store, days: Days) {
    use yibao_engine::commands::PayInstitution;
    use yibao_engine::records::ClearingParty;
    load_demo(&store).await;
    let visit = zhang_wei_visit(&store).await;
    store.execute(settle_command(&visit, "S1")).await.unwrap();
    let day: yibao_domain::Date = "2026-03-02".parse().unwrap();
    let party = ClearingParty::Institution("H33010000001".parse().unwrap());
    let totals = store.read(move |r| r.loader().settlement_days(&party, day, day)).await.unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!((totals[0].day, totals[0].count, totals[0].owed()), (day, 1, Money::yuan(170)));
    let pay = || PayInstitution { institution: "H33010000001".parse().unwrap(), from: day, to: day, actor: "t".into() };
    assert_eq!(store.execute(pay()).await.unwrap_err().kind, ErrorKind::Refused, "the day has not ended");
    days.advance(1);
    let Outcome::Clearing(paid) = store.execute(pay()).await.unwrap() else { panic!() };
    assert_eq!(paid.amount, Money::yuan(170));
    let Outcome::Clearing(again) = store.execute(pay()).await.unwrap() else { panic!() };
    assert_eq!((again.amount, again.already.len()), (Money::ZERO, 1));
    let payable = AccountKey::InstitutionPayable("H33010000001".parse().unwrap());
    let accounts = store.read(move |r| r.accounts(&[payable])).await.unwrap();
    assert_eq!(accounts[0].balance(), Money::ZERO);

    let first = store.read(|r| r.person_numbers_after(None, 4)).await.unwrap();
    let last = first.last().cloned();
    let rest = store.read(move |r| r.person_numbers_after(last.as_ref(), 4)).await.unwrap();
    assert_eq!((first.len(), rest.len()), (4, 4));
    assert!(first.last().unwrap() < rest.first().unwrap());
    assert_eq!(store.read(|r| r.person_count()).await.unwrap(), 8);
}

/// A database made by schema version 1 (before the civil-servant subsidy's columns): its
/// settlements and accumulators lack `subsidy_fen`. Opening it adds them, rows written before
/// read back with a zero subsidy, and settling goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_on_sqlite() {
    let dir = std::env::temp_dir().join("yibao-store-tests");
    let path = dir.join(format!("{}.db", unique("upgrade"))).to_str().unwrap().to_string();
    let store = Store::open(&path, options()).await.unwrap();
    let first = settle_before_upgrade(&store).await;
    store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(VERSION_1).unwrap();
    drop(conn);
    check_upgraded(Store::open(&path, options()).await.expect("a version 1 database opens"), first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_on_postgres() {
    let Some(url) = postgres_url("upgrade").await else { return };
    let store = Store::open(&url, options()).await.unwrap();
    let first = settle_before_upgrade(&store).await;
    store.close().await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    // Version 1 kept notifications unordered: no `seq` column on PostgreSQL.
    client.batch_execute(&format!("{VERSION_1} ALTER TABLE notifications DROP COLUMN seq;")).await.unwrap();
    drop(client);
    check_upgraded(Store::open(&url, options()).await.expect("a version 1 database opens"), first).await;
}

/// What turns today's schema back into version 1's.
const VERSION_1: &str = "ALTER TABLE settlements DROP COLUMN subsidy_fen; \
    ALTER TABLE accumulators DROP COLUMN subsidy_fen; \
    UPDATE meta SET value = '1' WHERE key = 'schema_version';";

async fn settle_before_upgrade(store: &Store) -> yibao_engine::records::Settlement {
    load_demo(store).await;
    let visit = zhang_wei_visit(store).await;
    let Outcome::Settlement(settled) = store.execute(settle_command(&visit, "S1")).await.unwrap() else { panic!() };
    settled.settlement
}

async fn check_upgraded(store: Store, before: yibao_engine::records::Settlement) {
    assert_eq!(store.read(|r| r.meta("schema_version")).await.unwrap().as_deref(), Some("3"));
    // The settlement's notification is numbered, and new ones come after it.
    let numbered = store.read(|r| r.notifications_after(0, 10)).await.unwrap();
    assert_eq!(numbered.len(), 1, "{numbered:?}");
    let id = before.setl_id.clone();
    let stored = store.read(move |r| r.settlement(&id)).await.unwrap().unwrap();
    assert_eq!(stored, before, "a settlement written by version 1 reads back the same");
    // As a peer on version 1 sends it (no subsidy_fen, six accumulator changes), it reads the same.
    let mut sent = yibao_store::exchange::settlement(&before);
    sent.as_object_mut().unwrap().remove("subsidy_fen");
    let change: Vec<serde_json::Value> = serde_json::from_str(sent["change"].as_str().unwrap()).unwrap();
    sent["change"] = serde_json::Value::String(serde_json::to_string(&change[..6]).unwrap());
    assert_eq!(yibao_store::exchange::decode_settlement(&sent).unwrap(), before);
    let psn = person(0);
    let years = store.read(move |r| r.accumulators(&psn)).await.unwrap();
    assert_eq!(years[0].1.medfee_total, Money::yuan(170));
    assert_eq!(years[0].1.subsidy_paid, Money::ZERO);
    let cancel = CancelSettlement {
        institution: "H33010000001".parse().unwrap(),
        psn_no: person(0),
        setl_id: before.setl_id.clone(),
        mdtrt_id: Some(before.mdtrt_id.clone()),
        kind: Some(VisitKind::Outpatient),
        msgid: "C1".parse().unwrap(),
    };
    store.execute(cancel).await.expect("a version 1 settlement is cancelled after the upgrade");
    assert_eq!(balance(&store, 0).await, Money::yuan(1000));
    let visit = zhang_wei_visit(&store).await;
    store.execute(settle_command(&visit, "S2")).await.expect("settling goes on");
    assert_eq!(balance(&store, 0).await, Money::yuan(830));
    let (first, _) = numbered[0];
    let later = store.read(move |r| r.notifications_after(first, 10)).await.unwrap();
    assert_eq!(later.len(), 2, "the cancellation's and the new settlement's: {later:?}");
    assert!(later.iter().all(|(seq, _)| *seq > first));
    assert_eq!(store.read(|r| r.last_notification_seq()).await.unwrap(), later[1].0);
}

async fn load_demo(store: &Store) {
    for command in demo::commands() {
        store.submit(Submission { envelope: None, command }).await.expect("demo command");
    }
}

fn person(index: usize) -> PersonNo {
    demo::person_number(index).parse().unwrap()
}

fn line(serial: &str, code: &str, price: &str, quantity: &str) -> LineUpload {
    let price: UnitPrice = price.parse().unwrap();
    let quantity = quantity.parse().unwrap();
    LineUpload::plain(serial, "B1", code, price, quantity, "2026-03-02 09:00:00".parse().unwrap())
}

/// Registers 张伟 at the tertiary hospital and bills the worked example's lines.
async fn zhang_wei_visit(store: &Store) -> yibao_domain::MdtrtId {
    let details = VisitDetails {
        institution: "H33010000001".parse().unwrap(),
        psn_no: person(0),
        insurance: "310".parse().unwrap(),
        begin: "2026-03-02 09:00:00".parse().unwrap(),
        certificate: Certificate { kind: CertType::IdNumber, number: "330102198503121236".into() },
        his_no: "MZ1".into(),
        dept_code: String::new(),
        dept_name: String::new(),
        doctor_code: String::new(),
        doctor_name: String::new(),
        med_type: Some("11".parse().unwrap()),
        diagnosis_code: None,
        diagnosis_name: None,
        diagnoses: Vec::new(),
        insured_admdvs: None,
    };
    let Outcome::Visit(visit) = store.execute(OpenVisit(details)).await.unwrap() else { panic!() };
    let lines = vec![
        line("1", "DEMO-A-001", "50", "1"),
        line("2", "DEMO-B-001", "100", "1"),
        line("3", "DEMO-C-001", "20", "1"),
    ];
    store
        .execute(UploadLines {
            institution: "H33010000001".parse().unwrap(),
            psn_no: person(0),
            mdtrt_id: visit.mdtrt_id.clone(),
            kind: Some(VisitKind::Outpatient),
            lines,
        })
        .await
        .unwrap();
    visit.mdtrt_id
}

fn settle_command(mdtrt_id: &yibao_domain::MdtrtId, msgid: &str) -> Settle {
    let request = SettleRequest {
        kind: Some(VisitKind::Outpatient),
        declared_medfee: Some("170".parse().unwrap()),
        use_account: true,
        ..SettleRequest::new("H33010000001".parse().unwrap(), person(0), mdtrt_id.clone())
    };
    Settle::new(request, msgid.parse().unwrap(), Treated::Here)
}

async fn balance(store: &Store, index: usize) -> Money {
    let psn = person(index);
    let (current, prior) = store.read(move |r| r.balances(&psn)).await.unwrap();
    current + prior
}

async fn demo_loads_and_reads_back(store: Store) {
    assert!(store.read(|r| r.is_empty()).await.unwrap());
    load_demo(&store).await;
    store.set_meta("dataset", "demo").await.unwrap();
    assert_eq!(store.read(|r| r.meta("dataset")).await.unwrap().as_deref(), Some("demo"));
    assert_eq!(store.read(|r| r.row_count("persons")).await.unwrap(), 8);
    assert_eq!(store.read(|r| r.regions()).await.unwrap().len(), 2);
    let zhang = store.read(|r| r.person_by_id_number("330102198503121236")).await.unwrap().unwrap();
    assert_eq!((zhang.name.as_str(), zhang.psn_no.as_str()), ("张伟", "3301000000000001"));
    assert_eq!(zhang.contribution_base, Some(Money::yuan(8000)));
    assert_eq!(balance(&store, 0).await, Money::yuan(1000));
    assert_eq!(balance(&store, 3).await, Money::ZERO);
    let card = store.read(|r| r.card(&"A10000004".parse().unwrap())).await.unwrap().unwrap();
    assert_eq!(card.card_sn.as_str(), "CSN10000004");
    assert_eq!(store.catalogue().len(), 7);
    assert_eq!(
        store.catalogue().lookup("DEMO-B-002", "2026-03-02".parse().unwrap()).unwrap().name,
        "彩色多普勒超声检查"
    );
    let institution = store.read(|r| r.institution(&"P33010000001".parse().unwrap())).await.unwrap().unwrap();
    assert_eq!(institution.gateway_secret, "demo-P33010000001");
    assert_eq!(institution.level, None);
}

async fn settlement_round_trips_and_dry_run_matches(store: Store) {
    load_demo(&store).await;
    let visit = zhang_wei_visit(&store).await;
    let Reply::Done { outcome: Outcome::Settlement(pre), .. } =
        store.dry_run(Submission::plain(settle_command(&visit, "P1"))).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(balance(&store, 0).await, Money::yuan(1000), "a dry run changes nothing");
    let Outcome::Settlement(settled) = store.execute(settle_command(&visit, "S1")).await.unwrap() else { panic!() };
    assert_eq!(pre.settlement.amounts, settled.settlement.amounts);
    let a = settled.settlement.amounts;
    assert_eq!(
        (a.medfee, a.first_selfpay, a.in_scope, a.account(), a.cash),
        (Money::yuan(170), Money::yuan(10), Money::yuan(140), Money::yuan(170), Money::ZERO)
    );
    let id = settled.settlement.setl_id.clone();
    let stored = store.read(move |r| r.settlement(&id)).await.unwrap().unwrap();
    assert_eq!(stored, settled.settlement, "the settlement reads back exactly as written");
    let visit_id = visit.clone();
    let lines = store.read(move |r| r.lines_of(&visit_id)).await.unwrap();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l.state == yibao_engine::records::LineState::Settled(stored.setl_id.clone())));
    assert_eq!(lines[1].first_selfpay, Money::yuan(10));
    assert_eq!(balance(&store, 0).await, Money::yuan(830));
}

async fn cancel_restores_balances(store: Store) {
    load_demo(&store).await;
    let accounts_before = store.read(|r| r.all_accounts()).await.unwrap();
    let visit = zhang_wei_visit(&store).await;
    let Outcome::Settlement(settled) = store.execute(settle_command(&visit, "S1")).await.unwrap() else { panic!() };
    let cancel = CancelSettlement {
        institution: "H33010000001".parse().unwrap(),
        psn_no: person(0),
        setl_id: settled.settlement.setl_id.clone(),
        mdtrt_id: Some(visit.clone()),
        kind: Some(VisitKind::Outpatient),
        msgid: "C1".parse().unwrap(),
    };
    let Outcome::Settlement(mirror) = store.execute(cancel).await.unwrap() else { panic!() };
    assert_eq!(mirror.settlement.amounts, settled.settlement.amounts.negated());
    let after = store.read(|r| r.all_accounts()).await.unwrap();
    let balances =
        |accounts: &[yibao_ledger::Account]| accounts.iter().map(|a| (a.key.clone(), a.balance())).collect::<Vec<_>>();
    assert_eq!(balances(&after), balances(&accounts_before));
    let id = settled.settlement.setl_id.clone();
    let original = store.read(move |r| r.settlement(&id)).await.unwrap().unwrap();
    assert_eq!(original.status, SettlementStatus::Cancelled { by: mirror.settlement.setl_id.clone() });
    let psn = person(0);
    let accumulators = store.read(move |r| r.accumulators(&psn)).await.unwrap();
    assert!(accumulators.iter().all(|(_, a)| *a == Default::default()), "{accumulators:?}");
}

fn envelope(msgid: &str) -> Envelope {
    Envelope {
        msgid: msgid.parse().unwrap(),
        institution: "H33010000001".parse().unwrap(),
        infno: "2207".into(),
        request_hash: "same".into(),
        reversible: true,
        render: Box::new(|outcome| match outcome {
            Outcome::Settlement(s) => s.settlement.setl_id.to_string().into_bytes(),
            _ => b"other".to_vec(),
        }),
    }
}

async fn same_msgid_twenty_times_concurrently_settles_once(store: Store) {
    load_demo(&store).await;
    let visit = zhang_wei_visit(&store).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        let command = settle_command(&visit, "SAME1");
        tasks.push(tokio::spawn(async move {
            store.submit(Submission { envelope: Some(envelope("SAME1")), command: Box::new(command) }).await
        }));
    }
    let mut bodies = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Reply::Done { body: Some(body), .. } | Reply::Replayed(body) => bodies.push(body),
            Reply::Done { body: None, .. } => panic!("an envelope always renders"),
        }
    }
    bodies.dedup();
    assert_eq!(bodies.len(), 1, "every retry answers the same");
    let filter = SettlementFilter::default();
    assert_eq!(store.read(move |r| r.settlement_totals(&filter)).await.unwrap().count, 1);
    assert_eq!(balance(&store, 0).await, Money::yuan(830));
    // The same msgid with another input is refused and changes nothing.
    let mut changed = envelope("SAME1");
    changed.request_hash = "different".into();
    let refused =
        store.submit(Submission { envelope: Some(changed), command: Box::new(settle_command(&visit, "SAME1")) }).await;
    assert_eq!(refused.unwrap_err().kind, ErrorKind::Conflict);
}

async fn concurrent_settlements_never_overdraw_an_account(store: Store) {
    load_demo(&store).await;
    // 王强 holds 45 yuan: of 200 concurrent 1-yuan purchases exactly 45 are paid from the account.
    let mut tasks = Vec::new();
    for index in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let request = PurchaseRequest {
                his_no: format!("YD{index}"),
                declared_medfee: Some(Money::yuan(1)),
                use_account: true,
                ..PurchaseRequest::new(
                    "P33010000001".parse().unwrap(),
                    person(2),
                    "310".parse().unwrap(),
                    Certificate { kind: CertType::IdNumber, number: "330105199001013458".into() },
                    vec![line("1", "DEMO-A-001", "1", "1")],
                    "2026-03-02 09:00:00".parse().unwrap(),
                )
            };
            let purchase = Purchase::new(request, format!("BUY{index}").parse().unwrap());
            store.execute(purchase).await
        }));
    }
    let mut from_account = Money::ZERO;
    let mut cash = Money::ZERO;
    for task in tasks {
        let Outcome::Settlement(settled) = task.await.unwrap().unwrap() else { panic!() };
        from_account += settled.settlement.amounts.account();
        cash += settled.settlement.amounts.cash;
        assert!(!settled.settlement.balance_after.is_negative());
    }
    assert_eq!(from_account, Money::yuan(45));
    assert_eq!(cash, Money::yuan(155));
    assert_eq!(balance(&store, 2).await, Money::ZERO);
    let payable = AccountKey::InstitutionPayable("P33010000001".parse().unwrap());
    let accounts = store.read(move |r| r.accounts(&[payable])).await.unwrap();
    assert_eq!(accounts[0].balance(), Money::yuan(45));
}

async fn journal_replay_equals_stored_balances(store: Store) {
    load_demo(&store).await;
    let visit = zhang_wei_visit(&store).await;
    store.execute(settle_command(&visit, "S1")).await.unwrap();
    let (accounts, journal) = store.read(|r| Ok((r.all_accounts()?, r.journal()?))).await.unwrap();
    assert!(!journal.is_empty());
    let mismatches = yibao_ledger::verify_replay(accounts.iter(), journal.iter());
    assert!(mismatches.is_empty(), "{mismatches:?}");
    let debits: Money = accounts.iter().map(|a| a.debits_posted).sum();
    let credits: Money = accounts.iter().map(|a| a.credits_posted).sum();
    assert_eq!(debits, credits);
}

async fn queries_page_and_total(store: Store) {
    load_demo(&store).await;
    let page = store.read(|r| r.persons(Some("330100"), None, 1, 2)).await.unwrap();
    assert_eq!(page.total, 7);
    assert_eq!(page.rows.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["李秀英", "王强"]);
    // A search finds the same person by each of what an operator may know of them.
    for text in ["330102198503121236", "3301000000000001", "张伟", "A10000001"] {
        let lookup = yibao_store::PersonLookup::from_text(text).unwrap();
        let found = store.read(move |r| r.persons(None, Some(&lookup), 0, 10)).await.unwrap();
        assert_eq!(
            (found.total, found.rows.iter().map(|p| p.name.as_str()).collect::<Vec<_>>()),
            (1, vec!["张伟"]),
            "{text}"
        );
    }
    let lookup = yibao_store::PersonLookup::from_text("张伟").unwrap();
    let elsewhere = store.read(move |r| r.persons(Some("330200"), Some(&lookup), 0, 10)).await.unwrap();
    assert_eq!(elsewhere.total, 0);
    let visit = zhang_wei_visit(&store).await;
    store.execute(settle_command(&visit, "S1")).await.unwrap();
    let filter = SettlementFilter { institution: Some("H33010000001".parse().unwrap()), ..SettlementFilter::default() };
    let totals = store.read(move |r| r.settlement_totals(&filter)).await.unwrap();
    assert_eq!((totals.count, totals.medfee, totals.account), (1, Money::yuan(170), Money::yuan(170)));
    let audit = store.read(|r| r.audit_log(None, 5)).await.unwrap();
    assert_eq!(audit.len(), 5);
    let candidates = store
        .read(move |r| {
            r.loader().outpatient_visits_since(
                &person(0),
                &"H33010000001".parse().unwrap(),
                "2026-02-24".parse().unwrap(),
            )
        })
        .await
        .unwrap();
    assert_eq!(candidates.into_iter().map(|v| v.mdtrt_id).collect::<Vec<_>>(), vec![visit]);
    let later = store
        .read(move |r| {
            r.loader().outpatient_visits_since(
                &person(0),
                &"H33010000001".parse().unwrap(),
                "2026-03-03".parse().unwrap(),
            )
        })
        .await
        .unwrap();
    assert!(later.is_empty(), "a visit before `since` is not a candidate");
}

/// The hospital counter's stays: inpatient, of this person here, with unsettled lines, summed.
async fn stays_to_settle_sum_unsettled_lines(store: Store) {
    load_demo(&store).await;
    let details = |begin: &str| VisitDetails {
        institution: "H33010000001".parse().unwrap(),
        psn_no: person(0),
        insurance: "310".parse().unwrap(),
        begin: begin.parse().unwrap(),
        certificate: Certificate { kind: CertType::IdNumber, number: "330102198503121236".into() },
        his_no: "ZY1".into(),
        dept_code: String::new(),
        dept_name: String::new(),
        doctor_code: String::new(),
        doctor_name: String::new(),
        med_type: Some("21".parse().unwrap()),
        diagnosis_code: None,
        diagnosis_name: None,
        diagnoses: Vec::new(),
        insured_admdvs: None,
    };
    let mut stays = Vec::new();
    for begin in ["2026-03-01 09:00:00", "2026-03-05 09:00:00", "2026-03-09 09:00:00"] {
        let Outcome::Visit(stay) = store.execute(Admit(details(begin))).await.unwrap() else { panic!() };
        stays.push(stay.mdtrt_id);
    }
    let upload = |stay: &yibao_domain::MdtrtId, lines| UploadLines {
        institution: "H33010000001".parse().unwrap(),
        psn_no: person(0),
        mdtrt_id: stay.clone(),
        kind: Some(VisitKind::Inpatient),
        lines,
    };
    store.execute(upload(&stays[0], vec![line("1", "DEMO-A-003", "300", "1")])).await.unwrap();
    store
        .execute(upload(&stays[1], vec![line("1", "DEMO-A-003", "300", "2"), line("2", "DEMO-A-001", "12.5", "2")]))
        .await
        .unwrap();
    // The third stay has no lines: nothing to settle.
    let (psn, code) = (person(0), "H33010000001".parse().unwrap());
    let found = store.read(move |r| r.stays_to_settle(&psn, &code, 10)).await.unwrap();
    let found: Vec<_> = found.into_iter().map(|(stay, sum)| (stay.mdtrt_id, sum)).collect();
    assert_eq!(found, vec![(stays[1].clone(), Money::yuan(625)), (stays[0].clone(), Money::yuan(300))], "newest first");
    let (psn, code) = (person(0), "H33010000001".parse().unwrap());
    assert_eq!(store.read(move |r| r.stays_to_settle(&psn, &code, 1)).await.unwrap().len(), 1, "at most the limit");
    let (psn, elsewhere) = (person(0), "H33010000002".parse().unwrap());
    assert!(store.read(move |r| r.stays_to_settle(&psn, &elsewhere, 10)).await.unwrap().is_empty(), "only here");
    let (other, code) = (person(1), "H33010000001".parse().unwrap());
    assert!(store.read(move |r| r.stays_to_settle(&other, &code, 10)).await.unwrap().is_empty(), "only this person");
}

/// PostgreSQL admits one writer per database and schema; a closed store releases it, and an
/// opening store waits for a writer that goes away (a server killed a moment ago).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_admits_one_writer_and_a_closed_store_releases_it() {
    let Some(first) = postgres("one_writer").await else { return };
    let url = first.location().to_string();
    let mut impatient = options();
    impatient.writer_lock_wait = std::time::Duration::from_millis(300);
    let refused = Store::open(&url, impatient).await.map(drop);
    assert!(refused.as_ref().is_err_and(|failure| failure.0.contains("another yibao server")), "{refused:?}");
    first.close().await;
    let second = Store::open(&url, options()).await.expect("the closed store released the lock");
    let waiting = tokio::spawn({
        let url = url.clone();
        async move { Store::open(&url, options()).await.map(drop) }
    });
    second.close().await;
    waiting.await.expect("joined").expect("waited until the writer went");
}

/// The agency dashboard's aggregates: fund outlay by day and insurance type, settlements by
/// institution level, the distribution of personal account balances.
async fn dashboard_aggregates(store: Store) {
    load_demo(&store).await;
    let bounds = [Money::yuan(100).fen(), Money::yuan(1_000).fen(), Money::yuan(5_000).fen()];
    // 王强 45; 陈军 500, 赵敏 300, 孙丽 800, 周涛 200; 张伟 1,000, 李秀英 2,000 (刘芳 has no
    // personal account).
    assert_eq!(store.read(move |r| r.balance_distribution(&bounds)).await.unwrap(), vec![1, 4, 2, 0]);
    let visit = zhang_wei_visit(&store).await;
    store.execute(settle_command(&visit, "S1")).await.unwrap();
    assert_eq!(store.read(move |r| r.balance_distribution(&bounds)).await.unwrap(), vec![1, 5, 1, 0], "张伟 830");
    let from: DateTime = "2026-03-01 00:00:00".parse().unwrap();
    let outlay = store.read(move |r| r.fund_outlay_by_day(from)).await.unwrap();
    assert_eq!(outlay, vec![("2026-03-02".to_string(), "310".to_string(), Money::ZERO)], "an account-paid visit");
    let later: DateTime = "2026-03-03 00:00:00".parse().unwrap();
    assert!(store.read(move |r| r.fund_outlay_by_day(later)).await.unwrap().is_empty());
    let levels = store.read(|r| r.settlements_by_level()).await.unwrap();
    assert_eq!(levels.len(), 1);
    assert!(levels[0].0.is_some() && levels[0].1 == 1 && levels[0].2 == Money::yuan(170), "{levels:?}");
}

//! `yibao bench …`: measurements that need a database of realistic size. Timings are printed,
//! never asserted; BENCHMARKS.md records them with the command that produced them.

use std::sync::Arc;
use std::time::Instant;

use yibao_domain::{Admdvs, Money, Month};

use crate::load::per_second;
use yibao_engine::{Submission, demo, generate};
use yibao_store::{Options, Store};

/// Generated persons are submitted this many at a time (the writer commits them in batches).
const IN_FLIGHT: usize = 4_096;

/// The `meta` dataset marker of a benchmark database.
const BENCH_DATASET: &str = "bench";

/// Opens a fresh database for a benchmark: a SQLite file that an earlier benchmark made is
/// replaced (any other existing file is refused, never deleted); a PostgreSQL database (or
/// schema) must hold no yibao data yet.
async fn fresh_store(db: &str, options: Options) -> Result<Store, String> {
    if !db.starts_with("postgres") && std::path::Path::new(db).exists() {
        let existing = Store::open(db, options.clone()).await.map_err(|error| format!("cannot open {db}: {error}"))?;
        let marker = existing.read(|r| r.meta("dataset")).await.map_err(|error| error.to_string())?;
        // Closed before its files go: a connection still open on a deleted WAL fails later.
        existing.close().await;
        if marker.as_deref() != Some(BENCH_DATASET) {
            return Err(format!("{db} exists and is not a benchmark database; name a new file"));
        }
    }
    if !db.starts_with("postgres") {
        for suffix in ["", "-wal", "-shm"] {
            let path = format!("{db}{suffix}");
            if std::path::Path::new(&path).exists() {
                std::fs::remove_file(&path).map_err(|error| format!("cannot remove {path}: {error}"))?;
            }
        }
        if let Some(parent) = std::path::Path::new(db).parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
    }
    let store = Store::open(db, options).await.map_err(|error| format!("cannot open {db}: {error}"))?;
    if !store.read(|r| r.is_empty()).await.map_err(|error| error.to_string())? {
        return Err(format!("{db} already holds data; a benchmark needs an empty database (or a fresh schema)"));
    }
    store.set_meta("dataset", BENCH_DATASET).await.map_err(|error| error.to_string())?;
    Ok(store)
}

/// Loads the demo registry, then `persons` generated persons; returns how long generation took.
pub async fn populate(store: &Store, persons: u64) -> Result<std::time::Duration, String> {
    for command in demo::commands() {
        store.submit(Submission { envelope: None, command }).await.map_err(|error| error.en)?;
    }
    let admdvs: Admdvs = demo::PERSONS[0].admdvs.parse().expect("a demo region");
    let started = Instant::now();
    let mut tasks: tokio::task::JoinSet<Result<(), yibao_engine::EngineError>> = tokio::task::JoinSet::new();
    for n in 0..persons {
        if tasks.len() >= IN_FLIGHT
            && let Some(joined) = tasks.join_next().await
        {
            joined.map_err(|error| error.to_string())?.map_err(|error| error.en)?;
        }
        let handle = store.clone();
        let command = generate::person(n, &admdvs, "bench");
        tasks.spawn(async move { handle.execute(command).await.map(drop) });
        if n > 0 && (n == 10_000 || n % 100_000 == 0) {
            // The planner's statistics follow the growing tables (some servers run without
            // autovacuum).
            store.refresh_statistics().await.map_err(|error| error.to_string())?;
            eprintln!("  {n} persons generated ({:.0?})", started.elapsed());
        }
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|error| error.to_string())?.map_err(|error| error.en)?;
    }
    store.refresh_statistics().await.map_err(|error| error.to_string())?;
    Ok(started.elapsed())
}

/// Pays last month's contributions of every employee, as employers and flexible employees
/// would before the allocation (which credits only paid months): in-service employees by their
/// employer, flexible employees by themselves, in declarations of up to 1,000 persons.
pub async fn pay_contributions(store: &Store, month: Month) -> Result<(), String> {
    use yibao_engine::commands::{CONTRIBUTION_BATCH_MAX, ContributionPeriod, PayContributions};
    use yibao_engine::records::PersonStatus;
    let mut after: Option<yibao_domain::PersonNo> = None;
    loop {
        let from = after.clone();
        let page = store
            .read(move |r| r.person_numbers_after(from.as_ref(), CONTRIBUTION_BATCH_MAX as u64))
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last().cloned() else { break };
        let count = page.len();
        let persons = store
            .read(move |r| page.iter().map(|psn_no| r.person(psn_no)).collect::<Result<Vec<_>, _>>())
            .await
            .map_err(|e| e.to_string())?;
        let mut payers: std::collections::BTreeMap<Option<String>, Vec<_>> = std::collections::BTreeMap::new();
        for person in persons.into_iter().flatten() {
            let monthly = person.person_type.group() == yibao_domain::PersonTypeGroup::InService;
            if monthly && person.status == PersonStatus::Active && person.insured_since <= month.last_day() {
                let (payer, base) = match person.person_type {
                    yibao_domain::PersonType::FlexibleInService => {
                        (None, person.contribution_base.or(Some(Money::yuan(demo::FLEXIBLE_BASE))))
                    }
                    _ => (person.employer.clone(), None),
                };
                payers.entry(payer).or_default().push((person.psn_no, base));
            }
        }
        for (employer, entries) in payers {
            let command = PayContributions {
                employer,
                period: ContributionPeriod::Month(month),
                entries,
                actor: "bench".to_string(),
            };
            store.execute(command).await.map_err(|error| error.en)?;
        }
        after = Some(last);
        if count < CONTRIBUTION_BATCH_MAX {
            break;
        }
    }
    Ok(())
}

/// `yibao bench allocation`: a fresh database with `persons` generated persons and last month's
/// contributions paid, then the monthly allocation of last month over all of them, then the
/// same month again (which must credit nothing).
pub async fn allocation(db: &str, persons: u64, options: Options) -> Result<(), String> {
    let store = fresh_store(db, options).await?;
    eprintln!("generating {persons} persons into {} …", store.location());
    let generation = populate(&store, persons).await?;
    let total = store.read(|r| r.person_count()).await.map_err(|error| error.to_string())?;
    println!(
        "generated {persons} persons in {generation:.1?} ({}/s); {total} persons in all",
        per_second(persons, generation)
    );
    let month: Month = store.now().date().year_month().previous();
    pay_contributions(&store, month).await?;
    for run in ["first run", "second run"] {
        let started = Instant::now();
        let summary =
            yibao_server::allocation::allocate(&store, month, "bench", |_, _| {}).await.map_err(|error| error.en)?;
        let elapsed = started.elapsed();
        println!(
            "allocation {month} ({run}) over {total} persons on {:?}: {elapsed:.1?} ({} persons/s); {} credited {} yuan, {} already, {} not eligible",
            store.dialect(),
            per_second(total, elapsed),
            summary.credited,
            summary.amount,
            summary.already,
            summary.not_eligible
        );
        println!(
            "result {}",
            serde_json::json!({"bench": "allocation", "run": run, "dialect": format!("{:?}", store.dialect()).to_lowercase(),
                "persons": total, "millis": elapsed.as_millis() as u64, "persons_per_s": per_second(total, elapsed) as u64,
                "generation_millis": generation.as_millis() as u64})
        );
    }
    Ok(())
}

/// A fresh database with `persons` generated persons, their accounts credited for last month
/// (its contributions paid first).
pub(crate) async fn prepared(db: &str, persons: u64, options: Options) -> Result<Store, String> {
    let store = fresh_store(db, options).await?;
    eprintln!("generating {persons} persons into {} …", store.location());
    populate(&store, persons).await?;
    let month: Month = store.now().date().year_month().previous();
    pay_contributions(&store, month).await?;
    yibao_server::allocation::allocate(&store, month, "bench", |_, _| {}).await.map_err(|error| error.en)?;
    Ok(store)
}

/// Up to `wanted` insured employees of 330100 (residents are covered only for paid years, and
/// the load's institutions are in 330100), in person-number order.
pub async fn employees(store: &Store, wanted: u64) -> Result<Vec<yibao_engine::records::Person>, String> {
    let mut persons = Vec::new();
    let mut after = None;
    while (persons.len() as u64) < wanted {
        let from = after.clone();
        let page = store.read(move |r| r.person_numbers_after(from.as_ref(), 1000)).await.map_err(|e| e.to_string())?;
        let Some(last) = page.last().cloned() else { break };
        let rows = store
            .read(move |r| page.iter().map(|psn_no| r.person(psn_no)).collect::<Result<Vec<_>, _>>())
            .await
            .map_err(|e| e.to_string())?;
        persons.extend(rows.into_iter().flatten().filter(|person| {
            person.status == yibao_engine::records::PersonStatus::Active
                && !person.insurance.is_resident()
                && person.admdvs.as_str() == "330100"
        }));
        after = Some(last);
    }
    Ok(persons)
}

/// `yibao bench load`: a fresh database with `persons` generated persons (their accounts
/// credited for the month), a `yibao serve` child process on it, and the national-interface load
/// from this process. Prints the server's own peak memory, and a `result` line.
pub async fn load(db: &str, options: crate::load::LoadOptions, store_options: Options) -> Result<(), String> {
    let store = prepared(db, options.persons, store_options).await?;
    let persons = employees(&store, options.persons).await?;
    let total = store.read(|r| r.person_count()).await.map_err(|error| error.to_string())?;
    let dialect = store.dialect();
    store.close().await;
    let log = log_beside(db, "load");
    let server = crate::child::Server::start(db, &log).await?;
    eprintln!(
        "driving {} ({total} persons) for {} s with {} connections …",
        server.address, options.seconds, options.concurrency
    );
    let measured = crate::load::run(persons, &server.address, options).await;
    let peak = server.peak_memory_mib();
    server.kill().await?;
    let measured = measured?;
    match peak {
        Some(peak) => println!("peak memory of the server process: {peak} MiB ({total} persons in the database)"),
        None => println!("peak memory of the server process: unknown here"),
    }
    println!(
        "result {}",
        serde_json::json!({
            "bench": "load", "mix": format!("{:?}", options.mix).to_lowercase(), "dialect": format!("{dialect:?}").to_lowercase(),
            "persons": total, "settlements_per_s": measured.settlements_per_second as u64,
            "messages_per_s": measured.messages_per_second as u64, "p50_us": measured.p50_micros,
            "p99_us": measured.p99_micros, "p999_us": measured.p999_micros, "refused": measured.refused,
            "server_peak_mib": peak,
        })
    );
    Ok(())
}

/// A log file for a benchmark's server child: beside a SQLite file, in ./yibao-data for PostgreSQL.
pub(crate) fn log_beside(db: &str, name: &str) -> std::path::PathBuf {
    match db.starts_with("postgres") {
        true => std::path::PathBuf::from(format!("yibao-data/bench-{name}-server.log")),
        false => std::path::Path::new(db).with_extension("log"),
    }
}

/// `yibao bench reference-sqlite`: the raw ceiling of durable batched inserts (see
/// [`yibao_store::reference`]). Refuses to replace a file that does not end in `.sqlite`.
///
/// # Errors
/// When the file cannot be written.
pub fn reference_sqlite(db: &str, rows_per_commit: usize, seconds: u64) -> Result<(), String> {
    if !db.ends_with(".sqlite") {
        return Err(format!("{db}: the reference file must end in .sqlite (it is replaced)"));
    }
    if let Some(parent) = std::path::Path::new(db).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    let ceiling = yibao_store::reference::sqlite_batched_inserts(std::path::Path::new(db), rows_per_commit, seconds)
        .map_err(|error| error.to_string())?;
    let rows = per_second(ceiling.rows, ceiling.elapsed);
    let commits = per_second(ceiling.commits, ceiling.elapsed);
    println!(
        "reference: rusqlite, WAL, synchronous=FULL, {rows_per_commit} rows a commit: {} rows in {:.1?}: {rows} rows/s, {commits} durable commits/s",
        ceiling.rows, ceiling.elapsed
    );
    println!(
        "result {}",
        serde_json::json!({"bench": "reference-sqlite", "rows_per_commit": rows_per_commit, "rows_per_s": rows as u64, "commits_per_s": commits as u64})
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{db}{suffix}"));
    }
    Ok(())
}

/// Options for a benchmark run: the seed policy, durable commits.
pub fn options(policies: yibao_policy::PolicySet) -> Options {
    Options::new(Arc::new(policies))
}

/// `yibao bench pricing`: the policy engine alone, on one core: bills of `lines` lines (class A,
/// class B with a first self-pay and a price cap, self-funded), each line split and the bill
/// priced as an inpatient settlement of an in-service employee at a tertiary hospital with a
/// personal account. Prints lines priced per second.
///
/// # Errors
/// When the seed policy does not price the bill (a bug).
pub fn pricing(policies: &yibao_policy::PolicySet, lines: usize, seconds: u64) -> Result<(), String> {
    use yibao_domain::{ChargeClass, InstitutionLevel, InsuranceType, MedType, Money, PersonType};
    use yibao_policy::{
        AccountBalances, Accumulators, Admission, CatalogueItem, LineInput, PriceInput, price, split_line,
    };
    let day = yibao_domain::Date::new(2026, 6, 1).expect("valid");
    let region: Admdvs = "330100".parse().expect("valid");
    let resolved = policies.resolve(&region, InsuranceType::EmployeeBasic, day).ok_or("no policy for 330100 310")?;
    let items = [
        CatalogueItem {
            code: "A".into(),
            name: "甲".into(),
            class: ChargeClass::ClassA,
            first_selfpay: "0".parse().expect("valid"),
            price_cap: None,
        },
        CatalogueItem {
            code: "B".into(),
            name: "乙".into(),
            class: ChargeClass::ClassB,
            first_selfpay: "0.1".parse().expect("valid"),
            price_cap: Some("80".parse().expect("valid")),
        },
        CatalogueItem {
            code: "C".into(),
            name: "丙".into(),
            class: ChargeClass::SelfFunded,
            first_selfpay: "0".parse().expect("valid"),
            price_cap: None,
        },
    ];
    let bill: Vec<LineInput> = (0..lines)
        .map(|n| {
            let price: yibao_domain::UnitPrice =
                format!("{}.{:02}", 10 + n * 7 % 190, n * 13 % 100).parse().expect("valid");
            let quantity: yibao_domain::Quantity = format!("{}", 1 + n % 3).parse().expect("valid");
            LineInput {
                serial: n.to_string(),
                code: items[n % 3].code.clone(),
                price,
                quantity,
                amount: price.times(quantity),
            }
        })
        .collect();
    let year_to_date = Accumulators::default();
    let started = Instant::now();
    let mut priced = 0u64;
    let mut fund = Money::ZERO;
    while started.elapsed().as_secs() < seconds {
        for _ in 0..100 {
            let splits: Vec<_> =
                bill.iter().enumerate().map(|(n, line)| split_line(line, Some(&items[n % 3]))).collect();
            let pricing = price(&PriceInput {
                policy: resolved.policy,
                scheme: resolved.scheme,
                insurance: InsuranceType::EmployeeBasic,
                person_type: PersonType::EmployeeInService,
                level: Some(InstitutionLevel::Tertiary),
                med_type: MedType::GENERAL_INPATIENT,
                lines: &splits,
                year_to_date: &year_to_date,
                admission: Admission { counted: false, deductible_paid: Money::ZERO },
                special_disease: None,
                account: Some(AccountBalances { current_year: Money::yuan(1_000), prior_years: Money::ZERO }),
            })
            .map_err(|error| format!("{error:?}"))?;
            fund += pricing.fund;
            priced += lines as u64;
        }
    }
    let elapsed = started.elapsed();
    println!(
        "pricing: {priced} lines in {elapsed:.1?} on one core: {} lines/s ({} bills of {lines} lines/s); fund total {fund}",
        per_second(priced, elapsed),
        per_second(priced / lines.max(1) as u64, elapsed),
    );
    println!(
        "result {}",
        serde_json::json!({"bench": "pricing", "lines": lines, "lines_per_s": per_second(priced, elapsed) as u64,
            "bills_per_s": per_second(priced / lines.max(1) as u64, elapsed) as u64})
    );
    Ok(())
}

/// `yibao bench inprocess`: settlements straight into the store, no HTTP and no JSON: pharmacy
/// purchases (open a visit, bill one line, settle; one command) submitted with their msgid
/// envelope by `concurrency` tasks for `seconds`, on a fresh database with generated persons.
///
/// # Errors
/// When the database cannot be prepared.
pub async fn inprocess(db: &str, options: crate::load::LoadOptions, store_options: Options) -> Result<(), String> {
    use yibao_domain::CertType;
    use yibao_engine::commands::{LineUpload, PurchaseRequest};
    use yibao_engine::records::Certificate;
    let store = prepared(db, options.persons, store_options).await?;
    let persons = employees(&store, options.persons).await?;
    let persons = Arc::new(persons);
    eprintln!("settling for {} s with {} tasks …", options.seconds, options.concurrency);
    let started = Instant::now();
    let until = started + std::time::Duration::from_secs(options.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..options.concurrency {
        let (store, persons) = (store.clone(), persons.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0u64;
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                let person =
                    &persons[usize::try_from((n * 7919 + worker as u64 * 104_729) % persons.len() as u64).unwrap_or(0)];
                let now = store.now();
                let price: yibao_domain::UnitPrice = format!("{}.{:02}", 10 + n % 90, n % 100).parse().expect("valid");
                let quantity: yibao_domain::Quantity = "1".parse().expect("valid");
                let msgid: yibao_domain::MsgId = format!("P33010000001I{worker:04}{n:012}").parse().expect("valid");
                let request = PurchaseRequest {
                    his_no: "YD1".into(),
                    use_account: true,
                    ..PurchaseRequest::new(
                        "P33010000001".parse().expect("valid"),
                        person.psn_no.clone(),
                        person.insurance,
                        Certificate { kind: CertType::IdNumber, number: person.id_number.expose().to_string() },
                        vec![LineUpload::plain("1", "B1", "DEMO-A-001", price, quantity, now)],
                        now,
                    )
                };
                let command = yibao_app::settlement::purchase(request, msgid.clone());
                let idempotency = yibao_app::Idempotency {
                    key: msgid,
                    institution: "P33010000001".parse().expect("valid"),
                    channel: yibao_app::Channel::National("2102".into()),
                    request_hash: format!("bench-{worker}-{n}"),
                    reversible: true,
                };
                let run = yibao_app::Run::Commit(idempotency.envelope(Box::new(|_| b"{}".to_vec())));
                let sent = Instant::now();
                match yibao_app::run(&store, Box::new(command), run).await {
                    Ok(_) => latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX)),
                    Err(_) => refused += 1,
                }
            }
            (latencies, refused)
        });
    }
    let mut latencies = Vec::new();
    let mut refused = 0;
    while let Some(joined) = tasks.join_next().await {
        let (these, failed) = joined.map_err(|error| error.to_string())?;
        latencies.extend(these);
        refused += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |per_mille| crate::load::percentile(&latencies, per_mille);
    println!(
        "in-process on {:?}: {} settlements in {elapsed:.1?} ({}/s), {refused} refused; latency p50 {} p99 {} p99.9 {}",
        store.dialect(),
        latencies.len(),
        per_second(latencies.len() as u64, elapsed),
        at(500),
        at(990),
        at(999)
    );
    let micros = |per_mille| crate::load::percentile_micros(&latencies, per_mille);
    println!(
        "result {}",
        serde_json::json!({"bench": "inprocess", "dialect": format!("{:?}", store.dialect()).to_lowercase(),
            "settlements_per_s": per_second(latencies.len() as u64, elapsed) as u64, "p50_us": micros(500),
            "p99_us": micros(990), "p999_us": micros(999), "refused": refused})
    );
    Ok(())
}

//! The `yibao` binary. Thin: parse arguments, read configuration, start the server.

mod bench;
mod child;
mod config;
mod crash;

/// A faster allocator than glibc's for many small short-lived allocations (JSON in and out,
/// working sets): about a quarter of the server's time under load went to malloc and free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod load;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use yibao_engine::demo;
use yibao_policy::{PolicySet, SEED_POLICY_TOML, parse_policy};
use yibao_server::demo::DemoState;
use yibao_store::{Options, Store};

use config::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "yibao",
    version,
    about = "A city's public medical insurance platform, speaking the national interface."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server: national interface, REST API, portal.
    Serve {
        /// Load the demo dataset (DEMO.md) into its own database, ./yibao-data/demo.db by default.
        #[arg(long)]
        demo: bool,
        /// A SQLite file path or a postgres:// URL.
        #[arg(long)]
        db: Option<String>,
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// A TOML configuration file (default: ./yibao.toml when it exists).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Policy files to load instead of the embedded seed policy (repeatable).
        #[arg(long = "policy")]
        policies: Vec<std::path::PathBuf>,
        /// With --demo: load only this region's institutions and persons, as one deployment of
        /// two (the other region's deployment is configured as a peer).
        #[arg(long, requires = "demo")]
        region: Option<String>,
    },
    /// Credits every eligible personal account for a month (once per person and month:
    /// running it again, or after an interruption, credits nobody twice).
    Allocate {
        /// The month, YYYY-MM.
        #[arg(long)]
        month: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Year end: rolls every current-year personal account of the year just ended into the
    /// prior-years account (once per person and year: safe to run again).
    CloseYear {
        /// The year that ended, e.g. 2026 (run in 2027).
        #[arg(long)]
        year: u16,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Reminds persons whose registrations (special diseases, treatment elsewhere) end within
    /// 30 days (once per registration and end date; `serve` runs it after each midnight).
    Remind {
        /// The day to run for, YYYY-MM-DD (default: today).
        #[arg(long)]
        on: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Benchmarks on generated data (see BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

/// Which database a batch command works on.
#[derive(Debug, clap::Args)]
struct StoreArgs {
    /// A SQLite file path or a postgres:// URL.
    #[arg(long)]
    db: Option<String>,
    /// A TOML configuration file (default: ./yibao.toml when it exists).
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Policy files to load instead of the embedded seed policy (repeatable).
    #[arg(long = "policy")]
    policies: Vec<std::path::PathBuf>,
    /// Use the demo database (./yibao-data/demo.db by default).
    #[arg(long)]
    demo: bool,
}

impl StoreArgs {
    fn config(self) -> Result<Config, String> {
        let overrides = Overrides { db: self.db, listen: None, policies: self.policies };
        Config::load(self.config.as_deref(), overrides, self.demo)
    }
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Generates persons into a fresh database, then times the monthly allocation over all of
    /// them (and a second run, which credits nothing).
    Allocation {
        /// How many persons to generate.
        #[arg(long, default_value_t = 1_000_000)]
        persons: u64,
        /// A SQLite file path (replaced) or a postgres:// URL of an empty database or schema.
        #[arg(long, default_value = "yibao-data/bench-allocation.db")]
        db: String,
    },
    /// Settlements straight into the store (no HTTP, no JSON): pharmacy purchases with their
    /// msgid, from many tasks, on a fresh database with generated persons.
    Inprocess {
        /// How many persons to generate.
        #[arg(long, default_value_t = 10_000)]
        persons: u64,
        /// How long, in seconds.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Concurrent tasks, each submitting one settlement at a time.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// A SQLite file path (replaced) or a postgres:// URL of an empty database or schema.
        #[arg(long, default_value = "yibao-data/bench-inprocess.db")]
        db: String,
    },
    /// The crash harness: a `yibao serve` child under load, killed with SIGKILL at random
    /// moments and restarted, cycle after cycle; then every answered settlement must exist
    /// exactly once, every in-doubt msgid sent again must return the stored answer, and the
    /// ledger's invariants must hold. Fails (exit 1) on the first broken promise.
    Crash {
        /// Kill-and-restart cycles.
        #[arg(long, default_value_t = 20)]
        cycles: u32,
        /// How many persons to generate.
        #[arg(long, default_value_t = 5_000)]
        persons: u64,
        /// Client connections, each sending one message at a time.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// The longest the server runs under load before the kill, in milliseconds (each cycle
        /// picks a random moment from 0 to this).
        #[arg(long, default_value_t = 1_500)]
        max_uptime_ms: u64,
        /// Seed of the random moments and the load (default: from the clock; printed).
        #[arg(long)]
        seed: Option<u64>,
        /// A SQLite file path (replaced) or a postgres:// URL of an empty database or schema.
        #[arg(long, default_value = "yibao-data/bench-crash.db")]
        db: String,
    },
    /// The policy engine alone on one core: lines split and priced per second.
    Pricing {
        /// Lines per bill.
        #[arg(long, default_value_t = 20)]
        lines: usize,
        /// How long, in seconds.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// The reference beside the settlement numbers: the raw ceiling of durable batched inserts
    /// with rusqlite on the same disk (WAL, synchronous=FULL, one writer), rows and commits/s.
    ReferenceSqlite {
        /// Rows per transaction.
        #[arg(long, default_value_t = 100)]
        rows_per_commit: usize,
        /// How long, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The file (replaced).
        #[arg(long, default_value = "yibao-data/bench-reference.sqlite")]
        db: String,
    },
    /// Starts a `yibao serve` child on a fresh database with generated persons and drives it
    /// through the national interface (outpatient 2201+2204+2207, pharmacy 2102, 1101, some 2208).
    Load {
        /// How many persons to generate.
        #[arg(long, default_value_t = 10_000)]
        persons: u64,
        /// How long to drive it, in seconds.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Connections, each sending one message at a time.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// What the connections send.
        #[arg(long, value_enum, default_value_t = load::Mix::Settlements)]
        mix: load::Mix,
        /// A SQLite file path (replaced) or a postgres:// URL of an empty database or schema.
        #[arg(long, default_value = "yibao-data/bench-load.db")]
        db: String,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Checks policy files: each alone and all together (no overlapping scopes).
    Check {
        files: Vec<std::path::PathBuf>,
        /// Also refuse files that cannot be served together (overlapping region, insurance
        /// type and dates).
        #[arg(long)]
        together: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("YIBAO_LOG").unwrap_or_else(|_| "info,yibao=info".into()),
        )
        .with_target(false)
        .init();
    let result = match cli.command {
        Command::Serve { demo, db, listen, config, policies, region } => {
            let overrides = Overrides { db, listen, policies };
            match Config::load(config.as_deref(), overrides, demo) {
                Ok(config) => run(serve(config, demo, region)),
                Err(error) => Err(error),
            }
        }
        Command::Allocate { month, store } => {
            store.config().and_then(|config| run(over_everyone(config, Run::Allocate(month))))
        }
        Command::CloseYear { year, store } => {
            store.config().and_then(|config| run(over_everyone(config, Run::CloseYear(year))))
        }
        Command::Remind { on, store } => store.config().and_then(|config| run(remind(config, on))),
        Command::Bench { command: BenchCommand::Allocation { persons, db } } => {
            load_policies(&[]).and_then(|policies| run(bench::allocation(&db, persons, bench::options(policies))))
        }
        Command::Bench { command: BenchCommand::Inprocess { persons, seconds, concurrency, db } } => {
            let options = load::LoadOptions {
                persons,
                seconds,
                concurrency: concurrency.clamp(1, 16_384),
                mix: load::Mix::Settlements,
            };
            load_policies(&[]).and_then(|policies| run(bench::inprocess(&db, options, bench::options(policies))))
        }
        Command::Bench { command: BenchCommand::Crash { cycles, persons, clients, max_uptime_ms, seed, db } } => {
            let seed = seed.unwrap_or_else(|| {
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs())
            });
            let options = crash::CrashOptions {
                db,
                persons: persons.max(1),
                cycles: cycles.clamp(1, 100_000),
                clients: clients.clamp(1, 1_024),
                max_uptime_ms: max_uptime_ms.min(600_000),
                seed,
            };
            load_policies(&[]).and_then(|policies| run(crash::run(options, bench::options(policies))))
        }
        Command::Bench { command: BenchCommand::ReferenceSqlite { rows_per_commit, seconds, db } } => {
            bench::reference_sqlite(&db, rows_per_commit.clamp(1, 100_000), seconds.clamp(1, 600))
        }
        Command::Bench { command: BenchCommand::Pricing { lines, seconds } } => load_policies(&[])
            .and_then(|policies| bench::pricing(&policies, lines.clamp(1, 20_000), seconds.clamp(1, 600))),
        Command::Bench { command: BenchCommand::Load { persons, seconds, concurrency, mix, db } } => {
            let options = load::LoadOptions { persons, seconds, concurrency: concurrency.clamp(1, 4096), mix };
            load_policies(&[]).and_then(|policies| run(bench::load(&db, options, bench::options(policies))))
        }
        Command::Policy { command: PolicyCommand::Check { files, together } } => check_policies(&files, together),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("yibao: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(future: impl std::future::Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?
        .block_on(future)
}

/// Reads and checks policy files; with none, the embedded seed policy.
fn load_policies(files: &[std::path::PathBuf]) -> Result<PolicySet, String> {
    let mut set = PolicySet::new();
    if files.is_empty() {
        let seed = parse_policy("policies/seed.toml (embedded)", SEED_POLICY_TOML).map_err(|e| e.to_string())?;
        set.add("policies/seed.toml (embedded)", seed).map_err(|e| e.to_string())?;
        return Ok(set);
    }
    for file in files {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|error| format!("cannot read {name}: {error}"))?;
        let policy = parse_policy(&name, &text).map_err(|e| e.to_string())?;
        set.add(&name, policy).map_err(|e| e.to_string())?;
    }
    Ok(set)
}

/// Checks each file on its own (every problem refuses it, with file, line and field); then
/// says whether they can be served together (no two cover the same region, insurance type and
/// day). With `together`, files that cannot are an error too.
fn check_policies(files: &[std::path::PathBuf], together: bool) -> Result<(), String> {
    if files.is_empty() {
        return Err("name at least one policy file".into());
    }
    let mut failed = Vec::new();
    for file in files {
        match load_policies(std::slice::from_ref(file)) {
            Ok(set) => {
                for policy in set.policies() {
                    println!(
                        "ok  {}  {}  {}  ({} scopes, {} schemes)",
                        file.display(),
                        policy.label(),
                        policy.name_zh,
                        policy.scopes.len(),
                        policy.schemes.len()
                    );
                }
            }
            Err(error) => {
                println!("error  {error}");
                failed.push(file.display().to_string());
            }
        }
    }
    if !failed.is_empty() {
        return Err(format!("{} of {} policy files refused: {}", failed.len(), files.len(), failed.join(", ")));
    }
    if files.len() > 1 {
        match load_policies(files) {
            Ok(_) => println!("ok  the {} files can be served together", files.len()),
            Err(error) if together => return Err(format!("they cannot be served together: {error}")),
            Err(error) => println!("note  each is fine, but they cannot be served together: {error}"),
        }
    }
    Ok(())
}

async fn serve(config: Config, demo_mode: bool, region: Option<String>) -> Result<(), String> {
    if let Some(region) = &region
        && !["330100", "330200"].contains(&region.as_str())
    {
        return Err(format!("--region {region}: the demo holds 330100 and 330200"));
    }
    let mut peers = Vec::new();
    for peer in &config.peers {
        let admdvs = peer.admdvs.parse().map_err(|error| format!("peer {}: {error}", peer.admdvs))?;
        peers.push(yibao_server::peer::Peer::new(admdvs, peer.url.clone(), peer.secret.clone())?);
    }
    let policies = load_policies(&config.policies)?;
    let mut options = Options::new(Arc::new(policies));
    options.synchronous = config.synchronous;
    let secrets = yibao_server::Secrets::new(config::server_secret(&config)?)?;
    let store =
        Store::open(&config.db, options).await.map_err(|error| format!("cannot open {}: {error}", config.db))?;
    if demo_mode {
        match yibao_server::demo::ensure_region(&store, &secrets, region.as_deref()).await? {
            DemoState::Loaded => tracing::info!(db = %store.location(), "demo dataset loaded"),
            DemoState::AlreadyThere => tracing::info!(db = %store.location(), "demo dataset already present"),
        }
    }
    let application = yibao_server::Application::build(store.clone(), secrets, &config.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", config.listen))?
        .with_peers(yibao_server::peer::Peers::new(peers));
    let application = match &config.public_url {
        Some(url) => application.with_public_url(url),
        None => application,
    }
    .with_trusted_proxies(config.trusted_proxies.clone());
    let address = application.local_addr().map_err(|error| error.to_string())?;
    let _reminders = yibao_server::reminders::spawn_daily(store.clone());
    let hooks = config
        .webhooks
        .iter()
        .map(|settings| yibao_server::webhooks::Webhook::new(settings.clone()))
        .collect::<Result<Vec<_>, String>>()?;
    let _webhooks = yibao_server::webhooks::spawn(store.clone(), hooks);
    print_banner(&address.to_string(), store.location(), demo_mode);
    application.run_until(shutdown_signal()).await.map_err(|error| format!("server failed: {error}"))?;
    tracing::info!("stopped");
    Ok(())
}

async fn remind(config: Config, on: Option<String>) -> Result<(), String> {
    let policies = load_policies(&config.policies)?;
    let mut options = Options::new(Arc::new(policies));
    options.synchronous = config.synchronous;
    let store =
        Store::open(&config.db, options).await.map_err(|error| format!("cannot open {}: {error}", config.db))?;
    let on: yibao_domain::Date = match on {
        Some(text) => text.parse().map_err(|error| format!("--on: {error}"))?,
        None => store.now().date(),
    };
    let sent = yibao_server::reminders::remind_expiring(&store, on)
        .await
        .map_err(|error| format!("stopped: {}; run it again to continue", error.en))?;
    println!(
        "{on}: {sent} reminders of registrations ending by {}",
        on.plus_days(yibao_engine::commands::REMINDER_DAYS)
    );
    store.close().await;
    Ok(())
}

/// A run over every insured person.
enum Run {
    Allocate(String),
    CloseYear(u16),
}

async fn over_everyone(config: Config, what: Run) -> Result<(), String> {
    use std::io::{IsTerminal, Write};
    let policies = load_policies(&config.policies)?;
    let mut options = Options::new(Arc::new(policies));
    options.synchronous = config.synchronous;
    let store =
        Store::open(&config.db, options).await.map_err(|error| format!("cannot open {}: {error}", config.db))?;
    let terminal = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let progress = |done: u64, total: u64| {
        if terminal {
            let width = 40;
            let filled = usize::try_from(done.saturating_mul(width) / total.max(1)).unwrap_or(0);
            eprint!("\r[{}{}] {done}/{total} persons", "#".repeat(filled), "-".repeat(40 - filled.min(40)));
            let _ = std::io::stderr().flush();
        }
    };
    let stopped = |error: yibao_engine::EngineError| match error.kind {
        yibao_engine::ErrorKind::Internal | yibao_engine::ErrorKind::Unavailable => {
            format!("stopped: {}; run it again to continue where it stopped", error.en)
        }
        _ => format!("refused: {}", error.en),
    };
    let (summary, done, moved, already, nothing) = match what {
        Run::Allocate(month) => {
            let month: yibao_domain::Month = month.parse().map_err(|error| format!("--month: {error}"))?;
            let summary =
                yibao_server::allocation::allocate(&store, month, "cli:allocate", progress).await.map_err(stopped)?;
            (summary, format!("allocated {month}"), "accounts credited", "already credited", "not eligible")
        }
        Run::CloseYear(year) => {
            let summary = yibao_server::allocation::close_year(&store, year, "cli:close-year", progress)
                .await
                .map_err(stopped)?;
            (
                summary,
                format!("closed {year}"),
                "accounts rolled over",
                "already rolled over",
                "with nothing to roll over",
            )
        }
    };
    if terminal {
        eprintln!();
    }
    println!(
        "{done}: {} {moved}, {} yuan; {} {already}; {} {nothing} ({:.1?})",
        summary.credited,
        summary.amount,
        summary.already,
        summary.not_eligible,
        started.elapsed()
    );
    if summary.unpaid > 0 {
        println!("{} of them with the month's contribution unpaid: credited when the arrears are paid", summary.unpaid);
    }
    for skipped in &summary.skipped {
        println!("  skipped {} {} ({})", skipped.psn_no, skipped.reason.code(), skipped.reason.name_zh());
    }
    if summary.not_eligible > summary.skipped.len() as u64 {
        println!(
            "  ({} more without anything due, or beyond the first {} listed)",
            summary.not_eligible - summary.skipped.len() as u64,
            yibao_engine::commands::SKIPPED_LISTED
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

fn print_banner(address: &str, db: &str, demo_mode: bool) {
    let base = format!("http://{address}");
    println!("yibao {} listening on {base}", env!("CARGO_PKG_VERSION"));
    println!("  database            {db}");
    println!("  national interface  {base}/fsi/api/rsfComIfsService/callService");
    println!("  REST API            {base}/api/v1/  (OpenAPI: {base}/api/v1/openapi.json)");
    println!("  health, metrics     {base}/healthz  {base}/metrics");
    println!("  start here          {base}/");
    println!(
        "  desks               {base}/portal (insured persons)  {base}/counter (hospitals, pharmacies)  {base}/agency (operators)"
    );
    if !demo_mode {
        return;
    }
    println!();
    println!("demo institutions (x-tif-paasid = code, secret = demo-<code>):");
    for (code, name, _, level, admdvs) in demo::INSTITUTIONS {
        let level = level.map_or("pharmacy", |level| level.code());
        println!("  {code}  {}  {name} ({level}, {admdvs})", demo::gateway_secret(code));
    }
    println!();
    println!("demo insured persons (portal password {}, card PIN {}):", demo::PASSWORD, demo::CARD_PIN);
    for person in &demo::PERSONS {
        let balance = person.balance.map_or_else(|| "no account".to_string(), |yuan| format!("balance {yuan}.00"));
        let card_sn = demo::card_sn(person.card_no);
        println!(
            "  {}  {}  {} {} {}  card {} / {card_sn}  {balance}{}",
            person.id_number,
            person.name,
            person.admdvs,
            person.insurance,
            person.person_type,
            person.card_no,
            match (person.never_logged_in, person.arrears_months) {
                (true, _) => "  (initial password only)".to_string(),
                (false, 0) => String::new(),
                (false, months) => format!("  (employer owes the last {months} months)"),
            }
        );
    }
    println!();
    println!("agency operator: {} / {}", demo::OPERATOR, demo::PASSWORD);
    println!(
        "agency reviewer (approves what others propose; a reimbursement of 李秀英 awaits): {} / {}",
        demo::REVIEWER,
        demo::PASSWORD
    );
}

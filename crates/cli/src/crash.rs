//! `yibao bench crash`: the crash harness. Starts `yibao serve` as a child process on a
//! database with generated persons, drives settlements through the national interface from
//! several connections, and `kill -9`s the server at a random moment, cycle after cycle. Then it
//! checks what the clients saw against what the database holds:
//!
//! - every message answered with `infcode 0` is stored exactly once, with the very bytes the
//!   client received, and every settlement it reported exists (cancelled where a 2208 said so);
//! - every message left without an answer (in doubt), sent again with the same msgid, returns
//!   the stored answer where the first attempt had been applied, and is applied now where not;
//! - no settlement is half-applied (each record has its `setl/<id>` transfer and each such
//!   transfer its record), no msgid made two settlements, and the ledger's invariants hold
//!   (every account equals the replay of the journal, debits equal credits, no personal
//!   account below zero).
//!
//! Prints what it saw; returns an error (non-zero exit) on the first broken promise.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use serde_json::{Value, json};
use yibao_domain::{MsgId, SetlId};
use yibao_engine::records::SettlementStatus;
use yibao_store::{SettlementFilter, Store};

use crate::child::Server;
use crate::load::{Client, Dice, HOSPITAL, Insured, PHARMACY, cancellation};

/// What one run is asked to do.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    pub db: String,
    pub persons: u64,
    pub cycles: u32,
    pub clients: usize,
    /// The longest a server lives under load before it is killed, in milliseconds.
    pub max_uptime_ms: u64,
    pub seed: u64,
}

/// One message sent, and what came of it.
#[derive(Debug, Clone)]
struct Sent {
    institution: &'static str,
    infno: &'static str,
    msgid: String,
    input: Value,
    outcome: Outcome,
}

#[derive(Debug, Clone)]
enum Outcome {
    /// Answered (infcode 0 or a refusal): the exact bytes.
    Answered(Bytes),
    /// No answer: the connection died with the server.
    InDoubt,
}

fn infcode(body: &[u8]) -> Option<i64> {
    serde_json::from_slice::<Value>(body).ok()?["infcode"].as_i64()
}

/// One client connection's life: sends until its server dies; returns what it sent.
struct Worker {
    index: usize,
    serial: u64,
    dice: Dice,
    /// The last outpatient settlement this client made and nobody cancelled: (setl_id, mdtrt_id, psn_no).
    last: Option<(String, String, String)>,
}

impl Worker {
    fn msgid(&mut self, code: &str) -> String {
        self.serial += 1;
        format!("{code}K{:04}{:012}", self.index, self.serial)
    }

    /// Sends one message; `None` when no answer came (the server is gone).
    async fn send(
        &mut self,
        client: &mut Client,
        sent: &mut Vec<Sent>,
        institution: &'static str,
        infno: &'static str,
        input: Value,
    ) -> Option<Value> {
        let msgid = self.msgid(institution);
        let answer = client.exchange(institution, infno, &msgid, &input).await.ok();
        let outcome = answer.clone().map_or(Outcome::InDoubt, Outcome::Answered);
        sent.push(Sent { institution, infno, msgid, input, outcome });
        let answer: Value = serde_json::from_slice(&answer?).ok()?;
        Some(answer)
    }

    /// Runs against `address` until the connection breaks.
    async fn run(mut self, address: String, persons: Arc<Vec<Insured>>) -> (Worker, Vec<Sent>) {
        let mut sent = Vec::new();
        let Ok(mut client) = Client::connect(&address, self.index).await else { return (self, sent) };
        loop {
            let person = persons[usize::try_from(self.dice.below(persons.len() as u64)).unwrap_or(0)].clone();
            let price = format!("{}.{:02}", 5 + self.dice.below(200), self.dice.below(100));
            let roll = self.dice.below(100);
            let alive = match roll {
                0..50 => {
                    let input = person.purchase(self.serial + 1, &price);
                    self.send(&mut client, &mut sent, PHARMACY, "2102", input).await.is_some()
                }
                50..90 => self.outpatient(&mut client, &mut sent, &person, &price).await,
                90..97 => match self.last.take() {
                    Some((setl_id, mdtrt_id, psn_no)) => {
                        let input = cancellation(&setl_id, &mdtrt_id, &psn_no);
                        self.send(&mut client, &mut sent, HOSPITAL, "2208", input).await.is_some()
                    }
                    None => true,
                },
                _ => {
                    let input = person.query();
                    self.send(&mut client, &mut sent, HOSPITAL, "1101", input).await.is_some()
                }
            };
            if !alive {
                return (self, sent);
            }
        }
    }

    /// 2201, 2204, 2207 for one visit; false when the server stopped answering.
    async fn outpatient(&mut self, client: &mut Client, sent: &mut Vec<Sent>, person: &Insured, price: &str) -> bool {
        let input = person.registration();
        let Some(registered) = self.send(client, sent, HOSPITAL, "2201", input).await else { return false };
        let Some(mdtrt_id) = registered["output"]["data"]["mdtrt_id"].as_str().map(str::to_string) else {
            return true;
        };
        let input = person.visit_line(self.serial + 1, &mdtrt_id, price);
        let Some(uploaded) = self.send(client, sent, HOSPITAL, "2204", input).await else { return false };
        if uploaded["infcode"] != json!(0) {
            return true;
        }
        let input = person.settlement(&mdtrt_id, price);
        let Some(settled) = self.send(client, sent, HOSPITAL, "2207", input).await else { return false };
        if let Some(setl_id) = settled["output"]["setlinfo"]["setl_id"].as_str() {
            self.last = Some((setl_id.to_string(), mdtrt_id, person.psn_no.clone()));
        }
        true
    }
}

/// Runs the harness.
///
/// # Errors
/// On the first broken promise (or when the harness itself cannot run).
pub async fn run(options: CrashOptions, store_options: yibao_store::Options) -> Result<(), String> {
    let started = Instant::now();
    let persons: Vec<Insured> = {
        let store = crate::bench::prepared(&options.db, options.persons, store_options.clone()).await?;
        let persons = crate::bench::employees(&store, options.persons).await?.iter().map(Insured::of).collect();
        store.close().await;
        persons
    };
    let persons = Arc::new(persons);
    let log = crate::bench::log_beside(&options.db, "crash");
    println!(
        "crash harness: {} persons, {} clients, {} cycles, seed {} (server log {})",
        persons.len(),
        options.clients,
        options.cycles,
        options.seed,
        log.display()
    );
    let mut chaos = Dice(options.seed | 1);
    let mut workers: Vec<Worker> = (0..options.clients)
        .map(|index| Worker {
            index,
            serial: 0,
            dice: Dice((options.seed ^ ((index as u64 + 1) * 0x9E37_79B9)) | 1),
            last: None,
        })
        .collect();
    let mut sent: Vec<Sent> = Vec::new();
    for cycle in 1..=options.cycles {
        let server = Server::start(&options.db, &log).await?;
        let mut running = tokio::task::JoinSet::new();
        for worker in workers.drain(..) {
            running.spawn(worker.run(server.address.clone(), persons.clone()));
        }
        // A random moment: sometimes at once, mostly somewhere in the middle of the load.
        let uptime = chaos.below(options.max_uptime_ms + 1);
        tokio::time::sleep(Duration::from_millis(uptime)).await;
        server.kill().await?;
        let before = sent.len();
        while let Some(joined) = running.join_next().await {
            let (worker, these) = joined.map_err(|error| format!("a client failed: {error}"))?;
            workers.push(worker);
            sent.extend(these);
        }
        workers.sort_by_key(|worker| worker.index);
        let in_doubt = sent[before..].iter().filter(|s| matches!(s.outcome, Outcome::InDoubt)).count();
        println!(
            "  cycle {cycle:>3}: killed after {uptime:>4} ms; {} messages, {in_doubt} in doubt",
            sent.len() - before
        );
    }
    check(&options, store_options, &log, &mut sent).await?;
    println!("crash harness passed in {:.1?}", started.elapsed());
    Ok(())
}

/// Retries what is in doubt, then compares everything the clients saw with the database.
async fn check(
    options: &CrashOptions,
    store_options: yibao_store::Options,
    log: &std::path::Path,
    sent: &mut [Sent],
) -> Result<(), String> {
    // What the database holds for each in-doubt msgid before anything is sent again.
    let store = Store::open(&options.db, store_options.clone()).await.map_err(|error| error.to_string())?;
    let mut stored_before: HashMap<String, Option<Vec<u8>>> = HashMap::new();
    for item in sent.iter().filter(|s| matches!(s.outcome, Outcome::InDoubt)) {
        let msgid: MsgId = item.msgid.parse().map_err(|error| format!("{}: {error:?}", item.msgid))?;
        let message = store.read(move |r| r.message(&msgid)).await.map_err(|error| error.to_string())?;
        stored_before.insert(item.msgid.clone(), message.map(|m| m.response));
    }
    store.close().await;
    let applied = stored_before.values().filter(|m| m.is_some()).count();
    println!(
        "in doubt: {} messages ({applied} had been applied before the kill, {} had not)",
        stored_before.len(),
        stored_before.len() - applied
    );

    // Send each in-doubt message again (in the order first sent), and a sample of answered ones.
    let server = Server::start(&options.db, log).await?;
    let mut client = Client::connect(&server.address, 9_999).await?;
    let mut replayed = 0;
    for item in sent.iter_mut() {
        let answered = match &item.outcome {
            Outcome::Answered(bytes) => Some(bytes.clone()),
            Outcome::InDoubt => None,
        };
        let sample = answered.is_some() && replayed < 500 && item.infno != "1101";
        if answered.is_some() && !sample {
            continue;
        }
        let again = match client.exchange(item.institution, item.infno, &item.msgid, &item.input).await {
            Ok(again) => again,
            Err(error) => return Err(format!("{} {} sent again: no answer: {error}", item.infno, item.msgid)),
        };
        match (answered, stored_before.get(&item.msgid)) {
            (Some(first), _) => {
                replayed += 1;
                if again != first {
                    return Err(format!(
                        "{} {}: sent again, answered differently:\n  first {}\n  again {}",
                        item.infno,
                        item.msgid,
                        String::from_utf8_lossy(&first),
                        String::from_utf8_lossy(&again)
                    ));
                }
            }
            (None, Some(Some(stored))) if again.as_ref() != stored.as_slice() => {
                return Err(format!(
                    "{} {}: applied before the kill, but sending it again did not return the stored answer:\n  stored {}\n  again  {}",
                    item.infno,
                    item.msgid,
                    String::from_utf8_lossy(stored),
                    String::from_utf8_lossy(&again)
                ));
            }
            (None, _) => item.outcome = Outcome::Answered(again),
        }
    }
    server.kill().await?;
    println!("sent again: every in-doubt message, and {replayed} answered ones (same bytes)");

    // Refusals: none expected (the load only asks for what the policy allows).
    let refused: Vec<&Sent> =
        sent.iter().filter(|s| matches!(&s.outcome, Outcome::Answered(body) if infcode(body) != Some(0))).collect();
    if let Some(first) = refused.first() {
        let Outcome::Answered(body) = &first.outcome else { unreachable!("filtered") };
        return Err(format!(
            "{} of {} messages refused, e.g. {} {}: {}",
            refused.len(),
            sent.len(),
            first.infno,
            first.msgid,
            String::from_utf8_lossy(body)
        ));
    }

    // The database against the answers.
    let store = Store::open(&options.db, store_options).await.map_err(|error| error.to_string())?;
    let mut settled: HashMap<String, String> = HashMap::new();
    let mut cancelled: HashSet<String> = HashSet::new();
    for item in sent.iter() {
        let Outcome::Answered(body) = &item.outcome else { unreachable!("all answered now") };
        if item.infno == "1101" {
            continue;
        }
        let msgid: MsgId = item.msgid.parse().map_err(|error| format!("{}: {error:?}", item.msgid))?;
        let message = store
            .read(move |r| r.message(&msgid))
            .await
            .map_err(|error| error.to_string())?
            .ok_or_else(|| format!("{} {}: answered, but not stored", item.infno, item.msgid))?;
        if message.response.as_slice() != body.as_ref() {
            return Err(format!(
                "{} {}: the stored answer differs from the one the client got",
                item.infno, item.msgid
            ));
        }
        let answer: Value = serde_json::from_slice(body).map_err(|error| error.to_string())?;
        match item.infno {
            "2102" | "2207" => {
                let setl_id = answer["output"]["setlinfo"]["setl_id"]
                    .as_str()
                    .ok_or_else(|| format!("{} {}: no setl_id in the answer", item.infno, item.msgid))?;
                settled.insert(setl_id.to_string(), item.msgid.clone());
            }
            "2208" => {
                cancelled.insert(item.input["data"]["setl_id"].as_str().unwrap_or_default().to_string());
            }
            _ => {}
        }
    }
    let (settlements, journal, accounts) = store
        .read(|r| {
            let mut all = Vec::new();
            loop {
                let page = r.settlements(&SettlementFilter::default(), all.len() as u64, 1_000)?;
                let done = page.rows.len() < 1_000;
                all.extend(page.rows);
                if done {
                    break;
                }
            }
            Ok((all, r.journal()?, r.all_accounts()?))
        })
        .await
        .map_err(|error| error.to_string())?;
    store.close().await;

    let mut by_msgid: HashMap<&str, &SetlId> = HashMap::new();
    let records: HashMap<&str, &yibao_engine::records::Settlement> =
        settlements.iter().map(|s| (s.setl_id.as_str(), s)).collect();
    for record in &settlements {
        if let Some(other) = by_msgid.insert(record.msgid.as_str(), &record.setl_id) {
            return Err(format!("msgid {} made two settlement records: {other} and {}", record.msgid, record.setl_id));
        }
    }
    for (setl_id, msgid) in &settled {
        let record = records
            .get(setl_id.as_str())
            .ok_or_else(|| format!("{msgid}: settlement {setl_id} answered but missing"))?;
        if record.msgid.as_str() != msgid {
            return Err(format!("settlement {setl_id}: made by {}, answered to {msgid}", record.msgid));
        }
        let should_be_cancelled = cancelled.contains(setl_id);
        if record.is_in_force() == should_be_cancelled {
            return Err(format!(
                "settlement {setl_id}: status {:?}, the clients saw cancelled = {should_be_cancelled}",
                record.status
            ));
        }
    }
    // Not half-applied: an original with an insurer part has its `setl/<id>` transfer, a
    // cancelled one its mirror record and its `setl-cancel/<id>` transfer; no transfer without
    // its record.
    let transfers: HashSet<&str> = journal.iter().map(|t| t.id.as_str()).collect();
    for record in &settlements {
        let id = record.setl_id.as_str();
        let insurer_part = record.amounts.insurer_part();
        match &record.status {
            SettlementStatus::Mirror { of } => {
                let original = records.get(of.as_str()).ok_or_else(|| format!("mirror {id} of a missing {of}"))?;
                if original.status != (SettlementStatus::Cancelled { by: record.setl_id.clone() }) {
                    return Err(format!("mirror {id} of {of}, which is {:?}", original.status));
                }
            }
            status => {
                if insurer_part.is_positive() != transfers.contains(format!("setl/{id}").as_str()) {
                    return Err(format!(
                        "settlement {id} (insurer part {insurer_part}) and its transfer disagree: half-applied"
                    ));
                }
                if let SettlementStatus::Cancelled { by } = status {
                    if !records.contains_key(by.as_str()) {
                        return Err(format!("settlement {id} cancelled by a missing mirror {by}"));
                    }
                    if insurer_part.is_positive() != transfers.contains(format!("setl-cancel/{id}").as_str()) {
                        return Err(format!(
                            "cancelled settlement {id} and its reversing transfer disagree: half-applied"
                        ));
                    }
                }
            }
        }
    }
    for transfer in &journal {
        let id = transfer.id.as_str();
        let record = match (id.strip_prefix("setl/"), id.strip_prefix("setl-cancel/")) {
            (Some(setl_id), _) => records.get(setl_id).filter(|r| !matches!(r.status, SettlementStatus::Mirror { .. })),
            (_, Some(setl_id)) => {
                records.get(setl_id).filter(|r| matches!(r.status, SettlementStatus::Cancelled { .. }))
            }
            _ => continue,
        };
        if record.is_none() {
            return Err(format!("transfer {id} has no settlement record to match: half-applied"));
        }
    }
    let mismatches = yibao_ledger::verify_replay(accounts.iter(), journal.iter());
    if let Some(first) = mismatches.first() {
        return Err(format!("{} accounts differ from the journal's replay, e.g. {:?}", mismatches.len(), first));
    }
    let debits: yibao_domain::Money = accounts.iter().map(|a| a.debits_posted).sum();
    let credits: yibao_domain::Money = accounts.iter().map(|a| a.credits_posted).sum();
    if debits != credits {
        return Err(format!("debits {debits} differ from credits {credits}"));
    }
    if let Some(negative) = accounts.iter().find(|a| a.key.must_not_go_negative() && a.balance().is_negative()) {
        return Err(format!("{} went below zero: {}", negative.key, negative.balance()));
    }
    println!(
        "checked: {} messages answered and stored once with the same bytes; {} settlements ({} cancelled) all present; \
         {} settlement records, none half-applied; ledger of {} accounts and {} transfers replays exactly, debits = credits = {debits}",
        sent.len(),
        settled.len(),
        cancelled.len(),
        settlements.len(),
        accounts.len(),
        journal.len()
    );
    Ok(())
}

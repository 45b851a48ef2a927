//! `yibao bench load`: drives real settlements through the national interface, signed as an
//! HIS signs them, against a server started in this process on a fresh database with generated
//! persons. The mix: outpatient visits (2201 + 2204 + 2207), pharmacy purchases (2102), person
//! queries (1101) and some cancellations (2208). Prints throughput, latency percentiles, errors
//! and the process's peak memory. Timings are printed, never asserted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(crate) const HOSPITAL: &str = "H33010000001";
pub(crate) const PHARMACY: &str = "P33010000001";

/// What one run is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    pub persons: u64,
    pub seconds: u64,
    pub concurrency: usize,
    pub mix: Mix,
}

/// What the connections send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// 60% outpatient visits (2201 + 2204 + 2207), 20% pharmacy purchases (2102), 15% person
    /// queries (1101), 5% cancellations (2208).
    Settlements,
    /// Person queries (1101) only.
    Queries,
}

/// One insured person the load uses, and the national-interface inputs that name them.
#[derive(Debug, Clone)]
pub(crate) struct Insured {
    pub(crate) psn_no: String,
    id_number: String,
    insutype: String,
}

impl Insured {
    pub(crate) fn of(person: &yibao_engine::records::Person) -> Insured {
        Insured {
            psn_no: person.psn_no.to_string(),
            id_number: person.id_number.expose().to_string(),
            insutype: person.insurance.to_string(),
        }
    }

    /// 2102: a pharmacy purchase of one line (`serial`) at `price`.
    pub(crate) fn purchase(&self, serial: u64, price: &str) -> Value {
        json!({"data": {"psn_no": self.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": self.id_number,
            "begntime": "2026-11-23 11:00:00", "medfee_sumamt": number(price), "ipt_otp_no": "YD1", "med_type": "41",
            "insutype": self.insutype, "psn_setlway": "01", "acct_used_flag": "1", "invono": "",
            "fulamt_ownpay_amt": 0, "overlmt_selfpay": 0, "preselfpay_amt": 0, "inscp_scp_amt": 0},
            "feedetail": [line(serial, "", &self.psn_no, "DEMO-A-001", price)]})
    }

    /// 2201: an outpatient registration.
    pub(crate) fn registration(&self) -> Value {
        json!({"data": {"psn_no": self.psn_no, "insutype": self.insutype, "begntime": "2026-11-23 10:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": self.id_number, "ipt_otp_no": "MZ1", "atddr_no": "D001",
            "dr_name": "医生", "dept_code": "A01", "dept_name": "内科", "caty": "A01"}})
    }

    /// 2204: one consultation line (`serial`) of the visit.
    pub(crate) fn visit_line(&self, serial: u64, mdtrt_id: &str, price: &str) -> Value {
        json!({"feedetail": [line(serial, mdtrt_id, &self.psn_no, "DEMO-A-002", price)]})
    }

    /// 2207: the visit's settlement.
    pub(crate) fn settlement(&self, mdtrt_id: &str, price: &str) -> Value {
        json!({"data": {"psn_no": self.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": self.id_number,
            "med_type": "11", "medfee_sumamt": number(price), "psn_setlway": "01", "mdtrt_id": mdtrt_id,
            "chrg_bchno": "B001", "acct_used_flag": "1", "insutype": self.insutype}})
    }

    /// 1101: who the person is.
    pub(crate) fn query(&self) -> Value {
        json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": self.id_number, "psn_cert_type": "01",
            "certno": self.id_number}})
    }
}

/// 2208: cancel a settlement.
pub(crate) fn cancellation(setl_id: &str, mdtrt_id: &str, psn_no: &str) -> Value {
    json!({"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}})
}

/// What the workers saw.
#[derive(Debug, Default)]
struct Tally {
    /// Per message: (transaction, microseconds, answered with infcode 0).
    calls: Vec<(&'static str, u32, bool)>,
    settlements: u64,
    errors: Vec<String>,
}

/// A tiny deterministic generator (xorshift), so runs are comparable.
pub(crate) struct Dice(pub(crate) u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub(crate) struct Client {
    address: String,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    worker: usize,
    pub(crate) serial: u64,
}

impl Client {
    pub(crate) async fn connect(address: &str, worker: usize) -> Result<Client, String> {
        let stream = tokio::net::TcpStream::connect(address).await.map_err(|error| error.to_string())?;
        stream.set_nodelay(true).map_err(|error| error.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|error| error.to_string())?;
        tokio::spawn(connection);
        Ok(Client { address: address.to_string(), sender, worker, serial: 0 })
    }

    /// Sends one message as institution `code`, signed as an HIS signs it (a fresh nonce and
    /// timestamp each time, so the same msgid can be sent again); the answer's exact bytes. An
    /// error means no answer arrived (the message is in doubt).
    pub(crate) async fn exchange(
        &mut self,
        code: &str,
        infno: &str,
        msgid: &str,
        input: &Value,
    ) -> Result<Bytes, String> {
        self.serial += 1;
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())
            .to_string();
        let nonce = format!("w{}n{}", self.worker, self.serial);
        let digest = Sha256::digest(format!("{timestamp}demo-{code}{nonce}{timestamp}"));
        let signature: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let envelope = json!({
            "infno": infno, "msgid": msgid, "mdtrtarea_admvs": "330100", "insuplc_admdvs": "330100",
            "recer_sys_code": "YBXT", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0",
            "opter_type": "1", "opter": "001", "opter_name": "bench", "inf_time": "2026-11-23 10:00:00",
            "fixmedins_code": code, "fixmedins_name": "bench", "sign_no": "", "input": input,
        });
        let request = hyper::Request::builder()
            .method("POST")
            .uri("/fsi/api/rsfComIfsService/callService")
            .header("host", self.address.as_str())
            .header("content-type", "application/json")
            .header("x-tif-paasid", code)
            .header("x-tif-timestamp", timestamp)
            .header("x-tif-nonce", nonce)
            .header("x-tif-signature", signature)
            .body(Full::new(Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default())))
            .map_err(|error| error.to_string())?;
        // The connection takes the next request only once it is ready again (sending earlier
        // fails at once with "operation was canceled").
        self.sender.ready().await.map_err(|error| error.to_string())?;
        let response = self.sender.send_request(request).await.map_err(|error| error.to_string())?;
        Ok(response.into_body().collect().await.map_err(|error| error.to_string())?.to_bytes())
    }

    /// Sends one signed message as `code`; its `output`, or the refusal.
    async fn call(
        &mut self,
        code: &str,
        infno: &'static str,
        input: Value,
        tally: &mut Tally,
    ) -> Result<Value, String> {
        let msgid = format!("{code}B{:04}{:012}", self.worker, self.serial + 1);
        let started = Instant::now();
        let body = self.exchange(code, infno, &msgid, &input).await?;
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        let answer: Value = serde_json::from_slice(&body).map_err(|error| error.to_string())?;
        let ok = answer["infcode"] == json!(0);
        tally.calls.push((infno, micros, ok));
        match ok {
            true => Ok(answer["output"].clone()),
            false => Err(format!("{infno}: {}", answer["err_msg"].as_str().unwrap_or("?"))),
        }
    }
}

fn line(serial: u64, mdtrt_id: &str, psn_no: &str, code: &str, price: &str) -> Value {
    json!({
        "feedetl_sn": format!("{serial}"), "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B001", "rxno": "",
        "rx_circ_flag": "0", "fee_ocur_time": "2026-11-23 10:05:00", "med_list_codg": code,
        "medins_list_codg": format!("HIS-{code}"), "det_item_fee_sumamt": number(price), "cnt": 1,
        "pric": number(price), "bilg_dept_codg": "A01", "bilg_dept_name": "内科", "bilg_dr_codg": "D001",
        "bilg_dr_name": "医生", "hosp_appr_flag": "1"
    })
}

fn number(text: &str) -> Value {
    text.parse::<serde_json::Number>().map_or(Value::Null, Value::Number)
}

/// An outpatient visit: register, one line, settle. The settlement id.
async fn outpatient(client: &mut Client, person: &Insured, price: &str, tally: &mut Tally) -> Result<String, String> {
    let registered = client.call(HOSPITAL, "2201", person.registration(), tally).await?;
    let mdtrt_id = registered["data"]["mdtrt_id"].as_str().unwrap_or_default().to_string();
    let serial = client.serial;
    client.call(HOSPITAL, "2204", person.visit_line(serial, &mdtrt_id, price), tally).await?;
    let settled = client.call(HOSPITAL, "2207", person.settlement(&mdtrt_id, price), tally).await?;
    tally.settlements += 1;
    Ok(format!("{}|{mdtrt_id}", settled["setlinfo"]["setl_id"].as_str().unwrap_or_default()))
}

async fn pharmacy(client: &mut Client, person: &Insured, price: &str, tally: &mut Tally) -> Result<(), String> {
    let serial = client.serial;
    client.call(PHARMACY, "2102", person.purchase(serial, price), tally).await?;
    tally.settlements += 1;
    Ok(())
}

async fn worker(
    address: String,
    worker: usize,
    persons: Arc<Vec<Insured>>,
    until: Instant,
    mix: Mix,
) -> Result<Tally, String> {
    let mut client = Client::connect(&address, worker).await?;
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (worker as u64 + 1));
    let mut tally = Tally::default();
    let mut last: Option<(Insured, String)> = None;
    while Instant::now() < until {
        let person = persons[usize::try_from(dice.below(persons.len() as u64)).unwrap_or(0)].clone();
        let price = format!("{}.{:02}", 20 + dice.below(300), dice.below(100));
        let roll = match mix {
            Mix::Settlements => dice.below(100),
            Mix::Queries => 80,
        };
        let result = match roll {
            0..60 => outpatient(&mut client, &person, &price, &mut tally).await.map(|settled| {
                last = Some((person.clone(), settled));
            }),
            60..80 => pharmacy(&mut client, &person, &price, &mut tally).await,
            80..95 => client.call(HOSPITAL, "1101", person.query(), &mut tally).await.map(drop),
            _ => match last.take() {
                Some((owner, settled)) => {
                    let (setl_id, mdtrt_id) = settled.split_once('|').unwrap_or_default();
                    client
                        .call(HOSPITAL, "2208", cancellation(setl_id, mdtrt_id, &owner.psn_no), &mut tally)
                        .await
                        .map(drop)
                }
                None => Ok(()),
            },
        };
        if let Err(error) = result
            && tally.errors.len() < 20
        {
            tally.errors.push(error);
        }
    }
    Ok(tally)
}

/// The `per_mille` percentile of sorted microsecond latencies, in milliseconds.
pub(crate) fn percentile(sorted: &[u32], per_mille: usize) -> String {
    match sorted.is_empty() {
        true => "-".to_string(),
        false => {
            let micros = percentile_micros(sorted, per_mille);
            format!("{}.{:02} ms", micros / 1000, micros % 1000 / 10)
        }
    }
}

/// Microseconds at the `per_mille` percentile of sorted latencies (0 when there are none).
pub(crate) fn percentile_micros(sorted: &[u32], per_mille: usize) -> u32 {
    match sorted.is_empty() {
        true => 0,
        false => sorted[(sorted.len() * per_mille / 1000).min(sorted.len() - 1)],
    }
}

/// What a run measured, for the one-line `result` summary.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub settlements_per_second: u128,
    pub messages_per_second: u128,
    pub p50_micros: u32,
    pub p99_micros: u32,
    pub p999_micros: u32,
    pub refused: usize,
}

/// Runs the load against the server at `address`, over `persons` (insured employees).
///
/// # Errors
/// When the server cannot be reached.
pub async fn run(
    persons: Vec<yibao_engine::records::Person>,
    address: &str,
    options: LoadOptions,
) -> Result<Measured, String> {
    let persons: Vec<Insured> = persons.iter().map(Insured::of).collect();
    let persons = Arc::new(persons);
    let started = Instant::now();
    let until = started + Duration::from_secs(options.seconds);
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..options.concurrency {
        workers.spawn(worker(address.to_string(), index, persons.clone(), until, options.mix));
    }
    let mut all = Tally::default();
    while let Some(joined) = workers.join_next().await {
        let tally = joined.map_err(|error| error.to_string())??;
        all.calls.extend(tally.calls);
        all.settlements += tally.settlements;
        all.errors.extend(tally.errors.into_iter().take(3));
    }
    let elapsed = started.elapsed();
    let mut latencies: Vec<u32> = all.calls.iter().map(|(_, micros, _)| *micros).collect();
    latencies.sort_unstable();
    let failed = all.calls.iter().filter(|(_, _, ok)| !ok).count();
    println!(
        "load: {} persons, {} connections, {:.1?}: {} messages ({}/s), {} settlements ({}/s), {failed} refused",
        persons.len(),
        options.concurrency,
        elapsed,
        all.calls.len(),
        per_second(all.calls.len() as u64, elapsed),
        all.settlements,
        per_second(all.settlements, elapsed),
    );
    println!(
        "latency per message: p50 {}  p99 {}  p99.9 {}  max {}",
        percentile(&latencies, 500),
        percentile(&latencies, 990),
        percentile(&latencies, 999),
        percentile(&latencies, 1000),
    );
    for infno in ["1101", "2201", "2204", "2207", "2102", "2208"] {
        let mut these: Vec<u32> =
            all.calls.iter().filter(|(code, _, _)| *code == infno).map(|(_, micros, _)| *micros).collect();
        these.sort_unstable();
        println!(
            "  {infno}: {:>8} calls  p50 {}  p99 {}",
            these.len(),
            percentile(&these, 500),
            percentile(&these, 990)
        );
    }
    for error in all.errors.iter().take(5) {
        println!("  e.g. refused: {error}");
    }
    Ok(Measured {
        settlements_per_second: per_second(all.settlements, elapsed),
        messages_per_second: per_second(all.calls.len() as u64, elapsed),
        p50_micros: percentile_micros(&latencies, 500),
        p99_micros: percentile_micros(&latencies, 990),
        p999_micros: percentile_micros(&latencies, 999),
        refused: failed,
    })
}

/// A rate in whole units a second (no floating point anywhere).
pub(crate) fn per_second(count: u64, elapsed: std::time::Duration) -> u128 {
    u128::from(count) * 1_000_000 / elapsed.as_micros().max(1)
}

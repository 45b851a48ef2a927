//! Starting the server and talking to it.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use yibao_domain::Money;
use yibao_policy::{PolicySet, SEED_POLICY_TOML, parse_policy};
use yibao_store::{Options, Store};

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub const TERTIARY: &str = "H33010000001";
pub const SECONDARY: &str = "H33010000002";
pub const COMMUNITY: &str = "H33010000003";
pub const PHARMACY: &str = "P33010000001";
pub const PATH: &str = "/fsi/api/rsfComIfsService/callService";

pub struct TestApp {
    pub port: u16,
    pub store: Store,
    pub path: std::path::PathBuf,
    /// Seconds added to the system clock for business time (signatures keep real time).
    pub clock_offset: Arc<std::sync::atomic::AtomicI64>,
    secret: Vec<u8>,
    /// The policy file it prices with.
    policy: &'static str,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Starts the server with the demo in a fresh SQLite file.
pub async fn spawn_app() -> TestApp {
    capture_logs();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join("yibao-api-tests").join(format!("api-{}-{n}-{}.db", std::process::id(), unique()));
    start(path, yibao_server::Secrets::generate(), SEED_POLICY_TOML, |application| application).await
}

/// As [`spawn_app`], with peer deployments configured (none of them answering).
pub async fn spawn_app_with_peers(peers: yibao_server::peer::Peers) -> TestApp {
    spawn_app_with(move |application| application.with_peers(peers)).await
}

/// As [`spawn_app`], the application configured by `configure` before it serves.
pub async fn spawn_app_with(configure: impl FnOnce(yibao_server::Application) -> yibao_server::Application) -> TestApp {
    spawn_app_with_policy(SEED_POLICY_TOML, configure).await
}

/// As [`spawn_app_with`], priced by the policy file `policy` instead of the seed's.
pub async fn spawn_app_with_policy(
    policy: &'static str,
    configure: impl FnOnce(yibao_server::Application) -> yibao_server::Application,
) -> TestApp {
    capture_logs();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join("yibao-api-tests").join(format!("api-{}-{n}-{}.db", std::process::id(), unique()));
    start(path, yibao_server::Secrets::generate(), policy, configure).await
}

async fn start(
    path: std::path::PathBuf,
    secret: Vec<u8>,
    policy: &'static str,
    configure: impl FnOnce(yibao_server::Application) -> yibao_server::Application,
) -> TestApp {
    let mut policies = PolicySet::new();
    policies.add("seed.toml", parse_policy("seed.toml", policy).unwrap()).unwrap();
    let clock_offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let mut options = Options::new(Arc::new(policies));
    let offset = clock_offset.clone();
    let system = yibao_store::system_clock();
    options.clock = Arc::new(move || system().plus_seconds(offset.load(Ordering::Relaxed)));
    let store = Store::open(path.to_str().unwrap(), options).await.expect("store opens");
    let secrets = yibao_server::Secrets::new(secret.clone()).unwrap();
    yibao_server::demo::ensure(&store, &secrets).await.expect("demo loads");
    let application =
        configure(yibao_server::Application::build(store.clone(), secrets, "127.0.0.1:0").await.expect("binds"));
    let port = application.port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp { port, store, path, clock_offset, secret, policy, stop: Some(stop), task: Some(task) }
}

impl TestApp {
    /// Moves business time on by whole days (settlement times, "today" for clearing).
    pub fn advance_days(&self, days: i64) {
        self.clock_offset.fetch_add(days * 86_400, Ordering::Relaxed);
    }

    /// Stops the server, lets the store close, and starts a new one on the same file with the
    /// same server secret: a restart.
    pub async fn restart(mut self) -> TestApp {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task ends").expect("the server stops cleanly");
        }
        let (path, secret, policy) = (self.path.clone(), self.secret.clone(), self.policy);
        drop(self);
        start(path, secret, policy, |application| application).await
    }
}

static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();

#[derive(Clone)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of every server this test binary starts, from the first start on, at
/// debug level and above.
fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = LogBuffer(buffer.clone());
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .try_init();
        buffer
    });
}

/// What has been logged so far.
pub fn logs() -> String {
    LOGS.get().map(|buffer| String::from_utf8_lossy(&buffer.lock().unwrap()).to_string()).unwrap_or_default()
}

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// A response: HTTP status and JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub msgid: String,
}

impl Reply {
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.body["infcode"], json!(0), "refused: {}", self.body);
        &self.body["output"]
    }

    pub fn refused(&self) -> &str {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.body["infcode"], json!(-1), "not refused: {}", self.body);
        self.body["err_msg"].as_str().expect("err_msg is text")
    }
}

pub fn signature(timestamp: &str, secret: &str, nonce: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{timestamp}{secret}{nonce}{timestamp}"));
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn now_seconds() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// The signature headers an HIS sends.
pub fn signed_headers(code: &str) -> Vec<(String, String)> {
    let timestamp = now_seconds().to_string();
    let nonce = format!("n{}{}", unique(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let signature = signature(&timestamp, &format!("demo-{code}"), &nonce);
    vec![
        ("x-tif-paasid".into(), code.into()),
        ("x-tif-timestamp".into(), timestamp),
        ("x-tif-nonce".into(), nonce),
        ("x-tif-signature".into(), signature),
    ]
}

impl TestApp {
    /// POSTs raw bytes with the given headers.
    pub async fn post(&self, path: &str, headers: &[(String, String)], body: Vec<u8>) -> (u16, Vec<u8>) {
        let stream = self.connect(None).await;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        let mut request = Request::post(path).header("host", "localhost");
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
            request = request.header("content-type", "text/plain; charset=utf-8");
        }
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response =
            sender.send_request(request.body(Full::new(Bytes::from(body))).unwrap()).await.expect("answered");
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        (status, bytes)
    }

    pub async fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.expect("connects");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        let request = Request::get(path).header("host", "localhost").body(Full::new(Bytes::new())).unwrap();
        let response = sender.send_request(request).await.expect("answered");
        let status = response.status().as_u16();
        (status, response.into_body().collect().await.expect("body").to_bytes().to_vec())
    }

    /// An envelope as the Shenzhen acceptance script builds it.
    pub fn envelope(&self, code: &str, infno: &str, input: Value, msgid: &str) -> Value {
        let admdvs = if code.starts_with("H3302") { "330200" } else { "330100" };
        // As an HIS does: the insured region comes from the person's 1101 answer; demo person
        // numbers begin with it.
        let insured = find_psn_no(&input).map_or("330100".to_string(), |psn_no| psn_no[..6].to_string());
        json!({
            "infno": infno,
            "msgid": msgid,
            "mdtrtarea_admvs": admdvs,
            "insuplc_admdvs": insured,
            "recer_sys_code": "YBXT",
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "001",
            "opter_name": "收费员",
            "inf_time": "2026-11-23 10:00:00",
            "fixmedins_code": code,
            "fixmedins_name": "示例机构",
            "sign_no": "",
            "input": input,
        })
    }

    pub fn msgid(code: &str) -> String {
        format!("{code}{}{:04}", "20261123100000", COUNTER.fetch_add(1, Ordering::Relaxed) % 10_000)
            + &format!("{}", unique() % 1_000_000)
    }

    /// Sends a message to `code`'s institution endpoint with a fresh msgid.
    pub async fn call(&self, code: &str, infno: &str, input: Value) -> Reply {
        let msgid = TestApp::msgid(code);
        self.call_with_msgid(code, infno, input, &msgid).await
    }

    pub async fn call_with_msgid(&self, code: &str, infno: &str, input: Value, msgid: &str) -> Reply {
        let envelope = self.envelope(code, infno, input, msgid);
        self.send(code, &envelope, msgid).await
    }

    pub async fn send(&self, code: &str, envelope: &Value, msgid: &str) -> Reply {
        let (status, body) = self.post(PATH, &signed_headers(code), serde_json::to_vec(envelope).unwrap()).await;
        let body: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
        Reply { status, body, msgid: msgid.to_string() }
    }
}

/// An amount field as exact money (the JSON number's digits, never a float).
pub fn money(value: &Value) -> Money {
    match value {
        Value::Number(number) => number.to_string().parse().unwrap_or_else(|e| panic!("{number}: {e}")),
        other => panic!("not an amount: {other}"),
    }
}

/// Both amount identities of §1.6.
pub fn assert_identities(setlinfo: &Value) {
    let m = |field: &str| money(&setlinfo[field]);
    assert_eq!(
        m("medfee_sumamt"),
        m("fulamt_ownpay_amt") + m("overlmt_selfpay") + m("preselfpay_amt") + m("inscp_scp_amt"),
        "medfee = fulamt + overlmt + preselfpay + inscp in {setlinfo}"
    );
    assert_eq!(
        m("medfee_sumamt"),
        m("fund_pay_sumamt") + m("acct_pay") + m("psn_cash_pay") + m("hosp_part_amt"),
        "medfee = fund + acct + cash + hosp_part in {setlinfo}"
    );
    assert_eq!(m("psn_part_amt"), m("acct_pay") + m("psn_cash_pay"));
}

/// The demo persons' numbers.
pub fn psn(name: &str) -> &'static str {
    match name {
        "张伟" => "3301000000000001",
        "李秀英" => "3301000000000002",
        "王强" => "3301000000000003",
        "刘芳" => "3301000000000004",
        "陈军" => "3302000000000005",
        "赵敏" => "3301000000000006",
        "孙丽" => "3301000000000007",
        "周涛" => "3301000000000008",
        other => panic!("no demo person {other}"),
    }
}

pub fn id_number(name: &str) -> &'static str {
    match name {
        "张伟" => "330102198503121236",
        "李秀英" => "330106195207082342",
        "王强" => "330105199001013458",
        "刘芳" => "330106200106154566",
        "陈军" => "330203197811205674",
        "赵敏" => "330106199505056781",
        "孙丽" => "330103198002143046",
        "周涛" => "330104199207185515",
        other => panic!("no demo person {other}"),
    }
}

pub fn insutype(name: &str) -> &'static str {
    if name == "刘芳" { "390" } else { "310" }
}

/// A fee line as 2204/2301 send it.
pub fn fee_line(serial: &str, mdtrt_id: &str, psn_no: &str, code: &str, price: &str, count: &str) -> Value {
    let price_money: yibao_domain::UnitPrice = price.parse().unwrap();
    let quantity: yibao_domain::Quantity = count.parse().unwrap();
    let total = price_money.times(quantity);
    json!({
        "feedetl_sn": serial, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B001", "rxno": "", "rx_circ_flag": "0",
        "fee_ocur_time": "2026-11-23 10:05:00", "med_list_codg": code, "medins_list_codg": format!("HIS-{code}"),
        "det_item_fee_sumamt": number(&total.to_string()), "cnt": number(count), "pric": number(price),
        "bilg_dept_codg": "A01", "bilg_dept_name": "内科", "bilg_dr_codg": "D001", "bilg_dr_name": "医生", "hosp_appr_flag": "1",
    })
}

pub fn number(text: &str) -> Value {
    Value::Number(text.parse().unwrap())
}

/// 1101 by ID number, returning the person's `psn_no`.
pub async fn identify(app: &TestApp, code: &str, name: &str) -> String {
    let reply = app
        .call(code, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number(name), "card_sn": "", "begntime": "", "psn_cert_type": "01", "certno": id_number(name), "psn_name": name}}))
        .await;
    reply.ok()["baseinfo"]["psn_no"].as_str().unwrap().to_string()
}

/// 2201 + 2203: an outpatient visit of `med_type`; returns its `mdtrt_id`.
pub async fn register(app: &TestApp, code: &str, name: &str, med_type: &str) -> String {
    register_at(app, code, name, med_type, "2026-11-23 10:00:00").await
}

/// As [`register`], the visit begun at `begin`.
pub async fn register_at(app: &TestApp, code: &str, name: &str, med_type: &str, begin: &str) -> String {
    let reply = app
        .call(
            code,
            "2201",
            json!({"data": {
                "psn_no": psn(name), "insutype": insutype(name), "begntime": begin, "mdtrt_cert_type": "02",
                "mdtrt_cert_no": id_number(name), "ipt_otp_no": "MZ0001", "atddr_no": "D001", "dr_name": "医生",
                "dept_code": "A01", "dept_name": "内科", "caty": "A01"
            }}),
        )
        .await;
    let mdtrt_id = reply.ok()["data"]["mdtrt_id"].as_str().unwrap().to_string();
    app.call(code, "2203", json!({
        "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn(name), "med_type": med_type, "begntime": begin,
                      "main_cond_dscr": "", "dise_codg": "J06.900", "dise_name": "上呼吸道感染", "birctrl_type": ""},
        "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900", "diag_name": "上呼吸道感染",
                      "diag_dept": "内科", "dise_dor_no": "D001", "dise_dor_name": "医生", "diag_time": begin, "vali_flag": "1"}]
    }))
    .await
    .ok();
    mdtrt_id
}

/// 2401: admits `name` to the tertiary hospital at `begin`; returns the stay's `mdtrt_id`.
pub async fn admit_at(app: &TestApp, name: &str, begin: &str) -> String {
    let reply = app
        .call(TERTIARY, "2401", json!({
            "mdtrtinfo": {"psn_no": psn(name), "insutype": insutype(name), "coner_name": "家属", "tel": "13800000000",
                          "begntime": begin, "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number(name),
                          "med_type": "21", "ipt_no": "ZY0001", "medrcdno": "BA0001", "atddr_no": "D001", "chfpdr_name": "主诊医生",
                          "adm_diag_dscr": "肺炎", "adm_dept_codg": "B01", "adm_dept_name": "呼吸科", "adm_bed": "12",
                          "dscg_maindiag_code": "J18.900", "dscg_maindiag_name": "肺炎", "main_cond_dscr": "", "dise_codg": "J18.900",
                          "dise_name": "肺炎", "oprn_oprt_code": "", "oprn_oprt_name": "", "fpsc_no": "", "matn_type": "", "birctrl_type": "",
                          "latechb_flag": "0", "geso_val": "", "fetts": "", "fetus_cnt": "", "pret_flag": "0", "birctrl_matn_date": "",
                          "dise_type_code": ""},
            "diseinfo": [{"psn_no": psn(name), "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": "J18.900",
                          "diag_name": "肺炎", "adm_cond": "", "diag_dept": "呼吸科", "dise_dor_no": "D001", "dise_dor_name": "主诊医生",
                          "diag_time": begin}]
        }))
        .await;
    reply.ok()["result"]["mdtrt_id"].as_str().unwrap().to_string()
}

/// The 2206 data for a visit, and 2207 data built from a 2206 output as HIS do.
pub fn presettle_data(name: &str, mdtrt_id: &str, medfee: &str, account: bool) -> Value {
    json!({"psn_no": psn(name), "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number(name), "med_type": "11",
           "medfee_sumamt": number(medfee), "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "B001",
           "acct_used_flag": if account { "1" } else { "0" }, "insutype": insutype(name)})
}

pub fn settle_data(pre: &Value, setlinfo: &Value) -> Value {
    let mut data = pre.clone();
    for field in ["medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"] {
        data[field] = setlinfo[field].clone();
    }
    data["invono"] = json!("INV0001");
    data
}

/// The first `psn_no` anywhere in a message input.
fn find_psn_no(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => map
            .get("psn_no")
            .and_then(Value::as_str)
            .filter(|text| text.len() >= 6 && text.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string)
            .or_else(|| map.values().find_map(find_psn_no)),
        Value::Array(items) => items.iter().find_map(find_psn_no),
        _ => None,
    }
}

/// Rows of a table, for "nothing was stored" checks.
pub async fn count(app: &TestApp, table: &'static str) -> u64 {
    app.store.read(move |r| r.row_count(table)).await.unwrap()
}

/// A REST response: status and JSON body.
pub struct Rest {
    pub status: u16,
    pub body: Value,
}

impl TestApp {
    pub async fn rest(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(String, String)],
        body: Option<Value>,
    ) -> Rest {
        self.rest_from(None, method, path, token, extra, body).await
    }

    /// A connection to the server, from `source` (another loopback address: another client to
    /// the server's per-source limits) or the default one.
    pub async fn connect(&self, source: Option<[u8; 4]>) -> tokio::net::TcpStream {
        match source {
            None => tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.expect("connects"),
            Some(address) => {
                let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
                socket.bind((std::net::Ipv4Addr::from(address), 0).into()).expect("binds a loopback address");
                socket.connect(([127, 0, 0, 1], self.port).into()).await.expect("connects")
            }
        }
    }

    /// [`TestApp::rest`] from a given source address.
    pub async fn rest_from(
        &self,
        source: Option<[u8; 4]>,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(String, String)],
        body: Option<Value>,
    ) -> Rest {
        let stream = self.connect(source).await;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in extra {
            request = request.header(name.as_str(), value.as_str());
        }
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        let response =
            sender.send_request(request.body(Full::new(Bytes::from(bytes))).unwrap()).await.expect("answered");
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
        };
        Rest { status, body }
    }

    /// Logs in and returns the token.
    pub async fn login(&self, body: Value) -> String {
        let reply = self.rest("POST", "/api/v1/auth/login", None, &[], Some(body)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["token"].as_str().unwrap().to_string()
    }
}

/// The e-voucher front-end's path.
pub const EC_PATH: &str = "/fsi/api/ec/trans";

impl TestApp {
    /// A call to the e-voucher front-end, as the national SDK makes it; `data` of a success is
    /// returned parsed (it travels as a JSON string).
    pub async fn ec(&self, code: &str, trans_type: &str, data: Value) -> Value {
        let body = json!({"orgId": code, "transType": trans_type, "data": data, "extra": ""});
        let (status, bytes) = self.post(EC_PATH, &signed_headers(code), serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        let mut reply: Value = serde_json::from_slice(&bytes).expect("JSON");
        if reply["code"] == json!(0) {
            let data: Value = serde_json::from_str(reply["data"].as_str().expect("data is a JSON string")).unwrap();
            reply["data"] = data;
        }
        reply
    }

    /// A person's portal token (the demo password).
    pub async fn person_login(&self, name: &str) -> String {
        self.login(json!({"role": "person", "id_number": id_number(name), "password": "Demo@2026"})).await
    }

    /// Activates the person's e-voucher through WeChat with the matching face.
    pub async fn activate_evoucher(&self, token: &str, name: &str) {
        let face = base64_text(format!("face:{}", psn(name)).as_bytes());
        let reply = self
            .rest(
                "POST",
                "/api/v1/evoucher/activation",
                Some(token),
                &[],
                Some(json!({"channel": "wechat", "payment_password": "246810", "face_image": face})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// A fresh QR code of the logged-in person.
    pub async fn qr_code(&self, token: &str) -> String {
        let reply = self.rest("POST", "/api/v1/evoucher/qr-codes", Some(token), &[], None).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body["qr_code"].as_str().unwrap().to_string()
    }
}

pub fn base64_text(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One answer of a web page (portal, counter): status, `Location`, the session cookie it set (if any), the page.
pub struct Page {
    pub status: u16,
    pub location: String,
    pub cookie: Option<String>,
    pub html: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The value of the first hidden (or any) input named `name` on a page.
pub fn hidden_value(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        .to_string()
}

/// The (name, value) of every input of one form's HTML, in order.
pub fn form_fields(form: &str) -> Vec<(String, String)> {
    form.split("<input")
        .skip(1)
        .filter_map(|input| {
            let name = input.split("name=\"").nth(1)?.split('"').next()?.to_string();
            let value = input.split("value=\"").nth(1)?.split('"').next()?.to_string();
            Some((name, value))
        })
        .collect()
}

/// A browser's request: `cookies` as the browser holds them, `form` URL-encoded for a POST.
pub async fn browse(app: &TestApp, path: &str, cookies: &str, form: Option<&[(&str, &str)]>) -> Page {
    browse_from(app, None, path, cookies, form, &[]).await
}

/// [`browse`] from a given source address, with extra headers (`Origin`).
pub async fn browse_from(
    app: &TestApp,
    source: Option<[u8; 4]>,
    path: &str,
    cookies: &str,
    form: Option<&[(&str, &str)]>,
    extra: &[(&str, &str)],
) -> Page {
    let stream = app.connect(source).await;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(connection);
    let mut request = Request::builder().uri(path).header("host", "localhost").header("cookie", cookies);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let body = match form {
        Some(fields) => {
            request = request.method("POST").header("content-type", "application/x-www-form-urlencoded");
            fields.iter().map(|(name, value)| format!("{name}={}", utf8_percent(value))).collect::<Vec<_>>().join("&")
        }
        None => String::new(),
    };
    let response = sender.send_request(request.body(Full::new(Bytes::from(body))).unwrap()).await.expect("answered");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let status = response.status().as_u16();
    let location = header("location").unwrap_or_default();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or("").to_string()))
        .collect();
    let cookie = header("set-cookie")
        .and_then(|set| set.split(';').next().map(str::to_string))
        .filter(|pair| ["yibao_portal=", "yibao_counter=", "yibao_agency="].iter().any(|name| pair.starts_with(name)));
    let html = String::from_utf8_lossy(&response.into_body().collect().await.expect("body").to_bytes()).to_string();
    Page { status, location, cookie, html, headers }
}

pub fn utf8_percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The month before the server's today (the latest month an allocation may credit).
pub fn last_month(app: &TestApp) -> String {
    app.store.now().date().year_month().previous().to_string()
}

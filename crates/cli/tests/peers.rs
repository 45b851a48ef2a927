//! Cross-region treatment across two deployments: two `yibao serve` processes, two databases.
//! 330200 (宁波) insures 陈军; 330100 (杭州) runs the hospital that treats him. The hospital
//! speaks only to its own region's server, which asks its peer.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const HOSPITAL: &str = "H33010000001";
const SHARED: &str = "peer-secret-330100-330200";
const CHEN_JUN_ID: &str = "330203197811205674";
const CHEN_JUN: &str = "3302000000000005";

static COUNTER: AtomicU32 = AtomicU32::new(0);

struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `yibao serve --demo --region <region>` on a free port; waits for its banner.
fn start(dir: &std::path::Path, region: &str, config: &str) -> Server {
    let config_path = dir.join(format!("{region}.toml"));
    std::fs::write(&config_path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_yibao"))
        .args(["serve", "--demo", "--region", region, "--listen", "127.0.0.1:0"])
        .arg("--db")
        .arg(dir.join(format!("{region}.db")))
        .arg("--config")
        .arg(&config_path)
        .env("YIBAO_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("yibao starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().expect("the server prints its banner").expect("readable");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, address }
}

async fn post(address: &str, path: &str, headers: &[(String, String)], body: &Value) -> (u16, Value) {
    let stream = tokio::net::TcpStream::connect(address).await.expect("connects");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", address)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap()))).unwrap();
    let response = sender.send_request(request).await.expect("answered");
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn get(address: &str, path: &str, token: &str) -> Value {
    let stream = tokio::net::TcpStream::connect(address).await.expect("connects");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::builder()
        .method("GET")
        .uri(path)
        .header("host", address)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

/// A national-interface message from the hospital, signed as an HIS signs it.
async fn call(address: &str, infno: &str, input: Value) -> Value {
    let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nonce = format!("nonce{}{n}", std::process::id());
    let digest = Sha256::digest(format!("{timestamp}demo-{HOSPITAL}{nonce}{timestamp}"));
    let signature: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let headers = vec![
        ("x-tif-paasid".to_string(), HOSPITAL.to_string()),
        ("x-tif-timestamp".to_string(), timestamp),
        ("x-tif-nonce".to_string(), nonce),
        ("x-tif-signature".to_string(), signature),
    ];
    let msgid = format!("{HOSPITAL}20261123100000{n:04}{}", std::process::id() % 100_000);
    let envelope = json!({
        "infno": infno, "msgid": msgid, "mdtrtarea_admvs": "330100", "insuplc_admdvs": "330200",
        "recer_sys_code": "YBXT", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0",
        "opter_type": "1", "opter": "001", "opter_name": "收费员", "inf_time": "2026-11-23 10:00:00",
        "fixmedins_code": HOSPITAL, "fixmedins_name": "浙江示例第一医院", "sign_no": "", "input": input,
    });
    let (status, body) = post(address, "/fsi/api/rsfComIfsService/callService", &headers, &envelope).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A JSON number written exactly as given (no floating point).
fn number(text: &str) -> Value {
    Value::Number(text.parse().unwrap())
}

fn ok(reply: &Value) -> &Value {
    assert_eq!(reply["infcode"], json!(0), "refused: {reply}");
    &reply["output"]
}

fn yuan(value: &Value) -> i64 {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, "0"));
    let fraction = format!("{fraction:0<2}");
    whole.parse::<i64>().unwrap() * 100 + fraction[..2].parse::<i64>().unwrap()
}

async fn login(address: &str) -> String {
    let (status, body) = post(
        address,
        "/api/v1/auth/login",
        &[],
        &json!({"role": "operator", "username": "admin", "password": "Demo@2026"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// 2201 + 2204 for 陈军 at the hospital: a visit with one line of `price` yuan.
async fn visit_with_a_line(b: &str, price: &str) -> String {
    let registered = call(
        b,
        "2201",
        json!({"data": {
        "psn_no": CHEN_JUN, "insutype": "310", "begntime": "2026-11-23 10:00:00", "mdtrt_cert_type": "02",
        "mdtrt_cert_no": CHEN_JUN_ID, "ipt_otp_no": "MZ0001", "atddr_no": "D001", "dr_name": "医生",
        "dept_code": "A01", "dept_name": "内科", "caty": "A01"}}),
    )
    .await;
    let mdtrt_id = ok(&registered)["data"]["mdtrt_id"].as_str().unwrap().to_string();
    let line = json!({
        "feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": CHEN_JUN, "chrg_bchno": "B001", "rxno": "", "rx_circ_flag": "0",
        "fee_ocur_time": "2026-11-23 10:05:00", "med_list_codg": "DEMO-A-002", "medins_list_codg": "HIS-DEMO-A-002",
        "det_item_fee_sumamt": number(price), "cnt": 1, "pric": number(price),
        "bilg_dept_codg": "A01", "bilg_dept_name": "内科", "bilg_dr_codg": "D001", "bilg_dr_name": "医生", "hosp_appr_flag": "1"});
    ok(&call(b, "2204", json!({"feedetail": [line]})).await);
    mdtrt_id
}

fn settle_input(mdtrt_id: &str, medfee: &str) -> Value {
    json!({"data": {"psn_no": CHEN_JUN, "mdtrt_cert_type": "02", "mdtrt_cert_no": CHEN_JUN_ID, "med_type": "11",
        "medfee_sumamt": number(medfee), "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "B001",
        "acct_used_flag": "1", "insutype": "310"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_330200_person_settles_at_a_330100_hospital_across_two_deployments() {
    let dir = std::env::temp_dir().join(format!(
        "yibao-peers-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    // 330200 insures him; it accepts calls from 330100's deployment.
    let a_config = format!("[[peers]]\nadmdvs = \"330100\"\nsecret = \"{SHARED}\"\n");
    let a = start(&dir, "330200", &a_config);
    let b_config = format!("[[peers]]\nadmdvs = \"330200\"\nurl = \"http://{}\"\nsecret = \"{SHARED}\"\n", a.address);
    let b = start(&dir, "330100", &b_config);

    // 1101 at the hospital: 330100's server does not hold him and asks 330200's.
    let info = call(
        &b.address,
        "1101",
        json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": CHEN_JUN_ID, "card_sn": "",
        "begntime": "", "psn_cert_type": "01", "certno": CHEN_JUN_ID, "psn_name": "陈军"}}),
    )
    .await;
    let output = ok(&info);
    assert_eq!(output["baseinfo"]["psn_no"], json!(CHEN_JUN));
    assert_eq!(output["insuinfo"][0]["insuplc_admdvs"], json!("330200"));
    assert_eq!(yuan(&output["insuinfo"][0]["balc"]), 50_000);

    let mdtrt_id = visit_with_a_line(&b.address, "260").await;
    let pre = call(&b.address, "2206", settle_input(&mdtrt_id, "260")).await;
    let presettled = ok(&pre)["setlinfo"].clone();
    let settled = call(&b.address, "2207", settle_input(&mdtrt_id, "260")).await;
    let setlinfo = ok(&settled)["setlinfo"].clone();
    for field in ["medfee_sumamt", "hifp_pay", "acct_pay", "psn_cash_pay", "fund_pay_sumamt"] {
        assert_eq!(
            yuan(&presettled[field]),
            yuan(&setlinfo[field]),
            "{field}: the pre-settlement showed the settlement"
        );
    }
    let (fund, account, cash) =
        (yuan(&setlinfo["fund_pay_sumamt"]), yuan(&setlinfo["acct_pay"]), yuan(&setlinfo["psn_cash_pay"]));
    assert_eq!(fund + account + cash, 26_000, "{setlinfo}");
    assert!(account > 0, "his account paid: {setlinfo}");
    let setl_id = setlinfo["setl_id"].as_str().unwrap().to_string();
    assert!(setl_id.starts_with("330200"), "the insured side's id: {setl_id}");

    // His account lives in 330200: the balance there went down by what it paid.
    let again = call(
        &b.address,
        "1101",
        json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": CHEN_JUN_ID, "card_sn": "",
        "begntime": "", "psn_cert_type": "01", "certno": CHEN_JUN_ID, "psn_name": "陈军"}}),
    )
    .await;
    assert_eq!(yuan(&ok(&again)["insuinfo"][0]["balc"]), 50_000 - account);

    // Both sides' inter-region statements agree to the fen, and with the settlement.
    let today = setlinfo["setl_time"].as_str().unwrap()[..10].to_string();
    let path = format!("/api/v1/clearing/inter-region?insured=330200&treated=330100&from={today}&to={today}");
    let on_a = get(&a.address, &path, &login(&a.address).await).await;
    let on_b = get(&b.address, &path, &login(&b.address).await).await;
    assert_eq!(on_a["totals"], on_b["totals"], "A: {on_a}\nB: {on_b}");
    assert_eq!(yuan(&on_a["totals"]["owed"]), fund + account);
    assert_eq!(yuan(&on_a["balances"]["payable"]), fund + account, "A owes it");
    assert_eq!(yuan(&on_b["balances"]["receivable"]), fund + account, "B is owed it");
    let hospital = get(
        &b.address,
        &format!("/api/v1/clearing/institutions/{HOSPITAL}?from={today}&to={today}"),
        &login(&b.address).await,
    )
    .await;
    assert_eq!(yuan(&hospital["totals"]["owed"]), fund + account, "B owes its hospital");

    // With 330200's server down, the next settlement is refused and nothing is stored.
    let second = visit_with_a_line(&b.address, "80").await;
    let a_db = dir.join("330200.db");
    drop(a);
    let refused = call(&b.address, "2207", settle_input(&second, "80")).await;
    assert_eq!(refused["infcode"], json!(-1), "{refused}");
    assert!(refused["err_msg"].as_str().unwrap().contains("无法连接"), "{refused}");
    let on_b_after = get(&b.address, &path, &login(&b.address).await).await;
    assert_eq!(on_b_after["totals"], on_b["totals"], "nothing stored on the treating side");
    let a = start(&dir, "330200", &a_config);
    assert!(a_db.exists());
    let on_a_after = get(&a.address, &path, &login(&a.address).await).await;
    assert_eq!(on_a_after["totals"], on_a["totals"], "nothing stored on the insured side");

    // 330100's server now reaches 330200 at its new address: cancelling works end to end.
    drop(b);
    let b_config = format!("[[peers]]\nadmdvs = \"330200\"\nurl = \"http://{}\"\nsecret = \"{SHARED}\"\n", a.address);
    let b = start(&dir, "330100", &b_config);
    let cancelled =
        call(&b.address, "2208", json!({"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": CHEN_JUN}})).await;
    ok(&cancelled);
    let on_a_cancelled = get(&a.address, &path, &login(&a.address).await).await;
    let on_b_cancelled = get(&b.address, &path, &login(&b.address).await).await;
    assert_eq!(on_a_cancelled["totals"], on_b_cancelled["totals"]);
    assert_eq!(yuan(&on_a_cancelled["totals"]["owed"]), 0);
    assert_eq!(yuan(&on_a_cancelled["balances"]["payable"]), 0);
    assert_eq!(yuan(&on_b_cancelled["balances"]["receivable"]), 0);
    let restored = call(
        &b.address,
        "1101",
        json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": CHEN_JUN_ID, "card_sn": "",
        "begntime": "", "psn_cert_type": "01", "certno": CHEN_JUN_ID, "psn_name": "陈军"}}),
    )
    .await;
    assert_eq!(yuan(&ok(&restored)["insuinfo"][0]["balc"]), 50_000);
    drop(a);
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

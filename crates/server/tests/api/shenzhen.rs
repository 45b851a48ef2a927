//! Issue 14: a second real HIS client, replayed message for message: the Shenzhen acceptance
//! driver (binzhe12123/Medical `SZSI_Smart/YBTest/js/YBSYB.js`, `LoadData`), with its own order
//! and its own field quirks, substituting only the demo's institution (and so its region),
//! person and item. Every one of its 26 calls must succeed.
//!
//! Its quirks, as it sends them:
//! - the body is jQuery's form encoding of `{"": JSON.stringify(envelope)}`: `=<percent-encoded
//!   envelope>`, `application/x-www-form-urlencoded`;
//! - `msgid` = code + `yyyyMMddhhmmss` + milliseconds *unpadded* + `"1"` (28 to 30 characters);
//! - `recer_sys_code "SY"`, `psn_cert_type "1"`, `diag_srt_no` a number, `pric` the text of a form
//!   field and `det_item_fee_sumamt` a number, `feedetl_sn`/`chrg_bchno`/`rxno` = the msgid;
//! - it copies 1101's `certno` into `mdtrt_cert_no` of 2201 and 2207, and the certificate *type*
//!   ("02") into `mdtrt_cert_no` of 2206;
//! - 2206's answer goes into 2207 (amounts) and its `medins_setl_id` into `setl_id` until 2207
//!   answers; 2207's msgid is kept as 2601's `omsgid`;
//! - 5201 asks for April 2021 (it then reads `mdtrtinfo[0]`; with none there it keeps its visit);
//! - its signing relay uses nonces of 1 to 10 random digits, so short nonces repeat with new
//!   timestamps.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::*;

const CODE: &str = TERTIARY;
/// The demo's region in place of the client's 440300.
const REGION: &str = "330100";
/// The demo person (the form's `#certno`, `#psn_name`).
const CERTNO: &str = "330102198503121236";
const NAME: &str = "张伟";
/// The demo item (the form's `#mlbm_001`, `#jgbm_001`, `#mldj_001`).
const ITEM: &str = "DEMO-B-001";
const ITEM_PRICE: &str = "25.60";

/// The driver's state between calls (its `SYBDataCommon`, `SYBDataMZ` and form fields).
#[derive(Default)]
struct Driver {
    sign_no: String,
    certno: String,
    psn_no: String,
    insutype: String,
    mdtrt_id: String,
    chrg_bchno: String,
    setl_id: String,
    omsgid: String,
    presettled: Value,
    /// (timestamp, nonce) pairs used, so that a short nonce never repeats within one second
    /// (that is a replay, and would be refused rightly).
    signed: HashSet<(i64, String)>,
    serial: u64,
    random: u64,
}

impl Driver {
    /// `$("#fixmedins_code").val() + new Date().format("yyyyMMddhhmmssS") + "1"`: `S` is the
    /// milliseconds without padding.
    fn msgid(&mut self) -> String {
        self.serial += 1;
        // Distinct for the run, one to three digits (as the clock would give them).
        let millis = if self.serial == 1 { 7 } else { self.serial * 37 % 1000 };
        format!("{CODE}{}{millis}1", chrono_like_now())
    }

    /// Nonces of 1 to 10 random digits, as its relay makes them.
    fn nonce(&mut self, timestamp: i64) -> String {
        loop {
            // xorshift: the relay's Math.random(), reproducibly.
            self.random ^= self.random << 13;
            self.random ^= self.random >> 7;
            self.random ^= self.random << 17;
            let length = usize::try_from(self.random % 10).unwrap() + 1;
            let digits: String = format!("{:010}", (self.random >> 8) % 10_000_000_000).chars().take(length).collect();
            if self.signed.insert((timestamp, digits.clone())) {
                return digits;
            }
        }
    }

    async fn call(&mut self, app: &TestApp, infno: &str, input: Value) -> Value {
        let msgid = self.msgid();
        self.call_as(app, infno, input, msgid).await
    }

    async fn call_as(&mut self, app: &TestApp, infno: &str, input: Value, msgid: String) -> Value {
        let envelope = json!({
            "infno": infno,
            "msgid": msgid,
            "mdtrtarea_admvs": REGION,
            "insuplc_admdvs": REGION,
            "recer_sys_code": "SY",
            "dev_no": "",
            "dev_safe_info": "",
            "cainfo": "",
            "signtype": "",
            "infver": "V1.0",
            "opter_type": "1",
            "opter": "0001",
            "opter_name": "测试收费员",
            "inf_time": now_text(),
            "fixmedins_code": CODE,
            "fixmedins_name": "浙江示例第一医院",
            "sign_no": self.sign_no,
            "input": input,
        });
        let timestamp = now_seconds();
        let nonce = self.nonce(timestamp);
        let headers = vec![
            ("content-type".to_string(), "application/x-www-form-urlencoded; charset=UTF-8".to_string()),
            ("x-tif-paasid".to_string(), CODE.to_string()),
            ("x-tif-timestamp".to_string(), timestamp.to_string()),
            ("x-tif-nonce".to_string(), nonce.clone()),
            ("x-tif-signature".to_string(), signature(&timestamp.to_string(), &format!("demo-{CODE}"), &nonce)),
        ];
        let body = format!("={}", form_encode(&envelope.to_string()));
        let (status, reply) = app.post(PATH, &headers, body.into_bytes()).await;
        let reply: Value = serde_json::from_slice(&reply).unwrap_or_else(|_| panic!("{infno}: not JSON"));
        assert_eq!(status, 200, "{infno}: {reply}");
        assert_eq!(reply["infcode"], json!(0), "{infno} must succeed: {reply}");
        if infno == "2207" {
            self.omsgid = msgid;
        }
        reply
    }

    async fn sign_in(&mut self, app: &TestApp) {
        let reply = self
            .call(
                app,
                "9001",
                json!({"signIn": {"opter_no": "测试收费员", "mac": "00-E0-70-64-C3-D2", "ip": "192.168.1.1"}}),
            )
            .await;
        self.sign_no = reply["output"]["signinoutb"]["sign_no"].as_str().unwrap().to_string();
    }

    async fn person(&mut self, app: &TestApp) {
        let reply = self
            .call(
                app,
                "1101",
                json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERTNO, "card_sn": "", "begntime": "",
                                "psn_cert_type": "1", "certno": CERTNO, "psn_name": NAME}}),
            )
            .await;
        let output = &reply["output"];
        self.certno = output["baseinfo"]["certno"].as_str().unwrap().to_string();
        self.psn_no = output["baseinfo"]["psn_no"].as_str().unwrap().to_string();
        self.insutype = output["insuinfo"][0]["insutype"].as_str().unwrap().to_string();
        assert_eq!(self.certno, CERTNO, "the identifying institution gets the whole number (it copies it on)");
    }

    /// 2201, 2203, 2204, 2206, 2207: one visit.
    async fn visit(&mut self, app: &TestApp) {
        let begntime = now_text();
        let ipt_otp_no = format!("{CODE}{}1", chrono_like_now());
        let reply = self
            .call(
                app,
                "2201",
                json!({"data": {"psn_no": self.psn_no, "insutype": self.insutype, "begntime": begntime,
                                "mdtrt_cert_type": "02", "mdtrt_cert_no": self.certno, "ipt_otp_no": ipt_otp_no,
                                "atddr_no": "D0001", "dr_name": "王医生", "dept_code": "A01", "dept_name": "内科", "caty": "A03"}}),
            )
            .await;
        self.mdtrt_id = reply["output"]["data"]["mdtrt_id"].as_str().unwrap().to_string();
        self.call(
            app,
            "2203",
            json!({"mdtrtinfo": {"mdtrt_id": self.mdtrt_id, "psn_no": self.psn_no, "med_type": "11", "begntime": begntime},
                   "diseinfo": [{"diag_type": "3", "diag_srt_no": 1, "diag_code": "11", "diag_name": "xx", "diag_dept": "内科",
                                 "dise_dor_no": "D0001", "dise_dor_name": "王医生", "diag_time": begntime, "vali_flag": "1"}]}),
        )
        .await;
        // feedetl_sn, chrg_bchno and rxno are the 2204's own msgid.
        let msgid_now = self.msgid();
        let reply = self
            .call_as(
                app,
                "2204",
                json!({"feedetail": [{"feedetl_sn": msgid_now, "mdtrt_id": self.mdtrt_id, "psn_no": self.psn_no,
                                      "chrg_bchno": msgid_now, "rxno": msgid_now, "rx_circ_flag": "0", "fee_ocur_time": begntime,
                                      "med_list_codg": ITEM, "medins_list_codg": "HIS-0001", "cnt": 1, "pric": ITEM_PRICE,
                                      "det_item_fee_sumamt": 25.6, "bilg_dept_codg": "A01", "bilg_dept_name": "内科",
                                      "bilg_dr_codg": "D0001", "bilg_dr_name": "王医生", "hosp_appr_flag": "1"}]}),
                msgid_now.clone(),
            )
            .await;
        assert_eq!(reply["output"]["result"][0]["preselfpay_amt"], json!(2.56), "class B: 10% first self-pay");
        self.chrg_bchno = msgid_now;
        // 2206 with the certificate type copied into the number: settled on the visit, remarked.
        let reply = self
            .call(
                app,
                "2206",
                json!({"data": {"psn_no": self.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": "02", "med_type": "11",
                                "medfee_sumamt": 25.6, "psn_setlway": "01", "mdtrt_id": self.mdtrt_id,
                                "chrg_bchno": self.chrg_bchno, "acct_used_flag": "1", "insutype": self.insutype}}),
            )
            .await;
        assert!(reply["warn_msg"].as_str().is_some_and(|warning| warning.contains("mdtrt_cert_no")), "{reply}");
        self.presettled = reply["output"]["setlinfo"].clone();
        self.setl_id = self.presettled["medins_setl_id"].as_str().unwrap().to_string();
        let p = &self.presettled;
        let reply = self
            .call(
                app,
                "2207",
                json!({"data": {"psn_no": self.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": self.certno, "med_type": "11",
                                "medfee_sumamt": p["medfee_sumamt"], "psn_setlway": "01", "mdtrt_id": self.mdtrt_id,
                                "chrg_bchno": self.chrg_bchno, "insutype": self.insutype, "acct_used_flag": "1",
                                "fulamt_ownpay_amt": p["fulamt_ownpay_amt"], "overlmt_selfpay": p["overlmt_selfpay"],
                                "preselfpay_amt": p["preselfpay_amt"], "inscp_scp_amt": p["inscp_scp_amt"]}}),
            )
            .await;
        let setlinfo = &reply["output"]["setlinfo"];
        assert_identities(setlinfo);
        assert_eq!(setlinfo["medfee_sumamt"], self.presettled["medfee_sumamt"]);
        assert_eq!(reply["warn_msg"], Value::Null, "the whole number holds: {reply}");
        self.setl_id = setlinfo["setl_id"].as_str().unwrap().to_string();
        self.psn_no = setlinfo["psn_no"].as_str().unwrap().to_string();
        self.mdtrt_id = setlinfo["mdtrt_id"].as_str().unwrap().to_string();
    }
}

/// The local time the way `Date.format("yyyyMMddhhmmss")` gives it (China Standard Time).
fn chrono_like_now() -> String {
    yibao_domain::DateTime::from_unix(now_seconds()).compact()
}

fn now_text() -> String {
    yibao_domain::DateTime::from_unix(now_seconds()).to_string()
}

/// `encodeURIComponent`.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[tokio::test]
async fn issue_14_the_shenzhen_acceptance_driver_succeeds_call_for_call() {
    let app = spawn_app().await;
    let mut driver = Driver { random: 0x9e37_79b9_7f4a_7c15, ..Driver::default() };
    let mut calls = 0;
    driver.sign_in(&app).await;
    driver.person(&app).await;
    calls += 2;
    // Visit 1, then 2208.
    driver.visit(&app).await;
    let reply = driver
        .call(
            &app,
            "2208",
            json!({"data": {"setl_id": driver.setl_id, "mdtrt_id": driver.mdtrt_id, "psn_no": driver.psn_no}}),
        )
        .await;
    assert_eq!(money(&reply["output"]["setlinfo"]["medfee_sumamt"]), money(&json!(-25.60)));
    calls += 6;
    // Visit 2, then 2601 of its 2207.
    driver.visit(&app).await;
    let reply = driver
        .call(&app, "2601", json!({"data": {"psn_no": driver.psn_no, "omsgid": driver.omsgid, "oinfno": "2207"}}))
        .await;
    assert_eq!(reply["output"]["data"]["rvs_stas"], json!("1"), "{reply}");
    calls += 6;
    // Visit 3, then the queries.
    driver.visit(&app).await;
    calls += 5;
    let visits = driver
        .call(
            &app,
            "5201",
            json!({"data": {"psn_no": driver.psn_no, "begntime": "2021-04-01 10:28:33", "endtime": "2021-04-10 10:28:33",
                            "med_type": "11", "mdtrt_id": ""}}),
        )
        .await;
    if let Some(first) = visits["output"]["mdtrtinfo"][0]["mdtrt_id"].as_str() {
        driver.mdtrt_id = first.to_string();
    }
    let diagnoses =
        driver.call(&app, "5202", json!({"data": {"mdtrt_id": driver.mdtrt_id, "psn_no": driver.psn_no}})).await;
    let rows = diagnoses["output"]["diseinfo"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{diagnoses}");
    assert_eq!(
        (
            rows[0]["diag_code"].clone(),
            rows[0]["diag_name"].clone(),
            rows[0]["diag_type"].clone(),
            rows[0]["inout_diag_type"].clone()
        ),
        (json!("11"), json!("xx"), json!("3"), json!("1"))
    );
    let by_id = json!({"data": {"psn_no": driver.psn_no, "setl_id": driver.setl_id, "mdtrt_id": driver.mdtrt_id}});
    let settlement = driver.call(&app, "5203", by_id.clone()).await;
    assert_eq!(settlement["output"]["setlinfo"]["setl_id"], json!(driver.setl_id));
    let lines = driver.call(&app, "5204", by_id).await;
    assert_eq!(lines["output"]["feedetail"].as_array().unwrap().len(), 1);
    driver.call(&app, "5205", json!({"data": {"psn_no": driver.psn_no, "begntime": now_text(), "endtime": ""}})).await;
    let accumulated = driver.call(&app, "5206", json!({"data": {"psn_no": driver.psn_no, "cum_ym": ""}})).await;
    assert!(accumulated["output"]["cuminfo"].is_array(), "{accumulated}");
    calls += 6;
    let today = now_text()[..10].to_string();
    let reconciled = driver
        .call(
            &app,
            "3201",
            json!({"data": {"insutype": driver.insutype, "clr_type": "11", "setl_optins": REGION, "stmt_begndate": today,
                            "stmt_enddate": today, "medfee_sumamt": 2.00, "fund_pay_sumamt": 0.00, "acct_pay": 2.00,
                            "fixmedins_setl_cnt": 1}}),
        )
        .await;
    // Its fixed totals do not match the day's settlements: answered, with the difference.
    assert_eq!(reconciled["output"]["stmtinfo"]["stmt_rslt"], json!("1"), "{reconciled}");
    calls += 1;
    assert_eq!(calls, 26, "the driver's whole sequence");
}

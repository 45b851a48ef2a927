//! Detail reconciliation: 9101 upload (JSON and multipart) → 3202 → 9102 download.

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::*;

async fn settle(app: &TestApp, amount: &str) -> (String, String) {
    let visit = register(app, TERTIARY, "张伟", "11").await;
    app.call(TERTIARY, "2204", json!({"feedetail": [fee_line("1", &visit, psn("张伟"), "DEMO-A-001", amount, "1")]}))
        .await
        .ok();
    let info = app.call(TERTIARY, "2207", json!({"data": presettle_data("张伟", &visit, amount, true)})).await.ok()["setlinfo"].clone();
    (visit, info["setl_id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn detail_reconciliation_finds_every_difference() {
    let app = spawn_app().await;
    let (visit_a, setl_a) = settle(&app, "170").await;
    let (visit_b, setl_b) = settle(&app, "50").await;
    app.call(TERTIARY, "2208", json!({"data": {"setl_id": setl_b, "mdtrt_id": visit_b, "psn_no": psn("张伟")}}))
        .await
        .ok();
    let p = psn("张伟");
    let detail = format!(
        "setl_id\tmdtrt_id\tpsn_no\tmedfee_sumamt\tfund_pay_sumamt\tacct_pay\trefd_setl_flag\n\
         {setl_a}\t{visit_a}\t{p}\t170.00\t0.00\t160.00\t0\n\
         {setl_b}\t{visit_b}\t{p}\t50.00\t0.00\t50.00\t0\n\
         {setl_b}\t{visit_b}\t{p}\t-50.00\t0.00\t-50.00\t1\n\
         X9\tV9\t{p}\t10.00\t0.00\t10.00\t0\n"
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(detail.as_bytes());
    let upload = app
        .call(
            TERTIARY,
            "9101",
            json!({"fsUploadIn": {"in": encoded, "filename": "detail.txt", "fixmedins_code": TERTIARY}}),
        )
        .await;
    let file_qury_no = upload.ok()["file_qury_no"].as_str().unwrap().to_string();
    let today = app.store.now().date().to_string();
    let result = app
        .call(TERTIARY, "3202", json!({"data": {"setl_optins": "330100", "file_qury_no": file_qury_no, "stmt_begndate": today, "stmt_enddate": today,
            "medfee_sumamt": 170, "fund_pay_sumamt": 0, "cash_payamt": 0, "fixmedins_setl_cnt": 4, "clr_type": "11", "refd_setl_flag": "1"}}))
        .await;
    let output = result.ok().clone();
    assert_eq!(
        output["stmtinfo"],
        json!({"stmt_rslt": "1", "balanced": 2, "amounts_differ": 1, "only_yibao": 0, "only_institution": 1}),
        "{output}"
    );
    let result_file = output["fileinfo"]["file_qury_no"].as_str().unwrap().to_string();

    let msgid = TestApp::msgid(TERTIARY);
    let envelope = app.envelope(
        TERTIARY,
        "9102",
        json!({"fsDownloadIn": {"file_qury_no": result_file, "filename": "", "fixmedins_code": TERTIARY}}),
        &msgid,
    );
    let (status, bytes) = app.post(PATH, &signed_headers(TERTIARY), serde_json::to_vec(&envelope).unwrap()).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(bytes).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|line| line.split('\t').collect()).collect();
    let row_a = rows.iter().find(|row| row[2] == setl_a).unwrap();
    assert_eq!((row_a[4], row_a[6]), ("1", "个人账户支付机构160.00医保170.00"));
    assert!(rows.iter().any(|row| row[2] == "X9" && row[4] == "3"));
    assert_eq!(rows.iter().filter(|row| row[2] == setl_b && row[4] == "0").count(), 2, "{text}");

    // Another institution cannot download it.
    let msgid = TestApp::msgid(SECONDARY);
    let foreign = app
        .call_with_msgid(
            SECONDARY,
            "9102",
            json!({"fsDownloadIn": {"file_qury_no": result_file, "filename": "", "fixmedins_code": SECONDARY}}),
            &msgid,
        )
        .await;
    assert!(foreign.refused().contains("不存在"));
}

#[tokio::test]
async fn multipart_upload() {
    let app = spawn_app().await;
    let msgid = TestApp::msgid(TERTIARY);
    let envelope = app.envelope(
        TERTIARY,
        "9101",
        json!({"fsUploadIn": {"filename": "detail.txt", "fixmedins_code": TERTIARY}}),
        &msgid,
    );
    let mut body = Vec::new();
    body.extend_from_slice(b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"jsonStr\"\r\n\r\n");
    body.extend_from_slice(serde_json::to_string(&envelope).unwrap().as_bytes());
    body.extend_from_slice(b"\r\n--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"detail.txt\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    body.extend_from_slice(b"S1\tV1\tP1\t1.00\t0.00\t1.00\t0\n");
    body.extend_from_slice(b"\r\n--BOUNDARY--\r\n");
    let mut headers = signed_headers(TERTIARY);
    headers.push(("content-type".into(), "multipart/form-data; boundary=BOUNDARY".into()));
    let (status, reply) = app.post(PATH, &headers, body).await;
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!((status, &reply["infcode"]), (200, &json!(0)), "{reply}");
    assert!(reply["output"]["file_qury_no"].as_str().unwrap().starts_with('F'));
}

//! Detail reconciliation: 9101 upload (JSON and multipart) → 3202 → 9102 download.

use base64::Engine;
use serde_json::{Value, json};

use yibao_domain::Money;
use yibao_ledger::AccountKey;

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

/// Registers, uploads one line and settles; returns the visit, the settlement id and what the
/// fund and the account paid.
async fn settle_at(app: &TestApp, code: &str, name: &str, item: &str, amount: &str) -> (String, String, Money) {
    let visit = register(app, code, name, "11").await;
    app.call(code, "2204", json!({"feedetail": [fee_line("1", &visit, psn(name), item, amount, "1")]})).await.ok();
    let info =
        app.call(code, "2207", json!({"data": presettle_data(name, &visit, amount, true)})).await.ok()["setlinfo"]
            .clone();
    let owed = money(&info["hifp_pay"]) + money(&info["acct_pay"]);
    (visit, info["setl_id"].as_str().unwrap().to_string(), owed)
}

/// A REST amount: yuan as a string with two decimals.
fn rest_amount(value: &Value) -> Money {
    value.as_str().unwrap_or_else(|| panic!("not a REST amount: {value}")).parse().unwrap()
}

async fn payables(app: &TestApp) -> Vec<(String, Money)> {
    let keys: Vec<AccountKey> = [TERTIARY, SECONDARY, COMMUNITY, PHARMACY]
        .iter()
        .map(|code| AccountKey::InstitutionPayable(code.parse().unwrap()))
        .collect();
    let accounts = app.store.read(move |r| r.accounts(&keys)).await.unwrap();
    accounts.into_iter().map(|a| (a.key.to_string(), a.balance())).collect()
}

#[tokio::test]
async fn a_day_of_settlements_is_stated_reconciled_and_paid_to_the_fen() {
    let app = spawn_app().await;
    let operator = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let (_, _, owed_a) = settle_at(&app, TERTIARY, "张伟", "DEMO-A-002", "120").await;
    let (visit_b, setl_b, _) = settle_at(&app, TERTIARY, "李秀英", "DEMO-A-002", "300").await;
    let (_, _, owed_c) = settle_at(&app, TERTIARY, "陈军", "DEMO-A-002", "260").await;
    let (_, _, owed_d) = settle_at(&app, COMMUNITY, "刘芳", "DEMO-A-002", "80").await;
    app.call(TERTIARY, "2208", json!({"data": {"setl_id": setl_b, "mdtrt_id": visit_b, "psn_no": psn("李秀英")}}))
        .await
        .ok();
    let today = app.store.now().date().to_string();

    // The statement: its totals are the sum of the day's settlements in force.
    let path = format!("/api/v1/clearing/institutions/{TERTIARY}?from={today}&to={today}");
    let statement = app.rest("GET", &path, Some(&operator), &[], None).await;
    assert_eq!(statement.status, 200, "{}", statement.body);
    let body = &statement.body;
    assert_eq!(rest_amount(&body["totals"]["owed"]), owed_a + owed_c, "{body}");
    assert_eq!(rest_amount(&body["totals"]["medfee"]), "380".parse().unwrap());
    assert_eq!(body["totals"]["count"], json!(4), "three settlements and one cancelling mirror");
    let rows = body["settlements"].as_array().unwrap();
    let row_sum = rows.iter().fold(Money::ZERO, |sum, row| sum + rest_amount(&row["owed"]));
    assert_eq!(row_sum, owed_a + owed_c);
    assert_eq!(rest_amount(&body["unpaid"]), owed_a + owed_c);
    assert_eq!(rest_amount(&body["balances"]["payable"]), owed_a + owed_c);

    // CSV and PDF of the same statement.
    let csv = app.rest("GET", &format!("{path}&format=csv"), Some(&operator), &[], None).await;
    assert_eq!(csv.status, 200);
    let text = csv.body.as_str().unwrap().trim_start_matches('\u{feff}').to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("setl_id,setl_time,fixmedins_code"), "{text}");
    assert_eq!(lines.len(), 1 + 4 + 1, "header, four records, totals: {text}");
    assert!(lines[5].starts_with("合计"), "{text}");
    assert!(lines[5].ends_with(&(owed_a + owed_c).to_string()), "{text}");
    let pdf = app.rest("GET", &format!("{path}&format=pdf"), Some(&operator), &[], None).await;
    assert_eq!(pdf.status, 200);
    assert!(pdf.body.as_str().unwrap().starts_with("%PDF-"));

    // The institution reads its own statement over the national gateway's signature, not others'.
    let own = app.rest("GET", &path, None, &signed_headers(TERTIARY), None).await;
    assert_eq!(own.status, 200, "{}", own.body);
    let other = app.rest("GET", &path, None, &signed_headers(COMMUNITY), None).await;
    assert_eq!(other.status, 403, "{}", other.body);

    // 3201 with the right totals balances; with a wrong one it names the difference.
    let medfee_310 = "380.00"; // 张伟 120 + 陈军 260 (李秀英's 300 was cancelled)
    let account_310: Money = statement.body["totals"]["account"].as_str().unwrap().parse().unwrap();
    let fund_310: Money = statement.body["totals"]["fund"].as_str().unwrap().parse().unwrap();
    let totals = |fund: Money| {
        json!({"data": {"insutype": "310", "clr_type": "11", "setl_optins": "330100", "stmt_begndate": today,
        "stmt_enddate": today, "medfee_sumamt": number(medfee_310), "fund_pay_sumamt": number(&fund.to_string()),
        "acct_pay": number(&account_310.to_string()), "fixmedins_setl_cnt": "2", "refd_setl_flag": "0"}})
    };
    let balanced = app.call(TERTIARY, "3201", totals(fund_310)).await;
    assert_eq!(balanced.ok()["stmtinfo"]["stmt_rslt"], json!("0"), "{}", balanced.body);
    let wrong = app.call(TERTIARY, "3201", totals(fund_310 + "1.5".parse().unwrap())).await;
    let info = wrong.ok()["stmtinfo"].clone();
    assert_eq!(info["stmt_rslt"], json!("1"));
    assert!(info["stmt_rslt_dscr"].as_str().unwrap().contains("基金支付总额"), "{info}");
    assert!(info["stmt_rslt_dscr"].as_str().unwrap().contains("相差1.50元"), "{info}");

    // Paying: not before the day has ended; then once; then every institution payable is zero.
    let pay = json!({"from": today, "to": today});
    let early = app
        .rest(
            "POST",
            &format!("/api/v1/clearing/institutions/{TERTIARY}/payments"),
            Some(&operator),
            &[],
            Some(pay.clone()),
        )
        .await;
    assert_eq!(early.status, 422, "{}", early.body);
    app.advance_days(1);
    for code in [TERTIARY, SECONDARY, COMMUNITY, PHARMACY] {
        let paid = app
            .rest(
                "POST",
                &format!("/api/v1/clearing/institutions/{code}/payments"),
                Some(&operator),
                &[],
                Some(pay.clone()),
            )
            .await;
        assert_eq!(paid.status, 200, "{}", paid.body);
        assert_eq!(paid.body["payable_balance"], json!("0.00"), "{code}: {}", paid.body);
        if code == TERTIARY {
            assert_eq!(rest_amount(&paid.body["amount"]), owed_a + owed_c);
        }
        if code == COMMUNITY {
            assert_eq!(rest_amount(&paid.body["amount"]), owed_d);
        }
    }
    for (key, balance) in payables(&app).await {
        assert_eq!(balance, Money::ZERO, "{key}");
    }
    let again = app
        .rest(
            "POST",
            &format!("/api/v1/clearing/institutions/{TERTIARY}/payments"),
            Some(&operator),
            &[],
            Some(pay.clone()),
        )
        .await;
    assert_eq!(
        (again.body["amount"].clone(), again.body["already_paid_days"].clone()),
        (json!("0.00"), json!([today]))
    );
    let paid_statement = app.rest("GET", &path, Some(&operator), &[], None).await;
    assert_eq!(rest_amount(&paid_statement.body["paid"]), owed_a + owed_c);
    assert_eq!(rest_amount(&paid_statement.body["unpaid"]), Money::ZERO);

    // 陈军 (insured in 330200) was treated in 330100: 330200 owes 330100 what its fund and his
    // account paid, and settling that leaves both sides at zero.
    let inter = format!("/api/v1/clearing/inter-region?insured=330200&treated=330100&from={today}&to={today}");
    let owed = app.rest("GET", &inter, Some(&operator), &[], None).await;
    assert_eq!(owed.status, 200, "{}", owed.body);
    assert_eq!(rest_amount(&owed.body["totals"]["owed"]), owed_c);
    assert_eq!(rest_amount(&owed.body["balances"]["payable"]), owed_c);
    assert_eq!(rest_amount(&owed.body["balances"]["receivable"]), owed_c);
    let settle = json!({"insured": "330200", "treated": "330100", "from": today, "to": today});
    let paid = app.rest("POST", "/api/v1/clearing/inter-region/payments", Some(&operator), &[], Some(settle)).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(rest_amount(&paid.body["amount"]), owed_c);
    assert_eq!(paid.body["payable_balance"], json!("0.00"));
    let verify = app.rest("GET", "/api/v1/ledger/verify", Some(&operator), &[], None).await;
    assert_eq!(verify.status, 200, "{}", verify.body);
}

#[tokio::test]
async fn clearing_requests_with_bad_input_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let operator = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let person = app.person_login("张伟").await;
    let base = format!("/api/v1/clearing/institutions/{TERTIARY}");
    for (path, status) in [
        (format!("{base}?from=2026-13-01&to=2026-11-01"), 400),
        (format!("{base}?from=2026-11-02&to=2026-11-01"), 400),
        (format!("{base}?from=2024-01-01&to=2026-01-01"), 400),
        (format!("{base}?from=2026-11-01&to=2026-11-01&format=xls"), 400),
        ("/api/v1/clearing/institutions/H99999999999?from=2026-11-01&to=2026-11-01".to_string(), 404),
        ("/api/v1/clearing/inter-region?from=2026-11-01&to=2026-11-01".to_string(), 400),
    ] {
        let reply = app.rest("GET", &path, Some(&operator), &[], None).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
    }
    let as_person = app.rest("GET", &format!("{base}?from=2026-11-01&to=2026-11-01"), Some(&person), &[], None).await;
    assert_eq!(as_person.status, 403);
    let before = count(&app, "transfers").await;
    for body in [
        json!({"from": "2026-11-01"}),
        json!({"from": "x", "to": "2026-11-01"}),
        json!({"from": "2026-11-01", "to": "2026-11-01", "insured": "330200"}),
    ] {
        let reply = app.rest("POST", &format!("{base}/payments"), Some(&operator), &[], Some(body.clone())).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
    }
    let same = json!({"insured": "330100", "treated": "330100", "from": "2026-11-01", "to": "2026-11-01"});
    let reply = app.rest("POST", "/api/v1/clearing/inter-region/payments", Some(&operator), &[], Some(same)).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(count(&app, "transfers").await, before);
}

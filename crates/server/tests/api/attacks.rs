//! Issue 14: every defect found by attacking the demo, attacked the same way again, and now
//! refused. (The Shenzhen driver is in `shenzhen.rs`, the card rules in `cards.rs`, the
//! e-voucher in `evoucher.rs`; `scripts/attack.sh` runs the same probes against a running
//! `yibao serve --demo`.) Many requests at once where the attack used many at once; each
//! attacker comes from a loopback address of its own (the server limits per source).

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

async fn admin(app: &TestApp) -> String {
    app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await
}

fn code_of(reply: &Rest) -> String {
    reply.body["error"]["code"].as_str().unwrap_or("").to_string()
}

/// Sends `n` requests at once; each answer's status and error code, in submission order.
async fn at_once<F, Fut>(n: usize, request: F) -> Vec<(u16, String)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Rest> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for index in 0..n {
        let future = request(index);
        set.spawn(async move { (index, future.await) });
    }
    let mut answers = vec![(0, String::new()); n];
    while let Some(joined) = set.join_next().await {
        let (index, reply) = joined.expect("the request task ends");
        answers[index] = (reply.status, code_of(&reply));
    }
    answers
}

#[tokio::test]
async fn issue_14_01_pin_endpoints_answer_only_the_holder_a_designated_terminal_or_an_operator() {
    let app = spawn_app().await;
    let zhang = app.person_login("张伟").await;
    let verify = |card: &str| format!("/api/v1/cards/{card}/pin/verify");
    // Another person's card: neither verified nor changed, whether it exists or not.
    for card in ["A10000002", "A19999999"] {
        let check = app.rest("POST", &verify(card), Some(&zhang), &[], Some(json!({"pin": "147258"}))).await;
        assert_eq!((check.status, code_of(&check)), (403, "forbidden".into()), "{card}: {}", check.body);
        let change = app
            .rest(
                "POST",
                &format!("/api/v1/cards/{card}/pin/change"),
                Some(&zhang),
                &[],
                Some(json!({"old_pin": "147258", "new_pin": "258369"})),
            )
            .await;
        assert_eq!(change.status, 403, "{card}: {}", change.body);
    }
    // Six wrong guesses by another person do not lock the holder's card.
    for _ in 0..6 {
        let guess = app.rest("POST", &verify("A10000002"), Some(&zhang), &[], Some(json!({"pin": "000000"}))).await;
        assert_eq!(guess.status, 403);
    }
    // A terminal checks only its patients' cards: not before it identified 李秀英.
    let stranger =
        app.rest("POST", &verify("A10000002"), None, &signed_headers(TERTIARY), Some(json!({"pin": "147258"}))).await;
    assert_eq!(stranger.status, 403, "{}", stranger.body);
    identify(&app, TERTIARY, "李秀英").await;
    let terminal =
        app.rest("POST", &verify("A10000002"), None, &signed_headers(TERTIARY), Some(json!({"pin": "147258"}))).await;
    assert_eq!(terminal.status, 200, "not locked: {}", terminal.body);
    let token = admin(&app).await;
    assert_eq!(
        app.rest("POST", &verify("A10000002"), Some(&token), &[], Some(json!({"pin": "147258"}))).await.status,
        200
    );
    // Only the holder changes a PIN: not an operator, not a terminal.
    let by_operator = app
        .rest(
            "POST",
            "/api/v1/cards/A10000002/pin/change",
            Some(&token),
            &[],
            Some(json!({"old_pin": "147258", "new_pin": "258369"})),
        )
        .await;
    assert_eq!(by_operator.status, 403);
    // An initial-password session verifies nothing, not even its own card.
    let zhao = app
        .rest(
            "POST",
            "/api/v1/auth/login",
            None,
            &[],
            Some(json!({"role": "person", "id_number": id_number("赵敏"), "password": "505678"})),
        )
        .await;
    let zhao = zhao.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.rest("POST", &verify("A10000006"), Some(&zhao), &[], Some(json!({"pin": "147258"}))).await.status,
        403
    );
    // The holder changes her own PIN; every audit entry names the caller and the card apart.
    let li = app.person_login("李秀英").await;
    let changed = app
        .rest(
            "POST",
            "/api/v1/cards/A10000002/pin/change",
            Some(&li),
            &[],
            Some(json!({"old_pin": "147258", "new_pin": "258369"})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let audit = app.rest("GET", "/api/v1/audit?subject=A10000002&limit=100", Some(&token), &[], None).await;
    let entries: Vec<&Value> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().contains("pin"))
        .collect();
    let actors: Vec<&str> = entries.iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert!(actors.contains(&format!("person:{}", psn("李秀英")).as_str()), "{actors:?}");
    assert!(actors.contains(&"institution:H33010000001") && actors.contains(&"operator:admin"), "{actors:?}");
    assert!(
        entries.iter().all(|e| e["subject"] == json!("A10000002") && e["actor"] != json!("A10000002")),
        "{entries:?}"
    );
}

#[tokio::test]
async fn issue_14_02_many_wrong_passwords_at_once_are_counted_before_any_is_checked() {
    let app = Arc::new(spawn_app().await);
    let token = admin(&app).await;
    let created = app
        .rest(
            "POST",
            "/api/v1/operators",
            Some(&token),
            &[],
            Some(json!({"username": "desk7", "password": "Desk7pass2026", "roles": ["operator"]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let attacker = [127, 0, 0, 20];
    // 40 at once, the right password 30th: at most five are checked.
    let answers = at_once(40, |index| {
        let app = app.clone();
        let password = if index == 29 { "Desk7pass2026" } else { "Wrong0000" };
        async move {
            app.rest_from(
                Some(attacker),
                "POST",
                "/api/v1/auth/login",
                None,
                &[],
                Some(json!({"role": "operator", "username": "desk7", "password": password})),
            )
            .await
        }
    })
    .await;
    let checked_wrong = answers.iter().filter(|(status, _)| *status == 401).count();
    let right = answers[29].0 == 200;
    assert!(checked_wrong <= 5, "{checked_wrong} wrong passwords were checked: {answers:?}");
    assert!(!right || checked_wrong < 5, "the right password came after five wrong ones: {answers:?}");
    assert!(answers.iter().all(|(status, _)| [200, 401, 403, 429].contains(status)), "{answers:?}");
    // The attacker, now with the right password, stays out…
    let login = json!({"role": "operator", "username": "desk7", "password": "Desk7pass2026"});
    let again = app.rest_from(Some(attacker), "POST", "/api/v1/auth/login", None, &[], Some(login.clone())).await;
    assert!(again.status == 403 || again.status == 429 || right, "{}", again.body);
    // …while the operator at another desk gets in (one attacker cannot lock an account out).
    let desk = app.rest_from(Some([127, 0, 0, 21]), "POST", "/api/v1/auth/login", None, &[], Some(login)).await;
    assert_eq!(desk.status, 200, "{}", desk.body);
}

#[tokio::test]
async fn issue_14_02_many_wrong_pins_at_once_lock_the_card_after_five() {
    let app = Arc::new(spawn_app().await);
    identify(&app, SECONDARY, "王强").await;
    let answers = at_once(40, |index| {
        let app = app.clone();
        let pin = if index == 39 { "147258" } else { "000000" };
        async move {
            app.rest(
                "POST",
                "/api/v1/cards/A10000003/pin/verify",
                None,
                &signed_headers(SECONDARY),
                Some(json!({"pin": pin})),
            )
            .await
        }
    })
    .await;
    let checked_wrong = answers.iter().filter(|(_, code)| code == "bad_pin").count();
    assert!(checked_wrong <= 5, "{checked_wrong} wrong PINs were checked: {answers:?}");
    assert!(answers[39].0 != 200 || checked_wrong < 5, "{answers:?}");
    if answers[39].0 != 200 {
        let locked = app
            .rest(
                "POST",
                "/api/v1/cards/A10000003/pin/verify",
                None,
                &signed_headers(SECONDARY),
                Some(json!({"pin": "147258"})),
            )
            .await;
        assert_eq!((locked.status, code_of(&locked)), (403, "locked".into()), "{}", locked.body);
    }
}

#[tokio::test]
async fn issue_14_08_the_counter_sign_in_is_counted_per_code_and_per_source() {
    let app = Arc::new(spawn_app().await);
    // The browser's own page posts the form (the test client calls the server "localhost").
    let origin = "http://localhost".to_string();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let (app, origin) = (app.clone(), origin.clone());
        set.spawn(async move {
            browse_from(
                &app,
                Some([127, 0, 0, 30]),
                "/counter/login",
                "",
                Some(&[("code", PHARMACY), ("secret", "guess")]),
                &[("origin", origin.as_str())],
            )
            .await
            .status
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = set.join_next().await {
        statuses.push(status.unwrap());
    }
    let checked = statuses.iter().filter(|status| **status == 401).count();
    assert!(checked <= 5, "{checked} wrong secrets were checked: {statuses:?}");
    assert!(statuses.iter().all(|status| [401, 403, 429].contains(status)), "{statuses:?}");
    let right = [("code", PHARMACY), ("secret", "demo-P33010000001")];
    let attacker = browse_from(&app, Some([127, 0, 0, 30]), "/counter/login", "", Some(&right), &[]).await;
    assert!(attacker.cookie.is_none() && [403, 429].contains(&attacker.status), "{}", attacker.status);
    let till = browse_from(&app, Some([127, 0, 0, 31]), "/counter/login", "", Some(&right), &[]).await;
    assert_eq!(till.status, 303, "the pharmacy's own till signs in");
    assert!(till.cookie.is_some());
}

#[tokio::test]
async fn issue_14_03_institutions_read_only_their_patients_at_a_limited_rate_and_every_read_is_audited() {
    let app = spawn_app().await;
    let path = format!("/api/v1/persons/{}", psn("刘芳"));
    let before = app.rest("GET", &path, None, &signed_headers(SECONDARY), None).await;
    assert_eq!(before.status, 404, "not yet its patient: {}", before.body);
    identify(&app, SECONDARY, "刘芳").await;
    // 130 reads in a row: whichever minute they fall in (at most two), no more than 60 a minute.
    let mut statuses = Vec::new();
    for _ in 0..130 {
        statuses.push(app.rest("GET", &path, None, &signed_headers(SECONDARY), None).await.status);
    }
    let read = statuses.iter().filter(|s| **s == 200).count();
    assert!(read <= 120 && statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    let token = admin(&app).await;
    let audit =
        app.rest("GET", &format!("/api/v1/audit?subject={}&limit=500", psn("刘芳")), Some(&token), &[], None).await;
    let entries = audit.body["entries"].as_array().unwrap();
    let reads = entries
        .iter()
        .filter(|e| e["actor"] == json!("institution:H33010000002") && e["action"] == json!("read-person"))
        .count();
    assert_eq!(reads, read, "every read is audited");
    assert!(entries.iter().any(|e| e["action"] == json!("read-person-refused")), "and so is the refused one");
    assert!(entries.iter().any(|e| e["action"] == json!("identify-person")), "1101 is audited");
    // New person numbers are drawn, not counted.
    let mut numbers = Vec::new();
    for id in ["330102200203041234", "110101199003074514"] {
        let person =
            json!({"id_number": id, "name": "新参保", "admdvs": "330100", "insutype": "310", "psn_type": "1101"});
        let created = app.rest("POST", "/api/v1/persons", Some(&token), &[], Some(person)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        numbers.push(created.body["psn_no"].as_str().unwrap()[6..].parse::<u64>().unwrap());
    }
    assert!(numbers.iter().all(|n| *n >= 1_000_000_000) && numbers[0].abs_diff(numbers[1]) > 1, "{numbers:?}");
}

fn many_lines(mdtrt_id: &str, psn_no: &str, from: usize, count: usize) -> Value {
    let lines: Vec<Value> =
        (from..from + count).map(|n| fee_line(&format!("L{n}"), mdtrt_id, psn_no, "DEMO-A-001", "0.01", "1")).collect();
    json!({"feedetail": lines})
}

#[tokio::test]
async fn issue_14_04_a_visit_holds_what_real_bills_need_and_no_more() {
    let app = spawn_app().await;
    let visit = register(&app, TERTIARY, "王强", "11").await;
    app.call(TERTIARY, "2204", many_lines(&visit, psn("王强"), 0, 1_000)).await.ok();
    let over = app.call(TERTIARY, "2204", many_lines(&visit, psn("王强"), 1_000, 1)).await;
    assert!(over.refused().contains("1000"), "{}", over.body);
    // An inpatient stay: 5 000 lines.
    let stay = app
        .call(TERTIARY, "2401", json!({"mdtrtinfo": {"psn_no": psn("王强"), "insutype": "310", "begntime": "2026-11-20 09:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("王强"), "med_type": "21", "ipt_no": "ZY9", "atddr_no": "D001",
            "chfpdr_name": "医生", "adm_dept_codg": "B01", "adm_dept_name": "呼吸科", "dise_codg": "J18.900", "dise_name": "肺炎"},
            "diseinfo": []}))
        .await;
    let stay = stay.ok()["result"]["mdtrt_id"].as_str().unwrap().to_string();
    for chunk in 0..5 {
        app.call(TERTIARY, "2301", many_lines(&stay, psn("王强"), chunk * 1_000, 1_000)).await.ok();
    }
    let over = app.call(TERTIARY, "2301", many_lines(&stay, psn("王强"), 5_000, 1)).await;
    assert!(over.refused().contains("5000"), "{}", over.body);
    // The full stay still settles (and a duplicate serial is still found without reading it).
    let duplicate = app.call(TERTIARY, "2301", many_lines(&stay, psn("王强"), 4_999, 1)).await;
    assert!(duplicate.refused().contains("5000") || duplicate.refused().contains("已存在"), "{}", duplicate.body);
}

#[tokio::test]
async fn issue_14_05_bodies_beyond_any_route_are_refused_unread() {
    let app = spawn_app().await;
    let (status, _) = app.post(PATH, &signed_headers(TERTIARY), vec![b' '; 17 * 1024 * 1024]).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn issue_14_07_a_msgid_belongs_to_its_sender() {
    let app = spawn_app().await;
    let future = TestApp::msgid(TERTIARY);
    let blocked =
        app.call(SECONDARY, "2601", json!({"data": {"psn_no": psn("王强"), "omsgid": future, "oinfno": "2201"}})).await;
    assert!(blocked.refused().contains("omsgid"), "{}", blocked.body);
    let own = app
        .call_with_msgid(
            TERTIARY,
            "1101",
            json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("王强")}}),
            &future,
        )
        .await;
    own.ok();
    for msgid in
        ["ZZZ", &TestApp::msgid(TERTIARY), &format!("{SECONDARY}2026"), &format!("{SECONDARY}20261201120000-001")]
    {
        let refused = app
            .call_with_msgid(
                SECONDARY,
                "1101",
                json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("王强")}}),
                msgid,
            )
            .await;
        assert!(refused.refused().contains("msgid"), "{msgid}: {}", refused.body);
    }
}

#[tokio::test]
async fn issue_14_09_a_huge_multipart_boundary_is_refused_at_once() {
    let app = spawn_app().await;
    let boundary = "-".repeat(60_000);
    let mut headers = signed_headers(TERTIARY);
    headers.push(("content-type".into(), format!("multipart/form-data; boundary={boundary}")));
    let body = format!("--{boundary}\r\n").repeat(10).into_bytes();
    let (status, reply) = app.post(PATH, &headers, body).await;
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!((status, reply["infcode"].clone()), (200, json!(-1)));
    assert!(reply["err_msg"].as_str().unwrap().contains("boundary"), "{reply}");
}

#[tokio::test]
async fn issue_14_10_pages_carry_their_policies_and_take_forms_only_from_themselves() {
    let app = spawn_app().await;
    for path in ["/portal/login", "/counter/login", "/agency/login"] {
        let page = browse(&app, path, "", None).await;
        let policy = page.header("content-security-policy").unwrap_or_default();
        assert!(policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(page.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert!(page.header("referrer-policy").is_some(), "{path}");
        assert!(
            !page.html.contains("<script>") && !page.html.contains(" style=\"") && !page.html.contains("onclick"),
            "{path}"
        );
    }
    let form = [("id_number", id_number("张伟")), ("password", "Demo@2026")];
    let forged = browse_from(&app, None, "/portal/login", "", Some(&form), &[("origin", "https://evil.example")]).await;
    assert!(forged.status == 403 && forged.cookie.is_none(), "login CSRF: {}", forged.status);
    let referred =
        browse_from(&app, None, "/portal/login", "", Some(&form), &[("referer", "https://evil.example/x")]).await;
    assert_eq!(referred.status, 403);
    let own = browse_from(&app, None, "/portal/login", "", Some(&form), &[("origin", "http://localhost")]).await;
    assert_eq!(own.status, 303);
    let cookie = own.headers.iter().find(|(name, _)| name == "set-cookie").map(|(_, value)| value.clone()).unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("Secure"),
        "{cookie}"
    );
    // Behind TLS (a public https:// address): Secure cookies and HSTS.
    let tls = spawn_app_with(|application| application.with_public_url("https://yibao.example.cn")).await;
    let own =
        browse_from(&tls, None, "/portal/login", "", Some(&form), &[("origin", "https://yibao.example.cn")]).await;
    assert_eq!(own.status, 303);
    assert!(own.headers.iter().any(|(name, value)| name == "set-cookie" && value.contains("; Secure")));
    assert!(own.header("strict-transport-security").is_some());
}

#[tokio::test]
async fn issue_14_11_signed_headers_captured_before_a_restart_are_refused_after_it() {
    let app = spawn_app().await;
    let headers = signed_headers(TERTIARY);
    let input = json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟")}});
    let first = app.envelope(TERTIARY, "1101", input.clone(), &TestApp::msgid(TERTIARY));
    let (status, _) = app.post(PATH, &headers, serde_json::to_vec(&first).unwrap()).await;
    assert_eq!(status, 200);
    let replay = app.envelope(TERTIARY, "1101", input.clone(), &TestApp::msgid(TERTIARY));
    assert_eq!(app.post(PATH, &headers, serde_json::to_vec(&replay).unwrap()).await.0, 401, "the same headers twice");
    let app = app.restart().await;
    let another = app.envelope(TERTIARY, "1101", input, &TestApp::msgid(TERTIARY));
    let (status, body) = app.post(PATH, &headers, serde_json::to_vec(&another).unwrap()).await;
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn issue_14_12_lockouts_do_not_tell_which_id_numbers_have_accounts() {
    let app = spawn_app().await;
    let mut sequences = Vec::new();
    for (id, source) in [(id_number("陈军"), [127, 0, 0, 40]), ("110101199003074514", [127, 0, 0, 41])] {
        let mut answers = Vec::new();
        for _ in 0..8 {
            let reply = app
                .rest_from(
                    Some(source),
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    &[],
                    Some(json!({"role": "person", "id_number": id, "password": "Wrong0000"})),
                )
                .await;
            answers.push((reply.status, code_of(&reply)));
        }
        sequences.push(answers);
    }
    assert_eq!(sequences[0], sequences[1]);
    assert!(sequences[0].iter().any(|(status, _)| *status == 403), "{:?}", sequences[0]);
}

#[tokio::test]
async fn issue_14_13_a_file_name_cannot_break_a_header() {
    let app = spawn_app().await;
    for name in ["a\r\nX-Injected: 1.txt", "a\".txt", "../../etc/passwd"] {
        let upload = app
            .call(
                TERTIARY,
                "9101",
                json!({"fsUploadIn": {"in": "aGVsbG8=", "filename": name, "fixmedins_code": TERTIARY}}),
            )
            .await;
        assert!(upload.refused().contains("filename"), "{name}: {}", upload.body);
    }
}

#[tokio::test]
async fn issue_14_14_attacker_text_cannot_forge_log_lines_nor_put_id_numbers_in_them() {
    let app = spawn_app().await;
    let forged = app.call(TERTIARY, "2207\nINFO forged log line", json!({"data": {}})).await;
    assert_eq!(forged.body["infcode"], json!(-1));
    let whole = id_number("李秀英");
    for input in [
        json!({"data": {"psn_no": whole, "insutype": "310", "begntime": "2026-11-23 10:00:00", "mdtrt_cert_type": "02", "mdtrt_cert_no": whole, "ipt_otp_no": "1"}}),
        json!({"data": {"psn_no": psn("李秀英"), "mdtrt_id": whole, "insutype": whole}}),
    ] {
        assert_eq!(app.call(TERTIARY, "2201", input.clone()).await.body["infcode"], json!(-1));
        assert_eq!(app.call(TERTIARY, "2206", input).await.body["infcode"], json!(-1));
    }
    let logs = logs();
    assert!(!logs.lines().any(|line| line.starts_with("INFO forged")), "a forged line");
    assert!(!logs.contains(whole), "a whole ID number in the log");
}

#[tokio::test]
async fn issue_14_15_idle_and_slow_connections_are_closed() {
    let app =
        spawn_app_with(|application| application.with_header_read_timeout(std::time::Duration::from_millis(500))).await;
    let mut idle = app.connect(None).await;
    let mut buffer = [0u8; 64];
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), idle.read(&mut buffer)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "an idle connection is closed: {closed:?}");
    // A kept-alive connection that goes quiet after a request is closed too.
    let mut quiet = app.connect(None).await;
    quiet.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), quiet.read_to_end(&mut answer)).await;
    assert!(ended.is_ok(), "the server closed the kept-alive connection");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn issue_14_19_1101_warns_of_a_frozen_account() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let zhang = app.person_login("张伟").await;
    let lost =
        app.rest("POST", "/api/v1/cards/A10000001/loss", Some(&zhang), &[], Some(json!({"reason": "丢失"}))).await;
    assert_eq!(lost.status, 200, "{}", lost.body);
    let replaced = app
        .rest(
            "POST",
            "/api/v1/cards/A10000001/replacement",
            Some(&token),
            &[],
            Some(json!({"bank": "ICBC", "reason": "补卡"})),
        )
        .await;
    assert_eq!(replaced.status, 201, "{}", replaced.body);
    let reply = app
        .call(TERTIARY, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟")}}))
        .await;
    reply.ok();
    assert!(reply.body["warn_msg"].as_str().is_some_and(|warning| warning.contains("冻结")), "{}", reply.body);
    let clean = app
        .call(TERTIARY, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("李秀英")}}))
        .await;
    assert_eq!(clean.body["warn_msg"], Value::Null);
}

#[tokio::test]
async fn issue_14_20_21_a_copied_certno_is_accepted_a_wrong_secret_is_not() {
    let app = spawn_app().await;
    let answer = app
        .call(TERTIARY, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟")}}))
        .await;
    assert_eq!(answer.ok()["baseinfo"]["certno"], json!(id_number("张伟")), "the whole number, to its institution");
    let masked = app
        .call(TERTIARY, "2201", json!({"data": {"psn_no": psn("张伟"), "insutype": "310", "begntime": "2026-11-23 10:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": "330102********1236", "ipt_otp_no": "MZ1", "atddr_no": "D1", "dr_name": "医生",
            "dept_code": "A01", "dept_name": "内科", "caty": "A01"}}))
        .await;
    let visit = masked.ok()["data"]["mdtrt_id"].as_str().unwrap().to_string();
    let someone_else = app
        .call(
            TERTIARY,
            "2201",
            json!({"data": {"psn_no": psn("张伟"), "insutype": "310", "begntime": "2026-11-23 10:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": "330106********2342", "ipt_otp_no": "MZ2"}}),
        )
        .await;
    assert!(someone_else.refused().contains("不符"));
    app.call(TERTIARY, "2204", json!({"feedetail": [fee_line("1", &visit, psn("张伟"), "DEMO-A-001", "10", "1")]}))
        .await
        .ok();
    let mut data = presettle_data("张伟", &visit, "10", true);
    data["mdtrt_cert_no"] = json!("02");
    let remarked = app.call(TERTIARY, "2206", json!({"data": data})).await;
    remarked.ok();
    assert!(remarked.body["warn_msg"].as_str().is_some(), "{}", remarked.body);
    let mut token = presettle_data("张伟", &visit, "10", true);
    token["mdtrt_cert_type"] = json!("01");
    token["mdtrt_cert_no"] = json!("330100ec0123456789abcdef0123456789abcdef");
    assert!(app.call(TERTIARY, "2206", json!({"data": token})).await.refused().contains("令牌"));
    let mut card = presettle_data("张伟", &visit, "10", true);
    card["mdtrt_cert_type"] = json!("03");
    card["mdtrt_cert_no"] = json!("A10000002");
    assert!(app.call(TERTIARY, "2206", json!({"data": card})).await.refused().contains("不符"));
}

#[tokio::test]
async fn issue_14_23_a_short_nonce_may_repeat_with_a_new_timestamp_but_not_be_replayed() {
    let app = spawn_app().await;
    let headers_at = |timestamp: i64| {
        vec![
            ("x-tif-paasid".to_string(), TERTIARY.to_string()),
            ("x-tif-timestamp".to_string(), timestamp.to_string()),
            ("x-tif-nonce".to_string(), "7".to_string()),
            ("x-tif-signature".to_string(), signature(&timestamp.to_string(), "demo-H33010000001", "7")),
        ]
    };
    let input = json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟")}});
    let now = now_seconds();
    for (timestamp, expected) in [(now, 200), (now + 1, 200), (now, 401)] {
        let envelope = app.envelope(TERTIARY, "1101", input.clone(), &TestApp::msgid(TERTIARY));
        let (status, _) = app.post(PATH, &headers_at(timestamp), serde_json::to_vec(&envelope).unwrap()).await;
        assert_eq!(status, expected, "timestamp {timestamp}");
    }
}

#[tokio::test]
async fn issue_14_review_a_visit_registered_with_a_secret_is_not_settled_on_a_wrong_id_number_nor_a_lost_card() {
    let app = spawn_app().await;
    let opened = app
        .call(
            TERTIARY,
            "2201",
            json!({"data": {"psn_no": psn("张伟"), "insutype": "310", "begntime": "2026-11-23 10:00:00",
            "mdtrt_cert_type": "03", "mdtrt_cert_no": "A10000001", "ipt_otp_no": "MZ7"}}),
        )
        .await;
    let visit = opened.ok()["data"]["mdtrt_id"].as_str().unwrap().to_string();
    app.call(TERTIARY, "2204", json!({"feedetail": [fee_line("1", &visit, psn("张伟"), "DEMO-A-001", "10", "1")]}))
        .await
        .ok();
    let mut wrong = presettle_data("张伟", &visit, "10", true);
    wrong["mdtrt_cert_no"] = json!("02");
    assert!(app.call(TERTIARY, "2206", json!({"data": wrong})).await.refused().contains("不符"));
    let zhang = app.person_login("张伟").await;
    let lost =
        app.rest("POST", "/api/v1/cards/A10000001/loss", Some(&zhang), &[], Some(json!({"reason": "丢失"}))).await;
    assert_eq!(lost.status, 200);
    let mut bare = presettle_data("张伟", &visit, "10", true);
    bare.as_object_mut().unwrap().remove("mdtrt_cert_type");
    bare.as_object_mut().unwrap().remove("mdtrt_cert_no");
    assert!(app.call(TERTIARY, "2207", json!({"data": bare})).await.refused().contains("A10000001"), "the lost card");
}

#[tokio::test]
async fn issue_14_review_an_activation_code_opens_an_account_once_even_at_once() {
    let app = Arc::new(spawn_app().await);
    let token = admin(&app).await;
    let person = json!({"id_number": "110101199003074514", "name": "新参保", "admdvs": "330100", "insutype": "310", "psn_type": "1101"});
    let created = app.rest("POST", "/api/v1/persons", Some(&token), &[], Some(person)).await;
    let psn_no = created.body["psn_no"].as_str().unwrap().to_string();
    let issued = app.rest("POST", &format!("/api/v1/persons/{psn_no}/activation-code"), Some(&token), &[], None).await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let code = issued.body["code"].as_str().unwrap().to_string();
    let mut sessions = Vec::new();
    for source in 0..8u8 {
        let login = app
            .rest_from(
                Some([127, 0, 1, 10 + source]),
                "POST",
                "/api/v1/auth/login",
                None,
                &[],
                Some(json!({"role": "person", "id_number": "110101199003074514", "password": "307451"})),
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.body);
        sessions.push(login.body["token"].as_str().unwrap().to_string());
    }
    let sessions = Arc::new(sessions);
    let answers = at_once(8, |index| {
        let (app, sessions, code) = (app.clone(), sessions.clone(), code.clone());
        async move {
            let body = json!({"new_password": format!("Mine{index}pass2026"), "activation_code": code});
            app.rest_from(
                Some([127, 0, 1, 10 + u8::try_from(index).unwrap()]),
                "POST",
                "/api/v1/me/password",
                Some(&sessions[index]),
                &[],
                Some(body),
            )
            .await
        }
    })
    .await;
    assert_eq!(answers.iter().filter(|(status, _)| *status == 200).count(), 1, "{answers:?}");
}

#[tokio::test]
async fn issue_14_review_reveal_refuses_before_it_looks_and_1101_misses_are_limited() {
    let app = spawn_app().await;
    for psn_no in [psn("张伟"), "3301009999999999"] {
        let asked = app
            .rest(
                "GET",
                &format!("/api/v1/persons/{psn_no}?reveal=true&reason=xxxx"),
                None,
                &signed_headers(TERTIARY),
                None,
            )
            .await;
        assert_eq!((asked.status, code_of(&asked)), (403, "forbidden".into()), "{psn_no}");
    }
    let mut last = String::new();
    for n in 0..61u32 {
        let id = format!("11010119900307{:03}", n);
        let check = "10X98765432".as_bytes();
        let weights = [7u32, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = id.bytes().zip(weights).map(|(digit, weight)| u32::from(digit - b'0') * weight).sum();
        let id = format!("{id}{}", char::from(check[usize::try_from(sum % 11).unwrap()]));
        let reply = app.call(SECONDARY, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id}})).await;
        last = reply.refused().to_string();
    }
    assert!(last.contains("稍后再试"), "{last}");
    identify(&app, SECONDARY, "张伟").await;
}

#[tokio::test]
async fn issue_14_review_no_institution_code_begins_another() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let institution = json!({"code": "H3301000000", "name": "前缀医院", "kind": "hospital", "level": "secondary", "admdvs": "330100",
                             "designated_from": "2020-01-01", "gateway_secret": "a-long-enough-secret-1234"});
    let refused = app.rest("POST", "/api/v1/institutions", Some(&token), &[], Some(institution)).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
}

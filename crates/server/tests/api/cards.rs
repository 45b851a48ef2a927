//! The card over REST and the national interface: applications with deadlines, states with
//! actor and reason, the PIN and its lock, replacement, the 60-transaction rule and the PDF
//! statement.

use serde_json::{Value, json};

use crate::helpers::*;

async fn admin(app: &TestApp) -> String {
    app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await
}

fn overdue(application: &Value) -> Vec<String> {
    application["overdue"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn an_application_walks_its_steps_with_deadlines_overdue_flags_and_audited_states() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let post = |path: String, body: Value| {
        let token = token.clone();
        let app = &app;
        async move { app.rest("POST", &path, Some(&token), &[], Some(body)).await }
    };
    // One live card per person (issue 14): 刘芳 holds A10000004.
    let second = post(
        "/api/v1/card-applications".into(),
        json!({"psn_no": psn("刘芳"), "registered_on": "2026-01-10", "bank": "BOC"}),
    )
    .await;
    assert_eq!((second.status, second.body["error"]["code"].clone()), (409, json!("conflict")), "{}", second.body);
    let cancelled =
        post("/api/v1/cards/A10000004/status".into(), json!({"status": "cancelled", "reason": "测试：注销旧卡"})).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let created = post(
        "/api/v1/card-applications".into(),
        json!({"psn_no": psn("刘芳"), "registered_on": "2026-01-10", "bank": "BOC"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let card_no = created.body["card_no"].as_str().unwrap().to_string();
    assert_eq!(created.body["fees"], json!({"photo": "4.00", "card": "20.00"}));
    assert_eq!(created.body["due"]["photo"], json!("2026-02-03"));
    assert_eq!(created.body["due"]["forms"], json!("2026-02-19"));
    assert_eq!(overdue(&created.body), ["photo", "forms"]);

    let steps = format!("/api/v1/card-applications/{id}/steps");
    let produce = format!("/api/v1/card-applications/{id}/produce");
    // Out of order, twice, or unknown: refused with a clear error.
    let early = post(produce.clone(), json!({"initial_pin": "135790"})).await;
    assert_eq!((early.status, early.body["error"]["code"].clone()), (422, json!("refused")), "{}", early.body);
    let unknown = post(steps.clone(), json!({"step": "dance"})).await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    let not_yet = post(steps.clone(), json!({"step": "issue", "on": "2026-02-01"})).await;
    assert_eq!(not_yet.status, 422, "{}", not_yet.body);

    let forms_first = post(steps.clone(), json!({"step": "forms", "on": "2026-02-01"})).await;
    assert_eq!(forms_first.status, 409, "the forms need the photo receipt: {}", forms_first.body);
    assert_eq!(post(steps.clone(), json!({"step": "photo", "on": "2026-02-02"})).await.status, 200);
    let twice = post(steps.clone(), json!({"step": "photo", "on": "2026-02-02"})).await;
    assert_eq!(twice.status, 409, "{}", twice.body);
    let forms = post(steps.clone(), json!({"step": "forms", "on": "2026-02-25"})).await;
    assert_eq!(overdue(&forms.body), ["forms"], "{}", forms.body);
    let submitted = post(steps.clone(), json!({"step": "submit", "on": "2026-02-26"})).await;
    assert_eq!((submitted.status, submitted.body["warnings"].clone()), (200, json!([])), "after the 19th");
    let bad_pin = post(produce.clone(), json!({"initial_pin": "12ab56"})).await;
    assert_eq!(bad_pin.status, 400);
    let produced = post(produce.clone(), json!({"initial_pin": "135790", "on": "2026-03-01"})).await;
    assert_eq!(produced.status, 200, "{}", produced.body);
    let received = post(steps.clone(), json!({"step": "receive", "on": "2026-03-02"})).await;
    assert_eq!(received.body["due"]["issue"], json!("2026-03-09"));
    assert_eq!(overdue(&received.body), ["forms", "issue"]);
    let listed = app.rest("GET", "/api/v1/card-applications?overdue=true", Some(&token), &[], None).await;
    assert!(listed.body["applications"].as_array().unwrap().iter().any(|a| a["id"] == json!(id)), "{}", listed.body);

    let card_path = format!("/api/v1/cards/{card_no}");
    assert_eq!(app.rest("GET", &card_path, Some(&token), &[], None).await.body["status"], json!("produced"));
    let status = format!("{card_path}/status");
    let too_early = post(status.clone(), json!({"status": "active", "reason": "启用医保功能"})).await;
    assert_eq!(too_early.status, 409, "{}", too_early.body);
    let issued = post(steps.clone(), json!({"step": "issue", "on": "2026-03-05"})).await;
    assert_eq!(overdue(&issued.body), ["forms"]);
    assert_eq!(app.rest("GET", &card_path, Some(&token), &[], None).await.body["status"], json!("issued"));
    let no_reason = post(status.clone(), json!({"status": "active"})).await;
    assert_eq!(no_reason.status, 400);
    let through_flow = post(status.clone(), json!({"status": "replaced", "reason": "试一试"})).await;
    assert_eq!(through_flow.status, 400, "{}", through_flow.body);
    let active = post(status.clone(), json!({"status": "active", "reason": "启用医保功能"})).await;
    assert_eq!((active.status, active.body["status"].clone()), (200, json!("active")), "{}", active.body);
    let again = post(status.clone(), json!({"status": "active", "reason": "启用医保功能"})).await;
    assert_eq!(again.status, 409);
    let blocked = post(status.clone(), json!({"status": "blocked", "reason": "单位申请冻结"})).await;
    assert_eq!(blocked.body["status"], json!("blocked"));
    let unblocked = post(status.clone(), json!({"status": "active", "reason": "解除冻结"})).await;
    assert_eq!(unblocked.body["status"], json!("active"));

    // The holder sees the card; another person does not; an anonymous caller must log in.
    let holder = app.person_login("刘芳").await;
    assert_eq!(app.rest("GET", &card_path, Some(&holder), &[], None).await.status, 200);
    let other = app.person_login("张伟").await;
    assert_eq!(app.rest("GET", &card_path, Some(&other), &[], None).await.status, 404);
    assert_eq!(app.rest("GET", &card_path, None, &[], None).await.status, 401);
    let by_person =
        app.rest("POST", &status, Some(&holder), &[], Some(json!({"status": "cancelled", "reason": "不要了"}))).await;
    assert_eq!(by_person.status, 403);

    let audit = app.rest("GET", &format!("/api/v1/audit?subject={card_no}"), Some(&token), &[], None).await;
    let entries = audit.body["entries"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["action"] == json!("card-active")
            && e["actor"] == json!("operator:admin")
            && e["reason"] == json!("启用医保功能")),
        "{}",
        audit.body
    );
    assert!(entries.iter().any(|e| e["action"] == json!("card-blocked") && e["reason"] == json!("单位申请冻结")));
}

#[tokio::test]
async fn five_wrong_pins_from_any_terminal_lock_the_card_and_unknown_cards_look_the_same() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let verify = |card: &'static str, pin: &'static str, terminal: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            let path = format!("/api/v1/cards/{card}/pin/verify");
            match terminal {
                "agency" => app.rest("POST", &path, Some(&token), &[], Some(json!({"pin": pin}))).await,
                code => app.rest("POST", &path, None, &signed_headers(code), Some(json!({"pin": pin}))).await,
            }
        }
    };
    // A terminal checks its patients' cards only (issue 14): 王强 becomes one at each.
    let stranger = verify("A10000003", "147258", TERTIARY).await;
    assert_eq!((stranger.status, stranger.body["error"]["code"].clone()), (403, json!("forbidden")));
    for code in [TERTIARY, SECONDARY, PHARMACY] {
        identify(&app, code, "王强").await;
    }
    let right = verify("A10000003", "147258", TERTIARY).await;
    assert_eq!((right.status, right.body["verified"].clone()), (200, json!(true)), "{}", right.body);
    assert_eq!(verify("A10000003", "147258", "anonymous").await.status, 401, "a terminal identifies itself");

    let unknown = verify("A99999999", "111222", "agency").await;
    let wrong = verify("A10000003", "111222", PHARMACY).await;
    assert_eq!(unknown.status, 401);
    assert_eq!((unknown.status, &unknown.body), (wrong.status, &wrong.body), "the same refusal");
    let malformed = verify("not-a-card", "111222", "agency").await;
    assert_eq!((malformed.status, &malformed.body), (wrong.status, &wrong.body));

    // Four more wrong PINs, from three terminals: five in all.
    for terminal in [TERTIARY, "agency", SECONDARY, PHARMACY] {
        let refused = verify("A10000003", "111222", terminal).await;
        assert_eq!((refused.status, &refused.body), (wrong.status, &wrong.body));
    }
    let sixth = verify("A10000003", "147258", TERTIARY).await;
    assert_eq!((sixth.status, sixth.body["error"]["code"].clone()), (403, json!("locked")), "{}", sixth.body);
    let change = app
        .rest(
            "POST",
            "/api/v1/cards/A10000003/pin/change",
            None,
            &signed_headers(TERTIARY),
            Some(json!({"old_pin": "147258", "new_pin": "802468"})),
        )
        .await;
    assert_eq!(change.status, 403, "locked for changes too: {}", change.body);

    // The bank resets it, after checking the holder's ID.
    let reset = |id: &'static str, pin: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.rest(
                "POST",
                "/api/v1/cards/A10000003/pin/reset",
                Some(&token),
                &[],
                Some(json!({"id_number": id, "new_pin": pin, "reason": "忘记密码"})),
            )
            .await
        }
    };
    assert_eq!(reset(id_number("张伟"), "802468").await.status, 403, "another person's ID");
    assert_eq!(reset(id_number("王强"), "123456").await.status, 400, "too simple");
    assert_eq!(reset(id_number("王强"), "802468").await.status, 200);
    assert_eq!(verify("A10000003", "802468", TERTIARY).await.status, 200);
    assert_eq!(verify("A10000003", "147258", TERTIARY).await.status, 401);

    // The holder changes it with the old one.
    let holder = app.person_login("王强").await;
    let changed = app
        .rest(
            "POST",
            "/api/v1/cards/A10000003/pin/change",
            Some(&holder),
            &[],
            Some(json!({"old_pin": "802468", "new_pin": "579135"})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(verify("A10000003", "579135", PHARMACY).await.status, 200);
    let stored = app
        .store
        .read(|r| r.credential("A10000003", yibao_engine::records::CredentialKind::CardPin))
        .await
        .unwrap()
        .unwrap();
    assert!(stored.hash.starts_with("$argon2id$") && !stored.hash.contains("579135"));
}

fn card_purchase(msg: u32) -> Value {
    json!({
        "data": {"psn_no": psn("张伟"), "mdtrt_cert_type": "03", "mdtrt_cert_no": "A10000001", "card_sn": "CSN10000001",
                 "begntime": "2026-11-23 11:00:00", "medfee_sumamt": number("2"), "ipt_otp_no": format!("YD{msg:04}"), "med_type": "41",
                 "insutype": "310", "psn_setlway": "01", "acct_used_flag": "1", "invono": "", "fulamt_ownpay_amt": 0,
                 "overlmt_selfpay": 0, "preselfpay_amt": 0, "inscp_scp_amt": 0},
        "feedetail": [fee_line("1", "", psn("张伟"), "DEMO-A-001", "2", "1")],
    })
}

#[tokio::test]
async fn sixty_unprinted_transactions_pay_the_sixty_first_waits_for_the_pdf_statement() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let mut settled = Vec::new();
    for n in 1..=60 {
        let reply = app.call(PHARMACY, "2102", card_purchase(n)).await;
        settled.push(reply.ok()["setlinfo"]["setl_id"].as_str().unwrap().to_string());
    }
    let card = app.rest("GET", "/api/v1/cards/A10000001", Some(&token), &[], None).await;
    assert_eq!((card.body["unprinted"].clone(), card.body["must_print"].clone()), (json!(60), json!(true)));
    let refused = app.call(PHARMACY, "2102", card_purchase(61)).await;
    assert!(refused.refused().contains("未打印"), "{}", refused.body);

    // A month's credit: the printed record shows it beside the payments.
    let month =
        app.rest("POST", "/api/v1/allocations", Some(&token), &[], Some(json!({"month": last_month(&app)}))).await;
    assert_eq!(month.body["credited"], json!(6), "{}", month.body);
    let (status, pdf) = app
        .post("/api/v1/cards/A10000001/statement", &[("authorization".into(), format!("Bearer {token}"))], vec![])
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    assert!(pdf.starts_with(b"%PDF-1.4"));
    let card = app.rest("GET", "/api/v1/cards/A10000001", Some(&token), &[], None).await;
    assert_eq!(card.body["unprinted"], json!(0));
    app.call(PHARMACY, "2102", card_purchase(62)).await.ok();

    match pdf_text(&pdf) {
        Some(text) => {
            assert!(text.contains("张伟"), "the holder's name: {text}");
            assert!(text.contains("医疗保险卡交易记录"));
            assert!(text.contains("本次打印60笔交易"), "{text}");
            for setl_id in &settled {
                assert!(text.contains(setl_id.as_str()), "{setl_id} is on the statement");
            }
            // The account's movements follow, credits included, with the balance after each.
            assert!(text.contains("个人账户收支") && text.contains("个人账户划入"), "{text}");
            assert!(text.contains("医药费用支付"), "{text}");
        }
        None if std::env::var_os("YIBAO_REQUIRE_PDFTOTEXT").is_some() => {
            panic!("pdftotext (poppler-utils) is required here but missing")
        }
        None => {
            eprintln!("\n*** pdftotext (poppler-utils) is not installed: the statement's text was NOT checked ***\n")
        }
    }
}

/// The text of a PDF, by poppler's `pdftotext`; `None` when it is not installed.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = std::env::temp_dir().join("yibao-api-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("statement-{}-{}.pdf", std::process::id(), rand_suffix()));
    std::fs::write(&path, pdf).unwrap();
    let output = std::process::Command::new("pdftotext").arg("-layout").arg(&path).arg("-").output().ok()?;
    assert!(output.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_file(&path);
    Some(String::from_utf8(output.stdout).expect("UTF-8 text"))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

#[tokio::test]
async fn replacement_over_rest_conserves_money_and_repeats_change_nothing() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let verify = || async {
        let reply = app.rest("GET", "/api/v1/ledger/verify", Some(&token), &[], None).await;
        assert_eq!(reply.body["balanced"], json!(true));
        assert_eq!(reply.body["replay_matches"], json!(true));
    };
    let balance = |name: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.rest("GET", &format!("/api/v1/persons/{}/account", psn(name)), Some(&token), &[], None).await.body["balance"].clone()
        }
    };
    let before = balance("李秀英").await;
    // Replacement needs a loss report first; the holder reports it in the portal.
    let early =
        app.rest("POST", "/api/v1/cards/A10000002/replacement", Some(&token), &[], Some(json!({"bank": "ICBC"}))).await;
    assert_eq!(early.status, 409, "{}", early.body);
    let holder = app.person_login("李秀英").await;
    let lost = app.rest("POST", "/api/v1/cards/A10000002/loss", Some(&holder), &[], None).await;
    assert_eq!((lost.status, lost.body["status"].clone()), (200, json!("lost")), "{}", lost.body);
    let replaced = app
        .rest(
            "POST",
            "/api/v1/cards/A10000002/replacement",
            Some(&token),
            &[],
            Some(json!({"bank": "ICBC", "reason": "补卡换行"})),
        )
        .await;
    assert_eq!(replaced.status, 201, "{}", replaced.body);
    let notice = replaced.body["clearing_notice"]["id"].as_str().unwrap().to_string();
    assert_eq!(replaced.body["clearing_notice"]["account_frozen"], json!(true));
    let again = app
        .rest(
            "POST",
            "/api/v1/cards/A10000002/replacement",
            Some(&token),
            &[],
            Some(json!({"bank": "ICBC", "reason": "补卡换行"})),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(balance("李秀英").await, before);
    let confirm = format!("/api/v1/clearing-notices/{notice}/confirm");
    let confirmed = app.rest("POST", &confirm, Some(&token), &[], None).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["moved"], before);
    let repeated = app.rest("POST", &confirm, Some(&token), &[], None).await;
    assert_eq!(repeated.body, confirmed.body, "confirming twice changes nothing");
    assert_eq!(balance("李秀英").await, before);
    verify().await;
}

/// Issue 16: each replacement path over REST. Seed 000: the loss reported at the bank gives a
/// loss notice (JSON, or a PDF to carry to the service centre), and the new card is due 45
/// working days after the application; seed 003: the employer's proof letter, sealed by the
/// agency, then 7 days. Only an operator says where a loss was reported or seals a letter; a
/// person reads only their own notice.
#[tokio::test]
async fn each_replacement_path_has_its_dated_steps_and_the_loss_notice_prints() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let today = app.store.now().date();
    let zhang = app.person_login("张伟").await;
    let forged =
        app.rest("POST", "/api/v1/cards/A10000001/loss", Some(&zhang), &[], Some(json!({"channel": "bank"}))).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let bad =
        app.rest("POST", "/api/v1/cards/A10000001/loss", Some(&token), &[], Some(json!({"channel": "phone"}))).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let lost = app
        .rest(
            "POST",
            "/api/v1/cards/A10000001/loss",
            Some(&token),
            &[],
            Some(json!({"channel": "bank", "reason": "遗失"})),
        )
        .await;
    assert_eq!(lost.status, 200, "{}", lost.body);
    assert_eq!(lost.body["loss_notice"]["notice_no"], json!("GSA10000001"), "{}", lost.body);
    assert_eq!(lost.body["loss_notice"]["channel"], json!("bank"));
    let own = app.rest("GET", "/api/v1/cards/A10000001/loss-notice", Some(&zhang), &[], None).await;
    assert_eq!((own.status, own.body["notice_no"].clone()), (200, json!("GSA10000001")), "{}", own.body);
    let other = app.person_login("李秀英").await;
    let foreign = app.rest("GET", "/api/v1/cards/A10000001/loss-notice", Some(&other), &[], None).await;
    assert_eq!(foreign.status, 404, "another person's card is as good as absent");
    let nobody = app.rest("GET", "/api/v1/cards/A10000001/loss-notice", None, &[], None).await;
    assert_eq!(nobody.status, 401);
    let not_lost = app.rest("GET", "/api/v1/cards/A10000002/loss-notice", Some(&token), &[], None).await;
    assert_eq!(not_lost.status, 422);
    let pdf = app.rest("GET", "/api/v1/cards/A10000001/loss-notice?format=pdf", Some(&zhang), &[], None).await;
    assert_eq!(pdf.status, 200);
    let bytes = pdf.body.as_str().unwrap().as_bytes().to_vec();
    assert!(bytes.starts_with(b"%PDF-"));
    match pdf_text(&bytes) {
        Some(text) => assert!(text.contains("挂失通知书") && text.contains("GSA10000001"), "{text}"),
        None if std::env::var_os("YIBAO_REQUIRE_PDFTOTEXT").is_some() => panic!("pdftotext is required here"),
        None => eprintln!("\n*** pdftotext is not installed: the loss notice's text was NOT checked ***\n"),
    }
    let by_letter = app
        .rest("POST", "/api/v1/cards/A10000001/replacement", Some(&token), &[], Some(json!({"path": "proof-letter"})))
        .await;
    assert_eq!(by_letter.status, 422, "no sealed letter yet: {}", by_letter.body);
    let replaced = app
        .rest("POST", "/api/v1/cards/A10000001/replacement", Some(&token), &[], Some(json!({"path": "loss-notice"})))
        .await;
    assert_eq!(replaced.status, 201, "{}", replaced.body);
    let application = &replaced.body["application"];
    assert_eq!(application["replacement"]["path"], json!("loss-notice"));
    assert_eq!(application["due"]["card"], json!(today.plus_working_days(45).to_string()));
    assert_eq!(application["due"]["photo"], json!(null), "not a new employee's deadlines");
    let steps: Vec<(String, Value)> = application["replacement"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_string(), s["on"].clone()))
        .collect();
    assert_eq!(steps[0], ("loss-reported".to_string(), json!(today.to_string())));
    assert_eq!(steps[1], ("application-accepted".to_string(), json!(today.to_string())));
    assert_eq!(steps[2], ("card-produced".to_string(), json!(null)));

    // Seed 003's path for 赵敏: her employer's letter, sealed by the agency, then 7 days.
    let lost = app.rest("POST", "/api/v1/cards/A10000006/loss", Some(&token), &[], None).await;
    assert_eq!(lost.body["loss_notice"]["channel"], json!("agency"), "{}", lost.body);
    let letter = |employer: &str| json!({"employer": employer, "letter_no": "示例科技证字〔2026〕3号", "issued_on": today.to_string()});
    let as_person =
        app.rest("POST", "/api/v1/cards/A10000006/proof-letter", Some(&zhang), &[], Some(letter("E33010000001"))).await;
    assert_eq!(as_person.status, 403);
    let wrong =
        app.rest("POST", "/api/v1/cards/A10000006/proof-letter", Some(&token), &[], Some(letter("E33020000001"))).await;
    assert_eq!(wrong.status, 422, "not her employer: {}", wrong.body);
    let sealed =
        app.rest("POST", "/api/v1/cards/A10000006/proof-letter", Some(&token), &[], Some(letter("E33010000001"))).await;
    assert_eq!(sealed.status, 200, "{}", sealed.body);
    assert_eq!(sealed.body["proof_letter"]["sealed_on"], json!(today.to_string()));
    let replaced = app
        .rest("POST", "/api/v1/cards/A10000006/replacement", Some(&token), &[], Some(json!({"path": "proof-letter"})))
        .await;
    assert_eq!(replaced.status, 201, "{}", replaced.body);
    let application = &replaced.body["application"];
    assert_eq!(application["due"]["card"], json!(today.plus_days(7).to_string()));
    let names: Vec<&str> =
        application["replacement"]["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "proof-letter-issued",
            "seal-confirmed",
            "loss-registered",
            "application-received",
            "card-produced",
            "card-issued"
        ]
    );
    let id = application["id"].as_str().unwrap();
    let read = app.rest("GET", &format!("/api/v1/card-applications/{id}"), Some(&token), &[], None).await;
    assert_eq!(read.body["replacement"]["path"], json!("proof-letter"), "{}", read.body);
}

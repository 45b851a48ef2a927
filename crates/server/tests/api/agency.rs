//! The agency's pages: login, the dashboard's charts, the registry, card applications,
//! clearing totals and the audit log.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_dashboard_charts_what_happened_and_only_operators_see_it() {
    let app = spawn_app().await;
    assert_eq!(browse(&app, "/agency", "", None).await.location, "/agency/login");
    let wrong = browse(&app, "/agency/login", "", Some(&[("username", "admin"), ("password", "nope")])).await;
    assert_eq!(wrong.status, 401);
    // A person's session is no operator's, whatever cookie carries it.
    let person = app.person_login("张伟").await;
    assert_eq!(browse(&app, "/agency", &format!("yibao_agency={person}"), None).await.location, "/agency/login");

    let purchase = json!({
        "data": {"psn_no": psn("王强"), "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("王强"),
                 "begntime": "2026-11-23 11:00:00", "medfee_sumamt": number("20"), "ipt_otp_no": "YD1", "med_type": "41",
                 "insutype": "310", "psn_setlway": "01", "acct_used_flag": "1", "invono": "", "fulamt_ownpay_amt": 0,
                 "overlmt_selfpay": 0, "preselfpay_amt": 0, "inscp_scp_amt": 0},
        "feedetail": [fee_line("1", "", psn("王强"), "DEMO-A-001", "20", "1")],
    });
    app.call(PHARMACY, "2102", purchase).await.ok();

    let login = browse(&app, "/agency/login", "", Some(&[("username", "admin"), ("password", "Demo@2026")])).await;
    assert_eq!((login.status, login.location.as_str()), (303, "/agency"));
    let cookie = login.cookie.expect("a session");
    let dashboard = browse(&app, "/agency", &cookie, None).await;
    assert_eq!(dashboard.status, 200);
    assert_eq!(dashboard.html.matches("<svg class=\"chart\"").count(), 3, "three charts");
    // The pharmacy purchase is in the level chart's table; 王强's 45.00 became 25.00 (under 100).
    assert!(
        dashboard.html.contains("<tr><td>药店</td><td class=\"num\">1</td><td class=\"num\">¥20.00</td></tr>"),
        "{}",
        dashboard.html
    );
    assert!(dashboard.html.contains("<tr><td>100元以下</td><td class=\"num\">1</td></tr>"));

    let registry = browse(&app, "/agency/persons", &cookie, None).await;
    assert!(registry.html.contains("张伟") && registry.html.contains("330102********1236"));
    assert!(!registry.html.contains(id_number("张伟")), "masked");
    assert_eq!(browse(&app, "/agency/card-applications", &cookie, None).await.status, 200);
    let clearing = browse(&app, "/agency/clearing?from=2020-01-01&to=2030-12-31", &cookie, None).await;
    assert!(clearing.html.contains(PHARMACY) && clearing.html.contains("¥20.00"));
    let audit = browse(&app, "/agency/audit", &cookie, None).await;
    assert_eq!(audit.status, 200);
    // Nonsense in a query is ignored, never a failure.
    assert_eq!(browse(&app, "/agency/persons?page=-1&admdvs=%3Cx%3E", &cookie, None).await.status, 200);
    browse(&app, "/agency/logout", &cookie, Some(&[])).await;
    assert_eq!(browse(&app, "/agency", &cookie, None).await.location, "/agency/login");
}

#[tokio::test]
async fn the_registry_finds_a_person_by_card_name_or_id_and_audits_the_search() {
    let app = spawn_app().await;
    let login = browse(&app, "/agency/login", "", Some(&[("username", "admin"), ("password", "Demo@2026")])).await;
    let cookie = login.cookie.expect("a session");
    for (q, what) in [("A10000001", "card"), ("%E5%BC%A0%E4%BC%9F", "name"), ("330102198503121236", "ID number")] {
        let found = browse(&app, &format!("/agency/persons?q={q}"), &cookie, None).await;
        assert_eq!(found.status, 200, "{what}");
        assert!(found.html.contains(psn("张伟")) && !found.html.contains(psn("李秀英")), "{what}: {}", found.html);
        // Only the search box holds what the operator typed; the results show the ID masked.
        let results = &found.html[found.html.find("<table").expect("a results table")..];
        assert!(!results.contains("330102198503121236") && results.contains("330102********1236"), "{what}");
    }
    // What was searched comes back in the box, escaped like everything else.
    let hostile = browse(&app, "/agency/persons?q=%3Cscript%3Ex%3C%2Fscript%3E", &cookie, None).await;
    assert!(!hostile.html.contains("<script>x") && hostile.html.contains("&lt;script&gt;x"), "{}", hostile.html);
    let long = browse(&app, &format!("/agency/persons?q={}", "x".repeat(41)), &cookie, None).await;
    assert!(long.html.contains("role=\"alert\""), "{}", long.html);
    let audit = app
        .rest(
            "GET",
            "/api/v1/audit?subject=330102********1236",
            Some(&app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await),
            &[],
            None,
        )
        .await;
    assert!(audit.body.to_string().contains("search-persons"), "{}", audit.body);
}

/// Issue 17: the person page shows an operator a person's whole insured life, masked, and the
/// read is audited; without a session it sends to the login; an unknown number is a 404.
#[tokio::test]
async fn the_person_page_shows_a_whole_insured_life_and_is_audited() {
    let app = spawn_app().await;
    let token = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let lost =
        app.rest("POST", "/api/v1/cards/A10000001/loss", Some(&token), &[], Some(json!({"channel": "bank"}))).await;
    assert_eq!(lost.status, 200, "{}", lost.body);
    let path = format!("/agency/persons/{}", psn("张伟"));
    assert_eq!(browse(&app, &path, "", None).await.location, "/agency/login");
    let login = browse(&app, "/agency/login", "", Some(&[("username", "admin"), ("password", "Demo@2026")])).await;
    let cookie = login.cookie.expect("a session");
    let registry = browse(&app, "/agency/persons?q=330102198503121236", &cookie, None).await;
    assert!(registry.html.contains(&format!("href=\"{path}\"")), "the registry links the person page");
    let page = browse(&app, &path, &cookie, None).await;
    assert_eq!(page.status, 200);
    for shown in ["张伟", "1000.00", "A10000001", "GSA10000001", "E33010000001"] {
        assert!(page.html.contains(shown), "{shown} is on the page");
    }
    assert!(!page.html.contains("330102198503121236"), "the ID number is masked");
    assert_eq!(browse(&app, "/agency/persons/3301009999999999", &cookie, None).await.status, 404);
    assert_eq!(browse(&app, "/agency/persons/not-a-number", &cookie, None).await.status, 404);
    let audit = app.rest("GET", &format!("/api/v1/audit?subject={}", psn("张伟")), Some(&token), &[], None).await;
    assert!(audit.body.to_string().contains("read-person"), "{}", audit.body);
}

/// Issue 17: the review queue. The demo's pending reimbursement is listed; its submitter sees no
/// forms and is refused if they post one; the reviewer approves it with a reason, paid once
/// however often the form is sent; rejecting it afterwards is refused.
#[tokio::test]
async fn a_reviewer_approves_from_the_queue_and_the_submitter_cannot() {
    let app = spawn_app().await;
    let admin = browse(&app, "/agency/login", "", Some(&[("username", "admin"), ("password", "Demo@2026")])).await;
    let admin = admin.cookie.expect("a session");
    let queue = browse(&app, "/agency/queue", &admin, None).await;
    assert_eq!(queue.status, 200);
    assert!(queue.html.contains("RB0000000001"), "the demo's pending reimbursement");
    assert!(!queue.html.contains("/agency/queue/reimbursements/RB0000000001"), "no forms for the submitter");
    let decision = [("decision", "approve"), ("reason", "票据齐全")];
    let own = browse(&app, "/agency/queue/reimbursements/RB0000000001", &admin, Some(&decision)).await;
    assert_eq!(own.status, 403);
    assert_eq!(browse(&app, "/agency/queue", "", None).await.location, "/agency/login");

    let reviewer =
        browse(&app, "/agency/login", "", Some(&[("username", "reviewer"), ("password", "Demo@2026")])).await;
    let reviewer = reviewer.cookie.expect("a session");
    let queue = browse(&app, "/agency/queue", &reviewer, None).await;
    assert!(queue.html.contains("action=\"/agency/queue/reimbursements/RB0000000001\""), "{}", queue.html);
    let bad = browse(
        &app,
        "/agency/queue/reimbursements/RB0000000001",
        &reviewer,
        Some(&[("decision", "maybe"), ("reason", "x")]),
    )
    .await;
    assert_eq!(bad.status, 400);
    let approved = browse(&app, "/agency/queue/reimbursements/RB0000000001", &reviewer, Some(&decision)).await;
    assert_eq!((approved.status, approved.location.as_str()), (303, "/agency/queue"), "{}", approved.html);
    let token = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let bill = app.rest("GET", "/api/v1/reimbursements/RB0000000001", Some(&token), &[], None).await;
    assert_eq!(bill.body["state"], json!("approved"), "{}", bill.body);
    // A second approval (a double submit) changes nothing: paid once.
    let twice = browse(&app, "/agency/queue/reimbursements/RB0000000001", &reviewer, Some(&decision)).await;
    assert_eq!(twice.status, 303, "{}", twice.html);
    let ledger = app.rest("GET", "/api/v1/ledger/verify", Some(&token), &[], None).await;
    assert_eq!(ledger.body["balanced"], json!(true));
    let due = app.rest("GET", "/api/v1/bank-payments/due?bank=BOC", Some(&token), &[], None).await;
    assert_eq!(due.body["total"], json!("1395.00"), "paid once: {}", due.body);
    let reject = [("decision", "reject"), ("reason", "改主意")];
    let late = browse(&app, "/agency/queue/reimbursements/RB0000000001", &reviewer, Some(&reject)).await;
    assert_eq!(late.status, 409, "an approved bill is not rejected: {}", late.html);
    let queue = browse(&app, "/agency/queue", &reviewer, None).await;
    assert!(!queue.html.contains("RB0000000001"), "decided: off the queue");
}

/// Issue 17's first walk: an operator finds 张伟 by ID number, opens his page and reports his
/// card lost with a reason; the page then shows the loss notice. A card is reported only under
/// its holder's page, only by an operator, only with a reason and a known channel.
#[tokio::test]
async fn an_operator_finds_zhang_wei_by_id_number_and_reports_his_card_lost() {
    let app = spawn_app().await;
    let login = browse(&app, "/agency/login", "", Some(&[("username", "admin"), ("password", "Demo@2026")])).await;
    let cookie = login.cookie.expect("a session");
    let found = browse(&app, "/agency/persons?q=330102198503121236", &cookie, None).await;
    let page_path = format!("/agency/persons/{}", psn("张伟"));
    assert!(found.html.contains(&format!("href=\"{page_path}\"")));
    let page = browse(&app, &page_path, &cookie, None).await;
    let action = format!("{page_path}/cards/A10000001/loss");
    assert!(page.html.contains(&format!("action=\"{action}\"")), "the page offers the loss report");

    let form = [("channel", "bank"), ("reason", "钱包丢失")];
    assert_eq!(browse(&app, &action, "", Some(&form)).await.location, "/agency/login");
    let foreign = format!("/agency/persons/{}/cards/A10000001/loss", psn("李秀英"));
    assert_eq!(browse(&app, &foreign, &cookie, Some(&form)).await.status, 404, "not under another person's page");
    assert_eq!(browse(&app, &action, &cookie, Some(&[("channel", "phone"), ("reason", "x")])).await.status, 400);
    assert_eq!(browse(&app, &action, &cookie, Some(&[("channel", "bank"), ("reason", "  ")])).await.status, 400);
    let token = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let card = app.rest("GET", "/api/v1/cards/A10000001", Some(&token), &[], None).await;
    assert_eq!(card.body["status"], json!("active"), "nothing changed by the refused forms");

    let reported = browse(&app, &action, &cookie, Some(&form)).await;
    assert_eq!((reported.status, reported.location.as_str()), (303, page_path.as_str()), "{}", reported.html);
    let page = browse(&app, &page_path, &cookie, None).await;
    assert!(page.html.contains("GSA10000001") && page.html.contains("服务银行"), "the loss notice is shown");
    assert!(!page.html.contains(&format!("action=\"{action}\"")), "a lost card is not reported again");
    let card = app.rest("GET", "/api/v1/cards/A10000001", Some(&token), &[], None).await;
    assert_eq!(card.body["status"], json!("lost"));
    let audit = app.rest("GET", "/api/v1/audit?subject=A10000001", Some(&token), &[], None).await;
    assert!(audit.body.to_string().contains("钱包丢失"), "the reason is audited: {}", audit.body);
}

//! The pharmacy counter's pages: sign-in, identification, pre-settlement, settlement, receipt,
//! cancellation.

use serde_json::json;

use crate::helpers::*;

async fn sign_in(app: &TestApp, code: &str, secret: &str) -> Page {
    browse(app, "/counter/login", "", Some(&[("code", code), ("secret", secret)])).await
}

async fn balance(app: &TestApp, name: &str) -> String {
    let token = app.person_login(name).await;
    let reply = app.rest("GET", &format!("/api/v1/persons/{}/account", psn(name)), Some(&token), &[], None).await;
    reply.body["balance"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_pharmacy_counter_presettles_settles_once_prints_and_cancels() {
    let app = spawn_app().await;
    assert_eq!(sign_in(&app, PHARMACY, "wrong").await.status, 401);
    let signed = sign_in(&app, PHARMACY, &format!("demo-{PHARMACY}")).await;
    assert_eq!((signed.status, signed.location.as_str()), (303, "/counter"));
    let cookie = signed.cookie.unwrap();
    // The counter session is not an API session, nor a portal one.
    let token = cookie.trim_start_matches("yibao_counter=");
    assert_eq!(app.rest("GET", "/api/v1/me", Some(token), &[], None).await.status, 401);

    let found =
        browse(&app, "/counter/identify", &cookie, Some(&[("kind", "02"), ("number", id_number("张伟"))])).await;
    assert_eq!(found.status, 200);
    assert!(found.html.contains("张伟") && found.html.contains("¥1000.00") && !found.html.contains(id_number("张伟")));
    let proof = hidden_value(&found.html, "proof");
    let unknown = browse(
        &app,
        "/counter/identify",
        &cookie,
        Some(&[("kind", "03"), ("number", "A10000001"), ("card_sn", "WRONG")]),
    )
    .await;
    assert_eq!(unknown.status, 404, "a card with the wrong identification code is unknown");

    let lines = [
        ("psn_no", psn("张伟")),
        ("insutype", "310"),
        ("cert_type", "02"),
        ("cert_no", ""),
        ("use_account", "true"),
        ("code0", "DEMO-A-001"),
        ("price0", "12.30"),
        ("qty0", "2"),
        ("proof", proof.as_str()),
    ];
    let mut presettle = lines.to_vec();
    presettle.push(("action", "presettle"));
    let pre = browse(&app, "/counter/bill", &cookie, Some(&presettle)).await;
    assert_eq!(pre.status, 200, "{}", pre.html);
    assert!(pre.html.contains("¥24.60") && pre.html.contains("个人账户支付24.60元"), "{}", pre.html);
    assert!(!pre.html.contains(id_number("张伟")), "the form never carries the ID number");
    assert_eq!(balance(&app, "张伟").await, "1000.00", "a pre-settlement pays nothing");
    let (msgid, medfee, infno) =
        (hidden_value(&pre.html, "msgid"), hidden_value(&pre.html, "medfee"), hidden_value(&pre.html, "infno"));
    assert_eq!((medfee.as_str(), infno.as_str()), ("24.60", "2102"));

    let mut settle = lines.to_vec();
    settle.extend([
        ("action", "settle"),
        ("msgid", msgid.as_str()),
        ("medfee", medfee.as_str()),
        ("infno", infno.as_str()),
    ]);
    let first = browse(&app, "/counter/bill", &cookie, Some(&settle)).await;
    assert_eq!(first.status, 303, "{}", first.html);
    assert!(first.location.starts_with("/counter/receipts/"));
    // Pressing "settle" again settles nothing more and shows the same receipt.
    let again = browse(&app, "/counter/bill", &cookie, Some(&settle)).await;
    assert_eq!(again.location, first.location);
    assert_eq!(balance(&app, "张伟").await, "975.40");
    // The same message id with another bill is refused.
    let mut tampered = settle.clone();
    tampered[6] = ("price0", "1.00");
    assert_eq!(browse(&app, "/counter/bill", &cookie, Some(&tampered)).await.status, 422);

    let receipt = browse(&app, &first.location, &cookie, None).await;
    assert!(receipt.html.contains("data-print") && receipt.html.contains("张伟") && receipt.html.contains("¥24.60"));
    let setl_id = first.location.rsplit('/').next().unwrap().to_string();
    // Another pharmacy's counter does not see it.
    let admin = app.login(serde_json::json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let created = app
        .rest("POST", "/api/v1/institutions", Some(&admin), &[], Some(serde_json::json!({"code": "P33010000009", "name": "另一药房",
            "kind": "pharmacy", "admdvs": "330100", "designated_from": "2020-01-01", "gateway_secret": "another-pharmacy-secret"})))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let other = sign_in(&app, "P33010000009", "another-pharmacy-secret").await.cookie.expect("signed in");
    assert_eq!(browse(&app, &first.location, &other, None).await.status, 404);
    assert_eq!(browse(&app, &format!("/counter/receipts/{setl_id}/cancel"), &other, Some(&[])).await.status, 404);
    let cancelled = browse(&app, &format!("/counter/receipts/{setl_id}/cancel"), &cookie, Some(&[])).await;
    assert_eq!(cancelled.location, first.location);
    assert_eq!(balance(&app, "张伟").await, "1000.00", "the cancellation restores the account");
    let after = browse(&app, &first.location, &cookie, None).await;
    assert!(after.html.contains("已撤销") && !after.html.contains("/cancel\""));
    // Signed out, the pages ask to sign in again.
    browse(&app, "/counter/logout", &cookie, Some(&[])).await;
    assert_eq!(browse(&app, "/counter", &cookie, None).await.location, "/counter/login");
}

#[tokio::test]
async fn a_hospital_counter_settles_an_outpatient_visit() {
    let app = spawn_app().await;
    let cookie = sign_in(&app, TERTIARY, &format!("demo-{TERTIARY}")).await.cookie.expect("signed in");
    let found =
        browse(&app, "/counter/identify", &cookie, Some(&[("kind", "02"), ("number", id_number("张伟"))])).await;
    let proof = hidden_value(&found.html, "proof");
    let fields = [
        ("psn_no", psn("张伟")),
        ("insutype", "310"),
        ("cert_type", "02"),
        ("cert_no", ""),
        ("use_account", "true"),
        ("code0", "DEMO-A-002"),
        ("price0", "25.00"),
        ("qty0", "1"),
        ("code1", "DEMO-A-001"),
        ("price1", "10.00"),
        ("qty1", "2"),
        ("proof", proof.as_str()),
    ];
    let mut presettle = fields.to_vec();
    presettle.push(("action", "presettle"));
    let pre = browse(&app, "/counter/bill", &cookie, Some(&presettle)).await;
    assert_eq!(pre.status, 200, "{}", pre.html);
    assert!(pre.html.contains("¥45.00") && pre.html.contains("name=\"mdtrt_id\""), "{}", pre.html);
    assert_eq!(balance(&app, "张伟").await, "1000.00", "the pre-settlement paid nothing");
    let hidden = |name: &str| hidden_value(&pre.html, name);
    let (msgid, mdtrt_id, medfee, infno) = (hidden("msgid"), hidden("mdtrt_id"), hidden("medfee"), hidden("infno"));
    assert_eq!(infno, "2207");
    let mut settle = fields.to_vec();
    settle.extend([
        ("action", "settle"),
        ("msgid", msgid.as_str()),
        ("mdtrt_id", mdtrt_id.as_str()),
        ("medfee", medfee.as_str()),
        ("infno", infno.as_str()),
    ]);
    let settled = browse(&app, "/counter/bill", &cookie, Some(&settle)).await;
    assert_eq!(settled.status, 303, "{}", settled.html);
    assert_eq!(browse(&app, "/counter/bill", &cookie, Some(&settle)).await.location, settled.location, "once");
    assert_eq!(balance(&app, "张伟").await, "955.00");
    let receipt = browse(&app, &settled.location, &cookie, None).await;
    assert!(receipt.html.contains("浙江示例第一医院") && receipt.html.contains("¥45.00"));
    let setl_id = settled.location.rsplit('/').next().unwrap().to_string();
    browse(&app, &format!("/counter/receipts/{setl_id}/cancel"), &cookie, Some(&[])).await;
    assert_eq!(balance(&app, "张伟").await, "1000.00");
}

#[tokio::test]
async fn counter_forms_cannot_be_turned_to_another_person_nor_settle_more_than_they_showed() {
    let app = spawn_app().await;
    let cookie = sign_in(&app, TERTIARY, &format!("demo-{TERTIARY}")).await.cookie.expect("signed in");
    // 李秀英 has a stay here; the counter identified 张伟.
    let stay = admit_at(&app, "李秀英", "2026-11-20 09:00:00").await;
    app.call(TERTIARY, "2301", json!({"feedetail": [fee_line("Z1", &stay, psn("李秀英"), "DEMO-A-003", "1000", "1")]}))
        .await
        .ok();
    let found =
        browse(&app, "/counter/identify", &cookie, Some(&[("kind", "02"), ("number", id_number("张伟"))])).await;
    let offered = |html: &str| html.contains(&format!("name=\"mdtrt_id\" value=\"{stay}\""));
    assert!(!offered(&found.html), "another person's stay is not offered");
    let proof = hidden_value(&found.html, "proof");
    let stay_form = |psn_no: &'static str, proof: String| {
        vec![
            ("psn_no", psn_no.to_string()),
            ("insutype", "310".to_string()),
            ("cert_type", "02".to_string()),
            ("cert_no", String::new()),
            ("proof", proof),
            ("action", "presettle_stay".to_string()),
            ("mdtrt_id", stay.clone()),
            // Still in hospital: settled mid-stay.
            ("mid_stay", "true".to_string()),
        ]
    };
    let post = |form: Vec<(&'static str, String)>| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
            browse(app, "/counter/bill", &cookie, Some(&form)).await
        }
    };
    // 张伟's proof with 李秀英's person number: refused before anything is read.
    assert_eq!(post(stay_form(psn("李秀英"), proof.clone())).await.status, 400);
    // 张伟's own form naming 李秀英's stay: not a stay of his.
    assert_eq!(post(stay_form(psn("张伟"), proof.clone())).await.status, 404);
    // A proof made up by hand is refused too.
    assert_eq!(post(stay_form(psn("李秀英"), "00".repeat(32))).await.status, 400);

    // Identified properly, 李秀英's stay is pre-settled; then the ward adds a line: the settlement
    // shown no longer holds, and settling refuses rather than charge what was not shown.
    let found =
        browse(&app, "/counter/identify", &cookie, Some(&[("kind", "02"), ("number", id_number("李秀英"))])).await;
    assert!(offered(&found.html));
    let pre = post(stay_form(psn("李秀英"), hidden_value(&found.html, "proof"))).await;
    assert_eq!(pre.status, 200, "{}", pre.html);
    app.call(TERTIARY, "2301", json!({"feedetail": [fee_line("Z2", &stay, psn("李秀英"), "DEMO-A-001", "50", "1")]}))
        .await
        .ok();
    let settle: Vec<(&'static str, String)> =
        ["psn_no", "insutype", "cert_type", "cert_no", "proof", "msgid", "medfee", "infno", "mdtrt_id", "mid_stay"]
            .into_iter()
            .map(|name| (name, hidden_value(&pre.html, name)))
            .chain([("action", "settle".to_string())])
            .collect();
    let refused = post(settle).await;
    assert_eq!(refused.status, 422, "{}", refused.html);
    assert!(refused.html.contains("1050.00") && refused.html.contains("1000.00"), "{}", refused.html);

    // A pharmacy has no stays to settle.
    let pharmacy = sign_in(&app, PHARMACY, &format!("demo-{PHARMACY}")).await.cookie.expect("signed in");
    let found =
        browse(&app, "/counter/identify", &pharmacy, Some(&[("kind", "02"), ("number", id_number("李秀英"))])).await;
    let form = stay_form(psn("李秀英"), hidden_value(&found.html, "proof"));
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(browse(&app, "/counter/bill", &pharmacy, Some(&form)).await.status, 400);
}

/// A stay's settlement at the counter, pressed many times at once and from two pre-settlement
/// pages at once, settles once; nobody without the hospital's counter session gets anywhere.
#[tokio::test]
async fn a_stay_settles_once_however_many_press_settle_at_once_and_only_from_its_counter() {
    let app = std::sync::Arc::new(spawn_app().await);
    let stay = admit_at(&app, "王强", "2026-11-20 09:00:00").await;
    app.call(TERTIARY, "2301", json!({"feedetail": [fee_line("Z1", &stay, psn("王强"), "DEMO-A-003", "800", "1")]}))
        .await
        .ok();
    let cookie = sign_in(&app, TERTIARY, &format!("demo-{TERTIARY}")).await.cookie.expect("signed in");
    let found =
        browse(&app, "/counter/identify", &cookie, Some(&[("kind", "02"), ("number", id_number("王强"))])).await;
    let offered = |html: &str| {
        let marker = format!("name=\"mdtrt_id\" value=\"{stay}\"");
        html.split("<form").find(|form| form.contains(&marker)).map(form_fields)
    };
    let stay_form = offered(&found.html).expect("the stay is offered");
    let as_pairs = |fields: &[(String, String)]| -> Vec<(String, String)> { fields.to_vec() };
    let post = |cookie: String, fields: Vec<(String, String)>| {
        let app = app.clone();
        async move {
            let form: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            browse(&app, "/counter/bill", &cookie, Some(&form)).await
        }
    };
    // Two pre-settlement pages of the same stay: two message ids.
    let first = post(cookie.clone(), as_pairs(&stay_form)).await;
    let second = post(cookie.clone(), as_pairs(&stay_form)).await;
    let settle_form = |page: &Page| -> Vec<(String, String)> {
        let form = page.html.split("<form").find(|form| form.contains("value=\"settle\"")).expect("a settle form");
        form_fields(form)
    };
    let (one, other) = (settle_form(&first), settle_form(&second));
    assert_ne!(one, other, "each pre-settlement page has its own message id");

    // Nobody, a person's portal session and another hospital's counter get nothing done.
    assert_eq!(post(String::new(), one.clone()).await.location, "/counter/login");
    // A person's or an operator's session token under the counter's cookie is no counter session.
    let person = app.person_login("王强").await;
    assert_eq!(post(format!("yibao_counter={person}"), one.clone()).await.location, "/counter/login");
    let clerk = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    assert_eq!(post(format!("yibao_counter={clerk}"), one.clone()).await.location, "/counter/login");
    let secondary = sign_in(&app, SECONDARY, &format!("demo-{SECONDARY}")).await.cookie.expect("signed in");
    assert_eq!(post(secondary, one.clone()).await.status, 400, "the form's proof is the tertiary hospital's");

    // Twenty presses at once of each page.
    let mut set = tokio::task::JoinSet::new();
    for index in 0..40 {
        let form = if index % 2 == 0 { one.clone() } else { other.clone() };
        set.spawn(post(cookie.clone(), form));
    }
    let mut receipts = std::collections::BTreeSet::new();
    let mut refused = 0;
    while let Some(page) = set.join_next().await {
        let page = page.unwrap();
        match page.status {
            303 => {
                receipts.insert(page.location);
            }
            422 => refused += 1,
            other => panic!("{other}: {}", page.html),
        }
    }
    assert_eq!(receipts.len(), 1, "one settlement, every press of the winning page shows it: {receipts:?}");
    assert_eq!(refused, 20, "the other page's presses find nothing left to settle");
    let settled = count(&app, "settlements").await;
    assert_eq!(settled, 1);
    let again =
        browse(&app, "/counter/identify", &cookie, Some(&[("kind", "02"), ("number", id_number("王强"))])).await;
    assert!(offered(&again.html).is_none(), "a settled stay is no longer offered");
}

//! The pharmacy counter's pages: sign-in, identification, pre-settlement, settlement, receipt,
//! cancellation.

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
    ];
    let mut presettle = lines.to_vec();
    presettle.push(("action", "presettle"));
    let pre = browse(&app, "/counter/bill", &cookie, Some(&presettle)).await;
    assert_eq!(pre.status, 200, "{}", pre.html);
    assert!(pre.html.contains("¥24.60") && pre.html.contains("个人账户支付24.60元"), "{}", pre.html);
    assert!(!pre.html.contains(id_number("张伟")), "the form never carries the ID number");
    assert_eq!(balance(&app, "张伟").await, "1000.00", "a pre-settlement pays nothing");
    let msgid = pre.html.split("name=\"msgid\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_string();

    let mut settle = lines.to_vec();
    settle.extend([("action", "settle"), ("msgid", msgid.as_str())]);
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
    ];
    let mut presettle = fields.to_vec();
    presettle.push(("action", "presettle"));
    let pre = browse(&app, "/counter/bill", &cookie, Some(&presettle)).await;
    assert_eq!(pre.status, 200, "{}", pre.html);
    assert!(pre.html.contains("¥45.00") && pre.html.contains("name=\"mdtrt_id\""), "{}", pre.html);
    assert_eq!(balance(&app, "张伟").await, "1000.00", "the pre-settlement paid nothing");
    let hidden = |name: &str| {
        pre.html
            .split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_string()
    };
    let (msgid, mdtrt_id) = (hidden("msgid"), hidden("mdtrt_id"));
    let mut settle = fields.to_vec();
    settle.extend([("action", "settle"), ("msgid", msgid.as_str()), ("mdtrt_id", mdtrt_id.as_str())]);
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

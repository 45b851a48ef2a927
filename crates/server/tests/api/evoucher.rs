//! The e-voucher: activation with a face check, dynamic QR codes decoded once by the
//! e-voucher front-end (sequentially, racing, across a restart), expiry, revocation by a loss
//! report, face pay, 1101 with the `ecToken`, and logs that never hold a secret.

use serde_json::{Value, json};

use crate::helpers::*;

fn decode(code: &str, reference: &str) -> Value {
    json!({"orgId": "", "businessType": "01301", "operatorId": "001", "operatorName": "收费员", "officeId": "A01",
           "officeName": "门诊", "ecQrCode": code, "outBizNo": reference})
}

async fn person_info_by_token(app: &TestApp, code: &str, token: &str) -> Reply {
    app.call(
        code,
        "1101",
        json!({"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token, "card_sn": "", "begntime": "",
                        "psn_cert_type": "01", "certno": "", "psn_name": ""}}),
    )
    .await
}

#[tokio::test]
async fn activation_needs_the_channel_the_password_and_the_face() {
    let app = spawn_app().await;
    let token = app.person_login("张伟").await;
    let activate = |body: Value| {
        let app = &app;
        let token = token.clone();
        async move { app.rest("POST", "/api/v1/evoucher/activation", Some(&token), &[], Some(body)).await }
    };
    let face = base64_text(format!("face:{}", psn("张伟")).as_bytes());
    let wrong_face = base64_text(b"face:someone-else");
    let mismatch = activate(json!({"channel": "wechat", "payment_password": "246810", "face_image": wrong_face})).await;
    assert_eq!((mismatch.status, mismatch.body["error"]["code"].clone()), (401, json!("face_mismatch")));
    let channel = activate(json!({"channel": "telegram", "payment_password": "246810", "face_image": face})).await;
    assert_eq!(channel.status, 400);
    let password = activate(json!({"channel": "wechat", "payment_password": "24681", "face_image": face})).await;
    assert_eq!(password.status, 400);
    let not_base64 = activate(json!({"channel": "wechat", "payment_password": "246810", "face_image": "%%%"})).await;
    assert_eq!(not_base64.status, 400);
    // Not activated: no QR code.
    let early = app.rest("POST", "/api/v1/evoucher/qr-codes", Some(&token), &[], None).await;
    assert_eq!(early.status, 422, "{}", early.body);
    let status = app.rest("GET", "/api/v1/evoucher", Some(&token), &[], None).await;
    assert_eq!(status.body["activated"], json!(false));

    let done = activate(json!({"channel": "alipay", "payment_password": "246810", "face_image": face})).await;
    assert_eq!((done.status, done.body["channel"].clone()), (200, json!("alipay")), "{}", done.body);
    let status = app.rest("GET", "/api/v1/evoucher", Some(&token), &[], None).await;
    assert_eq!(status.body["activated"], json!(true));

    // Codes as JSON (with an SVG), SVG and PNG; opaque, short-lived, no personal data.
    let json_code = app.rest("POST", "/api/v1/evoucher/qr-codes", Some(&token), &[], None).await;
    let code = json_code.body["qr_code"].as_str().unwrap();
    assert!(code.starts_with("330100ec") && code.len() == 40, "{code}");
    assert!(code[8..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(json_code.body["expires_in"], json!(60));
    assert!(json_code.body["svg"].as_str().unwrap().starts_with("<svg"));
    let auth = [("authorization".to_string(), format!("Bearer {token}"))];
    let (status, svg) = app.post("/api/v1/evoucher/qr-codes?format=svg", &auth, vec![]).await;
    assert_eq!(status, 201);
    assert!(String::from_utf8(svg).unwrap().contains("<path"));
    let (status, png) = app.post("/api/v1/evoucher/qr-codes?format=png", &auth, vec![]).await;
    assert_eq!(status, 201);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (status, _) = app.post("/api/v1/evoucher/qr-codes?format=gif", &auth, vec![]).await;
    assert_eq!(status, 400);
    // Only the person: an operator or an institution has no e-voucher of its own.
    let institution = app.rest("POST", "/api/v1/evoucher/qr-codes", None, &signed_headers(TERTIARY), None).await;
    assert_eq!(institution.status, 403);
}

#[tokio::test]
async fn a_qr_code_decodes_once_into_an_ec_token_that_1101_accepts() {
    let app = spawn_app().await;
    let token = app.person_login("张伟").await;
    app.activate_evoucher(&token, "张伟").await;
    let code = app.qr_code(&token).await;

    let first = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&code, "BIZ-1")).await;
    assert_eq!(first["code"], json!(0), "{first}");
    assert_eq!(first["orgId"], json!(TERTIARY));
    let data = &first["data"];
    assert_eq!(data["userName"], json!("张伟"));
    assert_eq!(data["insuOrg"], json!("330100"));
    // Whole, for the institution about to treat him (a mask beside the birthday hides nothing).
    assert_eq!(data["idNo"], json!(id_number("张伟")));
    assert_eq!(data["gender"], json!("男"));
    assert_eq!(data["birthday"], json!("1985.03.12"));
    let ec_token = data["ecToken"].as_str().unwrap().to_string();
    assert!(ec_token.starts_with("330100ec") && ec_token.len() == 40, "{ec_token}");

    // A network retry (same outBizNo, same institution) gets the same answer.
    let retry = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&code, "BIZ-1")).await;
    assert_eq!(retry["data"]["ecToken"], json!(ec_token));
    // Any other use of the code is refused.
    let second = app.ec(TERTIARY, "ec.query", decode(&code, "BIZ-2")).await;
    assert_eq!((second["code"].clone(), second["success"].clone()), (json!(500_159), json!(false)), "{second}");
    let elsewhere = app.ec(SECONDARY, "cn.nhsa.qrcode.get", decode(&code, "BIZ-1")).await;
    assert_eq!(elsewhere["code"], json!(500_159));
    let garbage = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode("330100ecnot-a-code", "BIZ-3")).await;
    assert_eq!(garbage["code"], json!(500_159));
    assert_eq!(garbage["message"], second["message"], "the same refusal for unknown and used codes");

    // The token identifies the person in 1101 — at this institution only.
    let info = person_info_by_token(&app, TERTIARY, &ec_token).await;
    assert_eq!(info.ok()["baseinfo"]["psn_no"], json!(psn("张伟")));
    let foreign = person_info_by_token(&app, SECONDARY, &ec_token).await;
    assert!(foreign.refused().contains("令牌"), "{}", foreign.body);
    let made_up = person_info_by_token(&app, TERTIARY, "330100ec0000000000000000000000000000dead").await;
    assert_eq!(made_up.refused(), foreign.refused());

    // Visits and settlement take the token as the certificate.
    let visit = app
        .call(
            TERTIARY,
            "2201",
            json!({"data": {
            "psn_no": psn("张伟"), "insutype": "310", "begntime": "2026-11-23 10:00:00", "mdtrt_cert_type": "01",
            "mdtrt_cert_no": ec_token, "ipt_otp_no": "MZ0001", "atddr_no": "D001", "dr_name": "医生",
            "dept_code": "A01", "dept_name": "内科", "caty": "A01"}}),
        )
        .await;
    visit.ok();

    // Bad requests to the front-end: precise refusals, never a 500.
    let unknown = app.ec(TERTIARY, "cn.nhsa.teleport", json!({})).await;
    assert_eq!(unknown["code"], json!(500_100));
    let missing = app.ec(TERTIARY, "cn.nhsa.qrcode.get", json!({"businessType": "01301"})).await;
    assert!(missing["message"].as_str().unwrap().contains("ecQrCode"), "{missing}");
    let business = app.ec(TERTIARY, "cn.nhsa.qrcode.get", json!({"businessType": "1", "ecQrCode": code})).await;
    assert_eq!(business["code"], json!(500_100));
    let body = json!({"orgId": SECONDARY, "transType": "ec.query", "data": decode(&code, "X")});
    let (status, bytes) = app.post(EC_PATH, &signed_headers(TERTIARY), serde_json::to_vec(&body).unwrap()).await;
    let reply: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((status, reply["code"].clone()), (200, json!(500_100)), "orgId must be the signer: {reply}");
    let (_, bytes) = app.post(EC_PATH, &[], b"{}".to_vec()).await;
    let reply: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(reply["code"], json!(500_101), "unsigned: {reply}");
}

#[tokio::test]
async fn two_terminals_racing_for_one_code_one_wins() {
    let app = spawn_app().await;
    let token = app.person_login("李秀英").await;
    app.activate_evoucher(&token, "李秀英").await;
    for round in 0..5 {
        let code = app.qr_code(&token).await;
        let (a, b, c) = tokio::join!(
            app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&code, &format!("A{round}"))),
            app.ec(SECONDARY, "cn.nhsa.qrcode.get", decode(&code, &format!("B{round}"))),
            app.ec(TERTIARY, "ec.query", decode(&code, &format!("C{round}"))),
        );
        let wins = [&a, &b, &c].iter().filter(|reply| reply["code"] == json!(0)).count();
        assert_eq!(wins, 1, "round {round}: {a} {b} {c}");
        for reply in [&a, &b, &c] {
            assert!(reply["code"] == json!(0) || reply["code"] == json!(500_159), "{reply}");
        }
    }
}

#[tokio::test]
async fn a_code_survives_a_restart_unused_and_stays_used_after_one() {
    let app = spawn_app().await;
    let token = app.person_login("张伟").await;
    app.activate_evoucher(&token, "张伟").await;
    let used = app.qr_code(&token).await;
    let unused = app.qr_code(&token).await;
    let first = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&used, "R-1")).await;
    assert_eq!(first["code"], json!(0), "{first}");
    let ec_token = first["data"]["ecToken"].as_str().unwrap().to_string();

    let app = app.restart().await;
    let again = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&used, "R-2")).await;
    assert_eq!(again["code"], json!(500_159), "used before the restart: {again}");
    let fresh = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&unused, "R-3")).await;
    assert_eq!(fresh["code"], json!(0), "issued before the restart, still good: {fresh}");
    // The token issued before the restart still works; the retry still gets the same one.
    person_info_by_token(&app, TERTIARY, &ec_token).await.ok();
    let retry = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&used, "R-1")).await;
    assert_eq!(retry["data"]["ecToken"], json!(ec_token));
}

/// Issue 14: the e-voucher is a credential of its own. A lost card does not stop it (the portal
/// would otherwise offer codes every hospital refuses); suspending it (a lost phone) is its own
/// action, and that kills every outstanding code and token before it returns.
#[tokio::test]
async fn issue_14_a_card_loss_leaves_the_e_voucher_working_and_a_suspension_kills_every_code() {
    let app = spawn_app().await;
    let token = app.person_login("张伟").await;
    app.activate_evoucher(&token, "张伟").await;
    let decoded = app.qr_code(&token).await;
    let reply = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&decoded, "L-0")).await;
    let ec_token = reply["data"]["ecToken"].as_str().unwrap().to_string();
    let mut outstanding = Vec::new();
    for _ in 0..3 {
        outstanding.push(app.qr_code(&token).await);
    }
    let lost =
        app.rest("POST", "/api/v1/cards/A10000001/loss", Some(&token), &[], Some(json!({"reason": "钱包丢失"}))).await;
    assert_eq!(lost.status, 200, "{}", lost.body);
    let still = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&outstanding[0], "L-1")).await;
    assert_eq!(still["code"], json!(0), "a lost card leaves the e-voucher alone: {still}");
    person_info_by_token(&app, TERTIARY, &ec_token).await.ok();
    let status = app.rest("GET", "/api/v1/evoucher", Some(&token), &[], None).await;
    assert_eq!((status.body["activated"].clone(), status.body["suspended"].clone()), (json!(true), json!(false)));
    // The lost card itself is refused by 1101.
    let card = app
        .call(
            TERTIARY,
            "1101",
            json!({"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": "A10000001", "card_sn": "CSN10000001",
                                               "begntime": "", "psn_cert_type": "01", "certno": "", "psn_name": ""}}),
        )
        .await;
    assert!(card.refused().contains("lost"), "{}", card.body);
    let twice = app.rest("POST", "/api/v1/cards/A10000001/loss", Some(&token), &[], None).await;
    assert_eq!(twice.status, 409);

    // A lost phone: the holder suspends the e-voucher.
    let suspended =
        app.rest("POST", "/api/v1/evoucher/suspension", Some(&token), &[], Some(json!({"reason": "手机丢失"}))).await;
    assert_eq!(suspended.status, 200, "{}", suspended.body);
    for (n, code) in outstanding.iter().enumerate().skip(1) {
        let refused = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(code, &format!("L-{}", n + 1))).await;
        assert_eq!(refused["code"], json!(500_159), "{refused}");
    }
    assert!(person_info_by_token(&app, TERTIARY, &ec_token).await.refused().contains("令牌"));
    let no_more = app.rest("POST", "/api/v1/evoucher/qr-codes", Some(&token), &[], None).await;
    assert_eq!(no_more.status, 409, "no code until activated again: {}", no_more.body);
    let status = app.rest("GET", "/api/v1/evoucher", Some(&token), &[], None).await;
    assert_eq!(status.body["suspended"], json!(true));
    // Activated again (with the face check), it issues codes; the old ones stay dead.
    app.activate_evoucher(&token, "张伟").await;
    let fresh = app.qr_code(&token).await;
    assert_eq!(app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&fresh, "L-9")).await["code"], json!(0));
    let old = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&outstanding[2], "L-10")).await;
    assert_eq!(old["code"], json!(500_159));
    // The agency can suspend it too (the person called in); another person cannot.
    let other = app.person_login("李秀英").await;
    let path = format!("/api/v1/persons/{}/evoucher/suspension", psn("张伟"));
    assert_eq!(app.rest("POST", &path, Some(&other), &[], None).await.status, 403);
    let admin = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    assert_eq!(app.rest("POST", &path, Some(&admin), &[], None).await.status, 200);
}

#[tokio::test]
async fn face_pay_at_a_pharmacy_goes_through_the_verifier() {
    let app = spawn_app().await;
    let token = app.person_login("王强").await;
    app.activate_evoucher(&token, "王强").await;
    let face = base64_text(format!("face:{}", psn("王强")).as_bytes());
    let wrong = app
        .ec(PHARMACY, "cn.nhsa.ec.auth", json!({"idNo": id_number("王强"), "faceImage": base64_text(b"a cat")}))
        .await;
    assert_eq!(wrong["code"], json!(500_160), "{wrong}");
    let authorised = app.ec(PHARMACY, "cn.nhsa.ec.auth", json!({"idNo": id_number("王强"), "faceImage": face})).await;
    assert_eq!(authorised["code"], json!(0), "{authorised}");
    let auth_no = authorised["data"]["authNo"].as_str().unwrap().to_string();
    let elsewhere = app.ec(TERTIARY, "cn.nhsa.auth.check", json!({"authNo": auth_no})).await;
    assert_eq!(elsewhere["code"], json!(500_161), "an authorisation is for its pharmacy: {elsewhere}");
    let checked = app.ec(PHARMACY, "cn.nhsa.auth.check", json!({"authNo": auth_no, "outBizNo": "F-1"})).await;
    assert_eq!(checked["code"], json!(0), "{checked}");
    let ec_token = checked["data"]["ecToken"].as_str().unwrap();
    assert_eq!(person_info_by_token(&app, PHARMACY, ec_token).await.ok()["baseinfo"]["psn_no"], json!(psn("王强")));
    let again = app.ec(PHARMACY, "cn.nhsa.auth.check", json!({"authNo": auth_no, "outBizNo": "F-2"})).await;
    assert_eq!(again["code"], json!(500_161));
}

/// A full scenario, then the logs of every server in this test binary: no whole ID number, no
/// PIN, no password, no QR code or token.
#[tokio::test]
async fn the_logs_of_a_full_scenario_hold_no_secret() {
    let app = spawn_app().await;
    let mut secrets: Vec<String> =
        ["张伟", "李秀英", "王强", "刘芳", "陈军", "赵敏"].iter().map(|n| id_number(n).to_string()).collect();
    secrets.extend(["Demo@2026", "147258", "246810", "864209", "505678"].map(String::from));
    let person = app.person_login("张伟").await;
    // Wrong password, the initial one, wrong PINs, a PIN change, a bad ID number.
    let wrong = app
        .rest(
            "POST",
            "/api/v1/auth/login",
            None,
            &[],
            Some(json!({"role": "person", "id_number": id_number("张伟"), "password": "Wrong@2026x"})),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let initial = app
        .rest(
            "POST",
            "/api/v1/auth/login",
            None,
            &[],
            Some(json!({"role": "person", "id_number": id_number("赵敏"), "password": "505678"})),
        )
        .await;
    assert_eq!(initial.status, 200);
    identify(&app, TERTIARY, "张伟").await;
    let pin = app
        .rest(
            "POST",
            "/api/v1/cards/A10000001/pin/verify",
            None,
            &signed_headers(TERTIARY),
            Some(json!({"pin": "147258"})),
        )
        .await;
    assert_eq!(pin.status, 200);
    let changed = app
        .rest(
            "POST",
            "/api/v1/cards/A10000001/pin/change",
            Some(&person),
            &[],
            Some(json!({"old_pin": "147258", "new_pin": "864209"})),
        )
        .await;
    assert_eq!(changed.status, 200);
    app.activate_evoucher(&person, "张伟").await;
    let code = app.qr_code(&person).await;
    let decoded = app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&code, "LOG-1")).await;
    let ec_token = decoded["data"]["ecToken"].as_str().unwrap().to_string();
    person_info_by_token(&app, TERTIARY, &ec_token).await.ok();
    app.ec(TERTIARY, "cn.nhsa.qrcode.get", decode(&code, "LOG-2")).await;
    let bad_id = app
        .call(
            TERTIARY,
            "1101",
            json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "330102198503121237", "psn_cert_type": "01"}}),
        )
        .await;
    bad_id.refused();
    identify(&app, TERTIARY, "张伟").await;
    let mdtrt_id = register(&app, TERTIARY, "李秀英", "11").await;
    assert!(!mdtrt_id.is_empty());
    let (status, _) = app
        .post("/api/v1/cards/A10000001/statement", &[("authorization".into(), format!("Bearer {person}"))], vec![])
        .await;
    assert_eq!(status, 200);
    app.rest("POST", "/api/v1/cards/A10000001/loss", Some(&person), &[], None).await;
    secrets.push(code);
    secrets.push(ec_token);

    let logs = logs();
    assert!(logs.contains("request"), "the scenario was logged: {logs}");
    assert!(logs.contains("/api/v1/evoucher/qr-codes"));
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "the logs hold a secret ({} characters)", secret.len());
    }
}

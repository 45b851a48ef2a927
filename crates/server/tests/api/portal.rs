//! The web portal as a browser uses it: forms, redirects and the session cookie.

use serde_json::json;

use crate::helpers::*;

async fn log_in(app: &TestApp, name: &str, password: &str) -> Page {
    browse(app, "/portal/login", "", Some(&[("id_number", id_number(name)), ("password", password)])).await
}

/// Logged in as the demo person: the session cookie.
async fn session(app: &TestApp, name: &str) -> String {
    let page = log_in(app, name, "Demo@2026").await;
    assert_eq!((page.status, page.location.as_str()), (303, "/portal/me"), "{}\n{}", page.html, logs());
    page.cookie.expect("a session cookie")
}

fn pharmacy_purchase(name: &str, price: &str) -> serde_json::Value {
    json!({
        "data": {"psn_no": psn(name), "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number(name),
                 "begntime": "2026-11-23 11:00:00", "medfee_sumamt": number(price), "ipt_otp_no": "YD0001", "med_type": "41",
                 "insutype": insutype(name), "psn_setlway": "01", "acct_used_flag": "1", "invono": "", "fulamt_ownpay_amt": 0,
                 "overlmt_selfpay": 0, "preselfpay_amt": 0, "inscp_scp_amt": 0},
        "feedetail": [fee_line("1", "", psn(name), "DEMO-A-001", price, "1")],
    })
}

#[tokio::test]
async fn zhao_min_can_only_set_a_new_password_then_logs_in_with_it() {
    let app = spawn_app().await;
    // The initial password: characters 12 to 17 of her ID number.
    let initial = &id_number("赵敏")[11..17];
    let wrong = log_in(&app, "赵敏", "Demo@2026").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.html.contains("role=\"alert\""), "{}", wrong.html);
    let first = log_in(&app, "赵敏", initial).await;
    assert_eq!((first.status, first.location.as_str()), (303, "/portal/password"));
    let cookie = first.cookie.expect("a session");
    // Every other page sends her back to the password change; no data shows.
    for path in ["/portal/me", "/portal/qr", "/portal/account", "/portal/settlements/3301000000000001"] {
        let page = browse(&app, path, &cookie, None).await;
        assert_eq!((page.status, page.location.as_str()), (303, "/portal/password"), "{path}");
        assert!(!page.html.contains("赵敏"));
    }
    let form = browse(&app, "/portal/password", &cookie, None).await;
    assert!(form.html.contains("初始密码") && !form.html.contains("id=\"password\""), "no current password asked");
    // The new password is checked (letters and digits, not the initial one) and confirmed.
    let weak =
        browse(&app, "/portal/password", &cookie, Some(&[("new_password", "short"), ("confirm", "short")])).await;
    assert_eq!(weak.status, 400);
    let differ =
        browse(&app, "/portal/password", &cookie, Some(&[("new_password", "Better2026"), ("confirm", "Better2027")]))
            .await;
    assert!(differ.html.contains("不一致"), "{}", differ.html);
    // The initial password can be worked out from the ID number (issue 14): proof of
    // possession first, her card and its PIN.
    let unproven =
        browse(&app, "/portal/password", &cookie, Some(&[("new_password", "Better2026"), ("confirm", "Better2026")]))
            .await;
    assert_eq!(unproven.status, 403, "{}", unproven.html);
    let someone_elses =
        [("new_password", "Better2026"), ("confirm", "Better2026"), ("card_no", "A10000001"), ("pin", "147258")];
    assert_eq!(browse(&app, "/portal/password", &cookie, Some(&someone_elses)).await.status, 403);
    let wrong_pin =
        [("new_password", "Better2026"), ("confirm", "Better2026"), ("card_no", "A10000006"), ("pin", "000000")];
    assert_eq!(browse(&app, "/portal/password", &cookie, Some(&wrong_pin)).await.status, 403);
    let proven =
        [("new_password", "Better2026"), ("confirm", "Better2026"), ("card_no", "A10000006"), ("pin", "147258")];
    let set = browse(&app, "/portal/password", &cookie, Some(&proven)).await;
    assert_eq!((set.status, set.location.as_str()), (303, "/portal/login"), "{}", set.html);
    // The old session ended; the new password opens her pages.
    assert_eq!(browse(&app, "/portal/me", &cookie, None).await.location, "/portal/login");
    assert_eq!(log_in(&app, "赵敏", initial).await.status, 401);
    let again = log_in(&app, "赵敏", "Better2026").await;
    assert_eq!(again.location, "/portal/me");
    let me = browse(&app, "/portal/me", &again.cookie.unwrap(), None).await;
    assert_eq!(me.status, 200);
    assert!(me.html.contains("赵敏") && me.html.contains("¥300.00"), "{}", me.html);
}

#[tokio::test]
async fn a_person_sees_their_settlement_explained_and_never_another_persons() {
    let app = spawn_app().await;
    let own = app.call(PHARMACY, "2102", pharmacy_purchase("张伟", "35.50")).await;
    let own_id = own.ok()["setlinfo"]["setl_id"].as_str().unwrap().to_string();
    let other = app.call(PHARMACY, "2102", pharmacy_purchase("李秀英", "12.00")).await;
    let other_id = other.ok()["setlinfo"]["setl_id"].as_str().unwrap().to_string();

    let cookie = session(&app, "张伟").await;
    let me = browse(&app, "/portal/me", &cookie, None).await;
    assert_eq!(me.status, 200);
    assert!(me.html.contains("张伟") && me.html.contains("330102********1236"), "masked ID: {}", me.html);
    assert!(!me.html.contains(id_number("张伟")), "the whole ID number never shows");
    assert!(me.html.contains(&format!("/portal/settlements/{own_id}")));
    assert!(me.html.contains("¥964.50"), "balance after paying 35.50 from 1000.00: {}", me.html);
    assert!(!me.html.contains(&other_id) && !me.html.contains("李秀英"));

    let detail = browse(&app, &format!("/portal/settlements/{own_id}"), &cookie, None).await;
    assert_eq!(detail.status, 200);
    assert!(detail.html.contains("个人账户支付35.50元"), "the explanation: {}", detail.html);

    // Someone else's settlement, an unknown one and a malformed id all look the same.
    for id in [other_id.as_str(), "3301999999999999", "../../api/v1/persons"] {
        let page = browse(&app, &format!("/portal/settlements/{id}"), &cookie, None).await;
        assert!(page.status == 404 || page.status == 400, "{id}: {}", page.status);
        assert!(!page.html.contains("李秀英") && !page.html.contains("12.00"), "{id}: {}", page.html);
    }
    // No page takes a person: a psn_no in the query changes nothing.
    let probe = browse(&app, &format!("/portal/me?psn_no={}", psn("李秀英")), &cookie, None).await;
    assert!(probe.html.contains("张伟") && !probe.html.contains("李秀英"));
    // A forged or foreign cookie is no session; an operator's REST token is not a portal session.
    let admin = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    for cookies in ["yibao_portal=forged".to_string(), format!("yibao_portal={admin}")] {
        let page = browse(&app, "/portal/me", &cookies, None).await;
        assert_eq!(page.location, "/portal/login", "{cookies}");
    }
    // Logging out ends the session.
    let out = browse(&app, "/portal/logout", &cookie, Some(&[])).await;
    assert_eq!(out.location, "/portal/login");
    assert_eq!(browse(&app, "/portal/me", &cookie, None).await.location, "/portal/login");
}

#[tokio::test]
async fn the_qr_page_shows_a_fresh_code_an_institution_can_decode() {
    let app = spawn_app().await;
    let token = app.person_login("张伟").await;
    app.activate_evoucher(&token, "张伟").await;
    let cookie = session(&app, "张伟").await;
    let page = browse(&app, "/portal/qr", &cookie, None).await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains("<svg") && page.html.contains("data-refresh=\""), "{}", page.html);
    assert!(!page.html.contains("<script>"), "no inline script: the pages' policy forbids it");
    let code = page.html.split("data-code=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_string();
    assert!(code.starts_with("330100ec") && code.len() == 40, "{code}");
    let again = browse(&app, "/portal/qr", &cookie, None).await;
    assert!(!again.html.contains(&code), "a new code at every refresh");
    let decoded = app
        .ec(TERTIARY, "cn.nhsa.qrcode.get", json!({"businessType": "01301", "ecQrCode": code, "outBizNo": "P1"}))
        .await;
    assert_eq!(decoded["code"], json!(0), "{decoded}");
    assert_eq!(decoded["data"]["userName"], json!("张伟"));
}

#[tokio::test]
async fn pages_speak_english_on_request_and_the_institution_search_filters() {
    let app = spawn_app().await;
    let cookie = session(&app, "张伟").await;
    let switch = browse(&app, "/portal/lang/en", &cookie, None).await;
    assert_eq!(switch.status, 303);
    let english = browse(&app, "/portal/me", &format!("{cookie}; yibao_lang=en"), None).await;
    assert!(english.html.contains("<html lang=\"en\">") && english.html.contains("Personal account"));
    let all = browse(&app, "/portal/institutions", "", None).await;
    assert_eq!(all.status, 200);
    assert!(all.html.contains(TERTIARY) && all.html.contains(PHARMACY));
    let pharmacies = browse(&app, "/portal/institutions?kind=pharmacy&admdvs=330100", "", None).await;
    assert!(pharmacies.html.contains(PHARMACY) && !pharmacies.html.contains(TERTIARY));
    let nonsense = browse(&app, "/portal/institutions?kind=%FF&level=%3Cscript%3E", "", None).await;
    assert_eq!(nonsense.status, 200);
    assert!(!nonsense.html.contains("<script>"));
}

#[tokio::test]
async fn a_person_changes_the_pin_prints_the_record_and_reports_the_card_lost_but_never_anothers() {
    let app = spawn_app().await;
    let cookie = session(&app, "张伟").await;
    let me = browse(&app, "/portal/me", &cookie, None).await;
    assert!(me.html.contains("/portal/cards/A10000001/loss") && me.html.contains("正常"), "{}", me.html);
    // 李秀英's card: no page, no action.
    assert_eq!(browse(&app, "/portal/cards/A10000002/pin", &cookie, None).await.status, 404);
    let pin = [("old_pin", "147258"), ("new_pin", "258369"), ("confirm_pin", "258369")];
    assert_eq!(browse(&app, "/portal/cards/A10000002/pin", &cookie, Some(&pin)).await.status, 404);
    assert_eq!(browse(&app, "/portal/cards/A10000002/loss", &cookie, Some(&[])).await.status, 404);
    assert_eq!(browse(&app, "/portal/cards/A10000002/statement", &cookie, Some(&[])).await.status, 404);

    let wrong = [("old_pin", "000000"), ("new_pin", "258369"), ("confirm_pin", "258369")];
    assert_ne!(browse(&app, "/portal/cards/A10000001/pin", &cookie, Some(&wrong)).await.status, 200);
    let changed = browse(&app, "/portal/cards/A10000001/pin", &cookie, Some(&pin)).await;
    assert_eq!(changed.status, 200);
    assert!(changed.html.contains("卡密码已修改"));
    let statement = browse(&app, "/portal/cards/A10000001/statement", &cookie, Some(&[])).await;
    assert_eq!(statement.status, 200);
    assert!(statement.html.starts_with("%PDF"), "a PDF");

    let lost = browse(&app, "/portal/cards/A10000001/loss", &cookie, Some(&[])).await;
    assert_eq!(lost.location, "/portal/me");
    let after = browse(&app, "/portal/me", &cookie, None).await;
    assert!(after.html.contains("已挂失") && !after.html.contains("/portal/cards/A10000001/loss"));
    let card = app.rest("GET", "/api/v1/cards/A10000001", Some(&app.person_login("张伟").await), &[], None).await;
    assert_eq!(card.body["status"], serde_json::json!("lost"));
}

#[tokio::test]
async fn the_whole_history_pages_back_in_time() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in 1..=23 {
        let reply = app.call(PHARMACY, "2102", pharmacy_purchase("李秀英", &format!("{n}.00"))).await;
        ids.push(reply.ok()["setlinfo"]["setl_id"].as_str().unwrap().to_string());
    }
    let cookie = session(&app, "李秀英").await;
    let first = browse(&app, "/portal/me", &cookie, None).await;
    assert!(first.html.contains(&ids[22]) && first.html.contains(&ids[3]) && !first.html.contains(&ids[2]));
    assert!(first.html.contains("/portal/me?page=2") && !first.html.contains("page=0"));
    let second = browse(&app, "/portal/me?page=2", &cookie, None).await;
    assert!(second.html.contains(&ids[0]) && second.html.contains(&ids[2]) && !second.html.contains(&ids[3]));
    assert!(second.html.contains("/portal/me?page=1") && !second.html.contains("page=3"));
    assert!(browse(&app, "/portal/me?page=99", &cookie, None).await.html.contains("暂无结算记录"));
}

#[tokio::test]
async fn the_account_page_lists_credits_and_payments_with_the_balance_after_each() {
    let app = spawn_app().await;
    let cookie = session(&app, "张伟").await;
    let paid = app.call(PHARMACY, "2102", pharmacy_purchase("张伟", "12.50")).await;
    assert_eq!(money(&paid.ok()["setlinfo"]["acct_pay"]), "12.5".parse().unwrap());
    let page = browse(&app, "/portal/account", &cookie, None).await;
    assert_eq!(page.status, 200, "{}", page.html);
    // Newest first: the payment and the balance after it, then the opening balance.
    let payment = page.html.find("医药费用支付").expect("the payment is listed");
    let opening = page.html.rfind("期初余额").expect("the opening balance is listed");
    assert!(payment < opening, "newest first");
    assert!(page.html.contains("-¥12.50") && page.html.contains("¥987.50"), "{}", page.html);
    // Nobody else's: the page is the session's person's, whatever the address says.
    let other = session(&app, "李秀英").await;
    let hers = browse(&app, "/portal/account", &other, None).await;
    assert!(!hers.html.contains("987.50") && hers.html.contains("期初余额"), "{}", hers.html);
    assert_eq!(browse(&app, "/portal/account", "", None).await.location, "/portal/login");
}

/// Issue 17: `/` is the landing page: what yibao is, the three desks, the interfaces, and on
/// the demo its logins (no secret of anything but the demo).
#[tokio::test]
async fn the_landing_page_leads_to_the_desks_and_shows_the_demo_logins() {
    let app = spawn_app().await;
    let (status, page) = app.get("/").await;
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    for link in ["href=\"/portal\"", "href=\"/counter\"", "href=\"/agency\"", "href=\"/api/v1/openapi.json\""] {
        assert!(page.contains(link), "{link} missing");
    }
    assert!(page.contains("/fsi/api/rsfComIfsService/callService"));
    for demo in ["330102198503121236", "demo-H33010000001", "Demo@2026", "147258"] {
        assert!(page.contains(demo), "the demo's {demo} is shown");
    }
    let (status, _) = app.get("/no-such-page").await;
    assert_eq!(status, 404);
}

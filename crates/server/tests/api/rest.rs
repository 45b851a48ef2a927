//! The REST API: logins, roles, masked ID numbers, the audited privileged read, the initial
//! password, the registry, the OpenAPI document.

use serde_json::json;

use crate::helpers::*;

/// A REST amount (yuan as text) as exact money.
fn yuan(value: &serde_json::Value) -> yibao_domain::Money {
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("not a REST amount: {value}"))
}

async fn admin(app: &TestApp) -> String {
    app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await
}

#[tokio::test]
async fn ids_are_masked_and_only_a_privileged_reason_reveals_one_with_an_audit_entry() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let path = format!("/api/v1/persons/{}", psn("张伟"));
    let masked = app.rest("GET", &path, Some(&token), &[], None).await;
    assert_eq!(masked.status, 200, "{}", masked.body);
    assert_eq!(masked.body["id_number"], json!("330102********1236"));
    assert_eq!(masked.body["id_number_masked"], json!(true));
    // Issue 14: what the mask hides (the birth date) is not given beside it.
    assert!(
        masked.body.get("birth_date").is_none() && !masked.body.to_string().contains("19850312"),
        "{}",
        masked.body
    );
    assert!(!masked.body.to_string().contains("1985-03-12"), "{}", masked.body);

    // An institution reads only its patients: 张伟 is not yet one of the tertiary hospital's.
    let stranger = app.rest("GET", &path, None, &signed_headers(TERTIARY), None).await;
    assert_eq!(stranger.status, 404, "{}", stranger.body);
    let missing = app.rest("GET", "/api/v1/persons/3301009999999999", None, &signed_headers(TERTIARY), None).await;
    assert_eq!(
        (missing.status, missing.body["error"]["code"].clone()),
        (stranger.status, stranger.body["error"]["code"].clone())
    );
    // Once it identified him (1101 with his ID number), he is.
    app.call(TERTIARY, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟"), "psn_cert_type": "01", "certno": id_number("张伟")}}))
        .await
        .ok();
    let institution = app.rest("GET", &path, None, &signed_headers(TERTIARY), None).await;
    assert_eq!(institution.status, 200, "{}", institution.body);
    assert_eq!(institution.body["id_number"], json!("330102********1236"));
    let refused =
        app.rest("GET", &format!("{path}?reveal=true&reason=checking"), None, &signed_headers(TERTIARY), None).await;
    assert_eq!(refused.status, 403);

    let no_reason = app.rest("GET", &format!("{path}?reveal=true"), Some(&token), &[], None).await;
    assert_eq!(no_reason.status, 400, "{}", no_reason.body);
    let revealed = app
        .rest(
            "GET",
            &format!("{path}?reveal=true&reason=%E6%A0%B8%E5%AE%9E%E5%8F%82%E4%BF%9D%E8%BA%AB%E4%BB%BD"),
            Some(&token),
            &[],
            None,
        )
        .await;
    assert_eq!(revealed.status, 200, "{}", revealed.body);
    assert_eq!(revealed.body["id_number"], json!("330102198503121236"));

    // An operator without the privileged role cannot reveal.
    let created = app
        .rest(
            "POST",
            "/api/v1/operators",
            Some(&token),
            &[],
            Some(json!({"username": "clerk", "password": "Clerk2026pass", "roles": ["operator"]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let clerk = app.login(json!({"role": "operator", "username": "clerk", "password": "Clerk2026pass"})).await;
    let denied = app.rest("GET", &format!("{path}?reveal=true&reason=curiosity"), Some(&clerk), &[], None).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.body["error"]["code"], json!("forbidden"));

    let audit = app.rest("GET", &format!("/api/v1/audit?subject={}", psn("张伟")), Some(&token), &[], None).await;
    let entries = audit.body["entries"].as_array().unwrap().clone();
    let reveal = entries.iter().find(|e| e["action"] == json!("reveal-id-number")).expect("the reveal is audited");
    assert_eq!(reveal["actor"], json!("operator:admin"));
    assert_eq!(reveal["reason"], json!("核实参保身份"));
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == json!("read-person") && e["actor"] == json!(format!("institution:{TERTIARY}")))
    );
    assert_eq!(
        entries.iter().filter(|e| e["action"] == json!("reveal-id-number")).count(),
        1,
        "refused reveals are not reads"
    );
}

#[tokio::test]
async fn a_person_sees_only_their_own_records() {
    let app = spawn_app().await;
    let anonymous = app.rest("GET", &format!("/api/v1/persons/{}", psn("张伟")), None, &[], None).await;
    assert_eq!(anonymous.status, 401);
    let wrong = app
        .rest(
            "POST",
            "/api/v1/auth/login",
            None,
            &[],
            Some(json!({"role": "person", "id_number": id_number("张伟"), "password": "wrong"})),
        )
        .await;
    let unknown = app
        .rest(
            "POST",
            "/api/v1/auth/login",
            None,
            &[],
            Some(json!({"role": "person", "id_number": "11010519491231002X", "password": "wrong"})),
        )
        .await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.body, unknown.body, "an unknown person and a wrong password look the same");
    let token = app.login(json!({"role": "person", "id_number": id_number("张伟"), "password": "Demo@2026"})).await;
    let own = app.rest("GET", &format!("/api/v1/persons/{}/account", psn("张伟")), Some(&token), &[], None).await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["balance"], json!("1000.00"));
    for path in [
        format!("/api/v1/persons/{}", psn("李秀英")),
        format!("/api/v1/persons/{}/account", psn("李秀英")),
        format!("/api/v1/persons/{}/settlements", psn("李秀英")),
        "/api/v1/persons".to_string(),
        "/api/v1/audit".to_string(),
    ] {
        let other = app.rest("GET", &path, Some(&token), &[], None).await;
        assert_eq!(other.status, 403, "{path}: {}", other.body);
    }
}

#[tokio::test]
async fn the_initial_password_only_sets_a_new_one() {
    let app = spawn_app().await;
    let login =
        |password: &'static str| json!({"role": "person", "id_number": id_number("赵敏"), "password": password});
    let refused = app.rest("POST", "/api/v1/auth/login", None, &[], Some(login("Demo@2026"))).await;
    assert_eq!(refused.status, 401, "赵敏 has never set the demo password");
    let first = app.rest("POST", "/api/v1/auth/login", None, &[], Some(login("505678"))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["must_change_password"], json!(true));
    let token = first.body["token"].as_str().unwrap().to_string();
    let blocked = app.rest("GET", &format!("/api/v1/persons/{}/account", psn("赵敏")), Some(&token), &[], None).await;
    assert_eq!(blocked.status, 403, "{}", blocked.body);
    let weak =
        app.rest("POST", "/api/v1/me/password", Some(&token), &[], Some(json!({"new_password": "x505678y1"}))).await;
    assert_eq!(weak.status, 400, "the new password may not contain the initial one");
    // Issue 14: anyone who knows her ID number knows the initial password; it takes proof of
    // possession (her card and its PIN) to set a new one.
    let unproven =
        app.rest("POST", "/api/v1/me/password", Some(&token), &[], Some(json!({"new_password": "ZhaoMin2026"}))).await;
    assert_eq!((unproven.status, unproven.body["error"]["code"].clone()), (403, json!("proof_required")));
    let someone_elses = json!({"new_password": "ZhaoMin2026", "card_no": "A10000001", "pin": "147258"});
    let refused = app.rest("POST", "/api/v1/me/password", Some(&token), &[], Some(someone_elses)).await;
    assert_eq!((refused.status, refused.body["error"]["code"].clone()), (403, json!("proof_failed")));
    let proven = json!({"new_password": "ZhaoMin2026", "card_no": "A10000006", "pin": "147258"});
    let changed = app.rest("POST", "/api/v1/me/password", Some(&token), &[], Some(proven)).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let again = app.rest("POST", "/api/v1/auth/login", None, &[], Some(login("505678"))).await;
    assert_eq!(again.status, 401, "the initial password works only once");
    let token = app.login(login("ZhaoMin2026")).await;
    let account = app.rest("GET", &format!("/api/v1/persons/{}/account", psn("赵敏")), Some(&token), &[], None).await;
    assert_eq!(account.body["balance"], json!("300.00"));
}

#[tokio::test]
async fn operators_keep_the_registry() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let public = app.rest("GET", "/api/v1/institutions?admdvs=330100&kind=hospital", None, &[], None).await;
    assert_eq!(public.body["institutions"].as_array().unwrap().len(), 3);
    let pharmacies = app.rest("GET", "/api/v1/institutions?kind=pharmacy&evoucher=true", None, &[], None).await;
    assert_eq!(pharmacies.body["institutions"][0]["code"], json!(PHARMACY));
    let unauthorized = app.rest("GET", "/api/v1/persons", None, &[], None).await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.body["error"]["code"], json!("unauthenticated"));

    let person = json!({"id_number": "330102200203041234", "name": "新参保", "admdvs": "330100", "insutype": "310", "psn_type": "1101",
                        "employer": "E33010000001", "contribution_base": "6000"});
    let mut bad = person.clone();
    bad["id_number"] = json!("330102200203041233");
    let refused = app.rest("POST", "/api/v1/persons", Some(&token), &[], Some(bad)).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body["error"]["message"].as_str().unwrap().contains("check character is 3, expected 4"),
        "{}",
        refused.body
    );
    let created = app.rest("POST", "/api/v1/persons", Some(&token), &[], Some(person.clone())).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["id_number"], json!("330102********1234"));
    let twice = app.rest("POST", "/api/v1/persons", Some(&token), &[], Some(person)).await;
    assert_eq!(twice.status, 409);
    // The new person logs in with the initial password to set their own.
    let login = app
        .rest(
            "POST",
            "/api/v1/auth/login",
            None,
            &[],
            Some(json!({"role": "person", "id_number": "330102200203041234", "password": "304123"})),
        )
        .await;
    assert_eq!(login.body["must_change_password"], json!(true), "{}", login.body);

    let unknown_field = app
        .rest(
            "POST",
            "/api/v1/regions",
            Some(&token),
            &[],
            Some(json!({"admdvs": "330300", "name": "温州市", "extra": 1})),
        )
        .await;
    assert_eq!(unknown_field.status, 400);
    let region = app
        .rest("POST", "/api/v1/regions", Some(&token), &[], Some(json!({"admdvs": "330300", "name": "温州市"})))
        .await;
    assert_eq!(region.status, 201);
    let page = app.rest("GET", "/api/v1/persons?admdvs=330100&page=1&page_size=2", Some(&token), &[], None).await;
    assert_eq!((page.body["total"].clone(), page.body["persons"].as_array().unwrap().len()), (json!(8), 2));
    let verify = app.rest("GET", "/api/v1/ledger/verify", Some(&token), &[], None).await;
    assert_eq!((verify.body["balanced"].clone(), verify.body["replay_matches"].clone()), (json!(true), json!(true)));
}

#[tokio::test]
async fn settlements_carry_their_explanation_and_the_openapi_document_lists_every_route() {
    let app = spawn_app().await;
    let visit = register(&app, TERTIARY, "张伟", "11").await;
    app.call(TERTIARY, "2204", json!({"feedetail": [fee_line("1", &visit, psn("张伟"), "DEMO-B-002", "120", "1")]}))
        .await
        .ok();
    let settled = app.call(TERTIARY, "2207", json!({"data": presettle_data("张伟", &visit, "120", true)})).await;
    let setl_id = settled.ok()["setlinfo"]["setl_id"].as_str().unwrap().to_string();
    let token = app.login(json!({"role": "person", "id_number": id_number("张伟"), "password": "Demo@2026"})).await;
    let detail = app.rest("GET", &format!("/api/v1/settlements/{setl_id}"), Some(&token), &[], None).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert_eq!(detail.body["amounts"]["over_limit"], json!("10.00"));
    let rules: Vec<&str> =
        detail.body["explanation"].as_array().unwrap().iter().map(|s| s["rule"].as_str().unwrap()).collect();
    assert!(
        rules.contains(&"line.over-limit")
            && rules.contains(&"line.class-b-first-self-pay")
            && rules.contains(&"account.pays"),
        "{rules:?}"
    );
    let other = app.login(json!({"role": "person", "id_number": id_number("李秀英"), "password": "Demo@2026"})).await;
    // Someone else's settlement is "not found", like a missing one (issue 14: no oracle).
    assert_eq!(app.rest("GET", &format!("/api/v1/settlements/{setl_id}"), Some(&other), &[], None).await.status, 404);
    let foreign =
        app.rest("GET", &format!("/api/v1/settlements/{setl_id}"), None, &signed_headers(SECONDARY), None).await;
    assert_eq!(foreign.status, 404, "another institution cannot read it");
    // Before logging in, an existing, a missing and a malformed id all get the same 401.
    let missing = format!("{}9", &setl_id[..setl_id.len() - 1]);
    for id in [setl_id.as_str(), missing.as_str(), "bad%20id"] {
        let anonymous = app.rest("GET", &format!("/api/v1/settlements/{id}"), None, &[], None).await;
        assert_eq!(
            (anonymous.status, anonymous.body["error"]["code"].clone()),
            (401, json!("unauthenticated")),
            "{id}"
        );
    }

    let spec = app.rest("GET", "/api/v1/openapi.json", None, &[], None).await;
    assert_eq!(spec.body["openapi"], json!("3.0.3"));
    let paths = spec.body["paths"].as_object().unwrap();
    for route in [
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/me/password",
        "/api/v1/operators",
        "/api/v1/regions",
        "/api/v1/institutions",
        "/api/v1/employers",
        "/api/v1/persons",
        "/api/v1/persons/{psn_no}",
        "/api/v1/persons/{psn_no}/account",
        "/api/v1/persons/{psn_no}/accumulators",
        "/api/v1/persons/{psn_no}/settlements",
        "/api/v1/settlements/{setl_id}",
        "/api/v1/catalogue",
        "/api/v1/audit",
        "/api/v1/ledger/verify",
        "/fsi/api/rsfComIfsService/callService",
        "/api/v1/card-applications",
        "/api/v1/card-applications/{id}",
        "/api/v1/card-applications/{id}/steps",
        "/api/v1/card-applications/{id}/produce",
        "/api/v1/persons/{psn_no}/cards",
        "/api/v1/cards/{card_no}",
        "/api/v1/cards/{card_no}/status",
        "/api/v1/cards/{card_no}/loss",
        "/api/v1/cards/{card_no}/replacement",
        "/api/v1/cards/{card_no}/pin/verify",
        "/api/v1/cards/{card_no}/pin/change",
        "/api/v1/cards/{card_no}/pin/reset",
        "/api/v1/cards/{card_no}/statement",
        "/api/v1/clearing-notices/{id}",
        "/api/v1/clearing-notices/{id}/confirm",
        "/api/v1/evoucher",
        "/api/v1/evoucher/activation",
        "/api/v1/evoucher/qr-codes",
        "/api/v1/evoucher/suspension",
        "/api/v1/persons/{psn_no}/evoucher/suspension",
        "/api/v1/persons/{psn_no}/activation-code",
        "/fsi/api/ec/trans",
        "/api/v1/allocations",
        "/api/v1/year-ends",
        "/api/v1/contributions",
        "/api/v1/persons/{psn_no}/contributions",
        "/api/v1/clearing/institutions/{code}",
        "/api/v1/clearing/institutions/{code}/payments",
        "/api/v1/clearing/inter-region",
        "/api/v1/clearing/inter-region/payments",
    ] {
        assert!(paths.contains_key(route), "{route} is not in the OpenAPI document");
    }
}

#[tokio::test]
async fn the_rest_flow_settles_once_per_idempotency_key() {
    let app = spawn_app().await;
    let sign = |key: &str| {
        let mut headers = signed_headers(TERTIARY);
        headers.push(("idempotency-key".into(), key.into()));
        headers
    };
    let visit = app
        .rest("POST", "/api/v1/visits", None, &sign("v1"), Some(json!({"psn_no": psn("张伟"), "kind": "outpatient", "insutype": "310",
            "begin": "2026-11-23 10:00:00", "certificate": {"type": "02", "number": id_number("张伟")}, "his_no": "MZ9", "med_type": "11"})))
        .await;
    assert_eq!(visit.status, 201, "{}", visit.body);
    let mdtrt_id = visit.body["mdtrt_id"].as_str().unwrap().to_string();
    let lines = json!({"psn_no": psn("张伟"), "lines": [
        {"serial": "1", "code": "DEMO-A-001", "price": "50", "quantity": "1", "amount": "50.00"},
        {"serial": "2", "code": "DEMO-B-001", "price": "100", "quantity": "1", "amount": "100.00"},
        {"serial": "3", "code": "DEMO-C-001", "price": "20", "quantity": "1", "amount": "20.00"}]});
    let added = app.rest("POST", &format!("/api/v1/visits/{mdtrt_id}/lines"), None, &sign("l1"), Some(lines)).await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.body["lines"][1]["first_selfpay"], json!("10.00"));
    let path = format!("/api/v1/visits/{mdtrt_id}/settlement");
    let dry = app
        .rest(
            "POST",
            &path,
            None,
            &signed_headers(TERTIARY),
            Some(json!({"psn_no": psn("张伟"), "use_account": true, "dry_run": true})),
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(dry.body["amounts"]["account_current_year"], json!("170.00"));
    let no_key = app
        .rest("POST", &path, None, &signed_headers(TERTIARY), Some(json!({"psn_no": psn("张伟"), "use_account": true})))
        .await;
    assert_eq!(no_key.status, 400);
    let settle = json!({"psn_no": psn("张伟"), "use_account": true, "medfee": "170.00"});
    let first = app.rest("POST", &path, None, &sign("s1"), Some(settle.clone())).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = app.rest("POST", &path, None, &sign("s1"), Some(settle)).await;
    assert_eq!((again.status, &again.body), (200, &first.body), "a retry returns the stored response");
    let changed =
        app.rest("POST", &path, None, &sign("s1"), Some(json!({"psn_no": psn("张伟"), "use_account": false}))).await;
    assert_eq!(changed.status, 409);
    let setl_id = first.body["setl_id"].as_str().unwrap().to_string();
    let cancel = app
        .rest(
            "POST",
            &format!("/api/v1/settlements/{setl_id}/cancel"),
            None,
            &sign("c1"),
            Some(json!({"psn_no": psn("张伟")})),
        )
        .await;
    assert_eq!(cancel.status, 201, "{}", cancel.body);
    assert_eq!(cancel.body["amounts"]["medfee"], json!("-170.00"));
    assert_eq!(cancel.body["cancelled"], json!(setl_id));
    assert_eq!(count(&app, "settlements").await, 2);
    let person = app.rest("GET", "/api/v1/visits", None, &[], None).await;
    assert_eq!(person.status, 405, "the collection only takes POST");
}

#[tokio::test]
async fn the_monthly_allocation_credits_the_seed_amounts_once() {
    let app = spawn_app().await;
    let token = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let month = json!({"month": last_month(&app)});
    let person = app.person_login("张伟").await;
    let refused = app.rest("POST", "/api/v1/allocations", Some(&person), &[], Some(month.clone())).await;
    assert_eq!(refused.status, 403);
    let bad = app.rest("POST", "/api/v1/allocations", Some(&token), &[], Some(json!({"month": "2026-13"}))).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let first = app.rest("POST", "/api/v1/allocations", Some(&token), &[], Some(month.clone())).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // 张伟 160 (2% of 8,000), 李秀英 100, 王强 15, 陈军 120, 赵敏 100, 孙丽 180; 周涛's employer
    // owes the month (the demo's arrears), 刘芳 has no account.
    assert_eq!(first.body["credited"], json!(6));
    assert_eq!(first.body["amount"], json!("675.00"));
    assert_eq!(first.body["contribution_unpaid"], json!(1), "{}", first.body);
    assert_eq!(first.body["skipped"][0]["psn_no"], json!(psn("周涛").to_string()), "{}", first.body);
    let again = app.rest("POST", "/api/v1/allocations", Some(&token), &[], Some(month)).await;
    assert_eq!((again.body["credited"].clone(), again.body["already_credited"].clone()), (json!(0), json!(6)));
    let account = app.rest("GET", &format!("/api/v1/persons/{}/account", psn("张伟")), Some(&token), &[], None).await;
    assert_eq!(account.body["balance"], json!("1160.00"));
    let ledger = app.rest("GET", "/api/v1/ledger/verify", Some(&token), &[], None).await;
    assert_eq!((ledger.body["balanced"].clone(), ledger.body["replay_matches"].clone()), (json!(true), json!(true)));
}

#[tokio::test]
async fn the_year_end_rolls_accounts_over_once_and_only_for_the_year_just_ended() {
    let app = spawn_app().await;
    let token = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let this_year = app.store.now().date().year();
    let early = app.rest("POST", "/api/v1/year-ends", Some(&token), &[], Some(json!({"year": this_year}))).await;
    assert_eq!(early.status, 422, "{}", early.body);
    let today = app.store.now().date();
    let next_year = yibao_domain::Date::new(this_year + 1, 1, 2).unwrap();
    app.advance_days(next_year.days_since_epoch() - today.days_since_epoch());
    let person = app.person_login("张伟").await;
    let refused = app.rest("POST", "/api/v1/year-ends", Some(&person), &[], Some(json!({"year": this_year}))).await;
    assert_eq!(refused.status, 403);
    for bad in [json!({"year": "2026"}), json!({"year": 2026, "extra": 1}), json!({})] {
        let reply = app.rest("POST", "/api/v1/year-ends", Some(&token), &[], Some(bad.clone())).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
    let older = app.rest("POST", "/api/v1/year-ends", Some(&token), &[], Some(json!({"year": this_year - 1}))).await;
    assert_eq!(older.status, 422, "{}", older.body);
    let closed = app.rest("POST", "/api/v1/year-ends", Some(&token), &[], Some(json!({"year": this_year}))).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    // Demo balances 1000 + 2000 + 45 + 500 + 300 + 800 + 200; 刘芳 has no personal account.
    assert_eq!((closed.body["rolled_over"].clone(), closed.body["amount"].clone()), (json!(7), json!("4845.00")));
    let again = app.rest("POST", "/api/v1/year-ends", Some(&token), &[], Some(json!({"year": this_year}))).await;
    assert_eq!((again.body["rolled_over"].clone(), again.body["already_rolled_over"].clone()), (json!(0), json!(7)));
    let account = app.rest("GET", &format!("/api/v1/persons/{}/account", psn("张伟")), Some(&token), &[], None).await;
    assert_eq!(account.body["balance"], json!("1000.00"), "{}", account.body);
    assert_eq!(account.body["prior_years"], json!("1000.00"), "{}", account.body);
}

#[tokio::test]
async fn a_month_without_its_contribution_is_withheld_until_the_arrears_are_paid() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    // The month ahead of today is refused; this month too, until it ends.
    let this_month = app.store.now().date().year_month();
    for month in [this_month.next(), this_month] {
        let early =
            app.rest("POST", "/api/v1/allocations", Some(&token), &[], Some(json!({"month": month.to_string()}))).await;
        assert_eq!(early.status, 422, "{month}: {}", early.body);
    }
    // Over a year on, beyond the months the demo paid (up to eleven after this one): the
    // employees are skipped.
    let today = app.store.now().date();
    let mut target = this_month;
    for _ in 0..14 {
        target = target.next();
    }
    app.advance_days(target.first_day().days_since_epoch() - today.days_since_epoch() + 1);
    let month = target.previous().to_string();
    let run = app.rest("POST", "/api/v1/allocations", Some(&token), &[], Some(json!({"month": month}))).await;
    assert_eq!(run.status, 200, "{}", run.body);
    // 李秀英 (retiree, 100 from the pool) only; the six employees 张伟, 王强, 陈军, 赵敏, 孙丽
    // and 周涛 withheld; 刘芳 has no personal account.
    assert_eq!((run.body["credited"].clone(), run.body["amount"].clone()), (json!(1), json!("100.00")), "{}", run.body);
    assert_eq!(run.body["contribution_unpaid"], json!(6), "{}", run.body);
    let skipped: Vec<(String, String)> = run.body["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["psn_no"].as_str().unwrap().to_string(), s["reason"].as_str().unwrap().to_string()))
        .collect();
    assert!(skipped.contains(&(psn("张伟").to_string(), "contribution-unpaid".to_string())), "{}", run.body);
    let balance = |name: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            let path = format!("/api/v1/persons/{}/account", psn(name));
            app.rest("GET", &path, Some(&token), &[], None).await.body["balance"].clone()
        }
    };
    assert_eq!(balance("张伟").await, json!("1000.00"));
    // The employer pays the arrears: the month is credited at once, and only once, on the base
    // declared for it (赵敏: 6,000 that month, 5,000 registered).
    let arrears = json!({"employer": "E33010000001", "month": month,
        "persons": [{"psn_no": psn("张伟")}, {"psn_no": psn("赵敏"), "base": "6000.00"}]});
    let paid = app.rest("POST", "/api/v1/contributions", Some(&token), &[], Some(arrears.clone())).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(
        paid.body["arrears_credited"],
        json!([
            {"psn_no": psn("张伟").to_string(), "month": month, "amount": "160.00"},
            {"psn_no": psn("赵敏").to_string(), "month": month, "amount": "120.00"},
        ])
    );
    assert_eq!(balance("张伟").await, json!("1160.00"));
    let again = app.rest("POST", "/api/v1/contributions", Some(&token), &[], Some(arrears)).await;
    assert_eq!(again.body["arrears_credited"], json!([]), "{}", again.body);
    let rerun = app.rest("POST", "/api/v1/allocations", Some(&token), &[], Some(json!({"month": month}))).await;
    assert_eq!(
        (rerun.body["credited"].clone(), rerun.body["already_credited"].clone()),
        (json!(0), json!(3)),
        "{}",
        rerun.body
    );
    assert_eq!(balance("张伟").await, json!("1160.00"));
    let ledger = app.rest("GET", "/api/v1/ledger/verify", Some(&token), &[], None).await;
    assert_eq!((ledger.body["balanced"].clone(), ledger.body["replay_matches"].clone()), (json!(true), json!(true)));
}

#[tokio::test]
async fn contributions_are_paid_once_and_listed_for_the_person() {
    let app = spawn_app().await;
    let token = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    // The demo paid its employees' months up to eleven after this one: the twelfth is ahead.
    let mut ahead = app.store.now().date().year_month();
    for _ in 0..12 {
        ahead = ahead.next();
    }
    let month = ahead.to_string();
    let year = app.store.now().date().year();
    let declaration = json!({"employer": "E33010000001", "month": month, "persons": [{"psn_no": psn("张伟"), "base": "9000.00"}, {"psn_no": psn("赵敏")}]});
    let paid = app.rest("POST", "/api/v1/contributions", Some(&token), &[], Some(declaration.clone())).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.body["paid"][0]["pooled"], json!("810.00"));
    assert_eq!(paid.body["paid"][0]["employee"], json!("180.00"));
    let again = app.rest("POST", "/api/v1/contributions", Some(&token), &[], Some(declaration)).await;
    assert_eq!((again.body["total"].clone(), again.body["already_paid"].as_array().unwrap().len()), (json!("0.00"), 2));
    // The demo paid 刘芳's current and next years; the year before is a back payment.
    let resident = json!({"year": year - 1, "persons": [{"psn_no": psn("刘芳")}]});
    let paid = app.rest("POST", "/api/v1/contributions", Some(&token), &[], Some(resident)).await;
    assert_eq!(paid.body["total"], json!("400.00"), "{}", paid.body);

    let before = count(&app, "transfers").await;
    for (bad, status) in [
        (json!({"month": month, "year": year, "persons": [{"psn_no": psn("王强"), "base": "5000"}]}), 400),
        (json!({"month": month, "persons": []}), 400),
        (json!({"month": month, "persons": [{"psn_no": psn("王强"), "base": "5000元"}]}), 400),
        (json!({"month": month, "persons": [{"psn_no": psn("李秀英")}]}), 422),
        (json!({"employer": "E33020000001", "month": month, "persons": [{"psn_no": psn("张伟")}]}), 422),
        (json!({"month": month, "persons": [{"psn_no": "3301009999999999"}]}), 404),
    ] {
        let reply = app.rest("POST", "/api/v1/contributions", Some(&token), &[], Some(bad.clone())).await;
        assert_eq!(reply.status, status, "{bad}: {}", reply.body);
    }
    assert_eq!(count(&app, "transfers").await, before);

    let person = app.person_login("张伟").await;
    let own =
        app.rest("GET", &format!("/api/v1/persons/{}/contributions", psn("张伟")), Some(&person), &[], None).await;
    assert_eq!(own.status, 200, "{}", own.body);
    let rows = own.body["contributions"].as_array().unwrap();
    // The 24 months the demo paid on the registered base (8,000: 880 a month), then this one.
    assert_eq!(rows.len(), 25, "{}", own.body);
    assert!(rows[..24].iter().all(|row| row["total"] == json!("880.00")), "{}", own.body);
    assert_eq!((rows[24]["period"].clone(), rows[24]["total"].clone()), (json!(month), json!("990.00")));
    let other =
        app.rest("GET", &format!("/api/v1/persons/{}/contributions", psn("赵敏")), Some(&person), &[], None).await;
    assert_eq!(other.status, 403);
}

#[tokio::test]
async fn an_operator_finds_a_person_by_id_number_person_number_name_or_card_and_the_search_is_audited() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let zhang = psn("张伟").to_string();
    let find = |q: String| {
        let app = &app;
        let token = token.clone();
        async move { app.rest("GET", &format!("/api/v1/persons?q={q}"), Some(&token), &[], None).await }
    };
    for q in [id_number("张伟").to_string(), zhang.clone(), "%E5%BC%A0%E4%BC%9F".to_string(), "A10000001".to_string()]
    {
        let found = find(q.clone()).await;
        assert_eq!(found.status, 200, "{q}: {}", found.body);
        assert_eq!(found.body["total"], json!(1), "{q}: {}", found.body);
        let person = &found.body["persons"][0];
        assert_eq!((person["psn_no"].as_str(), person["name"].as_str()), (Some(zhang.as_str()), Some("张伟")));
        assert_eq!(person["id_number"], json!("330102********1236"), "masked in results");
    }
    // Nobody by that name, or an ID number nobody holds: an empty page, not an error.
    let nobody = find("%E6%97%A0%E5%90%8D%E6%B0%8F".into()).await;
    assert_eq!((nobody.status, nobody.body["total"].clone()), (200, json!(0)));
    // The filters combine: 张伟 is insured in 330100, not in 330200.
    let elsewhere = find(format!("{zhang}&admdvs=330200")).await;
    assert_eq!(elsewhere.body["total"], json!(0), "{}", elsewhere.body);
    for bad in ["", "%20%20", &"x".repeat(41)] {
        let refused = find(bad.to_string()).await;
        assert_eq!(refused.status, 400, "{bad:?}: {}", refused.body);
    }
    // The last page there can be is an empty page, not an overflow (found by schemathesis).
    for path in [
        "/api/v1/persons?page=18446744073709551615&page_size=100",
        &format!("/api/v1/persons/{zhang}/settlements?page=18446744073709551615"),
    ] {
        let far = app.rest("GET", path, Some(&token), &[], None).await;
        assert_eq!(far.status, 200, "{path}: {}", far.body);
    }
    let anonymous = app.rest("GET", &format!("/api/v1/persons?q={zhang}"), None, &[], None).await;
    assert_eq!(anonymous.status, 401);
    let institution =
        app.rest("GET", &format!("/api/v1/persons?q={zhang}"), None, &signed_headers(TERTIARY), None).await;
    assert_eq!(institution.status, 403, "{}", institution.body);
    // The search by ID number is in the audit log, the number masked there too.
    let audit = app.rest("GET", "/api/v1/audit?subject=330102********1236", Some(&token), &[], None).await;
    let entries = audit.body["entries"].as_array().cloned().unwrap_or_default();
    assert!(
        entries.iter().any(|e| e["action"] == json!("search-persons") && e["actor"].as_str().is_some_and(|a| a.contains("admin"))),
        "{}",
        audit.body
    );
}

#[tokio::test]
async fn a_statement_lists_every_movement_with_a_running_balance_ending_at_the_stored_balance() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    // A payment from the account, a cancelled one, and a month's credit.
    let visit = register(&app, SECONDARY, "王强", "11").await;
    app.call(SECONDARY, "2204", json!({"feedetail": [fee_line("1", &visit, psn("王强"), "DEMO-A-001", "30", "1")]}))
        .await
        .ok();
    let paid = app.call(SECONDARY, "2207", json!({"data": presettle_data("王强", &visit, "30", true)})).await;
    assert_eq!(money(&paid.ok()["setlinfo"]["acct_pay"]), "30".parse().unwrap());
    let visit = register(&app, TERTIARY, "张伟", "11").await;
    app.call(TERTIARY, "2204", json!({"feedetail": [fee_line("1", &visit, psn("张伟"), "DEMO-A-001", "50", "1")]}))
        .await
        .ok();
    let settled = app.call(TERTIARY, "2207", json!({"data": presettle_data("张伟", &visit, "50", true)})).await;
    let setl_id = settled.ok()["setlinfo"]["setl_id"].as_str().unwrap().to_string();
    app.call(TERTIARY, "2208", json!({"data": {"setl_id": setl_id, "mdtrt_id": visit, "psn_no": psn("张伟")}}))
        .await
        .ok();
    let month =
        app.rest("POST", "/api/v1/allocations", Some(&token), &[], Some(json!({"month": last_month(&app)}))).await;
    assert_eq!(month.status, 200, "{}", month.body);

    for name in ["张伟", "李秀英", "王强", "刘芳", "陈军", "赵敏", "孙丽", "周涛"] {
        let path = format!("/api/v1/persons/{}/account", psn(name));
        let stored = app.rest("GET", &path, Some(&token), &[], None).await.body["balance"].clone();
        let statement = app.rest("GET", &format!("{path}/statement"), Some(&token), &[], None).await;
        assert_eq!(statement.status, 200, "{name}: {}", statement.body);
        assert_eq!(statement.body["closing_balance"], stored, "{name}: {}", statement.body);
        let entries = statement.body["entries"].as_array().unwrap().clone();
        let mut running = yuan(&statement.body["opening_balance"]);
        for entry in &entries {
            running += yuan(&entry["amount"]);
            assert_eq!(yuan(&entry["balance"]), running, "{name}: {entry}");
            assert_eq!(yuan(&entry["amount"]), yuan(&entry["current_year"]) + yuan(&entry["prior_years"]));
        }
        if name == "张伟" {
            let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
            assert_eq!(kinds, ["opening", "settlement", "settlement-cancel", "allocation"], "{}", statement.body);
            assert_eq!(entries[1]["amount"], json!("-50.00"));
            assert_eq!(entries[2]["amount"], json!("50.00"));
        }
    }
    // A period: the balance before it, then only its movements; the two halves join up.
    let path = format!("/api/v1/persons/{}/account/statement", psn("王强"));
    let today = app.store.now().date();
    let tomorrow = today.plus_days(1);
    let whole = app.rest("GET", &path, Some(&token), &[], None).await;
    let later = app.rest("GET", &format!("{path}?from={tomorrow}"), Some(&token), &[], None).await;
    assert_eq!(
        (later.body["opening_balance"].clone(), later.body["entries"].as_array().map(Vec::len)),
        (whole.body["closing_balance"].clone(), Some(0))
    );
    let until_yesterday = app.rest("GET", &format!("{path}?to={}", today.plus_days(-1)), Some(&token), &[], None).await;
    assert_eq!(until_yesterday.status, 200, "{}", until_yesterday.body);
    let backwards =
        app.rest("GET", &format!("{path}?from={today}&to={}", today.plus_days(-1)), Some(&token), &[], None).await;
    assert_eq!(backwards.status, 400);
    let bad = app.rest("GET", &format!("{path}?from=2026-13-01"), Some(&token), &[], None).await;
    assert_eq!(bad.status, 400);

    // Its holder reads it; another person, an institution and nobody do not.
    let own = app.person_login("王强").await;
    assert_eq!(app.rest("GET", &path, Some(&own), &[], None).await.status, 200);
    let other = app.person_login("张伟").await;
    assert_eq!(app.rest("GET", &path, Some(&other), &[], None).await.status, 403);
    assert_eq!(app.rest("GET", &path, None, &signed_headers(SECONDARY), None).await.status, 403);
    assert_eq!(app.rest("GET", &path, None, &[], None).await.status, 401);
}

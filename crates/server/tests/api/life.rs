//! The agency records a person's life events over REST; the national interface shows them:
//! 1101's status and type, 2001's reason, a refused visit naming the event.

use serde_json::{Value, json};

use crate::helpers::*;

async fn admin(app: &TestApp) -> String {
    app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await
}

#[tokio::test]
async fn life_events_change_what_the_national_interface_answers_and_are_listed_once() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let today = app.store.now().date().to_string();
    let path = |name: &str| format!("/api/v1/persons/{}/life-events", psn(name));

    // Only an operator records; the person and institutions may not.
    let person = app.person_login("张伟").await;
    let retire = json!({"kind": "retirement", "effective": today, "reason": "达到法定退休年龄"});
    let refused = app.rest("POST", &path("张伟"), Some(&person), &[], Some(retire.clone())).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let hospital = app.rest("POST", &path("张伟"), None, &signed_headers(TERTIARY), Some(retire.clone())).await;
    assert_eq!(hospital.status, 403, "{}", hospital.body);

    let before = app.rest("GET", "/api/v1/audit?limit=500", Some(&token), &[], None).await.body["entries"]
        .as_array()
        .map_or(0, Vec::len);
    let first = app.rest("POST", &path("张伟"), Some(&token), &[], Some(retire.clone())).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!((first.body["kind"].clone(), first.body["seq"].clone()), (json!("retirement"), json!(1)));
    assert_eq!(
        (first.body["before"]["psn_type"].clone(), first.body["after"]["psn_type"].clone()),
        (json!("1101"), json!("1201"))
    );
    let again = app.rest("POST", &path("张伟"), Some(&token), &[], Some(retire)).await;
    assert_eq!(
        (again.status, again.body["seq"].clone()),
        (201, json!(1)),
        "a retry answers the same event: {}",
        again.body
    );
    let audit = app.rest("GET", "/api/v1/audit?limit=500", Some(&token), &[], None).await;
    let entries = audit.body["entries"].as_array().unwrap();
    assert!(entries.len() > before);
    assert!(
        entries.iter().any(|e| e["action"] == json!("life-event/retirement")
            && e["reason"].as_str().unwrap().contains("达到法定退休年龄")),
        "{}",
        audit.body
    );

    // The person sees their own history; 1101 shows the retiree.
    let own = app.rest("GET", &path("张伟"), Some(&person), &[], None).await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["events"].as_array().unwrap().len(), 1, "{}", own.body);
    let other = app.rest("GET", &path("王强"), Some(&person), &[], None).await;
    assert_eq!(other.status, 403);
    let identified = app
        .call(TERTIARY, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟")}}))
        .await;
    assert_eq!(identified.ok()["insuinfo"][0]["psn_type"], json!("1201"), "{}", identified.body);

    // A death: 1101 says terminated since the day, 2001 says why, 2201 refuses by name.
    let death = json!({"kind": "death", "effective": today, "reason": "死亡证明"});
    let died = app.rest("POST", &path("王强"), Some(&token), &[], Some(death)).await;
    assert_eq!(died.status, 201, "{}", died.body);
    let identified = app
        .call(TERTIARY, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("王强")}}))
        .await;
    let insuinfo = identified.ok()["insuinfo"][0].clone();
    assert_eq!((insuinfo["psn_insu_stas"].clone(), insuinfo["paus_insu_date"].clone()), (json!("4"), json!(today)));
    let check = json!({"data": {"psn_no": psn("王强"), "insutype": "310", "med_type": "11", "begntime": format!("{today} 09:00:00")}});
    let eligibility = app.call(TERTIARY, "2001", check).await;
    let info = eligibility.ok()["trtinfo"][0].clone();
    assert_eq!(info["trt_enjymnt_flag"], json!("0"));
    assert!(info.to_string().contains("死亡"), "{info}");
    let visit = app
        .call(
            TERTIARY,
            "2201",
            json!({"data": {"psn_no": psn("王强"), "insutype": "310", "begntime": format!("{today} 09:30:00"),
                "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("王强"), "ipt_otp_no": "MZ77"}}),
        )
        .await;
    assert!(visit.refused().contains("死亡"), "{}", visit.body);

    // Bad input is a clear 400 or 422, and changes nothing.
    let tomorrow = app.store.now().date().plus_days(1).to_string();
    for (bad, status) in [
        (json!({"kind": "wedding", "effective": today, "reason": "x"}), 400),
        (json!({"kind": "suspension", "effective": tomorrow, "reason": "失业"}), 400),
        (json!({"kind": "employer-change", "effective": today, "reason": "换单位"}), 400),
        (json!({"kind": "suspension", "effective": today, "reason": "失业", "base": "100"}), 400),
        (json!({"kind": "suspension", "effective": today, "reason": "   "}), 400),
        (json!({"kind": "base-change", "effective": today, "reason": "调整", "base": "八千"}), 400),
        (json!({"kind": "suspension", "effective": "2026-02-30", "reason": "失业"}), 400),
        (json!({"kind": "resumption", "effective": today, "reason": "未暂停"}), 422),
        (json!({"kind": "employer-change", "effective": today, "reason": "换单位", "employer": "E404"}), 404),
    ] {
        let reply = app.rest("POST", &path("赵敏"), Some(&token), &[], Some(bad.clone())).await;
        assert_eq!(reply.status, status, "{bad}: {}", reply.body);
    }
    let unknown = app
        .rest(
            "POST",
            "/api/v1/persons/3301009999999999/life-events",
            Some(&token),
            &[],
            Some(json!({"kind": "death", "effective": today, "reason": "x"})),
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let zhao = app.rest("GET", &path("赵敏"), Some(&token), &[], None).await;
    assert_eq!((zhao.body["events"].clone(), zhao.body["status"].clone()), (json!([]), json!("1")), "{}", zhao.body);
}

#[tokio::test]
async fn a_death_payout_needs_a_second_operator_pays_once_and_shows_in_the_statement() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let reviewer = app.login(json!({"role": "operator", "username": "reviewer", "password": "Demo@2026"})).await;
    let today = app.store.now().date().to_string();
    let zhang = psn("张伟");
    let proposal = json!({"kind": "inheritance", "reason": "继承人申请",
        "payee": {"name": "张小伟", "bank": "中国银行杭州分行", "account": "6217000010001234567"}});
    let payouts = format!("/api/v1/persons/{zhang}/payouts");
    let early = app.rest("POST", &payouts, Some(&admin), &[], Some(proposal.clone())).await;
    assert_eq!(early.status, 422, "no death recorded yet: {}", early.body);
    let death = json!({"kind": "death", "effective": today, "reason": "死亡证明"});
    let died = app.rest("POST", &format!("/api/v1/persons/{zhang}/life-events"), Some(&admin), &[], Some(death)).await;
    assert_eq!(died.status, 201, "{}", died.body);
    let proposed = app.rest("POST", &payouts, Some(&admin), &[], Some(proposal.clone())).await;
    assert_eq!(proposed.status, 201, "{}", proposed.body);
    assert_eq!(
        (proposed.body["amount"].clone(), proposed.body["state"].clone()),
        (json!("1000.00"), json!("proposed"))
    );
    let id = proposed.body["id"].as_str().unwrap().to_string();
    let twice = app.rest("POST", &payouts, Some(&admin), &[], Some(proposal)).await;
    assert_eq!(twice.status, 409, "{}", twice.body);

    // The queue lists it; the proposer (without the reviewer role) and a person cannot review.
    let queue = app.rest("GET", "/api/v1/payouts?state=proposed", Some(&admin), &[], None).await;
    assert_eq!(queue.body["payouts"][0]["id"], json!(id), "{}", queue.body);
    let review = format!("/api/v1/payouts/{id}/review");
    let approve = json!({"decision": "approve", "reason": "材料齐全"});
    let own = app.rest("POST", &review, Some(&admin), &[], Some(approve.clone())).await;
    assert_eq!(own.status, 403, "{}", own.body);
    let person = app.person_login("李秀英").await;
    let by_person = app.rest("POST", &review, Some(&person), &[], Some(approve.clone())).await;
    assert_eq!(by_person.status, 403);
    for bad in [
        json!({"decision": "maybe", "reason": "x"}),
        json!({"decision": "approve"}),
        json!({"decision": "approve", "reason": ""}),
    ] {
        let reply = app.rest("POST", &review, Some(&reviewer), &[], Some(bad.clone())).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
    let missing =
        app.rest("POST", "/api/v1/payouts/PO9999999999/review", Some(&reviewer), &[], Some(approve.clone())).await;
    assert_eq!(missing.status, 404);

    // Approved: paid once, even when approved twice at the same moment.
    let (first, second) = tokio::join!(
        app.rest("POST", &review, Some(&reviewer), &[], Some(approve.clone())),
        app.rest("POST", &review, Some(&reviewer), &[], Some(approve.clone()))
    );
    for reply in [&first, &second] {
        assert_eq!((reply.status, reply.body["state"].clone()), (200, json!("approved")), "{}", reply.body);
    }
    let statement =
        app.rest("GET", &format!("/api/v1/persons/{zhang}/account/statement"), Some(&admin), &[], None).await;
    assert_eq!(statement.body["closing_balance"], json!("0.00"), "{}", statement.body);
    let kinds: Vec<&str> =
        statement.body["entries"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|kind| **kind == "payout").count(), 1, "{}", statement.body);
    let ledger = app.rest("GET", "/api/v1/ledger/verify", Some(&admin), &[], None).await;
    assert_eq!((ledger.body["balanced"].clone(), ledger.body["replay_matches"].clone()), (json!(true), json!(true)));
    let file = app.rest("GET", "/api/v1/payouts?state=approved&format=csv", Some(&admin), &[], None).await;
    let file = file.body.as_str().unwrap().to_string();
    assert!(file.contains(&format!("{id},{zhang},inheritance,1000.00,张小伟")), "{file}");

    // Another person's payouts are closed to a person.
    let heir_view = app.rest("GET", &payouts, Some(&person), &[], None).await;
    assert_eq!(heir_view.status, 403);
}

#[tokio::test]
async fn a_reimbursement_is_priced_as_the_real_time_settlement_paid_once_and_never_for_a_settled_bill() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let reviewer = app.login(json!({"role": "operator", "username": "reviewer", "password": "Demo@2026"})).await;
    let today = app.store.now().date().to_string();
    let items = json!([
        {"code": "DEMO-A-001", "price": "50", "quantity": "1", "amount": "50.00"},
        {"code": "DEMO-B-001", "price": "100", "quantity": "1", "amount": "100.00"},
        {"code": "DEMO-C-001", "price": "20", "quantity": "1", "amount": "20.00"}]);
    let claim = |institution: serde_json::Value| {
        json!({"psn_no": psn("张伟"), "institution": institution, "med_type": "11", "begin": today, "end": today,
            "cause": "emergency", "lines": items, "use_account": true, "note": "外地急诊，未联网",
            "payee": {"name": "张伟", "bank": "中国银行杭州分行", "account": "6217000010009876543"}})
    };
    // A clinic that is not networked: policy.md's first worked example, to the fen.
    let clinic = json!({"name": "某街道诊所", "level": "tertiary", "admdvs": "330100"});
    let submitted = app.rest("POST", "/api/v1/reimbursements", Some(&admin), &[], Some(claim(clinic.clone()))).await;
    assert_eq!(submitted.status, 201, "{}", submitted.body);
    let amounts = submitted.body["amounts"].clone();
    assert_eq!(
        (amounts["medfee"].clone(), amounts["fund"].clone(), amounts["account"].clone(), amounts["cash"].clone()),
        (json!("170.00"), json!("0.00"), json!("170.00"), json!("0.00")),
        "{}",
        submitted.body
    );
    assert_eq!((amounts["first_selfpay"].clone(), amounts["fully_selfpaid"].clone()), (json!("10.00"), json!("20.00")));
    let id = submitted.body["id"].as_str().unwrap().to_string();
    let again = app.rest("POST", "/api/v1/reimbursements", Some(&admin), &[], Some(claim(clinic))).await;
    assert_eq!(again.status, 409, "the same bill twice: {}", again.body);
    // The holder sees it; another person does not (it does not exist for them).
    let holder = app.person_login("张伟").await;
    let own = app.rest("GET", &format!("/api/v1/reimbursements/{id}"), Some(&holder), &[], None).await;
    assert_eq!(own.status, 200, "{}", own.body);
    let stranger = app.person_login("李秀英").await;
    let hidden = app.rest("GET", &format!("/api/v1/reimbursements/{id}"), Some(&stranger), &[], None).await;
    assert_eq!(hidden.status, 404);

    let review = format!("/api/v1/reimbursements/{id}/review");
    let approve = json!({"decision": "approve", "reason": "票据齐全"});
    let by_clerk = app.rest("POST", &review, Some(&admin), &[], Some(approve.clone())).await;
    assert_eq!(by_clerk.status, 403);
    let (first, second) = tokio::join!(
        app.rest("POST", &review, Some(&reviewer), &[], Some(approve.clone())),
        app.rest("POST", &review, Some(&reviewer), &[], Some(approve.clone()))
    );
    for reply in [&first, &second] {
        assert_eq!((reply.status, reply.body["paid"].clone()), (200, json!("170.00")), "{}", reply.body);
    }
    let account = app.rest("GET", &format!("/api/v1/persons/{}/account", psn("张伟")), Some(&admin), &[], None).await;
    assert_eq!(account.body["balance"], json!("830.00"), "paid once: {}", account.body);

    // A bill settled in real time at the hospital cannot also be reimbursed.
    let sign = |key: &str| {
        let mut headers = signed_headers(TERTIARY);
        headers.push(("idempotency-key".into(), key.into()));
        headers
    };
    let visit = app
        .rest("POST", "/api/v1/visits", None, &sign("v1"), Some(json!({"psn_no": psn("张伟"), "kind": "outpatient", "insutype": "310",
            "begin": format!("{today} 08:00:00"), "certificate": {"type": "02", "number": id_number("张伟")}, "his_no": "MZ9", "med_type": "11"})))
        .await;
    let mdtrt_id = visit.body["mdtrt_id"].as_str().unwrap().to_string();
    let lines = json!({"psn_no": psn("张伟"), "lines": [
        {"serial": "1", "code": "DEMO-A-001", "price": "50", "quantity": "1", "amount": "50.00"},
        {"serial": "2", "code": "DEMO-B-001", "price": "100", "quantity": "1", "amount": "100.00"},
        {"serial": "3", "code": "DEMO-C-001", "price": "20", "quantity": "1", "amount": "20.00"}]});
    app.rest("POST", &format!("/api/v1/visits/{mdtrt_id}/lines"), None, &sign("l1"), Some(lines)).await;
    let settled = app
        .rest(
            "POST",
            &format!("/api/v1/visits/{mdtrt_id}/settlement"),
            None,
            &sign("s1"),
            Some(json!({"psn_no": psn("张伟"), "use_account": true})),
        )
        .await;
    assert_eq!(settled.status, 201, "{}", settled.body);
    let duplicate =
        app.rest("POST", "/api/v1/reimbursements", Some(&admin), &[], Some(claim(json!({"code": TERTIARY})))).await;
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);

    // The other way round: a bill claimed at the agency is not settled in real time too.
    let mut wang = claim(json!({"code": TERTIARY}));
    wang["psn_no"] = json!(psn("王强"));
    wang["payee"]["name"] = json!("王强");
    let claimed = app.rest("POST", "/api/v1/reimbursements", Some(&admin), &[], Some(wang)).await;
    assert_eq!(claimed.status, 201, "{}", claimed.body);
    let visit = app
        .rest("POST", "/api/v1/visits", None, &sign("v2"), Some(json!({"psn_no": psn("王强"), "kind": "outpatient", "insutype": "310",
            "begin": format!("{today} 09:00:00"), "certificate": {"type": "02", "number": id_number("王强")}, "his_no": "MZ10", "med_type": "11"})))
        .await;
    let mdtrt_id = visit.body["mdtrt_id"].as_str().unwrap().to_string();
    let mut lines_again = json!({"psn_no": psn("王强"), "lines": [
        {"serial": "1", "code": "DEMO-A-001", "price": "50", "quantity": "1", "amount": "50.00"},
        {"serial": "2", "code": "DEMO-B-001", "price": "100", "quantity": "1", "amount": "100.00"},
        {"serial": "3", "code": "DEMO-C-001", "price": "20", "quantity": "1", "amount": "20.00"}]});
    lines_again["psn_no"] = json!(psn("王强"));
    app.rest("POST", &format!("/api/v1/visits/{mdtrt_id}/lines"), None, &sign("l2"), Some(lines_again)).await;
    let refused = app
        .rest(
            "POST",
            &format!("/api/v1/visits/{mdtrt_id}/settlement"),
            None,
            &sign("s2"),
            Some(json!({"psn_no": psn("王强"), "use_account": true})),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.to_string().contains(claimed.body["id"].as_str().unwrap()),
        "names the claim: {}",
        refused.body
    );
    let ledger = app.rest("GET", "/api/v1/ledger/verify", Some(&admin), &[], None).await;
    assert_eq!((ledger.body["balanced"].clone(), ledger.body["replay_matches"].clone()), (json!(true), json!(true)));
}

#[tokio::test]
async fn the_agency_registers_special_diseases_and_treatment_elsewhere_and_1101_shows_them() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let today = app.store.now().date();
    let path = format!("/api/v1/persons/{}/registrations", psn("张伟"));
    let dialysis = json!({"kind": "special-disease", "code": "M07800", "institution": TERTIARY, "begin": today.to_string(), "reason": "肾透析诊断证明"});
    let person = app.person_login("张伟").await;
    let refused = app.rest("POST", &path, Some(&person), &[], Some(dialysis.clone())).await;
    assert_eq!(refused.status, 403);
    let disease = app.rest("POST", &path, Some(&admin), &[], Some(dialysis.clone())).await;
    assert_eq!(disease.status, 201, "{}", disease.body);
    let overlap = app.rest("POST", &path, Some(&admin), &[], Some(dialysis)).await;
    assert_eq!(overlap.status, 409, "{}", overlap.body);
    let end = today.plus_days(365).to_string();
    let shanghai = json!({"kind": "elsewhere", "region": "310100", "type": "resettled", "begin": today.to_string(), "end": end, "reason": "随子女异地安置"});
    let elsewhere = app.rest("POST", &path, Some(&admin), &[], Some(shanghai)).await;
    assert_eq!(elsewhere.status, 201, "{}", elsewhere.body);
    for (bad, status) in [
        (
            json!({"kind": "elsewhere", "region": "330100", "type": "resettled", "begin": today.to_string(), "end": today.to_string(), "reason": "本地"}),
            400,
        ),
        (
            json!({"kind": "elsewhere", "region": "310100", "type": "holiday", "begin": today.to_string(), "end": today.to_string(), "reason": "x"}),
            400,
        ),
        (
            json!({"kind": "special-disease", "code": "X999", "institution": TERTIARY, "begin": today.to_string(), "reason": "x"}),
            422,
        ),
        (
            json!({"kind": "special-disease", "code": "M00500", "institution": "H99999999999", "begin": today.to_string(), "reason": "x"}),
            404,
        ),
        (
            json!({"kind": "special-disease", "code": "M00500", "region": "310100", "institution": TERTIARY, "begin": today.to_string(), "reason": "x"}),
            400,
        ),
    ] {
        let reply = app.rest("POST", &path, Some(&admin), &[], Some(bad.clone())).await;
        assert_eq!(reply.status, status, "{bad}: {}", reply.body);
    }

    // 1101 answers both; 2001 finds the disease registered.
    let identified = app
        .call(TERTIARY, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟")}}))
        .await;
    let registered = identified.ok()["dclainfo"].as_array().unwrap().clone();
    let kinds: Vec<&str> = registered.iter().map(|r| r["biz_appy_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["01", "08"], "{registered:?}");
    assert_eq!(registered[1]["mdtrtarea_admvs"], json!("310100"));
    let own = app.rest("GET", &path, Some(&person), &[], None).await;
    assert_eq!(
        (own.body["special_diseases"].as_array().unwrap().len(), own.body["elsewhere"].as_array().unwrap().len()),
        (1, 1)
    );

    // Revoked at the agency (even the hospital's own kind), no longer in force.
    for serial in [disease.body["serial"].as_str().unwrap(), elsewhere.body["serial"].as_str().unwrap()] {
        let revoke = format!("{path}/{serial}/revoke");
        let reply = app.rest("POST", &revoke, Some(&admin), &[], Some(json!({"reason": "病情变化"}))).await;
        assert_eq!((reply.status, reply.body["revoked"].clone()), (200, json!(true)), "{}", reply.body);
    }
    let other = format!(
        "/api/v1/persons/{}/registrations/{}/revoke",
        psn("李秀英"),
        elsewhere.body["serial"].as_str().unwrap()
    );
    let foreign = app.rest("POST", &other, Some(&admin), &[], Some(json!({"reason": "x"}))).await;
    assert_eq!(foreign.status, 404, "a serial of another person: {}", foreign.body);
    let identified = app
        .call(TERTIARY, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟")}}))
        .await;
    assert_eq!(identified.ok()["dclainfo"], json!([]));
}

#[tokio::test]
async fn a_person_disputes_a_settlement_and_the_agency_reverses_it_or_rejects_with_a_reason() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let reviewer = app.login(json!({"role": "operator", "username": "reviewer", "password": "Demo@2026"})).await;
    let holder = app.person_login("张伟").await;
    let zhang = psn("张伟");
    let today = app.store.now().date().to_string();
    // A settlement that used the account: 170.00 out of 1000.00.
    let sign = |key: &str| {
        let mut headers = signed_headers(TERTIARY);
        headers.push(("idempotency-key".into(), key.into()));
        headers
    };
    let visit = app
        .rest("POST", "/api/v1/visits", None, &sign("v1"), Some(json!({"psn_no": zhang, "kind": "outpatient", "insutype": "310",
            "begin": format!("{today} 08:00:00"), "certificate": {"type": "02", "number": id_number("张伟")}, "his_no": "MZ9", "med_type": "11"})))
        .await;
    let mdtrt_id = visit.body["mdtrt_id"].as_str().unwrap().to_string();
    let lines = json!({"psn_no": zhang, "lines": [{"serial": "1", "code": "DEMO-A-001", "price": "170", "quantity": "1", "amount": "170.00"}]});
    app.rest("POST", &format!("/api/v1/visits/{mdtrt_id}/lines"), None, &sign("l1"), Some(lines)).await;
    let settled = app
        .rest(
            "POST",
            &format!("/api/v1/visits/{mdtrt_id}/settlement"),
            None,
            &sign("s1"),
            Some(json!({"psn_no": zhang, "use_account": true})),
        )
        .await;
    assert_eq!(settled.status, 201, "{}", settled.body);
    let statement =
        app.rest("GET", &format!("/api/v1/persons/{zhang}/account/statement"), Some(&holder), &[], None).await;
    let entries = statement.body["entries"].as_array().unwrap().clone();
    let entry = entries.iter().find(|e| e["kind"] == json!("settlement")).unwrap().clone();
    let opening = entries.iter().find(|e| e["kind"] == json!("opening")).unwrap().clone();

    // The holder disputes it; a stranger cannot dispute another's entry.
    let path = format!("/api/v1/persons/{zhang}/disputes");
    let raise = json!({"transfer": entry["transfer"], "reason": "当天未在该院就诊"});
    let stranger = app.person_login("李秀英").await;
    let foreign = app.rest("POST", &path, Some(&stranger), &[], Some(raise.clone())).await;
    assert_eq!(foreign.status, 403);
    let not_mine = app
        .rest("POST", &format!("/api/v1/persons/{}/disputes", psn("李秀英")), Some(&stranger), &[], Some(raise.clone()))
        .await;
    assert_eq!(not_mine.status, 404, "an entry not on her statement: {}", not_mine.body);
    // Raised four times at once (one writer batch, likely): one dispute.
    let (a, b, c, d) = tokio::join!(
        app.rest("POST", &path, Some(&holder), &[], Some(raise.clone())),
        app.rest("POST", &path, Some(&holder), &[], Some(raise.clone())),
        app.rest("POST", &path, Some(&holder), &[], Some(raise.clone())),
        app.rest("POST", &path, Some(&holder), &[], Some(raise.clone()))
    );
    for reply in [&b, &c, &d] {
        assert_eq!(reply.body["id"], a.body["id"], "{}", reply.body);
    }
    let raised = app.rest("POST", &path, Some(&holder), &[], Some(raise.clone())).await;
    assert_eq!((raised.status, raised.body["amount"].clone()), (201, json!("-170.00")), "{}", raised.body);
    let again = app.rest("POST", &path, Some(&holder), &[], Some(raise)).await;
    assert_eq!(again.body["id"], raised.body["id"], "the same entry again answers the open dispute");
    let queue = app.rest("GET", "/api/v1/disputes", Some(&admin), &[], None).await;
    assert_eq!(queue.body["disputes"].as_array().unwrap().len(), 1, "{}", queue.body);

    // Upheld: the settlement is cancelled through its normal path; the money comes back.
    let id = raised.body["id"].as_str().unwrap();
    let resolve = format!("/api/v1/disputes/{id}/resolve");
    let by_person =
        app.rest("POST", &resolve, Some(&holder), &[], Some(json!({"decision": "reverse", "reason": "x"}))).await;
    assert_eq!(by_person.status, 403);
    let no_role =
        app.rest("POST", &resolve, Some(&admin), &[], Some(json!({"decision": "reverse", "reason": "x"}))).await;
    assert_eq!(no_role.status, 403, "only a reviewer resolves: {}", no_role.body);
    let reversed = app
        .rest("POST", &resolve, Some(&reviewer), &[], Some(json!({"decision": "reverse", "reason": "医院确认误刷"})))
        .await;
    assert_eq!((reversed.status, reversed.body["state"].clone()), (200, json!("reversed")), "{}", reversed.body);
    let account = app.rest("GET", &format!("/api/v1/persons/{zhang}/account"), Some(&admin), &[], None).await;
    assert_eq!(account.body["balance"], json!("1000.00"));
    let twice = app
        .rest("POST", &resolve, Some(&reviewer), &[], Some(json!({"decision": "reverse", "reason": "医院确认误刷"})))
        .await;
    assert_eq!(twice.body["reversal"], reversed.body["reversal"], "resolved once");
    let rejected_now =
        app.rest("POST", &resolve, Some(&reviewer), &[], Some(json!({"decision": "reject", "reason": "x"}))).await;
    assert_eq!(rejected_now.status, 409);

    // The opening balance is not a settlement: it is rejected with a reason, not reversed.
    let other = app
        .rest("POST", &path, Some(&holder), &[], Some(json!({"transfer": opening["transfer"], "reason": "余额不对"})))
        .await;
    let other_id = other.body["id"].as_str().unwrap();
    let resolve = format!("/api/v1/disputes/{other_id}/resolve");
    let cannot =
        app.rest("POST", &resolve, Some(&reviewer), &[], Some(json!({"decision": "reverse", "reason": "x"}))).await;
    assert_eq!(cannot.status, 422, "{}", cannot.body);
    let rejected = app
        .rest(
            "POST",
            &resolve,
            Some(&reviewer),
            &[],
            Some(json!({"decision": "reject", "reason": "期初余额由原系统迁入，核对无误"})),
        )
        .await;
    assert_eq!(rejected.body["state"], json!("rejected"));
    let ledger = app.rest("GET", "/api/v1/ledger/verify", Some(&admin), &[], None).await;
    assert_eq!((ledger.body["balanced"].clone(), ledger.body["replay_matches"].clone()), (json!(true), json!(true)));
}

#[tokio::test]
async fn a_transfer_out_gives_a_certificate_with_the_months_paid_and_the_balance_moved() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let reviewer = app.login(json!({"role": "operator", "username": "reviewer", "password": "Demo@2026"})).await;
    let today = app.store.now().date().to_string();
    let zhao = psn("赵敏");
    let certificate = format!("/api/v1/persons/{zhao}/transfer-certificate");
    let none = app.rest("GET", &certificate, Some(&admin), &[], None).await;
    assert_eq!(none.status, 422, "no transfer out yet: {}", none.body);
    let out = json!({"kind": "transfer-out", "effective": today, "reason": "调往上海工作", "region": "310100"});
    let moved = app.rest("POST", &format!("/api/v1/persons/{zhao}/life-events"), Some(&admin), &[], Some(out)).await;
    assert_eq!(moved.status, 201, "{}", moved.body);
    let proposal = json!({"kind": "transfer-out", "reason": "个人账户随转",
        "payee": {"name": "上海市医疗保险事业管理中心", "bank": "中国工商银行上海分行", "account": "1001200000000000001"}});
    let payout = app.rest("POST", &format!("/api/v1/persons/{zhao}/payouts"), Some(&admin), &[], Some(proposal)).await;
    assert_eq!(payout.status, 201, "{}", payout.body);
    let id = payout.body["id"].as_str().unwrap();
    let approve = json!({"decision": "approve", "reason": "转入地已确认"});
    let approved = app.rest("POST", &format!("/api/v1/payouts/{id}/review"), Some(&reviewer), &[], Some(approve)).await;
    assert_eq!(approved.status, 200, "{}", approved.body);

    let document = app.rest("GET", &certificate, Some(&admin), &[], None).await;
    assert_eq!(document.status, 200, "{}", document.body);
    let body = &document.body;
    assert_eq!(
        (body["from_region"]["admdvs"].clone(), body["to_region"]["admdvs"].clone()),
        (json!("330100"), json!("310100"))
    );
    assert_eq!(body["transferred_on"], json!(today));
    // The demo paid the twelve months before this one and this one.
    assert_eq!(body["contribution_months"], json!(13), "{body}");
    assert_eq!(body["account"]["moved"]["amount"], json!("300.00"), "{body}");
    assert_eq!(body["account"]["balance_now"], json!("0.00"));
    assert!(!body["person"]["id_number"].as_str().unwrap().contains("199505056781"), "masked: {body}");
    let pdf = app.rest("GET", &format!("{certificate}?format=pdf"), Some(&admin), &[], None).await;
    assert_eq!(pdf.status, 200);
    assert!(pdf.body.as_str().unwrap().starts_with("%PDF-"));
    let other = app.person_login("张伟").await;
    let foreign = app.rest("GET", &certificate, Some(&other), &[], None).await;
    assert_eq!(foreign.status, 403);
}

#[tokio::test]
async fn notifications_are_written_with_their_causes_and_the_person_reads_them() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let zhang = psn("张伟");
    let today = app.store.now().date().to_string();
    // A settlement of 950.00 from the account (1000.00 → 50.00: below 100, a warning too), then
    // last month's credit.
    let sign = |key: &str| {
        let mut headers = signed_headers(TERTIARY);
        headers.push(("idempotency-key".into(), key.into()));
        headers
    };
    let visit = app
        .rest("POST", "/api/v1/visits", None, &sign("v1"), Some(json!({"psn_no": zhang, "kind": "outpatient", "insutype": "310",
            "begin": format!("{today} 08:00:00"), "certificate": {"type": "02", "number": id_number("张伟")}, "his_no": "MZ9", "med_type": "11"})))
        .await;
    let mdtrt_id = visit.body["mdtrt_id"].as_str().unwrap().to_string();
    let lines = json!({"psn_no": zhang, "lines": [{"serial": "1", "code": "DEMO-A-001", "price": "950", "quantity": "1", "amount": "950.00"}]});
    app.rest("POST", &format!("/api/v1/visits/{mdtrt_id}/lines"), None, &sign("l1"), Some(lines)).await;
    let settled = app
        .rest(
            "POST",
            &format!("/api/v1/visits/{mdtrt_id}/settlement"),
            None,
            &sign("s1"),
            Some(json!({"psn_no": zhang, "use_account": true})),
        )
        .await;
    assert_eq!(settled.status, 201, "{}", settled.body);
    let month =
        app.rest("POST", "/api/v1/allocations", Some(&admin), &[], Some(json!({"month": last_month(&app)}))).await;
    assert_eq!(month.status, 200);

    let holder = app.person_login("张伟").await;
    let path = format!("/api/v1/persons/{zhang}/notifications");
    let inbox = app.rest("GET", &path, Some(&holder), &[], None).await;
    assert_eq!(inbox.status, 200, "{}", inbox.body);
    let mut kinds: Vec<&str> =
        inbox.body["notifications"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["credit", "low-balance", "settlement"], "{}", inbox.body);
    assert_eq!(inbox.body["unread"], json!(3));
    let stranger = app.person_login("李秀英").await;
    assert_eq!(app.rest("GET", &path, Some(&stranger), &[], None).await.status, 403);
    let theirs = app.rest("POST", &format!("{path}/read"), Some(&stranger), &[], Some(json!({}))).await;
    assert_eq!(theirs.status, 403);
    // One of hers by id; an id of nobody's is not found; then all.
    let first = inbox.body["notifications"][0]["id"].as_str().unwrap().to_string();
    let one = app.rest("POST", &format!("{path}/read"), Some(&holder), &[], Some(json!({"ids": [first]}))).await;
    assert_eq!(one.body["marked"], json!(1), "{}", one.body);
    let unknown = app
        .rest("POST", &format!("{path}/read"), Some(&holder), &[], Some(json!({"ids": ["settlement/nothing"]})))
        .await;
    assert_eq!(unknown.status, 404);
    let login =
        browse(&app, "/portal/login", "", Some(&[("id_number", id_number("张伟")), ("password", "Demo@2026")])).await;
    let cookie = login.cookie.expect("a session cookie");
    let page = browse(&app, "/portal/inbox", &cookie, None).await;
    assert!(page.html.contains("个人账户划入") && page.html.contains("【未读】"), "{}", page.html);
    let all = app.rest("POST", &format!("{path}/read"), Some(&holder), &[], None).await;
    assert_eq!(all.body["marked"], json!(2), "{}", all.body);
    let after = app.rest("GET", &format!("{path}?unread=true"), Some(&admin), &[], None).await;
    assert_eq!((after.body["unread"].clone(), after.body["notifications"].clone()), (json!(0), json!([])));
}

#[tokio::test]
async fn a_transfer_in_credits_the_balance_brought_once_and_is_in_the_history() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let today = app.store.now().date().to_string();
    let zhao = psn("赵敏");
    let path = format!("/api/v1/persons/{zhao}/transfer-in");
    let arrival = json!({"from_region": "310100", "certificate_no": "ZY310100000123", "months_paid": 36,
        "balance": "1234.56", "effective": today, "reason": "从上海调入"});
    let (first, second) = tokio::join!(
        app.rest("POST", &path, Some(&admin), &[], Some(arrival.clone())),
        app.rest("POST", &path, Some(&admin), &[], Some(arrival.clone()))
    );
    assert_eq!((first.status, second.status), (201, 201), "{} {}", first.body, second.body);
    assert_eq!(first.body["seq"], second.body["seq"], "one certificate, one event");
    assert_eq!(first.body["kind"], json!("transfer-in"));
    let account = app.rest("GET", &format!("/api/v1/persons/{zhao}/account"), Some(&admin), &[], None).await;
    assert_eq!(
        (account.body["balance"].clone(), account.body["prior_years"].clone()),
        (json!("1534.56"), json!("1234.56")),
        "{}",
        account.body
    );
    for (bad, status) in [
        (
            json!({"from_region": "330100", "certificate_no": "ZY2", "months_paid": 1, "balance": "1", "effective": today, "reason": "x"}),
            400,
        ),
        (
            json!({"from_region": "310100", "certificate_no": "ZY 2", "months_paid": 1, "balance": "1", "effective": today, "reason": "x"}),
            400,
        ),
        (
            json!({"from_region": "310100", "certificate_no": "ZY3", "months_paid": 5000, "balance": "1", "effective": today, "reason": "x"}),
            400,
        ),
        (
            json!({"from_region": "310100", "certificate_no": "ZY4", "months_paid": 1, "balance": "-1", "effective": today, "reason": "x"}),
            400,
        ),
    ] {
        let reply = app.rest("POST", &path, Some(&admin), &[], Some(bad.clone())).await;
        assert_eq!(reply.status, status, "{bad}: {}", reply.body);
    }
    let person = app.person_login("张伟").await;
    assert_eq!(app.rest("POST", &path, Some(&person), &[], Some(arrival)).await.status, 403);
    let ledger = app.rest("GET", "/api/v1/ledger/verify", Some(&admin), &[], None).await;
    assert_eq!((ledger.body["balanced"].clone(), ledger.body["replay_matches"].clone()), (json!(true), json!(true)));
}

#[tokio::test]
async fn the_back_office_routes_refuse_nobody_institutions_and_other_persons() {
    let app = spawn_app().await;
    let zhang = psn("张伟");
    // 王强: neither 张伟 nor 李秀英, whose reimbursement the demo holds.
    let stranger = app.person_login("王强").await;
    let reads = [
        format!("/api/v1/persons/{zhang}/life-events"),
        format!("/api/v1/persons/{zhang}/payouts"),
        format!("/api/v1/persons/{zhang}/reimbursements"),
        format!("/api/v1/persons/{zhang}/registrations"),
        format!("/api/v1/persons/{zhang}/disputes"),
        format!("/api/v1/persons/{zhang}/notifications"),
        format!("/api/v1/persons/{zhang}/transfer-certificate"),
        "/api/v1/payouts".to_string(),
        "/api/v1/reimbursements".to_string(),
        "/api/v1/reimbursements/RB0000000001".to_string(),
        "/api/v1/disputes".to_string(),
    ];
    let writes = [
        (
            format!("/api/v1/persons/{zhang}/life-events"),
            json!({"kind": "death", "effective": "2026-01-01", "reason": "x"}),
        ),
        (
            format!("/api/v1/persons/{zhang}/transfer-in"),
            json!({"from_region": "310100", "certificate_no": "Z1", "months_paid": 1, "balance": "1", "effective": "2026-01-01", "reason": "x"}),
        ),
        (
            format!("/api/v1/persons/{zhang}/payouts"),
            json!({"kind": "premium", "amount": "1", "reason": "x", "payee": {"name": "x", "bank": "x", "account": "123456"}}),
        ),
        (
            format!("/api/v1/persons/{zhang}/registrations"),
            json!({"kind": "elsewhere", "region": "310100", "type": "referral", "begin": "2026-01-01", "end": "2030-01-01", "reason": "x"}),
        ),
        (format!("/api/v1/persons/{zhang}/registrations/YD0000000001/revoke"), json!({"reason": "x"})),
        (format!("/api/v1/persons/{zhang}/disputes"), json!({"transfer": "opening/x", "reason": "x"})),
        (format!("/api/v1/persons/{zhang}/notifications/read"), json!({})),
        ("/api/v1/payouts/PO0000000001/review".to_string(), json!({"decision": "approve", "reason": "x"})),
        ("/api/v1/reimbursements".to_string(), json!({})),
        ("/api/v1/reimbursements/RB0000000001/review".to_string(), json!({"decision": "approve", "reason": "x"})),
        ("/api/v1/reimbursements/RB0000000001/resubmit".to_string(), json!({"note": "x"})),
        ("/api/v1/disputes/DS0000000001/resolve".to_string(), json!({"decision": "reject", "reason": "x"})),
    ];
    // A signature is good for one request (a nonce): each request signs afresh.
    for path in &reads {
        let nobody = app.rest("GET", path, None, &[], None).await;
        assert_eq!(nobody.status, 401, "nobody GET {path}: {}", nobody.body);
        let institution = app.rest("GET", path, None, &signed_headers(TERTIARY), None).await;
        assert_eq!(institution.status, 403, "institution GET {path}: {}", institution.body);
        let other = app.rest("GET", path, Some(&stranger), &[], None).await;
        assert!([403, 404].contains(&other.status), "another person GET {path}: {} {}", other.status, other.body);
    }
    for (path, body) in &writes {
        let nobody = app.rest("POST", path, None, &[], Some(body.clone())).await;
        assert_eq!(nobody.status, 401, "nobody POST {path}: {}", nobody.body);
        let institution = app.rest("POST", path, None, &signed_headers(TERTIARY), Some(body.clone())).await;
        assert_eq!(institution.status, 403, "institution POST {path}: {}", institution.body);
        let other = app.rest("POST", path, Some(&stranger), &[], Some(body.clone())).await;
        assert_eq!(other.status, 403, "another person POST {path}: {}", other.body);
    }
    // Nothing of 张伟's changed.
    let admin = admin(&app).await;
    let events = app.rest("GET", &reads[0], Some(&admin), &[], None).await;
    assert_eq!(events.body["events"], json!([]));
}

/// Issue 16: registrations about to expire get a word to their person, once. The run finds a
/// special disease and a treatment-elsewhere registration ending within 30 days, passes over
/// one ending later and a revoked one, writes nothing again when repeated (a read reminder stays
/// read), and is an operator's to run.
#[tokio::test]
async fn registrations_about_to_expire_are_reminded_once() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let today = app.store.now().date();
    let path = format!("/api/v1/persons/{}/registrations", psn("张伟"));
    let register = |body: Value| {
        let app = &app;
        let (path, admin) = (path.clone(), admin.clone());
        async move {
            let reply = app.rest("POST", &path, Some(&admin), &[], Some(body)).await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            reply.body["serial"].as_str().unwrap().to_string()
        }
    };
    let dialysis = register(json!({"kind": "special-disease", "code": "M07800", "institution": TERTIARY,
        "begin": today.to_string(), "end": today.plus_days(20).to_string(), "reason": "肾透析诊断证明"}))
    .await;
    let shanghai =
        register(json!({"kind": "elsewhere", "region": "310100", "type": "resettled", "begin": today.to_string(),
        "end": today.plus_days(30).to_string(), "reason": "随子女异地安置"}))
        .await;
    register(json!({"kind": "elsewhere", "region": "320100", "type": "referral", "begin": today.to_string(),
        "end": today.plus_days(31).to_string(), "reason": "转诊"}))
    .await;
    let revoked = register(json!({"kind": "special-disease", "code": "M00500", "institution": TERTIARY,
        "begin": today.to_string(), "end": today.plus_days(10).to_string(), "reason": "放疗"}))
    .await;
    let revoke = app
        .rest("POST", &format!("{path}/{revoked}/revoke"), Some(&admin), &[], Some(json!({"reason": "误登记"})))
        .await;
    assert_eq!(revoke.status, 200, "{}", revoke.body);

    let person = app.person_login("张伟").await;
    let refused = app.rest("POST", "/api/v1/reminders", Some(&person), &[], None).await;
    assert_eq!(refused.status, 403);
    let nobody = app.rest("POST", "/api/v1/reminders", None, &[], None).await;
    assert_eq!(nobody.status, 401);
    let far = app.rest("POST", "/api/v1/reminders", Some(&admin), &[], Some(json!({"on": "2000-01-01"}))).await;
    assert_eq!(far.status, 400, "{}", far.body);
    let run = app.rest("POST", "/api/v1/reminders", Some(&admin), &[], None).await;
    assert_eq!((run.status, run.body["sent"].clone()), (200, json!(2)), "{}", run.body);
    let inbox = format!("/api/v1/persons/{}/notifications", psn("张伟"));
    let notes = app.rest("GET", &inbox, Some(&person), &[], None).await;
    let reminders: Vec<Value> = notes.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == json!("registration-expiring"))
        .cloned()
        .collect();
    let ids: Vec<&str> = reminders.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(reminders.len(), 2, "{}", notes.body);
    assert!(ids.iter().any(|id| id.contains(&dialysis)) && ids.iter().any(|id| id.contains(&shanghai)), "{ids:?}");
    let read = app.rest("POST", &format!("{inbox}/read"), Some(&person), &[], Some(json!({"ids": [ids[0]]}))).await;
    assert!(read.status < 300, "{}", read.body);
    let again = app.rest("POST", "/api/v1/reminders", Some(&admin), &[], None).await;
    assert_eq!(again.body["sent"], json!(0), "{}", again.body);
    let notes = app.rest("GET", &inbox, Some(&person), &[], None).await;
    let first =
        notes.body["notifications"].as_array().unwrap().iter().find(|n| n["id"] == json!(ids[0])).unwrap().clone();
    assert!(!first["read_at"].is_null(), "a read reminder stays read: {first}");
}

/// Issue 16: the bank's payment file and its answer. The death payout and the demo's pending
/// reimbursement, once approved, are due at 张伟's and 李秀英's custody bank (BOC); the bank's
/// answer empties the payable once, the file no longer lists them, a line that does not match
/// refuses the whole answer, and the ledger verifies.
#[tokio::test]
async fn the_bank_pays_the_payment_file_once_and_the_payable_empties() {
    let app = spawn_app().await;
    let admin = admin(&app).await;
    let reviewer = app.login(json!({"role": "operator", "username": "reviewer", "password": "Demo@2026"})).await;
    let today = app.store.now().date().to_string();
    let zhang = psn("张伟");
    let death = json!({"kind": "death", "effective": today, "reason": "死亡证明"});
    let died = app.rest("POST", &format!("/api/v1/persons/{zhang}/life-events"), Some(&admin), &[], Some(death)).await;
    assert_eq!(died.status, 201, "{}", died.body);
    let proposal = json!({"kind": "inheritance", "reason": "继承人申请",
        "payee": {"name": "张小伟", "bank": "中国银行杭州分行", "account": "6217000010001234567"}});
    let proposed =
        app.rest("POST", &format!("/api/v1/persons/{zhang}/payouts"), Some(&admin), &[], Some(proposal)).await;
    let payout = proposed.body["id"].as_str().unwrap().to_string();
    let approve = json!({"decision": "approve", "reason": "材料齐全"});
    let approved = app
        .rest("POST", &format!("/api/v1/payouts/{payout}/review"), Some(&reviewer), &[], Some(approve.clone()))
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let reimbursed =
        app.rest("POST", "/api/v1/reimbursements/RB0000000001/review", Some(&reviewer), &[], Some(approve)).await;
    assert_eq!(reimbursed.status, 200, "{}", reimbursed.body);

    let due = app.rest("GET", "/api/v1/bank-payments/due?bank=BOC", Some(&admin), &[], None).await;
    assert_eq!(due.status, 200, "{}", due.body);
    let lines: Vec<(String, String)> = due.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["id"].as_str().unwrap().to_string(), l["amount"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(lines, [(payout.clone(), "1000.00".to_string()), ("RB0000000001".to_string(), "1395.00".to_string())]);
    assert_eq!(due.body["total"], json!("2395.00"));
    let other_bank = app.rest("GET", "/api/v1/bank-payments/due?bank=ICBC", Some(&admin), &[], None).await;
    assert_eq!(other_bank.body["count"], json!(0));
    let csv = app.rest("GET", "/api/v1/bank-payments/due?bank=BOC&format=csv", Some(&admin), &[], None).await;
    assert!(csv.body.as_str().unwrap().contains(&format!("{payout},payout,{zhang},1000.00,张小伟")), "{}", csv.body);
    let person = app.person_login("李秀英").await;
    assert_eq!(app.rest("GET", "/api/v1/bank-payments/due?bank=BOC", Some(&person), &[], None).await.status, 403);

    let payable = || async {
        let accounts = app.store.read(|r| r.all_accounts()).await.unwrap();
        accounts.iter().find(|a| a.key.to_string() == "payable/bank/BOC").map(|a| a.balance()).unwrap()
    };
    assert_eq!(payable().await, "2395".parse().unwrap());
    let answer = |amount: &str| {
        json!({"bank": "BOC", "paid_on": today, "lines": [
            {"id": payout, "amount": "1000.00", "bank_ref": "BOC20261201001"},
            {"id": "RB0000000001", "amount": amount, "bank_ref": "BOC20261201002"},
        ]})
    };
    // A line that does not match refuses the whole answer; nothing is paid.
    let wrong = app.rest("POST", "/api/v1/bank-payments", Some(&reviewer), &[], Some(answer("1395.01"))).await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert_eq!(payable().await, "2395".parse().unwrap());
    for (bad, status) in [
        (json!({"bank": "BOC", "paid_on": today, "lines": []}), 400),
        (
            json!({"bank": "BOC", "paid_on": "2099-01-01", "lines": [{"id": payout, "amount": "1000.00", "bank_ref": "x"}]}),
            400,
        ),
        (
            json!({"bank": "ICBC", "paid_on": today, "lines": [{"id": payout, "amount": "1000.00", "bank_ref": "x"}]}),
            422,
        ),
        (
            json!({"bank": "BOC", "paid_on": today, "lines": [{"id": "PO9999999999", "amount": "1.00", "bank_ref": "x"}]}),
            404,
        ),
    ] {
        let reply = app.rest("POST", "/api/v1/bank-payments", Some(&reviewer), &[], Some(bad.clone())).await;
        assert_eq!(reply.status, status, "{bad}: {}", reply.body);
    }
    let by_person = app.rest("POST", "/api/v1/bank-payments", Some(&person), &[], Some(answer("1395.00"))).await;
    assert_eq!(by_person.status, 403);
    let by_clerk = app.rest("POST", "/api/v1/bank-payments", Some(&admin), &[], Some(answer("1395.00"))).await;
    assert_eq!(by_clerk.status, 403, "moving money takes the reviewer role");
    let paid = app.rest("POST", "/api/v1/bank-payments", Some(&reviewer), &[], Some(answer("1395.00"))).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!((paid.body["amount"].clone(), paid.body["paid"].as_array().unwrap().len()), (json!("2395.00"), 2));
    assert_eq!(payable().await, yibao_domain::Money::ZERO, "the payable is emptied");
    let again = app.rest("POST", "/api/v1/bank-payments", Some(&reviewer), &[], Some(answer("1395.00"))).await;
    assert_eq!((again.body["amount"].clone(), again.body["already"].as_array().unwrap().len()), (json!("0.00"), 2));
    let mut other_ref = answer("1395.00");
    other_ref["lines"][0]["bank_ref"] = json!("BOC-OTHER");
    let conflict = app.rest("POST", "/api/v1/bank-payments", Some(&reviewer), &[], Some(other_ref)).await;
    assert_eq!(conflict.status, 409, "the same line with another reference: {}", conflict.body);
    let due = app.rest("GET", "/api/v1/bank-payments/due?bank=BOC", Some(&admin), &[], None).await;
    assert_eq!(due.body["count"], json!(0), "{}", due.body);
    let ledger = app.rest("GET", "/api/v1/ledger/verify", Some(&admin), &[], None).await;
    assert_eq!((ledger.body["balanced"].clone(), ledger.body["replay_matches"].clone()), (json!(true), json!(true)));
}

/// This session's routes tried as each role: nobody (401), a designated institution on a
/// freshly signed request (403), an insured person (403, or 404 for a card not theirs), a clerk
/// without the reviewer role where money moves (403); and at once: eight identical bank answers
/// pay once, eight reminder runs remind once, four loss reports of one card make one report.
#[tokio::test]
async fn new_routes_refuse_every_other_role_and_hold_under_concurrent_requests() {
    let app = std::sync::Arc::new(spawn_app().await);
    let admin = admin(&app).await;
    let reviewer = app.login(json!({"role": "operator", "username": "reviewer", "password": "Demo@2026"})).await;
    let person = app.person_login("李秀英").await;
    let today = app.store.now().date().to_string();
    let routes: [(&str, &str, Value); 7] = [
        ("GET", "/api/v1/cards/A10000001/loss-notice", Value::Null),
        (
            "POST",
            "/api/v1/cards/A10000001/proof-letter",
            json!({"employer": "E33010000001", "letter_no": "1", "issued_on": today}),
        ),
        ("POST", "/api/v1/cards/A10000001/replacement", json!({"path": "loss-notice"})),
        ("POST", "/api/v1/reminders", json!({})),
        ("GET", "/api/v1/bank-payments/due?bank=BOC", Value::Null),
        (
            "POST",
            "/api/v1/bank-payments",
            json!({"bank": "BOC", "paid_on": today, "lines": [{"id": "RB0000000001", "amount": "1395.00", "bank_ref": "x"}]}),
        ),
        ("POST", "/api/v1/cards/A10000001/loss", json!({"reason": "x"})),
    ];
    for (method, path, body) in &routes {
        let body = (!body.is_null()).then(|| body.clone());
        let nobody = app.rest(method, path, None, &[], body.clone()).await;
        assert_eq!(nobody.status, 401, "nobody {method} {path}: {}", nobody.body);
        let institution = app.rest(method, path, None, &signed_headers(TERTIARY), body.clone()).await;
        assert_eq!(institution.status, 403, "institution {method} {path}: {}", institution.body);
        let other = app.rest(method, path, Some(&person), &[], body.clone()).await;
        assert!(matches!(other.status, 403 | 404), "another person {method} {path}: {} {}", other.status, other.body);
    }
    let card = app.rest("GET", "/api/v1/cards/A10000001", Some(&admin), &[], None).await;
    assert_eq!(card.body["status"], json!("active"), "nothing of 张伟's card changed");

    // Eight identical bank answers at once: paid once.
    let approve = json!({"decision": "approve", "reason": "票据齐全"});
    let approved =
        app.rest("POST", "/api/v1/reimbursements/RB0000000001/review", Some(&reviewer), &[], Some(approve)).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let answer = json!({"bank": "BOC", "paid_on": today, "lines": [{"id": "RB0000000001", "amount": "1395.00", "bank_ref": "BOC1"}]});
    let clerk = app.rest("POST", "/api/v1/bank-payments", Some(&admin), &[], Some(answer.clone())).await;
    assert_eq!(clerk.status, 403, "a clerk without the reviewer role");
    let replies = at_once(&app, 8, "/api/v1/bank-payments", &reviewer, Some(answer.clone())).await;
    let paid: usize = replies.iter().map(|r| r.body["paid"].as_array().map_or(0, Vec::len)).sum();
    assert!(replies.iter().all(|r| r.status == 200), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(paid, 1, "paid once");
    let due = app.rest("GET", "/api/v1/bank-payments/due?bank=BOC", Some(&admin), &[], None).await;
    assert_eq!(due.body["count"], json!(0));

    // Eight reminder runs at once: one reminder.
    let path = format!("/api/v1/persons/{}/registrations", psn("张伟"));
    let elsewhere = json!({"kind": "elsewhere", "region": "310100", "type": "resettled", "begin": today,
        "end": app.store.now().date().plus_days(10).to_string(), "reason": "异地安置"});
    assert_eq!(app.rest("POST", &path, Some(&admin), &[], Some(elsewhere)).await.status, 201);
    let runs = at_once(&app, 8, "/api/v1/reminders", &admin, None).await;
    let sent: i64 = runs.iter().map(|r| r.body["sent"].as_i64().unwrap_or(0)).sum();
    assert_eq!(sent, 1, "reminded once");

    // Four loss reports of one card at once: one report, one notice.
    let loss = json!({"reason": "遗失", "channel": "bank"});
    let reports = at_once(&app, 4, "/api/v1/cards/A10000001/loss", &admin, Some(loss)).await;
    assert_eq!(
        reports.iter().filter(|r| r.status == 200).count(),
        1,
        "{:?}",
        reports.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(reports.iter().all(|r| matches!(r.status, 200 | 409)));
    let ledger = app.rest("GET", "/api/v1/ledger/verify", Some(&admin), &[], None).await;
    assert_eq!((ledger.body["balanced"].clone(), ledger.body["replay_matches"].clone()), (json!(true), json!(true)));
}

/// The same request `n` times at once (spawned together, each on its own connection).
async fn at_once(app: &std::sync::Arc<TestApp>, n: usize, path: &str, token: &str, body: Option<Value>) -> Vec<Rest> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (app, path, token, body) = (app.clone(), path.to_string(), token.to_string(), body.clone());
        set.spawn(async move { app.rest("POST", &path, Some(&token), &[], body).await });
    }
    let mut replies = Vec::new();
    while let Some(reply) = set.join_next().await {
        replies.push(reply.expect("the request ran"));
    }
    replies
}

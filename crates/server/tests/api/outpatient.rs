//! The outpatient sequence 9001 → 1101 → 2201 → 2203 → 2204 → 2206 → 2207 → 2208 → 2207 →
//! 2601 → 5203 → 5206 → 3201, with the worked examples' amounts.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn employee_outpatient_sequence_matches_the_worked_example() {
    let app = spawn_app().await;
    let sign = app
        .call(TERTIARY, "9001", json!({"signIn": {"opter_no": "001", "mac": "00-E0-70-64-C3-D2", "ip": "192.168.1.1"}}))
        .await;
    assert!(!sign.ok()["signinoutb"]["sign_no"].as_str().unwrap().is_empty());
    assert_eq!(identify(&app, TERTIARY, "张伟").await, psn("张伟"));
    let visit = register(&app, TERTIARY, "张伟", "11").await;
    let lines = app
        .call(
            TERTIARY,
            "2204",
            json!({"feedetail": [
                fee_line("1", &visit, psn("张伟"), "DEMO-A-001", "50", "1"),
                fee_line("2", &visit, psn("张伟"), "DEMO-B-001", "100", "1"),
                fee_line("3", &visit, psn("张伟"), "DEMO-C-001", "20", "1"),
            ]}),
        )
        .await;
    let result = lines.ok()["result"].as_array().unwrap().clone();
    assert_eq!(money(&result[1]["preselfpay_amt"]), "10".parse().unwrap());
    assert_eq!(result[1]["selfpay_prop"], number("0.1"));
    assert_eq!(money(&result[2]["fulamt_ownpay_amt"]), "20".parse().unwrap());
    assert_eq!(result[2]["chrgitm_lv"], json!("03"));

    let pre_data = presettle_data("张伟", &visit, "170", true);
    let pre = app.call(TERTIARY, "2206", json!({"data": pre_data})).await;
    let pre_info = pre.ok()["setlinfo"].clone();
    assert!(pre_info["setl_id"].is_null(), "a pre-settlement has no setl_id");
    assert_identities(&pre_info);
    let expected = [
        ("medfee_sumamt", "170"),
        ("fulamt_ownpay_amt", "20"),
        ("preselfpay_amt", "10"),
        ("inscp_scp_amt", "140"),
        ("hifp_pay", "0"),
        ("fund_pay_sumamt", "0"),
        ("acct_pay", "170"),
        ("psn_cash_pay", "0"),
        ("balc", "830"),
    ];
    for (field, amount) in expected {
        assert_eq!(money(&pre_info[field]), amount.parse().unwrap(), "2206 {field}");
    }

    let settle = settle_data(&pre_data, &pre_info);
    let first = app.call(TERTIARY, "2207", json!({"data": settle})).await;
    let info = first.ok()["setlinfo"].clone();
    assert_identities(&info);
    for (field, amount) in expected {
        assert_eq!(money(&info[field]), amount.parse().unwrap(), "2207 {field}");
    }
    assert_eq!(first.ok()["setldetail"][0]["fund_pay_type"], json!("310200"));
    let setl_id = info["setl_id"].as_str().unwrap().to_string();

    let cancel = app
        .call(TERTIARY, "2208", json!({"data": {"setl_id": setl_id, "mdtrt_id": visit, "psn_no": psn("张伟")}}))
        .await;
    let cancelled = cancel.ok()["setlinfo"].clone();
    assert_identities(&cancelled);
    assert_eq!(cancelled["setl_id"], json!(setl_id));
    assert_eq!(money(&cancelled["medfee_sumamt"]), "-170".parse().unwrap());
    assert_eq!(money(&cancelled["acct_pay"]), "-170".parse().unwrap());
    assert_eq!(money(&cancelled["balc"]), "1000".parse().unwrap());

    let again = app.call(TERTIARY, "2207", json!({"data": settle})).await;
    let again_info = again.ok()["setlinfo"].clone();
    assert_identities(&again_info);
    assert_eq!(money(&again_info["balc"]), "830".parse().unwrap());
    let second_setl = again_info["setl_id"].as_str().unwrap().to_string();

    let reversal = app
        .call(TERTIARY, "2601", json!({"data": {"psn_no": psn("张伟"), "omsgid": again.msgid, "oinfno": "2207"}}))
        .await;
    reversal.ok();
    let balance = app
        .call(
            TERTIARY,
            "1101",
            json!({"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": "A10000001", "card_sn": "CSN10000001"}}),
        )
        .await;
    assert_eq!(money(&balance.ok()["insuinfo"][0]["balc"]), "1000".parse().unwrap(), "the reversal returned the money");

    let query = app
        .call(TERTIARY, "5203", json!({"data": {"psn_no": psn("张伟"), "setl_id": second_setl, "mdtrt_id": visit}}))
        .await;
    let queried = query.ok()["setlinfo"].clone();
    assert_identities(&queried);
    assert_eq!(queried["setl_id"], json!(second_setl));
    assert_eq!(money(&queried["acct_pay"]), "170".parse().unwrap());

    let cumulative = app.call(TERTIARY, "5206", json!({"data": {"psn_no": psn("张伟"), "cum_ym": "202611"}})).await;
    let rows = cumulative.ok()["cuminfo"].as_array().unwrap().clone();
    let medfee = rows.iter().find(|row| row["cum_type_code"] == json!("S0000")).unwrap();
    assert_eq!(money(&medfee["cum"]), yibao_domain::Money::ZERO, "both settlements were undone");

    // 3201 with refunds: two settlements and their two mirrors, netting to zero.
    let today = app.store.now().date().to_string();
    let totals = |medfee: &str, count: &str| {
        json!({"data": {"insutype": "310", "clr_type": "11", "setl_optins": "330100",
        "stmt_begndate": today, "stmt_enddate": today, "medfee_sumamt": number(medfee), "fund_pay_sumamt": 0, "acct_pay": number(medfee),
        "fixmedins_setl_cnt": count, "refd_setl_flag": "1"}})
    };
    let balanced = app.call(TERTIARY, "3201", totals("0", "4")).await;
    assert_eq!(balanced.ok()["stmtinfo"]["stmt_rslt"], json!("0"), "{}", balanced.body);
    let unbalanced = app.call(TERTIARY, "3201", totals("170", "4")).await;
    let info = unbalanced.ok()["stmtinfo"].clone();
    assert_eq!(info["stmt_rslt"], json!("1"));
    assert!(info["stmt_rslt_dscr"].as_str().unwrap().contains("医疗费总额：机构170.00元，医保0.00元"), "{info}");
}

#[tokio::test]
async fn resident_band_across_two_visits() {
    let app = spawn_app().await;
    for (amount, fund, cash) in [("80", "24", "56"), ("50", "6", "44")] {
        let visit = register(&app, COMMUNITY, "刘芳", "11").await;
        app.call(
            COMMUNITY,
            "2204",
            json!({"feedetail": [fee_line("1", &visit, psn("刘芳"), "DEMO-A-002", amount, "1")]}),
        )
        .await
        .ok();
        let data = presettle_data("刘芳", &visit, amount, true);
        let reply = app.call(COMMUNITY, "2207", json!({"data": data})).await;
        let info = reply.ok()["setlinfo"].clone();
        assert_identities(&info);
        assert_eq!(money(&info["hifp_pay"]), fund.parse().unwrap());
        assert_eq!(money(&info["psn_cash_pay"]), cash.parse().unwrap());
        assert_eq!(reply.ok()["setldetail"][0]["fund_pay_type"], json!("390100"));
    }
}

#[tokio::test]
async fn account_shortfall_is_paid_in_cash() {
    let app = spawn_app().await;
    let visit = register(&app, SECONDARY, "王强", "11").await;
    app.call(SECONDARY, "2204", json!({"feedetail": [fee_line("1", &visit, psn("王强"), "DEMO-A-001", "170", "1")]}))
        .await
        .ok();
    let reply = app.call(SECONDARY, "2207", json!({"data": presettle_data("王强", &visit, "170", true)})).await;
    let info = reply.ok()["setlinfo"].clone();
    assert_identities(&info);
    assert_eq!(
        (money(&info["acct_pay"]), money(&info["psn_cash_pay"]), money(&info["balc"])),
        ("45".parse().unwrap(), "125".parse().unwrap(), "0".parse().unwrap())
    );
}

#[tokio::test]
async fn a_repeated_msgid_returns_the_stored_response() {
    let app = spawn_app().await;
    let visit = register(&app, TERTIARY, "张伟", "11").await;
    app.call(TERTIARY, "2204", json!({"feedetail": [fee_line("1", &visit, psn("张伟"), "DEMO-A-001", "50", "1")]}))
        .await
        .ok();
    let input = json!({"data": presettle_data("张伟", &visit, "50", true)});
    let msgid = TestApp::msgid(TERTIARY);
    let first = app.call_with_msgid(TERTIARY, "2207", input.clone(), &msgid).await;
    let second = app.call_with_msgid(TERTIARY, "2207", input, &msgid).await;
    assert_eq!(first.body, second.body, "the retry gets the very same response");
    assert_eq!(money(&first.ok()["setlinfo"]["balc"]), "950".parse().unwrap());
    assert_eq!(count(&app, "settlements").await, 1);
}

#[tokio::test]
async fn a_ningbo_person_at_a_hangzhou_hospital_is_priced_and_recorded_cross_region() {
    let app = spawn_app().await;
    let reply = app
        .call(
            TERTIARY,
            "1101",
            json!({"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": "A10000005", "card_sn": "CSN10000005"}}),
        )
        .await;
    assert_eq!(reply.ok()["insuinfo"][0]["insuplc_admdvs"], json!("330200"));
    let msgid = TestApp::msgid(TERTIARY);
    let mut envelope = app.envelope(
        TERTIARY,
        "2201",
        json!({"data": {"psn_no": psn("陈军"), "insutype": "310", "begntime": "2026-11-23 10:00:00",
        "mdtrt_cert_type": "03", "mdtrt_cert_no": "A10000005", "ipt_otp_no": "MZ1"}}),
        &msgid,
    );
    envelope["insuplc_admdvs"] = json!("330100");
    let wrong_region = app.send(TERTIARY, &envelope, &msgid).await;
    assert!(wrong_region.refused().contains("参保地医保区划330100与参保人参保地330200不符"), "{}", wrong_region.body);
    let msgid = TestApp::msgid(TERTIARY);
    envelope["msgid"] = json!(msgid);
    envelope["insuplc_admdvs"] = json!("330200");
    let visit = app.send(TERTIARY, &envelope, &msgid).await.ok()["data"]["mdtrt_id"].as_str().unwrap().to_string();
    let with_region = |infno: &str, input: serde_json::Value| {
        let msgid = TestApp::msgid(TERTIARY);
        let mut envelope = app.envelope(TERTIARY, infno, input, &msgid);
        envelope["insuplc_admdvs"] = json!("330200");
        (envelope, msgid)
    };
    let (lines, id) =
        with_region("2204", json!({"feedetail": [fee_line("1", &visit, psn("陈军"), "DEMO-A-001", "100", "1")]}));
    app.send(TERTIARY, &lines, &id).await.ok();
    let mut data = presettle_data("陈军", &visit, "100", true);
    data["mdtrt_cert_type"] = json!("03");
    data["mdtrt_cert_no"] = json!("A10000005");
    data["chrg_bchno"] = json!("a batch the lines do not carry");
    let (settle, id) = with_region("2207", json!({"data": data}));
    let info = app.send(TERTIARY, &settle, &id).await.ok()["setlinfo"].clone();
    assert_identities(&info);
    assert_eq!((info["insu_admdvs"].clone(), info["clr_optins"].clone()), (json!("330200"), json!("330100")));
    assert_eq!(money(&info["balc"]), "400".parse().unwrap());
    let setl_id: yibao_domain::SetlId = info["setl_id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.read(move |r| r.settlement(&setl_id)).await.unwrap().unwrap();
    assert!(stored.is_cross_region());
}

#[tokio::test]
async fn eligibility_2001_says_who_enjoys_benefits_and_a_resident_needs_a_paid_year() {
    let app = spawn_app().await;
    let year = app.store.now().date().year();
    let check = |name: &str, begin: String| json!({"data": {"psn_no": psn(name), "insutype": insutype(name), "med_type": "11", "begntime": begin}});
    let now = format!("{year}-06-01 09:00:00");
    let employee = app.call(TERTIARY, "2001", check("张伟", now.clone())).await;
    assert_eq!(employee.ok()["trtinfo"][0]["trt_enjymnt_flag"], json!("1"), "{}", employee.body);
    let resident = app.call(COMMUNITY, "2001", check("刘芳", now)).await;
    assert_eq!(
        resident.ok()["trtinfo"][0]["trt_enjymnt_flag"],
        json!("1"),
        "the demo paid this year: {}",
        resident.body
    );
    let later = app.call(COMMUNITY, "2001", check("刘芳", format!("{}-06-01 09:00:00", year + 2))).await;
    let info = later.ok()["trtinfo"][0].clone();
    assert_eq!(info["trt_enjymnt_flag"], json!("0"), "{info}");
    assert!(info.to_string().contains("未缴纳"), "{info}");
}

/// 孙丽, a civil servant (demo, beyond DEMO.md): the seed's civil-servant subsidy pays half of
/// the in-scope 140 (employees' outpatient care has no pooled share), the account the rest;
/// `cvlserv_pay`, `fund_pay_sumamt` and a 320100 `setldetail` row say so, and a cancellation
/// gives it all back.
#[tokio::test]
async fn the_civil_servant_subsidy_pays_its_share_as_a_fund_of_its_own() {
    let app = spawn_app().await;
    let person = app
        .call(TERTIARY, "1101", json!({"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("孙丽"), "card_sn": "", "begntime": "", "psn_cert_type": "01", "certno": id_number("孙丽"), "psn_name": "孙丽"}}))
        .await;
    let insured = person.ok()["insuinfo"][0].clone();
    assert_eq!((insured["psn_type"].clone(), insured["cvlserv_flag"].clone()), (json!("1102"), json!("1")));
    let visit = register(&app, TERTIARY, "孙丽", "11").await;
    app.call(
        TERTIARY,
        "2204",
        json!({"feedetail": [
            fee_line("1", &visit, psn("孙丽"), "DEMO-A-001", "50", "1"),
            fee_line("2", &visit, psn("孙丽"), "DEMO-B-001", "100", "1"),
            fee_line("3", &visit, psn("孙丽"), "DEMO-C-001", "20", "1"),
        ]}),
    )
    .await
    .ok();
    let pre_data = presettle_data("孙丽", &visit, "170", true);
    let pre = app.call(TERTIARY, "2206", json!({"data": pre_data})).await;
    let settled = app.call(TERTIARY, "2207", json!({"data": settle_data(&pre_data, &pre.ok()["setlinfo"])})).await;
    let output = settled.ok().clone();
    let info = &output["setlinfo"];
    assert_identities(info);
    for (field, amount) in [
        ("medfee_sumamt", "170"),
        ("inscp_scp_amt", "140"),
        ("hifp_pay", "0"),
        ("cvlserv_pay", "70"),
        ("fund_pay_sumamt", "70"),
        ("psn_part_amt", "100"),
        ("acct_pay", "100"),
        ("psn_cash_pay", "0"),
        ("balc", "700"),
    ] {
        assert_eq!(money(&info[field]), amount.parse().unwrap(), "2207 {field}: {info}");
    }
    assert_eq!(info["cvlserv_flag"], json!("1"));
    let detail: Vec<(String, String)> = output["setldetail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["fund_pay_type"].as_str().unwrap().to_string(), money(&row["fund_payamt"]).to_string()))
        .collect();
    assert_eq!(detail, [("320100".to_string(), "70.00".to_string()), ("310200".to_string(), "100.00".to_string())]);
    assert!(
        output["explanation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|step| step["rule"] == json!("civil-servant-subsidy.share")),
        "{output}"
    );
    let month = format!("{}", app.store.now().date().year_month()).replace('-', "");
    let cumulative = app.call(TERTIARY, "5206", json!({"data": {"psn_no": psn("孙丽"), "cum_ym": month}})).await;
    let subsidy_paid = cumulative.ok()["cuminfo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["cum_type_code"] == json!("F3201"))
        .map(|item| money(&item["cum"]));
    assert_eq!(subsidy_paid, Some("70".parse().unwrap()));

    let setl_id = info["setl_id"].as_str().unwrap();
    let cancel = app
        .call(TERTIARY, "2208", json!({"data": {"setl_id": setl_id, "mdtrt_id": visit, "psn_no": psn("孙丽")}}))
        .await;
    let cancelled = cancel.ok()["setlinfo"].clone();
    assert_identities(&cancelled);
    assert_eq!(money(&cancelled["cvlserv_pay"]), "-70".parse().unwrap());
    assert_eq!(money(&cancelled["balc"]), "800".parse().unwrap());
    let token = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let ledger = app.rest("GET", "/api/v1/ledger/verify", Some(&token), &[], None).await;
    assert_eq!((ledger.body["balanced"].clone(), ledger.body["replay_matches"].clone()), (json!(true), json!(true)));
}

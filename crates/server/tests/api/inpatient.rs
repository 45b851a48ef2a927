//! The inpatient sequence 2401 → 2301 → 2402 → 2303 → 2304 → 2305, and a second admission
//! whose deductible is halved.

use serde_json::{Value, json};

use crate::helpers::*;

async fn admit(app: &TestApp, name: &str) -> String {
    admit_at(app, name, "2026-11-20 09:00:00").await
}

async fn discharge(app: &TestApp, name: &str, visit: &str) {
    app.call(TERTIARY, "2402", json!({
        "dscginfo": {"mdtrt_id": visit, "psn_no": psn(name), "insutype": insutype(name), "endtime": "2026-11-23 09:00:00",
                     "dise_codg": "J18.900", "dise_name": "肺炎", "oprn_oprt_code": "", "oprn_oprt_name": "", "fpsc_no": "",
                     "matn_type": "", "birctrl_type": "", "cop_flag": "", "dscg_dept_codg": "B01", "dscg_dept_name": "呼吸科",
                     "dscg_bed": "12", "dscg_way": "1", "die_date": ""},
        "diseinfo": [{"psn_no": psn(name), "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": "J18.900",
                      "diag_name": "肺炎", "diag_dept": "呼吸科", "dise_dor_no": "D001", "dise_dor_name": "主诊医生", "diag_time": "2026-11-23 09:00:00"}]
    }))
    .await
    .ok();
}

fn settle_input(name: &str, visit: &str, medfee: &str, account: bool) -> Value {
    json!({"data": {"psn_no": psn(name), "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number(name), "medfee_sumamt": number(medfee),
                    "psn_setlway": "01", "mdtrt_id": visit, "acct_used_flag": if account { "1" } else { "0" }, "insutype": insutype(name),
                    "invono": "", "mid_setl_flag": "0", "fulamt_ownpay_amt": 0, "overlmt_selfpay": 0, "preselfpay_amt": 0,
                    "inscp_scp_amt": 0, "dscg_time": "2026-11-23 09:00:00"}})
}

#[tokio::test]
async fn inpatient_sequence_and_the_halved_second_deductible() {
    let app = spawn_app().await;
    let visit = admit(&app, "张伟").await;
    let upload = app
        .call(
            TERTIARY,
            "2301",
            json!({"feedetail": [
                fee_line("Z1", &visit, psn("张伟"), "DEMO-A-003", "10000", "1"),
                fee_line("Z2", &visit, psn("张伟"), "DEMO-A-001", "100", "3"),
            ]}),
        )
        .await;
    assert_eq!(upload.ok()["result"].as_array().unwrap().len(), 2);
    // A refund line for two of the three boxes, then the lines total 10 100.
    let mut refund = fee_line("Z3", &visit, psn("张伟"), "DEMO-A-001", "100", "-2");
    refund["init_feedetl_sn"] = json!("Z2");
    let refunded = app.call(TERTIARY, "2301", json!({"feedetail": [refund]})).await;
    assert_eq!(money(&refunded.ok()["result"][0]["inscp_scp_amt"]), "-200".parse().unwrap());
    // The refund is settled with the rest; remove it and the extra box with 2302 for the
    // worked example's single 10 000 line.
    for serial in ["Z2", "Z3"] {
        app.call(TERTIARY, "2302", json!({"data": {"feedetl_sn": serial, "mdtrt_id": visit, "psn_no": psn("张伟")}}))
            .await
            .ok();
    }
    discharge(&app, "张伟", &visit).await;
    let pre = app.call(TERTIARY, "2303", settle_input("张伟", &visit, "10000", false)).await;
    let pre_info = pre.ok()["setlinfo"].clone();
    assert_identities(&pre_info);
    let settled = app.call(TERTIARY, "2304", settle_input("张伟", &visit, "10000", false)).await;
    let info = settled.ok()["setlinfo"].clone();
    assert_identities(&info);
    for (field, amount) in [
        ("medfee_sumamt", "10000"),
        ("act_pay_dedc", "800"),
        ("hifp_pay", "7820"),
        ("fund_pay_sumamt", "7820"),
        ("psn_part_amt", "2180"),
        ("psn_cash_pay", "2180"),
        ("dedc_std", "800"),
    ] {
        assert_eq!(money(&info[field]), amount.parse().unwrap(), "{field}");
        assert_eq!(money(&pre_info[field]), amount.parse().unwrap(), "2303 {field}");
    }
    assert_eq!(info["clr_type"], json!("21"));
    let setl_id = info["setl_id"].as_str().unwrap().to_string();
    let cancel = app
        .call(TERTIARY, "2305", json!({"data": {"mdtrt_id": visit, "setl_id": setl_id, "psn_no": psn("张伟")}}))
        .await;
    let cancelled = cancel.ok()["setlinfo"].clone();
    assert_identities(&cancelled);
    assert_eq!(money(&cancelled["hifp_pay"]), "-7820".parse().unwrap());
    assert_eq!(cancelled["setl_type"], json!("2"));
    // Settled again, it is still the first admission of the year.
    let again = app.call(TERTIARY, "2304", settle_input("张伟", &visit, "10000", false)).await;
    assert_eq!(money(&again.ok()["setlinfo"]["act_pay_dedc"]), "800".parse().unwrap());

    let second = admit(&app, "张伟").await;
    app.call(
        TERTIARY,
        "2301",
        json!({"feedetail": [fee_line("Y1", &second, psn("张伟"), "DEMO-A-003", "10000", "1")]}),
    )
    .await
    .ok();
    discharge(&app, "张伟", &second).await;
    let settled = app.call(TERTIARY, "2304", settle_input("张伟", &second, "10000", true)).await;
    let info = settled.ok()["setlinfo"].clone();
    assert_identities(&info);
    for (field, amount) in [
        ("act_pay_dedc", "400"),
        ("dedc_std", "400"),
        ("hifp_pay", "8160"),
        ("acct_pay", "1000"),
        ("psn_cash_pay", "840"),
        ("balc", "0"),
    ] {
        assert_eq!(money(&info[field]), amount.parse().unwrap(), "second admission {field}");
    }
    let cumulative = app.call(TERTIARY, "5206", json!({"data": {"psn_no": psn("张伟"), "cum_ym": "202611"}})).await;
    let rows = cumulative.ok()["cuminfo"].as_array().unwrap().clone();
    let admissions = rows.iter().find(|row| row["cum_type_code"] == json!("C0000")).unwrap();
    assert_eq!(admissions["cum"], json!(2));
}

#[tokio::test]
async fn final_settlement_needs_a_discharge() {
    let app = spawn_app().await;
    let visit = admit(&app, "李秀英").await;
    app.call(TERTIARY, "2301", json!({"feedetail": [fee_line("1", &visit, psn("李秀英"), "DEMO-A-003", "2000", "1")]}))
        .await
        .ok();
    let refused = app.call(TERTIARY, "2304", settle_input("李秀英", &visit, "2000", false)).await;
    assert!(refused.refused().contains("未办理出院"), "{}", refused.body);
    let mut mid = settle_input("李秀英", &visit, "2000", false);
    mid["data"]["mid_setl_flag"] = json!("1");
    let info = app.call(TERTIARY, "2304", mid).await.ok()["setlinfo"].clone();
    // Retiree at a tertiary hospital: 800 deductible, 90% of the rest.
    assert_eq!(money(&info["hifp_pay"]), "1080".parse().unwrap());
}

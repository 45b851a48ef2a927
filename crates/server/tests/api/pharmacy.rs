//! The pharmacy sequence 2101 → 2102 → 2103.

use serde_json::{Value, json};

use crate::helpers::*;

fn purchase(name: &str, lines: Vec<Value>, medfee: &str) -> Value {
    json!({
        "data": {"psn_no": psn(name), "mdtrt_cert_type": "03", "mdtrt_cert_no": if name == "刘芳" { "A10000004" } else { "A10000001" },
                 "begntime": "2026-11-23 11:00:00", "medfee_sumamt": number(medfee), "ipt_otp_no": "YD0001", "med_type": "41",
                 "insutype": insutype(name), "psn_setlway": "01", "acct_used_flag": "1", "invono": "", "fulamt_ownpay_amt": 0,
                 "overlmt_selfpay": 0, "preselfpay_amt": 0, "inscp_scp_amt": 0},
        "feedetail": lines,
    })
}

#[tokio::test]
async fn pharmacy_sequence() {
    let app = spawn_app().await;
    let lines = vec![
        fee_line("1", "", psn("张伟"), "DEMO-B-001", "45.5", "2"),
        fee_line("2", "", psn("张伟"), "DEMO-C-001", "15", "1"),
    ];
    let input = purchase("张伟", lines, "106");
    let pre = app.call(PHARMACY, "2101", input.clone()).await;
    let pre_info = pre.ok()["setlinfo"].clone();
    assert_identities(&pre_info);
    let settled = app.call(PHARMACY, "2102", input).await;
    let output = settled.ok().clone();
    let info = output["setlinfo"].clone();
    assert_identities(&info);
    for (field, amount) in [
        ("medfee_sumamt", "106"),
        ("fulamt_ownpay_amt", "15"),
        ("preselfpay_amt", "9.10"),
        ("inscp_scp_amt", "81.90"),
        ("acct_pay", "106"),
        ("psn_cash_pay", "0"),
        ("balc", "894"),
    ] {
        assert_eq!(money(&info[field]), amount.parse().unwrap(), "{field}");
        assert_eq!(money(&pre_info[field]), amount.parse().unwrap(), "2101 {field}");
    }
    assert_eq!(info["clr_type"], json!("41"));
    assert_eq!(output["detlcutinfo"].as_array().unwrap().len(), 2);
    let cancel = app
        .call(
            PHARMACY,
            "2103",
            json!({"data": {"setl_id": info["setl_id"], "psn_no": psn("张伟"), "mdtrt_id": info["mdtrt_id"]}}),
        )
        .await;
    let cancelled = cancel.ok()["setlinfo"].clone();
    assert_identities(&cancelled);
    assert_eq!(money(&cancelled["balc"]), "1000".parse().unwrap());
}

#[tokio::test]
async fn a_resident_pharmacy_purchase_shares_the_band() {
    let app = spawn_app().await;
    let lines = vec![fee_line("1", "", psn("刘芳"), "DEMO-A-001", "80", "1")];
    let info = app.call(PHARMACY, "2102", purchase("刘芳", lines, "80")).await.ok()["setlinfo"].clone();
    assert_identities(&info);
    assert_eq!(
        (money(&info["hifp_pay"]), money(&info["psn_cash_pay"])),
        ("24".parse().unwrap(), "56".parse().unwrap())
    );
}

#[tokio::test]
async fn a_hospital_cannot_use_pharmacy_settlement() {
    let app = spawn_app().await;
    let lines = vec![fee_line("1", "", psn("张伟"), "DEMO-A-001", "10", "1")];
    let refused = app.call(TERTIARY, "2102", purchase("张伟", lines, "10")).await;
    assert!(refused.refused().contains("不是定点零售药店"), "{}", refused.body);
}

//! The real sample messages of reference/nhsa.md §1.7: their request shapes are accepted
//! (extra fields ignored) and every response has at least the sample's field set.

use serde_json::{Value, json};

use crate::helpers::*;

/// Every key path of a sample response's object nodes, e.g. `setlinfo.medfee_sumamt`.
fn keys(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                out.push(path.clone());
                keys(child, &path, out);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                keys(first, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn has(value: &Value, path: &str) -> bool {
    let mut node = value;
    for part in path.split('.') {
        let (name, list) = match part.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (part, false),
        };
        node = match node.get(name) {
            Some(child) => child,
            None => return false,
        };
        if list {
            node = match node.as_array().and_then(|items| items.first()) {
                Some(first) => first,
                None => return true,
            };
        }
    }
    true
}

fn assert_field_set(sample: &str, ours: &Value) {
    let sample: Value = serde_json::from_str(sample).unwrap();
    let mut paths = Vec::new();
    keys(&sample["output"], "", &mut paths);
    let missing: Vec<_> = paths.iter().filter(|path| !has(ours, path)).collect();
    assert!(missing.is_empty(), "missing {missing:?} in {ours}");
    for field in ["infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg"] {
        assert!(sample.get(field).is_some());
    }
}

const SAMPLE_9001: &str = r#"{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"signinoutb":{"sign_no":"359754","sign_time":"2021-08-29 19:35:27"}}}"#;
const SAMPLE_1101: &str = r#"{"infcode": 0, "output": {"baseinfo": {"certno":"3101**********2018", "psn_no":"8018*****939", "gend": "1", "naty": "99", "expContent": null, "brdy": "1998-01-01", "psn_cert_type": "01", "psn_name": "阿**", "age": 25.2}, "insuinfo": [{"insuplc_admdvs": "310115", "psn_insu_date": "1998-01-01", "cvlserv_flag": "0", "balc": 41509.00, "emp_name": "乌兰察布医院", "psn_type": "116032", "psn_insu_stas": "1", "insutype": "310", "paus_insu_date": null}]}, "idetinfo": [], "warn_msg": null, "cainfo": null, "err_msg": null, "refmsg_time": "20230920182350513", "signtype": null, "respond_time": "20230920182350662", "inf_refmsgid": "310000202309201823500002516630"}"#;
const SAMPLE_2201: &str = r#"{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"data":{"psn_no":"1304*****751","mdtrt_id":"300178725","exp_content":null,"ipt_otp_no":"2111241810003"}}}"#;
const SAMPLE_2204: &str = r#"{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"result":[{"bas_medn_flag":"0","med_chrgitm_type":"09","det_item_fee_sumamt":4.52,"hi_nego_drug_flag":"0","fulamt_ownpay_amt":0,"cnt":1.0,"pric":4.52,"exp_content":null,"memo":null,"feedetl_sn":"yp570","inscp_scp_amt":4.29,"drt_reim_flag":"0","overlmt_amt":0.0,"list_sp_item_flag":null,"pric_uplmt_amt":999999,"selfpay_prop":0.05,"chld_medc_flag":null,"preselfpay_amt":0.23,"lmt_used_flag":"0","chrgitm_lv":"02"}]}}"#;
const SAMPLE_2207: &str = r#"{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"setlinfo":{"setl_time":"2021-11-29 18:09:52","cvlserv_pay":0,"cvlserv_flag":"0","med_type":"11","brdy":"1986-10-04","naty":"01","psn_cash_pay":0,"certno":"1303**********1614","hifmi_pay":0,"psn_no":"1303*****217","act_pay_dedc":4.29,"mdtrt_cert_type":"02","balc":1373.63,"medins_setl_id":"H13110200026202111291809520478","psn_cert_type":"01","acct_mulaid_pay":0,"clr_way":"1","hifob_pay":0,"oth_pay":0,"medfee_sumamt":4.52,"hifes_pay":0,"gend":"1","mdtrt_id":"300179916","acct_pay":4.52,"fund_pay_sumamt":0,"fulamt_ownpay_amt":0,"hosp_part_amt":0,"setl_id":"400125241","inscp_scp_amt":4.29,"insutype":"310","maf_pay":0,"psn_name":"雷**","psn_part_amt":4.52,"clr_optins":"131199","pool_prop_selfpay":0.0,"psn_type":"1101","hifp_pay":0,"overlmt_selfpay":0,"preselfpay_amt":0.23,"age":35.0,"clr_type":"11"},"setldetail":[{"fund_pay_type":"310200","fund_payamt":4.52,"setl_proc_info":null,"crt_payb_lmt_amt":null,"inscp_scp_amt":4.29,"fund_pay_type_name":"城镇职工基本医疗保险个人账户基金"}],"expContent":null}}"#;
const SAMPLE_2303: &str = r#"{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"setlinfo":{"othfund_pay":0.0,"cvlserv_pay":0,"hifdm_pay":0,"insu_admdvs":"500102","med_type":"21","psn_pay":4152.06,"cvlserv_flag":"0","mdtrt_cert_no":"A******97","brdy":"1947-10-01","naty":"01","psn_cash_pay":3982.02,"certno":"5123**********0012","hifmi_pay":0,"psn_no":"ZG10*****052","act_pay_dedc":0,"mdtrt_cert_type":"03","balc":0.0,"medins_setl_id":"H50010302473202108270958272985","psn_cert_type":"01","acct_mulaid_pay":0,"hifob_pay":18785.39,"oth_pay":0.0,"ownpay_hosp_part":0,"inscp_amt":18808.16,"medfee_sumamt":23442.46,"hifes_pay":0,"cashPayamt":3982.02,"gend":"1","mdtrt_id":"310003327436","acct_pay":170.04,"fund_pay_sumamt":18785.39,"fulamt_ownpay_amt":2533.97,"dedc_std":0,"hosp_part_amt":505.01,"crt_dedc":0,"inscp_scp_amt":18808.16,"insutype":"310","maf_pay":0,"psn_name":"杨**","psn_part_amt":4152.06,"psn_insu_rlts_id":"ZG1004897052310","pool_prop_selfpay":0.0,"psn_type":"12","hifp_pay":0,"overlmt_selfpay":1396.89,"preselfpay_amt":703.44,"age":73.0,"clr_type":"21"},"setldetail":[{"fund_pay_type":"330101","fund_payamt":18785.39,"inscp_scp_amt":18808.16},{"fund_pay_type":"999996","fund_payamt":505.01,"inscp_scp_amt":18808.16},{"fund_pay_type":"310201","fund_payamt":170.04,"inscp_scp_amt":18808.16}]}}"#;
const SAMPLE_2305: &str = r#"{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"setlinfo":{"othfund_pay":0.0,"setl_time":"2021-08-05 09:31:35","cvlserv_pay":0.0,"hifdm_pay":0.0,"insu_admdvs":"500113","psn_pay":-1307.01,"mdtrt_cert_no":"A******05","exp_content":null,"psn_cash_pay":-1307.01,"begndate":"2021-07-29","hifmi_pay":0.0,"act_pay_dedc":0.0,"balc":0.0,"medins_setl_id":"H50010302473202108050931355556","acct_mulaid_pay":null,"hifob_pay":-2039.39,"oth_pay":0.0,"ownpay_hosp_part":-32.86,"inscp_amt":-2039.39,"medfee_sumamt":-3379.26,"hifes_pay":0.0,"cashPayamt":-1307.01,"mdtrt_id":"310001913300","acct_pay":0.0,"fund_pay_sumamt":-2039.39,"fulamt_ownpay_amt":-956.34,"dedc_std":0.0,"hosp_part_amt":null,"setl_id":"300001010540","setl_type":"2","crt_dedc":0.0,"inscp_scp_amt":-2039.39,"maf_pay":0.0,"invono":null,"psn_insu_rlts_id":"ZG1002443923310","psn_part_amt":null,"enddate":"2021-08-05","clr_optins":"500103","pool_prop_selfpay":0.0,"hifp_pay":0.0,"overlmt_selfpay":-186.31,"preselfpay_amt":-197.22},"setldetail":[{"fund_pay_type":"330100","fund_payamt":-2039.39,"setl_proc_info":null,"crt_payb_lmt_amt":null,"inscp_scp_amt":-2039.39,"fund_pay_type_name":null},{"fund_pay_type":"999997","fund_payamt":-32.86,"setl_proc_info":null,"crt_payb_lmt_amt":null,"inscp_scp_amt":-2039.39,"fund_pay_type_name":null}]}}"#;
const SAMPLE_5301: &str = r#"{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"feedetail":[{"begndate":"2020-10-01","enddate":"2120-11-01","opsp_dise_name":"高血压","exp_content":null,"opsp_dise_code":"M03900"}]}}"#;

#[tokio::test]
async fn the_chongqing_2207_request_shape_is_accepted_and_answers_have_the_sample_fields() {
    let app = spawn_app().await;
    let sign = app
        .call(
            TERTIARY,
            "9001",
            json!({"signIn": {"opter_no": "1022", "mac": "00-E0-70-64-C3-D2", "ip": "192.168.1.1"}}),
        )
        .await;
    assert_field_set(SAMPLE_9001, sign.ok());
    let person = app.call(TERTIARY, "1101", json!({"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": "A10000001", "card_sn": "CSN10000001", "begntime": "", "psn_cert_type": "", "certno": "", "psn_name": ""}})).await;
    let mut sample_1101: Value = serde_json::from_str(SAMPLE_1101).unwrap();
    sample_1101["output"]["baseinfo"].as_object_mut().unwrap().remove("expContent");
    assert_field_set(&sample_1101.to_string(), person.ok());
    let registration = app
        .call(TERTIARY, "2201", json!({"data": {"psn_no": psn("张伟"), "insutype": "310", "begntime": "2026-11-23 08:28:17", "mdtrt_cert_type": "03",
            "mdtrt_cert_no": "A10000001", "ipt_otp_no": "2111241810003", "atddr_no": "", "dr_name": "", "dept_code": "", "dept_name": "", "caty": ""}}))
        .await;
    assert_field_set(SAMPLE_2201, registration.ok());
    let visit = registration.ok()["data"]["mdtrt_id"].as_str().unwrap().to_string();
    let mut line = fee_line("yp570", &visit, psn("张伟"), "DEMO-B-001", "4.52", "1");
    line["chrg_bchno"] = json!("202109240828170091");
    let lines = app.call(TERTIARY, "2204", json!({"feedetail": [line]})).await;
    assert_field_set(SAMPLE_2204, lines.ok());
    assert_eq!(money(&lines.ok()["result"][0]["preselfpay_amt"]), "0.45".parse().unwrap());

    // The Chongqing request, verbatim but for our demo's codes and its own amounts.
    let msgid = TestApp::msgid(TERTIARY);
    let envelope = json!({"cainfo":"","dev_no":"","dev_safe_info":"","fixmedins_code":TERTIARY,"fixmedins_name":"浙江示例第一医院",
        "inf_time":"2026-11-23 08:28:27","infno":"2207","infver":"1",
        "input":{"data":{"medfee_sumamt":4.52,"mdtrt_id":visit,"med_type":"12","fulamt_ownpay_amt":0,"mdtrt_cert_no":"A10000001",
                         "chrg_bchno":"202109240828170091","insutype":"310","inscp_scp_amt":4.07,"invono":"2021092414556","psn_setlway":"01",
                         "return_invono":"","psn_no":psn("张伟"),"mdtrt_cert_type":"03","overlmt_selfpay":0,"preselfpay_amt":0.45,
                         "acct_used_flag":"1","return_date":""}},
        "insuplc_admdvs":"330100","mdtrtarea_admvs":"330100","msgid":msgid,"opter":"1022","opter_name":"钟*","opter_type":"1",
        "recer_sys_code":"YBXT","serv_code":"A6B3720544049E1397","serv_sign":"HH00001","sign_no":"651918","signtype":""});
    let settled = app.send(TERTIARY, &envelope, &msgid).await;
    let output = settled.ok().clone();
    assert_field_set(SAMPLE_2207, &output);
    assert_identities(&output["setlinfo"]);
    assert_eq!(output["setlinfo"]["medins_setl_id"], json!(msgid));
    assert_eq!(money(&output["setlinfo"]["balc"]), "995.48".parse().unwrap());

    let cancel = app
        .call(
            TERTIARY,
            "2208",
            json!({"data": {"setl_id": output["setlinfo"]["setl_id"], "mdtrt_id": visit, "psn_no": psn("张伟")}}),
        )
        .await;
    assert_field_set(SAMPLE_2207, cancel.ok());

    // Inpatient output field sets (2303 pre-settlement and 2305 cancellation).
    let admission = app
        .call(TERTIARY, "2401", json!({"mdtrtinfo": {"psn_no": psn("李秀英"), "insutype": "310", "begntime": "2026-11-20 09:00:00",
            "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("李秀英"), "med_type": "21", "ipt_no": "ZY1", "adm_dept_codg": "B01",
            "adm_dept_name": "内科"}, "diseinfo": []}))
        .await;
    let adm = admission.ok()["result"]["mdtrt_id"].as_str().unwrap().to_string();
    app.call(TERTIARY, "2301", json!({"feedetail": [fee_line("1", &adm, psn("李秀英"), "DEMO-A-003", "5000", "1")]}))
        .await
        .ok();
    app.call(TERTIARY, "2402", json!({"dscginfo": {"mdtrt_id": adm, "psn_no": psn("李秀英"), "insutype": "310", "endtime": "2026-11-23 09:00:00"}})).await.ok();
    let data = json!({"data": {"psn_no": psn("李秀英"), "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("李秀英"), "medfee_sumamt": 5000,
        "psn_setlway": "01", "mdtrt_id": adm, "acct_used_flag": "1", "insutype": "310", "mid_setl_flag": "0"}});
    let pre = app.call(TERTIARY, "2303", data.clone()).await;
    assert_field_set(SAMPLE_2303, pre.ok());
    let settled = app.call(TERTIARY, "2304", data).await;
    let setl_id = settled.ok()["setlinfo"]["setl_id"].clone();
    let cancel = app
        .call(TERTIARY, "2305", json!({"data": {"mdtrt_id": adm, "setl_id": setl_id, "psn_no": psn("李秀英")}}))
        .await;
    assert_field_set(SAMPLE_2305, cancel.ok());

    let registration = app
        .call(TERTIARY, "2503", json!({"data": {"psn_no": psn("张伟"), "insutype": "310", "opsp_dise_code": "M07800", "opsp_dise_name": "肾透析",
            "begndate": "2026-01-01", "enddate": "2026-12-31"}}))
        .await;
    assert!(registration.ok()["result"]["trt_dcla_detl_sn"].is_string());
    let list = app.call(TERTIARY, "5301", json!({"data": {"psn_no": psn("张伟")}})).await;
    assert_field_set(SAMPLE_5301, list.ok());
}

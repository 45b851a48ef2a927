//! One rule, every edge (issue 15): a business action is written once, in the application
//! layer and the engine, and the national interface, the REST API and the counter only
//! translate. An emergency visit 40 days before an admission, under a policy whose emergency
//! window is 60 days, is folded into the inpatient bill identically whichever edge settles it.

use std::sync::LazyLock;

use serde_json::json;
use yibao_engine::records::{Settlement, SettlementStatus};

use crate::helpers::*;

/// The seed policy with a 60-day emergency window instead of 7.
static WIDE_WINDOW: LazyLock<String> = LazyLock::new(|| {
    let policy = yibao_policy::SEED_POLICY_TOML.replace("window_days = 7", "window_days = 60");
    assert!(policy.contains("window_days = 60"), "the seed policy names its window");
    policy
});

/// An emergency visit (med_type 13) on 2026-10-12 settled at the hospital, then a stay
/// admitted on 2026-11-21 (40 days later) and discharged with a 10 000 bill. Returns the
/// emergency settlement and the stay's `mdtrt_id`.
async fn emergency_then_stay(app: &TestApp) -> (String, String) {
    let name = "张伟";
    let emergency = register_at(app, TERTIARY, name, "13", "2026-10-12 22:00:00").await;
    app.call(TERTIARY, "2204", json!({"feedetail": [fee_line("E1", &emergency, psn(name), "DEMO-A-001", "200", "1")]}))
        .await
        .ok();
    let mut data = presettle_data(name, &emergency, "200", false);
    data["med_type"] = json!("13");
    let settled = app.call(TERTIARY, "2207", json!({"data": data})).await;
    let emergency_setl = settled.ok()["setlinfo"]["setl_id"].as_str().unwrap().to_string();

    let stay = admit_at(app, name, "2026-11-21 09:00:00").await;
    app.call(TERTIARY, "2301", json!({"feedetail": [fee_line("Z1", &stay, psn(name), "DEMO-A-003", "10000", "1")]}))
        .await
        .ok();
    app.call(TERTIARY, "2402", json!({
        "dscginfo": {"mdtrt_id": stay, "psn_no": psn(name), "insutype": insutype(name), "endtime": "2026-11-23 09:00:00",
                     "dise_codg": "J18.900", "dise_name": "肺炎", "dscg_dept_codg": "B01", "dscg_dept_name": "呼吸科",
                     "dscg_bed": "12", "dscg_way": "1"},
        "diseinfo": [{"psn_no": psn(name), "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": "J18.900",
                      "diag_name": "肺炎", "diag_dept": "呼吸科", "dise_dor_no": "D001", "dise_dor_name": "主诊医生",
                      "diag_time": "2026-11-23 09:00:00"}]
    }))
    .await
    .ok();
    (emergency_setl, stay)
}

async fn settlement(app: &TestApp, setl_id: &str) -> Settlement {
    let id = setl_id.parse().unwrap();
    app.store.read(move |r| r.settlement(&id)).await.unwrap().expect("the settlement is stored")
}

/// What the stay's settlement must show on every edge: the emergency bill folded in and
/// its own settlement cancelled.
async fn assert_folded(app: &TestApp, edge: &str, setl_id: &str, emergency: &str) -> Settlement {
    let stay = settlement(app, setl_id).await;
    assert_eq!(stay.amounts.medfee, "10200".parse().unwrap(), "{edge}: the emergency bill is part of the stay's");
    assert_eq!(stay.folded.iter().map(|id| id.to_string()).collect::<Vec<_>>(), vec![emergency.to_string()], "{edge}");
    let cancelled = settlement(app, emergency).await;
    assert!(
        matches!(cancelled.status, SettlementStatus::Cancelled { .. }),
        "{edge}: the emergency settlement is undone"
    );
    stay
}

/// The hidden fields of the form whose `action` field is `action`, in page order.
fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let marker = format!("name=\"action\" value=\"{action}\"");
    let form = html
        .split("<form")
        .find(|form| form.contains(&marker))
        .unwrap_or_else(|| panic!("no form with action {action} in {html}"));
    let form = form.split("</form>").next().unwrap();
    form.split("<input")
        .skip(1)
        .filter(|input| !input.contains("type=\"checkbox\"") || input.contains(" checked"))
        .filter_map(|input| {
            let name = input.split("name=\"").nth(1)?.split('"').next()?.to_string();
            let value = input.split("value=\"").nth(1)?.split('"').next()?.to_string();
            Some((name, value))
        })
        .collect()
}

#[tokio::test]
async fn an_emergency_40_days_before_admission_folds_the_same_over_2304_rest_and_the_counter() {
    let policy: &'static str = &WIDE_WINDOW;

    // The national interface: 2304.
    let app = spawn_app_with_policy(policy, |application| application).await;
    let (emergency, stay) = emergency_then_stay(&app).await;
    let data = json!({"data": {"psn_no": psn("张伟"), "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number("张伟"),
        "medfee_sumamt": number("10200"), "psn_setlway": "01", "mdtrt_id": stay, "acct_used_flag": "0",
        "insutype": insutype("张伟"), "invono": "", "mid_setl_flag": "0"}});
    let pre = app.call(TERTIARY, "2303", data.clone()).await;
    assert_eq!(money(&pre.ok()["setlinfo"]["medfee_sumamt"]), "10200".parse().unwrap());
    let settled = app.call(TERTIARY, "2304", data).await;
    let setl_id = settled.ok()["setlinfo"]["setl_id"].as_str().unwrap().to_string();
    let over_nhsa = assert_folded(&app, "2304", &setl_id, &emergency).await;

    // The REST API.
    let app = spawn_app_with_policy(policy, |application| application).await;
    let (emergency, stay) = emergency_then_stay(&app).await;
    let path = format!("/api/v1/visits/{stay}/settlement");
    let body = json!({"psn_no": psn("张伟"), "medfee": "10200", "use_account": false});
    let mut dry = body.clone();
    dry["dry_run"] = json!(true);
    let priced = app.rest("POST", &path, None, &signed_headers(TERTIARY), Some(dry)).await;
    assert_eq!(priced.status, 200, "{}", priced.body);
    let mut headers = signed_headers(TERTIARY);
    headers.push(("idempotency-key".into(), "STAY-SETTLE-1".into()));
    let settled = app.rest("POST", &path, None, &headers, Some(body.clone())).await;
    assert_eq!(settled.status, 201, "{}", settled.body);
    let setl_id = settled.body["setl_id"].as_str().unwrap().to_string();
    let over_rest = assert_folded(&app, "REST", &setl_id, &emergency).await;
    // The idempotency fingerprint is what it always was (SHA-256 of the route's name, a newline
    // and the body): a retry stored before an upgrade is still recognised after it.
    let stored = app.store.read(|r| r.message(&"STAY-SETTLE-1".parse().unwrap())).await.unwrap().unwrap();
    let mut request = b"settle\n".to_vec();
    request.extend(serde_json::to_vec(&body).unwrap());
    assert_eq!(stored.request_hash, yibao_app::hex(&<sha2::Sha256 as sha2::Digest>::digest(&request)));
    assert_eq!(stored.infno, "rest:settle");

    // The hospital's counter: the stay is offered for settlement once the patient is identified.
    let app = spawn_app_with_policy(policy, |application| application).await;
    let (emergency, stay) = emergency_then_stay(&app).await;
    let secret = format!("demo-{TERTIARY}");
    let signed = browse(&app, "/counter/login", "", Some(&[("code", TERTIARY), ("secret", secret.as_str())])).await;
    let cookie = signed.cookie.unwrap();
    let found =
        browse(&app, "/counter/identify", &cookie, Some(&[("kind", "02"), ("number", id_number("张伟"))])).await;
    assert!(found.html.contains(&stay) && found.html.contains("¥10000.00"), "{}", found.html);
    let mut fields = form_fields(&found.html, "presettle_stay");
    fields.retain(|(name, _)| name != "use_account");
    let form: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let pre = browse(&app, "/counter/bill", &cookie, Some(&form)).await;
    assert_eq!(pre.status, 200, "{}", pre.html);
    assert!(pre.html.contains("¥10200.00") && pre.html.contains("并入本次住院结算"), "{}", pre.html);
    let fields = form_fields(&pre.html, "settle");
    let form: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let done = browse(&app, "/counter/bill", &cookie, Some(&form)).await;
    assert_eq!(done.status, 303, "{}", done.html);
    let setl_id = done.location.rsplit('/').next().unwrap().to_string();
    let at_counter = assert_folded(&app, "counter", &setl_id, &emergency).await;

    // The same money on every edge, to the fen.
    assert_eq!(over_nhsa.amounts, over_rest.amounts);
    assert_eq!(over_nhsa.amounts, at_counter.amounts);
    assert_eq!(over_nhsa.steps, over_rest.steps);
    assert_eq!(over_nhsa.steps, at_counter.steps);
}

#[tokio::test]
async fn outside_the_seed_window_the_emergency_keeps_its_own_settlement() {
    // The seed's own window is 7 days: the emergency 40 days before stays its own settlement.
    let app = spawn_app_with_policy(yibao_policy::SEED_POLICY_TOML, |application| application).await;
    let (emergency, stay) = emergency_then_stay(&app).await;
    let path = format!("/api/v1/visits/{stay}/settlement");
    let mut headers = signed_headers(TERTIARY);
    headers.push(("idempotency-key".into(), "STAY-SETTLE-2".into()));
    let body = json!({"psn_no": psn("张伟"), "medfee": "10000"});
    let settled = app.rest("POST", &path, None, &headers, Some(body)).await;
    assert_eq!(settled.status, 201, "{}", settled.body);
    let stay = settlement(&app, settled.body["setl_id"].as_str().unwrap()).await;
    assert!(stay.folded.is_empty());
    assert!(settlement(&app, &emergency).await.is_in_force());
}

/// The REST settlement of a stay, as every other role and many times at once: only the
/// treating hospital settles it, once.
#[tokio::test]
async fn a_stay_is_settled_over_rest_by_its_hospital_alone_and_once_however_many_ask_at_once() {
    let app =
        std::sync::Arc::new(spawn_app_with_policy(yibao_policy::SEED_POLICY_TOML, |application| application).await);
    let (_, stay) = emergency_then_stay(&app).await;
    let path = format!("/api/v1/visits/{stay}/settlement");
    let body = json!({"psn_no": psn("张伟"), "medfee": "10000"});
    let keyed = |code: &str, key: &str| {
        let mut headers = signed_headers(code);
        headers.push(("idempotency-key".into(), key.into()));
        headers
    };
    assert_eq!(
        app.rest("POST", &path, None, &[("idempotency-key".into(), "K0".into())], Some(body.clone())).await.status,
        401
    );
    let person = app.person_login("张伟").await;
    let as_person =
        app.rest("POST", &path, Some(&person), &[("idempotency-key".into(), "K0".into())], Some(body.clone())).await;
    assert_eq!(as_person.status, 403, "{}", as_person.body);
    let clerk = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let as_clerk =
        app.rest("POST", &path, Some(&clerk), &[("idempotency-key".into(), "K0".into())], Some(body.clone())).await;
    assert_eq!(as_clerk.status, 403, "{}", as_clerk.body);
    // Another hospital learns nothing: its answer is that of a visit that does not exist.
    let elsewhere = app.rest("POST", &path, None, &keyed(SECONDARY, "K0"), Some(body.clone())).await;
    let missing = app
        .rest("POST", "/api/v1/visits/3301009999999999/settlement", None, &keyed(SECONDARY, "K00"), Some(body.clone()))
        .await;
    assert_eq!((elsewhere.status, missing.status), (404, 404), "{} / {}", elsewhere.body, missing.body);
    assert_eq!(count(&app, "settlements").await, 1, "only the emergency visit's so far");

    // Twelve at once: six retries of one key, six keys of their own.
    let mut set = tokio::task::JoinSet::new();
    for index in 0..12 {
        let (app, path, body) = (app.clone(), path.clone(), body.clone());
        let key = if index % 2 == 0 { "SAME".to_string() } else { format!("OWN{index}") };
        set.spawn(async move {
            let mut headers = signed_headers(TERTIARY);
            headers.push(("idempotency-key".into(), key.clone()));
            (key, app.rest("POST", &path, None, &headers, Some(body)).await)
        });
    }
    let mut settled = std::collections::BTreeSet::new();
    let mut refused = 0;
    while let Some(joined) = set.join_next().await {
        let (key, reply) = joined.unwrap();
        match reply.status {
            200 | 201 => {
                settled.insert(reply.body["setl_id"].as_str().unwrap().to_string());
            }
            status => {
                assert_eq!(status, 422, "{key}: {}", reply.body);
                refused += 1;
            }
        }
    }
    assert_eq!(settled.len(), 1, "one settlement of the stay: {settled:?}");
    assert_eq!(count(&app, "settlements").await, 2);
    assert!(refused >= 6, "the other keys find nothing left to settle ({refused} refused)");
}

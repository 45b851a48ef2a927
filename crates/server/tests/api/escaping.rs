//! A name is text, never markup: a person whose name holds `<script>` is shown escaped on every
//! page that shows names (the portal, the counter, the agency), by the pages' template engine.

use serde_json::json;

use crate::helpers::*;

const NAME: &str = "<script>alert(1)</script>李";
const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;李";
const ID_NUMBER: &str = "110101199003074514";

/// The page shows the name, escaped, and nowhere as markup.
fn shows_escaped(page: &Page, what: &str) {
    assert_eq!(page.status, 200, "{what}: {}", page.html);
    assert!(page.html.contains(ESCAPED), "{what} shows the name: {}", page.html);
    assert!(!page.html.contains("<script>alert"), "{what} holds the name as markup: {}", page.html);
}

#[tokio::test]
async fn a_name_holding_script_is_escaped_on_every_page_that_shows_names() {
    let app = spawn_app().await;
    let admin = app.login(json!({"role": "operator", "username": "admin", "password": "Demo@2026"})).await;
    let person =
        json!({"id_number": ID_NUMBER, "name": NAME, "admdvs": "330100", "insutype": "310", "psn_type": "1101"});
    let created = app.rest("POST", "/api/v1/persons", Some(&admin), &[], Some(person)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let psn_no = created.body["psn_no"].as_str().unwrap().to_string();

    // The portal: the person sets a password with an activation code and sees their page.
    let issued = app.rest("POST", &format!("/api/v1/persons/{psn_no}/activation-code"), Some(&admin), &[], None).await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    let code = issued.body["code"].as_str().unwrap().to_string();
    let initial = app.login(json!({"role": "person", "id_number": ID_NUMBER, "password": &ID_NUMBER[11..17]})).await;
    let body = json!({"new_password": "Script2026pass", "activation_code": code});
    let set = app.rest("POST", "/api/v1/me/password", Some(&initial), &[], Some(body)).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let login =
        browse(&app, "/portal/login", "", Some(&[("id_number", ID_NUMBER), ("password", "Script2026pass")])).await;
    let portal = login.cookie.unwrap_or_else(|| panic!("portal login: {} {}", login.status, login.html));
    shows_escaped(&browse(&app, "/portal/me", &portal, None).await, "the portal's overview");

    // The counter: identified, pre-settled, settled, the receipt.
    let signed =
        browse(&app, "/counter/login", "", Some(&[("code", PHARMACY), ("secret", &format!("demo-{PHARMACY}"))])).await;
    let counter = signed.cookie.expect("signed in at the counter");
    let found = browse(&app, "/counter/identify", &counter, Some(&[("kind", "02"), ("number", ID_NUMBER)])).await;
    shows_escaped(&found, "the counter's identification");
    let proof = hidden_value(&found.html, "proof");
    let lines = [
        ("psn_no", psn_no.as_str()),
        ("insutype", "310"),
        ("cert_type", "02"),
        ("cert_no", ""),
        ("use_account", "false"),
        ("code0", "DEMO-A-001"),
        ("price0", "12.30"),
        ("qty0", "1"),
        ("proof", proof.as_str()),
    ];
    let mut presettle = lines.to_vec();
    presettle.push(("action", "presettle"));
    let pre = browse(&app, "/counter/bill", &counter, Some(&presettle)).await;
    shows_escaped(&pre, "the counter's pre-settlement");
    let (msgid, medfee, infno) =
        (hidden_value(&pre.html, "msgid"), hidden_value(&pre.html, "medfee"), hidden_value(&pre.html, "infno"));
    let mut settle = lines.to_vec();
    settle.extend([("action", "settle"), ("msgid", &msgid), ("medfee", &medfee), ("infno", &infno)]);
    let settled = browse(&app, "/counter/bill", &counter, Some(&settle)).await;
    assert_eq!(settled.status, 303, "{}", settled.html);
    shows_escaped(&browse(&app, &settled.location, &counter, None).await, "the counter's receipt");

    // The agency: the registry.
    let signed = browse(&app, "/agency/login", "", Some(&[("username", "admin"), ("password", "Demo@2026")])).await;
    let agency = signed.cookie.expect("signed in at the agency");
    shows_escaped(&browse(&app, "/agency/persons", &agency, None).await, "the agency's registry");
}

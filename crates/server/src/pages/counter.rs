//! The counter of a designated hospital or pharmacy (R6, R7): server-rendered pages under
//! `/counter` for the person at the till. Sign in with the institution's code and gateway secret; identify the
//! patient by ID number, card (number and identification code) or a scanned or pasted e-voucher
//! QR code; bill lines from the catalogue; pre-settle to see who pays what and why; settle;
//! print the receipt; cancel.
//!
//! The settlement is the national interface's, through the same engine commands: at a pharmacy
//! the purchase (2101/2102), at a hospital an outpatient visit opened and billed at
//! pre-settlement (2201, 2204) and settled (2206/2207). The pre-settlement is the settlement's
//! dry run, and the settlement carries a message id made when the pre-settlement was shown, so
//! pressing "settle" twice settles once.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use yibao_app::{Channel, Idempotency, PurchaseRequest, Run, SettlementRef, VisitRef};
use yibao_domain::{
    CardNo, CertType, IdNumber, InstitutionCode, InstitutionKind, InsuranceType, MdtrtId, MedType, Money, MsgId,
    PersonNo, Quantity, SetlId, UnitPrice,
};
use yibao_engine::commands::{LineUpload, Purchase, SettleRequest, Treated, VisitDetails};
use yibao_engine::records::{Certificate, Institution, Settlement, Visit, VisitKind, VisitStatus};
use yibao_engine::{Outcome, Reply};

use crate::kit::sessions::{Session, Subject};
use crate::nhsa::infno::Infno;
use crate::pages::html::{Lang, SessionCookie, error_box, language_switch, shell, yuan};
use crate::rest::ApiError;
use crate::state::AppState;
use maud::{Markup, html};

const COOKIE: SessionCookie = SessionCookie { name: "yibao_counter", path: "/counter" };
/// Bill lines the form offers.
const LINES: usize = 5;
/// Stays shown for settlement at most (newest first).
const STAYS_SHOWN: u64 = 10;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/counter", get(identify_page))
        .route("/counter/login", get(login_page).post(login))
        .route("/counter/logout", post(logout))
        .route("/counter/identify", post(identify))
        .route("/counter/bill", post(bill))
        .route("/counter/receipts/{setl_id}", get(receipt))
        .route("/counter/receipts/{setl_id}/cancel", post(cancel))
}

/// The signed-in institution of a counter request.
struct Till(Option<(Institution, String)>);

impl FromRequestParts<Arc<AppState>> for Till {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Till, Self::Rejection> {
        let Some((Session { subject: Subject::Institution { code }, .. }, token)) =
            COOKIE.session(&parts.headers, state)
        else {
            return Ok(Till(None));
        };
        let Ok(code) = code.parse::<InstitutionCode>() else { return Ok(Till(None)) };
        let institution = state.institution(&code).await.ok().flatten();
        Ok(Till(institution.map(|institution| (institution, token))))
    }
}

fn page(lang: Lang, title: &str, till: Option<&Institution>, body: Markup) -> Response {
    let nav = html! {
        @if let Some(institution) = till {
            span { (institution.name) }
            (language_switch(lang))
            form method="post" action="/counter/logout" {
                button type="submit" { (lang.t("签退", "Sign out")) }
            }
        } @else {
            (language_switch(lang))
        }
    };
    shell(lang, title, ("/counter", lang.t("医保结算窗口", "Insurance counter")), nav, body)
}

fn refused(lang: Lang, till: &Institution, status: StatusCode, message: &str, back: bool) -> Response {
    let body = html! {
        p.error role="alert" { (message) }
        @if back {
            p { a href="/counter" { (lang.t("返回", "Back")) } }
        }
    };
    let mut response = page(lang, lang.t("未能办理", "Not done"), Some(till), body);
    *response.status_mut() = status;
    response
}

fn engine_message(lang: Lang, error: &yibao_engine::EngineError) -> String {
    lang.t(&error.zh, &error.en).to_string()
}

async fn login_page(lang: Lang, till: Till) -> Response {
    match till.0 {
        Some(_) => Redirect::to("/counter").into_response(),
        None => login_form(lang, None),
    }
}

fn login_form(lang: Lang, error: Option<&ApiError>) -> Response {
    let body = html! {
        @if let Some(error) = error {
            (error_box(lang, error))
        }
        form.card method="post" action="/counter/login" {
            label for="code" { (lang.t("定点机构编码", "Institution code")) }
            input id="code" name="code" required maxlength="12" autocomplete="username";
            label for="secret" { (lang.t("接口密钥", "Gateway secret")) }
            input id="secret" name="secret" type="password" required maxlength="128" autocomplete="current-password";
            button type="submit" { (lang.t("签到", "Sign in")) }
        }
    };
    let mut response = page(lang, lang.t("窗口签到", "Counter sign-in"), None, body);
    if let Some(error) = error {
        *response.status_mut() = error.status;
    }
    response
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    code: String,
    secret: String,
}

/// Signs a counter in with the institution's code and gateway secret. Attempts are counted
/// per code and per source address before the secret is compared (see [`crate::guard`]); an
/// unknown code is counted like a real one.
async fn login(
    State(state): State<Arc<AppState>>,
    client: crate::guard::ClientAddr,
    lang: Lang,
    Form(form): Form<LoginForm>,
) -> Response {
    let refused = || {
        let mut error = ApiError::unauthenticated("unknown institution code or wrong secret");
        error.message_zh = "机构编码或密钥错误（或机构不在定点期内）".into();
        error
    };
    let code = form.code.trim().to_ascii_uppercase();
    if code.is_empty() || code.chars().count() > 30 {
        return login_form(lang, Some(&refused()));
    }
    let institution = match code.parse::<InstitutionCode>() {
        Ok(code) => state.institution(&code).await.ok().flatten(),
        Err(_) => None,
    };
    let today = state.store.now().date();
    let institution = institution.filter(|i| i.designated_from <= today && today <= i.designated_to);
    let verdict = crate::guard::try_plain(&state, client, "counter", &code, || {
        institution.as_ref().is_some_and(|i| crate::kit::secret::constant_time_equal(&i.gateway_secret, &form.secret))
    });
    let institution = match (verdict, institution) {
        (Ok(()), Some(institution)) => institution,
        (Err(verdict), _) => {
            let error = crate::guard::refusal(&verdict).unwrap_or_else(refused);
            return login_form(lang, Some(&error));
        }
        (Ok(()), None) => return login_form(lang, Some(&refused())),
    };
    let session = Session {
        subject: Subject::Institution { code: institution.code.to_string() },
        change_password_only: false,
        expires: crate::kit::clock::unix_now() + crate::kit::sessions::SESSION_SECONDS,
    };
    let token = state.sessions.start(session, crate::kit::clock::unix_now());
    COOKIE.logged_in(&state, &token, "/counter")
}

async fn logout(State(state): State<Arc<AppState>>, till: Till) -> Response {
    COOKIE.logged_out(&state, till.0.as_ref().map(|(_, token)| token.as_str()))
}

async fn identify_page(lang: Lang, till: Till) -> Response {
    let Some((institution, _)) = till.0 else { return Redirect::to("/counter/login").into_response() };
    let body = html! {
        form.card method="post" action="/counter/identify" {
            label for="kind" { (lang.t("凭证类型", "Certificate")) }
            select id="kind" name="kind" {
                option value="01" { (lang.t("医保电子凭证（扫码或粘贴）", "E-voucher QR code (scanned or pasted)")) }
                option value="02" { (lang.t("身份证号", "ID number")) }
                option value="03" { (lang.t("社保卡", "Social security card")) }
            }
            label for="number" { (lang.t("二维码、身份证号或卡号", "QR code, ID number or card number")) }
            input id="number" name="number" required maxlength="64" autocomplete="off" autofocus;
            label for="card_sn" { (lang.t("卡识别码（刷卡时）", "Card identification code (cards only)")) }
            input id="card_sn" name="card_sn" maxlength="32" autocomplete="off";
            button type="submit" { (lang.t("识别参保人", "Identify")) }
        }
    };
    page(lang, lang.t("识别参保人", "Identify the patient"), Some(&institution), body)
}

#[derive(Debug, Deserialize)]
struct IdentifyForm {
    kind: String,
    number: String,
    card_sn: Option<String>,
}

async fn identify(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    till: Till,
    Form(form): Form<IdentifyForm>,
) -> Response {
    let Some((institution, _)) = till.0 else { return Redirect::to("/counter/login").into_response() };
    let number = form.number.trim().to_string();
    let not_found = |zh: &str, en: &str| refused(lang, &institution, StatusCode::NOT_FOUND, lang.t(zh, en), true);
    let (person, certificate) = match form.kind.as_str() {
        "01" => match crate::nhsa::ec::decode_at_counter(&state, &institution, &number).await {
            Ok((psn_no, token)) => {
                let Ok(psn_no) = psn_no.parse() else { return not_found("二维码无效", "Invalid code") };
                match state.store.read(move |r| r.person(&psn_no)).await {
                    Ok(Some(person)) => (person, Certificate { kind: CertType::EVoucherToken, number: token }),
                    _ => return not_found("未找到参保人", "No such insured person"),
                }
            }
            Err(message) => return refused(lang, &institution, StatusCode::UNPROCESSABLE_ENTITY, &message, true),
        },
        "02" => {
            let Ok(id) = number.to_ascii_uppercase().parse::<IdNumber>() else {
                return refused(
                    lang,
                    &institution,
                    StatusCode::BAD_REQUEST,
                    lang.t("身份证号格式错误", "Malformed ID number"),
                    true,
                );
            };
            let lookup = id.clone();
            match state.store.read(move |r| r.person_by_id_number(lookup.expose())).await {
                // The form carries no ID number: it is read again when the bill is priced.
                Ok(Some(person)) => (person, Certificate { kind: CertType::IdNumber, number: String::new() }),
                _ => return not_found("未找到参保人", "No such insured person"),
            }
        }
        "03" => {
            let Ok(card_no) = number.parse::<CardNo>() else { return not_found("未找到该卡", "No such card") };
            let sn = form.card_sn.unwrap_or_default();
            let found = state
                .store
                .read(move |r| match r.card(&card_no)? {
                    Some(card) if card.card_sn.as_str() == sn.trim() => Ok(r.person(&card.psn_no)?.map(|p| (p, card))),
                    _ => Ok(None),
                })
                .await;
            match found {
                Ok(Some((person, card))) => {
                    (person, Certificate { kind: CertType::Card, number: card.card_no.to_string() })
                }
                // A wrong identification code looks like an unknown card.
                _ => {
                    return not_found(
                        "未找到该卡（卡号或卡识别码不符）",
                        "No such card (number or identification code)",
                    );
                }
            }
        }
        _ => {
            return refused(
                lang,
                &institution,
                StatusCode::BAD_REQUEST,
                lang.t("凭证类型错误", "Unknown certificate type"),
                true,
            );
        }
    };
    let number = person.psn_no.clone();
    let (current, prior) = state.store.read(move |r| r.balances(&number)).await.unwrap_or_default();
    // A hospital's settlement desk also settles the patient's stays here (出院结算).
    let stays = match institution.kind {
        InstitutionKind::Hospital => {
            let (number, code) = (person.psn_no.clone(), institution.code.clone());
            state.store.read(move |r| r.stays_to_settle(&number, &code, STAYS_SHOWN)).await.unwrap_or_default()
        }
        InstitutionKind::Pharmacy => Vec::new(),
    };
    let bill = Bill {
        psn_no: person.psn_no.to_string(),
        insutype: person.insurance.code().to_string(),
        cert_type: certificate.kind.code().to_string(),
        cert_no: certificate.number,
        use_account: true,
        mid_stay: false,
        msgid: None,
        medfee: None,
        proof: String::new(),
        lines: Vec::new(),
    };
    let bill = Bill { proof: party_proof(&state, &institution.code, &bill), ..bill };
    let header = html! {
        section.card {
            h2 { (person.name) }
            p.muted {
                (lang.t("身份证号", "ID number")) " " (person.id_number.masked()) " · " (person.insurance.name_zh())
                " · " (lang.t("个人账户余额", "account balance")) " " (yuan(current + prior))
            }
        }
        (stays_section(lang, &bill, &stays))
    };
    bill_page(&state, lang, &institution, header, &bill, None)
}

/// The patient's stays here that still hold unsettled lines, each with the button that
/// pre-settles it: at discharge, or mid-stay while the patient is still in.
fn stays_section(lang: Lang, bill: &Bill, stays: &[(Visit, Money)]) -> Markup {
    html! {
        @if !stays.is_empty() {
            section.card {
                h2 { (lang.t("住院待结算", "Stays to settle")) }
                ul.items {
                    @for (stay, unsettled) in stays {
                        @let discharged = stay.status == VisitStatus::Discharged;
                        li {
                            p {
                                strong { (lang.t("就诊ID", "Visit")) " " (stay.mdtrt_id.as_str()) }
                                br;
                                span.muted {
                                    (lang.t("入院", "admitted")) " " (stay.begin.date()) " · "
                                    @if discharged {
                                        (lang.t("已出院", "discharged"))
                                    } @else {
                                        (lang.t("在院", "in hospital"))
                                    }
                                }
                                br;
                                (lang.t("未结算费用", "Unsettled")) " " (yuan(*unsettled))
                            }
                            form method="post" action="/counter/bill" {
                                (bill.parties_hidden())
                                (hidden("action", "presettle_stay"))
                                (hidden("mdtrt_id", stay.mdtrt_id.as_str()))
                                @if !discharged {
                                    (hidden("mid_stay", "true"))
                                }
                                label {
                                    input.check type="checkbox" name="use_account" value="true" checked;
                                    " " (lang.t("使用个人账户支付", "Pay from the personal account"))
                                }
                                button type="submit" {
                                    @if discharged {
                                        (lang.t("出院结算预结算", "Pre-settle the stay"))
                                    } @else {
                                        (lang.t("中途结算预结算", "Pre-settle mid-stay"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A bill as the form carries it between pages.
#[derive(Debug, Clone)]
struct Bill {
    psn_no: String,
    insutype: String,
    cert_type: String,
    cert_no: String,
    use_account: bool,
    /// A stay settled before discharge.
    mid_stay: bool,
    msgid: Option<String>,
    /// The total the pre-settlement showed: the settlement must come to the same.
    medfee: Option<String>,
    /// The server's MAC over the institution and the identified person's fields (see
    /// [`party_proof`]): the form cannot be turned to another person.
    proof: String,
    /// (catalogue code, unit price, quantity) as typed.
    lines: Vec<(String, String, String)>,
}

impl Bill {
    /// The bill of a submitted form (its fields as sent; checked when priced).
    fn of(fields: &std::collections::HashMap<String, String>) -> Bill {
        let field = |name: &str| fields.get(name).map(|v| v.trim().to_string()).unwrap_or_default();
        let lines = (0..LINES)
            .map(|n| (field(&format!("code{n}")), field(&format!("price{n}")), field(&format!("qty{n}"))))
            .filter(|(code, _, _)| !code.is_empty())
            .collect();
        Bill {
            psn_no: field("psn_no"),
            insutype: field("insutype"),
            cert_type: field("cert_type"),
            cert_no: field("cert_no"),
            use_account: field("use_account") == "true",
            mid_stay: field("mid_stay") == "true",
            msgid: fields.get("msgid").cloned(),
            medfee: fields.get("medfee").map(|m| m.trim().to_string()),
            proof: field("proof"),
            lines,
        }
    }

    /// The hidden fields naming whom the bill is for, with their proof. The ID number is never
    /// in a form: it is read again from the person when the bill is priced.
    fn parties_hidden(&self) -> Markup {
        let cert_no = if self.cert_type == CertType::IdNumber.code() { "" } else { &self.cert_no };
        html! {
            (hidden("psn_no", &self.psn_no))
            (hidden("insutype", &self.insutype))
            (hidden("cert_type", &self.cert_type))
            (hidden("cert_no", cert_no))
            (hidden("proof", &self.proof))
        }
    }
}

/// A MAC (the server secret's) over the counter's institution and the fields naming the person
/// it identified: the forms carry them from page to page, and a form changed to name another
/// person (or brought from another institution's counter) is refused.
fn party_proof(state: &AppState, institution: &InstitutionCode, bill: &Bill) -> String {
    let cert_no = if bill.cert_type == CertType::IdNumber.code() { "" } else { &bill.cert_no };
    let message =
        format!("counter-party\n{institution}\n{}\n{}\n{}\n{cert_no}", bill.psn_no, bill.insutype, bill.cert_type);
    yibao_app::hex(&state.secrets.mac(message.as_bytes()))
}

fn hidden(name: &str, value: &str) -> Markup {
    html! { input type="hidden" name=(name) value=(value); }
}

fn bill_page(
    state: &AppState,
    lang: Lang,
    till: &Institution,
    header: Markup,
    bill: &Bill,
    error: Option<&str>,
) -> Response {
    let catalogue = state.store.catalogue();
    let today = state.store.now().date();
    let entries: Vec<_> =
        catalogue.entries().into_iter().filter(|e| e.begin <= today && today <= e.end).cloned().collect();
    let body = html! {
        (header)
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        form.card method="post" action="/counter/bill" {
            (bill.parties_hidden())
            div.scroll {
                table {
                    thead {
                        tr {
                            th scope="col" { (lang.t("项目", "Item")) }
                            th scope="col" { (lang.t("单价（元）", "Unit price (yuan)")) }
                            th scope="col" { (lang.t("数量", "Quantity")) }
                        }
                    }
                    tbody {
                        @for n in 0..LINES {
                            @let (code, price, quantity) = bill.lines.get(n).cloned().unwrap_or_default();
                            @let k = n + 1;
                            tr {
                                td {
                                    label.sr for={ "code" (n) } { (lang.t("项目", "Item")) " " (k) }
                                    select id={ "code" (n) } name={ "code" (n) } {
                                        option value="" { "—" }
                                        @for e in &entries {
                                            option value=(e.code) selected[e.code == code] {
                                                (e.name) " (" (e.code) ")"
                                            }
                                        }
                                    }
                                }
                                td {
                                    label.sr for={ "price" (n) } { (lang.t("单价", "Unit price")) " " (k) }
                                    input id={ "price" (n) } name={ "price" (n) } inputmode="decimal" maxlength="12"
                                        value=(price);
                                }
                                td {
                                    label.sr for={ "qty" (n) } { (lang.t("数量", "Quantity")) " " (k) }
                                    input id={ "qty" (n) } name={ "qty" (n) } inputmode="decimal" maxlength="8"
                                        value=(quantity);
                                }
                            }
                        }
                    }
                }
            }
            label {
                input.check type="checkbox" name="use_account" value="true" checked[bill.use_account];
                " " (lang.t("使用个人账户支付", "Pay from the personal account"))
            }
            button type="submit" name="action" value="presettle" { (lang.t("预结算", "Pre-settle")) }
        }
    };
    page(lang, lang.t("收费", "Bill"), Some(till), body)
}

/// The purchase the form describes, with `msgid`.
/// The bill's lines, checked.
fn lines_of(bill: &Bill, now: yibao_domain::DateTime) -> Result<Vec<LineUpload>, String> {
    let mut lines = Vec::new();
    for (n, (code, price, quantity)) in bill.lines.iter().enumerate() {
        let price: UnitPrice = price.parse().map_err(|_| format!("第{}行单价格式错误", n + 1))?;
        let quantity: Quantity = quantity.parse().map_err(|_| format!("第{}行数量格式错误", n + 1))?;
        lines.push(LineUpload::plain((n + 1).to_string(), "COUNTER", code, price, quantity, now));
    }
    match lines.is_empty() {
        true => Err("请至少录入一项收费项目".into()),
        false => Ok(lines),
    }
}

/// Who the bill is for, as the engine reads it.
fn parties(bill: &Bill) -> Result<(PersonNo, InsuranceType, Certificate), String> {
    Ok((
        bill.psn_no.parse().map_err(|_| "参保人编号错误".to_string())?,
        bill.insutype.parse().map_err(|_| "险种错误".to_string())?,
        Certificate {
            kind: bill.cert_type.parse().map_err(|_| "凭证类型错误".to_string())?,
            number: bill.cert_no.clone(),
        },
    ))
}

/// A hospital's outpatient visit for the bill, opened and billed as an HIS does with 2201 and
/// 2204 (at pre-settlement; the settlement then settles it).
async fn open_outpatient(state: &AppState, lang: Lang, till: &Institution, bill: &Bill) -> Result<MdtrtId, String> {
    let now = state.store.now();
    let lines = lines_of(bill, now)?;
    let (psn_no, insurance, certificate) = parties(bill)?;
    let details = VisitDetails {
        institution: till.code.clone(),
        psn_no: psn_no.clone(),
        insurance,
        begin: now,
        certificate,
        his_no: String::new(),
        dept_code: String::new(),
        dept_name: String::new(),
        doctor_code: String::new(),
        doctor_name: String::new(),
        med_type: Some(MedType::GENERAL_OUTPATIENT),
        diagnosis_code: None,
        diagnosis_name: None,
        diagnoses: Vec::new(),
        insured_admdvs: None,
    };
    let open = yibao_app::visits::open(details, VisitKind::Outpatient).map_err(|error| engine_message(lang, &error))?;
    let visit = match state.store.execute(open).await {
        Ok(Outcome::Visit(visit)) => visit,
        Ok(_) => return Err("unexpected".into()),
        Err(error) => return Err(engine_message(lang, &error)),
    };
    let opened = VisitRef { institution: till.code.clone(), psn_no, mdtrt_id: visit.mdtrt_id.clone() };
    let upload = yibao_app::visits::upload_lines(opened, Some(VisitKind::Outpatient), lines);
    state.store.execute(upload).await.map_err(|error| engine_message(lang, &error))?;
    Ok(visit.mdtrt_id)
}

/// What settles the bill: a pharmacy purchase (2102), or the settlement of the hospital
/// visit (2207 for the counter's own outpatient visit, 2304 for a stay).
enum Charge {
    Purchase(Purchase),
    Visit(SettleRequest),
}

impl Charge {
    /// Runs it as `run` says, through the application layer.
    async fn run(self, state: &AppState, run: Run) -> Result<Reply, yibao_engine::EngineError> {
        match self {
            Charge::Purchase(purchase) => yibao_app::run(&state.store, Box::new(purchase), run).await,
            Charge::Visit(request) => yibao_app::settle(&state.store, request, Treated::Here, run).await,
        }
    }
}

/// The charge of the bill (of the hospital visit `mdtrt_id`), made to be run as `run` says.
fn charge(
    state: &AppState,
    till: &Institution,
    bill: &Bill,
    mdtrt_id: Option<&MdtrtId>,
    run: &Run,
) -> Result<Charge, String> {
    let (psn_no, insurance, certificate) = parties(bill)?;
    let declared_medfee = match &bill.medfee {
        Some(medfee) => Some(medfee.parse::<Money>().map_err(|_| "费用总额格式错误".to_string())?),
        None => None,
    };
    Ok(match (till.kind, mdtrt_id) {
        (InstitutionKind::Pharmacy, _) => {
            let now = state.store.now();
            let request = PurchaseRequest {
                declared_medfee,
                use_account: bill.use_account,
                ..PurchaseRequest::new(till.code.clone(), psn_no, insurance, certificate, lines_of(bill, now)?, now)
            };
            // Recorded under the message id it will run under (a settlement's, or a preview's).
            Charge::Purchase(yibao_app::settlement::purchase(request, run.key()))
        }
        // The visit's own kind: the counter's outpatient visit, or a stay settled at discharge
        // (or mid-stay while the patient is still in).
        (InstitutionKind::Hospital, Some(mdtrt_id)) => Charge::Visit(SettleRequest {
            insurance: Some(insurance),
            declared_medfee,
            use_account: bill.use_account,
            mid_stay: bill.mid_stay,
            certificate: Some(certificate),
            ..SettleRequest::new(till.code.clone(), psn_no, mdtrt_id.clone())
        }),
        (InstitutionKind::Hospital, None) => return Err("请先预结算".into()),
    })
}

fn split_table(lang: Lang, s: &Settlement) -> Markup {
    let a = &s.amounts;
    let subsidy = (!a.subsidy.is_zero()).then(|| (lang.t("公务员医疗补助", "Civil-servant subsidy"), a.subsidy));
    let rows = [
        (lang.t("总费用", "Total"), a.medfee),
        (lang.t("全自费", "Fully self-paid"), a.fully_selfpaid),
        (lang.t("先行自付", "First self-pay"), a.first_selfpay),
        (lang.t("超限价自付", "Over the price cap"), a.over_limit),
        (lang.t("统筹基金支付", "Paid by the fund"), a.fund),
    ]
    .into_iter()
    .chain(subsidy)
    .chain([(lang.t("个人账户支付", "Personal account"), a.account()), (lang.t("现金支付", "Cash"), a.cash)]);
    html! {
        div.scroll {
            table {
                tbody {
                    @for (label, amount) in rows {
                        tr {
                            th scope="row" { (label) }
                            td.num { (yuan(amount)) }
                        }
                    }
                }
            }
        }
        h2 { (lang.t("说明", "Explanation")) }
        ol {
            @for step in &s.steps {
                li { (lang.t(&step.zh, &step.en)) " " span.muted { "(" (yuan(step.amount)) ")" } }
            }
        }
    }
}

async fn bill(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    till: Till,
    Form(fields): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let Some((institution, _)) = till.0 else { return Redirect::to("/counter/login").into_response() };
    if fields.len() > 64 {
        return refused(lang, &institution, StatusCode::BAD_REQUEST, "too many fields", true);
    }
    let mut bill = Bill::of(&fields);
    if !crate::kit::secret::constant_time_equal(&party_proof(&state, &institution.code, &bill), &bill.proof) {
        return refused(
            lang,
            &institution,
            StatusCode::BAD_REQUEST,
            lang.t("请重新识别参保人", "Identify the patient again"),
            true,
        );
    }
    if bill.cert_type == CertType::IdNumber.code() {
        let Ok(psn_no) = bill.psn_no.parse() else {
            return refused(
                lang,
                &institution,
                StatusCode::BAD_REQUEST,
                lang.t("参保人编号错误", "Bad person number"),
                true,
            );
        };
        match state.store.read(move |r| r.person(&psn_no)).await {
            Ok(Some(person)) => bill.cert_no = person.id_number.expose().to_string(),
            _ => {
                return refused(
                    lang,
                    &institution,
                    StatusCode::NOT_FOUND,
                    lang.t("未找到参保人", "No such insured person"),
                    true,
                );
            }
        }
    }
    let header = html! {};
    match fields.get("action").map(String::as_str).unwrap_or_default() {
        "presettle" => {
            let visit = match institution.kind {
                InstitutionKind::Hospital => match open_outpatient(&state, lang, &institution, &bill).await {
                    Ok(mdtrt_id) => Some(mdtrt_id),
                    Err(message) => return bill_page(&state, lang, &institution, header, &bill, Some(&message)),
                },
                InstitutionKind::Pharmacy => None,
            };
            match presettled(&state, lang, &institution, &bill, visit).await {
                Ok(page) => page,
                Err(message) => bill_page(&state, lang, &institution, header, &bill, Some(&message)),
            }
        }
        // A stay of this hospital settled at discharge (or mid-stay): its lines are the ward's.
        "presettle_stay" => {
            if institution.kind != InstitutionKind::Hospital {
                let message = lang.t("药店没有住院", "A pharmacy has no stays");
                return refused(lang, &institution, StatusCode::BAD_REQUEST, message, true);
            }
            let Some(visit) = fields.get("mdtrt_id").and_then(|id| id.parse::<MdtrtId>().ok()) else {
                return refused(
                    lang,
                    &institution,
                    StatusCode::BAD_REQUEST,
                    lang.t("就诊ID错误", "Bad visit id"),
                    true,
                );
            };
            // Only a stay the page offers for this person: this hospital's, theirs, not settled.
            let offered = match bill.psn_no.parse::<PersonNo>() {
                Ok(psn_no) => {
                    let code = institution.code.clone();
                    let stays = state.store.read(move |r| r.stays_to_settle(&psn_no, &code, STAYS_SHOWN)).await;
                    stays.is_ok_and(|stays| stays.iter().any(|(stay, _)| stay.mdtrt_id == visit))
                }
                Err(_) => false,
            };
            if !offered {
                let message =
                    lang.t("该参保人在本院没有待结算的该次住院", "No such stay to settle for this patient here");
                return refused(lang, &institution, StatusCode::NOT_FOUND, message, true);
            }
            match presettled(&state, lang, &institution, &bill, Some(visit)).await {
                Ok(page) => page,
                Err(message) => refused(lang, &institution, StatusCode::UNPROCESSABLE_ENTITY, &message, true),
            }
        }
        "settle" => {
            let Some(msgid) = bill.msgid.clone().and_then(|m| m.parse::<MsgId>().ok()) else {
                return refused(
                    lang,
                    &institution,
                    StatusCode::BAD_REQUEST,
                    lang.t("请先预结算", "Pre-settle first"),
                    true,
                );
            };
            let visit = fields.get("mdtrt_id").and_then(|id| id.parse::<MdtrtId>().ok());
            let infno = match (fields.get("infno").and_then(|code| Infno::parse(code)), &visit) {
                (Some(infno @ (Infno::OutpatientSettle | Infno::InpatientSettle)), Some(_))
                | (Some(infno @ Infno::PharmacySettle), None) => infno,
                _ => {
                    let message = lang.t("请先预结算", "Pre-settle first");
                    return refused(lang, &institution, StatusCode::BAD_REQUEST, message, true);
                }
            };
            // The same message id with another bill is refused, not replayed.
            let request = format!(
                "{}|{}|{}|{}|{}|{:?}|{:?}|{:?}",
                bill.psn_no,
                bill.cert_type,
                bill.cert_no,
                bill.use_account,
                bill.mid_stay,
                bill.medfee,
                bill.lines,
                visit
            );
            let idempotency = Idempotency {
                key: msgid,
                institution: institution.code.clone(),
                channel: Channel::Counter(infno.code()),
                request_hash: yibao_app::sha256_hex(&[request.as_bytes()]),
                reversible: true,
            };
            let run = Run::Commit(idempotency.envelope(Box::new(|outcome| match outcome {
                Outcome::Settlement(s) => s.settlement.setl_id.as_str().as_bytes().to_vec(),
                _ => Vec::new(),
            })));
            let charge = match charge(&state, &institution, &bill, visit.as_ref(), &run) {
                Ok(charge) => charge,
                Err(message) => return refused(lang, &institution, StatusCode::BAD_REQUEST, &message, true),
            };
            match charge.run(&state, run).await {
                Ok(Reply::Done { outcome: Outcome::Settlement(outcome), .. }) => {
                    Redirect::to(&format!("/counter/receipts/{}", outcome.settlement.setl_id)).into_response()
                }
                // Pressed twice: the stored answer is the settlement id.
                Ok(Reply::Replayed(body)) => {
                    Redirect::to(&format!("/counter/receipts/{}", String::from_utf8_lossy(&body))).into_response()
                }
                Ok(_) => refused(lang, &institution, StatusCode::INTERNAL_SERVER_ERROR, "unexpected", true),
                Err(error) => {
                    refused(lang, &institution, StatusCode::UNPROCESSABLE_ENTITY, &engine_message(lang, &error), true)
                }
            }
        }
        _ => refused(lang, &institution, StatusCode::BAD_REQUEST, "action", true),
    }
}

/// The pre-settlement of a bill (of the hospital visit `visit`): who would pay what and why,
/// with the form that settles it. Its message id is made now: settling twice from this page
/// settles once.
async fn presettled(
    state: &AppState,
    lang: Lang,
    institution: &Institution,
    bill: &Bill,
    visit: Option<MdtrtId>,
) -> Result<Response, String> {
    let charge = charge(state, institution, bill, visit.as_ref(), &Run::Preview)?;
    let (priced, person) = match charge.run(state, Run::Preview).await {
        Ok(Reply::Done { outcome: Outcome::Settlement(outcome), .. }) => (outcome.settlement, outcome.person),
        Ok(_) => return Err("unexpected".into()),
        Err(error) => return Err(engine_message(lang, &error)),
    };
    let msgid = format!("{}C{}", institution.code, yibao_app::hex(&crate::kit::secret::random_bytes::<8>()));
    // What the settlement is recorded as: the transaction an HIS would have sent.
    let infno = match priced.visit_kind {
        VisitKind::Pharmacy => Infno::PharmacySettle,
        VisitKind::Outpatient => Infno::OutpatientSettle,
        VisitKind::Inpatient => Infno::InpatientSettle,
    };
    let body = html! {
        p.notice {
            (lang.t("预结算：尚未扣款。确认后点击“结算”。", "Pre-settlement: nothing is paid yet. Confirm, then settle."))
        }
        // Whose bill it is, before anything is paid: the cashier checks it against the patient.
        p { strong { (person.name) } " · " (person.id_number.masked()) }
        (split_table(lang, &priced))
        form method="post" action="/counter/bill" {
            (bill.parties_hidden())
            (hidden("msgid", &msgid))
            (hidden("medfee", &priced.amounts.medfee.to_string()))
            (hidden("infno", infno.code()))
            (hidden("action", "settle"))
            @if let Some(mdtrt_id) = &visit {
                (hidden("mdtrt_id", mdtrt_id.as_str()))
            }
            @if bill.use_account {
                (hidden("use_account", "true"))
            }
            @if bill.mid_stay {
                (hidden("mid_stay", "true"))
            }
            @for (n, (code, price, quantity)) in bill.lines.iter().enumerate() {
                (hidden(&format!("code{n}"), code))
                (hidden(&format!("price{n}"), price))
                (hidden(&format!("qty{n}"), quantity))
            }
            button type="submit" { (lang.t("结算", "Settle")) }
        }
        p { a href="/counter" { (lang.t("放弃", "Abandon")) } }
    };
    Ok(page(lang, lang.t("预结算", "Pre-settlement"), Some(institution), body))
}

/// This institution's settlement, or the "not found" page (another's is not found either).
async fn own_settlement(
    state: &AppState,
    lang: Lang,
    till: &Institution,
    setl_id: &str,
) -> Result<Settlement, Response> {
    let found = match setl_id.parse::<SetlId>() {
        Ok(id) => state.store.read(move |r| r.settlement(&id)).await.ok().flatten(),
        Err(_) => None,
    };
    found.filter(|s| s.institution == till.code).ok_or_else(|| {
        let message = lang.t("未找到本机构的该笔结算", "No such settlement of this institution");
        refused(lang, till, StatusCode::NOT_FOUND, message, true)
    })
}

async fn receipt(State(state): State<Arc<AppState>>, lang: Lang, till: Till, Path(setl_id): Path<String>) -> Response {
    let Some((institution, _)) = till.0 else { return Redirect::to("/counter/login").into_response() };
    let s = match own_settlement(&state, lang, &institution, &setl_id).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let psn_no = s.psn_no.clone();
    let name = state.store.read(move |r| r.person(&psn_no)).await.ok().flatten().map(|p| p.name).unwrap_or_default();
    let body = html! {
        section.card #receipt {
            p { (institution.name) }
            p.muted {
                (lang.t("结算号", "Settlement")) " " (s.setl_id.as_str()) " · " (s.at) " · " (name)
            }
            (split_table(lang, &s))
        }
        p {
            button type="button" data-print { (lang.t("打印收据", "Print the receipt")) }
            " "
            a.button href="/counter" { (lang.t("下一位", "Next patient")) }
        }
        @if s.is_in_force() {
            form method="post" action={ "/counter/receipts/" (s.setl_id.as_str()) "/cancel" } {
                button type="submit" { (lang.t("撤销结算", "Cancel the settlement")) }
            }
        } @else {
            p.notice { (lang.t("本笔结算已撤销。", "This settlement is cancelled.")) }
        }
    };
    page(lang, lang.t("结算收据", "Receipt"), Some(&institution), body)
}

async fn cancel(State(state): State<Arc<AppState>>, lang: Lang, till: Till, Path(setl_id): Path<String>) -> Response {
    let Some((institution, _)) = till.0 else { return Redirect::to("/counter/login").into_response() };
    let s = match own_settlement(&state, lang, &institution, &setl_id).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    // One cancellation per settlement: its message id is derived from the settlement.
    let msgid: MsgId = format!("{}X{}", institution.code, s.setl_id).parse().expect("valid");
    let settlement =
        SettlementRef { institution: institution.code.clone(), psn_no: s.psn_no.clone(), setl_id: s.setl_id.clone() };
    let command = yibao_app::settlement::cancel(settlement, Some(s.mdtrt_id.clone()), Some(s.visit_kind), msgid);
    match state.store.execute(command).await {
        Ok(_) => Redirect::to(&format!("/counter/receipts/{}", s.setl_id)).into_response(),
        Err(error) => {
            refused(lang, &institution, StatusCode::UNPROCESSABLE_ENTITY, &engine_message(lang, &error), true)
        }
    }
}

//! The web portal for insured persons (R7): server-rendered pages under `/portal`, in Chinese
//! with an English switch, for a phone first. Log in with ID number and password (the initial
//! password opens only the password change), see the personal account with its current-year
//! and prior-years parts, the year-to-date accumulators, the card, every settlement with its
//! explanation line by line, the live e-voucher QR code, and find designated institutions.
//!
//! A session is the same as the REST API's, carried in an `HttpOnly`, `SameSite=Strict` cookie
//! (so no other site can post a form with it). No page takes a person number: whose data a page
//! shows comes from the session alone, and a settlement that is not the caller's is "not found".

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use yibao_domain::{InstitutionKind, PersonNo, SetlId};
use yibao_engine::commands::QR_SECONDS;
use yibao_engine::records::{CardStatus, Settlement, SettlementStatus};
use yibao_engine::{ErrorKind, Outcome};
use yibao_store::SettlementFilter;

use super::html::{LANG_COOKIE, Lang, SessionCookie, error_box, language_switch, shell, signed_yuan, yuan};
use crate::guard::ClientAddr;
use crate::kit::sessions::Subject;
use crate::rest::{ApiError, Caller};
use crate::state::AppState;
use maud::{Markup, PreEscaped, html};

/// Settlements listed on the overview (the newest).
const RECENT: u64 = 20;

const PORTAL: SessionCookie = SessionCookie { name: "yibao_portal", path: "/portal" };

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/portal", get(|| async { Redirect::to("/portal/me") }))
        .route("/portal/login", get(login_page).post(login))
        .route("/portal/logout", post(logout))
        .route("/portal/password", get(password_page).post(change_password))
        .route("/portal/me", get(overview))
        .route("/portal/settlements/{setl_id}", get(settlement_page))
        .route("/portal/account", get(account_page))
        .route("/portal/inbox", get(inbox_page))
        .route("/portal/inbox/read", post(read_inbox))
        .route("/portal/qr", get(qr_page))
        .route("/portal/evoucher/suspension", post(suspend_evoucher))
        .route("/portal/cards/{card_no}/loss", post(report_loss))
        .route("/portal/cards/{card_no}/pin", get(pin_page).post(change_pin))
        .route("/portal/cards/{card_no}/statement", post(statement))
        .route("/portal/institutions", get(institutions_page))
        .route("/portal/lang/{lang}", get(switch_language))
}

/// The logged-in person of a portal request, or nobody.
struct Visitor(Option<Caller>);

impl FromRequestParts<Arc<AppState>> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Visitor, Self::Rejection> {
        Ok(Visitor(PORTAL.session(&parts.headers, state).and_then(|(session, token)| match session.subject {
            Subject::Person { psn_no } => {
                Some(Caller::Person { psn_no, change_password_only: session.change_password_only, token })
            }
            Subject::Operator { .. } | Subject::Institution { .. } => None,
        })))
    }
}

/// A whole page: header with the language switch (and logout when logged in), then `body`.
fn page(lang: Lang, title: &str, logged_in: bool, body: Markup) -> Response {
    let nav = html! {
        a href="/portal/institutions" { (lang.t("定点机构", "Institutions")) }
        (language_switch(lang))
        @if logged_in {
            form method="post" action="/portal/logout" { button type="submit" { (lang.t("退出", "Log out")) } }
        }
    };
    shell(lang, title, ("/portal/me", lang.t("医保服务", "Medical insurance")), nav, body)
}

/// A failure while rendering a page for a logged-in person: the error page.
fn failure(lang: Lang, error: &ApiError) -> Response {
    let mut response = page(lang, lang.t("出错了", "Something went wrong"), true, error_box(lang, error));
    *response.status_mut() = error.status;
    response
}

fn not_logged_in() -> Response {
    Redirect::to("/portal/login").into_response()
}

/// The person behind a page, or where to go instead (login, or the initial password's change).
fn person(visitor: &Visitor) -> Result<PersonNo, Redirect> {
    match &visitor.0 {
        Some(Caller::Person { change_password_only: true, .. }) => Err(Redirect::to("/portal/password")),
        Some(Caller::Person { psn_no, .. }) => psn_no.parse().map_err(|_| Redirect::to("/portal/login")),
        _ => Err(Redirect::to("/portal/login")),
    }
}

async fn login_page(lang: Lang, visitor: Visitor) -> Response {
    if visitor.0.is_some() {
        return Redirect::to("/portal/me").into_response();
    }
    login_form(lang, None, "")
}

fn login_form(lang: Lang, error: Option<&ApiError>, id_number: &str) -> Response {
    let body = html! {
        @if let Some(error) = error { (error_box(lang, error)) }
        form.card method="post" action="/portal/login" {
            label for="id_number" { (lang.t("身份证号", "ID number")) }
            input id="id_number" name="id_number" autocomplete="username" required maxlength="18" value=(id_number);
            label for="password" { (lang.t("密码", "Password")) }
            input id="password" name="password" type="password"
                autocomplete="current-password" required maxlength="128";
            button type="submit" { (lang.t("登录", "Log in")) }
        }
        p.muted {
            (lang.t(
                "首次登录请使用初始密码（身份证号第12至17位），登录后须设置新密码。",
                "The first time, use the initial password (characters 12 to 17 of your ID number); you will then set a new one."
            ))
        }
    };
    let mut response = page(lang, lang.t("参保人登录", "Insured person login"), false, body);
    if let Some(error) = error {
        *response.status_mut() = error.status;
    }
    response
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    id_number: String,
    password: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    lang: Lang,
    Form(form): Form<LoginForm>,
) -> Response {
    let id_number = form.id_number.trim().to_ascii_uppercase();
    match crate::rest::authenticate(&state, client, "person", Some(id_number.clone()), form.password).await {
        Ok(login) => {
            let next = if login.must_change { "/portal/password" } else { "/portal/me" };
            PORTAL.logged_in(&state, &login.token, next)
        }
        Err(error) => login_form(lang, Some(&error), &id_number),
    }
}

async fn logout(State(state): State<Arc<AppState>>, visitor: Visitor) -> Response {
    let token = match &visitor.0 {
        Some(Caller::Person { token, .. }) => Some(token.as_str()),
        _ => None,
    };
    PORTAL.logged_out(&state, token)
}

async fn switch_language(axum::extract::Path(lang): axum::extract::Path<String>, headers: HeaderMap) -> Response {
    let lang = if lang == "en" { "en" } else { "zh" };
    // Back to the page the switch was on, when it is one of ours.
    let back = headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| {
            let path =
                referer.split_once("://").map_or(referer, |(_, rest)| rest.find('/').map_or("/", |at| &rest[at..]));
            (path.starts_with("/portal/") || path.starts_with("/counter")).then(|| path.to_string())
        })
        .filter(|path| !path.starts_with("/portal/lang/") && !path.contains("//"))
        .unwrap_or_else(|| "/portal/me".to_string());
    let cookie = format!("{LANG_COOKIE}={lang}; Path=/; SameSite=Lax; Max-Age=31536000");
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

async fn password_page(lang: Lang, visitor: Visitor) -> Response {
    match &visitor.0 {
        Some(Caller::Person { change_password_only, .. }) => password_form(lang, *change_password_only, None),
        _ => not_logged_in(),
    }
}

fn password_form(lang: Lang, initial: bool, error: Option<&ApiError>) -> Response {
    let body = html! {
        @if let Some(error) = error { (error_box(lang, error)) }
        form.card method="post" action="/portal/password" {
            @if initial {
                p.notice {
                    (lang.t(
                        "您正在使用初始密码登录。初始密码可由身份证号推得，请先证明是本人，再设置新密码。",
                        "You logged in with the initial password, which anyone who knows your ID number can work out: prove it is you, then set a new password."
                    ))
                }
                fieldset {
                    legend { (lang.t("证明是本人（二选一）", "Prove it is you (one of the two)")) }
                    label for="card_no" { (lang.t("社保卡号", "Card number")) }
                    input id="card_no" name="card_no" autocomplete="off" maxlength="20";
                    label for="pin" { (lang.t("社保卡密码（6位数字）", "Card PIN (6 digits)")) }
                    input id="pin" name="pin" type="password" inputmode="numeric" maxlength="6" autocomplete="off";
                    p.muted { (lang.t("或者，输入医保经办机构给您的激活码：", "or the activation code the agency gave you:")) }
                    label for="activation_code" { (lang.t("激活码（8位数字）", "Activation code (8 digits)")) }
                    input id="activation_code" name="activation_code"
                        inputmode="numeric" maxlength="8" autocomplete="one-time-code";
                }
            } @else {
                label for="password" { (lang.t("原密码", "Current password")) }
                input id="password" name="password" type="password"
                    autocomplete="current-password" required maxlength="128";
            }
            label for="new_password" { (lang.t("新密码", "New password")) }
            input id="new_password" name="new_password" type="password"
                autocomplete="new-password" required minlength="8" maxlength="128" aria-describedby="rule";
            p id="rule" class="muted" {
                (lang.t(
                    "8至128位，须同时包含字母和数字，不能包含初始密码。",
                    "8 to 128 characters with letters and digits, not containing the initial password."
                ))
            }
            label for="confirm" { (lang.t("再次输入新密码", "New password again")) }
            input id="confirm" name="confirm" type="password" autocomplete="new-password" required maxlength="128";
            button type="submit" { (lang.t("设置新密码", "Set the new password")) }
        }
    };
    let mut response = page(lang, lang.t("设置密码", "Set your password"), true, body);
    if let Some(error) = error {
        *response.status_mut() = error.status;
    }
    response
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    password: Option<String>,
    new_password: String,
    confirm: String,
    card_no: Option<String>,
    pin: Option<String>,
    activation_code: Option<String>,
}

async fn change_password(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    lang: Lang,
    visitor: Visitor,
    Form(form): Form<PasswordForm>,
) -> Response {
    let Some(caller) = visitor.0 else { return not_logged_in() };
    let initial = matches!(caller, Caller::Person { change_password_only: true, .. });
    if form.new_password != form.confirm {
        let error = ApiError::invalid("the two new passwords differ", "两次输入的新密码不一致");
        return password_form(lang, initial, Some(&error));
    }
    let given = |field: Option<String>| field.map(|text| text.trim().to_string()).filter(|text| !text.is_empty());
    let proof = match (given(form.card_no), given(form.pin), given(form.activation_code)) {
        (_, _, Some(code)) => Some(crate::rest::Proof::Code(code)),
        (Some(card_no), Some(pin), None) => Some(crate::rest::Proof::Card { card_no, pin }),
        _ => None,
    };
    let change = crate::rest::PasswordUpdate {
        current: form.password.filter(|p| !p.is_empty()),
        proof,
        new_password: form.new_password,
    };
    match crate::rest::set_password(&state, client, &caller, change).await {
        // Every session of the person ended: log in again with the new password.
        Ok(_) => PORTAL.logged_out(&state, None),
        Err(error) => password_form(lang, initial, Some(&error)),
    }
}

fn card_status(lang: Lang, status: CardStatus) -> &'static str {
    match status {
        CardStatus::Applied => lang.t("已申请", "applied for"),
        CardStatus::Produced => lang.t("已制卡", "produced"),
        CardStatus::Issued => lang.t("已发放", "issued"),
        CardStatus::Active => lang.t("正常", "active"),
        CardStatus::Lost => lang.t("已挂失", "reported lost"),
        CardStatus::Blocked => lang.t("已冻结", "blocked"),
        CardStatus::Replaced => lang.t("已补换", "replaced"),
        CardStatus::Cancelled => lang.t("已注销", "cancelled"),
    }
}

fn status_text(lang: Lang, settlement: &Settlement) -> &'static str {
    match settlement.status {
        SettlementStatus::Normal => lang.t("已结算", "settled"),
        SettlementStatus::Cancelled { .. } => lang.t("已撤销", "cancelled"),
        SettlementStatus::Mirror { .. } => lang.t("撤销冲正", "cancellation"),
    }
}

#[derive(Debug, Deserialize, Default)]
struct HistoryPage {
    page: Option<u64>,
}

async fn overview(State(state): State<Arc<AppState>>, lang: Lang, visitor: Visitor, uri: axum::http::Uri) -> Response {
    let psn_no = match person(&visitor) {
        Ok(psn_no) => psn_no,
        Err(redirect) => return redirect.into_response(),
    };
    // Settlements newest first, RECENT a page; `?page=2` and on go back in time.
    let page_number = axum::extract::Query::<HistoryPage>::try_from_uri(&uri)
        .ok()
        .and_then(|q| q.0.page)
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let number = psn_no.clone();
    let read = state
        .store
        .read(move |r| {
            let person = r.person(&number)?;
            let balances = r.balances(&number)?;
            let accumulators = r.accumulators(&number)?;
            let cards = r.cards_of(&number)?;
            let filter = SettlementFilter { person: Some(number.clone()), ..SettlementFilter::default() };
            let total = r.settlement_totals(&filter)?.count;
            let newest = total.saturating_sub(RECENT * (page_number - 1));
            let recent = r.settlements(&filter, newest.saturating_sub(RECENT), newest.min(RECENT))?;
            let voucher = r.evoucher(&number)?;
            Ok((person, balances, accumulators, cards, recent, voucher))
        })
        .await;
    let (person, (current, prior), accumulators, cards, recent, voucher) = match read {
        Ok((Some(person), balances, accumulators, cards, recent, voucher)) => {
            (person, balances, accumulators, cards, recent, voucher)
        }
        Ok((None, ..)) => return not_logged_in(),
        Err(failure_) => return failure(lang, &ApiError::from(failure_)),
    };
    let year = state.store.now().date().year();
    let this_year =
        accumulators.iter().find(|(y, _)| i32::from(*y) == i32::from(year)).map(|(_, row)| *row).unwrap_or_default();
    let body = html! {
        section.card aria-labelledby="who" {
            h2 id="who" { (person.name) }
            p.muted {
                (lang.t("身份证号", "ID number")) " " (person.id_number.masked()) " · "
                (person.insurance.name_zh()) " · " (person.admdvs.as_str())
            }
            p { a href="/portal/password" { (lang.t("修改登录密码", "Change the login password")) } }
        }
        section.card aria-labelledby="acct" {
            h2 id="acct" { (lang.t("个人账户", "Personal account")) }
            div.figures {
                p.figure { (lang.t("余额", "Balance")) b { (yuan(current + prior)) } }
                p.figure { (lang.t("当年账户", "Current year")) b { (yuan(current)) } }
                p.figure { (lang.t("历年账户", "Prior years")) b { (yuan(prior)) } }
            }
            p {
                a href="/portal/account" { (lang.t("账户明细：每一笔划入与支出", "Statement: every credit and payment")) }
                " · "
                a href="/portal/inbox" { (lang.t("消息", "Messages")) }
            }
            @if person.account_frozen {
                p.notice {
                    (lang.t(
                        "账户资金正在转移至新银行，暂时冻结。",
                        "The account is frozen while its money moves to the new bank."
                    ))
                }
            }
        }
        section.card aria-labelledby="ytd" {
            h2 id="ytd" { (year) " " (lang.t("年度累计", "year to date")) }
            div.figures {
                p.figure { (lang.t("已付起付线", "Deductible paid")) b { (yuan(this_year.deductible_paid())) } }
                p.figure { (lang.t("住院次数", "Admissions")) b { (this_year.admissions) } }
                p.figure { (lang.t("门诊统筹已用", "Outpatient band used")) b { (yuan(this_year.outpatient_band_used)) } }
                p.figure { (lang.t("统筹基金已付", "Paid by the fund")) b { (yuan(this_year.fund_paid)) } }
            }
        }
        section.card aria-labelledby="cards" {
            h2 id="cards" { (lang.t("社保卡与医保电子凭证", "Card and e-voucher")) }
            ul {
                @for card in &cards {
                    li {
                        (lang.t("卡号", "Card")) " " (card.card_no.as_str()) " · " (card_status(lang, card.status)) " · "
                        (card.bank.as_str()) " · " (lang.t("未打印交易", "unprinted")) " " (card.unprinted)
                        div {
                            @if matches!(card.status, CardStatus::Active) {
                                (card_actions(lang, card.card_no.as_str()))
                            }
                        }
                    }
                }
                @if cards.is_empty() {
                    li { (lang.t("暂无社保卡", "No card yet")) }
                }
            }
            @match &voucher {
                Some(voucher) if voucher.is_suspended() => {
                    p.notice {
                        (lang.t(
                            "医保电子凭证已暂停使用。找回或更换手机后，请在渠道应用中重新激活（人脸核验）。",
                            "The e-voucher is suspended. Activate it again in a channel app (face check) on your phone."
                        ))
                    }
                }
                Some(_) => {
                    a.button href="/portal/qr" { (lang.t("出示医保码", "Show my e-voucher QR code")) }
                    " "
                    form.inline method="post" action="/portal/evoucher/suspension" data-confirm=(lang.t(
                        "确认暂停医保电子凭证？所有已生成的医保码立即失效，重新激活后才能使用。",
                        "Suspend the e-voucher? Every code already shown stops working until you activate it again."
                    )) {
                        button type="submit" { (lang.t("手机丢失：暂停医保码", "Lost phone: suspend the e-voucher")) }
                    }
                }
                None => {
                    p.muted {
                        (lang.t(
                            "医保电子凭证未激活（请在渠道应用中激活）。",
                            "The e-voucher is not activated (activate it in a channel app)."
                        ))
                    }
                }
            }
        }
        section aria-labelledby="history" {
            h2 id="history" { (lang.t("结算记录", "Settlements")) }
            @if recent.rows.is_empty() {
                p.muted { (lang.t("暂无结算记录。", "No settlements yet.")) }
            } @else {
                div.scroll {
                    table {
                        caption.muted {
                            (lang.t(
                                "最近的结算，点击时间查看明细与说明",
                                "The latest settlements; open one for its details and explanation"
                            ))
                        }
                        thead {
                            tr {
                                th scope="col" { (lang.t("时间", "Time")) }
                                th scope="col" { (lang.t("机构", "Institution")) }
                                th scope="col" { (lang.t("类别", "Kind")) }
                                th scope="col" class="num" { (lang.t("总费用", "Total")) }
                                th scope="col" class="num" { (lang.t("统筹", "Fund")) }
                                th scope="col" class="num" { (lang.t("个人账户", "Account")) }
                                th scope="col" class="num" { (lang.t("现金", "Cash")) }
                                th scope="col" { (lang.t("状态", "Status")) }
                            }
                        }
                        tbody {
                            @for s in recent.rows.iter().rev() {
                                tr {
                                    td { a href={ "/portal/settlements/" (s.setl_id.as_str()) } { (s.at) } }
                                    td { (s.institution.as_str()) }
                                    td { (s.med_type.name_zh()) }
                                    td.num { (yuan(s.amounts.medfee)) }
                                    td.num { (yuan(s.amounts.funds())) }
                                    td.num { (yuan(s.amounts.account())) }
                                    td.num { (yuan(s.amounts.cash)) }
                                    td { (status_text(lang, s)) }
                                }
                            }
                        }
                    }
                }
            }
            p {
                @if page_number > 1 {
                    a href={ "/portal/me?page=" (page_number - 1) "#history" } {
                        (lang.t("较新的结算", "Newer settlements"))
                    }
                }
                " "
                @if recent.total > RECENT * page_number {
                    a href={ "/portal/me?page=" (page_number + 1) "#history" } {
                        (lang.t("更早的结算", "Older settlements"))
                    }
                }
            }
        }
    };
    page(lang, lang.t("我的医保", "My medical insurance"), true, body)
}

/// How many days back the account page reaches unless told otherwise.
const STATEMENT_DAYS: i64 = 365;
/// The most movements the account page lists.
const STATEMENT_ROWS: usize = 300;

#[derive(Debug, serde::Deserialize)]
struct StatementPage {
    from: Option<String>,
}

/// The personal account's statement: every credit and payment of the past year (or since
/// `?from=`), newest first, each with the balance after it.
async fn account_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    visitor: Visitor,
    uri: axum::http::Uri,
) -> Response {
    let psn_no = match person(&visitor) {
        Ok(psn_no) => psn_no,
        Err(redirect) => return redirect.into_response(),
    };
    let today = state.store.now().date();
    let from = axum::extract::Query::<StatementPage>::try_from_uri(&uri)
        .ok()
        .and_then(|q| q.0.from)
        .and_then(|text| text.parse::<yibao_domain::Date>().ok())
        .filter(|from| *from <= today)
        .unwrap_or(today.plus_days(-STATEMENT_DAYS));
    let read = state
        .store
        .read(move |r| r.statement(&psn_no, Some(yibao_domain::DateTime::start_of(from)), None, STATEMENT_ROWS))
        .await;
    let statement = match read {
        Ok(statement) => statement,
        Err(failure_) => return failure(lang, &ApiError::from(failure_)),
    };
    let earlier = from.plus_days(-STATEMENT_DAYS);
    let body = html! {
        section {
            p.muted {
                (lang.t("自", "Since")) " " (from) " · "
                (lang.t("期初余额", "Balance before")) " " (yuan(statement.opening)) " · "
                (lang.t("当前余额", "Balance now")) " " (yuan(statement.closing()))
            }
            @if statement.more {
                p.notice { (lang.t("明细较多，仅列出最早的部分；请选择较晚的起始日期。", "Many movements: only the earliest are listed; choose a later start.")) }
            }
            @if statement.entries.is_empty() {
                p.muted { (lang.t("这段时间没有收支。", "No movements in this period.")) }
            } @else {
                div.scroll {
                    table {
                        caption.muted { (lang.t("最新的在上", "Newest first")) }
                        thead {
                            tr {
                                th scope="col" { (lang.t("时间", "Time")) }
                                th scope="col" { (lang.t("摘要", "What")) }
                                th scope="col" class="num" { (lang.t("金额", "Amount")) }
                                th scope="col" class="num" { (lang.t("余额", "Balance")) }
                            }
                        }
                        tbody {
                            @for entry in statement.entries.iter().rev() {
                                tr {
                                    td { (entry.at) }
                                    td { (lang.t(entry.code.name_zh(), entry.code.name_en())) }
                                    td.num { (signed_yuan(entry.amount())) }
                                    td.num { (yuan(entry.balance)) }
                                }
                            }
                        }
                    }
                }
            }
            p {
                a href={ "/portal/account?from=" (earlier) } { (lang.t("更早的明细", "Earlier movements")) }
                " · "
                a href="/portal/me" { (lang.t("返回", "Back")) }
            }
        }
    };
    page(lang, lang.t("账户明细", "Account statement"), true, body)
}

/// The most messages the inbox shows.
const INBOX_ROWS: u64 = 100;

/// The person's messages, newest first, unread ones marked; one button marks them all read.
async fn inbox_page(State(state): State<Arc<AppState>>, lang: Lang, visitor: Visitor) -> Response {
    let psn_no = match person(&visitor) {
        Ok(psn_no) => psn_no,
        Err(redirect) => return redirect.into_response(),
    };
    let read = state
        .store
        .read(move |r| Ok((r.notifications_of(&psn_no, false, INBOX_ROWS)?, r.unread_count(&psn_no)?)))
        .await;
    let (rows, unread) = match read {
        Ok(found) => found,
        Err(failure_) => return failure(lang, &ApiError::from(failure_)),
    };
    let body = html! {
        section {
            p.muted { (lang.t("未读", "Unread")) " " (unread) }
            @if rows.is_empty() {
                p.muted { (lang.t("还没有消息。", "No messages yet.")) }
            } @else {
                ul.inbox {
                    @for row in &rows {
                        li class=(if row.read_at.is_none() { "unread" } else { "read" }) {
                            @if row.read_at.is_none() { b { (lang.t("【未读】", "[new] ")) } }
                            span.muted { (row.at) } " "
                            (lang.t(&row.text_zh, &row.text_en))
                        }
                    }
                }
                @if unread > 0 {
                    form method="post" action="/portal/inbox/read" {
                        button type="submit" { (lang.t("全部标为已读", "Mark all read")) }
                    }
                }
            }
            p { a href="/portal/me" { (lang.t("返回", "Back")) } }
        }
    };
    page(lang, lang.t("消息", "Messages"), true, body)
}

async fn read_inbox(State(state): State<Arc<AppState>>, lang: Lang, visitor: Visitor) -> Response {
    let psn_no = match person(&visitor) {
        Ok(psn_no) => psn_no,
        Err(redirect) => return redirect.into_response(),
    };
    match crate::rest::notifications::mark(&state, psn_no, None).await {
        Ok(_) => Redirect::to("/portal/inbox").into_response(),
        Err(error) => failure(lang, &error),
    }
}

/// What the holder of an active card can do with it: report it lost, change its PIN, print its
/// transaction record.
fn card_actions(lang: Lang, card_no: &str) -> Markup {
    html! {
        form.inline method="post" action={ "/portal/cards/" (card_no) "/loss" } data-confirm=(lang.t(
            "确认挂失这张卡？挂失后卡不能再支付（医保电子凭证不受影响）。",
            "Report this card lost? It will no longer pay (the e-voucher is not affected)."
        )) {
            button type="submit" { (lang.t("挂失", "Report lost")) }
        }
        " "
        a.button href={ "/portal/cards/" (card_no) "/pin" } { (lang.t("修改卡密码", "Change the PIN")) }
        " "
        form.inline method="post" action={ "/portal/cards/" (card_no) "/statement" } {
            button type="submit" { (lang.t("打印交易记录（PDF）", "Transaction record (PDF)")) }
        }
    }
}

async fn settlement_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    visitor: Visitor,
    axum::extract::Path(setl_id): axum::extract::Path<String>,
) -> Response {
    let psn_no = match person(&visitor) {
        Ok(psn_no) => psn_no,
        Err(redirect) => return redirect.into_response(),
    };
    let not_found = || failure(lang, &ApiError::not_found(format!("no settlement {setl_id} of yours")));
    let Ok(id) = setl_id.parse::<SetlId>() else { return not_found() };
    let found = match state.store.read(move |r| r.settlement(&id)).await {
        Ok(found) => found,
        Err(failure_) => return failure(lang, &ApiError::from(failure_)),
    };
    // Another person's settlement is not found: no page tells whether it exists.
    let Some(s) = found.filter(|s| s.psn_no == psn_no) else { return not_found() };
    let a = &s.amounts;
    let mut figures = vec![
        (lang.t("总费用", "Total"), a.medfee),
        (lang.t("全自费", "Fully self-paid"), a.fully_selfpaid),
        (lang.t("超限价自付", "Over the price cap"), a.over_limit),
        (lang.t("先行自付", "First self-pay"), a.first_selfpay),
        (lang.t("符合范围", "In scope"), a.in_scope),
        (lang.t("起付线", "Deductible"), a.deductible),
        (lang.t("统筹基金支付", "Paid by the fund"), a.fund),
        (lang.t("当年账户支付", "Current-year account"), a.account_current_year),
        (lang.t("历年账户支付", "Prior-years account"), a.account_prior_years),
        (lang.t("现金支付", "Cash"), a.cash),
    ];
    if !a.subsidy.is_zero() {
        figures.insert(7, (lang.t("公务员医疗补助", "Civil-servant subsidy"), a.subsidy));
    }
    let body = html! {
        p.muted {
            (lang.t("结算号", "Settlement")) " " (s.setl_id.as_str()) " · " (s.at) " · " (s.institution.as_str()) " · "
            (s.med_type.name_zh()) " · " (status_text(lang, &s)) " · " (lang.t("政策", "policy")) " " (s.policy)
        }
        div.scroll {
            table {
                caption.muted { (lang.t("谁付了多少", "Who paid what")) }
                tbody {
                    @for (label, amount) in &figures {
                        tr { th scope="row" { (label) } td.num { (yuan(*amount)) } }
                    }
                }
            }
        }
        h2 { (lang.t("每一步的说明", "Why, step by step")) }
        div.scroll {
            table {
                thead {
                    tr {
                        th scope="col" { (lang.t("明细号", "Line")) }
                        th scope="col" { (lang.t("规则", "Rule")) }
                        th scope="col" class="num" { (lang.t("金额", "Amount")) }
                    }
                }
                tbody {
                    @for step in &s.steps {
                        tr {
                            td { (step.line.as_deref().unwrap_or("—")) }
                            td { (lang.t(&step.zh, &step.en)) }
                            td.num { (yuan(step.amount)) }
                        }
                    }
                }
            }
        }
        p { a href="/portal/me" { (lang.t("返回我的医保", "Back to my medical insurance")) } }
    };
    page(lang, lang.t("结算明细", "Settlement"), true, body)
}

async fn qr_page(State(state): State<Arc<AppState>>, lang: Lang, visitor: Visitor) -> Response {
    let psn_no = match person(&visitor) {
        Ok(psn_no) => psn_no,
        Err(redirect) => return redirect.into_response(),
    };
    let number = psn_no.clone();
    let admdvs = match state.store.read(move |r| r.person(&number)).await {
        Ok(Some(person)) => person.admdvs,
        Ok(None) => return not_logged_in(),
        Err(failure_) => return failure(lang, &ApiError::from(failure_)),
    };
    let (code, command) = yibao_app::evoucher::qr_code(&admdvs, psn_no, crate::kit::secret::random_bytes());
    let issued = state.store.execute(command).await;
    match issued {
        Ok(Outcome::Grant(_)) => {}
        Ok(_) => {
            return failure(
                lang,
                &ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error", "系统内部错误"),
            );
        }
        Err(error) if matches!(error.kind, ErrorKind::Refused | ErrorKind::Conflict) => {
            let body = html! {
                p.notice { (lang.t(&error.zh, &error.en)) }
                p { a href="/portal/me" { (lang.t("返回", "Back")) } }
            };
            return page(lang, lang.t("医保码", "E-voucher QR code"), true, body);
        }
        Err(error) => return failure(lang, &ApiError::from(error)),
    }
    let svg = match crate::kit::qr::svg(&code, 6) {
        Ok(svg) => svg,
        Err(error) => {
            return failure(lang, &ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", error, "系统内部错误"));
        }
    };
    // The page reloads itself before the code expires: a fresh code each time, a screenshot
    // is useless a minute later.
    let refresh = QR_SECONDS.saturating_sub(5).max(5);
    let body = html! {
        div class="qr" role="img" aria-label=(lang.t("医保电子凭证二维码", "E-voucher QR code"))
            data-code=(code) data-refresh=(refresh) {
            // Safe unescaped: markup drawn by our own crate::kit::qr (fixed tags, numbers only).
            (PreEscaped(svg))
        }
        p class="notice" aria-live="polite" {
            @match lang {
                Lang::Zh => { "请向医院或药店出示。此码" (QR_SECONDS) "秒内有效、只能使用一次，页面会自动刷新。" }
                Lang::En => {
                    "Show it at the counter. Valid for " (QR_SECONDS) " seconds and once only; this page refreshes itself."
                }
            }
        }
        p { a href="/portal/me" { (lang.t("返回我的医保", "Back to my medical insurance")) } }
    };
    page(lang, lang.t("医保码", "E-voucher QR code"), true, body)
}

#[derive(Debug, Deserialize, Default)]
struct InstitutionFilter {
    admdvs: Option<String>,
    kind: Option<String>,
    level: Option<String>,
    evoucher: Option<String>,
}

async fn institutions_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    visitor: Visitor,
    uri: axum::http::Uri,
) -> Response {
    // A query that does not parse is no filter at all (this is a public search page).
    let filter: InstitutionFilter = axum::extract::Query::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let admdvs = filter.admdvs.clone().filter(|a| !a.is_empty());
    let read = state.store.read(move |r| Ok((r.regions()?, r.institutions(admdvs.as_deref())?))).await;
    let (regions, institutions) = match read {
        Ok(read) => read,
        Err(failure_) => return failure(lang, &ApiError::from(failure_)),
    };
    let today = state.store.now().date();
    let selected = |value: &Option<String>, option: &str| value.as_deref() == Some(option);
    let shown = institutions
        .iter()
        .filter(|i| i.designated_from <= today && today <= i.designated_to)
        .filter(|i| match filter.kind.as_deref() {
            Some("hospital") => i.kind == InstitutionKind::Hospital,
            Some("pharmacy") => i.kind == InstitutionKind::Pharmacy,
            _ => true,
        })
        .filter(|i| match filter.level.as_deref().filter(|l| !l.is_empty()) {
            Some(level) => i.level.is_some_and(|l| l.code() == level),
            None => true,
        })
        .filter(|i| filter.evoucher.as_deref() != Some("1") || i.accepts_evoucher);
    let region_l = lang.t("统筹区", "Region");
    let all = lang.t("全部", "All");
    let kind_l = lang.t("类型", "Kind");
    let level_l = lang.t("等级", "Level");
    let body = html! {
        form.card method="get" action="/portal/institutions" {
            label for="admdvs" { (region_l) }
            select id="admdvs" name="admdvs" {
                option value="" { (all) }
                @for region in &regions {
                    option value=(region.admdvs.as_str()) selected[selected(&filter.admdvs, region.admdvs.as_str())] {
                        (region.name) " (" (region.admdvs.as_str()) ")"
                    }
                }
            }
            label for="kind" { (kind_l) }
            select id="kind" name="kind" {
                option value="" { (all) }
                option value="hospital" selected[selected(&filter.kind, "hospital")] { (lang.t("医院", "Hospital")) }
                option value="pharmacy" selected[selected(&filter.kind, "pharmacy")] { (lang.t("药店", "Pharmacy")) }
            }
            label for="level" { (level_l) }
            select id="level" name="level" {
                option value="" { (all) }
                option value="3" selected[selected(&filter.level, "3")] { "三级" }
                option value="2" selected[selected(&filter.level, "2")] { "二级" }
                option value="1" selected[selected(&filter.level, "1")] { "一级" }
                option value="9" selected[selected(&filter.level, "9")] { "社区" }
            }
            label {
                input.check type="checkbox" name="evoucher" value="1" checked[filter.evoucher.as_deref() == Some("1")];
                " " (lang.t("只看支持医保电子凭证的", "Only those accepting the e-voucher"))
            }
            button type="submit" { (lang.t("查找", "Find")) }
        }
        div.scroll {
            table {
                thead {
                    tr {
                        th scope="col" { (lang.t("名称", "Name")) }
                        th scope="col" { (lang.t("编码", "Code")) }
                        th scope="col" { (kind_l) }
                        th scope="col" { (level_l) }
                        th scope="col" { (region_l) }
                        th scope="col" { (lang.t("医保码", "E-voucher")) }
                    }
                }
                tbody {
                    @for i in shown {
                        tr {
                            td { (i.name) }
                            td { (i.code.as_str()) }
                            td {
                                @match i.kind {
                                    InstitutionKind::Hospital => (lang.t("医院", "hospital")),
                                    InstitutionKind::Pharmacy => (lang.t("药店", "pharmacy")),
                                }
                            }
                            td { (i.level.map_or("—", |l| l.name_zh())) }
                            td { (i.admdvs.as_str()) }
                            td { (if i.accepts_evoucher { lang.t("支持", "yes") } else { lang.t("不支持", "no") }) }
                        }
                    }
                }
            }
        }
    };
    page(lang, lang.t("定点医药机构", "Designated institutions"), visitor.0.is_some(), body)
}

/// The logged-in person's caller (for the shared card functions), or where to go instead.
fn holder(visitor: &Visitor) -> Result<Caller, Redirect> {
    person(visitor)?;
    visitor.0.clone().ok_or_else(|| Redirect::to("/portal/login"))
}

async fn report_loss(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    visitor: Visitor,
    axum::extract::Path(card_no): axum::extract::Path<String>,
) -> Response {
    let caller = match holder(&visitor) {
        Ok(caller) => caller,
        Err(redirect) => return redirect.into_response(),
    };
    match crate::rest::cards::lose(&state, &caller, &card_no, Some("参保人网上挂失")).await {
        Ok(_) => Redirect::to("/portal/me").into_response(),
        Err(error) => failure(lang, &error),
    }
}

async fn pin_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    visitor: Visitor,
    axum::extract::Path(card_no): axum::extract::Path<String>,
) -> Response {
    let psn_no = match person(&visitor) {
        Ok(psn_no) => psn_no,
        Err(redirect) => return redirect.into_response(),
    };
    if !owns_card(&state, &psn_no, &card_no).await {
        return failure(lang, &ApiError::not_found(format!("no card {card_no}")));
    }
    pin_form(lang, &card_no, None, false)
}

fn pin_form(lang: Lang, card_no: &str, error: Option<&ApiError>, done: bool) -> Response {
    let body = html! {
        @match (error, done) {
            (Some(error), _) => (error_box(lang, error)),
            (None, true) => p class="notice" role="status" { (lang.t("卡密码已修改。", "The PIN is changed.")) },
            (None, false) => {}
        }
        form.card method="post" action={ "/portal/cards/" (card_no) "/pin" } {
            label for="old_pin" { (lang.t("原卡密码", "Current PIN")) }
            input id="old_pin" name="old_pin" type="password"
                inputmode="numeric" required maxlength="6" autocomplete="off";
            label for="new_pin" { (lang.t("新卡密码（6位数字）", "New PIN (6 digits)")) }
            input id="new_pin" name="new_pin" type="password"
                inputmode="numeric" required minlength="6" maxlength="6" autocomplete="off";
            label for="confirm_pin" { (lang.t("再次输入新卡密码", "New PIN again")) }
            input id="confirm_pin" name="confirm_pin" type="password"
                inputmode="numeric" required maxlength="6" autocomplete="off";
            button type="submit" { (lang.t("修改", "Change")) }
        }
        p { a href="/portal/me" { (lang.t("返回我的医保", "Back to my medical insurance")) } }
    };
    let mut response = page(lang, lang.t("修改卡密码", "Change the card PIN"), true, body);
    if let Some(error) = error {
        *response.status_mut() = error.status;
    }
    response
}

async fn owns_card(state: &AppState, psn_no: &PersonNo, card_no: &str) -> bool {
    let Ok(number) = card_no.parse::<yibao_domain::CardNo>() else { return false };
    let owner = psn_no.clone();
    matches!(state.store.read(move |r| r.card(&number)).await, Ok(Some(card)) if card.psn_no == owner)
}

#[derive(Debug, Deserialize)]
struct PinForm {
    old_pin: String,
    new_pin: String,
    confirm_pin: String,
}

async fn change_pin(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    lang: Lang,
    visitor: Visitor,
    axum::extract::Path(card_no): axum::extract::Path<String>,
    Form(form): Form<PinForm>,
) -> Response {
    let psn_no = match person(&visitor) {
        Ok(psn_no) => psn_no,
        Err(redirect) => return redirect.into_response(),
    };
    if !owns_card(&state, &psn_no, &card_no).await {
        return failure(lang, &ApiError::not_found(format!("no card {card_no}")));
    }
    if form.new_pin != form.confirm_pin {
        return pin_form(
            lang,
            &card_no,
            Some(&ApiError::invalid("the two new PINs differ", "两次输入的新卡密码不一致")),
            false,
        );
    }
    let Some(caller) = visitor.0.as_ref() else { return not_logged_in() };
    match crate::rest::cards::set_pin(&state, client, caller, &card_no, &form.old_pin, &form.new_pin).await {
        Ok(()) => pin_form(lang, &card_no, None, true),
        Err(error) => pin_form(lang, &card_no, Some(&error), false),
    }
}

/// A lost phone: the person suspends the e-voucher (every code shown so far dies).
async fn suspend_evoucher(State(state): State<Arc<AppState>>, lang: Lang, visitor: Visitor) -> Response {
    let psn_no = match person(&visitor) {
        Ok(psn_no) => psn_no,
        Err(redirect) => return redirect.into_response(),
    };
    let command =
        yibao_app::evoucher::suspend(psn_no.clone(), format!("person:{psn_no}"), "参保人网上暂停（手机丢失）".into());
    match state.store.execute(command).await {
        Ok(_) => Redirect::to("/portal/me").into_response(),
        Err(error) => failure(lang, &ApiError::from(error)),
    }
}

async fn statement(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    visitor: Visitor,
    axum::extract::Path(card_no): axum::extract::Path<String>,
) -> Response {
    let caller = match holder(&visitor) {
        Ok(caller) => caller,
        Err(redirect) => return redirect.into_response(),
    };
    match crate::rest::cards::statement_pdf(&state, &caller, &card_no).await {
        Ok(pdf) => pdf,
        Err(error) => failure(lang, &error),
    }
}

//! The agency's pages (R7, R8): server-rendered under `/agency` for operators. A dashboard with
//! charts (the pooled funds' outlay by day and insurance type, settlements by institution level,
//! the distribution of personal account balances), the registry and each person's page (their
//! whole insured life, the read audited), card applications with their deadlines, clearing
//! totals per institution, and the audit log. Charts are inline SVG with the
//! same figures as a table beside them (for screen readers and for copying).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use yibao_domain::{InsuranceType, Money};
use yibao_store::{PersonLookup, SettlementFilter};

use crate::kit::sessions::{Session, Subject};
use crate::pages::html::{Lang, SessionCookie, error_box, language_switch, query_value, shell, yuan};
use crate::rest::ApiError;
use crate::state::AppState;
use maud::{Markup, html};

const COOKIE: SessionCookie = SessionCookie { name: "yibao_agency", path: "/agency" };
/// Days the outlay chart covers.
const DAYS: i64 = 14;
/// Rows on list pages.
const ROWS: u64 = 100;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/agency", get(dashboard))
        .route("/agency/login", get(login_page).post(login))
        .route("/agency/logout", post(logout))
        .route("/agency/persons", get(persons))
        .route("/agency/persons/{psn_no}", get(person_page))
        .route("/agency/queue", get(review_queue))
        .route("/agency/persons/{psn_no}/cards/{card_no}/loss", post(report_loss))
        .route("/agency/queue/{what}/{id}", post(decide))
        .route("/agency/card-applications", get(card_applications))
        .route("/agency/clearing", get(clearing))
        .route("/agency/audit", get(audit))
}

/// The operator of an agency request: who, their session's token and roles.
struct Desk(Option<DeskOperator>);

struct DeskOperator {
    username: String,
    token: String,
    roles: Vec<String>,
}

impl FromRequestParts<Arc<AppState>> for Desk {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Desk, Self::Rejection> {
        Ok(Desk(match COOKIE.session(&parts.headers, state) {
            Some((Session { subject: Subject::Operator { username, roles }, .. }, token)) => {
                Some(DeskOperator { username, token, roles })
            }
            _ => None,
        }))
    }
}

fn page(lang: Lang, title: &str, operator: Option<&str>, body: Markup) -> Response {
    let nav = html! {
        @if let Some(operator) = operator {
            a href="/agency" { (lang.t("概览", "Dashboard")) }
            a href="/agency/persons" { (lang.t("参保登记", "Registry")) }
            a href="/agency/queue" { (lang.t("复核队列", "Review queue")) }
            a href="/agency/card-applications" { (lang.t("制卡申请", "Card applications")) }
            a href="/agency/clearing" { (lang.t("清算", "Clearing")) }
            a href="/agency/audit" { (lang.t("审计日志", "Audit log")) }
            (language_switch(lang))
            span { (operator) }
            form method="post" action="/agency/logout" {
                button type="submit" { (lang.t("退出", "Log out")) }
            }
        } @else {
            (language_switch(lang))
        }
    };
    shell(lang, title, ("/agency", lang.t("医保经办", "Insurance agency")), nav, body)
}

fn unavailable(lang: Lang, operator: &str) -> Response {
    let error =
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the store is unavailable", "服务暂时不可用");
    let mut response = page(lang, lang.t("出错了", "Something went wrong"), Some(operator), error_box(lang, &error));
    *response.status_mut() = error.status;
    response
}

async fn login_page(lang: Lang, desk: Desk) -> Response {
    match desk.0 {
        Some(_) => Redirect::to("/agency").into_response(),
        None => login_form(lang, None),
    }
}

fn login_form(lang: Lang, error: Option<&ApiError>) -> Response {
    let body = html! {
        @if let Some(error) = error {
            (error_box(lang, error))
        }
        form class="card" method="post" action="/agency/login" {
            label for="username" { (lang.t("用户名", "Username")) }
            input id="username" name="username" required maxlength="64" autocomplete="username";
            label for="password" { (lang.t("密码", "Password")) }
            input id="password" name="password" type="password" required maxlength="128" autocomplete="current-password";
            button type="submit" { (lang.t("登录", "Log in")) }
        }
    };
    let mut response = page(lang, lang.t("经办人员登录", "Operator login"), None, body);
    if let Some(error) = error {
        *response.status_mut() = error.status;
    }
    response
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    client: crate::guard::ClientAddr,
    lang: Lang,
    Form(form): Form<LoginForm>,
) -> Response {
    let username = Some(form.username.trim().to_string());
    match crate::rest::authenticate(&state, client, "operator", username, form.password).await {
        Ok(login) => COOKIE.logged_in(&state, &login.token, "/agency"),
        Err(error) => login_form(lang, Some(&error)),
    }
}

async fn logout(State(state): State<Arc<AppState>>, desk: Desk) -> Response {
    COOKIE.logged_out(&state, desk.0.as_ref().map(|desk| desk.token.as_str()))
}

/// A bar chart as SVG: `bars` of (label, stacked parts), each part (value, colour); values in
/// any unit, drawn to the largest total. Labelled for screen readers by `title`.
fn bar_chart(title: &str, bars: &[(String, Vec<(i64, &'static str)>)]) -> Markup {
    let (width, height, left, bottom) = (640i64, 220i64, 8i64, 36i64);
    let most =
        bars.iter().map(|(_, parts)| parts.iter().map(|(v, _)| (*v).max(0)).sum::<i64>()).max().unwrap_or(0).max(1);
    let slot = (width - left) / i64::try_from(bars.len().max(1)).unwrap_or(1);
    // Each bar: its left edge, its label, and its parts stacked upwards from the baseline as
    // (top, height, colour).
    let drawn = bars.iter().enumerate().map(|(n, (label, parts))| {
        let x = left + slot * i64::try_from(n).unwrap_or(0);
        let stacked: Vec<(i64, i64, &str)> = parts
            .iter()
            .scan(height - bottom, |y, (value, colour)| {
                let h = (*value).max(0) * (height - bottom - 10) / most;
                *y -= h;
                Some((*y, h, *colour))
            })
            .collect();
        (x, label, stacked)
    });
    html! {
        svg class="chart" viewBox=(format!("0 0 {width} {height}")) role="img" aria-label=(title) preserveAspectRatio="none" {
            @for (x, label, stacked) in drawn {
                @for (y, h, colour) in stacked {
                    rect x=(x + 4) y=(y) width=((slot - 8).max(2)) height=(h) fill=(colour) {}
                }
                text x=(x + slot / 2) y=(height - bottom + 16) font-size="12" text-anchor="middle" fill="#333" { (label) }
            }
        }
    }
}

const EMPLOYEE_COLOUR: &str = "#0b5394";
const RESIDENT_COLOUR: &str = "#e69138";

fn level_name(lang: Lang, level: Option<&str>) -> String {
    match level {
        None => lang.t("药店", "Pharmacies").to_string(),
        Some(code) => match code.parse::<yibao_domain::InstitutionLevel>() {
            Ok(level) => level.name_zh().to_string(),
            Err(_) => code.to_string(),
        },
    }
}

async fn dashboard(State(state): State<Arc<AppState>>, lang: Lang, desk: Desk) -> Response {
    let Some(DeskOperator { username: operator, .. }) = desk.0 else {
        return Redirect::to("/agency/login").into_response();
    };
    let today = state.store.now().date();
    let first_day = today.plus_days(-(DAYS - 1));
    let from: yibao_domain::DateTime = format!("{first_day} 00:00:00").parse().expect("a valid time");
    // Balances of zero (or less), under 100, 500, 1,000, 5,000 yuan, and more.
    let bounds =
        [1, Money::yuan(100).fen(), Money::yuan(500).fen(), Money::yuan(1_000).fen(), Money::yuan(5_000).fen()];
    let read = state
        .store
        .read(move |r| Ok((r.fund_outlay_by_day(from)?, r.settlements_by_level()?, r.balance_distribution(&bounds)?)))
        .await;
    let Ok((outlay, levels, balances)) = read else { return unavailable(lang, &operator) };

    // The outlay: one bar a day, employees and residents stacked.
    let mut by_day: BTreeMap<String, (Money, Money)> = BTreeMap::new();
    for n in 0..DAYS {
        by_day.insert(first_day.plus_days(n).to_string(), (Money::ZERO, Money::ZERO));
    }
    for (day, insutype, fund) in &outlay {
        let slot = by_day.entry(day.clone()).or_insert((Money::ZERO, Money::ZERO));
        match insutype.parse::<InsuranceType>().map(|t| t.is_resident()) {
            Ok(true) => slot.1 += *fund,
            _ => slot.0 += *fund,
        }
    }
    let outlay_bars: Vec<_> = by_day
        .iter()
        .map(|(day, (employees, residents))| {
            (day[5..].to_string(), vec![(employees.fen(), EMPLOYEE_COLOUR), (residents.fen(), RESIDENT_COLOUR)])
        })
        .collect();
    let total_outlay: Money = by_day.values().map(|(e, r)| *e + *r).sum();

    let level_bars: Vec<_> = levels
        .iter()
        .map(|(level, count, _)| {
            (level_name(lang, level.as_deref()), vec![(i64::try_from(*count).unwrap_or(0), EMPLOYEE_COLOUR)])
        })
        .collect();
    let bucket_names = [
        lang.t("零", "zero"),
        lang.t("100元以下", "under 100"),
        "100–500",
        "500–1,000",
        "1,000–5,000",
        lang.t("5,000元以上", "5,000 and more"),
    ];
    let balance_bars: Vec<_> = bucket_names
        .iter()
        .zip(&balances)
        .map(|(name, count)| ((*name).to_string(), vec![(i64::try_from(*count).unwrap_or(0), RESIDENT_COLOUR)]))
        .collect();
    let body = html! {
        section class="card" aria-labelledby="outlay" {
            h2 id="outlay" { (lang.t("统筹基金支出（近14天，按险种）", "Pooled fund outlay, last 14 days, by insurance type")) }
            p class="muted" {
                span class="swatch-employee" { "■" } " " (lang.t("职工", "employees")) " "
                span class="swatch-resident" { "■" } " " (lang.t("城乡居民", "residents"))
                " · " (lang.t("合计", "total")) " " (yuan(total_outlay))
            }
            (bar_chart(lang.t("统筹基金每日支出", "Daily pooled fund outlay"), &outlay_bars))
            details {
                summary { (lang.t("数据表", "As a table")) }
                div class="scroll" {
                    table {
                        thead {
                            tr {
                                th scope="col" { (lang.t("日期", "Day")) }
                                th scope="col" class="num" { (lang.t("职工", "Employees")) }
                                th scope="col" class="num" { (lang.t("城乡居民", "Residents")) }
                            }
                        }
                        tbody {
                            @for (day, (employees, residents)) in &by_day {
                                tr {
                                    td { (day) }
                                    td class="num" { (yuan(*employees)) }
                                    td class="num" { (yuan(*residents)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="levels" {
            h2 id="levels" { (lang.t("按机构等级的结算笔数", "Settlements by institution level")) }
            (bar_chart(lang.t("各等级机构结算笔数", "Settlements by institution level"), &level_bars))
            div class="scroll" {
                table {
                    thead {
                        tr {
                            th scope="col" { (lang.t("等级", "Level")) }
                            th scope="col" class="num" { (lang.t("笔数", "Settlements")) }
                            th scope="col" class="num" { (lang.t("医疗费用", "Medical fees")) }
                        }
                    }
                    tbody {
                        @for (level, count, medfee) in &levels {
                            tr {
                                td { (level_name(lang, level.as_deref())) }
                                td class="num" { (count) }
                                td class="num" { (yuan(*medfee)) }
                            }
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="balances" {
            h2 id="balances" { (lang.t("个人账户余额分布", "Personal account balances")) }
            (bar_chart(lang.t("个人账户余额分布", "Distribution of personal account balances"), &balance_bars))
            div class="scroll" {
                table {
                    thead {
                        tr {
                            th scope="col" { (lang.t("余额（元）", "Balance (yuan)")) }
                            th scope="col" class="num" { (lang.t("人数", "Persons")) }
                        }
                    }
                    tbody {
                        @for (name, count) in bucket_names.iter().zip(&balances) {
                            tr {
                                td { (name) }
                                td class="num" { (count) }
                            }
                        }
                    }
                }
            }
        }
    };
    page(lang, lang.t("经办概览", "Agency dashboard"), Some(&operator), body)
}

#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    page: Option<u64>,
    admdvs: Option<String>,
    /// A whole ID number, a person number, a name or a card number.
    q: Option<String>,
}

fn query<T: serde::de::DeserializeOwned + Default>(uri: &axum::http::Uri) -> T {
    axum::extract::Query::try_from_uri(uri).map(|q| q.0).unwrap_or_default()
}

fn person_status(lang: Lang, status: yibao_engine::records::PersonStatus) -> &'static str {
    use yibao_engine::records::PersonStatus;
    match status {
        PersonStatus::Active => lang.t("正常参保", "insured"),
        PersonStatus::Suspended => lang.t("暂停", "suspended"),
        PersonStatus::Terminated => lang.t("终止", "terminated"),
        PersonStatus::Guest => lang.t("异地（他区参保）", "guest (insured elsewhere)"),
    }
}

async fn persons(State(state): State<Arc<AppState>>, lang: Lang, desk: Desk, uri: axum::http::Uri) -> Response {
    let Some(DeskOperator { username: operator, .. }) = desk.0 else {
        return Redirect::to("/agency/login").into_response();
    };
    let q: PageQuery = query(&uri);
    let number = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let admdvs = q.admdvs.clone().filter(|a| a.len() == 6 && a.bytes().all(|b| b.is_ascii_digit()));
    let searched =
        q.q.as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(|text| (text.to_string(), PersonLookup::from_text(text)));
    if let Some((_, None)) = &searched {
        let message = lang.t("查询条件须为1至40个字符", "A search is 1 to 40 characters");
        return page(
            lang,
            lang.t("参保登记", "Registry"),
            Some(&operator),
            html! { p.error role="alert" { (message) } },
        );
    }
    let lookup = searched.as_ref().and_then(|(_, lookup)| lookup.clone());
    if let Some(found) = &lookup {
        // A search names a person: audited as the REST search is.
        let entry = yibao_app::access::audit(
            crate::rest::operator_actor(&operator),
            "search-persons",
            found.audited(),
            String::new(),
        );
        if state.store.execute(entry).await.is_err() {
            return unavailable(lang, &operator);
        }
    }
    let region_filter = admdvs.clone();
    let read = state
        .store
        .read(move |r| r.persons(region_filter.as_deref(), lookup.as_ref(), (number - 1) * ROWS, ROWS))
        .await;
    let Ok(found) = read else {
        return unavailable(lang, &operator);
    };
    let searched_text = searched.map(|(text, _)| text).unwrap_or_default();
    let pages = found.total.div_ceil(ROWS).max(1);
    let mut region = admdvs.map(|a| format!("&admdvs={a}")).unwrap_or_default();
    if !searched_text.is_empty() {
        region.push_str("&q=");
        region.push_str(&query_value(&searched_text));
    }
    let body = html! {
        form method="get" action="/agency/persons" role="search" {
            label for="q" { (lang.t("查找参保人（身份证号、人员编号、姓名或卡号）", "Find a person (ID number, person number, name or card number)")) }
            " "
            input id="q" name="q" type="search" maxlength="40" value=(searched_text);
            " "
            button type="submit" { (lang.t("查找", "Find")) }
        }
        p class="muted" {
            (lang.t("参保人数", "Insured persons")) " " (found.total) " · " (lang.t("页", "page")) " " (number) "/" (pages)
        }
        div class="scroll" {
            table {
                thead {
                    tr {
                        th scope="col" { (lang.t("人员编号", "Person number")) }
                        th scope="col" { (lang.t("姓名", "Name")) }
                        th scope="col" { (lang.t("身份证号", "ID number")) }
                        th scope="col" { (lang.t("统筹区", "Region")) }
                        th scope="col" { (lang.t("险种", "Insurance")) }
                        th scope="col" { (lang.t("状态", "Status")) }
                    }
                }
                tbody {
                    @for p in &found.rows {
                        tr {
                            td { a href=(format!("/agency/persons/{}", p.psn_no)) { (p.psn_no.as_str()) } }
                            td { (p.name) }
                            td { (p.id_number.masked()) }
                            td { (p.admdvs.as_str()) }
                            td { (p.insurance.name_zh()) }
                            td { (person_status(lang, p.status)) }
                        }
                    }
                }
            }
        }
        p {
            @if number < pages {
                a href=(format!("/agency/persons?page={}{region}", number + 1)) { (lang.t("下一页", "Next page")) }
            }
        }
    };
    page(lang, lang.t("参保登记", "Registry"), Some(&operator), body)
}

async fn card_applications(State(state): State<Arc<AppState>>, lang: Lang, desk: Desk) -> Response {
    let Some(DeskOperator { username: operator, .. }) = desk.0 else {
        return Redirect::to("/agency/login").into_response();
    };
    let Ok((applications, losses)) = state
        .store
        .read(|r| {
            let applications = r.card_applications(None, ROWS)?;
            let losses = r.loss_reports_of(&applications)?;
            Ok((applications, losses))
        })
        .await
    else {
        return unavailable(lang, &operator);
    };
    // A replacement's path and its new card's deadline (seed 000: 45 working days after the
    // loss notice; seed 003: 7 days after the proof letter).
    let path_of = |a: &yibao_engine::records::CardApplication| {
        a.replacement_path(losses.iter().find(|report| a.replaces.as_ref() == Some(&report.card_no)))
    };
    let today = state.store.now().date();
    let step = |on: Option<yibao_domain::Date>| on.map_or_else(|| "—".to_string(), |d| d.to_string());
    let body = html! {
        div class="scroll" {
            table {
                thead {
                    tr {
                        th scope="col" { (lang.t("申请号", "Application")) }
                        th scope="col" { (lang.t("人员编号", "Person")) }
                        th scope="col" { (lang.t("卡号", "Card")) }
                        th scope="col" { (lang.t("照相（完成/期限）", "Photo (done / due)")) }
                        th scope="col" { (lang.t("交表缴费（完成/期限）", "Forms and fees (done / due)")) }
                        th scope="col" { (lang.t("发卡", "Issued")) }
                        th scope="col" { (lang.t("逾期", "Overdue")) }
                    }
                }
                tbody {
                    @for a in &applications {
                        @let path = path_of(a);
                        @let overdue = a.overdue(today, path);
                        tr {
                            td { (a.id) }
                            td { (a.psn_no.as_str()) }
                            td { (a.card_no.as_str()) }
                            @if let Some(path) = path {
                                td colspan="2" {
                                    (lang.t("补卡", "Replacement")) " (" (path.as_str()) "): "
                                    (lang.t("新卡期限", "new card due")) " " (step(a.card_due(path)))
                                }
                            } @else {
                                td { (step(a.photo_paid_on)) " / " (a.photo_due()) }
                                td { (step(a.forms_paid_on)) " / " (a.forms_due()) }
                            }
                            td { (step(a.issued_on)) }
                            td {
                                @if overdue.is_empty() {
                                    "—"
                                } @else {
                                    strong class="late" { (overdue.join(", ")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(lang, lang.t("制卡申请", "Card applications"), Some(&operator), body)
}

#[derive(Debug, Deserialize, Default)]
struct Period {
    from: Option<String>,
    to: Option<String>,
}

async fn clearing(State(state): State<Arc<AppState>>, lang: Lang, desk: Desk, uri: axum::http::Uri) -> Response {
    let Some(DeskOperator { username: operator, .. }) = desk.0 else {
        return Redirect::to("/agency/login").into_response();
    };
    let q: Period = query(&uri);
    let today = state.store.now().date();
    let from = q.from.and_then(|d| d.parse::<yibao_domain::Date>().ok()).unwrap_or_else(|| today.plus_days(-30));
    let to = q.to.and_then(|d| d.parse::<yibao_domain::Date>().ok()).unwrap_or(today);
    let (start, end) = (
        format!("{from} 00:00:00").parse::<yibao_domain::DateTime>().ok(),
        format!("{} 00:00:00", to.plus_days(1)).parse::<yibao_domain::DateTime>().ok(),
    );
    let read = state
        .store
        .read(move |r| {
            let institutions = r.institutions(None)?;
            let mut totals = Vec::with_capacity(institutions.len());
            for institution in institutions {
                let filter = SettlementFilter {
                    institution: Some(institution.code.clone()),
                    from: start,
                    until: end,
                    ..SettlementFilter::default()
                };
                totals.push((institution, r.settlement_totals(&filter)?));
            }
            Ok(totals)
        })
        .await;
    let Ok(totals) = read else { return unavailable(lang, &operator) };
    let body = html! {
        form class="card" method="get" action="/agency/clearing" {
            label for="from" { (lang.t("起始日期", "From")) }
            input id="from" name="from" type="date" value=(from);
            label for="to" { (lang.t("截止日期", "To")) }
            input id="to" name="to" type="date" value=(to);
            button type="submit" { (lang.t("查询", "Show")) }
        }
        div class="scroll" {
            table {
                thead {
                    tr {
                        th scope="col" { (lang.t("机构", "Institution")) }
                        th scope="col" { (lang.t("编码", "Code")) }
                        th scope="col" class="num" { (lang.t("笔数", "Settlements")) }
                        th scope="col" class="num" { (lang.t("医疗费用", "Medical fees")) }
                        th scope="col" class="num" { (lang.t("统筹", "Fund")) }
                        th scope="col" class="num" { (lang.t("个人账户", "Account")) }
                        th scope="col" class="num" { (lang.t("现金", "Cash")) }
                        th scope="col" class="num" { (lang.t("应付机构", "Owed")) }
                    }
                }
                tbody {
                    @for (i, t) in &totals {
                        tr {
                            td { (i.name) }
                            td { (i.code.as_str()) }
                            td class="num" { (t.count) }
                            td class="num" { (yuan(t.medfee)) }
                            td class="num" { (yuan(t.fund)) }
                            td class="num" { (yuan(t.account)) }
                            td class="num" { (yuan(t.cash)) }
                            td class="num" { (yuan(t.fund + t.account)) }
                        }
                    }
                }
            }
        }
        p class="muted" {
            (lang.t(
                "撤销以负数冲正计入。按日结清及对账单（CSV、PDF）见 /api/v1/clearing/institutions/{code}。",
                "Cancellations count as negative mirrors. Day-by-day payment and statements (CSV, PDF): /api/v1/clearing/institutions/{code}."
            ))
        }
    };
    page(lang, lang.t("清算", "Clearing"), Some(&operator), body)
}

async fn audit(State(state): State<Arc<AppState>>, lang: Lang, desk: Desk) -> Response {
    let Some(DeskOperator { username: operator, .. }) = desk.0 else {
        return Redirect::to("/agency/login").into_response();
    };
    let Ok(entries) = state.store.read(|r| r.audit_log(None, ROWS)).await else { return unavailable(lang, &operator) };
    let body = html! {
        div class="scroll" {
            table {
                thead {
                    tr {
                        th scope="col" { (lang.t("时间", "Time")) }
                        th scope="col" { (lang.t("操作人", "Actor")) }
                        th scope="col" { (lang.t("操作", "Action")) }
                        th scope="col" { (lang.t("对象", "Subject")) }
                        th scope="col" { (lang.t("事由", "Reason")) }
                    }
                }
                tbody {
                    @for e in &entries {
                        tr {
                            td { (e.at) }
                            td { (e.actor) }
                            td { (e.action) }
                            td { (e.subject) }
                            td { (e.reason) }
                        }
                    }
                }
            }
        }
    };
    page(lang, lang.t("审计日志", "Audit log"), Some(&operator), body)
}

/// Movements of the account the person page lists (the newest).
const STATEMENT_ROWS: usize = 30;

/// A person's whole insured life on one page (issue 17): who they are, their account with a
/// running balance, cards and loss reports, registrations, life events, payouts,
/// reimbursements, disputes, the newest settlements and notifications. The read is audited as
/// the REST API's operator reads are.
async fn person_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    desk: Desk,
    axum::extract::Path(psn_no): axum::extract::Path<String>,
) -> Response {
    let Some(DeskOperator { username: operator, .. }) = desk.0 else {
        return Redirect::to("/agency/login").into_response();
    };
    let not_found = |lang: Lang, operator: &str| {
        let body = html! { p.error role="alert" { (lang.t("没有这个人员编号", "No such person number")) } };
        let mut response = page(lang, lang.t("参保人", "Insured person"), Some(operator), body);
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
    };
    let Ok(number) = psn_no.parse::<yibao_domain::PersonNo>() else { return not_found(lang, &operator) };
    let lookup = number.clone();
    // The statement of the last 13 months (its opening balance carries what came before).
    let since = yibao_domain::DateTime::start_of(state.store.now().date().plus_days(-400));
    let read = state
        .store
        .read(move |r| {
            let Some(person) = r.person(&lookup)? else { return Ok(None) };
            let filter = SettlementFilter { person: Some(lookup.clone()), ..SettlementFilter::default() };
            let cards = r.cards_of(&lookup)?;
            let mut losses = Vec::new();
            for card in &cards {
                losses.extend(r.loss_report(&card.card_no)?);
            }
            Ok(Some(PersonPage {
                balances: r.balances(&lookup)?,
                statement: r.statement(&lookup, Some(since), None, 5_000)?,
                cards,
                losses,
                diseases: r.registrations(&lookup)?,
                elsewhere: r.elsewhere_of(&lookup)?,
                events: r.life_events(&lookup)?,
                payouts: r.payouts_of(&lookup)?,
                reimbursements: r.reimbursements_of(&lookup)?,
                disputes: r.disputes_of(&lookup)?,
                settlements: {
                    // The newest 20, newest first (the reader lists oldest first).
                    let total = r.settlements(&filter, 0, 0)?.total;
                    let mut rows = r.settlements(&filter, total.saturating_sub(20), 20)?.rows;
                    rows.reverse();
                    rows
                },
                notifications: r.notifications_of(&lookup, false, 20)?,
                person,
            }))
        })
        .await;
    let found = match read {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(lang, &operator),
        Err(_) => return unavailable(lang, &operator),
    };
    let entry = yibao_app::access::audit(
        crate::rest::operator_actor(&operator),
        "read-person",
        number.to_string(),
        "agency person page".to_string(),
    );
    if state.store.execute(entry).await.is_err() {
        return unavailable(lang, &operator);
    }
    let title = format!("{} {}", found.person.name, found.person.psn_no);
    page(lang, &title, Some(&operator), person_body(lang, &found))
}

/// What the person page shows, read in one snapshot.
struct PersonPage {
    person: yibao_engine::records::Person,
    balances: (Money, Money),
    statement: yibao_store::Statement,
    cards: Vec<yibao_engine::records::Card>,
    losses: Vec<yibao_engine::records::LossReport>,
    diseases: Vec<yibao_engine::records::DiseaseRegistration>,
    elsewhere: Vec<yibao_engine::records::ElsewhereRegistration>,
    events: Vec<yibao_engine::records::LifeEvent>,
    payouts: Vec<yibao_engine::records::Payout>,
    reimbursements: Vec<yibao_engine::records::Reimbursement>,
    disputes: Vec<yibao_engine::records::Dispute>,
    settlements: Vec<yibao_engine::records::Settlement>,
    notifications: Vec<yibao_engine::records::Notification>,
}

fn person_body(lang: Lang, p: &PersonPage) -> Markup {
    let person = &p.person;
    let (current, prior) = p.balances;
    let none = || html! { p.muted { (lang.t("无", "None")) } };
    let entries: Vec<&yibao_store::StatementEntry> = p.statement.entries.iter().rev().take(STATEMENT_ROWS).collect();
    html! {
        div.figures {
            p.figure { (lang.t("账户余额", "Balance")) b { (yuan(current + prior)) } }
            p.figure { (lang.t("当年账户", "Current year")) b { (yuan(current)) } }
            p.figure { (lang.t("历年账户", "Prior years")) b { (yuan(prior)) } }
            p.figure { (lang.t("状态", "Status")) b { (person_status(lang, person.status)) } }
        }
        div.scroll {
            table {
                tbody {
                    tr { th scope="row" { (lang.t("身份证号", "ID number")) } td { (person.id_number.masked()) } }
                    tr { th scope="row" { (lang.t("统筹区 / 险种", "Region / insurance")) } td { (person.admdvs.as_str()) " · " (person.insurance.name_zh()) } }
                    tr { th scope="row" { (lang.t("人员类别", "Person type")) } td { (person.person_type.name_zh()) } }
                    tr { th scope="row" { (lang.t("参保单位", "Employer")) } td { (person.employer.as_deref().unwrap_or("—")) } }
                    tr { th scope="row" { (lang.t("缴费基数", "Contribution base")) } td { (person.contribution_base.map_or_else(|| "—".to_string(), yuan)) } }
                    tr { th scope="row" { (lang.t("参保日期", "Insured since")) } td { (person.insured_since) } }
                    tr { th scope="row" { (lang.t("托管银行", "Custody bank")) } td { (person.custody_bank.as_str()) @if person.account_frozen { " " strong.late { (lang.t("（账户冻结）", "(account frozen)")) } } } }
                }
            }
        }
        h2 { (lang.t("账户明细（最近）", "Account statement (newest)")) }
        p.muted { (lang.t("最近13个月，最新的在前", "The last 13 months, newest first")) }
        @if entries.is_empty() { (none()) } @else {
            div.scroll {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("时间", "When")) }
                        th scope="col" { (lang.t("摘要", "What")) }
                        th.num scope="col" { (lang.t("金额", "Amount")) }
                        th.num scope="col" { (lang.t("余额", "Balance")) }
                    } }
                    tbody {
                        @for entry in &entries {
                            tr {
                                td { (entry.at) }
                                td { (lang.t(entry.code.name_zh(), entry.code.name_en())) }
                                td.num { (crate::pages::html::signed_yuan(entry.amount())) }
                                td.num { (yuan(entry.balance)) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (lang.t("医保卡", "Cards")) }
        @if p.cards.is_empty() { (none()) } @else {
            ul.items {
                @for card in &p.cards {
                    li {
                        code { (card.card_no.as_str()) } " · " (card.status.as_str()) " · " (card.bank.as_str())
                        @if let Some(loss) = p.losses.iter().find(|loss| loss.card_no == card.card_no) {
                            br;
                            span.muted {
                                (lang.t("挂失通知书", "Loss notice")) " " (loss.notice_no) " · " (loss.reported_at) " · " (loss.channel.name_zh())
                                @if let Some(due) = loss.card_due() { " · " (lang.t("新卡期限", "new card due")) " " (due) }
                            }
                        }
                        @if matches!(card.status, yibao_engine::records::CardStatus::Active | yibao_engine::records::CardStatus::Blocked) {
                            @let field = |name: &str| format!("{name}-{}", card.card_no);
                            form method="post" action=(format!("/agency/persons/{}/cards/{}/loss", person.psn_no, card.card_no))
                                data-confirm=(lang.t("确认挂失此卡？挂失后此卡不能再支付。", "Report this card lost? It will pay no more.")) {
                                fieldset {
                                    legend { (lang.t("挂失", "Report lost")) }
                                    label for=(field("channel")) { (lang.t("挂失渠道", "Reported at")) }
                                    select id=(field("channel")) name="channel" {
                                        option value="agency" { (lang.t("经办机构", "the agency")) }
                                        option value="bank" { (lang.t("服务银行", "the service bank")) }
                                    }
                                    label for=(field("reason")) { (lang.t("原因", "Reason")) }
                                    input id=(field("reason")) name="reason" required maxlength="200";
                                    button type="submit" { (lang.t("挂失", "Report lost")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (lang.t("备案", "Registrations")) }
        @if p.diseases.is_empty() && p.elsewhere.is_empty() { (none()) } @else {
            ul.items {
                @for r in &p.diseases {
                    li { (lang.t("门诊慢特病", "Special disease")) " " (r.name) " (" (r.code) ") " (r.begin) " – " (r.end) @if r.revoked { " " strong { (lang.t("已撤销", "revoked")) } } }
                }
                @for r in &p.elsewhere {
                    li { (lang.t("异地就医", "Treatment elsewhere")) " " (r.region.as_str()) " " (r.kind.name_zh()) " " (r.begin) " – " (r.end) @if r.revoked { " " strong { (lang.t("已撤销", "revoked")) } } }
                }
            }
        }
        h2 { (lang.t("参保变更", "Life events")) }
        @if p.events.is_empty() { (none()) } @else {
            ul.items {
                @for e in &p.events {
                    li { (e.effective) " " (e.kind.name_zh()) " — " (e.reason) " " span.muted { "(" (e.actor) ")" } }
                }
            }
        }
        h2 { (lang.t("支取、报销与异议", "Payouts, reimbursements and disputes")) }
        @if p.payouts.is_empty() && p.reimbursements.is_empty() && p.disputes.is_empty() { (none()) } @else {
            ul.items {
                @for x in &p.payouts { li { (x.id) " " (x.kind.name_zh()) " " (yuan(x.amount)) " · " (x.state.code()) } }
                @for x in &p.reimbursements { li { (x.id) " " (x.provider.name) " " (yuan(x.amounts.medfee)) " · " (x.state.code()) } }
                @for x in &p.disputes { li { (x.id) " " (x.transfer) " " (crate::pages::html::signed_yuan(x.amount)) " · " (x.state.code()) } }
            }
        }
        h2 { (lang.t("最近结算", "Newest settlements")) }
        @if p.settlements.is_empty() { (none()) } @else {
            div.scroll {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("结算号", "Settlement")) }
                        th scope="col" { (lang.t("机构", "Institution")) }
                        th.num scope="col" { (lang.t("总费用", "Total")) }
                        th.num scope="col" { (lang.t("基金", "Funds")) }
                        th.num scope="col" { (lang.t("账户", "Account")) }
                    } }
                    tbody {
                        @for s in &p.settlements {
                            tr {
                                td { (s.setl_id.as_str()) br; span.muted { (s.at) } }
                                td { (s.institution.as_str()) }
                                td.num { (yuan(s.amounts.medfee)) }
                                td.num { (yuan(s.amounts.funds())) }
                                td.num { (yuan(s.amounts.account())) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (lang.t("消息", "Notifications")) }
        @if p.notifications.is_empty() { (none()) } @else {
            ul.items {
                @for n in &p.notifications { li { span.muted { (n.at) } " " (lang.t(&n.text_zh, &n.text_en)) } }
            }
        }
    }
}

/// The four-eyes queue (issue 17): payouts proposed and reimbursements submitted by one
/// operator, for a reviewer to approve or reject with a reason; open disputes are listed. An
/// operator without the reviewer role sees the queue but no forms.
async fn review_queue(State(state): State<Arc<AppState>>, lang: Lang, desk: Desk) -> Response {
    let Some(DeskOperator { username: operator, roles, .. }) = desk.0 else {
        return Redirect::to("/agency/login").into_response();
    };
    queue_page(&state, lang, &operator, &roles, None).await
}

async fn queue_page(
    state: &AppState,
    lang: Lang,
    operator: &str,
    roles: &[String],
    error: Option<&ApiError>,
) -> Response {
    let read = state
        .store
        .read(|r| {
            Ok((r.payouts_in("proposed", ROWS)?, r.reimbursements_in("submitted", ROWS)?, r.disputes_in("open", ROWS)?))
        })
        .await;
    let Ok((payouts, bills, disputes)) = read else { return unavailable(lang, operator) };
    // The queue shows persons' payees and notes: audited as the REST queues are.
    let entry = yibao_app::access::audit(
        crate::rest::operator_actor(operator),
        "read-review-queue",
        String::new(),
        String::new(),
    );
    if state.store.execute(entry).await.is_err() {
        return unavailable(lang, operator);
    }
    let reviewer = roles.iter().any(|role| role == crate::rest::REVIEWER);
    // The decision is a choice made on purpose (no default: Enter in the reason box must not
    // approve), then one submit.
    let decide = |action: String, id: &str, with_documents: bool| {
        let choice = |value: &str, zh: &str, en: &str| {
            let input_id = format!("{value}-{id}");
            html! {
                input.check type="radio" id=(input_id) name="decision" value=(value) required;
                " " label.inline for=(input_id) { (lang.t(zh, en)) } " "
            }
        };
        html! {
            form method="post" action=(action) {
                fieldset {
                    legend { (lang.t("审核结论", "Decision")) }
                    (choice("approve", "批准", "Approve"))
                    (choice("reject", "驳回", "Reject"))
                    @if with_documents { (choice("request-documents", "补充材料", "Ask for documents")) }
                }
                label for=(format!("reason-{id}")) { (lang.t("审核意见", "Reason")) }
                input id=(format!("reason-{id}")) name="reason" required maxlength="200";
                button type="submit" { (lang.t("提交审核", "Submit the decision")) }
            }
        }
    };
    let body = html! {
        @if let Some(error) = error { (error_box(lang, error)) }
        @if !reviewer {
            p.notice { (lang.t("审核须由具有复核角色的另一名经办人员办理。", "Another operator with the reviewer role decides these.")) }
        }
        h2 { (lang.t("待审核的个人账户支取", "Payouts awaiting review")) }
        @if payouts.is_empty() { p.muted { (lang.t("无", "None")) } }
        ul.items {
            @for x in &payouts {
                li {
                    strong { (x.id) } " " (x.kind.name_zh()) " " (yuan(x.amount)) " · "
                    a href=(format!("/agency/persons/{}", x.psn_no)) { (x.psn_no.as_str()) }
                    " · " (lang.t("收款", "to")) " " (x.payee.name) " " (x.payee.bank) " " code { (x.payee.account) }
                    @if let Some(reference) = &x.payee.reference { " (" (reference) ")" }
                    " · " (lang.t("申请人", "proposed by")) " " (x.proposed_by)
                    br; span.muted { (x.reason) }
                    @if reviewer { (decide(format!("/agency/queue/payouts/{}", x.id), &x.id, false)) }
                }
            }
        }
        h2 { (lang.t("待审核的零星报销", "Reimbursements awaiting review")) }
        @if bills.is_empty() { p.muted { (lang.t("无", "None")) } }
        ul.items {
            @for x in &bills {
                li {
                    strong { (x.id) } " " (x.provider.name) " " (yuan(x.amounts.medfee)) " · "
                    a href=(format!("/agency/persons/{}", x.psn_no)) { (x.psn_no.as_str()) }
                    " · " (lang.t("报销", "reimbursed")) " " (yuan(x.amounts.insurer_part()))
                    " · " (lang.t("收款", "to")) " " (x.payee.name) " " (x.payee.bank) " " code { (x.payee.account) }
                    " · " (lang.t("经办", "submitted by")) " " (x.submitted_by)
                    br; span.muted { (x.note) }
                    @if reviewer { (decide(format!("/agency/queue/reimbursements/{}", x.id), &x.id, true)) }
                }
            }
        }
        h2 { (lang.t("待处理的异议", "Open disputes")) }
        @if disputes.is_empty() { p.muted { (lang.t("无", "None")) } }
        ul.items {
            @for x in &disputes {
                li {
                    strong { (x.id) } " " (x.transfer) " " (crate::pages::html::signed_yuan(x.amount)) " · "
                    a href=(format!("/agency/persons/{}", x.psn_no)) { (x.psn_no.as_str()) }
                    br; span.muted { (x.reason) }
                }
            }
        }
    };
    let mut response = page(lang, lang.t("复核队列", "Review queue"), Some(operator), body);
    if let Some(error) = error {
        *response.status_mut() = error.status;
    }
    response
}

#[derive(Debug, Deserialize)]
struct DecisionForm {
    decision: String,
    reason: String,
}

/// A reviewer's decision on a payout or a reimbursement, from the queue's forms: the same
/// commands as the REST API's reviews (four eyes: never on one's own proposal).
async fn decide(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    desk: Desk,
    axum::extract::Path((what, id)): axum::extract::Path<(String, String)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let Some(DeskOperator { username: operator, roles, .. }) = desk.0 else {
        return Redirect::to("/agency/login").into_response();
    };
    let refused = |error: ApiError| {
        let (state, operator, roles) = (state.clone(), operator.clone(), roles.clone());
        async move { queue_page(&state, lang, &operator, &roles, Some(&error)).await }
    };
    if !roles.iter().any(|role| role == crate::rest::REVIEWER) {
        return refused(ApiError::forbidden("only an operator with the reviewer role decides")).await;
    }
    if id.is_empty() || id.len() > 40 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return refused(ApiError::not_found(format!("no {what} {id}"))).await;
    }
    let actor = crate::rest::operator_actor(&operator);
    let result = match (what.as_str(), form.decision.as_str()) {
        ("payouts", "approve" | "reject") => {
            let command = yibao_engine::commands::ReviewPayout {
                id,
                approve: form.decision == "approve",
                reason: form.reason.trim().to_string(),
                actor,
            };
            state.store.execute(command).await
        }
        ("reimbursements", decision @ ("approve" | "reject" | "request-documents")) => {
            use yibao_engine::commands::ReviewDecision;
            let decision = match decision {
                "approve" => ReviewDecision::Approve,
                "reject" => ReviewDecision::Reject,
                _ => ReviewDecision::RequestDocuments,
            };
            let command = yibao_engine::commands::ReviewReimbursement {
                id,
                decision,
                reason: form.reason.trim().to_string(),
                actor,
            };
            state.store.execute(command).await
        }
        _ => return refused(ApiError::invalid("no such decision", "审核结论不正确")).await,
    };
    match result {
        Ok(_) => Redirect::to("/agency/queue").into_response(),
        Err(error) => refused(ApiError::from(error)).await,
    }
}

#[derive(Debug, Deserialize)]
struct LossForm {
    channel: String,
    reason: String,
}

/// An operator reports a person's card lost from the person page, with where it was reported
/// and why (the same command as the REST API's loss report); back to the page, which then
/// shows the loss notice.
async fn report_loss(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    desk: Desk,
    axum::extract::Path((psn_no, card_no)): axum::extract::Path<(String, String)>,
    Form(form): Form<LossForm>,
) -> Response {
    let Some(DeskOperator { username: operator, .. }) = desk.0 else {
        return Redirect::to("/agency/login").into_response();
    };
    let refused = |error: ApiError| {
        let body = html! {
            (error_box(lang, &error))
            p { a href=(format!("/agency/persons/{}", query_value(&psn_no))) { (lang.t("返回", "Back")) } }
        };
        let mut response = page(lang, lang.t("挂失", "Report lost"), Some(&operator), body);
        *response.status_mut() = error.status;
        response
    };
    let Ok(card_no) = card_no.parse::<yibao_domain::CardNo>() else {
        return refused(ApiError::not_found(format!("no card {card_no}")));
    };
    let lookup = card_no.clone();
    let card = match state.store.read(move |r| r.card(&lookup)).await {
        Ok(Some(card)) if card.psn_no.as_str() == psn_no => card,
        Ok(_) => return refused(ApiError::not_found(format!("no card {card_no} of person {psn_no}"))),
        Err(_) => return unavailable(lang, &operator),
    };
    let channel = match form.channel.as_str() {
        "agency" => yibao_engine::records::LossChannel::Agency,
        "bank" => yibao_engine::records::LossChannel::Bank,
        _ => return refused(ApiError::invalid("the channel is agency or bank", "挂失渠道须为经办机构或服务银行")),
    };
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return refused(ApiError::invalid("a reason of 1 to 200 characters", "原因须为1至200个字符"));
    }
    let mut command = yibao_app::cards::change_status(
        card.card_no,
        yibao_engine::records::CardStatus::Lost,
        crate::rest::operator_actor(&operator),
        reason.to_string(),
    );
    command.channel = Some(channel);
    match state.store.execute(command).await {
        Ok(_) => Redirect::to(&format!("/agency/persons/{}", card.psn_no)).into_response(),
        Err(error) => refused(ApiError::from(error)),
    }
}

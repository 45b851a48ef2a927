//! The agency's pages (R7, R8): server-rendered under `/agency` for operators. A dashboard with
//! charts (the pooled funds' outlay by day and insurance type, settlements by institution level,
//! the distribution of personal account balances), the registry, card applications with their
//! deadlines, clearing totals per institution, and the audit log. Charts are inline SVG with the
//! same figures as a table beside them (for screen readers and for copying).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use yibao_domain::{InsuranceType, Money};
use yibao_store::SettlementFilter;

use crate::kit::sessions::{Session, Subject};
use crate::pages::html::{Lang, SessionCookie, error_box, esc, language_switch, shell, yuan};
use crate::rest::ApiError;
use crate::state::AppState;
use maud::PreEscaped;

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
        .route("/agency/card-applications", get(card_applications))
        .route("/agency/clearing", get(clearing))
        .route("/agency/audit", get(audit))
}

/// The operator of an agency request.
struct Desk(Option<(String, String)>);

impl FromRequestParts<Arc<AppState>> for Desk {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Desk, Self::Rejection> {
        Ok(Desk(match COOKIE.session(&parts.headers, state) {
            Some((Session { subject: Subject::Operator { username, .. }, .. }, token)) => Some((username, token)),
            _ => None,
        }))
    }
}

fn page(lang: Lang, title: &str, operator: Option<&str>, body: &str) -> Response {
    let nav = match operator {
        Some(operator) => format!(
            "<a href=\"/agency\">{dash}</a><a href=\"/agency/persons\">{reg}</a><a href=\"/agency/card-applications\">{cards}</a>\
             <a href=\"/agency/clearing\">{clr}</a><a href=\"/agency/audit\">{aud}</a>{switch}<span>{who}</span>\
             <form method=\"post\" action=\"/agency/logout\"><button type=\"submit\">{out}</button></form>",
            dash = lang.t("概览", "Dashboard"),
            reg = lang.t("参保登记", "Registry"),
            cards = lang.t("制卡申请", "Card applications"),
            clr = lang.t("清算", "Clearing"),
            aud = lang.t("审计日志", "Audit log"),
            switch = language_switch(lang).into_string(),
            who = esc(operator),
            out = lang.t("退出", "Log out"),
        ),
        None => language_switch(lang).into_string(),
    };
    shell(
        lang,
        title,
        ("/agency", lang.t("医保经办", "Insurance agency")),
        PreEscaped(nav),
        PreEscaped(body.to_string()),
    )
}

fn unavailable(lang: Lang, operator: &str) -> Response {
    let error =
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the store is unavailable", "服务暂时不可用");
    let mut response =
        page(lang, lang.t("出错了", "Something went wrong"), Some(operator), &error_box(lang, &error).into_string());
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
    let body = format!(
        "{error}<form class=\"card\" method=\"post\" action=\"/agency/login\">\
         <label for=\"username\">{user}</label><input id=\"username\" name=\"username\" required maxlength=\"64\" autocomplete=\"username\">\
         <label for=\"password\">{pw}</label><input id=\"password\" name=\"password\" type=\"password\" required maxlength=\"128\" autocomplete=\"current-password\">\
         <button type=\"submit\">{submit}</button></form>",
        error = error.map(|error| error_box(lang, error).into_string()).unwrap_or_default(),
        user = lang.t("用户名", "Username"),
        pw = lang.t("密码", "Password"),
        submit = lang.t("登录", "Log in"),
    );
    let mut response = page(lang, lang.t("经办人员登录", "Operator login"), None, &body);
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
    COOKIE.logged_out(&state, desk.0.as_ref().map(|(_, token)| token.as_str()))
}

/// A bar chart as SVG: `bars` of (label, stacked parts), each part (value, colour); values in
/// any unit, drawn to the largest total. Labelled for screen readers by `title`.
fn bar_chart(title: &str, bars: &[(String, Vec<(i64, &'static str)>)]) -> String {
    let (width, height, left, bottom) = (640i64, 220i64, 8i64, 36i64);
    let most =
        bars.iter().map(|(_, parts)| parts.iter().map(|(v, _)| (*v).max(0)).sum::<i64>()).max().unwrap_or(0).max(1);
    let slot = (width - left) / i64::try_from(bars.len().max(1)).unwrap_or(1);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\" preserveAspectRatio=\"none\">",
        esc(title)
    );
    for (n, (label, parts)) in bars.iter().enumerate() {
        let x = left + slot * i64::try_from(n).unwrap_or(0);
        let mut y = height - bottom;
        for (value, colour) in parts {
            let h = (*value).max(0) * (height - bottom - 10) / most;
            y -= h;
            let _ = write!(
                svg,
                "<rect x=\"{}\" y=\"{y}\" width=\"{}\" height=\"{h}\" fill=\"{colour}\"></rect>",
                x + 4,
                (slot - 8).max(2)
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
            x + slot / 2,
            height - bottom + 16,
            esc(label)
        );
    }
    svg.push_str("</svg>");
    svg
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
    let Some((operator, _)) = desk.0 else { return Redirect::to("/agency/login").into_response() };
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
    let outlay_rows: String = by_day
        .iter()
        .map(|(day, (e, r))| {
            format!("<tr><td>{day}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>", yuan(*e), yuan(*r))
        })
        .collect();
    let total_outlay: Money = by_day.values().map(|(e, r)| *e + *r).sum();

    let level_bars: Vec<_> = levels
        .iter()
        .map(|(level, count, _)| {
            (level_name(lang, level.as_deref()), vec![(i64::try_from(*count).unwrap_or(0), EMPLOYEE_COLOUR)])
        })
        .collect();
    let level_rows: String = levels
        .iter()
        .map(|(level, count, medfee)| {
            format!(
                "<tr><td>{}</td><td class=\"num\">{count}</td><td class=\"num\">{}</td></tr>",
                esc(&level_name(lang, level.as_deref())),
                yuan(*medfee)
            )
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
    let balance_rows: String = bucket_names
        .iter()
        .zip(&balances)
        .map(|(name, count)| format!("<tr><td>{name}</td><td class=\"num\">{count}</td></tr>"))
        .collect();

    let legend = format!(
        "<span class=\"swatch-employee\">■</span> {} <span class=\"swatch-resident\">■</span> {}",
        lang.t("职工", "employees"),
        lang.t("城乡居民", "residents")
    );
    let body = format!(
        "<section class=\"card\" aria-labelledby=\"outlay\"><h2 id=\"outlay\">{outlay_t}</h2>\
         <p class=\"muted\">{legend} · {total_l} {total}</p>{outlay_chart}\
         <details><summary>{as_table}</summary><div class=\"scroll\"><table><thead><tr><th scope=\"col\">{day_l}</th><th scope=\"col\" class=\"num\">{emp}</th><th scope=\"col\" class=\"num\">{res}</th></tr></thead><tbody>{outlay_rows}</tbody></table></div></details></section>\
         <section class=\"card\" aria-labelledby=\"levels\"><h2 id=\"levels\">{levels_t}</h2>{level_chart}\
         <div class=\"scroll\"><table><thead><tr><th scope=\"col\">{level_l}</th><th scope=\"col\" class=\"num\">{count_l}</th><th scope=\"col\" class=\"num\">{fee_l}</th></tr></thead><tbody>{level_rows}</tbody></table></div></section>\
         <section class=\"card\" aria-labelledby=\"balances\"><h2 id=\"balances\">{bal_t}</h2>{balance_chart}\
         <div class=\"scroll\"><table><thead><tr><th scope=\"col\">{range_l}</th><th scope=\"col\" class=\"num\">{persons_l}</th></tr></thead><tbody>{balance_rows}</tbody></table></div></section>",
        outlay_t = lang.t("统筹基金支出（近14天，按险种）", "Pooled fund outlay, last 14 days, by insurance type"),
        total_l = lang.t("合计", "total"),
        total = yuan(total_outlay),
        outlay_chart = bar_chart(lang.t("统筹基金每日支出", "Daily pooled fund outlay"), &outlay_bars),
        as_table = lang.t("数据表", "As a table"),
        day_l = lang.t("日期", "Day"),
        emp = lang.t("职工", "Employees"),
        res = lang.t("城乡居民", "Residents"),
        levels_t = lang.t("按机构等级的结算笔数", "Settlements by institution level"),
        level_chart = bar_chart(lang.t("各等级机构结算笔数", "Settlements by institution level"), &level_bars),
        level_l = lang.t("等级", "Level"),
        count_l = lang.t("笔数", "Settlements"),
        fee_l = lang.t("医疗费用", "Medical fees"),
        bal_t = lang.t("个人账户余额分布", "Personal account balances"),
        balance_chart =
            bar_chart(lang.t("个人账户余额分布", "Distribution of personal account balances"), &balance_bars),
        range_l = lang.t("余额（元）", "Balance (yuan)"),
        persons_l = lang.t("人数", "Persons"),
    );
    page(lang, lang.t("经办概览", "Agency dashboard"), Some(&operator), &body)
}

#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    page: Option<u64>,
    admdvs: Option<String>,
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
    let Some((operator, _)) = desk.0 else { return Redirect::to("/agency/login").into_response() };
    let q: PageQuery = query(&uri);
    let number = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let admdvs = q.admdvs.clone().filter(|a| a.len() == 6 && a.bytes().all(|b| b.is_ascii_digit()));
    let lookup = admdvs.clone();
    let Ok(found) = state.store.read(move |r| r.persons(lookup.as_deref(), (number - 1) * ROWS, ROWS)).await else {
        return unavailable(lang, &operator);
    };
    let rows: String = found
        .rows
        .iter()
        .map(|p| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p.psn_no.as_str()),
                esc(&p.name),
                esc(&p.id_number.masked()),
                esc(p.admdvs.as_str()),
                esc(p.insurance.name_zh()),
                person_status(lang, p.status)
            )
        })
        .collect();
    let pages = found.total.div_ceil(ROWS).max(1);
    let region = admdvs.map(|a| format!("&admdvs={a}")).unwrap_or_default();
    let next = if number < pages {
        format!("<a href=\"/agency/persons?page={}{region}\">{}</a>", number + 1, lang.t("下一页", "Next page"))
    } else {
        String::new()
    };
    let body = format!(
        "<p class=\"muted\">{total_l} {total} · {page_l} {number}/{pages}</p><div class=\"scroll\"><table><thead><tr>\
         <th scope=\"col\">{psn}</th><th scope=\"col\">{name}</th><th scope=\"col\">{id}</th><th scope=\"col\">{region_l}</th><th scope=\"col\">{ins}</th><th scope=\"col\">{status}</th>\
         </tr></thead><tbody>{rows}</tbody></table></div><p>{next}</p>",
        total_l = lang.t("参保人数", "Insured persons"),
        total = found.total,
        page_l = lang.t("页", "page"),
        psn = lang.t("人员编号", "Person number"),
        name = lang.t("姓名", "Name"),
        id = lang.t("身份证号", "ID number"),
        region_l = lang.t("统筹区", "Region"),
        ins = lang.t("险种", "Insurance"),
        status = lang.t("状态", "Status"),
    );
    page(lang, lang.t("参保登记", "Registry"), Some(&operator), &body)
}

async fn card_applications(State(state): State<Arc<AppState>>, lang: Lang, desk: Desk) -> Response {
    let Some((operator, _)) = desk.0 else { return Redirect::to("/agency/login").into_response() };
    let Ok(applications) = state.store.read(|r| r.card_applications(None, ROWS)).await else {
        return unavailable(lang, &operator);
    };
    let today = state.store.now().date();
    let step = |on: Option<yibao_domain::Date>| on.map_or_else(|| "—".to_string(), |d| d.to_string());
    let rows: String = applications
        .iter()
        .map(|a| {
            let overdue = a.overdue(today);
            format!(
                "<tr><td>{id}</td><td>{psn}</td><td>{card}</td><td>{photo} / {photo_due}</td><td>{forms} / {forms_due}</td><td>{issued}</td><td>{late}</td></tr>",
                id = esc(&a.id),
                psn = esc(a.psn_no.as_str()),
                card = esc(a.card_no.as_str()),
                photo = step(a.photo_paid_on),
                photo_due = a.photo_due(),
                forms = step(a.forms_paid_on),
                forms_due = a.forms_due(),
                issued = step(a.issued_on),
                late = if overdue.is_empty() {
                    "—".to_string()
                } else {
                    format!("<strong class=\"late\">{}</strong>", esc(&overdue.join(", ")))
                },
            )
        })
        .collect();
    let body = format!(
        "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">{id}</th><th scope=\"col\">{psn}</th><th scope=\"col\">{card}</th>\
         <th scope=\"col\">{photo}</th><th scope=\"col\">{forms}</th><th scope=\"col\">{issued}</th><th scope=\"col\">{late}</th></tr></thead><tbody>{rows}</tbody></table></div>",
        id = lang.t("申请号", "Application"),
        psn = lang.t("人员编号", "Person"),
        card = lang.t("卡号", "Card"),
        photo = lang.t("照相（完成/期限）", "Photo (done / due)"),
        forms = lang.t("交表缴费（完成/期限）", "Forms and fees (done / due)"),
        issued = lang.t("发卡", "Issued"),
        late = lang.t("逾期", "Overdue"),
    );
    page(lang, lang.t("制卡申请", "Card applications"), Some(&operator), &body)
}

#[derive(Debug, Deserialize, Default)]
struct Period {
    from: Option<String>,
    to: Option<String>,
}

async fn clearing(State(state): State<Arc<AppState>>, lang: Lang, desk: Desk, uri: axum::http::Uri) -> Response {
    let Some((operator, _)) = desk.0 else { return Redirect::to("/agency/login").into_response() };
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
    let rows: String = totals
        .iter()
        .map(|(i, t)| {
            format!(
                "<tr><td>{name}</td><td>{code}</td><td class=\"num\">{count}</td><td class=\"num\">{medfee}</td><td class=\"num\">{fund}</td><td class=\"num\">{acct}</td><td class=\"num\">{cash}</td><td class=\"num\">{owed}</td></tr>",
                name = esc(&i.name),
                code = esc(i.code.as_str()),
                count = t.count,
                medfee = yuan(t.medfee),
                fund = yuan(t.fund),
                acct = yuan(t.account),
                cash = yuan(t.cash),
                owed = yuan(t.fund + t.account),
            )
        })
        .collect();
    let body = format!(
        "<form class=\"card\" method=\"get\" action=\"/agency/clearing\"><label for=\"from\">{from_l}</label><input id=\"from\" name=\"from\" type=\"date\" value=\"{from}\">\
         <label for=\"to\">{to_l}</label><input id=\"to\" name=\"to\" type=\"date\" value=\"{to}\"><button type=\"submit\">{show}</button></form>\
         <div class=\"scroll\"><table><thead><tr><th scope=\"col\">{name}</th><th scope=\"col\">{code}</th><th scope=\"col\" class=\"num\">{count}</th><th scope=\"col\" class=\"num\">{medfee}</th>\
         <th scope=\"col\" class=\"num\">{fund}</th><th scope=\"col\" class=\"num\">{acct}</th><th scope=\"col\" class=\"num\">{cash}</th><th scope=\"col\" class=\"num\">{owed}</th></tr></thead><tbody>{rows}</tbody></table></div>\
         <p class=\"muted\">{hint}</p>",
        from_l = lang.t("起始日期", "From"),
        to_l = lang.t("截止日期", "To"),
        show = lang.t("查询", "Show"),
        name = lang.t("机构", "Institution"),
        code = lang.t("编码", "Code"),
        count = lang.t("笔数", "Settlements"),
        medfee = lang.t("医疗费用", "Medical fees"),
        fund = lang.t("统筹", "Fund"),
        acct = lang.t("个人账户", "Account"),
        cash = lang.t("现金", "Cash"),
        owed = lang.t("应付机构", "Owed"),
        hint = lang.t(
            "撤销以负数冲正计入。按日结清及对账单（CSV、PDF）见 /api/v1/clearing/institutions/{code}。",
            "Cancellations count as negative mirrors. Day-by-day payment and statements (CSV, PDF): /api/v1/clearing/institutions/{code}."
        ),
    );
    page(lang, lang.t("清算", "Clearing"), Some(&operator), &body)
}

async fn audit(State(state): State<Arc<AppState>>, lang: Lang, desk: Desk) -> Response {
    let Some((operator, _)) = desk.0 else { return Redirect::to("/agency/login").into_response() };
    let Ok(entries) = state.store.read(|r| r.audit_log(None, ROWS)).await else { return unavailable(lang, &operator) };
    let rows: String = entries
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.at.to_string()),
                esc(&e.actor),
                esc(&e.action),
                esc(&e.subject),
                esc(&e.reason)
            )
        })
        .collect();
    let body = format!(
        "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">{at}</th><th scope=\"col\">{actor}</th><th scope=\"col\">{action}</th><th scope=\"col\">{subject}</th><th scope=\"col\">{reason}</th></tr></thead><tbody>{rows}</tbody></table></div>",
        at = lang.t("时间", "Time"),
        actor = lang.t("操作人", "Actor"),
        action = lang.t("操作", "Action"),
        subject = lang.t("对象", "Subject"),
        reason = lang.t("事由", "Reason"),
    );
    page(lang, lang.t("审计日志", "Audit log"), Some(&operator), &body)
}

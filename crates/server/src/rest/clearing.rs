//! Clearing statements and payments (R8): what the fund and the personal accounts owe each
//! designated institution for a period, and what one region owes another for its insured
//! persons treated there (异地就医). Statements come as JSON, CSV or PDF; paying a period
//! posts one transfer per ended day, once.

use std::sync::Arc;

use super::error::{Path, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::{Admdvs, Date, InstitutionCode, Money};
use yibao_engine::Outcome;
use yibao_engine::commands::{
    CLEARING_DAYS_MAX, ClearingSummary, PayInstitution, PayInterRegion, institution_clearing_id,
    inter_region_clearing_id,
};
use yibao_engine::records::{ClearingParty, DayTotals, Settlement};
use yibao_ledger::{AccountKey, TransferId};
use yibao_store::SettlementFilter;

use super::caller::Caller;
use super::common::{body, ok, parse, unexpected};
use super::error::ApiError;
use super::wire;
use crate::kit::pdf::{self, Text};
use crate::state::AppState;

/// The most settlement records a statement lists (its totals always cover the whole period).
pub const STATEMENT_ROWS_MAX: u64 = 20_000;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    router
        .route("/api/v1/clearing/institutions/{code}", get(institution_statement))
        .route("/api/v1/clearing/institutions/{code}/payments", post(pay_institution))
        .route("/api/v1/clearing/inter-region", get(inter_region_statement))
        .route("/api/v1/clearing/inter-region/payments", post(pay_inter_region))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementQuery {
    from: String,
    to: String,
    /// `json` (default), `csv` or `pdf`.
    format: Option<String>,
    /// Inter-region statements: the insured and the treating region.
    insured: Option<String>,
    treated: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentRequest {
    from: String,
    to: String,
    insured: Option<String>,
    treated: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Pdf,
}

fn format(text: Option<&str>) -> Result<Format, ApiError> {
    match text.unwrap_or("json") {
        "json" => Ok(Format::Json),
        "csv" => Ok(Format::Csv),
        "pdf" => Ok(Format::Pdf),
        other => Err(ApiError::invalid(
            format!("format {other:?}: use json, csv or pdf"),
            format!("格式{other}无效，须为json、csv或pdf"),
        )),
    }
}

fn period(from: &str, to: &str) -> Result<(Date, Date), ApiError> {
    let from: Date = parse("from", from)?;
    let to: Date = parse("to", to)?;
    if to < from {
        return Err(ApiError::invalid(format!("to ({to}) is before from ({from})"), "结束日期早于开始日期"));
    }
    if to.days_since_epoch() - from.days_since_epoch() >= CLEARING_DAYS_MAX {
        return Err(ApiError::invalid(
            format!("a statement covers at most {CLEARING_DAYS_MAX} days"),
            format!("一次最多{CLEARING_DAYS_MAX}天"),
        ));
    }
    Ok((from, to))
}

fn regions(insured: Option<&str>, treated: Option<&str>) -> Result<(Admdvs, Admdvs), ApiError> {
    let (Some(insured), Some(treated)) = (insured, treated) else {
        return Err(ApiError::invalid(
            "name the insured and the treating region",
            "须填写参保地insured和就医地treated",
        ));
    };
    Ok((parse("insured", insured)?, parse("treated", treated)?))
}

/// An institution reads its own statements; operators read every one.
fn may_read_institution(caller: &Caller, code: &InstitutionCode) -> Result<(), ApiError> {
    match caller {
        Caller::Institution(institution) if &institution.code == code => Ok(()),
        Caller::Institution(_) => Err(ApiError::forbidden("an institution reads only its own clearing statements")),
        _ => caller.operator().map(drop),
    }
}

/// Everything a statement shows, read in one snapshot.
struct Statement {
    title: &'static str,
    /// Who is owed, and by whom, in words.
    parties: Vec<(&'static str, String)>,
    from: Date,
    to: Date,
    days: Vec<(DayTotals, bool)>,
    balances: Vec<(&'static str, Money)>,
    rows: Vec<Settlement>,
    rows_total: u64,
}

impl Statement {
    fn totals(&self) -> DayTotals {
        let mut totals = DayTotals::empty(self.from);
        for (day, _) in &self.days {
            totals.count += day.count;
            totals.medfee += day.medfee;
            totals.fund += day.fund;
            totals.account += day.account;
            totals.cash += day.cash;
        }
        totals
    }

    fn owed(&self, paid: bool) -> Money {
        self.days.iter().filter(|(_, p)| *p == paid).fold(Money::ZERO, |sum, (day, _)| sum + day.owed())
    }
}

async fn read_statement(
    state: &AppState,
    party: ClearingParty,
    (from, to): (Date, Date),
    balances: Vec<(&'static str, AccountKey)>,
) -> Result<(Vec<(DayTotals, bool)>, Vec<(&'static str, Money)>, Vec<Settlement>, u64), ApiError> {
    let (institution, insured_admdvs, treated_admdvs) = match &party {
        ClearingParty::Institution(code) => (Some(code.clone()), None, None),
        ClearingParty::Regions { insured, treated } => (None, Some(insured.to_string()), Some(treated.to_string())),
    };
    let filter = SettlementFilter {
        institution,
        insured_admdvs,
        treated_admdvs,
        from: Some(yibao_domain::DateTime::start_of(from)),
        until: Some(yibao_domain::DateTime::start_of(to.plus_days(1))),
        ..SettlementFilter::default()
    };
    let read = state
        .store
        .read(move |r| {
            let days = r.loader().settlement_days(&party, from, to)?;
            let ids: Vec<TransferId> = days.iter().map(|day| clearing_id(&party, day.day)).collect();
            let paid: std::collections::HashSet<TransferId> =
                r.loader().transfers(&ids)?.into_iter().map(|transfer| transfer.id).collect();
            let days = days.into_iter().map(|day| (day, paid.contains(&clearing_id(&party, day.day)))).collect();
            let keys: Vec<AccountKey> = balances.iter().map(|(_, key)| key.clone()).collect();
            let accounts = r.accounts(&keys)?;
            let balances = balances
                .into_iter()
                .map(|(name, key)| {
                    let balance = accounts.iter().find(|a| a.key == key).map_or(Money::ZERO, |a| a.balance());
                    (name, balance)
                })
                .collect();
            let page = r.settlements(&filter, 0, STATEMENT_ROWS_MAX)?;
            Ok((days, balances, page.rows, page.total))
        })
        .await?;
    Ok(read)
}

fn clearing_id(party: &ClearingParty, day: Date) -> TransferId {
    match party {
        ClearingParty::Institution(code) => institution_clearing_id(code, day),
        ClearingParty::Regions { insured, treated } => inter_region_clearing_id(insured, treated, day),
    }
}

async fn institution_statement(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(code): Path<String>,
    Query(query): Query<StatementQuery>,
) -> Result<Response, ApiError> {
    let code: InstitutionCode = parse("code", &code)?;
    may_read_institution(&caller, &code)?;
    let format = format(query.format.as_deref())?;
    let (from, to) = period(&query.from, &query.to)?;
    let Some(institution) = state.institution(&code).await? else {
        return Err(ApiError::not_found(format!("no institution {code}")));
    };
    let balances = vec![("payable", AccountKey::InstitutionPayable(code.clone()))];
    let (days, balances, rows, rows_total) =
        read_statement(&state, ClearingParty::Institution(code.clone()), (from, to), balances).await?;
    let statement = Statement {
        title: "定点医药机构医保费用清算单",
        parties: vec![
            ("定点医药机构", format!("{} {}", institution.code, institution.name)),
            ("医保区划", institution.admdvs.to_string()),
        ],
        from,
        to,
        days,
        balances,
        rows,
        rows_total,
    };
    let head = json!({"institution": {"code": institution.code.as_str(), "name": institution.name, "admdvs": institution.admdvs.as_str()}});
    Ok(respond(&statement, head, format, &format!("clearing-{code}-{from}-{to}")))
}

async fn inter_region_statement(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(query): Query<StatementQuery>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let format = format(query.format.as_deref())?;
    let (from, to) = period(&query.from, &query.to)?;
    let (insured, treated) = regions(query.insured.as_deref(), query.treated.as_deref())?;
    let balances = vec![
        ("payable", AccountKey::InterRegionPayable { debtor: insured.clone(), creditor: treated.clone() }),
        ("receivable", AccountKey::InterRegionReceivable { creditor: treated.clone(), debtor: insured.clone() }),
    ];
    let party = ClearingParty::Regions { insured: insured.clone(), treated: treated.clone() };
    let (days, balances, rows, rows_total) = read_statement(&state, party, (from, to), balances).await?;
    let statement = Statement {
        title: "异地就医费用清算单",
        parties: vec![("参保地（应付）", insured.to_string()), ("就医地（应收）", treated.to_string())],
        from,
        to,
        days,
        balances,
        rows,
        rows_total,
    };
    let head = json!({"insured": insured.as_str(), "treated": treated.as_str()});
    Ok(respond(&statement, head, format, &format!("inter-region-{insured}-{treated}-{from}-{to}")))
}

fn totals_json(day: &DayTotals) -> Value {
    json!({
        "count": day.count,
        "medfee": wire::yuan(day.medfee),
        "fund": wire::yuan(day.fund),
        "account": wire::yuan(day.account),
        "cash": wire::yuan(day.cash),
        "owed": wire::yuan(day.owed()),
    })
}

fn respond(statement: &Statement, mut head: Value, format: Format, filename: &str) -> Response {
    match format {
        Format::Json => {
            head["from"] = json!(statement.from.to_string());
            head["to"] = json!(statement.to.to_string());
            head["days"] = statement
                .days
                .iter()
                .map(|(day, paid)| {
                    let mut value = totals_json(day);
                    value["day"] = json!(day.day.to_string());
                    value["paid"] = json!(paid);
                    value
                })
                .collect();
            head["totals"] = totals_json(&statement.totals());
            head["paid"] = wire::yuan(statement.owed(true));
            head["unpaid"] = wire::yuan(statement.owed(false));
            head["balances"] =
                statement.balances.iter().map(|(name, money)| (name.to_string(), wire::yuan(*money))).collect();
            head["settlements"] = statement.rows.iter().map(row_json).collect();
            head["settlements_total"] = json!(statement.rows_total);
            ok(head)
        }
        Format::Csv => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}.csv\"")),
            ],
            csv(statement),
        )
            .into_response(),
        Format::Pdf => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (header::CONTENT_DISPOSITION, format!("inline; filename=\"{filename}.pdf\"")),
            ],
            pdf::render(&pdf_pages(statement), statement.title),
        )
            .into_response(),
    }
}

fn row_json(settlement: &Settlement) -> Value {
    let mut value = wire::settlement_summary(settlement);
    value["psn_no"] = json!(settlement.psn_no.as_str());
    value["insutype"] = json!(settlement.insurance.to_string());
    value["clr_type"] = json!(settlement.clearing_type);
    value["insured_admdvs"] = json!(settlement.insured_admdvs.as_str());
    value["owed"] = wire::yuan(settlement.amounts.insurer_part());
    value
}

/// The CSV columns: one settlement record a line (cancellations as negative mirrors), then a
/// line of totals (`setl_id` 合计).
pub const CSV_COLUMNS: [&str; 13] = [
    "setl_id",
    "setl_time",
    "fixmedins_code",
    "psn_no",
    "insuplc_admdvs",
    "insutype",
    "clr_type",
    "status",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "psn_cash_pay",
    "owed",
];

fn csv(statement: &Statement) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    out.push_str(&CSV_COLUMNS.join(","));
    out.push_str("\r\n");
    for s in &statement.rows {
        let a = &s.amounts;
        let fields = [
            s.setl_id.to_string(),
            s.at.to_string(),
            s.institution.to_string(),
            s.psn_no.to_string(),
            s.insured_admdvs.to_string(),
            s.insurance.to_string(),
            s.clearing_type.clone(),
            wire::status_word(s).to_string(),
            a.medfee.to_string(),
            a.funds().to_string(),
            a.account().to_string(),
            a.cash.to_string(),
            a.insurer_part().to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    let t = statement.totals();
    out.push_str(&format!(
        "合计,{}至{},,{}笔,,,,,{},{},{},{},{}\r\n",
        statement.from,
        statement.to,
        t.count,
        t.medfee,
        t.fund,
        t.account,
        t.cash,
        t.owed()
    ));
    out.into_bytes()
}

const ROWS_PER_PAGE: usize = 40;

fn pdf_pages(statement: &Statement) -> Vec<Vec<Text>> {
    let mut first = vec![Text::new(40, 800, 16, statement.title)];
    let mut y = 776;
    for (label, value) in &statement.parties {
        first.push(Text::new(40, y, 10, format!("{label}：{value}")));
        y -= 16;
    }
    first.push(Text::new(40, y, 10, format!("清算期间：{} 至 {}", statement.from, statement.to)));
    y -= 24;
    let columns = [
        (40, "日期"),
        (130, "笔数"),
        (180, "医疗费总额"),
        (270, "基金支付"),
        (350, "个人账户"),
        (430, "应付金额"),
        (510, "状态"),
    ];
    for (x, title) in columns {
        first.push(Text::new(x, y, 9, title));
    }
    let money_row = |page: &mut Vec<Text>, y: u32, label: String, day: &DayTotals, state: &str| {
        page.push(Text::new(40, y, 9, label));
        page.push(Text::new(130, y, 9, day.count.to_string()));
        page.push(Text::new(180, y, 9, day.medfee.to_string()));
        page.push(Text::new(270, y, 9, day.fund.to_string()));
        page.push(Text::new(350, y, 9, day.account.to_string()));
        page.push(Text::new(430, y, 9, day.owed().to_string()));
        page.push(Text::new(510, y, 9, state.to_string()));
    };
    for (day, paid) in statement.days.iter().take(20) {
        y -= 14;
        money_row(&mut first, y, day.day.to_string(), day, if *paid { "已支付" } else { "未支付" });
    }
    if statement.days.len() > 20 {
        y -= 14;
        first.push(Text::new(40, y, 9, format!("（另有{}天，见CSV）", statement.days.len() - 20)));
    }
    y -= 18;
    money_row(&mut first, y, "合计".to_string(), &statement.totals(), "");
    y -= 18;
    first.push(Text::new(
        40,
        y,
        10,
        format!("已支付：{}元    未支付：{}元", statement.owed(true), statement.owed(false)),
    ));
    let mut pages = vec![first];
    let detail_columns = [
        (40, "结算号"),
        (130, "结算时间"),
        (240, "人员编号"),
        (340, "医疗费"),
        (410, "基金"),
        (470, "账户"),
        (530, "状态"),
    ];
    for (index, chunk) in statement.rows.chunks(ROWS_PER_PAGE).enumerate() {
        let mut page = vec![Text::new(
            40,
            800,
            12,
            format!("{} 明细（{}/{}页）", statement.title, index + 1, statement.rows.len().div_ceil(ROWS_PER_PAGE)),
        )];
        for (x, title) in detail_columns {
            page.push(Text::new(x, 776, 9, title));
        }
        for (row, s) in chunk.iter().enumerate() {
            let y = 760 - 16 * u32::try_from(row).unwrap_or(0);
            let a = &s.amounts;
            for (x, text) in [
                (40, s.setl_id.to_string()),
                (130, s.at.to_string()),
                (240, s.psn_no.to_string()),
                (340, a.medfee.to_string()),
                (410, a.funds().to_string()),
                (470, a.account().to_string()),
                (530, wire::status_word(s).to_string()),
            ] {
                page.push(Text::new(x, y, 8, text));
            }
        }
        pages.push(page);
    }
    pages
}

/// A payment's answer: what it paid and what the payable account holds afterwards.
async fn paid(state: &AppState, summary: &ClearingSummary, payable: AccountKey) -> Result<Response, ApiError> {
    let accounts = state.store.read(move |r| r.accounts(std::slice::from_ref(&payable))).await?;
    let mut value = summary_json(summary);
    value["payable_balance"] = wire::yuan(accounts.first().map_or(Money::ZERO, |a| a.balance()));
    Ok(ok(value))
}

fn summary_json(summary: &ClearingSummary) -> Value {
    json!({
        "paid_days": summary.paid.iter().map(|day| {
            let mut value = totals_json(day);
            value["day"] = json!(day.day.to_string());
            value
        }).collect::<Vec<_>>(),
        "already_paid_days": summary.already.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "amount": wire::yuan(summary.amount),
    })
}

/// Pays an institution for the ended days of a period (operator); days paid before are left.
async fn pay_institution(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(code): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let code: InstitutionCode = parse("code", &code)?;
    let request: PaymentRequest = body(&bytes)?;
    if request.insured.is_some() || request.treated.is_some() {
        return Err(ApiError::invalid(
            "insured and treated belong to inter-region payments",
            "机构清算不填参保地和就医地",
        ));
    }
    let (from, to) = period(&request.from, &request.to)?;
    let command = PayInstitution { institution: code.clone(), from, to, actor: caller.actor() };
    let Outcome::Clearing(summary) = state.store.execute(command).await? else {
        return Err(unexpected());
    };
    paid(&state, &summary, AccountKey::InstitutionPayable(code)).await
}

/// Settles what the insured region owes the treating region for the ended days of a period.
async fn pay_inter_region(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: PaymentRequest = body(&bytes)?;
    let (from, to) = period(&request.from, &request.to)?;
    let (insured, treated) = regions(request.insured.as_deref(), request.treated.as_deref())?;
    let command =
        PayInterRegion { insured: insured.clone(), treated: treated.clone(), from, to, actor: caller.actor() };
    let Outcome::Clearing(summary) = state.store.execute(command).await? else {
        return Err(unexpected());
    };
    paid(&state, &summary, AccountKey::InterRegionPayable { debtor: insured, creditor: treated }).await
}

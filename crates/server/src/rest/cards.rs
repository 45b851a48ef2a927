//! The medical insurance card over REST (R4): applications and their steps with deadlines and
//! overdue flags, production at the bank, state changes with actor and reason, loss reports
//! (portal, API, agency), replacement and the clearing notice, the PIN, and the printed
//! transaction record as a PDF.
//!
//! PINs: 6 digits, Argon2id with the server secret. An unknown card and a wrong PIN get the
//! same answer; 5 wrong PINs, from any terminal, lock the card until the bank resets the PIN.

use std::sync::Arc;

use super::error::{Path, Query};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_domain::{BankCode, CardNo, Date, DateTime, IdNumber, PersonNo};
use yibao_engine::Outcome;
use yibao_engine::commands::{
    ApplicationStep, ApplyForCard, ConfirmClearing, ConfirmProofLetter, PrintStatement, ProduceCard, ReplaceCard,
};
use yibao_engine::records::{
    CARD_FEE, Card, CardApplication, CardStatus, CardTransaction, ClearingNotice, CredentialKind, LossChannel,
    LossReport, PHOTO_FEE, Person, ReplacementPath, UNPRINTED_MAX,
};

use super::caller::Caller;
use super::common::{PAGE_SIZE_MAX, body, created, hash_secret, ok, parse, unexpected};
use super::error::ApiError;
use super::wire;
use crate::guard::{self, ClientAddr, Holder, Sources, Verdict};
use crate::kit::pdf::{self, Text};
use crate::state::AppState;

pub fn routes(router: axum::Router<Arc<AppState>>) -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    router
        .route("/api/v1/card-applications", get(applications).post(apply))
        .route("/api/v1/card-applications/{id}", get(application))
        .route("/api/v1/card-applications/{id}/steps", post(step))
        .route("/api/v1/card-applications/{id}/produce", post(produce))
        .route("/api/v1/persons/{psn_no}/cards", get(person_cards))
        .route("/api/v1/cards/{card_no}", get(card))
        .route("/api/v1/cards/{card_no}/status", post(change_status))
        .route("/api/v1/cards/{card_no}/loss", post(report_loss))
        .route("/api/v1/cards/{card_no}/replacement", post(replace))
        .route("/api/v1/cards/{card_no}/loss-notice", get(loss_notice))
        .route("/api/v1/cards/{card_no}/proof-letter", post(proof_letter))
        .route("/api/v1/cards/{card_no}/pin/verify", post(verify_pin))
        .route("/api/v1/cards/{card_no}/pin/change", post(change_pin))
        .route("/api/v1/cards/{card_no}/pin/reset", post(reset_pin))
        .route("/api/v1/cards/{card_no}/statement", post(statement))
        .route("/api/v1/clearing-notices/{id}", get(clearing_notice))
        .route("/api/v1/clearing-notices/{id}/confirm", post(confirm_clearing))
}

// ---------------------------------------------------------------------------------------------
// Wire forms

fn date(day: Option<Date>) -> Value {
    day.map_or(Value::Null, |day| json!(day.to_string()))
}

/// A replacement's steps on its path, each with its day (`null` while to come).
fn replacement_steps(application: &CardApplication, loss: Option<&LossReport>, path: ReplacementPath) -> Value {
    let step = |name: &str, zh: &str, on: Option<Date>| json!({"step": name, "step_zh": zh, "on": date(on)});
    let applied = Some(application.created_at.date());
    let reported = loss.map(|report| report.reported_at.date());
    let mut steps = match path {
        ReplacementPath::LossNotice => vec![
            step("loss-reported", "挂失并取得挂失通知书", reported),
            step("application-accepted", "服务中心凭挂失通知书和身份证受理申领", applied),
        ],
        ReplacementPath::ProofLetter => {
            let proof = loss.and_then(|report| report.proof.as_ref());
            vec![
                step("proof-letter-issued", "单位出具证明信", proof.map(|p| p.issued_on)),
                step("seal-confirmed", "医保经办机构盖章确认", proof.map(|p| p.sealed_on)),
                step("loss-registered", "到银行登记挂失", reported),
                step("application-received", "办理补卡手续", applied),
            ]
        }
    };
    steps.push(step("card-produced", "新卡制成", application.produced_on));
    steps.push(step("card-issued", "新卡发放", application.issued_on));
    Value::Array(steps)
}

fn application_json(application: &CardApplication, today: Date, loss: Option<&LossReport>) -> Value {
    let path = application.replacement_path(loss);
    let replacement = path.map(|path| {
        json!({
            "path": path.as_str(),
            "loss_notice": loss.map(|report| report.notice_no.clone()),
            "steps": replacement_steps(application, loss, path),
            "card_due": date(application.card_due(path)),
        })
    });
    let (photo_due, forms_due) = match path {
        Some(_) => (Value::Null, Value::Null),
        None => (json!(application.photo_due().to_string()), json!(application.forms_due().to_string())),
    };
    json!({
        "id": application.id,
        "psn_no": application.psn_no.as_str(),
        "employer": application.employer,
        "registered_on": application.registered_on.to_string(),
        "bank": application.bank.as_str(),
        "card_no": application.card_no.as_str(),
        "replaces": application.replaces.as_ref().map(CardNo::as_str),
        "fees": {"photo": wire::yuan(PHOTO_FEE), "card": wire::yuan(CARD_FEE)},
        "steps": {
            "photo": date(application.photo_paid_on),
            "forms": date(application.forms_paid_on),
            "submit": date(application.submitted_on),
            "produce": date(application.produced_on),
            "receive": date(application.received_on),
            "issue": date(application.issued_on),
        },
        "due": {
            "photo": photo_due,
            "forms": forms_due,
            "issue": date(application.issue_due()),
            "card": date(path.and_then(|path| application.card_due(path))),
        },
        "replacement": replacement,
        "overdue": application.overdue(today, path),
        "warnings": application
            .warnings()
            .into_iter()
            .map(|(zh, en)| json!({"message": en, "message_zh": zh}))
            .collect::<Vec<_>>(),
    })
}

fn loss_json(report: &LossReport) -> Value {
    json!({
        "notice_no": report.notice_no,
        "card_no": report.card_no.as_str(),
        "psn_no": report.psn_no.as_str(),
        "reported_at": report.reported_at.to_string(),
        "channel": report.channel.as_str(),
        "bank": report.bank.as_str(),
        "reason": report.reason,
        "proof_letter": report.proof.as_ref().map(|proof| json!({
            "employer": proof.employer, "letter_no": proof.letter_no, "issued_on": proof.issued_on.to_string(),
            "sealed_on": proof.sealed_on.to_string(), "sealed_by": proof.sealed_by,
        })),
        "replacement": report.replacement.map(|(path, on)| json!({
            "path": path.as_str(), "applied_on": on.to_string(), "card_due": path.card_due(on).to_string(),
        })),
        "paths": [
            {"path": "loss-notice", "zh": "持挂失通知书和身份证到服务中心申领，45个工作日内发新卡",
             "en": "take the loss notice and the ID card to the service centre: the new card within 45 working days"},
            {"path": "proof-letter", "zh": "单位出具证明信，经医保经办机构盖章确认后办理补卡，受理后7日发新卡",
             "en": "the employer's proof letter, its seal confirmed by the agency: the new card 7 days after"},
        ],
    })
}

fn card_json(card: &Card) -> Value {
    json!({
        "card_no": card.card_no.as_str(),
        "card_sn": card.card_sn.as_str(),
        "psn_no": card.psn_no.as_str(),
        "status": card.status.as_str(),
        "bank": card.bank.as_str(),
        "issued_on": date(card.issued_on),
        "unprinted": card.unprinted,
        "unprinted_max": UNPRINTED_MAX,
        "must_print": card.unprinted >= UNPRINTED_MAX,
        "replaces": card.replaces.as_ref().map(CardNo::as_str),
    })
}

fn notice_json(notice: &ClearingNotice) -> Value {
    json!({
        "id": notice.id,
        "psn_no": notice.psn_no.as_str(),
        "old_card": notice.old_card.as_str(),
        "old_bank": notice.old_bank.as_str(),
        "new_bank": notice.new_bank.as_str(),
        "issued_at": notice.issued_at.to_string(),
        "confirmed_at": notice.confirmed_at.map(|at| at.to_string()),
        "moved": notice.moved.map(wire::yuan),
        "account_frozen": notice.confirmed_at.is_none(),
    })
}

fn reason(text: Option<&str>) -> Result<String, ApiError> {
    let reason = text.unwrap_or_default().trim();
    match reason.chars().count() {
        2..=200 => Ok(reason.to_string()),
        _ => Err(ApiError::invalid("reason must have 2 to 200 characters", "须填写原因（2至200个字符）")),
    }
}

/// A PIN: exactly 6 digits.
fn pin(field: &str, text: &str) -> Result<String, ApiError> {
    match text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
        true => Ok(text.to_string()),
        false => Err(ApiError::invalid(format!("{field} must be 6 digits"), format!("{field}须为6位数字"))),
    }
}

/// A new PIN: 6 digits, not all the same, not a run like 123456 or 654321.
fn new_pin(text: &str) -> Result<String, ApiError> {
    let pin = pin("new_pin", text)?;
    let digits: Vec<i16> = pin.bytes().map(|b| i16::from(b - b'0')).collect();
    let steps: Vec<i16> = digits.windows(2).map(|w| w[1] - w[0]).collect();
    if steps.iter().all(|step| *step == steps[0]) && steps[0].abs() <= 1 {
        return Err(ApiError::invalid(
            "new_pin is too simple (all one digit, or a run like 123456)",
            "新密码过于简单（相同数字或连续数字）",
        ));
    }
    Ok(pin)
}

// ---------------------------------------------------------------------------------------------
// Loading and access

async fn load_card(state: &AppState, card_no: &str) -> Result<Card, ApiError> {
    let number: CardNo = parse("card_no", card_no)?;
    state.store.read(move |r| r.card(&number)).await?.ok_or_else(|| ApiError::not_found(format!("no card {card_no}")))
}

/// The card, when the caller may see it: an operator, or its holder.
async fn readable_card(state: &AppState, caller: &Caller, card_no: &str) -> Result<Card, ApiError> {
    match caller {
        Caller::Operator { .. } => load_card(state, card_no).await,
        Caller::Person { psn_no, .. } => {
            caller.may_read_person(psn_no)?;
            let card = load_card(state, card_no).await?;
            match card.psn_no.as_str() == psn_no {
                true => Ok(card),
                // The same answer as for a card that does not exist.
                false => Err(ApiError::not_found(format!("no card {card_no}"))),
            }
        }
        Caller::Anonymous => Err(ApiError::unauthenticated("log in first")),
        Caller::Institution(_) => Err(ApiError::forbidden("institutions read cards through 1101")),
    }
}

/// The loss report of the card an application replaces.
async fn loss_of(state: &AppState, application: &CardApplication) -> Result<Option<LossReport>, ApiError> {
    let Some(card_no) = application.replaces.clone() else { return Ok(None) };
    Ok(state.store.read(move |r| r.loss_report(&card_no)).await?)
}

async fn load_application(state: &AppState, id: &str) -> Result<CardApplication, ApiError> {
    let lookup = wire::code("id", id)?;
    state
        .store
        .read(move |r| r.card_application(&lookup))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no card application {id}")))
}

// ---------------------------------------------------------------------------------------------
// Applications

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewApplication {
    psn_no: String,
    employer: Option<String>,
    /// When the person was registered for insurance (default: today).
    registered_on: Option<String>,
    bank: Option<String>,
}

async fn apply(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: NewApplication = body(&bytes)?;
    let today = state.store.now().date();
    let command = ApplyForCard {
        psn_no: parse("psn_no", &request.psn_no)?,
        employer: request.employer.as_deref().map(|code| wire::code("employer", code)).transpose()?,
        registered_on: match &request.registered_on {
            Some(text) => parse("registered_on", text)?,
            None => today,
        },
        bank: parse("bank", request.bank.as_deref().unwrap_or("BOC"))?,
        replaces: None,
        actor: caller.actor(),
        reason: "new employee".into(),
    };
    match state.store.execute(command).await? {
        Outcome::CardApplication(application) => Ok(created(application_json(&application, today, None))),
        _ => Err(unexpected()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplicationFilter {
    employer: Option<String>,
    overdue: Option<bool>,
    limit: Option<u64>,
}

async fn applications(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(filter): Query<ApplicationFilter>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let limit = filter.limit.unwrap_or(100).clamp(1, PAGE_SIZE_MAX);
    let employer = filter.employer.clone();
    let (found, losses) = state
        .store
        .read(move |r| {
            let found = r.card_applications(employer.as_deref(), limit)?;
            let losses = r.loss_reports_of(&found)?;
            Ok((found, losses))
        })
        .await?;
    let today = state.store.now().date();
    let loss_of = |a: &CardApplication| losses.iter().find(|report| a.replaces.as_ref() == Some(&report.card_no));
    let rows: Vec<Value> = found
        .iter()
        .filter(|a| {
            filter.overdue.is_none_or(|wanted| a.overdue(today, a.replacement_path(loss_of(a))).is_empty() != wanted)
        })
        .map(|a| application_json(a, today, loss_of(a)))
        .collect();
    Ok(ok(json!({"applications": rows})))
}

async fn application(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let found = load_application(&state, &id).await?;
    let loss = loss_of(&state, &found).await?;
    Ok(ok(application_json(&found, state.store.now().date(), loss.as_ref())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepRequest {
    step: String,
    /// The day it happened (default: today).
    on: Option<String>,
}

async fn step(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: StepRequest = body(&bytes)?;
    let step = ApplicationStep::parse(&request.step).ok_or_else(|| {
        ApiError::invalid(
            format!("step {:?} is not photo, forms, submit, receive or issue", request.step),
            "步骤须为photo、forms、submit、receive或issue",
        )
    })?;
    let today = state.store.now().date();
    let on = match &request.on {
        Some(text) => parse("on", text)?,
        None => today,
    };
    let command =
        yibao_engine::commands::RecordApplicationStep { id: wire::code("id", &id)?, step, on, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::CardApplication(application) => {
            let loss = loss_of(&state, &application).await?;
            Ok(ok(application_json(&application, today, loss.as_ref())))
        }
        _ => Err(unexpected()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProduceRequest {
    on: Option<String>,
    /// The PIN the bank sets on the new card (the holder changes it).
    initial_pin: String,
}

async fn produce(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: ProduceRequest = body(&bytes)?;
    let initial = pin("initial_pin", &request.initial_pin)?;
    let today = state.store.now().date();
    let on = match &request.on {
        Some(text) => parse("on", text)?,
        None => today,
    };
    let pin_hash = hash_secret(&state, initial).await?;
    let command = ProduceCard { id: wire::code("id", &id)?, on, pin_hash, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::CardApplication(application) => {
            let loss = loss_of(&state, &application).await?;
            Ok(ok(application_json(&application, today, loss.as_ref())))
        }
        _ => Err(unexpected()),
    }
}

// ---------------------------------------------------------------------------------------------
// Cards and their states

async fn person_cards(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    if matches!(caller, Caller::Institution(_)) {
        return Err(ApiError::forbidden("institutions read cards through 1101"));
    }
    caller.may_read_person(&psn_no)?;
    let number: PersonNo = parse("psn_no", &psn_no)?;
    let cards = state.store.read(move |r| r.cards_of(&number)).await?;
    Ok(ok(json!({"psn_no": psn_no, "cards": cards.iter().map(card_json).collect::<Vec<_>>()})))
}

async fn card(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(card_no): Path<String>,
) -> Result<Response, ApiError> {
    let card = readable_card(&state, &caller, &card_no).await?;
    Ok(ok(card_json(&card)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    status: String,
    reason: Option<String>,
}

async fn change_status(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(card_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: StatusRequest = body(&bytes)?;
    let to = CardStatus::parse(&request.status).ok_or_else(|| {
        ApiError::invalid(
            format!("status {:?} is not one of active, lost, blocked, cancelled", request.status),
            "卡状态须为active、lost、blocked或cancelled",
        )
    })?;
    let command = yibao_app::cards::change_status(
        parse("card_no", &card_no)?,
        to,
        caller.actor(),
        reason(request.reason.as_deref())?,
    );
    match state.store.execute(command).await? {
        Outcome::Card(card) => Ok(ok(card_json(&card))),
        _ => Err(unexpected()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LossRequest {
    reason: Option<String>,
    /// Where the holder reported it: `bank` (the service bank's loss notice) or `agency`; an
    /// operator's to say. The holder in the portal reports it there.
    channel: Option<String>,
}

/// A loss report from the holder (portal) or an operator (agency); every outstanding e-voucher
/// code is dead when this returns.
async fn report_loss(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(card_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: LossRequest = if bytes.is_empty() { LossRequest::default() } else { body(&bytes)? };
    let channel = match request.channel.as_deref() {
        None => None,
        Some(text) => {
            caller.operator().map_err(|_| ApiError::forbidden("only an operator says where a loss was reported"))?;
            match LossChannel::parse(text) {
                Some(channel @ (LossChannel::Bank | LossChannel::Agency)) => Some(channel),
                _ => {
                    return Err(ApiError::invalid(
                        format!("channel {text:?} is neither bank nor agency"),
                        "挂失渠道须为bank或agency",
                    ));
                }
            }
        }
    };
    let card = lose_at(&state, &caller, &card_no, request.reason.as_deref(), channel).await?;
    let number = card.card_no.clone();
    let report = state.store.read(move |r| r.loss_report(&number)).await?;
    let mut value = card_json(&card);
    value["loss_notice"] = report.as_ref().map_or(Value::Null, loss_json);
    Ok(ok(value))
}

/// Reports the caller's card (or, for an operator, any card) lost. The REST API and the portal
/// share it.
pub(crate) async fn lose(
    state: &AppState,
    caller: &Caller,
    card_no: &str,
    why: Option<&str>,
) -> Result<Card, ApiError> {
    lose_at(state, caller, card_no, why, None).await
}

async fn lose_at(
    state: &AppState,
    caller: &Caller,
    card_no: &str,
    why: Option<&str>,
    channel: Option<LossChannel>,
) -> Result<Card, ApiError> {
    let card = readable_card(state, caller, card_no).await?;
    let why = match why {
        Some(text) => reason(Some(text))?,
        None => "挂失".to_string(),
    };
    let mut command = yibao_app::cards::change_status(card.card_no, CardStatus::Lost, caller.actor(), why);
    command.channel = channel;
    match state.store.execute(command).await? {
        Outcome::Card(card) => Ok(*card),
        _ => Err(unexpected()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaceRequest {
    /// The new card's bank (default: the lost card's bank).
    bank: Option<String>,
    reason: Option<String>,
    /// `loss-notice` (default; seed 000) or `proof-letter` (seed 003, after the proof letter).
    path: Option<String>,
}

async fn replace(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(card_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: ReplaceRequest = body(&bytes)?;
    let path = match request.path.as_deref() {
        None => ReplacementPath::LossNotice,
        Some(text) => ReplacementPath::parse(text).ok_or_else(|| {
            ApiError::invalid(
                format!("path {text:?} is neither loss-notice nor proof-letter"),
                "补卡途径须为loss-notice或proof-letter",
            )
        })?,
    };
    let command = ReplaceCard {
        old_card: parse("card_no", &card_no)?,
        new_bank: request.bank.as_deref().map(|bank| parse::<BankCode>("bank", bank)).transpose()?,
        path,
        actor: caller.actor(),
        reason: reason(request.reason.as_deref().or(Some("补卡")))?,
    };
    let today = state.store.now().date();
    match state.store.execute(command).await? {
        Outcome::Replacement { application, notice } => Ok(created(json!({
            "application": application_json(&application, today, loss_of(&state, &application).await?.as_ref()),
            "clearing_notice": notice.as_deref().map(notice_json),
        }))),
        _ => Err(unexpected()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoticeQuery {
    format: Option<String>,
}

/// The loss notice (挂失通知书) of a lost card: what the holder carries to the service centre
/// to apply for the new card (seed 000), as JSON or a PDF to print. The holder or an operator.
async fn loss_notice(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(card_no): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, ApiError> {
    let pdf = super::common::wants(query.format.as_deref(), "pdf")?;
    let card = readable_card(&state, &caller, &card_no).await?;
    let (number, holder) = (card.card_no.clone(), card.psn_no.clone());
    let (report, person) = state.store.read(move |r| Ok((r.loss_report(&number)?, r.person(&holder)?))).await?;
    let report = report.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused",
            format!("card {card_no} was not reported lost"),
            "该卡未挂失",
        )
    })?;
    if !pdf {
        return Ok(ok(loss_json(&report)));
    }
    let name = person.map(|person| person.name).unwrap_or_default();
    let line = |y: u32, text: String| Text::new(60, y, 11, text);
    let mut page = vec![
        Text::new(200, 780, 18, "医疗保险卡挂失通知书".to_string()),
        line(740, format!("通知书编号：{}", report.notice_no)),
        line(716, format!("持卡人：{name}    人员编号：{}", report.psn_no)),
        line(692, format!("卡号：{}    服务银行：{}", report.card_no, report.bank)),
        line(668, format!("挂失时间：{}    挂失渠道：{}", report.reported_at, report.channel.name_zh())),
        line(644, "此卡已停止使用。请持本通知书和本人有效证件到服务中心申领新卡，45个工作日内发卡；".to_string()),
        line(626, "或由参保单位出具证明信，经医保经办机构盖章确认后办理补卡，受理后7日发卡。".to_string()),
    ];
    if let Some((path, on)) = report.replacement {
        page.push(line(
            596,
            format!(
                "已于{on}按{}办理补卡，新卡应于{}前发放。",
                match path {
                    ReplacementPath::LossNotice => "挂失通知书",
                    ReplacementPath::ProofLetter => "单位证明信",
                },
                path.card_due(on)
            ),
        ));
    }
    page.push(line(560, format!("打印时间：{}", state.store.now())));
    let file = pdf::render(&[page], &format!("挂失通知书 {}", report.notice_no));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"loss-notice-{}.pdf\"", report.card_no)),
        ],
        file,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofLetterRequest {
    employer: String,
    letter_no: String,
    issued_on: String,
}

/// The agency confirms the seal on the employer's proof letter for a lost card (seed 003):
/// the first step of the proof-letter path (operator).
async fn proof_letter(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(card_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: ProofLetterRequest = body(&bytes)?;
    let letter_no = request.letter_no.trim();
    if letter_no.is_empty() || letter_no.chars().count() > 40 || letter_no.chars().any(char::is_control) {
        return Err(ApiError::invalid("letter_no must be 1 to 40 characters", "证明信编号须为1至40个字符"));
    }
    let command = ConfirmProofLetter {
        card_no: parse("card_no", &card_no)?,
        employer: wire::code("employer", &request.employer)?,
        letter_no: letter_no.to_string(),
        issued_on: parse("issued_on", &request.issued_on)?,
        actor: caller.actor(),
    };
    match state.store.execute(command).await? {
        Outcome::LossReport(report) => Ok(ok(loss_json(&report))),
        _ => Err(unexpected()),
    }
}

async fn clearing_notice(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let lookup = wire::code("id", &id)?;
    let notice = state
        .store
        .read(move |r| r.clearing_notice(&lookup))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no clearing notice {id}")))?;
    Ok(ok(notice_json(&notice)))
}

/// The original bank confirms the old card's cancellation: the money moves. Repeating it
/// returns the same notice and moves nothing.
async fn confirm_clearing(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let command = ConfirmClearing { notice_id: wire::code("id", &id)?, actor: caller.actor() };
    match state.store.execute(command).await? {
        Outcome::ClearingNotice(notice) => Ok(ok(notice_json(&notice))),
        _ => Err(unexpected()),
    }
}

// ---------------------------------------------------------------------------------------------
// The PIN

/// PINs one institution's terminals may have checked in a minute.
const PIN_CHECKS_PER_MINUTE: u32 = 120;

/// One answer for an unknown card and a wrong PIN.
fn bad_pin() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "bad_pin", "unknown card or wrong PIN", "卡号或密码错误")
}

fn locked() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "locked",
        "the card is locked after 5 wrong PINs; reset the PIN at the bank with the holder's ID",
        "密码连续错误5次，卡已锁定，请持身份证到银行重置密码",
    )
}

fn not_the_holder(action: &str) -> ApiError {
    ApiError::forbidden(format!("only the card's holder may {action} its PIN (and only their own card)"))
}

/// Who may have a card's PIN checked: its holder (logged in with their own password), a
/// designated institution's signed terminal, or an agency operator. A person asking about any
/// other card is refused the same way whether or not it exists, and their guesses never count
/// against it.
async fn may_verify(state: &AppState, caller: &Caller, card_no: &str) -> Result<(), ApiError> {
    match caller {
        Caller::Anonymous => Err(ApiError::unauthenticated("a terminal signs its requests (x-tif-*) or logs in")),
        Caller::Operator { .. } => Ok(()),
        Caller::Institution(institution) => {
            if !institution.is_designated_on(state.store.now().date()) {
                return Err(ApiError::forbidden("the institution is not designated today"));
            }
            let now = crate::kit::clock::unix_now();
            if state.reads.take(&format!("pin/{}", institution.code), now, PIN_CHECKS_PER_MINUTE).is_err() {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_reads",
                    format!("an institution checks at most {PIN_CHECKS_PER_MINUTE} PINs a minute"),
                    format!("机构每分钟最多校验{PIN_CHECKS_PER_MINUTE}次卡密码"),
                ));
            }
            // Only its patients' cards (read at 1101, or treated there): no one else's to lock.
            let patient = match holder_of(state, card_no).await?.and_then(|psn| psn.parse().ok()) {
                Some(psn_no) => {
                    let code = institution.code.clone();
                    state.store.read(move |r| r.institution_knows(&code, &psn_no)).await?
                }
                None => false,
            };
            match patient {
                true => Ok(()),
                false => Err(ApiError::forbidden("a terminal checks only the cards of the institution's patients")),
            }
        }
        Caller::Person { change_password_only: true, .. } => Err(super::caller::initial_password_only()),
        Caller::Person { psn_no, .. } => match holder_of(state, card_no).await?.as_deref() == Some(psn_no.as_str()) {
            true => Ok(()),
            false => Err(not_the_holder("verify")),
        },
    }
}

/// The person number of a card's holder, when the card exists.
async fn holder_of(state: &AppState, card_no: &str) -> Result<Option<String>, ApiError> {
    let Ok(number) = card_no.parse::<CardNo>() else { return Ok(None) };
    Ok(state.store.read(move |r| r.card(&number)).await?.map(|card| card.psn_no.to_string()))
}

/// Checks a card's PIN, counting the attempt against the card (whichever terminal sent it)
/// before it is checked, and writes who checked which card to the audit log.
async fn check_pin(
    state: &AppState,
    client: ClientAddr,
    caller: &Caller,
    card_no: &str,
    presented: &str,
) -> Result<(), ApiError> {
    let exists = match card_no.parse::<CardNo>() {
        Ok(_) => {
            let lookup = card_no.to_string();
            state.store.read(move |r| r.credential(&lookup, CredentialKind::CardPin)).await?.is_some()
        }
        Err(_) => false,
    };
    let holder = match exists {
        true => Holder::Stored { subject: card_no.to_string(), kind: CredentialKind::CardPin },
        false => Holder::Unknown { kind: CredentialKind::CardPin, name: card_no.to_string() },
    };
    // A PIN that is not 6 digits is checked (and counted) like any wrong one.
    let presented = pin("pin", presented).unwrap_or_default();
    let verdict = guard::try_secret(state, client, holder, presented, Sources::Unlimited).await?;
    let (outcome, result) = match verdict {
        Verdict::Right(_) => ("right", Ok(())),
        // Even the fifth wrong PIN gets the same answer as an unknown card; the next try
        // learns of the lock.
        Verdict::Wrong => ("wrong", Err(bad_pin())),
        Verdict::Locked(_) => ("locked", Err(locked())),
        Verdict::BackedOff(_) => ("backed-off", Err(guard::refusal(&verdict).unwrap_or_else(bad_pin))),
    };
    if exists {
        state
            .store
            .execute(yibao_app::access::audit(caller.actor(), "card-pin-verify", card_no.to_string(), outcome.into()))
            .await?;
    }
    result
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyPin {
    pin: String,
}

/// A terminal (an institution, or the bank's counter) checks the PIN the holder typed.
async fn verify_pin(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    caller: Caller,
    Path(card_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    may_verify(&state, &caller, &card_no).await?;
    let request: VerifyPin = body(&bytes)?;
    check_pin(&state, client, &caller, &card_no, &request.pin).await?;
    Ok(ok(json!({"card_no": card_no, "verified": true})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePin {
    old_pin: String,
    new_pin: String,
}

/// The holder changes the PIN with the old one (in the portal, or a channel app).
async fn change_pin(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    caller: Caller,
    Path(card_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: ChangePin = body(&bytes)?;
    set_pin(&state, client, &caller, &card_no, &request.old_pin, &request.new_pin).await?;
    Ok(ok(json!({"card_no": card_no, "changed": true})))
}

/// Changes a card's PIN, given the current one: its holder only (logged in with their own
/// password; the bank resets a forgotten PIN). The REST API and the portal share it.
pub(crate) async fn set_pin(
    state: &AppState,
    client: ClientAddr,
    caller: &Caller,
    card_no: &str,
    old: &str,
    new: &str,
) -> Result<(), ApiError> {
    match caller {
        Caller::Anonymous => return Err(ApiError::unauthenticated("log in as the card's holder")),
        Caller::Person { change_password_only: true, .. } => {
            return Err(super::caller::initial_password_only());
        }
        Caller::Person { psn_no, .. } if holder_of(state, card_no).await?.as_deref() == Some(psn_no.as_str()) => {}
        _ => return Err(not_the_holder("change")),
    }
    let fresh = new_pin(new)?;
    check_pin(state, client, caller, card_no, old).await?;
    let hash = hash_secret(state, fresh).await?;
    let change = yibao_app::access::change_secret(card_no.to_string(), CredentialKind::CardPin, hash, caller.actor());
    state.store.execute(change).await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetPin {
    /// The holder's ID number, checked by the operator against the document shown.
    id_number: String,
    new_pin: String,
    reason: Option<String>,
}

/// The bank resets a forgotten (or locked) PIN after checking the holder's ID.
async fn reset_pin(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(card_no): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: ResetPin = body(&bytes)?;
    let id: IdNumber = parse("id_number", &request.id_number)?;
    let fresh = new_pin(&request.new_pin)?;
    let card = load_card(&state, &card_no).await?;
    let holder = card.psn_no.clone();
    let person: Option<Person> = state.store.read(move |r| r.person(&holder)).await?;
    if person.is_none_or(|person| person.id_number != id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "id_mismatch",
            "the ID number is not the card holder's",
            "身份证号与持卡人不符",
        ));
    }
    if !card.status.is_in_hand() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("card {card_no} is {}; its PIN cannot be reset", card.status.as_str()),
            "该卡已挂失、补换或注销，不能重置密码",
        ));
    }
    let hash = hash_secret(&state, fresh).await?;
    let change = yibao_app::access::change_secret(card_no.clone(), CredentialKind::CardPin, hash, caller.actor());
    state.store.execute(change).await?;
    state
        .store
        .execute(yibao_app::access::audit(
            caller.actor(),
            "card-pin-reset",
            card_no.clone(),
            request.reason.unwrap_or_else(|| "forgotten PIN".into()),
        ))
        .await?;
    Ok(ok(json!({"card_no": card_no, "reset": true})))
}

// ---------------------------------------------------------------------------------------------
// The printed transaction record

const ROWS_PER_PAGE: usize = 40;

/// Prints the card's unprinted transactions as a PDF statement; the card may pay again.
async fn statement(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(card_no): Path<String>,
) -> Result<Response, ApiError> {
    statement_pdf(&state, &caller, &card_no).await
}

/// Prints the card's unprinted transactions as a PDF (the card may pay again). The REST API and
/// the portal share it.
pub(crate) async fn statement_pdf(state: &AppState, caller: &Caller, card_no: &str) -> Result<Response, ApiError> {
    let card = readable_card(state, caller, card_no).await?;
    let command = PrintStatement { card_no: card.card_no, actor: caller.actor() };
    let Outcome::Statement { card, person, transactions } = state.store.execute(command).await? else {
        return Err(unexpected());
    };
    let mut names = std::collections::HashMap::new();
    for transaction in &transactions {
        if !names.contains_key(&transaction.institution)
            && let Some(found) = state.institution(&transaction.institution).await?
        {
            names.insert(transaction.institution.clone(), found.name);
        }
    }
    let printed_at = state.store.now();
    let mut pages = statement_pages(&card, &person, &transactions, &names, &printed_at.to_string());
    // The personal account's movements over the same span (credits too, with the balance after
    // each): from the day of the first transaction printed, or a year back when there is none.
    let from = transactions.first().map_or(printed_at.date().plus_days(-365), |first| first.at.date());
    let holder = person.psn_no.clone();
    let movements =
        state.store.read(move |r| r.statement(&holder, Some(DateTime::start_of(from)), None, ACCOUNT_ROWS_MAX)).await?;
    pages.extend(account_pages(&card, &person, &movements, from, &printed_at.to_string()));
    let file = pdf::render(&pages, &format!("医疗保险卡交易记录 {}", card.card_no));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"statement-{}.pdf\"", card.card_no)),
        ],
        file,
    )
        .into_response())
}

/// The most account movements a printed record lists.
const ACCOUNT_ROWS_MAX: usize = 400;

/// One table of the printed record: its title over a header naming the holder, the card and
/// when it was printed, a summary line, and its rows under the column headings (the first
/// column numbers the rows), laid out over as many pages as the rows need.
struct Printed<'a> {
    title: &'a str,
    card: &'a Card,
    person: &'a Person,
    printed_at: &'a str,
    summary: String,
    /// Where each column starts, and its heading; the first is the row number.
    columns: &'a [(u32, &'a str)],
    /// What the page says when there are no rows.
    empty: &'a str,
    /// The cells of each row after its number.
    rows: Vec<Vec<String>>,
}

fn printed_pages(table: Printed<'_>) -> Vec<Vec<Text>> {
    let chunks: Vec<&[Vec<String>]> =
        if table.rows.is_empty() { vec![&[]] } else { table.rows.chunks(ROWS_PER_PAGE).collect() };
    let page_count = chunks.len();
    let mut pages = Vec::new();
    for (page_index, chunk) in chunks.into_iter().enumerate() {
        let mut page = vec![
            Text::new(40, 800, 16, table.title),
            Text::new(40, 778, 10, format!("持卡人：{}", table.person.name)),
            Text::new(200, 778, 10, format!("卡号：{}", table.card.card_no)),
            Text::new(340, 778, 10, format!("打印时间：{}", table.printed_at)),
            Text::new(40, 762, 10, table.summary.clone()),
            Text::new(480, 762, 10, format!("第{}/{}页", page_index + 1, page_count)),
        ];
        for (x, title) in table.columns {
            page.push(Text::new(*x, 740, 9, *title));
        }
        if table.rows.is_empty() {
            page.push(Text::new(40, 720, 10, table.empty));
        }
        for (row, cells) in chunk.iter().enumerate() {
            let y = 722 - 16 * u32::try_from(row).unwrap_or(0);
            let number = (page_index * ROWS_PER_PAGE + row + 1).to_string();
            for ((x, _), cell) in table.columns.iter().zip(std::iter::once(&number).chain(cells)) {
                page.push(Text::new(*x, y, 7, cell.clone()));
            }
        }
        pages.push(page);
    }
    pages
}

/// The printed record's account pages: every credit and debit of the personal account since
/// `from`, with the balance after each.
fn account_pages(
    card: &Card,
    person: &Person,
    movements: &yibao_store::Statement,
    from: yibao_domain::Date,
    printed_at: &str,
) -> Vec<Vec<Text>> {
    printed_pages(Printed {
        title: "个人账户收支",
        card,
        person,
        printed_at,
        summary: format!("自{from}起 · 期初余额{} · 当前余额{}", movements.opening, movements.closing()),
        columns: &[(40, "序号"), (70, "时间"), (170, "摘要"), (400, "金额"), (480, "余额")],
        empty: "这段时间没有收支",
        rows: movements
            .entries
            .iter()
            .map(|entry| {
                vec![
                    entry.at.to_string(),
                    entry.code.name_zh().to_string(),
                    entry.amount().to_string(),
                    entry.balance.to_string(),
                ]
            })
            .collect(),
    })
}

fn statement_pages(
    card: &Card,
    person: &Person,
    transactions: &[CardTransaction],
    names: &std::collections::HashMap<yibao_domain::InstitutionCode, String>,
    printed_at: &str,
) -> Vec<Vec<Text>> {
    printed_pages(Printed {
        title: "医疗保险卡交易记录",
        card,
        person,
        printed_at,
        summary: format!("本次打印{}笔交易", transactions.len()),
        columns: &[
            (40, "序号"),
            (70, "交易时间"),
            (170, "医药机构"),
            (300, "结算号"),
            (400, "医疗费总额"),
            (460, "个人账户"),
            (520, "现金"),
        ],
        empty: "无未打印的交易",
        rows: transactions
            .iter()
            .map(|transaction| {
                let institution =
                    names.get(&transaction.institution).cloned().unwrap_or_else(|| transaction.institution.to_string());
                vec![
                    transaction.at.to_string(),
                    institution.chars().take(9).collect(),
                    transaction.setl_id.to_string(),
                    transaction.medfee.to_string(),
                    transaction.account.to_string(),
                    transaction.cash.to_string(),
                ]
            })
            .collect(),
    })
}

//! Native REST endpoints for the settlement flows (the national interface's twins), for
//! clients that do not speak the national interface: open a visit, add lines, discharge,
//! pre-settle and settle, cancel, and buy at a pharmacy. Institutions sign requests with the
//! `x-tif-*` headers; every write needs an `Idempotency-Key` (1–64 letters, digits, `-`, `_`):
//! a retry with the same key and body returns the stored response, another body is refused.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use yibao_app::{Channel, Diagnosed, Idempotency, PurchaseRequest, Run, SettlementRef, VisitRef};
use yibao_domain::{CertType, DateTime, MdtrtId, MedType, Money, MsgId, Quantity, SetlId, UnitPrice};
use yibao_engine::commands::{LineUpload, SettleRequest, Treated, VisitDetails};
use yibao_engine::records::{Certificate, FeeLine, Institution, VisitKind};
use yibao_engine::{Command, Outcome, Reply};

use super::caller::Caller;
use super::common::{body, parse};
use super::error::{ApiError, Path};
use super::wire;
use crate::state::AppState;

fn institution(caller: &Caller) -> Result<&Institution, ApiError> {
    match caller {
        Caller::Institution(institution) => Ok(institution),
        Caller::Anonymous => Err(ApiError::unauthenticated("sign the request with the x-tif-* headers")),
        _ => Err(ApiError::forbidden("only designated institutions settle")),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<MsgId, ApiError> {
    let value = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            ApiError::invalid("the Idempotency-Key header is required for writes", "写操作须带Idempotency-Key请求头")
        })?
        .to_str()
        .map_err(|_| ApiError::invalid("Idempotency-Key is not text", "Idempotency-Key不是文本"))?;
    parse("Idempotency-Key", value)
}

/// How a write runs: under its idempotency key, fingerprinted by what it is and its body; the
/// stored answer is the JSON response.
fn commit(
    institution: &Institution,
    headers: &HeaderMap,
    what: &'static str,
    bytes: &Bytes,
    render: impl Fn(&Outcome) -> Value + Send + Sync + 'static,
) -> Result<Run, ApiError> {
    let idempotency = Idempotency {
        key: idempotency_key(headers)?,
        institution: institution.code.clone(),
        channel: Channel::Rest(what),
        // SHA-256 of the route's name, a newline and the body, as since the first release.
        request_hash: yibao_app::sha256_hex(&[what.as_bytes(), bytes]),
        reversible: true,
    };
    Ok(Run::Commit(
        idempotency.envelope(Box::new(move |outcome| serde_json::to_vec(&render(outcome)).unwrap_or_default())),
    ))
}

/// The response to a committed write: 201 with its body, or 200 with the stored one of a repeat.
fn replied(reply: Reply) -> Result<Response, ApiError> {
    match reply {
        Reply::Done { body: Some(body), .. } => Ok((StatusCode::CREATED, json_body(body)).into_response()),
        Reply::Replayed(body) => Ok((StatusCode::OK, json_body(body)).into_response()),
        Reply::Done { body: None, .. } => {
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no response rendered", "系统内部错误"))
        }
    }
}

/// Runs a write under its idempotency key (see [`commit`]).
async fn write(
    state: &AppState,
    institution: &Institution,
    headers: &HeaderMap,
    what: &'static str,
    bytes: &Bytes,
    command: impl Command + 'static,
    render: impl Fn(&Outcome) -> Value + Send + Sync + 'static,
) -> Result<Response, ApiError> {
    let run = commit(institution, headers, what, bytes, render)?;
    replied(yibao_app::run(&state.store, Box::new(command), run).await?)
}

/// The answer to a dry run (a pre-settlement): the settlement as it would be, nothing stored.
fn previewed(reply: Reply) -> Response {
    match reply {
        Reply::Done { outcome, .. } => axum::Json(settlement_json(&outcome)).into_response(),
        Reply::Replayed(body) => json_body(body).into_response(),
    }
}

fn json_body(body: Vec<u8>) -> ([(axum::http::header::HeaderName, &'static str); 1], Vec<u8>) {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateWire {
    #[serde(rename = "type")]
    kind: String,
    number: String,
}

impl CertificateWire {
    fn parse(&self) -> Result<Certificate, ApiError> {
        let kind: CertType = parse("certificate.type", &self.kind)?;
        Ok(Certificate { kind, number: self.number.clone() })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewVisit {
    psn_no: String,
    /// `outpatient` or `inpatient`.
    kind: String,
    insutype: String,
    begin: String,
    certificate: CertificateWire,
    his_no: String,
    med_type: Option<String>,
    diagnosis_code: Option<String>,
    diagnosis_name: Option<String>,
    #[serde(default)]
    dept_name: String,
    #[serde(default)]
    doctor_name: String,
}

fn visit_json(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Visit(visit) => json!({
            "mdtrt_id": visit.mdtrt_id.as_str(),
            "psn_no": visit.psn_no.as_str(),
            "kind": visit.kind.as_str(),
            "status": visit.status.as_str(),
            "med_type": visit.med_type.map(|t| t.to_string()),
            "begin": visit.begin.to_string(),
            "end": visit.end.map(|t| t.to_string()),
        }),
        _ => Value::Null,
    }
}

pub async fn open_visit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let institution = institution(&caller)?;
    let request: NewVisit = body(&bytes)?;
    let details = VisitDetails {
        institution: institution.code.clone(),
        psn_no: parse("psn_no", &request.psn_no)?,
        insurance: parse("insutype", &request.insutype)?,
        begin: parse::<DateTime>("begin", &request.begin)?,
        certificate: request.certificate.parse()?,
        his_no: request.his_no.clone(),
        dept_code: String::new(),
        dept_name: request.dept_name.clone(),
        doctor_code: String::new(),
        doctor_name: request.doctor_name.clone(),
        med_type: request.med_type.as_deref().map(|t| parse::<MedType>("med_type", t)).transpose()?,
        diagnosis_code: request.diagnosis_code.clone(),
        diagnosis_name: request.diagnosis_name.clone(),
        diagnoses: Vec::new(),
        insured_admdvs: None,
    };
    match request.kind.as_str() {
        "outpatient" => {
            let command = yibao_app::visits::open(details, VisitKind::Outpatient)?;
            write(&state, institution, &headers, "open-visit", &bytes, command, visit_json).await
        }
        "inpatient" => {
            let command = yibao_app::visits::open(details, VisitKind::Inpatient)?;
            write(&state, institution, &headers, "admit", &bytes, command, visit_json).await
        }
        other => Err(ApiError::invalid(
            format!("kind {other:?} is not \"outpatient\" or \"inpatient\""),
            "就诊类型应为outpatient或inpatient",
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineWire {
    serial: String,
    code: String,
    price: String,
    quantity: String,
    amount: String,
    #[serde(default)]
    batch: String,
    occurred_at: Option<String>,
    refund_of: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLines {
    psn_no: String,
    lines: Vec<LineWire>,
}

fn parse_lines(lines: &[LineWire], now: DateTime) -> Result<Vec<LineUpload>, ApiError> {
    if lines.len() > crate::LINES_PER_MESSAGE_MAX {
        return Err(ApiError::invalid(
            format!("at most {} lines a request", crate::LINES_PER_MESSAGE_MAX),
            "单次最多1000条明细",
        ));
    }
    lines
        .iter()
        .map(|line| {
            Ok(LineUpload {
                serial: wire::code("serial", &line.serial)?,
                batch: line.batch.clone(),
                code: line.code.clone(),
                his_code: line.code.clone(),
                price: parse::<UnitPrice>("price", &line.price)?,
                quantity: parse::<Quantity>("quantity", &line.quantity)?,
                amount: parse::<Money>("amount", &line.amount)?,
                occurred_at: match &line.occurred_at {
                    Some(text) => parse("occurred_at", text)?,
                    None => now,
                },
                refund_of: line.refund_of.clone(),
                rx_no: String::new(),
                dept_code: String::new(),
                dept_name: String::new(),
                doctor_code: String::new(),
                doctor_name: String::new(),
            })
        })
        .collect()
}

fn line_json(line: &FeeLine) -> Value {
    json!({
        "serial": line.serial,
        "code": line.code,
        "name": line.name,
        "amount": wire::yuan(line.amount),
        "class": line.class.map(|c| c.code()),
        "fully_selfpaid": wire::yuan(line.fully_selfpaid),
        "over_limit": wire::yuan(line.over_limit),
        "first_selfpay": wire::yuan(line.first_selfpay),
        "in_scope": wire::yuan(line.in_scope),
        "explanation": line.steps.iter().map(|s| json!({"rule": s.rule.id(), "zh": s.zh, "en": s.en})).collect::<Vec<_>>(),
    })
}

pub async fn add_lines(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(mdtrt_id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let institution = institution(&caller)?;
    let request: NewLines = body(&bytes)?;
    let visit = VisitRef {
        institution: institution.code.clone(),
        psn_no: parse("psn_no", &request.psn_no)?,
        mdtrt_id: parse("mdtrt_id", &mdtrt_id)?,
    };
    let command = yibao_app::visits::upload_lines(visit, None, parse_lines(&request.lines, state.store.now())?);
    write(&state, institution, &headers, "add-lines", &bytes, command, |outcome| match outcome {
        Outcome::Lines { lines, .. } => json!({"lines": lines.iter().map(line_json).collect::<Vec<_>>()}),
        _ => Value::Null,
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DischargeWire {
    psn_no: String,
    end: String,
}

pub async fn discharge(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(mdtrt_id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let institution = institution(&caller)?;
    let request: DischargeWire = body(&bytes)?;
    let visit = VisitRef {
        institution: institution.code.clone(),
        psn_no: parse("psn_no", &request.psn_no)?,
        mdtrt_id: parse("mdtrt_id", &mdtrt_id)?,
    };
    let command = yibao_app::visits::discharge(visit, parse("end", &request.end)?, Diagnosed::default());
    write(&state, institution, &headers, "discharge", &bytes, command, visit_json).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelVisitWire {
    psn_no: String,
}

pub async fn cancel_visit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(mdtrt_id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let institution = institution(&caller)?;
    let request: CancelVisitWire = body(&bytes)?;
    let visit = VisitRef {
        institution: institution.code.clone(),
        psn_no: parse("psn_no", &request.psn_no)?,
        mdtrt_id: parse("mdtrt_id", &mdtrt_id)?,
    };
    let command = yibao_app::visits::cancel(visit, None);
    write(&state, institution, &headers, "cancel-visit", &bytes, command, visit_json).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettleWire {
    psn_no: String,
    #[serde(default)]
    use_account: bool,
    #[serde(default)]
    mid_stay: bool,
    #[serde(default)]
    dry_run: bool,
    med_type: Option<String>,
    /// The total the client computed; refused when it differs from the lines.
    medfee: Option<String>,
}

fn settlement_json(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Settlement(settlement) => {
            let mut detail = wire::settlement_detail(&settlement.settlement);
            detail["cancelled"] = settlement.cancelled.as_ref().map_or(Value::Null, |c| json!(c.setl_id.as_str()));
            detail
        }
        _ => Value::Null,
    }
}

pub async fn settle(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(mdtrt_id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let institution = institution(&caller)?;
    let request: SettleWire = body(&bytes)?;
    let visit_id: MdtrtId = parse("mdtrt_id", &mdtrt_id)?;
    let psn_no: yibao_domain::PersonNo = parse("psn_no", &request.psn_no)?;
    let bill = SettleRequest {
        med_type: request.med_type.as_deref().map(|t| parse("med_type", t)).transpose()?,
        declared_medfee: request.medfee.as_deref().map(|m| parse("medfee", m)).transpose()?,
        use_account: request.use_account,
        mid_stay: request.mid_stay,
        ..SettleRequest::new(institution.code.clone(), psn_no, visit_id)
    };
    if request.dry_run {
        return Ok(previewed(yibao_app::settle(&state.store, bill, Treated::Here, Run::Preview).await?));
    }
    let run = commit(institution, &headers, "settle", &bytes, settlement_json)?;
    replied(yibao_app::settle(&state.store, bill, Treated::Here, run).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelWire {
    psn_no: String,
}

pub async fn cancel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(setl_id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let institution = institution(&caller)?;
    let request: CancelWire = body(&bytes)?;
    let settlement = SettlementRef {
        institution: institution.code.clone(),
        psn_no: parse("psn_no", &request.psn_no)?,
        setl_id: parse::<SetlId>("setl_id", &setl_id)?,
    };
    let command = yibao_app::settlement::cancel(settlement, None, None, idempotency_key(&headers)?);
    write(&state, institution, &headers, "cancel-settlement", &bytes, command, settlement_json).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurchaseWire {
    psn_no: String,
    insutype: String,
    certificate: CertificateWire,
    lines: Vec<LineWire>,
    #[serde(default)]
    use_account: bool,
    #[serde(default)]
    dry_run: bool,
    medfee: Option<String>,
}

pub async fn purchase(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let institution = institution(&caller)?;
    let request: PurchaseWire = body(&bytes)?;
    let now = state.store.now();
    let key = match request.dry_run {
        true => "dry-run".parse().expect("valid"),
        false => idempotency_key(&headers)?,
    };
    // Read in the order a client has always had its first bad field named.
    let psn_no = parse("psn_no", &request.psn_no)?;
    let insurance = parse("insutype", &request.insutype)?;
    let certificate = request.certificate.parse()?;
    let lines = parse_lines(&request.lines, now)?;
    let declared_medfee = request.medfee.as_deref().map(|m| parse("medfee", m)).transpose()?;
    let purchase = PurchaseRequest {
        declared_medfee,
        use_account: request.use_account,
        ..PurchaseRequest::new(institution.code.clone(), psn_no, insurance, certificate, lines, now)
    };
    let command = yibao_app::settlement::purchase(purchase, key);
    if request.dry_run {
        return Ok(previewed(yibao_app::run(&state.store, Box::new(command), Run::Preview).await?));
    }
    write(&state, institution, &headers, "purchase", &bytes, command, settlement_json).await
}

//! The registry (regions, institutions, employers, persons) and what is read about a person
//! (account, accumulators, settlements), the catalogue, the audit log, the ledger check, the
//! monthly allocation and the year end.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use yibao_app::registry::Enrolment;
use yibao_domain::{Date, DateTime, IdNumber, Money, PersonNo, SetlId};
use yibao_engine::commands::{
    CreateEmployer, CreateInstitution, CreateRegion, DRAWN_MIN, PERSON_NUMBER_MAX, PersonNumber, PutCatalogueEntry,
};
use yibao_engine::records::{ACTIVATION_CODE_SECONDS, Credential, CredentialKind};
use yibao_store::{PersonLookup, SettlementFilter};

use super::caller::Caller;
use super::caller::PRIVILEGED;
use super::common::{PAGE_SIZE_MAX, audit_read, body, created, hash_secret, load_person, ok, parse, unexpected};
use super::error::ApiError;
use super::error::{Path, Query};
use super::wire;
use crate::guard;
use crate::state::AppState;

/// Ten random digits for a new person number, from [`DRAWN_MIN`] to [`PERSON_NUMBER_MAX`].
fn draw_person_number() -> u64 {
    let span = PERSON_NUMBER_MAX - DRAWN_MIN + 1;
    DRAWN_MIN + crate::kit::secret::random_below(span)
}

pub(super) async fn regions(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let regions = state.store.read(|r| r.regions()).await?;
    Ok(ok(json!({"regions": regions.iter().map(wire::region).collect::<Vec<_>>()})))
}

pub(super) async fn create_region(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: wire::NewRegion = body(&bytes)?;
    let region =
        yibao_engine::records::Region { admdvs: parse("admdvs", &request.admdvs)?, name: wire::name(&request.name)? };
    state.store.execute(CreateRegion { region: region.clone(), actor: caller.actor() }).await?;
    Ok(created(wire::region(&region)))
}

pub(super) async fn institutions(
    State(state): State<Arc<AppState>>,
    Query(filter): Query<wire::InstitutionFilter>,
) -> Result<Response, ApiError> {
    let admdvs = filter.admdvs.clone();
    let all = state.store.read(move |r| r.institutions(admdvs.as_deref())).await?;
    let today = state.store.now().date();
    let rows: Vec<Value> = all
        .iter()
        .filter(|i| filter.kind.as_deref().is_none_or(|kind| i.kind.code() == kind))
        .filter(|i| filter.level.as_deref().is_none_or(|level| i.level.is_some_and(|l| l.code() == level)))
        .filter(|i| filter.evoucher.is_none_or(|wanted| i.accepts_evoucher == wanted))
        .filter(|i| i.is_designated_on(today))
        .map(wire::institution)
        .collect();
    Ok(ok(json!({"institutions": rows})))
}

pub(super) async fn create_institution(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: wire::NewInstitution = body(&bytes)?;
    let institution = request.into_record()?;
    // A msgid begins with its sender's code: no code may begin another.
    let code = institution.code.clone();
    let clash = state.store.read(move |r| r.institutions(None)).await?.into_iter().find(|other| {
        other.code != code
            && (other.code.as_str().starts_with(code.as_str()) || code.as_str().starts_with(other.code.as_str()))
    });
    if let Some(other) = clash {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("code {} and {} begin one another (message ids begin with the code)", institution.code, other.code),
            "机构编码不能是另一机构编码的前缀（报文ID以机构编码开头）",
        ));
    }
    state.store.execute(CreateInstitution { institution: institution.clone(), actor: caller.actor() }).await?;
    state.forget_institutions();
    Ok(created(wire::institution(&institution)))
}

pub(super) async fn employers(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
    caller.operator()?;
    let employers = state.store.read(|r| r.employers()).await?;
    Ok(ok(json!({"employers": employers.iter().map(wire::employer).collect::<Vec<_>>()})))
}

pub(super) async fn create_employer(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: wire::NewEmployer = body(&bytes)?;
    let employer = yibao_engine::records::Employer {
        code: wire::code("code", &request.code)?,
        name: wire::name(&request.name)?,
        admdvs: parse("admdvs", &request.admdvs)?,
    };
    state.store.execute(CreateEmployer { employer: employer.clone(), actor: caller.actor() }).await?;
    Ok(created(wire::employer(&employer)))
}

pub(super) async fn persons(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(page): Query<wire::PersonPage>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let size = page.page_size.unwrap_or(50);
    if size == 0 || size > PAGE_SIZE_MAX {
        return Err(ApiError::invalid(format!("page_size must be 1 to {PAGE_SIZE_MAX}"), "每页条数超出范围"));
    }
    let number = page.page.unwrap_or(1).max(1);
    let admdvs = page.admdvs.clone();
    let lookup = match page.q.as_deref() {
        None => None,
        Some(q) => Some(PersonLookup::from_text(q).ok_or_else(|| {
            ApiError::invalid(
                format!(
                    "q must be 1 to {} characters: an ID number, person number, name or card number",
                    PersonLookup::TEXT_MAX
                ),
                format!("查询条件须为1至{}个字符：身份证号、人员编号、姓名或卡号", PersonLookup::TEXT_MAX),
            )
        })?),
    };
    let searched = lookup.as_ref().map(PersonLookup::audited);
    let found = state
        .store
        .read(move |r| r.persons(admdvs.as_deref(), lookup.as_ref(), (number - 1).saturating_mul(size), size))
        .await?;
    match searched {
        Some(searched) => {
            audit_read(&state, &caller, "search-persons", &searched, page.admdvs.as_deref().unwrap_or("*")).await?
        }
        None => audit_read(&state, &caller, "list-persons", page.admdvs.as_deref().unwrap_or("*"), "").await?,
    }
    Ok(ok(json!({
        "total": found.total,
        "page": number,
        "page_size": size,
        "persons": found.rows.iter().map(|p| wire::person(p, false)).collect::<Vec<_>>(),
    })))
}

pub(super) async fn create_person(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: wire::NewPerson = body(&bytes)?;
    let id: IdNumber = parse("id_number", &request.id_number)?;
    let today = state.store.now().date();
    let enrolment = Enrolment {
        id_number: id.clone(),
        name: wire::name(&request.name)?,
        admdvs: parse("admdvs", &request.admdvs)?,
        insurance: parse("insutype", &request.insutype)?,
        person_type: parse("psn_type", &request.psn_type)?,
        employer: request.employer.clone(),
        insured_since: match &request.insured_since {
            Some(text) => Some(parse("insured_since", text)?),
            None => None,
        },
        ethnicity: request.naty.clone(),
        custody_bank: parse("custody_bank", request.custody_bank.as_deref().unwrap_or("BOC"))?,
        contribution_base: match &request.contribution_base {
            Some(text) => Some(parse::<Money>("contribution_base", text)?),
            None => None,
        },
    };
    // A person number says nothing about another: drawn at random (again, should one be taken).
    let mut attempt = 0;
    let person = loop {
        attempt += 1;
        let number = PersonNumber::Drawn(draw_person_number());
        let command = yibao_app::registry::enrol(enrolment.clone(), number, today, caller.actor());
        match state.store.execute(command).await {
            Ok(yibao_engine::Outcome::Person(person)) => break person,
            Ok(_) => return Err(unexpected()),
            Err(error)
                if attempt < 5
                    && matches!(error.refusal.as_deref(), Some(yibao_engine::Refusal::PersonNumberTaken { .. })) => {}
            Err(error) => return Err(error.into()),
        }
    };
    // The seeds' initial web password: ID digits 12–17, usable once, to set a new one.
    let hash = hash_secret(&state, id.initial_password().to_string()).await?;
    let credential = Credential {
        subject: person.psn_no.to_string(),
        kind: CredentialKind::Portal,
        hash,
        must_change: true,
        failures: 0,
        locked_until: None,
        roles: Vec::new(),
        updated_at: state.store.now(),
    };
    state.store.execute(yibao_app::access::put_credential(credential, caller.actor())).await?;
    Ok(created(wire::person(&person, false)))
}

/// Lets a read of a person's records through, or says why not, and audits it when someone other
/// than the person reads. The person reads their own records; an operator any; an institution
/// only its patients (persons it treated, or identified with their certificate at 1101), a
/// limited number a minute, and any other person number is "not found", whether it exists or
/// not (person numbers cannot be enumerated).
///
/// # Errors
/// 401/403/404/429 as above; a store failure.
pub(crate) async fn admit_person_read(
    state: &AppState,
    caller: &Caller,
    psn_no: &str,
    action: &str,
    detail: &str,
) -> Result<(), ApiError> {
    caller.may_read_person(psn_no)?;
    if let Caller::Institution(institution) = caller {
        let now = crate::kit::clock::unix_now();
        if let Err(wait) = state.reads.take(institution.code.as_str(), now, guard::INSTITUTION_READS_PER_MINUTE) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_reads",
                format!(
                    "an institution reads at most {} personal records a minute; try again in {wait} s",
                    guard::INSTITUTION_READS_PER_MINUTE
                ),
                format!("机构每分钟最多查询{}次个人信息，请{wait}秒后再试", guard::INSTITUTION_READS_PER_MINUTE),
            ));
        }
        let not_found = || ApiError::not_found(format!("no person {psn_no} among this institution's patients"));
        let number: PersonNo = psn_no.parse().map_err(|_| not_found())?;
        let code = institution.code.clone();
        if !state.store.read(move |r| r.institution_knows(&code, &number)).await? {
            audit_read(state, caller, &format!("{action}-refused"), psn_no, detail).await?;
            return Err(not_found());
        }
    }
    if !matches!(caller, Caller::Person { .. }) {
        audit_read(state, caller, action, psn_no, detail).await?;
    }
    Ok(())
}

pub(super) async fn person(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    Query(reveal): Query<wire::Reveal>,
) -> Result<Response, ApiError> {
    if !reveal.reveal.unwrap_or(false) {
        admit_person_read(&state, &caller, &psn_no, "read-person", "").await?;
        let person = load_person(&state, &psn_no).await?;
        return Ok(ok(wire::person(&person, false)));
    }
    // Who may ask comes before whether the person exists: no one else learns that.
    match &caller {
        Caller::Anonymous => return Err(ApiError::unauthenticated("log in as a privileged operator")),
        Caller::Operator { roles, .. } if roles.iter().any(|role| role == PRIVILEGED) => {}
        _ => return Err(ApiError::forbidden("only a privileged operator may see a whole ID number")),
    }
    let reason = reveal.reason.unwrap_or_default();
    if reason.trim().chars().count() < 4 {
        return Err(ApiError::invalid(
            "state the reason for seeing the whole ID number (reason=…)",
            "查看完整身份证号须说明理由",
        ));
    }
    let person = load_person(&state, &psn_no).await?;
    audit_read(&state, &caller, "reveal-id-number", &psn_no, reason.trim()).await?;
    Ok(ok(wire::person(&person, true)))
}

/// An operator gives a person a one-time code that opens their portal account with the initial
/// password (for persons without a card to prove possession with). Audited; a new code
/// replaces an unused one.
pub(super) async fn issue_activation_code(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let person = load_person(&state, &psn_no).await?;
    let digits = crate::kit::secret::random_below(100_000_000);
    let code = format!("{digits:08}");
    let hash = hash_secret(&state, code.clone()).await?;
    let now = state.store.now();
    let credential = Credential {
        subject: person.psn_no.to_string(),
        kind: CredentialKind::ActivationCode,
        hash,
        must_change: false,
        failures: 0,
        locked_until: None,
        roles: Vec::new(),
        updated_at: now,
    };
    state.store.execute(yibao_app::access::put_credential(credential, caller.actor())).await?;
    Ok(created(json!({
        "psn_no": person.psn_no.as_str(),
        "code": code,
        "expires_at": now.plus_seconds(ACTIVATION_CODE_SECONDS).to_string(),
    })))
}

pub(super) async fn account(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    admit_person_read(&state, &caller, &psn_no, "read-account", "").await?;
    let person = load_person(&state, &psn_no).await?;
    let number = person.psn_no.clone();
    let (current, prior) = state.store.read(move |r| r.balances(&number)).await?;
    Ok(ok(json!({
        "psn_no": psn_no,
        "has_personal_account": person.has_personal_account(),
        "balance": wire::yuan(current + prior),
        "current_year": wire::yuan(current),
        "prior_years": wire::yuan(prior),
    })))
}

/// The most movements one statement lists.
pub const STATEMENT_MAX: usize = 1_000;

/// A personal account's statement: every credit and debit of a period with the running
/// balance, which ends at the stored balance when the period runs to today.
pub(super) async fn statement(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    Query(query): Query<wire::StatementQuery>,
) -> Result<Response, ApiError> {
    if matches!(caller, Caller::Institution(_)) {
        return Err(ApiError::forbidden("an account statement is read by its holder or an agency operator"));
    }
    let from: Option<Date> = query.from.as_deref().map(|text| parse("from", text)).transpose()?;
    let to: Option<Date> = query.to.as_deref().map(|text| parse("to", text)).transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::invalid("from is after to", "起始日期晚于截止日期"));
    }
    admit_person_read(&state, &caller, &psn_no, "read-statement", "").await?;
    let person = load_person(&state, &psn_no).await?;
    let number = person.psn_no.clone();
    let statement = state
        .store
        .read(move |r| {
            r.statement(
                &number,
                from.map(DateTime::start_of),
                to.map(|to| DateTime::start_of(to.plus_days(1))),
                STATEMENT_MAX,
            )
        })
        .await?;
    let entries: Vec<Value> = statement
        .entries
        .iter()
        .map(|entry| {
            json!({
                "at": entry.at.to_string(),
                "transfer": entry.transfer,
                "kind": entry.code.as_str(),
                "description": entry.code.name_zh(),
                "description_en": entry.code.name_en(),
                "reference": entry.reference,
                "amount": wire::yuan(entry.amount()),
                "current_year": wire::yuan(entry.current_year),
                "prior_years": wire::yuan(entry.prior_years),
                "balance": wire::yuan(entry.balance),
            })
        })
        .collect();
    Ok(ok(json!({
        "psn_no": psn_no,
        "from": from.map(|d| d.to_string()),
        "to": to.map(|d| d.to_string()),
        "opening_balance": wire::yuan(statement.opening),
        "closing_balance": wire::yuan(statement.closing()),
        "more": statement.more,
        "entries": entries,
    })))
}

pub(super) async fn accumulators(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    admit_person_read(&state, &caller, &psn_no, "read-accumulators", "").await?;
    let person = load_person(&state, &psn_no).await?;
    let number = person.psn_no.clone();
    let years = state.store.read(move |r| r.accumulators(&number)).await?;
    Ok(ok(
        json!({"psn_no": psn_no, "years": years.iter().map(|(year, row)| wire::accumulators(*year, row)).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn person_settlements(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    Query(page): Query<wire::PersonPage>,
) -> Result<Response, ApiError> {
    admit_person_read(&state, &caller, &psn_no, "read-settlements", "").await?;
    let number: PersonNo = parse("psn_no", &psn_no)?;
    let size = page.page_size.unwrap_or(50).clamp(1, PAGE_SIZE_MAX);
    let offset = (page.page.unwrap_or(1).max(1) - 1).saturating_mul(size);
    let institution = match &caller {
        Caller::Institution(institution) => Some(institution.code.clone()),
        _ => None,
    };
    let filter = SettlementFilter { person: Some(number), institution, ..SettlementFilter::default() };
    let found = state.store.read(move |r| r.settlements(&filter, offset, size)).await?;
    Ok(ok(
        json!({"total": found.total, "settlements": found.rows.iter().map(wire::settlement_summary).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn settlement(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(setl_id): Path<String>,
) -> Result<Response, ApiError> {
    // Who asks comes first: before logging in, an existing, a missing and a malformed id all
    // get the same 401; afterwards, someone else's settlement is "not found" like a missing one.
    match &caller {
        Caller::Anonymous => return Err(ApiError::unauthenticated("log in to read settlements")),
        Caller::Person { change_password_only: true, .. } => {
            return Err(super::caller::initial_password_only());
        }
        _ => {}
    }
    let not_found = || ApiError::not_found(format!("no settlement {setl_id}"));
    let id: SetlId = setl_id.parse().map_err(|_| not_found())?;
    let found = state.store.read(move |r| r.settlement(&id)).await?.ok_or_else(not_found)?;
    let visible = match &caller {
        Caller::Person { psn_no, .. } => found.psn_no.as_str() == psn_no,
        Caller::Institution(institution) => institution.code == found.institution,
        Caller::Operator { .. } => true,
        Caller::Anonymous => false,
    };
    if !visible {
        return Err(not_found());
    }
    if !matches!(&caller, Caller::Person { .. }) {
        audit_read(&state, &caller, "read-settlement", found.psn_no.as_str(), &setl_id).await?;
    }
    Ok(ok(wire::settlement_detail(&found)))
}

pub(super) async fn catalogue(
    State(state): State<Arc<AppState>>,
    Query(filter): Query<wire::CatalogueFilter>,
) -> Result<Response, ApiError> {
    let catalogue = state.store.catalogue();
    let rows: Vec<Value> = catalogue
        .entries()
        .into_iter()
        .filter(|e| filter.code.as_deref().is_none_or(|code| e.code == code))
        .take(PAGE_SIZE_MAX as usize)
        .map(wire::catalogue_entry)
        .collect();
    Ok(ok(json!({"entries": rows})))
}

pub(super) async fn create_catalogue_entry(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: wire::NewCatalogueEntry = body(&bytes)?;
    let entry = request.into_record()?;
    state.store.execute(PutCatalogueEntry { entry: entry.clone(), actor: caller.actor() }).await?;
    Ok(created(wire::catalogue_entry(&entry)))
}

pub(super) async fn audit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(filter): Query<wire::AuditFilter>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let limit = filter.limit.unwrap_or(100).clamp(1, PAGE_SIZE_MAX);
    let subject = filter.subject.clone();
    let entries = state.store.read(move |r| r.audit_log(subject.as_deref(), limit)).await?;
    Ok(ok(json!({"entries": entries.iter().map(wire::audit_entry).collect::<Vec<_>>()})))
}

pub(super) async fn verify_ledger(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
    caller.operator()?;
    let (accounts, journal) = state.store.read(|r| Ok((r.all_accounts()?, r.journal()?))).await?;
    let mismatches = yibao_ledger::verify_replay(accounts.iter(), journal.iter());
    let debits: Money = accounts.iter().map(|a| a.debits_posted).sum();
    let credits: Money = accounts.iter().map(|a| a.credits_posted).sum();
    let negative: Vec<String> = accounts
        .iter()
        .filter(|a| a.key.must_not_go_negative() && a.balance().is_negative())
        .map(|a| a.key.to_string())
        .collect();
    Ok(ok(json!({
        "accounts": accounts.len(),
        "transfers": journal.len(),
        "debits": wire::yuan(debits),
        "credits": wire::yuan(credits),
        "balanced": debits == credits,
        "replay_matches": mismatches.is_empty(),
        "mismatched_accounts": mismatches.iter().map(|m| m.stored.key.to_string()).collect::<Vec<_>>(),
        "negative_personal_accounts": negative,
    })))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AllocationRequest {
    /// `YYYY-MM`.
    month: String,
}

/// Credits every eligible personal account for an ended month (operator); running it again
/// credits nobody twice. Employees whose month's contribution is unpaid are skipped and named
/// (their credit follows when the arrears are paid).
pub(super) async fn allocate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: AllocationRequest = body(&bytes)?;
    let month: yibao_domain::Month = parse("month", &request.month)?;
    let summary = crate::allocation::allocate(&state.store, month, &caller.actor(), |_, _| {}).await?;
    Ok(ok(json!({
        "month": month.to_string(),
        "credited": summary.credited,
        "already_credited": summary.already,
        "not_eligible": summary.not_eligible,
        "contribution_unpaid": summary.unpaid,
        "amount": wire::yuan(summary.amount),
        "skipped": summary.skipped.iter().map(|skipped| json!({
            "psn_no": skipped.psn_no.to_string(),
            "reason": skipped.reason.code(),
            "reason_zh": skipped.reason.name_zh(),
        })).collect::<Vec<_>>(),
        "skipped_listed_max": yibao_engine::commands::SKIPPED_LISTED,
    })))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct YearEndRequest {
    year: u16,
}

/// Rolls every current-year account of a past year into the prior-years account (operator);
/// running it again moves nothing twice.
pub(super) async fn close_year(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: YearEndRequest = body(&bytes)?;
    let summary = crate::allocation::close_year(&state.store, request.year, &caller.actor(), |_, _| {}).await?;
    Ok(ok(json!({
        "year": request.year,
        "rolled_over": summary.credited,
        "already_rolled_over": summary.already,
        "nothing_to_roll": summary.not_eligible,
        "amount": wire::yuan(summary.amount),
    })))
}

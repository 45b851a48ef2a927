//! The REST API, `/api/v1/…`: logins, the registry (regions, institutions, employers,
//! persons), personal records (account, accumulators, settlements with their explanation),
//! the catalogue, the audit log and a ledger check. JSON in and out, one error shape, the
//! OpenAPI document at `/api/v1/openapi.json`.
//!
//! ID numbers are masked in every response; an operator with the `privileged` role sees one
//! whole only by asking (`?reveal=true&reason=…`), and that read is written to the audit log,
//! as is every read of a person's records by someone other than the person.

mod caller;
pub(crate) mod cards;
mod clearing;
mod contributions;
mod error;
mod evoucher;
mod flows;
pub mod openapi;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use error::{Path, Query};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use yibao_domain::{IdNumber, Money, PersonNo, SetlId};
use yibao_engine::commands::{
    ChangeSecret, ConsumeCredential, CreateEmployer, CreateInstitution, CreatePerson, CreateRegion, DRAWN_MIN,
    PERSON_NUMBER_MAX, PersonNumber, PutCatalogueEntry, PutCredential, RecordAudit,
};
use yibao_engine::records::{ACTIVATION_CODE_SECONDS, Credential, CredentialKind, Person};
use yibao_store::SettlementFilter;

pub use caller::{Caller, PRIVILEGED};
pub use error::ApiError;
pub use evoucher::check_face;

use crate::AppState;
use crate::guard::{self, ClientAddr, Holder, Sources, Verdict};
use crate::sessions::{SESSION_SECONDS, Session, Subject};

/// The largest REST request body.
pub const BODY_MAX_BYTES: usize = 256 * 1024;
/// The largest page of a list.
pub const PAGE_SIZE_MAX: u64 = 500;

pub fn router() -> Router<Arc<AppState>> {
    let router = contributions::routes(clearing::routes(evoucher::routes(cards::routes(Router::new()))));
    router
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/password", post(change_password))
        .route("/api/v1/operators", post(create_operator))
        .route("/api/v1/regions", get(regions).post(create_region))
        .route("/api/v1/institutions", get(institutions).post(create_institution))
        .route("/api/v1/employers", get(employers).post(create_employer))
        .route("/api/v1/persons", get(persons).post(create_person))
        .route("/api/v1/persons/{psn_no}", get(person))
        .route("/api/v1/persons/{psn_no}/activation-code", post(issue_activation_code))
        .route("/api/v1/persons/{psn_no}/account", get(account))
        .route("/api/v1/persons/{psn_no}/accumulators", get(accumulators))
        .route("/api/v1/persons/{psn_no}/settlements", get(person_settlements))
        .route("/api/v1/settlements/{setl_id}", get(settlement))
        .route("/api/v1/visits", post(flows::open_visit))
        .route("/api/v1/visits/{mdtrt_id}/lines", post(flows::add_lines))
        .route("/api/v1/visits/{mdtrt_id}/discharge", post(flows::discharge))
        .route("/api/v1/visits/{mdtrt_id}/cancel", post(flows::cancel_visit))
        .route("/api/v1/visits/{mdtrt_id}/settlement", post(flows::settle))
        .route("/api/v1/settlements/{setl_id}/cancel", post(flows::cancel))
        .route("/api/v1/purchases", post(flows::purchase))
        .route("/api/v1/catalogue", get(catalogue).post(create_catalogue_entry))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/ledger/verify", get(verify_ledger))
        .route("/api/v1/allocations", post(allocate))
        .route("/api/v1/year-ends", post(close_year))
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
}

/// Ten random digits for a new person number, from [`DRAWN_MIN`] to [`PERSON_NUMBER_MAX`].
fn draw_person_number() -> u64 {
    let span = PERSON_NUMBER_MAX - DRAWN_MIN + 1;
    DRAWN_MIN + crate::secret::random_below(span)
}

/// Reads a JSON body into a wire type; every problem is a 400 naming it.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::invalid(format!("invalid JSON body: {error}"), format!("请求体不是合法的JSON：{error}"))
    })
}

fn parse<T: std::str::FromStr<Err = yibao_domain::ParseError>>(field: &str, text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|error: yibao_domain::ParseError| {
        ApiError::invalid(format!("{field}: {error}"), format!("{field}格式错误：{}", error.problem_zh()))
    })
}

fn created(value: Value) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

fn ok(value: Value) -> Response {
    axum::Json(value).into_response()
}

fn unexpected() -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "unexpected outcome", "系统内部错误")
}

/// An Argon2id hash of a password or PIN, on a blocking thread.
async fn hash_secret(state: &AppState, secret: String) -> Result<String, ApiError> {
    let secrets = state.secrets.clone();
    tokio::task::spawn_blocking(move || secrets.hash(&secret))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "hashing failed", "系统内部错误"))
}

async fn audit_read(
    state: &AppState,
    caller: &Caller,
    action: &str,
    subject: &str,
    reason: &str,
) -> Result<(), ApiError> {
    state
        .store
        .execute(RecordAudit {
            actor: caller.actor(),
            action: action.into(),
            subject: subject.into(),
            reason: reason.into(),
        })
        .await?;
    Ok(())
}

/// The same refusal for an unknown name and a wrong password.
fn bad_credentials() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", "unknown user or wrong password", "用户名或密码错误")
}

/// A successful login: its session token and who it is.
pub(crate) struct Login {
    pub subject: String,
    pub token: String,
    pub must_change: bool,
    pub roles: Vec<String>,
}

/// Checks a login (an operator by username, a person by ID number) and starts a session. The
/// attempt is counted before the password is checked, per account and per source address, and
/// an unknown name is treated exactly like a known one (see [`crate::guard`]). The REST API,
/// the portal and the agency pages share it.
pub(crate) async fn authenticate(
    state: &AppState,
    client: ClientAddr,
    role: &str,
    who: Option<String>,
    password: String,
) -> Result<Login, ApiError> {
    let holder = match role {
        "operator" => {
            let name = who.ok_or_else(|| ApiError::invalid("username is required", "用户名不能为空"))?;
            if name.is_empty() || name.chars().count() > 64 {
                return Err(bad_credentials());
            }
            Holder::Stored { subject: name, kind: CredentialKind::Operator }
        }
        "person" => {
            let id_text = who.ok_or_else(|| ApiError::invalid("id_number is required", "身份证号不能为空"))?;
            let id: IdNumber = parse("id_number", &id_text)?;
            let lookup = id.clone();
            match state.store.read(move |r| r.person_by_id_number(lookup.expose())).await? {
                Some(person) => Holder::Stored { subject: person.psn_no.to_string(), kind: CredentialKind::Portal },
                None => Holder::Unknown { kind: CredentialKind::Portal, name: id.expose().to_string() },
            }
        }
        other => {
            return Err(ApiError::invalid(format!("role {other:?} is not \"operator\" or \"person\""), "登录角色错误"));
        }
    };
    let credential = match guard::try_secret(state, client, holder, password, Sources::Limited).await? {
        Verdict::Right(credential) => credential,
        Verdict::Wrong => return Err(bad_credentials()),
        other => return Err(guard::refusal(&other).unwrap_or_else(bad_credentials)),
    };
    let subject = credential.subject.clone();
    let session_subject = match credential.kind {
        CredentialKind::Operator => Subject::Operator { username: subject.clone(), roles: credential.roles.clone() },
        _ => Subject::Person { psn_no: subject.clone() },
    };
    let session = Session {
        subject: session_subject,
        change_password_only: credential.must_change,
        expires: crate::unix_now() + SESSION_SECONDS,
    };
    let token = state.sessions.start(session, crate::unix_now());
    Ok(Login { subject, token, must_change: credential.must_change, roles: credential.roles.clone() })
}

async fn login(State(state): State<Arc<AppState>>, client: ClientAddr, bytes: Bytes) -> Result<Response, ApiError> {
    let request: wire::Login = body(&bytes)?;
    let who = match request.role.as_str() {
        "person" => request.id_number.clone(),
        _ => request.username.clone(),
    };
    let login = authenticate(&state, client, &request.role, who, request.password.clone()).await?;
    Ok(ok(json!({
        "token": login.token,
        "role": request.role,
        "subject": login.subject,
        "roles": login.roles,
        "expires_in": SESSION_SECONDS,
        "must_change_password": login.must_change,
    })))
}

async fn logout(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
    match &caller {
        Caller::Operator { token, .. } | Caller::Person { token, .. } => state.sessions.end(token),
        _ => return Err(ApiError::unauthenticated("no session to end")),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn me(caller: Caller) -> Result<Response, ApiError> {
    Ok(ok(match caller {
        Caller::Anonymous => return Err(ApiError::unauthenticated("log in first")),
        Caller::Operator { username, roles, .. } => json!({"role": "operator", "subject": username, "roles": roles}),
        Caller::Person { psn_no, change_password_only, .. } => {
            json!({"role": "person", "subject": psn_no, "must_change_password": change_password_only})
        }
        Caller::Institution(institution) => json!({"role": "institution", "subject": institution.code.as_str()}),
    }))
}

/// A new password: at least 8 characters with letters and digits, not the ID-derived one.
fn check_new_password(password: &str, person: Option<&Person>) -> Result<(), ApiError> {
    let long = password.chars().count() >= 8 && password.chars().count() <= 128;
    let letters = password.chars().any(|c| c.is_alphabetic());
    let digits = password.chars().any(|c| c.is_ascii_digit());
    if !(long && letters && digits) {
        return Err(ApiError::invalid(
            "a new password needs 8 to 128 characters with letters and digits",
            "新密码须为8至128位，且同时包含字母和数字",
        ));
    }
    if person.is_some_and(|person| password.contains(person.id_number.initial_password())) {
        return Err(ApiError::invalid(
            "a new password must not contain the initial password",
            "新密码不能包含初始密码",
        ));
    }
    Ok(())
}

async fn change_password(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: wire::PasswordChange = body(&bytes)?;
    let proof = match (&request.card_no, &request.pin, &request.activation_code) {
        (Some(card_no), Some(pin), None) => Some(Proof::Card { card_no: card_no.clone(), pin: pin.clone() }),
        (None, None, Some(code)) => Some(Proof::Code(code.clone())),
        (None, None, None) => None,
        _ => {
            return Err(ApiError::invalid(
                "prove possession with card_no and pin, or with activation_code",
                "请提供社保卡号和密码，或激活码（二选一）",
            ));
        }
    };
    let change =
        PasswordUpdate { current: request.password.clone(), proof, new_password: request.new_password.clone() };
    let kind = set_password(&state, client, &caller, change).await?;
    Ok(ok(json!({"changed": true, "login_again": kind == CredentialKind::Portal})))
}

/// What proves that the person using the initial password (which anyone who knows the ID
/// number can work out) is the person: their card and its PIN, or a one-time code from the
/// agency.
#[derive(Debug, Clone)]
pub(crate) enum Proof {
    Card { card_no: String, pin: String },
    Code(String),
}

/// A password change as asked for.
#[derive(Debug, Clone)]
pub(crate) struct PasswordUpdate {
    /// The current password (not asked right after logging in with the initial one).
    pub current: Option<String>,
    /// Needed with the initial password.
    pub proof: Option<Proof>,
    pub new_password: String,
}

fn proof_required() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "proof_required",
        "the initial password can be worked out from the ID number: prove it is you with your card number and PIN, or with an activation code from the agency",
        "初始密码可由身份证号推得：请输入社保卡号和密码，或经办机构提供的激活码，证明是本人",
    )
}

fn proof_failed() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "proof_failed",
        "the card number and PIN, or the activation code, are not right",
        "社保卡号与密码不符，或激活码错误、已失效",
    )
}

/// Checks the proof of possession a person gives with the initial password. Guesses are
/// counted per person and per source, apart from the card's own PIN count: whoever knows an ID
/// number (and so the initial password) and a card number must not be able to lock the card.
/// An activation code is used up in the same step that checks it is still the one checked, so
/// it opens one account once, however many requests carry it at once.
async fn check_proof(state: &AppState, client: ClientAddr, psn_no: &str, proof: Option<Proof>) -> Result<(), ApiError> {
    let verdict = match proof.ok_or_else(proof_required)? {
        Proof::Card { card_no, pin } => {
            let own = match card_no.trim().parse::<yibao_domain::CardNo>() {
                Ok(number) => state
                    .store
                    .read(move |r| r.card(&number))
                    .await?
                    .filter(|card| card.psn_no.as_str() == psn_no && card.status.is_in_hand()),
                Err(_) => None,
            };
            // Someone else's card (or none) is checked like a wrong PIN: counted, same answer.
            let hash = match own {
                Some(card) => {
                    let number = card.card_no.to_string();
                    state.store.read(move |r| r.credential(&number, CredentialKind::CardPin)).await?.map(|c| c.hash)
                }
                None => None,
            };
            let holder = Holder::Apart { name: format!("proof/{psn_no}"), hash };
            guard::try_secret(state, client, holder, pin, Sources::Limited).await?
        }
        Proof::Code(code) => {
            let holder = Holder::Stored { subject: psn_no.to_string(), kind: CredentialKind::ActivationCode };
            let verdict = guard::try_secret(state, client, holder, code.trim().to_string(), Sources::Limited).await?;
            match verdict {
                Verdict::Right(credential) => {
                    let valid_until = credential.updated_at.plus_seconds(ACTIVATION_CODE_SECONDS);
                    if valid_until <= state.store.now() {
                        return Err(proof_failed());
                    }
                    let replacement_hash = hash_secret(state, crate::secret::token()).await?;
                    let consume = ConsumeCredential {
                        subject: psn_no.to_string(),
                        kind: CredentialKind::ActivationCode,
                        expected_hash: credential.hash.clone(),
                        replacement_hash,
                        actor: format!("person:{psn_no}"),
                    };
                    return match state.store.execute(consume).await {
                        Ok(_) => Ok(()),
                        Err(error) if error.kind == yibao_engine::ErrorKind::Conflict => Err(proof_failed()),
                        Err(error) => Err(error.into()),
                    };
                }
                other => other,
            }
        }
    };
    match verdict {
        Verdict::Right(_) => Ok(()),
        Verdict::Wrong => Err(proof_failed()),
        other => Err(guard::refusal(&other).unwrap_or_else(proof_failed)),
    }
}

/// Changes the caller's own password. The current one is needed, except right after logging
/// in with the initial password, which instead needs proof of possession (card and PIN, or
/// an activation code). A person's sessions all end. The REST API and the portal share it.
pub(crate) async fn set_password(
    state: &AppState,
    client: ClientAddr,
    caller: &Caller,
    change: PasswordUpdate,
) -> Result<CredentialKind, ApiError> {
    let (subject, kind, change_only) = match caller {
        Caller::Person { psn_no, change_password_only, .. } => {
            (psn_no.clone(), CredentialKind::Portal, *change_password_only)
        }
        Caller::Operator { username, .. } => (username.clone(), CredentialKind::Operator, false),
        _ => return Err(ApiError::unauthenticated("log in to change your password")),
    };
    let lookup = subject.clone();
    let person = match kind {
        CredentialKind::Portal => {
            state
                .store
                .read(move |r| {
                    r.person(&lookup.parse().map_err(|_| yibao_engine::StoreFailure("bad person number".into()))?)
                })
                .await?
        }
        _ => None,
    };
    check_new_password(&change.new_password, person.as_ref())?;
    match change_only {
        true => check_proof(state, client, &subject, change.proof).await?,
        false => {
            let old = change
                .current
                .ok_or_else(|| ApiError::invalid("password (the current one) is required", "请提供原密码"))?;
            let holder = Holder::Stored { subject: subject.clone(), kind };
            match guard::try_secret(state, client, holder, old, Sources::Limited).await? {
                Verdict::Right(_) => {}
                Verdict::Wrong => return Err(bad_credentials()),
                other => return Err(guard::refusal(&other).unwrap_or_else(bad_credentials)),
            }
        }
    }
    let hash = hash_secret(state, change.new_password).await?;
    state.store.execute(ChangeSecret { subject: subject.clone(), kind, hash, actor: caller.actor() }).await?;
    if kind == CredentialKind::Portal {
        state.sessions.end_person(&subject);
    }
    Ok(kind)
}

async fn create_operator(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let (_, roles) = caller.operator()?;
    if !roles.iter().any(|role| role == PRIVILEGED) {
        return Err(ApiError::forbidden("only a privileged operator may create operators"));
    }
    let request: wire::NewOperator = body(&bytes)?;
    let username = wire::code("username", &request.username)?;
    for role in &request.roles {
        if role != "operator" && role != PRIVILEGED {
            return Err(ApiError::invalid(
                format!("unknown role {role:?}; roles are \"operator\" and \"{PRIVILEGED}\""),
                "角色不存在",
            ));
        }
    }
    check_new_password(&request.password, None)?;
    let lookup = username.clone();
    if state.store.read(move |r| r.credential(&lookup, CredentialKind::Operator)).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("operator {username} already exists"),
            "经办人已存在",
        ));
    }
    let hash = hash_secret(&state, request.password.clone()).await?;
    let mut roles = request.roles.clone();
    if !roles.iter().any(|role| role == "operator") {
        roles.insert(0, "operator".into());
    }
    let credential = Credential {
        subject: username.clone(),
        kind: CredentialKind::Operator,
        hash,
        must_change: false,
        failures: 0,
        locked_until: None,
        roles: roles.clone(),
        updated_at: state.store.now(),
    };
    state.store.execute(PutCredential { credential, actor: caller.actor() }).await?;
    Ok(created(json!({"username": username, "roles": roles})))
}

async fn regions(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let regions = state.store.read(|r| r.regions()).await?;
    Ok(ok(json!({"regions": regions.iter().map(wire::region).collect::<Vec<_>>()})))
}

async fn create_region(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: wire::NewRegion = body(&bytes)?;
    let region =
        yibao_engine::records::Region { admdvs: parse("admdvs", &request.admdvs)?, name: wire::name(&request.name)? };
    state.store.execute(CreateRegion { region: region.clone(), actor: caller.actor() }).await?;
    Ok(created(wire::region(&region)))
}

async fn institutions(
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

async fn create_institution(
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

async fn employers(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
    caller.operator()?;
    let employers = state.store.read(|r| r.employers()).await?;
    Ok(ok(json!({"employers": employers.iter().map(wire::employer).collect::<Vec<_>>()})))
}

async fn create_employer(
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

async fn persons(
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
    let found = state.store.read(move |r| r.persons(admdvs.as_deref(), (number - 1) * size, size)).await?;
    audit_read(&state, &caller, "list-persons", page.admdvs.as_deref().unwrap_or("*"), "").await?;
    Ok(ok(json!({
        "total": found.total,
        "page": number,
        "page_size": size,
        "persons": found.rows.iter().map(|p| wire::person(p, false)).collect::<Vec<_>>(),
    })))
}

async fn create_person(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: wire::NewPerson = body(&bytes)?;
    let id: IdNumber = parse("id_number", &request.id_number)?;
    let today = state.store.now().date();
    let command = CreatePerson {
        id_number: id.clone(),
        name: wire::name(&request.name)?,
        admdvs: parse("admdvs", &request.admdvs)?,
        insurance: parse("insutype", &request.insutype)?,
        person_type: parse("psn_type", &request.psn_type)?,
        employer: request.employer.clone(),
        insured_since: match &request.insured_since {
            Some(text) => parse("insured_since", text)?,
            None => today,
        },
        ethnicity: request.naty.clone().unwrap_or_else(|| "01".into()),
        custody_bank: parse("custody_bank", request.custody_bank.as_deref().unwrap_or("BOC"))?,
        contribution_base: match &request.contribution_base {
            Some(text) => Some(parse::<Money>("contribution_base", text)?),
            None => None,
        },
        number: PersonNumber::Next,
        actor: caller.actor(),
    };
    // A person number says nothing about another: drawn at random (again, should one be taken).
    let mut attempt = 0;
    let person = loop {
        attempt += 1;
        let command = CreatePerson { number: PersonNumber::Drawn(draw_person_number()), ..command.clone() };
        match state.store.execute(command).await {
            Ok(yibao_engine::Outcome::Person(person)) => break person,
            Ok(_) => return Err(unexpected()),
            Err(error)
                if error.kind == yibao_engine::ErrorKind::Conflict
                    && attempt < 5
                    && error.en.ends_with("draw another") => {}
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
    state.store.execute(PutCredential { credential, actor: caller.actor() }).await?;
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
        let now = crate::unix_now();
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

async fn load_person(state: &AppState, psn_no: &str) -> Result<Person, ApiError> {
    let number: PersonNo = parse("psn_no", psn_no)?;
    state
        .store
        .read(move |r| r.person(&number))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no person {psn_no}")))
}

async fn person(
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
async fn issue_activation_code(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
) -> Result<Response, ApiError> {
    caller.operator()?;
    let person = load_person(&state, &psn_no).await?;
    let digits = crate::secret::random_below(100_000_000);
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
    state.store.execute(PutCredential { credential, actor: caller.actor() }).await?;
    Ok(created(json!({
        "psn_no": person.psn_no.as_str(),
        "code": code,
        "expires_at": now.plus_seconds(ACTIVATION_CODE_SECONDS).to_string(),
    })))
}

async fn account(
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

async fn accumulators(
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

async fn person_settlements(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(psn_no): Path<String>,
    Query(page): Query<wire::PersonPage>,
) -> Result<Response, ApiError> {
    admit_person_read(&state, &caller, &psn_no, "read-settlements", "").await?;
    let number: PersonNo = parse("psn_no", &psn_no)?;
    let size = page.page_size.unwrap_or(50).clamp(1, PAGE_SIZE_MAX);
    let offset = (page.page.unwrap_or(1).max(1) - 1) * size;
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

async fn settlement(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(setl_id): Path<String>,
) -> Result<Response, ApiError> {
    // Who asks comes first: before logging in, an existing, a missing and a malformed id all
    // get the same 401; afterwards, someone else's settlement is "not found" like a missing one.
    match &caller {
        Caller::Anonymous => return Err(ApiError::unauthenticated("log in to read settlements")),
        Caller::Person { change_password_only: true, .. } => {
            return Err(caller::initial_password_only());
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

async fn catalogue(
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

async fn create_catalogue_entry(
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

async fn audit(
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

async fn verify_ledger(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
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

/// Credits every eligible personal account for a month (operator); running it again credits
/// nobody twice.
async fn allocate(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
    caller.operator()?;
    let request: AllocationRequest = body(&bytes)?;
    let month: yibao_domain::Month = parse("month", &request.month)?;
    let summary = crate::allocation::allocate(&state.store, month, &caller.actor(), |_, _| {}).await?;
    Ok(ok(json!({
        "month": month.to_string(),
        "credited": summary.credited,
        "already_credited": summary.already,
        "not_eligible": summary.not_eligible,
        "amount": wire::yuan(summary.amount),
    })))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct YearEndRequest {
    year: u16,
}

/// Rolls every current-year account of a past year into the prior-years account (operator);
/// running it again moves nothing twice.
async fn close_year(State(state): State<Arc<AppState>>, caller: Caller, bytes: Bytes) -> Result<Response, ApiError> {
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

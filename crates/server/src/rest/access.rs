//! Logins, sessions, passwords and the proofs that let a person set one (PIN, activation
//! code), and operators' accounts.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use yibao_domain::IdNumber;
use yibao_engine::commands::ConsumeCredential;
use yibao_engine::records::{ACTIVATION_CODE_SECONDS, Credential, CredentialKind, Person};

use super::caller::Caller;
use super::caller::{PRIVILEGED, REVIEWER};
use super::common::{body, created, hash_secret, ok, parse};
use super::error::ApiError;
use super::wire;
use crate::guard::{self, ClientAddr, Holder, Sources, Verdict};
use crate::kit::sessions::{SESSION_SECONDS, Session, Subject};
use crate::state::AppState;

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
        expires: crate::kit::clock::unix_now() + SESSION_SECONDS,
    };
    let token = state.sessions.start(session, crate::kit::clock::unix_now());
    Ok(Login { subject, token, must_change: credential.must_change, roles: credential.roles.clone() })
}

pub(super) async fn login(
    State(state): State<Arc<AppState>>,
    client: ClientAddr,
    bytes: Bytes,
) -> Result<Response, ApiError> {
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

pub(super) async fn logout(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
    match &caller {
        Caller::Operator { token, .. } | Caller::Person { token, .. } => state.sessions.end(token),
        _ => return Err(ApiError::unauthenticated("no session to end")),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn me(caller: Caller) -> Result<Response, ApiError> {
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

pub(super) async fn change_password(
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
                    let replacement_hash = hash_secret(state, crate::kit::secret::token()).await?;
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
    state.store.execute(yibao_app::access::change_secret(subject.clone(), kind, hash, caller.actor())).await?;
    if kind == CredentialKind::Portal {
        state.sessions.end_person(&subject);
    }
    Ok(kind)
}

pub(super) async fn create_operator(
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
        if role != "operator" && role != PRIVILEGED && role != REVIEWER {
            return Err(ApiError::invalid(
                format!("unknown role {role:?}; roles are \"operator\", \"{PRIVILEGED}\" and \"{REVIEWER}\""),
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
    state.store.execute(yibao_app::access::put_credential(credential, caller.actor())).await?;
    Ok(created(json!({"username": username, "roles": roles})))
}

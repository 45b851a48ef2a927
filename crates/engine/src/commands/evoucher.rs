//! The electronic medical insurance voucher (R5, seed 002): activation through a channel app,
//! dynamic QR codes (single use, short-lived, no personal data), the institution's online
//! decoding into an `ecToken` for the visit, and face authorisation at pharmacies. Only the
//! SHA-256 of every code, token and authorisation number is stored.

use sha2::{Digest, Sha256};
use yibao_domain::{DateTime, InstitutionCode, PersonNo};

use super::lookup::insured_person;
use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{AuditEntry, Credential, CredentialKind, EVoucher, Grant, GrantKind, Person, PersonStatus};
use crate::working_set::{Keys, WorkingSet};

/// The stored form of a code, token or authorisation number.
pub fn grant_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A QR code's default life (seconds).
pub const QR_SECONDS: i64 = 60;
/// An `ecToken`'s life: the visit's day.
pub const EC_TOKEN_SECONDS: i64 = 24 * 3600;
/// A face authorisation's life.
pub const FACE_AUTH_SECONDS: i64 = 300;

/// The channels an e-voucher can be activated through.
pub const CHANNELS: [&str; 3] = ["wechat", "alipay", "agency-app"];

/// Activates (or re-activates) a person's e-voucher. The server checked the face first.
#[derive(Debug, Clone)]
pub struct ActivateEVoucher {
    pub psn_no: PersonNo,
    pub channel: String,
    pub password_hash: String,
}

impl Command for ActivateEVoucher {
    fn name(&self) -> &'static str {
        "activate-evoucher"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let person = insured_person(ws, &self.psn_no)?;
        if !CHANNELS.contains(&self.channel.as_str()) {
            return Err(EngineError::invalid(
                format!("激活渠道{}不存在，应为wechat、alipay或agency-app", self.channel),
                format!("channel {:?} is not wechat, alipay or agency-app", self.channel),
            ));
        }
        // Activating again (a new phone, or after a suspension) kills every code made before:
        // up to the next second, since times are whole seconds (codes made from now on are
        // dated no earlier, see `issued_at`).
        // Two activations within one second: the later one still kills what came between.
        let revoked_before = ws.evoucher(&person.psn_no)?.map(|old| match old.revoked_before {
            Some(before) if !old.is_suspended() && before >= ctx.now.plus_seconds(1) => before.plus_seconds(1),
            _ => ctx.now.plus_seconds(1),
        });
        let voucher = EVoucher {
            psn_no: person.psn_no.clone(),
            channel: self.channel.clone(),
            activated_at: ctx.now,
            revoked_before,
        };
        ws.put_evoucher(voucher.clone());
        ws.put_credential(Credential {
            subject: person.psn_no.to_string(),
            kind: CredentialKind::EVoucherPassword,
            hash: self.password_hash.clone(),
            must_change: false,
            failures: 0,
            locked_until: None,
            roles: Vec::new(),
            updated_at: ctx.now,
        });
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: format!("person:{}", person.psn_no),
            action: "evoucher-activate".into(),
            subject: person.psn_no.to_string(),
            reason: self.channel.clone(),
        });
        Ok(Outcome::EVoucher(Box::new(voucher)))
    }
}

/// When a code made now is dated: now, or the voucher's revocation instant when that is still
/// ahead (a re-activation within this second), so that a code made after the revocation is
/// never taken for one made before it.
fn issued_at(voucher: &EVoucher, now: DateTime) -> DateTime {
    match voucher.revoked_before {
        Some(before) if !voucher.is_suspended() && before > now => before,
        _ => now,
    }
}

fn active_voucher(ws: &mut WorkingSet<'_>, psn_no: &PersonNo) -> Result<EVoucher, EngineError> {
    let voucher = ws.evoucher(psn_no)?.ok_or_else(|| {
        EngineError::refused(
            "医保电子凭证未激活，请先在渠道应用中激活",
            format!("person {psn_no} has not activated the e-voucher"),
        )
    })?;
    if voucher.is_suspended() {
        return Err(EngineError::conflict(
            "医保电子凭证已暂停使用，请在渠道应用中重新激活（人脸核验）",
            format!("person {psn_no}'s e-voucher is suspended; activate it again (face check)"),
        ));
    }
    Ok(voucher)
}

/// Suspends a person's e-voucher (a lost phone): every outstanding QR code and token dies at
/// once and no new code is issued until the holder activates it again with a face check. The
/// card is not touched: it is a credential of its own.
#[derive(Debug, Clone)]
pub struct SuspendEVoucher {
    pub psn_no: PersonNo,
    pub actor: String,
    pub reason: String,
}

impl Command for SuspendEVoucher {
    fn name(&self) -> &'static str {
        "suspend-evoucher"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut voucher = active_voucher(ws, &self.psn_no)?;
        voucher.revoked_before = Some(EVoucher::suspended_marker());
        ws.put_evoucher(voucher.clone());
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: "evoucher-suspend".into(),
            subject: self.psn_no.to_string(),
            reason: self.reason.clone(),
        });
        Ok(Outcome::EVoucher(Box::new(voucher)))
    }
}

/// Issues a dynamic QR code (the server made the random token and gives its hash).
#[derive(Debug, Clone)]
pub struct IssueQrCode {
    pub psn_no: PersonNo,
    pub hash: String,
    pub seconds: i64,
}

impl Command for IssueQrCode {
    fn name(&self) -> &'static str {
        "issue-qr-code"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        insured_person(ws, &self.psn_no)?;
        let voucher = active_voucher(ws, &self.psn_no)?;
        let grant = Grant {
            hash: self.hash.clone(),
            kind: GrantKind::QrCode,
            psn_no: self.psn_no.clone(),
            institution: None,
            issued_at: issued_at(&voucher, ctx.now),
            expires_at: ctx.now.plus_seconds(self.seconds.clamp(10, 600)),
            used_at: None,
            used_by: None,
            used_ref: None,
        };
        ws.put_grant(grant.clone());
        Ok(Outcome::Grant(Box::new(grant)))
    }
}

/// Uses a QR code or a face authorisation once and gives the institution an `ecToken` for the
/// visit. A used, expired, revoked or unknown code gets one and the same refusal.
#[derive(Debug, Clone)]
pub struct RedeemGrant {
    pub hash: String,
    pub kind: GrantKind,
    pub institution: InstitutionCode,
    /// The token the institution gets (derived from the code, so a retry gets the same one).
    pub token_hash: String,
    /// The institution's business number (`outBizNo`): the same code redeemed again with the
    /// same number by the same institution is a retry and answered again.
    pub reference: Option<String>,
}

impl Command for RedeemGrant {
    fn name(&self) -> &'static str {
        "redeem-grant"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.institutions.insert(self.institution.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let invalid = || match self.kind {
            GrantKind::FaceAuth => EngineError::refused(
                "刷脸授权无效或已过期，请重新刷脸",
                "the face authorisation is unknown, used or expired",
            ),
            _ => EngineError::refused(
                "请使用有效的医保电子凭证二维码（二维码无效、已使用或已过期）",
                "the QR code is unknown, used, expired or revoked",
            ),
        };
        let mut grant = ws.grant(&self.hash)?.filter(|grant| grant.kind == self.kind).ok_or_else(invalid)?;
        let retry = grant.used_at.is_some()
            && self.reference.is_some()
            && grant.used_ref == self.reference
            && grant.used_by.as_ref() == Some(&self.institution);
        if retry {
            let token = ws.grant(&self.token_hash)?.ok_or_else(invalid)?;
            if token.expires_at <= ctx.now {
                return Err(invalid());
            }
            return Ok(Outcome::Person(Box::new(insured_person(ws, &grant.psn_no)?)));
        }
        if grant.used_at.is_some() || grant.expires_at <= ctx.now {
            return Err(invalid());
        }
        if let Some(bound) = &grant.institution
            && bound != &self.institution
        {
            return Err(invalid());
        }
        // A suspended voucher revokes every code: the same refusal as any dead code.
        let voucher = ws.evoucher(&grant.psn_no)?.ok_or_else(invalid)?;
        if voucher.revoked_before.is_some_and(|before| grant.issued_at < before) {
            return Err(invalid());
        }
        let person = insured_person(ws, &grant.psn_no)?;
        grant.used_at = Some(ctx.now);
        grant.used_by = Some(self.institution.clone());
        grant.used_ref.clone_from(&self.reference);
        ws.put_grant(grant);
        ws.put_grant(Grant {
            hash: self.token_hash.clone(),
            kind: GrantKind::EcToken,
            psn_no: person.psn_no.clone(),
            institution: Some(self.institution.clone()),
            issued_at: issued_at(&voucher, ctx.now),
            expires_at: ctx.now.plus_seconds(EC_TOKEN_SECONDS),
            used_at: None,
            used_by: None,
            used_ref: None,
        });
        Ok(Outcome::Person(Box::new(person)))
    }
}

/// A face device verified the person (the server's face verifier said yes): an authorisation
/// number for this institution, redeemed for an `ecToken` by `cn.nhsa.auth.check`.
#[derive(Debug, Clone)]
pub struct AuthorizeFace {
    pub psn_no: PersonNo,
    pub institution: InstitutionCode,
    pub hash: String,
}

impl Command for AuthorizeFace {
    fn name(&self) -> &'static str {
        "authorize-face"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        insured_person(ws, &self.psn_no)?;
        let voucher = active_voucher(ws, &self.psn_no)?;
        let grant = Grant {
            hash: self.hash.clone(),
            kind: GrantKind::FaceAuth,
            psn_no: self.psn_no.clone(),
            institution: Some(self.institution.clone()),
            issued_at: issued_at(&voucher, ctx.now),
            expires_at: ctx.now.plus_seconds(FACE_AUTH_SECONDS),
            used_at: None,
            used_by: None,
            used_ref: None,
        };
        ws.put_grant(grant.clone());
        Ok(Outcome::Grant(Box::new(grant)))
    }
}

/// The person an `ecToken` presented by `institution` names, when it is valid now.
///
/// # Errors
/// One refusal for an unknown, expired, foreign or revoked token; a store failure.
pub fn token_holder(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    token: &str,
    institution: &InstitutionCode,
) -> Result<Person, EngineError> {
    let invalid = || {
        EngineError::refused(
            "医保电子凭证令牌无效或已过期，请重新扫码",
            "the ecToken is unknown, expired, revoked or another institution's",
        )
    };
    let grant = ws.grant(&grant_hash(token))?.filter(|g| g.kind == GrantKind::EcToken).ok_or_else(invalid)?;
    if grant.expires_at <= ctx.now || grant.institution.as_ref() != Some(institution) {
        return Err(invalid());
    }
    let voucher = ws.evoucher(&grant.psn_no)?.ok_or_else(invalid)?;
    if voucher.revoked_before.is_some_and(|before| grant.issued_at < before) {
        return Err(invalid());
    }
    let person = ws.person(&grant.psn_no)?.ok_or_else(invalid)?;
    if person.status != PersonStatus::Active {
        return Err(invalid());
    }
    Ok(person)
}

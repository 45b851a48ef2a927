//! The medical insurance card (R4, seeds 000–003): applications with their fees and deadlines,
//! the card's states, loss and replacement (at the same bank, or at another with a clearing
//! notice before the money moves), and the printed transaction record.
//!
//! States: applied → produced → issued → active → lost | blocked → replaced | cancelled;
//! blocked → active (unblocked). Every transition is audited with its actor and reason.

use yibao_domain::{BankCode, CardNo, Date, Money, PersonNo};
use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode, TransferId};

use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{
    AuditEntry, Card, CardApplication, CardStatus, CardTransaction, ClearingNotice, Credential, CredentialKind,
    LossChannel, LossReport, Notification, NotificationKind, ProofLetter, ReplacementPath,
};
use crate::working_set::{Keys, WorkingSet};

fn audit(ws: &mut WorkingSet<'_>, ctx: &Context<'_>, actor: &str, action: &str, subject: &str, reason: &str) {
    ws.audit(AuditEntry {
        at: ctx.now,
        actor: actor.to_string(),
        action: action.to_string(),
        subject: subject.to_string(),
        reason: reason.to_string(),
    });
}

fn load_card(ws: &mut WorkingSet<'_>, card_no: &CardNo) -> Result<Card, EngineError> {
    ws.card(card_no)?
        .ok_or_else(|| EngineError::not_found(format!("卡号{card_no}不存在"), format!("no card {card_no}")))
}

fn load_application(ws: &mut WorkingSet<'_>, id: &str) -> Result<CardApplication, EngineError> {
    ws.card_application(&id.to_string())?
        .ok_or_else(|| EngineError::not_found(format!("申领记录{id}不存在"), format!("no card application {id}")))
}

fn status_zh(status: CardStatus) -> &'static str {
    match status {
        CardStatus::Applied => "已申领",
        CardStatus::Produced => "已制卡",
        CardStatus::Issued => "已发放",
        CardStatus::Active => "已启用",
        CardStatus::Lost => "已挂失",
        CardStatus::Blocked => "已冻结",
        CardStatus::Replaced => "已补换",
        CardStatus::Cancelled => "已注销",
    }
}

/// Whether a card may go from one state to another.
pub fn transition_allowed(from: CardStatus, to: CardStatus) -> bool {
    use CardStatus::{Active, Applied, Blocked, Cancelled, Issued, Lost, Produced, Replaced};
    matches!(
        (from, to),
        (Applied, Produced)
            | (Produced, Issued)
            | (Issued, Active)
            | (Active, Lost | Blocked | Cancelled)
            | (Blocked, Active | Lost | Cancelled)
            | (Lost, Replaced | Cancelled)
            | (Applied | Produced | Issued, Cancelled)
    )
}

fn transition(card: &mut Card, to: CardStatus) -> Result<(), EngineError> {
    if !transition_allowed(card.status, to) {
        return Err(EngineError::conflict(
            format!("卡{}当前状态为{}，不能变更为{}", card.card_no, status_zh(card.status), status_zh(to)),
            format!("card {} is {}; it cannot become {}", card.card_no, card.status.as_str(), to.as_str()),
        ));
    }
    card.status = to;
    Ok(())
}

/// The application that replaces a card: one per card, so a retried replacement is refused.
fn replacement_id(old: &CardNo) -> String {
    format!("RP{old}")
}

/// Applies for a card: a new card number in state `applied`, with its application.
#[derive(Debug, Clone)]
pub struct ApplyForCard {
    pub psn_no: PersonNo,
    pub employer: Option<String>,
    pub registered_on: Date,
    pub bank: BankCode,
    /// A replacement for this lost (or blocked) card.
    pub replaces: Option<CardNo>,
    pub actor: String,
    pub reason: String,
}

impl Command for ApplyForCard {
    fn name(&self) -> &'static str {
        "apply-for-card"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        apply(ws, ctx, self).map(|(application, _)| Outcome::CardApplication(Box::new(application)))
    }
}

fn apply(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    request: &ApplyForCard,
) -> Result<(CardApplication, Card), EngineError> {
    let person = ws.person(&request.psn_no)?.ok_or_else(|| {
        EngineError::not_found(format!("人员编号{}不存在", request.psn_no), format!("no person {}", request.psn_no))
    })?;
    if let Some(employer) = &request.employer
        && ws.employer(employer)?.is_none()
    {
        return Err(EngineError::not_found(format!("参保单位{employer}不存在"), format!("no employer {employer}")));
    }
    // One live card per person (seed 001: a card is replaced, never doubled): a new one only
    // as the replacement of a lost or blocked one.
    for card in ws.person_cards(&person.psn_no)? {
        let replaced = request.replaces.as_ref() == Some(&card.card_no);
        if card.status.is_live() && !replaced {
            return Err(EngineError::conflict(
                format!(
                    "参保人已有社保卡{}（{}），不能重复申领；卡遗失或损坏请挂失后办理补换",
                    card.card_no,
                    status_zh(card.status)
                ),
                format!(
                    "the person already has card {} ({}); a lost or damaged card is reported and replaced",
                    card.card_no,
                    card.status.as_str()
                ),
            ));
        }
    }
    if let Some(old) = &request.replaces {
        let old_card = load_card(ws, old)?;
        if old_card.psn_no != person.psn_no {
            return Err(EngineError::invalid(
                format!("卡{old}不属于该参保人"),
                format!("card {old} belongs to someone else"),
            ));
        }
        if let Some(existing) = ws.card_application(&replacement_id(old))? {
            return Err(EngineError::conflict(
                format!("卡{old}已办理补换（申领记录{}，新卡{}），不能重复办理", existing.id, existing.card_no),
                format!(
                    "card {old} is already being replaced (application {}, card {})",
                    existing.id, existing.card_no
                ),
            ));
        }
        if !matches!(old_card.status, CardStatus::Lost | CardStatus::Blocked) {
            return Err(EngineError::conflict(
                format!("卡{old}状态为{}，挂失后才能补换", status_zh(old_card.status)),
                format!("card {old} is {}; report it lost first", old_card.status.as_str()),
            ));
        }
    }
    let sequence = ws.next_sequence("card_no")?;
    let card_no: CardNo = format!("A{:08}", 20_000_000 + sequence).parse().expect("letters and digits");
    let card = Card {
        card_sn: format!("CSN{}", &card_no.as_str()[1..]).parse().expect("letters and digits"),
        card_no: card_no.clone(),
        psn_no: person.psn_no.clone(),
        status: CardStatus::Applied,
        bank: request.bank.clone(),
        issued_on: None,
        unprinted: 0,
        replaces: request.replaces.clone(),
    };
    let id = match &request.replaces {
        Some(old) => replacement_id(old),
        None => format!("CA{:010}", ws.next_sequence("card_application")?),
    };
    let application = CardApplication {
        id,
        psn_no: person.psn_no.clone(),
        employer: request.employer.clone().or(person.employer.clone()),
        registered_on: request.registered_on,
        bank: request.bank.clone(),
        card_no,
        photo_paid_on: None,
        forms_paid_on: None,
        submitted_on: None,
        produced_on: None,
        received_on: None,
        issued_on: None,
        replaces: request.replaces.clone(),
        created_at: ctx.now,
    };
    ws.put_card(card.clone());
    ws.put_card_application(application.clone());
    audit(ws, ctx, &request.actor, "card-apply", card.card_no.as_str(), &request.reason);
    Ok((application, card))
}

/// A step of the application (seed 002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationStep {
    /// The photo receipt (4 yuan) is handed in.
    Photo,
    /// The forms and the card fee (20 yuan) are collected.
    Forms,
    /// The employer hands forms and fees to the agency.
    Submit,
    /// The employer receives the produced card from the bank.
    Receive,
    /// The employer issues the card to the person.
    Issue,
}

impl ApplicationStep {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStep::Photo => "photo",
            ApplicationStep::Forms => "forms",
            ApplicationStep::Submit => "submit",
            ApplicationStep::Receive => "receive",
            ApplicationStep::Issue => "issue",
        }
    }

    pub fn parse(text: &str) -> Option<ApplicationStep> {
        [
            ApplicationStep::Photo,
            ApplicationStep::Forms,
            ApplicationStep::Submit,
            ApplicationStep::Receive,
            ApplicationStep::Issue,
        ]
        .into_iter()
        .find(|step| step.as_str() == text)
    }
}

/// Records a step of an application on a day.
#[derive(Debug, Clone)]
pub struct RecordApplicationStep {
    pub id: String,
    pub step: ApplicationStep,
    pub on: Date,
    pub actor: String,
}

impl Command for RecordApplicationStep {
    fn name(&self) -> &'static str {
        "record-application-step"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut application = load_application(ws, &self.id)?;
        let done = |day: Option<Date>, zh: &str, en: &str| match day {
            Some(day) => {
                Err(EngineError::conflict(format!("{zh}已于{day}登记"), format!("{en} was recorded on {day}")))
            }
            None => Ok(()),
        };
        let missing = |zh: &str, en: &str| EngineError::refused(format!("尚未{zh}"), format!("{en} first"));
        match self.step {
            ApplicationStep::Photo => {
                done(application.photo_paid_on, "照片回执", "the photo receipt")?;
                application.photo_paid_on = Some(self.on);
            }
            ApplicationStep::Forms => {
                done(application.forms_paid_on, "申领表和工本费", "the forms and fee")?;
                if application.photo_paid_on.is_none() {
                    return Err(EngineError::conflict(
                        "尚未交照片回执：申领表须贴照片回执后收取",
                        "the photo receipt comes first: it is pasted on the form",
                    ));
                }
                application.forms_paid_on = Some(self.on);
            }
            ApplicationStep::Submit => {
                done(application.submitted_on, "交表", "the submission")?;
                if application.photo_paid_on.is_none() || application.forms_paid_on.is_none() {
                    return Err(missing(
                        "收齐照片回执、申领表和工本费",
                        "collect the photo receipt, the forms and the fee",
                    ));
                }
                application.submitted_on = Some(self.on);
            }
            ApplicationStep::Receive => {
                done(application.received_on, "领卡", "the receipt of the card")?;
                if application.produced_on.is_none() {
                    return Err(missing("制卡", "the bank must produce the card"));
                }
                application.received_on = Some(self.on);
                ws.notify(Notification::new(
                    format!("card-ready/{}", application.card_no),
                    application.psn_no.clone(),
                    NotificationKind::CardReady,
                    ctx.now,
                    format!("您的社保卡{}已制成，单位已从银行领回，请到单位领取。", application.card_no),
                    format!("Your card {} is made and your employer has it: collect it there.", application.card_no),
                ));
            }
            ApplicationStep::Issue => {
                done(application.issued_on, "发卡", "the issue of the card")?;
                if application.received_on.is_none() {
                    return Err(missing("从银行领回卡", "receive the card from the bank"));
                }
                let mut card = load_card(ws, &application.card_no)?;
                transition(&mut card, CardStatus::Issued)?;
                card.issued_on = Some(self.on);
                ws.put_card(card);
                application.issued_on = Some(self.on);
            }
        }
        ws.put_card_application(application.clone());
        audit(ws, ctx, &self.actor, &format!("card-application-{}", self.step.as_str()), &application.id, "");
        Ok(Outcome::CardApplication(Box::new(application)))
    }
}

/// The bank produces a submitted application's card, with its initial PIN.
#[derive(Debug, Clone)]
pub struct ProduceCard {
    pub id: String,
    pub on: Date,
    pub pin_hash: String,
    pub actor: String,
}

impl Command for ProduceCard {
    fn name(&self) -> &'static str {
        "produce-card"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut application = load_application(ws, &self.id)?;
        if application.submitted_on.is_none() {
            return Err(EngineError::refused(
                "申领材料尚未交至经办机构",
                "the application was not submitted to the agency",
            ));
        }
        let mut card = load_card(ws, &application.card_no)?;
        transition(&mut card, CardStatus::Produced)?;
        ws.put_card(card.clone());
        ws.put_credential(Credential {
            subject: card.card_no.to_string(),
            kind: CredentialKind::CardPin,
            hash: self.pin_hash.clone(),
            must_change: false,
            failures: 0,
            locked_until: None,
            roles: Vec::new(),
            updated_at: ctx.now,
        });
        application.produced_on = Some(self.on);
        ws.put_card_application(application.clone());
        audit(ws, ctx, &self.actor, "card-produce", card.card_no.as_str(), "");
        Ok(Outcome::CardApplication(Box::new(application)))
    }
}

/// Changes a card's state: activation (medical insurance information written), loss report,
/// block and unblock, cancellation. The e-voucher is a credential of its own: a lost card does
/// not stop it (suspending it is [`crate::commands::SuspendEVoucher`]).
/// Activating a replacement at the same bank marks the lost card replaced.
#[derive(Debug, Clone)]
pub struct ChangeCardStatus {
    pub card_no: CardNo,
    pub to: CardStatus,
    /// Where a loss was reported; `None`: the holder in the portal for a `person:` actor, the
    /// agency otherwise.
    pub channel: Option<LossChannel>,
    pub actor: String,
    pub reason: String,
}

impl Command for ChangeCardStatus {
    fn name(&self) -> &'static str {
        "change-card-status"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        if matches!(self.to, CardStatus::Produced | CardStatus::Issued | CardStatus::Replaced | CardStatus::Applied) {
            return Err(EngineError::invalid(
                format!("卡状态{}由申领流程或补换流程变更", status_zh(self.to)),
                format!("a card becomes {} through its application or replacement", self.to.as_str()),
            ));
        }
        let mut card = load_card(ws, &self.card_no)?;
        // A blocked card that is being (or was) replaced stays blocked: one live card per person.
        if self.to == CardStatus::Active
            && card.status == CardStatus::Blocked
            && let Some(replacement) = ws.card_application(&replacement_id(&card.card_no))?
        {
            return Err(EngineError::conflict(
                format!("卡{}已办理补换（新卡{}），不能解除冻结", card.card_no, replacement.card_no),
                format!("card {} is replaced by {}; it cannot be unblocked", card.card_no, replacement.card_no),
            ));
        }
        if self.to == CardStatus::Active
            && card.status == CardStatus::Issued
            && let Some(old) = card.replaces.clone()
        {
            let mut old_card = load_card(ws, &old)?;
            if old_card.bank == card.bank && old_card.status == CardStatus::Lost {
                transition(&mut old_card, CardStatus::Replaced)?;
                ws.put_card(old_card);
            }
        }
        let was = card.status;
        transition(&mut card, self.to)?;
        ws.put_card(card.clone());
        audit(ws, ctx, &self.actor, &format!("card-{}", self.to.as_str()), card.card_no.as_str(), &self.reason);
        if self.to == CardStatus::Lost && was != CardStatus::Lost {
            let channel = self.channel.unwrap_or(match self.actor.starts_with("person:") {
                true => LossChannel::Portal,
                false => LossChannel::Agency,
            });
            let report = LossReport::new(&card, ctx.now, channel, self.reason.clone());
            ws.put_loss_report(report.clone());
            ws.notify(Notification::new(
                format!("card-lost/{}/{}", card.card_no, ctx.now.compact()),
                card.psn_no.clone(),
                NotificationKind::CardLost,
                ctx.now,
                format!(
                    "您的社保卡{}已于{}在{}挂失（挂失通知书{}），电子凭证二维码已失效；补卡请持挂失通知书和身份证到经办机构办理（45个工作日内发新卡），或由单位出具证明信经医保经办机构盖章确认后办理（受理后7日发新卡）。",
                    card.card_no,
                    ctx.now,
                    channel.name_zh(),
                    report.notice_no
                ),
                format!(
                    "Your card {} was reported lost at {} (loss notice {}); its QR codes no longer work. For a new card take the loss notice and your ID card to the agency (card within 45 working days), or your employer's proof letter with the agency's seal (card 7 days after).",
                    card.card_no, ctx.now, report.notice_no
                ),
            ));
        }
        Ok(Outcome::Card(Box::new(card)))
    }
}

/// Replaces a lost card. At the same bank the replacement takes over once it is activated;
/// at another bank the agency issues a clearing notice and the account is frozen until the
/// original bank confirms the old card's cancellation.
///
/// A lost card's replacement follows one of two paths (seeds 000 and 003), each with its
/// deadline: the bank's loss notice (new card within 45 working days) or the employer's proof
/// letter, its seal confirmed by the agency first (new card 7 days after). A blocked
/// (damaged) card is replaced on the first path.
#[derive(Debug, Clone)]
pub struct ReplaceCard {
    pub old_card: CardNo,
    /// The bank of the new card; `None`: the same bank.
    pub new_bank: Option<BankCode>,
    pub path: ReplacementPath,
    pub actor: String,
    pub reason: String,
}

impl Command for ReplaceCard {
    fn name(&self) -> &'static str {
        "replace-card"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let old = load_card(ws, &self.old_card)?;
        let report = ws.loss_report(&old.card_no)?;
        if self.path == ReplacementPath::ProofLetter && report.as_ref().is_none_or(|r| r.proof.is_none()) {
            return Err(EngineError::refused(
                format!("卡{}尚无经医保经办机构盖章确认的单位证明信，不能按证明信办理补卡", old.card_no),
                format!(
                    "card {} has no employer's proof letter with the agency's seal: record it first, or replace it with the loss notice",
                    old.card_no
                ),
            ));
        }
        let bank = self.new_bank.clone().unwrap_or_else(|| old.bank.clone());
        let (application, _) = apply(
            ws,
            ctx,
            &ApplyForCard {
                psn_no: old.psn_no.clone(),
                employer: None,
                registered_on: ctx.now.date(),
                bank: bank.clone(),
                replaces: Some(old.card_no.clone()),
                actor: self.actor.clone(),
                reason: self.reason.clone(),
            },
        )?;
        if let Some(mut report) = report {
            report.replacement = Some((self.path, ctx.now.date()));
            ws.put_loss_report(report);
        }
        let notice = match bank != old.bank {
            false => None,
            true => {
                let notice = ClearingNotice {
                    id: format!("QH{}", old.card_no),
                    psn_no: old.psn_no.clone(),
                    old_card: old.card_no.clone(),
                    old_bank: old.bank.clone(),
                    new_bank: bank,
                    issued_at: ctx.now,
                    confirmed_at: None,
                    moved: None,
                };
                let mut person =
                    ws.person(&old.psn_no)?.ok_or_else(|| EngineError::internal("card holder vanished"))?;
                person.account_frozen = true;
                ws.put_person(person);
                ws.put_clearing_notice(notice.clone());
                audit(ws, ctx, &self.actor, "clearing-notice", &notice.id, &self.reason);
                Some(notice)
            }
        };
        Ok(Outcome::Replacement { application: Box::new(application), notice: notice.map(Box::new) })
    }
}

/// The agency confirms the seal on the employer's proof letter for a lost card (seed 003), the
/// first step of the proof-letter path. Recording the same letter again changes nothing.
#[derive(Debug, Clone)]
pub struct ConfirmProofLetter {
    pub card_no: CardNo,
    pub employer: String,
    pub letter_no: String,
    pub issued_on: Date,
    pub actor: String,
}

impl Command for ConfirmProofLetter {
    fn name(&self) -> &'static str {
        "confirm-proof-letter"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let card = load_card(ws, &self.card_no)?;
        if card.status != CardStatus::Lost {
            return Err(EngineError::refused(
                format!("卡{}状态为{}：证明信用于挂失待补的卡", card.card_no, status_zh(card.status)),
                format!(
                    "card {} is {}: a proof letter is for a lost card awaiting its replacement",
                    card.card_no,
                    card.status.as_str()
                ),
            ));
        }
        // A card reported lost before loss reports were kept gets its report now.
        let mut report = match ws.loss_report(&card.card_no)? {
            Some(report) => report,
            None => LossReport::new(&card, ctx.now, LossChannel::Agency, "挂失".to_string()),
        };
        let person = ws.person(&card.psn_no)?.ok_or_else(|| EngineError::internal("card holder vanished"))?;
        if ws.employer(&self.employer)?.is_none() {
            return Err(EngineError::not_found(
                format!("参保单位{}不存在", self.employer),
                format!("no employer {}", self.employer),
            ));
        }
        if person.employer.as_deref() != Some(self.employer.as_str()) {
            return Err(EngineError::refused(
                format!("证明信须由持卡人的参保单位出具，{}不是其参保单位", self.employer),
                format!("the proof letter must come from the holder's employer; {} is not", self.employer),
            ));
        }
        let today = ctx.now.date();
        if self.issued_on > today || self.issued_on < report.reported_at.date().plus_days(-30) {
            return Err(EngineError::invalid(
                format!("证明信日期{}须在挂失前30日内至今天之间", self.issued_on),
                format!("the letter's date {} must be between 30 days before the loss and today", self.issued_on),
            ));
        }
        if let Some(proof) = &report.proof {
            return match proof.employer == self.employer && proof.letter_no == self.letter_no {
                true => Ok(Outcome::LossReport(Box::new(report))),
                false => Err(EngineError::conflict(
                    format!("卡{}已有盖章确认的证明信{}", card.card_no, proof.letter_no),
                    format!("card {} already has a sealed proof letter {}", card.card_no, proof.letter_no),
                )),
            };
        }
        report.proof = Some(ProofLetter {
            employer: self.employer.clone(),
            letter_no: self.letter_no.clone(),
            issued_on: self.issued_on,
            sealed_on: today,
            sealed_by: self.actor.clone(),
        });
        ws.put_loss_report(report.clone());
        audit(ws, ctx, &self.actor, "card-proof-letter", card.card_no.as_str(), &self.letter_no);
        Ok(Outcome::LossReport(Box::new(report)))
    }
}

/// The original bank confirms it cancelled the old card: the account's money moves to the new
/// bank's custody and the account is unfrozen. Confirming twice changes nothing.
#[derive(Debug, Clone)]
pub struct ConfirmClearing {
    pub notice_id: String,
    pub actor: String,
}

impl Command for ConfirmClearing {
    fn name(&self) -> &'static str {
        "confirm-clearing"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut notice = ws.clearing_notice(&self.notice_id)?.ok_or_else(|| {
            EngineError::not_found(
                format!("清户通知单{}不存在", self.notice_id),
                format!("no clearing notice {}", self.notice_id),
            )
        })?;
        if notice.confirmed_at.is_some() {
            return Ok(Outcome::ClearingNotice(Box::new(notice)));
        }
        let mut old = load_card(ws, &notice.old_card)?;
        transition(&mut old, CardStatus::Cancelled)?;
        ws.put_card(old);
        let mut person = ws.person(&notice.psn_no)?.ok_or_else(|| EngineError::internal("card holder vanished"))?;
        let current = AccountKey::PersonalCurrent(person.psn_no.clone());
        let prior = AccountKey::PersonalPrior(person.psn_no.clone());
        let balance = ws.account(&current)?.map_or(Money::ZERO, |a| a.balance())
            + ws.account(&prior)?.map_or(Money::ZERO, |a| a.balance());
        if balance.is_positive() {
            let (from, to) =
                (AccountKey::BankCustody(notice.old_bank.clone()), AccountKey::BankCustody(notice.new_bank.clone()));
            ws.open_account(to.clone())?;
            ws.post(Transfer {
                id: TransferId::new(format!("custody-move/{}", notice.id)),
                code: TransferCode::CustodyMove,
                at: ctx.now,
                reference: notice.id.clone(),
                postings: vec![Posting::debit(to, balance), Posting::credit(from, balance)],
            })?;
        }
        person.custody_bank = notice.new_bank.clone();
        person.account_frozen = false;
        ws.put_person(person);
        notice.confirmed_at = Some(ctx.now);
        notice.moved = Some(balance);
        ws.put_clearing_notice(notice.clone());
        audit(ws, ctx, &self.actor, "clearing-confirmed", &notice.id, &format!("{balance}"));
        Ok(Outcome::ClearingNotice(Box::new(notice)))
    }
}

/// Prints a card's transaction record: every unprinted transaction is listed (the server
/// renders the PDF) and the card may pay again.
#[derive(Debug, Clone)]
pub struct PrintStatement {
    pub card_no: CardNo,
    pub actor: String,
}

impl Command for PrintStatement {
    fn name(&self) -> &'static str {
        "print-statement"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut card = load_card(ws, &self.card_no)?;
        let person = ws.person(&card.psn_no)?.ok_or_else(|| EngineError::internal("card holder vanished"))?;
        let mut printed = Vec::new();
        for mut transaction in ws.card_transactions(&card.card_no)? {
            if !transaction.printed {
                transaction.printed = true;
                ws.put_card_transaction(transaction.clone())?;
                printed.push(transaction);
            }
        }
        card.unprinted = 0;
        ws.put_card(card.clone());
        audit(
            ws,
            ctx,
            &self.actor,
            "card-statement",
            card.card_no.as_str(),
            &format!("{} transactions", printed.len()),
        );
        Ok(Outcome::Statement { card: Box::new(card), person: Box::new(person), transactions: printed })
    }
}

/// Records a settlement (or its cancellation) on the card it was paid with.
pub(super) fn record_card_transaction(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    card: &mut Card,
    settlement: &crate::records::Settlement,
) -> Result<(), EngineError> {
    let seq = ws.next_sequence("card_transaction")?;
    ws.put_card_transaction(CardTransaction {
        card_no: card.card_no.clone(),
        seq,
        at: ctx.now,
        setl_id: settlement.setl_id.clone(),
        institution: settlement.institution.clone(),
        medfee: settlement.amounts.medfee,
        account: settlement.amounts.account(),
        cash: settlement.amounts.cash,
        balance_after: settlement.balance_after,
        printed: false,
    })?;
    card.unprinted += 1;
    ws.put_card(card.clone());
    Ok(())
}

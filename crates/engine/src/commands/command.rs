//! What every command shares: the `Command` trait, the `Context` it runs in, its `Outcome`, the
//! `Submission` (a command and its idempotency envelope) and `run`, which applies one.

use std::fmt;

use yibao_domain::{DateTime, InstitutionCode, MsgId};
use yibao_policy::PolicySet;

use super::summary::{AllocationSummary, ClearingSummary, ContributionSummary};
use crate::catalogue::Catalogue;
use crate::error::{EngineError, Refusal};
use crate::records::{DiseaseRegistration, Effect, FeeLine, Message, Person, Settlement, SignIn, Visit};
use crate::working_set::{Keys, WorkingSet};

/// What a command sees besides the working set: the time, the policies, the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Context<'c> {
    pub now: DateTime,
    pub policies: &'c PolicySet,
    pub catalogue: &'c Catalogue,
}

/// A state change. Implementations validate everything they can before changing anything,
/// but need not: a refused command is rolled back to its savepoint.
pub trait Command: Send + fmt::Debug {
    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;
    /// The rows it will need, loaded in bulk for the whole batch.
    fn keys(&self) -> Keys;
    /// # Errors
    /// Why the command is refused; the working set is then rolled back by the caller.
    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError>;
}

/// A command chosen at run time (an outpatient visit or an admission) runs like any other.
impl Command for Box<dyn Command> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn keys(&self) -> Keys {
        (**self).keys()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        (**self).execute(ws, ctx)
    }
}

/// A settlement (or its cancelling mirror) with what a response needs about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementOutcome {
    pub settlement: Settlement,
    /// For a cancellation, the settlement it cancelled.
    pub cancelled: Option<Settlement>,
    pub person: Person,
    pub visit: Visit,
    /// The lines the settlement covers, as they stand after it.
    pub lines: Vec<FeeLine>,
    /// What the institution should know but that did not stop the settlement (`warn_msg`).
    pub warnings: Vec<Warning>,
}

/// A remark on a message that went through: answered as `warn_msg` on the national interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub zh: String,
    pub en: String,
}

impl Warning {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Warning {
        Warning { zh: zh.into(), en: en.into() }
    }
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Visit(Box<Visit>),
    Lines {
        visit: Box<Visit>,
        lines: Vec<FeeLine>,
    },
    Settlement(Box<SettlementOutcome>),
    Allocation(AllocationSummary),
    Clearing(ClearingSummary),
    Contributions(ContributionSummary),
    Reversed {
        omsgid: MsgId,
        effect: Effect,
    },
    Registration(DiseaseRegistration),
    SignIn(SignIn),
    Person(Box<Person>),
    Credential(Box<crate::records::Credential>),
    /// An attempt at a secret, counted: whether it may go on to be checked.
    Attempt {
        credential: Box<crate::records::Credential>,
        allowed: bool,
    },
    File(Box<crate::records::StoredFile>),
    Card(Box<crate::records::Card>),
    CardApplication(Box<crate::records::CardApplication>),
    Replacement {
        application: Box<crate::records::CardApplication>,
        notice: Option<Box<crate::records::ClearingNotice>>,
    },
    ClearingNotice(Box<crate::records::ClearingNotice>),
    /// A card's loss report, with its proof letter once confirmed.
    LossReport(Box<crate::records::LossReport>),
    /// How many reminders a run wrote.
    Reminded(u64),
    /// The lines of a bank's payment file recorded as paid.
    BankPayments(Box<super::summary::BankPaymentSummary>),
    Statement {
        card: Box<crate::records::Card>,
        person: Box<Person>,
        transactions: Vec<crate::records::CardTransaction>,
    },
    EVoucher(Box<crate::records::EVoucher>),
    Grant(Box<crate::records::Grant>),
    LifeEvent(Box<crate::records::LifeEvent>),
    Payout(Box<crate::records::Payout>),
    Reimbursement(Box<crate::records::Reimbursement>),
    Elsewhere(Box<crate::records::ElsewhereRegistration>),
    Dispute(Box<crate::records::Dispute>),
    /// How many notifications were marked read.
    Marked(usize),
    /// A registry change or a recorded read: nothing to report beyond success.
    Done,
}

impl Outcome {
    /// What a message with this outcome did, for a later reversal.
    pub fn effect(&self) -> Effect {
        match self {
            Outcome::Visit(visit) => Effect::OpenedVisit(visit.mdtrt_id.clone()),
            Outcome::Lines { visit, lines } => Effect::AddedLines {
                mdtrt_id: visit.mdtrt_id.clone(),
                serials: lines.iter().map(|line| line.serial.clone()).collect(),
            },
            Outcome::Settlement(outcome) => match &outcome.cancelled {
                Some(cancelled) => Effect::CancelledSettlement(cancelled.setl_id.clone()),
                None => Effect::Settled(outcome.settlement.setl_id.clone()),
            },
            Outcome::Reversed { .. }
            | Outcome::Registration(_)
            | Outcome::SignIn(_)
            | Outcome::Person(_)
            | Outcome::Credential(_)
            | Outcome::Attempt { .. }
            | Outcome::File(_)
            | Outcome::Card(_)
            | Outcome::CardApplication(_)
            | Outcome::Replacement { .. }
            | Outcome::ClearingNotice(_)
            | Outcome::LossReport(_)
            | Outcome::Reminded(_)
            | Outcome::BankPayments(_)
            | Outcome::Statement { .. }
            | Outcome::EVoucher(_)
            | Outcome::Grant(_)
            | Outcome::LifeEvent(_)
            | Outcome::Payout(_)
            | Outcome::Reimbursement(_)
            | Outcome::Elsewhere(_)
            | Outcome::Dispute(_)
            | Outcome::Marked(_)
            | Outcome::Allocation(_)
            | Outcome::Clearing(_)
            | Outcome::Contributions(_)
            | Outcome::Done => Effect::Nothing,
        }
    }
}

/// The longest reason an operator gives for an action.
pub const REASON_MAX_CHARS: usize = 200;

/// A free-text field (a name, a bank, a note) of 1 to `max` characters, without surrounding
/// blanks.
pub(crate) fn text_within(field: &str, value: &str, max: usize) -> Result<(), EngineError> {
    let count = value.chars().count();
    match count >= 1 && count <= max && value.trim() == value {
        true => Ok(()),
        false => Err(EngineError::invalid(
            format!("{field}须为1至{max}个字符，且首尾无空白"),
            format!("{field} must have 1 to {max} characters, without surrounding blanks"),
        )),
    }
}

/// A reason for an action: 1 to [`REASON_MAX_CHARS`] characters once trimmed; the trimmed text.
pub(crate) fn reason(text: &str) -> Result<&str, EngineError> {
    let trimmed = text.trim();
    match (1..=REASON_MAX_CHARS).contains(&trimmed.chars().count()) {
        true => Ok(trimmed),
        false => Err(EngineError::invalid(
            format!("原因须为1至{REASON_MAX_CHARS}个字"),
            format!("give a reason of 1 to {REASON_MAX_CHARS} characters"),
        )),
    }
}

/// Turns an outcome into the response body stored with the msgid (the server's renderer).
pub type Render = Box<dyn Fn(&Outcome) -> Vec<u8> + Send + Sync>;

/// The idempotency envelope of a national-interface message.
pub struct Envelope {
    pub msgid: MsgId,
    pub institution: InstitutionCode,
    pub infno: String,
    /// SHA-256 (hex) of the transaction code and canonical input.
    pub request_hash: String,
    /// Whether the command's outcome may be undone later by 2601 (false for reads).
    pub reversible: bool,
    pub render: Render,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope").field("msgid", &self.msgid).field("infno", &self.infno).finish_non_exhaustive()
    }
}

/// One unit of work for the writer: a command, with its message envelope when it came
/// through the national interface.
#[derive(Debug)]
pub struct Submission {
    pub envelope: Option<Envelope>,
    pub command: Box<dyn Command>,
}

impl Submission {
    pub fn plain(command: impl Command + 'static) -> Submission {
        Submission { envelope: None, command: Box::new(command) }
    }

    pub fn keys(&self) -> Keys {
        let mut keys = self.command.keys();
        if let Some(envelope) = &self.envelope {
            keys.messages.insert(envelope.msgid.clone());
            keys.institutions.insert(envelope.institution.clone());
        }
        keys
    }
}

/// What running a submission produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Executed now; `body` is the rendered response when there was an envelope.
    Done { outcome: Outcome, body: Option<Vec<u8>> },
    /// The msgid was seen before with the same input: its stored response, nothing changed.
    Replayed(Vec<u8>),
}

/// Runs one submission on the working set: a repeat of a stored msgid replays its response,
/// a refused command is rolled back, a successful one stores its msgid with its response.
///
/// # Errors
/// The command's refusal, or a msgid reused for a different input.
pub fn run(ws: &mut WorkingSet<'_>, ctx: &Context<'_>, submission: &Submission) -> Result<Reply, EngineError> {
    let savepoint = ws.savepoint();
    // A command that panics is a bug; it must not take the writer (and every other request)
    // down with it. Its changes are rolled back like any refusal's.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_inner(ws, ctx, submission)))
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(EngineError::internal(format!("command {} panicked: {message}", submission.command.name())))
        });
    if result.is_err() {
        ws.rollback(savepoint);
    }
    result
}

fn run_inner(ws: &mut WorkingSet<'_>, ctx: &Context<'_>, submission: &Submission) -> Result<Reply, EngineError> {
    let Submission { envelope, command } = submission;
    if let Some(envelope) = envelope
        && let Some(stored) = ws.message(&envelope.msgid)?
    {
        if stored.effect == Effect::Tombstone {
            return Err(Refusal::MessageReversed { msgid: envelope.msgid.clone() }.into());
        }
        if stored.institution != envelope.institution {
            return Err(EngineError::conflict(
                format!("报文ID{}已被其他机构使用", envelope.msgid),
                format!("msgid {} was used by another institution", envelope.msgid),
            ));
        }
        if stored.infno == envelope.infno && stored.request_hash == envelope.request_hash {
            return Ok(Reply::Replayed(stored.response));
        }
        return Err(Refusal::MessageReused { msgid: envelope.msgid.clone(), infno: stored.infno }.into());
    }
    let outcome = command.execute(ws, ctx)?;
    let body = envelope.as_ref().map(|envelope| {
        let body = (envelope.render)(&outcome);
        ws.put_message(Message {
            msgid: envelope.msgid.clone(),
            institution: envelope.institution.clone(),
            infno: envelope.infno.clone(),
            request_hash: envelope.request_hash.clone(),
            response: body.clone(),
            at: ctx.now,
            effect: if envelope.reversible { outcome.effect() } else { Effect::Nothing },
            reversed_by: None,
        });
        body
    });
    Ok(Reply::Done { outcome, body })
}

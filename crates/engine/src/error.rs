//! Why a command was refused, in Chinese (for HIS operators) and English (for the REST API).

use std::fmt;

use yibao_domain::{CardNo, CertType, Date, MdtrtId, Money, MsgId, PersonNo, Quantity, SetlId};

use crate::records::{LifeEventKind, PersonStatus};

/// The class of a refusal, which the server maps to HTTP statuses and error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or contradicts itself.
    Invalid,
    /// Something it names does not exist.
    NotFound,
    /// It conflicts with the current state (already settled, msgid reused, …).
    Conflict,
    /// The caller may not do this.
    Forbidden,
    /// A business rule refuses it (not designated, insufficient, not registered, …).
    Refused,
    /// The store failed; nothing was changed. Safe to retry.
    Unavailable,
    /// A bug: an invariant did not hold. Logged in full, reported without detail.
    Internal,
}

/// A refused command. Messages say precisely what is wrong, quoting the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    pub kind: ErrorKind,
    pub zh: String,
    pub en: String,
    /// Which refusal it is, for a refusal a caller acts on or a test names: match on this, never
    /// on the text.
    pub refusal: Option<Box<Refusal>>,
}

/// The refusals that callers act on (a person number to draw again) or that tests name, as
/// kinds; the class and both messages are derived from the kind. A refusal no caller tells apart
/// is made with [`EngineError::refused`] and its kin, and joins this list when one does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The drawn person number is taken: draw another.
    PersonNumberTaken { psn_no: PersonNo },
    /// The message was reversed (2601) before it arrived.
    MessageReversed { msgid: MsgId },
    /// The message id was used before for a different message.
    MessageReused { msgid: MsgId, infno: String },
    /// A settlement of the same visit came later: that one is cancelled first.
    LaterSettlement { mdtrt_id: MdtrtId, later: SetlId },
    /// A mid-stay settlement of a visit that is not a stay.
    MidStayOfNonStay { mdtrt_id: MdtrtId },
    /// A stay settled at discharge before the discharge.
    NotDischarged { mdtrt_id: MdtrtId },
    /// A refund line returns more than is left of the line it refunds.
    RefundExceedsLine { line: usize, refunded: Quantity, original: String, left: Quantity },
    /// A special-disease settlement of a person with no registration for the diagnosis.
    DiseaseNotRegistered { name: String, psn_no: PersonNo, diagnosis: String },
    /// The card holds as many unprinted transactions as it may.
    CardUnprinted { card_no: CardNo, unprinted: u32 },
    /// The message 2601 names was reversed already.
    AlreadyReversed { omsgid: MsgId, by: MsgId },
    /// A year end of a year other than the one just ended.
    NotTheYearJustEnded { year: u16, this_year: u16 },
    /// The certificate presented does not identify the person.
    CertificateNotThePerson { certificate: CertType, psn_no: PersonNo },
    /// A resident whose contribution for the year is not paid is not covered that year.
    ResidentYearUnpaid { name: String, psn_no: PersonNo, year: u16, annual: Money },
    /// The person's insurance is suspended or terminated, by the life event named where one did.
    NotInsured { name: String, psn_no: PersonNo, status: PersonStatus, event: Option<(LifeEventKind, Date)> },
}

impl Refusal {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Refusal::PersonNumberTaken { .. }
            | Refusal::MessageReversed { .. }
            | Refusal::MessageReused { .. }
            | Refusal::LaterSettlement { .. }
            | Refusal::AlreadyReversed { .. } => ErrorKind::Conflict,
            Refusal::MidStayOfNonStay { .. } => ErrorKind::Invalid,
            Refusal::NotDischarged { .. }
            | Refusal::RefundExceedsLine { .. }
            | Refusal::DiseaseNotRegistered { .. }
            | Refusal::CardUnprinted { .. }
            | Refusal::NotTheYearJustEnded { .. }
            | Refusal::CertificateNotThePerson { .. }
            | Refusal::ResidentYearUnpaid { .. }
            | Refusal::NotInsured { .. } => ErrorKind::Refused,
        }
    }

    /// The message for an HIS operator.
    pub fn zh(&self) -> String {
        match self {
            Refusal::PersonNumberTaken { psn_no } => format!("人员编号{psn_no}已被占用，请重试"),
            Refusal::MessageReversed { msgid } => format!("报文{msgid}已被冲正，不能再办理"),
            Refusal::MessageReused { msgid, .. } => format!("报文ID{msgid}重复，且交易内容与原报文不一致"),
            Refusal::LaterSettlement { mdtrt_id, later } => {
                format!("就诊ID{mdtrt_id}存在后续结算{later}，请先撤销后续结算")
            }
            Refusal::MidStayOfNonStay { mdtrt_id } => format!("就诊ID{mdtrt_id}不是住院就诊，不能中途结算"),
            Refusal::NotDischarged { mdtrt_id } => {
                format!("就诊ID{mdtrt_id}未办理出院，不能办理出院结算；中途结算请传mid_setl_flag=1")
            }
            Refusal::RefundExceedsLine { line, refunded, left, .. } => {
                format!("第{line}条明细：退费数量{refunded}超过原明细可退数量{left}")
            }
            Refusal::DiseaseNotRegistered { name, diagnosis, .. } => {
                format!("参保人{name}未备案门诊慢特病{diagnosis}，不能按门诊慢特病结算")
            }
            Refusal::CardUnprinted { card_no, unprinted } => {
                format!("社会保障卡{card_no}已有{unprinted}笔交易未打印，请先打印交易记录后再使用")
            }
            Refusal::AlreadyReversed { omsgid, by } => format!("原报文{omsgid}已被冲正（冲正报文{by}）"),
            Refusal::NotTheYearJustEnded { year, this_year } => {
                format!("只能结转上一年度（{}年），不能结转{year}年", this_year - 1)
            }
            Refusal::CertificateNotThePerson { certificate, psn_no } => {
                format!("就诊凭证{}与人员编号{psn_no}不符", certificate.name_zh())
            }
            Refusal::ResidentYearUnpaid { name, year, annual, .. } => {
                format!("居民{name}未缴纳{year}年度城乡居民医保费（{annual}元），本年度不享受待遇")
            }
            Refusal::NotInsured { name, status, event: Some((kind, day)), .. } => {
                format!("参保人{name}已于{day}{}（参保状态{}），不能享受待遇", kind.name_zh(), status.code())
            }
            Refusal::NotInsured { name, status, event: None, .. } => {
                format!("参保人{name}参保状态异常（{}），不能享受待遇", status.code())
            }
        }
    }

    /// The message for the REST API.
    pub fn en(&self) -> String {
        match self {
            Refusal::PersonNumberTaken { psn_no } => format!("person number {psn_no} is taken; draw another"),
            Refusal::MessageReversed { msgid } => {
                format!("message {msgid} was reversed before it arrived; send the business again with a new msgid")
            }
            Refusal::MessageReused { msgid, infno } => format!(
                "msgid {msgid} was already used for a different {infno} message; a retry must repeat the input exactly"
            ),
            Refusal::LaterSettlement { mdtrt_id, later } => {
                format!("visit {mdtrt_id} has a later settlement {later}; cancel it first")
            }
            Refusal::MidStayOfNonStay { mdtrt_id } => {
                format!("visit {mdtrt_id} is not a stay: only a stay is settled mid-stay")
            }
            Refusal::NotDischarged { mdtrt_id } => format!(
                "visit {mdtrt_id} is not discharged: discharge first (2402), or settle mid-stay with mid_setl_flag=1"
            ),
            Refusal::RefundExceedsLine { line, refunded, original, left } => {
                format!("line {line}: refunds {refunded} of {original}, only {left} left to refund")
            }
            Refusal::DiseaseNotRegistered { psn_no, diagnosis, .. } => {
                format!("person {psn_no} has no special disease registration for diagnosis {diagnosis}")
            }
            Refusal::CardUnprinted { card_no, unprinted } => {
                format!("card {card_no} has {unprinted} unprinted transactions; print its record first")
            }
            Refusal::AlreadyReversed { omsgid, by } => format!("message {omsgid} was already reversed by {by}"),
            Refusal::NotTheYearJustEnded { year, this_year } => {
                format!("only the year just ended ({}) can be closed, not {year}", this_year - 1)
            }
            Refusal::CertificateNotThePerson { certificate, psn_no } => {
                format!("the {} presented does not belong to person {psn_no}", certificate.name_zh())
            }
            Refusal::ResidentYearUnpaid { psn_no, year, annual, .. } => {
                format!("resident {psn_no} has not paid the {year} contribution ({annual} yuan): not covered this year")
            }
            Refusal::NotInsured { psn_no, status, event: Some((kind, day)), .. } => {
                format!("person {psn_no} is not actively insured (status {}): {} on {day}", status.code(), kind.code())
            }
            Refusal::NotInsured { psn_no, status, event: None, .. } => {
                format!("person {psn_no} is not actively insured (status {})", status.code())
            }
        }
    }
}

impl From<Refusal> for EngineError {
    fn from(refusal: Refusal) -> EngineError {
        EngineError { kind: refusal.kind(), zh: refusal.zh(), en: refusal.en(), refusal: Some(Box::new(refusal)) }
    }
}

impl EngineError {
    pub fn new(kind: ErrorKind, zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError { kind, zh: zh.into(), en: en.into(), refusal: None }
    }

    pub fn invalid(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError::new(ErrorKind::Invalid, zh, en)
    }

    pub fn not_found(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError::new(ErrorKind::NotFound, zh, en)
    }

    pub fn conflict(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError::new(ErrorKind::Conflict, zh, en)
    }

    pub fn refused(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError::new(ErrorKind::Refused, zh, en)
    }

    pub fn forbidden(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
        EngineError::new(ErrorKind::Forbidden, zh, en)
    }

    pub fn unavailable(detail: impl fmt::Display) -> EngineError {
        EngineError::new(
            ErrorKind::Unavailable,
            "医保服务暂时不可用，请稍后重试",
            format!("the store is unavailable, nothing was changed; retry later ({detail})"),
        )
    }

    pub fn internal(detail: impl fmt::Display) -> EngineError {
        EngineError::new(ErrorKind::Internal, "医保服务内部错误", format!("internal error: {detail}"))
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

impl std::error::Error for EngineError {}

/// The store could not load or write: the whole batch is abandoned and nothing is changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFailure(pub String);

impl fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreFailure {}

impl From<StoreFailure> for EngineError {
    fn from(failure: StoreFailure) -> EngineError {
        EngineError::unavailable(failure)
    }
}

//! The records yibao keeps: registry entries, visits, bill lines, settlements, messages.
//!
//! Plain data with public fields; the commands keep them consistent and the store persists
//! them. Records are not wire formats: the server has its own types for JSON.

use yibao_domain::{
    Admdvs, BankCode, CardNo, CardSn, CertType, ChargeClass, Date, DateTime, IdNumber, InstitutionCode,
    InstitutionKind, InstitutionLevel, InsuranceType, MdtrtId, MedType, Money, Month, MsgId, PersonNo, PersonType,
    Quantity, Ratio, SetlId, UnitPrice,
};
use yibao_policy::{Accumulators, Step};

/// A pooling region (统筹区).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub admdvs: Admdvs,
    pub name: String,
}

/// A designated hospital or pharmacy (定点医药机构).
#[derive(Clone, PartialEq, Eq)]
pub struct Institution {
    pub code: InstitutionCode,
    pub name: String,
    pub kind: InstitutionKind,
    /// `None` for pharmacies.
    pub level: Option<InstitutionLevel>,
    pub admdvs: Admdvs,
    pub designated_from: Date,
    pub designated_to: Date,
    pub accepts_evoucher: bool,
    /// The shared secret of the `x-tif-*` gateway signature. Never logged.
    pub gateway_secret: String,
}

impl Institution {
    pub fn is_designated_on(&self, day: Date) -> bool {
        self.designated_from <= day && day <= self.designated_to
    }
}

impl std::fmt::Debug for Institution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Institution")
            .field("code", &self.code)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("level", &self.level)
            .field("admdvs", &self.admdvs)
            .field("designated_from", &self.designated_from)
            .field("designated_to", &self.designated_to)
            .field("accepts_evoucher", &self.accepts_evoucher)
            .finish_non_exhaustive()
    }
}

/// An insured unit (参保单位).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employer {
    pub code: String,
    pub name: String,
    pub admdvs: Admdvs,
}

/// Whether a person's insurance is in force (`psn_insu_stas`: 1 normal, 2 suspended, 4 terminated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonStatus {
    Active,
    Suspended,
    Terminated,
    /// Insured in a region another deployment holds (a peer): known here only to be treated
    /// here; the peer prices and pays (异地就医 across deployments).
    Guest,
}

impl PersonStatus {
    pub fn code(self) -> &'static str {
        match self {
            PersonStatus::Active => "1",
            PersonStatus::Suspended => "2",
            PersonStatus::Terminated => "4",
            PersonStatus::Guest => "guest",
        }
    }

    pub fn parse(code: &str) -> Option<PersonStatus> {
        match code {
            "1" => Some(PersonStatus::Active),
            "2" => Some(PersonStatus::Suspended),
            "4" => Some(PersonStatus::Terminated),
            "guest" => Some(PersonStatus::Guest),
            _ => None,
        }
    }
}

/// An insured person (参保人).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub psn_no: PersonNo,
    pub id_number: IdNumber,
    pub name: String,
    pub admdvs: Admdvs,
    pub insurance: InsuranceType,
    pub person_type: PersonType,
    pub employer: Option<String>,
    pub status: PersonStatus,
    pub insured_since: Date,
    /// 民族 code (`naty`), `01` 汉族.
    pub ethnicity: String,
    /// The bank holding the personal account's money.
    pub custody_bank: BankCode,
    /// Monthly contribution base for employees (缴费基数).
    pub contribution_base: Option<Money>,
    /// The personal account is frozen while its money moves to another bank.
    pub account_frozen: bool,
}

impl Person {
    /// Whether the person's scheme has a personal account (employees do, residents do not).
    pub fn has_personal_account(&self) -> bool {
        !self.insurance.is_resident()
    }
}

/// The medical insurance card's states (R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStatus {
    Applied,
    Produced,
    Issued,
    Active,
    Lost,
    Blocked,
    Replaced,
    Cancelled,
}

impl CardStatus {
    pub const ALL: [CardStatus; 8] = [
        CardStatus::Applied,
        CardStatus::Produced,
        CardStatus::Issued,
        CardStatus::Active,
        CardStatus::Lost,
        CardStatus::Blocked,
        CardStatus::Replaced,
        CardStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Applied => "applied",
            CardStatus::Produced => "produced",
            CardStatus::Issued => "issued",
            CardStatus::Active => "active",
            CardStatus::Lost => "lost",
            CardStatus::Blocked => "blocked",
            CardStatus::Replaced => "replaced",
            CardStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<CardStatus> {
        CardStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Whether a card in this state still counts as the person's card (a person holds one live
    /// card at most: a new one only replaces a lost or blocked one).
    pub fn is_live(self) -> bool {
        !matches!(self, CardStatus::Replaced | CardStatus::Cancelled)
    }

    /// Whether the holder still has the card in hand (live and not reported lost): only then
    /// does its PIN stand for them.
    pub fn is_in_hand(self) -> bool {
        self.is_live() && self != CardStatus::Lost
    }
}

/// A medical insurance card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub card_no: CardNo,
    /// The card's identification code (卡识别码), given when the bank produces it.
    pub card_sn: CardSn,
    pub psn_no: PersonNo,
    pub status: CardStatus,
    pub bank: BankCode,
    pub issued_on: Option<Date>,
    /// Transactions not yet printed on a statement (seed 003: at 60 the card stops paying).
    pub unprinted: u32,
    /// The lost card this one replaces.
    pub replaces: Option<CardNo>,
}

/// The most unprinted transactions a card may carry; the next payment is refused (seed 003).
pub const UNPRINTED_MAX: u32 = 60;

/// An application for a card (seed 002): the employer's operator collects the photo receipt
/// (4 yuan) by the 3rd and the forms with the card fee (20 yuan) by the 19th of the month after
/// registration; the bank produces the card; the employer issues it within a week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardApplication {
    pub id: String,
    pub psn_no: PersonNo,
    pub employer: Option<String>,
    /// When the person was registered for insurance: the deadlines count from here.
    pub registered_on: Date,
    pub bank: BankCode,
    pub card_no: CardNo,
    pub photo_paid_on: Option<Date>,
    pub forms_paid_on: Option<Date>,
    pub submitted_on: Option<Date>,
    pub produced_on: Option<Date>,
    /// When the employer received the produced card.
    pub received_on: Option<Date>,
    pub issued_on: Option<Date>,
    /// A replacement for a lost card.
    pub replaces: Option<CardNo>,
    pub created_at: DateTime,
}

/// The photo receipt's fee (seed 002).
pub const PHOTO_FEE: Money = Money::yuan(4);
/// The card's fee (seed 002).
pub const CARD_FEE: Money = Money::yuan(20);

impl CardApplication {
    fn next_month_day(&self, day: u8) -> Date {
        let month = self.registered_on.year_month();
        let (year, month) = if month.month() == 12 { (month.year() + 1, 1) } else { (month.year(), month.month() + 1) };
        Date::new(year, month, day).expect("the 3rd and the 19th exist in every month")
    }

    /// The photo is taken by the 3rd of the month after registration.
    pub fn photo_due(&self) -> Date {
        self.next_month_day(3)
    }

    /// The forms and fees are collected by the 19th of the month after registration.
    pub fn forms_due(&self) -> Date {
        self.next_month_day(19)
    }

    /// The employer hands forms and fees over at the agency after the 19th of the month after
    /// registration, when the bank has notified it (seed 002, step 4).
    pub fn submit_from(&self) -> Date {
        self.next_month_day(19).plus_days(1)
    }

    /// What a clerk should know about the application as it stands: a submission before the
    /// agency takes it.
    pub fn warnings(&self) -> Vec<(String, String)> {
        let mut warnings = Vec::new();
        if let Some(submitted) = self.submitted_on
            && submitted < self.submit_from()
        {
            warnings.push((
                format!("交表日期{submitted}早于规定的{}（次月19日后凭银行通知交表）", self.submit_from()),
                format!(
                    "submitted on {submitted}, before {} (hand over after the 19th of the next month, when the bank notifies)",
                    self.submit_from()
                ),
            ));
        }
        warnings
    }

    /// The employer issues the card within a week of receiving it.
    pub fn issue_due(&self) -> Option<Date> {
        self.received_on.map(|received| received.plus_days(7))
    }

    /// The path of a replacement (`None` for a new employee's application): the one chosen
    /// when the replaced card's loss report recorded it, else the loss notice's.
    pub fn replacement_path(&self, loss: Option<&LossReport>) -> Option<ReplacementPath> {
        self.replaces.as_ref()?;
        Some(loss.and_then(|report| report.replacement).map_or(ReplacementPath::LossNotice, |(path, _)| path))
    }

    /// A replacement's new card is due by its path's deadline, counted from the day the
    /// replacement was applied for (seed 000: 45 working days; seed 003: 7 days).
    pub fn card_due(&self, path: ReplacementPath) -> Option<Date> {
        self.replaces.as_ref().map(|_| path.card_due(self.created_at.date()))
    }

    /// Steps that are late on `today`. A new employee's application has the photo and forms
    /// deadlines (seed 002); a replacement (on `path`) has its new card's.
    pub fn overdue(&self, today: Date, path: Option<ReplacementPath>) -> Vec<&'static str> {
        let mut late = Vec::new();
        if self.replaces.is_some() {
            let due = self.card_due(path.unwrap_or(ReplacementPath::LossNotice));
            if let Some(due) = due
                && self.produced_on.map_or(today > due, |produced| produced > due)
            {
                late.push("card");
            }
        } else {
            if self.photo_paid_on.map_or(today > self.photo_due(), |paid| paid > self.photo_due()) {
                late.push("photo");
            }
            if self.forms_paid_on.map_or(today > self.forms_due(), |paid| paid > self.forms_due()) {
                late.push("forms");
            }
        }
        if let Some(due) = self.issue_due()
            && self.issued_on.map_or(today > due, |issued| issued > due)
        {
            late.push("issue");
        }
        late
    }
}

/// A movement on a card, for its printed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardTransaction {
    pub card_no: CardNo,
    pub seq: i64,
    pub at: DateTime,
    pub setl_id: SetlId,
    pub institution: InstitutionCode,
    pub medfee: Money,
    /// Paid from (negative: returned to) the personal account.
    pub account: Money,
    pub cash: Money,
    pub balance_after: Money,
    pub printed: bool,
}

/// A clearing notice (清户通知单): a replacement at another bank moves the account's money
/// only after the original bank confirms it cancelled the old card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingNotice {
    pub id: String,
    pub psn_no: PersonNo,
    pub old_card: CardNo,
    pub old_bank: BankCode,
    pub new_bank: BankCode,
    pub issued_at: DateTime,
    pub confirmed_at: Option<DateTime>,
    /// What moved to the new bank's custody on confirmation.
    pub moved: Option<Money>,
}

/// Where a card's loss was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossChannel {
    /// At the card's service bank (seed 000), which gives the holder a loss notice (挂失通知书).
    Bank,
    /// At the agency's counter.
    Agency,
    /// By the holder in the portal.
    Portal,
}

impl LossChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            LossChannel::Bank => "bank",
            LossChannel::Agency => "agency",
            LossChannel::Portal => "portal",
        }
    }

    pub fn parse(text: &str) -> Option<LossChannel> {
        [LossChannel::Bank, LossChannel::Agency, LossChannel::Portal].into_iter().find(|c| c.as_str() == text)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            LossChannel::Bank => "服务银行",
            LossChannel::Agency => "经办机构",
            LossChannel::Portal => "网上服务",
        }
    }
}

/// How a lost card is replaced: each path its own steps and deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplacementPath {
    /// Seed 000: the loss is reported at the bank, whose loss notice (挂失通知书) and the ID
    /// card are taken to the service centre; the new card comes within 45 working days.
    LossNotice,
    /// Seed 003: the employer issues a proof letter, the agency confirms its seal, the loss is
    /// registered at the bank and the replacement applied for; the new card comes 7 days after.
    ProofLetter,
}

/// Working days to a replacement card on the loss-notice path (seed 000).
pub const LOSS_NOTICE_WORKING_DAYS: u32 = 45;
/// Days to a replacement card on the proof-letter path (seed 003).
pub const PROOF_LETTER_DAYS: i64 = 7;

impl ReplacementPath {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplacementPath::LossNotice => "loss-notice",
            ReplacementPath::ProofLetter => "proof-letter",
        }
    }

    pub fn parse(text: &str) -> Option<ReplacementPath> {
        [ReplacementPath::LossNotice, ReplacementPath::ProofLetter].into_iter().find(|p| p.as_str() == text)
    }

    /// When the new card is due for a replacement applied for on `applied_on`.
    pub fn card_due(self, applied_on: Date) -> Date {
        match self {
            ReplacementPath::LossNotice => applied_on.plus_working_days(LOSS_NOTICE_WORKING_DAYS),
            ReplacementPath::ProofLetter => applied_on.plus_days(PROOF_LETTER_DAYS),
        }
    }
}

/// The employer's proof letter for a lost card (seed 003), its seal confirmed by the agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofLetter {
    pub employer: String,
    /// The letter's own number, as the employer wrote it.
    pub letter_no: String,
    pub issued_on: Date,
    /// When the agency confirmed the seal, and who.
    pub sealed_on: Date,
    pub sealed_by: String,
}

/// A card's loss report and the loss notice (挂失通知书) it gives the holder; later the
/// employer's proof letter and the replacement's path. One per card: a lost card never
/// comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossReport {
    pub card_no: CardNo,
    pub psn_no: PersonNo,
    /// The loss notice's number: `GS` and the card number.
    pub notice_no: String,
    pub reported_at: DateTime,
    pub channel: LossChannel,
    /// The card's service bank.
    pub bank: BankCode,
    pub reason: String,
    pub proof: Option<ProofLetter>,
    /// The path of the replacement, once applied for, and the day it was.
    pub replacement: Option<(ReplacementPath, Date)>,
}

impl LossReport {
    /// The report of `card` lost at `at`, where and why; its notice is `GS` and the card number.
    pub fn new(card: &Card, at: DateTime, channel: LossChannel, reason: String) -> LossReport {
        LossReport {
            card_no: card.card_no.clone(),
            psn_no: card.psn_no.clone(),
            notice_no: format!("GS{}", card.card_no),
            reported_at: at,
            channel,
            bank: card.bank.clone(),
            reason,
            proof: None,
            replacement: None,
        }
    }

    /// When the replacement card is due, once applied for.
    pub fn card_due(&self) -> Option<Date> {
        self.replacement.map(|(path, applied_on)| path.card_due(applied_on))
    }
}

/// A line of a bank's payment file the bank executed: a payout or a reimbursement paid to its
/// payee, the custody bank's payable emptied by it. One per payout or reimbursement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankPayment {
    /// The payout's (`PO…`) or reimbursement's (`RB…`) id.
    pub id: String,
    pub psn_no: PersonNo,
    pub bank: BankCode,
    pub amount: Money,
    /// The bank's own reference for the payment.
    pub bank_ref: String,
    pub paid_on: Date,
    pub confirmed_by: String,
    pub confirmed_at: DateTime,
}

/// A person's electronic medical insurance voucher (医保电子凭证).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EVoucher {
    pub psn_no: PersonNo,
    /// `wechat`, `alipay` or `agency-app`.
    pub channel: String,
    pub activated_at: DateTime,
    /// Codes and tokens issued before this instant are dead: re-activation sets it to the
    /// moment of activation, a suspension (a lost phone) to the end of time.
    pub revoked_before: Option<DateTime>,
}

impl EVoucher {
    /// The instant a suspension revokes every code before: the end of time.
    pub fn suspended_marker() -> DateTime {
        DateTime::start_of(Date::FOREVER)
    }

    /// Suspended by its holder or the agency (a lost phone): no codes until re-activated.
    pub fn is_suspended(&self) -> bool {
        self.revoked_before == Some(EVoucher::suspended_marker())
    }
}

/// What an e-voucher grant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantKind {
    /// A dynamic QR code shown by the person: single use, short-lived.
    QrCode,
    /// The `ecToken` an institution got by decoding a QR code or a face authorisation.
    EcToken,
    /// A face authorisation number (`authNo`) from a face device.
    FaceAuth,
}

impl GrantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::QrCode => "qr",
            GrantKind::EcToken => "ec-token",
            GrantKind::FaceAuth => "face-auth",
        }
    }

    pub fn parse(text: &str) -> Option<GrantKind> {
        [GrantKind::QrCode, GrantKind::EcToken, GrantKind::FaceAuth].into_iter().find(|k| k.as_str() == text)
    }
}

/// A QR code, an `ecToken` or a face authorisation. Only the SHA-256 of the secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub hash: String,
    pub kind: GrantKind,
    pub psn_no: PersonNo,
    /// The institution a token or face authorisation is for.
    pub institution: Option<InstitutionCode>,
    pub issued_at: DateTime,
    pub expires_at: DateTime,
    pub used_at: Option<DateTime>,
    pub used_by: Option<InstitutionCode>,
    /// The institution's business number for the use (`outBizNo`): a retry with it is answered again.
    pub used_ref: Option<String>,
}

/// A catalogue entry (医保目录) with its validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    pub code: String,
    pub name: String,
    pub class: ChargeClass,
    pub first_selfpay: Ratio,
    pub price_cap: Option<UnitPrice>,
    /// 医疗收费项目类别 `med_chrgitm_type` (e.g. `09` 西药费).
    pub item_type: String,
    /// 目录类别 `list_type`: 101 西药中成药, 201 医疗服务项目, 301 医用耗材.
    pub list_type: String,
    pub begin: Date,
    pub end: Date,
}

impl CatalogueEntry {
    pub fn item(&self) -> yibao_policy::CatalogueItem {
        yibao_policy::CatalogueItem {
            code: self.code.clone(),
            name: self.name.clone(),
            class: self.class,
            first_selfpay: self.first_selfpay,
            price_cap: self.price_cap,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitKind {
    Outpatient,
    Inpatient,
    Pharmacy,
}

impl VisitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitKind::Outpatient => "outpatient",
            VisitKind::Inpatient => "inpatient",
            VisitKind::Pharmacy => "pharmacy",
        }
    }

    pub fn parse(text: &str) -> Option<VisitKind> {
        [VisitKind::Outpatient, VisitKind::Inpatient, VisitKind::Pharmacy].into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitStatus {
    /// Registered or admitted; bills may be added.
    Open,
    /// Discharged (inpatient): no more bills, the final settlement may follow.
    Discharged,
    /// Registration or admission cancelled.
    Cancelled,
}

impl VisitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitStatus::Open => "open",
            VisitStatus::Discharged => "discharged",
            VisitStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<VisitStatus> {
        [VisitStatus::Open, VisitStatus::Discharged, VisitStatus::Cancelled].into_iter().find(|s| s.as_str() == text)
    }
}

/// The person and certificate a visit was opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub kind: CertType,
    /// The ID number, card number or e-voucher token as presented.
    pub number: String,
}

/// A visit (就诊): an outpatient registration, an admission, or a pharmacy purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub mdtrt_id: MdtrtId,
    pub psn_no: PersonNo,
    pub institution: InstitutionCode,
    pub kind: VisitKind,
    pub insurance: InsuranceType,
    pub med_type: Option<MedType>,
    pub begin: DateTime,
    pub end: Option<DateTime>,
    pub status: VisitStatus,
    pub certificate: Certificate,
    /// The institution's own visit number (`ipt_otp_no`, `ipt_no`).
    pub his_no: String,
    pub dept_code: String,
    pub dept_name: String,
    pub doctor_code: String,
    pub doctor_name: String,
    pub diagnosis_code: Option<String>,
    pub diagnosis_name: Option<String>,
    pub insured_admdvs: Admdvs,
    pub treated_admdvs: Admdvs,
    /// Inpatient: an earlier (mid-stay) settlement counted this admission.
    pub admission_counted: bool,
    /// Inpatient: the deductible earlier settlements of this admission paid.
    pub deductible_paid: Money,
    /// Emergency visit whose fees an admission absorbed (seed 004's 7-day rule).
    pub folded_into: Option<MdtrtId>,
    pub created_at: DateTime,
}

impl Visit {
    /// Whether it is an outpatient visit of `person` at `institution` begun on `since` or later
    /// (a candidate for the emergency care an admission absorbs).
    pub fn is_outpatient_since(&self, person: &PersonNo, institution: &InstitutionCode, since: Date) -> bool {
        &self.psn_no == person
            && &self.institution == institution
            && self.kind == VisitKind::Outpatient
            && self.begin.date() >= since
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineState {
    Unsettled,
    Settled(SetlId),
    Revoked,
}

/// One bill line (费用明细) with its split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeLine {
    pub mdtrt_id: MdtrtId,
    /// `feedetl_sn`, unique within the visit.
    pub serial: String,
    pub psn_no: PersonNo,
    /// `chrg_bchno`, the institution's charge batch.
    pub batch: String,
    /// `med_list_codg`, the national catalogue code.
    pub code: String,
    /// `medins_list_codg`, the institution's own code.
    pub his_code: String,
    pub name: String,
    pub price: UnitPrice,
    pub quantity: Quantity,
    pub amount: Money,
    pub occurred_at: DateTime,
    /// For a refund line, the line it refunds (`init_feedetl_sn`).
    pub refund_of: Option<String>,
    pub class: Option<ChargeClass>,
    pub selfpay_ratio: Ratio,
    pub price_cap: Option<UnitPrice>,
    pub fully_selfpaid: Money,
    pub over_limit: Money,
    pub first_selfpay: Money,
    pub in_scope: Money,
    pub state: LineState,
    pub rx_no: String,
    pub dept_code: String,
    pub dept_name: String,
    pub doctor_code: String,
    pub doctor_name: String,
    pub steps: Vec<Step>,
}

impl FeeLine {
    pub fn split(&self) -> yibao_policy::LineSplit {
        yibao_policy::LineSplit {
            serial: self.serial.clone(),
            amount: self.amount,
            class: self.class,
            selfpay_ratio: self.selfpay_ratio,
            price_cap: self.price_cap,
            fully_selfpaid: self.fully_selfpaid,
            over_limit: self.over_limit,
            first_selfpay: self.first_selfpay,
            in_scope: self.in_scope,
            steps: self.steps.clone(),
        }
    }
}

/// The amounts of a settlement, in the national interface's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amounts {
    pub medfee: Money,
    /// The deductible standard that applied (`dedc_std`).
    pub deductible_standard: Money,
    pub fully_selfpaid: Money,
    pub over_limit: Money,
    pub first_selfpay: Money,
    pub in_scope: Money,
    pub deductible: Money,
    /// The pooled fund (`hifp_pay`).
    pub fund: Money,
    /// The civil-servant subsidy (`cvlserv_pay`).
    pub subsidy: Money,
    pub account_current_year: Money,
    pub account_prior_years: Money,
    pub cash: Money,
}

impl Amounts {
    pub fn account(&self) -> Money {
        self.account_current_year + self.account_prior_years
    }

    /// `fund_pay_sumamt`: the pooled fund and the civil-servant subsidy.
    pub fn funds(&self) -> Money {
        self.fund + self.subsidy
    }

    /// What the insurer pays the institution: the funds and the personal account.
    pub fn insurer_part(&self) -> Money {
        self.funds() + self.account()
    }

    /// `psn_part_amt`: what the person bears, from the account or in cash.
    pub fn person_part(&self) -> Money {
        self.medfee - self.funds()
    }

    pub fn negated(&self) -> Amounts {
        Amounts {
            medfee: -self.medfee,
            deductible_standard: self.deductible_standard,
            fully_selfpaid: -self.fully_selfpaid,
            over_limit: -self.over_limit,
            first_selfpay: -self.first_selfpay,
            in_scope: -self.in_scope,
            deductible: -self.deductible,
            fund: -self.fund,
            subsidy: -self.subsidy,
            account_current_year: -self.account_current_year,
            account_prior_years: -self.account_prior_years,
            cash: -self.cash,
        }
    }

    pub fn from_pricing(pricing: &yibao_policy::Pricing) -> Amounts {
        Amounts {
            medfee: pricing.medfee,
            deductible_standard: pricing.deductible_standard,
            fully_selfpaid: pricing.fully_selfpaid,
            over_limit: pricing.over_limit,
            first_selfpay: pricing.first_selfpay,
            in_scope: pricing.in_scope,
            deductible: pricing.deductible,
            fund: pricing.fund,
            subsidy: pricing.subsidy,
            account_current_year: pricing.account_current_year,
            account_prior_years: pricing.account_prior_years,
            cash: pricing.cash,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettlementStatus {
    /// In force.
    Normal,
    /// Cancelled or reversed; `by` is the mirror settlement that undid it.
    Cancelled { by: SetlId },
    /// This record is the negated mirror of `of`.
    Mirror { of: SetlId },
}

/// A settlement (结算) and everything needed to explain, clear and undo it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub setl_id: SetlId,
    pub psn_no: PersonNo,
    pub mdtrt_id: MdtrtId,
    pub institution: InstitutionCode,
    pub insurance: InsuranceType,
    pub person_type: PersonType,
    pub med_type: MedType,
    pub visit_kind: VisitKind,
    /// `clr_type`: 11 outpatient, 21 inpatient, 41 pharmacy.
    pub clearing_type: String,
    pub at: DateTime,
    pub amounts: Amounts,
    pub fund_share: Ratio,
    /// Personal account balance right after this settlement (`balc`).
    pub balance_after: Money,
    /// What the settlement added to the person's accumulators of `year`.
    pub change: Accumulators,
    pub year: u16,
    /// `id@version` of the policy that priced it.
    pub policy: String,
    pub status: SettlementStatus,
    /// The message that made this record (`msgid` of 2207/2304/2102, or of the cancel).
    pub msgid: MsgId,
    pub lines: Vec<(MdtrtId, String)>,
    pub insured_admdvs: Admdvs,
    pub treated_admdvs: Admdvs,
    pub certificate: Certificate,
    pub invoice_no: String,
    pub mid_stay: bool,
    pub account_used: bool,
    /// Emergency settlements this admission's settlement reversed and absorbed.
    pub folded: Vec<SetlId>,
    pub steps: Vec<Step>,
}

impl Settlement {
    pub fn is_in_force(&self) -> bool {
        self.status == SettlementStatus::Normal
    }

    pub fn is_cross_region(&self) -> bool {
        self.insured_admdvs != self.treated_admdvs
    }
}

/// What a stored message did, so that it can be reversed (2601) by its msgid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A read, or a write that cannot be undone by reversal.
    Nothing,
    /// Opened a visit (2201, 2401, pharmacy settlement's visit).
    OpenedVisit(MdtrtId),
    /// Added bill lines (2204, 2301).
    AddedLines { mdtrt_id: MdtrtId, serials: Vec<String> },
    /// Made a settlement (2207, 2304, 2102).
    Settled(SetlId),
    /// Cancelled a settlement (2208, 2305, 2103, 2601).
    CancelledSettlement(SetlId),
    /// This msgid was reversed before it arrived: it must be refused if it ever does.
    Tombstone,
}

/// A message the national interface processed: the idempotency record of its msgid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub msgid: MsgId,
    pub institution: InstitutionCode,
    pub infno: String,
    /// SHA-256 (hex) of the transaction code and the canonical `input`.
    pub request_hash: String,
    /// The exact response body first returned.
    pub response: Vec<u8>,
    pub at: DateTime,
    pub effect: Effect,
    /// Set when a 2601 reversed this message.
    pub reversed_by: Option<MsgId>,
}

/// When in a visit a diagnosis was made (`inout_diag_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagnosisStage {
    /// 1 门诊诊断: an outpatient visit (2203).
    Outpatient,
    /// 2 入院诊断: at admission (2401, 2403).
    Admission,
    /// 3 出院诊断: at discharge (2402).
    Discharge,
}

impl DiagnosisStage {
    pub fn code(self) -> &'static str {
        match self {
            DiagnosisStage::Outpatient => "1",
            DiagnosisStage::Admission => "2",
            DiagnosisStage::Discharge => "3",
        }
    }

    pub fn parse(code: &str) -> Option<DiagnosisStage> {
        [DiagnosisStage::Outpatient, DiagnosisStage::Admission, DiagnosisStage::Discharge]
            .into_iter()
            .find(|stage| stage.code() == code)
    }
}

/// One diagnosis of a visit as the institution uploaded it (a row of `diseinfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub stage: DiagnosisStage,
    /// `diag_type`: 1 西医主要诊断, 2 西医其他诊断, 3 中医主病诊断, 4 中医主证诊断.
    pub diag_type: String,
    /// `maindiag_flag`.
    pub main: bool,
    /// `diag_srt_no`.
    pub order: u32,
    pub code: String,
    pub name: String,
    /// `adm_cond` (入院病情), for admissions.
    pub admission_condition: String,
    pub dept: String,
    pub doctor_code: String,
    pub doctor_name: String,
    pub at: Option<DateTime>,
}

/// Every diagnosis of a visit (5202 answers them); an upload replaces those of its stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitDiagnoses {
    pub mdtrt_id: MdtrtId,
    pub psn_no: PersonNo,
    pub entries: Vec<Diagnosis>,
}

/// A special outpatient disease registration (门诊慢特病备案, 2503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiseaseRegistration {
    /// `trt_dcla_detl_sn`, the registration's id (2503 returns it, 2504 names it).
    pub serial: String,
    pub psn_no: PersonNo,
    pub code: String,
    pub name: String,
    pub begin: Date,
    pub end: Date,
    pub institution: InstitutionCode,
    pub revoked: bool,
    pub msgid: MsgId,
}

/// What changed in a person's insured life (参保人员变更), each dated and recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LifeEventKind {
    /// Another employer (单位变更).
    EmployerChange,
    /// Another monthly contribution base (缴费基数调整).
    BaseChange,
    /// Retirement (在职转退休): priced as a retiree from the effective date; the retiree's
    /// monthly credit from the next month.
    Retirement,
    /// Suspension (暂停参保: unemployment, arrears).
    Suspension,
    /// Resumption after a suspension (恢复参保).
    Resumption,
    /// Death (死亡): insurance terminated; the account goes to the heirs.
    Death,
    /// Emigration (出国定居): insurance terminated; the account is paid out.
    Emigration,
    /// Transfer of the insurance relationship out of the region (关系转出): terminated here;
    /// years of contribution and the account go with the person.
    TransferOut,
    /// Transfer into the region (关系转入): the months paid elsewhere and the account balance
    /// that came with the person, from the other region's certificate.
    TransferIn,
}

impl LifeEventKind {
    pub const ALL: [LifeEventKind; 9] = [
        LifeEventKind::EmployerChange,
        LifeEventKind::BaseChange,
        LifeEventKind::Retirement,
        LifeEventKind::Suspension,
        LifeEventKind::Resumption,
        LifeEventKind::Death,
        LifeEventKind::Emigration,
        LifeEventKind::TransferOut,
        LifeEventKind::TransferIn,
    ];

    /// The name on the wire and in storage.
    pub fn code(self) -> &'static str {
        match self {
            LifeEventKind::EmployerChange => "employer-change",
            LifeEventKind::BaseChange => "base-change",
            LifeEventKind::Retirement => "retirement",
            LifeEventKind::Suspension => "suspension",
            LifeEventKind::Resumption => "resumption",
            LifeEventKind::Death => "death",
            LifeEventKind::Emigration => "emigration",
            LifeEventKind::TransferOut => "transfer-out",
            LifeEventKind::TransferIn => "transfer-in",
        }
    }

    pub fn parse(code: &str) -> Option<LifeEventKind> {
        LifeEventKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            LifeEventKind::EmployerChange => "单位变更",
            LifeEventKind::BaseChange => "缴费基数调整",
            LifeEventKind::Retirement => "退休",
            LifeEventKind::Suspension => "暂停参保",
            LifeEventKind::Resumption => "恢复参保",
            LifeEventKind::Death => "死亡",
            LifeEventKind::Emigration => "出国（境）定居",
            LifeEventKind::TransferOut => "医保关系转出",
            LifeEventKind::TransferIn => "医保关系转入",
        }
    }

    /// Whether the event ends the insurance here for good.
    pub fn terminates(self) -> bool {
        matches!(self, LifeEventKind::Death | LifeEventKind::Emigration | LifeEventKind::TransferOut)
    }
}

/// The parts of a person a life event changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonState {
    pub person_type: PersonType,
    pub employer: Option<String>,
    pub contribution_base: Option<Money>,
    pub status: PersonStatus,
}

impl PersonState {
    pub fn of(person: &Person) -> PersonState {
        PersonState {
            person_type: person.person_type,
            employer: person.employer.clone(),
            contribution_base: person.contribution_base,
            status: person.status,
        }
    }

    /// The person with these parts.
    pub fn applied_to(&self, person: &Person) -> Person {
        Person {
            person_type: self.person_type,
            employer: self.employer.clone(),
            contribution_base: self.contribution_base,
            status: self.status,
            ..person.clone()
        }
    }
}

/// A life event as recorded: what it changed (before and after), from when, by whom and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifeEvent {
    pub psn_no: PersonNo,
    /// 1, 2, … per person, in the order recorded (effective dates never go back).
    pub seq: i64,
    pub kind: LifeEventKind,
    pub effective: Date,
    pub recorded_at: DateTime,
    pub actor: String,
    pub reason: String,
    pub before: PersonState,
    pub after: PersonState,
    /// The region a transfer goes to.
    pub region: Option<Admdvs>,
}

/// A person as they stood at the end of `day`: the stored person with every event effective
/// after that day undone (events are kept in effective-date order).
pub fn person_as_of(person: &Person, events: &[LifeEvent], day: Date) -> Person {
    match events.iter().find(|event| event.effective > day) {
        Some(first_later) => first_later.before.applied_to(person),
        None => person.clone(),
    }
}

/// Why money is paid out of a personal account (the seeds: it "can't be withdrawn casually").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PayoutKind {
    /// To the heirs after a death (继承): the whole balance.
    Inheritance,
    /// To the person on emigration (出国定居): the whole balance.
    Emigration,
    /// To the new region's agency on a transfer out (转移): the whole balance.
    TransferOut,
    /// The person's own commercial or accident insurance premium (seed 004), to the insurer.
    Premium,
}

impl PayoutKind {
    pub const ALL: [PayoutKind; 4] =
        [PayoutKind::Inheritance, PayoutKind::Emigration, PayoutKind::TransferOut, PayoutKind::Premium];

    pub fn code(self) -> &'static str {
        match self {
            PayoutKind::Inheritance => "inheritance",
            PayoutKind::Emigration => "emigration",
            PayoutKind::TransferOut => "transfer-out",
            PayoutKind::Premium => "premium",
        }
    }

    pub fn parse(code: &str) -> Option<PayoutKind> {
        PayoutKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            PayoutKind::Inheritance => "个人账户继承",
            PayoutKind::Emigration => "出国定居一次性支取",
            PayoutKind::TransferOut => "关系转移个人账户转出",
            PayoutKind::Premium => "购买商业健康保险或意外伤害保险",
        }
    }

    /// The life event that must come first, and whether the whole balance goes.
    pub fn requires(self) -> Option<LifeEventKind> {
        match self {
            PayoutKind::Inheritance => Some(LifeEventKind::Death),
            PayoutKind::Emigration => Some(LifeEventKind::Emigration),
            PayoutKind::TransferOut => Some(LifeEventKind::TransferOut),
            PayoutKind::Premium => None,
        }
    }
}

/// Where a payout is going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payee {
    pub name: String,
    /// The receiving bank's name.
    pub bank: String,
    pub account: String,
    /// The insurer's policy number (a premium) or the receiving agency's reference.
    pub reference: Option<String>,
}

/// A payout's state: proposed by one operator, approved or rejected by another (four eyes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayoutState {
    Proposed,
    Approved { by: String, at: DateTime },
    Rejected { by: String, at: DateTime, reason: String },
}

impl PayoutState {
    pub fn code(&self) -> &'static str {
        match self {
            PayoutState::Proposed => "proposed",
            PayoutState::Approved { .. } => "approved",
            PayoutState::Rejected { .. } => "rejected",
        }
    }
}

/// A payout out of a personal account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    /// `PO` + a deployment-wide number.
    pub id: String,
    pub psn_no: PersonNo,
    pub kind: PayoutKind,
    /// What is paid: a premium's amount as proposed; the whole balance's at approval.
    pub amount: Money,
    pub payee: Payee,
    pub reason: String,
    pub proposed_by: String,
    pub proposed_at: DateTime,
    pub state: PayoutState,
}

/// What a notification tells a person about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotificationKind {
    Settlement,
    SettlementCancelled,
    Credit,
    Payout,
    Reimbursement,
    LowBalance,
    CardLost,
    CardReady,
    /// A registration (special disease, treatment elsewhere) ends soon.
    RegistrationExpiring,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 9] = [
        NotificationKind::Settlement,
        NotificationKind::SettlementCancelled,
        NotificationKind::Credit,
        NotificationKind::Payout,
        NotificationKind::Reimbursement,
        NotificationKind::LowBalance,
        NotificationKind::CardLost,
        NotificationKind::CardReady,
        NotificationKind::RegistrationExpiring,
    ];

    pub fn code(self) -> &'static str {
        match self {
            NotificationKind::Settlement => "settlement",
            NotificationKind::SettlementCancelled => "settlement-cancelled",
            NotificationKind::Credit => "credit",
            NotificationKind::Payout => "payout",
            NotificationKind::Reimbursement => "reimbursement",
            NotificationKind::LowBalance => "low-balance",
            NotificationKind::CardLost => "card-lost",
            NotificationKind::CardReady => "card-ready",
            NotificationKind::RegistrationExpiring => "registration-expiring",
        }
    }

    pub fn parse(code: &str) -> Option<NotificationKind> {
        NotificationKind::ALL.into_iter().find(|kind| kind.code() == code)
    }
}

/// A message to a person, written in the same commit as its cause (the outbox): shown in the
/// portal's inbox, and what a delivery channel (webhook, SMS, WeChat) sends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The cause's own key (`settlement/<setl_id>`, `credit/<psn>/<month>`, …): a cause
    /// notifies once.
    pub id: String,
    pub psn_no: PersonNo,
    pub kind: NotificationKind,
    pub at: DateTime,
    pub text_zh: String,
    pub text_en: String,
    pub read_at: Option<DateTime>,
}

impl Notification {
    pub fn new(
        id: String,
        psn_no: PersonNo,
        kind: NotificationKind,
        at: DateTime,
        zh: String,
        en: String,
    ) -> Notification {
        Notification { id, psn_no, kind, at, text_zh: zh, text_en: en, read_at: None }
    }
}

/// A balance below this after a payment is worth a word to the holder.
pub const LOW_BALANCE: Money = Money::yuan(100);

/// How a dispute ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisputeState {
    Open,
    /// Upheld: the entry was reversed through its normal path (a settlement's cancellation,
    /// whose mirror is named).
    Reversed {
        by: String,
        at: DateTime,
        reason: String,
        reversal: String,
    },
    Rejected {
        by: String,
        at: DateTime,
        reason: String,
    },
}

impl DisputeState {
    pub fn code(&self) -> &'static str {
        match self {
            DisputeState::Open => "open",
            DisputeState::Reversed { .. } => "reversed",
            DisputeState::Rejected { .. } => "rejected",
        }
    }
}

/// A person's objection to one entry of their account statement (a transfer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    /// `DS` + a deployment-wide number.
    pub id: String,
    pub psn_no: PersonNo,
    /// The disputed transfer.
    pub transfer: String,
    /// What the entry did to the account (credits positive).
    pub amount: Money,
    pub reason: String,
    pub raised_by: String,
    pub raised_at: DateTime,
    pub state: DisputeState,
}

/// Why a person is registered for treatment in another region (异地就医备案).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElsewhereKind {
    /// Living there for good (异地安置, retirees who moved).
    Resettled,
    /// Living or working there for long (异地长期居住、常驻异地工作).
    LongTermResidence,
    /// Referred there by a hospital here (转诊转院).
    Referral,
}

impl ElsewhereKind {
    pub const ALL: [ElsewhereKind; 3] =
        [ElsewhereKind::Resettled, ElsewhereKind::LongTermResidence, ElsewhereKind::Referral];

    pub fn code(self) -> &'static str {
        match self {
            ElsewhereKind::Resettled => "resettled",
            ElsewhereKind::LongTermResidence => "long-term-residence",
            ElsewhereKind::Referral => "referral",
        }
    }

    pub fn parse(code: &str) -> Option<ElsewhereKind> {
        ElsewhereKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ElsewhereKind::Resettled => "异地安置",
            ElsewhereKind::LongTermResidence => "异地长期居住",
            ElsewhereKind::Referral => "转诊转院",
        }
    }
}

/// A registration for treatment in another region (异地就医备案), made at the agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElsewhereRegistration {
    /// `YD` + a deployment-wide number.
    pub serial: String,
    pub psn_no: PersonNo,
    /// The treating region.
    pub region: Admdvs,
    pub kind: ElsewhereKind,
    pub begin: Date,
    pub end: Date,
    pub registered_by: String,
    pub registered_at: DateTime,
    pub revoked: bool,
}

/// Why a bill could not be settled in real time and comes to the agency (零星报销).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReimbursementCause {
    /// Emergency care at an institution that is not networked or not designated.
    Emergency,
    /// Treated in another region without a registration (异地就医未备案).
    OutOfRegionUnregistered,
    /// The card was not issued yet.
    CardNotIssued,
    /// Real-time settlement failed at the institution (system down).
    SettlementFailed,
}

impl ReimbursementCause {
    pub const ALL: [ReimbursementCause; 4] = [
        ReimbursementCause::Emergency,
        ReimbursementCause::OutOfRegionUnregistered,
        ReimbursementCause::CardNotIssued,
        ReimbursementCause::SettlementFailed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReimbursementCause::Emergency => "emergency",
            ReimbursementCause::OutOfRegionUnregistered => "out-of-region-unregistered",
            ReimbursementCause::CardNotIssued => "card-not-issued",
            ReimbursementCause::SettlementFailed => "settlement-failed",
        }
    }

    pub fn parse(code: &str) -> Option<ReimbursementCause> {
        ReimbursementCause::ALL.into_iter().find(|cause| cause.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ReimbursementCause::Emergency => "急诊抢救（非联网或非定点机构）",
            ReimbursementCause::OutOfRegionUnregistered => "异地就医未备案",
            ReimbursementCause::CardNotIssued => "社会保障卡尚未发放",
            ReimbursementCause::SettlementFailed => "联网结算失败",
        }
    }
}

/// A bill line as the person's receipts show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLine {
    pub code: String,
    pub name: String,
    pub price: UnitPrice,
    pub quantity: Quantity,
    pub amount: Money,
}

/// Where the care was given: a designated institution by code, or another by name and level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareProvider {
    pub code: Option<InstitutionCode>,
    pub name: String,
    /// `None`: a pharmacy.
    pub level: Option<InstitutionLevel>,
    pub admdvs: Admdvs,
}

/// A reimbursement's state: submitted by one operator, reviewed by another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReimbursementState {
    Submitted,
    /// The reviewer asked for documents; the submitter resubmits.
    DocumentsRequested {
        by: String,
        at: DateTime,
        reason: String,
    },
    Rejected {
        by: String,
        at: DateTime,
        reason: String,
    },
    Approved {
        by: String,
        at: DateTime,
    },
}

impl ReimbursementState {
    pub fn code(&self) -> &'static str {
        match self {
            ReimbursementState::Submitted => "submitted",
            ReimbursementState::DocumentsRequested { .. } => "documents-requested",
            ReimbursementState::Rejected { .. } => "rejected",
            ReimbursementState::Approved { .. } => "approved",
        }
    }
}

/// A bill paid in cash, priced by the policy as a real-time settlement would have been, and
/// paid back (the fund's and, when asked, the account's part) to the person's bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reimbursement {
    /// `RB` + a deployment-wide number.
    pub id: String,
    pub psn_no: PersonNo,
    pub provider: CareProvider,
    pub med_type: MedType,
    pub begin: Date,
    pub end: Date,
    pub cause: ReimbursementCause,
    pub lines: Vec<ReceiptLine>,
    pub use_account: bool,
    /// As priced at submission, and again at approval (what was paid).
    pub amounts: Amounts,
    pub steps: Vec<Step>,
    /// What the approval added to the person's accumulators of `year` (zero until approved).
    pub change: Accumulators,
    /// The insurance year the bill counts in (its last day's).
    pub year: u16,
    pub payee: Payee,
    pub note: String,
    pub submitted_by: String,
    pub submitted_at: DateTime,
    pub state: ReimbursementState,
}

/// The life event that put a person who is not insured in their present status (its kind and
/// day), if one did.
pub fn status_event(person: &Person, events: &[LifeEvent]) -> Option<(LifeEventKind, Date)> {
    if person.status == PersonStatus::Active {
        return None;
    }
    events
        .iter()
        .rev()
        .find(|event| event.after.status == person.status && event.before.status != person.status)
        .map(|event| (event.kind, event.effective))
}

/// A month's personal-account credit withheld because the month's contribution was not paid
/// when the allocation ran (欠费暂停划账). Paying the arrears (补缴) credits the month at once
/// and records when; the allocation's transfer id keeps it to once either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithheldCredit {
    pub psn_no: PersonNo,
    pub month: Month,
    /// When an allocation first found the month unpaid.
    pub withheld_at: DateTime,
    /// When the arrears were paid and the month credited.
    pub credited_at: Option<DateTime>,
}

/// An operator's sign-in at an institution (9001).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub sign_no: String,
    pub institution: InstitutionCode,
    pub operator: String,
    pub signed_in_at: DateTime,
    pub signed_out_at: Option<DateTime>,
}

/// An entry of the audit log: who did or read what, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: DateTime,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub reason: String,
}

/// What a credential opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CredentialKind {
    /// An agency operator's password.
    Operator,
    /// An insured person's portal password.
    Portal,
    /// A card's PIN.
    CardPin,
    /// The e-voucher's payment password, set at activation.
    EVoucherPassword,
    /// A one-time code an operator gives a person to open their portal account (proof of
    /// possession with the initial password); valid [`ACTIVATION_CODE_SECONDS`], used once.
    ActivationCode,
}

/// How long a portal activation code is valid.
pub const ACTIVATION_CODE_SECONDS: i64 = 3 * 24 * 3600;

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Operator => "operator",
            CredentialKind::Portal => "portal",
            CredentialKind::CardPin => "card-pin",
            CredentialKind::EVoucherPassword => "evoucher-password",
            CredentialKind::ActivationCode => "activation-code",
        }
    }

    pub fn parse(text: &str) -> Option<CredentialKind> {
        [
            CredentialKind::Operator,
            CredentialKind::Portal,
            CredentialKind::CardPin,
            CredentialKind::EVoucherPassword,
            CredentialKind::ActivationCode,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// A secret's Argon2id hash (PHC string, keyed with the server's secret) and its state.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Operator name, person number or card number.
    pub subject: String,
    pub kind: CredentialKind,
    pub hash: String,
    /// The seeds' initial password: usable once, only to set a new one.
    pub must_change: bool,
    /// Consecutive failed attempts.
    pub failures: u32,
    pub locked_until: Option<DateTime>,
    /// Operator roles (`operator`, `privileged`).
    pub roles: Vec<String>,
    pub updated_at: DateTime,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("subject", &self.subject)
            .field("kind", &self.kind)
            .field("must_change", &self.must_change)
            .field("failures", &self.failures)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// A file exchanged through the national interface (9101 upload, 3202 results, 9102 download).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// `file_qury_no`, the file's id.
    pub file_qury_no: String,
    pub institution: InstitutionCode,
    pub filename: String,
    pub content: Vec<u8>,
    pub at: DateTime,
}

impl std::fmt::Debug for StoredFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredFile")
            .field("file_qury_no", &self.file_qury_no)
            .field("institution", &self.institution)
            .field("filename", &self.filename)
            .field("bytes", &self.content.len())
            .finish()
    }
}

/// Whose settlements a clearing covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearingParty {
    /// Everything a designated institution settled (it is owed the fund's and accounts' parts).
    Institution(InstitutionCode),
    /// What persons insured in `insured` settled at institutions of `treated` (异地就医).
    Regions { insured: Admdvs, treated: Admdvs },
}

/// One day's settlement records of a clearing party, cancellation mirrors included (so the
/// amounts are net, and a closed day's totals never change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayTotals {
    pub day: Date,
    pub count: u64,
    pub medfee: Money,
    pub fund: Money,
    pub account: Money,
    pub cash: Money,
}

impl DayTotals {
    pub fn empty(day: Date) -> DayTotals {
        DayTotals { day, count: 0, medfee: Money::ZERO, fund: Money::ZERO, account: Money::ZERO, cash: Money::ZERO }
    }

    /// What the fund and the personal accounts paid: what clearing moves.
    pub fn owed(&self) -> Money {
        self.fund + self.account
    }
}

#[cfg(test)]
mod tests {
    use super::CredentialKind;

    #[test]
    fn every_credential_kind_reads_back() {
        for kind in [
            CredentialKind::Operator,
            CredentialKind::Portal,
            CredentialKind::CardPin,
            CredentialKind::EVoucherPassword,
        ] {
            assert_eq!(CredentialKind::parse(kind.as_str()), Some(kind));
        }
    }
}

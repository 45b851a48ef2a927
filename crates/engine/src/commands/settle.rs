//! Settlement (2207, 2304, 2102), its cancellation (2208, 2305, 2103), and the pharmacy
//! purchase that opens, bills and settles in one message.
//!
//! A settlement is one atomic change: the settlement record, the accumulators, the ledger
//! transfer (fund and personal account to the institution payable; cash is recorded only) and
//! the lines marked settled. Cancelling writes a negated mirror record and restores every
//! balance and accumulator exactly.

use yibao_domain::{
    Admdvs, DateTime, InstitutionCode, InstitutionKind, InsuranceType, MdtrtId, MedType, Money, MsgId, PersonNo, SetlId,
};
use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode, TransferId};
use yibao_policy::{AccountBalances, Admission, PriceInput, PricingError, Rule, Step, price};

use super::cards::record_card_transaction;
use super::lines::{LineUpload, UploadLines};
use super::lookup::{designated_institution, insured_person};
use super::visits::{check_certificate, check_med_type, no_policy, own_visit, recorded, wrong_kind};
use super::{Command, Context, Outcome, SettlementOutcome, Warning};
use crate::error::{EngineError, Refusal};
use crate::records::{
    Amounts, Certificate, FeeLine, LOW_BALANCE, LineState, Notification, NotificationKind, Person, PersonStatus,
    Settlement, SettlementStatus, Visit, VisitKind, VisitStatus,
};
use crate::working_set::{Keys, WorkingSet};

/// Which deployment treated the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treated {
    /// At an institution of this deployment.
    Here,
    /// At a peer region's institution, whose deployment asked us (the insured region) to price
    /// and pay: we post only our side (fund and account to what we owe that region), and the
    /// settlement id carries our region so it never meets the peer's own ids.
    ByPeer,
}

/// A bill to settle, as every edge states it (2206/2207, 2303/2304, REST, the counter, a
/// peer's request, the pharmacy purchase).
#[derive(Debug, Clone)]
pub struct SettleRequest {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub mdtrt_id: MdtrtId,
    /// The kind the caller's transaction is for (2207: outpatient, 2304: inpatient); `None`:
    /// whatever the visit is.
    pub kind: Option<VisitKind>,
    pub insurance: Option<InsuranceType>,
    pub med_type: Option<MedType>,
    /// `chrg_bchno`: settle only this charge batch (outpatient); `None` or `"0000"`: all.
    pub batch: Option<String>,
    /// `medfee_sumamt` as the institution computed it; must equal the lines' total.
    pub declared_medfee: Option<Money>,
    /// `acct_used_flag = 1`.
    pub use_account: bool,
    /// `mid_setl_flag = 1`: an inpatient settlement before discharge.
    pub mid_stay: bool,
    pub invoice_no: String,
    pub certificate: Option<Certificate>,
}

impl SettleRequest {
    /// A request with only what every edge knows; the rest as the visit has it.
    pub fn new(institution: InstitutionCode, psn_no: PersonNo, mdtrt_id: MdtrtId) -> SettleRequest {
        SettleRequest {
            institution,
            psn_no,
            mdtrt_id,
            kind: None,
            insurance: None,
            med_type: None,
            batch: None,
            declared_medfee: None,
            use_account: false,
            mid_stay: false,
            invoice_no: String::new(),
            certificate: None,
        }
    }
}

/// 2206/2207 门诊预结算/结算, 2303/2304 住院预结算/结算. Run on a throw-away working set it
/// is the pre-settlement: the same code computes both, so they cannot disagree. Emergency care
/// at the same institution shortly before an admission (the policy's own window) is found and
/// folded in by the command itself.
#[derive(Debug, Clone)]
pub struct Settle {
    pub request: SettleRequest,
    /// The message id the settlement (and the cancellation of a folded emergency settlement)
    /// is recorded with.
    pub msgid: MsgId,
    pub treated: Treated,
}

impl Settle {
    pub fn new(request: SettleRequest, msgid: MsgId, treated: Treated) -> Settle {
        Settle { request, msgid, treated }
    }
}

impl Command for Settle {
    fn name(&self) -> &'static str {
        "settle"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        let request = &self.request;
        keys.institutions.insert(request.institution.clone());
        keys.persons.insert(request.psn_no.clone());
        keys.visits.insert(request.mdtrt_id.clone());
        keys.accounts.insert(AccountKey::InstitutionPayable(request.institution.clone()));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        settle(self, ws, ctx).map(|outcome| Outcome::Settlement(Box::new(outcome)))
    }
}

pub(super) fn settle(
    command: &Settle,
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
) -> Result<SettlementOutcome, EngineError> {
    let request = &command.request;
    let by_peer = command.treated == Treated::ByPeer;
    let day = ctx.now.date();
    let institution = designated_institution(ws, &request.institution, day)?;
    let mut visit = own_visit(ws, &request.mdtrt_id, &request.psn_no, &request.institution)?;
    if let Some(kind) = request.kind
        && visit.kind != kind
    {
        return Err(wrong_kind(&visit, kind));
    }
    match (visit.kind, visit.status, request.mid_stay) {
        (_, VisitStatus::Cancelled, _) => return Err(super::visits::cancelled(&visit)),
        (VisitKind::Outpatient | VisitKind::Pharmacy, _, true) => {
            return Err(Refusal::MidStayOfNonStay { mdtrt_id: visit.mdtrt_id.clone() }.into());
        }
        (VisitKind::Inpatient, VisitStatus::Open, false) => {
            return Err(Refusal::NotDischarged { mdtrt_id: visit.mdtrt_id.clone() }.into());
        }
        (VisitKind::Inpatient, VisitStatus::Discharged, true) => {
            return Err(EngineError::refused(
                format!("就诊ID{}已出院，请办理出院结算（mid_setl_flag=0）", visit.mdtrt_id),
                format!("visit {} is discharged: settle it finally (mid_setl_flag=0)", visit.mdtrt_id),
            ));
        }
        _ => {}
    }
    let person = insured_person(ws, &request.psn_no)?;
    if person.status == PersonStatus::Guest {
        return Err(EngineError::refused(
            format!("参保人{}的参保地为{}，须由参保地医保系统结算", person.name, person.admdvs),
            format!("person {} is insured in {}, whose deployment settles for them", person.psn_no, person.admdvs),
        ));
    }
    if let Some(insurance) = request.insurance
        && insurance != visit.insurance
    {
        return Err(EngineError::invalid(
            format!("险种类型{insurance}与就诊登记险种{}不符", visit.insurance),
            format!("insurance type {insurance} does not match the visit's {}", visit.insurance),
        ));
    }
    let mut warnings = Vec::new();
    // The visit (mdtrt_id and psn_no) already says who is paid for. An ID number is no secret:
    // on a visit registered with one, a wrong one is remarked on, not refused (HIS clients copy
    // odd values into it); a QR token or a card is a secret and must hold, and a visit
    // registered with one is not settled on an ID number that does not hold either.
    let registered_by_id = visit.certificate.kind == yibao_domain::CertType::IdNumber;
    let presented = match &request.certificate {
        Some(certificate) if certificate.kind == yibao_domain::CertType::IdNumber => {
            match person.id_number.is_presented_by(&certificate.number) {
                true => recorded(certificate, &person),
                false if !registered_by_id => {
                    check_certificate(ws, ctx, &person, certificate, &institution.code)?;
                    recorded(certificate, &person)
                }
                false => {
                    warnings.push(Warning::new(
                        format!(
                            "就诊凭证编号mdtrt_cert_no与参保人{}的身份证号不符，已按就诊ID{}登记的凭证结算",
                            person.psn_no, visit.mdtrt_id
                        ),
                        format!(
                            "mdtrt_cert_no is not person {}'s ID number; settled with the certificate visit {} was registered with",
                            person.psn_no, visit.mdtrt_id
                        ),
                    ));
                    visit.certificate.clone()
                }
            }
        }
        Some(certificate) => {
            check_certificate(ws, ctx, &person, certificate, &institution.code)?;
            recorded(certificate, &person)
        }
        None => visit.certificate.clone(),
    };
    // The card it is paid with (seed 003): at 60 unprinted transactions it stops paying; a card
    // lost or blocked since the visit was registered with it does not pay at all.
    let mut card = match presented.kind {
        yibao_domain::CertType::Card => {
            presented.number.parse().ok().and_then(|no| ws.card(&no).transpose()).transpose()?
        }
        _ => None,
    };
    if let Some(card) = &card
        && card.status != crate::records::CardStatus::Active
    {
        return Err(EngineError::refused(
            format!("社会保障卡{}状态为{}，不能使用", card.card_no, card.status.as_str()),
            format!("card {} is {}, it cannot be used", card.card_no, card.status.as_str()),
        ));
    }
    // A visit registered with the e-voucher is not settled on it once the e-voucher was
    // suspended or activated again since.
    if presented.kind == yibao_domain::CertType::EVoucherToken
        && request.certificate.is_none()
        && ws
            .evoucher(&person.psn_no)?
            .is_none_or(|voucher| voucher.revoked_before.is_some_and(|before| before > visit.created_at))
    {
        return Err(EngineError::refused(
            "医保电子凭证已暂停或重新激活，请重新扫码",
            "the e-voucher was suspended or activated again since the visit: scan a new code",
        ));
    }
    if let Some(card) = &card
        && card.unprinted >= crate::records::UNPRINTED_MAX
    {
        return Err(Refusal::CardUnprinted { card_no: card.card_no.clone(), unprinted: card.unprinted }.into());
    }
    let med_type = request.med_type.or(visit.med_type).ok_or_else(|| {
        EngineError::invalid(
            format!("就诊ID{}未上传医疗类别，请先上传就诊信息（2203）或传入med_type", visit.mdtrt_id),
            format!("visit {} has no medical type: upload it (2203) or send med_type", visit.mdtrt_id),
        )
    })?;
    check_med_type(ctx, &person, visit.kind, med_type)?;
    let resolved =
        ctx.policies.resolve(&person.admdvs, person.insurance, day).ok_or_else(|| no_policy(&person, day))?;
    check_resident_year(ws, &person, resolved.scheme, day)?;

    let mut folded_steps = Vec::new();
    let mut folded = Vec::new();
    let mut lines = unsettled_lines(ws, &visit, request.batch.as_deref())?;
    if visit.kind == VisitKind::Inpatient
        && let Some(rule) = &resolved.policy.emergency_admission
    {
        // Emergency care here shortly before admission (the policy's own window) is settled
        // with the admission. A peer's admission is folded by the peer, which holds its visits.
        let window_start = visit.begin.date().plus_days(-i64::from(rule.window_days));
        let candidates = match by_peer {
            true => Vec::new(),
            false => ws.outpatient_visits_since(&visit.psn_no, &visit.institution, window_start)?,
        };
        for mut emergency in candidates {
            let candidate = emergency.mdtrt_id.clone();
            // The candidates are this person's outpatient visits here since the window opened.
            let eligible = emergency.status != VisitStatus::Cancelled
                && emergency.med_type.is_some_and(|t| rule.emergency_med_types.contains(&t))
                && emergency.begin.date() <= visit.begin.date()
                && emergency.folded_into.as_ref().is_none_or(|into| into == &visit.mdtrt_id);
            if !eligible {
                continue;
            }
            if emergency.folded_into.is_none() {
                for settlement in ws.visit_settlements(&emergency.mdtrt_id)? {
                    if settlement.is_in_force() {
                        let mirror = cancel(ws, ctx, &settlement, &command.msgid)?;
                        folded_steps.push(Step {
                            rule: Rule::EmergencyFolded,
                            line: None,
                            amount: settlement.amounts.medfee,
                            zh: format!(
                                "入院前{}日内在本院的急诊费用{}元（原结算{}）已冲销，并入本次住院结算",
                                rule.window_days, settlement.amounts.medfee, settlement.setl_id
                            ),
                            en: format!(
                                "emergency care here within {} days before admission ({} yuan, settlement {}) was reversed and is settled with this admission",
                                rule.window_days, settlement.amounts.medfee, settlement.setl_id
                            ),
                        });
                        folded.push(settlement.setl_id.clone());
                        let _ = mirror;
                    }
                }
                emergency = ws.visit(&candidate)?.expect("loaded above");
                emergency.folded_into = Some(visit.mdtrt_id.clone());
                ws.put_visit(emergency.clone());
            }
            lines.extend(unsettled_lines(ws, &emergency, None)?);
        }
    }
    if lines.is_empty() {
        return Err(EngineError::refused(
            format!("就诊ID{}没有待结算的费用明细", visit.mdtrt_id),
            format!("visit {} has no unsettled lines", visit.mdtrt_id),
        ));
    }
    let total: Money = lines.iter().map(|line| line.amount).sum();
    if let Some(declared) = request.declared_medfee
        && declared != total
    {
        return Err(EngineError::invalid(
            format!("医疗费总额medfee_sumamt{declared}元与费用明细合计{total}元不符"),
            format!("medfee_sumamt {declared} does not equal the lines' total {total}"),
        ));
    }
    let special_disease = match resolved.scheme.special_outpatient.as_ref() {
        Some(rule) if rule.med_types.contains(&med_type) => Some(special_disease(ws, &person, &visit, rule, ctx)?),
        _ => None,
    };
    let year = day.year();
    let year_to_date = ws.accumulators(&person.psn_no, year)?;
    let current_key = AccountKey::PersonalCurrent(person.psn_no.clone());
    let prior_key = AccountKey::PersonalPrior(person.psn_no.clone());
    let balances = match person.has_personal_account() && !person.account_frozen {
        true => Some(AccountBalances {
            current_year: ws.account(&current_key)?.map_or(Money::ZERO, |a| a.balance()),
            prior_years: ws.account(&prior_key)?.map_or(Money::ZERO, |a| a.balance()),
        }),
        false => None,
    };
    let splits: Vec<_> = lines.iter().map(FeeLine::split).collect();
    let pricing = price(&PriceInput {
        policy: resolved.policy,
        scheme: resolved.scheme,
        insurance: person.insurance,
        person_type: person.person_type,
        level: institution.level,
        med_type,
        lines: &splits,
        year_to_date: &year_to_date,
        admission: Admission { counted: visit.admission_counted, deductible_paid: visit.deductible_paid },
        special_disease: special_disease.as_ref(),
        account: balances.filter(|_| request.use_account),
    })
    .map_err(|error| pricing_refusal(&error, &visit))?;
    not_claimed_already(ws, ctx, &person.psn_no, &institution.code, pricing.medfee)?;

    let sequence = ws.next_sequence("setl_id")?;
    let id_region = if by_peer { &person.admdvs } else { &institution.admdvs };
    let setl_id: SetlId = format!("{id_region}{sequence:010}").parse().expect("digits");
    let amounts = Amounts::from_pricing(&pricing);
    let mut postings = Vec::new();
    let pool = AccountKey::PoolFund(person.admdvs.clone(), person.insurance);
    let payable = AccountKey::InstitutionPayable(institution.code.clone());
    if amounts.fund.is_positive() {
        postings.push(Posting::debit(pool, amounts.fund));
    }
    if amounts.subsidy.is_positive() {
        let subsidy = AccountKey::PoolFund(person.admdvs.clone(), InsuranceType::CivilServantSubsidy);
        ws.open_account(subsidy.clone())?;
        postings.push(Posting::debit(subsidy, amounts.subsidy));
    }
    if amounts.account_current_year.is_positive() {
        postings.push(Posting::debit(current_key.clone(), amounts.account_current_year));
    }
    if amounts.account_prior_years.is_positive() {
        postings.push(Posting::debit(prior_key.clone(), amounts.account_prior_years));
    }
    let insurer_part = amounts.insurer_part();
    if insurer_part.is_positive() {
        if by_peer && person.admdvs != institution.admdvs {
            let owed =
                AccountKey::InterRegionPayable { debtor: person.admdvs.clone(), creditor: institution.admdvs.clone() };
            ws.open_account(owed.clone())?;
            postings.push(Posting::credit(owed, insurer_part));
        } else {
            postings.push(Posting::credit(payable, insurer_part));
            postings.extend(inter_region(ws, &person.admdvs, &institution.admdvs, insurer_part, false)?);
        }
        ws.post(Transfer {
            id: TransferId::new(format!("setl/{setl_id}")),
            code: TransferCode::Settlement,
            at: ctx.now,
            reference: setl_id.to_string(),
            postings,
        })?;
    }
    ws.put_accumulators(person.psn_no.clone(), year, year_to_date.plus(&pricing.change));
    if visit.kind == VisitKind::Inpatient {
        visit.admission_counted = true;
        visit.deductible_paid += pricing.deductible;
    }
    visit.med_type = Some(med_type);
    ws.put_visit(visit.clone());
    let mut line_refs = Vec::with_capacity(lines.len());
    let mut settled_lines = Vec::with_capacity(lines.len());
    for mut line in lines {
        line_refs.push((line.mdtrt_id.clone(), line.serial.clone()));
        line.state = LineState::Settled(setl_id.clone());
        ws.put_line(line.clone())?;
        settled_lines.push(line);
    }
    let balance_after = balance(ws, &person)?;
    let mut steps = folded_steps;
    steps.extend(pricing.steps);
    if person.account_frozen && request.use_account {
        steps.push(Step {
            rule: Rule::AccountFrozen,
            line: None,
            amount: Money::ZERO,
            zh: "个人账户正在转移至新银行（清户通知单待原银行确认），暂停支付，个人负担以现金支付".into(),
            en: "the personal account is frozen while it moves to another bank; the person's part is paid in cash"
                .into(),
        });
    }
    let settlement = Settlement {
        setl_id,
        psn_no: person.psn_no.clone(),
        mdtrt_id: visit.mdtrt_id.clone(),
        institution: institution.code.clone(),
        insurance: person.insurance,
        person_type: person.person_type,
        med_type,
        visit_kind: visit.kind,
        clearing_type: clearing_type(visit.kind).to_string(),
        at: ctx.now,
        amounts,
        fund_share: pricing.fund_share,
        balance_after,
        change: pricing.change,
        year,
        policy: resolved.policy.label(),
        status: SettlementStatus::Normal,
        msgid: command.msgid.clone(),
        lines: line_refs,
        insured_admdvs: person.admdvs.clone(),
        treated_admdvs: institution.admdvs.clone(),
        certificate: presented,
        invoice_no: request.invoice_no.clone(),
        mid_stay: request.mid_stay,
        account_used: request.use_account && person.has_personal_account(),
        folded,
        steps,
    };
    ws.put_settlement(settlement.clone())?;
    if let Some(card) = &mut card {
        record_card_transaction(ws, ctx, card, &settlement)?;
    }
    notify_settlement(ws, ctx, &person, &settlement, &institution.name);
    Ok(SettlementOutcome { settlement, cancelled: None, person, visit, lines: settled_lines, warnings })
}

/// `clr_type`: 11 outpatient, 21 inpatient, 41 pharmacy.
fn clearing_type(kind: VisitKind) -> &'static str {
    match kind {
        VisitKind::Outpatient => "11",
        VisitKind::Inpatient => "21",
        VisitKind::Pharmacy => "41",
    }
}

/// The visit's unsettled lines; only those of `batch` when it names some (a batch number that
/// matches no unsettled line means all of them: the declared total still has to match).
fn unsettled_lines(ws: &mut WorkingSet<'_>, visit: &Visit, batch: Option<&str>) -> Result<Vec<FeeLine>, EngineError> {
    let unsettled: Vec<FeeLine> =
        ws.lines(&visit.mdtrt_id)?.into_iter().filter(|line| line.state == LineState::Unsettled).collect();
    let batch = batch.filter(|batch| !batch.is_empty() && *batch != "0000");
    match batch {
        Some(batch) if unsettled.iter().any(|line| line.batch == batch) => {
            Ok(unsettled.into_iter().filter(|line| line.batch == batch).collect())
        }
        _ => Ok(unsettled),
    }
}

fn special_disease(
    ws: &mut WorkingSet<'_>,
    person: &Person,
    visit: &Visit,
    rule: &yibao_policy::SpecialOutpatientRule,
    ctx: &Context<'_>,
) -> Result<yibao_policy::Disease, EngineError> {
    let day = ctx.now.date();
    let active: Vec<_> = ws
        .registrations(&person.psn_no)?
        .into_iter()
        .filter(|r| !r.revoked && r.begin <= day && day <= r.end && rule.disease(&r.code).is_some())
        .collect();
    let chosen = match &visit.diagnosis_code {
        Some(code) => active.iter().find(|r| &r.code == code),
        None if active.len() == 1 => active.first(),
        None => None,
    };
    let Some(registration) = chosen else {
        let diagnosis = visit.diagnosis_code.as_deref().unwrap_or("（未上传）");
        return Err(Refusal::DiseaseNotRegistered {
            name: person.name.clone(),
            psn_no: person.psn_no.clone(),
            diagnosis: diagnosis.to_string(),
        }
        .into());
    };
    Ok(rule.disease(&registration.code).expect("filtered above").clone())
}

fn pricing_refusal(error: &PricingError, visit: &Visit) -> EngineError {
    match error {
        PricingError::MedTypeNotCovered { med_type, .. } => {
            EngineError::refused(format!("医疗类别{med_type}不在待遇政策支付范围内"), error.to_string())
        }
        PricingError::LevelNotPriced { med_type } => {
            EngineError::refused(format!("医疗类别{med_type}不能在本类机构结算"), error.to_string())
        }
        PricingError::SpecialDiseaseRequired => {
            EngineError::refused("门诊慢特病结算须有有效的病种备案", error.to_string())
        }
        PricingError::NegativeTotal { medfee } => {
            EngineError::invalid(format!("就诊ID{}待结算费用合计{medfee}元为负数", visit.mdtrt_id), error.to_string())
        }
    }
}

/// The person's personal account balance (both parts); zero without an account.
pub(super) fn balance(ws: &mut WorkingSet<'_>, person: &Person) -> Result<Money, EngineError> {
    if !person.has_personal_account() {
        return Ok(Money::ZERO);
    }
    let current = ws.account(&AccountKey::PersonalCurrent(person.psn_no.clone()))?.map_or(Money::ZERO, |a| a.balance());
    let prior = ws.account(&AccountKey::PersonalPrior(person.psn_no.clone()))?.map_or(Money::ZERO, |a| a.balance());
    Ok(current + prior)
}

/// Cancels a settlement in force: the mirror record, the reverse transfer, accumulators and
/// the admission's deductible restored, lines back to unsettled. Returns the mirror.
pub(super) fn cancel(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    original: &Settlement,
    msgid: &MsgId,
) -> Result<Settlement, EngineError> {
    debug_assert!(original.is_in_force());
    // The mirror's id carries the same region as the original's (the treating region's, or
    // ours when a peer treated the person).
    let prefix = original.setl_id.as_str().get(..6).unwrap_or(original.treated_admdvs.as_str()).to_string();
    let sequence = ws.next_sequence("setl_id")?;
    let mirror_id: SetlId = format!("{prefix}{sequence:010}").parse().expect("digits");
    let amounts = original.amounts;
    // The reverse of exactly what the settlement posted, whichever side of a cross-region
    // treatment this deployment holds.
    if let Some(posted) = ws.transfer(&TransferId::new(format!("setl/{}", original.setl_id)))? {
        ws.post(Transfer {
            id: TransferId::new(format!("setl-cancel/{}", original.setl_id)),
            code: TransferCode::SettlementCancel,
            at: ctx.now,
            reference: original.setl_id.to_string(),
            postings: posted.postings.into_iter().map(Posting::reversed).collect(),
        })?;
    }
    let accumulators = ws.accumulators(&original.psn_no, original.year)?;
    ws.put_accumulators(original.psn_no.clone(), original.year, accumulators.minus(&original.change));
    if let Some(mut visit) = ws.visit(&original.mdtrt_id)?
        && visit.kind == VisitKind::Inpatient
    {
        visit.deductible_paid -= original.change.inpatient_deductible_paid;
        if original.change.admissions > 0 {
            visit.admission_counted = false;
        }
        ws.put_visit(visit);
    }
    for (mdtrt_id, serial) in &original.lines {
        let line = ws.line(mdtrt_id, serial)?;
        if let Some(mut line) = line
            && line.state == LineState::Settled(original.setl_id.clone())
        {
            line.state = LineState::Unsettled;
            ws.put_line(line)?;
        }
    }
    let mut cancelled = original.clone();
    cancelled.status = SettlementStatus::Cancelled { by: mirror_id.clone() };
    ws.put_settlement(cancelled)?;
    let person = ws.person(&original.psn_no)?.ok_or_else(|| EngineError::internal("settled person vanished"))?;
    let balance_after = balance(ws, &person)?;
    let mirror = Settlement {
        setl_id: mirror_id,
        at: ctx.now,
        amounts: amounts.negated(),
        balance_after,
        change: original.change.negated(),
        status: SettlementStatus::Mirror { of: original.setl_id.clone() },
        msgid: msgid.clone(),
        folded: Vec::new(),
        steps: vec![Step {
            rule: Rule::Cash,
            line: None,
            amount: -amounts.medfee,
            zh: format!("撤销结算{}：基金、个人账户和现金支付全部冲回", original.setl_id),
            en: format!("cancels settlement {}: fund, account and cash parts are all reversed", original.setl_id),
        }],
        ..original.clone()
    };
    ws.put_settlement(mirror.clone())?;
    if mirror.certificate.kind == yibao_domain::CertType::Card
        && let Some(mut card) =
            mirror.certificate.number.parse().ok().and_then(|no| ws.card(&no).transpose()).transpose()?
    {
        record_card_transaction(ws, ctx, &mut card, &mirror)?;
    }
    Ok(mirror)
}

/// 2208 门诊结算撤销, 2305 住院结算撤销, 2103 药店结算撤销.
#[derive(Debug, Clone)]
pub struct CancelSettlement {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub setl_id: SetlId,
    pub mdtrt_id: Option<MdtrtId>,
    /// The kind the transaction is for; `None` accepts any (reversal).
    pub kind: Option<VisitKind>,
    pub msgid: MsgId,
}

impl Command for CancelSettlement {
    fn name(&self) -> &'static str {
        "cancel-settlement"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys.settlements.insert(self.setl_id.clone());
        keys.visits.extend(self.mdtrt_id.iter().cloned());
        keys.accounts.insert(AccountKey::InstitutionPayable(self.institution.clone()));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        cancel_settlement(self, ws, ctx).map(|outcome| Outcome::Settlement(Box::new(outcome)))
    }
}

pub(super) fn cancel_settlement(
    command: &CancelSettlement,
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
) -> Result<SettlementOutcome, EngineError> {
    let setl_id = &command.setl_id;
    let original = ws
        .settlement(setl_id)?
        .ok_or_else(|| EngineError::not_found(format!("结算ID{setl_id}不存在"), format!("no settlement {setl_id}")))?;
    if original.psn_no != command.psn_no {
        return Err(EngineError::invalid(
            format!("结算ID{setl_id}不属于人员编号{}", command.psn_no),
            format!("settlement {setl_id} does not belong to person {}", command.psn_no),
        ));
    }
    if original.institution != command.institution {
        return Err(EngineError::forbidden(
            format!("结算ID{setl_id}不是本机构的结算"),
            format!("settlement {setl_id} belongs to another institution"),
        ));
    }
    if ws.person(&original.psn_no)?.is_some_and(|person| person.status == PersonStatus::Guest) {
        // The insured region paid it; only it can undo that (the national interface asks it).
        return Err(EngineError::refused(
            format!("结算ID{setl_id}由参保地{}结算，须经参保地医保系统撤销", original.insured_admdvs),
            format!("settlement {setl_id} was paid by {}; its deployment must cancel it", original.insured_admdvs),
        ));
    }
    if let Some(mdtrt_id) = &command.mdtrt_id
        && mdtrt_id != &original.mdtrt_id
    {
        return Err(EngineError::invalid(
            format!("结算ID{setl_id}不属于就诊ID{mdtrt_id}"),
            format!("settlement {setl_id} is not of visit {mdtrt_id}"),
        ));
    }
    if let Some(kind) = command.kind
        && kind != original.visit_kind
    {
        return Err(EngineError::invalid(
            format!(
                "结算ID{setl_id}不是{}结算",
                match kind {
                    VisitKind::Outpatient => "门诊",
                    VisitKind::Inpatient => "住院",
                    VisitKind::Pharmacy => "药店",
                }
            ),
            format!("settlement {setl_id} is {}, not {}", original.visit_kind.as_str(), kind.as_str()),
        ));
    }
    match &original.status {
        SettlementStatus::Normal => {}
        SettlementStatus::Cancelled { by } => {
            return Err(EngineError::conflict(
                format!("结算ID{setl_id}已撤销（撤销记录{by}）"),
                format!("settlement {setl_id} was already cancelled by {by}"),
            ));
        }
        SettlementStatus::Mirror { of } => {
            return Err(EngineError::invalid(
                format!("结算ID{setl_id}是对{of}的撤销记录，不能再撤销"),
                format!("settlement {setl_id} is the cancellation of {of}; it cannot be cancelled"),
            ));
        }
    }
    let later = ws.visit_settlements(&original.mdtrt_id)?.into_iter().find(|other| {
        other.is_in_force()
            && other.setl_id != original.setl_id
            && other.at >= original.at
            && other.setl_id > original.setl_id
    });
    if let Some(later) = later {
        return Err(
            Refusal::LaterSettlement { mdtrt_id: original.mdtrt_id.clone(), later: later.setl_id.clone() }.into()
        );
    }
    let mirror = cancel(ws, ctx, &original, &command.msgid)?;
    let mut visit = ws.visit(&original.mdtrt_id)?.ok_or_else(|| EngineError::internal("settled visit vanished"))?;
    if visit.kind == VisitKind::Pharmacy {
        for mut line in ws.lines(&visit.mdtrt_id)? {
            if line.state == LineState::Unsettled {
                line.state = LineState::Revoked;
                ws.put_line(line)?;
            }
        }
        visit.status = VisitStatus::Cancelled;
        ws.put_visit(visit.clone());
    }
    let cancelled = ws.settlement(setl_id)?.ok_or_else(|| EngineError::internal("cancelled settlement vanished"))?;
    let person = ws.person(&original.psn_no)?.ok_or_else(|| EngineError::internal("settled person vanished"))?;
    let mut lines = Vec::with_capacity(original.lines.len());
    for (mdtrt_id, serial) in &original.lines {
        lines.extend(ws.line(mdtrt_id, serial)?);
    }
    if person.status != PersonStatus::Guest {
        let a = &mirror.amounts;
        ws.notify(Notification::new(
            format!("settlement/{}", mirror.setl_id),
            person.psn_no.clone(),
            NotificationKind::SettlementCancelled,
            ctx.now,
            format!("结算{}已撤销，退回基金{}元、个人账户{}元。", original.setl_id, -a.funds(), -a.account()),
            format!(
                "Settlement {} was cancelled: {} yuan back to the funds, {} to your account.",
                original.setl_id,
                -a.funds(),
                -a.account()
            ),
        ));
    }
    Ok(SettlementOutcome { settlement: mirror, cancelled: Some(cancelled), person, visit, lines, warnings: Vec::new() })
}

/// A settlement's word to the person insured here (the outbox), and a low-balance warning when
/// the account just went below [`LOW_BALANCE`].
fn notify_settlement(ws: &mut WorkingSet<'_>, ctx: &Context<'_>, person: &Person, settlement: &Settlement, at: &str) {
    if person.status == PersonStatus::Guest {
        return;
    }
    let a = &settlement.amounts;
    ws.notify(Notification::new(
        format!("settlement/{}", settlement.setl_id),
        person.psn_no.clone(),
        NotificationKind::Settlement,
        ctx.now,
        format!(
            "您在{at}结算医疗费{}元：基金支付{}元，个人账户支付{}元，现金支付{}元；账户余额{}元。",
            a.medfee,
            a.funds(),
            a.account(),
            a.cash,
            settlement.balance_after
        ),
        format!(
            "Bill of {} yuan at {at}: funds {}, account {}, cash {}; balance {}.",
            a.medfee,
            a.funds(),
            a.account(),
            a.cash,
            settlement.balance_after
        ),
    ));
    let before = settlement.balance_after + a.account();
    if a.account().is_positive() && settlement.balance_after < LOW_BALANCE && before >= LOW_BALANCE {
        ws.notify(Notification::new(
            format!("low-balance/{}", settlement.setl_id),
            person.psn_no.clone(),
            NotificationKind::LowBalance,
            ctx.now,
            format!("您的个人账户余额已低于{LOW_BALANCE}元（现为{}元）。", settlement.balance_after),
            format!("Your personal account is below {LOW_BALANCE} yuan ({} now).", settlement.balance_after),
        ));
    }
}

/// What a pharmacy's purchase asks for (2101/2102, `POST /api/v1/purchases`, the counter).
#[derive(Debug, Clone)]
pub struct PurchaseRequest {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub insurance: InsuranceType,
    pub med_type: MedType,
    pub certificate: Certificate,
    pub his_no: String,
    pub begin: DateTime,
    pub lines: Vec<LineUpload>,
    pub declared_medfee: Option<Money>,
    pub use_account: bool,
    pub invoice_no: String,
    pub insured_admdvs: Option<Admdvs>,
}

impl PurchaseRequest {
    /// A purchase of `lines` at `begin`, presented with `certificate`: a pharmacy purchase
    /// (med_type 41), no HIS or invoice number, no declared total, the account not used.
    pub fn new(
        institution: InstitutionCode,
        psn_no: PersonNo,
        insurance: InsuranceType,
        certificate: Certificate,
        lines: Vec<LineUpload>,
        begin: DateTime,
    ) -> PurchaseRequest {
        PurchaseRequest {
            institution,
            psn_no,
            insurance,
            med_type: MedType::PHARMACY,
            certificate,
            his_no: String::new(),
            begin,
            lines,
            declared_medfee: None,
            use_account: false,
            invoice_no: String::new(),
            insured_admdvs: None,
        }
    }
}

/// 2101/2102 药店预结算/结算: a pharmacy purchase opens a visit, bills its lines and settles
/// them in one message. Built only by the application layer (`yibao_app::settlement::purchase`).
#[derive(Debug, Clone)]
pub struct Purchase {
    request: PurchaseRequest,
    /// The message id the purchase is recorded with.
    msgid: MsgId,
}

impl Purchase {
    pub fn new(request: PurchaseRequest, msgid: MsgId) -> Purchase {
        Purchase { request, msgid }
    }
}

impl Command for Purchase {
    fn name(&self) -> &'static str {
        "purchase"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.institutions.insert(self.request.institution.clone());
        keys.persons.insert(self.request.psn_no.clone());
        keys.accounts.insert(AccountKey::InstitutionPayable(self.request.institution.clone()));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let request = &self.request;
        let institution = designated_institution(ws, &request.institution, ctx.now.date())?;
        if institution.kind != InstitutionKind::Pharmacy {
            return Err(EngineError::refused(
                format!("{}不是定点零售药店，不能办理药店结算", institution.name),
                format!("{} is not a pharmacy; use outpatient settlement (2207)", institution.code),
            ));
        }
        let person = insured_person(ws, &request.psn_no)?;
        if person.insurance != request.insurance {
            return Err(EngineError::invalid(
                format!("险种类型{}与参保人险种{}不符", request.insurance, person.insurance),
                format!("insurance type {} does not match the person's {}", request.insurance, person.insurance),
            ));
        }
        if let Some(stated) = &request.insured_admdvs
            && stated != &person.admdvs
        {
            return Err(EngineError::invalid(
                format!("参保地医保区划{stated}与参保人参保地{}不符", person.admdvs),
                format!("insuplc_admdvs {stated} does not match the person's region {}", person.admdvs),
            ));
        }
        check_certificate(ws, ctx, &person, &request.certificate, &institution.code)?;
        check_med_type(ctx, &person, VisitKind::Pharmacy, request.med_type)?;
        let sequence = ws.next_sequence("mdtrt_id")?;
        let visit = Visit {
            mdtrt_id: format!("{}{sequence:010}", institution.admdvs).parse().expect("digits"),
            psn_no: person.psn_no.clone(),
            institution: institution.code.clone(),
            kind: VisitKind::Pharmacy,
            insurance: person.insurance,
            med_type: Some(request.med_type),
            begin: request.begin,
            end: Some(request.begin),
            status: VisitStatus::Open,
            certificate: recorded(&request.certificate, &person),
            his_no: request.his_no.clone(),
            dept_code: String::new(),
            dept_name: String::new(),
            doctor_code: String::new(),
            doctor_name: String::new(),
            diagnosis_code: None,
            diagnosis_name: None,
            insured_admdvs: person.admdvs.clone(),
            treated_admdvs: institution.admdvs.clone(),
            admission_counted: false,
            deductible_paid: Money::ZERO,
            folded_into: None,
            created_at: ctx.now,
        };
        ws.insert_visit(visit.clone());
        UploadLines {
            institution: request.institution.clone(),
            psn_no: request.psn_no.clone(),
            mdtrt_id: visit.mdtrt_id.clone(),
            kind: Some(VisitKind::Pharmacy),
            lines: request.lines.clone(),
        }
        .execute(ws, ctx)?;
        let bill = SettleRequest {
            kind: Some(VisitKind::Pharmacy),
            insurance: Some(request.insurance),
            med_type: Some(request.med_type),
            declared_medfee: request.declared_medfee,
            use_account: request.use_account,
            invoice_no: request.invoice_no.clone(),
            ..SettleRequest::new(request.institution.clone(), request.psn_no.clone(), visit.mdtrt_id)
        };
        let settle_command = Settle::new(bill, self.msgid.clone(), Treated::Here);
        settle(&settle_command, ws, ctx).map(|outcome| Outcome::Settlement(Box::new(outcome)))
    }
}

/// A bill the agency has been asked to reimburse (零星报销) is not also paid in real time:
/// a claim at this institution, not rejected, of the same amount, whose dates cover today,
/// refuses the settlement (the reimbursement refuses the other way round).
fn not_claimed_already(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    psn_no: &yibao_domain::PersonNo,
    institution: &yibao_domain::InstitutionCode,
    medfee: Money,
) -> Result<(), EngineError> {
    let today = ctx.now.date();
    let claims = ws.reimbursements_of(psn_no)?;
    let claimed = claims.iter().find(|claim| {
        !matches!(claim.state, crate::records::ReimbursementState::Rejected { .. })
            && claim.provider.code.as_ref() == Some(institution)
            && claim.amounts.medfee == medfee
            && (claim.begin..=claim.end.plus_days(1)).contains(&today)
    });
    match claimed {
        None => Ok(()),
        Some(claim) => Err(EngineError::conflict(
            format!("该费用（{medfee}元）已向经办机构申请零星报销（{}），不能再实时结算", claim.id),
            format!(
                "this bill ({medfee} yuan) is claimed for reimbursement at the agency ({}): not settled in real time too",
                claim.id
            ),
        )),
    }
}

/// Cross-region treatment (异地就医): the insured region owes the treating region what its fund
/// and its personal accounts paid the treating region's institution. Both sides, so each
/// region's books show it (in two deployments each posts its own side). Reversed for a
/// cancellation.
fn inter_region(
    ws: &mut WorkingSet<'_>,
    insured: &Admdvs,
    treated: &Admdvs,
    amount: Money,
    reverse: bool,
) -> Result<Vec<Posting>, EngineError> {
    if insured == treated || !amount.is_positive() {
        return Ok(Vec::new());
    }
    let receivable = AccountKey::InterRegionReceivable { creditor: treated.clone(), debtor: insured.clone() };
    let payable = AccountKey::InterRegionPayable { debtor: insured.clone(), creditor: treated.clone() };
    ws.open_account(receivable.clone())?;
    ws.open_account(payable.clone())?;
    Ok(match reverse {
        false => vec![Posting::debit(receivable, amount), Posting::credit(payable, amount)],
        true => vec![Posting::credit(receivable, amount), Posting::debit(payable, amount)],
    })
}

/// A resident is covered for an insurance year by paying its contribution, where the policy
/// sets one (seed 002, R2): without it, no benefits that year.
fn check_resident_year(
    ws: &mut WorkingSet<'_>,
    person: &Person,
    scheme: &yibao_policy::Scheme,
    day: yibao_domain::Date,
) -> Result<(), EngineError> {
    let annual = scheme.annual_contribution();
    if person.person_type.group() != yibao_domain::PersonTypeGroup::Resident || !annual.is_positive() {
        return Ok(());
    }
    let period = super::credit::ContributionPeriod::Year(day.year());
    if ws.transfer(&super::credit::contribution_id(&person.psn_no, period))?.is_some() {
        return Ok(());
    }
    Err(Refusal::ResidentYearUnpaid {
        name: person.name.clone(),
        psn_no: person.psn_no.clone(),
        year: day.year(),
        annual,
    }
    .into())
}

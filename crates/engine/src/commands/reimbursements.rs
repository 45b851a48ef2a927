//! Manual reimbursement (零星报销, seed 001: "go to the municipal agency to handle … sporadic
//! reimbursement procedures"): a bill the person paid in cash where real-time settlement was
//! impossible is priced by the same code as a real-time settlement (the catalogue's line split,
//! then `policy::price` with the person's year so far), reviewed by a second operator (approve,
//! reject with a reason, or ask for documents), and on approval paid to the person's bank
//! account: one transfer `reimbursement/<id>` from the pooled fund (and, when asked, the
//! personal account) to the custody bank's payable, with the year's accumulators moved as a
//! settlement moves them. A bill a real-time settlement already paid (same institution, person,
//! days and total) or another reimbursement already claims is refused.

use yibao_domain::{
    Date, InstitutionCode, InstitutionLevel, InsuranceType, MedType, Money, PersonNo, Quantity, UnitPrice,
};
use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode, TransferId};
use yibao_policy::{AccountBalances, Admission, LineInput, PriceInput, price, split_line};

use super::command::text_within;
use super::lines::LINE_AMOUNT_MAX;
use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{
    Amounts, AuditEntry, CareProvider, Notification, NotificationKind, Payee, Person, PersonStatus, ReceiptLine,
    Reimbursement, ReimbursementCause, ReimbursementState, Settlement, SettlementStatus, person_as_of,
};
use crate::working_set::{Keys, WorkingSet, load_by};

/// The most lines one reimbursement holds.
pub const REIMBURSEMENT_LINES_MAX: usize = 500;

/// How long after the care a bill may still be claimed.
pub const CLAIM_DAYS_MAX: i64 = 730;

/// The transfer that pays a reimbursement.
pub fn reimbursement_id(id: &str) -> TransferId {
    TransferId::new(format!("reimbursement/{id}"))
}

/// Where the care was given, as the operator names it.
#[derive(Debug, Clone)]
pub enum ProviderRef {
    /// A designated institution (its name, level and region are the registry's).
    Designated(InstitutionCode),
    /// Another institution.
    Other { name: String, level: Option<InstitutionLevel>, admdvs: yibao_domain::Admdvs },
}

/// Submits a bill for reimbursement (an operator at the agency's counter).
#[derive(Debug, Clone)]
pub struct SubmitReimbursement {
    pub psn_no: PersonNo,
    pub provider: ProviderRef,
    pub med_type: MedType,
    pub begin: Date,
    pub end: Date,
    pub cause: ReimbursementCause,
    /// (catalogue code, unit price, quantity, amount) as the receipts show them.
    pub lines: Vec<(String, UnitPrice, Quantity, Money)>,
    pub use_account: bool,
    pub payee: Payee,
    pub note: String,
    pub actor: String,
}

fn invalid(zh: impl Into<String>, en: impl Into<String>) -> EngineError {
    EngineError::invalid(zh, en)
}

/// A bill priced as a real-time settlement of it would be now.
struct Priced {
    amounts: Amounts,
    steps: Vec<yibao_policy::Step>,
    change: yibao_policy::Accumulators,
    year: u16,
}

/// Prices a reimbursement's bill: the catalogue's split of each line on its day, then the
/// policy in force on the bill's last day, with the person's accumulators of that year and, when
/// asked, the account's balances.
fn price_bill(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    person: &Person,
    bill: &Reimbursement,
) -> Result<Priced, EngineError> {
    let day = bill.end;
    let resolved = ctx.policies.resolve(&person.admdvs, person.insurance, day).ok_or_else(|| {
        EngineError::refused(
            format!("{}险种{}在{day}没有适用的政策", person.admdvs, person.insurance),
            format!("no policy covers {} {} on {day}", person.admdvs, person.insurance),
        )
    })?;
    if resolved.scheme.special_outpatient.as_ref().is_some_and(|rule| rule.med_types.contains(&bill.med_type)) {
        return Err(EngineError::refused(
            format!("门诊慢特病（医疗类别{}）须在备案的定点机构联网结算，不办理零星报销", bill.med_type),
            format!(
                "special outpatient care (med_type {}) is settled at the registered institution, not reimbursed",
                bill.med_type
            ),
        ));
    }
    let splits: Vec<yibao_policy::LineSplit> = bill
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let entry = ctx.catalogue.lookup(&line.code, bill.begin);
            split_line(
                &LineInput {
                    serial: (index + 1).to_string(),
                    code: line.code.clone(),
                    price: line.price,
                    quantity: line.quantity,
                    amount: line.amount,
                },
                entry.map(|entry| entry.item()).as_ref(),
            )
        })
        .collect();
    let year = day.year();
    let year_to_date = ws.accumulators(&person.psn_no, year)?;
    let balances = match bill.use_account && person.has_personal_account() && !person.account_frozen {
        true => Some(AccountBalances {
            current_year: ws
                .account(&AccountKey::PersonalCurrent(person.psn_no.clone()))?
                .map_or(Money::ZERO, |a| a.balance()),
            prior_years: ws
                .account(&AccountKey::PersonalPrior(person.psn_no.clone()))?
                .map_or(Money::ZERO, |a| a.balance()),
        }),
        false => None,
    };
    // Priced as the person stood on the bill's last day (a retiree as a retiree).
    let as_then = person_as_of(person, &ws.life_events(&person.psn_no)?, day);
    let pricing = price(&PriceInput {
        policy: resolved.policy,
        scheme: resolved.scheme,
        insurance: person.insurance,
        person_type: as_then.person_type,
        level: bill.provider.level,
        med_type: bill.med_type,
        lines: &splits,
        year_to_date: &year_to_date,
        admission: Admission { counted: false, deductible_paid: Money::ZERO },
        special_disease: None,
        account: balances,
    })
    .map_err(|error| EngineError::refused(format!("无法按政策计算：{error}"), format!("cannot be priced: {error}")))?;
    Ok(Priced { amounts: Amounts::from_pricing(&pricing), steps: pricing.steps, change: pricing.change, year })
}

/// Refuses a bill a real-time settlement or another reimbursement already pays.
fn check_not_paid_twice(ws: &mut WorkingSet<'_>, bill: &Reimbursement) -> Result<(), EngineError> {
    let total = bill.amounts.medfee;
    if let Some(code) = &bill.provider.code {
        let settlements: Vec<Settlement> = load_by(ws.loader(), "psn_no", vec![bill.psn_no.to_string()])?;
        let settled = settlements.iter().find(|s| {
            s.status == SettlementStatus::Normal
                && &s.institution == code
                && s.amounts.medfee == total
                && (bill.begin..=bill.end.plus_days(1)).contains(&s.at.date())
        });
        if let Some(settled) = settled {
            return Err(EngineError::conflict(
                format!("该票据已由{}实时结算（结算ID{}，{}元），不能重复报销", code, settled.setl_id, total),
                format!(
                    "this bill was settled in real time at {code} (settlement {}, {total} yuan): not reimbursed twice",
                    settled.setl_id
                ),
            ));
        }
    }
    let claims = ws.reimbursements_of(&bill.psn_no)?;
    let same = claims.iter().find(|other| {
        other.id != bill.id
            && !matches!(other.state, ReimbursementState::Rejected { .. })
            && other.provider.code == bill.provider.code
            && other.provider.name == bill.provider.name
            && other.begin == bill.begin
            && other.end == bill.end
            && other.amounts.medfee == total
    });
    if let Some(same) = same {
        return Err(EngineError::conflict(
            format!("该票据已申请报销（{}），不能重复申请", same.id),
            format!("this bill is already claimed by reimbursement {}", same.id),
        ));
    }
    Ok(())
}

impl Command for SubmitReimbursement {
    fn name(&self) -> &'static str {
        "submit-reimbursement"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        text_within("收款人", &self.payee.name, 40)?;
        text_within("收款银行", &self.payee.bank, 60)?;
        text_within("说明", &self.note, super::REASON_MAX_CHARS)?;
        let account = &self.payee.account;
        if !(6..=34).contains(&account.len()) || !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid(
                "收款账号须为6至34位字母或数字",
                "the payee's account must be 6 to 34 letters or digits",
            ));
        }
        if self.lines.is_empty() || self.lines.len() > REIMBURSEMENT_LINES_MAX {
            return Err(invalid(
                format!("费用明细须为1至{REIMBURSEMENT_LINES_MAX}条"),
                format!("a bill has 1 to {REIMBURSEMENT_LINES_MAX} lines"),
            ));
        }
        let mut lines = Vec::with_capacity(self.lines.len());
        for (index, (code, unit, quantity, amount)) in self.lines.iter().enumerate() {
            let n = index + 1;
            text_within(&format!("第{n}条明细的项目编码"), code, 50)?;
            if quantity.is_zero() || quantity.is_negative() {
                return Err(invalid(
                    format!("第{n}条明细：数量须大于0"),
                    format!("line {n}: the quantity must be above 0"),
                ));
            }
            if !amount.is_positive()
                || *amount > LINE_AMOUNT_MAX
                || (unit.times(*quantity) - *amount).abs() > Money::from_fen(1)
            {
                return Err(invalid(
                    format!("第{n}条明细：金额{amount}须大于0、不超过{LINE_AMOUNT_MAX}元且等于单价×数量"),
                    format!(
                        "line {n}: the amount {amount} must be above 0, at most {LINE_AMOUNT_MAX} yuan and price × quantity"
                    ),
                ));
            }
            let name = ctx.catalogue.lookup(code, self.begin).map_or_else(|| code.clone(), |entry| entry.name.clone());
            lines.push(ReceiptLine { code: code.clone(), name, price: *unit, quantity: *quantity, amount: *amount });
        }
        let today = ctx.now.date();
        if self.begin > self.end || self.end > today {
            return Err(invalid(
                format!("就诊日期{}至{}须先后有序且不晚于今天", self.begin, self.end),
                format!("the care's days {} to {} must be in order and not after today", self.begin, self.end),
            ));
        }
        if self.end.days_since_epoch() - self.begin.days_since_epoch() > 366 {
            return Err(invalid("一张票据的就诊期间不超过366天", "one bill covers at most 366 days"));
        }
        if today.days_since_epoch() - self.end.days_since_epoch() > CLAIM_DAYS_MAX {
            return Err(EngineError::refused(
                format!("就诊结束已超过{CLAIM_DAYS_MAX}天，不再受理报销"),
                format!("the care ended more than {CLAIM_DAYS_MAX} days ago: no longer reimbursed"),
            ));
        }
        let psn_no = &self.psn_no;
        let Some(person) = ws.person(psn_no)? else {
            return Err(EngineError::not_found(format!("人员编号{psn_no}不存在"), format!("no person {psn_no}")));
        };
        let as_then = person_as_of(&person, &ws.life_events(psn_no)?, self.end);
        if person.status == PersonStatus::Guest
            || as_then.status != PersonStatus::Active
            || person.insured_since > self.begin
        {
            return Err(EngineError::refused(
                format!("人员{psn_no}在{}至{}不在本统筹区正常参保", self.begin, self.end),
                format!("person {psn_no} was not insured here from {} to {}", self.begin, self.end),
            ));
        }
        let provider = match &self.provider {
            ProviderRef::Designated(code) => {
                let Some(institution) = ws.institution(code)? else {
                    return Err(EngineError::not_found(
                        format!("定点医药机构{code}不存在"),
                        format!("no institution {code}"),
                    ));
                };
                CareProvider {
                    code: Some(code.clone()),
                    name: institution.name.clone(),
                    level: institution.level,
                    admdvs: institution.admdvs.clone(),
                }
            }
            ProviderRef::Other { name, level, admdvs } => {
                text_within("就诊机构名称", name, 60)?;
                CareProvider { code: None, name: name.clone(), level: *level, admdvs: admdvs.clone() }
            }
        };
        let mut bill = Reimbursement {
            id: String::new(),
            psn_no: psn_no.clone(),
            provider,
            med_type: self.med_type,
            begin: self.begin,
            end: self.end,
            cause: self.cause,
            lines,
            use_account: self.use_account,
            amounts: Amounts::default(),
            steps: Vec::new(),
            change: yibao_policy::Accumulators::default(),
            year: self.end.year(),
            payee: self.payee.clone(),
            note: self.note.clone(),
            submitted_by: self.actor.clone(),
            submitted_at: ctx.now,
            state: ReimbursementState::Submitted,
        };
        let priced = price_bill(ws, ctx, &person, &bill)?;
        bill.amounts = priced.amounts;
        bill.steps = priced.steps;
        check_not_paid_twice(ws, &bill)?;
        bill.id = format!("RB{:010}", ws.next_sequence("reimbursement")?);
        ws.put_reimbursement(bill.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: "reimbursement/submit".to_string(),
            subject: psn_no.to_string(),
            reason: format!("{} {} {}: {}", bill.id, bill.cause.code(), bill.amounts.medfee, bill.note),
        });
        Ok(Outcome::Reimbursement(Box::new(bill)))
    }
}

/// A reviewer's decision on a reimbursement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    Approve,
    Reject,
    RequestDocuments,
}

/// Reviews a submitted reimbursement (an operator with the reviewer role, never the submitter).
/// Approval prices the bill again (the year may have moved on), then pays it once.
#[derive(Debug, Clone)]
pub struct ReviewReimbursement {
    pub id: String,
    pub decision: ReviewDecision,
    pub reason: String,
    pub actor: String,
}

impl Command for ReviewReimbursement {
    fn name(&self) -> &'static str {
        "review-reimbursement"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.transfers.insert(reimbursement_id(&self.id));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        text_within("审核意见", &self.reason, super::REASON_MAX_CHARS)?;
        let Some(bill) = ws.reimbursement(&self.id)? else {
            return Err(EngineError::not_found(
                format!("报销申请{}不存在", self.id),
                format!("no reimbursement {}", self.id),
            ));
        };
        match (&bill.state, self.decision) {
            (ReimbursementState::Submitted, _) => {}
            // The same decision again (a retry) answers it; an approval pays once.
            (ReimbursementState::Approved { .. }, ReviewDecision::Approve)
            | (ReimbursementState::Rejected { .. }, ReviewDecision::Reject)
            | (ReimbursementState::DocumentsRequested { .. }, ReviewDecision::RequestDocuments) => {
                return Ok(Outcome::Reimbursement(Box::new(bill)));
            }
            (state, _) => {
                return Err(EngineError::conflict(
                    format!("报销申请{}当前状态为{}，不能审核", bill.id, state.code()),
                    format!("reimbursement {} is {}: nothing to review", bill.id, state.code()),
                ));
            }
        }
        if self.actor == bill.submitted_by {
            return Err(EngineError::forbidden(
                "同一经办人不能审核自己受理的报销申请",
                "the operator who submitted a reimbursement may not review it (four eyes)",
            ));
        }
        let mut reviewed = bill.clone();
        let (by, at, reason) = (self.actor.clone(), ctx.now, self.reason.clone());
        match self.decision {
            ReviewDecision::Reject => reviewed.state = ReimbursementState::Rejected { by, at, reason },
            ReviewDecision::RequestDocuments => {
                reviewed.state = ReimbursementState::DocumentsRequested { by, at, reason };
            }
            ReviewDecision::Approve => {
                let Some(person) = ws.person(&bill.psn_no)? else {
                    return Err(EngineError::internal(format!("reimbursement {} names no stored person", bill.id)));
                };
                let priced = price_bill(ws, ctx, &person, &bill)?;
                reviewed.amounts = priced.amounts;
                reviewed.steps = priced.steps;
                check_not_paid_twice(ws, &reviewed)?;
                pay(ws, ctx, &person, &reviewed)?;
                let year_to_date = ws.accumulators(&person.psn_no, priced.year)?;
                ws.put_accumulators(person.psn_no.clone(), priced.year, year_to_date.plus(&priced.change));
                reviewed.change = priced.change;
                reviewed.year = priced.year;
                reviewed.state = ReimbursementState::Approved { by, at };
                let paid = reviewed.amounts.insurer_part();
                ws.notify(Notification::new(
                    format!("reimbursement/{}", bill.id),
                    person.psn_no.clone(),
                    NotificationKind::Reimbursement,
                    ctx.now,
                    format!(
                        "您在{}的医疗费{}元已报销{paid}元，将付至您的银行账户。",
                        bill.provider.name, reviewed.amounts.medfee
                    ),
                    format!(
                        "{paid} yuan of your {} yuan bill at {} is reimbursed to your bank account.",
                        reviewed.amounts.medfee, bill.provider.name
                    ),
                ));
            }
        }
        ws.put_reimbursement(reviewed.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: format!("reimbursement/{}", reviewed.state.code()),
            subject: bill.psn_no.to_string(),
            reason: format!("{} {}: {}", bill.id, reviewed.amounts.medfee, self.reason),
        });
        Ok(Outcome::Reimbursement(Box::new(reviewed)))
    }
}

/// The approved bill's money: the fund's and the account's parts to the custody bank's payable.
fn pay(ws: &mut WorkingSet<'_>, ctx: &Context<'_>, person: &Person, bill: &Reimbursement) -> Result<(), EngineError> {
    let a = &bill.amounts;
    let paid = a.insurer_part();
    if !paid.is_positive() {
        return Ok(());
    }
    let mut postings = Vec::new();
    if a.fund.is_positive() {
        postings.push(Posting::debit(AccountKey::PoolFund(person.admdvs.clone(), person.insurance), a.fund));
    }
    if a.subsidy.is_positive() {
        let subsidy = AccountKey::PoolFund(person.admdvs.clone(), InsuranceType::CivilServantSubsidy);
        ws.open_account(subsidy.clone())?;
        postings.push(Posting::debit(subsidy, a.subsidy));
    }
    if a.account_current_year.is_positive() {
        postings.push(Posting::debit(AccountKey::PersonalCurrent(person.psn_no.clone()), a.account_current_year));
    }
    if a.account_prior_years.is_positive() {
        postings.push(Posting::debit(AccountKey::PersonalPrior(person.psn_no.clone()), a.account_prior_years));
    }
    let payable = AccountKey::BankPayable(person.custody_bank.clone());
    ws.open_account(payable.clone())?;
    postings.push(Posting::credit(payable, paid));
    ws.post(Transfer {
        id: reimbursement_id(&bill.id),
        code: TransferCode::Reimbursement,
        at: ctx.now,
        reference: format!("{} {}", bill.id, bill.provider.name),
        postings,
    })?;
    Ok(())
}

/// Sends a reimbursement back for review after the documents asked for were brought (the
/// operator who submitted it, or another).
#[derive(Debug, Clone)]
pub struct ResubmitReimbursement {
    pub id: String,
    pub note: String,
    pub actor: String,
}

impl Command for ResubmitReimbursement {
    fn name(&self) -> &'static str {
        "resubmit-reimbursement"
    }

    fn keys(&self) -> Keys {
        Keys::default()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        text_within("补充材料说明", &self.note, super::REASON_MAX_CHARS)?;
        let Some(mut bill) = ws.reimbursement(&self.id)? else {
            return Err(EngineError::not_found(
                format!("报销申请{}不存在", self.id),
                format!("no reimbursement {}", self.id),
            ));
        };
        match &bill.state {
            ReimbursementState::DocumentsRequested { .. } => {}
            ReimbursementState::Submitted => return Ok(Outcome::Reimbursement(Box::new(bill))),
            state => {
                return Err(EngineError::conflict(
                    format!("报销申请{}当前状态为{}，不能补充材料", bill.id, state.code()),
                    format!("reimbursement {} is {}: no documents are asked for", bill.id, state.code()),
                ));
            }
        }
        let note = format!("{}；{}", bill.note, self.note);
        bill.note = note.chars().take(1_000).collect();
        bill.state = ReimbursementState::Submitted;
        ws.put_reimbursement(bill.clone())?;
        ws.audit(AuditEntry {
            at: ctx.now,
            actor: self.actor.clone(),
            action: "reimbursement/resubmit".to_string(),
            subject: bill.psn_no.to_string(),
            reason: format!("{}: {}", bill.id, self.note),
        });
        Ok(Outcome::Reimbursement(Box::new(bill)))
    }
}

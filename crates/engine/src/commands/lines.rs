//! Bill lines: upload with the per-line split (2204, 2301 incl. refund lines) and revocation of
//! unsettled lines (2205, 2302).

use yibao_domain::{DateTime, InstitutionCode, MdtrtId, Money, PersonNo, Quantity, UnitPrice};
use yibao_policy::{LineInput, split_line};

use super::visits::{cancelled, own_visit, wrong_kind};
use super::{Command, Context, Outcome};
use crate::error::{EngineError, Refusal};
use crate::records::{FeeLine, LineState, VisitKind, VisitStatus};
use crate::working_set::{Keys, WorkingSet};

/// The most lines an outpatient visit (or a pharmacy purchase) may hold: one message's worth.
/// A visit at a clinic is one prescription round; a hundred lines is already a long bill.
pub const OUTPATIENT_LINES_MAX: usize = 1_000;
/// The most lines an inpatient stay may hold: 90 days at 55 lines a day (drugs, nursing, bed,
/// tests), about what a long stay in intensive care bills. Longer stays settle mid-stay
/// (中途结算) and go on in a new stay. Every settlement prices the whole unsettled bill, so
/// this bounds the work of the largest settlement a writer batch can meet.
pub const INPATIENT_LINES_MAX: usize = 5_000;

/// The most lines a visit of this kind may hold.
pub fn lines_max(kind: VisitKind) -> usize {
    match kind {
        VisitKind::Inpatient => INPATIENT_LINES_MAX,
        VisitKind::Outpatient | VisitKind::Pharmacy => OUTPATIENT_LINES_MAX,
    }
}
/// The largest amount of one line: one hundred million yuan. With the line limit, no sum of a
/// visit's lines can come near overflowing.
pub const LINE_AMOUNT_MAX: yibao_domain::Money = yibao_domain::Money::yuan(100_000_000);

/// One line as the institution sends it.
#[derive(Debug, Clone)]
pub struct LineUpload {
    pub serial: String,
    pub batch: String,
    pub code: String,
    pub his_code: String,
    pub price: UnitPrice,
    pub quantity: Quantity,
    pub amount: Money,
    pub occurred_at: DateTime,
    pub refund_of: Option<String>,
    pub rx_no: String,
    pub dept_code: String,
    pub dept_name: String,
    pub doctor_code: String,
    pub doctor_name: String,
}

impl LineUpload {
    /// A line billed at a counter: `quantity` of catalogue item `code` at `price` (the HIS code
    /// is the catalogue code), no prescription, department or doctor.
    pub fn plain(
        serial: impl Into<String>,
        batch: impl Into<String>,
        code: &str,
        price: UnitPrice,
        quantity: Quantity,
        occurred_at: DateTime,
    ) -> LineUpload {
        LineUpload {
            serial: serial.into(),
            batch: batch.into(),
            code: code.to_string(),
            his_code: code.to_string(),
            price,
            quantity,
            amount: price.times(quantity),
            occurred_at,
            refund_of: None,
            rx_no: String::new(),
            dept_code: String::new(),
            dept_name: String::new(),
            doctor_code: String::new(),
            doctor_name: String::new(),
        }
    }
}

/// 2204 门诊费用明细信息上传 / 2301 住院费用明细上传.
#[derive(Debug, Clone)]
pub struct UploadLines {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub mdtrt_id: MdtrtId,
    /// The kind of visit the caller means (2204 outpatient, 2301 inpatient), or `None`: the
    /// visit's own kind.
    pub kind: Option<VisitKind>,
    pub lines: Vec<LineUpload>,
}

impl Command for UploadLines {
    fn name(&self) -> &'static str {
        "upload-lines"
    }

    /// The visit's row and the lines this upload names, never the visit's other lines: the
    /// work of an upload does not grow with what the visit already holds.
    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.visit_rows.insert(self.mdtrt_id.clone());
        for upload in &self.lines {
            keys.lines.insert((self.mdtrt_id.clone(), upload.serial.clone()));
        }
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let visit = own_visit(ws, &self.mdtrt_id, &self.psn_no, &self.institution)?;
        if let Some(kind) = self.kind
            && visit.kind != kind
        {
            return Err(wrong_kind(&visit, kind));
        }
        if visit.status == VisitStatus::Cancelled {
            return Err(cancelled(&visit));
        }
        if visit.kind == VisitKind::Outpatient && visit.status != VisitStatus::Open {
            return Err(cancelled(&visit));
        }
        if self.lines.is_empty() {
            return Err(EngineError::invalid("费用明细feedetail不能为空", "feedetail must hold at least one line"));
        }
        let max = lines_max(visit.kind);
        let held = ws.line_count(&visit.mdtrt_id)?;
        if held + self.lines.len() > max {
            let (kind_zh, kind_en) = match visit.kind {
                VisitKind::Inpatient => ("住院", "an inpatient stay"),
                _ => ("门诊", "an outpatient visit"),
            };
            return Err(EngineError::refused(
                format!("单次{kind_zh}就诊费用明细不能超过{max}条（已上传{held}条，本次{}条）", self.lines.len()),
                format!("{kind_en} holds at most {max} lines ({held} held, {} sent)", self.lines.len()),
            ));
        }
        // A refund is checked against the lines it refunds and the refunds before it: only then
        // is the whole visit read (bounded by the limit above).
        let existing = match self.lines.iter().any(|upload| upload.refund_of.is_some()) {
            true => ws.lines(&visit.mdtrt_id)?,
            false => Vec::new(),
        };
        let mut seen = std::collections::HashSet::with_capacity(self.lines.len());
        let mut stored = Vec::with_capacity(self.lines.len());
        for (index, upload) in self.lines.iter().enumerate() {
            let taken = !seen.insert(upload.serial.as_str())
                || ws.line(&visit.mdtrt_id, &upload.serial)?.is_some_and(|line| line.state != LineState::Revoked);
            let line = self.line(ctx, upload, index, taken, &existing, &stored)?;
            ws.put_line(line.clone())?;
            stored.push(line);
        }
        Ok(Outcome::Lines { visit: Box::new(visit), lines: stored })
    }
}

impl UploadLines {
    fn line(
        &self,
        ctx: &Context<'_>,
        upload: &LineUpload,
        index: usize,
        taken: bool,
        existing: &[FeeLine],
        earlier: &[FeeLine],
    ) -> Result<FeeLine, EngineError> {
        let serial = &upload.serial;
        let at = || format!("第{}条明细（feedetl_sn={serial}）", index + 1);
        if taken {
            return Err(EngineError::conflict(
                format!("{}：明细流水号已存在", at()),
                format!("line {}: feedetl_sn {serial} already exists in visit {}", index + 1, self.mdtrt_id),
            ));
        }
        if upload.quantity.is_zero() {
            return Err(EngineError::invalid(
                format!("{}：数量cnt不能为0", at()),
                format!("line {}: cnt must not be zero", index + 1),
            ));
        }
        if upload.amount.abs() > LINE_AMOUNT_MAX {
            return Err(EngineError::invalid(
                format!("{}：明细金额{}超过单条上限{}元", at(), upload.amount, LINE_AMOUNT_MAX),
                format!(
                    "line {}: det_item_fee_sumamt {} exceeds the limit of {} yuan",
                    index + 1,
                    upload.amount,
                    LINE_AMOUNT_MAX
                ),
            ));
        }
        let computed = upload.price.times(upload.quantity);
        if (computed - upload.amount).abs() > Money::from_fen(1) {
            return Err(EngineError::invalid(
                format!(
                    "{}：明细金额{}与单价{}×数量{}={}不符",
                    at(),
                    upload.amount,
                    upload.price,
                    upload.quantity,
                    computed
                ),
                format!(
                    "line {}: det_item_fee_sumamt {} is not pric {} × cnt {} = {}",
                    index + 1,
                    upload.amount,
                    upload.price,
                    upload.quantity,
                    computed
                ),
            ));
        }
        match (&upload.refund_of, upload.quantity.is_negative()) {
            (None, true) => {
                return Err(EngineError::invalid(
                    format!("{}：数量为负的退费明细须传原明细流水号init_feedetl_sn", at()),
                    format!("line {}: a negative cnt is a refund and needs init_feedetl_sn", index + 1),
                ));
            }
            (Some(_), false) => {
                return Err(EngineError::invalid(
                    format!("{}：退费明细的数量cnt须为负数", at()),
                    format!("line {}: a refund line (init_feedetl_sn) needs a negative cnt", index + 1),
                ));
            }
            (Some(original), true) => self.check_refund(upload, original, index, existing, earlier)?,
            (None, false) => {}
        }
        let day = upload.occurred_at.date();
        let entry = ctx.catalogue.lookup(&upload.code, day);
        let split = split_line(
            &LineInput {
                serial: serial.clone(),
                code: upload.code.clone(),
                price: upload.price,
                quantity: upload.quantity,
                amount: upload.amount,
            },
            entry.map(|entry| entry.item()).as_ref(),
        );
        Ok(FeeLine {
            mdtrt_id: self.mdtrt_id.clone(),
            serial: serial.clone(),
            psn_no: self.psn_no.clone(),
            batch: upload.batch.clone(),
            code: upload.code.clone(),
            his_code: upload.his_code.clone(),
            name: entry.map_or_else(|| upload.code.clone(), |entry| entry.name.clone()),
            price: upload.price,
            quantity: upload.quantity,
            amount: upload.amount,
            occurred_at: upload.occurred_at,
            refund_of: upload.refund_of.clone(),
            class: split.class,
            selfpay_ratio: split.selfpay_ratio,
            price_cap: split.price_cap,
            fully_selfpaid: split.fully_selfpaid,
            over_limit: split.over_limit,
            first_selfpay: split.first_selfpay,
            in_scope: split.in_scope,
            state: LineState::Unsettled,
            rx_no: upload.rx_no.clone(),
            dept_code: upload.dept_code.clone(),
            dept_name: upload.dept_name.clone(),
            doctor_code: upload.doctor_code.clone(),
            doctor_name: upload.doctor_name.clone(),
            steps: split.steps,
        })
    }

    fn check_refund(
        &self,
        upload: &LineUpload,
        original: &str,
        index: usize,
        existing: &[FeeLine],
        earlier: &[FeeLine],
    ) -> Result<(), EngineError> {
        let all = || existing.iter().chain(earlier).filter(|l| l.state != LineState::Revoked);
        let Some(sale) = all().find(|l| l.serial == original && l.refund_of.is_none()) else {
            return Err(EngineError::not_found(
                format!("第{}条明细：原明细流水号{original}不存在", index + 1),
                format!("line {}: init_feedetl_sn {original} is not a line of visit {}", index + 1, self.mdtrt_id),
            ));
        };
        if sale.code != upload.code {
            return Err(EngineError::invalid(
                format!("第{}条明细：退费项目{}与原明细项目{}不一致", index + 1, upload.code, sale.code),
                format!("line {}: refund of {} names item {}", index + 1, sale.code, upload.code),
            ));
        }
        let refunded: i64 =
            all().filter(|l| l.refund_of.as_deref() == Some(original)).map(|l| l.quantity.ten_thousandths()).sum();
        let left = sale.quantity.ten_thousandths() + refunded;
        if upload.quantity.abs().ten_thousandths() > left {
            return Err(Refusal::RefundExceedsLine {
                line: index + 1,
                refunded: upload.quantity.abs(),
                original: original.to_string(),
                left: Quantity::from_ten_thousandths(left),
            }
            .into());
        }
        Ok(())
    }
}

/// Which unsettled lines to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeScope {
    /// Every unsettled line (`"0000"`).
    All,
    /// The lines of one charge batch (`chrg_bchno`).
    Batch(String),
    /// One line (`feedetl_sn`).
    Line(String),
}

/// 2205 门诊费用明细信息撤销 / 2302 住院费用明细撤销.
#[derive(Debug, Clone)]
pub struct RevokeLines {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub mdtrt_id: MdtrtId,
    pub kind: VisitKind,
    pub scope: RevokeScope,
}

impl Command for RevokeLines {
    fn name(&self) -> &'static str {
        "revoke-lines"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.visits.insert(self.mdtrt_id.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, _ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let visit = own_visit(ws, &self.mdtrt_id, &self.psn_no, &self.institution)?;
        if visit.kind != self.kind {
            return Err(wrong_kind(&visit, self.kind));
        }
        let chosen: Vec<FeeLine> = ws
            .lines(&visit.mdtrt_id)?
            .into_iter()
            .filter(|line| line.state != LineState::Revoked)
            .filter(|line| match &self.scope {
                RevokeScope::All => line.state == LineState::Unsettled,
                RevokeScope::Batch(batch) => &line.batch == batch,
                RevokeScope::Line(serial) => &line.serial == serial,
            })
            .collect();
        if chosen.is_empty() {
            let (zh, en) = match &self.scope {
                RevokeScope::All => ("没有可撤销的未结算明细".to_string(), "no unsettled lines to revoke".to_string()),
                RevokeScope::Batch(batch) => {
                    (format!("收费批次号{batch}无可撤销明细"), format!("no lines in charge batch {batch}"))
                }
                RevokeScope::Line(serial) => (format!("明细流水号{serial}不存在"), format!("no line {serial}")),
            };
            return Err(EngineError::not_found(zh, en));
        }
        if let Some(settled) = chosen.iter().find(|line| line.state != LineState::Unsettled) {
            return Err(EngineError::conflict(
                format!("明细{}已结算，请先撤销结算", settled.serial),
                format!("line {} is settled; cancel the settlement first", settled.serial),
            ));
        }
        let mut revoked = Vec::with_capacity(chosen.len());
        for mut line in chosen {
            line.state = LineState::Revoked;
            ws.put_line(line.clone())?;
            revoked.push(line);
        }
        Ok(Outcome::Lines { visit: Box::new(visit), lines: revoked })
    }
}

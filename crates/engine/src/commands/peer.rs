//! Cross-region treatment across two deployments (异地就医, R8): the treating region's
//! deployment keeps the visit and its lines and knows the person only as a guest; the insured
//! region's deployment (its peer) prices the bill by its own policy, pays from its fund and the
//! person's account, and records what it owes the treating region. Each side posts its own half
//! of the inter-region claim; their settlement records carry the same id.

use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode, TransferId};

use super::settle::{Settle, SettleRequest, Treated, settle};
use super::{Command, Context, Outcome, SettlementOutcome};
use crate::error::EngineError;
use crate::records::{FeeLine, Institution, LineState, Person, PersonStatus, Settlement, SettlementStatus, Visit};
use crate::working_set::{Keys, WorkingSet};

/// The treating side: records (or refreshes) a person a peer insures, as a guest.
#[derive(Debug, Clone)]
pub struct RegisterGuest {
    pub person: Person,
}

impl Command for RegisterGuest {
    fn name(&self) -> &'static str {
        "register-guest"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.person.psn_no.clone());
        keys.id_numbers.insert(self.person.id_number.expose().to_string());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, _ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let psn_no = &self.person.psn_no;
        let local = |what: String| {
            Err(EngineError::conflict(
                format!("{what}属于本地参保人，不能登记为异地参保人"),
                format!("{what} belongs to a person insured here"),
            ))
        };
        if let Some(existing) = ws.person(psn_no)?
            && existing.status != PersonStatus::Guest
        {
            return local(format!("人员编号{psn_no}"));
        }
        if let Some(other) = ws.person_number(self.person.id_number.expose())?
            && &other != psn_no
        {
            return local(format!("身份证号{}", self.person.id_number));
        }
        let guest = Person { status: PersonStatus::Guest, account_frozen: false, ..self.person.clone() };
        ws.put_person(guest.clone());
        Ok(Outcome::Person(Box::new(guest)))
    }
}

/// The insured side: settles a peer institution's bill for one of our persons. The visit and
/// its lines are the treating side's records, copied here; the settlement is ours.
#[derive(Debug, Clone)]
pub struct PeerSettle {
    pub institution: Institution,
    pub visit: Visit,
    pub lines: Vec<FeeLine>,
    /// The bill, settled as treated by a peer.
    pub settle: SettleRequest,
    pub msgid: yibao_domain::MsgId,
}

impl PeerSettle {
    fn command(&self) -> Settle {
        Settle::new(self.settle.clone(), self.msgid.clone(), Treated::ByPeer)
    }
}

impl Command for PeerSettle {
    fn name(&self) -> &'static str {
        "peer-settle"
    }

    fn keys(&self) -> Keys {
        let mut keys = self.command().keys();
        keys.institutions.insert(self.institution.code.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let code = &self.institution.code;
        if self.visit.institution != *code || self.settle.institution != *code {
            return Err(EngineError::invalid("就诊记录与机构不一致", "the visit belongs to another institution"));
        }
        if self.visit.mdtrt_id != self.settle.mdtrt_id || self.visit.psn_no != self.settle.psn_no {
            return Err(EngineError::invalid(
                "结算请求与就诊记录不一致",
                "the settlement names another visit or person",
            ));
        }
        if self.lines.iter().any(|line| line.mdtrt_id != self.visit.mdtrt_id) {
            return Err(EngineError::invalid("费用明细不属于该次就诊", "a line belongs to another visit"));
        }
        match ws.institution(code)? {
            Some(known) if known.admdvs != self.institution.admdvs => {
                return Err(EngineError::conflict(
                    format!("定点医药机构{code}的统筹区与本地登记不符"),
                    format!("institution {code} is registered here in another region"),
                ));
            }
            Some(_) => {}
            None => {
                if ws.region(&self.institution.admdvs)?.is_none() {
                    return Err(EngineError::not_found(
                        format!("统筹区{}不存在", self.institution.admdvs),
                        format!("no region {}", self.institution.admdvs),
                    ));
                }
                ws.put_institution(self.institution.clone());
            }
        }
        // Our copies of the visit and its lines, once made, are ours: a line we settled stays
        // settled whatever the treating side still shows (a second 2207 under another msgid
        // finds nothing left to pay). New lines are added; a changed one is refused.
        match ws.visit(&self.visit.mdtrt_id)? {
            Some(known) if known.psn_no != self.visit.psn_no || known.institution != self.visit.institution => {
                return Err(EngineError::conflict("就诊ID已被占用", "the visit id is taken by another visit"));
            }
            Some(_) => {}
            None => ws.insert_visit(self.visit.clone()),
        }
        let ours = ws.lines(&self.visit.mdtrt_id)?;
        for line in &self.lines {
            match ours.iter().find(|known| known.serial == line.serial) {
                None => ws.put_line(line.clone())?,
                Some(known)
                    if known.code == line.code && known.price == line.price && known.quantity == line.quantity =>
                {
                    if known.state != LineState::Revoked && line.state == LineState::Revoked {
                        let mut revoked = known.clone();
                        revoked.state = LineState::Revoked;
                        if known.state == LineState::Unsettled {
                            ws.put_line(revoked)?;
                        }
                    }
                }
                Some(_) => {
                    return Err(EngineError::conflict(
                        format!("费用明细{}与已结算的记录不一致", line.serial),
                        format!("line {} differs from the copy settled before", line.serial),
                    ));
                }
            }
        }
        settle(&self.command(), ws, ctx).map(|outcome| Outcome::Settlement(Box::new(outcome)))
    }
}

/// The treating side: records what the insured region's deployment settled for a guest, and
/// posts this side's half: the institution is owed the fund's and the account's parts, and
/// the insured region owes them to us.
#[derive(Debug, Clone)]
pub struct RecordPeerSettlement {
    pub settlement: Settlement,
}

fn guest(ws: &mut WorkingSet<'_>, settlement: &Settlement) -> Result<Person, EngineError> {
    match ws.person(&settlement.psn_no)? {
        Some(person) if person.status == PersonStatus::Guest && person.admdvs == settlement.insured_admdvs => {
            Ok(person)
        }
        _ => Err(EngineError::invalid(
            format!("人员{}不是参保地{}的异地就医人员", settlement.psn_no, settlement.insured_admdvs),
            format!("{} is not a guest insured in {}", settlement.psn_no, settlement.insured_admdvs),
        )),
    }
}

fn settlement_transfer(settlement: &Settlement, ctx: &Context<'_>, reverse: bool) -> Option<Transfer> {
    let owed = settlement.amounts.insurer_part();
    if !owed.is_positive() {
        return None;
    }
    let receivable = AccountKey::InterRegionReceivable {
        creditor: settlement.treated_admdvs.clone(),
        debtor: settlement.insured_admdvs.clone(),
    };
    let payable = AccountKey::InstitutionPayable(settlement.institution.clone());
    let postings = vec![Posting::debit(receivable, owed), Posting::credit(payable, owed)];
    Some(Transfer {
        id: TransferId::new(format!("setl/{}", settlement.setl_id)),
        code: TransferCode::Settlement,
        at: ctx.now,
        reference: settlement.setl_id.to_string(),
        postings: match reverse {
            false => postings,
            true => postings.into_iter().map(Posting::reversed).collect(),
        },
    })
}

impl Command for RecordPeerSettlement {
    fn name(&self) -> &'static str {
        "record-peer-settlement"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.settlement.psn_no.clone());
        keys.visits.insert(self.settlement.mdtrt_id.clone());
        keys.settlements.insert(self.settlement.setl_id.clone());
        keys.accounts.insert(AccountKey::InstitutionPayable(self.settlement.institution.clone()));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let settlement = &self.settlement;
        let person = guest(ws, settlement)?;
        if settlement.status != SettlementStatus::Normal || ws.settlement(&settlement.setl_id)?.is_some() {
            return Err(EngineError::conflict(
                format!("结算ID{}已存在", settlement.setl_id),
                format!("settlement {} is already recorded", settlement.setl_id),
            ));
        }
        let Some(mut visit) = ws.visit(&settlement.mdtrt_id)? else {
            return Err(EngineError::not_found(
                format!("就诊ID{}不存在", settlement.mdtrt_id),
                format!("no visit {}", settlement.mdtrt_id),
            ));
        };
        if visit.psn_no != settlement.psn_no || visit.institution != settlement.institution {
            return Err(EngineError::invalid("结算与就诊记录不一致", "the settlement does not match the visit"));
        }
        let mut lines = Vec::with_capacity(settlement.lines.len());
        for (mdtrt_id, serial) in &settlement.lines {
            let found = ws.line(mdtrt_id, serial)?;
            let Some(mut line) = found.filter(|line| line.state == LineState::Unsettled) else {
                return Err(EngineError::conflict(
                    format!("费用明细{serial}不存在或已结算"),
                    format!("line {serial} of {mdtrt_id} is missing or already settled"),
                ));
            };
            line.state = LineState::Settled(settlement.setl_id.clone());
            ws.put_line(line.clone())?;
            lines.push(line);
        }
        visit.med_type = Some(settlement.med_type);
        ws.put_visit(visit.clone());
        if let Some(transfer) = settlement_transfer(settlement, ctx, false) {
            for posting in &transfer.postings {
                ws.open_account(posting.account.clone())?;
            }
            ws.post(transfer)?;
        }
        // The person's year-to-date lives with the insured region; the record is dated when it
        // lands here, so it always falls on a day not yet cleared.
        let recorded = Settlement { change: Default::default(), at: ctx.now, ..settlement.clone() };
        ws.put_settlement(recorded.clone())?;
        Ok(Outcome::Settlement(Box::new(SettlementOutcome {
            settlement: recorded,
            cancelled: None,
            person,
            visit,
            lines,
            warnings: Vec::new(),
        })))
    }
}

/// The treating side: records the insured region's cancellation of a guest's settlement and
/// reverses this side's half.
#[derive(Debug, Clone)]
pub struct RecordPeerCancellation {
    pub mirror: Settlement,
}

impl Command for RecordPeerCancellation {
    fn name(&self) -> &'static str {
        "record-peer-cancellation"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.insert(self.mirror.psn_no.clone());
        keys.visits.insert(self.mirror.mdtrt_id.clone());
        keys.settlements.insert(self.mirror.setl_id.clone());
        if let SettlementStatus::Mirror { of } = &self.mirror.status {
            keys.settlements.insert(of.clone());
        }
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mirror = &self.mirror;
        let SettlementStatus::Mirror { of } = &mirror.status else {
            return Err(EngineError::invalid("不是撤销记录", "not a cancellation record"));
        };
        let person = guest(ws, mirror)?;
        let Some(original) = ws.settlement(of)?.filter(Settlement::is_in_force) else {
            return Err(EngineError::conflict(
                format!("结算ID{of}不存在或已撤销"),
                format!("settlement {of} is not in force here"),
            ));
        };
        if ws.settlement(&mirror.setl_id)?.is_some() {
            return Err(EngineError::conflict(
                format!("结算ID{}已存在", mirror.setl_id),
                format!("settlement {} is already recorded", mirror.setl_id),
            ));
        }
        if let Some(transfer) = settlement_transfer(&original, ctx, true) {
            ws.post(Transfer {
                id: TransferId::new(format!("setl-cancel/{}", original.setl_id)),
                code: TransferCode::SettlementCancel,
                ..transfer
            })?;
        }
        let mut lines = Vec::new();
        for (mdtrt_id, serial) in &original.lines {
            let found = ws.line(mdtrt_id, serial)?;
            if let Some(mut line) = found
                && line.state == LineState::Settled(original.setl_id.clone())
            {
                line.state = LineState::Unsettled;
                ws.put_line(line.clone())?;
                lines.push(line);
            }
        }
        let mut cancelled = original.clone();
        cancelled.status = SettlementStatus::Cancelled { by: mirror.setl_id.clone() };
        ws.put_settlement(cancelled.clone())?;
        let recorded = Settlement { change: Default::default(), at: ctx.now, ..mirror.clone() };
        ws.put_settlement(recorded.clone())?;
        let visit = ws.visit(&original.mdtrt_id)?.ok_or_else(|| EngineError::internal("settled visit vanished"))?;
        Ok(Outcome::Settlement(Box::new(SettlementOutcome {
            settlement: recorded,
            cancelled: Some(cancelled),
            person,
            visit,
            lines,
            warnings: Vec::new(),
        })))
    }
}

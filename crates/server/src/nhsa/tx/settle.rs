//! Pre-settlement and settlement (2206/2207, 2303/2304), pharmacy purchases (2101/2102),
//! cancellations (2208, 2305, 2103) and reversal by message id (2601).

use serde_json::{Value, json};
use yibao_app::{PurchaseRequest, SettlementRef};
use yibao_domain::{InsuranceType, MedType, Money, MsgId};
use yibao_engine::Outcome;
use yibao_engine::commands::{RecordPeerCancellation, RecordPeerSettlement, Reverse, SettleRequest, Treated};
use yibao_engine::records::{Effect, Person, PersonStatus, VisitKind};

use super::input::{certificate, data, person_no};
use super::visits::read_lines;
use crate::nhsa::fields::LINES_PER_MESSAGE_MAX;
use crate::nhsa::render::{line_result, settlement_output};
use crate::nhsa::{Answer, Call, NhsaError, WarnedOutput};

/// The settlement's output, with what the engine remarked on as `warn_msg`.
fn settlement_answer(msgid: String, settled: bool) -> WarnedOutput {
    Box::new(move |outcome| match outcome {
        Outcome::Settlement(settlement) => (
            settlement_output(settlement, settled, &msgid),
            settlement.warnings.iter().map(|warning| warning.zh.clone()).collect(),
        ),
        _ => (Value::Null, Vec::new()),
    })
}

/// 2206/2207 (outpatient) and 2303/2304 (inpatient); `settled` is false for the pre-settlement.
pub async fn settle(call: &Call, kind: VisitKind, settled: bool) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let psn_no = person_no(&data)?;
    let mdtrt_id: yibao_domain::MdtrtId = data.required("mdtrt_id")?;
    let declared: Money = data.required_number("medfee_sumamt")?;
    let use_account = data.flag("acct_used_flag", false)?;
    let mid_stay = kind == VisitKind::Inpatient && data.flag("mid_setl_flag", false)?;
    let request = SettleRequest {
        kind: Some(kind),
        insurance: data.parse::<InsuranceType>("insutype")?,
        med_type: data.parse::<MedType>("med_type")?,
        batch: data.text("chrg_bchno")?,
        declared_medfee: Some(declared),
        use_account,
        mid_stay,
        invoice_no: data.text("invono")?.unwrap_or_default(),
        certificate: certificate(&data, false)?,
        ..SettleRequest::new(call.institution.code.clone(), psn_no, mdtrt_id)
    };
    let msgid = call.envelope.msgid.to_string();
    if let Some(guest) = guest(call, &request.psn_no).await? {
        return settle_with_peer(call, &request, &guest, settled).await;
    }
    let store = &call.app.store;
    match settled {
        true => {
            let run = call.commit(true, call.warned_render(settlement_answer(msgid, true)));
            let reply = yibao_app::settle(store, request, Treated::Here, run).await?;
            Call::body(reply).map(Answer::Body)
        }
        false => {
            if let Some(stored) = call.stored_answer().await? {
                return Ok(Answer::Body(stored));
            }
            let reply = yibao_app::settle(store, request, Treated::Here, yibao_app::Run::Preview).await?;
            call.previewed(reply, settlement_answer(msgid, false)).await
        }
    }
}

/// The person, when a peer deployment insures them (a guest here).
async fn guest(call: &Call, psn_no: &yibao_domain::PersonNo) -> Result<Option<Person>, NhsaError> {
    if call.app.peers.is_empty() {
        return Ok(None);
    }
    let lookup = psn_no.clone();
    let person = call.app.store.read(move |r| r.person(&lookup)).await?;
    Ok(person.filter(|person| person.status == PersonStatus::Guest))
}

/// A guest's bill: the insured region's deployment prices and pays it; this side records the
/// settlement (2207) or only shows it (2206). A peer that does not answer leaves nothing here.
async fn settle_with_peer(
    call: &Call,
    request: &SettleRequest,
    guest: &Person,
    settled: bool,
) -> Result<Answer, NhsaError> {
    if let Some(stored) = call.stored_answer().await? {
        return Ok(Answer::Body(stored));
    }
    let remote = crate::peer::RemoteSettle {
        request,
        msgid: &call.envelope.msgid,
        guest,
        dry_run: !settled,
        infno: &call.envelope.infno,
        request_hash: &call.envelope.request_hash,
    };
    let settlement = crate::peer::settle(&call.app, &call.institution, remote).await.map_err(NhsaError::new)?;
    let msgid = call.envelope.msgid.to_string();
    let record = RecordPeerSettlement { settlement };
    if settled {
        let paid = record.settlement.clone();
        let refusal = match call.write_warned(record, false, settlement_answer(msgid, true)).await {
            Ok(answer) => return Ok(answer),
            Err(refusal) => refusal,
        };
        return undo_at_peer(call, &paid, refusal).await;
    }
    // The pre-settlement: shown as this side would record it, nothing stored.
    match call.app.store.dry_run(yibao_engine::Submission::plain(record)).await? {
        yibao_engine::Reply::Done { outcome, .. } => {
            let (value, warnings) = settlement_answer(msgid, false)(&outcome);
            call.answer_warned(value, &warnings).await
        }
        yibao_engine::Reply::Replayed(body) => Ok(Answer::Body(body)),
    }
}

/// 2101/2102: the pharmacy's lines come with the message.
pub async fn purchase(call: &Call, settled: bool) -> Result<Answer, NhsaError> {
    let input = call.input()?;
    let data = input.object("data")?;
    let lines = input.list("feedetail", LINES_PER_MESSAGE_MAX)?;
    let lines = read_lines(call, &lines, false)?;
    let psn_no = person_no(&data)?;
    if let Some(other) = lines.person.filter(|p| p != &psn_no) {
        return Err(NhsaError::new(format!("input.feedetail的psn_no {other}与input.data.psn_no {psn_no}不一致")));
    }
    // Read in the order an HIS has always had its first missing field named.
    let insurance = data.required("insutype")?;
    let med_type = data.parse("med_type")?.unwrap_or(MedType::PHARMACY);
    let certificate = certificate(&data, true)?.expect("required");
    let his_no = data.text("ipt_otp_no")?.unwrap_or_default();
    let begin = data.time("begntime")?.unwrap_or_else(|| call.now());
    let declared_medfee = Some(data.required_number("medfee_sumamt")?);
    let use_account = data.flag("acct_used_flag", false)?;
    let invoice_no = data.text("invono")?.unwrap_or_default();
    let request = PurchaseRequest {
        med_type,
        his_no,
        declared_medfee,
        use_account,
        invoice_no,
        insured_admdvs: call.envelope.insuplc_admdvs.clone(),
        ..PurchaseRequest::new(call.institution.code.clone(), psn_no, insurance, certificate, lines.uploads, begin)
    };
    let command = yibao_app::settlement::purchase(request, call.envelope.msgid.clone());
    let msgid = call.envelope.msgid.to_string();
    let catalogue = call.app.store.catalogue();
    let output: WarnedOutput = Box::new(move |outcome| match outcome {
        Outcome::Settlement(settlement) => {
            let mut output = settlement_output(settlement, settled, &msgid);
            output["detlcutinfo"] = settlement.lines.iter().map(|line| line_result(line, &catalogue)).collect();
            (output, settlement.warnings.iter().map(|warning| warning.zh.clone()).collect())
        }
        _ => (Value::Null, Vec::new()),
    });
    match settled {
        true => call.write_warned(command, true, output).await,
        false => call.preview(command, output).await,
    }
}

/// 2208, 2305, 2103.
pub async fn cancel(call: &Call, kind: VisitKind) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let settlement = SettlementRef {
        institution: call.institution.code.clone(),
        psn_no: person_no(&data)?,
        setl_id: data.required("setl_id")?,
    };
    let visit = data.parse("mdtrt_id")?;
    if guest(call, &settlement.psn_no).await?.is_some() {
        return cancel_with_peer(call, &settlement).await;
    }
    let command = yibao_app::settlement::cancel(settlement, visit, Some(kind), call.envelope.msgid.clone());
    call.write_warned(command, false, settlement_answer(call.envelope.msgid.to_string(), true)).await
}

/// The insured side paid but this side could not record it (the lines changed meanwhile, the
/// msgid was taken, the store failed): the insured side cancels its payment, under a msgid of
/// its own, and this msgid keeps the refusal, so a retry of it can never record a settlement
/// that no longer exists. If even that fails, the outcome stays open and a retry of the same
/// msgid finishes it.
async fn undo_at_peer(
    call: &Call,
    paid: &yibao_engine::records::Settlement,
    refusal: NhsaError,
) -> Result<Answer, NhsaError> {
    let original = call.envelope.msgid.as_str();
    let undo: MsgId = match original.len() < 64 {
        true => format!("U{original}"),
        false => format!("U{}", &call.envelope.request_hash[..32]),
    }
    .parse()
    .map_err(|_| NhsaError::new("医保服务内部错误：无法生成撤销报文ID"))?;
    let hash = format!("undo-{}", call.envelope.request_hash);
    match crate::peer::cancel(&call.app, &call.institution, paid, &undo, &hash).await {
        Ok(_) => {
            let message = format!("{}；参保地已撤销其结算，本次结算未办理，请用新的报文ID重新结算", refusal.message);
            let body = call.meta.failure(&message);
            let stored = body.clone();
            call.submit(yibao_engine::commands::RecordRead, false, Box::new(move |_| stored.clone())).await?;
            Ok(Answer::Body(body))
        }
        Err(problem) => {
            tracing::error!(setl_id = %paid.setl_id, %problem, "a peer settlement is recorded there but not here");
            Err(NhsaError::new(format!(
                "{}；参保地已结算而本地未能记录，撤销也未成功，请用同一报文ID重发以完成办理",
                refusal.message
            )))
        }
    }
}

/// A guest's cancellation: the insured region's deployment cancels first, then this side
/// records the mirror and reverses its half.
async fn cancel_with_peer(call: &Call, settlement: &SettlementRef) -> Result<Answer, NhsaError> {
    if let Some(stored) = call.stored_answer().await? {
        return Ok(Answer::Body(stored));
    }
    let setl_id = settlement.setl_id.clone();
    let original = call.app.store.read(move |r| r.settlement(&setl_id)).await?;
    let original = original
        .filter(|s| s.institution == settlement.institution && s.psn_no == settlement.psn_no)
        .ok_or_else(|| NhsaError::new(format!("结算ID{}不存在", settlement.setl_id)))?;
    if !original.is_in_force() {
        return Err(NhsaError::new(format!("结算ID{}已撤销", original.setl_id)));
    }
    let mirror =
        crate::peer::cancel(&call.app, &call.institution, &original, &call.envelope.msgid, &call.envelope.request_hash)
            .await
            .map_err(NhsaError::new)?;
    call.write_warned(
        RecordPeerCancellation { mirror },
        false,
        settlement_answer(call.envelope.msgid.to_string(), true),
    )
    .await
}

/// 2601: reverses the message `omsgid` (a settlement is cancelled, a registration or
/// admission undone, uploaded lines revoked); an unknown `omsgid` is marked so that it is
/// refused if it ever arrives.
pub async fn reverse(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let omsgid: MsgId = data.required("omsgid")?;
    // A message id names its sender: another institution's message is not this one's to reverse
    // (nor to block before it arrives).
    crate::nhsa::check_msgid_form(&omsgid, &call.institution.code)
        .map_err(|_| NhsaError::new(format!("原报文ID omsgid {omsgid}不是本机构{}的报文ID", call.institution.code)))?;
    let oinfno = data.required_text("oinfno")?;
    let command = Reverse {
        institution: call.institution.code.clone(),
        psn_no: data.parse("psn_no")?,
        omsgid,
        oinfno,
        msgid: call.envelope.msgid.clone(),
    };
    call.write(
        command,
        false,
        Box::new(|outcome| match outcome {
            Outcome::Reversed { omsgid, effect } => {
                let (reversed, what) = match effect {
                    Effect::Settled(setl_id) => ("1", json!({"setl_id": setl_id.as_str()})),
                    Effect::OpenedVisit(mdtrt_id) => ("1", json!({"mdtrt_id": mdtrt_id.as_str()})),
                    Effect::AddedLines { mdtrt_id, serials } => {
                        ("1", json!({"mdtrt_id": mdtrt_id.as_str(), "feedetl_sn": serials}))
                    }
                    _ => ("0", Value::Null),
                };
                json!({"data": {
                    "omsgid": omsgid.as_str(),
                    "rvs_stas": reversed,
                    "rvs_dscr": if reversed == "1" { "冲正成功" } else { "原交易未到达，已登记冲正，原报文将被拒绝" },
                    "rvs_obj": what,
                }})
            }
            _ => Value::Null,
        }),
    )
    .await
}

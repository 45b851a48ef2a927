//! The treating side: what the national interface asks of a peer.

use serde_json::json;
use yibao_domain::{Admdvs, Money, MsgId};
use yibao_engine::commands::SettleRequest;
use yibao_engine::records::{Certificate, Person, Settlement, VisitKind};
use yibao_store::exchange;

use super::client::{Peer, PeerError, call};
use crate::state::AppState;

/// The person a certificate names, from the peer holding `admdvs` (or from every peer when
/// that is not known), with their account balance there; registered here as a guest.
///
/// # Errors
/// The message for the HIS when a peer is unreachable or refuses; `Ok(None)` when no peer knows
/// the person.
pub async fn find_person(
    app: &AppState,
    caller: &Admdvs,
    region: Option<&Admdvs>,
    certificate: &Certificate,
    card_sn: Option<&str>,
) -> Result<Option<(Person, Money, Option<String>)>, String> {
    let candidates: Vec<&Peer> = match region.and_then(|region| app.peers.get(region)) {
        Some(peer) => vec![peer],
        None => app.peers.all().collect(),
    };
    let request = json!({"cert_type": certificate.kind.code(), "cert_no": certificate.number, "card_sn": card_sn});
    let mut unavailable = None;
    for peer in candidates {
        match call(peer, caller, "/peer/v1/person", &request).await {
            Ok(answer) if answer["person"].is_null() => continue,
            Ok(answer) => {
                let person = exchange::decode_person(&answer["person"])
                    .map_err(|error| format!("参保地{}返回的人员信息无法识别：{error}", peer.admdvs))?;
                if person.admdvs != peer.admdvs {
                    return Err(format!("参保地{}返回了其他统筹区的人员", peer.admdvs));
                }
                let balance: Money =
                    answer["balance"].as_str().and_then(|text| text.parse().ok()).unwrap_or(Money::ZERO);
                let employer = answer["employer_name"].as_str().map(str::to_string);
                app.store
                    .execute(yibao_engine::commands::RegisterGuest { person: person.clone() })
                    .await
                    .map_err(|error| error.zh)?;
                return Ok(Some((person, balance, employer)));
            }
            Err(PeerError::Refused(message)) => return Err(message),
            Err(error @ (PeerError::Unavailable(_) | PeerError::Unknown(_))) => {
                tracing::warn!(peer = %peer.admdvs, ?error, "peer unavailable");
                unavailable = Some(error.message(&peer.admdvs));
            }
        }
    }
    match unavailable {
        Some(message) => Err(message),
        None => Ok(None),
    }
}

/// What the treating side sends with a settlement.
#[derive(Debug)]
pub struct RemoteSettle<'a> {
    pub request: &'a SettleRequest,
    pub msgid: &'a MsgId,
    pub guest: &'a Person,
    pub dry_run: bool,
    pub infno: &'a str,
    pub request_hash: &'a str,
}

/// Asks the insured region's deployment to price and pay a guest's bill; its settlement.
///
/// # Errors
/// The message for the HIS.
pub async fn settle(
    app: &AppState,
    institution: &yibao_engine::records::Institution,
    remote: RemoteSettle<'_>,
) -> Result<Settlement, String> {
    let command = remote.request;
    let peer = app
        .peers
        .get(&remote.guest.admdvs)
        .ok_or_else(|| format!("参保地{}的医保系统未接入本系统，不能结算", remote.guest.admdvs))?;
    let mdtrt_id = command.mdtrt_id.clone();
    let (visit, lines) = app
        .store
        .read(move |r| Ok((r.visit(&mdtrt_id)?, r.lines_of(&mdtrt_id)?)))
        .await
        .map_err(|_| "医保服务暂时不可用，请稍后重试".to_string())?;
    let visit = visit.ok_or_else(|| format!("就诊ID{}不存在", command.mdtrt_id))?;
    if visit.kind != VisitKind::Outpatient || command.kind.is_some_and(|kind| kind != VisitKind::Outpatient) {
        return Err("跨系统异地就医目前只办理门诊结算（2206/2207）".to_string());
    }
    let shared = yibao_engine::records::Institution { gateway_secret: String::new(), ..institution.clone() };
    let request = json!({
        "dry_run": remote.dry_run,
        "msgid": remote.msgid.as_str(),
        "infno": remote.infno,
        "request_hash": remote.request_hash,
        "institution": exchange::institution(&shared),
        "visit": exchange::visit(&visit),
        "lines": lines.iter().map(exchange::line).collect::<Vec<_>>(),
        "settle": {
            "psn_no": command.psn_no.as_str(),
            "insutype": command.insurance.map(|i| i.to_string()),
            "med_type": command.med_type.map(|m| m.to_string()),
            "chrg_bchno": command.batch,
            "medfee_sumamt": command.declared_medfee.map(|m| m.to_string()),
            "acct_used_flag": command.use_account,
            "invono": command.invoice_no,
            "cert_type": command.certificate.as_ref().map(|c| c.kind.code()),
            "cert_no": command.certificate.as_ref().map(|c| c.number.clone()),
        },
    });
    let caller = institution.admdvs.clone();
    let answer = call(peer, &caller, "/peer/v1/settle", &request).await.map_err(|error| error.message(&peer.admdvs))?;
    let settlement = exchange::decode_settlement(&answer["settlement"])
        .map_err(|error| format!("参保地{}返回的结算结果无法识别：{error}", peer.admdvs))?;
    if settlement.psn_no != command.psn_no || settlement.mdtrt_id != command.mdtrt_id {
        return Err(format!("参保地{}返回的结算结果与本次结算不符", peer.admdvs));
    }
    Ok(settlement)
}

/// Asks the insured region's deployment to cancel a guest's settlement; the cancelling mirror.
///
/// # Errors
/// The message for the HIS.
pub async fn cancel(
    app: &AppState,
    institution: &yibao_engine::records::Institution,
    original: &Settlement,
    msgid: &MsgId,
    request_hash: &str,
) -> Result<Settlement, String> {
    let peer = app
        .peers
        .get(&original.insured_admdvs)
        .ok_or_else(|| format!("参保地{}的医保系统未接入本系统，不能撤销", original.insured_admdvs))?;
    let request = json!({
        "msgid": msgid.as_str(),
        "request_hash": request_hash,
        "institution": institution.code.as_str(),
        "psn_no": original.psn_no.as_str(),
        "setl_id": original.setl_id.as_str(),
    });
    let answer = call(peer, &institution.admdvs, "/peer/v1/cancel", &request)
        .await
        .map_err(|error| error.message(&peer.admdvs))?;
    let mirror = exchange::decode_settlement(&answer["mirror"])
        .map_err(|error| format!("参保地{}返回的撤销结果无法识别：{error}", peer.admdvs))?;
    match &mirror.status {
        yibao_engine::records::SettlementStatus::Mirror { of } if of == &original.setl_id => Ok(mirror),
        _ => Err(format!("参保地{}返回的撤销结果与原结算不符", peer.admdvs)),
    }
}

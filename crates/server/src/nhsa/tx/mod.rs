//! The transactions, by code. Each reads its `input` into domain types, runs a command (write)
//! or queries (read), and builds its `output` in the shapes of the real samples.

mod clearing;
mod input;
mod person;
mod queries;
mod reference;
mod settle;
mod visits;

pub use reference::SUPPORTED;

use serde_json::Value;
use yibao_engine::records::VisitKind;

use super::{Answer, Call, NhsaError};

pub async fn dispatch(call: &Call) -> Result<Answer, NhsaError> {
    check_insured_region(call)?;
    match call.envelope.infno.as_str() {
        "9001" => person::sign_in(call).await,
        "9002" => person::sign_out(call).await,
        "1101" => person::person_info(call).await,
        "2001" => person::eligibility(call).await,
        "1312" => reference::catalogue(call).await,
        "1319" => reference::selfpay_ratios(call).await,
        "1901" => reference::dictionary(call).await,
        "2201" => visits::register(call).await,
        "2202" => visits::cancel(call, VisitKind::Outpatient).await,
        "2203" | "2203A" => visits::upload_visit_info(call).await,
        "2204" => visits::upload_lines(call, VisitKind::Outpatient).await,
        "2205" => visits::revoke_outpatient_lines(call).await,
        "2401" => visits::admit(call).await,
        "2402" => visits::discharge(call).await,
        "2403" => visits::change_admission(call).await,
        "2404" => visits::cancel(call, VisitKind::Inpatient).await,
        "2405" => visits::undo_discharge(call).await,
        "2301" => visits::upload_lines(call, VisitKind::Inpatient).await,
        "2302" => visits::revoke_inpatient_lines(call).await,
        "2206" => settle::settle(call, VisitKind::Outpatient, false).await,
        "2207" => settle::settle(call, VisitKind::Outpatient, true).await,
        "2208" => settle::cancel(call, VisitKind::Outpatient).await,
        "2303" => settle::settle(call, VisitKind::Inpatient, false).await,
        "2304" => settle::settle(call, VisitKind::Inpatient, true).await,
        "2305" => settle::cancel(call, VisitKind::Inpatient).await,
        "2101" => settle::purchase(call, false).await,
        "2102" => settle::purchase(call, true).await,
        "2103" => settle::cancel(call, VisitKind::Pharmacy).await,
        "2601" => settle::reverse(call).await,
        "2503" => person::register_disease(call).await,
        "2504" => person::revoke_disease(call).await,
        "5201" => queries::visits(call).await,
        "5202" => queries::diagnoses(call).await,
        "5203" => queries::settlement(call).await,
        "5204" => queries::lines(call).await,
        "5205" => queries::special_disease_drugs(call).await,
        "5206" => queries::accumulators(call).await,
        "5301" => queries::registrations(call).await,
        "5302" => queries::designations(call).await,
        "3201" => clearing::reconcile_totals(call).await,
        "3202" => clearing::reconcile_detail(call).await,
        "9101" => clearing::upload(call).await,
        "9102" => clearing::download(call).await,
        other => Err(NhsaError::new(format!("不支持的交易编号infno：{other}"))),
    }
}

/// `insuplc_admdvs` is mandatory when the input names a person (§1.2, field 4).
fn check_insured_region(call: &Call) -> Result<(), NhsaError> {
    if call.envelope.insuplc_admdvs.is_some() {
        return Ok(());
    }
    let names_person = |node: &Value| match node {
        Value::Object(map) => map.get("psn_no").is_some_and(|v| !v.is_null() && v.as_str() != Some("")),
        Value::Array(items) => items.iter().any(|item| item.get("psn_no").is_some_and(|v| !v.is_null())),
        _ => false,
    };
    let input = &call.envelope.input;
    let names = names_person(input) || input.as_object().is_some_and(|map| map.values().any(names_person));
    match names {
        true => Err(NhsaError::new("insuplc_admdvs参保地医保区划不能为空（入参含人员编号psn_no时必填）")),
        false => Ok(()),
    }
}

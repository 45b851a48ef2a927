//! The transactions, by code. Each reads its `input` into domain types, runs a command (write)
//! or queries (read), and builds its `output` in the shapes of the real samples.

mod clearing;
mod input;
mod person;
mod queries;
mod reference;
mod settle;
mod visits;

use serde_json::Value;
use yibao_engine::records::VisitKind;

use super::infno::Infno;
use super::{Answer, Call, NhsaError};

pub async fn dispatch(call: &Call) -> Result<Answer, NhsaError> {
    check_insured_region(call)?;
    let Some(infno) = Infno::parse(&call.envelope.infno) else {
        return Err(NhsaError::new(format!("不支持的交易编号infno：{}", call.envelope.infno)));
    };
    match infno {
        Infno::SignIn => person::sign_in(call).await,
        Infno::SignOut => person::sign_out(call).await,
        Infno::PersonInfo => person::person_info(call).await,
        Infno::Eligibility => person::eligibility(call).await,
        Infno::Catalogue => reference::catalogue(call).await,
        Infno::SelfpayRatios => reference::selfpay_ratios(call).await,
        Infno::Dictionary => reference::dictionary(call).await,
        Infno::OutpatientRegister => visits::register(call).await,
        Infno::OutpatientRegisterCancel => visits::cancel(call, VisitKind::Outpatient).await,
        Infno::OutpatientVisitInfo | Infno::OutpatientVisitInfoA => visits::upload_visit_info(call).await,
        Infno::OutpatientLines => visits::upload_lines(call, VisitKind::Outpatient).await,
        Infno::OutpatientLinesRevoke => visits::revoke_outpatient_lines(call).await,
        Infno::Admission => visits::admit(call).await,
        Infno::Discharge => visits::discharge(call).await,
        Infno::AdmissionChange => visits::change_admission(call).await,
        Infno::AdmissionCancel => visits::cancel(call, VisitKind::Inpatient).await,
        Infno::DischargeCancel => visits::undo_discharge(call).await,
        Infno::InpatientLines => visits::upload_lines(call, VisitKind::Inpatient).await,
        Infno::InpatientLinesRevoke => visits::revoke_inpatient_lines(call).await,
        Infno::OutpatientPreSettle => settle::settle(call, VisitKind::Outpatient, false).await,
        Infno::OutpatientSettle => settle::settle(call, VisitKind::Outpatient, true).await,
        Infno::OutpatientSettleCancel => settle::cancel(call, VisitKind::Outpatient).await,
        Infno::InpatientPreSettle => settle::settle(call, VisitKind::Inpatient, false).await,
        Infno::InpatientSettle => settle::settle(call, VisitKind::Inpatient, true).await,
        Infno::InpatientSettleCancel => settle::cancel(call, VisitKind::Inpatient).await,
        Infno::PharmacyPreSettle => settle::purchase(call, false).await,
        Infno::PharmacySettle => settle::purchase(call, true).await,
        Infno::PharmacyCancel => settle::cancel(call, VisitKind::Pharmacy).await,
        Infno::Reversal => settle::reverse(call).await,
        Infno::DiseaseRegister => person::register_disease(call).await,
        Infno::DiseaseRevoke => person::revoke_disease(call).await,
        Infno::QueryVisits => queries::visits(call).await,
        Infno::QueryDiagnoses => queries::diagnoses(call).await,
        Infno::QuerySettlement => queries::settlement(call).await,
        Infno::QueryLines => queries::lines(call).await,
        Infno::QuerySpecialDiseaseDrugs => queries::special_disease_drugs(call).await,
        Infno::QueryAccumulators => queries::accumulators(call).await,
        Infno::QueryRegistrations => queries::registrations(call).await,
        Infno::QueryDesignations => queries::designations(call).await,
        Infno::ReconcileTotals => clearing::reconcile_totals(call).await,
        Infno::ReconcileDetail => clearing::reconcile_detail(call).await,
        Infno::FileUpload => clearing::upload(call).await,
        Infno::FileDownload => clearing::download(call).await,
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

//! The transactions, by code. Each reads its `input` into domain types, runs a command (write)
//! or queries (read), and builds its `output` in the shapes of the real samples.

mod clearing;
mod person;
mod queries;
mod reference;
mod settle;
mod visits;

use serde_json::Value;
use yibao_domain::{CertType, PersonNo};
use yibao_engine::records::{Certificate, VisitKind};

use super::fields::Fields;
use super::{Answer, Call, NhsaError};

/// Every transaction code this server answers, with its name (for the docs and 1901).
pub const SUPPORTED: [(&str, &str); 44] = [
    ("9001", "签到"),
    ("9002", "签退"),
    ("9101", "文件上传"),
    ("9102", "文件下载"),
    ("1101", "人员信息获取"),
    ("1312", "医保目录信息查询"),
    ("1319", "医保目录先自付比例信息查询"),
    ("1901", "字典表查询"),
    ("2001", "人员待遇享受检查"),
    ("2101", "药店预结算"),
    ("2102", "药店结算"),
    ("2103", "药店结算撤销"),
    ("2201", "门诊挂号"),
    ("2202", "门诊挂号撤销"),
    ("2203", "门诊就诊信息上传"),
    ("2203A", "门诊就诊信息上传（A）"),
    ("2204", "门诊费用明细信息上传"),
    ("2205", "门诊费用明细信息撤销"),
    ("2206", "门诊预结算"),
    ("2207", "门诊结算"),
    ("2208", "门诊结算撤销"),
    ("2301", "住院费用明细上传"),
    ("2302", "住院费用明细撤销"),
    ("2303", "住院预结算"),
    ("2304", "住院结算"),
    ("2305", "住院结算撤销"),
    ("2401", "入院办理"),
    ("2402", "出院办理"),
    ("2403", "住院信息变更"),
    ("2404", "入院办理撤销"),
    ("2405", "出院办理撤销"),
    ("2503", "人员慢特病备案"),
    ("2504", "人员慢特病备案撤销"),
    ("2601", "冲正交易"),
    ("3201", "医药机构费用结算对总账"),
    ("3202", "医药机构费用结算对明细账"),
    ("5201", "就诊信息查询"),
    ("5202", "诊断信息查询"),
    ("5203", "结算信息查询"),
    ("5204", "费用明细查询"),
    ("5205", "人员慢特病用药记录查询"),
    ("5206", "人员累计信息查询"),
    ("5301", "人员慢特病备案查询"),
    ("5302", "人员定点信息查询"),
];

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

/// `input.data`.
pub(super) fn data<'a>(call: &'a Call) -> Result<Fields<'a>, NhsaError> {
    Fields::of("input", &call.envelope.input)?.object("data")
}

pub(super) fn person_no(fields: &Fields<'_>) -> Result<PersonNo, NhsaError> {
    fields.required("psn_no")
}

/// A person's records are read only by an institution that has them as its patient: it
/// identified them with their certificate (1101) or treated them. Any other person number is
/// refused the same way whether it exists or not.
pub(super) async fn own_patient(call: &Call, psn_no: &PersonNo) -> Result<(), NhsaError> {
    let (institution, person) = (call.institution.code.clone(), psn_no.clone());
    match call.app.store.read(move |r| r.institution_knows(&institution, &person)).await? {
        true => Ok(()),
        false => Err(NhsaError::new(format!(
            "人员编号{psn_no}不是本机构的就诊人员：请先以1101（人员信息获取）凭就诊凭证读取人员信息"
        ))),
    }
}

/// The certificate a visit or settlement is presented with (`mdtrt_cert_type`, `mdtrt_cert_no`).
pub(super) fn certificate(fields: &Fields<'_>, required: bool) -> Result<Option<Certificate>, NhsaError> {
    let kind: Option<CertType> = fields.parse("mdtrt_cert_type")?;
    let number = fields.text("mdtrt_cert_no")?;
    match (kind, number) {
        (Some(kind), Some(number)) => Ok(Some(Certificate { kind, number })),
        (Some(_), None) => Err(NhsaError::new(format!("{}.mdtrt_cert_no不能为空", fields.path))),
        (None, Some(_)) => Err(NhsaError::new(format!("{}.mdtrt_cert_type不能为空", fields.path))),
        (None, None) if required => Err(NhsaError::new(format!("{}.mdtrt_cert_type不能为空", fields.path))),
        (None, None) => Ok(None),
    }
}

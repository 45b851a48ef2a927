//! Outpatient registration and visit information (2201–2205), admission and discharge
//! (2401–2405), inpatient bill lines (2301/2302).

use serde_json::{Value, json};
use yibao_app::{Diagnosed, VisitRef};
use yibao_domain::{InsuranceType, MdtrtId, Money, Quantity, UnitPrice};
use yibao_engine::Outcome;
use yibao_engine::commands::{LineUpload, RevokeLines, RevokeScope, UndoDischarge, UpdateVisit, VisitDetails};
use yibao_engine::records::{Diagnosis, DiagnosisStage, VisitKind};

use super::input::{certificate, data, person_no};
use crate::nhsa::fields::{Fields, LINES_PER_MESSAGE_MAX};
use crate::nhsa::render::line_result;
use crate::nhsa::{Answer, Call, NhsaError};

fn opened(outcome: &Outcome, node: &str) -> Value {
    match outcome {
        Outcome::Visit(visit) => json!({node: {
            "mdtrt_id": visit.mdtrt_id.as_str(),
            "psn_no": visit.psn_no.as_str(),
            "ipt_otp_no": visit.his_no,
            "exp_content": null,
        }}),
        _ => Value::Null,
    }
}

pub async fn register(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let details = VisitDetails {
        institution: call.institution.code.clone(),
        psn_no: person_no(&data)?,
        insurance: data.required::<InsuranceType>("insutype")?,
        begin: data.time("begntime")?.ok_or_else(|| NhsaError::new("input.data.begntime不能为空"))?,
        certificate: certificate(&data, true)?.expect("required"),
        his_no: data.required_text("ipt_otp_no")?,
        dept_code: data.text("dept_code")?.unwrap_or_default(),
        dept_name: data.text("dept_name")?.unwrap_or_default(),
        doctor_code: data.text("atddr_no")?.unwrap_or_default(),
        doctor_name: data.text("dr_name")?.unwrap_or_default(),
        med_type: data.parse("med_type")?,
        diagnosis_code: None,
        diagnosis_name: None,
        diagnoses: Vec::new(),
        insured_admdvs: call.envelope.insuplc_admdvs.clone(),
    };
    let command = yibao_app::visits::open(details, VisitKind::Outpatient)?;
    call.write(command, true, Box::new(|outcome| opened(outcome, "data"))).await
}

pub async fn admit(call: &Call) -> Result<Answer, NhsaError> {
    let input = call.input()?;
    let info = input.object("mdtrtinfo")?;
    let diseases = input.list("diseinfo", 100)?;
    let (diagnosis_code, diagnosis_name) = diagnosis(&info, &diseases)?;
    let details = VisitDetails {
        institution: call.institution.code.clone(),
        psn_no: person_no(&info)?,
        insurance: info.required::<InsuranceType>("insutype")?,
        begin: info.time("begntime")?.ok_or_else(|| NhsaError::new("input.mdtrtinfo.begntime不能为空"))?,
        certificate: certificate(&info, true)?.expect("required"),
        his_no: info.required_text("ipt_no")?,
        dept_code: info.text("adm_dept_codg")?.unwrap_or_default(),
        dept_name: info.text("adm_dept_name")?.unwrap_or_default(),
        doctor_code: info.text("atddr_no")?.unwrap_or_default(),
        doctor_name: info.text("chfpdr_name")?.unwrap_or_default(),
        med_type: Some(info.required("med_type")?),
        diagnosis_code,
        diagnosis_name,
        diagnoses: diagnosis_rows(&diseases)?,
        insured_admdvs: call.envelope.insuplc_admdvs.clone(),
    };
    let command = yibao_app::visits::open(details, VisitKind::Inpatient)?;
    call.write(command, true, Box::new(|outcome| opened(outcome, "result"))).await
}

/// The visit's diagnosis: `dise_codg`/`dise_name`, else the main (or first) `diseinfo` row.
fn diagnosis(info: &Fields<'_>, diseases: &[Fields<'_>]) -> Result<(Option<String>, Option<String>), NhsaError> {
    if let Some(code) = info.text("dise_codg")? {
        return Ok((Some(code), info.text("dise_name")?));
    }
    let mut chosen = None;
    for disease in diseases {
        let main = disease.text("maindiag_flag")?.as_deref() == Some("1")
            || disease.text("diag_type")?.as_deref() == Some("1");
        if chosen.is_none() || main {
            chosen = Some((disease.text("diag_code")?, disease.text("diag_name")?));
            if main {
                break;
            }
        }
    }
    Ok(chosen.unwrap_or((None, None)))
}

/// The `diseinfo` rows as they were sent (5202 answers them). The stage (outpatient,
/// admission, discharge) is the transaction's; a row needs at least a code or a name.
fn diagnosis_rows(diseases: &[Fields<'_>]) -> Result<Vec<Diagnosis>, NhsaError> {
    let mut rows = Vec::with_capacity(diseases.len());
    for (index, disease) in diseases.iter().enumerate() {
        let code = disease.text("diag_code")?.unwrap_or_default();
        let name = disease.text("diag_name")?.unwrap_or_default();
        if code.is_empty() && name.is_empty() {
            continue;
        }
        let order = match disease.text("diag_srt_no")? {
            Some(text) => text.parse::<u32>().map_err(|_| {
                NhsaError::new(format!("diseinfo第{}条：诊断排序号diag_srt_no {text}应为正整数", index + 1))
            })?,
            None => u32::try_from(index + 1).unwrap_or(u32::MAX),
        };
        rows.push(Diagnosis {
            stage: DiagnosisStage::Outpatient,
            diag_type: disease.text("diag_type")?.unwrap_or_default(),
            // `maindiag_flag` where sent (2401/2402); otherwise the first in order is the main one.
            main: match disease.text("maindiag_flag")? {
                Some(flag) => flag == "1",
                None => order == 1,
            },
            order,
            code,
            name,
            admission_condition: disease.text("adm_cond")?.unwrap_or_default(),
            dept: disease.text("diag_dept")?.unwrap_or_default(),
            doctor_code: disease.text("dise_dor_no")?.unwrap_or_default(),
            doctor_name: disease.text("dise_dor_name")?.unwrap_or_default(),
            at: disease.time("diag_time")?,
        });
    }
    Ok(rows)
}

/// What 2203 and 2403 change about a visit: its kind of treatment, start and diagnoses, and for
/// an admission (2403) its department and doctor.
fn visit_update(
    call: &Call,
    info: &Fields<'_>,
    diseases: &[Fields<'_>],
    admission: bool,
) -> Result<UpdateVisit, NhsaError> {
    let (diagnosis_code, diagnosis_name) = diagnosis(info, diseases)?;
    let text = |name: &str| if admission { info.text(name) } else { Ok(None) };
    Ok(UpdateVisit {
        institution: call.institution.code.clone(),
        psn_no: person_no(info)?,
        mdtrt_id: info.required("mdtrt_id")?,
        med_type: if admission { info.parse("med_type")? } else { Some(info.required("med_type")?) },
        begin: info.time("begntime")?,
        diagnosis_code,
        diagnosis_name,
        diagnoses: diagnosis_rows(diseases)?,
        dept_code: text("adm_dept_codg")?,
        dept_name: text("adm_dept_name")?,
        doctor_code: text("atddr_no")?,
        doctor_name: text("chfpdr_name")?,
    })
}

pub async fn upload_visit_info(call: &Call) -> Result<Answer, NhsaError> {
    let input = call.input()?;
    let info = input.object("mdtrtinfo")?;
    let diseases = input.list("diseinfo", 100)?;
    let command = visit_update(call, &info, &diseases, false)?;
    call.write(command, false, Box::new(|_| json!({}))).await
}

pub async fn change_admission(call: &Call) -> Result<Answer, NhsaError> {
    let input = call.input()?;
    let info = match input.opt_object("adminfo")? {
        Some(info) => info,
        None => input.object("mdtrtinfo")?,
    };
    let diseases = input.list("diseinfo", 100)?;
    let command = visit_update(call, &info, &diseases, true)?;
    call.write(command, false, Box::new(|_| json!({}))).await
}

pub async fn cancel(call: &Call, kind: VisitKind) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let visit = VisitRef {
        institution: call.institution.code.clone(),
        psn_no: person_no(&data)?,
        mdtrt_id: data.required("mdtrt_id")?,
    };
    let command = yibao_app::visits::cancel(visit, Some(kind));
    call.write(command, false, Box::new(|_| json!({}))).await
}

pub async fn discharge(call: &Call) -> Result<Answer, NhsaError> {
    let input = call.input()?;
    let info = input.object("dscginfo")?;
    let diseases = input.list("diseinfo", 100)?;
    let (diagnosis_code, diagnosis_name) = diagnosis(&info, &diseases)?;
    let visit = VisitRef {
        institution: call.institution.code.clone(),
        psn_no: person_no(&info)?,
        mdtrt_id: info.required("mdtrt_id")?,
    };
    let end = info.time("endtime")?.ok_or_else(|| NhsaError::new("input.dscginfo.endtime不能为空"))?;
    let diagnosed = Diagnosed { code: diagnosis_code, name: diagnosis_name, rows: diagnosis_rows(&diseases)? };
    let command = yibao_app::visits::discharge(visit, end, diagnosed);
    call.write(command, false, Box::new(|_| json!({}))).await
}

pub async fn undo_discharge(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let command = UndoDischarge {
        institution: call.institution.code.clone(),
        psn_no: person_no(&data)?,
        mdtrt_id: data.required("mdtrt_id")?,
    };
    call.write(command, false, Box::new(|_| json!({}))).await
}

/// `feedetail[]` read: the visit and person the lines name, and the lines.
pub(super) struct Lines {
    pub visit: Option<MdtrtId>,
    pub person: Option<yibao_domain::PersonNo>,
    pub uploads: Vec<LineUpload>,
}

/// Reads `feedetail[]` lines. All must name the same visit and person.
pub(super) fn read_lines(call: &Call, lines: &[Fields<'_>], inpatient: bool) -> Result<Lines, NhsaError> {
    if lines.is_empty() {
        return Err(NhsaError::new("input.feedetail不能为空"));
    }
    let mut visit: Option<MdtrtId> = None;
    let mut person = None;
    let mut uploads = Vec::with_capacity(lines.len());
    for line in lines {
        let line_visit: Option<MdtrtId> = line.parse("mdtrt_id")?;
        let line_person: Option<yibao_domain::PersonNo> = line.parse("psn_no")?;
        for (seen, this, name) in [
            (visit.as_ref().map(|v| v.to_string()), line_visit.as_ref().map(|v| v.to_string()), "mdtrt_id"),
            (
                person.as_ref().map(|p: &yibao_domain::PersonNo| p.to_string()),
                line_person.as_ref().map(|p| p.to_string()),
                "psn_no",
            ),
        ] {
            if let (Some(seen), Some(this)) = (seen, this)
                && seen != this
            {
                return Err(NhsaError::new(format!("{}.{name}与其他明细不一致：一次上传只能属于同一就诊", line.path)));
            }
        }
        visit = visit.or(line_visit);
        person = person.or(line_person);
        let serial = line.required_text("feedetl_sn")?;
        if serial.chars().count() > 30 {
            return Err(NhsaError::new(format!("{}.feedetl_sn超长：最多30个字符", line.path)));
        }
        let price: UnitPrice = line.required_number("pric")?;
        let quantity: Quantity = line.required_number("cnt")?;
        let amount: Money = line.required_number("det_item_fee_sumamt")?;
        let refund_of = match inpatient {
            true => line.text("init_feedetl_sn")?,
            false => None,
        };
        uploads.push(LineUpload {
            serial,
            batch: line.text("chrg_bchno")?.unwrap_or_default(),
            code: line.required_text("med_list_codg")?,
            his_code: line.text("medins_list_codg")?.unwrap_or_default(),
            price,
            quantity,
            amount,
            occurred_at: line.time("fee_ocur_time")?.unwrap_or_else(|| call.now()),
            refund_of,
            rx_no: line.text("rxno")?.or(line.text("drord_no")?).unwrap_or_default(),
            dept_code: line.text("bilg_dept_codg")?.unwrap_or_default(),
            dept_name: line.text("bilg_dept_name")?.unwrap_or_default(),
            doctor_code: line.text("bilg_dr_codg")?.unwrap_or_default(),
            doctor_name: line.text("bilg_dr_name")?.unwrap_or_default(),
        });
    }
    Ok(Lines { visit, person, uploads })
}

pub async fn upload_lines(call: &Call, kind: VisitKind) -> Result<Answer, NhsaError> {
    let input = call.input()?;
    let lines = input.list("feedetail", LINES_PER_MESSAGE_MAX)?;
    let lines = read_lines(call, &lines, kind == VisitKind::Inpatient)?;
    let visit = VisitRef {
        institution: call.institution.code.clone(),
        psn_no: lines.person.ok_or_else(|| NhsaError::new("input.feedetail[0].psn_no不能为空"))?,
        mdtrt_id: lines.visit.ok_or_else(|| NhsaError::new("input.feedetail[0].mdtrt_id不能为空"))?,
    };
    let command = yibao_app::visits::upload_lines(visit, Some(kind), lines.uploads);
    let catalogue = call.app.store.catalogue();
    call.write(
        command,
        true,
        Box::new(move |outcome| match outcome {
            Outcome::Lines { lines, .. } => {
                json!({"result": lines.iter().map(|line| line_result(line, &catalogue)).collect::<Vec<_>>()})
            }
            _ => Value::Null,
        }),
    )
    .await
}

/// 2205 (a batch of an outpatient visit's lines, or all: `0000`) and 2302 (one line of a stay,
/// or all).
async fn revoke_lines(
    call: &Call,
    kind: VisitKind,
    scope: impl FnOnce(&Fields<'_>) -> Result<RevokeScope, NhsaError>,
) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let scope = scope(&data)?;
    let command = RevokeLines {
        institution: call.institution.code.clone(),
        psn_no: person_no(&data)?,
        mdtrt_id: data.required("mdtrt_id")?,
        kind,
        scope,
    };
    call.write(command, false, Box::new(|_| json!({}))).await
}

pub async fn revoke_outpatient_lines(call: &Call) -> Result<Answer, NhsaError> {
    revoke_lines(call, VisitKind::Outpatient, |data| {
        let batch = data.required_text("chrg_bchno")?;
        Ok(if batch == "0000" { RevokeScope::All } else { RevokeScope::Batch(batch) })
    })
    .await
}

pub async fn revoke_inpatient_lines(call: &Call) -> Result<Answer, NhsaError> {
    revoke_lines(call, VisitKind::Inpatient, |data| {
        let serial = data.required_text("feedetl_sn")?;
        Ok(if serial == "0000" { RevokeScope::All } else { RevokeScope::Line(serial) })
    })
    .await
}

//! Queries: visits (5201), diagnoses (5202), settlements (5203), lines (5204), special disease drug records
//! (5205), accumulators (5206), special disease registrations (5301), designations (5302).
//! An institution sees only its own visits and settlements.

use serde_json::{Value, json};
use yibao_domain::{DateTime, MdtrtId, Month, SetlId};
use yibao_engine::commands::SettlementOutcome;
use yibao_engine::records::{Diagnosis, DiagnosisStage, FeeLine, LineState, Settlement, SettlementStatus, VisitKind};
use yibao_store::SettlementFilter;

use super::input::{data, own_patient, person_no};
use crate::nhsa::render::{amount, line_result, price, quantity, settlement_output, visit};
use crate::nhsa::{Answer, Call, NhsaError};

/// The most rows a query returns.
const ROWS_MAX: u64 = 500;

fn range(call: &Call, data: &crate::nhsa::fields::Fields<'_>) -> Result<(DateTime, DateTime), NhsaError> {
    let now = call.now();
    let from = data.time("begntime")?.unwrap_or_else(|| DateTime::start_of(now.date().plus_days(-366)));
    let until = data.time("endtime")?.map_or_else(|| now.plus_seconds(1), |end| end.plus_seconds(1));
    if until <= from {
        return Err(NhsaError::new("结束时间endtime早于开始时间begntime"));
    }
    Ok((from, until))
}

pub async fn visits(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let psn_no = person_no(&data)?;
    let (from, until) = range(call, &data)?;
    let med_type = data.text("med_type")?;
    let only: Option<MdtrtId> = data.parse("mdtrt_id")?;
    let institution = call.institution.code.clone();
    let visits = call.app.store.read(move |r| r.visits_of(&psn_no, from, until)).await?;
    let rows: Vec<Value> = visits
        .iter()
        .filter(|v| v.institution == institution)
        .filter(|v| only.as_ref().is_none_or(|id| id == &v.mdtrt_id))
        .filter(|v| med_type.as_ref().is_none_or(|t| v.med_type.map(|m| m.to_string()).as_ref() == Some(t)))
        .take(ROWS_MAX as usize)
        .map(visit)
        .collect();
    call.answer(json!({"mdtrtinfo": rows})).await
}

/// The settlement to show for `setl_id`, or the one in force of `mdtrt_id`, with what a
/// response needs about it.
async fn find_settlement(call: &Call) -> Result<SettlementOutcome, NhsaError> {
    let data = data(call)?;
    let psn_no = person_no(&data)?;
    let setl_id: Option<SetlId> = data.parse("setl_id")?;
    let mdtrt_id: Option<MdtrtId> = data.parse("mdtrt_id")?;
    if setl_id.is_none() && mdtrt_id.is_none() {
        return Err(NhsaError::new("input.data.setl_id与mdtrt_id不能同时为空"));
    }
    let institution = call.institution.code.clone();
    let found = call
        .app
        .store
        .read(move |r| {
            let settlement = match (&setl_id, &mdtrt_id) {
                (Some(id), _) => r.settlement(id)?,
                (None, Some(visit)) => {
                    let all = r.settlements_of_visit(visit)?;
                    all.iter().rev().find(|s| s.is_in_force()).or(all.last()).cloned()
                }
                (None, None) => None,
            };
            let Some(settlement) = settlement.filter(|s| s.psn_no == psn_no && s.institution == institution) else {
                return Ok(None);
            };
            let person = r.person(&settlement.psn_no)?;
            let visit = r.visit(&settlement.mdtrt_id)?;
            let lines = r.settlement_lines(&settlement)?;
            Ok(person.zip(visit).map(|(person, visit)| SettlementOutcome {
                settlement,
                cancelled: None,
                person,
                visit,
                lines,
                warnings: Vec::new(),
            }))
        })
        .await?;
    found.ok_or_else(|| NhsaError::new("未查询到该人员在本机构的结算信息"))
}

pub async fn settlement(call: &Call) -> Result<Answer, NhsaError> {
    let outcome = find_settlement(call).await?;
    let mut output = settlement_output(&outcome, true, outcome.settlement.msgid.as_str());
    output["setlinfo"]["setl_stas"] = json!(match &outcome.settlement.status {
        SettlementStatus::Normal => "1",
        SettlementStatus::Cancelled { .. } => "0",
        SettlementStatus::Mirror { .. } => "2",
    });
    call.answer(output).await
}

fn line_row(line: &FeeLine, settlement: Option<&Settlement>, catalogue: &yibao_engine::Catalogue) -> Value {
    let mut row = line_result(line, catalogue);
    row["mdtrt_id"] = json!(line.mdtrt_id.as_str());
    row["psn_no"] = json!(line.psn_no.as_str());
    row["setl_id"] = settlement.map_or(Value::Null, |s| json!(s.setl_id.as_str()));
    row["med_list_codg"] = json!(line.code);
    row["medins_list_codg"] = json!(line.his_code);
    row["fee_ocur_time"] = json!(line.occurred_at.to_string());
    row["chrg_bchno"] = json!(line.batch);
    row["rxno"] = json!(line.rx_no);
    row["init_feedetl_sn"] = json!(line.refund_of);
    row["fee_stas"] = json!(match line.state {
        LineState::Unsettled => "0",
        LineState::Settled(_) => "1",
        LineState::Revoked => "9",
    });
    row["hilist_name"] = json!(line.name);
    row
}

/// 5202 诊断信息查询: a visit's diagnoses as 2203 (outpatient), 2401/2403 (admission) and
/// 2402 (discharge) uploaded them; a visit with none uploaded answers its recorded main
/// diagnosis, if any. Only the institution's own visits.
pub async fn diagnoses(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let psn_no = person_no(&data)?;
    let mdtrt_id: MdtrtId = data.required("mdtrt_id")?;
    let institution = call.institution.code.clone();
    let found = call
        .app
        .store
        .read(move |r| match r.visit(&mdtrt_id)? {
            Some(visit) if visit.psn_no == psn_no && visit.institution == institution => {
                Ok(Some((r.diagnoses(&mdtrt_id)?, visit)))
            }
            _ => Ok(None),
        })
        .await?;
    let Some((uploaded, visit)) = found else {
        return Err(NhsaError::new("未查询到该人员在本机构的就诊信息"));
    };
    let entries = match uploaded {
        Some(record) if !record.entries.is_empty() => record.entries,
        _ => match &visit.diagnosis_code {
            Some(code) => vec![Diagnosis {
                stage: match visit.kind {
                    VisitKind::Inpatient => DiagnosisStage::Admission,
                    _ => DiagnosisStage::Outpatient,
                },
                diag_type: "1".into(),
                main: true,
                order: 1,
                code: code.clone(),
                name: visit.diagnosis_name.clone().unwrap_or_default(),
                admission_condition: String::new(),
                dept: visit.dept_name.clone(),
                doctor_code: visit.doctor_code.clone(),
                doctor_name: visit.doctor_name.clone(),
                at: None,
            }],
            None => Vec::new(),
        },
    };
    let rows: Vec<Value> = entries
        .iter()
        .map(|entry| {
            json!({
                "mdtrt_id": visit.mdtrt_id.as_str(),
                "psn_no": visit.psn_no.as_str(),
                "inout_diag_type": entry.stage.code(),
                "diag_type": entry.diag_type,
                "maindiag_flag": if entry.main { "1" } else { "0" },
                "diag_srt_no": entry.order,
                "diag_code": entry.code,
                "diag_name": entry.name,
                "adm_cond": entry.admission_condition,
                "diag_dept": entry.dept,
                "dise_dor_no": entry.doctor_code,
                "dise_dor_name": entry.doctor_name,
                "diag_time": entry.at.map(|at| at.to_string()),
                "vali_flag": "1",
            })
        })
        .collect();
    call.answer(json!({"diseinfo": rows})).await
}

pub async fn lines(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let catalogue = call.app.store.catalogue();
    let rows: Vec<Value> = match data.parse::<SetlId>("setl_id")? {
        Some(_) => {
            let outcome = find_settlement(call).await?;
            outcome.lines.iter().map(|line| line_row(line, Some(&outcome.settlement), &catalogue)).collect()
        }
        None => {
            let psn_no = person_no(&data)?;
            let mdtrt_id: MdtrtId = data.required("mdtrt_id")?;
            let institution = call.institution.code.clone();
            let lines = call
                .app
                .store
                .read(move |r| match r.visit(&mdtrt_id)? {
                    Some(visit) if visit.psn_no == psn_no && visit.institution == institution => r.lines_of(&mdtrt_id),
                    _ => Ok(Vec::new()),
                })
                .await?;
            lines.iter().map(|line| line_row(line, None, &catalogue)).collect()
        }
    };
    call.answer(json!({"feedetail": rows})).await
}

pub async fn special_disease_drugs(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let psn_no = person_no(&data)?;
    let (from, until) = range(call, &data)?;
    let institution = call.institution.code.clone();
    let rows = call
        .app
        .store
        .read(move |r| {
            let filter = SettlementFilter {
                person: Some(psn_no),
                institution: Some(institution),
                from: Some(from),
                until: Some(until),
                in_force_only: true,
                ..SettlementFilter::default()
            };
            let settlements = r.settlements(&filter, 0, ROWS_MAX)?.rows;
            let mut rows = Vec::new();
            for settlement in settlements.iter().filter(|s| s.med_type == yibao_domain::MedType::SPECIAL_OUTPATIENT) {
                for line in r.settlement_lines(settlement)? {
                    rows.push(json!({
                        "setl_id": settlement.setl_id.as_str(),
                        "mdtrt_id": line.mdtrt_id.as_str(),
                        "med_list_codg": line.code,
                        "hilist_name": line.name,
                        "cnt": quantity(line.quantity),
                        "pric": price(line.price),
                        "det_item_fee_sumamt": amount(line.amount),
                        "fee_ocur_time": line.occurred_at.to_string(),
                    }));
                }
            }
            Ok(rows)
        })
        .await?;
    call.answer(json!({"feedetail": rows})).await
}

pub async fn accumulators(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let psn_no = person_no(&data)?;
    own_patient(call, &psn_no).await?;
    let month: Month = match data.text("cum_ym")? {
        Some(text) => {
            text.parse().map_err(|_| NhsaError::new(format!("input.data.cum_ym格式错误：{text}，应为yyyyMM")))?
        }
        None => call.now().date().year_month(),
    };
    let lookup = psn_no.clone();
    let (person, years) = call.app.store.read(move |r| Ok((r.person(&lookup)?, r.accumulators(&lookup)?))).await?;
    let person = person.ok_or_else(|| NhsaError::new(format!("人员编号{psn_no}不存在")))?;
    let year = month.year();
    let row = years.iter().find(|(y, _)| *y == year).map(|(_, row)| *row).unwrap_or_default();
    let cum_ym = format!("{:04}{:02}", month.year(), month.month());
    let item = |code: &str, name: &str, value: Value| json!({"insutype": person.insurance.code(), "year": year.to_string(), "cum_ym": cum_ym, "cum_type_code": code, "cum_type_name": name, "cum": value});
    let mut cuminfo = vec![
        item("Q0000", "起付线累计", amount(row.deductible_paid())),
        item("Q0001", "住院起付线累计", amount(row.inpatient_deductible_paid)),
        item("Q0002", "门诊起付线累计", amount(row.outpatient_deductible_paid)),
        item("C0000", "住院次数累计", json!(row.admissions)),
        item("S0000", "医疗费用累计", amount(row.medfee_total)),
        item("F0000", "统筹基金支付累计（计入年度最高支付限额）", amount(row.fund_paid)),
        item("B0000", "门诊统筹支付范围内费用累计（年度限额内）", amount(row.outpatient_band_used)),
    ];
    if person.person_type.is_civil_servant() {
        // Toward the civil-servant subsidy's own annual cap (fund type 320100).
        cuminfo.push(item("F3201", "公务员医疗补助支付累计（计入补助年度最高支付限额）", amount(row.subsidy_paid)));
    }
    call.answer(json!({"cuminfo": cuminfo})).await
}

pub async fn registrations(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let psn_no = person_no(&data)?;
    own_patient(call, &psn_no).await?;
    let registrations = call.app.store.read(move |r| r.registrations(&psn_no)).await?;
    let rows: Vec<Value> = registrations
        .iter()
        .filter(|r| !r.revoked)
        .map(|r| {
            json!({
                "trt_dcla_detl_sn": r.serial,
                "opsp_dise_code": r.code,
                "opsp_dise_name": r.name,
                "begndate": r.begin.to_string(),
                "enddate": r.end.to_string(),
                "fixmedins_code": r.institution.as_str(),
                "exp_content": null,
            })
        })
        .collect();
    call.answer(json!({"feedetail": rows})).await
}

pub async fn designations(call: &Call) -> Result<Answer, NhsaError> {
    let data = data(call)?;
    let psn_no = person_no(&data)?;
    let lookup = psn_no.clone();
    let person = call.app.store.read(move |r| r.person(&lookup)).await?;
    if person.is_none() {
        return Err(NhsaError::new(format!("人员编号{psn_no}不存在")));
    }
    // yibao has no designated-institution registration (就医定点): every designated
    // institution of the region may treat every insured person.
    call.answer(json!({"psnfixmedin": []})).await
}

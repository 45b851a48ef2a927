//! Opening, changing and closing visits: outpatient registration (2201/2202/2203), admission
//! and discharge (2401–2405).

use yibao_domain::{
    Admdvs, CertType, Date, DateTime, InstitutionCode, InstitutionKind, InsuranceType, MdtrtId, MedType, Money,
    PersonNo,
};

use super::lookup::{designated_institution, insured_person};
use super::{Command, Context, Outcome};
use crate::error::{EngineError, Refusal};
use crate::records::{
    Certificate, Diagnosis, DiagnosisStage, LineState, Person, Visit, VisitDiagnoses, VisitKind, VisitStatus,
};
use crate::working_set::{Keys, WorkingSet};

/// Checks that the presented certificate identifies `person` at `institution`.
pub(super) fn check_certificate(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    person: &Person,
    certificate: &Certificate,
    institution: &InstitutionCode,
) -> Result<(), EngineError> {
    let mismatch = || {
        EngineError::from(Refusal::CertificateNotThePerson {
            certificate: certificate.kind,
            psn_no: person.psn_no.clone(),
        })
    };
    match certificate.kind {
        CertType::IdNumber => {
            // Whole, or masked as 1101 may have answered it.
            if !person.id_number.is_presented_by(&certificate.number) {
                return Err(mismatch());
            }
        }
        CertType::Card => {
            let card_no = certificate.number.parse().map_err(|_| mismatch())?;
            let card = ws.card(&card_no)?.ok_or_else(mismatch)?;
            if card.psn_no != person.psn_no {
                return Err(mismatch());
            }
            if card.status != crate::records::CardStatus::Active {
                return Err(EngineError::refused(
                    format!("社会保障卡{}状态为{}，不能使用", card.card_no, card.status.as_str()),
                    format!("card {} is {}, it cannot be used", card.card_no, card.status.as_str()),
                ));
            }
        }
        CertType::EVoucherToken => {
            if super::evoucher::token_holder(ws, ctx, &certificate.number, institution)?.psn_no != person.psn_no {
                return Err(mismatch());
            }
        }
    }
    Ok(())
}

/// The certificate as kept in records (after it was checked against `person`): an `ecToken`
/// is a secret, so only a prefix of its hash; an ID number whole, however it was presented.
pub(super) fn recorded(certificate: &Certificate, person: &Person) -> Certificate {
    match certificate.kind {
        CertType::EVoucherToken => Certificate {
            kind: certificate.kind,
            number: format!("ec:{}", &super::evoucher::grant_hash(&certificate.number)[..16]),
        },
        CertType::IdNumber => Certificate { kind: certificate.kind, number: person.id_number.expose().to_string() },
        CertType::Card => certificate.clone(),
    }
}

/// The visit, which must belong to the person and the institution.
pub(super) fn own_visit(
    ws: &mut WorkingSet<'_>,
    mdtrt_id: &MdtrtId,
    psn_no: &PersonNo,
    institution: &InstitutionCode,
) -> Result<Visit, EngineError> {
    // Another institution's visit is answered like a missing one: whether it exists, and whose
    // it is, is not this institution's to learn.
    let visit = ws.visit(mdtrt_id)?.filter(|visit| &visit.institution == institution).ok_or_else(|| {
        EngineError::not_found(
            format!("就诊ID{mdtrt_id}不存在或不是本机构的就诊"),
            format!("no visit {mdtrt_id} at this institution"),
        )
    })?;
    if &visit.psn_no != psn_no {
        return Err(EngineError::invalid(
            format!("就诊ID{mdtrt_id}不属于人员编号{psn_no}"),
            format!("visit {mdtrt_id} does not belong to person {psn_no}"),
        ));
    }
    Ok(visit)
}

/// What an institution says when it opens a visit (2201, 2401).
#[derive(Debug, Clone)]
pub struct VisitDetails {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub insurance: InsuranceType,
    pub begin: DateTime,
    pub certificate: Certificate,
    pub his_no: String,
    pub dept_code: String,
    pub dept_name: String,
    pub doctor_code: String,
    pub doctor_name: String,
    pub med_type: Option<MedType>,
    pub diagnosis_code: Option<String>,
    pub diagnosis_name: Option<String>,
    /// The `diseinfo` rows (an admission's).
    pub diagnoses: Vec<Diagnosis>,
    /// `insuplc_admdvs` as the institution stated it, checked against the person.
    pub insured_admdvs: Option<Admdvs>,
}

impl VisitDetails {
    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.institutions.insert(self.institution.clone());
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn open(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>, kind: VisitKind) -> Result<Visit, EngineError> {
        let institution = designated_institution(ws, &self.institution, ctx.now.date())?;
        if institution.kind != InstitutionKind::Hospital {
            return Err(EngineError::refused(
                format!("{}为定点零售药店，不能办理挂号或入院", institution.name),
                format!("{} is a pharmacy: it cannot register visits or admit", institution.code),
            ));
        }
        let person = insured_person(ws, &self.psn_no)?;
        if person.insurance != self.insurance {
            return Err(EngineError::invalid(
                format!("险种类型{}与参保人险种{}不符", self.insurance, person.insurance),
                format!("insurance type {} does not match the person's {}", self.insurance, person.insurance),
            ));
        }
        if let Some(stated) = &self.insured_admdvs
            && stated != &person.admdvs
        {
            return Err(EngineError::invalid(
                format!("参保地医保区划{stated}与参保人参保地{}不符", person.admdvs),
                format!("insuplc_admdvs {stated} does not match the person's region {}", person.admdvs),
            ));
        }
        check_certificate(ws, ctx, &person, &self.certificate, &institution.code)?;
        if let Some(med_type) = self.med_type {
            check_med_type(ctx, &person, kind, med_type)?;
        }
        let sequence = ws.next_sequence("mdtrt_id")?;
        let visit = Visit {
            mdtrt_id: format!("{}{sequence:010}", institution.admdvs).parse().expect("digits"),
            psn_no: person.psn_no.clone(),
            institution: institution.code.clone(),
            kind,
            insurance: person.insurance,
            med_type: self.med_type,
            begin: self.begin,
            end: None,
            status: VisitStatus::Open,
            certificate: recorded(&self.certificate, &person),
            his_no: self.his_no.clone(),
            dept_code: self.dept_code.clone(),
            dept_name: self.dept_name.clone(),
            doctor_code: self.doctor_code.clone(),
            doctor_name: self.doctor_name.clone(),
            diagnosis_code: self.diagnosis_code.clone(),
            diagnosis_name: self.diagnosis_name.clone(),
            insured_admdvs: person.admdvs.clone(),
            treated_admdvs: institution.admdvs.clone(),
            admission_counted: false,
            deductible_paid: Money::ZERO,
            folded_into: None,
            created_at: ctx.now,
        };
        ws.insert_visit(visit.clone());
        record_diagnoses(ws, &visit, DiagnosisStage::Admission, &self.diagnoses)?;
        Ok(visit)
    }
}

/// Keeps a visit's uploaded diagnoses: those of `stage` are replaced by `entries` (when there
/// are any), the other stages' stay.
fn record_diagnoses(
    ws: &mut WorkingSet<'_>,
    visit: &Visit,
    stage: DiagnosisStage,
    entries: &[Diagnosis],
) -> Result<(), EngineError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut record = ws.diagnoses(&visit.mdtrt_id)?.unwrap_or_else(|| VisitDiagnoses {
        mdtrt_id: visit.mdtrt_id.clone(),
        psn_no: visit.psn_no.clone(),
        entries: Vec::new(),
    });
    record.entries.retain(|entry| entry.stage != stage);
    record.entries.extend(entries.iter().map(|entry| Diagnosis { stage, ..entry.clone() }));
    ws.put_diagnoses(record);
    Ok(())
}

/// Checks that the person's policy prices `med_type` as this kind of visit.
pub(super) fn check_med_type(
    ctx: &Context<'_>,
    person: &Person,
    kind: VisitKind,
    med_type: MedType,
) -> Result<(), EngineError> {
    let Some(resolved) = ctx.policies.resolve(&person.admdvs, person.insurance, ctx.now.date()) else {
        return Err(no_policy(person, ctx.now.date()));
    };
    let scheme = resolved.scheme;
    let fits = match kind {
        VisitKind::Inpatient => scheme.inpatient.med_types.contains(&med_type),
        VisitKind::Outpatient | VisitKind::Pharmacy => {
            scheme.outpatient.med_types.contains(&med_type)
                || scheme.special_outpatient.as_ref().is_some_and(|rule| rule.med_types.contains(&med_type))
        }
    };
    if !fits {
        let kind_zh = match kind {
            VisitKind::Inpatient => "住院",
            VisitKind::Outpatient => "门诊",
            VisitKind::Pharmacy => "药店购药",
        };
        return Err(EngineError::invalid(
            format!("医疗类别{med_type}（{}）不能用于{kind_zh}", med_type.name_zh()),
            format!(
                "medical type {med_type} cannot be used for {} care under policy {}",
                kind.as_str(),
                resolved.policy.label()
            ),
        ));
    }
    Ok(())
}

pub(super) fn no_policy(person: &Person, day: Date) -> EngineError {
    EngineError::refused(
        format!("参保地{}险种{}在{day}无有效的待遇政策", person.admdvs, person.insurance),
        format!("no policy covers region {} insurance type {} on {day}", person.admdvs, person.insurance),
    )
}

/// 2201 门诊挂号: opens an outpatient visit.
#[derive(Debug, Clone)]
pub struct OpenVisit(pub VisitDetails);

impl Command for OpenVisit {
    fn name(&self) -> &'static str {
        "open-visit"
    }

    fn keys(&self) -> Keys {
        self.0.keys()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        self.0.open(ws, ctx, VisitKind::Outpatient).map(|visit| Outcome::Visit(Box::new(visit)))
    }
}

/// 2401 入院办理: admits a patient; the medical type must be an inpatient type.
#[derive(Debug, Clone)]
pub struct Admit(pub VisitDetails);

impl Command for Admit {
    fn name(&self) -> &'static str {
        "admit"
    }

    fn keys(&self) -> Keys {
        self.0.keys()
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        if self.0.med_type.is_none() {
            return Err(EngineError::invalid("入院办理须传医疗类别med_type", "admission needs med_type"));
        }
        self.0.open(ws, ctx, VisitKind::Inpatient).map(|visit| Outcome::Visit(Box::new(visit)))
    }
}

/// 2203/2203A 就诊信息上传 and 2403 住院信息变更: changes what is known about an open visit.
#[derive(Debug, Clone)]
pub struct UpdateVisit {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub mdtrt_id: MdtrtId,
    pub med_type: Option<MedType>,
    pub begin: Option<DateTime>,
    pub diagnosis_code: Option<String>,
    pub diagnosis_name: Option<String>,
    /// The `diseinfo` rows: an outpatient visit's diagnoses (2203), an admission's (2403).
    pub diagnoses: Vec<Diagnosis>,
    pub dept_code: Option<String>,
    pub dept_name: Option<String>,
    pub doctor_code: Option<String>,
    pub doctor_name: Option<String>,
}

impl Command for UpdateVisit {
    fn name(&self) -> &'static str {
        "update-visit"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.visit_rows.insert(self.mdtrt_id.clone());
        keys.persons.insert(self.psn_no.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut visit = own_visit(ws, &self.mdtrt_id, &self.psn_no, &self.institution)?;
        if visit.status == VisitStatus::Cancelled {
            return Err(cancelled(&visit));
        }
        let stage = match visit.kind {
            VisitKind::Inpatient => DiagnosisStage::Admission,
            VisitKind::Outpatient | VisitKind::Pharmacy => DiagnosisStage::Outpatient,
        };
        record_diagnoses(ws, &visit, stage, &self.diagnoses)?;
        if let Some(med_type) = self.med_type {
            let person = insured_person(ws, &self.psn_no)?;
            check_med_type(ctx, &person, visit.kind, med_type)?;
            visit.med_type = Some(med_type);
        }
        let set = |slot: &mut Option<String>, value: &Option<String>| {
            if let Some(value) = value {
                *slot = Some(value.clone());
            }
        };
        set(&mut visit.diagnosis_code, &self.diagnosis_code);
        set(&mut visit.diagnosis_name, &self.diagnosis_name);
        let replace = |slot: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                slot.clone_from(value);
            }
        };
        replace(&mut visit.dept_code, &self.dept_code);
        replace(&mut visit.dept_name, &self.dept_name);
        replace(&mut visit.doctor_code, &self.doctor_code);
        replace(&mut visit.doctor_name, &self.doctor_name);
        if let Some(begin) = self.begin {
            visit.begin = begin;
        }
        ws.put_visit(visit.clone());
        Ok(Outcome::Visit(Box::new(visit)))
    }
}

pub(super) fn cancelled(visit: &Visit) -> EngineError {
    EngineError::conflict(format!("就诊ID{}已撤销", visit.mdtrt_id), format!("visit {} was cancelled", visit.mdtrt_id))
}

/// 2202 门诊挂号撤销 and 2404 入院办理撤销: cancels a visit that has no settlement in force;
/// its unsettled lines are revoked with it.
#[derive(Debug, Clone)]
pub struct CancelVisit {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub mdtrt_id: MdtrtId,
    /// The kind of visit the caller means (2202 outpatient, 2404 inpatient), or `None`: the
    /// visit's own kind.
    pub kind: Option<VisitKind>,
}

impl Command for CancelVisit {
    fn name(&self) -> &'static str {
        "cancel-visit"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.visits.insert(self.mdtrt_id.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, _ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut visit = own_visit(ws, &self.mdtrt_id, &self.psn_no, &self.institution)?;
        if let Some(kind) = self.kind
            && visit.kind != kind
        {
            return Err(wrong_kind(&visit, kind));
        }
        if visit.status == VisitStatus::Cancelled {
            return Err(cancelled(&visit));
        }
        if ws.visit_settlements(&visit.mdtrt_id)?.iter().any(|s| s.is_in_force()) {
            return Err(EngineError::conflict(
                format!("就诊ID{}存在未撤销的结算，请先撤销结算", visit.mdtrt_id),
                format!("visit {} has a settlement in force; cancel it first", visit.mdtrt_id),
            ));
        }
        for mut line in ws.lines(&visit.mdtrt_id)? {
            if line.state == LineState::Unsettled {
                line.state = LineState::Revoked;
                ws.put_line(line)?;
            }
        }
        visit.status = VisitStatus::Cancelled;
        ws.put_visit(visit.clone());
        Ok(Outcome::Visit(Box::new(visit)))
    }
}

pub(super) fn wrong_kind(visit: &Visit, expected: VisitKind) -> EngineError {
    let zh = |kind: VisitKind| match kind {
        VisitKind::Outpatient => "门诊",
        VisitKind::Inpatient => "住院",
        VisitKind::Pharmacy => "药店购药",
    };
    EngineError::invalid(
        format!("就诊ID{}为{}就诊，不能办理{}业务", visit.mdtrt_id, zh(visit.kind), zh(expected)),
        format!("visit {} is {}, not {}", visit.mdtrt_id, visit.kind.as_str(), expected.as_str()),
    )
}

/// 2402 出院办理: discharges an admitted patient.
#[derive(Debug, Clone)]
pub struct Discharge {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub mdtrt_id: MdtrtId,
    pub end: DateTime,
    pub diagnosis_code: Option<String>,
    pub diagnosis_name: Option<String>,
    /// The `diseinfo` rows: the discharge diagnoses.
    pub diagnoses: Vec<Diagnosis>,
}

impl Command for Discharge {
    fn name(&self) -> &'static str {
        "discharge"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.visit_rows.insert(self.mdtrt_id.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, _ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut visit = own_visit(ws, &self.mdtrt_id, &self.psn_no, &self.institution)?;
        if visit.kind != VisitKind::Inpatient {
            return Err(wrong_kind(&visit, VisitKind::Inpatient));
        }
        record_diagnoses(ws, &visit, DiagnosisStage::Discharge, &self.diagnoses)?;
        match visit.status {
            VisitStatus::Open => {}
            VisitStatus::Discharged => {
                return Err(EngineError::conflict(
                    format!("就诊ID{}已办理出院", visit.mdtrt_id),
                    format!("visit {} is already discharged", visit.mdtrt_id),
                ));
            }
            VisitStatus::Cancelled => return Err(cancelled(&visit)),
        }
        if self.end < visit.begin {
            return Err(EngineError::invalid(
                format!("出院时间{}早于入院时间{}", self.end, visit.begin),
                format!("discharge time {} is before admission {}", self.end, visit.begin),
            ));
        }
        visit.end = Some(self.end);
        visit.status = VisitStatus::Discharged;
        if self.diagnosis_code.is_some() {
            visit.diagnosis_code.clone_from(&self.diagnosis_code);
            visit.diagnosis_name.clone_from(&self.diagnosis_name);
        }
        ws.put_visit(visit.clone());
        Ok(Outcome::Visit(Box::new(visit)))
    }
}

/// 2405 出院办理撤销: reopens a discharged admission with no final settlement in force.
#[derive(Debug, Clone)]
pub struct UndoDischarge {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub mdtrt_id: MdtrtId,
}

impl Command for UndoDischarge {
    fn name(&self) -> &'static str {
        "undo-discharge"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.visits.insert(self.mdtrt_id.clone());
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, _ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        let mut visit = own_visit(ws, &self.mdtrt_id, &self.psn_no, &self.institution)?;
        if visit.kind != VisitKind::Inpatient {
            return Err(wrong_kind(&visit, VisitKind::Inpatient));
        }
        if visit.status != VisitStatus::Discharged {
            return Err(EngineError::conflict(
                format!("就诊ID{}未办理出院", visit.mdtrt_id),
                format!("visit {} is not discharged", visit.mdtrt_id),
            ));
        }
        let final_settled = ws.visit_settlements(&visit.mdtrt_id)?.iter().any(|s| s.is_in_force() && !s.mid_stay);
        if final_settled {
            return Err(EngineError::conflict(
                format!("就诊ID{}已办理出院结算，请先撤销结算", visit.mdtrt_id),
                format!("visit {} has a final settlement in force; cancel it first", visit.mdtrt_id),
            ));
        }
        visit.status = VisitStatus::Open;
        visit.end = None;
        ws.put_visit(visit.clone());
        Ok(Outcome::Visit(Box::new(visit)))
    }
}

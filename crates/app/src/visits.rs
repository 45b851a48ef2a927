//! Visits: opened (2201 outpatient, 2401 admission, `POST /api/v1/visits`, the counter), their
//! lines uploaded (2204, 2301, REST, the counter), cancelled (2202, 2404, REST) and discharged
//! (2402, REST). Each command is built here, once; the edges read their wire into these
//! arguments and run what they get back.

use yibao_domain::{DateTime, InstitutionCode, MdtrtId, PersonNo};
use yibao_engine::commands::{Admit, CancelVisit, Discharge, LineUpload, OpenVisit, UploadLines, VisitDetails};
use yibao_engine::records::{Diagnosis, VisitKind};
use yibao_engine::{Command, EngineError};

/// Which visit an action is about, and who asks: the treating institution and the person.
/// The command checks that the visit is the institution's and the person's.
#[derive(Debug, Clone)]
pub struct VisitRef {
    pub institution: InstitutionCode,
    pub psn_no: PersonNo,
    pub mdtrt_id: MdtrtId,
}

/// Opens an outpatient visit (2201) or admits an inpatient (2401).
///
/// # Errors
/// A pharmacy "visit", which only a purchase opens.
pub fn open(details: VisitDetails, kind: VisitKind) -> Result<Box<dyn Command>, EngineError> {
    match kind {
        VisitKind::Outpatient => Ok(Box::new(OpenVisit(details))),
        VisitKind::Inpatient => Ok(Box::new(Admit(details))),
        VisitKind::Pharmacy => Err(EngineError::invalid(
            "药店购药不登记就诊，请直接办理药店结算",
            "a pharmacy purchase opens no visit of its own; settle the purchase",
        )),
    }
}

/// Uploads bill lines to a visit; `kind` is the kind the caller means (2204 outpatient, 2301
/// inpatient) or `None` for the visit's own.
pub fn upload_lines(visit: VisitRef, kind: Option<VisitKind>, lines: Vec<LineUpload>) -> UploadLines {
    let VisitRef { institution, psn_no, mdtrt_id } = visit;
    UploadLines { institution, psn_no, mdtrt_id, kind, lines }
}

/// Cancels a visit with no settlement in force; `kind` as for [`upload_lines`].
pub fn cancel(visit: VisitRef, kind: Option<VisitKind>) -> CancelVisit {
    let VisitRef { institution, psn_no, mdtrt_id } = visit;
    CancelVisit { institution, psn_no, mdtrt_id, kind }
}

/// The diagnoses recorded at discharge (none: the admission's stand).
#[derive(Debug, Clone, Default)]
pub struct Diagnosed {
    pub code: Option<String>,
    pub name: Option<String>,
    pub rows: Vec<Diagnosis>,
}

/// Discharges an admitted patient at `end`.
pub fn discharge(visit: VisitRef, end: DateTime, diagnosed: Diagnosed) -> Discharge {
    let VisitRef { institution, psn_no, mdtrt_id } = visit;
    Discharge {
        institution,
        psn_no,
        mdtrt_id,
        end,
        diagnosis_code: diagnosed.code,
        diagnosis_name: diagnosed.name,
        diagnoses: diagnosed.rows,
    }
}

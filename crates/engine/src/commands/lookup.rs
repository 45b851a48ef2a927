//! The lookups most commands begin with: the insured person, the designated institution.

use yibao_domain::{Date, InstitutionCode, PersonNo};

use crate::error::{EngineError, Refusal};
use crate::records::{Institution, Person, PersonStatus, status_event};
use crate::working_set::WorkingSet;

/// The person, who must exist and be insured.
pub(super) fn insured_person(ws: &mut WorkingSet<'_>, psn_no: &PersonNo) -> Result<Person, EngineError> {
    let person = ws.person(psn_no)?.ok_or_else(|| {
        EngineError::not_found(format!("人员编号{psn_no}不存在"), format!("no insured person {psn_no}"))
    })?;
    if !matches!(person.status, PersonStatus::Active | PersonStatus::Guest) {
        return Err(not_insured(ws, &person)?);
    }
    Ok(person)
}

/// Why a person who is not actively insured is refused: the life event that made it so, where
/// one did.
pub(super) fn not_insured(ws: &mut WorkingSet<'_>, person: &Person) -> Result<EngineError, EngineError> {
    let event = status_event(person, &ws.life_events(&person.psn_no)?);
    Ok(Refusal::NotInsured { name: person.name.clone(), psn_no: person.psn_no.clone(), status: person.status, event }
        .into())
}

/// The institution, which must exist and be designated on `day`.
pub(super) fn designated_institution(
    ws: &mut WorkingSet<'_>,
    code: &InstitutionCode,
    day: Date,
) -> Result<Institution, EngineError> {
    let institution = ws.institution(code)?.ok_or_else(|| {
        EngineError::not_found(format!("定点医药机构{code}不存在"), format!("no designated institution {code}"))
    })?;
    if !institution.is_designated_on(day) {
        return Err(EngineError::refused(
            format!("{}（{code}）不在定点协议有效期内", institution.name),
            format!(
                "{code} is not designated on {day} (designated {} to {})",
                institution.designated_from, institution.designated_to
            ),
        ));
    }
    Ok(institution)
}

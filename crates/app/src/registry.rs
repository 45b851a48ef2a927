//! Enrolment of an insured person, built once for every desk that enrols.

use yibao_domain::Date;
pub use yibao_engine::commands::Enrolment;
use yibao_engine::commands::{CreatePerson, PersonNumber};

/// The enrolment command under a person number (drawn at random by the caller, drawn again
/// should the engine find it taken).
pub fn enrol(enrolment: Enrolment, number: PersonNumber, today: Date, actor: String) -> CreatePerson {
    CreatePerson::new(enrolment, number, today, actor)
}

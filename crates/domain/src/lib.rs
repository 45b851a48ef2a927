//! Domain types of yibao: the values every other crate speaks in.
//!
//! Everything here is parsed once, at the edge, and is valid by construction afterwards:
//! an [`IdNumber`] always has a correct check character, a [`Money`] is always whole fen,
//! an [`Admdvs`] is always six digits. Nothing in this crate does IO, knows about JSON, SQL
//! or HTTP; wire formats live in the server crate and convert into these types exactly once.

mod codes;
mod decimal;
mod ec_code;
mod error;
mod fixed;
mod id_number;
mod kinds;
mod money;
mod time;

pub use codes::{Admdvs, BankCode, CardNo, CardSn, InstitutionCode, MdtrtId, MsgId, PersonNo, SetlId};
pub use decimal::{Quantity, Ratio, UnitPrice};
pub use ec_code::EcCode;
pub use error::ParseError;
pub use id_number::{IdNumber, Sex};
pub use kinds::{
    CertType, ChargeClass, FundPayType, InstitutionKind, InstitutionLevel, InsuranceType, MedType, PersonType,
    PersonTypeGroup,
};
pub use money::Money;
pub use time::{Date, DateTime, Month};

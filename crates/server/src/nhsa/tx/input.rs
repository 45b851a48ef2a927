//! What every transaction reads from its input the same way: `input.data`, the person number,
//! the certificate presented, and whether the person is the institution's patient.

use yibao_domain::{CertType, PersonNo};
use yibao_engine::records::Certificate;

use crate::nhsa::fields::Fields;
use crate::nhsa::{Call, NhsaError};

/// `input.data`.
pub(crate) fn data<'a>(call: &'a Call) -> Result<Fields<'a>, NhsaError> {
    Fields::of("input", &call.envelope.input)?.object("data")
}

pub(crate) fn person_no(fields: &Fields<'_>) -> Result<PersonNo, NhsaError> {
    fields.required("psn_no")
}

/// A person's records are read only by an institution that has them as its patient: it
/// identified them with their certificate (1101) or treated them. Any other person number is
/// refused the same way whether it exists or not.
pub(crate) async fn own_patient(call: &Call, psn_no: &PersonNo) -> Result<(), NhsaError> {
    let (institution, person) = (call.institution.code.clone(), psn_no.clone());
    match call.app.store.read(move |r| r.institution_knows(&institution, &person)).await? {
        true => Ok(()),
        false => Err(NhsaError::new(format!(
            "人员编号{psn_no}不是本机构的就诊人员：请先以1101（人员信息获取）凭就诊凭证读取人员信息"
        ))),
    }
}

/// The certificate a visit or settlement is presented with (`mdtrt_cert_type`, `mdtrt_cert_no`).
pub(crate) fn certificate(fields: &Fields<'_>, required: bool) -> Result<Option<Certificate>, NhsaError> {
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

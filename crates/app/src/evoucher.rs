//! The e-voucher's actions that more than one edge offers: a QR code to show at the counter
//! (`GET /api/v1/me/qr-code`, the portal's page) and the suspension after a lost phone (REST,
//! the portal).

use yibao_domain::{Admdvs, PersonNo};
use yibao_engine::commands::{IssueQrCode, QR_SECONDS, SuspendEVoucher, grant_hash};

use crate::idempotency::hex;

/// A fresh QR code for the person insured in `admdvs` (`<admdvs>ec<32 hex>`, from the caller's
/// 16 random bytes) and the command that records it: only its SHA-256 is stored, for
/// [`QR_SECONDS`] seconds and one decoding. The code is shown once.
pub fn qr_code(admdvs: &Admdvs, psn_no: PersonNo, random: [u8; 16]) -> (String, IssueQrCode) {
    let code = format!("{admdvs}ec{}", hex(&random));
    let command = IssueQrCode { psn_no, hash: grant_hash(&code), seconds: QR_SECONDS };
    (code, command)
}

/// Suspends the person's e-voucher (a lost phone): `actor` did it, for `reason`.
pub fn suspend(psn_no: PersonNo, actor: String, reason: String) -> SuspendEVoucher {
    SuspendEVoucher { psn_no, actor, reason }
}

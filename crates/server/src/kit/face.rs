//! Face verification, behind a trait: the e-voucher's activation and face pay at pharmacies
//! ask a [`FaceVerifier`] whether a captured image (the probe) shows the insured person.
//!
//! The adapter point: a deployment implements [`FaceVerifier`] against its face service (the
//! public-security photo comparison, a vendor SDK) and passes it to
//! [`crate::Application::with_face_verifier`]. yibao ships [`DeterministicFaceVerifier`], which
//! tests and the demo use: it accepts exactly the probe `face:<psn_no>` (as bytes), so a
//! scenario can choose a match or a mismatch without a camera.

use yibao_engine::records::Person;

/// What a verifier concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaceVerdict {
    /// The probe shows this person.
    Match,
    /// It does not (or shows no live face).
    NoMatch,
    /// The face service could not answer; the caller may retry.
    Unavailable(String),
}

/// Compares a captured face with the person's enrolled one. Called on a blocking thread: an
/// adapter may do network IO here.
pub trait FaceVerifier: Send + Sync + 'static {
    fn verify(&self, person: &Person, probe: &[u8]) -> FaceVerdict;
}

/// The largest probe image accepted (bytes, after base64 decoding).
pub const PROBE_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Accepts exactly the probe `face:<psn_no>`: a verifier for tests and the demo.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeterministicFaceVerifier;

impl FaceVerifier for DeterministicFaceVerifier {
    fn verify(&self, person: &Person, probe: &[u8]) -> FaceVerdict {
        if probe == format!("face:{}", person.psn_no).as_bytes() { FaceVerdict::Match } else { FaceVerdict::NoMatch }
    }
}

//! Fuzz target bodies. Each takes arbitrary bytes, must never panic, asserts what its parser
//! promises for whatever it accepts, and tells whether it accepted the input. `fuzz/` runs them under libFuzzer (`cargo fuzz run
//! <target>`, nightly); `tests/fuzz_corpora.rs` replays their corpora on stable in `cargo test`.

use serde_json::Value;
use yibao_domain::{EcCode, IdNumber, Money};

/// The national interface's envelope: a JSON body (or a multipart upload carrying one) parsed
/// into an [`crate::nhsa::Envelope`].
pub fn envelope(data: &[u8]) -> bool {
    let in_multipart = match crate::nhsa::files::parse_multipart(data, "yibao-fuzz") {
        Ok(parts) => parts.json.is_some_and(|json| envelope_json(&json)),
        Err(_) => false,
    };
    envelope_json(data) || in_multipart
}

fn envelope_json(data: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return false };
    let Ok(envelope) = crate::nhsa::Envelope::parse(&value) else { return false };
    assert_eq!(envelope.request_hash.len(), 64);
    assert!(envelope.input.is_object(), "input is always an object");
    let again = crate::nhsa::Envelope::parse(&value).expect("parsing is deterministic");
    assert_eq!(again.request_hash, envelope.request_hash);
    true
}

/// Money from yuan text: what parses prints back as the same amount, and sums stay exact.
pub fn money(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let Ok(money) = text.parse::<Money>() else { return false };
    let printed = money.to_string();
    assert_eq!(printed.parse::<Money>().expect("printed money parses"), money, "{text:?} → {printed}");
    assert_eq!((money + money) - money, money);
    assert!(!money.abs().is_negative());
    assert_eq!(Money::from_fen(money.fen()), money);
    true
}

/// Resident ID numbers: what parses has a correct check character and exposes, masks and
/// describes itself without panicking.
pub fn id_number(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    // Any text may be presented as someone's ID number (whole or masked, as 1101 answers it).
    let known: IdNumber = "330102198503121236".parse().expect("a valid ID number");
    let _ = known.is_presented_by(text);
    let Ok(id) = text.parse::<IdNumber>() else { return false };
    let exposed = id.expose();
    assert!(id.is_presented_by(exposed) && id.is_presented_by(&id.masked()), "its own number, whole or masked");
    assert_eq!(exposed.len(), 18);
    assert_eq!(exposed.parse::<IdNumber>().expect("its own text parses"), id);
    assert_eq!(exposed.chars().last(), Some(IdNumber::check_character(&exposed[..17])));
    assert_eq!(id.masked().chars().count(), 18);
    assert!(!id.masked().contains(&exposed[6..14]), "the birth date is masked");
    let _ = (id.birth_date(), id.sex(), id.address_code(), id.initial_password());
    true
}

/// Policy files: any text is either refused with an error or becomes a policy a set accepts.
pub fn policy_file(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let Ok(policy) = yibao_policy::parse_policy("fuzz.toml", text) else { return false };
    let mut set = yibao_policy::PolicySet::new();
    set.add("fuzz.toml", policy).is_ok()
}

/// E-voucher QR codes and tokens: only `<admdvs>ec<32 hex>` parses, and it names its region.
pub fn ec_code(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let Ok(code) = text.parse::<EcCode>() else { return false };
    assert_eq!(code.as_str(), text);
    assert_eq!(code.region().as_str(), &text[..6]);
    assert_eq!(code.to_string().parse::<EcCode>().expect("round trip"), code);
    true
}

/// A target body: never panics; whether the input was accepted.
pub type Target = fn(&[u8]) -> bool;

/// Every target, by the name `fuzz/` and the corpora use.
pub const TARGETS: [(&str, Target); 5] = [
    ("envelope", envelope),
    ("money", money),
    ("id_number", id_number),
    ("policy_file", policy_file),
    ("ec_code", ec_code),
];

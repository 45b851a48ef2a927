//! A card's state (REST's card desk, the portal's loss report) and the files institutions keep
//! with the national interface (9101 upload, 3202's detail file).

use yibao_domain::{CardNo, InstitutionCode};
use yibao_engine::commands::{ChangeCardStatus, StoreFile};
use yibao_engine::records::CardStatus;

/// Moves a card to `to` (lost, blocked, cancelled, active again); `actor` did it, for `reason`.
pub fn change_status(card_no: CardNo, to: CardStatus, actor: String, reason: String) -> ChangeCardStatus {
    ChangeCardStatus { card_no, to, actor, reason }
}

/// Keeps a file an institution sent.
pub fn store_file(institution: InstitutionCode, filename: String, content: Vec<u8>) -> StoreFile {
    StoreFile { institution, filename, content }
}

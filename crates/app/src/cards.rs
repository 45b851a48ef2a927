//! A card's state: REST's card desk and the loss report (the portal's too).

use yibao_domain::CardNo;
use yibao_engine::commands::ChangeCardStatus;
use yibao_engine::records::CardStatus;

/// Moves a card to `to` (lost, blocked, cancelled, active again); `actor` did it, for `reason`.
pub fn change_status(card_no: CardNo, to: CardStatus, actor: String, reason: String) -> ChangeCardStatus {
    ChangeCardStatus { card_no, to, channel: None, actor, reason }
}

//! Peers: other yibao deployments, each holding the persons of its own regions (异地就医 across
//! deployments, R8). When a person insured in a peer's region is treated here, this server asks
//! the peer for the person (1101) and, at settlement, sends it the visit and its lines; the
//! peer prices them by its own policy, pays from its fund and the person's account, and
//! answers with the settlement, which this server then records with its own half of the
//! inter-region claim. A peer that does not answer means no settlement on either side.
//!
//! Calls are JSON over HTTP, `POST /peer/v1/…`, signed with a secret the two deployments
//! share: `x-yibao-peer` (the caller's region), `x-yibao-timestamp` (Unix seconds, within five
//! minutes) and `x-yibao-signature` = hex(HMAC-SHA256(secret, timestamp + "\n" + path + "\n" +
//! body)); answers are signed the same way over `answer:` + the path, and an answer whose
//! signature does not hold counts as no answer. Requests and answers carry the wire format
//! (`x-yibao-peer-format`, `yibao_store::exchange::FORMAT`; records are objects of named
//! fields): an authenticated peer's request in another format is refused with 409 and a message
//! saying so, before anything is done; answers of the previous format still read (what an older
//! peer did is recorded), and an answer of an unknown newer format counts as no answer. Run peers over a private network or a TLS
//! tunnel all the same: the exchange carries ID numbers.

//!
//! `client` is the signed call and the configured peers (the shared state holds them);
//! `treating` is what the national interface asks of a peer; `serving` answers peers.

pub(crate) mod client;
mod serving;
mod treating;

pub use client::{BODY_MAX_BYTES, Peer, PeerError, Peers, call};
pub use serving::router;
pub use treating::{RemoteSettle, cancel, find_person, settle};

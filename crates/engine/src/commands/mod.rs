//! Commands: the only way state changes. Each declares the keys it will touch (for bulk
//! loading), then runs against the working set; a refused command leaves no trace.
//!
//! This file only names the commands' modules and re-exports them; what every command shares
//! (the `Command` trait, its `Context`, `Outcome`, the `Submission` and `run`) is in `command`,
//! which imports no command module, so no two files here import each other in a loop.

mod access;
mod accounts;
mod bank_payments;
mod cards;
mod clearing;
mod command;
mod contributions;
mod credit;
mod disputes;
mod elsewhere;
mod evoucher;
mod life;
mod lines;
mod lookup;
mod misc;
mod notifications;
mod payouts;
mod peer;
mod registry;
mod reimbursements;
mod reminders;
mod settle;
mod summary;
mod visits;

pub use access::{
    BeginAttempt, ChangeSecret, ConsumeCredential, DESPITE_LOCK_FAILURES_MAX, FAILURES_MAX, LOCK_MINUTES,
    PutCredential, RecordAttempt, RecordAudit, lock_end,
};
pub use accounts::{ALLOCATION_BATCH_MAX, AllocateMonth, CloseYear};
pub use bank_payments::{
    BANK_PAYMENT_DAYS_BACK, BANK_PAYMENT_LINES_MAX, ConfirmBankPayments, PaidLine, bank_payment_id,
};
pub use cards::{
    ApplicationStep, ApplyForCard, ChangeCardStatus, ConfirmClearing, ConfirmProofLetter, PrintStatement, ProduceCard,
    RecordApplicationStep, ReplaceCard, transition_allowed,
};
pub use clearing::{
    CLEARING_DAYS_MAX, PayInstitution, PayInterRegion, institution_clearing_id, inter_region_clearing_id,
};
pub use command::{
    Command, Context, Envelope, Outcome, REASON_MAX_CHARS, Render, Reply, SettlementOutcome, Submission, Warning, run,
};
pub use contributions::{CONTRIBUTION_BATCH_MAX, PayContributions};
pub use credit::{ContributionPeriod, allocation_id, contribution_id};
pub use disputes::{OPEN_DISPUTES_MAX, RaiseDispute, ResolveDispute};
pub use elsewhere::{ELSEWHERE_DAYS_MAX, RegisterElsewhere, RevokeElsewhere};
pub use evoucher::{
    ActivateEVoucher, AuthorizeFace, CHANNELS, EC_TOKEN_SECONDS, FACE_AUTH_SECONDS, IssueQrCode, QR_SECONDS,
    RedeemGrant, SuspendEVoucher, grant_hash, token_holder,
};
pub use life::{
    BASE_MAX_YUAN, LifeChange, RecordLifeEvent, RecordTransferIn, TRANSFER_IN_MAX_YUAN, retired_type, transfer_in_id,
};
pub use lines::{LineUpload, RevokeLines, RevokeScope, UploadLines};
pub use misc::{
    AgencyAct, FILE_MAX_BYTES, RecordIdentification, RecordRead, RegisterDisease, Reverse, RevokeDisease,
    SignInCommand, SignOut, StoreFile,
};
pub use notifications::{MarkRead, READ_MAX};
pub use payouts::{ProposePayout, ReviewPayout, payout_id};
pub use peer::{PeerSettle, RecordPeerCancellation, RecordPeerSettlement, RegisterGuest};
pub use registry::{
    CreateEmployer, CreateInstitution, CreatePerson, CreateRegion, DRAWN_MIN, Enrolment, IssueCard, OpeningBalance,
    PERSON_NUMBER_MAX, PersonNumber, PutCatalogueEntry,
};
pub use reimbursements::{
    CLAIM_DAYS_MAX, ProviderRef, REIMBURSEMENT_LINES_MAX, ResubmitReimbursement, ReviewDecision, ReviewReimbursement,
    SubmitReimbursement, reimbursement_id,
};
pub use reminders::{REMINDER_BATCH_MAX, REMINDER_DAYS, RemindExpiring};
pub use settle::{CancelSettlement, Purchase, PurchaseRequest, Settle, SettleRequest, Treated};
pub use summary::{
    AllocationSummary, BankPaymentSummary, ClearingSummary, ContributionLine, ContributionSummary, SKIPPED_LISTED,
    SkipReason, Skipped,
};
pub use visits::{Admit, CancelVisit, Discharge, OpenVisit, UndoDischarge, UpdateVisit, VisitDetails};

//! The working set: the rows one batch of commands reads and writes, loaded from the store on
//! demand (and in bulk up front when commands declare their keys), changed in memory with
//! per-command savepoints, and handed back to the store as one [`ChangeSet`] to commit.

use std::collections::BTreeSet;

use yibao_domain::{CardNo, Date, InstitutionCode, MdtrtId, MsgId, PersonNo, SetlId};
use yibao_ledger::{Account, AccountKey, Accounts, Transfer, TransferId};
use yibao_policy::Accumulators;

use crate::error::{EngineError, StoreFailure};
use crate::record::Record;
use crate::records::{
    AuditEntry, BankPayment, Card, CardApplication, CardTransaction, CatalogueEntry, ClearingNotice, ClearingParty,
    Credential, CredentialKind, DayTotals, DiseaseRegistration, EVoucher, Employer, FeeLine, Grant, Institution,
    LifeEvent, LossReport, Message, Payout, Person, Region, Settlement, SignIn, StoredFile, Visit, VisitDiagnoses,
    WithheldCredit,
};
use crate::records::{Dispute, ElsewhereRegistration, Notification, Reimbursement};
use crate::row::{TableDef, Value};
use crate::table::Table;

/// How the working set reads rows it does not hold yet. Each method takes many keys so the
/// same code serves bulk prefetch and a single miss; missing rows are simply not returned.
pub trait Loader {
    /// The rows of a table whose `column` holds one of `keys`, in the table's column order
    /// (in insertion order for an ordered table). The keyed loads of every [`Record`] table.
    fn rows(
        &mut self,
        table: &'static TableDef,
        column: &'static str,
        keys: Vec<String>,
    ) -> Result<Vec<Vec<Value>>, StoreFailure>;
    /// Person numbers by full ID number.
    fn person_numbers(&mut self, id_numbers: &[String]) -> Result<Vec<(String, PersonNo)>, StoreFailure>;
    /// Every year's accumulators of these persons.
    fn accumulators(&mut self, persons: &[PersonNo]) -> Result<Vec<(PersonNo, u16, Accumulators)>, StoreFailure>;
    /// The outpatient visits of a person at an institution that began on `since` or later.
    fn outpatient_visits_since(
        &mut self,
        psn_no: &PersonNo,
        institution: &InstitutionCode,
        since: Date,
    ) -> Result<Vec<Visit>, StoreFailure>;
    /// The lines with these keys (visit, serial), in any order.
    fn line_keys(&mut self, keys: &[(MdtrtId, String)]) -> Result<Vec<FeeLine>, StoreFailure>;
    /// How many lines each of these visits holds (visits without lines may be left out).
    fn line_counts(&mut self, visits: &[MdtrtId]) -> Result<Vec<(MdtrtId, usize)>, StoreFailure>;
    fn transfers(&mut self, keys: &[TransferId]) -> Result<Vec<Transfer>, StoreFailure>;
    fn sequences(&mut self, names: &[String]) -> Result<Vec<(String, i64)>, StoreFailure>;
    /// Per-day totals of a clearing party's settlement records on days `from..=to`, in day
    /// order, days without records left out. For an institution, only the records whose
    /// institution side this deployment holds (see `commands::clearing`).
    fn settlement_days(&mut self, party: &ClearingParty, from: Date, to: Date) -> Result<Vec<DayTotals>, StoreFailure>;
}

/// The records of a table whose [`Record::LOAD_BY`] column holds one of these keys' values,
/// narrowed to the keys themselves where the key has more than that column.
///
/// # Errors
/// When the store fails or a row does not decode.
pub fn load<R: Record>(loader: &mut dyn Loader, keys: &[R::Key]) -> Result<Vec<R>, StoreFailure> {
    let mut rows = load_by::<R>(loader, R::LOAD_BY, keys.iter().map(R::load_key).collect())?;
    if R::TABLE.key.len() > 1 {
        let asked: BTreeSet<&R::Key> = keys.iter().collect();
        rows.retain(|row| asked.contains(&row.key()));
    }
    Ok(rows)
}

/// The records of a table whose `column` holds one of `keys` (in insertion order for an
/// ordered table).
///
/// # Errors
/// When the store fails or a row does not decode.
pub fn load_by<R: Record>(
    loader: &mut dyn Loader,
    column: &'static str,
    keys: Vec<String>,
) -> Result<Vec<R>, StoreFailure> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    loader.rows(R::TABLE, column, keys)?.iter().map(|row| R::decode(row)).collect()
}

/// Every settlement of these visits (cancelled ones and mirrors too), oldest first: by time,
/// then id.
///
/// # Errors
/// When the store fails or a row does not decode.
pub fn visit_settlements(loader: &mut dyn Loader, visits: &[MdtrtId]) -> Result<Vec<Settlement>, StoreFailure> {
    let mut rows: Vec<Settlement> = load_by(loader, "mdtrt_id", visits.iter().map(ToString::to_string).collect())?;
    rows.sort_by(|a, b| (a.at, &a.setl_id).cmp(&(b.at, &b.setl_id)));
    Ok(rows)
}

/// A person's special disease registrations (revoked ones too), by serial.
///
/// # Errors
/// When the store fails or a row does not decode.
pub fn person_registrations(
    loader: &mut dyn Loader,
    person: &PersonNo,
) -> Result<Vec<DiseaseRegistration>, StoreFailure> {
    let mut rows: Vec<DiseaseRegistration> = load_by(loader, "psn_no", vec![person.to_string()])?;
    rows.sort_by(|a, b| a.serial.cmp(&b.serial));
    Ok(rows)
}

/// A card's transactions, oldest first (by sequence number).
///
/// # Errors
/// When the store fails or a row does not decode.
pub fn card_transactions(loader: &mut dyn Loader, card: &CardNo) -> Result<Vec<CardTransaction>, StoreFailure> {
    let mut rows: Vec<CardTransaction> = load_by(loader, "card_no", vec![card.to_string()])?;
    rows.sort_by_key(|row| row.seq);
    Ok(rows)
}

/// Keys a command will need, loaded in bulk before the batch runs.
#[derive(Debug, Default, Clone)]
pub struct Keys {
    pub institutions: BTreeSet<InstitutionCode>,
    pub persons: BTreeSet<PersonNo>,
    pub accounts: BTreeSet<AccountKey>,
    /// Visits with all their lines and settlements.
    pub visits: BTreeSet<MdtrtId>,
    /// Visits whose row alone will be read (an upload of lines, which must not cost more for
    /// a visit that already holds many).
    pub visit_rows: BTreeSet<MdtrtId>,
    /// Lines looked up by key (visit, serial).
    pub lines: BTreeSet<(MdtrtId, String)>,
    pub settlements: BTreeSet<SetlId>,
    pub messages: BTreeSet<MsgId>,
    /// Whole ID numbers whose person numbers will be looked up.
    pub id_numbers: BTreeSet<String>,
    /// Transfers whose existence will be checked (idempotency keys of bulk runs).
    pub transfers: BTreeSet<TransferId>,
}

impl Keys {
    pub fn merge(&mut self, other: Keys) {
        self.institutions.extend(other.institutions);
        self.persons.extend(other.persons);
        self.accounts.extend(other.accounts);
        self.visits.extend(other.visits);
        self.visit_rows.extend(other.visit_rows);
        self.lines.extend(other.lines);
        self.settlements.extend(other.settlements);
        self.messages.extend(other.messages);
        self.id_numbers.extend(other.id_numbers);
        self.transfers.extend(other.transfers);
    }
}

/// The working set's tables, declared once. A line under `records` names a [`Record`] type: it
/// makes the working set's table (keyed by the record's key), its place in a savepoint and its
/// rollback, its rows in the [`ChangeSet`], its loads (through [`Loader::rows`]) and its
/// table in [`RECORD_TABLES`] (the store's DDL). A line under `written` is a table the store
/// writes by its own code (its rows are not one record each); under `kept`, rolled back the
/// same way but never written.
macro_rules! tables {
    (
        records { $( $r:ident: $rt:ty, )* }
        written { $( $w:ident: $wk:ty => $wv:ty, )* }
        kept { $( $(#[$kdoc:meta])* $k:ident: $kk:ty => $kv:ty, )* }
    ) => {
        /// Everything a batch changed, for the store to write in one transaction: the final state
        /// of every row changed (rows are never deleted; a person's registrations are replaced as
        /// a whole); transfers and audit entries are new and append-only.
        #[derive(Debug, Default)]
        pub struct ChangeSet {
            /// The changed rows of each [`Record`] table, encoded, in [`RECORD_TABLES`] order.
            pub rows: Vec<(&'static TableDef, Vec<Vec<Value>>)>,
            $( pub $w: Vec<($wk, Option<$wv>)>, )*
            pub transfers: Vec<Transfer>,
            pub catalogue: Vec<CatalogueEntry>,
            pub audit: Vec<AuditEntry>,
        }

        impl ChangeSet {
            pub fn is_empty(&self) -> bool {
                self.rows.iter().all(|(_, rows)| rows.is_empty())
                    $( && self.$w.is_empty() )* && self.transfers.is_empty() && self.catalogue.is_empty() && self.audit.is_empty()
            }
        }

        /// The table of every [`Record`] type the working set keeps, in declaration order.
        pub const RECORD_TABLES: &[&TableDef] = &[ $( <$rt as Record>::TABLE, )* ];

        /// The keyed tables of a working set, each with its undo log.
        #[derive(Default)]
        pub(crate) struct Tables {
            $( $r: Table<<$rt as Record>::Key, $rt>, )*
            $( $w: Table<$wk, $wv>, )*
            $( $(#[$kdoc])* $k: Table<$kk, $kv>, )*
        }

        $(
            impl Holds<$rt> for Tables {
                fn table(&mut self) -> &mut Table<<$rt as Record>::Key, $rt> {
                    &mut self.$r
                }
            }
        )*

        /// Where each table's undo log stood.
        #[derive(Debug, Clone, Copy)]
        struct TablePoints {
            $( $r: usize, )*
            $( $w: usize, )*
            $( $k: usize, )*
        }

        impl Tables {
            fn savepoint(&self) -> TablePoints {
                TablePoints { $( $r: self.$r.savepoint(), )* $( $w: self.$w.savepoint(), )* $( $k: self.$k.savepoint(), )* }
            }

            fn rollback(&mut self, points: TablePoints) {
                $( self.$r.rollback(points.$r); )*
                $( self.$w.rollback(points.$w); )*
                $( self.$k.rollback(points.$k); )*
            }

            /// The written tables' changes (transfers, catalogue and audit are the caller's).
            fn changes(&self) -> ChangeSet {
                ChangeSet {
                    rows: vec![ $( (<$rt as Record>::TABLE, encoded(self.$r.changes())), )* ],
                    $( $w: self.$w.changes(), )*
                    ..ChangeSet::default()
                }
            }
        }
    };
}

/// A working set's table of one [`Record`] type.
pub(crate) trait Holds<R: Record> {
    fn table(&mut self) -> &mut Table<R::Key, R>;
}

/// The final rows of changed records (a `None`, never written, is left out).
fn encoded<K, R: Record>(changes: Vec<(K, Option<R>)>) -> Vec<Vec<Value>> {
    changes.iter().filter_map(|(_, row)| row.as_ref().map(Record::encode)).collect()
}

tables! {
    records {
        regions: Region,
        employers: Employer,
        institutions: Institution,
        persons: Person,
        cards: Card,
        accounts: Account,
        visits: Visit,
        lines: FeeLine,
        settlements: Settlement,
        messages: Message,
        sign_ins: SignIn,
        credentials: Credential,
        files: StoredFile,
        card_applications: CardApplication,
        card_transactions: CardTransaction,
        clearing_notices: ClearingNotice,
        loss_reports: LossReport,
        bank_payments: BankPayment,
        evouchers: EVoucher,
        grants: Grant,
        diagnoses: VisitDiagnoses,
        withheld_credits: WithheldCredit,
        life_events: LifeEvent,
        payouts: Payout,
        reimbursements: Reimbursement,
        elsewhere: ElsewhereRegistration,
        disputes: Dispute,
        notifications: Notification,
    }
    written {
        accumulators: (PersonNo, u16) => Accumulators,
        registrations: PersonNo => Vec<DiseaseRegistration>,
        sequences: String => i64,
    }
    kept {
        /// The person number of an ID number (a lookup; the person row is what is written).
        person_numbers: String => PersonNo,
        /// Transfers loaded or posted; the new ones are written from `new_transfers`, append-only.
        transfers: TransferId => Transfer,
        /// Settlement ids of each visit, oldest first (derived; not written back).
        settlement_index: MdtrtId => Vec<SetlId>,
        /// Sequence numbers of each card's transactions, oldest first (derived; not written back).
        card_transaction_index: CardNo => Vec<i64>,
        /// Sequence numbers of each person's life events, in order (derived; not written back).
        life_event_index: PersonNo => Vec<i64>,
        /// Ids of each person's payouts (derived; not written back).
        payout_index: PersonNo => Vec<String>,
        /// Ids of each person's reimbursements (derived; not written back).
        reimbursement_index: PersonNo => Vec<String>,
        /// Ids of each person's disputes (derived; not written back).
        dispute_index: PersonNo => Vec<String>,
        /// Serials of each person's treatment-elsewhere registrations (derived; not written back).
        elsewhere_index: PersonNo => Vec<String>,
    }
}

/// A savepoint of every table, to undo one command's changes.
#[derive(Debug, Clone, Copy)]
pub struct Savepoint {
    tables: TablePoints,
    line_index: usize,
    new_transfers: usize,
    catalogue: usize,
    audit: usize,
}

/// Generates the named lazy single-key getter of a [`Record`] table.
macro_rules! getter {
    ($(#[$doc:meta])* $name:ident, $row:ty) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// When the store fails to load it.
        pub fn $name(&mut self, key: &<$row as Record>::Key) -> Result<Option<$row>, EngineError> {
            self.get::<$row>(key)
        }
    };
}

/// A record table whose rows belong to a person (keyed by a `String` id that sorts in the
/// order made): `$list` reads the person's rows, loaded once by `psn_no` and kept with what
/// this batch added (so a check over them sees requests that came earlier in the batch), and
/// `$put` stores one and keeps the person's list.
macro_rules! owned_by_person {
    ($(#[$doc:meta])* $list:ident, $put:ident, $row:ty, $table:ident, $index:ident) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// When the store fails.
        pub fn $list(&mut self, psn_no: &PersonNo) -> Result<Vec<$row>, EngineError> {
            if !self.tables.$index.is_loaded(psn_no) {
                let mut rows: Vec<$row> = load_by(self.loader, "psn_no", vec![psn_no.to_string()])?;
                rows.sort_by_key(|row| row.key());
                let keys = rows.iter().map(|row| row.key()).collect();
                for row in rows {
                    if !self.tables.$table.is_loaded(&row.key()) {
                        self.tables.$table.loaded(row.key(), Some(row));
                    }
                }
                self.tables.$index.loaded(psn_no.clone(), Some(keys));
            }
            let keys = self.tables.$index.get(psn_no).flatten().cloned().unwrap_or_default();
            Ok(keys.into_iter().filter_map(|key| self.tables.$table.get(&key).flatten().cloned()).collect())
        }

        /// Stores one (a new one joins its person's list).
        ///
        /// # Errors
        /// When the store fails to load the person's list.
        pub fn $put(&mut self, row: $row) -> Result<(), EngineError> {
            let mut keys: Vec<String> = self.$list(&row.psn_no)?.iter().map(|row| row.key()).collect();
            if !keys.contains(&row.key()) {
                keys.push(row.key());
                self.tables.$index.put(row.psn_no.clone(), keys);
            }
            self.tables.$table.put(row.key(), row);
            Ok(())
        }
    };
}

/// The rows a batch works on. See the module documentation.
pub struct WorkingSet<'a> {
    loader: &'a mut dyn Loader,
    tables: Tables,
    /// The card numbers of each person whose cards were loaded (and of cards made since);
    /// derived, not written back.
    card_owners: std::collections::HashMap<PersonNo, BTreeSet<CardNo>>,
    /// Card numbers stored (made or changed) by this batch, by holder.
    cards_made: std::collections::HashMap<PersonNo, BTreeSet<CardNo>>,
    /// Visits inserted by this batch (a rolled-back one has no row any more).
    visits_made: BTreeSet<MdtrtId>,
    /// Which persons' accumulators are fully loaded (all years).
    accumulators_loaded: Table<PersonNo, ()>,
    /// Serials of each visit's lines in upload order (derived; not written back).
    line_index: LineIndex,
    new_transfers: Vec<TransferId>,
    catalogue: Vec<CatalogueEntry>,
    audit: Vec<AuditEntry>,
}

impl std::fmt::Debug for WorkingSet<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkingSet").finish_non_exhaustive()
    }
}

impl<'a> WorkingSet<'a> {
    pub fn new(loader: &'a mut dyn Loader) -> WorkingSet<'a> {
        WorkingSet {
            loader,
            tables: Tables::default(),
            card_owners: std::collections::HashMap::new(),
            cards_made: std::collections::HashMap::new(),
            visits_made: BTreeSet::new(),
            accumulators_loaded: Table::default(),
            line_index: LineIndex::default(),
            new_transfers: Vec::new(),
            catalogue: Vec::new(),
            audit: Vec::new(),
        }
    }

    /// A record by key, loaded on a miss.
    ///
    /// # Errors
    /// When the store fails to load it.
    pub(crate) fn get<R: Record>(&mut self, key: &R::Key) -> Result<Option<R>, EngineError>
    where
        Tables: Holds<R>,
    {
        if !Holds::<R>::table(&mut self.tables).is_loaded(key) {
            self.fetch::<R>(vec![key.clone()])?;
        }
        Ok(Holds::<R>::table(&mut self.tables).get(key).flatten().cloned())
    }

    /// Stores a record (its final state in this batch, undone by a rollback).
    pub(crate) fn put<R: Record>(&mut self, row: R)
    where
        Tables: Holds<R>,
    {
        Holds::<R>::table(&mut self.tables).put(row.key(), row);
    }

    /// Loads the records of those keys that are not loaded yet; a key without a row is
    /// remembered as absent.
    pub(crate) fn fetch<R: Record>(&mut self, keys: Vec<R::Key>) -> Result<(), EngineError>
    where
        Tables: Holds<R>,
    {
        let table = Holds::<R>::table(&mut self.tables);
        let keys: Vec<R::Key> = keys.into_iter().filter(|key| !table.is_loaded(key)).collect();
        if keys.is_empty() {
            return Ok(());
        }
        let rows = load::<R>(self.loader, &keys)?;
        let table = Holds::<R>::table(&mut self.tables);
        for row in rows {
            table.loaded(row.key(), Some(row));
        }
        for key in keys {
            table.loaded(key, None);
        }
        Ok(())
    }

    /// Loads, in bulk, whatever of `keys` is not loaded yet. Purely an optimisation: every
    /// getter loads on a miss.
    ///
    /// # Errors
    /// When the store fails.
    pub fn prefetch(&mut self, keys: &Keys) -> Result<(), EngineError> {
        self.fetch::<Institution>(keys.institutions.iter().cloned().collect())?;
        let id_numbers: Vec<_> =
            keys.id_numbers.iter().filter(|k| !self.tables.person_numbers.is_loaded(k)).cloned().collect();
        if !id_numbers.is_empty() {
            for (id_number, psn_no) in self.loader.person_numbers(&id_numbers)? {
                self.tables.person_numbers.loaded(id_number, Some(psn_no));
            }
            for key in id_numbers {
                self.tables.person_numbers.loaded(key, None);
            }
        }
        let transfers: Vec<_> =
            keys.transfers.iter().filter(|k| !self.tables.transfers.is_loaded(k)).cloned().collect();
        if !transfers.is_empty() {
            for row in self.loader.transfers(&transfers)? {
                self.tables.transfers.loaded(row.id.clone(), Some(row));
            }
            for key in transfers {
                self.tables.transfers.loaded(key, None);
            }
        }
        let persons: Vec<_> = keys.persons.iter().filter(|k| !self.tables.persons.is_loaded(k)).cloned().collect();
        if !persons.is_empty() {
            self.fetch::<Person>(persons.clone())?;
            self.load_accumulators(&persons)?;
            // Settlements check them (a bill claimed at the agency is not settled too): one
            // query for the batch rather than one a settlement.
            self.prefetch_reimbursements(&persons)?;
        }
        let mut accounts: BTreeSet<AccountKey> = keys.accounts.clone();
        for person in &keys.persons {
            accounts.insert(AccountKey::PersonalCurrent(person.clone()));
            accounts.insert(AccountKey::PersonalPrior(person.clone()));
        }
        self.fetch::<Account>(accounts.into_iter().collect())?;
        self.fetch::<Visit>(keys.visits.iter().chain(&keys.visit_rows).cloned().collect())?;
        let visits: Vec<_> = keys.visits.iter().filter(|k| !self.line_index.is_loaded(k)).cloned().collect();
        if !visits.is_empty() {
            self.load_lines(&visits)?;
            self.load_visit_settlements(&visits)?;
        }
        let lines: Vec<_> = keys
            .lines
            .iter()
            .filter(|key| !self.tables.lines.is_loaded(key) && !self.line_index.is_loaded(&key.0))
            .cloned()
            .collect();
        if !lines.is_empty() {
            self.load_line_keys(&lines)?;
        }
        self.fetch::<Settlement>(keys.settlements.iter().cloned().collect())?;
        self.fetch::<Message>(keys.messages.iter().cloned().collect())?;
        Ok(())
    }

    fn load_accumulators(&mut self, persons: &[PersonNo]) -> Result<(), EngineError> {
        for (person, year, row) in self.loader.accumulators(persons)? {
            self.tables.accumulators.loaded((person, year), Some(row));
        }
        for person in persons {
            self.accumulators_loaded.loaded(person.clone(), Some(()));
        }
        Ok(())
    }

    fn load_lines(&mut self, visits: &[MdtrtId]) -> Result<(), EngineError> {
        let mut index: std::collections::HashMap<MdtrtId, Vec<String>> =
            visits.iter().map(|v| (v.clone(), Vec::new())).collect();
        for row in load_by::<FeeLine>(self.loader, "mdtrt_id", visits.iter().map(ToString::to_string).collect())? {
            if let Some(serials) = index.get_mut(&row.mdtrt_id) {
                serials.push(row.serial.clone());
            }
            self.tables.lines.loaded((row.mdtrt_id.clone(), row.serial.clone()), Some(row));
        }
        for (visit, serials) in index {
            // The store's lines are all loaded now: a serial not among them is absent.
            self.line_index.loaded(visit, serials);
        }
        Ok(())
    }

    fn load_line_keys(&mut self, keys: &[(MdtrtId, String)]) -> Result<(), EngineError> {
        for row in self.loader.line_keys(keys)? {
            self.tables.lines.loaded((row.mdtrt_id.clone(), row.serial.clone()), Some(row));
        }
        for key in keys {
            self.tables.lines.loaded(key.clone(), None);
        }
        Ok(())
    }

    fn load_visit_settlements(&mut self, visits: &[MdtrtId]) -> Result<(), EngineError> {
        let mut index: Vec<(MdtrtId, Vec<SetlId>)> = visits.iter().map(|v| (v.clone(), Vec::new())).collect();
        for row in visit_settlements(self.loader, visits)? {
            if let Some((_, ids)) = index.iter_mut().find(|(visit, _)| *visit == row.mdtrt_id) {
                ids.push(row.setl_id.clone());
            }
            self.tables.settlements.loaded(row.setl_id.clone(), Some(row));
        }
        for (visit, ids) in index {
            self.tables.settlement_index.loaded(visit, Some(ids));
        }
        Ok(())
    }

    getter!(region, Region);
    getter!(employer, Employer);
    getter!(institution, Institution);
    getter!(person, Person);
    getter!(card, Card);

    /// Every card of a person, as this batch sees them.
    ///
    /// # Errors
    /// When the store fails.
    pub fn person_cards(&mut self, person: &PersonNo) -> Result<Vec<Card>, EngineError> {
        if !self.card_owners.contains_key(person) {
            let rows: Vec<Card> = load_by(self.loader, "psn_no", vec![person.to_string()])?;
            let numbers = rows.iter().map(|card| card.card_no.clone()).collect();
            for row in rows {
                self.tables.cards.loaded(row.card_no.clone(), Some(row));
            }
            self.card_owners.insert(person.clone(), numbers);
        }
        let numbers: BTreeSet<CardNo> =
            self.card_owners.get(person).into_iter().chain(self.cards_made.get(person)).flatten().cloned().collect();
        // A card made by a command that was rolled back is gone again: its row says so.
        Ok(numbers
            .iter()
            .filter_map(|number| self.tables.cards.get(number).flatten().filter(|card| &card.psn_no == person).cloned())
            .collect())
    }
    getter!(account, Account);

    /// The outpatient visits of a person at an institution that began on `since` or later,
    /// as this batch has them (its own new visits included), oldest first.
    ///
    /// # Errors
    /// When the store fails to load them.
    pub fn outpatient_visits_since(
        &mut self,
        person: &PersonNo,
        institution: &InstitutionCode,
        since: Date,
    ) -> Result<Vec<Visit>, EngineError> {
        let mut ids: BTreeSet<MdtrtId> = self.visits_made.clone();
        for row in self.loader.outpatient_visits_since(person, institution, since)? {
            ids.insert(row.mdtrt_id.clone());
            self.tables.visits.loaded(row.mdtrt_id.clone(), Some(row));
        }
        let mut visits: Vec<Visit> = ids
            .iter()
            .filter_map(|id| self.tables.visits.get(id).flatten())
            .filter(|visit| visit.is_outpatient_since(person, institution, since))
            .cloned()
            .collect();
        visits.sort_by(|a, b| (a.begin, &a.mdtrt_id).cmp(&(b.begin, &b.mdtrt_id)));
        Ok(visits)
    }
    getter!(visit, Visit);
    getter!(settlement, Settlement);
    getter!(message, Message);
    getter!(sign_in, SignIn);
    /// A transfer by id.
    ///
    /// # Errors
    /// When the store fails to load it.
    pub fn transfer(&mut self, key: &TransferId) -> Result<Option<Transfer>, EngineError> {
        if !self.tables.transfers.is_loaded(key) {
            for row in self.loader.transfers(std::slice::from_ref(key))? {
                self.tables.transfers.loaded(row.id.clone(), Some(row));
            }
            self.tables.transfers.loaded(key.clone(), None);
        }
        Ok(self.tables.transfers.get(key).flatten().cloned())
    }
    getter!(file, StoredFile);

    pub fn put_file(&mut self, row: StoredFile) {
        self.put(row);
    }

    getter!(card_application, CardApplication);
    getter!(clearing_notice, ClearingNotice);
    getter!(loss_report, LossReport);
    getter!(bank_payment, BankPayment);

    pub fn put_bank_payment(&mut self, row: BankPayment) {
        self.put(row);
    }

    pub fn put_loss_report(&mut self, row: LossReport) {
        self.put(row);
    }
    getter!(evoucher, EVoucher);
    getter!(grant, Grant);
    getter!(diagnoses, VisitDiagnoses);

    pub fn put_diagnoses(&mut self, row: VisitDiagnoses) {
        self.put(row);
    }

    pub fn put_card_application(&mut self, row: CardApplication) {
        self.put(row);
    }

    pub fn put_clearing_notice(&mut self, row: ClearingNotice) {
        self.put(row);
    }

    pub fn put_evoucher(&mut self, row: EVoucher) {
        self.put(row);
    }

    pub fn put_grant(&mut self, row: Grant) {
        self.put(row);
    }

    /// A card's transactions, oldest first.
    ///
    /// # Errors
    /// When the store fails.
    pub fn card_transactions(&mut self, card: &CardNo) -> Result<Vec<CardTransaction>, EngineError> {
        if !self.tables.card_transaction_index.is_loaded(card) {
            let rows = card_transactions(self.loader, card)?;
            let seqs = rows.iter().map(|row| row.seq).collect();
            for row in rows {
                self.tables.card_transactions.loaded((row.card_no.clone(), row.seq), Some(row));
            }
            self.tables.card_transaction_index.loaded(card.clone(), Some(seqs));
        }
        let seqs = self.tables.card_transaction_index.get(card).flatten().cloned().unwrap_or_default();
        Ok(seqs
            .into_iter()
            .filter_map(|seq| self.tables.card_transactions.get(&(card.clone(), seq)).flatten().cloned())
            .collect())
    }

    /// The life events of these persons, loaded in one query where not loaded yet.
    ///
    /// # Errors
    /// When the store fails.
    pub fn prefetch_life_events(&mut self, persons: &[PersonNo]) -> Result<(), EngineError> {
        let missing: Vec<String> = persons
            .iter()
            .filter(|psn_no| !self.tables.life_event_index.is_loaded(psn_no))
            .map(ToString::to_string)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<LifeEvent> = load_by(self.loader, "psn_no", missing.clone())?;
        rows.sort_by_key(|row| row.seq);
        let mut index: std::collections::HashMap<PersonNo, Vec<i64>> = std::collections::HashMap::new();
        for row in rows {
            index.entry(row.psn_no.clone()).or_default().push(row.seq);
            self.tables.life_events.loaded((row.psn_no.clone(), row.seq), Some(row));
        }
        for psn_no in missing {
            let psn_no: PersonNo = psn_no.parse().map_err(|_| EngineError::internal("a stored person number"))?;
            let seqs = index.remove(&psn_no).unwrap_or_default();
            self.tables.life_event_index.loaded(psn_no, Some(seqs));
        }
        Ok(())
    }

    /// A person's life events, in the order recorded (effective dates never go back).
    ///
    /// # Errors
    /// When the store fails.
    pub fn life_events(&mut self, psn_no: &PersonNo) -> Result<Vec<LifeEvent>, EngineError> {
        self.prefetch_life_events(std::slice::from_ref(psn_no))?;
        let seqs = self.tables.life_event_index.get(psn_no).flatten().cloned().unwrap_or_default();
        Ok(seqs
            .into_iter()
            .filter_map(|seq| self.tables.life_events.get(&(psn_no.clone(), seq)).flatten().cloned())
            .collect())
    }

    getter!(payout, Payout);
    getter!(reimbursement, Reimbursement);
    owned_by_person!(
        /// A person's payouts, in the order proposed.
        payouts_of, put_payout, Payout, payouts, payout_index
    );
    /// Loads the reimbursements of these persons at once (those not loaded yet).
    ///
    /// # Errors
    /// When the store fails.
    fn prefetch_reimbursements(&mut self, persons: &[PersonNo]) -> Result<(), EngineError> {
        let missing: Vec<PersonNo> =
            persons.iter().filter(|psn_no| !self.tables.reimbursement_index.is_loaded(psn_no)).cloned().collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<Reimbursement> =
            load_by(self.loader, "psn_no", missing.iter().map(ToString::to_string).collect())?;
        rows.sort_by_key(|row| row.key());
        let mut index: std::collections::HashMap<PersonNo, Vec<String>> = std::collections::HashMap::new();
        for row in rows {
            index.entry(row.psn_no.clone()).or_default().push(row.key());
            if !self.tables.reimbursements.is_loaded(&row.key()) {
                self.tables.reimbursements.loaded(row.key(), Some(row));
            }
        }
        for psn_no in missing {
            let keys = index.remove(&psn_no).unwrap_or_default();
            self.tables.reimbursement_index.loaded(psn_no, Some(keys));
        }
        Ok(())
    }

    owned_by_person!(
        /// A person's reimbursements, in the order submitted.
        reimbursements_of, put_reimbursement, Reimbursement, reimbursements, reimbursement_index
    );
    owned_by_person!(
        /// A person's disputes, in the order raised.
        disputes_of, put_dispute, Dispute, disputes, dispute_index
    );
    owned_by_person!(
        /// A person's registrations for treatment in another region, in the order made.
        elsewhere_of, put_elsewhere, ElsewhereRegistration, elsewhere, elsewhere_index
    );
    getter!(elsewhere_registration, ElsewhereRegistration);
    getter!(dispute, Dispute);
    getter!(notification, Notification);

    /// Writes a notification in this batch (the outbox: it commits with its cause).
    pub fn notify(&mut self, notification: Notification) {
        self.put(notification);
    }

    /// The loader, for a read this working set does not keep (what the batch changed is not in
    /// it).
    pub(crate) fn loader(&mut self) -> &mut dyn Loader {
        &mut *self.loader
    }

    /// Records a life event after the person's others.
    ///
    /// # Errors
    /// When the store fails to load the person's events.
    pub fn put_life_event(&mut self, row: LifeEvent) -> Result<(), EngineError> {
        let mut seqs: Vec<i64> = self.life_events(&row.psn_no)?.into_iter().map(|event| event.seq).collect();
        seqs.push(row.seq);
        self.tables.life_event_index.put(row.psn_no.clone(), seqs);
        self.tables.life_events.put((row.psn_no.clone(), row.seq), row);
        Ok(())
    }

    /// Stores a card transaction (a new sequence number is appended to the card's order).
    ///
    /// # Errors
    /// When the store fails to load the card's transactions.
    pub fn put_card_transaction(&mut self, row: CardTransaction) -> Result<(), EngineError> {
        let key = (row.card_no.clone(), row.seq);
        if self.tables.card_transactions.get(&key).flatten().is_none() {
            let mut seqs: Vec<i64> = self.card_transactions(&row.card_no)?.into_iter().map(|t| t.seq).collect();
            seqs.push(row.seq);
            self.tables.card_transaction_index.put(row.card_no.clone(), seqs);
        }
        self.tables.card_transactions.put(key, row);
        Ok(())
    }

    /// The person number registered for a full ID number.
    ///
    /// # Errors
    /// When the store fails.
    /// Per-day settlement totals of a clearing party, read from committed data: only for days
    /// that have ended, which no settlement of this or a later batch can still change.
    ///
    /// # Errors
    /// When the store fails.
    pub fn settlement_days(
        &mut self,
        party: &ClearingParty,
        from: Date,
        to: Date,
    ) -> Result<Vec<DayTotals>, EngineError> {
        Ok(self.loader.settlement_days(party, from, to)?)
    }

    pub fn person_number(&mut self, id_number: &str) -> Result<Option<PersonNo>, EngineError> {
        let key = id_number.to_string();
        if !self.tables.person_numbers.is_loaded(&key) {
            for (id, person) in self.loader.person_numbers(std::slice::from_ref(&key))? {
                self.tables.person_numbers.loaded(id, Some(person));
            }
            self.tables.person_numbers.loaded(key.clone(), None);
        }
        Ok(self.tables.person_numbers.get(&key).flatten().cloned())
    }

    /// A person's accumulators for an insurance year (zero when none are stored).
    ///
    /// # Errors
    /// When the store fails.
    pub fn accumulators(&mut self, person: &PersonNo, year: u16) -> Result<Accumulators, EngineError> {
        if !self.accumulators_loaded.is_loaded(person) {
            self.load_accumulators(std::slice::from_ref(person))?;
        }
        Ok(self.tables.accumulators.get(&(person.clone(), year)).flatten().copied().unwrap_or_default())
    }

    /// The lines of a visit, in upload order.
    ///
    /// # Errors
    /// When the store fails.
    pub fn lines(&mut self, visit: &MdtrtId) -> Result<Vec<FeeLine>, EngineError> {
        if !self.line_index.is_loaded(visit) {
            self.load_lines(std::slice::from_ref(visit))?;
        }
        Ok(self
            .line_index
            .serials(visit)
            .filter_map(|serial| self.tables.lines.get(&(visit.clone(), serial.clone())).flatten().cloned())
            .collect())
    }

    /// One line of a visit, by its serial (`feedetl_sn`), without loading the others.
    ///
    /// # Errors
    /// When the store fails.
    pub fn line(&mut self, visit: &MdtrtId, serial: &str) -> Result<Option<FeeLine>, EngineError> {
        let key = (visit.clone(), serial.to_string());
        if !self.tables.lines.is_loaded(&key) {
            match self.line_index.is_loaded(visit) {
                // Every stored line of the visit is loaded: this one is not among them.
                true => self.tables.lines.loaded(key.clone(), None),
                false => self.load_line_keys(std::slice::from_ref(&key))?,
            }
        }
        Ok(self.tables.lines.get(&key).flatten().cloned())
    }

    /// How many lines a visit holds (revoked ones included), without loading them.
    ///
    /// # Errors
    /// When the store fails.
    pub fn line_count(&mut self, visit: &MdtrtId) -> Result<usize, EngineError> {
        if !self.line_index.is_counted(visit) {
            let stored = self.loader.line_counts(std::slice::from_ref(visit))?;
            let count = stored.into_iter().find(|(v, _)| v == visit).map_or(0, |(_, count)| count);
            self.line_index.counted(visit.clone(), count);
        }
        Ok(self.line_index.count(visit))
    }

    /// The settlements of a visit (including cancelled ones and mirrors), oldest first.
    ///
    /// # Errors
    /// When the store fails.
    pub fn visit_settlements(&mut self, visit: &MdtrtId) -> Result<Vec<Settlement>, EngineError> {
        if !self.tables.settlement_index.is_loaded(visit) {
            self.load_visit_settlements(std::slice::from_ref(visit))?;
        }
        let ids = self.tables.settlement_index.get(visit).flatten().cloned().unwrap_or_default();
        Ok(ids.into_iter().filter_map(|id| self.tables.settlements.get(&id).flatten().cloned()).collect())
    }

    /// A person's special disease registrations.
    ///
    /// # Errors
    /// When the store fails.
    pub fn registrations(&mut self, person: &PersonNo) -> Result<Vec<DiseaseRegistration>, EngineError> {
        if !self.tables.registrations.is_loaded(person) {
            let rows = person_registrations(self.loader, person)?;
            self.tables.registrations.loaded(person.clone(), Some(rows));
        }
        Ok(self.tables.registrations.get(person).flatten().cloned().unwrap_or_default())
    }

    /// Takes the next value of a named sequence (first value 1).
    ///
    /// # Errors
    /// When the store fails.
    pub fn next_sequence(&mut self, name: &str) -> Result<i64, EngineError> {
        let key = name.to_string();
        if !self.tables.sequences.is_loaded(&key) {
            for (name, value) in self.loader.sequences(std::slice::from_ref(&key))? {
                self.tables.sequences.loaded(name, Some(value));
            }
            self.tables.sequences.loaded(key.clone(), None);
        }
        let next = self.tables.sequences.get(&key).flatten().copied().unwrap_or(0) + 1;
        self.tables.sequences.put(key, next);
        Ok(next)
    }

    pub fn put_region(&mut self, row: Region) {
        self.put(row);
    }

    pub fn put_employer(&mut self, row: Employer) {
        self.put(row);
    }

    pub fn put_institution(&mut self, row: Institution) {
        self.put(row);
    }

    /// Records that a person number just drawn from its sequence has no personal accounts
    /// yet, so opening them needs no lookup.
    pub fn new_person_number(&mut self, psn_no: &PersonNo) {
        for key in [AccountKey::PersonalCurrent(psn_no.clone()), AccountKey::PersonalPrior(psn_no.clone())] {
            if !self.tables.accounts.is_loaded(&key) {
                self.tables.accounts.loaded(key, None);
            }
        }
    }

    pub fn put_person(&mut self, row: Person) {
        self.tables.person_numbers.put(row.id_number.expose().to_string(), row.psn_no.clone());
        self.tables.persons.put(row.psn_no.clone(), row);
    }

    pub fn put_card(&mut self, row: Card) {
        self.cards_made.entry(row.psn_no.clone()).or_default().insert(row.card_no.clone());
        self.tables.cards.put(row.card_no.clone(), row);
    }

    /// Opens an account with zero totals (nothing if it exists).
    ///
    /// # Errors
    /// When the store fails.
    pub fn open_account(&mut self, key: AccountKey) -> Result<(), EngineError> {
        if self.account(&key)?.is_none() {
            self.tables.accounts.put(key.clone(), Account::open(key));
        }
        Ok(())
    }

    pub fn put_accumulators(&mut self, person: PersonNo, year: u16, row: Accumulators) {
        self.tables.accumulators.put((person, year), row);
    }

    /// Stores a new visit: it has no lines or settlements yet.
    pub fn insert_visit(&mut self, row: Visit) {
        self.visits_made.insert(row.mdtrt_id.clone());
        self.line_index.loaded(row.mdtrt_id.clone(), Vec::new());
        self.tables.settlement_index.loaded(row.mdtrt_id.clone(), Some(Vec::new()));
        self.tables.visits.put(row.mdtrt_id.clone(), row);
    }

    /// Stores a changed visit.
    pub fn put_visit(&mut self, row: Visit) {
        debug_assert!(self.tables.visits.is_loaded(&row.mdtrt_id), "a visit is loaded before it is changed");
        self.tables.visits.put(row.mdtrt_id.clone(), row);
    }

    /// Stores a line; a new serial is appended to its visit's line order.
    ///
    /// # Errors
    /// When the store fails to load the visit's lines.
    pub fn put_line(&mut self, row: FeeLine) -> Result<(), EngineError> {
        if self.line(&row.mdtrt_id, &row.serial)?.is_none() {
            self.line_index.append(row.mdtrt_id.clone(), row.serial.clone());
        }
        self.tables.lines.put((row.mdtrt_id.clone(), row.serial.clone()), row);
        Ok(())
    }

    /// Stores a settlement; a new one is appended to its visit's settlements.
    ///
    /// # Errors
    /// When the store fails to load the visit's settlements.
    pub fn put_settlement(&mut self, row: Settlement) -> Result<(), EngineError> {
        if self.tables.settlements.get(&row.setl_id).flatten().is_none() {
            let mut ids: Vec<SetlId> = self.visit_settlements(&row.mdtrt_id)?.into_iter().map(|s| s.setl_id).collect();
            ids.push(row.setl_id.clone());
            self.tables.settlement_index.put(row.mdtrt_id.clone(), ids);
        }
        self.tables.settlements.put(row.setl_id.clone(), row);
        Ok(())
    }

    pub fn put_message(&mut self, row: Message) {
        self.put(row);
    }

    pub fn put_registrations(&mut self, person: PersonNo, rows: Vec<DiseaseRegistration>) {
        self.tables.registrations.put(person, rows);
    }

    pub fn put_sign_in(&mut self, row: SignIn) {
        self.put(row);
    }

    /// Posts a transfer: checks it against the accounts (loading them), applies it, and
    /// records it for writing. Reposting an identical transfer id changes nothing.
    ///
    /// # Errors
    /// A refusal naming the ledger rule, or a store failure.
    pub fn post(&mut self, transfer: Transfer) -> Result<(), EngineError> {
        if let Some(existing) = self.transfer(&transfer.id)? {
            return match existing.same_content(&transfer) {
                true => Ok(()),
                false => Err(EngineError::conflict(
                    format!("记账流水{}已存在且内容不同", transfer.id),
                    format!("transfer {} already exists with different content", transfer.id),
                )),
            };
        }
        for posting in &transfer.postings {
            self.account(&posting.account)?;
        }
        let mut view = AccountsView { accounts: &mut self.tables.accounts };
        yibao_ledger::apply(&mut view, &transfer).map_err(|error| ledger_refusal(&error))?;
        self.new_transfers.push(transfer.id.clone());
        self.tables.transfers.put(transfer.id.clone(), transfer);
        Ok(())
    }

    /// A credential.
    ///
    /// # Errors
    /// When the store fails.
    pub fn credential(&mut self, subject: &str, kind: CredentialKind) -> Result<Option<Credential>, EngineError> {
        self.get::<Credential>(&(subject.to_string(), kind))
    }

    pub fn put_credential(&mut self, row: Credential) {
        self.put(row);
    }

    /// Adds or replaces a catalogue entry (by code and begin date).
    pub fn put_catalogue_entry(&mut self, entry: CatalogueEntry) {
        self.catalogue.push(entry);
    }

    pub fn audit(&mut self, entry: AuditEntry) {
        self.audit.push(entry);
    }

    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            tables: self.tables.savepoint(),
            line_index: self.line_index.savepoint(),
            new_transfers: self.new_transfers.len(),
            catalogue: self.catalogue.len(),
            audit: self.audit.len(),
        }
    }

    /// Undoes every change made since `savepoint` (rows loaded meanwhile stay loaded).
    pub fn rollback(&mut self, savepoint: Savepoint) {
        self.tables.rollback(savepoint.tables);
        self.line_index.rollback(savepoint.line_index);
        self.new_transfers.truncate(savepoint.new_transfers);
        self.catalogue.truncate(savepoint.catalogue);
        self.audit.truncate(savepoint.audit);
    }

    /// Everything changed, for the store to write.
    pub fn changes(&self) -> ChangeSet {
        ChangeSet {
            transfers: self
                .new_transfers
                .iter()
                .map(|id| self.tables.transfers.get(id).flatten().cloned().expect("posted transfers are kept"))
                .collect(),
            catalogue: self.catalogue.clone(),
            audit: self.audit.clone(),
            ..self.tables.changes()
        }
    }
}

struct AccountsView<'t> {
    accounts: &'t mut Table<AccountKey, Account>,
}

impl Accounts for AccountsView<'_> {
    fn account(&self, key: &AccountKey) -> Option<&Account> {
        self.accounts.get(key).flatten()
    }

    fn account_mut(&mut self, key: &AccountKey) -> Option<&mut Account> {
        self.accounts.modify(key)
    }
}

fn ledger_refusal(error: &yibao_ledger::TransferError) -> EngineError {
    match error {
        yibao_ledger::TransferError::ExceedsBalance { account, balance, debit } => EngineError::refused(
            format!("{}余额{}元不足以支付{}元", account.name_zh(), balance, debit),
            error.to_string(),
        ),
        _ => EngineError::internal(error),
    }
}

/// The order of each visit's lines: the serials the store holds (once they are loaded), then
/// those added by this batch. Adding a line is O(1) and so is undoing it, whatever the visit
/// already holds; the count of a visit's lines can be known without loading them.
#[derive(Debug, Default)]
struct LineIndex {
    /// Serials the store holds, in upload order, for visits loaded whole.
    stored: std::collections::HashMap<MdtrtId, Vec<String>>,
    /// How many lines the store holds, for visits loaded whole or counted.
    stored_counts: std::collections::HashMap<MdtrtId, usize>,
    /// Serials added in this batch, in order.
    added: std::collections::HashMap<MdtrtId, Vec<String>>,
    /// One entry per serial added, newest last: the visit it was added to.
    undo: Vec<MdtrtId>,
}

impl LineIndex {
    fn is_loaded(&self, visit: &MdtrtId) -> bool {
        self.stored.contains_key(visit)
    }

    /// Records the store's serials of a visit (a visit loaded twice keeps the first).
    fn loaded(&mut self, visit: MdtrtId, serials: Vec<String>) {
        self.stored_counts.insert(visit.clone(), serials.len());
        self.stored.entry(visit).or_insert(serials);
    }

    fn is_counted(&self, visit: &MdtrtId) -> bool {
        self.stored_counts.contains_key(visit)
    }

    fn counted(&mut self, visit: MdtrtId, count: usize) {
        self.stored_counts.entry(visit).or_insert(count);
    }

    /// Stored plus added; the visit must be counted.
    fn count(&self, visit: &MdtrtId) -> usize {
        self.stored_counts.get(visit).copied().unwrap_or(0) + self.added.get(visit).map_or(0, Vec::len)
    }

    /// Every serial of a loaded visit, in upload order.
    fn serials<'s>(&'s self, visit: &MdtrtId) -> impl Iterator<Item = &'s String> + 's {
        self.stored.get(visit).into_iter().flatten().chain(self.added.get(visit).into_iter().flatten())
    }

    fn append(&mut self, visit: MdtrtId, serial: String) {
        self.added.entry(visit.clone()).or_default().push(serial);
        self.undo.push(visit);
    }

    fn savepoint(&self) -> usize {
        self.undo.len()
    }

    fn rollback(&mut self, savepoint: usize) {
        while self.undo.len() > savepoint {
            let visit = self.undo.pop().expect("len > savepoint");
            if let Some(added) = self.added.get_mut(&visit) {
                added.pop();
            }
        }
    }
}

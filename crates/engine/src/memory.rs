//! An in-memory database: the reference [`Loader`] for tests and the in-process benchmark.
//! It keeps exactly what a store keeps, in maps — each [`Record`] table as encoded rows by key,
//! in insertion order where the table is ordered — and applies a [`ChangeSet`] as a commit.

use std::collections::BTreeMap;

use yibao_domain::{Date, InstitutionCode, MdtrtId, PersonNo};
use yibao_ledger::{Transfer, TransferId};
use yibao_policy::Accumulators;

use crate::commands::{Context, Reply, Submission, run};
use crate::error::{EngineError, StoreFailure};
use crate::record::Record;
use crate::records::{
    AuditEntry, CatalogueEntry, ClearingParty, DayTotals, DiseaseRegistration, FeeLine, Person, Settlement, Visit,
};
use crate::row::{TableDef, Value};
use crate::working_set::{ChangeSet, Loader, WorkingSet};

/// One table's rows by their key columns' values, each with the order it was first inserted
/// (a store's `rowid`; an update keeps it).
#[derive(Debug, Default, Clone)]
struct Rows {
    by_key: BTreeMap<Vec<Value>, (u64, Vec<Value>)>,
}

/// Everything a store holds, in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryDb {
    /// The [`Record`] tables, by table name.
    tables: BTreeMap<&'static str, Rows>,
    inserted: u64,
    pub accumulators: BTreeMap<(PersonNo, u16), Accumulators>,
    pub transfers: Vec<Transfer>,
    pub sequences: BTreeMap<String, i64>,
    pub catalogue: Vec<CatalogueEntry>,
    pub audit: Vec<AuditEntry>,
}

fn position(table: &TableDef, column: &str) -> Result<usize, StoreFailure> {
    table
        .columns
        .iter()
        .position(|c| c.name == column)
        .ok_or_else(|| StoreFailure(format!("{}: no column {column}", table.name)))
}

impl MemoryDb {
    /// Every record of a table, in key order.
    ///
    /// # Panics
    /// When a row does not decode: rows here were encoded by the same codec.
    pub fn all<R: Record>(&self) -> Vec<R> {
        self.tables
            .get(R::TABLE.name)
            .into_iter()
            .flat_map(|rows| rows.by_key.values())
            .map(|(_, row)| R::decode(row).expect("a row this database encoded decodes"))
            .collect()
    }

    /// Every record of a table, by key.
    pub fn table<R: Record>(&self) -> BTreeMap<R::Key, R> {
        self.all::<R>().into_iter().map(|row| (row.key(), row)).collect()
    }

    /// One record by key.
    pub fn get<R: Record>(&self, key: &R::Key) -> Option<R> {
        self.all::<R>().into_iter().find(|row| &row.key() == key)
    }

    /// Stores a record as it is (a test's way to set up a state no command makes).
    pub fn put<R: Record>(&mut self, row: R) {
        self.upsert(R::TABLE, row.encode());
    }

    fn upsert(&mut self, table: &'static TableDef, row: Vec<Value>) {
        let key: Vec<Value> = table
            .key
            .iter()
            .filter_map(|column| position(table, column).ok())
            .map(|at| row.get(at).cloned().unwrap_or(Value::Null))
            .collect();
        let rows = self.tables.entry(table.name).or_default();
        let order = match rows.by_key.get(&key) {
            Some((order, _)) => *order,
            None => {
                self.inserted += 1;
                self.inserted
            }
        };
        rows.by_key.insert(key, (order, row));
    }
}

impl Loader for MemoryDb {
    fn rows(
        &mut self,
        table: &'static TableDef,
        column: &'static str,
        keys: Vec<String>,
    ) -> Result<Vec<Vec<Value>>, StoreFailure> {
        let Some(rows) = self.tables.get(table.name) else { return Ok(Vec::new()) };
        let mut found: Vec<&(u64, Vec<Value>)> = if table.key == [column] {
            keys.into_iter().filter_map(|key| rows.by_key.get(&vec![Value::Text(key)])).collect()
        } else {
            let at = position(table, column)?;
            let keys: std::collections::BTreeSet<Value> = keys.into_iter().map(Value::Text).collect();
            rows.by_key.values().filter(|(_, row)| row.get(at).is_some_and(|value| keys.contains(value))).collect()
        };
        if table.ordered {
            found.sort_by_key(|(order, _)| *order);
        }
        Ok(found.into_iter().map(|(_, row)| row.clone()).collect())
    }

    fn person_numbers(&mut self, id_numbers: &[String]) -> Result<Vec<(String, PersonNo)>, StoreFailure> {
        Ok(self
            .all::<Person>()
            .into_iter()
            .filter(|p| id_numbers.iter().any(|id| id == p.id_number.expose()))
            .map(|p| (p.id_number.expose().to_string(), p.psn_no))
            .collect())
    }

    fn accumulators(&mut self, persons: &[PersonNo]) -> Result<Vec<(PersonNo, u16, Accumulators)>, StoreFailure> {
        Ok(self
            .accumulators
            .iter()
            .filter(|((person, _), _)| persons.contains(person))
            .map(|((person, year), row)| (person.clone(), *year, *row))
            .collect())
    }

    fn outpatient_visits_since(
        &mut self,
        psn_no: &PersonNo,
        institution: &InstitutionCode,
        since: Date,
    ) -> Result<Vec<Visit>, StoreFailure> {
        Ok(self
            .all::<Visit>()
            .into_iter()
            .filter(|visit| visit.is_outpatient_since(psn_no, institution, since))
            .collect())
    }

    fn line_keys(&mut self, keys: &[(MdtrtId, String)]) -> Result<Vec<FeeLine>, StoreFailure> {
        Ok(keys.iter().filter_map(|key| self.get::<FeeLine>(key)).collect())
    }

    fn line_counts(&mut self, visits: &[MdtrtId]) -> Result<Vec<(MdtrtId, usize)>, StoreFailure> {
        let lines = self.all::<FeeLine>();
        Ok(visits.iter().map(|visit| (visit.clone(), lines.iter().filter(|l| &l.mdtrt_id == visit).count())).collect())
    }

    fn settlement_days(&mut self, party: &ClearingParty, from: Date, to: Date) -> Result<Vec<DayTotals>, StoreFailure> {
        let mut days: BTreeMap<Date, DayTotals> = BTreeMap::new();
        let persons = self.all::<Person>();
        let guests: std::collections::BTreeSet<&PersonNo> = persons
            .iter()
            .filter(|person| person.status == crate::records::PersonStatus::Guest)
            .map(|person| &person.psn_no)
            .collect();
        let of_party = |s: &Settlement| match party {
            ClearingParty::Institution(code) => {
                &s.institution == code
                    && (s.setl_id.as_str().get(..6) == Some(s.treated_admdvs.as_str()) || guests.contains(&s.psn_no))
            }
            ClearingParty::Regions { insured, treated } => &s.insured_admdvs == insured && &s.treated_admdvs == treated,
        };
        for settlement in self.all::<Settlement>().iter().filter(|s| of_party(s)) {
            let day = settlement.at.date();
            if day < from || day > to {
                continue;
            }
            let totals = days.entry(day).or_insert_with(|| DayTotals::empty(day));
            let amounts = &settlement.amounts;
            totals.count += 1;
            totals.medfee += amounts.medfee;
            totals.fund += amounts.funds();
            totals.account += amounts.account();
            totals.cash += amounts.cash;
        }
        Ok(days.into_values().collect())
    }

    fn transfers(&mut self, keys: &[TransferId]) -> Result<Vec<Transfer>, StoreFailure> {
        Ok(self.transfers.iter().filter(|t| keys.contains(&t.id)).cloned().collect())
    }

    fn sequences(&mut self, names: &[String]) -> Result<Vec<(String, i64)>, StoreFailure> {
        Ok(names.iter().filter_map(|name| self.sequences.get(name).map(|v| (name.clone(), *v))).collect())
    }
}

fn store<K: Ord, V>(map: &mut BTreeMap<K, V>, rows: Vec<(K, Option<V>)>) {
    for (key, row) in rows {
        match row {
            Some(row) => map.insert(key, row),
            None => map.remove(&key),
        };
    }
}

impl MemoryDb {
    /// Applies a batch's changes, as a commit.
    pub fn apply(&mut self, changes: ChangeSet) {
        for (table, rows) in changes.rows {
            for row in rows {
                self.upsert(table, row);
            }
        }
        store(&mut self.accumulators, changes.accumulators);
        for (person, registrations) in changes.registrations {
            // As the store does: the person's registrations are replaced as a whole.
            let at = position(DiseaseRegistration::TABLE, "psn_no").expect("registrations have psn_no");
            let psn_no = Value::Text(person.to_string());
            if let Some(rows) = self.tables.get_mut(DiseaseRegistration::TABLE.name) {
                rows.by_key.retain(|_, (_, row)| row.get(at) != Some(&psn_no));
            }
            for row in registrations.iter().flatten() {
                self.put(row.clone());
            }
        }
        self.transfers.extend(changes.transfers);
        store(&mut self.sequences, changes.sequences);
        for entry in changes.catalogue {
            self.catalogue.retain(|e| !(e.code == entry.code && e.begin == entry.begin));
            self.catalogue.push(entry);
        }
        self.audit.extend(changes.audit);
    }

    /// Runs one submission and commits it when it succeeds.
    ///
    /// # Errors
    /// The command's refusal; nothing is changed then.
    pub fn execute(&mut self, ctx: &Context<'_>, submission: Submission) -> Result<Reply, EngineError> {
        let (reply, changes) = {
            let mut ws = WorkingSet::new(self);
            let reply = run(&mut ws, ctx, &submission);
            (reply, ws.changes())
        };
        if reply.is_ok() {
            self.apply(changes);
        }
        reply
    }

    /// Runs a submission on a throw-away working set: what it would do, changing nothing
    /// (pre-settlement).
    ///
    /// # Errors
    /// The command's refusal.
    pub fn dry_run(&mut self, ctx: &Context<'_>, submission: Submission) -> Result<Reply, EngineError> {
        let mut ws = WorkingSet::new(self);
        run(&mut ws, ctx, &submission)
    }
}

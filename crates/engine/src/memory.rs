//! An in-memory database: the reference [`Loader`] for tests and the in-process benchmark.
//! It keeps exactly what a store keeps, in maps, and applies a [`ChangeSet`] as a commit.

use std::collections::BTreeMap;

use yibao_domain::{Admdvs, CardNo, Date, InstitutionCode, MdtrtId, MsgId, PersonNo, SetlId};
use yibao_ledger::{Account, AccountKey, Transfer, TransferId};
use yibao_policy::Accumulators;

use crate::commands::{Context, Reply, Submission, run};
use crate::error::{EngineError, StoreFailure};
use crate::records::{
    AuditEntry, Card, CardApplication, CardTransaction, CatalogueEntry, ClearingNotice, ClearingParty, Credential,
    CredentialKind, DayTotals, DiseaseRegistration, EVoucher, Employer, FeeLine, Grant, Institution, Message, Person,
    Region, Settlement, SignIn, StoredFile, Visit, VisitDiagnoses,
};
use crate::working_set::{ChangeSet, Loader, WorkingSet};

/// Everything a store holds, in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryDb {
    pub regions: BTreeMap<Admdvs, Region>,
    pub employers: BTreeMap<String, Employer>,
    pub institutions: BTreeMap<InstitutionCode, Institution>,
    pub persons: BTreeMap<PersonNo, Person>,
    pub cards: BTreeMap<CardNo, Card>,
    pub accounts: BTreeMap<AccountKey, Account>,
    pub accumulators: BTreeMap<(PersonNo, u16), Accumulators>,
    pub visits: BTreeMap<MdtrtId, Visit>,
    /// Lines with their upload order.
    pub lines: BTreeMap<(MdtrtId, String), (u64, FeeLine)>,
    pub settlements: BTreeMap<SetlId, Settlement>,
    pub messages: BTreeMap<MsgId, Message>,
    pub registrations: BTreeMap<PersonNo, Vec<DiseaseRegistration>>,
    pub sign_ins: BTreeMap<String, SignIn>,
    pub transfers: Vec<Transfer>,
    pub sequences: BTreeMap<String, i64>,
    pub credentials: BTreeMap<(String, CredentialKind), Credential>,
    pub files: BTreeMap<String, StoredFile>,
    pub card_applications: BTreeMap<String, CardApplication>,
    pub card_transactions: BTreeMap<(CardNo, i64), CardTransaction>,
    pub clearing_notices: BTreeMap<String, ClearingNotice>,
    pub evouchers: BTreeMap<PersonNo, EVoucher>,
    pub grants: BTreeMap<String, Grant>,
    pub diagnoses: BTreeMap<MdtrtId, VisitDiagnoses>,
    pub catalogue: Vec<CatalogueEntry>,
    pub audit: Vec<AuditEntry>,
    line_order: u64,
}

fn pick<K: Ord + Clone, V: Clone>(map: &BTreeMap<K, V>, keys: &[K]) -> Vec<V> {
    keys.iter().filter_map(|key| map.get(key).cloned()).collect()
}

impl Loader for MemoryDb {
    fn regions(&mut self, keys: &[Admdvs]) -> Result<Vec<Region>, StoreFailure> {
        Ok(pick(&self.regions, keys))
    }

    fn employers(&mut self, keys: &[String]) -> Result<Vec<Employer>, StoreFailure> {
        Ok(pick(&self.employers, keys))
    }

    fn institutions(&mut self, keys: &[InstitutionCode]) -> Result<Vec<Institution>, StoreFailure> {
        Ok(pick(&self.institutions, keys))
    }

    fn persons(&mut self, keys: &[PersonNo]) -> Result<Vec<Person>, StoreFailure> {
        Ok(pick(&self.persons, keys))
    }

    fn person_numbers(&mut self, id_numbers: &[String]) -> Result<Vec<(String, PersonNo)>, StoreFailure> {
        Ok(self
            .persons
            .values()
            .filter(|p| id_numbers.iter().any(|id| id == p.id_number.expose()))
            .map(|p| (p.id_number.expose().to_string(), p.psn_no.clone()))
            .collect())
    }

    fn cards(&mut self, keys: &[CardNo]) -> Result<Vec<Card>, StoreFailure> {
        Ok(pick(&self.cards, keys))
    }

    fn person_cards(&mut self, persons: &[PersonNo]) -> Result<Vec<Card>, StoreFailure> {
        Ok(self.cards.values().filter(|card| persons.contains(&card.psn_no)).cloned().collect())
    }

    fn accounts(&mut self, keys: &[AccountKey]) -> Result<Vec<Account>, StoreFailure> {
        Ok(pick(&self.accounts, keys))
    }

    fn accumulators(&mut self, persons: &[PersonNo]) -> Result<Vec<(PersonNo, u16, Accumulators)>, StoreFailure> {
        Ok(self
            .accumulators
            .iter()
            .filter(|((person, _), _)| persons.contains(person))
            .map(|((person, year), row)| (person.clone(), *year, *row))
            .collect())
    }

    fn visits(&mut self, keys: &[MdtrtId]) -> Result<Vec<Visit>, StoreFailure> {
        Ok(pick(&self.visits, keys))
    }

    fn outpatient_visits_since(
        &mut self,
        psn_no: &PersonNo,
        institution: &InstitutionCode,
        since: Date,
    ) -> Result<Vec<Visit>, StoreFailure> {
        Ok(self
            .visits
            .values()
            .filter(|visit| visit.is_outpatient_since(psn_no, institution, since))
            .cloned()
            .collect())
    }

    fn lines(&mut self, visits: &[MdtrtId]) -> Result<Vec<FeeLine>, StoreFailure> {
        let mut lines: Vec<_> =
            self.lines.iter().filter(|((visit, _), _)| visits.contains(visit)).map(|(_, row)| row.clone()).collect();
        lines.sort_by_key(|(order, _)| *order);
        Ok(lines.into_iter().map(|(_, line)| line).collect())
    }

    fn line_keys(&mut self, keys: &[(MdtrtId, String)]) -> Result<Vec<FeeLine>, StoreFailure> {
        Ok(keys.iter().filter_map(|key| self.lines.get(key).map(|(_, line)| line.clone())).collect())
    }

    fn line_counts(&mut self, visits: &[MdtrtId]) -> Result<Vec<(MdtrtId, usize)>, StoreFailure> {
        Ok(visits.iter().map(|visit| (visit.clone(), self.lines.keys().filter(|(v, _)| v == visit).count())).collect())
    }

    fn settlements(&mut self, keys: &[SetlId]) -> Result<Vec<Settlement>, StoreFailure> {
        Ok(pick(&self.settlements, keys))
    }

    fn visit_settlements(&mut self, visits: &[MdtrtId]) -> Result<Vec<Settlement>, StoreFailure> {
        Ok(self.settlements.values().filter(|s| visits.contains(&s.mdtrt_id)).cloned().collect())
    }

    fn settlement_days(&mut self, party: &ClearingParty, from: Date, to: Date) -> Result<Vec<DayTotals>, StoreFailure> {
        let mut days: BTreeMap<Date, DayTotals> = BTreeMap::new();
        let guests: std::collections::BTreeSet<&PersonNo> = self
            .persons
            .values()
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
        for settlement in self.settlements.values().filter(|s| of_party(s)) {
            let day = settlement.at.date();
            if day < from || day > to {
                continue;
            }
            let totals = days.entry(day).or_insert_with(|| DayTotals::empty(day));
            let amounts = &settlement.amounts;
            totals.count += 1;
            totals.medfee += amounts.medfee;
            totals.fund += amounts.fund;
            totals.account += amounts.account();
            totals.cash += amounts.cash;
        }
        Ok(days.into_values().collect())
    }

    fn messages(&mut self, keys: &[MsgId]) -> Result<Vec<Message>, StoreFailure> {
        Ok(pick(&self.messages, keys))
    }

    fn registrations(&mut self, persons: &[PersonNo]) -> Result<Vec<DiseaseRegistration>, StoreFailure> {
        Ok(persons.iter().filter_map(|p| self.registrations.get(p)).flatten().cloned().collect())
    }

    fn sign_ins(&mut self, keys: &[String]) -> Result<Vec<SignIn>, StoreFailure> {
        Ok(pick(&self.sign_ins, keys))
    }

    fn transfers(&mut self, keys: &[TransferId]) -> Result<Vec<Transfer>, StoreFailure> {
        Ok(self.transfers.iter().filter(|t| keys.contains(&t.id)).cloned().collect())
    }

    fn sequences(&mut self, names: &[String]) -> Result<Vec<(String, i64)>, StoreFailure> {
        Ok(names.iter().filter_map(|name| self.sequences.get(name).map(|v| (name.clone(), *v))).collect())
    }

    fn credentials(&mut self, keys: &[(String, CredentialKind)]) -> Result<Vec<Credential>, StoreFailure> {
        Ok(pick(&self.credentials, keys))
    }

    fn files(&mut self, keys: &[String]) -> Result<Vec<StoredFile>, StoreFailure> {
        Ok(pick(&self.files, keys))
    }

    fn card_applications(&mut self, keys: &[String]) -> Result<Vec<CardApplication>, StoreFailure> {
        Ok(pick(&self.card_applications, keys))
    }

    fn card_transactions(&mut self, cards: &[CardNo]) -> Result<Vec<CardTransaction>, StoreFailure> {
        Ok(self.card_transactions.values().filter(|t| cards.contains(&t.card_no)).cloned().collect())
    }

    fn clearing_notices(&mut self, keys: &[String]) -> Result<Vec<ClearingNotice>, StoreFailure> {
        Ok(pick(&self.clearing_notices, keys))
    }

    fn evouchers(&mut self, persons: &[PersonNo]) -> Result<Vec<EVoucher>, StoreFailure> {
        Ok(pick(&self.evouchers, persons))
    }

    fn grants(&mut self, hashes: &[String]) -> Result<Vec<Grant>, StoreFailure> {
        Ok(pick(&self.grants, hashes))
    }

    fn diagnoses(&mut self, visits: &[MdtrtId]) -> Result<Vec<VisitDiagnoses>, StoreFailure> {
        Ok(pick(&self.diagnoses, visits))
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
        store(&mut self.regions, changes.regions);
        store(&mut self.employers, changes.employers);
        store(&mut self.institutions, changes.institutions);
        store(&mut self.persons, changes.persons);
        store(&mut self.cards, changes.cards);
        store(&mut self.accounts, changes.accounts);
        store(&mut self.accumulators, changes.accumulators);
        store(&mut self.visits, changes.visits);
        for (key, row) in changes.lines {
            match row {
                Some(row) => {
                    let order = match self.lines.get(&key) {
                        Some((order, _)) => *order,
                        None => {
                            self.line_order += 1;
                            self.line_order
                        }
                    };
                    self.lines.insert(key, (order, row));
                }
                None => {
                    self.lines.remove(&key);
                }
            }
        }
        store(&mut self.settlements, changes.settlements);
        store(&mut self.messages, changes.messages);
        store(&mut self.registrations, changes.registrations);
        store(&mut self.sign_ins, changes.sign_ins);
        self.transfers.extend(changes.transfers);
        store(&mut self.sequences, changes.sequences);
        store(&mut self.credentials, changes.credentials);
        store(&mut self.files, changes.files);
        store(&mut self.card_applications, changes.card_applications);
        store(&mut self.card_transactions, changes.card_transactions);
        store(&mut self.clearing_notices, changes.clearing_notices);
        store(&mut self.evouchers, changes.evouchers);
        store(&mut self.grants, changes.grants);
        store(&mut self.diagnoses, changes.diagnoses);
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

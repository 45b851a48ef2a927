//! Read-side queries for the server: lookups by secondary keys, lists with paging, period
//! totals for reconciliation, the journal. Each runs inside the caller's read snapshot.

use yibao_domain::{BankCode, CardNo, Date, DateTime, InstitutionCode, MdtrtId, Money, MsgId, PersonNo, SetlId};
use yibao_engine::records::{
    AuditEntry, BankPayment, Card, CardApplication, CardTransaction, CatalogueEntry, ClearingNotice, Credential,
    CredentialKind, DiseaseRegistration, EVoucher, Employer, FeeLine, Grant, Institution, LifeEvent, LossReport,
    Message, Payout, Person, Region, Settlement, StoredFile, Visit, VisitDiagnoses,
};
use yibao_engine::records::{Dispute, ElsewhereRegistration, Notification, Reimbursement};
use yibao_engine::{Loader, StoreFailure};
use yibao_ledger::{Account, AccountKey, Posting, Side, Transfer};
use yibao_policy::Accumulators;

use crate::conn::{Conn, Db};
use crate::schema::{self, TableDef};
use crate::value::Value;
use yibao_engine::Record;
use yibao_engine::codec;

/// A page of a list: which rows and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub total: u64,
    pub rows: Vec<T>,
}

/// What an operator searches persons by: a whole ID number, or else a text that is matched
/// against person numbers, names and card numbers (any of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonLookup {
    IdNumber(yibao_domain::IdNumber),
    Text(String),
}

impl PersonLookup {
    /// The most characters a search text may hold.
    pub const TEXT_MAX: usize = 40;

    /// What a search text means; `None` when it is empty or longer than [`Self::TEXT_MAX`].
    pub fn from_text(text: &str) -> Option<PersonLookup> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > Self::TEXT_MAX || text.chars().any(char::is_control) {
            return None;
        }
        Some(match text.parse() {
            Ok(id) => PersonLookup::IdNumber(id),
            Err(_) => PersonLookup::Text(text.to_string()),
        })
    }

    /// What the audit log keeps of a search: the text, an ID number masked.
    pub fn audited(&self) -> String {
        match self {
            PersonLookup::IdNumber(id) => id.masked(),
            PersonLookup::Text(text) => text.clone(),
        }
    }
}

/// One movement of a personal account (both parts): a transfer that credited or debited it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementEntry {
    pub transfer: String,
    pub code: yibao_ledger::TransferCode,
    pub at: DateTime,
    pub reference: String,
    /// What the transfer did to the current-year part (credits positive).
    pub current_year: Money,
    /// What it did to the prior-years part.
    pub prior_years: Money,
    /// The balance after it.
    pub balance: Money,
}

impl StatementEntry {
    /// What it did to the balance.
    pub fn amount(&self) -> Money {
        self.current_year + self.prior_years
    }
}

/// A personal account's statement for a period: the balance before it, then every movement in
/// the order it was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub opening: Money,
    pub entries: Vec<StatementEntry>,
    /// More movements fell in the period than one statement lists.
    pub more: bool,
}

impl Statement {
    /// The balance after the last movement listed.
    pub fn closing(&self) -> Money {
        self.entries.last().map_or(self.opening, |entry| entry.balance)
    }
}

/// Which settlements to list or total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettlementFilter {
    pub institution: Option<InstitutionCode>,
    pub person: Option<PersonNo>,
    pub insurance: Option<String>,
    pub clearing_type: Option<String>,
    /// Settlement time from (inclusive).
    pub from: Option<DateTime>,
    /// Settlement time until (exclusive).
    pub until: Option<DateTime>,
    /// Only records in force (no cancelled originals, no mirrors).
    pub in_force_only: bool,
    /// Persons insured in this region.
    pub insured_admdvs: Option<String>,
    /// Treated at institutions of this region.
    pub treated_admdvs: Option<String>,
}

/// The registrations that expire: special diseases or treatment elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationTable {
    Disease,
    Elsewhere,
}

/// Sums over settlements, for reconciliation (3201) and clearing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub count: u64,
    pub medfee: Money,
    /// The funds: pooled fund and civil-servant subsidy (`fund_pay_sumamt`).
    pub fund: Money,
    pub account: Money,
    pub cash: Money,
}

/// A read connection inside a snapshot: the engine's loader plus queries.
pub struct Reader<'c> {
    db: Db<'c>,
}

impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

fn text(value: impl ToString) -> Value {
    Value::Text(value.to_string())
}

fn one<T>(rows: Vec<T>) -> Option<T> {
    rows.into_iter().next()
}

impl<'c> Reader<'c> {
    pub(crate) fn new(conn: &'c mut dyn Conn) -> Reader<'c> {
        Reader { db: Db { conn } }
    }

    /// The engine's loader over this snapshot (for dry runs and key lookups).
    pub fn loader(&mut self) -> &mut dyn Loader {
        &mut self.db
    }

    fn select<T>(
        &mut self,
        table: &TableDef,
        clause: &str,
        params: &[Value],
        decode: fn(&[Value]) -> Result<T, StoreFailure>,
    ) -> Result<Vec<T>, StoreFailure> {
        let sql = format!("SELECT {} FROM {} {clause}", table.column_list(), table.name);
        self.db.conn.query(&sql, params)?.iter().map(|row| decode(row)).collect()
    }

    fn count(&mut self, table: &str, clause: &str, params: &[Value]) -> Result<u64, StoreFailure> {
        let rows = self.db.conn.query(&format!("SELECT COUNT(*) FROM {table} {clause}"), params)?;
        match rows.first().and_then(|row| row.first()) {
            Some(Value::Int(count)) => Ok(u64::try_from(*count).unwrap_or(0)),
            other => Err(StoreFailure(format!("count of {table}: unexpected {other:?}"))),
        }
    }

    /// Whether any national-interface message was ever stored (a server served this database).
    pub fn has_messages(&mut self) -> Result<bool, StoreFailure> {
        Ok(!self.db.conn.query("SELECT msgid FROM messages LIMIT 1", &[])?.is_empty())
    }

    /// A `meta` entry (schema version, dataset marker).
    ///
    /// # Errors
    /// When the database fails.
    pub fn meta(&mut self, key: &str) -> Result<Option<String>, StoreFailure> {
        let rows = self.db.conn.query("SELECT value FROM meta WHERE key = $1", &[text(key)])?;
        Ok(match rows.first().and_then(|row| row.first()) {
            Some(Value::Text(value)) => Some(value.clone()),
            _ => None,
        })
    }

    /// Whether the database holds any registry data at all.
    ///
    /// # Errors
    /// When the database fails.
    pub fn is_empty(&mut self) -> Result<bool, StoreFailure> {
        Ok(self.count("regions", "", &[])? == 0
            && self.count("persons", "", &[])? == 0
            && self.count("institutions", "", &[])? == 0)
    }

    pub fn regions(&mut self) -> Result<Vec<Region>, StoreFailure> {
        self.select(Region::TABLE, "ORDER BY admdvs", &[], Region::decode)
    }

    pub fn employers(&mut self) -> Result<Vec<Employer>, StoreFailure> {
        self.select(Employer::TABLE, "ORDER BY code", &[], Employer::decode)
    }

    /// One employer, by its code.
    pub fn employer(&mut self, code: &str) -> Result<Option<Employer>, StoreFailure> {
        self.db.get::<Employer>(&[code.to_string()]).map(one)
    }

    pub fn institution(&mut self, code: &InstitutionCode) -> Result<Option<Institution>, StoreFailure> {
        self.db.get::<Institution>(std::slice::from_ref(code)).map(one)
    }

    /// Institutions, optionally of one region, ordered by code.
    pub fn institutions(&mut self, admdvs: Option<&str>) -> Result<Vec<Institution>, StoreFailure> {
        match admdvs {
            Some(admdvs) => {
                self.select(Institution::TABLE, "WHERE admdvs = $1 ORDER BY code", &[text(admdvs)], Institution::decode)
            }
            None => self.select(Institution::TABLE, "ORDER BY code", &[], Institution::decode),
        }
    }

    pub fn person(&mut self, psn_no: &PersonNo) -> Result<Option<Person>, StoreFailure> {
        self.db.get::<Person>(std::slice::from_ref(psn_no)).map(one)
    }

    pub fn person_by_id_number(&mut self, id_number: &str) -> Result<Option<Person>, StoreFailure> {
        self.select(Person::TABLE, "WHERE id_number = $1", &[text(id_number)], Person::decode).map(one)
    }

    /// Persons ordered by number, optionally of one region; `offset`/`limit` page them.
    /// Persons of a region (or all), found by a lookup (or all), in person-number order.
    pub fn persons(
        &mut self,
        admdvs: Option<&str>,
        lookup: Option<&PersonLookup>,
        offset: u64,
        limit: u64,
    ) -> Result<Page<Person>, StoreFailure> {
        let mut conditions: Vec<String> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(admdvs) = admdvs {
            params.push(text(admdvs));
            conditions.push(format!("admdvs = ${}", params.len()));
        }
        match lookup {
            None => {}
            Some(PersonLookup::IdNumber(id)) => {
                params.push(Value::Text(id.expose().to_string()));
                conditions.push(format!("id_number = ${}", params.len()));
            }
            Some(PersonLookup::Text(what)) => {
                params.push(text(what));
                let n = params.len();
                conditions.push(format!(
                    "(psn_no = ${n} OR name = ${n} OR psn_no IN (SELECT psn_no FROM cards WHERE card_no = ${n}))"
                ));
            }
        }
        let clause = match conditions.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", conditions.join(" AND ")),
        };
        let clause = clause.as_str();
        let total = self.count("persons", clause, &params)?;
        let n = params.len();
        let mut paged = params.clone();
        paged.push(Value::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        paged.push(Value::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
        let rows = self.select(
            Person::TABLE,
            &format!("{clause} ORDER BY psn_no LIMIT ${} OFFSET ${}", n + 1, n + 2),
            &paged,
            Person::decode,
        )?;
        Ok(Page { total, rows })
    }

    /// Up to `limit` person numbers after `after`, in order: keyset paging for runs over every
    /// person (each page costs the same however far the run has gone).
    pub fn person_numbers_after(
        &mut self,
        after: Option<&PersonNo>,
        limit: u64,
    ) -> Result<Vec<PersonNo>, StoreFailure> {
        let limit = Value::Int(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = match after {
            Some(after) => self.db.conn.query(
                "SELECT psn_no FROM persons WHERE psn_no > $1 ORDER BY psn_no LIMIT $2",
                &[text(after), limit],
            )?,
            None => self.db.conn.query("SELECT psn_no FROM persons ORDER BY psn_no LIMIT $1", &[limit])?,
        };
        rows.iter()
            .map(|row| match row.first() {
                Some(Value::Text(psn_no)) => {
                    psn_no.parse().map_err(|error| StoreFailure(format!("persons.psn_no {psn_no:?}: {error}")))
                }
                other => Err(StoreFailure(format!("persons.psn_no: unexpected {other:?}"))),
            })
            .collect()
    }

    /// How many persons there are.
    pub fn person_count(&mut self) -> Result<u64, StoreFailure> {
        self.count("persons", "", &[])
    }

    pub fn card(&mut self, card_no: &CardNo) -> Result<Option<Card>, StoreFailure> {
        self.db.get::<Card>(std::slice::from_ref(card_no)).map(one)
    }

    pub fn cards_of(&mut self, psn_no: &PersonNo) -> Result<Vec<Card>, StoreFailure> {
        self.select(Card::TABLE, "WHERE psn_no = $1 ORDER BY card_no", &[text(psn_no)], Card::decode)
    }

    pub fn accounts(&mut self, keys: &[AccountKey]) -> Result<Vec<Account>, StoreFailure> {
        self.db.get::<Account>(keys)
    }

    /// The personal account's two parts: (current year, prior years).
    pub fn balances(&mut self, psn_no: &PersonNo) -> Result<(Money, Money), StoreFailure> {
        let current = AccountKey::PersonalCurrent(psn_no.clone());
        let prior = AccountKey::PersonalPrior(psn_no.clone());
        let accounts = self.db.get::<Account>(&[current.clone(), prior])?;
        let part = |key: &AccountKey| accounts.iter().find(|a| &a.key == key).map_or(Money::ZERO, Account::balance);
        Ok((part(&current), accounts.iter().find(|a| a.key != current).map_or(Money::ZERO, Account::balance)))
    }

    /// A person's account statement: movements posted at or after `from` and before `until`
    /// (either open), at most `limit` of them, after the balance before `from`.
    pub fn statement(
        &mut self,
        psn_no: &PersonNo,
        from: Option<DateTime>,
        until: Option<DateTime>,
        limit: usize,
    ) -> Result<Statement, StoreFailure> {
        let current = AccountKey::PersonalCurrent(psn_no.clone());
        let prior = AccountKey::PersonalPrior(psn_no.clone());
        let current_text = current.to_string();
        let accounts = Value::TextList(vec![current_text.clone(), prior.to_string()]);
        // What a posting (or a sum of them) did to its part's balance, as the ledger reckons it.
        let effect = |account: &str, side: &str, fen: i64| -> Result<(bool, Money), StoreFailure> {
            let is_current = account == current_text;
            let side = Side::parse(side).ok_or_else(|| StoreFailure(format!("postings.side: {side}")))?;
            let account = if is_current { current.clone() } else { prior.clone() };
            Ok((is_current, Posting { account, side, amount: Money::from_fen(fen) }.balance_effect()))
        };
        let mut opening = Money::ZERO;
        if let Some(from) = from {
            let rows = self.db.conn.query(
                "SELECT p.account, p.side, CAST(SUM(p.amount_fen) AS BIGINT) FROM postings p \
                 JOIN transfers t ON t.id = p.transfer_id WHERE p.account = ANY($1) AND t.at < $2 \
                 GROUP BY p.account, p.side",
                &[accounts.clone(), Value::Text(from.to_string())],
            )?;
            for row in rows {
                match row.as_slice() {
                    [Value::Text(account), Value::Text(side), Value::Int(fen)] => {
                        opening += effect(account, side, *fen)?.1;
                    }
                    [_, _, Value::Null] => {}
                    other => return Err(StoreFailure(format!("statement opening: unexpected {other:?}"))),
                }
            }
        }
        let order = self.db.conn.dialect().order_column();
        let mut params = vec![accounts];
        let mut conditions = vec!["p.account = ANY($1)".to_string()];
        if let Some(from) = from {
            params.push(Value::Text(from.to_string()));
            conditions.push(format!("t.at >= ${}", params.len()));
        }
        if let Some(until) = until {
            params.push(Value::Text(until.to_string()));
            conditions.push(format!("t.at < ${}", params.len()));
        }
        params.push(Value::Int(i64::try_from(limit.saturating_mul(2).saturating_add(2)).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT t.id, t.code, t.at, t.reference, p.account, p.side, p.amount_fen FROM postings p \
             JOIN transfers t ON t.id = p.transfer_id WHERE {} ORDER BY t.{order}, p.idx LIMIT ${}",
            conditions.join(" AND "),
            params.len()
        );
        let mut entries: Vec<StatementEntry> = Vec::new();
        for row in self.db.conn.query(&sql, &params)? {
            let [
                Value::Text(id),
                Value::Text(code),
                Value::Text(at),
                Value::Text(reference),
                Value::Text(account),
                Value::Text(side),
                Value::Int(fen),
            ] = row.as_slice()
            else {
                return Err(StoreFailure(format!("statement: unexpected row {row:?}")));
            };
            let (is_current, amount) = effect(account, side, *fen)?;
            if entries.last().is_none_or(|last| &last.transfer != id) {
                entries.push(StatementEntry {
                    transfer: id.clone(),
                    code: yibao_ledger::TransferCode::parse(code)
                        .ok_or_else(|| StoreFailure(format!("transfers.code: {code}")))?,
                    at: at.parse().map_err(|e| StoreFailure(format!("transfers.at: {e}")))?,
                    reference: reference.clone(),
                    current_year: Money::ZERO,
                    prior_years: Money::ZERO,
                    balance: Money::ZERO,
                });
            }
            let entry = entries.last_mut().expect("pushed above");
            match is_current {
                true => entry.current_year += amount,
                false => entry.prior_years += amount,
            }
        }
        // A transfer's postings to both parts are two rows: the last one read may be cut short.
        let more = entries.len() > limit;
        entries.truncate(limit);
        let mut balance = opening;
        for entry in &mut entries {
            balance += entry.amount();
            entry.balance = balance;
        }
        Ok(Statement { opening, entries, more })
    }

    /// Every year's accumulators of a person, oldest first.
    pub fn accumulators(&mut self, psn_no: &PersonNo) -> Result<Vec<(u16, Accumulators)>, StoreFailure> {
        let mut rows: Vec<(u16, Accumulators)> =
            self.db.accumulators(std::slice::from_ref(psn_no))?.into_iter().map(|(_, year, row)| (year, row)).collect();
        rows.sort_by_key(|(year, _)| *year);
        Ok(rows)
    }

    pub fn visit(&mut self, mdtrt_id: &MdtrtId) -> Result<Option<Visit>, StoreFailure> {
        self.db.get::<Visit>(std::slice::from_ref(mdtrt_id)).map(one)
    }

    /// A person's visits that began in `[from, until)`, oldest first.
    pub fn visits_of(
        &mut self,
        psn_no: &PersonNo,
        from: DateTime,
        until: DateTime,
    ) -> Result<Vec<Visit>, StoreFailure> {
        self.select(
            Visit::TABLE,
            "WHERE psn_no = $1 AND begin_at >= $2 AND begin_at < $3 ORDER BY begin_at, mdtrt_id",
            &[text(psn_no), text(from), text(until)],
            Visit::decode,
        )
    }

    /// A person's inpatient stays at an institution that still hold unsettled lines, newest
    /// first, at most `limit`, each with what its unsettled lines come to: what the hospital's
    /// settlement desk may settle.
    pub fn stays_to_settle(
        &mut self,
        psn_no: &PersonNo,
        institution: &InstitutionCode,
        limit: u64,
    ) -> Result<Vec<(Visit, Money)>, StoreFailure> {
        let unsettled = format!(
            "SELECT 1 FROM {lines} WHERE {lines}.mdtrt_id = {visits}.mdtrt_id AND {lines}.state = 'unsettled'",
            lines = FeeLine::TABLE.name,
            visits = Visit::TABLE.name,
        );
        let stays = self.select(
            Visit::TABLE,
            &format!(
                "WHERE psn_no = $1 AND institution = $2 AND kind = 'inpatient' AND status <> 'cancelled' \
                 AND EXISTS ({unsettled}) ORDER BY begin_at DESC, mdtrt_id LIMIT {limit}"
            ),
            &[text(psn_no), text(institution)],
            Visit::decode,
        )?;
        if stays.is_empty() {
            return Ok(Vec::new());
        }
        let ids = Value::TextList(stays.iter().map(|stay| stay.mdtrt_id.to_string()).collect());
        let sql = format!(
            "SELECT mdtrt_id, CAST(SUM(amount_fen) AS BIGINT) FROM {} WHERE mdtrt_id = ANY($1) AND state = 'unsettled' \
             GROUP BY mdtrt_id",
            FeeLine::TABLE.name
        );
        let mut sums = std::collections::HashMap::new();
        for row in self.db.conn.query(&sql, &[ids])? {
            match row.as_slice() {
                [Value::Text(id), Value::Int(fen)] => {
                    sums.insert(id.clone(), Money::from_fen(*fen));
                }
                other => return Err(StoreFailure(format!("unsettled sums: unexpected {other:?}"))),
            }
        }
        Ok(stays
            .into_iter()
            .map(|stay| {
                let sum = sums.get(stay.mdtrt_id.as_str()).copied().unwrap_or(Money::ZERO);
                (stay, sum)
            })
            .collect())
    }

    /// Whether an institution has this person as its patient: it treated them (a visit there),
    /// identified them with their certificate (1101, recorded in the audit log as
    /// `identify-person`) or registered a special disease for them (2503).
    pub fn institution_knows(
        &mut self,
        institution: &InstitutionCode,
        psn_no: &PersonNo,
    ) -> Result<bool, StoreFailure> {
        let treated = self.count(
            Visit::TABLE.name,
            "WHERE psn_no = $1 AND institution = $2",
            &[text(psn_no), text(institution)],
        )?;
        if treated > 0 {
            return Ok(true);
        }
        let identified = self.count(
            codec::AUDIT_LOG.name,
            "WHERE subject = $1 AND actor = $2 AND action = 'identify-person'",
            &[text(psn_no), Value::Text(format!("institution:{institution}"))],
        )?;
        if identified > 0 {
            return Ok(true);
        }
        let registered = self.count(
            DiseaseRegistration::TABLE.name,
            "WHERE psn_no = $1 AND institution = $2",
            &[text(psn_no), text(institution)],
        )?;
        Ok(registered > 0)
    }

    /// The lines a settlement covers, in its order; each visit is read once.
    pub fn settlement_lines(&mut self, settlement: &Settlement) -> Result<Vec<FeeLine>, StoreFailure> {
        let mut by_visit: std::collections::HashMap<MdtrtId, std::collections::HashMap<String, FeeLine>> =
            std::collections::HashMap::new();
        let mut lines = Vec::with_capacity(settlement.lines.len());
        for (visit, serial) in &settlement.lines {
            if !by_visit.contains_key(visit) {
                let all = self.lines_of(visit)?.into_iter().map(|line| (line.serial.clone(), line)).collect();
                by_visit.insert(visit.clone(), all);
            }
            lines.extend(by_visit.get(visit).and_then(|all| all.get(serial)).cloned());
        }
        Ok(lines)
    }

    pub fn lines_of(&mut self, mdtrt_id: &MdtrtId) -> Result<Vec<FeeLine>, StoreFailure> {
        self.db.get_by::<FeeLine>("mdtrt_id", mdtrt_id.to_string())
    }

    pub fn settlement(&mut self, setl_id: &SetlId) -> Result<Option<Settlement>, StoreFailure> {
        self.db.get::<Settlement>(std::slice::from_ref(setl_id)).map(one)
    }

    pub fn settlements_of_visit(&mut self, mdtrt_id: &MdtrtId) -> Result<Vec<Settlement>, StoreFailure> {
        yibao_engine::visit_settlements(&mut self.db, std::slice::from_ref(mdtrt_id))
    }

    fn settlement_clause(filter: &SettlementFilter) -> (String, Vec<Value>) {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        let mut add = |condition: &str, value: Value| {
            params.push(value);
            conditions.push(format!("{condition} ${}", params.len()));
        };
        if let Some(institution) = &filter.institution {
            add("institution =", text(institution));
        }
        if let Some(person) = &filter.person {
            add("psn_no =", text(person));
        }
        if let Some(insurance) = &filter.insurance {
            add("insutype =", text(insurance));
        }
        if let Some(clearing_type) = &filter.clearing_type {
            add("clr_type =", text(clearing_type));
        }
        if let Some(insured) = &filter.insured_admdvs {
            add("insured_admdvs =", text(insured));
        }
        if let Some(treated) = &filter.treated_admdvs {
            add("treated_admdvs =", text(treated));
        }
        if let Some(from) = filter.from {
            add("at >=", text(from));
        }
        if let Some(until) = filter.until {
            add("at <", text(until));
        }
        if filter.in_force_only {
            conditions.push("status = 'normal'".to_string());
        }
        let clause = match conditions.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", conditions.join(" AND ")),
        };
        (clause, params)
    }

    /// Settlements matching `filter`, oldest first, at most `limit` after skipping `offset`.
    pub fn settlements(
        &mut self,
        filter: &SettlementFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Page<Settlement>, StoreFailure> {
        let (clause, mut params) = Reader::settlement_clause(filter);
        let total = self.count("settlements", &clause, &params)?;
        let n = params.len();
        params.push(Value::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        params.push(Value::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
        let rows = self.select(
            Settlement::TABLE,
            &format!("{clause} ORDER BY at, setl_id LIMIT ${} OFFSET ${}", n + 1, n + 2),
            &params,
            Settlement::decode,
        )?;
        Ok(Page { total, rows })
    }

    /// Count and sums of the settlements matching `filter` (mirrors count negative amounts).
    pub fn settlement_totals(&mut self, filter: &SettlementFilter) -> Result<Totals, StoreFailure> {
        let (clause, params) = Reader::settlement_clause(filter);
        let sql = format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(medfee_fen), 0) AS BIGINT), CAST(COALESCE(SUM(fund_fen + subsidy_fen), 0) AS BIGINT), \
             CAST(COALESCE(SUM(account_current_fen + account_prior_fen), 0) AS BIGINT), CAST(COALESCE(SUM(cash_fen), 0) AS BIGINT) \
             FROM settlements {clause}"
        );
        let rows = self.db.conn.query(&sql, &params)?;
        match rows.first().map(Vec::as_slice) {
            Some([Value::Int(count), Value::Int(medfee), Value::Int(fund), Value::Int(account), Value::Int(cash)]) => {
                Ok(Totals {
                    count: u64::try_from(*count).unwrap_or(0),
                    medfee: Money::from_fen(*medfee),
                    fund: Money::from_fen(*fund),
                    account: Money::from_fen(*account),
                    cash: Money::from_fen(*cash),
                })
            }
            other => Err(StoreFailure(format!("settlement totals: unexpected {other:?}"))),
        }
    }

    pub fn message(&mut self, msgid: &MsgId) -> Result<Option<Message>, StoreFailure> {
        self.db.get::<Message>(std::slice::from_ref(msgid)).map(one)
    }

    /// A person's payouts, in the order proposed.
    pub fn payouts_of(&mut self, psn_no: &PersonNo) -> Result<Vec<Payout>, StoreFailure> {
        let mut rows: Vec<Payout> = yibao_engine::load_by(&mut self.db, "psn_no", vec![psn_no.to_string()])?;
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rows)
    }

    /// Payouts in a state (`proposed`, `approved`, `rejected`), oldest first, at most `limit`.
    pub fn payouts_in(&mut self, state: &str, limit: u64) -> Result<Vec<Payout>, StoreFailure> {
        let limit = Value::Int(i64::try_from(limit).unwrap_or(i64::MAX));
        self.select(Payout::TABLE, "WHERE state = $1 ORDER BY id LIMIT $2", &[text(state), limit], Payout::decode)
    }

    /// A person's reimbursements, in the order submitted.
    pub fn reimbursements_of(&mut self, psn_no: &PersonNo) -> Result<Vec<Reimbursement>, StoreFailure> {
        let mut rows: Vec<Reimbursement> = yibao_engine::load_by(&mut self.db, "psn_no", vec![psn_no.to_string()])?;
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rows)
    }

    /// Reimbursements in a state, oldest first, at most `limit`.
    pub fn reimbursements_in(&mut self, state: &str, limit: u64) -> Result<Vec<Reimbursement>, StoreFailure> {
        let limit = Value::Int(i64::try_from(limit).unwrap_or(i64::MAX));
        let clause = "WHERE state = $1 ORDER BY id LIMIT $2";
        self.select(Reimbursement::TABLE, clause, &[text(state), limit], Reimbursement::decode)
    }

    pub fn reimbursement(&mut self, id: &str) -> Result<Option<Reimbursement>, StoreFailure> {
        self.db.get::<Reimbursement>(&[id.to_string()]).map(one)
    }

    /// Approved payouts and reimbursements whose payable is at `bank` and that the bank has not
    /// paid, by id, at most `limit` of each.
    pub fn bank_payments_due(
        &mut self,
        bank: &BankCode,
        limit: u64,
    ) -> Result<(Vec<Payout>, Vec<Reimbursement>), StoreFailure> {
        let payable = Value::Text(AccountKey::BankPayable(bank.clone()).to_string());
        let credit = Value::Text(Side::Credit.as_str().to_string());
        let limit = Value::Int(i64::try_from(limit).unwrap_or(i64::MAX));
        let clause = |table: &str, prefix: &str| {
            format!(
                "WHERE state = 'approved' AND NOT EXISTS (SELECT 1 FROM bank_payments b WHERE b.id = {table}.id) \
                 AND EXISTS (SELECT 1 FROM postings t WHERE t.transfer_id = '{prefix}/' || {table}.id \
                 AND t.account = $1 AND t.side = $2) ORDER BY id LIMIT $3"
            )
        };
        let params = [payable, credit, limit];
        let payouts = self.select(Payout::TABLE, &clause("payouts", "payout"), &params, Payout::decode)?;
        let bills = self.select(
            Reimbursement::TABLE,
            &clause("reimbursements", "reimbursement"),
            &params,
            Reimbursement::decode,
        )?;
        Ok((payouts, bills))
    }

    /// The bank payments of these payouts and reimbursements (those paid).
    pub fn bank_payments(&mut self, ids: &[String]) -> Result<Vec<BankPayment>, StoreFailure> {
        self.db.get::<BankPayment>(ids)
    }

    pub fn payout(&mut self, id: &str) -> Result<Option<Payout>, StoreFailure> {
        self.db.get::<Payout>(&[id.to_string()]).map(one)
    }

    /// Registrations in force ending from `from` to `to` (both included), by serial after
    /// `after`, at most `limit`: `(psn_no, serial)`. `table` is `disease_registrations` or
    /// `elsewhere_registrations`.
    pub fn registrations_ending(
        &mut self,
        table: RegistrationTable,
        from: Date,
        to: Date,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<(PersonNo, String)>, StoreFailure> {
        let name = match table {
            RegistrationTable::Disease => "disease_registrations",
            RegistrationTable::Elsewhere => "elsewhere_registrations",
        };
        let rows = self.db.conn.query(
            &format!(
                "SELECT psn_no, serial FROM {name} WHERE revoked = 0 AND end_on >= $1 AND end_on <= $2 AND serial > $3 \
                 ORDER BY serial LIMIT $4"
            ),
            &[
                text(from),
                text(to),
                Value::Text(after.unwrap_or_default().to_string()),
                Value::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
            ],
        )?;
        rows.into_iter()
            .map(|row| match row.as_slice() {
                [Value::Text(psn_no), Value::Text(serial)] => {
                    Ok((psn_no.parse().map_err(|e| StoreFailure(format!("{name}.psn_no: {e}")))?, serial.clone()))
                }
                other => Err(StoreFailure(format!("{name}: unexpected {other:?}"))),
            })
            .collect()
    }

    /// A person's registrations for treatment in another region, by serial.
    pub fn elsewhere_of(&mut self, psn_no: &PersonNo) -> Result<Vec<ElsewhereRegistration>, StoreFailure> {
        let mut rows: Vec<ElsewhereRegistration> =
            yibao_engine::load_by(&mut self.db, "psn_no", vec![psn_no.to_string()])?;
        rows.sort_by(|a, b| a.serial.cmp(&b.serial));
        Ok(rows)
    }

    /// A person's notifications, newest first, at most `limit`; only unread ones when asked.
    pub fn notifications_of(
        &mut self,
        psn_no: &PersonNo,
        unread_only: bool,
        limit: u64,
    ) -> Result<Vec<Notification>, StoreFailure> {
        let limit = Value::Int(i64::try_from(limit).unwrap_or(i64::MAX));
        let clause = match unread_only {
            true => "WHERE psn_no = $1 AND read_at IS NULL ORDER BY at DESC, id DESC LIMIT $2",
            false => "WHERE psn_no = $1 ORDER BY at DESC, id DESC LIMIT $2",
        };
        self.select(Notification::TABLE, clause, &[text(psn_no), limit], Notification::decode)
    }

    /// Notifications written after the one numbered `after`, in commit order, at most `limit`,
    /// with their numbers (webhook delivery).
    pub fn notifications_after(&mut self, after: i64, limit: u64) -> Result<Vec<(i64, Notification)>, StoreFailure> {
        let order = self.db.conn.dialect().order_column();
        let sql = format!(
            "SELECT {order}, {} FROM notifications WHERE {order} > $1 ORDER BY {order} LIMIT $2",
            Notification::TABLE.column_list()
        );
        let limit = Value::Int(i64::try_from(limit).unwrap_or(i64::MAX));
        self.db
            .conn
            .query(&sql, &[Value::Int(after), limit])?
            .into_iter()
            .map(|row| match row.split_first() {
                Some((Value::Int(seq), rest)) => Ok((*seq, Notification::decode(rest)?)),
                _ => Err(StoreFailure("notifications: no order number".into())),
            })
            .collect()
    }

    /// The number of the newest notification (0 when there is none).
    pub fn last_notification_seq(&mut self) -> Result<i64, StoreFailure> {
        let order = self.db.conn.dialect().order_column();
        let rows =
            self.db.conn.query(&format!("SELECT CAST(COALESCE(MAX({order}), 0) AS BIGINT) FROM notifications"), &[])?;
        match rows.first().and_then(|row| row.first()) {
            Some(Value::Int(seq)) => Ok(*seq),
            other => Err(StoreFailure(format!("notifications: unexpected {other:?}"))),
        }
    }

    /// How many of a person's notifications are unread.
    pub fn unread_count(&mut self, psn_no: &PersonNo) -> Result<u64, StoreFailure> {
        self.count("notifications", "WHERE psn_no = $1 AND read_at IS NULL", &[text(psn_no)])
    }

    /// A person's disputes, in the order raised.
    pub fn disputes_of(&mut self, psn_no: &PersonNo) -> Result<Vec<Dispute>, StoreFailure> {
        let mut rows: Vec<Dispute> = yibao_engine::load_by(&mut self.db, "psn_no", vec![psn_no.to_string()])?;
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rows)
    }

    /// Disputes in a state (`open`, `reversed`, `rejected`), oldest first, at most `limit`.
    pub fn disputes_in(&mut self, state: &str, limit: u64) -> Result<Vec<Dispute>, StoreFailure> {
        let limit = Value::Int(i64::try_from(limit).unwrap_or(i64::MAX));
        self.select(Dispute::TABLE, "WHERE state = $1 ORDER BY id LIMIT $2", &[text(state), limit], Dispute::decode)
    }

    /// A person's life events, in the order recorded.
    pub fn life_events(&mut self, psn_no: &PersonNo) -> Result<Vec<LifeEvent>, StoreFailure> {
        let mut rows: Vec<LifeEvent> = yibao_engine::load_by(&mut self.db, "psn_no", vec![psn_no.to_string()])?;
        rows.sort_by_key(|row| row.seq);
        Ok(rows)
    }

    pub fn registrations(&mut self, psn_no: &PersonNo) -> Result<Vec<DiseaseRegistration>, StoreFailure> {
        yibao_engine::person_registrations(&mut self.db, psn_no)
    }

    /// The newest audit entries, optionally about one subject.
    pub fn audit_log(&mut self, subject: Option<&str>, limit: u64) -> Result<Vec<AuditEntry>, StoreFailure> {
        let order = self.db.conn.dialect().order_column();
        let limit = Value::Int(i64::try_from(limit).unwrap_or(i64::MAX));
        match subject {
            Some(subject) => self.select(
                &codec::AUDIT_LOG,
                &format!("WHERE subject = $1 ORDER BY {order} DESC LIMIT $2"),
                &[text(subject), limit],
                codec::decode_audit,
            ),
            None => self.select(
                &codec::AUDIT_LOG,
                &format!("ORDER BY {order} DESC LIMIT $1"),
                &[limit],
                codec::decode_audit,
            ),
        }
    }

    pub fn credential(&mut self, subject: &str, kind: CredentialKind) -> Result<Option<Credential>, StoreFailure> {
        self.db.get::<Credential>(&[(subject.to_string(), kind)]).map(one)
    }

    pub fn card_application(&mut self, id: &str) -> Result<Option<CardApplication>, StoreFailure> {
        self.db.get::<CardApplication>(&[id.to_string()]).map(one)
    }

    /// Applications, newest first; of one employer when given.
    pub fn card_applications(
        &mut self,
        employer: Option<&str>,
        limit: u64,
    ) -> Result<Vec<CardApplication>, StoreFailure> {
        let limit = Value::Int(i64::try_from(limit).unwrap_or(i64::MAX));
        match employer {
            Some(employer) => self.select(
                CardApplication::TABLE,
                "WHERE employer = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                &[text(employer), limit],
                CardApplication::decode,
            ),
            None => self.select(
                CardApplication::TABLE,
                "ORDER BY created_at DESC, id DESC LIMIT $1",
                &[limit],
                CardApplication::decode,
            ),
        }
    }

    pub fn card_transactions(&mut self, card_no: &CardNo) -> Result<Vec<CardTransaction>, StoreFailure> {
        yibao_engine::card_transactions(&mut self.db, card_no)
    }

    pub fn loss_report(&mut self, card_no: &CardNo) -> Result<Option<LossReport>, StoreFailure> {
        self.db.get::<LossReport>(std::slice::from_ref(card_no)).map(one)
    }

    /// The loss reports of the cards these applications replace.
    pub fn loss_reports_of(&mut self, applications: &[CardApplication]) -> Result<Vec<LossReport>, StoreFailure> {
        let cards: Vec<CardNo> = applications.iter().filter_map(|a| a.replaces.clone()).collect();
        self.db.get::<LossReport>(&cards)
    }

    pub fn clearing_notice(&mut self, id: &str) -> Result<Option<ClearingNotice>, StoreFailure> {
        self.db.get::<ClearingNotice>(&[id.to_string()]).map(one)
    }

    pub fn evoucher(&mut self, psn_no: &PersonNo) -> Result<Option<EVoucher>, StoreFailure> {
        self.db.get::<EVoucher>(std::slice::from_ref(psn_no)).map(one)
    }

    pub fn grant(&mut self, hash: &str) -> Result<Option<Grant>, StoreFailure> {
        self.db.get::<Grant>(&[hash.to_string()]).map(one)
    }

    /// A visit's uploaded diagnoses (none when nothing was uploaded).
    pub fn diagnoses(&mut self, visit: &MdtrtId) -> Result<Option<VisitDiagnoses>, StoreFailure> {
        self.db.get::<VisitDiagnoses>(std::slice::from_ref(visit)).map(one)
    }

    pub fn file(&mut self, file_qury_no: &str) -> Result<Option<StoredFile>, StoreFailure> {
        self.db.get::<StoredFile>(&[file_qury_no.to_string()]).map(one)
    }

    pub fn catalogue_entries(&mut self) -> Result<Vec<CatalogueEntry>, StoreFailure> {
        self.select(CatalogueEntry::TABLE, "ORDER BY code, begin_on", &[], CatalogueEntry::decode)
    }

    /// Every account.
    pub fn all_accounts(&mut self) -> Result<Vec<Account>, StoreFailure> {
        self.select(Account::TABLE, "ORDER BY account", &[], Account::decode)
    }

    /// The whole journal, in posting order.
    pub fn journal(&mut self) -> Result<Vec<Transfer>, StoreFailure> {
        let order = self.db.conn.dialect().order_column();
        let transfers = self
            .db
            .conn
            .query(&format!("SELECT {} FROM transfers ORDER BY {order}", codec::TRANSFERS.column_list()), &[])?;
        let postings = self
            .db
            .conn
            .query(&format!("SELECT {} FROM postings ORDER BY transfer_id, idx", codec::POSTINGS.column_list()), &[])?;
        let mut by_transfer: std::collections::HashMap<String, Vec<Vec<Value>>> = std::collections::HashMap::new();
        for row in postings {
            if let Some(Value::Text(id)) = row.first() {
                by_transfer.entry(id.clone()).or_default().push(row.clone());
            }
        }
        transfers
            .iter()
            .map(|row| {
                let id = match row.first() {
                    Some(Value::Text(id)) => id.clone(),
                    _ => return Err(StoreFailure("transfers: row without id".into())),
                };
                codec::decode_transfer(row, by_transfer.get(&id).map_or(&[][..], Vec::as_slice))
            })
            .collect()
    }

    /// The pooled funds' outlay (fund share of settlements, cancellations netted) per day and
    /// insurance type from `from` on: `(YYYY-MM-DD, insutype, fen)`, by day.
    pub fn fund_outlay_by_day(&mut self, from: DateTime) -> Result<Vec<(String, String, Money)>, StoreFailure> {
        let rows = self.db.conn.query(
            "SELECT substr(at, 1, 10) AS day, insutype, CAST(SUM(fund_fen) AS BIGINT) FROM settlements \
             WHERE at >= $1 GROUP BY substr(at, 1, 10), insutype ORDER BY 1, 2",
            &[text(from)],
        )?;
        rows.into_iter()
            .map(|row| match row.as_slice() {
                [Value::Text(day), Value::Text(insutype), Value::Int(fen)] => {
                    Ok((day.clone(), insutype.clone(), Money::from_fen(*fen)))
                }
                other => Err(StoreFailure(format!("fund outlay: unexpected {other:?}"))),
            })
            .collect()
    }

    /// Settlements in force by the treating institution's level (`None`: pharmacies), with
    /// their medical fees.
    pub fn settlements_by_level(&mut self) -> Result<Vec<(Option<String>, u64, Money)>, StoreFailure> {
        let rows = self.db.conn.query(
            "SELECT i.level, CAST(COUNT(*) AS BIGINT), CAST(SUM(s.medfee_fen) AS BIGINT) FROM settlements s \
             JOIN institutions i ON i.code = s.institution WHERE s.status = 'normal' GROUP BY i.level ORDER BY 1",
            &[],
        )?;
        rows.into_iter()
            .map(|row| match row.as_slice() {
                [level, Value::Int(count), Value::Int(fen)] => Ok((
                    match level {
                        Value::Text(level) => Some(level.clone()),
                        _ => None,
                    },
                    u64::try_from(*count).unwrap_or(0),
                    Money::from_fen(*fen),
                )),
                other => Err(StoreFailure(format!("settlements by level: unexpected {other:?}"))),
            })
            .collect()
    }

    /// How many persons' personal accounts (current and prior years together) hold a balance
    /// below each bound (in fen, ascending), and how many hold more: `bounds.len() + 1` counts.
    pub fn balance_distribution(&mut self, bounds: &[i64]) -> Result<Vec<u64>, StoreFailure> {
        let mut case = String::from("CASE");
        for (n, bound) in bounds.iter().enumerate() {
            case.push_str(&format!(" WHEN balance < {bound} THEN {n}"));
        }
        case.push_str(&format!(" ELSE {} END", bounds.len()));
        let rows = self.db.conn.query(
            &format!(
                "SELECT CAST({case} AS BIGINT) AS bucket, CAST(COUNT(*) AS BIGINT) FROM (\
                 SELECT CASE WHEN account LIKE 'personal-current/%' THEN substr(account, 18) ELSE substr(account, 16) END AS psn, \
                 CAST(SUM(credits_fen - debits_fen) AS BIGINT) AS balance FROM accounts \
                 WHERE account LIKE 'personal-current/%' OR account LIKE 'personal-prior/%' \
                 GROUP BY CASE WHEN account LIKE 'personal-current/%' THEN substr(account, 18) ELSE substr(account, 16) END) per_person \
                 GROUP BY 1 ORDER BY 1"
            ),
            &[],
        )?;
        let mut counts = vec![0u64; bounds.len() + 1];
        for row in rows {
            match row.as_slice() {
                [Value::Int(bucket), Value::Int(count)] => {
                    if let Some(slot) = usize::try_from(*bucket).ok().and_then(|b| counts.get_mut(b)) {
                        *slot = u64::try_from(*count).unwrap_or(0);
                    }
                }
                other => return Err(StoreFailure(format!("balance distribution: unexpected {other:?}"))),
            }
        }
        Ok(counts)
    }

    /// Rows in a table (for diagnostics and tests).
    pub fn row_count(&mut self, table: &str) -> Result<u64, StoreFailure> {
        if !schema::tables().any(|t| t.name == table) {
            return Err(StoreFailure(format!("no table {table}")));
        }
        self.count(table, "", &[])
    }
}

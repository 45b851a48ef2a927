//! The connection interface both backends implement, and everything written once on top of
//! it: the engine's [`Loader`], writing a [`ChangeSet`], migrations.
//!
//! SQL here is written for PostgreSQL: `$1` placeholders and `column = ANY($1)` for lists.
//! The SQLite backend rewrites both (`?1`, `IN rarray(?1)`) when it prepares a statement.

use std::collections::BTreeMap;

use yibao_domain::{Admdvs, CardNo, Date, DateTime, InstitutionCode, MdtrtId, Money, MsgId, PersonNo, SetlId};
use yibao_engine::records::{
    Card, CardApplication, CardTransaction, ClearingNotice, ClearingParty, Credential, CredentialKind, DayTotals,
    DiseaseRegistration, EVoucher, Employer, FeeLine, Grant, Institution, Message, Person, Region, Settlement, SignIn,
    StoredFile, Visit, VisitDiagnoses,
};
use yibao_engine::{ChangeSet, Loader, StoreFailure};
use yibao_ledger::{Account, AccountKey, Transfer, TransferId};
use yibao_policy::Accumulators;

use crate::codec;
use crate::schema::{self, Dialect, TableDef};
use crate::value::{Value, named};

/// A database connection, used from one thread at a time.
pub trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Runs a query and returns its rows.
    ///
    /// # Errors
    /// When the database fails.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, StoreFailure>;
    /// Runs a statement and returns the number of rows it changed.
    ///
    /// # Errors
    /// When the database fails.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreFailure>;
    /// Inserts rows, updating those whose key exists (insert only for keyless tables).
    ///
    /// # Errors
    /// When the database fails.
    fn upsert(&mut self, table: &TableDef, rows: Vec<Vec<Value>>) -> Result<(), StoreFailure>;
    /// Runs statements without parameters (DDL, transaction control).
    ///
    /// # Errors
    /// When the database fails.
    fn batch(&mut self, sql: &str) -> Result<(), StoreFailure>;
    /// Starts a write transaction (SQLite: `BEGIN IMMEDIATE`).
    ///
    /// # Errors
    /// When the database fails.
    fn begin_write(&mut self) -> Result<(), StoreFailure>;
    /// Starts a read-only transaction with a consistent snapshot.
    ///
    /// # Errors
    /// When the database fails.
    fn begin_read(&mut self) -> Result<(), StoreFailure>;
}

/// `INSERT … ON CONFLICT (key) DO UPDATE` for one row; both dialects accept it.
pub fn upsert_sql(table: &TableDef, rows: usize, dialect: Dialect) -> String {
    let width = table.columns.len();
    let placeholder = |n: usize| match dialect {
        Dialect::Sqlite => format!("?{n}"),
        Dialect::Postgres => format!("${n}"),
    };
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let cells: Vec<String> = (1..=width).map(|column| placeholder(row * width + column)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let mut sql = format!("INSERT INTO {} ({}) VALUES {}", table.name, table.column_list(), values.join(", "));
    if !table.key.is_empty() {
        let updates: Vec<String> = table
            .columns
            .iter()
            .filter(|column| !table.key.contains(&column.name))
            .map(|column| format!("{0} = excluded.{0}", column.name))
            .collect();
        sql.push_str(&format!(" ON CONFLICT ({}) DO ", table.key.join(", ")));
        if updates.is_empty() {
            sql.push_str("NOTHING");
        } else {
            sql.push_str(&format!("UPDATE SET {}", updates.join(", ")));
        }
    }
    sql
}

/// A connection seen as the engine's loader, and what writes a batch's changes.
pub struct Db<'c> {
    pub conn: &'c mut dyn Conn,
}

impl std::fmt::Debug for Db<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("dialect", &self.conn.dialect()).finish()
    }
}

fn strings<T: ToString>(keys: &[T]) -> Value {
    Value::TextList(keys.iter().map(ToString::to_string).collect())
}

impl Db<'_> {
    /// `SELECT <all columns> FROM table WHERE column = ANY($1) [ORDER BY insertion]`.
    pub fn select_where_in(
        &mut self,
        table: &TableDef,
        column: &str,
        keys: Value,
    ) -> Result<Vec<Vec<Value>>, StoreFailure> {
        self.select_where_in_ordered(table, column, keys, table.ordered)
    }

    /// As [`Db::select_where_in`]; `ordered` false leaves the order to the database, which then
    /// looks the keys up by index instead of walking a large table in insertion order.
    pub fn select_where_in_ordered(
        &mut self,
        table: &TableDef,
        column: &str,
        keys: Value,
        ordered: bool,
    ) -> Result<Vec<Vec<Value>>, StoreFailure> {
        let order = match ordered {
            true => format!(" ORDER BY {}", self.conn.dialect().order_column()),
            false => String::new(),
        };
        let sql = format!("SELECT {} FROM {} WHERE {column} = ANY($1){order}", table.column_list(), table.name);
        self.conn.query(&sql, &[keys])
    }

    fn load<T>(
        &mut self,
        table: &TableDef,
        column: &str,
        keys: Value,
        decode: fn(&[Value]) -> Result<T, StoreFailure>,
    ) -> Result<Vec<T>, StoreFailure> {
        self.select_where_in(table, column, keys)?.iter().map(|row| decode(row)).collect()
    }

    /// Writes everything a batch changed. The caller holds the write transaction.
    ///
    /// # Errors
    /// When the database fails; the caller rolls back.
    pub fn write(&mut self, changes: ChangeSet) -> Result<(), StoreFailure> {
        fn rows<K, V>(changes: Vec<(K, Option<V>)>, encode: impl Fn(&V) -> Vec<Value>) -> Vec<Vec<Value>> {
            changes.iter().filter_map(|(_, row)| row.as_ref().map(&encode)).collect()
        }
        let conn = &mut *self.conn;
        conn.upsert(&schema::REGIONS, rows(changes.regions, codec::region))?;
        conn.upsert(&schema::EMPLOYERS, rows(changes.employers, codec::employer))?;
        conn.upsert(&schema::INSTITUTIONS, rows(changes.institutions, codec::institution))?;
        conn.upsert(&schema::PERSONS, rows(changes.persons, codec::person))?;
        conn.upsert(&schema::CARDS, rows(changes.cards, codec::card))?;
        conn.upsert(&schema::ACCOUNTS, rows(changes.accounts, codec::account))?;
        let accumulators: Vec<Vec<Value>> = changes
            .accumulators
            .iter()
            .filter_map(|((person, year), row)| row.as_ref().map(|row| codec::accumulators(person, *year, row)))
            .collect();
        conn.upsert(&schema::ACCUMULATORS, accumulators)?;
        conn.upsert(&schema::VISITS, rows(changes.visits, codec::visit))?;
        conn.upsert(&schema::FEE_LINES, rows(changes.lines, codec::line))?;
        conn.upsert(&schema::SETTLEMENTS, rows(changes.settlements, codec::settlement))?;
        conn.upsert(&schema::MESSAGES, rows(changes.messages, codec::message))?;
        for (person, registrations) in changes.registrations {
            conn.execute("DELETE FROM disease_registrations WHERE psn_no = $1", &[Value::Text(person.to_string())])?;
            let rows: Vec<Vec<Value>> = registrations.iter().flatten().map(codec::registration).collect();
            conn.upsert(&schema::REGISTRATIONS, rows)?;
        }
        conn.upsert(&schema::SIGN_INS, rows(changes.sign_ins, codec::sign_in))?;
        conn.upsert(&schema::TRANSFERS, changes.transfers.iter().map(codec::transfer).collect())?;
        conn.upsert(&schema::POSTINGS, changes.transfers.iter().flat_map(codec::postings).collect())?;
        let sequences: Vec<Vec<Value>> = changes
            .sequences
            .iter()
            .filter_map(|(name, value)| {
                value.map(|value| {
                    named(&schema::SEQUENCES, [("name", Value::Text(name.clone())), ("value", Value::Int(value))])
                })
            })
            .collect();
        conn.upsert(&schema::SEQUENCES, sequences)?;
        conn.upsert(&schema::CREDENTIALS, rows(changes.credentials, codec::credential))?;
        conn.upsert(&schema::FILES, rows(changes.files, codec::file))?;
        conn.upsert(&schema::CARD_APPLICATIONS, rows(changes.card_applications, codec::card_application))?;
        conn.upsert(&schema::CARD_TRANSACTIONS, rows(changes.card_transactions, codec::card_transaction))?;
        conn.upsert(&schema::CLEARING_NOTICES, rows(changes.clearing_notices, codec::clearing_notice))?;
        conn.upsert(&schema::EVOUCHERS, rows(changes.evouchers, codec::evoucher))?;
        conn.upsert(&schema::GRANTS, rows(changes.grants, codec::grant))?;
        conn.upsert(&schema::DIAGNOSES, rows(changes.diagnoses, codec::diagnoses))?;
        conn.upsert(&schema::CATALOGUE, changes.catalogue.iter().map(codec::catalogue_entry).collect())?;
        conn.upsert(&schema::AUDIT_LOG, changes.audit.iter().map(codec::audit).collect())?;
        Ok(())
    }
}

impl Loader for Db<'_> {
    fn regions(&mut self, keys: &[Admdvs]) -> Result<Vec<Region>, StoreFailure> {
        self.load(&schema::REGIONS, "admdvs", strings(keys), codec::decode_region)
    }

    fn employers(&mut self, keys: &[String]) -> Result<Vec<Employer>, StoreFailure> {
        self.load(&schema::EMPLOYERS, "code", strings(keys), codec::decode_employer)
    }

    fn institutions(&mut self, keys: &[InstitutionCode]) -> Result<Vec<Institution>, StoreFailure> {
        self.load(&schema::INSTITUTIONS, "code", strings(keys), codec::decode_institution)
    }

    fn persons(&mut self, keys: &[PersonNo]) -> Result<Vec<Person>, StoreFailure> {
        self.load(&schema::PERSONS, "psn_no", strings(keys), codec::decode_person)
    }

    fn person_numbers(&mut self, id_numbers: &[String]) -> Result<Vec<(String, PersonNo)>, StoreFailure> {
        let rows = self
            .conn
            .query("SELECT id_number, psn_no FROM persons WHERE id_number = ANY($1)", &[strings(id_numbers)])?;
        rows.into_iter()
            .map(|row| match row.as_slice() {
                [Value::Text(id), Value::Text(psn)] => {
                    psn.parse().map(|psn| (id.clone(), psn)).map_err(|e| StoreFailure(format!("persons.psn_no: {e}")))
                }
                other => Err(StoreFailure(format!("persons: unexpected row {other:?}"))),
            })
            .collect()
    }

    fn cards(&mut self, keys: &[CardNo]) -> Result<Vec<Card>, StoreFailure> {
        self.load(&schema::CARDS, "card_no", strings(keys), codec::decode_card)
    }

    fn person_cards(&mut self, persons: &[PersonNo]) -> Result<Vec<Card>, StoreFailure> {
        self.load(&schema::CARDS, "psn_no", strings(persons), codec::decode_card)
    }

    fn accounts(&mut self, keys: &[AccountKey]) -> Result<Vec<Account>, StoreFailure> {
        self.load(&schema::ACCOUNTS, "account", strings(keys), codec::decode_account)
    }

    fn accumulators(&mut self, persons: &[PersonNo]) -> Result<Vec<(PersonNo, u16, Accumulators)>, StoreFailure> {
        self.load(&schema::ACCUMULATORS, "psn_no", strings(persons), codec::decode_accumulators)
    }

    fn visits(&mut self, keys: &[MdtrtId]) -> Result<Vec<Visit>, StoreFailure> {
        self.load(&schema::VISITS, "mdtrt_id", strings(keys), codec::decode_visit)
    }

    fn outpatient_visits_since(
        &mut self,
        psn_no: &PersonNo,
        institution: &InstitutionCode,
        since: Date,
    ) -> Result<Vec<Visit>, StoreFailure> {
        let sql = format!(
            "SELECT {} FROM {} WHERE psn_no = $1 AND institution = $2 AND kind = 'outpatient' AND begin_at >= $3 \
             ORDER BY begin_at",
            schema::VISITS.column_list(),
            schema::VISITS.name
        );
        let params = [
            Value::Text(psn_no.to_string()),
            Value::Text(institution.to_string()),
            Value::Text(DateTime::start_of(since).to_string()),
        ];
        self.conn.query(&sql, &params)?.iter().map(|row| codec::decode_visit(row)).collect()
    }

    fn lines(&mut self, visits: &[MdtrtId]) -> Result<Vec<FeeLine>, StoreFailure> {
        self.load(&schema::FEE_LINES, "mdtrt_id", strings(visits), codec::decode_line)
    }

    fn line_keys(&mut self, keys: &[(MdtrtId, String)]) -> Result<Vec<FeeLine>, StoreFailure> {
        let mut by_visit: BTreeMap<&MdtrtId, Vec<String>> = BTreeMap::new();
        for (visit, serial) in keys {
            by_visit.entry(visit).or_default().push(serial.clone());
        }
        let sql = format!(
            "SELECT {} FROM {} WHERE mdtrt_id = $1 AND serial = ANY($2)",
            schema::FEE_LINES.column_list(),
            schema::FEE_LINES.name
        );
        let mut lines = Vec::with_capacity(keys.len());
        for (visit, serials) in by_visit {
            for row in self.conn.query(&sql, &[Value::Text(visit.to_string()), Value::TextList(serials)])? {
                lines.push(codec::decode_line(&row)?);
            }
        }
        Ok(lines)
    }

    fn line_counts(&mut self, visits: &[MdtrtId]) -> Result<Vec<(MdtrtId, usize)>, StoreFailure> {
        let sql = format!(
            "SELECT mdtrt_id, COUNT(*) FROM {} WHERE mdtrt_id = ANY($1) GROUP BY mdtrt_id",
            schema::FEE_LINES.name
        );
        self.conn
            .query(&sql, &[strings(visits)])?
            .into_iter()
            .map(|row| match row.as_slice() {
                [Value::Text(visit), Value::Int(count)] => Ok((
                    visit.parse().map_err(|error| StoreFailure(format!("fee_lines.mdtrt_id {visit:?}: {error}")))?,
                    usize::try_from(*count).unwrap_or(0),
                )),
                other => Err(StoreFailure(format!("line counts: unexpected row {other:?}"))),
            })
            .collect()
    }

    fn settlements(&mut self, keys: &[SetlId]) -> Result<Vec<Settlement>, StoreFailure> {
        self.load(&schema::SETTLEMENTS, "setl_id", strings(keys), codec::decode_settlement)
    }

    fn visit_settlements(&mut self, visits: &[MdtrtId]) -> Result<Vec<Settlement>, StoreFailure> {
        let mut settlements = self.load(&schema::SETTLEMENTS, "mdtrt_id", strings(visits), codec::decode_settlement)?;
        settlements.sort_by(|a, b| (a.at, &a.setl_id).cmp(&(b.at, &b.setl_id)));
        Ok(settlements)
    }

    fn messages(&mut self, keys: &[MsgId]) -> Result<Vec<Message>, StoreFailure> {
        self.load(&schema::MESSAGES, "msgid", strings(keys), codec::decode_message)
    }

    fn registrations(&mut self, persons: &[PersonNo]) -> Result<Vec<DiseaseRegistration>, StoreFailure> {
        let mut rows = self.load(&schema::REGISTRATIONS, "psn_no", strings(persons), codec::decode_registration)?;
        rows.sort_by(|a, b| a.serial.cmp(&b.serial));
        Ok(rows)
    }

    fn sign_ins(&mut self, keys: &[String]) -> Result<Vec<SignIn>, StoreFailure> {
        self.load(&schema::SIGN_INS, "sign_no", strings(keys), codec::decode_sign_in)
    }

    fn transfers(&mut self, keys: &[TransferId]) -> Result<Vec<Transfer>, StoreFailure> {
        // By key: the journal's order does not matter here.
        let rows = self.select_where_in_ordered(&schema::TRANSFERS, "id", strings(keys), false)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut postings: BTreeMap<String, Vec<(i64, Vec<Value>)>> = BTreeMap::new();
        for row in self.select_where_in(&schema::POSTINGS, "transfer_id", strings(keys))? {
            if let [Value::Text(id), Value::Int(index), ..] = row.as_slice() {
                postings.entry(id.clone()).or_default().push((*index, row.clone()));
            }
        }
        rows.iter()
            .map(|row| {
                let id = match row.first() {
                    Some(Value::Text(id)) => id.clone(),
                    _ => return Err(StoreFailure("transfers: row without id".into())),
                };
                let mut legs = postings.remove(&id).unwrap_or_default();
                legs.sort_by_key(|(index, _)| *index);
                let legs: Vec<Vec<Value>> = legs.into_iter().map(|(_, row)| row).collect();
                codec::decode_transfer(row, &legs)
            })
            .collect()
    }

    fn credentials(&mut self, keys: &[(String, CredentialKind)]) -> Result<Vec<Credential>, StoreFailure> {
        self.credentials_of(keys)
    }

    fn files(&mut self, keys: &[String]) -> Result<Vec<StoredFile>, StoreFailure> {
        self.load(&schema::FILES, "file_qury_no", strings(keys), codec::decode_file)
    }

    fn card_applications(&mut self, keys: &[String]) -> Result<Vec<CardApplication>, StoreFailure> {
        self.load(&schema::CARD_APPLICATIONS, "id", strings(keys), codec::decode_card_application)
    }

    fn card_transactions(&mut self, cards: &[CardNo]) -> Result<Vec<CardTransaction>, StoreFailure> {
        let mut rows =
            self.load(&schema::CARD_TRANSACTIONS, "card_no", strings(cards), codec::decode_card_transaction)?;
        rows.sort_by_key(|row| row.seq);
        Ok(rows)
    }

    fn clearing_notices(&mut self, keys: &[String]) -> Result<Vec<ClearingNotice>, StoreFailure> {
        self.load(&schema::CLEARING_NOTICES, "id", strings(keys), codec::decode_clearing_notice)
    }

    fn evouchers(&mut self, persons: &[PersonNo]) -> Result<Vec<EVoucher>, StoreFailure> {
        self.load(&schema::EVOUCHERS, "psn_no", strings(persons), codec::decode_evoucher)
    }

    fn grants(&mut self, hashes: &[String]) -> Result<Vec<Grant>, StoreFailure> {
        self.load(&schema::GRANTS, "hash", strings(hashes), codec::decode_grant)
    }

    fn diagnoses(&mut self, visits: &[MdtrtId]) -> Result<Vec<VisitDiagnoses>, StoreFailure> {
        self.load(&schema::DIAGNOSES, "mdtrt_id", strings(visits), codec::decode_diagnoses)
    }

    fn settlement_days(&mut self, party: &ClearingParty, from: Date, to: Date) -> Result<Vec<DayTotals>, StoreFailure> {
        let (condition, mut params) = match party {
            // Only what this deployment owes the institution: not the settlements it priced for
            // a peer's institution (their id carries the insured region), but the ones it
            // recorded for a peer's insured guests.
            ClearingParty::Institution(code) => (
                "institution = $1 AND (substr(setl_id, 1, 6) = treated_admdvs \
                 OR psn_no IN (SELECT psn_no FROM persons WHERE status = 'guest'))",
                vec![Value::Text(code.to_string())],
            ),
            ClearingParty::Regions { insured, treated } => (
                "insured_admdvs = $1 AND treated_admdvs = $2",
                vec![Value::Text(insured.to_string()), Value::Text(treated.to_string())],
            ),
        };
        let n = params.len();
        params.push(Value::Text(DateTime::start_of(from).to_string()));
        params.push(Value::Text(DateTime::start_of(to.plus_days(1)).to_string()));
        let sql = format!(
            "SELECT substr(at, 1, 10), COUNT(*), CAST(SUM(medfee_fen) AS BIGINT), CAST(SUM(fund_fen) AS BIGINT), \
             CAST(SUM(account_current_fen + account_prior_fen) AS BIGINT), CAST(SUM(cash_fen) AS BIGINT) \
             FROM settlements WHERE {condition} AND at >= ${} AND at < ${} GROUP BY substr(at, 1, 10) ORDER BY 1",
            n + 1,
            n + 2
        );
        self.conn
            .query(&sql, &params)?
            .into_iter()
            .map(|row| match row.as_slice() {
                [
                    Value::Text(day),
                    Value::Int(count),
                    Value::Int(medfee),
                    Value::Int(fund),
                    Value::Int(account),
                    Value::Int(cash),
                ] => Ok(DayTotals {
                    day: day.parse().map_err(|error| StoreFailure(format!("settlement day {day:?}: {error}")))?,
                    count: u64::try_from(*count).unwrap_or(0),
                    medfee: Money::from_fen(*medfee),
                    fund: Money::from_fen(*fund),
                    account: Money::from_fen(*account),
                    cash: Money::from_fen(*cash),
                }),
                other => Err(StoreFailure(format!("settlement days: unexpected {other:?}"))),
            })
            .collect()
    }

    fn sequences(&mut self, names: &[String]) -> Result<Vec<(String, i64)>, StoreFailure> {
        let rows = self.conn.query("SELECT name, value FROM sequences WHERE name = ANY($1)", &[strings(names)])?;
        rows.into_iter()
            .map(|row| match row.as_slice() {
                [Value::Text(name), Value::Int(value)] => Ok((name.clone(), *value)),
                other => Err(StoreFailure(format!("sequences: unexpected row {other:?}"))),
            })
            .collect()
    }
}

impl Db<'_> {
    fn credentials_of(&mut self, keys: &[(String, CredentialKind)]) -> Result<Vec<Credential>, StoreFailure> {
        let subjects: Vec<String> = keys.iter().map(|(subject, _)| subject.clone()).collect();
        let rows = self.load(&schema::CREDENTIALS, "subject", Value::TextList(subjects), codec::decode_credential)?;
        Ok(rows.into_iter().filter(|row| keys.iter().any(|(s, k)| s == &row.subject && *k == row.kind)).collect())
    }
}

/// Brings the schema up to date. Idempotent; runs in one transaction.
///
/// # Errors
/// When the database fails or holds a newer schema than this program knows.
pub fn migrate(conn: &mut dyn Conn) -> Result<(), StoreFailure> {
    let dialect = conn.dialect();
    conn.begin_write()?;
    let result = (|| {
        for statement in schema::migration_v1(dialect) {
            conn.batch(&statement)?;
        }
        let rows = conn.query("SELECT value FROM meta WHERE key = $1", &[Value::Text("schema_version".into())])?;
        let version = match rows.first().and_then(|row| row.first()) {
            Some(Value::Text(version)) => {
                version.parse::<i64>().map_err(|e| StoreFailure(format!("meta.schema_version: {e}")))?
            }
            _ => 0,
        };
        if version > schema::SCHEMA_VERSION {
            return Err(StoreFailure(format!(
                "the database has schema version {version}, newer than this program's {}; upgrade yibao",
                schema::SCHEMA_VERSION
            )));
        }
        conn.upsert(
            &schema::META,
            vec![named(
                &schema::META,
                [
                    ("key", Value::Text("schema_version".into())),
                    ("value", Value::Text(schema::SCHEMA_VERSION.to_string())),
                ],
            )],
        )
    })();
    match result {
        Ok(()) => conn.batch("COMMIT"),
        Err(error) => {
            let _ = conn.batch("ROLLBACK");
            Err(error)
        }
    }
}

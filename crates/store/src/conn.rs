//! The connection interface both backends implement, and everything written once on top of
//! it: the engine's [`Loader`], writing a [`ChangeSet`], migrations.
//!
//! SQL here is written for PostgreSQL: `$1` placeholders and `column = ANY($1)` for lists.
//! The SQLite backend rewrites both (`?1`, `IN rarray(?1)`) when it prepares a statement.

use std::collections::BTreeMap;

use yibao_domain::{Date, DateTime, InstitutionCode, MdtrtId, Money, PersonNo};
use yibao_engine::records::{CatalogueEntry, ClearingParty, DayTotals, DiseaseRegistration, FeeLine, Visit};
use yibao_engine::{ChangeSet, Loader, StoreFailure};
use yibao_ledger::{Transfer, TransferId};
use yibao_policy::Accumulators;

use crate::schema::{self, Dialect, TableDef};
use crate::value::{Value, named};
use yibao_engine::Record;
use yibao_engine::codec;

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

    /// Records by key.
    ///
    /// # Errors
    /// When the database fails or a row does not decode.
    pub fn get<R: Record>(&mut self, keys: &[R::Key]) -> Result<Vec<R>, StoreFailure> {
        yibao_engine::load(self, keys)
    }

    /// The records whose `column` holds `key` (in insertion order for an ordered table).
    ///
    /// # Errors
    /// When the database fails or a row does not decode.
    pub fn get_by<R: Record>(&mut self, column: &'static str, key: String) -> Result<Vec<R>, StoreFailure> {
        yibao_engine::load_by(self, column, vec![key])
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
        let conn = &mut *self.conn;
        for (table, rows) in changes.rows {
            conn.upsert(table, rows)?;
        }
        let accumulators: Vec<Vec<Value>> = changes
            .accumulators
            .iter()
            .filter_map(|((person, year), row)| row.as_ref().map(|row| codec::accumulators(person, *year, row)))
            .collect();
        conn.upsert(&codec::ACCUMULATORS, accumulators)?;
        for (person, registrations) in changes.registrations {
            conn.execute("DELETE FROM disease_registrations WHERE psn_no = $1", &[Value::Text(person.to_string())])?;
            let rows: Vec<Vec<Value>> = registrations.iter().flatten().map(Record::encode).collect();
            conn.upsert(DiseaseRegistration::TABLE, rows)?;
        }
        conn.upsert(&codec::TRANSFERS, changes.transfers.iter().map(codec::transfer).collect())?;
        conn.upsert(&codec::POSTINGS, changes.transfers.iter().flat_map(codec::postings).collect())?;
        let sequences: Vec<Vec<Value>> = changes
            .sequences
            .iter()
            .filter_map(|(name, value)| {
                value.map(|value| {
                    named(&codec::SEQUENCES, [("name", Value::Text(name.clone())), ("value", Value::Int(value))])
                })
            })
            .collect();
        conn.upsert(&codec::SEQUENCES, sequences)?;
        conn.upsert(CatalogueEntry::TABLE, changes.catalogue.iter().map(Record::encode).collect())?;
        conn.upsert(&codec::AUDIT_LOG, changes.audit.iter().map(codec::audit).collect())?;
        Ok(())
    }
}

impl Loader for Db<'_> {
    fn rows(
        &mut self,
        table: &'static TableDef,
        column: &'static str,
        keys: Vec<String>,
    ) -> Result<Vec<Vec<Value>>, StoreFailure> {
        self.select_where_in(table, column, Value::TextList(keys))
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

    fn accumulators(&mut self, persons: &[PersonNo]) -> Result<Vec<(PersonNo, u16, Accumulators)>, StoreFailure> {
        self.load(&codec::ACCUMULATORS, "psn_no", strings(persons), codec::decode_accumulators)
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
            Visit::TABLE.column_list(),
            Visit::TABLE.name
        );
        let params = [
            Value::Text(psn_no.to_string()),
            Value::Text(institution.to_string()),
            Value::Text(DateTime::start_of(since).to_string()),
        ];
        self.conn.query(&sql, &params)?.iter().map(|row| Visit::decode(row)).collect()
    }

    fn line_keys(&mut self, keys: &[(MdtrtId, String)]) -> Result<Vec<FeeLine>, StoreFailure> {
        let mut by_visit: BTreeMap<&MdtrtId, Vec<String>> = BTreeMap::new();
        for (visit, serial) in keys {
            by_visit.entry(visit).or_default().push(serial.clone());
        }
        let sql = format!(
            "SELECT {} FROM {} WHERE mdtrt_id = $1 AND serial = ANY($2)",
            FeeLine::TABLE.column_list(),
            FeeLine::TABLE.name
        );
        let mut lines = Vec::with_capacity(keys.len());
        for (visit, serials) in by_visit {
            for row in self.conn.query(&sql, &[Value::Text(visit.to_string()), Value::TextList(serials)])? {
                lines.push(FeeLine::decode(&row)?);
            }
        }
        Ok(lines)
    }

    fn line_counts(&mut self, visits: &[MdtrtId]) -> Result<Vec<(MdtrtId, usize)>, StoreFailure> {
        let sql = format!(
            "SELECT mdtrt_id, COUNT(*) FROM {} WHERE mdtrt_id = ANY($1) GROUP BY mdtrt_id",
            FeeLine::TABLE.name
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

    fn transfers(&mut self, keys: &[TransferId]) -> Result<Vec<Transfer>, StoreFailure> {
        // By key: the journal's order does not matter here.
        let rows = self.select_where_in_ordered(&codec::TRANSFERS, "id", strings(keys), false)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut postings: BTreeMap<String, Vec<(i64, Vec<Value>)>> = BTreeMap::new();
        for row in self.select_where_in(&codec::POSTINGS, "transfer_id", strings(keys))? {
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
            "SELECT substr(at, 1, 10), COUNT(*), CAST(SUM(medfee_fen) AS BIGINT), CAST(SUM(fund_fen + subsidy_fen) AS BIGINT), \
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
        if version >= 1 {
            for statement in schema::upgrade(dialect, version) {
                conn.batch(&statement)?;
            }
        }
        for statement in schema::order_indexes(dialect) {
            conn.batch(&statement)?;
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

//! The SQLite backend: the embedded default. WAL journal, `synchronous=FULL` unless told
//! otherwise, one writer connection (on the writer thread) and a pool of readers.

use std::path::Path;
use std::rc::Rc;

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use yibao_engine::StoreFailure;

use crate::conn::{Conn, upsert_sql};
use crate::schema::{Dialect, TableDef};
use crate::value::Value;

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync at every commit: a committed settlement survives power loss (the default).
    Full,
    /// fsync at checkpoints only: survives a crash of the process, not of the machine.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

pub struct SqliteConn {
    conn: Connection,
}

impl std::fmt::Debug for SqliteConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteConn").finish_non_exhaustive()
    }
}

fn failure(error: rusqlite::Error) -> StoreFailure {
    StoreFailure(format!("sqlite: {error}"))
}

impl SqliteConn {
    /// Opens (creating if needed) the database file.
    ///
    /// # Errors
    /// When the file cannot be opened or configured.
    pub fn open(path: &Path, synchronous: Synchronous, read_only: bool) -> Result<SqliteConn, StoreFailure> {
        let flags = match read_only {
            true => OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            false => {
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
            }
        };
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|error| StoreFailure(format!("cannot open {}: {error}", path.display())))?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(failure)?;
        if !read_only {
            conn.pragma_update(None, "journal_mode", "WAL").map_err(failure)?;
        }
        conn.pragma_update(None, "synchronous", synchronous.pragma()).map_err(failure)?;
        conn.pragma_update(None, "cache_size", if read_only { -16_384 } else { -8_192 }).map_err(failure)?;
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(failure)?;
        conn.pragma_update(None, "foreign_keys", "OFF").map_err(failure)?;
        rusqlite::vtab::array::load_module(&conn).map_err(failure)?;
        // Plans that do not depend on the values bound: without this SQLite (3.5x) compiles a
        // cached statement anew whenever a parameter it looked at while planning is bound
        // again (on 1101's `cards WHERE psn_no = ?` that was every call).
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(failure)?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(SqliteConn { conn })
    }

    /// The connection itself (for the reference measurements).
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Rewrites the PostgreSQL-flavoured SQL of the shared code: `= ANY($1)` → `IN rarray(?1)`,
/// `$1` → `?1`.
fn translate(sql: &str) -> String {
    let sql = sql.replace("= ANY(", "IN rarray(");
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(SqlValue::Null),
            Value::Int(number) => ToSqlOutput::Borrowed(ValueRef::Integer(*number)),
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::Blob(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            Value::TextList(items) => {
                let array: rusqlite::vtab::array::Array =
                    Rc::new(items.iter().map(|item| SqlValue::Text(item.clone())).collect());
                ToSqlOutput::from_rc(array, c"rarray")
            }
        })
    }
}

fn read_value(value: ValueRef<'_>) -> Result<Value, StoreFailure> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(number) => Value::Int(number),
        ValueRef::Text(bytes) => Value::Text(
            String::from_utf8(bytes.to_vec()).map_err(|e| StoreFailure(format!("sqlite: text is not UTF-8: {e}")))?,
        ),
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
        ValueRef::Real(_) => {
            return Err(StoreFailure("sqlite: unexpected floating point value".into()));
        }
    })
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, StoreFailure> {
        let mut statement = self.conn.prepare_cached(&translate(sql)).map_err(failure)?;
        let width = statement.column_count();
        let params: Vec<Param<'_>> = params.iter().map(Param).collect();
        let params: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
        let mut rows = statement.query(params.as_slice()).map_err(failure)?;
        let mut result = Vec::new();
        while let Some(row) = rows.next().map_err(failure)? {
            let mut values = Vec::with_capacity(width);
            for index in 0..width {
                values.push(read_value(row.get_ref(index).map_err(failure)?)?);
            }
            result.push(values);
        }
        Ok(result)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreFailure> {
        let mut statement = self.conn.prepare_cached(&translate(sql)).map_err(failure)?;
        let params: Vec<Param<'_>> = params.iter().map(Param).collect();
        let params: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
        statement.execute(params.as_slice()).map(|n| n as u64).map_err(failure)
    }

    fn upsert(&mut self, table: &TableDef, rows: Vec<Vec<Value>>) -> Result<(), StoreFailure> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut statement = self.conn.prepare_cached(&upsert_sql(table, 1, Dialect::Sqlite)).map_err(failure)?;
        for row in &rows {
            let params: Vec<Param<'_>> = row.iter().map(Param).collect();
            let params: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
            statement
                .execute(params.as_slice())
                .map_err(|error| StoreFailure(format!("sqlite: {}: {error}", table.name)))?;
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreFailure> {
        self.conn.execute_batch(sql).map_err(failure)
    }

    fn begin_write(&mut self) -> Result<(), StoreFailure> {
        self.batch("BEGIN IMMEDIATE")
    }

    fn begin_read(&mut self) -> Result<(), StoreFailure> {
        self.batch("BEGIN DEFERRED")
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn translates_placeholders_and_lists() {
        assert_eq!(
            translate("SELECT a FROM t WHERE k = ANY($1) AND b = $2"),
            "SELECT a FROM t WHERE k IN rarray(?1) AND b = ?2"
        );
    }
}

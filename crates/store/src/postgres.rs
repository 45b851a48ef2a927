//! The PostgreSQL backend, for production. The same synchronous [`Conn`] interface as SQLite:
//! each call runs its query on the tokio runtime and waits for it, from the writer thread or
//! a blocking-pool thread. Rows are written in multi-row statements, so a batch of
//! settlements costs a few round trips, not a few per settlement.

use std::collections::HashMap;
use std::error::Error;

use bytes::BytesMut;
use tokio::runtime::Handle;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Statement};
use yibao_engine::StoreFailure;

use crate::conn::{Conn, upsert_sql};
use crate::schema::{Dialect, TableDef};
use crate::value::Value;

pub struct PgConn {
    client: Client,
    handle: Handle,
    statements: HashMap<String, Statement>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn").finish_non_exhaustive()
    }
}

fn failure(error: &tokio_postgres::Error) -> StoreFailure {
    match error.as_db_error() {
        Some(db) => StoreFailure(format!("postgres: {}: {}", db.code().code(), db.message())),
        None => StoreFailure(format!("postgres: {error}")),
    }
}

impl PgConn {
    /// Connects; the connection's IO runs as a task on `handle`'s runtime.
    ///
    /// # Errors
    /// When the server cannot be reached or refuses.
    pub fn connect(url: &str, handle: Handle) -> Result<PgConn, StoreFailure> {
        let (client, connection) = handle
            .block_on(tokio_postgres::connect(url, NoTls))
            .map_err(|error| StoreFailure(format!("cannot connect to PostgreSQL: {error}")))?;
        handle.spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "postgres connection closed");
            }
        });
        Ok(PgConn { client, handle, statements: HashMap::new() })
    }

    /// Takes the writer lock, held for the connection's life.
    ///
    /// # Errors
    /// When another process holds it.
    /// Takes the one-writer lock of this database and schema, waiting up to `wait` for it: the
    /// holder may be a server that was just killed, whose connection PostgreSQL has not yet
    /// noticed is gone.
    pub fn lock_writer(&mut self, wait: std::time::Duration) -> Result<(), StoreFailure> {
        // One writer per database and schema: two writers could lose each other's updates.
        let started = std::time::Instant::now();
        let mut announced = false;
        loop {
            let rows = self.query(
                "SELECT pg_try_advisory_lock(hashtext('yibao-writer:' || current_database() || '.' || current_schema()))",
                &[],
            )?;
            if let Some(Value::Int(1)) = rows.first().and_then(|row| row.first()) {
                return Ok(());
            }
            if started.elapsed() >= wait {
                return Err(StoreFailure(
                    "another yibao server is writing to this PostgreSQL database; one writer per database (shard by region to scale out)".into(),
                ));
            }
            if !announced {
                tracing::warn!(?wait, "another writer holds this database; waiting for it to go");
                announced = true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, StoreFailure> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.handle.block_on(self.client.prepare(sql)).map_err(|e| failure(&e))?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(number) => match *ty {
                Type::INT8 => number.to_sql(ty, out),
                Type::INT4 => i32::try_from(*number)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*number)?.to_sql(ty, out),
                Type::BOOL => (*number != 0).to_sql(ty, out),
                _ => number.to_string().as_str().to_sql(ty, out),
            },
            Value::Text(text) => text.as_str().to_sql(ty, out),
            Value::Blob(bytes) => bytes.as_slice().to_sql(ty, out),
            Value::TextList(items) => items.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn read_row(row: &tokio_postgres::Row) -> Result<Vec<Value>, StoreFailure> {
    let wrong = |e: tokio_postgres::Error| failure(&e);
    (0..row.len())
        .map(|index| {
            Ok(match *row.columns()[index].type_() {
                Type::INT8 => row.try_get::<_, Option<i64>>(index).map_err(wrong)?.map_or(Value::Null, Value::Int),
                Type::INT4 => {
                    row.try_get::<_, Option<i32>>(index).map_err(wrong)?.map_or(Value::Null, |n| Value::Int(n.into()))
                }
                Type::INT2 => {
                    row.try_get::<_, Option<i16>>(index).map_err(wrong)?.map_or(Value::Null, |n| Value::Int(n.into()))
                }
                Type::BOOL => {
                    row.try_get::<_, Option<bool>>(index).map_err(wrong)?.map_or(Value::Null, |b| Value::Int(b.into()))
                }
                Type::BYTEA => {
                    row.try_get::<_, Option<Vec<u8>>>(index).map_err(wrong)?.map_or(Value::Null, Value::Blob)
                }
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                    row.try_get::<_, Option<String>>(index).map_err(wrong)?.map_or(Value::Null, Value::Text)
                }
                ref other => {
                    return Err(StoreFailure(format!("postgres: unsupported column type {other}")));
                }
            })
        })
        .collect()
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, StoreFailure> {
        let statement = self.statement(sql)?;
        let params: Vec<Param<'_>> = params.iter().map(Param).collect();
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = self.handle.block_on(self.client.query(&statement, &params)).map_err(|e| failure(&e))?;
        rows.iter().map(read_row).collect()
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreFailure> {
        let statement = self.statement(sql)?;
        let params: Vec<Param<'_>> = params.iter().map(Param).collect();
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.handle.block_on(self.client.execute(&statement, &params)).map_err(|e| failure(&e))
    }

    fn upsert(&mut self, table: &TableDef, rows: Vec<Vec<Value>>) -> Result<(), StoreFailure> {
        // Power-of-two chunks keep the number of distinct prepared statements small.
        let width = table.columns.len();
        let most = (32_000 / width).clamp(1, 256).next_power_of_two() / 2;
        let mut rest = rows.as_slice();
        while !rest.is_empty() {
            let mut size = most.max(1);
            while size > rest.len() {
                size /= 2;
            }
            let (chunk, tail) = rest.split_at(size);
            let sql = upsert_sql(table, size, Dialect::Postgres);
            let params: Vec<Value> = chunk.iter().flatten().cloned().collect();
            self.execute(&sql, &params)
                .map_err(|StoreFailure(error)| StoreFailure(format!("{}: {error}", table.name)))?;
            rest = tail;
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreFailure> {
        self.handle.block_on(self.client.batch_execute(sql)).map_err(|e| failure(&e))
    }

    fn begin_write(&mut self) -> Result<(), StoreFailure> {
        self.batch("BEGIN")
    }

    fn begin_read(&mut self) -> Result<(), StoreFailure> {
        self.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    }
}

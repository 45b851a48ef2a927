//! A table as the store keeps it, named once: its columns (by name and storage type), its key
//! and indexes ([`TableDef`]), and the values of a row ([`Value`]), read by column name
//! ([`Columns`]) and written by column name ([`named`]). No SQL here: the store turns a
//! [`TableDef`] into DDL and statements for each backend.

use crate::error::StoreFailure;

/// A column's storage type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Text,
    Blob,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: Ty,
    pub nullable: bool,
}

pub const fn col(name: &'static str, ty: Ty) -> Column {
    Column { name, ty, nullable: false }
}

pub const fn opt(name: &'static str, ty: Ty) -> Column {
    Column { name, ty, nullable: true }
}

/// A table: its columns in codec order, its key, and whether rows keep insertion order.
#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// Empty for append-only tables keyed by their insertion order.
    pub key: &'static [&'static str],
    /// Rows are read back in insertion order (SQLite `rowid`, PostgreSQL `seq`).
    pub ordered: bool,
    pub indexes: &'static [&'static [&'static str]],
}

impl TableDef {
    pub fn column_list(&self) -> String {
        self.columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
    }
}

/// A SQL value. Booleans are integers 0/1 and times are `yyyy-MM-dd HH:mm:ss` text on both
/// backends, so one codec serves both.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
    /// A list parameter, for `column = ANY($n)`.
    TextList(Vec<String>),
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Int(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Int(i64::from(value))
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Text(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::Text(value.to_string())
    }
}

impl From<Vec<u8>> for Value {
    fn from(value: Vec<u8>) -> Value {
        Value::Blob(value)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// Reads a row's columns by name (as the table's [`TableDef`] lists them), naming the
/// table and column in every error. Names are looked up where the previous one ended first, so
/// reading in table order costs one comparison a column.
#[derive(Debug)]
pub struct Columns<'r> {
    table: &'static str,
    names: &'static [Column],
    row: &'r [Value],
    next: usize,
}

impl<'r> Columns<'r> {
    pub fn new(table: &'static TableDef, row: &'r [Value]) -> Columns<'r> {
        Columns { table: table.name, names: table.columns, row, next: 0 }
    }

    fn take(&mut self, name: &'static str) -> Result<&'r Value, StoreFailure> {
        let index = match self.names.get(self.next) {
            Some(column) if column.name == name => self.next,
            _ => self
                .names
                .iter()
                .position(|column| column.name == name)
                .ok_or_else(|| StoreFailure(format!("{}: no column {name}", self.table)))?,
        };
        self.next = index + 1;
        self.row.get(index).ok_or_else(|| StoreFailure(format!("{}: row has no column {index} ({name})", self.table)))
    }

    fn wrong(&self, name: &str, expected: &str, value: &Value) -> StoreFailure {
        StoreFailure(format!("{}.{name}: expected {expected}, found {value:?}", self.table))
    }

    pub fn text(&mut self, name: &'static str) -> Result<String, StoreFailure> {
        match self.take(name)? {
            Value::Text(text) => Ok(text.clone()),
            value => Err(self.wrong(name, "text", value)),
        }
    }

    pub fn opt_text(&mut self, name: &'static str) -> Result<Option<String>, StoreFailure> {
        match self.take(name)? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text.clone())),
            value => Err(self.wrong(name, "text or null", value)),
        }
    }

    pub fn int(&mut self, name: &'static str) -> Result<i64, StoreFailure> {
        match self.take(name)? {
            Value::Int(number) => Ok(*number),
            value => Err(self.wrong(name, "integer", value)),
        }
    }

    pub fn opt_int(&mut self, name: &'static str) -> Result<Option<i64>, StoreFailure> {
        match self.take(name)? {
            Value::Null => Ok(None),
            Value::Int(number) => Ok(Some(*number)),
            value => Err(self.wrong(name, "integer or null", value)),
        }
    }

    pub fn boolean(&mut self, name: &'static str) -> Result<bool, StoreFailure> {
        self.int(name).map(|number| number != 0)
    }

    pub fn blob(&mut self, name: &'static str) -> Result<Vec<u8>, StoreFailure> {
        match self.take(name)? {
            Value::Blob(bytes) => Ok(bytes.clone()),
            value => Err(self.wrong(name, "bytes", value)),
        }
    }

    /// Text parsed into a domain type.
    pub fn parse<T: std::str::FromStr>(&mut self, name: &'static str) -> Result<T, StoreFailure>
    where
        T::Err: std::fmt::Display,
    {
        let text = self.text(name)?;
        text.parse().map_err(|error| StoreFailure(format!("{}.{name}: {error}", self.table)))
    }

    pub fn opt_parse<T: std::str::FromStr>(&mut self, name: &'static str) -> Result<Option<T>, StoreFailure>
    where
        T::Err: std::fmt::Display,
    {
        match self.opt_text(name)? {
            None => Ok(None),
            Some(text) => {
                text.parse().map(Some).map_err(|error| StoreFailure(format!("{}.{name}: {error}", self.table)))
            }
        }
    }
}

/// A row in the table's column order from values given by column name. Every column is given
/// once; a name the table does not have, or a column left out, is a bug in the codec.
pub fn named<const N: usize>(table: &TableDef, values: [(&'static str, Value); N]) -> Vec<Value> {
    assert_eq!(N, table.columns.len(), "{}: a row names every column once", table.name);
    let mut row = vec![Value::Null; N];
    let mut given = [false; N];
    for (at, (name, value)) in values.into_iter().enumerate() {
        let index = match table.columns.get(at) {
            Some(column) if column.name == name => at,
            _ => table
                .columns
                .iter()
                .position(|column| column.name == name)
                .unwrap_or_else(|| panic!("{}: no column {name}", table.name)),
        };
        assert!(!given[index], "{}: column {name} given twice", table.name);
        given[index] = true;
        row[index] = value;
    }
    row
}

#[cfg(test)]
mod named_tests {
    use super::*;

    const T: TableDef = TableDef {
        name: "t",
        columns: &[
            Column { name: "a", ty: Ty::Text, nullable: false },
            Column { name: "b", ty: Ty::Int, nullable: false },
            Column { name: "c", ty: Ty::Text, nullable: true },
        ],
        key: &["a"],
        ordered: false,
        indexes: &[],
    };

    #[test]
    fn columns_are_written_and_read_by_name_whatever_the_order() {
        let row = named(&T, [("c", Value::Null), ("a", Value::Text("x".into())), ("b", Value::Int(7))]);
        assert_eq!(row, vec![Value::Text("x".into()), Value::Int(7), Value::Null]);
        let mut columns = Columns::new(&T, &row);
        assert_eq!(columns.int("b"), Ok(7));
        assert_eq!(columns.text("a"), Ok("x".to_string()));
        assert_eq!(columns.opt_text("c"), Ok(None));
        assert!(columns.text("d").unwrap_err().0.contains("no column d"));
        assert!(columns.text("b").unwrap_err().0.contains("t.b: expected text"));
    }

    #[test]
    #[should_panic(expected = "no column z")]
    fn a_column_the_table_lacks_is_a_bug() {
        named(&T, [("a", Value::Null), ("b", Value::Null), ("z", Value::Null)]);
    }
}

//! The values that cross between Rust and SQL, the same for both backends.

use yibao_engine::StoreFailure;

/// A SQL value. Booleans are integers 0/1 and times are `yyyy-MM-dd HH:mm:ss` text on both
/// backends, so one codec serves both.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Reads a row's columns in order, naming the table and column in every error.
#[derive(Debug)]
pub struct Columns<'r> {
    table: &'static str,
    names: &'static [crate::schema::Column],
    row: &'r [Value],
    next: usize,
}

impl<'r> Columns<'r> {
    pub fn new(table: &'static crate::schema::TableDef, row: &'r [Value]) -> Columns<'r> {
        Columns { table: table.name, names: table.columns, row, next: 0 }
    }

    fn take(&mut self) -> Result<(&'r Value, &'static str), StoreFailure> {
        let index = self.next;
        self.next += 1;
        let name = self.names.get(index).map_or("?", |column| column.name);
        let value = self
            .row
            .get(index)
            .ok_or_else(|| StoreFailure(format!("{}: row has no column {index} ({name})", self.table)))?;
        Ok((value, name))
    }

    fn wrong(&self, name: &str, expected: &str, value: &Value) -> StoreFailure {
        StoreFailure(format!("{}.{name}: expected {expected}, found {value:?}", self.table))
    }

    pub fn text(&mut self) -> Result<String, StoreFailure> {
        match self.take()? {
            (Value::Text(text), _) => Ok(text.clone()),
            (value, name) => Err(self.wrong(name, "text", value)),
        }
    }

    pub fn opt_text(&mut self) -> Result<Option<String>, StoreFailure> {
        match self.take()? {
            (Value::Null, _) => Ok(None),
            (Value::Text(text), _) => Ok(Some(text.clone())),
            (value, name) => Err(self.wrong(name, "text or null", value)),
        }
    }

    pub fn int(&mut self) -> Result<i64, StoreFailure> {
        match self.take()? {
            (Value::Int(number), _) => Ok(*number),
            (value, name) => Err(self.wrong(name, "integer", value)),
        }
    }

    pub fn opt_int(&mut self) -> Result<Option<i64>, StoreFailure> {
        match self.take()? {
            (Value::Null, _) => Ok(None),
            (Value::Int(number), _) => Ok(Some(*number)),
            (value, name) => Err(self.wrong(name, "integer or null", value)),
        }
    }

    pub fn boolean(&mut self) -> Result<bool, StoreFailure> {
        self.int().map(|number| number != 0)
    }

    pub fn blob(&mut self) -> Result<Vec<u8>, StoreFailure> {
        match self.take()? {
            (Value::Blob(bytes), _) => Ok(bytes.clone()),
            (value, name) => Err(self.wrong(name, "bytes", value)),
        }
    }

    /// Text parsed into a domain type.
    pub fn parse<T: std::str::FromStr>(&mut self) -> Result<T, StoreFailure>
    where
        T::Err: std::fmt::Display,
    {
        let column = self.next;
        let text = self.text()?;
        let name = self.names.get(column).map_or("?", |c| c.name);
        text.parse().map_err(|error| StoreFailure(format!("{}.{name}: {error}", self.table)))
    }

    pub fn opt_parse<T: std::str::FromStr>(&mut self) -> Result<Option<T>, StoreFailure>
    where
        T::Err: std::fmt::Display,
    {
        let column = self.next;
        let name = self.names.get(column).map_or("?", |c| c.name);
        match self.opt_text()? {
            None => Ok(None),
            Some(text) => {
                text.parse().map(Some).map_err(|error| StoreFailure(format!("{}.{name}: {error}", self.table)))
            }
        }
    }
}

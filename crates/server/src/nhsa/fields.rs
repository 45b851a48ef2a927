//! Reading the national interface's JSON: the envelope and the `input` nodes. Every value
//! becomes a domain type here, once; every problem becomes an error naming the field, in
//! Chinese, as HIS operators read it.

use std::str::FromStr;

use serde_json::{Map, Value};
use yibao_domain::{DateTime, Money, ParseError};

use super::NhsaError;

/// The most lines one message may carry.
pub const LINES_PER_MESSAGE_MAX: usize = 1_000;
/// The longest text accepted in any field.
pub const TEXT_MAX: usize = 2_000;

/// A JSON object being read, with its path for error messages (`input.data`).
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    pub path: String,
    map: &'a Map<String, Value>,
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "布尔值",
        Value::Number(_) => "数值",
        Value::String(_) => "字符串",
        Value::Array(_) => "数组",
        Value::Object(_) => "对象",
    }
}

impl<'a> Fields<'a> {
    /// The object at `value`, or a type error naming `path`.
    pub fn of(path: &str, value: &'a Value) -> Result<Fields<'a>, NhsaError> {
        match value {
            Value::Object(map) => Ok(Fields { path: path.to_string(), map }),
            other => Err(NhsaError::new(format!("{path}类型错误：应为JSON对象，实为{}", describe(other)))),
        }
    }

    fn name(&self, field: &str) -> String {
        match self.path.is_empty() {
            true => field.to_string(),
            false => format!("{}.{field}", self.path),
        }
    }

    fn missing(&self, field: &str) -> NhsaError {
        NhsaError::new(format!("{}不能为空", self.name(field)))
    }

    /// A nested object, required.
    pub fn object(&self, field: &str) -> Result<Fields<'a>, NhsaError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Err(self.missing(field)),
            Some(Value::Object(map)) => Ok(Fields { path: self.name(field), map }),
            Some(other) => {
                Err(NhsaError::new(format!("{}类型错误：应为JSON对象，实为{}", self.name(field), describe(other))))
            }
        }
    }

    /// A nested object, optional.
    pub fn opt_object(&self, field: &str) -> Result<Option<Fields<'a>>, NhsaError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.object(field).map(Some),
        }
    }

    /// A list of objects, optional (missing means empty), at most `max` long.
    pub fn list(&self, field: &str, max: usize) -> Result<Vec<Fields<'a>>, NhsaError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                if items.len() > max {
                    return Err(NhsaError::new(format!("{}最多{max}条，实为{}条", self.name(field), items.len())));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| match item {
                        Value::Object(map) => Ok(Fields { path: format!("{}[{index}]", self.name(field)), map }),
                        other => Err(NhsaError::new(format!(
                            "{}[{index}]类型错误：应为JSON对象，实为{}",
                            self.name(field),
                            describe(other)
                        ))),
                    })
                    .collect()
            }
            // Some clients send a single object where a list is expected.
            Some(Value::Object(map)) => Ok(vec![Fields { path: self.name(field), map }]),
            Some(other) => {
                Err(NhsaError::new(format!("{}类型错误：应为数组，实为{}", self.name(field), describe(other))))
            }
        }
    }

    /// Text, or `None` when missing, null or empty. Integers are accepted as their digits
    /// (some clients send codes as numbers); anything else is a type error.
    pub fn text(&self, field: &str) -> Result<Option<String>, NhsaError> {
        let text = match self.map.get(field) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(text)) => text.trim().to_string(),
            Some(Value::Number(number)) if !number.to_string().contains(['.', 'e', 'E']) => number.to_string(),
            Some(other) => {
                return Err(NhsaError::new(format!(
                    "{}类型错误：应为字符串，实为{}",
                    self.name(field),
                    describe(other)
                )));
            }
        };
        if text.chars().count() > TEXT_MAX {
            return Err(NhsaError::new(format!("{}超长：最多{TEXT_MAX}个字符", self.name(field))));
        }
        Ok(Some(text).filter(|text| !text.is_empty()))
    }

    pub fn required_text(&self, field: &str) -> Result<String, NhsaError> {
        self.text(field)?.ok_or_else(|| self.missing(field))
    }

    /// Text parsed into a domain type; the parser's problem is quoted.
    pub fn parse<T>(&self, field: &str) -> Result<Option<T>, NhsaError>
    where
        T: FromStr<Err = ParseError>,
    {
        match self.text(field)? {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|error: ParseError| {
                NhsaError::new(format!("{}格式错误：{}（{}）", self.name(field), text, error.problem_zh()))
            }),
        }
    }

    pub fn required<T>(&self, field: &str) -> Result<T, NhsaError>
    where
        T: FromStr<Err = ParseError>,
    {
        self.parse(field)?.ok_or_else(|| self.missing(field))
    }

    /// A decimal number from a JSON number or a numeric string, kept exact.
    fn decimal_text(&self, field: &str) -> Result<Option<String>, NhsaError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim().to_string())),
            Some(other) => {
                Err(NhsaError::new(format!("{}类型错误：应为数值，实为{}", self.name(field), describe(other))))
            }
        }
    }

    /// A decimal (amount, price, quantity, ratio) parsed exactly.
    pub fn number<T>(&self, field: &str) -> Result<Option<T>, NhsaError>
    where
        T: FromStr<Err = ParseError>,
    {
        match self.decimal_text(field)? {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|error: ParseError| {
                NhsaError::new(format!("{}数值错误：{}（{}）", self.name(field), text, error.problem_zh()))
            }),
        }
    }

    pub fn required_number<T>(&self, field: &str) -> Result<T, NhsaError>
    where
        T: FromStr<Err = ParseError>,
    {
        self.number(field)?.ok_or_else(|| self.missing(field))
    }

    pub fn money(&self, field: &str) -> Result<Option<Money>, NhsaError> {
        self.number(field)
    }

    /// A time `yyyy-MM-dd HH:mm:ss` (or a bare date).
    pub fn time(&self, field: &str) -> Result<Option<DateTime>, NhsaError> {
        match self.text(field)? {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|error: ParseError| {
                NhsaError::new(format!(
                    "{}时间格式错误：{}，应为yyyy-MM-dd HH:mm:ss（{}）",
                    self.name(field),
                    text,
                    error.problem_zh()
                ))
            }),
        }
    }

    /// A flag that is `"1"` or `"0"` (missing: `default`).
    pub fn flag(&self, field: &str, default: bool) -> Result<bool, NhsaError> {
        match self.text(field)?.as_deref() {
            None => Ok(default),
            Some("1") => Ok(true),
            Some("0") => Ok(false),
            Some(other) => Err(NhsaError::new(format!("{}取值错误：{other}，应为0或1", self.name(field)))),
        }
    }
}

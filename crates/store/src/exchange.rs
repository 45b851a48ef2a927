//! Records as JSON, for exchange between deployments (cross-region treatment between peers).
//!
//! The peer wire format is named and versioned: [`FORMAT`] travels in the `x-yibao-peer-format`
//! header of every request and answer, and each record is a JSON object of its stored columns by
//! name (`{"psn_no": "…", "name": "…", …}`), so a peer reads fields by what they are, never by
//! where they sit in a table. A peer on another format is refused with a message saying so
//! before anything is read. Format 1 (before issue 15) sent each record as the array of its
//! columns in table order; such arrays are still read: from this deployment's own stored answers
//! (a replayed message) and from the answers of a peer not yet upgraded (its cancellation is
//! recorded, not lost). A request in format 1 is refused before its body is read.

use serde_json::{Map, Value as Json};
use yibao_engine::StoreFailure;
use yibao_engine::records::{FeeLine, Institution, Person, Settlement, Visit};

use crate::schema::TableDef;
use crate::value::Value;
use yibao_engine::Record;

/// The peer wire format this deployment speaks.
pub const FORMAT: u32 = 2;
/// The header that carries it.
pub const FORMAT_HEADER: &str = "x-yibao-peer-format";

fn column(value: Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Int(number) => Json::from(number),
        Value::Text(text) => Json::String(text),
        Value::Blob(bytes) => Json::Array(bytes.into_iter().map(Json::from).collect()),
        Value::TextList(items) => Json::Array(items.into_iter().map(Json::String).collect()),
    }
}

fn to_json(table: &TableDef, row: Vec<Value>) -> Json {
    debug_assert_eq!(table.columns.len(), row.len(), "{}: the codec writes every column", table.name);
    let object: Map<String, Json> =
        table.columns.iter().zip(row).map(|(column_def, value)| (column_def.name.to_string(), column(value))).collect();
    Json::Object(object)
}

fn value(item: &Json, what: &str, name: &str) -> Result<Value, StoreFailure> {
    match item {
        Json::Null => Ok(Value::Null),
        Json::Number(number) => number
            .as_i64()
            .map(Value::Int)
            .ok_or_else(|| StoreFailure(format!("{what}.{name}: {number} is not a whole number"))),
        Json::String(text) => Ok(Value::Text(text.clone())),
        other => Err(StoreFailure(format!("{what}.{name}: unexpected value {other}"))),
    }
}

/// The record's columns in table order: from an object by name (every column present but those
/// added by a later schema version, which a record written before lacks and which read as 0;
/// none unknown), or from a format-1 array of this deployment's own stored answers (with or
/// without the added columns).
fn from_json(table: &TableDef, json: &Json, what: &str) -> Result<Vec<Value>, StoreFailure> {
    let added = |name: &str| crate::schema::is_added_column(table.name, name);
    match json {
        Json::Object(object) => {
            if let Some(unknown) = object.keys().find(|key| !table.columns.iter().any(|c| c.name == key.as_str())) {
                return Err(StoreFailure(format!("{what}: unknown field {unknown}")));
            }
            table
                .columns
                .iter()
                .map(|c| match object.get(c.name) {
                    Some(item) => value(item, what, c.name),
                    None if added(c.name) => Ok(Value::Int(0)),
                    None => Err(StoreFailure(format!("{what}: field {} is missing", c.name))),
                })
                .collect()
        }
        Json::Array(items) if items.len() == table.columns.len() => {
            items.iter().zip(table.columns).map(|(item, c)| value(item, what, c.name)).collect()
        }
        Json::Array(items) if items.len() == table.columns.iter().filter(|c| !added(c.name)).count() => {
            let mut items = items.iter();
            table
                .columns
                .iter()
                .map(|c| match added(c.name) {
                    true => Ok(Value::Int(0)),
                    false => value(items.next().unwrap_or(&Json::Null), what, c.name),
                })
                .collect()
        }
        _ => Err(StoreFailure(format!("{what}: expected an object of named fields"))),
    }
}

pub fn person(row: &Person) -> Json {
    to_json(Person::TABLE, Person::encode(row))
}

/// # Errors
/// When the JSON is not a person's columns.
pub fn decode_person(json: &Json) -> Result<Person, StoreFailure> {
    Person::decode(&from_json(Person::TABLE, json, "person")?)
}

pub fn institution(row: &Institution) -> Json {
    to_json(Institution::TABLE, Institution::encode(row))
}

/// # Errors
/// When the JSON is not an institution's columns.
pub fn decode_institution(json: &Json) -> Result<Institution, StoreFailure> {
    Institution::decode(&from_json(Institution::TABLE, json, "institution")?)
}

pub fn visit(row: &Visit) -> Json {
    to_json(Visit::TABLE, Visit::encode(row))
}

/// # Errors
/// When the JSON is not a visit's columns.
pub fn decode_visit(json: &Json) -> Result<Visit, StoreFailure> {
    Visit::decode(&from_json(Visit::TABLE, json, "visit")?)
}

pub fn line(row: &FeeLine) -> Json {
    to_json(FeeLine::TABLE, FeeLine::encode(row))
}

/// # Errors
/// When the JSON is not a fee line's columns.
pub fn decode_line(json: &Json) -> Result<FeeLine, StoreFailure> {
    FeeLine::decode(&from_json(FeeLine::TABLE, json, "line")?)
}

pub fn settlement(row: &Settlement) -> Json {
    to_json(Settlement::TABLE, Settlement::encode(row))
}

/// # Errors
/// When the JSON is not a settlement's columns.
pub fn decode_settlement(json: &Json) -> Result<Settlement, StoreFailure> {
    Settlement::decode(&from_json(Settlement::TABLE, json, "settlement")?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_demo_person_survives_the_trip() {
        let person = yibao_engine::records::Person {
            psn_no: "3302000000000005".parse().unwrap(),
            id_number: "330203197811205674".parse().unwrap(),
            name: "陈军".into(),
            admdvs: "330200".parse().unwrap(),
            insurance: "310".parse().unwrap(),
            person_type: "1101".parse().unwrap(),
            employer: Some("E33020000001".into()),
            status: yibao_engine::records::PersonStatus::Active,
            insured_since: "2020-01-01".parse().unwrap(),
            ethnicity: "01".into(),
            custody_bank: "BOC".parse().unwrap(),
            contribution_base: Some(yibao_domain::Money::yuan(6000)),
            account_frozen: false,
        };
        let json = super::person(&person);
        assert_eq!(json["name"], serde_json::json!("陈军"), "fields travel by name");
        assert_eq!(super::decode_person(&json).unwrap(), person);
        assert!(super::decode_person(&serde_json::json!({"x": 1})).is_err());
        let mut missing = json.clone();
        missing.as_object_mut().unwrap().remove("admdvs");
        assert!(super::decode_person(&missing).unwrap_err().0.contains("admdvs is missing"));
        // Format 1's array of columns, as this deployment stored answers before, still reads.
        let array = serde_json::Value::Array(
            <yibao_engine::records::Person as yibao_engine::Record>::TABLE
                .columns
                .iter()
                .map(|c| json[c.name].clone())
                .collect(),
        );
        assert_eq!(super::decode_person(&array).unwrap(), person);
    }
}

//! Records as JSON, for exchange between deployments (cross-region treatment between peers):
//! each record travels as the array of its stored columns, so what a peer receives decodes
//! exactly as a row read back from the database would.

use serde_json::Value as Json;
use yibao_engine::StoreFailure;
use yibao_engine::records::{FeeLine, Institution, Person, Settlement, Visit};

use crate::codec;
use crate::value::Value;

fn to_json(row: Vec<Value>) -> Json {
    Json::Array(
        row.into_iter()
            .map(|value| match value {
                Value::Null => Json::Null,
                Value::Int(number) => Json::from(number),
                Value::Text(text) => Json::String(text),
                Value::Blob(bytes) => Json::Array(bytes.into_iter().map(Json::from).collect()),
                Value::TextList(items) => Json::Array(items.into_iter().map(Json::String).collect()),
            })
            .collect(),
    )
}

fn from_json(json: &Json, what: &str) -> Result<Vec<Value>, StoreFailure> {
    let Json::Array(items) = json else {
        return Err(StoreFailure(format!("{what}: expected an array of columns")));
    };
    items
        .iter()
        .map(|item| match item {
            Json::Null => Ok(Value::Null),
            Json::Number(number) => number
                .as_i64()
                .map(Value::Int)
                .ok_or_else(|| StoreFailure(format!("{what}: {number} is not a whole number"))),
            Json::String(text) => Ok(Value::Text(text.clone())),
            other => Err(StoreFailure(format!("{what}: unexpected column {other}"))),
        })
        .collect()
}

pub fn person(row: &Person) -> Json {
    to_json(codec::person(row))
}

/// # Errors
/// When the JSON is not a person's columns.
pub fn decode_person(json: &Json) -> Result<Person, StoreFailure> {
    codec::decode_person(&from_json(json, "person")?)
}

pub fn institution(row: &Institution) -> Json {
    to_json(codec::institution(row))
}

/// # Errors
/// When the JSON is not an institution's columns.
pub fn decode_institution(json: &Json) -> Result<Institution, StoreFailure> {
    codec::decode_institution(&from_json(json, "institution")?)
}

pub fn visit(row: &Visit) -> Json {
    to_json(codec::visit(row))
}

/// # Errors
/// When the JSON is not a visit's columns.
pub fn decode_visit(json: &Json) -> Result<Visit, StoreFailure> {
    codec::decode_visit(&from_json(json, "visit")?)
}

pub fn line(row: &FeeLine) -> Json {
    to_json(codec::line(row))
}

/// # Errors
/// When the JSON is not a fee line's columns.
pub fn decode_line(json: &Json) -> Result<FeeLine, StoreFailure> {
    codec::decode_line(&from_json(json, "line")?)
}

pub fn settlement(row: &Settlement) -> Json {
    to_json(codec::settlement(row))
}

/// # Errors
/// When the JSON is not a settlement's columns.
pub fn decode_settlement(json: &Json) -> Result<Settlement, StoreFailure> {
    codec::decode_settlement(&from_json(json, "settlement")?)
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
        assert_eq!(super::decode_person(&json).unwrap(), person);
        assert!(super::decode_person(&serde_json::json!({"x": 1})).is_err());
    }
}

//! Identifier newtypes: region codes, institution codes, person, card, visit and settlement
//! numbers, message ids. Each is checked once when parsed and is a plain string afterwards.

use std::fmt;
use std::str::FromStr;

use crate::ParseError;

/// Defines a string newtype with `FromStr` checked by `$check` (`fn(&str) -> Result<(), String>`).
macro_rules! code {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(text: &str) -> Result<$name, ParseError> {
                let check: fn(&str) -> Result<(), (String, String)> = $check;
                check(text).map_err(|(problem, zh)| ParseError::bilingual($what, problem, zh))?;
                Ok($name(text.to_string()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

fn digits(count: usize) -> impl Fn(&str) -> Result<(), (String, String)> {
    move |text: &str| {
        if text.len() != count || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err((format!("{text:?} is not {count} digits"), format!("{text}不是{count}位数字")));
        }
        Ok(())
    }
}

/// Letters, digits, `-` and `_`, between `min` and `max` characters.
fn token(text: &str, min: usize, max: usize) -> Result<(), (String, String)> {
    if text.len() < min || text.len() > max {
        return Err(match min {
            1 if text.is_empty() => ("is empty".to_string(), "不能为空".to_string()),
            _ => (
                format!("{text:?} has {} characters, expected {min} to {max}", text.chars().count()),
                format!("长度应为{min}至{max}位"),
            ),
        });
    }
    if let Some(bad) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err((
            format!("{text:?} contains {bad:?}; only letters, digits, '-' and '_' are allowed"),
            format!("含有非法字符“{bad}”，只允许字母、数字、-和_"),
        ));
    }
    Ok(())
}

code!(
    /// A medical insurance administrative division (医保区划, `admdvs`): six digits, e.g. `330100`.
    Admdvs, "region code", |text| digits(6)(text)
);

impl Admdvs {
    /// The province part, `33` for `330100`.
    pub fn province(&self) -> &str {
        &self.0[..2]
    }
}

code!(
    /// A designated institution's national code (定点医药机构编号), e.g. `H33010000001`.
    InstitutionCode, "institution code", |text| token(text, 1, 30)
);

code!(
    /// An insured person's number (人员编号, `psn_no`), issued by yibao.
    PersonNo, "person number", |text| token(text, 1, 30)
);

code!(
    /// A medical insurance card's number (社会保障卡卡号), e.g. `A10000001`.
    CardNo, "card number", |text| token(text, 1, 20)
);

code!(
    /// A card's identification code (卡识别码, `card_sn`), checked with the card number.
    CardSn, "card identification code", |text| token(text, 1, 32)
);

code!(
    /// A visit (就诊) id, `mdtrt_id`: the key of an outpatient visit, an admission or a purchase.
    MdtrtId, "visit id", |text| token(text, 1, 30)
);

code!(
    /// A settlement id, `setl_id`.
    SetlId, "settlement id", |text| token(text, 1, 30)
);

code!(
    /// A message id, `msgid`: the sender's unique id of a message and its idempotency key.
    MsgId, "message id", |text| token(text, 1, 64)
);

code!(
    /// A card-issuing (custody) bank, e.g. `BOC`.
    BankCode, "bank code", |text| token(text, 1, 20)
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!("330100".parse::<Admdvs>().unwrap().province(), "33");
        assert_eq!(
            "33010".parse::<Admdvs>().unwrap_err().to_string(),
            "invalid region code: \"33010\" is not 6 digits"
        );
        assert!("H33010000001".parse::<InstitutionCode>().is_ok());
        assert_eq!("".parse::<PersonNo>().unwrap_err().problem(), "is empty");
        assert_eq!(
            "A 1".parse::<CardNo>().unwrap_err().problem(),
            "\"A 1\" contains ' '; only letters, digits, '-' and '_' are allowed"
        );
    }
}

//! The resident identity number (居民身份号码) of GB 11643-1999.
//!
//! 18 characters: a 6-digit address code, an 8-digit birth date, a 3-digit sequence (odd for
//! men, even for women) and an ISO 7064 MOD 11-2 check character (`0`–`9` or `X`).

use std::fmt;
use std::str::FromStr;

use crate::{Date, ParseError};

/// A valid 18-character ID number. `Display` and `Debug` mask it (`330102********1236`);
/// the full value needs an explicit [`IdNumber::expose`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber {
    text: String,
}

/// Sex as encoded in the ID number's sequence digit. The national code (`gend`) is 1 / 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// GB/T 2261.1 code used in `gend`: `1` male, `2` female.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
        }
    }
}

/// Province-level prefixes of GB/T 2260 address codes, plus 81–83 used for Hong Kong, Macao
/// and Taiwan residents' residence permits.
const PROVINCE_PREFIXES: [&str; 35] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44",
    "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83",
];

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARACTERS: &[u8; 11] = b"10X98765432";

impl IdNumber {
    /// The ISO 7064 MOD 11-2 check character for the first 17 digits.
    ///
    /// # Panics
    /// When `first_17` is not 17 ASCII digits (callers check first).
    pub fn check_character(first_17: &str) -> char {
        assert!(first_17.len() == 17 && first_17.bytes().all(|b| b.is_ascii_digit()));
        let sum: u32 = first_17.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
        char::from(CHECK_CHARACTERS[(sum % 11) as usize])
    }

    /// The whole number, unmasked. Use only where a privileged reader asked for it.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// `330102********1236`: the address code and the last four characters.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.text[..6], &self.text[14..])
    }

    /// Whether `presented` names this number: the number itself (an `x` check character in
    /// either case), or a mask of it such as [`IdNumber::masked`] gives, where every visible
    /// character matches and at least the address code and the last four are visible. HIS
    /// clients copy 1101's `certno` into later messages, masked or not.
    pub fn is_presented_by(&self, presented: &str) -> bool {
        let presented = presented.trim();
        if presented.eq_ignore_ascii_case(&self.text) {
            return true;
        }
        let bytes = presented.as_bytes();
        bytes.len() == 18
            && bytes.contains(&b'*')
            && !bytes[..6].contains(&b'*')
            && !bytes[14..].contains(&b'*')
            && bytes
                .iter()
                .zip(self.text.as_bytes())
                .all(|(given, own)| *given == b'*' || given.eq_ignore_ascii_case(own))
    }

    /// The 6-digit address code of the place of first registration.
    pub fn address_code(&self) -> &str {
        &self.text[..6]
    }

    pub fn birth_date(&self) -> Date {
        Date::parse_compact(&self.text[6..14]).expect("checked when parsed")
    }

    pub fn sex(&self) -> Sex {
        match (self.text.as_bytes()[16] - b'0') % 2 {
            1 => Sex::Male,
            _ => Sex::Female,
        }
    }

    /// The seeds' initial web password: the ID number's characters 12 to 17 (1-based).
    pub fn initial_password(&self) -> &str {
        &self.text[11..17]
    }
}

impl FromStr for IdNumber {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<IdNumber, ParseError> {
        let error = |problem: String, zh: String| ParseError::bilingual("ID number", problem, zh);
        let count = text.chars().count();
        if count != 18 {
            return Err(error(format!("has {count} characters, expected 18"), format!("长度为{count}位，应为18位")));
        }
        let text = text.to_ascii_uppercase();
        // Characters, not bytes: the first 17 must be digits before the text is cut.
        if let Some((position, bad)) = text.chars().take(17).enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(error(
                format!("character {} is {bad:?}, expected a digit", position + 1),
                format!("第{}位“{bad}”不是数字", position + 1),
            ));
        }
        let (first_17, last) = text.split_at(17);
        if !PROVINCE_PREFIXES.contains(&&first_17[..2]) {
            return Err(error(
                format!("address code {} does not start with a province code", &first_17[..6]),
                format!("地址码{}不是有效的省级区划代码开头", &first_17[..6]),
            ));
        }
        let birth = &first_17[6..14];
        Date::parse_compact(birth).map_err(|e| {
            error(format!("birth date {birth} is impossible: {}", e.problem()), format!("出生日期{birth}不存在"))
        })?;
        let expected = IdNumber::check_character(first_17);
        let actual = last.chars().next().expect("18 characters");
        if actual != expected {
            return Err(error(
                format!("check character is {actual}, expected {expected}"),
                format!("校验码错误：应为{expected}，实为{actual}"),
            ));
        }
        Ok(IdNumber { text })
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEMO: [&str; 6] = [
        "330102198503121236",
        "330106195207082342",
        "330105199001013458",
        "330106200106154566",
        "330203197811205674",
        "330106199505056781",
    ];

    #[test]
    fn demo_numbers_are_valid() {
        for text in DEMO {
            let id: IdNumber = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(id.expose(), text);
        }
    }

    #[test]
    fn exposes_birth_date_sex_and_masks() {
        let id: IdNumber = "330102198503121236".parse().unwrap();
        assert_eq!(id.birth_date().to_string(), "1985-03-12");
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.to_string(), "330102********1236");
        assert_eq!(format!("{id:?}"), "IdNumber(330102********1236)");
        assert_eq!(id.initial_password(), "312123");
        let id: IdNumber = "330106195207082342".parse().unwrap();
        assert_eq!(id.sex(), Sex::Female);
    }

    #[test]
    fn a_number_is_presented_whole_or_masked_but_not_by_another() {
        let id: IdNumber = "330106199505056781".parse().unwrap();
        let text = id.expose().to_string();
        assert!(id.is_presented_by(&text));
        assert!(id.is_presented_by(&text.to_ascii_lowercase()));
        assert!(id.is_presented_by(&id.masked()));
        assert!(id.is_presented_by(&format!("{}****{}", &text[..10], &text[14..])), "a mask hiding less");
        assert!(!id.is_presented_by(&format!("{}**********{}", &text[..6], &text[16..])), "or more than the mask");
        assert!(!id.is_presented_by("02"), "the certificate type copied into the number");
        assert!(!id.is_presented_by("330102********1236"), "another person's mask");
        assert!(!id.is_presented_by("******************"), "a mask hides the address code and the last four");
        assert!(!id.is_presented_by(&format!("{}********{}", &text[..6], "0000")));
    }

    #[test]
    fn eighteen_characters_with_wide_ones_are_refused_not_cut_mid_character() {
        // Found by the fuzzer: 18 characters, more than 18 bytes.
        for text in ["11010\u{7f}5199491115Յ0", "3301021985031212Յ6", "33010219850312123Յ", "三30102198503121236"] {
            assert_eq!(text.chars().count(), 18);
            assert!(text.parse::<IdNumber>().is_err(), "{text}");
        }
    }

    #[test]
    fn names_the_problem() {
        for (text, problem) in [
            ("330102198503121237", "check character is 7, expected 6"),
            ("33010219850312123", "has 17 characters, expected 18"),
            ("3301021985031212366", "has 19 characters, expected 18"),
            ("330102198502301236", "birth date 19850230 is impossible: 1985-02-30 does not exist"),
            ("33010A198503121236", "character 6 is 'A', expected a digit"),
            ("990102198503121236", "address code 990102 does not start with a province code"),
        ] {
            assert_eq!(text.parse::<IdNumber>().unwrap_err().problem(), problem, "{text}");
        }
    }

    #[test]
    fn lowercase_x_is_accepted() {
        let first_17 = "11010519491231002";
        assert_eq!(IdNumber::check_character(first_17), 'X');
        let id: IdNumber = format!("{first_17}x").parse().unwrap();
        assert_eq!(id.expose(), "11010519491231002X");
    }

    proptest! {
        #[test]
        fn generated_numbers_round_trip(
            region in 110000u32..660000, days in 0i64..40_000, sequence in 0u32..1000
        ) {
            let birth = Date::new(1920, 1, 1).unwrap().plus_days(days);
            let first_17 = format!("{region:06}{:04}{:02}{:02}{sequence:03}", birth.year(), birth.month(), birth.day());
            let text = format!("{first_17}{}", IdNumber::check_character(&first_17));
            match text.parse::<IdNumber>() {
                Ok(id) => {
                    prop_assert_eq!(id.expose(), text.as_str());
                    prop_assert_eq!(id.birth_date(), birth);
                }
                Err(error) => prop_assert!(error.problem().contains("province"), "{}", error),
            }
        }

        #[test]
        fn a_changed_digit_is_caught(position in 0usize..17, delta in 1u8..10) {
            let mut bytes = DEMO[0].as_bytes().to_vec();
            bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
            let text = String::from_utf8(bytes).unwrap();
            prop_assert!(text.parse::<IdNumber>().is_err());
        }
    }
}

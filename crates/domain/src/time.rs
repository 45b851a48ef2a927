//! Civil dates and times in China Standard Time (UTC+8, no daylight saving since 1991).
//!
//! The national interface exchanges local wall-clock times (`2021-09-24 08:28:27`); so do we.
//! These types are plain values; reading the clock is the caller's job (`DateTime::from_unix`).

use std::fmt;
use std::str::FromStr;

use crate::ParseError;

/// A calendar date between 1900-01-01 and 9999-12-31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    pub const MIN_YEAR: u16 = 1900;
    pub const MAX_YEAR: u16 = 9999;
    /// The far end of an open-ended validity range.
    pub const FOREVER: Date = Date { year: 9999, month: 12, day: 31 };

    /// # Errors
    /// When the year is outside 1900..=9999 or the day does not exist in that month.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Date, ParseError> {
        if !(Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year) {
            return Err(ParseError::bilingual(
                "date",
                format!("year {year} is outside 1900..9999"),
                format!("年份{year}超出1900至9999"),
            ));
        }
        if !(1..=12).contains(&month) {
            return Err(ParseError::bilingual(
                "date",
                format!("month {month} does not exist"),
                format!("月份{month}不存在"),
            ));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(ParseError::bilingual(
                "date",
                format!("{year:04}-{month:02}-{day:02} does not exist"),
                format!("日期{year:04}-{month:02}-{day:02}不存在"),
            ));
        }
        Ok(Date { year, month, day })
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    pub fn year_month(self) -> Month {
        Month { year: self.year, month: self.month }
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` days after 1970-01-01, clamped to the supported range.
    pub fn from_days_since_epoch(days: i64) -> Date {
        let days = days + 719_468;
        let era = days.div_euclid(146_097);
        let day_of_era = days - era * 146_097;
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_index + 2) / 5 + 1;
        let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        if year < i64::from(Self::MIN_YEAR) {
            return Date { year: Self::MIN_YEAR, month: 1, day: 1 };
        }
        if year > i64::from(Self::MAX_YEAR) {
            return Self::FOREVER;
        }
        Date { year: year as u16, month: month as u8, day: day as u8 }
    }

    #[must_use]
    pub fn plus_days(self, days: i64) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + days)
    }

    /// Whether the day is a Saturday or a Sunday.
    pub fn is_weekend(self) -> bool {
        // 1970-01-01 was a Thursday: Monday is 0.
        (self.days_since_epoch() + 3).rem_euclid(7) >= 5
    }

    /// The day `days` working days (Monday to Friday) after `self`. Public holidays and the
    /// weekends worked in their place are not known here: a deadline over a holiday is early.
    #[must_use]
    pub fn plus_working_days(self, days: u32) -> Date {
        let mut day = self;
        let mut left = days;
        while left > 0 {
            day = day.plus_days(1);
            if !day.is_weekend() {
                left -= 1;
            }
        }
        day
    }

    /// Whole years from `self` to `on` (an age when `self` is a birth date).
    pub fn years_until(self, on: Date) -> u16 {
        let mut years = on.year.saturating_sub(self.year);
        if (on.month, on.day) < (self.month, self.day) {
            years = years.saturating_sub(1);
        }
        years
    }

    /// Parses `yyyyMMdd` (eight digits), as inside an ID number.
    ///
    /// # Errors
    /// When the text is not eight digits or not a real date.
    pub fn parse_compact(text: &str) -> Result<Date, ParseError> {
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::bilingual(
                "date",
                format!("{text:?} is not eight digits yyyyMMdd"),
                format!("{text}不是8位yyyyMMdd日期"),
            ));
        }
        Date::new(number(&text[0..4]), number(&text[4..6]) as u8, number(&text[6..8]) as u8)
    }
}

fn number(digits: &str) -> u16 {
    digits.bytes().fold(0u16, |value, b| value * 10 + u16::from(b - b'0'))
}

fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl FromStr for Date {
    type Err = ParseError;

    /// Parses `yyyy-MM-dd`, also accepting a trailing time (`yyyy-MM-dd HH:mm:ss`), whose
    /// time part is then ignored, because HIS clients send either in date fields.
    fn from_str(text: &str) -> Result<Date, ParseError> {
        let date = text.get(..10).unwrap_or(text);
        let bytes = date.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && [0, 1, 2, 3, 5, 6, 8, 9].iter().all(|&i| bytes[i].is_ascii_digit());
        if !shape_ok || (text.len() > 10 && text.parse::<DateTime>().is_err()) {
            return Err(ParseError::bilingual(
                "date",
                format!("{text:?} is not yyyy-MM-dd"),
                format!("{text}不是yyyy-MM-dd格式的日期"),
            ));
        }
        Date::new(number(&date[0..4]), number(&date[5..7]) as u8, number(&date[8..10]) as u8)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A calendar month, `yyyy-MM` (allocation periods, `cum_ym`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: u16,
    month: u8,
}

impl Month {
    /// # Errors
    /// When the month is not 1..=12 or the year is out of range.
    pub fn new(year: u16, month: u8) -> Result<Month, ParseError> {
        Date::new(year, month, 1).map(Date::year_month)
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn first_day(self) -> Date {
        Date { year: self.year, month: self.month, day: 1 }
    }

    pub fn last_day(self) -> Date {
        Date { year: self.year, month: self.month, day: days_in_month(self.year, self.month) }
    }

    /// The month before (January's is the previous December).
    pub fn previous(self) -> Month {
        self.first_day().plus_days(-1).year_month()
    }

    /// The month after.
    pub fn next(self) -> Month {
        self.last_day().plus_days(1).year_month()
    }
}

impl FromStr for Month {
    type Err = ParseError;

    /// Parses `yyyy-MM` or `yyyyMM`.
    fn from_str(text: &str) -> Result<Month, ParseError> {
        let digits: String = text.chars().filter(|&c| c != '-').collect();
        let dashes_ok = text.len() == 6 || (text.len() == 7 && text.as_bytes()[4] == b'-');
        if !dashes_ok || digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::bilingual(
                "month",
                format!("{text:?} is not yyyy-MM"),
                format!("{text}不是yyyy-MM格式的年月"),
            ));
        }
        Month::new(number(&digits[0..4]), number(&digits[4..6]) as u8)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A wall-clock time in China Standard Time, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    date: Date,
    seconds_of_day: u32,
}

impl DateTime {
    const SECONDS_PER_DAY: i64 = 86_400;
    /// China Standard Time is UTC+8.
    const OFFSET_SECONDS: i64 = 8 * 3600;

    /// # Errors
    /// When the hour, minute or second is out of range.
    pub fn new(date: Date, hour: u8, minute: u8, second: u8) -> Result<DateTime, ParseError> {
        if hour > 23 || minute > 59 || second > 59 {
            return Err(ParseError::bilingual(
                "time",
                format!("{hour:02}:{minute:02}:{second:02} does not exist"),
                format!("时间{hour:02}:{minute:02}:{second:02}不存在"),
            ));
        }
        let seconds_of_day = u32::from(hour) * 3600 + u32::from(minute) * 60 + u32::from(second);
        Ok(DateTime { date, seconds_of_day })
    }

    pub fn start_of(date: Date) -> DateTime {
        DateTime { date, seconds_of_day: 0 }
    }

    /// The local time of a Unix timestamp (seconds since 1970-01-01T00:00:00Z).
    pub fn from_unix(seconds: i64) -> DateTime {
        let local = seconds + Self::OFFSET_SECONDS;
        let date = Date::from_days_since_epoch(local.div_euclid(Self::SECONDS_PER_DAY));
        DateTime { date, seconds_of_day: local.rem_euclid(Self::SECONDS_PER_DAY) as u32 }
    }

    pub fn unix(self) -> i64 {
        self.date.days_since_epoch() * Self::SECONDS_PER_DAY + i64::from(self.seconds_of_day) - Self::OFFSET_SECONDS
    }

    pub fn date(self) -> Date {
        self.date
    }

    pub fn hour(self) -> u8 {
        (self.seconds_of_day / 3600) as u8
    }

    pub fn minute(self) -> u8 {
        (self.seconds_of_day / 60 % 60) as u8
    }

    pub fn second(self) -> u8 {
        (self.seconds_of_day % 60) as u8
    }

    #[must_use]
    pub fn plus_seconds(self, seconds: i64) -> DateTime {
        DateTime::from_unix(self.unix() + seconds)
    }

    /// `yyyyMMddHHmmss`, as inside message ids.
    pub fn compact(self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.date.year,
            self.date.month,
            self.date.day,
            self.hour(),
            self.minute(),
            self.second()
        )
    }
}

impl FromStr for DateTime {
    type Err = ParseError;

    /// Parses `yyyy-MM-dd HH:mm:ss` (also with `T`), or a bare `yyyy-MM-dd` as its midnight.
    fn from_str(text: &str) -> Result<DateTime, ParseError> {
        let invalid = || {
            ParseError::bilingual(
                "time",
                format!("{text:?} is not yyyy-MM-dd HH:mm:ss"),
                format!("{text}不是yyyy-MM-dd HH:mm:ss格式的时间"),
            )
        };
        if text.len() == 10 {
            return text.parse::<Date>().map(DateTime::start_of).map_err(|_| invalid());
        }
        let bytes = text.as_bytes();
        if bytes.len() != 19 || !(bytes[10] == b' ' || bytes[10] == b'T') || bytes[13] != b':' || bytes[16] != b':' {
            return Err(invalid());
        }
        if ![11, 12, 14, 15, 17, 18].iter().all(|&i| bytes[i].is_ascii_digit()) {
            return Err(invalid());
        }
        let date: Date =
            text[..10].parse().map_err(|error: ParseError| match error.problem().contains("does not exist") {
                true => error,
                false => invalid(),
            })?;
        DateTime::new(date, number(&text[11..13]) as u8, number(&text[14..16]) as u8, number(&text[17..19]) as u8)
    }
}

impl fmt::Display for DateTime {
    /// `yyyy-MM-dd HH:mm:ss`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:02}:{:02}:{:02}", self.date, self.hour(), self.minute(), self.second())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn working_days_skip_weekends() {
        let day = |text: &str| text.parse::<Date>().unwrap();
        // 2026-12-04 is a Friday.
        assert!(!day("2026-12-04").is_weekend());
        assert!(day("2026-12-05").is_weekend() && day("2026-12-06").is_weekend());
        assert_eq!(day("2026-12-04").plus_working_days(1), day("2026-12-07"));
        assert_eq!(day("2026-12-05").plus_working_days(1), day("2026-12-07"));
        assert_eq!(day("2026-12-01").plus_working_days(0), day("2026-12-01"));
        // 45 working days are nine weeks.
        assert_eq!(day("2026-12-01").plus_working_days(45), day("2026-12-01").plus_days(63));
    }

    #[test]
    fn dates() {
        assert_eq!("2024-02-29".parse::<Date>().unwrap().to_string(), "2024-02-29");
        assert_eq!("2023-02-29".parse::<Date>().unwrap_err().problem(), "2023-02-29 does not exist");
        assert_eq!("2021-11-29 18:09:52".parse::<Date>().unwrap().to_string(), "2021-11-29");
        assert_eq!(Date::parse_compact("19850312").unwrap().to_string(), "1985-03-12");
        assert_eq!(Date::new(1985, 3, 12).unwrap().years_until(Date::new(2026, 3, 11).unwrap()), 40);
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
    }

    #[test]
    fn times() {
        let time: DateTime = "2021-09-24 08:28:27".parse().unwrap();
        assert_eq!(time.to_string(), "2021-09-24 08:28:27");
        assert_eq!(time.compact(), "20210924082827");
        assert_eq!(DateTime::from_unix(time.unix()), time);
        assert_eq!(DateTime::from_unix(0).to_string(), "1970-01-01 08:00:00");
        assert!("2021-09-24 24:00:00".parse::<DateTime>().is_err());
        assert!("2021-09-24 08:28".parse::<DateTime>().is_err());
        assert_eq!("2021-09-24".parse::<DateTime>().unwrap().to_string(), "2021-09-24 00:00:00");
        assert_eq!("2026-11".parse::<Month>().unwrap().last_day().to_string(), "2026-11-30");
        assert_eq!("202402".parse::<Month>().unwrap().last_day().to_string(), "2024-02-29");
    }

    proptest! {
        #[test]
        fn days_round_trip(days in -25_000i64..2_900_000) {
            let date = Date::from_days_since_epoch(days);
            prop_assert_eq!(date.days_since_epoch(), days);
            prop_assert_eq!(date.to_string().parse::<Date>(), Ok(date));
        }
    }
}

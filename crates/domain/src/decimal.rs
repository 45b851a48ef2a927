//! Exact fixed-point numbers from decimal text: ratios, quantities and unit prices.
//!
//! The national interface carries amounts as JSON numbers such as `4.52` or `0.05`. We never
//! let them pass through binary floating point: the text is parsed digit by digit into an
//! integer at a fixed scale. [`parse_fixed`] is shared by [`crate::Money`] and the types here.

use std::fmt;
use std::str::FromStr;

use crate::ParseError;

/// Parses decimal text (`-12.345`) into an integer scaled by `10^scale`.
///
/// Digits beyond `scale` are accepted only when they are zeros (`4.520` is 4.52 at scale 2).
/// No exponent, no `+`, no spaces, no leading or trailing dot; `|value| <= max_abs`.
pub(crate) fn parse_fixed(text: &str, scale: u32, max_abs: i128, what: &'static str) -> Result<i128, ParseError> {
    if text.is_empty() {
        return Err(ParseError::bilingual(what, "empty text", "不能为空"));
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    if whole.is_empty() || fraction.is_some_and(str::is_empty) {
        return Err(ParseError::bilingual(
            what,
            format!("{text:?} is not a decimal number"),
            format!("{text}不是合法的数值"),
        ));
    }
    if let Some(bad) = whole.chars().chain(fraction.unwrap_or("").chars()).find(|c| !c.is_ascii_digit()) {
        let (problem, problem_zh) = if bad == 'e' || bad == 'E' {
            (
                format!("{text:?} uses exponent notation; write the digits out"),
                format!("{text}使用了科学计数法，请直接写出数字"),
            )
        } else {
            (format!("{text:?} contains {bad:?}, which is not a digit"), format!("{text}含有非数字字符“{bad}”"))
        };
        return Err(ParseError::bilingual(what, problem, problem_zh));
    }
    let fraction = fraction.unwrap_or("");
    let (kept, dropped) = fraction.split_at(fraction.len().min(scale as usize));
    if dropped.bytes().any(|b| b != b'0') {
        let problem = match scale {
            0 => format!("{text} must be a whole number"),
            1 => format!("{text} has more than one decimal"),
            _ => format!("{text} has more than {} decimals", number_word(scale)),
        };
        return Err(ParseError::bilingual(what, problem, format!("{text}的小数位数超过{scale}位")));
    }
    let too_large = || ParseError::bilingual(what, format!("{text} is too large"), format!("{text}超出允许范围"));
    if whole.trim_start_matches('0').len() > 24 {
        return Err(too_large());
    }
    let mut value: i128 = 0;
    for b in whole.bytes().chain(kept.bytes()) {
        value = value * 10 + i128::from(b - b'0');
    }
    for _ in kept.len()..scale as usize {
        value *= 10;
    }
    if value > max_abs {
        return Err(too_large());
    }
    Ok(if negative { -value } else { value })
}

fn number_word(n: u32) -> String {
    match n {
        2 => "two".to_string(),
        4 => "four".to_string(),
        6 => "six".to_string(),
        _ => n.to_string(),
    }
}

/// Writes `value / 10^scale` with exactly `scale` decimals, e.g. `-2510, 2` → `-25.10`.
pub(crate) fn write_fixed(f: &mut fmt::Formatter<'_>, value: i128, scale: u32) -> fmt::Result {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let unit = 10u128.pow(scale);
    if scale == 0 {
        return write!(f, "{sign}{magnitude}");
    }
    write!(f, "{sign}{}.{:0width$}", magnitude / unit, magnitude % unit, width = scale as usize)
}

/// Writes like [`write_fixed`] but drops trailing zeros of the fraction (`0.1000` → `0.1`).
pub(crate) fn write_fixed_trimmed(f: &mut fmt::Formatter<'_>, value: i128, scale: u32) -> fmt::Result {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let unit = 10u128.pow(scale);
    let whole = magnitude / unit;
    let fraction = format!("{:0width$}", magnitude % unit, width = scale as usize);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() { write!(f, "{sign}{whole}") } else { write!(f, "{sign}{whole}.{fraction}") }
}

/// Divides and rounds half away from zero (四舍五入), the rounding of every computed amount.
pub(crate) fn div_round_half_away(numerator: i128, denominator: i128) -> i128 {
    assert!(denominator > 0, "denominator must be positive");
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator { quotient + numerator.signum() } else { quotient }
}

/// A proportion between 0 and 1 in basis points (1/10 000): a fund share, a self-pay ratio.
///
/// Parsed from decimal text with at most four decimals (`"0.85"`, `"0.1"`) or built from
/// basis points; never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ratio {
    basis_points: u16,
}

impl Ratio {
    /// 1/10 000 of the whole.
    pub const BASIS_POINTS_WHOLE: u16 = 10_000;
    pub const ZERO: Ratio = Ratio { basis_points: 0 };
    pub const ONE: Ratio = Ratio { basis_points: Self::BASIS_POINTS_WHOLE };

    /// # Errors
    /// When `basis_points` exceeds 10 000.
    pub fn from_basis_points(basis_points: u16) -> Result<Ratio, ParseError> {
        if basis_points > Self::BASIS_POINTS_WHOLE {
            return Err(ParseError::new("ratio", format!("{basis_points} basis points exceed 10000 (100%)")));
        }
        Ok(Ratio { basis_points })
    }

    /// Whole percentage points, e.g. `Ratio::percent(85)`.
    ///
    /// # Panics
    /// When `percent > 100` (a programming error: literals only).
    pub const fn percent(percent: u16) -> Ratio {
        assert!(percent <= 100, "a ratio is at most 100%");
        Ratio { basis_points: percent * 100 }
    }

    pub fn basis_points(self) -> u16 {
        self.basis_points
    }

    /// The complement `1 - self`.
    pub fn complement(self) -> Ratio {
        Ratio { basis_points: Self::BASIS_POINTS_WHOLE - self.basis_points }
    }

    /// `self + points`, capped at 100%.
    pub fn saturating_add(self, other: Ratio) -> Ratio {
        Ratio { basis_points: (self.basis_points + other.basis_points).min(Self::BASIS_POINTS_WHOLE) }
    }

    /// `self * factor`, rounded half away from zero to a basis point.
    pub fn times(self, factor: Ratio) -> Ratio {
        let product = div_round_half_away(
            i128::from(self.basis_points) * i128::from(factor.basis_points),
            i128::from(Self::BASIS_POINTS_WHOLE),
        );
        Ratio { basis_points: u16::try_from(product).expect("product of two ratios is a ratio") }
    }
}

impl FromStr for Ratio {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Ratio, ParseError> {
        let value = parse_fixed(text, 4, i128::from(Self::BASIS_POINTS_WHOLE), "ratio").map_err(|error| match error
            .problem()
            .ends_with("is too large")
        {
            true => ParseError::bilingual("ratio", format!("{text} is more than 1"), format!("{text}大于1")),
            false => error,
        })?;
        if value < 0 {
            return Err(ParseError::bilingual("ratio", format!("{text} is negative"), format!("{text}不能为负数")));
        }
        Ok(Ratio { basis_points: u16::try_from(value).expect("bounded by max_abs") })
    }
}

impl fmt::Display for Ratio {
    /// Decimal form without trailing zeros: `0.85`, `0.1`, `0`, `1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed_trimmed(f, i128::from(self.basis_points), 4)
    }
}

/// A count of units on a bill line (`cnt`): up to four decimals, negative for a refund line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity {
    ten_thousandths: i64,
}

impl Quantity {
    const SCALE: u32 = 4;
    /// The largest count on one line: ten million units.
    pub const MAX_ABS: i64 = 10_000_000 * 10_000;

    pub fn from_ten_thousandths(ten_thousandths: i64) -> Quantity {
        assert!(ten_thousandths.abs() <= Self::MAX_ABS, "quantity out of range");
        Quantity { ten_thousandths }
    }

    pub fn whole(units: i64) -> Quantity {
        Quantity::from_ten_thousandths(units * 10_000)
    }

    pub fn ten_thousandths(self) -> i64 {
        self.ten_thousandths
    }

    pub fn is_negative(self) -> bool {
        self.ten_thousandths < 0
    }

    pub fn is_zero(self) -> bool {
        self.ten_thousandths == 0
    }

    #[must_use]
    pub fn abs(self) -> Quantity {
        Quantity { ten_thousandths: self.ten_thousandths.abs() }
    }
}

impl FromStr for Quantity {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Quantity, ParseError> {
        let value = parse_fixed(text, Self::SCALE, i128::from(Self::MAX_ABS), "quantity")?;
        Ok(Quantity { ten_thousandths: i64::try_from(value).expect("bounded by max_abs") })
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed_trimmed(f, i128::from(self.ten_thousandths), Self::SCALE)
    }
}

/// A unit price in yuan with up to six decimals (`pric`, `pric_uplmt_amt`); never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitPrice {
    micro_yuan: i64,
}

impl UnitPrice {
    const SCALE: u32 = 6;
    /// The dearest unit: one hundred million yuan.
    pub const MAX: i64 = 100_000_000 * 1_000_000;

    pub fn from_micro_yuan(micro_yuan: i64) -> UnitPrice {
        assert!((0..=Self::MAX).contains(&micro_yuan), "unit price out of range");
        UnitPrice { micro_yuan }
    }

    pub fn from_money(money: crate::Money) -> UnitPrice {
        UnitPrice::from_micro_yuan(money.fen() * 10_000)
    }

    pub fn micro_yuan(self) -> i64 {
        self.micro_yuan
    }

    /// `self × quantity`, rounded half away from zero to the fen.
    pub fn times(self, quantity: Quantity) -> crate::Money {
        let ten_billionths = i128::from(self.micro_yuan) * i128::from(quantity.ten_thousandths);
        let fen = div_round_half_away(ten_billionths, 100_000_000);
        crate::Money::from_fen(i64::try_from(fen).expect("bounded by price and quantity limits"))
    }
}

impl FromStr for UnitPrice {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<UnitPrice, ParseError> {
        let value = parse_fixed(text, Self::SCALE, i128::from(Self::MAX), "unit price")?;
        if value < 0 {
            return Err(ParseError::bilingual(
                "unit price",
                format!("{text} is negative"),
                format!("单价{text}不能为负数"),
            ));
        }
        Ok(UnitPrice { micro_yuan: i64::try_from(value).expect("bounded by max_abs") })
    }
}

impl fmt::Display for UnitPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed_trimmed(f, i128::from(self.micro_yuan), Self::SCALE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_parsing() {
        assert_eq!(parse_fixed("4.52", 2, i128::MAX, "x"), Ok(452));
        assert_eq!(parse_fixed("4.520", 2, i128::MAX, "x"), Ok(452));
        assert_eq!(parse_fixed("-0.5", 2, i128::MAX, "x"), Ok(-50));
        assert_eq!(parse_fixed("007", 2, i128::MAX, "x"), Ok(700));
        for (text, problem) in [
            ("", "empty text"),
            ("4.525", "4.525 has more than two decimals"),
            (".5", "\".5\" is not a decimal number"),
            ("5.", "\"5.\" is not a decimal number"),
            ("1e2", "\"1e2\" uses exponent notation; write the digits out"),
            ("+1", "\"+1\" contains '+', which is not a digit"),
            ("1 ", "\"1 \" contains ' ', which is not a digit"),
        ] {
            assert_eq!(parse_fixed(text, 2, i128::MAX, "x").unwrap_err().problem(), problem, "{text}");
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round_half_away(226, 100), 2);
        assert_eq!(div_round_half_away(250, 100), 3);
        assert_eq!(div_round_half_away(-250, 100), -3);
        assert_eq!(div_round_half_away(-249, 100), -2);
    }

    #[test]
    fn ratios() {
        assert_eq!("0.05".parse::<Ratio>().unwrap().basis_points(), 500);
        assert_eq!("1".parse::<Ratio>().unwrap(), Ratio::ONE);
        assert_eq!("1.5".parse::<Ratio>().unwrap_err().problem(), "1.5 is more than 1");
        assert_eq!("-0.1".parse::<Ratio>().unwrap_err().problem(), "-0.1 is negative");
        assert_eq!(Ratio::percent(85).to_string(), "0.85");
        assert_eq!(Ratio::percent(85).complement().to_string(), "0.15");
        assert_eq!(Ratio::percent(85).saturating_add(Ratio::percent(5)), Ratio::percent(90));
    }

    #[test]
    fn price_times_quantity_rounds_to_the_fen() {
        let price: UnitPrice = "4.52".parse().unwrap();
        assert_eq!(price.times("1".parse().unwrap()).fen(), 452);
        let price: UnitPrice = "0.333333".parse().unwrap();
        assert_eq!(price.times("3".parse().unwrap()).fen(), 100);
        assert_eq!(price.times("-3".parse().unwrap()).fen(), -100);
        assert_eq!("2.5".parse::<Quantity>().unwrap().to_string(), "2.5");
    }
}

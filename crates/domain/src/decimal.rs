//! Exact fixed-point numbers from decimal text: ratios, quantities and unit prices.
//!
//! The national interface carries amounts as JSON numbers such as `4.52` or `0.05`. We never
//! let them pass through binary floating point: the text is parsed digit by digit into an
//! integer at a fixed scale by [`crate::fixed`], which [`crate::Money`] shares. What a ratio or a
//! quantity makes of money is written beside [`crate::Money`].

use std::fmt;
use std::str::FromStr;

use crate::ParseError;
use crate::fixed::{div_round_half_away, parse_fixed, write_fixed_trimmed};

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

    pub fn micro_yuan(self) -> i64 {
        self.micro_yuan
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

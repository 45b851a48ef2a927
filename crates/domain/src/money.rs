//! Money: a signed whole number of fen (分, 0.01 yuan). Never floating point.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use crate::fixed::{div_round_half_away, parse_fixed, write_fixed};
use crate::{ParseError, Quantity, Ratio, UnitPrice};

/// An amount of money in fen. Negative amounts appear in cancellations and refunds.
///
/// Parsed exactly from yuan text (`"4.52"` → 452 fen); more than two (non-zero) decimals and
/// amounts beyond [`Money::MAX_ABS`] are refused. Arithmetic panics on overflow, which the
/// bound makes impossible for any sum of fewer than 900 000 parsed amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);
    /// The largest amount accepted from outside: ten trillion yuan (10^13 yuan, 10^15 fen).
    pub const MAX_ABS: Money = Money(1_000_000_000_000_000);

    pub const fn from_fen(fen: i64) -> Money {
        Money(fen)
    }

    /// Whole yuan, for literals and tests: `Money::yuan(800)`.
    pub const fn yuan(yuan: i64) -> Money {
        Money(yuan * 100)
    }

    pub const fn fen(self) -> i64 {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    #[must_use]
    pub fn abs(self) -> Money {
        Money(self.0.abs())
    }

    /// `self × ratio`, rounded half away from zero to the fen (四舍五入).
    #[must_use]
    pub fn times(self, ratio: Ratio) -> Money {
        let product = div_round_half_away(
            i128::from(self.0) * i128::from(ratio.basis_points()),
            i128::from(Ratio::BASIS_POINTS_WHOLE),
        );
        Money(i64::try_from(product).expect("a ratio of an amount fits an amount"))
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// `max(self, 0)`.
    #[must_use]
    pub fn clamp_to_zero(self) -> Money {
        Money(self.0.max(0))
    }
}

impl FromStr for Money {
    type Err = ParseError;

    /// Parses yuan text: `"4.52"`, `"-25.1"`, `"170"`, `"4.520"`.
    ///
    /// # Errors
    /// Empty text, anything but digits with one optional leading `-` and one `.`, more than
    /// two decimals that are not zeros, or more than [`Money::MAX_ABS`].
    fn from_str(text: &str) -> Result<Money, ParseError> {
        let fen = parse_fixed(text, 2, i128::from(Money::MAX_ABS.0), "amount")?;
        Ok(Money(i64::try_from(fen).expect("bounded by MAX_ABS")))
    }
}

impl fmt::Display for Money {
    /// Yuan with two decimals: `4.52`, `-25.10`, `0.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(f, i128::from(self.0), 2)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        self.checked_add(other).expect("money overflow")
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        self.checked_sub(other).expect("money overflow")
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, other: Money) {
        *self = *self + other;
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, other: Money) {
        *self = *self - other;
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Money> for Money {
    fn sum<I: Iterator<Item = &'a Money>>(iter: I) -> Money {
        iter.copied().sum()
    }
}

impl UnitPrice {
    pub fn from_money(money: Money) -> UnitPrice {
        UnitPrice::from_micro_yuan(money.fen() * 10_000)
    }

    /// `self × quantity`, rounded half away from zero to the fen.
    pub fn times(self, quantity: Quantity) -> Money {
        let ten_billionths = i128::from(self.micro_yuan()) * i128::from(quantity.ten_thousandths());
        let fen = div_round_half_away(ten_billionths, 100_000_000);
        Money::from_fen(i64::try_from(fen).expect("bounded by price and quantity limits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_yuan_exactly() {
        let cases = [("4.52", 452), ("0.23", 23), ("-25.1", -2510), ("170", 17000), ("0", 0), ("4.520", 452)];
        for (text, fen) in cases {
            assert_eq!(text.parse::<Money>(), Ok(Money::from_fen(fen)), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        for (text, message) in [
            ("1.234", "invalid amount: 1.234 has more than two decimals"),
            ("12345678901234567", "invalid amount: 12345678901234567 is too large"),
            ("99999999999999999999999999999", "invalid amount: 99999999999999999999999999999 is too large"),
            ("abc", "invalid amount: \"abc\" contains 'a', which is not a digit"),
            ("", "invalid amount: empty text"),
            ("1,5", "invalid amount: \"1,5\" contains ',', which is not a digit"),
        ] {
            assert_eq!(text.parse::<Money>().unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn ratio_rounds_half_away_from_zero() {
        assert_eq!(Money::from_fen(452).times("0.05".parse().unwrap()), Money::from_fen(23));
        assert_eq!(Money::yuan(9200).times(Ratio::percent(85)), Money::yuan(7820));
        assert_eq!(Money::from_fen(-452).times("0.05".parse().unwrap()), Money::from_fen(-23));
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(Money::from_fen(-2510).to_string(), "-25.10");
        assert_eq!(Money::from_fen(5).to_string(), "0.05");
        assert_eq!(Money::from_fen(-5).to_string(), "-0.05");
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(fen in -Money::MAX_ABS.fen()..=Money::MAX_ABS.fen()) {
            let money = Money::from_fen(fen);
            prop_assert_eq!(money.to_string().parse::<Money>(), Ok(money));
        }

        #[test]
        fn ratio_split_never_loses_a_fen(fen in -10_000_000_000i64..10_000_000_000, bp in 0u16..=10_000) {
            let money = Money::from_fen(fen);
            let ratio = Ratio::from_basis_points(bp).unwrap();
            let part = money.times(ratio);
            prop_assert!(part.abs() <= money.abs());
            prop_assert_eq!(part + (money - part), money);
        }
    }
}

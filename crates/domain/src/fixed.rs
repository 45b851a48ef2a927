//! Fixed-point text: decimal text parsed digit by digit into an integer at a fixed scale and
//! written back, and the one rounding of computed amounts. Shared by [`crate::Money`] and the
//! decimal types; it imports neither.

use std::fmt;

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

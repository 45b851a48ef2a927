//! Text from outside made fit for a log line.

/// Text from outside made fit for one log line: control characters escaped (no forged lines),
/// and anything shaped like a whole ID number masked (an HIS may put one in any field).
pub fn loggable(text: &str) -> String {
    let masked = mask_id_numbers(text);
    let mut out = String::with_capacity(masked.len().min(512));
    for c in masked.chars().take(500) {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Masks every run of exactly 18 characters (17 digits and a digit or X: an ID number) or
/// exactly 15 digits (an old one), keeping the first six and last four characters. Longer runs
/// (a msgid's time and serial) are not ID numbers and stay readable.
fn mask_id_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < chars.len() {
        let run = chars[index..].iter().take_while(|c| c.is_ascii_digit()).count();
        let with_check = run == 17 && chars.get(index + 17).is_some_and(|c| *c == 'X' || *c == 'x');
        let length = if with_check { 18 } else { run };
        let alone = !chars.get(index + length).is_some_and(char::is_ascii_digit)
            && !index.checked_sub(1).and_then(|before| chars.get(before)).is_some_and(char::is_ascii_digit);
        if (length == 18 || length == 15) && alone {
            let run: String = chars[index..index + length].iter().collect();
            out.push_str(&run[..6]);
            out.push_str(&"*".repeat(length - 10));
            out.push_str(&run[length - 4..]);
            index += length;
        } else if run > 0 {
            out.extend(&chars[index..index + run]);
            index += run;
        } else {
            out.push(chars[index]);
            index += 1;
        }
    }
    out
}

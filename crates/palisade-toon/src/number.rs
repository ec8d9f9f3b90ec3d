//! Canonical number text (spec §2) and numeric-token recognition (spec §4).
//!
//! The encoder writes floats the way ECMAScript's `Number.prototype.toString`
//! does, because the reference encoder is JavaScript and output must be
//! byte-identical: the shortest digits that round-trip, plain decimal for
//! `1e-6 <= |n| < 1e21`, exponent form (`1e-7`, `1.5e+21`) outside it, `-0` as
//! `0`, and no trailing zeros. Integers held as `i64`/`u64` are written exactly.

/// Largest integer an `f64` holds exactly (2^53); integral floats below it are
/// stored and written as integers.
pub(crate) const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Appends the canonical text of a finite float to `out`. Non-finite values
/// must have been mapped to `null` by the caller.
pub(crate) fn write_f64(out: &mut String, value: f64) {
    if value == 0.0 {
        out.push('0');
        return;
    }
    if value.fract() == 0.0 && value.abs() < MAX_SAFE_INTEGER {
        // Exact for |value| < 2^53; the common case for data that went through
        // a float (JSON numbers parsed as f64, f32 fields holding whole numbers).
        let mut buf = itoa::Buffer::new();
        out.push_str(buf.format(value as i64));
        return;
    }
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(value);
    write_js_style(out, text);
}

/// How TOON would write the double nearest to a numeric literal, for error
/// messages: its canonical text, or a note when it is beyond the double range.
pub(crate) fn nearest_double_text(literal: &str) -> String {
    match literal.parse::<f64>() {
        Ok(f) if f.is_finite() => {
            let mut out = String::new();
            write_f64(&mut out, f);
            out
        }
        _ => "beyond the double range".to_owned(),
    }
}

/// Rewrites ryu's shortest representation (`1.5e-7`, `123.45`, `1e21`) in
/// ECMAScript `Number::toString` layout.
fn write_js_style(out: &mut String, ryu_text: &str) {
    let (negative, body) = match ryu_text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, ryu_text),
    };
    let (mantissa, exp) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // Collect significant digits; `point` is the position of the decimal point
    // relative to the start of `digits` (the spec's `n`).
    let mut digits: Vec<u8> = Vec::with_capacity(24);
    digits.extend_from_slice(int_part.as_bytes());
    digits.extend_from_slice(frac_part.as_bytes());
    let mut point = int_part.len() as i32 + exp;
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..leading);
    point -= leading as i32;
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        out.push('0');
        return;
    }
    if negative {
        out.push('-');
    }
    let k = digits.len() as i32;
    let n = point;
    // Digits are ASCII by construction, so pushing them as chars is exact.
    let push_digits = |out: &mut String, ds: &[u8]| {
        for &d in ds {
            out.push(d as char);
        }
    };
    if k <= n && n <= 21 {
        push_digits(out, &digits);
        for _ in 0..(n - k) {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        push_digits(out, &digits[..n as usize]);
        out.push('.');
        push_digits(out, &digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..(-n) {
            out.push('0');
        }
        push_digits(out, &digits);
    } else {
        push_digits(out, &digits[..1]);
        if k > 1 {
            out.push('.');
            push_digits(out, &digits[1..]);
        }
        out.push('e');
        let e = n - 1;
        out.push(if e < 0 { '-' } else { '+' });
        let mut buf = itoa::Buffer::new();
        out.push_str(buf.format(e.unsigned_abs()));
    }
}

/// Does `token` match `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?` — a number the
/// decoder must read as a number rather than a string (§4)? Returns whether it
/// is an integer (no fraction, no exponent) as well.
#[inline]
pub(crate) fn classify_numeric(token: &[u8]) -> Option<bool> {
    let mut i = 0;
    if token.first() == Some(&b'-') {
        i = 1;
    }
    match token.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            i += 1;
            while matches!(token.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        _ => return None,
    }
    let mut integer = true;
    if token.get(i) == Some(&b'.') {
        integer = false;
        i += 1;
        let start = i;
        while matches!(token.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if matches!(token.get(i), Some(b'e' | b'E')) {
        integer = false;
        i += 1;
        if matches!(token.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while matches!(token.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    (i == token.len()).then_some(integer)
}

/// Does `s` look numeric to a reader (`/^[+-]?\d+(\.\d+)?(e[+-]?\d+)?$/i`)?
/// Such strings are quoted by the encoder so they stay strings (§7.2).
#[inline]
pub(crate) fn is_numeric_like(s: &[u8]) -> bool {
    let mut i = 0;
    if matches!(s.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let start = i;
    while matches!(s.get(i), Some(b'0'..=b'9')) {
        i += 1;
    }
    if i == start {
        return false;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while matches!(s.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while matches!(s.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(v: f64) -> String {
        let mut s = String::new();
        write_f64(&mut s, v);
        s
    }

    #[test]
    fn formats_like_ecmascript() {
        assert_eq!(fmt(0.0), "0");
        assert_eq!(fmt(-0.0), "0");
        assert_eq!(fmt(1.5), "1.5");
        assert_eq!(fmt(1e-6), "0.000001");
        assert_eq!(fmt(1.5e-7), "1.5e-7");
        assert_eq!(fmt(1e-7), "1e-7");
        assert_eq!(fmt(1e20), "100000000000000000000");
        assert_eq!(fmt(1e21), "1e+21");
        assert_eq!(fmt(1.2345e21), "1.2345e+21");
        assert_eq!(fmt(123456789012345680000.0), "123456789012345680000");
        assert_eq!(fmt(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(fmt(-3.25), "-3.25");
        assert_eq!(fmt(9007199254740993.0), "9007199254740992");
        assert_eq!(fmt(0.3333333333333333), "0.3333333333333333");
        assert_eq!(fmt(5e-324), "5e-324");
        assert_eq!(fmt(f64::MAX), "1.7976931348623157e+308");
    }

    #[test]
    fn numeric_tokens() {
        assert_eq!(classify_numeric(b"42"), Some(true));
        assert_eq!(classify_numeric(b"-0"), Some(true));
        assert_eq!(classify_numeric(b"0.5"), Some(false));
        assert_eq!(classify_numeric(b"-1E+03"), Some(false));
        assert_eq!(classify_numeric(b"05"), None);
        assert_eq!(classify_numeric(b"+1"), None);
        assert_eq!(classify_numeric(b"1."), None);
        assert_eq!(classify_numeric(b".5"), None);
        assert_eq!(classify_numeric(b"1e"), None);
        assert!(is_numeric_like(b"05"));
        assert!(is_numeric_like(b"+1"));
        assert!(!is_numeric_like(b"1.2.3"));
    }
}

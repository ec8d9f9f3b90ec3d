//! Quoting and escaping: when a string or key must be quoted (§7.2, §7.3), how
//! it is escaped (§7.1), and how a quoted token is read back (finding its end
//! is the [scanner's](crate::unquoted) job).

use std::borrow::Cow;

use crate::error::ErrorKind;
use crate::options::Delimiter;
use crate::unquoted::find_closing_quote;

/// Bytes that force quoting in a value where `delim` is the delimiter: `:`
/// `"` `\` brackets, braces, the C0 controls and the delimiter itself (one
/// table per delimiter, so the scan is one lookup per byte).
const fn unsafe_table(delim: u8) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b':' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[delim as usize] = true;
    t
}
static UNSAFE_COMMA: [bool; 256] = unsafe_table(b',');
static UNSAFE_TAB: [bool; 256] = unsafe_table(b'\t');
static UNSAFE_PIPE: [bool; 256] = unsafe_table(b'|');

/// Can `s` be written without quotes where `delimiter` is the relevant delimiter?
#[cfg(test)]
pub(crate) fn is_safe_unquoted(s: &str, delimiter: Delimiter) -> bool {
    !form_needs_quotes(s) && first_unsafe_byte(s, delimiter).is_none()
}

/// Does the shape of `s` force quotes, whatever its bytes: empty, spaces or
/// tabs at an end, a leading `-` or `#`, a literal, or number-like (§7.2)?
#[inline]
fn form_needs_quotes(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return true;
    };
    if matches!(first, b' ' | b'\t' | b'-' | b'#') || matches!(last, b' ' | b'\t') {
        return true;
    }
    if matches!(s, "true" | "false" | "null") {
        return true;
    }
    (first.is_ascii_digit() || first == b'+') && crate::number::is_numeric_like(b)
}

/// The index of the first byte of `s` that forces quotes where `delimiter`
/// is the delimiter. Every byte that needs an escape is such a byte.
#[inline]
fn first_unsafe_byte(s: &str, delimiter: Delimiter) -> Option<usize> {
    let table = match delimiter {
        Delimiter::Comma => &UNSAFE_COMMA,
        Delimiter::Tab => &UNSAFE_TAB,
        Delimiter::Pipe => &UNSAFE_PIPE,
    };
    let b = s.as_bytes();
    // Sixteen bytes at a time with comparisons the compiler turns into SIMD
    // (no early exit inside a block), then the table finds the byte itself.
    let d = delimiter.as_byte();
    let block_hit = |block: &[u8]| {
        block
            .iter()
            .fold(false, |hit, &c| hit | forces_quotes(c, d))
    };
    let mut from = 0;
    for block in b.chunks_exact(16) {
        if block_hit(block) {
            break;
        }
        from += 16;
    }
    if from + 16 > b.len() {
        // The last partial block: the final sixteen bytes (overlapping ones
        // already clean), or the short string padded with a safe byte, so
        // a clean string never takes the byte-by-byte path.
        let clean_tail = match b.len().checked_sub(16) {
            Some(start) => !block_hit(&b[start..]),
            None => {
                let mut pad = [b'a'; 16];
                pad[..b.len()].copy_from_slice(b);
                !block_hit(&pad)
            }
        };
        if clean_tail {
            return None;
        }
    }
    b[from..]
        .iter()
        .position(|&c| table[c as usize])
        .map(|at| from + at)
}

/// The quote-forcing bytes of the tables above, as comparisons: C0
/// controls, `"` `:` `\\`, brackets and braces (`[`/`{` and `]`/`}` differ
/// only in bit 5), and the delimiter.
#[inline(always)]
fn forces_quotes(c: u8, delim: u8) -> bool {
    let folded = c | 0x20;
    (c < 0x20)
        | (c == b'"')
        | (c == b':')
        | (c == b'\\')
        | (folded == b'{')
        | (folded == b'}')
        | (c == delim)
}

/// Can `key` be written without quotes (`^[A-Za-z_][A-Za-z0-9_.]*$`)?
#[inline]
pub(crate) fn is_valid_unquoted_key(key: &str) -> bool {
    let b = key.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    b[1..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
}

/// Bytes that need an escape inside quotes (§7.1): `\\`, `"` and the C0 controls.
const fn escape_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
}
static NEEDS_ESCAPE: [bool; 256] = escape_table();

/// Appends `s` in quotes with the §7.1 escapes. The text between escapes is
/// copied a run at a time (most quoted strings have no escape at all).
pub(crate) fn write_quoted(out: &mut String, s: &str) {
    write_quoted_from(out, s, 0);
}

/// [`write_quoted`], knowing that no byte before `from` needs an escape.
fn write_quoted_from(out: &mut String, s: &str, from: usize) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut search = from.min(bytes.len());
    while let Some(off) = bytes[search..]
        .iter()
        .position(|&c| NEEDS_ESCAPE[c as usize])
    {
        let i = search + off;
        let c = bytes[i];
        out.push_str(&s[start..i]);
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c >> 4) as usize] as char);
                out.push(HEX[(c & 0xf) as usize] as char);
            }
        }
        start = i + 1;
        search = start;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a string value, quoted only when §7.2 requires it.
#[inline]
pub(crate) fn write_string(out: &mut String, s: &str, delimiter: Delimiter) {
    // One scan: the bytes before the first one that forces quotes need no
    // escape either, so the escape search starts there.
    match first_unsafe_byte(s, delimiter) {
        None if !form_needs_quotes(s) => out.push_str(s),
        None => write_quoted_from(out, s, s.len()),
        Some(at) => write_quoted_from(out, s, at),
    }
}

/// Appends an object key or field name, quoted only when §7.3 requires it.
#[inline]
pub(crate) fn write_key(out: &mut String, key: &str) {
    if is_valid_unquoted_key(key) {
        out.push_str(key);
    } else {
        write_quoted(out, key);
    }
}

/// Reads a complete quoted token (`"..."` and nothing after it) into its text.
pub(crate) fn parse_quoted(token: &str) -> Result<Cow<'_, str>, ErrorKind> {
    let b = token.as_bytes();
    // Fast path, one search: the first quote or backslash is the final byte.
    if let Some(off) = memchr::memchr2(b'"', b'\\', b.get(1..).unwrap_or(&[]))
        && off + 2 == b.len()
        && b[off + 1] == b'"'
    {
        return Ok(Cow::Borrowed(&token[1..off + 1]));
    }
    let close = find_closing_quote(b, 0).ok_or(ErrorKind::UnterminatedString)?;
    if close != b.len() - 1 {
        return Err(ErrorKind::TrailingCharacters);
    }
    unescape(&token[1..close])
}

/// Resolves the §7.1 escapes of a quoted token's inner text. Borrows when there
/// is nothing to resolve.
pub(crate) fn unescape(inner: &str) -> Result<Cow<'_, str>, ErrorKind> {
    let b = inner.as_bytes();
    let Some(first) = memchr::memchr(b'\\', b) else {
        return Ok(Cow::Borrowed(inner));
    };
    let mut out = String::with_capacity(inner.len());
    out.push_str(&inner[..first]);
    let mut i = first;
    let mut run = first;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&inner[run..i]);
        let Some(&next) = b.get(i + 1) else {
            return Err(ErrorKind::InvalidEscape("\\".into()));
        };
        match next {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'\\' => out.push('\\'),
            b'"' => out.push('"'),
            b'u' => {
                let hex = b
                    .get(i + 2..i + 6)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                let Some(hex) = hex else {
                    let end = (i + 6).min(b.len());
                    return Err(ErrorKind::InvalidEscape(
                        String::from_utf8_lossy(&b[i..end]).into_owned(),
                    ));
                };
                let code = hex.iter().fold(0u32, |acc, &h| {
                    acc * 16 + (h as char).to_digit(16).unwrap_or(0)
                });
                // Lone surrogates are rejected: supplementary characters must
                // appear as literal UTF-8 (§7.1).
                let Some(ch) = char::from_u32(code) else {
                    return Err(ErrorKind::InvalidEscape(format!(
                        "\\u{} (lone surrogate)",
                        String::from_utf8_lossy(hex)
                    )));
                };
                out.push(ch);
                i += 6;
                run = i;
                continue;
            }
            other => {
                let ch = inner[i + 1..].chars().next().unwrap_or(other as char);
                return Err(ErrorKind::InvalidEscape(format!("\\{ch}")));
            }
        }
        i += 2;
        run = i;
    }
    out.push_str(&inner[run..]);
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_comparisons_match_the_tables() {
        for d in Delimiter::ALL {
            let table = match d {
                Delimiter::Comma => &UNSAFE_COMMA,
                Delimiter::Tab => &UNSAFE_TAB,
                Delimiter::Pipe => &UNSAFE_PIPE,
            };
            for c in 0..=255u8 {
                assert_eq!(
                    forces_quotes(c, d.as_byte()),
                    table[c as usize],
                    "{c} {d:?}"
                );
            }
            // The first unsafe byte is found wherever it sits in or after
            // the sixteen-byte blocks.
            for len in 0..40 {
                for at in 0..len {
                    for bad in [b':', b'"', b'\\', b'[', b'}', 0x01, d.as_byte()] {
                        let mut text = vec![b'a'; len];
                        text[at] = bad;
                        let s = std::str::from_utf8(&text).unwrap_or("");
                        assert_eq!(first_unsafe_byte(s, d), Some(at), "{s:?}");
                    }
                }
                let clean = "é".repeat(len);
                assert_eq!(first_unsafe_byte(&clean, d), None);
            }
        }
    }

    #[test]
    fn quoting_rules() {
        let d = Delimiter::Comma;
        for s in ["hello", "Ada_99", "café", "hello 👋 world", "a|b"] {
            assert!(is_safe_unquoted(s, d), "{s}");
        }
        for s in [
            "", " a", "a ", "true", "null", "42", "-3.14", "1e-6", "05", "+1", "a:b", "a,b", "[x]",
            "{x}", "- x", "-", "#", "#x", "a\"b", "a\\b", "a\nb",
        ] {
            assert!(!is_safe_unquoted(s, d), "{s}");
        }
        assert!(!is_safe_unquoted("a|b", Delimiter::Pipe));
    }

    #[test]
    fn escapes_round_trip() {
        let mut s = String::new();
        write_quoted(&mut s, "a\"b\\c\nd\re\tf\u{4}");
        assert_eq!(s, r#""a\"b\\c\nd\re\tf\u0004""#);
        assert_eq!(
            parse_quoted(&s).unwrap_or_default(),
            "a\"b\\c\nd\re\tf\u{4}"
        );
        assert!(unescape(r"\x").is_err());
        assert!(unescape(r"\ud800").is_err());
        assert!(unescape(r"\u12").is_err());
        assert_eq!(unescape(r"\u00E9").unwrap_or_default(), "é");
    }
}

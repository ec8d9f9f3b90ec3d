//! The one quote-aware scanner. Every structural question the decoder asks
//! of a line — where is the first `:` outside quotes, where does this cell
//! end, which `}` closes this `{`, is this a row or a `key: value` line — is
//! answered by walking it with [`Unquoted`], which stops at the bytes the
//! caller names and at each quoted run, and skips the run whole (backslash
//! pairs included). No caller keeps quote state of its own.
//!
//! All structural characters are ASCII, so the scan works on bytes and never
//! splits a UTF-8 sequence.

/// What the scanner stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// One of the caller's stop bytes, outside quotes: its index and value.
    Byte(usize, u8),
    /// A quoted run from `open` (the `"`) to just past its closing quote (or
    /// to the end of the input when it never closes: quote state then runs
    /// to the end). `clean` when it closed with no escape inside, so its
    /// text is exactly the bytes between the quotes.
    Quoted {
        open: usize,
        end: usize,
        clean: bool,
    },
}

/// Walks `bytes` from a starting offset, stopping at the `N` stop bytes
/// outside quotes and at each quoted run.
#[derive(Debug, Clone)]
pub(crate) struct Unquoted<'a, const N: usize> {
    bytes: &'a [u8],
    pos: usize,
    stops: [u8; N],
}

impl<'a, const N: usize> Unquoted<'a, N> {
    /// A scan of `bytes` from `from`, with quote state closed there.
    #[inline]
    pub(crate) fn new(bytes: &'a [u8], from: usize, stops: [u8; N]) -> Self {
        Unquoted {
            bytes,
            pos: from,
            stops,
        }
    }

    /// The next stop byte outside quotes, skipping quoted runs.
    #[inline]
    pub(crate) fn next_byte(&mut self) -> Option<(usize, u8)> {
        loop {
            if let Stop::Byte(at, byte) = self.next()? {
                return Some((at, byte));
            }
        }
    }
}

impl<const N: usize> Iterator for Unquoted<'_, N> {
    type Item = Stop;

    #[inline]
    fn next(&mut self) -> Option<Stop> {
        let at = find_any(self.bytes, self.pos, self.stops)?;
        let byte = self.bytes[at];
        if byte == b'"' {
            let (end, clean) = skip_quoted(self.bytes, at);
            self.pos = end;
            return Some(Stop::Quoted {
                open: at,
                end,
                clean,
            });
        }
        self.pos = at + 1;
        Some(Stop::Byte(at, byte))
    }
}

/// Index of the first `target` at or after `from` that is outside quotes.
#[inline]
pub(crate) fn find_unquoted(bytes: &[u8], target: u8, from: usize) -> Option<usize> {
    Unquoted::new(bytes, from, [target])
        .next_byte()
        .map(|(at, _)| at)
}

/// Index of the closing quote of the quoted run that opens at `open`
/// (which holds `"`), skipping backslash pairs.
#[inline]
pub(crate) fn find_closing_quote(bytes: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while let Some(off) = memchr::memchr2(b'"', b'\\', bytes.get(i..)?) {
        let j = i + off;
        if bytes[j] == b'"' {
            return Some(j);
        }
        // A backslash escapes the next byte; a final one escapes nothing.
        i = j + 2;
    }
    None
}

/// Position just after the quoted run that opens at `open` (the end of
/// `bytes` when it never closes), and whether it closed with no escape inside.
#[inline]
pub(crate) fn skip_quoted(bytes: &[u8], open: usize) -> (usize, bool) {
    match memchr::memchr2(b'"', b'\\', bytes.get(open + 1..).unwrap_or(&[])) {
        Some(off) if bytes[open + 1 + off] == b'"' => (open + off + 2, true),
        Some(_) => (
            find_closing_quote(bytes, open).map_or(bytes.len(), |close| close + 1),
            false,
        ),
        None => (bytes.len(), false),
    }
}

/// Lines longer than this are searched with `memchr` (SIMD) when it can take
/// every needle; shorter ones eight bytes at a time, which beats the setup
/// cost of a SIMD search on a few dozen bytes.
const SIMD_FROM: usize = 128;

/// The first index at or after `from` that holds `"` or one of `stops`.
#[inline(always)]
fn find_any<const N: usize>(bytes: &[u8], from: usize, stops: [u8; N]) -> Option<usize> {
    let rest = bytes.get(from..)?;
    if rest.len() >= SIMD_FROM {
        let found = match stops[..] {
            [] => memchr::memchr(b'"', rest),
            [a] => memchr::memchr2(b'"', a, rest),
            [a, b] => memchr::memchr3(b'"', a, b, rest),
            _ => return find_any_swar(bytes, from, stops),
        };
        return found.map(|off| from + off);
    }
    find_any_swar(bytes, from, stops)
}

/// [`find_any`] eight bytes at a time (SWAR).
#[inline(always)]
fn find_any_swar<const N: usize>(bytes: &[u8], from: usize, stops: [u8; N]) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let mut m = zero_bytes(w ^ splat(b'"'));
        for s in stops {
            m |= zero_bytes(w ^ splat(s));
        }
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes
        .get(i..)?
        .iter()
        .position(|&c| c == b'"' || stops.contains(&c))
        .map(|off| i + off)
}

/// `b` in every byte of a word.
#[inline]
const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// A word with the high bit set in (at least) the lowest byte of `w` that is
/// zero. Bits above the first zero byte may be spurious, so only the lowest
/// set bit is used (OR-ing several such words keeps the lowest one exact).
#[inline]
const fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(0x0101_0101_0101_0101) & !w & 0x8080_8080_8080_8080
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner against a byte-at-a-time reference, on inputs long enough
    /// to take both search paths.
    #[test]
    fn agrees_with_a_plain_loop() {
        fn reference(b: &[u8], target: u8) -> Option<usize> {
            let (mut quoted, mut i) = (false, 0);
            while i < b.len() {
                match (quoted, b[i]) {
                    (true, b'\\') => i += 1,
                    (true, b'"') => quoted = false,
                    (false, c) if c == target => return Some(i),
                    (false, b'"') => quoted = true,
                    _ => {}
                }
                i += 1;
            }
            None
        }
        let pieces = ["a", "\"", "\\", ":", ",", "x\"y", "\\\"", " "];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 200) as usize;
            for k in 0..len {
                s.push_str(pieces[((seed >> (k % 50)) as usize + k) % pieces.len()]);
            }
            let b = s.as_bytes();
            assert_eq!(find_unquoted(b, b':', 0), reference(b, b':'), "{s:?}");
            assert_eq!(find_unquoted(b, b',', 0), reference(b, b','), "{s:?}");
        }
    }

    #[test]
    fn reports_quoted_runs() {
        let b = br#"a,"x",  "y\"z",:"open"#;
        let stops: Vec<Stop> = Unquoted::new(b, 0, [b',', b':']).collect();
        assert_eq!(
            stops,
            vec![
                Stop::Byte(1, b','),
                Stop::Quoted {
                    open: 2,
                    end: 5,
                    clean: true
                },
                Stop::Byte(5, b','),
                Stop::Quoted {
                    open: 8,
                    end: 14,
                    clean: false
                },
                Stop::Byte(14, b','),
                Stop::Byte(15, b':'),
                Stop::Quoted {
                    open: 16,
                    end: b.len(),
                    clean: false
                },
            ]
        );
    }
}

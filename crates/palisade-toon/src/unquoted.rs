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
///
/// It reads eight bytes at a time and keeps the word's exact match mask, so
/// a row of short cells costs one load per eight bytes, not one search per
/// cell; long stretches without a match are crossed with `memchr` (SIMD)
/// when it can take every needle.
#[derive(Debug, Clone)]
pub(crate) struct Unquoted<'a, const N: usize> {
    bytes: &'a [u8],
    /// Where the scan goes on: bits of `mask` below it are stale.
    pos: usize,
    stops: [u8; N],
    /// Offset of the word `mask` describes.
    base: usize,
    /// One high bit per byte of `bytes[base..base + 8]` that is a quote or a
    /// stop byte, not yet reported.
    mask: u64,
}

impl<'a, const N: usize> Unquoted<'a, N> {
    /// A scan of `bytes` from `from`, with quote state closed there.
    #[inline]
    pub(crate) fn new(bytes: &'a [u8], from: usize, stops: [u8; N]) -> Self {
        Unquoted {
            bytes,
            pos: from,
            stops,
            base: from,
            mask: word_mask(bytes, from, stops),
        }
    }

    /// The next stop byte outside quotes, skipping quoted runs.
    #[inline(always)]
    pub(crate) fn next_byte(&mut self) -> Option<(usize, u8)> {
        loop {
            if let Stop::Byte(at, byte) = self.next()? {
                return Some((at, byte));
            }
        }
    }

    /// The next quote or stop byte at or after `pos`.
    #[inline(always)]
    fn find(&mut self) -> Option<usize> {
        loop {
            while self.mask != 0 {
                let at = self.base + (self.mask.trailing_zeros() / 8) as usize;
                self.mask &= self.mask - 1;
                if at >= self.pos {
                    return Some(at);
                }
            }
            let next = self.pos.max(self.base + 8);
            let rest = self.bytes.get(next..).filter(|r| !r.is_empty())?;
            self.base = next;
            if rest.len() >= SIMD_FROM {
                let found = match self.stops[..] {
                    [] => memchr::memchr(b'"', rest),
                    [a] => memchr::memchr2(b'"', a, rest),
                    [a, b] => memchr::memchr3(b'"', a, b, rest),
                    _ => Some(0),
                };
                self.base = next + found?;
            }
            self.mask = word_mask(self.bytes, self.base, self.stops);
        }
    }
}

impl<const N: usize> Iterator for Unquoted<'_, N> {
    type Item = Stop;

    // Inlined into each caller's loop: a call per stop byte costs more than
    // the work of finding it.
    #[inline(always)]
    fn next(&mut self) -> Option<Stop> {
        let at = self.find()?;
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

/// Stretches at least this long are crossed with `memchr` when it can take
/// every needle; shorter ones eight bytes at a time, which beats the setup
/// cost of a SIMD search on a few dozen bytes.
const SIMD_FROM: usize = 128;

/// The exact match mask of the (zero-padded) eight bytes at `at`: the high
/// bit of each byte that is a quote or one of `stops`.
#[inline(always)]
fn word_mask<const N: usize>(bytes: &[u8], at: usize, stops: [u8; N]) -> u64 {
    let w = match bytes.get(at..at + 8) {
        Some(chunk) => u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])),
        // The last word of the line: the final eight bytes shifted down (no
        // copy), or byte by byte when the line is shorter than a word.
        None if bytes.len() >= 8 && at < bytes.len() => {
            let start = bytes.len() - 8;
            let chunk = &bytes[start..];
            u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])) >> (8 * (at - start))
        }
        None => bytes
            .get(at..)
            .unwrap_or(&[])
            .iter()
            .rev()
            .fold(0u64, |w, &b| (w << 8) | u64::from(b)),
    };
    let mut m = zero_bytes(w ^ splat(b'"'));
    for s in stops {
        m |= zero_bytes(w ^ splat(s));
    }
    // Padding bytes are zero, which no stop byte is.
    m
}

/// `b` in every byte of a word.
#[inline]
const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// The high bit of exactly each byte of `w` that is zero.
#[inline]
const fn zero_bytes(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((w & LOW7).wrapping_add(LOW7)) | w | LOW7)
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

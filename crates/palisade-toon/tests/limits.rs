//! Hostile input: depth, size and value limits end in typed errors, never a
//! stack overflow, a panic, or memory out of proportion to the input.
//!
//! Memory is measured with a counting global allocator (peak bytes live
//! during one decode), so no assertion here depends on the machine's speed.
//! Every test takes `LOCK` so that no other test allocates while one measures.

use std::sync::{Mutex, MutexGuard};

use palisade_toon::{DecodeOptions, EncodeOptions, ErrorKind, Value, decode, encode};
use peak_alloc::PeakAlloc;

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

static LOCK: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `f` and returns its result with the peak number of bytes allocated
/// above what was live when it started.
fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();
    let r = f();
    (r, ALLOCATOR.peak_usage().saturating_sub(base))
}

fn kind(r: Result<Value, palisade_toon::Error>) -> Option<ErrorKind> {
    r.err().map(|e| e.kind().clone())
}

#[test]
fn deep_nesting_hits_the_depth_limit() {
    let _serial = serial();
    // 2,000 nested objects (4 MB of indentation) would overflow an unbounded
    // recursive parser's stack in a debug build.
    let mut doc = String::new();
    for depth in 0..2_000 {
        doc.push_str(&" ".repeat(depth * 2));
        doc.push_str("a:\n");
    }
    let err = decode(&doc, &DecodeOptions::default()).err();
    assert!(matches!(
        err.as_ref().map(|e| e.kind()),
        Some(ErrorKind::DepthLimitExceeded { max: 128 })
    ));
    assert_eq!(err.and_then(|e| e.line()), Some(129));
}

#[test]
fn deep_list_nesting_hits_the_depth_limit() {
    let _serial = serial();
    let mut doc = String::from("a[1]:\n");
    for depth in 1..5_000 {
        doc.push_str(&" ".repeat(depth * 2));
        doc.push_str("- [1]:\n");
    }
    let r = decode(&doc, &DecodeOptions::default().max_depth(64));
    assert!(matches!(
        kind(r),
        Some(ErrorKind::DepthLimitExceeded { max: 64 })
    ));
}

#[test]
fn deep_field_groups_hit_the_depth_limit() {
    let _serial = serial();
    let open = "a{".repeat(10_000);
    let close = "}".repeat(10_000);
    let doc = format!("t[1]{{{open}x{close}}}:\n  1");
    let r = decode(&doc, &DecodeOptions::default());
    assert!(r.is_err());
}

#[test]
fn depth_limit_is_configurable_and_applies_to_encoding() {
    let _serial = serial();
    let mut v = Value::from(1i64);
    for _ in 0..300 {
        let mut m = palisade_toon::Map::new();
        m.insert("k".into(), v);
        v = Value::Object(m);
    }
    let err = encode(&v, &EncodeOptions::default()).err();
    assert!(matches!(
        err.map(|e| e.kind().clone()),
        Some(ErrorKind::DepthLimitExceeded { .. })
    ));
    let text = encode(&v, &EncodeOptions::default().max_depth(400));
    assert!(text.is_ok());
    let back = decode(
        &text.unwrap_or_default(),
        &DecodeOptions::default().max_depth(400),
    );
    assert_eq!(back.ok(), Some(v));
}

#[test]
fn input_size_limit() {
    let _serial = serial();
    let doc = "a: 1\n".repeat(1000);
    let r = decode(&doc, &DecodeOptions::default().max_input_bytes(100));
    assert!(matches!(
        kind(r),
        Some(ErrorKind::InputTooLarge {
            len: 5000,
            max: 100
        })
    ));
}

#[test]
fn huge_declared_lengths_do_not_allocate() {
    let _serial = serial();
    let r = decode("a[18446744073709551615]: 1", &DecodeOptions::default());
    assert!(matches!(kind(r), Some(ErrorKind::TooManyValues { .. })));
    let r = decode("a[3]: 1", &DecodeOptions::default());
    assert!(matches!(kind(r), Some(ErrorKind::CountMismatch { .. })));
    let r = decode(
        "a[999999999999999999999999]:\n  - 1",
        &DecodeOptions::default(),
    );
    assert!(r.is_err());
    let r = decode(
        "a[4000000000]{x}:\n  1",
        &DecodeOptions::default().strict(false),
    );
    assert!(r.is_ok());
}

/// Decodes `doc` both ways (tree and serde tape), strict and not, and checks
/// that no decode holds more than `per_byte` bytes per input byte (plus 256 KiB
/// of fixed overhead) at its peak.
fn assert_memory_bounded(what: &str, doc: &str, per_byte: usize) {
    assert_memory_bounded_in(what, doc, per_byte, &[true, false]);
}

fn assert_memory_bounded_in(what: &str, doc: &str, per_byte: usize, modes: &[bool]) {
    let bound = per_byte * doc.len() + (256 << 10);
    for &strict in modes {
        let options = DecodeOptions::default().strict(strict);
        let (_, tree) = peak_during(|| decode(doc, &options).map(drop));
        let (_, typed) = peak_during(|| {
            palisade_toon::from_str_with::<serde::de::IgnoredAny>(doc, &options).map(drop)
        });
        for (path, peak) in [("decode", tree), ("from_str", typed)] {
            assert!(
                peak <= bound,
                "{what} ({path}, strict {strict}): {peak} bytes at peak for {} input bytes (bound {bound})",
                doc.len()
            );
        }
    }
}

#[test]
fn work_stays_linear_on_wide_or_long_input() {
    let _serial = serial();
    // One object with 50,000 keys (duplicate detection keeps a hash index).
    let wide: String = (0..50_000).map(|i| format!("k{i}: {i}\n")).collect();
    assert_memory_bounded("50,000 keys", &wide, 64);
    // Duplicate keys in non-strict mode (last write wins).
    let dups: String = (0..50_000)
        .map(|i| format!("k{}: {i}\n", i % 1000))
        .collect();
    assert_memory_bounded("duplicate keys", &dups, 64);
    // A 2 MB line of delimiters and quotes.
    let row = format!("a[1]: {}", "\",\"".repeat(700_000));
    assert_memory_bounded("a 2 MB quoted line", &row, 8);
    // Many unterminated quotes and brackets.
    let junk = "[\"{:".repeat(500_000);
    assert_memory_bounded("unterminated quotes", &junk, 8);
    // 100,000 blank lines inside an array in strict mode.
    let blanks = format!("a[2]:\n  - 1\n{}  - 2", "\n".repeat(100_000));
    assert_memory_bounded("blank lines in an array", &blanks, 16);
}

/// The hostile documents of the fuzzing report, at a size that keeps the test
/// fast: 60 MB of `a[62914560]: ,,,…` took 3.0 GB, 30 MB of empty table cells
/// 2.2 GB, 50 MB of `1,1,…` 1.28 GB. Now each is refused by the value limit
/// or decoded within a fixed multiple of its size.
#[test]
fn decode_memory_is_bounded_by_the_input_size() {
    let _serial = serial();
    const N: usize = 2 << 20;

    let commas = format!("a[{N}]: {}", ",".repeat(N - 1));
    let r = decode(&commas, &DecodeOptions::default());
    assert!(
        matches!(kind(r), Some(ErrorKind::TooManyValues { .. })),
        "one empty string per byte is more than the default limit"
    );
    // Strict mode refuses from the declared length, before allocating (the
    // line index is two bytes per input byte at most);
    // non-strict mode counts the cells and stops at the limit.
    assert_memory_bounded_in("empty inline cells", &commas, 3, &[true]);
    assert_memory_bounded_in("empty inline cells", &commas, 20, &[false]);

    let rows = N / 10;
    let empty_cells = format!(
        "t[{rows}]{{a,b,c,d,e,f,g,h}}:\n{}",
        "  ,,,,,,,\n".repeat(rows)
    );
    let r = decode(&empty_cells, &DecodeOptions::default());
    assert!(matches!(kind(r), Some(ErrorKind::TooManyValues { .. })));
    // The line index (48 bytes per non-blank line) is most of what strict
    // mode holds before it refuses the declared rows.
    assert_memory_bounded_in("empty table cells", &empty_cells, 13, &[true]);
    // A `Value` row is a vector of (key, value) entries, 56 bytes a cell.
    assert_memory_bounded_in("empty table cells", &empty_cells, 48, &[false]);

    // Two bytes per value is within the default limit: decoded, in bounded memory.
    let ones = format!("a[{}]: {}", N / 2, vec!["1"; N / 2].join(","));
    let (r, peak) = peak_during(|| decode(&ones, &DecodeOptions::default()));
    assert_eq!(
        r.ok()
            .and_then(|v| v.get("a").and_then(|a| a.as_array().map(Vec::len))),
        Some(N / 2)
    );
    assert!(
        peak <= 20 * ones.len(),
        "{peak} bytes for {} input bytes",
        ones.len()
    );
    assert_memory_bounded("an inline array of ones", &ones, 20);
}

/// A declared length is never a reason to allocate: in non-strict mode each
/// of these 3,000 one-row tables used to reserve room for every line that
/// followed it (about 300 MB for a 90 KB document).
#[test]
fn declared_lengths_do_not_add_up_to_an_allocation() {
    let _serial = serial();
    let items = 3_000;
    let doc = format!(
        "a[{items}]:\n{}",
        "  - t[1000000]{x}:\n      1\n".repeat(items)
    );
    let options = DecodeOptions::default().strict(false);
    let (r, peak) = peak_during(|| decode(&doc, &options).map(drop));
    assert!(r.is_ok());
    assert!(
        peak <= 64 * doc.len(),
        "{peak} bytes for {} input bytes",
        doc.len()
    );
    assert_memory_bounded("nested over-declared tables", &doc, 64);
}

#[test]
fn the_value_limit_is_configurable_and_names_its_line() {
    let _serial = serial();
    let doc = "a: 1\nb[3]: 1,2,3\nc: 4";
    let tight = DecodeOptions::default().max_values(Some(4));
    let err = decode(doc, &tight).err();
    assert!(matches!(
        err.as_ref().map(|e| e.kind()),
        Some(ErrorKind::TooManyValues { max: 4 })
    ));
    assert_eq!(err.and_then(|e| e.line()), Some(2));
    assert!(decode(doc, &DecodeOptions::default().max_values(Some(7))).is_ok());
    // The serde path counts the same way.
    let typed = palisade_toon::from_str_with::<serde::de::IgnoredAny>(doc, &tight);
    assert!(typed.is_err());
    assert_eq!(
        DecodeOptions::default().value_limit(1_000_000),
        500_000 + palisade_toon::DEFAULT_VALUE_ALLOWANCE
    );
}

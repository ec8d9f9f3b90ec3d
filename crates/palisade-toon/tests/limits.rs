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
/// that no decode holds more than `per_byte` bytes per input byte (plus 1 MiB
/// of fixed overhead) at its peak.
fn assert_memory_bounded(what: &str, doc: &str, per_byte: usize) {
    let bound = per_byte * doc.len() + (1 << 20);
    for strict in [true, false] {
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

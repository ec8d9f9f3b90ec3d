//! Hostile input: depth and size limits end in typed errors, never a stack
//! overflow, a panic or quadratic time.

use std::time::{Duration, Instant};

use palisade_toon::{DecodeOptions, EncodeOptions, ErrorKind, Value, decode, encode};

fn kind(r: Result<Value, palisade_toon::Error>) -> Option<ErrorKind> {
    r.err().map(|e| e.kind().clone())
}

#[test]
fn deep_nesting_hits_the_depth_limit() {
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
    let open = "a{".repeat(10_000);
    let close = "}".repeat(10_000);
    let doc = format!("t[1]{{{open}x{close}}}:\n  1");
    let r = decode(&doc, &DecodeOptions::default());
    assert!(r.is_err());
}

#[test]
fn depth_limit_is_configurable_and_applies_to_encoding() {
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

fn assert_fast(doc: &str, budget: Duration) {
    let start = Instant::now();
    for strict in [true, false] {
        let _ = decode(doc, &DecodeOptions::default().strict(strict));
    }
    assert!(start.elapsed() < budget, "took {:?}", start.elapsed());
}

#[test]
fn no_quadratic_blowup_on_wide_or_long_input() {
    let budget = Duration::from_secs(if cfg!(debug_assertions) { 20 } else { 2 });
    // One object with 50,000 keys (duplicate detection must stay linear).
    let wide: String = (0..50_000).map(|i| format!("k{i}: {i}\n")).collect();
    assert_fast(&wide, budget);
    // Duplicate keys in non-strict mode (last write wins, linear).
    let dups: String = (0..50_000)
        .map(|i| format!("k{}: {i}\n", i % 1000))
        .collect();
    assert_fast(&dups, budget);
    // A 2 MB line of delimiters and quotes.
    let row = format!("a[1]: {}", "\",\"".repeat(700_000));
    assert_fast(&row, budget);
    // Many unterminated quotes and brackets.
    let junk = "[\"{:".repeat(500_000);
    assert_fast(&junk, budget);
    // 100,000 blank lines inside an array in strict mode.
    let blanks = format!("a[2]:\n  - 1\n{}  - 2", "\n".repeat(100_000));
    assert_fast(&blanks, budget);
}

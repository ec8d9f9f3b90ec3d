//! Fuzz-style properties for the two surfaces that read untrusted text: TOON
//! decoding and JSON → TOON (`from_json_str`, what `palisade toon encode`
//! runs). Generated documents are built from the pieces hostile input is made
//! of (declared lengths far above the data, runs of empty cells, long digit
//! strings, repeated keys, deep nesting, stray quotes) and each one must end
//! in a value or in a typed error that says where — never a panic — with
//! memory bounded by a fixed multiple of the input size.
//!
//! Memory is measured with a counting global allocator (peak bytes live
//! during one call). Each property runs its whole proptest run while holding
//! `LOCK`, so no other test of this file allocates meanwhile (input
//! generation between cases included); that is why these use `TestRunner`
//! directly rather than the `proptest!` macro.

use std::sync::{Mutex, MutexGuard};

use palisade_toon::{
    DecodeOptions, EncodeOptions, Error, ErrorKind, Value, decode, encode, from_json_str,
};
use peak_alloc::PeakAlloc;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

static LOCK: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Peak bytes allocated above what was live when `f` started.
fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();
    let r = f();
    (r, ALLOCATOR.peak_usage().saturating_sub(base))
}

/// Failing seeds are kept in `tests/hostile.proptest-regressions` and
/// replayed first, as in `tests/properties.rs`.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

#[test]
fn committed_seeds_are_read() {
    let _serial = serial();
    let persistence = config(1).failure_persistence;
    let seeds = persistence
        .map(|p| p.load_persisted_failures2(Some(file!())))
        .unwrap_or_default();
    assert!(
        !seeds.is_empty(),
        "the config reads no seed from tests/hostile.proptest-regressions"
    );
}

/// The bound every decode here must hold: this many bytes per input byte,
/// plus a fixed allowance for the parser's own tables. 64 covers the worst
/// shape measured in `tests/limits.rs` (a `Value` object per tiny line).
const BYTES_PER_INPUT_BYTE: usize = 64;
const FIXED_BYTES: usize = 256 << 10;

/// Declared lengths, from honest to absurd.
fn declared() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..8).prop_map(|n| n.to_string()),
        Just("62914560".to_owned()),
        Just("4000000000".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("999999999999999999999999".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
    ]
}

/// One hostile line (or line fragment) of a TOON document.
fn toon_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        (declared(), 0usize..3000).prop_map(|(n, k)| format!("a[{n}]: {}\n", ",".repeat(k))),
        (declared(), 0usize..1500)
            .prop_map(|(n, k)| format!("a[{n}]: {}\n", vec!["1"; k].join(","))),
        (declared(), 0usize..400)
            .prop_map(|(n, k)| format!("t[{n}]{{a,b,c,d}}:\n{}", "  ,,,\n".repeat(k))),
        (declared(), 0usize..200).prop_map(|(n, k)| format!("l[{n}]:\n{}", "  - \n".repeat(k))),
        (declared(), 0usize..50)
            .prop_map(|(n, k)| format!("u[{n}:]{{x}}:\n{}", "  k: 1\n".repeat(k))),
        (declared(), declared()).prop_map(|(n, m)| format!("- t[{n}]{{x}}:\n    x[{m}]: 1\n")),
        (0usize..300).prop_map(|d| {
            (0..d).fold(String::new(), |mut s, i| {
                s.push_str(&"  ".repeat(i));
                s.push_str("a:\n");
                s
            })
        }),
        (1usize..200).prop_map(|k| format!("n: {}\n", "9".repeat(k))),
        (1usize..40).prop_map(|k| format!("n: -{}e{}\n", "1".repeat(k), "9".repeat(k))),
        Just("big: 123456789012345678901234567890\n".to_owned()),
        Just("k: 1\nk: 2\n".to_owned()),
        Just("[3]{x,x}:\n  1,2\n".to_owned()),
        Just("q: \"unterminated\n".to_owned()),
        Just("e: \"bad \\x escape\"\n".to_owned()),
        Just("\t- x\n".to_owned()),
        Just("   odd: indent\n".to_owned()),
        Just("\n\n\n".to_owned()),
        Just("a[2|]{x|y}: 1|2\n".to_owned()),
        "[ -~\t\n]{0,40}",
    ]
}

fn toon_document() -> impl Strategy<Value = String> {
    prop::collection::vec(toon_piece(), 1..6).prop_map(|pieces| pieces.concat())
}

/// An error that tells the caller what and where: every decode error but the
/// two about the options themselves carries a line and column.
fn assert_typed(e: &Error, what: &str) -> Result<(), TestCaseError> {
    let positioned = e.position().is_some()
        || matches!(
            e.kind(),
            ErrorKind::InputTooLarge { .. } | ErrorKind::InvalidIndent
        );
    prop_assert!(positioned, "{what}: error without a position: {e}");
    prop_assert!(!e.to_string().is_empty());
    Ok(())
}

/// Numbers compared by canonical text, as in `tests/properties.rs`.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.to_string() == y.to_string(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
        }
        _ => a == b,
    }
}

/// `v` with every object's keys in sorted order.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> =
                m.iter().map(|(k, v)| (k.clone(), sorted(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        other => other.clone(),
    }
}

/// Scalars, arrays and objects in `v`, the root included.
fn count_values(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_values).sum(),
        Value::Object(m) => m.values().map(count_values).sum(),
        _ => 0,
    }
}

/// Runs `test` on `cases` inputs from `strategy` (seeds from the committed
/// file first) with `LOCK` held throughout, and fails with proptest's report
/// (the shrunk input) on the first failure.
fn check<S: Strategy>(
    cases: u32,
    strategy: &S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let _serial = serial();
    let mut runner = TestRunner::new(config(cases));
    if let Err(e) = runner.run(strategy, test) {
        panic!("{e}");
    }
}

/// Hostile TOON: a value or a positioned error, in both modes and on both
/// decode paths (tree and serde tape), in bounded memory; what decodes
/// re-encodes to the same value.
#[test]
fn hostile_toon_decodes_or_fails_typed_in_bounded_memory() {
    check(600, &toon_document(), |doc| {
        let bound = BYTES_PER_INPUT_BYTE * doc.len() + FIXED_BYTES;
        for strict in [true, false] {
            let options = DecodeOptions::default().strict(strict);
            let (tree, peak) = peak_during(|| decode(&doc, &options));
            prop_assert!(
                peak <= bound,
                "decode (strict {}): {} bytes at peak for {} input bytes",
                strict,
                peak,
                doc.len()
            );
            let (typed, peak) = peak_during(|| {
                palisade_toon::from_str_with::<serde::de::IgnoredAny>(&doc, &options).map(drop)
            });
            prop_assert!(
                peak <= bound,
                "from_str (strict {}): {} bytes at peak for {} input bytes",
                strict,
                peak,
                doc.len()
            );
            prop_assert_eq!(
                tree.is_ok(),
                typed.is_ok(),
                "tree {:?} vs serde {:?}",
                tree.as_ref().err(),
                typed.as_ref().err()
            );
            match tree {
                Ok(v) => {
                    let text = encode(&v, &EncodeOptions::default().max_depth(512));
                    prop_assert!(text.is_ok(), "{:?}", text);
                    let back = decode(
                        &text.unwrap_or_default(),
                        &DecodeOptions::default().max_depth(512),
                    );
                    prop_assert!(
                        back.as_ref().is_ok_and(|b| same(b, &v)),
                        "re-encoded value differs: {:?}",
                        back
                    );
                }
                Err(e) => assert_typed(&e, "decode")?,
            }
            if let Err(e) = typed {
                assert_typed(&e, "from_str")?;
            }
        }
        Ok(())
    });
}

/// A tight value limit is enforced exactly: a document either fits and
/// decodes to at most that many values (and the root), or fails with
/// `TooManyValues` (or another typed error) at a line.
#[test]
fn the_value_limit_holds_on_hostile_toon() {
    check(600, &(toon_document(), 0usize..200), |(doc, max)| {
        for strict in [true, false] {
            let options = DecodeOptions::default()
                .strict(strict)
                .max_values(Some(max));
            match decode(&doc, &options) {
                Ok(v) => prop_assert!(
                    count_values(&v) <= max + 1,
                    "{} values decoded under a limit of {}",
                    count_values(&v),
                    max
                ),
                Err(e) => assert_typed(&e, "decode")?,
            }
        }
        Ok(())
    });
}

/// One piece of hostile JSON text.
fn json_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|bits| {
            let f = f64::from_bits(bits);
            if f.is_finite() {
                format!("{f:e}")
            } else {
                "1e400".to_owned()
            }
        }),
        any::<i64>().prop_map(|i| i.to_string()),
        (1usize..80).prop_map(|k| "9".repeat(k)),
        (1usize..80).prop_map(|k| format!("-{}", "1".repeat(k))),
        (1usize..40, 0i32..400).prop_map(|(k, e)| format!("0.{}e-{e}", "3".repeat(k))),
        Just("123456789012345678901234567890".to_owned()),
        Just("1e-97".to_owned()),
        Just("\"s\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just("\"1e-97\"".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("{\"k\":1,\"k\":2}".to_owned()),
        (0usize..300).prop_map(|d| format!("{}1{}", "[".repeat(d), "]".repeat(d))),
        (0usize..300).prop_map(|d| format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d))),
        "[ -~]{0,12}",
    ]
}

/// A JSON document assembled from pieces: an array or an object of them,
/// sometimes with a repeated key or cut short.
fn json_document() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(json_piece(), 0..8),
        0u8..4,
        any::<usize>(),
    )
        .prop_map(|(pieces, shape, cut)| match shape {
            0 => format!("[{}]", pieces.join(",")),
            1 => {
                let entries: Vec<String> = pieces
                    .iter()
                    .enumerate()
                    .map(|(i, p)| format!("\"k{}\":{p}", i % 3))
                    .collect();
                format!("{{{}}}", entries.join(","))
            }
            2 => pieces.concat(),
            _ => {
                let whole = format!("[{}]", pieces.join(",\n"));
                let at = cut % (whole.len() + 1);
                whole.get(..at).unwrap_or(&whole).to_owned()
            }
        })
}

/// Hostile JSON → TOON: a value that encodes and decodes back to itself,
/// or a positioned typed error; never a panic, never a silently changed
/// number or a silently dropped key.
#[test]
fn hostile_json_encodes_or_fails_typed() {
    check(1000, &json_document(), |doc| {
        let (read, peak) = peak_during(|| from_json_str(&doc));
        prop_assert!(
            peak <= BYTES_PER_INPUT_BYTE * doc.len() + FIXED_BYTES,
            "from_json_str: {} bytes at peak for {} input bytes",
            peak,
            doc.len()
        );
        match read {
            Ok(v) => match encode(&v, &EncodeOptions::default()) {
                Ok(text) => {
                    let back = decode(&text, &DecodeOptions::default());
                    prop_assert!(
                        back.as_ref().is_ok_and(|b| same(b, &v)),
                        "TOON:\n{}\nback {:?}\nwant {:?}",
                        text,
                        back,
                        v
                    );
                    // What serde_json reads from the same text agrees on every
                    // number (it reads exactly too) and on every key; key order
                    // is left out, since serde_json keeps it only with its
                    // `preserve_order` feature.
                    let theirs: Option<serde_json::Value> = serde_json::from_str(&doc).ok();
                    if let Some(theirs) = theirs {
                        prop_assert!(
                            same(&sorted(&Value::from(theirs)), &sorted(&v)),
                            "serde_json reads {} differently",
                            doc
                        );
                    }
                }
                Err(e) => prop_assert!(
                    matches!(e.kind(), ErrorKind::DepthLimitExceeded { .. }),
                    "encode failed: {}",
                    e
                ),
            },
            Err(e) => {
                prop_assert!(e.position().is_some(), "error without a position: {}", e);
                prop_assert!(
                    matches!(
                        e.kind(),
                        ErrorKind::InvalidJson(_)
                            | ErrorKind::DuplicateKey(_)
                            | ErrorKind::InexactInteger { .. }
                    ),
                    "unexpected kind: {:?}",
                    e.kind()
                );
            }
        }
        Ok(())
    });
}

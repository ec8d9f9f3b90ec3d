//! Properties: `decode(encode(v)) == v` for arbitrary JSON values under every
//! delimiter and several indent sizes, and `decode` never panics, on arbitrary
//! text or on mutated valid documents.

use palisade_toon::{DecodeOptions, Delimiter, EncodeOptions, Map, Value, decode, encode};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Seeds live beside this file, in `tests/properties.proptest-regressions`
/// (proptest resolves `file!()` against the working directory's ancestors),
/// and replay before any new case; `committed_seeds_are_read` checks that the
/// file this config names is the one in the repository.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

#[test]
fn committed_seeds_are_read() {
    let persistence = config(1).failure_persistence;
    let seeds = persistence
        .map(|p| p.load_persisted_failures2(Some(file!())))
        .unwrap_or_default();
    assert!(
        !seeds.is_empty(),
        "the config reads no seed from tests/properties.proptest-regressions"
    );
}

/// Characters that exercise quoting and structure far more often than
/// uniform random characters would.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('a', 'z'),
        1 => prop::sample::select(vec![
            ' ', ':', ',', '|', '\t', '\n', '\r', '"', '\\', '[', ']', '{', '}', '-', '#', '.', '0',
            '1', '9', 'e', 'E', '+', '\u{0}', '\u{1f}', '\u{7f}', '\u{a0}', '\u{feff}', 'é', '世',
            '🚀',
        ]),
        1 => any::<char>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(interesting_char(), 0..10).prop_map(|cs| cs.into_iter().collect()),
        1 => prop::sample::select(vec![
            "", "true", "false", "null", "42", "-3.14", "1e-6", "05", "-", "- x", "#", "[]", "[2]: a",
            "a: b", " padded ", "1.0", "-0",
        ])
        .prop_map(str::to_owned),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-1000i32..1000, 0u32..6)
            .prop_map(|(m, e)| Value::from(f64::from(m) / 10f64.powi(e as i32))),
        prop::sample::select(vec![0.0, -0.0, 1e-6, 1e-7, 1e20, 1e21, 1.5e300, 5e-324])
            .prop_map(Value::from),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ]
}

fn object_of(inner: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Value> {
    prop::collection::vec((text(), inner), 0..5)
        .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map>()))
}

/// Arbitrary values, biased towards the shapes TOON treats specially:
/// uniform rows (tables), objects of uniform objects (keyed tables), nested
/// uniform columns (field groups), arrays of arrays, empty containers.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            object_of(inner.clone()),
            uniform_rows(inner.clone()),
            keyed_objects(inner),
        ]
    })
}

/// Arrays of objects with the same keys: tables when the cells are primitive.
fn uniform_rows(inner: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Value> {
    (prop::collection::vec(text(), 1..4), 1usize..5).prop_flat_map(move |(keys, rows)| {
        let width = keys.len();
        let cell = prop_oneof![3 => leaf(), 1 => inner.clone()];
        prop::collection::vec(prop::collection::vec(cell, width), rows).prop_map(move |rows| {
            Value::Array(
                rows.into_iter()
                    .map(|cells| Value::Object(keys.iter().cloned().zip(cells).collect::<Map>()))
                    .collect(),
            )
        })
    })
}

/// Objects whose values are uniform objects: keyed tables.
fn keyed_objects(inner: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Value> {
    uniform_rows(inner).prop_flat_map(|rows| {
        let n = rows.as_array().map_or(0, Vec::len);
        prop::collection::vec(text(), n).prop_map(move |names| {
            let items = rows.as_array().cloned().unwrap_or_default();
            Value::Object(names.into_iter().zip(items).collect::<Map>())
        })
    })
}

fn delimiter() -> impl Strategy<Value = Delimiter> {
    prop::sample::select(Delimiter::ALL.to_vec())
}

/// Equality with numbers compared by canonical text: a float such as
/// 1.3421294395099116e19 is written `13421294395099116000`, which reads back
/// as that exact integer; both denote the same canonical number.
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

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn decode_inverts_encode(v in value(), d in delimiter(), indent in prop::sample::select(vec![1usize, 2, 3, 4])) {
        let text = encode(&v, &EncodeOptions::new().delimiter(d).indent(indent)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for strict in [true, false] {
            let back = decode(&text, &DecodeOptions::new().indent(indent).strict(strict));
            let ok = back.as_ref().is_ok_and(|b| same(b, &v));
            prop_assert!(ok, "strict={} text:\n{}\ngot {:?}\nwant {:?}", strict, text, back, v);
            // The serde path (tape deserializer) agrees with the tree decoder.
            let typed: Result<Value, _> = palisade_toon::from_str_with(&text, &DecodeOptions::new().indent(indent).strict(strict));
            prop_assert!(typed.as_ref().is_ok_and(|t| same(t, &v)), "serde path: {:?}", typed);
        }
    }
}

/// Small edits that keep a document "almost valid", where decoders break.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Insert(usize, char),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Indent(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), interesting_char()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), 0usize..6).prop_map(|(i, n)| Mutation::Indent(i, n)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    match *m {
        Mutation::Delete(i) if !chars.is_empty() => {
            let i = i % chars.len();
            chars[..i].iter().chain(&chars[i + 1..]).collect()
        }
        Mutation::Insert(i, c) => {
            let i = i % (chars.len() + 1);
            chars[..i]
                .iter()
                .chain(std::iter::once(&c))
                .chain(&chars[i..])
                .collect()
        }
        Mutation::DuplicateLine(i) => {
            let i = i % lines.len();
            let l = lines[i].clone();
            lines.insert(i, l);
            lines.join("\n")
        }
        Mutation::SwapLines(a, b) => {
            let (a, b) = (a % lines.len(), b % lines.len());
            lines.swap(a, b);
            lines.join("\n")
        }
        Mutation::Indent(i, n) => {
            let i = i % lines.len();
            lines[i] = format!("{}{}", " ".repeat(n), lines[i].trim_start_matches(' '));
            lines.join("\n")
        }
        Mutation::Delete(_) => text.to_owned(),
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn decode_never_panics_on_arbitrary_text(s in prop::collection::vec(interesting_char(), 0..64).prop_map(|c| c.into_iter().collect::<String>())) {
        for strict in [true, false] {
            let _ = decode(&s, &DecodeOptions::new().strict(strict));
        }
    }

    #[test]
    fn decode_never_panics_on_arbitrary_unicode(s in any::<String>()) {
        for strict in [true, false] {
            let _ = decode(&s, &DecodeOptions::new().strict(strict));
        }
    }

    #[test]
    fn decode_never_panics_on_mutated_documents(
        v in value(),
        d in delimiter(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut text = encode(&v, &EncodeOptions::new().delimiter(d)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for m in &mutations {
            text = apply(&text, m);
        }
        for strict in [true, false] {
            let _ = decode(&text, &DecodeOptions::new().strict(strict));
        }
    }
}

/// Any finite double, drawn as a raw bit pattern so that subnormals, extreme
/// exponents and every mantissa are as likely as ordinary values.
fn finite_double() -> impl Strategy<Value = f64> {
    any::<u64>()
        .prop_map(f64::from_bits)
        .prop_filter("finite", |f| f.is_finite())
}

/// The double a decoded number denotes (`-0` is written `0`, so compare
/// against `+0` there).
fn same_double(decoded: Option<f64>, original: f64) -> bool {
    let want = if original == 0.0 { 0.0 } else { original };
    decoded.is_some_and(|d| d.to_bits() == want.to_bits())
}

proptest! {
    #![proptest_config(config(5000))]

    /// decode → encode → decode is stable for every finite double, and the
    /// first decode already gives the double back bit for bit: through the
    /// `Value` tree, through serde (`to_string` / `from_str::<f64>`), and
    /// from JSON text as `palisade toon encode` reads it (shortest digits,
    /// and the 17-digit form that makes an inexact reader round wrongly).
    #[test]
    fn every_finite_double_survives_decode_encode_decode(f in finite_double()) {
        let options = EncodeOptions::default();
        let text = encode(&Value::from(f), &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let once = decode(&text, &DecodeOptions::default()).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert!(same_double(once.as_f64(), f), "{:e} written {} reads back as {:?}", f, text, once);
        let again = encode(&once, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&again, &text);
        let twice = decode(&again, &DecodeOptions::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&twice, &once);

        let serde_text = palisade_toon::to_string(&f).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&serde_text, &text);
        let typed: f64 = palisade_toon::from_str(&serde_text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(same_double(Some(typed), f), "from_str::<f64>({}) = {:e}", serde_text, typed);

        for json in [format!("{f:e}"), format!("{f:.16e}"), format!("{{\"x\":[{f:?}]}}")] {
            let read = palisade_toon::from_json_str(&json).map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
            let leaf = read.get("x").and_then(|a| a.as_array()).and_then(|a| a.first()).unwrap_or(&read);
            prop_assert!(same_double(leaf.as_f64(), f), "JSON {} reads as {:?}", json, leaf);
            let encoded = encode(leaf, &options).ok();
            prop_assert_eq!(encoded.as_deref(), Some(text.as_str()), "JSON {}", json);
        }
    }
}

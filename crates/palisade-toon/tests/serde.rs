//! Native serde: typed structs, enums, options and maps through TOON, and the
//! `serde_json::Value` bridges.

use std::collections::BTreeMap;

use palisade_toon::{
    DecodeOptions, Delimiter, EncodeOptions, ErrorKind, Value, decode_json, encode_json,
    from_slice, from_str, to_string, to_string_with, to_writer,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Customer {
    name: String,
    country: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Open,
    Shipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: Customer,
    total: f64,
    status: Status,
    note: Option<String>,
}

fn orders() -> Vec<Order> {
    vec![
        Order {
            id: 1,
            customer: Customer {
                name: "Ada".into(),
                country: "DK".into(),
            },
            total: 99.5,
            status: Status::Open,
            note: None,
        },
        Order {
            id: 2,
            customer: Customer {
                name: "Bob, Jr.".into(),
                country: "UK".into(),
            },
            total: 149.0,
            status: Status::Shipped,
            note: Some("fragile: yes".into()),
        },
    ]
}

#[test]
fn structs_round_trip_through_nested_field_groups() -> Result<(), palisade_toon::Error> {
    let text = to_string(&orders())?;
    assert_eq!(
        text,
        "[2]{id,customer{name,country},total,status,note}:\n  1,Ada,DK,99.5,open,null\n  2,\"Bob, Jr.\",UK,149,shipped,\"fragile: yes\""
    );
    let back: Vec<Order> = from_str(&text)?;
    assert_eq!(back, orders());
    let back: Vec<Order> = from_slice(text.as_bytes())?;
    assert_eq!(back, orders());
    Ok(())
}

#[test]
fn every_delimiter_round_trips() -> Result<(), palisade_toon::Error> {
    for d in Delimiter::ALL {
        let text = to_string_with(&orders(), &EncodeOptions::new().delimiter(d))?;
        let back: Vec<Order> = from_str(&text)?;
        assert_eq!(back, orders(), "{d}");
    }
    Ok(())
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Point,
    Circle(f64),
    Rect { w: u32, h: u32 },
    Pair(i8, i8),
}

#[test]
fn enums_use_external_tagging() -> Result<(), palisade_toon::Error> {
    let shapes = vec![
        Shape::Point,
        Shape::Circle(1.5),
        Shape::Rect { w: 2, h: 3 },
        Shape::Pair(-1, 1),
    ];
    let text = to_string(&shapes)?;
    assert_eq!(
        text,
        "[4]:\n  - Point\n  - Circle: 1.5\n  - Rect:\n      w: 2\n      h: 3\n  - Pair[2]: -1,1"
    );
    let back: Vec<Shape> = from_str(&text)?;
    assert_eq!(back, shapes);
    Ok(())
}

#[test]
fn maps_with_non_string_keys_and_unit_values() -> Result<(), palisade_toon::Error> {
    let mut m = BTreeMap::new();
    m.insert(2u32, ());
    m.insert(10u32, ());
    assert_eq!(to_string(&m)?, "\"2\": null\n\"10\": null");
    let bad: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
    assert!(matches!(
        to_string(&bad).map_err(|e| e.kind().clone()),
        Err(ErrorKind::KeyMustBeString)
    ));
    Ok(())
}

#[test]
fn whole_floats_read_into_integers_and_floats() -> Result<(), palisade_toon::Error> {
    #[derive(Deserialize)]
    struct N {
        a: u8,
        b: f32,
        c: i64,
    }
    let n: N = from_str("a: 1.0\nb: 1e3\nc: -0")?;
    assert_eq!((n.a, n.b, n.c), (1, 1000.0, 0));
    Ok(())
}

#[test]
fn non_finite_floats_encode_as_null() -> Result<(), palisade_toon::Error> {
    assert_eq!(
        to_string(&[f64::NAN, f64::INFINITY, -0.0, 1e-7])?,
        "[4]: null,null,0,1e-7"
    );
    Ok(())
}

#[test]
fn type_mismatch_is_an_error_not_a_panic() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Want {
        id: u32,
    }
    let err = from_str::<Want>("id: hello")
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(err.is_err_and(|e| e.contains("invalid type")));
    // Type errors carry the line (and, for table cells, the column) too.
    let err = from_str::<Vec<Want>>("[3]{id}:\n  1\n  x\n  3").err();
    let pos = err.as_ref().and_then(palisade_toon::Error::position);
    assert_eq!(pos.map(|p| (p.line, p.column)), Some((3, 3)), "{err:?}");
    let err = from_str::<Vec<Want>>("[2]{id,more}:\n  1,a\n  2,\"b\"").map(|_| ());
    assert!(err.is_ok());
    let err = from_str::<Want>("a: 1\nid: -5").err();
    assert_eq!(err.and_then(|e| e.line()), Some(2));
}

#[test]
fn writer_gets_the_same_text() -> Result<(), palisade_toon::Error> {
    let mut buf = Vec::new();
    to_writer(&mut buf, &orders())?;
    assert_eq!(String::from_utf8_lossy(&buf), to_string(&orders())?);
    Ok(())
}

#[test]
fn serde_json_value_bridges() -> Result<(), palisade_toon::Error> {
    let json = serde_json::json!({"tags": ["a", "b"], "n": 1.5});
    let text = encode_json(&json, &EncodeOptions::default())?;
    let back = decode_json(&text, &DecodeOptions::default())?;
    assert_eq!(back, json);
    let v: Value = json.clone().into();
    let again: serde_json::Value = v.into();
    assert_eq!(again, json);
    Ok(())
}

#[test]
fn value_deserializes_any_toon() -> Result<(), palisade_toon::Error> {
    let v: Value = from_str("servers[2:]{host,port}:\n  a: x.example,80\n  b: y.example,443")?;
    assert_eq!(
        v.get("servers")
            .and_then(|s| s.get("b"))
            .and_then(|b| b.get("port"))
            .and_then(Value::as_f64),
        Some(443.0)
    );
    Ok(())
}

/// The direct-writing fast path and the `Value` path must agree byte for byte.
fn assert_paths_agree<T: Serialize>(value: &T) -> Result<(), palisade_toon::Error> {
    for d in Delimiter::ALL {
        for indent in [1, 2, 4] {
            let opts = EncodeOptions::new().delimiter(d).indent(indent);
            let fast = to_string_with(value, &opts)?;
            let tree = palisade_toon::encode(&palisade_toon::to_value(value)?, &opts)?;
            assert_eq!(fast, tree, "delimiter {d}, indent {indent}");
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Flat {
    id: i64,
    name: String,
    score: f64,
    tag: Option<char>,
    on: bool,
}

#[derive(Serialize)]
struct Doc {
    title: &'static str,
    count: u32,
    tags: Vec<&'static str>,
    empty: Vec<u8>,
    rows: Vec<Flat>,
    maybe: Option<Vec<Flat>>,
    status: Status,
    none: Option<u8>,
}

#[derive(Serialize)]
struct Sparse {
    id: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
}

#[test]
fn fast_path_matches_value_path() -> Result<(), palisade_toon::Error> {
    let flat = |i: i64| Flat {
        id: -i,
        name: [
            "", "a,b", "true", "- x", "#c", " pad", "Émile|x", "05", "a\tb", "ok",
        ][(i % 10) as usize]
            .into(),
        score: [0.0, -0.0, 1e-7, 1.5, 1e21, f64::NAN, 123456.789][(i % 7) as usize],
        tag: (i % 2 == 0).then_some(':'),
        on: i % 3 == 0,
    };
    let rows: Vec<Flat> = (0..12).map(flat).collect();
    assert_paths_agree(&rows)?;
    assert_paths_agree(&Vec::<Flat>::new())?;
    assert_paths_agree(&vec!["a", "b,c", "", "null"])?;
    assert_paths_agree(&Doc {
        title: "report: Q3",
        count: 3,
        tags: vec!["x", "y|z"],
        empty: vec![],
        rows,
        maybe: Some(vec![flat(1)]),
        status: Status::Shipped,
        none: None,
    })?;
    // Shapes the fast path declines still encode correctly through the tree.
    assert_paths_agree(&vec![
        Sparse { id: 1, note: None },
        Sparse {
            id: 2,
            note: Some("n"),
        },
    ])?;
    assert_paths_agree(&orders())?;
    assert_paths_agree(&vec![vec![1, 2], vec![3]])?;
    assert_paths_agree(&BTreeMap::from([("a", 1), ("b", 2)]))?;
    assert_paths_agree(&42)?;
    Ok(())
}

/// A sequence whose `Serialize` states a length it does not deliver.
struct Lying {
    says: usize,
    rows: Vec<Flat>,
}

impl Serialize for Lying {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.says))?;
        for r in &self.rows {
            seq.serialize_element(r)?;
        }
        seq.end()
    }
}

#[test]
fn table_rows_written_directly_keep_the_true_length_and_escapes() -> Result<(), palisade_toon::Error>
{
    let row = |i: i64, name: &str| Flat {
        id: i,
        name: name.into(),
        score: 0.5,
        tag: None,
        on: true,
    };
    let rows = vec![
        row(1, "q\"x\\y"),
        row(2, "line\nbreak\r\u{1}\u{1f}"),
        row(3, "2018-05-09T12:03:18Z"),
    ];
    assert_paths_agree(&rows)?;
    // A declared length that is wrong either way: the table still states
    // the rows it really has.
    for says in [0, 1, 2, 4, 100, usize::MAX] {
        let lying = Lying {
            says,
            rows: rows.iter().map(|r| row(r.id, &r.name)).collect(),
        };
        let text = to_string_with(&lying, &EncodeOptions::new())?;
        assert!(text.starts_with("[3]{"), "declared {says}: {text}");
        assert_eq!(text, palisade_toon::to_string(&rows)?);
    }
    Ok(())
}

/// Integer and bool fields read common cells directly; every cell must come
/// out as the general typing of the cell says.
#[test]
fn typed_cells_match_the_general_typing() -> Result<(), palisade_toon::Error> {
    #[derive(Deserialize)]
    struct U {
        v: u64,
    }
    #[derive(Deserialize)]
    struct I {
        v: i64,
    }
    #[derive(Deserialize)]
    struct B {
        v: bool,
    }
    #[derive(Deserialize)]
    struct Any {
        v: serde_json::Value,
    }
    let tokens = [
        "0",
        "00",
        "007",
        "1",
        "42",
        "-0",
        "-1",
        "-42",
        "1e3",
        "1.0",
        "1.5",
        "+1",
        "0x1",
        "9999999999999999999",
        "18446744073709551615",
        "18446744073709551616",
        "9223372036854775807",
        "9223372036854775808",
        "true",
        "false",
        "True",
        "null",
        "x",
        "1a",
        "12 3",
    ];
    for t in tokens {
        let doc = format!("[1]{{v}}:\n  {t}");
        let general = from_str::<Vec<Any>>(&doc).map(|mut v| v.remove(0).v);
        let expect_u = general.as_ref().ok().and_then(serde_json::Value::as_u64);
        let expect_i = general.as_ref().ok().and_then(serde_json::Value::as_i64);
        let expect_b = general.as_ref().ok().and_then(serde_json::Value::as_bool);
        let u = from_str::<Vec<U>>(&doc).ok().map(|v| v[0].v);
        let i = from_str::<Vec<I>>(&doc).ok().map(|v| v[0].v);
        let b = from_str::<Vec<B>>(&doc).ok().map(|v| v[0].v);
        assert_eq!(u, expect_u, "u64 from {t}");
        assert_eq!(i, expect_i, "i64 from {t}");
        assert_eq!(b, expect_b, "bool from {t}");
    }
    Ok(())
}

#[test]
fn table_rows_deserialize_into_borrowed_optional_and_enum_fields()
-> Result<(), palisade_toon::Error> {
    #[derive(Debug, PartialEq, Deserialize)]
    struct Row<'a> {
        name: &'a str,
        status: Status,
        note: Option<String>,
        score: f32,
    }
    let text = "[3]{name,extra,status,note,score}:\n  Ada,1,open,null,1\n  Bob,x,shipped,\"a\\\"b\",2.5\n  \"C, D\",null,open,\"\",-0";
    let rows: Vec<Row<'_>> = from_str(text)?;
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        Row {
            name: "Ada",
            status: Status::Open,
            note: None,
            score: 1.0
        }
    );
    assert_eq!(rows[1].note.as_deref(), Some("a\"b"));
    assert_eq!(
        (rows[2].name, rows[2].note.as_deref(), rows[2].score),
        ("C, D", Some(""), 0.0)
    );
    // A bad escape in a cell is a decode error with its position.
    let err = from_str::<Vec<Row<'_>>>("[1]{name,status,note,score}:\n  Ada,open,\"x\\q\",1").err();
    assert_eq!(
        err.and_then(|e| e.position()).map(|p| (p.line, p.column)),
        Some((2, 12))
    );
    Ok(())
}

//! Native serde: typed structs, enums, options and maps through TOON, and the
//! `serde_json::Value` bridges.

use std::collections::BTreeMap;

use palisade_toon::{
    DecodeOptions, Delimiter, EncodeOptions, ErrorKind, Value, decode_json, encode_json, from_slice, from_str,
    to_string, to_string_with, to_writer,
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
            customer: Customer { name: "Ada".into(), country: "DK".into() },
            total: 99.5,
            status: Status::Open,
            note: None,
        },
        Order {
            id: 2,
            customer: Customer { name: "Bob, Jr.".into(), country: "UK".into() },
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
    let shapes = vec![Shape::Point, Shape::Circle(1.5), Shape::Rect { w: 2, h: 3 }, Shape::Pair(-1, 1)];
    let text = to_string(&shapes)?;
    assert_eq!(text, "[4]:\n  - Point\n  - Circle: 1.5\n  - Rect:\n      w: 2\n      h: 3\n  - Pair[2]: -1,1");
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
    assert!(matches!(to_string(&bad).map_err(|e| e.kind().clone()), Err(ErrorKind::KeyMustBeString)));
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
    assert_eq!(to_string(&[f64::NAN, f64::INFINITY, -0.0, 1e-7])?, "[4]: null,null,0,1e-7");
    Ok(())
}

#[test]
fn type_mismatch_is_an_error_not_a_panic() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Want {
        id: u32,
    }
    let err = from_str::<Want>("id: hello").map(|_| ()).map_err(|e| e.to_string());
    assert!(err.is_err_and(|e| e.contains("invalid type")));
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
    assert_eq!(v.get("servers").and_then(|s| s.get("b")).and_then(|b| b.get("port")).and_then(Value::as_f64), Some(443.0));
    Ok(())
}

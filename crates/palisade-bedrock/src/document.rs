//! Smithy [`Document`]s (the SDK's untyped JSON) as `serde_json` values.

use aws_smithy_types::{Document, Number};
use serde_json::Value;

/// Converts a document; non-finite floats (which JSON cannot hold) become null.
pub(crate) fn to_json(document: &Document) -> Value {
    match document {
        Document::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        Document::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Document::Number(Number::PosInt(n)) => Value::from(*n),
        Document::Number(Number::NegInt(n)) => Value::from(*n),
        Document::Number(Number::Float(f)) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        Document::String(s) => Value::String(s.clone()),
        Document::Bool(b) => Value::Bool(*b),
        Document::Null => Value::Null,
    }
}

/// Converts a JSON value into a document (integers stay integers).
pub(crate) fn from_json(value: &Value) -> Document {
    match value {
        Value::Object(map) => {
            Document::Object(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
        Value::Array(items) => Document::Array(items.iter().map(from_json).collect()),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(0.0))
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Bool(b) => Document::Bool(*b),
        Value::Null => Document::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn converts_nested_documents() {
        let doc = Document::Object(HashMap::from([(
            "a".to_owned(),
            Document::Array(vec![
                Document::Number(Number::PosInt(1)),
                Document::Number(Number::NegInt(-2)),
                Document::Number(Number::Float(0.5)),
                Document::String("s".into()),
                Document::Bool(true),
                Document::Null,
            ]),
        )]));
        assert_eq!(
            to_json(&doc),
            serde_json::json!({"a": [1, -2, 0.5, "s", true, null]})
        );
    }
}

//! Items of a reply's list that were left out because they do not have the
//! expected shape.
//!
//! A model that returns six findings, one with a capitalised category or a
//! confidence written as a word, has still returned five good ones. The
//! built-in outputs read their lists item by item: a bad item is dropped
//! with the reason and kept aside as written, and the reply as a whole
//! still parses. Only a reply whose own fields are wrong (a missing
//! summary, a list that is not a list) fails to parse.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// An element of a reply's list that was left out, with why.
///
/// ```
/// use palisade_prompt::builtins::SectionAnalysis;
/// use palisade_prompt::parse_json;
///
/// let reply = r#"{"section_summary": "Fees.", "findings": [
///   {"category": "amount", "description": "A fee of EUR 40.", "evidence": "EUR 40", "confidence": 0.9},
///   {"category": "Risk", "description": "Unclear.", "evidence": "fee", "confidence": 0.9}
/// ]}"#;
/// let analysis: SectionAnalysis = parse_json(reply)?;
/// assert_eq!(analysis.findings.len(), 1);
/// let dropped = &analysis.dropped_findings[0];
/// assert_eq!(dropped.index, 1);
/// assert!(dropped.reason.contains("unknown variant `Risk`"));
/// assert_eq!(dropped.value["category"], "Risk");
/// # Ok::<(), palisade_prompt::ExtractError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedItem {
    /// Its index in the list the model wrote.
    pub index: usize,
    /// Why it was dropped: the deserializer's message, e.g. ``missing field
    /// `confidence` `` or `confidence 85 is outside 0..=1`.
    pub reason: String,
    /// The item as the model wrote it.
    pub value: serde_json::Value,
}

/// Reads each value as a `T`; those that do not read are dropped with the
/// reason.
pub(super) fn read_items<T: DeserializeOwned>(
    values: Vec<serde_json::Value>,
) -> (Vec<T>, Vec<DroppedItem>) {
    let mut kept = Vec::with_capacity(values.len());
    let mut dropped = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        // `T::deserialize(&value)` reads without consuming, so the value is
        // still there to keep when it does not read.
        match T::deserialize(&value) {
            Ok(item) => kept.push(item),
            Err(err) => dropped.push(DroppedItem {
                index,
                reason: err.to_string(),
                value,
            }),
        }
    }
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Item {
        n: u8,
    }

    #[test]
    fn bad_items_are_dropped_with_their_index_and_reason() {
        let (kept, dropped) = read_items::<Item>(vec![
            json!({"n": 1}),
            json!({"n": "x"}),
            json!(3),
            json!({"n": 2}),
        ]);
        assert_eq!(kept, [Item { n: 1 }, Item { n: 2 }]);
        assert_eq!(dropped.iter().map(|d| d.index).collect::<Vec<_>>(), [1, 2]);
        assert!(
            dropped[0].reason.contains("invalid type"),
            "{}",
            dropped[0].reason
        );
        assert_eq!(dropped[1].value, json!(3));
    }
}

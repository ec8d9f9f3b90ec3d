//! Confidence filtering: keep only the findings a model is sure enough of.
//!
//! Analysis templates ask the model for a `confidence` between 0 and 1 on
//! every finding; the seed system keeps findings at or above
//! [`SEED_MIN_CONFIDENCE`] (0.80). Two ways to filter:
//!
//! - typed: implement [`Confidence`] on your finding type and call
//!   [`retain_confident`] after [`parse_json`](crate::parse_json);
//! - untyped: [`retain_confident_json`] filters an array inside a
//!   `serde_json::Value`, located by JSON Pointers (RFC 6901), before or
//!   instead of deserializing.
//!
//! A finding without a confidence (or with NaN) is dropped: an unstated
//! confidence is not a high one.
//!
//! A confidence outside 0 ..= 1 (`85`, `1.7`, `-0.2`) is an error, never
//! clamped: `85` may mean 85 % or nothing at all, and clamping it to 1.0
//! would rank it above every honest answer. The filters drop such items
//! (counted apart in [`ConfidenceFilterOutcome::out_of_range`]); typed
//! outputs refuse the value when they are parsed, through
//! [`deserialize_confidence`].

/// The threshold the seed system filters findings at.
pub const SEED_MIN_CONFIDENCE: f64 = 0.80;

/// Something a model stated a confidence for.
pub trait Confidence {
    /// The stated confidence, 0.0 ..= 1.0, or `None` if it was not given.
    fn confidence(&self) -> Option<f64>;

    /// Whether the confidence is stated, within 0 ..= 1, and at least `min`.
    fn is_confident(&self, min: f64) -> bool {
        self.confidence()
            .is_some_and(|c| is_in_range(c) && c >= min)
    }
}

/// Keeps the items whose confidence is within 0 ..= 1 and at least `min`,
/// in order; returns how many were dropped.
///
/// ```
/// use palisade_prompt::{retain_confident, Confidence, SEED_MIN_CONFIDENCE};
///
/// struct Finding { confidence: f64 }
/// impl Confidence for Finding {
///     fn confidence(&self) -> Option<f64> { Some(self.confidence) }
/// }
///
/// let mut findings = vec![
///     Finding { confidence: 0.95 },
///     Finding { confidence: 0.5 },
///     Finding { confidence: 0.8 },
///     Finding { confidence: 85.0 }, // out of range: dropped, not clamped
/// ];
/// assert_eq!(retain_confident(&mut findings, SEED_MIN_CONFIDENCE), 2);
/// assert_eq!(findings.len(), 2);
/// ```
pub fn retain_confident<T: Confidence>(items: &mut Vec<T>, min: f64) -> usize {
    let before = items.len();
    items.retain(|item| item.is_confident(min));
    before - items.len()
}

/// Why [`retain_confident_json`] could not filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfidenceError {
    /// The array pointer does not resolve in the value.
    #[error("no value at JSON pointer `{pointer}`")]
    NotFound {
        /// The pointer.
        pointer: String,
    },
    /// The pointer resolves to something other than an array.
    #[error("the value at JSON pointer `{pointer}` is a {found}, not an array")]
    NotAnArray {
        /// The pointer.
        pointer: String,
        /// What was found there.
        found: &'static str,
    },
}

/// What [`retain_confident_json`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfidenceFilterOutcome {
    /// Items kept.
    pub kept: usize,
    /// Items below the threshold, dropped.
    pub below_threshold: usize,
    /// Items without a numeric confidence at the field pointer, dropped.
    pub missing_confidence: usize,
    /// Items whose confidence is outside 0 ..= 1, dropped.
    pub out_of_range: usize,
}

/// Filters the array at `array_pointer` (`""` for the root, `/findings`,
/// `/result/items`…) in place, keeping elements whose number at
/// `field_pointer` (relative to the element, e.g. `/confidence`) is at least
/// `min`. A number outside 0 ..= 1 is dropped and counted in
/// [`out_of_range`](ConfidenceFilterOutcome::out_of_range).
///
/// ```
/// use palisade_prompt::{retain_confident_json, SEED_MIN_CONFIDENCE};
/// use serde_json::json;
///
/// let mut reply = json!({"findings": [
///     {"text": "a", "confidence": 0.92},
///     {"text": "b", "confidence": 0.41},
///     {"text": "c"},
///     {"text": "d", "confidence": 85}
/// ]});
/// let outcome = retain_confident_json(&mut reply, "/findings", "/confidence", SEED_MIN_CONFIDENCE)?;
/// assert_eq!((outcome.kept, outcome.below_threshold, outcome.missing_confidence), (1, 1, 1));
/// assert_eq!(outcome.out_of_range, 1);
/// assert_eq!(reply["findings"][0]["text"], "a");
/// # Ok::<(), palisade_prompt::ConfidenceError>(())
/// ```
pub fn retain_confident_json(
    value: &mut serde_json::Value,
    array_pointer: &str,
    field_pointer: &str,
    min: f64,
) -> Result<ConfidenceFilterOutcome, ConfidenceError> {
    let target = value
        .pointer_mut(array_pointer)
        .ok_or_else(|| ConfidenceError::NotFound {
            pointer: array_pointer.to_owned(),
        })?;
    let found = kind_name(target);
    let items = target
        .as_array_mut()
        .ok_or_else(|| ConfidenceError::NotAnArray {
            pointer: array_pointer.to_owned(),
            found,
        })?;
    let mut outcome = ConfidenceFilterOutcome::default();
    items.retain(|item| {
        match item
            .pointer(field_pointer)
            .and_then(serde_json::Value::as_f64)
        {
            Some(c) if !is_in_range(c) => {
                outcome.out_of_range += 1;
                false
            }
            Some(c) if c >= min => {
                outcome.kept += 1;
                true
            }
            Some(_) => {
                outcome.below_threshold += 1;
                false
            }
            None => {
                outcome.missing_confidence += 1;
                false
            }
        }
    });
    Ok(outcome)
}

/// Whether `confidence` is a real confidence: 0 ..= 1 (NaN is not).
fn is_in_range(confidence: f64) -> bool {
    (0.0..=1.0).contains(&confidence)
}

/// Deserializes a confidence, refusing a number outside 0 ..= 1 with a
/// message naming it ("confidence 85 is outside 0..=1"), for
/// `#[serde(deserialize_with = "palisade_prompt::deserialize_confidence")]`
/// on your own output types. The built-in outputs use it on every
/// confidence.
///
/// ```
/// #[derive(Debug, serde::Deserialize)]
/// struct Verdict {
///     #[serde(deserialize_with = "palisade_prompt::deserialize_confidence")]
///     confidence: f64,
/// }
///
/// let ok: Verdict = serde_json::from_str(r#"{"confidence": 0.9}"#)?;
/// assert_eq!(ok.confidence, 0.9);
/// let err = serde_json::from_str::<Verdict>(r#"{"confidence": 85}"#).unwrap_err();
/// assert!(err.to_string().contains("confidence 85 is outside 0..=1"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn deserialize_confidence<'de, D>(deserializer: D) -> Result<f64, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let confidence = <f64 as serde::Deserialize>::deserialize(deserializer)?;
    if is_in_range(confidence) {
        Ok(confidence)
    } else {
        Err(serde::de::Error::custom(format_args!(
            "confidence {confidence} is outside 0..=1"
        )))
    }
}

fn kind_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct F(Option<f64>);
    impl Confidence for F {
        fn confidence(&self) -> Option<f64> {
            self.0
        }
    }

    #[test]
    fn threshold_is_inclusive_and_nan_or_missing_is_dropped() {
        let mut items = vec![
            F(Some(0.8)),
            F(Some(0.79)),
            F(None),
            F(Some(f64::NAN)),
            F(Some(1.0)),
            F(Some(1.000_001)),
            F(Some(-0.0)),
        ];
        assert_eq!(retain_confident(&mut items, SEED_MIN_CONFIDENCE), 5);
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn json_errors_name_the_pointer() {
        let mut v = json!({"findings": {"a": 1}});
        assert_eq!(
            retain_confident_json(&mut v, "/findings", "/confidence", 0.8),
            Err(ConfidenceError::NotAnArray {
                pointer: "/findings".into(),
                found: "object"
            })
        );
        assert_eq!(
            retain_confident_json(&mut v, "/nope", "/confidence", 0.8),
            Err(ConfidenceError::NotFound {
                pointer: "/nope".into()
            })
        );
    }

    #[test]
    fn root_array_and_nested_field() {
        let mut v = json!([{"m": {"c": 0.9}}, {"m": {"c": "high"}}]);
        let outcome = retain_confident_json(&mut v, "", "/m/c", 0.8).unwrap();
        assert_eq!(outcome.kept, 1);
        assert_eq!(outcome.missing_confidence, 1);
    }
}

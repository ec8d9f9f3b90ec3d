//! Token report (feature `tokens`): what the same data costs as JSON and as
//! TOON under the o200k_base tokenizer, and [`encode_for_prompt`], which picks
//! the cheapest encoding so TOON never costs more than compact JSON.

use std::sync::OnceLock;

use serde::Serialize;
use tiktoken_rs::CoreBPE;

use crate::encode::encode;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{Delimiter, EncodeOptions};
use crate::ser::to_value;
use crate::value::Value;

/// The o200k_base table, built once per process (building it takes tens of
/// milliseconds; counting afterwards is cheap).
fn tokenizer() -> Result<&'static CoreBPE> {
    static BPE: OnceLock<std::result::Result<CoreBPE, String>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_base().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::new(ErrorKind::Message(format!("o200k_base tokenizer: {e}"))))
}

/// Number of o200k_base tokens in `text` (special-token text counts as plain
/// text, so untrusted data cannot smuggle control tokens into the count).
///
/// # Errors
///
/// Only if the bundled tokenizer table cannot be loaded.
pub fn count_tokens(text: &str) -> Result<usize> {
    Ok(tokenizer()?.encode_ordinary(text).len())
}

/// Size of one encoding of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FormatCost {
    /// UTF-8 bytes.
    pub bytes: usize,
    /// o200k_base tokens.
    pub tokens: usize,
}

impl FormatCost {
    fn of(text: &str) -> Result<Self> {
        Ok(FormatCost {
            bytes: text.len(),
            tokens: count_tokens(text)?,
        })
    }

    /// Token savings of `self` relative to `baseline`, in percent (positive
    /// when `self` is cheaper).
    #[must_use]
    pub fn savings_vs(&self, baseline: &FormatCost) -> f64 {
        if baseline.tokens == 0 {
            return 0.0;
        }
        (baseline.tokens as f64 - self.tokens as f64) * 100.0 / baseline.tokens as f64
    }
}

/// What the same data costs in each format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenReport {
    /// `JSON.stringify(data, null, 2)` layout.
    pub json_pretty: FormatCost,
    /// JSON without whitespace.
    pub json_compact: FormatCost,
    /// TOON with comma delimiter (the default).
    pub toon_comma: FormatCost,
    /// TOON with tab delimiter.
    pub toon_tab: FormatCost,
    /// TOON with pipe delimiter.
    pub toon_pipe: FormatCost,
}

impl TokenReport {
    /// Measures `value` in every format.
    ///
    /// # Errors
    ///
    /// Serialization errors of `value`, or a tokenizer that cannot load.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        Self::of_value(&to_value(value)?)
    }

    /// Measures an already-built [`Value`].
    ///
    /// # Errors
    ///
    /// As [`TokenReport::of`].
    pub fn of_value(value: &Value) -> Result<Self> {
        let toon = |d: Delimiter| -> Result<FormatCost> {
            FormatCost::of(&encode(value, &EncodeOptions::new().delimiter(d))?)
        };
        Ok(TokenReport {
            json_pretty: FormatCost::of(&json_pretty(value)?)?,
            json_compact: FormatCost::of(&json_compact(value)?)?,
            toon_comma: toon(Delimiter::Comma)?,
            toon_tab: toon(Delimiter::Tab)?,
            toon_pipe: toon(Delimiter::Pipe)?,
        })
    }

    /// The TOON cost for `delimiter`.
    #[must_use]
    pub fn toon(&self, delimiter: Delimiter) -> FormatCost {
        match delimiter {
            Delimiter::Comma => self.toon_comma,
            Delimiter::Tab => self.toon_tab,
            Delimiter::Pipe => self.toon_pipe,
        }
    }
}

fn json_error(e: &serde_json::Error) -> Error {
    Error::new(ErrorKind::Message(e.to_string()))
}

/// JSON with 2-space indentation, keys in order.
pub(crate) fn json_pretty(value: &Value) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| json_error(&e))
}

/// JSON without whitespace, keys in order.
pub(crate) fn json_compact(value: &Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| json_error(&e))
}

/// The format [`encode_for_prompt`] chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptFormat {
    /// TOON with this delimiter.
    Toon(Delimiter),
    /// Compact JSON (TOON would have cost more).
    JsonCompact,
}

/// The cheapest encoding of some data, with the counts behind the choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptEncoding {
    /// The text to put in the prompt.
    pub text: String,
    /// Which format `text` is in.
    pub format: PromptFormat,
    /// Tokens of `text`.
    pub tokens: usize,
    /// Tokens the same data costs as compact JSON.
    pub json_compact_tokens: usize,
}

/// Encodes `value` in whichever of TOON (comma, tab, pipe) and compact JSON
/// costs the fewest o200k_base tokens; on a tie TOON wins (its lengths and
/// field lists help a model read the data), so the result never costs more
/// than compact JSON.
///
/// ```
/// # #[cfg(feature = "tokens")] {
/// let rows: Vec<_> = (0..20).map(|i| serde_json::json!({"id": i, "name": format!("user{i}")})).collect();
/// let enc = palisade_toon::encode_for_prompt(&rows)?;
/// assert!(enc.tokens <= enc.json_compact_tokens);
/// assert!(matches!(enc.format, palisade_toon::PromptFormat::Toon(_)));
/// # }
/// # Ok::<(), palisade_toon::Error>(())
/// ```
///
/// # Errors
///
/// Serialization errors of `value`, or a tokenizer that cannot load.
pub fn encode_for_prompt<T: Serialize + ?Sized>(value: &T) -> Result<PromptEncoding> {
    let value = to_value(value)?;
    let json = json_compact(&value)?;
    let json_tokens = count_tokens(&json)?;
    let mut best = PromptEncoding {
        text: json,
        format: PromptFormat::JsonCompact,
        tokens: json_tokens,
        json_compact_tokens: json_tokens,
    };
    // Reverse order so that, on ties, the earlier delimiter (comma) wins.
    for d in [Delimiter::Pipe, Delimiter::Tab, Delimiter::Comma] {
        let text = encode(&value, &EncodeOptions::new().delimiter(d))?;
        let tokens = count_tokens(&text)?;
        if tokens <= best.tokens {
            best = PromptEncoding {
                text,
                format: PromptFormat::Toon(d),
                tokens,
                json_compact_tokens: json_tokens,
            };
        }
    }
    Ok(best)
}

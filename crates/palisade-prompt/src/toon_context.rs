//! Structured context in the fewest tokens: TOON, or compact JSON when that
//! is cheaper.
//!
//! [`PromptInputs::context_toon`] serializes data with palisade-toon's
//! `encode_for_prompt`, which measures TOON (comma, tab and pipe delimiters)
//! and compact JSON with the o200k_base tokenizer and keeps the cheapest.
//! The block's `format` attribute tells the model which it got:
//! `<records format="toon">` or `<records format="json">`. Like all context,
//! the encoded text is escaped, so a string value containing `</context>`
//! stays data.

use palisade_toon::PromptFormat;
use serde::Serialize;

use crate::context::{ContextBlock, ContextFormat};
use crate::error::PromptError;
use crate::inputs::PromptInputs;

/// How a structured context block was encoded and what that saved.
///
/// Counts are o200k_base tokens of the encoded text before escaping; they
/// compare formats, they are not the budget's estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEncoding {
    /// The context block.
    pub name: String,
    /// The format chosen.
    pub format: ContextFormat,
    /// Tokens of the chosen encoding.
    pub tokens: usize,
    /// Tokens the same data costs as compact JSON.
    pub json_compact_tokens: usize,
}

impl ContextEncoding {
    /// Tokens saved against compact JSON (0 when JSON was chosen).
    pub fn saved_tokens(&self) -> usize {
        self.json_compact_tokens.saturating_sub(self.tokens)
    }
}

impl PromptInputs {
    /// Fills context slot `name` with `value`, encoded as TOON or, when that
    /// is cheaper, compact JSON; returns the choice and the tokens it saved.
    /// Replaces an earlier block of the same name.
    ///
    /// ```
    /// use palisade_prompt::{ContextFormat, PromptInputs};
    ///
    /// #[derive(serde::Serialize)]
    /// struct Section { id: u32, heading: String }
    /// let sections: Vec<Section> = (1..=12)
    ///     .map(|id| Section { id, heading: format!("Heading {id}") })
    ///     .collect();
    ///
    /// let mut inputs = PromptInputs::new();
    /// let encoding = inputs.context_toon("sections", &sections)?;
    /// assert_eq!(encoding.format, ContextFormat::Toon);
    /// assert!(encoding.saved_tokens() > 0);
    /// # Ok::<(), palisade_prompt::PromptError>(())
    /// ```
    pub fn context_toon<T: Serialize + ?Sized>(
        &mut self,
        name: impl Into<String>,
        value: &T,
    ) -> Result<ContextEncoding, PromptError> {
        let name = name.into();
        let encoded =
            palisade_toon::encode_for_prompt(value).map_err(|e| PromptError::ContextEncoding {
                name: name.clone(),
                message: e.to_string(),
            })?;
        let format = match encoded.format {
            PromptFormat::JsonCompact => ContextFormat::Json,
            PromptFormat::Toon(_) => ContextFormat::Toon,
        };
        let encoding = ContextEncoding {
            name: name.clone(),
            format,
            tokens: encoded.tokens,
            json_compact_tokens: encoded.json_compact_tokens,
        };
        self.set_context(ContextBlock {
            name,
            body: encoded.text,
            format,
            encoding: Some(encoding.clone()),
        });
        Ok(encoding)
    }
}

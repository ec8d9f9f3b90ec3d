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

use palisade_core::CachePoint;
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
            cache_point: None,
        });
        Ok(encoding)
    }

    /// Like [`context_toon`](Self::context_toon), with a prompt-cache point
    /// right after the block: the prefix up to its closing tag may be cached
    /// (see [`ContextSlot::with_cache_point`](crate::ContextSlot::with_cache_point)
    /// for declaring it on the template instead).
    ///
    /// ```
    /// use palisade_core::{CachePoint, ContentBlock};
    /// use palisade_prompt::{ContextSlot, PromptInputs, PromptTemplate};
    ///
    /// let template = PromptTemplate::builder("t")
    ///     .task("Answer from the records.")
    ///     .context(ContextSlot::required("records"))
    ///     .user_message("question")
    ///     .build()?;
    /// let mut inputs = PromptInputs::new();
    /// inputs.context_toon_cached("records", &[[1, 2], [3, 4]], CachePoint::default())?;
    /// inputs.user_message("Sum?");
    /// let request = template.render(&inputs)?.into_chat_request();
    /// let turn = &request.messages[0].content;
    /// assert!(matches!(turn[1], ContentBlock::CachePoint { .. }));
    /// assert!(turn[0].as_text().unwrap().ends_with("</records>"));
    /// # Ok::<(), palisade_prompt::PromptError>(())
    /// ```
    pub fn context_toon_cached<T: Serialize + ?Sized>(
        &mut self,
        name: impl Into<String>,
        value: &T,
        point: CachePoint,
    ) -> Result<ContextEncoding, PromptError> {
        let name = name.into();
        let encoding = self.context_toon(name.clone(), value)?;
        if let Some(block) = self.contexts.iter_mut().find(|b| b.name == name) {
            block.cache_point = Some(point);
        }
        Ok(encoding)
    }
}

//! Drafting: from a template and its inputs to a [`Draft`], the rendered
//! prompt before budget fitting.
//!
//! Rendering happens in two steps so fitting can work between them: [`draft`]
//! interpolates the authored parts and checks the inputs, keeping context
//! bodies raw; a [`Draft`] then assembles the user turn, with any context
//! blocks cut short, as many times as fitting needs.

use std::borrow::Cow;

use palisade_core::{CachePoint, ContentBlock, Message, Role, Tool, ToolChoice};

use crate::budget::BudgetReport;
use crate::context::ContextFormat;
use crate::error::PromptError;
use crate::escape::{escape_text, strip_control_characters};
use crate::inputs::PromptInputs;
use crate::rendered::RenderedPrompt;
use crate::section::{push_section, separate_sections};
use crate::template::{PromptTemplate, TemplateCachePoints};
use crate::toon_context::ContextEncoding;

/// A context block placed in the draft, raw (unescaped), so that fitting can
/// cut it on a character boundary of what the caller gave.
#[derive(Debug, Clone)]
pub(crate) struct PlacedContext {
    pub(crate) tag: String,
    pub(crate) format: ContextFormat,
    pub(crate) raw: String,
    pub(crate) truncatable: bool,
    /// The cache point after the block (the block's own, else its slot's).
    pub(crate) cache_point: Option<CachePoint>,
}

/// The user turn as one text, and where in it (byte offsets, at the end of a
/// block's closing tag or of the text) cache points go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserTurn {
    pub(crate) text: String,
    pub(crate) cache_points: Vec<(usize, CachePoint)>,
}

impl UserTurn {
    /// The text cut at the cache points: the text blocks of the request's
    /// user message, in order (empty pieces left out).
    pub(crate) fn pieces(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.cache_points
            .iter()
            .map(|(at, _)| *at)
            .chain([self.text.len()])
            .filter_map(move |end| {
                let piece = self.text.get(start..end).unwrap_or_default();
                start = end;
                (!piece.is_empty()).then_some(piece)
            })
    }
}

/// A rendered prompt before fitting: authored parts interpolated, context
/// raw.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub(crate) system: Option<String>,
    /// The `<task>` section (or nothing).
    pub(crate) before_context: String,
    pub(crate) contexts: Vec<PlacedContext>,
    /// Examples, constraints, output format and the user's message.
    pub(crate) after_context: String,
    pub(crate) history: Vec<Message>,
    pub(crate) encodings: Vec<ContextEncoding>,
    pub(crate) tools: Vec<Tool>,
    pub(crate) tool_choice: Option<ToolChoice>,
    pub(crate) cache_points: TemplateCachePoints,
}

impl Draft {
    /// The user turn with context block `i` cut to its first `kept[i]` bytes
    /// (a char boundary; its full length means uncut).
    pub(crate) fn user_turn(&self, kept: &[usize]) -> UserTurn {
        let mut out = self.before_context.clone();
        let mut cache_points = Vec::new();
        if !self.contexts.is_empty() {
            let mut blocks = String::new();
            let mut block_ends = Vec::new();
            for (i, block) in self.contexts.iter().enumerate() {
                if i > 0 {
                    blocks.push('\n');
                }
                let keep = kept.get(i).copied().unwrap_or(block.raw.len());
                let body = truncated_body(&block.raw, keep);
                let attribute = block.format.attribute().map(|value| ("format", value));
                push_section(&mut blocks, &block.tag, attribute, &body);
                if let Some(point) = block.cache_point {
                    block_ends.push((blocks.len(), point));
                }
            }
            separate_sections(&mut out);
            // The blocks start right after `<context>\n`.
            let blocks_start = out.len() + "<context>\n".len();
            cache_points.extend(
                block_ends
                    .into_iter()
                    .map(|(end, p)| (blocks_start + end, p)),
            );
            push_section(&mut out, "context", None, &blocks);
        }
        if !self.after_context.is_empty() {
            separate_sections(&mut out);
            out.push_str(&self.after_context);
        }
        if let Some(point) = self.cache_points.user_turn {
            cache_points.push((out.len(), point));
        }
        UserTurn {
            text: out,
            cache_points,
        }
    }

    /// Every context block at full length.
    pub(crate) fn full_lengths(&self) -> Vec<usize> {
        self.contexts.iter().map(|c| c.raw.len()).collect()
    }

    pub(crate) fn finish(
        self,
        history_start: usize,
        kept: &[usize],
        max_tokens: Option<u32>,
        budget: Option<BudgetReport>,
    ) -> RenderedPrompt {
        let user_turn = self.user_turn(kept);
        let mut history = self.history;
        history.drain(..history_start.min(history.len()));
        RenderedPrompt {
            system: self.system,
            history,
            user_turn: user_turn.text,
            user_turn_cache_points: user_turn.cache_points,
            tools: self.tools,
            tool_choice: self.tool_choice,
            cache_points: self.cache_points,
            max_tokens,
            encodings: self.encodings,
            budget,
        }
    }

    pub(crate) fn into_rendered(self) -> RenderedPrompt {
        let kept = self.full_lengths();
        self.finish(0, &kept, None, None)
    }
}

/// The escaped body of a block cut to `keep` bytes, with a marker saying how
/// much was left out.
fn truncated_body(raw: &str, keep: usize) -> String {
    if keep >= raw.len() {
        return escape_text(raw).into_owned();
    }
    let kept = raw.get(..keep).unwrap_or_default();
    let mut body = escape_text(kept).into_owned();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    body.push_str(&truncation_marker(
        raw[kept.len()..].chars().count(),
        raw.chars().count(),
    ));
    body
}

/// The marker that ends a cut block; plain ASCII, no tag characters.
fn truncation_marker(omitted_chars: usize, total_chars: usize) -> String {
    format!(
        "[truncated: {omitted_chars} of {total_chars} characters omitted to fit the context window]"
    )
}

/// Interpolates the template's authored parts with `inputs` and checks the
/// inputs against what the template declares.
pub(crate) fn draft(
    template: &PromptTemplate,
    inputs: &PromptInputs,
) -> Result<Draft, PromptError> {
    check_history(&inputs.history)?;
    let vars = minijinja::Value::from(inputs.vars.clone());
    let provided = inputs.provided_names();
    let render = |part: &str| -> Result<String, PromptError> {
        Ok(template
            .interpolator
            .render(part, &vars, &provided)?
            .trim()
            .to_owned())
    };

    let system_parts = template
        .system_parts
        .iter()
        .map(|part| render(part))
        .collect::<Result<Vec<_>, _>>()?;
    let system = (!system_parts.is_empty()).then(|| system_parts.join("\n\n"));

    let mut before_context = String::new();
    if let Some(task) = &template.task {
        push_section(&mut before_context, "task", None, &render(task)?);
    }

    let contexts = place_contexts(template, inputs)?;
    let encodings = inputs
        .contexts
        .iter()
        .filter_map(|block| block.encoding.clone())
        .collect();

    let mut after_context = String::new();
    if !template.examples.is_empty() {
        let mut examples = String::new();
        for (i, example) in template.examples.iter().enumerate() {
            if i > 0 {
                examples.push('\n');
            }
            let mut pair = String::new();
            push_section(&mut pair, "input", None, &escape_text(&example.input));
            pair.push('\n');
            push_section(&mut pair, "output", None, &escape_text(&example.output));
            push_section(&mut examples, "example", None, &pair);
        }
        push_section(&mut after_context, "examples", None, &examples);
    }
    if !template.constraints.is_empty() {
        let mut bullets = String::new();
        for (i, part) in template.constraints.iter().enumerate() {
            if i > 0 {
                bullets.push('\n');
            }
            bullets.push_str("- ");
            bullets.push_str(&render(part)?);
        }
        separate_sections(&mut after_context);
        push_section(&mut after_context, "constraints", None, &bullets);
    }
    if let Some((part, schema)) = &template.output {
        let mut body = render(part)?;
        if let Some(schema) = schema {
            separate_sections(&mut body);
            body.push_str("```json\n");
            body.push_str(&escape_text(schema.trim()));
            body.push_str("\n```");
        }
        separate_sections(&mut after_context);
        push_section(&mut after_context, "output_format", None, &body);
    }
    match (&template.user_message_tag, &inputs.user_message) {
        (Some(tag), Some(message)) => {
            separate_sections(&mut after_context);
            push_section(
                &mut after_context,
                tag.as_str(),
                None,
                &escape_text(message),
            );
        }
        (Some(tag), None) => {
            return Err(PromptError::MissingUserMessage {
                template: template.name.clone(),
                tag: tag.to_string(),
            });
        }
        (None, Some(_)) => {
            return Err(PromptError::UnexpectedUserMessage {
                template: template.name.clone(),
            });
        }
        (None, None) => {}
    }

    Ok(Draft {
        system,
        before_context,
        contexts,
        after_context,
        history: inputs.history.iter().map(clean_message).collect(),
        encodings,
        tools: template.tools.clone(),
        tool_choice: template.tool_choice.clone(),
        cache_points: template.cache_points,
    })
}

/// A history turn with the control characters removed from its text
/// blocks. A turn is its own message, so nothing in it needs escaping to
/// keep the prompt's structure; only what no prompt should carry goes.
/// Other blocks (reasoning with its signature, data) are left as given.
fn clean_message(message: &Message) -> Message {
    let mut message = message.clone();
    for block in &mut message.content {
        if let ContentBlock::Text { text } = block
            && let Cow::Owned(cleaned) = strip_control_characters(text)
        {
            *text = cleaned;
        }
    }
    message
}

/// Matches filled blocks to the template's slots, in slot order.
fn place_contexts(
    template: &PromptTemplate,
    inputs: &PromptInputs,
) -> Result<Vec<PlacedContext>, PromptError> {
    if let Some(unknown) = inputs.contexts.iter().find(|block| {
        !template
            .slots
            .iter()
            .any(|(tag, _)| tag.as_str() == block.name)
    }) {
        return Err(PromptError::UnknownContext {
            template: template.name.clone(),
            name: unknown.name.clone(),
            declared: template
                .slots
                .iter()
                .map(|(tag, _)| tag.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let mut placed = Vec::new();
    for (tag, slot) in &template.slots {
        match inputs
            .contexts
            .iter()
            .find(|block| block.name == tag.as_str())
        {
            Some(block) => placed.push(PlacedContext {
                tag: tag.to_string(),
                format: block.format,
                raw: block.body.clone(),
                truncatable: slot.truncatable,
                cache_point: block.cache_point.or(slot.cache_point),
            }),
            None if slot.required => {
                return Err(PromptError::MissingContext {
                    template: template.name.clone(),
                    name: tag.to_string(),
                });
            }
            None => {}
        }
    }
    Ok(placed)
}

/// History must read as a conversation the new user turn can follow.
fn check_history(history: &[Message]) -> Result<(), PromptError> {
    for (index, message) in history.iter().enumerate() {
        let expected = if index % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        if message.role != expected {
            let reason = if index == 0 {
                "history must start with a user turn".to_owned()
            } else {
                "user and assistant turns must alternate".to_owned()
            };
            return Err(PromptError::InvalidHistory { index, reason });
        }
    }
    if history.len() % 2 == 1 {
        return Err(PromptError::InvalidHistory {
            index: history.len() - 1,
            reason:
                "history must end with an assistant turn; the rendered prompt is the next user turn"
                    .to_owned(),
        });
    }
    Ok(())
}

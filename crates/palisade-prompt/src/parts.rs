//! The authored parts of a template that are more than a line of text:
//! context slots, few-shot examples and the output specification.

use palisade_core::CachePoint;

/// A named context block a template expects its inputs to fill, rendered as
/// `<name>…</name>` inside the prompt's `<context>` section.
///
/// Slots are declared by the template and filled per render (text with
/// [`PromptInputs::context_text`], data with [`PromptInputs::context_toon`]),
/// so a template states what data it reads, and a typo in a name is an error
/// instead of a silently missing document.
///
/// [`PromptInputs::context_text`]: crate::PromptInputs::context_text
/// [`PromptInputs::context_toon`]: crate::PromptInputs::context_toon
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextSlot {
    pub(crate) name: String,
    pub(crate) required: bool,
    pub(crate) truncatable: bool,
    pub(crate) cache_point: Option<CachePoint>,
}

impl ContextSlot {
    /// A block the inputs must provide.
    pub fn required(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            required: true,
            truncatable: false,
            cache_point: None,
        }
    }

    /// A block the inputs may leave out; it is then not rendered at all.
    pub fn optional(name: impl Into<String>) -> Self {
        Self {
            required: false,
            ..Self::required(name)
        }
    }

    /// Marks the block as one that budget fitting may shorten (after all
    /// history has been dropped), cutting its tail and adding a marker. Long
    /// documents are the usual candidates; keep short, dense data whole.
    #[must_use]
    pub fn truncatable(mut self) -> Self {
        self.truncatable = true;
        self
    }

    /// Puts a prompt-cache point right after the block (when it is filled):
    /// everything up to its closing tag (system prompt, tools, history,
    /// task, this and the earlier blocks) may be cached, so put stable data
    /// first and cache after it. Shortened by budget fitting, the block
    /// keeps its cache point.
    #[must_use]
    pub fn with_cache_point(mut self, point: CachePoint) -> Self {
        self.cache_point = Some(point);
        self
    }

    /// The block's tag name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether inputs must provide it.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// Whether budget fitting may shorten it.
    pub fn is_truncatable(&self) -> bool {
        self.truncatable
    }

    /// The cache point after the block, if declared.
    pub fn cache_point(&self) -> Option<CachePoint> {
        self.cache_point
    }
}

/// A few-shot example: an input and the output the model should give for it.
///
/// Both are placed verbatim but escaped (inside `<example><input>` and
/// `<output>`), so an example reply with markup cannot break the structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub(crate) input: String,
    pub(crate) output: String,
}

impl Example {
    /// An example input and its expected output.
    pub fn new(input: impl Into<String>, output: impl Into<String>) -> Self {
        Self {
            input: input.into(),
            output: output.into(),
        }
    }

    /// The example input.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The expected output.
    pub fn output(&self) -> &str {
        &self.output
    }
}

/// What the model must answer with, rendered as the `<output_format>`
/// section: the instructions (a template, interpolated like the task) and,
/// for JSON output, the schema shown to the model in a ```` ```json ```` fence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub(crate) instructions: String,
    pub(crate) json_schema: Option<String>,
}

impl OutputSpec {
    /// Free-form output instructions (a template).
    pub fn text(instructions: impl Into<String>) -> Self {
        Self {
            instructions: instructions.into(),
            json_schema: None,
        }
    }

    /// Strict JSON output: the instructions (a template) and the schema the
    /// reply must follow, usually an annotated example object. Read replies
    /// with [`parse_json`](crate::parse_json).
    pub fn json(instructions: impl Into<String>, schema: impl Into<String>) -> Self {
        Self {
            instructions: instructions.into(),
            json_schema: Some(schema.into()),
        }
    }

    /// The instruction template.
    pub fn instructions(&self) -> &str {
        &self.instructions
    }

    /// The JSON schema shown to the model, if the output is JSON.
    pub fn json_schema(&self) -> Option<&str> {
        self.json_schema.as_deref()
    }
}

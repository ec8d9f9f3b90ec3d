//! [`PromptTemplate`]: the named parts of a prompt, parsed once, rendered many
//! times.

use palisade_core::{CachePoint, ChatRequest, Tool, ToolChoice};

use crate::budget::TokenBudget;
use crate::draft::draft;
use crate::error::PromptError;
use crate::inputs::PromptInputs;
use crate::interpolate::Interpolator;
use crate::parts::{ContextSlot, Example, OutputSpec};
use crate::rendered::RenderedPrompt;
use crate::section::TagName;

/// A prompt template with named parts, following the Task → Context →
/// Examples → Constraints → Output pattern.
///
/// - The **system prompt** is the role, expertise and behaviour, joined by
///   blank lines.
/// - The **user turn** is `<task>`, `<context>` (one block per
///   [`ContextSlot`]), `<examples>`, `<constraints>`, `<output_format>` and,
///   when the template takes one, the user's message, in that order, each
///   present section separated by a blank line.
/// - **History** from the inputs goes between them as real turns.
/// - **Tools** the template declares (with a tool choice) go into the
///   request as they are, and **cache points** mark what may be cached:
///   after the system prompt, after the tools, after the history, after a
///   context block ([`ContextSlot::with_cache_point`]) or after the whole
///   user turn. Each lands where the request model puts it
///   ([`ChatRequest::system_cache_point`], [`ChatRequest::tools_cache_point`],
///   a [`ContentBlock::CachePoint`](palisade_core::ContentBlock::CachePoint)
///   in a message).
///
/// Authored parts are minijinja templates (see the [`interpolate`
/// module](crate#interpolation)); they are parsed by
/// [`build`](PromptTemplateBuilder::build), so a syntax error surfaces there
/// with line and column. Everything that comes from inputs is escaped.
///
/// ```
/// use palisade_prompt::{ContextSlot, PromptInputs, PromptTemplate};
///
/// let template = PromptTemplate::builder("summarise")
///     .role("You are a careful editor.")
///     .task("Summarise the {{ kind }} in one sentence.")
///     .context(ContextSlot::required("document"))
///     .build()?;
/// assert_eq!(template.required_variables(), ["kind"]);
///
/// let mut inputs = PromptInputs::new();
/// inputs.var("kind", "memo").context_text("document", "Ship </document> on Friday.");
/// let prompt = template.render(&inputs)?;
/// assert_eq!(
///     prompt.user_turn(),
///     "<task>\nSummarise the memo in one sentence.\n</task>\n\n\
///      <context>\n<document>\nShip &lt;/document&gt; on Friday.\n</document>\n</context>"
/// );
/// # Ok::<(), palisade_prompt::PromptError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PromptTemplate {
    pub(crate) name: String,
    pub(crate) interpolator: std::sync::Arc<Interpolator>,
    /// Part ids of role, expertise, behaviour (those present), in order.
    pub(crate) system_parts: Vec<String>,
    pub(crate) task: Option<String>,
    pub(crate) slots: Vec<(TagName, ContextSlot)>,
    pub(crate) examples: Vec<Example>,
    pub(crate) constraints: Vec<String>,
    /// Part id of the output instructions and the JSON schema.
    pub(crate) output: Option<(String, Option<String>)>,
    pub(crate) user_message_tag: Option<TagName>,
    pub(crate) tools: Vec<Tool>,
    pub(crate) tool_choice: Option<ToolChoice>,
    pub(crate) cache_points: TemplateCachePoints,
}

/// The cache points a template declares outside its context blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TemplateCachePoints {
    pub(crate) system: Option<CachePoint>,
    pub(crate) tools: Option<CachePoint>,
    pub(crate) history: Option<CachePoint>,
    pub(crate) user_turn: Option<CachePoint>,
}

impl PromptTemplate {
    /// Starts a template; `name` prefixes its part names in errors.
    pub fn builder(name: impl Into<String>) -> PromptTemplateBuilder {
        PromptTemplateBuilder {
            name: name.into(),
            role: None,
            expertise: None,
            behaviour: None,
            task: None,
            slots: Vec::new(),
            examples: Vec::new(),
            constraints: Vec::new(),
            output: None,
            user_message_tag: None,
            tools: Vec::new(),
            tool_choice: None,
            cache_points: TemplateCachePoints::default(),
        }
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every variable the authored parts read, sorted: the inputs a render
    /// needs, known before rendering. Loop variables and the engine's
    /// globals are not listed.
    pub fn required_variables(&self) -> Vec<String> {
        self.interpolator.required_variables().into_iter().collect()
    }

    /// The context blocks the template reads, in render order.
    pub fn context_slots(&self) -> impl Iterator<Item = &ContextSlot> {
        self.slots.iter().map(|(_, slot)| slot)
    }

    /// The tools the template declares, in order.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// The tag the user's latest message is placed in, if the template takes
    /// one.
    pub fn user_message_tag(&self) -> Option<&str> {
        self.user_message_tag.as_ref().map(TagName::as_str)
    }

    /// Renders the prompt with nothing trimmed.
    pub fn render(&self, inputs: &PromptInputs) -> Result<RenderedPrompt, PromptError> {
        Ok(draft(self, inputs)?.into_rendered())
    }

    /// Renders the prompt and fits it into `budget`: system, task and the
    /// latest user turn are kept; the oldest history turns go first, then
    /// truncatable context blocks are shortened. See [`TokenBudget`].
    pub fn render_within(
        &self,
        inputs: &PromptInputs,
        budget: &TokenBudget,
    ) -> Result<RenderedPrompt, PromptError> {
        Ok(budget.fit(draft(self, inputs)?)?)
    }
}

/// Builds a [`PromptTemplate`]; every part is optional.
#[derive(Debug, Clone)]
#[must_use]
pub struct PromptTemplateBuilder {
    name: String,
    role: Option<String>,
    expertise: Option<String>,
    behaviour: Option<String>,
    task: Option<String>,
    slots: Vec<ContextSlot>,
    examples: Vec<Example>,
    constraints: Vec<String>,
    output: Option<OutputSpec>,
    user_message_tag: Option<String>,
    tools: Vec<Tool>,
    tool_choice: Option<ToolChoice>,
    cache_points: TemplateCachePoints,
}

impl PromptTemplateBuilder {
    /// Who the model is ("You are a …"); first paragraph of the system prompt.
    pub fn role(mut self, template: impl Into<String>) -> Self {
        self.role = Some(template.into());
        self
    }

    /// What the model knows; second paragraph of the system prompt.
    pub fn expertise(mut self, template: impl Into<String>) -> Self {
        self.expertise = Some(template.into());
        self
    }

    /// How the model behaves (tone, refusals, uncertainty); third paragraph
    /// of the system prompt.
    pub fn behaviour(mut self, template: impl Into<String>) -> Self {
        self.behaviour = Some(template.into());
        self
    }

    /// What to do, in the `<task>` section.
    pub fn task(mut self, template: impl Into<String>) -> Self {
        self.task = Some(template.into());
        self
    }

    /// Declares a context block, rendered in declaration order.
    pub fn context(mut self, slot: ContextSlot) -> Self {
        self.slots.push(slot);
        self
    }

    /// Adds a few-shot example to the `<examples>` section.
    pub fn example(mut self, example: Example) -> Self {
        self.examples.push(example);
        self
    }

    /// Adds a constraint, one `- ` bullet in the `<constraints>` section.
    pub fn constraint(mut self, template: impl Into<String>) -> Self {
        self.constraints.push(template.into());
        self
    }

    /// Sets the `<output_format>` section.
    pub fn output(mut self, spec: OutputSpec) -> Self {
        self.output = Some(spec);
        self
    }

    /// Makes the template take the user's latest message, placed (escaped)
    /// in a `<tag>` section at the end of the user turn.
    pub fn user_message(mut self, tag: impl Into<String>) -> Self {
        self.user_message_tag = Some(tag.into());
        self
    }

    /// Declares a tool the model may call; every rendered request carries
    /// it (and its definition counts against a token budget).
    pub fn tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self
    }

    /// How the model picks among the tools (`None` leaves it to the
    /// provider).
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = Some(choice);
        self
    }

    /// A cache point after the system prompt
    /// ([`ChatRequest::system_cache_point`]).
    pub fn cache_after_system(mut self, point: CachePoint) -> Self {
        self.cache_points.system = Some(point);
        self
    }

    /// A cache point after the tool definitions
    /// ([`ChatRequest::tools_cache_point`]); needs at least one tool.
    pub fn cache_after_tools(mut self, point: CachePoint) -> Self {
        self.cache_points.tools = Some(point);
        self
    }

    /// A cache point at the end of the last history turn kept (none when no
    /// history is left), so a conversation's earlier turns are read from
    /// the cache on the next call.
    pub fn cache_after_history(mut self, point: CachePoint) -> Self {
        self.cache_points.history = Some(point);
        self
    }

    /// A cache point at the end of the user turn: the whole prompt may be
    /// cached, for the next turn of the conversation to read.
    pub fn cache_after_user_turn(mut self, point: CachePoint) -> Self {
        self.cache_points.user_turn = Some(point);
        self
    }

    /// Validates names, tools and cache points, and parses every authored
    /// part.
    pub fn build(self) -> Result<PromptTemplate, PromptError> {
        let name = self.name;
        check_tools(
            &name,
            &self.tools,
            self.tool_choice.as_ref(),
            self.cache_points,
        )?;
        let mut interpolator = Interpolator::new();
        let mut add = |part: &str, source: String| -> Result<String, PromptError> {
            let id = format!("{name}.{part}");
            interpolator.add_part(id.clone(), &source)?;
            Ok(id)
        };

        let mut system_parts = Vec::new();
        for (part, source) in [
            ("role", self.role),
            ("expertise", self.expertise),
            ("behaviour", self.behaviour),
        ] {
            if let Some(source) = source {
                system_parts.push(add(part, source)?);
            }
        }
        let task = self.task.map(|source| add("task", source)).transpose()?;
        let constraints = self
            .constraints
            .into_iter()
            .enumerate()
            .map(|(i, source)| add(&format!("constraints[{i}]"), source))
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .output
            .map(|spec| Ok::<_, PromptError>((add("output", spec.instructions)?, spec.json_schema)))
            .transpose()?;

        let mut slots: Vec<(TagName, ContextSlot)> = Vec::with_capacity(self.slots.len());
        for slot in self.slots {
            let tag = TagName::new(&slot.name)?;
            if slots.iter().any(|(existing, _)| *existing == tag) {
                return Err(PromptError::DuplicateContext {
                    template: name,
                    name: slot.name,
                });
            }
            slots.push((tag, slot));
        }
        let user_message_tag = self
            .user_message_tag
            .as_deref()
            .map(TagName::new)
            .transpose()?;

        Ok(PromptTemplate {
            name,
            interpolator: std::sync::Arc::new(interpolator),
            system_parts,
            task,
            slots,
            examples: self.examples,
            constraints,
            output,
            user_message_tag,
            tools: self.tools,
            tool_choice: self.tool_choice,
            cache_points: self.cache_points,
        })
    }
}

/// The template's tools and tool choice, checked by the request rules they
/// will meet (`palisade_core::validate`) so a bad declaration fails at
/// build, not at every call.
fn check_tools(
    template: &str,
    tools: &[Tool],
    choice: Option<&ToolChoice>,
    cache_points: TemplateCachePoints,
) -> Result<(), PromptError> {
    let invalid = |field: &str, message: String| PromptError::InvalidRequestPart {
        template: template.to_owned(),
        field: field.to_owned(),
        message,
    };
    if cache_points.tools.is_some() && tools.is_empty() {
        return Err(invalid(
            "tools_cache_point",
            "a cache point after the tools needs at least one tool".to_owned(),
        ));
    }
    let mut probe = ChatRequest::user("probe");
    probe.tools = tools.to_vec();
    probe.tool_choice = choice.cloned();
    palisade_core::validate(&probe).map_err(|e| invalid(e.field(), e.message().to_owned()))
}

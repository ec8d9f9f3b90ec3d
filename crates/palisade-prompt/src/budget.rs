//! Fitting a prompt into a model's context window; see [`TokenBudget`].

use std::fmt;
use std::sync::Arc;

use palisade_core::{
    HeuristicEstimator, Message, TokenEstimator, block_tokens, tool_definition_tokens,
};

use crate::draft::Draft;
use crate::rendered::{RenderedPrompt, render_text};

/// Framing tokens per message and per request, as
/// [`TokenEstimator::estimate_request`] adds them by default.
const PER_MESSAGE_OVERHEAD: u32 = 4;
const PER_REQUEST_OVERHEAD: u32 = 3;

/// A model's context window, the output tokens to leave room for, and the
/// estimator that counts the rest.
///
/// A request's input plus its `max_tokens` must fit the model's context
/// window. [`TokenBudget`] fits a rendered prompt into
/// `context_window − max_tokens` input tokens, in this order:
///
/// 1. the system prompt, the task and the latest user turn are always kept;
/// 2. history is dropped oldest first, one user/assistant exchange at a time
///    (so the conversation still starts with a user turn);
/// 3. with all history gone, context blocks marked
///    [`truncatable`](crate::ContextSlot::truncatable) are cut, largest first:
///    each keeps its longest prefix that fits and ends with a marker saying
///    how many characters were left out;
/// 4. if even that does not fit, [`BudgetError::DoesNotFit`] reports the
///    numbers.
///
/// Tokens are counted with the budget's [`TokenEstimator`] (by default the
/// [`HeuristicEstimator`]) the way [`TokenEstimator::estimate_request`]
/// counts a request by default: every text, plus 4 tokens of framing per
/// message (the system prompt included) and 3 per request, plus the
/// template's tool definitions ([`tool_definition_tokens`]). A fitted prompt's
/// [`ChatRequest`](palisade_core::ChatRequest) therefore estimates to the
/// reported count under that estimator.
///
/// The budget holds for **every rendering**: a prompt fits only when its
/// chat request and its [`to_text`](RenderedPrompt::to_text) rendering
/// (counted as the one message of a request) both fit. The text can be the
/// dearer one, because it wraps history turns in tags and escapes them
/// (markup-heavy turns grow with every `&lt;`).
///
/// ```
/// use palisade_core::Message;
/// use palisade_prompt::{PromptInputs, PromptTemplate, TokenBudget};
///
/// let template = PromptTemplate::builder("chat").task("Answer.").user_message("question").build()?;
/// let mut inputs = PromptInputs::new();
/// let turn = "word ".repeat(200);
/// inputs
///     .history((0..10).flat_map(|_| [Message::user(&turn), Message::assistant(&turn)]))
///     .user_message("And now?");
///
/// let prompt = template.render_within(&inputs, &TokenBudget::new(4_000, 1_000))?;
/// let report = prompt.budget_report().unwrap();
/// assert!(report.input_tokens <= 3_000);
/// assert_eq!(report.dropped_history_messages, 10); // the five oldest exchanges
/// # Ok::<(), palisade_prompt::PromptError>(())
/// ```
#[derive(Clone)]
pub struct TokenBudget {
    context_window: u32,
    max_tokens: u32,
    estimator: Arc<dyn TokenEstimator>,
}

impl fmt::Debug for TokenBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBudget")
            .field("context_window", &self.context_window)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

/// What fitting did to a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetReport {
    /// Estimated input tokens of the fitted prompt's chat request.
    pub input_tokens: u32,
    /// Estimated input tokens of its [`to_text`](RenderedPrompt::to_text)
    /// rendering sent as the one message of a request; also within
    /// [`available_input_tokens`](Self::available_input_tokens).
    pub text_tokens: u32,
    /// The most input tokens that fit: context window − max_tokens.
    pub available_input_tokens: u32,
    /// History messages dropped, oldest first (always an even number).
    pub dropped_history_messages: usize,
    /// Context blocks that were cut, in the order they were cut.
    pub truncated: Vec<TruncatedContext>,
}

/// A context block that fitting cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedContext {
    /// The block's name.
    pub name: String,
    /// Characters kept from its start.
    pub kept_chars: usize,
    /// Characters it had.
    pub total_chars: usize,
}

/// A prompt that cannot fit its budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// Even with all history dropped and every truncatable block cut to its
    /// marker, the prompt needs more input tokens than the window leaves.
    #[error(
        "prompt does not fit: it needs at least {minimum_input_tokens} input tokens \
         (system {system_tokens}, user turn {user_turn_tokens}; {text_tokens} as one text) \
         after dropping {dropped_history_messages} history messages and cutting \
         {truncated_contexts} context blocks, but only {available_input_tokens} are available \
         (context window {context_window} − max_tokens {max_tokens})"
    )]
    DoesNotFit {
        /// The smallest chat request the prompt can be shrunk to.
        minimum_input_tokens: u32,
        /// The smallest its one-text rendering can be shrunk to.
        text_tokens: u32,
        /// Tokens of the system prompt, framing included.
        system_tokens: u32,
        /// Tokens of the user turn at its smallest, framing included.
        user_turn_tokens: u32,
        /// The input tokens available.
        available_input_tokens: u32,
        /// The model's context window.
        context_window: u32,
        /// The output tokens reserved.
        max_tokens: u32,
        /// History messages dropped before giving up.
        dropped_history_messages: usize,
        /// Truncatable blocks cut before giving up.
        truncated_contexts: usize,
    },
}

impl TokenBudget {
    /// A budget for a model with `context_window` tokens that may answer with
    /// up to `max_tokens`; counts with the [`HeuristicEstimator`].
    pub fn new(context_window: u32, max_tokens: u32) -> Self {
        Self {
            context_window,
            max_tokens,
            estimator: Arc::new(HeuristicEstimator),
        }
    }

    /// Counts with `estimator` instead (an exact tokenizer, say).
    #[must_use]
    pub fn with_estimator(mut self, estimator: impl TokenEstimator + 'static) -> Self {
        self.estimator = Arc::new(estimator);
        self
    }

    /// Counts with a shared estimator.
    #[must_use]
    pub fn with_shared_estimator(mut self, estimator: Arc<dyn TokenEstimator>) -> Self {
        self.estimator = estimator;
        self
    }

    /// The model's context window.
    pub fn context_window(&self) -> u32 {
        self.context_window
    }

    /// The output tokens reserved; fitted prompts' requests carry it.
    pub fn max_tokens(&self) -> u32 {
        self.max_tokens
    }

    /// The input tokens a prompt may use: context window − max_tokens.
    pub fn available_input_tokens(&self) -> u32 {
        self.context_window.saturating_sub(self.max_tokens)
    }

    /// A history turn's tokens, block by block as the core estimator counts
    /// a request (tool use, images and documents included), plus framing.
    fn message_tokens(&self, message: &Message) -> u32 {
        message
            .content
            .iter()
            .fold(PER_MESSAGE_OVERHEAD, |sum, block| {
                sum.saturating_add(block_tokens(&*self.estimator, block))
            })
    }

    /// What the prompt costs with history from `start` and context blocks
    /// cut to `kept`: its chat request, and its one-text rendering.
    fn measure(
        &self,
        draft: &Draft,
        fixed: u32,
        suffix: &[u32],
        start: usize,
        kept: &[usize],
    ) -> Cost {
        let user_turn = draft.user_turn(kept);
        // Counted as the request will carry it: one text block per piece
        // between cache points (which cost nothing themselves).
        let user_turn_tokens = user_turn.pieces().fold(PER_MESSAGE_OVERHEAD, |sum, piece| {
            sum.saturating_add(self.estimator.estimate_text(piece))
        });
        let chat = fixed
            .saturating_add(user_turn_tokens)
            .saturating_add(suffix[start]);
        let text = render_text(
            draft.system.as_deref(),
            &draft.history[start..],
            &user_turn.text,
        );
        let text = PER_REQUEST_OVERHEAD
            .saturating_add(PER_MESSAGE_OVERHEAD)
            .saturating_add(self.estimator.estimate_text(&text));
        Cost {
            chat,
            text,
            user_turn: user_turn_tokens,
        }
    }

    pub(crate) fn fit(&self, draft: Draft) -> Result<RenderedPrompt, BudgetError> {
        let available = self.available_input_tokens();
        let system_tokens = draft.system.as_deref().map_or(0, |system| {
            PER_MESSAGE_OVERHEAD.saturating_add(self.estimator.estimate_text(system))
        });
        // The template's tools go with every request (not with the text
        // rendering, which has no place for them).
        let fixed = PER_REQUEST_OVERHEAD
            .saturating_add(system_tokens)
            .saturating_add(tool_definition_tokens(&*self.estimator, &draft.tools));
        let mut kept = draft.full_lengths();

        // History costs from the newest back, so dropping the oldest k
        // exchanges leaves a suffix whose cost is one lookup.
        let costs: Vec<u32> = draft
            .history
            .iter()
            .map(|m| self.message_tokens(m))
            .collect();
        let mut suffix = vec![0u32; costs.len() + 1];
        for i in (0..costs.len()).rev() {
            suffix[i] = suffix[i + 1].saturating_add(costs[i]);
        }
        let fits = |cost: &Cost| cost.chat <= available && cost.text <= available;

        // History alternates and has even length (checked at draft), so
        // even starts are exchange boundaries. Both costs shrink as
        // exchanges go, so the fewest to drop is found by bisection: a few
        // renderings of the text, not one per exchange.
        let exchanges = costs.len() / 2;
        let at = |k: usize| self.measure(&draft, fixed, &suffix, 2 * k, &kept);
        let whole = at(0);
        if fits(&whole) {
            let report = self.report(&whole, 0, Vec::new());
            return Ok(draft.finish(0, &kept, Some(self.max_tokens), Some(report)));
        }
        let none_left = at(exchanges);
        if fits(&none_left) {
            // Invariant: `lo` exchanges dropped does not fit, `hi` does.
            let (mut lo, mut hi, mut cost) = (0, exchanges, none_left);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let probe = at(mid);
                if fits(&probe) {
                    (hi, cost) = (mid, probe);
                } else {
                    lo = mid;
                }
            }
            let report = self.report(&cost, 2 * hi, Vec::new());
            return Ok(draft.finish(2 * hi, &kept, Some(self.max_tokens), Some(report)));
        }

        let dropped = costs.len();
        let mut order: Vec<usize> = (0..draft.contexts.len())
            .filter(|&i| draft.contexts[i].truncatable)
            .collect();
        // Largest first: cutting one long document usually suffices and
        // leaves the smaller blocks whole.
        order.sort_by_key(|&i| std::cmp::Reverse(draft.contexts[i].raw.len()));
        let mut truncated = Vec::new();
        let cost_with = |kept: &[usize]| self.measure(&draft, fixed, &suffix, dropped, kept);
        for &i in &order {
            let raw = &draft.contexts[i].raw;
            kept[i] = 0;
            let fits_empty = fits(&cost_with(&kept));
            if fits_empty {
                kept[i] = longest_fitting_prefix(raw, |keep| {
                    let mut probe = kept.clone();
                    probe[i] = keep;
                    fits(&cost_with(&probe))
                });
            }
            truncated.push(TruncatedContext {
                name: draft.contexts[i].tag.clone(),
                kept_chars: raw[..kept[i]].chars().count(),
                total_chars: raw.chars().count(),
            });
            if fits_empty {
                let cost = cost_with(&kept);
                let report = self.report(&cost, dropped, truncated);
                return Ok(draft.finish(dropped, &kept, Some(self.max_tokens), Some(report)));
            }
        }

        let smallest = cost_with(&kept);
        Err(BudgetError::DoesNotFit {
            minimum_input_tokens: smallest.chat,
            text_tokens: smallest.text,
            system_tokens,
            user_turn_tokens: smallest.user_turn,
            available_input_tokens: available,
            context_window: self.context_window,
            max_tokens: self.max_tokens,
            dropped_history_messages: dropped,
            truncated_contexts: truncated.len(),
        })
    }

    fn report(
        &self,
        cost: &Cost,
        dropped: usize,
        truncated: Vec<TruncatedContext>,
    ) -> BudgetReport {
        BudgetReport {
            input_tokens: cost.chat,
            text_tokens: cost.text,
            available_input_tokens: self.available_input_tokens(),
            dropped_history_messages: dropped,
            truncated,
        }
    }
}

/// What a prompt costs, as a chat request and as one text.
struct Cost {
    chat: u32,
    text: u32,
    /// The user turn's share of `chat`, framing included.
    user_turn: u32,
}

/// The longest prefix of `raw` (in bytes, on a char boundary) for which
/// `fits` holds, given that the empty prefix fits. Binary search over char
/// boundaries: O(log n) probes of the whole user turn.
fn longest_fitting_prefix(raw: &str, fits: impl Fn(usize) -> bool) -> usize {
    let boundaries: Vec<usize> = raw
        .char_indices()
        .map(|(at, _)| at)
        .chain(std::iter::once(raw.len()))
        .collect();
    // Invariant: boundaries[lo] fits; boundaries[hi] does not (or is past the end).
    let (mut lo, mut hi) = (0, boundaries.len());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(boundaries[mid]) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    boundaries[lo]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_respects_char_boundaries() {
        let raw = "aé日b";
        for limit in 0..=raw.len() {
            let keep = longest_fitting_prefix(raw, |k| k <= limit);
            assert!(raw.is_char_boundary(keep));
            assert!(keep <= limit);
        }
        assert_eq!(longest_fitting_prefix(raw, |_| true), raw.len());
        assert_eq!(longest_fitting_prefix("", |_| true), 0);
    }

    #[test]
    fn available_tokens_never_underflow() {
        assert_eq!(TokenBudget::new(100, 500).available_input_tokens(), 0);
        assert_eq!(
            TokenBudget::new(8_000, 1_000).available_input_tokens(),
            7_000
        );
    }
}

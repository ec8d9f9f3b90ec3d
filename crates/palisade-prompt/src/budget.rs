//! Fitting a prompt into a model's context window; see [`TokenBudget`].

use std::fmt;
use std::sync::Arc;

use palisade_core::{ContentBlock, HeuristicEstimator, Message, TokenEstimator};

use crate::draft::Draft;
use crate::rendered::RenderedPrompt;

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
/// message (the system prompt included) and 3 per request. A fitted prompt's
/// [`ChatRequest`](palisade_core::ChatRequest) therefore estimates to the
/// reported count under that estimator.
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
    /// Estimated input tokens of the fitted prompt.
    pub input_tokens: u32,
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
         (system {system_tokens}, user turn {user_turn_tokens}) after dropping \
         {dropped_history_messages} history messages and cutting {truncated_contexts} \
         context blocks, but only {available_input_tokens} are available \
         (context window {context_window} − max_tokens {max_tokens})"
    )]
    DoesNotFit {
        /// The smallest input the prompt can be shrunk to.
        minimum_input_tokens: u32,
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

    fn message_tokens(&self, message: &Message) -> u32 {
        message
            .content
            .iter()
            .fold(PER_MESSAGE_OVERHEAD, |sum, block| {
                let n = match block {
                    ContentBlock::Json { value } => {
                        self.estimator.estimate_text(&value.to_string())
                    }
                    other => self
                        .estimator
                        .estimate_text(other.as_text().unwrap_or_default()),
                };
                sum.saturating_add(n)
            })
    }

    fn user_turn_tokens(&self, draft: &Draft, kept: &[usize]) -> u32 {
        PER_MESSAGE_OVERHEAD.saturating_add(self.estimator.estimate_text(&draft.user_turn(kept)))
    }

    pub(crate) fn fit(&self, draft: Draft) -> Result<RenderedPrompt, BudgetError> {
        let available = self.available_input_tokens();
        let system_tokens = draft.system.as_deref().map_or(0, |system| {
            PER_MESSAGE_OVERHEAD.saturating_add(self.estimator.estimate_text(system))
        });
        let fixed = PER_REQUEST_OVERHEAD.saturating_add(system_tokens);
        let mut kept = draft.full_lengths();
        let user_tokens = self.user_turn_tokens(&draft, &kept);

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
        // History alternates and has even length (checked at draft), so
        // even starts are exchange boundaries.
        let base = fixed.saturating_add(user_tokens);
        for start in (0..=costs.len()).step_by(2) {
            let total = base.saturating_add(suffix[start]);
            if total <= available {
                let report = self.report(total, start, Vec::new());
                return Ok(draft.finish(start, &kept, Some(self.max_tokens), Some(report)));
            }
        }

        let dropped = costs.len();
        let mut order: Vec<usize> = (0..draft.contexts.len())
            .filter(|&i| draft.contexts[i].truncatable)
            .collect();
        // Largest first: cutting one long document usually suffices and
        // leaves the smaller blocks whole.
        order.sort_by_key(|&i| std::cmp::Reverse(draft.contexts[i].raw.len()));
        let mut truncated = Vec::new();
        let total_with = |kept: &[usize]| fixed.saturating_add(self.user_turn_tokens(&draft, kept));
        for &i in &order {
            let raw = &draft.contexts[i].raw;
            kept[i] = 0;
            let fits_empty = total_with(&kept) <= available;
            if fits_empty {
                kept[i] = longest_fitting_prefix(raw, |keep| {
                    let mut probe = kept.clone();
                    probe[i] = keep;
                    total_with(&probe) <= available
                });
            }
            truncated.push(TruncatedContext {
                name: draft.contexts[i].tag.clone(),
                kept_chars: raw[..kept[i]].chars().count(),
                total_chars: raw.chars().count(),
            });
            if fits_empty {
                let total = total_with(&kept);
                let report = self.report(total, dropped, truncated);
                return Ok(draft.finish(dropped, &kept, Some(self.max_tokens), Some(report)));
            }
        }

        let user_turn_tokens = self.user_turn_tokens(&draft, &kept);
        Err(BudgetError::DoesNotFit {
            minimum_input_tokens: fixed.saturating_add(user_turn_tokens),
            system_tokens,
            user_turn_tokens,
            available_input_tokens: available,
            context_window: self.context_window,
            max_tokens: self.max_tokens,
            dropped_history_messages: dropped,
            truncated_contexts: truncated.len(),
        })
    }

    fn report(&self, total: u32, dropped: usize, truncated: Vec<TruncatedContext>) -> BudgetReport {
        BudgetReport {
            input_tokens: total,
            available_input_tokens: self.available_input_tokens(),
            dropped_history_messages: dropped,
            truncated,
        }
    }
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

//! [`SimulatedProvider`]: a [`Provider`] that behaves like a Bedrock model
//! under load — quotas, latency, output lengths, failures — on tokio time.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, HeuristicEstimator, Provider, ProviderError,
    ProviderId, StopReason, TokenEstimator, Usage,
};
use rand::Rng;
use serde::Serialize;
use tokio::time::Instant;

use crate::latency::CallTiming;
use crate::model::{ModelConfigError, SimulatedModelConfig};
use crate::prompt_cache::{self, PromptCache};
use crate::quota::{QuotaExceeded, QuotaLedger, ReservationId};
use crate::quota_log::QuotaLog;
use crate::rng::{SimRng, rng_for};
use crate::text::filler;

/// What a simulated model has seen, from its own side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProviderStats {
    /// Every call received.
    pub calls: u64,
    /// Calls admitted by the quotas.
    pub admitted: u64,
    /// Calls refused by the requests-per-minute quota.
    pub throttled_rpm: u64,
    /// Calls refused by the tokens-per-minute quota.
    pub throttled_tpm: u64,
    /// Calls refused by the input-tokens-per-minute quota.
    pub throttled_itpm: u64,
    /// Calls refused by the output-tokens-per-minute quota.
    pub throttled_otpm: u64,
    /// Calls refused because the model was in an outage window.
    pub outage_refusals: u64,
    /// Admitted calls that failed with an injected server error.
    pub injected_errors: u64,
    /// Calls refused for their size (context window, or a reservation larger
    /// than the whole token quota).
    pub rejected_too_large: u64,
    /// Admitted calls the caller dropped before the answer was complete.
    pub cancelled: u64,
    /// Calls answered in full.
    pub completed: u64,
    /// Input tokens of the calls answered in full.
    pub input_tokens: u64,
    /// Output tokens of the calls answered in full.
    pub output_tokens: u64,
}

impl ProviderStats {
    /// Throttles of any quota.
    pub fn throttled(&self) -> u64 {
        self.throttled_rpm + self.throttled_tpm + self.throttled_itpm + self.throttled_otpm
    }
}

pub(crate) struct Shared {
    id: ProviderId,
    config: SimulatedModelConfig,
    epoch: Instant,
    state: Mutex<State>,
    /// Every admission and settlement, in order, when a planner asked.
    quota_log: Option<QuotaLog>,
}

struct State {
    ledger: QuotaLedger,
    rng: SimRng,
    stats: ProviderStats,
    /// Prompt prefixes cached at cache points (when the model caches).
    cache: PromptCache,
}

/// A simulated model with Bedrock's quota semantics.
///
/// * **Quotas** ([`QuotaConfig`](crate::QuotaConfig)): requests per minute,
///   and tokens per minute charged as `input + max_tokens × burndown` when a
///   call is admitted and corrected to `input + output × burndown` when it
///   ends (or is dropped: then for the tokens generated so far). A call over
///   either quota fails at once with [`ErrorKind::Throttled`], with a
///   retry-after only if the config asks for one (Bedrock sends none).
/// * **Latency**: time to first token plus a time per output token, drawn per
///   call; [`stream`](Provider::stream) returns after the first token and
///   delivers the rest in chunks at that pace.
/// * **Failures**: a random server-error rate, outage windows, slow windows.
/// * **Usage**: input tokens are the request's explicit
///   `input_token_estimate` when it has one (so simulations can describe
///   sizes without building prompt text), else the heuristic estimate;
///   output tokens are drawn from the model's distribution, clamped to
///   `[1, max_tokens]`.
/// * **Prompt cache** ([`PromptCacheConfig`](crate::PromptCacheConfig),
///   off by default): prefixes up to the request's cache points are billed
///   as cache writes the first time and cache reads within their lifetime,
///   and the token quota counts the reads as the model's `cache_reads` says.
///
/// Every draw comes from one generator seeded from `(seed, model id)`, and
/// every wait is tokio time: under paused time the same calls in the same
/// order give the same answers, latencies and errors. Cheap to clone; clones
/// share the model's quota and statistics.
#[derive(Clone)]
pub struct SimulatedProvider {
    shared: Arc<Shared>,
}

impl fmt::Debug for SimulatedProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedProvider")
            .field("id", &self.shared.id)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Everything decided when a call is admitted.
struct Plan {
    reservation: ReservationId,
    usage: Usage,
    /// Every prompt token.
    prompt: u32,
    /// The prompt tokens the quota counts at settlement (cache reads are
    /// left out where the model's quota does not count them).
    quota_prompt: u32,
    output: u32,
    max_tokens: u32,
    timing: CallTiming,
    fails: bool,
}

/// A request tag that fixes the call's output length (a recorded trace's
/// `output_tokens`) instead of drawing it: `sim:output_tokens=300`.
pub const OUTPUT_TOKENS_TAG: &str = "sim:output_tokens=";
/// A request tag saying how many of its prompt tokens are read from the
/// prompt cache: `sim:cache_read=1200`.
pub const CACHE_READ_TAG: &str = "sim:cache_read=";
/// A request tag saying how many of its prompt tokens are written to the
/// prompt cache: `sim:cache_write=800`.
pub const CACHE_WRITE_TAG: &str = "sim:cache_write=";

/// The number a `sim:` tag carries, if the request has that tag.
pub(crate) fn tag_number(req: &ChatRequest, prefix: &str) -> Option<u32> {
    req.metadata
        .tags
        .iter()
        .find_map(|t| t.strip_prefix(prefix)?.parse().ok())
}

impl SimulatedProvider {
    /// A model whose windows (outages, slow spans) count from now.
    pub fn new(config: SimulatedModelConfig, seed: u64) -> Result<Self, ModelConfigError> {
        Self::starting_at(config, seed, Instant::now())
    }

    /// A model whose windows count from `epoch` (the start of a simulation).
    pub fn starting_at(
        config: SimulatedModelConfig,
        seed: u64,
        epoch: Instant,
    ) -> Result<Self, ModelConfigError> {
        Self::logged(config, seed, epoch, None)
    }

    /// A model that also writes every quota admission and settlement to
    /// `quota_log` (the planner replays them against candidate quotas).
    pub(crate) fn logged(
        config: SimulatedModelConfig,
        seed: u64,
        epoch: Instant,
        quota_log: Option<QuotaLog>,
    ) -> Result<Self, ModelConfigError> {
        config.validate()?;
        let state = State {
            ledger: QuotaLedger::new(config.quota.clone()),
            rng: rng_for(seed, &format!("model:{}", config.id)),
            stats: ProviderStats::default(),
            cache: PromptCache::default(),
        };
        Ok(Self {
            shared: Arc::new(Shared {
                id: ProviderId::new(&config.id),
                config,
                epoch,
                state: Mutex::new(state),
                quota_log,
            }),
        })
    }

    /// The model's description.
    pub fn config(&self) -> &SimulatedModelConfig {
        &self.shared.config
    }

    /// What the model has seen so far.
    pub fn stats(&self) -> ProviderStats {
        self.shared.lock().stats
    }

    /// Tokens its token quota counts now: the charges of the calls started
    /// in the last window, settled or still reserved.
    pub fn quota_tokens_in_window(&self) -> u64 {
        self.shared.lock().ledger.tokens_in_window(Instant::now())
    }

    /// Admits the call or says why not (and how long the refusal takes).
    async fn admit(&self, req: &ChatRequest) -> Result<Plan, (Duration, ProviderError)> {
        let shared = &self.shared;
        let config = &shared.config;
        // The explicit estimate is every prompt token; tags say how many of
        // them the cache served or stored.
        let prompt = HeuristicEstimator.input_tokens(req).await;
        let caching = config.prompt_cache;
        let prefixes = if caching.enabled {
            prompt_cache::prefixes(req).await
        } else {
            Vec::new()
        };
        let tagged_read = tag_number(req, CACHE_READ_TAG).unwrap_or(0).min(prompt);
        let tagged_write = tag_number(req, CACHE_WRITE_TAG)
            .unwrap_or(0)
            .min(prompt - tagged_read);
        let input = prompt;
        let now = Instant::now();
        let since_epoch = now.saturating_duration_since(shared.epoch);
        let rejection = config.latency.rejection();
        let hint = |d: Duration| config.quota.retry_after_hint.then_some(d);
        let mut state = shared.lock();
        state.stats.calls += 1;

        if let Some(until) = config.failures.outage_at(since_epoch) {
            state.stats.outage_refusals += 1;
            let err = shared
                .error(
                    ErrorKind::Unavailable,
                    503,
                    "ServiceUnavailableException: service unavailable",
                )
                .with_retry_after(hint(until.saturating_sub(since_epoch)));
            return Err((rejection, err));
        }
        if input > config.context_window {
            state.stats.rejected_too_large += 1;
            let msg = format!(
                "ValidationException: input of {input} tokens is too long for the model's {}-token context window",
                config.context_window
            );
            return Err((
                rejection,
                shared.error(ErrorKind::ContextWindowExceeded, 400, msg),
            ));
        }
        // A request with cache points meets the model's own cache; one
        // without says (by its tags) what a recorded call's cache did.
        let (cache_read, cache_write, cache_write_1h) = if prefixes.is_empty() {
            (tagged_read, tagged_write, 0)
        } else {
            let used = state.cache.lookup(now, &prefixes, &caching, prompt);
            (used.read, used.write, used.write_1h)
        };
        let uncached = prompt - cache_read;
        let quota_input = uncached + caching.cache_reads.at_admission(cache_read);
        let quota_prompt = uncached + caching.cache_reads.at_settlement(cache_read);
        let split = config.quota.reservation_split(quota_input, req.max_tokens);
        let reserve = split.tokens;
        let too_large = [
            ("tokens", config.quota.tpm, split.tokens),
            ("input-token", config.quota.itpm, split.input),
            ("output-token", config.quota.otpm, split.output),
        ]
        .into_iter()
        .find(|(_, quota, n)| quota.is_some_and(|q| *n > q));
        if let Some((what, quota, n)) = too_large {
            state.stats.rejected_too_large += 1;
            let msg = format!(
                "the call reserves {n} {what}s, more than the whole {}-{what} quota",
                quota.unwrap_or_default()
            );
            return Err((rejection, shared.error(ErrorKind::QuotaExhausted, 429, msg)));
        }
        let reservation = match state.ledger.admit_split(now, split) {
            Ok(r) => {
                if let Some(log) = &shared.quota_log {
                    log.admit(since_epoch, reserve);
                }
                r
            }
            Err(exceeded) => {
                let what = match exceeded {
                    QuotaExceeded::Requests { .. } => {
                        state.stats.throttled_rpm += 1;
                        "requests"
                    }
                    QuotaExceeded::Tokens { .. } => {
                        state.stats.throttled_tpm += 1;
                        "tokens"
                    }
                    QuotaExceeded::InputTokens { .. } => {
                        state.stats.throttled_itpm += 1;
                        "input tokens"
                    }
                    QuotaExceeded::OutputTokens { .. } => {
                        state.stats.throttled_otpm += 1;
                        "output tokens"
                    }
                };
                let msg = format!(
                    "ThrottlingException: too many {what}, please wait before trying again"
                );
                let err = shared
                    .error(ErrorKind::Throttled, 429, msg)
                    .with_retry_after(hint(exceeded.retry_after()));
                return Err((rejection, err));
            }
        };
        state.stats.admitted += 1;
        state.cache.store(now, &prefixes, &caching);
        let slowdown = config.failures.slowdown_at(since_epoch);
        let State { rng, .. } = &mut *state;
        let max_tokens = req.max_tokens.max(1);
        let fails =
            config.failures.error_rate > 0.0 && rng.random::<f64>() < config.failures.error_rate;
        let drawn = config.output_tokens.sample_clamped(rng, 1, max_tokens);
        let output = tag_number(req, OUTPUT_TOKENS_TAG).map_or(drawn, |n| n.clamp(1, max_tokens));
        let timing = config.latency.draw(rng, slowdown);
        let usage = Usage {
            input_tokens: prompt - cache_read - cache_write,
            output_tokens: output,
            cache_read_tokens: cache_read,
            cache_write_tokens: cache_write,
            cache_write_1h_tokens: cache_write_1h,
        };
        Ok(Plan {
            reservation,
            usage,
            prompt,
            quota_prompt,
            output,
            max_tokens,
            timing,
            fails,
        })
    }

    /// Starts an admitted call: the returned guard settles the quota however
    /// the call ends.
    fn open(&self, plan: &Plan) -> OpenCall {
        OpenCall {
            shared: self.shared.clone(),
            reservation: plan.reservation,
            usage: plan.usage,
            prompt: plan.prompt,
            quota_prompt: plan.quota_prompt,
            output: plan.output,
            timing: plan.timing,
            started: Instant::now(),
            ended: None,
        }
    }

    fn response(&self, plan: &Plan) -> ChatResponse {
        let mut response = ChatResponse::text(
            self.shared.id.clone(),
            filler(plan.output),
            Some(plan.usage),
        );
        if plan.output >= plan.max_tokens {
            response.stop_reason = StopReason::MaxTokens;
        }
        response
    }

    fn injected_error(&self) -> ProviderError {
        let (kind, status) = self.shared.config.failures.error_kind.kind_and_status();
        self.shared.error(kind, status, "injected server error")
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic in another holder (every
        // update is a single assignment), so keep serving rather than cascade.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self, kind: ErrorKind, status: u16, message: impl Into<String>) -> ProviderError {
        ProviderError::new(kind, message)
            .with_status(status)
            .with_provider(self.id.clone())
    }
}

/// An admitted call in progress. Dropping it settles the token quota: with the
/// whole output when the call finished, else with what was generated by then.
pub(crate) struct OpenCall {
    shared: Arc<Shared>,
    reservation: ReservationId,
    usage: Usage,
    prompt: u32,
    quota_prompt: u32,
    output: u32,
    timing: CallTiming,
    started: Instant,
    /// How the call ended on its own; `None` while open (or if dropped).
    ended: Option<Ending>,
}

#[derive(Clone, Copy)]
enum Ending {
    Answered,
    Failed,
}

impl OpenCall {
    pub(crate) fn timing(&self) -> CallTiming {
        self.timing
    }

    pub(crate) fn output(&self) -> u32 {
        self.output
    }

    pub(crate) fn usage(&self) -> Usage {
        self.usage
    }

    /// Marks the call as answered in full.
    pub(crate) fn complete(&mut self) {
        self.ended = Some(Ending::Answered);
    }

    /// Marks the call as failed before producing output.
    pub(crate) fn fail(&mut self) {
        self.ended = Some(Ending::Failed);
    }
}

impl Drop for OpenCall {
    fn drop(&mut self) {
        let now = Instant::now();
        let output = match self.ended {
            Some(Ending::Answered) => self.output,
            Some(Ending::Failed) => 0,
            None => self
                .timing
                .tokens_by(now.saturating_duration_since(self.started), self.output),
        };
        let split = self
            .shared
            .config
            .quota
            .charge_split(self.quota_prompt, output);
        let charge = split.tokens;
        let mut state = self.shared.lock();
        state.ledger.settle_split(now, self.reservation, split);
        if let Some(log) = &self.shared.quota_log {
            let since_epoch = now.saturating_duration_since(self.shared.epoch);
            log.settle(
                since_epoch,
                self.reservation.index(),
                charge,
                self.prompt,
                self.quota_prompt,
                output,
            );
        }
        match self.ended {
            Some(Ending::Failed) => state.stats.injected_errors += 1,
            Some(Ending::Answered) => {
                state.stats.completed += 1;
                state.stats.input_tokens += u64::from(self.prompt);
                state.stats.output_tokens += u64::from(self.output);
            }
            None => state.stats.cancelled += 1,
        }
    }
}

#[async_trait]
impl Provider for SimulatedProvider {
    fn id(&self) -> &ProviderId {
        &self.shared.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let plan = match self.admit(&req).await {
            Ok(plan) => plan,
            Err((after, err)) => {
                tokio::time::sleep(after).await;
                return Err(err);
            }
        };
        let mut call = self.open(&plan);
        if plan.fails {
            tokio::time::sleep(plan.timing.first_token).await;
            call.fail();
            return Err(self.injected_error());
        }
        tokio::time::sleep(plan.timing.total(plan.output)).await;
        call.complete();
        Ok(self.response(&plan))
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let plan = match self.admit(&req).await {
            Ok(plan) => plan,
            Err((after, err)) => {
                tokio::time::sleep(after).await;
                return Err(err);
            }
        };
        let mut call = self.open(&plan);
        // The stream is returned at the first token, so a failure before it is
        // an `Err` here, where retry and fallback can still act.
        tokio::time::sleep(plan.timing.first_token).await;
        if plan.fails {
            call.fail();
            return Err(self.injected_error());
        }
        Ok(crate::stream::answer_stream(
            self.id().clone(),
            call,
            plan.max_tokens,
        ))
    }

    fn context_window(&self) -> Option<u32> {
        Some(self.shared.config.context_window)
    }
}

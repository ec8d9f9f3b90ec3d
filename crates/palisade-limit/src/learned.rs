//! Learned output reservations: reserve what a route's replies really use,
//! not `max_tokens`.
//!
//! A request with `max_tokens = 8192` whose replies run to ~300 tokens holds
//! 27× its real output against the token quota until it settles; under a
//! tight tokens-per-minute quota that cuts the admitted rate by about as
//! much. [`LearnedOutput`] wraps a [`CostModel`] and, per *route* (the model
//! and the request's `route=…` tag, if it has one), tracks the output tokens
//! replies really used. Once a route has `warmup` observations, its output is
//! reserved at a high quantile of them (default p99) plus a safety margin,
//! never above `max_tokens`; before that (a cold start) it reserves
//! `max_tokens`. A reply that runs past its reservation is charged in full
//! when it settles: the overrun is debt the quota pays back before the next
//! admission, so the quota still holds over any window longer than a call.
//!
//! Observations are kept in a log-scale histogram per route (buckets 10%
//! wide, the quantile read at a bucket's upper edge, so it errs high), halved
//! once a route has seen `window` replies so that old behaviour fades; the
//! table keeps at most `max_routes` routes and reserves `max_tokens` for any
//! beyond.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use palisade_core::{ChatRequest, ProviderId, Usage};
use serde::{Deserialize, Serialize};

use crate::cost::{Cost, CostModel, DefaultCostModel};

/// The tag prefix that names a request's route (`route=summarise`), so
/// different kinds of request on one model learn separately.
pub const ROUTE_TAG_PREFIX: &str = "route=";

/// Settings of [`LearnedOutput`]. Defaults: p99, 10% margin, 20 replies of
/// warm-up, a 1,000-reply window, 4,096 routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearnedOutputConfig {
    /// Quantile of observed output tokens to reserve, in (0, 1]. Default 0.99.
    pub quantile: f64,
    /// Share added to the quantile. Default 0.1.
    pub margin: f64,
    /// Replies a route must have seen before its reservation is learned;
    /// until then it reserves `max_tokens`. Default 20.
    pub warmup: u32,
    /// Replies after which a route's counts are halved, so it follows
    /// changes. Default 1,000.
    pub window: u32,
    /// Most routes tracked; more reserve `max_tokens`. Default 4,096.
    pub max_routes: usize,
    /// Also learn each route's share of the prompt that the input quota
    /// counts, and reserve that share (its `quantile` plus `margin`, never
    /// more than the whole prompt) against the input-tokens quota. For
    /// providers whose input limit leaves cache reads out *at admission*
    /// (the Anthropic API): a prompt mostly served from the cache then holds
    /// what it will count, not its whole length, while it runs. Not for
    /// Bedrock's `bedrock-mantle` endpoint, which checks `max_tokens`
    /// against the input quota too. Only the input dimension changes; the
    /// combined tokens quota still reserves the whole prompt. Default false.
    pub learn_input: bool,
}

impl Default for LearnedOutputConfig {
    fn default() -> Self {
        Self {
            quantile: 0.99,
            margin: 0.1,
            warmup: 20,
            window: 1_000,
            max_routes: 4_096,
            learn_input: false,
        }
    }
}

impl LearnedOutputConfig {
    /// The first setting that cannot work, as `(key, reason)` with the key
    /// dotted from a limiter config's root.
    pub fn invalid(&self) -> Option<(&'static str, &'static str)> {
        if !(self.quantile.is_finite() && self.quantile > 0.0 && self.quantile <= 1.0) {
            return Some(("learned_output.quantile", "must be in (0, 1]"));
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Some(("learned_output.margin", "must be a number >= 0"));
        }
        if self.window == 0 {
            return Some(("learned_output.window", "must not be zero"));
        }
        if self.warmup > self.window {
            return Some(("learned_output.warmup", "must not exceed window"));
        }
        None
    }
}

/// Buckets 10% wide: bucket `i` holds values up to `edge(i)`.
const GROWTH: f64 = 1.1;
/// Enough buckets to reach past `u32::MAX` tokens.
const BUCKETS: usize = 240;

fn bucket_of(tokens: u32) -> usize {
    if tokens <= 1 {
        return 0;
    }
    let i = (f64::from(tokens).ln() / GROWTH.ln()).ceil() as usize;
    i.min(BUCKETS - 1)
}

/// The largest value bucket `i` holds.
fn edge(i: usize) -> f64 {
    GROWTH.powi(i as i32)
}

/// Observed output tokens of one route.
#[derive(Debug, Clone)]
struct OutputHistogram {
    counts: Box<[u32; BUCKETS]>,
    total: u32,
}

impl OutputHistogram {
    fn new() -> Self {
        Self {
            counts: Box::new([0; BUCKETS]),
            total: 0,
        }
    }

    fn record(&mut self, tokens: u32, window: u32) {
        self.counts[bucket_of(tokens)] += 1;
        self.total += 1;
        if self.total >= window {
            // Halve, keeping at least one count in any bucket that had one,
            // so a rare long reply is not forgotten at once.
            self.total = 0;
            for c in self.counts.iter_mut() {
                if *c > 0 {
                    *c = (*c / 2).max(1);
                    self.total += *c;
                }
            }
        }
    }

    /// The `q` quantile, read at its bucket's upper edge.
    fn quantile(&self, q: f64) -> f64 {
        let rank = (q * f64::from(self.total)).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                return edge(i);
            }
        }
        edge(BUCKETS - 1)
    }
}

/// A [`CostModel`] that reserves a route's learned output instead of
/// `max_tokens`: a cold route reserves `max_tokens`; a warm one a high
/// quantile of its replies' output plus a margin, never above `max_tokens`;
/// overruns settle as debt (`docs/limits.md`, "Learned output reservations").
///
/// It assumes the inner model reserves `max_tokens × output_burndown` for
/// output, as [`DefaultCostModel`] and the provider crates' quota profiles
/// do, and replaces that part.
///
/// ```
/// use palisade_core::{ChatRequest, ProviderId, Usage};
/// use palisade_limit::{CostModel, LearnedOutput, LearnedOutputConfig};
///
/// let model = LearnedOutput::new(LearnedOutputConfig { warmup: 5, ..Default::default() });
/// let id = ProviderId::new("claude");
/// let req = ChatRequest::user("Summarise this").with_max_tokens(8_192);
/// // Cold start: the whole max_tokens.
/// let cost = model.reserve(&id, &req, 100);
/// assert_eq!(cost.tokens, 100 + 8_192);
/// // Replies of ~300 tokens teach it.
/// for _ in 0..5 {
///     model.actual(&cost, &Usage::new(100, 300));
/// }
/// let learned = model.reserve(&id, &req, 100);
/// assert!(learned.tokens < 100 + 400, "{}", learned.tokens);
/// assert!(learned.tokens >= 100 + 300);
/// ```
#[derive(Debug)]
pub struct LearnedOutput<C = DefaultCostModel> {
    inner: C,
    config: LearnedOutputConfig,
    routes: Mutex<HashMap<u64, RouteHistory>>,
}

/// What one route's replies showed.
#[derive(Debug, Clone)]
struct RouteHistory {
    /// Output tokens.
    output: OutputHistogram,
    /// The input quota's count as a share of the prompt estimate, per mille
    /// (only with `learn_input`).
    input_share: Option<OutputHistogram>,
}

/// Per mille: the whole prompt.
const WHOLE: u32 = 1_000;

impl LearnedOutput<DefaultCostModel> {
    /// Learned reservations over [`DefaultCostModel`].
    pub fn new(config: LearnedOutputConfig) -> Self {
        Self::wrap(DefaultCostModel::default(), config)
    }
}

impl<C: CostModel> LearnedOutput<C> {
    /// Learned reservations over `inner`.
    pub fn wrap(inner: C, config: LearnedOutputConfig) -> Self {
        Self {
            inner,
            config,
            routes: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn config(&self) -> &LearnedOutputConfig {
        &self.config
    }

    /// The output tokens a request on `route` reserves now, or `None` while
    /// the route is cold (it reserves `max_tokens`).
    fn learned(&self, route: u64, max_tokens: u32) -> Option<u32> {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let h = &routes.get(&route)?.output;
        if h.total < self.config.warmup.max(1) {
            return None;
        }
        let q = h.quantile(self.config.quantile) * (1.0 + self.config.margin);
        Some((q.ceil().min(f64::from(u32::MAX)) as u32).clamp(1, max_tokens.max(1)))
    }

    /// The share (per mille) of the prompt a request on `route` reserves
    /// against the input quota, or `None` while cold or not learning input.
    fn learned_input_share(&self, route: u64) -> Option<u32> {
        if !self.config.learn_input {
            return None;
        }
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let h = routes.get(&route)?.input_share.as_ref()?;
        if h.total < self.config.warmup.max(1) {
            return None;
        }
        let q = h.quantile(self.config.quantile) * (1.0 + self.config.margin);
        Some((q.ceil().min(f64::from(WHOLE)) as u32).max(1))
    }

    /// Files one reply of `route`: its output, and (when learning input) the
    /// share of its prompt estimate the input quota counted.
    fn record(&self, route: u64, output_tokens: u32, input_share: Option<u32>) {
        let window = self.config.window.max(1);
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let full = routes.len() >= self.config.max_routes;
        let history = match routes.get_mut(&route) {
            Some(h) => h,
            None if !full => routes.entry(route).or_insert_with(|| RouteHistory {
                output: OutputHistogram::new(),
                input_share: None,
            }),
            None => return,
        };
        history.output.record(output_tokens, window);
        if let Some(share) = input_share {
            history
                .input_share
                .get_or_insert_with(OutputHistogram::new)
                .record(share, window);
        }
    }
}

/// The route of `request` on `model`: never 0 (0 is "no route" in a
/// [`Cost`]).
fn route_key(model: &ProviderId, request: &ChatRequest) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    model.as_str().hash(&mut hasher);
    if let Some(route) = request
        .metadata
        .tags
        .iter()
        .find_map(|t| t.strip_prefix(ROUTE_TAG_PREFIX))
    {
        route.hash(&mut hasher);
    }
    hasher.finish().max(1)
}

impl<C: CostModel> CostModel for LearnedOutput<C> {
    fn reserve(&self, model: &ProviderId, request: &ChatRequest, input_tokens: u32) -> Cost {
        let base = self.inner.reserve(model, request, input_tokens);
        let route = route_key(model, request);
        let cost = match self.learned(route, request.max_tokens) {
            Some(output) => {
                let unused = u64::from(request.max_tokens.saturating_sub(output))
                    .saturating_mul(u64::from(base.output_burndown.max(1)));
                Cost {
                    tokens: base.tokens.saturating_sub(unused).max(base.input_part()),
                    output_tokens: base.output_tokens.min(u64::from(output)),
                    ..base
                }
            }
            None => base,
        };
        let cost = match self.learned_input_share(route) {
            Some(share) => {
                let part = prompt_estimate(&base)
                    .saturating_mul(u64::from(share))
                    .div_ceil(u64::from(WHOLE));
                Cost {
                    input_tokens: base.input_tokens.min(part),
                    ..cost
                }
            }
            None => cost,
        };
        cost.with_route(route)
    }

    fn actual(&self, reserved: &Cost, usage: &Usage) -> u64 {
        if reserved.route != 0 {
            self.record(reserved.route, usage.output_tokens, None);
        }
        self.inner.actual(reserved, usage)
    }

    fn counted(&self, reserved: &Cost, usage: &Usage) -> crate::cost::TokenCounts {
        let counted = self.inner.counted(reserved, usage);
        if reserved.route != 0 {
            let share = self.config.learn_input.then(|| {
                let estimate = prompt_estimate(reserved).max(1);
                let per_mille = counted.input.saturating_mul(u64::from(WHOLE)) / estimate;
                u32::try_from(per_mille.clamp(1, u64::from(WHOLE))).unwrap_or(WHOLE)
            });
            self.record(reserved.route, usage.output_tokens, share);
        }
        counted
    }
}

/// The prompt estimate inside a reservation: what it holds against the
/// combined tokens quota less its output part (`output_tokens × burndown`),
/// which is how [`Cost::input_and_output`] and learned output build it.
fn prompt_estimate(cost: &Cost) -> u64 {
    cost.tokens.saturating_sub(
        cost.output_tokens
            .saturating_mul(u64::from(cost.output_burndown.max(1))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(max_tokens: u32) -> ChatRequest {
        ChatRequest::user("hi").with_max_tokens(max_tokens)
    }

    #[test]
    fn learning_input_reserves_the_counted_share_of_a_cached_prompt() {
        let m = LearnedOutput::new(LearnedOutputConfig {
            warmup: 3,
            learn_input: true,
            ..Default::default()
        });
        let id = ProviderId::new("anthropic/claude");
        // 10,000-token prompts of which the cache serves 9,000.
        let cold = m.reserve(&id, &req(500), 10_000);
        assert_eq!((cold.input_tokens, cold.tokens), (10_000, 10_500));
        let usage = Usage {
            cache_read_tokens: 9_000,
            ..Usage::new(1_000, 200)
        };
        for _ in 0..3 {
            let cost = m.reserve(&id, &req(500), 10_000);
            assert_eq!(m.counted(&cost, &usage).input, 1_000);
        }
        let warm = m.reserve(&id, &req(500), 10_000);
        // p99 of a 10% share, read at its bucket's edge, plus the margin.
        assert!((1_000..=1_300).contains(&warm.input_tokens), "{warm:?}");
        // The combined quota still holds the whole prompt (and the learned output).
        assert!(warm.tokens >= 10_200, "{warm:?}");
        // Off by default: the input dimension reserves the whole prompt.
        let plain = LearnedOutput::new(LearnedOutputConfig {
            warmup: 3,
            ..Default::default()
        });
        for _ in 0..3 {
            let cost = plain.reserve(&id, &req(500), 10_000);
            plain.counted(&cost, &usage);
        }
        assert_eq!(plain.reserve(&id, &req(500), 10_000).input_tokens, 10_000);
    }

    #[test]
    fn buckets_hold_their_values_and_errs_high() {
        for tokens in [1u32, 2, 3, 10, 299, 300, 301, 8_192, u32::MAX] {
            let i = bucket_of(tokens);
            assert!(edge(i) >= f64::from(tokens) * 0.999_999, "{tokens}");
            if i > 0 {
                assert!(edge(i - 1) < f64::from(tokens), "{tokens}");
            }
        }
    }

    #[test]
    fn cold_routes_reserve_max_tokens_and_warm_ones_their_quantile() {
        let m = LearnedOutput::new(LearnedOutputConfig {
            warmup: 10,
            ..LearnedOutputConfig::default()
        });
        let id = ProviderId::new("m");
        let cost = m.reserve(&id, &req(8_192), 50);
        assert_eq!(cost.tokens, 50 + 8_192);
        for i in 0..9 {
            m.actual(&cost, &Usage::new(50, 250 + i));
        }
        assert_eq!(m.reserve(&id, &req(8_192), 50).tokens, 50 + 8_192);
        m.actual(&cost, &Usage::new(50, 300));
        let warm = m.reserve(&id, &req(8_192), 50).tokens - 50;
        // p99 of 250..300 read at a 10% bucket edge, plus 10%.
        assert!((300..=365).contains(&warm), "{warm}");
        // Never above max_tokens.
        assert_eq!(m.reserve(&id, &req(100), 50).tokens, 50 + 100);
    }

    #[test]
    fn routes_learn_separately() {
        let m = LearnedOutput::new(LearnedOutputConfig {
            warmup: 1,
            ..LearnedOutputConfig::default()
        });
        let id = ProviderId::new("m");
        let short = req(4_000).with_tag("route=classify");
        let long = req(4_000).with_tag("route=draft");
        let c = m.reserve(&id, &short, 0);
        m.actual(&c, &Usage::new(0, 5));
        let c = m.reserve(&id, &long, 0);
        m.actual(&c, &Usage::new(0, 3_000));
        assert!(m.reserve(&id, &short, 0).tokens < 10);
        assert!(m.reserve(&id, &long, 0).tokens >= 3_000);
        // Another model is cold.
        assert_eq!(m.reserve(&ProviderId::new("n"), &short, 0).tokens, 4_000);
    }

    #[test]
    fn burndown_scales_the_replaced_output_part() {
        let inner = DefaultCostModel::new(crate::BurndownConfig::default().with_model("m", 5));
        let m = LearnedOutput::wrap(
            inner,
            LearnedOutputConfig {
                warmup: 1,
                margin: 0.0,
                ..LearnedOutputConfig::default()
            },
        );
        let id = ProviderId::new("m");
        let c = m.reserve(&id, &req(1_000), 10);
        assert_eq!(c.tokens, 10 + 5_000);
        // Actual counts output at the burndown, as before.
        assert_eq!(m.actual(&c, &Usage::new(10, 100)), 10 + 500);
        let warm = m.reserve(&id, &req(1_000), 10);
        let output = (warm.tokens - 10) / 5;
        assert!((100..=111).contains(&output), "{output}");
    }

    #[test]
    fn the_window_halves_old_counts() {
        let mut h = OutputHistogram::new();
        for _ in 0..99 {
            h.record(10, 100);
        }
        h.record(1_000, 100);
        assert!(h.total < 100);
        assert!(h.quantile(1.0) >= 1_000.0, "a rare long reply is kept");
    }

    #[test]
    fn the_route_table_is_bounded() {
        let m = LearnedOutput::new(LearnedOutputConfig {
            warmup: 1,
            max_routes: 2,
            ..LearnedOutputConfig::default()
        });
        for name in ["a", "b", "c"] {
            let id = ProviderId::new(name);
            let c = m.reserve(&id, &req(1_000), 0);
            m.actual(&c, &Usage::new(0, 10));
        }
        assert!(m.reserve(&ProviderId::new("b"), &req(1_000), 0).tokens < 100);
        assert_eq!(
            m.reserve(&ProviderId::new("c"), &req(1_000), 0).tokens,
            1_000
        );
    }

    #[test]
    fn settings_that_cannot_work_are_named() {
        for (config, key) in [
            (
                LearnedOutputConfig {
                    quantile: 0.0,
                    ..Default::default()
                },
                "learned_output.quantile",
            ),
            (
                LearnedOutputConfig {
                    margin: f64::NAN,
                    ..Default::default()
                },
                "learned_output.margin",
            ),
            (
                LearnedOutputConfig {
                    window: 0,
                    ..Default::default()
                },
                "learned_output.window",
            ),
            (
                LearnedOutputConfig {
                    warmup: 2_000,
                    ..Default::default()
                },
                "learned_output.warmup",
            ),
        ] {
            assert_eq!(config.invalid().map(|(k, _)| k), Some(key));
        }
        assert_eq!(LearnedOutputConfig::default().invalid(), None);
    }
}

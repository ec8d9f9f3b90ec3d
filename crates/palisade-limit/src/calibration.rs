//! Calibration from a provider's rate-limit headers: which snapshot window
//! steers which of the limiter's buckets, and what limit the provider really
//! enforces.
//!
//! # The mapping
//!
//! | snapshot window | limiter dimension |
//! |---|---|
//! | `requests` | the requests bucket (`requests` quota) |
//! | `tokens` | the tokens bucket (`tokens` quota) |
//! | `input_tokens` | the input-tokens bucket (`input_tokens` quota) |
//! | `output_tokens` | the output-tokens bucket (`output_tokens` quota) |
//! | `input_tokens`, `output_tokens` | also the combined tokens bucket, only when `tokens` is absent: the window with the least remaining (and the least limit) wins |
//!
//! A limiter with split quotas is steered window by window. The combined
//! tokens bucket counts input and output together, so a split window can only
//! steer it conservatively: the tightest of the two is believed for the
//! whole. Anthropic sends a combined `tokens` window beside the split ones
//! (the most restrictive in effect), which then wins.
//!
//! # The provider's limit
//!
//! Snapshot limits are per minute (as both OpenAI and Anthropic report
//! them); a quota with another period is compared at its per-minute rate. A
//! stated `limit` below the configured rate is believed at once. Without one,
//! it is inferred from `remaining` and `reset` under the token-bucket model
//! both providers document (capacity = the per-minute limit, refilled
//! continuously, `reset` = time until full): `limit − remaining` units refill
//! in `reset`, so `limit = remaining × 60 s / (60 s − reset)`. `remaining` is
//! a whole number rounded down, so each answer bounds the limit to an
//! interval; the intervals of successive answers are intersected (the lower
//! end is believed) and start afresh when one contradicts the others (the
//! provider changed its limit). Calibration only ever lowers a limit: a
//! provider limit above the configured one leaves the configured one.

use palisade_core::http::{RateLimitSnapshot, RateLimitWindow};

use crate::clock::{Nanos, duration_to_nanos};

/// A snapshot window narrowed to what a bucket uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Observed {
    pub(crate) limit: Option<u64>,
    pub(crate) remaining: Option<u64>,
    pub(crate) reset: Option<Nanos>,
}

impl Observed {
    fn from_window(w: &RateLimitWindow) -> Option<Self> {
        (!w.is_empty()).then(|| Self {
            limit: w.limit,
            remaining: w.remaining,
            reset: w.reset.map(duration_to_nanos),
        })
    }
}

/// What a snapshot says of each of a limiter's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Mapped {
    pub(crate) requests: Option<Observed>,
    pub(crate) tokens: Option<Observed>,
    pub(crate) input_tokens: Option<Observed>,
    pub(crate) output_tokens: Option<Observed>,
}

/// The window for every bucket (see the module docs).
pub(crate) fn map_windows(snapshot: &RateLimitSnapshot) -> Mapped {
    let input_tokens = Observed::from_window(&snapshot.input_tokens);
    let output_tokens = Observed::from_window(&snapshot.output_tokens);
    let tokens = Observed::from_window(&snapshot.tokens).or_else(|| {
        [input_tokens, output_tokens]
            .into_iter()
            .flatten()
            .reduce(tightest)
    });
    Mapped {
        requests: Observed::from_window(&snapshot.requests),
        tokens,
        input_tokens,
        output_tokens,
    }
}

/// The more restrictive of two windows: the least remaining (with its
/// reset), the least limit.
fn tightest(a: Observed, b: Observed) -> Observed {
    let (remaining, reset) = match (a.remaining, b.remaining) {
        (Some(x), Some(y)) if y < x => (Some(y), b.reset),
        (Some(x), _) => (Some(x), a.reset),
        (None, Some(y)) => (Some(y), b.reset),
        (None, None) => (None, a.reset.max(b.reset)),
    };
    let limit = match (a.limit, b.limit) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    Observed {
        limit,
        remaining,
        reset,
    }
}

/// One minute, the period snapshot limits are stated in.
const MINUTE: Nanos = 60_000_000_000;

/// What one bucket has learnt of the provider's limit (per minute).
#[derive(Debug, Clone)]
pub(crate) struct LimitEstimate {
    /// The configured quota, per minute.
    configured: f64,
    /// The limit the provider stated last.
    stated: Option<u64>,
    /// The interval the inferred limit lies in: `[lo, hi)`.
    lo: f64,
    hi: f64,
}

impl LimitEstimate {
    /// An estimate for a quota of `amount` per `period_ns`.
    pub(crate) fn new(amount: u64, period_ns: Nanos) -> Self {
        Self {
            configured: amount as f64 * MINUTE as f64 / period_ns.max(1) as f64,
            stated: None,
            lo: 0.0,
            hi: f64::INFINITY,
        }
    }

    /// Takes in one answer's window; returns the fraction of the configured
    /// rate to run at, in `(0, 1]`.
    pub(crate) fn observe(&mut self, seen: &Observed) -> f64 {
        if let Some(limit) = seen.limit {
            self.stated = Some(limit);
        } else if let (Some(remaining), Some(reset)) = (seen.remaining, seen.reset)
            && remaining > 0
            && reset < MINUTE - MINUTE / 100
        {
            // The inference is meaningless when the bucket is empty (0/0) or
            // all but empty (a tiny denominator magnifies every rounding).
            let scale = MINUTE as f64 / (MINUTE - reset) as f64;
            let (lo, hi) = (remaining as f64 * scale, (remaining + 1) as f64 * scale);
            if lo >= self.hi || hi <= self.lo {
                (self.lo, self.hi) = (lo, hi);
            } else {
                (self.lo, self.hi) = (self.lo.max(lo), self.hi.min(hi));
            }
        }
        self.fraction()
    }

    /// The fraction of the configured rate the provider's limit allows.
    pub(crate) fn fraction(&self) -> f64 {
        let limit = match self.stated {
            Some(limit) => limit as f64,
            None if self.lo > 0.0 => self.lo,
            None => return 1.0,
        };
        (limit / self.configured).clamp(1e-9, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn window(
        limit: Option<u64>,
        remaining: Option<u64>,
        reset_ms: Option<u64>,
    ) -> RateLimitWindow {
        RateLimitWindow {
            limit,
            remaining,
            reset: reset_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn split_token_windows_steer_tokens_by_the_tightest() {
        let snapshot = RateLimitSnapshot {
            input_tokens: window(Some(40_000), Some(30_000), Some(15_000)),
            output_tokens: window(Some(8_000), Some(1_000), Some(52_000)),
            ..RateLimitSnapshot::default()
        };
        let Mapped {
            requests, tokens, ..
        } = map_windows(&snapshot);
        assert_eq!(requests, None);
        let tokens = tokens.unwrap();
        assert_eq!(tokens.limit, Some(8_000));
        assert_eq!(tokens.remaining, Some(1_000));
        assert_eq!(tokens.reset, Some(52_000_000_000));

        // A combined window wins over the split ones.
        let snapshot = RateLimitSnapshot {
            tokens: window(None, Some(5), None),
            ..snapshot
        };
        assert_eq!(map_windows(&snapshot).tokens.unwrap().remaining, Some(5));
    }

    #[test]
    fn infers_a_token_bucket_limit_from_remaining_and_reset() {
        // True limit 120/min; configured 360/min.
        let mut e = LimitEstimate::new(360, MINUTE);
        // 90 left: 30 refill in 15 s at 2/s.
        let f = e.observe(&Observed {
            limit: None,
            remaining: Some(90),
            reset: Some(15_000_000_000),
        });
        assert!((f * 360.0 - 120.0).abs() < 1e-6, "{f}");
        // An empty bucket says nothing about the limit.
        let before = e.fraction();
        e.observe(&Observed {
            limit: None,
            remaining: Some(0),
            reset: Some(2_000_000_000),
        });
        assert_eq!(e.fraction(), before);
        // A stated limit wins, and never raises above the configured rate.
        assert_eq!(
            e.observe(&Observed {
                limit: Some(1_000),
                ..Observed::default()
            }),
            1.0
        );
    }

    #[test]
    fn a_contradicting_answer_restarts_the_inference() {
        let mut e = LimitEstimate::new(1_000, MINUTE);
        let seen = |remaining, reset_s: u64| Observed {
            limit: None,
            remaining: Some(remaining),
            reset: Some(reset_s * 1_000_000_000),
        };
        e.observe(&seen(300, 30)); // [600, 602)
        assert!((e.fraction() - 0.6).abs() < 1e-9);
        e.observe(&seen(100, 30)); // [200, 202): the limit was lowered
        assert!((e.fraction() - 0.2).abs() < 1e-9);
    }
}

//! Per-model quotas as the Messages API enforces them: requests, input
//! tokens and output tokens per minute, each a token bucket refilled
//! continuously (tokio time, so paused-clock tests are exact), and the
//! `anthropic-ratelimit-*` headers that report them.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// A model's limits, per minute. Cache reads do not count toward
/// `input_tokens_per_minute` (as on the API); uncached input and cache
/// writes do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests per minute.
    pub requests_per_minute: u32,
    /// Input tokens per minute (uncached input and cache writes).
    pub input_tokens_per_minute: u32,
    /// Output tokens per minute.
    pub output_tokens_per_minute: u32,
}

impl Quota {
    /// A quota with these three limits.
    pub const fn new(rpm: u32, input_tpm: u32, output_tpm: u32) -> Self {
        Self {
            requests_per_minute: rpm,
            input_tokens_per_minute: input_tpm,
            output_tokens_per_minute: output_tpm,
        }
    }
}

impl Default for Quota {
    /// Generous (4 000 RPM, 2 000 000 input and 400 000 output tokens per
    /// minute), so a test that configures none is never throttled but still
    /// sees the headers.
    fn default() -> Self {
        Self::new(4_000, 2_000_000, 400_000)
    }
}

/// One refilling bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: f64,
    level: f64,
    at: Instant,
}

impl Bucket {
    fn new(limit: u32, now: Instant) -> Self {
        Self {
            limit: f64::from(limit.max(1)),
            level: f64::from(limit.max(1)),
            at: now,
        }
    }

    fn per_second(&self) -> f64 {
        self.limit / 60.0
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + dt * self.per_second()).min(self.limit);
        self.at = now;
    }

    /// How long until `need` is available (zero when it already is).
    fn wait_for(&self, need: f64) -> Duration {
        let need = need.min(self.limit);
        if self.level >= need {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((need - self.level) / self.per_second())
        }
    }

    fn remaining(&self) -> u64 {
        self.level.max(0.0).floor() as u64
    }

    fn until_full(&self) -> Duration {
        Duration::from_secs_f64(((self.limit - self.level).max(0.0)) / self.per_second())
    }
}

/// A model's three buckets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuotaState {
    requests: Bucket,
    input: Bucket,
    output: Bucket,
}

/// Why a request was refused: which limit, and when to come back.
#[derive(Debug, Clone)]
pub(crate) struct Exceeded {
    pub(crate) message: String,
    pub(crate) retry_after: Duration,
}

impl QuotaState {
    pub(crate) fn new(quota: Quota) -> Self {
        let now = Instant::now();
        Self {
            requests: Bucket::new(quota.requests_per_minute, now),
            input: Bucket::new(quota.input_tokens_per_minute, now),
            output: Bucket::new(quota.output_tokens_per_minute, now),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        self.requests.refill(now);
        self.input.refill(now);
        self.output.refill(now);
    }

    /// Admits a request that will send `input` uncached input tokens, taking
    /// one request and those tokens; the output bucket must not be empty.
    pub(crate) fn admit(&mut self, input: u32) -> Result<(), Exceeded> {
        self.refill();
        let input = f64::from(input);
        let checks = [
            (&self.requests, 1.0, "requests per minute"),
            (&self.input, input, "input tokens per minute"),
            (&self.output, 1.0, "output tokens per minute"),
        ];
        for (bucket, need, what) in checks {
            let wait = bucket.wait_for(need);
            if !wait.is_zero() {
                return Err(Exceeded {
                    message: format!(
                        "This request would exceed your organization's rate limit of {} {what}. \
                         Please reduce the prompt length or the maximum tokens requested, or try \
                         again later.",
                        bucket.limit
                    ),
                    retry_after: wait,
                });
            }
        }
        self.requests.level -= 1.0;
        self.input.level -= input;
        Ok(())
    }

    /// Settles a served request: the input estimate taken at admission is
    /// replaced by the actual count, and the output is taken (the bucket may
    /// go below zero, delaying later calls, as the API's does).
    pub(crate) fn settle(&mut self, estimated_input: u32, actual_input: u32, output: u32) {
        self.refill();
        self.input.level += f64::from(estimated_input) - f64::from(actual_input);
        self.output.level -= f64::from(output);
    }

    /// The `anthropic-ratelimit-*` headers for the current state.
    pub(crate) fn headers(&mut self) -> Vec<(String, String)> {
        self.refill();
        let wall = SystemTime::now();
        let mut out = Vec::with_capacity(12);
        let mut push = |dim: &str, b: &Bucket| {
            out.push((
                format!("anthropic-ratelimit-{dim}-limit"),
                format!("{}", b.limit as u64),
            ));
            out.push((
                format!("anthropic-ratelimit-{dim}-remaining"),
                b.remaining().to_string(),
            ));
            // Whole seconds, rounded up, so a client never resets early.
            let until = Duration::from_secs(b.until_full().as_secs_f64().ceil() as u64);
            out.push((
                format!("anthropic-ratelimit-{dim}-reset"),
                humantime::format_rfc3339_seconds(wall + until).to_string(),
            ));
        };
        push("requests", &self.requests);
        push("input-tokens", &self.input);
        push("output-tokens", &self.output);
        // `tokens`: the most restrictive of the token limits in effect.
        let tighter =
            if self.input.level / self.input.limit <= self.output.level / self.output.limit {
                self.input
            } else {
                self.output
            };
        push("tokens", &tighter);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_refill_continuously() {
        let mut q = QuotaState::new(Quota::new(60, 1_000, 1_000));
        for _ in 0..60 {
            q.admit(1).unwrap();
        }
        let err = q.admit(1).unwrap_err();
        assert!(err.retry_after <= Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(q.admit(1).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn output_overdraft_blocks_until_refilled() {
        let mut q = QuotaState::new(Quota::new(100, 1_000, 600));
        q.admit(10).unwrap();
        q.settle(10, 10, 1_200); // 600 below zero
        let err = q.admit(10).unwrap_err();
        assert!(err.message.contains("output tokens"));
        assert!(err.retry_after >= Duration::from_secs(60));
    }
}

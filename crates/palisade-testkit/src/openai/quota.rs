//! Per-model quotas (requests and tokens per minute) as OpenAI enforces
//! them: each dimension is a bucket that refills continuously to its limit
//! over a minute; a request takes one request and its estimated prompt
//! tokens plus `max_tokens` at admission (nothing is refunded). Time is
//! tokio time, so tests can pause and advance it.

use std::time::Duration;

use tokio::time::Instant;

/// A model's limits. `None` is unlimited (and sends no headers for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quota {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute (prompt + `max_tokens`, as OpenAI counts).
    pub tpm: Option<u32>,
}

impl Quota {
    /// Requests and tokens per minute.
    pub const fn new(rpm: u32, tpm: u32) -> Self {
        Self {
            rpm: Some(rpm),
            tpm: Some(tpm),
        }
    }
}

/// One dimension's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: f64,
    level: f64,
    at: Instant,
}

impl Bucket {
    fn new(limit: u32, now: Instant) -> Self {
        Self {
            limit: f64::from(limit),
            level: f64::from(limit),
            at: now,
        }
    }

    fn rate(&self) -> f64 {
        self.limit / 60.0
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + dt * self.rate()).min(self.limit);
        self.at = now;
    }

    /// Time until `amount` is available (zero when it is now).
    fn wait_for(&self, amount: f64) -> Duration {
        if self.level >= amount || self.rate() <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((amount - self.level) / self.rate())
    }

    fn window(&self) -> Window {
        Window {
            limit: self.limit as u64,
            remaining: self.level.max(0.0).floor() as u64,
            reset: Duration::from_secs_f64(((self.limit - self.level) / self.rate()).max(0.0)),
        }
    }
}

/// One dimension as the headers report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) limit: u64,
    pub(crate) remaining: u64,
    pub(crate) reset: Duration,
}

/// What the headers say after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Report {
    pub(crate) requests: Option<Window>,
    pub(crate) tokens: Option<Window>,
}

/// A refusal: which dimension, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exceeded {
    pub(crate) tokens: bool,
    pub(crate) limit: u64,
    pub(crate) requested: u64,
    pub(crate) retry_after: Duration,
}

/// The state of one model's quota.
#[derive(Debug, Clone)]
pub(crate) struct Ledger {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
}

impl Ledger {
    pub(crate) fn new(quota: Quota, now: Instant) -> Self {
        Self {
            requests: quota.rpm.map(|l| Bucket::new(l, now)),
            tokens: quota.tpm.map(|l| Bucket::new(l, now)),
        }
    }

    /// Admits a request costing `tokens`, or says why not.
    pub(crate) fn admit(
        &mut self,
        tokens: u32,
        now: Instant,
    ) -> Result<Report, (Exceeded, Report)> {
        for bucket in [&mut self.requests, &mut self.tokens].into_iter().flatten() {
            bucket.refill(now);
        }
        if let Some(r) = &self.requests
            && r.level < 1.0
        {
            let exceeded = Exceeded {
                tokens: false,
                limit: r.limit as u64,
                requested: 1,
                retry_after: r.wait_for(1.0),
            };
            return Err((exceeded, self.report()));
        }
        if let Some(t) = &self.tokens
            && t.level < f64::from(tokens)
        {
            let exceeded = Exceeded {
                tokens: true,
                limit: t.limit as u64,
                requested: u64::from(tokens),
                // A request larger than the whole quota never fits: say a minute.
                retry_after: if f64::from(tokens) > t.limit {
                    Duration::from_secs(60)
                } else {
                    t.wait_for(f64::from(tokens))
                },
            };
            return Err((exceeded, self.report()));
        }
        if let Some(r) = &mut self.requests {
            r.level -= 1.0;
        }
        if let Some(t) = &mut self.tokens {
            t.level -= f64::from(tokens);
        }
        Ok(self.report())
    }

    pub(crate) fn report(&self) -> Report {
        Report {
            requests: self.requests.as_ref().map(Bucket::window),
            tokens: self.tokens.as_ref().map(Bucket::window),
        }
    }
}

/// A reset as OpenAI writes it (a Go duration): `20ms`, `1.5s`, `6m0s`, `1h2m3s`.
pub(crate) fn format_reset(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let total = d.as_secs_f64();
    if total < 60.0 {
        let s = format!("{total:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return format!("{s}s");
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else {
        format!("{m}m{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_read_like_openai() {
        assert_eq!(format_reset(Duration::from_millis(20)), "20ms");
        assert_eq!(format_reset(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_reset(Duration::from_secs(1)), "1s");
        assert_eq!(format_reset(Duration::from_secs(360)), "6m0s");
        assert_eq!(format_reset(Duration::from_secs(3723)), "1h2m3s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_refuses_then_refills() {
        let now = Instant::now();
        let mut ledger = Ledger::new(Quota::new(2, 1000), now);
        assert!(ledger.admit(10, now).is_ok());
        assert!(ledger.admit(10, now).is_ok());
        let (exceeded, report) = ledger.admit(10, now).unwrap_err();
        assert!(!exceeded.tokens);
        assert_eq!(exceeded.retry_after, Duration::from_secs(30));
        assert_eq!(report.requests.unwrap().remaining, 0);
        assert!(ledger.admit(10, now + Duration::from_secs(30)).is_ok());
        let (exceeded, _) = ledger
            .admit(2000, now + Duration::from_secs(120))
            .unwrap_err();
        assert!(exceeded.tokens);
    }
}

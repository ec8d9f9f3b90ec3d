//! palisade-limit's [`StoreLimits`] in the scripts' terms: the buckets and
//! cap a call enforces in Redis, and the share of them an instance keeps for
//! itself while Redis is unreachable.

use palisade_limit::{Quota, StoreError, StoreLimits};

use crate::limit::scripts::{BucketRate, SharedLimits};

/// `quota` as a bucket draining at `fraction` of its rate (`None` when the
/// quota can never admit).
pub(crate) fn bucket(quota: &Quota, fraction: f64) -> Option<BucketRate> {
    BucketRate::new(quota.amount, quota.period, quota.burst()).map(|r| r.scaled(fraction))
}

/// The limits in the scripts' terms. The adaptive fraction slows the drain;
/// the burst stays, as in palisade-limit's own GCRA. A limit that could never
/// admit anything (a zero amount, burst, period or cap; `LimiterConfig`
/// rejects them, a direct caller might not) is an error rather than
/// silently unlimited.
pub(crate) fn shared_limits(key: &str, limits: &StoreLimits) -> Result<SharedLimits, StoreError> {
    let rate = |name: &str, quota: Option<&Quota>| match quota {
        None => Ok(None),
        Some(q) => bucket(q, limits.rate_fraction).map(Some).ok_or_else(|| {
            StoreError::protocol(format!(
                "the {name} quota of key `{key}` ({} per {:?}, burst {}) can never admit: \
                 amount, burst and period must be positive",
                q.amount,
                q.period,
                q.burst()
            ))
        }),
    };
    if limits.max_concurrent == Some(0) {
        return Err(StoreError::protocol(format!(
            "max_concurrent of key `{key}` is 0, which can never admit"
        )));
    }
    Ok(SharedLimits {
        requests: rate("requests", limits.requests.as_ref())?,
        tokens: rate("tokens", limits.tokens.as_ref())?,
        input_tokens: rate("input_tokens", limits.input_tokens.as_ref())?,
        output_tokens: rate("output_tokens", limits.output_tokens.as_ref())?,
        tokens_per_day: rate("tokens_per_day", limits.tokens_per_day.as_ref())?,
        max_concurrent: limits.max_concurrent,
    })
}

/// `share` of every limit, rounded up and at least 1: what one instance
/// allows itself while Redis is unreachable under `fail_open`.
pub(crate) fn local_share(limits: &StoreLimits, share: f64) -> StoreLimits {
    if share >= 1.0 {
        return limits.clone();
    }
    let part = |n: u64| ((n as f64 * share).ceil() as u64).max(1);
    let quota = |q: Quota| Quota {
        amount: part(q.amount),
        burst: Some(part(q.burst())),
        ..q
    };
    StoreLimits {
        requests: limits.requests.map(quota),
        tokens: limits.tokens.map(quota),
        input_tokens: limits.input_tokens.map(quota),
        output_tokens: limits.output_tokens.map(quota),
        tokens_per_day: limits.tokens_per_day.map(quota),
        max_concurrent: limits
            .max_concurrent
            .map(|n| u32::try_from(part(u64::from(n))).unwrap_or(u32::MAX)),
        ..limits.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> StoreLimits {
        StoreLimits {
            requests: Some(Quota::per_minute(100)),
            tokens: Some(Quota::per_minute(10_000).with_burst(5_000)),
            input_tokens: Some(Quota::per_minute(6_000)),
            output_tokens: Some(Quota::per_minute(2_000).with_burst(1_000)),
            tokens_per_day: Some(Quota::per_day(1_000_000)),
            max_concurrent: Some(8),
            rate_fraction: 1.0,
            lease_ttl: Duration::from_secs(10),
        }
    }

    #[test]
    fn local_share_rounds_up_and_keeps_at_least_one() {
        let local = local_share(&limits(), 0.25);
        assert_eq!(
            local.requests.map(|q| (q.amount, q.burst())),
            Some((25, 25))
        );
        assert_eq!(
            local.tokens.map(|q| (q.amount, q.burst())),
            Some((2_500, 1_250))
        );
        assert_eq!(
            local.input_tokens.map(|q| (q.amount, q.burst())),
            Some((1_500, 1_500))
        );
        assert_eq!(
            local.output_tokens.map(|q| (q.amount, q.burst())),
            Some((500, 250))
        );
        assert_eq!(
            local
                .tokens_per_day
                .map(|q| (q.amount, q.burst(), q.period)),
            Some((250_000, 250_000, Duration::from_secs(86_400)))
        );
        assert_eq!(local.max_concurrent, Some(2));
        let tiny = local_share(&limits(), 0.001);
        assert_eq!(tiny.max_concurrent, Some(1));
        assert_eq!(local_share(&limits(), 1.0), limits());
    }

    #[test]
    fn adaptive_fraction_slows_the_drain_not_the_burst() {
        let mut l = limits();
        l.rate_fraction = 0.5;
        let shared = shared_limits("k", &l).unwrap();
        let full = shared_limits("k", &limits()).unwrap();
        assert_eq!(shared.tokens.map(|r| r.burst()), Some(5_000));
        assert_eq!(full.tokens.map(|r| r.scaled(0.5)), shared.tokens);
        for (half, whole) in [
            (shared.input_tokens, full.input_tokens),
            (shared.output_tokens, full.output_tokens),
            (shared.tokens_per_day, full.tokens_per_day),
        ] {
            assert_eq!(whole.map(|r| r.scaled(0.5)), half);
            assert_eq!(whole.map(|r| r.burst()), half.map(|r| r.burst()));
        }
    }

    #[test]
    fn limits_that_can_never_admit_are_errors_not_unlimited() {
        let zero_cap = StoreLimits {
            max_concurrent: Some(0),
            ..limits()
        };
        assert!(shared_limits("k", &zero_cap).is_err());
        let zero_amount = StoreLimits {
            requests: Some(Quota::per_minute(0)),
            ..limits()
        };
        let err = shared_limits("model-a", &zero_amount).unwrap_err();
        assert!(
            err.to_string().contains("requests quota of key `model-a`"),
            "{err}"
        );
        let zero_output = StoreLimits {
            output_tokens: Some(Quota::per_minute(0)),
            ..limits()
        };
        let err = shared_limits("model-a", &zero_output).unwrap_err();
        assert!(
            err.to_string()
                .contains("output_tokens quota of key `model-a`"),
            "{err}"
        );
    }
}

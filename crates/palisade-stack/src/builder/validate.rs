//! What [`StackConfig::validate`] refuses: every value the stack cannot work
//! with, named by its key as written in the file (`candidates.<id>.…` for a
//! candidate's own settings). docs/config.md lists the same rules.

use std::time::Duration;

use palisade_breaker::{BreakerConfig, SlidingWindow};
use palisade_limit::LimiterConfig;

use super::StackConfigError;
use super::config::StackConfig;
use crate::retry::RetryPolicy;

/// The longest duration any stack setting may hold: 100 years. Far beyond
/// any useful limit, and far enough below the clock's range that deadlines
/// (`now + overall`), backoff arithmetic and budget windows cannot overflow.
pub(crate) const LONGEST_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

type Checked = Result<(), StackConfigError>;

fn invalid(field: impl Into<String>, problem: &'static str) -> Checked {
    Err(StackConfigError::Invalid {
        field: field.into(),
        problem,
    })
}

/// A duration that may be zero, not beyond [`LONGEST_DURATION`].
fn bounded(field: impl FnOnce() -> String, d: Duration) -> Checked {
    if d > LONGEST_DURATION {
        return invalid(field(), "must be at most 100 years");
    }
    Ok(())
}

/// A duration that must be above zero (zero would fail or stall every call).
fn positive(field: impl FnOnce() -> String, d: Duration) -> Checked {
    if d.is_zero() {
        return invalid(field(), "must not be zero");
    }
    bounded(field, d)
}

/// A finite number, not negative.
fn non_negative(field: impl FnOnce() -> String, x: f64, problem: &'static str) -> Checked {
    if !(x.is_finite() && x >= 0.0) {
        return invalid(field(), problem);
    }
    Ok(())
}

/// Every rule, in file order.
pub(super) fn stack(config: &StackConfig) -> Checked {
    if config.candidates.is_empty() {
        return Err(StackConfigError::NoCandidates);
    }
    retry("retry", &config.retry)?;
    timeouts(config)?;
    fallback(config)?;
    breaker("breaker", &config.breaker)?;
    if let Some(limit) = &config.limit {
        limiter("limit", limit)?;
    }
    candidates(config)?;
    prices(config)?;
    budget(config)?;
    keyed_limits(config)?;
    alerts(config)
}

/// Every `[[keyed_limit]]` by palisade-limit's rules, under its key.
fn keyed_limits(config: &StackConfig) -> Checked {
    for (i, keyed) in config.keyed_limits.iter().enumerate() {
        keyed
            .validate()
            .map_err(|e| StackConfigError::InvalidSection {
                field: format!("keyed_limit[{i}]"),
                reason: e.to_string(),
            })?;
    }
    Ok(())
}

fn retry(at: &str, retry: &RetryPolicy) -> Checked {
    if retry.max_attempts == 0 {
        return invalid(
            format!("{at}.max_attempts"),
            "must be at least 1 (1 is one attempt, no retries)",
        );
    }
    if let Some(total) = retry.max_total_time {
        bounded(|| format!("{at}.max_total_time"), total)?;
    }
    let b = &retry.backoff;
    bounded(|| format!("{at}.backoff.base"), b.base)?;
    bounded(|| format!("{at}.backoff.cap"), b.cap)?;
    if !(b.multiplier.is_finite() && b.multiplier >= 1.0) {
        return invalid(
            format!("{at}.backoff.multiplier"),
            "must be a number of at least 1",
        );
    }
    non_negative(
        || format!("{at}.backoff.additive_ratio"),
        b.additive_ratio,
        "must be a number, not negative",
    )?;
    non_negative(
        || format!("{at}.budget.ratio"),
        retry.budget.ratio,
        "must be a number, not negative",
    )?;
    positive(|| format!("{at}.budget.window"), retry.budget.window)
}

fn timeouts(config: &StackConfig) -> Checked {
    if let Some(d) = config.timeout.per_attempt {
        positive(|| "timeout.per_attempt".into(), d)?;
    }
    if let Some(d) = config.timeout.overall {
        positive(|| "timeout.overall".into(), d)?;
    }
    Ok(())
}

fn fallback(config: &StackConfig) -> Checked {
    let f = &config.fallback;
    bounded(|| "fallback.pause".into(), f.pause)?;
    bounded(|| "fallback.max_wait".into(), f.max_wait)?;
    if f.max_rounds == 0 {
        return invalid(
            "fallback.max_rounds",
            "must be at least 1 (a request makes at least one pass)",
        );
    }
    bounded(|| "fallback.cooldown.default".into(), f.cooldown.default)?;
    bounded(|| "fallback.cooldown.max".into(), f.cooldown.max)?;
    if let Some(hedge) = &f.hedge {
        bounded(|| "fallback.hedge.delay".into(), hedge.delay)?;
        if hedge.max_hedges == 0 {
            return invalid("fallback.hedge.max_hedges", "must be at least 1");
        }
    }
    bounded(
        || "fallback.overload.prefer_within".into(),
        f.overload.prefer_within,
    )?;
    bounded(
        || "fallback.overload.initial_latency".into(),
        f.overload.initial_latency,
    )?;
    if let Some((key, why)) = f.overload.invalid() {
        return invalid(format!("fallback.overload.{key}"), why);
    }
    Ok(())
}

fn candidates(config: &StackConfig) -> Checked {
    for c in &config.candidates {
        let at = |key: &str| format!("candidates.{}.{key}", c.id);
        if c.id.trim().is_empty() {
            return invalid("candidates.id", "must not be empty");
        }
        c.check_provider_settings()?;
        non_negative(|| at("weight"), c.weight, "must be a number, not negative")?;
        if c.context_window == Some(0) {
            return invalid(at("context_window"), "must be at least 1");
        }
        if let Some(d) = c.timeout {
            positive(|| at("timeout"), d)?;
        }
        if let Some(d) = c.cooldown {
            bounded(|| at("cooldown"), d)?;
        }
        if let Some(r) = &c.retry {
            retry(&at("retry"), r)?;
        }
        if let Some(b) = &c.breaker {
            breaker(&at("breaker"), b)?;
        }
        if let Some(l) = &c.limit {
            limiter(&at("limit"), l)?;
        }
    }
    Ok(())
}

fn prices(config: &StackConfig) -> Checked {
    let prices = config
        .prices
        .iter()
        .map(|(model, price)| (format!("prices.{model:?}"), price))
        .chain(config.candidates.iter().filter_map(|c| {
            c.price
                .as_ref()
                .map(|p| (format!("candidates.{}.price", c.id), p))
        }));
    for (at, price) in prices {
        if let Err(rate) = price.check() {
            return invalid(
                format!("{at}.{rate}"),
                "must be a number of USD, not negative",
            );
        }
    }
    Ok(())
}

fn budget(config: &StackConfig) -> Checked {
    let Some(budget) = &config.budget else {
        return Ok(());
    };
    positive(|| "budget.window".into(), budget.window)?;
    if !(budget.warn_at.is_finite() && (0.0..=1.0).contains(&budget.warn_at)) {
        return invalid("budget.warn_at", "must be between 0 and 1");
    }
    non_negative(
        || "budget.input_margin".into(),
        budget.input_margin,
        "must be a number >= 0",
    )?;
    let limits = budget
        .limit_usd
        .into_iter()
        .map(|l| ("budget.limit_usd".to_owned(), l));
    let tags = budget
        .tags
        .iter()
        .map(|(t, l)| (format!("budget.tags.{t:?}"), *l));
    for (field, limit) in limits.chain(tags) {
        non_negative(|| field, limit, "must be a number of USD, not negative")?;
    }
    Ok(())
}

/// The limiter's own checks, under the key of its table.
fn limiter(at: &str, limit: &LimiterConfig) -> Checked {
    match limit.validate() {
        Ok(()) => {}
        Err(palisade_limit::ConfigError::Invalid { field, reason }) => {
            return invalid(format!("{at}.{field}"), reason);
        }
        Err(other) => {
            return Err(StackConfigError::InvalidSection {
                field: at.to_owned(),
                reason: other.to_string(),
            });
        }
    }
    for (key, d) in [
        ("max_wait", limit.max_wait),
        ("priority_aging", limit.priority_aging),
    ] {
        bounded(|| format!("{at}.{key}"), d)?;
    }
    for (key, quota) in [("requests", &limit.requests), ("tokens", &limit.tokens)] {
        if let Some(q) = quota {
            bounded(|| format!("{at}.{key}.period"), q.period)?;
        }
    }
    Ok(())
}

/// The breaker's own checks, under the key of its table.
fn breaker(at: &str, breaker: &BreakerConfig) -> Checked {
    breaker
        .validate()
        .map_err(|e| StackConfigError::InvalidSection {
            field: format!("{at}.{}", e.field()),
            reason: e.to_string(),
        })?;
    let window = match breaker.window {
        SlidingWindow::Time { length, .. } => Some(length),
        _ => None,
    };
    let durations = [
        ("slow_call_duration", Some(breaker.slow_call_duration)),
        (
            "count_dropped_calls_after",
            breaker.count_dropped_calls_after,
        ),
        ("window.length", window),
        ("open_duration.base", Some(breaker.open_duration.base)),
        ("open_duration.max", breaker.open_duration.max),
        (
            "half_open.busy_retry_after",
            Some(breaker.half_open.busy_retry_after),
        ),
        ("half_open.probe_lease", Some(breaker.half_open.probe_lease)),
    ];
    for (key, d) in durations {
        if let Some(d) = d {
            bounded(|| format!("{at}.{key}"), d)?;
        }
    }
    Ok(())
}

fn alerts(config: &StackConfig) -> Checked {
    let Some(alerts) = &config.alerts else {
        return Ok(());
    };
    if let Some(usd) = alerts.monthly_spend_usd
        && !(usd.is_finite() && usd > 0.0)
    {
        return invalid(
            "alerts.monthly_spend_usd",
            "must be a number of USD above 0",
        );
    }
    if let Some(failures) = &alerts.failures {
        if failures.count == 0 {
            return invalid(
                "alerts.failures.count",
                "must be at least 1 (the number of failed calls that raises the alert)",
            );
        }
        positive(|| "alerts.failures.window".into(), failures.window)?;
    }
    Ok(())
}

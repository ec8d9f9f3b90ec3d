//! Hostile stack TOML: every numeric key of a stack file, given values a
//! careless or hostile writer might put there (0, negative, NaN, infinite,
//! huge, wrong types), must end in one of two ways: a typed error that names
//! the key, or a stack that builds and serves a call (failures, retries and
//! fallback included) without panicking.
//!
//! Failures proptest finds are kept in `hostile_config.proptest-regressions`
//! beside this file (proptest's default source-parallel persistence) and
//! replayed first on every run.

use std::time::Duration;

use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError};
use palisade_stack::{StackBuilder, StackConfig, StackConfigError};
use proptest::prelude::*;

/// Each numeric key, as a line of TOML with `@` where the value goes, and the
/// key's dotted path as an error should name it. Lines before the first
/// `[[candidates]]` are stack keys (dotted keys at the root); `candidate`
/// lines go inside candidate `a`.
struct Key {
    path: &'static str,
    line: &'static str,
    candidate: bool,
}

const fn stack(path: &'static str, line: &'static str) -> Key {
    Key {
        path,
        line,
        candidate: false,
    }
}

const fn candidate(path: &'static str, line: &'static str) -> Key {
    Key {
        path,
        line,
        candidate: true,
    }
}

const KEYS: &[Key] = &[
    stack("seed", "seed = @"),
    stack("retry.max_attempts", "retry.max_attempts = @"),
    stack("retry.max_total_time", "retry.max_total_time = @"),
    stack("retry.backoff.base", "retry.backoff.base = @"),
    stack("retry.backoff.multiplier", "retry.backoff.multiplier = @"),
    stack("retry.backoff.cap", "retry.backoff.cap = @"),
    stack(
        "retry.backoff.additive_ratio",
        "retry.backoff = { jitter = \"additive\", additive_ratio = @ }",
    ),
    stack("retry.budget.ratio", "retry.budget.ratio = @"),
    stack("retry.budget.min_retries", "retry.budget.min_retries = @"),
    stack("retry.budget.window", "retry.budget.window = @"),
    stack("timeout.per_attempt", "timeout.per_attempt = @"),
    stack("timeout.overall", "timeout.overall = @"),
    stack("fallback.pause", "fallback.pause = @"),
    stack("fallback.max_wait", "fallback.max_wait = @"),
    stack("fallback.max_rounds", "fallback.max_rounds = @"),
    stack("fallback.cooldown.default", "fallback.cooldown.default = @"),
    stack("fallback.cooldown.max", "fallback.cooldown.max = @"),
    stack("fallback.hedge.delay", "fallback.hedge.delay = @"),
    stack(
        "fallback.hedge.max_hedges",
        "fallback.hedge = { delay = \"1s\", max_hedges = @ }",
    ),
    stack(
        "breaker.consecutive_failures",
        "breaker.consecutive_failures = @",
    ),
    stack(
        "breaker.failure_rate_threshold",
        "breaker.failure_rate_threshold = @",
    ),
    stack("breaker.minimum_calls", "breaker.minimum_calls = @"),
    stack(
        "breaker.open_duration.base",
        "breaker.open_duration.base = @",
    ),
    stack(
        "breaker.open_duration.jitter",
        "breaker.open_duration.jitter = @",
    ),
    stack(
        "breaker.half_open.max_probes",
        "breaker.half_open.max_probes = @",
    ),
    stack("limit.max_concurrent", "limit.max_concurrent = @"),
    stack("limit.max_wait", "limit.max_wait = @"),
    stack("limit.priority_aging", "limit.priority_aging = @"),
    stack("limit.requests.amount", "limit.requests.amount = @"),
    stack(
        "limit.requests.period",
        "limit.requests = { amount = 10, period = @ }",
    ),
    stack(
        "limit.tokens.burst",
        "limit.tokens = { amount = 1000, burst = @ }",
    ),
    stack(
        "limit.adaptive.decrease_factor",
        "limit.adaptive.decrease_factor = @",
    ),
    stack("budget.window", "budget.window = @"),
    stack("budget.limit_usd", "budget.limit_usd = @"),
    stack("budget.warn_at", "budget.warn_at = @"),
    stack(
        "prices.m.input_per_mtok",
        "prices.m = { input_per_mtok = @, output_per_mtok = 1.0 }",
    ),
    stack(
        "prices.m.output_per_mtok",
        "prices.m = { input_per_mtok = 1.0, output_per_mtok = @ }",
    ),
    candidate("candidates.a.weight", "weight = @"),
    candidate("candidates.a.context_window", "context_window = @"),
    candidate("candidates.a.timeout", "timeout = @"),
    candidate("candidates.a.cooldown", "cooldown = @"),
    candidate(
        "candidates.a.price.input_per_mtok",
        "price = { input_per_mtok = @, output_per_mtok = 1.0 }",
    ),
    candidate(
        "candidates.a.price.cache_read_per_mtok",
        "price = { input_per_mtok = 1.0, output_per_mtok = 1.0, cache_read_per_mtok = @ }",
    ),
    candidate("candidates.a.retry.max_attempts", "retry.max_attempts = @"),
    candidate("candidates.a.retry.backoff.cap", "retry.backoff.cap = @"),
    candidate(
        "candidates.a.limit.max_concurrent",
        "limit.max_concurrent = @",
    ),
    candidate(
        "candidates.a.limit.tokens.amount",
        "limit.tokens.amount = @",
    ),
    candidate(
        "candidates.a.breaker.consecutive_failures",
        "breaker.consecutive_failures = @",
    ),
];

/// Values no key should trip over: edges of every numeric type, non-numbers,
/// durations written wrongly, and other TOML types.
const HOSTILE: &[&str] = &[
    "0",
    "-0.0",
    "-1",
    "-1e300",
    "1e-300",
    "0.000000001",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "1e300",
    "1e19",
    "1e18",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "\"0s\"",
    "\"-5s\"",
    "\"1e30s\"",
    "\"36500d\"",
    "\"99999999999h\"",
    "\"lots\"",
    "\"\"",
    "true",
    "[1, 2]",
    "{}",
    "1979-05-27",
];

fn document(key: &Key, value: &str) -> String {
    let line = key.line.replace('@', value);
    let (root, inside) = if key.candidate {
        (String::new(), format!("{line}\n"))
    } else {
        (format!("{line}\n"), String::new())
    };
    format!(
        "{root}[[candidates]]\nid = \"a\"\nmodel = \"m\"\n{inside}\n[[candidates]]\nid = \"b\"\n"
    )
}

/// Whether `message` names the key at `path`: its last segment appears (a
/// TOML type error shows the line with the key; a refusal names the key, or
/// for a quota its table and the field, "`limit.requests` amount …").
fn names(message: &str, path: &str) -> bool {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    message.contains(leaf)
}

/// Builds the stack and serves a few calls that fail, retry and fall back,
/// on paused time: whatever passed validation must not panic here.
fn serve(config: StackConfig) -> Result<(), StackConfigError> {
    let a = ScriptedProvider::new("a")
        .then_error(ProviderError::throttled(
            "slow down",
            Some(Duration::from_secs(2)),
        ))
        .then_error(ProviderError::new(ErrorKind::Internal, "500"))
        .then_text("from a");
    let b = ScriptedProvider::new("b")
        .then_error(ProviderError::new(ErrorKind::Unavailable, "down"))
        .then_text("from b");
    let stack = StackBuilder::new(config)
        .provider("a", a)
        .provider("b", b)
        .build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for _ in 0..3 {
            // Answers and typed errors are both fine; a panic is not.
            let _ = stack.complete(ChatRequest::user("hi")).await;
        }
    });
    Ok(())
}

/// How a hostile value ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Refused when the TOML was read.
    Unread,
    /// Read, then refused by `validate`.
    Refused,
    /// Accepted, built and served.
    Served,
}

fn check(key: &Key, value: &str) -> Result<Ending, TestCaseError> {
    let text = document(key, value);
    let config = match StackConfig::from_toml(&text) {
        Ok(config) => config,
        Err(e @ StackConfigError::Toml(_)) => {
            let message = e.to_string();
            prop_assert!(
                names(&message, key.path),
                "{text}\nparse error does not name `{}`: {message}",
                key.path
            );
            return Ok(Ending::Unread);
        }
        Err(other) => return Err(TestCaseError::fail(format!("{text}\n{other:?}"))),
    };
    match config.validate() {
        Ok(()) => {
            let built = serve(config);
            prop_assert!(
                built.is_ok(),
                "{text}\nvalidated but did not build: {built:?}"
            );
            Ok(Ending::Served)
        }
        Err(e) => {
            let message = e.to_string();
            prop_assert!(
                matches!(
                    e,
                    StackConfigError::Invalid { .. } | StackConfigError::InvalidSection { .. }
                ),
                "{text}\nan untyped refusal: {e:?}"
            );
            let path = key.path.replace(".m.", ".\"m\".");
            let parent = path.rsplit_once('.').map_or(path.as_str(), |(p, _)| p);
            prop_assert!(
                message.contains(parent) && names(&message, key.path),
                "{text}\nrefusal does not name `{}`: {message}",
                key.path
            );
            Ok(Ending::Refused)
        }
    }
}

/// Every key with every hostile value, exhaustively: the cases are few
/// enough that none is left to chance.
#[test]
fn every_numeric_key_survives_every_hostile_value() {
    let mut endings = Vec::new();
    for key in KEYS {
        let mut refused = false;
        for value in HOSTILE {
            match check(key, value) {
                Ok(ending) => {
                    refused |= ending == Ending::Refused;
                    endings.push(ending);
                }
                Err(e) => panic!("{}: {e}", key.path),
            }
        }
        // Every key has a number it refuses by name, except the few for
        // which every number of the right type works.
        let anything_goes = ["seed", "retry.budget.min_retries"].contains(&key.path);
        assert!(
            refused || anything_goes,
            "{}: no hostile value was refused by validate",
            key.path
        );
    }
    let count = |e| endings.iter().filter(|&&x| x == e).count();
    // Not vacuous: each ending is reached many times.
    assert!(count(Ending::Unread) > 100, "{endings:?}");
    assert!(count(Ending::Refused) > 100, "{endings:?}");
    assert!(count(Ending::Served) > 50, "{endings:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random numbers, integer and float, of any magnitude and sign, at
    /// random keys.
    #[test]
    fn random_numbers_at_any_key_are_refused_by_name_or_served(
        key in 0..KEYS.len(),
        value in prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|x| if x.is_finite() { format!("{x:e}") } else { "nan".to_owned() }),
            (0u32..400, any::<bool>()).prop_map(|(e, neg)| format!("{}1e{e}", if neg { "-" } else { "" })),
            (any::<u32>(), prop_oneof![Just("ns"), Just("ms"), Just("s"), Just("m"), Just("h"), Just("d")])
                .prop_map(|(n, unit)| format!("\"{n}{unit}\"")),
        ],
    ) {
        check(&KEYS[key], &value)?;
    }
}

//! What `palisade chat` prints when it gets no answer: the error and its
//! attempts trail on stderr, and with `--json` the same as a JSON object on
//! stdout, so a script reading stdout always learns why. Exit status 1.

use std::process::ExitCode;
use std::time::Duration;

use palisade_core::{Attempt, ErrorKind, ProviderError, ProviderId};
use palisade_stack::FallbackError;
use serde::Serialize;

use super::{describe, fail};

/// What `--json` prints when the call fails.
#[derive(Serialize)]
struct ChatFailure<'a> {
    /// Whether every candidate was simulated (the time is then simulated).
    simulated: bool,
    /// Time from sending to the failure, in ms.
    elapsed_ms: f64,
    /// What went wrong.
    error: ErrorReport<'a>,
}

/// A failed call: the error and, for a stack, the attempts behind it.
#[derive(Serialize)]
struct ErrorReport<'a> {
    kind: ErrorKind,
    /// The error's message (for a stack, the whole trail in one line).
    message: &'a str,
    /// The candidate whose error ended the call, when known.
    provider: Option<&'a ProviderId>,
    retry_after_s: Option<f64>,
    status: Option<u16>,
    request_id: Option<&'a str>,
    /// Distinct candidates called (not counting ones only skipped).
    candidates_tried: usize,
    /// Every candidate tried or skipped, in order.
    attempts: &'a [Attempt],
}

/// The attempts trail, one indented, numbered line per attempt.
pub(super) fn trail_lines(attempts: &[Attempt]) -> impl Iterator<Item = String> + '_ {
    attempts.iter().enumerate().map(|(i, attempt)| {
        format!(
            "  {}. {} {} ({:.1} s)",
            i + 1,
            attempt.provider,
            attempt.outcome,
            attempt.elapsed.as_secs_f64()
        )
    })
}

/// A config or setup failure: one line on stderr, and with `--json` an
/// `error` object on stdout too, so a script reading stdout sees why.
pub(super) fn fail_setup(message: &str, json: bool) -> ExitCode {
    if json {
        let out = serde_json::json!({ "error": { "kind": "config", "message": message } });
        println!("{out}");
    }
    fail(&message)
}

/// A failed call: the error and its attempts trail on stderr; with `--json`
/// the same as a JSON object on stdout. Exit status 1 either way.
pub(super) fn call_failed(
    error: &ProviderError,
    elapsed: Duration,
    simulated: bool,
    json: bool,
) -> ExitCode {
    let fallback = FallbackError::find(error);
    let attempts = fallback.map_or(&[][..], FallbackError::attempts);
    if json {
        let out = ChatFailure {
            simulated,
            elapsed_ms: (elapsed.as_secs_f64() * 1e4).round() / 10.0,
            error: ErrorReport {
                kind: error.kind(),
                message: error.message(),
                provider: error.provider(),
                retry_after_s: error.retry_after().map(|d| d.as_secs_f64()),
                status: error.status(),
                request_id: error.request_id(),
                candidates_tried: fallback.map_or(0, FallbackError::candidates_tried),
                attempts,
            },
        };
        match serde_json::to_string_pretty(&out) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("palisade: cannot write the error as JSON: {e}"),
        }
    }
    eprintln!("palisade: {}", describe(error));
    if !attempts.is_empty() {
        eprintln!("attempts:");
        for line in trail_lines(attempts) {
            eprintln!("{line}");
        }
    }
    ExitCode::from(1)
}

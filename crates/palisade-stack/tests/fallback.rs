//! Fallback: moving on, skipping, waiting for recovery, the attempts trail.

use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    Attempt, AttemptOutcome, ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt,
    ProviderId, Readiness, SkipReason,
};
use palisade_stack::fallback::CooldownConfig;
use palisade_stack::{Candidate, Fallback, FallbackConfig, FallbackError, RetryLayer, RetryPolicy};
use tokio::time::Instant;

fn failed(id: &str, kind: ErrorKind, message: &str) -> (ProviderId, AttemptOutcome) {
    (
        ProviderId::new(id),
        AttemptOutcome::Failed {
            kind,
            message: message.into(),
        },
    )
}

fn skipped(id: &str, reason: SkipReason) -> (ProviderId, AttemptOutcome) {
    (ProviderId::new(id), AttemptOutcome::Skipped(reason))
}

fn succeeded(id: &str) -> (ProviderId, AttemptOutcome) {
    (ProviderId::new(id), AttemptOutcome::Succeeded)
}

fn trail(attempts: &[Attempt]) -> Vec<(ProviderId, AttemptOutcome)> {
    attempts
        .iter()
        .map(|a| (a.provider.clone(), a.outcome.clone()))
        .collect()
}

fn unavailable(secs: u64) -> Readiness {
    Readiness::Unavailable {
        retry_after: Duration::from_secs(secs),
    }
}

/// A candidate with the default retry policy, as the stack builds them.
fn with_retry(p: &ScriptedProvider) -> Candidate {
    Candidate::new(p.clone().layer(RetryLayer::new(RetryPolicy::default())))
}

#[tokio::test(start_paused = true)]
async fn a_throttled_primary_moves_to_the_secondary_at_once() {
    let primary = ScriptedProvider::new("primary").then_error(ProviderError::throttled(
        "rate exceeded",
        Some(Duration::from_secs(2)),
    ));
    let secondary = ScriptedProvider::new("secondary").then_text("from secondary");
    let fallback = Fallback::new([with_retry(&primary), with_retry(&secondary)]);

    let start = Instant::now();
    let answer = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "secondary");
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no retry wait on the primary"
    );
    assert_eq!(primary.call_count(), 1);
    assert_eq!(
        trail(&answer.attempts),
        [
            failed("primary", ErrorKind::Throttled, "rate exceeded"),
            succeeded("secondary")
        ]
    );
    let stats = fallback.stats();
    assert_eq!(stats[0].throttles, 1);
    assert_eq!(stats[0].fallbacks_out, 1);
    assert_eq!(stats[1].fallbacks_in, 1);
}

#[tokio::test(start_paused = true)]
async fn open_breaker_candidates_are_skipped_without_a_call() {
    let primary = ScriptedProvider::new("primary");
    primary.set_readiness(unavailable(30));
    let secondary = ScriptedProvider::new("secondary");
    let fallback = Fallback::new([
        Candidate::new(primary.clone()),
        Candidate::new(secondary.clone()),
    ]);

    let answer = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(primary.call_count(), 0);
    assert_eq!(
        trail(&answer.attempts),
        [
            skipped(
                "primary",
                SkipReason::Unavailable {
                    retry_after: Duration::from_secs(30)
                }
            ),
            succeeded("secondary")
        ]
    );
    assert_eq!(fallback.stats()[0].skipped_unavailable, 1);
}

#[tokio::test(start_paused = true)]
async fn candidates_too_small_for_the_request_are_skipped() {
    let small = ScriptedProvider::new("small").with_context_window(8_000);
    let large = ScriptedProvider::new("large").with_context_window(200_000);
    let fallback = Fallback::new([Candidate::new(small.clone()), Candidate::new(large.clone())]);

    let req = ChatRequest::user("a long document")
        .with_input_token_estimate(10_000)
        .with_max_tokens(1_000);
    let answer = fallback.complete(req).await.unwrap();
    assert_eq!(small.call_count(), 0);
    assert_eq!(
        trail(&answer.attempts),
        [
            skipped(
                "small",
                SkipReason::ContextWindowTooSmall {
                    needed: 11_000,
                    window: 8_000
                }
            ),
            succeeded("large")
        ]
    );

    // Fitting nowhere is a typed context-window error.
    let req = ChatRequest::user("huge").with_input_token_estimate(500_000);
    let err = fallback.complete(req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextWindowExceeded);
    assert!(matches!(
        FallbackError::find(&err),
        Some(FallbackError::NoCandidateFits {
            needed: 501_024,
            ..
        })
    ));
}

/// A provider behind a breaker that is open until `until` (tokio time), and
/// says so through its readiness, as a circuit breaker does.
struct OpenUntil {
    inner: ScriptedProvider,
    until: Instant,
}

#[palisade_core::async_trait]
impl Provider for OpenUntil {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }
    async fn complete(
        &self,
        req: ChatRequest,
    ) -> Result<palisade_core::ChatResponse, ProviderError> {
        self.inner.complete(req).await
    }
    async fn stream(&self, req: ChatRequest) -> Result<palisade_core::ChatStream, ProviderError> {
        self.inner.stream(req).await
    }
    fn readiness(&self) -> Readiness {
        let now = Instant::now();
        if now >= self.until {
            Readiness::Ready
        } else {
            Readiness::Unavailable {
                retry_after: self.until - now,
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn when_all_are_unavailable_it_waits_for_the_earliest_recovery() {
    let primary = ScriptedProvider::new("primary");
    let secondary = ScriptedProvider::new("secondary");
    let now = Instant::now();
    let fallback = Fallback::new([
        Candidate::new(OpenUntil {
            inner: primary.clone(),
            until: now + Duration::from_secs(5),
        }),
        Candidate::new(OpenUntil {
            inner: secondary.clone(),
            until: now + Duration::from_secs(10),
        }),
    ]);

    let start = Instant::now();
    let answer = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(
        trail(&answer.attempts),
        [
            skipped(
                "primary",
                SkipReason::Unavailable {
                    retry_after: Duration::from_secs(5)
                }
            ),
            skipped(
                "secondary",
                SkipReason::Unavailable {
                    retry_after: Duration::from_secs(10)
                }
            ),
            succeeded("primary")
        ]
    );
    assert_eq!(secondary.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn when_none_recovers_before_the_deadline_the_error_is_typed() {
    let primary = ScriptedProvider::new("primary");
    let secondary = ScriptedProvider::new("secondary");
    primary.set_readiness(unavailable(5));
    secondary.set_readiness(unavailable(10));
    let fallback = Fallback::new([
        Candidate::new(primary.clone()),
        Candidate::new(secondary.clone()),
    ]);

    // Recovery in 5 s can't beat a 3 s deadline: fail at once, saying when to come back.
    let start = Instant::now();
    let err = fallback
        .complete(ChatRequest::user("hi").with_timeout(Duration::from_secs(3)))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    let Some(FallbackError::AllCandidatesUnavailable {
        retry_after,
        attempts,
        ..
    }) = FallbackError::find(&err)
    else {
        panic!("expected AllCandidatesUnavailable, got {err:?}");
    };
    assert_eq!(*retry_after, Duration::from_secs(5));
    assert_eq!(attempts.len(), 2);

    // A recovery that doesn't come (the breaker stays open): waits once, then
    // fails before the deadline.
    let start = Instant::now();
    let err = fallback
        .complete(ChatRequest::user("hi").with_timeout(Duration::from_secs(8)))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert!(matches!(
        FallbackError::find(&err),
        Some(FallbackError::AllCandidatesUnavailable { .. })
    ));
    assert_eq!(FallbackError::attempts_of(&err).len(), 4);
    assert_eq!(primary.call_count() + secondary.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_request_error_is_returned_without_falling_back() {
    let primary = ScriptedProvider::new("primary")
        .then_error(ProviderError::invalid_request("bad role order"));
    let secondary = ScriptedProvider::new("secondary");
    let fallback = Fallback::new([Candidate::new(primary), Candidate::new(secondary.clone())]);
    let err = fallback
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(err.provider().map(ProviderId::as_str), Some("primary"));
    assert_eq!(secondary.call_count(), 0);
    assert_eq!(
        trail(FallbackError::attempts_of(&err)),
        [failed(
            "primary",
            ErrorKind::InvalidRequest,
            "bad role order"
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn content_policy_fallback_is_opt_in() {
    let refusal = ProviderError::new(ErrorKind::ContentFiltered, "refused");
    let make = || {
        let primary = ScriptedProvider::new("primary").then_error(refusal.clone());
        let secondary = ScriptedProvider::new("secondary");
        (primary, secondary)
    };
    let (p, s) = make();
    let off = Fallback::new([Candidate::new(p), Candidate::new(s)]);
    assert_eq!(
        off.complete(ChatRequest::user("x"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ContentFiltered
    );

    let (p, s) = make();
    let on = Fallback::new([Candidate::new(p), Candidate::new(s)]).with_config(FallbackConfig {
        content_policy_fallback: true,
        ..FallbackConfig::default()
    });
    assert_eq!(
        on.complete(ChatRequest::user("x"))
            .await
            .unwrap()
            .served_by
            .as_str(),
        "secondary"
    );
}

#[tokio::test(start_paused = true)]
async fn a_throttle_with_retry_after_cools_the_candidate_down_for_everyone() {
    let primary = ScriptedProvider::new("primary").then_error(ProviderError::throttled(
        "slow",
        Some(Duration::from_secs(2)),
    ));
    let secondary = ScriptedProvider::new("secondary");
    let fallback = Fallback::new([
        Candidate::new(primary.clone()),
        Candidate::new(secondary.clone()),
    ]);

    fallback.complete(ChatRequest::user("1")).await.unwrap();
    let second = fallback.complete(ChatRequest::user("2")).await.unwrap();
    assert_eq!(primary.call_count(), 1, "skipped while cooling down");
    assert!(matches!(
        second.attempts[0].outcome,
        AttemptOutcome::Skipped(SkipReason::Unavailable { .. })
    ));

    tokio::time::advance(Duration::from_secs(2)).await;
    fallback.complete(ChatRequest::user("3")).await.unwrap();
    assert_eq!(primary.call_count(), 2, "called again after the cooldown");

    // reset() clears a cooldown by hand.
    let primary = ScriptedProvider::new("primary").then_error(ProviderError::throttled(
        "slow",
        Some(Duration::from_secs(60)),
    ));
    let fallback = Fallback::new([Candidate::new(primary.clone()), Candidate::new(secondary)]);
    fallback.complete(ChatRequest::user("1")).await.unwrap();
    assert!(fallback.candidates()[0].cooldown_remaining().is_some());
    fallback.reset();
    fallback.complete(ChatRequest::user("2")).await.unwrap();
    assert_eq!(primary.call_count(), 2);

    // Disabled cooldowns keep calling.
    let primary = ScriptedProvider::new("primary").then_error(ProviderError::throttled(
        "slow",
        Some(Duration::from_secs(60)),
    ));
    let fallback = Fallback::new([
        Candidate::new(primary.clone()),
        Candidate::new(ScriptedProvider::new("s")),
    ])
    .with_config(FallbackConfig {
        cooldown: CooldownConfig {
            enabled: false,
            ..CooldownConfig::default()
        },
        ..FallbackConfig::default()
    });
    fallback.complete(ChatRequest::user("1")).await.unwrap();
    fallback.complete(ChatRequest::user("2")).await.unwrap();
    assert_eq!(primary.call_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_pause_between_fallbacks_is_observed() {
    let primary =
        ScriptedProvider::new("primary").then_error(ProviderError::new(ErrorKind::Internal, "500"));
    let secondary = ScriptedProvider::new("secondary");
    let fallback = Fallback::new([Candidate::new(primary), Candidate::new(secondary.clone())])
        .with_config(FallbackConfig {
            pause: Duration::from_secs(5),
            ..FallbackConfig::default()
        });
    let start = Instant::now();
    fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(secondary.calls()[0].at - start, Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn when_every_candidate_fails_the_last_error_comes_with_the_whole_trail() {
    let a = ScriptedProvider::new("a").then_error(ProviderError::new(ErrorKind::Internal, "500"));
    let b = ScriptedProvider::new("b").then_error(ProviderError::new(ErrorKind::Auth, "denied"));
    let c =
        ScriptedProvider::new("c").then_error(ProviderError::new(ErrorKind::NotFound, "no model"));
    let fallback = Fallback::new([Candidate::new(a), Candidate::new(b), Candidate::new(c)]);
    let err = fallback
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        trail(FallbackError::attempts_of(&err)),
        [
            failed("a", ErrorKind::Internal, "500"),
            failed("b", ErrorKind::Auth, "denied"),
            failed("c", ErrorKind::NotFound, "no model"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_throttled_candidate_alone_is_retried_by_its_retry_layer() {
    // With no alternative ready, the retry layer waits out the Retry-After.
    let primary = ScriptedProvider::new("primary")
        .then_error(ProviderError::throttled(
            "slow",
            Some(Duration::from_secs(3)),
        ))
        .then_text("ok");
    let secondary = ScriptedProvider::new("secondary");
    secondary.set_readiness(unavailable(60));
    let fallback = Fallback::new([with_retry(&primary), with_retry(&secondary)]);
    let start = Instant::now();
    let answer = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "primary");
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(primary.call_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn streams_fall_back_before_the_first_event() {
    let primary = ScriptedProvider::new("primary")
        .then_error(ProviderError::new(ErrorKind::Unavailable, "503"));
    let secondary = ScriptedProvider::new("secondary").then_text("streamed");
    let fallback = Fallback::new([Candidate::new(primary), Candidate::new(secondary.clone())]);
    let stream = fallback.stream(ChatRequest::user("hi")).await.unwrap();
    let answer = palisade_core::collect_stream(stream).await.unwrap();
    assert_eq!(answer.text_content(), "streamed");
    let stats = fallback.stats();
    assert_eq!(stats[1].input_tokens, 10, "usage recorded from the stream");
}

#[tokio::test(start_paused = true)]
async fn mid_call_failures_use_the_outcome_scripted() {
    // Sanity: Outcome is usable for slow candidates in other tests.
    let p = ScriptedProvider::new("slow").otherwise(Duration::from_secs(1), Outcome::Echo);
    let fallback = Fallback::new([Candidate::new(p)]);
    let start = Instant::now();
    fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    let snap = &fallback.stats()[0];
    assert_eq!(snap.latency.ewma_ms, Some(1000.0));
    assert!(snap.latency.p50_ms.unwrap() > 900.0);
}

#[tokio::test(start_paused = true)]
async fn a_candidate_that_failed_for_good_is_left_out_while_waiting_for_another() {
    let primary =
        ScriptedProvider::new("primary").then_error(ProviderError::new(ErrorKind::Auth, "denied"));
    let secondary = ScriptedProvider::new("secondary");
    let now = Instant::now();
    let fallback = Fallback::new([
        Candidate::new(primary.clone()),
        Candidate::new(OpenUntil {
            inner: secondary.clone(),
            until: now + Duration::from_secs(5),
        }),
    ]);
    let start = Instant::now();
    let answer = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(
        primary.call_count(),
        1,
        "not called again after failing for good"
    );
    assert_eq!(
        trail(&answer.attempts),
        [
            failed("primary", ErrorKind::Auth, "denied"),
            skipped(
                "secondary",
                SkipReason::Unavailable {
                    retry_after: Duration::from_secs(5)
                }
            ),
            succeeded("secondary")
        ]
    );
}

/// What Bedrock's error mapping makes of a ThrottlingException: Throttled,
/// with no Retry-After (Bedrock sends none).
fn bedrock_throttle() -> ProviderError {
    ProviderError::throttled("ThrottlingException: Too many requests", None)
}

#[tokio::test(start_paused = true)]
async fn a_throttle_without_retry_after_cools_down_for_the_default() {
    let primary = ScriptedProvider::new("primary").then_error(bedrock_throttle());
    let secondary = ScriptedProvider::new("secondary");
    let fallback = Fallback::new([
        Candidate::new(primary.clone()),
        Candidate::new(secondary.clone()),
    ])
    .with_config(FallbackConfig {
        cooldown: CooldownConfig {
            default: Duration::from_secs(10),
            ..CooldownConfig::default()
        },
        ..FallbackConfig::default()
    });

    fallback.complete(ChatRequest::user("1")).await.unwrap();
    assert_eq!(
        fallback.candidates()[0].cooldown_remaining(),
        Some(Duration::from_secs(10))
    );
    tokio::time::advance(Duration::from_secs(9)).await;
    let during = fallback.complete(ChatRequest::user("2")).await.unwrap();
    assert_eq!(primary.call_count(), 1, "skipped while cooling down");
    assert_eq!(
        trail(&during.attempts)[0],
        skipped(
            "primary",
            SkipReason::Unavailable {
                retry_after: Duration::from_secs(1)
            }
        )
    );
    assert_eq!(fallback.stats()[0].skipped_cooldown, 1);

    tokio::time::advance(Duration::from_secs(1)).await;
    let after = fallback.complete(ChatRequest::user("3")).await.unwrap();
    assert_eq!(primary.call_count(), 2, "called again once cooled down");
    assert_eq!(after.served_by.as_str(), "primary");

    // With the default (0) and no Retry-After, no cooldown at all.
    let primary = ScriptedProvider::new("primary").then_error(bedrock_throttle());
    let fallback = Fallback::new([Candidate::new(primary.clone()), Candidate::new(secondary)]);
    fallback.complete(ChatRequest::user("1")).await.unwrap();
    assert_eq!(fallback.candidates()[0].cooldown_remaining(), None);
    fallback.complete(ChatRequest::user("2")).await.unwrap();
    assert_eq!(primary.call_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_candidate_cooldown_overrides_the_default() {
    // The seed systems: 60 s for the primary (the stack's default here), 30 s
    // for a fallback (its own), and one candidate with the cooldown off.
    let primary = ScriptedProvider::new("primary")
        .then_error(bedrock_throttle())
        .then_text("primary again");
    let secondary = ScriptedProvider::new("secondary")
        .then_error(bedrock_throttle())
        .then_text("secondary again");
    let tertiary = ScriptedProvider::new("tertiary")
        .then_error(bedrock_throttle())
        .then_text("tertiary again");
    let last = ScriptedProvider::new("last");
    let fallback = Fallback::new([
        Candidate::new(primary.clone()),
        Candidate::new(secondary.clone()).with_cooldown(Duration::from_secs(30)),
        Candidate::new(tertiary.clone()).with_cooldown(Duration::ZERO),
        Candidate::new(last.clone()),
    ])
    .with_config(FallbackConfig {
        cooldown: CooldownConfig {
            default: Duration::from_secs(60),
            ..CooldownConfig::default()
        },
        ..FallbackConfig::default()
    });

    let first = fallback.complete(ChatRequest::user("1")).await.unwrap();
    assert_eq!(first.served_by.as_str(), "last");
    let remaining: Vec<_> = fallback
        .candidates()
        .iter()
        .map(Candidate::cooldown_remaining)
        .collect();
    assert_eq!(
        remaining,
        [
            Some(Duration::from_secs(60)),
            Some(Duration::from_secs(30)),
            None,
            None
        ]
    );

    // The tertiary, not cooled down, is called by the next request.
    let second = fallback.complete(ChatRequest::user("2")).await.unwrap();
    assert_eq!(second.served_by.as_str(), "tertiary");

    tokio::time::advance(Duration::from_secs(30)).await;
    let third = fallback.complete(ChatRequest::user("3")).await.unwrap();
    assert_eq!(third.served_by.as_str(), "secondary", "back after its 30 s");
    assert_eq!(primary.call_count(), 1, "the primary still cools down");

    tokio::time::advance(Duration::from_secs(30)).await;
    let fourth = fallback.complete(ChatRequest::user("4")).await.unwrap();
    assert_eq!(fourth.served_by.as_str(), "primary", "back after its 60 s");
}

#[tokio::test(start_paused = true)]
async fn every_candidate_throttled_without_retry_after_waits_for_the_first_cooldown() {
    let primary = ScriptedProvider::new("primary")
        .then_error(bedrock_throttle())
        .then_text("recovered");
    let secondary = ScriptedProvider::new("secondary")
        .then_error(bedrock_throttle())
        .then_text("recovered");
    let fallback = Fallback::new([
        Candidate::new(primary.clone()).with_cooldown(Duration::from_secs(5)),
        Candidate::new(secondary.clone()).with_cooldown(Duration::from_secs(3)),
    ]);
    let start = Instant::now();
    let answer = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(answer.served_by.as_str(), "secondary");
}

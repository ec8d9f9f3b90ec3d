//! # Guide: how the limiter thinks
//!
//! A doc-only module: no items, just the model behind [`Limiter`](crate::Limiter).
//!
//! ## Three limits, one decision
//!
//! A limiter combines any of: **requests per interval** (GCRA, the algorithm
//! governor uses), a **token budget per interval** (a token bucket written as
//! GCRA over tokens), and a **concurrency cap**. A request is admitted only when
//! every configured limit has room, and all are charged in the same critical
//! section; when one says no, nothing is consumed. Each interval limit is a
//! bucket of `burst` units (default: the whole quota) refilled continuously at
//! `amount / period`, so in any window of one period at most `amount + burst`
//! units are admitted — the continuous refill Anthropic documents for its API,
//! rather than a fixed window that would allow a double burst at its edge.
//!
//! ## Reserve, then settle
//!
//! Token cost is unknown until the answer arrives, so admission *reserves* an
//! estimate and the permit *settles* the truth:
//!
//! - the reservation is `input estimate + max_tokens × output burndown`, as
//!   the limiter's [`CostModel`](crate::CostModel) says: some providers count
//!   each output token several times against their token quota and reserve
//!   `max_tokens` up front exactly like this, and their crates ship a cost
//!   model that knows it; the provider-neutral
//!   [`DefaultCostModel`](crate::DefaultCostModel) uses a burndown of 1 unless
//!   configured;
//! - [`Permit::settle`](crate::Permit::settle) prices the reported usage with the
//!   same burndown (the default model counts every reported token, output
//!   times the burndown; a provider's model may leave cache reads out) and
//!   **refunds** the unused part at once, so the budget is not held
//!   hostage by a generous `max_tokens`. The bucket is left exactly as if the
//!   request had reserved only what it used from the start: refill that the
//!   bucket could not hold while the reservation was out (it was full, or
//!   nearly) is not handed out a second time, which is what keeps real usage
//!   within `amount + burst` in every window, refunds included;
//! - when usage exceeds the reservation (an input estimate that was too low),
//!   the overrun is charged as **debt**: the bucket goes below empty and no
//!   request, however small, is admitted until refill has paid it off. Debt is
//!   what keeps a limiter with a bad estimator honest over time.
//!
//! ## Dropping a permit
//!
//! A permit dropped without settling — the call failed, timed out, was
//! cancelled, or the caller panicked — always gives its **concurrency slot**
//! back. Its tokens follow the limiter's [`DropRule`](crate::DropRule): by
//! default the whole reservation is refunded (a failed call is not billed, and
//! providers that reserve up front return the reservation of a failed
//! request); `KeepInput` keeps the
//! prompt's share; `KeepAll` keeps everything. The request itself stays counted
//! against requests-per-interval: it was sent. The
//! [`RateLimitLayer`](crate::RateLimitLayer) settles whenever the provider reported
//! usage (for a stream, from its last usage event, even if an error followed),
//! so the drop rule only applies when usage is unknown.
//!
//! A *waiting* request that is cancelled (its future dropped) leaves no trace:
//! it leaves the queue, and if it had just been granted capacity, the grant is
//! undone whole and handed to the next waiter.
//!
//! ## Waiting: priorities without starvation or herds
//!
//! Requests that don't fit wait in a queue: **first come, first served within a
//! priority, higher priorities first**. Only the head of the queue is ever
//! considered, and nobody overtakes it — so a large request cannot be starved
//! by a stream of small ones that would each fit in the gaps: capacity
//! accumulates until the head fits. To keep low priorities from starving under
//! sustained high-priority load, a waiter is served as if one priority higher
//! for every `priority_aging` (default 10 s) it has waited.
//!
//! When capacity frees (a settle, a refund, a drop), the code that freed it
//! grants waiters from the head while they fit and wakes exactly those; when
//! the head must wait for refill, only the head sleeps on a timer. No release
//! wakes the whole queue.
//!
//! A request waits at most `max_wait` (default 30 s) or until its deadline
//! (`RequestMetadata::deadline`), whichever is first; then it fails with
//! [`LimitError::RateLimited`](crate::LimitError::RateLimited) carrying
//! `retry_after`. A request that could not be admitted before its deadline even
//! with the queue empty fails at once rather than waiting in vain, and one
//! whose cost exceeds a limit's whole capacity fails at once with
//! [`LimitError::CostExceedsCapacity`](crate::LimitError::CostExceedsCapacity).
//! [`Limiter::try_acquire`](crate::Limiter::try_acquire) never waits and never
//! jumps the queue. [`Limiter::try_acquire_ref`](crate::Limiter::try_acquire_ref)
//! admits the same way but returns a [`PermitRef`](crate::PermitRef) that
//! borrows the limiter (no reference counting), for callers that settle in
//! the scope that admitted; it settles and drops by the same rules.
//!
//! ## Adaptive mode
//!
//! Published quotas are a ceiling, not a promise. With
//! [`AdaptiveConfig::enabled`](crate::AdaptiveConfig::enabled), each `Throttled`
//! answer from the provider multiplies the rate by `decrease_factor` (0.7) down
//! to `min_rate_fraction`, throttles within `decrease_interval` counting once;
//! without throttles the rate climbs back by `recovery_per_second` (2 % of the
//! configured rate per second) — additive increase, multiplicative decrease. A
//! throttle's `retry_after` pauses admissions until it has passed, and while
//! that pause lasts the layer reports
//! [`Readiness::Unavailable`](palisade_core::Readiness::Unavailable) so a fallback
//! router can skip the candidate.
//!
//! Independently of adaptive mode, the provider's rate-limit headers (a
//! `RateLimitSnapshot` on a response or an error) calibrate the limiter:
//! [`RateLimitLayer`](crate::RateLimitLayer) hands each to
//! [`Limiter::observe_rate_limit`](crate::Limiter::observe_rate_limit). A
//! provider limit below the configured quota becomes its rate and burst, and
//! `remaining` caps what a bucket holds, until the window's reset at most; the
//! limiter never believes it has more left than the provider says, and never
//! admits more than configured.
//!
//! ## Keys and sharing
//!
//! One limiter is one key. Use a [`LimiterMap`](crate::LimiterMap) for one per
//! model or provider, and a [`LimiterSet`](crate::LimiterSet) when a request must
//! pass several (its model's limiter and the account's): permits are taken in a
//! fixed order and rolled back whole if a later limiter refuses. To share a key
//! between processes, build the limiter over a [`LimitStore`](crate::LimitStore)
//! (`palisade-redis`): the queue and priorities stay local, the counting moves
//! to the store, one round trip per admission.
//!
//! ## Time
//!
//! All time is tokio time, read once per admission. Under
//! `tokio::time::pause()` a limiter is fully deterministic, which is how its
//! tests and `palisade-sim` run hours of traffic in milliseconds.

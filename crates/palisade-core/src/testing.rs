//! A scripted test provider: answers with a programmed sequence of responses
//! and errors, after programmed latencies (tokio time), and records every call.
//!
//! It is the provider *behind* a layer in tests: layers are tested for real
//! against it, without a network. Enabled by the `testing` feature.
//!
//! ```
//! use std::time::Duration;
//! use palisade_core::testing::ScriptedProvider;
//! use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let p = ScriptedProvider::new("primary")
//!     .then_error(ProviderError::throttled("slow down", Some(Duration::from_secs(2))))
//!     .then_text("hello");
//! assert_eq!(p.complete(ChatRequest::user("hi")).await.unwrap_err().kind(), ErrorKind::Throttled);
//! assert_eq!(p.complete(ChatRequest::user("hi")).await.unwrap().text_content(), "hello");
//! assert_eq!(p.call_count(), 2);
//! # }
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::ProviderError;
use crate::estimate::{HeuristicEstimator, TokenEstimator};
use crate::provider::{Provider, ProviderId, Readiness};
use crate::request::ChatRequest;
use crate::response::{ChatResponse, Usage};
use crate::stream::{ChatStream, StreamEvent, stream_from_response};

/// What one scripted call does.
// A test-only value, built once per scripted step: boxing the response would
// only make scripts noisier to write.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Answer with this response (its `served_by` is replaced by the provider id).
    Respond(ChatResponse),
    /// Fail with this error before any event.
    Fail(ProviderError),
    /// Stream (or, for `complete`, fail with) this text and then this error:
    /// a failure in the middle of a stream.
    FailMidStream(String, ProviderError),
    /// Answer `"ok"` with a usage computed from the request: input tokens from
    /// the heuristic estimator (or the request's explicit estimate), output
    /// tokens `min(max_tokens, 16)`.
    Echo,
}

/// One step of the script: wait `latency` (tokio time), then do `outcome`.
#[derive(Debug, Clone)]
pub struct Step {
    /// Delay before the outcome (before the first event, for streams).
    pub latency: Duration,
    /// What happens.
    pub outcome: Outcome,
}

/// A call the provider received.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    /// The request as received.
    pub request: ChatRequest,
    /// When it arrived (tokio time).
    pub at: Instant,
    /// Whether it came through `stream` rather than `complete`.
    pub streaming: bool,
}

#[derive(Debug)]
struct Script {
    steps: VecDeque<Step>,
    otherwise: Step,
    calls: Vec<RecordedCall>,
    readiness: Readiness,
}

#[derive(Debug, Default)]
struct Gauges {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    finished: AtomicUsize,
    cancelled: AtomicUsize,
}

/// A provider that plays a script. Cheap to clone; clones share the script
/// and the records, so a test can keep one handle and give another away.
#[derive(Debug, Clone)]
pub struct ScriptedProvider {
    id: ProviderId,
    context_window: Option<u32>,
    script: Arc<Mutex<Script>>,
    gauges: Arc<Gauges>,
}

impl ScriptedProvider {
    /// A provider that answers [`Outcome::Echo`] immediately until scripted otherwise.
    pub fn new(id: impl Into<ProviderId>) -> Self {
        Self {
            id: id.into(),
            context_window: None,
            script: Arc::new(Mutex::new(Script {
                steps: VecDeque::new(),
                otherwise: Step {
                    latency: Duration::ZERO,
                    outcome: Outcome::Echo,
                },
                calls: Vec::new(),
                readiness: Readiness::Ready,
            })),
            gauges: Arc::new(Gauges::default()),
        }
    }

    fn script(&self) -> MutexGuard<'_, Script> {
        // A test that panicked while holding the lock has already failed; keep
        // serving the other handles rather than cascading the panic.
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a step to the script.
    pub fn then(self, latency: Duration, outcome: Outcome) -> Self {
        self.script().steps.push_back(Step { latency, outcome });
        self
    }

    /// Appends an immediate text answer with usage (10 in, 5 out).
    pub fn then_text(self, text: impl Into<String>) -> Self {
        let response = ChatResponse::text(self.id.clone(), text, Some(Usage::new(10, 5)));
        self.then(Duration::ZERO, Outcome::Respond(response))
    }

    /// Appends an immediate error.
    pub fn then_error(self, error: ProviderError) -> Self {
        self.then(Duration::ZERO, Outcome::Fail(error))
    }

    /// Appends `n` immediate copies of an error.
    pub fn then_errors(mut self, n: usize, error: &ProviderError) -> Self {
        for _ in 0..n {
            self = self.then_error(error.clone());
        }
        self
    }

    /// What to do once the script is used up (default: [`Outcome::Echo`] at once).
    pub fn otherwise(self, latency: Duration, outcome: Outcome) -> Self {
        self.script().otherwise = Step { latency, outcome };
        self
    }

    /// Sets the context window the provider reports.
    pub fn with_context_window(mut self, tokens: u32) -> Self {
        self.context_window = Some(tokens);
        self
    }

    /// Sets the readiness the provider reports (simulating a layer's state).
    pub fn set_readiness(&self, readiness: Readiness) {
        self.script().readiness = readiness;
    }

    /// Every call received so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.script().calls.clone()
    }

    /// How many calls were received.
    pub fn call_count(&self) -> usize {
        self.script().calls.len()
    }

    /// Calls started and not yet finished or dropped.
    pub fn in_flight(&self) -> usize {
        self.gauges.in_flight.load(Ordering::SeqCst)
    }

    /// The most calls that were ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.gauges.max_in_flight.load(Ordering::SeqCst)
    }

    /// Calls that ran to their outcome (for streams: the stream was created).
    pub fn finished(&self) -> usize {
        self.gauges.finished.load(Ordering::SeqCst)
    }

    /// Calls dropped by the caller while waiting for their latency.
    pub fn cancelled(&self) -> usize {
        self.gauges.cancelled.load(Ordering::SeqCst)
    }

    fn begin(&self, request: &ChatRequest, streaming: bool) -> (Step, InFlight) {
        let step = {
            let mut script = self.script();
            script.calls.push(RecordedCall {
                request: request.clone(),
                at: Instant::now(),
                streaming,
            });
            script
                .steps
                .pop_front()
                .unwrap_or_else(|| script.otherwise.clone())
        };
        let now = self.gauges.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.gauges.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let guard = InFlight {
            gauges: Arc::clone(&self.gauges),
            done: false,
        };
        (step, guard)
    }

    fn echo(&self, request: &ChatRequest) -> ChatResponse {
        let input = request
            .metadata
            .input_token_estimate
            .unwrap_or_else(|| echo_input_tokens(request));
        let output = request.max_tokens.min(16);
        ChatResponse::text(self.id.clone(), "ok", Some(Usage::new(input, output)))
    }
}

fn echo_input_tokens(request: &ChatRequest) -> u32 {
    let est = HeuristicEstimator;
    let mut n = request
        .system
        .as_deref()
        .map_or(0, |s| est.estimate_text(s));
    for m in &request.messages {
        n = n.saturating_add(est.estimate_text(&m.text()));
    }
    n.max(1)
}

/// Marks a call in flight; dropping it before `finish` counts a cancellation.
#[derive(Debug)]
struct InFlight {
    gauges: Arc<Gauges>,
    done: bool,
}

impl InFlight {
    fn finish(mut self) {
        self.done = true;
        self.gauges.finished.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauges.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !self.done {
            self.gauges.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl Provider for ScriptedProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let (step, guard) = self.begin(&req, false);
        if !step.latency.is_zero() {
            tokio::time::sleep(step.latency).await;
        }
        guard.finish();
        match step.outcome {
            Outcome::Respond(mut response) => {
                response.served_by = self.id.clone();
                Ok(response)
            }
            Outcome::Echo => Ok(self.echo(&req)),
            Outcome::Fail(err) | Outcome::FailMidStream(_, err) => Err(err.or_provider(&self.id)),
        }
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let (step, guard) = self.begin(&req, true);
        if !step.latency.is_zero() {
            tokio::time::sleep(step.latency).await;
        }
        guard.finish();
        match step.outcome {
            Outcome::Respond(mut response) => {
                response.served_by = self.id.clone();
                Ok(stream_from_response(response))
            }
            Outcome::Echo => Ok(stream_from_response(self.echo(&req))),
            Outcome::Fail(err) => Err(err.or_provider(&self.id)),
            Outcome::FailMidStream(text, err) => {
                let events = vec![
                    Ok(StreamEvent::TextDelta { text }),
                    Err(err.or_provider(&self.id)),
                ];
                Ok(ChatStream::from_events(self.id.clone(), events))
            }
        }
    }

    fn readiness(&self) -> Readiness {
        self.script().readiness
    }

    fn context_window(&self) -> Option<u32> {
        self.context_window
    }
}

//! A fake AWS Bedrock Runtime server, in process, speaking the real wire
//! protocol, so the real `aws-sdk-bedrockruntime` client (or any other
//! Bedrock client) can be tested without an AWS account or a network.
//!
//! It serves any [`Provider`](palisade_core::Provider) per model id: each
//! request body is translated into a [`ChatRequest`](palisade_core::ChatRequest),
//! the provider answers, and the answer is written back as Bedrock would.
//!
//! | operation | path | answer |
//! |---|---|---|
//! | Converse | `POST /model/{modelId}/converse` | JSON (`output`, `stopReason`, `usage`, `metrics`) |
//! | ConverseStream | `POST /model/{modelId}/converse-stream` | `application/vnd.amazon.eventstream` frames: `messageStart`, `contentBlockDelta`, `contentBlockStop`, `messageStop`, `metadata` |
//! | CountTokens | `POST /model/{modelId}/count-tokens` | `{"inputTokens": N}` from the configured estimator |
//!
//! Every answer carries an `x-amzn-RequestId`. Errors are JSON `{"message"}`
//! bodies with the status and `x-amzn-ErrorType` header Bedrock uses; a
//! [`ProviderError`](palisade_core::ProviderError) from the provider becomes
//! the matching exception:
//!
//! | provider error kind | status | `x-amzn-ErrorType` | inside a stream |
//! |---|---|---|---|
//! | Throttled | 429 | ThrottlingException | `throttlingException` |
//! | Overloaded | 429 | ModelNotReadyException | `serviceUnavailableException` |
//! | Unavailable | 503 | ServiceUnavailableException | `serviceUnavailableException` |
//! | Timeout | 408 | ModelTimeoutException | `modelStreamErrorException` |
//! | ContextWindowExceeded | 400 | ValidationException ("Input is too long for requested model.") | `validationException` |
//! | QuotaExhausted | 400 | ServiceQuotaExceededException | `modelStreamErrorException` |
//! | InvalidRequest | 400 | ValidationException | `validationException` |
//! | Auth | 403 | AccessDeniedException | `modelStreamErrorException` |
//! | NotFound | 404 | ResourceNotFoundException | `modelStreamErrorException` |
//! | ContentFiltered | 200 | (an answer with stop reason `content_filtered`) | `messageStop` with that reason |
//! | Internal, Network, Cancelled | 500 | InternalServerException | `internalServerException` |
//!
//! A `Retry-After` on the error becomes a `Retry-After` header (whole seconds,
//! rounded up). The server also answers like Bedrock before the provider is
//! called: an unknown model id gets 400 ValidationException "The provided
//! model identifier is invalid." (unless [`FakeBedrockBuilder::any_model`] is
//! set), and a body that breaks the Converse rules (checked with
//! [`palisade_core::validate`]) or is not valid JSON gets 400
//! ValidationException naming the field. So does a request the served model
//! refuses as Bedrock's models do ([`ModelLimits`], per model): a tool whose
//! input schema is not a JSON schema of an object
//! (`tools.N.custom.input_schema`), an image over the size limit
//! (`messages.I.content.J.image.source.base64: image exceeds … MB maximum`),
//! a service tier the model does not offer (`The provided service tier … is
//! not supported for model …`).
//!
//! Codes and messages a provider cannot express (an unknown code on a 429, a
//! `ServiceQuotaExceededException`, an exception frame in the middle of a
//! stream) are injected with [`FakeBedrockServer::inject`] and a [`WireFault`].
//! Every request is recorded ([`FakeBedrockServer::requests`]) with its raw
//! body, so a test can assert exactly what a client sent.
//!
//! # Example
//!
//! ```
//! use palisade_testkit::ScriptedProvider;
//! use palisade_testkit::bedrock::{FakeBedrock, WireFault};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let model = ScriptedProvider::new("sonnet").then_text("hello from the fake");
//! let server = FakeBedrock::builder()
//!     .model("us.anthropic.claude-sonnet-4-5-20250929-v1:0", model)
//!     .bind("127.0.0.1:0")
//!     .await?;
//! // Point a Bedrock Runtime client here (endpoint URL override, static
//! // test credentials, any region).
//! let endpoint = server.endpoint_url();
//! assert!(endpoint.starts_with("http://127.0.0.1:"));
//!
//! // The first call to this model will be throttled on the wire.
//! server.inject("us.anthropic.claude-sonnet-4-5-20250929-v1:0", WireFault::throttling());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The server runs on the tokio runtime that calls
//! [`bind`](FakeBedrockBuilder::bind); the runtime must have IO enabled.

mod cache;
mod fault;
mod limits;
mod recording;
mod routes;
mod server;
mod state;
mod wire;

pub use fault::WireFault;
pub use limits::{BEDROCK_MAX_IMAGE_BYTES, ModelLimits};
pub use recording::{Operation, ReceivedRequest};
pub use server::{FakeBedrock, FakeBedrockBuilder, FakeBedrockServer};

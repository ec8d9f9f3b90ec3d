//! Token estimation: how many tokens a request will cost before it is sent.
//!
//! Limiters reserve tokens before a call and settle with the real usage after
//! it, so an estimate only has to be close; an exact count (Bedrock's
//! CountTokens, a real tokenizer) can be plugged in through [`TokenEstimator`].

use async_trait::async_trait;

use crate::content::{ContentBlock, DocumentFormat, MediaSource};
use crate::request::ChatRequest;
use crate::tools::Tool;

/// Estimates token counts for requests and text.
#[async_trait]
pub trait TokenEstimator: Send + Sync {
    /// Estimated tokens of a piece of text. Synchronous so templates can fit
    /// prompts piece by piece.
    fn estimate_text(&self, text: &str) -> u32;

    /// Estimated input tokens of a whole request (system, messages and the
    /// per-message framing). The default sums [`estimate_text`] over the
    /// parts; exact estimators (a count-tokens API) override it.
    ///
    /// A request's [`input_token_estimate`] overrides any estimator; use
    /// [`input_tokens`] to honour it.
    ///
    /// [`estimate_text`]: TokenEstimator::estimate_text
    /// [`input_token_estimate`]: crate::RequestMetadata::input_token_estimate
    /// [`input_tokens`]: TokenEstimator::input_tokens
    async fn estimate_request(&self, req: &ChatRequest) -> u32 {
        heuristic_request_tokens(self, req)
    }

    /// The request's explicit estimate if it has one, else
    /// [`estimate_request`](TokenEstimator::estimate_request).
    async fn input_tokens(&self, req: &ChatRequest) -> u32 {
        match req.metadata.input_token_estimate {
            Some(n) => n,
            None => self.estimate_request(req).await,
        }
    }

    /// The request's explicit estimate if it has one, else the heuristic
    /// sum of [`estimate_text`](TokenEstimator::estimate_text) over its parts
    /// (what [`estimate_request`](TokenEstimator::estimate_request) does by
    /// default): synchronous and never a network call, for decisions that
    /// cannot wait on one (a router comparing candidates' expected waits).
    fn input_tokens_now(&self, req: &ChatRequest) -> u32 {
        match req.metadata.input_token_estimate {
            Some(n) => n,
            None => heuristic_request_tokens(self, req),
        }
    }
}

/// Tokens of framing added per message (role markers, separators) and per
/// request, as chat APIs count them; small, but it keeps tiny prompts from
/// estimating to zero.
const PER_MESSAGE_OVERHEAD: u32 = 4;
const PER_REQUEST_OVERHEAD: u32 = 3;

/// Sums an estimator's text estimates over a request's parts: system, tool
/// definitions, structured-output schema and every content block (see
/// [`block_tokens`]).
fn heuristic_request_tokens<E: TokenEstimator + ?Sized>(est: &E, req: &ChatRequest) -> u32 {
    let mut total = PER_REQUEST_OVERHEAD;
    if let Some(system) = &req.system {
        total = total.saturating_add(est.estimate_text(system) + PER_MESSAGE_OVERHEAD);
    }
    total = total.saturating_add(tool_definition_tokens(est, &req.tools));
    if let Some(output) = &req.structured_output {
        total = total
            .saturating_add(PER_TOOL_OVERHEAD)
            .saturating_add(est.estimate_text(&output.schema.to_string()));
    }
    for message in &req.messages {
        total = total.saturating_add(PER_MESSAGE_OVERHEAD);
        for block in &message.content {
            total = total.saturating_add(block_tokens(est, block));
        }
    }
    total
}

/// Estimated tokens of a request's tool definitions, as
/// [`TokenEstimator::estimate_request`] counts them by default: the tool-use
/// system prompt once ([`TOOL_USE_SYSTEM_PROMPT_TOKENS`]) plus each tool's
/// name, description and input schema with a little framing; 0 without tools.
///
/// ```
/// use palisade_core::{HeuristicEstimator, TOOL_USE_SYSTEM_PROMPT_TOKENS, Tool, tool_definition_tokens};
///
/// assert_eq!(tool_definition_tokens(&HeuristicEstimator, &[]), 0);
/// let tool = Tool::new("weather", "Weather in a city", serde_json::json!({"type": "object"}));
/// assert!(tool_definition_tokens(&HeuristicEstimator, &[tool]) > TOOL_USE_SYSTEM_PROMPT_TOKENS);
/// ```
pub fn tool_definition_tokens<E: TokenEstimator + ?Sized>(est: &E, tools: &[Tool]) -> u32 {
    if tools.is_empty() {
        return 0;
    }
    tools
        .iter()
        .fold(TOOL_USE_SYSTEM_PROMPT_TOKENS, |total, tool| {
            total
                .saturating_add(PER_TOOL_OVERHEAD)
                .saturating_add(est.estimate_text(&tool.name))
                .saturating_add(
                    tool.description
                        .as_deref()
                        .map_or(0, |d| est.estimate_text(d)),
                )
                .saturating_add(est.estimate_text(&tool.input_schema.to_string()))
        })
}

/// Tokens the Messages API adds for its tool-use system prompt when a
/// request defines tools (Anthropic documents 346 for `auto`/`none`, a little
/// less for `any`/`tool`; the larger figure is kept so the estimate errs high).
pub const TOOL_USE_SYSTEM_PROMPT_TOKENS: u32 = 346;
/// Framing tokens per tool definition, tool use and tool result.
const PER_TOOL_OVERHEAD: u32 = 8;
/// Tokens assumed for an image whose dimensions cannot be read (a URL, an
/// unknown header): the most a Claude image costs after the API's own
/// downscaling (about 1.15 megapixels / 750), so a reservation never falls
/// short.
pub const DEFAULT_IMAGE_TOKENS: u32 = 1_600;
/// Tokens assumed per PDF page (Anthropic documents 1,500–3,000 text tokens
/// per page plus the page image; the low end is kept, since the limiter
/// settles with the real usage).
pub const PDF_PAGE_TOKENS: u32 = 1_500;
/// Bytes of an image read to find its dimensions (headers sit at the start;
/// JPEG metadata can push the frame header a few kilobytes in).
const IMAGE_HEADER_PREFIX: usize = 64 * 1024;

/// Estimated tokens of one content block.
///
/// - text, reasoning, JSON: the estimator's text estimate;
/// - tool use: name + input JSON; tool result: its blocks; both plus framing;
/// - image: width × height / 750 (Anthropic's formula) when the dimensions
///   can be read from the image header, capped at [`DEFAULT_IMAGE_TOKENS`];
///   [`DEFAULT_IMAGE_TOKENS`] otherwise;
/// - document: text formats by their text; PDF by [`PDF_PAGE_TOKENS`] per
///   page (pages counted from the file's page objects); other binary formats
///   one token per 4 bytes (an overestimate the limiter settles);
/// - cache point: nothing.
pub fn block_tokens<E: TokenEstimator + ?Sized>(est: &E, block: &ContentBlock) -> u32 {
    match block {
        ContentBlock::Text { text } | ContentBlock::Reasoning { text, .. } => {
            est.estimate_text(text)
        }
        ContentBlock::RedactedReasoning { data } => est.estimate_text(data),
        ContentBlock::Json { value } => est.estimate_text(&value.to_string()),
        ContentBlock::ToolUse { name, input, .. } => PER_TOOL_OVERHEAD
            .saturating_add(est.estimate_text(name))
            .saturating_add(est.estimate_text(&input.to_string())),
        ContentBlock::ToolResult { content, .. } => {
            content.iter().fold(PER_TOOL_OVERHEAD, |n, b| {
                n.saturating_add(block_tokens(est, b))
            })
        }
        ContentBlock::Image { source, .. } => image_tokens(source),
        ContentBlock::Document { format, source, .. } => document_tokens(est, *format, source),
        ContentBlock::CachePoint { .. } => 0,
        #[allow(unreachable_patterns)]
        _ => 0,
    }
}

fn image_tokens(source: &MediaSource) -> u32 {
    let MediaSource::Base64 { data } = source else {
        return DEFAULT_IMAGE_TOKENS;
    };
    use base64::Engine as _;
    // Decode only a prefix: a whole multiple of 4 base64 characters.
    let prefix_chars = (IMAGE_HEADER_PREFIX / 3 * 4).min(data.len() / 4 * 4);
    let Ok(head) = base64::engine::general_purpose::STANDARD.decode(&data[..prefix_chars]) else {
        return DEFAULT_IMAGE_TOKENS;
    };
    match imagesize::blob_size(&head) {
        Ok(size) => {
            let pixels = (size.width as u64).saturating_mul(size.height as u64);
            let tokens = pixels.div_ceil(750).max(1);
            u32::try_from(tokens).map_or(DEFAULT_IMAGE_TOKENS, |t| t.min(DEFAULT_IMAGE_TOKENS))
        }
        Err(_) => DEFAULT_IMAGE_TOKENS,
    }
}

fn document_tokens<E: TokenEstimator + ?Sized>(
    est: &E,
    format: DocumentFormat,
    source: &MediaSource,
) -> u32 {
    match source {
        MediaSource::Text { text } => est.estimate_text(text),
        MediaSource::Url { .. } => PDF_PAGE_TOKENS,
        MediaSource::Base64 { .. } => {
            let Some(Ok(bytes)) = source.bytes() else {
                return PDF_PAGE_TOKENS;
            };
            if format.is_text() {
                est.estimate_text(&String::from_utf8_lossy(&bytes))
            } else if format == DocumentFormat::Pdf {
                pdf_pages(&bytes).max(1).saturating_mul(PDF_PAGE_TOKENS)
            } else {
                u32::try_from(bytes.len() / 4).unwrap_or(u32::MAX)
            }
        }
    }
}

/// Counts `/Type /Page` objects (not `/Pages`) in a PDF's bytes.
fn pdf_pages(bytes: &[u8]) -> u32 {
    let mut pages = 0u32;
    let mut rest = bytes;
    while let Some(at) = find(rest, b"/Type") {
        rest = &rest[at + 5..];
        let after = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map_or(rest, |skip| &rest[skip..]);
        if after.starts_with(b"/Page") && !after.starts_with(b"/Pages") {
            pages = pages.saturating_add(1);
        }
    }
    pages
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The default estimator: a character heuristic, no tokenizer.
///
/// ASCII text counts one token per four characters (rounded up), which is what
/// BPE tokenizers of the Claude and GPT families average on English prose and
/// code; every non-ASCII character counts one token, since CJK and other
/// scripts tokenize at about one token per character. It is **approximate**:
/// expect ±25% on typical text and worse on unusual text (long numbers, base64).
/// Reservation-then-settle limiters correct for the error after every call;
/// plug in an exact estimator where the error matters.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeuristicEstimator;

#[async_trait]
impl TokenEstimator for HeuristicEstimator {
    fn estimate_text(&self, text: &str) -> u32 {
        let mut ascii: u64 = 0;
        let mut other: u64 = 0;
        for ch in text.chars() {
            if ch.is_ascii() {
                ascii += 1;
            } else {
                other += 1;
            }
        }
        u32::try_from(ascii.div_ceil(4) + other).unwrap_or(u32::MAX)
    }
}

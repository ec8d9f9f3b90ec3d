//! Context windows of OpenAI models, so fallback can skip a model a request
//! cannot fit. Compatible servers serve models of their own: set the window
//! with [`OpenAiProviderBuilder::context_window`](crate::OpenAiProviderBuilder::context_window).

/// `(model id prefix, context window in tokens)`, longest prefixes first so
/// `gpt-4o-mini` is not read as `gpt-4o`. From OpenAI's model pages.
const WINDOWS: &[(&str, u32)] = &[
    ("gpt-4.1-nano", 1_047_576),
    ("gpt-4.1-mini", 1_047_576),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o-mini", 128_000),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-5-nano", 400_000),
    ("gpt-5-mini", 400_000),
    ("gpt-5", 400_000),
    ("o4-mini", 200_000),
    ("o3-mini", 200_000),
    ("o3", 200_000),
    ("o1", 200_000),
    ("gpt-3.5-turbo", 16_385),
];

/// The context window of an OpenAI model id (dated snapshots such as
/// `gpt-4o-2024-08-06` included), when the catalog knows it.
///
/// ```
/// assert_eq!(palisade_openai::catalog::context_window("gpt-4o-mini-2024-07-18"), Some(128_000));
/// assert_eq!(palisade_openai::catalog::context_window("llama3.1:8b"), None);
/// ```
pub fn context_window(model: &str) -> Option<u32> {
    WINDOWS
        .iter()
        .find(|(prefix, _)| model.starts_with(prefix))
        .map(|(_, window)| *window)
}

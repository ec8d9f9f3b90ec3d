//! Reading response headers from whatever type the HTTP client has.

/// Anything that can look up a header by (case-insensitive) name.
pub trait HeaderSource {
    /// The first value of the header, if present and valid UTF-8.
    fn header(&self, name: &str) -> Option<&str>;
}

impl HeaderSource for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Headers as `(name, value)` pairs, e.g. in tests.
#[derive(Debug, Clone, Copy)]
pub struct HeaderPairs<'a>(pub &'a [(&'a str, &'a str)]);

impl HeaderSource for HeaderPairs<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

impl<H: HeaderSource + ?Sized> HeaderSource for &H {
    fn header(&self, name: &str) -> Option<&str> {
        (**self).header(name)
    }
}

/// The provider's request id: `x-request-id` (OpenAI), `request-id`
/// (Anthropic), `x-amzn-requestid` (AWS), `apim-request-id` (Azure).
pub fn request_id(headers: &impl HeaderSource) -> Option<String> {
    [
        "x-request-id",
        "request-id",
        "x-amzn-requestid",
        "apim-request-id",
    ]
    .into_iter()
    .find_map(|name| headers.header(name))
    .map(str::trim)
    .filter(|v| !v.is_empty())
    .map(str::to_owned)
}

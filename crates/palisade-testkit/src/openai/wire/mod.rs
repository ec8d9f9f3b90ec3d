//! The Chat Completions wire format, as the fake reads and writes it.

pub(super) mod error;
pub(super) mod request;
pub(super) mod response;

//! Bedrock Runtime's wire types, kept apart from the server: request bodies
//! in, response bodies and event-stream frames out, exceptions both ways.

pub(crate) mod content;
pub(crate) mod error;
pub(crate) mod event_stream;
pub(crate) mod exception;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod tools;

//! Retry and fallback may act on a stream only before its first event. A
//! stream's setup can succeed and its first item still be an error (the HTTP
//! call was accepted, the model then refused); waiting for that first item
//! turns such a failure into the call's error, while the caller would have
//! waited for it anyway.

use futures_util::StreamExt;
use palisade_core::{ChatStream, ProviderError};

/// Waits for the stream's first item. An error there becomes the call's
/// error; otherwise the stream is returned with the item put back in front.
pub(crate) async fn first_event(
    opened: Result<ChatStream, ProviderError>,
) -> Result<ChatStream, ProviderError> {
    let mut stream = opened?;
    match stream.next().await {
        Some(Err(error)) => Err(error),
        Some(Ok(event)) => Ok(stream.map_events(|events| {
            futures_util::stream::once(async move { Ok(event) }).chain(events)
        })),
        // An empty stream stays empty; collecting it reports the missing stop.
        None => Ok(stream),
    }
}

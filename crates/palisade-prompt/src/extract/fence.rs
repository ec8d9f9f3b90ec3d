//! Markdown code fences in a reply.

/// Byte ranges of the contents of ```` ``` ```` fenced blocks, in order. An
/// unclosed fence runs to the end of the reply.
///
/// Fences count only at the start of a line (after optional indentation).
/// JSON strings cannot hold a raw newline, so a fence quoted inside a JSON
/// string (`"use ```json blocks"`) is never mistaken for one.
pub(super) fn fenced_blocks(reply: &str) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut from = 0;
    while let Some(fence) = next_fence(reply, from) {
        // The info string (`json`, `JSON`, nothing) runs to the end of the line.
        let Some(newline) = reply[fence..].find('\n') else {
            break;
        };
        let start = fence + newline + 1;
        match next_fence(reply, start) {
            Some(close) => {
                blocks.push((start, close));
                from = close + 3;
            }
            None => {
                blocks.push((start, reply.len()));
                break;
            }
        }
    }
    blocks
}

/// The next ```` ``` ```` at or after `from` that starts a line.
fn next_fence(reply: &str, mut from: usize) -> Option<usize> {
    while let Some(found) = reply[from..].find("```") {
        let at = from + found;
        let line_start = reply[..at].rfind('\n').map_or(0, |nl| nl + 1);
        if reply[line_start..at]
            .bytes()
            .all(|b| b == b' ' || b == b'\t')
        {
            return Some(at);
        }
        from = at + 3;
    }
    None
}

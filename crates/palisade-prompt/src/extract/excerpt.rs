//! Excerpts: what an extraction error quotes of the reply.

use super::ExtractError;

/// Characters of context an excerpt shows on each side of the problem.
pub(super) const EXCERPT_RADIUS: usize = 40;

/// Turns a serde_json error on `json` into an error with an excerpt.
pub(super) fn located(json: &str, err: &serde_json::Error, shape: bool) -> ExtractError {
    let (line, column) = (err.line(), err.column());
    let offset = byte_offset(json, line, column);
    let excerpt = excerpt_around(json, offset);
    // serde_json appends " at line L column C"; the variant carries those.
    let message = err.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(head, _)| head)
        .to_owned();
    if shape && !err.is_syntax() && !err.is_eof() {
        ExtractError::Shape {
            line,
            column,
            message,
            excerpt,
        }
    } else {
        ExtractError::Invalid {
            line,
            column,
            message,
            excerpt,
        }
    }
}

/// The byte offset of serde_json's 1-based (line, column) in `text`, clamped
/// to a char boundary.
pub(super) fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line - 2)
            .map_or(text.len(), |(at, _)| at + 1)
    };
    floor_char_boundary(text, line_start.saturating_add(column.saturating_sub(1)))
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Up to [`EXCERPT_RADIUS`] characters on each side of `offset`, with `…`
/// where the text goes on.
pub(super) fn excerpt_around(text: &str, offset: usize) -> String {
    let before: Vec<(usize, char)> = text[..offset]
        .char_indices()
        .rev()
        .take(EXCERPT_RADIUS)
        .collect();
    let start = before.last().map_or(offset, |(at, _)| *at);
    let end = text[offset..]
        .char_indices()
        .nth(EXCERPT_RADIUS)
        .map_or(text.len(), |(at, _)| offset + at);
    let mut excerpt = String::new();
    if start > 0 {
        excerpt.push('…');
    }
    excerpt.push_str(&text[start..end]);
    if end < text.len() {
        excerpt.push('…');
    }
    excerpt
}

pub(super) fn head_excerpt(text: &str) -> String {
    excerpt_around(text, 0)
}

pub(super) fn tail_excerpt(text: &str) -> String {
    excerpt_around(text, text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded_and_char_safe() {
        let long = "é".repeat(100);
        let excerpt = excerpt_around(&long, 100);
        assert_eq!(
            excerpt.chars().filter(|c| *c == 'é').count(),
            2 * EXCERPT_RADIUS
        );
        assert!(excerpt.starts_with('…') && excerpt.ends_with('…'));
        assert_eq!(byte_offset("ab\ncd", 2, 2), 4);
        assert_eq!(byte_offset("ab", 9, 9), 2);
    }
}

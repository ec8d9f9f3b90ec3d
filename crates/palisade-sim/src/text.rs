//! Filler answer text of a given token length.
//!
//! The text is cut at four characters per token, the ratio palisade-core's
//! `HeuristicEstimator` uses, so re-estimating an answer gives back its
//! reported output tokens.

const PASSAGE: &str = "The simulated model considers the request carefully and answers \
in measured sentences, citing nothing and promising less. Quotas are finite, minutes \
are short, and every token spent here is a token someone else will wait for. ";

/// Text that estimates to `tokens` tokens.
pub(crate) fn filler(tokens: u32) -> String {
    let chars = tokens as usize * 4;
    let mut text = String::with_capacity(chars);
    while text.len() < chars {
        let take = (chars - text.len()).min(PASSAGE.len());
        // PASSAGE is ASCII, so any byte index is a char boundary.
        text.push_str(&PASSAGE[..take]);
    }
    text
}

#[cfg(test)]
mod tests {
    use palisade_core::{HeuristicEstimator, TokenEstimator};

    #[test]
    fn filler_estimates_to_its_length() {
        for n in [0, 1, 17, 300, 1024] {
            assert_eq!(HeuristicEstimator.estimate_text(&super::filler(n)), n);
        }
    }
}

//! The refund stamp: what `admit.lua` says about an admission so that
//! `settle.lua` can later give back no more of it than is still due.

use std::fmt;

/// Separates a Redis lease member from its stamp in a
/// [`LeaseToken`](palisade_limit::LeaseToken) (members are hex, stamps
/// integers and commas).
const SEPARATOR: char = '@';

/// An admission's refund stamp: the rate key's birth (µs, server clock)
/// and, per token dimension (tokens, input, output, per day), the units
/// added to that bucket in that birth up to and including the admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundStamp {
    born: i64,
    added: [i64; 4],
}

impl RefundStamp {
    /// A stamp from `admit.lua`'s reply fields.
    pub fn new(born: i64, added: [i64; 4]) -> Self {
        Self { born, added }
    }

    /// The birth of the rate key the admission was made in (µs, server clock).
    pub fn born(&self) -> i64 {
        self.born
    }

    /// Units added to each token bucket up to the admission, in the scripts'
    /// order.
    pub fn added(&self) -> [i64; 4] {
        self.added
    }

    /// A lease token for `member` carrying this stamp.
    pub(crate) fn token(&self, member: &str) -> String {
        format!("{member}{SEPARATOR}{self}")
    }

    /// The lease member and stamp of a token made by [`token`](Self::token);
    /// a token without a readable stamp is all member before the separator
    /// (and nothing of it is refunded).
    pub(crate) fn split(token: &str) -> (&str, Option<Self>) {
        let Some((member, stamp)) = token.split_once(SEPARATOR) else {
            return (token, None);
        };
        let numbers: Option<Vec<i64>> = stamp.split(',').map(|n| n.parse().ok()).collect();
        let stamp = match numbers.as_deref() {
            Some(&[born, a, b, c, d]) => Some(Self::new(born, [a, b, c, d])),
            _ => None,
        };
        (member, stamp)
    }
}

impl fmt::Display for RefundStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.added;
        write!(f, "{},{a},{b},{c},{d}", self.born)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_carries_its_member_and_stamp() {
        let stamp = RefundStamp::new(1_764_000_000_123_456, [100, 0, 25, 9_007_199_254_740_000]);
        let token = stamp.token("00000000000000ff");
        assert_eq!(
            token,
            "00000000000000ff@1764000000123456,100,0,25,9007199254740000"
        );
        assert_eq!(
            RefundStamp::split(&token),
            ("00000000000000ff", Some(stamp))
        );
    }

    #[test]
    fn a_token_without_a_valid_stamp_is_its_member_alone() {
        assert_eq!(RefundStamp::split("00ff"), ("00ff", None));
        assert_eq!(RefundStamp::split("00ff@1,2,3"), ("00ff", None));
        assert_eq!(RefundStamp::split("00ff@1,2,3,4,5,6"), ("00ff", None));
        assert_eq!(RefundStamp::split("00ff@1,2,x,4,5"), ("00ff", None));
        assert_eq!(RefundStamp::split("00ff@1,2,2.5,4,5"), ("00ff", None));
    }
}

//! The refund stamp: what `admit.lua` says about an admission so that
//! `settle.lua` can later give back no more of it than is still due.

use std::fmt;

/// Separates a Redis lease member from its stamp in a
/// [`LeaseToken`](palisade_limit::LeaseToken) (members are hex, stamps
/// numbers and commas).
const SEPARATOR: char = '@';

/// An admission's refund stamp: the rate key's birth and, per token
/// dimension (tokens, input, output, per day), the units ever added to that
/// bucket up to and including the admission.
///
/// The numbers stay the strings the script wrote, so they go back to it
/// exactly; parsing only checks that they are numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundStamp {
    born: String,
    added: [String; 4],
}

impl RefundStamp {
    /// A stamp from the script's fields: the birth, then the four added
    /// counts. `None` when a field is not a number.
    pub fn from_fields(born: &str, added: [&str; 4]) -> Option<Self> {
        let number = |s: &str| s.parse::<f64>().ok().filter(|n| n.is_finite()).is_some();
        if !number(born) || !added.iter().all(|a| number(a)) {
            return None;
        }
        Some(Self {
            born: born.to_owned(),
            added: added.map(str::to_owned),
        })
    }

    /// The birth of the rate key the admission was made in (µs, server clock).
    pub fn born(&self) -> &str {
        &self.born
    }

    /// Units added to each token bucket up to the admission, in the scripts'
    /// order.
    pub fn added(&self) -> [&str; 4] {
        [
            self.added[0].as_str(),
            self.added[1].as_str(),
            self.added[2].as_str(),
            self.added[3].as_str(),
        ]
    }

    /// A lease token for `member` carrying this stamp.
    pub(crate) fn token(&self, member: &str) -> String {
        format!("{member}{SEPARATOR}{self}")
    }

    /// The lease member and stamp of a token made by [`token`](Self::token);
    /// a token without a stamp is all member (nothing of it is refunded).
    pub(crate) fn split(token: &str) -> (&str, Option<Self>) {
        let Some((member, stamp)) = token.split_once(SEPARATOR) else {
            return (token, None);
        };
        let mut fields = stamp.split(',');
        let (Some(born), Some(a), Some(b), Some(c), Some(d), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return (member, None);
        };
        (member, Self::from_fields(born, [a, b, c, d]))
    }
}

impl fmt::Display for RefundStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = &self.added;
        write!(f, "{},{a},{b},{c},{d}", self.born)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_carries_its_member_and_stamp() {
        let stamp =
            RefundStamp::from_fields("1764000000123456", ["100", "0", "2.5", "1e+20"]).unwrap();
        let token = stamp.token("00000000000000ff");
        assert_eq!(token, "00000000000000ff@1764000000123456,100,0,2.5,1e+20");
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
        assert_eq!(RefundStamp::from_fields("nan", ["1", "2", "3", "4"]), None);
    }
}

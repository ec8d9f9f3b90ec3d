//! Service tiers: the same model served at different prices and latencies.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A service tier a request asks for, or the one that served it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ServiceTier {
    /// Cheaper, slower, served when capacity allows.
    Flex,
    /// The provider's standard tier.
    Default,
    /// Faster and more expensive, served first.
    Priority,
    /// Capacity reserved in advance (provisioned throughput).
    Reserved,
}

impl ServiceTier {
    /// Every tier, cheapest first.
    pub const ALL: [ServiceTier; 4] = [
        ServiceTier::Flex,
        ServiceTier::Default,
        ServiceTier::Priority,
        ServiceTier::Reserved,
    ];

    /// The lowercase name (`flex`, `default`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Flex => "flex",
            ServiceTier::Default => "default",
            ServiceTier::Priority => "priority",
            ServiceTier::Reserved => "reserved",
        }
    }

    /// The tier for a lowercase name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    const fn bit(self) -> u8 {
        match self {
            ServiceTier::Flex => 1,
            ServiceTier::Default => 2,
            ServiceTier::Priority => 4,
            ServiceTier::Reserved => 8,
        }
    }
}

impl fmt::Display for ServiceTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of service tiers (copyable, for [`Capabilities`](crate::Capabilities)).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TierSet(u8);

impl TierSet {
    /// No tier.
    pub const EMPTY: TierSet = TierSet(0);
    /// Every tier.
    pub const ALL: TierSet = TierSet(15);
    /// Only the default tier.
    pub const DEFAULT_ONLY: TierSet = TierSet(2);

    /// The set of these tiers.
    pub fn of(tiers: &[ServiceTier]) -> Self {
        TierSet(tiers.iter().fold(0, |acc, t| acc | t.bit()))
    }

    /// This set plus one tier.
    #[must_use]
    pub const fn with(self, tier: ServiceTier) -> Self {
        TierSet(self.0 | tier.bit())
    }

    /// Whether the set holds the tier.
    pub const fn contains(self, tier: ServiceTier) -> bool {
        self.0 & tier.bit() != 0
    }

    /// The tiers in the set, cheapest first.
    pub fn iter(self) -> impl Iterator<Item = ServiceTier> {
        ServiceTier::ALL
            .into_iter()
            .filter(move |t| self.contains(*t))
    }
}

impl fmt::Debug for TierSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for TierSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for TierSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let tiers = Vec::<ServiceTier>::deserialize(d)?;
        Ok(TierSet::of(&tiers))
    }
}

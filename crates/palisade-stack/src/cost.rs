//! Prices by model and the cost of an answer, in [`palisade_core::Price`]s.

use std::collections::BTreeMap;

use palisade_core::{ChatResponse, Price};
use serde::{Deserialize, Serialize};

/// The stack's old price type: now [`palisade_core::Price`], the one price
/// type every crate shares (same TOML keys, plus `cache_write_1h_per_mtok`).
#[deprecated(since = "0.1.0", note = "use `palisade_core::Price`")]
pub type ModelPrice = Price;

/// Input plus output rate: the order `cheapest_first` routes by and the
/// measure of [`PriceTable::most_expensive`].
pub(crate) fn per_token_sum(price: &Price) -> f64 {
    price.input_per_mtok + price.output_per_mtok
}

/// Prices by model id (or provider id).
///
/// Lookup is by exact id first, then by the longest key the id ends with, so
/// `anthropic.claude-sonnet-4-20250514-v1:0` also prices the cross-region
/// profile `us.anthropic.claude-sonnet-4-20250514-v1:0`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl PriceTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the table with `price` for `model`.
    pub fn with(mut self, model: impl Into<String>, price: Price) -> Self {
        self.insert(model, price);
        self
    }

    /// Sets the price of `model`.
    pub fn insert(&mut self, model: impl Into<String>, price: Price) {
        self.prices.insert(model.into(), price);
    }

    /// Every model id and its price, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Price)> {
        self.prices
            .iter()
            .map(|(model, price)| (model.as_str(), price))
    }

    /// Whether the table has no prices.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// The price of `model`.
    pub fn get(&self, model: &str) -> Option<&Price> {
        self.prices.get(model).or_else(|| {
            self.prices
                .iter()
                .filter(|(key, _)| model.ends_with(key.as_str()))
                .max_by_key(|(key, _)| key.len())
                .map(|(_, price)| price)
        })
    }

    /// The highest price in the table (by input + output rate).
    pub fn most_expensive(&self) -> Option<&Price> {
        self.prices
            .values()
            .max_by(|a, b| per_token_sum(a).total_cmp(&per_token_sum(b)))
    }

    /// The cost of `response` in USD, priced by its model, else by the
    /// provider that served it; `None` without usage or price.
    pub fn cost_of(&self, response: &ChatResponse) -> Option<f64> {
        let usage = response.usage.as_ref()?;
        let price = self
            .get(&response.model)
            .or_else(|| self.get(response.served_by.as_str()))?;
        Some(price.cost(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::{ProviderId, Usage};

    #[test]
    fn costs_every_token_class_and_matches_suffixes() {
        let table = PriceTable::new().with(
            "anthropic.claude-sonnet-4",
            Price::new(3.0, 15.0).with_cache(0.3, 3.75),
        );
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cache_read_tokens: 1_000_000,
            cache_write_tokens: 0,
            cache_write_1h_tokens: 0,
        };
        let mut response = ChatResponse::text(ProviderId::new("x"), "hi", Some(usage));
        response.model = "us.anthropic.claude-sonnet-4".into();
        let cost = table.cost_of(&response).unwrap();
        assert!((cost - (3.0 + 1.5 + 0.3)).abs() < 1e-9, "{cost}");
        response.model = "unknown".into();
        assert_eq!(table.cost_of(&response), None);
    }
}

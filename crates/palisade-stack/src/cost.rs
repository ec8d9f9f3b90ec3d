//! Prices and the cost of an answer.

use std::collections::BTreeMap;

use palisade_core::{ChatResponse, Usage};
use serde::{Deserialize, Serialize};

/// What one model charges, in USD per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Input tokens at the normal rate.
    pub input_per_mtok: f64,
    /// Output tokens (thinking included).
    pub output_per_mtok: f64,
    /// Input tokens read from the prompt cache. Default 0.
    #[serde(default)]
    pub cache_read_per_mtok: f64,
    /// Input tokens written to the prompt cache. Default 0.
    #[serde(default)]
    pub cache_write_per_mtok: f64,
}

impl ModelPrice {
    /// A price with input and output rates only.
    pub const fn new(input_per_mtok: f64, output_per_mtok: f64) -> Self {
        Self {
            input_per_mtok,
            output_per_mtok,
            cache_read_per_mtok: 0.0,
            cache_write_per_mtok: 0.0,
        }
    }

    /// Returns a copy with cache read and write rates.
    pub const fn with_cache(mut self, read_per_mtok: f64, write_per_mtok: f64) -> Self {
        self.cache_read_per_mtok = read_per_mtok;
        self.cache_write_per_mtok = write_per_mtok;
        self
    }

    /// The cost of `usage` in USD.
    pub fn cost(&self, usage: &Usage) -> f64 {
        (f64::from(usage.input_tokens) * self.input_per_mtok
            + f64::from(usage.output_tokens) * self.output_per_mtok
            + f64::from(usage.cache_read_tokens) * self.cache_read_per_mtok
            + f64::from(usage.cache_write_tokens) * self.cache_write_per_mtok)
            / 1_000_000.0
    }

    /// The most a request can cost: `input_tokens` at the input rate plus
    /// `max_tokens` at the output rate.
    pub fn worst_case(&self, input_tokens: u32, max_tokens: u32) -> f64 {
        self.cost(&Usage::new(input_tokens, max_tokens))
    }

    /// Input plus output rate: the order `cheapest_first` routes by.
    pub fn per_token_sum(&self) -> f64 {
        self.input_per_mtok + self.output_per_mtok
    }
}

/// Prices by model id (or provider id).
///
/// Lookup is by exact id first, then by the longest key the id ends with, so
/// `anthropic.claude-sonnet-4-20250514-v1:0` also prices the cross-region
/// profile `us.anthropic.claude-sonnet-4-20250514-v1:0`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PriceTable {
    prices: BTreeMap<String, ModelPrice>,
}

impl PriceTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the table with `price` for `model`.
    pub fn with(mut self, model: impl Into<String>, price: ModelPrice) -> Self {
        self.insert(model, price);
        self
    }

    /// Sets the price of `model`.
    pub fn insert(&mut self, model: impl Into<String>, price: ModelPrice) {
        self.prices.insert(model.into(), price);
    }

    /// Whether the table has no prices.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// The price of `model`.
    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.prices.get(model).or_else(|| {
            self.prices
                .iter()
                .filter(|(key, _)| model.ends_with(key.as_str()))
                .max_by_key(|(key, _)| key.len())
                .map(|(_, price)| price)
        })
    }

    /// The highest price in the table (by input + output rate).
    pub fn most_expensive(&self) -> Option<&ModelPrice> {
        self.prices
            .values()
            .max_by(|a, b| a.per_token_sum().total_cmp(&b.per_token_sum()))
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
    use palisade_core::ProviderId;

    #[test]
    fn costs_every_token_class_and_matches_suffixes() {
        let table = PriceTable::new().with(
            "anthropic.claude-sonnet-4",
            ModelPrice::new(3.0, 15.0).with_cache(0.3, 3.75),
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

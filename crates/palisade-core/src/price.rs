//! What tokens cost: one price type for every crate (cost layers, budgets,
//! the simulator, provider catalogs).

use serde::{Deserialize, Serialize};

use crate::response::Usage;

/// A model's price per million tokens, in US dollars.
///
/// Cache writes are priced by their lifetime: the 5-minute rate applies to
/// [`Usage::cache_write_tokens`] minus [`Usage::cache_write_1h_tokens`], the
/// 1-hour rate to the latter.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Input tokens at the normal rate.
    pub input_per_mtok: f64,
    /// Output tokens (thinking included).
    pub output_per_mtok: f64,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_per_mtok: f64,
    /// Input tokens written to the prompt cache with the 5-minute lifetime.
    #[serde(default)]
    pub cache_write_per_mtok: f64,
    /// Input tokens written to the prompt cache with the 1-hour lifetime;
    /// `None` charges them at the 5-minute rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h_per_mtok: Option<f64>,
}

impl Price {
    /// Input and output prices; cache reads and writes free.
    pub const fn new(input_per_mtok: f64, output_per_mtok: f64) -> Self {
        Self {
            input_per_mtok,
            output_per_mtok,
            cache_read_per_mtok: 0.0,
            cache_write_per_mtok: 0.0,
            cache_write_1h_per_mtok: None,
        }
    }

    /// Sets the cache read and (5-minute) write prices.
    #[must_use]
    pub const fn with_cache(mut self, read_per_mtok: f64, write_per_mtok: f64) -> Self {
        self.cache_read_per_mtok = read_per_mtok;
        self.cache_write_per_mtok = write_per_mtok;
        self
    }

    /// Sets the 1-hour cache write price.
    #[must_use]
    pub const fn with_cache_write_1h(mut self, per_mtok: f64) -> Self {
        self.cache_write_1h_per_mtok = Some(per_mtok);
        self
    }

    /// The cost of a call's usage, in dollars.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let one_hour = usage.cache_write_1h_tokens.min(usage.cache_write_tokens);
        let five_minute = usage.cache_write_tokens - one_hour;
        let one_hour_rate = self
            .cache_write_1h_per_mtok
            .unwrap_or(self.cache_write_per_mtok);
        (f64::from(usage.input_tokens) * self.input_per_mtok
            + f64::from(usage.output_tokens) * self.output_per_mtok
            + f64::from(usage.cache_read_tokens) * self.cache_read_per_mtok
            + f64::from(five_minute) * self.cache_write_per_mtok
            + f64::from(one_hour) * one_hour_rate)
            / 1_000_000.0
    }

    /// The cost of token totals summed over many calls (which outgrow a
    /// [`Usage`]'s `u32` counts), in dollars; cache writes at the 5-minute
    /// rate.
    pub fn cost_of_totals(
        &self,
        input: u64,
        output: u64,
        cache_read: u64,
        cache_write: u64,
    ) -> f64 {
        (input as f64 * self.input_per_mtok
            + output as f64 * self.output_per_mtok
            + cache_read as f64 * self.cache_read_per_mtok
            + cache_write as f64 * self.cache_write_per_mtok)
            / 1_000_000.0
    }

    /// The most a call with this many input tokens and this output
    /// reservation can cost (input at the dearest input rate, so a budget
    /// reserved from it is never exceeded whatever the cache does).
    pub fn worst_case_cost(&self, input_tokens: u32, output_tokens: u32) -> f64 {
        let dearest_input = self
            .input_per_mtok
            .max(self.cache_write_per_mtok)
            .max(self.cache_write_1h_per_mtok.unwrap_or(0.0))
            .max(self.cache_read_per_mtok);
        (f64::from(input_tokens) * dearest_input + f64::from(output_tokens) * self.output_per_mtok)
            / 1_000_000.0
    }

    /// Whether every rate is finite and not negative; `Err` names the first
    /// field that is not.
    pub fn check(&self) -> Result<(), &'static str> {
        let fields = [
            ("input_per_mtok", self.input_per_mtok),
            ("output_per_mtok", self.output_per_mtok),
            ("cache_read_per_mtok", self.cache_read_per_mtok),
            ("cache_write_per_mtok", self.cache_write_per_mtok),
            (
                "cache_write_1h_per_mtok",
                self.cache_write_1h_per_mtok.unwrap_or(0.0),
            ),
        ];
        for (name, value) in fields {
            if !value.is_finite() || value < 0.0 {
                return Err(name);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_beyond_a_usage_cost_what_their_calls_cost() {
        let price = Price::new(3.0, 15.0).with_cache(0.3, 3.75);
        let call = Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cache_read_tokens: 2_000_000,
            cache_write_tokens: 400_000,
            cache_write_1h_tokens: 0,
        };
        let one = price.cost(&call);
        assert!((one - (3.0 + 1.5 + 0.6 + 1.5)).abs() < 1e-9, "{one}");
        // 10,000 such calls: totals past u32::MAX tokens.
        let n = 10_000u64;
        let totals = price.cost_of_totals(n * 1_000_000, n * 100_000, n * 2_000_000, n * 400_000);
        assert!((totals - one * n as f64).abs() < 1e-6, "{totals}");
        assert_eq!(Price::new(1.0, -1.0).check(), Err("output_per_mtok"));
    }
}

//! One limiter per key (model, provider, tenant), made on first use.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::config::LimiterConfig;
use crate::config_error::ConfigError;
use crate::limiter::Limiter;

/// Limiters by key, each created from a template config (named after its
/// key) the first time the key is asked for, or configured per key.
///
/// Cheap to clone; clones share the limiters.
#[derive(Debug, Clone)]
pub struct LimiterMap {
    template: Arc<LimiterConfig>,
    limiters: Arc<Mutex<HashMap<String, Limiter>>>,
}

impl LimiterMap {
    /// A map whose limiters follow `template` unless configured per key.
    pub fn new(template: LimiterConfig) -> Result<Self, ConfigError> {
        template.validate()?;
        Ok(Self {
            template: Arc::new(template),
            limiters: Arc::default(),
        })
    }

    /// Sets the config of `key` (replacing its limiter if it existed).
    pub fn configure(
        &self,
        key: impl Into<String>,
        config: LimiterConfig,
    ) -> Result<Limiter, ConfigError> {
        let limiter = Limiter::new(config)?;
        self.limiters.lock().insert(key.into(), limiter.clone());
        Ok(limiter)
    }

    /// The limiter of `key`, created from the template if new.
    pub fn get(&self, key: &str) -> Limiter {
        let mut limiters = self.limiters.lock();
        if let Some(l) = limiters.get(key) {
            return l.clone();
        }
        let config = LimiterConfig {
            name: key.to_owned(),
            ..(*self.template).clone()
        };
        // The template was validated when the map was made and only the
        // name changed, so no check can fail here.
        let limiter = Limiter::build_unchecked(config);
        limiters.insert(key.to_owned(), limiter.clone());
        limiter
    }

    /// The keys with a limiter.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.limiters.lock().keys().cloned().collect();
        keys.sort();
        keys
    }
}

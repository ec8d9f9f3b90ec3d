//! Limiters selected by a request tag (per user, per task type), made on
//! first use and dropped when idle, so memory stays bounded however many
//! distinct values callers send.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use palisade_core::ChatRequest;
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::error::LimitError;
use crate::keyed_config::{KeyedConfigError, KeyedLimitConfig, Untagged};
use crate::kind::LimitKind;
use crate::limiter::Limiter;
use crate::store::LimitStore;

/// One limiter per value of a request tag, from a [`KeyedLimitConfig`].
///
/// [`limiter_for`](Self::limiter_for) reads the request's `{tag}=value`
/// tag (the first one, when there are several) and returns that value's
/// limiter, creating it from the template (or the value's override) on first
/// use. At most `max_keys` limiters live at once; one that nobody holds (no
/// permit outstanding, no request waiting, no caller keeping a clone) is
/// dropped once unused for `idle_ttl`, or earlier, least recently used
/// first, when a new value needs room. A limiter someone holds is never
/// dropped, so two holders of one value always share one state.
///
/// [`RateLimitLayer::with_keyed`](crate::RateLimitLayer::with_keyed) puts it
/// in front of a provider. Cheap to clone; clones share the limiters.
#[derive(Debug, Clone)]
pub struct KeyedLimiters {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: KeyedLimitConfig,
    /// `{tag}=`, the prefix of the tags this reads.
    prefix: String,
    store: Option<StoreSharing>,
    untagged: Option<Limiter>,
    entries: Mutex<Entries>,
    evicted: AtomicU64,
}

/// Counting in a shared store, under each limiter's name as its key.
struct StoreSharing {
    store: Arc<dyn LimitStore>,
    lease_ttl: Duration,
}

impl std::fmt::Debug for StoreSharing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSharing")
            .field("lease_ttl", &self.lease_ttl)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Entries {
    by_value: HashMap<String, Entry>,
    /// When idle limiters are next looked for: sweeping every get would
    /// cost O(keys) per call, once per `idle_ttl` costs nothing noticeable.
    next_sweep: Option<Instant>,
}

#[derive(Debug)]
struct Entry {
    limiter: Limiter,
    last_used: Instant,
}

impl Entry {
    /// Held by someone besides the map: a permit, a queued request, a
    /// caller's clone. Permits and waiters keep the limiter's state alive,
    /// so its reference count says it without asking its queue.
    fn in_use(&self) -> bool {
        Arc::strong_count(&self.limiter.shared) > 1
    }
}

impl KeyedLimiters {
    /// Keyed limiters counting in this process.
    pub fn new(config: KeyedLimitConfig) -> Result<Self, KeyedConfigError> {
        Self::build(config, None)
    }

    /// Keyed limiters counting in `store` (e.g. `palisade-redis`), each
    /// value under its limiter's name (`user:alice`) as the store key, so
    /// processes sharing the store share each value's limit. Dropping an
    /// idle limiter then forgets nothing: the count lives in the store.
    pub fn with_store(
        config: KeyedLimitConfig,
        store: Arc<dyn LimitStore>,
        lease_ttl: Duration,
    ) -> Result<Self, KeyedConfigError> {
        if lease_ttl.is_zero() {
            return Err(KeyedConfigError::Invalid {
                tag: config.tag,
                field: "lease_ttl",
                reason: "must not be zero".to_owned(),
            });
        }
        Self::build(config, Some(StoreSharing { store, lease_ttl }))
    }

    fn build(
        config: KeyedLimitConfig,
        store: Option<StoreSharing>,
    ) -> Result<Self, KeyedConfigError> {
        config.validate()?;
        let mut inner = Inner {
            prefix: format!("{}=", config.tag),
            store,
            untagged: None,
            entries: Mutex::default(),
            evicted: AtomicU64::new(0),
            config,
        };
        if inner.config.untagged == Untagged::Shared {
            inner.untagged = Some(inner.make(inner.config.untagged_limit()));
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The config.
    pub fn config(&self) -> &KeyedLimitConfig {
        &self.inner.config
    }

    /// The value of this config's tag on `request`: `alice` for
    /// `user=alice`; `None` without the tag or with an empty value.
    pub fn value_of<'r>(&self, request: &'r ChatRequest) -> Option<&'r str> {
        request
            .metadata
            .tags
            .iter()
            .find_map(|t| t.strip_prefix(self.inner.prefix.as_str()))
            .filter(|v| !v.is_empty())
    }

    /// The limiter that admits `request`: its tag value's, or for an
    /// untagged request the shared untagged limiter (`Ok(None)` when
    /// untagged requests are unlimited).
    ///
    /// Fails with [`LimitError::RateLimited`] (limit
    /// [`LimitKind::Concurrency`], no `retry_after`) when the value is new
    /// and all `max_keys` limiters are held: only a release makes room.
    pub fn limiter_for(&self, request: &ChatRequest) -> Result<Option<Limiter>, LimitError> {
        match self.value_of(request) {
            Some(value) => self.get(value).map(Some),
            None => Ok(self.inner.untagged.clone()),
        }
    }

    /// The limiter of `value`, created if new (see
    /// [`limiter_for`](Self::limiter_for) for the error).
    pub fn get(&self, value: &str) -> Result<Limiter, LimitError> {
        let now = Instant::now();
        let mut entries = self.inner.entries.lock();
        if entries.next_sweep.is_none_or(|at| now >= at) {
            self.sweep(&mut entries, now);
        }
        if let Some(entry) = entries.by_value.get_mut(value) {
            entry.last_used = now;
            return Ok(entry.limiter.clone());
        }
        if entries.by_value.len() >= self.inner.config.max_keys && !self.make_room(&mut entries) {
            return Err(LimitError::RateLimited {
                limiter: format!("{}:{value}", self.inner.config.tag),
                limit: LimitKind::Concurrency,
                retry_after: None,
            });
        }
        let limiter = self.inner.make(self.inner.config.limit_for(value));
        entries.by_value.insert(
            value.to_owned(),
            Entry {
                limiter: limiter.clone(),
                last_used: now,
            },
        );
        Ok(limiter)
    }

    /// Drops every limiter nobody holds that was unused for `idle_ttl`;
    /// returns how many. [`get`](Self::get) does it too, at most once per
    /// `idle_ttl`.
    pub fn evict_idle(&self) -> usize {
        let mut entries = self.inner.entries.lock();
        self.sweep(&mut entries, Instant::now())
    }

    fn sweep(&self, entries: &mut Entries, now: Instant) -> usize {
        let ttl = self.inner.config.idle_ttl;
        let before = entries.by_value.len();
        entries
            .by_value
            .retain(|_, e| e.in_use() || now.saturating_duration_since(e.last_used) < ttl);
        entries.next_sweep = Some(now + ttl);
        let dropped = before - entries.by_value.len();
        self.inner
            .evicted
            .fetch_add(dropped as u64, Ordering::Relaxed);
        dropped
    }

    /// Drops the least recently used limiter nobody holds; false when all
    /// are held. O(keys), paid only when the map is full.
    fn make_room(&self, entries: &mut Entries) -> bool {
        let victim = entries
            .by_value
            .iter()
            .filter(|(_, e)| !e.in_use())
            .min_by_key(|(_, e)| e.last_used)
            .map(|(value, _)| value.clone());
        match victim {
            Some(value) => {
                entries.by_value.remove(&value);
                self.inner.evicted.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// How many per-value limiters are alive (never more than `max_keys`;
    /// the shared untagged limiter is not counted).
    pub fn len(&self) -> usize {
        self.inner.entries.lock().by_value.len()
    }

    /// Whether no per-value limiter is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values with a live limiter, sorted.
    pub fn values(&self) -> Vec<String> {
        let mut values: Vec<String> = self.inner.entries.lock().by_value.keys().cloned().collect();
        values.sort();
        values
    }

    /// How many limiters were dropped so far (idle, or to make room).
    pub fn evicted(&self) -> u64 {
        self.inner.evicted.load(Ordering::Relaxed)
    }

    /// The shared limiter of untagged requests, when configured.
    pub fn untagged(&self) -> Option<&Limiter> {
        self.inner.untagged.as_ref()
    }
}

impl Inner {
    /// A limiter for a config derived from the validated one (only its name
    /// changed), so no check can fail.
    fn make(&self, config: crate::config::LimiterConfig) -> Limiter {
        match &self.store {
            Some(sharing) => {
                // The config was validated and lease_ttl checked when this
                // was built, so this cannot fail; were it to, counting here
                // beats refusing traffic, and the log says sharing is off.
                let key = config.name.clone();
                let store = Arc::clone(&sharing.store);
                Limiter::with_store(config.clone(), store, key, sharing.lease_ttl).unwrap_or_else(
                    |e| {
                        tracing::error!(
                            limiter = %config.name, error = %e,
                            "keyed limiter counts in this process: its store config was refused"
                        );
                        Limiter::build_unchecked(config)
                    },
                )
            }
            None => Limiter::build_unchecked(config),
        }
    }
}

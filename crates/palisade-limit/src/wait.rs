//! Waiting for admission: the waiter's poll loop (local and store-backed),
//! and the ticket whose drop makes a cancelled wait leave no trace. Granting
//! waiters when capacity frees up is `Shared::dispatch`.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, Waker};

use tokio::time::{Instant, Sleep};

use crate::clock::{Nanos, duration_to_nanos};
use crate::cost::{Cost, TokenCounts};
use crate::error::LimitError;
use crate::kind::LimitKind;
use crate::limits::{Blocked, Stamps};
use crate::permit::Permit;
use crate::queue::Removed;
use crate::shared::{Core, Remote, Shared};
use crate::store::Reservation;

/// What a waiting request should do next.
enum Step {
    Granted(Stamps),
    Expired(LimitError),
    Wait { wake_at: Option<Nanos> },
    AskStore,
}

impl Shared {
    fn expire(&self, core: &mut Core, id: u64, now: Nanos) -> LimitError {
        let blocked = core.queue.head_blocked().unwrap_or(Blocked {
            limit: LimitKind::Queue,
            not_before: 0,
        });
        if let Removed::Waiting { was_head: true } = core.queue.remove(id, now, self.aging) {
            self.dispatch(core, now, None);
        }
        core.counters.rejected += 1;
        core.counters.timed_out += 1;
        tracing::debug!(limiter = %self.name, limit = %blocked.limit, "gave up waiting");
        self.rate_limited(blocked, now)
    }

    fn poll_local(&self, id: u64, now: Nanos, deadline: Nanos, waker: &Waker) -> Step {
        let mut core = self.core.lock();
        if let Some(stamps) = core.queue.take_granted(id) {
            return Step::Granted(stamps);
        }
        // Dispatch whether or not this waiter is the head: aging may have
        // moved the head since the timer that woke us was armed, and the new
        // head must learn that it is one. Even at the deadline: capacity due
        // exactly then still counts.
        self.dispatch(&mut core, now, Some(id));
        if let Some(stamps) = core.queue.take_granted(id) {
            return Step::Granted(stamps);
        }
        let is_head = core.queue.head(now, self.aging).is_some_and(|h| h.id == id);
        if now >= deadline {
            return Step::Expired(self.expire(&mut core, id, now));
        }
        core.queue.set_waker(id, waker);
        if !is_head {
            return Step::Wait { wake_at: None };
        }
        let wake_at = core
            .queue
            .head_blocked()
            .map(|b| b.not_before)
            .filter(|at| *at > now);
        Step::Wait { wake_at }
    }

    fn poll_remote(
        &self,
        id: u64,
        now: Nanos,
        deadline: Nanos,
        retry_at: Nanos,
        waker: &Waker,
    ) -> Step {
        let mut core = self.core.lock();
        let head = core.queue.head(now, self.aging);
        let is_head = head.is_some_and(|h| h.id == id);
        if let Some(h) = head
            && !is_head
        {
            // Aging may have made another waiter the head since its last
            // wake-up; it must learn that it is the one to ask the store.
            core.queue.wake(h.id);
        }
        let cooldown = core.limits.cooldown_until();
        // Even at the deadline: a store hint that expires exactly then counts.
        if is_head && cooldown <= now && (now >= retry_at || std::mem::take(&mut core.kicked)) {
            return Step::AskStore;
        }
        if now >= deadline {
            return Step::Expired(self.expire(&mut core, id, now));
        }
        core.queue.set_waker(id, waker);
        if !is_head {
            return Step::Wait { wake_at: None };
        }
        Step::Wait {
            wake_at: Some(retry_at.max(cooldown)),
        }
    }
}

/// A place in the queue; dropping it (the caller gave up) removes it
/// without a trace, undoing a grant it had not collected.
pub(crate) struct Ticket<'a> {
    shared: &'a Arc<Shared>,
    id: u64,
    counts: TokenCounts,
    enqueued_at: Nanos,
    done: bool,
}

impl<'a> Ticket<'a> {
    /// The ticket of waiter `id`, queued at `now`.
    pub(crate) fn new(shared: &'a Arc<Shared>, id: u64, counts: TokenCounts, now: Nanos) -> Self {
        Self {
            shared,
            id,
            counts,
            enqueued_at: now,
            done: false,
        }
    }

    /// Waits for a local grant, the head's timer, or the deadline.
    pub(crate) async fn wait_local(&mut self, deadline: Nanos) -> Result<Stamps, LimitError> {
        let shared = self.shared;
        let id = self.id;
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        let result = poll_fn(|cx| {
            for _ in 0..4 {
                let now = shared.clock.now();
                match shared.poll_local(id, now, deadline, cx.waker()) {
                    Step::Granted(stamps) => return Poll::Ready(Ok(stamps)),
                    Step::Expired(e) => return Poll::Ready(Err(e)),
                    Step::Wait { wake_at } => {
                        let at = wake_at.map_or(deadline, |w| w.min(deadline));
                        if arm(&mut timer, shared.clock.instant(at), cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                    // Local waiters never ask a store.
                    Step::AskStore => return Poll::Ready(Ok(Stamps::default())),
                }
            }
            // Timers kept firing without progress (clock rounding): yield
            // rather than spin.
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await;
        // Granted and expired waiters are out of the queue already.
        self.done = true;
        result
    }

    /// Waits for the head position, then asks the store until it admits,
    /// the deadline passes, or the store fails.
    pub(crate) async fn wait_remote(
        &mut self,
        remote: &Remote,
        cost: Cost,
        deadline: Nanos,
    ) -> Result<Permit, LimitError> {
        let shared = self.shared;
        let id = self.id;
        let mut retry_at: Nanos = 0;
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        loop {
            poll_fn(|cx| {
                for _ in 0..4 {
                    let now = shared.clock.now();
                    match shared.poll_remote(id, now, deadline, retry_at, cx.waker()) {
                        Step::AskStore | Step::Granted(_) => return Poll::Ready(Ok(())),
                        Step::Expired(e) => return Poll::Ready(Err(e)),
                        Step::Wait { wake_at } => {
                            let at = wake_at.map_or(deadline, |w| w.min(deadline));
                            if arm(&mut timer, shared.clock.instant(at), cx).is_pending() {
                                return Poll::Pending;
                            }
                        }
                    }
                }
                cx.waker().wake_by_ref();
                Poll::Pending
            })
            .await
            .inspect_err(|_| self.done = true)?;
            let limits = shared.store_limits(remote);
            let answer = remote
                .store
                .try_reserve(&remote.key, &limits, cost.counts())
                .await;
            let now = shared.clock.now();
            match answer {
                Ok(Reservation::Admitted(lease)) => {
                    self.leave(now, true);
                    self.done = true;
                    tracing::trace!(limiter = %shared.name, tokens = cost.tokens, "admitted by store");
                    return Ok(Permit::remote(Arc::clone(shared), cost, lease));
                }
                Ok(Reservation::NotBefore { retry_after, limit }) => {
                    let at = now.saturating_add(duration_to_nanos(retry_after));
                    if at > deadline {
                        self.leave(now, false);
                        self.done = true;
                        return Err(shared.rate_limited(
                            Blocked {
                                limit,
                                not_before: at,
                            },
                            now,
                        ));
                    }
                    retry_at = at;
                }
                Err(source) => {
                    self.leave(now, false);
                    self.done = true;
                    return Err(LimitError::Store {
                        limiter: shared.name.to_string(),
                        source,
                    });
                }
            }
        }
    }

    /// Leaves the queue (remote mode) and lets the next head try.
    fn leave(&self, now: Nanos, admitted: bool) {
        let mut core = self.shared.core.lock();
        core.queue.remove(self.id, now, self.shared.aging);
        if admitted {
            let waited = now.saturating_sub(self.enqueued_at);
            core.counters.record_admit(self.counts.tokens, waited);
        } else {
            core.counters.rejected += 1;
            core.counters.timed_out += 1;
        }
        self.shared.dispatch(&mut core, now, None);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let shared = self.shared;
        let now = shared.clock.now();
        let mut core = shared.core.lock();
        match core.queue.remove(self.id, now, shared.aging) {
            Removed::Waiting { was_head } => {
                core.counters.cancelled_waits += 1;
                if was_head {
                    shared.dispatch(&mut core, now, None);
                }
            }
            Removed::Granted { counts, stamps } => {
                // Admitted while its caller was leaving: undo it whole.
                core.counters.cancelled_waits += 1;
                shared.undo_admission(&mut core, now, counts, stamps);
            }
            Removed::Missing => {}
        }
        tracing::trace!(limiter = %shared.name, "wait cancelled");
    }
}

/// Points `timer` at `at` and polls it.
fn arm(
    timer: &mut Option<Pin<Box<Sleep>>>,
    at: Instant,
    cx: &mut std::task::Context<'_>,
) -> Poll<()> {
    match timer {
        Some(t) if t.deadline() == at => {}
        Some(t) => t.as_mut().reset(at),
        None => *timer = Some(Box::pin(tokio::time::sleep_until(at))),
    }
    match timer {
        Some(t) => t.as_mut().poll(cx),
        None => Poll::Pending,
    }
}

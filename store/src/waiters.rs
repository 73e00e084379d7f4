//! Long-poll support: tasks' waiters, woken when a task reaches a final state.

use crate::model::{Scope, TaskId, TaskOutcome};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;

/// A wake-up: the task that ended and, when the notification carried it,
/// its final outcome (written once, so the copy is as good as a read).
/// `None` means "re-read it": the outcome was too large to announce, or
/// notifications may have been missed.
pub(crate) type Wake = (TaskId, Option<TaskOutcome>);

/// Most tasks remembered as submitted here and not yet announced.
const UNANNOUNCED_CAP: usize = 1_000_000;

/// Who waits for which task. A waiter registers the ids it waits on with
/// one channel and receives each id as its task ends.
///
/// With the Redis store it also remembers the tasks submitted through this
/// process whose end has not been announced yet, while the subscription
/// to announcements is live: such a task cannot be final without its
/// announcement arriving here, so a long poll need not read it first.
#[derive(Default)]
pub(crate) struct Waiters {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    waiting: HashMap<TaskId, Vec<UnboundedSender<Wake>>>,
    /// Submitted here since the subscription went live, not announced,
    /// with the tenant that submitted them.
    unannounced: HashMap<TaskId, Arc<str>>,
    /// Announcements are being received (cleared, with `unannounced`,
    /// when the subscription drops: some may have been missed).
    live: bool,
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `wake` gets each of `ids` (once) when it is notified.
    pub(crate) fn register(
        &self,
        ids: impl IntoIterator<Item = TaskId>,
        wake: &UnboundedSender<Wake>,
    ) {
        let mut inner = self.lock();
        for id in ids {
            inner.waiting.entry(id).or_default().push(wake.clone());
        }
    }

    /// `register`, returning for each id whether it is known not to have
    /// ended: submitted here, in `scope`, and not announced. Under the same
    /// lock as the announcements, so one that lands after this call wakes
    /// `wake`.
    pub(crate) fn register_known(
        &self,
        ids: &[TaskId],
        wake: &UnboundedSender<Wake>,
        scope: Scope<'_>,
    ) -> Vec<bool> {
        let mut inner = self.lock();
        let mut known = Vec::with_capacity(ids.len());
        for id in ids {
            inner.waiting.entry(*id).or_default().push(wake.clone());
            let mine = inner.unannounced.get(id).is_some_and(|t| scope.allows(t));
            known.push(inner.live && mine);
        }
        known
    }

    /// Remembers tasks of `tenant` about to be submitted here, if
    /// announcements are being received (call before the submit, so no
    /// announcement of them can come first).
    pub(crate) fn expect(&self, tenant: &str, ids: impl IntoIterator<Item = TaskId>) {
        let mut inner = self.lock();
        if !inner.live {
            return;
        }
        let tenant: Arc<str> = Arc::from(tenant);
        for id in ids {
            if inner.unannounced.len() >= UNANNOUNCED_CAP {
                break;
            }
            inner.unannounced.insert(id, tenant.clone());
        }
    }

    /// Forgets tasks whose submit failed.
    pub(crate) fn forget(&self, ids: impl IntoIterator<Item = TaskId>) {
        let mut inner = self.lock();
        for id in ids {
            inner.unannounced.remove(&id);
        }
    }

    /// The subscription to announcements went live.
    pub(crate) fn set_live(&self) {
        self.lock().live = true;
    }

    /// Wakes the waiters of each task, under one lock.
    pub(crate) fn notify_many(&self, ended: impl IntoIterator<Item = Wake>) {
        let mut inner = self.lock();
        for (id, outcome) in ended {
            inner.unannounced.remove(&id);
            for tx in inner.waiting.remove(&id).into_iter().flatten() {
                let _ = tx.send((id, outcome.clone()));
            }
        }
    }

    /// Wakes everyone to re-read, and forgets what was not announced yet:
    /// used when notifications may have been missed.
    pub(crate) fn notify_all(&self) {
        let all: Vec<_> = {
            let mut inner = self.lock();
            inner.live = false;
            inner.unannounced = HashMap::new();
            inner.waiting.drain().collect()
        };
        for (id, senders) in all {
            for tx in senders {
                let _ = tx.send((id, None));
            }
        }
    }

    /// Forgets waiters that gave up (dropped their receiver) on `ids`.
    pub(crate) fn prune(&self, ids: &[TaskId]) {
        let mut inner = self.lock();
        for id in ids {
            if let Some(senders) = inner.waiting.get_mut(id) {
                senders.retain(|tx| !tx.is_closed());
                if senders.is_empty() {
                    inner.waiting.remove(id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_task_submitted_here_is_known_unfinished_until_announced_while_live() {
        let waiters = Waiters::default();
        let (wake, mut woken) = tokio::sync::mpsc::unbounded_channel();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let all = Scope::All;
        // Not subscribed yet: nothing is remembered.
        waiters.expect("t", [a]);
        assert_eq!(waiters.register_known(&[a], &wake, all), vec![false]);
        waiters.set_live();
        waiters.expect("t", [a, b]);
        assert_eq!(
            waiters.register_known(&[a, b], &wake, all),
            vec![true, true]
        );
        // Only for the tenant that submitted them (or everyone's scope).
        assert_eq!(
            waiters.register_known(&[a], &wake, Scope::Tenant("t")),
            vec![true]
        );
        assert_eq!(
            waiters.register_known(&[a], &wake, Scope::Tenant("other")),
            vec![false]
        );
        // Announced: it wakes its waiters and is no longer known unfinished.
        waiters.notify_many([(a, None)]);
        assert_eq!(woken.try_recv().map(|w| w.0), Ok(a));
        assert_eq!(
            waiters.register_known(&[a, b], &wake, all),
            vec![false, true]
        );
        // The subscription dropped: announcements may have been missed.
        waiters.notify_all();
        assert_eq!(waiters.register_known(&[b], &wake, all), vec![false]);
        waiters.set_live();
        assert_eq!(
            waiters.register_known(&[b], &wake, all),
            vec![false],
            "forgotten, not restored"
        );
        waiters.expect("t", [a]);
        waiters.forget([a]);
        assert_eq!(waiters.register_known(&[a], &wake, all), vec![false]);
    }
}

//! Long-poll support: tasks' waiters, woken when a task reaches a final state.

use crate::model::{TaskId, TaskOutcome};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

/// A wake-up: the task that ended and, when the notification carried it,
/// its final outcome (written once, so the copy is as good as a read).
/// `None` means "re-read it": the outcome was too large to announce, or
/// notifications may have been missed.
pub(crate) type Wake = (TaskId, Option<TaskOutcome>);

/// Who waits for which task. A waiter registers the ids it waits on with
/// one channel and receives each id as its task ends.
#[derive(Default)]
pub(crate) struct Waiters {
    map: Mutex<HashMap<TaskId, Vec<UnboundedSender<Wake>>>>,
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Vec<UnboundedSender<Wake>>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `wake` gets each of `ids` (once) when it is notified.
    pub(crate) fn register(
        &self,
        ids: impl IntoIterator<Item = TaskId>,
        wake: &UnboundedSender<Wake>,
    ) {
        let mut map = self.lock();
        for id in ids {
            map.entry(id).or_default().push(wake.clone());
        }
    }

    /// Wakes the waiters of each task, under one lock.
    pub(crate) fn notify_many(&self, ended: impl IntoIterator<Item = Wake>) {
        let mut map = self.lock();
        for (id, outcome) in ended {
            for tx in map.remove(&id).into_iter().flatten() {
                let _ = tx.send((id, outcome.clone()));
            }
        }
    }

    /// Wakes everyone to re-read: used when notifications may have been missed.
    pub(crate) fn notify_all(&self) {
        let all: Vec<_> = self.lock().drain().collect();
        for (id, senders) in all {
            for tx in senders {
                let _ = tx.send((id, None));
            }
        }
    }

    /// Forgets waiters that gave up (dropped their receiver) on `ids`.
    pub(crate) fn prune(&self, ids: &[TaskId]) {
        let mut map = self.lock();
        for id in ids {
            if let Some(senders) = map.get_mut(id) {
                senders.retain(|tx| !tx.is_closed());
                if senders.is_empty() {
                    map.remove(id);
                }
            }
        }
    }
}

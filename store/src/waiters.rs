//! Long-poll support: tasks' waiters, woken when a task reaches a final state.

use crate::model::TaskId;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

/// Who waits for which task. A waiter registers the ids it waits on with
/// one channel and receives each id as its task ends; a notification
/// carries no data (the waiter re-reads the task), so a lost or spurious
/// wake-up costs only a read.
#[derive(Default)]
pub(crate) struct Waiters {
    map: Mutex<HashMap<TaskId, Vec<UnboundedSender<TaskId>>>>,
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Vec<UnboundedSender<TaskId>>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `wake` gets each of `ids` (once) when it is notified.
    pub(crate) fn register(&self, ids: impl IntoIterator<Item = TaskId>, wake: &UnboundedSender<TaskId>) {
        let mut map = self.lock();
        for id in ids {
            map.entry(id).or_default().push(wake.clone());
        }
    }

    pub(crate) fn notify(&self, id: TaskId) {
        self.notify_many([id]);
    }

    /// `notify` for many ids, under one lock.
    pub(crate) fn notify_many(&self, ids: impl IntoIterator<Item = TaskId>) {
        let mut map = self.lock();
        for id in ids {
            for tx in map.remove(&id).into_iter().flatten() {
                let _ = tx.send(id);
            }
        }
    }

    /// Wakes everyone: used when notifications may have been missed.
    pub(crate) fn notify_all(&self) {
        let all: Vec<_> = self.lock().drain().collect();
        for (id, senders) in all {
            for tx in senders {
                let _ = tx.send(id);
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

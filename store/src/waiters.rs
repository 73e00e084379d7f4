//! Long-poll support: tasks' waiters, woken when a task reaches a final state.

use crate::model::TaskId;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Who waits for which task. A notification carries no data: the waiter
/// re-reads the task, so a lost or spurious wake-up costs only a read.
#[derive(Default)]
pub(crate) struct Waiters {
    map: Mutex<HashMap<TaskId, Vec<oneshot::Sender<()>>>>,
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Vec<oneshot::Sender<()>>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn register(&self, id: TaskId) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.lock().entry(id).or_default().push(tx);
        rx
    }

    pub(crate) fn notify(&self, id: TaskId) {
        if let Some(senders) = self.lock().remove(&id) {
            for tx in senders {
                let _ = tx.send(());
            }
        }
    }

    /// Wakes everyone: used when notifications may have been missed.
    pub(crate) fn notify_all(&self) {
        let all: Vec<_> = self.lock().drain().collect();
        for (_, senders) in all {
            for tx in senders {
                let _ = tx.send(());
            }
        }
    }

    /// Forgets waiters that gave up on `id`.
    pub(crate) fn prune(&self, id: TaskId) {
        let mut map = self.lock();
        if let Some(senders) = map.get_mut(&id) {
            senders.retain(|tx| !tx.is_closed());
            if senders.is_empty() {
                map.remove(&id);
            }
        }
    }
}

//! The embedded store's finished tasks, in the two orders their eviction
//! needs: by when their retention ends, and by when they ended (the cap on
//! finished records held drops the oldest first).

use crate::model::TaskId;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// When a task that ends at `now` and is kept `retention_ms` goes.
pub(crate) fn deadline(now: Instant, retention_ms: u64) -> Instant {
    // Retentions are clamped to a century (`StoreConfig::retention_ms`),
    // within any platform's `Instant`; one that did not fit would go now.
    now.checked_add(Duration::from_millis(retention_ms))
        .unwrap_or(now)
}

#[derive(Default)]
pub(crate) struct Finished {
    /// The order they ended in (a counter: ties keep their order) -> the
    /// task and when its retention ends.
    by_age: BTreeMap<u64, (TaskId, Instant)>,
    /// (When its retention ends, the order it ended in).
    by_deadline: BTreeSet<(Instant, u64)>,
    ended: u64,
}

impl Finished {
    /// A task ended; it goes at `deadline`.
    pub(crate) fn insert(&mut self, id: TaskId, deadline: Instant) {
        let order = self.ended;
        self.ended += 1;
        self.by_age.insert(order, (id, deadline));
        self.by_deadline.insert((deadline, order));
    }

    /// Takes out the next task to evict at `now`: one whose retention
    /// ended, else the oldest finished while more than `cap` are held.
    pub(crate) fn pop_evictable(&mut self, now: Instant, cap: usize) -> Option<TaskId> {
        let due = self
            .by_deadline
            .first()
            .filter(|(deadline, _)| *deadline <= now)
            .copied();
        if let Some(key @ (_, order)) = due {
            self.by_deadline.remove(&key);
            return self.by_age.remove(&order).map(|(id, _)| id);
        }
        if self.by_age.len() > cap {
            let (order, (id, deadline)) = self.by_age.pop_first()?;
            self.by_deadline.remove(&(deadline, order));
            return Some(id);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn drain(finished: &mut Finished, now: Instant, cap: usize) -> Vec<TaskId> {
        std::iter::from_fn(|| finished.pop_evictable(now, cap)).collect()
    }

    #[test]
    fn tasks_go_when_their_retention_ends_whatever_order_they_ended_in() {
        let now = Instant::now();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut finished = Finished::default();
        finished.insert(a, deadline(now, 3_000));
        finished.insert(b, deadline(now, 1_000));
        finished.insert(c, deadline(now, 2_000));
        assert!(drain(&mut finished, now, 10).is_empty());
        assert_eq!(
            drain(&mut finished, now + Duration::from_millis(2_000), 10),
            [b, c]
        );
        assert_eq!(drain(&mut finished, now + Duration::from_secs(5), 10), [a]);
        assert!(drain(&mut finished, now + Duration::from_secs(5), 0).is_empty());
    }

    #[test]
    fn over_the_cap_the_oldest_finished_go_first() {
        let now = Instant::now();
        let ids: Vec<TaskId> = (0..5).map(|_| Uuid::new_v4()).collect();
        let mut finished = Finished::default();
        // The first to end has the longest retention: age decides, not it.
        finished.insert(ids[0], deadline(now, 60_000));
        for id in &ids[1..] {
            finished.insert(*id, deadline(now, 1_000));
        }
        assert_eq!(drain(&mut finished, now, 3), ids[..2]);
        // Both indexes forgot them: their deadlines evict nothing twice.
        assert_eq!(
            drain(&mut finished, now + Duration::from_secs(2), 3),
            ids[2..]
        );
    }

    #[test]
    fn a_retention_of_zero_ends_at_once() {
        let now = Instant::now();
        let id = Uuid::new_v4();
        let mut finished = Finished::default();
        finished.insert(id, deadline(now, 0));
        assert_eq!(drain(&mut finished, now, 10), [id]);
    }
}

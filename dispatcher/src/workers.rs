//! The workers a push or pull dispatcher knows: one record per worker and
//! the bookkeeping both modes do alike (room, pacing, silent and leaving
//! workers, the `GET /workers` rows). What differs between the modes is a
//! [`Mode`]: static, so the scheduler's hot path makes no dynamic call.

use crate::remote::{Assigned, Plumbing, MAX_SLOTS_PER_WORKER};
use faas_protocol::curve::CurveKey;
use faas_protocol::pace::{self, Rate};
use serde_json::Value;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

/// What sets a mode's worker bookkeeping apart, implemented by what only
/// that mode keeps of a worker ([`Worker::own`]).
pub trait Mode {
    /// How a worker is known: push by its routing id, pull by the `worker`
    /// id its requests name (so a worker that reconnects keeps its tasks).
    type Id: Clone + Eq + Hash;
    /// `mode` in the `GET /workers` rows (and the ready line).
    const NAME: &'static str;
    /// What a live worker sends at least once a heartbeat, for the line
    /// that declares a silent one dead.
    const SIGN_OF_LIFE: &'static str;
    /// A silent worker that held nothing is logged as gone (info), not
    /// lost (warn).
    const QUIET_WHEN_IDLE: bool;
    /// Its id in the `GET /workers` rows.
    fn row_id(id: &Self::Id) -> String;
}

/// One worker as this dispatcher knows it.
pub struct Worker<M> {
    pub name: String,
    /// The key of its first message (CURVE); later ones must come under it.
    pub key: Option<CurveKey>,
    pub slots: usize,
    /// Most tasks it may hold at once: slots plus prefetch, paced by `rate`.
    pub capacity: usize,
    pub rate: Rate,
    pub assigned: Assigned,
    pub last_seen: Instant,
    /// It is leaving: it gets no more tasks.
    pub draining: bool,
    /// Results received from it.
    pub completed: u64,
    /// What only its mode keeps.
    pub own: M,
}

impl<M> Worker<M> {
    /// A worker just heard from; [`Worker::announce`] sets its slots.
    pub fn new(name: String, key: Option<CurveKey>, own: M) -> Self {
        Worker {
            name,
            key,
            slots: 0,
            capacity: 0,
            rate: Rate::default(),
            assigned: Assigned::default(),
            last_seen: Instant::now(),
            draining: false,
            completed: 0,
            own,
        }
    }

    /// Takes the slots it announces, bounded: a worker's word sets how much
    /// this dispatcher claims for it. Its capacity is at least its slots
    /// plus `prefetch_per_slot` each (pacing may have raised it).
    pub fn announce(&mut self, slots: u32, prefetch_per_slot: usize) {
        self.slots = (slots as usize).clamp(1, MAX_SLOTS_PER_WORKER);
        self.capacity = self.capacity.max(self.slots * (1 + prefetch_per_slot));
    }

    /// Tasks it may be sent now by this dispatcher's count.
    pub fn free(&self) -> usize {
        if self.draining {
            0
        } else {
            self.capacity.saturating_sub(self.assigned.len())
        }
    }
}

/// How often the workers are published (the store keeps a list 3 s).
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// The workers by id. The map itself is open to the scheduler (it derefs
/// to it); what both modes do with it is here, once.
pub struct Workers<M: Mode> {
    by_id: HashMap<M::Id, Worker<M>>,
    /// Ticks counted by `publish_on_tick`.
    ticks: u64,
}

impl<M: Mode> Default for Workers<M> {
    fn default() -> Self {
        Workers {
            by_id: HashMap::new(),
            ticks: 0,
        }
    }
}

impl<M: Mode> Deref for Workers<M> {
    type Target = HashMap<M::Id, Worker<M>>;
    fn deref(&self) -> &Self::Target {
        &self.by_id
    }
}

impl<M: Mode> DerefMut for Workers<M> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.by_id
    }
}

impl<M: Mode> Workers<M> {
    /// Tasks the workers may be sent now, all together.
    pub fn free(&self) -> usize {
        self.by_id.values().map(Worker::free).sum()
    }

    /// Some worker still runs tasks of this dispatcher.
    pub fn busy(&self) -> bool {
        self.by_id.values().any(|w| !w.assigned.is_empty())
    }

    /// Sizes each worker's capacity by the rate it completes tasks, sampled
    /// every `tick`: its slots plus the work it does in two round trips at
    /// `scale` times that rate (at least `prefetch_per_slot` per slot, at
    /// most `scale` times [`pace::MAX_AHEAD`]). Two round trips: push
    /// results come back in batches and claims arrive in bursts; a pull
    /// worker asks for two round trips' work, and its results come a round
    /// trip late.
    pub fn pace(&mut self, tick: Duration, prefetch_per_slot: usize, scale: usize) {
        for worker in self.by_id.values_mut() {
            if let Some(rate) = worker.rate.sample(worker.completed, tick) {
                let min = worker.slots * prefetch_per_slot;
                let round_trips = 2 * worker.assigned.round_trip();
                let max = scale * pace::MAX_AHEAD.max(min);
                worker.capacity =
                    worker.slots + pace::ahead(scale as f64 * rate, round_trips, min, max);
            }
        }
    }

    /// Declares workers silent for `timeout` dead and queues their tasks
    /// again (counting the attempt).
    pub fn reap_dead(&mut self, timeout: Duration, io: &Plumbing) {
        let dead: Vec<M::Id> = self
            .by_id
            .iter()
            .filter(|(_, w)| w.last_seen.elapsed() > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in dead {
            self.drop_worker(
                &id,
                format_args!("no {} for {timeout:?}", M::SIGN_OF_LIFE),
                io,
            );
        }
    }

    /// Forgets a worker and queues its tasks again (counting the attempt).
    pub fn drop_worker(&mut self, id: &M::Id, why: std::fmt::Arguments<'_>, io: &Plumbing) {
        let Some(mut worker) = self.by_id.remove(id) else {
            return;
        };
        if M::QUIET_WHEN_IDLE && worker.assigned.is_empty() {
            tracing::info!(worker = %worker.name, "worker gone ({why})");
            return;
        }
        tracing::warn!(
            worker = %worker.name,
            tasks = worker.assigned.len(),
            "worker lost ({why}); its tasks go back to the queue"
        );
        for claim in worker.assigned.drain() {
            io.lost(claim);
        }
    }

    /// Forgets a worker that said it is leaving once it has nothing left
    /// running.
    pub fn forget_if_gone<Q>(&mut self, id: &Q)
    where
        M::Id: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self
            .by_id
            .get(id)
            .is_some_and(|w| w.draining && w.assigned.is_empty())
        {
            if let Some(w) = self.by_id.remove(id) {
                tracing::info!(worker = %w.name, "worker left");
            }
        }
    }

    /// Counts a tick of `tick`; on the first and then once a second,
    /// publishes the workers.
    pub fn publish_on_tick(&mut self, tick: Duration, io: &Plumbing) {
        self.ticks += 1;
        let every = (PUBLISH_EVERY.as_nanos() / tick.as_nanos().max(1)).max(1) as u64;
        if (self.ticks - 1) % every == 0 {
            self.publish(io);
        }
    }

    /// Publishes the workers to the store (for `GET /workers`) and counts
    /// them and their free slots, without waiting.
    fn publish(&self, io: &Plumbing) {
        if let Some(m) = io.metrics.as_deref() {
            m.workers.set(self.by_id.len() as i64);
            let free: usize = self
                .by_id
                .values()
                .map(|w| w.slots.saturating_sub(w.assigned.len()))
                .sum();
            m.free_slots.set(free as i64);
        }
        let consumer = io.consumer().to_string();
        let list: Vec<Value> = self
            .by_id
            .iter()
            .map(|(id, w)| faas_contract::WorkerRow {
                id: M::row_id(id),
                name: w.name.clone(),
                slots: w.slots as u64,
                running: w.assigned.len() as u64,
                completed: w.completed,
                draining: w.draining,
                last_heartbeat_ms_ago: w.last_seen.elapsed().as_millis() as u64,
                dispatcher: consumer.clone(),
                mode: M::NAME.to_string(),
            })
            .filter_map(|row| serde_json::to_value(row).ok())
            .collect();
        let store = io.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store
                .publish_workers(&consumer, &Value::Array(list), Duration::from_secs(3))
                .await
            {
                tracing::debug!("cannot publish workers: {e}");
            }
        });
    }
}

/// A key for logs (`none` without CURVE).
pub fn show_key(key: Option<CurveKey>) -> String {
    key.map_or_else(|| "none".into(), |k| k.to_z85())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Test;
    impl Mode for Test {
        type Id = String;
        const NAME: &'static str = "test";
        const SIGN_OF_LIFE: &'static str = "word";
        const QUIET_WHEN_IDLE: bool = true;
        fn row_id(id: &String) -> String {
            id.clone()
        }
    }

    #[test]
    fn announced_slots_are_bounded_and_capacity_never_shrinks() {
        let mut w = Worker::new("w".into(), None, Test);
        w.announce(0, 4);
        assert_eq!((w.slots, w.capacity, w.free()), (1, 5, 5));
        w.announce(u32::MAX, 4);
        assert_eq!(w.slots, MAX_SLOTS_PER_WORKER);
        w.capacity = 100_000;
        w.announce(2, 4);
        assert_eq!((w.slots, w.capacity), (2, 100_000));
        w.draining = true;
        assert_eq!(w.free(), 0);
    }

    #[test]
    fn a_leaving_worker_is_forgotten_once_it_holds_nothing() {
        let mut workers: Workers<Test> = Workers::default();
        workers.insert("a".into(), Worker::new("a".into(), None, Test));
        workers.forget_if_gone("a");
        assert!(workers.contains_key("a"), "not leaving");
        if let Some(w) = workers.get_mut("a") {
            w.draining = true;
        }
        workers.forget_if_gone("a");
        assert!(workers.is_empty());
    }
}

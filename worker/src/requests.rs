//! Pull mode's requests, without sockets: what the next `PULL` carries and
//! asks for, when it is due, which `PULL`s are unanswered, and what an
//! answer (or its absence) settles. The I/O loop (`pull.rs`) asks
//! [`Requests::due`] when to send and [`Requests::build`] what, and reports
//! answers, `ERROR`s and the passing of time.
//!
//! The rules (`docs/protocol.md`, Pull mode):
//! - `free` is the capacity (slots, plus `prefetch` per slot) minus the
//!   tasks held minus what unanswered `PULL`s asked for, and at most one `PULL` with `free > 0` (a *work* `PULL`) is
//!   unanswered at a time. With none out and room, the next one goes at
//!   once; the dispatcher holds it until work comes (up to `hold_ms`), so
//!   an idle worker asks about once per hold. An empty answer that comes
//!   early (the dispatcher is not holding) is not asked again before the
//!   hold would have ended, so nothing spins.
//! - Results and returned tasks ride on the next `PULL`. With none out it
//!   goes at once; while one is out (a work `PULL` may be held for a
//!   second) a *report* (`free = 0`, answered at once) goes at once, and
//!   results that end while a report is out wait for its answer. They stay unacknowledged until the answer to the
//!   `PULL` that carried them (answers are matched by `seq` and may come in
//!   any order). A module request goes at once, one module per `PULL`
//!   (the answer carries every module asked for, outside the byte budget).
//! - A `PULL` goes at least every heartbeat interval, listing `running` at
//!   least every half interval, except that a held work `PULL` due back
//!   soon stands for the heartbeat it would otherwise overlap.
//! - A `PULL` unanswered for `hold_ms + 2 x heartbeat_ms` is given up:
//!   what it carried waits again and goes out at once with `running`.

use crate::engine::Latency;
use crate::link::{heartbeat_interval, DEFAULT_HEARTBEAT};
use crate::outcome::sendable;
use faas_protocol::budget::Budget;
use faas_protocol::pace::{self, Rate, RoundTrip};
use faas_protocol::{PullRequest, ResultMessage, TaskRef, WorkerMessage};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Hold until an answer says otherwise.
const DEFAULT_HOLD: Duration = Duration::from_millis(1000);
const MAX_HOLD: Duration = Duration::from_secs(60);
/// Least time between work `PULL`s answered with no tasks.
const MIN_ASK_INTERVAL: Duration = Duration::from_millis(50);
/// How often the completion rate is sampled to size the capacity.
const PACE_EVERY: Duration = Duration::from_millis(100);
/// After an `ERROR`, nothing is sent for this long (the next request would
/// most likely be refused the same way).
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

struct Unsent {
    result: ResultMessage,
    /// When its task ended, until the result is first sent.
    ended: Option<Instant>,
    size: usize,
}

impl Unsent {
    fn new(result: ResultMessage, ended: Option<Instant>) -> Self {
        let (result, size) = sendable(result);
        Unsent {
            result,
            ended,
            size,
        }
    }
}

/// A `PULL` sent and not answered yet.
struct InFlight {
    sent: Instant,
    /// Its `free`.
    asked: u32,
    results: Vec<ResultMessage>,
    returned: Vec<TaskRef>,
    need: Vec<Uuid>,
}

/// What an answer settled.
pub(crate) struct Settled {
    /// Functions whose modules that `PULL` asked for.
    pub asked_modules: Vec<Uuid>,
}

pub(crate) struct Requests {
    slots: u32,
    /// Tasks asked for per slot beyond the slots, at least.
    prefetch: u32,
    /// Most tasks held at once: the slots plus the prefetch, or, for a
    /// worker that completes tasks fast, the work it does in
    /// [`pace::AHEAD`] (so that one `PULL` brings hundreds of short tasks).
    capacity: u32,
    completed: u64,
    rate: Rate,
    /// To the dispatcher and back: a `PULL` answered without being held.
    round_trip: RoundTrip,
    next_seq: u64,
    in_flight: BTreeMap<u64, InFlight>,
    results: VecDeque<Unsent>,
    returned: Vec<TaskRef>,
    need: BTreeSet<Uuid>,
    /// Since when results or returned tasks wait for a `PULL`.
    waiting_since: Option<Instant>,
    /// The next `PULL` goes at once: new module requests, the first `BYE`,
    /// a given-up `PULL`.
    urgent: bool,
    /// The next `PULL` lists `running` whatever the time.
    list_running: bool,
    last_sent: Option<Instant>,
    last_listed: Option<Instant>,
    /// No work `PULL` before this (an early empty answer).
    ask_not_before: Option<Instant>,
    /// No `PULL` at all before this (an `ERROR`).
    quiet_until: Option<Instant>,
    heartbeat: Duration,
    hold: Duration,
    draining: bool,
}

impl Requests {
    /// For a worker with `slots` that also asks for `prefetch` tasks per
    /// slot to queue behind the running ones.
    pub fn new(slots: usize, prefetch: usize) -> Self {
        let capacity = slots.saturating_mul(prefetch.saturating_add(1));
        Requests {
            slots: u32::try_from(slots).unwrap_or(u32::MAX),
            prefetch: u32::try_from(prefetch).unwrap_or(u32::MAX),
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
            completed: 0,
            rate: Rate::default(),
            round_trip: RoundTrip::default(),
            next_seq: 1,
            in_flight: BTreeMap::new(),
            results: VecDeque::new(),
            returned: Vec::new(),
            need: BTreeSet::new(),
            waiting_since: None,
            urgent: false,
            list_running: true,
            last_sent: None,
            last_listed: None,
            ask_not_before: None,
            quiet_until: None,
            heartbeat: DEFAULT_HEARTBEAT,
            hold: DEFAULT_HOLD,
            draining: false,
        }
    }

    pub fn add_result(&mut self, result: ResultMessage, ended: Option<Instant>, now: Instant) {
        self.results.push_back(Unsent::new(result, ended));
        self.waiting_since.get_or_insert(now);
        self.completed += 1;
        self.pace();
    }

    /// Sizes the capacity by the completion rate (never below the slots
    /// plus the prefetch; `--prefetch 0` asks strictly for free slots).
    fn pace(&mut self) {
        if self.prefetch == 0 {
            return;
        }
        if let Some(rate) = self.rate.sample(self.completed, PACE_EVERY) {
            let slots = self.slots as usize;
            let min = slots.saturating_mul(self.prefetch as usize);
            // One work PULL at a time: what arrives must last until the
            // answer after next, two round trips away.
            let round_trips = 2 * self.round_trip.get();
            let ahead = pace::ahead(rate, round_trips, min, pace::MAX_AHEAD.max(min));
            self.capacity = u32::try_from(slots.saturating_add(ahead)).unwrap_or(u32::MAX);
        }
    }

    pub fn add_returned(&mut self, tasks: Vec<TaskRef>, now: Instant) {
        if !tasks.is_empty() {
            self.returned.extend(tasks);
            self.waiting_since.get_or_insert(now);
        }
    }

    /// Names a function in a `PULL`'s `need_modules`, sent at once.
    pub fn ask_module(&mut self, function_id: Uuid) {
        if !self.draining {
            self.need.insert(function_id);
            self.urgent = true;
        }
    }

    /// The worker is stopping: every `PULL` from now on says `bye` and asks
    /// for nothing, and the first goes at once, listing `running`.
    pub fn drain(&mut self) {
        self.draining = true;
        self.urgent = true;
        self.list_running = true;
        self.need.clear();
    }

    /// The `free` of a `PULL` sent now.
    fn free(&self, held: usize) -> u32 {
        if self.draining || self.work_in_flight().is_some() {
            return 0;
        }
        self.capacity
            .saturating_sub(u32::try_from(held).unwrap_or(u32::MAX))
    }

    /// When the unanswered work `PULL` was sent.
    fn work_in_flight(&self) -> Option<Instant> {
        self.in_flight
            .values()
            .find(|f| f.asked > 0)
            .map(|f| f.sent)
    }

    /// When the next `PULL` should go (it is due if that is not after
    /// `now`), for a worker holding `held` tasks.
    pub fn due(&self, now: Instant, held: usize) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut consider = |t: Instant| at = Some(at.map_or(t, |a| a.min(t)));
        if self.last_sent.is_none() || self.urgent {
            consider(now);
        }
        if self.free(held) > 0 {
            consider(self.ask_not_before.unwrap_or(now));
        }
        if let Some(since) = self.waiting_since {
            // Results go at once, in a report if a work PULL is out (it may
            // be held); while a report is out, later results wait for its
            // answer, which comes at once, and go together after it.
            let report_out = self.in_flight.values().any(|f| f.asked == 0);
            if !report_out {
                consider(since);
            }
        }
        if let Some(last) = self.last_sent {
            let mut heartbeat = last + self.heartbeat;
            // A held work PULL whose answer (and the PULL that follows it)
            // is due about when the heartbeat would be makes it needless.
            let grace = self.heartbeat / 4;
            if let Some(asked) = self.work_in_flight() {
                let answer = asked + self.hold + grace;
                if answer <= heartbeat + grace {
                    heartbeat = heartbeat.max(answer);
                }
            }
            consider(heartbeat);
        }
        at.map(|at| self.quiet_until.map_or(at, |quiet| at.max(quiet)))
    }

    /// When the oldest unanswered `PULL` is given up.
    pub fn give_up_at(&self) -> Option<Instant> {
        let patience = self.patience();
        self.in_flight.values().map(|f| f.sent + patience).min()
    }

    /// How long a `PULL` may go unanswered: `hold_ms + 2 x heartbeat_ms`.
    pub fn patience(&self) -> Duration {
        self.hold + self.heartbeat * 2
    }

    /// The next `PULL`, encoded, recorded as unanswered. `running` lists
    /// the tasks held (called only when the `PULL` lists them).
    pub fn build(
        &mut self,
        now: Instant,
        worker: &str,
        name: &str,
        held: usize,
        running: impl FnOnce() -> Vec<TaskRef>,
        latency: &mut Latency,
    ) -> Vec<Vec<u8>> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let free = self.free(held);
        // Results up to the byte budget; the rest go in the next `PULL`.
        let mut results = Vec::new();
        let mut budget = Budget::default();
        while let Some(next) = self.results.front() {
            if !budget.fits(next.size) {
                break;
            }
            budget.take(next.size);
            let Some(mut unsent) = self.results.pop_front() else {
                break;
            };
            if let Some(ended) = unsent.ended.take() {
                latency.record(now.saturating_duration_since(ended));
            }
            results.push(unsent.result);
        }
        if self.results.is_empty() {
            self.waiting_since = None;
        }
        let list = self.list_running
            || self
                .last_listed
                .is_none_or(|at| now >= at + self.heartbeat / 2);
        if list {
            self.last_listed = Some(now);
            self.list_running = false;
        }
        let listed = list.then(|| {
            // Tasks whose results are not acknowledged yet are still this
            // worker's: the dispatcher must not take them for lost (nor,
            // after a restart, leave them unadopted).
            let mut all = running();
            all.extend(results.iter().map(|r| r.task.clone()));
            all.extend(self.results.iter().map(|u| u.result.task.clone()));
            all.extend(
                self.in_flight
                    .values()
                    .flat_map(|f| f.results.iter().map(|r| r.task.clone())),
            );
            all
        });
        let message = WorkerMessage::Pull(PullRequest {
            worker: worker.to_string(),
            name: name.to_string(),
            slots: self.slots,
            free,
            seq,
            results,
            running: listed,
            // One module per `PULL`: the answer carries every module asked
            // for, so asking one at a time keeps it within its byte budget.
            need_modules: self.need.pop_first().into_iter().collect(),
            returned: std::mem::take(&mut self.returned),
            bye: self.draining,
        });
        let frames = message.encode();
        if let WorkerMessage::Pull(request) = message {
            self.in_flight.insert(
                seq,
                InFlight {
                    sent: now,
                    asked: free,
                    results: request.results,
                    returned: request.returned,
                    need: request.need_modules,
                },
            );
        }
        self.urgent = !self.need.is_empty();
        self.last_sent = Some(now);
        frames
    }

    /// The last `PULL` built could not be sent after all: what it carried
    /// waits again, and goes as soon as the socket takes it.
    pub fn retract(&mut self, now: Instant) {
        if let Some(seq) = self.next_seq.checked_sub(1) {
            if let Some(f) = self.in_flight.remove(&seq) {
                self.restore(f, now);
                self.urgent = true;
            }
        }
    }

    /// A `TASKS` answer: its settings apply from now on, and the `PULL` it
    /// answers is settled (its results and returned tasks acknowledged).
    /// `None` if no unanswered `PULL` has that `seq` (a late answer to one
    /// given up: its tasks are real all the same).
    pub fn answered(
        &mut self,
        seq: u64,
        heartbeat_ms: u64,
        hold_ms: u64,
        got_tasks: bool,
        now: Instant,
    ) -> Option<Settled> {
        if heartbeat_ms > 0 {
            self.heartbeat = heartbeat_interval(heartbeat_ms);
        }
        self.hold = Duration::from_millis(hold_ms).min(MAX_HOLD);
        let f = self.in_flight.remove(&seq)?;
        // A report is answered at once, and so is a request the dispatcher
        // had tasks for (or one it held briefly: the least sample wins).
        if f.asked == 0 || got_tasks {
            self.round_trip
                .sample(now.saturating_duration_since(f.sent));
        }
        if f.asked > 0 {
            self.ask_not_before = if got_tasks {
                None
            } else {
                // Held and answered when the hold ran out: ask again now.
                // Not held (the dispatcher stops, or does not hold): wait
                // as if it had been.
                let hold = (self.hold * 9 / 10).max(MIN_ASK_INTERVAL);
                Some(f.sent + hold).filter(|at| *at > now)
            };
        }
        Some(Settled {
            asked_modules: f.need,
        })
    }

    /// An `ERROR` answer. It carries no `seq`; a refused request is never
    /// held, so it answers the oldest unanswered report, or else the oldest
    /// `PULL`. What that carried waits again; nothing is sent for a while.
    /// False if no `PULL` was unanswered.
    pub fn refused(&mut self, now: Instant) -> bool {
        self.quiet_until = Some(now + ERROR_BACKOFF);
        let seq = self
            .in_flight
            .iter()
            .find(|(_, f)| f.asked == 0)
            .or_else(|| self.in_flight.iter().next())
            .map(|(seq, _)| *seq);
        let Some(f) = seq.and_then(|seq| self.in_flight.remove(&seq)) else {
            return false;
        };
        self.restore(f, now);
        true
    }

    /// Gives up the `PULL`s unanswered for too long; what they carried
    /// waits again and goes out at once, with `running`. Returns how many.
    pub fn give_up(&mut self, now: Instant) -> usize {
        let patience = self.patience();
        let lost: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| now >= f.sent + patience)
            .map(|(seq, _)| *seq)
            .collect();
        // Oldest last, so that its results end up first again.
        for seq in lost.iter().rev() {
            if let Some(f) = self.in_flight.remove(seq) {
                self.restore(f, now);
            }
        }
        if !lost.is_empty() {
            self.urgent = true;
            self.list_running = true;
        }
        lost.len()
    }

    fn restore(&mut self, f: InFlight, now: Instant) {
        for result in f.results.into_iter().rev() {
            self.results.push_front(Unsent::new(result, None));
        }
        if !f.returned.is_empty() {
            let later = std::mem::replace(&mut self.returned, f.returned);
            self.returned.extend(later);
        }
        if !self.draining {
            self.need.extend(f.need);
        }
        if !(self.results.is_empty() && self.returned.is_empty()) {
            self.waiting_since.get_or_insert(now);
        }
    }

    /// Nothing waits to be sent or for an answer.
    pub fn settled(&self) -> bool {
        self.in_flight.is_empty()
            && self.results.is_empty()
            && self.returned.is_empty()
            && !self.urgent
    }

    /// Results not acknowledged yet.
    pub fn unacknowledged(&self) -> usize {
        self.results.len()
            + self
                .in_flight
                .values()
                .map(|f| f.results.len())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faas_protocol::budget::BATCH_BUDGET;
    use serde_json::json;

    const MS: Duration = Duration::from_millis(1);

    fn task() -> TaskRef {
        TaskRef {
            task_id: Uuid::new_v4(),
            attempt: 1,
            receipt: "r".into(),
        }
    }

    fn result(value: serde_json::Value) -> ResultMessage {
        ResultMessage {
            task: task(),
            status: "COMPLETED".into(),
            result: value,
            kind: None,
            logs: String::new(),
            usage: None,
            held_us: None,
        }
    }

    /// Builds the next PULL for a worker holding `held` (listed as
    /// `running` when listed) and decodes it back.
    fn pull(r: &mut Requests, now: Instant, held: &[TaskRef]) -> PullRequest {
        let frames = r.build(
            now,
            "w-1",
            "w",
            held.len(),
            || held.to_vec(),
            &mut Latency::default(),
        );
        match WorkerMessage::decode(&frames) {
            Ok(WorkerMessage::Pull(request)) => request,
            other => panic!("{other:?}"),
        }
    }

    fn is_due(r: &Requests, now: Instant, held: usize) -> bool {
        r.due(now, held).is_some_and(|at| at <= now)
    }

    #[test]
    fn asks_for_free_slots_with_one_work_pull_at_a_time() {
        let t0 = Instant::now();
        let mut r = Requests::new(4, 0);
        assert!(is_due(&r, t0, 0), "the first PULL goes at once");
        let first = pull(&mut r, t0, &[]);
        assert_eq!(
            (
                first.worker.as_str(),
                first.name.as_str(),
                first.slots,
                first.free,
                first.seq
            ),
            ("w-1", "w", 4, 4, 1)
        );
        assert_eq!(
            first.running,
            Some(vec![]),
            "the first PULL lists what it holds"
        );
        assert!(!first.bye);
        // While it is out, nothing is due before the heartbeat.
        assert!(!is_due(&r, t0 + 500 * MS, 0));
        // Answered with 3 tasks: one slot left, asked for at once.
        assert!(r.answered(1, 1000, 1000, true, t0 + 10 * MS).is_some());
        let held: Vec<TaskRef> = (0..3).map(|_| task()).collect();
        assert!(is_due(&r, t0 + 10 * MS, 3));
        let second = pull(&mut r, t0 + 10 * MS, &held);
        assert_eq!((second.free, second.seq, second.running), (1, 2, None));
        // All four held: nothing to ask for, nothing due until the heartbeat.
        assert!(r.answered(2, 1000, 1000, true, t0 + 20 * MS).is_some());
        assert!(!is_due(&r, t0 + 20 * MS, 4));
        assert_eq!(
            r.due(t0 + 20 * MS, 4),
            Some(t0 + 10 * MS + DEFAULT_HEARTBEAT)
        );
        // More held than slots (a late answer): still nothing asked.
        assert!(!is_due(&r, t0 + 20 * MS, 6));
    }

    #[test]
    fn results_go_at_once_or_in_a_report_beside_a_held_pull() {
        let t0 = Instant::now();
        let mut r = Requests::new(2, 0);
        pull(&mut r, t0, &[]);
        r.answered(1, 1000, 1000, true, t0).unwrap();
        // Both slots busy, nothing out: a result goes at once, asking for
        // the freed slot.
        let (a, b) = (result(json!(1)), result(json!(2)));
        r.add_result(a.clone(), None, t0 + 5 * MS);
        assert!(is_due(&r, t0 + 5 * MS, 1));
        let with_a = pull(&mut r, t0 + 5 * MS, &[task()]);
        assert_eq!((with_a.free, with_a.results.clone()), (1, vec![a.clone()]));
        // That work PULL may be held: the next result goes at once, in a
        // report.
        r.add_result(b.clone(), None, t0 + 10 * MS);
        assert_eq!(r.due(t0 + 10 * MS, 0), Some(t0 + 10 * MS));
        let report = pull(&mut r, t0 + 10 * MS, &[]);
        assert_eq!((report.free, report.results.clone()), (0, vec![b]));
        assert_eq!(r.unacknowledged(), 2);
        // While the report is out, a later result waits for its answer.
        let c = result(json!(3));
        r.add_result(c.clone(), None, t0 + 11 * MS);
        assert!(!is_due(&r, t0 + 12 * MS, 0));
        // The report's answer overtakes the held one's; then c goes.
        r.answered(report.seq, 1000, 1000, false, t0 + 13 * MS)
            .unwrap();
        assert_eq!(r.unacknowledged(), 2, "a, out in the held PULL, and c");
        assert!(is_due(&r, t0 + 13 * MS, 0));
        let second = pull(&mut r, t0 + 13 * MS, &[]);
        assert_eq!((second.free, second.results.clone()), (0, vec![c]));
        r.answered(second.seq, 1000, 1000, false, t0 + 14 * MS)
            .unwrap();
        assert_eq!(r.unacknowledged(), 1);
        r.answered(with_a.seq, 1000, 1000, false, t0 + 1005 * MS)
            .unwrap();
        assert_eq!(r.unacknowledged(), 0);
        assert!(r.settled());
    }

    #[test]
    fn an_idle_worker_asks_once_per_hold_and_an_early_empty_answer_waits() {
        let t0 = Instant::now();
        let mut r = Requests::new(1, 0);
        pull(&mut r, t0, &[]);
        // Held for the whole hold, then empty: ask again at once.
        r.answered(1, 1000, 200, false, t0 + 201 * MS).unwrap();
        assert!(is_due(&r, t0 + 201 * MS, 0));
        let again = pull(&mut r, t0 + 201 * MS, &[]);
        r.add_result(result(json!(1)), None, t0 + 201 * MS);
        let report = pull(&mut r, t0 + 201 * MS, &[]);
        assert_eq!(report.free, 0);
        // Answered empty right away (not held): wait as if it had been,
        // and the report's answer after it does not change that.
        r.answered(again.seq, 1000, 200, false, t0 + 202 * MS)
            .unwrap();
        r.answered(report.seq, 1000, 200, false, t0 + 204 * MS)
            .unwrap();
        assert!(!is_due(&r, t0 + 250 * MS, 0));
        assert!(is_due(&r, t0 + 201 * MS + 180 * MS, 0));
        // A dispatcher that does not hold at all: still not a spin.
        let t1 = t0 + 400 * MS;
        let third = pull(&mut r, t1, &[]);
        r.answered(third.seq, 1000, 0, false, t1).unwrap();
        assert_eq!(r.due(t1, 0), Some(t1 + MIN_ASK_INTERVAL));
    }

    #[test]
    fn a_held_pull_stands_for_the_heartbeat_it_would_overlap() {
        let t0 = Instant::now();
        let mut r = Requests::new(1, 0);
        pull(&mut r, t0, &[]);
        r.answered(1, 1000, 1000, false, t0 + 1000 * MS).unwrap();
        let t1 = t0 + 1000 * MS;
        pull(&mut r, t1, &[]);
        // Its answer is due at t1 + 1 s: no heartbeat at t1 + 1 s beside it,
        // only if the answer is late.
        assert!(!is_due(&r, t1 + 1000 * MS, 0));
        assert_eq!(r.due(t1, 0), Some(t1 + 1250 * MS));
        // A long hold does not silence the worker.
        let mut r = Requests::new(1, 0);
        pull(&mut r, t0, &[]);
        r.answered(1, 1000, 30_000, false, t0 + 30 * 1000 * MS)
            .unwrap();
        let t2 = t0 + 30 * 1000 * MS;
        let work = pull(&mut r, t2, &[]);
        assert_eq!(r.due(t2, 0), Some(t2 + 1000 * MS));
        let heartbeat = pull(&mut r, t2 + 1000 * MS, &[]);
        assert_eq!((heartbeat.free, work.free), (0, 1));
        assert!(
            heartbeat.running.is_some(),
            "heartbeats list what the worker holds"
        );
        // Busy (no work PULL): a heartbeat every interval.
        let mut r = Requests::new(1, 0);
        pull(&mut r, t0, &[]);
        r.answered(1, 100, 100, true, t0 + 5 * MS).unwrap();
        assert_eq!(
            r.due(t0 + 5 * MS, 1),
            Some(t0 + 100 * MS),
            "the answer's heartbeat_ms applies"
        );
    }

    #[test]
    fn an_unanswered_pull_is_given_up_and_what_it_carried_goes_again() {
        let t0 = Instant::now();
        let mut r = Requests::new(1, 0);
        pull(&mut r, t0, &[]);
        r.answered(1, 100, 100, true, t0).unwrap();
        let held = [task()];
        let a = result(json!("a"));
        r.add_result(a.clone(), None, t0);
        let lost = pull(&mut r, t0, &held);
        assert_eq!(lost.results, vec![a.clone()]);
        // hold + 2 x heartbeat = 300 ms.
        assert_eq!(r.give_up_at(), Some(t0 + 300 * MS));
        assert_eq!(r.give_up(t0 + 299 * MS), 0);
        let b = result(json!("b"));
        r.add_result(b.clone(), None, t0 + 299 * MS);
        assert_eq!(r.give_up(t0 + 300 * MS), 1);
        assert!(is_due(&r, t0 + 300 * MS, 1));
        let again = pull(&mut r, t0 + 300 * MS, &held);
        assert_eq!(again.results, vec![a.clone(), b.clone()], "oldest first");
        let listed = again.running.expect("listed after a give-up");
        assert_eq!(listed[0], held[0]);
        assert!(
            listed.contains(&a.task) && listed.contains(&b.task),
            "results not acknowledged are listed too"
        );
        // Its late answer is not one of ours any more.
        assert!(r
            .answered(lost.seq, 100, 100, false, t0 + 301 * MS)
            .is_none());
        assert_eq!(r.unacknowledged(), 2);
    }

    #[test]
    fn an_error_answer_sends_the_report_again_after_a_pause() {
        let t0 = Instant::now();
        let mut r = Requests::new(1, 0);
        let work = pull(&mut r, t0, &[]);
        let a = result(json!(1));
        r.add_result(a.clone(), None, t0 + MS);
        let report = pull(&mut r, t0 + 5 * MS, &[]);
        assert_eq!(report.free, 0);
        // Refused: it was the report (the work PULL is the held one).
        assert!(r.refused(t0 + 6 * MS));
        assert!(!is_due(&r, t0 + 500 * MS, 0));
        assert!(is_due(&r, t0 + 6 * MS + ERROR_BACKOFF, 0));
        let again = pull(&mut r, t0 + 6 * MS + ERROR_BACKOFF, &[]);
        assert_eq!((again.results, again.free), (vec![a], 0));
        assert!(r
            .answered(work.seq, 1000, 1000, false, t0 + 1000 * MS)
            .is_some());
        // An ERROR nobody asked for changes nothing else.
        let mut idle = Requests::new(1, 0);
        assert!(!idle.refused(t0));
    }

    #[test]
    fn module_requests_go_at_once_and_are_asked_again_if_lost() {
        let t0 = Instant::now();
        let mut r = Requests::new(2, 0);
        pull(&mut r, t0, &[]);
        let (f, g) = (Uuid::new_v4(), Uuid::new_v4());
        r.ask_module(f);
        assert!(
            is_due(&r, t0 + MS, 0),
            "sent at once even beside a held PULL"
        );
        let asking = pull(&mut r, t0 + MS, &[]);
        assert_eq!((asking.need_modules.clone(), asking.free), (vec![f], 0));
        let settled = r
            .answered(asking.seq, 1000, 1000, false, t0 + 2 * MS)
            .unwrap();
        assert_eq!(settled.asked_modules, vec![f]);
        // A request whose answer is lost asks again.
        r.ask_module(g);
        let lost = pull(&mut r, t0 + 3 * MS, &[]);
        assert_eq!(lost.need_modules, vec![g]);
        let later = t0 + 3 * MS + r.patience();
        assert_eq!(r.give_up(later), 2, "and the work PULL, never answered");
        assert_eq!(pull(&mut r, later, &[]).need_modules, vec![g]);
    }

    #[test]
    fn modules_are_asked_for_one_per_pull() {
        let t0 = Instant::now();
        let mut r = Requests::new(2, 0);
        pull(&mut r, t0, &[]);
        let (f, g) = (Uuid::new_v4(), Uuid::new_v4());
        r.ask_module(f);
        r.ask_module(g);
        let first = pull(&mut r, t0 + MS, &[]);
        assert_eq!(first.need_modules.len(), 1);
        assert!(is_due(&r, t0 + MS, 0), "the other goes at once");
        let second = pull(&mut r, t0 + MS, &[]);
        assert_eq!(second.need_modules.len(), 1);
        let mut both = [first.need_modules[0], second.need_modules[0]];
        both.sort();
        let mut want = [f, g];
        want.sort();
        assert_eq!(both, want);
    }

    #[test]
    fn prefetch_asks_for_more_than_the_free_slots() {
        let t0 = Instant::now();
        let mut r = Requests::new(2, 1);
        assert_eq!(pull(&mut r, t0, &[]).free, 4);
        r.answered(1, 1000, 1000, true, t0).unwrap();
        // Two running and one queued: one more.
        assert!(is_due(&r, t0, 3));
        let next = pull(&mut r, t0, &[task(), task(), task()]);
        assert_eq!((next.free, next.slots), (1, 2));
    }

    #[test]
    fn tasks_with_unacknowledged_results_are_listed_as_running() {
        let t0 = Instant::now();
        let mut r = Requests::new(2, 0);
        let big = "x".repeat(BATCH_BUDGET / 2 + 1);
        let (mut a, mut b) = (result(json!(big)), result(json!(big)));
        a.task = task();
        b.task = task();
        r.add_result(a.clone(), None, t0);
        r.add_result(b.clone(), None, t0);
        // Only a fits in the first PULL; b waits but is listed.
        let first = pull(&mut r, t0, &[]);
        assert_eq!(
            first
                .results
                .iter()
                .map(|x| x.task.clone())
                .collect::<Vec<_>>(),
            vec![a.task.clone()]
        );
        let listed = first.running.expect("the first PULL lists");
        assert!(
            listed.contains(&a.task) && listed.contains(&b.task),
            "{listed:?}"
        );
    }

    #[test]
    fn large_results_are_split_over_several_pulls() {
        let t0 = Instant::now();
        let mut r = Requests::new(1, 0);
        let big = "x".repeat(BATCH_BUDGET / 3);
        for _ in 0..4 {
            r.add_result(result(json!(big)), Some(t0), t0);
        }
        let first = pull(&mut r, t0, &[]);
        assert_eq!(first.results.len(), 2);
        assert!(is_due(&r, t0, 0));
        let second = pull(&mut r, t0, &[]);
        assert_eq!(second.results.len(), 2);
        assert_eq!(r.unacknowledged(), 4);
        // One result over the budget still goes, alone.
        let mut r = Requests::new(1, 0);
        r.add_result(result(json!("y".repeat(BATCH_BUDGET + 1))), None, t0);
        assert_eq!(pull(&mut r, t0, &[]).results.len(), 1);
    }

    #[test]
    fn stopping_says_bye_asks_for_nothing_and_settles_once_answered() {
        let t0 = Instant::now();
        let mut r = Requests::new(2, 0);
        let work = pull(&mut r, t0, &[]);
        r.ask_module(Uuid::new_v4());
        let (returned, running) = (task(), task());
        r.add_returned(vec![returned.clone()], t0 + MS);
        r.drain();
        assert!(is_due(&r, t0 + MS, 1));
        let bye = pull(&mut r, t0 + MS, std::slice::from_ref(&running));
        assert!(bye.bye);
        assert_eq!(
            (bye.free, bye.returned, bye.running),
            (0, vec![returned], Some(vec![running]))
        );
        assert!(bye.need_modules.is_empty(), "nothing is asked for any more");
        assert!(!r.settled());
        r.answered(bye.seq, 1000, 1000, false, t0 + 2 * MS).unwrap();
        assert!(!r.settled(), "the work PULL is still out");
        r.answered(work.seq, 1000, 1000, false, t0 + 3 * MS)
            .unwrap();
        assert!(r.settled());
        // Idle and stopping: only heartbeats, never asking.
        assert!(!is_due(&r, t0 + 500 * MS, 0));
        assert_eq!(pull(&mut r, t0 + 1000 * MS, &[]).free, 0);
    }

    #[test]
    fn a_pull_the_socket_did_not_take_is_retracted() {
        let t0 = Instant::now();
        let mut r = Requests::new(1, 0);
        r.add_result(result(json!(1)), None, t0);
        let frames = r.build(t0, "w-1", "w", 0, Vec::new, &mut Latency::default());
        assert!(!frames.is_empty());
        r.retract(t0);
        assert!(is_due(&r, t0, 0));
        let again = pull(&mut r, t0, &[]);
        assert_eq!((again.seq, again.results.len(), again.free), (2, 1, 1));
    }
}

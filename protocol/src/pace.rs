//! Sizing how much work a dispatcher (or a pull worker) holds ahead of the
//! slots by the rate tasks complete: short tasks are claimed and sent hundreds at a time
//! (one store or network round trip per hundreds), long ones a few at a
//! time (so other dispatchers and workers get their share, and a crash
//! strands little work behind leases).

use std::time::{Duration, Instant};

/// How much work, at the recent completion rate, is held beyond the slots.
/// It must outlast a claim's and a record's round trips with Redis busy
/// (several ms each at 50,000 tasks/s): the window caps the rate at
/// window / time held.
pub const AHEAD: Duration = Duration::from_millis(50);
/// Most tasks held beyond the slots, however fast they complete.
pub const MAX_AHEAD: usize = 4096;

/// Completions counted between samples.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    at: Instant,
    count: u64,
}

impl Default for Rate {
    fn default() -> Self {
        Rate {
            at: Instant::now(),
            count: 0,
        }
    }
}

impl Rate {
    /// Completions per second since the last sample, given the running
    /// total; None (and no new sample) if less than `every` has passed.
    pub fn sample(&mut self, total: u64, every: Duration) -> Option<f64> {
        let elapsed = self.at.elapsed();
        if elapsed < every {
            return None;
        }
        let rate = total.saturating_sub(self.count) as f64 / elapsed.as_secs_f64();
        *self = Rate {
            at: Instant::now(),
            count: total,
        };
        Some(rate)
    }
}

/// Tasks to hold beyond the slots at `rate` completions per second, when a
/// task takes `round_trip` to reach its slot and its result to come back
/// (a link between hosts): AHEAD worth of work plus what completes during
/// the round trip, so the slots never wait on the link; between `min` and
/// `max`.
pub fn ahead(rate: f64, round_trip: Duration, min: usize, max: usize) -> usize {
    let covered = AHEAD + round_trip.min(MAX_ROUND_TRIP);
    ((rate * covered.as_secs_f64()) as usize).clamp(min, max.max(min))
}

/// The longest round trip [`ahead`] covers: beyond it a sample is more
/// likely a stall than a link.
pub const MAX_ROUND_TRIP: Duration = Duration::from_secs(1);

/// A link's round trip: the least sample of the last two windows, so a
/// sample inflated by queueing or a held request is forgotten within two
/// windows, and a longer link shows within one.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundTrip {
    current: Option<Duration>,
    previous: Option<Duration>,
    since: Option<Instant>,
}

impl RoundTrip {
    const WINDOW: Duration = Duration::from_secs(2);

    pub fn sample(&mut self, round_trip: Duration) {
        let now = Instant::now();
        if self
            .since
            .is_none_or(|s| now.duration_since(s) >= Self::WINDOW)
        {
            self.previous = self.current.take();
            self.since = Some(now);
        }
        self.current = Some(self.current.map_or(round_trip, |c| c.min(round_trip)));
    }

    /// The estimate; zero before any sample.
    pub fn get(&self) -> Duration {
        match (self.current, self.previous) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tasks_are_held_by_the_hundred_and_slow_ones_at_the_floor() {
        let zero = Duration::ZERO;
        assert_eq!(ahead(50_000.0, zero, 16, MAX_AHEAD), 2500);
        assert_eq!(ahead(1e9, zero, 16, MAX_AHEAD), MAX_AHEAD);
        assert_eq!(
            ahead(20.0, zero, 16, MAX_AHEAD),
            16,
            "200 ms tasks on 4 slots"
        );
        assert_eq!(
            ahead(0.0, zero, 8, 4),
            8,
            "the floor wins over a smaller cap"
        );
    }

    #[test]
    fn a_round_trip_is_covered_as_well() {
        let rtt = Duration::from_millis(40);
        assert_eq!(ahead(10_000.0, rtt, 16, MAX_AHEAD), 900, "90 ms of work");
        let forever = Duration::from_secs(3600);
        assert_eq!(ahead(100.0, forever, 1, MAX_AHEAD), 105, "capped at 1 s");
    }

    #[test]
    fn a_round_trip_is_the_least_recent_sample() {
        let mut rtt = RoundTrip::default();
        assert_eq!(rtt.get(), Duration::ZERO);
        rtt.sample(Duration::from_millis(45));
        rtt.sample(Duration::from_millis(41));
        rtt.sample(Duration::from_millis(300));
        assert_eq!(rtt.get(), Duration::from_millis(41));
    }

    #[test]
    fn a_rate_is_sampled_no_more_often_than_asked() {
        let mut r = Rate::default();
        assert_eq!(r.sample(100, Duration::from_secs(60)), None);
        std::thread::sleep(Duration::from_millis(20));
        let rate = r.sample(100, Duration::from_millis(10)).expect("a sample");
        assert!(rate > 100.0 && rate <= 5000.0, "{rate}");
        assert_eq!(
            r.sample(100, Duration::from_millis(10)),
            None,
            "just sampled"
        );
    }
}

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

/// Tasks to hold beyond the slots at `rate` completions per second: AHEAD
/// worth of work, between `min` and `max`.
pub fn ahead(rate: f64, min: usize, max: usize) -> usize {
    ((rate * AHEAD.as_secs_f64()) as usize).clamp(min, max.max(min))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tasks_are_held_by_the_hundred_and_slow_ones_at_the_floor() {
        assert_eq!(ahead(50_000.0, 16, MAX_AHEAD), 2500);
        assert_eq!(ahead(1e9, 16, MAX_AHEAD), MAX_AHEAD);
        assert_eq!(ahead(20.0, 16, MAX_AHEAD), 16, "200 ms tasks on 4 slots");
        assert_eq!(ahead(0.0, 8, 4), 8, "the floor wins over a smaller cap");
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

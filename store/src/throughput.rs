//! Each second's counts for `GET /stats`: tasks submitted, completed and
//! failed, and ended tasks by end-to-end latency. Redis keeps them in a
//! hash per second (`faas:stats:{second}`, expiring after
//! `STATS_RETENTION_SECONDS`), written by the scripts that submit and end
//! tasks; the embedded store in a [`Throughput`].

use faas_contract::{latency_bucket, SecondStats, STATS_RETENTION_SECONDS};
use std::collections::VecDeque;

/// The seconds a window of `seconds` ending at `now_ms` covers: the
/// current second and those before it, at most the retention.
pub(crate) fn window(now_ms: u64, seconds: u64) -> std::ops::RangeInclusive<u64> {
    let now = now_ms / 1000;
    let seconds = seconds.clamp(1, STATS_RETENTION_SECONDS);
    now + 1 - seconds.min(now + 1)..=now
}

/// The last `STATS_RETENTION_SECONDS` of counts, in memory.
#[derive(Debug, Default)]
pub(crate) struct Throughput {
    /// Oldest first; a second appears once something happened in it.
    seconds: VecDeque<SecondStats>,
}

impl Throughput {
    pub(crate) fn submitted(&mut self, now_ms: u64, n: u64) {
        self.at(now_ms).submitted += n;
    }

    /// A task ended; its latency counts if it ended by running.
    pub(crate) fn ended(&mut self, now_ms: u64, failed: bool, latency_ms: Option<u64>) {
        let second = self.at(now_ms);
        if failed {
            second.failed += 1;
        } else {
            second.completed += 1;
        }
        if let Some(latency) = latency_ms {
            second.latency_counts[latency_bucket(latency)] += 1;
        }
    }

    /// The counts of `second` (now), created if need be; seconds past
    /// the retention are dropped. A clock stepping back counts into the
    /// latest second held.
    fn at(&mut self, now_ms: u64) -> &mut SecondStats {
        let second = now_ms / 1000;
        let oldest = second.saturating_sub(STATS_RETENTION_SECONDS);
        while self.seconds.front().is_some_and(|s| s.second < oldest) {
            self.seconds.pop_front();
        }
        if self.seconds.back().is_none_or(|s| s.second < second) {
            self.seconds.push_back(SecondStats::new(second));
        }
        self.seconds.back_mut().expect("just pushed")
    }

    /// The window's seconds, oldest first, quiet ones as zeros.
    pub(crate) fn last(&self, now_ms: u64, seconds: u64) -> Vec<SecondStats> {
        let mut held = self.seconds.iter().peekable();
        window(now_ms, seconds)
            .map(|second| {
                while held.next_if(|s| s.second < second).is_some() {}
                held.next_if(|s| s.second == second)
                    .cloned()
                    .unwrap_or_else(|| SecondStats::new(second))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faas_contract::LATENCY_BUCKETS;

    #[test]
    fn a_window_ends_at_the_current_second_and_fills_quiet_ones() {
        let mut t = Throughput::default();
        t.submitted(10_500, 3);
        t.ended(12_100, false, Some(4));
        t.ended(12_900, true, Some(70_000));
        t.ended(12_900, true, None);
        let got = t.last(13_000, 4);
        assert_eq!(
            got.iter().map(|s| s.second).collect::<Vec<_>>(),
            [10, 11, 12, 13]
        );
        assert_eq!(got[0].submitted, 3);
        assert_eq!((got[2].completed, got[2].failed), (1, 2));
        assert_eq!(got[2].latency_counts[latency_bucket(4)], 1);
        assert_eq!(got[2].latency_counts[LATENCY_BUCKETS - 1], 1);
        assert_eq!(got[3], SecondStats::new(13));
    }

    #[test]
    fn seconds_past_the_retention_are_dropped() {
        let mut t = Throughput::default();
        t.submitted(1_000, 1);
        t.submitted((2 + STATS_RETENTION_SECONDS) * 1000, 1);
        assert_eq!(t.seconds.len(), 1);
        assert_eq!(window(5_000, 100), 0..=5);
    }
}

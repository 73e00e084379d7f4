//! `GET /stats`: what the whole platform did, second by second, over the
//! last minutes (counted by the store, so every server and dispatcher on
//! it is included), and what it holds now. The dashboard at `/ui` and
//! `faas top` draw from it.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Upper bounds, in ms, of the end-to-end latency buckets (submission to
/// final state); one more bucket counts everything slower.
pub const LATENCY_BOUNDS_MS: [u64; 15] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000,
];

/// How many latency buckets a second has: the bounds and the overflow.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// How long the store keeps each second's counts.
pub const STATS_RETENTION_SECONDS: u64 = 900;

/// The bucket a latency falls in.
pub fn latency_bucket(latency_ms: u64) -> usize {
    LATENCY_BOUNDS_MS.partition_point(|&bound| bound < latency_ms)
}

/// The latency at quantile `q` (0..=1) of bucket counts, in ms,
/// interpolated within its bucket; None with no tasks counted. The
/// overflow bucket reads as its lower bound.
pub fn latency_quantile(counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
    let mut seen = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if (seen + n) as f64 >= rank {
            let low = if i == 0 { 0 } else { LATENCY_BOUNDS_MS[i - 1] } as f64;
            let Some(&high) = LATENCY_BOUNDS_MS.get(i) else {
                return Some(low);
            };
            let within = (rank - seen as f64) / n as f64;
            return Some(low + within * (high as f64 - low));
        }
        seen += n;
    }
    None
}

/// `GET /stats` parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// How many of the last seconds to return (default 300, at most 900).
    pub seconds: Option<u64>,
}

/// One second of the platform's work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecondStats {
    /// The second, since the Unix epoch.
    pub second: u64,
    /// Tasks accepted.
    pub submitted: u64,
    /// Tasks that reached COMPLETED.
    pub completed: u64,
    /// Tasks that reached FAILED (cancelled and lost ones included).
    pub failed: u64,
    /// Tasks that ended by running (not cancelled or lost), by end-to-end
    /// latency (submission to final state): one count per bucket of
    /// `latency_bounds_ms`, and the last for anything slower.
    pub latency_counts: Vec<u64>,
}

impl SecondStats {
    pub fn new(second: u64) -> Self {
        SecondStats {
            second,
            latency_counts: vec![0; LATENCY_BUCKETS],
            ..SecondStats::default()
        }
    }

    /// Adds `other`'s counts (of the same second) to these.
    pub fn add(&mut self, other: &SecondStats) {
        self.submitted += other.submitted;
        self.completed += other.completed;
        self.failed += other.failed;
        for (count, more) in self.latency_counts.iter_mut().zip(&other.latency_counts) {
            *count += more;
        }
    }
}

/// `GET /stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    /// The server's clock when it answered, ms since the Unix epoch.
    pub now_ms: u64,
    /// Tasks waiting in the queue.
    pub queued: u64,
    /// Tasks a dispatcher has claimed and not finished.
    pub running: u64,
    /// The latency buckets' upper bounds, in ms.
    pub latency_bounds_ms: Vec<u64>,
    /// The seconds asked for, oldest first, up to and including the
    /// current (still counting) one; seconds with no work are included,
    /// with zeros.
    pub seconds: Vec<SecondStats>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_upper_bound() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1), 0);
        assert_eq!(latency_bucket(2), 1);
        assert_eq!(latency_bucket(3), 2);
        assert_eq!(latency_bucket(60_000), 14);
        assert_eq!(latency_bucket(60_001), 15);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let mut counts = vec![0; LATENCY_BUCKETS];
        assert_eq!(latency_quantile(&counts, 0.5), None);
        counts[latency_bucket(7)] = 100; // 5..10 ms
        assert_eq!(latency_quantile(&counts, 0.5), Some(7.5));
        assert_eq!(latency_quantile(&counts, 1.0), Some(10.0));
        counts[LATENCY_BUCKETS - 1] = 100;
        assert_eq!(latency_quantile(&counts, 0.99), Some(60_000.0));
    }
}

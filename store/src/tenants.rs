//! Tenants' quotas: the limits a tenant works under (the deployment's
//! defaults, each overridable per tenant by an admin), what it uses, and
//! the error a submission or registration over a limit gets. Both backends
//! check and count atomically with the write they guard, so a batch over a
//! limit stores nothing.

use std::time::Duration;

pub use faas_contract::{LimitOverrides, TenantInfo, TenantLimits};

/// Which limit a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    ActiveTasks,
    SubmitRate,
    ModuleBytes,
    /// The deployment's, not a tenant's: `StoreConfig::max_queue_depth`.
    QueueDepth,
}

impl Limit {
    /// The limit's name, as in [`TenantLimits`]' fields.
    pub fn name(self) -> &'static str {
        match self {
            Limit::ActiveTasks => "max_active_tasks",
            Limit::SubmitRate => "submit_rate",
            Limit::ModuleBytes => "max_module_bytes",
            Limit::QueueDepth => "max_queue_depth",
        }
    }
}

/// A request over one of its tenant's limits: nothing of it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverQuota {
    pub limit: Limit,
    /// What a person reads: the limit, its value and what was asked.
    pub detail: String,
    /// When the same request may succeed (a hint: others may take the room).
    pub retry_after: Duration,
}

impl OverQuota {
    pub(crate) fn queue_full(depth: u64, asked: u64, max: u64) -> Self {
        OverQuota {
            limit: Limit::QueueDepth,
            detail: format!(
                "the task queue is full: it holds {depth} tasks and this request adds {asked}; \
                 its limit is {max} (--max-queue-depth); retry when it has drained"
            ),
            retry_after: Duration::from_secs(1),
        }
    }

    pub(crate) fn active(tenant: &str, active: u64, asked: u64, max: u64) -> Self {
        OverQuota {
            limit: Limit::ActiveTasks,
            detail: format!(
                "tenant {tenant} has {active} tasks queued or running and asked for {asked} more; \
                 its limit max_active_tasks is {max}"
            ),
            retry_after: Duration::from_secs(1),
        }
    }

    pub(crate) fn rate(tenant: &str, asked: u64, limits: &TenantLimits, wait_ms: u64) -> Self {
        let detail = if asked > limits.submit_burst {
            format!(
                "tenant {tenant} may submit at most {} tasks at once (submit_burst) and asked for {asked}; split the batch",
                limits.submit_burst
            )
        } else {
            format!(
                "tenant {tenant} is over its submit_rate of {} tasks per second (submit_burst {})",
                limits.submit_rate, limits.submit_burst
            )
        };
        OverQuota {
            limit: Limit::SubmitRate,
            detail,
            retry_after: Duration::from_millis(wait_ms.max(1)),
        }
    }

    pub(crate) fn module_bytes(tenant: &str, used: u64, asked: u64, max: u64) -> Self {
        OverQuota {
            limit: Limit::ModuleBytes,
            detail: format!(
                "tenant {tenant} has registered {used} module bytes and asked for {asked} more; \
                 its limit max_module_bytes is {max}"
            ),
            retry_after: Duration::from_secs(60),
        }
    }
}

/// A token bucket, refilled at `rate` per second up to `burst`: what the
/// submit-rate limit keeps per tenant (the Redis store keeps the same two
/// numbers in the tenant's hash and does this sum in its submit script).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    pub tokens: f64,
    pub refilled_at_ms: u64,
}

impl Bucket {
    pub fn full(limits: &TenantLimits, now_ms: u64) -> Bucket {
        Bucket {
            tokens: limits.submit_burst as f64,
            refilled_at_ms: now_ms,
        }
    }

    /// Takes `n` tokens, or says how many ms until they would be there.
    pub fn take(&mut self, n: u64, limits: &TenantLimits, now_ms: u64) -> Result<(), u64> {
        if limits.submit_rate == 0 {
            return Ok(());
        }
        let elapsed = now_ms.saturating_sub(self.refilled_at_ms) as f64;
        let tokens = (self.tokens + elapsed * limits.submit_rate as f64 / 1000.0)
            .min(limits.submit_burst as f64);
        self.refilled_at_ms = now_ms;
        self.tokens = tokens;
        let n = n as f64;
        if n > tokens {
            return Err(((n - tokens) * 1000.0 / limits.submit_rate as f64).ceil() as u64);
        }
        self.tokens = tokens - n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_its_burst() {
        let limits = TenantLimits {
            submit_rate: 100,
            submit_burst: 50,
            ..TenantLimits::default()
        };
        let mut bucket = Bucket::full(&limits, 1_000);
        assert_eq!(bucket.take(50, &limits, 1_000), Ok(()));
        // Empty: 10 tokens take 100 ms at 100/s.
        assert_eq!(bucket.take(10, &limits, 1_000), Err(100));
        assert_eq!(bucket.take(10, &limits, 1_100), Ok(()));
        // A long quiet spell fills it to the burst, not beyond.
        assert_eq!(bucket.take(51, &limits, 100_000), Err(10));
        assert_eq!(bucket.take(50, &limits, 100_000), Ok(()));
        let unlimited = TenantLimits {
            submit_rate: 0,
            ..limits
        };
        assert_eq!(bucket.take(1_000_000, &unlimited, 100_000), Ok(()));
    }

    #[test]
    fn overrides_replace_only_what_they_set() {
        let defaults = TenantLimits::default();
        let set = LimitOverrides {
            max_active_tasks: Some(5),
            ..LimitOverrides::default()
        };
        assert_eq!(set.apply(&defaults).max_active_tasks, 5);
        assert_eq!(set.apply(&defaults).submit_rate, defaults.submit_rate);
        let later = set.merge(&LimitOverrides {
            submit_rate: Some(7),
            ..LimitOverrides::default()
        });
        assert_eq!(
            (later.max_active_tasks, later.submit_rate),
            (Some(5), Some(7))
        );
    }
}

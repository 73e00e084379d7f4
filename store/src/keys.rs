//! API keys as stored: only a hash of each key, with the tenant it acts
//! for. And, for the Redis store, the cache of keys a server process has
//! read, which a revocation on any server empties everywhere before it
//! returns (see `RedisStore::revoke_key`).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A stored API key. The key itself is never stored: `hash` is the hex
/// SHA-256 of the whole token, and `id` the public part that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub hash: String,
    pub tenant: String,
    pub admin: bool,
    pub created_at_ms: u64,
    pub last_used_ms: Option<u64>,
}

/// How long a cached key is trusted without a revocation having been
/// seen: a safety net only (revocations empty the cache at once).
const CACHE_FRESH: Duration = Duration::from_secs(60);
/// Most keys cached; past it the cache starts over.
const CACHE_CAP: usize = 100_000;

/// Keys read from Redis, trusted only while the revocation channel's
/// subscription is live (a revocation could be missed otherwise).
#[derive(Default)]
pub(crate) struct KeyCache {
    inner: Mutex<Inner>,
    acked: Notify,
}

#[derive(Default)]
struct Inner {
    live: bool,
    /// Bumped by every revocation and subscription change: a read that
    /// started before one must not fill the cache with what it read.
    generation: u64,
    entries: HashMap<String, (Instant, Option<ApiKey>)>,
    /// Revocations this process waits on: nonce -> acknowledgements seen.
    acks: HashMap<String, usize>,
}

impl KeyCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached key (`Some(None)`: known not to exist), or the
    /// generation to pass to `fill` after reading it.
    pub fn get(&self, id: &str) -> Result<Option<ApiKey>, u64> {
        let inner = self.lock();
        match inner.entries.get(id) {
            Some((at, key)) if inner.live && at.elapsed() < CACHE_FRESH => Ok(key.clone()),
            _ => Err(inner.generation),
        }
    }

    /// Caches what a read that started at `generation` found, unless a
    /// revocation or a subscription change came in between.
    pub fn fill(&self, id: &str, key: Option<ApiKey>, generation: u64) {
        let mut inner = self.lock();
        if !inner.live || inner.generation != generation {
            return;
        }
        if inner.entries.len() >= CACHE_CAP {
            inner.entries.clear();
        }
        inner.entries.insert(id.to_string(), (Instant::now(), key));
    }

    /// The subscription went live (true) or dropped (false): either way
    /// what was cached may be stale.
    pub fn set_live(&self, live: bool) {
        let mut inner = self.lock();
        inner.live = live;
        inner.generation += 1;
        inner.entries.clear();
    }

    /// A key was revoked or stored (here or on another server): what was
    /// cached of it, present or absent, is stale.
    pub fn forget(&self, id: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.remove(id);
    }

    pub fn expect_acks(&self, nonce: &str) {
        self.lock().acks.insert(nonce.to_string(), 0);
    }

    pub fn ack(&self, nonce: &str) {
        if let Some(seen) = self.lock().acks.get_mut(nonce) {
            *seen += 1;
            self.acked.notify_waiters();
        }
    }

    /// Waits until `wanted` acknowledgements of `nonce` came, or `timeout`;
    /// returns how many came.
    pub async fn wait_acks(&self, nonce: &str, wanted: usize, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.acked.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let seen = self.lock().acks.get(nonce).copied().unwrap_or(0);
            if seen >= wanted || tokio::time::Instant::now() >= deadline {
                self.lock().acks.remove(nonce);
                return seen;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> ApiKey {
        ApiKey {
            id: id.into(),
            hash: "h".into(),
            tenant: "t".into(),
            admin: false,
            created_at_ms: 1,
            last_used_ms: None,
        }
    }

    #[test]
    fn the_cache_is_used_only_while_live_and_a_revocation_wins_over_a_slow_read() {
        let cache = KeyCache::default();
        let generation = cache.get("a").unwrap_err();
        cache.fill("a", Some(key("a")), generation);
        assert!(cache.get("a").is_err(), "not live: nothing is cached");
        cache.set_live(true);
        let generation = cache.get("a").unwrap_err();
        cache.fill("a", Some(key("a")), generation);
        assert_eq!(cache.get("a"), Ok(Some(key("a"))));
        // A read starts, the key is revoked, the read ends: not cached.
        cache.forget("a");
        let generation = cache.get("a").unwrap_err();
        cache.forget("a");
        cache.fill("a", Some(key("a")), generation);
        assert!(cache.get("a").is_err());
        // The subscription dropped: nothing cached is trusted.
        let generation = cache.get("b").unwrap_err();
        cache.fill("b", None, generation);
        assert_eq!(cache.get("b"), Ok(None));
        cache.set_live(false);
        assert!(cache.get("b").is_err());
    }

    #[tokio::test]
    async fn a_revocation_waits_for_its_acknowledgements() {
        let cache = std::sync::Arc::new(KeyCache::default());
        cache.expect_acks("n");
        let acker = cache.clone();
        tokio::spawn(async move {
            acker.ack("n");
            acker.ack("n");
        });
        assert_eq!(cache.wait_acks("n", 2, Duration::from_secs(10)).await, 2);
        cache.expect_acks("m");
        assert_eq!(cache.wait_acks("m", 1, Duration::from_millis(10)).await, 0);
    }
}

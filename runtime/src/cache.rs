//! The compiled-module cache: LRU by count, keyed by the SHA-256 of the wasm
//! binary. Concurrent loads of the same bytes wait for one compile.

use crate::load::{CompiledModule, LoadError, ModuleHash};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

type Slot = Arc<OnceLock<Result<Arc<CompiledModule>, LoadError>>>;

pub(crate) struct ModuleCache {
    entries: Mutex<LruCache<ModuleHash, Slot>>,
    hits: AtomicU64,
    compiles: AtomicU64,
}

/// Counters of the module cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Loads served without compiling.
    pub hits: u64,
    /// Compiles performed (each distinct module once while it stays
    /// cached), counting those served from compiled code on disk.
    pub compiles: u64,
    /// Of `compiles`, those that loaded compiled code from disk instead.
    pub from_disk: u64,
    /// Modules held now.
    pub entries: usize,
}

impl ModuleCache {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        ModuleCache {
            entries: Mutex::new(LruCache::new(capacity)),
            hits: AtomicU64::new(0),
            compiles: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<ModuleHash, Slot>> {
        // The map stays consistent even if a holder panicked: every update is
        // a single call on it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns the cached module for `hash`, compiling it with `compile` if
    /// absent. Failed compiles are not kept.
    pub(crate) fn get_or_compile(
        &self,
        hash: ModuleHash,
        compile: impl FnOnce() -> Result<Arc<CompiledModule>, LoadError>,
    ) -> Result<Arc<CompiledModule>, LoadError> {
        let slot = self.lock().get_or_insert(hash, Slot::default).clone();
        let mut compiled_here = false;
        let result = slot
            .get_or_init(|| {
                compiled_here = true;
                self.compiles.fetch_add(1, Ordering::Relaxed);
                compile()
            })
            .clone();
        if !compiled_here {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        if result.is_err() {
            let mut entries = self.lock();
            if entries.peek(&hash).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                entries.pop(&hash);
            }
        }
        result
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            compiles: self.compiles.load(Ordering::Relaxed),
            from_disk: 0,
            entries: self.lock().len(),
        }
    }
}

//! The `Runtime`: one wasmtime `Engine` per process, the WASI linker, the
//! compiled-module cache and the epoch ticker that enforces timeouts.

use crate::cache::{CacheStats, ModuleCache};
use crate::component::ComponentHost;
use crate::config::RuntimeConfig;
use crate::disk::DiskCache;
use crate::host::HostState;
use crate::load::{self, CompiledModule, Function, LoadError};
use std::sync::{Arc, Weak};
use std::thread;
use wasmtime::component;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig,
};

/// A handle to the sandbox. Cheap to clone; all clones share the engine,
/// the linker and the module cache.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    /// WASI 0.2 for components.
    pub(crate) component_linker: component::Linker<ComponentHost>,
    pub(crate) config: RuntimeConfig,
    pub(crate) cache: ModuleCache,
    pub(crate) disk: Option<DiskCache>,
}

/// The runtime could not be set up (a configuration wasmtime rejects, or the
/// pooling allocator could not reserve its address space).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the wasm runtime: {0}")]
pub struct RuntimeError(String);

impl Runtime {
    /// Builds the engine, the linker and the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let engine = new_engine(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, HostState::wasi)
            .map_err(|e| RuntimeError(format!("{e:#}")))?;
        let mut component_linker = component::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut component_linker)
            .map_err(|e| RuntimeError(format!("{e:#}")))?;
        let disk = config
            .compiled_dir
            .as_deref()
            .map(|dir| DiskCache::open(dir, &engine))
            .transpose()
            .map_err(RuntimeError)?;
        let inner = Arc::new(Inner {
            engine,
            linker,
            component_linker,
            cache: ModuleCache::new(config.cache_capacity),
            disk,
            config,
        });
        spawn_epoch_ticker(Arc::downgrade(&inner))?;
        Ok(Runtime { inner })
    }

    /// Validates, compiles (or finds in the cache) and links `bytes`, a wasm
    /// binary or WAT text, then resolves which export a task calls: `entry`
    /// if given, else `_start`, else the export called `name`, else the only
    /// exported function.
    pub fn load(
        &self,
        bytes: &[u8],
        name: &str,
        entry: Option<&str>,
    ) -> Result<Function, LoadError> {
        let module = self.compile(bytes)?;
        load::resolve_entry(module, name, entry)
    }

    /// The wasm binary form of `bytes` (WAT text is parsed), within the
    /// module size cap: what stores keep and hash.
    pub fn binary<'a>(&self, bytes: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, LoadError> {
        load::to_binary(bytes, self.inner.config.max_module_bytes)
    }

    /// Compiles `bytes` (or finds them in the cache) without resolving an
    /// entry.
    pub(crate) fn compile(&self, bytes: &[u8]) -> Result<Arc<CompiledModule>, LoadError> {
        let binary = load::to_binary(bytes, self.inner.config.max_module_bytes)?;
        let hash = load::content_hash(&binary);
        self.inner.cache.get_or_compile(hash, || {
            load::compile(&self.inner, hash, binary.into_owned())
        })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Hits, compiles and entries of the module cache.
    pub fn cache_stats(&self) -> CacheStats {
        let from_disk = self
            .inner
            .disk
            .as_ref()
            .map_or(0, |d| d.loaded.load(std::sync::atomic::Ordering::Relaxed));
        CacheStats {
            from_disk,
            ..self.inner.cache.stats()
        }
    }
}

const MIB: usize = 1024 * 1024;

/// The engine, resetting only written pages between instances where the
/// kernel can say which they are (PAGEMAP_SCAN), else as before.
fn new_engine(config: &RuntimeConfig) -> Result<Engine, RuntimeError> {
    Engine::new(&engine_config(config, true))
        .or_else(|_| Engine::new(&engine_config(config, false)))
        .map_err(|e| RuntimeError(format!("{e:#}")))
}

fn engine_config(config: &RuntimeConfig, scan_dirty_pages: bool) -> Config {
    let mut pool = PoolingAllocationConfig::new();
    let slots = config.max_concurrent_instances.max(1);
    // Room for every slot to run a component (several core instances,
    // each with its memory and tables) as well as a module.
    let per_slot =
        |module: usize, component: usize| slots.saturating_mul(module.max(component).max(1) as u32);
    pool.total_core_instances(per_slot(
        config.max_instances,
        config.max_component_instances,
    ))
    .total_memories(per_slot(config.max_memories, config.max_component_memories))
    .total_tables(per_slot(config.max_tables, config.max_component_tables))
    .total_stacks(slots)
    .total_component_instances(slots)
    .max_memories_per_module(config.max_memories.max(1) as u32)
    .max_tables_per_module(config.max_tables.max(1) as u32)
    .table_elements(config.max_table_elements)
    // The pool must hold any memory32 a module may declare, so that a
    // declaration past the cap fails its task (as "memory limit
    // exceeded") instead of its compile; the limiter enforces the cap.
    .max_memory_size(1 << 32);
    if scan_dirty_pages {
        // Only the pages an instance wrote are reset, by copying them back
        // from the image, and they stay resident and private: the next
        // instance writes them without a copy-on-write fault, whose TLB
        // flush interrupts every other slot's core. A Python component
        // writes a few MiB of its interpreter's heap on every call.
        pool.pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(16 * MIB)
            .table_keep_resident(MIB);
    } else {
        // Without PAGEMAP_SCAN (Linux < 6.7) the first bytes are reset
        // with a memset whatever was written: keep that small.
        pool.pagemap_scan(Enabled::No)
            .linear_memory_keep_resident(64 * 1024)
            .table_keep_resident(16 * 1024);
    }

    let mut cfg = Config::new();
    cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .epoch_interruption(true)
        .max_wasm_stack(config.max_wasm_stack)
        .async_stack_size(config.max_wasm_stack + 1024 * 1024)
        .wasm_memory64(false)
        .memory_init_cow(true)
        .parallel_compilation(true);
    cfg
}

/// Advances the engine's epoch every tick for as long as the runtime lives;
/// a store's deadline is a number of ticks from its start.
fn spawn_epoch_ticker(inner: Weak<Inner>) -> Result<(), RuntimeError> {
    let tick = inner
        .upgrade()
        .map(|i| i.config.epoch_tick)
        .ok_or_else(|| RuntimeError("runtime dropped during start".into()))?;
    thread::Builder::new()
        .name("faas-epoch".into())
        .spawn(move || loop {
            thread::sleep(tick);
            match inner.upgrade() {
                Some(inner) => inner.engine.increment_epoch(),
                None => return,
            }
        })
        .map(drop)
        .map_err(|e| RuntimeError(format!("cannot spawn the epoch ticker: {e}")))
}

//! Per-invocation host state: the WASI context (if the guest uses WASI) and
//! the resource limiter that records which cap a guest ran into.

use crate::config::RuntimeConfig;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::WasiCtxBuilder;

/// What a `Store` carries for one invocation.
pub(crate) struct HostState {
    pub(crate) limiter: Limiter,
    /// Built before the call for guests that import WASI; `None` otherwise.
    pub(crate) wasi: Option<WasiP1Ctx>,
}

impl HostState {
    /// The linker's projection to the WASI context. Guests without WASI
    /// imports never reach it; should one anyway, it gets a context with no
    /// stdio and no authority rather than a panic.
    pub(crate) fn wasi(&mut self) -> &mut WasiP1Ctx {
        self.wasi
            .get_or_insert_with(|| WasiCtxBuilder::new().build_p1())
    }
}

/// A cap the guest hit, kept so the failure can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitHit {
    Memory { desired: usize },
    TableElements { desired: usize },
}

pub(crate) struct Limiter {
    max_memory_bytes: usize,
    max_table_elements: usize,
    max_tables: usize,
    max_memories: usize,
    max_instances: usize,
    pub(crate) hit: Option<LimitHit>,
    /// The largest linear memory granted, in bytes.
    pub(crate) peak_memory_bytes: usize,
}

impl Limiter {
    pub(crate) fn new(config: &RuntimeConfig) -> Self {
        Limiter {
            max_memory_bytes: config.max_memory_bytes,
            max_table_elements: config.max_table_elements,
            max_tables: config.max_tables,
            max_memories: config.max_memories,
            max_instances: config.max_instances,
            hit: None,
            peak_memory_bytes: 0,
        }
    }

    /// The caps of one component invocation (see `RuntimeConfig`).
    pub(crate) fn for_component(config: &RuntimeConfig) -> Self {
        Limiter {
            max_tables: config.max_component_tables,
            max_memories: config.max_component_memories,
            max_instances: config.max_component_instances,
            ..Limiter::new(config)
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            // Trap rather than let memory.grow return -1: a guest growing in
            // a loop must stop here, not spin until its timeout.
            self.hit = Some(LimitHit::Memory { desired });
            wasmtime::bail!("memory limit exceeded");
        }
        self.peak_memory_bytes = self.peak_memory_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            self.hit = Some(LimitHit::TableElements { desired });
            wasmtime::bail!("table limit exceeded");
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        self.max_memories
    }
}

//! Limits and sizes of the sandbox, each with a safe default.

use std::path::PathBuf;
use std::time::Duration;

const MIB: usize = 1024 * 1024;

/// How the runtime is sized and what each invocation may use.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Wall-clock limit of one invocation unless the call gives its own.
    pub default_timeout: Duration,
    /// Cap on a single linear memory, in bytes.
    pub max_memory_bytes: usize,
    /// Cap on the wasm stack, in bytes.
    pub max_wasm_stack: usize,
    /// Cap on the elements of one table.
    pub max_table_elements: usize,
    /// Caps on the tables, memories and instances one invocation may create.
    pub max_tables: usize,
    pub max_memories: usize,
    pub max_instances: usize,
    /// The same caps for one invocation of a component, which is several
    /// core instances (an interpreter component: its own, libc's, the
    /// WASI adapter's, ...), each with its memory and tables.
    pub max_component_instances: usize,
    pub max_component_memories: usize,
    pub max_component_tables: usize,
    /// Cap on what a WASI command may write to stdout, and to stderr.
    pub max_output_bytes: usize,
    /// Most bytes of a guest's log (stderr; stdout too unless stdout is the
    /// result) kept with its task: the last ones.
    pub max_log_bytes: usize,
    /// Largest module accepted, in bytes (WAT text is measured after parsing).
    pub max_module_bytes: usize,
    /// A compile that takes longer is abandoned with an error.
    pub compile_timeout: Duration,
    /// Most modules kept compiled in the cache.
    pub cache_capacity: usize,
    /// Instances that may be alive at once in this process (the size of the
    /// pooling allocator); an executor's slots must not exceed it.
    pub max_concurrent_instances: u32,
    /// How often the epoch advances: the granularity of timeouts.
    pub epoch_tick: Duration,
    /// Where compiled code is kept between processes (a directory only
    /// this user may use; see `disk`). None: nothing is kept.
    pub compiled_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            default_timeout: Duration::from_secs(10),
            max_memory_bytes: 256 * MIB,
            max_wasm_stack: 512 * 1024,
            max_table_elements: 100_000,
            max_tables: 4,
            max_memories: 1,
            max_instances: 1,
            max_component_instances: 32,
            max_component_memories: 8,
            max_component_tables: 32,
            max_output_bytes: MIB,
            max_log_bytes: 64 * 1024,
            // An interpreter component (Python, JavaScript) is 12-20 MB.
            max_module_bytes: 64 * MIB,
            // Compiling an 18 MB Python component takes about 10 s here.
            compile_timeout: Duration::from_secs(60),
            cache_capacity: 256,
            max_concurrent_instances: 128,
            epoch_tick: Duration::from_millis(5),
            compiled_dir: None,
        }
    }
}

//! Loading a module: size cap, WAT to binary, validation, import check,
//! compile with a time cap, linking (`InstancePre`), and resolving which
//! export a task calls and with which convention.

use crate::component::{is_component, world_of, CompiledComponent, World, CLI_RUN, HANDLE};
use crate::disk::DiskCache;
use crate::host::HostState;
use crate::runtime::Inner;
use crate::signature::{Convention, Signature, ValType};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{ExternType, FuncType, InstancePre, Module};

/// SHA-256 of a module's binary form: its identity in caches and stores.
pub type ModuleHash = [u8; 32];

/// WASI preview 1, the only import namespace the sandbox provides.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// Why module bytes cannot become a callable function. Each message tells a
/// user what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("the module is empty")]
    Empty,
    #[error("the module is {size} bytes; the limit is {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("not a WebAssembly module: no \\0asm header, and not WAT text either ({0})")]
    NotWasm(String),
    #[error("invalid WebAssembly module: {0}")]
    Invalid(String),
    #[error("the module imports {module}::{name}, which the sandbox does not provide (only {WASI_MODULE} functions are available)")]
    UnsupportedImport { module: String, name: String },
    #[error("the module declares {count} {what}; the sandbox allows {max}")]
    TooMany {
        what: &'static str,
        count: u32,
        max: usize,
    },
    #[error("cannot link the module: {0}")]
    Link(String),
    #[error("the component is of neither world the platform runs: it exports {}; a function component exports `handle: func(payload: string) -> result<string, string>` (world `faas:function/handler`, see wit/faas-function.wit) or `wasi:cli/run` (world `wasi:cli/command`)", list(.exports))]
    UnsupportedWorld { exports: Vec<String> },
    #[error("cannot tell which function to call: the module exports {}; give `entry`", list(.exports))]
    AmbiguousEntry { exports: Vec<String> },
    #[error("the module has no exported function `{entry}`; it exports {}", list(.exports))]
    EntryNotFound { entry: String, exports: Vec<String> },
    #[error("`{entry}` has signature {signature}, which cannot be called with JSON: {reason}")]
    UnsupportedSignature {
        entry: String,
        signature: String,
        reason: String,
    },
    #[error("compiling the module took longer than {0:?}; it is too complex")]
    CompileTimeout(Duration),
    #[error("cannot compile the module: {0}")]
    Compile(String),
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "no functions".to_string()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Linked code ready to instantiate: a core module or a component.
pub(crate) enum Code {
    Core(InstancePre<HostState>),
    Component(CompiledComponent),
}

/// A compiled, linked module or component: shared by every function and
/// invocation that uses the same bytes.
pub(crate) struct CompiledModule {
    pub(crate) hash: ModuleHash,
    pub(crate) code: Code,
    /// Exported functions, in export order.
    pub(crate) exports: Vec<(String, FuncType)>,
    pub(crate) imports_wasi: bool,
    /// The largest initial memory any defined memory asks for, in bytes.
    pub(crate) initial_memory_bytes: u64,
    /// A WASI reactor's `_initialize`, run before a typed entry.
    pub(crate) has_initialize: bool,
    pub(crate) binary_len: usize,
}

/// A module plus the export a task calls: what a task runs.
#[derive(Clone)]
pub struct Function {
    pub(crate) module: Arc<CompiledModule>,
    pub(crate) entry: String,
    pub(crate) convention: Convention,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("hash", &self.hash_hex())
            .field("entry", &self.entry)
            .field("convention", &self.convention)
            .finish()
    }
}

impl Function {
    /// The export a task calls.
    pub fn entry(&self) -> &str {
        &self.entry
    }

    pub fn convention(&self) -> &Convention {
        &self.convention
    }

    /// Hex SHA-256 of the module binary.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.module.hash)
    }

    /// Names of all exported functions.
    pub fn exports(&self) -> Vec<String> {
        self.module.exports.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Size of the module binary in bytes.
    pub fn module_len(&self) -> usize {
        self.module.binary_len
    }

    /// Checks a JSON payload against this function's convention.
    pub fn parse_args(
        &self,
        payload: &serde_json::Value,
    ) -> Result<crate::signature::Args, crate::signature::ArgError> {
        self.convention.parse_args(payload)
    }
}

/// Checks the size cap and turns WAT text into a binary.
pub(crate) fn to_binary(bytes: &[u8], max: usize) -> Result<Cow<'_, [u8]>, LoadError> {
    if bytes.is_empty() {
        return Err(LoadError::Empty);
    }
    if bytes.len() > max {
        return Err(LoadError::TooLarge {
            size: bytes.len(),
            max,
        });
    }
    if bytes.starts_with(b"\0asm") {
        return Ok(Cow::Borrowed(bytes));
    }
    let binary =
        wat::parse_bytes(bytes).map_err(|e| LoadError::NotWasm(first_line(&e.to_string())))?;
    if binary.len() > max {
        return Err(LoadError::TooLarge {
            size: binary.len(),
            max,
        });
    }
    Ok(Cow::Owned(binary.into_owned()))
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

pub(crate) fn content_hash(binary: &[u8]) -> ModuleHash {
    Sha256::digest(binary).into()
}

/// Compiled code from the disk cache, else compiled by `compile` (under
/// the compile cap) and kept there; logged either way.
fn compiled<T: Send + 'static>(
    inner: &Inner,
    hash: ModuleHash,
    binary_len: usize,
    from_disk: impl FnOnce(&DiskCache) -> Option<T>,
    compile: impl FnOnce() -> Result<T, LoadError>,
    serialize: impl FnOnce(&T) -> wasmtime::Result<Vec<u8>>,
) -> Result<T, LoadError> {
    let started = std::time::Instant::now();
    let took_ms = || started.elapsed().as_millis() as u64;
    // Validated and compiled by an earlier load.
    if let Some(code) = inner.disk.as_ref().and_then(from_disk) {
        tracing::info!(
            module = %hex::encode(hash),
            bytes = binary_len,
            took_ms = took_ms(),
            "loaded a module's compiled code from disk"
        );
        return Ok(code);
    }
    let code = compile()?;
    tracing::info!(
        module = %hex::encode(hash),
        bytes = binary_len,
        took_ms = took_ms(),
        "compiled a module"
    );
    if let Some(disk) = &inner.disk {
        disk.store(&hash, serialize(&code));
    }
    Ok(code)
}

/// Validates, compiles (under the compile cap) and links a binary.
pub(crate) fn compile(
    inner: &Inner,
    hash: ModuleHash,
    binary: Vec<u8>,
) -> Result<Arc<CompiledModule>, LoadError> {
    let binary_len = binary.len();
    if is_component(&binary) {
        return compile_component(inner, hash, binary);
    }
    let engine = inner.engine.clone();
    let timeout = inner.config.compile_timeout;
    let module = compiled(
        inner,
        hash,
        binary_len,
        |disk| disk.load_module(&inner.engine, &hash),
        || {
            Module::validate(&engine, &binary).map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
            compile_with_deadline(timeout, move || Module::new(&engine, &binary))
        },
        Module::serialize,
    )?;

    let mut imports_wasi = false;
    for import in module.imports() {
        let is_wasi_func =
            import.module() == WASI_MODULE && matches!(import.ty(), ExternType::Func(_));
        if !is_wasi_func {
            return Err(LoadError::UnsupportedImport {
                module: import.module().to_string(),
                name: import.name().to_string(),
            });
        }
        imports_wasi = true;
    }

    let resources = module.resources_required();
    let config = &inner.config;
    if resources.num_memories as usize > config.max_memories {
        return Err(LoadError::TooMany {
            what: "memories",
            count: resources.num_memories,
            max: config.max_memories,
        });
    }
    if resources.num_tables as usize > config.max_tables {
        return Err(LoadError::TooMany {
            what: "tables",
            count: resources.num_tables,
            max: config.max_tables,
        });
    }

    let pre = Code::Core(
        inner
            .linker
            .instantiate_pre(&module)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?,
    );
    let exports: Vec<(String, FuncType)> = module
        .exports()
        .filter_map(|export| match export.ty() {
            ExternType::Func(ty) => Some((export.name().to_string(), ty)),
            _ => None,
        })
        .collect();
    let has_initialize = exports.iter().any(|(name, _)| name == "_initialize");
    Ok(Arc::new(CompiledModule {
        hash,
        code: pre,
        exports,
        imports_wasi,
        initial_memory_bytes: resources
            .max_initial_memory_size
            .unwrap_or(0)
            .saturating_mul(WASM_PAGE),
        has_initialize,
        binary_len,
    }))
}

/// Validates, compiles (under the compile cap) and links a component,
/// and finds its world.
fn compile_component(
    inner: &Inner,
    hash: ModuleHash,
    binary: Vec<u8>,
) -> Result<Arc<CompiledModule>, LoadError> {
    let binary_len = binary.len();
    let engine = inner.engine.clone();
    let timeout = inner.config.compile_timeout;
    let component = compiled(
        inner,
        hash,
        binary_len,
        |disk| disk.load_component(&inner.engine, &hash),
        || compile_with_deadline(timeout, move || Component::new(&engine, &binary)),
        Component::serialize,
    )?;
    let world = world_of(&inner.engine, &component)?;
    let pre = inner
        .component_linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::Link(format!("{e:#}")))?;
    Ok(Arc::new(CompiledModule {
        hash,
        code: Code::Component(CompiledComponent { pre, world }),
        exports: Vec::new(),
        imports_wasi: true,
        initial_memory_bytes: 0,
        has_initialize: false,
        binary_len,
    }))
}

const WASM_PAGE: u64 = 64 * 1024;

/// Compiles on a helper thread and stops waiting after `timeout`. Cranelift
/// cannot be cancelled, so an abandoned compile runs to its end in the
/// background; compiles are serialized so such stragglers cannot pile up.
fn compile_with_deadline<T: Send + 'static>(
    timeout: Duration,
    compile: impl FnOnce() -> wasmtime::Result<T> + Send + 'static,
) -> Result<T, LoadError> {
    static COMPILE_SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let slots = COMPILE_SLOTS.get_or_init(|| Semaphore::new(2));
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("faas-compile".into())
        .spawn(move || {
            let _permit = slots.acquire();
            let _ = tx.send(compile());
        })
        .map_err(|e| LoadError::Compile(format!("cannot spawn a compile thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(module)) => Ok(module),
        Ok(Err(e)) => Err(LoadError::Compile(format!("{e:#}"))),
        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
            Err(LoadError::CompileTimeout(timeout))
        }
        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
            Err(LoadError::Compile("the compiler thread panicked".into()))
        }
    }
}

/// A counting semaphore for the few places that need one off an async runtime.
struct Semaphore {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Permit<'a>(&'a Semaphore);

impl Semaphore {
    fn new(permits: usize) -> Self {
        Semaphore {
            free: Mutex::new(permits),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// Picks the export a task calls (see `Runtime::load`) and its convention.
pub(crate) fn resolve_entry(
    module: Arc<CompiledModule>,
    name: &str,
    entry: Option<&str>,
) -> Result<Function, LoadError> {
    if let Code::Component(component) = &module.code {
        let (export, convention) = match component.world {
            World::Handler => (HANDLE, Convention::Handler),
            World::Command => (CLI_RUN, Convention::WasiCommand),
        };
        if let Some(entry) = entry.filter(|e| !export.starts_with(*e)) {
            return Err(LoadError::EntryNotFound {
                entry: entry.to_string(),
                exports: vec![export.to_string()],
            });
        }
        return Ok(Function {
            entry: export.to_string(),
            convention,
            module,
        });
    }
    let names = || {
        module
            .exports
            .iter()
            .map(|(n, _)| n.clone())
            .collect::<Vec<_>>()
    };
    let find = |wanted: &str| module.exports.iter().find(|(n, _)| n == wanted);

    let chosen = match entry {
        Some(entry) => find(entry).ok_or_else(|| LoadError::EntryNotFound {
            entry: entry.to_string(),
            exports: names(),
        })?,
        None => match find("_start").or_else(|| find(name)) {
            Some(found) => found,
            None => {
                let mut candidates = module.exports.iter().filter(|(n, _)| n != "_initialize");
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => only,
                    _ => return Err(LoadError::AmbiguousEntry { exports: names() }),
                }
            }
        },
    };
    let (entry_name, ty) = chosen;
    let signature = signature_of(entry_name, ty)?;
    let convention = if entry_name == "_start" {
        if !signature.params.is_empty() || !signature.results.is_empty() {
            return Err(LoadError::UnsupportedSignature {
                entry: entry_name.clone(),
                signature: signature.to_string(),
                reason: "a WASI command's `_start` takes and returns nothing".into(),
            });
        }
        Convention::WasiCommand
    } else {
        Convention::Typed(signature)
    };
    Ok(Function {
        entry: entry_name.clone(),
        convention,
        module,
    })
}

fn signature_of(entry: &str, ty: &FuncType) -> Result<Signature, LoadError> {
    let convert = |t: wasmtime::ValType| -> Result<ValType, String> {
        match t {
            wasmtime::ValType::I32 => Ok(ValType::I32),
            wasmtime::ValType::I64 => Ok(ValType::I64),
            wasmtime::ValType::F32 => Ok(ValType::F32),
            wasmtime::ValType::F64 => Ok(ValType::F64),
            other => Err(format!(
                "{other} has no JSON form (only i32, i64, f32 and f64 do)"
            )),
        }
    };
    let params: Result<Vec<_>, _> = ty.params().map(convert).collect();
    let results: Result<Vec<_>, _> = ty.results().map(convert).collect();
    match (params, results) {
        (Ok(params), Ok(results)) => Ok(Signature { params, results }),
        (Err(reason), _) | (_, Err(reason)) => Err(LoadError::UnsupportedSignature {
            entry: entry.to_string(),
            signature: ty.to_string(),
            reason,
        }),
    }
}

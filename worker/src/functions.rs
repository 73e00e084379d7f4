//! The worker's functions: a bounded map from function id to a loaded
//! `Function`, and the loader threads that compile module bytes off the I/O
//! thread (a compile may take up to the runtime's compile cap; heartbeats
//! must not wait for it).

use crate::wake::Poster;
use faas_runtime::{Function, LoadError, Runtime};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use uuid::Uuid;

/// Function id -> loaded function, least recently used evicted first.
///
/// Bounded by the runtime's module-cache capacity: a `Function` keeps its
/// compiled module alive, so holding more would defeat the runtime's own
/// bound.
pub struct FunctionCache {
    /// Each function with the module hash the dispatcher announced for it.
    loaded: LruCache<Uuid, (Function, String)>,
}

impl FunctionCache {
    pub fn new(capacity: usize) -> Self {
        FunctionCache {
            loaded: LruCache::new(NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN)),
        }
    }

    /// The function, if loaded from the module with this hash (its content
    /// hash, or the hash the dispatcher announced when it sent it). An
    /// empty `module_hash` matches any module.
    pub fn get(&mut self, id: &Uuid, module_hash: &str) -> Option<Function> {
        self.loaded
            .get(id)
            .filter(|(f, announced)| {
                module_hash.is_empty()
                    || f.hash_hex().eq_ignore_ascii_case(module_hash)
                    || announced.eq_ignore_ascii_case(module_hash)
            })
            .map(|(f, _)| f.clone())
    }

    pub fn insert(&mut self, id: Uuid, function: Function, announced: String) {
        self.loaded.put(id, (function, announced));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.loaded.len()
    }
}

/// Module bytes to compile for a function.
pub struct LoadJob {
    pub function_id: Uuid,
    pub name: String,
    pub entry: String,
    pub module: Vec<u8>,
}

/// A finished load.
pub struct Loaded {
    pub function_id: Uuid,
    pub result: Result<Function, String>,
}

/// Starts `threads` loader threads; they exit when the returned sender is
/// dropped and their current load is done.
pub fn spawn_loaders<E>(
    runtime: Runtime,
    threads: usize,
    done: Poster<E>,
    wrap: fn(Loaded) -> E,
) -> std::io::Result<crossbeam_channel::Sender<LoadJob>>
where
    E: Send + 'static,
{
    let (tx, rx) = crossbeam_channel::unbounded::<LoadJob>();
    for i in 0..threads.max(1) {
        let (runtime, rx, done) = (runtime.clone(), rx.clone(), done.clone());
        std::thread::Builder::new()
            .name(format!("faas-loader-{i}"))
            .spawn(move || {
                for job in rx {
                    let loaded = Loaded {
                        function_id: job.function_id,
                        result: load(&runtime, &job),
                    };
                    if !done.post(wrap(loaded)) {
                        return;
                    }
                }
            })?;
    }
    Ok(tx)
}

fn load(runtime: &Runtime, job: &LoadJob) -> Result<Function, String> {
    let entry = Some(job.entry.as_str()).filter(|e| !e.is_empty());
    match catch_unwind(AssertUnwindSafe(|| {
        runtime.load(&job.module, &job.name, entry)
    })) {
        Ok(Ok(function)) => Ok(function),
        Ok(Err(e)) => Err(load_message(job.function_id, &e)),
        Err(_) => Err(format!("loading function {} panicked", job.function_id)),
    }
}

fn load_message(id: Uuid, e: &LoadError) -> String {
    format!("cannot load function {id}: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use faas_runtime::RuntimeConfig;

    const ADD: &str = r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;
    const ONE: &str = r#"(module (func (export "one") (result i32) i32.const 1))"#;

    fn runtime() -> Runtime {
        Runtime::new(RuntimeConfig {
            max_concurrent_instances: 2,
            ..RuntimeConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn the_cache_is_bounded_and_checks_the_module_hash() {
        let rt = runtime();
        let add = rt.load(ADD.as_bytes(), "add", None).unwrap();
        let one = rt.load(ONE.as_bytes(), "one", None).unwrap();
        let mut cache = FunctionCache::new(1);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        cache.insert(a, add.clone(), String::new());
        assert!(cache.get(&a, "").is_some());
        assert!(cache.get(&a, &add.hash_hex()).is_some());
        assert!(cache.get(&a, &add.hash_hex().to_uppercase()).is_some());
        assert!(
            cache.get(&a, &one.hash_hex()).is_none(),
            "a different module is not this function"
        );
        cache.insert(b, one, "announced".into());
        assert!(cache.get(&b, "ANNOUNCED").is_some());
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&a, "").is_none());
        assert!(cache.get(&b, "").is_some());
    }

    #[test]
    fn loaders_report_functions_and_errors() {
        let (mailbox, poster) = crate::wake::Mailbox::<Loaded>::new().unwrap();
        let jobs = spawn_loaders(runtime(), 1, poster, |l| l).unwrap();
        let (good, bad, no_entry) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let job = |id, module: &str, entry: &str| LoadJob {
            function_id: id,
            name: "add".into(),
            entry: entry.into(),
            module: module.as_bytes().to_vec(),
        };
        jobs.send(job(good, ADD, "add")).unwrap();
        jobs.send(job(bad, "not wasm", "add")).unwrap();
        jobs.send(job(no_entry, ADD, "sub")).unwrap();
        let mut got = Vec::new();
        while got.len() < 3 {
            let mut items = [mailbox.poll_item()];
            zmq::poll(&mut items, 10_000).unwrap();
            assert!(items[0].is_readable(), "loaders did not answer");
            got.extend(mailbox.drain());
        }
        for loaded in got {
            match loaded.function_id {
                id if id == good => assert_eq!(loaded.result.unwrap().entry(), "add"),
                id if id == bad => {
                    let e = loaded.result.unwrap_err();
                    assert!(
                        e.starts_with(&format!(
                            "cannot load function {bad}: not a WebAssembly module"
                        )),
                        "{e}"
                    );
                }
                _ => assert!(loaded
                    .result
                    .unwrap_err()
                    .contains("no exported function `sub`")),
            }
        }
    }
}

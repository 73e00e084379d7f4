//! The dispatcher's map from function id to a loaded `Function`: fetched
//! from the store and compiled once, then reused for every task.

use faas_runtime::{Function, Runtime};
use faas_store::{Final, FunctionId, FunctionRecord, Store, MISSING_FUNCTION};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most functions kept; past it the map starts over (the runtime's own
/// module cache still holds the compiled code).
const CAPACITY: usize = 1024;

/// Why a function could not be loaded for a task.
pub enum LoadFailure {
    /// The task can never run (the function is gone or does not load).
    Final(Final),
    /// The store could not be read: try the task again later.
    Transient(String),
}

pub struct FunctionCache {
    store: Store,
    runtime: Runtime,
    loaded: Mutex<HashMap<FunctionId, Function>>,
}

impl FunctionCache {
    pub fn new(store: Store, runtime: Runtime) -> Self {
        FunctionCache {
            store,
            runtime,
            loaded: Mutex::default(),
        }
    }

    /// The function if it is loaded already.
    pub fn cached(&self, id: FunctionId) -> Option<Function> {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Drops a deleted function (invocations under way keep theirs).
    pub fn forget(&self, id: FunctionId) {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// The function, or the final state its task should get if it cannot
    /// be loaded.
    pub async fn get(&self, id: FunctionId) -> Result<Function, LoadFailure> {
        if let Some(f) = self.cached(id) {
            return Ok(f);
        }
        let (record, bytes) = fetch(&self.store, id).await?;
        let runtime = self.runtime.clone();
        let (name, entry) = (record.name.clone(), record.entry.clone());
        let loaded =
            tokio::task::spawn_blocking(move || runtime.load(&bytes, &name, Some(&entry))).await;
        let function = match loaded {
            Ok(Ok(function)) => function,
            Ok(Err(e)) => return Err(failed("load", format!("cannot load function {id}: {e}"))),
            Err(e) => {
                return Err(failed(
                    "load",
                    format!("loading function {id} panicked: {e}"),
                ))
            }
        };
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if loaded.len() >= CAPACITY {
            loaded.clear();
        }
        loaded.insert(id, function.clone());
        Ok(function)
    }
}

fn failed(kind: &str, message: String) -> LoadFailure {
    LoadFailure::Final(Final::Failed {
        kind: kind.to_string(),
        message,
    })
}

/// A function's record and module bytes from the store (every mode's
/// caches start here).
pub async fn fetch(
    store: &Store,
    id: FunctionId,
) -> Result<(FunctionRecord, Arc<Vec<u8>>), LoadFailure> {
    let record = match store.function(id).await {
        Ok(Some(record)) => record,
        Ok(None) => return Err(LoadFailure::Final(Final::function_deleted(id))),
        Err(e) => {
            return Err(LoadFailure::Transient(format!(
                "cannot read function {id}: {e}"
            )))
        }
    };
    match store.module(&record.module_hash).await {
        Ok(Some(bytes)) => Ok((record, bytes)),
        Ok(None) => Err(failed(
            MISSING_FUNCTION,
            format!("module of function {id} is missing"),
        )),
        Err(e) => Err(LoadFailure::Transient(format!(
            "cannot read module of function {id}: {e}"
        ))),
    }
}

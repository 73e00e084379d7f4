//! Local mode: claim tasks from the store as slots free up, run them on the
//! runtime's executor, write each outcome back, and keep the leases of
//! running tasks alive.

use crate::functions::{FunctionCache, LoadFailure};
use crate::outcome::to_final;
use faas_runtime::{Executor, Runtime};
use faas_store::{Claim, Final, Store, StoreError, TaskId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Settings of a local dispatcher.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Invocations run at once.
    pub slots: usize,
    /// This dispatcher's name in the store (its consumer name).
    pub consumer: String,
    /// Longest wait for new work in one claim.
    pub claim_block: Duration,
    /// How often running tasks' leases are renewed (well within the lease).
    pub renew_every: Duration,
}

impl LocalConfig {
    pub fn new(slots: usize) -> Self {
        LocalConfig {
            slots: slots.max(1),
            consumer: format!("local-{}", uuid::Uuid::new_v4()),
            claim_block: Duration::from_secs(1),
            renew_every: Duration::from_secs(3),
        }
    }
}

type Running = Arc<Mutex<HashMap<TaskId, Claim>>>;

/// Runs until `shutdown` turns true, then stops claiming and waits for the
/// tasks it holds to finish and be recorded.
pub async fn run_local(
    store: Store,
    runtime: Runtime,
    config: LocalConfig,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let executor = Arc::new(Executor::new(runtime.clone(), config.slots)?);
    let functions = Arc::new(FunctionCache::new(store.clone(), runtime));
    let free = Arc::new(Semaphore::new(config.slots));
    let running: Running = Arc::default();
    let renewer = tokio::spawn(renew_leases(store.clone(), config.clone(), running.clone()));

    while !*shutdown.borrow() {
        // Claim only what free slots can start now, so other dispatchers
        // can take the rest.
        let first = tokio::select! {
            permit = free.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let mut permits = vec![first];
        while let Ok(p) = free.clone().try_acquire_owned() {
            permits.push(p);
        }
        let claims = match store.claim(&config.consumer, permits.len(), config.claim_block).await {
            Ok(claims) => claims,
            Err(e) => {
                tracing::warn!("cannot claim tasks: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        for claim in claims {
            let Some(permit) = permits.pop() else { break };
            running.lock().unwrap_or_else(|e| e.into_inner()).insert(claim.task_id, claim.clone());
            let (store, executor, functions, running) =
                (store.clone(), executor.clone(), functions.clone(), running.clone());
            tokio::spawn(async move {
                match run_one(&executor, &functions, &claim).await {
                    Some(outcome) => record(&store, &claim, &outcome).await,
                    // Not run: hand it back (if the store is still down, its
                    // lease lapses and it is handed out again anyway).
                    None => {
                        let _ = store.release(&claim).await;
                    }
                }
                running.lock().unwrap_or_else(|e| e.into_inner()).remove(&claim.task_id);
                drop(permit);
            });
        }
    }

    tracing::info!("dispatcher stopping: draining tasks in flight");
    let _all_idle = free.acquire_many(config.slots as u32).await;
    renewer.abort();
    tracing::info!("dispatcher stopped");
    Ok(())
}

/// Runs one claimed task; None if it could not be started for a passing
/// reason (the store was unreachable).
async fn run_one(executor: &Executor, functions: &FunctionCache, claim: &Claim) -> Option<Final> {
    let function = match functions.get(claim.function_id).await {
        Ok(function) => function,
        Err(LoadFailure::Final(failure)) => return Some(failure),
        Err(LoadFailure::Transient(why)) => {
            tracing::warn!(task = %claim.task_id, "not running the task now: {why}");
            tokio::time::sleep(Duration::from_millis(500)).await;
            return None;
        }
    };
    let args = match function.parse_args(&claim.payload) {
        Ok(args) => args,
        Err(e) => {
            return Some(Final::Failed {
                kind: "bad_arguments".into(),
                message: e.to_string(),
            })
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let submitted = executor.submit(function, args, None, move |outcome| {
        let _ = tx.send(outcome);
    });
    Some(match submitted {
        Ok(()) => match rx.await {
            Ok(outcome) => to_final(outcome),
            Err(_) => Final::Failed {
                kind: "internal".into(),
                message: "the executor dropped the task".into(),
            },
        },
        Err(e) => Final::Failed {
            kind: "internal".into(),
            message: e.to_string(),
        },
    })
}

/// Writes an outcome, retrying while the store is unreachable: a result is
/// not dropped because Redis blinked. If it never comes back, the lease
/// lapses and the task runs again (at-least-once).
async fn record(store: &Store, claim: &Claim, outcome: &Final) {
    let mut delay = Duration::from_millis(100);
    for _ in 0..60 {
        match store.finish(claim, outcome).await {
            Ok(true) => return,
            Ok(false) => {
                tracing::info!(task = %claim.task_id, "result dropped: the task ended elsewhere or was re-run");
                return;
            }
            Err(StoreError::Corrupt(e)) => {
                tracing::error!(task = %claim.task_id, "cannot record result: {e}");
                return;
            }
            Err(e) => {
                tracing::warn!(task = %claim.task_id, "cannot record result yet: {e}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn renew_leases(store: Store, config: LocalConfig, running: Running) {
    let mut tick = tokio::time::interval(config.renew_every);
    loop {
        tick.tick().await;
        let claims: Vec<Claim> = running.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        if let Err(e) = store.renew(&config.consumer, &claims).await {
            tracing::warn!("cannot renew leases: {e}");
        }
    }
}

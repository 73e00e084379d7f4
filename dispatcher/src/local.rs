//! Local mode: claim tasks from the store as room frees up, run them on the
//! runtime's executor, write outcomes back in batches, and keep the leases
//! of held tasks alive.

use crate::functions::{FunctionCache, LoadFailure};
use crate::outcome::to_final;
use crate::recorder::{Bookkeeping, Done};
use faas_runtime::{Executor, Runtime};
use faas_store::{Claim, Final, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Settings of a local dispatcher.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Invocations run at once.
    pub slots: usize,
    /// Tasks claimed beyond the free slots, so a slot never waits on a
    /// store round trip. Kept small so other dispatchers get their share.
    pub prefetch: usize,
    /// This dispatcher's name in the store (its consumer name).
    pub consumer: String,
    /// Longest wait for new work in one claim.
    pub claim_block: Duration,
    /// How often held tasks' leases are renewed (well within the lease).
    pub renew_every: Duration,
}

impl LocalConfig {
    pub fn new(slots: usize) -> Self {
        LocalConfig {
            slots: slots.max(1),
            prefetch: 16,
            consumer: format!("local-{}", uuid::Uuid::new_v4()),
            claim_block: Duration::from_secs(1),
            renew_every: Duration::from_secs(3),
        }
    }
}


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
    let window = config.slots + config.prefetch;
    let room = Arc::new(Semaphore::new(window));
    let Bookkeeping {
        held,
        done: done_tx,
        recorder,
        renewer,
    } = Bookkeeping::start(&store, &config.consumer, config.renew_every);

    while !*shutdown.borrow() {
        let first = tokio::select! {
            permit = room.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let mut permits = vec![first];
        while let Ok(p) = room.clone().try_acquire_owned() {
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
            held.insert(claim.clone());
            let (executor, functions, done_tx) = (executor.clone(), functions.clone(), done_tx.clone());
            tokio::spawn(async move {
                let outcome = run_one(&executor, &functions, &claim).await;
                let _ = done_tx.send(Done {
                    claim,
                    outcome,
                    room: Some(permit),
                });
            });
        }
    }

    tracing::info!("dispatcher stopping: draining tasks in flight");
    drop(done_tx);
    let _all_recorded = room.acquire_many(window as u32).await;
    let _ = recorder.await;
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
    let internal = |message: String| Final::Failed {
        kind: "internal".into(),
        message,
    };
    Some(match submitted {
        Ok(()) => match rx.await {
            Ok(outcome) => to_final(outcome),
            Err(_) => internal("the executor dropped the task".into()),
        },
        Err(e) => internal(e.to_string()),
    })
}

//! A client program on the Rust `Client`: deploys `examples/fib.wat`,
//! submits N invocations at once (a bounded number in flight), and gathers
//! their results in order.
//!
//! Run, with a platform up (`faas up`):
//! `cargo run --release -p faas-sdk --example many_tasks -- [URL] [N]`
//! (defaults: http://127.0.0.1:8000, 1000). Prints one summary line and
//! exits non-zero if any result is wrong.

use anyhow::{bail, Context};
use faas_sdk::client::{Client, ClientOptions, TaskStatus};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Requests in flight at once.
const IN_FLIGHT: usize = 32;

fn fib(n: u64) -> u64 {
    (0..n).fold((0, 1), |(a, b), _| (b, a + b)).0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8000".into());
    let n: u64 = match args.next() {
        Some(n) => n.parse().context("N must be a number")?,
        None => 1000,
    };
    // The key: FAAS_TOKEN, or the one saved for this server's URL.
    let token = std::env::var("FAAS_TOKEN")
        .ok()
        .or_else(|| faas_sdk::credentials::token_for(&url));
    let client = Client::with_options(
        &url,
        &ClientOptions {
            token,
            ..ClientOptions::default()
        },
    )?;
    let module = include_bytes!("../../examples/fib.wat");
    let function = client.register_function("fib", module, None).await?;

    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (client, gate) = (client.clone(), gate.clone());
            tokio::spawn(async move {
                let _turn = gate.acquire_owned().await?;
                let task = client.execute_function(function, &json!([i % 30])).await?;
                let done = client.wait_result(task, Duration::from_secs(60)).await?;
                anyhow::Ok(done)
            })
        })
        .collect();
    let mut wrong = 0;
    for (i, handle) in (0..n).zip(handles) {
        let done = handle.await??;
        if done.status != TaskStatus::Completed || done.result != json!(fib(i % 30)) {
            eprintln!(
                "task {i} ({}): {:?} {}",
                done.task_id, done.status, done.result
            );
            wrong += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{n} tasks in {elapsed:.2} s ({:.0} tasks/s), {wrong} wrong",
        n as f64 / elapsed
    );
    if wrong > 0 {
        bail!("{wrong} results were wrong");
    }
    Ok(())
}

//! A client program on faas-client: deploys `examples/fib.wat`, maps it
//! over N inputs (batched submissions, results streamed back in order) and
//! checks every result.
//!
//! Run, with a platform up (`faas up`):
//! `cargo run --release -p faas-client --example many_tasks -- [N]`
//! (default 10,000). The server and key are found as the `faas` command
//! finds them: `FAAS_URL`, `FAAS_TOKEN`, the credentials file.

use anyhow::{bail, Context};
use faas_client::{Client, TaskStatus};
use serde_json::json;
use std::time::Instant;

fn fib(n: u64) -> u64 {
    (0..n).fold((0, 1), |(a, b), _| (b, a + b)).0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse().context("N must be a number")?,
        None => 10_000,
    };
    let client = Client::from_env()?;
    let module = include_bytes!("../../examples/fib.wat");
    let function = client.register_function("fib", module, None).await?;

    let started = Instant::now();
    let mut results = client.map(function, (0..n).map(|i| json!([i % 30])));
    let (mut i, mut wrong) = (0, 0);
    while let Some(done) = results.next().await {
        let done = done?;
        if done.status != TaskStatus::Completed || done.result != json!(fib(i % 30)) {
            eprintln!(
                "task {i} ({}): {} {}",
                done.task_id, done.status, done.result
            );
            wrong += 1;
        }
        i += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{i} tasks in {elapsed:.2} s ({:.0} tasks/s), {wrong} wrong",
        i as f64 / elapsed
    );
    if i != n || wrong > 0 {
        bail!("{wrong} of {i} results were wrong (expected {n})");
    }
    Ok(())
}

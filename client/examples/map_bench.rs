//! No-op tasks through `Client::map` in one process: tasks/s, the Rust
//! twin of `scripts/bench-python-client.py` (`scripts/bench-clients.sh`
//! runs both against one `faas up`).
//!
//! `cargo run --release -p faas-client --example map_bench -- [N] [ROUNDS] [BATCH] [IN_FLIGHT]`
//! (defaults: 200,000 tasks, 3 rounds, and `MapOptions::default()`); the
//! server and key as the `faas` command finds them.

use anyhow::{bail, Context};
use faas_client::{Client, MapOptions, TaskStatus};
use serde_json::json;
use std::time::Instant;

const NOOP_WAT: &[u8] = br#"(module (func (export "noop")))"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arg = |i: usize, default: usize| -> anyhow::Result<usize> {
        match std::env::args().nth(i) {
            Some(text) => text
                .parse()
                .with_context(|| format!("argument {i} must be a number")),
            None => Ok(default),
        }
    };
    let defaults = MapOptions::default();
    let (n, rounds) = (arg(1, 200_000)?, arg(2, 3)?);
    let options = MapOptions {
        batch: arg(3, defaults.batch)?,
        in_flight: arg(4, defaults.in_flight)?,
        ..defaults
    };
    let client = Client::from_env()?;
    let noop = client.register_function("noop", NOOP_WAT, None).await?;
    run(&client, noop, n.min(20_000), options).await?; // warm-up: connections, compiled module
    let mut rates = Vec::new();
    for round in 1..=rounds {
        let started = Instant::now();
        run(&client, noop, n, options).await?;
        let elapsed = started.elapsed().as_secs_f64();
        let rate = n as f64 / elapsed;
        rates.push(rate);
        println!("round {round}: {n} no-op tasks in {elapsed:.2} s: {rate:.0} tasks/s");
    }
    rates.sort_by(f64::total_cmp);
    if let Some(median) = rates.get(rates.len() / 2) {
        println!("median {median:.0} tasks/s over {rounds} rounds ({options:?})");
    }
    Ok(())
}

async fn run(
    client: &Client,
    noop: uuid::Uuid,
    n: usize,
    options: MapOptions,
) -> anyhow::Result<()> {
    let mut results = client.map_with(noop, (0..n).map(|_| json!([])), options);
    let mut done = 0;
    while let Some(result) = results.next().await {
        if result?.status != TaskStatus::Completed {
            bail!("task {done} did not complete");
        }
        done += 1;
    }
    if done != n {
        bail!("{done} results for {n} tasks");
    }
    Ok(())
}

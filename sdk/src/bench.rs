//! `faas bench`: measures a running platform over its public REST API.
//! It starts nothing: point it at a `faas up` (or server + dispatcher) and it
//! deploys its own no-op function, then reports the single-task round trip
//! (submit -> result by long poll, one at a time) and the sustained
//! throughput of many tasks submitted by concurrent clients.

use crate::client::{Client, TaskStatus};
use crate::commands::Connection;
use anyhow::{bail, Context};
use serde_json::json;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The seed implementation's published local-mode throughput (tasks/s).
const SEED_LOCAL_TASKS_PER_S: f64 = 11.0;

const NOOP_WAT: &str = r#"(module (func (export "noop")))"#;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Single-task round trips to time, one after another
    #[arg(long, default_value_t = 1000)]
    pub latency_samples: usize,
    /// Tasks for the throughput run
    #[arg(long, default_value_t = 20_000)]
    pub tasks: usize,
    /// Concurrent HTTP clients for the throughput run
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Throughput runs (the median is reported)
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

/// Percentile of sorted durations, in milliseconds.
fn pct_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.clients == 0 || args.tasks == 0 || args.rounds == 0 {
        bail!("--tasks, --clients and --rounds must be positive");
    }
    let client = Client::new(&args.conn.url)?;
    let wasm = wat::parse_str(NOOP_WAT).context("built-in no-op module")?;
    let function = client.register_function("noop", &wasm, None).await?;
    println!("faas bench against {} (no-op function {function})", client.base_url());

    // Warm up: connections, the dispatcher's function cache.
    run_round(&client, function, 200.min(args.tasks), args.clients).await?;

    let mut times = Vec::with_capacity(args.latency_samples);
    for _ in 0..args.latency_samples {
        let started = Instant::now();
        let task = client.execute_function(function, &json!([])).await?;
        let result = client.result(task, Some(Duration::from_secs(10))).await?;
        if result.status != TaskStatus::Completed {
            bail!("task {task} ended {:?}: {}", result.status, result.result);
        }
        times.push(started.elapsed());
    }
    times.sort();
    if !times.is_empty() {
        println!(
            "round trip (submit -> result, long poll), {} tasks one at a time: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            times.len(),
            pct_ms(&times, 0.5),
            pct_ms(&times, 0.9),
            pct_ms(&times, 0.99),
            pct_ms(&times, 1.0)
        );
    }

    let mut rates = Vec::new();
    for round in 1..=args.rounds {
        let r = run_round(&client, function, args.tasks, args.clients).await?;
        println!(
            "throughput round {round}: {} no-op tasks, {} clients: submitted at {:.0}/s, all completed at {:.0}/s ({:.2} s)",
            args.tasks, args.clients, r.submit_rate, r.completion_rate, r.elapsed.as_secs_f64()
        );
        rates.push(r.completion_rate);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "throughput median: {median:.0} tasks/s = {:.0}x the seed's local mode ({SEED_LOCAL_TASKS_PER_S} tasks/s)",
        median / SEED_LOCAL_TASKS_PER_S
    );
    Ok(ExitCode::SUCCESS)
}

struct Round {
    submit_rate: f64,
    completion_rate: f64,
    elapsed: Duration,
}

/// Submits `tasks` no-op tasks from `clients` concurrent clients, then
/// collects every result with long polls; fails if any task did not complete.
async fn run_round(client: &Client, function: uuid::Uuid, tasks: usize, clients: usize) -> anyhow::Result<Round> {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut submitters = Vec::new();
    for _ in 0..clients {
        let (client, next) = (client.clone(), next.clone());
        submitters.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < tasks {
                ids.push(client.execute_function(function, &json!([])).await?);
            }
            Ok::<_, anyhow::Error>(ids)
        }));
    }
    let mut ids = Vec::with_capacity(tasks);
    for s in submitters {
        ids.extend(s.await.context("submitter")??);
    }
    let submitted = started.elapsed();

    let ids = Arc::new(ids);
    let next = Arc::new(AtomicUsize::new(0));
    let mut collectors = Vec::new();
    for _ in 0..clients {
        let (client, ids, next) = (client.clone(), ids.clone(), next.clone());
        collectors.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&task) = ids.get(i) else { return Ok::<_, anyhow::Error>(()) };
                let result = client.wait_result(task, Duration::from_secs(120)).await?;
                if result.status != TaskStatus::Completed {
                    bail!("task {task} ended {:?}: {}", result.status, result.result);
                }
            }
        }));
    }
    for c in collectors {
        c.await.context("collector")??;
    }
    let elapsed = started.elapsed();
    Ok(Round {
        submit_rate: tasks as f64 / submitted.as_secs_f64(),
        completion_rate: tasks as f64 / elapsed.as_secs_f64(),
        elapsed,
    })
}

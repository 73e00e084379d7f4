//! `faas bench`: measures a running platform over its public REST API.
//! It starts nothing: point it at a `faas up` (or server + dispatcher and
//! workers) and it deploys its own function (no-op, fib or sleep), then
//! reports the single-task round trip (submit -> result by long poll, one
//! at a time) and the sustained throughput of many tasks submitted by
//! concurrent clients. `scripts/bench-modes.sh` runs it across modes;
//! `faas bench plot CSV` draws what it collected (see [`crate::plot`]).

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
const FIB_WAT: &str = include_str!("../../examples/fib.wat");
/// Sleeps for the milliseconds given as decimal stdin (WASI poll_oneoff).
const SLEEP_WAT: &str = include_str!("../../runtime/tests/fixtures/sleep.wat");

/// What each benchmark task runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Workload {
    Noop,
    Fib(u32),
    SleepMs(u64),
}

impl std::str::FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, arg) = s.split_once(':').unwrap_or((s, ""));
        let number = |default: u64| -> Result<u64, String> {
            if arg.is_empty() {
                Ok(default)
            } else {
                arg.parse().map_err(|_| format!("bad number in workload {s:?}"))
            }
        };
        match name {
            "noop" => Ok(Workload::Noop),
            "fib" => Ok(Workload::Fib(number(25)? as u32)),
            "sleep" => Ok(Workload::SleepMs(number(100)?)),
            _ => Err(format!("unknown workload {s:?}: use noop, fib[:N] or sleep[:MS]")),
        }
    }
}

impl Workload {
    fn module(self) -> (&'static str, &'static str) {
        match self {
            Workload::Noop => ("noop", NOOP_WAT),
            Workload::Fib(_) => ("fib", FIB_WAT),
            Workload::SleepMs(_) => ("sleep", SLEEP_WAT),
        }
    }

    fn payload(self) -> serde_json::Value {
        match self {
            Workload::Noop => json!([]),
            Workload::Fib(n) => json!([n]),
            Workload::SleepMs(ms) => json!(ms.to_string()),
        }
    }
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
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
    /// What each task runs: noop, fib[:N] (default 25) or sleep[:MS] (default 100)
    #[arg(long, default_value = "noop")]
    pub workload: Workload,
    /// Print one CSV line (label,workload,tasks,clients,p50_ms,p99_ms,tasks_per_s) at the end
    #[arg(long)]
    pub csv_label: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Draw SVG charts (throughput, latency, weak scaling) from a CSV of
    /// `--csv-label` lines, as scripts/bench-modes.sh writes
    Plot(PlotArgs),
}

#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// The CSV (header label,workload,tasks,clients,p50_ms,p99_ms,tasks_per_s)
    pub csv: std::path::PathBuf,
    /// Directory for the SVG files [default: the CSV's directory]
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// `faas bench plot`: writes the charts and prints their paths.
pub fn plot(args: PlotArgs) -> anyhow::Result<ExitCode> {
    let out = match args.out {
        Some(dir) => dir,
        None => match args.csv.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => ".".into(),
        },
    };
    let report = crate::plot::plot_file(&args.csv, &out)
        .with_context(|| format!("plotting {}", args.csv.display()))?;
    for path in &report.written {
        println!("wrote {}", path.display());
    }
    for note in &report.skipped {
        println!("skipped {note}");
    }
    Ok(ExitCode::SUCCESS)
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
    if let Some(BenchCommand::Plot(plot_args)) = args.command {
        return plot(plot_args);
    }
    if args.clients == 0 || args.tasks == 0 || args.rounds == 0 {
        bail!("--tasks, --clients and --rounds must be positive");
    }
    let client = Client::new(&args.conn.url)?;
    let (name, wat) = args.workload.module();
    let wasm = wat::parse_str(wat).context("built-in module")?;
    let function = client.register_function(name, &wasm, None).await?;
    let payload = args.workload.payload();
    println!(
        "faas bench against {} ({:?} tasks, function {function})",
        client.base_url(),
        args.workload
    );

    // Warm up: connections, the dispatcher's function cache.
    run_round(&client, function, &payload, 50.min(args.tasks), args.clients).await?;

    let mut times = Vec::with_capacity(args.latency_samples);
    for _ in 0..args.latency_samples {
        let started = Instant::now();
        let task = client.execute_function(function, &payload).await?;
        let result = client.wait_result(task, Duration::from_secs(60)).await?;
        if result.status != TaskStatus::Completed {
            bail!("task {task} ended {:?}: {}", result.status, result.result);
        }
        times.push(started.elapsed());
    }
    times.sort();
    let (p50, p99) = (pct_ms(&times, 0.5), pct_ms(&times, 0.99));
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
        let r = run_round(&client, function, &payload, args.tasks, args.clients).await?;
        println!(
            "throughput round {round}: {} tasks, {} clients: submitted at {:.0}/s, all completed at {:.0}/s ({:.3} s)",
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
    if let Some(label) = args.csv_label {
        let workload = format!("{:?}", args.workload).to_lowercase();
        println!("csv,{label},{workload},{},{},{p50:.3},{p99:.3},{median:.0}", args.tasks, args.clients);
    }
    Ok(ExitCode::SUCCESS)
}

struct Round {
    submit_rate: f64,
    completion_rate: f64,
    elapsed: Duration,
}

/// Submits `tasks` no-op tasks from `clients` concurrent clients, then
/// collects every result with long polls; fails if any task did not complete.
async fn run_round(
    client: &Client,
    function: uuid::Uuid,
    payload: &serde_json::Value,
    tasks: usize,
    clients: usize,
) -> anyhow::Result<Round> {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut submitters = Vec::new();
    for _ in 0..clients {
        let (client, next, payload) = (client.clone(), next.clone(), payload.clone());
        submitters.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < tasks {
                ids.push(client.execute_function(function, &payload).await?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        bench: Top,
    }

    #[derive(clap::Subcommand)]
    enum Top {
        Bench(BenchArgs),
    }

    fn parse(args: &[&str]) -> Result<BenchArgs, clap::Error> {
        let Top::Bench(b) = Cli::try_parse_from(["faas", "bench"].iter().chain(args))?.bench;
        Ok(b)
    }

    #[test]
    fn flags_still_run_the_benchmark() {
        let b = parse(&["--tasks", "100", "--workload", "fib:20", "--csv-label", "push-1x2"]).expect("parse");
        assert!(b.command.is_none());
        assert_eq!((b.tasks, b.clients, b.workload), (100, 32, Workload::Fib(20)));
        assert_eq!(b.csv_label.as_deref(), Some("push-1x2"));
    }

    #[test]
    fn plot_is_a_subcommand() {
        let b = parse(&["plot", "bench-out/modes.csv", "--out", "/tmp/charts"]).expect("parse");
        let Some(BenchCommand::Plot(p)) = b.command else { panic!("no plot subcommand") };
        assert_eq!(p.csv, std::path::Path::new("bench-out/modes.csv"));
        assert_eq!(p.out.as_deref(), Some(std::path::Path::new("/tmp/charts")));
        assert!(parse(&["--tasks", "5", "plot", "x.csv"]).is_err(), "bench flags and plot conflict");
    }
}

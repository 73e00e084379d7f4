//! `faas bench`: measures a running platform over its public REST API.
//! It starts nothing: point it at a `faas up` (or server + dispatcher and
//! workers) and it deploys its own function (no-op, fib, sleep or WASI
//! echo), then reports the single-task round trip (submit -> result by long
//! poll, one at a time), the sustained throughput of many tasks (submitted
//! in batches, or one request per task with `--batch 1`), and the CPU the
//! whole machine spent per task. `scripts/bench-modes.sh` runs it across
//! modes; `faas bench plot CSV` draws what it collected (see [`crate::plot`]).

use crate::connection::Connection;
use crate::progress::Progress;
use anyhow::{bail, Context};
use faas_client::{Client, ClientError, TaskStatus};
use faas_contract::{latency_quantile, LATENCY_BUCKETS, STATS_RETENTION_SECONDS};
use serde_json::json;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The seed implementation's published throughput (its performance report),
/// tasks/s, which every figure is set beside.
const SEED_LOCAL_TASKS_PER_S: f64 = 11.0;
const SEED_PUSH_TASKS_PER_S: f64 = 7.0;

/// The columns of a `--csv-label` line (after its `csv,` prefix).
pub const CSV_HEADER: &str =
    "label,workload,tasks,clients,batch,p50_ms,p95_ms,p99_ms,submitted_per_s,tasks_per_s,cpu_us_per_task";

const NOOP_WAT: &str = r#"(module (func (export "noop")))"#;
const FIB_WAT: &str = include_str!("../../examples/fib.wat");
/// Sleeps for the milliseconds given as decimal stdin (WASI poll_oneoff).
const SLEEP_WAT: &str = include_str!("../../runtime/tests/fixtures/sleep.wat");
/// Copies stdin to stdout (WASI fd_read / fd_write).
const ECHO_WAT: &str = include_str!("../../runtime/tests/fixtures/echo.wat");

/// What each benchmark task runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Workload {
    Noop,
    Fib(u32),
    SleepMs(u64),
    /// A WASI command echoing a payload of this many bytes.
    Echo(usize),
}

impl std::str::FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, arg) = s.split_once(':').unwrap_or((s, ""));
        let number = |default: u64| -> Result<u64, String> {
            if arg.is_empty() {
                Ok(default)
            } else {
                arg.parse()
                    .map_err(|_| format!("bad number in workload {s:?}"))
            }
        };
        match name {
            "noop" => Ok(Workload::Noop),
            "fib" => Ok(Workload::Fib(number(25)? as u32)),
            "sleep" => Ok(Workload::SleepMs(number(100)?)),
            "echo" => Ok(Workload::Echo(number(1024)? as usize)),
            _ => Err(format!(
                "unknown workload {s:?}: use noop, fib[:N] (default 25), sleep[:MS] (default 100) or echo[:BYTES] (default 1024)"
            )),
        }
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Workload::Noop => write!(f, "noop"),
            Workload::Fib(n) => write!(f, "fib:{n}"),
            Workload::SleepMs(ms) => write!(f, "sleep:{ms}"),
            Workload::Echo(bytes) => write!(f, "echo:{bytes}"),
        }
    }
}

impl Workload {
    fn module(self) -> (&'static str, &'static str) {
        match self {
            Workload::Noop => ("noop", NOOP_WAT),
            Workload::Fib(_) => ("fib", FIB_WAT),
            Workload::SleepMs(_) => ("sleep", SLEEP_WAT),
            Workload::Echo(_) => ("echo", ECHO_WAT),
        }
    }

    fn payload(self) -> serde_json::Value {
        match self {
            Workload::Noop => json!([]),
            Workload::Fib(n) => json!([n]),
            Workload::SleepMs(ms) => json!(ms.to_string()),
            Workload::Echo(bytes) => json!("x".repeat(bytes)),
        }
    }

    /// The result every task must end with.
    fn expected(self) -> serde_json::Value {
        match self {
            Workload::Noop => json!(null),
            Workload::Fib(n) => json!(native_fib(n as i32)),
            Workload::SleepMs(_) => json!("slept"),
            Workload::Echo(_) => self.payload(),
        }
    }
}

/// The Rust source of `examples/fib-rs`, compiled natively: the reference
/// the sandbox's fib is held against.
#[inline(never)]
pub fn native_fib(n: i32) -> i64 {
    if n < 2 {
        return i64::from(n.max(0));
    }
    native_fib(n - 1).wrapping_add(native_fib(n - 2))
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
    /// Requests in flight at once in the throughput run
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Tasks per request in the throughput run: above 1, POST /execute_batch
    /// and POST /results; 1, POST /execute and GET /result for each task
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch: u64,
    /// Throughput runs (the median is reported)
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// What each task runs: noop, fib[:N] (default 25), sleep[:MS] (default
    /// 100) or echo[:BYTES] (a WASI command, default 1024)
    #[arg(long, default_value = "noop")]
    pub workload: Workload,
    /// With fib:N, also run native Rust fib(N) (examples/fib-rs's source) as
    /// many times on this many threads, and print the ratio
    #[arg(long)]
    pub native_threads: Option<usize>,
    /// The module the workload runs instead of the built-in one (.wasm or
    /// .wat, with the same export), e.g. examples/fib-rs built by `faas
    /// build`: the same Rust source as the native reference
    #[arg(long)]
    pub module: Option<std::path::PathBuf>,
    /// Print one CSV line (`csv,` then the columns of CSV_HEADER) at the end
    #[arg(long)]
    pub csv_label: Option<String>,
    /// Print the CSV header line and exit
    #[arg(long)]
    pub csv_header: bool,
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
    if args.csv_header {
        println!("{CSV_HEADER}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.clients == 0 || args.tasks == 0 || args.rounds == 0 || args.native_threads == Some(0) {
        bail!("--tasks, --clients, --rounds and --native-threads must be positive");
    }
    if args.native_threads.is_some() && !matches!(args.workload, Workload::Fib(_)) {
        bail!("--native-threads compares fib only: use it with --workload fib:N");
    }
    let client = args.conn.client()?;
    let (name, wat) = args.workload.module();
    let wasm = match &args.module {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            wat::parse_bytes(&bytes)
                .with_context(|| format!("{} is neither wasm nor wat", path.display()))?
                .into_owned()
        }
        None => wat::parse_str(wat).context("built-in module")?,
    };
    let function = client.register_function(name, &wasm, None).await?;
    let job = Job {
        function,
        payload: args.workload.payload(),
        expected: args.workload.expected(),
    };
    let module = args
        .module
        .as_ref()
        .map_or("built-in module".into(), |p| p.display().to_string());
    println!(
        "faas bench against {}: {} tasks ({module}), function {function}",
        client.base_url(),
        args.workload
    );

    // Warm up: connections, the dispatcher's function cache.
    run_round(
        &client,
        &job,
        50.min(args.tasks),
        args.clients,
        args.batch as usize,
        false,
    )
    .await?;

    let mut times = Vec::with_capacity(args.latency_samples);
    let samples_from = unix_ms();
    for _ in 0..args.latency_samples {
        let started = Instant::now();
        let task = client.execute_function(function, &job.payload).await?;
        let result = client.wait_result(task, Duration::from_secs(60)).await?;
        job.check(task, Some(result.status), &result.result)?;
        times.push(started.elapsed());
    }
    times.sort();
    let (p50, p95, p99) = (
        pct_ms(&times, 0.5),
        pct_ms(&times, 0.95),
        pct_ms(&times, 0.99),
    );
    if !times.is_empty() {
        println!(
            "round trip (submit -> result, long poll), {} tasks one at a time: p50 {p50:.3} ms, p95 {p95:.3} ms, p99 {p99:.3} ms, max {:.3} ms",
            times.len(),
            pct_ms(&times, 1.0)
        );
    }

    if !times.is_empty() {
        println!("{}", server_view(&client, samples_from).await);
    }

    let mut rounds = Vec::new();
    let rounds_from = unix_ms();
    let cpu_before = CpuTicks::read();
    let draw = std::io::stderr().is_terminal();
    for round in 1..=args.rounds {
        let r = run_round(
            &client,
            &job,
            args.tasks,
            args.clients,
            args.batch as usize,
            draw,
        )
        .await?;
        println!(
            "throughput round {round}: {} tasks, {} requests in flight, {} per request: submitted at {:.0}/s, all completed at {:.0}/s ({:.3} s)",
            args.tasks, args.clients, args.batch, r.submit_rate, r.completion_rate, r.elapsed.as_secs_f64()
        );
        rounds.push(r);
    }
    let cpu = cpu_before.and_then(|before| Some(CpuTicks::read()?.since(&before)));
    rounds.sort_by(|a, b| a.completion_rate.total_cmp(&b.completion_rate));
    let median = &rounds[rounds.len() / 2];
    let per_task_us =
        |ticks: u64| ticks as f64 * 1e6 / TICKS_PER_S / (args.tasks * args.rounds) as f64;
    let cpu_us = match cpu {
        Some(cpu) => {
            let (platform, this) = (cpu.machine.saturating_sub(cpu.own), cpu.own);
            println!(
                "CPU per task: {:.1} us on the whole machine besides this client (which used {:.1} us), from /proc/stat over all rounds",
                per_task_us(platform),
                per_task_us(this)
            );
            per_task_us(platform)
        }
        None => f64::NAN,
    };
    println!(
        "throughput median: submitted {:.0}/s, completed {:.0}/s = {:.0}x the seed's local mode ({SEED_LOCAL_TASKS_PER_S} tasks/s), {:.0}x its push mode ({SEED_PUSH_TASKS_PER_S} tasks/s)",
        median.submit_rate,
        median.completion_rate,
        median.completion_rate / SEED_LOCAL_TASKS_PER_S,
        median.completion_rate / SEED_PUSH_TASKS_PER_S
    );
    println!("{}", server_view(&client, rounds_from).await);
    if let (Some(threads), Workload::Fib(n)) = (args.native_threads, args.workload) {
        let native = native_fib_rate(n, threads, args.tasks);
        println!(
            "native Rust fib({n}) on {threads} threads: {native:.1}/s; the platform's {:.1}/s is {:.2}x slower",
            median.completion_rate,
            native / median.completion_rate
        );
    }
    if let Some(label) = args.csv_label {
        println!(
            "csv,{label},{},{},{},{},{p50:.3},{p95:.3},{p99:.3},{:.0},{:.0},{cpu_us:.1}",
            args.workload,
            args.tasks,
            args.clients,
            args.batch,
            median.submit_rate,
            median.completion_rate
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What the server counted (`GET /stats`) from `from_ms` to now: its
/// end-to-end latency percentiles (submission to final state, in the
/// store's buckets) and its busiest second, beside the client's figures.
async fn server_view(client: &Client, from_ms: u64) -> String {
    let seconds = (unix_ms().saturating_sub(from_ms) / 1000 + 2).min(STATS_RETENTION_SECONDS);
    let stats = match client.stats(seconds).await {
        Ok(stats) => stats,
        Err(ClientError::Http { status: 403, .. }) => {
            return "  server side: not shown (GET /stats needs an admin key)".into()
        }
        Err(e) => return format!("  server side: not shown ({e})"),
    };
    let window: Vec<_> = stats
        .seconds
        .iter()
        .filter(|s| s.second >= from_ms / 1000)
        .collect();
    let mut counts = [0u64; LATENCY_BUCKETS];
    for second in &window {
        for (total, n) in counts.iter_mut().zip(&second.latency_counts) {
            *total += n;
        }
    }
    let q = |q| latency_quantile(&counts, q).map_or("-".into(), |ms| format!("{ms:.1} ms"));
    let peak = window
        .iter()
        .map(|s| s.completed + s.failed)
        .max()
        .unwrap_or(0);
    format!(
        "  server side (GET /stats, submission to end, every client): {} tasks ended, p50 {} p95 {} p99 {}, busiest second {peak} ended",
        counts.iter().sum::<u64>(),
        q(0.5),
        q(0.95),
        q(0.99)
    )
}

/// The function every task calls, with what it is given and must return.
#[derive(Clone)]
struct Job {
    function: Uuid,
    payload: serde_json::Value,
    expected: serde_json::Value,
}

impl Job {
    fn check(
        &self,
        task: Uuid,
        status: Option<TaskStatus>,
        result: &serde_json::Value,
    ) -> anyhow::Result<()> {
        if status != Some(TaskStatus::Completed) {
            bail!("task {task} ended {status:?}: {result}");
        }
        if *result != self.expected {
            bail!("task {task} returned {result}, expected {}", self.expected);
        }
        Ok(())
    }
}

/// Runs native fib(n) `tasks` times on `threads` threads; returns calls/s.
fn native_fib_rate(n: u32, threads: usize, tasks: usize) -> f64 {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while next.fetch_add(1, Ordering::Relaxed) < tasks {
                    std::hint::black_box(native_fib(std::hint::black_box(n as i32)));
                }
            });
        }
    });
    tasks as f64 / started.elapsed().as_secs_f64()
}

/// USER_HZ: /proc/stat and /proc/self/stat count CPU time in 1/100 s on Linux.
const TICKS_PER_S: f64 = 100.0;

/// Busy CPU time so far, of the whole machine and of this process.
struct CpuTicks {
    machine: u64,
    own: u64,
}

impl CpuTicks {
    /// None where /proc is not there to read.
    fn read() -> Option<CpuTicks> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        // cpu user nice system idle iowait irq softirq steal ...: all but idle and iowait.
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let machine = fields
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3 && *i != 4)
            .map(|(_, v)| v)
            .take(7)
            .sum();
        let own_stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // After the ")" closing the command name: utime and stime are fields 12 and 13.
        let after_name = &own_stat[own_stat.rfind(')')? + 2..];
        let own_fields: Vec<&str> = after_name.split_whitespace().collect();
        let own =
            own_fields.get(11)?.parse::<u64>().ok()? + own_fields.get(12)?.parse::<u64>().ok()?;
        Some(CpuTicks { machine, own })
    }

    fn since(&self, before: &CpuTicks) -> CpuTicks {
        CpuTicks {
            machine: self.machine.saturating_sub(before.machine),
            own: self.own.saturating_sub(before.own),
        }
    }
}

struct Round {
    submit_rate: f64,
    completion_rate: f64,
    elapsed: Duration,
}

/// Submits `tasks` tasks, `batch` per request with `clients` requests in
/// flight, and collects every result as soon as its batch is queued; fails
/// if any task did not complete with the expected result.
async fn run_round(
    client: &Client,
    job: &Job,
    tasks: usize,
    clients: usize,
    batch: usize,
    draw: bool,
) -> anyhow::Result<Round> {
    let progress = Progress::start(tasks, draw);
    let started = Instant::now();
    let outcome = if batch <= 1 {
        single_requests(client, job, tasks, clients, &progress).await
    } else {
        batched_requests(client, job, tasks, clients, batch, &progress).await
    };
    progress.finish().await;
    let submitted = outcome?;
    let elapsed = started.elapsed();
    Ok(Round {
        submit_rate: tasks as f64 / submitted.as_secs_f64(),
        completion_rate: tasks as f64 / elapsed.as_secs_f64(),
        elapsed,
    })
}

/// One POST /execute per task, then one long-polled GET /result per task;
/// returns how long submitting took.
async fn single_requests(
    client: &Client,
    job: &Job,
    tasks: usize,
    clients: usize,
    progress: &Progress,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut submitters = Vec::new();
    for _ in 0..clients {
        let (client, next, payload, submitted) = (
            client.clone(),
            next.clone(),
            job.payload.clone(),
            progress.submitted.clone(),
        );
        let function = job.function;
        submitters.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < tasks {
                ids.push(client.execute_function(function, &payload).await?);
                submitted.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(ids)
        }));
    }
    let mut ids = Vec::with_capacity(tasks);
    for s in submitters {
        ids.extend(s.await.context("submitter")??);
    }
    let submit_time = started.elapsed();
    progress.phase_collecting();

    let ids = Arc::new(ids);
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job.clone());
    let mut collectors = Vec::new();
    for _ in 0..clients {
        let (client, ids, next, job, done) = (
            client.clone(),
            ids.clone(),
            next.clone(),
            job.clone(),
            progress.done.clone(),
        );
        collectors.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&task) = ids.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                let result = client.wait_result(task, Duration::from_secs(120)).await?;
                job.check(task, Some(result.status), &result.result)?;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for c in collectors {
        c.await.context("collector")??;
    }
    Ok(submit_time)
}

/// POST /execute_batch of `batch` payloads at a time; each batch's ids go
/// straight to a collector that long-polls POST /results until every one
/// has ended. Returns how long submitting took.
async fn batched_requests(
    client: &Client,
    job: &Job,
    tasks: usize,
    clients: usize,
    batch: usize,
    progress: &Progress,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let chunks = tasks.div_ceil(batch);
    let next = Arc::new(AtomicUsize::new(0));
    let (queued_tx, queued_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<Uuid>>();
    let queued_rx = Arc::new(tokio::sync::Mutex::new(queued_rx));
    let job = Arc::new(job.clone());
    let mut submitters = Vec::new();
    for _ in 0..clients {
        let (client, next, job, queued_tx, submitted) = (
            client.clone(),
            next.clone(),
            job.clone(),
            queued_tx.clone(),
            progress.submitted.clone(),
        );
        submitters.push(tokio::spawn(async move {
            loop {
                let chunk = next.fetch_add(1, Ordering::Relaxed);
                if chunk >= chunks {
                    return Ok::<_, anyhow::Error>(());
                }
                let size = batch.min(tasks - chunk * batch);
                let payloads = vec![job.payload.clone(); size];
                let ids = client.execute_batch(job.function, &payloads).await?;
                submitted.fetch_add(size, Ordering::Relaxed);
                let _ = queued_tx.send(ids);
            }
        }));
    }
    drop(queued_tx);
    let mut collectors = Vec::new();
    for _ in 0..clients {
        let (client, job, queued_rx, done) = (
            client.clone(),
            job.clone(),
            queued_rx.clone(),
            progress.done.clone(),
        );
        collectors.push(tokio::spawn(async move {
            loop {
                let next = queued_rx.lock().await.recv().await;
                let Some(mut waiting) = next else {
                    return Ok::<_, anyhow::Error>(());
                };
                let deadline = Instant::now() + Duration::from_secs(300);
                while !waiting.is_empty() {
                    if Instant::now() > deadline {
                        bail!("{} tasks still not ended after 300 s", waiting.len());
                    }
                    let rows = client
                        .results(&waiting, Some(Duration::from_secs(1)))
                        .await?;
                    let mut still = Vec::new();
                    // Rows come in the order of the ids asked for.
                    for (&id, row) in waiting.iter().zip(rows) {
                        match row.status {
                            Some(status) if status.is_final() => {
                                job.check(id, Some(status), &row.result)?;
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            Some(_) => still.push(id),
                            None => bail!("task {id} is unknown to the server"),
                        }
                    }
                    waiting = still;
                }
            }
        }));
    }
    for s in submitters {
        s.await.context("submitter")??;
    }
    let submit_time = started.elapsed();
    progress.phase_collecting();
    for c in collectors {
        c.await.context("collector")??;
    }
    Ok(submit_time)
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
        let b = parse(&[
            "--tasks",
            "100",
            "--workload",
            "fib:20",
            "--csv-label",
            "push-1x2",
        ])
        .expect("parse");
        assert!(b.command.is_none());
        assert_eq!(
            (b.tasks, b.clients, b.batch, b.workload),
            (100, 8, 1000, Workload::Fib(20))
        );
        assert_eq!(b.csv_label.as_deref(), Some("push-1x2"));
    }

    #[test]
    fn workloads_parse_with_their_defaults() {
        let w = |s: &str| s.parse::<Workload>();
        assert_eq!(w("noop"), Ok(Workload::Noop));
        assert_eq!(w("fib"), Ok(Workload::Fib(25)));
        assert_eq!(w("fib:30"), Ok(Workload::Fib(30)));
        assert_eq!(w("sleep"), Ok(Workload::SleepMs(100)));
        assert_eq!(w("echo"), Ok(Workload::Echo(1024)));
        assert_eq!(w("echo:64").map(|w| w.to_string()), Ok("echo:64".into()));
        assert!(w("fib:x").is_err() && w("spin").is_err());
        assert!(parse(&["--batch", "0"]).is_err() && parse(&["--batch", "10001"]).is_err());
    }

    #[test]
    fn native_fib_is_fib() {
        let firsts: Vec<i64> = (0..10).map(native_fib).collect();
        assert_eq!(firsts, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
        assert_eq!(native_fib(-3), 0);
        assert_eq!(Workload::Fib(20).expected(), json!(6765));
    }

    #[test]
    fn cpu_ticks_are_read_from_proc() {
        let a = CpuTicks::read().expect("/proc/stat and /proc/self/stat");
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(100) {
            std::hint::black_box(native_fib(15));
        }
        let d = CpuTicks::read().expect("again").since(&a);
        // Both clocks moved (not compared: the two files are read at
        // different instants and count in 10 ms ticks).
        assert!(d.own >= 5, "100 ms of spinning counted {} ticks", d.own);
        assert!(
            d.machine >= 5,
            "the machine counted {} ticks over 100 ms of spinning",
            d.machine
        );
    }

    #[test]
    fn plot_is_a_subcommand() {
        let b = parse(&["plot", "bench-out/modes.csv", "--out", "/tmp/charts"]).expect("parse");
        let Some(BenchCommand::Plot(p)) = b.command else {
            panic!("no plot subcommand")
        };
        assert_eq!(p.csv, std::path::Path::new("bench-out/modes.csv"));
        assert_eq!(p.out.as_deref(), Some(std::path::Path::new("/tmp/charts")));
        assert!(
            parse(&["--tasks", "5", "plot", "x.csv"]).is_err(),
            "bench flags and plot conflict"
        );
    }
}

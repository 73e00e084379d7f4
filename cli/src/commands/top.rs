//! `faas top`: the platform's figures in the terminal, refreshed every
//! second: throughput, latency percentiles, the queue, the workers and the
//! busiest functions. Needs an admin key (`GET /stats` counts every
//! tenant's tasks).

use crate::connection::Connection;
use crate::output::print_stdout;
use anyhow::Context;
use faas_client::{SecondStats, Stats, WorkerRow};
use faas_contract::{latency_quantile, FunctionRow, LATENCY_BUCKETS};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct TopArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Seconds between refreshes
    #[arg(long, short = 'n', value_name = "SECONDS", default_value = "1", value_parser = crate::seconds::parse)]
    pub interval: Duration,

    /// Print one view and exit (what a script or a pipe gets)
    #[arg(long)]
    pub once: bool,
}

/// Seconds the rates and percentiles are taken over.
const RATE_WINDOW: usize = 10;
const LATENCY_WINDOW: usize = 60;
/// Rows of the workers' and functions' tables at most.
const ROWS: usize = 10;

pub async fn top(args: TopArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    // A pipe gets one view: redrawing only makes sense on a terminal.
    let once = args.once || args.conn.json || !std::io::stdout().is_terminal();
    loop {
        let (stats, workers, functions) = tokio::try_join!(
            client.stats(LATENCY_WINDOW as u64 + 1),
            client.workers(),
            client.functions(Some(1000)),
        )
        .with_context(|| {
            format!(
                "cannot read the platform's figures from {}",
                client.base_url()
            )
        })?;
        if args.conn.json {
            let view = serde_json::json!({"stats": stats, "workers": workers});
            print_stdout(&format!("{view}\n"))?;
        } else {
            let text = render(&stats, &workers, functions);
            if once {
                print_stdout(&text)?;
            } else {
                // Home, draw, clear what the last view left below.
                print_stdout(&format!("\x1b[H{}\x1b[J", text.replace('\n', "\x1b[K\n")))?;
            }
        }
        if once {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(args.interval).await;
    }
}

/// The whole view as text.
fn render(stats: &Stats, workers: &[WorkerRow], mut functions: Vec<FunctionRow>) -> String {
    // The last second is still counting.
    let done = &stats.seconds[..stats.seconds.len().saturating_sub(1)];
    let recent = &done[done.len().saturating_sub(RATE_WINDOW)..];
    let rate = |f: fn(&SecondStats) -> u64| {
        recent.iter().map(f).sum::<u64>() as f64 / recent.len().max(1) as f64
    };
    let mut counts = [0u64; LATENCY_BUCKETS];
    // Latency: the current second's ends count too.
    let all = &stats.seconds;
    for second in &all[all.len().saturating_sub(LATENCY_WINDOW)..] {
        for (total, n) in counts.iter_mut().zip(&second.latency_counts) {
            *total += n;
        }
    }
    let quantile = |q| latency_quantile(&counts, q).map_or("-".to_string(), format_ms);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tasks/s ({RATE_WINDOW} s)  submitted {:>9.1}  completed {:>9.1}  failed {:>7.1}",
        rate(|s| s.submitted),
        rate(|s| s.completed),
        rate(|s| s.failed)
    );
    let _ = writeln!(
        out,
        "latency ({LATENCY_WINDOW} s)  p50 {}  p95 {}  p99 {}   (submission to end)",
        quantile(0.5),
        quantile(0.95),
        quantile(0.99)
    );
    let slots: u64 = workers.iter().map(|w| w.slots).sum();
    // A push worker may hold more tasks than it has slots (queued there).
    let free: u64 = workers
        .iter()
        .map(|w| w.slots.saturating_sub(w.running))
        .sum();
    let _ = writeln!(
        out,
        "queued {}  running {}  workers {} ({} of {} slots free)",
        stats.queued,
        stats.running,
        workers.len(),
        free,
        slots
    );
    out.push('\n');
    if workers.is_empty() {
        out.push_str("no push or pull workers (local dispatchers run tasks on their own slots)\n");
    } else {
        let _ = writeln!(
            out,
            "{:<14} {:<16} {:<5} {:>5} {:>7} {:>10} {:>9}  STATE",
            "WORKER", "NAME", "MODE", "SLOTS", "RUNNING", "COMPLETED", "HEARTBEAT"
        );
        for w in workers.iter().take(ROWS) {
            let _ = writeln!(
                out,
                "{:<14} {:<16} {:<5} {:>5} {:>7} {:>10} {:>7.1} s  {}",
                clip(&w.id, 14),
                clip(&w.name, 16),
                w.mode,
                w.slots,
                w.running,
                w.completed,
                w.last_heartbeat_ms_ago as f64 / 1000.0,
                if w.draining { "draining" } else { "serving" }
            );
        }
        if workers.len() > ROWS {
            let _ = writeln!(out, "... and {} more", workers.len() - ROWS);
        }
    }
    out.push('\n');
    functions.sort_by_key(|f| std::cmp::Reverse(f.invocations));
    let _ = writeln!(
        out,
        "{:<24} {:<36} {:>12} {:>9}",
        "FUNCTION", "ID", "INVOCATIONS", "FAILURES"
    );
    for f in functions.iter().take(ROWS) {
        let _ = writeln!(
            out,
            "{:<24} {:<36} {:>12} {:>9}",
            clip(&f.name, 24),
            f.function_id,
            f.invocations,
            f.failures
        );
    }
    out
}

fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut clipped: String = text.chars().take(width - 1).collect();
        clipped.push('~');
        clipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_shows_rates_latency_and_the_queue() {
        let mut seconds: Vec<SecondStats> = (100..112).map(SecondStats::new).collect();
        for s in &mut seconds[1..11] {
            s.submitted = 20;
            s.completed = 10;
            s.latency_counts[3] = 10; // 5..10 ms
        }
        let stats = Stats {
            now_ms: 111_500,
            queued: 7,
            running: 3,
            latency_bounds_ms: faas_contract::LATENCY_BOUNDS_MS.to_vec(),
            seconds,
        };
        let text = render(&stats, &[], Vec::new());
        assert!(text.contains("submitted      20.0"), "{text}");
        assert!(text.contains("completed      10.0"), "{text}");
        assert!(text.contains("p50 7.5 ms"), "{text}");
        assert!(text.contains("queued 7  running 3"), "{text}");
    }
}

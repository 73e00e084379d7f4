//! `faas map FUNCTION FILE`: one task per line of JSON payloads, submitted
//! concurrently, results printed in input order as JSON lines, with a
//! progress bar on a terminal and a summary line on stderr.
//!
//! The run has three steps: read and check every line (nothing is submitted
//! if one is not JSON), [`submit_all`] (the one place that creates tasks,
//! with `POST /execute_batch` in chunks), then collect results with waiting
//! `POST /results` in chunks.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::connection::Connection;
use crate::output::print_stdout;
use crate::progress::Progress;
use faas_client::{Client, ClientError, TaskResult, TaskStatus};

/// Exit code when a task failed or could not be submitted or read.
const EXIT_FAILED: u8 = 1;
/// Exit code when none failed but some were still unfinished at --timeout.
const EXIT_TIMED_OUT: u8 = 2;

const OUTPUT_HELP: &str = "\
Input: FILE (`-` for standard input) holds one JSON payload per line, as
`faas invoke --raw` takes it: `[2, 3]` for a typed export, `\"text\"` for a
WASI command's stdin. Blank lines are skipped. If a line is not JSON, the
error names it and nothing is submitted.

Output: one JSON object per input payload, in input order, on stdout:
  {\"line\":1,\"task_id\":\"...\",\"status\":\"COMPLETED\",\"result\":5}
  {\"line\":2,\"task_id\":\"...\",\"status\":\"FAILED\",\"result\":\"<failure message>\"}
  {\"line\":3,\"task_id\":null,\"status\":\"ERROR\",\"result\":null,\"error\":\"<why>\"}
`line` is the payload's line number in FILE. `status` is COMPLETED or
FAILED for tasks that ended; QUEUED or RUNNING for tasks still unfinished at
--timeout; ERROR when the task could not be submitted (the server refused
the payload) or its result could not be read. A progress bar shows on stderr
when stderr is a terminal; a summary line ends the run there.

Exit code: 0 if every task completed, 1 if any FAILED or ERROR, 2 if none
failed but some were unfinished at --timeout.";

/// `faas map FUNCTION FILE`: invoke a function once per line of FILE.
#[derive(clap::Args, Debug, Clone)]
#[command(after_long_help = OUTPUT_HELP)]
pub struct MapArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Function id, as printed by `faas deploy`
    pub function: Uuid,

    /// One JSON payload per line (`-` reads standard input); see --help
    pub file: PathBuf,

    /// Requests in flight at once, while submitting and while collecting
    #[arg(long, short = 'c', default_value = "32", value_parser = parse_concurrency)]
    pub concurrency: usize,

    /// Seconds, from the start, to wait for results before giving up on the
    /// unfinished ones (printed with their status; exit code 2)
    #[arg(long, value_name = "SECONDS", default_value = "3600", value_parser = crate::seconds::parse)]
    pub timeout: Duration,
}

/// One payload of the input file.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// 1-based line number in the file.
    pub line: usize,
    pub payload: Value,
}

/// One line of output.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Row {
    line: usize,
    task_id: Option<Uuid>,
    /// COMPLETED, FAILED, QUEUED, RUNNING, or ERROR.
    status: String,
    result: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub async fn map(args: MapArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let inputs = read_inputs(&args.file)?;
    let client = args.conn.client()?;
    // One request first: an unknown function or an unreachable server is one
    // clear error, not one per line.
    client
        .function(args.function)
        .await
        .with_context(|| format!("cannot map function {}", args.function))?;

    let progress = Progress::start(inputs.len(), io::stderr().is_terminal());
    let payloads: Vec<Value> = inputs.iter().map(|i| i.payload.clone()).collect();
    let submitted = submit_all(
        &client,
        args.function,
        payloads,
        args.concurrency,
        &progress,
    )
    .await;
    progress.phase_collecting();
    let deadline = started.checked_add(args.timeout);
    let results = collect_all(&client, &submitted, deadline, args.concurrency, &progress).await;
    progress.finish().await;

    let rows: Vec<Row> = inputs
        .iter()
        .zip(submitted)
        .zip(results)
        .map(|((input, submitted), result)| row(input.line, submitted, result))
        .collect();
    let mut out = String::new();
    for row in &rows {
        out.push_str(&serde_json::to_string(row).context("cannot encode a result")?);
        out.push('\n');
    }
    print_stdout(&out)?;
    let summary = Summary::of(&rows);
    // Best effort: with stderr gone there is nowhere to say it.
    let _ = writeln!(io::stderr().lock(), "{}", summary.line(started.elapsed()));
    Ok(ExitCode::from(summary.exit_code()))
}

/// Reads FILE (`-` = stdin) and parses its payloads.
fn read_inputs(path: &Path) -> anyhow::Result<Vec<Input>> {
    let (bytes, source) = crate::payload::read_file_or_stdin(path)?;
    parse_inputs(&bytes, &source)
}

/// One payload per non-blank line; the first line that is not JSON (or not
/// UTF-8) is an error naming it.
pub fn parse_inputs(bytes: &[u8], source: &str) -> anyhow::Result<Vec<Input>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            bail!("{source}, line {line}: not UTF-8 text");
        }
    };
    let mut inputs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let payload: Value = serde_json::from_str(trimmed).map_err(|e| {
            // serde's message ends "at line 1 column N": the line is ours.
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            anyhow::anyhow!(
                "{source}, line {}: not a JSON value ({message} at column {}): {}; nothing was submitted",
                i + 1,
                e.column(),
                excerpt(trimmed)
            )
        })?;
        inputs.push(Input {
            line: i + 1,
            payload,
        });
    }
    Ok(inputs)
}

fn excerpt(line: &str) -> String {
    const MAX: usize = 60;
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("`{}...`", &line[..cut]),
        None => format!("`{line}`"),
    }
}

/// Payloads per `POST /execute_batch`, and ids per `POST /results`.
const CHUNK: usize = 1_000;
/// Batch requests in flight at once while submitting (at most `--concurrency`).
const SUBMITS_IN_FLIGHT: usize = 4;
/// Result requests in flight at once (at most `--concurrency`).
const COLLECTS_IN_FLIGHT: usize = 8;
/// Longest hold of one `POST /results`: the progress bar moves at least this often.
const COLLECT_WAIT: Duration = Duration::from_secs(1);

/// Creates one task per payload with `POST /execute_batch`, in chunks of up
/// to [`CHUNK`], a few chunks in flight; one outcome per payload, in order.
/// A payload the server refuses is an error of its own and the rest of its
/// chunk is sent again without it. After a connection failure the rest are
/// not tried (each would wait for its own connect timeout).
pub async fn submit_all(
    client: &Client,
    function: Uuid,
    payloads: Vec<Value>,
    concurrency: usize,
    progress: &Progress,
) -> Vec<Result<Uuid, String>> {
    let total = payloads.len();
    let permits = Arc::new(Semaphore::new(concurrency.clamp(1, SUBMITS_IN_FLIGHT)));
    let unreachable = Arc::new(AtomicBool::new(false));
    let mut running = JoinSet::new();
    let mut payloads = payloads.into_iter();
    let mut first = 0;
    while first < total {
        let chunk: Vec<Value> = payloads.by_ref().take(CHUNK).collect();
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let client = client.clone();
        let unreachable = unreachable.clone();
        let submitted = progress.submitted.clone();
        let len = chunk.len();
        running.spawn(async move {
            let outcomes = submit_chunk(&client, function, chunk, &unreachable).await;
            submitted.fetch_add(len, Ordering::Relaxed);
            drop(permit);
            (first, outcomes)
        });
        first += len;
    }
    let mut out: Vec<Result<Uuid, String>> = vec![Err("not submitted".to_string()); total];
    while let Some(joined) = running.join_next().await {
        if let Ok((first, outcomes)) = joined {
            for (i, outcome) in outcomes.into_iter().enumerate() {
                out[first + i] = outcome;
            }
        }
    }
    out
}

/// One chunk: a batch request, repeated without each payload the server
/// refuses (its 400 names the index: `payloads[3]: ...`).
async fn submit_chunk(
    client: &Client,
    function: Uuid,
    chunk: Vec<Value>,
    unreachable: &AtomicBool,
) -> Vec<Result<Uuid, String>> {
    let mut out: Vec<Result<Uuid, String>> = vec![Err("not submitted".to_string()); chunk.len()];
    // Positions (in `chunk`) still to submit.
    let mut left: Vec<usize> = (0..chunk.len()).collect();
    while !left.is_empty() {
        if unreachable.load(Ordering::Relaxed) {
            for &i in &left {
                out[i] = Err("not submitted: the server became unreachable".to_string());
            }
            break;
        }
        let payloads: Vec<Value> = left.iter().map(|&i| chunk[i].clone()).collect();
        match client.execute_batch(function, &payloads).await {
            Ok(ids) => {
                for (&i, id) in left.iter().zip(ids) {
                    out[i] = Ok(id);
                }
                break;
            }
            Err(ClientError::Http {
                status: 400,
                detail,
                payload_index: Some(k),
            }) if k < left.len() => {
                // The detail names the payload by its place in this request.
                let reason = detail
                    .strip_prefix(&format!("payloads[{k}]: "))
                    .unwrap_or(&detail);
                let e = ClientError::Http {
                    status: 400,
                    detail: reason.to_string(),
                    payload_index: None,
                };
                out[left.remove(k)] = Err(format!("not submitted: {e}"));
            }
            Err(e) => {
                if matches!(e, ClientError::Connect { .. } | ClientError::Tls { .. }) {
                    unreachable.store(true, Ordering::Relaxed);
                }
                for &i in &left {
                    out[i] = Err(format!("not submitted: {e}"));
                }
                break;
            }
        }
    }
    out
}

/// Reads the results of the submitted tasks with `POST /results`, chunks of
/// up to [`CHUNK`] ids, each re-asking (long poll) for its unfinished tasks
/// until they end or `deadline` passes; None for tasks never submitted.
async fn collect_all(
    client: &Client,
    submitted: &[Result<Uuid, String>],
    deadline: Option<Instant>,
    concurrency: usize,
    progress: &Progress,
) -> Vec<Option<Result<TaskResult, String>>> {
    let mut out: Vec<Option<Result<TaskResult, String>>> = vec![None; submitted.len()];
    let mut tasks: Vec<(usize, Uuid)> = Vec::with_capacity(submitted.len());
    for (i, task) in submitted.iter().enumerate() {
        match task {
            Ok(task) => tasks.push((i, *task)),
            Err(_) => progress.record(true),
        }
    }
    let permits = Arc::new(Semaphore::new(concurrency.clamp(1, COLLECTS_IN_FLIGHT)));
    let mut running = JoinSet::new();
    for chunk in tasks.chunks(CHUNK) {
        let chunk = chunk.to_vec();
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let client = client.clone();
        let (done, failed) = (progress.done.clone(), progress.failed.clone());
        running.spawn(async move {
            let outcomes = collect_chunk(&client, chunk, deadline, &done, &failed).await;
            drop(permit);
            outcomes
        });
    }
    while let Some(joined) = running.join_next().await {
        if let Ok(outcomes) = joined {
            for (i, outcome) in outcomes {
                out[i] = Some(outcome);
            }
        }
    }
    out
}

/// One chunk of tasks, asked again until each has ended or `deadline`
/// passes; counts each task in `done` (and `failed`) once, when it is settled.
async fn collect_chunk(
    client: &Client,
    mut pending: Vec<(usize, Uuid)>,
    deadline: Option<Instant>,
    done: &AtomicUsize,
    failed: &AtomicUsize,
) -> Vec<(usize, Result<TaskResult, String>)> {
    let mut out = Vec::with_capacity(pending.len());
    let settle = |i: usize, outcome: Result<TaskResult, String>, out: &mut Vec<_>| {
        let bad = !matches!(&outcome, Ok(r) if r.status != TaskStatus::Failed);
        done.fetch_add(1, Ordering::Relaxed);
        if bad {
            failed.fetch_add(1, Ordering::Relaxed);
        }
        out.push((i, outcome));
    };
    while !pending.is_empty() {
        let remaining = deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        });
        let wait = remaining.min(COLLECT_WAIT);
        let ids: Vec<Uuid> = pending.iter().map(|(_, id)| *id).collect();
        let rows = match client
            .results(&ids, (!wait.is_zero()).then_some(wait))
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                for (i, task) in pending.drain(..) {
                    settle(
                        i,
                        Err(format!("cannot get the result of task {task}: {e}")),
                        &mut out,
                    );
                }
                break;
            }
        };
        let mut still = Vec::new();
        for ((i, task), row) in pending.drain(..).zip(rows) {
            match row.status {
                None => {
                    let why = row.error.unwrap_or_else(|| "unknown task".to_string());
                    settle(
                        i,
                        Err(format!("cannot get the result of task {task}: {why}")),
                        &mut out,
                    );
                }
                Some(status) if status.is_final() || wait.is_zero() => {
                    let result = TaskResult {
                        task_id: task,
                        status,
                        result: row.result,
                    };
                    settle(i, Ok(result), &mut out);
                }
                Some(_) => still.push((i, task)),
            }
        }
        pending = still;
    }
    out
}

fn row(
    line: usize,
    submitted: Result<Uuid, String>,
    result: Option<Result<TaskResult, String>>,
) -> Row {
    let error = |task_id, error: String| Row {
        line,
        task_id,
        status: "ERROR".to_string(),
        result: Value::Null,
        error: Some(error),
    };
    match (submitted, result) {
        (Err(e), _) => error(None, e),
        (Ok(task), None) => error(Some(task), "the result was not collected".to_string()),
        (Ok(task), Some(Err(e))) => error(Some(task), e),
        (Ok(task), Some(Ok(answer))) => Row {
            line,
            task_id: Some(task),
            status: answer.status.to_string(),
            result: answer.result,
            error: None,
        },
    }
}

/// Counts of a finished run.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    total: usize,
    completed: usize,
    failed: usize,
    unfinished: usize,
    errors: usize,
}

impl Summary {
    fn of(rows: &[Row]) -> Summary {
        let mut s = Summary {
            total: rows.len(),
            ..Summary::default()
        };
        for row in rows {
            match row.status.as_str() {
                "COMPLETED" => s.completed += 1,
                "FAILED" => s.failed += 1,
                "QUEUED" | "RUNNING" => s.unfinished += 1,
                _ => s.errors += 1,
            }
        }
        s
    }

    /// `1000 tasks: 998 completed, 2 failed in 3.2 s`.
    fn line(&self, took: Duration) -> String {
        let mut parts = vec![
            format!("{} completed", self.completed),
            format!("{} failed", self.failed),
        ];
        if self.unfinished > 0 {
            parts.push(format!("{} unfinished", self.unfinished));
        }
        if self.errors > 0 {
            parts.push(format!("{} not submitted or unreadable", self.errors));
        }
        let noun = if self.total == 1 { "task" } else { "tasks" };
        format!(
            "{} {noun}: {} in {:.1} s",
            self.total,
            parts.join(", "),
            took.as_secs_f64()
        )
    }

    fn exit_code(&self) -> u8 {
        if self.failed > 0 || self.errors > 0 {
            EXIT_FAILED
        } else if self.unfinished > 0 {
            EXIT_TIMED_OUT
        } else {
            0
        }
    }
}

fn parse_concurrency(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=1024).contains(n))
        .ok_or_else(|| format!("`{s}` is not a number from 1 to 1024"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_are_payloads_and_blank_lines_are_skipped() {
        let inputs = parse_inputs(b"[1, 2]\n\n  \n\"text\"\r\n{\"a\": 1}\n", "f").expect("valid");
        assert_eq!(
            inputs,
            vec![
                Input {
                    line: 1,
                    payload: json!([1, 2])
                },
                Input {
                    line: 4,
                    payload: json!("text")
                },
                Input {
                    line: 5,
                    payload: json!({"a": 1})
                },
            ]
        );
        assert!(parse_inputs(b"", "f").expect("empty").is_empty());
        assert!(parse_inputs(b"\n\n", "f").expect("blank").is_empty());
    }

    #[test]
    fn a_bad_line_is_named() {
        let err = parse_inputs(b"[1, 2]\n\n[3, 4\n[5, 6]\n", "args.txt").expect_err("line 3");
        let msg = err.to_string();
        assert!(
            msg.starts_with("args.txt, line 3: not a JSON value"),
            "{msg}"
        );
        assert!(
            msg.contains("`[3, 4`") && msg.contains("nothing was submitted"),
            "{msg}"
        );
        assert!(!msg.contains("at line 1"), "{msg}");
        let err = parse_inputs(b"1\nhello world\n", "-").expect_err("line 2");
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = parse_inputs(b"1\n2\n\"\xff\"\n", "f").expect_err("not UTF-8");
        assert_eq!(err.to_string(), "f, line 3: not UTF-8 text");
    }

    fn answer(status: TaskStatus, result: Value) -> Option<Result<TaskResult, String>> {
        Some(Ok(TaskResult {
            task_id: Uuid::nil(),
            status,
            result,
        }))
    }

    #[test]
    fn rows_and_summary() {
        let id = Uuid::nil();
        let rows = vec![
            row(1, Ok(id), answer(TaskStatus::Completed, json!(5))),
            row(2, Ok(id), answer(TaskStatus::Failed, json!("boom"))),
            row(
                4,
                Err("not submitted: HTTP 400 Bad Request: x".into()),
                None,
            ),
            row(5, Ok(id), answer(TaskStatus::Running, Value::Null)),
        ];
        assert_eq!(
            serde_json::to_value(&rows[0]).expect("encodes"),
            json!({"line": 1, "task_id": id, "status": "COMPLETED", "result": 5})
        );
        assert_eq!(
            serde_json::to_string(&rows[2]).expect("encodes"),
            r#"{"line":4,"task_id":null,"status":"ERROR","result":null,"error":"not submitted: HTTP 400 Bad Request: x"}"#
        );
        let s = Summary::of(&rows);
        assert_eq!(
            s,
            Summary {
                total: 4,
                completed: 1,
                failed: 1,
                unfinished: 1,
                errors: 1
            }
        );
        assert_eq!(
            s.line(Duration::from_millis(3200)),
            "4 tasks: 1 completed, 1 failed, 1 unfinished, 1 not submitted or unreadable in 3.2 s"
        );
        assert_eq!(s.exit_code(), 1);
        let s = Summary::of(&rows[3..]);
        assert_eq!(s.exit_code(), 2);
        let s = Summary::of(&rows[..1]);
        assert_eq!(
            (s.exit_code(), s.line(Duration::ZERO).as_str()),
            (0, "1 task: 1 completed, 0 failed in 0.0 s")
        );
        assert_eq!(Summary::of(&[]).exit_code(), 0);
    }

    #[test]
    fn flags_are_checked() {
        assert_eq!(parse_concurrency("8"), Ok(8));
        assert!(parse_concurrency("0").is_err() && parse_concurrency("x").is_err());
    }
}

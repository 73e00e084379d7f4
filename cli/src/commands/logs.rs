//! `faas logs TASK`: what a task's guest logged (its stderr, and its stdout
//! too unless stdout is the result), kept with the task when it ends.

use crate::connection::Connection;
use crate::output::print_stdout;
use anyhow::Context;
use serde_json::json;
use std::process::ExitCode;
use std::time::Duration;
use uuid::Uuid;

#[derive(clap::Args, Debug, Clone)]
pub struct LogsArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Task id, as printed by `faas invoke --no-wait` or `faas tasks`
    pub task: Uuid,

    /// Wait for the task to end first (a log is kept when its task ends)
    #[arg(long, short = 'f')]
    pub follow: bool,

    /// Seconds to wait with --follow before giving up (exit code 2)
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = crate::seconds::parse)]
    pub timeout: Duration,
}

/// Exit code when --follow ran out before the task ended.
const EXIT_TIMED_OUT: u8 = 2;

/// Prints the log as the guest wrote it (with `--json`, the server's
/// answer); says on stderr when earlier bytes were not kept, or when the
/// task has not ended yet.
pub async fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    if args.follow {
        let answer = client
            .wait_result(args.task, args.timeout)
            .await
            .with_context(|| format!("cannot wait for task {}", args.task))?;
        if !answer.status.is_final() {
            eprintln!(
                "task {} is still {} after {} s: its log is kept when it ends",
                args.task,
                answer.status,
                args.timeout.as_secs_f64()
            );
            return Ok(ExitCode::from(EXIT_TIMED_OUT));
        }
    }
    let logs = client
        .task_logs(args.task)
        .await
        .with_context(|| format!("cannot get the log of task {}", args.task))?;
    if args.conn.json {
        print_stdout(&format!("{}\n", json!(logs)))?;
        return Ok(ExitCode::SUCCESS);
    }
    if logs.dropped_bytes > 0 {
        eprintln!(
            "(the first {} bytes of this log were not kept)",
            logs.dropped_bytes
        );
    }
    print_stdout(&logs.logs)?;
    if !logs.status.is_final() {
        eprintln!(
            "task {} is {}: its log is kept when it ends (--follow waits for that)",
            args.task, logs.status
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! `faas result TASK`: print a task's result, or its status while it runs.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use uuid::Uuid;

use crate::connection::Connection;
use crate::output::{emit, render_result};

/// `faas result TASK`: print a task's result (or its status while it runs).
#[derive(clap::Args, Debug, Clone)]
pub struct ResultArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Task id, as printed by `faas invoke`
    pub task: Uuid,

    /// Wait for the task to end
    #[arg(long)]
    pub wait: bool,

    /// Seconds to wait with --wait before giving up (exit code 2)
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = crate::seconds::parse)]
    pub timeout: Duration,
}

/// Prints a task's result; with --wait, waits for the task to end first.
pub async fn result(args: ResultArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let answer = if args.wait {
        client.wait_result(args.task, args.timeout).await
    } else {
        client.result(args.task, None).await
    }
    .with_context(|| format!("cannot get the result of task {}", args.task))?;
    let waited = args.wait.then_some(args.timeout.as_secs_f64());
    emit(render_result(&answer, args.conn.json, waited))
}

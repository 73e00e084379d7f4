//! `faas status TASK`: print a task's status word.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use uuid::Uuid;

use crate::connection::Connection;
use crate::output::print_stdout;

/// `faas status TASK`: print a task's status.
#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Task id, as printed by `faas invoke`
    pub task: Uuid,
}

pub async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let status = client
        .status(args.task)
        .await
        .with_context(|| format!("cannot get the status of task {}", args.task))?;
    let out = if args.conn.json {
        json!({ "task_id": args.task, "status": status }).to_string()
    } else {
        status.to_string()
    };
    print_stdout(&format!("{out}\n"))?;
    // The query succeeded whatever the task's state; scripts read the word.
    Ok(ExitCode::SUCCESS)
}

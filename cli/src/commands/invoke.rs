//! `faas invoke FUNCTION [ARGS]...`: queue a task, wait for it and print
//! its result (with a hint when it failed).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use faas_client::TaskStatus;
use serde_json::json;
use uuid::Uuid;

use crate::connection::Connection;
use crate::output::{emit, print_stdout, render_result};
use crate::payload::PayloadArgs;

/// `faas invoke FUNCTION [ARGS]...`: queue a task, wait for it and print its result (or, with --no-wait, its id).
#[derive(clap::Args, Debug, Clone)]
pub struct InvokeArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Function id, as printed by `faas deploy`
    pub function: Uuid,

    #[command(flatten)]
    pub payload: PayloadArgs,

    /// Wait for the task to end and print its result (the default; kept for
    /// scripts that pass it)
    #[arg(long, overrides_with = "no_wait")]
    pub wait: bool,

    /// Print the task id at once instead of waiting for the result
    #[arg(long, overrides_with = "wait")]
    pub no_wait: bool,

    /// Seconds to wait for the result before giving up (exit code 2)
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = crate::seconds::parse)]
    pub timeout: Duration,
}

/// Queues a task, waits for it and prints its result (a failure with a
/// hint); with --no-wait, prints the task id only.
pub async fn invoke(args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let convention = if args.payload.is_one_word() {
        crate::hints::function_convention(&client, args.function).await
    } else {
        None
    };
    let payload = args.payload.payload_for(convention.as_ref())?;
    let task_id = client
        .execute_function(args.function, &payload)
        .await
        .with_context(|| format!("cannot invoke function {}", args.function))?;
    if args.no_wait {
        let out = if args.conn.json {
            json!({ "task_id": task_id }).to_string()
        } else {
            task_id.to_string()
        };
        print_stdout(&format!("{out}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let timeout = args.timeout;
    let answer = client
        .wait_result(task_id, timeout)
        .await
        .with_context(|| format!("cannot get the result of task {task_id}"))?;
    let code = emit(render_result(
        &answer,
        args.conn.json,
        Some(args.timeout.as_secs_f64()),
    ))?;
    if answer.status == TaskStatus::Failed && !args.conn.json {
        crate::hints::print_remote_hint(&client, &args, &answer).await;
    }
    Ok(code)
}

//! `faas cancel TASK...`: cancel tasks. Queued ones never start, running
//! ones are stopped where they stand; each ends FAILED as `cancelled`.

use crate::connection::Connection;
use crate::output::print_stdout;
use anyhow::Context;
use serde_json::json;
use std::process::ExitCode;
use uuid::Uuid;

#[derive(clap::Args, Debug, Clone)]
pub struct CancelArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Task ids, as printed by `faas invoke --no-wait` or `faas tasks`
    #[arg(required = true)]
    pub tasks: Vec<Uuid>,
}

/// Prints what became of each task; exit code 0 only if every one was
/// cancelled (1 if some had already ended or are unknown).
pub async fn cancel(args: CancelArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let answer = client
        .cancel(&args.tasks)
        .await
        .context("cannot cancel the tasks")?;
    let out = if args.conn.json {
        format!("{}\n", json!(answer))
    } else {
        let mut out = String::new();
        let lines = [
            (&answer.cancelled, "cancelled"),
            (&answer.already_ended, "already ended: not changed"),
        ];
        for (ids, said) in lines {
            for id in ids {
                out.push_str(&format!("{id} {said}\n"));
            }
        }
        for id in &answer.unknown {
            out.push_str(&format!("{id} not found\n"));
        }
        out
    };
    print_stdout(&out)?;
    Ok(if answer.cancelled.len() == args.tasks.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

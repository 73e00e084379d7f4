//! `faas tasks`: the most recently submitted tasks, newest first (only
//! those in one status with `--status`), as a table or the server's JSON.

use std::process::ExitCode;

use anyhow::Context;
use faas_client::{TaskInfo, TaskStatus};
use serde_json::json;

use crate::connection::Connection;
use crate::output::print_stdout;
use crate::table::{
    age_text, column_width, duration_text, now_ms, parse_limit, parse_status, size_text,
};

/// `faas tasks`: the most recently submitted tasks, newest first.
#[derive(clap::Args, Debug, Clone)]
pub struct TasksArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Only tasks in this status: queued, running, completed or failed
    #[arg(long, short = 's', value_parser = parse_status)]
    pub status: Option<TaskStatus>,

    /// Show at most this many (1 to 1000) [default: 100]
    #[arg(long, short = 'n', value_parser = parse_limit)]
    pub limit: Option<usize>,
}

/// Prints the tasks table (or, with --json, the server's `{"tasks": [...]}`).
pub async fn tasks(args: TasksArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let tasks = client
        .tasks(args.limit, args.status)
        .await
        .context("cannot list tasks")?;
    let out = if args.conn.json {
        format!("{}\n", json!({ "tasks": tasks }))
    } else if tasks.is_empty() {
        match args.status {
            Some(status) => format!("no {status} tasks among the latest\n"),
            None => "no tasks\n".to_string(),
        }
    } else {
        tasks_table(&tasks, now_ms())
    };
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn tasks_table(tasks: &[TaskInfo], now_ms: u64) -> String {
    let status_text = |t: &TaskInfo| match (&t.status, &t.failure_kind) {
        (TaskStatus::Failed, Some(kind)) => format!("FAILED ({kind})"),
        (status, _) => status.to_string(),
    };
    let statuses: Vec<String> = tasks.iter().map(status_text).collect();
    let status_width = column_width("STATUS", statuses.iter().map(String::as_str));
    let mut text = format!(
        "{:<36}  {:<36}  {:<status_width$}  {:>8}  {:>7}  {:>7}  {:>9}  {:>5}\n",
        "TASK ID", "FUNCTION ID", "STATUS", "ATTEMPTS", "WAIT", "RUN", "MEMORY", "AGE"
    );
    let or_dash = |text: Option<String>| text.unwrap_or_else(|| "-".into());
    for (t, status) in tasks.iter().zip(&statuses) {
        text.push_str(&format!(
            "{:<36}  {:<36}  {:<status_width$}  {:>8}  {:>7}  {:>7}  {:>9}  {:>5}\n",
            t.task_id,
            t.function_id,
            status,
            t.attempts,
            or_dash(
                t.queue_wait_ms
                    .map(|ms| duration_text(ms.saturating_mul(1000)))
            ),
            or_dash(t.usage.as_ref().map(|u| duration_text(u.run_us))),
            or_dash(t.usage.as_ref().map(|u| size_text(u.peak_memory_bytes))),
            age_text(t.created_at_ms, now_ms)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn the_tasks_table_aligns_and_dashes_what_is_unknown() {
        let t = TaskInfo {
            task_id: Uuid::nil(),
            function_id: Uuid::nil(),
            status: TaskStatus::Failed,
            attempts: 1,
            failure_kind: Some("trap".into()),
            created_at_ms: 1_000,
            started_at_ms: None,
            finished_at_ms: None,
            tenant: "t".into(),
            queue_wait_ms: Some(3),
            usage: Some(faas_contract::Usage {
                run_us: 1_500,
                peak_memory_bytes: 2 * 65536,
                ..Default::default()
            }),
        };
        let table = tasks_table(std::slice::from_ref(&t), 2_000);
        assert!(
            table.lines().nth(1).is_some_and(
                |l| l.contains("FAILED (trap)         1    3.0ms    1.5ms  128.0 KiB     1s")
            ),
            "{table}"
        );
        let unrun = TaskInfo {
            queue_wait_ms: None,
            usage: None,
            ..t
        };
        let table = tasks_table(&[unrun], 2_000);
        assert!(
            table.lines().nth(1).is_some_and(
                |l| l.contains("FAILED (trap)         1        -        -          -     1s")
            ),
            "{table}"
        );
        assert_eq!(duration_text(999), "999us");
        assert_eq!(duration_text(61_000_000), "61.0s");
    }
}

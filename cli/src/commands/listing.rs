//! `faas functions` and `faas tasks`: what is registered and what ran lately, as tables or JSON.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::connection::Connection;
use crate::output::print_stdout;
use faas_client::{FunctionInfo, TaskInfo, TaskStatus};

/// Most rows the server returns for one listing.
const MAX_LIMIT: usize = 1000;

/// `faas functions`: registered functions, newest first.
#[derive(clap::Args, Debug, Clone)]
pub struct FunctionsArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Show at most this many (1 to 1000) [default: 100]
    #[arg(long, short = 'n', value_parser = parse_limit)]
    pub limit: Option<usize>,
}

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

/// Prints the functions table (or, with --json, the server's `{"functions": [...]}`).
pub async fn functions(args: FunctionsArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let functions = client
        .functions(args.limit)
        .await
        .context("cannot list functions")?;
    let out = if args.conn.json {
        format!("{}\n", json!({ "functions": functions }))
    } else {
        functions_table(&functions, now_ms())
    };
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
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

fn functions_table(functions: &[FunctionInfo], now_ms: u64) -> String {
    if functions.is_empty() {
        return "no functions\n".to_string();
    }
    let name_width = column_width("NAME", functions.iter().map(|f| f.name.as_str()));
    let entry_width = column_width("ENTRY", functions.iter().map(|f| f.entry.as_str()));
    let mut text = format!(
        "{:<36}  {:<name_width$}  {:<entry_width$}  {:>9}  {:>5}\n",
        "FUNCTION ID", "NAME", "ENTRY", "SIZE", "AGE"
    );
    for f in functions {
        text.push_str(&format!(
            "{:<36}  {:<name_width$}  {:<entry_width$}  {:>9}  {:>5}\n",
            f.function_id,
            f.name,
            f.entry,
            size_text(f.module_size),
            age_text(f.created_at_ms, now_ms)
        ));
    }
    text
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

/// `850us`, `12.3ms`, `4.1s`.
pub(crate) fn duration_text(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}us"),
        1_000..1_000_000 => format!("{:.1}ms", us as f64 / 1e3),
        _ => format!("{:.1}s", us as f64 / 1e6),
    }
}

/// The width of a column: its longest cell or its header.
pub(crate) fn column_width<'a>(header: &str, cells: impl Iterator<Item = &'a str>) -> usize {
    cells
        .map(|c| c.chars().count())
        .chain([header.len()])
        .max()
        .unwrap_or(0)
}

/// `512 B`, `40.2 KiB`, `3.1 MiB`.
fn size_text(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / (KIB * KIB))
    }
}

/// How long ago: `5s`, `12m`, `3h`, `2d` (`-` when the time is unknown).
pub(crate) fn age_text(then_ms: u64, now_ms: u64) -> String {
    if then_ms == 0 {
        return "-".to_string();
    }
    let secs = now_ms.saturating_sub(then_ms) / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// clap parser for `--limit`: 1 to 1000.
pub(crate) fn parse_limit(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| format!("`{s}` is not a number from 1 to {MAX_LIMIT}"))
}

/// clap parser for `--status`: a status word in any case.
pub(crate) fn parse_status(s: &str) -> Result<TaskStatus, String> {
    TaskStatus::parse(&s.trim().to_ascii_uppercase())
        .ok_or_else(|| format!("`{s}` is not a status; use queued, running, completed or failed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn limits_and_statuses_parse() {
        assert_eq!(parse_limit("1"), Ok(1));
        assert_eq!(parse_limit(" 1000 "), Ok(1000));
        for bad in ["0", "1001", "-1", "x", ""] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_status("failed"), Ok(TaskStatus::Failed));
        assert_eq!(parse_status("QUEUED"), Ok(TaskStatus::Queued));
        let err = parse_status("done").expect_err("not a status");
        assert!(err.contains("completed"), "{err}");
    }

    #[test]
    fn ages_and_sizes_read_short() {
        let now = 10_000_000_000;
        assert_eq!(age_text(now - 5_000, now), "5s");
        assert_eq!(age_text(now - 120_000, now), "2m");
        assert_eq!(age_text(now - 7_200_000, now), "2h");
        assert_eq!(age_text(now - 3 * 86_400_000, now), "3d");
        assert_eq!(age_text(now + 5_000, now), "0s");
        assert_eq!(age_text(0, now), "-");
        assert_eq!(size_text(41), "41 B");
        assert_eq!(size_text(2048), "2.0 KiB");
        assert_eq!(size_text(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn tables_align_on_the_longest_cell() {
        let f = |name: &str| FunctionInfo {
            function_id: Uuid::nil(),
            name: name.into(),
            entry: "add".into(),
            module_hash: String::new(),
            module_size: 41,
            created_at_ms: 1_000,
            tenant: "t".into(),
            kind: "typed".into(),
            invocations: 0,
            failures: 0,
        };
        let table = functions_table(&[f("add"), f("a-longer-name")], 6_000);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("FUNCTION ID"), "{table}");
        assert!(lines[2].contains("a-longer-name  add"), "{table}");
        assert!(lines[1].contains("add            add"), "{table}");
        assert!(lines[1].ends_with("41 B     5s"), "{table}");
        assert_eq!(functions_table(&[], 0), "no functions\n");

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

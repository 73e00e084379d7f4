//! What the client commands print: results as `faas invoke` and
//! `faas result` show them, and their exit codes.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;

use faas_client::{TaskResult, TaskStatus};
use serde_json::{json, Value};

/// Exit code for a task that FAILED (also used by main.rs for any error).
const EXIT_FAILED: u8 = 1;
/// Exit code when --wait ran out before the task ended.
const EXIT_TIMED_OUT: u8 = 2;

/// Writes to stdout without `println!`'s panic on a closed pipe; a reader
/// that went away (`faas tasks | head -3`) is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}

/// [`print_stdout`] of `text` and a newline.
pub fn println_out(text: &str) -> anyhow::Result<()> {
    print_stdout(&format!("{text}\n"))
}

/// What a result command prints and how it exits.
#[derive(Debug, PartialEq, Eq)]
pub struct Rendered {
    stdout: String,
    stderr: String,
    code: u8,
}

/// Renders a `/result` answer. `waited` is the --wait timeout in seconds, if
/// the caller waited: then a status that is not final means the wait ran out.
pub fn render_result(answer: &TaskResult, json: bool, waited: Option<f64>) -> Rendered {
    let mut stdout = String::new();
    let mut stderr = String::new();
    let code = match answer.status {
        TaskStatus::Completed => 0,
        TaskStatus::Failed => EXIT_FAILED,
        TaskStatus::Queued | TaskStatus::Running if waited.is_some() => EXIT_TIMED_OUT,
        TaskStatus::Queued | TaskStatus::Running => 0,
    };
    if json {
        // TaskResult serializes to exactly the server's object.
        stdout = format!("{}\n", json!(answer));
    } else {
        match answer.status {
            TaskStatus::Completed => stdout = value_text(&answer.result),
            TaskStatus::Failed => {
                stderr = format!("FAILED: {}\n", failure_message(&answer.result));
            }
            TaskStatus::Queued | TaskStatus::Running => {
                stdout = format!("{}\n", answer.status);
            }
        }
    }
    if let (Some(secs), false) = (waited, answer.status.is_final()) {
        stderr.push_str(&format!(
            "task {id} still {status} after {secs} s; `faas result --wait {id}` waits again\n",
            id = answer.task_id,
            status = answer.status,
        ));
    }
    Rendered {
        stdout,
        stderr,
        code,
    }
}

/// A result for people: a string (a WASI command's stdout) raw, ending in one
/// newline unless empty; anything else as compact JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() || s.ends_with('\n') => s.clone(),
        Value::String(s) => format!("{s}\n"),
        other => format!("{other}\n"),
    }
}

fn failure_message(result: &Value) -> String {
    match result {
        Value::String(s) => s.trim_end().to_owned(),
        Value::Null => "(no message)".to_owned(),
        other => other.to_string(),
    }
}

/// Prints a final result exactly as `faas invoke` does (for `faas run`).
pub fn emit_result(answer: &TaskResult) -> anyhow::Result<ExitCode> {
    emit(render_result(answer, false, None))
}

pub fn emit(rendered: Rendered) -> anyhow::Result<ExitCode> {
    print_stdout(&rendered.stdout)?;
    print_stderr(&rendered.stderr);
    Ok(ExitCode::from(rendered.code))
}

/// Best effort: if stderr is gone, there is nowhere left to report that.
pub fn print_stderr(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn answer(status: TaskStatus, result: Value) -> TaskResult {
        TaskResult {
            task_id: Uuid::nil(),
            status,
            result,
        }
    }

    #[test]
    fn completed_results_print_strings_raw() {
        let r = render_result(&answer(TaskStatus::Completed, json!("hi\n")), false, None);
        assert_eq!((r.stdout.as_str(), r.code), ("hi\n", 0));
        let r = render_result(&answer(TaskStatus::Completed, json!("hi")), false, None);
        assert_eq!(r.stdout, "hi\n");
        let r = render_result(&answer(TaskStatus::Completed, json!("")), false, None);
        assert_eq!(r.stdout, "");
        let r = render_result(
            &answer(TaskStatus::Completed, json!([1, 2.5])),
            false,
            Some(5.0),
        );
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.code),
            ("[1,2.5]\n", "", 0)
        );
        let r = render_result(&answer(TaskStatus::Completed, Value::Null), false, None);
        assert_eq!(r.stdout, "null\n");
    }

    #[test]
    fn failed_results_go_to_stderr_with_exit_1() {
        let r = render_result(
            &answer(TaskStatus::Failed, json!("timed out after 10000 ms")),
            false,
            None,
        );
        assert_eq!(
            r,
            Rendered {
                stdout: String::new(),
                stderr: "FAILED: timed out after 10000 ms\n".into(),
                code: 1
            }
        );
    }

    #[test]
    fn unfinished_tasks() {
        let r = render_result(&answer(TaskStatus::Running, Value::Null), false, None);
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.code),
            ("RUNNING\n", "", 0)
        );
        let r = render_result(&answer(TaskStatus::Queued, Value::Null), false, Some(60.0));
        assert_eq!((r.stdout.as_str(), r.code), ("QUEUED\n", 2));
        assert!(r.stderr.contains("still QUEUED after 60 s"), "{}", r.stderr);
    }

    #[test]
    fn json_mode_prints_the_server_object() {
        let r = render_result(&answer(TaskStatus::Failed, json!("boom")), true, None);
        let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
        assert_eq!(
            v,
            json!({"task_id": Uuid::nil(), "status": "FAILED", "result": "boom"})
        );
        assert_eq!((r.stderr.as_str(), r.code), ("", 1));
    }
}

//! Advice printed beside a failed task: what its failure kind means and
//! the `faas run` line that reproduces it on this machine.

use std::path::Path;

use faas_client::{Client, TaskResult};
use faas_runtime::{Convention, FailureKind};
use uuid::Uuid;

use crate::commands::invoke::InvokeArgs;
use crate::commands::run::{defaults, KIB, MIB};

/// How the payload of an invocation was given on the command line, to repeat
/// it in a `faas run` hint.
#[derive(Debug, Clone, Copy)]
pub struct PayloadWords<'a> {
    pub args: &'a [String],
    pub raw: Option<&'a str>,
    pub stdin: Option<&'a Path>,
}

impl PayloadWords<'_> {
    /// The words, quoted for a POSIX shell.
    pub fn shell(&self) -> String {
        let mut words: Vec<String> = self.args.iter().map(|w| shell_quote(w)).collect();
        if let Some(raw) = self.raw {
            words.push("--raw".into());
            words.push(shell_quote(raw));
        }
        if let Some(stdin) = self.stdin {
            words.push("--stdin".into());
            words.push(shell_quote(&stdin.display().to_string()));
        }
        words.join(" ")
    }
}

/// `s` as one POSIX shell word.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+=./:,@%".contains(c));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// One line of advice for a FAILED remote task, from its failure kind (the
/// task record's `failure_kind`).
/// `signature` is the function's expected signature if known; `module` how
/// to name the module in a command (the function's name, say).
pub fn remote_hint(
    kind: &str,
    module: &str,
    payload: PayloadWords<'_>,
    signature: Option<&str>,
) -> Option<String> {
    let args = payload.shell();
    let sep = if args.is_empty() { "" } else { " " };
    let run_locally = format!("faas run {module}{sep}{args}");
    let limits = defaults();
    Some(match kind {
        "trap" => format!("run it locally to debug: {run_locally}"),
        "timeout" => format!(
            "the platform stops a task after {} s (its time limit); `{run_locally} --timeout 60` shows how long it needs",
            limits.default_timeout.as_secs_f64()
        ),
        "memory" => format!(
            "a task may use {} MiB of linear memory (the platform's limit); `{run_locally} --memory-mib 1024` shows how much it needs",
            limits.max_memory_bytes / MIB
        ),
        "exit_code" => format!("the command exited non-zero (its stderr ends the message); run it locally: {run_locally}"),
        "output_too_large" => format!(
            "stdout and stderr are capped at {} KiB each per task: return less, or write a summary",
            limits.max_output_bytes / KIB
        ),
        "bad_arguments" => match signature {
            Some(sig) => format!("the function takes {sig}: give one JSON number per parameter"),
            None => "the payload does not fit the function's signature".to_owned(),
        },
        "lost" => "the workers running it kept dying; check their logs, and `faas workers`".to_owned(),
        "instantiation" => {
            "the instance could not be created (too many tables or instances, or no free instance slot); retry, or check the module".to_owned()
        }
        "internal" => "the platform could not run the task; see the dispatcher's log".to_owned(),
        _ => return None,
    })
}

/// Prints the hint for a FAILED task of `faas invoke`, best effort: the
/// failure kind comes from the task's record (`GET /tasks/{id}`), the
/// signature from the function's; without the record there is no hint.
pub async fn print_remote_hint(client: &Client, args: &InvokeArgs, answer: &TaskResult) {
    let Ok(task) = client.task(answer.task_id).await else {
        return;
    };
    let Some(kind) = task.failure_kind.as_deref() else {
        return;
    };
    let signature = if kind == FailureKind::BadArguments.as_str() {
        function_convention(client, args.function)
            .await
            .and_then(|c| match c {
                Convention::Typed(sig) => Some(sig.to_string()),
                Convention::WasiCommand | Convention::Handler => None,
            })
    } else {
        None
    };
    let payload = PayloadWords {
        args: &args.payload.args,
        raw: args.payload.raw.as_deref(),
        stdin: args.payload.stdin.as_deref(),
    };
    if let Some(hint) = remote_hint(kind, "<module>", payload, signature.as_deref()) {
        eprintln!("hint: {hint}");
    }
}

/// A function's calling convention, as the server describes it; None if
/// it cannot be had (hints are best effort).
pub async fn function_convention(client: &Client, function: Uuid) -> Option<Convention> {
    let info = client.function(function).await.ok()?;
    serde_json::from_value(info.convention).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_round_trip() {
        assert_eq!(shell_quote("12"), "12");
        assert_eq!(shell_quote("-3.5"), "-3.5");
        assert_eq!(shell_quote("\"hi\""), "'\"hi\"'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        let words = ["2".to_owned(), "[1, 2]".to_owned()];
        let p = PayloadWords {
            args: &words,
            raw: None,
            stdin: None,
        };
        assert_eq!(p.shell(), "2 '[1, 2]'");
        let p = PayloadWords {
            args: &[],
            raw: Some("\"x\""),
            stdin: None,
        };
        assert_eq!(p.shell(), "--raw '\"x\"'");
    }

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn hints_suit_the_failure() {
        let args = words(&["1", "2"]);
        let p = PayloadWords {
            args: &args,
            raw: None,
            stdin: None,
        };
        let hint = remote_hint("trap", "add.wasm", p, None).expect("hint");
        assert_eq!(hint, "run it locally to debug: faas run add.wasm 1 2");
        let hint = remote_hint("timeout", "spin.wat", p, None).expect("hint");
        assert!(
            hint.contains("after 10 s") && hint.contains("--timeout 60"),
            "{hint}"
        );
        let hint = remote_hint("memory", "m", p, None).expect("hint");
        assert!(
            hint.contains("256 MiB") && hint.contains("--memory-mib"),
            "{hint}"
        );
        let hint = remote_hint("bad_arguments", "m", p, Some("(i32, i32) -> (i32)")).expect("hint");
        assert!(hint.contains("(i32, i32) -> (i32)"), "{hint}");
        assert!(remote_hint("lost", "m", p, None).is_some());
        assert_eq!(remote_hint("something new", "m", p, None), None);
    }
}

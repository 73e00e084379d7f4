//! The client-side subcommands of `faas` (deploy, invoke, status, result): arguments, payloads, output.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::listing::print_stdout;
use anyhow::{bail, Context};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::client::{Client, ClientOptions, TaskResult, TaskStatus};
use faas_runtime::Convention;

/// How to reach the server and how to print; shared by every client subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// Server URL
    #[arg(
        long,
        env = "FAAS_URL",
        default_value = "http://127.0.0.1:8000",
        global = true
    )]
    pub url: String,

    /// PEM file of the CA (or a bundle) that signed the server's certificate,
    /// trusted besides the system's roots (https:// URLs)
    #[arg(long, env = "FAAS_CACERT", value_name = "PATH", global = true)]
    pub cacert: Option<PathBuf>,

    /// API key, sent as `Authorization: Bearer KEY` [default: the one saved
    /// for this URL in the credentials file, ~/.config/faas/credentials]
    #[arg(
        long,
        env = "FAAS_TOKEN",
        value_name = "KEY",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,

    /// Print machine-readable JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,
}

impl Connection {
    /// A client for `--url` with its key (`--token`, `FAAS_TOKEN`, or the
    /// credentials file) and `--cacert`.
    pub fn client(&self) -> anyhow::Result<Client> {
        let options = ClientOptions {
            token: self.key(),
            ca_cert: self.cacert.clone(),
        };
        Ok(Client::with_options(&self.url, &options)?)
    }
}

impl Connection {
    /// The key to send: `--token`, `FAAS_TOKEN`, or the one saved for
    /// `--url` in the credentials file.
    pub fn key(&self) -> Option<String> {
        self.token
            .clone()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| crate::credentials::token_for(&self.url))
    }
}

/// `faas deploy FILE`: upload a module and print its function id.
#[derive(clap::Args, Debug, Clone)]
pub struct DeployArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// The module: a .wasm binary or a .wat text file (compiled locally before
    /// upload), or a source built first: a Rust crate (directory or
    /// Cargo.toml) or a .c file
    pub file: PathBuf,

    /// Function name [default: the file name without its extension]
    #[arg(long)]
    pub name: Option<String>,

    /// Export to call [default: `_start` if exported, else the export named like
    /// the function, else the only exported function]
    #[arg(long)]
    pub entry: Option<String>,

    /// How to build a source (see `faas build --help`)
    #[command(flatten)]
    pub tools: crate::build::ToolchainArgs,
}

/// A task's payload on the command line (`faas invoke`, `faas run`).
#[derive(clap::Args, Debug, Clone)]
pub struct PayloadArgs {
    /// Arguments, each a JSON value (`2 3` is the payload [2,3]); for a
    /// handler (Python, JavaScript) one argument is the whole payload
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<String>,

    /// Send this file's contents as the payload string, the stdin of a WASI
    /// command (`-` reads standard input)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["args", "raw"])]
    pub stdin: Option<PathBuf>,

    /// Send this JSON text as the whole payload (e.g. --raw '"hello"' or --raw '[1, 2]')
    #[arg(long, value_name = "JSON", conflicts_with = "args")]
    pub raw: Option<String>,
}

impl PayloadArgs {
    /// The payload these arguments describe.
    pub fn payload(&self) -> anyhow::Result<serde_json::Value> {
        build_payload(&self.args, self.raw.as_deref(), self.stdin.as_deref())
    }

    /// Whether the payload depends on the function's convention: one
    /// positional word is a handler's whole payload (`'{"x": 1}'`), but
    /// a list of one for an export with parameters.
    pub fn is_one_word(&self) -> bool {
        self.args.len() == 1 && self.raw.is_none() && self.stdin.is_none()
    }

    /// The payload for a function of `convention`.
    pub fn payload_for(&self, convention: Option<&Convention>) -> anyhow::Result<Value> {
        match (self.payload()?, convention) {
            (Value::Array(mut words), Some(Convention::Handler)) if self.is_one_word() => {
                Ok(words.remove(0))
            }
            (payload, _) => Ok(payload),
        }
    }
}

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

/// `faas status TASK`: print a task's status.
#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// Task id, as printed by `faas invoke`
    pub task: Uuid,
}

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

/// Exit code for a task that FAILED (also used by main.rs for any error).
const EXIT_FAILED: u8 = 1;
/// Exit code when --wait ran out before the task ended.
const EXIT_TIMED_OUT: u8 = 2;

/// Uploads a module and prints its function id.
pub async fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    // A source is built first; the name comes from the module it built.
    let (module, wasm) = crate::run::module_bytes(&args.file, &args.tools, "deploy").await?;
    let name = function_name(&module, args.name.as_deref())?;
    let id = client
        .register_function(&name, &wasm, args.entry.as_deref())
        .await
        .with_context(|| format!("cannot deploy {}", args.file.display()))?;
    if args.conn.json {
        print_stdout(&format!("{}\n", json!({ "function_id": id })))?;
    } else {
        // Only the id on stdout, so `ID=$(faas deploy f.wat)` works.
        print_stdout(&format!("{id}\n"))?;
    }
    print_stderr(&format!("deployed {name} ({} bytes)\n", wasm.len()));
    Ok(ExitCode::SUCCESS)
}

/// Queues a task, waits for it and prints its result (a failure with a
/// hint); with --no-wait, prints the task id only.
pub async fn invoke(args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let convention = if args.payload.is_one_word() {
        crate::run::function_convention(&client, args.function).await
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
        crate::run::print_remote_hint(&client, &args, &answer).await;
    }
    Ok(code)
}

/// Prints a task's status word.
/// `faas workers`: the live workers of every dispatcher.
#[derive(clap::Args, Debug)]
pub struct WorkersArgs {
    #[command(flatten)]
    pub conn: Connection,
}

pub async fn workers(args: WorkersArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    let workers = client.workers().await.context("cannot list workers")?;
    let out = if args.conn.json {
        format!("{}\n", json!({ "workers": workers }))
    } else if workers.is_empty() {
        "no live workers\n".to_string()
    } else {
        let mut text = format!(
            "{:<40} {:<6} {:>5} {:>7} {:>14}\n",
            "WORKER", "MODE", "SLOTS", "RUNNING", "LAST HEARTBEAT"
        );
        for w in &workers {
            text.push_str(&format!(
                "{:<40} {:<6} {:>5} {:>7} {:>11} ms\n",
                w.name, w.mode, w.slots, w.running, w.last_heartbeat_ms_ago
            ));
        }
        text
    };
    print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
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

/// Reads a module; `.wat` files are compiled here so that syntax errors
/// show locally with file, line and column rather than as a server 400.
pub fn read_module(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_wat = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("wat"));
    if !is_wat {
        return Ok(bytes);
    }
    let binary = wat::Parser::new()
        .parse_bytes(Some(path), &bytes)
        .with_context(|| format!("cannot compile {}", path.display()))?;
    Ok(binary.into_owned())
}

/// `--name`, or else the file name without its extension.
pub fn function_name(path: &Path, name: Option<&str>) -> anyhow::Result<String> {
    if let Some(name) = name {
        if name.trim().is_empty() {
            bail!("--name must not be empty");
        }
        return Ok(name.to_owned());
    }
    match path.file_stem().and_then(|s| s.to_str()) {
        Some(stem) if !stem.is_empty() => Ok(stem.to_owned()),
        _ => bail!(
            "cannot derive a function name from {}; pass --name",
            path.display()
        ),
    }
}

/// The task payload from exactly one of: positional JSON words (an array),
/// `--raw` JSON text, or `--stdin` file contents (a JSON string).
pub fn build_payload(
    args: &[String],
    raw: Option<&str>,
    stdin: Option<&Path>,
) -> anyhow::Result<Value> {
    match (raw, stdin) {
        (Some(_), Some(_)) => bail!("--raw and --stdin cannot be used together"),
        (Some(_), None) | (None, Some(_)) if !args.is_empty() => {
            bail!("positional arguments cannot be combined with --raw or --stdin")
        }
        (Some(raw), None) => {
            serde_json::from_str(raw).with_context(|| format!("--raw is not valid JSON: {raw}"))
        }
        (None, Some(path)) => read_stdin_payload(path).map(Value::String),
        (None, None) => positional_payload(args),
    }
}

/// Each word is one JSON value: `2 3` -> `[2,3]`, `'"a"'` -> `["a"]`.
fn positional_payload(args: &[String]) -> anyhow::Result<Value> {
    args.iter()
        .enumerate()
        .map(|(i, word)| {
            serde_json::from_str(word).map_err(|_| {
                anyhow::anyhow!(
                    "argument {} `{word}` is not a JSON value; quote strings as JSON \
                     (e.g. '\"{word}\"'), or use --stdin / --raw for a WASI command",
                    i + 1
                )
            })
        })
        .collect::<anyhow::Result<Vec<Value>>>()
        .map(Value::Array)
}

/// Contents of `path` (`-` = standard input) as text, for a WASI command's stdin.
fn read_stdin_payload(path: &Path) -> anyhow::Result<String> {
    // Blocking reads are fine: the CLI does nothing else meanwhile.
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        buf
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    let name = if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    // The payload travels as a JSON string, which cannot hold arbitrary bytes.
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{name} is not UTF-8 text (invalid byte at offset {}); a WASI stdin payload is a JSON string",
            e.utf8_error().valid_up_to()
        )
    })
}

/// What a result command prints and how it exits.
#[derive(Debug, PartialEq, Eq)]
struct Rendered {
    stdout: String,
    stderr: String,
    code: u8,
}

/// Renders a `/result` answer. `waited` is the --wait timeout in seconds, if
/// the caller waited: then a status that is not final means the wait ran out.
fn render_result(answer: &TaskResult, json: bool, waited: Option<f64>) -> Rendered {
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
pub(crate) fn emit_result(answer: &TaskResult) -> anyhow::Result<ExitCode> {
    emit(render_result(answer, false, None))
}

fn emit(rendered: Rendered) -> anyhow::Result<ExitCode> {
    print_stdout(&rendered.stdout)?;
    print_stderr(&rendered.stderr);
    Ok(ExitCode::from(rendered.code))
}

/// Best effort: if stderr is gone, there is nowhere left to report that.
fn print_stderr(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    fn temp_file(contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("faas-sdk-test-{}", Uuid::new_v4()));
        std::fs::write(&path, contents).expect("temp file is writable");
        path
    }

    #[test]
    fn positional_words_become_a_json_array() {
        let p = build_payload(&words(&["2", "3"]), None, None).expect("valid");
        assert_eq!(p, json!([2, 3]));
        let p = build_payload(
            &words(&["-1.5", "\"x\"", "[1]", "9007199254740993"]),
            None,
            None,
        )
        .expect("valid");
        assert_eq!(p, json!([-1.5, "x", [1], 9007199254740993u64]));
        assert_eq!(build_payload(&[], None, None).expect("valid"), json!([]));
    }

    #[test]
    fn a_non_json_word_is_named_in_the_error() {
        let err = build_payload(&words(&["2", "hello"]), None, None).expect_err("not JSON");
        let msg = format!("{err:#}");
        assert!(msg.contains("argument 2 `hello`"), "{msg}");
    }

    #[test]
    fn raw_is_the_whole_payload() {
        assert_eq!(
            build_payload(&[], Some("\"hello\""), None).expect("valid"),
            json!("hello")
        );
        assert_eq!(
            build_payload(&[], Some(" [1, 2] "), None).expect("valid"),
            json!([1, 2])
        );
        let err = build_payload(&[], Some("hello"), None).expect_err("not JSON");
        assert!(format!("{err:#}").contains("--raw is not valid JSON"));
    }

    #[test]
    fn stdin_file_becomes_a_json_string() {
        let path = temp_file(b"line one\nline \"two\"\n");
        let p = build_payload(&[], None, Some(&path));
        let _ = std::fs::remove_file(&path);
        assert_eq!(p.expect("readable"), json!("line one\nline \"two\"\n"));
    }

    #[test]
    fn stdin_file_must_be_utf8_and_exist() {
        let path = temp_file(b"ok\xff");
        let err = build_payload(&[], None, Some(&path)).expect_err("not UTF-8");
        let _ = std::fs::remove_file(&path);
        assert!(format!("{err:#}").contains("offset 2"), "{err:#}");
        let missing = std::env::temp_dir().join(format!("faas-missing-{}", Uuid::new_v4()));
        let err = build_payload(&[], None, Some(&missing)).expect_err("missing");
        assert!(format!("{err:#}").contains("cannot read"));
    }

    #[test]
    fn payload_sources_are_exclusive() {
        assert!(build_payload(&words(&["1"]), Some("1"), None).is_err());
        assert!(build_payload(&words(&["1"]), None, Some(Path::new("-"))).is_err());
        assert!(build_payload(&[], Some("1"), Some(Path::new("-"))).is_err());
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        cmd: Cmd,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Cmd {
        Invoke(InvokeArgs),
        Result(ResultArgs),
        Deploy(DeployArgs),
    }

    const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

    #[test]
    fn cli_parses_negative_numbers_and_flags() {
        let cli = Cli::try_parse_from([
            "faas",
            "invoke",
            ID,
            "-3",
            "4.5",
            "--wait",
            "--timeout",
            "1.5",
        ])
        .expect("parses");
        let Cmd::Invoke(a) = cli.cmd else {
            panic!("not invoke")
        };
        assert_eq!(a.payload.args, words(&["-3", "4.5"]));
        assert!(a.wait);
        assert_eq!(a.timeout, Duration::from_millis(1500));
        assert_eq!(a.conn.url, "http://127.0.0.1:8000");
    }

    #[test]
    fn cli_rejects_conflicting_payloads_and_bad_timeouts() {
        for argv in [
            vec!["faas", "invoke", ID, "1", "--raw", "2"],
            vec!["faas", "invoke", ID, "1", "--stdin", "f"],
            vec!["faas", "invoke", ID, "--raw", "1", "--stdin", "f"],
            vec!["faas", "invoke", "not-a-uuid"],
            vec!["faas", "result", ID, "--timeout", "-1"],
            vec!["faas", "result", ID, "--timeout", "NaN"],
        ] {
            assert!(Cli::try_parse_from(&argv).is_err(), "{argv:?} parsed");
        }
    }

    #[test]
    fn cli_flags_after_subcommand() {
        let cli = Cli::try_parse_from(["faas", "deploy", "f.wat", "--url", "http://h:1", "--json"])
            .expect("parses");
        let Cmd::Deploy(a) = cli.cmd else {
            panic!("not deploy")
        };
        assert_eq!(a.conn.url, "http://h:1");
        assert!(a.conn.json);
        assert_eq!(a.file, PathBuf::from("f.wat"));
    }

    #[test]
    fn name_defaults_to_file_stem() {
        assert_eq!(
            function_name(Path::new("dir/add.wat"), None).expect("stem"),
            "add"
        );
        assert_eq!(
            function_name(Path::new("add.wat"), Some("sum")).expect("given"),
            "sum"
        );
        assert!(function_name(Path::new("x.wat"), Some(" ")).is_err());
        assert!(function_name(Path::new("/"), None).is_err());
    }

    #[test]
    fn wat_is_compiled_locally_with_positions() {
        let path = temp_file(b"(module (func (export \"f\") (result i32) i32.const 1))");
        let wat_path = path.with_extension("wat");
        std::fs::rename(&path, &wat_path).expect("rename");
        let bin = read_module(&wat_path);
        let _ = std::fs::remove_file(&wat_path);
        assert!(bin.expect("valid WAT").starts_with(b"\0asm"));

        let path = temp_file(b"(module\n  (func oops))");
        let wat_path = path.with_extension("wat");
        std::fs::rename(&path, &wat_path).expect("rename");
        let err = read_module(&wat_path).expect_err("bad WAT");
        let _ = std::fs::remove_file(&wat_path);
        let msg = format!("{err:#}");
        assert!(msg.contains(":2:"), "{msg}");
    }

    #[test]
    fn other_files_are_sent_as_is() {
        let path = temp_file(b"anything");
        let bytes = read_module(&path);
        let _ = std::fs::remove_file(&path);
        assert_eq!(bytes.expect("readable"), b"anything");
    }

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

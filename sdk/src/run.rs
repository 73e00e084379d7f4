//! `faas run` and `faas build`: a module (or a source, built first) run once on the local runtime with the platform's limits and printed as `faas invoke` prints a remote result; and the hints shown beside failed tasks.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use faas_runtime::{
    Convention, Failure, FailureKind, Invocation, LoadError, Outcome, Runtime, RuntimeConfig,
};
use serde_json::{json, Value};

use crate::build::{self, Source, ToolchainArgs};
use crate::client::{Client, TaskResult, TaskStatus};
use crate::commands::{self, InvokeArgs};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn defaults() -> RuntimeConfig {
    RuntimeConfig::default()
}

/// `faas build [PATH]`: compile a Rust crate or a C file to a module, a Python or JavaScript file to a component.
#[derive(clap::Args, Debug, Clone)]
pub struct BuildArgs {
    /// A Rust crate (its directory or Cargo.toml), a .c, .py or .js file,
    /// or a directory with app.py
    #[arg(default_value = ".")]
    pub path: PathBuf,

    #[command(flatten)]
    pub tools: ToolchainArgs,

    /// Function name the entry is resolved with, as `faas deploy --name` would
    /// [default: the module's file name without its extension]
    #[arg(long)]
    pub name: Option<String>,

    /// Export to call, as `faas deploy --entry` would
    #[arg(long)]
    pub entry: Option<String>,

    /// Print {"module", "size", "entry", "convention"} as JSON
    #[arg(long)]
    pub json: bool,
}

/// `faas run PATH [ARGS]...`: one local invocation.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The module: .wasm, .wat, or a source built first: a Rust crate
    /// (directory or Cargo.toml), a .c, .py or .js file, a directory with app.py
    pub path: PathBuf,

    #[command(flatten)]
    pub payload: commands::PayloadArgs,

    /// Function name the entry is resolved with [default: the file name without its extension]
    #[arg(long)]
    pub name: Option<String>,

    /// Export to call [default: `_start` if exported, else the export named like
    /// the function, else the only exported function]
    #[arg(long)]
    pub entry: Option<String>,

    /// Wall-clock limit of the call, in seconds [default: the platform's]
    #[arg(long, value_name = "SECONDS", value_parser = crate::seconds::parse_positive)]
    pub timeout: Option<Duration>,

    /// Linear memory limit, in MiB
    #[arg(long, value_name = "MIB", default_value_t = defaults().max_memory_bytes / MIB)]
    pub memory_mib: usize,

    /// wasm stack limit, in KiB
    #[arg(long, value_name = "KIB", default_value_t = defaults().max_wasm_stack / KIB)]
    pub stack_kib: usize,

    /// Limit of stdout, and of stderr, in KiB
    #[arg(long, value_name = "KIB", default_value_t = defaults().max_output_bytes / KIB)]
    pub output_kib: usize,

    /// Print {"status", "result", "failure_kind"} as JSON
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub tools: ToolchainArgs,
}

/// The module's bytes and the file they came from: a source is built first
/// (its build line goes to stderr), WAT is compiled to a binary.
pub async fn module_bytes(
    path: &Path,
    tools: &ToolchainArgs,
    command: &'static str,
) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    let source = Source::classify(path)?;
    let file = if source.needs_build() {
        let tools = tools.clone();
        // Compilers run for a while: off the async threads.
        tokio::task::spawn_blocking(move || build::build(&source, &tools, command))
            .await
            .context("the build thread failed")??
    } else {
        path.to_path_buf()
    };
    let bytes = commands::read_module(&file)?;
    if source_was_built(path, &file) {
        eprintln!(
            "built {} ({})",
            display_path(&file),
            build::format_size(bytes.len())
        );
    }
    Ok((file, bytes))
}

fn source_was_built(given: &Path, module: &Path) -> bool {
    given != module
}

/// A path relative to the working directory when it is under it.
pub fn display_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|rel| !rel.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// `faas build`: builds and prints the module's path, size and entry.
pub async fn build_command(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let source = Source::classify(&args.path)?;
    let tools = args.tools.clone();
    let module = tokio::task::spawn_blocking(move || build::build(&source, &tools, "build"))
        .await
        .context("the build thread failed")??;
    let bytes =
        std::fs::read(&module).with_context(|| format!("cannot read {}", module.display()))?;
    let name = commands::function_name(&module, args.name.as_deref())?;
    let entry = args.entry.clone();
    let info = tokio::task::spawn_blocking(move || build::inspect(&bytes, &name, entry.as_deref()))
        .await
        .context("the inspect thread failed")??;
    let shown = display_path(&module);
    let size = build::format_size(info.size);
    let (line, ok) = match &info.entry {
        Ok((entry, convention)) => (
            format!(
                "built {shown} ({size}), entry {}",
                build::describe_entry(entry, convention)
            ),
            true,
        ),
        // Deployable with --entry: say so, but the build worked.
        Err(e @ LoadError::AmbiguousEntry { .. }) => (
            format!("built {shown} ({size}), no default entry: {e} (`faas deploy --entry NAME`)"),
            true,
        ),
        Err(e) => (
            format!("built {shown} ({size}), but faas cannot run it: {e}"),
            false,
        ),
    };
    if args.json {
        let (entry, convention) = match &info.entry {
            Ok((entry, convention)) => (json!(entry), json!(convention)),
            Err(e) => (Value::Null, json!({ "error": e.to_string() })),
        };
        println_out(
            &json!({
                "module": module,
                "size": info.size,
                "entry": entry,
                "convention": convention,
            })
            .to_string(),
        )?;
    } else if ok {
        println_out(&line)?;
    } else {
        eprintln!("{line}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `faas run`: builds if needed, runs once, prints like `faas invoke`.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    // Parsed before the build, so that a bad payload fails at once.
    args.payload.payload()?;
    let payload_args = args.payload.clone();
    let (module, bytes) = module_bytes(&args.path, &args.tools, "run").await?;
    let name = commands::function_name(&module, args.name.as_deref())?;
    let config = RuntimeConfig {
        default_timeout: args.timeout.unwrap_or(defaults().default_timeout),
        max_memory_bytes: args.memory_mib.saturating_mul(MIB),
        max_wasm_stack: args.stack_kib.saturating_mul(KIB),
        max_output_bytes: args.output_kib.saturating_mul(KIB),
        max_concurrent_instances: 1,
        compiled_dir: build::local_compiled_dir(),
        ..RuntimeConfig::default()
    };
    let shown = display_path(&module);
    let entry = args.entry.clone();
    // Runtime::invoke blocks its thread (and runs its own timer runtime).
    let invocation = tokio::task::spawn_blocking(move || -> anyhow::Result<Invocation> {
        let runtime = Runtime::new(config)?;
        let function = runtime
            .load(&bytes, &name, entry.as_deref())
            .map_err(|e| anyhow!("cannot load {shown}: {e}"))?;
        let payload = payload_args.payload_for(Some(function.convention()))?;
        // The server refuses such a payload with a 400 saying this.
        let call = function
            .parse_args(&payload)
            .map_err(|e| anyhow!("{name}: {e}"))?;
        Ok(runtime.invocation(&function, call, None))
    })
    .await
    .context("the run thread failed")??;
    // What the function wrote to stderr (and print()ed, for a handler),
    // before its result, as a local run of a program shows it; not again
    // when the failure message quotes it already (an exit code's stderr).
    let quoted = invocation
        .outcome
        .failure()
        .is_some_and(|f| f.message.contains(invocation.logs.trim()));
    if !invocation.logs.is_empty() && !quoted {
        eprint!("{}", invocation.logs);
        if !invocation.logs.ends_with('\n') {
            eprintln!();
        }
    }
    let outcome = invocation.outcome;

    let failure_kind = outcome.failure().map(|f| f.kind.as_str());
    let (status, result) = match &outcome {
        Outcome::Completed { value } => (TaskStatus::Completed, value.clone()),
        Outcome::Failed(failure) => (TaskStatus::Failed, Value::String(failure.message.clone())),
    };
    if args.json {
        println_out(
            &json!({ "status": status, "result": result, "failure_kind": failure_kind })
                .to_string(),
        )?;
        return Ok(exit_for(status));
    }
    // Exactly what `faas invoke` prints for the same result.
    let answer = TaskResult {
        task_id: uuid::Uuid::nil(),
        status,
        result,
    };
    let code = commands::emit_result(&answer)?;
    if let Some(hint) = outcome.failure().and_then(|f| local_hint(f, &args)) {
        eprintln!("hint: {hint}");
    }
    Ok(code)
}

fn exit_for(status: TaskStatus) -> ExitCode {
    if status == TaskStatus::Completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// For a local run, which flag moves the limit that was hit.
fn local_hint(failure: &Failure, args: &RunArgs) -> Option<String> {
    match failure.kind {
        FailureKind::Timeout => Some(format!(
            "the limit is --timeout {} s here; the platform's is {} s",
            args.timeout
                .unwrap_or(defaults().default_timeout)
                .as_secs_f64(),
            defaults().default_timeout.as_secs_f64()
        )),
        FailureKind::Memory => Some(format!(
            "the limit is --memory-mib {} here; the platform's is {} MiB",
            args.memory_mib,
            defaults().max_memory_bytes / MIB
        )),
        FailureKind::OutputTooLarge => Some(format!(
            "the limit is --output-kib {} here; the platform's is {} KiB for stdout and for stderr",
            args.output_kib,
            defaults().max_output_bytes / KIB
        )),
        _ => None,
    }
}

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
/// task record's `failure_kind`) or, without one, from its message.
/// `signature` is the function's expected signature if known; `module` how
/// to name the module in a command (the function's name, say).
pub fn remote_hint(
    kind: Option<&str>,
    message: &str,
    module: &str,
    payload: PayloadWords<'_>,
    signature: Option<&str>,
) -> Option<String> {
    let kind = kind
        .map(str::to_owned)
        .unwrap_or_else(|| kind_from_message(message).to_owned());
    let args = payload.shell();
    let sep = if args.is_empty() { "" } else { " " };
    let run_locally = format!("faas run {module}{sep}{args}");
    let limits = defaults();
    Some(match kind.as_str() {
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

/// The failure kind a message reads as, for servers that do not say.
pub fn kind_from_message(message: &str) -> &'static str {
    if message.starts_with("timed out after") {
        "timeout"
    } else if message.starts_with("memory limit") {
        "memory"
    } else if message.starts_with("exit code") {
        "exit_code"
    } else if message.starts_with("output too large") || message.contains("output too large") {
        "output_too_large"
    } else if message.starts_with("worker lost") {
        "lost"
    } else if message.starts_with("this function takes") || message.starts_with("argument ") {
        "bad_arguments"
    } else {
        "trap"
    }
}

/// Prints the hint for a FAILED task of `faas invoke`, best effort: the
/// failure kind comes from `GET /tasks/{id}` and the signature from
/// `GET /functions/{id}`; when those are unavailable the message is read.
pub async fn print_remote_hint(client: &Client, args: &InvokeArgs, answer: &TaskResult) {
    let message = answer.result.as_str().unwrap_or_default();
    let task = get_json(client, &format!("/tasks/{}", answer.task_id)).await;
    let kind = task
        .as_ref()
        .and_then(|t| t.get("failure_kind"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let resolved = kind
        .clone()
        .unwrap_or_else(|| kind_from_message(message).to_owned());
    let signature = if resolved == "bad_arguments" {
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
    if let Some(hint) = remote_hint(
        kind.as_deref(),
        message,
        "<module>",
        payload,
        signature.as_deref(),
    ) {
        eprintln!("hint: {hint}");
    }
}

/// `GET path` on the server as JSON, or None on any failure (hints are
/// best effort and must not turn a result into an error).
/// Goes through `client`, so its token and CA apply.
/// A function's calling convention, as the server describes it; None if
/// it cannot be had.
pub async fn function_convention(client: &Client, function: uuid::Uuid) -> Option<Convention> {
    let info = get_json(client, &format!("/functions/{function}")).await?;
    serde_json::from_value(info.get("convention")?.clone()).ok()
}

async fn get_json(client: &Client, path: &str) -> Option<Value> {
    client.get_json(path, Duration::from_secs(10)).await.ok()
}

fn println_out(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
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
        let hint =
            remote_hint(Some("trap"), "wasm trap: unreachable", "add.wasm", p, None).expect("hint");
        assert_eq!(hint, "run it locally to debug: faas run add.wasm 1 2");
        let hint = remote_hint(
            Some("timeout"),
            "timed out after 10000 ms",
            "spin.wat",
            p,
            None,
        )
        .expect("hint");
        assert!(
            hint.contains("after 10 s") && hint.contains("--timeout 60"),
            "{hint}"
        );
        let hint = remote_hint(
            Some("memory"),
            "memory limit 256 MiB exceeded",
            "m",
            p,
            None,
        )
        .expect("hint");
        assert!(
            hint.contains("256 MiB") && hint.contains("--memory-mib"),
            "{hint}"
        );
        let hint = remote_hint(
            Some("bad_arguments"),
            "x",
            "m",
            p,
            Some("(i32, i32) -> (i32)"),
        )
        .expect("hint");
        assert!(hint.contains("(i32, i32) -> (i32)"), "{hint}");
        assert!(remote_hint(Some("lost"), "worker lost 3 times", "m", p, None).is_some());
        assert_eq!(remote_hint(Some("something new"), "x", "m", p, None), None);
    }

    #[test]
    fn kinds_are_read_from_messages_without_a_kind() {
        assert_eq!(kind_from_message("timed out after 10000 ms"), "timeout");
        assert_eq!(kind_from_message("memory limit 256 MiB exceeded"), "memory");
        assert_eq!(
            kind_from_message("exit code 3: input file is missing"),
            "exit_code"
        );
        assert_eq!(kind_from_message("worker lost 3 times"), "lost");
        assert_eq!(
            kind_from_message("wasm trap: wasm `unreachable` instruction executed"),
            "trap"
        );
        let args = words(&[]);
        let p = PayloadWords {
            args: &args,
            raw: None,
            stdin: None,
        };
        let hint = remote_hint(None, "timed out after 10000 ms", "m", p, None).expect("hint");
        assert!(hint.contains("time limit"), "{hint}");
    }

    #[derive(clap::Parser, Debug)]
    struct Invoke {
        #[command(flatten)]
        args: InvokeArgs,
    }

    #[test]
    fn invoke_waits_unless_told_not_to() {
        use clap::Parser;
        const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let parse = |extra: &[&str]| {
            let mut argv = vec!["invoke", ID, "1"];
            argv.extend_from_slice(extra);
            Invoke::try_parse_from(argv).expect("parses").args
        };
        assert!(!parse(&[]).no_wait);
        assert!(!parse(&["--wait"]).no_wait);
        assert!(parse(&["--no-wait"]).no_wait);
        // The last of the two wins.
        assert!(!parse(&["--no-wait", "--wait"]).no_wait);
        assert!(parse(&["--wait", "--no-wait"]).no_wait);
    }
}

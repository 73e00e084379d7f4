//! `faas run PATH [ARGS]...`: a module (or a source, built first) run once
//! on the local runtime with the platform's limits, printed as `faas
//! invoke` prints a remote result.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use faas_client::{TaskResult, TaskStatus};
use faas_runtime::{Failure, FailureKind, Invocation, Outcome, Runtime, RuntimeConfig};
use serde_json::{json, Value};

use crate::build::{self, display_path, module_bytes, ToolchainArgs};
use crate::commands::deploy::function_name;
use crate::output::{emit_result, println_out};
use crate::payload::PayloadArgs;

pub(crate) const KIB: usize = 1024;
pub(crate) const MIB: usize = 1024 * 1024;

/// The platform's limits, which `faas run` applies unless told otherwise
/// and the hints name.
pub(crate) fn defaults() -> RuntimeConfig {
    RuntimeConfig::default()
}

/// `faas run PATH [ARGS]...`: one local invocation.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The module: .wasm, .wat, or a source built first: a Rust crate
    /// (directory or Cargo.toml), a .c, .py or .js file, a directory with app.py
    pub path: PathBuf,

    #[command(flatten)]
    pub payload: PayloadArgs,

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

/// `faas run`: builds if needed, runs once, prints like `faas invoke`.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    // Parsed before the build, so that a bad payload fails at once.
    args.payload.payload()?;
    let payload_args = args.payload.clone();
    let (module, bytes) = module_bytes(&args.path, &args.tools, "run").await?;
    let name = function_name(&module, args.name.as_deref())?;
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
    let code = emit_result(&answer)?;
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

//! The `faas` command: the platform's daemons (`up`, `server`,
//! `dispatcher`, `worker`) and its client commands (`deploy`, `invoke`,
//! `map`, `new`, ...), each in `commands/`.

use clap::{CommandFactory, Parser, Subcommand};
use faas_cli::commands::{
    build, cancel, dashboard, delete, deploy, functions, invoke, keys, limits, logs, map, new,
    result, run, status, tasks, top, workers,
};
use faas_cli::{bench, daemons};
use std::process::ExitCode;

// glibc's malloc, with tokio tasks allocating on one thread and freeing on
// another, spent a quarter of a busy dispatcher's CPU (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "faas", version, about = "WebAssembly functions as a service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole platform in one process: REST server + local dispatcher
    Up(daemons::UpArgs),
    /// Run the REST server alone (needs Redis)
    Server(daemons::ServerArgs),
    /// Run a dispatcher that executes queued tasks (needs Redis)
    Dispatcher(daemons::DispatcherArgs),
    /// Run a worker daemon: faas worker push|pull SLOTS tcp://HOST:PORT
    Worker(daemons::WorkerArgs),
    /// Build a Rust crate, a C file or a Python file to a .wasm module (Python: a component); prints its path, size and entry
    Build(build::BuildArgs),
    /// Run a module (or a source, built first) once, locally, with the platform's limits
    Run(run::RunArgs),
    /// Upload a .wasm or .wat module, or build a source and upload it; prints the function id
    Deploy(deploy::DeployArgs),
    /// Invoke a function and print its result (--no-wait: print the task id)
    Invoke(invoke::InvokeArgs),
    /// Print a task's status
    Status(status::StatusArgs),
    /// Print a task's result
    Result(result::ResultArgs),
    /// Cancel tasks: queued ones never start, running ones are stopped
    Cancel(cancel::CancelArgs),
    /// Delete functions: their queued tasks fail, running ones finish
    Delete(delete::DeleteArgs),
    /// List the live workers of all dispatchers
    Workers(workers::WorkersArgs),
    /// List registered functions, newest first
    Functions(functions::FunctionsArgs),
    /// List the most recent tasks, newest first (--status to filter)
    Tasks(tasks::TasksArgs),
    /// Print what a task's function logged (stderr, and print() in a handler); --follow waits for its end
    Logs(logs::LogsArgs),
    /// Print the web dashboard's address, with this machine's key for it (open it in a browser)
    Dashboard(dashboard::DashboardArgs),
    /// Show the platform's throughput, latency, queue, workers and busiest functions, refreshed (needs an admin key)
    Top(top::TopArgs),
    /// Invoke a function once per line of a file of JSON payloads; prints results in order
    Map(map::MapArgs),
    /// Measure a running platform: round-trip latency and throughput
    Bench(bench::BenchArgs),
    /// Manage keys: API keys (create, list, revoke; an admin key is needed) and workers' CURVE key pairs (worker)
    Keys(keys::KeysArgs),
    /// Show a tenant's limits and usage, or set its limits (needs an admin key)
    Limits(limits::LimitsArgs),
    /// Write a new function project: faas new rust|c|wat|python|js NAME
    New(new::NewArgs),
    /// Print the completion script of a shell: `source <(faas completions bash)`
    Completions(CompletionsArgs),
}

#[derive(clap::Args)]
struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Completions(args) = &cli.command {
        clap_complete::generate(
            args.shell,
            &mut Cli::command(),
            "faas",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    // One TLS crypto provider for the whole process (https, rediss://):
    // ring, the only one built in (deprecated in rustls 0.23.48 only for
    // lacking post-quantum key exchange; aws-lc-rs needs cmake to build).
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => {
                daemons::init_logging();
                daemons::up(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Server(args) => {
                daemons::init_logging();
                daemons::server(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Dispatcher(args) => {
                daemons::init_logging();
                daemons::dispatcher(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Worker(args) => {
                daemons::init_logging();
                daemons::worker(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Build(args) => build::build_command(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Deploy(args) => deploy::deploy(args).await,
            Command::Invoke(args) => invoke::invoke(args).await,
            Command::Status(args) => status::status(args).await,
            Command::Result(args) => result::result(args).await,
            Command::Cancel(args) => cancel::cancel(args).await,
            Command::Delete(args) => delete::delete(args).await,
            Command::Workers(args) => workers::workers(args).await,
            Command::Functions(args) => functions::functions(args).await,
            Command::Tasks(args) => tasks::tasks(args).await,
            Command::Logs(args) => logs::logs(args).await,
            Command::Top(args) => top::top(args).await,
            Command::Dashboard(args) => dashboard::dashboard(args),
            Command::Map(args) => map::map(args).await,
            Command::Bench(args) => bench::bench(args).await,
            Command::Keys(args) => keys::keys(args).await,
            Command::Limits(args) => limits::limits(args).await,
            Command::New(args) => new::new(args),
            // Answered before the runtime started.
            Command::Completions(_) => Ok(ExitCode::SUCCESS),
        }
    });
    // A daemon's last spans (on SIGTERM or Ctrl-C).
    faas_traces::flush();
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

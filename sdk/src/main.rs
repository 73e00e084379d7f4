//! The `faas` command: the platform's daemons (`up`, `server`, `dispatcher`)
//! and its client (`deploy`, `invoke`, `status`, `result`).

use clap::{Parser, Subcommand};
use faas_sdk::{commands, daemons};
use std::process::ExitCode;

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
    /// Run a worker daemon: faas worker push SLOTS tcp://HOST:PORT
    Worker(daemons::WorkerArgs),
    /// Upload a .wasm or .wat module; prints the function id
    Deploy(commands::DeployArgs),
    /// Invoke a function; prints the task id, or the result with --wait
    Invoke(commands::InvokeArgs),
    /// Print a task's status
    Status(commands::StatusArgs),
    /// Print a task's result
    Result(commands::ResultArgs),
    /// List the live workers of all dispatchers
    Workers(commands::WorkersArgs),
    /// Measure a running platform: round-trip latency and throughput
    Bench(faas_sdk::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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
            Command::Deploy(args) => commands::deploy(args).await,
            Command::Invoke(args) => commands::invoke(args).await,
            Command::Status(args) => commands::status(args).await,
            Command::Result(args) => commands::result(args).await,
            Command::Workers(args) => commands::workers(args).await,
            Command::Bench(args) => faas_sdk::bench::bench(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

//! The daemon subcommands: `faas up` (server + local dispatcher in one
//! process), `faas server`, `faas dispatcher` and `faas worker`. Each logs
//! one line saying what it listens on once ready, and exits non-zero with
//! a clear message when it cannot start. Push and pull dispatchers and
//! workers get their CURVE keys here (`port_keys.rs`).

use crate::metrics_endpoint::MetricsArgs;
use anyhow::{bail, Context};
use faas_dispatcher::{
    run_local, run_pull, run_push, AllowList, CurveServer, LocalConfig, PullConfig, PushConfig,
};
use faas_metrics::{DispatcherMetrics, Metrics, WorkerMetrics};
use faas_runtime::{Runtime, RuntimeConfig};
use faas_server::{router, serve, AppState, ServerConfig};
use faas_store::{RedisOptions, Store, StoreConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

fn default_slots() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Use Redis at this URL instead of the embedded store
    /// (redis://[USER:PASSWORD@]HOST:PORT, rediss:// for TLS,
    /// redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE,
    /// redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...][?partitions=N])
    #[arg(long, env = "FAAS_REDIS_URL", hide_env_values = true)]
    pub redis: Option<String>,
    /// PEM CA certificate(s) to trust for a rediss:// URL instead of the system's roots
    #[arg(long, env = "FAAS_REDIS_CACERT", value_name = "PEM")]
    pub redis_cacert: Option<PathBuf>,
    #[command(flatten)]
    pub replication: ReplicationArgs,
    /// Port of the REST API
    #[arg(long, short = 'p', default_value_t = 8000)]
    pub port: u16,
    /// Address to listen on (0.0.0.0 for all interfaces)
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Execution slots of the local dispatcher (tasks run at once)
    #[arg(short = 'w', long = "workers", default_value_t = default_slots())]
    pub slots: usize,
    /// Seconds before a task whose executor stopped renewing it runs again
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = crate::seconds::parse_positive)]
    pub lease: Duration,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub traces: TracesArgs,
}

/// How writes acknowledged to clients are replicated.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ReplicationArgs {
    /// Acknowledge a submission, a function or an API key only once this
    /// many Redis replicas hold it (Redis WAIT, up to 1 s; fewer: 503), so
    /// that a failover cannot lose it; 0: replication stays asynchronous
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        env = "FAAS_REDIS_WAIT_REPLICAS"
    )]
    pub redis_wait_replicas: u32,
}

/// How many tasks the store holds, and how long finished ones are kept.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct RetentionArgs {
    /// The most tasks queued (and running) at once, all tenants together;
    /// a submission beyond it is refused with 429 and stores nothing
    #[arg(long, value_name = "TASKS", default_value = "1000000")]
    pub max_queue_depth: u64,
    /// Seconds a finished task's status and result are kept (then its id
    /// is unknown) when its submission names no ttl; 86400 is a day
    ///
    /// The process that accepts a submission (`up`, `server`) stores the
    /// task's retention with it; a dispatcher applies its own only to
    /// tasks queued without one (by older versions). Queued and running
    /// tasks never expire.
    #[arg(long, value_name = "SECONDS", default_value = "86400", value_parser = crate::seconds::parse)]
    pub result_ttl: Duration,
    /// The longest ttl a submission may ask for, in seconds (longer asks
    /// get this); 604800 is a week
    #[arg(long, value_name = "SECONDS", default_value = "604800", value_parser = crate::seconds::parse)]
    pub max_result_ttl: Duration,
}

/// How modules are compiled, and where compiled code is kept.
#[derive(clap::Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Keep compiled code in this directory (made private, mode 0700), so
    /// that a restarted daemon, or another on this machine, does not
    /// compile a module again [default: $XDG_CACHE_HOME/faas/compiled, or
    /// ~/.cache/faas/compiled]
    #[arg(long, env = "FAAS_COMPILED_DIR", value_name = "DIR")]
    pub compiled_dir: Option<PathBuf>,
    /// Keep no compiled code on disk: every process compiles each module
    #[arg(long, conflicts_with = "compiled_dir")]
    pub no_compiled_cache: bool,
    /// Largest module accepted, in MiB (give every daemon of a deployment
    /// the same)
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_module_mib: u32,
    /// Seconds one module's compile may take before it is refused
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = crate::seconds::parse_positive)]
    pub compile_timeout: Duration,
}

impl SandboxArgs {
    /// `config` with these settings. The default directory is used only
    /// if it can be made private; else compiled code is not kept (a
    /// directory given explicitly must work: `Runtime::new` says why not).
    pub fn apply(&self, config: RuntimeConfig) -> RuntimeConfig {
        let compiled_dir = if self.no_compiled_cache {
            None
        } else if let Some(dir) = &self.compiled_dir {
            Some(dir.clone())
        } else {
            crate::build::local_compiled_dir()
        };
        RuntimeConfig {
            compiled_dir,
            max_module_bytes: self.max_module_mib as usize * 1024 * 1024,
            compile_timeout: self.compile_timeout,
            ..config
        }
    }
}

/// Who may call the REST API, and over what.
#[derive(clap::Args, Debug, Clone)]
pub struct AccessArgs {
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key)
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve without API keys (every caller is an admin); refused on an
    /// address beyond loopback
    #[arg(long)]
    pub no_auth: bool,
    /// Serve without API keys on any address: anyone who can reach the
    /// port can run code here
    #[arg(long)]
    pub insecure_no_auth: bool,
}

#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// Redis URL: redis://[USER:PASSWORD@]HOST:PORT, rediss:// for TLS,
    /// redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE,
    /// redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...][?partitions=N]
    #[arg(long, env = "FAAS_REDIS_URL", hide_env_values = true)]
    pub redis: String,
    /// PEM CA certificate(s) to trust for a rediss:// URL instead of the system's roots
    #[arg(long, env = "FAAS_REDIS_CACERT", value_name = "PEM")]
    pub redis_cacert: Option<PathBuf>,
    #[command(flatten)]
    pub replication: ReplicationArgs,
    /// Port of the REST API
    #[arg(long, short = 'p', default_value_t = 8000)]
    pub port: u16,
    /// Address to listen on (0.0.0.0 for all interfaces)
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub traces: TracesArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Run tasks on this process's own thread pool
    Local,
    /// Push tasks to worker daemons over ZeroMQ (ROUTER/DEALER)
    Push,
    /// Let worker daemons ask for tasks over ZeroMQ (REQ-style requests, long-polled)
    Pull,
}

#[derive(clap::Args, Debug)]
pub struct DispatcherArgs {
    /// Redis URL: redis://[USER:PASSWORD@]HOST:PORT, rediss:// for TLS,
    /// redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE,
    /// redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...][?partitions=N]
    #[arg(long, env = "FAAS_REDIS_URL", hide_env_values = true)]
    pub redis: String,
    /// PEM CA certificate(s) to trust for a rediss:// URL instead of the system's roots
    #[arg(long, env = "FAAS_REDIS_CACERT", value_name = "PEM")]
    pub redis_cacert: Option<PathBuf>,
    /// Dispatch mode
    #[arg(short = 'm', long, value_enum, default_value_t = Mode::Local)]
    pub mode: Mode,
    /// Execution slots in local mode
    #[arg(short = 'w', long = "workers", default_value_t = default_slots())]
    pub slots: usize,
    /// Port workers connect to (push and pull modes)
    #[arg(short = 'p', long, default_value_t = 7001)]
    pub port: u16,
    /// Seconds before a task whose executor stopped renewing it runs again
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = crate::seconds::parse_positive)]
    pub lease: Duration,
    /// Seconds of silence after which a worker is declared dead (push and pull modes)
    #[arg(long, value_name = "SECONDS", default_value = "3", value_parser = crate::seconds::parse_positive)]
    pub heartbeat_timeout: Duration,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// Address the worker port listens on (push and pull modes): 0.0.0.0
    /// (or ::) for all interfaces, so that workers on other hosts connect
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// The dispatcher's CURVE key pair (default: dispatcher.key in the
    /// credentials directory, created on first start)
    #[arg(long, env = "FAAS_DISPATCHER_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// The worker public keys to accept, one per line (default:
    /// workers.allow in the credentials directory, created on first start
    /// with the key of a worker.key made beside it); re-read when it changes
    #[arg(long, env = "FAAS_WORKERS_ALLOW")]
    pub allow_list: Option<PathBuf>,
    /// Plain ZMTP on the worker port: no encryption, no worker
    /// authentication. Loopback only, unless --insecure-no-auth
    #[arg(long)]
    pub no_curve: bool,
    /// No CURVE, even beyond loopback: anyone who reaches the port can take
    /// tasks and report results. Only on a network you trust
    #[arg(long)]
    pub insecure_no_auth: bool,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub traces: TracesArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerMode {
    /// Receive tasks pushed by a `dispatcher -m push`
    Push,
    /// Ask a `dispatcher -m pull` for tasks
    Pull,
}

#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// How tasks reach this worker
    #[arg(value_enum)]
    pub mode: WorkerMode,
    /// Execution slots (tasks run at once)
    pub slots: usize,
    /// The dispatcher's address, e.g. tcp://127.0.0.1:7001
    pub dispatcher: String,
    /// Name in logs and worker listings (default: host-pid)
    #[arg(long)]
    pub name: Option<String>,
    /// Pull mode: tasks to ask for beyond the free slots, per slot, queued
    /// behind the running ones (0: ask strictly for free slots)
    #[arg(long, default_value_t = faas_worker::DEFAULT_PULL_PREFETCH)]
    pub prefetch: usize,
    /// The dispatcher's CURVE public key: the 40-character Z85 key, or a
    /// file holding it (default: dispatcher.pub in the credentials directory)
    #[arg(long, env = "FAAS_DISPATCHER_KEY")]
    pub server_key: Option<String>,
    /// This worker's CURVE key pair, made by `faas keys worker` (default:
    /// worker.key in the credentials directory). FAAS_WORKER_SECRET_KEY (a
    /// Z85 secret key) may stand for it
    #[arg(long, env = "FAAS_WORKER_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Plain ZMTP, for a dispatcher started with --no-curve or --insecure-no-auth
    #[arg(long, alias = "insecure-no-auth")]
    pub no_curve: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub traces: TracesArgs,
}

/// Where a daemon sends its spans (docs/observability.md).
#[derive(clap::Args, Debug)]
pub struct TracesArgs {
    /// Export a trace per task over OTLP (HTTP/protobuf) to this collector,
    /// e.g. http://127.0.0.1:4318 (/v1/traces is added to a URL without a path)
    #[arg(long, env = "FAAS_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
}

impl TracesArgs {
    /// Starts the export, as `service`, if an endpoint was given.
    pub fn install(&self, service: &str) -> anyhow::Result<()> {
        if let Some(endpoint) = &self.otlp_endpoint {
            faas_traces::install(endpoint, service).map_err(anyhow::Error::msg)?;
            tracing::info!("exporting traces to {endpoint} as {service}");
        }
        Ok(())
    }
}

/// Logs to stderr; `RUST_LOG` overrides the level (info by default).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// A flag that turns true on Ctrl-C or SIGTERM.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("cannot watch SIGTERM: {e}");
                        let _ = ctrl_c.await;
                        let _ = tx.send(true);
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    rx
}

async fn until_true(mut flag: watch::Receiver<bool>) {
    while !*flag.borrow() {
        if flag.changed().await.is_err() {
            return;
        }
    }
}

fn store_config(lease: Duration, retention: RetentionArgs) -> anyhow::Result<StoreConfig> {
    if retention.result_ttl > retention.max_result_ttl {
        bail!(
            "--result-ttl ({} s) is longer than --max-result-ttl ({} s); raise --max-result-ttl",
            retention.result_ttl.as_secs_f64(),
            retention.max_result_ttl.as_secs_f64()
        );
    }
    Ok(StoreConfig {
        lease,
        result_ttl: retention.result_ttl,
        max_result_ttl: retention.max_result_ttl,
        max_queue_depth: retention.max_queue_depth,
        ..StoreConfig::default()
    })
}

/// The store of `--redis` (with `--redis-cacert`), or the embedded one.
pub(crate) async fn connect(
    redis: Option<&str>,
    ca_cert: Option<&Path>,
    config: StoreConfig,
) -> anyhow::Result<Store> {
    let replication = ReplicationArgs {
        redis_wait_replicas: 0,
    };
    connect_waiting(redis, ca_cert, replication, config).await
}

/// [`connect`], waiting for replicas (`--redis-wait-replicas`) where
/// writes are acknowledged to clients.
async fn connect_waiting(
    redis: Option<&str>,
    ca_cert: Option<&Path>,
    replication: ReplicationArgs,
    config: StoreConfig,
) -> anyhow::Result<Store> {
    let Some(url) = redis else {
        if ca_cert.is_some() {
            bail!("--redis-cacert needs a rediss:// URL (--redis)");
        }
        if replication.redis_wait_replicas > 0 {
            bail!("--redis-wait-replicas needs Redis (--redis)");
        }
        return Ok(Store::memory(config));
    };
    let mut options = RedisOptions {
        wait_replicas: replication.redis_wait_replicas,
        ..RedisOptions::default()
    };
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read the Redis CA certificate {}", path.display()))?;
        options.ca_cert_pem = Some(pem);
    }
    // Store errors show the URL without its password.
    Store::redis_with(url, &options, config)
        .await
        .context("cannot start without the store")
}

/// The HTTPS settings of `--tls-cert`/`--tls-key`, read now so that a
/// missing, unreadable or mismatched file stops the daemon before it
/// says it is ready.
fn tls(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> anyhow::Result<Option<std::sync::Arc<rustls::ServerConfig>>> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(faas_server::tls_config(cert, key)?)),
        (None, None) => Ok(None),
        _ => bail!("--tls-cert and --tls-key go together"),
    }
}

fn server_config(
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    auth: bool,
) -> (ServerConfig, &'static str) {
    let scheme = if tls.is_some() { "https" } else { "http" };
    (
        ServerConfig {
            tls,
            auth,
            ..ServerConfig::default()
        },
        scheme,
    )
}

fn runtime(instances: usize, sandbox: &SandboxArgs) -> anyhow::Result<Runtime> {
    Runtime::new(sandbox.apply(RuntimeConfig {
        max_concurrent_instances: u32::try_from(instances).unwrap_or(u32::MAX),
        ..RuntimeConfig::default()
    }))
    .context("cannot start the wasm runtime")
}

async fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    TcpListener::bind((host, port)).await.with_context(|| {
        format!("cannot listen on {host}:{port} (is another server using the port?)")
    })
}

/// Whether `host` names this machine only.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl AccessArgs {
    /// Whether to require keys, after checking the flags against the address.
    fn auth_required(&self, host: &str) -> anyhow::Result<bool> {
        if self.insecure_no_auth {
            return Ok(false);
        }
        if self.no_auth {
            if !is_loopback(host) {
                bail!(
                    "--no-auth on {host} would let anyone who reaches this port run code;                      listen on 127.0.0.1, or keep API keys on (the default),                      or pass --insecure-no-auth if you really mean it"
                );
            }
            return Ok(false);
        }
        Ok(true)
    }
}

/// With keys required: on a store that has none yet (a first start),
/// makes an admin key, prints it once and saves it where the CLI on this
/// machine finds it.
async fn prepare_keys(
    state: &AppState,
    listener: &TcpListener,
    scheme: &str,
) -> anyhow::Result<()> {
    let auth = state.config.auth;
    if !auth {
        tracing::warn!("API keys are off (--no-auth): every caller is an admin");
        return Ok(());
    }
    let Some(token) = faas_server::bootstrap_admin_key(state)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the first admin key: {}", e.detail))?
    else {
        return Ok(());
    };
    let addr = listener.local_addr()?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        match addr.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    };
    let url = format!("{scheme}://{host}:{}", addr.port());
    let saved = faas_client::credentials::save_token(&url, &token);
    // Shown once: the store keeps only its hash.
    eprintln!("created the first admin key (shown once): {token}");
    match saved {
        Ok(path) => tracing::info!(
            "saved the admin key for {url} to {} (the faas CLI on this machine reads it)",
            path.display()
        ),
        Err(e) => tracing::warn!(
            "cannot save the admin key to {}: {e}; pass it with --token or FAAS_TOKEN",
            faas_client::credentials::credentials_file().display()
        ),
    }
    Ok(())
}

fn local_config(slots: usize, lease: Duration, metrics: &Metrics) -> anyhow::Result<LocalConfig> {
    Ok(LocalConfig {
        renew_every: lease / 3,
        metrics: Some(Arc::new(DispatcherMetrics::new(metrics)?)),
        ..LocalConfig::new(slots)
    })
}

/// `faas up`: the REST server and a local dispatcher in one process.
pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let auth = args.access.auth_required(&args.host)?;
    args.traces.install("faas")?;
    let config = store_config(args.lease, args.retention)?;
    let lease = config.lease;
    let tls = tls(
        args.access.tls_cert.as_deref(),
        args.access.tls_key.as_deref(),
    )?;
    let store = connect_waiting(
        args.redis.as_deref(),
        args.redis_cacert.as_deref(),
        args.replication,
        config,
    )
    .await?;
    let runtime = runtime(args.slots + 4, &args.sandbox)?;
    let listener = bind(&args.host, args.port).await?;
    let (server_config, scheme) = server_config(tls, auth);
    let state = AppState::new(store.clone(), runtime.clone(), server_config);
    prepare_keys(&state, &listener, scheme).await?;
    let shutdown = shutdown_signal();
    let slots = args.slots.max(1);
    let dispatcher = tokio::spawn(run_local(
        store.clone(),
        runtime,
        local_config(slots, lease, &state.metrics)?,
        shutdown.clone(),
    ));
    tracing::info!(
        "faas up: listening on {scheme}://{} ({}, local dispatcher with {slots} slots)",
        listener.local_addr()?,
        store.describe()
    );
    serve(
        listener,
        router(state.clone()),
        &state.config,
        until_true(shutdown),
    )
    .await?;
    dispatcher.await.context("dispatcher task")??;
    Ok(())
}

/// `faas server`: the REST API alone, on Redis.
pub async fn server(args: ServerArgs) -> anyhow::Result<()> {
    let auth = args.access.auth_required(&args.host)?;
    args.traces.install("faas-server")?;
    let tls = tls(
        args.access.tls_cert.as_deref(),
        args.access.tls_key.as_deref(),
    )?;
    let config = store_config(StoreConfig::default().lease, args.retention)?;
    let store = connect_waiting(
        Some(&args.redis),
        args.redis_cacert.as_deref(),
        args.replication,
        config,
    )
    .await?;
    // The server only validates modules; one instance slot is plenty.
    let runtime = runtime(1, &args.sandbox)?;
    let listener = bind(&args.host, args.port).await?;
    let (server_config, scheme) = server_config(tls, auth);
    let state = AppState::new(store.clone(), runtime, server_config);
    prepare_keys(&state, &listener, scheme).await?;
    let shutdown = shutdown_signal();
    tracing::info!(
        "faas server: listening on {scheme}://{} ({})",
        listener.local_addr()?,
        store.describe()
    );
    serve(
        listener,
        router(state.clone()),
        &state.config,
        until_true(shutdown),
    )
    .await?;
    Ok(())
}

/// `faas worker push|pull SLOTS URL`: a worker daemon for a compute node.
/// Its ZeroMQ loop runs on a thread of its own; SIGTERM or Ctrl-C make it
/// hand back unstarted tasks, finish running ones and exit.
pub async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    if args.slots == 0 {
        bail!("SLOTS must be at least 1");
    }
    let mut config = faas_worker::WorkerConfig::new(args.slots, args.dispatcher);
    config.runtime = args.sandbox.apply(config.runtime);
    if let Some(name) = args.name {
        config.name = name;
    }
    if args.prefetch > faas_dispatcher::MAX_PULL_PREFETCH {
        bail!(
            "--prefetch is at most {} per slot",
            faas_dispatcher::MAX_PULL_PREFETCH
        );
    }
    config.prefetch = args.prefetch;
    args.traces.install("faas-worker")?;
    let metrics = Metrics::new();
    config.metrics = Some(Arc::new(WorkerMetrics::new(&metrics)?));
    args.metrics.serve(&metrics).await?;
    if !args.no_curve {
        let secret = std::env::var("FAAS_WORKER_SECRET_KEY")
            .ok()
            .filter(|s| !s.trim().is_empty());
        config.curve = Some(crate::port_keys::worker_keys(
            args.server_key.as_deref(),
            args.key_file.as_deref(),
            secret.as_deref(),
        )?);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut signal = shutdown_signal();
    let flag = stop.clone();
    tokio::spawn(async move {
        until_true(signal.clone()).await;
        let _ = signal.borrow_and_update();
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let run = match args.mode {
        WorkerMode::Push => faas_worker::run_push,
        WorkerMode::Pull => faas_worker::run_pull,
    };
    tokio::task::spawn_blocking(move || run(config, stop))
        .await
        .context("worker thread")??;
    Ok(())
}

/// Where and how a push or pull dispatcher's worker port listens.
struct WorkerPort {
    endpoint: String,
    curve: Option<CurveServer>,
}

/// The worker port's endpoint and CURVE keys (loaded, or on first start
/// created, in the credentials directory). Checked before anything
/// starts: without CURVE, only loopback unless --insecure-no-auth.
fn worker_port(args: &DispatcherArgs) -> anyhow::Result<WorkerPort> {
    let host = args.bind.trim();
    if host.is_empty() || host.contains(['/', '\0']) {
        bail!("--bind {host:?}: expected an address such as 127.0.0.1, 0.0.0.0 or ::");
    }
    let endpoint = if host.contains(':') && !host.starts_with('[') {
        format!("tcp://[{host}]:{}", args.port)
    } else {
        format!("tcp://{host}:{}", args.port)
    };
    let plain = args.no_curve || args.insecure_no_auth;
    if plain && !args.insecure_no_auth && !faas_dispatcher::is_loopback_endpoint(&endpoint) {
        bail!(
            "refusing to listen on {host} port {} without CURVE (--no-curve): any host that \
             reaches it could take tasks and report results. Drop --no-curve (workers then need \
             the dispatcher's public key and an allowed key pair: see the README's cluster \
             sections), bind 127.0.0.1, or add --insecure-no-auth on a network you trust",
            args.port
        );
    }
    if plain {
        return Ok(WorkerPort {
            endpoint,
            curve: None,
        });
    }
    let keys =
        crate::port_keys::dispatcher_keys(args.key_file.as_deref(), args.allow_list.as_deref())?;
    let allowed = AllowList::new(keys.allowed);
    crate::port_keys::watch_allow_list(keys.allow_list, allowed.clone());
    Ok(WorkerPort {
        endpoint,
        curve: Some(CurveServer {
            keys: keys.keys,
            allowed,
        }),
    })
}

/// `faas dispatcher`: runs queued tasks.
pub async fn dispatcher(args: DispatcherArgs) -> anyhow::Result<()> {
    let config = store_config(args.lease, args.retention)?;
    let lease = config.lease;
    let port = match args.mode {
        Mode::Local => None,
        Mode::Push | Mode::Pull => Some(worker_port(&args)?),
    };
    let store = connect(Some(&args.redis), args.redis_cacert.as_deref(), config).await?;
    args.traces.install("faas-dispatcher")?;
    let metrics = Metrics::new();
    args.metrics.serve(&metrics).await?;
    match (args.mode, port) {
        (Mode::Local, _) | (_, None) => {}
        (Mode::Push, Some(port)) => {
            let timeout = args.heartbeat_timeout;
            let config = PushConfig {
                heartbeat_timeout: timeout,
                heartbeat_interval: (timeout / 3).min(Duration::from_secs(1)),
                renew_every: lease / 3,
                endpoint: port.endpoint,
                curve: port.curve,
                allow_plain_beyond_loopback: args.insecure_no_auth,
                metrics: Some(Arc::new(DispatcherMetrics::new(&metrics)?)),
                ..PushConfig::new(args.port)
            };
            run_push(store, config, shutdown_signal()).await?;
            return Ok(());
        }
        (Mode::Pull, Some(port)) => {
            let timeout = args.heartbeat_timeout;
            let interval = (timeout / 3).min(Duration::from_secs(1));
            let config = PullConfig {
                heartbeat_timeout: timeout,
                heartbeat_interval: interval,
                hold: interval,
                renew_every: lease / 3,
                endpoint: port.endpoint,
                curve: port.curve,
                allow_plain_beyond_loopback: args.insecure_no_auth,
                metrics: Some(Arc::new(DispatcherMetrics::new(&metrics)?)),
                ..PullConfig::new(args.port)
            };
            run_pull(store, config, shutdown_signal()).await?;
            return Ok(());
        }
    }
    let slots = args.slots.max(1);
    let runtime = runtime(slots + 4, &args.sandbox)?;
    let shutdown = shutdown_signal();
    tracing::info!(
        "faas dispatcher ready: mode local, {slots} slots, {}",
        store.describe()
    );
    run_local(
        store,
        runtime,
        local_config(slots, lease, &metrics)?,
        shutdown,
    )
    .await?;
    Ok(())
}

//! How a worker is set up (`WorkerConfig`), why it cannot start
//! (`WorkerError`), and the checks done before any socket exists: the
//! dispatcher URL, the worker's name and its ZeroMQ routing id.

use faas_protocol::curve::{CurveKey, KeyPair};
use faas_runtime::{RuntimeConfig, RuntimeError};
use std::net::ToSocketAddrs;

/// Settings of a worker daemon.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Tasks run at once (the executor's slots, announced in `REGISTER`).
    pub slots: usize,
    /// The dispatcher's endpoint, e.g. `tcp://127.0.0.1:7001`.
    pub dispatcher: String,
    /// This worker's name in logs and in its `REGISTER` body.
    pub name: String,
    /// Pull mode: tasks asked for beyond the free slots, per slot, to
    /// queue behind the running ones so a freed slot starts its next task
    /// without a round trip (0: ask strictly for free slots).
    pub prefetch: usize,
    /// The sandbox's limits; `max_concurrent_instances` is raised to
    /// `slots` if it is lower.
    pub runtime: RuntimeConfig,
    /// CURVE: the dispatcher's public key and this worker's key pair;
    /// `None`: plain ZMTP (the dispatcher must run without CURVE too).
    pub curve: Option<CurveClient>,
    /// Where it counts what it runs (`--metrics-port`); None: not counted.
    pub metrics: Option<std::sync::Arc<faas_metrics::WorkerMetrics>>,
}

/// A worker's CURVE settings.
#[derive(Debug, Clone)]
pub struct CurveClient {
    /// The dispatcher's public key: the worker talks to nothing else.
    pub server: CurveKey,
    /// This worker's key pair; its public key must be on the dispatcher's
    /// allow-list.
    pub keys: KeyPair,
}

impl WorkerConfig {
    /// A worker named `<hostname>-<pid>` with the default sandbox limits,
    /// its instance pool sized to `slots`.
    pub fn new(slots: usize, dispatcher: impl Into<String>) -> Self {
        WorkerConfig {
            slots,
            dispatcher: dispatcher.into(),
            name: default_name(),
            prefetch: DEFAULT_PULL_PREFETCH,
            runtime: RuntimeConfig {
                max_concurrent_instances: u32::try_from(slots.max(1)).unwrap_or(u32::MAX),
                ..RuntimeConfig::default()
            },
            curve: None,
            metrics: None,
        }
    }
}

impl WorkerConfig {
    /// What can be checked before anything starts: at least one slot and a
    /// dispatcher URL libzmq can connect to.
    pub(crate) fn check(&self) -> Result<(), WorkerError> {
        if self.slots == 0 {
            return Err(WorkerError::NoSlots);
        }
        if self.name.len() > faas_protocol::MAX_NAME_BYTES {
            return Err(WorkerError::LongName(faas_protocol::MAX_NAME_BYTES));
        }
        check_url(&self.dispatcher)
    }

    fn security(&self) -> String {
        match &self.curve {
            Some(curve) => format!(
                "CURVE on (this worker's public key {}, dispatcher's {})",
                curve.keys.public, curve.server
            ),
            None => "CURVE off".to_string(),
        }
    }

    /// Logged at start, before the dispatcher answers (it may never: a
    /// refused key looks like no dispatcher), so the key to allow shows.
    pub(crate) fn log_connecting(&self, mode: &str) {
        tracing::info!(
            worker = %self.name,
            "faas worker connecting: {mode} mode, dispatcher {}, {}",
            self.dispatcher,
            self.security()
        );
    }

    /// The ready line (end-to-end tests wait for "faas worker ready").
    pub(crate) fn log_ready(&self, mode: &str) {
        let security = self.security();
        tracing::info!(
            worker = %self.name,
            "faas worker ready: {mode} mode, {} slot{}, dispatcher {}, {security}",
            self.slots,
            if self.slots == 1 { "" } else { "s" },
            self.dispatcher
        );
    }

    /// What to check when the dispatcher says nothing: with CURVE, a
    /// dispatcher that refuses this worker's key closes the connection
    /// during the handshake, which looks the same as no dispatcher.
    pub(crate) fn silence_hint(&self) -> String {
        match &self.curve {
            Some(curve) => format!(
                " (if the dispatcher runs: is this worker's public key {} on its allow-list, \
                 and is its public key {}? Without CURVE on both sides they cannot talk)",
                curve.keys.public, curve.server
            ),
            None => String::new(),
        }
    }
}

/// Pull mode's default prefetch per slot.
pub const DEFAULT_PULL_PREFETCH: usize = 2;

/// Why a worker could not start. Once running, a worker does not fail: bad
/// messages are dropped and a lost dispatcher is waited for.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("a worker needs at least one slot")]
    NoSlots,
    #[error("a worker's name is at most {0} bytes")]
    LongName(usize),
    #[error("bad dispatcher address {url:?}: {reason} (expected e.g. tcp://HOST:PORT)")]
    BadUrl { url: String, reason: String },
    #[error("cannot set up the ZeroMQ socket ({what}): {source}")]
    Zmq {
        what: &'static str,
        #[source]
        source: zmq::Error,
    },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("cannot start the worker's threads: {0}")]
    Threads(#[from] std::io::Error),
    #[error(
        "the dispatcher at {dispatcher} refused this worker's key {key} (ZAP status {status}): \
         put that public key on the dispatcher's allow-list (workers.allow, re-read within \
         seconds), then start the worker again"
    )]
    Refused {
        dispatcher: String,
        key: String,
        status: u32,
    },
}

impl WorkerConfig {
    /// The error of a worker whose key the dispatcher refused.
    pub(crate) fn refused(&self, status: u32) -> WorkerError {
        WorkerError::Refused {
            dispatcher: self.dispatcher.clone(),
            key: self
                .curve
                .as_ref()
                .map_or_else(|| "(none)".into(), |c| c.keys.public.to_z85()),
            status,
        }
    }
}

impl WorkerError {
    pub(crate) fn zmq(what: &'static str) -> impl FnOnce(zmq::Error) -> WorkerError {
        move |source| WorkerError::Zmq { what, source }
    }
}

/// `<hostname>-<pid>`.
pub fn default_name() -> String {
    format!("{}-{}", hostname(), std::process::id())
}

fn hostname() -> String {
    let from_file = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "worker".to_string())
}

/// A routing id unique to this process: the name plus a random suffix, at
/// most 255 bytes, never starting with a zero byte (libzmq reserves those).
pub(crate) fn routing_id(name: &str) -> Vec<u8> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let suffix = &suffix[..12];
    let mut base: String = name.chars().filter(|c| !c.is_control()).collect();
    if base.is_empty() {
        base = "worker".into();
    }
    let room = 255 - suffix.len() - 1;
    while base.len() > room {
        base.pop();
    }
    format!("{base}-{suffix}").into_bytes()
}

/// Checks a dispatcher endpoint before libzmq sees it: a known transport,
/// no NUL byte (the zmq crate would panic), and for TCP a host that
/// resolves and a port, so a typo fails at start with a clear message
/// instead of a worker that waits forever.
pub(crate) fn check_url(url: &str) -> Result<(), WorkerError> {
    let bad = |reason: &str| WorkerError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    if url.contains('\0') {
        return Err(bad("it contains a NUL byte"));
    }
    let Some((transport, address)) = url.split_once("://") else {
        return Err(bad("no transport (tcp://, ipc://)"));
    };
    match transport {
        "ipc" | "inproc" if !address.is_empty() => Ok(()),
        "tcp" => check_tcp(address).map_err(|reason| bad(&reason)),
        "ipc" | "inproc" => Err(bad("empty address")),
        other => Err(bad(&format!("unsupported transport {other:?}"))),
    }
}

fn check_tcp(address: &str) -> Result<(), String> {
    // libzmq's `source;destination` form: check the destination.
    let address = address.rsplit(';').next().unwrap_or(address);
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err("no port".into());
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port {port:?} is not a number from 1 to 65535"))?;
    if port == 0 {
        return Err("port 0 cannot be connected to".into());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host == "*" {
        return Err("no host".into());
    }
    match (host, port).to_socket_addrs() {
        Ok(addrs) if !addrs.as_slice().is_empty() => Ok(()),
        Ok(_) => Err(format!("host {host:?} has no address")),
        Err(e) => Err(format!("cannot resolve host {host:?}: {e}")),
    }
}

/// Whether a TCP endpoint names an IPv6 literal (libzmq then needs
/// `ZMQ_IPV6`).
pub(crate) fn is_ipv6_literal(url: &str) -> bool {
    url.strip_prefix("tcp://")
        .map(|rest| rest.rsplit(';').next().unwrap_or(rest))
        .is_some_and(|rest| rest.starts_with('['))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_urls_pass() {
        for url in [
            "tcp://127.0.0.1:7001",
            "tcp://localhost:7001",
            "tcp://[::1]:7001",
            "ipc:///tmp/x.sock",
        ] {
            assert!(check_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, why) in [
            ("127.0.0.1:7001", "transport"),
            ("http://127.0.0.1:7001", "unsupported transport"),
            ("tcp://127.0.0.1", "no port"),
            ("tcp://127.0.0.1:x", "not a number"),
            ("tcp://127.0.0.1:0", "port 0"),
            ("tcp://:7001", "no host"),
            ("tcp://*:7001", "no host"),
            ("tcp://no-such-host.invalid:7001", "cannot resolve"),
            ("tcp://a\0b:1", "NUL"),
            ("ipc://", "empty"),
        ] {
            let e = check_url(url).expect_err(url).to_string();
            assert!(e.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn routing_ids_are_unique_and_bounded() {
        let a = routing_id("host-1");
        let b = routing_id("host-1");
        assert_ne!(a, b);
        assert!(a.starts_with(b"host-1-"));
        assert_eq!(routing_id(&"x".repeat(1000)).len(), 255);
        assert!(routing_id("").starts_with(b"worker-"));
        assert!(routing_id("é".repeat(200).as_str()).len() <= 255);
    }

    #[test]
    fn default_config() {
        let config = WorkerConfig::new(4, "tcp://127.0.0.1:7001");
        assert_eq!(config.slots, 4);
        assert_eq!(config.runtime.max_concurrent_instances, 4);
        assert!(config.name.ends_with(&format!("-{}", std::process::id())));
        assert!(is_ipv6_literal("tcp://[::1]:1"));
        assert!(!is_ipv6_literal("tcp://127.0.0.1:1"));
    }
}

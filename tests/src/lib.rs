//! Test harness for the end-to-end suite (and the store suite): free ports,
//! a private `redis-server` (optionally with an ACL user and TLS), test
//! certificates, real `faas` processes started and awaited by their ready
//! line, kill -9, and cleanup on drop.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod cluster;
pub mod netlab;
pub mod units;

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Installs rustls' ring provider as the process default, once: reqwest is
/// built with rustls but no provider of its own (aws-lc-rs needs cmake),
/// and a `reqwest::Client` built before one is installed panics.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Deprecated in rustls 0.23.48 only for lacking post-quantum key exchange.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A CA and a server certificate it signed (for 127.0.0.1 and localhost),
/// as PEM files in a private directory removed on drop; and a key that
/// belongs to no certificate, to test mismatches.
pub struct TestCerts {
    dir: PathBuf,
    /// The CA's certificate: what a client trusts.
    pub ca: PathBuf,
    /// The server's certificate, signed by the CA.
    pub cert: PathBuf,
    /// The server certificate's private key.
    pub key: PathBuf,
    /// A private key of no certificate here.
    pub other_key: PathBuf,
}

impl TestCerts {
    pub fn generate() -> TestCerts {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("faas-certs-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("certs dir");

        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "faas test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "faas test server");
        let cert = params.signed_by(&key, &issuer).expect("server certificate");
        let other_key = KeyPair::generate().expect("other key");

        let certs = TestCerts {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            other_key: dir.join("other.key"),
            dir,
        };
        for (path, pem) in [
            (&certs.ca, ca_cert.pem()),
            (&certs.cert, cert.pem()),
            (&certs.key, key.serialize_pem()),
            (&certs.other_key, other_key.serialize_pem()),
        ] {
            std::fs::write(path, pem).expect("write PEM");
        }
        certs
    }

    /// `path` as a `&str` for command lines.
    pub fn arg(path: &std::path::Path) -> &str {
        path.to_str().expect("temp paths are UTF-8")
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How to start a [`RedisServer`].
#[derive(Default)]
pub struct RedisOptions {
    /// AOF persistence (`appendfsync always`) in a private directory.
    pub appendonly: bool,
    /// An ACL user with this name and password, allowed what the README
    /// grants faas (its own keys and channels, no dangerous commands); the
    /// `default` user is then disabled, so every client must log in.
    pub user: Option<(String, String)>,
    /// Listen for TLS only (`--tls-port`), with this server certificate.
    pub tls: Option<TestCerts>,
    /// A replica of the Redis on this loopback port (`--replicaof`).
    pub replica_of: Option<u16>,
    /// The address to listen on instead of 127.0.0.1 (a lab host's).
    pub bind: Option<std::net::Ipv4Addr>,
}

/// True if this `redis-server` was built with TLS (Debian's is). Started
/// with `--tls-port` and no certificate, a TLS build exits saying
/// "No tls-cert-file configured"; a build without TLS exits rejecting the
/// option.
pub fn redis_has_tls() -> bool {
    let port = free_port().to_string();
    let child = Command::new("redis-server")
        .args(["--port", "0", "--tls-port", &port, "--bind", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    if wait_or_kill_child(&mut child, Duration::from_secs(5)).is_none() {
        return false; // it ran: not the answer expected of either build
    }
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut text);
    }
    text.contains("tls-cert-file")
}

/// Waits up to `timeout` for `child` to exit (killing it if it does not);
/// its exit code, or None if it was killed.
fn wait_or_kill_child(child: &mut Child, timeout: Duration) -> Option<Option<i32>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status.code());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `redis-server` of our own on a free port, stopped on drop. Persistence
/// is off unless asked for.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: PathBuf,
    options: RedisOptions,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(RedisOptions::default())
    }

    /// With AOF persistence (`appendfsync always`) in a private directory.
    pub fn start_persistent() -> RedisServer {
        Self::start_with(RedisOptions {
            appendonly: true,
            ..RedisOptions::default()
        })
    }

    pub fn start_with(options: RedisOptions) -> RedisServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("faas-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let mut server = RedisServer {
            port,
            child: None,
            dir,
            options,
        };
        server.restart();
        server
    }

    /// The URL a client uses: `rediss://` with TLS, with the user and
    /// password if there is a user.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        match &self.options.user {
            Some((user, password)) => {
                format!("{scheme}://{user}:{password}@{}:{}", self.host(), self.port)
            }
            None => format!("{scheme}://{}:{}", self.host(), self.port),
        }
    }

    /// The URL without credentials (or with other ones).
    pub fn url_as(&self, userinfo: Option<&str>) -> String {
        let scheme = if self.options.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        match userinfo {
            Some(userinfo) => format!("{scheme}://{userinfo}@{}:{}", self.host(), self.port),
            None => format!("{scheme}://{}:{}", self.host(), self.port),
        }
    }

    /// The address it listens on.
    pub fn host(&self) -> std::net::Ipv4Addr {
        self.options.bind.unwrap_or(std::net::Ipv4Addr::LOCALHOST)
    }

    /// A config directory for the daemons of this store: the first server
    /// saves the admin key it makes there, and every later one (they share
    /// the store, so its keys) finds it there.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.join("config")
    }

    /// Starts the server (again, on the same port and directory).
    pub fn restart(&mut self) {
        let mut cmd = Command::new("redis-server");
        match &self.options.tls {
            None => {
                cmd.arg("--port").arg(self.port.to_string());
            }
            Some(certs) => {
                cmd.args(["--port", "0", "--tls-port"])
                    .arg(self.port.to_string())
                    .arg("--tls-cert-file")
                    .arg(&certs.cert)
                    .arg("--tls-key-file")
                    .arg(&certs.key)
                    .arg("--tls-ca-cert-file")
                    .arg(&certs.ca)
                    .args(["--tls-auth-clients", "no"]);
            }
        }
        if let Some((user, password)) = &self.options.user {
            // A directive's words are separate arguments (one quoted
            // argument would be read as a user name with spaces).
            cmd.args(["--user", user, "on"])
                .arg(format!(">{password}"))
                .args(["~faas:*", "&faas:*", "&tasks", "+@all", "-@dangerous"])
                .args(["--user", "default", "off"]);
        }
        if let Some(primary) = self.options.replica_of {
            cmd.args(["--replicaof", "127.0.0.1"])
                .arg(primary.to_string());
        }
        cmd.arg("--bind")
            .arg(self.host().to_string())
            .arg("--dir")
            .arg(&self.dir)
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg(if self.options.appendonly { "yes" } else { "no" })
            .arg("--appendfsync")
            .arg("always")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .expect("redis-server runs (install it: apt-get install redis-server)");
        self.child = Some(child);
        wait_for_addr(self.host(), self.port, Duration::from_secs(10));
    }

    /// Stops the server (SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `redis-cli -p PORT ARGS` on loopback with `input` on its stdin
/// (commands, one a line); its output, a reply a line.
pub fn redis_cli(port: u16, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli runs (it comes with redis-server)");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("redis-cli output");
    let _ = writer.join();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Redis Sentinel on loopback: a primary, one replica and three
/// Sentinels watching them under the name [`Sentinels::SERVICE`] (quorum
/// 2, the primary declared down after 1 s), all stopped on drop.
pub struct Sentinels {
    pub primary: RedisServer,
    pub replica: RedisServer,
    pub ports: Vec<u16>,
    sentinels: Vec<Child>,
    dir: PathBuf,
}

impl Sentinels {
    pub const SERVICE: &'static str = "faas";

    pub fn start() -> Sentinels {
        let primary = RedisServer::start();
        let replica = RedisServer::start_with(RedisOptions {
            replica_of: Some(primary.port),
            ..RedisOptions::default()
        });
        let dir = std::env::temp_dir().join(format!(
            "faas-sentinels-{}-{}",
            primary.port,
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("sentinel dir");
        let mut set = Sentinels {
            primary,
            replica,
            ports: Vec::new(),
            sentinels: Vec::new(),
            dir,
        };
        set.wait_replica_synced(Duration::from_secs(20));
        for n in 0..3 {
            let port = free_port();
            // Sentinel rewrites its configuration file: one each, writable.
            let conf = set.dir.join(format!("sentinel-{n}.conf"));
            let text = format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor {service} 127.0.0.1 {primary} 2\n\
                 sentinel down-after-milliseconds {service} 1000\n\
                 sentinel failover-timeout {service} 10000\n\
                 sentinel parallel-syncs {service} 1\n",
                dir = set.dir.display(),
                service = Self::SERVICE,
                primary = set.primary.port,
            );
            std::fs::write(&conf, text).expect("sentinel.conf");
            let child = Command::new("redis-server")
                .arg(&conf)
                .arg("--sentinel")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server --sentinel runs");
            set.sentinels.push(child);
            set.ports.push(port);
            wait_for_port(port, Duration::from_secs(10));
        }
        // Every Sentinel has found the replica and the other Sentinels.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !set.ports.iter().all(|&p| {
            let info = redis_cli(p, &["SENTINEL", "MASTER", Self::SERVICE], "");
            field_after(&info, "num-slaves") == Some("1")
                && field_after(&info, "num-other-sentinels") == Some("2")
        }) {
            assert!(Instant::now() < deadline, "the Sentinels never met");
            std::thread::sleep(Duration::from_millis(100));
        }
        set
    }

    /// `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/faas`.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+sentinel://{}/{}", hosts.join(","), Self::SERVICE)
    }

    /// The primary's port as the first Sentinel that answers names it.
    pub fn primary_port(&self) -> Option<u16> {
        self.ports.iter().find_map(|&p| {
            let out = redis_cli(
                p,
                &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self::SERVICE],
                "",
            );
            out.lines().nth(1)?.trim().parse().ok()
        })
    }

    /// Waits until the replica holds all the primary has written.
    fn wait_replica_synced(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let info = redis_cli(self.replica.port, &["INFO", "replication"], "");
            if info.contains("master_link_status:up") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the replica never synced: {info}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the Sentinels name the replica as the primary.
    pub fn wait_failover(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.primary_port() != Some(self.replica.port) {
            assert!(
                Instant::now() < deadline,
                "no failover to the replica within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// In `SENTINEL MASTER`'s output (a field name a line, its value the next),
/// the value of `name`.
fn field_after<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == name {
            return lines.next().map(str::trim);
        }
    }
    None
}

impl Drop for Sentinels {
    fn drop(&mut self) {
        for child in &mut self.sentinels {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    wait_for_addr(std::net::Ipv4Addr::LOCALHOST, port, timeout)
}

/// Waits until something accepts TCP connections on `host:port`.
pub fn wait_for_addr(host: std::net::Ipv4Addr, port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect((host, port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on {host}:{port} after {timeout:?}");
}

/// The credentials directory (`FAAS_CONFIG_DIR`) of every `faas` process
/// started here, unless a test passes its own: private to this test
/// process, so that tests never touch the real `~/.config/faas`. The first
/// push or pull dispatcher creates its keys there (and a worker key pair
/// on its allow-list), and workers started here find them.
pub fn test_config_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| std::env::temp_dir().join(format!("faas-e2e-config-{}", std::process::id())))
        .clone()
}

/// The `faas` binary built by cargo for this workspace.
pub fn faas_bin() -> PathBuf {
    if let Ok(path) = std::env::var("CARGO_BIN_EXE_faas") {
        return PathBuf::from(path);
    }
    // Tests in other crates: target/<profile>/faas next to the test binary's deps dir.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("faas")
}

/// A running `faas` process, killed on drop. Its stderr and stdout lines
/// are collected; `start` returns once a line contains `ready_marker`.
pub struct Daemon {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    pub log: Vec<String>,
    /// Its `FAAS_CONFIG_DIR` (never the user's own), and whether it is
    /// ours to remove.
    config_dir: PathBuf,
    owns_config_dir: bool,
}

/// A config directory path no other test uses (not created): tests never
/// read or write the user's own `~/.config/faas`.
pub fn fresh_config_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("faas-test-config-{}-{n}", std::process::id()))
}

/// The first API token in a config directory's credentials file.
pub fn saved_token(config_dir: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(config_dir.join("credentials")).ok()?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("token"))
        .filter_map(|rest| rest.trim().strip_prefix('='))
        .map(|t| t.trim().to_string())
        .next()
}

impl Daemon {
    pub fn start(args: &[&str], ready_marker: &str) -> Daemon {
        Self::start_env(args, &[], ready_marker)
    }

    /// Starts `faas ARGS` with extra environment. Unless `env` sets
    /// `FAAS_CONFIG_DIR`: a REST daemon (`up`, `server`) gets a fresh one
    /// of its own (removed on drop) to save its admin key in, and every
    /// other daemon the test process's shared one (`test_config_dir`), so
    /// workers find their dispatcher's keys.
    pub fn start_env(args: &[&str], env: &[(&str, &str)], ready_marker: &str) -> Daemon {
        Self::start_on(None, args, env, ready_marker)
    }

    /// As [`Daemon::start_env`], inside a host of a [`netlab::Lab`] (or
    /// where the calling thread is, for `None`).
    pub fn start_on(
        host: Option<&netlab::Host>,
        args: &[&str],
        env: &[(&str, &str)],
        ready_marker: &str,
    ) -> Daemon {
        let mut daemon = Self::launch_on(host, args, env);
        daemon.wait_for_line(ready_marker, Duration::from_secs(60));
        daemon
    }

    /// As [`Daemon::start_on`], without waiting for it to be ready (many
    /// start at once; [`Daemon::wait_for_line`] then waits for each).
    pub fn launch_on(host: Option<&netlab::Host>, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let given = env
            .iter()
            .find(|(k, _)| *k == "FAAS_CONFIG_DIR")
            .map(|(_, v)| PathBuf::from(v));
        let rest_daemon = matches!(args.first(), Some(&"up" | &"server"));
        let owns_config_dir = given.is_none() && rest_daemon;
        let config_dir = given.unwrap_or_else(|| {
            if rest_daemon {
                fresh_config_dir()
            } else {
                test_config_dir()
            }
        });
        let mut cmd = match host {
            Some(host) => host.command(faas_bin()),
            None => Command::new(faas_bin()),
        };
        cmd.args(args)
            .env("FAAS_CONFIG_DIR", &config_dir)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", faas_bin()));
        let (tx, rx) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Daemon {
            child: Some(child),
            lines: rx,
            log: Vec::new(),
            config_dir,
            owns_config_dir,
        }
    }

    /// Waits for an output line containing `marker`; panics with the log
    /// if it does not come or the process exits.
    pub fn wait_for_line(&mut self, marker: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(marker) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => panic!(
                    "no line containing {marker:?} within {timeout:?}; output so far:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// Collects output lines that arrived so far.
    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.log.push(line);
        }
        &self.log
    }

    /// The admin key the daemon saved on its first start (or that an
    /// earlier daemon sharing its config directory saved).
    pub fn token(&self) -> Option<String> {
        saved_token(&self.config_dir)
    }

    pub fn config_dir(&self) -> &std::path::Path {
        &self.config_dir
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the exit; returns the exit status code.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        wait_or_kill(child, timeout)
    }

    /// True if the process has ended (by itself or killed); does not wait.
    pub fn has_exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// Waits for the process to exit by itself; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.take()?;
        wait_or_kill(child, timeout)
    }
}

/// Waits up to `timeout` for `child` to exit and returns its exit code;
/// kills it (and returns None) if it does not.
fn wait_or_kill(mut child: Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if self.owns_config_dir {
            let _ = std::fs::remove_dir_all(&self.config_dir);
        }
    }
}

/// A `faas` command that ran to its end (or was killed at its time limit).
#[derive(Debug)]
pub struct Exited {
    /// The exit code; `None` if it was killed (time limit, signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// True if it was still running at the time limit and was killed.
    pub timed_out: bool,
}

/// Runs `faas ARGS` with extra environment variables, stdin closed, and
/// waits up to `timeout` for it to exit (then kills it). Unless `env`
/// sets `FAAS_CONFIG_DIR`, it gets the test process's (`test_config_dir`).
pub fn run_faas(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Exited {
    let started = Instant::now();
    let mut child = Command::new(faas_bin())
        .args(args)
        .env("FAAS_CONFIG_DIR", test_config_dir())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", faas_bin()));
    let read_all = |stream: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut stream) = stream {
                let mut bytes = Vec::new();
                let _ = stream.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let stdout = read_all(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    );
    let stderr = read_all(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    );
    let deadline = started + timeout;
    let mut timed_out = false;
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Exited {
        code,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        elapsed: started.elapsed(),
        timed_out,
    }
}

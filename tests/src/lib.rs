//! Test harness for the end-to-end suite (and the store suite): free ports,
//! a private `redis-server`, real `faas` processes started and awaited by
//! their ready line, kill -9, and cleanup on drop.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `redis-server` of our own on a free port, stopped on drop. Persistence
/// is off unless asked for.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: PathBuf,
    appendonly: bool,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(false)
    }

    /// With AOF persistence (`appendfsync always`) in a private directory.
    pub fn start_persistent() -> RedisServer {
        Self::start_with(true)
    }

    fn start_with(appendonly: bool) -> RedisServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("faas-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let mut server = RedisServer {
            port,
            child: None,
            dir,
            appendonly,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, on the same port and directory).
    pub fn restart(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(&self.dir)
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg(if self.appendonly { "yes" } else { "no" })
            .arg("--appendfsync")
            .arg("always")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .expect("redis-server runs (install it: apt-get install redis-server)");
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(10));
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

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on port {port} after {timeout:?}");
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
}

impl Daemon {
    pub fn start(args: &[&str], ready_marker: &str) -> Daemon {
        Self::start_env(args, &[], ready_marker)
    }

    pub fn start_env(args: &[&str], env: &[(&str, &str)], ready_marker: &str) -> Daemon {
        let mut cmd = Command::new(faas_bin());
        cmd.args(args)
            .env("FAAS_CONFIG_DIR", test_config_dir())
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
        let mut daemon = Daemon {
            child: Some(child),
            lines: rx,
            log: Vec::new(),
        };
        daemon.wait_for_line(ready_marker, Duration::from_secs(60));
        daemon
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
/// waits up to `timeout` for it to exit (then kills it).
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

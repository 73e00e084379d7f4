//! What the worker's integration tests share: log capture (the end-to-end
//! tests wait for the ready line), the worker under test on a thread of its
//! own, and task ids, messages and modules.
#![allow(dead_code)]

use faas_protocol::{FunctionInfo, TaskMessage, TaskRef};
use faas_worker::{WorkerConfig, WorkerError};
use serde_json::Value;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const ADD: &str = r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;
pub const NOOP: &str = r#"(module (func (export "noop")))"#;
pub const BOOM: &str = r#"(module (func (export "boom") unreachable))"#;
pub const SPIN: &str = r#"(module (func (export "spin") (loop (br 0))))"#;

// ---- log capture -------------------------------------------------------

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        std::io::stderr().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_writer(|| Capture)
        .with_ansi(false)
        .with_env_filter("faas_worker=debug")
        .try_init();
}

pub fn logs_contain(text: &str) -> bool {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|e| e.into_inner())).contains(text)
}

// ---- the test dispatchers' socket --------------------------------------

/// A ROUTER bound for a test dispatcher.
pub struct Router {
    socket: zmq::Socket,
    /// Where it is bound (with the port chosen).
    pub endpoint: String,
    _context: zmq::Context,
}

impl Router {
    /// Binds `endpoint`, e.g. `tcp://127.0.0.1:*` for a free port.
    pub fn bind(endpoint: &str) -> Self {
        let context = zmq::Context::new();
        let socket = context.socket(zmq::ROUTER).unwrap();
        socket.set_linger(0).unwrap();
        socket.set_router_mandatory(true).unwrap();
        socket.bind(endpoint).unwrap();
        let endpoint = socket.get_last_endpoint().unwrap().unwrap();
        Router {
            socket,
            endpoint,
            _context: context,
        }
    }

    /// The next message's routing id and frames, or None after `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
        if self
            .socket
            .poll(zmq::POLLIN, timeout.as_millis() as i64)
            .unwrap()
            == 0
        {
            return None;
        }
        let mut frames = self.socket.recv_multipart(0).unwrap();
        let id = frames.remove(0);
        Some((id, frames))
    }

    pub fn send(&self, to: &[u8], frames: Vec<Vec<u8>>) {
        let mut all = vec![to.to_vec()];
        all.extend(frames);
        self.socket.send_multipart(all, 0).unwrap();
    }
}

// ---- the worker under test --------------------------------------------

/// `run_push` or `run_pull`.
pub type Run = fn(WorkerConfig, Arc<AtomicBool>) -> Result<(), WorkerError>;

pub struct Worker {
    pub shutdown: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), WorkerError>>>,
    /// The worker thread's `/proc` stat file, to read its CPU time.
    stat: Arc<Mutex<Option<std::path::PathBuf>>>,
}

impl Worker {
    pub fn start(run: Run, slots: usize, endpoint: &str) -> Self {
        Self::start_with(run, slots, endpoint, |_| {})
    }

    pub fn start_with(
        run: Run,
        slots: usize,
        endpoint: &str,
        tweak: impl FnOnce(&mut WorkerConfig),
    ) -> Self {
        init_logs();
        let mut config = WorkerConfig::new(slots, endpoint);
        config.name = "test-worker".into();
        tweak(&mut config);
        let shutdown = Arc::new(AtomicBool::new(false));
        let stat = Arc::new(Mutex::new(None));
        let thread = {
            let (shutdown, stat) = (shutdown.clone(), stat.clone());
            std::thread::spawn(move || {
                let own = std::fs::read_link("/proc/thread-self")
                    .ok()
                    .map(|p| p.join("stat"));
                *stat.lock().unwrap_or_else(|e| e.into_inner()) =
                    own.map(|p| std::path::Path::new("/proc").join(p));
                run(config, shutdown)
            })
        };
        Worker {
            shutdown,
            thread: Some(thread),
            stat,
        }
    }

    /// CPU time of the worker's I/O thread so far, if `/proc` says.
    pub fn cpu(&self) -> Option<Duration> {
        let path = self
            .stat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let stat = std::fs::read_to_string(path).ok()?;
        // Fields after the command name (which is in parentheses): utime
        // and stime are the 12th and 13th, in clock ticks (100 per second).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(ticks * 10))
    }

    pub fn stop(&mut self) -> Result<(), WorkerError> {
        self.shutdown.store(true, Ordering::Relaxed);
        self.join(Duration::from_secs(20))
    }

    /// Waits for the worker to return by itself.
    pub fn join(&mut self, within: Duration) -> Result<(), WorkerError> {
        let thread = self.thread.take().expect("running");
        let deadline = Instant::now() + within;
        while !thread.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the worker did not return within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        thread.join().expect("the worker panicked")
    }

    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Relaxed);
    }
}

// ---- tasks -------------------------------------------------------------

pub fn task_ref(attempt: u32) -> TaskRef {
    TaskRef {
        task_id: Uuid::new_v4(),
        attempt,
        receipt: format!("receipt-{}", Uuid::new_v4()),
    }
}

/// A `TASK` body calling export `name` of function `function_id`.
pub fn task_message(task: &TaskRef, function_id: Uuid, name: &str, payload: Value) -> TaskMessage {
    TaskMessage {
        task: task.clone(),
        function_id,
        function: FunctionInfo {
            name: name.into(),
            entry: name.into(),
            module_hash: String::new(),
        },
        payload,
    }
}

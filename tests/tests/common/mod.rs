//! Shared by the end-to-end suites: the two platform setups (embedded
//! `faas up`, and Redis + `faas server` + `faas dispatcher`), a small REST
//! client over reqwest, and a runner for cases that share one platform.

#![allow(dead_code)] // each suite uses its own part of this module

pub mod cluster;
pub mod one_slot;

use base64::Engine as _;
use faas_e2e::{faas_bin, free_port, Daemon, RedisServer};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const TYPED: &str = include_str!("../../../runtime/tests/fixtures/typed.wat");
pub const ECHO: &str = include_str!("../../../runtime/tests/fixtures/echo.wat");
pub const EXIT3: &str = include_str!("../../../runtime/tests/fixtures/exit3.wat");
pub const FLOOD: &str = include_str!("../../../runtime/tests/fixtures/flood.wat");
pub const SLEEP: &str = include_str!("../../../runtime/tests/fixtures/sleep.wat");
pub const SANDBOX_PROBE: &str = include_str!("../../../runtime/tests/fixtures/sandbox_probe.wat");

/// Runs `python3 -m MODULE ARGS` in the temp directory (a tool's caches
/// stay out of the tree); returns whether it succeeded and its output,
/// panicking with how to install `package` if the module is missing.
pub fn python_module(module: &str, args: &[&str], package: &str) -> (bool, String) {
    python_module_env(module, args, package, &[])
}

/// [`python_module`] with more environment variables.
pub fn python_module_env(
    module: &str,
    args: &[&str],
    package: &str,
    env: &[(&str, &str)],
) -> (bool, String) {
    let out = std::process::Command::new("python3")
        .arg("-m")
        .arg(module)
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 -m {module} ({e}): `pip install {package}`")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("No module named"),
        "{package} is not installed: `pip install {package}`\n{text}"
    );
    (out.status.success(), text)
}

/// The ready line of `faas up` and `faas server`.
pub const LISTENING: &str = "listening on";
/// The ready line of `faas dispatcher`.
pub const DISPATCHER_READY: &str = "dispatcher ready";

/// Panics with a useful message if the `faas` binary was not built: this
/// package does not depend on it, so `cargo test -p faas-e2e` alone needs
/// `cargo build --release -p faas-cli` first (`--workspace` builds it).
pub fn require_binary() {
    let bin = faas_bin();
    assert!(
        bin.exists(),
        "{} does not exist: run `cargo build --release -p faas-cli` first, \
         or `cargo test --release --workspace`",
        bin.display()
    );
}

/// `faas up` on a free port, embedded store.
pub fn start_up(slots: usize) -> (Daemon, u16) {
    require_binary();
    let port = free_port();
    let daemon = Daemon::start(
        &["up", "--port", &port.to_string(), "-w", &slots.to_string()],
        LISTENING,
    );
    (daemon, port)
}

/// `faas server --redis URL` on a free port.
pub fn start_server(redis: &RedisServer) -> (Daemon, u16) {
    start_server_env(redis, &[])
}

/// `start_server`, with more environment variables.
pub fn start_server_env(redis: &RedisServer, env: &[(&str, &str)]) -> (Daemon, u16) {
    require_binary();
    let port = free_port();
    let config_dir = redis.config_dir().to_string_lossy().to_string();
    let mut all = vec![("FAAS_CONFIG_DIR", config_dir.as_str())];
    all.extend_from_slice(env);
    let daemon = Daemon::start_env(
        &[
            "server",
            "--redis",
            &redis.url(),
            "--port",
            &port.to_string(),
        ],
        &all,
        LISTENING,
    );
    (daemon, port)
}

/// `faas dispatcher --redis URL -m local -w SLOTS [--lease SECS]`.
pub fn start_dispatcher(redis: &RedisServer, slots: usize, lease: Option<&str>) -> Daemon {
    require_binary();
    let url = redis.url();
    let slots = slots.to_string();
    let mut args = vec!["dispatcher", "--redis", &url, "-m", "local", "-w", &slots];
    if let Some(lease) = lease {
        args.extend(["--lease", lease]);
    }
    Daemon::start(&args, DISPATCHER_READY)
}

/// A whole platform under test, stopped on drop.
pub struct Platform {
    pub api: Api,
    pub port: u16,
    pub daemons: Vec<Daemon>,
    pub redis: Option<RedisServer>,
}

impl Platform {
    /// `faas up` with the embedded store.
    pub fn embedded() -> Platform {
        let (up, port) = start_up(4);
        Platform {
            api: Api::new(port).with_token(up.token()),
            port,
            daemons: vec![up],
            redis: None,
        }
    }

    /// A private `redis-server`, `faas server --redis` and
    /// `faas dispatcher -m local -w 2`.
    pub fn redis() -> Platform {
        let redis = RedisServer::start();
        let (server, port) = start_server(&redis);
        let dispatcher = start_dispatcher(&redis, 2, None);
        Platform {
            api: Api::new(port).with_token(server.token()),
            port,
            daemons: vec![server, dispatcher],
            redis: Some(redis),
        }
    }

    /// Everything the daemons printed so far, for failure messages.
    pub fn logs(&mut self) -> String {
        self.daemons
            .iter_mut()
            .map(|d| d.drain().join("\n"))
            .collect::<Vec<_>>()
            .join("\n---\n")
    }
}

/// One HTTP answer: status code, body text and content type.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub content_type: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    /// The `detail` of an error body; panics if the body is not `{"detail": "..."}`.
    pub fn detail(&self) -> String {
        match self.json().get("detail") {
            Some(Value::String(d)) if !d.is_empty() => d.clone(),
            _ => panic!("no string `detail` in error body {:?}", self.body),
        }
    }

    /// Asserts the status code and, for an error, a JSON `detail`; returns the detail.
    #[track_caller]
    pub fn expect_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "expected HTTP {status}, got {self:?}");
        self.detail()
    }
}

/// A small client for the REST contract. Every request has a time limit,
/// so a server that hangs fails the test instead of stalling it.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub base: String,
    timeout: Duration,
    pub token: Option<String>,
}

/// Longest time a plain request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The `?wait=` of one long poll, in seconds.
const LONG_POLL: u64 = 20;
/// How long `wait_final` keeps long-polling before it gives up.
const FINAL_DEADLINE: Duration = Duration::from_secs(90);

impl Api {
    pub fn new(port: u16) -> Api {
        Api::with_timeout(port, REQUEST_TIMEOUT)
    }

    pub fn with_timeout(port: u16, timeout: Duration) -> Api {
        Api {
            http: Self::client(timeout, None),
            base: format!("http://127.0.0.1:{port}"),
            timeout,
            token: None,
        }
    }

    fn client(timeout: Duration, token: Option<&str>) -> reqwest::Client {
        faas_e2e::install_crypto_provider();
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = token {
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {token}").parse().expect("a header value"),
            );
        }
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .default_headers(headers)
            .build()
            .expect("an HTTP client")
    }

    /// The same server, sending `Authorization: Bearer <token>` (or no key).
    pub fn with_token(self, token: Option<String>) -> Api {
        Api {
            http: Self::client(self.timeout, token.as_deref()),
            token,
            ..self
        }
    }

    async fn reply(&self, request: reqwest::RequestBuilder, what: &str) -> Reply {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: no HTTP answer: {e:?}"));
        Self::read(response, what).await
    }

    async fn read(response: reqwest::Response, what: &str) -> Reply {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{what}: cannot read the body: {e:?}"));
        Reply {
            status,
            body,
            content_type,
        }
    }

    /// GET, with the request error returned rather than panicking on.
    pub async fn try_get(&self, path: &str) -> Result<Reply, reqwest::Error> {
        let response = self.http.get(format!("{}{path}", self.base)).send().await?;
        Ok(Self::read(response, path).await)
    }

    /// POST of a JSON value, with the request error returned.
    pub async fn try_post(&self, path: &str, body: &Value) -> Result<Reply, reqwest::Error> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await?;
        Ok(Self::read(response, path).await)
    }

    /// Any method, with a JSON body or none.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Reply {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        self.reply(request, &what).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.reply(
            self.http.get(format!("{}{path}", self.base)),
            &format!("GET {path}"),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.reply(
            self.http.post(format!("{}{path}", self.base)).json(body),
            &format!("POST {path}"),
        )
        .await
    }

    /// POST of raw bytes, declared as JSON.
    pub async fn post_bytes(&self, path: &str, body: Vec<u8>) -> Reply {
        self.post_raw(path, body, Some("application/json")).await
    }

    /// POST of raw bytes with this content type, or none.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>, content_type: Option<&str>) -> Reply {
        let mut request = self.http.post(format!("{}{path}", self.base)).body(body);
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        self.reply(request, &format!("POST {path}")).await
    }

    /// `POST /register_function` with the module (WAT or wasm bytes) base64-encoded.
    pub async fn register_reply(&self, name: &str, module: &[u8], entry: Option<&str>) -> Reply {
        let mut body = json!({ "name": name, "payload": b64(module) });
        if let Some(entry) = entry {
            body["entry"] = json!(entry);
        }
        self.post("/register_function", &body).await
    }

    /// Registers a module; asserts 201 and a uuid function id.
    pub async fn register(&self, name: &str, module: &[u8], entry: Option<&str>) -> Uuid {
        let reply = self.register_reply(name, module, entry).await;
        assert_eq!(reply.status, 201, "register {name}: {reply:?}");
        uuid_field(&reply.json(), "function_id")
    }

    /// `POST /execute_function`.
    pub async fn execute_reply(&self, function_id: &str, payload: &Value) -> Reply {
        self.post(
            "/execute_function",
            &json!({ "function_id": function_id, "payload": payload }),
        )
        .await
    }

    /// Queues a task; asserts 201 and a uuid task id.
    pub async fn execute(&self, function_id: Uuid, payload: &Value) -> Uuid {
        let reply = self.execute_reply(&function_id.to_string(), payload).await;
        assert_eq!(reply.status, 201, "execute {payload}: {reply:?}");
        uuid_field(&reply.json(), "task_id")
    }

    /// `GET /status/{id}` of an existing task: the status word.
    pub async fn status(&self, task: Uuid) -> String {
        let reply = self.get(&format!("/status/{task}")).await;
        assert_eq!(reply.status, 200, "status of {task}: {reply:?}");
        status_of(task, &reply.json())
    }

    /// `GET /result/{id}?wait=SECS`: the raw reply.
    pub async fn result_reply(&self, task: Uuid, wait: f64) -> Reply {
        self.get(&format!("/result/{task}?wait={wait}")).await
    }

    /// Long-polls `/result` until the task ends; returns the reply, whose
    /// body is `{"task_id", "status", "result"}` with a final status.
    pub async fn wait_final_reply(&self, task: Uuid) -> Reply {
        let deadline = Instant::now() + FINAL_DEADLINE;
        loop {
            let reply = self.result_reply(task, LONG_POLL as f64).await;
            assert_eq!(reply.status, 200, "result of {task}: {reply:?}");
            let v = reply.json();
            let status = status_of(task, &v);
            if status == "COMPLETED" || status == "FAILED" {
                return reply;
            }
            assert_eq!(v["result"], Value::Null, "result before the end: {v}");
            assert!(
                Instant::now() < deadline,
                "task {task} still {status} after {FINAL_DEADLINE:?}"
            );
        }
    }

    /// Long-polls until the task ends: `(status, result)`.
    pub async fn wait_final(&self, task: Uuid) -> (String, Value) {
        let v = self.wait_final_reply(task).await.json();
        (
            v["status"].as_str().unwrap_or_default().to_string(),
            v["result"].clone(),
        )
    }

    /// Queues a task and waits for it: `(status, result)`.
    pub async fn run(&self, function_id: Uuid, payload: &Value) -> (String, Value) {
        let task = self.execute(function_id, payload).await;
        self.wait_final(task).await
    }

    /// Runs a task that must complete; returns its result.
    pub async fn completed(&self, function_id: Uuid, payload: &Value) -> Value {
        let (status, result) = self.run(function_id, payload).await;
        assert_eq!(status, "COMPLETED", "payload {payload}: result {result}");
        result
    }

    /// Runs a task that must fail; returns its message.
    pub async fn failed(&self, function_id: Uuid, payload: &Value) -> String {
        let (status, result) = self.run(function_id, payload).await;
        assert_eq!(status, "FAILED", "payload {payload}: result {result}");
        result
            .as_str()
            .unwrap_or_else(|| panic!("a failure message is a string, got {result}"))
            .to_string()
    }

    /// `GET /tasks/{id}`: the whole record.
    pub async fn task(&self, task: Uuid) -> Value {
        let reply = self.get(&format!("/tasks/{task}")).await;
        assert_eq!(reply.status, 200, "task {task}: {reply:?}");
        reply.json()
    }

    /// Polls `/status` until it is `want` (a readiness check, every 10 ms).
    pub async fn wait_status(&self, task: Uuid, want: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status(task).await;
            if status == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "task {task} is {status}, not {want}, after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[track_caller]
pub fn uuid_field(v: &Value, field: &str) -> Uuid {
    let text = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{field}` in {v}"));
    Uuid::parse_str(text).unwrap_or_else(|e| panic!("`{field}` {text:?} is not a uuid: {e}"))
}

#[track_caller]
/// The status word of a `/status` or `/result` body about `task`, checked.
pub fn status_of(task: Uuid, body: &Value) -> String {
    assert_eq!(body["task_id"], json!(task.to_string()), "{body}");
    let status = body["status"]
        .as_str()
        .unwrap_or_else(|| panic!("no status in {body}"));
    assert_status_word(status);
    status.to_string()
}

pub fn assert_status_word(status: &str) {
    assert!(
        ["QUEUED", "RUNNING", "COMPLETED", "FAILED"].contains(&status),
        "status {status:?} is not one of QUEUED, RUNNING, COMPLETED, FAILED"
    );
}

/// A named case of a suite, run concurrently with others on one platform.
pub type Case = (&'static str, Pin<Box<dyn Future<Output = ()> + Send>>);

/// A [`Case`] from a name and a future.
pub fn case(name: &'static str, body: impl Future<Output = ()> + Send + 'static) -> Case {
    (name, Box::pin(body))
}

/// Runs cases concurrently (each on its own tokio task) and waits for all
/// of them; panics listing every case that failed and why, so one failure
/// does not hide the others.
pub async fn run_cases(cases: Vec<Case>) {
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(name, fut)| (name, Instant::now(), tokio::spawn(fut)))
        .collect();
    let mut failures = Vec::new();
    for (name, started, handle) in handles {
        match handle.await {
            Ok(()) => eprintln!("case {name} ... ok ({:.1?})", started.elapsed()),
            Err(e) => {
                let why = match e.try_into_panic() {
                    Ok(panic) => panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "(non-string panic)".into()),
                    Err(e) => e.to_string(),
                };
                eprintln!("case {name} ... FAILED");
                failures.push(format!("- {name}: {why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

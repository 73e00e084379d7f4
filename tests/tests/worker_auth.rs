//! The worker port's security end to end, with the real binaries: CURVE
//! with an allow-list (a worker whose key is not on it cannot register or
//! complete a task; a peer without CURVE or with a wrong key gets nothing),
//! workers bound to their keys (another key presenting a live worker's
//! routing id takes neither its tasks nor its results), and a dispatcher
//! that will not listen beyond loopback without CURVE.

mod common;

use common::{start_server, Api, SLEEP, TYPED};
use faas_e2e::{free_port, run_faas, Daemon, RedisServer};
use faas_protocol::curve::{parse_public, CurveKey, KeyPair};
use faas_protocol::{DispatcherMessage, PullRequest, ResultMessage, TaskRef, WorkerMessage};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A credentials directory of this test's own, removed on drop.
struct ConfigDir(PathBuf);

impl ConfigDir {
    fn new(name: &str) -> ConfigDir {
        let dir = std::env::temp_dir().join(format!(
            "faas-auth-{name}-{}-{}",
            std::process::id(),
            Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("a config dir");
        ConfigDir(dir)
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("FAAS_CONFIG_DIR", self.0.to_str().expect("a UTF-8 path"))]
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The key pair of the worker the dispatcher allowed (`worker.key`).
    fn worker_keys(&self) -> KeyPair {
        KeyPair::parse(&read(&self.path("worker.key"))).expect("worker.key")
    }

    fn dispatcher_public(&self) -> CurveKey {
        parse_public(&read(&self.path("dispatcher.pub"))).expect("dispatcher.pub")
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A key pair made by `faas keys worker --out FILE` (not on any list).
fn new_worker_key(dir: &ConfigDir, name: &str) -> (PathBuf, KeyPair) {
    let path = dir.path(&format!("{name}.key"));
    let out = run_faas(
        &[
            "keys",
            "worker",
            "--out",
            path.to_str().expect("path"),
            "--name",
            name,
        ],
        &dir.env(),
        Duration::from_secs(10),
    );
    assert_eq!(out.code, Some(0), "faas keys worker: {out:?}");
    let pair = KeyPair::parse(&read(&path)).expect("a key pair file");
    assert_eq!(
        out.stdout.trim(),
        pair.public.to_z85(),
        "prints the public key"
    );
    (path, pair)
}

/// Redis, `faas server` and a CURVE dispatcher (the default) in `mode`,
/// whose keys live in `dir`.
struct Platform {
    _redis: RedisServer,
    _server: Daemon,
    dispatcher: Daemon,
    api: Api,
    port: u16,
}

impl Platform {
    fn start(mode: &str, dir: &ConfigDir) -> Platform {
        common::require_binary();
        let redis = RedisServer::start();
        let (server, http) = start_server(&redis);
        let port = free_port();
        let dispatcher = Daemon::start_env(
            &[
                "dispatcher",
                "--redis",
                &redis.url(),
                "-m",
                mode,
                "-p",
                &port.to_string(),
                "--lease",
                "3",
            ],
            &dir.env(),
            "dispatcher ready",
        );
        Platform {
            _redis: redis,
            api: Api::new(http).with_token(server.token()),
            _server: server,
            dispatcher,
            port,
        }
    }

    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// `faas worker`, once it logs `ready` ("worker ready" comes with the
    /// dispatcher's first answer; "worker connecting" at start).
    fn worker(
        &self,
        mode: &str,
        name: &str,
        dir: &ConfigDir,
        extra: &[&str],
        ready: &str,
    ) -> Daemon {
        let url = self.url();
        let mut args = vec!["worker", mode, "2", &url, "--name", name];
        args.extend(extra);
        Daemon::start_env(&args, &dir.env(), ready)
    }

    /// Rows of `GET /workers`.
    async fn workers(&self) -> Vec<Value> {
        self.api.get("/workers").await.json()["workers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn wait_for_worker(&self, name: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(row) = self.workers().await.into_iter().find(|w| w["name"] == name) {
                return row;
            }
            assert!(Instant::now() < deadline, "worker {name} never listed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A task's field in Redis (the receipt is `entry`).
    fn task_field(&self, task: Uuid, field: &str) -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &self._redis.port.to_string(), "hget"])
            .arg(format!("faas:task:{task}"))
            .arg(field)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn alive(&mut self) -> bool {
        !self.dispatcher.has_exited()
    }
}

/// A raw ZeroMQ peer: `curve` = (server key, own pair), or plain.
fn peer(
    ctx: &zmq::Context,
    kind: zmq::SocketType,
    url: &str,
    id: Option<&[u8]>,
    curve: Option<(CurveKey, &KeyPair)>,
) -> zmq::Socket {
    let s = ctx.socket(kind).expect("socket");
    s.set_linger(0).expect("linger");
    if let Some(id) = id {
        s.set_identity(id).expect("routing id");
    }
    if let Some((server, pair)) = curve {
        s.set_curve_serverkey(&server.0).expect("server key");
        s.set_curve_publickey(&pair.public.0).expect("public key");
        s.set_curve_secretkey(&pair.secret.0).expect("secret key");
    }
    s.connect(url).expect("connect");
    s
}

/// The first message `socket` receives within `within`.
fn first_message(socket: &zmq::Socket, within: Duration) -> Option<DispatcherMessage> {
    if socket
        .poll(zmq::POLLIN, within.as_millis() as i64)
        .unwrap_or(0)
        == 0
    {
        return None;
    }
    let frames = socket.recv_multipart(0).ok()?;
    DispatcherMessage::decode(&frames).ok()
}

/// Everything `socket` receives within `within`.
fn received(socket: &zmq::Socket, within: Duration) -> Vec<DispatcherMessage> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return got;
        }
        if socket
            .poll(zmq::POLLIN, left.as_millis() as i64)
            .unwrap_or(0)
            > 0
        {
            if let Ok(frames) = socket.recv_multipart(0) {
                // A REQ-style answer (pull) or a DEALER message (push).
                let frames: Vec<Vec<u8>> =
                    frames.into_iter().skip_while(|f| f.is_empty()).collect();
                if let Ok(message) = DispatcherMessage::decode(&frames) {
                    got.push(message);
                }
            }
        }
    }
}

fn register(name: &str) -> Vec<Vec<u8>> {
    WorkerMessage::Register {
        worker: name.into(),
        slots: 1,
        running: vec![],
        batch: false,
    }
    .encode()
}

fn forged_result(task: Uuid, attempt: u32, receipt: &str) -> ResultMessage {
    ResultMessage {
        task: TaskRef {
            task_id: task,
            attempt,
            receipt: receipt.to_string(),
        },
        status: "COMPLETED".into(),
        result: json!("forged"),
        kind: None,
        logs: String::new(),
        usage: None,
        held_us: None,
    }
}

/// Waits for the dispatcher's log to contain `marker`.
fn expect_log(platform: &mut Platform, marker: &str) {
    platform
        .dispatcher
        .wait_for_line(marker, Duration::from_secs(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_whose_key_is_not_allowed_cannot_register_or_run_tasks() {
    for mode in ["push", "pull"] {
        let dir = ConfigDir::new(mode);
        let mut p = Platform::start(mode, &dir);
        let (intruder_key, intruder) = new_worker_key(&dir, "intruder");
        let intruder_args = ["--key-file", intruder_key.to_str().expect("path")];
        let mut refused = p.worker(mode, "intruder", &dir, &intruder_args, "worker connecting");
        expect_log(&mut p, &format!("key {} is not allowed", intruder.public));
        // libzmq does not retry a connection refused at authentication:
        // the worker says so and exits.
        let code = refused.wait_exit(Duration::from_secs(15));
        assert!(
            code.is_some_and(|c| c != 0),
            "{mode}: the refused worker exited with {code:?}"
        );
        let said = refused.drain().join("\n");
        assert!(
            said.contains(&format!("refused this worker's key {}", intruder.public)),
            "{mode}: {said}"
        );

        let f = p.api.register("add", TYPED.as_bytes(), Some("add")).await;
        let tasks: Vec<Uuid> = {
            let mut ids = Vec::new();
            for i in 0..20 {
                ids.push(p.api.execute(f, &json!([i, 100])).await);
            }
            ids
        };
        // Never listed: watch for a while, there is no event to wait for.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            p.workers().await.is_empty(),
            "{mode}: {:?}",
            p.workers().await
        );
        for task in &tasks {
            assert_eq!(
                p.api.status(*task).await,
                "QUEUED",
                "{mode}: only the intruder is connected"
            );
        }

        // The worker with the allowed key (made beside the dispatcher's)
        // runs them all.
        let _legit = p.worker(mode, "legit", &dir, &[], "worker ready");
        for (i, task) in tasks.iter().enumerate() {
            let (status, result) = p.api.wait_final(*task).await;
            assert_eq!(
                (status.as_str(), result),
                ("COMPLETED", json!(i + 100)),
                "{mode}"
            );
        }
        let rows = p.wait_for_worker("legit").await;
        assert_eq!(rows["name"], "legit");
        let names: Vec<Value> = p
            .workers()
            .await
            .iter()
            .map(|w| w["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("legit")], "{mode}");

        // Allowed later, without restarting the dispatcher: it re-reads
        // the list (within 2 s), and the worker started again gets in.
        let mut allow = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path("workers.allow"))
            .expect("the allow-list");
        std::io::Write::write_all(
            &mut allow,
            format!("{} # intruder\n", intruder.public).as_bytes(),
        )
        .expect("appended");
        expect_log(&mut p, "changed: 2 worker key(s) allowed");
        let _admitted = p.worker(mode, "intruder", &dir, &intruder_args, "worker ready");
        p.wait_for_worker("intruder").await;
        assert!(p.alive());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peers_without_curve_or_with_a_wrong_key_get_nothing_and_the_dispatcher_keeps_serving() {
    for mode in ["push", "pull"] {
        let dir = ConfigDir::new(&format!("raw-{mode}"));
        let mut p = Platform::start(mode, &dir);
        let server = dir.dispatcher_public();
        let allowed = dir.worker_keys();
        let stranger = KeyPair::generate().expect("a key pair");
        let wrong_server = KeyPair::generate().expect("a key pair").public;
        let kind = if mode == "push" {
            zmq::DEALER
        } else {
            zmq::REQ
        };
        let hello = match mode {
            "push" => register("probe"),
            _ => WorkerMessage::Pull(PullRequest {
                worker: "probe".into(),
                free: 1,
                ..PullRequest::default()
            })
            .encode(),
        };
        let ctx = zmq::Context::new();
        let url = p.url();
        for (what, curve) in [
            ("no CURVE", None),
            ("a key not on the allow-list", Some((server, &stranger))),
            ("the wrong dispatcher key", Some((wrong_server, &allowed))),
        ] {
            let s = peer(&ctx, kind, &url, None, curve);
            s.send_multipart(hello.clone(), 0).expect("queued");
            let got = received(&s, Duration::from_secs(2));
            assert!(got.is_empty(), "{mode}, {what}: got {got:?}");
        }
        expect_log(&mut p, &format!("key {} is not allowed", stranger.public));
        // A plain ZMTP peer that sends bytes anyway.
        if let Ok(mut raw) = std::net::TcpStream::connect(("127.0.0.1", p.port)) {
            use std::io::Write;
            let _ = raw.write_all(&[0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0]);
            let _ = raw.write_all(b"NULL\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
            let _ = raw.write_all(&[0u8; 4096]);
        }

        // The allowed key is served.
        let s = peer(&ctx, kind, &url, None, Some((server, &allowed)));
        s.send_multipart(hello.clone(), 0).expect("queued");
        let got = received(&s, Duration::from_secs(3));
        let served = got.iter().any(|m| {
            matches!(
                m,
                DispatcherMessage::Welcome { .. } | DispatcherMessage::Tasks(_)
            )
        });
        assert!(served, "{mode}: the allowed peer got {got:?}");
        assert!(p.alive(), "{mode}: the dispatcher died");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_key_cannot_take_a_live_workers_routing_id_tasks_or_results() {
    let dir = ConfigDir::new("takeover");
    // A second allowed key ("bravo"), on the allow-list before the
    // dispatcher's first start (which adds its own worker key beside it).
    let (_, bravo) = new_worker_key(&dir, "bravo");
    std::fs::write(
        dir.path("workers.allow"),
        format!("{} # bravo\n", bravo.public),
    )
    .expect("allow-list");
    let mut p = Platform::start("push", &dir);
    let _alpha = p.worker("push", "alpha", &dir, &[], "worker ready");
    let row = p.wait_for_worker("alpha").await;
    let alpha_id = row["id"].as_str().expect("a routing id").to_string();
    let server = dir.dispatcher_public();

    // A task running on alpha, and its receipt (read from Redis: the test
    // knows what a thief would have to guess).
    let sleep = p.api.register("sleep", SLEEP.as_bytes(), None).await;
    let long = p.api.execute(sleep, &json!("6000")).await;
    p.api
        .wait_status(long, "RUNNING", Duration::from_secs(10))
        .await;
    let receipt = p.task_field(long, "entry");
    let attempt: u32 = p.task_field(long, "attempts").parse().expect("attempts");
    assert!(!receipt.is_empty());

    let ctx = zmq::Context::new();
    let url = p.url();
    // Bravo presents alpha's routing id: not attached under it (no
    // handover), so it is sent none of alpha's messages, and the RESULT it
    // forges is not recorded.
    let thief = peer(
        &ctx,
        zmq::DEALER,
        &url,
        Some(alpha_id.as_bytes()),
        Some((server, &bravo)),
    );
    thief
        .send_multipart(WorkerMessage::Heartbeat { running: 0 }.encode(), 0)
        .expect("queued");
    thief
        .send_multipart(
            WorkerMessage::Result(forged_result(long, attempt, &receipt)).encode(),
            0,
        )
        .expect("queued");
    // Bravo under its own routing id: registered (its key is allowed), but
    // a RESULT for a task sent to alpha is ignored and counted.
    let other = peer(
        &ctx,
        zmq::DEALER,
        &url,
        Some(b"bravo-own-id"),
        Some((server, &bravo)),
    );
    other.send_multipart(register("bravo"), 0).expect("queued");
    let welcomed = first_message(&other, Duration::from_secs(5));
    assert!(
        matches!(welcomed, Some(DispatcherMessage::Welcome { .. })),
        "bravo is allowed: {welcomed:?}"
    );
    other
        .send_multipart(
            WorkerMessage::Result(forged_result(long, attempt, &receipt)).encode(),
            0,
        )
        .expect("queued");
    other
        .send_multipart(WorkerMessage::Bye { returned: vec![] }.encode(), 0)
        .expect("queued");
    expect_log(
        &mut p,
        "ignored a RESULT from a worker that was not sent that task",
    );

    // Alpha's own result is the one recorded.
    let (status, result) = p.api.wait_final(long).await;
    assert_eq!((status.as_str(), result), ("COMPLETED", json!("slept")));
    // Alpha keeps its connection and its work; the thief was sent nothing.
    let add = p.api.register("add", TYPED.as_bytes(), Some("add")).await;
    for i in 0..10 {
        assert_eq!(p.api.completed(add, &json!([i, 1])).await, json!(i + 1));
    }
    let stolen: Vec<DispatcherMessage> = received(&thief, Duration::from_millis(500))
        .into_iter()
        .filter(|m| {
            matches!(
                m,
                DispatcherMessage::Task { .. } | DispatcherMessage::Tasks(_)
            )
        })
        .collect();
    assert!(stolen.is_empty(), "the thief was sent tasks: {stolen:?}");
    // The listing is published every second: wait for alpha's count.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alpha = p.wait_for_worker("alpha").await;
        assert_eq!(alpha["id"], json!(alpha_id));
        if alpha["completed"].as_u64().unwrap_or(0) >= 11 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alpha did not complete all: {alpha}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(p.alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pull_request_under_another_key_for_a_live_worker_is_dropped() {
    let dir = ConfigDir::new("pull-takeover");
    let (_, bravo) = new_worker_key(&dir, "bravo");
    std::fs::write(
        dir.path("workers.allow"),
        format!("{} # bravo\n", bravo.public),
    )
    .expect("allow-list");
    let mut p = Platform::start("pull", &dir);
    let _alpha = p.worker("pull", "alpha", &dir, &[], "worker ready");
    let alpha_id = p.wait_for_worker("alpha").await["id"]
        .as_str()
        .expect("a worker id")
        .to_string();
    let sleep = p.api.register("sleep", SLEEP.as_bytes(), None).await;
    let long = p.api.execute(sleep, &json!("2000")).await;
    p.api
        .wait_status(long, "RUNNING", Duration::from_secs(10))
        .await;
    let receipt = p.task_field(long, "entry");
    let attempt: u32 = p.task_field(long, "attempts").parse().expect("attempts");

    let ctx = zmq::Context::new();
    let thief = peer(
        &ctx,
        zmq::REQ,
        &p.url(),
        None,
        Some((dir.dispatcher_public(), &bravo)),
    );
    let request = PullRequest {
        worker: alpha_id.clone(),
        free: 4,
        results: vec![forged_result(long, attempt, &receipt)],
        running: Some(vec![]),
        ..PullRequest::default()
    };
    thief
        .send_multipart(WorkerMessage::Pull(request).encode(), 0)
        .expect("queued");
    assert!(
        received(&thief, Duration::from_secs(2)).is_empty(),
        "answered"
    );
    expect_log(&mut p, "came under key");
    let (status, result) = p.api.wait_final(long).await;
    assert_eq!((status.as_str(), result), ("COMPLETED", json!("slept")));
    assert!(p.alive());
}

#[test]
fn a_dispatcher_without_curve_refuses_to_listen_beyond_loopback() {
    common::require_binary();
    let redis = RedisServer::start();
    let dir = ConfigDir::new("bind");
    for mode in ["push", "pull"] {
        let port = free_port().to_string();
        let url = redis.url();
        let base = ["dispatcher", "--redis", &url, "-m", mode, "-p", &port];
        let refused = run_faas(
            &[&base[..], &["--no-curve", "--bind", "0.0.0.0"]].concat(),
            &dir.env(),
            Duration::from_secs(20),
        );
        assert!(
            refused.code.is_some_and(|c| c != 0),
            "{mode}: started: {refused:?}"
        );
        assert!(
            refused.stderr.contains("without CURVE")
                && refused.stderr.contains("--insecure-no-auth"),
            "{mode}: {}",
            refused.stderr
        );
        // Loopback without CURVE, and all interfaces with CURVE or with the
        // explicit flag, start.
        for extra in [
            &["--no-curve"][..],
            &["--bind", "0.0.0.0"][..],
            &["--insecure-no-auth", "--bind", "0.0.0.0"][..],
        ] {
            let mut d =
                Daemon::start_env(&[&base[..], extra].concat(), &dir.env(), "dispatcher ready");
            let ready = d.log.last().cloned().unwrap_or_default();
            let curve = !extra.contains(&"--no-curve") && !extra.contains(&"--insecure-no-auth");
            assert_eq!(
                ready.contains("CURVE on"),
                curve,
                "{mode} {extra:?}: {ready}"
            );
            d.terminate(Duration::from_secs(10));
        }
    }
}

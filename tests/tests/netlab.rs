//! The platform over a network: a lab of network namespaces on this
//! machine (`faas_e2e::netlab`), a head host running Redis, `faas server`
//! and a push or pull `faas dispatcher`, and node hosts running `faas
//! worker`, every process started with the arguments of its systemd unit
//! in `deploy/systemd/` and bound to its host's address. Links lose
//! packets, slow down, are cut and mended, and a node host disappears;
//! nothing acknowledged is lost, and nothing runs beyond the attempts rule.
//!
//! Needs root (CI has it); without it each test says SKIPPED.

mod common;

use common::cluster::{Mode, WORKER_READY};
use common::{Api, DISPATCHER_READY, LISTENING, SLEEP, TYPED};
use faas_e2e::netlab::{self, Entered, Lab};
use faas_e2e::units::Unit;
use faas_e2e::{free_port, Daemon, RedisOptions, RedisServer};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The dispatcher's default: a worker silent this long is dead.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);

/// One lab at a time: each keeps both cores busy, and the timing
/// assertions (seconds) want them.
static ONE_LAB: Mutex<()> = Mutex::new(());

/// How the links between the head and the nodes behave.
#[derive(Clone, Copy, Default)]
struct Links {
    delay: Duration,
    jitter: Duration,
    loss: f64,
}

/// The platform across a lab. Fields drop in order: processes, then the
/// test thread's stay in the head, then the lab's namespaces.
struct Site {
    workers: Vec<Daemon>,
    _dispatcher: Daemon,
    _server: Daemon,
    _redis: RedisServer,
    api: Api,
    config_dir: String,
    dispatcher_url: String,
    mode: Mode,
    _inside: Entered,
    lab: Lab,
}

impl Site {
    /// A lab of `nodes` node hosts with `links`, and the platform on it:
    /// one worker of `slots` per node, named after its node.
    fn start(mode: Mode, nodes: usize, slots: usize, links: Links) -> Site {
        Site::start_many(mode, nodes, 1, slots, links)
    }

    /// As [`Site::start`], with `per_node` workers on each node, named
    /// `node<n>-<k>` when there are several.
    fn start_many(mode: Mode, nodes: usize, per_node: usize, slots: usize, links: Links) -> Site {
        common::require_binary();
        let mut lab = Lab::create(nodes).expect("a lab of network namespaces");
        for node in lab.nodes.clone() {
            if links.loss > 0.0 {
                lab.set_loss(&node, links.loss).expect("loss");
            }
            if !links.delay.is_zero() {
                lab.delay(
                    &node,
                    links.delay,
                    links.jitter,
                    env!("CARGO_BIN_EXE_faas-netlab").as_ref(),
                )
                .expect("delay");
            }
        }
        // Everything this thread starts from here on is on the head.
        let inside = lab.head.enter().expect("enter the head");
        let head = lab.head.addr;
        // Beyond loopback Redis wants a password (protected mode), as it should.
        let redis = RedisServer::start_with(RedisOptions {
            bind: Some(head),
            user: Some(("faas".into(), Uuid::new_v4().simple().to_string())),
            ..RedisOptions::default()
        });
        let config_dir = redis.config_dir().to_string_lossy().to_string();
        let port = free_port().to_string();
        let head_text = head.to_string();
        let server = unit_daemon(
            None,
            "faas-server.service",
            &[
                ("FAAS_REDIS_URL", &redis.url()),
                ("FAAS_HOST", &head_text),
                ("FAAS_PORT", &port),
                ("FAAS_CONFIG_DIR", &config_dir),
            ],
            LISTENING,
        );
        let worker_port = free_port().to_string();
        let dispatcher = unit_daemon(
            None,
            "faas-dispatcher@.service",
            &[
                ("FAAS_REDIS_URL", &redis.url()),
                ("FAAS_MODE", mode.name()),
                ("FAAS_BIND", &head_text),
                ("FAAS_WORKER_PORT", &worker_port),
                ("FAAS_CONFIG_DIR", &config_dir),
                ("FAAS_COMPILED_DIR", ""),
            ],
            DISPATCHER_READY,
        );
        let mut api = Api::new(0).with_token(server.token());
        api.base = format!("http://{head}:{port}");
        let mut site = Site {
            workers: Vec::new(),
            _dispatcher: dispatcher,
            _server: server,
            _redis: redis,
            api,
            config_dir,
            dispatcher_url: format!("tcp://{head}:{worker_port}"),
            mode,
            _inside: inside,
            lab,
        };
        for i in 0..nodes {
            for k in 1..=per_node {
                let name = match per_node {
                    1 => site.lab.nodes[i].name.clone(),
                    _ => format!("{}-{k}", site.lab.nodes[i].name),
                };
                site.launch_worker(i, &name, slots);
            }
        }
        for worker in &mut site.workers {
            worker.wait_for_line(WORKER_READY, Duration::from_secs(60));
        }
        site
    }

    /// A worker on node `i` (0-based) named `name`, not waited for.
    fn launch_worker(&mut self, i: usize, name: &str, slots: usize) {
        let node = self.lab.nodes[i].clone();
        let slots = slots.to_string();
        let args = format!("--name {name}");
        let worker = unit_launch(
            Some(&node),
            "faas-worker.service",
            &[
                ("FAAS_MODE", self.mode.name()),
                ("FAAS_SLOTS", &slots),
                ("FAAS_DISPATCHER", &self.dispatcher_url),
                ("FAAS_WORKER_ARGS", &args),
                ("FAAS_CONFIG_DIR", &self.config_dir),
                ("FAAS_COMPILED_DIR", ""),
            ],
        );
        self.workers.push(worker);
    }

    /// The live workers the dispatcher lists, by name.
    async fn workers(&self) -> HashMap<String, Value> {
        let listing = self.api.get("/workers").await.json();
        listing["workers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|w| (w["name"].as_str().unwrap_or_default().to_string(), w))
            .collect()
    }

    async fn wait_for_workers(&self, names: &[&str], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let live = self.workers().await;
            if names.iter().all(|n| live.contains_key(*n)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "workers {names:?} not all listed after {timeout:?}: {:?}",
                live.keys()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_until_gone(&self, name: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.workers().await.contains_key(name) {
            assert!(
                Instant::now() < deadline,
                "{name} still listed after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn submit_batch(&self, function: Uuid, payloads: Vec<Value>) -> Vec<Uuid> {
        let reply = self
            .api
            .post(
                "/execute_batch",
                &json!({"function_id": function, "payloads": payloads}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()["task_ids"]
            .as_array()
            .expect("task_ids")
            .iter()
            .map(|v| v.as_str().and_then(|s| s.parse().ok()).expect("a task id"))
            .collect()
    }

    /// Waits (long polls of `POST /results`) until every task has ended;
    /// their (status, result) by id.
    async fn wait_all(&self, ids: &[Uuid], timeout: Duration) -> HashMap<Uuid, (String, Value)> {
        let deadline = Instant::now() + timeout;
        let mut done = HashMap::new();
        while done.len() < ids.len() {
            assert!(
                Instant::now() < deadline,
                "{} of {} tasks still not ended after {timeout:?}",
                ids.len() - done.len(),
                ids.len()
            );
            let open: Vec<String> = ids
                .iter()
                .filter(|id| !done.contains_key(*id))
                .take(10_000)
                .map(|id| id.to_string())
                .collect();
            let reply = self
                .api
                .post("/results", &json!({"task_ids": open, "wait": 5}))
                .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            for row in reply.json()["results"].as_array().expect("results") {
                let status = row["status"].as_str().unwrap_or_default().to_string();
                if status == "COMPLETED" || status == "FAILED" {
                    let id: Uuid = row["task_id"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .expect("id");
                    done.insert(id, (status, row["result"].clone()));
                }
            }
        }
        done
    }

    /// Waits until every task has ended and asserts each completed.
    async fn wait_all_completed(&self, ids: &[Uuid], timeout: Duration) {
        let done = self.wait_all(ids, timeout).await;
        let failed: Vec<_> = done.values().filter(|(s, _)| s != "COMPLETED").collect();
        assert!(
            failed.is_empty(),
            "{} not completed: {failed:?}",
            failed.len()
        );
    }

    /// `GET /task/{id}` of each, in order.
    async fn records(&self, ids: &[Uuid]) -> Vec<Value> {
        let mut out = Vec::new();
        for chunk in ids.chunks(64) {
            let handles: Vec<_> = chunk
                .iter()
                .map(|id| {
                    let (api, id) = (self.api.clone(), *id);
                    tokio::spawn(async move { api.task(id).await })
                })
                .collect();
            for h in handles {
                out.push(h.await.expect("task record"));
            }
        }
        out
    }

    /// The sum of `completed` over the listed workers.
    async fn completed_by_workers(&self) -> u64 {
        self.workers()
            .await
            .values()
            .map(|w| w["completed"].as_u64().unwrap_or(0))
            .sum()
    }
}

/// `faas` run as the unit `name` runs it with `settings` for its
/// environment file, on `host` (the calling thread's host for `None`).
fn unit_daemon(
    host: Option<&netlab::Host>,
    name: &str,
    settings: &[(&str, &str)],
    ready: &str,
) -> Daemon {
    let mut daemon = unit_launch(host, name, settings);
    daemon.wait_for_line(ready, Duration::from_secs(60));
    daemon
}

/// As [`unit_daemon`], not waiting for it to be ready.
fn unit_launch(host: Option<&netlab::Host>, name: &str, settings: &[(&str, &str)]) -> Daemon {
    let (args, env) = Unit::load(name).command(settings);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // An empty FAAS_COMPILED_DIR means none: the default, per user.
    let env: Vec<(&str, &str)> = env
        .iter()
        .filter(|(k, v)| !(k == "FAAS_COMPILED_DIR" && v.is_empty()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Daemon::launch_on(host, &args, &env)
}

/// Runs `body` on a lab made by `make`, one lab at a time, on a runtime
/// whose threads are on the head; says SKIPPED without root.
fn in_lab<F, Fut>(name: &str, make: impl FnOnce() -> Site, body: F)
where
    F: FnOnce(Site) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if !netlab::available() {
        eprintln!("SKIPPED {name}: the network lab needs root and iproute2");
        return;
    }
    let _one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let site = make();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(body(site));
}

/// Asserts every task completed with fib's result for its payload.
fn assert_fib_results(ids: &[Uuid], ns: &[u64], done: &HashMap<Uuid, (String, Value)>) {
    for (id, n) in ids.iter().zip(ns) {
        let (status, result) = &done[id];
        assert_eq!(status, "COMPLETED", "task {id}: {result}");
        assert_eq!(result, &json!(common::cluster::fib(*n)), "task {id}");
    }
}

// ---------------------------------------------------------------------------
// Slow, lossy links

async fn slow_lossy_links_lose_nothing_and_run_nothing_twice(site: Site, links: Links) {
    site.wait_for_workers(&["node1", "node2", "node3"], Duration::from_secs(20))
        .await;
    let f = site
        .api
        .register("fib", TYPED.as_bytes(), Some("fib"))
        .await;
    // The links are slow: a task's round trip includes the node's.
    let started = Instant::now();
    assert_eq!(site.api.completed(f, &json!([10])).await, json!(55));
    let round_trip = started.elapsed();
    assert!(
        round_trip >= 2 * links.delay,
        "one task took {round_trip:?}"
    );
    let ns: Vec<u64> = (0..3000).map(|i| i % 20).collect();
    let mut ids = Vec::new();
    for chunk in ns.chunks(500) {
        ids.extend(
            site.submit_batch(f, chunk.iter().map(|n| json!([n])).collect())
                .await,
        );
    }
    let done = site.wait_all(&ids, Duration::from_secs(120)).await;
    assert_fib_results(&ids, &ns, &done);
    // Nothing ran twice: each task was taken once, and the workers
    // reported exactly one result per task (listings are published every
    // second).
    for record in site.records(&ids).await {
        assert_eq!(record["attempts"], 1, "{record}");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(site.completed_by_workers().await, ids.len() as u64 + 1);
    // And lossy: each node dropped packets.
    for node in &site.lab.nodes {
        let dropped = site.lab.dropped(node).expect("counters");
        assert!(dropped > 0, "{} dropped nothing", node.name);
    }
}

/// A campus or cloud-region link: 20 ms each way (up to 5 ms more), 1%
/// of packets lost each way.
const SLOW_LOSSY: Links = Links {
    delay: Duration::from_millis(20),
    jitter: Duration::from_millis(5),
    loss: 0.01,
};

#[test]
fn push_over_slow_lossy_links_loses_nothing_and_runs_nothing_twice() {
    let links = SLOW_LOSSY;
    in_lab(
        "push over slow lossy links",
        || Site::start(Mode::Push, 3, 2, links),
        |site| slow_lossy_links_lose_nothing_and_run_nothing_twice(site, links),
    );
}

#[test]
fn pull_over_slow_lossy_links_loses_nothing_and_runs_nothing_twice() {
    let links = SLOW_LOSSY;
    in_lab(
        "pull over slow lossy links",
        || Site::start(Mode::Pull, 3, 2, links),
        |site| slow_lossy_links_lose_nothing_and_run_nothing_twice(site, links),
    );
}

// ---------------------------------------------------------------------------
// A node cut off, and back

async fn a_node_cut_off_loses_its_tasks_to_the_others_then_comes_back(site: Site) {
    let names = ["node1", "node2", "node3"];
    site.wait_for_workers(&names, Duration::from_secs(20)).await;
    let f = site.api.register("sleep", SLEEP.as_bytes(), None).await;
    // Three 6 s tasks on six slots: whichever node holds some, the other
    // two have room for them.
    let ids = site.submit_batch(f, vec![json!("6000"); 3]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let held = loop {
        let live = site.workers().await;
        let running: u64 = live
            .values()
            .map(|w| w["running"].as_u64().unwrap_or(0))
            .sum();
        if running == 3 {
            break live;
        }
        assert!(Instant::now() < deadline, "not all running: {live:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (victim, victim_held) = names
        .iter()
        .map(|n| (*n, held[*n]["running"].as_u64().unwrap_or(0)))
        .find(|(_, r)| *r > 0)
        .expect("a node holds a task");
    let node = site.lab.host(victim).expect("node").clone();

    let cut = Instant::now();
    site.lab.cut(&node).expect("cut");
    // Its tasks start again elsewhere: a second attempt, RUNNING.
    let handed_over = loop {
        let records = site.records(&ids).await;
        let again = records
            .iter()
            .filter(|r| r["attempts"] == 2 && r["status"] == "RUNNING")
            .count() as u64;
        if again == victim_held {
            break cut.elapsed();
        }
        assert!(
            cut.elapsed() < Duration::from_secs(15),
            "{victim}'s {victim_held} tasks not handed over: {records:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "{victim} cut off: its {victim_held} tasks ran again elsewhere after {handed_over:?}"
    );
    assert!(
        handed_over <= HEARTBEAT_TIMEOUT + Duration::from_secs(1),
        "handed over after {handed_over:?}"
    );
    // The listing is published every second.
    site.wait_until_gone(victim, Duration::from_secs(3)).await;

    // Back: it re-registers by itself; the results of the attempts it
    // ran on are dropped (each task's final state is its second attempt's).
    site.lab.mend(&node).expect("mend");
    site.wait_for_workers(&names, Duration::from_secs(20)).await;
    let done = site.wait_all(&ids, Duration::from_secs(30)).await;
    for (id, record) in ids.iter().zip(site.records(&ids).await) {
        assert_eq!(done[id].0, "COMPLETED", "{record}");
        let executor = record["usage"]["executor"].as_str().unwrap_or_default();
        if record["attempts"] == 2 {
            assert!(
                !executor.contains(&format!("worker {victim} ")),
                "a late result of {victim} was written: {record}"
            );
        } else {
            assert_eq!(record["attempts"], 1, "{record}");
        }
    }
}

#[test]
fn push_node_cut_off_loses_its_tasks_to_the_others_then_comes_back() {
    in_lab(
        "push node cut off",
        || Site::start(Mode::Push, 3, 2, Links::default()),
        a_node_cut_off_loses_its_tasks_to_the_others_then_comes_back,
    );
}

#[test]
fn pull_node_cut_off_loses_its_tasks_to_the_others_then_comes_back() {
    in_lab(
        "pull node cut off",
        || Site::start(Mode::Pull, 3, 2, Links::default()),
        a_node_cut_off_loses_its_tasks_to_the_others_then_comes_back,
    );
}

// ---------------------------------------------------------------------------
// The head cut off from every node for 30 s

async fn a_partition_of_30_s_ends_with_every_task_completed(site: Site) {
    site.wait_for_workers(&["node1", "node2", "node3"], Duration::from_secs(20))
        .await;
    let f = site.api.register("sleep", SLEEP.as_bytes(), None).await;
    // 20 ms tasks, submitted before, during and after the partition.
    let mut ids = site.submit_batch(f, vec![json!("20"); 400]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let head = site.lab.head.clone();
    site.lab.cut(&head).expect("partition");
    let partition = Instant::now();
    while partition.elapsed() < Duration::from_secs(30) {
        ids.extend(site.submit_batch(f, vec![json!("20"); 50]).await);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    site.lab.mend(&head).expect("mend");
    ids.extend(site.submit_batch(f, vec![json!("20"); 200]).await);
    site.wait_all_completed(&ids, Duration::from_secs(120))
        .await;
    for record in site.records(&ids).await {
        let attempts = record["attempts"].as_u64().unwrap_or(0);
        assert!((1..=3).contains(&attempts), "{record}");
    }
}

#[test]
fn push_partition_of_30_s_ends_with_every_task_completed() {
    in_lab(
        "push partition",
        || Site::start(Mode::Push, 3, 2, Links::default()),
        a_partition_of_30_s_ends_with_every_task_completed,
    );
}

#[test]
fn pull_partition_of_30_s_ends_with_every_task_completed() {
    in_lab(
        "pull partition",
        || Site::start(Mode::Pull, 3, 2, Links::default()),
        a_partition_of_30_s_ends_with_every_task_completed,
    );
}

// ---------------------------------------------------------------------------
// A node host removed under load

async fn a_node_removed_under_load_loses_nothing(mut site: Site) {
    site.wait_for_workers(&["node1", "node2", "node3"], Duration::from_secs(20))
        .await;
    let f = site.api.register("sleep", SLEEP.as_bytes(), None).await;
    let ids = site.submit_batch(f, vec![json!("10"); 1500]).await;
    // Under way on every node, then node2 goes: its worker killed, its
    // namespace (and link) deleted.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let node = site.lab.nodes[1].clone();
    site.workers[1].kill();
    site.lab.remove(&node).expect("remove node2");
    site.wait_all_completed(&ids, Duration::from_secs(90)).await;
    site.wait_until_gone("node2", Duration::from_secs(3)).await;
}

#[test]
fn push_node_removed_under_load_loses_nothing() {
    in_lab(
        "push node removed",
        || Site::start(Mode::Push, 3, 2, Links::default()),
        a_node_removed_under_load_loses_nothing,
    );
}

#[test]
fn pull_node_removed_under_load_loses_nothing() {
    in_lab(
        "pull node removed",
        || Site::start(Mode::Pull, 3, 2, Links::default()),
        a_node_removed_under_load_loses_nothing,
    );
}

// ---------------------------------------------------------------------------
// Many workers on one dispatcher

/// 256 workers of one slot, 64 on each of 4 nodes.
const MANY_NODES: usize = 4;
const MANY_PER_NODE: usize = 64;

async fn many_workers_register_stay_alive_and_share_the_work(site: Site) {
    let names: Vec<String> = (1..=MANY_NODES)
        .flat_map(|n| (1..=MANY_PER_NODE).map(move |k| format!("node{n}-{k}")))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    site.wait_for_workers(&refs, Duration::from_secs(30)).await;
    // Heartbeats keep every one of them alive, idle, past two timeouts.
    tokio::time::sleep(2 * HEARTBEAT_TIMEOUT).await;
    let live = site.workers().await;
    assert_eq!(live.len(), names.len(), "workers were declared dead");
    for (name, row) in &live {
        let ago = row["last_heartbeat_ms_ago"].as_u64().unwrap_or(u64::MAX);
        assert!(ago < HEARTBEAT_TIMEOUT.as_millis() as u64, "{name}: {row}");
    }
    // Ten 20 ms tasks per slot: every task runs once, and the work is spread.
    let f = site.api.register("sleep", SLEEP.as_bytes(), None).await;
    let ids = site
        .submit_batch(f, vec![json!("20"); 10 * names.len()])
        .await;
    site.wait_all_completed(&ids, Duration::from_secs(120))
        .await;
    for record in site.records(&ids).await {
        assert_eq!(record["attempts"], 1, "{record}");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let live = site.workers().await;
    let per_worker: Vec<u64> = live
        .values()
        .map(|w| w["completed"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(per_worker.iter().sum::<u64>(), ids.len() as u64);
    let idle = per_worker.iter().filter(|n| **n == 0).count();
    assert!(
        idle * 10 <= names.len(),
        "{idle} of {} workers ran nothing",
        names.len()
    );
}

#[test]
fn push_256_workers_register_stay_alive_and_share_the_work() {
    in_lab(
        "push 256 workers",
        || Site::start_many(Mode::Push, MANY_NODES, MANY_PER_NODE, 1, Links::default()),
        many_workers_register_stay_alive_and_share_the_work,
    );
}

#[test]
fn pull_256_workers_register_stay_alive_and_share_the_work() {
    in_lab(
        "pull 256 workers",
        || Site::start_many(Mode::Pull, MANY_NODES, MANY_PER_NODE, 1, Links::default()),
        many_workers_register_stay_alive_and_share_the_work,
    );
}

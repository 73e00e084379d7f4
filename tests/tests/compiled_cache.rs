//! Compiled code kept on disk, with the real daemons: the server compiles
//! a module when it is registered, and a dispatcher sharing its directory
//! loads that code instead of compiling; a push worker with a directory of
//! its own (as on another machine) compiles once, and after a restart
//! loads from disk. Each says which it did in its log.

mod common;

use common::cluster::{Mode, WORKER_READY};
use common::{require_binary, Api, DISPATCHER_READY, LISTENING, TYPED};
use faas_e2e::{free_port, Daemon, RedisServer};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

const COMPILED: &str = "compiled a module";
const FROM_DISK: &str = "loaded a module's compiled code from disk";

/// A private directory for one test's compiled code, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        Dir(std::env::temp_dir().join(format!(
            "faas-compiled-e2e-{name}-{}-{}",
            std::process::id(),
            free_port()
        )))
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("a UTF-8 path")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_compiles_once_and_restarted_daemons_load_from_disk() {
    require_binary();
    let redis = RedisServer::start();
    let (head, node) = (Dir::new("head"), Dir::new("node"));
    let port = free_port();
    let config_dir = redis.config_dir();
    let mut server = Daemon::start_env(
        &[
            "server",
            "--redis",
            &redis.url(),
            "--port",
            &port.to_string(),
            "--compiled-dir",
            head.arg(),
        ],
        &[("FAAS_CONFIG_DIR", &config_dir.to_string_lossy())],
        LISTENING,
    );
    let api = Api::new(port).with_token(server.token());
    let mut local = Daemon::start(
        &[
            "dispatcher",
            "--redis",
            &redis.url(),
            "-w",
            "1",
            "--compiled-dir",
            head.arg(),
        ],
        DISPATCHER_READY,
    );
    let add = api.register("add", TYPED.as_bytes(), Some("add")).await;
    server.wait_for_line(COMPILED, Duration::from_secs(10));
    assert_eq!(api.completed(add, &json!([1, 2])).await, json!(3));
    local.wait_for_line(FROM_DISK, Duration::from_secs(10));
    assert!(
        !local.drain().iter().any(|l| l.contains(COMPILED)),
        "the dispatcher compiled what the server had compiled"
    );
    drop(local);

    // Push workers on a "node" of their own: the first compiles, a
    // restarted one loads what it kept.
    let zmq = free_port();
    let _push = Daemon::start(
        &[
            "dispatcher",
            "--redis",
            &redis.url(),
            "-m",
            Mode::Push.name(),
            "-p",
            &zmq.to_string(),
        ],
        DISPATCHER_READY,
    );
    let url = format!("tcp://127.0.0.1:{zmq}");
    let worker = || {
        Daemon::start(
            &[
                "worker",
                "push",
                "1",
                &url,
                "--name",
                "node",
                "--compiled-dir",
                node.arg(),
            ],
            WORKER_READY,
        )
    };
    let mut first = worker();
    assert_eq!(api.completed(add, &json!([2, 3])).await, json!(5));
    first.wait_for_line(COMPILED, Duration::from_secs(10));
    first.kill();
    let mut second = worker();
    assert_eq!(api.completed(add, &json!([3, 4])).await, json!(7));
    second.wait_for_line(FROM_DISK, Duration::from_secs(10));
    assert!(
        !second.drain().iter().any(|l| l.contains(COMPILED)),
        "the restarted worker compiled again"
    );
}

//! A real Redis Cluster on loopback for tests and benchmarks: `redis-server
//! --cluster-enabled yes` per node, joined by `redis-cli --cluster create`,
//! every node stopped (by the pid started) on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One node of a [`RedisCluster`].
pub struct ClusterNode {
    pub port: u16,
    child: Option<Child>,
}

/// A Redis Cluster of `primaries` primaries with `replicas` replicas each.
/// A node is declared failed after 1 s (`cluster-node-timeout`), and the
/// shards left keep serving while one is down
/// (`cluster-require-full-coverage no`).
pub struct RedisCluster {
    pub nodes: Vec<ClusterNode>,
    dir: PathBuf,
}

/// Node ports come from 20000..22768, so that their cluster bus ports
/// (+10000) sit below the kernel's ephemeral range (from 32768), where an
/// outgoing connection could take one first.
const FIRST_NODE_PORT: u16 = 20_000;
const NODE_PORTS: u16 = 2_768;

/// A free port whose cluster bus port is free too.
fn free_cluster_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Each process starts elsewhere in the range, and goes on from there.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let offset = (std::process::id() % u32::from(NODE_PORTS)) as u16;
    for _ in 0..NODE_PORTS {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST_NODE_PORT + (offset + n % NODE_PORTS) % NODE_PORTS;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port pair for a cluster node");
}

impl RedisCluster {
    pub fn start(primaries: usize, replicas: usize) -> RedisCluster {
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < primaries * (1 + replicas) {
            let port = free_cluster_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let dir =
            std::env::temp_dir().join(format!("faas-cluster-{}-{}", ports[0], std::process::id()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let mut cluster = RedisCluster {
            nodes: ports
                .iter()
                .map(|&port| ClusterNode { port, child: None })
                .collect(),
            dir,
        };
        for i in 0..cluster.nodes.len() {
            cluster.launch(i);
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for port in &ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let out = create
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_ok(Duration::from_secs(30));
        cluster.wait_replicas_synced(Duration::from_secs(30));
        cluster
    }

    /// Waits until every replica's link to its primary is up.
    fn wait_replicas_synced(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        for node in &self.nodes {
            loop {
                let text = self.cli(node.port, &["info", "replication"]);
                if text.contains("role:master") || text.contains("master_link_status:up") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the replica on {} did not sync within {limit:?}",
                    node.port
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    fn launch(&mut self, i: usize) {
        let port = self.nodes[i].port;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes"])
            .arg("--cluster-config-file")
            .arg(self.dir.join(format!("nodes-{port}.conf")))
            .args(["--cluster-node-timeout", "1000"])
            .args(["--cluster-require-full-coverage", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--dbfilename")
            .arg(format!("dump-{port}.rdb"))
            // A replica syncs at once, not after the 5 s Redis waits for
            // more: one that never synced is never promoted.
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (install it: apt-get install redis-server)");
        self.nodes[i].child = Some(child);
        crate::wait_for_port(port, Duration::from_secs(10));
    }

    /// `redis+cluster://` naming every node.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// `redis-cli -p PORT ARGS` on one node; its output.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        crate::redis_cli(port, args, "")
    }

    /// The ports of the nodes that are primaries now (each serving slots),
    /// as a live node sees the cluster.
    pub fn primaries(&self) -> Vec<u16> {
        self.roles()
            .into_iter()
            .filter(|(_, primary, alive)| *primary && *alive)
            .map(|(port, ..)| port)
            .collect()
    }

    /// (port, is a primary with slots, not failed) of every node a live
    /// node knows.
    fn roles(&self) -> Vec<(u16, bool, bool)> {
        let Some(live) = self.nodes.iter().find(|n| n.child.is_some()) else {
            return Vec::new();
        };
        let text = self.cli(live.port, &["cluster", "nodes"]);
        text.lines()
            .filter_map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                let port = words
                    .get(1)?
                    .split('@')
                    .next()?
                    .rsplit(':')
                    .next()?
                    .parse()
                    .ok()?;
                let flags = words.get(2)?;
                let primary = flags.contains("master") && words.len() > 8;
                let alive = !flags.contains("fail");
                Some((port, primary, alive))
            })
            .collect()
    }

    /// Waits until every running node says the cluster is ok and they
    /// agree on who serves every slot.
    pub fn wait_ok(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let running: Vec<u16> = self
                .nodes
                .iter()
                .filter(|n| n.child.is_some())
                .map(|n| n.port)
                .collect();
            let ok = running.iter().all(|&port| {
                self.cli(port, &["cluster", "info"])
                    .contains("cluster_state:ok")
            }) && {
                let check = Command::new("redis-cli")
                    .args(["--cluster", "check", &format!("127.0.0.1:{}", running[0])])
                    .stdin(Stdio::null())
                    .output()
                    .expect("redis-cli runs");
                let text = String::from_utf8_lossy(&check.stdout).into_owned();
                check.status.success()
                    && text.contains("All nodes agree")
                    && text.contains("All 16384 slots covered")
            };
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Redis Cluster did not settle within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the node on `port` (SIGKILL, by the pid started).
    pub fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a node of this cluster");
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until `port` is no longer a primary and another node serves
    /// its slots (its replica promoted).
    pub fn wait_failover(&self, port: u16, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let served = self
                .roles()
                .iter()
                .any(|(p, primary, _)| *p == port && *primary);
            let ok = self.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
                self.cli(n.port, &["cluster", "info"])
                    .contains("cluster_state:ok")
            });
            if !served && ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no replica took over from {port} within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! One platform of each mode (embedded `faas up`; Redis with a local
//! dispatcher; push and pull workers), each with exactly one slot, for
//! the suites that check a behaviour in every mode.

use super::cluster::{Cluster, Mode};
use super::{start_dispatcher, start_server, start_up, Api};
use faas_e2e::{Daemon, RedisServer};

/// What holds a platform up for the length of a test (dropped at its end).
#[allow(dead_code)]
#[derive(Default)]
pub struct Holder {
    daemons: Vec<Daemon>,
    redis: Option<RedisServer>,
    cluster: Option<Cluster>,
}

/// A platform of `mode` (embedded, local, push or pull) with exactly
/// one slot.
pub fn one_slot(mode: &str) -> (Api, Holder) {
    match mode {
        "embedded" => {
            let (up, port) = start_up(1);
            let api = Api::new(port).with_token(up.token());
            (
                api,
                Holder {
                    daemons: vec![up],
                    ..Holder::default()
                },
            )
        }
        "local" => {
            let redis = RedisServer::start();
            let (server, port) = start_server(&redis);
            let dispatcher = start_dispatcher(&redis, 1, None);
            let api = Api::new(port).with_token(server.token());
            (
                api,
                Holder {
                    daemons: vec![server, dispatcher],
                    redis: Some(redis),
                    ..Holder::default()
                },
            )
        }
        remote => {
            let mode = if remote == "push" {
                Mode::Push
            } else {
                Mode::Pull
            };
            let mut cluster = Cluster::start(mode, "3");
            cluster.add_worker(1, "w1");
            let api = cluster.api.clone();
            (
                api,
                Holder {
                    cluster: Some(cluster),
                    ..Holder::default()
                },
            )
        }
    }
}

/// A `#[tokio::test]` per mode for each async fn named, called with the
/// mode's name: `mod NAME { embedded, local, push, pull }`.
#[macro_export]
macro_rules! each_mode {
    ($($name:ident),*) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() { super::$name("embedded").await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local() { super::$name("local").await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn push() { super::$name("push").await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pull() { super::$name("pull").await }
        })*
    };
}

//! Push mode end to end: a real Redis, `faas server`, `faas dispatcher -m
//! push` and several real `faas worker push` processes (and one worker in
//! Python written from docs/protocol.md). The scenarios are shared with
//! pull mode (`common/cluster.rs`).

mod common;

use common::cluster::{self, finish_all, submit_all, Cluster, Mode, Python};
use common::TYPED;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_tasks_over_three_workers_all_complete_and_all_share() {
    cluster::five_hundred_tasks_over_three_workers_all_complete_and_all_share(Mode::Push).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_with_four_slots_gets_about_twice_the_work_of_one_with_two() {
    cluster::a_worker_with_four_slots_gets_about_twice_the_work_of_one_with_two(Mode::Push).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_worker_mid_run_loses_nothing_and_reruns_only_what_it_held() {
    cluster::killing_a_worker_mid_run_loses_nothing_and_reruns_only_what_it_held(Mode::Push).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_started_after_the_tasks_were_queued_takes_its_share() {
    cluster::a_worker_started_after_the_tasks_were_queued_takes_its_share(Mode::Push).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_killed_and_restarted_mid_run_loses_nothing() {
    cluster::a_dispatcher_killed_and_restarted_mid_run_loses_nothing(Mode::Push).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_python_worker_from_the_protocol_doc_works_beside_ours() {
    let mut c = Cluster::start(Mode::Push, "3");
    c.add_worker(2, "rust");
    let python = Python::start("push_worker.py", &["2", &c.url()], "python worker ready");
    c.wait_for_workers(2).await;

    let f = c.api.register("add", TYPED.as_bytes(), Some("add")).await;
    let ids = submit_all(&c.api, f, (0..200).map(|i| json!([i, 1000])).collect()).await;
    let results = finish_all(&c.api, &ids).await;
    for (i, (status, result)) in results.iter().enumerate() {
        assert_eq!(
            (status.as_str(), result),
            ("COMPLETED", &json!(i + 1000)),
            "task {i}"
        );
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let done = c.completed_by_worker().await;
    drop(python);
    assert!(
        done.get("python-interop").copied().unwrap_or(0) > 0,
        "python worker did nothing: {done:?}"
    );
    assert!(
        done.get("rust").copied().unwrap_or(0) > 0,
        "rust worker did nothing: {done:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_makes_a_worker_hand_back_unstarted_tasks_and_finish_running_ones() {
    cluster::sigterm_makes_a_worker_hand_back_unstarted_tasks_and_finish_running_ones(Mode::Push)
        .await;
}

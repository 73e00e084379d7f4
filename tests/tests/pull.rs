//! Pull mode end to end: a real Redis, `faas server`, `faas dispatcher -m
//! pull` and real `faas worker pull` processes, running the scenarios push
//! mode runs (`common/cluster.rs`); plus a stock REQ client in Python
//! written from docs/protocol.md, and the idle cost of waiting workers.

mod common;

use common::cluster::{self, finish_all, submit_all, Cluster, Mode, Python};
use common::TYPED;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_tasks_over_three_workers_all_complete_and_all_share() {
    cluster::five_hundred_tasks_over_three_workers_all_complete_and_all_share(Mode::Pull).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_with_four_slots_gets_about_twice_the_work_of_one_with_two() {
    cluster::a_worker_with_four_slots_gets_about_twice_the_work_of_one_with_two(Mode::Pull).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_a_worker_mid_run_loses_nothing_and_reruns_only_what_it_held() {
    cluster::killing_a_worker_mid_run_loses_nothing_and_reruns_only_what_it_held(Mode::Pull).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_started_after_the_tasks_were_queued_takes_its_share() {
    cluster::a_worker_started_after_the_tasks_were_queued_takes_its_share(Mode::Pull).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_killed_and_restarted_mid_run_loses_nothing() {
    cluster::a_dispatcher_killed_and_restarted_mid_run_loses_nothing(Mode::Pull).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_makes_a_worker_hand_back_unstarted_tasks_and_finish_running_ones() {
    cluster::sigterm_makes_a_worker_hand_back_unstarted_tasks_and_finish_running_ones(Mode::Pull)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stock_req_client_from_the_protocol_doc_pulls_and_completes_tasks() {
    let c = Cluster::start(Mode::Pull, "3");
    let f = c.api.register("add", TYPED.as_bytes(), Some("add")).await;
    let ids = submit_all(&c.api, f, (0..3).map(|i| json!([i, 1000])).collect()).await;
    let mut python = Python::start(
        "pull_client.py",
        &["3", &c.url()],
        "python pull client ready",
    );
    let results = finish_all(&c.api, &ids).await;
    for (i, (status, result)) in results.iter().enumerate() {
        assert_eq!(
            (status.as_str(), result),
            ("COMPLETED", &json!(i + 1000)),
            "task {i}"
        );
    }
    let exit = python.wait_exit(Duration::from_secs(10));
    assert!(
        exit.is_some_and(|s| s.success()),
        "the REQ client did not finish: {exit:?}"
    );
    let done: Vec<String> = python
        .lines
        .try_iter()
        .filter(|l| l.starts_with("done "))
        .collect();
    assert_eq!(done.len(), 3, "{done:?}");
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_pull_workers_use_under_two_percent_cpu_each() {
    let mut c = Cluster::start(Mode::Pull, "3");
    c.add_worker(2, "idle-a");
    c.add_worker(2, "idle-b");
    c.wait_for_workers(2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pids: Vec<u32> = c
        .workers
        .iter()
        .map(|w| w.pid())
        .chain([c.dispatcher.pid()])
        .collect();
    let before: Vec<f64> = pids.iter().map(|p| cpu_seconds(*p)).collect();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let shares: Vec<f64> = pids
        .iter()
        .zip(&before)
        .map(|(p, b)| (cpu_seconds(*p) - b) / elapsed)
        .collect();
    eprintln!(
        "idle CPU over {elapsed:.1} s: workers {:.2}% and {:.2}%, dispatcher {:.2}%",
        shares[0] * 100.0,
        shares[1] * 100.0,
        shares[2] * 100.0
    );
    for (i, share) in shares[..2].iter().enumerate() {
        assert!(
            *share < 0.02,
            "idle worker {i} used {:.2}% CPU",
            share * 100.0
        );
    }
    // Still alive and serving: a task submitted now runs at once.
    let f = c.api.register("add", TYPED.as_bytes(), Some("add")).await;
    let asked = Instant::now();
    assert_eq!(c.api.completed(f, &json!([2, 3])).await, json!(5));
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "an idle worker took {:?} to pick up work",
        asked.elapsed()
    );
}

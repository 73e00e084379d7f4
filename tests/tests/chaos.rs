//! The chaos soak, `scripts/chaos-soak.sh`, for 120 s with the built `faas`
//! binary: a mixed load through a push and a pull dispatcher while workers,
//! dispatchers, the server and Redis are killed with SIGKILL at random and
//! restarted; its checker must find no task lost, wrong, run more often
//! than its attempts allow, or changed after it was first read final.

mod common;

use common::require_binary;
use faas_e2e::faas_bin;
use std::path::Path;
use std::process::Command;

/// Seconds of load and kills (the drain and the check come on top).
const SOAK_SECONDS: &str = "120";

#[test]
fn two_minutes_of_random_kills_lose_nothing_and_change_nothing() {
    require_binary();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("faas-chaos-{}", std::process::id()));
    let run = Command::new("bash")
        .arg(repo.join("scripts/chaos-soak.sh"))
        .arg(SOAK_SECONDS)
        .env("FAAS", faas_bin())
        .env("OUT", &out)
        .output()
        .expect("bash runs scripts/chaos-soak.sh");
    // stderr has the kill log; stdout the checker's counts and the kill tally.
    let text = String::from_utf8_lossy(&run.stdout);
    let log = String::from_utf8_lossy(&run.stderr);
    let log: Vec<&str> = log.lines().collect();
    let tail = format!("{}\n{text}", log[log.len().saturating_sub(40)..].join("\n"));
    assert!(
        run.status.success(),
        "the chaos soak failed ({}); evidence in {}:\n{tail}",
        run.status,
        out.display()
    );
    // It must have checked tasks and killed processes, or it proved nothing.
    let count = |prefix: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(count("checked ") > 1000, "too few tasks checked:\n{tail}");
    assert!(count("kills: ") >= 10, "too few kills:\n{tail}");
    println!("{tail}");
    let _ = std::fs::remove_dir_all(&out);
}

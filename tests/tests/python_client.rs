//! The Python client's own suite (`clients/python/tests`, pytest) run by
//! the workspace's test command: it starts a real `faas up` (and a
//! `redis-server` with `faas up --redis`) from the binary built here, and
//! checks the client against them, the Executor's 10,000 ordered results
//! included. Needs `pip install pytest httpx` (`.ci/run` installs them).

mod common;

use std::path::PathBuf;

#[test]
fn the_python_client_suite_passes_against_the_real_binary() {
    common::require_binary();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../clients/python");
    let tests = root.join("tests");
    let source = root.join("src");
    let bin = faas_e2e::faas_bin();
    let (ok, text) = common::python_module_env(
        "pytest",
        &[
            tests.to_str().expect("utf-8"),
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        "pytest httpx",
        // The tree's client, not an installed copy; the binary just built.
        &[
            ("PYTHONPATH", source.to_str().expect("utf-8")),
            ("FAAS_BIN", bin.to_str().expect("utf-8")),
        ],
    );
    assert!(ok, "the Python client's tests failed:\n{text}");
    let summary = text.lines().last().unwrap_or_default();
    // The suite skips its Redis half without a redis-server; this machine
    // has one (the rest of the suite needs it too), so nothing may skip.
    let has_redis = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok();
    assert!(
        !(has_redis && summary.contains("skipped")),
        "tests were skipped:\n{text}"
    );
    println!("{summary}");
}

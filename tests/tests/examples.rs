//! Every example in `examples/` built from source with the guest toolchains
//! (Debian's rustc/cargo with wasm32-wasi, clang with wasi-libc), deployed
//! with `faas deploy` to a running `faas up`, and invoked over REST; plus the
//! guest library's own tests. `.ci/run` installs the toolchains.

mod common;

use common::{start_up, Api};
use faas_e2e::run_faas;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Panics with what to install if a guest toolchain is missing.
fn require_toolchains() {
    let wasi_std = Path::new("/usr/lib/rustlib/wasm32-wasi/lib").exists();
    let debian_cargo = Path::new("/usr/bin/cargo").exists() && Path::new("/usr/bin/rustc").exists();
    let clang = Path::new("/usr/bin/clang").exists() && Path::new("/usr/lib/wasm32-wasi").exists();
    assert!(
        wasi_std && debian_cargo && clang,
        "the examples need the guest toolchains: apt-get install rustc cargo libstd-rust-dev-wasm32 \
         clang lld wasi-libc libclang-rt-14-dev-wasm32 (.ci/run does)"
    );
}

/// `faas deploy SOURCE` (built first): the function id.
fn deploy(url: &str, config_dir: &std::path::Path, source: &str) -> Uuid {
    let path = repo().join(source);
    let path = path.to_string_lossy();
    // The server's config directory: the CLI finds its key there.
    let done = run_faas(
        &["deploy", &path, "--url", url],
        &[("FAAS_CONFIG_DIR", &config_dir.to_string_lossy())],
        Duration::from_secs(600),
    );
    assert_eq!(
        done.code,
        Some(0),
        "faas deploy {source}: {}\n{}",
        done.stdout,
        done.stderr
    );
    Uuid::parse_str(done.stdout.trim())
        .unwrap_or_else(|e| panic!("deploy printed {:?}: {e}", done.stdout))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_example_builds_from_source_deploys_and_answers() {
    require_toolchains();
    let (up, port) = start_up(2);
    let url = format!("http://127.0.0.1:{port}");
    let api = Api::new(port).with_token(up.token());

    // (source, payload, expected status, expected result)
    let cases: Vec<(&str, Value, &str, Value)> = vec![
        ("examples/add.wat", json!([2, 3]), "COMPLETED", json!(5)),
        ("examples/fib.wat", json!([20]), "COMPLETED", json!(6765)),
        (
            "examples/hello.wat",
            json!("world"),
            "COMPLETED",
            json!("hello, world"),
        ),
        ("examples/noop", json!(""), "COMPLETED", json!("")),
        (
            "examples/sleep",
            json!("50"),
            "COMPLETED",
            json!("slept 50 ms"),
        ),
        ("examples/fib-rs", json!([30]), "COMPLETED", json!(832040)),
        (
            "examples/wordcount",
            json!(r#"{"text": "The cat and the hat. The end!", "top": 2}"#),
            "COMPLETED",
            json!(r#"{"words":7,"unique":5,"top":[["the",3],["and",1]]}"#),
        ),
        (
            "examples/c-reverse/reverse.c",
            json!("héllo, wörld"),
            "COMPLETED",
            json!("dlröw ,olléh"),
        ),
    ];
    let mut failures = Vec::new();
    for (source, payload, status, want) in &cases {
        let function = deploy(&url, up.config_dir(), source);
        let (got_status, got) = api.run(function, payload).await;
        if (got_status.as_str(), &got) != (*status, want) {
            failures.push(format!(
                "{source} {payload}: {got_status} {got}, want {status} {want}"
            ));
        }
    }
    // A guest's own error is the task's failure message.
    let sleep = deploy(&url, up.config_dir(), "examples/sleep");
    let message = api.failed(sleep, &json!("x")).await;
    assert!(
        message.contains("expected a number of milliseconds"),
        "{message}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_guest_library_passes_its_own_tests() {
    // The guest crate is its own workspace (older toolchains build it), so
    // the workspace's test run reaches it from here.
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let manifest = repo().join("sdk/guest/Cargo.toml");
    let out = std::process::Command::new(cargo)
        .args(["test", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo test --manifest-path sdk/guest/Cargo.toml failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

//! The client stays light: a program that depends on faas-client builds
//! none of the platform's engine. Asks cargo for the crate's dependency
//! tree (normal and build dependencies, for this machine) and fails
//! if any of them is in it.

use std::process::Command;

/// Crates of the runtime (wasmtime, its compiler), the store (Redis) and
/// the workers' transport (ZeroMQ, libzmq's build).
const FORBIDDEN: &[&str] = &[
    "wasmtime",
    "cranelift",
    "redis",
    "zmq",
    "zmq-sys",
    "faas-runtime",
    "faas-store",
];

#[test]
fn the_client_depends_on_no_wasmtime_redis_or_zeromq() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .args(["--edges", "normal,build", "--manifest-path", manifest])
        .args(["-p", "faas-client"])
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo tree failed: {stderr}");
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"reqwest"), "an unexpected tree:\n{tree}");
    let found: Vec<&&str> = crates
        .iter()
        .filter(|name| {
            FORBIDDEN
                .iter()
                .any(|bad| *name == bad || name.starts_with(&format!("{bad}-")))
        })
        .collect();
    assert!(found.is_empty(), "faas-client pulls in {found:?}:\n{tree}");
}

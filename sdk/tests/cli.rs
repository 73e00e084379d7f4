//! The `faas` command line against a real `faas up`: deploy, invoke (with
//! and without --wait), status, result --json, failures and an unreachable
//! server. Being an integration test of this package, it also makes
//! `cargo test --workspace` build the `faas` binary before any test runs
//! (the end-to-end suite in `tests/` starts that binary).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use uuid::Uuid;

const FAAS: &str = env!("CARGO_BIN_EXE_faas");

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `faas up` on a free port, killed on drop.
struct Up {
    child: Child,
    url: String,
}

impl Up {
    fn start() -> Up {
        let port = free_port();
        let mut child = Command::new(FAAS)
            .args(["up", "--port", &port.to_string(), "-w", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("faas up starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let ready = line.contains("listening on");
                // Keep draining after the ready line so the pipe never fills.
                let _ = tx.send((ready, line));
            }
        });
        let mut log = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok((true, _)) => break,
                Ok((false, line)) => log.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("faas up did not get ready:\n{}", log.join("\n"));
                }
            }
        }
        Up {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Runs `faas ARGS` against this server, with `FAAS_URL` set.
    fn faas(&self, args: &[&str]) -> Output {
        faas_env(args, &[("FAAS_URL", &self.url)])
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn faas_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(FAAS)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("faas runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn success(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// `faas deploy FILE ...`: the function id, alone on stdout.
#[track_caller]
fn deploy(up: &Up, args: &[&str]) -> Uuid {
    let mut argv = vec!["deploy"];
    argv.extend_from_slice(args);
    let out = success(&up.faas(&argv));
    assert_eq!(out.lines().count(), 1, "only the id on stdout: {out:?}");
    Uuid::parse_str(out.trim()).unwrap_or_else(|e| panic!("not a uuid ({e}): {out:?}"))
}

#[test]
fn deploy_then_invoke_and_wait_prints_the_result() {
    let up = Up::start();
    let add = repo_file("examples/add.wat");
    let id = deploy(&up, &[add.to_str().expect("utf-8 path")]);
    let out = up.faas(&["invoke", &id.to_string(), "2", "3", "--wait"]);
    assert_eq!(success(&out), "5\n");
    // Negative numbers are arguments, not flags.
    let out = up.faas(&["invoke", &id.to_string(), "-7", "3", "--wait"]);
    assert_eq!(success(&out), "-4\n");

    // A WASI command, its stdin given as a JSON string.
    let hello = repo_file("examples/hello.wat");
    let id = deploy(&up, &[hello.to_str().expect("utf-8 path")]);
    let out = up.faas(&["invoke", &id.to_string(), "--raw", "\"world\"", "--wait"]);
    assert_eq!(success(&out).trim_end(), "hello, world");
}

#[test]
fn invoke_prints_a_task_id_then_status_and_result_json() {
    let up = Up::start();
    let add = repo_file("examples/add.wat");
    // --url instead of FAAS_URL.
    let out = faas_env(
        &[
            "deploy",
            add.to_str().expect("utf-8 path"),
            "--url",
            &up.url,
        ],
        &[],
    );
    let id = success(&out).trim().to_string();
    let out = up.faas(&["invoke", &id, "40", "2"]);
    let task = success(&out).trim().to_string();
    let task = Uuid::parse_str(&task).unwrap_or_else(|e| panic!("not a task id ({e}): {task:?}"));

    let out = up.faas(&["result", &task.to_string(), "--wait", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&success(&out)).expect("JSON on stdout");
    assert_eq!(
        v,
        serde_json::json!({ "task_id": task.to_string(), "status": "COMPLETED", "result": 42 })
    );
    let out = up.faas(&["status", &task.to_string()]);
    assert_eq!(success(&out), "COMPLETED\n");
    let out = up.faas(&["status", &task.to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&success(&out)).expect("JSON on stdout");
    assert_eq!(v["status"], "COMPLETED");
    let out = up.faas(&["result", &task.to_string()]);
    assert_eq!(success(&out), "42\n");
}

#[test]
fn a_failed_task_exits_1_with_the_message_on_stderr() {
    let up = Up::start();
    let typed = repo_file("runtime/tests/fixtures/typed.wat");
    let id = deploy(
        &up,
        &[typed.to_str().expect("utf-8 path"), "--entry", "boom"],
    );
    let out = up.faas(&["invoke", &id.to_string(), "--wait"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("FAILED") && err.contains("unreachable"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn server_errors_show_the_detail_not_a_trace() {
    let up = Up::start();
    let unknown = Uuid::new_v4().to_string();
    let out = up.faas(&["invoke", &unknown, "1", "--wait"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("not found") && err.contains("404"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    // Wrong arguments: the server's 400 detail.
    let add = repo_file("examples/add.wat");
    let id = deploy(&up, &[add.to_str().expect("utf-8 path")]);
    let out = up.faas(&["invoke", &id.to_string(), "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("2 argument"), "{}", stderr(&out));
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let id = Uuid::new_v4().to_string();
    let out = faas_env(&["invoke", &id, "1", "2"], &[("FAAS_URL", &url)]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot reach"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = faas_env(&["status", &id, "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
}

//! The `faas` command line against a real `faas up`: deploy, invoke (waiting
//! by default, and --no-wait), status, result --json, failures with hints and
//! an unreachable server; and without a server: `faas run` (local runs
//! printed as invoke prints them) and `faas build` (toolchain detection with
//! fake toolchains, real builds when the Debian toolchains are installed). Being an integration test of this package, it also makes
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

/// `faas up` on a free port, killed on drop, with a config directory of
/// its own: the server saves its first admin key there, and the CLI runs
/// below find it there, as on a user's machine.
struct Up {
    child: Child,
    url: String,
    config_dir: PathBuf,
}

impl Up {
    fn start() -> Up {
        let port = free_port();
        let config_dir =
            std::env::temp_dir().join(format!("faas-cli-test-{}-{port}", std::process::id()));
        let mut child = Command::new(FAAS)
            .args(["up", "--port", &port.to_string(), "-w", "2"])
            .env("FAAS_CONFIG_DIR", &config_dir)
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
            config_dir,
        }
    }

    /// Runs `faas ARGS` against this server, with `FAAS_URL` set and the
    /// server's config directory (so its saved key).
    fn faas(&self, args: &[&str]) -> Output {
        let dir = self.config_dir.to_string_lossy();
        faas_env(args, &[("FAAS_URL", &self.url), ("FAAS_CONFIG_DIR", &dir)])
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.config_dir);
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
    // Waiting is the default.
    let out = up.faas(&["invoke", &id.to_string(), "40", "2"]);
    assert_eq!(success(&out), "42\n");
    let out = up.faas(&["invoke", &id.to_string(), "40", "2", "--no-wait"]);
    let task = success(&out);
    assert!(Uuid::parse_str(task.trim()).is_ok(), "a task id: {task:?}");

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
        &[("FAAS_CONFIG_DIR", &up.config_dir.to_string_lossy())],
    );
    let id = success(&out).trim().to_string();
    let out = up.faas(&["invoke", &id, "40", "2", "--no-wait"]);
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
fn logs_prints_what_a_task_wrote_and_tasks_shows_its_usage() {
    let up = Up::start();
    let logs = repo_file("runtime/tests/fixtures/logs.wat");
    let logs = logs.to_str().expect("utf-8 path");
    let id = deploy(&up, &[logs, "--entry", "count", "--name", "count"]);
    let out = up.faas(&["invoke", &id.to_string(), "41", "--no-wait"]);
    let task = success(&out).trim().to_string();
    let out = up.faas(&["logs", &task, "--follow"]);
    assert_eq!(success(&out), "to stdout\nto stderr\n");
    let out = up.faas(&["logs", &task, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&success(&out)).expect("JSON on stdout");
    assert_eq!(v["status"], "COMPLETED", "{v}");
    let out = success(&up.faas(&["tasks"]));
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.contains("WAIT") && header.contains("RUN") && header.contains("MEMORY"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with(&task))
        .expect("the task's row");
    assert!(row.contains("128.0 KiB"), "its peak memory: {out}");
    // An unknown task is the server's 404, said plainly.
    let out = up.faas(&["logs", &Uuid::new_v4().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));

    // `faas run` shows the log on stderr, the result on stdout.
    let out = faas_env(&["run", logs, "--entry", "count", "1"], &[]);
    assert_eq!(success(&out), "2\n");
    assert!(
        stderr(&out).contains("to stdout\nto stderr\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn top_shows_the_platform_s_figures() {
    let up = Up::start();
    let logs = repo_file("runtime/tests/fixtures/logs.wat");
    let id = deploy(
        &up,
        &[logs.to_str().expect("utf-8 path"), "--name", "top-fn"],
    );
    // A WASI command's payload is its stdin: `!` makes it exit 3.
    for payload in ["\"a\"", "\"!\""] {
        let out = up.faas(&["invoke", &id.to_string(), "--raw", payload, "--no-wait"]);
        let task = success(&out).trim().to_string();
        up.faas(&["logs", &task, "--follow"]);
    }
    // Piped: one view, no screen control.
    let text = success(&up.faas(&["top"]));
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(
        text.contains("tasks/s (10 s)") && text.contains("p50"),
        "{text}"
    );
    assert!(text.contains("queued 0  running 0"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("top-fn"))
        .unwrap_or_else(|| panic!("the function's row: {text}"));
    let counts: Vec<&str> = row.split_whitespace().rev().take(2).collect();
    assert_eq!(counts, ["1", "2"], "2 invocations, 1 failure: {row}");
    let out = up.faas(&["top", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&success(&out)).expect("JSON on stdout");
    let seconds = v["stats"]["seconds"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let submitted: u64 = seconds.iter().filter_map(|s| s["submitted"].as_u64()).sum();
    assert_eq!(submitted, 2, "{v}");
    // The dashboard's address, with the saved key in its fragment.
    let url = success(&up.faas(&["dashboard"]));
    let prefix = format!("{}/ui#token=faas_", up.url);
    assert!(url.starts_with(&prefix), "{url}");
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
fn delete_removes_a_function_and_says_which_were_not_there() {
    let up = Up::start();
    let add = repo_file("examples/add.wat");
    let id = deploy(&up, &[add.to_str().expect("utf-8 path")]).to_string();
    let unknown = Uuid::new_v4().to_string();
    let out = up.faas(&["delete", &id]);
    assert_eq!(success(&out), format!("{id} deleted\n"));
    let out = up.faas(&["delete", &id, &unknown]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{id} not found\n{unknown} not found\n")
    );
    let out = up.faas(&["invoke", &id, "1", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
    let out = up.faas(&["functions"]);
    assert!(!success(&out).contains(&id), "still listed");
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

#[test]
fn a_failed_task_comes_with_a_hint_and_reads_like_a_local_run() {
    let up = Up::start();
    let exit3 = repo_file("runtime/tests/fixtures/exit3.wat");
    let exit3 = exit3.to_str().expect("utf-8 path");
    let id = deploy(&up, &[exit3]);
    let remote = up.faas(&["invoke", &id.to_string(), "--raw", "\"x\""]);
    assert_eq!(remote.status.code(), Some(1), "stderr: {}", stderr(&remote));
    let err = stderr(&remote);
    let mut lines = err.lines();
    let failed = lines.next().unwrap_or_default().to_owned();
    assert_eq!(failed, "FAILED: exit code 3: input file is missing");
    let hint = lines.next().unwrap_or_default();
    assert!(
        hint.starts_with("hint: ") && hint.contains("faas run <module> --raw '\"x\"'"),
        "{err}"
    );

    // The same module run locally prints the same failure.
    let local = faas_env(&["run", exit3, "--raw", "\"x\""], &[]);
    assert_eq!(local.status.code(), Some(1), "stderr: {}", stderr(&local));
    assert_eq!(stderr(&local).lines().next(), Some(failed.as_str()));
    assert_eq!(stdout(&local), stdout(&remote));

    // A trap: the hint says how to reproduce it locally.
    let typed = repo_file("runtime/tests/fixtures/typed.wat");
    let id = deploy(
        &up,
        &[typed.to_str().expect("utf-8 path"), "--entry", "boom"],
    );
    let out = up.faas(&["invoke", &id.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: run it locally to debug: faas run <module>"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_calls_a_typed_export_locally() {
    let add = repo_file("examples/add.wat");
    let add = add.to_str().expect("utf-8 path");
    assert_eq!(success(&faas_env(&["run", add, "2", "3"], &[])), "5\n");
    assert_eq!(success(&faas_env(&["run", add, "-7", "3"], &[])), "-4\n");
    assert_eq!(
        success(&faas_env(&["run", add, "--raw", "[40, 2]"], &[])),
        "42\n"
    );

    let typed = repo_file("runtime/tests/fixtures/typed.wat");
    let typed = typed.to_str().expect("utf-8 path");
    let out = faas_env(&["run", typed, "--entry", "divmod", "7", "2"], &[]);
    assert_eq!(success(&out), "[3,1]\n");
    let out = faas_env(&["run", typed, "--entry", "fib", "20", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&success(&out)).expect("JSON");
    assert_eq!(
        v,
        serde_json::json!({"status": "COMPLETED", "result": 6765, "failure_kind": null})
    );

    // Wrong arguments: the signature, as the server would say it.
    let out = faas_env(&["run", add, "1"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("takes 2 argument(s) (i32, i32) -> (i32)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_feeds_a_wasi_command_its_stdin() {
    let echo = repo_file("runtime/tests/fixtures/echo.wat");
    let echo = echo.to_str().expect("utf-8 path");
    let out = faas_env(&["run", echo, "--raw", "\"hello, world\""], &[]);
    assert_eq!(success(&out), "hello, world\n");
    let hello = repo_file("examples/hello.wat");
    let out = faas_env(
        &[
            "run",
            hello.to_str().expect("utf-8 path"),
            "--raw",
            "\"world\"",
        ],
        &[],
    );
    assert_eq!(success(&out).trim_end(), "hello, world");
    // A file as stdin.
    let tmp = TempDir::new();
    let input = tmp.write("input.txt", "two\nlines\n");
    let out = faas_env(
        &["run", echo, "--stdin", input.to_str().expect("utf-8 path")],
        &[],
    );
    assert_eq!(success(&out), "two\nlines\n");
}

#[test]
fn run_failures_exit_non_zero_with_the_platform_message() {
    let exit3 = repo_file("runtime/tests/fixtures/exit3.wat");
    let out = faas_env(&["run", exit3.to_str().expect("utf-8 path")], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "FAILED: exit code 3: input file is missing\n");

    let typed = repo_file("runtime/tests/fixtures/typed.wat");
    let typed = typed.to_str().expect("utf-8 path");
    let out = faas_env(&["run", typed, "--entry", "boom"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("FAILED: ") && stderr(&out).contains("unreachable"),
        "{}",
        stderr(&out)
    );

    // The time limit is an option; the hint names it.
    let started = std::time::Instant::now();
    let out = faas_env(&["run", typed, "--entry", "spin", "--timeout", "0.2"], &[]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("FAILED: timed out after 200 ms\n"), "{err}");
    assert!(
        err.contains("hint: the limit is --timeout 0.2 s here; the platform's is 10 s"),
        "{err}"
    );

    // A module that does not load is an error before any run.
    let tmp = TempDir::new();
    let bad = tmp.write("bad.wat", "(module (import \"env\" \"f\" (func)))");
    let out = faas_env(&["run", bad.to_str().expect("utf-8 path")], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("env::f"), "{}", stderr(&out));
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("faas-cli-test-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(&path, contents).expect("writable");
        path
    }

    fn script(&self, rel: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.write(rel, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    /// A fake toolchain: a `rustc` that prints `sysroot` (a rustup-like one
    /// with the standard libraries of `targets`) and refuses anything else,
    /// and a `cargo` running `cargo_body`.
    fn fake_rust(&self, targets: &[&str], cargo_body: &str) -> PathBuf {
        let sysroot = self.0.join(".rustup/toolchains/fake");
        std::fs::create_dir_all(sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu/lib"))
            .expect("dirs");
        for t in targets {
            std::fs::create_dir_all(sysroot.join("lib/rustlib").join(t).join("lib")).expect("dirs");
        }
        self.script(
            "bin/rustc",
            &format!(
                "if [ \"$1 $2\" = '--print sysroot' ]; then echo '{}'; exit 0; fi\n\
                 echo 'error[E0463]: FAKE RUSTC RAN' >&2; exit 1",
                sysroot.display()
            ),
        );
        self.script("bin/cargo", cargo_body)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn build_without_a_wasm_target_gives_the_install_hint_not_a_compiler_dump() {
    let tmp = TempDir::new();
    tmp.write(
        "guest/Cargo.toml",
        "[package]\nname = \"guest\"\nversion = \"0.1.0\"\n",
    );
    tmp.write("guest/src/main.rs", "fn main() {}\n");
    let cargo = tmp.fake_rust(&[], "echo 'error[E0463]: FAKE CARGO RAN' >&2; exit 101");
    let guest = tmp.0.join("guest");
    for extra in [&[][..], &["--target", "wasm32-wasip1"][..]] {
        let mut argv = vec![
            "build",
            "--cargo",
            cargo.to_str().expect("utf-8"),
            guest.to_str().expect("utf-8"),
        ];
        argv.extend_from_slice(extra);
        let out = faas_env(&argv, &[]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "stdout: {}\nstderr: {}",
            stdout(&out),
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(
            !err.contains("FAKE") && !err.contains("error["),
            "the compiler ran: {err}"
        );
        assert!(
            err.contains(&format!("{}", tmp.0.join("bin/rustc").display())),
            "{err}"
        );
        assert!(
            err.contains("run `rustup target add wasm32-wasip1`"),
            "{err}"
        );
        assert!(err.contains("/usr/bin/cargo"), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert_eq!(stdout(&out), "");
    }
    // `faas deploy` of the crate says the same, before reaching for a server.
    let out = faas_env(
        &[
            "deploy",
            guest.to_str().expect("utf-8"),
            "--cargo",
            cargo.to_str().expect("utf-8"),
        ],
        &[("FAAS_URL", "http://127.0.0.1:9")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("rustup target add"),
        "{}",
        stderr(&out)
    );

    // This machine's rustup toolchain, if it has no wasm32-wasip1.
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let rustup_cargo = home.join(".cargo/bin/cargo");
    let has_wasip1 = std::process::Command::new(home.join(".cargo/bin/rustc"))
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| {
            PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
                .join("lib/rustlib/wasm32-wasip1/lib")
                .is_dir()
        });
    if has_wasip1 == Some(false) {
        let out = faas_env(
            &[
                "build",
                "--cargo",
                rustup_cargo.to_str().expect("utf-8"),
                "--target",
                "wasm32-wasip1",
                guest.to_str().expect("utf-8"),
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.starts_with("error: no `wasm32-wasip1` target for the Rust toolchain at "),
            "{err}"
        );
        assert!(
            err.contains("rustup target add wasm32-wasip1") && !err.contains("Compiling"),
            "{err}"
        );
    } else {
        eprintln!(
            "skipped: no rustup toolchain without wasm32-wasip1 at {}",
            rustup_cargo.display()
        );
    }
}

#[test]
fn build_runs_the_chosen_cargo_and_reports_the_module() {
    let tmp = TempDir::new();
    let manifest = tmp.write(
        "guest/Cargo.toml",
        "[package]\nname = \"guest\"\nversion = \"0.1.0\"\n",
    );
    let wasm = wat::parse_str(r#"(module (func (export "_start")) (memory (export "memory") 1))"#)
        .expect("WAT");
    let out_dir = tmp.0.join("guest/target/wasm32-wasi/release");
    std::fs::create_dir_all(&out_dir).expect("dirs");
    let module = out_dir.join("guest.wasm");
    std::fs::write(&module, &wasm).expect("writable");
    let log = tmp.0.join("cargo.log");
    let cargo = tmp.fake_rust(
        &["wasm32-wasi"],
        &format!(
            "echo \"$@\" > '{log}'\necho \"RUSTC=$RUSTC STRIP=$CARGO_PROFILE_RELEASE_STRIP\" >> '{log}'\n\
             echo '   Compiling guest (fake)' >&2\n\
             echo '{{\"reason\":\"compiler-artifact\",\"manifest_path\":\"{manifest}\",\"filenames\":[\"{module}\"]}}'\n\
             echo '{{\"reason\":\"build-finished\",\"success\":true}}'",
            log = log.display(),
            manifest = manifest.display(),
            module = module.display(),
        ),
    );
    let out = faas_env(
        &[
            "build",
            "--cargo",
            cargo.to_str().expect("utf-8"),
            manifest.to_str().expect("utf-8"),
        ],
        &[],
    );
    let printed = success(&out);
    assert_eq!(
        printed,
        format!(
            "built {} ({} bytes), entry _start (WASI command)\n",
            module.display(),
            wasm.len()
        )
    );
    let log = std::fs::read_to_string(&log).expect("cargo ran");
    assert!(
        log.contains(
            "build --release --target wasm32-wasi --message-format=json-render-diagnostics"
        ),
        "{log}"
    );
    assert!(!log.contains("--offline"), "{log}");
    assert!(
        log.contains(&format!(
            "RUSTC={} STRIP=true",
            tmp.0.join("bin/rustc").display()
        )),
        "{log}"
    );

    // --json, and `faas run` of the crate builds it and runs it.
    let out = faas_env(
        &[
            "build",
            "--json",
            "--cargo",
            cargo.to_str().expect("utf-8"),
            manifest.to_str().expect("utf-8"),
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&success(&out)).expect("JSON");
    assert_eq!(v["entry"], "_start");
    assert_eq!(v["convention"], serde_json::json!({"kind": "wasi_command"}));
    let out = faas_env(
        &[
            "run",
            tmp.0.join("guest").to_str().expect("utf-8"),
            "--cargo",
            cargo.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(success(&out), "");
    assert!(stderr(&out).contains("built "), "{}", stderr(&out));
}

#[test]
fn build_with_the_debian_toolchains_when_installed() {
    let tmp = TempDir::new();
    let debian = PathBuf::from("/usr/bin/rustc");
    let has_wasi = debian.is_file()
        && std::process::Command::new(&debian)
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .is_some_and(|o| {
                PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
                    .join("lib/rustlib/wasm32-wasi/lib")
                    .is_dir()
            });
    if has_wasi {
        tmp.write(
            "hello/Cargo.toml",
            "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        );
        tmp.write(
            "hello/src/main.rs",
            "use std::io::Read;\nfn main() {\n    let mut s = String::new();\n    std::io::stdin().read_to_string(&mut s).unwrap();\n    println!(\"hello, {}\", s.trim());\n}\n",
        );
        let dir = tmp.0.join("hello");
        // Found without --cargo: PATH's toolchain if it has a wasm target, else Debian's.
        let out = faas_env(&["build", dir.to_str().expect("utf-8")], &[]);
        let printed = success(&out);
        assert!(
            printed.starts_with("built ") && printed.contains("/release/hello.wasm ("),
            "{printed}"
        );
        assert!(
            printed.ends_with("entry _start (WASI command)\n"),
            "{printed}"
        );
        let out = faas_env(
            &[
                "run",
                dir.to_str().expect("utf-8"),
                "--cargo",
                "/usr/bin/cargo",
                "--raw",
                "\"rust\"",
            ],
            &[],
        );
        assert_eq!(success(&out), "hello, rust\n");
        // The user's own compile errors are shown as they are.
        tmp.write("hello/src/main.rs", "fn main() { let x: u32 = \"no\"; }\n");
        let out = faas_env(
            &[
                "build",
                "--cargo",
                "/usr/bin/cargo",
                dir.to_str().expect("utf-8"),
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("mismatched types")
                && stderr(&out).contains("cargo build failed"),
            "{}",
            stderr(&out)
        );
    } else {
        eprintln!("skipped the Rust build: no /usr/bin/rustc with wasm32-wasi (apt-get install rustc cargo libstd-rust-dev-wasm32)");
    }

    let clang_ok = PathBuf::from("/usr/bin/clang").is_file()
        && PathBuf::from("/usr/lib/wasm32-wasi/libc.a").is_file();
    if clang_ok {
        let c = tmp.write(
            "c/hello.c",
            "#include <stdio.h>\nint main(void) { char b[64]; size_t n = fread(b, 1, sizeof b, stdin); printf(\"%zu bytes\\n\", n); return 0; }\n",
        );
        let out = faas_env(&["build", c.to_str().expect("utf-8")], &[]);
        let printed = success(&out);
        let module = tmp.0.join("c/target/hello.wasm");
        assert!(
            printed.starts_with(&format!("built {} (", module.display())),
            "{printed}"
        );
        assert!(
            printed.ends_with("entry _start (WASI command)\n"),
            "{printed}"
        );
        let out = faas_env(
            &["run", c.to_str().expect("utf-8"), "--raw", "\"abc\""],
            &[],
        );
        assert_eq!(success(&out), "3 bytes\n");
        // No main: a reactor whose exports are called directly.
        let add = tmp.write(
            "c/add.c",
            "__attribute__((export_name(\"add\"))) int add(int a, int b) { return a + b; }\n",
        );
        let out = faas_env(&["build", add.to_str().expect("utf-8")], &[]);
        assert!(
            success(&out).ends_with("entry add (i32, i32) -> (i32)\n"),
            "{}",
            stdout(&out)
        );
        let out = faas_env(&["run", add.to_str().expect("utf-8"), "2", "40"], &[]);
        assert_eq!(success(&out), "42\n");
    } else {
        eprintln!("skipped the C build: no clang with wasi-libc (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)");
    }
}

/// `faas map`, `faas functions` and `faas tasks` against `faas up`.
mod map_and_listings {
    use super::*;
    use serde_json::{json, Value};
    use std::io::Write;

    /// A file in the temp dir, removed on drop.
    struct Lines(PathBuf);

    impl Lines {
        fn new(text: &str) -> Lines {
            let path = std::env::temp_dir().join(format!("faas-map-{}.txt", Uuid::new_v4()));
            std::fs::write(&path, text).expect("temp file is writable");
            Lines(path)
        }

        fn path(&self) -> &str {
            self.0.to_str().expect("utf-8 path")
        }
    }

    impl Drop for Lines {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn json_lines(out: &Output) -> Vec<Value> {
        stdout(out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
            .collect()
    }

    fn add(up: &Up) -> String {
        deploy(
            up,
            &[repo_file("examples/add.wat").to_str().expect("utf-8 path")],
        )
        .to_string()
    }

    #[test]
    fn map_prints_every_result_in_input_order() {
        let up = Up::start();
        let id = add(&up);
        // 50 payloads, with blank lines between some: `line` is the file's line.
        let mut text = String::new();
        let mut want = Vec::new();
        for i in 0..50 {
            if i % 10 == 3 {
                text.push_str("\n  \n");
            }
            text.push_str(&format!("[{i}, 1000]\n"));
            want.push((text.lines().count(), 1000 + i));
        }
        let file = Lines::new(&text);
        let out = up.faas(&["map", &id, file.path(), "--concurrency", "8"]);
        success(&out);
        let rows = json_lines(&out);
        assert_eq!(rows.len(), 50, "{}", stdout(&out));
        for (row, (line, sum)) in rows.iter().zip(&want) {
            assert_eq!(row["line"], json!(line), "{row}");
            assert_eq!(
                (row["status"].as_str(), &row["result"]),
                (Some("COMPLETED"), &json!(sum)),
                "{row}"
            );
            let task = row["task_id"].as_str().unwrap_or_default();
            assert!(Uuid::parse_str(task).is_ok(), "{row}");
        }
        // Not a terminal: no bar, just the summary.
        let err = stderr(&out);
        assert!(
            err.starts_with("50 tasks: 50 completed, 0 failed in "),
            "{err:?}"
        );
        assert_eq!(err.lines().count(), 1, "{err:?}");

        // Standard input, with `-`.
        let mut child = Command::new(FAAS)
            .args(["map", &id, "-"])
            .env("FAAS_URL", &up.url)
            .env("FAAS_CONFIG_DIR", &up.config_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("faas map starts");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(b"[1, 2]\n[3, 4]\n")
            .expect("writes");
        let out = child.wait_with_output().expect("faas map ends");
        success(&out);
        let results: Vec<Value> = json_lines(&out)
            .iter()
            .map(|r| r["result"].clone())
            .collect();
        assert_eq!(results, [json!(3), json!(7)]);
    }

    #[test]
    fn map_exits_1_when_a_task_fails_or_is_refused() {
        let up = Up::start();
        let typed = repo_file("runtime/tests/fixtures/typed.wat");
        let boom = deploy(
            &up,
            &[typed.to_str().expect("utf-8 path"), "--entry", "boom"],
        )
        .to_string();
        let file = Lines::new("[]\n[]\n");
        let out = up.faas(&["map", &boom, file.path()]);
        assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
        let rows = json_lines(&out);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r["status"] == "FAILED"), "{rows:?}");
        assert!(
            rows[0]["result"]
                .as_str()
                .is_some_and(|m| m.contains("unreachable")),
            "{rows:?}"
        );
        assert!(
            stderr(&out).contains("2 tasks: 0 completed, 2 failed"),
            "{}",
            stderr(&out)
        );

        // A payload the server refuses (wrong arity) is an ERROR row; the others run.
        let id = add(&up);
        let file = Lines::new("[1, 2]\n[1]\n[5, 5]\n");
        let out = up.faas(&["map", &id, file.path()]);
        assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
        let rows = json_lines(&out);
        assert_eq!(
            (rows[0]["result"].clone(), rows[2]["result"].clone()),
            (json!(3), json!(10))
        );
        assert_eq!(
            (rows[1]["status"].as_str(), &rows[1]["task_id"]),
            (Some("ERROR"), &Value::Null)
        );
        assert!(
            rows[1]["error"].as_str().is_some_and(|e| e.contains("400")),
            "{rows:?}"
        );
    }

    #[test]
    fn map_names_a_bad_line_and_submits_nothing() {
        let up = Up::start();
        let id = add(&up);
        let file = Lines::new("[1, 2]\n\n[3, oops]\n[4, 5]\n");
        let out = up.faas(&["map", &id, file.path()]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains("line 3") && err.contains("[3, oops]"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(stdout(&out), "");
        let out = up.faas(&["tasks", "--json"]);
        let listed: Value = serde_json::from_str(&success(&out)).expect("JSON");
        assert_eq!(listed, json!({ "tasks": [] }), "nothing may be submitted");

        // An unknown function: one error, before anything is submitted.
        let file = Lines::new("[1, 2]\n");
        let out = up.faas(&["map", &Uuid::new_v4().to_string(), file.path()]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("404"), "{}", stderr(&out));
        assert_eq!(stdout(&out), "");
    }

    #[test]
    fn functions_and_tasks_list_what_is_there() {
        let up = Up::start();
        assert_eq!(success(&up.faas(&["functions"])), "no functions\n");
        assert_eq!(success(&up.faas(&["tasks"])), "no tasks\n");
        let id = add(&up);
        let typed = repo_file("runtime/tests/fixtures/typed.wat");
        let boom = deploy(
            &up,
            &[typed.to_str().expect("utf-8 path"), "--entry", "boom"],
        )
        .to_string();

        let table = success(&up.faas(&["functions"]));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(
            lines[0].starts_with("FUNCTION ID") && lines[0].contains("NAME"),
            "{table}"
        );
        let add_row = lines
            .iter()
            .find(|l| l.starts_with(&id))
            .expect("add listed");
        assert!(
            add_row.contains(" add ") && add_row.contains(" B "),
            "{table}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&boom) && l.contains("typed") && l.contains("boom")),
            "{table}"
        );
        let listed: Value =
            serde_json::from_str(&success(&up.faas(&["functions", "--json", "-n", "1"])))
                .expect("JSON");
        assert_eq!(
            listed["functions"].as_array().map(Vec::len),
            Some(1),
            "{listed}"
        );

        let file = Lines::new("[1, 2]\n[3, 4]\n");
        success(&up.faas(&["map", &id, file.path()]));
        let file = Lines::new("[]\n");
        up.faas(&["map", &boom, file.path()]);

        let table = success(&up.faas(&["tasks"]));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[0].starts_with("TASK ID") && lines[0].contains("ATTEMPTS"),
            "{table}"
        );
        // Newest first: the failed one.
        assert!(
            lines[1].contains(&boom) && lines[1].contains("FAILED (trap)"),
            "{table}"
        );
        assert!(
            lines[2].contains(&id) && lines[2].contains("COMPLETED"),
            "{table}"
        );

        let out = success(&up.faas(&["tasks", "--status", "completed", "--json"]));
        let listed: Value = serde_json::from_str(&out).expect("JSON");
        let tasks = listed["tasks"].as_array().expect("array");
        assert_eq!(tasks.len(), 2, "{listed}");
        assert!(
            tasks
                .iter()
                .all(|t| t["status"] == "COMPLETED" && t["attempts"] == 1),
            "{listed}"
        );
        assert_eq!(
            success(&up.faas(&["tasks", "-s", "running"])),
            "no RUNNING tasks among the latest\n"
        );
        assert_eq!(
            success(&up.faas(&["tasks", "--limit", "1"]))
                .lines()
                .count(),
            2
        );

        // Bad flags are usage errors that say what is allowed.
        let out = up.faas(&["tasks", "--status", "done"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("queued, running, completed or failed"),
            "{}",
            stderr(&out)
        );
        let out = up.faas(&["functions", "--limit", "0"]);
        assert_eq!(out.status.code(), Some(2));
    }
}

#[test]
fn the_client_example_submits_many_tasks_and_gathers_them_in_order() {
    let up = Up::start();
    // `cargo test` builds the package's examples beside its binary.
    let example = PathBuf::from(FAAS)
        .parent()
        .expect("the binary's directory")
        .join("examples/many_tasks");
    assert!(example.exists(), "{} was not built", example.display());
    let out = Command::new(&example)
        .arg("300")
        .env("FAAS_URL", &up.url)
        .env("FAAS_CONFIG_DIR", &up.config_dir)
        .output()
        .expect("the example runs");
    let text = success(&out);
    assert!(
        text.starts_with("300 tasks in ") && text.contains(", 0 wrong"),
        "{text}"
    );
}

/// Whether `tool` runs; if not, says the test is skipped and how to
/// install it.
fn installed(tool: &str, install: &str) -> bool {
    let runs = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok();
    if !runs {
        println!("SKIPPED: {tool} is not installed ({install})");
    }
    runs
}

/// `faas build` of a handler in `tmp`'s directory `dir`; the component's path.
fn build_handler(tmp: &TempDir, dir: &str, handler: &str) -> String {
    let printed = success(&faas_env(&["build", handler], &[]));
    assert!(
        printed.contains("target/handler.wasm (")
            && printed.ends_with("entry handle (faas:function/handler component)\n"),
        "{printed}"
    );
    let module = tmp.0.join(dir).join("target/handler.wasm");
    module.to_str().expect("utf-8").to_owned()
}

/// `faas build handler.py` with componentize-py for real: a component of
/// the handler world, run locally (a result, an exception's traceback),
/// then deployed from source and invoked; and the one-line hint when
/// componentize-py is missing.
#[test]
fn python_functions_build_run_and_deploy() {
    let tmp = TempDir::new();
    let handler = tmp.write(
        "py/handler.py",
        "import six\n\ndef handle(payload):\n    if payload.get(\"fail\"):\n        raise ValueError(\"asked to fail\")\n    return {\"sum\": sum(payload[\"numbers\"]), \"six\": six.__version__}\n",
    );
    // A pure-Python package from PyPI, installed by `faas build` with pip.
    tmp.write("py/requirements.txt", "six==1.16.0\n");
    let handler = handler.to_str().expect("utf-8");
    let out = faas_env(
        &[
            "build",
            handler,
            "--componentize-py",
            "/nonexistent/componentize-py",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot run /nonexistent/componentize-py"),
        "{}",
        stderr(&out)
    );
    let out = faas_env(&["build", handler], &[("PATH", "/nonexistent")]);
    assert!(
        stderr(&out).contains("pip install componentize-py=="),
        "{}",
        stderr(&out)
    );
    if !installed("componentize-py", "pip install componentize-py==0.25.1") {
        return;
    }
    let module = build_handler(&tmp, "py", handler);
    let module = module.as_str();
    let out = faas_env(&["run", module, "--raw", r#"{"numbers": [1, 2, 3]}"#], &[]);
    assert_eq!(success(&out), "{\"six\":\"1.16.0\",\"sum\":6}\n");
    // One word is a handler's whole payload.
    let out = faas_env(&["run", module, r#"{"numbers": [4]}"#], &[]);
    assert_eq!(success(&out), "{\"six\":\"1.16.0\",\"sum\":4}\n");
    let out = faas_env(&["run", module, "--raw", r#"{"fail": true}"#], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("Traceback") && err.contains("ValueError: asked to fail"),
        "{err}"
    );

    let up = Up::start();
    let id = deploy(&up, &[handler]);
    let out = up.faas(&["invoke", &id.to_string(), r#"{"numbers": [40, 2]}"#]);
    assert_eq!(success(&out), "{\"six\":\"1.16.0\",\"sum\":42}\n");
}

/// `faas build handler.js` with componentize-js for real: built, run
/// locally (a result, a thrown error with its stack), deployed from
/// source and invoked; and the one-line hint when componentize-js is
/// missing.
#[test]
fn javascript_functions_build_run_and_deploy() {
    let tmp = TempDir::new();
    let handler = tmp.write(
        "js/handler.js",
        "export function handle(payload) {\n  if (payload.fail) {\n    throw new RangeError(\"asked to fail\");\n  }\n  return { sum: payload.numbers.reduce((a, b) => a + b, 0) };\n}\n",
    );
    let handler = handler.to_str().expect("utf-8");
    let out = faas_env(&["build", handler], &[("PATH", "/nonexistent")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("npm install -g @bytecodealliance/componentize-js@"),
        "{}",
        stderr(&out)
    );
    if !installed(
        "componentize-js",
        "npm install -g @bytecodealliance/componentize-js@0.23.0",
    ) {
        return;
    }
    let module = build_handler(&tmp, "js", handler);
    let module = module.as_str();
    let out = faas_env(&["run", module, r#"{"numbers": [1, 2, 3]}"#], &[]);
    assert_eq!(success(&out), "{\"sum\":6}\n");
    let out = faas_env(&["run", module, r#"{"fail": true}"#], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("RangeError: asked to fail") && err.contains("handler.js"),
        "the error and its stack: {err}"
    );

    let up = Up::start();
    let id = deploy(&up, &[handler]);
    let out = up.faas(&["invoke", &id.to_string(), r#"{"numbers": [40, 2]}"#]);
    assert_eq!(success(&out), "{\"sum\":42}\n");
}

/// What bash's completion of `faas` offers for the words of `line`, with
/// the script `faas completions bash` printed, sourced by a real bash.
fn bash_completes(script: &std::path::Path, line: &str) -> Vec<String> {
    let probe = r#"source "$1"; read -ra COMP_WORDS <<< "$2"; [[ "$2" == *" " ]] && COMP_WORDS+=("");
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE="$2"; COMP_POINT=${#2};
_faas faas "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; printf '%s\n' "${COMPREPLY[@]}""#;
    let out = Command::new("bash")
        .args(["-c", probe, "probe"])
        .arg(script)
        .arg(line)
        .output()
        .expect("bash runs");
    success(&out).lines().map(str::to_string).collect()
}

#[test]
fn completions_complete_commands_and_flags_in_bash() {
    let script = success(&faas_env(&["completions", "bash"], &[]));
    let path = std::env::temp_dir().join(format!("faas-completion-{}.bash", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let commands = bash_completes(&path, "faas dep");
    assert_eq!(commands, ["deploy"], "{commands:?}");
    let flags = bash_completes(&path, "faas dispatcher --red");
    assert!(flags.contains(&"--redis".to_string()), "{flags:?}");
    let all = bash_completes(&path, "faas ");
    for command in [
        "up",
        "server",
        "dispatcher",
        "worker",
        "invoke",
        "completions",
    ] {
        assert!(all.contains(&command.to_string()), "{command}: {all:?}");
    }
    let _ = std::fs::remove_file(&path);
    for (shell, redis_flag) in [("zsh", "--redis"), ("fish", "-l redis")] {
        let script = success(&faas_env(&["completions", shell], &[]));
        assert!(
            script.contains("dispatcher") && script.contains(redis_flag),
            "{shell}"
        );
    }
    let refused = faas_env(&["completions", "tcsh"], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("possible values"),
        "{}",
        stderr(&refused)
    );
}

/// Whether Debian's rustc with its wasm32-wasi standard library is here.
fn debian_rust_has_wasi() -> bool {
    let debian = PathBuf::from("/usr/bin/rustc");
    debian.is_file()
        && Command::new(&debian)
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .is_some_and(|o| {
                PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
                    .join("lib/rustlib/wasm32-wasi/lib")
                    .is_dir()
            })
}

/// `faas new LANGUAGE hello`, then the line of the project's README that
/// deploys and invokes it, run as written by `sh` (with `faas` on PATH):
/// every language whose toolchain is here gives its greeting with no
/// editing. A second `faas new` of the same name keeps the first project.
#[test]
fn new_projects_deploy_and_invoke_as_their_readme_says() {
    let up = Up::start();
    let tmp = TempDir::new();
    let mut languages = vec![("wat", "5")];
    if debian_rust_has_wasi() {
        languages.push(("rust", "Hello, world!"));
    } else {
        println!("SKIPPED rust: apt-get install rustc cargo libstd-rust-dev-wasm32");
    }
    if installed(
        "clang",
        "apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32",
    ) {
        languages.push(("c", "Hello, world!"));
    }
    if installed("componentize-py", "pip install componentize-py==0.25.1") {
        languages.push(("python", r#"{"greeting":"Hello, world!"}"#));
    }
    if installed(
        "componentize-js",
        "npm install -g @bytecodealliance/componentize-js@0.23.0",
    ) {
        languages.push(("js", r#"{"greeting":"Hello, world!"}"#));
    }
    let bin_dir = PathBuf::from(FAAS)
        .parent()
        .expect("the binary's directory")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let config_dir = up.config_dir.to_string_lossy().into_owned();
    let in_tmp = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(&tmp.0)
            .env("PATH", &path)
            .env("FAAS_URL", &up.url)
            .env("FAAS_CONFIG_DIR", &config_dir)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("runs")
    };
    for (language, greeting) in languages {
        let name = format!("hello-{language}");
        let out = in_tmp(FAAS, &["new", language, &name]);
        success(&out);
        assert!(
            stderr(&out).contains("faas invoke $(faas deploy"),
            "{}",
            stderr(&out)
        );
        let readme =
            std::fs::read_to_string(tmp.0.join(&name).join("README.md")).expect("a README");
        let line = readme
            .lines()
            .find(|l| l.starts_with("faas invoke"))
            .unwrap_or_else(|| panic!("no invoke line in {language}'s README:\n{readme}"));
        let out = in_tmp("sh", &["-c", line]);
        assert_eq!(
            success(&out).trim(),
            greeting,
            "{language}: {line}\n{}",
            stderr(&out)
        );

        let again = in_tmp(FAAS, &["new", language, &name]);
        assert_eq!(
            again.status.code(),
            Some(1),
            "{language}: a second new must fail"
        );
        assert!(
            stderr(&again).contains("already exists"),
            "{}",
            stderr(&again)
        );
    }
    let out = in_tmp(FAAS, &["new", "rust", "9lives"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot name a function"),
        "{}",
        stderr(&out)
    );
}

//! WebAssembly components, registered and run in every mode (embedded
//! `faas up`; Redis with a local dispatcher; push and pull workers):
//! - Python functions (world `faas:function/handler`,
//!   `wit/faas-function.wit`), built for real with componentize-py: a
//!   result, an error the handler returns, an exception (with its Python
//!   traceback), the memory cap and the time limit;
//! - `wasi:cli/command` components, made from a WASI preview-1 command
//!   with wasmtime's preview-1 adapter as wasm-tools and the wasm32-wasip2
//!   linker make them: stdin in, stdout out, an exit code with stderr,
//!   the memory cap and the time limit;
//! - a component of another world is refused at registration, saying
//!   which worlds would do.
//!
//! Skipped, saying so, where componentize-py is not installed (`.ci/run`
//! installs it: `pip install componentize-py==0.25.1`).

mod common;

use common::one_slot::one_slot;
use common::Api;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const HANDLER: &str = r#"
import json
import sys

import wit_world
from componentize_py_types import Err


class WitWorld(wit_world.WitWorld):
    def handle(self, payload: str) -> str:
        data = json.loads(payload)
        if isinstance(data, dict):
            if "error" in data:
                raise Err(str(data["error"]))
            if "raise" in data:
                raise ValueError(data["raise"])
            if data.get("loop"):
                while True:
                    pass
            if "print" in data:
                print(data["print"])
                print("and to stderr", file=sys.stderr)
                return json.dumps("printed")
            if "allocate_mib" in data:
                return json.dumps(len(bytearray(data["allocate_mib"] * 1024 * 1024)))
        return json.dumps({"echo": data})
"#;

const OTHER_WIT: &str = r#"
package test:other;

world greeter {
  export greet: func() -> string;
}
"#;

const GREETER: &str = r#"
import wit_world


class WitWorld(wit_world.WitWorld):
    def greet(self) -> str:
        return "hello"
"#;

/// A WASI preview-1 command, by the first byte of its stdin: `!` writes
/// "refused" to stderr and exits 3, `~` loops for ever, `+` grows its
/// memory by 400 MiB (and traps if it cannot), anything else is greeted.
const COMMAND_WAT: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "hello, ")
  (data (i32.const 200) "refused\n")
  (func $first (result i32)
    (if (result i32) (i32.eqz (i32.load (i32.const 16)))
      (then (i32.const 0))
      (else (i32.load8_u (i32.const 107)))))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 107))
    (i32.store (i32.const 4) (i32.const 4096))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (if (i32.eq (call $first) (i32.const 33))
      (then
        (i32.store (i32.const 0) (i32.const 200))
        (i32.store (i32.const 4) (i32.const 8))
        (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 20)))
        (call $proc_exit (i32.const 3))))
    (if (i32.eq (call $first) (i32.const 126))
      (then (loop $forever (br $forever))))
    (if (i32.eq (call $first) (i32.const 43))
      (then
        (if (i32.eq (memory.grow (i32.const 6400)) (i32.const -1))
          (then unreachable))))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.add (i32.const 7) (i32.load (i32.const 16))))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 20)))))
"#;

/// COMMAND_WAT as a `wasi:cli/command` component.
fn command_component() -> Vec<u8> {
    let module = wat::parse_str(COMMAND_WAT).expect("the command's WAT");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("a preview-1 module")
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        )
        .expect("the command adapter")
        .validate(true)
        .encode()
        .expect("a component")
}

fn wit_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../wit/faas-function.wit")
}

/// Builds `app.py` (with `source`) against `wit` and `world` with
/// componentize-py into a directory of its own; None if componentize-py
/// is not installed.
fn componentize(name: &str, wit: &Path, world: &str, source: &str) -> Option<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("faas-py-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a build directory");
    std::fs::write(dir.join("app.py"), source).expect("app.py");
    let out = dir.join("app.wasm");
    let built = Command::new("componentize-py")
        .args(["-d"])
        .arg(wit)
        .args(["-w", world, "componentize", "app", "-o"])
        .arg(&out)
        .current_dir(&dir)
        .output();
    let bytes = match built {
        Err(e) => {
            println!(
                "SKIPPED: componentize-py cannot run ({e}); pip install componentize-py==0.25.1"
            );
            None
        }
        Ok(o) if !o.status.success() => panic!(
            "componentize-py failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Ok(_) => Some(std::fs::read(&out).expect("the component")),
    };
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

/// The handler, built once per test run.
fn python_handler() -> Option<&'static [u8]> {
    static BUILT: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    BUILT
        .get_or_init(|| componentize("handler", &wit_file(), "handler", HANDLER))
        .as_deref()
}

async fn ended(api: &Api, function: uuid::Uuid, payload: Value) -> (String, Value, Value) {
    let task = api.execute(function, &payload).await;
    let (status, result) = api.wait_final(task).await;
    let record = api.task(task).await;
    (status, result, record["failure_kind"].clone())
}

/// The task of `payload` ends FAILED at the 10 s limit.
async fn times_out(api: &Api, function: uuid::Uuid, payload: Value, what: &str) {
    let (status, result, kind) = ended(api, function, payload).await;
    assert_eq!(
        (status.as_str(), result, kind),
        (
            "FAILED",
            json!("timed out after 10000 ms"),
            json!("timeout")
        ),
        "{what}"
    );
}

async fn a_python_handler_runs_and_fails_as_it_should(mode: &str) {
    let Some(module) = python_handler() else {
        return;
    };
    let (api, _platform) = one_slot(mode);
    let reply = api.register_reply("py", module, None).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let py = common::uuid_field(&reply.json(), "function_id");
    let record = api.get(&format!("/functions/{py}")).await.json();
    assert_eq!(record["entry"], "handle", "{record}");
    assert_eq!(record["convention"], json!({"kind": "handler"}), "{record}");

    let (status, result, _) = ended(&api, py, json!({"x": [1, "two"]})).await;
    assert_eq!(
        (status.as_str(), result),
        ("COMPLETED", json!({"echo": {"x": [1, "two"]}})),
        "{mode}"
    );
    // What it print()s is its task's log.
    let task = api
        .execute(py, &json!({"print": "hello from Python"}))
        .await;
    assert_eq!(api.wait_final(task).await.1, json!("printed"), "{mode}");
    let logs = api.get(&format!("/tasks/{task}/logs")).await.json();
    assert_eq!(
        logs["logs"],
        json!("hello from Python\nand to stderr\n"),
        "{mode}: {logs}"
    );
    let (status, result, kind) = ended(&api, py, json!({"error": "no way"})).await;
    assert_eq!(
        (status.as_str(), result, kind),
        ("FAILED", json!("no way"), json!("error")),
        "{mode}: a returned error"
    );
    let (status, result, kind) = ended(&api, py, json!({"raise": "boom"})).await;
    assert_eq!(
        (status.as_str(), &kind),
        ("FAILED", &json!("trap")),
        "{mode}"
    );
    let message = result.as_str().unwrap_or_default();
    assert!(
        message.contains("Traceback") && message.contains("ValueError: boom"),
        "{mode}: the exception's traceback: {message}"
    );
    let (status, result, kind) = ended(&api, py, json!({"allocate_mib": 400})).await;
    assert_eq!(
        (status.as_str(), &kind),
        ("FAILED", &json!("memory")),
        "{mode}"
    );
    assert!(
        result.as_str().unwrap_or_default().contains("memory limit"),
        "{mode}: {result}"
    );
    let what = format!("{mode}: an endless Python loop");
    times_out(&api, py, json!({"loop": true}), &what).await;
    // The slot is fine afterwards.
    let (status, result, _) = ended(&api, py, json!("again")).await;
    assert_eq!(
        (status.as_str(), result),
        ("COMPLETED", json!({"echo": "again"}))
    );
}

crate::each_mode!(a_python_handler_runs_and_fails_as_it_should);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_of_another_world_is_refused_naming_its_exports() {
    let wit = std::env::temp_dir().join(format!("faas-other-{}.wit", std::process::id()));
    std::fs::write(&wit, OTHER_WIT).unwrap();
    let built = componentize("greeter", &wit, "greeter", GREETER);
    let _ = std::fs::remove_file(&wit);
    let Some(module) = built else {
        return;
    };
    let (api, _platform) = one_slot("embedded");
    let reply = api.register_reply("greeter", &module, None).await;
    let detail = reply.expect_error(400);
    assert!(
        detail.contains("`greet`")
            && detail.contains("faas:function/handler")
            && detail.contains("wasi:cli/command"),
        "{detail}"
    );
}

async fn a_command_component_runs_and_fails_as_it_should(mode: &str) {
    let (api, _platform) = one_slot(mode);
    let reply = api
        .register_reply("command", &command_component(), None)
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let command = common::uuid_field(&reply.json(), "function_id");
    let record = api.get(&format!("/functions/{command}")).await.json();
    assert_eq!(
        record["convention"],
        json!({"kind": "wasi_command"}),
        "{record}"
    );

    let (status, result, _) = ended(&api, command, json!("world")).await;
    assert_eq!(
        (status.as_str(), result),
        ("COMPLETED", json!("hello, world")),
        "{mode}"
    );
    let (status, result, kind) = ended(&api, command, json!("!")).await;
    assert_eq!(
        (status.as_str(), &kind),
        ("FAILED", &json!("exit_code")),
        "{mode}: {result}"
    );
    // WASI 0.2's exit carries success or failure, not the number.
    assert_eq!(result, json!("exit code 1: refused"), "{mode}");
    let (status, result, kind) = ended(&api, command, json!("+")).await;
    assert_eq!(
        (status.as_str(), &kind),
        ("FAILED", &json!("memory")),
        "{mode}: {result}"
    );
    times_out(&api, command, json!("~"), mode).await;
    let (status, result, _) = ended(&api, command, json!("again")).await;
    assert_eq!(
        (status.as_str(), result),
        ("COMPLETED", json!("hello, again")),
        "{mode}"
    );
}

crate::each_mode!(a_command_component_runs_and_fails_as_it_should);

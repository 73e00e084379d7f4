//! Python functions as WebAssembly components (world
//! `faas:function/handler`, `wit/faas-function.wit`), built for real with
//! componentize-py, registered and run in every mode (embedded `faas up`;
//! Redis with a local dispatcher; push and pull workers): a result, an
//! error the handler returns, an exception (with its Python traceback),
//! the memory cap and the time limit. And a component of another world is
//! refused at registration, saying which worlds would do.
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
    let (status, result, kind) = ended(&api, py, json!({"loop": true})).await;
    assert_eq!(
        (status.as_str(), result, kind),
        (
            "FAILED",
            json!("timed out after 10000 ms"),
            json!("timeout")
        ),
        "{mode}: an endless Python loop"
    );
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

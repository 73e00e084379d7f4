//! The REST contract end to end, against real processes: the seed test
//! suite, the calling conventions, every sandbox failure kind, 400 tasks
//! in parallel, and the server's limits. The `suite!` tests run against
//! both setups: `faas up` (embedded store) and a private `redis-server`
//! with `faas server --redis` and `faas dispatcher -m local`; the slow
//! client test (HTTP layer only) runs on `faas up`.
//!
//! Each test starts its own platform (about 20 ms for `faas up`); related
//! cases inside a test run concurrently on it (`common::run_cases`), so the
//! 10 s timeout case overlaps with the others.

mod common;

use common::{
    b64, case, run_cases, Api, Platform, ECHO, EXIT3, FLOOD, SANDBOX_PROBE, SLEEP, TYPED,
};
use serde_json::{json, Value};
use std::future::Future;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Runs one suite function on a platform; on failure, prints what the
/// platform's processes logged before re-raising the panic.
async fn on<F, Fut>(mut platform: Platform, suite: F)
where
    F: FnOnce(Api) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(suite(platform.api.clone())).await;
    if let Err(e) = outcome {
        eprintln!("==== platform output ====\n{}\n====", platform.logs());
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("suite task: {e}"),
        }
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        /// `faas up`: server and local dispatcher in one process, embedded store.
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::on(super::Platform::embedded(), super::$name).await
                }
            )*
        }
        /// `redis-server` + `faas server --redis` + `faas dispatcher -m local -w 2`.
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::on(super::Platform::redis(), super::$name).await
                }
            )*
        }
    };
}

suite!(
    register_valid_function,
    register_invalid_payload,
    missing_fields_are_422,
    execute_unknown_function_is_404,
    status_values,
    round_trip,
    bad_task_id_is_404,
    status_reaches_completed,
    long_poll_returns_at_the_end_or_after_the_wait,
    typed_calling_convention,
    wasi_calling_convention,
    wrong_arguments_are_400_at_execute,
    entry_resolution,
    sandbox_failures_fail_only_their_task,
    four_hundred_parallel_tasks,
    two_thousand_tasks_in_one_batch_and_one_waiting_fetch,
    body_over_the_limit_is_413,
    malformed_json_is_400,
    openapi_docs_and_health,
    functions_and_tasks_are_listed,
    a_submissions_ttl_ends_its_record,
);

fn add_wat() -> &'static [u8] {
    b"(module (func (export \"add\") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"
}

// ---------------------------------------------------------------- seed suite

async fn register_valid_function(api: Api) {
    // WAT text and a wasm binary are both accepted.
    let reply = api.register_reply("add", add_wat(), None).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let id = common::uuid_field(&reply.json(), "function_id");
    let binary = wat::parse_bytes(add_wat()).expect("valid WAT").into_owned();
    let second = api.register("add", &binary, None).await;
    assert_ne!(id, second, "each registration is a new function");

    let record = api.get(&format!("/functions/{id}")).await;
    assert_eq!(record.status, 200, "{record:?}");
    let record = record.json();
    assert_eq!(
        (record["name"].as_str(), record["entry"].as_str()),
        (Some("add"), Some("add")),
        "{record}"
    );
    // The function is usable at once.
    assert_eq!(api.completed(second, &json!([20, 22])).await, json!(42));
}

async fn register_invalid_payload(api: Api) {
    let cases: Vec<(&str, String, &str)> = vec![
        ("not base64", "this is not base64!".into(), "base64"),
        ("not base64 either", "%%%%".into(), "base64"),
        (
            "garbage bytes",
            b64(b"\x01\x02\x03garbage\xff\xfe\x00"),
            "not a WebAssembly module",
        ),
        (
            "truncated module",
            b64(b"\0asm\x01\0\0\0\x01\x05"),
            "invalid WebAssembly module",
        ),
        ("empty module", String::new(), "empty"),
        ("WAT syntax error", b64(b"(module (func"), "WAT"),
        (
            "ill-typed WAT",
            b64(b"(module (func $f (result i32) i32.add))"),
            "invalid WebAssembly module",
        ),
        (
            "foreign import",
            b64(b"(module (import \"env\" \"f\" (func)) (func (export \"g\")))"),
            "env::f",
        ),
    ];
    for (what, payload, reason) in cases {
        let reply = api
            .post(
                "/register_function",
                &json!({ "name": "f", "payload": payload }),
            )
            .await;
        let detail = reply.expect_error(400);
        assert!(
            detail.contains(reason),
            "{what}: the detail should say why ({reason:?}): {detail:?}"
        );
    }
    // A module over the 64 MiB module cap (in a body under the body cap).
    let mut big = b"\0asm\x01\0\0\0".to_vec();
    big.resize(64 * 1024 * 1024 + 1, 0);
    let detail = api
        .register_reply("big", &big, None)
        .await
        .expect_error(400);
    assert!(detail.contains("limit"), "{detail}");
    // An empty name is refused too.
    let reply = api
        .post(
            "/register_function",
            &json!({ "name": " ", "payload": b64(add_wat()) }),
        )
        .await;
    reply.expect_error(400);
}

async fn missing_fields_are_422(api: Api) {
    let payload = b64(add_wat());
    let fid = api.register("add", add_wat(), None).await;
    let cases = [
        ("/register_function", json!({ "name": "add" })),
        ("/register_function", json!({ "payload": payload })),
        ("/register_function", json!({})),
        (
            "/register_function",
            json!({ "name": 5, "payload": payload }),
        ),
        ("/execute_function", json!({ "function_id": fid })),
        ("/execute_function", json!({ "payload": [1, 2] })),
    ];
    for (path, body) in cases {
        let detail = api.post(path, &body).await.expect_error(422);
        assert!(!detail.is_empty(), "{path} {body}");
    }
    let detail = api
        .post("/register_function", &json!({ "name": "add" }))
        .await
        .expect_error(422);
    assert!(
        detail.contains("payload"),
        "the detail should name the field: {detail}"
    );
}

async fn execute_unknown_function_is_404(api: Api) {
    for id in [
        Uuid::new_v4().to_string(),
        "not-a-uuid".to_string(),
        String::new(),
    ] {
        let detail = api
            .execute_reply(&id, &json!([1, 2]))
            .await
            .expect_error(404);
        assert!(detail.contains("not found"), "{detail}");
    }
}

async fn status_values(api: Api) {
    let sleep = api.register("sleep", SLEEP.as_bytes(), None).await;
    let add = api.register("add", add_wat(), None).await;
    let typed = api.register("boom", TYPED.as_bytes(), Some("boom")).await;
    let mut tasks = Vec::new();
    for _ in 0..5 {
        tasks.push(api.execute(sleep, &json!("300")).await);
        tasks.push(api.execute(add, &json!([1, 1])).await);
        tasks.push(api.execute(typed, &json!([])).await);
    }
    // Every status read while they run is one of the four words
    // (Api::status asserts that), and the final ones are right.
    for &task in &tasks {
        api.status(task).await;
    }
    for (i, &task) in tasks.iter().enumerate() {
        let (status, _) = api.wait_final(task).await;
        let want = if i % 3 == 2 { "FAILED" } else { "COMPLETED" };
        assert_eq!(status, want, "task {i}");
        assert_eq!(api.status(task).await, want);
    }
}

async fn round_trip(api: Api) {
    let fid = api.register("add", add_wat(), None).await;
    let task = api.execute(fid, &json!([2, 3])).await;
    let reply = api.wait_final_reply(task).await;
    assert_eq!(
        reply.json(),
        json!({ "task_id": task.to_string(), "status": "COMPLETED", "result": 5 })
    );
    assert!(
        reply.content_type.starts_with("application/json"),
        "{reply:?}"
    );
    let record = api.task(task).await;
    assert_eq!(record["function_id"], json!(fid.to_string()), "{record}");
    assert_eq!(record["payload"], json!([2, 3]), "{record}");
    assert_eq!(record["attempts"], json!(1), "{record}");
}

async fn bad_task_id_is_404(api: Api) {
    let random = Uuid::new_v4().to_string();
    for id in [random.as_str(), "not-a-uuid", "12345"] {
        for path in [
            format!("/status/{id}"),
            format!("/result/{id}"),
            format!("/result/{id}?wait=20"),
            format!("/tasks/{id}"),
        ] {
            let started = Instant::now();
            let detail = api.get(&path).await.expect_error(404);
            assert!(detail.contains("not found"), "{path}: {detail}");
            // Answered at once, not after its 20 s wait.
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{path}: an unknown task must not be waited for"
            );
        }
    }
}

async fn status_reaches_completed(api: Api) {
    let sleep = api.register("sleep", SLEEP.as_bytes(), None).await;
    let task = api.execute(sleep, &json!("500")).await;
    let order = ["QUEUED", "RUNNING", "COMPLETED"];
    let mut seen = vec![api.status(task).await];
    assert_ne!(seen[0], "COMPLETED", "a 500 ms task cannot be done at once");
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.last().map(String::as_str) != Some("COMPLETED") {
        assert!(Instant::now() < deadline, "never COMPLETED: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let status = api.status(task).await;
        let rank = |s: &str| order.iter().position(|o| *o == s);
        assert!(
            rank(&status).is_some() && rank(&status) >= rank(seen.last().unwrap()),
            "status went {seen:?} -> {status}"
        );
        if seen.last() != Some(&status) {
            seen.push(status);
        }
    }
    let record = api.task(task).await;
    assert_eq!(record["result"], json!("slept"), "{record}");
    let (created, started, finished) = (
        record["created_at_ms"].as_u64(),
        record["started_at_ms"].as_u64(),
        record["finished_at_ms"].as_u64(),
    );
    assert!(
        created <= started
            && started <= finished
            && finished.unwrap_or(0) >= started.unwrap_or(0) + 400,
        "timestamps: {record}"
    );
}

async fn long_poll_returns_at_the_end_or_after_the_wait(api: Api) {
    let sleep = api.register("sleep", SLEEP.as_bytes(), None).await;
    // Ends while the request waits: the answer comes when it ends, not at the wait's end.
    let task = api.execute(sleep, &json!("300")).await;
    let started = Instant::now();
    let reply = api.result_reply(task, 30.0).await;
    let took = started.elapsed();
    assert_eq!(reply.json()["status"], json!("COMPLETED"), "{reply:?}");
    assert!(
        took < Duration::from_secs(5),
        "long poll answered after {took:?}"
    );

    // Outlives the wait: the answer comes after about the wait, not finished.
    let task = api.execute(sleep, &json!("4000")).await;
    let started = Instant::now();
    let reply = api.result_reply(task, 0.5).await;
    let took = started.elapsed();
    let v = reply.json();
    assert!(
        ["QUEUED", "RUNNING"].contains(&v["status"].as_str().unwrap_or("")),
        "{v}"
    );
    assert_eq!(v["result"], Value::Null, "{v}");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(3000),
        "?wait=0.5 answered after {took:?}"
    );
    // Without wait: at once.
    let started = Instant::now();
    let v = api.get(&format!("/result/{task}")).await.json();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wait means no wait"
    );
    assert_eq!(v["result"], Value::Null, "{v}");
    // A bad wait is a 400.
    api.get(&format!("/result/{task}?wait=soon"))
        .await
        .expect_error(400);
    api.get(&format!("/result/{task}?wait=-1"))
        .await
        .expect_error(400);
    assert_eq!(
        api.wait_final(task).await,
        ("COMPLETED".into(), json!("slept"))
    );
}

// ------------------------------------------------------- calling conventions

async fn typed_calling_convention(api: Api) {
    let typed = TYPED.as_bytes();
    let f = |entry: &'static str| {
        let api = api.clone();
        async move { api.register(entry, typed, None).await }
    };
    let (add, id64, scale, divmod, nothing, nan, count, fib) = (
        f("add").await,
        f("id64").await,
        f("scale").await,
        f("divmod").await,
        f("nothing").await,
        f("nan").await,
        f("count").await,
        f("fib").await,
    );
    assert_eq!(api.completed(add, &json!([2, 3])).await, json!(5));
    assert_eq!(api.completed(add, &json!([-7, 3])).await, json!(-4));
    // i32 wraps like wasm does.
    assert_eq!(
        api.completed(add, &json!([2147483647, 1])).await,
        json!(-2147483648)
    );
    // Several results: an array; none: null.
    assert_eq!(api.completed(divmod, &json!([7, 2])).await, json!([3, 1]));
    assert_eq!(api.completed(nothing, &json!([])).await, Value::Null);
    // Floats, and NaN spelled as a string.
    assert_eq!(api.completed(scale, &json!([1.5, 2])).await, json!(3.0));
    assert_eq!(
        api.completed(scale, &json!([0.25, -8.5])).await,
        json!(-2.125)
    );
    assert_eq!(api.completed(nan, &json!([])).await, json!("NaN"));
    // Each task gets a fresh instance: the counter is 1 every time.
    assert_eq!(api.completed(count, &json!([])).await, json!(1));
    assert_eq!(api.completed(count, &json!([])).await, json!(1));
    assert_eq!(api.completed(fib, &json!([25])).await, json!(75025));

    // i64 beyond 2^53 is exact: compare the JSON text, not a float.
    for text in [
        "9007199254740993",
        "-9007199254740993",
        "9223372036854775807",
        "-9223372036854775808",
        "1234567890123456789",
    ] {
        let payload: Value = serde_json::from_str(&format!("[{text}]")).expect("JSON");
        let task = api.execute(id64, &payload).await;
        let reply = api.wait_final_reply(task).await;
        let compact: String = reply.body.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            compact.contains(&format!("\"result\":{text}")) && compact.contains("\"COMPLETED\""),
            "id64({text}): {}",
            reply.body
        );
    }
    // Above the signed range: read as the unsigned bits.
    let payload: Value = serde_json::from_str("[18446744073709551615]").expect("JSON");
    assert_eq!(api.completed(id64, &payload).await, json!(-1));
}

async fn wasi_calling_convention(api: Api) {
    let echo = api.register("echo", ECHO.as_bytes(), None).await;
    let record = api.get(&format!("/functions/{echo}")).await.json();
    assert_eq!(record["entry"], json!("_start"), "a WASI command: {record}");
    for input in [
        "hello",
        "",
        "two\nlines\n",
        "unicode: héllo wörld ✓",
        "{\"not\": \"parsed\"}",
    ] {
        assert_eq!(
            api.completed(echo, &json!(input)).await,
            json!(input),
            "echo {input:?}"
        );
    }
    // 200 KiB in, 200 KiB out.
    let long = "0123456789abcdef".repeat(200 * 64);
    assert_eq!(api.completed(echo, &json!(long)).await, json!(long));
    // Other JSON is passed as its text.
    assert_eq!(api.completed(echo, &json!([1, 2])).await, json!("[1,2]"));
    // No ambient authority: no preopened directory (EBADF = 8), no
    // environment, no path to open.
    let probe = api.register("probe", SANDBOX_PROBE.as_bytes(), None).await;
    assert_eq!(
        api.completed(probe, &json!("")).await,
        json!("p=08\ne=00\no=08\n")
    );
}

async fn wrong_arguments_are_400_at_execute(api: Api) {
    let typed = TYPED.as_bytes();
    let add = api.register("add", typed, None).await;
    let id64 = api.register("id64", typed, None).await;
    let scale = api.register("scale", typed, None).await;
    let bad: Vec<(Uuid, Value, &str)> = vec![
        (add, json!([1]), "2 argument"),
        (add, json!([1, 2, 3]), "2 argument"),
        (add, json!([]), "2 argument"),
        (add, json!([1, 2.5]), "not an integer"),
        (add, json!([1, "2"]), "string"),
        (add, json!([1, null]), "i32"),
        (add, json!([1, [2]]), "i32"),
        (add, json!([1, 5_000_000_000u64]), "out of range"),
        (add, json!("2 3"), "JSON array"),
        (add, json!({"a": 1}), "JSON array"),
        (add, json!(null), "JSON array"),
        (id64, json!([1.5]), "not an integer"),
        (scale, json!(["x", 1]), "f32"),
    ];
    for (fid, payload, reason) in bad {
        let detail = api
            .execute_reply(&fid.to_string(), &payload)
            .await
            .expect_error(400);
        assert!(
            detail.contains(reason),
            "{payload}: expected {reason:?} in {detail:?}"
        );
    }
    // Numbers that fit are fine: i64 takes a big integer, f64 takes an integer.
    assert_eq!(api.completed(scale, &json!([2, 3])).await, json!(6.0));
}

async fn entry_resolution(api: Api) {
    let two = b"(module (func (export \"a\") (result i32) i32.const 1) (func (export \"b\") (result i32) i32.const 2))";
    // The export named like the function.
    let b = api.register("b", two, None).await;
    assert_eq!(api.completed(b, &json!([])).await, json!(2));
    // `entry` wins over the name.
    let a = api.register("b", two, Some("a")).await;
    assert_eq!(api.completed(a, &json!([])).await, json!(1));
    // The only exported function, whatever the name.
    let only = api.register("whatever", add_wat(), None).await;
    assert_eq!(api.completed(only, &json!([1, 2])).await, json!(3));
    // `_start` (a WASI command) wins over an export named like the function.
    let cmd = api.register("other", ECHO.as_bytes(), None).await;
    assert_eq!(api.completed(cmd, &json!("x")).await, json!("x"));

    // Ambiguous: 400 listing the exports.
    let detail = api.register_reply("c", two, None).await.expect_error(400);
    assert!(detail.contains("`a`") && detail.contains("`b`"), "{detail}");
    let detail = api
        .register_reply("x", TYPED.as_bytes(), None)
        .await
        .expect_error(400);
    for export in ["add", "id64", "scale", "divmod", "fib", "spin"] {
        assert!(
            detail.contains(&format!("`{export}`")),
            "{export} not listed: {detail}"
        );
    }
    // An entry that does not exist: 400 listing the exports.
    let detail = api
        .register_reply("b", two, Some("nope"))
        .await
        .expect_error(400);
    assert!(
        detail.contains("nope") && detail.contains("`a`") && detail.contains("`b`"),
        "{detail}"
    );
    // No function at all.
    let detail = api
        .register_reply("m", b"(module (memory 1))", None)
        .await
        .expect_error(400);
    assert!(!detail.is_empty());
    // A signature JSON cannot express.
    let detail = api
        .register_reply("r", b"(module (func (export \"r\") (param v128)))", None)
        .await
        .expect_error(400);
    assert!(detail.contains("cannot be called with JSON"), "{detail}");
}

// ----------------------------------------------------------------- sandbox

async fn sandbox_failures_fail_only_their_task(api: Api) {
    let typed = TYPED.as_bytes();
    let cases = vec![
        case("trap", {
            let api = api.clone();
            async move {
                let boom = api.register("boom", typed, None).await;
                let message = api.failed(boom, &json!([])).await;
                assert!(message.contains("unreachable"), "{message}");
                // The backtrace names the functions.
                assert!(
                    message.contains("deeper") && message.contains("boom"),
                    "{message}"
                );
                assert!(
                    !message.contains("wasm trap: wasm trap:"),
                    "the trap prefix is doubled: {message:?}"
                );
            }
        }),
        case("stack overflow", {
            let api = api.clone();
            async move {
                let recurse = api.register("recurse", typed, None).await;
                let message = api.failed(recurse, &json!([0])).await;
                assert!(message.contains("stack"), "{message}");
            }
        }),
        case("timeout", {
            let api = api.clone();
            async move {
                let spin = api.register("spin", typed, None).await;
                let task = api.execute(spin, &json!([])).await;
                let started = Instant::now();
                let (status, result) = api.wait_final(task).await;
                let took = started.elapsed();
                assert_eq!(status, "FAILED", "{result}");
                assert!(
                    result
                        .as_str()
                        .unwrap_or("")
                        .contains("timed out after 10000 ms"),
                    "{result}"
                );
                assert!(
                    took < Duration::from_secs(16),
                    "the 10 s timeout took {took:?}"
                );
                let record = api.task(task).await;
                assert_eq!(record["failure_kind"], json!("timeout"), "{record}");
            }
        }),
        case("memory", {
            let api = api.clone();
            async move {
                let big = api
                    .register(
                        "big",
                        b"(module (memory 65536) (func (export \"f\")))",
                        None,
                    )
                    .await;
                let message = api.failed(big, &json!([])).await;
                assert!(
                    message.contains("memory limit 256 MiB exceeded"),
                    "{message}"
                );
                // Growing past the cap at run time fails the same way.
                let grow = api
                    .register(
                        "grow",
                        b"(module (memory 1) (func (export \"g\") (result i32) (memory.grow (i32.const 8192))))",
                        None,
                    )
                    .await;
                let message = api.failed(grow, &json!([])).await;
                assert!(
                    message.contains("memory limit 256 MiB exceeded"),
                    "{message}"
                );
            }
        }),
        case("exit code", {
            let api = api.clone();
            async move {
                let exit3 = api.register("exit3", EXIT3.as_bytes(), None).await;
                let message = api.failed(exit3, &json!("")).await;
                assert!(
                    message.contains("exit code 3: input file is missing"),
                    "{message}"
                );
            }
        }),
        case("output too large", {
            let api = api.clone();
            async move {
                let flood = api.register("flood", FLOOD.as_bytes(), None).await;
                let message = api.failed(flood, &json!("")).await;
                assert!(message.contains("output too large"), "{message}");
            }
        }),
        case("others keep running", {
            let api = api.clone();
            async move {
                // While the failures above happen, ordinary tasks complete.
                let add = api.register("add", typed, None).await;
                for i in 0..20 {
                    assert_eq!(api.completed(add, &json!([i, 1])).await, json!(i + 1));
                }
            }
        }),
    ];
    run_cases(cases).await;
    // And afterwards: the platform still serves.
    let add = api.register("add", add_wat(), None).await;
    assert_eq!(api.completed(add, &json!([40, 2])).await, json!(42));
}

// ------------------------------------------------------------------- load

async fn four_hundred_parallel_tasks(api: Api) {
    let fib = api.register("fib", TYPED.as_bytes(), None).await;
    let add = api.register("add", add_wat(), None).await;
    fn fib_of(n: u64) -> u64 {
        (0..n).fold((0u64, 1u64), |(a, b), _| (b, a + b)).0
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..400u64 {
        let api = api.clone();
        set.spawn(async move {
            if i % 2 == 0 {
                let n = i % 23;
                let result = api.completed(fib, &json!([n])).await;
                assert_eq!(result, json!(fib_of(n)), "fib({n})");
            } else {
                let result = api.completed(add, &json!([i, i * 1000])).await;
                assert_eq!(result, json!(i * 1001), "add({i}, {})", i * 1000);
            }
            i
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(i) => done.push(i),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    done.sort_unstable();
    assert_eq!(done, (0..400).collect::<Vec<_>>());
}

async fn two_thousand_tasks_in_one_batch_and_one_waiting_fetch(api: Api) {
    let add = api.register("add", add_wat(), None).await;
    let payloads: Vec<Value> = (0..2_000u64).map(|i| json!([i, 7])).collect();
    let reply = api
        .post(
            "/execute_batch",
            &json!({"function_id": add, "payloads": payloads}),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let ids: Vec<Value> = reply.json()["task_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(ids.len(), 2_000, "{reply:?}");

    // One bad payload: nothing of that batch is submitted.
    let listed_before = api.get("/tasks?limit=1").await.json();
    let mut bad = vec![json!([1, 2]); 5];
    bad[3] = json!(["x", 2]);
    let reply = api
        .post(
            "/execute_batch",
            &json!({"function_id": add, "payloads": bad}),
        )
        .await;
    assert!(reply.expect_error(400).contains("payloads[3]"), "{reply:?}");
    assert_eq!(
        api.get("/tasks?limit=1").await.json(),
        listed_before,
        "nothing submitted"
    );

    let started = Instant::now();
    let reply = api
        .post("/results", &json!({"task_ids": ids, "wait": 25}))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let rows = reply.json()["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 2_000);
    for (i, (row, id)) in rows.iter().zip(&ids).enumerate() {
        assert_eq!(&row["task_id"], id, "row {i} out of order");
        assert_eq!(
            row["status"],
            "COMPLETED",
            "row {i}: {row} (after {:?})",
            started.elapsed()
        );
        assert_eq!(row["result"], json!(i as u64 + 7), "row {i}");
    }
}

// ------------------------------------------------------------ HTTP limits

async fn body_over_the_limit_is_413(api: Api) {
    // What a registration of the largest module (64 MiB) needs in base64,
    // plus 1 MiB.
    const CAP: usize = 64 * 1024 * 1024 / 3 * 4 + 1024 * 1024;
    // One byte over, with a content length. (Sent in full and read
    // concurrently: the server reads up to the cap before it answers, and
    // closes the connection after the 413.)
    let reply = raw_post(&api, "/register_function", Some(CAP + 1), CAP + 1).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("\"detail\""), "{reply}");
    // Streamed (chunked, no length) past the cap: refused once it passes it.
    let reply = raw_post(&api, "/execute_function", None, CAP + 1024 * 1024).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    // Just under the cap is read (and is then a 400: a module over the module cap).
    let mut body = br#"{"name": "big", "payload": ""#.to_vec();
    body.resize(CAP - 1024, b'A');
    body.extend_from_slice(b"\"}");
    let detail = api
        .post_bytes("/register_function", body)
        .await
        .expect_error(400);
    assert!(detail.contains("limit"), "{detail}");
    // The server is fine afterwards.
    let add = api.register("add", add_wat(), None).await;
    assert_eq!(api.completed(add, &json!([1, 2])).await, json!(3));
}

/// POSTs `size` bytes of JSON-ish body over a raw connection, declaring
/// `content_length` (or chunked when `None`), while reading the answer
/// concurrently: the server may answer before the body is all sent.
/// Returns the response head and body as text.
async fn raw_post(api: &Api, path: &str, content_length: Option<usize>, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = api.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let (mut read, mut write) = stream.into_split();
    let length_header = match content_length {
        Some(n) => format!("content-length: {n}\r\n"),
        None => "transfer-encoding: chunked\r\n".to_string(),
    };
    let auth_header = api
        .token
        .as_ref()
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{auth_header}{length_header}\r\n"
    );
    let chunked = content_length.is_none();
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        let chunk = vec![b'A'; 1024 * 1024];
        let mut sent = 0;
        while sent < size {
            let n = chunk.len().min(size - sent);
            if chunked {
                write.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                write.write_all(&chunk[..n]).await?;
                write.write_all(b"\r\n").await?;
            } else {
                write.write_all(&chunk[..n]).await?;
            }
            sent += n;
        }
        if chunked {
            write.write_all(b"0\r\n\r\n").await?;
        }
        // Keep the write half open (no half-close, which hyper takes as the
        // client going away) until the answer is read and this task aborted.
        std::future::pending::<()>().await;
        Ok::<_, std::io::Error>(write)
    });
    let mut answer = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match read.read(&mut buf).await {
                Ok(0) => break,
                Err(e) => {
                    answer.extend_from_slice(format!("<read error: {e}>").as_bytes());
                    break;
                }
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            // Stop once a whole small JSON answer is in.
            let text = String::from_utf8_lossy(&answer);
            if let Some(end) = text.find("\r\n\r\n") {
                if text[end..].contains('}') {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read_all)
        .await
        .expect("an answer within 30 s");
    writer.abort();
    String::from_utf8_lossy(&answer).into_owned()
}

async fn malformed_json_is_400(api: Api) {
    let bodies: [&[u8]; 8] = [
        b"{\"name\": \"add\", \"payload\": ",
        b"not json at all",
        b"",
        b"{\"name\": \"add\",}",
        b"\xff\xfe\x00",
        b"{\"name\": \"add\", \"payload\": \"AAAA\"} trailing",
        // Syntax errors after a prefix that already does not fit the request.
        b"[1, 2",
        b"{\"name\": 5, \"payload\": ",
    ];
    let mut wrong = Vec::new();
    for path in ["/register_function", "/execute_function"] {
        for body in bodies {
            let reply = api.post_bytes(path, body.to_vec()).await;
            if reply.status != 400 {
                wrong.push(format!(
                    "{path} {:?} -> {} {}",
                    String::from_utf8_lossy(body),
                    reply.status,
                    reply.body
                ));
            } else {
                reply.detail();
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "malformed JSON must be 400:\n{}",
        wrong.join("\n")
    );
    // No content type is needed for a good body.
    let body = json!({ "name": "add", "payload": b64(add_wat()) }).to_string();
    let reply = api
        .post_raw("/register_function", body.into_bytes(), None)
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
}

async fn openapi_docs_and_health(api: Api) {
    let reply = api.get("/openapi.json").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.content_type.starts_with("application/json"),
        "{reply:?}"
    );
    let doc = reply.json();
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with('3'),
        "openapi version"
    );
    // Its content: tests/tests/openapi.rs.
    let docs = api.get("/docs").await;
    assert_eq!(docs.status, 200, "{docs:?}");
    assert!(
        docs.content_type.starts_with("text/html"),
        "{}",
        docs.content_type
    );
    assert!(docs.body.to_lowercase().contains("<html"), "not HTML");
    // Self-contained: no scripts or styles from another host.
    for remote in ["src=\"http", "href=\"http", "src='http", "@import url(http"] {
        assert!(
            !docs.body.contains(remote),
            "/docs loads remote assets ({remote})"
        );
    }
    let health = api.get("/health").await;
    assert_eq!(health.status, 200, "{health:?}");
    // Unknown routes and methods answer in the API's error format.
    api.get("/no/such/route").await.expect_error(404);
    api.get("/register_function").await.expect_error(405);
}

// ------------------------------------------------------------- retention

/// Polls `path` until it answers 404, for at most `limit`.
async fn gone_within(api: &Api, path: &str, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let reply = api.get(path).await;
        if reply.status == 404 {
            return;
        }
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        assert!(
            std::time::Instant::now() < deadline,
            "{path} still there: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_submissions_ttl_ends_its_record(api: Api) {
    let add = api.register("add", add_wat(), None).await;
    let one = api
        .post(
            "/execute_function",
            &json!({"function_id": add, "payload": [1, 2], "ttl": 1}),
        )
        .await;
    assert_eq!(one.status, 201, "{one:?}");
    let one = common::uuid_field(&one.json(), "task_id");
    let batch = api
        .post(
            "/execute_batch",
            &json!({"function_id": add, "payloads": [[1, 1], [2, 2]], "ttl": 1.5}),
        )
        .await;
    assert_eq!(batch.status, 201, "{batch:?}");
    let ids: Vec<Uuid> = serde_json::from_value(batch.json()["task_ids"].clone()).expect("ids");
    // Kept while it runs and after it ends, for its ttl; then unknown.
    assert_eq!(
        api.wait_final(one).await,
        ("COMPLETED".to_string(), json!(3))
    );
    for id in ids.iter().chain([&one]) {
        gone_within(&api, &format!("/result/{id}"), Duration::from_secs(20)).await;
        api.get(&format!("/tasks/{id}")).await.expect_error(404);
    }
    // Any ttl from 0 is accepted (a huge one is cut to the deployment's
    // maximum); anything else is refused and nothing is stored.
    let huge = json!({"function_id": add, "payload": [1, 2], "ttl": 1e300});
    assert_eq!(api.post("/execute_function", &huge).await.status, 201);
    let bad = |ttl: Value| json!({"function_id": add, "payloads": [[1, 2]], "ttl": ttl});
    let reply = api.post("/execute_batch", &bad(json!(-1))).await;
    assert!(reply.expect_error(400).contains("`ttl`"), "{reply:?}");
    api.post("/execute_batch", &bad(json!("soon")))
        .await
        .expect_error(422);
}

// ------------------------------------------------------------- listings

async fn functions_and_tasks_are_listed(api: Api) {
    let rows = |v: Value, key: &str| {
        v[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} array: {v}"))
            .clone()
    };
    assert!(rows(api.get("/functions").await.json(), "functions").is_empty());
    assert!(rows(api.get("/tasks").await.json(), "tasks").is_empty());

    let add = api.register("add", add_wat(), None).await;
    let boom = api.register("typed", TYPED.as_bytes(), Some("boom")).await;
    let functions = rows(api.get("/functions").await.json(), "functions");
    assert_eq!(functions.len(), 2, "{functions:?}");
    let created: Vec<u64> = functions
        .iter()
        .map(|f| f["created_at_ms"].as_u64().unwrap_or(0))
        .collect();
    assert!(
        created[0] >= created[1] && created[1] > 0,
        "newest first: {functions:?}"
    );
    let row = functions
        .iter()
        .find(|f| f["function_id"] == json!(boom.to_string()))
        .unwrap_or_else(|| panic!("{boom} not listed: {functions:?}"));
    assert_eq!(
        (row["name"].as_str(), row["entry"].as_str()),
        (Some("typed"), Some("boom")),
        "{row}"
    );
    assert_eq!(
        rows(api.get("/functions?limit=1").await.json(), "functions").len(),
        1
    );

    // Submitted one after the other: listed in reverse.
    let mut tasks = Vec::new();
    for (function, payload) in [
        (add, json!([1, 2])),
        (boom, json!([])),
        (add, json!([3, 4])),
        (boom, json!([])),
    ] {
        tasks.push((function, api.execute(function, &payload).await));
    }
    for (_, task) in &tasks {
        api.wait_final(*task).await;
    }
    let ids = |v: Value| -> Vec<String> {
        rows(v, "tasks")
            .iter()
            .map(|t| t["task_id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let newest_first: Vec<String> = tasks.iter().rev().map(|(_, t)| t.to_string()).collect();
    let listed = rows(api.get("/tasks").await.json(), "tasks");
    assert_eq!(
        listed
            .iter()
            .map(|t| t["task_id"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        newest_first,
        "{listed:?}"
    );
    let last = &listed[0];
    assert_eq!(
        (
            last["function_id"].as_str(),
            last["status"].as_str(),
            last["attempts"].as_u64(),
            last["failure_kind"].as_str()
        ),
        (
            Some(boom.to_string().as_str()),
            Some("FAILED"),
            Some(1),
            Some("trap")
        ),
        "{last}"
    );
    assert_eq!(
        ids(api.get("/tasks?limit=2").await.json()),
        newest_first[..2]
    );
    assert_eq!(
        ids(api.get("/tasks?status=COMPLETED").await.json()),
        [newest_first[1].clone(), newest_first[3].clone()]
    );
    assert_eq!(
        ids(api.get("/tasks?status=failed&limit=1").await.json()),
        newest_first[..1]
    );
    assert!(ids(api.get("/tasks?status=RUNNING").await.json()).is_empty());
    assert_eq!(ids(api.get("/tasks?limit=100000").await.json()).len(), 4);

    let detail = api.get("/tasks?status=DONE").await.expect_error(400);
    assert!(
        detail.contains("QUEUED") && detail.contains("FAILED"),
        "{detail}"
    );
    for path in [
        "/tasks?limit=0",
        "/tasks?limit=ten",
        "/functions?limit=-1",
        "/functions?limit=2.5",
    ] {
        let detail = api.get(path).await.expect_error(400);
        assert!(detail.contains("limit"), "{path}: {detail}");
    }
    // The routes by id answer as before.
    assert_eq!(api.task(tasks[0].1).await["payload"], json!([1, 2]));
    let record = api.get(&format!("/functions/{add}")).await;
    assert_eq!(record.status, 200, "{record:?}");
}

// ------------------------------------------------------------ slow clients

/// One setup is enough: the HTTP layer is the same in both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_do_not_block_others() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let platform = Platform::embedded();
    let api = platform.api.clone();
    let addr = api.base.trim_start_matches("http://").to_string();
    // Headers started and never finished; and a connection that sends nothing.
    let mut partial = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    partial
        .write_all(b"POST /register_function HTTP/1.1\r\nhost: x\r\ncontent-")
        .await
        .expect("write");
    let mut silent = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let started = Instant::now();

    // Meanwhile the server serves others.
    let add = api.register("add", add_wat(), None).await;
    assert_eq!(api.completed(add, &json!([1, 2])).await, json!(3));

    // The 10 s header-read timeout closes both (408 or a plain close).
    for (what, stream) in [("partial headers", &mut partial), ("silent", &mut silent)] {
        let mut buf = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut buf)).await;
        let took = started.elapsed();
        assert!(closed.is_ok(), "{what}: still open after {took:?}");
        let text = String::from_utf8_lossy(&buf);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{what}: unexpected answer {text:?}"
        );
        assert!(
            took >= Duration::from_secs(5),
            "{what}: closed after only {took:?}"
        );
    }
}

//! Integration tests of the sandbox: loading, calling conventions, every
//! failure kind and limit, isolation, the cache and the executor pool.

use faas_runtime::{
    Arg, Args, Convention, Executor, FailureKind, Invocation, LoadError, Outcome, Runtime,
    RuntimeConfig, Ticket, ValType,
};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const TYPED: &str = include_str!("fixtures/typed.wat");
const ECHO: &str = include_str!("fixtures/echo.wat");
const EXIT3: &str = include_str!("fixtures/exit3.wat");
const PROBE: &str = include_str!("fixtures/sandbox_probe.wat");
const FLOOD: &str = include_str!("fixtures/flood.wat");
const SLEEP: &str = include_str!("fixtures/sleep.wat");
const LOGS: &str = include_str!("fixtures/logs.wat");

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("runtime starts"))
}

fn call(wat: &str, entry: &str, payload: Value) -> Outcome {
    call_with(runtime(), wat, entry, payload, None)
}

fn call_with(
    rt: &Runtime,
    wat: &str,
    entry: &str,
    payload: Value,
    timeout: Option<Duration>,
) -> Outcome {
    let entry = (!entry.is_empty()).then_some(entry);
    let function = rt
        .load(wat.as_bytes(), "test", entry)
        .expect("module loads");
    let args = function.parse_args(&payload).expect("arguments fit");
    rt.invoke(&function, args, timeout)
}

fn failure(outcome: &Outcome) -> (FailureKind, String) {
    let f = outcome
        .failure()
        .unwrap_or_else(|| panic!("expected a failure, got {outcome:?}"));
    (f.kind, f.message.clone())
}

#[test]
fn typed_exports_take_and_return_numbers() {
    assert_eq!(call(TYPED, "add", json!([2, 40])).value(), Some(&json!(42)));
    assert_eq!(
        call(TYPED, "scale", json!([1.5, 4])).value(),
        Some(&json!(6.0))
    );
    assert_eq!(
        call(TYPED, "divmod", json!([17, 5])).value(),
        Some(&json!([3, 2]))
    );
    assert_eq!(
        call(TYPED, "nothing", json!([])).value(),
        Some(&Value::Null)
    );
    assert_eq!(call(TYPED, "nan", json!([])).value(), Some(&json!("NaN")));
}

#[test]
fn i64_beyond_2_pow_53_round_trips_exactly() {
    let big: Value = serde_json::from_str("[9007199254740993]").unwrap();
    let out = call(TYPED, "id64", big);
    assert_eq!(
        serde_json::to_string(out.value().unwrap()).unwrap(),
        "9007199254740993"
    );
    let out = call(TYPED, "id64", json!([i64::MIN]));
    assert_eq!(out.value(), Some(&json!(i64::MIN)));
}

#[test]
fn signature_is_exposed_and_checked_before_running() {
    let f = runtime()
        .load(TYPED.as_bytes(), "x", Some("scale"))
        .unwrap();
    match f.convention() {
        Convention::Typed(sig) => {
            assert_eq!(sig.params, vec![ValType::F32, ValType::F64]);
            assert_eq!(sig.results, vec![ValType::F64]);
        }
        other => panic!("expected typed, got {other:?}"),
    }
    assert!(f.parse_args(&json!([1])).is_err());
    assert!(f.parse_args(&json!(["a", 1])).is_err());
}

#[test]
fn unreachable_traps_with_a_backtrace() {
    let (kind, message) = failure(&call(TYPED, "boom", json!([])));
    assert_eq!(kind, FailureKind::Trap);
    assert!(
        message.starts_with("wasm trap: wasm `unreachable` instruction executed"),
        "{message}"
    );
    assert_eq!(message.matches("wasm trap").count(), 1, "{message}");
    assert!(
        message.contains("deeper") && message.contains("boom"),
        "frames missing: {message}"
    );
}

#[test]
fn stack_overflow_traps() {
    let (kind, message) = failure(&call(TYPED, "recurse", json!([0])));
    assert_eq!(kind, FailureKind::Trap);
    assert!(message.contains("call stack exhausted"), "{message}");
}

#[test]
fn infinite_loop_stops_within_timeout_plus_one_second() {
    let started = Instant::now();
    let out = call_with(
        runtime(),
        TYPED,
        "spin",
        json!([]),
        Some(Duration::from_millis(300)),
    );
    let elapsed = started.elapsed();
    let (kind, message) = failure(&out);
    assert_eq!(kind, FailureKind::Timeout);
    assert_eq!(message, "timed out after 300 ms");
    assert!(
        elapsed >= Duration::from_millis(300),
        "stopped early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(1300),
        "stopped late: {elapsed:?}"
    );
}

#[test]
fn default_timeout_applies_without_a_per_call_one() {
    let rt = Runtime::new(RuntimeConfig {
        default_timeout: Duration::from_millis(200),
        max_concurrent_instances: 4,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let started = Instant::now();
    let (kind, _) = failure(&call_with(&rt, TYPED, "spin", json!([]), None));
    assert_eq!(kind, FailureKind::Timeout);
    assert!(started.elapsed() < Duration::from_millis(1200));
}

#[test]
fn a_guest_blocked_in_a_host_sleep_is_abandoned_at_its_timeout() {
    let started = Instant::now();
    let out = call_with(
        runtime(),
        SLEEP,
        "",
        json!("60000"),
        Some(Duration::from_millis(300)),
    );
    assert_eq!(
        failure(&out),
        (FailureKind::Timeout, "timed out after 300 ms".to_string())
    );
    assert!(
        started.elapsed() < Duration::from_millis(1300),
        "{:?}",
        started.elapsed()
    );
    // And a short sleep completes.
    let out = call(SLEEP, "", json!("20"));
    assert_eq!(out.value(), Some(&json!("slept")));
}

#[test]
fn declaring_4_gib_of_memory_fails_at_the_cap() {
    let (kind, message) = failure(&call(
        "(module (memory 65536) (func (export \"f\")))",
        "",
        json!([]),
    ));
    assert_eq!(kind, FailureKind::Memory);
    assert!(
        message.starts_with("memory limit 256 MiB exceeded"),
        "{message}"
    );
    assert!(message.contains("4096.0 MiB"), "{message}");
}

#[test]
fn growing_memory_in_a_loop_stops_at_the_cap() {
    let wat = r#"(module (memory 1)
        (func (export "grow") (result i32)
          (loop $more
            (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
          (i32.const 0)))"#;
    let (kind, message) = failure(&call(wat, "", json!([])));
    assert_eq!(kind, FailureKind::Memory);
    assert!(
        message.starts_with("memory limit 256 MiB exceeded"),
        "{message}"
    );
}

#[test]
fn memory_cap_is_configurable() {
    let rt = Runtime::new(RuntimeConfig {
        max_memory_bytes: 1 << 20,
        max_concurrent_instances: 4,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let ok = call_with(
        &rt,
        "(module (memory 16) (func (export \"f\")))",
        "",
        json!([]),
        None,
    );
    assert!(ok.is_completed(), "{ok:?}");
    let (kind, message) = failure(&call_with(
        &rt,
        "(module (memory 17) (func (export \"f\")))",
        "",
        json!([]),
        None,
    ));
    assert_eq!(kind, FailureKind::Memory);
    assert!(
        message.starts_with("memory limit 1 MiB exceeded"),
        "{message}"
    );
}

#[test]
fn each_invocation_gets_a_fresh_instance() {
    for _ in 0..3 {
        assert_eq!(call(TYPED, "count", json!([])).value(), Some(&json!(1)));
    }
}

#[test]
fn wasi_command_echoes_stdin_to_stdout() {
    let input = "hello, sandbox\n".repeat(100);
    assert_eq!(call(ECHO, "", json!(input)).value(), Some(&json!(input)));
    assert_eq!(call(ECHO, "", Value::Null).value(), Some(&json!("")));
}

#[test]
fn wasi_exit_code_fails_with_the_code_and_stderr() {
    let (kind, message) = failure(&call(EXIT3, "", Value::Null));
    assert_eq!(kind, FailureKind::ExitCode);
    assert_eq!(message, "exit code 3: input file is missing");
}

/// One invocation with its logs and usage.
fn invocation(rt: &Runtime, wat: &str, entry: Option<&str>, payload: Value) -> Invocation {
    let function = rt
        .load(wat.as_bytes(), "test", entry)
        .expect("module loads");
    let args = function.parse_args(&payload).expect("arguments fit");
    rt.invocation(&function, args, None)
}

#[test]
fn a_command_logs_its_stderr_and_a_typed_export_both_streams_in_order() {
    let command = invocation(runtime(), LOGS, None, json!(""));
    assert_eq!(command.outcome.value(), Some(&json!("result\n")));
    assert_eq!(command.logs, "a log line\n");
    assert_eq!(command.usage.output_bytes, 7);
    assert_eq!(command.usage.log_bytes, 11);
    assert_eq!(command.usage.peak_memory_bytes, 2 * 65536);
    assert!(command.usage.run_us > 0, "{:?}", command.usage);

    let typed = invocation(runtime(), LOGS, Some("count"), json!([41]));
    assert_eq!(typed.outcome.value(), Some(&json!(42)));
    assert_eq!(typed.logs, "to stdout\nto stderr\n");
    assert_eq!(typed.usage.output_bytes, 2);
    assert_eq!(typed.usage.log_bytes, 20);

    // A failure keeps its log too (and quotes it in its message).
    let failed = invocation(runtime(), EXIT3, None, Value::Null);
    assert_eq!(failed.logs, "input file is missing\n");
    assert_eq!(failed.usage.output_bytes, 0);
}

#[test]
fn only_the_last_bytes_of_a_log_are_kept() {
    let rt = Runtime::new(RuntimeConfig {
        max_log_bytes: 14,
        ..RuntimeConfig::default()
    })
    .expect("runtime starts");
    let typed = invocation(&rt, LOGS, Some("count"), json!([1]));
    assert_eq!(typed.logs, "out\nto stderr\n");
    assert_eq!(typed.usage.log_bytes, 20);
}

#[test]
fn wasi_guest_has_no_preopens_no_env_and_cannot_open_files() {
    let out = call(PROBE, "", Value::Null);
    // errno 8 is EBADF: fd 3 is not a preopened directory, so nothing opens.
    assert_eq!(out.value(), Some(&json!("p=08\ne=00\no=08\n")));
}

#[test]
fn flooding_stdout_is_cut_off() {
    let started = Instant::now();
    let (kind, message) = failure(&call(FLOOD, "", Value::Null));
    assert_eq!(kind, FailureKind::OutputTooLarge);
    assert_eq!(
        message,
        "output too large: stdout exceeded the 1024 KiB limit"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not cut off at once"
    );
}

#[test]
fn entry_resolution_follows_the_rule() {
    let rt = runtime();
    // An explicit entry wins.
    assert_eq!(
        rt.load(TYPED.as_bytes(), "add", Some("id64"))
            .unwrap()
            .entry(),
        "id64"
    );
    // Else the export named like the function.
    assert_eq!(
        rt.load(TYPED.as_bytes(), "divmod", None).unwrap().entry(),
        "divmod"
    );
    // Else _start, as a WASI command.
    let echo = rt.load(ECHO.as_bytes(), "whatever", None).unwrap();
    assert_eq!(echo.entry(), "_start");
    assert_eq!(echo.convention(), &Convention::WasiCommand);
    // Else the only exported function.
    let only = rt
        .load(b"(module (func (export \"solo\")))", "x", None)
        .unwrap();
    assert_eq!(only.entry(), "solo");
    // Otherwise an error listing the exports.
    let err = rt.load(TYPED.as_bytes(), "nope", None).unwrap_err();
    assert!(matches!(err, LoadError::AmbiguousEntry { .. }));
    assert!(err.to_string().contains("`add`, `id64`"), "{err}");
    let err = rt.load(TYPED.as_bytes(), "x", Some("missing")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the module has no exported function `missing`"),
        "{err}"
    );
}

#[test]
fn bad_modules_are_typed_errors_with_reasons() {
    let rt = runtime();
    assert_eq!(rt.load(b"", "f", None).unwrap_err(), LoadError::Empty);
    assert!(matches!(
        rt.load(b"hello world", "f", None).unwrap_err(),
        LoadError::NotWasm(_)
    ));
    assert!(matches!(
        rt.load(b"\0asm\x01\0\0\0\xff", "f", None).unwrap_err(),
        LoadError::Invalid(_)
    ));
    let err = rt
        .load(
            b"(module (import \"env\" \"steal\" (func)) (func (export \"f\")))",
            "f",
            None,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the module imports env::steal, which the sandbox does not provide (only wasi_snapshot_preview1 functions are available)"
    );
    let err = rt
        .load(b"(module (import \"wasi_snapshot_preview1\" \"no_such_call\" (func)) (func (export \"f\")))", "f", None)
        .unwrap_err();
    assert!(matches!(err, LoadError::Link(_)), "{err:?}");
    let err = rt
        .load(b"(module (func (export \"f\") (param v128)))", "f", None)
        .unwrap_err();
    assert!(
        matches!(err, LoadError::UnsupportedSignature { .. }),
        "{err:?}"
    );
    let err = rt
        .load(
            b"(module (func (export \"_start\") (param i32)))",
            "f",
            None,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("takes and returns nothing"),
        "{err}"
    );
}

#[test]
fn oversized_modules_are_refused_before_parsing() {
    let rt = Runtime::new(RuntimeConfig {
        max_module_bytes: 64,
        max_concurrent_instances: 2,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let err = rt.load(TYPED.as_bytes(), "add", None).unwrap_err();
    assert!(
        matches!(err, LoadError::TooLarge { max: 64, .. }),
        "{err:?}"
    );
}

#[test]
fn the_same_bytes_compile_once() {
    let rt = Runtime::new(RuntimeConfig {
        max_concurrent_instances: 2,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let a = rt.load(TYPED.as_bytes(), "add", None).unwrap();
    let b = rt.load(TYPED.as_bytes(), "fib", None).unwrap();
    assert_eq!(a.hash_hex(), b.hash_hex());
    let stats = rt.cache_stats();
    assert_eq!((stats.compiles, stats.hits, stats.entries), (1, 1, 1));
}

#[test]
fn the_cache_is_bounded() {
    let rt = Runtime::new(RuntimeConfig {
        cache_capacity: 2,
        max_concurrent_instances: 2,
        ..RuntimeConfig::default()
    })
    .unwrap();
    for i in 0..5 {
        let wat = format!("(module (func (export \"f\") (result i32) i32.const {i}))");
        rt.load(wat.as_bytes(), "f", None).unwrap();
    }
    assert_eq!(rt.cache_stats().entries, 2);
    assert_eq!(rt.cache_stats().compiles, 5);
}

#[test]
fn a_thousand_invocations_in_parallel_on_the_pool_are_all_right() {
    let rt = runtime().clone();
    let fib = rt.load(TYPED.as_bytes(), "fib", None).unwrap();
    let add = rt.load(TYPED.as_bytes(), "add", None).unwrap();
    let pool = Executor::new(rt, 4).unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..1000i64 {
        let (f, payload) = if i % 2 == 0 {
            (&fib, json!([i % 20]))
        } else {
            (&add, json!([i, i]))
        };
        let args = f.parse_args(&payload).unwrap();
        let tx = tx.clone();
        pool.submit(f.clone(), args, None, move |invocation, _slot| {
            let _ = tx.send((i, invocation.outcome));
        })
        .unwrap();
    }
    drop(tx);
    let fibs: Vec<i64> = (0..20)
        .scan((0i64, 1i64), |s, _| {
            let v = s.0;
            *s = (s.1, s.0 + s.1);
            Some(v)
        })
        .collect();
    let mut seen = 0;
    for (i, outcome) in rx.iter() {
        let expected = if i % 2 == 0 {
            json!(fibs[(i % 20) as usize])
        } else {
            json!(2 * i)
        };
        assert_eq!(outcome.value(), Some(&expected), "task {i}");
        seen += 1;
    }
    assert_eq!(seen, 1000);
}

#[test]
fn an_infinite_loop_holds_one_slot_only_and_traps_do_not_kill_the_pool() {
    let rt = runtime().clone();
    let spin = rt.load(TYPED.as_bytes(), "spin", None).unwrap();
    let boom = rt.load(TYPED.as_bytes(), "boom", None).unwrap();
    let add = rt.load(TYPED.as_bytes(), "add", None).unwrap();
    let pool = Arc::new(Executor::new(rt, 2).unwrap());
    let (tx, rx) = crossbeam_channel::bounded(1);
    pool.submit(
        spin,
        Args::Typed(vec![]),
        Some(Duration::from_secs(3)),
        move |invocation, _slot| {
            let o = invocation.outcome;
            let _ = tx.send(o);
        },
    )
    .unwrap();
    // While the loop holds one slot, the other keeps serving.
    let started = Instant::now();
    for i in 0..50 {
        assert_eq!(
            pool.run(boom.clone(), Args::Typed(vec![]), None)
                .outcome
                .failure()
                .map(|f| f.kind),
            Some(FailureKind::Trap)
        );
        let args = add.parse_args(&json!([i, 1])).unwrap();
        assert_eq!(
            pool.run(add.clone(), args, None).outcome.value(),
            Some(&json!(i + 1))
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "second slot was blocked"
    );
    assert_eq!(
        rx.recv().unwrap().failure().map(|f| f.kind),
        Some(FailureKind::Timeout)
    );
}

#[test]
fn mismatched_args_are_a_bad_arguments_failure_not_a_crash() {
    let f = runtime().load(TYPED.as_bytes(), "add", None).unwrap();
    let out = runtime().invoke(&f, Args::Stdin(b"x".to_vec()), None);
    assert_eq!(failure(&out).0, FailureKind::BadArguments);
}

#[test]
fn a_cancelled_invocation_never_runs_and_a_started_one_cannot_be_cancelled() {
    let rt = runtime().clone();
    let spin = rt.load(TYPED.as_bytes(), "spin", None).unwrap();
    let add = rt.load(TYPED.as_bytes(), "add", None).unwrap();
    let pool = Executor::new(rt, 1).unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    // The one slot spins for 1 s; the next two wait in the queue.
    let busy_tx = tx.clone();
    let busy = Ticket::new();
    pool.submit_with_ticket(
        spin,
        Args::Typed(vec![]),
        Some(Duration::from_secs(1)),
        busy.clone(),
        move |invocation, _slot| {
            let o = invocation.outcome;
            let _ = busy_tx.send(("spin", o));
        },
    )
    .unwrap();
    let queued = |n: i64| {
        let tx = tx.clone();
        let ticket = Ticket::new();
        pool.submit_with_ticket(
            add.clone(),
            add.parse_args(&json!([n, 1])).unwrap(),
            None,
            ticket.clone(),
            move |invocation, _slot| {
                let o = invocation.outcome;
                let _ = tx.send(("add", o));
            },
        )
        .unwrap();
        ticket
    };
    let (withdrawn, kept) = (queued(1), queued(2));
    while pool.running() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!busy.cancel(), "a started invocation cannot be withdrawn");
    assert!(withdrawn.cancel());
    assert!(!withdrawn.cancel(), "withdrawn once");
    drop(tx);
    let ended: Vec<_> = rx
        .iter()
        .map(|(name, o)| (name, o.value().cloned()))
        .collect();
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert_eq!(ended[0].0, "spin");
    assert_eq!(ended[1], ("add", Some(json!(3))));
    assert!(!kept.cancel());
}

/// Runs `entry` of `wat` on a one-slot pool under a ticket; returns the
/// ticket and where the outcome arrives.
fn start_stoppable(
    pool: &Executor,
    wat: &str,
    entry: &str,
    args: Args,
) -> (Ticket, crossbeam_channel::Receiver<Outcome>) {
    let f = runtime().load(wat.as_bytes(), entry, None).unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let ticket = Ticket::new();
    pool.submit_with_ticket(
        f,
        args,
        Some(Duration::from_secs(60)),
        ticket.clone(),
        move |invocation, _slot| {
            let o = invocation.outcome;
            let _ = tx.send(o);
        },
    )
    .unwrap();
    (ticket, rx)
}

#[test]
fn stop_interrupts_a_computing_guest_and_a_sleeping_one() {
    let pool = Executor::new(runtime().clone(), 2).unwrap();
    let (spin, spun) = start_stoppable(&pool, TYPED, "spin", Args::Typed(vec![]));
    let (sleep, slept) = start_stoppable(&pool, SLEEP, "_start", Args::Stdin(b"60000".to_vec()));
    while pool.running() < 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    spin.stop();
    sleep.stop();
    // Both run for 60 s unless stopped; the bound is far above one tick.
    for outcome in [&spun, &slept].map(|rx| rx.recv_timeout(Duration::from_secs(10))) {
        let outcome = outcome.expect("a stopped invocation ended");
        assert_eq!(
            failure(&outcome),
            (FailureKind::Cancelled, "cancelled".into())
        );
    }
    // The slots are free again.
    let f = runtime().load(TYPED.as_bytes(), "add", None).unwrap();
    assert_eq!(
        pool.run(f, Args::Typed(vec![Arg::I32(1), Arg::I32(2)]), None)
            .outcome
            .value(),
        Some(&json!(3))
    );
}

#[test]
fn a_task_stopped_before_it_starts_never_runs_and_says_cancelled() {
    let pool = Executor::new(runtime().clone(), 1).unwrap();
    let (busy, busy_done) = start_stoppable(&pool, TYPED, "spin", Args::Typed(vec![]));
    let (queued, queued_done) =
        start_stoppable(&pool, ECHO, "_start", Args::Stdin(b"ran".to_vec()));
    queued.stop();
    busy.stop();
    let wait = Duration::from_secs(10);
    assert_eq!(
        failure(&busy_done.recv_timeout(wait).unwrap()).0,
        FailureKind::Cancelled
    );
    assert_eq!(
        queued_done.recv_timeout(wait).unwrap(),
        Outcome::cancelled(),
        "stopped while queued: never ran"
    );
}

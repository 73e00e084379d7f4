//! Benchmarks of the sandbox (issue #2): no-op invoke latency, pool
//! throughput, fib(25) against native Rust, WASI echo of 1 KiB, and the first
//! call of a new 1 MB module against a cached one.
//!
//! `cargo bench -p faas-runtime` runs criterion, then prints percentiles and
//! the side-by-side ratios measured in the same run.

use criterion::{black_box, BatchSize, Criterion, Throughput};
use faas_runtime::{Args, Executor, Function, Runtime, RuntimeConfig};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NOOP: &str = r#"(module (func (export "noop")))"#;
const FIB: &str = include_str!("../../examples/fib.wat");
const ECHO: &str = include_str!("../tests/fixtures/echo.wat");

fn native_fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        native_fib(n - 1) + native_fib(n - 2)
    }
}

/// A module of about 1 MB: 2,000 functions of arithmetic, plus a `salt`
/// constant so that each call of this function yields a new module.
fn big_module(salt: u64) -> Vec<u8> {
    let mut wat = String::from("(module\n");
    for _ in 0..2000 {
        wat.push_str("(func (param i32) (result i32) local.get 0");
        for k in 0..100 {
            wat.push_str(&format!(" i32.const {} i32.add", 100_000 + k * 7919));
        }
        wat.push_str(")\n");
    }
    wat.push_str(&format!(
        "(func (export \"f\") (result i64) i64.const {salt}))"
    ));
    wat::parse_str(&wat).expect("generated WAT parses")
}

struct Setup {
    rt: Runtime,
    noop: Function,
    fib: Function,
    echo: Function,
    kib: Args,
}

fn setup() -> Setup {
    let rt = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let noop = rt.load(NOOP.as_bytes(), "noop", None).expect("noop");
    let fib = rt.load(FIB.as_bytes(), "fib", None).expect("fib");
    let echo = rt.load(ECHO.as_bytes(), "echo", None).expect("echo");
    let kib = echo.parse_args(&json!("x".repeat(1024))).expect("stdin");
    Setup {
        rt,
        noop,
        fib,
        echo,
        kib,
    }
}

fn run_pool(pool: &Executor, f: &Function, n: u64) {
    let done = Arc::new(AtomicU64::new(0));
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    for _ in 0..n {
        let done = done.clone();
        let tx = tx.clone();
        pool.submit(
            f.clone(),
            Args::Typed(vec![]),
            None,
            move |invocation, _slot| {
                debug_assert!(invocation.outcome.is_completed());
                if done.fetch_add(1, Ordering::Relaxed) + 1 == n {
                    let _ = tx.send(());
                }
            },
        )
        .expect("pool open");
    }
    rx.recv().expect("all done");
}

fn benches(c: &mut Criterion, s: &Setup) {
    c.bench_function("a_noop_invoke", |b| {
        b.iter(|| s.rt.invoke(&s.noop, Args::Typed(vec![]), None))
    });

    let mut group = c.benchmark_group("b_pool_2_slots");
    let pool = Executor::new(s.rt.clone(), 2).expect("pool");
    const BATCH: u64 = 10_000;
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("noop_x10000", |b| {
        b.iter(|| run_pool(&pool, &s.noop, BATCH))
    });
    group.finish();
    drop(pool);

    let mut group = c.benchmark_group("c_fib25");
    group.bench_function("wasm", |b| {
        b.iter(|| {
            s.rt.invoke(&s.fib, Args::Typed(vec![faas_runtime::Arg::I32(25)]), None)
        })
    });
    group.bench_function("native", |b| b.iter(|| native_fib(black_box(25))));
    group.finish();

    c.bench_function("d_wasi_echo_1kib", |b| {
        b.iter(|| s.rt.invoke(&s.echo, s.kib.clone(), None))
    });

    let mut group = c.benchmark_group("e_1mb_module");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let salt = AtomicU64::new(1);
    group.bench_function("first_call_compile", |b| {
        b.iter_batched(
            || big_module(salt.fetch_add(1, Ordering::Relaxed)),
            |bytes| {
                let f = s.rt.load(&bytes, "f", None).expect("compiles");
                s.rt.invoke(&f, Args::Typed(vec![]), None)
            },
            BatchSize::PerIteration,
        )
    });
    let cached = s.rt.load(&big_module(0), "f", None).expect("compiles");
    group.bench_function("cached_call", |b| {
        b.iter(|| s.rt.invoke(&cached, Args::Typed(vec![]), None))
    });
    group.finish();
}

/// Times `n` calls one by one and returns the sorted durations.
fn sample(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn pct(times: &[Duration], p: f64) -> f64 {
    let i = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[i].as_secs_f64() * 1e6
}

fn report(name: &str, times: &[Duration]) {
    println!(
        "{name:<28} p50 {:>10.2} us  p90 {:>10.2} us  p99 {:>10.2} us",
        pct(times, 0.50),
        pct(times, 0.90),
        pct(times, 0.99)
    );
}

/// Percentiles and same-run ratios, which criterion does not print.
fn side_by_side(s: &Setup) {
    println!("\n== percentiles and ratios (same run) ==");
    let noop = sample(20_000, || {
        black_box(s.rt.invoke(&s.noop, Args::Typed(vec![]), None));
    });
    report("a noop invoke", &noop);

    let pool = Executor::new(s.rt.clone(), 2).expect("pool");
    run_pool(&pool, &s.noop, 10_000); // warm up
    let mut rates = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        run_pool(&pool, &s.noop, 50_000);
        rates.push(50_000.0 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "b pool 2 slots noop          median {:>10.0} /s  (min {:.0}, max {:.0}, 5 runs of 50,000)",
        rates[2], rates[0], rates[4]
    );
    drop(pool);

    let arg = || Args::Typed(vec![faas_runtime::Arg::I32(25)]);
    let wasm = sample(200, || {
        black_box(s.rt.invoke(&s.fib, arg(), None));
    });
    let native = sample(200, || {
        black_box(native_fib(black_box(25)));
    });
    report("c fib(25) wasm", &wasm);
    report("c fib(25) native", &native);
    println!(
        "c fib(25) wasm/native        {:.2}x (p50 over p50)",
        pct(&wasm, 0.5) / pct(&native, 0.5)
    );

    let echo = sample(20_000, || {
        black_box(s.rt.invoke(&s.echo, s.kib.clone(), None));
    });
    report("d wasi echo 1 KiB", &echo);

    let mut salt = 1_000_000;
    let first = sample(5, || {
        salt += 1;
        let bytes = big_module(salt);
        let f = s.rt.load(&bytes, "f", None).expect("compiles");
        black_box(s.rt.invoke(&f, Args::Typed(vec![]), None));
    });
    let cached_fn = s.rt.load(&big_module(0), "f", None).expect("compiles");
    let cached = sample(2_000, || {
        black_box(s.rt.invoke(&cached_fn, Args::Typed(vec![]), None));
    });
    report("e 1 MB module first call", &first);
    report("e 1 MB module cached call", &cached);
    println!(
        "e first/cached               {:.0}x (p50 over p50; module {} bytes)",
        pct(&first, 0.5) / pct(&cached, 0.5),
        big_module(0).len()
    );

    // As a restarted process: a new runtime, the compiled code on disk.
    let dir = std::env::temp_dir().join(format!("faas-bench-compiled-{}", std::process::id()));
    let with_disk = || {
        Runtime::new(RuntimeConfig {
            compiled_dir: Some(dir.clone()),
            max_concurrent_instances: 4,
            ..RuntimeConfig::default()
        })
        .expect("runtime")
    };
    let bytes = big_module(7);
    with_disk().load(&bytes, "f", None).expect("compiles");
    let from_disk: Vec<Duration> = {
        let mut times: Vec<Duration> = (0..5)
            .map(|_| {
                let rt = with_disk();
                let t = Instant::now();
                let f = rt.load(&bytes, "f", None).expect("loads");
                black_box(rt.invoke(&f, Args::Typed(vec![]), None));
                let took = t.elapsed();
                assert_eq!(rt.cache_stats().from_disk, 1, "loaded from disk");
                took
            })
            .collect();
        times.sort();
        times
    };
    let _ = std::fs::remove_dir_all(&dir);
    report("f 1 MB module from disk", &from_disk);
    println!(
        "f first/from disk            {:.0}x (p50 over p50: a restarted process's first call)",
        pct(&first, 0.5) / pct(&from_disk, 0.5)
    );
}

fn main() {
    let s = setup();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &s);
    c.final_summary();
    side_by_side(&s);
}

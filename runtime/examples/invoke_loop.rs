//! Invokes one function many times and prints the time per call: for
//! profiling the cost of an invocation (a component's instance, say) apart
//! from everything around it.
//!
//! `cargo run --release -p faas-runtime --example invoke_loop -- MODULE [CALLS] [PAYLOAD] [THREADS]`
//! (PAYLOAD is JSON, `null` by default; THREADS, 1 by default, each make
//! CALLS calls at once, as a dispatcher's slots do; compiled code is kept in
//! $FAAS_COMPILED_DIR if set).

use faas_runtime::{Runtime, RuntimeConfig};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: invoke_loop MODULE [CALLS] [PAYLOAD]");
    let calls: usize = args.next().map_or(1000, |n| n.parse().expect("CALLS"));
    let payload: serde_json::Value =
        serde_json::from_str(&args.next().unwrap_or_else(|| "null".into())).expect("PAYLOAD");
    let threads: usize = args.next().map_or(1, |n| n.parse().expect("THREADS"));
    let bytes = std::fs::read(&path).expect("the module");
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_instances: threads.max(2) as u32,
        compiled_dir: std::env::var_os("FAAS_COMPILED_DIR").map(Into::into),
        ..RuntimeConfig::default()
    })
    .expect("a runtime");
    let started = Instant::now();
    let function = runtime.load(&bytes, "f", None).expect("loads");
    println!("load: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    let call = || {
        let args = function.parse_args(&payload).expect("the payload");
        runtime.invoke(&function, args, None)
    };
    println!("first: {:?}", call());
    let run_calls = || -> Vec<f64> {
        (0..calls)
            .map(|_| {
                let t = Instant::now();
                let outcome = call();
                assert!(outcome.value().is_some(), "{outcome:?}");
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect()
    };
    let started = Instant::now();
    let mut times: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(run_calls)).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a calling thread"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "{threads} x {calls} calls: {:.0} calls/s, p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, mean {:.0} us",
        times.len() as f64 / elapsed,
        pct(0.5),
        pct(0.9),
        pct(0.99),
        times.iter().sum::<f64>() / times.len() as f64
    );
}

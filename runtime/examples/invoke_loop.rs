//! Invokes one function many times on one thread and prints the time per
//! call: for profiling the cost of an invocation (a component's instance,
//! say) apart from everything around it.
//!
//! `cargo run --release -p faas-runtime --example invoke_loop -- MODULE [CALLS] [PAYLOAD]`
//! (PAYLOAD is JSON, `null` by default; compiled code is kept in
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
    let bytes = std::fs::read(&path).expect("the module");
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_instances: 2,
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
    let mut times: Vec<f64> = (0..calls)
        .map(|_| {
            let t = Instant::now();
            let outcome = call();
            assert!(outcome.value().is_some(), "{outcome:?}");
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "{calls} calls: p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, mean {:.0} us",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        times.iter().sum::<f64>() / times.len() as f64
    );
}

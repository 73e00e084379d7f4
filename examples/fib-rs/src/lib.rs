//! A typed export, `fib(n: i32) -> i64`: the n-th Fibonacci number by double
//! recursion (compute-bound on purpose), the Rust twin of `examples/fib.wat`.
//!
//! Built as a `cdylib`, the module exports `fib` and `memory` and has no
//! `_start`, so the platform calls `fib` with the payload `[n]`.

/// fib(0) = 0, fib(1) = 1, fib(n) = fib(n-1) + fib(n-2); negative n gives 0.
/// The sum wraps past fib(92), the largest that fits an i64, instead of
/// panicking.
#[no_mangle]
pub extern "C" fn fib(n: i32) -> i64 {
    if n < 2 {
        return i64::from(n.max(0));
    }
    fib(n - 1).wrapping_add(fib(n - 2))
}

//! Running one invocation: a fresh `Store` and instance from the cached
//! `InstancePre`, the call under its limits, and the mapping of whatever
//! happened to an `Outcome`.

use crate::component::{CompiledComponent, ComponentHost, HANDLE};
use crate::config::RuntimeConfig;
use crate::host::{HostState, LimitHit, Limiter};
use crate::load::{Code, Function};
use crate::outcome::{FailureKind, Invocation, Outcome, Usage};
use crate::output::CappedOutput;
use crate::pool::Ticket;
use crate::runtime::Runtime;
use crate::signature::{float_to_json, results_to_json, Arg, Args, Convention};
use serde_json::Value;
use std::cell::RefCell;
use std::time::{Duration, Instant};
use wasmtime::{InstancePre, Store, Trap, UpdateDeadline, Val, WasmBacktrace};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

const MIB: f64 = 1024.0 * 1024.0;
/// How much of stderr a failure message quotes.
const STDERR_TAIL: usize = 2048;

thread_local! {
    /// Each thread that invokes gets one small async runtime: WASI host calls
    /// are async, and a guest blocked in one (a long sleep) must be
    /// abandoned at its deadline, which only a timer can do.
    static LOCAL: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

impl Runtime {
    /// Runs `function` once with `args` on the calling thread, with a fresh
    /// instance, and returns how it ended. `timeout` overrides the default.
    ///
    /// Blocks the thread; call it from a thread pool (see `Executor`), never
    /// from inside an async task.
    pub fn invoke(&self, function: &Function, args: Args, timeout: Option<Duration>) -> Outcome {
        self.invocation(function, args, timeout).outcome
    }

    /// `invoke`, with what the guest logged and used.
    pub fn invocation(
        &self,
        function: &Function,
        args: Args,
        timeout: Option<Duration>,
    ) -> Invocation {
        self.invoke_retiring(function, args, timeout, None, &mut Retired::default())
    }

    /// `invocation`, which `stop` (if given) can end early (a computing
    /// guest within one epoch tick, one waiting in a host call at once; the
    /// outcome is then [`Outcome::cancelled`]), leaving the used instance
    /// in `retired`: the caller hands the outcome on first and frees the
    /// instance after, so that resetting its memory is not part of the
    /// task's latency.
    pub(crate) fn invoke_retiring(
        &self,
        function: &Function,
        args: Args,
        timeout: Option<Duration>,
        stop: Option<&Ticket>,
        retired: &mut Retired,
    ) -> Invocation {
        let timeout = timeout.unwrap_or(self.inner.config.default_timeout);
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if local.is_none() {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    Ok(rt) => *local = Some(rt),
                    Err(e) => {
                        return Invocation::unrun(Outcome::failed(
                            FailureKind::Instantiation,
                            format!("cannot start the invocation thread's timer: {e}"),
                        ))
                    }
                }
            }
            match local.as_ref() {
                Some(rt) => rt.block_on(self.run(function, args, timeout, stop, retired)),
                None => Invocation::unrun(Outcome::failed(
                    FailureKind::Instantiation,
                    "no invocation runtime",
                )),
            }
        })
    }

    async fn run(
        &self,
        function: &Function,
        args: Args,
        timeout: Duration,
        stop: Option<&Ticket>,
        retired: &mut Retired,
    ) -> Invocation {
        match &function.module.code {
            Code::Core(pre) => {
                self.run_core(function, pre, args, timeout, stop, retired)
                    .await
            }
            Code::Component(component) => {
                self.run_component(function, component, args, timeout, stop, retired)
                    .await
            }
        }
    }

    async fn run_core(
        &self,
        function: &Function,
        pre: &InstancePre<HostState>,
        args: Args,
        timeout: Duration,
        stop: Option<&Ticket>,
        retired: &mut Retired,
    ) -> Invocation {
        let config = &self.inner.config;
        let module = &function.module;
        if module.initial_memory_bytes > config.max_memory_bytes as u64 {
            return Invocation::unrun(memory_failure(
                config.max_memory_bytes,
                module.initial_memory_bytes as f64,
            ));
        }

        let (params, stdin) = match (args, &function.convention) {
            (Args::Typed(args), Convention::Typed(_)) => (args, Vec::new()),
            (Args::Stdin(stdin), Convention::WasiCommand) => (Vec::new(), stdin),
            _ => return Invocation::unrun(mismatched_arguments()),
        };

        let (stdout, stderr) = output_pipes(config, &function.convention);
        let wasi = module.imports_wasi.then(|| {
            WasiCtxBuilder::new()
                .stdin(MemoryInputPipe::new(stdin))
                .stdout(stdout.clone())
                .stderr(stderr.clone())
                .arg(&function.entry)
                .build_p1()
        });
        let mut store = Store::new(
            &self.inner.engine,
            HostState {
                limiter: Limiter::new(config),
                wasi,
            },
        );
        store.limiter(|state| &mut state.limiter);
        set_deadline(&mut store, deadline_ticks(timeout, config.epoch_tick), stop);

        let params: Vec<Val> = params.iter().map(to_val).collect();
        let started = Instant::now();
        let call = async {
            let instance = pre
                .instantiate_async(&mut store)
                .await
                .map_err(Stage::Instantiate)?;
            if module.has_initialize && function.convention != Convention::WasiCommand {
                let init = instance
                    .get_typed_func::<(), ()>(&mut store, "_initialize")
                    .map_err(Stage::Instantiate)?;
                init.call_async(&mut store, ()).await.map_err(Stage::Call)?;
            }
            let func = instance
                .get_func(&mut store, &function.entry)
                .ok_or_else(|| {
                    Stage::Instantiate(wasmtime::format_err!(
                        "export `{}` vanished",
                        function.entry
                    ))
                })?;
            let result_count = func.ty(&store).results().len();
            let mut results = vec![Val::I32(0); result_count];
            func.call_async(&mut store, &params, &mut results)
                .await
                .map_err(Stage::Call)?;
            Ok::<_, Stage>(results)
        };
        let Some(ended) = race(call, timeout, stop).await else {
            return Invocation::unrun(Outcome::cancelled());
        };
        let run_us = started.elapsed().as_micros() as u64;
        let limiter = &store.data().limiter;
        let (hit, peak_memory_bytes) = (limiter.hit, limiter.peak_memory_bytes);

        let outcome = match ended {
            Err(_elapsed) => timeout_failure(timeout),
            Ok(Ok(results)) => match function.convention {
                Convention::Typed(_) => {
                    Outcome::completed(results_to_json(results.iter().map(from_val).collect()))
                }
                _ => Outcome::completed(stdout_value(&stdout)),
            },
            Ok(Err(stage)) => classify(
                stage,
                hit,
                timeout,
                config.max_memory_bytes,
                &stdout,
                &stderr,
            ),
        };
        retired.keep(store);
        let outcome = within_output_caps(outcome, config.max_output_bytes, &stdout, &stderr);
        reported(config, outcome, &stderr, run_us, peak_memory_bytes)
    }
}

impl Runtime {
    /// One invocation of a component: a handler's `handle`, or a command's
    /// `wasi:cli/run`, under the same limits as a module.
    async fn run_component(
        &self,
        function: &Function,
        component: &CompiledComponent,
        args: Args,
        timeout: Duration,
        stop: Option<&Ticket>,
        retired: &mut Retired,
    ) -> Invocation {
        let config = &self.inner.config;
        let (stdin, payload) = match (args, &function.convention) {
            (Args::Stdin(stdin), Convention::WasiCommand) => (stdin, None),
            (Args::Json(json), Convention::Handler) => (Vec::new(), Some(json)),
            _ => return Invocation::unrun(mismatched_arguments()),
        };
        let (stdout, stderr) = output_pipes(config, &function.convention);
        let mut store = Store::new(
            &self.inner.engine,
            ComponentHost::new(config, stdin, stdout.clone(), stderr.clone()),
        );
        store.limiter(|state| &mut state.limiter);
        set_deadline(&mut store, deadline_ticks(timeout, config.epoch_tick), stop);

        let started = Instant::now();
        let call = async {
            let instance = component
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(Stage::Instantiate)?;
            match payload {
                Some(json) => {
                    let handle = instance
                        .get_typed_func::<(String,), (Result<String, String>,)>(&mut store, HANDLE)
                        .map_err(Stage::Instantiate)?;
                    let (returned,) = handle
                        .call_async(&mut store, (json,))
                        .await
                        .map_err(Stage::Call)?;
                    Ok::<_, Stage>(Ended::Handled(returned))
                }
                None => {
                    let command =
                        Command::new(&mut store, &instance).map_err(Stage::Instantiate)?;
                    let ran = command
                        .wasi_cli_run()
                        .call_run(&mut store)
                        .await
                        .map_err(Stage::Call)?;
                    Ok(Ended::Ran(ran))
                }
            }
        };
        let Some(ended) = race(call, timeout, stop).await else {
            return Invocation::unrun(Outcome::cancelled());
        };
        let run_us = started.elapsed().as_micros() as u64;
        let limiter = &store.data().limiter;
        let (hit, peak_memory_bytes) = (limiter.hit, limiter.peak_memory_bytes);
        let outcome = match ended {
            Err(_elapsed) => timeout_failure(timeout),
            Ok(Ok(Ended::Handled(Ok(text)))) => match serde_json::from_str::<Value>(&text) {
                Ok(value) => Outcome::completed(value),
                Err(e) => Outcome::failed(
                    FailureKind::Error,
                    format!(
                        "the handler's result is not JSON ({e}): {}",
                        truncated(&text)
                    ),
                ),
            },
            Ok(Ok(Ended::Handled(Err(message)))) => Outcome::failed(FailureKind::Error, message),
            Ok(Ok(Ended::Ran(Ok(())))) => Outcome::completed(stdout_value(&stdout)),
            Ok(Ok(Ended::Ran(Err(())))) => Outcome::failed(
                FailureKind::ExitCode,
                with_stderr("exit code 1".into(), &stderr, ": "),
            ),
            Ok(Err(stage)) => classify(
                stage,
                hit,
                timeout,
                config.max_memory_bytes,
                &stdout,
                &stderr,
            ),
        };
        retired.keep(store);
        let outcome = within_output_caps(outcome, config.max_output_bytes, &stdout, &stderr);
        reported(config, outcome, &stderr, run_us, peak_memory_bytes)
    }
}

/// The pipes of one invocation: stdout and stderr. Only a command's stdout
/// is its result; any other's is one log with stderr, in the order written.
fn output_pipes(config: &RuntimeConfig, convention: &Convention) -> (CappedOutput, CappedOutput) {
    let stderr = CappedOutput::new(config.max_output_bytes);
    let stdout = match convention {
        Convention::WasiCommand => CappedOutput::new(config.max_output_bytes),
        _ => stderr.clone(),
    };
    (stdout, stderr)
}

/// The invocation of `outcome`, with the tail of its log (`stderr`) and
/// what it used.
fn reported(
    config: &RuntimeConfig,
    outcome: Outcome,
    stderr: &CappedOutput,
    run_us: u64,
    peak_memory_bytes: usize,
) -> Invocation {
    let log_bytes = stderr.len() as u64;
    let output_bytes = result_bytes(&outcome);
    let (logs, _dropped) = stderr.tail(config.max_log_bytes);
    Invocation {
        outcome,
        logs,
        usage: Usage {
            run_us,
            peak_memory_bytes: peak_memory_bytes as u64,
            output_bytes,
            log_bytes,
            executor: String::new(),
        },
    }
}

/// The bytes of a completed invocation's result: a command's stdout as
/// text, any other value as JSON (counted, not written out); 0 for a
/// failure. Every way to complete (a return, `proc_exit(0)`) ends here.
fn result_bytes(outcome: &Outcome) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len() as u64;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    match outcome.value() {
        Some(Value::String(text)) => text.len() as u64,
        Some(value) => {
            let mut count = Count(0);
            let _ = serde_json::to_writer(&mut count, value);
            count.0
        }
        None => 0,
    }
}

fn mismatched_arguments() -> Outcome {
    Outcome::failed(
        FailureKind::BadArguments,
        "the arguments do not match the function's calling convention",
    )
}

/// A used instance (its store) not yet freed.
#[derive(Default)]
pub(crate) struct Retired(Option<Box<dyn std::any::Any>>);

impl Retired {
    fn keep<T: 'static>(&mut self, store: Store<T>) {
        self.0 = Some(Box::new(store));
    }
}

/// How a component's call returned.
enum Ended {
    /// `handle`'s result.
    Handled(Result<String, String>),
    /// `wasi:cli/run`'s result.
    Ran(Result<(), ()>),
}

/// At most this much of a bad result is quoted.
fn truncated(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// Arms the store's epoch deadline: a trap after `ticks`, and with a
/// `stop` ticket also a look at it every tick, so a stop takes effect
/// within one.
fn set_deadline<T: 'static>(store: &mut Store<T>, ticks: u64, stop: Option<&Ticket>) {
    match stop {
        None => {
            store.set_epoch_deadline(ticks);
            store.epoch_deadline_trap();
        }
        Some(ticket) => {
            let (ticket, mut left) = (ticket.clone(), ticks);
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |_| {
                left = left.saturating_sub(1);
                Ok(if ticket.is_stopped() || left == 0 {
                    UpdateDeadline::Interrupt
                } else {
                    UpdateDeadline::Continue(1)
                })
            });
        }
    }
}

/// Runs `call` until it ends or `timeout` passes; None if `stop` stopped
/// it first (a guest waiting in a host call is abandoned at once). A
/// result that raced a stop is dropped too: whatever the guest got to, it
/// was stopped, and the epoch's trap would read like a timeout.
async fn race<F: std::future::Future>(
    call: F,
    timeout: Duration,
    stop: Option<&Ticket>,
) -> Option<Result<F::Output, tokio::time::error::Elapsed>> {
    let stopped = async {
        match stop {
            Some(ticket) => ticket.stopped().await,
            None => std::future::pending().await,
        }
    };
    let ended = tokio::select! {
        biased;
        ended = tokio::time::timeout(timeout, call) => ended,
        () = stopped => return None,
    };
    if stop.is_some_and(Ticket::is_stopped) {
        return None;
    }
    Some(ended)
}

/// Where an invocation stopped, so errors before the call are not blamed on it.
enum Stage {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
}

fn classify(
    stage: Stage,
    hit: Option<LimitHit>,
    timeout: Duration,
    max_memory: usize,
    stdout: &CappedOutput,
    stderr: &CappedOutput,
) -> Outcome {
    if let Some(LimitHit::Memory { desired }) = hit {
        return memory_failure(max_memory, desired as f64);
    }
    if stdout.overflowed() || stderr.overflowed() {
        return output_failure(stdout.cap().max(stderr.cap()), stdout, stderr);
    }
    let (error, instantiating) = match stage {
        Stage::Instantiate(e) => (e, true),
        Stage::Call(e) => (e, false),
    };
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return match exit.0 {
            0 => Outcome::completed(stdout_value(stdout)),
            code => Outcome::failed(
                FailureKind::ExitCode,
                with_stderr(format!("exit code {code}"), stderr, ": "),
            ),
        };
    }
    if let Some(LimitHit::TableElements { desired }) = hit {
        return Outcome::failed(
            FailureKind::Instantiation,
            format!("table limit exceeded: the guest asked for {desired} elements"),
        );
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => timeout_failure(timeout),
        Some(trap) => {
            // wasmtime's text already reads "wasm trap: ...".
            let mut message = trap.to_string();
            if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
                let frames = backtrace.to_string();
                if !frames.trim().is_empty() {
                    message.push('\n');
                    message.push_str(frames.trim_end());
                }
            }
            Outcome::failed(
                FailureKind::Trap,
                with_stderr(message, stderr, "\nstderr: "),
            )
        }
        None if instantiating => Outcome::failed(
            FailureKind::Instantiation,
            format!("cannot instantiate the module: {error:#}"),
        ),
        None => Outcome::failed(
            FailureKind::Trap,
            with_stderr(format!("{error:#}"), stderr, "\nstderr: "),
        ),
    }
}

/// A completion whose stdout or stderr went past its cap is that failure.
fn within_output_caps(
    outcome: Outcome,
    cap: usize,
    stdout: &CappedOutput,
    stderr: &CappedOutput,
) -> Outcome {
    match outcome {
        Outcome::Completed { .. } if stdout.overflowed() || stderr.overflowed() => {
            output_failure(cap, stdout, stderr)
        }
        other => other,
    }
}

fn deadline_ticks(timeout: Duration, tick: Duration) -> u64 {
    let tick = tick.as_nanos().max(1);
    // Round up, plus one: the current tick may be nearly over.
    (timeout.as_nanos().div_ceil(tick) as u64).saturating_add(1)
}

fn timeout_failure(timeout: Duration) -> Outcome {
    Outcome::failed(
        FailureKind::Timeout,
        format!("timed out after {} ms", timeout.as_millis()),
    )
}

fn memory_failure(max: usize, desired: f64) -> Outcome {
    Outcome::failed(
        FailureKind::Memory,
        format!(
            "memory limit {} MiB exceeded (the guest asked for {:.1} MiB)",
            max as f64 / MIB,
            desired / MIB
        ),
    )
}

fn output_failure(cap: usize, stdout: &CappedOutput, stderr: &CappedOutput) -> Outcome {
    let stream = if stdout.is(stderr) {
        "stdout and stderr"
    } else if stdout.overflowed() {
        "stdout"
    } else {
        "stderr"
    };
    Outcome::failed(
        FailureKind::OutputTooLarge,
        format!(
            "output too large: {stream} exceeded the {} KiB limit",
            cap / 1024
        ),
    )
}

fn stdout_value(stdout: &CappedOutput) -> Value {
    Value::String(String::from_utf8_lossy(&stdout.take()).into_owned())
}

/// Appends the last part of stderr, if there is any.
fn with_stderr(message: String, stderr: &CappedOutput, separator: &str) -> String {
    let bytes = stderr.contents();
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.is_empty() {
        return message;
    }
    let tail = match text.char_indices().rev().nth(STDERR_TAIL) {
        Some((start, _)) => format!("...{}", &text[start..]),
        None => text.to_string(),
    };
    format!("{message}{separator}{tail}")
}

fn to_val(arg: &Arg) -> Val {
    match *arg {
        Arg::I32(v) => Val::I32(v),
        Arg::I64(v) => Val::I64(v),
        Arg::F32(v) => Val::F32(v.to_bits()),
        Arg::F64(v) => Val::F64(v.to_bits()),
    }
}

fn from_val(val: &Val) -> Value {
    match val {
        Val::I32(v) => Value::from(*v),
        Val::I64(v) => Value::from(*v),
        Val::F32(bits) => float_to_json(f64::from(f32::from_bits(*bits))),
        Val::F64(bits) => float_to_json(f64::from_bits(*bits)),
        // Signatures are checked at load: only numbers come back.
        _ => Value::Null,
    }
}

//! Running one invocation: a fresh `Store` and instance from the cached
//! `InstancePre`, the call under its limits, and the mapping of whatever
//! happened to an `Outcome`.

use crate::host::{HostState, LimitHit, Limiter};
use crate::load::Function;
use crate::outcome::{FailureKind, Outcome};
use crate::output::CappedOutput;
use crate::pool::Ticket;
use crate::runtime::Runtime;
use crate::signature::{float_to_json, results_to_json, Arg, Args, Convention};
use serde_json::Value;
use std::cell::RefCell;
use std::time::Duration;
use wasmtime::{Store, Trap, UpdateDeadline, Val, WasmBacktrace};
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
        self.invoke_stoppable(function, args, timeout, None)
    }

    /// `invoke`, which `stop` (if given) can end early: a computing guest
    /// within one epoch tick, one waiting in a host call at once. The
    /// outcome is then [`Outcome::cancelled`].
    pub fn invoke_stoppable(
        &self,
        function: &Function,
        args: Args,
        timeout: Option<Duration>,
        stop: Option<&Ticket>,
    ) -> Outcome {
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
                        return Outcome::failed(
                            FailureKind::Instantiation,
                            format!("cannot start the invocation thread's timer: {e}"),
                        )
                    }
                }
            }
            match local.as_ref() {
                Some(rt) => rt.block_on(self.run(function, args, timeout, stop)),
                None => Outcome::failed(FailureKind::Instantiation, "no invocation runtime"),
            }
        })
    }

    async fn run(
        &self,
        function: &Function,
        args: Args,
        timeout: Duration,
        stop: Option<&Ticket>,
    ) -> Outcome {
        let config = &self.inner.config;
        let module = &function.module;
        if module.initial_memory_bytes > config.max_memory_bytes as u64 {
            return memory_failure(config.max_memory_bytes, module.initial_memory_bytes as f64);
        }

        let (params, stdin) = match (args, &function.convention) {
            (Args::Typed(args), Convention::Typed(_)) => (args, Vec::new()),
            (Args::Stdin(stdin), Convention::WasiCommand) => (Vec::new(), stdin),
            _ => {
                return Outcome::failed(
                    FailureKind::BadArguments,
                    "the arguments do not match the function's calling convention",
                )
            }
        };

        let stdout = CappedOutput::new(config.max_output_bytes);
        let stderr = CappedOutput::new(config.max_output_bytes);
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
        let ticks = deadline_ticks(timeout, config.epoch_tick);
        match stop {
            None => {
                store.set_epoch_deadline(ticks);
                store.epoch_deadline_trap();
            }
            Some(ticket) => {
                // Looked at every tick: a stop takes effect within one.
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

        let params: Vec<Val> = params.iter().map(to_val).collect();
        let call = async {
            let instance = module
                .pre
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
        let stopped = async {
            match stop {
                Some(ticket) => ticket.stopped().await,
                None => std::future::pending().await,
            }
        };
        let ended = tokio::select! {
            biased;
            ended = tokio::time::timeout(timeout, call) => ended,
            () = stopped => return Outcome::cancelled(),
        };
        if stop.is_some_and(Ticket::is_stopped) {
            // Whatever the guest got to, it was stopped: the epoch's trap
            // reads like a timeout, and a result that raced the stop is
            // not wanted any more.
            return Outcome::cancelled();
        }
        let hit = store.data().limiter.hit;

        let outcome = match ended {
            Err(_elapsed) => timeout_failure(timeout),
            Ok(Ok(results)) => match function.convention {
                Convention::WasiCommand => Outcome::completed(stdout_value(&stdout)),
                Convention::Typed(_) => {
                    Outcome::completed(results_to_json(results.iter().map(from_val).collect()))
                }
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
        if let (Outcome::Completed { .. }, true) =
            (&outcome, stdout.overflowed() || stderr.overflowed())
        {
            return output_failure(config.max_output_bytes, &stdout);
        }
        outcome
    }
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
        return output_failure(stdout.cap().max(stderr.cap()), stdout);
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

fn output_failure(cap: usize, stdout: &CappedOutput) -> Outcome {
    let stream = if stdout.overflowed() {
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
    let bytes = stderr.take();
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

//! Write faas functions in Rust without boilerplate: take the task's payload
//! and return its result as JSON, text or bytes, over the WASI command
//! calling convention.
//!
//! A WASI command function gets the task's `payload` on stdin (a JSON string
//! payload as its raw text, any other JSON value as its JSON text, `null` as
//! empty stdin), and its stdout becomes the task's `result`, a string. This
//! crate does that reading and writing, and turns an error into a failed
//! task: the message goes to stderr and the module exits with code 1, which
//! the platform reports as `exit code 1: <message>`.
//!
//! It owns only that stdin/stdout plumbing and a small JSON [`Value`] with its
//! parser and serializer. It has no dependencies, builds with Rust 1.63
//! (Debian 12's `rustc` with `libstd-rust-dev-wasm32`) and with current
//! toolchains, for `wasm32-wasi`/`wasm32-wasip1` and for the host (its tests
//! run there).
//!
//! # Example
//!
//! ```no_run
//! use faas_guest::{Map, Value};
//!
//! /// `{"a": 2, "b": 3}` -> `{"sum":5}`
//! fn add(input: Value) -> Result<Value, String> {
//!     let a = input["a"].as_f64().ok_or("\"a\" must be a number")?;
//!     let b = input["b"].as_f64().ok_or("\"b\" must be a number")?;
//!     let mut out = Map::new();
//!     out.insert("sum", a + b);
//!     Ok(out.into())
//! }
//!
//! faas_guest::json_main!(add);
//! ```
//!
//! Built with `cargo build --release --target wasm32-wasi` (a binary crate:
//! `src/main.rs`), deployed, and invoked with the payload
//! `{"a": 2, "b": 3}`, the task's result is the string `{"sum":5}`; with
//! `{"a": "x"}` the task fails with `exit code 1: "a" must be a number`.
//!
//! # Entry points
//!
//! | input | call | handler | macro |
//! |---|---|---|---|
//! | JSON | [`run_json`] | `FnOnce(Value) -> R`, `R`: `Value` or `Result<Value, E>` | [`json_main!`] |
//! | UTF-8 text | [`run_text`] | `FnOnce(&str) -> R`, `R`: `String`, `&'static str` or `Result<String, E>` | [`text_main!`] |
//! | bytes | [`run_bytes`] | `FnOnce(&[u8]) -> R`, `R`: `Vec<u8>` or `Result<Vec<u8>, E>` | [`bytes_main!`] |
//!
//! `E` is any error that implements `Display` (`String`, `&str`,
//! [`ParseError`], `std::io::Error`, `Box<dyn Error>`...). A closure that
//! always succeeds should return the plain value: with `Ok(..)` alone Rust
//! cannot infer `E` (write `Ok::<_, String>(..)` then).
//!
//! A panic also fails the task (as a wasm trap, with the panic message from
//! stderr), but an `Err` gives the cleaner message.

mod json;

pub use json::{parse, parse_bytes, Map, ParseError, Value, MAX_DEPTH};

use std::fmt::Display;
use std::io::{Read, Write};

/// What a handler may return: the output itself, or a `Result` whose error
/// fails the task.
pub trait IntoOutput<T> {
    /// The output, or the message the task fails with.
    fn into_output(self) -> Result<T, String>;
}

impl IntoOutput<Value> for Value {
    fn into_output(self) -> Result<Value, String> {
        Ok(self)
    }
}

impl<E: Display> IntoOutput<Value> for Result<Value, E> {
    fn into_output(self) -> Result<Value, String> {
        self.map_err(|e| e.to_string())
    }
}

impl IntoOutput<String> for String {
    fn into_output(self) -> Result<String, String> {
        Ok(self)
    }
}

impl IntoOutput<String> for &'static str {
    fn into_output(self) -> Result<String, String> {
        Ok(self.to_string())
    }
}

impl<E: Display> IntoOutput<String> for Result<String, E> {
    fn into_output(self) -> Result<String, String> {
        self.map_err(|e| e.to_string())
    }
}

impl IntoOutput<Vec<u8>> for Vec<u8> {
    fn into_output(self) -> Result<Vec<u8>, String> {
        Ok(self)
    }
}

impl<E: Display> IntoOutput<Vec<u8>> for Result<Vec<u8>, E> {
    fn into_output(self) -> Result<Vec<u8>, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Runs a JSON function: parses stdin as JSON (empty or blank stdin is
/// `null`), calls `handler`, and writes its result to stdout as compact JSON.
///
/// Input that is not JSON fails the task with `input is not valid JSON: ...`
/// and the position; a handler error fails it with the error's message.
pub fn run_json<F, R>(handler: F)
where
    F: FnOnce(Value) -> R,
    R: IntoOutput<Value>,
{
    let input = read_stdin();
    let value = if input.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match parse_bytes(&input) {
            Ok(value) => value,
            Err(e) => fail(&format!("input is not valid JSON: {}", e)),
        }
    };
    drop(input);
    finish(
        handler(value)
            .into_output()
            .map(|v| v.to_json().into_bytes()),
    );
}

/// Runs a text function: reads stdin as UTF-8, calls `handler`, and writes
/// the string it returns to stdout as it is.
///
/// Input that is not UTF-8 fails the task.
pub fn run_text<F, R>(handler: F)
where
    F: FnOnce(&str) -> R,
    R: IntoOutput<String>,
{
    let input = read_stdin();
    let text = match std::str::from_utf8(&input) {
        Ok(text) => text,
        Err(e) => fail(&format!(
            "input is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        )),
    };
    let output = handler(text).into_output();
    finish(output.map(String::into_bytes));
}

/// Runs a bytes function: reads all of stdin, calls `handler`, and writes the
/// bytes it returns to stdout. (The platform reports stdout as a string,
/// replacing invalid UTF-8.)
pub fn run_bytes<F, R>(handler: F)
where
    F: FnOnce(&[u8]) -> R,
    R: IntoOutput<Vec<u8>>,
{
    let input = read_stdin();
    finish(handler(&input).into_output());
}

/// Fails the task now: writes `message` to stderr and exits with code 1.
pub fn fail(message: &str) -> ! {
    let _ = std::io::stdout().flush();
    let mut stderr = std::io::stderr();
    let _ = writeln!(stderr, "{}", message);
    let _ = stderr.flush();
    std::process::exit(1)
}

fn read_stdin() -> Vec<u8> {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut input) {
        fail(&format!("cannot read stdin: {}", e));
    }
    input
}

fn finish(output: Result<Vec<u8>, String>) {
    match output {
        Ok(bytes) => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(&bytes).and_then(|_| stdout.flush()) {
                fail(&format!("cannot write stdout: {}", e));
            }
        }
        Err(message) => fail(&message),
    }
}

/// Defines `main` as [`run_json`] of a function `fn(Value) -> Value` or
/// `fn(Value) -> Result<Value, E>`.
///
/// ```no_run
/// fn echo(input: faas_guest::Value) -> faas_guest::Value {
///     input
/// }
/// faas_guest::json_main!(echo);
/// ```
#[macro_export]
macro_rules! json_main {
    ($handler:expr) => {
        fn main() {
            $crate::run_json($handler)
        }
    };
}

/// Defines `main` as [`run_text`] of a function `fn(&str) -> String` or
/// `fn(&str) -> Result<String, E>`.
///
/// ```no_run
/// fn shout(input: &str) -> String {
///     input.to_uppercase()
/// }
/// faas_guest::text_main!(shout);
/// ```
#[macro_export]
macro_rules! text_main {
    ($handler:expr) => {
        fn main() {
            $crate::run_text($handler)
        }
    };
}

/// Defines `main` as [`run_bytes`] of a function `fn(&[u8]) -> Vec<u8>` or
/// `fn(&[u8]) -> Result<Vec<u8>, E>`.
///
/// ```no_run
/// fn reverse(input: &[u8]) -> Vec<u8> {
///     input.iter().rev().copied().collect()
/// }
/// faas_guest::bytes_main!(reverse);
/// ```
#[macro_export]
macro_rules! bytes_main {
    ($handler:expr) => {
        fn main() {
            $crate::run_bytes($handler)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output<T, R: IntoOutput<T>>(r: R) -> Result<T, String> {
        r.into_output()
    }

    #[test]
    fn handler_results() {
        assert_eq!(output(Value::from(1)), Ok(Value::from(1)));
        assert_eq!(
            output(Err::<Value, _>("bad input")),
            Err::<Value, _>("bad input".to_string())
        );
        assert_eq!(output::<String, _>("hi"), Ok("hi".to_string()));
        let io: Result<String, std::io::Error> =
            Err(std::io::Error::new(std::io::ErrorKind::Other, "boom"));
        assert_eq!(output(io), Err::<String, _>("boom".to_string()));
        assert_eq!(output(vec![1u8, 2]), Ok(vec![1u8, 2]));
        let parsed: Result<Value, ParseError> = parse("[");
        assert_eq!(
            output(parsed),
            Err::<Value, _>(
                "unexpected end of input, expected a JSON value at line 1, column 2".to_string()
            )
        );
    }

    #[test]
    fn question_mark_on_parse_errors_into_string() {
        fn handler(input: &str) -> Result<String, String> {
            let v = parse(input)?;
            Ok(v.to_string())
        }
        assert_eq!(handler(" [1, 2] "), Ok("[1,2]".to_string()));
        assert!(handler("[1,").is_err());
    }
}

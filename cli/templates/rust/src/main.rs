//! {{name}}: a faas function written as a WASI command. The task's payload
//! (a JSON string) is its stdin; what it prints is the task's result. A
//! non-zero exit fails the task with what it wrote to stderr.

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("cannot read the payload: {e}");
        return ExitCode::FAILURE;
    }
    let name = input.trim();
    println!("Hello, {}!", if name.is_empty() { "world" } else { name });
    ExitCode::SUCCESS
}

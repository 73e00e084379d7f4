//! A WASI command that does nothing: it ignores stdin and writes nothing, so
//! the task's result is the empty string. It measures the platform's own
//! overhead per task.

fn main() {}

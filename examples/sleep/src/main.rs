//! A WASI command that sleeps: stdin is a number of milliseconds (payload
//! `"250"` or `250`), it sleeps that long through WASI clocks
//! (`std::thread::sleep` is `poll_oneoff` on a relative clock on
//! `wasm32-wasi`), and prints `slept 250 ms`. Not a number fails the task.
//!
//! It shows time limits and concurrency: a sleeping guest holds a slot but
//! no CPU, and one that sleeps past the task timeout is cut off there.

use std::time::Duration;

fn sleep(input: &str) -> Result<String, String> {
    let text = input.trim();
    let ms: u64 = text
        .parse()
        .map_err(|_| format!("expected a number of milliseconds, got {:?}", text))?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(format!("slept {} ms", ms))
}

faas_guest::text_main!(sleep);

//! The progress bar of `faas map` and `faas bench`: counters the tasks
//! bump, drawn on stderr a few times a second when stderr is a terminal.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the progress bar is redrawn.
const REDRAW: Duration = Duration::from_millis(200);

/// Counters shared with the tasks, and a bar drawn from them on stderr a few
/// times a second when stderr is a terminal.
pub struct Progress {
    pub submitted: Arc<AtomicUsize>,
    pub done: Arc<AtomicUsize>,
    pub failed: Arc<AtomicUsize>,
    collecting: Arc<AtomicBool>,
    drawer: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Progress {
    /// Counters, and a drawing task if `draw`.
    pub fn start(total: usize, draw: bool) -> Progress {
        let mut progress = Progress {
            submitted: Arc::default(),
            done: Arc::default(),
            failed: Arc::default(),
            collecting: Arc::default(),
            drawer: None,
        };
        if draw && total > 0 {
            let (stop, mut stopped) = tokio::sync::oneshot::channel();
            let (submitted, done, failed, collecting) = (
                progress.submitted.clone(),
                progress.done.clone(),
                progress.failed.clone(),
                progress.collecting.clone(),
            );
            let handle = tokio::spawn(async move {
                let mut tick = tokio::time::interval(REDRAW);
                loop {
                    let line = if collecting.load(Ordering::Relaxed) {
                        let failed = failed.load(Ordering::Relaxed);
                        let note = if failed > 0 {
                            format!("  {failed} failed")
                        } else {
                            String::new()
                        };
                        bar_line("results   ", done.load(Ordering::Relaxed), total, &note)
                    } else {
                        bar_line("submitting", submitted.load(Ordering::Relaxed), total, "")
                    };
                    let _ = write!(io::stderr().lock(), "\r\x1b[2K{line}");
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = &mut stopped => break,
                    }
                }
                // Leave the line clean for the summary.
                let _ = write!(io::stderr().lock(), "\r\x1b[2K");
            });
            progress.drawer = Some((stop, handle));
        }
        progress
    }

    pub fn phase_collecting(&self) {
        self.collecting.store(true, Ordering::Relaxed);
    }

    /// Counts one task as ended (`bad`: failed, or no task at all).
    pub fn record(&self, bad: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if bad {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Stops drawing and clears the bar.
    pub async fn finish(mut self) {
        if let Some((stop, handle)) = self.drawer.take() {
            let _ = stop.send(());
            let _ = handle.await;
        }
    }
}

/// `submitting [##########..........]  512/1000`.
fn bar_line(label: &str, count: usize, total: usize, note: &str) -> String {
    const WIDTH: usize = 30;
    let filled = (count.min(total) * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH);
    format!(
        "{label} [{}{}] {count:>width$}/{total}{note}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        width = total.to_string().len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_count() {
        assert_eq!(
            bar_line("x", 0, 10, ""),
            format!("x [{}]  0/10", ".".repeat(30))
        );
        assert_eq!(
            bar_line("x", 5, 10, " n"),
            format!("x [{}{}]  5/10 n", "#".repeat(15), ".".repeat(15))
        );
        assert_eq!(
            bar_line("x", 10, 10, ""),
            format!("x [{}] 10/10", "#".repeat(30))
        );
    }
}

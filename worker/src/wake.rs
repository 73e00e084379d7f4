//! A mailbox the I/O thread can `zmq::poll` beside its DEALER: other threads
//! (executor slots, loaders) post events into a crossbeam channel and ring
//! an inproc ZeroMQ socket, so the I/O thread wakes at once instead of on a
//! poll timeout.
//!
//! Rings are coalesced: a poster rings only if no ring is pending, and the
//! I/O thread clears the pending flag *before* it drains the channel, so an
//! event is never left in the channel without a ring after it.

use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

struct Bell {
    /// The PUSH end; zmq sockets are not thread-safe, hence the mutex.
    socket: Mutex<zmq::Socket>,
    pending: AtomicBool,
}

impl Bell {
    fn ring(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            let socket = self.socket.lock().unwrap_or_else(|e| e.into_inner());
            // The PULL end has no high-water mark and at most two rings are
            // ever queued, so this does not fail short of the context ending.
            let _ = socket.send(&b""[..], zmq::DONTWAIT);
        }
    }
}

/// Posts events to the I/O thread from any thread.
pub struct Poster<T> {
    tx: Sender<T>,
    bell: Arc<Bell>,
}

impl<T> Clone for Poster<T> {
    fn clone(&self) -> Self {
        Poster {
            tx: self.tx.clone(),
            bell: self.bell.clone(),
        }
    }
}

impl<T> Poster<T> {
    /// Queues `event` and wakes the I/O thread. Returns false if the
    /// mailbox is gone (the worker has stopped).
    pub fn post(&self, event: T) -> bool {
        if self.tx.send(event).is_err() {
            return false;
        }
        self.bell.ring();
        true
    }
}

/// The I/O thread's end.
pub struct Mailbox<T> {
    rx: Receiver<T>,
    pull: zmq::Socket,
    bell: Arc<Bell>,
}

impl<T> Mailbox<T> {
    /// A mailbox on its own ZeroMQ context (so that ending the network
    /// context never waits on a poster that outlives the I/O loop).
    pub fn new() -> Result<(Mailbox<T>, Poster<T>), zmq::Error> {
        let context = zmq::Context::new();
        let endpoint = format!("inproc://faas-worker-wake-{}", uuid::Uuid::new_v4());
        let pull = context.socket(zmq::PULL)?;
        pull.set_rcvhwm(0)?;
        pull.set_linger(0)?;
        pull.bind(&endpoint)?;
        let push = context.socket(zmq::PUSH)?;
        push.set_sndhwm(0)?;
        push.set_linger(0)?;
        push.connect(&endpoint)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let bell = Arc::new(Bell {
            socket: Mutex::new(push),
            pending: AtomicBool::new(false),
        });
        Ok((
            Mailbox {
                rx,
                pull,
                bell: bell.clone(),
            },
            Poster { tx, bell },
        ))
    }

    /// For `zmq::poll`: readable when a ring is waiting.
    pub fn poll_item(&self) -> zmq::PollItem<'_> {
        self.pull.as_poll_item(zmq::POLLIN)
    }

    /// Takes the rings, then every event posted so far.
    pub fn drain(&self) -> Vec<T> {
        while self.pull.recv_bytes(zmq::DONTWAIT).is_ok() {}
        // A swap, not a store: it acquires from the posters whose ring it
        // clears, so their events are visible to the drain below.
        self.bell.pending.swap(false, Ordering::AcqRel);
        self.rx.try_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn readable(mailbox: &Mailbox<u32>, timeout_ms: i64) -> bool {
        let mut items = [mailbox.poll_item()];
        zmq::poll(&mut items, timeout_ms).unwrap();
        items[0].is_readable()
    }

    #[test]
    fn a_post_wakes_the_poller_and_nothing_is_lost() {
        let (mailbox, poster) = Mailbox::<u32>::new().unwrap();
        assert!(!readable(&mailbox, 0));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let poster = poster.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        assert!(poster.post(t * 1000 + i));
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < 4000 && Instant::now() < deadline {
            if readable(&mailbox, 100) {
                got.extend(mailbox.drain());
            }
        }
        for t in threads {
            t.join().unwrap();
        }
        got.sort();
        assert_eq!(got, (0..4000).collect::<Vec<_>>());
        assert!(!readable(&mailbox, 0) || mailbox.drain().is_empty());
    }

    #[test]
    fn the_wake_up_is_fast() {
        let (mailbox, poster) = Mailbox::<Instant>::new().unwrap();
        let mut lat = Vec::new();
        for _ in 0..200 {
            let p = poster.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_micros(200));
                p.post(Instant::now());
            });
            let mut items = [mailbox.poll_item()];
            zmq::poll(&mut items, 5000).unwrap();
            for sent in mailbox.drain() {
                lat.push(sent.elapsed());
            }
            t.join().unwrap();
        }
        lat.sort();
        let p50 = lat[lat.len() / 2];
        eprintln!(
            "mailbox wake-up latency: p50 {p50:?}, max {:?}",
            lat[lat.len() - 1]
        );
        assert!(p50 < Duration::from_millis(1), "p50 {p50:?}");
    }

    #[test]
    fn posting_after_the_mailbox_is_gone_reports_it() {
        let (mailbox, poster) = Mailbox::<u32>::new().unwrap();
        drop(mailbox);
        assert!(!poster.post(1));
    }
}

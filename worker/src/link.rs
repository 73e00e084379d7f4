//! The worker's end of the connection: a DEALER connected to the
//! dispatcher's ROUTER, set up the same way in both modes (routing id,
//! message size cap, linger, reconnection, ZMTP heartbeats, IPv6, CURVE
//! keys), and the
//! poll that waits on it beside the wake-up mailbox.

use crate::config::{is_ipv6_literal, WorkerConfig, WorkerError};
use crate::engine::Event;
use crate::wake::Mailbox;
use faas_protocol::MAX_MESSAGE_BYTES;
use std::time::{Duration, Instant};

/// Longest poll, so that `shutdown` is seen promptly.
const MAX_POLL: Duration = Duration::from_millis(100);
/// Messages read from the DEALER per turn before results get their turn.
pub(crate) const READ_BATCH: usize = 256;
/// Heartbeat interval until the dispatcher says otherwise.
pub(crate) const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(1000);
/// Bounds on the interval a dispatcher may ask for.
const MIN_HEARTBEAT: Duration = Duration::from_millis(10);
const MAX_HEARTBEAT: Duration = Duration::from_secs(60);

/// The heartbeat interval a dispatcher asked for, within bounds.
pub(crate) fn heartbeat_interval(ms: u64) -> Duration {
    Duration::from_millis(ms).clamp(MIN_HEARTBEAT, MAX_HEARTBEAT)
}

/// What a poll found.
pub(crate) struct Polled {
    /// The DEALER has messages.
    pub readable: bool,
    /// The mailbox rang.
    pub woken: bool,
}

pub(crate) struct Link {
    socket: zmq::Socket,
    /// libzmq's events about the DEALER's handshakes: an authentication
    /// failure (the dispatcher's ZAP handler refused this worker's key)
    /// ends the connection for good, libzmq does not retry it.
    monitor: zmq::Socket,
    /// When the monitor was last read.
    checked: Instant,
    /// The DEALER has a context of its own: ending it (after the socket,
    /// on drop) waits up to the linger for the last messages to go out.
    _context: zmq::Context,
}

/// How often the handshake monitor is read.
const CHECK_EVERY: Duration = Duration::from_millis(200);

impl Link {
    /// Connects a DEALER with routing id `id`. `immediate`: queue messages
    /// only on a completed connection, so a send fails (`EAGAIN`) while
    /// the dispatcher is unreachable instead of waiting for it.
    pub fn connect(config: &WorkerConfig, id: &[u8], immediate: bool) -> Result<Link, WorkerError> {
        let context = zmq::Context::new();
        let socket = context
            .socket(zmq::DEALER)
            .map_err(WorkerError::zmq("DEALER socket"))?;
        socket
            .set_identity(id)
            .and_then(|()| socket.set_maxmsgsize(MAX_MESSAGE_BYTES as i64))
            .and_then(|()| socket.set_linger(1000))
            .and_then(|()| socket.set_reconnect_ivl(100))
            .and_then(|()| socket.set_reconnect_ivl_max(1000))
            // ZMTP heartbeats notice a dispatcher host that vanished
            // without closing the connection, so libzmq reconnects.
            .and_then(|()| socket.set_heartbeat_ivl(1000))
            .and_then(|()| socket.set_heartbeat_timeout(5000))
            .and_then(|()| socket.set_ipv6(is_ipv6_literal(&config.dispatcher)))
            .and_then(|()| socket.set_immediate(immediate))
            .map_err(WorkerError::zmq("socket option"))?;
        if let Some(curve) = &config.curve {
            // The dispatcher is the CURVE server: this worker must know its
            // public key, and proves its own key pair in the handshake.
            socket
                .set_curve_serverkey(&curve.server.0)
                .and_then(|()| socket.set_curve_publickey(&curve.keys.public.0))
                .and_then(|()| socket.set_curve_secretkey(&curve.keys.secret.0))
                .map_err(WorkerError::zmq("CURVE keys"))?;
        }
        let events = format!(
            "inproc://faas-link-monitor-{}",
            uuid::Uuid::new_v4().simple()
        );
        socket
            .monitor(&events, zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32)
            .map_err(WorkerError::zmq("socket monitor"))?;
        let monitor = context
            .socket(zmq::PAIR)
            .and_then(|m| m.connect(&events).map(|()| m))
            .map_err(WorkerError::zmq("socket monitor"))?;
        socket
            .connect(&config.dispatcher)
            .map_err(|e| WorkerError::BadUrl {
                url: config.dispatcher.clone(),
                reason: e.to_string(),
            })?;
        tracing::debug!(id = %String::from_utf8_lossy(id), "connecting to {}", config.dispatcher);
        Ok(Link {
            socket,
            monitor,
            checked: Instant::now(),
            _context: context,
        })
    }

    /// The ZAP status code (400) if the dispatcher refused this worker's
    /// key since the last call; read at most every [`CHECK_EVERY`].
    pub fn refused(&mut self) -> Option<u32> {
        if self.checked.elapsed() < CHECK_EVERY {
            return None;
        }
        self.checked = Instant::now();
        while let Ok(frames) = self.monitor.recv_multipart(zmq::DONTWAIT) {
            // Frame 0: the event (u16) and its value (u32), little-endian.
            let Some(head) = frames.first().filter(|f| f.len() >= 6) else {
                continue;
            };
            let event = u16::from_le_bytes([head[0], head[1]]);
            if event == zmq::SocketEvent::HANDSHAKE_FAILED_AUTH.to_raw() {
                return Some(u32::from_le_bytes([head[2], head[3], head[4], head[5]]));
            }
        }
        None
    }

    /// Hands a message to the socket without blocking; `EAGAIN` when it
    /// would block.
    pub fn send(&self, frames: &[Vec<u8>]) -> Result<(), zmq::Error> {
        self.socket
            .send_multipart(frames.iter().map(Vec::as_slice), zmq::DONTWAIT)
    }

    /// Whether a send would be taken now.
    pub fn writable(&self) -> bool {
        self.socket
            .get_events()
            .is_ok_and(|e| e.contains(zmq::POLLOUT))
    }

    /// The next message, if one is waiting.
    pub fn recv(&self) -> Option<Vec<Vec<u8>>> {
        match self.socket.recv_multipart(zmq::DONTWAIT) {
            Ok(frames) => Some(frames),
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => None,
            Err(e) => {
                tracing::warn!("cannot receive: {e}");
                None
            }
        }
    }

    /// Waits up to `timeout` (at most [`MAX_POLL`], rounded up to whole
    /// milliseconds) for a message, the mailbox, or, if `want_out`, room to
    /// send (then [`Link::writable`] says so).
    /// Waits for the socket (readable, or writable if `want_out`) and,
    /// when given, the mailbox.
    pub fn poll(
        &self,
        mailbox: Option<&Mailbox<Event>>,
        want_out: bool,
        timeout: Duration,
    ) -> Polled {
        let timeout = timeout.min(MAX_POLL);
        let ms = i64::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(i64::MAX);
        let mut events = zmq::POLLIN;
        if want_out {
            events |= zmq::POLLOUT;
        }
        let mut items = [self.socket.as_poll_item(events)];
        let polled = match mailbox {
            Some(mailbox) => {
                let mut both = [self.socket.as_poll_item(events), mailbox.poll_item()];
                zmq::poll(&mut both, ms).map(|_| (both[0].is_readable(), both[1].is_readable()))
            }
            None => zmq::poll(&mut items, ms).map(|_| (items[0].is_readable(), false)),
        };
        match polled {
            Ok((readable, woken)) => Polled { readable, woken },
            Err(e) => {
                // EINTR: a signal (SIGTERM, handled elsewhere) interrupted it.
                if e != zmq::Error::EINTR {
                    tracing::warn!("poll failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Polled {
                    readable: false,
                    woken: false,
                }
            }
        }
    }
}

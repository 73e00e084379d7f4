//! The ZeroMQ side of push and pull mode: one thread owns the ROUTER socket
//! (zmq sockets are not thread-safe) and moves messages between it and the
//! async scheduler. Outbound messages reach the thread through an inproc
//! socket, so sending never waits on a poll timeout.
//!
//! libzmq enforces `ZMQ_MAXMSGSIZE` while reading a frame header: a peer that
//! announces a frame over the cap is disconnected before anything is
//! allocated. Undecodable messages are logged and dropped here; in pull mode
//! they are answered with `ERROR`, so a REQ peer is not left waiting.
//!
//! With CURVE (`zap.rs`) every connection is encrypted and its worker key
//! checked during the handshake; each message carries the key it came
//! under (the `User-Id` the ZAP handler set), so the schedulers can bind a
//! worker to its key. Routing-id handover is off then: a connection that
//! presents a routing id already connected is not attached under it, so
//! no peer can take over another's connection (ARCHITECTURE.md says why).

use crate::zap::{self, CurveServer, Zap};
use faas_protocol::curve::CurveKey;
use faas_protocol::{DispatcherMessage, WorkerMessage, MAX_MESSAGE_BYTES};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A worker's ZeroMQ routing id.
pub type Identity = Vec<u8>;

/// How messages are wrapped on the ROUTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// DEALER peers: the routing id, then the message.
    Push,
    /// REQ peers: the routing id, the REQ envelope up to an empty
    /// delimiter frame, then the message; answers echo the envelope.
    Request,
}

/// Most envelope frames before the delimiter (a REQ adds none, a chain of
/// proxies one each).
const MAX_ENVELOPE: usize = 8;

/// A decoded message from a worker.
pub struct Inbound {
    pub from: Identity,
    /// Where an answer goes: the routing id and, for REQ peers, the
    /// envelope through its delimiter.
    pub route: Vec<Vec<u8>>,
    pub message: WorkerMessage,
    /// The worker key the connection authenticated with (CURVE); `None`
    /// without CURVE.
    pub key: Option<CurveKey>,
}

/// Sends messages to workers from any thread.
#[derive(Clone)]
pub struct Outbox {
    socket: Arc<Mutex<zmq::Socket>>,
}

impl Outbox {
    pub fn send(&self, to: &Identity, message: &DispatcherMessage) {
        self.reply(std::slice::from_ref(to), message);
    }

    /// Sends `message` along `route` (an [`Inbound::route`]).
    pub fn reply(&self, route: &[Vec<u8>], message: &DispatcherMessage) {
        let mut frames = route.to_vec();
        frames.extend(message.encode());
        let socket = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = socket.send_multipart(frames, 0) {
            tracing::warn!("cannot queue a {} message: {e}", message.kind());
        }
    }
}

/// The running I/O thread; stops when dropped.
pub struct Router {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Stopped after the I/O thread (whose ROUTER may still ask it).
    zap: Option<Zap>,
    /// Connections the ZAP handler refused.
    pub refused: Arc<AtomicU64>,
}

impl Drop for Router {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.zap.take();
    }
}

/// Binds the ROUTER on `endpoint` (e.g. `tcp://127.0.0.1:7001`), with CURVE
/// and its ZAP handler if `curve` is given, and starts the I/O
/// thread. Fails if the port cannot be bound.
pub fn start(
    endpoint: &str,
    framing: Framing,
    curve: Option<&CurveServer>,
) -> Result<(Router, Outbox, mpsc::UnboundedReceiver<Inbound>), zmq::Error> {
    let context = zmq::Context::new();
    let mut router = context.socket(zmq::ROUTER)?;
    router.set_maxmsgsize(MAX_MESSAGE_BYTES as i64)?;
    router.set_linger(0)?;
    // Sending to a routing id that is gone is an error, not a silent drop.
    router.set_router_mandatory(true)?;
    let refused = Arc::new(AtomicU64::new(0));
    let zap = match curve {
        Some(curve) => {
            // The handler is bound before the ROUTER, so that no handshake
            // goes unchecked; with the domain enforced, none would if it
            // were gone.
            let zap = zap::start(&context, curve.allowed.clone(), refused.clone())?;
            router.set_curve_server(true)?;
            router.set_curve_secretkey(&curve.keys.secret.0)?;
            router.set_zap_domain(zap::ZAP_DOMAIN)?;
            zap::enforce(&mut router)?;
            // A peer that connects and never finishes its handshake is
            // dropped after 5 s.
            router.set_handshake_ivl(5000)?;
            // No handover: a connection presenting a routing id in use
            // is not attached under it, whatever its key.
            router.set_router_handover(false)?;
            Some(zap)
        }
        None => {
            // Plain ZMTP authenticates nobody: a worker that reconnects under
            // the same routing id (after a network partition, say) takes
            // over from its old, half-open connection instead of being
            // ignored; worker state is keyed so that this is safe.
            router.set_router_handover(true)?;
            None
        }
    };
    // ZMTP heartbeats close connections whose peer vanished without a word,
    // sooner than a worker notices (5 s), so that a worker reconnecting
    // after a partition finds its routing id free (no handover with CURVE).
    router.set_heartbeat_ivl(1000)?;
    router.set_heartbeat_timeout(3000)?;
    router.set_sndhwm(100_000)?;
    router.set_rcvhwm(100_000)?;
    router.bind(endpoint)?;

    let inproc = format!("inproc://faas-outbox-{}", uuid::Uuid::new_v4());
    let pull = context.socket(zmq::PULL)?;
    pull.set_rcvhwm(0)?;
    pull.bind(&inproc)?;
    let push = context.socket(zmq::PUSH)?;
    push.set_sndhwm(0)?;
    push.connect(&inproc)?;

    let (tx, rx) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let curve_on = curve.is_some();
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("faas-router".into())
            .spawn(move || io_loop(router, pull, framing, curve_on, tx, stop))
            .map_err(|_| zmq::Error::EMFILE)?
    };
    Ok((
        Router {
            stop,
            thread: Some(thread),
            zap,
            refused,
        },
        Outbox {
            socket: Arc::new(Mutex::new(push)),
        },
        rx,
    ))
}

/// The next message on the ROUTER, if one is waiting, with the key its
/// connection authenticated with (`curve`: the `User-Id` property, which
/// the frames that came off the wire carry; the routing-id frame the
/// ROUTER prepends does not).
fn recv(router: &zmq::Socket, curve: bool) -> Option<(Vec<Vec<u8>>, Option<CurveKey>)> {
    let mut frames = vec![router.recv_bytes(zmq::DONTWAIT).ok()?];
    let mut key = None;
    while router.get_rcvmore().unwrap_or(false) {
        let mut frame = zmq::Message::new();
        if router.recv(&mut frame, 0).is_err() {
            break;
        }
        if curve && frames.len() == 1 {
            key = frame
                .gets("User-Id")
                .and_then(|id| CurveKey::from_z85(id).ok());
        }
        frames.push(frame.to_vec());
    }
    Some((frames, key))
}

fn io_loop(
    router: zmq::Socket,
    outbox: zmq::Socket,
    framing: Framing,
    curve: bool,
    inbound: mpsc::UnboundedSender<Inbound>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let mut items = [
            router.as_poll_item(zmq::POLLIN),
            outbox.as_poll_item(zmq::POLLIN),
        ];
        if let Err(e) = zmq::poll(&mut items, 100) {
            tracing::warn!("poll failed: {e}");
            continue;
        }
        let (router_ready, outbox_ready) = (items[0].is_readable(), items[1].is_readable());
        if router_ready {
            // Drain what is there, without blocking.
            while let Some((mut frames, key)) = recv(&router, curve) {
                if curve && key.is_none() && frames.len() > 1 {
                    // Cannot happen: the ZAP handler names every key it lets in.
                    tracing::warn!("dropped a message without an authenticated key");
                    continue;
                }
                let Some(route_len) = route_len(&frames, framing) else {
                    let peer = frames.first().map(|id| hex_id(id)).unwrap_or_default();
                    tracing::warn!(peer = %peer, "dropped a message without a REQ envelope");
                    continue;
                };
                let rest = frames.split_off(route_len);
                let route = frames;
                match WorkerMessage::decode(&rest) {
                    Ok(message) => {
                        let from = route[0].clone();
                        if inbound
                            .send(Inbound {
                                from,
                                route,
                                message,
                                key,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(peer = %hex_id(&route[0]), "dropped a malformed message: {e}");
                        if framing == Framing::Request {
                            let mut answer = route;
                            answer.extend(
                                DispatcherMessage::Error {
                                    message: e.to_string(),
                                }
                                .encode(),
                            );
                            let _ = router.send_multipart(answer, zmq::DONTWAIT);
                        }
                    }
                }
            }
        }
        if outbox_ready {
            while let Ok(frames) = outbox.recv_multipart(zmq::DONTWAIT) {
                if let Err(e) = router.send_multipart(frames, zmq::DONTWAIT) {
                    // EHOSTUNREACH: the worker is gone; its heartbeats stop and
                    // its tasks are re-queued by the scheduler.
                    tracing::debug!("cannot send to a worker: {e}");
                }
            }
        }
    }
}

/// How many leading frames are the route: the routing id, plus for
/// `Request` framing the envelope through the first empty frame. `None`
/// if there is no such envelope.
fn route_len(frames: &[Vec<u8>], framing: Framing) -> Option<usize> {
    if frames.is_empty() {
        return None;
    }
    match framing {
        Framing::Push => Some(1),
        Framing::Request => frames
            .iter()
            .skip(1)
            .take(MAX_ENVELOPE + 1)
            .position(Vec::is_empty)
            .map(|at| at + 2),
    }
}

/// A routing id for logs.
pub fn hex_id(id: &[u8]) -> String {
    match std::str::from_utf8(id) {
        Ok(text) if text.chars().all(|c| c.is_ascii_graphic()) => text.to_string(),
        _ => id.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_runs_through_the_req_delimiter() {
        let f = |v: &[&[u8]]| v.iter().map(|x| x.to_vec()).collect::<Vec<_>>();
        assert_eq!(route_len(&f(&[b"id", b"faas/1"]), Framing::Push), Some(1));
        assert_eq!(
            route_len(&f(&[b"id", b"", b"faas/1"]), Framing::Request),
            Some(2)
        );
        assert_eq!(
            route_len(&f(&[b"id", b"x", b"", b"faas/1"]), Framing::Request),
            Some(3)
        );
        assert_eq!(
            route_len(&f(&[b"id", b"faas/1", b"PULL"]), Framing::Request),
            None
        );
        assert_eq!(route_len(&[], Framing::Request), None);
    }
}

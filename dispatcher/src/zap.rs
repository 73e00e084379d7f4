//! CURVE on the worker port: the dispatcher's key pair and the allow-list
//! of worker keys (`CurveServer`), and the ZAP handler (ZeroMQ RFC 27)
//! that libzmq asks, during each CURVE handshake, whether a worker's
//! public key may connect.
//!
//! The handler is a thread with a REP socket bound to
//! `inproc://zeromq.zap.01` in the ROUTER's context. It answers 200 (with
//! the key in Z85 as the connection's `User-Id`) for allowed keys and 400
//! for the rest; libzmq then closes a refused connection before it is
//! attached to the ROUTER, so a refused peer gets no message through and
//! costs one handshake. The ROUTER sets `ZMQ_ZAP_ENFORCE_DOMAIN`, so if
//! the handler were gone libzmq would refuse every worker, not accept them.

use faas_protocol::curve::{CurveKey, KeyPair};
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The ZAP endpoint libzmq connects to (fixed by RFC 27).
const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";
/// The ZAP domain the ROUTER announces.
pub(crate) const ZAP_DOMAIN: &str = "faas";
/// At most one log line about refused keys per this interval.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The worker keys a dispatcher accepts. Shared: the `faas` binary may
/// replace the set while the dispatcher runs (it re-reads the file when it
/// changes), and new connections see the new set at once.
#[derive(Clone, Default)]
pub struct AllowList(Arc<RwLock<HashSet<CurveKey>>>);

impl AllowList {
    pub fn new(keys: HashSet<CurveKey>) -> Self {
        AllowList(Arc::new(RwLock::new(keys)))
    }

    /// Replaces the keys (connections already made stay).
    pub fn replace(&self, keys: HashSet<CurveKey>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = keys;
    }

    pub fn contains(&self, key: &CurveKey) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }

    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AllowList({} keys)", self.len())
    }
}

/// CURVE settings of a push or pull dispatcher: its key pair (workers need
/// the public half) and the worker keys it accepts.
#[derive(Clone, Debug)]
pub struct CurveServer {
    pub keys: KeyPair,
    pub allowed: AllowList,
}

/// The running ZAP handler; stops when dropped.
pub(crate) struct Zap {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Zap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds the ZAP handler in `context` (before the ROUTER binds, so no
/// handshake goes unchecked) and starts its thread. `refused` counts the
/// connections it turned away.
pub(crate) fn start(
    context: &zmq::Context,
    allowed: AllowList,
    refused: Arc<AtomicU64>,
) -> Result<Zap, zmq::Error> {
    let socket = context.socket(zmq::REP)?;
    socket.set_linger(0)?;
    socket.bind(ZAP_ENDPOINT)?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("faas-zap".into())
            .spawn(move || serve(socket, allowed, refused, stop))
            .map_err(|_| zmq::Error::EMFILE)?
    };
    Ok(Zap {
        stop,
        thread: Some(thread),
    })
}

fn serve(socket: zmq::Socket, allowed: AllowList, refused: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let mut log = RefusalLog::default();
    while !stop.load(Ordering::Relaxed) {
        match socket.poll(zmq::POLLIN, 100) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(zmq::Error::EINTR) => continue,
            Err(e) => {
                tracing::warn!("ZAP handler: poll failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        }
        let request = match socket.recv_multipart(zmq::DONTWAIT) {
            Ok(frames) => frames,
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => continue,
            Err(e) => {
                tracing::warn!("ZAP handler: cannot receive: {e}");
                continue;
            }
        };
        let decision = decide(&request, &allowed);
        if let Decision::Refuse { ref why } = decision {
            let total = refused.fetch_add(1, Ordering::Relaxed) + 1;
            let address = request
                .get(3)
                .map(|a| String::from_utf8_lossy(a).into_owned());
            log.refused(total, address.as_deref().unwrap_or("?"), why);
        }
        let request_id = request.get(1).cloned().unwrap_or_default();
        if let Err(e) = socket.send_multipart(decision.reply(request_id), 0) {
            tracing::warn!("ZAP handler: cannot answer: {e}");
        }
    }
}

enum Decision {
    Allow(CurveKey),
    Refuse { why: String },
}

impl Decision {
    /// The ZAP reply: version, request id, status code and text, user id,
    /// metadata.
    fn reply(self, request_id: Vec<u8>) -> Vec<Vec<u8>> {
        let (code, text, user) = match self {
            Decision::Allow(key) => ("200", "OK".to_string(), key.to_z85()),
            Decision::Refuse { why } => ("400", why, String::new()),
        };
        vec![
            b"1.0".to_vec(),
            request_id,
            code.as_bytes().to_vec(),
            text.into_bytes(),
            user.into_bytes(),
            Vec::new(),
        ]
    }
}

/// A ZAP request is: version, request id, domain, address, routing id,
/// mechanism, credentials (for CURVE: the client's 32-byte public key).
fn decide(request: &[Vec<u8>], allowed: &AllowList) -> Decision {
    let refuse = |why: &str| Decision::Refuse { why: why.into() };
    if request.len() < 6 || request[0] != b"1.0" {
        return refuse("malformed ZAP request");
    }
    if request[5] != b"CURVE" {
        return refuse("only CURVE is accepted");
    }
    let Some(Ok(key)) = request.get(6).map(|k| <[u8; 32]>::try_from(k.as_slice())) else {
        return refuse("no CURVE key");
    };
    let key = CurveKey(key);
    if allowed.contains(&key) {
        Decision::Allow(key)
    } else {
        Decision::Refuse {
            why: format!("key {key} is not allowed"),
        }
    }
}

/// Logs refusals: the first at once, then at most one line per
/// [`LOG_EVERY`] saying how many there were.
#[derive(Default)]
struct RefusalLog {
    last: Option<Instant>,
    since: u64,
}

impl RefusalLog {
    fn refused(&mut self, total: u64, address: &str, why: &str) {
        self.since += 1;
        if self.last.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return;
        }
        tracing::warn!(
            "refused a worker connection from {address}: {why} (add its public key to the \
             dispatcher's allow-list to accept it); {} refused since the last such line, {total} in all",
            self.since
        );
        self.last = Some(Instant::now());
        self.since = 0;
    }
}

/// Turns on `ZMQ_ZAP_ENFORCE_DOMAIN` (option 93, not wrapped by the `zmq`
/// crate): without a ZAP handler, refuse instead of letting every CURVE
/// client in.
pub(crate) fn enforce(socket: &mut zmq::Socket) -> Result<(), zmq::Error> {
    const ZMQ_ZAP_ENFORCE_DOMAIN: std::os::raw::c_int = 93;
    let on: std::os::raw::c_int = 1;
    // SAFETY: a live socket, and an int option with its size.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            ZMQ_ZAP_ENFORCE_DOMAIN,
            (&on as *const std::os::raw::c_int).cast(),
            std::mem::size_of::<std::os::raw::c_int>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: reads this thread's errno.
        Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mechanism: &[u8], key: &[u8]) -> Vec<Vec<u8>> {
        [
            &b"1.0"[..],
            b"7",
            b"faas",
            b"127.0.0.1",
            b"w1",
            mechanism,
            key,
        ]
        .iter()
        .map(|f| f.to_vec())
        .collect()
    }

    #[test]
    fn only_allowed_curve_keys_pass() {
        let good = KeyPair::generate().expect("keys").public;
        let bad = KeyPair::generate().expect("keys").public;
        let allowed = AllowList::new([good].into_iter().collect());
        assert!(
            matches!(decide(&request(b"CURVE", &good.0), &allowed), Decision::Allow(k) if k == good)
        );
        for refused in [
            request(b"CURVE", &bad.0),
            request(b"NULL", &good.0),
            request(b"CURVE", b"short"),
            vec![b"1.0".to_vec()],
            request(b"CURVE", &good.0)[..6].to_vec(),
        ] {
            assert!(matches!(
                decide(&refused, &allowed),
                Decision::Refuse { .. }
            ));
        }
        let reply = decide(&request(b"CURVE", &good.0), &allowed).reply(b"7".to_vec());
        assert_eq!(reply[2], b"200");
        assert_eq!(reply[4], good.to_z85().into_bytes());
        allowed.replace(HashSet::new());
        assert!(matches!(
            decide(&request(b"CURVE", &good.0), &allowed),
            Decision::Refuse { .. }
        ));
    }
}

//! Hostile peers on the push and pull dispatchers' ports: garbage bytes,
//! malformed faas/1 messages, and a peer that completes the ZMTP handshake
//! and then announces a 2^40-byte frame. The dispatcher must drop them and
//! keep serving well-behaved workers. Each runs against a dispatcher with
//! CURVE (the default: a plain peer fails the handshake, and the malformed
//! messages come from an allowed worker) and one with `--no-curve`.

use faas_e2e::{free_port, test_config_dir, Daemon, RedisServer};
use faas_protocol::{DispatcherMessage, PullRequest, WorkerMessage};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A socket of `kind` with the CURVE keys of the worker the dispatcher
/// allowed in the test's credentials directory (when `curve`).
fn socket(ctx: &zmq::Context, kind: zmq::SocketType, curve: bool) -> zmq::Socket {
    let socket = ctx.socket(kind).expect("socket");
    socket.set_linger(0).expect("linger");
    if curve {
        let dir = test_config_dir();
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("a key file");
        let server = faas_protocol::curve::parse_public(&read("dispatcher.pub")).expect("key");
        let pair = faas_protocol::curve::KeyPair::parse(&read("worker.key")).expect("pair");
        socket.set_curve_serverkey(&server.0).expect("server key");
        socket
            .set_curve_publickey(&pair.public.0)
            .expect("public key");
        socket
            .set_curve_secretkey(&pair.secret.0)
            .expect("secret key");
    }
    socket
}

/// A well-behaved worker's first exchange: REGISTER answered by WELCOME
/// (push), or a PULL from a REQ socket answered by TASKS (pull).
fn expect_service(mode: &str, curve: bool, port: u16) {
    if mode == "pull" {
        let frames = req_exchange(port, curve, WorkerMessage::Pull(pull_probe()).encode());
        assert!(
            matches!(
                DispatcherMessage::decode(&frames),
                Ok(DispatcherMessage::Tasks(_))
            ),
            "expected TASKS, got {frames:?}"
        );
        return;
    }
    let ctx = zmq::Context::new();
    let dealer = socket(&ctx, zmq::DEALER, curve);
    dealer.set_rcvtimeo(5000).expect("timeout");
    dealer
        .connect(&format!("tcp://127.0.0.1:{port}"))
        .expect("connect");
    let register = WorkerMessage::Register {
        worker: "probe".into(),
        slots: 1,
        running: vec![],
        batch: false,
    };
    dealer.send_multipart(register.encode(), 0).expect("send");
    let frames = dealer.recv_multipart(0).expect("the dispatcher answers");
    assert!(
        matches!(
            DispatcherMessage::decode(&frames),
            Ok(DispatcherMessage::Welcome { .. })
        ),
        "expected WELCOME, got {frames:?}"
    );
}

/// ZMTP 3.0 greeting (NULL mechanism, client side) and READY for a DEALER.
/// A CURVE server drops the connection instead: an error then.
fn zmtp_handshake(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut greeting = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0];
    let mut mechanism = b"NULL".to_vec();
    mechanism.resize(20, 0);
    greeting.extend(mechanism);
    greeting.push(0); // as-server: no
    greeting.extend([0u8; 31]);
    assert_eq!(greeting.len(), 64);
    stream.write_all(&greeting)?;

    // READY command: name, then metadata "Socket-Type" = "DEALER".
    let mut body = vec![5];
    body.extend(b"READY");
    body.push(11);
    body.extend(b"Socket-Type");
    body.extend(6u32.to_be_bytes());
    body.extend(b"DEALER");
    let mut ready = vec![0x04, body.len() as u8];
    ready.extend(body);
    stream.write_all(&ready)?;

    // Read the server's greeting and READY so the handshake is complete.
    let mut theirs = [0u8; 64];
    stream.read_exact(&mut theirs)?;
    assert_eq!(theirs[0], 0xFF, "not a ZMTP peer");
    Ok(())
}

fn pull_probe() -> PullRequest {
    PullRequest {
        worker: "probe".into(),
        ..PullRequest::default()
    }
}

/// One request and its answer over a fresh REQ socket.
fn req_exchange(port: u16, curve: bool, frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let ctx = zmq::Context::new();
    let req = socket(&ctx, zmq::REQ, curve);
    req.set_rcvtimeo(5000).expect("timeout");
    req.connect(&format!("tcp://127.0.0.1:{port}"))
        .expect("connect");
    req.send_multipart(frames, 0).expect("send");
    req.recv_multipart(0).expect("the dispatcher answers")
}

fn start_dispatcher(mode: &str, curve: bool, redis: &RedisServer, port: u16) -> Daemon {
    let port = port.to_string();
    let url = redis.url();
    let mut args = vec!["dispatcher", "--redis", &url, "-m", mode, "-p", &port];
    if !curve {
        args.push("--no-curve");
    }
    Daemon::start(&args, "dispatcher ready")
}

#[test]
fn push_a_frame_header_claiming_2_pow_40_bytes_drops_that_peer_only() {
    a_frame_header_claiming_2_pow_40_bytes_drops_that_peer_only("push", true);
    a_frame_header_claiming_2_pow_40_bytes_drops_that_peer_only("push", false);
}

#[test]
fn pull_a_frame_header_claiming_2_pow_40_bytes_drops_that_peer_only() {
    a_frame_header_claiming_2_pow_40_bytes_drops_that_peer_only("pull", true);
    a_frame_header_claiming_2_pow_40_bytes_drops_that_peer_only("pull", false);
}

#[test]
fn push_garbage_and_malformed_messages_do_not_stop_the_dispatcher() {
    garbage_and_malformed_messages_do_not_stop_the_dispatcher("push", true);
    garbage_and_malformed_messages_do_not_stop_the_dispatcher("push", false);
}

#[test]
fn pull_garbage_and_malformed_messages_do_not_stop_the_dispatcher() {
    garbage_and_malformed_messages_do_not_stop_the_dispatcher("pull", true);
    garbage_and_malformed_messages_do_not_stop_the_dispatcher("pull", false);
}

fn a_frame_header_claiming_2_pow_40_bytes_drops_that_peer_only(mode: &str, curve: bool) {
    let redis = RedisServer::start();
    let port = free_port();
    let mut dispatcher = start_dispatcher(mode, curve, &redis, port);

    let mut attacker = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    attacker
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let handshake = zmtp_handshake(&mut attacker);
    assert!(
        curve || handshake.is_ok(),
        "plain ZMTP handshake failed: {handshake:?}"
    );
    // A long message frame (flags 0x02) announcing 2^40 bytes, then a trickle.
    let mut frame = vec![0x02];
    frame.extend((1u64 << 40).to_be_bytes());
    frame.extend([0u8; 1024]);
    let _ = attacker.write_all(&frame);

    // libzmq closes the connection instead of allocating a terabyte (with
    // CURVE, already at the NULL greeting).
    let mut sink = Vec::new();
    let closed = match attacker.read_to_end(&mut sink) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    assert!(closed, "the dispatcher kept the hostile connection open");

    expect_service(mode, curve, port);
    assert!(
        dispatcher.wait_exit(Duration::from_millis(200)).is_none(),
        "the dispatcher died"
    );
}

fn garbage_and_malformed_messages_do_not_stop_the_dispatcher(mode: &str, curve: bool) {
    let redis = RedisServer::start();
    let port = free_port();
    let mut dispatcher = start_dispatcher(mode, curve, &redis, port);

    // Raw garbage that is not ZMTP at all.
    for garbage in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0u8; 4096][..],
        &[0xFFu8; 64][..],
    ] {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(garbage);
        }
    }

    // Well-framed ZeroMQ messages that are not valid faas/1 (with CURVE,
    // from an allowed worker).
    let ctx = zmq::Context::new();
    let dealer = socket(&ctx, zmq::DEALER, curve);
    dealer
        .connect(&format!("tcp://127.0.0.1:{port}"))
        .expect("connect");
    let bad: Vec<Vec<Vec<u8>>> = vec![
        vec![b"hello".to_vec()],
        vec![
            b"faas/1".to_vec(),
            b"REGISTER".to_vec(),
            b"{not json".to_vec(),
        ],
        vec![b"faas/1".to_vec(), b"RESULT".to_vec(), b"{}".to_vec()],
        vec![b"faas/1".to_vec(), b"NO_SUCH_TYPE".to_vec(), b"{}".to_vec()],
        vec![b"faas/9".to_vec(), b"HEARTBEAT".to_vec(), b"{}".to_vec()],
        vec![vec![0xff; 100_000]],
    ];
    for frames in &bad {
        // In pull mode these lack the REQ envelope: dropped unanswered.
        dealer.send_multipart(frames, 0).expect("send");
    }
    if mode == "push" {
        // An unregistered sender's heartbeat is answered with REREGISTER.
        dealer
            .send_multipart(WorkerMessage::Heartbeat { running: 0 }.encode(), 0)
            .expect("send");
        dealer.set_rcvtimeo(5000).expect("timeout");
        let frames = dealer.recv_multipart(0).expect("an answer");
        assert_eq!(
            DispatcherMessage::decode(&frames),
            Ok(DispatcherMessage::Reregister)
        );
    } else {
        // With the envelope, a REQ peer gets ERROR for each, not silence.
        let mut wrong_mode = WorkerMessage::Heartbeat { running: 0 }.encode();
        let mut empty_worker = WorkerMessage::Pull(pull_probe()).encode();
        empty_worker[2] = br#"{"worker": ""}"#.to_vec();
        for frames in bad.into_iter().chain([
            std::mem::take(&mut wrong_mode),
            std::mem::take(&mut empty_worker),
        ]) {
            let answer = req_exchange(port, curve, frames);
            assert!(
                matches!(
                    DispatcherMessage::decode(&answer),
                    Ok(DispatcherMessage::Error { .. })
                ),
                "expected ERROR, got {answer:?}"
            );
        }
    }

    expect_service(mode, curve, port);
    assert!(
        dispatcher.wait_exit(Duration::from_millis(200)).is_none(),
        "the dispatcher died"
    );
    let log = dispatcher.drain().join("\n");
    assert!(
        log.contains("dropped a malformed message"),
        "nothing logged:\n{log}"
    );
}

//! The server's limits over real sockets (router + `serve` on port 0, in
//! process): requests in flight beyond the cap get 503 with the API's JSON
//! error and `Retry-After`, a trickled body gets 408, connections beyond the
//! cap wait until one closes, a body is parsed once with the same statuses,
//! and HTTPS: a handshake that never comes is dropped, plain HTTP on the
//! HTTPS port gets a 400 saying so, and a client trusting the CA is served.

use faas_runtime::{Runtime, RuntimeConfig};
use faas_server::{router, serve, AppState, ServerConfig};
use faas_store::{Store, StoreConfig};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A server on a free port, stopped on drop.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The server with `config`, without API keys (these tests are about the
/// limits every request meets, keys or not).
async fn start(config: ServerConfig) -> Server {
    let config = ServerConfig {
        auth: false,
        ..config
    };
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_instances: 2,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let store = Store::memory(StoreConfig::default());
    let state = AppState::new(store, runtime, config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let app = router(state.clone());
        let _ = serve(listener, app, &state.config, async {
            let _ = rx.await;
        })
        .await;
    });
    Server {
        addr,
        stop: Some(tx),
    }
}

/// An answer read off a raw connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Value,
}

/// Reads one HTTP/1.1 answer (with a content-length) from `conn`.
async fn read_answer(conn: &mut (impl AsyncReadExt + Unpin)) -> Answer {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let body =
                    serde_json::from_slice(&data[end + 4..end + 4 + length]).unwrap_or(Value::Null);
                return Answer { status, head, body };
            }
        }
        let n = conn.read(&mut buf).await.expect("read");
        assert!(
            n > 0,
            "connection closed mid-answer: {:?}",
            String::from_utf8_lossy(&data)
        );
        data.extend_from_slice(&buf[..n]);
    }
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.expect("write");
    read_answer(&mut conn).await
}

/// A POST that sends its headers and `sent` bytes of a body of `length`.
async fn partial_post(addr: SocketAddr, path: &str, length: usize, sent: &[u8]) -> TcpStream {
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let head = format!("POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {length}\r\n\r\n");
    conn.write_all(head.as_bytes()).await.expect("write");
    conn.write_all(sent).await.expect("write");
    conn
}

/// Asks `GET path` until `pred` holds for the answer, up to 10 s.
async fn until(addr: SocketAddr, path: &str, pred: impl Fn(&Answer) -> bool) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = get(addr, path).await;
        if pred(&answer) {
            return answer;
        }
        assert!(Instant::now() < deadline, "last answer: {answer:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn requests_beyond_the_in_flight_cap_get_503_json_at_once() {
    let server = start(ServerConfig {
        max_in_flight: 2,
        ..ServerConfig::default()
    })
    .await;
    // Two requests held: each waits for the rest of its body.
    let held = [
        partial_post(server.addr, "/execute_function", 100, b"{").await,
        partial_post(server.addr, "/execute_function", 100, b"{").await,
    ];
    let refused = until(server.addr, "/health", |a| a.status == 503).await;
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("maximum of 2 requests"), "{refused:?}");
    assert!(refused.head.contains("retry-after: 1"), "{refused:?}");
    assert!(refused.head.contains("application/json"), "{refused:?}");
    // Their clients leave: the slots free up.
    drop(held);
    until(server.addr, "/health", |a| a.status == 200).await;
}

#[tokio::test]
async fn a_trickled_body_gets_408() {
    let server = start(ServerConfig {
        body_read_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    })
    .await;
    let conn = partial_post(server.addr, "/execute_function", 1000, b"{\"function_id\"").await;
    let started = Instant::now();
    let (mut reader, mut writer) = conn.into_split();
    // One byte every 100 ms: the connection is never idle, the body never done.
    let trickle = tokio::spawn(async move {
        for _ in 0..900 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b" ").await.is_err() {
                break; // the server answered and closed
            }
        }
    });
    let answer = read_answer(&mut reader).await;
    trickle.abort();
    assert_eq!(answer.status, 408, "{answer:?}");
    let detail = answer.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("did not arrive within 1 s"), "{answer:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_one_to_close() {
    let server = start(ServerConfig {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(60),
        ..ServerConfig::default()
    })
    .await;
    // Two idle connections take both slots (accepted in connection order).
    let first = TcpStream::connect(server.addr).await.expect("connect");
    let _second = TcpStream::connect(server.addr).await.expect("connect");
    let mut third = TcpStream::connect(server.addr).await.expect("connect");
    third
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let early = tokio::time::timeout(Duration::from_secs(1), read_answer(&mut third)).await;
    assert!(early.is_err(), "served beyond the cap: {early:?}");
    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(10), read_answer(&mut third))
        .await
        .expect("served once a slot freed");
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn bodies_keep_their_statuses_parsed_once() {
    let server = start(ServerConfig::default()).await;
    let addr = server.addr;
    let post = |body: &'static str| async move {
        let mut conn = partial_post(addr, "/execute_function", body.len(), body.as_bytes()).await;
        read_answer(&mut conn).await
    };
    // Malformed: 400, also when a field before the break has the wrong type.
    for body in ["{\"function_id\": ", "{\"function_id\": 5, ", "[1, 2"] {
        let answer = post(body).await;
        assert_eq!(answer.status, 400, "{body}: {answer:?}");
        let detail = answer.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with("invalid JSON in request body"),
            "{answer:?}"
        );
    }
    // Well-formed but the wrong shape: 422.
    for body in [
        "{\"payload\": [1]}",
        "{\"function_id\": 5, \"payload\": []}",
        "[1, 2]",
    ] {
        let answer = post(body).await;
        assert_eq!(answer.status, 422, "{body}: {answer:?}");
        let detail = answer.body["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("invalid request body"), "{answer:?}");
    }
}

mod tls {
    use super::*;
    use faas_e2e::TestCerts;

    async fn start_tls(certs: &TestCerts) -> Server {
        let tls = faas_server::tls_config(&certs.cert, &certs.key).expect("TLS config");
        start(ServerConfig {
            tls: Some(tls),
            tls_handshake_timeout: Duration::from_secs(1),
            ..ServerConfig::default()
        })
        .await
    }

    #[tokio::test]
    async fn a_client_trusting_the_ca_is_served_over_https() {
        faas_e2e::install_crypto_provider();
        let certs = TestCerts::generate();
        let server = start_tls(&certs).await;
        let ca = std::fs::read(&certs.ca).expect("CA");
        let client = reqwest::Client::builder()
            .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca).expect("PEM"))
            .build()
            .expect("client");
        let url = format!("https://127.0.0.1:{}/health", server.addr.port());
        let answer = client.get(&url).send().await.expect("served");
        assert_eq!(answer.status(), 200);
        // Without the CA the certificate is not trusted.
        let stranger = reqwest::Client::builder().build().expect("client");
        let err = stranger.get(&url).send().await.expect_err("untrusted");
        assert!(err.is_connect() || err.is_request(), "{err:?}");
    }

    #[tokio::test]
    async fn plain_http_on_the_https_port_gets_a_400_saying_so() {
        let certs = TestCerts::generate();
        let server = start_tls(&certs).await;
        let answer = get(server.addr, "/health").await;
        assert_eq!(answer.status, 400, "{answer:?}");
        let detail = answer.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("https://"), "{answer:?}");
    }

    #[tokio::test]
    async fn a_handshake_that_never_comes_is_dropped() {
        let certs = TestCerts::generate();
        let server = start_tls(&certs).await;
        let mut silent = TcpStream::connect(server.addr).await.expect("connect");
        let mut buf = [0u8; 16];
        let closed = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf))
            .await
            .expect("closed by the server within 10 s");
        assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    }

    #[test]
    fn missing_or_mismatched_files_are_clear_errors() {
        let certs = TestCerts::generate();
        let missing = certs.cert.with_file_name("nope.pem");
        let err = faas_server::tls_config(&missing, &certs.key).expect_err("missing");
        assert!(err.to_string().contains("nope.pem"), "{err}");
        let err = faas_server::tls_config(&certs.key, &certs.key).expect_err("no cert");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        let err = faas_server::tls_config(&certs.cert, &certs.cert).expect_err("no key");
        assert!(err.to_string().contains("no PEM private key"), "{err}");
        let err = faas_server::tls_config(&certs.cert, &certs.other_key).expect_err("mismatch");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}

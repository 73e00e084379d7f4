//! The accept loop: HTTP/1.1, or HTTPS when the config has a certificate,
//! with the limits that keep slow or numerous clients from holding the
//! server: a header-read timeout (axum::serve sets none), a TLS handshake
//! timeout, a cap on open connections and one on requests in flight, and
//! graceful shutdown that lets in-flight requests finish.
//!
//! Connections beyond the cap are not accepted until one closes: they wait
//! in the kernel's listen backlog, cost no file descriptor and no work here,
//! and are served in order as others close (idle keep-alive connections
//! close after the header-read timeout). Requests beyond the in-flight cap
//! are answered 503 at once, never queued.

use crate::error::ApiError;
use crate::ServerConfig;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// Serves `app` on `listener` until `shutdown` resolves, then waits up to
/// 5 s for open requests (long polls included) to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(connection_cap(config.max_connections)));
    let admit = Admit {
        app,
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        max_in_flight: config.max_in_flight.max(1),
    };
    let tls = config.tls.clone().map(TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        // A connection slot first, then the connection: at the cap, nothing
        // is accepted (and nothing spins) until a connection closes.
        let next = async {
            let permit = connections.clone().acquire_owned().await;
            (permit, listener.accept().await)
        };
        let (permit, accepted) = tokio::select! {
            next = next => next,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else {
            break; // the semaphore is never closed
        };
        let (stream, _peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!("accept failed: {e}");
                drop(permit);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let http = http1_builder(config);
        let service = admit.clone();
        match &tls {
            None => {
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection ended with an error: {e}");
                    }
                    drop(permit);
                });
            }
            Some(acceptor) => {
                // The handshake runs in the connection's own task, under a
                // time limit, so a client that never finishes it holds
                // nothing but its connection slot, and not for long.
                tokio::spawn(serve_tls(
                    acceptor.clone(),
                    stream,
                    config.tls_handshake_timeout,
                    http,
                    service,
                    graceful.watcher(),
                    permit,
                ));
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after 5 s; closing them");
    }
    Ok(())
}

/// Descriptors kept free for everything but client connections (Redis,
/// modules, logs, the listener).
const FD_RESERVE: usize = 128;

/// `max` lowered to what the process' open-file limit allows, so the cap,
/// not `accept` failing with EMFILE, is what holds connections back.
fn connection_cap(max: usize) -> usize {
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| soft_open_files(&text));
    match limit {
        Some(limit) if limit.saturating_sub(FD_RESERVE) < max => {
            let cap = limit.saturating_sub(FD_RESERVE).max(16);
            tracing::info!(
                "at most {cap} connections: the open-file limit is {limit} (raise it with `ulimit -n` for up to {max})"
            );
            cap
        }
        _ => max.max(1),
    }
}

/// The soft "Max open files" of a `/proc/self/limits` text.
fn soft_open_files(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn http1_builder(config: &ServerConfig) -> http1::Builder {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    http
}

/// One HTTPS connection: handshake (within `timeout`), then HTTP/1.1.
async fn serve_tls(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
    http: http1::Builder,
    service: Admit,
    watcher: Watcher,
    _permit: OwnedSemaphorePermit,
) {
    let handshake = async {
        if speaks_plain_http(&stream).await {
            refuse_plain_http(stream).await;
            return None;
        }
        match acceptor.accept(stream).await {
            Ok(stream) => Some(stream),
            Err(e) => {
                tracing::debug!("TLS handshake failed: {e}");
                None
            }
        }
    };
    let Ok(Some(stream)) = tokio::time::timeout(timeout, handshake).await else {
        return;
    };
    let conn = watcher.watch(http.serve_connection(TokioIo::new(stream), service));
    if let Err(e) = conn.await {
        tracing::debug!("connection ended with an error: {e}");
    }
}

/// True if the client's first byte starts an HTTP request (a method's
/// capital letter) rather than a TLS record (0x16, a handshake).
async fn speaks_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}

/// Answers a plain HTTP request sent to the HTTPS port with a 400 in the
/// API's error format, so `curl http://` and the CLI say what is wrong
/// instead of reporting a reset connection.
async fn refuse_plain_http(mut stream: TcpStream) {
    const BODY: &str = r#"{"detail":"this server speaks HTTPS only: use an https:// URL (and --cacert if its certificate is not publicly trusted)"}"#;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    if stream.write_all(answer.as_bytes()).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    // Read what the client sent (up to a bound) before closing: closing
    // with unread input makes the kernel send a reset, which could
    // destroy the answer before the client reads it.
    let mut sink = [0u8; 4096];
    let mut left: usize = 64 * 1024;
    while left > 0 {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// The router behind the in-flight cap: a request that finds every slot
/// taken is answered 503 at once.
#[derive(Clone)]
struct Admit {
    app: Router,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
}

type AdmitFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Admit {
    type Response = Response;
    type Error = Infallible;
    type Future = AdmitFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        match self.in_flight.clone().try_acquire_owned() {
            Ok(permit) => {
                // Router is always ready, and a clone is an Arc's.
                let answer = self.app.clone().call(req);
                Box::pin(async move {
                    let answer = answer.await;
                    drop(permit);
                    answer
                })
            }
            Err(_) => Box::pin(std::future::ready(Ok(overloaded(self.max_in_flight)))),
        }
    }
}

fn overloaded(max: usize) -> Response {
    let mut response = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the server is handling its maximum of {max} requests at once; retry shortly"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::soft_open_files;

    #[test]
    fn the_soft_open_file_limit_is_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(soft_open_files(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(soft_open_files(unlimited), None);
        assert_eq!(soft_open_files(""), None);
    }
}

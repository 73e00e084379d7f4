//! Async HTTP client for the faas REST API: register functions, queue tasks, read status and results, list functions and tasks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// The server a client talks to when nothing says otherwise (`faas up`'s address).
pub const DEFAULT_URL: &str = "http://127.0.0.1:8000";

/// Longest single long poll `wait_result` asks for; the server may cut it shorter.
pub const LONG_POLL_MAX: Duration = Duration::from_secs(30);

/// Time limit of an ordinary request (a 16 MiB upload plus a 10 s compile fits).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How much longer than its `wait` a long-poll request may take before we give up on it.
const WAIT_MARGIN: Duration = Duration::from_secs(15);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

use crate::error::{
    error_detail, error_payload_index, root_cause, tls_failure, truncate_chars, MAX_DETAIL_CHARS,
};
use crate::ClientError;
use faas_contract::{
    BatchRequest, BatchResponse, CancelRequest, CreateKeyRequest, ExecuteRequest, ExecuteResponse,
    FunctionList, KeyList, RegisterRequest, RegisterResponse, ResultList, ResultsRequest,
    StatusResponse, TaskList, WorkerList,
};
use faas_contract::{
    CancelList, Function, FunctionDeleted, FunctionRow as FunctionInfo, KeyRow, LimitOverrides,
    NewKey, ResultRow, Revoked, Stats, Task, TaskLogs, TaskResult, TaskRow as TaskInfo, TaskStatus,
    TenantInfo, WorkerRow, MAX_BATCH,
};

/// How a [`Client`] authenticates and whom it trusts, beyond the URL.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Sent as `Authorization: Bearer <token>` with every request.
    pub token: Option<String>,
    /// A PEM file of CA certificates (one, or a bundle) trusted for
    /// `https://` besides the system's roots: for a server whose
    /// certificate a private CA signed, or a self-signed one.
    pub ca_cert: Option<PathBuf>,
}

/// A connection to one faas server. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8000`)
    /// with no token and the system's CA roots. Trailing slashes are ignored.
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        Self::with_options(base_url, &ClientOptions::default())
    }

    /// A client for the server at `base_url` (`http://` or `https://`) with
    /// `options`: a token sent with every request, a CA to trust.
    pub fn with_options(base_url: &str, options: &ClientOptions) -> Result<Client, ClientError> {
        let base_url = normalize_base_url(base_url)?;
        install_crypto_provider();
        // Request time limits are set per request (long polls need longer ones).
        let mut builder = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
        if let Some(path) = &options.ca_cert {
            builder = builder.tls_certs_merge(read_ca_certs(path)?);
        }
        if let Some(token) = &options.token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| {
                    ClientError::Token("it must be printable ASCII without line breaks".into())
                })?;
            value.set_sensitive(true);
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, value);
            builder = builder.default_headers(headers);
        }
        let http = builder.build().map_err(|error| ClientError::InvalidUrl {
            url: base_url.clone(),
            reason: format!("cannot build an HTTP client: {}", root_cause(&error)),
        })?;
        Ok(Client { base_url, http })
    }

    /// A client configured as the `faas` command is: the server of
    /// `FAAS_URL` (else [`DEFAULT_URL`]), the key of `FAAS_TOKEN` (else the
    /// one saved for that URL in the [`credentials`](crate::credentials)
    /// file), and the CA of `FAAS_CACERT` if set.
    pub fn from_env() -> Result<Client, ClientError> {
        let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let url = set("FAAS_URL").unwrap_or_else(|| DEFAULT_URL.to_owned());
        let options = ClientOptions {
            token: set("FAAS_TOKEN").or_else(|| crate::credentials::token_for(&url)),
            ca_cert: set("FAAS_CACERT").map(PathBuf::from),
        };
        Self::with_options(&url, &options)
    }

    /// The server URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET path` (e.g. `/tasks/{id}`) as JSON, within `timeout`: for what
    /// has no method of its own.
    pub async fn get_json(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value, ClientError> {
        let req = self.request(Method::GET, path);
        self.send(req, path, timeout).await
    }

    /// Uploads a module (wasm binary or WAT text) and returns its function id.
    pub async fn register_function(
        &self,
        name: &str,
        wasm: &[u8],
        entry: Option<&str>,
    ) -> Result<Uuid, ClientError> {
        let body = RegisterRequest {
            name: name.to_string(),
            payload: base64::engine::general_purpose::STANDARD.encode(wasm),
            entry: entry.map(str::to_string),
        };
        let req = self.request(Method::POST, "/register_function").json(&body);
        let resp: RegisterResponse = self
            .send(req, "/register_function", REQUEST_TIMEOUT)
            .await?;
        Ok(resp.function_id)
    }

    /// Queues one invocation of `function_id` with `payload` and returns the task id.
    pub async fn execute_function(
        &self,
        function_id: Uuid,
        payload: &serde_json::Value,
    ) -> Result<Uuid, ClientError> {
        let body = ExecuteRequest {
            function_id: function_id.to_string(),
            payload: payload.clone(),
            ttl: None,
        };
        let req = self.request(Method::POST, "/execute_function").json(&body);
        let resp: ExecuteResponse = self.send(req, "/execute_function", REQUEST_TIMEOUT).await?;
        Ok(resp.task_id)
    }

    /// Queues one invocation of `function_id` per payload in one request
    /// (`POST /execute_batch`, at most [`MAX_BATCH`] payloads) and returns the
    /// task ids in the payloads' order. One invalid payload rejects the batch.
    pub async fn execute_batch(
        &self,
        function_id: Uuid,
        payloads: &[serde_json::Value],
    ) -> Result<Vec<Uuid>, ClientError> {
        let path = "/execute_batch";
        let req = self.request(Method::POST, path).json(&BatchRequest {
            function_id: function_id.to_string(),
            payloads: payloads.to_vec(),
            ttl: None,
        });
        let resp: BatchResponse = self.send(req, path, REQUEST_TIMEOUT).await?;
        if resp.task_ids.len() != payloads.len() {
            return Err(ClientError::Decode(format!(
                "{path}: sent {} payloads, got {} task ids",
                payloads.len(),
                resp.task_ids.len()
            )));
        }
        Ok(resp.task_ids)
    }

    /// Status and result of many tasks in order (`POST /results`, at most
    /// [`MAX_BATCH`] ids). With `wait`, the server holds the request until
    /// every task has ended or `wait` runs out.
    pub async fn results(
        &self,
        task_ids: &[Uuid],
        wait: Option<Duration>,
    ) -> Result<Vec<ResultRow>, ClientError> {
        let path = "/results";
        let body = ResultsRequest {
            task_ids: task_ids.iter().map(Uuid::to_string).collect(),
            wait: wait.map(|w| w.as_secs_f64()),
        };
        let timeout = wait.map_or(REQUEST_TIMEOUT, |w| {
            w.saturating_add(WAIT_MARGIN).max(REQUEST_TIMEOUT)
        });
        let req = self.request(Method::POST, path).json(&body);
        let resp: ResultList = self.send(req, path, timeout).await?;
        if resp.results.len() != task_ids.len() {
            return Err(ClientError::Decode(format!(
                "{path}: asked for {} tasks, got {} rows",
                task_ids.len(),
                resp.results.len()
            )));
        }
        Ok(resp.results)
    }

    /// Cancels tasks (`POST /tasks/cancel`, [`MAX_BATCH`] ids per request):
    /// queued ones never start, running ones are stopped; each ends FAILED
    /// as `cancelled`. Tasks that already ended are left as they were.
    pub async fn cancel(&self, task_ids: &[Uuid]) -> Result<CancelList, ClientError> {
        let path = "/tasks/cancel";
        let mut all = CancelList::default();
        for chunk in task_ids.chunks(MAX_BATCH) {
            let body = CancelRequest {
                task_ids: chunk.iter().map(Uuid::to_string).collect(),
            };
            let req = self.request(Method::POST, path).json(&body);
            let answer: CancelList = self.send(req, path, REQUEST_TIMEOUT).await?;
            all.cancelled.extend(answer.cancelled);
            all.already_ended.extend(answer.already_ended);
            all.unknown.extend(answer.unknown);
        }
        Ok(all)
    }

    /// What the platform did over the last `seconds`, second by second,
    /// and the tasks queued and running now (an admin key is needed).
    pub async fn stats(&self, seconds: u64) -> Result<Stats, ClientError> {
        let path = "/stats";
        let req = self
            .request(Method::GET, path)
            .query(&[("seconds", seconds)]);
        self.send(req, path, REQUEST_TIMEOUT).await
    }

    /// Live workers of all dispatchers (push and pull modes), as the server
    /// reports them.
    pub async fn workers(&self) -> Result<Vec<WorkerRow>, ClientError> {
        let path = "/workers";
        let req = self.request(Method::GET, path);
        let resp: WorkerList = self.send(req, path, REQUEST_TIMEOUT).await?;
        Ok(resp.workers)
    }

    /// Makes an API key for `tenant` (an admin key is needed); the answer
    /// carries the key itself, shown this once.
    pub async fn create_key(&self, tenant: &str, admin: bool) -> Result<NewKey, ClientError> {
        let path = "/keys";
        let req = self.request(Method::POST, path).json(&CreateKeyRequest {
            tenant: tenant.to_string(),
            admin,
        });
        self.send(req, path, REQUEST_TIMEOUT).await
    }

    /// Every API key (prefix, tenant, admin, created, last used).
    pub async fn list_keys(&self) -> Result<Vec<KeyRow>, ClientError> {
        let keys: KeyList = self
            .send(self.request(Method::GET, "/keys"), "/keys", REQUEST_TIMEOUT)
            .await?;
        Ok(keys.keys)
    }

    /// Revokes the key with this prefix; it stops working on every server.
    pub async fn revoke_key(&self, prefix: &str) -> Result<Revoked, ClientError> {
        let path = format!("/keys/{prefix}");
        let req = self.request(Method::DELETE, &path);
        self.send(req, &path, REQUEST_TIMEOUT).await
    }

    /// A tenant's limits and usage.
    pub async fn tenant(&self, tenant: &str) -> Result<TenantInfo, ClientError> {
        let path = format!("/tenants/{tenant}");
        let req = self.request(Method::GET, &path);
        self.send(req, &path, REQUEST_TIMEOUT).await
    }

    /// Sets some of a tenant's limits and returns its limits and usage.
    pub async fn set_limits(
        &self,
        tenant: &str,
        limits: &LimitOverrides,
    ) -> Result<TenantInfo, ClientError> {
        let path = format!("/tenants/{tenant}/limits");
        let req = self.request(Method::PUT, &path).json(limits);
        self.send(req, &path, REQUEST_TIMEOUT).await
    }

    /// A function's record.
    pub async fn function(&self, function_id: Uuid) -> Result<Function, ClientError> {
        let path = format!("/functions/{function_id}");
        let req = self.request(Method::GET, &path);
        self.send(req, &path, REQUEST_TIMEOUT).await
    }

    /// Deletes a function: its queued tasks end FAILED, running ones finish.
    pub async fn delete_function(&self, function_id: Uuid) -> Result<FunctionDeleted, ClientError> {
        let path = format!("/functions/{function_id}");
        let req = self.request(Method::DELETE, &path);
        self.send(req, &path, REQUEST_TIMEOUT).await
    }

    /// Registered functions, newest first; the server's default count (100)
    /// unless `limit` is given (it caps it at 1000).
    pub async fn functions(&self, limit: Option<usize>) -> Result<Vec<FunctionInfo>, ClientError> {
        let path = "/functions";
        let mut req = self.request(Method::GET, path);
        if let Some(limit) = limit {
            req = req.query(&[("limit", limit)]);
        }
        let resp: FunctionList = self.send(req, path, REQUEST_TIMEOUT).await?;
        Ok(resp.functions)
    }

    /// The most recently submitted tasks, newest first, only those in
    /// `status` if given; the server's default count (100) unless `limit`
    /// is given (it caps it at 1000).
    pub async fn tasks(
        &self,
        limit: Option<usize>,
        status: Option<TaskStatus>,
    ) -> Result<Vec<TaskInfo>, ClientError> {
        let path = "/tasks";
        let mut req = self.request(Method::GET, path);
        if let Some(limit) = limit {
            req = req.query(&[("limit", limit)]);
        }
        if let Some(status) = status {
            req = req.query(&[("status", status.as_str())]);
        }
        let resp: TaskList = self.send(req, path, REQUEST_TIMEOUT).await?;
        Ok(resp.tasks)
    }

    /// The task's whole record (with its usage once it ended).
    pub async fn task(&self, task_id: Uuid) -> Result<Task, ClientError> {
        let path = format!("/tasks/{task_id}");
        let req = self.request(Method::GET, &path);
        self.send(req, &path, REQUEST_TIMEOUT).await
    }

    /// What the task's guest logged (empty until the task ends).
    pub async fn task_logs(&self, task_id: Uuid) -> Result<TaskLogs, ClientError> {
        let path = format!("/tasks/{task_id}/logs");
        let req = self.request(Method::GET, &path);
        self.send(req, &path, REQUEST_TIMEOUT).await
    }

    /// The task's current status.
    pub async fn status(&self, task_id: Uuid) -> Result<TaskStatus, ClientError> {
        let path = format!("/status/{task_id}");
        let req = self.request(Method::GET, &path);
        let resp: StatusResponse = self.send(req, &path, REQUEST_TIMEOUT).await?;
        Ok(resp.status)
    }

    /// The task's status and result. With `wait`, the server holds the request
    /// until the task ends or `wait` runs out (long poll).
    pub async fn result(
        &self,
        task_id: Uuid,
        wait: Option<Duration>,
    ) -> Result<TaskResult, ClientError> {
        let path = format!("/result/{task_id}");
        let mut req = self.request(Method::GET, &path);
        let mut timeout = REQUEST_TIMEOUT;
        if let Some(wait) = wait {
            req = req.query(&[("wait", format_wait(wait))]);
            // The HTTP deadline must outlast the server's hold, or every
            // long poll on a slow task would end as a client-side timeout.
            timeout = wait.saturating_add(WAIT_MARGIN);
        }
        self.send(req, &path, timeout).await
    }

    /// Long-polls until the task is COMPLETED or FAILED, or `timeout` passes.
    /// On timeout it returns the last answer, whose status is not final:
    /// check [`TaskStatus::is_final`].
    pub async fn wait_result(
        &self,
        task_id: Uuid,
        timeout: Duration,
    ) -> Result<TaskResult, ClientError> {
        // A timeout too large for an Instant means "no deadline".
        let deadline = Instant::now().checked_add(timeout);
        let mut backoff = Duration::from_millis(50);
        loop {
            let remaining = deadline.map_or(LONG_POLL_MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            let wait = remaining.min(LONG_POLL_MAX);
            let started = Instant::now();
            let answer = self
                .result(task_id, (!wait.is_zero()).then_some(wait))
                .await?;
            if answer.status.is_final() || wait.is_zero() {
                return Ok(answer);
            }
            // A server that answers a long poll early without a final status
            // (or ignores `wait`) must not turn this loop into a busy loop.
            let held = started.elapsed();
            if held < wait {
                let pause = backoff.min(wait - held);
                tokio::time::sleep(pause).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base_url, path))
    }

    /// Sends `req` with a `timeout` for the whole exchange, turns transport
    /// failures and non-2xx answers into `ClientError`, and decodes a success
    /// body as `T`.
    async fn send<T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
        path: &str,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let url = format!("{}{}", self.base_url, path);
        let resp = req
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.transport_error(&url, timeout, e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(&url, timeout, e))?;
        if !status.is_success() {
            return Err(ClientError::Http {
                status: status.as_u16(),
                detail: error_detail(&String::from_utf8_lossy(&body)),
                payload_index: error_payload_index(&body),
            });
        }
        serde_json::from_slice(&body).map_err(|e| {
            ClientError::Decode(format!(
                "unexpected answer from {url}: {e}; body: {}",
                truncate_chars(&String::from_utf8_lossy(&body), MAX_DETAIL_CHARS)
            ))
        })
    }

    fn transport_error(&self, url: &str, timeout: Duration, error: reqwest::Error) -> ClientError {
        if let Some(reason) = tls_failure(&error) {
            ClientError::Tls {
                url: self.base_url.clone(),
                reason,
            }
        } else if error.is_connect() {
            ClientError::Connect {
                url: self.base_url.clone(),
                error,
            }
        } else if error.is_timeout() {
            ClientError::Timeout {
                url: url.to_owned(),
                after: timeout,
            }
        } else {
            ClientError::Request {
                url: url.to_owned(),
                error,
            }
        }
    }
}

/// Checks a server URL and strips trailing slashes, so paths can be appended.
fn normalize_base_url(raw: &str) -> Result<String, ClientError> {
    let invalid = |reason: String| ClientError::InvalidUrl {
        url: raw.to_owned(),
        reason,
    };
    let trimmed = raw.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(invalid(format!(
                "unsupported scheme {other:?}; use http:// or https://"
            )))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a server URL takes no query or fragment".into()));
    }
    Ok(trimmed.to_owned())
}

/// TLS uses rustls with the ring provider (reqwest is built without one):
/// installed as the process default unless the program installed another.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another thread installing one is fine too.
        // (Deprecated in rustls 0.23.48 only for lacking post-quantum key exchange.)
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The certificates of a PEM file (one or a bundle); at least one.
fn read_ca_certs(path: &Path) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let fail = |reason: String| ClientError::CaCert {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| fail(format!("not a PEM certificate: {}", root_cause(&e))))?;
    if certs.is_empty() {
        return Err(fail(
            "no certificate in it (expected -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

/// Seconds for `?wait=`, rounded to the millisecond (e.g. `30`, `1.5`, `0.001`).
fn format_wait(wait: Duration) -> String {
    // Rounded, so a remaining 4.9999 s asks for `5` rather than `4.999`.
    let millis = (wait.as_micros() + 500) / 1000;
    if millis % 1000 == 0 {
        format!("{}", millis / 1000)
    } else {
        let s = format!("{}.{:03}", millis / 1000, millis % 1000);
        s.trim_end_matches('0').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_trailing_slashes_are_trimmed() {
        let c = Client::new("http://127.0.0.1:8000/").expect("valid url");
        assert_eq!(c.base_url(), "http://127.0.0.1:8000");
        let c = Client::new("http://example.com:9000///").expect("valid url");
        assert_eq!(c.base_url(), "http://example.com:9000");
        let c = Client::new("http://localhost:8000").expect("valid url");
        assert_eq!(c.base_url(), "http://localhost:8000");
    }

    #[test]
    fn base_url_with_path_prefix_is_kept() {
        let c = Client::new("http://proxy.local/faas/").expect("valid url");
        assert_eq!(c.base_url(), "http://proxy.local/faas");
        assert_eq!(
            c.request(Method::GET, "/status/x")
                .build()
                .expect("request builds")
                .url()
                .as_str(),
            "http://proxy.local/faas/status/x"
        );
    }

    #[test]
    fn https_urls_are_accepted() {
        let c = Client::new("https://faas.example:8443/").expect("valid url");
        assert_eq!(c.base_url(), "https://faas.example:8443");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("faas-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").expect("write");
        for path in [dir.join("missing.pem"), empty] {
            let options = ClientOptions {
                ca_cert: Some(path.clone()),
                ..ClientOptions::default()
            };
            match Client::with_options("https://127.0.0.1:1", &options) {
                Err(e @ ClientError::CaCert { .. }) => {
                    assert!(e.to_string().contains(&path.display().to_string()), "{e}")
                }
                other => panic!("{path:?} gave {other:?}"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_token_goes_in_every_request() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).await.expect("read");
                assert!(n > 0, "request cut short");
                head.extend_from_slice(&buf[..n]);
            }
            let body = r#"{"functions":[]}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(answer.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&head).to_lowercase()
        });
        let options = ClientOptions {
            token: Some("K3y".into()),
            ..ClientOptions::default()
        };
        let c = Client::with_options(&url, &options).expect("client");
        c.functions(None).await.expect("an answer");
        let head = server.await.expect("server task");
        assert!(head.contains("authorization: bearer k3y\r\n"), "{head}");

        let bad = ClientOptions {
            token: Some("a\nb".into()),
            ..ClientOptions::default()
        };
        assert!(matches!(
            Client::with_options("http://127.0.0.1:8000", &bad),
            Err(ClientError::Token(_))
        ));
    }

    #[test]
    fn bad_base_urls_are_rejected() {
        for bad in [
            "",
            "127.0.0.1:8000",
            "localhost",
            "ftp://host",
            "http://",
            "http://h/?a=b",
        ] {
            match Client::new(bad) {
                Err(ClientError::InvalidUrl { url, .. }) => assert_eq!(url, bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn wait_is_formatted_in_seconds() {
        assert_eq!(format_wait(Duration::from_secs(30)), "30");
        assert_eq!(format_wait(Duration::from_millis(1500)), "1.5");
        assert_eq!(format_wait(Duration::from_millis(1)), "0.001");
        assert_eq!(format_wait(Duration::from_millis(250)), "0.25");
        assert_eq!(format_wait(Duration::from_micros(10)), "0");
        assert_eq!(format_wait(Duration::from_micros(4_999_900)), "5");
    }

    #[test]
    fn long_poll_request_outlasts_the_wait() {
        let c = Client::new("http://127.0.0.1:8000").expect("valid url");
        let req = c
            .request(Method::GET, "/result/x")
            .query(&[("wait", format_wait(Duration::from_secs(30)))])
            .timeout(Duration::from_secs(30).saturating_add(WAIT_MARGIN))
            .build()
            .expect("request builds");
        assert_eq!(req.url().query(), Some("wait=30"));
        assert!(req.timeout().is_some_and(|t| *t > Duration::from_secs(30)));
    }

    #[test]
    fn status_serde_uses_upper_case_words() {
        for s in [
            TaskStatus::Queued,
            TaskStatus::Running,
            TaskStatus::Completed,
            TaskStatus::Failed,
        ] {
            let json = serde_json::to_string(&s).expect("serializes");
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<TaskStatus>(&json).ok(), Some(s));
        }
        assert!(TaskStatus::Completed.is_final() && TaskStatus::Failed.is_final());
        assert!(!TaskStatus::Queued.is_final() && !TaskStatus::Running.is_final());
    }

    #[test]
    fn task_result_decodes() {
        let id = Uuid::new_v4();
        let r: TaskResult = serde_json::from_str(&format!(
            r#"{{"task_id":"{id}","status":"COMPLETED","result":5}}"#
        ))
        .expect("decodes");
        assert_eq!(r.task_id, id);
        assert_eq!(r.status, TaskStatus::Completed);
        assert_eq!(r.result, serde_json::json!(5));
        // A server leaving out a null result is still understood.
        let r: TaskResult =
            serde_json::from_str(&format!(r#"{{"task_id":"{id}","status":"QUEUED"}}"#))
                .expect("decodes");
        assert!(r.result.is_null());
    }

    #[test]
    fn list_queries() {
        let c = Client::new("http://127.0.0.1:8000").expect("valid url");
        let req = c
            .request(Method::GET, "/tasks")
            .query(&[("limit", 5)])
            .query(&[("status", TaskStatus::Failed.as_str())])
            .build()
            .expect("request builds");
        assert_eq!(req.url().query(), Some("limit=5&status=FAILED"));
    }

    #[test]
    fn register_body_shape() {
        let body = RegisterRequest {
            name: "add".to_string(),
            payload: base64::engine::general_purpose::STANDARD.encode(b"\0asm"),
            entry: None,
        };
        assert_eq!(
            serde_json::to_value(&body).expect("serializes"),
            serde_json::json!({"name": "add", "payload": "AGFzbQ=="})
        );
    }
}

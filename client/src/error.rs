//! What can go wrong talking to a faas server, and the error body's message.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;

/// Longest error body quoted in [`ClientError::Http`] when it is not `{"detail": ...}`.
pub(crate) const MAX_DETAIL_CHARS: usize = 500;

/// Everything that can go wrong talking to a faas server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL given to [`Client::new`] is unusable.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The CA certificate file of [`ClientOptions::ca_cert`] is unusable.
    #[error("cannot use the CA certificate {}: {reason}", .path.display())]
    CaCert { path: PathBuf, reason: String },

    /// The token of [`ClientOptions::token`] cannot be sent in a header.
    #[error("invalid API token: {0}")]
    Token(String),

    /// No connection could be made (refused, DNS failure, connect timeout).
    #[error(
        "cannot reach the faas server at {url}: {}; check that it is running (`faas up` starts one) \
         and that --url / FAAS_URL point to it",
        root_cause(.error)
    )]
    Connect { url: String, error: reqwest::Error },

    /// The TLS handshake failed, most often because the server's
    /// certificate is not trusted.
    #[error(
        "TLS with {url} failed: {reason}; if a private CA signed the server's certificate, \
         pass it with --cacert (or FAAS_CACERT)"
    )]
    Tls { url: String, reason: String },

    /// Connected, but no complete answer came in time.
    #[error("no answer from {url} within {} s", .after.as_secs_f64())]
    Timeout { url: String, after: Duration },

    /// The request failed after connecting (connection reset, truncated body, ...).
    #[error("request to {url} failed: {}", root_cause(.error))]
    Request { url: String, error: reqwest::Error },

    /// The server answered with a non-success status; `detail` is its `{"detail": ...}` message.
    #[error("HTTP {status}{}: {detail}", reason_suffix(*.status))]
    Http {
        status: u16,
        detail: String,
        /// For a batch refused for one payload: that payload's index.
        payload_index: Option<usize>,
    },

    /// A success answer whose body is not what the REST contract says.
    #[error("{0}")]
    Decode(String),
}

// The reqwest error is deliberately not exposed as `source()`: its chain
// ("error sending request for url (...): client error (Connect): tcp connect
// error: ...") would be printed in full by `{:#}`, burying the one line that
// matters, which `root_cause` already puts into the message.
pub(crate) fn root_cause(err: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The rustls error in `err`'s chain, if the failure was TLS's. (An
/// `io::Error`'s `source()` skips the error it wraps, and io errors wrap
/// io errors, hence the walk through `get_ref` too.)
pub(crate) fn tls_failure(err: &reqwest::Error) -> Option<String> {
    let mut todo: Vec<&(dyn std::error::Error + 'static)> = vec![err];
    while let Some(e) = todo.pop() {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            todo.push(inner);
        }
        if let Some(next) = e.source() {
            todo.push(next);
        }
    }
    None
}

fn reason_suffix(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}
/// The message of an error body: its `detail` field when it is `{"detail": ...}`
/// (a non-string detail, like a validation error list, as compact JSON),
/// otherwise the body text itself, cut to a readable length.
/// The refused payload's index an error body names (`payload_index`).
pub(crate) fn error_payload_index(body: &[u8]) -> Option<usize> {
    serde_json::from_slice::<faas_contract::ErrorBody>(body)
        .ok()?
        .payload_index
}

pub(crate) fn error_detail(body: &str) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(body) {
        match map.get("detail") {
            Some(serde_json::Value::String(s)) => return s.clone(),
            Some(other) => return other.to_string(),
            None => {}
        }
    }
    let body = body.trim();
    if body.is_empty() {
        "(empty body)".to_owned()
    } else {
        truncate_chars(body, MAX_DETAIL_CHARS)
    }
}

pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_field_is_extracted() {
        assert_eq!(error_detail(r#"{"detail":"unknown task"}"#), "unknown task");
        assert_eq!(
            error_detail(r#"{"detail":[{"loc":["body","name"],"msg":"field required"}]}"#),
            r#"[{"loc":["body","name"],"msg":"field required"}]"#
        );
    }

    #[test]
    fn other_bodies_are_quoted_and_truncated() {
        assert_eq!(error_detail("Bad Gateway\n"), "Bad Gateway");
        assert_eq!(error_detail(r#"{"error":"x"}"#), r#"{"error":"x"}"#);
        assert_eq!(error_detail(""), "(empty body)");
        let long = "é".repeat(600);
        let got = error_detail(&long);
        assert_eq!(got.chars().count(), 503);
        assert!(got.ends_with("..."));
        assert_eq!(error_detail(&"x".repeat(500)), "x".repeat(500));
    }

    #[test]
    fn the_refused_payload_is_read_from_the_body() {
        assert_eq!(
            error_payload_index(br#"{"detail":"payloads[3]: add: no","payload_index":3}"#),
            Some(3)
        );
        assert_eq!(error_payload_index(br#"{"detail":"x"}"#), None);
        assert_eq!(error_payload_index(b"Bad Gateway"), None);
    }

    #[test]
    fn http_error_message() {
        let e = ClientError::Http {
            status: 404,
            detail: "unknown function".into(),
            payload_index: None,
        };
        assert_eq!(e.to_string(), "HTTP 404 Not Found: unknown function");
        let e = ClientError::Http {
            status: 599,
            detail: "x".into(),
            payload_index: None,
        };
        assert_eq!(e.to_string(), "HTTP 599: x");
    }
}

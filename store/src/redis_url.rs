//! Redis URLs: opening a client from one (`redis://[user:password@]host:port`,
//! `rediss://` for TLS, optionally trusting a private CA), and printing one
//! without its password.

use crate::error::{StoreError, StoreResult};
use redis::Client;

/// How to reach Redis beyond what the URL says.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// For `rediss://`: PEM CA certificate(s) to trust instead of the
    /// system's roots (a private CA, or a self-signed server certificate).
    pub ca_cert_pem: Option<Vec<u8>>,
}

/// The URL with its password (if any) replaced by `***`, for logs and
/// error messages: `redis://faas:secret@host:6379/0` ->
/// `redis://faas:***@host:6379/0`. A user name alone is kept.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        // Not a URL we can take apart: show none of it that could be a secret.
        return match url.rfind('@') {
            Some(at) => format!("***{}", &url[at..]),
            None => url.to_string(),
        };
    };
    // The last '@' anywhere, not only in the authority: a password with
    // an unencoded '/', '?' or '#' must not escape through a parser that
    // would end the authority there.
    let rest = &url[scheme_end..];
    let Some(at) = rest.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    let user = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        None => userinfo.to_string(),
    };
    format!("{}{user}{}", &url[..scheme_end], &url[scheme_end + at..])
}

/// A client for `url` (not yet connected). Every connection made from it
/// (the shared one, the blocking one, the pub/sub one) carries the URL's
/// credentials and TLS settings.
pub(crate) fn open_client(url: &str, options: &RedisOptions) -> StoreResult<Client> {
    let shown = redact_url(url);
    let bad = |e: redis::RedisError| StoreError::Unavailable(format!("bad Redis URL {shown}: {e}"));
    match &options.ca_cert_pem {
        None => Client::open(url).map_err(bad),
        Some(pem) => {
            if !(url.starts_with("rediss://") || url.starts_with("valkeys://")) {
                return Err(StoreError::Unavailable(format!(
                    "a Redis CA certificate was given but {shown} does not use TLS: use rediss://"
                )));
            }
            Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            )
            .map_err(bad)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_never_shown() {
        for (url, shown) in [
            (
                "redis://faas:s3cret@10.0.0.1:6379",
                "redis://faas:***@10.0.0.1:6379",
            ),
            (
                "rediss://faas:s3cret@redis.example:6380/2",
                "rediss://faas:***@redis.example:6380/2",
            ),
            ("redis://:s3cret@host:6379", "redis://:***@host:6379"),
            // '@' and ':' inside the password (percent-encoding forgotten).
            ("redis://u:p@ss:w@host", "redis://u:***@host"),
            ("redis://u:s3cret/x?y#z@host", "redis://u:***@host"),
            ("redis://faas@host:6379", "redis://faas@host:6379"),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://host/0?x=a@b", "redis://host/0?x=a@b"),
            ("not a url s3cret@host", "***@host"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            assert!(!redact_url(url).contains("s3cret"), "{url}");
        }
    }
}

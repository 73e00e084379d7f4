//! HTTPS: the server's certificate and key, read from PEM files into a
//! rustls configuration (ring provider, HTTP/1.1 only), with errors that
//! name the file and what is wrong with it.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {path}: {error}")]
    Read {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("no PEM certificate (-----BEGIN CERTIFICATE-----) in {0}")]
    NoCertificate(PathBuf),
    #[error("no PEM private key (PKCS#8, PKCS#1 or SEC1) in {path}: {reason}")]
    NoKey { path: PathBuf, reason: String },
    #[error("unreadable PEM certificate in {path}: {reason}")]
    BadCertificate { path: PathBuf, reason: String },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
    #[error("the key {key} does not fit the certificate {cert}: {reason}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// A TLS server configuration from a PEM certificate chain (leaf first,
/// then intermediates) and its PEM private key. Fails if either file is
/// missing or unreadable, or if the key is not the certificate's.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let read = |what, path: &Path| {
        std::fs::read(path).map_err(|error| TlsError::Read {
            what,
            path: path.to_path_buf(),
            error,
        })
    };
    let cert_pem = read("TLS certificate", cert)?;
    let key_pem = read("TLS key", key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCertificate {
            path: cert.to_path_buf(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_path_buf()));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::NoKey {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    // ring, not aws-lc-rs (which needs cmake to build); rustls 0.23.48
    // deprecates ring's provider only for its lack of post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth()
        // Checks that the key is the certificate's (rustls compares the
        // public keys), so a mismatch fails here, at start.
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Mismatch {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

//! A capped in-memory stdout/stderr for WASI guests.
//!
//! wasmtime-wasi's `MemoryOutputPipe` reports a full pipe as a plain I/O
//! error, which a guest may ignore and keep looping on. This pipe instead
//! traps the guest on the first write past the cap and remembers that it did,
//! so the invocation fails at once as "output too large".

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    overflowed: bool,
}

/// A clonable handle to one capped output buffer.
#[derive(Clone)]
pub(crate) struct CappedOutput {
    cap: usize,
    buffer: Arc<Mutex<Buffer>>,
}

/// The error a guest's write past the cap traps with.
#[derive(Debug, thiserror::Error)]
#[error("output limit of {0} bytes exceeded")]
pub(crate) struct OutputLimitExceeded(pub usize);

impl CappedOutput {
    pub(crate) fn new(cap: usize) -> Self {
        CappedOutput {
            cap,
            buffer: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // A poisoned buffer only means a writer panicked mid-append; the bytes
        // are still the best record of what the guest wrote.
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends what fits; returns false (and remembers it) if `bytes` did not.
    fn append(&self, bytes: &[u8]) -> bool {
        let mut buffer = self.lock();
        let room = self.cap.saturating_sub(buffer.bytes.len());
        if bytes.len() > room {
            buffer.bytes.extend_from_slice(&bytes[..room]);
            buffer.overflowed = true;
            return false;
        }
        buffer.bytes.extend_from_slice(bytes);
        true
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    pub(crate) fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    pub(crate) fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.lock().bytes)
    }

    /// A copy of what was written so far.
    pub(crate) fn contents(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.lock().bytes.len()
    }

    /// Whether `other` is this same buffer (stdout and stderr as one log).
    pub(crate) fn is(&self, other: &CappedOutput) -> bool {
        Arc::ptr_eq(&self.buffer, &other.buffer)
    }

    /// The last `max` bytes written (cut at a character), as text, and
    /// how many bytes before them were dropped.
    pub(crate) fn tail(&self, max: usize) -> (String, u64) {
        let buffer = self.lock();
        let bytes = &buffer.bytes;
        let mut start = bytes.len().saturating_sub(max);
        // Not in the middle of a UTF-8 sequence: skip continuation bytes.
        while start < bytes.len() && start > 0 && (bytes[start] & 0xC0) == 0x80 {
            start += 1;
        }
        (
            String::from_utf8_lossy(&bytes[start..]).into_owned(),
            start as u64,
        )
    }
}

impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        if self.append(&bytes) {
            Ok(())
        } else {
            Err(StreamError::Trap(OutputLimitExceeded(self.cap).into()))
        }
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always grant a full chunk: a write past the cap must reach `write`
        // and trap, not be refused quietly.
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CappedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.append(buf) {
            Poll::Ready(Ok(buf.len()))
        } else {
            Poll::Ready(Err(std::io::Error::other(OutputLimitExceeded(self.cap))))
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_fits_and_flags_the_overflow() {
        let mut out = CappedOutput::new(4);
        assert!(OutputStream::write(&mut out, bytes::Bytes::from_static(b"abc")).is_ok());
        assert!(!out.overflowed());
        assert!(OutputStream::write(&mut out, bytes::Bytes::from_static(b"de")).is_err());
        assert!(out.overflowed());
        assert_eq!(out.take(), b"abcd");
    }

    #[test]
    fn the_tail_is_cut_at_a_character() {
        let mut out = CappedOutput::new(1024);
        let _ = OutputStream::write(&mut out, bytes::Bytes::from("aé€z".as_bytes().to_vec()));
        // a, é (2 bytes), € (3 bytes), z: 7 bytes.
        assert_eq!(out.tail(100), ("aé€z".to_string(), 0));
        assert_eq!(out.tail(5), ("€z".to_string(), 3));
        assert_eq!(out.tail(4), ("€z".to_string(), 3));
        assert_eq!(out.tail(3), ("z".to_string(), 6));
        assert_eq!(out.tail(0), (String::new(), 7));
    }
}

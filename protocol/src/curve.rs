//! CURVE keys of the worker port: 32-byte Curve25519 keys, their Z85 text
//! form (ZeroMQ's, 40 characters), the text files that hold them, and key
//! generation (libzmq's, backed by libsodium). No sockets, no files: the
//! `faas` binary reads and writes the files, dispatchers and workers take
//! the keys.
//!
//! File formats (`#` starts a comment line, blank lines are ignored):
//! - a key pair (`dispatcher.key`, `worker.key`): `public = <Z85>` and
//!   `secret = <Z85>` lines;
//! - a public key (`dispatcher.pub`): the Z85 key alone on a line (a
//!   `public = <Z85>` line is taken too, so a key pair file will do);
//! - an allow-list (`workers.allow`): one Z85 public key per line, each
//!   optionally followed by a comment (`<Z85> # worker-3`).

use std::collections::HashSet;
use std::fmt;

/// Z85's alphabet (ZeroMQ RFC 32).
const Z85: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Length of a key in Z85 text.
pub const Z85_KEY_LEN: usize = 40;

/// Why a key or a key file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a CURVE key is 40 Z85 characters, got {0} characters")]
    Length(usize),
    #[error("{0:?} is not a Z85 character")]
    Character(char),
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("no {0} key in the file")]
    Missing(&'static str),
    #[error("the public key does not belong to the secret key")]
    Mismatch,
    #[error(
        "this faas was built without CURVE (libsodium was missing at build time): install \
         libsodium-dev and rebuild, or run the worker port with --no-curve (loopback only)"
    )]
    NoCurve,
}

/// A Curve25519 key (public or secret).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CurveKey(pub [u8; 32]);

impl CurveKey {
    /// Reads a key from its 40-character Z85 form.
    pub fn from_z85(text: &str) -> Result<CurveKey, KeyError> {
        let bytes = text.as_bytes();
        if bytes.len() != Z85_KEY_LEN {
            return Err(KeyError::Length(text.chars().count()));
        }
        let mut key = [0u8; 32];
        for (chunk, out) in bytes.chunks(5).zip(key.chunks_mut(4)) {
            let mut value: u64 = 0;
            for &c in chunk {
                let digit = Z85
                    .iter()
                    .position(|&z| z == c)
                    .ok_or(KeyError::Character(c as char))?;
                value = value * 85 + digit as u64;
            }
            let value = u32::try_from(value).map_err(|_| KeyError::Character(chunk[0] as char))?;
            out.copy_from_slice(&value.to_be_bytes());
        }
        Ok(CurveKey(key))
    }

    /// The 40-character Z85 form.
    pub fn to_z85(&self) -> String {
        let mut out = String::with_capacity(Z85_KEY_LEN);
        for chunk in self.0.chunks(4) {
            let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let mut digits = [0u8; 5];
            for d in digits.iter_mut().rev() {
                *d = Z85[(value % 85) as usize];
                value /= 85;
            }
            out.extend(digits.iter().map(|&d| d as char));
        }
        out
    }
}

impl fmt::Display for CurveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_z85())
    }
}

impl fmt::Debug for CurveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CurveKey({})", self.to_z85())
    }
}

/// A key pair. `Debug` shows the public key only.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub public: CurveKey,
    pub secret: CurveKey,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair {{ public: {}, secret: .. }}", self.public)
    }
}

impl KeyPair {
    /// A new random key pair (libzmq's `zmq_curve_keypair`, libsodium).
    pub fn generate() -> Result<KeyPair, KeyError> {
        let mut public = [0 as std::os::raw::c_char; Z85_KEY_LEN + 1];
        let mut secret = [0 as std::os::raw::c_char; Z85_KEY_LEN + 1];
        // SAFETY: both buffers hold 41 bytes, as zmq_curve_keypair needs.
        let rc = unsafe { zmq_sys::zmq_curve_keypair(public.as_mut_ptr(), secret.as_mut_ptr()) };
        if rc != 0 {
            return Err(KeyError::NoCurve);
        }
        Ok(KeyPair {
            public: CurveKey::from_z85(&c_text(&public))?,
            secret: CurveKey::from_z85(&c_text(&secret))?,
        })
    }

    /// The pair of a secret key (its public key is derived).
    pub fn from_secret(secret: CurveKey) -> Result<KeyPair, KeyError> {
        let mut public = [0 as std::os::raw::c_char; Z85_KEY_LEN + 1];
        let mut z85 = [0 as std::os::raw::c_char; Z85_KEY_LEN + 1];
        for (out, b) in z85.iter_mut().zip(secret.to_z85().bytes()) {
            *out = b as std::os::raw::c_char;
        }
        // SAFETY: 41-byte buffers; the secret is NUL-terminated Z85.
        let rc = unsafe { zmq_sys::zmq_curve_public(public.as_mut_ptr(), z85.as_ptr()) };
        if rc != 0 {
            return Err(KeyError::NoCurve);
        }
        Ok(KeyPair {
            public: CurveKey::from_z85(&c_text(&public))?,
            secret,
        })
    }

    /// Reads a key pair file (`public = ...`, `secret = ...`). The public
    /// key may be left out; if given, it must match the secret key.
    pub fn parse(text: &str) -> Result<KeyPair, KeyError> {
        let (mut public, mut secret) = (None, None);
        for (n, line) in lines(text) {
            let Some((name, value)) = line.split_once('=') else {
                return Err(KeyError::Line {
                    line: n,
                    reason: "expected `public = <key>` or `secret = <key>`".into(),
                });
            };
            let key = CurveKey::from_z85(value.trim()).map_err(|e| KeyError::Line {
                line: n,
                reason: e.to_string(),
            })?;
            match name.trim() {
                "public" => public = Some(key),
                "secret" => secret = Some(key),
                other => {
                    return Err(KeyError::Line {
                        line: n,
                        reason: format!("unknown field {other:?}"),
                    })
                }
            }
        }
        let pair = KeyPair::from_secret(secret.ok_or(KeyError::Missing("secret"))?)?;
        if public.is_some_and(|p| p != pair.public) {
            return Err(KeyError::Mismatch);
        }
        Ok(pair)
    }

    /// The key pair file's text; `what` goes in its comment.
    pub fn to_file(&self, what: &str) -> String {
        format!(
            "# {what}: a CURVE key pair (Z85). Keep this file secret.\npublic = {}\nsecret = {}\n",
            self.public, self.secret
        )
    }
}

/// Reads a public key file: the key alone on a line, or `public = <key>`.
pub fn parse_public(text: &str) -> Result<CurveKey, KeyError> {
    for (n, line) in lines(text) {
        // `=` is a Z85 character: a bare key may contain it.
        let value = match line.split_once('=') {
            _ if line.len() == Z85_KEY_LEN => line,
            Some((name, value)) if name.trim() == "public" => value.trim(),
            Some(_) => continue,
            None => line,
        };
        return CurveKey::from_z85(value).map_err(|e| KeyError::Line {
            line: n,
            reason: e.to_string(),
        });
    }
    Err(KeyError::Missing("public"))
}

/// Reads an allow-list: one public key per line, each optionally followed
/// by whitespace and a `#` comment (`#` is also a Z85 character, but no
/// valid key starts with it, so a line starting with `#` is a comment).
pub fn parse_allow_list(text: &str) -> Result<HashSet<CurveKey>, KeyError> {
    let mut keys = HashSet::new();
    for (n, line) in lines(text) {
        let (key, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let bad = |reason: String| KeyError::Line { line: n, reason };
        let rest = rest.trim();
        if !rest.is_empty() && !rest.starts_with('#') {
            return Err(bad(
                "expected one key per line (a comment starts with #)".into()
            ));
        }
        keys.insert(CurveKey::from_z85(key).map_err(|e| bad(e.to_string()))?);
    }
    Ok(keys)
}

/// Non-empty, non-comment lines, trimmed, numbered from 1.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn c_text(buffer: &[std::os::raw::c_char]) -> String {
    buffer
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z85_matches_the_rfc_example_and_round_trips() {
        // RFC 32: the 8 bytes 86 4F D2 6F B5 59 F7 5B are "HelloWorld".
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&[0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]);
        let key = CurveKey(bytes);
        assert!(key.to_z85().starts_with("HelloWorld"));
        assert_eq!(CurveKey::from_z85(&key.to_z85()), Ok(key));
    }

    #[test]
    fn bad_keys_say_why() {
        assert_eq!(CurveKey::from_z85("abc"), Err(KeyError::Length(3)));
        let bad = format!("{}~", "a".repeat(39));
        assert_eq!(CurveKey::from_z85(&bad), Err(KeyError::Character('~')));
        // Five '#' is 85^5 - 1, beyond 32 bits.
        assert!(CurveKey::from_z85(&"#".repeat(40)).is_err());
    }

    #[test]
    fn generated_pairs_parse_back_and_derive_their_public_key() {
        let pair = KeyPair::generate().expect("libzmq has CURVE");
        let text = pair.to_file("test");
        assert_eq!(KeyPair::parse(&text), Ok(pair.clone()));
        assert_eq!(parse_public(&text), Ok(pair.public));
        let secret_only = format!("secret = {}\n", pair.secret);
        assert_eq!(KeyPair::parse(&secret_only), Ok(pair.clone()));
        let other = KeyPair::generate().expect("a pair");
        let mismatched = format!("public = {}\nsecret = {}\n", other.public, pair.secret);
        assert_eq!(KeyPair::parse(&mismatched), Err(KeyError::Mismatch));
        assert!(!format!("{pair:?}").contains(&pair.secret.to_z85()));
    }

    #[test]
    fn a_bare_public_key_may_hold_an_equals_sign() {
        let mut bytes = [0u8; 32];
        // "=" is Z85 digit 66: a key whose first group is 66 * 85^4.
        bytes[..4].copy_from_slice(&(66u32 * 85u32.pow(4)).to_be_bytes());
        let key = CurveKey(bytes);
        assert!(key.to_z85().starts_with('='));
        assert_eq!(parse_public(&format!("# c\n{key}\n")), Ok(key));
        assert_eq!(parse_public(&format!("public = {key}\n")), Ok(key));
    }

    #[test]
    fn allow_lists_take_comments_and_name_bad_lines() {
        let (a, b) = (KeyPair::generate().unwrap(), KeyPair::generate().unwrap());
        let text = format!("# workers\n{} # node-1\n\n  {}\n", a.public, b.public);
        let keys = parse_allow_list(&text).expect("a list");
        assert!(keys.contains(&a.public) && keys.contains(&b.public));
        let e = parse_allow_list("# x\nnot-a-key\n").unwrap_err();
        assert!(e.to_string().starts_with("line 2:"), "{e}");
        assert_eq!(parse_allow_list(""), Ok(HashSet::new()));
    }
}

//! The worker port's CURVE key files, in the credentials directory
//! ([`config_dir`]) unless given elsewhere: what a dispatcher loads (and
//! on first start creates), and what a worker loads.
//!
//! - `dispatcher.key`: the dispatcher's key pair; `dispatcher.pub`: its
//!   public key, which every worker needs.
//! - `workers.allow`: the worker public keys the dispatcher accepts, one
//!   per line (`<key> # comment`).
//! - `worker.key`: a worker key pair, created by a dispatcher on first
//!   start and put on its allow-list, so that on one machine
//!   `faas dispatcher -m push` and `faas worker push 4 tcp://127.0.0.1:7001`
//!   work as typed.
//!
//! Files are written mode 0600 in a 0700 directory, and never replaced:
//! a file that exists is read, not overwritten.

use anyhow::{bail, Context};
use faas_client::credentials::config_dir;
use faas_protocol::curve::{self, CurveKey, KeyPair, Z85_KEY_LEN};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const DISPATCHER_KEY: &str = "dispatcher.key";
pub const DISPATCHER_PUB: &str = "dispatcher.pub";
pub const WORKER_KEY: &str = "worker.key";
pub const ALLOW_LIST: &str = "workers.allow";

/// `credentials::write_new_private` for text, with the path in its error.
pub fn write_new_private(path: &Path, text: &str) -> anyhow::Result<bool> {
    faas_client::credentials::write_new_private(path, text.as_bytes())
        .with_context(|| format!("cannot create {}", path.display()))
}

/// Appends a line to a private file (created 0600 if missing).
fn append_private(path: &Path, line: &str) -> anyhow::Result<()> {
    if write_new_private(path, line)? {
        return Ok(());
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.write_all(line.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn read_key_pair(path: &Path) -> anyhow::Result<KeyPair> {
    KeyPair::parse(&read(path)?)
        .with_context(|| format!("{} is not a key pair file", path.display()))
}

pub fn read_allow_list(path: &Path) -> anyhow::Result<HashSet<CurveKey>> {
    curve::parse_allow_list(&read(path)?)
        .with_context(|| format!("{} is not an allow-list of worker keys", path.display()))
}

/// Loads the key pair at `path`, or creates it there if `create` and it
/// does not exist. Returns the pair and whether it was created.
fn load_or_create_pair(path: &Path, what: &str, create: bool) -> anyhow::Result<(KeyPair, bool)> {
    if create && !path.exists() {
        let pair = KeyPair::generate()?;
        if write_new_private(path, &pair.to_file(what))? {
            return Ok((pair, true));
        }
    }
    Ok((read_key_pair(path)?, false))
}

/// What a push or pull dispatcher runs with.
pub struct DispatcherKeys {
    pub keys: KeyPair,
    pub allow_list: PathBuf,
    pub allowed: HashSet<CurveKey>,
}

/// The dispatcher's key pair and allow-list. With the default paths
/// (`key_file`, `allow_file` not given) missing files are created: the
/// key pair and `dispatcher.pub`, and a worker key pair `worker.key` whose
/// public key goes on `workers.allow`. Files given explicitly must exist.
pub fn dispatcher_keys(
    key_file: Option<&Path>,
    allow_file: Option<&Path>,
) -> anyhow::Result<DispatcherKeys> {
    let dir = config_dir();
    let default_key = dir.join(DISPATCHER_KEY);
    let key_path = key_file.unwrap_or(&default_key);
    let (keys, created) = load_or_create_pair(key_path, "faas dispatcher", key_file.is_none())
        .with_context(|| {
            if key_file.is_some() {
                "the dispatcher's key pair (--key-file): make one with `faas keys worker --out FILE`"
            } else {
                "the dispatcher's key pair"
            }
        })?;
    if created {
        tracing::info!(
            "created the dispatcher's key pair in {}",
            key_path.display()
        );
    }
    if key_file.is_none() {
        let public = format!(
            "# The faas dispatcher's public key: workers need it (--server-key).\n{}\n",
            keys.public
        );
        let pub_path = dir.join(DISPATCHER_PUB);
        if !write_new_private(&pub_path, &public)?
            && public_from_file(&pub_path).ok() != Some(keys.public)
        {
            tracing::warn!(
                "{} does not hold this dispatcher's public key {}: workers reading it will not connect",
                pub_path.display(),
                keys.public
            );
        }
    }
    let allow_list = match allow_file {
        Some(path) => path.to_path_buf(),
        None => {
            let path = dir.join(ALLOW_LIST);
            let worker_key = dir.join(WORKER_KEY);
            let (worker, created) = load_or_create_pair(&worker_key, "faas worker", true)?;
            if created || !path.exists() {
                append_private(
                    &path,
                    &format!(
                        "{} # {} (made by faas dispatcher)\n",
                        worker.public, WORKER_KEY
                    ),
                )?;
                tracing::info!(
                    "created a worker key pair in {} and allowed its public key in {}",
                    worker_key.display(),
                    path.display()
                );
            }
            path
        }
    };
    let allowed = read_allow_list(&allow_list).with_context(|| {
        "the allow-list of worker keys (--allow-list): one public key per line".to_string()
    })?;
    if allowed.is_empty() {
        tracing::warn!(
            "no worker key is allowed in {}: no worker can connect until one is added",
            allow_list.display()
        );
    }
    Ok(DispatcherKeys {
        keys,
        allow_list,
        allowed,
    })
}

/// A worker's CURVE settings: the dispatcher's public key (`server`: the
/// key itself in Z85, or a file holding it; default `dispatcher.pub` in
/// the credentials directory) and this worker's key pair (`secret`: the
/// secret key in Z85; else `key_file`; default `worker.key` there).
pub fn worker_keys(
    server: Option<&str>,
    key_file: Option<&Path>,
    secret: Option<&str>,
) -> anyhow::Result<faas_worker::CurveClient> {
    let dir = config_dir();
    let server = match server {
        Some(text) if looks_like_key(text) => CurveKey::from_z85(text.trim())
            .context("--server-key / FAAS_DISPATCHER_KEY is not a Z85 public key")?,
        Some(path) => public_from_file(Path::new(path))?,
        None => {
            let path = dir.join(DISPATCHER_PUB);
            if !path.exists() {
                bail!(
                    "no dispatcher public key: {} does not exist. Give the dispatcher's public key \
                     with --server-key KEY|FILE (or FAAS_DISPATCHER_KEY); a dispatcher writes it \
                     to {DISPATCHER_PUB} in its credentials directory (here: {}). Or, if the \
                     dispatcher runs with --no-curve, pass --no-curve here too",
                    path.display(),
                    dir.display()
                );
            }
            public_from_file(&path)?
        }
    };
    let keys = match (secret, key_file) {
        (Some(secret), _) => {
            let secret = CurveKey::from_z85(secret.trim())
                .context("FAAS_WORKER_SECRET_KEY is not a Z85 secret key")?;
            KeyPair::from_secret(secret)?
        }
        (None, Some(path)) => read_key_pair(path)?,
        (None, None) => {
            let path = dir.join(WORKER_KEY);
            if !path.exists() {
                bail!(
                    "no key pair for this worker: {} does not exist. Make one with `faas keys \
                     worker --out FILE`, put its public key on the dispatcher's allow-list, and \
                     pass --key-file FILE (or FAAS_WORKER_KEY_FILE). On the dispatcher's own \
                     machine, the dispatcher creates {WORKER_KEY} in {} on its first start",
                    path.display(),
                    dir.display()
                );
            }
            read_key_pair(&path)?
        }
    };
    Ok(faas_worker::CurveClient { server, keys })
}

fn looks_like_key(text: &str) -> bool {
    let text = text.trim();
    text.len() == Z85_KEY_LEN && !Path::new(text).exists()
}

fn public_from_file(path: &Path) -> anyhow::Result<CurveKey> {
    curve::parse_public(&read(path)?)
        .with_context(|| format!("{} holds no public key", path.display()))
}

/// Re-reads the allow-list when its file changes (checked every 2 s), so
/// that keys can be added or revoked without a restart; connections made
/// before stay. A file that does not parse is reported and ignored.
pub fn watch_allow_list(path: PathBuf, allowed: faas_dispatcher::AllowList) {
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    tokio::spawn(async move {
        let mut seen = stamp(&path);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tick.tick().await;
            let now = stamp(&path);
            if now == seen {
                continue;
            }
            seen = now;
            match read_allow_list(&path) {
                Ok(keys) => {
                    tracing::info!(
                        "allow-list {} changed: {} worker key(s) allowed",
                        path.display(),
                        keys.len()
                    );
                    allowed.replace(keys);
                }
                Err(e) => tracing::warn!("{e:#}; keeping the previous allow-list"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_created_once_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("faas-keys-test-{}", std::process::id()));
        let path = dir.join("sub").join("a.key");
        assert!(write_new_private(&path, "one").unwrap());
        assert!(!write_new_private(&path, "two").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.join("sub")), 0o700);
        }
        append_private(&path, "+more").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one+more");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Compiled code kept on disk, so that a restarted process, or another
//! process of the same node, loads a module in milliseconds instead of
//! compiling it again.
//!
//! Loading native code runs it, so it is read only from a directory this
//! process's user owns and no one else may write to (mode 0700, checked at
//! start), written there only by this code, and never taken from the
//! network or the store. A file is named by the module's SHA-256 and a hash
//! of everything in the engine's configuration that compiled code depends
//! on (wasmtime's own compatibility hash, which covers its version), and
//! written whole to a temporary name, then renamed: a reader sees a whole
//! file or none. A file wasmtime rejects is deleted and compiled again.
//! Past `MAX_BYTES` in all, the least recently used files are deleted.

use crate::load::ModuleHash;
use std::fs::{self, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

/// Most bytes of compiled code kept; past it the least recently used
/// files go.
const MAX_BYTES: u64 = 2 << 30;

pub(crate) struct DiskCache {
    dir: PathBuf,
    /// Hex of the engine's compatibility hash: part of every file name.
    engine_tag: String,
    /// Modules loaded from here (not compiled).
    pub(crate) loaded: AtomicU64,
}

impl DiskCache {
    /// Opens (creating it if needed) `dir` as this process's store of
    /// compiled code, refusing a directory others may write to.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> Result<DiskCache, String> {
        prepare_compiled_dir(dir)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(DiskCache {
            dir: dir.to_path_buf(),
            engine_tag: format!("{:016x}", hasher.finish()),
            loaded: AtomicU64::new(0),
        })
    }

    fn path(&self, hash: &ModuleHash) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hex::encode(hash), self.engine_tag))
    }

    /// What was compiled from `hash` earlier (a module or a component), if
    /// a file of it is here and `deserialize` takes it.
    pub(crate) fn load<T>(
        &self,
        hash: &ModuleHash,
        deserialize: impl FnOnce(&Path) -> wasmtime::Result<T>,
    ) -> Option<T> {
        let path = self.path(hash);
        if !path.exists() {
            return None;
        }
        match deserialize(&path) {
            Ok(code) => {
                self.loaded.fetch_add(1, Ordering::Relaxed);
                // Its time of use, for `prune`.
                let _ = fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                Some(code)
            }
            Err(e) => {
                tracing::warn!(
                    path = %path.display(),
                    "dropping compiled code that does not load ({e:#}); compiling again"
                );
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// The module compiled earlier from `hash`, if it is here.
    pub(crate) fn load_module(&self, engine: &Engine, hash: &ModuleHash) -> Option<Module> {
        // SAFETY: the file was written by `store` below, whole (renamed into
        // place), in a directory only this user can write to (checked in
        // `open`); wasmtime checks that it was compiled by a compatible
        // engine.
        self.load(hash, |path| unsafe {
            Module::deserialize_file(engine, path)
        })
    }

    /// The component compiled earlier from `hash`, if it is here.
    pub(crate) fn load_component(&self, engine: &Engine, hash: &ModuleHash) -> Option<Component> {
        // SAFETY: as in `load_module`.
        self.load(hash, |path| unsafe {
            Component::deserialize_file(engine, path)
        })
    }

    /// Keeps compiled code (`serialized`) for later loads; a failure costs
    /// only a later compile, so it is logged, not returned.
    pub(crate) fn store(&self, hash: &ModuleHash, serialized: wasmtime::Result<Vec<u8>>) {
        let path = self.path(hash);
        let written = (|| {
            let bytes = serialized.map_err(|e| format!("{e:#}"))?;
            let temp = self.dir.join(format!(
                ".{}.{}.{:x}.tmp",
                hex::encode(hash),
                std::process::id(),
                temp_id()
            ));
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)
                .map_err(|e| e.to_string())?;
            let done = file
                .write_all(&bytes)
                .and_then(|()| file.sync_all())
                .and_then(|()| fs::rename(&temp, &path));
            if done.is_err() {
                let _ = fs::remove_file(&temp);
            }
            done.map_err(|e| e.to_string())
        })();
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), "cannot keep compiled code on disk: {e}");
        }
        self.prune(MAX_BYTES);
    }

    /// Deletes the least recently used files until at most `max` bytes
    /// are kept.
    fn prune(&self, max: u64) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        if total <= max {
            return;
        }
        files.sort();
        for (_, len, path) in files {
            if total <= max {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// Tells apart the temporary files of two threads of one process.
fn temp_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Where the daemons keep compiled code unless told otherwise:
/// `$XDG_CACHE_HOME/faas/compiled`, else `~/.cache/faas/compiled`.
pub fn default_compiled_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })?;
    Some(base.join("faas").join("compiled"))
}

/// Creates `dir` if needed and makes it private (mode 0700), or says why
/// it cannot hold compiled code: it is not a directory, or belongs to
/// another user (whom it would let run code as this one).
pub fn prepare_compiled_dir(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the compiled-code directory {shown}: {e}"))?;
    // Fails unless this user owns it; afterwards no one else can write.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| {
        format!("cannot make the compiled-code directory {shown} private (mode 0700; is it this user's?): {e}")
    })?;
    let meta = fs::symlink_metadata(dir)
        .map_err(|e| format!("cannot read the compiled-code directory {shown}: {e}"))?;
    // Root may change any directory's mode: ownership is checked too.
    let me = fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if me.is_some_and(|me| me != meta.uid()) {
        return Err(format!(
            "the compiled-code directory {shown} belongs to another user; give one of this user's"
        ));
    }
    if !meta.is_dir() || meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "the compiled-code directory {shown} must be a directory only its owner can use (mode 0700)"
        ));
    }
    Ok(())
}

//! `faas build`: a Rust guest crate or a C file to a release, stripped `.wasm`, with toolchain detection that says what to install when no wasm target is there.
//!
//! Detection is a set of small pure functions (which cargo/rustc pair to try,
//! whether a sysroot has a target, which target to pick, what to tell the
//! user), fed by a few probes of the tools (`rustc --print sysroot`,
//! `clang -print-file-name=libc.a`...). A missing target or toolchain is
//! found by those probes, before any compiler runs, so it is reported as an
//! install hint and never as a compiler error dump; errors in the user's own
//! code still show, as the compiler prints them.
//!
//! Where modules land:
//! - Rust: wherever cargo puts them (`target/<triple>/release/<name>.wasm`
//!   of the crate or its workspace), read from cargo's JSON messages.
//! - C: `target/<stem>.wasm` in the directory of the `.c` file.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use faas_runtime::{Convention, LoadError, Runtime, RuntimeConfig};

/// Rust targets tried in order when `--target` is not given.
pub const DEFAULT_TARGETS: [&str; 2] = ["wasm32-wasip1", "wasm32-wasi"];

/// Where Debian (and most distributions) put their own `cargo` and `rustc`.
pub const SYSTEM_BIN: &str = "/usr/bin";

/// Debian's packages for building Rust guests.
const APT_RUST: &str = "apt-get install rustc cargo libstd-rust-dev-wasm32";

/// The target triple clang is given for C.
pub const C_TARGET: &str = "wasm32-wasi";

/// WASI sysroots tried when clang finds no wasi-libc by itself.
const C_SYSROOTS: [&str; 2] = [
    "/usr/share/wasi-sysroot",
    "/opt/wasi-sdk/share/wasi-sysroot",
];

/// Why a source could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{} does not exist", .0.display())]
    NotFound(PathBuf),
    #[error("{} is a directory without a Cargo.toml, an app.py, an app.js, or a .c or .wat file named like it; give a Rust crate, a .c, .py or .js file, or a .wasm/.wat module", .0.display())]
    NoManifest(PathBuf),
    #[error("{} is already a module (.wasm or .wat): there is nothing to build; deploy or run it as it is", .0.display())]
    AlreadyModule(PathBuf),
    /// A toolchain, target or library is missing; the message says what to install.
    #[error("{0}")]
    Toolchain(String),
    #[error("cannot run {program}: {error}")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    /// The compiler ran and failed: its messages were shown as it printed them.
    #[error("{what} failed ({status}); see the compiler's messages above")]
    Failed { what: String, status: String },
    #[error("cargo built no .wasm file for {}; is it a binary (src/main.rs) or a cdylib crate?", .0.display())]
    NoArtifact(PathBuf),
    #[error("cargo built several modules ({}); build a crate with one binary or cdylib", list_paths(.0))]
    SeveralArtifacts(Vec<PathBuf>),
    #[error("{what} {}: {error}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Toolchain choices, shared by `faas build`, `faas deploy` and `faas run`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ToolchainArgs {
    /// cargo for Rust crates [default: `cargo` on PATH; else /usr/bin/cargo
    /// when only that toolchain has a wasm32 target]
    #[arg(long, env = "FAAS_CARGO", value_name = "PATH")]
    pub cargo: Option<PathBuf>,

    /// rustc for Rust crates [default: the rustc beside --cargo, else `rustc` on PATH]
    #[arg(long, env = "FAAS_RUSTC", value_name = "PATH")]
    pub rustc: Option<PathBuf>,

    /// Rust target triple [default: wasm32-wasip1 if the toolchain has it, else wasm32-wasi]
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,

    /// clang for C files [default: `clang` on PATH]
    #[arg(long, env = "FAAS_CLANG", value_name = "PATH")]
    pub clang: Option<PathBuf>,

    /// WASI sysroot (wasi-libc) for C [default: the one clang finds, else
    /// /usr/share/wasi-sysroot or /opt/wasi-sdk/share/wasi-sysroot]
    #[arg(long, env = "WASI_SYSROOT", value_name = "DIR")]
    pub sysroot: Option<PathBuf>,

    /// componentize-py for Python functions [default: `componentize-py` on PATH]
    #[arg(long, env = "FAAS_COMPONENTIZE_PY", value_name = "PATH")]
    pub componentize_py: Option<PathBuf>,

    /// componentize-js for JavaScript functions [default: `componentize-js`
    /// on PATH, else in a node_modules/.bin at or above the source]
    #[arg(long, env = "FAAS_COMPONENTIZE_JS", value_name = "PATH")]
    pub componentize_js: Option<PathBuf>,

    /// A directory of pure-Python packages a Python function imports (e.g.
    /// made by `pip install --target DIR -r requirements.txt`); repeatable
    #[arg(long, value_name = "DIR")]
    pub deps: Vec<PathBuf>,
}

/// What a path given to `build`, `deploy` or `run` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Rust crate, by its manifest.
    Rust(PathBuf),
    /// A C file.
    C(PathBuf),
    /// A Python file defining `handle(payload)` (or a directory's `app.py`).
    Python(PathBuf),
    /// A JavaScript module exporting `handle(payload)` (`.js` or `.mjs`).
    JavaScript(PathBuf),
    /// A module already: a `.wasm` binary or `.wat` text (any file that is
    /// neither a manifest nor C source is taken as one).
    Module(PathBuf),
}

impl Source {
    /// Tells a crate directory, a `Cargo.toml`, a `.c` file and a module apart.
    pub fn classify(path: &Path) -> Result<Source, BuildError> {
        if path.is_dir() {
            let manifest = path.join("Cargo.toml");
            return if manifest.is_file() {
                Ok(Source::Rust(manifest))
            } else if let Some(app) = crate::build::python::python_source(path) {
                Ok(Source::Python(app))
            } else if let Some(file) = project_file(path) {
                Source::classify(&file)
            } else {
                Err(BuildError::NoManifest(path.to_path_buf()))
            };
        }
        if !path.exists() {
            return Err(BuildError::NotFound(path.to_path_buf()));
        }
        if path.file_name() == Some(OsStr::new("Cargo.toml")) {
            Ok(Source::Rust(path.to_path_buf()))
        } else if path.extension() == Some(OsStr::new("c")) {
            Ok(Source::C(path.to_path_buf()))
        } else if let Some(file) = crate::build::python::python_source(path) {
            Ok(Source::Python(file))
        } else if let Some(file) = crate::build::javascript::javascript_source(path) {
            Ok(Source::JavaScript(file))
        } else {
            Ok(Source::Module(path.to_path_buf()))
        }
    }

    /// True for sources that need a compiler.
    pub fn needs_build(&self) -> bool {
        !matches!(self, Source::Module(_))
    }
}

/// The source of a `faas new` project other than a crate or `app.py`:
/// `app.js`, or a C or WAT file named like the directory.
fn project_file(dir: &Path) -> Option<PathBuf> {
    let js = dir.join("app.js");
    if js.is_file() {
        return Some(js);
    }
    let name = dir.canonicalize().ok()?.file_name()?.to_str()?.to_owned();
    ["c", "wat"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .find(|file| file.is_file())
}

/// Builds a source and returns the path of its module. `command` is the
/// subcommand that asked (`build`, `deploy`, `run`), for the hints.
pub fn build(source: &Source, tools: &ToolchainArgs, command: &str) -> Result<PathBuf, BuildError> {
    match source {
        Source::Rust(manifest) => build_rust(manifest, tools, command),
        Source::C(file) => build_c(file, tools),
        Source::Python(file) => crate::build::python::build_python(file, tools),
        Source::JavaScript(file) => crate::build::javascript::build_javascript(file, tools),
        Source::Module(path) => Err(BuildError::AlreadyModule(path.clone())),
    }
}

mod c;
pub mod componentize;
pub mod javascript;
pub mod python;
pub mod rust;

pub use c::*;
pub use rust::*;

// ---------------------------------------------------------------------------
// Describing a module

/// A module's size and entry, resolved the way the server resolves it.
#[derive(Debug, Clone)]
pub struct ModuleInfo {
    pub size: usize,
    /// The entry and its convention, or why none could be resolved.
    pub entry: Result<(String, Convention), LoadError>,
}

/// Loads `bytes` with the runtime, as a registration named `name` would.
pub fn inspect(
    bytes: &[u8],
    name: &str,
    entry: Option<&str>,
) -> Result<ModuleInfo, faas_runtime::RuntimeError> {
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_instances: 1,
        compiled_dir: local_compiled_dir(),
        ..RuntimeConfig::default()
    })?;
    let entry = runtime
        .load(bytes, name, entry)
        .map(|f| (f.entry().to_owned(), f.convention().clone()));
    let size = runtime
        .binary(bytes)
        .map(|b| b.len())
        .unwrap_or(bytes.len());
    Ok(ModuleInfo { size, entry })
}

/// The default directory for compiled code (the daemons', and `build`'s
/// and `run`'s), if it can be made private; else None, said in a warning.
pub fn local_compiled_dir() -> Option<PathBuf> {
    faas_runtime::default_compiled_dir().filter(|dir| {
        faas_runtime::prepare_compiled_dir(dir)
            .map_err(|e| tracing::warn!("not keeping compiled code: {e}"))
            .is_ok()
    })
}

/// `_start (WASI command)` or `add (i32, i32) -> (i32)`.
pub fn describe_entry(entry: &str, convention: &Convention) -> String {
    match convention {
        Convention::WasiCommand => format!("{entry} (WASI command)"),
        Convention::Handler => format!("{entry} (faas:function/handler component)"),
        Convention::Typed(sig) => format!("{entry} {sig}"),
    }
}

/// `103 bytes`, `12.3 KiB`, `1.5 MiB`.
pub fn format_size(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else {
        crate::table::size_text(bytes as u64)
    }
}

/// A path for messages, with the home directory as `~`.
pub fn tilde(path: &Path) -> String {
    match std::env::var_os("HOME").map(PathBuf::from) {
        Some(home) if !home.as_os_str().is_empty() && home != Path::new("/") => {
            match path.strip_prefix(&home) {
                Ok(rest) => format!("~/{}", rest.display()),
                Err(_) => path.display().to_string(),
            }
        }
        _ => path.display().to_string(),
    }
}

/// The module's bytes and the file they came from: a source is built first
/// (its build line goes to stderr), WAT is compiled to a binary.
pub async fn module_bytes(
    path: &Path,
    tools: &ToolchainArgs,
    command: &'static str,
) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    let source = Source::classify(path)?;
    let built = source.needs_build();
    let file = if built {
        let tools = tools.clone();
        // Compilers run for a while: off the async threads.
        tokio::task::spawn_blocking(move || build(&source, &tools, command))
            .await
            .context("the build thread failed")??
    } else if let Source::Module(file) = source {
        file
    } else {
        path.to_path_buf()
    };
    let bytes = crate::commands::deploy::read_module(&file)?;
    if built {
        eprintln!(
            "built {} ({})",
            display_path(&file),
            format_size(bytes.len())
        );
    }
    Ok((file, bytes))
}

/// A path relative to the working directory when it is under it.
pub fn display_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|rel| !rel.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(pub(crate) PathBuf);

    impl TempDir {
        pub(crate) fn new() -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("faas-build-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            TempDir(dir)
        }
        pub(crate) fn file(&self, rel: &str) -> PathBuf {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            std::fs::write(&path, b"#!/bin/sh\n").expect("file");
            path
        }
        pub(crate) fn dir(&self, rel: &str) -> PathBuf {
            let path = self.0.join(rel);
            std::fs::create_dir_all(&path).expect("dirs");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn sources_are_classified() {
        let tmp = TempDir::new();
        let manifest = tmp.file("crate/Cargo.toml");
        let c = tmp.file("f/add.c");
        let wat = tmp.file("f/add.wat");
        let empty = tmp.dir("empty");
        assert_eq!(
            Source::classify(&tmp.0.join("crate")).expect("crate"),
            Source::Rust(tmp.0.join("crate/Cargo.toml"))
        );
        assert_eq!(
            Source::classify(&manifest).expect("manifest"),
            Source::Rust(manifest.clone())
        );
        assert_eq!(Source::classify(&c).expect("c"), Source::C(c.clone()));
        assert_eq!(
            Source::classify(&wat).expect("wat"),
            Source::Module(wat.clone())
        );
        assert!(matches!(
            Source::classify(&empty),
            Err(BuildError::NoManifest(_))
        ));
        assert!(matches!(
            Source::classify(&tmp.0.join("nope.c")),
            Err(BuildError::NotFound(_))
        ));
        assert!(Source::C(c).needs_build() && !Source::Module(wat).needs_build());
        // Projects of `faas new`: a C or WAT file named like its directory, app.js.
        let project_c = tmp.file("hello/hello.c");
        assert_eq!(
            Source::classify(&tmp.0.join("hello")).expect("c project"),
            Source::C(project_c)
        );
        let project_wat = tmp.file("sum/sum.wat");
        assert_eq!(
            Source::classify(&tmp.0.join("sum")).expect("wat project"),
            Source::Module(project_wat)
        );
        let js = tmp.file("greet/app.js");
        assert_eq!(
            Source::classify(&tmp.0.join("greet")).expect("js project"),
            Source::JavaScript(js)
        );
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(format_size(103), "103 bytes");
        assert_eq!(format_size(12_595), "12.3 KiB");
        assert_eq!(format_size(3 * 1024 * 1024 / 2), "1.5 MiB");
    }

    #[test]
    fn entries_are_resolved_like_the_server_does() {
        let info = inspect(
            br#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#,
            "whatever",
            None,
        )
        .expect("runtime starts");
        let (entry, convention) = info.entry.expect("resolves");
        assert_eq!(
            describe_entry(&entry, &convention),
            "add (i32, i32) -> (i32)"
        );
        let info = inspect(
            br#"(module (func (export "_start")) (func (export "other")))"#,
            "x",
            None,
        )
        .expect("runtime");
        let (entry, convention) = info.entry.expect("resolves");
        assert_eq!(describe_entry(&entry, &convention), "_start (WASI command)");
        let info = inspect(
            br#"(module (func (export "a")) (func (export "b")))"#,
            "x",
            None,
        )
        .expect("runtime");
        assert!(matches!(info.entry, Err(LoadError::AmbiguousEntry { .. })));
    }
}

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
    #[error("{} is a directory without a Cargo.toml or an app.py; give a Rust crate, a .c, .py or .js file, or a .wasm/.wat module", .0.display())]
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
            } else if let Some(app) = crate::python::python_source(path) {
                Ok(Source::Python(app))
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
        } else if let Some(file) = crate::python::python_source(path) {
            Ok(Source::Python(file))
        } else if let Some(file) = crate::javascript::javascript_source(path) {
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

/// Builds a source and returns the path of its module. `command` is the
/// subcommand that asked (`build`, `deploy`, `run`), for the hints.
pub fn build(source: &Source, tools: &ToolchainArgs, command: &str) -> Result<PathBuf, BuildError> {
    match source {
        Source::Rust(manifest) => build_rust(manifest, tools, command),
        Source::C(file) => build_c(file, tools),
        Source::Python(file) => crate::python::build_python(file, tools),
        Source::JavaScript(file) => crate::javascript::build_javascript(file, tools),
        Source::Module(path) => Err(BuildError::AlreadyModule(path.clone())),
    }
}

// ---------------------------------------------------------------------------
// Rust: pure detection

/// A cargo and the rustc it must use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustToolchain {
    pub cargo: PathBuf,
    pub rustc: PathBuf,
}

/// The toolchains to try, in order, and (when the user chose one) the
/// system toolchain that hints may point to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustCandidates {
    /// `--cargo` / `--rustc` were given: only that toolchain is tried.
    pub chosen: bool,
    pub tried: Vec<RustToolchain>,
    /// The system toolchain when it is not among `tried`.
    pub system: Option<RustToolchain>,
}

/// `name` in the directories of a `PATH` value, if it is a file there.
pub fn find_in_path(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `name` in the directory of `tool`, if there is such a file: the rustc
/// that belongs to a cargo, and the other way round.
pub fn sibling(tool: &Path, name: &str) -> Option<PathBuf> {
    let candidate = tool.parent()?.join(name);
    candidate.is_file().then_some(candidate)
}

/// Which cargo/rustc pairs to try. With `--cargo` or `--rustc`, only the
/// chosen pair (the missing half from beside the other, else from PATH);
/// otherwise the pair on PATH, then the one in `system_bin` if it is a
/// different one.
pub fn rust_candidates(
    cargo: Option<&Path>,
    rustc: Option<&Path>,
    path_var: Option<&OsStr>,
    system_bin: &Path,
) -> RustCandidates {
    let system = {
        let (cargo, rustc) = (system_bin.join("cargo"), system_bin.join("rustc"));
        (cargo.is_file() && rustc.is_file()).then_some(RustToolchain { cargo, rustc })
    };
    let on_path = |name: &str| find_in_path(name, path_var);
    if cargo.is_some() || rustc.is_some() {
        let cargo = cargo
            .map(Path::to_path_buf)
            .or_else(|| rustc.and_then(|r| sibling(r, "cargo")))
            .or_else(|| on_path("cargo"))
            .unwrap_or_else(|| PathBuf::from("cargo"));
        let rustc = rustc
            .map(Path::to_path_buf)
            .or_else(|| sibling(&cargo, "rustc"))
            .or_else(|| on_path("rustc"))
            .unwrap_or_else(|| PathBuf::from("rustc"));
        let chosen = RustToolchain { cargo, rustc };
        let system = system.filter(|s| !same_file(&s.cargo, &chosen.cargo));
        return RustCandidates {
            chosen: true,
            tried: vec![chosen],
            system,
        };
    }
    let mut tried = Vec::new();
    if let Some(cargo) = on_path("cargo") {
        let rustc = on_path("rustc")
            .or_else(|| sibling(&cargo, "rustc"))
            .unwrap_or_else(|| PathBuf::from("rustc"));
        tried.push(RustToolchain { cargo, rustc });
    }
    if let Some(system) = system {
        if !tried.iter().any(|t| same_file(&t.cargo, &system.cargo)) {
            tried.push(system);
        }
    }
    RustCandidates {
        chosen: false,
        tried,
        system: None,
    }
}

/// A program path exists: a file, or a bare name found on PATH.
fn program_exists(program: &Path) -> bool {
    if program.components().count() == 1 && !program.is_absolute() {
        find_in_path(
            &program.to_string_lossy(),
            std::env::var_os("PATH").as_deref(),
        )
        .is_some()
    } else {
        program.is_file()
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Whether `sysroot` has the standard library of `target`.
pub fn target_installed(sysroot: &Path, target: &str) -> bool {
    sysroot
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

/// The wasm32 targets a sysroot has, sorted.
pub fn wasm_targets(sysroot: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(sysroot.join("lib/rustlib")) else {
        return Vec::new();
    };
    let mut targets: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|name| name.starts_with("wasm32") && target_installed(sysroot, name))
        .collect();
    targets.sort();
    targets
}

/// The target to build for: the requested one if installed; else the first
/// of [`DEFAULT_TARGETS`] that is.
pub fn choose_target(sysroot: &Path, requested: Option<&str>) -> Option<String> {
    match requested {
        Some(target) => target_installed(sysroot, target).then(|| target.to_owned()),
        None => DEFAULT_TARGETS
            .iter()
            .find(|t| target_installed(sysroot, t))
            .map(|t| (*t).to_owned()),
    }
}

/// Whether a sysroot belongs to a rustup toolchain (so `rustup target add` applies).
pub fn is_rustup_sysroot(sysroot: &Path, rustup_home: Option<&Path>) -> bool {
    sysroot
        .components()
        .any(|c| c.as_os_str() == OsStr::new(".rustup"))
        || rustup_home.is_some_and(|home| sysroot.starts_with(home))
}

/// Whether a cargo is the distribution's (Debian's cannot fetch crates, so
/// it runs `--offline`).
pub fn is_system_cargo(cargo: &Path) -> bool {
    let real = cargo.canonicalize().unwrap_or_else(|_| cargo.to_path_buf());
    real.starts_with("/usr/bin") || real.starts_with("/usr/lib")
}

/// What one toolchain turned out to have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustProbe {
    pub toolchain: RustToolchain,
    /// None when rustc could not be run.
    pub sysroot: Option<PathBuf>,
    pub wasm_targets: Vec<String>,
    pub rustup: bool,
}

impl RustProbe {
    /// Probes from a sysroot (or none): the pure half of [`probe_rust`].
    pub fn from_sysroot(
        toolchain: RustToolchain,
        sysroot: Option<PathBuf>,
        rustup_home: Option<&Path>,
    ) -> RustProbe {
        let wasm_targets = sysroot.as_deref().map(wasm_targets).unwrap_or_default();
        let rustup = sysroot
            .as_deref()
            .is_some_and(|s| is_rustup_sysroot(s, rustup_home));
        RustProbe {
            toolchain,
            sysroot,
            wasm_targets,
            rustup,
        }
    }

    fn target(&self, requested: Option<&str>) -> Option<String> {
        choose_target(self.sysroot.as_deref()?, requested)
    }
}

/// The message when no toolchain tried has the target: which toolchains were
/// looked at, and each way to fix it. `system` is the system toolchain when
/// it was not tried (the user chose another); `system_bin` where it would be.
pub fn rust_target_hint(
    tried: &[RustProbe],
    system: Option<&RustProbe>,
    requested: Option<&str>,
    command: &str,
    system_bin: &Path,
) -> String {
    let want = requested.unwrap_or(DEFAULT_TARGETS[0]);
    if tried.is_empty() {
        return format!(
            "no Rust toolchain found (no `cargo` on PATH or in {}): install one with rustup \
             (https://rustup.rs) and run `rustup target add {want}`, or install Debian's packages (`{APT_RUST}`)",
            system_bin.display()
        );
    }
    let what = match requested {
        Some(t) => format!("no `{t}` target"),
        None => "no wasm32 target".to_owned(),
    };
    let places = tried
        .iter()
        .map(|p| {
            let rustc = tilde(&p.toolchain.rustc);
            match (&p.sysroot, p.wasm_targets.as_slice()) {
                (None, _) => format!("{rustc} (which did not run)"),
                (Some(_), []) => rustc,
                (Some(_), has) => format!("{rustc} (it has {})", has.join(", ")),
            }
        })
        .collect::<Vec<_>>()
        .join(" or at ");
    let plural = if tried.len() > 1 { "s" } else { "" };
    let mut fixes = Vec::new();
    if tried.iter().any(|p| p.rustup) {
        fixes.push(format!("run `rustup target add {want}`"));
    }
    let system_cargo = system_bin.join("cargo");
    let cargo_flag = |probe: &RustProbe| format!(" --cargo {}", tilde(&probe.toolchain.cargo));
    // A toolchain that has other wasm targets: use one of them (a WASI one first).
    if requested.is_some() {
        for probe in tried.iter().chain(system) {
            let preferred = DEFAULT_TARGETS
                .iter()
                .find(|t| probe.wasm_targets.iter().any(|w| w == *t))
                .map(|t| (*t).to_owned());
            if let Some(other) = preferred.as_ref().or(probe.wasm_targets.first()) {
                fixes.push(format!(
                    "run `faas {command}{} --target {other}`",
                    cargo_flag(probe)
                ));
            }
        }
    }
    let system_probe = tried
        .iter()
        .chain(system)
        .find(|p| same_file(&p.toolchain.cargo, &system_cargo));
    match system_probe {
        // The system toolchain works for the default target: point to it.
        Some(p) if requested.is_none() && !p.wasm_targets.is_empty() => {
            fixes.push(format!("run `faas {command}{}`", cargo_flag(p)));
        }
        Some(p) if p.sysroot.is_some() && p.wasm_targets.is_empty() => fixes.push(
            "install Debian's wasm32 standard library (`apt-get install libstd-rust-dev-wasm32`)"
                .to_owned(),
        ),
        Some(_) => {}
        None => {
            let target = match requested {
                Some(t) if t != "wasm32-wasi" && t != "wasm32-unknown-unknown" => {
                    " --target wasm32-wasi"
                }
                _ => "",
            };
            fixes.push(format!(
                "install Debian's packages (`{APT_RUST}`) and run `faas {command} --cargo {}{target}`",
                system_cargo.display()
            ));
        }
    }
    if !tried.iter().any(|p| p.rustup)
        && system_probe.is_none_or(|p| !same_file(&p.toolchain.cargo, &tried[0].toolchain.cargo))
    {
        fixes.insert(
            0,
            format!(
                "install the `{want}` standard library into the toolchain at {}",
                tilde(&tried[0].toolchain.rustc)
            ),
        );
    }
    format!(
        "{what} for the Rust toolchain{plural} at {places}: {}",
        fixes.join(", or ")
    )
}

/// The `.wasm` files of cargo's `compiler-artifact` messages (JSON lines),
/// those of the package at `manifest` if any are, else all of them.
pub fn wasm_artifacts(messages: &str, manifest: Option<&Path>) -> Vec<PathBuf> {
    let mut own = Vec::new();
    let mut all = Vec::new();
    for line in messages.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg.get("reason").and_then(|r| r.as_str()) != Some("compiler-artifact") {
            continue;
        }
        let is_own = match (manifest, msg.get("manifest_path").and_then(|m| m.as_str())) {
            (Some(manifest), Some(path)) => same_file(Path::new(path), manifest),
            _ => false,
        };
        let files = msg
            .get("filenames")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .filter(|f| f.ends_with(".wasm"))
            .map(PathBuf::from);
        for file in files {
            if is_own && !own.contains(&file) {
                own.push(file.clone());
            }
            if !all.contains(&file) {
                all.push(file);
            }
        }
    }
    if own.is_empty() {
        all
    } else {
        own
    }
}

// ---------------------------------------------------------------------------
// Rust: processes

/// Runs `rustc --print sysroot` in `dir` (so a rust-toolchain file there applies).
fn rustc_sysroot(rustc: &Path, dir: &Path) -> Result<PathBuf, BuildError> {
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| BuildError::Spawn {
            program: rustc.display().to_string(),
            error,
        })?;
    if !out.status.success() {
        return Err(BuildError::Toolchain(format!(
            "{} --print sysroot failed ({}): {}",
            rustc.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn probe_rust(toolchain: &RustToolchain, dir: &Path) -> (RustProbe, Option<BuildError>) {
    let rustup_home = std::env::var_os("RUSTUP_HOME").map(PathBuf::from);
    match rustc_sysroot(&toolchain.rustc, dir) {
        Ok(sysroot) => (
            RustProbe::from_sysroot(toolchain.clone(), Some(sysroot), rustup_home.as_deref()),
            None,
        ),
        Err(e) => (
            RustProbe::from_sysroot(toolchain.clone(), None, rustup_home.as_deref()),
            Some(e),
        ),
    }
}

fn build_rust(
    manifest: &Path,
    tools: &ToolchainArgs,
    command: &str,
) -> Result<PathBuf, BuildError> {
    let dir = match manifest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let system_bin = Path::new(SYSTEM_BIN);
    let path_var = std::env::var_os("PATH");
    let candidates = rust_candidates(
        tools.cargo.as_deref(),
        tools.rustc.as_deref(),
        path_var.as_deref(),
        system_bin,
    );
    if let (true, Some(chosen)) = (candidates.chosen, candidates.tried.first()) {
        for (what, program) in [("cargo", &chosen.cargo), ("rustc", &chosen.rustc)] {
            if !program_exists(program) {
                return Err(BuildError::Toolchain(format!(
                    "no {what} at {}: give the path of an installed one, or leave --cargo/--rustc out to use the one on PATH",
                    program.display()
                )));
            }
        }
    }
    let requested = tools.target.as_deref();
    let mut probes = Vec::new();
    let mut chosen = None;
    for toolchain in &candidates.tried {
        let (probe, error) = probe_rust(toolchain, &dir);
        // A toolchain the user named must run; others are skipped quietly.
        if let (true, Some(error)) = (candidates.chosen, error) {
            return Err(error);
        }
        if let Some(target) = probe.target(requested) {
            chosen = Some((probe, target));
            break;
        }
        probes.push(probe);
    }
    let Some((probe, target)) = chosen else {
        let system = candidates.system.as_ref().map(|s| probe_rust(s, &dir).0);
        return Err(BuildError::Toolchain(rust_target_hint(
            &probes,
            system.as_ref(),
            requested,
            command,
            system_bin,
        )));
    };
    run_cargo(manifest, &probe.toolchain, &target)
}

fn run_cargo(
    manifest: &Path,
    toolchain: &RustToolchain,
    target: &str,
) -> Result<PathBuf, BuildError> {
    let mut cmd = Command::new(&toolchain.cargo);
    cmd.args(["build", "--release", "--target", target])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(manifest)
        // The rustc that was probed, not whichever is first on PATH.
        .env("RUSTC", &toolchain.rustc)
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Progress and the user's compile errors, as cargo renders them.
        .stderr(Stdio::inherit());
    if is_system_cargo(&toolchain.cargo) {
        cmd.arg("--offline");
    }
    let program = toolchain.cargo.display().to_string();
    let mut child = cmd.spawn().map_err(|error| BuildError::Spawn {
        program: program.clone(),
        error,
    })?;
    let mut messages = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|error| BuildError::Spawn {
                program: program.clone(),
                error,
            })?;
            messages.push_str(&line);
            messages.push('\n');
        }
    }
    let status = child
        .wait()
        .map_err(|error| BuildError::Spawn { program, error })?;
    if !status.success() {
        return Err(BuildError::Failed {
            what: "cargo build".into(),
            status: status.to_string(),
        });
    }
    let mut artifacts = wasm_artifacts(&messages, Some(manifest));
    match artifacts.len() {
        0 => Err(BuildError::NoArtifact(manifest.to_path_buf())),
        1 => Ok(artifacts.remove(0)),
        _ => Err(BuildError::SeveralArtifacts(artifacts)),
    }
}

// ---------------------------------------------------------------------------
// C

/// What a clang can do for wasm32-wasi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CProbe {
    pub clang: PathBuf,
    /// Major version (`clang -dumpversion`), for the compiler-rt package name.
    pub major: Option<u32>,
    pub wasm_ld: bool,
    /// The WASI sysroot to pass, or `Some(None)` when clang finds wasi-libc
    /// by itself; `None` when there is none.
    pub sysroot: Option<Option<PathBuf>>,
    /// `libclang_rt.builtins-wasm32.a` is where clang looks for it.
    pub builtins: bool,
}

/// Debian's packages for C guests, for a clang of `major` version.
pub fn apt_c(major: Option<u32>) -> String {
    format!(
        "apt-get install clang lld wasi-libc libclang-rt-{}-dev-wasm32",
        major.unwrap_or(14)
    )
}

/// The message when clang cannot build for wasm32-wasi, if it cannot.
pub fn c_hint(probe: &CProbe) -> Option<String> {
    let mut missing = Vec::new();
    let mut packages = Vec::new();
    if !probe.wasm_ld {
        missing.push("no wasm-ld linker");
        packages.push("lld".to_owned());
    }
    if probe.sysroot.is_none() {
        missing.push("no WASI libc");
        packages.push("wasi-libc".to_owned());
    }
    if !probe.builtins {
        missing.push("no wasm32 compiler-rt builtins");
        packages.push(format!(
            "libclang-rt-{}-dev-wasm32",
            probe.major.unwrap_or(14)
        ));
    }
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "clang at {} cannot build for {C_TARGET} ({}): `apt-get install {}`, or install wasi-sdk \
         and pass `--clang /opt/wasi-sdk/bin/clang` (and `--sysroot` if its libc is elsewhere)",
        tilde(&probe.clang),
        missing.join(", "),
        packages.join(" ")
    ))
}

/// Whether C source defines `main` (a WASI command); if not, it is linked
/// as a reactor whose exported functions are called directly.
pub fn defines_main(source: &str) -> bool {
    let code = strip_c_comments_and_strings(source);
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find("main") {
        let start = from + at;
        let end = start + 4;
        let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let before_ok = start == 0 || !ident(bytes[start - 1]);
        let after = code[end..].trim_start();
        if before_ok && after.starts_with('(') && !bytes.get(end).copied().is_some_and(ident) {
            return true;
        }
        from = end;
    }
    false
}

fn strip_c_comments_and_strings(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                out.push(' ');
            }
            '"' | '\'' => {
                let quote = c;
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        chars.next();
                    } else if c == quote {
                        break;
                    }
                }
                out.push(' ');
            }
            c => out.push(c),
        }
    }
    out
}

/// Where the module built from one source file (C, Python) goes:
/// `target/<stem>.wasm` beside it.
pub fn single_file_output(file: &Path) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut name = file.file_stem().unwrap_or(OsStr::new("module")).to_owned();
    name.push(".wasm");
    dir.join("target").join(name)
}

/// Runs `clang ARGS` and returns its trimmed stdout, None if it fails.
fn clang_print(clang: &Path, args: &[&OsStr]) -> Option<String> {
    let out = Command::new(clang)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Whether a `-print-*` answer names a file that exists (clang echoes the
/// bare name when it finds nothing).
fn found_file(answer: Option<String>) -> bool {
    answer.is_some_and(|a| Path::new(&a).is_absolute() && Path::new(&a).is_file())
}

fn probe_c(clang: &Path, sysroot: Option<&Path>) -> CProbe {
    let target = OsStr::new("--target=wasm32-wasi");
    let major = clang_print(clang, &[OsStr::new("-dumpversion")])
        .and_then(|v| v.split('.').next().and_then(|m| m.parse().ok()));
    let wasm_ld = found_file(clang_print(
        clang,
        &[target, OsStr::new("-print-prog-name=wasm-ld")],
    ));
    let has_libc = |root: Option<&Path>| {
        let mut args = vec![target.to_owned()];
        if let Some(root) = root {
            let mut flag = std::ffi::OsString::from("--sysroot=");
            flag.push(root);
            args.push(flag);
        }
        args.push("-print-file-name=libc.a".into());
        let refs: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        found_file(clang_print(clang, &refs))
    };
    let sysroot = match sysroot {
        Some(given) => has_libc(Some(given)).then(|| Some(given.to_path_buf())),
        None if has_libc(None) => Some(None),
        None => C_SYSROOTS
            .iter()
            .map(Path::new)
            .find(|root| root.join("lib/wasm32-wasi/libc.a").is_file())
            .map(|root| Some(root.to_path_buf())),
    };
    let builtins = found_file(clang_print(
        clang,
        &[target, OsStr::new("-print-libgcc-file-name")],
    ));
    CProbe {
        clang: clang.to_path_buf(),
        major,
        wasm_ld,
        sysroot,
        builtins,
    }
}

fn build_c(file: &Path, tools: &ToolchainArgs) -> Result<PathBuf, BuildError> {
    let path_var = std::env::var_os("PATH");
    let missing = |what: String| {
        BuildError::Toolchain(format!(
            "{what}: `{}`, or install wasi-sdk and pass `--clang /opt/wasi-sdk/bin/clang`",
            apt_c(None)
        ))
    };
    let clang = match &tools.clang {
        // A bare name (`clang-14`) is looked up on PATH.
        Some(name) if name.components().count() == 1 => {
            find_in_path(&name.to_string_lossy(), path_var.as_deref())
                .ok_or_else(|| missing(format!("no {} on PATH", name.display())))?
        }
        Some(path) if path.is_file() => path.clone(),
        Some(path) => return Err(missing(format!("no clang at {}", path.display()))),
        None => find_in_path("clang", path_var.as_deref())
            .ok_or_else(|| missing("no clang found on PATH".into()))?,
    };
    if let Some(given) = &tools.sysroot {
        if !given.is_dir() {
            return Err(BuildError::NotFound(given.clone()));
        }
    }
    let probe = probe_c(&clang, tools.sysroot.as_deref());
    if let Some(hint) = c_hint(&probe) {
        return Err(BuildError::Toolchain(hint));
    }
    let source = std::fs::read_to_string(file).map_err(|error| BuildError::Io {
        what: "cannot read",
        path: file.to_path_buf(),
        error,
    })?;
    let out = single_file_output(file);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|error| BuildError::Io {
            what: "cannot create",
            path: dir.to_path_buf(),
            error,
        })?;
    }
    let mut cmd = Command::new(&clang);
    cmd.arg(format!("--target={C_TARGET}")).arg("-O2");
    if let Some(Some(root)) = &probe.sysroot {
        let mut flag = std::ffi::OsString::from("--sysroot=");
        flag.push(root);
        cmd.arg(flag);
    }
    if !defines_main(&source) {
        cmd.arg("-mexec-model=reactor");
    }
    cmd.arg("-Wl,--strip-all")
        .arg("-o")
        .arg(&out)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let status = cmd.status().map_err(|error| BuildError::Spawn {
        program: clang.display().to_string(),
        error,
    })?;
    if !status.success() {
        return Err(BuildError::Failed {
            what: "clang".into(),
            status: status.to_string(),
        });
    }
    Ok(out)
}

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
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / (KIB * KIB))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("faas-build-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            TempDir(dir)
        }
        fn file(&self, rel: &str) -> PathBuf {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            std::fs::write(&path, b"#!/bin/sh\n").expect("file");
            path
        }
        fn dir(&self, rel: &str) -> PathBuf {
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

    /// A sysroot with the standard libraries of `targets`.
    fn sysroot(tmp: &TempDir, rel: &str, targets: &[&str]) -> PathBuf {
        let root = tmp.dir(rel);
        tmp.dir(&format!("{rel}/lib/rustlib/x86_64-unknown-linux-gnu/lib"));
        for t in targets {
            tmp.dir(&format!("{rel}/lib/rustlib/{t}/lib"));
        }
        root
    }

    #[test]
    fn targets_are_read_from_the_sysroot() {
        let tmp = TempDir::new();
        let bare = sysroot(&tmp, "bare", &[]);
        let debian = sysroot(&tmp, "debian", &["wasm32-wasi", "wasm32-unknown-unknown"]);
        let modern = sysroot(&tmp, "modern", &["wasm32-wasip1", "wasm32-wasi"]);
        // A target directory without its lib/ is not installed.
        tmp.dir("bare/lib/rustlib/wasm32-wasip1");

        assert!(!target_installed(&bare, "wasm32-wasip1"));
        assert!(wasm_targets(&bare).is_empty());
        assert_eq!(
            wasm_targets(&debian),
            ["wasm32-unknown-unknown", "wasm32-wasi"]
        );
        assert!(wasm_targets(&tmp.0.join("missing")).is_empty());

        assert_eq!(choose_target(&bare, None), None);
        assert_eq!(choose_target(&debian, None).as_deref(), Some("wasm32-wasi"));
        assert_eq!(
            choose_target(&modern, None).as_deref(),
            Some("wasm32-wasip1")
        );
        assert_eq!(
            choose_target(&modern, Some("wasm32-wasi")).as_deref(),
            Some("wasm32-wasi")
        );
        assert_eq!(choose_target(&debian, Some("wasm32-wasip1")), None);
        assert_eq!(
            choose_target(&debian, Some("wasm32-unknown-unknown")).as_deref(),
            Some("wasm32-unknown-unknown")
        );
    }

    #[test]
    fn rustup_sysroots_are_recognized() {
        let rustup = Path::new("/home/u/.rustup/toolchains/stable-x86_64-unknown-linux-gnu");
        assert!(is_rustup_sysroot(rustup, None));
        assert!(!is_rustup_sysroot(Path::new("/usr"), None));
        let custom = Path::new("/opt/rustup/toolchains/stable");
        assert!(is_rustup_sysroot(custom, Some(Path::new("/opt/rustup"))));
        assert!(!is_rustup_sysroot(custom, Some(Path::new("/srv/rustup"))));
    }

    #[test]
    fn path_toolchain_first_then_the_system_one() {
        let tmp = TempDir::new();
        let cargo = tmp.file("home/.cargo/bin/cargo");
        let rustc = tmp.file("home/.cargo/bin/rustc");
        let sys_cargo = tmp.file("usr/bin/cargo");
        let sys_rustc = tmp.file("usr/bin/rustc");
        let path_var = std::env::join_paths([
            tmp.0.join("nothing"),
            tmp.0.join("home/.cargo/bin"),
            tmp.0.join("usr/bin"),
        ])
        .expect("joins");
        let sys_bin = tmp.0.join("usr/bin");

        let c = rust_candidates(None, None, Some(&path_var), &sys_bin);
        assert!(!c.chosen);
        assert_eq!(
            c.tried,
            [
                RustToolchain {
                    cargo: cargo.clone(),
                    rustc: rustc.clone()
                },
                RustToolchain {
                    cargo: sys_cargo.clone(),
                    rustc: sys_rustc.clone()
                },
            ]
        );

        // Only the system toolchain on PATH: tried once.
        let only_sys = std::env::join_paths([&sys_bin]).expect("joins");
        let c = rust_candidates(None, None, Some(&only_sys), &sys_bin);
        assert_eq!(c.tried.len(), 1);

        // No cargo anywhere.
        let c = rust_candidates(None, None, Some(OsStr::new("")), &tmp.0.join("none"));
        assert!(c.tried.is_empty());
    }

    #[test]
    fn a_chosen_cargo_brings_its_own_rustc() {
        let tmp = TempDir::new();
        let cargo = tmp.file("home/.cargo/bin/cargo");
        let rustc = tmp.file("home/.cargo/bin/rustc");
        let sys_cargo = tmp.file("usr/bin/cargo");
        let sys_rustc = tmp.file("usr/bin/rustc");
        let path_var = std::env::join_paths([tmp.0.join("home/.cargo/bin")]).expect("joins");
        let sys_bin = tmp.0.join("usr/bin");

        // --cargo /usr/bin/cargo: the rustc beside it, not the one on PATH.
        let c = rust_candidates(Some(&sys_cargo), None, Some(&path_var), &sys_bin);
        assert!(c.chosen);
        assert_eq!(
            c.tried,
            [RustToolchain {
                cargo: sys_cargo.clone(),
                rustc: sys_rustc.clone()
            }]
        );
        assert_eq!(c.system, None);

        // --cargo ~/.cargo/bin/cargo: the system toolchain is kept for hints.
        let c = rust_candidates(Some(&cargo), None, Some(&path_var), &sys_bin);
        assert_eq!(
            c.tried,
            [RustToolchain {
                cargo: cargo.clone(),
                rustc: rustc.clone()
            }]
        );
        assert_eq!(
            c.system,
            Some(RustToolchain {
                cargo: sys_cargo.clone(),
                rustc: sys_rustc.clone()
            })
        );

        // --rustc alone: the cargo beside it.
        let c = rust_candidates(None, Some(&sys_rustc), Some(&path_var), &sys_bin);
        assert_eq!(
            c.tried,
            [RustToolchain {
                cargo: sys_cargo,
                rustc: sys_rustc.clone()
            }]
        );

        // A lone cargo without a rustc beside it: rustc from PATH.
        let lone = tmp.file("lone/cargo");
        let c = rust_candidates(Some(&lone), None, Some(&path_var), &sys_bin);
        assert_eq!(c.tried, [RustToolchain { cargo: lone, rustc }]);
    }

    fn probe(tmp: &TempDir, bin: &str, root: &str, targets: &[&str]) -> RustProbe {
        let toolchain = RustToolchain {
            cargo: tmp.0.join(bin).join("cargo"),
            rustc: tmp.0.join(bin).join("rustc"),
        };
        let root = sysroot(tmp, root, targets);
        RustProbe::from_sysroot(toolchain, Some(root), None)
    }

    #[test]
    fn hint_for_a_rustup_toolchain_without_wasm() {
        let tmp = TempDir::new();
        let rustup = probe(&tmp, "cargo-home/bin", ".rustup/toolchains/stable", &[]);
        assert!(rustup.rustup && rustup.wasm_targets.is_empty());
        let sys_bin = tmp.0.join("usr/bin"); // absent
        let hint = rust_target_hint(&[rustup], None, None, "build", &sys_bin);
        assert!(
            hint.starts_with("no wasm32 target for the Rust toolchain at "),
            "{hint}"
        );
        assert!(
            hint.contains("run `rustup target add wasm32-wasip1`"),
            "{hint}"
        );
        assert!(hint.contains(APT_RUST), "{hint}");
        assert!(
            hint.contains(&format!(
                "run `faas build --cargo {}`",
                sys_bin.join("cargo").display()
            )),
            "{hint}"
        );
    }

    #[test]
    fn hint_points_to_a_system_toolchain_that_has_the_target() {
        let tmp = TempDir::new();
        tmp.file("usr/bin/cargo");
        let rustup = probe(&tmp, "cargo-home/bin", ".rustup/toolchains/stable", &[]);
        let debian = probe(
            &tmp,
            "usr/bin",
            "usr",
            &["wasm32-unknown-unknown", "wasm32-wasi"],
        );
        let sys_bin = tmp.0.join("usr/bin");
        // The user chose the rustup cargo, asking for wasip1.
        let hint = rust_target_hint(
            std::slice::from_ref(&rustup),
            Some(&debian),
            Some("wasm32-wasip1"),
            "deploy",
            &sys_bin,
        );
        assert!(
            hint.starts_with("no `wasm32-wasip1` target for the Rust toolchain at "),
            "{hint}"
        );
        assert!(hint.contains("rustup target add wasm32-wasip1"), "{hint}");
        assert!(
            hint.contains(&format!(
                "faas deploy --cargo {} --target wasm32-wasi",
                sys_bin.join("cargo").display()
            )),
            "{hint}"
        );
        assert!(!hint.contains("apt-get"), "{hint}");
        // Without a target asked for, plain --cargo does it.
        let hint = rust_target_hint(&[rustup], Some(&debian), None, "build", &sys_bin);
        assert!(
            hint.contains(&format!(
                "run `faas build --cargo {}`",
                sys_bin.join("cargo").display()
            )),
            "{hint}"
        );
    }

    #[test]
    fn hint_for_a_system_toolchain_without_its_wasm_library() {
        let tmp = TempDir::new();
        tmp.file("usr/bin/cargo");
        let debian = probe(&tmp, "usr/bin", "usr", &[]);
        let sys_bin = tmp.0.join("usr/bin");
        let hint = rust_target_hint(&[debian], None, None, "build", &sys_bin);
        assert!(
            hint.contains("apt-get install libstd-rust-dev-wasm32"),
            "{hint}"
        );
        assert!(!hint.contains("rustup"), "{hint}");
    }

    #[test]
    fn hint_when_both_toolchains_lack_the_requested_target() {
        let tmp = TempDir::new();
        tmp.file("usr/bin/cargo");
        let rustup = probe(&tmp, "cargo-home/bin", ".rustup/toolchains/stable", &[]);
        let debian = probe(&tmp, "usr/bin", "usr", &["wasm32-wasi"]);
        let sys_bin = tmp.0.join("usr/bin");
        let hint = rust_target_hint(
            &[rustup, debian],
            None,
            Some("wasm32-wasip1"),
            "build",
            &sys_bin,
        );
        assert!(hint.contains("toolchains at "), "{hint}");
        assert!(hint.contains("(it has wasm32-wasi)"), "{hint}");
        assert!(hint.contains("rustup target add wasm32-wasip1"), "{hint}");
        assert!(hint.contains("--target wasm32-wasi`"), "{hint}");
    }

    #[test]
    fn hint_when_there_is_no_toolchain() {
        let hint = rust_target_hint(&[], None, None, "build", Path::new("/usr/bin"));
        assert!(hint.starts_with("no Rust toolchain found"), "{hint}");
        assert!(
            hint.contains("rustup target add wasm32-wasip1") && hint.contains(APT_RUST),
            "{hint}"
        );
    }

    #[test]
    fn artifacts_come_from_cargo_messages() {
        let tmp = TempDir::new();
        let manifest = tmp.file("crate/Cargo.toml");
        let other = tmp.file("dep/Cargo.toml");
        let msg = |manifest: &Path, files: &[&str]| {
            serde_json::json!({
                "reason": "compiler-artifact",
                "manifest_path": manifest,
                "filenames": files,
            })
            .to_string()
        };
        let messages = [
            "   Compiling noise (not JSON)".to_owned(),
            msg(&other, &["/t/libdep.rlib", "/t/dep_helper.wasm"]),
            msg(&manifest, &["/t/wasm32-wasi/release/noop.wasm"]),
            r#"{"reason":"build-finished","success":true}"#.to_owned(),
        ]
        .join("\n");
        assert_eq!(
            wasm_artifacts(&messages, Some(&manifest)),
            [PathBuf::from("/t/wasm32-wasi/release/noop.wasm")]
        );
        // When the manifest matches nothing, every .wasm counts.
        assert_eq!(
            wasm_artifacts(&messages, Some(&tmp.0.join("x/Cargo.toml"))).len(),
            2
        );
        assert!(wasm_artifacts("", None).is_empty());
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
    }

    #[test]
    fn c_hint_names_the_missing_packages() {
        let full = CProbe {
            clang: PathBuf::from("/usr/bin/clang"),
            major: Some(14),
            wasm_ld: true,
            sysroot: Some(None),
            builtins: true,
        };
        assert_eq!(c_hint(&full), None);
        let bare = CProbe {
            wasm_ld: false,
            sysroot: None,
            builtins: false,
            major: Some(16),
            ..full.clone()
        };
        let hint = c_hint(&bare).expect("a hint");
        assert!(
            hint.contains("`apt-get install lld wasi-libc libclang-rt-16-dev-wasm32`"),
            "{hint}"
        );
        let no_rt = CProbe {
            builtins: false,
            ..full
        };
        let hint = c_hint(&no_rt).expect("a hint");
        assert!(
            hint.contains("`apt-get install libclang-rt-14-dev-wasm32`"),
            "{hint}"
        );
        assert!(hint.contains("compiler-rt"), "{hint}");
    }

    #[test]
    fn main_is_found_in_code_only() {
        assert!(defines_main("int main(void) { return 0; }"));
        assert!(defines_main("int\nmain (int argc, char **argv)\n{}"));
        assert!(!defines_main(
            "__attribute__((export_name(\"add\"))) int add(int a, int b) { return a + b; }"
        ));
        assert!(!defines_main("// int main() {}\nint f(void);"));
        assert!(!defines_main(
            "/* main() */ int domain(void); int main_loop(void);"
        ));
        assert!(!defines_main("const char *s = \"main()\";"));
    }

    #[test]
    fn c_modules_go_to_target_beside_the_source() {
        assert_eq!(
            single_file_output(Path::new("examples/c/hello.c")),
            PathBuf::from("examples/c/target/hello.wasm")
        );
        assert_eq!(
            single_file_output(Path::new("hello.c")),
            PathBuf::from("target/hello.wasm")
        );
        assert_eq!(
            single_file_output(Path::new("/x/my.fn.c")),
            PathBuf::from("/x/target/my.fn.wasm")
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

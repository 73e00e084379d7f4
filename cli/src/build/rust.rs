//! Rust crates to modules: which cargo and rustc to use and whether they
//! have a wasm target (pure functions, fed by probes of the tools), then
//! `cargo build --release` with the module read from cargo's messages.

use super::*;

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

pub(super) fn build_rust(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::tests::TempDir;

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
}

//! C files to modules: clang for wasm32-wasi with wasi-libc, probed first so
//! that a missing package is named rather than a compiler error shown.

use super::*;

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

pub(super) fn build_c(file: &Path, tools: &ToolchainArgs) -> Result<PathBuf, BuildError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

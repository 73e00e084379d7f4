//! Builds the bundled libzmq with CURVE: the one change from upstream
//! zmq-sys 0.12.0, whose build script passes `with_libsodium(None)`.
//!
//! libsodium is linked statically (`static=sodium`), so the binary needs no
//! libzmq or libsodium at run time. Without it, libzmq is built without
//! CURVE (with a warning). Where it is found, first hit wins:
//! `SODIUM_LIB_DIR` + `SODIUM_INCLUDE_DIR`; `pkg-config libsodium`; Debian's
//! multiarch directory and `/usr/include` (`apt-get install libsodium-dev`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn from_env() -> Option<(PathBuf, PathBuf)> {
    let lib = env::var_os("SODIUM_LIB_DIR")?;
    let include = env::var_os("SODIUM_INCLUDE_DIR")?;
    Some((PathBuf::from(lib), PathBuf::from(include)))
}

fn pkg_config_var(name: &str) -> Option<PathBuf> {
    let out = Command::new("pkg-config")
        .args(["--variable", name, "libsodium"])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    if !out.status.success() || text.is_empty() {
        return None;
    }
    Some(PathBuf::from(text))
}

fn from_pkg_config() -> Option<(PathBuf, PathBuf)> {
    Some((pkg_config_var("libdir")?, pkg_config_var("includedir")?))
}

fn from_debian() -> Option<(PathBuf, PathBuf)> {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").ok()?;
    let os = env::var("CARGO_CFG_TARGET_OS").ok()?;
    let env_ = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let triple = format!("{arch}-{os}-{env_}");
    let lib = Path::new("/usr/lib").join(triple);
    Some((lib, PathBuf::from("/usr/include")))
}

fn usable((lib, include): &(PathBuf, PathBuf)) -> bool {
    lib.join("libsodium.a").is_file() && include.join("sodium.h").is_file()
}

fn main() {
    println!("cargo:rerun-if-changed=build/main.rs");
    println!("cargo:rerun-if-env-changed=PROFILE");
    println!("cargo:rerun-if-env-changed=SODIUM_LIB_DIR");
    println!("cargo:rerun-if-env-changed=SODIUM_INCLUDE_DIR");

    let candidates = [from_env(), from_pkg_config(), from_debian()];
    let found = candidates.iter().flatten().find(|c| usable(c)).cloned();
    let Some((lib, include)) = found else {
        // Still build: `faas up` (local mode) needs no CURVE, and the README's
        // first command must work on a machine without libsodium. A push or
        // pull dispatcher or worker then says CURVE is missing at start.
        println!(
            "cargo:warning=libsodium (static library and headers) not found: libzmq is built \
             WITHOUT CURVE, so the worker port can only run with --no-curve. Install it \
             (Debian/Ubuntu: `apt-get install libsodium-dev`) or set SODIUM_LIB_DIR (holding \
             libsodium.a) and SODIUM_INCLUDE_DIR (holding sodium.h), then rebuild."
        );
        zeromq_src::Build::new().build();
        return;
    };
    println!("cargo:rerun-if-changed={}", lib.join("libsodium.a").display());
    zeromq_src::Build::new()
        .with_libsodium(Some(zeromq_src::LibLocation::new(&lib, include)))
        .build();
    // zeromq-src 0.2.6 prints this path with `{:?}` (quoted), which the
    // linker cannot use; say it again, plainly, after libzmq's own.
    println!("cargo:rustc-link-search=native={}", lib.display());
}

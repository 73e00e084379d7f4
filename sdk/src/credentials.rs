//! Where the `faas` command keeps what it must remember between runs on
//! one machine: the API token a server wrote on its first start, and the
//! worker port's CURVE keys. One directory, private to the user.

use std::path::PathBuf;

/// The directory: `$FAAS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/faas`, else
/// `~/.config/faas`.
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FAAS_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("faas");
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".config").join("faas")
}

//! Where the `faas` command keeps what it must remember between runs on
//! one machine: the API token a server wrote on its first start, and the
//! worker port's CURVE keys. One directory, private to the user.

use std::path::{Path, PathBuf};

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

/// The file of API tokens by server URL, in the config directory.
pub fn credentials_file() -> PathBuf {
    config_dir().join("credentials")
}

/// A server URL as the credentials file names it: no trailing slash, and
/// `localhost` as `127.0.0.1`.
fn normalize(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest
                .strip_prefix("localhost")
                .map_or_else(|| rest.to_string(), |after| format!("127.0.0.1{after}"));
            format!("{}://{rest}", scheme.to_ascii_lowercase())
        }
        None => url.to_string(),
    }
}

/// The file's sections: `[URL]` headers, each with `token = ...` (INI, so
/// other clients read it with any INI parser, e.g. Python's configparser).
fn parse(text: &str) -> Vec<(String, Option<String>)> {
    let mut sections: Vec<(String, Option<String>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push((name.trim().to_string(), None));
        } else if let Some((key, value)) = line.split_once('=') {
            if key.trim() == "token" {
                if let Some(last) = sections.last_mut() {
                    last.1 = Some(value.trim().to_string());
                }
            }
        }
    }
    sections
}

/// The token saved for `url` (or, failing that, in a `[default]` section).
pub fn token_for(url: &str) -> Option<String> {
    let text = std::fs::read_to_string(credentials_file()).ok()?;
    token_in(&text, url)
}

fn token_in(text: &str, url: &str) -> Option<String> {
    let sections = parse(text);
    let wanted = normalize(url);
    let find = |name: &str| {
        sections
            .iter()
            .rev()
            .find(|(section, token)| token.is_some() && normalize(section) == name)
            .and_then(|(_, token)| token.clone())
    };
    find(&wanted).or_else(|| find("default"))
}

/// Saves `token` for `url` (replacing what was saved for it), in a file
/// only the user can read. Returns the file's path.
pub fn save_token(url: &str, token: &str) -> std::io::Result<PathBuf> {
    let path = credentials_file();
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let url = normalize(url);
    let mut text = String::from(
        "# faas API keys by server URL: the faas CLI and clients read the token\n\
         # of the server they talk to. Written by `faas up`/`faas server` on a\n\
         # first start; keep it private.\n",
    );
    for (section, token) in parse(&old) {
        if normalize(&section) == url {
            continue;
        }
        if let Some(token) = token {
            text.push_str(&format!("\n[{section}]\ntoken = {token}\n"));
        }
    }
    text.push_str(&format!("\n[{url}]\ntoken = {token}\n"));
    write_private(&path, text.as_bytes())?;
    Ok(path)
}

/// Makes `dir` (and its parents) if missing, readable by its owner only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes `bytes` whole to a new file beside `path`, readable by its
/// owner only (mode 0600, the directory created 0700); returns its name.
fn private_temp(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        use std::io::Write;
        file.write_all(bytes).and_then(|()| file.sync_all())
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Replaces `path` with `bytes` at once (a reader sees the old file or
/// the new one, whole), readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = private_temp(path, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Creates `path` with `bytes`, readable by its owner only, unless it
/// exists: false then (another process may have just written it: read it
/// instead). A process starting at the same moment reads either no file or
/// the whole of one.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    let tmp = private_temp(path, bytes)?;
    // Linking fails if the name exists, where a rename would replace it.
    let linked = match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&tmp);
    linked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_by_server_url() {
        let text = "# comment\n[http://127.0.0.1:8000]\ntoken = a\n\n[https://api.example:443/]\ntoken=b\n";
        assert_eq!(token_in(text, "http://127.0.0.1:8000"), Some("a".into()));
        assert_eq!(token_in(text, "http://localhost:8000/"), Some("a".into()));
        assert_eq!(token_in(text, "https://api.example:443"), Some("b".into()));
        assert_eq!(token_in(text, "http://127.0.0.1:9000"), None);
        let with_default = format!("{text}[default]\ntoken = d\n");
        assert_eq!(
            token_in(&with_default, "http://127.0.0.1:9000"),
            Some("d".into())
        );
    }
}

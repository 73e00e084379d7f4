//! `faas new LANGUAGE NAME`: a working function project from a template,
//! with a test payload and its README line, ready for `faas deploy NAME`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

/// The languages `faas new` writes projects in.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A Rust crate, a WASI command (built for wasm32-wasi)
    Rust,
    /// A C file, a WASI command (built with clang and wasi-libc)
    C,
    /// WebAssembly text with a typed export
    Wat,
    /// A Python `handle(payload)` (built with componentize-py)
    Python,
    /// A JavaScript `handle(payload)` (built with componentize-js)
    Js,
}

/// `faas new LANGUAGE NAME`.
#[derive(clap::Args, Debug, Clone)]
pub struct NewArgs {
    #[arg(value_enum)]
    pub language: Language,

    /// The project's directory, made new; its last part names the function
    /// (letters, digits, `-` and `_`, starting with a letter)
    pub name: PathBuf,
}

/// A template file: its path in the project and its text, both with
/// `{{name}}` standing for the function's name.
type File = (&'static str, &'static str);

macro_rules! template {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../templates/", $path)))),*]
    };
}

const RUST: &[File] = template![
    "rust/Cargo.toml",
    "rust/src/main.rs",
    "rust/payload.txt",
    "rust/README.md",
    "rust/.gitignore"
];
const C: &[File] = template!["c/{{name}}.c", "c/payload.txt", "c/README.md"];
const WAT: &[File] = template!["wat/{{name}}.wat", "wat/payload.json", "wat/README.md"];
const PYTHON: &[File] = template!["python/app.py", "python/payload.json", "python/README.md"];
const JS: &[File] = template!["js/app.js", "js/payload.json", "js/README.md"];

impl Language {
    fn files(self) -> &'static [File] {
        match self {
            Language::Rust => RUST,
            Language::C => C,
            Language::Wat => WAT,
            Language::Python => PYTHON,
            Language::Js => JS,
        }
    }
}

pub fn new(args: NewArgs) -> anyhow::Result<ExitCode> {
    let name = function_name(&args.name)?;
    if args.name.exists() {
        bail!(
            "{} already exists; choose another name, or remove it first",
            args.name.display()
        );
    }
    let written = write_project(&args.name, name, args.language.files())
        .with_context(|| format!("cannot create {}", args.name.display()))?;
    let dir = args.name.display();
    eprintln!("created {dir}: {}", written.join(", "));
    // The project's README has the line that deploys and invokes it.
    let readme = std::fs::read_to_string(args.name.join("README.md")).unwrap_or_default();
    if let Some(line) = readme.lines().find(|l| l.starts_with("faas invoke")) {
        let line = line.replace(&format!(" {name}/"), &format!(" {dir}/"));
        let line = line.replace(&format!("deploy {name})"), &format!("deploy {dir})"));
        eprintln!("try it, with the platform up (`faas up`):\n  {line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The function's name: the directory's last part, which must suit a crate,
/// a file and a function name alike.
fn function_name(dir: &Path) -> anyhow::Result<&str> {
    let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
        bail!("{} does not end in a name", dir.display());
    };
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!(
            "{name:?} cannot name a function: use letters, digits, `-` and `_`, starting with a letter"
        );
    }
    Ok(name)
}

/// Writes the template's files under `dir` (made here, with its parents),
/// and returns their paths in the project.
fn write_project(dir: &Path, name: &str, files: &[File]) -> std::io::Result<Vec<String>> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    // create_dir, not create_dir_all: a directory made meanwhile is not overwritten.
    std::fs::create_dir(dir)?;
    let mut written = Vec::new();
    for (path, text) in files {
        let (_language, path) = path.split_once('/').expect("templates/LANGUAGE/...");
        let path = path.replace("{{name}}", name);
        let target = dir.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, text.replace("{{name}}", name))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_suit_crates_files_and_functions() {
        for good in ["hello", "hello-world", "a_1", "x/hello"] {
            assert!(function_name(Path::new(good)).is_ok(), "{good}");
        }
        for bad in ["1hello", "-x", "hé", "a b", "a.b", "..", "/"] {
            assert!(function_name(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_template_names_its_function_and_says_how_to_invoke_it() {
        for language in [
            Language::Rust,
            Language::C,
            Language::Wat,
            Language::Python,
            Language::Js,
        ] {
            let files = language.files();
            let readme = files
                .iter()
                .find(|(p, _)| p.ends_with("/README.md"))
                .expect("a README");
            assert!(
                readme.1.contains("faas invoke $(faas deploy {{name}})"),
                "{language:?}"
            );
            assert!(
                files.iter().any(|(p, _)| p.contains("/payload.")),
                "{language:?}: a payload"
            );
        }
    }

    #[test]
    fn a_project_is_written_with_its_name_and_never_over_another() {
        let root = std::env::temp_dir().join(format!("faas-new-{}", std::process::id()));
        let dir = root.join("hello");
        let written = write_project(&dir, "hello", C).expect("written");
        assert_eq!(written, ["hello.c", "payload.txt", "README.md"]);
        let source = std::fs::read_to_string(dir.join("hello.c")).expect("source");
        assert!(source.starts_with("/* hello: ") && !source.contains("{{name}}"));
        assert!(
            write_project(&dir, "hello", C).is_err(),
            "an existing directory is kept"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}

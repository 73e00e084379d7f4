//! `faas deploy FILE`: upload a module (or build a source first) and print
//! its function id.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::json;

use crate::connection::Connection;
use crate::output::{print_stderr, print_stdout};

/// `faas deploy FILE`: upload a module and print its function id.
#[derive(clap::Args, Debug, Clone)]
pub struct DeployArgs {
    #[command(flatten)]
    pub conn: Connection,

    /// The module: a .wasm binary or a .wat text file (compiled locally before
    /// upload), or a source built first: a Rust crate (directory or
    /// Cargo.toml) or a .c file
    pub file: PathBuf,

    /// Function name [default: the file name without its extension]
    #[arg(long)]
    pub name: Option<String>,

    /// Export to call [default: `_start` if exported, else the export named like
    /// the function, else the only exported function]
    #[arg(long)]
    pub entry: Option<String>,

    /// How to build a source (see `faas build --help`)
    #[command(flatten)]
    pub tools: crate::build::ToolchainArgs,
}

/// Uploads a module and prints its function id.
pub async fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    // A source is built first; the name comes from the module it built.
    let (module, wasm) = crate::build::module_bytes(&args.file, &args.tools, "deploy").await?;
    let name = function_name(&module, args.name.as_deref())?;
    let id = client
        .register_function(&name, &wasm, args.entry.as_deref())
        .await
        .with_context(|| format!("cannot deploy {}", args.file.display()))?;
    if args.conn.json {
        print_stdout(&format!("{}\n", json!({ "function_id": id })))?;
    } else {
        // Only the id on stdout, so `ID=$(faas deploy f.wat)` works.
        print_stdout(&format!("{id}\n"))?;
    }
    print_stderr(&format!("deployed {name} ({} bytes)\n", wasm.len()));
    Ok(ExitCode::SUCCESS)
}

/// Reads a module; `.wat` files are compiled here so that syntax errors
/// show locally with file, line and column rather than as a server 400.
pub fn read_module(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_wat = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("wat"));
    if !is_wat {
        return Ok(bytes);
    }
    let binary = wat::Parser::new()
        .parse_bytes(Some(path), &bytes)
        .with_context(|| format!("cannot compile {}", path.display()))?;
    Ok(binary.into_owned())
}

/// `--name`, or else the file name without its extension.
pub fn function_name(path: &Path, name: Option<&str>) -> anyhow::Result<String> {
    if let Some(name) = name {
        if name.trim().is_empty() {
            bail!("--name must not be empty");
        }
        return Ok(name.to_owned());
    }
    match path.file_stem().and_then(|s| s.to_str()) {
        Some(stem) if !stem.is_empty() => Ok(stem.to_owned()),
        _ => bail!(
            "cannot derive a function name from {}; pass --name",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use uuid::Uuid;

    fn temp_file(contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("faas-cli-test-{}", Uuid::new_v4()));
        std::fs::write(&path, contents).expect("temp file is writable");
        path
    }

    #[test]
    fn name_defaults_to_file_stem() {
        assert_eq!(
            function_name(Path::new("dir/add.wat"), None).expect("stem"),
            "add"
        );
        assert_eq!(
            function_name(Path::new("add.wat"), Some("sum")).expect("given"),
            "sum"
        );
        assert!(function_name(Path::new("x.wat"), Some(" ")).is_err());
        assert!(function_name(Path::new("/"), None).is_err());
    }

    #[test]
    fn wat_is_compiled_locally_with_positions() {
        let path = temp_file(b"(module (func (export \"f\") (result i32) i32.const 1))");
        let wat_path = path.with_extension("wat");
        std::fs::rename(&path, &wat_path).expect("rename");
        let bin = read_module(&wat_path);
        let _ = std::fs::remove_file(&wat_path);
        assert!(bin.expect("valid WAT").starts_with(b"\0asm"));

        let path = temp_file(b"(module\n  (func oops))");
        let wat_path = path.with_extension("wat");
        std::fs::rename(&path, &wat_path).expect("rename");
        let err = read_module(&wat_path).expect_err("bad WAT");
        let _ = std::fs::remove_file(&wat_path);
        let msg = format!("{err:#}");
        assert!(msg.contains(":2:"), "{msg}");
    }

    #[test]
    fn other_files_are_sent_as_is() {
        let path = temp_file(b"anything");
        let bytes = read_module(&path);
        let _ = std::fs::remove_file(&path);
        assert_eq!(bytes.expect("readable"), b"anything");
    }
}

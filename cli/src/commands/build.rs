//! `faas build [PATH]`: compile a source to a module (a component for
//! Python and JavaScript) and print its path, size and entry.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use faas_runtime::LoadError;
use serde_json::{json, Value};

use crate::build::{self, display_path, Source, ToolchainArgs};
use crate::commands::deploy::function_name;
use crate::output::println_out;

/// `faas build [PATH]`: compile a Rust crate or a C file to a module, a Python or JavaScript file to a component.
#[derive(clap::Args, Debug, Clone)]
pub struct BuildArgs {
    /// A Rust crate (its directory or Cargo.toml), a .c, .py or .js file,
    /// or a directory with app.py
    #[arg(default_value = ".")]
    pub path: PathBuf,

    #[command(flatten)]
    pub tools: ToolchainArgs,

    /// Function name the entry is resolved with, as `faas deploy --name` would
    /// [default: the module's file name without its extension]
    #[arg(long)]
    pub name: Option<String>,

    /// Export to call, as `faas deploy --entry` would
    #[arg(long)]
    pub entry: Option<String>,

    /// Print {"module", "size", "entry", "convention"} as JSON
    #[arg(long)]
    pub json: bool,
}

/// `faas build`: builds and prints the module's path, size and entry.
pub async fn build_command(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let source = Source::classify(&args.path)?;
    let tools = args.tools.clone();
    let module = tokio::task::spawn_blocking(move || build::build(&source, &tools, "build"))
        .await
        .context("the build thread failed")??;
    let bytes =
        std::fs::read(&module).with_context(|| format!("cannot read {}", module.display()))?;
    let name = function_name(&module, args.name.as_deref())?;
    let entry = args.entry.clone();
    let info = tokio::task::spawn_blocking(move || build::inspect(&bytes, &name, entry.as_deref()))
        .await
        .context("the inspect thread failed")??;
    let shown = display_path(&module);
    let size = build::format_size(info.size);
    let (line, ok) = match &info.entry {
        Ok((entry, convention)) => (
            format!(
                "built {shown} ({size}), entry {}",
                build::describe_entry(entry, convention)
            ),
            true,
        ),
        // Deployable with --entry: say so, but the build worked.
        Err(e @ LoadError::AmbiguousEntry { .. }) => (
            format!("built {shown} ({size}), no default entry: {e} (`faas deploy --entry NAME`)"),
            true,
        ),
        Err(e) => (
            format!("built {shown} ({size}), but faas cannot run it: {e}"),
            false,
        ),
    };
    if args.json {
        let (entry, convention) = match &info.entry {
            Ok((entry, convention)) => (json!(entry), json!(convention)),
            Err(e) => (Value::Null, json!({ "error": e.to_string() })),
        };
        println_out(
            &json!({
                "module": module,
                "size": info.size,
                "entry": entry,
                "convention": convention,
            })
            .to_string(),
        )?;
    } else if ok {
        println_out(&line)?;
    } else {
        eprintln!("{line}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

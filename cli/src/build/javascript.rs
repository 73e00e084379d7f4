//! `faas build handler.js`: a JavaScript function as a WebAssembly component.
//!
//! The user writes `export function handle(payload)`, which takes the
//! parsed JSON payload and returns any value `JSON.stringify` takes. A
//! generated entry module imports it and exports the platform's `handle`
//! (JSON text in, JSON text out, a thrown error as the task's failure with
//! its stack); componentize-js (SpiderMonkey, pre-initialised) turns that
//! into a component, with WASI's HTTP left out since a function has no
//! network.

use crate::build::componentize::{self, Workspace};
use crate::build::{BuildError, ToolchainArgs};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The package `.ci/run` and the hints install.
pub const COMPONENTIZE_JS: &str = "@bytecodealliance/componentize-js@0.23.0";

/// The JavaScript file of a path given to `build`, `deploy` or `run`.
pub fn javascript_source(path: &Path) -> Option<PathBuf> {
    let ext = path.extension()?;
    (ext == OsStr::new("js") || ext == OsStr::new("mjs")).then(|| path.to_path_buf())
}

/// The entry module around the user's module at `import` (a path relative
/// to the entry).
fn entry(import: &str) -> String {
    let import = serde_json::to_string(import).expect("a string serialises");
    format!(
        r#"// Made by `faas build`: the faas:function/handler world around the user's handle.
import * as user from {import};

if (typeof user.handle !== "function") {{
  throw new Error("the module must export `function handle(payload)`");
}}

export function handle(payload) {{
  let value;
  try {{
    value = user.handle(JSON.parse(payload));
  }} catch (e) {{
    throw e instanceof Error ? `${{e}}\n${{e.stack ?? ""}}`.trimEnd() : `${{e}}`;
  }}
  if (value instanceof Promise) {{
    throw "handle returned a Promise: it must return its result (async handlers are not supported)";
  }}
  return JSON.stringify(value === undefined ? null : value);
}}
"#
    )
}

/// Builds `file` into a component; returns its path.
pub fn build_javascript(file: &Path, tools: &ToolchainArgs) -> Result<PathBuf, BuildError> {
    let space = Workspace::prepare(file)?;
    let local_installs: Vec<PathBuf> = space
        .source_dir
        .ancestors()
        .map(|dir| dir.join("node_modules/.bin/componentize-js"))
        .collect();
    let program = componentize::locate(
        tools.componentize_js.as_deref(),
        "componentize-js",
        &local_installs,
        &format!("`npm install -g {COMPONENTIZE_JS}` (or give --componentize-js PATH)"),
    )?;
    let name = file
        .file_name()
        .and_then(OsStr::to_str)
        .ok_or_else(|| BuildError::NotFound(file.to_path_buf()))?;
    // componentize-js resolves imports only under the entry's directory,
    // so the entry sits beside the source for the length of the build.
    let entry_file = space
        .source_dir
        .join(format!(".faas-entry-{}.js", std::process::id()));
    componentize::write(&entry_file, &entry(&format!("./{name}")))?;
    let mut cmd = Command::new(&program);
    cmd.arg(&entry_file)
        .arg("--wit")
        .arg(&space.wit)
        .args([
            "--world-name",
            "handler",
            "--disable",
            "http",
            "fetch-event",
            "--out",
        ])
        .arg(&space.out)
        .current_dir(&space.source_dir);
    let built = componentize::run(cmd, "componentize-js");
    let _ = std::fs::remove_file(&entry_file);
    built.map(|()| space.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_and_mjs_files_are_javascript() {
        assert!(javascript_source(Path::new("a/handler.js")).is_some());
        assert!(javascript_source(Path::new("handler.mjs")).is_some());
        assert!(javascript_source(Path::new("handler.py")).is_none());
        assert!(javascript_source(Path::new("js")).is_none());
    }

    #[test]
    fn the_entry_imports_the_user_s_module_by_a_quoted_path() {
        let text = entry("./my \"odd\".js");
        assert!(text.contains(r#"import * as user from "./my \"odd\".js";"#));
    }
}

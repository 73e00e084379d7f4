//! `faas build handler.py`: a Python function as a WebAssembly component.
//!
//! The user writes `def handle(payload)`, which takes the parsed JSON
//! payload and returns anything `json.dumps` takes. This module writes the
//! platform's world (`wit/faas-function.wit`) and a small wrapper beside
//! the build's output, and runs componentize-py on them, so the
//! component's `handle` parses the payload, calls the user's function and
//! returns its result as JSON; an exception becomes the task's failure,
//! with its traceback.

use crate::build::{find_in_path, single_file_output, BuildError, ToolchainArgs};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The platform's world, as the repository has it.
pub const WIT: &str = include_str!("../../wit/faas-function.wit");

/// The version `.ci/run` and the hints install.
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// The wrapper's module name (not a name a user's module is likely to have).
const ENTRY_MODULE: &str = "faas_entry";

/// The Python file of a path given to `build`, `deploy` or `run`: a `.py`
/// file, or a directory's `app.py`.
pub fn python_source(path: &Path) -> Option<PathBuf> {
    if path.is_dir() {
        let app = path.join("app.py");
        return app.is_file().then_some(app);
    }
    (path.extension() == Some(OsStr::new("py"))).then(|| path.to_path_buf())
}

/// The wrapper around module `module`'s `handle`.
fn wrapper(module: &str) -> String {
    format!(
        r#""""Made by `faas build`: the faas:function/handler world around {module}.handle."""
import json
import traceback

import wit_world
from componentize_py_types import Err

import {module} as _function

if not callable(getattr(_function, "handle", None)):
    raise SystemExit("{module}.py must define `def handle(payload)`")


class WitWorld(wit_world.WitWorld):
    def handle(self, payload: str) -> str:
        try:
            return json.dumps(_function.handle(json.loads(payload)))
        except Exception:
            raise Err(traceback.format_exc())
"#
    )
}

/// Builds `file` (its directory is on the module path, as are the
/// `--deps` directories) into a component; returns its path.
pub fn build_python(file: &Path, tools: &ToolchainArgs) -> Result<PathBuf, BuildError> {
    let module = file
        .file_stem()
        .and_then(OsStr::to_str)
        .filter(|m| is_identifier(m) && *m != ENTRY_MODULE)
        .ok_or_else(|| {
            BuildError::Toolchain(format!(
                "{} must be named as a Python module is (letters, digits and _, not starting with a digit)",
                file.display()
            ))
        })?;
    let program = match &tools.componentize_py {
        Some(path) => path.clone(),
        None => find_in_path("componentize-py", std::env::var_os("PATH").as_deref()).ok_or_else(
            || {
                BuildError::Toolchain(format!(
                    "componentize-py is not installed: `pip install {COMPONENTIZE_PY}` (or give --componentize-py PATH)"
                ))
            },
        )?,
    };
    for deps in &tools.deps {
        if !deps.is_dir() {
            return Err(BuildError::NotFound(deps.clone()));
        }
    }
    // Absolute: componentize-py runs in the work directory.
    let out = absolute(&single_file_output(file));
    let work = out.with_extension("build");
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |error| BuildError::Io { what, path, error }
    };
    std::fs::create_dir_all(&work).map_err(io("cannot create", &work))?;
    let wit = work.join("faas-function.wit");
    std::fs::write(&wit, WIT).map_err(io("cannot write", &wit))?;
    let entry = work.join(format!("{ENTRY_MODULE}.py"));
    std::fs::write(&entry, wrapper(module)).map_err(io("cannot write", &entry))?;
    let source_dir = absolute(
        file.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    );

    let mut cmd = Command::new(&program);
    cmd.arg("-d")
        .arg(&wit)
        .args(["-w", "handler", "componentize", ENTRY_MODULE, "-p"])
        .arg(&work)
        .arg("-p")
        .arg(&source_dir);
    for deps in &tools.deps {
        cmd.arg("-p").arg(absolute(deps));
    }
    cmd.arg("-o")
        .arg(&out)
        .current_dir(&work)
        // Its errors are the user's; a Rust backtrace of the tool is noise.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        // Its chatter goes to stderr: stdout is for what faas prints.
        .stdout(to_stderr())
        .stderr(Stdio::inherit());
    let status = cmd.status().map_err(|error| BuildError::Spawn {
        program: program.display().to_string(),
        error,
    })?;
    if !status.success() {
        return Err(BuildError::Failed {
            what: "componentize-py".into(),
            status: status.to_string(),
        });
    }
    Ok(out)
}

fn to_stderr() -> Stdio {
    use std::os::fd::AsFd;
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::inherit())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_are_python_identifiers() {
        for ok in ["app", "handler", "_x", "a1"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "my-app", "a.b", "é"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn the_world_is_the_repository_s() {
        assert!(WIT.contains("export handle: func(payload: string) -> result<string, string>;"));
    }
}

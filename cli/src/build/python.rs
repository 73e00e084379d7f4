//! `faas build handler.py`: a Python function as a WebAssembly component.
//!
//! The user writes `def handle(payload)`, which takes the parsed JSON
//! payload and returns anything `json.dumps` takes. This module writes the
//! platform's world (`wit/faas-function.wit`) and a small wrapper beside
//! the build's output, and runs componentize-py on them, so the
//! component's `handle` parses the payload, calls the user's function and
//! returns its result as JSON; an exception becomes the task's failure,
//! with its traceback.

use crate::build::componentize::{self, Workspace};
use crate::build::{BuildError, ToolchainArgs};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

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
/// `--deps` directories and the packages of a `requirements.txt` beside
/// it) into a component; returns its path.
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
    let program = componentize::locate(
        tools.componentize_py.as_deref(),
        "componentize-py",
        &[],
        &format!("`pip install {COMPONENTIZE_PY}` (or give --componentize-py PATH)"),
    )?;
    for deps in &tools.deps {
        if !deps.is_dir() {
            return Err(BuildError::NotFound(deps.clone()));
        }
    }
    let space = Workspace::prepare(file)?;
    componentize::write(
        &space.work.join(format!("{ENTRY_MODULE}.py")),
        &wrapper(module),
    )?;
    let mut path = vec![space.work.clone(), space.source_dir.clone()];
    path.extend(tools.deps.iter().map(|d| componentize::absolute(d)));
    let requirements = space.source_dir.join("requirements.txt");
    if requirements.is_file() {
        path.push(install_requirements(&requirements, &space.work)?);
    }

    let mut cmd = Command::new(&program);
    cmd.arg("-d")
        .arg(&space.wit)
        .args(["-w", "handler", "componentize", ENTRY_MODULE]);
    for dir in &path {
        cmd.arg("-p").arg(dir);
    }
    cmd.arg("-o").arg(&space.out).current_dir(&space.work);
    componentize::run(cmd, "componentize-py")?;
    Ok(space.out)
}

/// Installs the packages `requirements` lists into a folder of the build
/// (again only when the file changed) and returns it. Only pure-Python
/// wheels can run in the component, so pip is told to take only those.
fn install_requirements(requirements: &Path, work: &Path) -> Result<PathBuf, BuildError> {
    let io = |what, path: &Path, error| BuildError::Io {
        what,
        path: path.to_path_buf(),
        error,
    };
    let wanted =
        std::fs::read_to_string(requirements).map_err(|e| io("cannot read", requirements, e))?;
    let dir = work.join("requirements");
    let stamp = dir.join(".faas-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(dir);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| io("cannot remove", &dir, e))?;
    }
    eprintln!(
        "installing the packages of {} (pure-Python wheels) with pip",
        requirements.display()
    );
    let mut cmd = Command::new("python3");
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args([
        "--only-binary=:all:",
        "--platform",
        "any",
        "--implementation",
        "py",
    ])
    .args(["--abi", "none", "--target"])
    .arg(&dir)
    .arg("-r")
    .arg(requirements);
    componentize::run(
        cmd,
        "pip install -r requirements.txt (only pure-Python packages can be bundled)",
    )?;
    componentize::write(&stamp, &wanted)?;
    Ok(dir)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
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
}

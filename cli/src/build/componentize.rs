//! What the Python and JavaScript builds share: the platform's world, a
//! work directory beside the output for it and the generated wrapper, and
//! running the componentizer (componentize-py, componentize-js) so that its
//! chatter does not mix with what `faas` prints.

use crate::build::{find_in_path, single_file_output, BuildError};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The platform's world, as the repository has it.
pub const WIT: &str = include_str!("../../../wit/faas-function.wit");

/// Where one build of `source` writes: the component, and the directory
/// that holds the world and the wrapper the componentizer reads.
pub struct Workspace {
    pub out: PathBuf,
    pub work: PathBuf,
    /// The directory of the user's source.
    pub source_dir: PathBuf,
    /// The world's file inside `work`.
    pub wit: PathBuf,
}

impl Workspace {
    /// Creates `target/<stem>.build/` beside `source` with the world in it.
    /// The component is `target/<stem>.wasm`, named after the directory
    /// for a directory's `app.py` (the function's name on deploy).
    pub fn prepare(source: &Path) -> Result<Workspace, BuildError> {
        let absolute_source = absolute(source);
        let dir = absolute_source.parent();
        let named = match (source.file_name(), dir.and_then(Path::file_name)) {
            (Some(app), Some(dir_name)) if app == "app.py" => {
                let mut name = dir_name.to_owned();
                name.push(".py");
                absolute_source.with_file_name(name)
            }
            _ => source.to_path_buf(),
        };
        // Absolute: the componentizers run in the work directory.
        let out = absolute(&single_file_output(&named));
        let work = out.with_extension("build");
        std::fs::create_dir_all(&work).map_err(io("cannot create", &work))?;
        let wit = work.join("faas-function.wit");
        write(&wit, WIT)?;
        let source_dir = absolute(
            source
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        );
        Ok(Workspace {
            out,
            work,
            source_dir,
            wit,
        })
    }
}

/// Writes a generated file.
pub fn write(path: &Path, text: &str) -> Result<(), BuildError> {
    std::fs::write(path, text).map_err(io("cannot write", path))
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.to_path_buf();
    move |error| BuildError::Io { what, path, error }
}

/// The tool to run: the one given, else `name` on PATH, else the first
/// of `elsewhere` that exists; if none, `hint` says how to install it.
pub fn locate(
    given: Option<&Path>,
    name: &str,
    elsewhere: &[PathBuf],
    hint: &str,
) -> Result<PathBuf, BuildError> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    find_in_path(name, std::env::var_os("PATH").as_deref())
        .or_else(|| elsewhere.iter().find(|p| p.is_file()).cloned())
        .ok_or_else(|| BuildError::Toolchain(format!("{name} is not installed: {hint}")))
}

/// Runs a componentizer; its messages (the user's errors) go to stderr.
pub fn run(mut cmd: Command, what: &str) -> Result<(), BuildError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd
        // Its errors are the user's; a Rust backtrace of the tool is noise.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        // stdout is for what faas prints.
        .stdout(to_stderr())
        .stderr(Stdio::inherit());
    let status = cmd
        .status()
        .map_err(|error| BuildError::Spawn { program, error })?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Failed {
            what: what.into(),
            status: status.to_string(),
        })
    }
}

fn to_stderr() -> Stdio {
    use std::os::fd::AsFd;
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::inherit())
}

pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_world_is_the_repository_s() {
        assert!(WIT.contains("export handle: func(payload: string) -> result<string, string>;"));
    }

    #[test]
    fn a_missing_tool_says_how_to_install_it() {
        let err = locate(None, "faas-no-such-tool", &[], "install it so").unwrap_err();
        assert_eq!(
            err.to_string(),
            "faas-no-such-tool is not installed: install it so"
        );
    }
}

//! A task's payload on the command line (`faas invoke`, `faas run`):
//! JSON words, `--raw` JSON, or a `--stdin` file.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use faas_runtime::Convention;
use serde_json::Value;

/// A task's payload on the command line (`faas invoke`, `faas run`).
#[derive(clap::Args, Debug, Clone)]
pub struct PayloadArgs {
    /// Arguments, each a JSON value (`2 3` is the payload [2,3]); for a
    /// handler (Python, JavaScript) one argument is the whole payload
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<String>,

    /// Send this file's contents as the payload string, the stdin of a WASI
    /// command (`-` reads standard input)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["args", "raw"])]
    pub stdin: Option<PathBuf>,

    /// Send this JSON text as the whole payload (e.g. --raw '"hello"' or --raw '[1, 2]')
    #[arg(long, value_name = "JSON", conflicts_with = "args")]
    pub raw: Option<String>,
}

impl PayloadArgs {
    /// The payload these arguments describe.
    pub fn payload(&self) -> anyhow::Result<serde_json::Value> {
        build_payload(&self.args, self.raw.as_deref(), self.stdin.as_deref())
    }

    /// Whether the payload depends on the function's convention: one
    /// positional word is a handler's whole payload (`'{"x": 1}'`), but
    /// a list of one for an export with parameters.
    pub fn is_one_word(&self) -> bool {
        self.args.len() == 1 && self.raw.is_none() && self.stdin.is_none()
    }

    /// The payload for a function of `convention`.
    pub fn payload_for(&self, convention: Option<&Convention>) -> anyhow::Result<Value> {
        match (self.payload()?, convention) {
            (Value::Array(mut words), Some(Convention::Handler)) if self.is_one_word() => {
                Ok(words.remove(0))
            }
            (payload, _) => Ok(payload),
        }
    }
}

/// The task payload from exactly one of: positional JSON words (an array),
/// `--raw` JSON text, or `--stdin` file contents (a JSON string).
pub fn build_payload(
    args: &[String],
    raw: Option<&str>,
    stdin: Option<&Path>,
) -> anyhow::Result<Value> {
    match (raw, stdin) {
        (Some(_), Some(_)) => bail!("--raw and --stdin cannot be used together"),
        (Some(_), None) | (None, Some(_)) if !args.is_empty() => {
            bail!("positional arguments cannot be combined with --raw or --stdin")
        }
        (Some(raw), None) => {
            serde_json::from_str(raw).with_context(|| format!("--raw is not valid JSON: {raw}"))
        }
        (None, Some(path)) => read_stdin_payload(path).map(Value::String),
        (None, None) => positional_payload(args),
    }
}

/// Each word is one JSON value: `2 3` -> `[2,3]`, `'"a"'` -> `["a"]`.
fn positional_payload(args: &[String]) -> anyhow::Result<Value> {
    args.iter()
        .enumerate()
        .map(|(i, word)| {
            serde_json::from_str(word).map_err(|_| {
                anyhow::anyhow!(
                    "argument {} `{word}` is not a JSON value; quote strings as JSON \
                     (e.g. '\"{word}\"'), or use --stdin / --raw for a WASI command",
                    i + 1
                )
            })
        })
        .collect::<anyhow::Result<Vec<Value>>>()
        .map(Value::Array)
}

/// The bytes of FILE, `-` being standard input, and how to name it in a
/// message (`faas invoke --stdin`, `faas map`).
pub fn read_file_or_stdin(path: &Path) -> anyhow::Result<(Vec<u8>, String)> {
    // Blocking reads are fine: the CLI does nothing else meanwhile.
    if path == Path::new("-") {
        let mut buf = Vec::new();
        io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        Ok((buf, "standard input".to_owned()))
    } else {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok((bytes, path.display().to_string()))
    }
}

/// Contents of `path` (`-` = standard input) as text, for a WASI command's stdin.
fn read_stdin_payload(path: &Path) -> anyhow::Result<String> {
    let (bytes, name) = read_file_or_stdin(path)?;
    // The payload travels as a JSON string, which cannot hold arbitrary bytes.
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{name} is not UTF-8 text (invalid byte at offset {}); a WASI stdin payload is a JSON string",
            e.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    fn temp_file(contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("faas-cli-test-{}", Uuid::new_v4()));
        std::fs::write(&path, contents).expect("temp file is writable");
        path
    }

    #[test]
    fn positional_words_become_a_json_array() {
        let p = build_payload(&words(&["2", "3"]), None, None).expect("valid");
        assert_eq!(p, json!([2, 3]));
        let p = build_payload(
            &words(&["-1.5", "\"x\"", "[1]", "9007199254740993"]),
            None,
            None,
        )
        .expect("valid");
        assert_eq!(p, json!([-1.5, "x", [1], 9007199254740993u64]));
        assert_eq!(build_payload(&[], None, None).expect("valid"), json!([]));
    }

    #[test]
    fn a_non_json_word_is_named_in_the_error() {
        let err = build_payload(&words(&["2", "hello"]), None, None).expect_err("not JSON");
        let msg = format!("{err:#}");
        assert!(msg.contains("argument 2 `hello`"), "{msg}");
    }

    #[test]
    fn raw_is_the_whole_payload() {
        assert_eq!(
            build_payload(&[], Some("\"hello\""), None).expect("valid"),
            json!("hello")
        );
        assert_eq!(
            build_payload(&[], Some(" [1, 2] "), None).expect("valid"),
            json!([1, 2])
        );
        let err = build_payload(&[], Some("hello"), None).expect_err("not JSON");
        assert!(format!("{err:#}").contains("--raw is not valid JSON"));
    }

    #[test]
    fn stdin_file_becomes_a_json_string() {
        let path = temp_file(b"line one\nline \"two\"\n");
        let p = build_payload(&[], None, Some(&path));
        let _ = std::fs::remove_file(&path);
        assert_eq!(p.expect("readable"), json!("line one\nline \"two\"\n"));
    }

    #[test]
    fn stdin_file_must_be_utf8_and_exist() {
        let path = temp_file(b"ok\xff");
        let err = build_payload(&[], None, Some(&path)).expect_err("not UTF-8");
        let _ = std::fs::remove_file(&path);
        assert!(format!("{err:#}").contains("offset 2"), "{err:#}");
        let missing = std::env::temp_dir().join(format!("faas-missing-{}", Uuid::new_v4()));
        let err = build_payload(&[], None, Some(&missing)).expect_err("missing");
        assert!(format!("{err:#}").contains("cannot read"));
    }

    #[test]
    fn payload_sources_are_exclusive() {
        assert!(build_payload(&words(&["1"]), Some("1"), None).is_err());
        assert!(build_payload(&words(&["1"]), None, Some(Path::new("-"))).is_err());
        assert!(build_payload(&[], Some("1"), Some(Path::new("-"))).is_err());
    }
}

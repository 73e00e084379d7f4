//! The systemd units of `deploy/systemd/`, read the way systemd reads
//! them, so that tests start the daemons with the very arguments the
//! units give: `Environment=` lines first, the `EnvironmentFile` (the
//! test's settings) over them, then `ExecStart` with `${VAR}` replaced by
//! one word and a lone `$VAR` split at whitespace.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One unit's command line and environment.
pub struct Unit {
    exec_start: Vec<String>,
    environment: Vec<(String, String)>,
}

/// Where the units live.
pub fn units_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd")
}

impl Unit {
    /// `deploy/systemd/NAME`; panics if it is missing or has no `ExecStart`.
    pub fn load(name: &str) -> Unit {
        let path = units_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut exec_start = None;
        let mut environment = Vec::new();
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("ExecStart=") {
                exec_start = Some(rest.split_whitespace().map(str::to_string).collect());
            } else if let Some(rest) = line.strip_prefix("Environment=") {
                if let Some((key, value)) = rest.split_once('=') {
                    environment.push((key.to_string(), value.to_string()));
                }
            }
        }
        Unit {
            exec_start: exec_start
                .unwrap_or_else(|| panic!("{} has no ExecStart=", path.display())),
            environment,
        }
    }

    /// The `faas` arguments (the program's path dropped) and environment
    /// of the unit run with `settings` as its environment file.
    pub fn command(&self, settings: &[(&str, &str)]) -> (Vec<String>, Vec<(String, String)>) {
        let mut env: BTreeMap<String, String> = self.environment.iter().cloned().collect();
        for (key, value) in settings {
            env.insert(key.to_string(), value.to_string());
        }
        let mut args = Vec::new();
        for word in self.exec_start.iter().skip(1) {
            if let Some(name) = word.strip_prefix('$').filter(|n| !n.starts_with('{')) {
                let value = env.get(name).map(String::as_str).unwrap_or("");
                args.extend(value.split_whitespace().map(str::to_string));
            } else {
                args.push(expand(word, &env));
            }
        }
        (args, env.into_iter().collect())
    }
}

/// `word` with each `${NAME}` replaced (by nothing if unset).
fn expand(word: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + len];
        out.push_str(env.get(name).map(String::as_str).unwrap_or(""));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_runs_faas_and_expands_like_systemd() {
        let worker = Unit::load("faas-worker.service");
        let (args, env) = worker.command(&[
            ("FAAS_DISPATCHER", "tcp://198.18.0.1:7001"),
            ("FAAS_WORKER_ARGS", "--name  node1"),
            ("FAAS_SLOTS", "2"),
        ]);
        assert_eq!(
            args,
            [
                "worker",
                "push",
                "2",
                "tcp://198.18.0.1:7001",
                "--name",
                "node1"
            ]
        );
        assert!(env.contains(&("FAAS_CONFIG_DIR".into(), "/var/lib/faas".into())));
        for name in ["faas-server.service", "faas-dispatcher@.service"] {
            let (args, _) = Unit::load(name).command(&[]);
            assert!(!args.iter().any(|a| a.contains('$')), "{name}: {args:?}");
        }
    }
}

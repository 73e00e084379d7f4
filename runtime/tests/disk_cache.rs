//! Compiled code kept on disk: a second runtime (as a restarted process
//! would) loads a module without compiling it; a file that does not load is
//! replaced; the directory is made private, and one of another user's is
//! refused.

use faas_runtime::{Runtime, RuntimeConfig};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const TYPED: &str = include_str!("fixtures/typed.wat");

/// A directory of its own for one test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "faas-compiled-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn runtime_in(dir: &Path) -> Runtime {
    Runtime::new(RuntimeConfig {
        compiled_dir: Some(dir.to_path_buf()),
        max_concurrent_instances: 4,
        ..RuntimeConfig::default()
    })
    .expect("runtime starts")
}

fn add_two_and_three(rt: &Runtime) {
    let add = rt.load(TYPED.as_bytes(), "t", Some("add")).expect("loads");
    let args = add.parse_args(&json!([2, 3])).unwrap();
    assert_eq!(rt.invoke(&add, args, None).value(), Some(&json!(5)));
}

fn compiled_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the directory exists")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn a_second_runtime_loads_compiled_code_instead_of_compiling() {
    let dir = TempDir::new("reuse");
    let first = runtime_in(&dir.0);
    add_two_and_three(&first);
    assert_eq!(first.cache_stats().from_disk, 0, "nothing there yet");
    let files = compiled_files(&dir.0);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with(".cwasm"), "{name}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.0), 0o700);
    assert_eq!(mode(&files[0]), 0o600);

    let second = runtime_in(&dir.0);
    add_two_and_three(&second);
    assert_eq!(second.cache_stats().from_disk, 1);
    assert_eq!(compiled_files(&dir.0), files, "nothing written again");
}

#[test]
fn compiled_code_that_does_not_load_is_compiled_again() {
    let dir = TempDir::new("corrupt");
    add_two_and_three(&runtime_in(&dir.0));
    let file = compiled_files(&dir.0).remove(0);
    std::fs::write(&file, b"not compiled code").unwrap();

    let rt = runtime_in(&dir.0);
    add_two_and_three(&rt);
    assert_eq!(rt.cache_stats().from_disk, 0);
    // Replaced by good code: the next process loads it.
    let next = runtime_in(&dir.0);
    add_two_and_three(&next);
    assert_eq!(next.cache_stats().from_disk, 1);
}

#[test]
fn the_directory_is_made_private_and_another_users_is_refused() {
    let dir = TempDir::new("private");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    runtime_in(&dir.0);
    let mode = std::fs::metadata(&dir.0).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);

    // Only root can give a directory away; as anyone else this part
    // cannot be set up.
    if std::os::unix::fs::chown(&dir.0, Some(65534), Some(65534)).is_err() {
        println!("SKIPPED: another user's directory (chown needs root)");
        return;
    }
    let refused = Runtime::new(RuntimeConfig {
        compiled_dir: Some(dir.0.clone()),
        ..RuntimeConfig::default()
    });
    let message = refused.err().expect("refused").to_string();
    assert!(message.contains("another user"), "{message}");
}

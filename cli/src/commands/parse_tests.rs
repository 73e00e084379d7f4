//! How the client commands' arguments parse, together as `faas` parses them.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::deploy::DeployArgs;
use super::invoke::InvokeArgs;
use super::result::ResultArgs;

fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|w| w.to_string()).collect()
}

#[derive(clap::Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand, Debug)]
enum Cmd {
    Invoke(InvokeArgs),
    Result(ResultArgs),
    Deploy(DeployArgs),
}

const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

#[test]
fn cli_parses_negative_numbers_and_flags() {
    let cli = Cli::try_parse_from([
        "faas",
        "invoke",
        ID,
        "-3",
        "4.5",
        "--wait",
        "--timeout",
        "1.5",
    ])
    .expect("parses");
    let Cmd::Invoke(a) = cli.cmd else {
        panic!("not invoke")
    };
    assert_eq!(a.payload.args, words(&["-3", "4.5"]));
    assert!(a.wait);
    assert_eq!(a.timeout, Duration::from_millis(1500));
    assert_eq!(a.conn.url, "http://127.0.0.1:8000");
}

#[test]
fn cli_rejects_conflicting_payloads_and_bad_timeouts() {
    for argv in [
        vec!["faas", "invoke", ID, "1", "--raw", "2"],
        vec!["faas", "invoke", ID, "1", "--stdin", "f"],
        vec!["faas", "invoke", ID, "--raw", "1", "--stdin", "f"],
        vec!["faas", "invoke", "not-a-uuid"],
        vec!["faas", "result", ID, "--timeout", "-1"],
        vec!["faas", "result", ID, "--timeout", "NaN"],
    ] {
        assert!(Cli::try_parse_from(&argv).is_err(), "{argv:?} parsed");
    }
}

#[test]
fn cli_flags_after_subcommand() {
    let cli = Cli::try_parse_from(["faas", "deploy", "f.wat", "--url", "http://h:1", "--json"])
        .expect("parses");
    let Cmd::Deploy(a) = cli.cmd else {
        panic!("not deploy")
    };
    assert_eq!(a.conn.url, "http://h:1");
    assert!(a.conn.json);
    assert_eq!(a.file, PathBuf::from("f.wat"));
}

#[derive(clap::Parser, Debug)]
struct Invoke {
    #[command(flatten)]
    args: InvokeArgs,
}

#[test]
fn invoke_waits_unless_told_not_to() {
    const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    let parse = |extra: &[&str]| {
        let mut argv = vec!["invoke", ID, "1"];
        argv.extend_from_slice(extra);
        Invoke::try_parse_from(argv).expect("parses").args
    };
    assert!(!parse(&[]).no_wait);
    assert!(!parse(&["--wait"]).no_wait);
    assert!(parse(&["--no-wait"]).no_wait);
    // The last of the two wins.
    assert!(!parse(&["--no-wait", "--wait"]).no_wait);
    assert!(parse(&["--wait", "--no-wait"]).no_wait);
}

//! The REST API under a property-based fuzzer: schemathesis (PyPI, 4.x)
//! against the live `/openapi.json` of a real `faas up`, positive and
//! negative cases for every operation. With the admin key: no server
//! error, and every status and body as the document says. With a wrong
//! key: every answer a documented 401. Install it with `pip install
//! schemathesis` (`.ci/run` does).

mod common;

use common::{python_module, start_up, LISTENING};

/// Runs schemathesis against `port` with `token`, for `checks`; returns
/// its output, panicking with it if it found a failure.
fn fuzz(port: u16, token: &str, checks: &str, phases: &str) -> String {
    let url = format!("http://127.0.0.1:{port}/openapi.json");
    let header = format!("Authorization: Bearer {token}");
    #[rustfmt::skip]
    let args = [
        "run", &url, "-H", &header,
        "--checks", checks, "--phases", phases, "--mode", "all", "--max-examples", "30",
        // A fixed seed: the same cases on every run (a failure found once
        // is found again, and nothing random blocks a landing).
        "--seed", "14",
    ];
    // Through the interpreter: no console script or PATH needed.
    let (passed, text) = python_module("schemathesis.cli", &args, "schemathesis");
    assert!(passed, "schemathesis found failures:\n{text}");
    text
}

#[test]
fn no_input_makes_the_api_fail_or_stray_from_its_document() {
    let (up, port) = start_up(2);
    assert!(up.log.iter().any(|l| l.contains(LISTENING)));
    let token = up.token().expect("the server saved its admin key");
    let report = fuzz(
        port,
        &token,
        "not_a_server_error,status_code_conformance,response_schema_conformance",
        "coverage,fuzzing",
    );
    assert!(report.contains(" passed"), "{report}");
    // A wrong key: every operation answers 401, which the document lists.
    let report = fuzz(
        port,
        "faas_000000000000_not-a-key",
        "not_a_server_error,status_code_conformance",
        "fuzzing",
    );
    assert!(report.contains("401"), "{report}");
}

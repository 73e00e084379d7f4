//! HTTPS and Redis credentials with the real binaries: `faas up` serving
//! HTTPS with a certificate the test makes (clients trust it through
//! `--cacert`, refuse it without, and plain HTTP gets a clear error);
//! certificate files that cannot be used stop a daemon before its ready
//! line; `faas server` + `faas dispatcher` logging in to a `redis-server`
//! with an ACL user; a wrong password failing at start without being
//! printed; and `rediss://` with a private CA.

mod common;

use common::{require_binary, DISPATCHER_READY, LISTENING};
use faas_e2e::{
    free_port, fresh_config_dir, redis_has_tls, run_faas, saved_token, Daemon, Exited,
    RedisOptions, RedisServer, TestCerts,
};
use std::path::Path;
use std::time::Duration;

const USER: &str = "faas";
/// Distinctive, so a test can check it is printed nowhere.
const PASSWORD: &str = "pw-Zq7x3-secret";

/// Every daemon command line of this suite goes through here (API keys
/// on, the default).
fn daemon_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.to_vec()
}

/// A daemon, awaited by its ready line, with the test's config directory
/// `site` (the first server saves its admin key there).
fn start(site: &Path, args: &[&str], ready: &str) -> Daemon {
    require_binary();
    Daemon::start_env(
        &daemon_args(args),
        &[("FAAS_CONFIG_DIR", &site.to_string_lossy())],
        ready,
    )
}

/// A daemon that must fail at start: it runs to its end (30 s at most).
fn start_failing(args: &[&str]) -> Exited {
    require_binary();
    let out = run_faas(&daemon_args(args), &[], Duration::from_secs(30));
    assert!(!out.timed_out, "still running after 30 s: {out:?}");
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(
        !out.stderr.contains(LISTENING) && !out.stderr.contains(DISPATCHER_READY),
        "said it was ready: {out:?}"
    );
    out
}

/// A client command (`faas deploy`, `faas invoke`, ...).
fn client(args: &[&str], env: &[(&str, &str)]) -> Exited {
    run_faas(args, env, Duration::from_secs(60))
}

fn add_wat() -> String {
    format!("{}/../examples/add.wat", env!("CARGO_MANIFEST_DIR"))
}

/// Deploys add.wat and invokes it with 2 3 through `conn` (URL and
/// trust options), with the key saved in `site` (FAAS_TOKEN: a server on
/// another port than the one that saved it); returns the function id.
fn deploy_and_add(conn: &[&str], site: &Path) -> String {
    let wat = add_wat();
    let dir = site.to_string_lossy();
    let token = saved_token(site).expect("a server saved its admin key");
    let env = [
        ("FAAS_CONFIG_DIR", dir.as_ref()),
        ("FAAS_TOKEN", token.as_str()),
    ];
    let mut args = vec!["deploy", &wat];
    args.extend(conn);
    let deployed = client(&args, &env);
    assert_eq!(deployed.code, Some(0), "{deployed:?}");
    let id = deployed.stdout.trim().to_string();
    let mut args = vec!["invoke", &id, "2", "3"];
    args.extend(conn);
    let invoked = client(&args, &env);
    assert_eq!(invoked.code, Some(0), "{invoked:?}");
    assert_eq!(invoked.stdout.trim(), "5", "{invoked:?}");
    id
}

#[test]
fn https_up_serves_clients_that_trust_its_ca() {
    let certs = TestCerts::generate();
    let port = free_port().to_string();
    let site = fresh_config_dir();
    let mut up = start(
        &site,
        &[
            "up",
            "--port",
            &port,
            "-w",
            "2",
            "--tls-cert",
            TestCerts::arg(&certs.cert),
            "--tls-key",
            TestCerts::arg(&certs.key),
        ],
        LISTENING,
    );
    let ready = up.log.last().cloned().unwrap_or_default();
    let url = format!("https://127.0.0.1:{port}");
    assert!(ready.contains(&url), "{ready}");
    let ca = TestCerts::arg(&certs.ca);

    let id = deploy_and_add(&["--url", &url, "--cacert", ca], &site);

    // The same through the environment, the key found in the credentials
    // file under the https:// URL the server saved it for.
    let dir = site.to_string_lossy();
    let env = [
        ("FAAS_URL", url.as_str()),
        ("FAAS_CACERT", ca),
        ("FAAS_CONFIG_DIR", dir.as_ref()),
    ];
    let invoked = client(&["invoke", &id, "40", "2"], &env);
    assert_eq!(invoked.stdout.trim(), "42", "{invoked:?}");

    // Without the CA the server's certificate is not trusted.
    let refused = client(&["invoke", &id, "2", "3", "--url", &url], &[]);
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(
        refused.stderr.contains("certificate") && refused.stderr.contains("--cacert"),
        "{refused:?}"
    );

    // Plain HTTP to the HTTPS port: a clear answer, not a hang or a reset.
    let plain = format!("http://127.0.0.1:{port}");
    let refused = client(&["invoke", &id, "2", "3", "--url", &plain], &[]);
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(refused.stderr.contains("https://"), "{refused:?}");
    assert!(!up.has_exited(), "{:?}", up.drain());
}

#[test]
fn unusable_certificate_files_stop_the_daemon_before_it_is_ready() {
    let certs = TestCerts::generate();
    let port = free_port().to_string();
    let cert = TestCerts::arg(&certs.cert);
    let missing = certs.key.with_file_name("missing.key");
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec!["--tls-cert", cert, "--tls-key", TestCerts::arg(&missing)],
            "missing.key",
        ),
        (
            vec![
                "--tls-cert",
                cert,
                "--tls-key",
                TestCerts::arg(&certs.other_key),
            ],
            "does not fit",
        ),
        (
            vec![
                "--tls-cert",
                TestCerts::arg(&certs.key),
                "--tls-key",
                TestCerts::arg(&certs.key),
            ],
            "no PEM certificate",
        ),
        (vec!["--tls-cert", cert], "--tls-key"),
    ];
    for (tls, expect) in cases {
        let mut args = vec!["up", "--port", &port];
        args.extend(tls.iter().copied());
        let out = start_failing(&args);
        assert!(out.stderr.contains(expect), "{args:?}: {out:?}");
    }
}

#[test]
fn server_and_dispatcher_log_in_to_redis_as_an_acl_user() {
    let redis = RedisServer::start_with(RedisOptions {
        user: Some((USER.into(), PASSWORD.into())),
        ..RedisOptions::default()
    });
    let url = redis.url();
    assert!(url.contains(PASSWORD));
    let port = free_port().to_string();
    let site = fresh_config_dir();
    let mut server = start(
        &site,
        &["server", "--redis", &url, "--port", &port],
        LISTENING,
    );
    let mut dispatcher = start(
        &site,
        &["dispatcher", "--redis", &url, "-w", "2"],
        DISPATCHER_READY,
    );
    deploy_and_add(&["--url", &format!("http://127.0.0.1:{port}")], &site);
    for daemon in [&mut server, &mut dispatcher] {
        let log = daemon.drain().join("\n");
        assert!(log.contains("faas:***@127.0.0.1"), "{log}");
        assert!(!log.contains(PASSWORD), "{log}");
    }
}

#[test]
fn a_wrong_redis_login_fails_at_start_without_printing_the_password() {
    let redis = RedisServer::start_with(RedisOptions {
        user: Some((USER.into(), PASSWORD.into())),
        ..RedisOptions::default()
    });
    let wrong = redis.url_as(Some("faas:not-the-pw-Zq7x3"));
    let port = free_port().to_string();
    for args in [
        vec!["server", "--redis", &wrong, "--port", &port],
        vec!["dispatcher", "--redis", &wrong],
        vec!["up", "--redis", &wrong, "--port", &port],
    ] {
        let out = start_failing(&args);
        assert!(out.stderr.contains("password"), "{args:?}: {out:?}");
        assert!(out.stderr.contains("faas:***@"), "{args:?}: {out:?}");
        assert!(!out.stderr.contains("not-the-pw"), "{args:?}: {out:?}");
    }
    // No login at all.
    let anonymous = redis.url_as(None);
    let out = start_failing(&["server", "--redis", &anonymous, "--port", &port]);
    assert!(out.stderr.contains("password"), "{out:?}");
}

#[test]
fn rediss_with_a_private_ca_works_for_every_daemon() {
    if !redis_has_tls() {
        eprintln!("SKIPPED: this redis-server was built without TLS (--tls-port)");
        return;
    }
    let redis_certs = TestCerts::generate();
    let ca = redis_certs.ca.clone();
    let redis = RedisServer::start_with(RedisOptions {
        user: Some((USER.into(), PASSWORD.into())),
        tls: Some(redis_certs),
        ..RedisOptions::default()
    });
    let url = redis.url();
    assert!(url.starts_with("rediss://"), "{url}");
    let ca = TestCerts::arg(&ca);

    // The server and a dispatcher (its blocking claim connection, and the
    // server's subscription for long polls, are TLS connections too).
    let port = free_port().to_string();
    let site = fresh_config_dir();
    let mut server = start(
        &site,
        &[
            "server",
            "--redis",
            &url,
            "--redis-cacert",
            ca,
            "--port",
            &port,
        ],
        LISTENING,
    );
    let _dispatcher = start(
        &site,
        &[
            "dispatcher",
            "--redis",
            &url,
            "--redis-cacert",
            ca,
            "-w",
            "2",
        ],
        DISPATCHER_READY,
    );
    deploy_and_add(&["--url", &format!("http://127.0.0.1:{port}")], &site);
    let log = server.drain().join("\n");
    assert!(log.contains("rediss://faas:***@"), "{log}");

    // `faas up` on the same Redis, its CA through the environment.
    let up_port = free_port().to_string();
    let up = run_up_with_env(&url, ca, &up_port, &site);
    drop(up);

    // Without the CA, Redis' certificate is not trusted: a clear failure.
    let out = start_failing(&["server", "--redis", &url, "--port", &port]);
    assert!(out.stderr.contains("rediss://faas:***@"), "{out:?}");
    assert!(out.stderr.to_lowercase().contains("certificate"), "{out:?}");
}

/// `faas up` with FAAS_REDIS_URL and FAAS_REDIS_CACERT, and a task through it.
fn run_up_with_env(url: &str, ca: &str, port: &str, site: &Path) -> Daemon {
    require_binary();
    let dir = site.to_string_lossy();
    let up = Daemon::start_env(
        &daemon_args(&["up", "--port", port, "-w", "1"]),
        &[
            ("FAAS_REDIS_URL", url),
            ("FAAS_REDIS_CACERT", ca),
            ("FAAS_CONFIG_DIR", &dir),
        ],
        LISTENING,
    );
    deploy_and_add(&["--url", &format!("http://127.0.0.1:{port}")], site);
    up
}

//! API keys with the real binaries: the first start makes an admin key and
//! saves it where the CLI finds it (the README's quickstart needs no
//! flags), keys made and revoked with `faas keys`, a revocation through
//! one server process taking effect at once on another sharing the Redis,
//! tenants that cannot see each other, quotas, and the refusal to serve
//! without keys beyond loopback.

mod common;

use common::{require_binary, start_dispatcher, start_server, start_up, Api, TYPED};
use faas_e2e::{run_faas, Daemon, Exited, RedisServer};
use serde_json::{json, Value};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// `faas ARGS` against `url` with the CLI's config directory `dir`.
fn faas(dir: &std::path::Path, url: &str, args: &[&str]) -> Exited {
    let dir = dir.to_string_lossy();
    run_faas(args, &[("FAAS_URL", url), ("FAAS_CONFIG_DIR", &dir)], LIMIT)
}

#[track_caller]
fn ok(out: Exited) -> String {
    assert_eq!(out.code, Some(0), "{out:?}");
    out.stdout
}

#[test]
fn the_first_start_saves_an_admin_key_that_the_cli_finds() {
    let (up, port) = start_up(2);
    let url = format!("http://127.0.0.1:{port}");
    let credentials = up.config_dir().join("credentials");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&credentials)
            .expect("saved")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads it");
    }
    let token = up.token().expect("a token in the credentials file");
    assert!(
        up.log.iter().any(|l| l.contains(&token)),
        "the key is shown once at start"
    );
    // The quickstart, as typed: no --token, no FAAS_TOKEN.
    let add = std::env::temp_dir().join(format!("faas-auth-add-{port}.wat"));
    std::fs::write(&add, TYPED).expect("write");
    let id = ok(faas(
        up.config_dir(),
        &url,
        &["deploy", &add.to_string_lossy(), "--entry", "add"],
    ));
    let _ = std::fs::remove_file(&add);
    assert_eq!(
        ok(faas(
            up.config_dir(),
            &url,
            &["invoke", id.trim(), "2", "3"]
        )),
        "5\n"
    );
    // Elsewhere (no credentials), the CLI gets a 401 it explains.
    let empty = std::env::temp_dir().join(format!("faas-auth-empty-{port}"));
    let out = faas(&empty, &url, &["functions"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("401") && out.stderr.contains("API key"),
        "{}",
        out.stderr
    );
    // A wrong key in the environment wins over the file, and fails.
    let dir = up.config_dir().to_string_lossy();
    let out = run_faas(
        &["functions"],
        &[
            ("FAAS_URL", &url),
            ("FAAS_CONFIG_DIR", &dir),
            ("FAAS_TOKEN", "faas_000000000000_x"),
        ],
        LIMIT,
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("unknown or revoked"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_through_one_server_fails_at_once_on_another() {
    require_binary();
    let redis = RedisServer::start();
    let (one, port_one) = start_server(&redis);
    let (_two, port_two) = start_server(&redis);
    let _dispatcher = start_dispatcher(&redis, 2, None);
    let url_one = format!("http://127.0.0.1:{port_one}");
    let admin_dir = one.config_dir().to_path_buf();
    // A key for a user, made with the CLI and an admin key.
    let key = ok(faas(
        &admin_dir,
        &url_one,
        &["keys", "create", "--tenant", "carol"],
    ));
    let key = key.trim().to_string();
    assert!(key.starts_with("faas_"), "{key}");
    let carol_two = Api::new(port_two).with_token(Some(key.clone()));
    // In use on server two (so cached there).
    let function = carol_two
        .register("typed", TYPED.as_bytes(), Some("add"))
        .await;
    for n in 0..20 {
        let done = carol_two.completed(function, &json!([n, 1])).await;
        assert_eq!(done, json!(n + 1));
    }
    let listed = ok(faas(&admin_dir, &url_one, &["keys", "list"]));
    assert!(
        listed.contains("carol") && listed.contains(&key[..17]),
        "{listed}"
    );
    assert!(!listed.contains(&key), "a listing never shows a key");
    ok(faas(&admin_dir, &url_one, &["keys", "revoke", &key[..17]]));
    // The very next request on the other server process fails.
    let reply = carol_two.get("/functions").await;
    assert_eq!(reply.expect_error(401), "unknown or revoked API key");
    let listed = ok(faas(&admin_dir, &url_one, &["keys", "list"]));
    assert!(!listed.contains("carol"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_with_the_stores_credentials_makes_an_admin_key_without_one() {
    require_binary();
    let redis = RedisServer::start();
    let (_server, port) = start_server(&redis);
    // No key at all in this config directory: only the Redis URL.
    let nobody = faas_e2e::fresh_config_dir();
    let url = format!("http://127.0.0.1:{port}");
    let key = ok(faas(
        &nobody,
        &url,
        &[
            "keys",
            "create",
            "--tenant",
            "ops",
            "--admin",
            "--redis",
            &redis.url(),
        ],
    ));
    let ops = Api::new(port).with_token(Some(key.trim().to_string()));
    let me = ops.get("/whoami").await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(
        me.json(),
        json!({"tenant": "ops", "admin": true, "auth": true})
    );
    // A bad tenant name is refused before anything is stored.
    let bad = faas(
        &nobody,
        &url,
        &[
            "keys",
            "create",
            "--tenant",
            "no spaces",
            "--redis",
            &redis.url(),
        ],
    );
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stderr.contains("tenant name"), "{bad:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_cannot_see_each_other_and_quotas_answer_429() {
    require_binary();
    let redis = RedisServer::start();
    let (server, port) = start_server(&redis);
    let _dispatcher = start_dispatcher(&redis, 2, None);
    let url = format!("http://127.0.0.1:{port}");
    let dir = server.config_dir().to_path_buf();
    let alice = Api::new(port).with_token(Some(
        ok(faas(&dir, &url, &["keys", "create", "--tenant", "alice"]))
            .trim()
            .to_string(),
    ));
    let bob = Api::new(port).with_token(Some(
        ok(faas(&dir, &url, &["keys", "create", "--tenant", "bob"]))
            .trim()
            .to_string(),
    ));
    let function = alice.register("typed", TYPED.as_bytes(), Some("add")).await;
    let task = alice.execute(function, &json!([1, 2])).await;
    assert_eq!(alice.wait_final(task).await.1, json!(3));
    bob.get(&format!("/result/{task}")).await.expect_error(404);
    bob.get(&format!("/functions/{function}"))
        .await
        .expect_error(404);
    bob.post(
        "/execute_function",
        &json!({"function_id": function, "payload": [1, 2]}),
    )
    .await
    .expect_error(404);
    let listed: Value = bob.get("/tasks").await.json();
    assert_eq!(listed["tasks"], json!([]));
    // Alice may have 2 tasks at once: a batch of 3 is refused whole.
    let limits = ok(faas(
        &dir,
        &url,
        &["limits", "alice", "--max-active-tasks", "2", "--json"],
    ));
    assert_eq!(
        serde_json::from_str::<Value>(&limits).unwrap()["limits"]["max_active_tasks"],
        2
    );
    let reply = alice
        .post(
            "/execute_batch",
            &json!({"function_id": function, "payloads": [[1, 1], [2, 2], [3, 3]]}),
        )
        .await;
    let detail = reply.expect_error(429);
    assert!(detail.contains("max_active_tasks is 2"), "{detail}");
    let listed: Value = alice.get("/tasks").await.json();
    assert_eq!(
        listed["tasks"].as_array().map(Vec::len),
        Some(1),
        "nothing of it was stored"
    );
    let usage: Value = alice.get("/tenants/alice").await.json();
    assert_eq!(
        usage["active_tasks"], 0,
        "the finished task no longer counts"
    );
}

#[test]
fn serving_without_keys_beyond_loopback_is_refused() {
    require_binary();
    let out = run_faas(
        &["up", "--no-auth", "--host", "0.0.0.0", "--port", "1"],
        &[],
        LIMIT,
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("--insecure-no-auth"), "{}", out.stderr);
    let redis = RedisServer::start();
    let out = run_faas(
        &[
            "server",
            "--redis",
            &redis.url(),
            "--no-auth",
            "--host",
            "::",
            "--port",
            "1",
        ],
        &[],
        LIMIT,
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    // On loopback, --no-auth serves everyone as an admin.
    let port = faas_e2e::free_port();
    let up = Daemon::start(
        &["up", "--no-auth", "--port", &port.to_string()],
        "listening on",
    );
    assert_eq!(up.token(), None, "no key is made");
    let out = run_faas(
        &["functions", "--url", &format!("http://127.0.0.1:{port}")],
        &[],
        LIMIT,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
}

//! The `traceseal` binary: init, serve's refusal of an uninitialised directory, offline verify.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;
use serde_json::{json, Value};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_creates_keys_and_token_0600_and_refuses_to_touch_an_initialised_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let out = Command::new(bin())
        .args(["init", "--data-dir"])
        .arg(&dir)
        .args(["--public-host", "verify.example.com"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["keys/issuer.pem", "keys/log.pem", "admin.token"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    // The config names the host the log origin was made with, so codes name it too.
    let cfg = std::fs::read_to_string(dir.join("traceseal.toml")).unwrap();
    assert!(
        cfg.contains("\npublic_host = \"verify.example.com\"\n"),
        "{cfg}"
    );
    let cfg = traceseal::config::Config::from_toml(&cfg).unwrap();
    assert_eq!(cfg.public_host, "verify.example.com");
    // Standard PKCS#8: openssl reads it as an Ed25519 key.
    for f in ["keys/issuer.pem", "keys/log.pem"] {
        let o = Command::new("openssl")
            .args(["pkey", "-noout", "-text", "-in"])
            .arg(dir.join(f))
            .output()
            .expect("openssl is installed by scripts/dev setup");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains("ED25519"));
    }
    let token_before = std::fs::read(dir.join("admin.token")).unwrap();
    let again = Command::new(bin())
        .args(["init", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already initialised"));
    assert_eq!(
        std::fs::read(dir.join("admin.token")).unwrap(),
        token_before
    );
}

#[test]
fn serve_refuses_an_uninitialised_dir_and_a_world_readable_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("empty"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not initialised"), "{err}");
    assert!(!tmp.path().join("empty/db").exists(), "nothing was created");

    let dir = tmp.path().join("d");
    assert!(Command::new(bin())
        .args(["init", "--data-dir"])
        .arg(&dir)
        .status()
        .unwrap()
        .success());
    std::fs::set_permissions(
        dir.join("keys/issuer.pem"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env("TRACESEAL_CHAIN_ENABLED", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}

#[test]
fn serve_without_dev_needs_a_chain_or_none_and_a_real_operator_token() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    assert!(Command::new(bin())
        .args(["init", "--data-dir"])
        .arg(&dir)
        .status()
        .unwrap()
        .success());
    // No chain configured and no --dev: refused, saying what to do; nothing is started.
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a configuration error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no chain is configured")
            && err.contains("TRACESEAL_CHAIN_RPC")
            && err.contains("chain.enabled = false")
            && err.contains("--dev"),
        "{err}"
    );
    assert!(
        !dir.join("chain").exists(),
        "no development chain was started"
    );
    // An empty or short operator token is refused.
    for token in ["", "short-token\n"] {
        std::fs::write(dir.join("admin.token"), token).unwrap();
        std::fs::set_permissions(
            dir.join("admin.token"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let out = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .env("TRACESEAL_CHAIN_ENABLED", "false")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("must be at least 32"), "{token:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_verify_with_keys_json_and_pem() {
    let s = TestServer::start(test_config()).await;
    s.seed().await;
    let (_, codes) = s.issue("cli", 2).await;
    let keys: Value = s.get("/api/v1/keys").await.json().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let keys_file = tmp.path().join("keys.json");
    std::fs::write(&keys_file, keys.to_string()).unwrap();

    let run = |code: &str, keys: &std::path::Path| {
        Command::new(bin())
            .args(["verify", code, "--keys"])
            .arg(keys)
            .output()
            .unwrap()
    };
    let ok = run(&codes[0], &keys_file);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("GENUINE"));

    // The issuer's private PEM works too (its public half is used).
    let pem = s.dir.path().join("data/keys/issuer.pem");
    assert_eq!(run(&codes[1], &pem).status.code(), Some(0));

    let tampered = codes[0].replace("/10/LOT-1/", "/10/LOT-9/");
    let bad = run(&tampered, &keys_file);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("NOT GENUINE"));

    let malformed = run("https://x/01/123", &keys_file);
    assert_eq!(malformed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&malformed.stdout).contains("malformed"));

    // A key set without our issuer: unknown key.
    let other = json!({"keys": [{"kid": "00000000", "role": "issuer", "algorithm": "Ed25519",
        "public_key": "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=", "not_before": "2026-01-01T00:00:00Z", "not_after": null}]});
    let other_file = tmp.path().join("other.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    let unk = run(&codes[0], &other_file);
    assert_eq!(unk.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unk.stdout).contains("not in"));
    s.stop().await;
}

/// Spawns `traceseal serve ARGS --data-dir DIR` with `envs` and reads stdout up to and
/// including the first line containing `until`; returns the child and that banner.
fn spawn_serve(
    args: &[&str],
    dir: &std::path::Path,
    envs: &[(&str, &str)],
    until: impl Fn(&str) -> bool,
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(bin())
        .arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = until(&line);
        banner.push(line);
        if done {
            break;
        }
    }
    (child, banner.join("\n"))
}

#[test]
fn serve_prints_the_token_path_and_a_first_request_and_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    // The README's run path: --init on an empty dir, dev chain started by the service (on a
    // free port so a developer's own service on 8545 does not interfere).
    let port = traceseal::chain::anvil::free_port().unwrap().to_string();
    let (mut child, text) = spawn_serve(
        &["--init", "--dev", "--listen", "127.0.0.1:0"],
        &dir,
        &[
            ("TRACESEAL_CHECKPOINT_INTERVAL_MS", "60000"),
            ("TRACESEAL_DEV_CHAIN_PORT", &port),
        ],
        |l| l.contains("curl") && l.contains("enterprises"),
    );
    assert!(text.contains("admin.token"), "{text}");
    assert!(
        text.contains("traceseal listening on http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("anchoring       chain 31337"), "{text}");
    assert!(
        !text.contains("demo data"),
        "a plain `serve --init` (the production start) loads no demo data"
    );
    assert!(dir.join("db").exists(), "--init initialised the directory");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    assert!(
        dir.join("chain/anvil-state.json").exists(),
        "the dev chain was stopped cleanly and dumped its state"
    );
}

#[test]
fn serve_init_demo_loads_the_demo_data_and_prints_codes_to_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let (mut child, text) = spawn_serve(
        &["--init", "--demo", "--listen", "127.0.0.1:0"],
        &dir,
        &[("TRACESEAL_CHAIN_ENABLED", "false")],
        |l| l.contains("traceseal listening on"),
    );
    assert!(
        text.contains("demo data: 4 products, 9 actors, ")
            && text.contains(" engagements, 5 lots, 60 custody records"),
        "{text}"
    );
    assert_eq!(
        text.matches("  scan          https://").count(),
        5,
        "{text}"
    );
    assert_eq!(mode(&dir.join("demo-keys/cn-nb-bonded-wh3.pem")), 0o600);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    // --demo needs --init.
    let o = Command::new(bin())
        .args(["serve", "--demo", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[tokio::test]
async fn token_add_list_revoke_on_the_data_dir_and_the_token_works_on_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let run = |args: &[&str]| {
        Command::new(bin())
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .output()
            .unwrap()
    };
    assert!(run(&["init", "--public-host", "verify.example.com"])
        .status
        .success());
    let out = run(&[
        "token",
        "add",
        "--role",
        "regulator",
        "--name",
        "customs dashboard",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("tst_") && token.len() == 58, "{token}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("shown only now"));
    let id = token[4..14].to_string();
    let list = String::from_utf8(run(&["token", "list"]).stdout).unwrap();
    assert!(list.contains(&id) && list.contains("regulator") && list.contains("never used"));
    assert!(!list.contains(&token[15..]), "the secret is never listed");
    let bad = run(&["token", "add", "--role", "label_printer", "--name", "x"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("give enterprise_id"));
    let unknown = run(&[
        "token",
        "add",
        "--role",
        "label_printer",
        "--enterprise",
        "7",
        "--name",
        "x",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("enterprise_id 7 does not exist"));

    let (mut child, banner) = spawn_serve(
        &["--listen", "127.0.0.1:0"],
        &dir,
        &[("TRACESEAL_CHAIN_ENABLED", "false")],
        |l| l.contains("traceseal listening on http://"),
    );
    let base = banner
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let c = reqwest::Client::new();
    let read = c
        .get(format!("{base}/api/v1/enterprises"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let write = c
        .post(format!("{base}/api/v1/enterprises"))
        .bearer_auth(&token)
        .json(&json!({"name": "X", "uscc": USCC, "country": "CN"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);
    let p: Value = write.json().await.unwrap();
    assert_eq!(p["detail"], "a regulator may not POST /api/v1/enterprises");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());

    let out = run(&["token", "revoke", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = run(&["token", "revoke", &id]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("revoked already"));
    let list = String::from_utf8(run(&["token", "list"]).stdout).unwrap();
    assert!(list.contains("revoked "), "{list}");
}

#[tokio::test]
async fn user_add_makes_the_first_operator_who_signs_in_on_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(bin())
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(run(&["init", "--public-host", "verify.example.com"], "")
        .status
        .success());
    let add = ["user", "add", "--username", "root-op", "--role", "operator"];
    let out = run(&[&add[..], &["--generate-password"]].concat(), "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let password = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(password.len(), 24, "{password}");
    // A password read from standard input is checked; a refusal exits 2 and stores nothing.
    let short = run(
        &["user", "add", "--username", "second", "--role", "regulator"],
        "short\n",
    );
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("password must be 12 to 256"));
    let taken = run(&add, "another long password\n");
    assert_eq!(taken.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&taken.stderr).contains("exists already"));
    let list = String::from_utf8(run(&["user", "list"], "").stdout).unwrap();
    assert!(
        list.contains("root-op  operator") && !list.contains("second"),
        "{list}"
    );
    // With a user operator in place, the bootstrap token is retired: its file deleted.
    let bootstrap = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    std::fs::remove_file(dir.join("admin.token")).unwrap();

    let (mut child, banner) = spawn_serve(
        &["--listen", "127.0.0.1:0"],
        &dir,
        &[("TRACESEAL_CHAIN_ENABLED", "false")],
        |l| l.contains("traceseal listening on http://"),
    );
    let base = banner
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let c = reqwest::Client::new();
    let sign_in = |pw: String| {
        c.post(format!("{base}/api/v1/session"))
            .json(&json!({"username": "root-op", "password": pw}))
            .send()
    };
    assert_eq!(
        sign_in("wrong password!".into()).await.unwrap().status(),
        401
    );
    let r = sign_in(password).await.unwrap();
    assert_eq!(r.status(), 201);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-traceseal-session=") && cookie.contains("Secure"));
    let retired = c
        .get(format!("{base}/api/v1/enterprises"))
        .bearer_auth(bootstrap.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(
        retired.status(),
        401,
        "the retired bootstrap token opens nothing"
    );
    // The CLI's changes are in the audit trail.
    let id = cookie.split(';').next().unwrap().to_string();
    let audit: Value = c
        .get(format!("{base}/api/v1/audit"))
        .header("cookie", id)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rec = &audit["records"][0];
    assert_eq!(
        (&rec["principal"], &rec["method"], &rec["route"]),
        (&json!("cli"), &json!("CLI"), &json!("traceseal user add")),
        "{audit}"
    );
    assert_eq!(rec["targets"]["username"], "root-op");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let out = run(&["user", "disable", "root-op"], "");
    assert!(out.status.success());
    let list = String::from_utf8(run(&["user", "list"], "").stdout).unwrap();
    assert!(list.contains("disabled "), "{list}");
}

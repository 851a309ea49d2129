//! Issuer keys rotated and revoked end to end, on the real binary over RocksDB: batch 1 and a
//! later batch 1b are issued with the first key K1; `traceseal keys rotate` (the service
//! stopped) makes K2, which signs batch 2; `traceseal keys revoke K1 --from <batch 1b's issue
//! time>` after a simulated leak (codes signed with K1's PEM by the test). Then all four
//! verifiers agree: the server (`/api/v1/verify`), `traceseal verify`, `traceseal
//! verify-bundle` and the scan page in headless Chromium say batch 1 and batch 2 genuine, and
//! batch 1b and the forged codes not genuine with the reason `issuer_key_revoked`.
//! `/api/v1/keys` shows both keys' validity and the revocation, whose records are log leaves
//! with inclusion proofs; malformed or refused CLI input writes nothing; a rotation
//! interrupted after writing its key file stops `serve` until `keys rotate` finishes it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine;
use common::browser::{artifacts_dir, Browser};
use common::seed::Seeder;
use common::*;
use serde_json::{json, Value};
use traceseal::code::{Code, KeyId};
use traceseal::issuer::IssuerKeyOp;
use traceseal::leaf::LeafRecord;

/// The environment of every command: no chain, fast checkpoints, no rate limit in the way.
const ENV: &[(&str, &str)] = &[
    ("TRACESEAL_CHAIN_ENABLED", "false"),
    ("TRACESEAL_PUBLIC_HOST", "verify.example.com"),
    ("TRACESEAL_CHECKPOINT_INTERVAL_MS", "50"),
    ("TRACESEAL_RATE_PER_SECOND", "100000"),
    ("TRACESEAL_RATE_BURST", "100000"),
];

/// `traceseal ARGS --data-dir DIR`.
fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(ENV.iter().copied())
        .output()
        .unwrap()
}

/// `traceseal ARGS` (no data directory).
fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The service, stopped with SIGTERM (a clean shutdown) when the test is done with it.
struct Server {
    proc: Proc,
    token: String,
    http: reqwest::Client,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let token = std::fs::read_to_string(dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        Server {
            proc: Proc::serve(dir, ENV),
            token,
            http: reqwest::Client::new(),
        }
    }

    fn seeder(&self) -> Seeder<'_> {
        Seeder {
            base: &self.proc.base,
            token: &self.token,
            http: &self.http,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.proc.base))
            .send()
            .await
            .unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    async fn log_size(&self) -> u64 {
        self.json("/healthz").await["log_size"].as_u64().unwrap()
    }

    /// Waits for a checkpoint covering the whole log; returns its note.
    async fn checkpointed(&self) -> String {
        let size = self.log_size().await;
        for _ in 0..400 {
            let note = self
                .get("/api/v1/log/checkpoint")
                .await
                .text()
                .await
                .unwrap();
            if checkpoint_size(&note) >= size {
                return note;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no checkpoint covering {size}");
    }

    /// Issues `quantity` codes of lot `lot`; returns the batch and its codes.
    async fn issue(&self, key: &str, lot: &str, quantity: u64) -> (Value, Vec<String>) {
        let body = json!({"lot": lot, "expiry": "2028-06-30", "quantity": quantity});
        let (id, codes) = self.seeder().issue(key, body).await;
        let b: Value = self
            .seeder()
            .get(&format!("/api/v1/batches/{id}"))
            .await
            .json()
            .await
            .unwrap();
        (b, codes)
    }

    async fn save(&self, path: &str, file: &Path) {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        std::fs::write(file, r.bytes().await.unwrap()).unwrap();
    }

    fn stop(mut self) {
        let pid = self.proc.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        assert!(self.proc.child.wait().unwrap().success(), "clean shutdown");
    }
}

/// Unix seconds of an RFC 3339 time as the API writes it.
fn unix(t: &Value) -> i64 {
    traceseal::issuer::parse_when(t.as_str().unwrap()).unwrap()
}

/// Waits for the wall clock's next second (batch times are whole seconds).
fn next_second() {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let s = now();
    while now() == s {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What one code is, as each verifier must say it.
struct Case {
    name: &'static str,
    code: String,
    genuine: bool,
    /// Its proof bundle, when the code was issued.
    bundle: Option<PathBuf>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_and_a_revocation_across_all_four_verifiers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let files = tmp.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let o = cli(&dir, &["init", "--public-host", "verify.example.com"]);
    assert!(o.status.success(), "{}", err(&o));

    // Batch 1 with K1; a second later batch 1b, also with K1 (issued after the leak).
    let s = Server::start(&dir);
    s.seeder().seed().await;
    let (b1, codes1) = s.issue("b1", "LOT-1", 3).await;
    next_second();
    let (b1b, codes1b) = s.issue("b1b", "LOT-1B", 2).await;
    let k1 = b1["kid"].as_str().unwrap().to_string();
    assert_eq!(b1b["kid"], k1.as_str());
    let leak = unix(&b1b["created_at"]);
    assert!(unix(&b1["created_at"]) < leak);
    s.checkpointed().await;
    // A consumer saved batch 1b's bundle before the revocation.
    let old_bundle_1b = files.join("old-1b.json");
    s.save(&with_code("/api/v1/bundle", &codes1b[0]), &old_bundle_1b)
        .await;
    s.stop();

    // Rotate with the service stopped; K2 signs batch 2.
    let o = cli(&dir, &["keys", "rotate"]);
    assert!(o.status.success(), "{}", err(&o));
    let line = out(&o).lines().next().unwrap().to_string();
    let k2 = line
        .strip_prefix(&format!("rotated: {k1} -> "))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let k2_file = dir.join(format!("keys/issuer-{k2}.pem"));
    assert_eq!(
        std::fs::metadata(&k2_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!out(&o).contains("PRIVATE KEY") && !err(&o).contains("PRIVATE KEY"));
    let s = Server::start(&dir);
    let (b2, codes2) = s.issue("b2", "LOT-2", 2).await;
    assert_eq!(b2["kid"], k2.as_str());
    let size_before = s.log_size().await;
    s.stop();

    refused_revocations_write_nothing(&dir, &k1, &k2, leak);
    let o = cli(
        &dir,
        &[
            "keys",
            "revoke",
            &k1,
            "--from",
            &leak.to_string(),
            "--reason",
            "key leaked",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    let (id1, id1b) = (b1["id"].as_u64().unwrap(), b1b["id"].as_u64().unwrap());
    assert!(text.starts_with(&format!("revoked: {k1}")), "{text}");
    assert!(
        text.contains("re-label") && text.contains(&format!("batch {id1b}  GTIN")),
        "{text}"
    );
    assert!(
        text.contains(&format!("(still genuine): batch {id1}\n")),
        "{text}"
    );
    let again = cli(
        &dir,
        &[
            "keys",
            "revoke",
            &k1,
            "--from",
            &leak.to_string(),
            "--reason",
            "x",
        ],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(err(&again).contains("already revoked"), "{}", err(&again));

    let s = Server::start(&dir);
    assert_eq!(s.log_size().await, size_before + 1, "one revocation record");
    let note = s.checkpointed().await;
    keys_and_their_log_records(&s, &note, &k1, &k2, leak).await;

    // The leak: codes signed with K1's PEM for a serial never issued, and for batch 2's item.
    let k1_key = traceseal::keys::read_private_pem(&dir.join("keys/issuer.pem")).unwrap();
    let kid1 = KeyId::parse(&k1).unwrap();
    let c1 = Code::parse(&codes1[0]).unwrap();
    let mut item = c1.item().clone();
    item.serial = traceseal::gs1::Serial::random();
    let forged = Code::sign(c1.host(), &item, kid1, &k1_key);
    let c2 = Code::parse(&codes2[0]).unwrap();
    let forged2 = Code::sign(c2.host(), c2.item(), kid1, &k1_key);

    let bundle = |name: &str| files.join(format!("{name}.json"));
    for (name, code) in [("1", &codes1[1]), ("1b", &codes1b[0]), ("2", &codes2[0])] {
        s.save(&with_code("/api/v1/bundle", code), &bundle(name))
            .await;
    }
    for c in [&forged, &forged2] {
        let r = s.get(&with_code("/api/v1/bundle", c.as_str())).await;
        assert_eq!(r.status(), 404, "no bundle of a forged code");
    }
    let keys_file = files.join("keys.json");
    s.save("/api/v1/keys", &keys_file).await;
    let cases = [
        Case {
            name: "batch 1",
            code: codes1[1].clone(),
            genuine: true,
            bundle: Some(bundle("1")),
        },
        Case {
            name: "batch 1b",
            code: codes1b[0].clone(),
            genuine: false,
            bundle: Some(bundle("1b")),
        },
        Case {
            name: "batch 2",
            code: codes2[0].clone(),
            genuine: true,
            bundle: Some(bundle("2")),
        },
        Case {
            name: "forged",
            code: forged.as_str().into(),
            genuine: false,
            bundle: None,
        },
        Case {
            name: "forged on batch 2's item",
            code: forged2.as_str().into(),
            genuine: false,
            bundle: None,
        },
    ];
    for c in &cases {
        server_verdict(&s, c).await;
        cli_verify(c, &keys_file);
        bundle_verify(c, &keys_file);
    }
    // The bundle saved before the revocation does not know of it; pinned to the keys as they
    // are now, it fails.
    let o = run(&["verify-bundle", old_bundle_1b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "valid as of then: {}", out(&o));
    let o = run(&[
        "verify-bundle",
        old_bundle_1b.to_str().unwrap(),
        "--keys",
        keys_file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("FAILED issuer_key_revoked: "),
        "{}",
        out(&o)
    );
    scan_pages(&s, &cases).await;
    s.stop();
    interrupted_rotation(&dir, &k2);
}

/// Malformed or refused revocations exit 2 with the reason and write nothing.
fn refused_revocations_write_nothing(dir: &Path, k1: &str, k2: &str, leak: i64) {
    let list = out(&cli(dir, &["keys", "list"]));
    let from = leak.to_string();
    let cases: [(&[&str], &str); 7] = [
        (
            &["keys", "revoke", "zz", "--from", &from, "--reason", "r"],
            "kid",
        ),
        (
            &[
                "keys", "revoke", "0a1b2c3d", "--from", &from, "--reason", "r",
            ],
            "no issuer key 0a1b2c3d",
        ),
        (
            &["keys", "revoke", k1, "--from", "yesterday", "--reason", "r"],
            "not an RFC 3339 time",
        ),
        (
            &[
                "keys",
                "revoke",
                k1,
                "--from",
                "2999-01-01T00:00:00Z",
                "--reason",
                "r",
            ],
            "in the future",
        ),
        (
            &["keys", "revoke", k1, "--from", &from, "--reason", " "],
            "reason must be 1 to 200 characters",
        ),
        (
            &["keys", "revoke", k2, "--from", &from, "--reason", "r"],
            "run `traceseal keys rotate` first",
        ),
        (&["keys", "revoke", k1, "--from", &from], "--reason"),
    ];
    for (args, want) in cases {
        let o = cli(dir, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", out(&o));
        assert!(err(&o).contains(want), "{args:?}: {}", err(&o));
    }
    assert_eq!(out(&cli(dir, &["keys", "list"])), list, "nothing changed");
}

/// `/api/v1/keys` shows both keys' validity and the revocation; their records are in the log,
/// each with an inclusion proof against the signed checkpoint.
async fn keys_and_their_log_records(s: &Server, note: &str, k1: &str, k2: &str, leak: i64) {
    let keys = s.json("/api/v1/keys").await;
    let key = |kid: &str| {
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
            .clone()
    };
    let (i1, i2) = (key(k1), key(k2));
    assert_eq!(
        (&i1["current"], &i2["current"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(i1["not_after"], i2["not_before"], "the rotation's time");
    assert_eq!(unix(&i1["revoked_from"]), leak);
    assert_eq!(i1["revoke_reason"], "key leaked");
    assert!(i2["revoked_from"].is_null() && i2["not_after"].is_null());
    assert!(i1["leaf_index"].is_null(), "init's key has no add record");
    let records: Vec<u64> = i1["records"]
        .as_array()
        .unwrap()
        .iter()
        .chain(i2["records"].as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(records.len(), 3, "retire and revoke of K1, add of K2");
    assert_eq!(i2["leaf_index"].as_u64(), Some(records[2]));
    let size = checkpoint_size(note);
    let root = traceseal::merkle::Hash::from_base64(note.lines().nth(2).unwrap()).unwrap();
    let std = base64::engine::general_purpose::STANDARD;
    let mut ops = Vec::new();
    for i in records {
        let leaf = s.json(&format!("/api/v1/log/leaves/{i}")).await;
        let data = std.decode(leaf["data"].as_str().unwrap()).unwrap();
        let LeafRecord::IssuerKey(op) = LeafRecord::parse(&data).unwrap() else {
            panic!("leaf {i} is not an issuer-key record");
        };
        let p = s
            .json(&format!(
                "/api/v1/log/proof/inclusion?index={i}&size={size}"
            ))
            .await;
        let proof: Vec<_> = p["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| traceseal::merkle::Hash::from_base64(h.as_str().unwrap()).unwrap())
            .collect();
        traceseal::merkle::verify_inclusion(
            &traceseal::merkle::leaf_hash(&data),
            i,
            size,
            &proof,
            &root,
        )
        .unwrap();
        ops.push(op);
    }
    assert!(
        matches!(&ops[0], IssuerKeyOp::Retire { kid, replaced_by, .. } if kid == k1 && replaced_by == k2)
    );
    assert!(
        matches!(&ops[1], IssuerKeyOp::Revoke { kid, revoked_from, reason, .. }
        if kid == k1 && *revoked_from == leak && reason == "key leaked")
    );
    assert!(
        matches!(&ops[2], IssuerKeyOp::Add { kid, replaces: Some(r), .. } if kid == k2 && r == k1)
    );
}

/// The server's verdict.
async fn server_verdict(s: &Server, c: &Case) {
    let v = s.json(&verify_path(&c.code)).await;
    if c.genuine {
        assert_eq!(v["verdict"], "genuine", "{}: {v}", c.name);
    } else {
        assert_eq!(v["verdict"], "not_genuine", "{}: {v}", c.name);
        assert_eq!(
            v["reasons"][0]["code"], "issuer_key_revoked",
            "{}: {v}",
            c.name
        );
        assert!(v["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("(key leaked)"));
    }
}

/// `traceseal verify`: with the keys alone, a code of the revoked K1 is not genuine (it
/// cannot be dated); with its bundle, batch 1's is genuine and batch 1b's is not.
fn cli_verify(c: &Case, keys: &Path) {
    let keys = keys.to_str().unwrap();
    let plain = run(&["verify", &c.code, "--keys", keys]);
    let k1_code = c.name != "batch 2";
    let want = if k1_code { 1 } else { 0 };
    assert_eq!(
        plain.status.code(),
        Some(want),
        "{}: {}",
        c.name,
        out(&plain)
    );
    if k1_code {
        assert!(
            out(&plain).starts_with("NOT GENUINE (issuer_key_revoked): "),
            "{}",
            out(&plain)
        );
        assert!(out(&plain).contains("--bundle"), "{}", out(&plain));
    }
    let Some(b) = &c.bundle else { return };
    let o = run(&[
        "verify",
        &c.code,
        "--keys",
        keys,
        "--bundle",
        b.to_str().unwrap(),
    ]);
    if c.genuine {
        assert_eq!(o.status.code(), Some(0), "{}: {}", c.name, out(&o));
        assert!(out(&o).starts_with("GENUINE"), "{}", out(&o));
    } else {
        assert_eq!(o.status.code(), Some(1), "{}: {}", c.name, out(&o));
        assert!(
            out(&o).starts_with("NOT GENUINE (issuer_key_revoked): "),
            "{}",
            out(&o)
        );
        assert!(out(&o).contains("this item was issued at"), "{}", out(&o));
    }
}

/// `traceseal verify-bundle`, with and without the pinned keys: valid bundles exit 3 (valid,
/// this service does not anchor), batch 1b's fails with the reason.
fn bundle_verify(c: &Case, keys: &Path) {
    let Some(b) = &c.bundle else { return };
    let b = b.to_str().unwrap();
    for o in [
        run(&["verify-bundle", b]),
        run(&["verify-bundle", b, "--keys", keys.to_str().unwrap()]),
    ] {
        if c.genuine {
            assert_eq!(o.status.code(), Some(3), "{}: {}", c.name, out(&o));
            assert!(!out(&o).contains("FAILED"), "{}", out(&o));
        } else {
            assert_eq!(o.status.code(), Some(1), "{}: {}", c.name, out(&o));
            assert!(
                out(&o).contains("FAILED issuer_key_revoked: "),
                "{}",
                out(&o)
            );
        }
    }
}

/// The scan page in headless Chromium: the verdict shown and the browser's own key check.
async fn scan_pages(s: &Server, cases: &[Case]) {
    let art = artifacts_dir("issuer-keys");
    let b = Browser::start("en-US,en", 390, 844).await;
    for c in cases {
        b.goto(&format!("{}{}", s.proc.base, code_path(&c.code)))
            .await;
        b.wait_ready(Duration::from_secs(10)).await;
        let checks = b
            .js("const o = {}; for (const li of document.querySelectorAll('#checks li')) o[li.id.slice(4)] = li.dataset.result + ': ' + li.innerText; return o;")
            .await;
        let key = checks["key"].as_str().unwrap_or("missing");
        let verified = b
            .js("return document.documentElement.dataset.verified")
            .await;
        if c.genuine {
            assert_eq!(b.text("#verdict h1").await, "Genuine", "{}", c.name);
            assert!(key.starts_with("pass"), "{}: {checks}", c.name);
            assert_eq!(
                checks["code"].as_str().unwrap().split(':').next(),
                Some("pass")
            );
            assert_eq!(verified, "pass", "{}: {checks}", c.name);
        } else {
            assert_eq!(b.text("#verdict h1").await, "Not genuine", "{}", c.name);
            let reasons = b.text("#reasons").await;
            assert!(
                reasons.contains("revoked from") && reasons.contains("(key leaked)"),
                "{reasons}"
            );
            assert!(
                key.starts_with("fail") && key.contains("key leaked"),
                "{}: {checks}",
                c.name
            );
            assert_eq!(verified, "fail", "{}: {checks}", c.name);
        }
        if c.name == "batch 1" {
            assert!(key.contains("before that: still valid"), "{key}");
        }
        let shot = c.name.replace(' ', "-").replace('\'', "");
        b.full_screenshot(&art.join(format!("{shot}.png"))).await;
    }
    b.quit().await;
}

/// A rotation that stopped after writing its key file: `serve` refuses to start and says
/// what to do; `keys rotate` finishes it with that key.
fn interrupted_rotation(dir: &Path, k2: &str) {
    let key = traceseal::keys::generate();
    let kid = KeyId::of(&key.verifying_key()).to_string();
    let file = dir.join(format!("keys/issuer-{kid}.pem"));
    traceseal::keys::write_private_pem(&file, &key).unwrap();
    let o = cli(dir, &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        err(&o).contains(&format!("issuer-{kid}.pem")) && err(&o).contains("keys rotate"),
        "{}",
        err(&o)
    );
    let o = cli(dir, &["keys", "rotate"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        err(&o).contains("finishing an interrupted rotation"),
        "{}",
        err(&o)
    );
    assert!(
        out(&o).starts_with(&format!("rotated: {k2} -> {kid}")),
        "{}",
        out(&o)
    );
    let list = out(&cli(dir, &["keys", "list"]));
    assert!(
        list.contains(&format!("{kid}  issuer")) && list.contains("current"),
        "{list}"
    );
}

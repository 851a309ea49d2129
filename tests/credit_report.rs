//! The credit report an enterprise hands to its bank, end to end against a real anvil node:
//! the service anchors the checkpoint its grade changes are in, the report is downloaded over
//! HTTP and checked by the `traceseal verify-report` binary offline, with the log key pinned,
//! and against the contract; tampered copies fail with the reason.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use common::{bin, test_config, TestServer};
use traceseal::chain::anvil::{find_binary, Anvil, AnvilOptions};

fn verify_report(file: &Path, keys: Option<&Path>, rpc: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(bin());
    cmd.arg("verify-report").arg(file);
    if let Some(k) = keys {
        cmd.arg("--keys").arg(k);
    }
    if let Some(u) = rpc {
        cmd.args(["--rpc", u]);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn a_credit_report_verifies_offline_and_on_chain_and_tampering_is_caught() {
    let anvil = Anvil::start(AnvilOptions::new(find_binary().unwrap())).unwrap();
    let mut cfg = test_config();
    cfg.chain.poll_ms = 100;
    cfg.chain.anchor_interval_ms = 0;
    let s = TestServer::start_anchored(cfg, &anvil.url()).await;
    let id = s.seed().await;
    // A safety recall: grade D and the warning list; then the operator sets C.
    s.declare_and_recall("R1", "Salmonella in a retained sample", Some("safety"))
        .await;
    s.grade_when(id, |g| {
        g["grade"] == "D" && !g["warnings"].as_array().unwrap().is_empty()
    })
    .await;
    let r = s
        .admin_put(
            &format!("/api/v1/enterprises/{id}/grade/override"),
            json!({"grade": "C", "reason": "joint review: the supplier's fault, remedied"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let report = s.anchored_report(id, 3).await;
    assert_eq!(report["format"], "traceseal/credit-report/v1");
    assert_eq!(report["enterprise"]["name"], "Acme Import Co.");

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("report.json");
    std::fs::write(&f, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    let keys = dir.path().join("keys.json");
    let k = s.get("/api/v1/keys").await.text().await.unwrap();
    std::fs::write(&keys, &k).unwrap();

    let (code, out) = verify_report(&f, None, None);
    assert_eq!(code, 0, "{out}");
    for want in [
        "note: the log key is the report's own",
        "Acme Import Co.",
        "ok  3 grade and 1 warning-list changes",
        "ok  grade C (score 48.0, model's grade D",
        "safety_recall",
        "WARNING LIST: listed by grade_d, safety_recall",
        "joint review: the supplier's fault, remedied",
        "VERIFIED offline",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    let (code, out) = verify_report(&f, Some(&keys), Some(&anvil.url()));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok  signed by the pinned log key"), "{out}");
    assert!(out.contains("contract verifies the inclusion"), "{out}");
    assert!(
        out.contains(
            "VERIFIED: the grade and its history are in a checkpoint whose root is anchored"
        ),
        "{out}"
    );

    // Tampered copies: each fails (exit 1) with the reason.
    let tamper = |name: &str, f: &dyn Fn(&mut Value)| {
        let mut v = report.clone();
        f(&mut v);
        let p = dir.path().join(format!("{name}.json"));
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        p
    };
    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "renamed",
            Box::new(|v| v["enterprise"]["uscc"] = json!("91330200MA2GOODCO")),
            "signed statement",
        ),
        (
            "dropped",
            Box::new(|v| {
                v["records"].as_array_mut().unwrap().remove(1);
            }),
            "signed statement",
        ),
        (
            "unknown-field",
            Box::new(|v| v["grade"] = json!("A")),
            "not a credit report",
        ),
        (
            "anchor-root",
            Box::new(|v| v["anchor"]["root"] = json!(format!("0x{}", "ab".repeat(32)))),
            "anchored root",
        ),
    ];
    for (name, f, want) in &cases {
        let p = tamper(name, f.as_ref());
        let (code, out) = verify_report(&p, Some(&keys), None);
        assert_eq!(code, 1, "{name}: {out}");
        assert!(out.contains(want), "{name}: {want}: {out}");
    }
    // Another log's key pinned: refused.
    let mut other: Value = serde_json::from_str(&k).unwrap();
    for key in other["keys"].as_array_mut().unwrap() {
        if key["role"] == "log" {
            key["vkey"] = json!(traceseal::checkpoint::NoteSigner::new(
                "verify.example.com/log",
                ed25519_dalek::SigningKey::from_bytes(&[7; 32])
            )
            .unwrap()
            .vkey());
        }
    }
    let other_keys = dir.path().join("other-keys.json");
    std::fs::write(&other_keys, other.to_string()).unwrap();
    let (code, out) = verify_report(&f, Some(&other_keys), None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("checkpoint"), "{out}");

    // No report of an enterprise that does not exist, nor for a malformed id.
    assert_eq!(
        s.get("/api/v1/enterprises/999/credit-report")
            .await
            .status(),
        404
    );
    assert_eq!(
        s.get("/api/v1/enterprises/x/credit-report").await.status(),
        400
    );
    s.stop().await;
}

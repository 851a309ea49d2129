//! Crash test of the custody intake: 32 submitters walk their own lots concurrently over HTTP,
//! so records are committed in groups; the server is killed with `kill -9` in the middle, then
//! restarted. Every acknowledged record must be in the log with its exact bytes and in its
//! lot's chain; every lot's state must agree with its records (no record half-written: leaf
//! without index, index without state, nonce without record); a submission that got no answer
//! is either whole or absent, and when absent it is accepted when sent again.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use traceseal::code::KeyId;
use traceseal::custody::record::{self, Event, Role, Warehousing};
use traceseal::custody::{SignedStatement, Statement, GENESIS};

const SUBMITTERS: usize = 32;
const ENV: [(&str, &str); 3] = [
    ("TRACESEAL_CHECKPOINT_INTERVAL_MS", "100"),
    ("TRACESEAL_RATE_PER_SECOND", "100000"),
    ("TRACESEAL_RATE_BURST", "100000"),
];

/// A submission as sent, and what its leaf will be.
#[derive(Clone)]
struct Sent {
    lot: String,
    body: Value,
    leaf: Vec<u8>,
    hash: String,
}

#[derive(Default)]
struct Outcome {
    /// Acknowledged: (leaf index, submission).
    acked: Vec<(u64, Sent)>,
    /// Sent but never answered (the server died).
    unanswered: Vec<Sent>,
}

struct Cast {
    log: String,
    keys: HashMap<Role, (String, SigningKey)>,
}

impl Cast {
    fn sign(&self, role: Role, lot: &str, prev: &str, event: Event) -> Sent {
        let (id, sk) = &self.keys[&role];
        let st = Statement {
            log: self.log.clone(),
            lot: lot.into(),
            items: vec![],
            prev: prev.into(),
            actor: id.clone(),
            kid: KeyId::of(&sk.verifying_key()).to_string(),
            time: "2026-12-05T10:00:00+08:00".into(),
            signed_at: traceseal::service::now_unix(),
            nonce: record::random_nonce(),
            place: None,
            event,
        };
        let body = json!({"statement": st.canonical(), "signature": st.sign(sk)});
        let signed = SignedStatement {
            checked: record::parse_statement(body["statement"].as_str().unwrap()).unwrap(),
            signature: record::parse_signature(body["signature"].as_str().unwrap()).unwrap(),
        };
        let leaf = signed.leaf();
        let hash = record::hex(traceseal::merkle::leaf_hash(&leaf).as_bytes());
        Sent {
            lot: lot.into(),
            body,
            leaf,
            hash,
        }
    }
}

/// Registers one actor per role, engaged by `enterprise`.
async fn cast(s: &common::seed::Seeder<'_>, enterprise: u64, log: &str) -> Cast {
    let mut keys = HashMap::new();
    for (i, role) in Role::ALL.into_iter().enumerate() {
        let sk = SigningKey::from_bytes(&[i as u8 + 40; 32]);
        let id = format!("crash-{}", role.as_str().replace('_', "-"));
        let pk = base64::engine::general_purpose::STANDARD.encode(sk.verifying_key().as_bytes());
        let body = json!({"id": id, "organisation": id, "country": "AU", "role": role.as_str(),
                          "keys": [{"public_key": pk, "not_before": 0}]});
        assert_eq!(s.post("/api/v1/actors", body, None).await.status(), 201);
        let path = format!("/api/v1/enterprises/{enterprise}/engagements");
        let r = s
            .post(&path, json!({"actor_id": id, "not_before": 0}), None)
            .await;
        assert_eq!(r.status(), 201);
        keys.insert(role, (id, sk));
    }
    Cast {
        log: log.into(),
        keys,
    }
}

/// One submitter: walks its lot to the warehouse and then stores, record after record, each
/// signed over the head the previous answer gave, until the server stops answering.
async fn submitter(base: String, cast: Arc<Cast>, lot: String, out: Arc<Mutex<Outcome>>) {
    let http = reqwest::Client::new();
    let mut steps: Vec<(Role, Event)> =
        traceseal::custody::rules::standard_route("531620261000123")
            .into_iter()
            .take(7)
            .collect();
    for i in 0..traceseal::custody::rules::MAX_STORING {
        let e = Event::Storing(Warehousing {
            location: Some(format!("rack {i}")),
        });
        steps.push((Role::BondedWarehouse, e));
    }
    let mut prev = GENESIS.to_string();
    for (role, event) in steps {
        let sent = cast.sign(role, &lot, &prev, event);
        let r = http
            .post(format!("{base}/api/v1/custody/records"))
            .json(&sent.body)
            .send()
            .await;
        let answer = match r {
            Ok(r) if r.status() == 201 => r.json::<Value>().await.ok(),
            Ok(r) => panic!("{lot}: refused {}: {:?}", r.status(), r.text().await),
            Err(_) => None,
        };
        let Some(a) = answer else {
            out.lock().unwrap().unanswered.push(sent);
            return;
        };
        assert_eq!(a["record_hash"], sent.hash.as_str());
        prev = a["head"].as_str().unwrap().to_string();
        let index = a["leaf_index"].as_u64().unwrap();
        out.lock().unwrap().acked.push((index, sent));
    }
}

async fn metric(s: &common::seed::Seeder<'_>, name: &str) -> u64 {
    let text = s.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .parse()
        .unwrap()
}

/// The lot's records after the restart: a whole chain from GENESIS whose state agrees.
async fn lot_records(s: &common::seed::Seeder<'_>, lot: &str) -> Vec<String> {
    let v: Value = s
        .get(&format!("/api/v1/lots/{lot}?limit=500"))
        .await
        .json()
        .await
        .unwrap();
    let mut prev = GENESIS.to_string();
    let mut hashes = Vec::new();
    for r in v["records"].as_array().unwrap() {
        assert_eq!(r["prev"], prev.as_str(), "{lot}: the chain is broken");
        prev = r["record_hash"].as_str().unwrap().to_string();
        hashes.push(prev.clone());
    }
    assert_eq!(v["head"], prev.as_str(), "{lot}: head and records disagree");
    assert_eq!(v["state"]["records"].as_u64().unwrap(), hashes.len() as u64);
    hashes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_group_commits_keeps_every_acknowledged_record_and_no_partial_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let ok = std::process::Command::new(bin())
        .args(["init", "--data-dir"])
        .arg(&dir)
        .args(["--public-host", "verify.example.com"])
        .status()
        .unwrap();
    assert!(ok.success());
    let token = std::fs::read_to_string(dir.join("admin.token")).unwrap();
    let token = token.trim().to_string();
    let http = reqwest::Client::new();
    let proc = Proc::serve(&dir, &ENV);
    let base = proc.base.clone();
    let s = common::seed::Seeder {
        base: &base,
        token: &token,
        http: &http,
    };
    let enterprise = s.enterprise("Crash Custody Imports", "AU").await;
    s.product(enterprise, "奶粉", "Milk powder").await;
    let cast = Arc::new(cast(&s, enterprise, "verify.example.com/log").await);
    let lots: Vec<String> = (0..SUBMITTERS).map(|i| format!("{GTIN}.CC{i}")).collect();
    for l in &lots {
        let (_, lot) = l.split_once('.').unwrap();
        let r = s
            .post("/api/v1/lots", json!({"gtin": GTIN, "lot": lot}), None)
            .await;
        assert_eq!(r.status(), 201);
    }
    let groups_before = metric(&s, "traceseal_custody_groups_total").await;

    let out = Arc::new(Mutex::new(Outcome::default()));
    let tasks: Vec<_> = lots
        .iter()
        .map(|l| {
            tokio::spawn(submitter(
                base.clone(),
                cast.clone(),
                l.clone(),
                out.clone(),
            ))
        })
        .collect();
    // Kill once enough records were acknowledged, while every submitter is still busy.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (groups, records) = loop {
        let n = out.lock().unwrap().acked.len();
        if n >= 600 {
            let g = metric(&s, "traceseal_custody_groups_total").await - groups_before;
            let r = metric(&s, "traceseal_custody_group_records_total").await;
            break (g, r);
        }
        assert!(Instant::now() < deadline, "only {n} records acknowledged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(
        groups < records,
        "records were not grouped: {groups} groups for {records} records"
    );
    proc.kill9();
    for t in tasks {
        t.await.unwrap();
    }
    let out = std::mem::take(&mut *out.lock().unwrap());
    assert!(out.acked.len() < SUBMITTERS * 57, "the kill came too late");

    let proc = Proc::serve(&dir, &ENV);
    let base = proc.base.clone();
    let s = common::seed::Seeder {
        base: &base,
        token: &token,
        http: &http,
    };
    // Every acknowledged record, byte for byte at its index.
    for (index, sent) in &out.acked {
        let v: Value = s
            .get(&format!("/api/v1/log/leaves/{index}"))
            .await
            .json()
            .await
            .unwrap();
        let data = base64::engine::general_purpose::STANDARD
            .decode(v["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            data, sent.leaf,
            "leaf {index} is not the acknowledged record"
        );
    }
    // An acknowledged record sent again after the restart is a replay: its nonce was read
    // back from the store when the service opened.
    for (_, sent) in out.acked.iter().rev().take(8) {
        let r = s
            .post("/api/v1/custody/records", sent.body.clone(), None)
            .await;
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["code"], "custody.replay", "{}: {p}", sent.lot);
    }
    // Every lot whole; nothing but acknowledged or unanswered records in it.
    let mut in_lots = HashSet::new();
    for l in &lots {
        in_lots.extend(lot_records(&s, l).await);
    }
    let acked: HashSet<&str> = out.acked.iter().map(|(_, a)| a.hash.as_str()).collect();
    assert!(acked.iter().all(|h| in_lots.contains(*h)));
    let unanswered: HashSet<&str> = out.unanswered.iter().map(|u| u.hash.as_str()).collect();
    assert!(in_lots
        .iter()
        .all(|h| acked.contains(h.as_str()) || unanswered.contains(h.as_str())));
    // An unanswered record is whole (sending it again is a replay) or absent (it is accepted
    // now: its nonce and its lot were left untouched).
    let mut whole = 0;
    for u in &out.unanswered {
        let r = s
            .post("/api/v1/custody/records", u.body.clone(), None)
            .await;
        let status = r.status();
        let p: Value = r.json().await.unwrap();
        if in_lots.contains(&u.hash) {
            whole += 1;
            assert_eq!(p["code"], "custody.replay", "{}: {p}", u.lot);
        } else {
            assert_eq!(status, 201, "{}: {p}", u.lot);
        }
    }
    println!(
        "killed after {} acknowledged records ({records} written in {groups} groups); {} unanswered, {whole} of them written whole",
        out.acked.len(),
        out.unanswered.len()
    );
    drop(proc);
}

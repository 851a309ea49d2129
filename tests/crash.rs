//! Crash test: `kill -9` the real server binary during a large batch, twice, restart it, and
//! check that no code of the interrupted batch scans genuine, every acknowledged batch still
//! verifies, every new checkpoint is consistent with the last one served before the crash, and
//! a retry with the same Idempotency-Key completes the batch.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use rand::Rng;
use serde_json::{json, Value};
use traceseal::checkpoint::{open_checkpoint, Checkpoint, NoteVerifier};
use traceseal::commitment::Commitment;
use traceseal::leaf::LeafRecord;
use traceseal::merkle::{self, Hash};
use traceseal::store::{Cf, Store};

const BIG: u64 = 120_000;
const BIG_KEY: &str = "big-batch";
const ENV: [(&str, &str); 3] = [
    ("TRACESEAL_CHECKPOINT_INTERVAL_MS", "100"),
    ("TRACESEAL_RATE_PER_SECOND", "100000"),
    ("TRACESEAL_RATE_BURST", "100000"),
];

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }
    async fn json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }
    fn post_batch(&self, key: &str, quantity: u64) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/api/v1/batches", self.base))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", key)
            .json(&json!({"gtin": GTIN, "lot": "CRASH-1", "quantity": quantity}))
    }
    async fn checkpoint(&self, v: &NoteVerifier) -> (String, Checkpoint) {
        let note = self
            .get("/api/v1/log/checkpoint")
            .await
            .text()
            .await
            .unwrap();
        let cp = open_checkpoint(&note, v).expect("served checkpoint verifies");
        (note, cp)
    }
    async fn verdict(&self, code: &str) -> Value {
        let r = self.get(&verify_path(code)).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

fn hashes(v: &Value) -> Vec<Hash> {
    v["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

/// The batch and commitment of item leaf `i`, as served publicly.
async fn leaf_commitment(api: &Api, i: u64) -> (u64, Commitment) {
    let v = api.json(&format!("/api/v1/log/leaves/{i}")).await;
    let data = base64::engine::general_purpose::STANDARD
        .decode(v["data"].as_str().unwrap())
        .unwrap();
    let leaf = LeafRecord::parse_item(&data).unwrap();
    (leaf.batch_id, leaf.commitment)
}

/// Codes of a sample of the leaves from `from` to the end of the log, read from the data
/// directory while the server is down (the log does not carry codes, and an interrupted
/// batch has no printable codes).
fn sample_codes(dir: &Path, from: u64) -> Vec<(u64, String)> {
    let store = traceseal::store::rocks::RocksStore::open(&dir.join("db")).unwrap();
    let (last, _) = store.last(Cf::Codes).unwrap().unwrap();
    let size = u64::from_be_bytes(last.as_slice().try_into().unwrap()) + 1;
    assert!(size > from);
    let mut rng = rand::thread_rng();
    let mut sample: Vec<u64> = (0..150).map(|_| rng.gen_range(from..size)).collect();
    sample.extend([from, size - 1]);
    sample
        .into_iter()
        .map(|i| {
            let code = store.get(Cf::Codes, &i.to_be_bytes()).unwrap().unwrap();
            (i, String::from_utf8(code).unwrap())
        })
        .collect()
}

/// Kills the server at a random moment after the big batch has made durable progress beyond
/// `past`; returns the last checkpoint served before the kill.
async fn kill_mid_batch(proc: Proc, api: &Api, v: &NoteVerifier, past: u64) -> Checkpoint {
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut last = api.checkpoint(v).await.1;
    loop {
        let b = api.get("/api/v1/batches/3").await;
        if b.status() == 200 {
            let b: Value = b.json().await.unwrap();
            let issued = b["issued"].as_u64().unwrap();
            assert!(
                issued < BIG,
                "the batch finished before it could be killed; raise BIG"
            );
            if issued > past {
                break;
            }
        }
        last = api.checkpoint(v).await.1;
        assert!(Instant::now() < deadline, "batch made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A random moment inside the next chunk(s).
    let wait = rand::thread_rng().gen_range(0..400);
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(wait) {
        last = api.checkpoint(v).await.1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    proc.kill9();
    last
}

/// After a restart: the partial batch is `issuing`, none of its codes scans genuine, the
/// acknowledged codes do, and the new checkpoint is consistent with `before`.
async fn check_after_restart(
    api: &Api,
    v: &NoteVerifier,
    before: &Checkpoint,
    acked: &[String],
    interrupted: &[(u64, String)],
) -> u64 {
    let b = api.json("/api/v1/batches/3").await;
    assert_eq!(b["status"], "issuing", "{b}");
    let issued = b["issued"].as_u64().unwrap();
    assert!(issued > 0 && issued < BIG);
    let codes_resp = api.get("/api/v1/batches/3/codes").await;
    assert_eq!(
        codes_resp.status(),
        409,
        "an incomplete batch has no printable codes"
    );

    // Wait for a checkpoint at least as large as the one served before the crash.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (_, now) = loop {
        let (n, cp) = api.checkpoint(v).await;
        if cp.size >= before.size {
            break (n, cp);
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if now.size == before.size {
        assert_eq!(now.root, before.root);
    } else {
        let p = api
            .json(&format!(
                "/api/v1/log/proof/consistency?from={}&to={}",
                before.size, now.size
            ))
            .await;
        merkle::verify_consistency(before.size, now.size, &hashes(&p), &before.root, &now.root)
            .expect("new checkpoint is consistent with the last one served before the crash");
    }

    // No code of the interrupted batch scans genuine: a sample of its leaves, whose public
    // leaves commit to the codes read from the data directory.
    let size = api.json("/healthz").await["log_size"].as_u64().unwrap();
    assert!(size > 100, "the interrupted batch wrote leaves");
    for (i, code) in interrupted {
        let (batch, commitment) = leaf_commitment(api, *i).await;
        assert_eq!(batch, 3);
        assert_eq!(commitment, Commitment::of_uri(code), "leaf {i}");
        let verdict = api.verdict(code).await;
        assert_eq!(verdict["verdict"], "not_genuine", "leaf {i}: {verdict}");
        assert_eq!(verdict["reasons"][0]["code"], "batch_incomplete");
    }
    // Every acknowledged code still verifies.
    for c in acked {
        let verdict = api.verdict(c).await;
        assert!(
            verdict["verdict"] == "genuine" || verdict["verdict"] == "genuine_with_warning",
            "{verdict}"
        );
    }
    issued
}

fn init(dir: &Path) {
    let ok = Command::new(bin())
        .args(["init", "--data-dir"])
        .arg(dir)
        .args(["--public-host", "verify.example.com"])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_large_batch_never_leaves_a_partial_batch_genuine() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    init(&dir);
    let token = std::fs::read_to_string(dir.join("admin.token"))
        .unwrap()
        .trim()
        .to_string();
    let proc = Proc::serve(&dir, &ENV);
    let mut api = Api {
        base: proc.base.clone(),
        token,
        http: reqwest::Client::new(),
    };
    let keys = api.json("/api/v1/keys").await;
    let vkey = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "log")
        .unwrap()["vkey"]
        .as_str()
        .unwrap()
        .to_string();
    let v = NoteVerifier::from_vkey(&vkey).unwrap();

    // Master data and two acknowledged batches (ids 1 and 2).
    let seeder = common::seed::Seeder {
        base: &api.base,
        token: &api.token,
        http: &api.http,
    };
    let id = seeder.enterprise("Crash Test Imports", "FR").await;
    seeder.product(id, "葡萄酒", "Wine").await;
    let mut acked = Vec::new();
    for (key, q) in [("small-1", 40u64), ("small-2", 60)] {
        let body = json!({"lot": "CRASH-1", "quantity": q});
        acked.extend(seeder.issue(key, body).await.1);
    }
    assert_eq!(acked.len(), 100);

    // Round 1: kill during the first run of the big batch.
    let req = api.post_batch(BIG_KEY, BIG).send();
    let pending = tokio::spawn(req);
    let before = kill_mid_batch(proc, &api, &v, 0).await;
    assert!(
        pending.await.unwrap().is_err(),
        "the killed request got no answer"
    );
    // Leaves 2..=101 are the acknowledged batches (leaf 0 is the enterprise's first grade,
    // leaf 1 the product's record).
    let interrupted = sample_codes(&dir, 102);
    let proc = Proc::serve(&dir, &ENV);
    api.base = proc.base.clone();
    let issued1 = check_after_restart(&api, &v, &before, &acked, &interrupted).await;

    // Round 2: the retry resumes the batch; kill it again mid-way.
    let pending = tokio::spawn(api.post_batch(BIG_KEY, BIG).send());
    let before = kill_mid_batch(proc, &api, &v, issued1).await;
    let _ = pending.await;
    // Leaves 2..=101 are the acknowledged batches (leaf 0 is the enterprise's first grade,
    // leaf 1 the product's record).
    let interrupted = sample_codes(&dir, 102);
    let proc = Proc::serve(&dir, &ENV);
    api.base = proc.base.clone();
    let issued2 = check_after_restart(&api, &v, &before, &acked, &interrupted).await;
    assert!(issued2 > issued1, "the resumed run made durable progress");

    // Round 3: the retry completes the batch, with the same batch id and exactly BIG codes.
    let r = api.post_batch(BIG_KEY, BIG).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"batch_id": 3, "count": BIG})
    );
    let b = api.json("/api/v1/batches/3").await;
    assert_eq!(b["status"], "complete");
    let text = api
        .get("/api/v1/batches/3/codes")
        .await
        .text()
        .await
        .unwrap();
    let codes = code_lines(&text);
    assert_eq!(codes.len() as u64, BIG);
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(
        distinct.len() as u64,
        BIG,
        "no serial reused across the crashes"
    );
    for c in codes.iter().step_by(4000) {
        assert_eq!(api.verdict(c).await["verdict"], "genuine");
    }
    proc.kill9();
}

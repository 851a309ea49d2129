//! A data directory written by the last build of schema 2 is opened by this build, the real
//! server binary: its Merkle nodes are migrated at start-up (`docs/schema.md`, Version 3), the
//! checkpoint that build signed is still the latest, every leaf's inclusion proof served now
//! verifies against it, the demo code scans genuine, and once new leaves are appended the new
//! checkpoint is consistent with the old one.
//!
//! `fixtures/schema2/` was made with the build of commit b096b88 (schema 2): `traceseal init
//! --public-host verify.example.com`, `traceseal demo`, then `traceseal serve` with the chain
//! off until it signed a checkpoint (`checkpoint.txt`, as served; `code.txt` is a demo code it
//! printed). `data.tar.gz` holds the data directory without the demo actors' keys; its issuer,
//! log and anchoring keys and its operator token are public test values, never for use.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use serde_json::{json, Value};
use traceseal::merkle::{self, Hash};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/schema2");
const ENV: [(&str, &str); 3] = [
    ("TRACESEAL_CHECKPOINT_INTERVAL_MS", "100"),
    ("TRACESEAL_RATE_PER_SECOND", "100000"),
    ("TRACESEAL_RATE_BURST", "100000"),
];

fn unpack(into: &Path) {
    let file = std::fs::File::open(format!("{FIXTURE}/data.tar.gz")).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive.set_preserve_permissions(true);
    archive.unpack(into).unwrap();
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn hash(v: &Value) -> Hash {
    Hash::from_slice(&b64(v.as_str().unwrap())).unwrap()
}

/// Size and root of a checkpoint note.
fn size_and_root(note: &str) -> (u64, Hash) {
    let root = note.lines().nth(2).unwrap();
    (checkpoint_size(note), Hash::from_slice(&b64(root)).unwrap())
}

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn get(&self, path: &str) -> reqwest::Response {
        let r = self.http.get(format!("{}{path}", self.base)).send().await;
        r.unwrap()
    }
    async fn json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }
    async fn note(&self) -> String {
        self.get("/api/v1/log/checkpoint")
            .await
            .text()
            .await
            .unwrap()
    }
}

/// Every leaf of the tree of `size` has an inclusion proof that verifies against `root`.
async fn every_inclusion_verifies(c: &Client, size: u64, root: &Hash) {
    for i in 0..size {
        let leaf = c.json(&format!("/api/v1/log/leaves/{i}")).await;
        let leaf = merkle::leaf_hash(&b64(leaf["data"].as_str().unwrap()));
        let p = c
            .json(&format!(
                "/api/v1/log/proof/inclusion?index={i}&size={size}"
            ))
            .await;
        let proof: Vec<Hash> = p["proof"].as_array().unwrap().iter().map(hash).collect();
        merkle::verify_inclusion(&leaf, i, size, &proof, root)
            .unwrap_or_else(|e| panic!("leaf {i} of {size}: {e}"));
    }
}

/// Issues a batch of `n` codes with the fixture's operator token (new leaves).
async fn issue(c: &Client, data: &Path, n: u64) {
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let r = c
        .http
        .post(format!("{}/api/v1/batches", c.base))
        .bearer_auth(token.trim())
        .header("Idempotency-Key", "after-migration")
        .json(&json!({"gtin": "09312345000128", "lot": "MIGRATED-1", "quantity": n}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

/// The first checkpoint the server signs past `size`.
async fn checkpoint_after(c: &Client, size: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let note = c.note().await;
        if checkpoint_size(&note) > size {
            return note;
        }
        assert!(Instant::now() < deadline, "no checkpoint past {size}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schema_2_data_directory_is_migrated_and_its_log_still_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    unpack(&data);
    let db = data.join("db");
    let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), &db).unwrap();
    assert!(cfs.iter().any(|c| c == "nodes"), "not a schema-2 directory");

    let proc = Proc::serve(&data, &ENV);
    let c = Client {
        base: proc.base.clone(),
        http: reqwest::Client::new(),
    };
    let old = std::fs::read_to_string(format!("{FIXTURE}/checkpoint.txt")).unwrap();
    let (size, root) = size_and_root(&old);
    // The schema-2 build's checkpoint is the latest, or a later one: the first tick grades
    // the directory's enterprises (a grade leaf each); the later one must be consistent
    // with it (checked below with the issued items).
    let first = c.note().await;
    assert!(
        first == old || size_and_root(&first).0 > size,
        "the schema-2 build's checkpoint or a later one is served: {first}"
    );
    every_inclusion_verifies(&c, size, &root).await;

    let code = std::fs::read_to_string(format!("{FIXTURE}/code.txt")).unwrap();
    let scan = c.json(&verify_path(code.trim())).await;
    assert_eq!(scan["verdict"], "genuine", "{scan}");

    issue(&c, &data, 100).await;
    let new = checkpoint_after(&c, size).await;
    let (new_size, new_root) = size_and_root(&new);
    let p = c
        .json(&format!(
            "/api/v1/log/proof/consistency?from={size}&to={new_size}"
        ))
        .await;
    let proof: Vec<Hash> = p["proof"].as_array().unwrap().iter().map(hash).collect();
    merkle::verify_consistency(size, new_size, &proof, &root, &new_root).unwrap();
    every_inclusion_verifies(&c, new_size, &new_root).await;
    drop(proc);

    let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), &db).unwrap();
    assert!(cfs.iter().any(|c| c == "tree_nodes"), "{cfs:?}");
    assert!(!cfs.iter().any(|c| c == "nodes"), "{cfs:?}");
}

//! End-to-end anchoring against a real anvil node over JSON-RPC, with the service over RocksDB:
//! the states logged → anchor_pending → anchored → confirmed → finalized, proof bundles checked
//! by the `verify-bundle` binary against the contract, and the faults: a reorg after an anchor,
//! anvil killed and restarted, the service killed mid-anchor, a stuck transaction fee-bumped.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{bin, test_config, verify_path, with_code, Proc, TestServer, GTIN};
use traceseal::anchor::{hex0x, log_id, AnchorStatus, ChainPort};
use traceseal::chain::anvil::{find_binary, Anvil, AnvilOptions};
use traceseal::chain::Reader;

const T: Duration = Duration::from_secs(5);

fn anvil_opts() -> AnvilOptions {
    let mut o = AnvilOptions::new(find_binary().unwrap());
    // `finalized` trails the head by two blocks.
    o.slots_in_an_epoch = 1;
    o
}

fn fast_config() -> traceseal::config::Config {
    let mut cfg = test_config();
    cfg.chain.poll_ms = 100;
    cfg.chain.anchor_interval_ms = 0;
    cfg.chain.confirmations = 2;
    cfg
}

async fn scan(s: &TestServer, code: &str) -> Value {
    let r = s
        .client
        .get(s.url(&verify_path(code)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a scan never fails because of the chain");
    r.json().await.unwrap()
}

fn status(v: &Value) -> String {
    v["anchor"]["status"].as_str().unwrap_or("none").to_string()
}

/// Scans `code` until its anchor status is `want` (or later, when `or_later`).
async fn wait_status(s: &TestServer, code: &str, want: AnchorStatus, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let v = scan(s, code).await;
        let st: AnchorStatus =
            serde_json::from_value(v["anchor"]["status"].clone()).unwrap_or(AnchorStatus::Logged);
        if st >= want {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "anchor of {code} did not reach {want:?} in {limit:?}; last: {}",
            v["anchor"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn reader(url: &str) -> Reader {
    Reader::connect(url, [0; 20], T).await.unwrap()
}

fn our_log_id(s: &TestServer) -> [u8; 32] {
    log_id(s.state.svc.origin())
}

fn anchorer(
    s: &TestServer,
) -> &traceseal::service::anchoring::Anchorer<traceseal::chain::ChainClient> {
    s.anchorer.as_ref().unwrap()
}

fn contract_reader(s: &TestServer) -> &Reader {
    anchorer(s).chain().reader()
}

fn verify_bundle(file: &Path, rpc: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(bin());
    cmd.arg("verify-bundle").arg(file);
    if let Some(u) = rpc {
        cmd.args(["--rpc", u]);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

/// An anvil (automine), a server anchoring on it, `n` issued codes, and the first code's scan
/// once its checkpoint is anchored.
async fn anchored(n: u64) -> (Anvil, TestServer, Vec<String>, Value) {
    let anvil = Anvil::start(anvil_opts()).unwrap();
    let s = TestServer::start_anchored(fast_config(), &anvil.url()).await;
    s.seed().await;
    let (_, codes) = s.issue("k1", n).await;
    // The log: the enterprise's first grade, the product's ownership record, then the n items.
    s.checkpoint_covering(n + 2).await;
    let v = wait_status(
        &s,
        &codes[0],
        AnchorStatus::Anchored,
        Duration::from_secs(20),
    )
    .await;
    (anvil, s, codes, v)
}

/// `traceseal init` of a fresh data dir (in `dir`).
fn init_data_dir(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    let st = Command::new(bin())
        .args(["init", "--data-dir"])
        .arg(&data)
        .args(["--public-host", "verify.example.com"])
        .output()
        .unwrap();
    assert!(st.status.success());
    data
}

/// Environment of a spawned service anchoring on `url`, with fast timings.
fn chain_envs(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TRACESEAL_CHAIN_ENABLED", "true".into()),
        ("TRACESEAL_CHAIN_RPC", url.into()),
        ("TRACESEAL_ANCHOR_POLL_MS", "100".into()),
        ("TRACESEAL_ANCHOR_INTERVAL_MS", "0".into()),
        ("TRACESEAL_CHECKPOINT_INTERVAL_MS", "100".into()),
        ("TRACESEAL_PUBLIC_HOST", "verify.example.com".into()),
        ("TRACESEAL_RATE_BURST", "100000".into()),
        ("TRACESEAL_RATE_PER_SECOND", "100000".into()),
    ]
}

fn serve(data: &Path, envs: &[(&'static str, String)]) -> Proc {
    let e: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Proc::serve(data, &e)
}

/// Operator requests to a spawned service.
struct Operator {
    c: reqwest::Client,
    token: String,
}

impl Operator {
    fn new(data: &Path) -> Operator {
        Operator {
            c: reqwest::Client::new(),
            token: std::fs::read_to_string(data.join("admin.token"))
                .unwrap()
                .trim()
                .to_string(),
        }
    }

    /// The shared seeding client ([`common::seed::Seeder`]) for the service at `base`.
    fn at<'a>(&'a self, base: &'a str) -> common::seed::Seeder<'a> {
        common::seed::Seeder {
            base,
            token: &self.token,
            http: &self.c,
        }
    }

    /// Registers the enterprise and product.
    async fn seed(&self, base: &str) {
        let id = self.at(base).enterprise("Acme", "AU").await;
        self.at(base).product(id, "奶粉", "Formula").await;
    }

    /// Issues a batch; returns its codes.
    async fn issue(&self, base: &str, key: &str, lot: &str, quantity: u64) -> Vec<String> {
        let body = json!({"lot": lot, "quantity": quantity});
        self.at(base).issue(key, body).await.1
    }
}

#[tokio::test]
async fn checkpoint_is_anchored_confirmed_finalized_and_the_bundle_verifies_on_chain() {
    // Automine: the anchor transaction is mined at once.
    let (anvil, s, codes, v) = anchored(5).await;
    let a = &v["anchor"];
    assert_eq!(a["chain_id"], 31337);
    assert_eq!(
        a["tree_size"].as_u64(),
        Some(7),
        "the enterprise's first grade, the product record and 5 items"
    );
    let tx = a["tx_hash"].as_str().unwrap().to_string();
    let block = a["block_number"].as_u64().unwrap();
    assert_eq!(
        a["contract"].as_str().unwrap(),
        hex0x(&anchorer(&s).chain().contract())
    );
    // The root on chain is the checkpoint's.
    let on = contract_reader(&s)
        .anchor_at(&our_log_id(&s), 7)
        .await
        .unwrap()
        .expect("anchored on chain");
    let cp = s.state.svc.log().checkpoint_at(7).unwrap().unwrap();
    assert_eq!(on.root, *cp.root_hash().unwrap().as_bytes());
    assert_eq!(on.block_number, block);

    // One more block: confirmed (K = 2). Two more: finalized (the tag trails by two).
    let r = reader(&anvil.url()).await;
    r.anvil_mine(1).await.unwrap();
    let v = wait_status(
        &s,
        &codes[1],
        AnchorStatus::Confirmed,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(v["anchor"]["tx_hash"].as_str(), Some(tx.as_str()));
    r.anvil_mine(3).await.unwrap();
    wait_status(
        &s,
        &codes[2],
        AnchorStatus::Finalized,
        Duration::from_secs(10),
    )
    .await;
    let rec = anchorer(&s).latest_record().unwrap().unwrap();
    assert_eq!(rec.status, AnchorStatus::Finalized);
    assert!(rec.gas_used.unwrap() > 21_000);

    // The proof bundle verifies offline and against the contract.
    let b: Value = s
        .get(&with_code("/api/v1/bundle", &codes[3]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["anchor"]["status"], "finalized");
    assert_eq!(b["anchor"]["tx_hash"].as_str(), Some(tx.as_str()));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bundle.json");
    std::fs::write(&f, serde_json::to_vec_pretty(&b).unwrap()).unwrap();
    let (code, out) = verify_bundle(&f, None);
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify_bundle(&f, Some(&anvil.url()));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VERIFIED"), "{out}");
    assert!(out.contains("contract verifies the inclusion"), "{out}");

    // Any tampering is caught, with the reason.
    let mut t = b.clone();
    t["records"][0]["inclusion_proof"][0] = json!(traceseal::merkle::Hash([7; 32]).to_base64());
    std::fs::write(&f, serde_json::to_vec(&t).unwrap()).unwrap();
    let (code, out) = verify_bundle(&f, None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("inclusion"), "{out}");
    let mut t = b.clone();
    t["anchor"]["root"] = json!(hex0x(&[9; 32]));
    std::fs::write(&f, serde_json::to_vec(&t).unwrap()).unwrap();
    let (code, out) = verify_bundle(&f, Some(&anvil.url()));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("anchored root"), "{out}");
    let mut t = b.clone();
    t["anchor"]["chain_id"] = json!(1);
    std::fs::write(&f, serde_json::to_vec(&t).unwrap()).unwrap();
    let (code, out) = verify_bundle(&f, Some(&anvil.url()));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("chain 31337"), "{out}");

    // Items not anchored yet: the bundle says so and verify-bundle exits 3.
    r.set_automine(false).await.unwrap();
    let (_, more) = s.issue("k2", 2).await;
    s.checkpoint_covering(9).await;
    let b: Value = s
        .get(&with_code("/api/v1/bundle", &more[0]))
        .await
        .json()
        .await
        .unwrap();
    let st = b["anchor"]["status"].as_str().unwrap();
    assert!(st == "logged" || st == "anchor_pending", "{st}");
    std::fs::write(&f, serde_json::to_vec(&b).unwrap()).unwrap();
    let (code, out) = verify_bundle(&f, None);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("NOT ANCHORED YET"), "{out}");
    // A code we did not issue (here: another serial, so the signature fails) is 404, a
    // malformed one 400 (problem+json); the gtin/serial route is gone.
    let forged = more[0].replacen("/21/", "/21/X", 1);
    assert_eq!(
        s.get(&with_code("/api/v1/bundle", &forged)).await.status(),
        404
    );
    assert_eq!(
        s.get(&with_code("/api/v1/bundle", "https://x/01/1"))
            .await
            .status(),
        400
    );
    assert_eq!(s.get("/api/v1/bundle").await.status(), 400);
    assert_eq!(
        s.get(&format!("/api/v1/items/{GTIN}/NOPE/bundle"))
            .await
            .status(),
        404
    );
    s.stop().await;
    drop(anvil);
}

#[tokio::test]
async fn a_reorg_sends_the_anchor_back_to_pending_and_it_is_reanchored_once() {
    let (anvil, s, codes, v) = anchored(3).await;
    let old_block = v["anchor"]["block_number"].as_u64().unwrap();
    let r = reader(&anvil.url()).await;
    let (_, old_hash, _) = r.block_info(old_block).await.unwrap().unwrap();
    let head = r.block_number().await.unwrap();

    // Replace every block from the anchor's up: the anchor is no longer on chain.
    r.anvil_reorg(head - old_block + 1).await.unwrap();
    let (_, new_hash, _) = r.block_info(old_block).await.unwrap().unwrap();
    assert_ne!(old_hash, new_hash, "anvil_reorg replaced the block");

    // From now on no scan may report the old anchor, and any anchor reported must be on
    // chain (its transaction's receipt in the reported block) when we check right after.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut saw_pending = false;
    loop {
        let v = scan(&s, &codes[1]).await;
        let st = status(&v);
        if st == "anchored" || st == "confirmed" || st == "finalized" {
            let tx = traceseal::anchor::parse_hex::<32>(v["anchor"]["tx_hash"].as_str().unwrap())
                .unwrap();
            let n = v["anchor"]["block_number"].as_u64().unwrap();
            let rc = r
                .receipt(&tx)
                .await
                .unwrap()
                .expect("reported anchor is on chain");
            assert_eq!(rc.block_number, n);
            let (_, h, _) = r.block_info(n).await.unwrap().unwrap();
            assert_ne!(h, old_hash, "a scan reported the reorged-away anchor");
            break;
        }
        saw_pending |= st == "anchor_pending";
        assert!(
            Instant::now() < deadline,
            "not re-anchored; last {}",
            v["anchor"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        saw_pending,
        "scans showed the anchor pending between the reorg and the re-anchor"
    );
    let rec = anchorer(&s).latest_record().unwrap().unwrap();
    assert!(rec.reorgs >= 1, "{rec:?}");
    // Exactly one anchor of this checkpoint on chain.
    let ev = contract_reader(&s)
        .anchored_events(&our_log_id(&s))
        .await
        .unwrap();
    // (An earlier checkpoint of the grade and the product record alone may have been anchored
    // before the batch was issued; the one under test, 5 leaves, is anchored exactly once.)
    let sizes: Vec<u64> = ev.iter().map(|e| e.0).collect();
    assert_eq!(
        sizes.iter().filter(|s| **s == 5).count(),
        1,
        "the grade, the product record and 3 items, anchored once: {sizes:?}"
    );
    assert!(sizes.iter().all(|s| *s <= 2 || *s == 5), "{sizes:?}");
    s.stop().await;
}

#[tokio::test]
async fn anvil_killed_and_restarted_the_worker_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = anvil_opts();
    o.state = Some(dir.path().join("anvil-state.json"));
    let mut anvil = Anvil::start(o).unwrap();
    let s = TestServer::start_anchored(fast_config(), &anvil.url()).await;
    s.seed().await;
    let (_, first) = s.issue("k1", 2).await;
    wait_status(
        &s,
        &first[0],
        AnchorStatus::Anchored,
        Duration::from_secs(20),
    )
    .await;
    // Let anvil dump its state (every second), then kill it without a final dump.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    anvil.kill();

    // The chain is gone: scans still answer (200, genuine), and say "pending", never anchored.
    let (_, second) = s.issue("k2", 2).await;
    s.checkpoint_covering(6).await;
    for c in [&first[0], &second[0]] {
        let v = scan(&s, c).await;
        assert_eq!(v["verdict"], "genuine");
        let st = status(&v);
        assert!(st == "anchor_pending" || st == "logged", "{st}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Restart on the same port and state; nobody pokes the worker.
    anvil.restart().unwrap();
    wait_status(
        &s,
        &second[1],
        AnchorStatus::Anchored,
        Duration::from_secs(45),
    )
    .await;
    wait_status(
        &s,
        &first[1],
        AnchorStatus::Anchored,
        Duration::from_secs(10),
    )
    .await;
    let ev = contract_reader(&s)
        .anchored_events(&our_log_id(&s))
        .await
        .unwrap();
    let sizes: Vec<u64> = ev.iter().map(|e| e.0).collect();
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
    assert_eq!(sizes.last(), Some(&6), "{sizes:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_stuck_transaction_is_fee_bumped_and_mined_once() {
    let anvil = Anvil::start(anvil_opts()).unwrap();
    let mut cfg = fast_config();
    cfg.chain.fee_bump_after_ms = 500;
    let s = TestServer::start_anchored(cfg, &anvil.url()).await;
    let r = reader(&anvil.url()).await;
    r.set_automine(false).await.unwrap();
    s.seed().await;
    let (_, codes) = s.issue("k1", 2).await;
    s.checkpoint_covering(4).await;
    // Not mined: pending, then re-signed with higher fees. The worker may have started on a
    // checkpoint taken before all four leaves were in (the grade and product leaves alone);
    // mine that one out of the way so the record under test covers the codes.
    let deadline = Instant::now() + Duration::from_secs(20);
    let rec = loop {
        if let Some(rec) = anchorer(&s).latest_record().unwrap() {
            if rec.tree_size < 4 && rec.status == AnchorStatus::AnchorPending {
                r.anvil_mine(1).await.unwrap();
            } else if rec.tree_size >= 4 && rec.attempts.len() >= 2 {
                break rec;
            }
        }
        assert!(Instant::now() < deadline, "no fee bump");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(rec.status, AnchorStatus::AnchorPending);
    assert_eq!(status(&scan(&s, &codes[0]).await), "anchor_pending");
    let (a0, a1) = (&rec.attempts[0], &rec.attempts[1]);
    assert_eq!(a0.nonce, a1.nonce);
    assert!(a1.fees.max_fee_per_gas > a0.fees.max_fee_per_gas + a0.fees.max_fee_per_gas / 10);
    assert!(
        a1.fees.max_priority_fee_per_gas
            > a0.fees.max_priority_fee_per_gas + a0.fees.max_priority_fee_per_gas / 10
    );
    r.anvil_mine(1).await.unwrap();
    let v = wait_status(
        &s,
        &codes[0],
        AnchorStatus::Anchored,
        Duration::from_secs(10),
    )
    .await;
    let mined = v["anchor"]["tx_hash"].as_str().unwrap().to_string();
    let rec = anchorer(&s).latest_record().unwrap().unwrap();
    assert!(rec.attempts.iter().any(|a| a.hash == mined));
    assert_ne!(mined, rec.attempts[0].hash, "the replacement was mined");
    let ev = contract_reader(&s)
        .anchored_events(&our_log_id(&s))
        .await
        .unwrap();
    let this: Vec<_> = ev.iter().filter(|e| e.0 == rec.tree_size).collect();
    assert_eq!(this.len(), 1, "{ev:?}");
    s.stop().await;
}

/// The real binary, SIGKILLed while its anchor transaction is in the pool, restarted: the
/// persisted transaction is found and tracked, nothing is anchored twice, and the next
/// checkpoint is anchored too.
#[tokio::test]
async fn service_killed_mid_anchor_no_double_anchor_and_no_lost_checkpoint() {
    let anvil = Anvil::start(anvil_opts()).unwrap();
    let url = anvil.url();
    let r = reader(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let data = init_data_dir(dir.path());
    let signer = traceseal::chain::key::load(&data.join("keys/anchor.pem")).unwrap();
    r.anvil_set_balance(signer.address().0 .0, 10u128.pow(21))
        .await
        .unwrap();
    let envs = chain_envs(&url);
    let p = serve(&data, &envs);
    let op = Operator::new(&data);
    let c = &op.c;
    op.seed(&p.base).await;
    // Blocks only when we say so from here on.
    r.set_automine(false).await.unwrap();
    let codes = op.issue(&p.base, "b1", "L1", 10).await;
    // Wait until the anchor transaction is in the pool, then SIGKILL the service.
    let me = signer.address().0 .0;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending: String = r
            .raw("eth_getTransactionCount", (hex0x(&me), "pending"))
            .await
            .unwrap();
        if pending != "0x0" {
            break;
        }
        assert!(Instant::now() < deadline, "no anchor transaction sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p.kill9();

    // Restart before the transaction is mined, then mine.
    let p = serve(&data, &envs);
    tokio::time::sleep(Duration::from_millis(500)).await;
    r.anvil_mine(1).await.unwrap();
    // Wait until the first checkpoint (12 leaves: the grade, the product record and 10 items) is
    // anchored, via a bundle. The transaction in the pool at the kill may have been the
    // anchor of an earlier checkpoint (the grade and product record alone, signed after
    // automine was turned off): a block per try mines whatever the worker sends next.
    let bundle_url = format!("{}{}", p.base, with_code("/api/v1/bundle", &codes[0]));
    let deadline = Instant::now() + Duration::from_secs(30);
    let b = loop {
        r.anvil_mine(1).await.unwrap();
        let b: Value = c
            .get(&bundle_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if b["anchor"]["status"] == "anchored" || b["anchor"]["status"] == "confirmed" {
            break b;
        }
        assert!(
            Instant::now() < deadline,
            "not anchored after restart: {}",
            b["anchor"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(b["anchor"]["tree_size"], 12);
    let contract =
        traceseal::anchor::parse_hex::<20>(b["anchor"]["contract"].as_str().unwrap()).unwrap();
    let cr = Reader::connect(&url, contract, T).await.unwrap();
    let lid = traceseal::anchor::parse_hex::<32>(b["anchor"]["log_id"].as_str().unwrap()).unwrap();

    // A second batch: its checkpoint is anchored as well, once.
    op.issue(&p.base, "b2", "L2", 5).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        r.anvil_mine(1).await.unwrap();
        if cr
            .latest(&lid)
            .await
            .unwrap()
            .is_some_and(|a| a.tree_size == 17)
        {
            break;
        }
        assert!(Instant::now() < deadline, "second checkpoint not anchored");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ev = cr.anchored_events(&lid).await.unwrap();
    let sizes: Vec<u64> = ev.iter().map(|e| e.0).collect();
    // (The grade and the product record alone, sizes 1–2, may have been anchored before the
    // first batch.)
    let sizes: Vec<u64> = sizes.into_iter().filter(|s| *s > 2).collect();
    assert_eq!(sizes, vec![12, 17], "each checkpoint anchored exactly once");
    drop(p);
}

/// A configured node that is down when the service starts: the service serves anyway (scans
/// say `anchor_pending`), and starts anchoring by itself once the node answers.
#[tokio::test]
async fn serve_starts_while_the_node_is_down_and_anchors_once_it_is_up() {
    let port = traceseal::chain::anvil::free_port().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let data = init_data_dir(dir.path());
    let p = serve(&data, &chain_envs(&url));
    let op = Operator::new(&data);
    let c = &op.c;
    op.seed(&p.base).await;
    let code = op.issue(&p.base, "b1", "L1", 4).await.remove(0);
    let scan = || async {
        let r = c
            .get(format!("{}{}", p.base, verify_path(&code)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    // Wait for the checkpoint, then: genuine, anchoring pending.
    let deadline = Instant::now() + Duration::from_secs(10);
    let v = loop {
        let v = scan().await;
        if !v["log"].is_null() {
            break v;
        }
        assert!(Instant::now() < deadline, "no checkpoint");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(v["verdict"], "genuine");
    assert_eq!(v["anchor"]["status"], "anchor_pending", "{}", v["anchor"]);

    // The node comes up; fund the anchoring key; nobody restarts the service.
    let mut o = anvil_opts();
    o.port = port;
    let _anvil = Anvil::start(o).unwrap();
    let signer = traceseal::chain::key::load(&data.join("keys/anchor.pem")).unwrap();
    reader(&url)
        .await
        .anvil_set_balance(signer.address().0 .0, 10u128.pow(21))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = scan().await;
        if v["anchor"]["status"] == "anchored" || v["anchor"]["status"] == "confirmed" {
            assert_eq!(v["anchor"]["tree_size"], 6);
            break;
        }
        assert!(Instant::now() < deadline, "never anchored: {}", v["anchor"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(p);
}

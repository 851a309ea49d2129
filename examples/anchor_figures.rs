//! Measures the anchoring figures on the development chain (pinned anvil, 1 s blocks):
//! gas per anchor and per item at 1k, 100k and 1M new items per anchor; time from the end of
//! issuance to *anchored* and to *confirmed* (K = 2); proof bundle size and `verify-bundle`
//! time at ≥ 1M leaves (offline, and with `--rpc` against the contract).
//!
//! Run: `cargo run --release --example anchor_figures` (needs `tools/node_modules`, see
//! `./scripts/dev setup`). The checkpoint is signed right after each batch (the service's
//! checkpointer does it within `checkpoint_interval_ms`, 1 s by default); the worker then runs
//! with the default settings (poll 500 ms, K = 2).

use std::sync::Arc;
use std::time::{Duration, Instant};

use traceseal::anchor::{AnchorStatus, ChainPort};
use traceseal::chain::anvil::{find_binary, Anvil, AnvilOptions};
use traceseal::chain::Reader;
use traceseal::code::{Code, Host};
use traceseal::config::ChainConfig;
use traceseal::service::anchoring::AnchorSource;
use traceseal::service::issuance::BatchRequest;
use traceseal::service::master::{EnterpriseInput, ProductInput};
use traceseal::service::setup::{self, DataDir, OpenOptions};

const GTIN: &str = "09506000134352";

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut o = AnvilOptions::new(find_binary().expect("anvil"));
    o.block_time = Some(1);
    let anvil = Anvil::start(o).expect("anvil");
    let dd = DataDir::new(dir.path().join("data"));
    let host = Host::parse("verify.example.com").expect("host");
    setup::init(&dd, &host).expect("init");
    let svc = Arc::new(setup::open(&dd, OpenOptions::defaults(host)).expect("open"));
    let key = dd.keys().join("anchor.pem");
    let signer = traceseal::chain::key::generate(&key).expect("key");
    let r = Reader::connect(&anvil.url(), [0; 20], Duration::from_secs(5))
        .await
        .expect("rpc");
    r.anvil_set_balance(signer.address().0 .0, 10u128.pow(21))
        .await
        .expect("fund");
    let cfg = ChainConfig {
        rpc_url: anvil.url(),
        anchor_interval_ms: 0,
        ..ChainConfig::default()
    };
    let rt = traceseal::wiring::start_chain(&dd, &cfg, svc.clone())
        .await
        .expect("chain");
    let anchorer = rt.anchorer.clone();
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(anchorer.clone().run(stop_rx));

    let e = svc
        .master()
        .create_enterprise(&EnterpriseInput {
            name: "Figures".into(),
            uscc: "91350100M000100Y43".into(),
            country: "KR".into(),
        })
        .expect("enterprise");
    svc.master()
        .create_product(&ProductInput {
            gtin: GTIN.into(),
            name_zh: "化妆品".into(),
            name_en: "Cosmetics".into(),
            enterprise_id: e.id,
            category: None,
        })
        .expect("product");

    println!("| new items per anchor | gas of the anchor tx | gas per item | issuance | end of issuance → anchored | → confirmed (K=2) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut last_code = String::new();
    for (i, n) in [1_000u64, 100_000, 1_000_000].into_iter().enumerate() {
        let t0 = Instant::now();
        let s = svc.clone();
        let (batch, _) = tokio::task::spawn_blocking(move || {
            s.issuance().issue_batch(
                &BatchRequest {
                    gtin: GTIN.into(),
                    lot: format!("FIG-{i}"),
                    expiry: None,
                    quantity: n,
                },
                &format!("fig-{i}"),
                &|_| {},
            )
        })
        .await
        .expect("join")
        .expect("issue");
        let issued = t0.elapsed();
        let t1 = Instant::now();
        let s = svc.clone();
        let cp = tokio::task::spawn_blocking(move || s.log().checkpoint_now())
            .await
            .expect("join")
            .expect("checkpoint")
            .expect("new checkpoint");
        let mut anchored = None;
        let (rec, confirmed) = loop {
            let rec = anchorer.latest_record().expect("record");
            if let Some(rec) = rec.filter(|r| r.tree_size == cp.size) {
                if anchored.is_none() && rec.status >= AnchorStatus::Anchored {
                    anchored = Some(t1.elapsed());
                }
                if rec.status >= AnchorStatus::Confirmed {
                    break (rec, t1.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let gas = rec.gas_used.expect("gas");
        println!(
            "| {n} | {gas} | {:.3} | {:.2} s | {:.2} s | {:.2} s |",
            gas as f64 / n as f64,
            issued.as_secs_f64(),
            anchored.unwrap_or_default().as_secs_f64(),
            confirmed.as_secs_f64()
        );
        let s = svc.clone();
        let id = batch.id;
        last_code = tokio::task::spawn_blocking(move || {
            let b = s.issuance().batch(id).expect("batch");
            s.issuance().batch_codes(&b, n / 2, 1).expect("codes")[0]
                .code
                .clone()
        })
        .await
        .expect("join");
    }

    // Proof bundle of an item in a log of 1,101,000 leaves.
    let code = Code::parse(&last_code).expect("code");
    let item = svc.issuance().issued_item(&code).expect("issued item");
    let anchoring = anchorer.bundle_anchoring(item.record.leaf_index).await;
    let bundle = svc.bundle(&code, &item, Some(anchoring)).expect("bundle");
    let json = serde_json::to_vec_pretty(&bundle).expect("json");
    let f = dir.path().join("bundle.json");
    std::fs::write(&f, &json).expect("write");
    println!();
    println!(
        "log size {} leaves; bundle {} bytes ({} hashes in the inclusion proof, {} in the consistency proof)",
        svc.log().log_size().expect("size"),
        json.len(),
        bundle.records[0].inclusion_proof.len(),
        bundle.consistency_proof.len()
    );
    let runs = 2000;
    let t = Instant::now();
    for _ in 0..runs {
        let b = traceseal::bundle::parse(std::str::from_utf8(&json).expect("utf8")).expect("parse");
        traceseal::bundle::verify(&b).expect("verify");
    }
    println!(
        "offline verification (parse + every check), in process: {:.1} µs per bundle ({runs} runs)",
        t.elapsed().as_secs_f64() * 1e6 / runs as f64
    );
    let exe = std::env::current_exe().expect("exe");
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("traceseal"))
        .expect("bin dir");
    for (label, rpc) in [("offline", None), ("with --rpc", Some(anvil.url()))] {
        let mut times = Vec::new();
        for _ in 0..10 {
            let mut cmd = std::process::Command::new(&bin);
            cmd.arg("verify-bundle").arg(&f);
            if let Some(u) = &rpc {
                cmd.args(["--rpc", u]);
            }
            let t = Instant::now();
            let out = cmd.output().expect("verify-bundle");
            times.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "`traceseal verify-bundle` {label}: median {:.1} ms, min {:.1} ms (10 runs, whole process)",
            times[5], times[0]
        );
    }
    let chain = anchorer.chain();
    println!(
        "chain {} contract {}",
        chain.chain_id(),
        traceseal::anchor::hex0x(&chain.contract())
    );
}

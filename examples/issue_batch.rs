//! Times one batch through the service (parallel signing + synced RocksDB + log append),
//! e.g. the 1,000,000-code batch of the performance target.
//!
//! Run: `cargo run --release --example issue_batch -- 1000000`

use std::time::Instant;

use traceseal::code::Host;
use traceseal::service::issuance::BatchRequest;
use traceseal::service::master::{EnterpriseInput, ProductInput};
use traceseal::service::setup::{self, DataDir, OpenOptions};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("quantity"))
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let dd = DataDir::new(dir.path().join("data"));
    let host = Host::parse("verify.example.com").expect("host");
    setup::init(&dd, &host).expect("init");
    let svc = setup::open(&dd, OpenOptions::defaults(host)).expect("open");
    let e = svc
        .master()
        .create_enterprise(&EnterpriseInput {
            name: "Timing".into(),
            uscc: "91350100M000100Y43".into(),
            country: "KR".into(),
        })
        .expect("enterprise");
    svc.master()
        .create_product(&ProductInput {
            gtin: "09506000134352".into(),
            name_zh: "化妆品".into(),
            name_en: "Cosmetics".into(),
            enterprise_id: e.id,
            category: None,
        })
        .expect("product");
    let t = Instant::now();
    let last = std::sync::Mutex::new(Instant::now());
    let (b, _) = svc
        .issuance()
        .issue_batch(
            &BatchRequest {
                gtin: "09506000134352".into(),
                lot: "TIMING-1".into(),
                expiry: Some("2029-12-31".into()),
                quantity: n,
            },
            "timing",
            &|b| {
                let mut l = last.lock().unwrap();
                if l.elapsed().as_secs_f64() >= 2.0 || b.issued == b.quantity {
                    eprintln!(
                        "  {:>9} / {} codes  {:.1} s",
                        b.issued,
                        b.quantity,
                        t.elapsed().as_secs_f64()
                    );
                    *l = Instant::now();
                }
            },
        )
        .expect("issue");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "issued {} codes in {:.2} s: {:.0} codes/s on {} threads",
        b.issued,
        secs,
        b.issued as f64 / secs,
        rayon::current_num_threads()
    );
    let t = Instant::now();
    svc.log().checkpoint_now().expect("checkpoint");
    println!(
        "checkpoint over {} leaves signed in {:.3} s",
        svc.log().log_size().unwrap(),
        t.elapsed().as_secs_f64()
    );
}

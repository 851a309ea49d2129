//! Issuance throughput: end to end through the service (parallel signing + synced RocksDB
//! writes + log append) against raw parallel Ed25519 signing of the same messages on the same
//! cores, in the same run. Prints the ratio at the end.
//!
//! Run: `./scripts/dev bench --bench issuance`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::{Signer, SigningKey};
use rayon::prelude::*;
use traceseal::code::{Code, Host, ItemId, KeyId};
use traceseal::gs1::{Gtin, Lot, Serial};
use traceseal::service::issuance::BatchRequest;

mod common;

use common::service;

const N: u64 = 131_072;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("issuance");
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));

    // The limit: the same signing messages (code-v1 domain + URI prefix), signed in parallel.
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let kid = KeyId::of(&key.verifying_key());
    let host = Host::parse("verify.example.com").unwrap();
    let msgs: Vec<Vec<u8>> = (0..N)
        .map(|_| {
            let item = ItemId {
                gtin: Gtin::parse("09506000134352").unwrap(),
                lot: Lot::parse("LOT-1").unwrap(),
                serial: Serial::random(),
                expiry: None,
            };
            Code::sign(&host, &item, kid, &key).signed_message()
        })
        .collect();
    g.bench_function(BenchmarkId::new("raw_parallel_ed25519_sign", N), |b| {
        b.iter(|| {
            let sigs: Vec<_> = msgs.par_iter().map(|m| key.sign(m)).collect();
            sigs.len()
        })
    });

    let dir = tempfile::tempdir().unwrap();
    let svc = Arc::new(service(dir.path()));
    let seq = AtomicU64::new(0);
    g.bench_function(BenchmarkId::new("service_issue_batch_synced", N), |b| {
        b.iter(|| {
            let k = format!("bench-{}", seq.fetch_add(1, Ordering::Relaxed));
            let req = BatchRequest {
                gtin: "09506000134352".into(),
                lot: "LOT-1".into(),
                expiry: Some("2028-01-31".into()),
                quantity: N,
            };
            svc.issuance()
                .issue_batch(&req, &k, &|_| {})
                .unwrap()
                .0
                .issued
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

/// Reads criterion's point estimate (mean, ns) for a benchmark id.
fn mean_ns(id: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let p = format!("{dir}/criterion/issuance/{id}/{N}/new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let (Some(raw), Some(svc)) = (
        mean_ns("raw_parallel_ed25519_sign"),
        mean_ns("service_issue_batch_synced"),
    ) {
        let per_s = |ns: f64| N as f64 / (ns / 1e9);
        println!(
            "\nissuance: service {:.0} codes/s, raw parallel signing {:.0} sig/s on {} threads: ratio {:.1}%",
            per_s(svc),
            per_s(raw),
            rayon::current_num_threads(),
            100.0 * raw / svc
        );
    }
}

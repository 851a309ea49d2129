//! Merkle log: append throughput and proof generation at 2^10…2^20 leaves over RocksDB, and an
//! inclusion proof in a 10M-leaf log.
//!
//! Run: `./scripts/dev bench --bench merkle` (building the 10M-leaf log takes a minute;
//! set `TRACESEAL_BENCH_BIG=0` to skip it).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use traceseal::merkle::{self, Frontier, Hash};
use traceseal::service::log::StoreHashes;
use traceseal::store::rocks::RocksStore;
use traceseal::store::schema::node_key;
use traceseal::store::{Cf, Durability, Store, WriteBatch};

/// Appends `n` leaves to `store` (nodes only), in batches of 64k.
fn build(store: &RocksStore, n: u64) -> Frontier {
    let mut f = Frontier::new();
    let mut wb = WriteBatch::new();
    for i in 0..n {
        let h = merkle::leaf_hash(&i.to_be_bytes());
        // Every node an append completes ends at the appended leaf (`node_key`).
        f.append(h, |id, h| {
            wb.put(Cf::Nodes, node_key(i, id.level), h.as_bytes().to_vec())
        });
        if wb.len() > 200_000 {
            store
                .write(std::mem::take(&mut wb), Durability::Buffered)
                .unwrap();
        }
    }
    store.write(wb, Durability::Buffered).unwrap();
    f
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("log_append");
    g.sample_size(10);
    for exp in [10u32, 14, 17, 20] {
        let n = 1u64 << exp;
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("2^{exp}")),
            &n,
            |b, &n| {
                b.iter_with_setup(
                    || {
                        let dir = tempfile::tempdir().unwrap();
                        let s = RocksStore::create(&dir.path().join("db")).unwrap();
                        (dir, s)
                    },
                    |(dir, s)| {
                        let f = build(&s, n);
                        assert_eq!(f.size(), n);
                        drop(s);
                        drop(dir);
                    },
                )
            },
        );
    }
    g.finish();
}

fn proofs(c: &mut Criterion) {
    let mut g = c.benchmark_group("inclusion_proof");
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let dir = tempfile::tempdir().unwrap();
    let s = RocksStore::create(&dir.path().join("db")).unwrap();
    let mut sizes: Vec<(String, u64)> = [10u32, 14, 17, 20]
        .iter()
        .map(|e| (format!("2^{e}"), 1u64 << e))
        .collect();
    let big = std::env::var("TRACESEAL_BENCH_BIG")
        .map(|v| v != "0")
        .unwrap_or(true);
    if big {
        sizes.push(("10M".into(), 10_000_000));
    }
    let max = sizes.iter().map(|s| s.1).max().unwrap_or(0);
    let f = build(&s, max);
    let reader = StoreHashes(&s);
    for (label, n) in &sizes {
        let n = *n;
        let root: Hash = merkle::root(n, &reader).unwrap();
        g.bench_function(BenchmarkId::new("generate", label), |b| {
            b.iter_with_setup(
                || rng.gen_range(0..n),
                |i| merkle::inclusion_proof(i, n, &reader).unwrap(),
            )
        });
        let i = n / 3;
        let proof = merkle::inclusion_proof(i, n, &reader).unwrap();
        let leaf = merkle::leaf_hash(&i.to_be_bytes());
        merkle::verify_inclusion(&leaf, i, n, &proof, &root).unwrap();
        g.bench_function(BenchmarkId::new("verify", label), |b| {
            b.iter(|| merkle::verify_inclusion(&leaf, i, n, &proof, &root).unwrap())
        });
        g.bench_function(BenchmarkId::new("consistency", label), |b| {
            b.iter_with_setup(
                || rng.gen_range(1..n),
                |m| merkle::consistency_proof(m, n, &reader).unwrap(),
            )
        });
    }
    assert_eq!(f.root(), merkle::root(max, &reader).unwrap());
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = append, proofs
}
criterion_main!(benches);

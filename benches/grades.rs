//! What the credit grades cost the checkpointer's tick, with 1,000 enterprises on RocksDB:
//! a tick with nothing new (the signatures only), a tick after one enterprise's profile
//! changed (one enterprise graded again), and the hourly full pass (every enterprise).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use traceseal::gs1::Uscc;
use traceseal::service::credit::{CreditInput, Disclosure, DisclosureCategory, Rating};
use traceseal::service::grading::FULL_EVERY_SECS;
use traceseal::service::master::EnterpriseInput;
use traceseal::service::{now_unix, Service};

mod common;

/// Enterprises in the bench.
const ENTERPRISES: u64 = 1_000;

/// A valid USCC for number `n` (its check character found by trying each).
fn uscc(n: u64) -> String {
    let body = format!("91350100M{n:08}");
    "0123456789ABCDEFGHJKLMNPQRTUWXY"
        .chars()
        .map(|c| format!("{body}{c}"))
        .find(|s| Uscc::parse(s).is_ok())
        .expect("one check character fits")
}

fn world(dir: &std::path::Path) -> (Service, u64) {
    let svc = common::service(dir);
    let mut last = 0;
    for n in 1..ENTERPRISES {
        let e = svc
            .master()
            .create_enterprise(&EnterpriseInput {
                name: format!("Importer {n}"),
                uscc: uscc(n),
                country: "AU".into(),
            })
            .unwrap();
        last = e.id;
    }
    (svc, last)
}

fn profile(version: u64) -> CreditInput {
    CreditInput {
        return_days: None,
        rating: Rating::B,
        rated_on: "2026-12-01".into(),
        basis: Some(format!("review {version}")),
        disclosures: vec![Disclosure {
            category: DisclosureCategory::Registration,
            title: "Customs filing".into(),
            detail: None,
            date: "2026-01-05".into(),
            source: None,
        }],
        dishonest: None,
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (svc, one) = world(dir.path());
    let g = svc.grading();
    let start = now_unix();
    let first = g.refresh(start).unwrap();
    assert_eq!(first.graded as u64, ENTERPRISES);
    let mut tick = start + 1;
    let mut group = c.benchmark_group("grades");
    group.sample_size(20);
    let n = ENTERPRISES;
    group.bench_function(BenchmarkId::new("tick_nothing_new", n), |b| {
        // The same second every time: the hourly pass never falls due here.
        b.iter(|| {
            let r = g.refresh(tick).unwrap();
            assert_eq!(r.graded, 0);
        })
    });
    let operator = traceseal::authz::Principal {
        id: "bench".into(),
        role: traceseal::authz::Role::Operator,
        enterprise: None,
        request: "bench".into(),
    };
    let mut version = 0;
    // Timed: the tick alone, not the profile write before it.
    group.bench_function(BenchmarkId::new("tick_one_profile_changed", n), |b| {
        b.iter_custom(|iters| {
            let mut spent = std::time::Duration::ZERO;
            for _ in 0..iters {
                version += 1;
                svc.consumer()
                    .put_credit(one, &profile(version), &operator)
                    .unwrap();
                let t = std::time::Instant::now();
                let r = g.refresh(tick).unwrap();
                spent += t.elapsed();
                assert_eq!(r.graded, 1);
            }
            spent
        })
    });
    group.bench_function(BenchmarkId::new("hourly_full_pass", n), |b| {
        b.iter(|| {
            tick += FULL_EVERY_SECS;
            let r = g.refresh(tick).unwrap();
            assert_eq!(r.graded as u64, ENTERPRISES);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

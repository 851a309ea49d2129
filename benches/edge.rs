//! The HTTP edge's building blocks, as deployed (issue 13, point 7): the public rate limit
//! (`http/ratelimit.rs`: `governor`'s keyed GCRA limiter behind our client keys and sweep)
//! against `governor` alone, the complaint quota (our own bucket table, kept for its refunds
//! and its bound), and the request metrics (`http/metrics.rs`, `prometheus-client`): the cost
//! of one check, of recording one request, and of rendering the text exposition.
//!
//! Run: `./scripts/dev bench --bench edge`. The figures, with those of the hand-written
//! limiter and metrics this replaced, are in `docs/performance.md`.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use governor::{DefaultKeyedRateLimiter, Quota};
use traceseal::config::RateLimit;
use traceseal::http::metrics::Metrics;
use traceseal::http::ratelimit::{PublicLimiter, QuotaLimiter};
use traceseal::http::server::ConnStats;

/// A quota no client of the loop exhausts: every check takes the "allowed" path.
const PER_SECOND: u32 = 1_000_000_000;

fn clients(n: u32) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))
        .collect()
}

/// One check per iteration, clients taken round-robin.
fn round_robin<'a>(
    ips: &'a [IpAddr],
    mut check: impl FnMut(IpAddr) -> bool + 'a,
) -> impl FnMut() -> bool + 'a {
    let mut i = 0usize;
    move || {
        i = (i + 1) % ips.len();
        check(ips[i])
    }
}

fn ratelimit(c: &mut Criterion) {
    let mut g = c.benchmark_group("ratelimit_check");
    g.throughput(Throughput::Elements(1));
    for n in [1u32, 1_000, 10_000] {
        let ips = clients(n);
        let public = PublicLimiter::new(&RateLimit {
            per_second: PER_SECOND,
            burst: PER_SECOND,
        });
        let mut f = round_robin(&ips, |ip| public.check(ip).is_ok());
        g.bench_with_input(BenchmarkId::new("public", n), &n, |b, _| b.iter(&mut f));
        let q = NonZeroU32::new(PER_SECOND).unwrap();
        let bare: DefaultKeyedRateLimiter<IpAddr> =
            governor::RateLimiter::keyed(Quota::per_second(q).allow_burst(q));
        let mut f = round_robin(&ips, |ip| bare.check_key(&ip).is_ok());
        g.bench_with_input(BenchmarkId::new("governor", n), &n, |b, _| b.iter(&mut f));
        let quota = QuotaLimiter::per_hour(u32::MAX);
        let mut f = round_robin(&ips, |ip| quota.check(ip, Instant::now()).is_ok());
        g.bench_with_input(BenchmarkId::new("quota", n), &n, |b, _| b.iter(&mut f));
    }
    g.finish();
}

/// Routes × statuses like a busy server's: 30 routes, 4 statuses each.
fn series() -> Vec<(&'static str, String, u16)> {
    let mut out = Vec::new();
    for r in 0..30 {
        for s in [200u16, 400, 404, 429] {
            out.push(("GET", format!("/api/v1/route{r}/{{id}}"), s));
        }
    }
    out
}

fn metrics(c: &mut Criterion) {
    let all = series();
    let elapsed = Duration::from_micros(1_700);
    let dir = tempfile::tempdir().unwrap();
    let svc = Arc::new(common::service(dir.path()));
    let metrics = Metrics::new(svc, Arc::new(ConnStats::default()));
    let mut g = c.benchmark_group("metrics_observe");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("prometheus_client", |b| {
        b.iter(|| {
            i = (i + 1) % all.len();
            let (m, r, s) = &all[i];
            metrics.observe(m, r, *s, elapsed)
        })
    });
    g.finish();

    // Rendering the exposition with every series present, and the service's counters (a few
    // atomics and the latest checkpoint, held in memory) read by the collector.
    let mut g = c.benchmark_group("metrics_render");
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("prometheus_client", |b| b.iter(|| metrics.render().len()));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = ratelimit, metrics
}
criterion_main!(benches);

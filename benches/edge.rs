//! The HTTP edge's own building blocks against the established crates (issue 13, point 7):
//! the per-client rate limiter (`http/ratelimit.rs`) against `governor`'s keyed GCRA limiter,
//! and request metrics (`http/metrics.rs`) against `prometheus-client`: the cost of one check,
//! of recording one request, and of rendering the text exposition.
//!
//! Run: `./scripts/dev bench --bench edge`. The figures and the decision are in
//! `docs/performance.md`.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use governor::{DefaultKeyedRateLimiter, Quota};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use traceseal::config::RateLimit;
use traceseal::http::metrics::{Metrics, LATENCY_BUCKETS};
use traceseal::http::ratelimit::RateLimiter;
use traceseal::http::server::ConnStats;

/// A quota no client of the loop exhausts: every check takes the "allowed" path in both.
const PER_SECOND: u32 = 1_000_000_000;

fn clients(n: u32) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))
        .collect()
}

fn ratelimit(c: &mut Criterion) {
    let mut g = c.benchmark_group("ratelimit_check");
    g.throughput(Throughput::Elements(1));
    for n in [1u32, 1_000, 10_000] {
        let ips = clients(n);
        let ours = RateLimiter::new(&RateLimit {
            per_second: PER_SECOND,
            burst: PER_SECOND,
        });
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % ips.len();
                ours.check(ips[i], Instant::now()).is_ok()
            })
        });
        let q = NonZeroU32::new(PER_SECOND).unwrap();
        let theirs: DefaultKeyedRateLimiter<IpAddr> =
            governor::RateLimiter::keyed(Quota::per_second(q).allow_burst(q));
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("governor", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % ips.len();
                theirs.check_key(&ips[i]).is_ok()
            })
        });
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// prometheus-client's equivalent of our request metrics.
struct Theirs {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl Theirs {
    fn new() -> Theirs {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(LATENCY_BUCKETS.iter().copied())) as fn() -> Histogram,
        );
        let mut registry = Registry::default();
        registry.register(
            "traceseal_http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "traceseal_http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        Theirs {
            registry,
            requests,
            latency,
        }
    }

    fn observe(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

fn metrics(c: &mut Criterion) {
    let all = series();
    let elapsed = Duration::from_micros(1_700);
    let mut g = c.benchmark_group("metrics_observe");
    g.throughput(Throughput::Elements(1));
    let ours = Metrics::default();
    let mut i = 0usize;
    g.bench_function("ours", |b| {
        b.iter(|| {
            i = (i + 1) % all.len();
            let (m, r, s) = &all[i];
            ours.observe(m, r, *s, elapsed)
        })
    });
    let theirs = Theirs::new();
    let mut i = 0usize;
    g.bench_function("prometheus_client", |b| {
        b.iter(|| {
            i = (i + 1) % all.len();
            let (m, r, s) = &all[i];
            theirs.observe(m, r, *s, elapsed)
        })
    });
    g.finish();

    // Rendering the exposition with every series present. Ours also reads the service's
    // counters (a few atomics and the latest checkpoint, held in memory).
    let dir = tempfile::tempdir().unwrap();
    let svc = common::service(dir.path());
    let conns = ConnStats::default();
    let mut g = c.benchmark_group("metrics_render");
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("ours", |b| b.iter(|| ours.render(&svc, &conns).len()));
    g.bench_function("prometheus_client", |b| {
        b.iter(|| {
            let mut out = String::new();
            prometheus_client::encoding::prometheus_text::encode(&mut out, &theirs.registry)
                .unwrap();
            out.len()
        })
    });
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

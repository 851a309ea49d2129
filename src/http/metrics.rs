//! Prometheus text-format metrics: requests and latencies by route, codes issued, log size,
//! checkpoint age, connections, scan telemetry failures. Kept and encoded by
//! `prometheus-client` (text format 0.0.4); the service's own counters and the log's state are
//! read at each scrape by a collector.
//!
//! Every label value comes from a closed set: the route is the matched route pattern (or
//! `(unmatched)`), the method one of the standard methods (or `OTHER`), the status one our
//! handlers produce. So no client can grow the label set by sending odd paths or methods.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::server::ConnStats;
use crate::service::Service;

/// Latency histogram bucket bounds, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Labels of a request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// Labels of a latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Request metrics by route, and the registry the exposition is encoded from.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latencies,
}

impl Metrics {
    /// Metrics of a server of `svc` whose connections `conns` counts.
    pub fn new(svc: Arc<Service>, conns: Arc<ConnStats>) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Latencies::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS.iter().copied()));
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
        registry.register_collector(Box::new(ServiceCollector { svc, conns }));
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    /// Records one finished request (`method` from [`method_label`]).
    pub fn observe(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        let route = route.to_string();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    /// Number of distinct label sets held (bounded by routes × methods × statuses), counted
    /// in the exposition.
    pub fn series(&self) -> usize {
        self.render()
            .lines()
            .filter(|l| {
                l.starts_with("traceseal_http_requests_total{")
                    || l.starts_with("traceseal_http_request_duration_seconds_count{")
            })
            .count()
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an encoder error would be a bug in a metric.
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }
}

/// The method label: the standard methods by name, anything else as `OTHER`.
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Reads the service's counters, the log's state and the connection counters at each scrape.
struct ServiceCollector {
    svc: Arc<Service>,
    conns: Arc<ConnStats>,
}

impl std::fmt::Debug for ServiceCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceCollector")
    }
}

/// One counter (`_total` is added to `name`) from an atomic.
fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: &AtomicU64) -> std::fmt::Result {
    counter_of(e, name, help, v.load(Ordering::Relaxed))
}

/// One counter (`_total` is added to `name`) of a value.
fn counter_of(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, MetricType::Counter)?)
}

/// One gauge.
fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> std::fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

impl Collector for ServiceCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let st = self.svc.stats();
        counter(
            &mut e,
            "traceseal_codes_issued",
            "Codes issued by this process.",
            &st.codes_issued,
        )?;
        counter(
            &mut e,
            "traceseal_scans",
            "Scans answered by this process.",
            &st.scans,
        )?;
        counter(
            &mut e,
            "traceseal_checkpoints_signed",
            "Checkpoints signed by this process.",
            &st.checkpoints_signed,
        )?;
        counter(
            &mut e,
            "traceseal_scan_telemetry_failures",
            "Scans whose telemetry could not be recorded (the verdict was served anyway).",
            &st.scan_telemetry_failures,
        )?;
        let intake = self.svc.custody().intake_stats();
        counter_of(
            &mut e,
            "traceseal_custody_groups",
            "Group commits of custody records (each one write, made durable by a shared fsync).",
            intake.groups,
        )?;
        counter_of(
            &mut e,
            "traceseal_custody_group_records",
            "Custody records written by group commits.",
            intake.records,
        )?;
        counter_of(
            &mut e,
            "traceseal_custody_fsyncs",
            "Fsyncs that made custody groups durable (one may cover several groups).",
            intake.fsyncs,
        )?;
        self.encode_connections(&mut e)?;
        self.encode_log(&mut e)
    }
}

impl ServiceCollector {
    /// The connection counters.
    fn encode_connections(&self, e: &mut DescriptorEncoder) -> std::fmt::Result {
        let c = &self.conns;
        let open = i64::try_from(c.open.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        gauge(
            e,
            "traceseal_http_connections_open",
            "Open HTTP connections.",
            open,
        )?;
        counter(
            e,
            "traceseal_http_connections_accepted",
            "HTTP connections accepted.",
            &c.accepted,
        )?;
        counter(
            e,
            "traceseal_http_connections_idle_closed",
            "Connections closed after the idle timeout.",
            &c.idle_closed,
        )?;
        counter(
            e,
            "traceseal_http_connections_evicted",
            "Idle connections closed to make room under the connection cap.",
            &c.evicted,
        )?;
        counter(
            e,
            "traceseal_http_body_timeouts",
            "Requests whose body did not arrive within the body-read timeout.",
            &c.body_timeouts,
        )
    }

    /// The log size and the latest checkpoint's age and size.
    fn encode_log(&self, e: &mut DescriptorEncoder) -> std::fmt::Result {
        let log = self.svc.log();
        if let Ok(size) = log.log_size() {
            let size = i64::try_from(size).unwrap_or(i64::MAX);
            gauge(e, "traceseal_log_size", "Leaves in the Merkle log.", size)?;
        }
        if let Ok(Some(cp)) = log.latest_checkpoint() {
            let age = (crate::service::now_unix() - cp.created_at).max(0);
            gauge(
                e,
                "traceseal_checkpoint_age_seconds",
                "Seconds since the latest checkpoint was signed.",
                age,
            )?;
            gauge(
                e,
                "traceseal_checkpoint_size",
                "Tree size of the latest signed checkpoint.",
                i64::try_from(cp.size).unwrap_or(i64::MAX),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_our_names_types_and_labels() {
        let (svc, _mem) = crate::service::setup::test_service();
        let conns = Arc::new(ConnStats::default());
        conns.accepted.store(3, Ordering::Relaxed);
        let m = Metrics::new(Arc::new(svc), conns);
        m.observe("GET", "/api/v1/verify", 200, Duration::from_millis(2));
        m.observe("GET", "/api/v1/verify", 200, Duration::from_millis(30));
        m.observe("OTHER", "(unmatched)", 405, Duration::from_micros(100));
        let text = m.render();
        for line in [
            "# TYPE traceseal_http_requests_total counter",
            "traceseal_http_requests_total{method=\"GET\",route=\"/api/v1/verify\",status=\"200\"} 2",
            "traceseal_http_requests_total{method=\"OTHER\",route=\"(unmatched)\",status=\"405\"} 1",
            "# TYPE traceseal_http_request_duration_seconds histogram",
            "traceseal_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/verify\",le=\"0.0025\"} 1",
            "traceseal_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/verify\",le=\"+Inf\"} 2",
            "traceseal_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/verify\"} 2",
            "# TYPE traceseal_http_connections_accepted_total counter",
            "traceseal_http_connections_accepted_total 3",
            "# TYPE traceseal_http_connections_open gauge",
            "traceseal_codes_issued_total 0",
            "# TYPE traceseal_log_size gauge",
            "traceseal_log_size 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert_eq!(m.series(), 4, "2 request counts and 2 histograms");
    }
}

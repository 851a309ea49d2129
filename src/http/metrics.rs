//! Prometheus text-format metrics: requests and latencies by route, codes issued, log size,
//! checkpoint age, connections, scan telemetry failures.
//!
//! Every label value comes from a closed set: the route is the matched route pattern (or
//! `(unmatched)`), the method one of the standard methods (or `OTHER`), the status one our
//! handlers produce. So no client can grow the label set by sending odd paths or methods.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use super::server::ConnStats;
use crate::service::Service;

/// Latency histogram bucket bounds, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
}

/// Request metrics by route.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// The method label: the standard methods by name, anything else as `OTHER`.
pub fn method_label(m: &axum::http::Method) -> String {
    use axum::http::Method;
    let known = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    if known.contains(m) {
        m.as_str().to_string()
    } else {
        "OTHER".to_string()
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *g.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let h = g
            .latency
            .entry((method.to_string(), route.to_string()))
            .or_default();
        let s = elapsed.as_secs_f64();
        h.count += 1;
        h.sum += s;
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if s <= *b {
                h.buckets[i] += 1;
            }
        }
    }

    /// Number of distinct label sets held (bounded by routes × methods × statuses).
    pub fn series(&self) -> usize {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.requests.len() + g.latency.len()
    }

    /// The exposition text.
    pub fn render(&self, svc: &Service, conns: &ConnStats) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        render_counters(&mut out, svc);
        render_connections(&mut out, conns);
        render_log(&mut out, svc);
        out
    }

    /// Requests by route and status, and their latency histograms.
    fn render_requests(&self, out: &mut String) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP traceseal_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE traceseal_http_requests_total counter\n");
        for ((m, r, s), n) in &g.requests {
            let _ = writeln!(
                out,
                "traceseal_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{s}\"}} {n}",
                esc(m),
                esc(r)
            );
        }
        out.push_str(
            "# HELP traceseal_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE traceseal_http_request_duration_seconds histogram\n");
        for ((m, r), h) in &g.latency {
            let labels = format!("method=\"{}\",route=\"{}\"", esc(m), esc(r));
            for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "traceseal_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "traceseal_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "traceseal_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "traceseal_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
    }
}

/// One metric with its help and type lines.
fn gauge(out: &mut String, name: &str, kind: &str, help: &str, v: String) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
    );
}

/// The service's counters.
fn render_counters(out: &mut String, svc: &Service) {
    let st = svc.stats();
    gauge(
        out,
        "traceseal_codes_issued_total",
        "counter",
        "Codes issued by this process.",
        st.codes_issued.load(Ordering::Relaxed).to_string(),
    );
    gauge(
        out,
        "traceseal_scans_total",
        "counter",
        "Scans answered by this process.",
        st.scans.load(Ordering::Relaxed).to_string(),
    );
    gauge(
        out,
        "traceseal_checkpoints_signed_total",
        "counter",
        "Checkpoints signed by this process.",
        st.checkpoints_signed.load(Ordering::Relaxed).to_string(),
    );
    gauge(
        out,
        "traceseal_scan_telemetry_failures_total",
        "counter",
        "Scans whose telemetry could not be recorded (the verdict was served anyway).",
        st.scan_telemetry_failures
            .load(Ordering::Relaxed)
            .to_string(),
    );
}

/// The log size and the latest checkpoint's age and size.
fn render_log(out: &mut String, svc: &Service) {
    if let Ok(size) = svc.log().log_size() {
        gauge(
            out,
            "traceseal_log_size",
            "gauge",
            "Leaves in the Merkle log.",
            size.to_string(),
        );
    }
    if let Ok(Some(cp)) = svc.log().latest_checkpoint() {
        let age = (crate::service::now_unix() - cp.created_at).max(0);
        gauge(
            out,
            "traceseal_checkpoint_age_seconds",
            "gauge",
            "Seconds since the latest checkpoint was signed.",
            age.to_string(),
        );
        gauge(
            out,
            "traceseal_checkpoint_size",
            "gauge",
            "Tree size of the latest signed checkpoint.",
            cp.size.to_string(),
        );
    }
}

/// The connection counters.
fn render_connections(out: &mut String, conns: &ConnStats) {
    for (name, kind, help, v) in [
        (
            "traceseal_http_connections_open",
            "gauge",
            "Open HTTP connections.",
            &conns.open,
        ),
        (
            "traceseal_http_connections_accepted_total",
            "counter",
            "HTTP connections accepted.",
            &conns.accepted,
        ),
        (
            "traceseal_http_connections_idle_closed_total",
            "counter",
            "Connections closed after the idle timeout.",
            &conns.idle_closed,
        ),
        (
            "traceseal_http_connections_evicted_total",
            "counter",
            "Idle connections closed to make room under the connection cap.",
            &conns.evicted,
        ),
        (
            "traceseal_http_body_timeouts_total",
            "counter",
            "Requests whose body did not arrive within the body-read timeout.",
            &conns.body_timeouts,
        ),
    ] {
        gauge(out, name, kind, help, v.load(Ordering::Relaxed).to_string());
    }
}

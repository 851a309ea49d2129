//! What a slow or malicious client costs the server (`docs/operations.md`, Server limits),
//! over real sockets: a client dribbling its headers is cut at the header-read timeout while
//! scans keep being served; a thousand idle connections do not starve scans under a connection
//! cap; a body that does not arrive is a 408; an answer that leaves the body unread closes the
//! connection and says so; random methods and paths do not grow the metrics labels; `/metrics`
//! needs the operator token unless it has its own listener.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes (Ok(bytes)) or `limit` passes (Err).
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(out),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return Err(()),
        }
    }
}

/// One scan over a fresh connection; its status and how long it took.
async fn scan_fresh(base: &str, code: &str) -> (u16, Duration) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let t = Instant::now();
    let r = client
        .get(format!("{base}{}", verify_path(code)))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_sending_one_header_byte_a_second_is_cut_while_scans_are_served() {
    let mut cfg = test_config();
    cfg.server.header_read_timeout_ms = 2_000;
    let s = TestServer::start(cfg).await;
    s.seed().await;
    let (_, codes) = s.issue("k", 1).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let request =
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut_after = None;
    for (i, b) in request.iter().enumerate() {
        if slow.write_all(&[*b]).await.is_err() {
            cut_after = Some(started.elapsed());
            break;
        }
        // Scans keep being served meanwhile.
        if i % 2 == 0 {
            let (status, took) = scan_fresh(&s.base, &codes[0]).await;
            assert_eq!(status, 200);
            assert!(took < Duration::from_secs(2), "a scan took {took:?}");
        }
        if started.elapsed() > Duration::from_secs(8) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    // The server closed the connection (writes fail, or reads see the end) at the timeout,
    // long before the dribbled request could complete.
    let closed_at = match cut_after {
        Some(t) => t,
        None => {
            read_until_closed(&mut slow, Duration::from_secs(5))
                .await
                .expect("the slow connection was never closed");
            started.elapsed()
        }
    };
    assert!(
        closed_at < Duration::from_secs(9),
        "cut after {closed_at:?}, the timeout is 2 s"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_idle_connections_do_not_starve_scans() {
    let mut cfg = test_config();
    // A cap well below the idle crowd: room is made by closing the oldest idle connections.
    cfg.server.max_connections = 100;
    let s = TestServer::start(cfg).await;
    s.seed().await;
    let (_, codes) = s.issue("k", 4).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut idle = Vec::with_capacity(1000);
    for _ in 0..1000 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Scans on fresh connections are answered promptly, every one.
    let mut worst = Duration::ZERO;
    for i in 0..40 {
        let (status, took) = scan_fresh(&s.base, &codes[i % 4]).await;
        assert_eq!(status, 200, "scan {i}");
        worst = worst.max(took);
    }
    assert!(worst < Duration::from_secs(3), "slowest scan {worst:?}");
    let m = s.admin_get("/metrics").await.text().await.unwrap();
    let evicted = metric(&m, "traceseal_http_connections_evicted_total");
    assert!(
        evicted >= 900.0,
        "idle connections were closed to make room: {evicted}"
    );
    assert!(metric(&m, "traceseal_http_connections_open") <= 100.0);
    println!("1000 idle connections, cap 100: 40 scans, slowest {worst:?}, {evicted} evicted");
    drop(idle);
    s.stop().await;
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no metric {name}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_is_408_and_an_unread_body_closes_the_connection() {
    let mut cfg = test_config();
    cfg.server.body_read_timeout_ms = 1_000;
    let s = TestServer::start(cfg).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    // Content-Length 100, 10 bytes sent, then nothing.
    let mut c = TcpStream::connect(&addr).await.unwrap();
    c.write_all(b"POST /api/v1/custody/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"stateme")
        .await
        .unwrap();
    let t = Instant::now();
    let answer = read_until_closed(&mut c, Duration::from_secs(5))
        .await
        .expect("the server answered and closed");
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(text.starts_with("http/1.1 408"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(text.contains("did not arrive within 1 s"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(3));

    // A 401 to a POST with a body it never read says Connection: close, and a pooled client's
    // next request works (no broken pipe).
    let client = reqwest::Client::new();
    for i in 0..5 {
        let r = client
            .post(s.url("/api/v1/enterprises"))
            .json(&serde_json::json!({"name": "x".repeat(2000), "uscc": USCC, "country": "AU"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "round {i}");
        assert_eq!(r.headers()["connection"], "close");
        let h = client.get(s.url("/healthz")).send().await.unwrap();
        assert_eq!(h.status(), 200, "round {i}");
        assert!(
            h.headers().get("connection").is_none(),
            "a GET without a body keeps its connection"
        );
    }
    let m = s.admin_get("/metrics").await.text().await.unwrap();
    assert_eq!(metric(&m, "traceseal_http_body_timeouts_total"), 1.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_methods_and_paths_do_not_grow_the_metrics_labels() {
    use rand::{Rng, SeedableRng};
    let s = TestServer::start(test_config()).await;
    let client = reqwest::Client::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    for i in 0..400 {
        let method: String = (0..rng.gen_range(3..9))
            .map(|_| rng.gen_range(b'A'..=b'Z') as char)
            .collect();
        let path: String = (0..rng.gen_range(1..30))
            .map(|_| rng.gen_range(b'a'..=b'z') as char)
            .collect();
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let path = if i % 3 == 0 {
            format!("/api/v1/lots/{path}")
        } else {
            format!("/{path}")
        };
        let r = client.request(m, s.url(&path)).send().await.unwrap();
        assert!(
            r.status().is_client_error(),
            "{method} {path}: {}",
            r.status()
        );
    }
    let text = s.admin_get("/metrics").await.text().await.unwrap();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("traceseal_http_requests_total{"))
        .collect();
    assert!(series.len() <= 12, "bounded label sets: {series:#?}");
    assert!(
        text.contains("method=\"OTHER\",route=\"(unmatched)\""),
        "{text}"
    );
    assert!(s.state.metrics.series() <= 24);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_or_their_own_listener() {
    let s = TestServer::start(test_config()).await;
    let r = s.get("/metrics").await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(s.admin_get("/metrics").await.status(), 200);
    s.stop().await;

    let port = traceseal::chain::anvil::free_port().unwrap();
    let mut cfg = test_config();
    cfg.server.metrics_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    let s = TestServer::start(cfg).await;
    assert_eq!(
        s.admin_get("/metrics").await.status(),
        404,
        "not on the public listener"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        match reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
            Ok(r) => break r.text().await.unwrap(),
            Err(e) => {
                assert!(Instant::now() < deadline, "metrics listener: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(text.contains("traceseal_log_size"), "{text}");
    s.stop().await;
}

//! The HTTP edge (axum): transport only. Each sub-module owns its routes; [`routes`] merges
//! them into [`app`]; handlers share [`state::AppState`] and make one service call each.
//!
//! - [`admin`]: operator endpoints (bearer token): enterprises, products, batches, print jobs.
//! - [`public`]: scan (`/api/v1/verify`, the code URI itself), bundles, log, keys — rate-limited.
//! - [`page`]: the consumer scan page (HTML) and its assets.
//! - [`consumer`]: complaints and merchant credit.
//! - [`custody`], [`engagements`]: the actor registry, signed submissions, lots, EPCIS.
//! - [`ops`]: `/healthz`, `/metrics`; [`openapi`]: `/api/v1/openapi.json`.
//! - [`server`]: the HTTP/1.1 loop with its limits; [`error`]: problem+json.

pub mod accounts;
pub mod actor;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod certificates;
pub mod console;
pub mod consumer;
pub mod cookie;
pub mod csv;
pub mod custody;
pub mod engagements;
pub mod error;
pub mod follow;
pub mod grades;
pub mod merchant;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod page;
pub mod public;
pub mod ratelimit;
pub mod registration;
pub mod routes;
pub mod schemas;
pub mod server;
pub mod session;
pub mod state;

use std::future::Future;
use std::sync::Arc;

use tracing::info;

pub use self::routes::app;
pub use self::state::{blocking, AppState};
use crate::config::Config;

/// One tick of the checkpointer: grades whatever moved (so its grade leaves are in this
/// checkpoint), then signs a checkpoint if the log grew. Failures are logged and retried on
/// the next tick.
fn checkpointer_tick(svc: &crate::service::Service) {
    if let Err(e) = svc.grading().refresh(crate::service::now_unix()) {
        tracing::error!(error = %e, "credit grades: refresh failed; will retry");
    }
    if let Err(e) = svc.log().checkpoint_now() {
        tracing::error!(error = %e, "checkpoint failed; will retry");
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, under the configured server limits
/// ([`server`]), running the checkpointer alongside (and the private metrics listener, when
/// configured); on shutdown the checkpointer signs a last checkpoint before returning.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let svc = state.svc.clone();
    let interval = state.config.checkpoint_interval();
    let checkpointer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop_rx.changed() => break,
            }
            let s = svc.clone();
            let _ = tokio::task::spawn_blocking(move || checkpointer_tick(&s)).await;
        }
        let s = svc.clone();
        let _ = tokio::task::spawn_blocking(move || s.log().checkpoint_now()).await;
    });
    let limits = server_limits(&state.config);
    let metrics_server = match state.config.server.metrics_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr).await?;
            info!(listen = %addr, "metrics listener");
            let mut stop = stop_tx.subscribe();
            let (router, conns) = (ops::metrics_router(state.clone()), state.conns.clone());
            Some(tokio::spawn(async move {
                let small = server::Limits {
                    max_connections: 64,
                    ..limits
                };
                server::run(router, l, small, conns, async move {
                    let _ = stop.changed().await;
                })
                .await
            }))
        }
        None => None,
    };
    let router = app(state.clone());
    server::run(router, listener, limits, state.conns.clone(), shutdown).await;
    let _ = stop_tx.send(true);
    let _ = checkpointer.await;
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    info!("server stopped");
    Ok(())
}

/// The server loop's limits from the configuration.
pub fn server_limits(c: &Config) -> server::Limits {
    let ms = std::time::Duration::from_millis;
    server::Limits {
        header_read: ms(c.server.header_read_timeout_ms),
        body_read: ms(c.server.body_read_timeout_ms),
        idle: ms(c.server.idle_timeout_ms),
        max_connections: c.server.max_connections,
    }
}

/// Installs the SIGTERM and Ctrl-C handlers now and returns a future that resolves when either
/// arrives. Call it before announcing the server: a signal that lands between the announcement
/// and the first poll of a lazily-registered handler would otherwise kill the process with the
/// default action instead of a graceful shutdown.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        info!("shutdown requested; finishing in-flight requests");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::issuance::BatchRequest;
    use crate::service::setup::test_service;
    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode};
    use tower::ServiceExt;

    /// A test service with one issued code (and the memory store behind it), and the
    /// config that serves it.
    fn one_code() -> (
        crate::service::Service,
        std::sync::Arc<crate::store::mem::MemStore>,
        String,
        Config,
    ) {
        let (svc, mem) = test_service();
        crate::service::master::tests::seed(&svc);
        let (b, _) = svc
            .issuance()
            .issue_batch(
                &BatchRequest {
                    gtin: "09506000134352".into(),
                    lot: "L".into(),
                    expiry: None,
                    quantity: 1,
                },
                "k",
                &|_| {},
            )
            .unwrap();
        let code = svc.issuance().batch_codes(&b, 0, 1).unwrap().remove(0).code;
        let cfg = Config {
            public_host: svc.host().as_str().to_string(),
            ..Config::default()
        };
        (svc, mem, code, cfg)
    }

    /// A response body as text.
    async fn body_text(res: axum::response::Response) -> String {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// The path and query of a code URI.
    fn code_path(code: &str) -> &str {
        &code["https://".len() + code["https://".len()..].find('/').unwrap()..]
    }

    #[tokio::test]
    async fn storage_outage_answers_503_cannot_verify_now_never_fake() {
        let (svc, mem, code, cfg) = one_code();
        let state = AppState::new(Arc::new(svc), "t", cfg);
        let uri = format!(
            "/api/v1/verify?code={}",
            code.replace(':', "%3A")
                .replace('/', "%2F")
                .replace('?', "%3F")
                .replace('&', "%26")
                .replace('=', "%3D")
        );
        let ok = app(state.clone())
            .oneshot(HttpRequest::get(&uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        mem.set_failing(true);
        let res = app(state.clone())
            .oneshot(HttpRequest::get(&uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().contains_key("retry-after"));
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["verdict"], "cannot_verify_now");
        assert_ne!(v["verdict"], "not_genuine");
        // The consumer's page says the same, in both languages, never "not genuine".
        let path = code_path(&code);
        let res = app(state.clone())
            .oneshot(
                HttpRequest::get(path)
                    .header("accept", "text/html")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let html = body_text(res).await;
        assert!(html.contains("data-verdict=\"cannot_verify_now\""));
        assert!(
            html.contains("暂时无法验证") && html.contains("this does not mean the item is fake")
        );
        assert!(!html.contains("非正品") && !html.contains("Not genuine"));
        assert!(
            !html.contains("id=\"complaint\""),
            "no scan was recorded to report from"
        );
    }

    #[tokio::test]
    async fn the_page_advertises_a_loopback_chain_only_in_development_mode() {
        for local in [
            "http://127.0.0.1:8545",
            "http://localhost:8545/",
            "http://LOCALHOST.:1",
            "http://a.localhost",
            "http://[::1]:8545",
            "http://user@[::ffff:127.0.0.1]:1",
            "http://127.1:8545",
            "http://0x7f.0.0.1",
            "http://2130706433/",
            "http://10.1.2.3:8545",
            "http://192.168.0.9",
            "http://169.254.1.1",
            "http://0.0.0.0:8545",
            "http://[fd00::1]",
            "http://[fe80::1]",
            "not a url",
        ] {
            assert!(public::is_local_url(local), "{local}");
        }
        for public_url in [
            "https://rpc.example.com/v1",
            "https://127.0.0.1.example.com",
            "https://8.8.8.8",
            "https://[2001:db8::1]",
        ] {
            assert!(!public::is_local_url(public_url), "{public_url}");
        }
        for dev in [false, true] {
            let (svc, _, code, mut cfg) = one_code();
            svc.log().checkpoint_now().unwrap();
            cfg.chain.public_rpc_url = "http://127.0.0.1:8545".into();
            cfg.chain.dev_mode = dev;
            let state = AppState::new(Arc::new(svc), "t", cfg);
            let res = app(state)
                .oneshot(
                    HttpRequest::get(code_path(&code))
                        .header("accept", "text/html")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let csp = res.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_string();
            let html = body_text(res).await;
            assert_eq!(csp.contains("127.0.0.1:8545"), dev, "{csp}");
            assert_eq!(html.contains("data-rpc=\"http://127.0.0.1:8545\""), dev);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        /// Arbitrary query strings and code paths never produce a 5xx or a panic.
        #[test]
        fn arbitrary_scan_requests_are_answered_without_5xx(
            q in "[ -~]{0,200}",
            path in "/01/[0-9]{0,16}/10/[ -~&&[^?#/ ]]{0,24}/21/[ -~&&[^?#/ ]]{0,24}\\?[ -~&&[^# ]]{0,120}",
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (svc, _) = test_service();
            let state = AppState::new(Arc::new(svc), "t", Config::default());
            for uri in [format!("/api/v1/verify?code={}", q.replace(' ', "%20").replace('#', "%23")), path.clone()] {
                for accept in ["application/json", "text/html"] {
                    let Ok(req) = HttpRequest::get(&uri).header("accept", accept).body(Body::empty()) else {
                        continue; // not even a valid HTTP request line
                    };
                    let res = rt.block_on(app(state.clone()).oneshot(req)).unwrap();
                    proptest::prop_assert!(
                        res.status().is_success() || res.status().is_client_error(),
                        "{} ({}) -> {}", uri, accept, res.status()
                    );
                }
            }
        }
    }
}

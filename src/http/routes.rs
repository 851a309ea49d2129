//! The application router: every endpoint group merged, body limits, request metrics and
//! tracing.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use super::error::ApiError;
use super::state::AppState;
use super::{
    accounts, actor, admin, audit, certificates, console, consumer, custody, engagements, follow,
    grades, merchant, metrics, openapi, ops, public, registration, session,
};

/// The whole application router.
pub fn app(state: Arc<AppState>) -> Router {
    let body_cap = state.config.max_body_bytes;
    Router::new()
        .merge(admin::router(state.clone()))
        .merge(accounts::router(state.clone()))
        .merge(session::router(state.clone()))
        .merge(audit::router(state.clone()))
        .merge(console::router(state.clone()))
        .merge(session::public_router(state.clone()))
        .merge(custody::operator_router(state.clone()))
        .merge(engagements::operator_router(state.clone()))
        .merge(custody::public_router(state.clone()))
        .merge(registration::public_router(state.clone()))
        .merge(registration::operator_router(state.clone()))
        .merge(public::router(state.clone()))
        .merge(consumer::public_router(state.clone()))
        .merge(consumer::operator_router(state.clone()))
        .merge(grades::public_router(state.clone()))
        .merge(follow::public_router(state.clone()))
        .merge(merchant::public_router(state.clone()))
        .merge(follow::operator_router(state.clone()))
        .merge(grades::operator_router(state.clone()))
        .merge(ops::router(state.clone()))
        .route("/api/v1/openapi.json", axum::routing::get(openapi::openapi))
        .layer(DefaultBodyLimit::max(body_cap))
        .layer(RequestBodyLimitLayer::new(body_cap))
        // Added after the general body limit: a signed record naming up to 10,000 serials
        // is larger than other requests, so this route has its own cap.
        .merge(custody::actor_router(state.clone()))
        .merge(actor::router(state.clone()))
        // Reads its bodies itself, after authenticating, up to its own cap.
        .merge(certificates::router(state.clone()))
        .fallback(|| async { ApiError::new(axum::http::StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|m| m.as_str().to_string())
                .unwrap_or_default();
            tracing::info_span!("http", method = %req.method(), route)
        }))
        .with_state(state)
}

async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".into());
    let method = metrics::method_label(req.method());
    let start = Instant::now();
    let res = next.run(req).await;
    state
        .metrics
        .observe(method, &route, res.status().as_u16(), start.elapsed());
    res
}

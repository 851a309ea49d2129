//! Operational endpoints: health, metrics, the OpenAPI document.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::state::AppState;

/// Body of `GET /healthz`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
    /// Leaves in the log.
    pub log_size: u64,
}

/// Routes of this module. `/metrics` is here behind the operator token, unless it has a
/// listener of its own (`server.metrics_listen`, [`metrics_router`]).
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let r = Router::new().route("/healthz", get(healthz));
    if state.config.server.metrics_listen.is_some() {
        return r;
    }
    r.merge(Router::new().route("/metrics", get(metrics)).route_layer(
        axum::middleware::from_fn_with_state(state, super::auth::authorize),
    ))
}

/// The router of the private metrics listener: `/metrics` only, no token.
pub fn metrics_router(state: Arc<AppState>) -> axum::Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Liveness: 200 when serving.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Serving", body = Health)))]
pub async fn healthz(State(st): State<Arc<AppState>>) -> Result<Json<Health>, ApiError> {
    Ok(Json(Health {
        status: "ok".into(),
        log_size: st.svc.log().log_size()?,
    }))
}

/// Prometheus metrics: behind the operator token, or without it on the private metrics
/// listener (`server.metrics_listen`).
#[utoipa::path(get, path = "/metrics", tag = "operations", security(("operator" = [])),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
              (status = 401, body = super::error::Problem)))]
pub async fn metrics(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        st.metrics.render(),
    )
}

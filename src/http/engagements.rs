//! Engagements (operator, bearer token): which actors an enterprise engages for its products.
//! Only engaged actors' custody records are accepted (`docs/custody.md`, Engagements).

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::post;
use axum::{Json, Router};

use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::service::engagements::{EngagementInput, EngagementView};

/// Operator routes (bearer token).
pub fn operator_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v1/enterprises/{id}/engagements",
            post(engage).get(list),
        )
        .route(
            "/api/v1/enterprises/{id}/engagements/{actor_id}/end",
            post(end),
        )
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::authorize,
        ))
}

/// Engage an actor for the enterprise's products (all of them, or the GTINs listed), for
/// signatures from `not_before` (default now) until `not_after` (default open-ended). Logged
/// (`engagement` record), so anchored.
#[utoipa::path(post, path = "/api/v1/enterprises/{id}/engagements", tag = "custody",
    request_body = EngagementInput, security(("operator" = [])),
    params(("id" = u64, Path, description = "Enterprise id")),
    responses((status = 201, body = EngagementView), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem),
              (status = 422, body = super::error::Problem)))]
pub async fn engage(
    State(st): State<Arc<AppState>>,
    id: Result<Path<u64>, PathRejection>,
    body: Result<Json<EngagementInput>, JsonRejection>,
) -> Result<(StatusCode, Json<EngagementView>), ApiError> {
    let Path(id) = id?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    let v = blocking(move || svc.engagements().engage(id, &input)).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// The enterprise's engagements, with their periods and logged records.
#[utoipa::path(get, path = "/api/v1/enterprises/{id}/engagements", tag = "custody",
    security(("operator" = [])), params(("id" = u64, Path, description = "Enterprise id")),
    responses((status = 200, body = Vec<EngagementView>), (status = 404, body = super::error::Problem)))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<Vec<EngagementView>>, ApiError> {
    let Path(id) = id?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.engagements().list_engagements(id)).await?,
    ))
}

/// End the actor's open engagement: its signatures from now on no longer count. Logged.
#[utoipa::path(post, path = "/api/v1/enterprises/{id}/engagements/{actor_id}/end", tag = "custody",
    security(("operator" = [])),
    params(("id" = u64, Path, description = "Enterprise id"), ("actor_id" = String, Path, description = "Actor id")),
    responses((status = 200, body = EngagementView), (status = 404, body = super::error::Problem)))]
pub async fn end(
    State(st): State<Arc<AppState>>,
    p: Result<Path<(u64, String)>, PathRejection>,
) -> Result<Json<EngagementView>, ApiError> {
    let Path((id, actor)) = p?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.engagements().end_engagement(id, &actor)).await?,
    ))
}

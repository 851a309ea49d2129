//! Credit-risk grades over HTTP: the public grade of an enterprise with its factors and
//! history (rate-limited), and the operator's override (bearer token or session).

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::middleware;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};

use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::authz::Principal;
use crate::service::grading::{GradeView, LiftInput, OverrideInput};

/// Public routes (behind the general rate limiter).
pub fn public_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/enterprises/{id}/grade", get(get_grade))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
}

/// Operator routes.
pub fn operator_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/enterprises/{id}/grade/override", put(set_override))
        .route(
            "/api/v1/enterprises/{id}/grade/override/lift",
            post(lift_override),
        )
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::authorize,
        ))
}

/// An enterprise's credit-risk grade: the grade in force, the model's score and grade, each
/// factor's part, any override, and every change with its log leaf (public: what the model
/// weighs is the enterprise's public record).
#[utoipa::path(get, path = "/api/v1/enterprises/{id}/grade", tag = "credit",
    params(("id" = u64, Path, description = "Enterprise id")),
    responses((status = 200, body = GradeView), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem)))]
pub async fn get_grade(
    State(st): State<Arc<AppState>>,
    p: Result<Path<u64>, PathRejection>,
) -> Result<Json<GradeView>, ApiError> {
    let Path(id) = p?;
    let svc = st.svc.clone();
    Ok(Json(blocking(move || svc.grading().grade(id)).await?))
}

/// Sets an enterprise's grade until lifted, with a reason (logged, public).
#[utoipa::path(put, path = "/api/v1/enterprises/{id}/grade/override", tag = "credit",
    params(("id" = u64, Path, description = "Enterprise id")),
    request_body = OverrideInput, security(("operator" = [])),
    responses((status = 200, body = GradeView), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem)))]
pub async fn set_override(
    State(st): State<Arc<AppState>>,
    Extension(by): Extension<Principal>,
    p: Result<Path<u64>, PathRejection>,
    body: Result<Json<OverrideInput>, JsonRejection>,
) -> Result<Json<GradeView>, ApiError> {
    let Path(id) = p?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.grading().set_override(id, &input, &by)).await?,
    ))
}

/// Lifts an override, with a reason (logged, public): the model's grade applies again.
#[utoipa::path(post, path = "/api/v1/enterprises/{id}/grade/override/lift", tag = "credit",
    params(("id" = u64, Path, description = "Enterprise id")),
    request_body = LiftInput, security(("operator" = [])),
    responses((status = 200, body = GradeView), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)))]
pub async fn lift_override(
    State(st): State<Arc<AppState>>,
    Extension(by): Extension<Principal>,
    p: Result<Path<u64>, PathRejection>,
    body: Result<Json<LiftInput>, JsonRejection>,
) -> Result<Json<GradeView>, ApiError> {
    let Path(id) = p?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.grading().lift_override(id, &input, &by)).await?,
    ))
}

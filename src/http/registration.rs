//! Registration requests: filed from the actor page without an account (signed by the key
//! they name, rate-limited per client address), read and dismissed by the operator
//! (`service::registry::requests`).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::service::registry::requests::{
    RegistrationReceipt, RegistrationRequest, RegistrationSubmission,
};

/// The public route (behind the general rate limiter, then the per-address quota).
pub fn public_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/actor-requests", post(file_request))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
}

/// The operator's routes.
pub fn operator_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/actor-requests", get(list_requests))
        .route(
            "/api/v1/actor-requests/{fingerprint}",
            get(get_request).delete(dismiss_request),
        )
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::authorize,
        ))
}

/// Ask the operator to register a key (from the actor page).
///
/// The body carries the request's canonical JSON and its signature by the key it names.
/// 201 when filed, 200 when it replaced the request pending for the same key. Limited per
/// client address (`ratelimit::REGISTRATION_REQUESTS_PER_HOUR`, then 429); at most 200 wait at once (then 503).
#[utoipa::path(post, path = "/api/v1/actor-requests", tag = "custody", request_body = RegistrationSubmission,
    responses((status = 201, body = RegistrationReceipt), (status = 200, body = RegistrationReceipt),
              (status = 400, body = super::error::Problem), (status = 422, body = super::error::Problem),
              (status = 429, body = super::error::Problem), (status = 503, body = super::error::Problem)))]
pub async fn file_request(
    State(st): State<Arc<AppState>>,
    req: Request,
) -> Result<(StatusCode, Json<RegistrationReceipt>), ApiError> {
    let ip = st.client_ip(&req);
    let body: Result<Json<RegistrationSubmission>, JsonRejection> =
        <Json<RegistrationSubmission> as FromRequest<Arc<AppState>>>::from_request(req, &st).await;
    let Json(sub) = body?;
    if let Some(ip) = ip {
        if let Err(wait) = st.registration_limiter.check(ip, Instant::now()) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many registration requests from {ip}; retry in {wait} s"),
            )
            .retry_after(wait));
        }
    }
    let svc = st.svc.clone();
    let now = crate::service::now_unix();
    let r = blocking(move || svc.registry().requests().request_registration(&sub, now))
        .await
        .inspect_err(|_| {
            if let Some(ip) = ip {
                st.registration_limiter.refund(ip);
            }
        })?;
    let status = if r.replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(r)))
}

/// The pending registration requests, newest first.
#[utoipa::path(get, path = "/api/v1/actor-requests", tag = "custody", security(("operator" = [])),
    responses((status = 200, body = Vec<RegistrationRequest>), (status = 401, body = super::error::Problem),
              (status = 403, body = super::error::Problem)))]
pub async fn list_requests(
    State(st): State<Arc<AppState>>,
) -> Result<Json<Vec<RegistrationRequest>>, ApiError> {
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.registry().requests().registration_requests()).await?,
    ))
}

/// One pending request, by its key's fingerprint (64 hex).
#[utoipa::path(get, path = "/api/v1/actor-requests/{fingerprint}", tag = "custody",
    params(("fingerprint" = String, Path, description = "SHA-256 of the public key, 64 hex")),
    security(("operator" = [])),
    responses((status = 200, body = RegistrationRequest), (status = 404, body = super::error::Problem)))]
pub async fn get_request(
    State(st): State<Arc<AppState>>,
    fp: Result<Path<String>, PathRejection>,
) -> Result<Json<RegistrationRequest>, ApiError> {
    let Path(fp) = fp?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.registry().requests().registration_request(&fp)).await?,
    ))
}

/// Dismiss a pending request (registering its key removes it too).
#[utoipa::path(delete, path = "/api/v1/actor-requests/{fingerprint}", tag = "custody",
    params(("fingerprint" = String, Path, description = "SHA-256 of the public key, 64 hex")),
    security(("operator" = [])),
    responses((status = 204), (status = 404, body = super::error::Problem)))]
pub async fn dismiss_request(
    State(st): State<Arc<AppState>>,
    fp: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(fp) = fp?;
    let svc = st.svc.clone();
    blocking(move || svc.registry().requests().dismiss_registration(&fp)).await?;
    Ok(StatusCode::NO_CONTENT)
}

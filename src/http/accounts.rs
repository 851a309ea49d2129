//! API tokens and users: made, listed, revoked and disabled by operators, and by enterprise
//! admins for their own enterprise's staff (`docs/authorization.md`).

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::authz::{Allowed, Principal};
use crate::service::accounts::users::{UserInput, UserView};
use crate::service::accounts::{NewToken, TokenInput, TokenView};

/// Routes of this module, behind authentication and the authorization table.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/tokens", post(create_token).get(list_tokens))
        .route("/api/v1/tokens/{id}/revoke", post(revoke_token))
        .route("/api/v1/users", post(create_user).get(list_users))
        .route("/api/v1/users/{username}/disable", post(disable_user))
        .route("/api/v1/users/{username}/password", post(reset_password))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::authorize,
        ))
}

/// Make an API token. The answer is the only time its secret is shown.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts",
    request_body = TokenInput, security(("operator" = [])),
    responses((status = 201, body = NewToken), (status = 400, body = super::error::Problem),
              (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem),
              (status = 422, body = super::error::Problem)))]
pub async fn create_token(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Result<Json<TokenInput>, JsonRejection>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let Json(input) = body?;
    let svc = st.svc.clone();
    let t = blocking(move || svc.accounts().create_token(&input, &p)).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// The API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts", security(("operator" = [])),
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = super::error::Problem),
              (status = 403, body = super::error::Problem)))]
pub async fn list_tokens(
    State(st): State<Arc<AppState>>,
    Extension(allowed): Extension<Allowed>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.accounts().tokens(allowed.only())).await?,
    ))
}

/// Revoke an API token: it authenticates nothing from the next request on.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "accounts",
    params(("id" = String, Path, description = "The token's id (its public prefix)")),
    security(("operator" = [])),
    responses((status = 200, body = TokenView), (status = 401, body = super::error::Problem),
              (status = 403, body = super::error::Problem), (status = 404, body = super::error::Problem),
              (status = 409, body = super::error::Problem)))]
pub async fn revoke_token(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<TokenView>, ApiError> {
    let Path(id) = id?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.accounts().revoke_token(&id, &p)).await?,
    ))
}

/// Make a user (a person who signs in with a password).
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts",
    request_body = UserInput, security(("operator" = [])),
    responses((status = 201, body = UserView), (status = 400, body = super::error::Problem),
              (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem),
              (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)))]
pub async fn create_user(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    body: Result<Json<UserInput>, JsonRejection>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let Json(input) = body?;
    let _slot = st
        .hashing
        .acquire()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    let svc = st.svc.clone();
    let u = blocking(move || svc.accounts().create_user(&input, &p)).await?;
    Ok((StatusCode::CREATED, Json(u)))
}

/// The users (an enterprise admin: its enterprise's), never their password hashes.
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts", security(("operator" = [])),
    responses((status = 200, body = Vec<UserView>), (status = 401, body = super::error::Problem),
              (status = 403, body = super::error::Problem)))]
pub async fn list_users(
    State(st): State<Arc<AppState>>,
    Extension(allowed): Extension<Allowed>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.accounts().users(allowed.only())).await?,
    ))
}

/// Body of `POST /api/v1/users/{username}/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The new password: 12–256 characters, not the user name.
    pub password: String,
}

/// Reset a user's password (an administrator's act): its sessions end at once.
#[utoipa::path(post, path = "/api/v1/users/{username}/password", tag = "accounts",
    params(("username" = String, Path, description = "The user name")),
    request_body = PasswordReset, security(("operator" = [])),
    responses((status = 200, body = UserView), (status = 400, body = super::error::Problem),
              (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem),
              (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)))]
pub async fn reset_password(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<PasswordReset>, JsonRejection>,
) -> Result<Json<UserView>, ApiError> {
    let Path(name) = name?;
    let Json(b) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.accounts().reset_password(&name, &b.password, &p)).await?,
    ))
}

/// Disable a user: it cannot sign in, and its sessions end at once.
#[utoipa::path(post, path = "/api/v1/users/{username}/disable", tag = "accounts",
    params(("username" = String, Path, description = "The user name")),
    security(("operator" = [])),
    responses((status = 200, body = UserView), (status = 401, body = super::error::Problem),
              (status = 403, body = super::error::Problem), (status = 404, body = super::error::Problem),
              (status = 409, body = super::error::Problem)))]
pub async fn disable_user(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<UserView>, ApiError> {
    let Path(name) = name?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.accounts().disable_user(&name, &p)).await?,
    ))
}

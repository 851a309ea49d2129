//! Users' sessions over HTTP: sign-in (`POST /api/v1/session`, public), who am I, sign-out
//! and password change (`docs/authorization.md`, Users and sessions).
//!
//! The session id travels in a cookie: `__Host-traceseal-session` with `Secure; HttpOnly;
//! SameSite=Strict; Path=/` (the `__Host-` prefix pins it to this host, over HTTPS); under
//! `serve --dev` (plain HTTP on loopback) `traceseal-session` without `Secure`. Its
//! `Max-Age` is the session's absolute lifetime. Every request that writes with a session
//! must carry the session's CSRF token in `X-CSRF-Token` (`http::auth` checks it).
//!
//! Sign-in is limited three ways: the public per-client rate limit; failed sign-ins per
//! client network (`sessions.network_failures_per_hour`, 429 beyond); and per account
//! (`sessions.max_failures`, then a pause). Password hashing (argon2id, 19 MiB) runs at most
//! `http::state::hashing_slots()` at a time (half the cores), so a flood of sign-ins cannot
//! exhaust memory or take the cores from scans.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::cookie::{clear_cookie, session_cookie, set_cookie, SessionId};
use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::authz::Principal;
use crate::service::accounts::sessions::{NewSession, SessionView};

/// How long a sign-in waits for a hashing slot before 503.
const SLOT_WAIT: Duration = Duration::from_secs(10);

/// Sign-in: public, behind the public rate limit.
pub fn public_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/session", post(sign_in))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
}

/// Who am I, sign-out, password change: behind authentication.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/session", get(whoami).delete(sign_out))
        .route("/api/v1/session/password", post(change_password))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::authorize,
        ))
}

/// Body of `POST /api/v1/session`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

/// Sign in: a session cookie and the session (with its CSRF token). Every failure is the
/// same 401, whether or not the account exists.
#[utoipa::path(post, path = "/api/v1/session", tag = "accounts", request_body = SignIn,
    responses((status = 201, body = SessionView), (status = 400, body = super::error::Problem),
              (status = 401, body = super::error::Problem), (status = 429, body = super::error::Problem),
              (status = 503, body = super::error::Problem)))]
pub async fn sign_in(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let network = st.client_ip(&req).map(network_of);
    let replaces = session_cookie(req.headers(), st.config.sessions.dev_mode);
    let body = axum::Json::<SignIn>::from_request(req, &()).await;
    match sign_in_with(&st, network, replaces, body).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

async fn sign_in_with(
    st: &Arc<AppState>,
    network: Option<IpAddr>,
    replaces: Option<String>,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = body?;
    let session = checked_sign_in(st, network, input.username, input.password, replaces).await?;
    let cookie = set_cookie(&st.config.sessions, &session.id);
    let mut res = (StatusCode::CREATED, Json(session.view)).into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// A sign-in within the limits: the client network's failed sign-ins (a failure uses up one,
/// a success gives it back) and the hashing slots. The API and the console both sign in here.
pub(super) async fn checked_sign_in(
    st: &Arc<AppState>,
    network: Option<IpAddr>,
    username: String,
    password: String,
    replaces: Option<String>,
) -> Result<NewSession, ApiError> {
    if let Some(net) = network {
        if let Err(wait) = st.sign_in_limiter.check(net, Instant::now()) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed sign-ins from your network; retry in {wait} s"),
            )
            .retry_after(wait));
        }
    }
    let _slot = tokio::time::timeout(SLOT_WAIT, st.hashing.acquire())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many sign-ins at once; retry shortly",
            )
            .retry_after(5)
        })?;
    let svc = st.svc.clone();
    let session = blocking(move || {
        svc.accounts()
            .sign_in(&username, &password, replaces.as_deref())
    })
    .await?;
    if let Some(net) = network {
        st.sign_in_limiter.refund(net);
    }
    Ok(session)
}

/// The signed-in session (its CSRF token included). With an API token: 404, no session.
#[utoipa::path(get, path = "/api/v1/session", tag = "accounts", security(("session" = [])),
    responses((status = 200, body = SessionView), (status = 401, body = super::error::Problem),
              (status = 404, body = super::error::Problem)))]
pub async fn whoami(
    State(st): State<Arc<AppState>>,
    session: Option<Extension<SessionId>>,
) -> Result<Response, ApiError> {
    let Some(Extension(SessionId(id))) = session else {
        return Err(no_session());
    };
    let svc = st.svc.clone();
    match blocking(move || svc.accounts().session(&id)).await? {
        Some((_, view)) => {
            let mut res = Json(view).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        None => Err(no_session()),
    }
}

/// Sign out: the session ends and the cookie is cleared.
#[utoipa::path(delete, path = "/api/v1/session", tag = "accounts", security(("session" = [])),
    responses((status = 204), (status = 401, body = super::error::Problem),
              (status = 403, body = super::error::Problem), (status = 404, body = super::error::Problem)))]
pub async fn sign_out(
    State(st): State<Arc<AppState>>,
    session: Option<Extension<SessionId>>,
) -> Result<Response, ApiError> {
    let Some(Extension(SessionId(id))) = session else {
        return Err(no_session());
    };
    let svc = st.svc.clone();
    blocking(move || svc.accounts().sign_out(&id)).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(&st.config.sessions));
    Ok(res)
}

/// Body of `POST /api/v1/session/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: String,
    /// The new one: at least 12 characters, at most 256; not the user name.
    pub new_password: String,
}

/// Change the signed-in user's password: every session of the user ends (sign in again).
#[utoipa::path(post, path = "/api/v1/session/password", tag = "accounts",
    request_body = PasswordChange, security(("session" = [])),
    responses((status = 204), (status = 400, body = super::error::Problem),
              (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem),
              (status = 404, body = super::error::Problem)))]
pub async fn change_password(
    State(st): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    session: Option<Extension<SessionId>>,
    body: Result<Json<PasswordChange>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = body?;
    let (Some(_), Some(username)) = (session, p.id.strip_prefix("user:").map(str::to_string))
    else {
        return Err(no_session());
    };
    let _slot = st.hashing.acquire().await.map_err(|_| no_session())?;
    let svc = st.svc.clone();
    blocking(move || {
        svc.accounts()
            .change_password(&username, &input.current_password, &input.new_password)
    })
    .await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(&st.config.sessions));
    Ok(res)
}

fn no_session() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no session: this request authenticated with an API token, not a sign-in",
    )
}

/// The coarse network of a client (IPv4 /24, IPv6 /48): failed sign-ins are counted per
/// network, so rotating addresses within one network does not help.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            IpAddr::from([o[0], o[1], o[2], 0])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], 0, 0, 0, 0, 0])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_ipv4_24_and_ipv6_48() {
        let v4: IpAddr = "203.0.113.77".parse().unwrap();
        assert_eq!(network_of(v4), "203.0.113.0".parse::<IpAddr>().unwrap());
        let v6: IpAddr = "2001:db8:abcd:12::1".parse().unwrap();
        assert_eq!(network_of(v6), "2001:db8:abcd::".parse::<IpAddr>().unwrap());
    }
}

//! Authentication and authorization of the routes that need a principal, in one place: the
//! credential names a principal — a bearer token (the bootstrap operator token
//! `DATA_DIR/admin.token`, or an API token of `service::accounts`), else a user's session
//! cookie (`http::session`; a request that writes must then carry the session's CSRF token) —
//! and the authorization table (`crate::authz`, `docs/authorization.md`) says whether its role
//! may use the matched route on that target. 401 without a valid credential (failures count
//! against the client's public rate limit: 429 past it), 403 with the reason when the table
//! refuses; the handler runs only when the table allows, with the [`Principal`] and what it
//! may see ([`Allowed`]) in the request's extensions.

use std::sync::Arc;

mod audit;
mod targets;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::cookie::{session_cookie, SessionId, CSRF_HEADER};
use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::authz::{self, Principal, Role, Rule};
use crate::service::accounts::sessions::SessionView;

/// The principal id of the bootstrap operator token.
pub const BOOTSTRAP: &str = "bootstrap";

/// The middleware: authenticate, then authorize the matched route. The handler gets the
/// [`Principal`] (with the request id) and what it may see ([`crate::authz::Allowed`]) in the request's
/// extensions; a write it answers is recorded in the audit trail. Every answer carries
/// `X-Request-Id`.
pub(super) async fn authorize(
    State(st): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let request_id = audit::new_request_id();
    let mut res = authorized(st, req, next, &request_id).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

async fn authorized(st: Arc<AppState>, req: Request, next: Next, request_id: &str) -> Response {
    let ip = st.client_ip(&req);
    let presented = credential(&st, &req);
    let (mut principal, session) = match authenticate(&st, presented).await {
        Ok(p) => p,
        Err(res) => return throttle_failures(&st, ip, res),
    };
    principal.request = request_id.to_string();
    if let Some(s) = &session {
        if let Err(refusal) = check_csrf(&req, &s.view.csrf_token) {
            return refusal.into_response();
        }
    }
    let Some(rule) = rule_of(&req) else {
        tracing::error!(method = %req.method(), "route missing from the authorization table");
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; the cause is in the server log",
        )
        .into_response();
    };
    let (req, params) = targets::path_params(req).await;
    let permit = match targets::permit(&st, &principal, rule, req, &params).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let mut req = permit.req;
    let entry = (!req.method().is_safe())
        .then(|| audit::entry(&principal, rule, req.uri().path(), &params, permit.owner));
    req.extensions_mut().insert(principal);
    req.extensions_mut().insert(permit.allowed);
    if let Some(s) = session {
        req.extensions_mut().insert(SessionId(s.id));
    }
    let res = next.run(req).await;
    if let Some(e) = entry {
        audit::record(&st, e, res.status()).await;
    }
    res
}

/// The table's rule of the matched route. A HEAD is answered by the GET route, so it is the
/// GET's rule.
fn rule_of(req: &Request) -> Option<&'static Rule> {
    let path = req.extensions().get::<MatchedPath>()?.as_str();
    let method = match req.method().as_str() {
        "HEAD" => "GET",
        m => m,
    };
    authz::rule_for(method, path)
}

/// The request's bearer credential.
fn bearer(req: &Request) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
}

/// A session a request authenticated with.
struct LiveSession {
    id: String,
    view: SessionView,
}

/// What a request presents: a bearer token, else a session cookie.
enum Credential {
    Bearer(String),
    Session(String),
    Nothing,
}

fn credential(st: &AppState, req: &Request) -> Credential {
    match (
        bearer(req),
        session_cookie(req.headers(), st.config.sessions.dev_mode),
    ) {
        (Some(t), _) => Credential::Bearer(t),
        (None, Some(id)) => Credential::Session(id),
        (None, None) => Credential::Nothing,
    }
}

/// The principal of the request's credential, or the 401 (or 503) answer.
async fn authenticate(
    st: &Arc<AppState>,
    presented: Credential,
) -> Result<(Principal, Option<LiveSession>), Response> {
    let id = match presented {
        Credential::Bearer(token) => return Ok((bearer_principal(st, token).await?, None)),
        Credential::Session(id) => id,
        Credential::Nothing => return Err(unauthorized(
            "this endpoint needs `Authorization: Bearer <token>` (an API token, or the operator token in DATA_DIR/admin.token) or a session (POST /api/v1/session to sign in)",
        )),
    };
    let svc = st.svc.clone();
    let lookup = id.clone();
    match blocking(move || svc.accounts().session(&lookup)).await {
        Ok(Some((p, view))) => Ok((p, Some(LiveSession { id, view }))),
        Ok(None) => Err(unauthorized(
            "the session has ended (signed out, expired, or the user changed): sign in again",
        )),
        Err(e) => Err(e.into_response()),
    }
}

async fn bearer_principal(st: &Arc<AppState>, token: String) -> Result<Principal, Response> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if st
        .token_digest
        .is_some_and(|d| bool::from(digest.ct_eq(&d)))
    {
        return Ok(Principal::new(BOOTSTRAP, Role::Operator, None));
    }
    let svc = st.svc.clone();
    match blocking(move || svc.accounts().authenticate(&token)).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(unauthorized(
            "the bearer token is not valid: unknown, expired or revoked",
        )),
        Err(e) => Err(e.into_response()),
    }
}

/// A request that may write, made with a session, must carry the session's CSRF token: a
/// page of another site can make the browser send the cookie, but cannot read the token.
fn check_csrf(req: &Request, expected: &str) -> Result<(), ApiError> {
    if req.method().is_safe() {
        return Ok(());
    }
    let given = req
        .headers()
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if bool::from(given.ct_eq(expected.as_bytes())) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "missing or wrong X-CSRF-Token: a request that writes with a session must carry the session's csrf_token (GET /api/v1/session gives it)",
    ))
}

/// A failed authentication counts against the client's public rate limit, so guessing tokens
/// (or flooding the token lookup) is as limited as scanning: past it, 429 instead of 401.
fn throttle_failures(st: &AppState, ip: Option<std::net::IpAddr>, res: Response) -> Response {
    if res.status() != StatusCode::UNAUTHORIZED {
        return res;
    }
    match ip.map(|ip| (ip, st.limiter.check(ip))) {
        Some((ip, Err(wait))) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed authentications from {ip}; retry in {wait} s"),
        )
        .retry_after(wait)
        .into_response(),
        _ => res,
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut res = ApiError::new(StatusCode::UNAUTHORIZED, detail).into_response();
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

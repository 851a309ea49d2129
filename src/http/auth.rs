//! Authentication and authorization of the routes that need a principal, in one place: the
//! bearer credential names a principal (the bootstrap operator token `DATA_DIR/admin.token`,
//! or an API token of `service::accounts`), and the authorization table (`crate::authz`,
//! `docs/authorization.md`) says whether its role may use the matched route. 401 without a
//! valid credential (failures count against the client's public rate limit: 429 past it), 403
//! with the reason when the table refuses; the handler runs only when the table allows, with
//! the [`Principal`] in the request's extensions.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::authz::{self, Allowed, Principal, Role};

/// The principal id of the bootstrap operator token.
pub const BOOTSTRAP: &str = "bootstrap";

/// The middleware: authenticate, then authorize the matched route.
pub(super) async fn authorize(
    State(st): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let ip = st.client_ip(&req);
    let principal = match authenticate(&st, bearer(&req)).await {
        Ok(p) => p,
        Err(res) => return throttle_failures(&st, ip, res),
    };
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    // A HEAD is answered by the GET route, so it is the GET's rule.
    let method = match req.method().as_str() {
        "HEAD" => "GET",
        m => m,
    };
    let Some(rule) = authz::rule_for(method, &path) else {
        tracing::error!(method = %req.method(), path, "route missing from the authorization table");
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; the cause is in the server log",
        )
        .into_response();
    };
    match authz::decide(&principal, rule, None) {
        Ok(Allowed::Everything) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        // No enterprise role can hold a credential until enterprise scoping lands; refuse
        // rather than answer unscoped.
        Ok(Allowed::Enterprise(_)) => {
            ApiError::new(StatusCode::FORBIDDEN, "enterprise roles are not served yet")
                .into_response()
        }
        Err(refusal) => ApiError::new(StatusCode::FORBIDDEN, refusal.to_string()).into_response(),
    }
}

/// The request's bearer credential.
fn bearer(req: &Request) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
}

/// The principal of a bearer credential, or the 401 (or 503) answer.
async fn authenticate(
    st: &Arc<AppState>,
    presented: Option<String>,
) -> Result<Principal, Response> {
    let Some(token) = presented else {
        return Err(unauthorized(
            "this endpoint needs `Authorization: Bearer <token>`: an API token, or the operator token in DATA_DIR/admin.token",
        ));
    };
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if bool::from(digest.ct_eq(&st.token_digest)) {
        return Ok(Principal {
            id: BOOTSTRAP.into(),
            role: Role::Operator,
            enterprise: None,
        });
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

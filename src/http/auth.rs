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

use axum::body::Body;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::RequestPartsExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::cookie::{session_cookie, SessionId, CSRF_HEADER};
use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::authz::{self, Allowed, Grant, Owner, Principal, Role, Rule, Target};
use crate::service::accounts::sessions::SessionView;

/// The principal id of the bootstrap operator token.
pub const BOOTSTRAP: &str = "bootstrap";

/// The middleware: authenticate, then authorize the matched route. The handler gets the
/// [`Principal`] and what it may see ([`Allowed`]) in the request's extensions.
pub(super) async fn authorize(
    State(st): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let ip = st.client_ip(&req);
    let presented = credential(&st, &req);
    let (principal, session) = match authenticate(&st, presented).await {
        Ok(p) => p,
        Err(res) => return throttle_failures(&st, ip, res),
    };
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
    match permit(&st, &principal, rule, req).await {
        Ok((mut req, allowed)) => {
            req.extensions_mut().insert(principal);
            req.extensions_mut().insert(allowed);
            if let Some(s) = session {
                req.extensions_mut().insert(SessionId(s.id));
            }
            next.run(req).await
        }
        Err(res) => res,
    }
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

/// Whether `p` may make `req` under `rule`: for an `own` grant, the target's enterprise is
/// found first (from the path, or the JSON body, which is buffered and handed on).
async fn permit(
    st: &Arc<AppState>,
    p: &Principal,
    rule: &'static Rule,
    req: Request,
) -> Result<(Request, Allowed), Response> {
    let forbidden = |r: authz::Refusal| ApiError::new(StatusCode::FORBIDDEN, r.to_string());
    let no_target = matches!(rule.owner, Owner::List | Owner::Platform | Owner::Own);
    if rule.grant(p.role) != Grant::Own || no_target {
        let allowed = authz::decide(p, rule, None).map_err(|r| forbidden(r).into_response())?;
        return Ok((req, allowed));
    }
    let (req, targets) = targets_of(st, rule.owner, req).await?;
    let svc = st.svc.clone();
    let owners = blocking(move || {
        targets
            .iter()
            .map(|t| match t {
                Some(t) => svc.owner_of(t),
                None => Ok(None),
            })
            .collect::<crate::service::Result<Vec<_>>>()
    })
    .await
    .map_err(IntoResponse::into_response)?;
    let mut allowed = Allowed::Everything;
    for owner in owners {
        allowed = authz::decide(p, rule, owner).map_err(|r| forbidden(r).into_response())?;
    }
    Ok((req, allowed))
}

/// The targets whose enterprise decides the request (`None`: the body names none).
async fn targets_of(
    st: &AppState,
    owner: Owner,
    req: Request,
) -> Result<(Request, Vec<Option<Target>>), Response> {
    let (mut parts, body) = req.into_parts();
    let params = parts
        .extract::<RawPathParams>()
        .await
        .map_err(IntoResponse::into_response)?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    let id = |name: &str| {
        let v = param(name);
        v.parse::<u64>().map_err(|_| {
            Box::new(
                ApiError::bad_request(format!("{name} must be an integer, got {v:?}"))
                    .into_response(),
            )
        })
    };
    let (body, json) = if owner.needs_body() {
        buffer_json(st, body).await?
    } else {
        (body, serde_json::Value::Null)
    };
    let enterprise = || {
        json.get("enterprise_id")
            .and_then(|v| v.as_u64())
            .map(Target::Enterprise)
    };
    let product = || {
        json.get("gtin")
            .and_then(|v| v.as_str())
            .map(|g| Target::Product(g.into()))
    };
    let targets = match owner {
        Owner::PathEnterprise => vec![Some(Target::Enterprise(id("id").map_err(|e| *e)?))],
        Owner::PathProduct => vec![Some(Target::Product(param("gtin")))],
        Owner::PathBatch => vec![Some(Target::Batch(id("id").map_err(|e| *e)?))],
        Owner::PathPrintJob => vec![Some(Target::PrintJob(id("id").map_err(|e| *e)?))],
        Owner::PathLot => vec![Some(Target::Lot(param("id")))],
        Owner::PathComplaint => vec![Some(Target::Complaint(param("reference")))],
        Owner::PathToken => vec![Some(Target::Token(param("id")))],
        Owner::PathUser => vec![Some(Target::User(param("username")))],
        Owner::BodyEnterprise => vec![enterprise()],
        Owner::BodyProduct => vec![product()],
        Owner::PathProductBodyEnterprise => {
            vec![Some(Target::Product(param("gtin"))), enterprise()]
        }
        Owner::List | Owner::Platform | Owner::Own => Vec::new(),
    };
    Ok((Request::from_parts(parts, body), targets))
}

/// Reads the body (within the body limit) to find its owner fields, and gives it back.
async fn buffer_json(st: &AppState, body: Body) -> Result<(Body, serde_json::Value), Response> {
    let bytes = axum::body::to_bytes(body, st.config.max_body_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is over {} bytes",
                    st.config.max_body_bytes
                ),
            )
            .into_response()
        })?;
    let json = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!("the request body is not valid JSON: {e}")).into_response()
    })?;
    Ok((Body::from(bytes), json))
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

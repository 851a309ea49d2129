//! The targets of a request and their owners: for an `own` grant the target's enterprise
//! decides (`crate::authz::decide`); for any write it is also what the audit trail records.
//! Targets come from the path, or from the JSON body (read within the body limit and handed on
//! unchanged).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawPathParams, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::RequestPartsExt;

use crate::authz::{self, Allowed, Grant, Owner, Principal, Rule, Target};
use crate::http::error::ApiError;
use crate::http::state::{blocking, AppState};

/// A request the table allows.
pub(super) struct Permit {
    /// The request (its body handed on).
    pub req: Request,
    /// What it may see.
    pub allowed: Allowed,
    /// The enterprise that owns its target, when known.
    pub owner: Option<u64>,
}

/// The request's path parameters (name, value), and the request.
pub(super) async fn path_params(req: Request) -> (Request, Vec<(String, String)>) {
    let (mut parts, body) = req.into_parts();
    let params = match parts.extract::<RawPathParams>().await {
        Ok(p) => p
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        Err(_) => Vec::new(),
    };
    (Request::from_parts(parts, body), params)
}

/// Whether `p` may make `req` under `rule`. For an `own` grant the target's enterprise is
/// found and compared (strictly: a malformed id or body, or a missing target, is the answer);
/// for a write under an `all` grant it is looked up for the audit trail only (best effort).
pub(super) async fn permit(
    st: &Arc<AppState>,
    p: &Principal,
    rule: &'static Rule,
    req: Request,
    params: &[(String, String)],
) -> Result<Permit, Response> {
    let refuse =
        |r: authz::Refusal| ApiError::new(StatusCode::FORBIDDEN, r.to_string()).into_response();
    let no_target = matches!(rule.owner, Owner::List | Owner::Platform | Owner::Own);
    let strict = rule.grant(p.role) == Grant::Own && !no_target;
    let write = !req.method().is_safe();
    if no_target || rule.grant(p.role) == Grant::No || (!strict && !write) {
        let allowed = authz::decide(p, rule, None).map_err(refuse)?;
        return Ok(Permit {
            req,
            owner: allowed.only(),
            allowed,
        });
    }
    let (req, targets) = targets_of(st, rule.owner, req, params, strict).await?;
    let owners = owners_of(st, targets, strict).await?;
    let mut allowed = authz::decide(p, rule, None);
    if strict {
        for owner in &owners {
            allowed = authz::decide(p, rule, *owner);
            if allowed.is_err() {
                break;
            }
        }
    }
    let allowed = allowed.map_err(refuse)?;
    Ok(Permit {
        req,
        allowed,
        owner: owners.into_iter().flatten().next(),
    })
}

/// The enterprises that own `targets`. Strict: a lookup error (a missing target) is the
/// answer; otherwise it counts as no owner.
async fn owners_of(
    st: &Arc<AppState>,
    targets: Vec<Option<Target>>,
    strict: bool,
) -> Result<Vec<Option<u64>>, Response> {
    let svc = st.svc.clone();
    blocking(move || {
        targets
            .iter()
            .map(|t| match (t, strict) {
                (None, _) => Ok(None),
                (Some(t), true) => svc.owner_of(t),
                (Some(t), false) => Ok(svc.owner_of(t).ok().flatten()),
            })
            .collect::<crate::service::Result<Vec<_>>>()
    })
    .await
    .map_err(IntoResponse::into_response)
}

/// The targets whose enterprise decides the request (`None`: none named).
async fn targets_of(
    st: &AppState,
    owner: Owner,
    req: Request,
    params: &[(String, String)],
    strict: bool,
) -> Result<(Request, Vec<Option<Target>>), Response> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let id = |name: &str| -> Result<Option<u64>, ApiError> {
        let v = param(name);
        match v.parse::<u64>() {
            Ok(n) => Ok(Some(n)),
            Err(_) if strict => Err(ApiError::bad_request(format!(
                "{name} must be an integer, got {v:?}"
            ))),
            Err(_) => Ok(None),
        }
    };
    let (parts, body) = req.into_parts();
    let (body, json) = if owner.needs_body() {
        buffer_json(st, body, strict).await?
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
        Owner::PathEnterprise => vec![id("id")
            .map_err(IntoResponse::into_response)?
            .map(Target::Enterprise)],
        Owner::PathProduct => vec![Some(Target::Product(param("gtin")))],
        Owner::PathBatch => vec![id("id")
            .map_err(IntoResponse::into_response)?
            .map(Target::Batch)],
        Owner::PathPrintJob => vec![id("id")
            .map_err(IntoResponse::into_response)?
            .map(Target::PrintJob)],
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

/// Reads the body (within the body limit) to find its owner fields, and gives it back. Not
/// strict: a body that is not JSON names no owner (the handler then answers for it).
async fn buffer_json(
    st: &AppState,
    body: Body,
    strict: bool,
) -> Result<(Body, serde_json::Value), Response> {
    let limit = st.config.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over {limit} bytes"),
        )
        .into_response()
    })?;
    let json = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) if strict => {
            return Err(
                ApiError::bad_request(format!("the request body is not valid JSON: {e}"))
                    .into_response(),
            )
        }
        Err(_) => serde_json::Value::Null,
    };
    Ok((Body::from(bytes), json))
}

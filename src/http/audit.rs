//! `GET /api/v1/audit`: the audit trail of authenticated writes (`service::audit`), for
//! operators and regulators; an enterprise admin sees its own enterprise's.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::authz::Allowed;
use crate::service::audit::{AuditFilter, AuditPage};

/// Routes of this module, behind authentication and the authorization table.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/audit", get(list))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::authorize,
        ))
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this principal's writes (`user:<name>`, `token:<id>`, `bootstrap`, `cli`).
    pub principal: Option<String>,
    /// Only writes about (or by) this enterprise.
    pub enterprise_id: Option<u64>,
    /// Only this route pattern's, e.g. `/api/v1/batches/{id}/print-jobs`.
    pub route: Option<String>,
    /// Only at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only before this time (RFC 3339).
    pub until: Option<String>,
    /// Only records older than this sequence number (paging: the `next_before` you got).
    pub before: Option<u64>,
    /// At most this many records (default 100, 1 to 1000).
    pub limit: Option<usize>,
}

fn unix(field: &str, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.map(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map(|d| d.unix_timestamp())
            .map_err(|_| {
                ApiError::bad_request(format!("{field} must be an RFC 3339 time, got {t:?}"))
            })
    })
    .transpose()
}

/// The audit trail, newest first: who made each authenticated write (principal, role,
/// enterprise), what (method, route, path, target ids), when, the request id and the outcome.
#[utoipa::path(get, path = "/api/v1/audit", tag = "accounts", params(AuditQuery),
    security(("operator" = [])),
    responses((status = 200, body = AuditPage), (status = 400, body = super::error::Problem),
              (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    Extension(allowed): Extension<Allowed>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(q) = q?;
    let enterprise = match (allowed.only(), q.enterprise_id) {
        (Some(own), Some(asked)) if own != asked => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "enterprise_id={asked}: you may read only enterprise {own}'s audit records"
                ),
            ))
        }
        (Some(own), _) => Some(own),
        (None, asked) => asked,
    };
    let filter = AuditFilter {
        principal: q.principal,
        enterprise,
        route: q.route,
        since: unix("since", q.since.as_deref())?,
        until: unix("until", q.until.as_deref())?,
    };
    let svc = st.svc.clone();
    let limit = q.limit.unwrap_or(100);
    Ok(Json(
        blocking(move || svc.audit().list(&filter, q.before, limit)).await?,
    ))
}

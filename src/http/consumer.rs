//! Complaints and merchant credit: the public side (file a complaint, read a credit profile and
//! the dishonesty list — rate-limited) and the operator side (list and update complaints,
//! write credit profiles — bearer token).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Form, FromRequest, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use super::page;
use super::state::{blocking, AppState};
use crate::authz::{Allowed, Principal};
use crate::service::complaints::{
    Complaint, ComplaintCategory, ComplaintFilter, ComplaintInput, ComplaintReceipt,
    ComplaintStatus, ComplaintUpdate,
};
use crate::service::credit::{CreditInput, CreditProfile, CreditVersion, DishonestEntry};

/// Public routes (behind the general rate limiter).
pub fn public_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/complaints", post(file_complaint))
        .route("/complaints", post(file_complaint_form))
        .route("/api/v1/credit/dishonest", get(dishonest_list))
        .route("/api/v1/credit/{enterprise_id}", get(get_credit))
        .route(
            "/api/v1/credit/{enterprise_id}/history",
            get(credit_history),
        )
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
}

/// Operator routes.
pub fn operator_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/enterprises/{id}/credit", put(put_credit))
        .route("/api/v1/complaints", get(list_complaints))
        .route("/api/v1/scans/forged", get(forged_scans))
        .route(
            "/api/v1/complaints/{reference}",
            get(get_complaint).patch(update_complaint),
        )
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::authorize,
        ))
}

/// The complaint limiter: `complaints.per_hour` per client address.
fn complaint_quota(st: &AppState, req_ip: Option<std::net::IpAddr>) -> Result<(), ApiError> {
    if let Some(ip) = req_ip {
        if let Err(wait) = st.complaint_limiter.check(ip, Instant::now()) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many problem reports from {ip}; retry in {wait} s"),
            )
            .retry_after(wait));
        }
    }
    Ok(())
}

/// A refused complaint does not use up the client's quota (the general limiter still counts
/// the request).
fn refund(st: &AppState, ip: Option<std::net::IpAddr>) {
    if let Some(ip) = ip {
        st.complaint_limiter.refund(ip);
    }
}

/// Report a problem about a scanned item (from the scan page).
///
/// Stored with the scan it came from; answers a reference number. Limited per client address
/// (`complaints.per_hour` stored complaints) and per scan (`complaints.per_scan`, then 409).
#[utoipa::path(post, path = "/api/v1/complaints", tag = "complaints", request_body = ComplaintInput,
    responses((status = 201, body = ComplaintReceipt), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem),
              (status = 429, body = super::error::Problem)))]
pub async fn file_complaint(
    State(st): State<Arc<AppState>>,
    req: Request,
) -> Result<(StatusCode, Json<ComplaintReceipt>), ApiError> {
    let ip = st.client_ip(&req);
    let body: Result<Json<ComplaintInput>, JsonRejection> =
        <Json<ComplaintInput> as FromRequest<Arc<AppState>>>::from_request(req, &st).await;
    let Json(input) = body?;
    complaint_quota(&st, ip)?;
    let svc = st.svc.clone();
    let r = blocking(move || svc.consumer().file_complaint(&input))
        .await
        .inspect_err(|_| refund(&st, ip))?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// The scan page's form, for browsers without script: same rules, an HTML answer.
#[derive(Debug, Deserialize)]
pub struct ComplaintForm {
    scan_id: String,
    category: String,
    description: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    lang: String,
}

async fn file_complaint_form(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let ip = st.client_ip(&req);
    let lang = page::Lang::from_headers(req.headers(), None);
    let form: Result<Form<ComplaintForm>, FormRejection> =
        <Form<ComplaintForm> as FromRequest<Arc<AppState>>>::from_request(req, &st).await;
    let f = match form {
        Ok(Form(f)) => f,
        Err(e) => {
            return page::complaint_result(lang, Err((StatusCode::BAD_REQUEST, e.body_text())))
        }
    };
    let lang = page::Lang::parse(&f.lang).unwrap_or(lang);
    let category = match f.category.as_str() {
        "counterfeit" => ComplaintCategory::Counterfeit,
        "quality" => ComplaintCategory::Quality,
        "service" => ComplaintCategory::Service,
        other => {
            return page::complaint_result(
                lang,
                Err((
                    StatusCode::BAD_REQUEST,
                    format!("category must be counterfeit, quality or service, got {other:?}"),
                )),
            )
        }
    };
    if let Err(e) = complaint_quota(&st, ip) {
        return page::complaint_result(lang, Err((e.status, e.detail)));
    }
    let input = ComplaintInput {
        scan_id: f.scan_id,
        category,
        description: f.description,
        contact: Some(f.contact),
    };
    let svc = st.svc.clone();
    match blocking(move || svc.consumer().file_complaint(&input)).await {
        Ok(r) => page::complaint_result(lang, Ok(r)),
        Err(e) => {
            refund(&st, ip);
            page::complaint_result(lang, Err((e.status, e.detail)))
        }
    }
}

/// Query of the operator's complaint list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ComplaintQuery {
    /// Only complaints with this status.
    pub status: Option<ComplaintStatus>,
    /// Only complaints about this enterprise's items.
    pub enterprise_id: Option<u64>,
    /// Complaints older than this reference (paging: pass the last one you got).
    pub before: Option<String>,
    /// At most this many (default 100, max 1000).
    pub limit: Option<usize>,
}

/// List complaints, newest first.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints", params(ComplaintQuery),
    security(("operator" = [])),
    responses((status = 200, body = Vec<Complaint>), (status = 400, body = super::error::Problem)))]
pub async fn list_complaints(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    Extension(allowed): Extension<Allowed>,
    q: Result<Query<ComplaintQuery>, QueryRejection>,
) -> Result<Json<Vec<Complaint>>, ApiError> {
    let Query(q) = q?;
    let svc = st.svc.clone();
    // An enterprise role sees its own enterprise's complaints, and asks for no other's.
    let enterprise_id = match (allowed.only(), q.enterprise_id) {
        (Some(own), Some(asked)) if own != asked => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("enterprise_id={asked}: you may list only enterprise {own}'s complaints"),
            ))
        }
        (Some(own), _) => Some(own),
        (None, asked) => asked,
    };
    let filter = ComplaintFilter {
        status: q.status,
        enterprise_id,
    };
    let list = blocking(move || {
        svc.consumer()
            .list_complaints(&filter, q.before.as_deref(), q.limit.unwrap_or(100))
    })
    .await?;
    Ok(Json(
        list.into_iter().map(|c| for_viewer(&who, c)).collect(),
    ))
}

/// Query of `GET /api/v1/scans/forged`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ForgedQuery {
    /// Only days before this one (days since 1970-01-01; paging: the last day you got).
    pub before_day: Option<i64>,
    /// At most this many rows (default 100, max 1000).
    pub limit: Option<usize>,
}

/// Scans of codes we did not issue (bad signature, unknown key or serial), counted per day,
/// product and reason, newest first: where counterfeit labels are being scanned.
#[utoipa::path(get, path = "/api/v1/scans/forged", tag = "complaints", params(ForgedQuery),
    security(("operator" = [])),
    responses((status = 200, body = Vec<crate::service::telemetry::ForgedDay>)))]
pub async fn forged_scans(
    State(st): State<Arc<AppState>>,
    q: Result<Query<ForgedQuery>, QueryRejection>,
) -> Result<Json<Vec<crate::service::telemetry::ForgedDay>>, ApiError> {
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.telemetry().forged_scans(q.before_day, limit)).await?,
    ))
}

/// One complaint with the scan it came from and its history.
#[utoipa::path(get, path = "/api/v1/complaints/{reference}", tag = "complaints",
    params(("reference" = String, Path, description = "Reference number, e.g. TS20261126-000042")),
    security(("operator" = [])),
    responses((status = 200, body = Complaint), (status = 404, body = super::error::Problem)))]
pub async fn get_complaint(
    State(st): State<Arc<AppState>>,
    Extension(who): Extension<Principal>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Json<Complaint>, ApiError> {
    let Path(r) = p?;
    let svc = st.svc.clone();
    let c = blocking(move || svc.consumer().complaint(&r)).await?;
    Ok(Json(for_viewer(&who, c)))
}

/// What of a complaint `who` may see: a regulator never reads a valid code (the table's rule
/// for regulators), so the scanned code is hidden from it unless the scan found it not
/// genuine (a forged, recalled or revoked code is evidence, not a secret).
pub(crate) fn for_viewer(who: &Principal, mut c: Complaint) -> Complaint {
    let secret = c.scan.verdict != crate::service::telemetry::VerdictKind::NotGenuine;
    if who.role == crate::authz::Role::Regulator && secret {
        c.scan.code =
            "(hidden from regulators: a valid code is a secret until its label is seen)".into();
    }
    c
}

/// Move a complaint to a new status, with a note (kept in its history).
#[utoipa::path(patch, path = "/api/v1/complaints/{reference}", tag = "complaints",
    params(("reference" = String, Path, description = "Reference number")),
    request_body = ComplaintUpdate, security(("operator" = [])),
    responses((status = 200, body = Complaint), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem)))]
pub async fn update_complaint(
    State(st): State<Arc<AppState>>,
    p: Result<Path<String>, PathRejection>,
    body: Result<Json<ComplaintUpdate>, JsonRejection>,
) -> Result<Json<Complaint>, ApiError> {
    let Path(r) = p?;
    let Json(u) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.consumer().update_complaint(&r, &u)).await?,
    ))
}

/// Write (replace) an enterprise's credit profile: rating, disclosures, dishonesty listing.
#[utoipa::path(put, path = "/api/v1/enterprises/{id}/credit", tag = "credit",
    params(("id" = u64, Path, description = "Enterprise id")),
    request_body = CreditInput, security(("operator" = [])),
    responses((status = 200, body = CreditProfile), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem)))]
pub async fn put_credit(
    State(st): State<Arc<AppState>>,
    Extension(by): Extension<Principal>,
    p: Result<Path<u64>, PathRejection>,
    body: Result<Json<CreditInput>, JsonRejection>,
) -> Result<Json<CreditProfile>, ApiError> {
    let Path(id) = p?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.consumer().put_credit(id, &input, &by)).await?,
    ))
}

/// Every version of an enterprise's credit profile, oldest first: who (role and request id)
/// wrote it, when, its log leaf, and the profile as written.
#[utoipa::path(get, path = "/api/v1/credit/{enterprise_id}/history", tag = "credit",
    params(("enterprise_id" = u64, Path, description = "Enterprise id")),
    responses((status = 200, body = Vec<CreditVersion>), (status = 404, body = super::error::Problem)))]
pub async fn credit_history(
    State(st): State<Arc<AppState>>,
    p: Result<Path<u64>, PathRejection>,
) -> Result<Json<Vec<CreditVersion>>, ApiError> {
    let Path(id) = p?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.consumer().credit_history(id)).await?,
    ))
}

/// An enterprise's public credit profile.
#[utoipa::path(get, path = "/api/v1/credit/{enterprise_id}", tag = "credit",
    params(("enterprise_id" = u64, Path, description = "Enterprise id")),
    responses((status = 200, body = CreditProfile), (status = 404, body = super::error::Problem)))]
pub async fn get_credit(
    State(st): State<Arc<AppState>>,
    p: Result<Path<u64>, PathRejection>,
) -> Result<Json<CreditProfile>, ApiError> {
    let Path(id) = p?;
    let svc = st.svc.clone();
    Ok(Json(blocking(move || svc.consumer().credit(id)).await?))
}

/// Enterprises currently on the dishonesty list.
#[utoipa::path(get, path = "/api/v1/credit/dishonest", tag = "credit",
    responses((status = 200, body = Vec<DishonestEntry>)))]
pub async fn dishonest_list(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let svc = st.svc.clone();
    let list = blocking(move || svc.consumer().dishonest_list()).await?;
    Ok(([(header::CACHE_CONTROL, "max-age=60")], Json(list)).into_response())
}

//! Complaints the consumer follows, and referrals to partner bodies, over HTTP: the public
//! progress of a complaint for whoever holds its reference and secret (JSON, and the page
//! `/complaints/follow`; rate-limited, the secret only ever in a request body), and the
//! operator's referral and its outcome (bearer token or session).

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::error::ApiError;
use super::page::{self, Lang};
use super::state::{blocking, AppState};
use crate::service::complaints::{
    Complaint, ComplaintProgress, FollowInput, OutcomeInput, ReferralInput,
};

/// Public routes (behind the general rate limiter).
pub fn public_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v1/complaints/{reference}/progress",
            post(complaint_progress),
        )
        .route("/complaints/follow", get(follow_page).post(follow_post))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
}

/// Operator routes.
pub fn operator_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/complaints/{reference}/referral", post(refer))
        .route(
            "/api/v1/complaints/{reference}/referral/outcome",
            post(referral_outcome),
        )
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::authorize,
        ))
}

/// A complaint's progress: status, the operator's answers, any referral, for whoever holds
/// its reference and the secret from the receipt (one 404 for a wrong reference or secret).
#[utoipa::path(post, path = "/api/v1/complaints/{reference}/progress", tag = "complaints",
    params(("reference" = String, Path, description = "Reference number, e.g. TS20261126-000042")),
    request_body = FollowInput,
    responses((status = 200, body = ComplaintProgress), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem)))]
pub async fn complaint_progress(
    State(st): State<Arc<AppState>>,
    p: Result<Path<String>, PathRejection>,
    body: Result<Json<FollowInput>, JsonRejection>,
) -> Result<Json<ComplaintProgress>, ApiError> {
    let Path(r) = p?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.consumer().complaint_progress(&r, &input)).await?,
    ))
}

/// `?lang=` of the follow-up page.
#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    #[serde(default)]
    lang: Option<String>,
}

/// `GET /complaints/follow`: the form.
async fn follow_page(headers: HeaderMap, q: Result<Query<LangQuery>, QueryRejection>) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let lang = Lang::from_headers(&headers, q.lang.as_deref());
    page::follow_form(lang, StatusCode::OK, "", None)
}

/// The follow-up form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct FollowForm {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    lang: String,
}

/// `POST /complaints/follow`: the progress, or the form again with the reason.
async fn follow_post(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<FollowForm>, FormRejection>,
) -> Response {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let lang = Lang::parse(&f.lang).unwrap_or_else(|| Lang::from_headers(&headers, None));
    let (svc, r) = (st.svc.clone(), f.reference.trim().to_string());
    let input = FollowInput { secret: f.secret };
    let r2 = r.clone();
    match blocking(move || svc.consumer().complaint_progress(&r2, &input)).await {
        Ok(p) => page::follow_result(lang, &p),
        Err(e) => {
            let detail = if e.status.is_server_error() {
                "the service cannot answer now; please try again later".to_string()
            } else {
                e.detail
            };
            page::follow_form(lang, e.status, &r, Some(&detail))
        }
    }
}

/// Refers a complaint to a partner body (`complaints.partners`), once; the consumer sees it.
#[utoipa::path(post, path = "/api/v1/complaints/{reference}/referral", tag = "complaints",
    params(("reference" = String, Path, description = "Reference number")),
    request_body = ReferralInput, security(("operator" = [])),
    responses((status = 200, body = Complaint), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)))]
pub async fn refer(
    State(st): State<Arc<AppState>>,
    p: Result<Path<String>, PathRejection>,
    body: Result<Json<ReferralInput>, JsonRejection>,
) -> Result<Json<Complaint>, ApiError> {
    let Path(r) = p?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.consumer().refer_complaint(&r, &input)).await?,
    ))
}

/// Records the outcome the partner body reported, once; the consumer sees it.
#[utoipa::path(post, path = "/api/v1/complaints/{reference}/referral/outcome", tag = "complaints",
    params(("reference" = String, Path, description = "Reference number")),
    request_body = OutcomeInput, security(("operator" = [])),
    responses((status = 200, body = Complaint), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)))]
pub async fn referral_outcome(
    State(st): State<Arc<AppState>>,
    p: Result<Path<String>, PathRejection>,
    body: Result<Json<OutcomeInput>, JsonRejection>,
) -> Result<Json<Complaint>, ApiError> {
    let Path(r) = p?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.consumer().referral_outcome(&r, &input)).await?,
    ))
}

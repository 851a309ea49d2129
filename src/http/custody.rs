//! Custody endpoints: the actor registry and recalls (operator), signed custody submissions
//! (authenticated by the actor's signature), and the public read side (lots, actors, EPCIS).

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::admin::Page;
use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::service::custody::{
    Accepted, Actor, ActorInput, KeyInput, LotInput, LotPage, LotView, RecallInput, RevokeInput,
    Submission,
};

/// Media type of EPCIS 2.0 JSON-LD documents.
pub const EPCIS_JSON_LD: &str = "application/ld+json";

/// Operator routes (bearer token).
pub fn operator_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/actors", post(register_actor))
        .route("/api/v1/actors/{id}/keys", post(add_key))
        .route("/api/v1/actors/{id}/keys/{kid}/revoke", post(revoke_key))
        .route("/api/v1/lots", post(declare_lot))
        .route("/api/v1/lots/{id}/recall", post(recall))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::authorize,
        ))
}

/// Largest accepted submission body: a statement naming
/// [`crate::custody::record::MAX_ITEMS`] items, JSON-escaped inside the request.
pub const MAX_SUBMISSION_BYTES: usize = 2 * crate::leaf::MAX_LEAF_LEN;

/// Submission route: authenticated by the signature inside the body, rate-limited per client
/// address like the public endpoints, with its own body cap.
pub fn actor_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let cap = MAX_SUBMISSION_BYTES.max(state.config.max_body_bytes);
    Router::new()
        .route("/api/v1/custody/records", post(submit))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(cap))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(cap))
}

/// Public read routes (rate-limited like the scan API).
pub fn public_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/actors", get(list_actors))
        .route("/api/v1/actors/{id}", get(get_actor))
        .route("/api/v1/lots/{id}", get(get_lot))
        .route("/api/v1/lots/{id}/head", get(get_head))
        .route("/api/v1/lots/{id}/epcis", get(lot_epcis))
        .route("/api/v1/epcis", get(item_epcis))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
}

/// Register an actor with its public key(s). Logged (`actor` records), so anchored.
#[utoipa::path(post, path = "/api/v1/actors", tag = "custody", request_body = ActorInput,
    security(("operator" = [])),
    responses((status = 201, body = Actor), (status = 400, body = super::error::Problem),
              (status = 401, body = super::error::Problem), (status = 409, body = super::error::Problem)))]
pub async fn register_actor(
    State(st): State<Arc<AppState>>,
    body: Result<Json<ActorInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Actor>), ApiError> {
    let Json(input) = body?;
    let svc = st.svc.clone();
    let a = blocking(move || svc.registry().register_actor(&input)).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Add a key to an actor; with `replaces`, rotate out an old one.
#[utoipa::path(post, path = "/api/v1/actors/{id}/keys", tag = "custody", request_body = KeyInput,
    params(("id" = String, Path, description = "Actor id")), security(("operator" = [])),
    responses((status = 201, body = Actor), (status = 404, body = super::error::Problem),
              (status = 409, body = super::error::Problem)))]
pub async fn add_key(
    State(st): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<KeyInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Actor>), ApiError> {
    let Path(id) = id?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    let a = blocking(move || svc.registry().add_actor_key(&id, &input)).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Revoke an actor's key from a time (default now).
#[utoipa::path(post, path = "/api/v1/actors/{id}/keys/{kid}/revoke", tag = "custody",
    request_body = RevokeInput, security(("operator" = [])),
    params(("id" = String, Path, description = "Actor id"), ("kid" = String, Path, description = "Key id")),
    responses((status = 200, body = Actor), (status = 404, body = super::error::Problem),
              (status = 409, body = super::error::Problem)))]
pub async fn revoke_key(
    State(st): State<Arc<AppState>>,
    p: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<RevokeInput>, JsonRejection>,
) -> Result<Json<Actor>, ApiError> {
    let Path((id, kid)) = p?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.registry().revoke_actor_key(&id, &kid, &input)).await?,
    ))
}

/// Declare a lot ahead of labelling, so engaged actors (the overseas inspector first) can record
/// it before its labels are printed. 201 for a new lot, 200 when it exists already (declared,
/// or a batch of it was issued).
#[utoipa::path(post, path = "/api/v1/lots", tag = "custody", request_body = LotInput,
    security(("operator" = [])),
    responses((status = 201, body = LotView), (status = 200, body = LotView),
              (status = 400, body = super::error::Problem), (status = 422, body = super::error::Problem)))]
pub async fn declare_lot(
    State(st): State<Arc<AppState>>,
    body: Result<Json<LotInput>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = body?;
    let svc = st.svc.clone();
    let (v, created) = blocking(move || svc.custody().declare_lot(&input)).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(&*v)).into_response())
}

/// Recall a lot: its items scan `not_genuine` with the reason; release and sale stop.
#[utoipa::path(post, path = "/api/v1/lots/{id}/recall", tag = "custody", request_body = RecallInput,
    params(("id" = String, Path, description = "Lot id `{gtin14}.{lot}`")), security(("operator" = [])),
    responses((status = 201, body = Accepted), (status = 409, body = super::error::Problem)))]
pub async fn recall(
    State(st): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<RecallInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let Path(id) = id?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    let a = blocking(move || svc.custody().recall(&id, &input)).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// Submit a custody record signed by an actor's own key.
#[utoipa::path(post, path = "/api/v1/custody/records", tag = "custody", request_body = Submission,
    responses((status = 201, body = Accepted),
        (status = 400, description = "malformed or non-canonical statement", body = super::error::Problem),
        (status = 401, description = "unknown actor or key, bad signature, key not valid, stale", body = super::error::Problem),
        (status = 403, description = "the actor's role may not record this step", body = super::error::Problem),
        (status = 409, description = "out of order, stale prev, or replay", body = super::error::Problem),
        (status = 422, description = "unknown product or serial", body = super::error::Problem)))]
pub async fn submit(
    State(st): State<Arc<AppState>>,
    body: Result<Json<Submission>, JsonRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let Json(sub) = body?;
    let a = st.svc.custody().submit_async(sub).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// List actors (public: their keys are what verifiers check signatures with).
#[utoipa::path(get, path = "/api/v1/actors", tag = "custody", params(Page),
    responses((status = 200, body = Vec<Actor>)))]
pub async fn list_actors(
    State(st): State<Arc<AppState>>,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Vec<Actor>>, ApiError> {
    let Query(p) = q?;
    let svc = st.svc.clone();
    let after = p.after.unwrap_or_default();
    let limit = p.limit.unwrap_or(100);
    Ok(Json(
        blocking(move || svc.registry().list_actors(&after, limit)).await?,
    ))
}

/// One actor.
#[utoipa::path(get, path = "/api/v1/actors/{id}", tag = "custody",
    params(("id" = String, Path, description = "Actor id")),
    responses((status = 200, body = Actor), (status = 404, body = super::error::Problem)))]
pub async fn get_actor(
    State(st): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Actor>, ApiError> {
    let Path(id) = id?;
    let svc = st.svc.clone();
    Ok(Json(blocking(move || svc.registry().actor(&id)).await?))
}

/// A lot's custody state, head (the `prev` to sign) and a page of its records (`after`,
/// `limit`; follow `next_after`). Item-scoped records show how many items they name, never
/// which.
#[utoipa::path(get, path = "/api/v1/lots/{id}", tag = "custody",
    params(("id" = String, Path, description = "Lot id `{gtin14}.{lot}`"), LotPage),
    responses((status = 200, body = LotView), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem)))]
pub async fn get_lot(
    State(st): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<LotPage>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let Query(page) = q?;
    let svc = st.svc.clone();
    let v = blocking(move || svc.custody().lot_view(&id, page)).await?;
    Ok(Json(&*v).into_response())
}

/// The head of a lot.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LotHead {
    /// The service's log origin: what statements must name as `log`.
    pub log: String,
    /// `{gtin14}.{lot}`.
    pub lot: String,
    /// Leaf hash (hex) of the lot's latest lot-wide record, or 64 zeros for a lot with none:
    /// the `prev` to sign.
    pub head: String,
}

/// The `prev` a signer must use for the lot's next record (cheap: no record list).
#[utoipa::path(get, path = "/api/v1/lots/{id}/head", tag = "custody",
    params(("id" = String, Path, description = "Lot id `{gtin14}.{lot}`")),
    responses((status = 200, body = LotHead), (status = 400, body = super::error::Problem)))]
pub async fn get_head(
    State(st): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<LotHead>, ApiError> {
    let Path(id) = id?;
    let svc = st.svc.clone();
    let lot = id.clone();
    let log = st.svc.origin().to_string();
    let head = blocking(move || svc.custody().lot_head(&id)).await?;
    Ok(Json(LotHead { log, lot, head }))
}

fn epcis_response(doc: &serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, EPCIS_JSON_LD)],
        serde_json::to_string_pretty(doc).unwrap_or_default(),
    )
        .into_response()
}

/// The lot's history as EPCIS 2.0 JSON-LD documents, a page at a time (`after`, `limit`):
/// the next page is in the `Link: <…>; rel="next"` header, as the EPCIS 2.0 REST binding
/// pages query results. Item-scoped events name the lot class with the number of items.
#[utoipa::path(get, path = "/api/v1/lots/{id}/epcis", tag = "custody",
    params(("id" = String, Path, description = "Lot id `{gtin14}.{lot}`"), LotPage),
    responses((status = 200, description = "EPCIS 2.0 document", content_type = "application/ld+json"),
              (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)))]
pub async fn lot_epcis(
    State(st): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<LotPage>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let Query(page) = q?;
    let svc = st.svc.clone();
    let lot = id.clone();
    let p = blocking(move || svc.custody().lot_epcis(&id, page)).await?;
    let mut res = epcis_response(&p.doc);
    if let Some(next) = p.next_after {
        let limit = page
            .limit
            .map(|l| format!("&limit={l}"))
            .unwrap_or_default();
        let link = format!("</api/v1/lots/{lot}/epcis?after={next}{limit}>; rel=\"next\"");
        if let Ok(v) = header::HeaderValue::from_str(&link) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(res)
}

/// One item's history as an EPCIS 2.0 JSON-LD document, for whoever presents its code.
#[utoipa::path(get, path = "/api/v1/epcis", tag = "custody", params(super::public::CodeQuery),
    responses((status = 200, description = "EPCIS 2.0 document", content_type = "application/ld+json"),
              (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem),
              (status = 409, body = super::error::Problem)))]
pub async fn item_epcis(
    State(st): State<Arc<AppState>>,
    q: Result<Query<super::public::CodeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let code = q?.0.parse()?;
    let svc = st.svc.clone();
    Ok(epcis_response(
        &blocking(move || svc.custody().item_epcis(&code)).await?,
    ))
}

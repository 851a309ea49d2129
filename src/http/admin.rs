//! Master data, batches and print jobs: routes behind authentication and the authorization
//! table (`http::auth`, `docs/authorization.md`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use super::state::{blocking, AppState};
use crate::authz::Allowed;
use crate::service::issuance::{Batch, BatchCreated, BatchRequest};
use crate::service::master::{Enterprise, EnterpriseInput, Product, ProductInput};
use crate::service::printing::{PrintJob, PrintJobRequest, PrintJobView};

/// Codes per page when streaming a batch.
const CODES_PAGE: usize = 4096;

/// Routes of this module, behind operator authentication.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v1/enterprises",
            post(create_enterprise).get(list_enterprises),
        )
        .route(
            "/api/v1/enterprises/{id}",
            get(get_enterprise).put(update_enterprise),
        )
        .route("/api/v1/products", post(create_product).get(list_products))
        .route(
            "/api/v1/products/{gtin}",
            get(get_product).put(update_product),
        )
        .route("/api/v1/batches", post(create_batch))
        .route("/api/v1/batches/{id}", get(get_batch))
        .route("/api/v1/batches/{id}/codes", get(batch_codes))
        .route("/api/v1/batches/{id}/print-jobs", post(create_print_job))
        .route("/api/v1/print-jobs/{id}", get(get_print_job))
        .route("/api/v1/print-jobs/{id}/output", get(print_job_output))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::auth::authorize,
        ))
}

/// Paging parameters of list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Return records after this id (enterprises) or GTIN (products).
    pub after: Option<String>,
    /// At most this many records (default 100, max 1000).
    pub limit: Option<usize>,
}

const DEFAULT_LIMIT: usize = 100;

/// Register an enterprise.
#[utoipa::path(post, path = "/api/v1/enterprises", tag = "master data",
    request_body = EnterpriseInput, security(("operator" = [])),
    responses((status = 201, body = Enterprise), (status = 400, body = super::error::Problem),
              (status = 401, body = super::error::Problem), (status = 409, body = super::error::Problem)))]
pub async fn create_enterprise(
    State(st): State<Arc<AppState>>,
    body: Result<Json<EnterpriseInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Enterprise>), ApiError> {
    let Json(input) = body?;
    let svc = st.svc.clone();
    let e = blocking(move || svc.master().create_enterprise(&input)).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// List enterprises by id.
#[utoipa::path(get, path = "/api/v1/enterprises", tag = "master data", params(Page),
    security(("operator" = [])), responses((status = 200, body = Vec<Enterprise>)))]
pub async fn list_enterprises(
    State(st): State<Arc<AppState>>,
    Extension(allowed): Extension<Allowed>,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Vec<Enterprise>>, ApiError> {
    let Query(p) = q?;
    let after = match p.after.as_deref() {
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("after must be an enterprise id (integer)"))?,
        None => 0,
    };
    let svc = st.svc.clone();
    let list = blocking(move || match allowed.only() {
        // An enterprise role sees its own enterprise only.
        Some(own) if own > after && p.limit != Some(0) => Ok(vec![svc.master().enterprise(own)?]),
        Some(_) => Ok(Vec::new()),
        None => svc
            .master()
            .list_enterprises(after, p.limit.unwrap_or(DEFAULT_LIMIT)),
    })
    .await?;
    Ok(Json(list))
}

/// One enterprise.
#[utoipa::path(get, path = "/api/v1/enterprises/{id}", tag = "master data",
    params(("id" = u64, Path, description = "Enterprise id")), security(("operator" = [])),
    responses((status = 200, body = Enterprise), (status = 404, body = super::error::Problem)))]
pub async fn get_enterprise(
    State(st): State<Arc<AppState>>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<Enterprise>, ApiError> {
    let Path(id) = id?;
    let svc = st.svc.clone();
    Ok(Json(blocking(move || svc.master().enterprise(id)).await?))
}

/// Replace an enterprise's name, USCC and country.
#[utoipa::path(put, path = "/api/v1/enterprises/{id}", tag = "master data",
    params(("id" = u64, Path, description = "Enterprise id")), request_body = EnterpriseInput,
    security(("operator" = [])),
    responses((status = 200, body = Enterprise), (status = 404, body = super::error::Problem)))]
pub async fn update_enterprise(
    State(st): State<Arc<AppState>>,
    id: Result<Path<u64>, PathRejection>,
    body: Result<Json<EnterpriseInput>, JsonRejection>,
) -> Result<Json<Enterprise>, ApiError> {
    let Path(id) = id?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.master().update_enterprise(id, &input)).await?,
    ))
}

/// Register a product.
#[utoipa::path(post, path = "/api/v1/products", tag = "master data",
    request_body = ProductInput, security(("operator" = [])),
    responses((status = 201, body = Product), (status = 400, body = super::error::Problem),
              (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)))]
pub async fn create_product(
    State(st): State<Arc<AppState>>,
    body: Result<Json<ProductInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Product>), ApiError> {
    let Json(input) = body?;
    let svc = st.svc.clone();
    let p = blocking(move || svc.master().create_product(&input)).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// List products by GTIN.
#[utoipa::path(get, path = "/api/v1/products", tag = "master data", params(Page),
    security(("operator" = [])), responses((status = 200, body = Vec<Product>)))]
pub async fn list_products(
    State(st): State<Arc<AppState>>,
    Extension(allowed): Extension<Allowed>,
    q: Result<Query<Page>, QueryRejection>,
) -> Result<Json<Vec<Product>>, ApiError> {
    let Query(p) = q?;
    let svc = st.svc.clone();
    let list = blocking(move || {
        svc.master().list_products(
            allowed.only(),
            p.after.as_deref(),
            p.limit.unwrap_or(DEFAULT_LIMIT),
        )
    })
    .await?;
    Ok(Json(list))
}

/// One product.
#[utoipa::path(get, path = "/api/v1/products/{gtin}", tag = "master data",
    params(("gtin" = String, Path, description = "GTIN")), security(("operator" = [])),
    responses((status = 200, body = Product), (status = 404, body = super::error::Problem)))]
pub async fn get_product(
    State(st): State<Arc<AppState>>,
    gtin: Result<Path<String>, PathRejection>,
) -> Result<Json<Product>, ApiError> {
    let Path(gtin) = gtin?;
    let svc = st.svc.clone();
    Ok(Json(blocking(move || svc.master().product(&gtin)).await?))
}

/// Replace a product's names and enterprise.
#[utoipa::path(put, path = "/api/v1/products/{gtin}", tag = "master data",
    params(("gtin" = String, Path, description = "GTIN")), request_body = ProductInput,
    security(("operator" = [])),
    responses((status = 200, body = Product), (status = 404, body = super::error::Problem)))]
pub async fn update_product(
    State(st): State<Arc<AppState>>,
    gtin: Result<Path<String>, PathRejection>,
    body: Result<Json<ProductInput>, JsonRejection>,
) -> Result<Json<Product>, ApiError> {
    let Path(gtin) = gtin?;
    let Json(input) = body?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.master().update_product(&gtin, &input)).await?,
    ))
}

/// Issue a batch of signed codes. Requires an `Idempotency-Key` header: a retry with the same
/// key returns the same batch (and resumes one interrupted by a crash).
#[utoipa::path(post, path = "/api/v1/batches", tag = "issuance",
    request_body = BatchRequest, security(("operator" = [])),
    params(("Idempotency-Key" = String, Header, description = "Client-chosen unique key, 1–255 visible ASCII characters")),
    responses((status = 201, body = BatchCreated), (status = 400, body = super::error::Problem),
              (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)))]
pub async fn create_batch(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<BatchRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing Idempotency-Key header: choose a unique key per batch so a retry cannot issue it twice",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?
        .to_string();
    let Json(req) = body?;
    let svc = st.svc.clone();
    let (batch, replayed) =
        blocking(move || svc.issuance().issue_batch(&req, &key, &|_| {})).await?;
    let mut res = (
        StatusCode::CREATED,
        Json(BatchCreated {
            batch_id: batch.id,
            count: batch.issued,
        }),
    )
        .into_response();
    if replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// A batch and its progress (`issued` grows while it is issuing).
#[utoipa::path(get, path = "/api/v1/batches/{id}", tag = "issuance",
    params(("id" = u64, Path, description = "Batch id")), security(("operator" = [])),
    responses((status = 200, body = Batch), (status = 404, body = super::error::Problem)))]
pub async fn get_batch(
    State(st): State<Arc<AppState>>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<Batch>, ApiError> {
    let Path(id) = id?;
    let svc = st.svc.clone();
    Ok(Json(blocking(move || svc.issuance().batch(id)).await?))
}

/// Stream a complete batch's codes as JSON lines `{"serial": …, "code": …}`.
#[utoipa::path(get, path = "/api/v1/batches/{id}/codes", tag = "issuance",
    params(("id" = u64, Path, description = "Batch id")), security(("operator" = [])),
    responses((status = 200, description = "JSON lines", content_type = "application/x-ndjson"),
              (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)))]
pub async fn batch_codes(
    State(st): State<Arc<AppState>>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let svc = st.svc.clone();
    // The first page is read before answering, so a missing or incomplete batch gets its
    // proper status; later pages stream with bounded memory.
    let (batch, first) = blocking(move || {
        let b = svc.issuance().batch(id)?;
        let page = svc.issuance().batch_codes(&b, 0, CODES_PAGE)?;
        Ok((b, page))
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(4);
    let svc = st.svc.clone();
    tokio::spawn(async move {
        let mut page = first;
        let mut next = 0u64;
        loop {
            if page.is_empty() {
                break;
            }
            next += page.len() as u64;
            let mut buf = Vec::with_capacity(page.len() * 160);
            for line in &page {
                if serde_json::to_writer(&mut buf, line).is_err() {
                    return;
                }
                buf.push(b'\n');
            }
            if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                return; // client went away
            }
            if next >= batch.issued {
                break;
            }
            let (s, b) = (svc.clone(), batch.clone());
            page = match tokio::task::spawn_blocking(move || {
                s.issuance().batch_codes(&b, next, CODES_PAGE)
            })
            .await
            {
                Ok(Ok(p)) => p,
                _ => {
                    tracing::error!(batch = batch.id, at = next, "streaming codes failed");
                    return; // truncated stream: the client sees fewer lines than `issued`
                }
            };
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Create a print job for labels of a batch: the prints are recorded; labels printed before
/// need `reprint_reason`, which is logged (`traceseal/reprint/v2`).
#[utoipa::path(post, path = "/api/v1/batches/{id}/print-jobs", tag = "labels",
    params(("id" = u64, Path, description = "Batch id")), request_body = PrintJobRequest,
    security(("operator" = [])),
    responses((status = 201, body = PrintJob), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem),
              (status = 409, description = "batch incomplete, or a reprint without a reason", body = super::error::Problem),
              (status = 422, description = "a layout that would break scanning or does not fit", body = super::error::Problem)))]
pub async fn create_print_job(
    State(st): State<Arc<AppState>>,
    id: Result<Path<u64>, PathRejection>,
    body: Result<Json<PrintJobRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PrintJob>), ApiError> {
    let Path(id) = id?;
    let Json(req) = body?;
    let svc = st.svc.clone();
    let job = blocking(move || svc.printing().create_print_job(id, &req)).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// A print job and the progress of its output.
#[utoipa::path(get, path = "/api/v1/print-jobs/{id}", tag = "labels",
    params(("id" = u64, Path, description = "Print job id")), security(("operator" = [])),
    responses((status = 200, body = PrintJobView), (status = 404, body = super::error::Problem)))]
pub async fn get_print_job(
    State(st): State<Arc<AppState>>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<PrintJobView>, ApiError> {
    let Path(id) = id?;
    let svc = st.svc.clone();
    Ok(Json(blocking(move || svc.printing().print_job(id)).await?))
}

/// Query of `GET /api/v1/print-jobs/{id}/output`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutputQuery {
    /// Required from the second fetch on: fetching the output again prints every label of
    /// the job again, so it is logged as a reprint with this reason.
    pub reprint_reason: Option<String>,
}

/// The job's labels, streamed a chunk at a time: ZPL text (one `^XA … ^XZ` per label), a PDF
/// (pages written as they fill), or a ustar archive of one PNG/SVG per label. Progress is
/// visible at `GET /api/v1/print-jobs/{id}` (`rendered`).
#[utoipa::path(get, path = "/api/v1/print-jobs/{id}/output", tag = "labels",
    params(("id" = u64, Path, description = "Print job id"), OutputQuery), security(("operator" = [])),
    responses((status = 200, description = "the labels (text/plain ZPL, application/pdf, or application/x-tar of PNG/SVG files)"),
              (status = 404, body = super::error::Problem),
              (status = 409, description = "fetched before: a reprint_reason is needed", body = super::error::Problem)))]
pub async fn print_job_output(
    State(st): State<Arc<AppState>>,
    id: Result<Path<u64>, PathRejection>,
    q: Result<Query<OutputQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let Query(q) = q?;
    let svc = st.svc.clone();
    // The first chunk is rendered before answering, so errors get their status.
    let (mut output, first, progress) = blocking(move || {
        let mut output = svc
            .printing()
            .start_job_output(id, q.reprint_reason.as_deref())?;
        let progress = svc.printing().print_progress(id)?;
        let first = output.next_chunk(svc.printing())?;
        Ok((output, first, progress))
    })
    .await?;
    let format = output.job().format;
    // An error item aborts the chunked body, so a client sees a broken download rather than a
    // short file that looks complete.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let svc = st.svc.clone();
    tokio::spawn(async move {
        let mut chunk = first;
        while let Some((bytes, n)) = chunk {
            progress.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            if tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                return; // client went away
            }
            let s = svc.clone();
            let job_id = output.job().id;
            match tokio::task::spawn_blocking(move || {
                let next = output.next_chunk(s.printing());
                (output, next)
            })
            .await
            {
                Ok((o, Ok(next))) => {
                    output = o;
                    chunk = next;
                }
                Ok((_, Err(e))) => {
                    tracing::error!(job = job_id, error = %e, "rendering labels failed");
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
                Err(e) => {
                    tracing::error!(job = job_id, error = %e, "rendering labels failed");
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"print-job-{id}.{}\"",
                    format.extension()
                ),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

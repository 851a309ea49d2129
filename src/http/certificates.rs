//! Published certificates (`docs/actor-page.md`, Published certificates):
//! - `PUT /api/v1/certificates/{sha256}?record=N`: a signed actor request by the signer of
//!   origin attestation `N`; the body is the file (PDF, PNG or JPEG, at most 5 MiB). The
//!   signature is checked **before** the body is read, and the body is read only up to the cap.
//! - `GET /certificates/{sha256}`: the file, to anyone (it is content-addressed by the hash
//!   the signed record names; the scan page checks it in the browser).
//! - `GET /api/v1/certificates/{sha256}`: which records it was published under.
//!
//! All three are rate-limited per client address like the public API.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};

use super::error::{body_timed_out, ApiError};
use super::state::{blocking, AppState};
use crate::service::certificates::{
    parse_sha256, CertificateFile, FileType, Publication, Upload, MAX_CERTIFICATE_BYTES,
};
use crate::service::errors::CertificateError;
use crate::service::{now_unix, ServiceError};

/// The routes. Merged after the application's general body limit: this router reads its
/// bodies itself, after authenticating, up to [`MAX_CERTIFICATE_BYTES`].
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v1/certificates/{sha256}",
            put(publish).get(publications),
        )
        .route("/certificates/{sha256}", get(file))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
}

/// The record a file is published under.
#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct RecordQuery {
    /// Leaf index of the origin attestation that names the file among its documents.
    pub record: u64,
}

/// `PUT /api/v1/certificates/{sha256}?record=N`: publishes a document of origin attestation
/// `N`, by its signer.
#[utoipa::path(put, path = "/api/v1/certificates/{sha256}", tag = "custody",
    params(("sha256" = String, Path, description = "SHA-256 of the file, 64 lowercase hex, as in the record's documents"), RecordQuery),
    request_body(content = Vec<u8>, description = "The file: PDF, PNG or JPEG (by its first bytes), at most 5 MiB", content_type = "application/octet-stream"),
    responses((status = 201, body = Publication, description = "published"),
        (status = 200, body = Publication, description = "already published under this record"),
        (status = 401, description = "not a valid signed actor request"),
        (status = 403, description = "`certificate.not_your_record`"),
        (status = 404, description = "`certificate.no_such_record`"),
        (status = 413, description = "`certificate.too_large`"),
        (status = 415, description = "`certificate.unsupported_type`"),
        (status = 422, description = "`certificate.not_an_attestation`, `certificate.not_in_record`, `certificate.hash_mismatch`")))]
pub async fn publish(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
    sha: Result<Path<String>, PathRejection>,
    q: Result<Query<RecordQuery>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let actor = super::actor::signed_actor(&st, &headers, &method, &uri).await?;
    let Path(sha) = sha?;
    let Query(q) = q?;
    let bytes = read_capped(&headers, body).await?;
    let svc = st.svc.clone();
    let p = blocking(move || {
        svc.certificates().publish(Upload {
            actor: &actor.id,
            sha256: &sha,
            record: q.record,
            body: &bytes,
            now: now_unix(),
        })
    })
    .await?;
    let status = if p.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = HeaderValue::from_str(&p.publication.url).ok();
    let mut res = (status, Json(p.publication)).into_response();
    if let Some(l) = location {
        res.headers_mut().insert(header::LOCATION, l);
    }
    Ok(res)
}

fn too_large(size: u64) -> ApiError {
    ServiceError::from(CertificateError::TooLarge {
        size,
        max: MAX_CERTIFICATE_BYTES as u64,
    })
    .into()
}

/// The body, refused unread when its announced length is over the cap, and cut off (413) as
/// soon as it passes the cap.
async fn read_capped(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = announced.filter(|n| *n > MAX_CERTIFICATE_BYTES as u64) {
        return Err(too_large(n));
    }
    axum::body::to_bytes(body, MAX_CERTIFICATE_BYTES)
        .await
        .map_err(|e| {
            let inner = e.into_inner();
            if let Some(t) = body_timed_out(inner.as_ref()) {
                return ApiError::new(StatusCode::REQUEST_TIMEOUT, t.to_string());
            }
            if inner.to_string().contains("length limit") {
                return too_large(MAX_CERTIFICATE_BYTES as u64 + 1);
            }
            ApiError::bad_request(format!("the body could not be read: {inner}"))
        })
}

/// `GET /api/v1/certificates/{sha256}`: the records the file was published under.
#[utoipa::path(get, path = "/api/v1/certificates/{sha256}", tag = "custody",
    params(("sha256" = String, Path, description = "SHA-256 of the file, 64 lowercase hex")),
    responses((status = 200, body = Vec<Publication>), (status = 400, description = "`certificate.bad_hash`"),
        (status = 404, description = "`certificate.not_found`")))]
pub async fn publications(
    State(st): State<Arc<AppState>>,
    sha: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<Publication>>, ApiError> {
    let Path(sha) = sha?;
    let svc = st.svc.clone();
    let list = blocking(move || {
        let list = svc.certificates().publications(&sha)?;
        if list.is_empty() {
            return Err(CertificateError::NotFound { sha256: sha }.into());
        }
        Ok(list)
    })
    .await?;
    Ok(Json(list))
}

/// `GET /certificates/{sha256}`: the published file. Immutable (content-addressed), typed by
/// its first bytes, never sniffed; images are shown under a sandbox CSP, PDFs are downloads
/// (no document of theirs runs in our origin).
#[utoipa::path(get, path = "/certificates/{sha256}", tag = "custody",
    params(("sha256" = String, Path, description = "SHA-256 of the file, 64 lowercase hex")),
    responses((status = 200, description = "the file (application/pdf, image/png or image/jpeg)"),
        (status = 304, description = "not modified (If-None-Match)"),
        (status = 400, description = "`certificate.bad_hash`"), (status = 404, description = "`certificate.not_found`")))]
pub async fn file(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    sha: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(sha) = sha?;
    parse_sha256(&sha).map_err(ServiceError::from)?;
    let etag = format!("\"{sha}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let svc = st.svc.clone();
    let sha2 = sha.clone();
    if fresh {
        // The client holds these bytes already (the ETag is their hash): no file is read.
        let published = blocking(move || svc.certificates().published(&[&sha2])).await?;
        if published[0] {
            let mut res = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(v) = HeaderValue::from_str(&etag) {
                res.headers_mut().insert(header::ETAG, v);
            }
            return Ok(res);
        }
        return Err(ServiceError::from(CertificateError::NotFound { sha256: sha }).into());
    }
    let CertificateFile { file_type, bytes } =
        blocking(move || svc.certificates().file(&sha2)).await?;
    let mut res = (StatusCode::OK, bytes).into_response();
    file_headers(res.headers_mut(), file_type, &sha, &etag);
    Ok(res)
}

fn file_headers(h: &mut HeaderMap, file_type: FileType, sha: &str, etag: &str) {
    let ext = file_type.extension();
    let short = &sha[..16];
    let (disposition, csp) = match file_type {
        FileType::Pdf => (
            format!("attachment; filename=\"certificate-{short}.{ext}\""),
            "default-src 'none'; sandbox",
        ),
        FileType::Png | FileType::Jpeg => (
            format!("inline; filename=\"certificate-{short}.{ext}\""),
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
        ),
    };
    let pairs = [
        (header::CONTENT_TYPE, file_type.media_type().to_string()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CONTENT_SECURITY_POLICY, csp.to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        (header::REFERRER_POLICY, "no-referrer".to_string()),
        (
            header::CACHE_CONTROL,
            "public, max-age=31536000, immutable".to_string(),
        ),
        (header::ETAG, etag.to_string()),
    ];
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
}

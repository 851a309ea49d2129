//! Public endpoints, rate-limited per client address: the scan API (`/api/v1/verify` and the
//! code URI itself), the log and the keys.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use super::{blocking, AppState};
use crate::code::Code;
use crate::service::types::{
    ConsistencyProofView, InclusionProofView, KeySet, LeafView, Verdict, VerdictKind,
};
use crate::service::ServiceError;

/// Routes of this module, behind the rate limiter.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/verify", get(verify))
        .route("/01/{gtin}/10/{lot}/21/{serial}", get(code_uri))
        .route("/api/v1/keys", get(keys))
        .route("/api/v1/log/checkpoint", get(checkpoint))
        .route("/api/v1/log/leaves/{index}", get(leaf))
        .route("/api/v1/log/proof/inclusion", get(inclusion))
        .route("/api/v1/log/proof/consistency", get(consistency))
        .route("/api/v1/items/{gtin}/{serial}/bundle", get(bundle))
        .route_layer(middleware::from_fn_with_state(state, rate_limit))
}

pub(super) async fn rate_limit(
    State(st): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(ip) = st.client_ip(&req) {
        if let Err(wait) = st.limiter.check(ip, Instant::now()) {
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many requests from {ip}; retry in {wait} s"),
            )
            .retry_after(wait)
            .into_response();
        }
    }
    next.run(req).await
}

/// Query of `GET /api/v1/verify`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// The full code URI from the label (URL-encoded).
    pub code: String,
}

async fn run_scan(st: &Arc<AppState>, code: Code, req_ip: Option<std::net::IpAddr>) -> Verdict {
    let svc = st.svc.clone();
    let mut v = match tokio::task::spawn_blocking(move || {
        svc.scan(&code, req_ip, time::OffsetDateTime::now_utc())
    })
    .await
    {
        Ok(v) => v,
        Err(_) => {
            return Verdict::cannot_verify_now("the verification worker failed; please try again")
        }
    };
    if let Some(log) = v.log.as_ref() {
        v.anchor = st.anchor.view(log.leaf_index).await;
    }
    v
}

fn verdict_json(v: Verdict) -> Response {
    let status = if v.verdict == VerdictKind::CannotVerifyNow {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut res = (status, Json(v)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(5u32));
    }
    res
}

/// Verify a code: the verdict, the item, its product, scan history and log proof.
///
/// 200 for genuine, genuine_with_warning and not_genuine; 503 for cannot_verify_now (our
/// fault, never reported as fake); 400 when the code is not a well-formed traceseal code.
#[utoipa::path(get, path = "/api/v1/verify", tag = "scan", params(VerifyQuery),
    responses((status = 200, body = Verdict), (status = 400, body = super::error::Problem),
              (status = 429, body = super::error::Problem), (status = 503, body = Verdict)))]
pub async fn verify(
    State(st): State<Arc<AppState>>,
    q: Result<Query<VerifyQuery>, QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let code = Code::parse(&q.code).map_err(|e| ApiError::bad_request(format!("code: {e}")))?;
    let ip = st.client_ip(&req);
    Ok(verdict_json(run_scan(&st, code, ip).await))
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

/// The code URI itself: JSON verdict with `Accept: application/json`, otherwise a page.
#[utoipa::path(get, path = "/01/{gtin}/10/{lot}/21/{serial}", tag = "scan",
    params(("gtin" = String, Path, description = "GTIN-14"), ("lot" = String, Path, description = "Lot"),
           ("serial" = String, Path, description = "Serial"),
           ("k" = String, Query, description = "Issuer key id"), ("s" = String, Query, description = "Signature"),
           ("17" = Option<String>, Query, description = "Expiry YYMMDD")),
    responses((status = 200, body = Verdict), (status = 400, body = super::error::Problem),
              (status = 503, body = Verdict)))]
pub async fn code_uri(State(st): State<Arc<AppState>>, uri: Uri, req: Request) -> Response {
    let json = wants_json(req.headers());
    let full = format!(
        "https://{}{}",
        st.config.public_host,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("")
    );
    let code = match Code::parse(&full) {
        Ok(c) => c,
        Err(e) => {
            return if json {
                ApiError::bad_request(format!("code: {e}")).into_response()
            } else {
                (StatusCode::BAD_REQUEST, Html(page::invalid(&e.to_string()))).into_response()
            }
        }
    };
    let ip = st.client_ip(&req);
    let v = run_scan(&st, code, ip).await;
    if json {
        verdict_json(v)
    } else {
        let status = if v.verdict == VerdictKind::CannotVerifyNow {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        (status, Html(page::verdict(&v))).into_response()
    }
}

/// Every issuer and log public key.
#[utoipa::path(get, path = "/api/v1/keys", tag = "log", responses((status = 200, body = KeySet)))]
pub async fn keys(State(st): State<Arc<AppState>>) -> Result<Json<KeySet>, ApiError> {
    let svc = st.svc.clone();
    Ok(Json(blocking(move || svc.keys()).await?))
}

/// The latest signed checkpoint (C2SP signed note).
#[utoipa::path(get, path = "/api/v1/log/checkpoint", tag = "log",
    responses((status = 200, description = "C2SP tlog-checkpoint signed note", content_type = "text/plain")))]
pub async fn checkpoint(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let cp = st
        .svc
        .latest_checkpoint()?
        .ok_or_else(|| ServiceError::Unavailable("no checkpoint signed yet".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        cp.note,
    )
        .into_response())
}

/// One leaf's data.
#[utoipa::path(get, path = "/api/v1/log/leaves/{index}", tag = "log",
    params(("index" = u64, Path, description = "Leaf index")),
    responses((status = 200, body = LeafView), (status = 404, body = super::error::Problem)))]
pub async fn leaf(
    State(st): State<Arc<AppState>>,
    index: Result<Path<u64>, PathRejection>,
) -> Result<Json<LeafView>, ApiError> {
    let Path(index) = index?;
    let svc = st.svc.clone();
    Ok(Json(blocking(move || svc.leaf(index)).await?))
}

/// Query of the inclusion proof endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// Leaf index.
    pub index: u64,
    /// Tree size (at most the log size).
    pub size: u64,
}

/// RFC 9162 inclusion proof.
#[utoipa::path(get, path = "/api/v1/log/proof/inclusion", tag = "log", params(InclusionQuery),
    responses((status = 200, body = InclusionProofView), (status = 400, body = super::error::Problem)))]
pub async fn inclusion(
    State(st): State<Arc<AppState>>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Json<InclusionProofView>, ApiError> {
    let Query(q) = q?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.inclusion_proof_view(q.index, q.size)).await?,
    ))
}

/// Query of the consistency proof endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// Older tree size.
    pub from: u64,
    /// Newer tree size (at most the log size).
    pub to: u64,
}

/// RFC 9162 consistency proof.
#[utoipa::path(get, path = "/api/v1/log/proof/consistency", tag = "log", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProofView), (status = 400, body = super::error::Problem)))]
pub async fn consistency(
    State(st): State<Arc<AppState>>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<ConsistencyProofView>, ApiError> {
    let Query(q) = q?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.consistency_proof_view(q.from, q.to)).await?,
    ))
}

/// The self-contained proof bundle of an item: its records with inclusion proofs against the
/// anchored checkpoint (or the latest one before anchoring), the checkpoint notes, a
/// consistency proof to the latest checkpoint, the anchor (chain id, contract, transaction,
/// block) and the public keys. Check it offline with `traceseal verify-bundle`.
#[utoipa::path(get, path = "/api/v1/items/{gtin}/{serial}/bundle", tag = "log",
    params(("gtin" = String, Path, description = "GTIN (8, 12, 13 or 14 digits)"),
           ("serial" = String, Path, description = "Serial (GS1 AI 21)")),
    responses((status = 200, body = crate::bundle::Bundle), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)))]
pub async fn bundle(
    State(st): State<Arc<AppState>>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((gtin, serial)) = p?;
    let svc = st.svc.clone();
    let index = blocking(move || svc.item_leaf(&gtin, &serial)).await?;
    let anchoring = st.anchor.bundle_anchoring(index).await;
    let svc = st.svc.clone();
    let b = blocking(move || svc.bundle(index, anchoring)).await?;
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(b)).into_response())
}

/// The minimal bilingual HTML answer for browsers (the full consumer page is a later issue).
mod page {
    use crate::service::types::{Verdict, VerdictKind};

    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    }

    fn shell(title: &str, body: &str) -> String {
        format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>{}</title><style>body{{font-family:system-ui,sans-serif;margin:1rem;max-width:40rem}}\
             .v{{padding:1rem;border-radius:.5rem;font-size:1.3rem}}.ok{{background:#e6f4ea;color:#0b5323}}\
             .warn{{background:#fff4e5;color:#6b3e00}}.bad{{background:#fde7e9;color:#8a1020}}\
             .na{{background:#eceff1;color:#263238}}dt{{font-weight:600}}</style></head><body>{}</body></html>",
            esc(title),
            body
        )
    }

    /// Page for a verdict.
    pub fn verdict(v: &Verdict) -> String {
        let (class, zh, en) = match v.verdict {
            VerdictKind::Genuine => ("ok", "正品", "Genuine"),
            VerdictKind::GenuineWithWarning => {
                ("warn", "正品，但请注意", "Genuine, with a warning")
            }
            VerdictKind::NotGenuine => ("bad", "非正品", "Not genuine"),
            VerdictKind::CannotVerifyNow => ("na", "暂时无法验证", "Cannot verify now"),
        };
        let mut body = format!("<main><h1 class=\"v {class}\" role=\"status\">{zh} · {en}</h1>");
        if !v.reasons.is_empty() {
            body.push_str("<ul>");
            for r in &v.reasons {
                body.push_str(&format!("<li>{}</li>", esc(&r.message)));
            }
            body.push_str("</ul>");
        }
        body.push_str("<dl>");
        if let Some(p) = &v.product {
            body.push_str(&format!(
                "<dt>产品 Product</dt><dd>{} / {}</dd>",
                esc(&p.name_zh),
                esc(&p.name_en)
            ));
        }
        if let Some(i) = &v.item {
            body.push_str(&format!(
                "<dt>GTIN</dt><dd>{}</dd><dt>批号 Lot</dt><dd>{}</dd><dt>序列号 Serial</dt><dd>{}</dd>",
                esc(&i.gtin),
                esc(&i.lot),
                esc(&i.serial)
            ));
            if let Some(e) = &i.expiry {
                body.push_str(&format!("<dt>有效期 Expiry</dt><dd>{}</dd>", esc(e)));
            }
        }
        if let Some(s) = &v.scans {
            body.push_str(&format!(
                "<dt>扫码次数 Scans</dt><dd>{} (首次 first: {})</dd>",
                s.count,
                esc(&s.first_at)
            ));
        }
        body.push_str("</dl></main>");
        shell(&format!("{zh} · {en}"), &body)
    }

    /// Page for a code that is not well-formed.
    pub fn invalid(reason: &str) -> String {
        shell(
            "无效的码 · Invalid code",
            &format!(
                "<main><h1 class=\"v bad\">无效的码 · Not a valid code</h1><p>{}</p></main>",
                esc(reason)
            ),
        )
    }
}

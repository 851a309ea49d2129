//! Public endpoints, rate-limited per client address: the scan API (`/api/v1/verify` and the
//! code URI itself), the log and the keys.

use std::sync::Arc;

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
use super::page;
use super::state::{blocking, AppState};
use crate::code::Code;
use crate::service::errors::LogError;
use crate::service::log::{ConsistencyProofView, InclusionProofView, LeafView};
use crate::service::setup::KeySet;
use crate::service::telemetry::VerdictKind;
use crate::service::verdict::Verdict;
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
        .route("/api/v1/bundle", get(bundle))
        .route("/assets/{name}", get(asset))
        .route_layer(middleware::from_fn_with_state(state, rate_limit))
}

pub(super) async fn rate_limit(
    State(st): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(ip) = st.client_ip(&req) {
        if let Err(wait) = st.limiter.check(ip) {
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

async fn run_scan(st: &Arc<AppState>, code: Code, ip: Option<std::net::IpAddr>) -> Verdict {
    st.verifier
        .scan(code, ip, time::OffsetDateTime::now_utc())
        .await
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

/// Removes every `lang=` pair from a query (the page's language switch adds one after the
/// signed code); returns the rest and the language asked for.
fn split_lang(query: &str) -> (String, Option<String>) {
    let mut lang = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| match p.strip_prefix("lang=") {
            Some(l) => {
                lang = Some(l.to_string());
                false
            }
            None => true,
        })
        .collect();
    (rest.join("&"), lang)
}

/// The JSON-RPC URL the page's script may read the chain with. A local URL (loopback or
/// private: the development chain, or a misconfigured public one) is given only under
/// `serve --dev`: a consumer's browser would otherwise call a node on the consumer's own
/// machine or network.
pub(crate) fn page_rpc(st: &AppState) -> Option<String> {
    let c = &st.config.chain;
    let url = if !c.enabled {
        None
    } else if !c.public_rpc_url.is_empty() {
        Some(c.public_rpc_url.clone())
    } else if c.dev() {
        Some(format!("http://127.0.0.1:{}", c.dev_port))
    } else {
        None
    };
    url.filter(|u| c.dev_mode || !is_local_url(u))
}

/// Whether a URL points at the consumer's own machine or network: a loopback, private,
/// link-local or unspecified address, `localhost`, or a URL that does not parse. Hosts are
/// read as browsers read them (WHATWG URL: `127.1`, `0x7f.0.0.1` and `2130706433` are
/// 127.0.0.1). A public name that resolves to such an address cannot be told from here.
pub fn is_local_url(url: &str) -> bool {
    use std::net::IpAddr;
    let local = |ip: IpAddr| match super::ratelimit::canonical_ip(ip) {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link-local
        }
    };
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(v4)) => local(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => local(IpAddr::V6(v6)),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => true,
    }
}

/// The code URI itself: the scan page for browsers, the JSON verdict with
/// `Accept: application/json`.
#[utoipa::path(get, path = "/01/{gtin}/10/{lot}/21/{serial}", tag = "scan",
    params(("gtin" = String, Path, description = "GTIN-14"), ("lot" = String, Path, description = "Lot"),
           ("serial" = String, Path, description = "Serial"),
           ("k" = String, Query, description = "Issuer key id"), ("s" = String, Query, description = "Signature"),
           ("17" = Option<String>, Query, description = "Expiry YYMMDD"),
           ("lang" = Option<String>, Query, description = "Page language: zh (default) or en")),
    responses((status = 200, body = Verdict, description = "JSON verdict, or the HTML scan page"),
              (status = 400, body = super::error::Problem), (status = 503, body = Verdict)))]
pub async fn code_uri(State(st): State<Arc<AppState>>, uri: Uri, req: Request) -> Response {
    let json = wants_json(req.headers());
    let (query, lang_q) = split_lang(uri.query().unwrap_or(""));
    let path_query = if query.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{query}", uri.path())
    };
    let full = format!("https://{}{}", st.config.public_host, path_query);
    let lang = page::Lang::from_headers(req.headers(), lang_q.as_deref());
    let rpc = page_rpc(&st);
    let html = |status: StatusCode, body: String| {
        let mut res = (status, Html(body)).into_response();
        for (k, v) in page::security_headers(rpc.as_deref()) {
            res.headers_mut().insert(k, v);
        }
        res
    };
    let code = match Code::parse(&full) {
        Ok(c) => c,
        Err(e) => {
            return if json {
                ApiError::bad_request(format!("code: {e}")).into_response()
            } else {
                html(
                    StatusCode::BAD_REQUEST,
                    page::invalid(&e.to_string(), lang, &path_query),
                )
            }
        }
    };
    let ip = st.client_ip(&req);
    let code_text = code.as_str().to_string();
    let v = run_scan(&st, code, ip).await;
    if json {
        return verdict_json(v);
    }
    let status = if v.verdict == VerdictKind::CannotVerifyNow {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = page::verdict(
        &v,
        &page::PageCtx {
            code: &code_text,
            path_query: &path_query,
            lang,
            rpc: rpc.as_deref(),
        },
    );
    let mut res = html(status, body);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(5u32));
    }
    res
}

/// The scan page's stylesheet and script, by content-hashed name (cached for a year).
pub async fn asset(p: Result<Path<String>, PathRejection>) -> Response {
    let Ok(Path(name)) = p else {
        return ApiError::new(StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    serve_asset(page::assets(), &name)
}

/// The asset `name` of `assets`, cached for a year (its name changes with its content).
pub fn serve_asset(assets: &[page::Asset], name: &str) -> Response {
    match assets.iter().find(|a| a.name == name) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            a.body,
        )
            .into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, format!("no asset {name:?}")).into_response(),
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
        .log()
        .latest_checkpoint()?
        .ok_or(ServiceError::from(LogError::NoCheckpoint))?;
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
    Ok(Json(blocking(move || svc.log().leaf(index)).await?))
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
        blocking(move || svc.log().inclusion_proof_view(q.index, q.size)).await?,
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
        blocking(move || svc.log().consistency_proof_view(q.from, q.to)).await?,
    ))
}

/// Query of the endpoints that answer about one item to whoever presents its code.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
    /// The full code URI from the label (URL-encoded).
    pub code: String,
}

impl CodeQuery {
    /// The code, or a 400 saying what is wrong with it.
    pub fn parse(&self) -> Result<Code, ApiError> {
        Code::parse(&self.code).map_err(|e| ApiError::bad_request(format!("code: {e}")))
    }
}

/// The self-contained proof bundle of an item, for whoever presents its code: its records with
/// inclusion proofs against the anchored checkpoint (or the latest one before anchoring), the
/// checkpoint notes, a consistency proof to the latest checkpoint, the anchor (chain id,
/// contract, transaction, block) and the public keys. Check it offline with
/// `traceseal verify-bundle`. A code we did not issue is 404, whatever its fault.
#[utoipa::path(get, path = "/api/v1/bundle", tag = "log", params(CodeQuery),
    responses((status = 200, body = crate::bundle::Bundle), (status = 400, body = super::error::Problem),
              (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)))]
pub async fn bundle(
    State(st): State<Arc<AppState>>,
    q: Result<Query<CodeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let code = q?.0.parse()?;
    let b = st.verifier.bundle(code).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(b)).into_response())
}

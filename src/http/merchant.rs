//! The merchant integrity page (`GET /m/{uscc}`, 诚信二维码) and its A4 poster
//! (`GET /m/{uscc}/poster.pdf`): public, rate-limited, in Chinese or English.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::error::ApiError;
use super::page::{self, Lang};
use super::state::{blocking, AppState};

/// Public routes (behind the general rate limiter).
pub fn public_router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/m/{uscc}", get(merchant))
        .route("/m/{uscc}/poster.pdf", get(poster))
        .route("/credit-reports/verify", get(report_check))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
}

/// `?lang=` of the page.
#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    #[serde(default)]
    lang: Option<String>,
}

/// `GET /m/{uscc}`: the integrity page, or a page saying why there is none.
async fn merchant(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<LangQuery>, QueryRejection>,
) -> Response {
    let uscc = p.map(|Path(u)| u).unwrap_or_default();
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let lang = Lang::from_headers(&headers, q.lang.as_deref());
    let path_query = format!("/m/{uscc}");
    let rpc = super::public::page_rpc(&st);
    let svc = st.svc.clone();
    let u = uscc.clone();
    let (status, body) = match blocking(move || svc.merchant(&u)).await {
        Ok(m) => (
            StatusCode::OK,
            page::merchant_page(&m, lang, &path_query, rpc.as_deref()),
        ),
        Err(e) => {
            let detail = if e.status.is_server_error() {
                String::new()
            } else {
                e.detail
            };
            let body = page::merchant_error(lang, e.status.as_u16(), &detail, &path_query);
            (e.status, body)
        }
    };
    let mut res = (status, Html(body)).into_response();
    for (k, v) in page::security_headers(rpc.as_deref()) {
        res.headers_mut().insert(k, v);
    }
    res
}

/// `GET /credit-reports/verify`: the page that checks a credit report file in the browser.
async fn report_check(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<LangQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let lang = Lang::from_headers(&headers, q.lang.as_deref());
    let rpc = super::public::page_rpc(&st);
    let mut res = Html(page::report_check_page(lang, rpc.as_deref())).into_response();
    for (k, v) in page::security_headers(rpc.as_deref()) {
        res.headers_mut().insert(k, v);
    }
    res
}

/// `GET /m/{uscc}/poster.pdf`: the A4 poster with the page's QR code.
async fn poster(
    State(st): State<Arc<AppState>>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(uscc) = p?;
    let svc = st.svc.clone();
    let u = uscc.clone();
    let pdf = blocking(move || svc.merchant_poster(&u)).await?;
    let name = format!("inline; filename=\"traceseal-poster-{uscc}.pdf\"");
    let mut res = pdf.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

//! The actor page (`/actor/`) and its signed reads: where inspectors, carriers, brokers,
//! warehouses and shops record custody from a browser, signing each record with a
//! non-extractable WebCrypto Ed25519 key kept in the browser's IndexedDB (`actor.js`).
//!
//! The page is one shell (in Chinese, English or French, from `?lang=`, the `ts_lang` cookie
//! or `Accept-Language`, as the scan page chooses; `lang.rs`) plus our own script and stylesheet under content-hashed names, under a
//! CSP with no inline script or style and no origin but ours. Its reads are signed actor
//! requests (`crate::custody::request`); its records go to `POST /api/v1/custody/records`
//! like any client's. See `docs/actor-page.md`.

use std::sync::{Arc, OnceLock};

use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::page::{esc, Asset};
use super::state::{blocking, AppState};
use crate::service::custody::{Actor, DeskLot, DeskLots, DeskMe};
use crate::service::now_unix;

mod lang;
use lang::PageLang;

/// The page's stylesheet.
pub const CSS: &str = include_str!("actor.css");
/// The page's script.
pub const JS: &str = include_str!("actor.js");

/// The page's assets: `[stylesheet, script]`.
pub fn assets() -> &'static [Asset; 2] {
    static A: OnceLock<[Asset; 2]> = OnceLock::new();
    A.get_or_init(|| {
        [
            Asset {
                name: super::page::hashed_name("actor", "css", CSS),
                content_type: "text/css; charset=utf-8",
                body: CSS,
            },
            Asset {
                name: super::page::hashed_name("actor", "js", JS),
                content_type: "text/javascript; charset=utf-8",
                body: JS,
            },
        ]
    })
}

/// The page and its signed reads (rate-limited per client address like the public API).
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/actor", get(|| async { Redirect::permanent("/actor/") }))
        .route("/actor/", get(page))
        .route("/actor/assets/{name}", get(asset))
        .route("/api/v1/actor/me", get(me))
        .route("/api/v1/actor/lots", get(lots))
        .route("/api/v1/actor/lots/{id}", get(lot))
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
}

#[derive(serde::Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// The page's headers: a CSP with our own script and style only, the camera for this origin
/// only, nothing cached, no referrer, no framing.
fn page_headers() -> [(header::HeaderName, HeaderValue); 6] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                 media-src 'self' blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
                 frame-ancestors 'none'",
            ),
        ),
        (
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"),
        ),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// `GET /actor/assets/{name}`: the page's script and stylesheet by content-hashed name.
async fn asset(p: Result<Path<String>, PathRejection>) -> Response {
    match p {
        Ok(Path(name)) => super::public::serve_asset(assets(), &name),
        Err(_) => ApiError::new(StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// `GET /actor/`: the shell the script builds the page in.
async fn page(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<LangQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let lang = PageLang::from_headers(&headers, q.as_ref().ok().and_then(|q| q.lang.as_deref()));
    let html = shell(lang, st.svc.origin());
    let mut res = (StatusCode::OK, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    for (k, v) in page_headers() {
        h.insert(k, v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    res
}

fn shell(lang: PageLang, log: &str) -> String {
    let [css, js] = assets();
    let (tz, te, tf) = (
        "traceseal 供应链记录",
        "traceseal custody records",
        "traceseal registres de traçabilité",
    );
    let title = match lang {
        PageLang::Zh => tz,
        PageLang::En => te,
        PageLang::Fr => tf,
    };
    format!(
        "<!doctype html><html lang=\"{hl}\" data-log=\"{log}\" data-ready=\"0\" \
         data-title-zh=\"{tz}\" data-title-en=\"{te}\" data-title-fr=\"{tf}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"/actor/assets/{css}\"></head><body>\
         <header><span class=\"brand\">traceseal</span></header>\
         <main id=\"app\"><noscript><p lang=\"zh-CN\">本页面需要启用 JavaScript：记录在您的浏览器中签名。</p>\
         <p lang=\"en\">This page needs JavaScript: records are signed in your browser.</p>\
         <p lang=\"fr\">Cette page a besoin de JavaScript : les registres sont signés dans votre navigateur.</p></noscript></main>\
         <script type=\"module\" src=\"/actor/assets/{js}\"></script></body></html>",
        hl = lang.html(),
        log = esc(log),
        css = css.name,
        js = js.name,
    )
}

/// Authenticates a signed actor request (on a worker thread: a key lookup and a signature).
pub(super) async fn signed_actor(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    method: &Method,
    uri: &OriginalUri,
) -> Result<Actor, ApiError> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let path = uri
        .0
        .path_and_query()
        .map_or_else(|| uri.0.path().to_string(), |p| p.as_str().to_string());
    let method = method.as_str().to_string();
    let svc = st.svc.clone();
    blocking(move || {
        svc.custody()
            .authenticate_request(auth.as_deref(), &method, &path, now_unix())
    })
    .await
}

/// `GET /api/v1/actor/me`: the signing actor as registered, the log origin, the server clock.
#[utoipa::path(get, path = "/api/v1/actor/me", tag = "custody",
    responses((status = 200, body = DeskMe), (status = 401, description = "not a valid signed actor request")))]
pub async fn me(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
) -> Result<Json<DeskMe>, ApiError> {
    let actor = signed_actor(&st, &headers, &method, &uri).await?;
    Ok(Json(st.svc.custody().desk_me(actor, now_unix())))
}

/// `GET /api/v1/actor/lots`: the lots of the products the signing actor is engaged for, with
/// the steps its role may record next.
#[utoipa::path(get, path = "/api/v1/actor/lots", tag = "custody",
    responses((status = 200, body = DeskLots), (status = 401, description = "not a valid signed actor request")))]
pub async fn lots(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
) -> Result<Json<DeskLots>, ApiError> {
    let actor = signed_actor(&st, &headers, &method, &uri).await?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.custody().desk_lots(&actor, now_unix())).await?,
    ))
}

/// `GET /api/v1/actor/lots/{id}`: one lot, whether the signing actor is engaged for it, and
/// the steps its role may record next.
#[utoipa::path(get, path = "/api/v1/actor/lots/{id}", tag = "custody",
    params(("id" = String, Path, description = "{gtin14}.{lot}")),
    responses((status = 200, body = DeskLot), (status = 400), (status = 401), (status = 404)))]
pub async fn lot(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<DeskLot>, ApiError> {
    let actor = signed_actor(&st, &headers, &method, &uri).await?;
    let Path(id) = id.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let svc = st.svc.clone();
    Ok(Json(
        blocking(move || svc.custody().desk_lot(&actor, &id, now_unix())).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_escapes_the_log_and_names_hashed_assets() {
        let html = shell(PageLang::En, "a\"b/log");
        assert!(html.contains("data-log=\"a&quot;b/log\""), "{html}");
        assert!(html.contains("<html lang=\"en\""));
        let [css, js] = assets();
        assert!(css.name.starts_with("actor-") && css.name.ends_with(".css"));
        assert!(html.contains(&format!("/actor/assets/{}", js.name)));
        assert!(!html.contains("<script>"), "no inline script");
    }
}

//! What every console page shares: the stylesheet, texts in the page's language, the signed-in
//! viewer and what its role may see, the answers (HTML with the console's headers, redirects)
//! and the sign-in form's CSRF token.

use std::sync::{Arc, OnceLock};

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use subtle::ConstantTimeEq;

use crate::authz::{self, Grant, Principal, Refusal, Target};
use crate::config::SessionRules;
use crate::http::cookie::session_cookie;
use crate::http::page::Lang;
use crate::http::state::{blocking, AppState};
use crate::service::accounts::sessions::SessionView;
use crate::service::audit::AuditEntry;

/// The stylesheet.
pub const CSS: &str = include_str!("console.css");
/// The console's one script: the USCC checked as it is typed (enterprise forms only).
pub const JS: &str = include_str!("console.js");
/// The login form's CSRF cookie over HTTPS (`serve --dev`: without the `__Host-` prefix).
pub(super) const LOGIN_COOKIE: &str = "__Host-traceseal-login";
pub(super) const DEV_LOGIN_COOKIE: &str = "traceseal-login";

/// The stylesheet's content-hashed name, `console-<10 hex>.css`.
pub fn css_name() -> &'static str {
    static N: OnceLock<String> = OnceLock::new();
    N.get_or_init(|| hashed_name(CSS, "css"))
}

/// The script's content-hashed name, `console-<10 hex>.js`.
pub fn js_name() -> &'static str {
    static N: OnceLock<String> = OnceLock::new();
    N.get_or_init(|| hashed_name(JS, "js"))
}

/// `console-<first 10 hex of SHA-256>.<ext>`.
fn hashed_name(body: &str, ext: &str) -> String {
    let d = Sha256::digest(body.as_bytes());
    let h: String = d[..5].iter().map(|b| format!("{b:02x}")).collect();
    format!("console-{h}.{ext}")
}

/// One text in the page's language.
pub fn tr<'a>(lang: Lang, zh: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// A signed-in viewer.
pub struct Viewer {
    pub principal: Principal,
    pub session: SessionView,
}

/// The viewer of a request, if its session is live.
pub async fn viewer(st: &Arc<AppState>, headers: &HeaderMap) -> Option<Viewer> {
    let id = session_cookie(headers, st.config.sessions.dev_mode)?;
    let svc = st.svc.clone();
    match blocking(move || svc.accounts().session(&id)).await {
        Ok(Some((principal, session))) => Some(Viewer { principal, session }),
        _ => None,
    }
}

/// What the viewer may see through the API route `method path`: `Ok(None)` everything,
/// `Ok(Some(e))` enterprise `e`'s, or the refusal.
pub fn scope(
    p: &Principal,
    method: &'static str,
    path: &'static str,
) -> Result<Option<u64>, Refusal> {
    let rule = authz::rule_for(method, path).expect("console pages name routes of the table");
    match rule.grant(p.role) {
        Grant::No => Err(Refusal::Role {
            role: p.role,
            method,
            path,
        }),
        Grant::All => Ok(None),
        Grant::Own => p
            .enterprise
            .map(Some)
            .ok_or(Refusal::NoEnterprise { role: p.role }),
    }
}

/// Security headers of every console page: a CSP without any script, no caching, no framing.
fn security_headers() -> [(HeaderName, HeaderValue); 6] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ),
        (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
    ]
}

/// An HTML answer with the console's headers.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    for (k, v) in security_headers() {
        res.headers_mut().insert(k, v);
    }
    res
}

/// A CSV download (`text/csv`, as an attachment named `name`, never cached).
pub fn csv_attachment(name: &str, body: String) -> Response {
    crate::http::csv::attachment(name, body)
}

/// The CSP of a page that loads the console's script (and nothing else: no inline script).
const SCRIPTED_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// An HTML answer of a page that uses the console's script: [`html`] with `script-src 'self'`.
pub fn html_scripted(status: StatusCode, body: String) -> Response {
    let mut res = html(status, body);
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SCRIPTED_CSP),
    );
    res
}

/// A redirect (303) to `to`.
pub fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// The login form's fresh CSRF token and the cookie that binds it to the browser.
pub fn login_token(rules: &SessionRules) -> (String, HeaderValue) {
    let mut b = [0u8; 32];
    let _ = getrandom::getrandom(&mut b);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let (name, secure) = match rules.dev_mode {
        true => (DEV_LOGIN_COOKIE, ""),
        false => (LOGIN_COOKIE, "; Secure"),
    };
    let v = format!("{name}={token}; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict{secure}");
    (
        token,
        HeaderValue::from_str(&v).expect("base64url and fixed attributes"),
    )
}

/// Whether two CSRF tokens match (constant time; an empty one never does).
pub fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Whether `p` may use API route `method path` on `target`, as `http::auth` decides it: the
/// target's owning enterprise (looked up; `None`: the request names none). `Ok`: the owner, when known;
/// `Err`: the status and why (403 with the table's reason, or the lookup's 404).
pub async fn owned(
    st: &Arc<AppState>,
    p: &Principal,
    method: &'static str,
    path: &'static str,
    target: Option<Target>,
) -> Result<Option<u64>, (StatusCode, String)> {
    let rule = authz::rule_for(method, path).expect("console actions name routes of the table");
    let svc = st.svc.clone();
    let lookup = move || target.map_or(Ok(None), |t| svc.owner_of(&t));
    let owner = match blocking(lookup).await {
        Ok(o) => o,
        Err(e) if rule.grant(p.role) == Grant::Own => return Err((e.status, e.detail)),
        Err(_) => None,
    };
    authz::decide(p, rule, owner)
        .map(|_| owner)
        .map_err(|r| (StatusCode::FORBIDDEN, r.to_string()))
}

/// Records a console write in the audit trail (as `http::auth` does for the API's).
#[allow(clippy::too_many_arguments)]
pub async fn audit(
    st: &Arc<AppState>,
    v: &Viewer,
    method: &str,
    route: &str,
    path: &str,
    targets: &[(&str, String)],
    owner: Option<u64>,
    status: StatusCode,
) {
    let p = &v.principal;
    let entry = AuditEntry {
        principal: p.id.clone(),
        role: p.role.as_str().to_string(),
        principal_enterprise: p.enterprise,
        method: method.to_string(),
        route: route.to_string(),
        path: path.to_string(),
        targets: targets
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        enterprise: owner,
        // A write that named its request (a log leaf carries it) is audited under that id.
        request_id: match p.request.is_empty() {
            true => new_request_id(),
            false => p.request.clone(),
        },
        status: status.as_u16(),
    };
    let svc = st.svc.clone();
    if let Err(e) = blocking(move || svc.audit().record(entry)).await {
        tracing::error!(error = ?e, "the audit record of a console write could not be stored");
    }
}

/// A fresh request id (32 hex), as the API's edge assigns one.
pub fn new_request_id() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::getrandom(&mut b);
    crate::custody::record::hex(&b)
}

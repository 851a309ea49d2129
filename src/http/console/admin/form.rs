//! What every write of these pages shares: letting a posted form through (session, CSRF
//! token, the grant on each target), and answering it (audit record, then a redirect or the
//! reason); and small page helpers.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::authz::Target;
use crate::http::console::kit::{audit, html, owned, see_other, tr, Viewer};
use crate::http::console::pages::{check_form, failed, frame, viewer_lang};
use crate::http::error::ApiError;
use crate::http::page::Lang;
use crate::http::state::AppState;

/// A page (200) in the console's frame.
pub(super) fn ok_page(lang: Lang, v: &Viewer, title: &str, here: &str, body: &str) -> Response {
    html(StatusCode::OK, frame(lang, title, Some(v), here, body))
}

/// A console write: the API route whose grant it needs, what the audit trail records, and
/// the page a failure links back to.
pub(super) struct Write {
    /// Method and route of the API (a row of the authorization table).
    pub(super) api: (&'static str, &'static str),
    /// The console route posted to, and the path.
    pub(super) console: &'static str,
    pub(super) path: String,
    /// The targets the audit record names.
    pub(super) named: Vec<(&'static str, String)>,
    /// Where a failure links back to.
    pub(super) back: String,
}

/// A posted form let through: its language, viewer and the owner of its first target.
pub(super) struct Admitted {
    pub(super) lang: Lang,
    pub(super) v: Viewer,
    pub(super) owner: Option<u64>,
}

/// Lets a posted form through: a signed-in viewer, the session's CSRF token, the targets
/// (`None`: the form names no enterprise) and the grant of the write's API route on each
/// (the API checks each owner the same way).
/// Otherwise the way to sign in, or the page that says why (403: the refusal page).
pub(super) async fn admit(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    csrf: &str,
    w: &Write,
    targets: impl FnOnce(&Viewer) -> Option<Vec<Target>>,
) -> Result<Admitted, Response> {
    let (lang, v) = viewer_lang(st, headers).await?;
    if let Some(r) = check_form(lang, &v, csrf) {
        return Err(r);
    }
    let Some(targets) = targets(&v) else {
        let why = tr(
            lang,
            "请填写企业编号（整数）。",
            "Enter the enterprise id (a whole number).",
        );
        return Err(failed(lang, &v, StatusCode::BAD_REQUEST, why, &w.back));
    };
    let mut owner = None;
    for (i, t) in targets.into_iter().enumerate() {
        match owned(st, &v.principal, w.api.0, w.api.1, Some(t)).await {
            Ok(o) if i == 0 => owner = o,
            Ok(_) => {}
            Err((s, why)) => return Err(failed(lang, &v, s, &why, &w.back)),
        }
    }
    Ok(Admitted { lang, v, owner })
}

/// [`admit`] for a form that names an enterprise (its `enterprise_id` field, else the
/// viewer's own), checked after `first` if given: the admitted form and the enterprise.
pub(super) async fn admit_enterprise(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    (csrf, field): (&str, &str),
    w: &Write,
    first: Option<Target>,
) -> Result<(Admitted, u64), Response> {
    let targets = |v: &Viewer| {
        let e = form_enterprise(v, field)?;
        Some(first.into_iter().chain([Target::Enterprise(e)]).collect())
    };
    let a = admit(st, headers, csrf, w, targets).await?;
    // Admitted: the form names an enterprise.
    let e = form_enterprise(&a.v, field).unwrap_or_default();
    Ok((a, e))
}

/// Records the write's outcome in the audit trail, then redirects to `to` (on success) or
/// shows why it failed, with the service's own message.
pub(super) async fn finish<T>(
    st: &Arc<AppState>,
    a: &Admitted,
    w: &Write,
    done: Result<T, ApiError>,
    ok: StatusCode,
    to: impl FnOnce(&T) -> String,
) -> Response {
    let status = done.as_ref().map_or_else(|e| e.status, |_| ok);
    let named: Vec<(&str, String)> = w.named.iter().map(|(k, v)| (*k, v.clone())).collect();
    audit(
        st, &a.v, "POST", w.console, &w.path, &named, a.owner, status,
    )
    .await;
    match done {
        Ok(t) => see_other(&to(&t)),
        Err(e) => failed(a.lang, &a.v, e.status, &e.detail, &w.back),
    }
}

/// A unix time as RFC 3339 (UTC).
pub(super) fn when(unix: i64) -> String {
    crate::service::rfc3339(unix)
}

/// The enterprise a form names: its `enterprise_id` field if given (checked against the
/// viewer's grant like the API's body field), else the viewer's own.
pub(super) fn form_enterprise(v: &Viewer, field: &str) -> Option<u64> {
    match field.trim() {
        "" => v.principal.enterprise,
        f => f.parse().ok(),
    }
}

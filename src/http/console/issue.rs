//! Issuing a batch from the console: the form (a product of the viewer's enterprise, lot,
//! expiry, quantity) and its post, which starts the issuance and shows the batch's page at once;
//! that page refreshes itself (a `<meta http-equiv="refresh">`, no script) while the batch is
//! issuing. The grant is the API's (`POST /api/v1/batches`, owner: the product's enterprise). The
//! form carries an idempotency key chosen when it was shown, so posting it twice (a double
//! click, a reload) issues one batch.

use std::sync::{Arc, Mutex};

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;

use super::kit::{audit, html, owned, see_other, tr, viewer, Viewer};
use super::pages::{check_form, frame, open_page};
use crate::authz::Target;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::issuance::BatchRequest;

const ROUTE: (&str, &str) = ("POST", "/api/v1/batches");

fn failed(lang: Lang, v: &Viewer, status: StatusCode, why: &str) -> Response {
    super::pages::failed(lang, v, status, why, "/console/batches")
}

/// `GET /console/batches/new`: the form.
pub(super) async fn form(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, v, only) = match open_page(&st, &headers, ROUTE.0, ROUTE.1).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let products = match blocking(move || svc.master().list_products(only, None, 1000)).await {
        Ok(p) => p,
        Err(e) => return failed(lang, &v, e.status, &e.detail),
    };
    let options: String = products
        .iter()
        .map(|p| {
            let name = tr(lang, &p.name_zh, &p.name_en);
            format!(
                "<option value=\"{}\">{} · {}</option>",
                esc(&p.gtin),
                esc(&p.gtin),
                esc(name)
            )
        })
        .collect();
    let mut key = [0u8; 18];
    let _ = getrandom::getrandom(&mut key);
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key);
    let body = format!(
        "<section><form method=\"post\" action=\"/console/batches\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"idempotency_key\" value=\"console-{key}\">\
         <label for=\"gtin\">{p}</label><select id=\"gtin\" name=\"gtin\" required>{options}</select>\
         <label for=\"lot\">{l}</label><input type=\"text\" id=\"lot\" name=\"lot\" maxlength=\"20\" required>\
         <label for=\"expiry\">{e}</label><input type=\"text\" id=\"expiry\" name=\"expiry\" placeholder=\"YYYY-MM-DD\">\
         <label for=\"quantity\">{q}</label><input type=\"text\" inputmode=\"numeric\" id=\"quantity\" name=\"quantity\" required>\
         <button class=\"primary\" type=\"submit\">{go}</button></form></section>",
        csrf = esc(&v.session.csrf_token),
        p = tr(lang, "商品", "Product"),
        l = tr(lang, "批号（1–20 位字母、数字或 . _ -）", "Lot (1–20 letters, digits or . _ -)"),
        e = tr(lang, "有效期（可选）", "Expiry (optional)"),
        q = tr(lang, "数量（1–1,000,000）", "Quantity (1–1,000,000)"),
        go = tr(lang, "签发", "Issue"),
    );
    html(
        StatusCode::OK,
        frame(
            lang,
            tr(lang, "新批次", "New batch"),
            Some(&v),
            "/console/batches",
            &body,
        ),
    )
}

/// The form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct IssueForm {
    csrf_token: String,
    idempotency_key: String,
    gtin: String,
    lot: String,
    #[serde(default)]
    expiry: String,
    quantity: String,
}

/// `POST /console/batches`: starts the issuance and shows the batch (refreshing while it
/// issues).
pub(super) async fn issue(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<IssueForm>, FormRejection>,
) -> Response {
    let lang = Lang::from_headers(&headers, None);
    let Some(v) = viewer(&st, &headers).await else {
        return see_other("/console/login");
    };
    let Ok(Form(f)) = form else {
        return failed(
            lang,
            &v,
            StatusCode::BAD_REQUEST,
            tr(lang, "表单不完整。", "The form is incomplete."),
        );
    };
    if let Some(r) = check_form(lang, &v, &f.csrf_token) {
        return r;
    }
    let owner = match owned(
        &st,
        &v.principal,
        ROUTE.0,
        ROUTE.1,
        Some(Target::Product(f.gtin.clone())),
    )
    .await
    {
        Ok(o) => o,
        Err((s, why)) => return failed(lang, &v, s, &why),
    };
    let Ok(quantity) = f.quantity.trim().parse::<u64>() else {
        return failed(
            lang,
            &v,
            StatusCode::BAD_REQUEST,
            tr(
                lang,
                "数量须为整数。",
                "The quantity must be a whole number.",
            ),
        );
    };
    let req = BatchRequest {
        gtin: f.gtin.clone(),
        lot: f.lot.trim().to_string(),
        expiry: Some(f.expiry.trim().to_string()).filter(|e| !e.is_empty()),
        quantity,
    };
    let started = start(&st, req, f.idempotency_key).await;
    let status = started
        .as_ref()
        .map_or_else(|(s, _)| *s, |_| StatusCode::CREATED);
    audit(
        &st,
        &v,
        "POST",
        "/console/batches",
        "/console/batches",
        &[("gtin", f.gtin)],
        owner,
        status,
    )
    .await;
    match started {
        Ok(id) => see_other(&format!("/console/batches/{id}")),
        Err((s, why)) => failed(lang, &v, s, &why),
    }
}

/// Starts issuing `req` in the background; the batch's id as soon as it exists (or the
/// refusal).
async fn start(
    st: &Arc<AppState>,
    req: BatchRequest,
    key: String,
) -> Result<u64, (StatusCode, String)> {
    let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
    let first = Mutex::new(Some(tx));
    let svc = st.svc.clone();
    let task = tokio::task::spawn_blocking(move || {
        let progress = |b: &crate::service::issuance::Batch| {
            if let Some(tx) = first.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(b.id);
            }
        };
        svc.issuance().issue_batch(&req, &key, &progress)
    });
    if let Ok(id) = rx.await {
        return Ok(id);
    }
    // No progress before the end: a replay, a tiny batch, or a refusal.
    match task.await {
        Ok(Ok((b, _))) => Ok(b.id),
        Ok(Err(e)) => {
            let e = crate::http::error::ApiError::from(e);
            Err((e.status, e.detail))
        }
        Err(e) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("issuing failed: {e}"),
        )),
    }
}

//! Printing from the console: a batch's page with the print form (format, range, reprint
//! reason), the print job's page, and its download. The same grants as the API routes behind
//! them (`POST /api/v1/batches/{id}/print-jobs`, `GET /api/v1/print-jobs/{id}` and `…/output`),
//! checked against the batch's enterprise; every print is in the audit trail.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::kit::{audit, owned, see_other, tr, Viewer};
use super::pages::{check_form, frame, frame_with, signed_in};
use crate::authz::Target;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::issuance::{Batch, BatchStatus};
use crate::service::printing::{PrintJobRequest, PrintJobView};

use super::printform::{self, FormError, PrintForm};

/// Most print jobs a batch page lists.
const ROWS: usize = 100;

fn page(lang: Lang, v: &Viewer, status: StatusCode, title: &str, body: &str) -> Response {
    super::kit::html(
        status,
        frame(lang, title, Some(v), "/console/batches", body),
    )
}

/// The batch page while it issues: it reloads itself every 2 s (no script).
fn issuing_page(lang: Lang, v: &Viewer, title: &str, b: &Batch) -> Response {
    let note = format!(
        "<p class=\"muted\" role=\"status\">{} {} / {}</p>",
        tr(lang, "正在签发…", "Issuing…"),
        b.issued,
        b.quantity
    );
    let body = format!("{note}{}", batch_facts(lang, b));
    let head = "<meta http-equiv=\"refresh\" content=\"2\">";
    let page = frame_with(lang, title, Some(v), "/console/batches", &body, head);
    super::kit::html(StatusCode::OK, page)
}

fn failed(lang: Lang, v: &Viewer, status: StatusCode, why: &str) -> Response {
    super::pages::failed(lang, v, status, why, "/console/batches")
}

/// The language, viewer and id of a page about one target, if the viewer's role may use
/// `GET route` on it (else the refusal page, or the way to sign in).
async fn open(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    route: &'static str,
    target: fn(u64) -> Target,
    missing: (&str, &str),
) -> Result<(Lang, Viewer, u64), Response> {
    let lang = Lang::from_headers(headers, None);
    let v = signed_in(st, headers).await?;
    let Ok(Path(id)) = id else {
        return Err(failed(
            lang,
            &v,
            StatusCode::NOT_FOUND,
            tr(lang, missing.0, missing.1),
        ));
    };
    match owned(st, &v.principal, "GET", route, Some(target(id))).await {
        Ok(_) => Ok((lang, v, id)),
        Err((s, why)) => Err(failed(lang, &v, s, &why)),
    }
}

/// `GET /console/batches/{id}`: the batch and its print form.
pub(super) async fn batch(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Response {
    let (lang, v, id) = match open(
        &st,
        &headers,
        id,
        "/api/v1/batches/{id}",
        Target::Batch,
        ("没有这个批次。", "No such batch."),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let b = match blocking(move || svc.issuance().batch(id)).await {
        Ok(b) => b,
        Err(e) => return failed(lang, &v, e.status, &e.detail),
    };
    let title = format!("{} {}", tr(lang, "批次", "Batch"), b.id);
    if b.status != BatchStatus::Complete {
        return issuing_page(lang, &v, &title, &b);
    }
    let may_print = owned(
        &st,
        &v.principal,
        "POST",
        "/api/v1/batches/{id}/print-jobs",
        Some(Target::Batch(id)),
    )
    .await
    .is_ok();
    let svc = st.svc.clone();
    let jobs = match blocking(move || svc.printing().batch_jobs(id, ROWS)).await {
        Ok(j) => j,
        Err(e) => return failed(lang, &v, e.status, &e.detail),
    };
    let form = if may_print {
        printform::render(lang, &b, &v.session.csrf_token, &PrintForm::default())
    } else {
        String::new()
    };
    let body = format!(
        "{}{form}{}",
        batch_facts(lang, &b),
        printform::history(lang, &jobs)
    );
    page(lang, &v, StatusCode::OK, &title, &body)
}

fn batch_facts(lang: Lang, b: &Batch) -> String {
    let row =
        |k: &str, v: String| format!("<tr><th scope=\"row\">{}</th><td>{v}</td></tr>", esc(k));
    format!(
        "<section><table>{}{}{}{}{}</table></section>",
        row(
            tr(lang, "商品 GTIN", "GTIN"),
            format!("<span class=\"mono\">{}</span>", esc(&b.gtin))
        ),
        row(tr(lang, "批号", "Lot"), esc(&b.lot)),
        row(tr(lang, "数量", "Quantity"), b.quantity.to_string()),
        row(tr(lang, "已签发", "Issued"), b.issued.to_string()),
        row(
            tr(lang, "签名密钥", "Signing key"),
            format!("<span class=\"mono\">{}</span>", esc(&b.kid))
        ),
    )
}

/// A print form posted about batch `id`: the page language, the signed-in viewer, the id and
/// the form, its CSRF token checked; or the answer instead (sign-in, error or refusal page).
async fn posted(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    form: Result<Form<PrintForm>, FormRejection>,
) -> Result<(Lang, Viewer, u64, PrintForm), Response> {
    let lang = Lang::from_headers(headers, None);
    let v = signed_in(st, headers).await?;
    let (Ok(Path(id)), Ok(Form(f))) = (id, form) else {
        let why = tr(lang, "表单不完整。", "The form is incomplete.");
        return Err(failed(lang, &v, StatusCode::BAD_REQUEST, why));
    };
    match check_form(lang, &v, &f.csrf_token) {
        Some(r) => Err(r),
        None => Ok((lang, v, id, f)),
    }
}

/// `POST /console/batches/{id}/print`: a print job, then its page.
pub(super) async fn print(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    form: Result<Form<PrintForm>, FormRejection>,
) -> Response {
    let (lang, v, id, f) = match posted(&st, &headers, id, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let route = "/api/v1/batches/{id}/print-jobs";
    let owner = match owned(&st, &v.principal, "POST", route, Some(Target::Batch(id))).await {
        Ok(o) => o,
        Err((s, why)) => return failed(lang, &v, s, &why),
    };
    let req = match f.request() {
        Ok(r) => r,
        Err(FormError(zh, en)) => {
            return failed(lang, &v, StatusCode::BAD_REQUEST, tr(lang, zh, en))
        }
    };
    let svc = st.svc.clone();
    let made = blocking(move || svc.printing().create_print_job(id, &req)).await;
    let status = made
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::CREATED);
    let path = format!("/console/batches/{id}/print");
    audit(
        &st,
        &v,
        "POST",
        "/console/batches/{id}/print",
        &path,
        &[("id", id.to_string())],
        owner,
        status,
    )
    .await;
    match made {
        Ok(job) => see_other(&format!("/console/print-jobs/{}", job.id)),
        Err(e) => failed(lang, &v, e.status, &e.detail),
    }
}

/// `GET /console/print-jobs/{id}`: the job and its download.
pub(super) async fn job(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Response {
    let (lang, v, id) = match open(
        &st,
        &headers,
        id,
        "/api/v1/print-jobs/{id}",
        Target::PrintJob,
        ("没有这个打印任务。", "No such print job."),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let view: PrintJobView = match blocking(move || svc.printing().print_job(id)).await {
        Ok(j) => j,
        Err(e) => return failed(lang, &v, e.status, &e.detail),
    };
    let j = &view.job;
    let format = serde_json::to_value(j.format)
        .ok()
        .and_then(|f| f.as_str().map(str::to_string))
        .unwrap_or_default();
    let body = format!(
        "<section><p>{} {} · {} {} · {} {}–{}{}</p><p><a class=\"download\" href=\"/console/print-jobs/{}/output\" download>{}</a></p></section>",
        tr(lang, "批次", "Batch"),
        j.batch_id,
        tr(lang, "格式", "format"),
        esc(&format),
        tr(lang, "标签", "labels"),
        j.start,
        j.start + j.count,
        if j.reprinted > 0 { format!(" · {} {}", tr(lang, "重印", "reprinted"), j.reprinted) } else { String::new() },
        j.id,
        tr(lang, "下载标签文件", "Download the labels"),
    );
    let title = format!("{} {}", tr(lang, "打印任务", "Print job"), j.id);
    let (progress, head) = download_progress(lang, &view);
    let body = format!("{body}{progress}");
    let page = frame_with(lang, &title, Some(&v), "/console/batches", &body, head);
    super::kit::html(StatusCode::OK, page)
}

/// How far the job's output has been rendered and sent (the download's progress, as the
/// server sees it), and a refresh every 2 s while a download is under way (no script).
fn download_progress(lang: Lang, view: &PrintJobView) -> (String, &'static str) {
    let (done, all) = (view.rendered, view.job.count);
    let fetched = view.job.output_fetches;
    if fetched == 0 && done == 0 {
        let none = tr(lang, "尚未下载。", "Not downloaded yet.");
        return (format!("<p class=\"muted\" role=\"status\">{none}</p>"), "");
    }
    let pct = (done.min(all) * 100).checked_div(all).unwrap_or(100);
    let text = match lang {
        Lang::Zh => format!("已生成 {done} / {all} 个标签（{pct}%）· 下载 {fetched} 次"),
        Lang::En => {
            format!("{done} of {all} labels rendered ({pct}%) · downloaded {fetched} times")
        }
    };
    let bar = format!(
        "<p role=\"status\"><progress max=\"{all}\" value=\"{}\">{pct}%</progress> {}</p>",
        done.min(all),
        esc(&text)
    );
    let refresh = if done > 0 && done < all {
        "<meta http-equiv=\"refresh\" content=\"2\">"
    } else {
        ""
    };
    (bar, refresh)
}

/// `GET /console/print-jobs/{id}/output`: the labels, streamed (the API's download).
pub(super) async fn output(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Response {
    let (lang, v, id) = match open(
        &st,
        &headers,
        id,
        "/api/v1/print-jobs/{id}/output",
        Target::PrintJob,
        ("没有这个打印任务。", "No such print job."),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let q = Query(crate::http::admin::OutputQuery {
        reprint_reason: None,
    });
    match crate::http::admin::print_job_output(State(st), Ok(Path(id)), Ok(q)).await {
        Ok(res) => res,
        Err(e) => failed(lang, &v, e.status, &e.detail).into_response(),
    }
}

/// The batch and what the viewer may do with it, for a page about printing it: the batch
/// (complete), and the page's failure otherwise.
async fn printable(
    st: &Arc<AppState>,
    lang: Lang,
    v: &Viewer,
    id: u64,
) -> Result<(Batch, Option<u64>), Response> {
    let route = "/api/v1/batches/{id}/print-jobs";
    let owner = owned(st, &v.principal, "POST", route, Some(Target::Batch(id)))
        .await
        .map_err(|(s, why)| failed(lang, v, s, &why))?;
    let svc = st.svc.clone();
    let b = blocking(move || svc.issuance().batch(id))
        .await
        .map_err(|e| failed(lang, v, e.status, &e.detail))?;
    Ok((b, owner))
}

/// The preview's request: the form's, over at most the first [`PREVIEW_LABELS`] labels of its
/// range (a page never holds more; the print itself checks its whole range).
fn preview_request(f: &PrintForm) -> Result<PrintJobRequest, FormError> {
    let mut req = f.request()?;
    req.reprint_reason = None;
    if let Some([start, count]) = req.range {
        req.range = Some([start, count.min(PREVIEW_LABELS)]);
    }
    Ok(req)
}

/// Most labels a preview reads.
const PREVIEW_LABELS: u64 = 1_000;

/// `POST /console/batches/{id}/preview`: the batch page with the form as filled and the
/// preview of the job's first page (nothing is printed or recorded).
pub(super) async fn preview(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    form: Result<Form<PrintForm>, FormRejection>,
) -> Response {
    let (lang, v, id, f) = match posted(&st, &headers, id, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let b = match printable(&st, lang, &v, id).await {
        Ok((b, _)) => b,
        Err(r) => return r,
    };
    let req = match preview_request(&f) {
        Ok(r) => r,
        Err(FormError(zh, en)) => {
            return failed(lang, &v, StatusCode::BAD_REQUEST, tr(lang, zh, en))
        }
    };
    // The request is checked now, so a layout that cannot work is said on the page.
    let svc = st.svc.clone();
    if let Err(e) = blocking(move || svc.printing().preview(id, &req)).await {
        return failed(lang, &v, e.status, &e.detail);
    }
    let title = format!("{} {}", tr(lang, "批次", "Batch"), b.id);
    let body = format!(
        "{}{}{}",
        batch_facts(lang, &b),
        printform::preview_figure(lang, &b, &f),
        printform::render(lang, &b, &v.session.csrf_token, &f),
    );
    page(lang, &v, StatusCode::OK, &title, &body)
}

/// `GET /console/batches/{id}/preview.svg?…`: the preview image (real codes: the grant of
/// `GET /api/v1/batches/{id}/codes`; never cached).
pub(super) async fn preview_svg(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    q: Result<Query<PrintForm>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let text = |s: StatusCode, why: String| (s, why).into_response();
    let Some(v) = super::kit::viewer(&st, &headers).await else {
        return text(StatusCode::UNAUTHORIZED, "sign in first".into());
    };
    let (Ok(Path(id)), Ok(Query(f))) = (id, q) else {
        return text(StatusCode::BAD_REQUEST, "malformed preview request".into());
    };
    let route = "/api/v1/batches/{id}/codes";
    if let Err((s, why)) = owned(&st, &v.principal, "GET", route, Some(Target::Batch(id))).await {
        return text(s, why);
    }
    let req = match preview_request(&f) {
        Ok(r) => r,
        Err(FormError(_, en)) => return text(StatusCode::BAD_REQUEST, en.into()),
    };
    let svc = st.svc.clone();
    match blocking(move || svc.printing().preview(id, &req)).await {
        Ok(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "no-store"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            ],
            svg,
        )
            .into_response(),
        Err(e) => text(e.status, e.detail),
    }
}

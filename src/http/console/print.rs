//! Printing from the console: a batch's page with the print form (format, range, reprint
//! reason), the print job's page, and its download. The same grants as the API routes behind
//! them (`POST /api/v1/batches/{id}/print-jobs`, `GET /api/v1/print-jobs/{id}` and `…/output`),
//! checked against the batch's enterprise; every print is in the audit trail.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::kit::{audit, owned, see_other, tr, Viewer};
use super::pages::{check_form, frame, frame_with, signed_in};
use crate::authz::Target;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::labels::job::LabelFormat;
use crate::service::issuance::{Batch, BatchStatus};
use crate::service::printing::{PrintJobRequest, PrintJobView};

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
    let form = if may_print {
        print_form(lang, &b, &v.session.csrf_token)
    } else {
        String::new()
    };
    let body = format!("{}{form}", batch_facts(lang, &b));
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

fn print_form(lang: Lang, b: &Batch, csrf: &str) -> String {
    let opt = |v: &str, zh: &str, en: &str| {
        format!("<option value=\"{v}\">{}</option>", esc(tr(lang, zh, en)))
    };
    format!(
        "<section><h2>{h}</h2><form method=\"post\" action=\"/console/batches/{id}/print\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"format\">{f}</label><select id=\"format\" name=\"format\">{pdf}{zpl}{png}{svg}</select>\
         <label for=\"start\">{s}</label><input type=\"text\" inputmode=\"numeric\" id=\"start\" name=\"start\" value=\"0\">\
         <label for=\"count\">{c}</label><input type=\"text\" inputmode=\"numeric\" id=\"count\" name=\"count\" value=\"{n}\">\
         <label for=\"reprint_reason\">{r}</label><input type=\"text\" id=\"reprint_reason\" name=\"reprint_reason\">\
         <button class=\"primary\" type=\"submit\">{go}</button></form></section>",
        h = tr(lang, "打印标签", "Print labels"),
        id = b.id,
        csrf = esc(csrf),
        f = tr(lang, "格式", "Format"),
        pdf = opt("pdf", "PDF 标签纸（办公打印机）", "PDF label sheets (office printer)"),
        zpl = opt("zpl", "ZPL（斑马热敏打印机）", "ZPL (Zebra thermal printer)"),
        png = opt("png", "PNG 图片包", "PNG archive"),
        svg = opt("svg", "SVG 图片包", "SVG archive"),
        s = tr(lang, "从第几个标签开始（0 起）", "First label (from 0)"),
        c = tr(lang, "标签数量", "Number of labels"),
        n = b.issued,
        r = tr(lang, "重印原因（重印时必填，会记入日志）", "Reprint reason (required to print again; logged)"),
        go = tr(lang, "创建打印任务", "Create the print job"),
    )
}

/// The print form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct PrintForm {
    csrf_token: String,
    format: LabelFormat,
    start: String,
    count: String,
    #[serde(default)]
    reprint_reason: String,
}

/// `POST /console/batches/{id}/print`: a print job, then its page.
pub(super) async fn print(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    form: Result<Form<PrintForm>, FormRejection>,
) -> Response {
    let lang = Lang::from_headers(&headers, None);
    let v = match signed_in(&st, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (Ok(Path(id)), Ok(Form(f))) = (id, form) else {
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
    let route = "/api/v1/batches/{id}/print-jobs";
    let owner = match owned(&st, &v.principal, "POST", route, Some(Target::Batch(id))).await {
        Ok(o) => o,
        Err((s, why)) => return failed(lang, &v, s, &why),
    };
    let (Ok(start), Ok(count)) = (f.start.trim().parse::<u64>(), f.count.trim().parse::<u64>())
    else {
        return failed(
            lang,
            &v,
            StatusCode::BAD_REQUEST,
            tr(
                lang,
                "起始和数量须为整数。",
                "First label and number must be whole numbers.",
            ),
        );
    };
    let req = PrintJobRequest {
        format: f.format,
        layout: None,
        range: Some([start, count]),
        reprint_reason: Some(f.reprint_reason.trim().to_string()).filter(|r| !r.is_empty()),
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
    page(lang, &v, StatusCode::OK, &title, &body)
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

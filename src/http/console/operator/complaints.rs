//! Complaints: the list (`GET /api/v1/complaints`: the operator and regulators all, an
//! enterprise admin its own enterprise's) with its filters and paging, and a complaint's page
//! (`GET /api/v1/complaints/{reference}`) with its history and, for the operator, the form that
//! moves it to a new status with a note (`PATCH /api/v1/complaints/{reference}`). A regulator
//! never sees a valid code: the API's rule (`consumer::for_viewer`) applies to the page.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::parts::{csrf_field, field, from_wire, incomplete, label, options, wire};
use crate::authz::Target;
use crate::http::console::kit::{audit, html, owned, scope, see_other, tr, Viewer};
use crate::http::console::pages::{check_form, failed, frame, open_page, viewer_lang, ROWS};
use crate::http::console::staff::table;
use crate::http::consumer::for_viewer;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::complaints::{Complaint, ComplaintFilter, ComplaintStatus, ComplaintUpdate};

const HERE: &str = "/console/complaints";

/// The statuses, in workflow order.
const STATUSES: &[(&str, &str, &str)] = &[
    ("open", "待处理", "open"),
    ("investigating", "调查中", "investigating"),
    ("resolved", "属实，已处理", "upheld (resolved)"),
    ("rejected", "不成立", "not upheld (rejected)"),
];

fn status_name(lang: Lang, s: ComplaintStatus) -> &'static str {
    label(lang, STATUSES, &wire(&s))
}

fn category_name(lang: Lang, c: &Complaint) -> &'static str {
    match wire(&c.category).as_str() {
        "counterfeit" => tr(lang, "疑似假冒", "suspected counterfeit"),
        "quality" => tr(lang, "质量问题", "quality"),
        _ => tr(lang, "服务问题", "service"),
    }
}

fn verdict_name(lang: Lang, c: &Complaint) -> &'static str {
    match wire(&c.scan.verdict).as_str() {
        "genuine" => tr(lang, "正品", "genuine"),
        "genuine_with_warning" => tr(lang, "正品（有警示）", "genuine, with a warning"),
        "not_genuine" => tr(lang, "非正品", "not genuine"),
        _ => tr(lang, "暂时无法验证", "cannot verify now"),
    }
}

/// `?status=&enterprise_id=&before=` of the list (as the API's query).
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    enterprise_id: String,
    #[serde(default)]
    before: String,
}

/// The list's filter as the API decides it: an enterprise role sees its own enterprise's
/// complaints and asks for no other's (403).
fn filter_of(
    lang: Lang,
    q: &ListQuery,
    only: Option<u64>,
) -> Result<ComplaintFilter, (StatusCode, String)> {
    let status = match q.status.as_str() {
        "" => None,
        s => Some(from_wire::<ComplaintStatus>(s).ok_or((
            StatusCode::BAD_REQUEST,
            format!("status must be open, investigating, resolved or rejected, got {s:?}"),
        ))?),
    };
    let asked = match q.enterprise_id.trim() {
        "" => None,
        e => Some(e.parse::<u64>().map_err(|_| {
            let why = tr(
                lang,
                "企业编号须为整数。",
                "The enterprise id must be a number.",
            );
            (StatusCode::BAD_REQUEST, why.to_string())
        })?),
    };
    let enterprise_id = match (only, asked) {
        (Some(own), Some(a)) if own != a => {
            return Err((
                StatusCode::FORBIDDEN,
                format!("enterprise_id={a}: you may list only enterprise {own}'s complaints"),
            ))
        }
        (Some(own), _) => Some(own),
        (None, a) => a,
    };
    Ok(ComplaintFilter {
        status,
        enterprise_id,
    })
}

/// `GET /console/complaints`: the filters, up to [`ROWS`] complaints, the way to older ones.
pub(super) async fn list(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let (lang, v, only) = match open_page(&st, &headers, "GET", "/api/v1/complaints").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Query(q)) = q else {
        return incomplete(lang, &v, HERE);
    };
    let filter = match filter_of(lang, &q, only) {
        Ok(f) => f,
        Err((s, why)) => return failed(lang, &v, s, &why, HERE),
    };
    let (svc, before) = (
        st.svc.clone(),
        Some(q.before.clone()).filter(|b| !b.is_empty()),
    );
    let listed = blocking(move || {
        svc.consumer()
            .list_complaints(&filter, before.as_deref(), ROWS)
    })
    .await;
    let rows = match listed {
        Ok(r) => r,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let body = format!(
        "{}{}{}",
        filter_form(lang, &q, only),
        list_table(lang, &rows),
        older_link(lang, &q, &rows)
    );
    let title = tr(lang, "投诉", "Complaints");
    html(StatusCode::OK, frame(lang, title, Some(&v), HERE, &body))
}

fn filter_form(lang: Lang, q: &ListQuery, only: Option<u64>) -> String {
    let any = [("", "全部", "all")];
    let statuses = options(lang, &[&any[..], STATUSES].concat(), &q.status);
    let ent = match only {
        Some(_) => String::new(),
        None => format!(
            "<div><label for=\"f-enterprise\">{}</label><input type=\"number\" min=\"1\" id=\"f-enterprise\" name=\"enterprise_id\" value=\"{}\"></div>",
            tr(lang, "企业编号", "Enterprise id"),
            esc(&q.enterprise_id)
        ),
    };
    format!(
        "<form class=\"filters\" method=\"get\" action=\"{HERE}\"><div><label for=\"f-status\">{}</label>\
         <select id=\"f-status\" name=\"status\">{statuses}</select></div>{ent}<button type=\"submit\">{}</button></form>",
        tr(lang, "状态", "Status"),
        tr(lang, "筛选", "Filter"),
    )
}

fn list_table(lang: Lang, rows: &[Complaint]) -> String {
    let body: String = rows
        .iter()
        .map(|c| {
            let ent = c.enterprise_id.map(|e| e.to_string()).unwrap_or_else(|| "—".into());
            format!(
                "<tr><td class=\"mono\"><a href=\"{HERE}/{r}\">{r}</a></td><td>{}</td><td>{}</td><td class=\"cs-{}\">{}</td><td>{ent}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                esc(&c.created_at),
                category_name(lang, c),
                wire(&c.status),
                status_name(lang, c.status),
                esc(c.gtin.as_deref().unwrap_or("—")),
                verdict_name(lang, c),
                r = esc(&c.reference),
            )
        })
        .collect();
    let head = [
        ("编号", "Reference"),
        ("收到时间", "Received"),
        ("类别", "Category"),
        ("状态", "Status"),
        ("企业", "Enterprise"),
        ("商品 GTIN", "GTIN"),
        ("扫码结果", "Scan verdict"),
    ];
    table(lang, &head, &body)
}

/// The link to the next page (older complaints), when this one is full.
fn older_link(lang: Lang, q: &ListQuery, rows: &[Complaint]) -> String {
    let Some(last) = rows.last().filter(|_| rows.len() == ROWS) else {
        return String::new();
    };
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("status", &q.status)
        .append_pair("enterprise_id", &q.enterprise_id)
        .append_pair("before", &last.reference)
        .finish();
    format!(
        "<p><a href=\"{HERE}?{}\">{}</a></p>",
        esc(&query),
        tr(lang, "更早的投诉 →", "Older complaints →")
    )
}

/// The complaint `r` as the viewer may see it, after the grant of the API route on its owner.
async fn load(
    st: &Arc<AppState>,
    v: &Viewer,
    r: &str,
    method: &'static str,
) -> Result<(Complaint, Option<u64>), (StatusCode, String)> {
    let target = Some(Target::Complaint(r.to_string()));
    let owner = owned(
        st,
        &v.principal,
        method,
        "/api/v1/complaints/{reference}",
        target,
    )
    .await?;
    let (svc, r) = (st.svc.clone(), r.to_string());
    let c = blocking(move || svc.consumer().complaint(&r))
        .await
        .map_err(|e| (e.status, e.detail))?;
    Ok((for_viewer(&v.principal, c), owner))
}

/// `GET /console/complaints/{reference}`: the complaint, its scan, its history, and for the
/// operator the answer form.
pub(super) async fn page(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    r: Result<Path<String>, PathRejection>,
) -> Response {
    let (lang, v) = match viewer_lang(&st, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Path(r)) = r else {
        return incomplete(lang, &v, HERE);
    };
    let c = match load(&st, &v, &r, "GET").await {
        Ok((c, _)) => c,
        Err((s, why)) => return failed(lang, &v, s, &why, HERE),
    };
    let form = match scope(&v.principal, "PATCH", "/api/v1/complaints/{reference}") {
        Ok(_) => answer_form(lang, &v, &c),
        Err(_) => String::new(),
    };
    let body = format!(
        "<section>{}</section><section><h2>{}</h2>{}</section>{form}<p><a href=\"{HERE}\">{}</a></p>",
        details(lang, &c),
        tr(lang, "处理记录", "History"),
        history(lang, &c),
        tr(lang, "← 全部投诉", "← All complaints"),
    );
    let title = format!("{} {}", tr(lang, "投诉", "Complaint"), c.reference);
    html(StatusCode::OK, frame(lang, &title, Some(&v), HERE, &body))
}

fn details(lang: Lang, c: &Complaint) -> String {
    let opt = |o: &Option<String>| esc(o.as_deref().unwrap_or("—"));
    let ent = c
        .enterprise_id
        .map_or_else(|| "—".into(), |e| e.to_string());
    let rows = [
        field(lang, "状态", "Status", status_name(lang, c.status)),
        field(lang, "类别", "Category", category_name(lang, c)),
        field(lang, "描述", "Description", &esc(&c.description)),
        field(lang, "联系方式", "Contact", &opt(&c.contact)),
        field(lang, "收到时间", "Received", &esc(&c.created_at)),
        field(lang, "企业", "Enterprise", &ent),
        field(lang, "商品 GTIN", "GTIN", &opt(&c.gtin)),
        field(lang, "批号", "Lot", &opt(&c.lot)),
        field(lang, "扫码时间", "Scanned at", &esc(&c.scan.at)),
        field(lang, "扫码结果", "Scan verdict", verdict_name(lang, c)),
        field(lang, "原因", "Reasons", &esc(&c.scan.reasons.join(", "))),
        field(lang, "扫码网络", "Scan network", &esc(&c.scan.network)),
        field(
            lang,
            "扫描的码",
            "Code scanned",
            &format!("<span class=\"mono\">{}</span>", esc(&c.scan.code)),
        ),
    ]
    .concat();
    format!("<div class=\"table\"><table class=\"record\"><tbody>{rows}</tbody></table></div>")
}

fn history(lang: Lang, c: &Complaint) -> String {
    let rows: String = c
        .history
        .iter()
        .map(|h| {
            format!(
                "<tr><td>{}</td><td class=\"cs-{}\">{}</td><td>{}</td></tr>",
                esc(&h.at),
                wire(&h.status),
                status_name(lang, h.status),
                esc(&h.note)
            )
        })
        .collect();
    let head = [("时间", "Time"), ("状态", "Status"), ("说明", "Note")];
    format!("<div class=\"history\">{}</div>", table(lang, &head, &rows))
}

fn answer_form(lang: Lang, v: &Viewer, c: &Complaint) -> String {
    format!(
        "<section><h2>{}</h2><form method=\"post\" action=\"{HERE}/{}\">{}\
         <label for=\"status\">{}</label><select id=\"status\" name=\"status\">{}</select>\
         <label for=\"note\">{}</label><textarea id=\"note\" name=\"note\" rows=\"4\" maxlength=\"2000\" required></textarea>\
         <button class=\"primary\" type=\"submit\">{}</button></form></section>",
        tr(lang, "处理", "Answer"),
        esc(&c.reference),
        csrf_field(v),
        tr(lang, "新状态", "New status"),
        options(lang, STATUSES, &wire(&c.status)),
        tr(lang, "说明（记入处理记录）", "Note (kept in the history)"),
        tr(lang, "保存", "Save"),
    )
}

/// The answer form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct AnswerForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
}

/// `POST /console/complaints/{reference}`: `PATCH /api/v1/complaints/{reference}` from the
/// form (the operator only), audited, then the complaint's page again.
pub(super) async fn answer(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    r: Result<Path<String>, PathRejection>,
    form: Result<Form<AnswerForm>, FormRejection>,
) -> Response {
    let (lang, v) = match viewer_lang(&st, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (Ok(Path(r)), Ok(Form(f))) = (r, form) else {
        return incomplete(lang, &v, HERE);
    };
    if let Some(refused) = check_form(lang, &v, &f.csrf_token) {
        return refused;
    }
    let back = format!("{HERE}/{r}");
    let owner = match load(&st, &v, &r, "PATCH").await {
        Ok((_, o)) => o,
        Err((s, why)) => return failed(lang, &v, s, &why, &back),
    };
    let Some(status) = from_wire::<ComplaintStatus>(&f.status) else {
        let why = format!(
            "status must be open, investigating, resolved or rejected, got {:?}",
            f.status
        );
        return failed(lang, &v, StatusCode::BAD_REQUEST, &why, &back);
    };
    let u = ComplaintUpdate {
        status,
        note: f.note,
    };
    let (svc, key) = (st.svc.clone(), r.clone());
    let done = blocking(move || svc.consumer().update_complaint(&key, &u)).await;
    let code = done.as_ref().map_or_else(|e| e.status, |_| StatusCode::OK);
    let route = "/console/complaints/{reference}";
    audit(
        &st,
        &v,
        "POST",
        route,
        &back,
        &[("reference", r)],
        owner,
        code,
    )
    .await;
    match done {
        Ok(_) => see_other(&back),
        Err(e) => failed(lang, &v, e.status, &e.detail, &back),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(status: &str, enterprise_id: &str) -> ListQuery {
        ListQuery {
            status: status.into(),
            enterprise_id: enterprise_id.into(),
            before: String::new(),
        }
    }

    #[test]
    fn the_list_filter_is_the_apis() {
        let f = filter_of(Lang::En, &q("resolved", "7"), None).unwrap();
        assert_eq!(f.status, Some(ComplaintStatus::Resolved));
        assert_eq!(f.enterprise_id, Some(7));
        let own = filter_of(Lang::En, &q("", ""), Some(3)).unwrap();
        assert_eq!((own.status, own.enterprise_id), (None, Some(3)));
        let (s, why) = filter_of(Lang::En, &q("", "4"), Some(3)).unwrap_err();
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(why.contains("only enterprise 3"), "{why}");
        let (s, _) = filter_of(Lang::En, &q("upheld", ""), None).unwrap_err();
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = filter_of(Lang::En, &q("", "x"), None).unwrap_err();
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn every_status_has_its_texts() {
        for s in ["open", "investigating", "resolved", "rejected"] {
            let st: ComplaintStatus = from_wire(s).unwrap();
            assert!(!status_name(Lang::Zh, st).is_empty());
            assert_eq!(wire(&st), s);
        }
    }
}

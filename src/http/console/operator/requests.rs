//! Registration requests (the operator only; `GET /api/v1/actor-requests`,
//! `DELETE /api/v1/actor-requests/{fingerprint}`): what actors sent from the actor page,
//! each with its key's fingerprint and how to reach the requester, a form that registers the
//! key (the registry's own form and checks, `POST /console/actors`) and one that dismisses
//! the request. Everything the requester wrote is escaped; nothing of it is a link.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::actors::{grouped, HERE as ACTORS, ROLES};
use super::parts::{csrf_field, incomplete, label, options};
use crate::http::console::kit::{audit, html, owned, see_other, tr, Viewer};
use crate::http::console::pages::{check_form, failed, frame, open_page, viewer_lang};
use crate::http::console::staff::table;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::base::rfc3339;
use crate::service::registry::requests::RegistrationRequest;

const HERE: &str = "/console/actor-requests";

/// `GET /console/actor-requests`: the pending requests, newest first, each with its forms.
pub(super) async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, v, _) = match open_page(&st, &headers, "GET", "/api/v1/actor-requests").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let rows = match blocking(move || svc.registry().requests().registration_requests()).await {
        Ok(r) => r,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let intro = tr(
        lang,
        "参与方在参与方页面生成密钥后提交的登记申请（已用该密钥签名）。登记前，请通过申请人留下的联系方式与其逐字核对 SHA-256 指纹：申请内容由申请人自行填写，平台未核实。",
        "Requests actors sent from the actor page after making a key there (each signed with that key). Before registering one, read the SHA-256 fingerprint back to the requester through the contact they gave: what a request says was written by the requester and is not checked by the platform.",
    );
    let list = if rows.is_empty() {
        format!(
            "<p class=\"empty\">{}</p>",
            tr(lang, "没有待处理的申请。", "No requests are waiting.")
        )
    } else {
        rows.iter().map(|r| request_card(lang, &v, r)).collect()
    };
    let body = format!(
        "<p>{intro}</p><p>{} {}</p>{list}",
        tr(lang, "待处理：", "Waiting:"),
        rows.len()
    );
    let title = tr(lang, "登记申请", "Registration requests");
    html(StatusCode::OK, frame(lang, title, Some(&v), HERE, &body))
}

fn request_card(lang: Lang, v: &Viewer, r: &RegistrationRequest) -> String {
    let role = r.role.as_str();
    let head = [
        ("收到时间", "Received"),
        ("申请的编号", "Id asked for"),
        ("机构", "Organisation"),
        ("国家/地区", "Country"),
        ("角色", "Role"),
        ("联系方式", "Contact"),
        ("备注", "Note"),
        ("SHA-256 指纹", "SHA-256 fingerprint"),
    ];
    let row = format!(
        "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono fp\">{}</td></tr>",
        esc(&rfc3339(r.received_at)),
        esc(&r.actor),
        esc(&r.organisation),
        esc(&r.country),
        label(lang, ROLES, role),
        esc(&r.contact),
        esc(r.note.as_deref().unwrap_or("—")),
        esc(&grouped(&r.fingerprint)),
    );
    format!(
        "<section class=\"request\" data-fingerprint=\"{fp}\">{}{}{}</section>",
        table(lang, &head, &row),
        register_form(lang, v, r),
        dismiss_form(lang, v, r),
        fp = esc(&r.fingerprint),
    )
}

/// The registry's own registration form, filled from the request (the operator may change
/// the id, organisation, country or role before registering).
fn register_form(lang: Lang, v: &Viewer, r: &RegistrationRequest) -> String {
    let id = format!("r{}", &r.fingerprint[..16.min(r.fingerprint.len())]);
    format!(
        "<form method=\"post\" action=\"{ACTORS}\" class=\"register\">{}\
         <input type=\"hidden\" name=\"public_key\" value=\"{}\">\
         <label for=\"{id}-id\">{}</label><input type=\"text\" id=\"{id}-id\" name=\"id\" value=\"{}\" required pattern=\"[a-z0-9-]{{2,64}}\">\
         <label for=\"{id}-org\">{}</label><input type=\"text\" id=\"{id}-org\" name=\"organisation\" value=\"{}\" required>\
         <label for=\"{id}-country\">{}</label><input type=\"text\" id=\"{id}-country\" name=\"country\" value=\"{}\" required maxlength=\"2\" class=\"short\">\
         <label for=\"{id}-role\">{}</label><select id=\"{id}-role\" name=\"role\">{}</select>\
         <button class=\"primary\" type=\"submit\">{}</button></form>",
        csrf_field(v),
        esc(&r.public_key),
        tr(lang, "编号", "Id"),
        esc(&r.actor),
        tr(lang, "机构名称", "Organisation"),
        esc(&r.organisation),
        tr(lang, "国家/地区", "Country"),
        esc(&r.country),
        tr(lang, "角色", "Role"),
        options(lang, ROLES, r.role.as_str()),
        tr(lang, "已核对指纹，登记", "Fingerprint checked: register"),
    )
}

fn dismiss_form(lang: Lang, v: &Viewer, r: &RegistrationRequest) -> String {
    format!(
        "<form method=\"post\" action=\"{HERE}/{}/dismiss\" class=\"dismiss\">{}\
         <button class=\"danger\" type=\"submit\">{}</button></form>",
        esc(&r.fingerprint),
        csrf_field(v),
        tr(lang, "驳回申请", "Dismiss"),
    )
}

/// The dismiss form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct DismissForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /console/actor-requests/{fingerprint}/dismiss`: the API route's grant, the one
/// service call, the audit record, back to the list.
pub(super) async fn dismiss(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    fp: Result<Path<String>, PathRejection>,
    form: Result<Form<DismissForm>, FormRejection>,
) -> Response {
    let (lang, v) = match viewer_lang(&st, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (Ok(Path(fp)), Ok(Form(f))) = (fp, form) else {
        return incomplete(lang, &v, HERE);
    };
    if let Some(refused) = check_form(lang, &v, &f.csrf_token) {
        return refused;
    }
    let api = "/api/v1/actor-requests/{fingerprint}";
    if let Err((s, why)) = owned(&st, &v.principal, "DELETE", api, None).await {
        return failed(lang, &v, s, &why, HERE);
    }
    let svc = st.svc.clone();
    let key = fp.clone();
    let done = blocking(move || svc.registry().requests().dismiss_registration(&key)).await;
    let code = done
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::NO_CONTENT);
    let path = format!("{HERE}/{fp}/dismiss");
    let route = "/console/actor-requests/{fingerprint}/dismiss";
    audit(
        &st,
        &v,
        "POST",
        route,
        &path,
        &[("fingerprint", fp)],
        None,
        code,
    )
    .await;
    match done {
        Ok(()) => see_other(HERE),
        Err(e) => failed(lang, &v, e.status, &e.detail, HERE),
    }
}

//! Enterprises: the list (`GET /api/v1/enterprises`: an enterprise role sees its own), a new
//! one (`POST /api/v1/enterprises`) and an enterprise's page (`GET /api/v1/enterprises/{id}`)
//! with its edit form (`PUT /api/v1/enterprises/{id}`) and its credit profile (`credit.rs`).
//! The forms check the USCC as it is typed (the console's script, `console.js`, on these pages
//! only); the server checks it again with the API's rule (`gs1::Uscc::parse`).

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::parts::{csrf_field, field, incomplete};
use crate::authz::Target;
use crate::http::console::kit::{
    audit, html, html_scripted, js_name, owned, scope, see_other, tr, Viewer,
};
use crate::http::console::pages::{
    check_form, failed, frame, frame_with, open_page, viewer_lang, ROWS,
};
use crate::http::console::staff::table;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::master::{Enterprise, EnterpriseInput};

const HERE: &str = "/console/enterprises";

/// `?after=` of the list.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    after: Option<u64>,
}

/// `GET /console/enterprises`: up to [`ROWS`] enterprises by id, the way to the next ones.
pub(super) async fn list(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let (lang, v, only) = match open_page(&st, &headers, "GET", "/api/v1/enterprises").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Query(q)) = q else {
        return incomplete(lang, &v, HERE);
    };
    let after = q.after.unwrap_or(0);
    let svc = st.svc.clone();
    let listed = blocking(move || match only {
        Some(own) => Ok(vec![svc.master().enterprise(own)?]),
        None => svc.master().list_enterprises(after, ROWS),
    })
    .await;
    let rows = match listed {
        Ok(r) => r,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let new = match scope(&v.principal, "POST", "/api/v1/enterprises") {
        Ok(_) => format!(
            "<p><a class=\"download\" href=\"{HERE}/new\">{}</a></p>",
            tr(lang, "登记新企业", "Register an enterprise")
        ),
        Err(_) => String::new(),
    };
    let next = match rows.last().filter(|_| rows.len() == ROWS) {
        Some(last) => format!(
            "<p><a href=\"{HERE}?after={}\">{}</a></p>",
            last.id,
            tr(lang, "下一页 →", "Next →")
        ),
        None => String::new(),
    };
    let body = format!("{new}{}{next}", list_table(lang, &rows));
    let title = tr(lang, "企业", "Enterprises");
    html(StatusCode::OK, frame(lang, title, Some(&v), HERE, &body))
}

fn list_table(lang: Lang, rows: &[Enterprise]) -> String {
    let body: String = rows
        .iter()
        .map(|e| {
            format!(
                "<tr><td><a href=\"{HERE}/{id}\">{id}</a></td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.name),
                esc(&e.uscc),
                esc(&e.country),
                esc(&e.updated_at),
                id = e.id
            )
        })
        .collect();
    let head = [
        ("编号", "Id"),
        ("名称", "Name"),
        ("统一社会信用代码", "USCC"),
        ("国家/地区", "Country"),
        ("更新时间", "Updated"),
    ];
    table(lang, &head, &body)
}

/// A page with the enterprise form: the script that checks the USCC, and the CSP that allows it.
fn scripted_page(lang: Lang, title: &str, v: &Viewer, here: &str, body: &str) -> Response {
    let head = format!(
        "<script src=\"/console/assets/{}\" defer></script>",
        js_name()
    );
    html_scripted(
        StatusCode::OK,
        frame_with(lang, title, Some(v), here, body, &head),
    )
}

/// The enterprise form (new when `e` is `None`), the USCC checked as it is typed.
fn enterprise_form(lang: Lang, v: &Viewer, e: Option<&Enterprise>) -> String {
    let (action, name, uscc, country, go) = match e {
        Some(e) => (
            format!("{HERE}/{}", e.id),
            e.name.as_str(),
            e.uscc.as_str(),
            e.country.as_str(),
            tr(lang, "保存修改", "Save the changes"),
        ),
        None => (HERE.to_string(), "", "", "", tr(lang, "登记", "Register")),
    };
    format!(
        "<form method=\"post\" action=\"{action}\" class=\"enterprise\">{}\
         <label for=\"name\">{}</label><input type=\"text\" id=\"name\" name=\"name\" value=\"{}\" required maxlength=\"200\">\
         <label for=\"uscc\">{}</label><input type=\"text\" id=\"uscc\" name=\"uscc\" value=\"{}\" required maxlength=\"18\" \
         autocomplete=\"off\" spellcheck=\"false\" class=\"mono\" data-check=\"uscc\" aria-describedby=\"uscc-check\">\
         <output id=\"uscc-check\" for=\"uscc\" class=\"check\" aria-live=\"polite\" data-ok=\"{}\" data-length=\"{}\" \
         data-char=\"{}\" data-region=\"{}\" data-check=\"{}\"></output>\
         <label for=\"country\">{}</label><input type=\"text\" id=\"country\" name=\"country\" value=\"{}\" required maxlength=\"2\" class=\"short\">\
         <button class=\"primary\" type=\"submit\">{go}</button></form>",
        csrf_field(v),
        tr(lang, "企业名称", "Legal name"),
        esc(name),
        tr(lang, "统一社会信用代码（18 位）", "Unified social credit code (USCC, 18 characters)"),
        esc(uscc),
        tr(lang, "✓ 校验位正确", "✓ check character correct"),
        tr(lang, "应为 18 位，现为", "must have 18 characters, has"),
        tr(lang, "不允许的字符（不含 I、O、S、V、Z）：", "character not allowed (no I, O, S, V, Z):"),
        tr(lang, "第 3–8 位（行政区划码）须为数字：", "positions 3–8 (division code) must be digits:"),
        tr(lang, "校验位错误，应为", "wrong check character, expected"),
        tr(lang, "国家/地区（ISO 两位字母，如 AU）", "Country (ISO two letters, e.g. AU)"),
        esc(country),
    )
}

/// `GET /console/enterprises/new` (the operator).
pub(super) async fn new_form(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, v, _) = match open_page(&st, &headers, "POST", "/api/v1/enterprises").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let body = format!("<section>{}</section>", enterprise_form(lang, &v, None));
    let title = tr(lang, "登记新企业", "Register an enterprise");
    scripted_page(lang, title, &v, HERE, &body)
}

/// The enterprise form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct EnterpriseForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    uscc: String,
    #[serde(default)]
    country: String,
}

impl EnterpriseForm {
    fn input(&self) -> EnterpriseInput {
        EnterpriseInput {
            name: self.name.clone(),
            uscc: self.uscc.trim().to_string(),
            country: self.country.trim().to_string(),
        }
    }
}

/// The viewer and the form, its CSRF token checked, or the answer.
async fn read_form(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    form: Result<Form<EnterpriseForm>, FormRejection>,
) -> Result<(Lang, Viewer, EnterpriseForm), Response> {
    let (lang, v) = viewer_lang(st, headers).await?;
    let Ok(Form(f)) = form else {
        return Err(incomplete(lang, &v, HERE));
    };
    match check_form(lang, &v, &f.csrf_token) {
        Some(refused) => Err(refused),
        None => Ok((lang, v, f)),
    }
}

/// `POST /console/enterprises`: `POST /api/v1/enterprises` from the form, then its page.
pub(super) async fn create(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<EnterpriseForm>, FormRejection>,
) -> Response {
    let (lang, v, f) = match read_form(&st, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err((s, why)) = owned(&st, &v.principal, "POST", "/api/v1/enterprises", None).await {
        return failed(lang, &v, s, &why, HERE);
    }
    let (svc, input) = (st.svc.clone(), f.input());
    let made = blocking(move || svc.master().create_enterprise(&input)).await;
    let code = made
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::CREATED);
    let id = made.as_ref().map(|e| e.id.to_string()).unwrap_or_default();
    audit(&st, &v, "POST", HERE, HERE, &[("id", id)], None, code).await;
    match made {
        Ok(e) => see_other(&format!("{HERE}/{}", e.id)),
        Err(e) => failed(lang, &v, e.status, &e.detail, &format!("{HERE}/new")),
    }
}

/// `GET /console/enterprises/{id}`: the enterprise, its edit form (the operator), its credit.
pub(super) async fn page(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> Response {
    let (lang, v) = match viewer_lang(&st, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Path(id)) = id else {
        return incomplete(lang, &v, HERE);
    };
    let target = Some(Target::Enterprise(id));
    let route = "/api/v1/enterprises/{id}";
    if let Err((s, why)) = owned(&st, &v.principal, "GET", route, target).await {
        return failed(lang, &v, s, &why, HERE);
    }
    let svc = st.svc.clone();
    let e = match blocking(move || svc.master().enterprise(id)).await {
        Ok(e) => e,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let credit = match super::credit::section(&st, lang, &v, id).await {
        Ok(c) => c,
        Err((s, why)) => return failed(lang, &v, s, &why, HERE),
    };
    let grade = match super::grade::section(&st, lang, id).await {
        Ok(g) => g,
        Err((s, why)) => return failed(lang, &v, s, &why, HERE),
    };
    let editable = scope(&v.principal, "PUT", route).is_ok();
    let edit = match editable {
        true => format!(
            "<section><h2>{}</h2>{}</section>",
            tr(lang, "修改", "Edit"),
            enterprise_form(lang, &v, Some(&e))
        ),
        false => String::new(),
    };
    let body = format!(
        "<section>{}</section>{edit}{grade}{credit}",
        details(lang, &e)
    );
    let here = format!("{HERE}/{id}");
    match editable {
        true => scripted_page(lang, &e.name, &v, &here, &body),
        false => html(StatusCode::OK, frame(lang, &e.name, Some(&v), &here, &body)),
    }
}

fn details(lang: Lang, e: &Enterprise) -> String {
    let rows = [
        field(lang, "编号", "Id", &e.id.to_string()),
        field(lang, "名称", "Name", &esc(&e.name)),
        field(
            lang,
            "统一社会信用代码",
            "USCC",
            &format!("<span class=\"mono\">{}</span>", esc(&e.uscc)),
        ),
        field(lang, "国家/地区", "Country", &esc(&e.country)),
        field(lang, "登记时间", "Registered", &esc(&e.created_at)),
        field(lang, "更新时间", "Updated", &esc(&e.updated_at)),
    ]
    .concat();
    format!("<div class=\"table\"><table class=\"record\"><tbody>{rows}</tbody></table></div>")
}

/// `POST /console/enterprises/{id}`: `PUT /api/v1/enterprises/{id}` from the form.
pub(super) async fn update(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    form: Result<Form<EnterpriseForm>, FormRejection>,
) -> Response {
    let (lang, v, f) = match read_form(&st, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Path(id)) = id else {
        return incomplete(lang, &v, HERE);
    };
    let back = format!("{HERE}/{id}");
    let target = Some(Target::Enterprise(id));
    let owner = match owned(&st, &v.principal, "PUT", "/api/v1/enterprises/{id}", target).await {
        Ok(o) => o,
        Err((s, why)) => return failed(lang, &v, s, &why, &back),
    };
    let (svc, input) = (st.svc.clone(), f.input());
    let done = blocking(move || svc.master().update_enterprise(id, &input)).await;
    let code = done.as_ref().map_or_else(|e| e.status, |_| StatusCode::OK);
    let route = "/console/enterprises/{id}";
    audit(
        &st,
        &v,
        "POST",
        route,
        &back,
        &[("id", id.to_string())],
        owner,
        code,
    )
    .await;
    match done {
        Ok(_) => see_other(&back),
        Err(e) => failed(lang, &v, e.status, &e.detail, &back),
    }
}

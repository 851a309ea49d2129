//! Engagements: the custody actors an enterprise engages (`GET
//! /api/v1/enterprises/{id}/engagements`), the form that engages one (`POST …/engagements`:
//! the actor and, optionally, the GTINs it covers) and the button that ends one (`POST
//! …/engagements/{actor_id}/end`). An enterprise admin sees and changes its own enterprise's;
//! the operator picks the enterprise (`?enterprise_id=`).

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::form::{admit, admit_enterprise, finish, form_enterprise, ok_page, when, Write};
use super::words;
use crate::authz::Target;
use crate::custody::engagement::Period;
use crate::http::console::kit::{owned, tr};
use crate::http::console::pages::{failed, open_page, ROWS};
use crate::http::console::staff::table;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::custody::Actor;
use crate::service::engagements::{EngagementInput, EngagementView};

const HERE: &str = "/console/engagements";
const LIST: &str = "/api/v1/enterprises/{id}/engagements";
const END: &str = "/api/v1/enterprises/{id}/engagements/{actor_id}/end";

/// `?enterprise_id=`: whose engagements (the operator's choice; an enterprise role's own).
#[derive(Debug, Default, Deserialize)]
pub(in crate::http::console) struct Whose {
    #[serde(default)]
    enterprise_id: Option<String>,
}

/// `GET /console/engagements`: the enterprise's engagements, with the forms for who may
/// change them.
pub(in crate::http::console) async fn page(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<Whose>, QueryRejection>,
) -> Response {
    let (lang, v, _) = match open_page(&st, &headers, "GET", LIST).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let asked = q
        .ok()
        .and_then(|Query(q)| q.enterprise_id)
        .unwrap_or_default();
    let title = tr(lang, "合作方授权", "Engaged actors");
    let Some(e) = form_enterprise(&v, &asked) else {
        return ok_page(lang, &v, title, HERE, &chooser(lang, ""));
    };
    let target = || Some(Target::Enterprise(e));
    if let Err((s, why)) = owned(&st, &v.principal, "GET", LIST, target()).await {
        return failed(lang, &v, s, &why, HERE);
    }
    let svc = st.svc.clone();
    let read = blocking(move || {
        let mut list = svc.engagements().list_engagements(e)?;
        list.truncate(ROWS);
        let mut actors = Vec::with_capacity(list.len());
        for g in &list {
            actors.push(svc.registry().actor(&g.actor_id).ok());
        }
        let known = svc.registry().list_actors("", ROWS)?;
        Ok((list, actors, known))
    })
    .await;
    let (list, actors, known) = match read {
        Ok(x) => x,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let may_engage = owned(&st, &v.principal, "POST", LIST, target())
        .await
        .is_ok();
    let may_end = owned(&st, &v.principal, "POST", END, target())
        .await
        .is_ok();
    let csrf = esc(&v.session.csrf_token);
    let pick = match v.principal.enterprise {
        None => chooser(lang, &e.to_string()),
        Some(_) => String::new(),
    };
    let rows = engagement_rows(lang, &list, &actors, may_end.then_some(&*csrf));
    let head = [
        ("合作方", "Actor"),
        ("角色", "Role"),
        ("商品", "Products"),
        ("期间", "Period"),
        ("状态", "State"),
    ];
    let form = match may_engage {
        true => engage_form(lang, e, &csrf, &known),
        false => String::new(),
    };
    let body = format!(
        "{pick}<section><h2>{} {e}</h2>{}</section>{form}",
        tr(lang, "企业", "Enterprise"),
        table(lang, &head, &rows)
    );
    ok_page(lang, &v, title, HERE, &body)
}

/// The operator's enterprise picker (a GET form).
fn chooser(lang: Lang, current: &str) -> String {
    format!(
        "<form class=\"filters\" method=\"get\" action=\"{HERE}\"><div><label for=\"pick\">{}</label>\
         <input type=\"text\" inputmode=\"numeric\" id=\"pick\" name=\"enterprise_id\" value=\"{}\" required></div>\
         <button type=\"submit\">{}</button></form>",
        tr(lang, "企业编号", "Enterprise id"),
        esc(current),
        tr(lang, "查看", "Show"),
    )
}

fn period_words(lang: Lang, p: &Period) -> String {
    let until = p
        .until()
        .map(when)
        .unwrap_or_else(|| tr(lang, "未定", "open-ended").into());
    format!("{} → {until}", when(p.not_before))
}

fn engagement_rows(
    lang: Lang,
    list: &[EngagementView],
    actors: &[Option<Actor>],
    end_csrf: Option<&str>,
) -> String {
    list.iter()
        .zip(actors)
        .map(|(g, a)| {
            let last = g.periods.last();
            let gtins = match last.map(|p| p.gtins.join(", ")) {
                Some(s) if !s.is_empty() => s,
                _ => tr(lang, "全部商品", "all products").into(),
            };
            let state = match (g.active, g.open, end_csrf) {
                (_, true, Some(csrf)) => format!(
                    "{} <form method=\"post\" action=\"{HERE}/{}/{}/end\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\"><button type=\"submit\" class=\"small\">{}</button></form>",
                    tr(lang, "有效", "in force"),
                    g.enterprise_id,
                    esc(&g.actor_id),
                    tr(lang, "终止", "End")
                ),
                (_, true, None) => tr(lang, "有效", "in force").into(),
                _ => tr(lang, "已终止", "ended").into(),
            };
            let (org, role) = a
                .as_ref()
                .map(|a| (a.organisation.clone(), words::role(lang, a.role.as_str())))
                .unwrap_or_default();
            format!(
                "<tr><td><span class=\"mono\">{}</span> {}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{state}</td></tr>",
                esc(&g.actor_id),
                esc(&org),
                esc(&role),
                esc(&gtins),
                last.map(|p| period_words(lang, p)).unwrap_or_default(),
            )
        })
        .collect()
}

fn engage_form(lang: Lang, e: u64, csrf: &str, known: &[Actor]) -> String {
    let options: String = known
        .iter()
        .map(|a| {
            format!(
                "<option value=\"{}\">{} · {}</option>",
                esc(&a.id),
                esc(&a.organisation),
                esc(&words::role(lang, a.role.as_str()))
            )
        })
        .collect();
    format!(
        "<section><h2>{h}</h2><form method=\"post\" action=\"{HERE}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\"><input type=\"hidden\" name=\"enterprise_id\" value=\"{e}\">\
         <label for=\"actor_id\">{a}</label><input type=\"text\" id=\"actor_id\" name=\"actor_id\" list=\"actors\" required><datalist id=\"actors\">{options}</datalist>\
         <label for=\"gtins\">{g}</label><input type=\"text\" id=\"gtins\" name=\"gtins\">\
         <button class=\"primary\" type=\"submit\">{go}</button></form></section>",
        h = tr(lang, "授权合作方", "Engage an actor"),
        a = tr(lang, "合作方编号（已在平台登记）", "Actor id (registered with the platform)"),
        g = tr(lang, "限定商品 GTIN（可选，以空格或逗号分隔；留空为全部商品）", "Only these GTINs (optional, separated by spaces or commas; empty: every product)"),
        go = tr(lang, "授权", "Engage"),
    )
}

/// The engagement forms' fields.
#[derive(Debug, Default, Deserialize)]
pub(in crate::http::console) struct EngageForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    enterprise_id: String,
    #[serde(default)]
    actor_id: String,
    #[serde(default)]
    gtins: String,
}

fn back(e: Option<u64>) -> String {
    e.map(|e| format!("{HERE}?enterprise_id={e}"))
        .unwrap_or_else(|| HERE.into())
}

/// `POST /console/engagements`: engages an actor (the grant of
/// `POST /api/v1/enterprises/{id}/engagements` on the enterprise the form names).
pub(in crate::http::console) async fn engage(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<EngageForm>, FormRejection>,
) -> Response {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let named = f.enterprise_id.trim().parse::<u64>().ok();
    let w = Write {
        api: ("POST", LIST),
        console: HERE,
        path: HERE.into(),
        named: vec![("actor_id", f.actor_id.clone())],
        back: back(named),
    };
    let form = (f.csrf_token.as_str(), f.enterprise_id.as_str());
    let (a, e) = match admit_enterprise(&st, &headers, form, &w, None).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let input = EngagementInput {
        actor_id: f.actor_id.trim().to_string(),
        gtins: f
            .gtins
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        not_before: None,
        not_after: None,
    };
    let svc = st.svc.clone();
    let done = blocking(move || svc.engagements().engage(e, &input)).await;
    finish(&st, &a, &w, done, StatusCode::CREATED, |_| back(Some(e))).await
}

/// The end button's form.
#[derive(Debug, Default, Deserialize)]
pub(in crate::http::console) struct EndForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /console/engagements/{enterprise}/{actor}/end`: ends the actor's engagement (the
/// grant of `POST /api/v1/enterprises/{id}/engagements/{actor_id}/end`).
pub(in crate::http::console) async fn end(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    p: Result<Path<(u64, String)>, PathRejection>,
    form: Result<Form<EndForm>, FormRejection>,
) -> Response {
    let (e, actor) = p.map(|Path(x)| x).unwrap_or_default();
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let w = Write {
        api: ("POST", END),
        console: "/console/engagements/{enterprise}/{actor}/end",
        path: format!("{HERE}/{e}/{actor}/end"),
        named: vec![("id", e.to_string()), ("actor_id", actor.clone())],
        back: back(Some(e)),
    };
    let a = match admit(&st, &headers, &f.csrf_token, &w, |_| {
        Some(vec![Target::Enterprise(e)])
    })
    .await
    {
        Ok(a) => a,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let done = blocking(move || svc.engagements().end_engagement(e, &actor)).await;
    finish(&st, &a, &w, done, StatusCode::OK, |_| back(Some(e))).await
}

//! An enterprise's credit on its console page: the current profile (what a consumer's scan
//! shows, with the live count of upheld complaints), every version of it (the service behind
//! the public `GET /api/v1/credit/{id}/history`), and for the operator the form that writes a
//! new version (`PUT /api/v1/enterprises/{id}/credit`). The form keeps the profile's
//! disclosures and may add one.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::parts::{csrf_field, field, from_wire, incomplete, label, options, wire};
use crate::authz::Target;
use crate::http::console::kit::{audit, new_request_id, owned, scope, see_other, tr, Viewer};
use crate::http::console::pages::{check_form, failed, viewer_lang, ROWS};
use crate::http::console::staff::table;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::credit::{
    CreditInput, CreditProfile, CreditVersion, Disclosure, DisclosureCategory, DishonestListing,
    Rating,
};

const RATINGS: &[(&str, &str, &str)] = &[
    ("A", "A 优", "A excellent"),
    ("B", "B 良", "B good"),
    ("C", "C 中", "C fair"),
    ("D", "D 差", "D poor"),
];

const CATEGORIES: &[(&str, &str, &str)] = &[
    ("registration", "登记信息", "registration"),
    ("business", "经营信息", "business"),
    ("regulatory", "监管信息", "regulatory"),
    ("service", "服务信息", "service"),
    ("reward", "奖励", "rewards"),
    ("punishment", "处罚", "punishments"),
    ("complaint", "投诉处理", "complaints handled"),
];

/// The credit section of enterprise `id`'s page.
pub(super) async fn section(
    st: &Arc<AppState>,
    lang: Lang,
    v: &Viewer,
    id: u64,
) -> Result<String, (StatusCode, String)> {
    let svc = st.svc.clone();
    let (current, versions) = blocking(move || {
        let e = svc.master().enterprise(id)?;
        let current = svc.consumer().find_credit(id, &e.name)?;
        Ok((current, svc.consumer().credit_history(id)?))
    })
    .await
    .map_err(|e| (e.status, e.detail))?;
    let form = match scope(&v.principal, "PUT", "/api/v1/enterprises/{id}/credit") {
        Ok(_) => credit_form(lang, v, id, current.as_ref()),
        Err(_) => String::new(),
    };
    Ok(format!(
        "<section id=\"credit\"><h2>{}</h2>{}</section><section><h2>{}</h2>{}</section>{form}",
        tr(lang, "信用档案", "Credit profile"),
        profile(lang, current.as_ref()),
        tr(lang, "信用档案历史", "Credit profile history"),
        history(lang, &versions),
    ))
}

fn rating_name(lang: Lang, r: Rating) -> &'static str {
    label(lang, RATINGS, &wire(&r))
}

fn profile(lang: Lang, p: Option<&CreditProfile>) -> String {
    let Some(p) = p else {
        let none = tr(lang, "尚未建立信用档案。", "No credit profile yet.");
        return format!("<p class=\"muted\">{none}</p>");
    };
    let dishonest = p.dishonest.as_ref().map_or_else(
        || tr(lang, "否", "no").to_string(),
        |d| {
            format!(
                "{} · {} · {}",
                esc(&d.reason),
                esc(&d.listed_on),
                esc(&d.authority)
            )
        },
    );
    let rows = [
        field(lang, "评级", "Rating", rating_name(lang, p.rating)),
        field(lang, "评级日期", "Rated on", &esc(&p.rated_on)),
        field(
            lang,
            "依据",
            "Basis",
            &esc(p.basis.as_deref().unwrap_or("—")),
        ),
        field(
            lang,
            "属实投诉（消费者可见）",
            "Upheld complaints (shown to consumers)",
            &format!("<strong class=\"upheld\">{}</strong>", p.complaints_upheld),
        ),
        field(lang, "失信名单", "Dishonesty list", &dishonest),
        field(
            lang,
            "披露事项",
            "Disclosures",
            &disclosures(&p.disclosures),
        ),
        field(lang, "版本", "Version", &p.version.to_string()),
        field(lang, "更新时间", "Updated", &esc(&p.updated_at)),
    ]
    .concat();
    format!("<div class=\"table\"><table class=\"record\"><tbody>{rows}</tbody></table></div>")
}

fn disclosures(list: &[Disclosure]) -> String {
    let items: String = list
        .iter()
        .take(ROWS)
        .map(|d| {
            format!(
                "<li>{} · {} · {}</li>",
                esc(&d.date),
                esc(&wire(&d.category)),
                esc(&d.title)
            )
        })
        .collect();
    match items.is_empty() {
        true => "—".into(),
        false => format!("<ul class=\"plain\">{items}</ul>"),
    }
}

/// The versions, newest first (at most [`ROWS`]).
fn history(lang: Lang, versions: &[CreditVersion]) -> String {
    let rows: String = versions
        .iter()
        .rev()
        .take(ROWS)
        .map(|h| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                h.version,
                esc(&h.written_at),
                rating_name(lang, h.profile.rating),
                esc(&h.profile.rated_on),
                esc(&h.by_role),
                esc(&h.request_id),
                h.leaf_index,
            )
        })
        .collect();
    let head = [
        ("版本", "Version"),
        ("写入时间", "Written"),
        ("评级", "Rating"),
        ("评级日期", "Rated on"),
        ("写入角色", "By role"),
        ("请求编号", "Request id"),
        ("日志叶序号", "Log leaf"),
    ];
    table(lang, &head, &rows)
}

fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

fn credit_form(lang: Lang, v: &Viewer, id: u64, p: Option<&CreditProfile>) -> String {
    let rating = p.map_or_else(|| "B".to_string(), |p| wire(&p.rating));
    let basis = p.and_then(|p| p.basis.as_deref()).unwrap_or("");
    let d = p.and_then(|p| p.dishonest.as_ref());
    let text = |fid: &str, name: &str, label: &str, value: &str| {
        format!(
            "<label for=\"{fid}\">{label}</label><input type=\"text\" id=\"{fid}\" name=\"{name}\" value=\"{}\">",
            esc(value)
        )
    };
    format!(
        "<section><h2>{}</h2><form method=\"post\" action=\"/console/enterprises/{id}/credit\">{}\
         <label for=\"rating\">{}</label><select id=\"rating\" name=\"rating\">{}</select>{}\
         <label for=\"basis\">{}</label><textarea id=\"basis\" name=\"basis\" rows=\"3\" maxlength=\"2000\">{}</textarea>{}\
         <fieldset><legend>{}</legend>{}{}{}</fieldset>\
         <fieldset><legend>{}</legend><label for=\"d-category\">{}</label><select id=\"d-category\" name=\"disclosure_category\">{}</select>{}{}</fieldset>\
         <button class=\"primary\" type=\"submit\">{}</button></form></section>",
        tr(lang, "设置信用档案", "Set the credit profile"),
        csrf_field(v),
        tr(lang, "评级", "Rating"),
        options(lang, RATINGS, &rating),
        text("rated_on", "rated_on", tr(lang, "评级日期（YYYY-MM-DD）", "Rated on (YYYY-MM-DD)"), &today()),
        tr(lang, "依据", "Basis"),
        esc(basis),
        text(
            "return_days",
            "return_days",
            tr(lang, "无理由退货承诺天数（如 7；留空表示未承诺）", "No-reason-return promise, days (e.g. 7; empty: none)"),
            &p.and_then(|p| p.return_days).map_or(String::new(), |d| d.to_string())
        ),
        tr(lang, "失信名单（填写原因即列入；留空即移出）", "Dishonesty list (a reason lists it; empty takes it off)"),
        text("d-reason", "dishonest_reason", tr(lang, "原因", "Reason"), d.map_or("", |d| d.reason.as_str())),
        text("d-listed", "dishonest_listed_on", tr(lang, "列入日期（YYYY-MM-DD）", "Listed on (YYYY-MM-DD)"), d.map_or("", |d| d.listed_on.as_str())),
        text("d-authority", "dishonest_authority", tr(lang, "列入机关", "Authority"), d.map_or("", |d| d.authority.as_str())),
        tr(lang, "新增一项披露（可选；已有披露保留）", "Add a disclosure (optional; those there are kept)"),
        tr(lang, "类别", "Category"),
        options(lang, CATEGORIES, "regulatory"),
        text("d-title", "disclosure_title", tr(lang, "标题", "Title"), ""),
        text("d-date", "disclosure_date", tr(lang, "日期（YYYY-MM-DD）", "Date (YYYY-MM-DD)"), ""),
        tr(lang, "保存新版本", "Save a new version"),
    )
}

/// The credit form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct CreditForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    rating: String,
    #[serde(default)]
    rated_on: String,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    dishonest_reason: String,
    #[serde(default)]
    dishonest_listed_on: String,
    #[serde(default)]
    dishonest_authority: String,
    #[serde(default)]
    disclosure_category: String,
    #[serde(default)]
    disclosure_title: String,
    #[serde(default)]
    disclosure_date: String,
    #[serde(default)]
    return_days: String,
}

impl CreditForm {
    /// The API's body: the form's fields, the profile's disclosures kept (`kept`).
    fn input(&self, kept: Vec<Disclosure>) -> Result<CreditInput, String> {
        let rating = from_wire::<Rating>(&self.rating)
            .ok_or_else(|| format!("rating must be A, B, C or D, got {:?}", self.rating))?;
        let mut disclosures = kept;
        if !self.disclosure_title.trim().is_empty() {
            let category =
                from_wire::<DisclosureCategory>(&self.disclosure_category).ok_or_else(|| {
                    format!("unknown disclosure category {:?}", self.disclosure_category)
                })?;
            disclosures.push(Disclosure {
                category,
                title: self.disclosure_title.trim().to_string(),
                detail: None,
                date: self.disclosure_date.trim().to_string(),
                source: None,
            });
        }
        let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let return_days =
            match self.return_days.trim() {
                "" => None,
                d => Some(d.parse::<u32>().map_err(|_| {
                    format!("return days must be a whole number of days, got {d:?}")
                })?),
            };
        Ok(CreditInput {
            return_days,
            rating,
            rated_on: self.rated_on.trim().to_string(),
            basis: some(&self.basis),
            disclosures,
            dishonest: some(&self.dishonest_reason).map(|reason| DishonestListing {
                reason,
                listed_on: self.dishonest_listed_on.trim().to_string(),
                authority: self.dishonest_authority.trim().to_string(),
            }),
        })
    }
}

/// `POST /console/enterprises/{id}/credit`: a new version of the profile, written by the
/// service behind `PUT /api/v1/enterprises/{id}/credit` (a log leaf naming the request id that
/// the audit record carries too).
pub(super) async fn set(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    form: Result<Form<CreditForm>, FormRejection>,
) -> Response {
    let (lang, mut v) = match viewer_lang(&st, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (Ok(Path(id)), Ok(Form(f))) = (id, form) else {
        return incomplete(lang, &v, "/console/enterprises");
    };
    if let Some(refused) = check_form(lang, &v, &f.csrf_token) {
        return refused;
    }
    let back = format!("/console/enterprises/{id}");
    let route = "/api/v1/enterprises/{id}/credit";
    let target = Some(Target::Enterprise(id));
    let owner = match owned(&st, &v.principal, "PUT", route, target).await {
        Ok(o) => o,
        Err((s, why)) => return failed(lang, &v, s, &why, &back),
    };
    v.principal.request = new_request_id();
    let (svc, p) = (st.svc.clone(), v.principal.clone());
    let done = blocking(move || {
        let e = svc.master().enterprise(id)?;
        let kept = svc
            .consumer()
            .find_credit(id, &e.name)?
            .map(|c| c.disclosures)
            .unwrap_or_default();
        let input = f
            .input(kept)
            .map_err(|why| crate::service::errors::InputError::field("rating", why))?;
        svc.consumer().put_credit(id, &input, &p)
    })
    .await;
    let code = done.as_ref().map_or_else(|e| e.status, |_| StatusCode::OK);
    let path = format!("{back}/credit");
    let console = "/console/enterprises/{id}/credit";
    audit(
        &st,
        &v,
        "POST",
        console,
        &path,
        &[("id", id.to_string())],
        owner,
        code,
    )
    .await;
    match done {
        Ok(_) => see_other(&format!("{back}#credit")),
        Err(e) => failed(lang, &v, e.status, &e.detail, &back),
    }
}

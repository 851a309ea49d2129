//! The console's pages: the frame (menu, who is signed in, sign-out, language), sign-in,
//! home, batches, the audit trail, and the refusal page. The dashboard is in `dashboard.rs`.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use super::kit::{css_name, html, login_token, scope, see_other, tr, viewer, Viewer};
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::audit::AuditFilter;

/// Most rows a console table shows (pages stay small: under 100 KB).
pub(super) const ROWS: usize = 100;

/// A menu entry: its texts, its page, and the API route whose grant opens it.
struct Entry {
    zh: &'static str,
    en: &'static str,
    href: &'static str,
    route: Option<(&'static str, &'static str)>,
}

const MENU: &[Entry] = &[
    Entry {
        zh: "首页",
        en: "Home",
        href: "/console/",
        route: None,
    },
    Entry {
        zh: "批次",
        en: "Batches",
        href: "/console/batches",
        route: Some(("GET", "/api/v1/batches/{id}")),
    },
    Entry {
        zh: "商品",
        en: "Products",
        href: "/console/products",
        route: Some(("POST", "/api/v1/products")),
    },
    Entry {
        zh: "批号与流转",
        en: "Lots",
        href: "/console/lots",
        route: Some(("POST", "/api/v1/lots")),
    },
    Entry {
        zh: "合作方",
        en: "Engagements",
        href: "/console/engagements",
        route: Some(("POST", "/api/v1/enterprises/{id}/engagements")),
    },
    Entry {
        zh: "员工与令牌",
        en: "Staff",
        href: "/console/staff",
        route: Some(("GET", "/api/v1/users")),
    },
    Entry {
        zh: "审计记录",
        en: "Audit trail",
        href: "/console/audit",
        route: Some(("GET", "/api/v1/audit")),
    },
    Entry {
        zh: "投诉",
        en: "Complaints",
        href: "/console/complaints",
        route: Some(("GET", "/api/v1/complaints")),
    },
    Entry {
        zh: "企业",
        en: "Enterprises",
        href: "/console/enterprises",
        route: Some(("GET", "/api/v1/enterprises")),
    },
    Entry {
        zh: "参与方",
        en: "Actors",
        href: "/console/actors",
        route: Some(("POST", "/api/v1/actors")),
    },
    Entry {
        zh: "登记申请",
        en: "Registration requests",
        href: "/console/actor-requests",
        route: Some(("GET", "/api/v1/actor-requests")),
    },
    Entry {
        zh: "锚定与日志",
        en: "Health",
        href: "/console/health",
        route: Some(("GET", "/metrics")),
    },
    Entry {
        zh: "监管看板",
        en: "Dashboard",
        href: "/console/dashboard",
        route: Some(("GET", "/api/v1/scans/forged")),
    },
    Entry {
        zh: "风险看板",
        en: "Risks",
        href: "/console/risks",
        route: Some(("GET", "/api/v1/scans/forged")),
    },
];

pub(super) fn role_name(lang: Lang, role: &str) -> &'static str {
    match role {
        "operator" => tr(lang, "平台运营方", "Operator"),
        "regulator" => tr(lang, "监管部门", "Regulator"),
        "enterprise_admin" => tr(lang, "企业管理员", "Enterprise admin"),
        _ => tr(lang, "标签打印员", "Label printer"),
    }
}

/// The entries the viewer's role may open (the menu shows nothing else).
fn entries(v: &Viewer) -> impl Iterator<Item = &'static Entry> + '_ {
    MENU.iter().filter(|e| {
        e.route
            .is_none_or(|(m, p)| scope(&v.principal, m, p).is_ok())
    })
}

fn menu(lang: Lang, v: &Viewer, here: &str) -> String {
    let items: String = entries(v)
        .map(|e| {
            let cur = if e.href == here {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!(
                "<li><a href=\"{}\"{cur}>{}</a></li>",
                e.href,
                esc(tr(lang, e.zh, e.en))
            )
        })
        .collect();
    format!(
        "<nav aria-label=\"{}\"><ul>{items}</ul></nav>",
        tr(lang, "主菜单", "Main menu")
    )
}

fn lang_switch(lang: Lang, here: &str) -> String {
    let (to, label) = match lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    format!(
        "<a class=\"lang\" href=\"/console/lang?to={to}&amp;back={}\" hreflang=\"{to}\">{label}</a>",
        esc(here)
    )
}

/// The frame of a page: head, the header (menu, viewer, sign-out, language) and `body`.
pub(super) fn frame(lang: Lang, title: &str, v: Option<&Viewer>, here: &str, body: &str) -> String {
    frame_with(lang, title, v, here, body, "")
}

/// [`frame`] with more in the head (e.g. a refresh while something is in progress).
pub(super) fn frame_with(
    lang: Lang,
    title: &str,
    v: Option<&Viewer>,
    here: &str,
    body: &str,
    head: &str,
) -> String {
    let top = match v {
        Some(v) => format!(
            "{}<div class=\"who\"><span>{} · {}</span><form method=\"post\" action=\"/console/logout\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{}\"><button type=\"submit\">{}</button></form>{}</div>",
            menu(lang, v, here),
            esc(&v.session.username),
            role_name(lang, &v.session.role),
            esc(&v.session.csrf_token),
            tr(lang, "退出", "Sign out"),
            lang_switch(lang, here),
        ),
        None => lang_switch(lang, here),
    };
    format!(
        "<!doctype html><html lang=\"{hl}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">{head}<title>{t} · traceseal</title>\
         <link rel=\"stylesheet\" href=\"/console/assets/{css}\"></head><body>\
         <header><a class=\"brand\" href=\"/console/\">traceseal {c}</a>{top}</header>\
         <main><h1>{t}</h1>{body}</main></body></html>",
        hl = lang.html(),
        t = esc(title),
        css = css_name(),
        c = tr(lang, "管理台", "console"),
    )
}

/// The sign-in page (with a message after a failed attempt).
pub(super) fn login_page(
    st: &AppState,
    lang: Lang,
    status: StatusCode,
    msg: Option<&str>,
) -> Response {
    let (token, cookie) = login_token(&st.config.sessions);
    let err = msg
        .map(|m| format!("<p class=\"err\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default();
    let body = format!(
        "{err}<form class=\"login\" method=\"post\" action=\"/console/login\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{token}\">\
         <label for=\"username\">{u}</label><input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <label for=\"password\">{p}</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <button class=\"primary\" type=\"submit\">{s}</button></form>",
        u = tr(lang, "用户名", "User name"),
        p = tr(lang, "密码", "Password"),
        s = tr(lang, "登录", "Sign in"),
    );
    let mut res = html(
        status,
        frame(
            lang,
            tr(lang, "登录", "Sign in"),
            None,
            "/console/login",
            &body,
        ),
    );
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

pub(super) async fn login_form(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers, None);
    if viewer(&st, &headers).await.is_some() {
        return see_other("/console/");
    }
    login_page(&st, lang, StatusCode::OK, None)
}

/// The refusal page (403): the viewer's role may not open this page or make this request.
pub(super) fn refusal(lang: Lang, v: &Viewer, why: &str) -> Response {
    let body = format!(
        "<p class=\"err\" role=\"alert\">{}</p><p class=\"muted\">{}</p>",
        esc(why),
        tr(
            lang,
            "如需此权限，请联系您的管理员。",
            "Ask your administrator if you need this."
        ),
    );
    html(
        StatusCode::FORBIDDEN,
        frame(
            lang,
            tr(lang, "无权访问", "Not allowed"),
            Some(v),
            "",
            &body,
        ),
    )
}

/// The page for a signed-in viewer of `here`, or the way to sign-in.
/// An error page: the refusal page for a 403, else the reason with a way back to `back`.
pub(super) fn failed(
    lang: Lang,
    v: &Viewer,
    status: StatusCode,
    why: &str,
    back: &str,
) -> Response {
    if status == StatusCode::FORBIDDEN {
        return refusal(lang, v, why);
    }
    let body = format!(
        "<p class=\"err\" role=\"alert\">{}</p><p><a href=\"{}\">{}</a></p>",
        esc(why),
        esc(back),
        tr(lang, "返回", "Back")
    );
    let title = tr(lang, "出错了", "Something went wrong");
    html(status, frame(lang, title, Some(v), back, &body))
}

/// A form's CSRF token checked against the viewer's session: `None` when it matches, else the
/// refusal page.
pub(super) fn check_form(lang: Lang, v: &Viewer, token: &str) -> Option<Response> {
    if super::kit::same(token, &v.session.csrf_token) {
        return None;
    }
    let why = tr(
        lang,
        "表单缺少有效的 CSRF 令牌，已拒绝。",
        "The form carried no valid CSRF token; refused.",
    );
    Some(refusal(lang, v, why))
}

/// The language, the viewer and what it may see of a page opened by the grant on API route
/// `method path` (`None`: everything; `Some(e)`: enterprise `e`'s), or the way to sign in, or
/// the refusal page.
pub(super) async fn open_page(
    st: &Arc<AppState>,
    h: &HeaderMap,
    method: &'static str,
    path: &'static str,
) -> Result<(Lang, Viewer, Option<u64>), Response> {
    let (lang, v) = viewer_lang(st, h).await?;
    match scope(&v.principal, method, path) {
        Ok(only) => Ok((lang, v, only)),
        Err(r) => Err(refusal(lang, &v, &r.to_string())),
    }
}

/// The page language and the signed-in viewer, or the way to sign in.
pub(super) async fn viewer_lang(
    st: &Arc<AppState>,
    h: &HeaderMap,
) -> Result<(Lang, Viewer), Response> {
    let lang = Lang::from_headers(h, None);
    Ok((lang, signed_in(st, h).await?))
}

pub(super) async fn signed_in(st: &Arc<AppState>, headers: &HeaderMap) -> Result<Viewer, Response> {
    viewer(st, headers)
        .await
        .ok_or_else(|| see_other("/console/login"))
}

pub(super) async fn home(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers, None);
    let v = match signed_in(&st, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cards: String = entries(&v)
        .filter(|e| e.route.is_some())
        .map(|e| {
            format!(
                "<div class=\"card\"><a href=\"{}\">{}</a></div>",
                e.href,
                esc(tr(lang, e.zh, e.en))
            )
        })
        .collect();
    let ent = v
        .session
        .enterprise_id
        .map(|e| format!("{} {e}", tr(lang, "· 企业", "· enterprise")))
        .unwrap_or_default();
    let body = format!(
        "<p>{} <strong>{}</strong> · {} {}</p><div class=\"cards\">{cards}</div>",
        tr(lang, "已登录：", "Signed in as"),
        esc(&v.session.username),
        role_name(lang, &v.session.role),
        esc(&ent),
    );
    html(
        StatusCode::OK,
        frame(lang, tr(lang, "首页", "Home"), Some(&v), "/console/", &body),
    )
}

pub(super) async fn batches(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, v, only) = match open_page(&st, &headers, "GET", "/api/v1/batches/{id}").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let list = blocking(move || {
        let gtins: Option<HashSet<String>> = match only {
            Some(e) => Some(
                svc.master()
                    .list_products(Some(e), None, 1000)?
                    .into_iter()
                    .map(|p| p.gtin)
                    .collect(),
            ),
            None => None,
        };
        svc.issuance().recent_batches(gtins.as_ref(), ROWS)
    })
    .await;
    let rows = match list {
        Ok(l) => l,
        Err(e) => {
            return html(
                e.status,
                frame(
                    lang,
                    "traceseal",
                    Some(&v),
                    "/console/batches",
                    &esc(&e.detail),
                ),
            )
        }
    };
    let new = match scope(&v.principal, "POST", "/api/v1/batches") {
        Ok(_) => format!(
            "<p><a class=\"download\" href=\"/console/batches/new\">{}</a></p>",
            tr(lang, "签发新批次", "Issue a new batch")
        ),
        Err(_) => String::new(),
    };
    let body = format!("{new}{}", batch_table(lang, &rows));
    html(
        StatusCode::OK,
        frame(
            lang,
            tr(lang, "批次", "Batches"),
            Some(&v),
            "/console/batches",
            &body,
        ),
    )
}

fn batch_table(lang: Lang, rows: &[crate::service::issuance::Batch]) -> String {
    if rows.is_empty() {
        return format!(
            "<p class=\"muted\">{}</p>",
            tr(lang, "还没有批次。", "No batches yet.")
        );
    }
    let head = [
        ("编号", "Id"),
        ("商品 GTIN", "GTIN"),
        ("批号", "Lot"),
        ("数量", "Quantity"),
        ("已签发", "Issued"),
        ("状态", "Status"),
        ("创建时间", "Created"),
    ]
    .iter()
    .map(|(z, e)| format!("<th scope=\"col\">{}</th>", tr(lang, z, e)))
    .collect::<String>();
    let body: String = rows
        .iter()
        .map(|b| {
            let st = serde_json::to_value(b.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let label = match st.as_str() {
                "complete" => tr(lang, "已完成", "complete"),
                _ => tr(lang, "签发中", "issuing"),
            };
            format!(
                "<tr><td><a href=\"/console/batches/{id}\">{id}</a></td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"st-{}\">{}</td><td>{}</td></tr>",
                esc(&b.gtin), esc(&b.lot), b.quantity, b.issued, esc(&st), label, esc(&b.created_at),
                id = b.id
            )
        })
        .collect();
    format!("<div class=\"table\"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
}

pub(super) async fn audit(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, v, only) = match open_page(&st, &headers, "GET", "/api/v1/audit").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let filter = AuditFilter {
        enterprise: only,
        ..AuditFilter::default()
    };
    let page = match blocking(move || svc.audit().list(&filter, None, ROWS)).await {
        Ok(p) => p,
        Err(e) => {
            return html(
                e.status,
                frame(
                    lang,
                    "traceseal",
                    Some(&v),
                    "/console/audit",
                    &esc(&e.detail),
                ),
            )
        }
    };
    let head = [
        ("时间", "Time"),
        ("操作者", "Principal"),
        ("角色", "Role"),
        ("请求", "Request"),
        ("结果", "Outcome"),
        ("请求编号", "Request id"),
    ]
    .iter()
    .map(|(z, e)| format!("<th scope=\"col\">{}</th>", tr(lang, z, e)))
    .collect::<String>();
    let body: String = page
        .records
        .iter()
        .map(|r| {
            format!(
                "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{} {}</td><td>{} {}</td><td class=\"mono\">{}</td></tr>",
                esc(&r.at), esc(&r.principal), role_name(lang, &r.role), esc(&r.method), esc(&r.path), r.status, esc(&r.outcome), short_id(&r.request_id)
            )
        })
        .collect();
    let table = format!("<div class=\"table\"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>");
    html(
        StatusCode::OK,
        frame(
            lang,
            tr(lang, "审计记录", "Audit trail"),
            Some(&v),
            "/console/audit",
            &table,
        ),
    )
}

/// The first 12 characters of a request id, the whole id on hover.
fn short_id(id: &str) -> String {
    let short: String = id.chars().take(12).collect();
    format!("<span title=\"{}\">{}…</span>", esc(id), esc(&short))
}

//! The console: the web interface of warehouse staff, enterprise admins, the operator and
//! regulators (`docs/console.md`). Server-rendered HTML, one stylesheet of our own under a
//! content-hashed name, nothing external, a strict CSP, no script but one small one of our own
//! (the USCC checked as it is typed) on the enterprise form pages only; Chinese by default, English
//! on a switch (the `ts_lang` cookie, shared with the scan page).
//!
//! Sign-in is the session of `http::session` (the same limits, the same cookie). Every form
//! post carries a CSRF token in a hidden field: the session's, or before sign-in a random one
//! bound to a short-lived cookie (so a login form cannot be posted from another site). What a
//! page shows is what the authorization table (`crate::authz`) gives the role on the API
//! route behind it, menus included: a page the role may not use is a refusal page (403).

mod admin;
mod chart;
mod dashboard;
mod issue;
mod kit;
mod operator;
mod pages;
mod print;
mod printform;
mod risks;
mod staff;

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use self::kit::{
    css_name, html, js_name, same, see_other, tr, viewer, CSS, DEV_LOGIN_COOKIE, JS, LOGIN_COOKIE,
};
use super::cookie::{clear_cookie, session_cookie, set_cookie};
use super::page::{esc, Lang};
use super::state::{blocking, AppState};

/// The console's routes, behind the public rate limit.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/", get(pages::home))
        .route("/console/login", get(pages::login_form).post(login))
        .route("/console/logout", post(logout))
        .route("/console/lang", get(switch_lang))
        .route("/console/batches", get(pages::batches).post(issue::issue))
        .route("/console/batches/new", get(issue::form))
        .route("/console/batches/{id}", get(print::batch))
        .route("/console/batches/{id}/print", post(print::print))
        .route("/console/batches/{id}/preview", post(print::preview))
        .route("/console/batches/{id}/preview.svg", get(print::preview_svg))
        .route("/console/print-jobs/{id}", get(print::job))
        .route("/console/print-jobs/{id}/output", get(print::output))
        .route("/console/audit", get(pages::audit))
        .route("/console/staff", get(staff::page))
        .route("/console/staff/users", post(staff::add_user))
        .route(
            "/console/staff/users/{username}/disable",
            post(staff::disable_user),
        )
        .route(
            "/console/staff/users/{username}/password",
            post(staff::reset_password),
        )
        .route("/console/staff/tokens", post(staff::add_token))
        .route(
            "/console/staff/tokens/{id}/revoke",
            post(staff::revoke_token),
        )
        .route("/console/dashboard", get(dashboard::page))
        .route("/console/dashboard.csv", get(dashboard::csv))
        .route("/console/risks", get(risks::page))
        .route("/console/risks.csv", get(risks::csv))
        .route("/console/assets/{name}", get(asset))
        .merge(admin::routes())
        .merge(operator::routes())
        .route_layer(middleware::from_fn_with_state(
            state,
            super::public::rate_limit,
        ))
}

fn login_cookie(headers: &HeaderMap, dev: bool) -> Option<String> {
    let name = if dev { DEV_LOGIN_COOKIE } else { LOGIN_COOKIE };
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: String,
    csrf_token: String,
}

async fn login(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let lang = Lang::from_headers(req.headers(), None);
    let network = st.client_ip(&req).map(super::session::network_of);
    let dev = st.config.sessions.dev_mode;
    let bound = login_cookie(req.headers(), dev).unwrap_or_default();
    let replaces = session_cookie(req.headers(), dev);
    let form: Result<Form<LoginForm>, FormRejection> = Form::from_request(req, &()).await;
    let Ok(Form(f)) = form else {
        return pages::login_page(
            &st,
            lang,
            StatusCode::BAD_REQUEST,
            Some(tr(
                lang,
                "请填写用户名和密码。",
                "Enter your user name and password.",
            )),
        );
    };
    if !same(&f.csrf_token, &bound) {
        return pages::login_page(
            &st,
            lang,
            StatusCode::FORBIDDEN,
            Some(tr(
                lang,
                "登录表单已过期或并非来自本站，请重试。",
                "The sign-in form expired or did not come from this site; try again.",
            )),
        );
    }
    match super::session::checked_sign_in(&st, network, f.username, f.password, replaces).await {
        Ok(s) => {
            let mut res = see_other("/console/");
            res.headers_mut()
                .append(header::SET_COOKIE, set_cookie(&st.config.sessions, &s.id));
            res
        }
        Err(e) => pages::login_page(&st, lang, e.status, Some(&e.detail)),
    }
}

/// The logout form's field.
#[derive(Debug, Deserialize)]
struct LogoutForm {
    csrf_token: String,
}

async fn logout(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let lang = Lang::from_headers(&headers, None);
    let Some(v) = viewer(&st, &headers).await else {
        return see_other("/console/login");
    };
    let token = form.map(|Form(f)| f.csrf_token).unwrap_or_default();
    if !same(&token, &v.session.csrf_token) {
        return pages::refusal(
            lang,
            &v,
            tr(
                lang,
                "表单缺少有效的 CSRF 令牌，已拒绝。",
                "The form carried no valid CSRF token; refused.",
            ),
        );
    }
    if let Some(id) = session_cookie(&headers, st.config.sessions.dev_mode) {
        let svc = st.svc.clone();
        let _ = blocking(move || svc.accounts().sign_out(&id)).await;
    }
    let mut res = see_other("/console/login");
    res.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(&st.config.sessions));
    res
}

/// `?to=zh|en&back=/console/…`.
#[derive(Debug, Deserialize)]
struct LangQuery {
    to: String,
    back: Option<String>,
}

/// The language switch: sets `ts_lang` and goes back (to a console page only).
async fn switch_lang(q: Result<Query<LangQuery>, QueryRejection>) -> Response {
    let Ok(Query(q)) = q else {
        return see_other("/console/");
    };
    let lang = Lang::parse(&q.to).unwrap_or(Lang::Zh);
    let back = q
        .back
        .filter(|b| b.starts_with("/console/") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/console/".into());
    let mut res = see_other(&back);
    let c = format!(
        "ts_lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        match lang {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn asset(p: Result<Path<String>, PathRejection>) -> Response {
    let (kind, body) = match p {
        Ok(Path(name)) if name == css_name() => ("text/css; charset=utf-8", CSS),
        Ok(Path(name)) if name == js_name() => ("text/javascript; charset=utf-8", JS),
        _ => ("", ""),
    };
    match kind {
        "" => html(
            StatusCode::NOT_FOUND,
            format!(
                "<!doctype html><title>404</title><p>{}</p>",
                esc("no such asset")
            ),
        ),
        _ => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response(),
    }
}

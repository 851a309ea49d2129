//! Staff: users and API tokens from the console. An enterprise admin manages its own
//! enterprise's (label printers and other admins); the operator everyone's. The grants are the
//! API's (`GET`/`POST /api/v1/users`, `…/disable`, `GET`/`POST /api/v1/tokens`, `…/revoke`);
//! an enterprise admin cannot grant a platform role or another enterprise's (the accounts unit
//! refuses it); every change is audited and logged (`traceseal/account/v1`).

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::kit::{audit, html, owned, see_other, tr, Viewer};
use super::pages::{check_form, frame, open_page, viewer_lang};
use crate::authz::{Role, Target};
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::accounts::users::{UserInput, UserView};
use crate::service::accounts::{TokenInput, TokenView};

const HERE: &str = "/console/staff";

fn failed(lang: Lang, v: &Viewer, status: StatusCode, why: &str) -> Response {
    super::pages::failed(lang, v, status, why, HERE)
}

/// `GET /console/staff`: the users and tokens, with their forms.
pub(super) async fn page(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (lang, v, only) = match open_page(&st, &headers, "GET", "/api/v1/users").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let lists =
        blocking(move || Ok((svc.accounts().users(only)?, svc.accounts().tokens(only)?))).await;
    let (users, tokens) = match lists {
        Ok(l) => l,
        Err(e) => return failed(lang, &v, e.status, &e.detail),
    };
    let csrf = esc(&v.session.csrf_token);
    let body = format!(
        "<section><h2>{}</h2>{}{}</section><section><h2>{}</h2>{}{}</section>",
        tr(lang, "用户", "Users"),
        user_table(lang, &users, &csrf, &v.session.username),
        user_form(lang, &v, &csrf),
        tr(lang, "API 令牌", "API tokens"),
        token_table(lang, &tokens, &csrf),
        token_form(lang, &v, &csrf),
    );
    html(
        StatusCode::OK,
        frame(
            lang,
            tr(lang, "员工与令牌", "Staff and tokens"),
            Some(&v),
            HERE,
            &body,
        ),
    )
}

/// The roles the viewer may grant, the least powerful first (the default choice).
fn role_options(lang: Lang, v: &Viewer) -> String {
    Role::ALL
        .iter()
        .rev()
        .filter(|r| v.principal.role == Role::Operator || r.is_enterprise_role())
        .map(|r| {
            format!(
                "<option value=\"{r}\">{}</option>",
                super::pages::role_name(lang, r.as_str())
            )
        })
        .collect()
}

/// The operator names the enterprise of an enterprise role; an enterprise admin's is its own.
fn enterprise_field(lang: Lang, v: &Viewer, id: &str) -> String {
    match v.principal.role {
        Role::Operator => format!(
            "<label for=\"{id}\">{}</label><input type=\"text\" inputmode=\"numeric\" id=\"{id}\" name=\"enterprise_id\">",
            tr(lang, "企业编号（企业角色必填）", "Enterprise id (for enterprise roles)")
        ),
        _ => String::new(),
    }
}

fn user_form(lang: Lang, v: &Viewer, csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{HERE}/users\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"username\">{u}</label><input type=\"text\" id=\"username\" name=\"username\" required>\
         <label for=\"password\">{p}</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" required>\
         <label for=\"user-role\">{r}</label><select id=\"user-role\" name=\"role\">{opts}</select>{ent}\
         <button class=\"primary\" type=\"submit\">{go}</button></form>",
        u = tr(lang, "用户名", "User name"),
        p = tr(lang, "初始密码（至少 12 个字符）", "Initial password (12 characters or more)"),
        r = tr(lang, "角色", "Role"),
        opts = role_options(lang, v),
        ent = enterprise_field(lang, v, "user-enterprise"),
        go = tr(lang, "添加用户", "Add the user"),
    )
}

fn token_form(lang: Lang, v: &Viewer, csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{HERE}/tokens\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"token-name\">{n}</label><input type=\"text\" id=\"token-name\" name=\"name\" required>\
         <label for=\"token-role\">{r}</label><select id=\"token-role\" name=\"role\">{opts}</select>{ent}\
         <button class=\"primary\" type=\"submit\">{go}</button></form>",
        n = tr(lang, "用途（例如：仓库打印机）", "What it is for (e.g. warehouse printer)"),
        r = tr(lang, "角色", "Role"),
        opts = role_options(lang, v),
        ent = enterprise_field(lang, v, "token-enterprise"),
        go = tr(lang, "创建令牌", "Make the token"),
    )
}

/// A one-button form posting the CSRF token to `action`.
pub(super) fn button(action: &str, csrf: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\"><button type=\"submit\" class=\"small\">{}</button></form>",
        esc(action),
        esc(label)
    )
}

/// The form that resets a user's password (the administrator tells the user the new one).
fn reset_form(lang: Lang, username: &str, csrf: &str) -> String {
    let id = format!("reset-{}", esc(username));
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{HERE}/users/{u}/password\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"{id}\">{l}</label><input type=\"password\" id=\"{id}\" name=\"password\" autocomplete=\"new-password\" minlength=\"12\" required>\
         <button type=\"submit\" class=\"small\">{go}</button></form>",
        u = esc(username),
        csrf = esc(csrf),
        l = tr(lang, "新密码", "New password"),
        go = tr(lang, "重置密码", "Reset password"),
    )
}

fn user_table(lang: Lang, users: &[UserView], csrf: &str, me: &str) -> String {
    let rows: String = users
        .iter()
        .map(|u| {
            let state = match &u.disabled_at {
                Some(d) => format!("{} {}", tr(lang, "已停用", "disabled"), esc(d)),
                None if u.username == me => tr(lang, "（您自己）", "(you)").to_string(),
                None => format!(
                    "{}{}",
                    button(&format!("{HERE}/users/{}/disable", u.username), csrf, tr(lang, "停用", "Disable")),
                    reset_form(lang, &u.username, csrf)
                ),
            };
            let ent = u.enterprise_id.map(|e| e.to_string()).unwrap_or_default();
            format!(
                "<tr><td class=\"mono\">{}</td><td>{}</td><td>{ent}</td><td>{}</td><td>{state}</td></tr>",
                esc(&u.username),
                super::pages::role_name(lang, &u.role),
                esc(&u.created_at)
            )
        })
        .collect();
    let head = [
        ("用户名", "User"),
        ("角色", "Role"),
        ("企业", "Enterprise"),
        ("创建时间", "Created"),
        ("状态", "State"),
    ];
    table(lang, &head, &rows)
}

fn token_table(lang: Lang, tokens: &[TokenView], csrf: &str) -> String {
    let rows: String = tokens
        .iter()
        .map(|t| {
            let state = match &t.revoked_at {
                Some(r) => format!("{} {}", tr(lang, "已吊销", "revoked"), esc(r)),
                None => button(&format!("{HERE}/tokens/{}/revoke", t.id), csrf, tr(lang, "吊销", "Revoke")),
            };
            format!(
                "<tr><td class=\"mono\">tst_{}_…</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{state}</td></tr>",
                esc(&t.id),
                esc(&t.name),
                super::pages::role_name(lang, &t.role),
                esc(&t.expires_at),
                esc(t.last_used_at.as_deref().unwrap_or("—")),
            )
        })
        .collect();
    let head = [
        ("令牌", "Token"),
        ("用途", "For"),
        ("角色", "Role"),
        ("到期", "Expires"),
        ("最近使用", "Last used"),
        ("状态", "State"),
    ];
    table(lang, &head, &rows)
}

/// A table (scrolling sideways on phones) with head `head` (zh, en) and `rows`, or "none yet".
pub(super) fn table(lang: Lang, head: &[(&str, &str)], rows: &str) -> String {
    if rows.is_empty() {
        return format!(
            "<p class=\"muted\">{}</p>",
            tr(lang, "还没有。", "None yet.")
        );
    }
    let h: String = head
        .iter()
        .map(|(z, e)| format!("<th scope=\"col\">{}</th>", tr(lang, z, e)))
        .collect();
    format!("<div class=\"table\"><table><thead><tr>{h}</tr></thead><tbody>{rows}</tbody></table></div>")
}

/// The account forms' fields.
#[derive(Debug, Deserialize)]
pub(super) struct AccountForm {
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    enterprise_id: String,
}

impl AccountForm {
    /// The enterprise of the new account: the admin's own, or the operator's choice.
    fn enterprise(&self, v: &Viewer) -> Option<u64> {
        v.principal
            .enterprise
            .or_else(|| self.enterprise_id.trim().parse().ok())
    }
}

/// Checks the form's CSRF token and the grant of `route` on `target`; the owner.
async fn check(
    st: &Arc<AppState>,
    lang: Lang,
    v: &Viewer,
    f: &AccountForm,
    route: &'static str,
    target: Option<Target>,
) -> Result<Option<u64>, Response> {
    if let Some(r) = check_form(lang, v, &f.csrf_token) {
        return Err(r);
    }
    let t = target.or_else(|| f.enterprise(v).map(Target::Enterprise));
    match owned(st, &v.principal, "POST", route, t).await {
        Ok(o) => Ok(o),
        Err((s, why)) => Err(failed(lang, v, s, &why)),
    }
}

/// A form that makes an account: the page language, the viewer, the form, and the owner the
/// grant of `POST route` was checked on (CSRF token first); or the page to answer instead.
async fn posted(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    form: Result<Form<AccountForm>, FormRejection>,
    route: &'static str,
) -> Result<(Lang, Viewer, AccountForm, Option<u64>), Response> {
    let (lang, v) = viewer_lang(st, headers).await?;
    let Ok(Form(f)) = form else {
        let why = tr(lang, "表单不完整。", "The form is incomplete.");
        return Err(failed(lang, &v, StatusCode::BAD_REQUEST, why));
    };
    let owner = check(st, lang, &v, &f, route, None).await?;
    Ok((lang, v, f, owner))
}

/// `POST /console/staff/users`.
pub(super) async fn add_user(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Response {
    let (lang, v, f, owner) = match posted(&st, &headers, form, "/api/v1/users").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let input = UserInput {
        username: f.username.trim().to_string(),
        password: f.password.clone(),
        role: f.role.clone(),
        enterprise_id: f
            .enterprise(&v)
            .filter(|_| f.role.starts_with("enterprise") || f.role == "label_printer"),
    };
    let _slot = st.hashing.acquire().await;
    let (svc, p) = (st.svc.clone(), v.principal.clone());
    let made = blocking(move || svc.accounts().create_user(&input, &p)).await;
    let status = made
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::CREATED);
    audit(
        &st,
        &v,
        "POST",
        "/console/staff/users",
        "/console/staff/users",
        &[("username", f.username.clone())],
        owner,
        status,
    )
    .await;
    match made {
        Ok(_) => see_other(HERE),
        Err(e) => failed(lang, &v, e.status, &e.detail),
    }
}

/// `POST /console/staff/tokens`: the token, shown once.
pub(super) async fn add_token(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Response {
    let (lang, v, f, owner) = match posted(&st, &headers, form, "/api/v1/tokens").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let input = TokenInput {
        name: f.name.clone(),
        role: f.role.clone(),
        enterprise_id: f
            .enterprise(&v)
            .filter(|_| f.role == "enterprise_admin" || f.role == "label_printer"),
        expires_in_days: None,
    };
    let (svc, p) = (st.svc.clone(), v.principal.clone());
    let made = blocking(move || svc.accounts().create_token(&input, &p)).await;
    let status = made
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::CREATED);
    let id = made.as_ref().map(|t| t.view.id.clone()).unwrap_or_default();
    audit(
        &st,
        &v,
        "POST",
        "/console/staff/tokens",
        "/console/staff/tokens",
        &[("id", id)],
        owner,
        status,
    )
    .await;
    let t = match made {
        Ok(t) => t,
        Err(e) => return failed(lang, &v, e.status, &e.detail),
    };
    let body = format!(
        "<section><p>{}</p><p class=\"mono secret\">{}</p><p class=\"muted\">{} {}</p><p><a href=\"{HERE}\">{}</a></p></section>",
        tr(lang, "新令牌如下，只显示这一次：请立即复制并妥善保存。", "The new token, shown only now: copy it and keep it safe."),
        esc(&t.token),
        tr(lang, "到期：", "Expires:"),
        esc(&t.view.expires_at),
        tr(lang, "返回", "Back"),
    );
    html(
        StatusCode::CREATED,
        frame(lang, tr(lang, "新令牌", "New token"), Some(&v), HERE, &body),
    )
}

/// What a row's form does: end a user (disabled) or an API token (revoked), or reset a
/// user's password.
#[derive(Clone, Copy)]
enum Ending {
    User,
    Token,
    Reset,
}

impl Ending {
    /// The API route whose grant it needs, the console route, and the path's kind and key.
    fn routes(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Ending::User => (
                "/api/v1/users/{username}/disable",
                "/console/staff/users/{username}/disable",
                "users",
                "username",
            ),
            Ending::Token => (
                "/api/v1/tokens/{id}/revoke",
                "/console/staff/tokens/{id}/revoke",
                "tokens",
                "id",
            ),
            Ending::Reset => (
                "/api/v1/users/{username}/password",
                "/console/staff/users/{username}/password",
                "users",
                "username",
            ),
        }
    }
}

/// `POST /console/staff/users/{username}/disable`.
pub(super) async fn disable_user(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    name: Result<Path<String>, PathRejection>,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Response {
    end(&st, &headers, name, form, Ending::User).await
}

/// `POST /console/staff/users/{username}/password`.
pub(super) async fn reset_password(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    name: Result<Path<String>, PathRejection>,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Response {
    end(&st, &headers, name, form, Ending::Reset).await
}

/// `POST /console/staff/tokens/{id}/revoke`.
pub(super) async fn revoke_token(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Response {
    end(&st, &headers, id, form, Ending::Token).await
}

/// Disables a user or revokes a token: the form's CSRF token, the API route's grant on the
/// account's enterprise, the change, its audit record.
async fn end(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    key: Result<Path<String>, PathRejection>,
    form: Result<Form<AccountForm>, FormRejection>,
    what: Ending,
) -> Response {
    let (lang, v) = match viewer_lang(st, headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (Ok(Path(key)), Ok(Form(f))) = (key, form) else {
        let why = tr(lang, "表单不完整。", "The form is incomplete.");
        return failed(lang, &v, StatusCode::BAD_REQUEST, why);
    };
    let (api, console, kind, name) = what.routes();
    let target = match what {
        Ending::User | Ending::Reset => Target::User(key.clone()),
        Ending::Token => Target::Token(key.clone()),
    };
    let owner = match check(st, lang, &v, &f, api, Some(target)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let (svc, p, k, pw) = (st.svc.clone(), v.principal.clone(), key.clone(), f.password);
    let done = blocking(move || match what {
        Ending::User => svc.accounts().disable_user(&k, &p).map(drop),
        Ending::Token => svc.accounts().revoke_token(&k, &p).map(drop),
        Ending::Reset => svc.accounts().reset_password(&k, &pw, &p).map(drop),
    })
    .await;
    let status = done.as_ref().map_or_else(|e| e.status, |_| StatusCode::OK);
    let verb = api.rsplit('/').next().unwrap_or_default();
    let path = format!("{HERE}/{kind}/{key}/{verb}");
    audit(
        st,
        &v,
        "POST",
        console,
        &path,
        &[(name, key)],
        owner,
        status,
    )
    .await;
    match done {
        Ok(()) => see_other(HERE),
        Err(e) => failed(lang, &v, e.status, &e.detail),
    }
}

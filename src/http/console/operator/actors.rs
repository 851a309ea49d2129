//! The actor registry (the operator only; `POST /api/v1/actors`, `…/{id}/keys`,
//! `…/{id}/keys/{kid}/revoke`): the actors with their keys, registering one with a pasted
//! public key, adding or rotating a key and revoking one. Each key is shown with its
//! fingerprint computed here from the stored key: the SHA-256 of the 32-byte Ed25519 public
//! key, whose first 4 bytes are the key id (`code::KeyId::of`), so the operator can read it
//! back to the actor before the actor signs anything.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::parts::{csrf_field, field, from_wire, incomplete, label, options};
use crate::http::console::kit::{audit, html, owned, see_other, tr, Viewer};
use crate::http::console::pages::{check_form, failed, frame, open_page, viewer_lang, ROWS};
use crate::http::console::staff::table;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::base::rfc3339;
use crate::service::registry::{Actor, ActorInput, ActorKey, KeyInput, RevokeInput};

pub(super) const HERE: &str = "/console/actors";

pub(super) const ROLES: &[(&str, &str, &str)] = &[
    ("inspector", "境外检验机构", "inspector"),
    ("carrier", "承运人", "carrier"),
    ("customs_broker", "报关行", "customs broker"),
    ("bonded_warehouse", "保税仓", "bonded warehouse"),
    ("retailer", "零售商", "retailer"),
];

/// The SHA-256 fingerprint of a stored key (hex, in groups of 8; the first group is its kid).
pub(super) fn fingerprint(k: &ActorKey) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&k.public_key)
        .unwrap_or_default();
    grouped(&crate::custody::record::hex(&Sha256::digest(&raw)))
}

/// Hex in groups of 8 (a fingerprint as the operator reads it out).
pub(super) fn grouped(hex: &str) -> String {
    hex.as_bytes()
        .chunks(8)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A key's state at `now`: revoked (from when, why), else valid, not yet valid or expired.
fn key_state(lang: Lang, k: &ActorKey, now: i64) -> String {
    if let Some(from) = k.revoked_from {
        return format!(
            "{} {} ({})",
            tr(lang, "已吊销", "revoked"),
            esc(&rfc3339(from)),
            esc(k.revoke_reason.as_deref().unwrap_or(""))
        );
    }
    match k.valid_at(now) {
        Ok(()) => tr(lang, "有效", "valid").to_string(),
        Err(_) if now < k.not_before => tr(lang, "尚未生效", "not yet valid").to_string(),
        Err(_) => tr(lang, "已过期", "expired").to_string(),
    }
}

/// `?after=` of the list.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    after: String,
}

/// `GET /console/actors`: the actors (at most [`ROWS`]), their keys' fingerprints, the form.
pub(super) async fn list(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let (lang, v, _) = match open_page(&st, &headers, "POST", "/api/v1/actors").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Query(q)) = q else {
        return incomplete(lang, &v, HERE);
    };
    let svc = st.svc.clone();
    let after = q.after.clone();
    let rows = match blocking(move || svc.registry().list_actors(&after, ROWS)).await {
        Ok(r) => r,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let next = match rows.last().filter(|_| rows.len() == ROWS) {
        Some(last) => format!(
            "<p><a href=\"{HERE}?after={}\">{}</a></p>",
            esc(&last.id),
            tr(lang, "下一页 →", "Next →")
        ),
        None => String::new(),
    };
    let body = format!(
        "{}{next}<section><h2>{}</h2>{}</section>",
        actor_table(lang, &rows),
        tr(lang, "登记参与方", "Register an actor"),
        register_form(lang, &v),
    );
    let title = tr(lang, "参与方登记", "Actor registry");
    html(StatusCode::OK, frame(lang, title, Some(&v), HERE, &body))
}

fn role_name(lang: Lang, role: &str) -> &'static str {
    label(lang, ROLES, role)
}

fn actor_table(lang: Lang, rows: &[Actor]) -> String {
    let now = crate::service::now_unix();
    let body: String = rows
        .iter()
        .map(|a| {
            let keys: String = a
                .keys
                .iter()
                .map(|k| format!("<li><span class=\"mono\">{}</span> · {}</li>", esc(&k.kid), key_state(lang, k, now)))
                .collect();
            format!(
                "<tr><td class=\"mono\"><a href=\"{HERE}/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td><ul class=\"plain\">{keys}</ul></td></tr>",
                esc(&a.organisation),
                esc(&a.country),
                role_name(lang, a.role.as_str()),
                id = esc(&a.id),
            )
        })
        .collect();
    let head = [
        ("编号", "Id"),
        ("机构", "Organisation"),
        ("国家/地区", "Country"),
        ("角色", "Role"),
        ("密钥（指纹前 8 位）", "Keys (fingerprint, first 8)"),
    ];
    table(lang, &head, &body)
}

fn key_field(lang: Lang) -> String {
    format!(
        "<label for=\"public_key\">{}</label><textarea id=\"public_key\" name=\"public_key\" rows=\"4\" class=\"mono\" required \
         placeholder=\"-----BEGIN PUBLIC KEY-----\"></textarea>",
        tr(lang, "公钥（PEM 或 32 字节的 base64；切勿粘贴私钥）", "Public key (PEM, or base64 of the 32 bytes; never the private key)"),
    )
}

fn register_form(lang: Lang, v: &Viewer) -> String {
    format!(
        "<form method=\"post\" action=\"{HERE}\">{}\
         <label for=\"id\">{}</label><input type=\"text\" id=\"id\" name=\"id\" required pattern=\"[a-z0-9-]{{2,64}}\">\
         <label for=\"organisation\">{}</label><input type=\"text\" id=\"organisation\" name=\"organisation\" required>\
         <label for=\"country\">{}</label><input type=\"text\" id=\"country\" name=\"country\" required maxlength=\"2\" class=\"short\">\
         <label for=\"role\">{}</label><select id=\"role\" name=\"role\">{}</select>{}\
         <button class=\"primary\" type=\"submit\">{}</button></form>",
        csrf_field(v),
        tr(lang, "编号（小写字母、数字、-）", "Id (a-z, 0-9, -)"),
        tr(lang, "机构名称", "Organisation"),
        tr(lang, "国家/地区（ISO 两位字母）", "Country (ISO two letters)"),
        tr(lang, "角色", "Role"),
        options(lang, ROLES, "inspector"),
        key_field(lang),
        tr(lang, "登记", "Register"),
    )
}

/// The registry forms' fields.
#[derive(Debug, Deserialize)]
pub(super) struct ActorForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    replaces: String,
    #[serde(default)]
    reason: String,
}

impl ActorForm {
    fn key(&self) -> KeyInput {
        KeyInput {
            public_key: self.public_key.trim().to_string(),
            not_before: None,
            not_after: None,
            replaces: Some(self.replaces.clone()).filter(|r| !r.is_empty()),
        }
    }
}

/// What a registry form changes.
enum Change {
    Register,
    AddKey(String),
    Revoke(String, String),
}

impl Change {
    /// The API route whose grant it needs, the console route, the console path, its targets.
    fn routes(
        &self,
    ) -> (
        &'static str,
        &'static str,
        String,
        Vec<(&'static str, String)>,
    ) {
        match self {
            Change::Register => ("/api/v1/actors", HERE, HERE.into(), vec![]),
            Change::AddKey(id) => (
                "/api/v1/actors/{id}/keys",
                "/console/actors/{id}/keys",
                format!("{HERE}/{id}/keys"),
                vec![("id", id.clone())],
            ),
            Change::Revoke(id, kid) => (
                "/api/v1/actors/{id}/keys/{kid}/revoke",
                "/console/actors/{id}/keys/{kid}/revoke",
                format!("{HERE}/{id}/keys/{kid}/revoke"),
                vec![("id", id.clone()), ("kid", kid.clone())],
            ),
        }
    }
}

/// One registry change from a form: its CSRF token, the API route's grant, the one service
/// call, the audit record, then the actor's page.
async fn change(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    form: Result<Form<ActorForm>, FormRejection>,
    what: Change,
) -> Response {
    let (lang, v) = match viewer_lang(st, headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Form(f)) = form else {
        return incomplete(lang, &v, HERE);
    };
    if let Some(refused) = check_form(lang, &v, &f.csrf_token) {
        return refused;
    }
    let (api, console, path, targets) = what.routes();
    if let Err((s, why)) = owned(st, &v.principal, "POST", api, None).await {
        return failed(lang, &v, s, &why, HERE);
    }
    let svc = st.svc.clone();
    let done = blocking(move || {
        let reg = svc.registry();
        match what {
            Change::Register => reg.register_actor(&register_input(&f)?),
            Change::AddKey(id) => reg.add_actor_key(&id, &f.key()),
            Change::Revoke(id, kid) => {
                let r = RevokeInput {
                    reason: f.reason.clone(),
                    revoked_from: None,
                };
                reg.revoke_actor_key(&id, &kid, &r)
            }
        }
    })
    .await;
    let code = done
        .as_ref()
        .map_or_else(|e| e.status, |_| StatusCode::CREATED);
    audit(st, &v, "POST", console, &path, &targets, None, code).await;
    match done {
        Ok(a) => see_other(&format!("{HERE}/{}", a.id)),
        Err(e) => failed(lang, &v, e.status, &e.detail, HERE),
    }
}

fn register_input(f: &ActorForm) -> crate::service::Result<ActorInput> {
    let role = from_wire(&f.role).ok_or_else(|| {
        crate::service::errors::InputError::field(
            "role",
            format!("role must be one of inspector, carrier, customs_broker, bonded_warehouse, retailer, got {:?}", f.role),
        )
    })?;
    Ok(ActorInput {
        id: f.id.trim().to_string(),
        organisation: f.organisation.clone(),
        country: f.country.trim().to_string(),
        role,
        keys: vec![f.key()],
    })
}

/// `POST /console/actors`.
pub(super) async fn register(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<ActorForm>, FormRejection>,
) -> Response {
    change(&st, &headers, form, Change::Register).await
}

/// `POST /console/actors/{id}/keys`.
pub(super) async fn add_key(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<ActorForm>, FormRejection>,
) -> Response {
    match id {
        Ok(Path(id)) => change(&st, &headers, form, Change::AddKey(id)).await,
        Err(_) => see_other(HERE),
    }
}

/// `POST /console/actors/{id}/keys/{kid}/revoke`.
pub(super) async fn revoke_key(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    p: Result<Path<(String, String)>, PathRejection>,
    form: Result<Form<ActorForm>, FormRejection>,
) -> Response {
    match p {
        Ok(Path((id, kid))) => change(&st, &headers, form, Change::Revoke(id, kid)).await,
        Err(_) => see_other(HERE),
    }
}

/// `GET /console/actors/{id}`: the actor, its keys with their fingerprints, the key forms.
pub(super) async fn page(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let route = "/api/v1/actors/{id}/keys";
    let (lang, v, _) = match open_page(&st, &headers, "POST", route).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(Path(id)) = id else {
        return incomplete(lang, &v, HERE);
    };
    let svc = st.svc.clone();
    let a = match blocking(move || svc.registry().actor(&id)).await {
        Ok(a) => a,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let body = format!(
        "<section>{}</section><section><h2>{}</h2>{}</section><section><h2>{}</h2>{}</section><p><a href=\"{HERE}\">{}</a></p>",
        actor_details(lang, &a),
        tr(lang, "密钥", "Keys"),
        keys_table(lang, &v, &a),
        tr(lang, "添加或轮换密钥", "Add or rotate a key"),
        key_form(lang, &v, &a),
        tr(lang, "← 全部参与方", "← All actors"),
    );
    let title = format!("{} {}", tr(lang, "参与方", "Actor"), a.id);
    html(StatusCode::OK, frame(lang, &title, Some(&v), HERE, &body))
}

fn actor_details(lang: Lang, a: &Actor) -> String {
    let rows = [
        field(
            lang,
            "编号",
            "Id",
            &format!("<span class=\"mono\">{}</span>", esc(&a.id)),
        ),
        field(lang, "机构", "Organisation", &esc(&a.organisation)),
        field(lang, "国家/地区", "Country", &esc(&a.country)),
        field(lang, "角色", "Role", role_name(lang, a.role.as_str())),
        field(lang, "登记时间", "Registered", &esc(&rfc3339(a.created_at))),
    ]
    .concat();
    format!("<div class=\"table\"><table class=\"record\"><tbody>{rows}</tbody></table></div>")
}

fn keys_table(lang: Lang, v: &Viewer, a: &Actor) -> String {
    let now = crate::service::now_unix();
    let rows: String = a
        .keys
        .iter()
        .map(|k| {
            let revoke = match k.revoked_from {
                Some(_) => String::new(),
                None => revoke_form(lang, v, a, k),
            };
            format!(
                "<tr><td class=\"mono\">{}</td><td class=\"mono fp\">{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}{revoke}</td></tr>",
                esc(&k.kid),
                fingerprint(k),
                esc(&rfc3339(k.not_before)),
                k.not_after.map_or_else(|| "—".into(), |t| esc(&rfc3339(t))),
                esc(k.replaces.as_deref().unwrap_or("—")),
                key_state(lang, k, now),
            )
        })
        .collect();
    let head = [
        ("密钥编号", "Key id"),
        ("SHA-256 指纹", "SHA-256 fingerprint"),
        ("生效", "Valid from"),
        ("失效", "Valid until"),
        ("替换", "Replaces"),
        ("状态", "State"),
    ];
    table(lang, &head, &rows)
}

fn revoke_form(lang: Lang, v: &Viewer, a: &Actor, k: &ActorKey) -> String {
    format!(
        "<form method=\"post\" action=\"{HERE}/{}/keys/{}/revoke\" class=\"inline\">{}\
         <label for=\"reason-{kid}\">{}</label><input type=\"text\" id=\"reason-{kid}\" name=\"reason\" required maxlength=\"200\">\
         <button type=\"submit\" class=\"small\">{}</button></form>",
        esc(&a.id),
        esc(&k.kid),
        csrf_field(v),
        tr(lang, "吊销原因", "Reason to revoke"),
        tr(lang, "吊销", "Revoke"),
        kid = esc(&k.kid),
    )
}

fn key_form(lang: Lang, v: &Viewer, a: &Actor) -> String {
    let now = crate::service::now_unix();
    let mut replaces = vec![(
        String::new(),
        tr(lang, "不替换（新增）", "none (an added key)").to_string(),
    )];
    replaces.extend(a.keys.iter().filter(|k| k.valid_at(now).is_ok()).map(|k| {
        (
            k.kid.clone(),
            format!("{} {}", tr(lang, "替换", "rotate out"), k.kid),
        )
    }));
    let opts: String = replaces
        .iter()
        .map(|(val, label)| format!("<option value=\"{}\">{}</option>", esc(val), esc(label)))
        .collect();
    format!(
        "<form method=\"post\" action=\"{HERE}/{}/keys\">{}{}\
         <label for=\"replaces\">{}</label><select id=\"replaces\" name=\"replaces\">{opts}</select>\
         <button class=\"primary\" type=\"submit\">{}</button></form>",
        esc(&a.id),
        csrf_field(v),
        key_field(lang),
        tr(lang, "轮换", "Rotation"),
        tr(lang, "添加密钥", "Add the key"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_the_sha256_of_the_key_and_starts_with_its_kid() {
        let vk = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key();
        let k = ActorKey {
            kid: crate::code::KeyId::of(&vk).to_string(),
            public_key: base64::engine::general_purpose::STANDARD.encode(vk.as_bytes()),
            not_before: 0,
            not_after: None,
            revoked_from: None,
            revoke_reason: None,
            replaces: None,
            leaf_index: 0,
        };
        let fp = fingerprint(&k);
        assert_eq!(fp.len(), 64 + 7, "8 groups of 8 hex");
        assert!(fp.starts_with(&format!("{} ", k.kid)), "{fp}");
        let hex = crate::custody::record::hex(&Sha256::digest(vk.as_bytes()));
        assert_eq!(fp.replace(' ', ""), hex);
    }
}

//! What the console's browser tests share: the test users' password, the session cookie's
//! name, making a user, where the browser is, waiting for a navigation, signing in through the
//! form, and form bodies.

use std::time::Duration;

use serde_json::json;

use super::browser::Browser;
use super::TestServer;

/// Every test user's password.
pub const PASSWORD: &str = "a long enough password";
/// The session cookie (the server runs without `--dev`).
pub const SESSION: &str = "__Host-traceseal-session";

/// Makes user `name` with `role` (of `enterprise`) with the bootstrap token.
pub async fn user(s: &TestServer, name: &str, role: &str, enterprise: Option<u64>) {
    let body =
        json!({"username": name, "password": PASSWORD, "role": role, "enterprise_id": enterprise});
    assert_eq!(s.admin_post("/api/v1/users", body).await.status(), 201);
}

/// The page's path, and its query when `with_query`.
async fn location(b: &Browser, with_query: bool) -> String {
    let js = match with_query {
        true => "return location.pathname + location.search",
        false => "return location.pathname",
    };
    b.js(js).await.as_str().unwrap().to_string()
}

/// The page's path.
pub async fn path(b: &Browser) -> String {
    location(b, false).await
}

/// Waits (up to 5 s) for a navigation to land on `want` (a path, or a path with its query
/// when `want` has one) and the page to load.
pub async fn wait_path(b: &Browser, want: &str) {
    let with_query = want.contains('?');
    for _ in 0..100 {
        if location(b, with_query).await == want
            && b.js("return document.readyState").await == "complete"
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(location(b, with_query).await, want);
}

/// Signs `name` in through the console's form.
pub async fn sign_in(b: &Browser, s: &TestServer, name: &str) {
    b.goto(&s.url("/console/login")).await;
    b.type_into("#username", name).await;
    b.type_into("#password", PASSWORD).await;
    b.click("button.primary").await;
    wait_path(b, "/console/").await;
}

/// An `application/x-www-form-urlencoded` body.
pub fn encoded(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Signs `name` in over the API (`POST /api/v1/session`): the session cookie (`name=value`)
/// and the session's CSRF token.
pub async fn api_sign_in(s: &TestServer, name: &str) -> (String, String) {
    let r = s
        .client
        .post(s.url("/api/v1/session"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "the sign-in of {name}");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let v: serde_json::Value = r.json().await.unwrap();
    (
        cookie,
        v["csrf_token"].as_str().unwrap_or_default().to_string(),
    )
}

//! Users' sign-in and sessions over HTTP, with RocksDB on disk (`docs/authorization.md`, Users
//! and sessions): the cookie's flags, CSRF on every write, a new session id at every sign-in
//! (fixation), idle and absolute expiry, sign-out, the per-account lockout and the per-network
//! limit — whose answers never tell whether an account exists — and disabling and password
//! changes ending sessions.

mod common;

use base64::Engine as _;

use common::{test_config, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use traceseal::store::{Cf, Durability, WriteBatch};

const COOKIE: &str = "__Host-traceseal-session";
const PASSWORD: &str = "correct horse battery staple";

/// A signed-in browser: the session id (the cookie's value) and its CSRF token.
struct Browser {
    id: String,
    csrf: String,
}

async fn make_user(s: &TestServer, name: &str, role: &str, enterprise: Option<u64>) {
    let r = s
        .admin_post(
            "/api/v1/users",
            json!({"username": name, "password": PASSWORD, "role": role, "enterprise_id": enterprise}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

async fn sign_in_raw(
    s: &TestServer,
    name: &str,
    password: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut rq = s
        .client
        .post(s.url("/api/v1/session"))
        .json(&json!({"username": name, "password": password}));
    if let Some(c) = cookie {
        rq = rq.header("cookie", format!("{COOKIE}={c}"));
    }
    rq.send().await.unwrap()
}

/// The session id a `Set-Cookie` header sets, and the header.
fn set_cookie(r: &reqwest::Response) -> (String, String) {
    let h = r
        .headers()
        .get("set-cookie")
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_string();
    let id = h
        .strip_prefix(&format!("{COOKIE}="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (id, h)
}

async fn sign_in(s: &TestServer, name: &str) -> Browser {
    let r = sign_in_raw(s, name, PASSWORD, None).await;
    assert_eq!(r.status(), 201);
    let (id, _) = set_cookie(&r);
    let v: Value = r.json().await.unwrap();
    Browser {
        id,
        csrf: v["csrf_token"].as_str().unwrap().to_string(),
    }
}

/// A request with the session cookie (and the CSRF header when `csrf` is given).
async fn with_session(
    s: &TestServer,
    method: &str,
    path: &str,
    id: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rq = s
        .client
        .request(m, s.url(path))
        .header("cookie", format!("theme=dark; {COOKIE}={id}"));
    if let Some(c) = csrf {
        rq = rq.header("x-csrf-token", c);
    }
    if let Some(b) = body {
        rq = rq.json(&b);
    }
    let r = rq.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn enterprise_body(uscc: &str) -> Value {
    json!({"name": "Acme Import Co.", "uscc": uscc, "country": "AU"})
}

#[tokio::test]
async fn a_session_is_a_secure_cookie_and_every_write_needs_its_csrf_token() {
    let s = TestServer::start(test_config()).await;
    make_user(&s, "alice", "operator", None).await;
    let r = sign_in_raw(&s, "alice", PASSWORD, None).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let (id, header) = set_cookie(&r);
    assert_eq!(id.len(), 43, "256 bits, base64url");
    for flag in [
        "Path=/",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Max-Age=43200",
    ] {
        assert!(header.contains(flag), "{flag} missing: {header}");
    }
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["username"], "alice");
    assert_eq!(v["role"], "operator");
    assert!(!v.to_string().contains("argon2"), "{v}");
    let csrf = v["csrf_token"].as_str().unwrap().to_string();
    // The session id is stored only as its SHA-256.
    let digest: [u8; 32] = Sha256::digest(id.as_bytes()).into();
    let store = s.state.svc.store();
    assert!(store.get(Cf::Sessions, &digest).unwrap().is_some());
    assert!(store.get(Cf::Sessions, id.as_bytes()).unwrap().is_none());

    // Reads need no CSRF token; writes do, and a refused write stores nothing.
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &id, None, None).await;
    assert_eq!(st, 200);
    let uscc = common::USCC;
    for bad in [None, Some("x"), Some(&csrf[..42])] {
        let (st, body) = with_session(
            &s,
            "POST",
            "/api/v1/enterprises",
            &id,
            bad,
            Some(enterprise_body(uscc)),
        )
        .await;
        assert_eq!(st, 403, "{body}");
        assert!(body.contains("X-CSRF-Token"), "{body}");
    }
    let (_, list) = with_session(&s, "GET", "/api/v1/enterprises", &id, None, None).await;
    assert_eq!(list, "[]", "a refused write stored nothing");
    let (st, body) = with_session(
        &s,
        "POST",
        "/api/v1/enterprises",
        &id,
        Some(&csrf),
        Some(enterprise_body(uscc)),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let (st, body) = with_session(&s, "GET", "/api/v1/session", &id, None, None).await;
    assert_eq!(st, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["csrf_token"],
        csrf
    );

    // Sign-out needs the token too; then the cookie is cleared and the session is gone.
    let (st, _) = with_session(&s, "DELETE", "/api/v1/session", &id, None, None).await;
    assert_eq!(st, 403);
    let r = s
        .client
        .delete(s.url("/api/v1/session"))
        .header("cookie", format!("{COOKIE}={id}"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, cleared) = set_cookie(&r);
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (st, body) = with_session(&s, "GET", "/api/v1/enterprises", &id, None, None).await;
    assert_eq!(st, 401, "{body}");
    assert!(body.contains("sign in again"), "{body}");
    // With an API token there is no session to show.
    let r = s.admin_get("/api/v1/session").await;
    assert_eq!(r.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn every_sign_in_makes_a_new_session_id_so_a_planted_one_is_worthless() {
    let s = TestServer::start(test_config()).await;
    make_user(&s, "alice", "regulator", None).await;
    // An attacker plants a session id in the victim's browser before sign-in.
    let planted = "A".repeat(43);
    let r = sign_in_raw(&s, "alice", PASSWORD, Some(&planted)).await;
    assert_eq!(r.status(), 201);
    let (first, _) = set_cookie(&r);
    assert_ne!(first, planted);
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &planted, None, None).await;
    assert_eq!(st, 401);
    // Signing in again from the same browser replaces the session: the old id ends.
    let r = sign_in_raw(&s, "alice", PASSWORD, Some(&first)).await;
    let (second, _) = set_cookie(&r);
    assert_ne!(second, first);
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &first, None, None).await;
    assert_eq!(st, 401);
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &second, None, None).await;
    assert_eq!(st, 200);
    s.stop().await;
}

/// Rewrites the stored session of `id` (time passing, without waiting for it), and its
/// user's "sessions void before" mark (the user was made earlier still).
fn age_session(s: &TestServer, id: &str, created_ago: i64, seen_ago: i64) {
    let store = s.state.svc.store();
    let mut user: Value =
        serde_json::from_slice(&store.get(Cf::Users, b"alice").unwrap().unwrap()).unwrap();
    user["sessions_after"] = json!(0);
    let mut b = WriteBatch::default();
    b.put(
        Cf::Users,
        b"alice".to_vec(),
        serde_json::to_vec(&user).unwrap(),
    );
    store.write(b, Durability::Synced).unwrap();
    let key: [u8; 32] = Sha256::digest(id.as_bytes()).into();
    let mut rec: Value =
        serde_json::from_slice(&store.get(Cf::Sessions, &key).unwrap().unwrap()).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    rec["created_at"] = json!(now - created_ago);
    rec["last_seen"] = json!(now - seen_ago);
    let mut b = WriteBatch::default();
    b.put(
        Cf::Sessions,
        key.to_vec(),
        serde_json::to_vec(&rec).unwrap(),
    );
    store.write(b, Durability::Synced).unwrap();
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_limit() {
    let s = TestServer::start(test_config()).await;
    make_user(&s, "alice", "operator", None).await;
    // 29 minutes idle: still alive; 30: ended (sessions.idle_minutes = 30).
    let b = sign_in(&s, "alice").await;
    age_session(&s, &b.id, 29 * 60, 29 * 60);
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &b.id, None, None).await;
    assert_eq!(st, 200);
    age_session(&s, &b.id, 30 * 60, 30 * 60);
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &b.id, None, None).await;
    assert_eq!(st, 401);
    // In use all along, but 12 hours after sign-in: ended (sessions.absolute_hours = 12).
    let b = sign_in(&s, "alice").await;
    age_session(&s, &b.id, 12 * 3600 - 60, 0);
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &b.id, None, None).await;
    assert_eq!(st, 200);
    age_session(&s, &b.id, 12 * 3600, 0);
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &b.id, None, None).await;
    assert_eq!(st, 401);
    s.stop().await;
}

async fn refusal(r: reqwest::Response) -> (u16, Value) {
    let st = r.status().as_u16();
    let mut v: Value = r.json().await.unwrap();
    v.as_object_mut().unwrap().remove("instance");
    (st, v)
}

#[tokio::test]
async fn repeated_wrong_passwords_pause_the_account_and_no_answer_tells_if_it_exists() {
    let s = TestServer::start(test_config()).await;
    make_user(&s, "alice", "operator", None).await;
    let unknown = refusal(sign_in_raw(&s, "nobody", PASSWORD, None).await).await;
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown.1["code"], "account.sign_in_failed");
    // sessions.max_failures = 5 wrong passwords, then even the right one is refused, with
    // the very same answer as for an account that does not exist.
    for _ in 0..5 {
        let wrong = refusal(sign_in_raw(&s, "alice", "not the password!", None).await).await;
        assert_eq!(wrong, unknown);
    }
    let paused = refusal(sign_in_raw(&s, "alice", PASSWORD, None).await).await;
    assert_eq!(paused, unknown);
    // The pause ends (sessions.lockout_minutes later): the right password works again.
    let store = s.state.svc.store();
    let mut rec: Value =
        serde_json::from_slice(&store.get(Cf::Users, b"alice").unwrap().unwrap()).unwrap();
    assert!(rec["locked_until"].is_i64());
    rec["locked_until"] = json!(0);
    let mut b = WriteBatch::default();
    b.put(
        Cf::Users,
        b"alice".to_vec(),
        serde_json::to_vec(&rec).unwrap(),
    );
    store.write(b, Durability::Synced).unwrap();
    assert_eq!(sign_in_raw(&s, "alice", PASSWORD, None).await.status(), 201);
    s.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_network_and_a_success_gives_its_token_back() {
    let mut cfg = test_config();
    cfg.sessions.network_failures_per_hour = 3;
    let s = TestServer::start(cfg).await;
    make_user(&s, "alice", "operator", None).await;
    assert_eq!(sign_in_raw(&s, "alice", PASSWORD, None).await.status(), 201);
    let mut statuses = Vec::new();
    for name in ["bob", "carol", "dave", "erin"] {
        statuses.push(
            sign_in_raw(&s, name, PASSWORD, None)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
    let r = sign_in_raw(&s, "alice", PASSWORD, None).await;
    assert_eq!(r.status(), 429, "the network is limited, whoever signs in");
    assert!(r.headers().contains_key("retry-after"));
    s.stop().await;
}

#[tokio::test]
async fn disabling_a_user_or_changing_its_password_ends_its_sessions() {
    let s = TestServer::start(test_config()).await;
    make_user(&s, "alice", "operator", None).await;
    make_user(&s, "bob", "operator", None).await;
    let a = sign_in(&s, "alice").await;
    let r = s.admin_post("/api/v1/users/alice/disable", json!({})).await;
    assert_eq!(r.status(), 200);
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &a.id, None, None).await;
    assert_eq!(st, 401, "disabled: its session ends at once");
    assert_eq!(sign_in_raw(&s, "alice", PASSWORD, None).await.status(), 401);
    let again = s.admin_post("/api/v1/users/alice/disable", json!({})).await;
    assert_eq!(again.status(), 409);

    let b = sign_in(&s, "bob").await;
    let new = "a much better passphrase";
    let change = |current: &'static str| json!({"current_password": current, "new_password": new});
    let (st, body) = with_session(
        &s,
        "POST",
        "/api/v1/session/password",
        &b.id,
        Some(&b.csrf),
        Some(change("wrong password!!")),
    )
    .await;
    assert_eq!(st, 403, "{body}");
    let (st, body) = with_session(
        &s,
        "POST",
        "/api/v1/session/password",
        &b.id,
        Some(&b.csrf),
        Some(json!({"current_password": PASSWORD, "new_password": "short"})),
    )
    .await;
    assert_eq!(st, 400, "{body}");
    let (st, body) = with_session(
        &s,
        "POST",
        "/api/v1/session/password",
        &b.id,
        Some(&b.csrf),
        Some(change(PASSWORD)),
    )
    .await;
    assert_eq!(st, 204, "{body}");
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &b.id, None, None).await;
    assert_eq!(st, 401, "a password change ends the sessions");
    assert_eq!(sign_in_raw(&s, "bob", PASSWORD, None).await.status(), 401);
    assert_eq!(sign_in_raw(&s, "bob", new, None).await.status(), 201);

    // An administrator resets bob's password: bob's sessions end, the new one signs in, the
    // reset is an account leaf; a short one and a disabled user are refused.
    let b = sign_in_raw(&s, "bob", new, None).await;
    let cookie = b.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let id = cookie.split_once('=').unwrap().1.to_string();
    let reset = |pw: &str| json!({"password": pw});
    let r = s
        .admin_post("/api/v1/users/bob/password", reset("short"))
        .await;
    assert_eq!(r.status(), 400);
    let r = s
        .admin_post("/api/v1/users/bob/password", reset("reset by the operator"))
        .await;
    assert_eq!(r.status(), 200);
    let (st, _) = with_session(&s, "GET", "/api/v1/enterprises", &id, None, None).await;
    assert_eq!(st, 401, "a reset ends the sessions");
    assert_eq!(sign_in_raw(&s, "bob", new, None).await.status(), 401);
    assert_eq!(
        sign_in_raw(&s, "bob", "reset by the operator", None)
            .await
            .status(),
        201
    );
    let leaves = s.state.svc.log().log_size().unwrap();
    let leaf = s.state.svc.log().leaf(leaves - 1).unwrap();
    let data = base64::engine::general_purpose::STANDARD
        .decode(leaf.data)
        .unwrap();
    assert!(
        String::from_utf8_lossy(&data).contains("password_reset"),
        "the reset is logged"
    );
    let r = s
        .admin_post(
            "/api/v1/users/alice/password",
            reset("reset by the operator"),
        )
        .await;
    assert_eq!(r.status(), 409, "alice is disabled");
    s.stop().await;
}

#[tokio::test]
async fn users_are_made_checked_and_listed_without_their_password_hashes() {
    let s = TestServer::start(test_config()).await;
    let e = s.seed().await;
    for (body, status, code) in [
        (
            json!({"username": "a", "password": PASSWORD, "role": "operator"}),
            400,
            "input.invalid_field",
        ),
        (
            json!({"username": "alice", "password": "too short", "role": "operator"}),
            400,
            "input.invalid_field",
        ),
        (
            json!({"username": "alice", "password": PASSWORD, "role": "label_printer"}),
            422,
            "account.enterprise_required",
        ),
        (
            json!({"username": "alice", "password": PASSWORD, "role": "root"}),
            400,
            "input.invalid_field",
        ),
    ] {
        let r = s.admin_post("/api/v1/users", body.clone()).await;
        assert_eq!(r.status(), status, "{body}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["code"], code, "{p}");
    }
    make_user(&s, "printer@acme.example", "label_printer", Some(e)).await;
    let r = s
        .admin_post(
            "/api/v1/users",
            json!({"username": "printer@acme.example", "password": PASSWORD, "role": "operator"}),
        )
        .await;
    assert_eq!(r.status(), 409);
    let listed = s.admin_get("/api/v1/users").await.text().await.unwrap();
    assert!(
        listed.contains("printer@acme.example") && !listed.contains("argon2"),
        "{listed}"
    );
    let stored = s
        .state
        .svc
        .store()
        .get(Cf::Users, b"printer@acme.example")
        .unwrap()
        .unwrap();
    let stored = String::from_utf8(stored).unwrap();
    assert!(
        stored.contains("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert!(!stored.contains(PASSWORD));
    // The label printer signs in and reaches its enterprise only.
    let b = sign_in(&s, "printer@acme.example").await;
    let (st, body) = with_session(&s, "GET", "/api/v1/enterprises", &b.id, None, None).await;
    assert_eq!(st, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (st, _) = with_session(&s, "GET", "/api/v1/users", &b.id, None, None).await;
    assert_eq!(st, 403);
    s.stop().await;
}

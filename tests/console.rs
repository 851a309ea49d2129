//! The console in headless Chromium, against the real server over RocksDB (`docs/console.md`):
//! sign-in as a label printer and as the operator, the menu each role gets, the batches of the
//! viewer's own enterprise only, the refusal page, the language switch, sign-out; and, over
//! plain HTTP, form posts without their CSRF token refused. Screenshots of every page in both
//! languages are kept in `$CARGO_TARGET_DIR/test-artifacts/console/`.

mod common;

use common::browser::{artifacts_dir, Browser};
use common::{test_config, TestServer, GTIN, USCC};
use serde_json::{json, Value};

const PASSWORD: &str = "a long enough password";

/// Registers an enterprise with product `gtin` and a batch of lot `lot`; its id.
async fn enterprise(s: &TestServer, name: &str, uscc: &str, gtin: &str, lot: &str) -> u64 {
    let seeder = s.seeder();
    let r = seeder
        .post(
            "/api/v1/enterprises",
            json!({"name": name, "uscc": uscc, "country": "AU"}),
            None,
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let p = json!({"gtin": gtin, "name_zh": "奶粉", "name_en": "Formula", "enterprise_id": id});
    assert_eq!(seeder.post("/api/v1/products", p, None).await.status(), 201);
    let b = json!({"gtin": gtin, "lot": lot, "quantity": 3});
    let r = seeder.post("/api/v1/batches", b, Some(lot)).await;
    assert_eq!(r.status(), 201);
    id
}

async fn user(s: &TestServer, name: &str, role: &str, enterprise: Option<u64>) {
    let body =
        json!({"username": name, "password": PASSWORD, "role": role, "enterprise_id": enterprise});
    assert_eq!(s.admin_post("/api/v1/users", body).await.status(), 201);
}

async fn path(b: &Browser) -> String {
    b.js("return location.pathname")
        .await
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits (up to 5 s) for a navigation a click started to land on `want`.
async fn wait_path(b: &Browser, want: &str) {
    for _ in 0..100 {
        if path(b).await == want && b.js("return document.readyState").await == "complete" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(path(b).await, want);
}

async fn sign_in(b: &Browser, s: &TestServer, name: &str) {
    b.goto(&s.url("/console/")).await;
    assert_eq!(
        path(b).await,
        "/console/login",
        "signed out: the sign-in page"
    );
    b.type_into("#username", name).await;
    b.type_into("#password", PASSWORD).await;
    b.click("button.primary").await;
    wait_path(b, "/console/").await;
}

async fn shot(b: &Browser, name: &str) {
    b.full_screenshot(&artifacts_dir("console").join(format!("{name}.png")))
        .await;
}

#[tokio::test]
async fn each_role_signs_in_sees_its_menu_and_its_own_enterprise_only() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let a = enterprise(&s, "Acme Import Co.", USCC, GTIN, "LOT-A1").await;
    enterprise(
        &s,
        "Other Import Co.",
        "91110108551385082Q",
        "09506000134369",
        "LOT-B1",
    )
    .await;
    user(&s, "printer-a", "label_printer", Some(a)).await;
    user(&s, "op-alice", "operator", None).await;

    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    b.goto(&s.url("/console/login")).await;
    shot(&b, "login-zh").await;
    sign_in(&b, &s, "printer-a").await;
    assert_eq!(b.text("nav").await, "首页\n批次", "a label printer's menu");
    shot(&b, "home-printer-zh").await;
    b.click("nav a[href='/console/batches']").await;
    wait_path(&b, "/console/batches").await;
    let table = b.text("table").await;
    assert!(
        table.contains("LOT-A1") && !table.contains("LOT-B1"),
        "{table}"
    );
    assert!(table.contains("已完成"), "{table}");
    shot(&b, "batches-printer-zh").await;
    // An operator page: the refusal page, with the reason.
    b.goto(&s.url("/console/audit")).await;
    assert_eq!(b.text("h1").await, "无权访问");
    assert!(b
        .text(".err")
        .await
        .contains("label_printer may not GET /api/v1/audit"));
    shot(&b, "refused-printer-zh").await;
    // The switch: English, on this page and the next.
    b.goto(&s.url("/console/batches")).await;
    b.click("a.lang").await;
    wait_path(&b, "/console/batches").await;
    assert_eq!(b.text("h1").await, "Batches");
    assert!(b.text("table").await.contains("complete"));
    shot(&b, "batches-printer-en").await;
    b.goto(&s.url("/console/")).await;
    assert_eq!(b.text("nav").await, "Home\nBatches");
    shot(&b, "home-printer-en").await;
    // Sign out: back to sign-in, and the pages ask for it again.
    b.click(".who button").await;
    wait_path(&b, "/console/login").await;
    b.goto(&s.url("/console/batches")).await;
    assert_eq!(path(&b).await, "/console/login");
    shot(&b, "login-en").await;

    // The operator: every batch, and the audit trail (which shows the console's sign-ins? no:
    // the API writes that made the data, by the bootstrap token).
    sign_in(&b, &s, "op-alice").await;
    assert_eq!(b.text("nav").await, "Home\nBatches\nAudit trail\nDashboard");
    b.goto(&s.url("/console/batches")).await;
    let table = b.text("table").await;
    assert!(
        table.contains("LOT-A1") && table.contains("LOT-B1"),
        "{table}"
    );
    b.goto(&s.url("/console/audit")).await;
    assert!(b.text("table").await.contains("POST /api/v1/batches"));
    shot(&b, "audit-operator-en").await;
    b.resize(360, 740).await;
    shot(&b, "audit-operator-en-360").await;
    b.goto(&s.url("/console/lang?to=zh&back=/console/audit"))
        .await;
    assert_eq!(b.text("h1").await, "审计记录");
    shot(&b, "audit-operator-zh-360").await;
    b.quit().await;
    s.stop().await;
}

/// An `application/x-www-form-urlencoded` body.
fn encoded(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A request that carries cookies like a browser, without following redirects.
fn client() -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(h)
        .build()
        .unwrap()
}

fn cookie_of(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

#[tokio::test]
async fn console_forms_without_their_csrf_token_are_refused() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    user(&s, "op-alice", "operator", None).await;
    let c = client();
    // The sign-in form: its token must match the cookie the form came with.
    let form = c.get(s.url("/console/login")).send().await.unwrap();
    let csp = form.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let bound = cookie_of(&form, "__Host-traceseal-login");
    let page = form.text().await.unwrap();
    assert!(page.len() < 100_000);
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let creds = [("username", "op-alice"), ("password", PASSWORD)];
    let forged = c
        .post(s.url("/console/login"))
        .body(encoded(&[
            creds[0],
            creds[1],
            ("csrf_token", token.as_str()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "no cookie: the form was not ours");
    let ok = c
        .post(s.url("/console/login"))
        .header("cookie", format!("__Host-traceseal-login={bound}"))
        .body(encoded(&[
            creds[0],
            creds[1],
            ("csrf_token", token.as_str()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let session = cookie_of(&ok, "__Host-traceseal-session");
    let with = |r: reqwest::RequestBuilder| {
        r.header("cookie", format!("__Host-traceseal-session={session}"))
    };
    // Sign-out without the session's token: refused, and the session lives on.
    let r = with(c.post(s.url("/console/logout")))
        .body(encoded(&[("csrf_token", "nope")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let home = with(c.get(s.url("/console/"))).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let page = home.text().await.unwrap();
    assert!(page.len() < 100_000);
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = with(c.post(s.url("/console/logout")))
        .body(encoded(&[("csrf_token", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let after = with(c.get(s.url("/console/batches"))).send().await.unwrap();
    assert_eq!(after.status(), 303, "signed out");
    // A wrong password: the sign-in page again, with the one generic message.
    let form = c.get(s.url("/console/login")).send().await.unwrap();
    let bound = cookie_of(&form, "__Host-traceseal-login");
    let page = form.text().await.unwrap();
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let bad = c
        .post(s.url("/console/login"))
        .header("cookie", format!("__Host-traceseal-login={bound}"))
        .body(encoded(&[
            ("username", "op-alice"),
            ("password", "wrong password!"),
            ("csrf_token", token.as_str()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(bad
        .text()
        .await
        .unwrap()
        .contains("wrong user name or password"));
    s.stop().await;
}

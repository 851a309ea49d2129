//! The console in headless Chromium, against the real server over RocksDB (`docs/console.md`):
//! sign-in as a label printer and as the operator, the menu each role gets, the batches of the
//! viewer's own enterprise only, the refusal page, the language switch, sign-out; and, over
//! plain HTTP, form posts without their CSRF token refused. Screenshots of every page in both
//! languages are kept in `$CARGO_TARGET_DIR/test-artifacts/console/`.

mod common;

use common::browser::{artifacts_dir, Browser};
use common::console::{api_sign_in, encoded, path, user, wait_path, PASSWORD};
use common::{pdf_qr_codes, test_config, TestServer, GTIN, USCC};
use serde_json::{json, Value};

/// Registers an enterprise with product `gtin` and a batch of lot `lot`; (its id, the batch).
async fn enterprise(s: &TestServer, name: &str, uscc: &str, gtin: &str, lot: &str) -> (u64, u64) {
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
    let batch = r.json::<Value>().await.unwrap()["batch_id"]
        .as_u64()
        .unwrap();
    (id, batch)
}

/// Signs `user` in over the API, downloads `path` with the session, rasterises the PDF
/// (pdftoppm) and decodes every QR code on its first page (zbar): the codes, sorted.
async fn download_and_decode(s: &TestServer, user: &str, path: &str) -> Vec<String> {
    let (cookie, _) = api_sign_in(s, user).await;
    let pdf = s
        .client
        .get(s.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    pdf_qr_codes(&pdf.bytes().await.unwrap(), 300)
}

/// On the batch page: a preview of the first A4 4×10 sheet shows the batch's 3 labels in their
/// cells (the image, fetched as the browser does: SVG, never cached), and records nothing.
/// `GET url` with the browser's session cookie.
async fn with_browser_session(b: &Browser, url: &str) -> reqwest::Response {
    let session = b.cookie("__Host-traceseal-session").await.unwrap();
    reqwest::Client::new()
        .get(url)
        .header("cookie", format!("__Host-traceseal-session={session}"))
        .send()
        .await
        .unwrap()
}

async fn preview_prints_nothing(b: &Browser, batch: u64) {
    assert!(
        b.text("main").await.contains("还没有打印过"),
        "no print yet"
    );
    b.js("document.querySelector('#sheet').value = 'a4-4x10'; return 1")
        .await;
    b.click("#preview").await;
    wait_path(b, &format!("/console/batches/{batch}/preview")).await;
    let loaded = "const i = document.querySelector('#preview-image'); return !!i && i.complete && i.naturalWidth > 0";
    for _ in 0..100 {
        if b.js(loaded).await == json!(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(b.js(loaded).await, json!(true), "the preview image loads");
    // The image as the browser got it (the page's CSP lets it load images, not fetch).
    let src = b
        .js("return document.querySelector('#preview-image').src")
        .await;
    let r = with_browser_session(b, src.as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let svg = r.text().await.unwrap();
    assert!(
        svg.contains(r#"width="210.00mm" height="297.00mm""#),
        "an A4 page"
    );
    assert_eq!(svg.matches("<svg x=").count(), 3, "the batch's 3 labels");
    assert!(
        svg.contains(r#"<svg x="52.5" y="0""#),
        "the second cell of a 4×10 sheet"
    );
    // The form keeps what was chosen; the history is still empty.
    assert_eq!(
        b.js("return document.querySelector('#sheet').value").await,
        json!("a4-4x10")
    );
    assert!(b.text("main").await.contains("预览不记录任何打印"));
    shot(b, "batch-preview-printer-zh").await;
    b.goto(
        &b.js("return location.origin")
            .await
            .as_str()
            .map(|o| format!("{o}/console/batches/{batch}"))
            .unwrap(),
    )
    .await;
    assert!(
        b.text("main").await.contains("还没有打印过"),
        "a preview prints nothing"
    );
}

/// Waits (up to 5 s) for the page to show `needle` in the first `css` element (a form posted
/// back to the same page: its path does not change).
async fn wait_text(b: &Browser, css: &str, needle: &str) {
    for _ in 0..100 {
        let found = b
            .js(&format!(
                "const e = document.querySelector({css:?}); return e ? e.innerText : ''"
            ))
            .await;
        if found.as_str().unwrap_or("").contains(needle) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{needle:?} not shown in {css}: {}", b.text(css).await);
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
    let (a, batch_a) = enterprise(&s, "Acme Import Co.", USCC, GTIN, "LOT-A1").await;
    let (_, batch_b) = enterprise(
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
    assert_eq!(
        b.text("nav").await,
        "首页\n批次\n企业",
        "a label printer's menu"
    );
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
    // Print the batch as a PDF sheet from its page; the labels decode (zbar) to its codes.
    b.click("table a").await;
    wait_path(&b, &format!("/console/batches/{batch_a}")).await;
    shot(&b, "batch-printer-zh").await;
    preview_prints_nothing(&b, batch_a).await;
    b.goto(&s.url(&format!("/console/batches/{batch_a}"))).await;
    b.click("button.primary").await;
    for _ in 0..100 {
        if path(&b).await.starts_with("/console/print-jobs/") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let job_path = path(&b).await;
    assert!(job_path.starts_with("/console/print-jobs/"), "{job_path}");
    shot(&b, "print-job-printer-zh").await;
    assert!(
        b.text("main").await.contains("尚未下载"),
        "{}",
        b.text("main").await
    );
    let decoded = download_and_decode(&s, "printer-a", &format!("{job_path}/output")).await;
    let mut codes = s.seeder().codes(batch_a).await;
    codes.sort();
    assert_eq!(decoded, codes);
    // The job's page says how far its output went: every label, fetched once.
    b.goto(&s.url(&job_path)).await;
    let progress = b.text("main").await;
    assert!(
        progress.contains("已生成 3 / 3 个标签（100%）· 下载 1 次"),
        "{progress}"
    );
    assert_eq!(
        b.js("return document.querySelector('progress').value")
            .await,
        json!(3)
    );
    // The same labels again: refused without a reason (the error page), printed with one.
    b.goto(&s.url(&format!("/console/batches/{batch_a}"))).await;
    b.click("button.primary").await;
    wait_path(&b, &format!("/console/batches/{batch_a}/print")).await;
    assert!(
        b.text(".err").await.contains("reprint_reason"),
        "{}",
        b.text(".err").await
    );
    shot(&b, "reprint-refused-printer-zh").await;
    b.goto(&s.url(&format!("/console/batches/{batch_a}"))).await;
    b.type_into("#reprint_reason", "标签被撕坏").await;
    b.click("button.primary").await;
    for _ in 0..100 {
        if path(&b).await.starts_with("/console/print-jobs/") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_ne!(path(&b).await, job_path, "a second job");
    assert!(path(&b).await.starts_with("/console/print-jobs/"));
    // The batch's print history: both jobs, newest first, the reprint with its reason.
    b.goto(&s.url(&format!("/console/batches/{batch_a}"))).await;
    let history = b.text("table.history").await;
    let rows: Vec<&str> = history.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{history}");
    assert!(
        rows[0].contains("标签被撕坏") && rows[0].contains("pdf"),
        "{history}"
    );
    assert!(!rows[1].contains("标签被撕坏"), "{history}");
    shot(&b, "batch-history-printer-zh").await;
    // Another enterprise's batch: the refusal page.
    b.goto(&s.url(&format!("/console/batches/{batch_b}"))).await;
    assert_eq!(b.text("h1").await, "无权访问");
    assert!(b.text(".err").await.contains("belongs to enterprise"));
    let other = s.url(&format!(
        "/console/batches/{batch_b}/preview.svg?format=pdf&count=3"
    ));
    let r = with_browser_session(&b, &other).await;
    assert_eq!(r.status(), 403, "B's labels are not previewed for A");
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
    assert_eq!(b.text("nav").await, "Home\nBatches\nEnterprises");
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
    assert_eq!(
        b.text("nav").await,
        "Home\nBatches\nProducts\nLots\nEngagements\nStaff\nAudit trail\nComplaints\nEnterprises\nActors\nRegistration requests\nHealth\nDashboard\nRisks"
    );
    b.goto(&s.url("/console/batches")).await;
    let table = b.text("table").await;
    assert!(
        table.contains("LOT-A1") && table.contains("LOT-B1"),
        "{table}"
    );
    b.goto(&s.url("/console/audit")).await;
    let trail = b.text("table").await;
    assert!(trail.contains("POST /api/v1/batches"), "{trail}");
    assert!(
        trail.contains(&format!("POST /console/batches/{batch_a}/print")),
        "the console's prints are audited: {trail}"
    );
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

/// The value of hidden field `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    page.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in the page"))
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn an_enterprise_admin_issues_a_batch_from_the_form_once() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let (a, _) = enterprise(&s, "Acme Import Co.", USCC, GTIN, "LOT-A1").await;
    enterprise(
        &s,
        "Other Import Co.",
        "91110108551385082Q",
        "09506000134369",
        "LOT-B1",
    )
    .await;
    user(&s, "admin-a", "enterprise_admin", Some(a)).await;

    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "admin-a").await;
    b.goto(&s.url("/console/batches")).await;
    b.click("a[href='/console/batches/new']").await;
    wait_path(&b, "/console/batches/new").await;
    let options = b.text("#gtin").await;
    assert!(
        options.contains(GTIN) && !options.contains("09506000134369"),
        "{options}"
    );
    b.type_into("#lot", "LOT-A2").await;
    b.type_into("#expiry", "2028-06-30").await;
    b.type_into("#quantity", "20000").await;
    shot(&b, "new-batch-admin-zh").await;
    b.click("button.primary").await;
    // The batch's page, refreshing itself until the batch is complete; then its print form.
    for _ in 0..600 {
        let p = path(&b).await;
        if p.starts_with("/console/batches/")
            && p != "/console/batches/new"
            && b.js("return document.querySelectorAll('#format').length")
                .await
                == 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let facts = b.text("section table").await;
    assert!(
        facts.contains("LOT-A2") && facts.contains("20000"),
        "{facts}"
    );
    shot(&b, "batch-issued-admin-zh").await;
    b.quit().await;

    // Over HTTP: the same form posted twice issues one batch; another enterprise's product is
    // refused; the issue is audited.
    let c = client();
    let r = s
        .client
        .post(s.url("/api/v1/session"))
        .json(&json!({"username": "admin-a", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let session = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let form = c
        .get(s.url("/console/batches/new"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let page = form.text().await.unwrap();
    let (csrf, key) = (
        hidden(&page, "csrf_token"),
        hidden(&page, "idempotency_key"),
    );
    let post = |gtin: &'static str| {
        let body = encoded(&[
            ("csrf_token", &csrf),
            ("idempotency_key", &key),
            ("gtin", gtin),
            ("lot", "LOT-A3"),
            ("expiry", ""),
            ("quantity", "2"),
        ]);
        c.post(s.url("/console/batches"))
            .header("cookie", &session)
            .body(body)
            .send()
    };
    let first = post(GTIN).await.unwrap();
    assert_eq!(first.status(), 303);
    let again = post(GTIN).await.unwrap();
    assert_eq!(
        again.headers()["location"],
        first.headers()["location"],
        "one batch"
    );
    let other = post("09506000134369").await.unwrap();
    assert_eq!(other.status(), 403);
    assert!(other
        .text()
        .await
        .unwrap()
        .contains("belongs to enterprise"));
    let trail = s
        .state
        .svc
        .audit()
        .list(&Default::default(), None, 10)
        .unwrap();
    assert!(trail.records.iter().any(|r| r.route == "/console/batches"
        && r.principal == "user:admin-a"
        && r.status == 201));
    s.stop().await;
}

#[tokio::test]
async fn an_enterprise_admin_manages_its_staff_and_nothing_above_it() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let (a, _) = enterprise(&s, "Acme Import Co.", USCC, GTIN, "LOT-A1").await;
    let (bid, _) = enterprise(
        &s,
        "Other Import Co.",
        "91110108551385082Q",
        "09506000134369",
        "LOT-B1",
    )
    .await;
    user(&s, "admin-a", "enterprise_admin", Some(a)).await;
    user(&s, "printer-b", "label_printer", Some(bid)).await;

    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "admin-a").await;
    assert_eq!(
        b.text("nav").await,
        "首页\n批次\n商品\n批号与流转\n合作方\n员工与令牌\n审计记录\n投诉\n企业"
    );
    b.click("nav a[href='/console/staff']").await;
    wait_path(&b, "/console/staff").await;
    let users = b.text("table").await;
    assert!(
        users.contains("admin-a") && !users.contains("printer-b"),
        "{users}"
    );
    // A new label printer, then a token for the warehouse printer (shown once), revoked.
    b.type_into("#username", "printer-a2").await;
    b.type_into("#password", PASSWORD).await;
    b.click("form[action='/console/staff/users'] button").await;
    wait_text(&b, "table", "printer-a2").await;
    assert!(b.text("table").await.contains("printer-a2"));
    b.type_into("#token-name", "仓库打印机").await;
    b.click("form[action='/console/staff/tokens'] button").await;
    wait_path(&b, "/console/staff/tokens").await;
    let token = b.text(".secret").await;
    assert!(token.starts_with("tst_"), "{token}");
    shot(&b, "token-shown-once-admin-zh").await;
    let read = |t: String| {
        let (c, url) = (s.client.clone(), s.url("/api/v1/batches/1"));
        async move {
            c.get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        read(token.clone()).await,
        200,
        "a label printer token of A reads A's batch"
    );
    b.goto(&s.url("/console/staff")).await;
    shot(&b, "staff-admin-zh").await;
    b.click("form[action$='/revoke'] button").await;
    wait_text(&b, "main", "已吊销").await;
    assert_eq!(
        read(token).await,
        401,
        "revoked from the console: refused at once"
    );
    // The admin resets printer-a2's password: the old one stops working, the new one works.
    let sign_in_as = |name: &'static str, password: &'static str| {
        let (c, url) = (s.client.clone(), s.url("/api/v1/session"));
        async move {
            let body = json!({"username": name, "password": password});
            c.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(sign_in_as("printer-a2", PASSWORD).await, 201);
    b.type_into("#reset-printer-a2", "a brand new password 2")
        .await;
    // The answer comes back to the same page: wait for a new document, not for the path.
    b.js("window.beforeReset = true; return 1").await;
    b.click("form[action='/console/staff/users/printer-a2/password'] button")
        .await;
    let reloaded = "return window.beforeReset === undefined && document.readyState === 'complete'";
    for _ in 0..100 {
        if b.js(reloaded).await == json!(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        b.js(reloaded).await,
        json!(true),
        "the reset's answer loaded"
    );
    wait_path(&b, "/console/staff").await;
    assert_eq!(
        sign_in_as("printer-a2", PASSWORD).await,
        401,
        "the old password"
    );
    assert_eq!(
        sign_in_as("printer-a2", "a brand new password 2").await,
        201
    );
    b.click("form[action='/console/staff/users/printer-a2/disable'] button")
        .await;
    wait_text(&b, "main", "已停用").await;
    assert!(b.text("table").await.contains("已停用"));
    let signin = s
        .client
        .post(s.url("/api/v1/session"))
        .json(&json!({"username": "printer-a2", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), 401, "disabled from the console");
    b.quit().await;

    // Over HTTP: no platform role, no other enterprise's user; nothing made.
    let r = s
        .client
        .post(s.url("/api/v1/session"))
        .json(&json!({"username": "admin-a", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let session = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let c = client();
    let page = c
        .get(s.url("/console/staff"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf_token");
    for (role, target) in [
        ("operator", "/console/staff/users"),
        ("regulator", "/console/staff/tokens"),
    ] {
        let body = encoded(&[
            ("csrf_token", &csrf),
            ("username", "sneaky"),
            ("password", PASSWORD),
            ("name", "x"),
            ("role", role),
        ]);
        let r = c
            .post(s.url(target))
            .header("cookie", &session)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{role}");
    }
    let r = c
        .post(s.url("/console/staff/users/printer-b/disable"))
        .header("cookie", &session)
        .body(encoded(&[("csrf_token", &csrf)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "another enterprise's user");
    let r = c
        .post(s.url("/console/staff/users/printer-b/password"))
        .header("cookie", &session)
        .body(encoded(&[
            ("csrf_token", &csrf),
            ("password", "taken over by A 123"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "another enterprise's user's password");
    let b_signs_in = s
        .client
        .post(s.url("/api/v1/session"))
        .json(&json!({"username": "printer-b", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(b_signs_in.status(), 201, "B's password is unchanged");
    let users: Value = s.admin_get("/api/v1/users").await.json().await.unwrap();
    let users = users.as_array().unwrap();
    assert!(
        !users.iter().any(|u| u["username"] == "sneaky"),
        "{users:?}"
    );
    let b_user = users.iter().find(|u| u["username"] == "printer-b").unwrap();
    assert_eq!(b_user["disabled_at"], Value::Null);
    let a2 = users
        .iter()
        .find(|u| u["username"] == "printer-a2")
        .unwrap();
    assert_eq!(
        a2["role"], "label_printer",
        "the least powerful role is the default"
    );
    s.stop().await;
}

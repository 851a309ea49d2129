//! The operator's console workflows (`docs/console.md`) in headless Chromium against the real
//! server over RocksDB: answering a complaint a consumer filed from a scan (the consumer-facing
//! count of upheld complaints moves, the history shows the change), the credit profile and its
//! history, enterprises with the USCC checked as it is typed (and again by the server when the
//! script is bypassed), the actor registry (fingerprints, rotation, revocation) and anchoring
//! and log health on a real anvil chain. And what others try: a regulator reads complaints
//! without codes or forms, a forged answer is refused; enterprise admins and label printers get
//! the refusal page on operator pages; forms without their CSRF token are refused and change
//! nothing. Screenshots of each page in both languages at 1280 and 360 px:
//! `$CARGO_TARGET_DIR/test-artifacts/console/operator-*.png`.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::browser::{artifacts_dir, Browser};
use common::console::{api_sign_in, path, sign_in, user, wait_path, SESSION};
use common::{test_config, verify_path, TestServer, GTIN, USCC};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A second valid USCC (check character `P`).
const USCC_B: &str = "91110000MA0123456P";
/// Enterprise B's GTIN-14.
const GTIN_B: &str = "09312345000128";

/// Registers an enterprise with product `gtin`; its id.
async fn enterprise(s: &TestServer, name: &str, uscc: &str, gtin: &str) -> u64 {
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
    id
}

/// Scans `code` over the public API (as a consumer's phone would); the verdict.
async fn scan(s: &TestServer, code: &str) -> Value {
    s.get(&verify_path(code)).await.json().await.unwrap()
}

/// The page's visible text.
async fn page_text(b: &Browser) -> String {
    b.js("return document.body.innerText")
        .await
        .as_str()
        .unwrap()
        .to_string()
}

/// Screenshots of `page` in Chinese and English at 1280 and 360 px (`operator-{name}-…`), and
/// no sideways scroll of the page itself at 360 px (tables scroll in their own box). Leaves
/// the browser on the page in Chinese at 1280 px.
async fn shots(b: &Browser, s: &TestServer, page: &str, name: &str) {
    let dir = artifacts_dir("console");
    for lang in ["zh", "en"] {
        b.goto(&s.url(&format!("/console/lang?to={lang}&back={page}")))
            .await;
        for w in [1280, 360] {
            b.resize(w, 900).await;
            let wide = b
                .js("return document.documentElement.scrollWidth <= window.innerWidth + 1")
                .await;
            assert_eq!(wide, true, "{page} scrolls sideways at {w} px ({lang})");
            b.full_screenshot(&dir.join(format!("operator-{name}-{lang}-{w}.png")))
                .await;
        }
    }
    b.resize(1280, 900).await;
    b.goto(&s.url(&format!("/console/lang?to=zh&back={page}")))
        .await;
}

/// A client that sends forms and keeps redirects as answers.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A session of `name` made over the API: its cookie and CSRF token.
async fn session(s: &TestServer, name: &str) -> (String, String) {
    let (cookie, csrf) = api_sign_in(s, name).await;
    assert!(cookie.starts_with(SESSION));
    (cookie, csrf)
}

/// `GET path` with a session cookie: the status and the page.
async fn get_as(s: &TestServer, cookie: &str, path: &str) -> (u16, String) {
    let r = client()
        .get(s.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Posts a form with a session cookie: the status and the page.
async fn post_as(s: &TestServer, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let r = client()
        .post(s.url(path))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The operator's JSON of `path` over the API.
async fn api(s: &TestServer, path: &str) -> Value {
    s.admin_get(path).await.json().await.unwrap()
}

/// A consumer files a complaint about a scan; its reference.
async fn complain(s: &TestServer, scan_id: &str, text: &str) -> String {
    let r = s
        .client
        .post(s.url("/api/v1/complaints"))
        .json(&json!({"scan_id": scan_id, "category": "counterfeit", "description": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_answers_a_complaint_and_the_consumer_facing_count_moves() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let a = enterprise(&s, "Acme Import Co.", USCC, GTIN).await;
    let b_id = enterprise(&s, "Other Import Co.", USCC_B, GTIN_B).await;
    let body = json!({"gtin": GTIN, "lot": "LOT-C1", "quantity": 3});
    let (_, codes) = s.seeder().issue("complaints", body).await;
    user(&s, "op-olga", "operator", None).await;
    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "op-olga").await;

    // The credit profile, from the enterprise's page: a first version, in its history.
    b.goto(&s.url(&format!("/console/enterprises/{a}"))).await;
    assert!(page_text(&b).await.contains("尚未建立信用档案"));
    b.js("document.querySelector('#rating').value = 'A'").await;
    b.type_into("#basis", "海关高级认证企业").await;
    b.type_into("#d-title", "AEO advanced").await;
    b.type_into("#d-date", "2025-05-01").await;
    b.click("form[action$='/credit'] button.primary").await;
    for _ in 0..100 {
        if s.get(&format!("/api/v1/credit/{a}")).await.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_path(&b, &format!("/console/enterprises/{a}")).await;
    let credit: Value = s
        .get(&format!("/api/v1/credit/{a}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(credit["rating"], "A");
    assert_eq!(credit["version"], 1);
    assert_eq!(credit["disclosures"][0]["title"], "AEO advanced");
    let history: Value = s
        .get(&format!("/api/v1/credit/{a}/history"))
        .await
        .json()
        .await
        .unwrap();
    let request_id = history[0]["request_id"].as_str().unwrap().to_string();
    assert_eq!(history[0]["by_role"], "operator");
    assert!(
        page_text(&b).await.contains(&request_id),
        "the history on the page"
    );
    let audit = api(&s, "/api/v1/audit?route=/console/enterprises/{id}/credit").await;
    assert_eq!(
        audit["records"][0]["request_id"], request_id,
        "the audit record and the log leaf name the same request: {audit}"
    );
    // The profile's rating is a factor of the computed grade, graded again within a tick;
    // the page's grade section shows it (and the grade's changes).
    let mut grade = Value::Null;
    for _ in 0..100 {
        grade = s
            .get(&format!("/api/v1/enterprises/{a}/grade"))
            .await
            .json()
            .await
            .unwrap();
        let factors = grade["contributions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if factors.iter().any(|c| c["factor"] == "authority_rating") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.goto(&s.url(&format!("/console/enterprises/{a}"))).await;
    let text = page_text(&b).await;
    assert!(
        text.contains("信用风险等级") && text.contains("主管部门评级"),
        "{text}"
    );
    let letter = b.text("#grade-letter").await;
    assert_eq!(letter, grade["grade"].as_str().unwrap(), "{grade}");
    assert!(text.contains("+5.0"), "the rating A's five points: {text}");

    // A consumer scans an item and files a complaint; upheld complaints shown: 0.
    let v = scan(&s, &codes[0]).await;
    assert_eq!(v["product"]["credit"]["complaints_upheld"], 0, "{v}");
    let reference = complain(&s, v["scan_id"].as_str().unwrap(), "罐底批号被刮掉了").await;

    // The operator finds it in the list (filtered to open complaints) and upholds it.
    b.goto(&s.url("/console/")).await;
    b.click("nav a[href='/console/complaints']").await;
    wait_path(&b, "/console/complaints").await;
    b.js("document.querySelector('#f-status').value = 'open'")
        .await;
    b.click("form.filters button").await;
    for _ in 0..100 {
        if b.js("return location.search").await == "?status=open&enterprise_id=" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(page_text(&b).await.contains(&reference));
    b.click(&format!("a[href='/console/complaints/{reference}']"))
        .await;
    wait_path(&b, &format!("/console/complaints/{reference}")).await;
    assert!(
        page_text(&b).await.contains(&codes[0]),
        "the operator sees the code scanned"
    );
    b.js("document.querySelector('#status').value = 'resolved'")
        .await;
    b.type_into("#note", "卖家已退款，批次已复检").await;
    b.click("form[method=post] button.primary").await;
    for _ in 0..100 {
        let rows = b
            .js("return document.querySelectorAll('.history tbody tr').length")
            .await;
        if rows == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let history = b
        .js("return [...document.querySelectorAll('.history tbody tr')].map(r => r.innerText)")
        .await;
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    assert!(
        history[1].as_str().unwrap().contains("卖家已退款"),
        "{history}"
    );
    let c = api(&s, &format!("/api/v1/complaints/{reference}")).await;
    assert_eq!(c["status"], "resolved");

    // The count a consumer sees moves: on the next scan and on the public credit profile.
    let v = scan(&s, &codes[1]).await;
    assert_eq!(v["product"]["credit"]["complaints_upheld"], 1, "{v}");
    let credit: Value = s
        .get(&format!("/api/v1/credit/{a}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(credit["complaints_upheld"], 1);
    b.goto(&s.url(&format!("/console/enterprises/{a}"))).await;
    assert_eq!(b.text("strong.upheld").await, "1");

    shots(&b, &s, "/console/complaints", "complaints").await;
    shots(
        &b,
        &s,
        &format!("/console/complaints/{reference}"),
        "complaint",
    )
    .await;
    shots(&b, &s, &format!("/console/enterprises/{a}"), "enterprise").await;
    b.quit().await;

    // A regulator reads it, without the code and without a form; a forged answer is refused.
    user(&s, "reg-rita", "regulator", None).await;
    let (reg, reg_csrf) = session(&s, "reg-rita").await;
    let (st, list) = get_as(&s, &reg, "/console/complaints").await;
    assert_eq!(st, 200);
    assert!(list.contains(&reference));
    let (st, page) = get_as(&s, &reg, &format!("/console/complaints/{reference}")).await;
    assert_eq!(st, 200);
    assert!(
        !page.contains(&codes[0]),
        "a regulator never sees a valid code"
    );
    assert!(page.contains("hidden from regulators"));
    assert!(
        !page.contains("name=\"note\""),
        "no answer form for a regulator"
    );
    let forged = [
        ("csrf_token", reg_csrf.as_str()),
        ("status", "rejected"),
        ("note", "forged"),
    ];
    let (st, page) = post_as(
        &s,
        &reg,
        &format!("/console/complaints/{reference}"),
        &forged,
    )
    .await;
    assert_eq!(st, 403);
    assert!(
        page.contains("PATCH /api/v1/complaints/{reference}"),
        "{page}"
    );
    let (st, _) = get_as(&s, &reg, &format!("/console/enterprises/{a}")).await;
    assert_eq!(st, 200, "a regulator reads an enterprise and its credit");

    // An enterprise admin of B: its own complaints only (none), A's complaint is refused.
    user(&s, "admin-b", "enterprise_admin", Some(b_id)).await;
    let (eab, _) = session(&s, "admin-b").await;
    let (st, list) = get_as(&s, &eab, "/console/complaints").await;
    assert_eq!(st, 200);
    assert!(!list.contains(&reference));
    let (st, _) = get_as(&s, &eab, &format!("/console/complaints/{reference}")).await;
    assert_eq!(st, 403);
    let (st, _) = get_as(&s, &eab, &format!("/console/complaints?enterprise_id={a}")).await;
    assert_eq!(st, 403);
    let (st, _) = get_as(&s, &eab, &format!("/console/enterprises/{a}")).await;
    assert_eq!(st, 403, "another enterprise's page");

    // Nothing of that changed the complaint.
    let after = api(&s, &format!("/api/v1/complaints/{reference}")).await;
    assert_eq!(after, c);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterprise_forms_check_the_uscc_as_typed_and_the_server_checks_it_again() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    user(&s, "op-olga", "operator", None).await;
    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "op-olga").await;
    b.click("nav a[href='/console/enterprises']").await;
    wait_path(&b, "/console/enterprises").await;
    b.click("a[href='/console/enterprises/new']").await;
    wait_path(&b, "/console/enterprises/new").await;
    b.type_into("#name", "Sydney Dairy Exports Pty Ltd").await;
    b.type_into("#country", "AU").await;

    // A wrong check character: the error is shown (and announced) before anything is sent.
    b.type_into("#uscc", "91350100M000100Y44").await;
    let shown = b.text("#uscc-check").await;
    assert!(
        shown.contains("校验位错误") && shown.contains('3'),
        "{shown}"
    );
    assert_eq!(
        b.js("return document.querySelector('#uscc-check').getAttribute('aria-live')")
            .await,
        "polite"
    );
    assert_eq!(
        b.js("return document.querySelector('#uscc').checkValidity()")
            .await,
        false,
        "the browser will not submit it"
    );
    b.full_screenshot(&artifacts_dir("console").join("operator-uscc-wrong-zh-1280.png"))
        .await;
    b.click("button.primary").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(path(&b).await, "/console/enterprises/new", "not submitted");
    assert_eq!(api(&s, "/api/v1/enterprises").await, json!([]));

    // Corrected: accepted as typed, then registered by the server.
    b.js("document.querySelector('#uscc').value = ''").await;
    b.type_into("#uscc", USCC).await;
    assert!(b.text("#uscc-check").await.contains("校验位正确"));
    b.click("button.primary").await;
    wait_path(&b, "/console/enterprises/1").await;
    let list = api(&s, "/api/v1/enterprises").await;
    assert_eq!(list[0]["uscc"], USCC);
    assert_eq!(list[0]["name"], "Sydney Dairy Exports Pty Ltd");

    // The edit form on its page: a new name saved.
    b.js("document.querySelector('#name').value = ''").await;
    b.type_into("#name", "Sydney Dairy Exports Ltd").await;
    b.click("form.enterprise button.primary").await;
    for _ in 0..100 {
        if api(&s, "/api/v1/enterprises/1").await["name"] == "Sydney Dairy Exports Ltd" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        api(&s, "/api/v1/enterprises/1").await["name"],
        "Sydney Dairy Exports Ltd"
    );
    shots(&b, &s, "/console/enterprises", "enterprises").await;
    shots(&b, &s, "/console/enterprises/new", "enterprise-new").await;
    b.quit().await;

    // The script bypassed: the server refuses the bad code with the API's reason.
    let (op, csrf) = session(&s, "op-olga").await;
    let bad = [
        ("csrf_token", csrf.as_str()),
        ("name", "Forged Co."),
        ("uscc", "91110000MA0123456Q"),
        ("country", "AU"),
    ];
    let (st, page) = post_as(&s, &op, "/console/enterprises", &bad).await;
    assert_eq!(st, 400);
    assert!(page.contains("check character is Q, expected P"), "{page}");
    let (st, _) = post_as(&s, &op, "/console/enterprises/1", &bad).await;
    assert_eq!(st, 400);
    // Without the CSRF token: refused.
    let good = [("name", "Forged Co."), ("uscc", USCC_B), ("country", "AU")];
    let (st, _) = post_as(&s, &op, "/console/enterprises", &good).await;
    assert_eq!(st, 403);
    assert_eq!(
        api(&s, "/api/v1/enterprises")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(api(&s, "/api/v1/enterprises/1").await["uscc"], USCC);

    // The script is served under its hashed name and allowed on these pages only.
    let (st, page) = get_as(&s, &op, "/console/enterprises/new").await;
    assert_eq!(st, 200);
    let script = page
        .split("<script src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert!(script.starts_with("/console/assets/console-") && script.ends_with(".js"));
    assert!(!page.contains("<script>"), "no inline script");
    let js = s.get(&script).await;
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    for (p, scripted) in [
        ("/console/enterprises/new", true),
        ("/console/enterprises/1", true),
        ("/console/enterprises", false),
        ("/console/complaints", false),
        ("/console/", false),
    ] {
        let r = client()
            .get(s.url(p))
            .header("cookie", &op)
            .send()
            .await
            .unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(csp.contains("script-src 'self'"), scripted, "{p}: {csp}");
        assert_eq!(r.text().await.unwrap().contains("<script"), scripted, "{p}");
    }
    s.stop().await;
}

/// An Ed25519 public key (base64 of its 32 bytes) and its SHA-256 fingerprint (hex).
fn key(seed: u8) -> (String, String) {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let pk = sk.verifying_key().to_bytes();
    let fp: String = Sha256::digest(pk)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (base64::engine::general_purpose::STANDARD.encode(pk), fp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_registers_an_actor_rotates_and_revokes_its_keys() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    user(&s, "op-olga", "operator", None).await;
    let (k1, fp1) = key(7);
    let (k2, fp2) = key(8);
    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "op-olga").await;
    b.click("nav a[href='/console/actors']").await;
    wait_path(&b, "/console/actors").await;
    b.type_into("#id", "au-inspector").await;
    b.type_into("#organisation", "AQIS Melbourne").await;
    b.type_into("#country", "AU").await;
    b.type_into("#public_key", &k1).await;
    b.click("button.primary").await;
    wait_path(&b, "/console/actors/au-inspector").await;
    // The confirmation shows the key's fingerprint, computed by the server.
    let shown = b.text("td.fp").await.replace(' ', "");
    assert_eq!(shown, fp1);
    let actor = s
        .get("/api/v1/actors/au-inspector")
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(actor["keys"][0]["kid"], fp1[..8]);
    assert_eq!(actor["keys"][0]["public_key"], k1);

    // Rotation: the new key replaces the first.
    b.type_into("#public_key", &k2).await;
    b.js(&format!(
        "document.querySelector('#replaces').value = '{}'",
        &fp1[..8]
    ))
    .await;
    b.click("form[action$='/keys'] button.primary").await;
    for _ in 0..100 {
        if b.js("return document.querySelectorAll('td.fp').length")
            .await
            == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fps = b
        .js("return [...document.querySelectorAll('td.fp')].map(e => e.innerText.replaceAll(' ', ''))")
        .await;
    assert_eq!(fps, json!([fp1, fp2]));
    let actor = s
        .get("/api/v1/actors/au-inspector")
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(actor["keys"][1]["replaces"], fp1[..8]);

    // Revocation of the new key, with its reason.
    let kid2 = &fp2[..8];
    b.type_into(&format!("#reason-{kid2}"), "key leaked").await;
    b.click(&format!("form[action$='/keys/{kid2}/revoke'] button"))
        .await;
    for _ in 0..100 {
        let a = s
            .get("/api/v1/actors/au-inspector")
            .await
            .json::<Value>()
            .await
            .unwrap();
        if a["keys"][1]["revoked_from"].is_i64() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let actor = s
        .get("/api/v1/actors/au-inspector")
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(actor["keys"][1]["revoke_reason"], "key leaked");
    b.goto(&s.url("/console/actors")).await;
    let list = page_text(&b).await;
    assert!(list.contains(&fp1[..8]) && list.contains(kid2) && list.contains("已吊销"));
    shots(&b, &s, "/console/actors", "actors").await;
    shots(&b, &s, "/console/actors/au-inspector", "actor").await;
    b.quit().await;

    // A pasted private key is refused with the reason; nothing registered.
    let (op, csrf) = session(&s, "op-olga").await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("id", "leaky"),
        ("organisation", "Leaky Ltd"),
        ("country", "AU"),
        ("role", "carrier"),
        (
            "public_key",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        ),
    ];
    let (st, page) = post_as(&s, &op, "/console/actors", &form).await;
    assert_eq!(st, 400);
    assert!(page.contains("PRIVATE key"), "{page}");
    assert_eq!(s.get("/api/v1/actors/leaky").await.status(), 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_roles_get_the_refusal_page_and_forms_need_their_csrf_token() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let a = enterprise(&s, "Acme Import Co.", USCC, GTIN).await;
    let body = json!({"gtin": GTIN, "lot": "LOT-R1", "quantity": 1});
    let (_, codes) = s.seeder().issue("refusals", body).await;
    let v = scan(&s, &codes[0]).await;
    let reference = complain(&s, v["scan_id"].as_str().unwrap(), "seal broken").await;
    user(&s, "op-olga", "operator", None).await;
    user(&s, "printer-a", "label_printer", Some(a)).await;
    user(&s, "admin-a", "enterprise_admin", Some(a)).await;

    // A label printer in the browser: no operator menu entries, the refusal page.
    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "printer-a").await;
    let menu = b.text("nav").await;
    assert!(!menu.contains("投诉") && !menu.contains("参与方") && !menu.contains("锚定"));
    b.goto(&s.url("/console/actors")).await;
    assert!(b.text("h1").await.contains("无权访问"));
    assert!(b.text("p.err").await.contains("POST /api/v1/actors"));
    b.full_screenshot(&artifacts_dir("console").join("operator-refused-zh-1280.png"))
        .await;
    b.quit().await;

    let (printer, pcsrf) = session(&s, "printer-a").await;
    let (admin, acsrf) = session(&s, "admin-a").await;
    for (who, cookie) in [("printer", &printer), ("admin", &admin)] {
        for p in [
            "/console/actors".to_string(),
            "/console/actors/au-inspector".to_string(),
            "/console/health".to_string(),
            "/console/enterprises/new".to_string(),
        ] {
            let (st, page) = get_as(&s, cookie, &p).await;
            assert_eq!(st, 403, "{who} {p}");
            assert!(
                page.contains("class=\"err\""),
                "{who} {p}: the refusal page"
            );
        }
    }
    let (st, _) = get_as(&s, &printer, "/console/complaints").await;
    assert_eq!(st, 403, "label printers read no complaints");
    // An enterprise admin reads its own enterprise's complaint, without the form.
    let (st, page) = get_as(&s, &admin, &format!("/console/complaints/{reference}")).await;
    assert_eq!(st, 200);
    assert!(!page.contains("name=\"note\""));
    // Their forged posts, with their own valid tokens: refused, nothing changed.
    let before = api(&s, &format!("/api/v1/complaints/{reference}")).await;
    let answer = [("status", "resolved"), ("note", "forged")];
    for (cookie, csrf) in [(&printer, &pcsrf), (&admin, &acsrf)] {
        let mut f = vec![("csrf_token", csrf.as_str())];
        f.extend(answer);
        let (st, _) = post_as(&s, cookie, &format!("/console/complaints/{reference}"), &f).await;
        assert_eq!(st, 403);
        let credit = [
            ("csrf_token", csrf.as_str()),
            ("rating", "A"),
            ("rated_on", "2026-01-01"),
        ];
        let (st, _) = post_as(
            &s,
            cookie,
            &format!("/console/enterprises/{a}/credit"),
            &credit,
        )
        .await;
        assert_eq!(st, 403);
        let (st, _) = post_as(
            &s,
            cookie,
            "/console/actors",
            &[("csrf_token", csrf.as_str()), ("id", "x1")],
        )
        .await;
        assert_eq!(st, 403);
    }
    // The operator's own forms, without the token: refused, nothing changed.
    let (op, _) = session(&s, "op-olga").await;
    let (st, _) = post_as(
        &s,
        &op,
        &format!("/console/complaints/{reference}"),
        &answer,
    )
    .await;
    assert_eq!(st, 403);
    let credit = [("rating", "A"), ("rated_on", "2026-01-01")];
    let (st, _) = post_as(
        &s,
        &op,
        &format!("/console/enterprises/{a}/credit"),
        &credit,
    )
    .await;
    assert_eq!(st, 403);
    let (k, _) = key(9);
    let actor = [
        ("id", "x1"),
        ("organisation", "X"),
        ("country", "AU"),
        ("role", "carrier"),
        ("public_key", k.as_str()),
    ];
    let (st, _) = post_as(&s, &op, "/console/actors", &actor).await;
    assert_eq!(st, 403);
    assert_eq!(
        api(&s, &format!("/api/v1/complaints/{reference}")).await,
        before
    );
    assert_eq!(s.get(&format!("/api/v1/credit/{a}")).await.status(), 404);
    assert_eq!(s.get("/api/v1/actors/x1").await.status(), 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_sees_anchoring_and_log_health() {
    use traceseal::chain::anvil::{find_binary, Anvil, AnvilOptions};
    let anvil = Anvil::start(AnvilOptions::new(find_binary().unwrap())).unwrap();
    let mut cfg = test_config();
    cfg.chain.poll_ms = 100;
    cfg.chain.anchor_interval_ms = 0;
    cfg.chain.confirmations = 2;
    let s = TestServer::start_anchored(cfg, &anvil.url()).await;
    s.seed().await;
    s.issue("health", 5).await;
    let size = s.state.svc.log().log_size().unwrap();
    s.checkpoint_covering(size).await;
    user(&s, "op-olga", "operator", None).await;
    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "op-olga").await;
    b.click("nav a[href='/console/health']").await;
    wait_path(&b, "/console/health").await;
    // The page follows the worker: reload until the log's size is anchored.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let anchored = b
            .js("return ['anchored', 'gas'].map(c => document.querySelector('strong.' + c)).map(e => e ? e.innerText : '')")
            .await;
        let n = |i: usize| anchored[i].as_str().and_then(|a| a.parse::<u64>().ok());
        if n(0) >= Some(size) && n(1) > Some(0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not anchored: {anchored}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.goto(&s.url("/console/health")).await;
    }
    let logged: u64 = b.text("strong.log-size").await.parse().unwrap();
    assert!(logged >= size);
    let gas: u64 = b.text("strong.gas").await.parse().unwrap();
    assert!(gas > 20_000, "an anchor transaction's gas: {gas}");
    assert!(b.text("strong.age").await.ends_with(" s"));
    let pending: u64 = b.text("strong.pending").await.parse().unwrap();
    assert!(pending <= 1);
    shots(&b, &s, "/console/health", "health").await;
    b.quit().await;
    s.stop().await;
    drop(anvil);
}

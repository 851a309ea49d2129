//! The enterprise admin's console pages in headless Chromium against the real server over
//! RocksDB (`docs/console.md`, Products, Lots, Engagements): an enterprise admin registers and
//! edits a product and declares a lot through the forms, engages a custody actor and ends the
//! engagement; the lot page shows the custody records the actors signed (timeline, holds, what
//! comes next); the operator recalls the lot from its page and its items scan `not_genuine`.
//! Over plain HTTP: another enterprise's targets, the operator's recall and forms without their
//! CSRF token are refused and change nothing. Screenshots of each page in both languages at
//! 1280 and 360 px: `$CARGO_TARGET_DIR/test-artifacts/console/enterprise-*.png`.

mod common;

use std::time::Duration;

use base64::Engine;
use common::browser::{artifacts_dir, Browser};
use common::console::{api_sign_in, encoded, sign_in, user, wait_path};
use common::{test_config, verify_path, TestServer, GTIN, USCC};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use traceseal::custody::event::{Attestation, Conformance, Hold, HoldType, Movement};
use traceseal::custody::Event;
use traceseal::service::custody::LotPage;

/// Enterprise B's product.
const GTIN_B: &str = "09506000134369";
/// The product registered through the form (a valid check digit), and one with a wrong one.
const NEW_GTIN: &str = "09506000134376";
const BAD_GTIN: &str = "09506000134377";

/// Two enterprises, each with a product and a batch of 3 codes: (A, B, A's lot id, A's codes).
struct World {
    a: u64,
    b: u64,
    lot: String,
    codes: Vec<String>,
}

async fn world(s: &TestServer) -> World {
    let seeder = s.seeder();
    let mut ids = Vec::new();
    for (name, uscc, gtin) in [
        ("Acme Import Co.", USCC, GTIN),
        ("Other Import Co.", "91110108551385082Q", GTIN_B),
    ] {
        let e = json!({"name": name, "uscc": uscc, "country": "AU"});
        let r = seeder.post("/api/v1/enterprises", e, None).await;
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
        let p = json!({"gtin": gtin, "name_zh": "奶粉", "name_en": "Formula", "enterprise_id": id});
        assert_eq!(seeder.post("/api/v1/products", p, None).await.status(), 201);
        ids.push(id);
    }
    let batch = seeder
        .batch("a1", json!({"lot": "LOT-A1", "quantity": 3}))
        .await;
    World {
        a: ids[0],
        b: ids[1],
        lot: format!("{GTIN}.LOT-A1"),
        codes: seeder.codes(batch).await,
    }
}

/// A custody actor with its key, registered by the operator and engaged by `enterprise`
/// (when given) over the API.
async fn actor(
    s: &TestServer,
    id: &str,
    role: &str,
    seed: u8,
    enterprise: Option<u64>,
) -> SigningKey {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let public = base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes());
    let body = json!({"id": id, "organisation": format!("{id} Pty Ltd"), "country": "AU",
                      "role": role, "keys": [{"public_key": public}]});
    let r = s.admin_post("/api/v1/actors", body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    if let Some(e) = enterprise {
        let r = s
            .admin_post(
                &format!("/api/v1/enterprises/{e}/engagements"),
                json!({"actor_id": id}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    key
}

/// Screenshots of the page at `at` in Chinese and English, at 1280 and 360 px wide (no
/// sideways scroll on the phone); back in Chinese afterwards.
async fn shots(b: &Browser, s: &TestServer, at: &str, name: &str) {
    for lang in ["zh", "en"] {
        let to = format!("/console/lang?to={lang}&back={}", urlencode(at));
        b.goto(&s.url(&to)).await;
        for width in [1280, 360] {
            b.resize(width, 900).await;
            let fits = b
                .js("return document.documentElement.scrollWidth <= window.innerWidth")
                .await;
            assert_eq!(fits, true, "{at} scrolls sideways at {width} px");
            let file = format!("enterprise-{name}-{lang}-{width}.png");
            b.full_screenshot(&artifacts_dir("console").join(file))
                .await;
        }
        b.resize(1280, 900).await;
    }
    b.goto(&s.url(&format!("/console/lang?to=zh&back={}", urlencode(at))))
        .await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Waits (up to 5 s) for the first `css` element to show `needle` (a form posted back to the
/// page it is on: the path does not change).
async fn wait_text(b: &Browser, css: &str, needle: &str) {
    for _ in 0..100 {
        if text_of(b, css).await.contains(needle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{needle:?} not shown in {css}: {}", text_of(b, css).await);
}

/// The text of the first `css` element, or "" if there is none.
async fn text_of(b: &Browser, css: &str) -> String {
    b.js(&format!(
        "const e = document.querySelector({css:?}); return e ? e.innerText : ''"
    ))
    .await
    .as_str()
    .unwrap_or("")
    .to_string()
}

#[tokio::test]
async fn an_enterprise_admin_registers_a_product_declares_a_lot_and_engages_an_actor() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let w = world(&s).await;
    user(&s, "admin-a", "enterprise_admin", Some(w.a)).await;
    actor(&s, "au-inspector", "inspector", 7, None).await;

    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "admin-a").await;
    assert_eq!(
        b.text("nav").await,
        "首页\n批次\n商品\n批号与流转\n合作方\n员工与令牌\n审计记录\n投诉\n企业"
    );

    // Products: A's only; a wrong check digit gets the API's own message.
    b.click("nav a[href='/console/products']").await;
    wait_path(&b, "/console/products").await;
    let table = b.text("table").await;
    assert!(table.contains(GTIN) && !table.contains(GTIN_B), "{table}");
    shots(&b, &s, "/console/products", "products").await;
    let api = s
        .admin_post(
            "/api/v1/products",
            json!({"gtin": BAD_GTIN, "name_zh": "羊奶粉", "name_en": "Goat formula", "enterprise_id": w.a}),
        )
        .await;
    assert_eq!(api.status(), 400, "a GTIN with a wrong check digit");
    let detail = api.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    for gtin in [BAD_GTIN, NEW_GTIN] {
        b.goto(&s.url("/console/products")).await;
        b.type_into("#gtin", gtin).await;
        b.type_into("#name_zh", "羊奶粉").await;
        b.type_into("#name_en", "Goat formula").await;
        b.click("form[action='/console/products'] button").await;
        if gtin == BAD_GTIN {
            // The refusal comes back at the same path: wait for its message before moving on.
            wait_text(&b, "main", &detail).await;
        }
    }
    wait_path(&b, &format!("/console/products/{NEW_GTIN}")).await;
    // (The first post's answer, the API's message, is checked over HTTP below.)
    shots(&b, &s, &format!("/console/products/{NEW_GTIN}"), "product").await;
    b.type_into("#name_en", " 800 g").await;
    b.click("button.primary").await;
    let mut p = Value::Null;
    for _ in 0..100 {
        let url = format!("/api/v1/products/{NEW_GTIN}");
        p = s.admin_get(&url).await.json().await.unwrap();
        if p["name_en"] == "Goat formula 800 g" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(p["name_en"], "Goat formula 800 g", "saved from the form");
    assert_eq!(p["enterprise_id"], w.a);
    // B's product: the refusal page.
    b.goto(&s.url(&format!("/console/products/{GTIN_B}"))).await;
    assert!(
        b.text(".err").await.contains("belongs to enterprise"),
        "{}",
        b.text("main").await
    );

    // Lots: declare one from the form; its page says what comes first, and no recall button.
    b.goto(&s.url("/console/lots")).await;
    assert!(b.text("table").await.contains("LOT-A1"));
    b.type_into("#lot", "LOT-A2").await;
    b.click("form[action='/console/lots'] button").await;
    let lot2 = format!("{GTIN}.LOT-A2");
    wait_path(&b, &format!("/console/lots/{lot2}")).await;
    assert!(b.text("main").await.contains("原产地检验 — 境外检验机构"));
    assert_eq!(text_of(&b, "form[action$='/recall']").await, "");
    let v: Value = s
        .get(&format!("/api/v1/lots/{lot2}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(v["state"]["declared_at"].is_i64(), "{v}");
    shots(&b, &s, &format!("/console/lots/{lot2}"), "lot-declared").await;
    b.goto(&s.url("/console/lots")).await;
    assert!(b.text("table").await.contains("LOT-A2"));
    shots(&b, &s, "/console/lots", "lots").await;

    // Engagements: engage the inspector, then end it.
    b.click("nav a[href='/console/engagements']").await;
    wait_path(&b, "/console/engagements").await;
    b.type_into("#actor_id", "au-inspector").await;
    b.click("form[action='/console/engagements'] button").await;
    wait_text(&b, "table", "au-inspector").await;
    let now = engagements_of(&s, w.a).await;
    assert_eq!(now[0]["actor_id"], "au-inspector");
    assert_eq!(now[0]["open"], true);
    shots(&b, &s, "/console/engagements", "engagements").await;
    b.click("form[action$='/au-inspector/end'] button").await;
    wait_text(&b, "table", "已终止").await;
    assert_eq!(engagements_of(&s, w.a).await[0]["open"], false);
    let trail = s
        .state
        .svc
        .audit()
        .list(&Default::default(), None, 100)
        .unwrap();
    for route in [
        "/console/products",
        "/console/products/{gtin}",
        "/console/lots",
        "/console/engagements",
        "/console/engagements/{enterprise}/{actor}/end",
    ] {
        assert!(
            trail
                .records
                .iter()
                .any(|r| r.route == route && r.principal == "user:admin-a"),
            "{route} audited"
        );
    }
    b.quit().await;

    // The bad GTIN's answer, as the browser got it: the API's message.
    let (c, cookie, csrf) = session(&s, "admin-a", "/console/products").await;
    let r = c
        .post(s.url("/console/products"))
        .header("cookie", &cookie)
        .body(encoded(&[
            ("csrf_token", &csrf),
            ("gtin", BAD_GTIN),
            ("name_zh", "羊奶粉"),
            ("name_en", "Goat formula"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the API's status");
    assert!(
        r.text().await.unwrap().contains(&html_escape(&detail)),
        "{detail}"
    );
    s.stop().await;
}

async fn engagements_of(s: &TestServer, e: u64) -> Value {
    let url = format!("/api/v1/enterprises/{e}/engagements");
    s.admin_get(&url).await.json().await.unwrap()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn the_lot_page_shows_its_custody_and_the_operator_recalls_it() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let w = world(&s).await;
    user(&s, "admin-a", "enterprise_admin", Some(w.a)).await;
    user(&s, "op-alice", "operator", None).await;
    let insp = actor(&s, "au-inspector", "inspector", 1, Some(w.a)).await;
    let carrier = actor(&s, "sea-carrier", "carrier", 2, Some(w.a)).await;
    let broker = actor(&s, "nb-broker", "customs_broker", 3, Some(w.a)).await;
    let attest = Event::OriginAttestation(Attestation {
        certificate_no: "OIS-MEL-1".into(),
        origin_country: "AU".into(),
        producer: "Gippsland Dairy".into(),
        inspection_date: "2026-11-01".into(),
        result: Conformance::Conformant,
        documents: vec![],
    });
    let mut leaves = vec![
        s.record(&w.lot, ("au-inspector", &insp), attest, vec![])
            .await,
    ];
    for e in [
        Event::Shipping(Movement::default()),
        Event::Departing(Movement::default()),
        Event::Arriving(Movement::default()),
    ] {
        leaves.push(s.record(&w.lot, ("sea-carrier", &carrier), e, vec![]).await);
    }
    let hold = |reason: &str| Hold {
        hold_type: HoldType::Customs,
        reason: reason.into(),
    };
    let placed = Event::Holding(hold("document check"));
    leaves.push(
        s.record(&w.lot, ("nb-broker", &broker), placed, vec![])
            .await,
    );
    let lifted = Event::HoldRelease(hold("documents complete"));
    leaves.push(
        s.record(&w.lot, ("nb-broker", &broker), lifted, vec![])
            .await,
    );

    // The enterprise admin: the timeline, the hold and its outcome, what comes next.
    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "admin-a").await;
    b.goto(&s.url("/console/lots")).await;
    b.click(&format!("a[href='/console/lots/{}']", w.lot)).await;
    wait_path(&b, &format!("/console/lots/{}", w.lot)).await;
    let main = b.text("main").await;
    for (i, step) in ["原产地检验", "承运", "启运离港", "抵港", "扣留", "解除扣留"]
        .iter()
        .enumerate()
    {
        let row = format!("{} {step} ", leaves[i]);
        assert!(main.contains(&row), "row {row:?} in {main}");
    }
    assert!(main.contains("au-inspector"), "{main}");
    assert!(main.contains("已解除"), "the hold's outcome: {main}");
    assert!(main.contains("documents complete"), "{main}");
    assert!(
        main.contains("报关 — 报关行"),
        "next: the declaration: {main}"
    );
    assert_eq!(
        text_of(&b, "form[action$='/recall']").await,
        "",
        "no recall button"
    );
    shots(&b, &s, &format!("/console/lots/{}", w.lot), "lot-timeline").await;
    b.click(".who button").await;
    wait_path(&b, "/console/login").await;

    // The operator recalls it from the page: its items scan not_genuine.
    for code in &w.codes {
        let v: Value = s.get(&verify_path(code)).await.json().await.unwrap();
        assert_eq!(v["verdict"], "genuine", "{v}");
    }
    sign_in(&b, &s, "op-alice").await;
    b.goto(&s.url(&format!("/console/lots/{}", w.lot))).await;
    b.type_into("#reason", "contamination reported").await;
    shots(&b, &s, &format!("/console/lots/{}", w.lot), "lot-operator").await;
    b.type_into("#reason", "contamination reported").await;
    b.js("document.querySelector('#class').value = 'safety'")
        .await;
    b.click("form[action$='/recall'] button").await;
    wait_text(&b, "main", "已召回：").await;
    let main = b.text("main").await;
    assert!(main.contains("已召回：contamination reported"), "{main}");
    assert!(
        main.contains("召回 operator"),
        "the recall in the timeline: {main}"
    );
    shots(&b, &s, &format!("/console/lots/{}", w.lot), "lot-recalled").await;
    for code in &w.codes {
        let v: Value = s.get(&verify_path(code)).await.json().await.unwrap();
        assert_eq!(v["verdict"], "not_genuine", "{v}");
        assert_eq!(v["reasons"][0]["code"], "recalled");
    }
    b.quit().await;
    s.stop().await;
}

/// A client that posts forms like a browser without following redirects, signed in as
/// `name`: (client, session cookie, the CSRF token read from the page at `at`).
async fn session(s: &TestServer, name: &str, at: &str) -> (reqwest::Client, String, String) {
    let (cookie, _) = api_sign_in(s, name).await;
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(h)
        .build()
        .unwrap();
    let page = c
        .get(s.url(at))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no csrf_token in {at}"))
        .to_string();
    (c, cookie, csrf)
}

#[tokio::test]
async fn another_enterprises_targets_the_operators_recall_and_tokenless_forms_are_refused() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let w = world(&s).await;
    user(&s, "admin-a", "enterprise_admin", Some(w.a)).await;
    actor(&s, "au-inspector", "inspector", 1, Some(w.b)).await;
    actor(&s, "sea-carrier", "carrier", 2, None).await;
    let before = snapshot(&s, &w);
    let (c, cookie, csrf) = session(&s, "admin-a", "/console/engagements").await;
    let post = |path: String, pairs: Vec<(&'static str, String)>| {
        let (c, cookie, url) = (c.clone(), cookie.clone(), s.url(&path));
        async move {
            let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = c
                .post(url)
                .header("cookie", cookie)
                .body(encoded(&p))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let t = || ("csrf_token", csrf.clone());
    let forged: Vec<(String, Fields, &str)> = vec![
        (
            format!("/console/lots/{}/recall", w.lot),
            vec![t(), ("reason", "not mine to recall".into())],
            "enterprise_admin may not POST /api/v1/lots/{id}/recall",
        ),
        (
            "/console/engagements".into(),
            vec![
                t(),
                ("enterprise_id", w.b.to_string()),
                ("actor_id", "sea-carrier".into()),
            ],
            "belongs to enterprise",
        ),
        (
            format!("/console/engagements/{}/au-inspector/end", w.b),
            vec![t()],
            "belongs to enterprise",
        ),
        (
            "/console/products".into(),
            vec![
                t(),
                ("gtin", NEW_GTIN.into()),
                ("name_zh", "x".into()),
                ("name_en", "x".into()),
                ("enterprise_id", w.b.to_string()),
            ],
            "belongs to enterprise",
        ),
        (
            format!("/console/products/{GTIN_B}"),
            vec![t(), ("name_zh", "x".into()), ("name_en", "x".into())],
            "belongs to enterprise",
        ),
        (
            format!("/console/products/{GTIN}"),
            vec![
                t(),
                ("name_zh", "x".into()),
                ("name_en", "x".into()),
                ("enterprise_id", w.b.to_string()),
            ],
            "belongs to enterprise",
        ),
        (
            "/console/lots".into(),
            vec![t(), ("gtin", GTIN_B.into()), ("lot", "LOT-X".into())],
            "belongs to enterprise",
        ),
    ];
    for (path, pairs, why) in forged {
        let (status, page) = post(path.clone(), pairs).await;
        assert_eq!(status, 403, "{path}");
        assert!(
            page.contains(why) && page.contains("<title>无权访问"),
            "{path}: {page}"
        );
    }
    // The same forms without the session's token: refused before anything else.
    let tokenless: Vec<(String, Fields)> = vec![
        (
            format!("/console/lots/{}/recall", w.lot),
            vec![("reason", "x".into())],
        ),
        (
            "/console/engagements".into(),
            vec![("actor_id", "sea-carrier".into())],
        ),
        (
            format!("/console/engagements/{}/au-inspector/end", w.a),
            vec![],
        ),
        (
            "/console/products".into(),
            vec![
                ("gtin", NEW_GTIN.into()),
                ("name_zh", "x".into()),
                ("name_en", "x".into()),
            ],
        ),
        (
            format!("/console/products/{GTIN}"),
            vec![("name_zh", "x".into()), ("name_en", "x".into())],
        ),
        (
            "/console/lots".into(),
            vec![("gtin", GTIN.into()), ("lot", "LOT-X".into())],
        ),
    ];
    for (path, mut pairs) in tokenless {
        pairs.push(("csrf_token", "forged".into()));
        for p in [pairs.clone(), pairs[..pairs.len() - 1].to_vec()] {
            let (status, page) = post(path.clone(), p).await;
            assert_eq!(status, 403, "{path}");
            assert!(page.contains("CSRF"), "{path}: {page}");
        }
    }
    let after = snapshot(&s, &w);
    assert_eq!(before.0, after.0, "A's engagements unchanged");
    assert_eq!(before.1, after.1, "B's engagements unchanged");
    assert_eq!(before.2, after.2, "products unchanged");
    assert_eq!(before.3, after.3, "the lot is not recalled");
    assert_eq!(after.4, (false, false), "no lot declared");
    // Signed out, a post goes to sign-in and changes nothing.
    let r = c
        .post(s.url("/console/lots"))
        .body(encoded(&[
            ("csrf_token", &csrf),
            ("gtin", GTIN),
            ("lot", "LOT-X"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/login");
    // Pages stay small.
    let lot_page = format!("/console/lots/{}", w.lot);
    for at in [
        "/console/products",
        "/console/lots",
        lot_page.as_str(),
        "/console/engagements",
    ] {
        let r = c
            .get(s.url(at))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{at}");
        assert!(r.text().await.unwrap().len() < 100_000, "{at}");
    }
    s.stop().await;
}

/// A form's fields.
type Fields = Vec<(&'static str, String)>;

/// A's and B's engagements, the products, the lot's state, whether LOT-X exists (A's, B's).
type Snapshot = (String, String, Vec<Value>, Value, (bool, bool));

/// What the forged posts could change: A's and B's engagements, the products, A's lot's
/// state, and whether lot LOT-X of A's or B's product exists.
fn snapshot(s: &TestServer, w: &World) -> Snapshot {
    let svc = &s.state.svc;
    let e = |id| serde_json::to_string(&svc.engagements().list_engagements(id).unwrap()).unwrap();
    let page = || LotPage {
        after: None,
        limit: None,
    };
    let lot = svc.custody().lot_view(&w.lot, page()).unwrap();
    let exists = |g: &str| {
        svc.custody()
            .lot_view(&format!("{g}.LOT-X"), page())
            .is_ok()
    };
    let products = svc.master().list_products(None, None, 100).unwrap();
    (
        e(w.a),
        e(w.b),
        products
            .iter()
            .map(|p| serde_json::to_value(p).unwrap())
            .collect(),
        serde_json::to_value(&lot.state).unwrap(),
        (exists(GTIN), exists(GTIN_B)),
    )
}

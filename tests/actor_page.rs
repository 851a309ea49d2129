//! The actor page (`/actor/`) and its signed reads, against the real server over RocksDB:
//! signed actor requests and what each actor may read (HTTP); and in headless Chromium, the
//! page's canonical JSON and signatures against the Rust code on random statements, a key the
//! page cannot export, and actors — each in its own browser profile — recording a lot's custody
//! through the page, with the refusal an actor not engaged gets.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::browser::Browser;
use common::*;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as PropConfig, TestRunner};
use serde_json::{json, Value};
use traceseal::custody::request::authorization;
use traceseal::custody::{Statement, GENESIS};

const LOG: &str = "verify.example.com/log";

async fn declare(s: &TestServer, gtin: &str, lot: &str) {
    let r = s
        .admin_post("/api/v1/lots", json!({"gtin": gtin, "lot": lot}))
        .await;
    assert!(r.status().is_success(), "{:?}", r.text().await);
}

fn b64(sk: &SigningKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(sk.verifying_key().as_bytes())
}

async fn signed_get(s: &TestServer, path: &str, auth: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(s.url(path))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Signed reads: each actor reads its own desk; a forged, replayed-elsewhere, stale or
/// unsigned request is refused with its reason; an actor sees only the lots of the importers
/// that engaged it, never another importer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_reads_are_the_actors_own_and_refuse_forgeries() {
    let s = TestServer::start(test_config()).await;
    let a = s.seed().await;
    let r = s
        .admin_post(
            "/api/v1/enterprises",
            json!({"name": "Other Importer", "uscc": "91110000MA0123456P", "country": "FR"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let b = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let other_gtin = "09312345000128";
    let r = s
        .admin_post(
            "/api/v1/products",
            json!({"gtin": other_gtin, "name_zh": "葡萄酒", "name_en": "Wine", "enterprise_id": b}),
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    declare(&s, GTIN, "MINE1").await;
    declare(&s, other_gtin, "THEIRS1").await;
    let sk = SigningKey::from_bytes(&[21; 32]);
    s.register_actor("desk-insp", "inspector", &b64(&sk)).await;
    s.engage(a, "desk-insp").await;
    let now = traceseal::service::now_unix();
    let auth = |path: &str, at: i64| authorization(&sk, "desk-insp", LOG, "GET", path, at);

    let (st, me) = signed_get(&s, "/api/v1/actor/me", &auth("/api/v1/actor/me", now)).await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["actor"]["id"], "desk-insp");
    assert_eq!(me["log"], LOG);
    let (st, lots) = signed_get(&s, "/api/v1/actor/lots", &auth("/api/v1/actor/lots", now)).await;
    assert_eq!(st, 200, "{lots}");
    let names: Vec<&str> = lots["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lot"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [format!("{GTIN}.MINE1")],
        "only the engaging importer's lots"
    );
    assert_eq!(lots["lots"][0]["next_steps"], json!(["origin_attestation"]));
    // Another importer's lot: readable by id (lot ids are printed on labels), not engaged.
    let p = format!("/api/v1/actor/lots/{other_gtin}.THEIRS1");
    let (st, theirs) = signed_get(&s, &p, &auth(&p, now)).await;
    assert_eq!(st, 200, "{theirs}");
    assert_eq!(theirs["engaged"], false);

    let refusals = [
        (
            "/api/v1/actor/lots",
            auth("/api/v1/actor/me", now),
            "custody.bad_signature",
        ),
        (
            "/api/v1/actor/lots",
            auth("/api/v1/actor/lots", now - 3600),
            "custody.signed_at_out_of_window",
        ),
        (
            "/api/v1/actor/lots",
            "Bearer abc".to_string(),
            "custody.malformed_authorization",
        ),
        (
            "/api/v1/actor/lots",
            authorization(
                &SigningKey::from_bytes(&[9; 32]),
                "desk-insp",
                LOG,
                "GET",
                "/api/v1/actor/lots",
                now,
            ),
            "custody.unknown_key",
        ),
        (
            "/api/v1/actor/lots",
            authorization(&sk, "nobody", LOG, "GET", "/api/v1/actor/lots", now),
            "custody.unknown_actor",
        ),
        (
            "/api/v1/actor/lots",
            authorization(
                &sk,
                "desk-insp",
                "staging.example.com/log",
                "GET",
                "/api/v1/actor/lots",
                now,
            ),
            "custody.bad_signature",
        ),
    ];
    for (path, h, code) in refusals {
        let (st, p) = signed_get(&s, path, &h).await;
        assert_eq!(st, 401, "{code}: {p}");
        assert_eq!(p["code"], code, "{p}");
    }
    let r = s.get("/api/v1/actor/lots").await;
    assert_eq!(r.status(), 401);
    // An actor engaged by nobody lists nothing.
    let idle = SigningKey::from_bytes(&[22; 32]);
    s.register_actor("desk-idle", "carrier", &b64(&idle)).await;
    let h = authorization(&idle, "desk-idle", LOG, "GET", "/api/v1/actor/lots", now);
    let (st, v) = signed_get(&s, "/api/v1/actor/lots", &h).await;
    assert_eq!((st, v["lots"].as_array().unwrap().len()), (200, 0), "{v}");
    s.stop().await;
}

/// Random statements: the page's canonical JSON equals the Rust writer's, byte for byte, and
/// what the page signs verifies (`verify_strict`) over the bytes the Rust code builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_builds_and_signs_the_same_bytes_as_the_rust_code() {
    let s = TestServer::start(test_config()).await;
    let b = Browser::start("zh-CN", 1280, 900).await;
    b.goto(&s.url("/actor/")).await;
    b.wait_ready(Duration::from_secs(20)).await;
    b.click("#key-generate").await;
    let pk = wait_text(&b, "#key-public").await;
    let vk = ed25519_dalek::VerifyingKey::from_bytes(
        &base64::engine::general_purpose::STANDARD
            .decode(pk)
            .unwrap()
            .try_into()
            .unwrap(),
    )
    .unwrap();
    let mut runner = TestRunner::new(PropConfig::with_cases(48));
    let strategy = traceseal_statement();
    let statements: Vec<Statement> = (0..48)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    for st in statements {
        let canonical = st.canonical();
        // The page gets the object re-serialised loosely (another key order, spaces).
        let loose =
            serde_json::to_string_pretty(&shuffle(serde_json::from_str(&canonical).unwrap()))
                .unwrap();
        let script = format!(
            "const o = JSON.parse({loose:?}); const c = window.traceseal.canon(o);\
             const s = await window.traceseal.signStatement(o); return [c, s.statement, s.signature];",
            loose = loose
        );
        let v = b.js_async(&script).await;
        assert_eq!(v[0], canonical.as_str(), "canonical JSON of {canonical}");
        assert_eq!(v[1], canonical.as_str());
        let sig = traceseal::custody::record::parse_signature(v[2].as_str().unwrap()).unwrap();
        let msg = format!("traceseal/custody/v2\n{canonical}\n");
        assert!(
            vk.verify_strict(msg.as_bytes(), &sig).is_ok(),
            "the page's signature over {canonical}"
        );
    }
    b.quit().await;
    s.stop().await;
}

/// Reorders object keys (reversed) so the page must sort them itself.
fn shuffle(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
            pairs.reverse();
            let mut out = serde_json::Map::new();
            for (k, v) in pairs {
                out.insert(k, shuffle(v));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(shuffle).collect()),
        other => other,
    }
}

fn traceseal_statement() -> impl Strategy<Value = Statement> {
    use traceseal::custody::record::{Event, Movement, Warehousing};
    let text =
        "[ -~\u{00a0}-\u{00ff}\u{4e00}-\u{4e20}\u{1F600}\\\\\"\u{1}\u{1f}\u{7f}\u{2028}]{1,24}";
    (text, text, 0i64..4_000_000_000, any::<u8>(), any::<bool>()).prop_map(
        |(a, b, signed_at, n, ship)| {
            let event = if ship {
                Event::Shipping(Movement {
                    transport: Some(a.clone()),
                    bill_of_lading: None,
                })
            } else {
                Event::Storing(Warehousing {
                    location: Some(b.clone()),
                })
            };
            Statement {
                log: LOG.into(),
                lot: format!("{GTIN}.L{n}"),
                items: vec![],
                prev: GENESIS.into(),
                actor: "au-inspect".into(),
                kid: "0a1b2c3d".into(),
                time: "2026-11-02T09:30:00+10:00".into(),
                signed_at,
                nonce: format!("{n:02x}").repeat(16),
                place: None,
                event,
            }
        },
    )
}

async fn wait_text(b: &Browser, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = b
            .js(&format!(
                "const e = document.querySelector('{css}'); return e ? e.textContent.trim() : ''"
            ))
            .await;
        let t = v.as_str().unwrap_or("").to_string();
        if !t.is_empty() {
            return t;
        }
        assert!(Instant::now() < deadline, "{css} stayed empty");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_js(b: &Browser, script: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.js(script).await != Value::Bool(true) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One actor in its own browser profile: a key made in the page, registered by the operator.
struct ActorBrowser {
    b: Browser,
}

impl ActorBrowser {
    async fn start(s: &TestServer, id: &str, role: &str, enterprise: Option<u64>) -> ActorBrowser {
        let b = Browser::start("en-US,en", 1280, 900).await;
        b.goto(&s.url("/actor/")).await;
        b.wait_ready(Duration::from_secs(20)).await;
        b.click("#key-generate").await;
        let pk = wait_text(&b, "#key-public").await;
        s.register_actor(id, role, &pk).await;
        if let Some(e) = enterprise {
            s.engage(e, id).await;
        }
        b.type_into("#actor-id", id).await;
        b.click("#actor-save").await;
        wait_js(
            &b,
            "return document.querySelector('#me')?.dataset.state === 'registered'",
            "registered",
        )
        .await;
        ActorBrowser { b }
    }

    /// Opens `lot` by typing it, fills the form of `step` and submits; returns `#result`'s
    /// state and code.
    async fn record(&self, lot: &str, step: &str, fields: &[(&str, &str)]) -> (String, String) {
        self.open_form(lot, step).await;
        self.fill(fields).await;
        self.submit().await
    }

    /// Opens `lot` by typing it and the form of `step`.
    async fn open_form(&self, lot: &str, step: &str) {
        let b = &self.b;
        b.js(&format!(
            "document.querySelector('#lot-input').value = '{lot}'; document.querySelector('#result')?.removeAttribute('data-state'); return 1"
        ))
        .await;
        b.click("#lot-open").await;
        let button = format!("#lot-opened button[data-step='{step}'][data-lot='{lot}']");
        wait_js(
            b,
            &format!("return !!document.querySelector(\"{button}\")"),
            &button,
        )
        .await;
        b.click(&button).await;
        wait_js(
            b,
            &format!("return document.querySelector('#step-form')?.dataset.step === '{step}'"),
            "the form",
        )
        .await;
    }

    async fn fill(&self, fields: &[(&str, &str)]) {
        for (name, value) in fields {
            self.b.js(&format!(
                "const e = document.querySelector('#step-form [name=\"{name}\"]'); e.value = {value:?};\
                 e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}})); return 1"
            ))
            .await;
        }
    }

    /// Submits the open form; returns `#result`'s state and code.
    async fn submit(&self) -> (String, String) {
        let b = &self.b;
        b.click("#step-submit").await;
        wait_js(
            b,
            "return !!document.querySelector('#result')?.dataset.state",
            "the result",
        )
        .await;
        let v = b
            .js("const r = document.querySelector('#result'); return [r.dataset.state, r.dataset.code || '']")
            .await;
        (v[0].as_str().unwrap().into(), v[1].as_str().unwrap().into())
    }
}

fn sha_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The inspector attests the lot with two documents chosen in the file input as a person
/// would, ticks "publish" on the certificate image only, and sees it published.
async fn attest_with_documents(inspector: &ActorBrowser, lot: &str, dir: &std::path::Path) {
    let attest = [
        ("certificate_no", "AQIS-2026-0099"),
        ("origin_country", "AU"),
        ("producer", "Gippsland Dairy"),
        ("inspection_date", "2026-11-30"),
        ("result", "conformant"),
    ];
    let (png, pdf) = (dir.join("inspection.png"), dir.join("lab-report.pdf"));
    std::fs::write(&png, CERT_PNG).unwrap();
    std::fs::write(&pdf, LAB_PDF).unwrap();
    inspector.open_form(lot, "origin_attestation").await;
    inspector.fill(&attest).await;
    let b = &inspector.b;
    b.type_into(
        "#step-form input[type=file]",
        &format!("{}\n{}", png.display(), pdf.display()),
    )
    .await;
    wait_js(
        b,
        "return document.querySelectorAll('#doc-list li[data-sha256]').length === 2",
        "both documents hashed in the page",
    )
    .await;
    b.click(&format!("#publish-{}", sha_hex(CERT_PNG))).await;
    let r = inspector.submit().await;
    assert_eq!(r.0, "accepted", "{r:?}");
    wait_js(
        b,
        "const l = document.querySelectorAll('#uploads li'); return l.length === 1 && l[0].dataset.state !== 'pending'",
        "the upload",
    )
    .await;
    let up = b
        .js("const l = document.querySelector('#uploads li'); return [l.dataset.state, l.dataset.sha256, l.textContent]")
        .await;
    assert_eq!(up[0], "ok", "{up}");
    assert_eq!(up[1], sha_hex(CERT_PNG).as_str());
}

/// The consumer's scan page (a phone, in Chinese) shows the published certificate: the
/// browser fetches it, checks its SHA-256 against the signed record and shows it; bytes
/// altered on the way are refused in the page.
async fn consumer_views_the_certificate(s: &TestServer, code: &str) {
    let size = s.state.svc.log().log_size().unwrap();
    s.checkpoint_covering(size).await;
    let b = Browser::start("zh-CN,zh", 390, 844).await;
    b.goto(&format!("{}{}", s.base, code_path(code))).await;
    b.wait_ready(Duration::from_secs(20)).await;
    let buttons = b
        .js("return Array.from(document.querySelectorAll('#origin button.cert'), (e) => e.dataset.sha256)")
        .await;
    assert_eq!(
        buttons,
        json!([sha_hex(CERT_PNG)]),
        "only the published document"
    );
    b.click("#origin button.cert").await;
    wait_js(
        &b,
        "const v = document.querySelector('#origin .cert-view'); return !!v && v.dataset.state !== 'busy' && !!v.dataset.state",
        "the certificate check",
    )
    .await;
    let v = b
        .js("const v = document.querySelector('#origin .cert-view'); const i = v.querySelector('img.cert-img');\
             return [v.dataset.state, i ? i.naturalWidth : -1, !!v.querySelector('a.cert-save[download]')]")
        .await;
    assert_eq!(v, json!(["pass", 48, true]));
    b.full_screenshot(&common::browser::artifacts_dir("actor").join("scan-certificate.png"))
        .await;
    // A file changed on the way (one bit) does not pass.
    b.js("const f = window.fetch; window.fetch = (u, o) => String(u).startsWith('/certificates/') ?\
          f(u, o).then((r) => r.arrayBuffer()).then((x) => { const y = new Uint8Array(x); y[y.length - 1] ^= 1; return new Response(y); }) : f(u, o);\
          document.querySelector('#origin .cert-view').removeAttribute('data-state'); return 1")
        .await;
    b.click("#origin button.cert").await;
    wait_js(
        &b,
        "const v = document.querySelector('#origin .cert-view'); return !!v.dataset.state && v.dataset.state !== 'busy'",
        "the tampered check",
    )
    .await;
    let v = b
        .js("const v = document.querySelector('#origin .cert-view'); return [v.dataset.state, !!v.querySelector('img')]")
        .await;
    assert_eq!(v, json!(["fail", false]));
    b.quit().await;
}

const CERT_PNG: &[u8] = include_bytes!("../fixtures/certificates/inspection.png");
const LAB_PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// Five actors, five browser profiles: the lot goes from origin attestation (with a published
/// certificate) to retail sale through the page; the key cannot be exported; an actor the importer did not engage is refused in
/// the page; the consumer's scan shows the chain and the certificate, checked in the browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_actors_record_a_lot_from_their_own_browsers() {
    let s = TestServer::start(test_config()).await;
    let e = s.seed().await;
    let (_, codes) = s.issue("walk", 3).await;
    let lot = format!("{GTIN}.LOT-1");
    let inspector = ActorBrowser::start(&s, "walk-insp", "inspector", Some(e)).await;
    // The private key is a non-extractable CryptoKey in IndexedDB.
    let export = inspector
        .b
        .js_async(
            "const db = await new Promise((ok, no) => { const r = indexedDB.open('traceseal-actor'); r.onsuccess = () => ok(r.result); r.onerror = no; });\
             const k = await new Promise((ok, no) => { const r = db.transaction('keys').objectStore('keys').get('current'); r.onsuccess = () => ok(r.result); r.onerror = no; });\
             try { await crypto.subtle.exportKey('pkcs8', k.privateKey); return 'exported'; } catch (e) { return [e.name, k.privateKey.extractable]; }",
        )
        .await;
    assert_eq!(export, json!(["InvalidAccessError", false]));
    let dir = tempfile::tempdir().unwrap();
    attest_with_documents(&inspector, &lot, dir.path()).await;
    let stranger = ActorBrowser::start(&s, "walk-stranger", "carrier", None).await;
    let refused = stranger.record(&lot, "packing", &[]).await;
    assert_eq!(refused, ("refused".into(), "engagement.not_engaged".into()));
    let carrier = ActorBrowser::start(&s, "walk-carrier", "carrier", Some(e)).await;
    for step in ["packing", "shipping", "departing", "arriving"] {
        assert_eq!(
            carrier.record(&lot, step, &[]).await.0,
            "accepted",
            "{step}"
        );
    }
    let broker = ActorBrowser::start(&s, "walk-broker", "customs_broker", Some(e)).await;
    for step in ["customs_declaration", "customs_clearance"] {
        let r = broker
            .record(&lot, step, &[("declaration_no", "531620261000999")])
            .await;
        assert_eq!(r.0, "accepted", "{step}: {r:?}");
    }
    let warehouse = ActorBrowser::start(&s, "walk-wh", "bonded_warehouse", Some(e)).await;
    for step in ["receiving", "storing", "release"] {
        assert_eq!(
            warehouse.record(&lot, step, &[]).await.0,
            "accepted",
            "{step}"
        );
    }
    let shop = ActorBrowser::start(&s, "walk-shop", "retailer", Some(e)).await;
    let sale = shop
        .record(&lot, "retail_sale", &[("items", &codes[0])])
        .await;
    assert_eq!(sale.0, "accepted", "{sale:?}");
    for a in [&inspector, &stranger, &carrier, &broker, &warehouse, &shop] {
        a.b.screenshot(&common::browser::artifacts_dir("actor").join(format!(
                "{}.png",
                a.b.js("return document.querySelector('#actor-id').value")
                    .await
                    .as_str()
                    .unwrap()
            )))
        .await;
    }
    // The consumer's scan of the sold item shows the whole chain.
    let v: Value = s.get(&verify_path(&codes[0])).await.json().await.unwrap();
    let steps: Vec<&str> = v["custody"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"]["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "origin_attestation",
            "packing",
            "shipping",
            "departing",
            "arriving",
            "customs_declaration",
            "customs_clearance",
            "receiving",
            "storing",
            "release",
            "retail_sale"
        ]
    );
    for a in [inspector, stranger, carrier, broker, warehouse, shop] {
        a.b.quit().await;
    }
    consumer_views_the_certificate(&s, &codes[0]).await;
    s.stop().await;
}

/// The page's state for the language checks: the html `lang`, the title, the key button's
/// text, that message in the three languages, and the pressed language button.
const LANG_STATE: &str = "const M = window.traceseal.M; \
    return [document.documentElement.lang, document.title, \
    document.querySelector('#key-generate').textContent, \
    M.key_generate[0], M.key_generate[1], M.key_generate[2], \
    document.querySelector('#lang-switch [aria-pressed=true]').dataset.lang]";

/// Every message of the page in its three languages: the keys whose texts are missing, empty
/// or not strings, or whose French is the English text unchanged (bar a few words both
/// languages share). Message functions get sample arguments of the types they take.
const UNTRANSLATED: &str = "const { M } = window.traceseal; \
    const same = new Set(['me_org', 'req_org', 'f_lot', 'res_lot', 'items_count']); \
    const bad = []; \
    for (const [k, v] of Object.entries(M)) { \
      let t; \
      try { t = typeof v === 'function' ? v(2, 3, 4, 5) : v; } catch (e) { bad.push(k + ' throws ' + e); continue; } \
      if (!Array.isArray(t) || t.length !== 3 || t.some((s) => typeof s !== 'string' || !s.trim())) bad.push(k); \
      else if (t[2] === t[1] && !same.has(k)) bad.push(k + ' (French = English)'); \
    } \
    return [Object.keys(M).length, bad];";

/// A French-speaking inspector gets the page in French from the browser's languages; each
/// language button switches the page in place and the choice outlasts a reload (the
/// `ts_lang` cookie beats `Accept-Language`); every message exists in all three languages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_speaks_french_and_the_chosen_language_stays() {
    let s = TestServer::start(test_config()).await;
    let b = Browser::start("fr-FR,fr;q=0.9,en;q=0.5", 1280, 900).await;
    b.goto(&s.url("/actor/")).await;
    b.wait_ready(Duration::from_secs(20)).await;
    let v = b.js(LANG_STATE).await;
    assert_eq!(v[0], "fr", "{v}");
    assert_eq!(v[1], "traceseal registres de traçabilité", "{v}");
    assert_eq!(v[2], v[5], "the key button in French: {v}");
    assert_ne!(v[5], v[4], "French is not English: {v}");
    assert_eq!(v[6], "fr", "{v}");
    let m = b.js(UNTRANSLATED).await;
    assert!(m[0].as_u64().unwrap() > 200, "{m}");
    assert_eq!(m[1], json!([]), "messages without three texts");
    // French runs longer than English: on a phone the page still fits its width.
    b.resize(360, 740).await;
    let art = common::browser::artifacts_dir("actor");
    b.full_screenshot(&art.join("actor-fr-360px.png")).await;
    let w = b
        .js("return [document.documentElement.scrollWidth, window.innerWidth]")
        .await;
    assert!(w[0].as_u64() <= w[1].as_u64(), "no sideways scrolling: {w}");
    b.resize(1280, 900).await;

    b.click("#lang-switch [data-lang=zh]").await;
    let v = b.js(LANG_STATE).await;
    assert_eq!(
        (v[0].as_str(), v[1].as_str(), v[6].as_str()),
        (Some("zh-CN"), Some("traceseal 供应链记录"), Some("zh")),
        "{v}"
    );
    assert_eq!(v[2], v[3], "relabelled in place: {v}");
    assert_eq!(b.cookie("ts_lang").await.as_deref(), Some("zh"));
    b.goto(&s.url("/actor/")).await;
    b.wait_ready(Duration::from_secs(20)).await;
    let v = b.js(LANG_STATE).await;
    assert_eq!(v[0], "zh-CN", "the cookie outlasts the reload: {v}");

    b.click("#lang-switch [data-lang=en]").await;
    let v = b.js(LANG_STATE).await;
    assert_eq!(
        (v[0].as_str(), v[6].as_str()),
        (Some("en"), Some("en")),
        "{v}"
    );
    assert_eq!(v[2], v[4], "{v}");
    b.click("#lang-switch [data-lang=fr]").await;
    let v = b.js(LANG_STATE).await;
    assert_eq!((v[0].as_str(), v[2] == v[5]), (Some("fr"), true), "{v}");
    b.quit().await;
    s.stop().await;
}

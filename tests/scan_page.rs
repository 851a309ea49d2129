//! The consumer scan page in a real headless Chromium (Debian `chromium`, driven over
//! WebDriver by `chromium-driver`) against the real server on RocksDB and a real anvil chain:
//! a genuine anchored item shows its verdict, importer credit, origin and custody timeline in
//! Chinese and English, and every in-browser check (WebCrypto Ed25519, SHA-256 RFC 9162
//! proofs, the checkpoint signature, the consistency proof, `eth_call` to the contract)
//! passes; a complaint round-trips to the operator; proofs altered in transit (a flipped proof
//! hash, relabelled or dropped records, a removed anchor) fail in the browser, proofs that
//! cannot be fetched leave it incomplete; a tampered code shows not genuine and the browser's
//! own signature check fails; the pure-JS Ed25519 fallback agrees with ed25519-dalek.
//! Screenshots are kept under `$CARGO_TARGET_DIR/test-artifacts/scan-page/`; the page's
//! ready time and transferred size are printed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use common::browser::{artifacts_dir, Browser};
use common::*;
use serde_json::{json, Value};
use traceseal::anchor::AnchorStatus;
use traceseal::chain::anvil::{find_binary, Anvil, AnvilOptions};

/// The code URI as served by the test server (same path and query, local origin).
fn local(s_base: &str, code: &str) -> String {
    format!("{s_base}{}", code_path(code))
}

async fn verdict_json(s: &TestServer, code: &str) -> Value {
    s.client
        .get(s.url(&verify_path(code)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every check's result, by id.
async fn checks(b: &Browser) -> Value {
    b.js("const o = {}; for (const li of document.querySelectorAll('#checks li')) o[li.id.slice(4)] = li.dataset.result + ': ' + li.innerText; return o;")
        .await
}

fn result(c: &Value, id: &str) -> String {
    c[id]
        .as_str()
        .unwrap_or("missing")
        .split(':')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genuine_anchored_item_in_zh_and_en_with_every_browser_check_passing_and_a_complaint() {
    let art = artifacts_dir("scan-page");
    let anvil = Anvil::start(AnvilOptions::new(find_binary().unwrap())).unwrap();
    let mut cfg = test_config();
    cfg.chain.poll_ms = 100;
    cfg.chain.anchor_interval_ms = 0;
    cfg.chain.confirmations = 2;
    cfg.chain.public_rpc_url = anvil.url();
    // The test chain is on loopback: the page may read it only as under `serve --dev`.
    cfg.chain.dev_mode = true;
    let s = TestServer::start_anchored(cfg, &anvil.url()).await;
    // The demo data: enterprises, products, actors with their own keys, lots with their full
    // custody chains (origin attestation to the bonded warehouse).
    let svc = s.state.svc.clone();
    let keys = s.dir.path().join("actor-keys");
    let report = tokio::task::spawn_blocking(move || {
        svc.load_demo(traceseal::service::demo::BUILTIN, &keys)
    })
    .await
    .unwrap()
    .unwrap();
    let code = report.sample_codes[0].clone();
    // Its checkpoint anchored, then the log grows past it (so the bundle carries a
    // consistency proof from the anchored checkpoint to the latest).
    let size = s.state.svc.log().log_size().unwrap();
    s.checkpoint_covering(size).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let v = loop {
        let v = verdict_json(&s, &code).await;
        let st: AnchorStatus =
            serde_json::from_value(v["anchor"]["status"].clone()).unwrap_or(AnchorStatus::Logged);
        if st >= AnchorStatus::Anchored {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not anchored: {}",
            v["anchor"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let enterprise = v["product"]["enterprise"]["id"].as_u64().unwrap();
    let records = v["custody"]["records"].as_array().unwrap().len();
    assert!(records >= 8, "the demo lot has a full chain: {records}");
    let put = s
        .client
        .put(s.url(&format!("/api/v1/enterprises/{enterprise}/credit")))
        .bearer_auth(&s.token)
        .json(&json!({"rating": "A", "rated_on": "2026-09-30",
            "disclosures": [{"category": "reward", "title": "海关高级认证企业 AEO advanced", "date": "2025-05-01"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    s.state.svc.log().checkpoint_now().unwrap();
    s.seed().await;
    let (_, more) = s.issue("grow", 3).await;
    assert_eq!(more.len(), 3);
    s.checkpoint_covering(size + 3).await;

    // Chinese (the phone's language), 390 px wide.
    let b = Browser::start("zh-CN,zh", 390, 844).await;
    let url = local(&s.base, &code);
    b.goto(&url).await;
    b.wait_ready(Duration::from_secs(10)).await;
    let c = checks(&b).await;
    for id in [
        "code",
        "checkpoint",
        "inclusion",
        "records",
        "consistency",
        "chain",
    ] {
        assert_eq!(result(&c, id), "pass", "check {id}: {c}");
    }
    assert_eq!(
        b.js("return document.documentElement.dataset.verified")
            .await,
        "pass"
    );
    assert_eq!(b.js("return document.documentElement.lang").await, "zh-CN");
    assert_eq!(b.text("#verdict h1").await, "正品");
    assert!(
        b.text("#importer").await.contains("信用等级"),
        "importer in zh"
    );
    assert_eq!(b.text("#rating").await, "A");
    let origin = b.text("#origin").await;
    assert!(
        origin.contains("证书编号") && origin.contains("合格"),
        "{origin}"
    );
    let timeline = b.text("#timeline").await;
    assert!(
        timeline.contains("原产地检验证明") && timeline.contains("入保税仓"),
        "{timeline}"
    );
    // Every custody record on the timeline was checked in the browser.
    let checked = b
        .js("return document.querySelectorAll('#timeline .here[data-browser=pass]').length")
        .await;
    assert_eq!(
        checked,
        json!(records + 1),
        "the issuance and every custody record checked here"
    );
    assert!(b.text("#anchor").await.contains("已上链"));
    // Ready time and transferred size, from the browser's own timing.
    let perf = b
        .js("const n = performance.getEntriesByType('navigation')[0];
             const r = performance.getEntriesByType('resource');
             const m = performance.getEntriesByName('traceseal-ready')[0];
             return {ready_ms: m.startTime, dom_ms: n.domContentLoadedEventEnd,
                     page: n.transferSize,
                     assets: r.filter(x => x.name.includes('/assets/')).reduce((a, x) => a + x.transferSize, 0),
                     proofs: r.filter(x => !x.name.includes('/assets/')).reduce((a, x) => a + x.transferSize, 0)}")
        .await;
    let total = perf["page"].as_f64().unwrap() + perf["assets"].as_f64().unwrap();
    println!(
        "scan page: ready in {:.0} ms (DOM {:.0} ms); page {} B + assets {} B = {total} B transferred; proofs fetched by the checks {} B",
        perf["ready_ms"].as_f64().unwrap(),
        perf["dom_ms"].as_f64().unwrap(),
        perf["page"],
        perf["assets"],
        perf["proofs"]
    );
    assert!(
        total > 0.0 && total < 100_000.0,
        "page + assets under 100 KB: {perf}"
    );
    // Ready under 1 s. The first navigation of a freshly started browser sometimes pays its
    // own cold start (seen once at 3.3 s on a loaded CI machine, DOM included); the limit is
    // for a phone's browser that is running, so a slow first load is measured once more.
    let mut ready = perf["ready_ms"].as_f64().unwrap();
    if ready >= 1000.0 {
        b.goto(&url).await;
        b.wait_ready(Duration::from_secs(10)).await;
        let again = b
            .js("return performance.getEntriesByName('traceseal-ready')[0].startTime")
            .await;
        println!("scan page: first load {ready:.0} ms, again {again} ms");
        ready = again.as_f64().unwrap();
    }
    assert!(ready < 1000.0, "ready under 1 s: {perf}");
    b.full_screenshot(&art.join("genuine-zh.png")).await;

    // English by the switch: no reload, no second scan.
    b.click("#lang-switch").await;
    assert_eq!(b.js("return document.documentElement.lang").await, "en");
    assert_eq!(b.text("#verdict h1").await, "Genuine");
    assert!(b
        .text("#timeline")
        .await
        .contains("Received into the bonded warehouse"));
    assert!(b
        .text("#checks")
        .await
        .contains("The label code's signature"));
    b.full_screenshot(&art.join("genuine-en.png")).await;
    let answered = scans_answered(&s);

    // 320 px: nothing wider than the screen.
    b.resize(320, 700).await;
    let overflow = b
        .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "no horizontal scrolling at 320 px: {overflow}"
    );
    b.full_screenshot(&art.join("genuine-en-320px.png")).await;

    // Report a problem: the form sends it, the page shows the reference number.
    b.click("input[value=counterfeit]").await;
    b.type_into("#c-desc", "包装上的封条与以前买的不一样").await;
    b.type_into("#c-contact", "138 0000 0000").await;
    b.click("#complaint button").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let reference = loop {
        let r = b
            .js("const e = document.getElementById('complaint-reference'); return e ? e.textContent : ''")
            .await;
        if r != "" {
            break r.as_str().unwrap().to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no reference shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let secret = b
        .js("return document.getElementById('complaint-secret').textContent")
        .await
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(secret.len(), 29, "24 characters in groups of 4: {secret}");
    b.full_screenshot(&art.join("complaint-sent.png")).await;
    // The operator sees it with the scan it came from, and updates it.
    let c: Value = s
        .admin_get(&format!("/api/v1/complaints/{reference}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["category"], "counterfeit");
    assert_eq!(c["status"], "open");
    assert_eq!(c["description"], "包装上的封条与以前买的不一样");
    assert_eq!(c["contact"], "138 0000 0000");
    assert_eq!(c["scan"]["code"], code.as_str());
    assert_eq!(c["scan"]["verdict"], "genuine");
    assert_eq!(c["enterprise_id"], enterprise);
    let list: Value = s
        .admin_get("/api/v1/complaints?status=open")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["reference"], reference.as_str());
    let u = s
        .client
        .patch(s.url(&format!("/api/v1/complaints/{reference}")))
        .bearer_auth(&s.token)
        .json(&json!({"status": "resolved", "note": "封条批次变更，已向消费者说明"}))
        .send()
        .await
        .unwrap();
    assert_eq!(u.status(), 200);
    let c: Value = u.json().await.unwrap();
    assert_eq!(c["history"].as_array().unwrap().len(), 2);
    let credit: Value = s
        .get(&format!("/api/v1/credit/{enterprise}"))
        .await
        .json()
        .await
        .unwrap();
    // Only upheld complaints are public.
    assert_eq!(credit["complaints_upheld"], 1, "{credit}");
    assert!(credit.get("complaints").is_none(), "{credit}");
    // The consumer follows it from the receipt's link with the reference and the secret
    // (typed in lower case): the operator's answer and the referral to a partner body.
    let r = s
        .admin_post(
            &format!("/api/v1/complaints/{reference}/referral"),
            json!({"partner": "hk-consumer-council", "note": "卖家在香港，转交香港消委会"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    b.click("#complaint-result a").await;
    wait_for(&b, "#follow #secret").await;
    b.type_into("#reference", &reference).await;
    b.type_into("#secret", &secret.to_lowercase()).await;
    b.click("#follow button").await;
    wait_for(&b, "#complaint-status").await;
    let main = b.text("main").await;
    // In English: the page was switched to English above (the link keeps the language).
    for want in [
        "Upheld and handled",
        "封条批次变更，已向消费者说明",
        "Consumer Council (Hong Kong)",
        "The partner is handling it.",
    ] {
        assert!(main.contains(want), "{want}: {main}");
    }
    assert!(
        !main.contains("138 0000 0000"),
        "no contact on the consumer's page: {main}"
    );
    b.full_screenshot(&art.join("complaint-followed-en.png"))
        .await;
    b.quit().await;
    // The language switch did not scan again: only the JSON scan above was answered.
    verdict_json(&s, &code).await;
    assert_eq!(scans_answered(&s), answered + 1, "only the JSON scan above");

    // Proofs altered on the way (or by a lying server): the page never says verified.
    let (proxy, mode, task) = start_proxy(&s.base).await;
    let b = Browser::start("en-US,en", 390, 844).await;
    for (m, want, failing) in [
        ("proof", "fail", "inclusion"),
        ("relabel", "fail", "inclusion"),
        ("drop", "fail", "records"),
        // Without the engagement records, no signer was engaged by the importer.
        ("drop-engagements", "fail", "records"),
        ("anchor-null", "fail", "chain"),
        ("unavailable", "incomplete", "inclusion"),
        ("no-issuer-keys", "pass", ""),
    ] {
        *mode.lock().unwrap() = m;
        b.goto(&local(&proxy, &code)).await;
        b.wait_ready(Duration::from_secs(10)).await;
        let c = checks(&b).await;
        assert_eq!(
            b.js("return document.documentElement.dataset.verified")
                .await,
            want,
            "{m}: {c}"
        );
        assert_eq!(
            result(&c, "code"),
            "pass",
            "{m}: the code itself is fine: {c}"
        );
        if !failing.is_empty() {
            let expect = if want == "fail" { "fail" } else { "incomplete" };
            assert_eq!(result(&c, failing), expect, "{m}: {c}");
        }
        if m == "proof" || m == "drop" || m == "drop-engagements" {
            b.full_screenshot(&art.join(format!("altered-{m}-en.png")))
                .await;
        }
    }
    assert!(b
        .text("#verify-summary")
        .await
        .contains("Every check that applies passed"));
    b.quit().await;
    task.abort();
    s.stop().await;
    drop(anvil);
}

/// What the proxy does to proof bundles on their way to the browser.
type Mode = Arc<std::sync::Mutex<&'static str>>;

/// Scans answered by the test server so far (every scan, counted or not).
fn scans_answered(s: &TestServer) -> u64 {
    s.state
        .svc
        .stats()
        .scans
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// Forwards to the real server, but alters every proof bundle as `mode` says: a proof modified
/// in transit (or by a lying server).
async fn tampering_proxy(
    State((client, upstream, mode)): State<(reqwest::Client, Arc<String>, Mode)>,
    req: Request,
) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut up = client.get(format!("{upstream}{path}"));
    for h in ["accept", "accept-language", "cookie"] {
        if let Some(v) = req.headers().get(h) {
            up = up.header(h, v.clone());
        }
    }
    let r = up.send().await.unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain")
        .to_string();
    let mut body = r.bytes().await.unwrap().to_vec();
    if path.starts_with("/api/v1/bundle?") {
        let mode = *mode.lock().unwrap();
        if mode == "unavailable" {
            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
        }
        let mut b: Value = serde_json::from_slice(&body).unwrap();
        let std = base64::engine::general_purpose::STANDARD;
        let recs = b["records"].as_array_mut().unwrap();
        match mode {
            "proof" => {
                let h = recs[0]["inclusion_proof"][0].as_str().unwrap();
                let mut raw = std.decode(h).unwrap();
                raw[0] ^= 0x01;
                recs[0]["inclusion_proof"][0] = json!(std.encode(raw));
            }
            // A custody record labelled as a recall: its signature would go unchecked.
            "relabel" => {
                for r in recs.iter_mut().filter(|r| r["kind"] == "custody") {
                    r["kind"] = json!("recall");
                }
            }
            // The custody records left out: the timeline shows records the proofs lack.
            "drop" => recs.retain(|r| r["kind"] != "custody"),
            "drop-engagements" => recs.retain(|r| r["kind"] != "engagement"),
            "anchor-null" => b["anchor"] = Value::Null,
            "no-issuer-keys" => b["keys"]["issuers"] = json!([]),
            other => panic!("mode {other}"),
        }
        body = serde_json::to_vec(&b).unwrap();
    }
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        [("content-type", ctype)],
        body,
    )
        .into_response()
}

/// A proxy in front of `upstream`; returns its base URL, its mode and its task.
async fn start_proxy(upstream: &str) -> (String, Mode, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let mode: Mode = Arc::new(std::sync::Mutex::new("proof"));
    let app = axum::Router::new().fallback(tampering_proxy).with_state((
        reqwest::Client::new(),
        Arc::new(upstream.to_string()),
        mode.clone(),
    ));
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (proxy, mode, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_code_fails_in_the_browser_and_the_fallback_ed25519_agrees_with_dalek() {
    let art = artifacts_dir("scan-page");
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    // Scans from more than one network warn; the test's requests name their networks through
    // a trusted proxy header.
    cfg.scan.warn_after_networks = 1;
    cfg.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let s = TestServer::start(cfg).await;
    s.seed().await;
    let (_, codes) = s.issue("t1", 3).await;
    s.checkpoint_covering(3).await;
    let b = Browser::start("en-US,en", 390, 844).await;

    // A serial changed on the label: the server says not genuine, and so does the browser's
    // own check of the signature.
    let code = &codes[0];
    let at = code.find("/21/").unwrap() + 4;
    let mut bytes = code.clone().into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    b.goto(&local(&s.base, &tampered)).await;
    b.wait_ready(Duration::from_secs(10)).await;
    assert_eq!(
        b.js("return document.documentElement.lang").await,
        "en",
        "Accept-Language: en"
    );
    assert_eq!(b.text("#verdict h1").await, "Not genuine");
    assert!(b.text("#reasons").await.contains("altered or forged"));
    let c = checks(&b).await;
    assert_eq!(result(&c, "code"), "fail", "{c}");
    assert_eq!(
        b.js("return document.documentElement.dataset.verified")
            .await,
        "fail"
    );
    b.full_screenshot(&art.join("tampered-code-en.png")).await;
    // A code cut short is not even a code: a clear page, 400.
    let cut = &code[..code.find("&s=").unwrap()];
    let r = s.client.get(local(&s.base, cut)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Not a valid code"));

    // The genuine code scanned from another network first, then in the browser: the warning
    // with the number of networks and since when.
    let r = s
        .client
        .get(s.url(&verify_path(code)))
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    b.goto(&local(&s.base, code)).await;
    b.wait_ready(Duration::from_secs(10)).await;
    assert_eq!(b.text("#verdict h1").await, "Genuine, with a warning");
    let reasons = b.text("#reasons").await;
    assert!(
        reasons.contains("scanned from 2 different networks since"),
        "{reasons}"
    );
    assert!(b
        .text("#scan-count")
        .await
        .starts_with("Scanned from 2 network(s) in the last 30 days"));
    assert_eq!(
        b.js("return document.documentElement.dataset.verified")
            .await,
        "pass"
    );
    // Every form control has a label; every text says which language it is in.
    let unlabelled = b
        .js("return Array.from(document.querySelectorAll('input:not([type=hidden]), textarea')).filter(e => e.labels.length === 0).length")
        .await;
    assert_eq!(unlabelled, json!(0));
    b.full_screenshot(&art.join("warning-en.png")).await;

    // The pure-JS Ed25519 the page falls back to in browsers without it in WebCrypto: the
    // same answers as ed25519-dalek on random keys and messages, tampering refused.
    use ed25519_dalek::Signer;
    let hexs = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let js = |p: &str, s: &str, m: &str| {
        format!("return await window.tracesealEd25519('{p}', '{s}', '{m}')")
    };
    for i in 0..8u8 {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[i.wrapping_mul(37).wrapping_add(1); 32]);
        let msg: Vec<u8> = (0..(i as usize * 13)).map(|j| (j as u8) ^ i).collect();
        let sig = sk.sign(&msg).to_bytes();
        let (p, sg, m) = (hexs(sk.verifying_key().as_bytes()), hexs(&sig), hexs(&msg));
        assert_eq!(b.js_async(&js(&p, &sg, &m)).await, true, "vector {i}");
        let mut bad = sig;
        bad[(i as usize * 7) % 64] ^= 0x10;
        assert_eq!(
            b.js_async(&js(&p, &hexs(&bad), &m)).await,
            false,
            "tampered signature {i}"
        );
        assert_eq!(
            b.js_async(&js(&p, &sg, &format!("{m}00"))).await,
            false,
            "other message {i}"
        );
    }
    // What verify_strict refuses, the page refuses: a small-order key (the identity) with a
    // signature that verifies under cofactored rules (R = identity, S = 0), a small-order R,
    // and S >= L (S + L of a valid signature).
    let identity = format!("01{}", "00".repeat(31));
    let zero_sig = format!("{identity}{}", "00".repeat(32));
    assert_eq!(
        b.js_async(&js(&identity, &zero_sig, "00")).await,
        false,
        "small-order key"
    );
    let sk = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let sig = sk.sign(b"m").to_bytes();
    let p = hexs(sk.verifying_key().as_bytes());
    let small_r = format!("{identity}{}", hexs(&sig[32..]));
    assert_eq!(
        b.js_async(&js(&p, &small_r, "6d")).await,
        false,
        "small-order R"
    );
    let mut s_plus_l = sig;
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (x, y) in s_plus_l[32..].iter_mut().zip(l) {
        let t = *x as u16 + y as u16 + carry;
        *x = t as u8;
        carry = t >> 8;
    }
    assert_eq!(
        b.js_async(&js(&p, &hexs(&sig), "6d")).await,
        true,
        "the valid one"
    );
    assert_eq!(
        b.js_async(&js(&p, &hexs(&s_plus_l), "6d")).await,
        false,
        "S >= L"
    );
    b.quit().await;
    s.stop().await;
}

/// The scan page's Ed25519 module is @noble/ed25519 exactly as the pinned npm release (which
/// `npm ci` checks against the lockfile's sha512).
#[test]
fn the_vendored_ed25519_is_the_pinned_release() {
    let pkg =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/node_modules/@noble/ed25519");
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(pkg.join("package.json"))
            .expect("tools/ installed by scripts/dev setup"),
    )
    .unwrap();
    assert_eq!(meta["version"], "3.2.0");
    let published = std::fs::read_to_string(pkg.join("index.js")).unwrap();
    assert!(
        published == traceseal::http::page::ED25519_JS,
        "src/http/page/vendor/noble-ed25519.js differs from the published @noble/ed25519 3.2.0"
    );
}

/// Waits until the page has an element matching `css`.
async fn wait_for(b: &Browser, css: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let script = format!("return !!document.querySelector({css:?})");
    while b.js(&script).await != true {
        assert!(std::time::Instant::now() < deadline, "no {css}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

//! Registration requests end to end: an actor asks from the actor page (headless Chromium,
//! its key made there), the operator reads the request in the console (what the requester
//! typed is inert text) and registers it, and the actor page then finds its key registered.
//! Over HTTP: anonymous clients may file, within a per-address quota, and read nothing.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::browser::Browser;
use common::*;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use traceseal::http::ratelimit::REGISTRATION_REQUESTS_PER_HOUR as REQUESTS_PER_HOUR;
use traceseal::service::registry::requests::{canonical_text, signed_bytes, RegistrationFields};

async fn wait_js(b: &Browser, script: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.js(script).await != Value::Bool(true) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn set_value(b: &Browser, css: &str, value: &str) {
    b.js(&format!(
        "const e = document.querySelector('{css}'); e.value = {value:?}; e.dispatchEvent(new Event('input', {{bubbles: true}})); return 1"
    ))
    .await;
}

/// The XSS probe the requester types as its organisation.
const PROBE: &str = "<img src=x onerror=\"window.pwned=1\">Lyon Lab & Co";

#[tokio::test]
async fn an_actor_asks_from_its_page_and_the_operator_registers_it_in_the_console() {
    let s = TestServer::start(test_config()).await;
    let actor = Browser::start("en-US,en", 1280, 900).await;
    actor.goto(&s.url("/actor/")).await;
    actor.wait_ready(Duration::from_secs(20)).await;
    actor.click("#key-generate").await;
    wait_js(
        &actor,
        "return !!document.querySelector('#key-fingerprint')?.textContent && document.querySelector('#request')?.hidden === false",
        "the request form",
    )
    .await;
    let fingerprint = actor.text("#key-fingerprint").await;
    // The form's own checks come first: no actor id yet.
    actor.click("#req-send").await;
    wait_js(
        &actor,
        "return document.querySelector('#req-msg')?.dataset.state === 'error' && document.querySelector('#actor-id').getAttribute('aria-invalid') === 'true'",
        "the missing actor id",
    )
    .await;
    set_value(&actor, "#actor-id", "lyon-lab").await;
    set_value(&actor, "#req-organisation", PROBE).await;
    set_value(&actor, "#req-country", "fr").await;
    set_value(&actor, "#req-role", "inspector").await;
    set_value(&actor, "#req-contact", "qa@lyon.example").await;
    actor.click("#req-send").await;
    wait_js(
        &actor,
        "return document.querySelector('#req-sent')?.hidden === false && document.querySelector('#me')?.dataset.state === 'unregistered'",
        "the request sent",
    )
    .await;
    let sent = actor.text("#req-sent").await;
    assert!(sent.contains("was sent"), "{sent}");
    assert_eq!(
        actor
            .js("return document.querySelector('#actor-id').value")
            .await,
        "lyon-lab"
    );

    // Nothing of it is readable without the operator's grant.
    assert_eq!(s.get("/api/v1/actor-requests").await.status(), 401);

    // The operator reads it in the console: the probe is text, the fingerprint the page's.
    common::console::user(&s, "registrar", "operator", None).await;
    let op = Browser::start("en-US,en", 1280, 900).await;
    common::console::sign_in(&op, &s, "registrar").await;
    op.goto(&s.url("/console/actor-requests")).await;
    let card = "section.request";
    let shown = op.text(card).await;
    assert!(shown.contains(PROBE), "{shown}");
    assert!(shown.contains("qa@lyon.example"), "{shown}");
    assert!(
        shown.replace(' ', "").contains(&fingerprint),
        "{fingerprint} in {shown}"
    );
    assert_eq!(
        op.js("return [document.querySelectorAll('section.request img').length, window.pwned === undefined]")
            .await,
        json!([0, true])
    );
    op.screenshot(&common::browser::artifacts_dir("registration").join("console-requests.png"))
        .await;
    op.click("section.request form.register button").await;
    common::console::wait_path(&op, "/console/actors/lyon-lab").await;
    let page = op.text("main").await;
    assert!(page.contains(PROBE), "{page}");
    op.goto(&s.url("/console/actor-requests")).await;
    assert_eq!(
        op.js("return document.querySelectorAll('section.request').length")
            .await,
        0
    );

    // The actor page now finds the key registered, and the request form is gone.
    actor.goto(&s.url("/actor/")).await;
    actor.wait_ready(Duration::from_secs(20)).await;
    wait_js(
        &actor,
        "return document.querySelector('#me')?.dataset.state === 'registered' && document.querySelector('#request').hidden",
        "registered",
    )
    .await;
    assert_eq!(actor.text("#me-organisation").await, PROBE);
    actor
        .screenshot(&common::browser::artifacts_dir("registration").join("actor-registered.png"))
        .await;
    actor.quit().await;
    op.quit().await;
    s.stop().await;
}

fn request(s: &TestServer, sk: &SigningKey, org: &str) -> Value {
    let f = RegistrationFields {
        log: s.state.svc.origin().to_string(),
        public_key: base64::engine::general_purpose::STANDARD.encode(sk.verifying_key().as_bytes()),
        actor: "perth-freight".into(),
        organisation: org.into(),
        country: "AU".into(),
        role: traceseal::custody::Role::Carrier,
        contact: "+61 8 5550 0000".into(),
        note: None,
        signed_at: traceseal::service::now_unix(),
    };
    let text = canonical_text(&f).unwrap();
    let sig = sk.sign(&signed_bytes(&text));
    json!({"request": text, "signature": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.to_bytes())})
}

async fn file(s: &TestServer, body: &Value) -> (u16, Value) {
    let r = s
        .client
        .post(s.url("/api/v1/actor-requests"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Anonymous clients file requests within the per-address quota (refusals give their
/// token back), get precise problems for bad ones, and read nothing; the operator lists
/// and dismisses.
#[tokio::test]
async fn anonymous_clients_file_within_a_quota_and_only_the_operator_reads() {
    let s = TestServer::start(test_config()).await;
    // Refusals first: none of them uses up the quota or stores anything.
    let sk0 = SigningKey::from_bytes(&[40; 32]);
    let mut forged = request(&s, &sk0, "Forged");
    forged["signature"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([1u8; 64]));
    for (body, status, code) in [
        (forged, 400, "registry.bad_request_signature"),
        (
            json!({"request": "{}", "signature": ""}),
            400,
            "input.invalid_field",
        ),
        (json!({"request": 5}), 400, ""),
    ] {
        let (st, p) = file(&s, &body).await;
        assert_eq!(st, status, "{p}");
        if !code.is_empty() {
            assert_eq!(p["code"], code, "{p}");
        }
    }
    let r = s
        .client
        .post(s.url("/api/v1/actor-requests"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let mut fingerprints = Vec::new();
    for i in 0..REQUESTS_PER_HOUR {
        let sk = SigningKey::from_bytes(&[50 + i as u8; 32]);
        let (st, receipt) = file(&s, &request(&s, &sk, &format!("Freight {i}"))).await;
        assert_eq!(st, 201, "{receipt}");
        assert_eq!(receipt["status"], "pending");
        fingerprints.push(receipt["fingerprint"].as_str().unwrap().to_string());
    }
    let (st, p) = file(
        &s,
        &request(&s, &SigningKey::from_bytes(&[90; 32]), "One more"),
    )
    .await;
    assert_eq!(st, 429, "{p}");
    // Nothing is readable without the operator's grant.
    assert_eq!(s.get("/api/v1/actor-requests").await.status(), 401);
    let one = format!("/api/v1/actor-requests/{}", fingerprints[0]);
    assert_eq!(s.get(&one).await.status(), 401);
    let r = s.client.delete(s.url(&one)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let list: Value = s
        .admin_get("/api/v1/actor-requests")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), REQUESTS_PER_HOUR as usize);
    let r = s
        .client
        .delete(s.url(&one))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.admin_get(&one).await.status(), 404);
    s.stop().await;
}

/// A flood of forged requests from one address costs one signature check each only up to
/// the public rate limit: refused requests give back their quota token, so the general
/// limiter is what cuts them off (429 with Retry-After, as problem+json).
#[tokio::test]
async fn a_flood_of_forged_requests_from_one_address_is_cut_off_at_the_limit() {
    let mut cfg = test_config();
    cfg.rate_limit = traceseal::config::RateLimit {
        per_second: 1,
        burst: 3,
    };
    let s = TestServer::start(cfg).await;
    let mut body = request(&s, &SigningKey::from_bytes(&[41; 32]), "Forged");
    body["signature"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([2u8; 64]));
    let statuses = s.flood("/api/v1/actor-requests", &body, 8).await;
    assert_eq!(statuses[..3], [400, 400, 400], "{statuses:?}");
    assert!(statuses[3..].iter().all(|c| *c == 429), "{statuses:?}");
    let list: Value = s
        .admin_get("/api/v1/actor-requests")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]));
    s.stop().await;
}

//! A code is a secret until its label is seen: an anonymous client crawls every public
//! endpoint (every path of the OpenAPI document, every leaf, every proof, every lot page and
//! export, the scan page) of a service with issued batches, a custody chain with item-scoped
//! releases and sales, a reprint, a complaint and a credit profile — and finds no code, no
//! code signature and no serial, and nothing that scans genuine. Operator endpoints answer 401.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::*;
use serde_json::{json, Value};
use traceseal::commitment::ItemRef;
use traceseal::custody::record::Outbound;
use traceseal::custody::{rules, Event, Role};

/// Registers one actor per role, engaged by `enterprise`; their keys by role.
async fn actors(
    s: &TestServer,
    enterprise: u64,
) -> HashMap<Role, (String, ed25519_dalek::SigningKey)> {
    use base64::Engine;
    let mut out = HashMap::new();
    for (i, role) in Role::ALL.into_iter().enumerate() {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[i as u8 + 50; 32]);
        let id = format!("crawl-{}", role.as_str().replace('_', "-"));
        let public =
            base64::engine::general_purpose::STANDARD.encode(sk.verifying_key().as_bytes());
        let r = s
            .admin_post(
                "/api/v1/actors",
                json!({"id": id, "organisation": format!("{id} Ltd"), "country": "AU",
                       "role": role.as_str(), "keys": [{"public_key": public, "not_before": 0}]}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let r = s
            .admin_post(
                &format!("/api/v1/enterprises/{enterprise}/engagements"),
                json!({"actor_id": id, "not_before": 0}),
            )
            .await;
        assert_eq!(r.status(), 201);
        out.insert(role, (id, sk));
    }
    out
}

/// What must never leak: every code, its signature, its serial.
fn secrets(codes: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for c in codes {
        let code = traceseal::code::Code::parse(c).unwrap();
        out.push(c.clone());
        out.push(c[c.find("&s=").unwrap() + 3..].to_string());
        out.push(code.item().serial.as_str().to_string());
    }
    out
}

struct Crawler<'a> {
    s: &'a TestServer,
    client: reqwest::Client,
    secrets: Vec<String>,
    fetched: usize,
    bodies: Vec<(String, String)>,
}

impl Crawler<'_> {
    /// GETs `path` anonymously; checks the answer leaks nothing; returns status and body.
    async fn get(&mut self, path: &str, accept: &str) -> (u16, String) {
        let r = self
            .client
            .get(self.s.url(path))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = format!("{:?}", r.headers());
        let body = r.text().await.unwrap();
        for secret in &self.secrets {
            assert!(
                !body.contains(secret.as_str()) && !headers.contains(secret.as_str()),
                "GET {path} ({status}) reveals {secret:?}"
            );
        }
        assert!(status < 500, "GET {path}: {status} {body}");
        self.fetched += 1;
        self.bodies.push((path.to_string(), body.clone()));
        (status, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_anonymous_crawl_of_every_public_endpoint_finds_no_code() {
    let s = TestServer::start(test_config()).await;
    let eid = s.seed().await;
    let (b1, codes1) = s.issue("crawl-1", 6).await;
    let (_, codes2) = s.issue("crawl-2", 3).await;
    let codes: Vec<String> = codes1.iter().chain(codes2.iter()).cloned().collect();
    let lot = format!("{GTIN}.LOT-1");
    let cast = actors(&s, eid).await;
    for (role, event) in rules::standard_route("531620261000123").into_iter().take(8) {
        let (id, sk) = &cast[&role];
        s.record(&lot, (id, sk), event, vec![]).await;
    }
    // Item-scoped: two items released, one sold, named by item reference.
    let mut two: Vec<String> = codes[..2]
        .iter()
        .map(|c| ItemRef::of_uri(c).to_string())
        .collect();
    two.sort();
    let (id, sk) = &cast[&Role::BondedWarehouse];
    s.record(
        &lot,
        (id, sk),
        Event::Release(Outbound::default()),
        two.clone(),
    )
    .await;
    let sold = vec![ItemRef::of_uri(&codes[0]).to_string()];
    let (id, sk) = &cast[&Role::Retailer];
    s.record(&lot, (id, sk), Event::RetailSale(Outbound::default()), sold)
        .await;
    // A print job, printed again with a reason (a reprint record), and fetched twice.
    let r = s
        .admin_post(
            &format!("/api/v1/batches/{b1}/print-jobs"),
            json!({"format": "zpl", "range": [0, 2]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = s
        .admin_post(
            &format!("/api/v1/batches/{b1}/print-jobs"),
            json!({"format": "zpl", "range": [1, 2], "reprint_reason": "torn"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // A declared lot, a complaint from a scan, a credit profile.
    let r = s
        .admin_post("/api/v1/lots", json!({"gtin": GTIN, "lot": "LOT-2"}))
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = s.get(&verify_path(&codes[3])).await.json().await.unwrap();
    let r = s
        .client
        .post(s.url("/api/v1/complaints"))
        .json(&json!({"scan_id": v["scan_id"], "category": "quality", "description": "dented tin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .client
        .put(s.url(&format!("/api/v1/enterprises/{eid}/credit")))
        .bearer_auth(&s.token)
        .json(&json!({"rating": "A", "rated_on": "2026-11-01", "basis": "annual review"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let size: u64 = s.get("/healthz").await.json::<Value>().await.unwrap()["log_size"]
        .as_u64()
        .unwrap();
    s.checkpoint_covering(size).await;

    let mut c = Crawler {
        s: &s,
        client: reqwest::Client::new(),
        secrets: secrets(&codes),
        fetched: 0,
        bodies: Vec::new(),
    };
    // A code the crawler makes up (it has no label): right format, made-up serial and
    // signature.
    let forged = format!(
        "{}/21/FakeSerial0000001{}&s={}",
        &codes[0][..codes[0].find("/21/").unwrap()],
        &codes[0][codes[0].find('?').unwrap()..codes[0].find("&s=").unwrap()],
        "A".repeat(86)
    );
    assert!(traceseal::code::Code::parse(&forged).is_ok(), "{forged}");
    let forged_path = &forged["https://verify.example.com".len()..];
    let doc: Value =
        serde_json::from_str(&c.get("/api/v1/openapi.json", "application/json").await.1).unwrap();
    let mut covered = BTreeSet::new();
    let mut writes_refused = 0;
    let actors: Value =
        serde_json::from_str(&c.get("/api/v1/actors", "application/json").await.1).unwrap();
    let actor_ids: Vec<String> = actors
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let operator = op.get("security").is_some();
            let concrete: Vec<String> = match path.as_str() {
                "/api/v1/log/leaves/{index}" => (0..size)
                    .map(|i| format!("/api/v1/log/leaves/{i}"))
                    .collect(),
                "/api/v1/log/proof/inclusion" => (0..size)
                    .map(|i| format!("/api/v1/log/proof/inclusion?index={i}&size={size}"))
                    .collect(),
                "/api/v1/log/proof/consistency" => (1..size)
                    .step_by(7)
                    .map(|f| format!("/api/v1/log/proof/consistency?from={f}&to={size}"))
                    .collect(),
                "/api/v1/actors/{id}" => actor_ids
                    .iter()
                    .map(|a| format!("/api/v1/actors/{a}"))
                    .collect(),
                "/api/v1/lots/{id}" => [&lot, &format!("{GTIN}.LOT-2")]
                    .iter()
                    .flat_map(|l| {
                        [
                            format!("/api/v1/lots/{l}"),
                            format!("/api/v1/lots/{l}?limit=1&after=3"),
                        ]
                    })
                    .collect(),
                "/api/v1/lots/{id}/head" | "/api/v1/lots/{id}/epcis" => {
                    vec![
                        path.replace("{id}", &lot),
                        format!("{}?limit=2", path.replace("{id}", &lot)),
                    ]
                }
                "/api/v1/credit/{enterprise_id}" => vec![format!("/api/v1/credit/{eid}")],
                "/01/{gtin}/10/{lot}/21/{serial}" => vec![forged_path.to_string()],
                "/api/v1/verify" | "/api/v1/bundle" | "/api/v1/epcis" => {
                    vec![with_code(path, &forged)]
                }
                "/assets/{name}" => {
                    let page = c.get(forged_path, "text/html").await.1;
                    page.split("/assets/")
                        .skip(1)
                        .map(|r| format!("/assets/{}", &r[..r.find('"').unwrap()]))
                        .collect()
                }
                p => vec![p
                    .replace("{id}", "1")
                    .replace("{gtin}", GTIN)
                    .replace("{reference}", "TS20260101-000001")
                    .replace("{actor_id}", &actor_ids[0])
                    .replace("{kid}", "00000000")],
            };
            for url in concrete {
                if method != "get" {
                    // An anonymous write to an operator endpoint is refused before it is read.
                    if operator {
                        let m =
                            reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                        let r = c
                            .client
                            .request(m, s.url(&url))
                            .json(&json!({"gtin": GTIN, "lot": "X", "actor_id": actor_ids[0]}))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status(), 401, "{method} {url} is the operator's");
                        writes_refused += 1;
                    }
                    continue;
                }
                let (status, _) = c.get(&url, "application/json").await;
                if operator {
                    assert_eq!(status, 401, "GET {url} is the operator's");
                }
                let (status_html, _) = c.get(&url, "text/html").await;
                assert!(status_html < 500);
            }
            covered.insert(path.clone());
        }
    }
    assert!(
        covered.len() >= 40,
        "the OpenAPI document lists every endpoint: {covered:?}"
    );
    assert!(
        writes_refused >= 15,
        "anonymous operator writes tried: {writes_refused}"
    );
    let after: u64 = s.get("/healthz").await.json::<Value>().await.unwrap()["log_size"]
        .as_u64()
        .unwrap();
    assert_eq!(
        after, size,
        "nothing an anonymous client sent reached the log"
    );
    // Page bounds out of range are refused.
    for q in ["limit=0", "limit=501", "limit=x", "after=-1"] {
        let (status, _) = c
            .get(&format!("/api/v1/lots/{lot}?{q}"), "application/json")
            .await;
        assert_eq!(status, 400, "{q}");
    }
    // Lot pages: follow next_after to the end.
    let mut after = None::<u64>;
    loop {
        let q = after.map(|a| format!("&after={a}")).unwrap_or_default();
        let page: Value = serde_json::from_str(
            &c.get(
                &format!("/api/v1/lots/{lot}?limit=3{q}"),
                "application/json",
            )
            .await
            .1,
        )
        .unwrap();
        for r in page["records"].as_array().unwrap() {
            assert!(r.get("serials").is_none(), "{r}");
        }
        match page["next_after"].as_u64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    // Anything that looks like a code scans as not genuine (there should be none at all).
    let re_prefix = "https://verify.example.com/01/";
    let mut found = 0;
    for (path, body) in &c.bodies {
        for (i, _) in body.match_indices(re_prefix) {
            let tail: String = body[i..]
                .chars()
                .take_while(|ch| !ch.is_whitespace() && !"\"'<>\\".contains(*ch))
                .collect();
            if tail == forged || tail.starts_with(&forged[..forged.find('?').unwrap()]) {
                continue; // our own made-up code, echoed back
            }
            found += 1;
            let v: Value = s
                .get(&verify_path(&tail))
                .await
                .json()
                .await
                .unwrap_or(json!({}));
            assert_ne!(
                v["verdict"], "genuine",
                "{path} leaks a genuine code {tail}"
            );
        }
    }
    assert_eq!(found, 0, "no code-like strings in public answers");
    println!(
        "crawled {} anonymous requests over {} documented paths; no code, signature or serial",
        c.fetched,
        covered.len()
    );
    s.stop().await;
}

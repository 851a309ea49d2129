//! End-to-end HTTP tests: a real server on a socket, over RocksDB in a temp dir.

mod common;

use std::collections::HashSet;

use base64::Engine;
use common::*;
use serde_json::{json, Value};
use traceseal::checkpoint::open_checkpoint;
use traceseal::code::Code;
use traceseal::merkle::{self, Hash};

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], status);
    assert!(!v["detail"].as_str().unwrap().is_empty());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_data_issuance_log_and_scan_end_to_end() {
    let s = TestServer::start(test_config()).await;
    assert_eq!(s.get("/healthz").await.status(), 200);

    // Operator auth.
    let r = s
        .client
        .get(s.url("/api/v1/enterprises"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    problem(r, 401).await;
    let r = s
        .client
        .get(s.url("/api/v1/enterprises"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;

    // Master data with validation.
    let bad = s
        .admin_post(
            "/api/v1/enterprises",
            json!({"name": "X", "uscc": "91350100M000100Y44", "country": "CN"}),
        )
        .await;
    let p = problem(bad, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("uscc"), "{p}");
    assert_eq!(p["code"], "input.invalid_field", "{p}");
    let bad = s
        .admin_post("/api/v1/enterprises", json!({"name": "X", "uscc": USCC}))
        .await;
    let p = problem(bad, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("country"), "{p}");
    // A body the edge refuses before any use case runs has no code.
    assert!(p.get("code").is_none(), "{p}");
    let eid = s.seed().await;
    let dup = s
        .admin_post(
            "/api/v1/enterprises",
            json!({"name": "Y", "uscc": USCC, "country": "CN"}),
        )
        .await;
    assert_eq!(problem(dup, 409).await["code"], "master.uscc_exists");
    let e: Value = s
        .admin_get(&format!("/api/v1/enterprises/{eid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(e["uscc"], USCC);
    let p = problem(s.admin_get("/api/v1/enterprises/999").await, 404).await;
    assert_eq!(p["code"], "master.enterprise_not_found", "{p}");
    // Refused by the edge before any use case runs: no code.
    let p = problem(s.admin_get("/api/v1/enterprises/abc").await, 400).await;
    assert!(p.get("code").is_none(), "{p}");
    let upd = s
        .client
        .put(s.url(&format!("/api/v1/enterprises/{eid}")))
        .bearer_auth(&s.token)
        .json(&json!({"name": "Acme Import Co. Ltd", "uscc": USCC, "country": "AU"}))
        .send()
        .await
        .unwrap();
    assert_eq!(upd.status(), 200);
    let list: Value = s
        .admin_get("/api/v1/enterprises")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Acme Import Co. Ltd");
    let bad_gtin = s
        .admin_post(
            "/api/v1/products",
            json!({"gtin": "09506000134353", "name_zh": "x", "name_en": "x", "enterprise_id": eid}),
        )
        .await;
    let p = problem(bad_gtin, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("check digit"), "{p}");
    let prods: Value = s.admin_get("/api/v1/products").await.json().await.unwrap();
    assert_eq!(prods[0]["gtin"], GTIN);
    assert_eq!(
        s.admin_get(&format!("/api/v1/products/{GTIN}"))
            .await
            .status(),
        200
    );

    // Issuance errors.
    let no_key = s
        .admin_post(
            "/api/v1/batches",
            json!({"gtin": GTIN, "lot": "L", "quantity": 1}),
        )
        .await;
    let p = problem(no_key, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("Idempotency-Key"));
    let post = |body: Value, key: &'static str| {
        s.client
            .post(s.url("/api/v1/batches"))
            .bearer_auth(&s.token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    problem(
        post(
            json!({"gtin": "00000000000017", "lot": "L", "quantity": 1}),
            "u",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    problem(
        post(json!({"gtin": GTIN, "lot": "L", "quantity": 0}), "q")
            .await
            .unwrap(),
        400,
    )
    .await;
    problem(
        post(json!({"gtin": GTIN, "lot": "bad lot!", "quantity": 1}), "l")
            .await
            .unwrap(),
        400,
    )
    .await;
    problem(
        post(
            json!({"gtin": GTIN, "lot": "L", "quantity": 1, "colour": "red"}),
            "x",
        )
        .await
        .unwrap(),
        400,
    )
    .await;

    // Issue, stream, replay.
    let (bid, codes) = s.issue("batch-1", 25).await;
    assert_eq!(codes.len(), 25);
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 25);
    let replay = post(
        json!({"gtin": GTIN, "lot": "LOT-1", "expiry": "2028-06-30", "quantity": 25}),
        "batch-1",
    )
    .await
    .unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body, json!({"batch_id": bid, "count": 25}));
    let other = post(
        json!({"gtin": GTIN, "lot": "LOT-1", "quantity": 26}),
        "batch-1",
    )
    .await
    .unwrap();
    let p = problem(other, 409).await;
    assert_eq!(p["code"], "issuance.idempotency_key_reused", "{p}");
    let batch: Value = s
        .admin_get(&format!("/api/v1/batches/{bid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(batch["status"], "complete");
    assert_eq!(batch["issued"], 25);
    let (_, more) = s.issue("batch-2", 7).await;

    // Checkpoint signed by the log key from /api/v1/keys.
    let verifier = s.log_verifier().await;
    // The log: the enterprise's first credit grade (leaf 0), the product's ownership record
    // (leaf 1), then the 32 items.
    let note = s.checkpoint_covering(34).await;
    let cp = open_checkpoint(&note, &verifier).unwrap();
    assert_eq!(cp.size, 34);

    // Every leaf is provably in the checkpoint.
    for i in [2u64, 3, 26, 27, 33] {
        let leaf: Value = s
            .get(&format!("/api/v1/log/leaves/{i}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(leaf["index"], i);
        let data = b64(leaf["data"].as_str().unwrap());
        let text = String::from_utf8(data.clone()).unwrap();
        assert!(text.starts_with("traceseal/item/v2\n"));
        let proof = s.inclusion_proof(i, 34).await;
        merkle::verify_inclusion(&merkle::leaf_hash(&data), i, 34, &proof, &cp.root).unwrap();
    }
    let all: Vec<&String> = codes.iter().chain(more.iter()).collect();
    let grade: Value = s.get("/api/v1/log/leaves/0").await.json().await.unwrap();
    let grade = String::from_utf8(b64(grade["data"].as_str().unwrap())).unwrap();
    assert!(grade.starts_with("traceseal/grade/v1\n{"), "{grade}");
    let product: Value = s.get("/api/v1/log/leaves/1").await.json().await.unwrap();
    let product = String::from_utf8(b64(product["data"].as_str().unwrap())).unwrap();
    assert!(
        product.starts_with("traceseal/product/v1\n{\"at\":"),
        "{product}"
    );
    let leaf0: Value = s.get("/api/v1/log/leaves/2").await.json().await.unwrap();
    let text0 = String::from_utf8(b64(leaf0["data"].as_str().unwrap())).unwrap();
    // The leaf commits to its code without holding it (or its serial, or its signature).
    let commitments: Vec<String> = all
        .iter()
        .map(|c| traceseal::commitment::Commitment::of_uri(c).to_string())
        .collect();
    let issued = text0.lines().nth(1).unwrap();
    assert!(
        commitments
            .iter()
            .any(|c| text0 == format!("traceseal/item/v2\n{issued}\nbatch 1\ncommitment {c}\n")),
        "leaf 2 is one code's commitment: {text0}"
    );
    for c in &all {
        let code = traceseal::code::Code::parse(c).unwrap();
        let serial = code.item().serial.as_str();
        let sig = &c[c.find("&s=").unwrap() + 3..];
        assert!(!text0.contains(serial) && !text0.contains(sig), "{text0}");
    }
    let p = problem(s.get("/api/v1/log/leaves/34").await, 404).await;
    assert_eq!(p["code"], "log.leaf_not_found", "{p}");
    problem(
        s.get("/api/v1/log/proof/inclusion?index=5&size=99").await,
        400,
    )
    .await;
    problem(
        s.get("/api/v1/log/proof/inclusion?index=x&size=3").await,
        400,
    )
    .await;
    problem(
        s.get("/api/v1/log/proof/consistency?from=9&to=3").await,
        400,
    )
    .await;

    // Consistency between the size-25 state and the checkpoint.
    let cons: Value = s
        .get("/api/v1/log/proof/consistency?from=25&to=34")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (cons["from"].as_u64(), cons["to"].as_u64()),
        (Some(25), Some(34))
    );
    let proof: Vec<Hash> = cons["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    let root25 = s.state.svc.log().root_at(25).unwrap();
    merkle::verify_consistency(25, 34, &proof, &root25, &cp.root).unwrap();

    // Scans.
    let v: Value = s.get(&verify_path(&codes[3])).await.json().await.unwrap();
    assert_eq!(v["verdict"], "genuine", "{v}");
    assert_eq!(v["item"]["gtin"], GTIN);
    assert_eq!(v["item"]["lot"], "LOT-1");
    assert_eq!(v["item"]["expiry"], "2028-06-30");
    assert_eq!(v["product"]["name_zh"], "婴儿配方奶粉");
    assert_eq!(v["scans"]["networks"], 1);
    assert!(v["issued_at"].is_string());
    assert_eq!(v["log"]["tree_size"], 34);
    let proof: Vec<Hash> = v["log"]["inclusion_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    let cp2 = open_checkpoint(v["log"]["checkpoint"].as_str().unwrap(), &verifier).unwrap();
    let leaf = b64(v["log"]["leaf_data"].as_str().unwrap());
    merkle::verify_inclusion(
        &merkle::leaf_hash(&leaf),
        v["log"]["leaf_index"].as_u64().unwrap(),
        cp2.size,
        &proof,
        &cp2.root,
    )
    .unwrap();

    // The code URI itself: JSON on request, HTML otherwise.
    let r = s
        .client
        .get(s.url(&code_path(&codes[3])))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["verdict"], "genuine");
    // Scanned twice from one network within the hour: still one network, one counted scan.
    assert_eq!(
        (
            v["scans"]["networks"].as_u64(),
            v["scans"]["scans"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let r = s
        .client
        .get(s.url(&code_path(&codes[3])))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("正品") && html.contains("Genuine"), "{html}");

    // Tampered signature, unknown serial, unknown key: 200 not_genuine with the reason.
    let c = Code::parse(&codes[0]).unwrap();
    let sig_at = codes[0].find("&s=").unwrap() + 3;
    let mut t = codes[0].clone().into_bytes();
    t[sig_at + 5] = if t[sig_at + 5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(t).unwrap();
    let v: Value = s.get(&verify_path(&tampered)).await.json().await.unwrap();
    assert_eq!(v["verdict"], "not_genuine");
    assert_eq!(v["reasons"][0]["code"], "bad_signature");
    let other_lot = codes[0].replace("/10/LOT-1/", "/10/LOT-2/");
    let v: Value = s.get(&verify_path(&other_lot)).await.json().await.unwrap();
    assert_eq!(v["reasons"][0]["code"], "bad_signature");
    let unknown_key = codes[0].replace(&format!("k={}", c.kid()), "k=00000000");
    let v: Value = s
        .get(&verify_path(&unknown_key))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["verdict"], "not_genuine");
    assert_eq!(v["reasons"][0]["code"], "unknown_key");

    // Malformed input: 400 problem+json, never a 500.
    for bad in [
        "/api/v1/verify",
        "/api/v1/verify?code=",
        "/api/v1/verify?code=hello",
        "/api/v1/verify?code=https%3A%2F%2Fverify.example.com%2F01%2F123",
        "/api/v1/verify?code=%FF%FE",
        "/01/09506000134352/10/L/21/S?k=zz&s=1",
        "/01/09506000134353/10/L/21/S",
    ] {
        let r = s
            .client
            .get(s.url(bad))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        problem(r, 400).await;
    }

    // Body cap.
    let huge = "x".repeat(70 * 1024);
    let r = s
        .admin_post(
            "/api/v1/enterprises",
            json!({"name": huge, "uscc": USCC, "country": "CN"}),
        )
        .await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.headers()["connection"],
        "close",
        "the unread body ends the connection"
    );

    // OpenAPI: every operation present and every $ref resolves.
    let doc: Value = s.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/batches",
        "/api/v1/verify",
        "/api/v1/log/proof/consistency",
        "/api/v1/keys",
        "/01/{gtin}/10/{lot}/21/{serial}",
    ] {
        assert!(doc["paths"][p].is_object(), "missing path {p}");
    }
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }

    // Metrics.
    assert_eq!(
        s.get("/metrics").await.status(),
        401,
        "metrics need the operator token"
    );
    let m = s.admin_get("/metrics").await.text().await.unwrap();
    assert!(
        m.contains(
            "traceseal_http_requests_total{method=\"GET\",route=\"/api/v1/verify\",status=\"200\"}"
        ),
        "{m}"
    );
    assert!(m.contains("traceseal_http_request_duration_seconds_bucket"));
    assert!(m.contains("traceseal_codes_issued_total 32"));
    let log_size = m
        .lines()
        .find_map(|l| l.strip_prefix("traceseal_log_size "))
        .unwrap_or_else(|| panic!("no log size in {m}"));
    assert_eq!(log_size, s.state.svc.log().log_size().unwrap().to_string());
    assert!(m.contains("traceseal_checkpoint_age_seconds"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_network_cannot_poison_a_code_many_networks_warn_and_rate_limit_answers_429() {
    let mut cfg = test_config();
    // The test's requests name their client address through a trusted proxy header.
    cfg.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let s = TestServer::start(cfg).await;
    s.seed().await;
    let (_, codes) = s.issue("k", 2).await;
    let scan = |code: &str, ip: &str| {
        let req = s
            .client
            .get(s.url(&verify_path(code)))
            .header("x-forwarded-for", ip.to_string());
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    // 200 scans from one network (addresses of one /24): still one network, never a warning.
    for i in 0..200 {
        let v = scan(&codes[0], &format!("203.0.113.{}", i % 250)).await;
        assert_eq!(v["verdict"], "genuine", "scan {i}: {v}");
    }
    // A consumer elsewhere sees a genuine item, scanned from 2 networks.
    let v = scan(&codes[0], "198.51.100.20").await;
    assert_eq!(v["verdict"], "genuine", "{v}");
    assert_eq!(v["scans"]["networks"], 2);
    assert_eq!(v["scans"]["window_days"], 30);
    // The same code from many networks (more than the default 5) still warns.
    for n in 1..=4 {
        scan(&codes[0], &format!("192.0.{n}.9")).await;
    }
    let v = scan(&codes[0], "2001:db8:77::1").await;
    assert_eq!(v["verdict"], "genuine_with_warning", "{v}");
    assert_eq!(v["reasons"][0]["code"], "scanned_widely");
    assert_eq!(v["scans"]["networks"], 7);
    // IPv4-mapped IPv6 is the IPv4 network it maps.
    let v = scan(&codes[1], "203.0.113.1").await;
    assert_eq!(v["scans"]["networks"], 1);
    let v = scan(&codes[1], "::ffff:203.0.113.2").await;
    assert_eq!(v["scans"]["networks"], 1, "{v}");
    s.stop().await;

    let mut cfg = test_config();
    cfg.rate_limit.per_second = 1;
    cfg.rate_limit.burst = 6;
    let s = TestServer::start(cfg).await;
    // Burst of 6 at 1/s: a few more succeed, then 429 with Retry-After.
    let mut saw_429 = false;
    for _ in 0..30 {
        let r = s.get("/api/v1/log/checkpoint").await;
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            problem(r, 429).await;
            saw_429 = true;
            break;
        }
    }
    assert!(saw_429, "the limiter never answered 429");
    // Operator and health endpoints are not limited.
    assert_eq!(s.get("/healthz").await.status(), 200);
    assert_eq!(s.admin_get("/api/v1/products").await.status(), 200);
    s.stop().await;
}

//! Complaints, merchant credit and the scan page over HTTP (real server on RocksDB), without a
//! browser: every refusal is a precise 4xx problem, nothing is stored by a refused request, the
//! dishonesty list warns on scan, the page speaks the asked language and carries its security
//! headers, and the form works without script. (The browser side is `tests/scan_page.rs`.)

mod common;

use common::*;
use serde_json::{json, Value};

fn listed() -> Value {
    json!({
        "rating": "D", "rated_on": "2026-10-01", "basis": "false origin declarations",
        "disclosures": [
            {"category": "registration", "title": "Customs registration 3302960ABC", "date": "2019-03-01"},
            {"category": "punishment", "title": "Fine for false origin declaration", "date": "2026-09-12",
             "detail": "CNY 200,000", "source": "Ningbo Customs"}
        ],
        "dishonest": {"reason": "false origin declarations", "listed_on": "2026-10-01", "authority": "Ningbo Customs"}
    })
}

async fn put_credit(s: &TestServer, id: u64, body: &Value) -> reqwest::Response {
    s.client
        .put(s.url(&format!("/api/v1/enterprises/{id}/credit")))
        .bearer_auth(&s.token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn problem(r: reqwest::Response, status: u16, needle: &str) {
    assert_eq!(r.status(), status);
    assert_eq!(
        r.headers()["content-type"],
        "application/problem+json",
        "problem details"
    );
    let p: Value = r.json().await.unwrap();
    let d = p["detail"].as_str().unwrap();
    assert!(d.contains(needle), "{d:?} should mention {needle:?}");
}

async fn get_json(s: &TestServer, path: &str) -> Value {
    s.get(path).await.json().await.unwrap()
}

async fn admin_json(s: &TestServer, path: &str) -> Value {
    s.admin_get(path).await.json().await.unwrap()
}

async fn scan_json(s: &TestServer, code: &str) -> Value {
    get_json(s, &verify_path(code)).await
}

async fn complain(s: &TestServer, body: Value) -> reqwest::Response {
    s.client
        .post(s.url("/api/v1/complaints"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn credit_profiles_and_the_dishonesty_list() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let id = s.seed().await;
    let (_, codes) = s.issue("c1", 2).await;
    // Refusals: no token, unknown enterprise, malformed bodies.
    let r = s
        .client
        .put(s.url(&format!("/api/v1/enterprises/{id}/credit")))
        .json(&listed())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    problem(put_credit(&s, 999, &listed()).await, 404, "no enterprise").await;
    let mut bad = listed();
    bad["rating"] = json!("E");
    problem(put_credit(&s, id, &bad).await, 400, "rating").await;
    let mut bad = listed();
    bad["disclosures"][0]["date"] = json!("2019-02-30");
    problem(put_credit(&s, id, &bad).await, 400, "disclosures[0].date").await;
    let mut bad = listed();
    bad["colour"] = json!("red");
    problem(put_credit(&s, id, &bad).await, 400, "colour").await;
    problem(
        s.get(&format!("/api/v1/credit/{id}")).await,
        404,
        "no credit profile",
    )
    .await;
    problem(s.get("/api/v1/credit/abc").await, 400, "").await;
    // Before listing: genuine.
    assert_eq!(scan_json(&s, &codes[0]).await["verdict"], "genuine");
    let r = put_credit(&s, id, &listed()).await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["version"], 1);
    assert_eq!(
        p["disclosures"][0]["category"], "punishment",
        "newest first"
    );
    let public: Value = get_json(&s, &format!("/api/v1/credit/{id}")).await;
    assert_eq!(public["rating"], "D");
    let list: Value = get_json(&s, "/api/v1/credit/dishonest").await;
    assert_eq!(list[0]["enterprise_id"], id);
    assert_eq!(list[0]["uscc"], USCC);
    // Listed: scans warn, in JSON and on the page.
    let v = scan_json(&s, &codes[0]).await;
    assert_eq!(v["verdict"], "genuine_with_warning");
    assert_eq!(v["reasons"][0]["code"], "dishonest_enterprise");
    assert_eq!(v["product"]["credit"]["rating"], "D");
    let page = s
        .client
        .get(s.url(&code_path(&codes[1])))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"dishonest\""),
        "the warning is on the page"
    );
    assert!(page.contains("进口商自 2026-10-01 起被列入失信名单"));
    assert!(page.contains("on the dishonesty list since 2026-10-01"));
    // Taken off the list: the warning goes.
    let mut off = listed();
    off["dishonest"] = Value::Null;
    off["rating"] = json!("C");
    assert_eq!(put_credit(&s, id, &off).await.status(), 200);
    assert_eq!(scan_json(&s, &codes[1]).await["verdict"], "genuine");
    let list: Value = get_json(&s, "/api/v1/credit/dishonest").await;
    assert_eq!(list, json!([]));
    s.stop().await;
}

#[tokio::test]
async fn complaints_are_stored_with_their_scan_limited_and_managed_by_the_operator() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    cfg.complaints.per_hour = 5;
    cfg.complaints.per_scan = 3;
    let s = TestServer::start(cfg).await;
    let id = s.seed().await;
    let (_, codes) = s.issue("c2", 2).await;
    let v = scan_json(&s, &codes[0]).await;
    let sid = v["scan_id"].as_str().unwrap().to_string();
    assert_eq!(sid.len(), 32);
    // Refusals, none of which uses up the quota or stores anything.
    let long = "x".repeat(2001);
    for (body, status, needle) in [
        (
            json!({"scan_id": sid, "category": "fake", "description": "x"}),
            400,
            "category",
        ),
        (
            json!({"scan_id": "nothex", "category": "quality", "description": "x"}),
            400,
            "scan_id",
        ),
        (
            json!({"scan_id": "0".repeat(32), "category": "quality", "description": "x"}),
            404,
            "no scan",
        ),
        (
            json!({"scan_id": sid, "category": "quality", "description": "  "}),
            400,
            "description must not be empty",
        ),
        (
            json!({"scan_id": sid, "category": "quality", "description": long}),
            400,
            "at most 2000",
        ),
    ] {
        problem(complain(&s, body).await, status, needle).await;
    }
    let list: Value = admin_json(&s, "/api/v1/complaints").await;
    assert_eq!(list, json!([]), "refused requests store nothing");
    // Three from one scan, then 409.
    let mut refs = Vec::new();
    for cat in ["counterfeit", "quality", "service"] {
        let r = complain(
            &s,
            json!({"scan_id": sid, "category": cat, "description": "罐底批号被刮掉了", "contact": "a@example.com"}),
        )
        .await;
        assert_eq!(r.status(), 201);
        let rc: Value = r.json().await.unwrap();
        assert_eq!(rc["status"], "open");
        refs.push(rc["reference"].as_str().unwrap().to_string());
    }
    problem(
        complain(
            &s,
            json!({"scan_id": sid, "category": "quality", "description": "again"}),
        )
        .await,
        409,
        "3 problems were reported from this scan",
    )
    .await;
    // A complaint about a forged code is stored with that scan too (no enterprise).
    let at = codes[1].find("/21/").unwrap() + 4;
    let mut forged = codes[1].clone().into_bytes();
    forged[at] = if forged[at] == b'Z' { b'Y' } else { b'Z' };
    let forged = String::from_utf8(forged).unwrap();
    let fv = scan_json(&s, &forged).await;
    assert_eq!(fv["verdict"], "not_genuine");
    let fsid = fv["scan_id"].as_str().unwrap();
    // The form post of browsers without script: an HTML answer with the reference.
    let body = format!(
        "scan_id={fsid}&category=counterfeit&description=%E5%81%87%E8%B4%A7&contact=&lang=en"
    );
    let r = s
        .client
        .post(s.url("/complaints"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\""), "the form's language");
    assert!(html.contains("id=\"complaint-reference\">TS"), "{html}");
    let r = s
        .client
        .post(s.url("/complaints"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("scan_id={fsid}&category=oops&description=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("category must be counterfeit, quality or service"));
    // The fifth accepted report in the hour is the client's last: 429 with Retry-After.
    let r = complain(
        &s,
        json!({"scan_id": fsid, "category": "counterfeit", "description": "second"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = complain(
        &s,
        json!({"scan_id": fsid, "category": "counterfeit", "description": "third"}),
    )
    .await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // The operator: lists (newest first, filters, paging), reads, updates.
    problem(s.get("/api/v1/complaints").await, 401, "Bearer").await;
    let all: Value = admin_json(&s, "/api/v1/complaints").await;
    assert_eq!(all.as_array().unwrap().len(), 5);
    assert_eq!(all[0]["scan"]["verdict"], "not_genuine");
    assert_eq!(all[0]["scan"]["code"], forged.as_str());
    assert_eq!(all[0]["enterprise_id"], Value::Null);
    let mine: Value = admin_json(
        &s,
        &format!("/api/v1/complaints?enterprise_id={id}&limit=2"),
    )
    .await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert_eq!(mine[0]["reference"], refs[2].as_str());
    let older: Value = s
        .admin_get(&format!(
            "/api/v1/complaints?enterprise_id={id}&before={}",
            refs[1]
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(older.as_array().unwrap().len(), 1);
    assert_eq!(older[0]["reference"], refs[0].as_str());
    problem(
        s.admin_get("/api/v1/complaints?status=lost").await,
        400,
        "status",
    )
    .await;
    problem(
        s.admin_get("/api/v1/complaints?before=x").await,
        400,
        "not a complaint reference",
    )
    .await;
    problem(
        s.admin_get("/api/v1/complaints/TS20200101-000001").await,
        404,
        "no complaint",
    )
    .await;
    let c: Value = admin_json(&s, &format!("/api/v1/complaints/{}", refs[0])).await;
    assert_eq!(c["scan"]["scan_id"], sid.as_str());
    assert_eq!(c["contact"], "a@example.com");
    let patch = |r: &str, body: Value| {
        s.client
            .patch(s.url(&format!("/api/v1/complaints/{r}")))
            .bearer_auth(&s.token)
            .json(&body)
            .send()
    };
    for (body, needle) in [
        (json!({"status": "closed", "note": "x"}), "status"),
        (json!({"status": "resolved", "note": ""}), "note"),
    ] {
        problem(patch(&refs[0], body).await.unwrap(), 400, needle).await;
    }
    let r = patch(
        &refs[0],
        json!({"status": "investigating", "note": "asked the importer"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = patch(
        &refs[0],
        json!({"status": "resolved", "note": "relabelled lot withdrawn"}),
    )
    .await
    .unwrap();
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["status"], "resolved");
    let h: Vec<&str> = c["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(h, ["open", "investigating", "resolved"]);
    let open: Value = admin_json(&s, "/api/v1/complaints?status=open").await;
    assert_eq!(open.as_array().unwrap().len(), 4);
    s.stop().await;
}

#[tokio::test]
async fn the_page_speaks_the_asked_language_with_strict_headers_and_cached_assets() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    s.seed().await;
    let (_, codes) = s.issue("p1", 1).await;
    let url = s.url(&code_path(&codes[0]));
    let get = |u: String, al: Option<&'static str>, cookie: Option<&'static str>| {
        let mut r = s.client.get(u);
        if let Some(a) = al {
            r = r.header("accept-language", a);
        }
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send()
    };
    let r = get(url.clone(), None, None).await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(
        html.starts_with("<!doctype html><html lang=\"zh-CN\""),
        "Chinese by default"
    );
    for attr in ["src=\"", "href=\"", "action=\""] {
        for (i, _) in html.match_indices(attr) {
            let v = &html[i + attr.len()..];
            assert!(
                v.starts_with('/'),
                "no external reference: {}",
                &v[..v.find('"').unwrap()]
            );
        }
    }
    for (al, cookie, q, want) in [
        (Some("en-GB,en;q=0.9"), None, "", "en"),
        (Some("en-GB,en;q=0.9"), Some("ts_lang=zh"), "", "zh-CN"),
        (Some("zh-CN"), None, "&lang=en", "en"),
        (Some("de-DE,fr;q=0.8"), None, "", "zh-CN"),
    ] {
        let html = get(format!("{url}{q}"), al, cookie)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.starts_with(&format!("<!doctype html><html lang=\"{want}\"")),
            "{al:?} {cookie:?} {q:?} → {want}"
        );
        assert!(
            html.contains("data-verdict=\"genuine\""),
            "the lang pair does not break the code"
        );
    }
    // Assets: content-hashed names, cached for a year; unknown names 404.
    // The stylesheet, the script and the Ed25519 module the script loads only where WebCrypto
    // has no Ed25519.
    let names: Vec<String> = html_assets(&html);
    assert_eq!(names.len(), 3, "{names:?}");
    let mut total = html.len();
    for n in &names {
        let r = s.get(n).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        total += r.bytes().await.unwrap().len();
    }
    assert!(total < 100_000, "page and assets: {total} bytes");
    assert_eq!(s.get("/assets/scan-0000000000.js").await.status(), 404);
    // A code that is not a code: 400 page, still our page.
    let r = get(
        s.url("/01/09506000134352/10/L/21/S?k=zz&s=x"),
        Some("en"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Not a valid code"));
    s.stop().await;
}

fn html_assets(html: &str) -> Vec<String> {
    html.match_indices("/assets/")
        .map(|(i, _)| {
            let rest = &html[i..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

//! Complaints the consumer can follow, and referrals to a partner body, over HTTP on
//! RocksDB: the receipt's secret (and only it) shows the progress, with one answer for a wrong
//! reference and a wrong secret; the consumer's view carries the operator's answers and the
//! referral but not the contact or the scan; referrals name a configured partner, once, and
//! their outcome once; only the operator refers; the page works without script.

mod common;

use common::*;
use serde_json::{json, Value};

/// Files a complaint about a fresh scan of one of the seeded product's codes; the receipt.
async fn filed(s: &TestServer) -> Value {
    let (_, codes) = s.issue("follow", 2).await;
    let body = json!({"category": "quality",
                      "description": "the tin was dented and the powder clumped",
                      "contact": "consumer@example.com"});
    s.complain(&codes[0], "203.0.113.20", body).await
}

async fn progress(s: &TestServer, reference: &str, secret: &str) -> reqwest::Response {
    s.client
        .post(s.url(&format!("/api/v1/complaints/{reference}/progress")))
        .json(&json!({ "secret": secret }))
        .send()
        .await
        .unwrap()
}

async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_receipts_secret_shows_the_progress_and_nothing_else_does() {
    let s = TestServer::start(test_config()).await;
    s.seed().await;
    let receipt = filed(&s).await;
    let (reference, secret) = (
        receipt["reference"].as_str().unwrap(),
        receipt["secret"].as_str().unwrap(),
    );
    // 24 characters of Crockford base 32 in six groups: 120 bits.
    let groups: Vec<&str> = secret.split('-').collect();
    assert_eq!(groups.len(), 6, "{secret}");
    assert!(groups.iter().all(|g| g.len() == 4
        && g.bytes()
            .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))));

    let p: Value = progress(&s, reference, secret).await.json().await.unwrap();
    assert_eq!(
        (p["status"].as_str(), p["category"].as_str()),
        (Some("open"), Some("quality"))
    );
    for hidden in [
        "contact",
        "scan",
        "gtin",
        "serial",
        "enterprise_id",
        "secret_sha256",
    ] {
        assert!(
            p.get(hidden).is_none(),
            "{hidden} in the consumer's view: {p}"
        );
    }
    // Typed loosely: lower case, spaces for dashes, O for 0 and l for 1.
    let loose = secret
        .to_lowercase()
        .replace('-', " ")
        .replace('0', "o")
        .replace('1', "l");
    assert_eq!(progress(&s, reference, &loose).await.status(), 200);

    // A wrong secret and an unknown reference get the same answer; a malformed one a 400.
    let wrong = problem(
        progress(&s, reference, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF").await,
        404,
    )
    .await;
    let other = reference.replace("-000001", "-000002");
    let unknown = problem(progress(&s, &other, secret).await, 404).await;
    assert_eq!(wrong["code"], "complaint.not_followable");
    assert_eq!(unknown["code"], wrong["code"]);
    assert_eq!(
        wrong["detail"].as_str().unwrap().replace(reference, "R"),
        unknown["detail"].as_str().unwrap().replace(&other, "R")
    );
    problem(progress(&s, "TS-1", secret).await, 400).await;
    let long = "A".repeat(100);
    problem(progress(&s, reference, &long).await, 404).await;
    // The operator's view has the digest, never the secret.
    let c: Value = s
        .admin_get(&format!("/api/v1/complaints/{reference}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["secret_sha256"].as_str().unwrap().len(), 64);
    assert!(!c.to_string().contains(secret));

    // The operator answers; the consumer sees the answer.
    let r = s
        .admin_send(
            reqwest::Method::PATCH,
            &format!("/api/v1/complaints/{reference}"),
            json!({"status": "investigating", "note": "asked the importer for the lot's storage records"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let p: Value = progress(&s, reference, secret).await.json().await.unwrap();
    assert_eq!(p["status"], "investigating");
    assert_eq!(
        p["history"][1]["note"],
        "asked the importer for the lot's storage records"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_complaint_is_referred_once_to_a_configured_partner_and_its_outcome_recorded_once() {
    let s = TestServer::start(test_config()).await;
    let id = s.seed().await;
    let receipt = filed(&s).await;
    let (reference, secret) = (
        receipt["reference"].as_str().unwrap(),
        receipt["secret"].as_str().unwrap(),
    );
    let (refer_path, outcome_path) = (
        format!("/api/v1/complaints/{reference}/referral"),
        format!("/api/v1/complaints/{reference}/referral/outcome"),
    );
    let refer = |body: Value| s.admin_post(&refer_path, body);
    let outcome = |body: Value| s.admin_post(&outcome_path, body);
    let p = problem(
        outcome(json!({"result": "settled", "note": "x"})).await,
        409,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("not referred"),
        "{p}"
    );
    let p = problem(refer(json!({"partner": "nowhere", "note": "x"})).await, 400).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("hk-consumer-council"),
        "{p}"
    );
    problem(
        refer(json!({"partner": "hk-consumer-council", "note": ""})).await,
        400,
    )
    .await;
    problem(refer(json!({"partner": "hk-consumer-council"})).await, 400).await;

    // Nobody but the operator refers: anonymous 401, the importer's own admin 403.
    let path = format!("/api/v1/complaints/{reference}/referral");
    let body = json!({"partner": "hk-consumer-council", "note": "seller in Hong Kong"});
    let r = s
        .client
        .post(s.url(&path))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let token: Value = s
        .admin_post(
            "/api/v1/tokens",
            json!({"name": "acme-admin", "role": "enterprise_admin", "enterprise_id": id}),
        )
        .await
        .json()
        .await
        .unwrap();
    let r = s
        .client
        .post(s.url(&path))
        .bearer_auth(token["token"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let r = refer(body.clone()).await;
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(
        c["referral"]["partner"]["name_en"],
        "Consumer Council (Hong Kong)"
    );
    assert!(c["referral"]["outcome"].is_null());
    let p = problem(refer(body).await, 409).await;
    assert_eq!(p["code"], "complaint.already_referred");
    let r =
        outcome(json!({"result": "settled", "note": "refund agreed through the council"})).await;
    assert_eq!(r.status(), 200);
    let p = problem(
        outcome(json!({"result": "upheld", "note": "again"})).await,
        409,
    )
    .await;
    assert_eq!(p["code"], "complaint.referral_closed");
    problem(outcome(json!({"result": "won", "note": "x"})).await, 400).await;

    // The consumer sees the referral and its outcome, as JSON and on the page (no script).
    let p: Value = progress(&s, reference, secret).await.json().await.unwrap();
    assert_eq!(p["referral"]["partner"]["id"], "hk-consumer-council");
    assert_eq!(p["referral"]["outcome"]["result"], "settled");
    let form = s
        .client
        .post(s.url("/complaints/follow"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(common::console::encoded(&[
            ("reference", reference),
            ("secret", secret),
            ("lang", "en"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(form.headers()["cache-control"], "no-store");
    let html = form.text().await.unwrap();
    for want in [
        "Consumer Council (Hong Kong)",
        "Settled through the partner.",
        "refund agreed through the council",
        "id=\"complaint-status\" data-status=\"open\"",
    ] {
        assert!(html.contains(want), "{want}: {html}");
    }
    assert!(!html.contains("consumer@example.com"), "{html}");
    let refused = s
        .client
        .post(s.url("/complaints/follow"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(common::console::encoded(&[
            ("reference", reference),
            ("secret", "nope"),
            ("lang", "en"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    let html = refused.text().await.unwrap();
    assert!(html.contains("id=\"follow-refused\""), "{html}");
    assert!(!html.contains("refund agreed"), "{html}");
    let page = s.get("/complaints/follow?lang=zh").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("查询投诉进度"));
    s.stop().await;
}

//! Credit-risk grades over HTTP, on RocksDB: a new enterprise is graded on the checkpointer's
//! next tick; a recall moves its grade within a checkpoint interval, with a logged change
//! whose leaf is in a signed checkpoint; the operator's override holds until lifted; and
//! anonymous scanning of forged codes cannot move a grade.

mod common;

use common::*;
use serde_json::{json, Value};
use traceseal::checkpoint::open_checkpoint;
use traceseal::leaf::LeafRecord;
use traceseal::merkle;

/// The change's leaf is a grade leaf naming `grade`, provably in a signed checkpoint.
async fn change_is_logged(s: &TestServer, change: &Value, grade: &str) {
    let i = change["leaf_index"].as_u64().unwrap();
    let data = s.leaf_bytes(i).await;
    let LeafRecord::Grade(g) = LeafRecord::parse(&data).unwrap() else {
        panic!("leaf {i} is not a grade leaf");
    };
    assert_eq!(
        (g.grade.as_str(), g.seq),
        (grade, change["seq"].as_u64().unwrap())
    );
    let note = s.checkpoint_covering(i + 1).await;
    let cp = open_checkpoint(&note, &s.log_verifier().await).unwrap();
    let proof = s.inclusion_proof(i, cp.size).await;
    merkle::verify_inclusion(&merkle::leaf_hash(&data), i, cp.size, &proof, &cp.root).unwrap();
}

#[tokio::test]
async fn a_recall_moves_the_grade_within_a_checkpoint_interval_and_the_change_is_logged() {
    let s = TestServer::start(test_config()).await;
    let id = s.seed().await;
    let g = s.grade(id).await;
    assert_eq!(
        (g["grade"].as_str(), g["score"].as_f64()),
        (Some("B"), Some(73.0)),
        "{g}"
    );
    assert_eq!(g["model"], "2026-12.6");
    assert_eq!(g["history"].as_array().unwrap().len(), 1);
    change_is_logged(&s, &g["history"][0], "B").await;

    s.declare_and_recall("R1", "Salmonella found in a retained sample", None)
        .await;
    let (g, took) = s.grade_when(id, |g| g["grade"] == "C").await;
    eprintln!("recall → grade C after {took:?} (checkpoint interval 50 ms)");
    assert_eq!(g["score"].as_f64(), Some(58.0), "{g}");
    let recall = g["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["factor"] == "recall")
        .unwrap();
    assert_eq!(
        (recall["amount"].as_f64(), recall["points"].as_f64()),
        (Some(1.0), Some(-15.0))
    );
    let history = g["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (
            history[1]["previous"].as_str(),
            history[1]["cause"].as_str()
        ),
        (Some("B"), Some("computed"))
    );
    change_is_logged(&s, &history[1], "C").await;
    s.stop().await;
}

/// A product registered over the API with its category: the riskiest category of the
/// importer's products counts within a checkpoint interval; an unknown category is refused.
#[tokio::test]
async fn a_product_category_counts_in_its_importers_grade() {
    let s = TestServer::start(test_config()).await;
    let id = s.seeder().enterprise("Acme Import Co.", "AU").await;
    let body = |category: &str| {
        json!({"gtin": GTIN, "name_zh": "婴儿配方奶粉", "name_en": "Infant formula",
               "enterprise_id": id, "category": category})
    };
    let r = s.admin_post("/api/v1/products", body("baby_food")).await;
    assert_eq!(r.status(), 400);
    let p: Value = r.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("category"), "{p}");
    let r = s
        .admin_post("/api/v1/products", body("infant_formula"))
        .await;
    assert_eq!(r.status(), 201);
    let product: Value = r.json().await.unwrap();
    assert_eq!(product["category"], "infant_formula");
    let (g, took) = s
        .grade_when(id, |g| points_of(g, "category_risk").is_some())
        .await;
    eprintln!("product category → grade after {took:?}");
    assert_eq!(points_of(&g, "category_risk"), Some(-8.0), "{g}");
    assert_eq!(
        (g["grade"].as_str(), g["score"].as_f64()),
        (Some("C"), Some(65.0)),
        "{g}"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_operator_overrides_with_a_reason_and_others_cannot() {
    let s = TestServer::start(test_config()).await;
    let id = s.seed().await;
    let path = format!("/api/v1/enterprises/{id}/grade/override");
    let body = json!({"grade": "D", "reason": "Customs suspended its filing (notice 2026-118)"});
    // Anonymous: refused, nothing changes.
    let r = reqwest::Client::new()
        .put(s.url(&path))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(s.grade(id).await["grade"], "B");
    // Malformed bodies: 400 problem+json naming the field.
    for bad in [
        json!({"grade": "E", "reason": "x"}),
        json!({"grade": "D"}),
        json!({"grade": "D", "reason": ""}),
    ] {
        let r = s.admin_put(&path, bad.clone()).await;
        assert_eq!(r.status(), 400, "{bad}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/problem+json"), "{ct}");
    }
    let v: Value = s.admin_put(&path, body).await.json().await.unwrap();
    assert_eq!(
        (v["grade"].as_str(), v["computed"].as_str()),
        (Some("D"), Some("B"))
    );
    let change = v["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (change["cause"].as_str(), change["by_role"].as_str()),
        (Some("override"), Some("operator"))
    );
    change_is_logged(&s, &change, "D").await;
    // Lifting needs a reason too, and lifting twice is a conflict.
    let lift = json!({"reason": "Filing reinstated"});
    let v: Value = s
        .admin_post(&format!("{path}/lift"), lift.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["grade"], "B");
    let r = s.admin_post(&format!("{path}/lift"), lift).await;
    assert_eq!(r.status(), 409);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "grade.no_override");
    s.stop().await;
}

#[tokio::test]
async fn bad_ids_and_ungraded_enterprises_get_clear_errors() {
    let s = TestServer::start(test_config()).await;
    let id = s.seed().await;
    for (path, status) in [
        ("/api/v1/enterprises/abc/grade".to_string(), 400),
        ("/api/v1/enterprises/-1/grade".to_string(), 400),
        (format!("/api/v1/enterprises/{}/grade", id + 1), 404),
    ] {
        let r = s.get(&path).await;
        assert_eq!(r.status(), status, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/problem+json"), "{path}: {ct}");
    }
    s.stop().await;
}

fn points_of(g: &Value, factor: &str) -> Option<f64> {
    g["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["factor"] == factor)
        .and_then(|c| c["points"].as_f64())
}

/// What anyone can do by scanning: one genuine item scanned from 60 networks (clone
/// warnings) and 400 forged codes naming the product, from as many networks. Both factors
/// stop at their caps (2 points in all, the hysteresis), the grade does not move and no
/// change is logged.
#[tokio::test]
async fn scans_by_anyone_cannot_move_a_grade() {
    let mut cfg = test_config();
    cfg.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let s = TestServer::start(cfg).await;
    let id = s.seed().await;
    let (_, codes) = s.issue("k1", 1).await;
    let mut warned = 0;
    for n in 0..60u32 {
        let v = s
            .scan_from(&codes[0], &format!("10.{}.{}.7", n / 200, n % 200))
            .await;
        warned += u32::from(v["verdict"] == "genuine_with_warning");
    }
    assert!(warned > 40, "clone warnings: {warned}");
    let at = codes[0].find("/21/").unwrap() + 4;
    for n in 0..400u32 {
        let mut forged = codes[0].clone().into_bytes();
        forged[at] = b'A' + (n % 26) as u8;
        forged[at + 1] = b'A' + (n / 26 % 26) as u8;
        let forged = String::from_utf8(forged).unwrap();
        if forged == codes[0] {
            continue; // the one variant that is the genuine code
        }
        let v = s.scan_from(&forged, &format!("172.16.{}.9", n % 250)).await;
        assert_eq!(v["verdict"], "not_genuine");
    }
    let (g, _) = s
        .grade_when(id, |g| {
            points_of(g, "forged_scan").is_some() && points_of(g, "clone_warning").is_some()
        })
        .await;
    assert_eq!(points_of(&g, "clone_warning"), Some(-1.5), "capped: {g}");
    assert_eq!(points_of(&g, "forged_scan"), Some(-0.5), "capped: {g}");
    assert_eq!(
        (g["grade"].as_str(), g["score"].as_f64()),
        (Some("B"), Some(71.0)),
        "{g}"
    );
    assert_eq!(
        g["history"].as_array().unwrap().len(),
        1,
        "no change logged"
    );
    // A scan shows the grade (the API's verdict and the consumer's page).
    let v = s.scan_from(&codes[0], "10.9.9.9").await;
    let shown = &v["product"]["grade"];
    assert_eq!(
        (shown["grade"].as_str(), shown["score"].as_f64()),
        (Some("B"), Some(71.0)),
        "{v}"
    );
    let page = s.get(&code_path(&codes[0])).await.text().await.unwrap();
    assert!(page.contains("id=\"risk-grade\">B</span>"), "{page}");
    s.stop().await;
}

/// Grades are public, but an anonymous client walking enterprise ids in bulk is throttled
/// like every public read: 429 problem+json with Retry-After once its burst is spent.
#[tokio::test]
async fn walking_every_enterprises_grade_is_rate_limited() {
    let mut cfg = test_config();
    cfg.rate_limit.per_second = 1;
    cfg.rate_limit.burst = 5;
    let s = TestServer::start(cfg).await;
    let mut statuses = Vec::new();
    for id in 1..=30u64 {
        let r = s.get(&format!("/api/v1/enterprises/{id}/grade")).await;
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            assert!(ct.starts_with("application/problem+json"), "{ct}");
        }
        statuses.push(r.status().as_u16());
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 20, "{statuses:?}");
    s.stop().await;
}

/// The public reads issue 17 added sit behind the same limiter: once a client's burst is
/// spent, each answers 429 (a report costs a signature, a poster a PDF; a follow-up a
/// secret guess), so none can be walked or guessed in bulk.
#[tokio::test]
async fn the_new_public_reads_are_rate_limited_too() {
    let mut cfg = test_config();
    cfg.rate_limit.per_second = 1;
    cfg.rate_limit.burst = 3;
    let s = TestServer::start(cfg).await;
    // Nothing registered: a 404 costs the limiter as much as an answer.
    let id = 1;
    for _ in 0..5 {
        s.get("/api/v1/credit/warnings").await;
    }
    let gets = [
        "/api/v1/credit/warnings".to_string(),
        format!("/api/v1/enterprises/{id}/credit-report"),
        format!("/m/{USCC}"),
        format!("/m/{USCC}/poster.pdf"),
        "/complaints/follow".to_string(),
        "/credit-reports/verify".to_string(),
    ];
    for path in &gets {
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(s.get(path).await.status().as_u16());
        }
        assert!(statuses.contains(&429), "{path}: {statuses:?}");
    }
    let body = json!({"secret": "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF"});
    let statuses = s
        .flood("/api/v1/complaints/TS20261207-000001/progress", &body, 3)
        .await;
    assert!(statuses.contains(&429), "{statuses:?}");
    s.stop().await;
}

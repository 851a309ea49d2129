//! Rewards and punishments that change what happens (守信激励/失信惩戒), over HTTP on
//! RocksDB: a safety recall and an upheld counterfeit complaint drop the importer's grade to D
//! and put it on the warning list by themselves (public, logged, checkpointed); its next lot
//! cannot leave the bonded warehouse without a conformant sampling inspection (409 with the
//! reasons); the scan and the scan page show the listing; the regulator exports the graded
//! list. And: a high-risk product category needs sampling unless the importer has the green
//! channel (grade A); a non-conformant sampling keeps the lot in and counts against the grade.

mod common;

use base64::Engine;
use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use traceseal::checkpoint::open_checkpoint;
use traceseal::custody::record::{
    Attestation, Conformance, Customs, Event, Movement, Outbound, Sampling, Warehousing,
};
use traceseal::leaf::LeafRecord;
use traceseal::merkle;

/// The actors of a lot's route, engaged by one importer.
struct Crew {
    inspector: SigningKey,
    carrier: SigningKey,
    broker: SigningKey,
    warehouse: SigningKey,
}

async fn crew(s: &TestServer, enterprise: u64) -> Crew {
    let mut keys = Vec::new();
    for (i, (id, role)) in [
        ("au-inspector", "inspector"),
        ("sea-carrier", "carrier"),
        ("nb-broker", "customs_broker"),
        ("nb-warehouse", "bonded_warehouse"),
    ]
    .into_iter()
    .enumerate()
    {
        let key = SigningKey::from_bytes(&[40 + i as u8; 32]);
        let public =
            base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes());
        s.register_actor(id, role, &public).await;
        s.engage(enterprise, id).await;
        keys.push(key);
    }
    let mut k = keys.into_iter();
    let mut next = || k.next().unwrap();
    Crew {
        inspector: next(),
        carrier: next(),
        broker: next(),
        warehouse: next(),
    }
}

/// Issues lot `lot` of the product (two codes) and records its route up to storing in the
/// bonded warehouse; the codes.
async fn stored_lot(s: &TestServer, c: &Crew, lot: &str) -> Vec<String> {
    let body = json!({"lot": lot, "expiry": "2028-06-30", "quantity": 2});
    let (_, codes) = s.seeder().issue(&format!("batch-{lot}"), body).await;
    let id = format!("{GTIN}.{lot}");
    let attest = Event::OriginAttestation(Attestation {
        certificate_no: format!("CERT-{lot}"),
        origin_country: "AU".into(),
        producer: "Gippsland Dairy".into(),
        inspection_date: "2026-11-01".into(),
        result: Conformance::Conformant,
        documents: vec![],
    });
    s.record(&id, ("au-inspector", &c.inspector), attest, vec![])
        .await;
    for e in [
        Event::Shipping(Movement::default()),
        Event::Departing(Movement::default()),
        Event::Arriving(Movement::default()),
    ] {
        s.record(&id, ("sea-carrier", &c.carrier), e, vec![]).await;
    }
    let d = || Customs {
        declaration_no: format!("DEC-{lot}"),
    };
    for e in [Event::CustomsDeclaration(d()), Event::CustomsClearance(d())] {
        s.record(&id, ("nb-broker", &c.broker), e, vec![]).await;
    }
    for e in [
        Event::Receiving(Warehousing::default()),
        Event::Storing(Warehousing::default()),
    ] {
        s.record(&id, ("nb-warehouse", &c.warehouse), e, vec![])
            .await;
    }
    codes
}

async fn release(s: &TestServer, c: &Crew, lot: &str) -> (u16, Value) {
    let id = format!("{GTIN}.{lot}");
    let e = Event::Release(Outbound::default());
    s.try_record(&id, ("nb-warehouse", &c.warehouse), e, vec![])
        .await
}

fn sampling(result: Conformance) -> Event {
    Event::Sampling(Sampling {
        report_no: "NBQA-2026-0042".into(),
        samples: 3,
        result,
        documents: vec![],
    })
}

fn rules(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["rule"]
                .as_str()
                .unwrap_or(l.as_str().unwrap_or(""))
                .to_string()
        })
        .collect()
}

/// An upheld counterfeit complaint about the item of `code`.
async fn upheld_counterfeit(s: &TestServer, code: &str) {
    let body = json!({"category": "counterfeit",
                      "description": "the tin's seal and print differ from the shop's"});
    let receipt = s.complain(code, "203.0.113.9", body).await;
    let reference = receipt["reference"].as_str().unwrap().to_string();
    let r = s
        .admin_send(
            reqwest::Method::PATCH,
            &format!("/api/v1/complaints/{reference}"),
            json!({"status": "resolved", "note": "upheld: counterfeit confirmed by the brand"}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

/// The warning change's leaf is a warning leaf, provably in a signed checkpoint.
async fn warning_is_logged(s: &TestServer, change: &Value) {
    let i = change["leaf_index"].as_u64().unwrap();
    let data = s.leaf_bytes(i).await;
    let LeafRecord::Warning(w) = LeafRecord::parse(&data).unwrap() else {
        panic!("leaf {i} is not a warning leaf");
    };
    assert_eq!(w.seq, change["seq"].as_u64().unwrap());
    assert_eq!(w.listed, change["listed"].as_bool().unwrap());
    let note = s.checkpoint_covering(i + 1).await;
    let cp = open_checkpoint(&note, &s.log_verifier().await).unwrap();
    let proof = s.inclusion_proof(i, cp.size).await;
    merkle::verify_inclusion(&merkle::leaf_hash(&data), i, cp.size, &proof, &cp.root).unwrap();
}

#[tokio::test]
async fn a_recall_and_an_upheld_complaint_list_the_importer_and_its_next_lot_needs_sampling() {
    let s = TestServer::start(test_config()).await;
    let id = s.seed().await;
    let c = crew(&s, id).await;
    // Grade B, not listed: a lot of a product without a high-risk category leaves at once.
    let codes = stored_lot(&s, &c, "A1").await;
    let (status, v) = release(&s, &c, "A1").await;
    assert_eq!(status, 201, "{v}");
    let r = s.get("/api/v1/credit/warnings").await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));

    // A safety recall of that lot and an upheld counterfeit complaint about one of its items.
    let r = s
        .admin_post(
            &format!("/api/v1/lots/{GTIN}.A1/recall"),
            json!({"reason": "Cronobacter found in a retained sample", "class": "safety"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    upheld_counterfeit(&s, &codes[0]).await;
    let all = ["grade_d", "safety_recall", "counterfeit_complaint"];
    let (g, took) = s.grade_when(id, |g| rules(&g["warnings"]) == all).await;
    eprintln!("recall + upheld complaint → listed after {took:?} (checkpoint interval 50 ms)");
    // 78 − 5 (no filing) − 15 (recall) − 10 (its safety class) − 12 (counterfeit) = 36.
    assert_eq!(
        (g["grade"].as_str(), g["score"].as_f64()),
        (Some("D"), Some(36.0)),
        "{g}"
    );
    let today = &g["assessed_at"].as_str().unwrap()[..10];
    for l in g["warnings"].as_array().unwrap() {
        assert_eq!(l["since"], today, "{l}");
    }
    let history = g["warning_history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["listed"], true);
    assert_eq!(rules(&last["listings"]), all);
    warning_is_logged(&s, last).await;

    // The public list names it, with the rules; an unknown query field is refused.
    let list: Value = s.get("/api/v1/credit/warnings").await.json().await.unwrap();
    assert_eq!(list[0]["enterprise_id"], id);
    assert_eq!(rules(&list[0]["listings"]), all);
    assert_eq!(s.get("/api/v1/credit/warnings?limit=x").await.status(), 400);

    // Its next lot: release refused with the reasons until a conformant sampling inspection.
    let codes = stored_lot(&s, &c, "B1").await;
    let (status, p) = release(&s, &c, "B1").await;
    assert_eq!(status, 409, "{p}");
    assert_eq!(p["code"], "custody.sampling_required", "{p}");
    let detail = p["detail"].as_str().unwrap();
    for want in ["warning list (safety_recall)", "credit grade is D"] {
        assert!(detail.contains(want), "{want}: {detail}");
    }
    let id_b = format!("{GTIN}.B1");
    s.record(
        &id_b,
        ("nb-warehouse", &c.warehouse),
        sampling(Conformance::Conformant),
        vec![],
    )
    .await;
    let (status, v) = release(&s, &c, "B1").await;
    assert_eq!(status, 201, "{v}");

    // A scan shows the grade and the listing; so does the scan page.
    let v = s.scan_from(&codes[0], "198.51.100.7").await;
    assert_eq!(v["product"]["grade"]["grade"], "D", "{v}");
    assert_eq!(rules(&v["product"]["grade"]["warnings"]), all);
    let page = s
        .client
        .get(s.url(&code_path(&codes[0])))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"warning-list\""), "{page}");
    assert!(page.contains("an upheld counterfeit complaint"), "{page}");

    // The regulator's export (operator here; anonymous clients get nothing).
    let r = s.admin_get("/api/v1/grades?format=csv").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let row = csv.lines().nth(1).unwrap();
    assert!(
        row.starts_with(&format!("{id},\"Acme Import Co.\",")),
        "{csv}"
    );
    assert!(
        row.contains(",D,36.0,D,false,")
            && row.ends_with(",\"grade_d safety_recall counterfeit_complaint\",false,sampling"),
        "{row}"
    );
    let json: Value = s.admin_get("/api/v1/grades").await.json().await.unwrap();
    assert_eq!(json[0]["supervision"], "sampling");
    assert_eq!(s.get("/api/v1/grades").await.status(), 401);
    s.stop().await;
}

/// Registers the product with `category` for a new importer; (importer, crew).
async fn importer_of(s: &TestServer, category: &str) -> (u64, Crew) {
    let id = s.seeder().enterprise("Acme Import Co.", "AU").await;
    let r = s
        .admin_post(
            "/api/v1/products",
            json!({"gtin": GTIN, "name_zh": "婴儿配方奶粉", "name_en": "Infant formula",
                   "enterprise_id": id, "category": category}),
        )
        .await;
    assert_eq!(r.status(), 201);
    s.grade_when(id, |g| g["grade"] == "C").await;
    (id, crew(s, id).await)
}

async fn set_grade(s: &TestServer, id: u64, grade: &str) {
    let r = s
        .admin_put(
            &format!("/api/v1/enterprises/{id}/grade/override"),
            json!({"grade": grade, "reason": "decision of the zone's joint review"}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_high_risk_category_needs_sampling_unless_the_green_channel_and_a_bad_sample_keeps_the_lot_in(
) {
    let s = TestServer::start(test_config()).await;
    // Infant formula: 78 − 5 − 8 = 65, grade C, which needs sampling.
    let (id, c) = importer_of(&s, "infant_formula").await;
    stored_lot(&s, &c, "L1").await;
    let (status, p) = release(&s, &c, "L1").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("custody.sampling_required"))
    );
    assert!(
        p["detail"].as_str().unwrap().contains("credit grade is C"),
        "{p}"
    );
    // At B, the category alone still needs it.
    set_grade(&s, id, "B").await;
    let (status, p) = release(&s, &c, "L1").await;
    assert_eq!(status, 409);
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("infant_formula, a high-risk category"),
        "{detail}"
    );
    assert!(!detail.contains("credit grade"), "{detail}");
    // At A: the green channel.
    set_grade(&s, id, "A").await;
    let (status, v) = release(&s, &c, "L1").await;
    assert_eq!(status, 201, "{v}");

    // Back at B, lot L2: a carrier may not sample; a non-conformant sample keeps the lot in,
    // a second sample is refused, and the bad sample counts against the grade.
    set_grade(&s, id, "B").await;
    stored_lot(&s, &c, "L2").await;
    let l2 = format!("{GTIN}.L2");
    let (status, p) = s
        .try_record(
            &l2,
            ("sea-carrier", &c.carrier),
            sampling(Conformance::Conformant),
            vec![],
        )
        .await;
    assert_eq!(status, 403, "{p}");
    s.record(
        &l2,
        ("nb-warehouse", &c.warehouse),
        sampling(Conformance::NonConformant),
        vec![],
    )
    .await;
    let (status, p) = release(&s, &c, "L2").await;
    assert_eq!(
        (status, p["code"].as_str()),
        (409, Some("custody.out_of_order")),
        "{p}"
    );
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("sampling inspection found the lot non_conformant"),
        "{p}"
    );
    let (status, p) = s
        .try_record(
            &l2,
            ("au-inspector", &c.inspector),
            sampling(Conformance::Conformant),
            vec![],
        )
        .await;
    assert_eq!(status, 409, "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("sampled once"),
        "{p}"
    );
    let (g, _) = s
        .grade_when(id, |g| {
            g["contributions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["factor"] == "non_conformant")
        })
        .await;
    assert_eq!(g["score"].as_f64(), Some(57.0), "65 − 8: {g}");
    s.stop().await;
}

/// An origin country on the regulator's risk list (a model file of the operator's) counts in
/// the importer's grade as soon as a lot of it is attested from there.
#[tokio::test]
async fn an_origin_country_on_the_regulators_list_counts_within_a_checkpoint_interval() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.toml");
    let text = traceseal::grading::DEFAULT_MODEL
        .replace("version = \"2026-12.6\"", "version = \"2026-12.6-au\"")
        .replace(
            "[static.origin_risk]\n",
            "[static.origin_risk]\nAU = -6.0\n",
        );
    std::fs::write(&model, text).unwrap();
    let mut cfg = test_config();
    cfg.credit.model_file = Some(model);
    let s = TestServer::start(cfg).await;
    let id = s.seed().await;
    let c = crew(&s, id).await;
    assert_eq!(s.grade(id).await["score"].as_f64(), Some(73.0));
    stored_lot(&s, &c, "AU1").await;
    let (g, took) = s
        .grade_when(id, |g| g["score"].as_f64() == Some(67.0))
        .await;
    eprintln!("origin attestation from AU → grade after {took:?}");
    assert_eq!(g["model"], "2026-12.6-au");
    let origin = g["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["factor"] == "origin_risk")
        .cloned()
        .unwrap();
    assert_eq!(origin["points"].as_f64(), Some(-6.0), "{g}");
    assert_eq!(
        g["grade"], "C",
        "73 − 6 = 67: below B's floor by more than the margin"
    );
    s.stop().await;
}

//! The custody chain end to end over HTTP on RocksDB: actors' keys made by the CLI, records
//! signed locally and submitted by `traceseal attest` / `traceseal event`, refusals (role,
//! order, replay, forgery, revoked key), scans and bundles carrying the chain with proofs,
//! and EPCIS 2.0 exports validated against the GS1 schema.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine;
use common::*;
use serde_json::{json, Value};

fn cli(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&a)
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `traceseal actor-key`; returns the public key printed.
fn make_key(path: &Path) -> String {
    let o = cli(&["actor-key", "--out", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    out.lines()
        .find_map(|l| l.trim().strip_prefix("public key"))
        .unwrap()
        .trim()
        .to_string()
}

/// Checks EPCIS documents against the GS1 schema (ajv, via `tools/validate-epcis.js`) and
/// recomputes every eventID with GS1's EPCIS 2.0 SDK (`tools/epcis-event-ids.js`).
fn epcis_errors(docs: &[&Value]) -> (bool, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let p = dir.path().join(format!("doc{i}.json"));
        std::fs::write(&p, serde_json::to_vec_pretty(d).unwrap()).unwrap();
        paths.push(p);
    }
    let schema = Command::new("node")
        .arg(root.join("tools/validate-epcis.js"))
        .arg(root.join("fixtures/epcis/EPCIS-JSON-Schema.json"))
        .args(&paths)
        .output()
        .expect("node (installed by scripts/dev setup)");
    let ids = event_id_check(&paths);
    (
        schema.status.success() && ids.status.success(),
        format!("{}{}", text(&schema), text(&ids)),
    )
}

/// `tools/epcis-event-ids.js` over documents on disk.
fn event_id_check(paths: &[std::path::PathBuf]) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new("node")
        .arg(root.join("tools/epcis-event-ids.js"))
        .args(paths)
        .output()
        .expect("node (installed by scripts/dev setup)");
    assert_ne!(o.status.code(), Some(2), "{}", text(&o));
    o
}

fn assert_valid_epcis(docs: &[&Value]) {
    let (ok, out) = epcis_errors(docs);
    assert!(ok, "EPCIS schema or eventID errors:\n{out}");
}

/// The eventID check fails on a wrong ID, and tells epcis2.js's date heuristic (it reads a
/// place name such as "Warehouse 3, Zone B" as a date) from a real disagreement.
#[test]
fn the_event_id_check_can_fail_and_names_the_date_heuristic() {
    use traceseal::epcis::{document, EpcisEvent, Ext};
    let t = time::macros::datetime!(2026-11-25 10:00 +08:00);
    let mut e = EpcisEvent::object(
        t,
        "+08:00".into(),
        "OBSERVE",
        "receiving",
        "in_progress",
        vec![("placeName".into(), Ext::Str("Bonded Warehouse 3".into()))],
    );
    e.epc_list = vec!["https://id.gs1.org/01/09521234543213/21/A1".into()];
    e.biz_transactions = vec![(Some("po".into()), "urn:traceseal:order:NB-ORD-4417".into())];
    let good = document("urn:uuid:1", t, &[e]);
    let mut bad = good.clone();
    bad["epcisBody"]["eventList"][0]["eventID"] =
        json!(format!("ni:///sha-256;{}?ver=CBV2.0", "0".repeat(64)));
    let dir = tempfile::tempdir().unwrap();
    let (g, b) = (dir.path().join("good.json"), dir.path().join("bad.json"));
    std::fs::write(&g, good.to_string()).unwrap();
    std::fs::write(&b, bad.to_string()).unwrap();
    let o = event_id_check(&[g]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("stops reading") && text(&o).contains("urn:traceseal:order:NB-ORD-4417"),
        "{}",
        text(&o)
    );
    let o = event_id_check(&[b]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("DIFFERS"), "{}", text(&o));
}

#[test]
fn the_epcis_validator_can_fail() {
    let bad = json!({"type": "EPCISDocument", "@context": [traceseal::epcis::EPCIS_CONTEXT], "schemaVersion": "2.0",
        "creationDate": "2026-11-25T00:00:00.000Z",
        "epcisBody": {"eventList": [{"type": "ObjectEvent", "action": "LOOK", "eventTime": "yesterday", "eventTimeZoneOffset": "+08:00", "epcList": []}]}});
    let (ok, out) = epcis_errors(&[&bad]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("/action") && out.contains("eventTime"),
        "{out}"
    );
}

struct Actor {
    id: &'static str,
    key: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn custody_chain_end_to_end_with_the_cli() {
    let s = TestServer::start(test_config()).await;
    let eid = s.seed().await;
    let (_, codes) = s.issue("b1", 6).await;
    let lot = format!("{GTIN}.LOT-1");
    let keys = tempfile::tempdir().unwrap();
    let roles = [
        ("au-inspector", "inspector"),
        ("sea-carrier", "carrier"),
        ("nb-broker", "customs_broker"),
        ("nb-warehouse", "bonded_warehouse"),
        ("nb-pickup", "retailer"),
    ];
    let mut actors = Vec::new();
    for (id, role) in roles {
        let key = keys.path().join(format!("{id}.pem"));
        let public = make_key(&key);
        let r = s
            .admin_post(
                "/api/v1/actors",
                json!({"id": id, "organisation": format!("{id} Ltd"), "country": "AU", "role": role,
                       "keys": [{"public_key": public}]}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        actors.push(Actor {
            id,
            key: key.to_str().unwrap().to_string(),
        });
    }
    // The registry is public (verifiers need the keys); registering needs the operator token.
    let list: Value = s.get("/api/v1/actors").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 5);
    let one: Value = s
        .get("/api/v1/actors/nb-broker")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["role"], "customs_broker");
    assert_eq!(
        one["records"].as_array().unwrap().len(),
        2,
        "register + add_key leaves"
    );
    assert_eq!(s.get("/api/v1/actors/nobody").await.status(), 404);
    let r = s
        .client
        .post(s.url("/api/v1/actors"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let signer = |a: &Actor| -> Vec<String> {
        vec![
            "--server".into(),
            s.base.clone(),
            "--actor".into(),
            a.id.into(),
            "--key".into(),
            a.key.clone(),
            "--lot".into(),
            lot.clone(),
        ]
    };
    let event = |a: &Actor, step: &str, extra: &[&str]| {
        let mut v = vec!["event".to_string()];
        v.extend(signer(a));
        v.extend(["--step".to_string(), step.to_string()]);
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let (insp, carrier, broker, wh, pickup) =
        (&actors[0], &actors[1], &actors[2], &actors[3], &actors[4]);

    // Nobody records custody of the importer's products before the importer engages them.
    let o = run(event(insp, "packing", &[])).await;
    assert!(
        text(&o).contains("refused (403)")
            && text(&o).contains(&format!(
                "actor au-inspector is not engaged by enterprise {eid} for GTIN {GTIN}"
            )),
        "{}",
        text(&o)
    );
    for a in &actors {
        let r = s
            .admin_post(
                &format!("/api/v1/enterprises/{eid}/engagements"),
                json!({"actor_id": a.id, "gtins": [GTIN]}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let list: Value = s
        .admin_get(&format!("/api/v1/enterprises/{eid}/engagements"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert!(list.as_array().unwrap().iter().all(|e| e["active"] == true));
    assert_eq!(
        s.get(&format!("/api/v1/enterprises/{eid}/engagements"))
            .await
            .status(),
        401,
        "engagements are the operator's"
    );

    // Wrong order: nothing before the attestation.
    let o = run(event(carrier, "shipping", &[])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("refused (409)") && text(&o).contains("attestation comes first"),
        "{}",
        text(&o)
    );

    // Wrong role: a carrier cannot attest origin.
    let doc = keys.path().join("lab report.pdf");
    std::fs::write(&doc, b"heavy metals: below limits").unwrap();
    let mut attest = vec!["attest".to_string()];
    attest.extend(signer(carrier));
    let fields = [
        "--certificate",
        "OIS-MEL-2026-1",
        "--origin",
        "AU",
        "--producer",
        "Gippsland Dairy",
        "--inspection-date",
        "2026-11-01",
        "--result",
        "conformant",
        "--time",
        "2026-11-02T09:30:00+10:00",
        "--place",
        "Morwell plant",
        "--place-country",
        "AU",
        "--document",
        doc.to_str().unwrap(),
    ];
    attest.extend(fields.iter().map(|x| x.to_string()));
    let o = run(attest.clone()).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("refused (403)") && text(&o).contains("carrier"),
        "{}",
        text(&o)
    );

    // The inspector attests.
    let mut attest = vec!["attest".to_string()];
    attest.extend(signer(insp));
    attest.extend(fields.iter().map(|x| x.to_string()));
    let o = run(attest).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("accepted: origin_attestation"),
        "{}",
        text(&o)
    );

    // The route, each by its owner.
    let steps: Vec<(&Actor, &str, Vec<&str>)> = vec![
        (carrier, "packing", vec!["--packages", "3"]),
        (
            carrier,
            "shipping",
            vec!["--transport", "MV Pacific 12", "--bill-of-lading", "BL-1"],
        ),
        (
            carrier,
            "departing",
            vec![
                "--place",
                "Port of Melbourne",
                "--place-country",
                "AU",
                "--unlocode",
                "AUMEL",
            ],
        ),
        (
            carrier,
            "arriving",
            vec![
                "--place",
                "Ningbo port",
                "--place-country",
                "CN",
                "--unlocode",
                "CNNGB",
            ],
        ),
        (
            broker,
            "customs_declaration",
            vec!["--declaration-no", "310420261000001"],
        ),
        (
            broker,
            "holding",
            vec!["--hold-type", "customs", "--reason", "document check"],
        ),
        (
            broker,
            "hold_release",
            vec!["--hold-type", "customs", "--reason", "documents verified"],
        ),
        (
            broker,
            "customs_clearance",
            vec!["--declaration-no", "310420261000001"],
        ),
        (
            wh,
            "receiving",
            vec![
                "--place",
                "Bonded warehouse 3",
                "--place-country",
                "CN",
                "--gln",
                "6930000999018",
            ],
        ),
        (wh, "storing", vec!["--location", "B-14"]),
        (
            wh,
            "sampling",
            vec![
                "--report-no",
                "NBQA-2026-0042",
                "--samples",
                "3",
                "--result",
                "conformant",
            ],
        ),
    ];
    for (a, step, extra) in steps {
        let o = run(event(a, step, &extra)).await;
        assert!(o.status.success(), "{step}: {}", text(&o));
    }
    // A quality hold can only be lifted by the warehouse: the broker is refused (403).
    let o = run(event(
        broker,
        "holding",
        &["--hold-type", "quality", "--reason", "x"],
    ))
    .await;
    assert!(
        text(&o).contains("refused (403)")
            && text(&o).contains("quality holds belong to the bonded_warehouse"),
        "{}",
        text(&o)
    );
    // Item-scoped: release two items, one is picked up.
    // Items are named by the codes scanned from their labels (the CLI sends item references).
    let two = [codes[0].clone(), codes[1].clone()];
    let o = run(event(
        wh,
        "release",
        &["--code", &two[0], "--code", &two[1], "--order-no", "ORD-7"],
    ))
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let o = run(event(pickup, "self_pickup", &["--code", &two[0]])).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = run(event(pickup, "self_pickup", &["--code", &codes[2]])).await;
    assert!(
        text(&o).contains("refused (409)") && text(&o).contains("not been released"),
        "{}",
        text(&o)
    );

    // Replay of an accepted submission, and a forged signature, over HTTP.
    let lotv: Value = s
        .get(&format!("/api/v1/lots/{lot}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lotv["state"]["stage"], "received");
    assert_eq!(
        lotv["records"].as_array().unwrap().len(),
        14,
        "12 lot-wide (a sampling inspection among them), 2 item-scoped"
    );
    let head = lotv["head"].as_str().unwrap().to_string();
    let sk = traceseal::keys::read_private_pem(Path::new(&wh.key)).unwrap();
    let st = traceseal::custody::Statement {
        log: s.state.svc.origin().to_string(),
        lot: lot.clone(),
        items: vec![],
        prev: head.clone(),
        actor: wh.id.into(),
        kid: traceseal::code::KeyId::of(&sk.verifying_key()).to_string(),
        time: "2026-11-20T10:00:00+08:00".into(),
        signed_at: traceseal::service::now_unix(),
        nonce: traceseal::custody::record::random_nonce(),
        place: None,
        event: traceseal::custody::Event::Storing(Default::default()),
    };
    let body = json!({"statement": st.canonical(), "signature": st.sign(&sk)});
    let post = |b: Value| {
        let c = s.client.clone();
        let url = s.url("/api/v1/custody/records");
        async move { c.post(url).json(&b).send().await.unwrap() }
    };
    let r = post(body.clone()).await;
    assert_eq!(r.status(), 201);
    let r = post(body.clone()).await;
    assert_eq!(r.status(), 409);
    let p: Value = r.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("replay"), "{p}");
    assert_eq!(p["code"], "custody.replay", "{p}");
    let other = traceseal::keys::generate();
    let forged = json!({"statement": st.canonical(), "signature": st.sign(&other)});
    let r = post(forged).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "custody.bad_signature", "{p}");
    let r = post(json!({"statement": "{", "signature": "x"})).await;
    assert_eq!(r.status(), 400);
    let r = post(json!({"statement": 5})).await;
    assert!(r.status().is_client_error());

    // Revoke the retailer's key: its next submission is refused (401).
    let kid = traceseal::code::KeyId::of(
        &traceseal::keys::read_private_pem(Path::new(&pickup.key))
            .unwrap()
            .verifying_key(),
    )
    .to_string();
    let r = s
        .admin_post(
            &format!("/api/v1/actors/{}/keys/{kid}/revoke", pickup.id),
            json!({"reason": "device lost"}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let o = run(event(pickup, "self_pickup", &["--code", &two[1]])).await;
    assert!(
        text(&o).contains("refused (401)") && text(&o).contains("revoked"),
        "{}",
        text(&o)
    );
    // The importer ends the warehouse's engagement: its next record is refused (403).
    let r = s
        .admin_post(
            &format!("/api/v1/enterprises/{eid}/engagements/nb-warehouse/end"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let o = run(event(wh, "storing", &["--location", "C-1"])).await;
    assert!(
        text(&o).contains("refused (403)") && text(&o).contains("engagement was ended"),
        "{}",
        text(&o)
    );

    // The scan shows the chain with proofs against the verdict's checkpoint.
    let size: u64 = lotv["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["leaf_index"].as_u64().unwrap())
        .max()
        .unwrap()
        + 3;
    s.checkpoint_covering(size).await;
    let v: Value = s.get(&verify_path(&codes[0])).await.json().await.unwrap();
    let custody = &v["custody"];
    assert_eq!(v["verdict"], "genuine", "{v:#}");
    assert_eq!(custody["lot"], lot);
    let records = custody["records"].as_array().unwrap();
    let mine = 13 + 2; // codes[0] was released and picked up
    assert_eq!(records.len(), mine, "lot-wide records + this item's");
    assert_eq!(records[0]["record"]["step"], "origin_attestation");
    assert_eq!(records[0]["record"]["organisation"], "au-inspector Ltd");
    assert_eq!(records[0]["record"]["role"], "inspector");
    let root = traceseal::merkle::Hash::from_base64(
        v["log"]["checkpoint"]
            .as_str()
            .unwrap()
            .lines()
            .nth(2)
            .unwrap(),
    )
    .unwrap();
    let tree = v["log"]["tree_size"].as_u64().unwrap();
    for r in records {
        let data = base64::engine::general_purpose::STANDARD
            .decode(r["leaf_data"].as_str().unwrap())
            .unwrap();
        let lh = traceseal::merkle::leaf_hash(&data);
        assert_eq!(
            lh.to_hex().trim_start_matches("0x"),
            r["record"]["record_hash"].as_str().unwrap()
        );
        let proof: Vec<_> = r["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| traceseal::merkle::Hash::from_base64(h.as_str().unwrap()).unwrap())
            .collect();
        traceseal::merkle::verify_inclusion(
            &lh,
            r["record"]["leaf_index"].as_u64().unwrap(),
            tree,
            &proof,
            &root,
        )
        .unwrap();
    }

    // The bundle carries and verifies the chain.
    let b = s
        .get(&with_code("/api/v1/bundle", &codes[0]))
        .await
        .text()
        .await
        .unwrap();
    let verified = traceseal::bundle::verify(&traceseal::bundle::parse(&b).unwrap()).unwrap();
    assert_eq!(verified.custody_records, mine);

    // EPCIS 2.0 exports validate against the GS1 schema.
    let r = s.get(&format!("/api/v1/lots/{lot}/epcis")).await;
    assert_eq!(r.headers()["content-type"], "application/ld+json");
    let doc: Value = r.json().await.unwrap();
    assert_valid_epcis(&[&doc]);
    let events = doc["epcisBody"]["eventList"].as_array().unwrap();
    assert_eq!(
        events.len(),
        1 + 15,
        "commissioning + 13 lot-wide + 2 item-scoped records"
    );
    assert_eq!(events[0]["bizStep"], "commissioning");
    assert_eq!(events[0]["quantityList"][0]["quantity"], 6);
    let attest = &events[1];
    assert_eq!(
        (attest["bizStep"].as_str(), attest["disposition"].as_str()),
        (Some("inspecting"), Some("conformant"))
    );
    assert!(attest["eventID"]
        .as_str()
        .unwrap()
        .starts_with("ni:///sha-256;"));
    let decl = events
        .iter()
        .find(|e| e["bizTransactionList"][0]["type"] == "urn:traceseal:btt:customs_declaration")
        .unwrap();
    assert_eq!(
        decl["bizTransactionList"][0]["bizTransaction"],
        "urn:traceseal:customs-declaration:310420261000001"
    );
    let sample = events
        .iter()
        .find(|e| e["ts:inspection"] == "sampling")
        .unwrap();
    assert_eq!(
        (
            sample["bizStep"].as_str(),
            sample["disposition"].as_str(),
            sample["ts:reportNumber"].as_str(),
            sample["ts:samples"].as_i64()
        ),
        (
            Some("inspecting"),
            Some("conformant"),
            Some("NBQA-2026-0042"),
            Some(3)
        )
    );
    let doc: Value = s
        .get(&with_code("/api/v1/epcis", &codes[0]))
        .await
        .json()
        .await
        .unwrap();
    assert_valid_epcis(&[&doc]);
    assert_eq!(
        doc["epcisBody"]["eventList"].as_array().unwrap().len(),
        1 + mine
    );
    // Unknown lot / malformed lot id are precise 4xx.
    assert_eq!(
        s.get(&format!("/api/v1/lots/{GTIN}.NOPE/epcis"))
            .await
            .status(),
        404
    );
    assert_eq!(s.get("/api/v1/lots/123.X").await.status(), 400);

    // A recall turns scans into not_genuine with the reason.
    let r = s
        .admin_post(
            &format!("/api/v1/lots/{lot}/recall"),
            json!({"reason": "contamination reported"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = s.get(&verify_path(&codes[2])).await.json().await.unwrap();
    assert_eq!(v["verdict"], "not_genuine");
    assert_eq!(v["reasons"][0]["code"], "recalled");
    assert!(v["reasons"][0]["message"]
        .as_str()
        .unwrap()
        .contains("contamination reported"));
    // The recall is exported too (bizStep holding, disposition recalled) and validates.
    let doc: Value = s
        .get(&format!("/api/v1/lots/{lot}/epcis"))
        .await
        .json()
        .await
        .unwrap();
    assert_valid_epcis(&[&doc]);
    let last = doc["epcisBody"]["eventList"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["bizStep"].as_str(), last["disposition"].as_str()),
        (Some("holding"), Some("recalled"))
    );
    // The cheap head endpoint the CLI signs with.
    let h: Value = s
        .get(&format!("/api/v1/lots/{lot}/head"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(h["head"].as_str().unwrap().len(), 64);
    s.stop().await;
}

#[tokio::test]
async fn non_conformant_lots_scan_with_a_warning() {
    let s = TestServer::start(test_config()).await;
    let eid = s.seed().await;
    let (_, codes) = s.issue("b1", 2).await;
    let lot = format!("{GTIN}.LOT-1");
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("i.pem");
    let public = make_key(&key);
    let r = s
        .admin_post(
            "/api/v1/actors",
            json!({"id": "kr-inspector", "organisation": "KR Inspection", "country": "KR", "role": "inspector", "keys": [{"public_key": public}]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = s
        .admin_post(
            &format!("/api/v1/enterprises/{eid}/engagements"),
            json!({"actor_id": "kr-inspector"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let o = tokio::task::spawn_blocking({
        let base = s.base.clone();
        let lot = lot.clone();
        let key = key.to_str().unwrap().to_string();
        move || {
            cli(&[
                "attest",
                "--server",
                &base,
                "--actor",
                "kr-inspector",
                "--key",
                &key,
                "--lot",
                &lot,
                "--certificate",
                "HQI-1",
                "--origin",
                "KR",
                "--producer",
                "P",
                "--inspection-date",
                "2026-11-01",
                "--result",
                "non_conformant",
            ])
        }
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = s.get(&verify_path(&codes[0])).await.json().await.unwrap();
    assert_eq!(v["verdict"], "genuine_with_warning", "{v:#}");
    assert!(v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["code"] == "non_conformant"));
    assert_eq!(v["custody"]["attestation"], "non_conformant");
    s.stop().await;
}

/// A hostile client flooding the submission route from one address: each submission is
/// parsed and its signature checked on the server's async workers, so the route's per-client
/// limit is what bounds the CPU one address can take. After the burst every answer is 429
/// (problem+json, `Retry-After`), given before the body is parsed.
#[tokio::test]
async fn a_flood_of_forged_submissions_from_one_address_is_cut_off_at_the_limit() {
    let mut cfg = test_config();
    cfg.rate_limit = traceseal::config::RateLimit {
        per_second: 1,
        burst: 3,
    };
    let s = TestServer::start(cfg).await;
    let st = traceseal::custody::Statement {
        log: "verify.example.com/log".into(),
        lot: "09506000134352.FLOOD".into(),
        items: vec![],
        prev: traceseal::custody::GENESIS.into(),
        actor: "nobody".into(),
        kid: "00000000".into(),
        time: "2026-11-20T10:00:00+08:00".into(),
        signed_at: traceseal::service::now_unix(),
        nonce: traceseal::custody::record::random_nonce(),
        place: None,
        event: traceseal::custody::Event::Storing(Default::default()),
    };
    let body =
        json!({"statement": st.canonical(), "signature": st.sign(&traceseal::keys::generate())});
    let statuses = s.flood("/api/v1/custody/records", &body, 8).await;
    assert_eq!(statuses[..3], [401, 401, 401], "{statuses:?}");
    assert!(statuses[3..].iter().all(|c| *c == 429), "{statuses:?}");
    s.stop().await;
}

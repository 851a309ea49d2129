//! Seeds a running server for the scan load test and writes a wrk Lua script that cycles
//! through `/api/v1/verify?code=…` paths of freshly issued codes. With `custody` as the fifth
//! argument, the lot also gets a complete custody chain (five actors with their own keys, ten
//! signed lot-wide records from origin attestation to retail sale), so every scan carries the
//! chain with an inclusion proof per record.
//!
//! Also writes `OUT.page.lua`: the same codes requested as a phone does, the code URI with
//! `Accept: text/html` (the scan page); and `OUT.spread.lua`: the JSON scans, each from a
//! random client network (`X-Forwarded-For`), so every scan counts and is recorded.
//!
//! Usage: `loadtest_setup BASE_URL TOKEN_FILE OUT.lua [CODES] [custody]`

use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: loadtest_setup BASE_URL TOKEN_FILE OUT.lua [CODES]");
        std::process::exit(2);
    }
    let (base, token_file, out) = (&args[1], &args[2], &args[3]);
    let n: u64 = args
        .get(4)
        .map(|s| s.parse().expect("CODES"))
        .unwrap_or(1000);
    let token = std::fs::read_to_string(token_file)
        .expect("token file")
        .trim()
        .to_string();
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
    };
    let e: Value = post(
        "/api/v1/enterprises",
        json!({"name": "Load Test Imports", "uscc": "91350100M000100Y43", "country": "JP"}),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let r = post(
        "/api/v1/products",
        json!({"gtin": "09506000134352", "name_zh": "保健品", "name_en": "Health food", "enterprise_id": e["id"]}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "product");
    let b: Value = post(
        "/api/v1/batches",
        json!({"gtin": "09506000134352", "lot": "LOAD-1", "expiry": "2029-03-31", "quantity": n}),
    )
    .header("Idempotency-Key", "loadtest-1")
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let text = http
        .get(format!("{base}/api/v1/batches/{}/codes", b["batch_id"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    if args.get(5).map(String::as_str) == Some("custody") {
        seed_custody(&http, base, &token, e["id"].as_u64().unwrap()).await;
    }
    let mut lua = String::from("paths = {\n");
    // The same codes as the consumer's phone requests them: the code URI, asking for HTML.
    let mut page = String::from("paths = {\n");
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let code = v["code"].as_str().unwrap();
        let mut enc = String::new();
        for byte in code.bytes() {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                enc.push(byte as char);
            } else {
                enc.push_str(&format!("%{byte:02X}"));
            }
        }
        lua.push_str(&format!("  \"/api/v1/verify?code={enc}\",\n"));
        let rest = code.split_once("://").map(|x| x.1).unwrap_or(code);
        let path = &rest[rest.find('/').unwrap_or(0)..];
        page.push_str(&format!("  \"{path}\",\n"));
    }
    lua.push_str(
        "}\ncounter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format(\"GET\", paths[(counter % #paths) + 1])\nend\n",
    );
    std::fs::write(out, lua).unwrap();
    page.push_str(
        "}\ncounter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format(\"GET\", paths[(counter % #paths) + 1], {[\"Accept\"] = \"text/html\", [\"Accept-Language\"] = \"zh-CN,zh;q=0.9\"})\nend\n",
    );
    let page_out = out.replace(".lua", ".page.lua");
    std::fs::write(&page_out, page).unwrap();
    // The same JSON scans, each from a random client network (X-Forwarded-For, believed from a
    // trusted proxy on 127.0.0.1): every scan counts and is recorded, the telemetry's worst case.
    let spread = std::fs::read_to_string(out).unwrap().replace(
        "return wrk.format(\"GET\", paths[(counter % #paths) + 1])",
        "local ip = math.random(1, 223) .. \".\" .. math.random(0, 255) .. \".\" .. math.random(0, 255) .. \".\" .. math.random(1, 254)\n  return wrk.format(\"GET\", paths[(counter % #paths) + 1], {[\"X-Forwarded-For\"] = ip})",
    );
    let spread_out = out.replace(".lua", ".spread.lua");
    std::fs::write(&spread_out, spread).unwrap();
    println!("seeded {n} codes; wrote {out}, {page_out} and {spread_out}");
}

/// Registers one actor per role, engaged by the importer, and records the lot's route, each
/// step signed by its actor.
async fn seed_custody(http: &reqwest::Client, base: &str, token: &str, enterprise: u64) {
    use base64::Engine;
    use traceseal::custody::record::*;
    use traceseal::custody::Statement;
    let lot = "09506000134352.LOAD-1";
    let mut keys = std::collections::HashMap::new();
    for role in Role::ALL {
        let sk = traceseal::keys::generate();
        let id = format!("load-{}", role.as_str().replace('_', "-"));
        let r = http
            .post(format!("{base}/api/v1/actors"))
            .bearer_auth(token)
            .json(&json!({"id": id, "organisation": format!("{role} Co."), "country": "CN", "role": role.as_str(),
                "keys": [{"public_key": base64::engine::general_purpose::STANDARD.encode(sk.verifying_key().as_bytes())}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "actor");
        let r = http
            .post(format!(
                "{base}/api/v1/enterprises/{enterprise}/engagements"
            ))
            .bearer_auth(token)
            .json(&json!({"actor_id": id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "engagement");
        keys.insert(role, (id, sk));
    }
    // Origin attestation, packing, then the standard route up to release: ten lot-wide
    // records (the retail sale is left out).
    let mut route: Vec<_> = traceseal::custody::rules::standard_route("310420261000099")
        .into_iter()
        .take(9)
        .collect();
    route.insert(1, (Role::Carrier, Event::Packing(Packing::default())));
    for (role, event) in route {
        let (id, sk) = &keys[&role];
        let head: Value = http
            .get(format!("{base}/api/v1/lots/{lot}/head"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let st = Statement {
            log: head["log"].as_str().unwrap().into(),
            lot: lot.into(),
            items: vec![],
            prev: head["head"].as_str().unwrap().into(),
            actor: id.clone(),
            kid: traceseal::code::KeyId::of(&sk.verifying_key()).to_string(),
            time: "2026-11-20T10:00:00+08:00".into(),
            signed_at: traceseal::service::now_unix(),
            nonce: random_nonce(),
            place: Some(Place {
                name: "Ningbo".into(),
                country: "CN".into(),
                unlocode: Some("CNNGB".into()),
                gln: None,
            }),
            event,
        };
        let r = http
            .post(format!("{base}/api/v1/custody/records"))
            .json(&json!({"statement": st.canonical(), "signature": st.sign(sk)}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    println!("recorded a 10-step custody chain for lot {lot}");
}

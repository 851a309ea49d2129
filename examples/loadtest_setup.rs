//! Seeds a running server for the scan load test and writes a wrk Lua script that cycles
//! through `/api/v1/verify?code=…` paths of freshly issued codes.
//!
//! Usage: `loadtest_setup BASE_URL TOKEN_FILE OUT.lua [CODES]`

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
    let mut lua = String::from("paths = {\n");
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
    }
    lua.push_str(
        "}\ncounter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format(\"GET\", paths[(counter % #paths) + 1])\nend\n",
    );
    std::fs::write(out, lua).unwrap();
    println!("seeded {n} codes; wrote {out}");
}

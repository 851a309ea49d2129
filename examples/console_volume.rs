//! The console with real volumes (issue 15): seeds a running server with CODES issued codes
//! (default 1,000,000), SCANS recorded scans (default 100,000, each from another client
//! network, so each is counted and recorded) and COMPLAINTS complaints (default 1,000), signs in
//! as each role, then times every console page a role opens (20 timed GETs after 3 warm-ups
//! each) and prints a table: status, size, median, p95 and worst time. Exits 1 when a page does
//! not answer 200, is over 100 KB (HTML pages; not the preview image or a CSV), or has a p95 of
//! 300 ms or more.
//!
//! Usage: `console_volume BASE_URL TOKEN_FILE PAGES_FILE [CODES] [SCANS] [COMPLAINTS]`
//! (`scripts/console-volume.sh` starts the server). PAGES_FILE: one `role path` per line
//! (`{batch}`, `{enterprise}`, `{complaint}` and `{lot}` are replaced by the seeded ones).

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

const PASSWORD: &str = "volume-test-password-1";
const GTIN: &str = "09506000134352";

struct Seeded {
    enterprise: u64,
    batch: u64,
    complaint: String,
    lot: String,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!(
            "usage: console_volume BASE_URL TOKEN_FILE PAGES_FILE [CODES] [SCANS] [COMPLAINTS]"
        );
        std::process::exit(2);
    }
    let n = |i: usize, d: u64| args.get(i).map_or(d, |s| s.parse().expect("a number"));
    let (codes, scans, complaints) = (n(4, 1_000_000), n(5, 100_000), n(6, 1_000));
    let token = std::fs::read_to_string(&args[2])
        .expect("token file")
        .trim()
        .to_string();
    let api = Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap(),
        base: args[1].clone(),
        token,
    };
    let seeded = seed(&api, codes, scans, complaints).await;
    let pages = std::fs::read_to_string(&args[3]).expect("pages file");
    let ok = time_pages(&api, &seeded, &pages).await;
    std::process::exit(if ok { 0 } else { 1 });
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", idempotency_key(path, &body))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {v}");
        v
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }
}

/// A key per request (the batch's: posting it again reuses the batch).
fn idempotency_key(path: &str, body: &Value) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("{path} {body}"));
    let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("volume-{hex}")
}

async fn seed(api: &Api, codes: u64, scans: u64, complaints: u64) -> Seeded {
    let started = Instant::now();
    let a = api
        .post(
            "/api/v1/enterprises",
            json!({"name": "Volume Imports", "uscc": "91350100M000100Y43", "country": "JP"}),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    let b = api
        .post(
            "/api/v1/enterprises",
            json!({"name": "Other Imports", "uscc": "91110108551385082Q", "country": "FR"}),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    api.post(
        "/api/v1/products",
        json!({"gtin": GTIN, "name_zh": "保健品", "name_en": "Health food", "enterprise_id": a}),
    )
    .await;
    api.post("/api/v1/products", json!({"gtin": "09506000134369", "name_zh": "奶粉", "name_en": "Formula", "enterprise_id": b}))
        .await;
    let lot = "VOL-1";
    api.post("/api/v1/lots", json!({"gtin": GTIN, "lot": lot}))
        .await;
    let batch = api
        .post(
            "/api/v1/batches",
            json!({"gtin": GTIN, "lot": lot, "expiry": "2029-03-31", "quantity": codes}),
        )
        .await["batch_id"]
        .as_u64()
        .unwrap();
    wait_issued(api, batch, codes).await;
    eprintln!(
        "issued {codes} codes in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let list = first_codes(api, batch, scans.max(complaints)).await;
    let ids = scan_all(api, &list[..scans as usize], 0).await;
    let complaint = complain(api, &ids, complaints).await;
    // The risk dashboard's events: 1,000 forged codes (a letter of the serial changed) from
    // as many networks; 200 codes each scanned from 6 more networks (clone warnings); a recall.
    let forged: Vec<String> = list.iter().take(1_000).map(|c| forge(c)).collect();
    scan_all(api, &forged, 1 << 20).await;
    let widely: Vec<String> = list
        .iter()
        .take(200)
        .flat_map(|c| vec![c.clone(); 6])
        .collect();
    scan_all(api, &widely, 2 << 20).await;
    api.post(
        &format!("/api/v1/lots/{GTIN}.{lot}/recall"),
        json!({"reason": "volume test recall"}),
    )
    .await;
    for (user, role, e) in [
        ("vol-operator", "operator", None),
        ("vol-regulator", "regulator", None),
        ("vol-admin", "enterprise_admin", Some(a)),
        ("vol-printer", "label_printer", Some(a)),
    ] {
        api.post(
            "/api/v1/users",
            json!({"username": user, "password": PASSWORD, "role": role, "enterprise_id": e}),
        )
        .await;
    }
    for i in 0..3u64 {
        let reason = (i > 0).then(|| "damaged roll".to_string());
        api.post(
            &format!("/api/v1/batches/{batch}/print-jobs"),
            json!({"format": "pdf", "range": [0, 1000], "reprint_reason": reason}),
        )
        .await;
    }
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    Seeded {
        enterprise: a,
        batch,
        complaint,
        lot: format!("{GTIN}.{lot}"),
    }
}

async fn wait_issued(api: &Api, batch: u64, codes: u64) {
    let mut last = 0;
    loop {
        let b = api.get(&format!("/api/v1/batches/{batch}")).await;
        let issued = b["issued"].as_u64().unwrap_or(0);
        if b["status"] == "complete" {
            return;
        }
        if issued >= last + codes / 10 {
            eprintln!("  issuing: {issued} / {codes}");
            last = issued;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The first `n` codes of the batch (the stream is dropped after them).
async fn first_codes(api: &Api, batch: u64, n: u64) -> Vec<String> {
    let mut r = api
        .http
        .get(format!("{}/api/v1/batches/{batch}/codes", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    let (mut out, mut buf) = (Vec::new(), String::new());
    while (out.len() as u64) < n {
        let Some(chunk) = r.chunk().await.unwrap() else {
            break;
        };
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(i) = buf.find('\n') {
            let line: String = buf.drain(..=i).collect();
            let v: Value = serde_json::from_str(&line).unwrap();
            out.push(v["code"].as_str().unwrap().to_string());
        }
    }
    out.truncate(n as usize);
    out
}

fn network(i: u64) -> String {
    format!("{}.{}.{}.7", 1 + (i >> 16) % 223, (i >> 8) & 255, i & 255)
}

/// `code` with one letter of its serial changed: a code we did not issue.
fn forge(code: &str) -> String {
    let at = code.find("/21/").expect("a GS1 digital link") + 4;
    let mut b = code.as_bytes().to_vec();
    b[at] = if b[at] == b'Z' { b'Y' } else { b'Z' };
    String::from_utf8(b).unwrap()
}

/// Scans each code once, each from its own client network (numbered from `first_network`):
/// every scan is counted and recorded. Returns the scan ids, in order.
async fn scan_all(api: &Api, codes: &[String], first_network: u64) -> Vec<String> {
    let t = Instant::now();
    let ids: Vec<String> = stream::iter(codes.iter().enumerate())
        .map(|(i, code)| async move {
            let r = api
                .http
                .get(format!(
                    "{}/api/v1/verify?{}",
                    api.base,
                    serde_urlencoded::to_string([("code", code)]).unwrap()
                ))
                .header("X-Forwarded-For", network(first_network + i as u64))
                .send()
                .await
                .unwrap();
            let v: Value = r.json().await.unwrap();
            if i % 20_000 == 0 {
                eprintln!("  scanned {i} / {}", codes.len());
            }
            v["scan_id"].as_str().unwrap_or_default().to_string()
        })
        .buffered(32)
        .collect()
        .await;
    eprintln!(
        "{} scans in {:.1} s",
        codes.len(),
        t.elapsed().as_secs_f64()
    );
    ids
}

/// Files `n` complaints, one per scan (each from the scan's network). Returns one reference.
async fn complain(api: &Api, ids: &[String], n: u64) -> String {
    let mut last = String::new();
    for (i, id) in ids.iter().take(n as usize).enumerate() {
        let category = ["counterfeit", "quality", "service"][i % 3];
        let r = api
            .http
            .post(format!("{}/api/v1/complaints", api.base))
            .header("X-Forwarded-For", network(i as u64))
            .json(&json!({"scan_id": id, "category": category, "description": format!("volume complaint {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "complaint {i}");
        last = r.json::<Value>().await.unwrap()["reference"]
            .as_str()
            .unwrap()
            .to_string();
    }
    eprintln!("{n} complaints filed");
    last
}

async fn sign_in(api: &Api, user: &str) -> String {
    let r = api
        .http
        .post(format!("{}/api/v1/session", api.base))
        .json(&json!({"username": user, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "sign-in of {user}: {}", r.status());
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Times every page of the list; true when every one answers 200, under 100 KB, p95 < 300 ms.
async fn time_pages(api: &Api, s: &Seeded, list: &str) -> bool {
    let mut ok = true;
    let mut cookies = std::collections::HashMap::new();
    println!("| role | page | status | bytes | median ms | p95 ms | worst ms |\n| --- | --- | --- | --- | --- | --- | --- |");
    for line in list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (role, path) = line.split_once(' ').expect("`role path`");
        let user = format!("vol-{role}");
        if !cookies.contains_key(&user) {
            cookies.insert(user.clone(), sign_in(api, &user).await);
        }
        let path = path
            .replace("{batch}", &s.batch.to_string())
            .replace("{enterprise}", &s.enterprise.to_string())
            .replace("{complaint}", &s.complaint)
            .replace("{lot}", &s.lot);
        let (status, bytes, html, times) = time_page(api, &cookies[&user], &path).await;
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        let (median, p95, worst) = (at(0.5), at(0.95), at(1.0));
        // The 100 KB limit is the pages'; an image or a CSV download may be larger.
        let fine = status == 200 && (!html || bytes < 100 * 1024) && p95 < 300.0;
        ok &= fine;
        println!(
            "| {role} | `{path}` | {status} | {bytes} | {median:.1} | {p95:.1} | {worst:.1} |{}",
            if fine { "" } else { " **FAILS**" }
        );
    }
    ok
}

async fn time_page(api: &Api, cookie: &str, path: &str) -> (u16, usize, bool, Vec<f64>) {
    let (mut status, mut bytes, mut html, mut times) = (0, 0, false, Vec::new());
    for i in 0..23 {
        let t = Instant::now();
        let r = api
            .http
            .get(format!("{}{path}", api.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        status = r.status().as_u16();
        html = r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/html");
        bytes = r.bytes().await.unwrap().len();
        if i >= 3 {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    (status, bytes, html, times)
}

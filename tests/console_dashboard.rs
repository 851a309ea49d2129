//! The regulator dashboard of the console (`docs/console.md`) in headless Chromium, against the
//! real server over RocksDB: codes of two enterprises scanned over the public API (genuine,
//! one repeated, one forged), then a regulator signs in and opens the dashboard: its table
//! shows the counts the scans made, the SVG has one segment per non-zero count, the
//! enterprise filter narrows both, and the CSV (fetched with the browser's session cookie)
//! holds the same numbers. A label printer gets the refusal page. Screenshots in both
//! languages at 1280 and 360 px: `$CARGO_TARGET_DIR/test-artifacts/console/dashboard-*.png`.

mod common;

use common::browser::{artifacts_dir, Browser};
use common::console::{sign_in, user, wait_path, SESSION};
use common::{test_config, verify_path, TestServer, GTIN, USCC};
use serde_json::{json, Value};

/// Registers an enterprise with product `gtin` and a batch of `quantity` codes of lot `lot`;
/// its id and the codes.
async fn enterprise(
    s: &TestServer,
    name: &str,
    uscc: &str,
    gtin: &str,
    lot: &str,
    quantity: u64,
) -> (u64, Vec<String>) {
    let seeder = s.seeder();
    let r = seeder
        .post(
            "/api/v1/enterprises",
            json!({"name": name, "uscc": uscc, "country": "AU"}),
            None,
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_u64().unwrap();
    let p = json!({"gtin": gtin, "name_zh": "奶粉", "name_en": "Formula", "enterprise_id": id});
    assert_eq!(seeder.post("/api/v1/products", p, None).await.status(), 201);
    let b = json!({"gtin": gtin, "lot": lot, "quantity": quantity});
    let r = seeder.post("/api/v1/batches", b, Some(lot)).await;
    assert_eq!(r.status(), 201);
    let batch = r.json::<Value>().await.unwrap()["batch_id"]
        .as_u64()
        .unwrap();
    (id, seeder.codes(batch).await)
}

/// Scans `code` over the public API; its verdict.
async fn scan(s: &TestServer, code: &str) -> String {
    let v: Value = s.get(&verify_path(code)).await.json().await.unwrap();
    v["verdict"].as_str().unwrap().to_string()
}

async fn shot(b: &Browser, name: &str) {
    b.full_screenshot(&artifacts_dir("console").join(format!("dashboard-{name}.png")))
        .await;
}

/// The table's cells, row by row (`thead`, then `tbody`, then `tfoot`), as the page shows them.
async fn table(b: &Browser) -> Vec<Vec<String>> {
    let v = b
        .js("return [...document.querySelectorAll('table.counts tr')].map(r => [...r.cells].map(c => c.textContent))")
        .await;
    serde_json::from_value(v).unwrap()
}

/// Per verdict, the totals row of the table (genuine, with warning, not genuine, cannot
/// verify, total), and how many of the day cells are not zero.
fn totals(t: &[Vec<String>]) -> (Vec<u64>, usize) {
    let n = |c: &String| c.parse::<u64>().unwrap();
    let foot: Vec<u64> = t.last().unwrap()[1..].iter().map(n).collect();
    let body = &t[1..t.len() - 1];
    let non_zero = body
        .iter()
        .flat_map(|r| r[1..5].iter())
        .filter(|c| n(c) > 0)
        .count();
    let sums: Vec<u64> = (1..6)
        .map(|i| body.iter().map(|r| n(&r[i])).sum())
        .collect();
    assert_eq!(sums, foot, "the totals row adds the days up");
    (foot, non_zero)
}

async fn segments(b: &Browser) -> usize {
    b.js("return document.querySelectorAll('svg.chart g.bars path').length")
        .await
        .as_u64()
        .unwrap() as usize
}

/// `GET path` with a session cookie, redirects not followed.
async fn get_with(s: &TestServer, path: &str, session: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.url(path))
        .header("cookie", format!("{SESSION}={session}"))
        .send()
        .await
        .unwrap()
}

/// The CSV's totals per verdict (genuine, with warning, not genuine, cannot verify), checking
/// its headers and its shape: a header row, one row per day × verdict.
async fn csv_totals(s: &TestServer, path: &str, session: &str, days: usize) -> Vec<u64> {
    let r = get_with(s, path, session).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let cd = r.headers()["content-disposition"].to_str().unwrap();
    assert!(
        cd.starts_with("attachment; filename=\"traceseal-scans-"),
        "{cd}"
    );
    let body = r.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "date,enterprise_id,verdict,scans");
    assert_eq!(lines.len(), 1 + days * 4);
    let order = [
        "genuine",
        "genuine_with_warning",
        "not_genuine",
        "cannot_verify_now",
    ];
    let mut t = vec![0u64; 4];
    for (i, l) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[2], order[i % 4], "{l}");
        t[i % 4] += f[3].parse::<u64>().unwrap();
    }
    t
}

#[tokio::test]
async fn a_regulator_sees_the_scans_as_chart_table_and_csv_and_a_printer_is_refused() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    let s = TestServer::start(cfg).await;
    let (a, codes) = enterprise(&s, "Acme Import Co.", USCC, GTIN, "LOT-A1", 3).await;
    let (other, other_codes) = enterprise(
        &s,
        "Other Import Co.",
        "91110108551385082Q",
        "09506000134369",
        "LOT-B1",
        1,
    )
    .await;
    // Acme: three codes genuine, the first scanned twice (one network, one hour: counted
    // once), and one forged from the first (its product is Acme's). Other: one genuine.
    for c in [&codes[0], &codes[0], &codes[1], &codes[2], &other_codes[0]] {
        assert_eq!(scan(&s, c).await, "genuine");
    }
    let at = codes[0].find("/21/").unwrap() + 4;
    let mut forged = codes[0].clone().into_bytes();
    forged[at] = if forged[at] == b'Z' { b'Y' } else { b'Z' };
    assert_eq!(
        scan(&s, &String::from_utf8(forged).unwrap()).await,
        "not_genuine"
    );
    user(&s, "reg-rita", "regulator", None).await;
    user(&s, "printer-a", "label_printer", Some(a)).await;

    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "reg-rita").await;
    assert!(
        b.text("nav").await.ends_with("监管看板\n风险看板"),
        "the regulator's menu"
    );
    b.click("nav a[href='/console/dashboard']").await;
    wait_path(&b, "/console/dashboard").await;
    assert_eq!(b.text("h1").await, "监管看板");
    let t = table(&b).await;
    assert_eq!(
        t.len(),
        1 + 30 + 1,
        "30 days by default, with head and totals"
    );
    assert_eq!(t[0][1], "正品");
    let (sums, non_zero) = totals(&t);
    assert_eq!(sums, [4, 0, 1, 0, 5]);
    assert_eq!(
        segments(&b).await,
        non_zero,
        "one bar segment per non-zero count"
    );
    let svg = b
        .js("const s = document.querySelector('svg.chart'); return [s.getAttribute('role'), s.querySelector('title').textContent, s.getAttribute('viewBox')]")
        .await;
    assert_eq!(svg[0], "img");
    assert!(
        svg[1].as_str().unwrap().starts_with("每日扫描次数"),
        "{svg}"
    );
    assert_eq!(svg[2], "0 0 560 330");
    assert!(b.text(".legend").await.contains("非正品"));
    shot(&b, "regulator-zh").await;

    // The filter: Acme only, through the form.
    b.click(&format!("#enterprise_id option[value='{a}']"))
        .await;
    b.click("form.filters button").await;
    wait_path(&b, &format!("/console/dashboard?enterprise_id={a}&days=30")).await;
    let (sums, non_zero) = totals(&table(&b).await);
    assert_eq!(sums, [3, 0, 1, 0, 4]);
    assert_eq!(segments(&b).await, non_zero);
    assert!(b.text("section").await.contains("Acme Import Co."));
    shot(&b, "regulator-acme-zh").await;
    b.resize(360, 740).await;
    let overflow = b
        .js("return document.documentElement.scrollWidth - window.innerWidth")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "no sideways scroll at 360 px: {overflow}"
    );
    shot(&b, "regulator-acme-zh-360").await;
    b.click("a.lang").await;
    wait_path(&b, "/console/dashboard").await;
    assert_eq!(b.text("h1").await, "Dashboard");
    assert!(b.text(".legend").await.contains("Not genuine"));
    shot(&b, "regulator-en-360").await;
    b.resize(1280, 900).await;
    b.goto(&s.url(&format!("/console/dashboard?enterprise_id={other}&days=7")))
        .await;
    let t = table(&b).await;
    assert_eq!(t.len(), 1 + 7 + 1);
    assert_eq!(t[0][1], "Genuine");
    assert_eq!(totals(&t).0, [1, 0, 0, 0, 1]);
    shot(&b, "regulator-other-en").await;
    b.goto(&s.url("/console/dashboard")).await;
    shot(&b, "regulator-en").await;

    // The CSV: the link on the page, with the browser's session, holds the same numbers.
    let session = b.cookie(SESSION).await.expect("the session cookie");
    let href = b
        .js("return document.querySelector('a.csv').getAttribute('href')")
        .await;
    assert_eq!(href, "/console/dashboard.csv?days=30");
    assert_eq!(
        csv_totals(&s, "/console/dashboard.csv?days=30", &session, 30).await,
        [4, 0, 1, 0]
    );
    let acme = format!("/console/dashboard.csv?days=30&enterprise_id={a}");
    assert_eq!(csv_totals(&s, &acme, &session, 30).await, [3, 0, 1, 0]);
    // The page itself: small, inline SVG under the console's CSP.
    let r = get_with(&s, "/console/dashboard?days=366", &session).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(page.len() < 100_000, "{} bytes", page.len());
    assert!(page.contains("<svg class=\"chart\"") && !page.contains("<script"));
    // Bad filters and unknown enterprises are answered, not guessed.
    assert_eq!(
        get_with(&s, "/console/dashboard?days=0", &session)
            .await
            .status(),
        400
    );
    assert_eq!(
        get_with(&s, "/console/dashboard?enterprise_id=999", &session)
            .await
            .status(),
        404
    );
    let anonymous = s.get("/console/dashboard.csv").await;
    assert!(
        anonymous.url().path().ends_with("/console/login"),
        "signed out: to sign-in"
    );

    // A label printer: no menu entry, the refusal page, and no CSV.
    b.click(".who button").await;
    wait_path(&b, "/console/login").await;
    sign_in(&b, &s, "printer-a").await;
    assert!(!b.text("nav").await.contains("Dashboard"));
    b.goto(&s.url("/console/dashboard")).await;
    assert_eq!(b.text("h1").await, "Not allowed");
    assert!(b
        .text(".err")
        .await
        .contains("label_printer may not GET /api/v1/scans/forged"));
    shot(&b, "refused-printer-en").await;
    let printer = b.cookie(SESSION).await.unwrap();
    assert_eq!(
        get_with(&s, "/console/dashboard", &printer).await.status(),
        403
    );
    assert_eq!(
        get_with(&s, "/console/dashboard.csv", &printer)
            .await
            .status(),
        403
    );
    b.quit().await;
    s.stop().await;
}

/// Scans `code` from client address `ip` (through the trusted proxy header); the answer.
/// The rows of the table of class `class` on the risk page, cells as shown.
async fn risk_table(b: &Browser, class: &str) -> Vec<Vec<String>> {
    let v = b
        .js(&format!("return [...document.querySelectorAll('table.{class} tbody tr, table.{class} tfoot tr')].map(r => [...r.cells].map(c => c.textContent))"))
        .await;
    serde_json::from_value(v).unwrap()
}

/// The row whose first cell contains `name`.
fn row<'a>(t: &'a [Vec<String>], name: &str) -> &'a [String] {
    t.iter()
        .find(|r| r[0].contains(name))
        .unwrap_or_else(|| panic!("no row {name} in {t:?}"))
}

#[tokio::test]
async fn the_risk_dashboard_counts_clones_forgeries_complaints_and_recalls_as_they_arrive() {
    let mut cfg = test_config();
    cfg.chain.enabled = false;
    cfg.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let s = TestServer::start(cfg).await;
    let (_, codes) = enterprise(&s, "Acme Import Co.", USCC, GTIN, "LOT-A1", 2).await;
    let (_, other) = enterprise(
        &s,
        "Other Import Co.",
        "91110108551385082Q",
        "09506000134369",
        "LOT-B1",
        1,
    )
    .await;
    // Acme's first code from 8 networks: the clone warning fires once it is widely scanned.
    let mut warnings = 0;
    for n in 1..=8 {
        let v = s.scan_from(&codes[0], &format!("192.0.{n}.9")).await;
        warnings += u64::from(v["verdict"] == "genuine_with_warning");
    }
    assert!(warnings >= 2, "the warning fired: {warnings}");
    // Forged codes: Acme's twice (two networks), Other's once.
    let forge = |c: &str| {
        let at = c.find("/21/").unwrap() + 4;
        let mut f = c.to_string().into_bytes();
        f[at] = if f[at] == b'Z' { b'Y' } else { b'Z' };
        String::from_utf8(f).unwrap()
    };
    for (c, ip) in [
        (&codes[1], "198.51.100.1"),
        (&codes[1], "198.51.101.1"),
        (&other[0], "198.51.100.1"),
    ] {
        assert_eq!(s.scan_from(&forge(c), ip).await["verdict"], "not_genuine");
    }
    // A complaint about Other's item, upheld by the operator; Acme's lot recalled.
    let v = s.scan_from(&other[0], "203.0.113.5").await;
    let body =
        json!({"scan_id": v["scan_id"], "category": "quality", "description": "leaking tin"});
    let r = s
        .client
        .post(s.url("/api/v1/complaints"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let reference = r.json::<Value>().await.unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .client
        .patch(s.url(&format!("/api/v1/complaints/{reference}")))
        .bearer_auth(&s.token)
        .json(&json!({"status": "resolved", "note": "upheld: the tin leaks"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .admin_post(
            &format!("/api/v1/lots/{GTIN}.LOT-A1/recall"),
            json!({"reason": "contamination"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    user(&s, "reg-rita", "regulator", None).await;

    let b = Browser::start("zh-CN,zh", 1280, 900).await;
    sign_in(&b, &s, "reg-rita").await;
    b.click("nav a[href='/console/risks']").await;
    wait_path(&b, "/console/risks").await;
    assert_eq!(b.text("h1").await, "风险看板");
    let ent = risk_table(&b, "ent").await;
    assert_eq!(row(&ent, "Acme")[1..], [warnings.to_string(), "2".into()]);
    assert_eq!(row(&ent, "Other")[1..], ["0".to_string(), "1".into()]);
    let prod = risk_table(&b, "prod").await;
    assert_eq!(row(&prod, GTIN)[1..], [warnings.to_string(), "2".into()]);
    let net = risk_table(&b, "net").await;
    assert_eq!(
        row(&net, "198.51.100.0/24")[1..],
        ["0".to_string(), "2".into()]
    );
    assert_eq!(
        row(&net, "198.51.101.0/24")[1..],
        ["0".to_string(), "1".into()]
    );
    assert_eq!(
        row(&net, "192.0.8.0/24")[1],
        "1",
        "the last network saw a warning"
    );
    let complaints = risk_table(&b, "complaints").await;
    assert_eq!(
        row(&complaints, "Other")[1..],
        ["1", "0", "1", "0"].map(String::from)
    );
    assert!(
        !complaints.iter().any(|r| r[0].contains("Acme")),
        "{complaints:?}"
    );
    let custody = risk_table(&b, "custody").await;
    assert_eq!(
        row(&custody, "Acme")[1..],
        ["0", "0", "1"].map(String::from)
    );
    // One SVG segment per non-zero day value of each chart (scans: 2 series, today only).
    let paths = b.js("return [...document.querySelectorAll('svg.chart')].map(s => s.querySelectorAll('g.bars path').length)").await;
    // Scans today: warnings and forged; complaints: Other's one upheld; custody: one recall.
    assert_eq!(paths, json!([2, 1, 1]));
    shot(&b, "risks-regulator-zh").await;
    // The CSVs, fetched with the browser's session: the same numbers.
    let session = b.cookie(SESSION).await.unwrap();
    let r = get_with(&s, "/console/risks.csv?part=subjects&days=30", &session).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("traceseal-risks-subjects-30d.csv"));
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("dimension,subject,clone_warnings,forged_scans\r\n"),
        "{csv}"
    );
    assert!(csv.contains("network,\"198.51.100.0/24\",0,2\r\n"), "{csv}");
    let csv = get_with(&s, "/console/risks.csv?part=custody&days=7", &session)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 8, "a header and 7 days: {csv}");
    assert!(csv.trim_end().ends_with(",0,0,1"), "today's recall: {csv}");
    let r = get_with(&s, "/console/risks.csv?part=nothing", &session).await;
    assert_eq!(r.status(), 404);
    let r = get_with(&s, "/console/risks?days=9999", &session).await;
    assert_eq!(r.status(), 400);
    // English, a year, and a phone: no script, small, no sideways scroll of the page.
    b.goto(&s.url("/console/lang?to=en&back=/console/risks?days=366"))
        .await;
    assert_eq!(b.text("h1").await, "Risk dashboard");
    let page = get_with(&s, "/console/risks?days=366", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.len() < 100 * 1024 && !page.contains("<script"),
        "{}",
        page.len()
    );
    shot(&b, "risks-regulator-en").await;
    b.resize(360, 800).await;
    let wide = b
        .js("return document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(wide, json!(true), "no sideways scroll at 360 px");
    shot(&b, "risks-regulator-en-360").await;
    b.quit().await;
    s.stop().await;
}

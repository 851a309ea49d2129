//! The merchant integrity page (`/m/{uscc}`, 诚信二维码) and its A4 poster, against the real
//! server on RocksDB and a real anvil chain: headless Chromium shows the enterprise's grade
//! with stars, its return promise, disclosures, upheld complaints, the warning listing and
//! the history in Chinese and English, and checks the grade against the log itself (the
//! credit report's signatures and proofs, the anchor read from the chain); the poster PDF is
//! rasterised (pdftoppm) and its QR code decoded (zbar) to the page's URL.

mod common;

use std::time::Duration;

use common::browser::{artifacts_dir, Browser};
use common::*;
use serde_json::{json, Value};
use traceseal::chain::anvil::{find_binary, Anvil, AnvilOptions};

async fn checks(b: &Browser) -> Value {
    b.js("const o = {}; for (const li of document.querySelectorAll('#checks li')) o[li.id.slice(4)] = li.dataset.result + ': ' + li.innerText; return o;")
        .await
}

/// Opens the report check page, chooses `file`, and waits for the verdict, which must be
/// `want`; the check lines.
async fn check_report_file(
    b: &Browser,
    s: &TestServer,
    file: &std::path::Path,
    want: &str,
) -> Value {
    b.goto(&s.url("/credit-reports/verify?lang=en")).await;
    b.wait_ready(Duration::from_secs(10)).await;
    // Before a file is chosen the page claims nothing.
    assert_eq!(
        b.js("return [document.documentElement.dataset.verified || '', document.getElementById('verify-summary').textContent]").await,
        json!(["", ""])
    );
    b.type_into("#report-file", file.to_str().unwrap()).await;
    b.wait_ready(Duration::from_secs(15)).await;
    let c = checks(b).await;
    assert_eq!(
        b.js("return document.documentElement.dataset.verified")
            .await,
        want,
        "{c}"
    );
    c
}

/// The poster's text, as a reader extracts it (pdftotext).
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("poster.pdf");
    std::fs::write(&f, pdf).unwrap();
    let o = std::process::Command::new("pdftotext")
        .arg(&f)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_integrity_page_checks_the_grade_in_the_browser_and_the_poster_scans_to_it() {
    let art = artifacts_dir("merchant-page");
    let anvil = Anvil::start(AnvilOptions::new(find_binary().unwrap())).unwrap();
    let mut cfg = test_config();
    cfg.chain.poll_ms = 100;
    cfg.chain.anchor_interval_ms = 0;
    cfg.chain.public_rpc_url = anvil.url();
    cfg.chain.dev_mode = true;
    let s = TestServer::start_anchored(cfg, &anvil.url()).await;
    let id = s.seed().await;
    let profile = json!({
        "rating": "B", "rated_on": "2026-10-01", "return_days": 7,
        "disclosures": [
            {"category": "registration", "title": "Customs registration 3302960ABC", "date": "2019-03-01"},
            {"category": "reward", "title": "Zone model importer 2025", "date": "2026-01-15"}
        ]
    });
    let r = s
        .admin_put(&format!("/api/v1/enterprises/{id}/credit"), profile)
        .await;
    assert_eq!(r.status(), 200);
    s.declare_and_recall("R1", "Cronobacter in a retained sample", Some("safety"))
        .await;
    // B (73, then 83 with the filing), then C after the safety recall: 83 − 15 − 10 = 58; the
    // safety recall lists it.
    s.anchored_report(id, 2).await;

    let b = Browser::start("zh-CN,zh", 390, 844).await;
    b.goto(&s.url(&format!("/m/{USCC}"))).await;
    b.wait_ready(Duration::from_secs(15)).await;
    let c = checks(&b).await;
    assert_eq!(
        b.js("return document.documentElement.dataset.verified")
            .await,
        "pass",
        "{c}"
    );
    for id in ["checkpoint", "statement", "inclusion", "shown", "chain"] {
        assert!(c[id].as_str().unwrap().starts_with("pass"), "{id}: {c}");
    }
    let main = b.text("main").await;
    for want in [
        "Acme Import Co.",
        "★★☆☆",
        "承诺 7 天无理由退货",
        "已被自动列入失信预警名单",
        "因安全原因召回",
        "Customs registration 3302960ABC",
        "奖励信息",
    ] {
        assert!(main.contains(want), "{want}: {main}");
    }
    assert_eq!(
        b.js("return document.getElementById('m-grade').textContent")
            .await,
        "C"
    );
    // Every change in the history is marked as checked here: two grades and the listing.
    let marks = b
        .js("return [...document.querySelectorAll('#timeline [data-leaf] .here')].map(e => e.dataset.browser)")
        .await;
    assert_eq!(marks, json!(["pass", "pass", "pass"]), "{main}");
    b.full_screenshot(&art.join("merchant-zh.png")).await;
    b.goto(&s.url(&format!("/m/{USCC}?lang=en"))).await;
    b.wait_ready(Duration::from_secs(15)).await;
    let main = b.text("main").await;
    for want in [
        "Promises no-reason returns within 7 days",
        "On the warning list: a recall for safety",
        "Credit-risk grade",
    ] {
        assert!(main.contains(want), "{want}: {main}");
    }
    b.full_screenshot(&art.join("merchant-en.png")).await;

    // A bank checks the report file it was handed, on the report page (the file stays in
    // the browser): verified, with what it proves; a tampered copy fails.
    let report = s.anchored_report(id, 2).await;
    let good = art.join("report.json");
    std::fs::write(&good, serde_json::to_vec(&report).unwrap()).unwrap();
    let mut forged = report.clone();
    forged["enterprise"]["name"] = json!("Someone Else Trading Ltd");
    let bad = art.join("report-forged.json");
    std::fs::write(&bad, serde_json::to_vec(&forged).unwrap()).unwrap();
    check_report_file(&b, &s, &good, "pass").await;
    let out = b.text("#report-result").await;
    for want in [
        "Acme Import Co.",
        "Credit-risk grade C, score 58.0",
        "On the warning list",
        "2 grade changes",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    b.full_screenshot(&art.join("report-check-en.png")).await;
    let c = check_report_file(&b, &s, &bad, "fail").await;
    assert!(c["statement"].as_str().unwrap().starts_with("fail"), "{c}");
    assert_eq!(
        b.text("#report-result").await,
        "",
        "nothing shown of a failed report"
    );
    b.quit().await;

    // The poster: one A4 page whose QR code is the page's URL, with the grade in its text.
    let r = s.get(&format!("/m/{USCC}/poster.pdf")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap().to_vec();
    std::fs::write(art.join("poster.pdf"), &pdf).unwrap();
    let url = format!("https://{}/m/{USCC}", s.state.svc.host().as_str());
    assert_eq!(pdf_qr_codes(&pdf, 150), vec![url.clone()]);
    let text = pdf_text(&pdf);
    for want in [
        "Acme Import Co.",
        "Grade C",
        "7-day no-reason returns",
        "On the warning list",
        &url,
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }

    // No record for an unknown or a malformed USCC: a page saying so, with the status.
    let r = s.get("/m/91330200MA2GOODC0X").await;
    assert_eq!(r.status(), 400);
    let other = "91110000100000000A";
    let r = s.get(&format!("/m/{other}")).await;
    let status = r.status();
    let html = r.text().await.unwrap();
    assert!(matches!(status.as_u16(), 400 | 404), "{status}: {html}");
    assert!(html.contains("id=\"m-missing\""), "{html}");
    assert_eq!(
        s.get(&format!("/m/{other}/poster.pdf")).await.status(),
        status
    );
    s.stop().await;
}

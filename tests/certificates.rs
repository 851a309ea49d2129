//! Published certificates over HTTP, against the real server over RocksDB: an inspector
//! publishes a document of its own origin attestation with a signed actor request; everyone
//! else, every other file and every malformed request is refused with its reason and stores
//! nothing; the public URL serves exactly the bytes the record names, under headers that keep
//! them from running as a page of ours.

mod common;

use base64::Engine;
use common::*;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use traceseal::custody::event::{Attestation, DocumentRef};
use traceseal::custody::record::{Conformance, Event};
use traceseal::custody::request::authorization;

const LOG: &str = "verify.example.com/log";
const PNG: &[u8] = include_bytes!("../fixtures/certificates/inspection.png");
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const HTML: &[u8] = b"<!doctype html><script>alert(document.cookie)</script>";

fn sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn b64(sk: &SigningKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(sk.verifying_key().as_bytes())
}

/// (Authorization, path, body, expected status, expected code).
type Case = (Option<String>, String, Vec<u8>, u16, &'static str);

fn attestation(docs: &[(&str, &[u8])]) -> Event {
    Event::OriginAttestation(Attestation {
        certificate_no: "AQIS-2026-0100".into(),
        origin_country: "AU".into(),
        producer: "Gippsland Dairy".into(),
        inspection_date: "2026-11-29".into(),
        result: Conformance::Conformant,
        documents: docs
            .iter()
            .map(|(n, b)| DocumentRef {
                name: (*n).into(),
                sha256: sha(b),
            })
            .collect(),
    })
}

/// A signed `PUT /api/v1/certificates/{sha}?record=N` with `body`.
async fn put(
    s: &TestServer,
    auth: Option<String>,
    path: &str,
    body: Vec<u8>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut rq = s.client.put(s.url(path)).body(body);
    if let Some(a) = auth {
        rq = rq.header("authorization", a);
    }
    let r = rq.send().await.unwrap();
    let (st, h) = (r.status().as_u16(), r.headers().clone());
    (st, r.json().await.unwrap_or(Value::Null), h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signer_publishes_and_anyone_fetches_exactly_the_named_bytes() {
    let s = TestServer::start(test_config()).await;
    let e = s.seed().await;
    let lot = format!("{GTIN}.CERT1");
    let r = s
        .admin_post("/api/v1/lots", json!({"gtin": GTIN, "lot": "CERT1"}))
        .await;
    assert!(r.status().is_success());
    let insp = SigningKey::from_bytes(&[31; 32]);
    let carrier = SigningKey::from_bytes(&[32; 32]);
    s.register_actor("cert-insp", "inspector", &b64(&insp))
        .await;
    s.register_actor("cert-carrier", "carrier", &b64(&carrier))
        .await;
    s.engage(e, "cert-insp").await;
    s.engage(e, "cert-carrier").await;
    let big = {
        let mut b = b"%PDF-1.4\n".to_vec();
        b.resize(5 * 1024 * 1024 + 1, b' ');
        b
    };
    let docs: [(&str, &[u8]); 4] = [
        ("inspection.png", PNG),
        ("lab.pdf", PDF),
        ("page.html", HTML),
        ("big.pdf", &big),
    ];
    let rec = s
        .record(&lot, ("cert-insp", &insp), attestation(&docs), vec![])
        .await;
    let packing = s
        .record(
            &lot,
            ("cert-carrier", &carrier),
            Event::Packing(Default::default()),
            vec![],
        )
        .await;
    let now = traceseal::service::now_unix();
    let path = |b: &[u8], record: u64| format!("/api/v1/certificates/{}?record={record}", sha(b));
    let signed =
        |sk: &SigningKey, id: &str, p: &str| Some(authorization(sk, id, LOG, "PUT", p, now));

    // Refusals: each with its status and code, and nothing stored by any of them.
    let p_png = path(PNG, rec);
    let bad_hash = format!(
        "/api/v1/certificates/{}?record={rec}",
        sha(PNG).to_uppercase()
    );
    let cases: Vec<Case> = vec![
        (None, p_png.clone(), PNG.to_vec(), 401, ""),
        (
            signed(&insp, "cert-insp", "/elsewhere"),
            p_png.clone(),
            PNG.to_vec(),
            401,
            "custody.bad_signature",
        ),
        (
            signed(&carrier, "cert-carrier", &p_png),
            p_png.clone(),
            PNG.to_vec(),
            403,
            "certificate.not_your_record",
        ),
        (
            signed(&insp, "cert-insp", &bad_hash),
            bad_hash.clone(),
            PNG.to_vec(),
            400,
            "certificate.bad_hash",
        ),
        (
            signed(&insp, "cert-insp", &path(b"other", rec)),
            path(b"other", rec),
            b"other".to_vec(),
            422,
            "certificate.not_in_record",
        ),
        (
            signed(&insp, "cert-insp", &path(PNG, packing)),
            path(PNG, packing),
            PNG.to_vec(),
            422,
            "certificate.not_an_attestation",
        ),
        (
            signed(&insp, "cert-insp", &path(PNG, 1 << 40)),
            path(PNG, 1 << 40),
            PNG.to_vec(),
            404,
            "certificate.no_such_record",
        ),
        (
            signed(&insp, "cert-insp", &p_png),
            p_png.clone(),
            PDF.to_vec(),
            422,
            "certificate.hash_mismatch",
        ),
        (
            signed(&insp, "cert-insp", &path(HTML, rec)),
            path(HTML, rec),
            HTML.to_vec(),
            415,
            "certificate.unsupported_type",
        ),
    ];
    for (auth, p, body, status, code) in cases {
        let (st, v, _) = put(&s, auth, &p, body).await;
        assert_eq!(st, status, "{p}: {v}");
        if !code.is_empty() {
            assert_eq!(v["code"], code, "{p}: {v}");
        }
    }
    // One byte over the cap: 413 as soon as the length is seen, before the body (which is
    // why it is sent as a head only: the answer may close the connection mid-upload).
    let p_big = path(&big, rec);
    let auth = authorization(&insp, "cert-insp", LOG, "PUT", &p_big, now);
    let text =
        answer_to_head_only(&s, &p_big, &format!("Authorization: {auth}\r\n"), big.len()).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("certificate.too_large"), "{text}");
    for b in [PNG, PDF, HTML, &big[..]] {
        let r = s.get(&format!("/certificates/{}", sha(b))).await;
        assert_eq!(r.status(), 404);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "certificate.not_found");
    }

    // The signer publishes: 201, then 200 for the same again.
    let (st, v, h) = put(&s, signed(&insp, "cert-insp", &p_png), &p_png, PNG.to_vec()).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["record"], rec);
    assert_eq!(v["name"], "inspection.png");
    assert_eq!(v["media_type"], "image/png");
    let url = format!("/certificates/{}", sha(PNG));
    assert_eq!(v["url"], url.as_str());
    assert_eq!(h["location"], url.as_str());
    let (st, again, _) = put(&s, signed(&insp, "cert-insp", &p_png), &p_png, PNG.to_vec()).await;
    assert_eq!((st, &again), (200, &v));

    // Anyone fetches it: the bytes named, typed by their first bytes, never run as a page.
    let r = s.get(&url).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert!(h["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    let etag = h["etag"].to_str().unwrap().to_string();
    let r = s
        .client
        .get(s.url(&url))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // A matching If-None-Match proves nothing: an unpublished hash is 404, a malformed one 400.
    for (h, status) in [(sha(HTML), 404), ("XYZ".to_string(), 400)] {
        let r = s
            .client
            .get(s.url(&format!("/certificates/{h}")))
            .header("if-none-match", format!("\"{h}\""))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{h}");
    }
    let list: Value = s
        .get(&format!("/api/v1/certificates/{}", sha(PNG)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([v]));
    // A PDF is a download: no document of its runs in our origin.
    let p_pdf = path(PDF, rec);
    let (st, _, _) = put(&s, signed(&insp, "cert-insp", &p_pdf), &p_pdf, PDF.to_vec()).await;
    assert_eq!(st, 201);
    let r = s.get(&format!("/certificates/{}", sha(PDF))).await;
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    s.stop().await;
}

/// Sends only the head of a `PUT` announcing `len` bytes, with `auth` (a header line or
/// nothing), and returns the answer, which must come without the body being sent.
async fn answer_to_head_only(s: &TestServer, path: &str, auth: &str, len: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = s.base.trim_start_matches("http://");
    let mut c = tokio::net::TcpStream::connect(host).await.unwrap();
    let head =
        format!("PUT {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: {len}\r\n\r\n");
    c.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), c.read(&mut buf))
        .await
        .expect("answered without reading the body")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// An announced body over the cap is refused before it is read, and an unsigned upload is
/// refused before its body is read: a client cannot make us buffer what we will not keep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_unsigned_uploads_are_refused_unread() {
    let s = TestServer::start(test_config()).await;
    let p = format!("/api/v1/certificates/{}?record=1", "ab".repeat(32));
    let forged = "Authorization: Traceseal-Actor actor=x,kid=00000000,at=1,sig=AA\r\n";
    for auth in ["", forged] {
        let text = answer_to_head_only(&s, &p, auth, 50 << 20).await;
        assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    }
    // Signed by a registered actor, but announcing more than the cap: 413 before the body.
    let sk = SigningKey::from_bytes(&[33; 32]);
    s.register_actor("cert-big", "inspector", &b64(&sk)).await;
    let now = traceseal::service::now_unix();
    let auth = authorization(&sk, "cert-big", LOG, "PUT", &p, now);
    let text = answer_to_head_only(&s, &p, &format!("Authorization: {auth}\r\n"), 50 << 20).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("certificate.too_large"), "{text}");
    s.stop().await;
}

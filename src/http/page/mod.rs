//! The consumer scan page: what a phone shows when its camera opens a label's code URI.
//!
//! Server-rendered from the same [`Verdict`] as the JSON answer, Chinese by default and English
//! on request (`?lang=en`, the `ts_lang` cookie the switch sets, or `Accept-Language`). Every
//! text is in the page in both languages (`<span lang>` pairs, one shown by the stylesheet), so
//! the switch needs no second request and no second scan. One stylesheet and one script, both
//! served by traceseal under content-hashed names (cached for a year); no external asset.
//! The script checks the proof bundle in the browser (see `scan.js`) and sends the problem
//! report form; without script the page still shows everything and the form still works.
//! See `docs/scan-page.md`.

use std::sync::OnceLock;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

mod follow;
mod merchant;
mod sections;
mod words;

pub use follow::{follow_form, follow_result};
pub use merchant::{merchant_error, merchant_page, report_check_page};

pub use self::sections::PageCtx;
use self::sections::{
    anchor_section, complaint_section, importer_section, origin_section, product_section,
    timeline_section, verify_section,
};
pub use self::words::{esc, negotiate, Lang};
use self::words::{reason_zh, t, verdict_texts, when};
use crate::service::complaints::ComplaintReceipt;
use crate::service::verdict::Verdict;

/// The stylesheet.
pub const CSS: &str = include_str!("scan.css");
/// The script.
pub const JS: &str = include_str!("scan.js");
/// @noble/ed25519 3.2.0 (MIT), vendored as published on npm (a test checks it byte for byte
/// against the pinned package in `tools/`): the scan page's Ed25519 where the browser's
/// WebCrypto has none, loaded only then (a dynamic `import()` under the same CSP).
pub const ED25519_JS: &str = include_str!("vendor/noble-ed25519.js");

/// A static asset under its content-hashed name.
pub struct Asset {
    /// `scan-<10 hex of SHA-256>.css` or `.js`.
    pub name: String,
    /// Media type.
    pub content_type: &'static str,
    /// The bytes.
    pub body: &'static str,
}

/// `<stem>-<10 hex of SHA-256 of body>.<ext>`: an asset's name, new whenever it changes.
pub fn hashed_name(stem: &str, ext: &str, body: &str) -> String {
    hashed(stem, ext, body)
}

fn hashed(stem: &str, ext: &str, body: &str) -> String {
    let d = Sha256::digest(body.as_bytes());
    let h: String = d[..5].iter().map(|b| format!("{b:02x}")).collect();
    format!("{stem}-{h}.{ext}")
}

/// The page's assets: `[stylesheet, script, Ed25519 module]`.
pub fn assets() -> &'static [Asset; 3] {
    static A: OnceLock<[Asset; 3]> = OnceLock::new();
    A.get_or_init(|| {
        [
            Asset {
                name: hashed("scan", "css", CSS),
                content_type: "text/css; charset=utf-8",
                body: CSS,
            },
            Asset {
                name: hashed("scan", "js", JS),
                content_type: "text/javascript; charset=utf-8",
                body: JS,
            },
            Asset {
                name: hashed("noble-ed25519", "js", ED25519_JS),
                content_type: "text/javascript; charset=utf-8",
                body: ED25519_JS,
            },
        ]
    })
}

/// Security headers of every page: a strict CSP (own script and style only; the chain node
/// for the in-browser `eth_call`), no referrer (a code URI carries its signature), no framing.
pub fn security_headers(rpc: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
    let connect = rpc
        .and_then(url_origin)
        .map(|o| format!("'self' {o}"))
        .unwrap_or_else(|| "'self'".into());
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src {connect}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'none'")),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::VARY,
            HeaderValue::from_static("Accept, Accept-Language, Cookie"),
        ),
    ]
}

/// `scheme://host[:port]` of an http(s) URL, if it is one (no characters a CSP would choke on).
fn url_origin(u: &str) -> Option<String> {
    let (scheme, rest) = u.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

fn shell(lang: Lang, title: (&str, &str), body: &str, switch_href: Option<&str>) -> String {
    let [css, js, ed25519] = assets();
    let cur = match lang {
        Lang::Zh => title.0,
        Lang::En => title.1,
    };
    format!(
        "<!doctype html><html lang=\"{hl}\" data-title-zh=\"{tz}\" data-title-en=\"{tn}\"><head>\
         <meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light\"><meta name=\"robots\" content=\"noindex\">\
         <title>{cur}</title><link rel=\"stylesheet\" href=\"/assets/{css}\">\
         <script src=\"/assets/{js}\" data-ed25519=\"/assets/{ed}\" defer></script></head><body>\
         <header><span class=\"brand\">{brand}</span>\
         {sw}</header>\
         {body}<footer><p>{foot}</p></footer></body></html>",
        hl = lang.html(),
        tz = esc(title.0),
        tn = esc(title.1),
        cur = esc(cur),
        css = css.name,
        js = js.name,
        ed = ed25519.name,
        brand = t("traceseal 正品验证", "traceseal verification"),
        sw = switch(lang, switch_href),
        foot = t(
            "本页面与证明材料均由 traceseal 提供；下方的检查在您的浏览器中独立完成。",
            "This page and its proofs are served by traceseal; the checks below run independently in your browser."
        ),
    )
}

/// The language switch: a link (works without script: the page again in the other language)
/// or, where there is no page to ask again for, a button the script handles.
fn switch(lang: Lang, href: Option<&str>) -> String {
    let label = "<span class=\"keep on-zh\" lang=\"en\">English</span>\
                 <span class=\"keep on-en\" lang=\"zh-CN\">中文</span>";
    match href {
        Some(h) => format!(
            "<a id=\"lang-switch\" class=\"lang\" href=\"{}\" hreflang=\"{}\">{label}</a>",
            esc(h),
            lang.other()
        ),
        None => {
            format!("<button id=\"lang-switch\" class=\"lang\" type=\"button\">{label}</button>")
        }
    }
}

fn switch_href(path_query: &str, lang: Lang) -> String {
    let sep = if path_query.contains('?') { '&' } else { '?' };
    format!("{path_query}{sep}lang={}", lang.other())
}

/// The page for a verdict.
pub fn verdict(v: &Verdict, ctx: &PageCtx<'_>) -> String {
    let (class, title, lead) = verdict_texts(v.verdict);
    let mut b = String::with_capacity(16 * 1024);
    b.push_str("<main>");
    // Banner.
    b.push_str(&format!(
        "<div class=\"v {class}\" role=\"status\" id=\"verdict\" data-verdict=\"{}\"><h1>{}</h1><p>{}</p>",
        serde_json::to_value(v.verdict)
            .ok()
            .and_then(|x| x.as_str().map(str::to_string))
            .unwrap_or_default(),
        t(title.0, title.1),
        t(lead.0, lead.1)
    ));
    if !v.reasons.is_empty() {
        b.push_str("<ul id=\"reasons\">");
        for r in &v.reasons {
            let text = match reason_zh(&r.code, v) {
                Some(zh) => t(&zh, &r.message),
                // No translation: the English text, marked as English in both views.
                None => format!(
                    "<span lang=\"zh-CN\"><span lang=\"en\" class=\"keep\">{m}</span></span><span lang=\"en\">{m}</span>",
                    m = esc(&r.message)
                ),
            };
            b.push_str(&format!(
                "<li data-reason=\"{}\">{}</li>",
                esc(&r.code),
                text
            ));
        }
        b.push_str("</ul>");
    }
    if let Some(s) = &v.scans {
        b.push_str(&format!(
            "<p id=\"scan-count\">{}</p>",
            t(
                &format!(
                    "{} 天内有 {} 个网络扫描过此码（自 {} 起）；首次扫描于 {}",
                    s.window_days,
                    s.networks,
                    when(&s.since),
                    when(&s.first_scan_at)
                ),
                &format!(
                    "Scanned from {} network(s) in the last {} days (since {}); first scanned {}",
                    s.networks,
                    s.window_days,
                    when(&s.since),
                    when(&s.first_scan_at)
                )
            )
        ));
    }
    b.push_str("</div>");
    product_section(v, &mut b);
    importer_section(v, &mut b);
    origin_section(v, &mut b);
    timeline_section(v, &mut b);
    anchor_section(v, &mut b);
    verify_section(v, ctx, &mut b);
    complaint_section(v, ctx, &mut b);
    b.push_str("</main>");
    shell(
        ctx.lang,
        (
            &format!("{} · traceseal", title.0),
            &format!("{} · traceseal", title.1),
        ),
        &b,
        Some(&switch_href(ctx.path_query, ctx.lang)),
    )
}

/// The page for a code that is not well-formed.
pub fn invalid(reason: &str, lang: Lang, path_query: &str) -> String {
    shell(
        lang,
        ("无效的码 · traceseal", "Invalid code · traceseal"),
        &format!(
            "<main><div class=\"v bad\" role=\"status\" id=\"verdict\" data-verdict=\"invalid\"><h1>{}</h1><p>{}</p><p class=\"mono\">{}</p></div></main>",
            t("无效的码", "Not a valid code"),
            t(
                "这不是一个完整有效的防伪码，可能被改动过。请勿购买或使用。",
                "This is not a complete, valid code; it may have been altered. Do not buy or use the item."
            ),
            esc(reason)
        ),
        Some(&switch_href(path_query, lang)),
    )
}

/// The answer page of the form post (browsers without script).
pub fn complaint_result(lang: Lang, r: Result<ComplaintReceipt, (StatusCode, String)>) -> Response {
    let (status, body) = match r {
        Ok(rc) => (
            StatusCode::CREATED,
            format!(
                "<div class=\"receipt\" role=\"status\">{} <strong id=\"complaint-reference\">{}</strong>\
                 <p>{} <strong id=\"complaint-secret\" class=\"mono\">{}</strong></p>\
                 <p><a href=\"/complaints/follow?lang={}\">{}</a></p></div>",
                t("已收到您的反馈，编号", "Your report was received. Reference"),
                esc(&rc.reference),
                t("查询密码（请保存，仅显示一次）：", "Secret to follow it (keep it; shown once):"),
                esc(&rc.secret),
                lang.code(),
                t("查询进度", "Follow its progress"),
            ),
        ),
        Err((s, detail)) => {
            let detail = if s.is_server_error() {
                "the service cannot take the report now; please try again later".to_string()
            } else {
                detail
            };
            (
                s,
                format!(
                    "<p class=\"alert\" role=\"alert\">{}</p>",
                    t(&format!("未能提交：{detail}"), &format!("Not sent: {detail}"))
                ),
            )
        }
    };
    let html = shell(
        lang,
        ("反馈问题 · traceseal", "Report a problem · traceseal"),
        &format!("<main>{body}</main>"),
        None,
    );
    let mut res = (status, html).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    for (k, v) in security_headers(None) {
        res.headers_mut().insert(k, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::credit::{CreditProfile, DisclosureCategory, Rating};
    use crate::service::telemetry::VerdictKind;
    use axum::http::HeaderMap;

    #[test]
    fn language_choice() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h, None), Lang::Zh);
        h.insert(
            header::ACCEPT_LANGUAGE,
            "en-GB,en;q=0.9,zh-CN;q=0.8".parse().unwrap(),
        );
        assert_eq!(Lang::from_headers(&h, None), Lang::En);
        h.insert(
            header::ACCEPT_LANGUAGE,
            "zh-CN,zh;q=0.9,en;q=0.8".parse().unwrap(),
        );
        assert_eq!(Lang::from_headers(&h, None), Lang::Zh);
        h.insert(header::ACCEPT_LANGUAGE, "fr-FR,en;q=0.5".parse().unwrap());
        assert_eq!(Lang::from_headers(&h, None), Lang::En);
        h.insert(header::ACCEPT_LANGUAGE, "de".parse().unwrap());
        assert_eq!(Lang::from_headers(&h, None), Lang::Zh);
        // Equal preference: the first listed; none at q=0.
        h.insert(
            header::ACCEPT_LANGUAGE,
            "en;q=0.5,zh;q=0.5".parse().unwrap(),
        );
        assert_eq!(Lang::from_headers(&h, None), Lang::En);
        h.insert(header::ACCEPT_LANGUAGE, "en;q=0,de".parse().unwrap());
        assert_eq!(Lang::from_headers(&h, None), Lang::Zh);
        h.insert(header::COOKIE, "a=b; ts_lang=en".parse().unwrap());
        assert_eq!(Lang::from_headers(&h, None), Lang::En);
        assert_eq!(Lang::from_headers(&h, Some("zh")), Lang::Zh);
        assert_eq!(Lang::parse("zh-Hans"), Some(Lang::Zh));
        assert_eq!(Lang::parse("xx"), None);
    }

    fn hostile_verdict(kind: VerdictKind) -> Verdict {
        use crate::service::master::Enterprise;
        use crate::service::telemetry::ScanSummary;
        use crate::service::verdict::{ItemView, ProductView, Reason};
        let evil = "<script>alert(1)</script>\"'&";
        let mut v = Verdict::cannot_verify_now("x");
        v.verdict = kind;
        v.scan_id = Some("00112233445566778899aabbccddeeff".into());
        v.reasons = vec![
            Reason {
                code: "scanned_widely".into(),
                message: format!("scanned {evil}"),
            },
            Reason {
                code: evil.into(),
                message: evil.into(),
            },
        ];
        v.item = Some(ItemView {
            gtin: "09506000134352".into(),
            lot: "L1".into(),
            serial: "S1".into(),
            expiry: Some("2028-01-01".into()),
        });
        v.scans = Some(ScanSummary {
            networks: 7,
            since: "2026-11-01T08:00:00Z".into(),
            window_days: 30,
            scans: 9,
            first_scan_at: "2026-10-01T08:00:00Z".into(),
        });
        v.product = Some(ProductView {
            gtin: "09506000134352".into(),
            name_zh: evil.into(),
            name_en: evil.into(),
            enterprise: Some(Enterprise {
                id: 1,
                name: evil.into(),
                uscc: evil.into(),
                country: "AU".into(),
                created_at: String::new(),
                updated_at: String::new(),
            }),
            grade: Some(crate::service::grading::GradeSummary {
                grade: crate::grading::Grade::C,
                score: 61.5,
                computed: crate::grading::Grade::C,
                overridden: true,
                model: evil.into(),
                warnings: vec![crate::grading::WarningRule::SafetyRecall],
            }),
            credit: Some(CreditProfile {
                enterprise_id: 1,
                enterprise_name: evil.into(),
                rating: Rating::D,
                rated_on: "2026-01-01".into(),
                return_days: Some(7),
                basis: Some(evil.into()),
                disclosures: vec![crate::service::credit::Disclosure {
                    category: DisclosureCategory::Punishment,
                    title: evil.into(),
                    detail: Some(evil.into()),
                    date: "2026-01-01".into(),
                    source: Some(evil.into()),
                }],
                dishonest: Some(crate::service::credit::DishonestListing {
                    reason: evil.into(),
                    listed_on: "2026-01-01".into(),
                    authority: evil.into(),
                }),
                complaints_upheld: 0,
                version: 1,
                updated_at: String::new(),
            }),
        });
        v
    }

    #[test]
    fn every_verdict_renders_escaped_in_both_languages() {
        for (kind, zh, en) in [
            (VerdictKind::Genuine, "正品", "Genuine"),
            (
                VerdictKind::GenuineWithWarning,
                "正品，但请注意",
                "Genuine, with a warning",
            ),
            (VerdictKind::NotGenuine, "非正品", "Not genuine"),
            (
                VerdictKind::CannotVerifyNow,
                "暂时无法验证",
                "Cannot verify now",
            ),
        ] {
            let v = hostile_verdict(kind);
            let code = "https://verify.example.com/01/09506000134352/10/L1/21/S1?k=00000000&s=<x>";
            let html = verdict(
                &v,
                &PageCtx {
                    code,
                    path_query: "/01/09506000134352/10/L1/21/S1?k=00000000&s=\"><x>",
                    lang: Lang::En,
                    rpc: Some("http://127.0.0.1:8545"),
                },
            );
            assert!(html.contains(&t(zh, en)), "{kind:?}");
            assert_eq!(html.matches("<script").count(), 1, "only our script tag");
            assert!(!html.contains("<x>"), "URL text escaped");
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
            assert!(html.contains("<html lang=\"en\""));
            // The warning with the number of networks and since when; the dishonesty alert.
            assert!(html.contains("Scanned from 7 network(s) in the last 30 days (since 2026-11-01 08:00:00 UTC); first scanned 2026-10-01 08:00:00 UTC"), "{html}");
            assert!(html
                .contains("此码自 2026-11-01 08:00:00 UTC 起（30 天内）已在 7 个不同网络中被扫描"));
            assert!(html.contains("id=\"dishonest\""));
            // The computed grade, its score, the operator's hand and the link to its factors.
            assert!(html.contains("<span class=\"rating rC\" id=\"risk-grade\">C</span> <span id=\"risk-score\">61.5</span>/100"), "{html}");
            assert!(html.contains("id=\"warning-list\""), "{html}");
            assert!(
                html.contains("因安全原因召回") || html.contains("a recall for safety"),
                "{html}"
            );
            assert!(html.contains("set by the operator"));
            assert!(html.contains("href=\"/api/v1/enterprises/1/grade\""));
            // No proof checks or complaint form when we cannot verify.
            assert_eq!(
                html.contains("id=\"verify\""),
                kind != VerdictKind::CannotVerifyNow
            );
        }
    }

    #[test]
    fn records_newer_than_the_checkpoint_are_marked_pending_not_proven() {
        use crate::service::verdict::{CustodyRecordView, CustodyView};
        let rec = |leaf: u64, step: &str, proof: bool| {
            let record: crate::service::custody::RecordView =
                serde_json::from_value(serde_json::json!({
                    "leaf_index": leaf, "record_hash": "00", "kind": "custody", "step": step,
                    "items": 0, "signer": "a", "organisation": "Org <b>", "role": "carrier",
                    "country": "AU", "kid": "00000000", "time": "2026-10-02T10:00:00+10:00",
                    "place": {"name": "Port", "country": "AU"}, "data": {}, "prev": "00",
                    "signature_checked": true, "key_revoked": false
                }))
                .unwrap();
            CustodyRecordView {
                record,
                inclusion_proof: proof.then(Vec::new),
                leaf_data: String::new(),
                certificates: vec![],
            }
        };
        let mut v = hostile_verdict(VerdictKind::Genuine);
        v.custody = Some(CustodyView {
            lot: "09506000134352.L1".into(),
            stage: "shipped".into(),
            attestation: None,
            holds: vec![],
            recalled: None,
            released: false,
            sold: false,
            records: vec![rec(5, "packing", true), rec(9, "shipping", false)],
        });
        let html = verdict(
            &v,
            &PageCtx {
                code: "https://h/x",
                path_query: "/x",
                lang: Lang::Zh,
                rpc: None,
            },
        );
        assert!(html.contains("<li data-leaf=\"5\" data-step=\"packing\">"));
        assert!(html.contains("<li data-pending=\"9\" data-step=\"shipping\">"));
        assert!(html.contains("not in a signed checkpoint yet"));
        assert!(html.contains("Org &lt;b&gt;"));
    }

    proptest::proptest! {
        #[test]
        fn language_headers_never_panic(al in "[ -~]{0,80}", cookie in "[ -~]{0,80}", q in "\\PC{0,12}") {
            let mut h = HeaderMap::new();
            if let Ok(v) = al.parse() { h.insert(header::ACCEPT_LANGUAGE, v); }
            if let Ok(v) = cookie.parse() { h.insert(header::COOKIE, v); }
            let _ = Lang::from_headers(&h, Some(&q));
            let _ = url_origin(&al);
        }
    }

    #[test]
    fn escaping_and_origins() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(
            url_origin("http://127.0.0.1:8545/x"),
            Some("http://127.0.0.1:8545".into())
        );
        assert_eq!(
            url_origin("https://rpc.example.com"),
            Some("https://rpc.example.com".into())
        );
        assert_eq!(url_origin("javascript:alert(1)"), None);
        assert_eq!(url_origin("https://a b;c"), None);
        let [css, js, ed] = assets();
        assert!(ed.name.starts_with("noble-ed25519-") && ed.name.ends_with(".js"));
        assert!(css.name.starts_with("scan-") && css.name.ends_with(".css"));
        assert!(js.name.ends_with(".js"));
    }
}

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

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::service::complaints::ComplaintReceipt;
use crate::service::credit::{CreditProfile, DisclosureCategory, Rating};
use crate::service::types::{CustodyRecordView, Verdict, VerdictKind};

/// The stylesheet.
pub const CSS: &str = include_str!("scan.css");
/// The script.
pub const JS: &str = include_str!("scan.js");

/// A static asset under its content-hashed name.
pub struct Asset {
    /// `scan-<10 hex of SHA-256>.css` or `.js`.
    pub name: String,
    /// Media type.
    pub content_type: &'static str,
    /// The bytes.
    pub body: &'static str,
}

fn hashed(stem: &str, ext: &str, body: &str) -> String {
    let d = Sha256::digest(body.as_bytes());
    let h: String = d[..5].iter().map(|b| format!("{b:02x}")).collect();
    format!("{stem}-{h}.{ext}")
}

/// The page's assets: `[stylesheet, script]`.
pub fn assets() -> &'static [Asset; 2] {
    static A: OnceLock<[Asset; 2]> = OnceLock::new();
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
        ]
    })
}

/// Page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese (the default).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh`, `zh-CN`, `zh-Hans`… → Zh; `en`, `en-GB`… → En.
    pub fn parse(s: &str) -> Option<Lang> {
        let p = s.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match p.as_str() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language of a request: `?lang=` (given as `query`), else the `ts_lang` cookie, else
    /// the first of zh/en by `Accept-Language` preference, else Chinese.
    pub fn from_headers(h: &HeaderMap, query: Option<&str>) -> Lang {
        if let Some(l) = query.and_then(Lang::parse) {
            return l;
        }
        let cookie = h
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix("ts_lang="))
            .find_map(Lang::parse);
        if let Some(l) = cookie {
            return l;
        }
        let al = h
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let (mut zh, mut en) = (-1.0f32, -1.0f32);
        for part in al.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("");
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            match Lang::parse(tag) {
                Some(Lang::Zh) => zh = zh.max(q),
                Some(Lang::En) => en = en.max(q),
                None => {}
            }
        }
        if en > zh && en > 0.0 {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    fn other(self) -> &'static str {
        match self {
            Lang::Zh => "en",
            Lang::En => "zh",
        }
    }
}

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Both languages (escaped), one shown by the stylesheet.
fn t(zh: &str, en: &str) -> String {
    format!(
        "<span lang=\"zh-CN\">{}</span><span lang=\"en\">{}</span>",
        esc(zh),
        esc(en)
    )
}

/// Security headers of every page: a strict CSP (own script and style only; the chain node
/// for the in-browser `eth_call`), no referrer (a code URI carries its signature), no framing.
pub fn security_headers(rpc: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
    let connect = rpc
        .and_then(url_origin)
        .map(|o| format!("'self' {o}"))
        .unwrap_or_else(|| "'self'".into());
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
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
    let [css, js] = assets();
    let cur = match lang {
        Lang::Zh => title.0,
        Lang::En => title.1,
    };
    format!(
        "<!doctype html><html lang=\"{hl}\" data-title-zh=\"{tz}\" data-title-en=\"{tn}\"><head>\
         <meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light\"><meta name=\"robots\" content=\"noindex\">\
         <title>{cur}</title><link rel=\"stylesheet\" href=\"/assets/{css}\">\
         <script src=\"/assets/{js}\" defer></script></head><body>\
         <header><span class=\"brand\">{brand}</span>\
         {sw}</header>\
         {body}<footer><p>{foot}</p></footer></body></html>",
        hl = lang.html(),
        tz = esc(title.0),
        tn = esc(title.1),
        cur = esc(cur),
        css = css.name,
        js = js.name,
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

/// What the page needs besides the verdict.
pub struct PageCtx<'a> {
    /// The code as scanned (the signed URI).
    pub code: &'a str,
    /// The request's path and query without `lang` (for the language link).
    pub path_query: &'a str,
    /// The page language.
    pub lang: Lang,
    /// JSON-RPC URL for the in-browser chain check, if any.
    pub rpc: Option<&'a str>,
}

fn switch_href(path_query: &str, lang: Lang) -> String {
    let sep = if path_query.contains('?') { '&' } else { '?' };
    format!("{path_query}{sep}lang={}", lang.other())
}

fn verdict_texts(
    k: VerdictKind,
) -> (
    &'static str,
    (&'static str, &'static str),
    (&'static str, &'static str),
) {
    match k {
        VerdictKind::Genuine => (
            "ok",
            ("正品", "Genuine"),
            (
                "此商品的码由本平台签发，记录完整。",
                "This item's code was issued by us and its records are intact.",
            ),
        ),
        VerdictKind::GenuineWithWarning => (
            "warn",
            ("正品，但请注意", "Genuine, with a warning"),
            (
                "此码是本平台签发的，但有需要您注意的情况：",
                "We issued this code, but please note:",
            ),
        ),
        VerdictKind::NotGenuine => (
            "bad",
            ("非正品", "Not genuine"),
            (
                "此码不是本平台签发的有效码。请勿购买或使用，并向我们反馈。",
                "This is not a valid code of ours. Do not buy or use the item, and please report it.",
            ),
        ),
        VerdictKind::CannotVerifyNow => (
            "na",
            ("暂时无法验证", "Cannot verify now"),
            (
                "我们这边暂时出了问题，这并不表示商品是假的。请稍后再扫一次。",
                "Something is wrong on our side; this does not mean the item is fake. Please scan again later.",
            ),
        ),
    }
}

/// The Chinese text of a reason (the English is the service's message).
fn reason_zh(code: &str, v: &Verdict) -> Option<String> {
    let scans = v.scans.as_ref();
    let since = scans.map(|s| s.since.replace('T', " ").replace('Z', " UTC"));
    Some(match code {
        "bad_signature" => "此码的签名无法验证：它被改动过或是伪造的。".into(),
        "unknown_key" => "此码声称的签发密钥不属于本平台。".into(),
        "unknown_serial" => "本平台从未签发过这个序列号。".into(),
        "code_mismatch" => "此码与为该序列号签发的码不一致。".into(),
        "batch_incomplete" => "该批次的签发过程中断，其码无效。".into(),
        "scanned_widely" => format!(
            "此码自 {} 起（{} 天内）已在 {} 个不同网络中被扫描；同一标签可能有多个副本在流通。",
            since.unwrap_or_default(),
            scans.map(|s| s.window_days).unwrap_or(0),
            scans.map(|s| s.networks).unwrap_or(0)
        ),
        "recalled" => format!(
            "该批次已被召回：{}",
            v.custody
                .as_ref()
                .and_then(|c| c.recalled.clone())
                .unwrap_or_default()
        ),
        "non_conformant" => "境外检验判定该批次不合格，不应上市销售。".into(),
        "on_hold" => "该批次目前处于扣留状态。".into(),
        "revoked_key" => "部分记录的签名密钥后来被吊销，这些记录可能不可信。".into(),
        "dishonest_enterprise" => {
            let d = v
                .product
                .as_ref()
                .and_then(|p| p.credit.as_ref())
                .and_then(|c| c.dishonest.as_ref())?;
            format!(
                "进口商自 {} 起被列入失信名单（{}：{}）。",
                d.listed_on, d.authority, d.reason
            )
        }
        "unavailable" => "验证服务暂时无法检查此码，请稍后再试。".into(),
        _ => return None,
    })
}

fn step_names(step: &str) -> (&'static str, &'static str) {
    match step {
        "origin_attestation" => ("原产地检验证明", "Origin inspection attested"),
        "packing" => ("装箱", "Packed"),
        "shipping" => ("交付承运", "Handed to the carrier"),
        "departing" => ("离港", "Departed"),
        "arriving" => ("抵港", "Arrived"),
        "customs_declaration" => ("海关申报", "Customs declaration"),
        "customs_clearance" => ("海关放行", "Customs clearance"),
        "receiving" => ("入保税仓", "Received into the bonded warehouse"),
        "storing" => ("仓储", "Stored"),
        "holding" => ("扣留", "Put on hold"),
        "hold_release" => ("解除扣留", "Hold released"),
        "release" => ("出保税仓", "Released from the bonded warehouse"),
        "retail_sale" => ("售出", "Sold"),
        "self_pickup" => ("自提", "Picked up"),
        "recall" => ("召回", "Recalled"),
        _ => ("其他", "Other"),
    }
}

fn role_names(role: &str) -> (&'static str, &'static str) {
    match role {
        "inspector" => ("检验机构", "inspection body"),
        "carrier" => ("承运人", "carrier"),
        "customs_broker" => ("报关行", "customs broker"),
        "bonded_warehouse" => ("保税仓", "bonded warehouse"),
        "retailer" => ("零售商", "retailer"),
        "operator" => ("平台运营方", "platform operator"),
        _ => ("参与方", "party"),
    }
}

fn anchor_names(s: &str) -> (&'static str, &'static str) {
    match s {
        "logged" => ("已记入日志，等待上链", "logged, waiting to be anchored"),
        "anchor_pending" => ("上链中", "anchoring pending"),
        "anchored" => ("已上链", "anchored"),
        "confirmed" => ("已上链并确认", "anchored and confirmed"),
        "finalized" => ("已上链并最终确定", "anchored and finalized"),
        _ => ("未知", "unknown"),
    }
}

fn rating_names(r: Rating) -> (&'static str, &'static str, &'static str) {
    match r {
        Rating::A => ("A", "优", "excellent"),
        Rating::B => ("B", "良", "good"),
        Rating::C => ("C", "中", "fair"),
        Rating::D => ("D", "差", "poor"),
    }
}

fn category_names(c: DisclosureCategory) -> (&'static str, &'static str) {
    match c {
        DisclosureCategory::Registration => ("注册信息", "Registration"),
        DisclosureCategory::Business => ("经营信息", "Business"),
        DisclosureCategory::Regulatory => ("监管信息", "Regulatory"),
        DisclosureCategory::Service => ("服务信息", "Service"),
        DisclosureCategory::Reward => ("奖励信息", "Rewards"),
        DisclosureCategory::Punishment => ("惩戒信息", "Punishments"),
        DisclosureCategory::Complaint => ("投诉信息", "Complaints"),
    }
}

fn dt(label: (&str, &str), value: &str) -> String {
    format!("<dt>{}</dt><dd>{}</dd>", t(label.0, label.1), value)
}

fn when(s: &str) -> String {
    esc(&s.replace('T', " ").replace('Z', " UTC"))
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

fn product_section(v: &Verdict, b: &mut String) {
    let Some(i) = &v.item else { return };
    b.push_str(&format!(
        "<section aria-labelledby=\"h-product\"><h2 id=\"h-product\">{}</h2><dl>",
        t("商品", "Product")
    ));
    if let Some(p) = &v.product {
        b.push_str(&dt(("名称", "Name"), &t(&p.name_zh, &p.name_en)));
    }
    b.push_str(&dt(
        ("GTIN", "GTIN"),
        &format!("<span class=\"mono\">{}</span>", esc(&i.gtin)),
    ));
    b.push_str(&dt(("批号", "Lot"), &esc(&i.lot)));
    if let Some(e) = &i.expiry {
        b.push_str(&dt(("有效期至", "Expiry"), &esc(e)));
    }
    b.push_str(&dt(
        ("序列号", "Serial"),
        &format!("<span class=\"mono\">{}</span>", esc(&i.serial)),
    ));
    if let Some(at) = &v.issued_at {
        b.push_str(&dt(("签发时间", "Issued"), &when(at)));
    }
    b.push_str("</dl></section>");
}

fn importer_section(v: &Verdict, b: &mut String) {
    let Some(p) = &v.product else { return };
    let Some(e) = &p.enterprise else { return };
    b.push_str(&format!(
        "<section aria-labelledby=\"h-importer\" id=\"importer\"><h2 id=\"h-importer\">{}</h2><dl>",
        t("进口商", "Importer")
    ));
    b.push_str(&dt(("企业", "Enterprise"), &esc(&e.name)));
    b.push_str(&dt(("国家/地区", "Country"), &esc(&e.country)));
    b.push_str(&dt(
        ("统一社会信用代码", "Credit code (USCC)"),
        &format!("<span class=\"mono\">{}</span>", esc(&e.uscc)),
    ));
    match &p.credit {
        Some(c) => credit_rows(c, b),
        None => b.push_str(&dt(
            ("信用等级", "Credit rating"),
            &t("尚未评级", "not rated yet"),
        )),
    }
    b.push_str("</dl>");
    if let Some(c) = &p.credit {
        if let Some(d) = &c.dishonest {
            b.push_str(&format!(
                "<p class=\"alert\" role=\"alert\" id=\"dishonest\">{}</p>",
                t(
                    &format!(
                        "⚠ 该进口商已被列入失信名单：{}（{}，{}）",
                        d.reason, d.authority, d.listed_on
                    ),
                    &format!(
                        "⚠ This importer is on the dishonesty list: {} ({}, {})",
                        d.reason, d.authority, d.listed_on
                    )
                )
            ));
        }
        if !c.disclosures.is_empty() {
            b.push_str(&format!(
                "<details><summary>{}</summary><ul>",
                t(
                    &format!("信用信息公示（{} 条）", c.disclosures.len()),
                    &format!("Credit disclosures ({})", c.disclosures.len())
                )
            ));
            for d in &c.disclosures {
                let (cz, ce) = category_names(d.category);
                b.push_str(&format!(
                    "<li><strong>{}</strong> {} · {}{}{}</li>",
                    t(cz, ce),
                    esc(&d.date),
                    esc(&d.title),
                    d.detail
                        .as_deref()
                        .map(|x| format!("<br>{}", esc(x)))
                        .unwrap_or_default(),
                    d.source
                        .as_deref()
                        .map(|x| format!(" <span class=\"note\">({})</span>", esc(x)))
                        .unwrap_or_default(),
                ));
            }
            b.push_str("</ul></details>");
        }
    }
    b.push_str("</section>");
}

fn credit_rows(c: &CreditProfile, b: &mut String) {
    let (g, zh, en) = rating_names(c.rating);
    b.push_str(&dt(
        ("信用等级", "Credit rating"),
        &format!(
            "<span class=\"rating r{g}\" id=\"rating\">{g}</span> {} <span class=\"note\">({})</span>",
            t(zh, en),
            esc(&c.rated_on)
        ),
    ));
    b.push_str(&dt(
        ("经核实的投诉", "Upheld complaints"),
        &format!("<span id=\"upheld\">{}</span>", c.complaints_upheld),
    ));
}

fn attestation(v: &Verdict) -> Option<&CustodyRecordView> {
    v.custody
        .as_ref()?
        .records
        .iter()
        .rev()
        .find(|r| r.record.step == "origin_attestation")
}

fn origin_section(v: &Verdict, b: &mut String) {
    let Some(a) = attestation(v) else { return };
    let r = &a.record;
    let d = &r.data;
    let s = |k: &str| d.get(k).and_then(|x| x.as_str()).unwrap_or("");
    b.push_str(&format!(
        "<section aria-labelledby=\"h-origin\" id=\"origin\"><h2 id=\"h-origin\">{}</h2><dl>",
        t("原产地与检验", "Origin and inspection")
    ));
    b.push_str(&dt(
        ("检验机构", "Inspector"),
        &format!("{} ({})", esc(&r.organisation), esc(&r.country)),
    ));
    b.push_str(&dt(
        ("原产国", "Country of origin"),
        &esc(s("origin_country")),
    ));
    b.push_str(&dt(("生产商", "Producer"), &esc(s("producer"))));
    b.push_str(&dt(
        ("证书编号", "Certificate"),
        &format!("<span class=\"mono\">{}</span>", esc(s("certificate_no"))),
    ));
    b.push_str(&dt(("检验日期", "Inspected"), &esc(s("inspection_date"))));
    let result = match s("result") {
        "conformant" => t("合格", "conformant"),
        "non_conformant" => t("不合格", "non-conformant"),
        other => esc(other),
    };
    b.push_str(&dt(("结论", "Result"), &result));
    b.push_str("</dl></section>");
}

fn timeline_section(v: &Verdict, b: &mut String) {
    let Some(c) = &v.custody else { return };
    b.push_str(&format!(
        "<section aria-labelledby=\"h-chain\" id=\"timeline\"><h2 id=\"h-chain\">{}</h2><ol class=\"tl\">",
        t("流转记录", "Custody timeline")
    ));
    if let (Some(at), Some(log)) = (&v.issued_at, &v.log) {
        b.push_str(&format!(
            "<li data-leaf=\"{}\" data-step=\"issued\"><div class=\"step\">{}</div><div class=\"meta\">{}</div><div class=\"sig\">{}</div><div class=\"here\"></div></li>",
            log.leaf_index,
            t("签发防伪码", "Code issued"),
            when(at),
            t("服务器已记录", "recorded by the service")
        ));
    }
    for cr in &c.records {
        let r = &cr.record;
        // A record newer than the latest signed checkpoint has no proof yet: the script
        // reports it as not checkable yet instead of looking for it in the bundle.
        let (attr, pending) = if cr.inclusion_proof.is_some() {
            ("data-leaf", String::new())
        } else {
            (
                "data-pending",
                format!(
                    "<div class=\"note\">{}</div>",
                    t(
                        "尚未进入签名检查点，稍后可验证",
                        "not in a signed checkpoint yet; checkable in a minute"
                    )
                ),
            )
        };
        let (sz, se) = step_names(&r.step);
        let (rz, re) = role_names(&r.role);
        let place = r
            .place
            .as_ref()
            .map(|p| {
                let name = p.get("name").and_then(|x| x.as_str()).unwrap_or("");
                let cc = p.get("country").and_then(|x| x.as_str()).unwrap_or("");
                format!(" · {} ({})", esc(name), esc(cc))
            })
            .unwrap_or_default();
        let sig = if r.key_revoked {
            format!(
                "<div class=\"sig fail\">{}</div>",
                t("⚠ 签名密钥已被吊销", "⚠ signing key since revoked")
            )
        } else if r.signature_checked {
            format!(
                "<div class=\"sig\">{}</div>",
                t("✓ 签名已由服务器验证", "✓ signature checked by the service")
            )
        } else {
            format!(
                "<div class=\"sig\">{}</div>",
                t("平台运营方记录", "operator record")
            )
        };
        b.push_str(&format!(
            "<li {attr}=\"{}\" data-step=\"{}\"><div class=\"step\">{}</div><div class=\"meta\">{} · {}{} · {}</div>{}{pending}<div class=\"here\"></div></li>",
            r.leaf_index,
            esc(&r.step),
            t(sz, se),
            esc(&r.organisation),
            t(rz, re),
            place,
            esc(&r.time),
            sig
        ));
    }
    b.push_str("</ol></section>");
}

fn anchor_section(v: &Verdict, b: &mut String) {
    if v.log.is_none() && v.anchor.is_none() {
        return;
    }
    b.push_str(&format!(
        "<section aria-labelledby=\"h-anchor\" id=\"anchor\"><h2 id=\"h-anchor\">{}</h2><dl>",
        t("区块链存证", "Anchored on chain")
    ));
    match &v.anchor {
        Some(a) => {
            let (z, e) = anchor_names(a.status.as_str());
            b.push_str(&dt(
                ("状态", "Status"),
                &format!(
                    "<span id=\"anchor-status\" data-status=\"{}\">{}</span>",
                    a.status.as_str(),
                    t(z, e)
                ),
            ));
            b.push_str(&dt(("链 ID", "Chain"), &a.chain_id.to_string()));
            b.push_str(&dt(
                ("合约", "Contract"),
                &format!("<span class=\"mono\">{}</span>", esc(&a.contract)),
            ));
            if let Some(tx) = &a.tx_hash {
                b.push_str(&dt(
                    ("交易", "Transaction"),
                    &format!("<span class=\"mono\">{}</span>", esc(tx)),
                ));
            }
            if let Some(n) = a.block_number {
                b.push_str(&dt(("区块", "Block"), &n.to_string()));
            }
            if let Some(n) = a.tree_size {
                b.push_str(&dt(("日志规模", "Log size"), &n.to_string()));
            }
        }
        None => b.push_str(&dt(
            ("状态", "Status"),
            &t(
                "已记入签名日志；本服务未配置上链",
                "in the signed log; this service does not anchor",
            ),
        )),
    }
    b.push_str("</dl></section>");
}

fn verify_section(v: &Verdict, ctx: &PageCtx<'_>, b: &mut String) {
    if v.verdict == VerdictKind::CannotVerifyNow {
        return;
    }
    // The script asks for the bundle with the code it holds (`?code=`): nothing else can.
    let bundle = match (&v.item, v.log.is_some()) {
        (Some(_), true) => "/api/v1/bundle".to_string(),
        _ => String::new(),
    };
    let selector: String = crate::chain::ANCHOR_AT_SELECTOR
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    b.push_str(&format!(
        "<section aria-labelledby=\"h-verify\" id=\"verify\" data-code=\"{}\" data-bundle=\"{}\" data-keys=\"/api/v1/keys\" data-rpc=\"{}\" data-selector=\"{}\" data-anchor-status=\"{}\" data-contract=\"{}\">\
         <h2 id=\"h-verify\">{}</h2><p class=\"note\">{}</p><ol class=\"checks\" id=\"checks\" aria-live=\"polite\"></ol>\
         <p id=\"verify-summary\" class=\"note\"></p><noscript><p>{}</p></noscript></section>",
        esc(ctx.code),
        esc(&bundle),
        esc(ctx.rpc.unwrap_or("")),
        selector,
        v.anchor.as_ref().map(|a| a.status.as_str()).unwrap_or(""),
        esc(v.anchor.as_ref().map(|a| a.contract.as_str()).unwrap_or("")),
        t("自己验证", "Verify it yourself"),
        t(
            "您的浏览器下载证明材料，用公开的密钥和算法（Ed25519、SHA-256 Merkle 证明）逐项检查，不需要信任我们的服务器。",
            "Your browser downloads the proofs and checks them with the public keys and standard algorithms (Ed25519, SHA-256 Merkle proofs) — no need to trust our server."
        ),
        t(
            "需要启用 JavaScript 才能在浏览器中验证；也可以用 traceseal verify-bundle 离线验证。",
            "Checking in the browser needs JavaScript; you can also check offline with traceseal verify-bundle."
        ),
    ));
}

fn complaint_section(v: &Verdict, ctx: &PageCtx<'_>, b: &mut String) {
    let Some(sid) = &v.scan_id else { return };
    let radio = |value: &str, zh: &str, en: &str, checked: bool| {
        format!(
            "<label><input type=\"radio\" name=\"category\" value=\"{value}\"{}> {}</label>",
            if checked { " checked" } else { "" },
            t(zh, en)
        )
    };
    let counterfeit_first = v.verdict != VerdictKind::Genuine;
    b.push_str(&format!(
        "<section aria-labelledby=\"h-report\" id=\"report\"><h2 id=\"h-report\">{}</h2>\
         <form id=\"complaint\" method=\"post\" action=\"/complaints\" data-api=\"/api/v1/complaints\">\
         <input type=\"hidden\" name=\"scan_id\" value=\"{}\"><input type=\"hidden\" name=\"lang\" value=\"{}\">\
         <fieldset><legend>{}</legend>{}{}{}</fieldset>\
         <label for=\"c-desc\">{}</label><textarea id=\"c-desc\" name=\"description\" required maxlength=\"2000\"></textarea>\
         <label for=\"c-contact\">{}</label><input type=\"text\" id=\"c-contact\" name=\"contact\" maxlength=\"200\" autocomplete=\"tel\">\
         <button type=\"submit\">{}</button><p class=\"note\">{}</p></form>\
         <div id=\"complaint-result\" tabindex=\"-1\" hidden></div></section>",
        t("反馈问题", "Report a problem"),
        esc(sid),
        match ctx.lang {
            Lang::Zh => "zh",
            Lang::En => "en",
        },
        t("问题类型", "What is wrong"),
        radio("counterfeit", "疑似假冒", "Suspected counterfeit", counterfeit_first),
        radio("quality", "质量问题", "Quality problem", !counterfeit_first),
        radio("service", "服务问题", "Service problem", false),
        t("问题描述", "Description"),
        t("联系方式（选填）", "Contact (optional)"),
        t("提交", "Send"),
        t(
            "反馈与本次扫描一起保存，您会得到一个编号。",
            "Your report is stored with this scan; you will get a reference number."
        ),
    ));
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
                "<div class=\"receipt\" role=\"status\">{} <strong id=\"complaint-reference\">{}</strong></div>",
                t("已收到您的反馈，编号", "Your report was received. Reference"),
                esc(&rc.reference)
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
        h.insert(header::COOKIE, "a=b; ts_lang=en".parse().unwrap());
        assert_eq!(Lang::from_headers(&h, None), Lang::En);
        assert_eq!(Lang::from_headers(&h, Some("zh")), Lang::Zh);
        assert_eq!(Lang::parse("zh-Hans"), Some(Lang::Zh));
        assert_eq!(Lang::parse("xx"), None);
    }

    fn hostile_verdict(kind: VerdictKind) -> Verdict {
        use crate::service::types::{Enterprise, ItemView, ProductView, Reason, ScanSummary};
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
            credit: Some(CreditProfile {
                enterprise_id: 1,
                enterprise_name: evil.into(),
                rating: Rating::D,
                rated_on: "2026-01-01".into(),
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
            // No proof checks or complaint form when we cannot verify.
            assert_eq!(
                html.contains("id=\"verify\""),
                kind != VerdictKind::CannotVerifyNow
            );
        }
    }

    #[test]
    fn records_newer_than_the_checkpoint_are_marked_pending_not_proven() {
        use crate::service::types::{CustodyRecordView, CustodyView};
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
        let [css, js] = assets();
        assert!(css.name.starts_with("scan-") && css.name.ends_with(".css"));
        assert!(js.name.ends_with(".js"));
    }
}

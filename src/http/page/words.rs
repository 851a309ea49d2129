//! The page's words: the language, escaping, the bilingual text of each verdict, reason,
//! custody step, role, anchoring state, rating and disclosure category.

use axum::http::{header, HeaderMap};

use crate::service::credit::{DisclosureCategory, Rating};
use crate::service::telemetry::VerdictKind;
use crate::service::verdict::Verdict;

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
    /// the most preferred of zh/en by `Accept-Language`, else Chinese.
    pub fn from_headers(h: &HeaderMap, query: Option<&str>) -> Lang {
        negotiate(h, query, Lang::parse).unwrap_or(Lang::Zh)
    }

    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// `zh` or `en`, as `?lang=` takes it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> &'static str {
        match self {
            Lang::Zh => "en",
            Lang::En => "zh",
        }
    }
}

/// The language a request asks for among those `parse` knows (the site's two, or the actor
/// page's three): `?lang=` (given as `query`), else the first `ts_lang` cookie naming one,
/// else the one with the highest `q` in `Accept-Language` (the first listed on a tie; none
/// at `q=0`); `None` when the request names none of them.
pub fn negotiate<L: Copy>(
    h: &HeaderMap,
    query: Option<&str>,
    parse: impl Fn(&str) -> Option<L>,
) -> Option<L> {
    if let Some(l) = query.and_then(&parse) {
        return Some(l);
    }
    let cookie = h
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix("ts_lang="))
        .find_map(&parse);
    if cookie.is_some() {
        return cookie;
    }
    let al = h.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut best: Option<(L, f32)> = None;
    for part in al.split(',') {
        let mut it = part.split(';');
        let Some(l) = it.next().and_then(&parse) else {
            continue;
        };
        let q = it
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((l, q));
        }
    }
    best.map(|(l, _)| l)
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
pub(super) fn t(zh: &str, en: &str) -> String {
    format!(
        "<span lang=\"zh-CN\">{}</span><span lang=\"en\">{}</span>",
        esc(zh),
        esc(en)
    )
}

pub(super) fn verdict_texts(
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
pub(super) fn reason_zh(code: &str, v: &Verdict) -> Option<String> {
    let scans = v.scans.as_ref();
    let since = scans.map(|s| s.since.replace('T', " ").replace('Z', " UTC"));
    Some(match code {
        "bad_signature" => "此码的签名无法验证：它被改动过或是伪造的。".into(),
        "unknown_key" => "此码声称的签发密钥不属于本平台。".into(),
        "unknown_serial" => "本平台从未签发过这个序列号。".into(),
        "code_mismatch" => "此码与为该序列号签发的码不一致。".into(),
        "batch_incomplete" => "该批次的签发过程中断，其码无效。".into(),
        "issuer_key_revoked" => {
            "签发此码的密钥已被吊销：吊销时间及之后签发的码，以及没有签发记录的码，均无效。".into()
        }
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

pub(super) fn step_names(step: &str) -> (&'static str, &'static str) {
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
        "sampling" => ("抽样检验", "Sampled and inspected"),
        "holding" => ("扣留", "Put on hold"),
        "hold_release" => ("解除扣留", "Hold released"),
        "release" => ("出保税仓", "Released from the bonded warehouse"),
        "retail_sale" => ("售出", "Sold"),
        "self_pickup" => ("自提", "Picked up"),
        "recall" => ("召回", "Recalled"),
        _ => ("其他", "Other"),
    }
}

pub(super) fn role_names(role: &str) -> (&'static str, &'static str) {
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

pub(super) fn anchor_names(s: &str) -> (&'static str, &'static str) {
    match s {
        "logged" => ("已记入日志，等待上链", "logged, waiting to be anchored"),
        "anchor_pending" => ("上链中", "anchoring pending"),
        "anchored" => ("已上链", "anchored"),
        "confirmed" => ("已上链并确认", "anchored and confirmed"),
        "finalized" => ("已上链并最终确定", "anchored and finalized"),
        _ => ("未知", "unknown"),
    }
}

pub(super) fn rating_names(r: Rating) -> (&'static str, &'static str, &'static str) {
    match r {
        Rating::A => ("A", "优", "excellent"),
        Rating::B => ("B", "良", "good"),
        Rating::C => ("C", "中", "fair"),
        Rating::D => ("D", "差", "poor"),
    }
}

pub(super) fn category_names(c: DisclosureCategory) -> (&'static str, &'static str) {
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

pub(super) fn dt(label: (&str, &str), value: &str) -> String {
    format!("<dt>{}</dt><dd>{}</dd>", t(label.0, label.1), value)
}

pub(super) fn when(s: &str) -> String {
    esc(&s.replace('T', " ").replace('Z', " UTC"))
}

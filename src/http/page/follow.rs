//! The complaint follow-up page (`/complaints/follow`): a form for the reference and the
//! secret from the receipt (posted, so the secret is never in a URL, a log or a Referer),
//! and the answer: status, the operator's answers, any referral to a partner body. Chinese
//! and English, like the scan page; works without script.

use super::{esc, security_headers, shell, t, Lang};
use crate::service::complaints::{
    ComplaintCategory, ComplaintProgress, ComplaintStatus, Referral, ReferralResult,
};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const TITLE: (&str, &str) = ("投诉进度查询 · traceseal", "Follow a complaint · traceseal");

/// The form, with `reference` filled in, and a refusal above it when there is one.
pub fn follow_form(
    lang: Lang,
    status: StatusCode,
    reference: &str,
    refusal: Option<&str>,
) -> Response {
    let alert = refusal.map_or(String::new(), |r| {
        format!(
            "<p class=\"alert\" role=\"alert\" id=\"follow-refused\">{}</p>",
            t(&format!("未能查询：{r}"), &format!("Not found: {r}"))
        )
    });
    let body = format!(
        "<main><h1>{h}</h1>{alert}<form id=\"follow\" method=\"post\" action=\"/complaints/follow\">\
         <input type=\"hidden\" name=\"lang\" value=\"{l}\">\
         <label for=\"reference\">{rl}</label><input id=\"reference\" name=\"reference\" value=\"{rv}\" required maxlength=\"40\" autocomplete=\"off\">\
         <label for=\"secret\">{sl}</label><input id=\"secret\" name=\"secret\" required maxlength=\"64\" autocomplete=\"off\" spellcheck=\"false\">\
         <button type=\"submit\">{go}</button></form><p class=\"note\">{note}</p></main>",
        h = t("查询投诉进度", "Follow a complaint"),
        l = lang.code(),
        rl = t("投诉编号（如 TS20261126-000042）", "Reference (like TS20261126-000042)"),
        rv = esc(reference),
        sl = t("查询密码（提交时显示，如 7QKM-2XWP-…）", "Secret (shown when you reported, like 7QKM-2XWP-…)"),
        go = t("查询", "Show"),
        note = t(
            "只有持有编号和密码的人才能看到投诉进度；我们只保存密码的摘要，无法找回。",
            "Only whoever holds the reference and the secret sees the progress; we keep only a digest of the secret and cannot recover it."
        ),
    );
    page(lang, status, &body)
}

/// The progress of a complaint.
pub fn follow_result(lang: Lang, p: &ComplaintProgress) -> Response {
    let mut b = format!(
        "<main><h1>{}</h1><dl id=\"complaint\"><dt>{}</dt><dd id=\"complaint-ref\" class=\"mono\">{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd id=\"complaint-status\" data-status=\"{}\">{}</dd>\
         <dt>{}</dt><dd>{}</dd></dl>",
        t("投诉进度", "Complaint progress"),
        t("编号", "Reference"),
        esc(&p.reference),
        t("类别", "Category"),
        category(p.category),
        t("状态", "Status"),
        status_name(p.status),
        status(p.status),
        t("提交时间", "Received"),
        esc(&p.created_at),
    );
    b.push_str(&format!(
        "<h2>{}</h2><ol id=\"answers\">",
        t("处理记录", "What was done")
    ));
    for h in &p.history {
        b.push_str(&format!(
            "<li><span class=\"note\">{}</span> {} — <span lang=\"und\">{}</span></li>",
            esc(&h.at),
            status(h.status),
            esc(&h.note)
        ));
    }
    b.push_str("</ol>");
    if let Some(r) = &p.referral {
        referral(r, &mut b);
    }
    b.push_str(&format!(
        "<p><a href=\"/complaints/follow?lang={}\">{}</a></p></main>",
        lang.code(),
        t("查询其他投诉", "Follow another complaint")
    ));
    page(lang, StatusCode::OK, &b)
}

fn referral(r: &Referral, b: &mut String) {
    b.push_str(&format!(
        "<section id=\"referral\"><h2>{}</h2><p>{}</p><p><span class=\"note\">{}</span> <span lang=\"und\">{}</span></p>",
        t("转交合作机构处理", "Referred to a partner body"),
        t(&r.partner.name_zh, &r.partner.name_en),
        esc(&r.at),
        esc(&r.note),
    ));
    match &r.outcome {
        Some(o) => b.push_str(&format!(
            "<p id=\"referral-outcome\" data-result=\"{}\">{} <span class=\"note\">{}</span> <span lang=\"und\">{}</span></p>",
            result_name(o.result),
            outcome(o.result),
            esc(&o.at),
            esc(&o.note)
        )),
        None => b.push_str(&format!(
            "<p id=\"referral-outcome\" data-result=\"pending\">{}</p>",
            t("合作机构处理中。", "The partner is handling it.")
        )),
    }
    b.push_str("</section>");
}

fn category(c: ComplaintCategory) -> String {
    match c {
        ComplaintCategory::Counterfeit => t("疑似假冒", "Suspected counterfeit"),
        ComplaintCategory::Quality => t("质量问题", "Quality"),
        ComplaintCategory::Service => t("服务问题", "Service"),
    }
}

fn status_name(s: ComplaintStatus) -> &'static str {
    match s {
        ComplaintStatus::Open => "open",
        ComplaintStatus::Investigating => "investigating",
        ComplaintStatus::Resolved => "resolved",
        ComplaintStatus::Rejected => "rejected",
    }
}

fn status(s: ComplaintStatus) -> String {
    match s {
        ComplaintStatus::Open => t("已收到", "Received"),
        ComplaintStatus::Investigating => t("调查中", "Being investigated"),
        ComplaintStatus::Resolved => t("已核实并处理", "Upheld and handled"),
        ComplaintStatus::Rejected => t("未予支持", "Not upheld"),
    }
}

fn result_name(r: ReferralResult) -> &'static str {
    match r {
        ReferralResult::Upheld => "upheld",
        ReferralResult::NotUpheld => "not_upheld",
        ReferralResult::Settled => "settled",
        ReferralResult::Closed => "closed",
    }
}

fn outcome(r: ReferralResult) -> String {
    match r {
        ReferralResult::Upheld => t("合作机构：投诉成立。", "The partner upheld it."),
        ReferralResult::NotUpheld => t("合作机构：投诉不成立。", "The partner did not uphold it."),
        ReferralResult::Settled => t("经合作机构调解已和解。", "Settled through the partner."),
        ReferralResult::Closed => t("合作机构已结案。", "The partner closed it."),
    }
}

fn page(lang: Lang, status: StatusCode, body: &str) -> Response {
    let html = shell(lang, TITLE, body, None);
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // A page with a complaint's answers is nobody else's: never cached.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (k, v) in security_headers(None) {
        h.insert(k, v);
    }
    res
}

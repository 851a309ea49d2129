//! The merchant integrity page (`/m/{uscc}`, 诚信二维码): what a consumer sees when they scan
//! the QR at a shop's entrance — the enterprise, its credit-risk grade with stars, its
//! no-reason-return promise, disclosures by category, upheld complaints, any listing and the
//! history of its grade, in Chinese and English; and the browser's own check of the grade
//! against the log (the credit report's signatures and proofs, the anchor on chain), run by
//! the scan page's script.

use super::sections::{dishonest_alert, rule_names};
use super::words::{category_names, rating_names};
use super::{esc, shell, switch_href, t, Lang};
use crate::records::GradeCause;
use crate::service::complaints::credit::DisclosureCategory;
use crate::service::complaints::ComplaintCategory;
use crate::service::grading::GradeView;
use crate::service::merchant::MerchantView;

/// The page of `m`; `rpc` is the JSON-RPC URL for the in-browser chain check, if any.
pub fn merchant_page(m: &MerchantView, lang: Lang, path_query: &str, rpc: Option<&str>) -> String {
    let e = &m.enterprise;
    let g = &m.grade;
    let mut b = format!(
        "<main id=\"merchant\"><h1 id=\"m-name\">{}</h1><p class=\"note\"><span class=\"mono\" id=\"m-uscc\">{}</span> · {}</p>",
        esc(&e.name),
        esc(&e.uscc),
        esc(&e.country),
    );
    grade_section(g, &mut b);
    alerts(m, &mut b);
    promise_section(m, &mut b);
    disclosures_section(m, &mut b);
    complaints_section(m, &mut b);
    history_section(g, &mut b);
    verify_section(m, rpc, &mut b);
    b.push_str(&format!(
        "<p><a id=\"m-poster\" href=\"/m/{}/poster.pdf\">{}</a></p></main>",
        esc(&e.uscc),
        t(
            "下载店铺诚信海报（A4 PDF）",
            "Download the shop's integrity poster (A4 PDF)"
        )
    ));
    let title = (
        format!("{} · 诚信档案 · traceseal", e.name),
        format!("{} · integrity record · traceseal", e.name),
    );
    shell(
        lang,
        (&title.0, &title.1),
        &b,
        Some(&switch_href(path_query, lang)),
    )
}

fn grade_section(g: &GradeView, b: &mut String) {
    let l = g.grade.as_str();
    let (n, s) = g.grade.stars();
    let set = if g.r#override.is_some() {
        format!(
            " <span class=\"note\">{}</span>",
            t("（监管人员调整）", "(set by the operator)")
        )
    } else {
        String::new()
    };
    b.push_str(&format!(
        "<section aria-labelledby=\"h-grade\"><h2 id=\"h-grade\">{}</h2>\
         <p><span class=\"rating r{l}\" id=\"m-grade\">{l}</span> <span id=\"m-stars\" role=\"img\" aria-label=\"{n}/4\">{s}</span> \
         <span id=\"m-score\">{:.1}</span>/100{set}</p><p class=\"note\">{} <a href=\"/api/v1/enterprises/{}/grade\">{}</a></p></section>",
        t("信用风险等级", "Credit-risk grade"),
        g.score,
        t(
            &format!("依据平台记录自动评定（模型 {}，{}）。", g.model, &g.assessed_at[..10.min(g.assessed_at.len())]),
            &format!("Computed from the platform's records (model {}, {}).", g.model, &g.assessed_at[..10.min(g.assessed_at.len())])
        ),
        g.enterprise_id,
        t("评分依据", "factors")
    ));
}

fn alerts(m: &MerchantView, b: &mut String) {
    if !m.grade.warnings.is_empty() {
        let (zh, en): (Vec<&str>, Vec<&str>) =
            m.grade.warnings.iter().map(|l| rule_names(l.rule)).unzip();
        b.push_str(&format!(
            "<p class=\"alert\" role=\"alert\" id=\"warning-list\">{}</p>",
            t(
                &format!("⚠ 已被自动列入失信预警名单：{}", zh.join("；")),
                &format!("⚠ On the warning list: {}", en.join("; "))
            )
        ));
    }
    if let Some(d) = m.credit.as_ref().and_then(|c| c.dishonest.as_ref()) {
        dishonest_alert(d, ("该企业", "This enterprise"), b);
    }
}

fn promise_section(m: &MerchantView, b: &mut String) {
    let text = match m.credit.as_ref().and_then(|c| c.return_days) {
        Some(d) => t(
            &format!("承诺 {d} 天无理由退货"),
            &format!("Promises no-reason returns within {d} days"),
        ),
        None => t("未作无理由退货承诺", "No no-reason-return promise made"),
    };
    b.push_str(&format!(
        "<section aria-labelledby=\"h-promise\"><h2 id=\"h-promise\">{}</h2><p id=\"m-promise\">{text}</p></section>",
        t("退货承诺", "Returns")
    ));
}

fn disclosures_section(m: &MerchantView, b: &mut String) {
    b.push_str(&format!(
        "<section aria-labelledby=\"h-disc\" id=\"m-disclosures\"><h2 id=\"h-disc\">{}</h2>",
        t("信用信息公示", "Disclosures")
    ));
    let Some(c) = &m.credit else {
        b.push_str(&format!(
            "<p>{}</p>",
            t("尚无信用档案。", "No credit profile yet.")
        ));
        b.push_str("</section>");
        return;
    };
    let (g, zh, en) = rating_names(c.rating);
    b.push_str(&format!(
        "<p>{} <span class=\"rating r{g}\">{g}</span> {} <span class=\"note\">({})</span></p>",
        t("主管部门评级", "Authorities' rating"),
        t(zh, en),
        esc(&c.rated_on)
    ));
    use DisclosureCategory as D;
    for cat in [
        D::Registration,
        D::Business,
        D::Regulatory,
        D::Service,
        D::Reward,
        D::Punishment,
        D::Complaint,
    ] {
        let items: Vec<_> = c.disclosures.iter().filter(|d| d.category == cat).collect();
        if items.is_empty() {
            continue;
        }
        let (zh, en) = category_names(cat);
        b.push_str(&format!("<h3>{}</h3><ul>", t(zh, en)));
        for d in items {
            b.push_str(&format!(
                "<li><span class=\"note\">{}</span> <span lang=\"und\">{}</span></li>",
                esc(&d.date),
                esc(&d.title)
            ));
        }
        b.push_str("</ul>");
    }
    b.push_str("</section>");
}

fn complaints_section(m: &MerchantView, b: &mut String) {
    let name = |c: ComplaintCategory| match c {
        ComplaintCategory::Counterfeit => t("假冒", "Counterfeit"),
        ComplaintCategory::Quality => t("质量", "Quality"),
        ComplaintCategory::Service => t("服务", "Service"),
    };
    b.push_str(&format!(
        "<section aria-labelledby=\"h-upheld\"><h2 id=\"h-upheld\">{}</h2><ul id=\"m-upheld\">",
        t("经核实的投诉（一年内）", "Upheld complaints (past year)")
    ));
    for (c, n) in &m.upheld {
        b.push_str(&format!(
            "<li data-category=\"{}\">{} <strong>{n}</strong></li>",
            ComplaintCategoryName(*c),
            name(*c)
        ));
    }
    b.push_str("</ul></section>");
}

/// A complaint category's wire name.
struct ComplaintCategoryName(ComplaintCategory);

impl std::fmt::Display for ComplaintCategoryName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            ComplaintCategory::Counterfeit => "counterfeit",
            ComplaintCategory::Quality => "quality",
            ComplaintCategory::Service => "service",
        })
    }
}

fn history_section(g: &GradeView, b: &mut String) {
    b.push_str(&format!(
        "<section aria-labelledby=\"h-hist\"><h2 id=\"h-hist\">{}</h2><ol id=\"timeline\">",
        t("等级变更记录（日志存证）", "Grade history (in the log)")
    ));
    let mut items: Vec<(u64, String)> = g
        .history
        .iter()
        .map(|c| {
            let cause = match c.cause {
                GradeCause::Computed => t("模型评定", "computed"),
                GradeCause::Override => t("监管人员调整", "set by the operator"),
                GradeCause::OverrideLifted => t("取消人工调整", "override lifted"),
            };
            let reason = c.reason.as_deref().map_or(String::new(), |r| {
                format!(" — <span lang=\"und\">{}</span>", esc(r))
            });
            let text = format!(
                "{} → <strong>{}</strong> ({cause}){reason}",
                c.previous.map_or("–", |p| p.as_str()),
                c.grade.as_str()
            );
            (c.leaf_index, entry(c.leaf_index, &c.at, &text))
        })
        .collect();
    items.extend(g.warning_history.iter().map(|w| {
        let (zh, en): (Vec<&str>, Vec<&str>) =
            w.listings.iter().map(|l| rule_names(l.rule)).unzip();
        let text = if w.listed {
            t(
                &format!("列入失信预警名单：{}", zh.join("；")),
                &format!("On the warning list: {}", en.join("; ")),
            )
        } else {
            t("移出失信预警名单", "Off the warning list")
        };
        (w.leaf_index, entry(w.leaf_index, &w.at, &text))
    }));
    items.sort_by_key(|(i, _)| *i);
    for (_, li) in items {
        b.push_str(&li);
    }
    b.push_str("</ol></section>");
}

fn entry(leaf: u64, at: &str, text: &str) -> String {
    format!(
        "<li data-leaf=\"{leaf}\"><div class=\"step\">{text}</div><div class=\"meta\">{} · leaf {leaf}</div><div class=\"here\"></div></li>",
        esc(at)
    )
}

fn verify_section(m: &MerchantView, rpc: Option<&str>, b: &mut String) {
    let e = &m.enterprise;
    let selector: String = crate::chain::ANCHOR_AT_SELECTOR
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    let seq = m.grade.history.last().map_or(0, |c| c.seq);
    b.push_str(&format!(
        "<section aria-labelledby=\"h-verify\" id=\"verify\" data-report=\"/api/v1/enterprises/{}/credit-report\" data-id=\"{}\" data-uscc=\"{}\" data-name=\"{}\" data-grade=\"{}\" data-seq=\"{seq}\" data-listed=\"{}\" data-keys=\"/api/v1/keys\" data-rpc=\"{}\" data-selector=\"{selector}\" data-anchor-status=\"\" data-contract=\"\">\
         <h2 id=\"h-verify\">{}</h2><p class=\"note\">{}</p><ol class=\"checks\" id=\"checks\" aria-live=\"polite\"></ol>\
         <p id=\"verify-summary\" class=\"note\"></p><noscript><p>{}</p></noscript></section>",
        e.id,
        e.id,
        esc(&e.uscc),
        esc(&e.name),
        m.grade.grade.as_str(),
        !m.grade.warnings.is_empty(),
        esc(rpc.unwrap_or("")),
        t("自己验证", "Verify it yourself"),
        t(
            "您的浏览器下载该企业的信用报告，逐项检查平台的签名、每次等级变更在日志中的证明和链上存证，不需要信任我们的服务器。",
            "Your browser downloads the enterprise's credit report and checks the platform's signatures, each grade change's proof in the log and the anchor on chain — no need to trust our server."
        ),
        t(
            "需要启用 JavaScript 才能在浏览器中验证；也可以下载信用报告用 traceseal verify-report 离线验证。",
            "Checking in the browser needs JavaScript; you can also download the credit report and check it offline with traceseal verify-report."
        ),
    ));
}

/// The page when there is no integrity record to show: a malformed USCC (400), no such
/// enterprise or not graded yet (404), or our fault (503, "try again": never "no record").
pub fn merchant_error(lang: Lang, status: u16, detail: &str, path_query: &str) -> String {
    let (zh, en) = match status {
        400 => (
            "这不是有效的统一社会信用代码",
            "Not a valid unified social credit code",
        ),
        404 => (
            "平台上没有该企业的诚信档案",
            "No integrity record of this enterprise on the platform",
        ),
        _ => (
            "暂时无法显示，请稍后再试",
            "Cannot be shown now; please try again later",
        ),
    };
    shell(
        lang,
        ("诚信档案 · traceseal", "Integrity record · traceseal"),
        &format!(
            "<main><div class=\"v warn\" role=\"status\" id=\"m-missing\" data-status=\"{status}\"><h1>{}</h1><p class=\"mono\">{}</p></div></main>",
            t(zh, en),
            esc(detail)
        ),
        Some(&switch_href(path_query, lang)),
    )
}

/// The credit-report check page (`/credit-reports/verify`): a bank or insurer opens a report
/// file it was handed; the browser checks it against the published keys and the chain and
/// only then shows what it proves. The file never leaves the browser.
pub fn report_check_page(lang: Lang, rpc: Option<&str>) -> String {
    let selector: String = crate::chain::ANCHOR_AT_SELECTOR
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    let body = format!(
        "<main><h1>{}</h1><p>{}</p>\
         <section aria-labelledby=\"h-verify\" id=\"verify\" data-keys=\"/api/v1/keys\" data-rpc=\"{}\" data-selector=\"{selector}\" data-anchor-status=\"\" data-contract=\"\">\
         <h2 id=\"h-verify\">{}</h2><label for=\"report-file\">{}</label><input type=\"file\" id=\"report-file\" accept=\"application/json,.json\">\
         <ol class=\"checks\" id=\"checks\" aria-live=\"polite\"></ol><p id=\"verify-summary\" class=\"note\"></p>\
         <div id=\"report-result\" hidden></div><noscript><p>{}</p></noscript></section></main>",
        t("核验企业信用报告", "Check an enterprise's credit report"),
        t(
            "企业交给您的信用报告（traceseal-credit-report-….json）在您的浏览器中核验：平台的签名、每次等级变更在日志中的证明、链上存证。文件不会上传。",
            "The credit report an enterprise handed you (traceseal-credit-report-….json) is checked in your browser: the platform's signatures, each grade change's proof in the log, the anchor on chain. The file is not uploaded."
        ),
        esc(rpc.unwrap_or("")),
        t("选择报告文件", "Choose the report file"),
        t("报告文件", "Report file"),
        t(
            "需要启用 JavaScript；也可以用 traceseal verify-report 离线核验。",
            "This needs JavaScript; you can also check it offline with traceseal verify-report."
        ),
    );
    shell(
        lang,
        (
            "核验信用报告 · traceseal",
            "Check a credit report · traceseal",
        ),
        &body,
        Some(&switch_href("/credit-reports/verify", lang)),
    )
}

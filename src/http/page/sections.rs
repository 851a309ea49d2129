//! The sections of a verdict page: product, importer and its credit, origin attestation,
//! custody timeline, anchor, "verify it yourself", and the problem report form.

use super::words::{
    anchor_names, category_names, dt, esc, rating_names, role_names, step_names, t, when, Lang,
};
use crate::grading::WarningRule;
use crate::service::credit::CreditProfile;
use crate::service::grading::GradeSummary;
use crate::service::telemetry::VerdictKind;
use crate::service::verdict::{CustodyRecordView, Verdict};

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

pub(super) fn product_section(v: &Verdict, b: &mut String) {
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

pub(super) fn importer_section(v: &Verdict, b: &mut String) {
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
    if let Some(g) = &p.grade {
        grade_row(g, e.id, b);
    }
    b.push_str("</dl>");
    if let Some(g) = p.grade.as_ref().filter(|g| !g.warnings.is_empty()) {
        warning_alert(g, e.id, b);
    }
    if let Some(c) = &p.credit {
        if let Some(d) = &c.dishonest {
            dishonest_alert(d, ("该进口商", "This importer"), b);
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

/// The computed credit-risk grade, with a link to its factors and history.
/// The dishonesty-list alert: `who` (Chinese, English) is on it, with the listing.
pub(super) fn dishonest_alert(
    d: &crate::service::credit::DishonestListing,
    who: (&str, &str),
    b: &mut String,
) {
    b.push_str(&format!(
        "<p class=\"alert\" role=\"alert\" id=\"dishonest\">{}</p>",
        t(
            &format!(
                "⚠ {}已被列入失信名单：{}（{}，{}）",
                who.0, d.reason, d.authority, d.listed_on
            ),
            &format!(
                "⚠ {} is on the dishonesty list: {} ({}, {})",
                who.1, d.reason, d.authority, d.listed_on
            )
        )
    ));
}

/// The warning-list alert: the importer is on it, by which rules.
fn warning_alert(g: &GradeSummary, enterprise: u64, b: &mut String) {
    let (zh, en): (Vec<&str>, Vec<&str>) = g.warnings.iter().map(|r| rule_names(*r)).unzip();
    b.push_str(&format!(
        "<p class=\"alert\" role=\"alert\" id=\"warning-list\">{} <a href=\"/api/v1/enterprises/{enterprise}/grade\">{}</a></p>",
        t(
            &format!("⚠ 该进口商已被自动列入失信预警名单：{}", zh.join("；")),
            &format!("⚠ This importer is on the warning list: {}", en.join("; "))
        ),
        t("记录", "history")
    ));
}

/// A warning-list rule's name (Chinese, English).
pub(super) fn rule_names(r: WarningRule) -> (&'static str, &'static str) {
    match r {
        WarningRule::GradeD => ("信用风险等级为 D", "credit-risk grade D"),
        WarningRule::SafetyRecall => ("因安全原因召回", "a recall for safety"),
        WarningRule::CounterfeitComplaint => {
            ("经核实的假冒投诉", "an upheld counterfeit complaint")
        }
    }
}

fn grade_row(g: &GradeSummary, enterprise: u64, b: &mut String) {
    let l = g.grade.as_str();
    let set = if g.overridden {
        format!(
            " <span class=\"note\">{}</span>",
            t("（监管人员调整）", "(set by the operator)")
        )
    } else {
        String::new()
    };
    b.push_str(&dt(
        ("信用风险等级", "Credit-risk grade"),
        &format!(
            "<span class=\"rating r{l}\" id=\"risk-grade\">{l}</span> <span id=\"risk-score\">{:.1}</span>/100{set} <a href=\"/api/v1/enterprises/{enterprise}/grade\">{}</a>",
            g.score,
            t("评分依据", "factors and history")
        ),
    ));
}

pub(super) fn credit_rows(c: &CreditProfile, b: &mut String) {
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

pub(super) fn attestation(v: &Verdict) -> Option<&CustodyRecordView> {
    v.custody
        .as_ref()?
        .records
        .iter()
        .rev()
        .find(|r| r.record.step == "origin_attestation")
}

pub(super) fn origin_section(v: &Verdict, b: &mut String) {
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
    documents_row(a, b);
    b.push_str("</dl></section>");
}

/// The attestation's documents, each with its hash; a published one with a "view
/// certificate" button (the script fetches it and checks its SHA-256 against the record's).
fn documents_row(a: &CustodyRecordView, b: &mut String) {
    let Some(docs) = a.record.data.get("documents").and_then(|d| d.as_array()) else {
        return;
    };
    let mut list = String::from("<ul class=\"docs\">");
    for d in docs {
        let name = d.get("name").and_then(|x| x.as_str()).unwrap_or("");
        let sha = d.get("sha256").and_then(|x| x.as_str()).unwrap_or("");
        list.push_str(&format!(
            "<li><span class=\"docname\">{}</span> <span class=\"mono\" title=\"SHA-256 {sha}\">{}…</span>",
            esc(name),
            esc(&sha[..sha.len().min(12)]),
            sha = esc(sha)
        ));
        if a.certificates.iter().any(|c| c == sha) {
            list.push_str(&format!(
                " <button type=\"button\" class=\"cert\" data-sha256=\"{}\" data-name=\"{}\">{}</button><div class=\"cert-view\" aria-live=\"polite\"></div>",
                esc(sha),
                esc(name),
                t("查看证书", "View certificate")
            ));
        }
        list.push_str("</li>");
    }
    list.push_str("</ul>");
    b.push_str(&dt(("证明文件", "Documents"), &list));
}

pub(super) fn timeline_section(v: &Verdict, b: &mut String) {
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

pub(super) fn anchor_section(v: &Verdict, b: &mut String) {
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

pub(super) fn verify_section(v: &Verdict, ctx: &PageCtx<'_>, b: &mut String) {
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

pub(super) fn complaint_section(v: &Verdict, ctx: &PageCtx<'_>, b: &mut String) {
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

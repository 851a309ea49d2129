//! The credit-risk grade section of an enterprise's page: the grade in force, the model's
//! score and grade, each factor's part, any override, and the changes with their log leaves
//! (what `GET /api/v1/enterprises/{id}/grade` says, for the console's readers).

use std::sync::Arc;

use axum::http::StatusCode;

use crate::grading::Factor;
use crate::http::console::kit::tr;
use crate::http::console::pages::ROWS;
use crate::http::console::staff::table;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::records::GradeCause;
use crate::service::grading::{GradeChange, GradeView};
use crate::service::ErrorKind;

/// The grade section of enterprise `id`'s page ("not graded yet" before its first grade).
pub(super) async fn section(
    st: &Arc<AppState>,
    lang: Lang,
    id: u64,
) -> Result<String, (StatusCode, String)> {
    let svc = st.svc.clone();
    let view = blocking(move || match svc.grading().grade(id) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == ErrorKind::NotFound && e.code() == "grade.not_graded_yet" => Ok(None),
        Err(e) => Err(e),
    })
    .await
    .map_err(|e| (e.status, e.detail))?;
    let title = tr(lang, "信用风险等级", "Credit-risk grade");
    let Some(g) = view else {
        let wait = tr(
            lang,
            "尚未评级（登记后一个检查点周期内评出）",
            "Not graded yet (graded within one checkpoint interval of registration)",
        );
        return Ok(format!(
            "<section id=\"grade\"><h2>{title}</h2><p>{wait}</p></section>"
        ));
    };
    Ok(format!(
        "<section id=\"grade\"><h2>{title}</h2>{}{}{}<h3>{}</h3>{}</section>",
        summary(lang, &g),
        warnings(lang, &g),
        factors(lang, &g),
        tr(lang, "变更记录", "Changes"),
        changes(lang, &g.history),
    ))
}

/// The warning-list rules holding the enterprise on the list, with their dates, and the
/// report and integrity page to hand out.
fn warnings(lang: Lang, g: &GradeView) -> String {
    let mut out = String::new();
    if !g.warnings.is_empty() {
        out.push_str(&format!(
            "<p class=\"err\" id=\"grade-warnings\">{}",
            tr(lang, "失信预警名单：", "On the warning list: ")
        ));
        let rules: Vec<String> = g
            .warnings
            .iter()
            .map(|l| {
                format!(
                    "{} ({} – {})",
                    l.rule.as_str(),
                    esc(&l.since),
                    esc(&l.until)
                )
            })
            .collect();
        out.push_str(&rules.join("; "));
        out.push_str("</p>");
    }
    out.push_str(&format!(
        "<p><a href=\"/api/v1/enterprises/{}/credit-report\">{}</a></p>",
        g.enterprise_id,
        tr(
            lang,
            "下载信用报告（供银行、保险机构核验）",
            "Download the credit report (for banks and insurers to check)"
        )
    ));
    out
}

fn summary(lang: Lang, g: &GradeView) -> String {
    let set = match &g.r#override {
        Some(o) => format!(
            " · {} {} ({})",
            tr(lang, "人工调整：", "set by the operator:"),
            esc(&o.reason),
            esc(&o.at)
        ),
        None => String::new(),
    };
    format!(
        "<p><strong id=\"grade-letter\">{}</strong> · {} <span id=\"grade-score\">{:.1}</span>/100 · {} {} · {} {}{set}</p>",
        g.grade.as_str(),
        tr(lang, "模型评分", "model score"),
        g.score,
        tr(lang, "模型", "model"),
        esc(&g.model),
        tr(lang, "评估于", "assessed"),
        esc(&g.assessed_at),
    )
}

fn factors(lang: Lang, g: &GradeView) -> String {
    let rows: String = g
        .contributions
        .iter()
        .map(|c| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{:+.1}</td></tr>",
                factor_label(lang, c.factor),
                c.amount,
                c.points
            )
        })
        .collect();
    let head = [("因素", "Factor"), ("数量", "Amount"), ("分值", "Points")];
    table(lang, &head, &rows)
}

fn changes(lang: Lang, history: &[GradeChange]) -> String {
    let rows: String = history
        .iter()
        .rev()
        .take(ROWS)
        .map(|c| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
                c.seq,
                esc(&c.at),
                c.previous.map_or("—", |p| p.as_str()),
                c.grade.as_str(),
                cause_label(lang, c.cause),
                c.score,
                c.leaf_index,
            )
        })
        .collect();
    let head = [
        ("序号", "Seq"),
        ("时间", "At"),
        ("原等级", "From"),
        ("新等级", "To"),
        ("原因", "Cause"),
        ("模型评分", "Model score"),
        ("日志叶序号", "Log leaf"),
    ];
    table(lang, &head, &rows)
}

fn cause_label(lang: Lang, c: GradeCause) -> &'static str {
    match c {
        GradeCause::Computed => tr(lang, "模型计算", "computed"),
        GradeCause::Override => tr(lang, "人工调整", "override"),
        GradeCause::OverrideLifted => tr(lang, "取消人工调整", "override lifted"),
    }
}

/// A factor's name in the console's language.
pub(super) fn factor_label(lang: Lang, f: Factor) -> &'static str {
    use Factor as F;
    match f {
        F::Age => tr(lang, "登记年限", "Years registered"),
        F::Registration => tr(lang, "备案信息披露", "Registration filed"),
        F::CategoryRisk => tr(lang, "商品类别风险", "Product category risk"),
        F::OriginRisk => tr(lang, "原产国风险", "Origin country risk"),
        F::AuthorityRating => tr(lang, "主管部门评级", "Authorities' rating"),
        F::Listed => tr(lang, "失信名单", "Dishonesty list"),
        F::NonConformant => tr(lang, "不合格检验", "Non-conformant attestations"),
        F::Hold => tr(lang, "扣留", "Holds"),
        F::HoldLifted => tr(lang, "扣留已解除", "Holds lifted"),
        F::Recall => tr(lang, "召回", "Recalls"),
        F::SafetyRecall => tr(lang, "安全原因召回", "Safety recalls"),
        F::ComplaintCounterfeit => tr(lang, "经核实的假货投诉", "Upheld counterfeit complaints"),
        F::ComplaintQuality => tr(lang, "经核实的质量投诉", "Upheld quality complaints"),
        F::ComplaintService => tr(lang, "经核实的服务投诉", "Upheld service complaints"),
        F::CloneWarning => tr(lang, "复制码警示", "Clone warnings"),
        F::ForgedScan => tr(lang, "伪造码扫描", "Forged-code scans"),
        F::Reprint => tr(lang, "重印标签", "Labels reprinted"),
        F::LateCustody => tr(lang, "通关或入库延误", "Late clearance or receiving"),
    }
}

//! Lots: the lots of the viewer's products (declared, or with a batch issued), the form that
//! declares one (`POST /api/v1/lots`), one lot's custody state — its records as a timeline,
//! its holds and their outcome, its recall, and the steps the rules accept next
//! (`custody::rules::next_steps`) — and the recall form (`POST /api/v1/lots/{id}/recall`: the
//! operator's). Reads are indexed: the products' lots by GTIN prefix, a lot's records a page
//! at a time through the lot view the public API serves.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::form::{admit, finish, ok_page, when, Write};
use super::words;
use crate::authz::Target;
use crate::custody::event::HoldType;
use crate::custody::rules::{next_steps, LotState};
use crate::custody::RecallClass;
use crate::http::console::kit::{owned, scope, tr, Viewer};
use crate::http::console::pages::{failed, open_page, signed_in, ROWS};
use crate::http::console::staff::table;
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::custody::{LotInput, LotPage, LotSummary, LotView, RecallInput, RecordView};
use crate::service::master::Product;

const HERE: &str = "/console/lots";
const RECALL: (&str, &str) = ("POST", "/api/v1/lots/{id}/recall");

/// `GET /console/lots`: the lots of the viewer's products and the form that declares one.
pub(in crate::http::console) async fn page(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    let (lang, v, only) = match open_page(&st, &headers, "GET", "/api/v1/products").await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let svc = st.svc.clone();
    let read = blocking(move || {
        let products = svc.master().list_products(only, None, ROWS)?;
        let gtins: Vec<String> = products.iter().map(|p| p.gtin.clone()).collect();
        Ok((svc.custody().lots_of(&gtins, ROWS)?, products))
    })
    .await;
    let (lots, products) = match read {
        Ok(x) => x,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let form = match scope(&v.principal, "POST", "/api/v1/lots") {
        Ok(_) if !products.is_empty() => declare_form(lang, &v, &products),
        _ => String::new(),
    };
    let body = format!("<section>{}</section>{form}", lot_table(lang, &lots));
    ok_page(
        lang,
        &v,
        tr(lang, "批号与流转", "Lots and custody"),
        HERE,
        &body,
    )
}

fn state_words(lang: Lang, s: &LotState) -> String {
    let mut w = vec![words::stage(lang, s.stage).to_string()];
    w.extend(s.holds.iter().map(|h| words::hold(lang, *h).to_string()));
    if s.released {
        w.push(tr(lang, "已出区", "released").into());
    }
    if s.sold {
        w.push(tr(lang, "已售出", "sold").into());
    }
    if s.recalled.is_some() {
        w.push(format!(
            "<strong class=\"st-recalled\">{}</strong>",
            tr(lang, "已召回", "recalled")
        ));
    }
    w.join(" · ")
}

fn lot_table(lang: Lang, lots: &[LotSummary]) -> String {
    let rows: String = lots
        .iter()
        .map(|l| {
            let declared = l.state.declared_at.map(when).unwrap_or_else(|| "—".into());
            format!(
                "<tr><td class=\"mono\"><a href=\"{HERE}/{id}\">{}</a></td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{declared}</td></tr>",
                esc(l.lot.lot.as_str()),
                esc(l.lot.gtin.as_str()),
                state_words(lang, &l.state),
                l.state.records,
                id = esc(&l.lot.to_string()),
            )
        })
        .collect();
    let head = [
        ("批号", "Lot"),
        ("商品 GTIN", "GTIN"),
        ("状态", "State"),
        ("记录数", "Records"),
        ("申报时间", "Declared"),
    ];
    table(lang, &head, &rows)
}

fn declare_form(lang: Lang, v: &Viewer, products: &[Product]) -> String {
    let options: String = products
        .iter()
        .map(|p| {
            format!(
                "<option value=\"{g}\">{g} · {}</option>",
                esc(tr(lang, &p.name_zh, &p.name_en)),
                g = esc(&p.gtin)
            )
        })
        .collect();
    format!(
        "<section><h2>{h}</h2><p class=\"muted\">{note}</p><form method=\"post\" action=\"{HERE}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"gtin\">{p}</label><select id=\"gtin\" name=\"gtin\" required>{options}</select>\
         <label for=\"lot\">{l}</label><input type=\"text\" id=\"lot\" name=\"lot\" maxlength=\"20\" required>\
         <button class=\"primary\" type=\"submit\">{go}</button></form></section>",
        h = tr(lang, "申报批号", "Declare a lot"),
        note = tr(lang, "在贴标前申报批号，受托的境外检验机构即可先行检验。", "Declare a lot before labelling so the engaged inspector can attest it first."),
        csrf = esc(&v.session.csrf_token),
        p = tr(lang, "商品", "Product"),
        l = tr(lang, "批号（1–20 位字母、数字或 . _ -）", "Lot (1–20 letters, digits or . _ -)"),
        go = tr(lang, "申报", "Declare"),
    )
}

/// The declare and recall forms' fields.
#[derive(Debug, Default, Deserialize)]
pub(in crate::http::console) struct LotForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    gtin: String,
    #[serde(default)]
    lot: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    class: String,
}

/// `POST /console/lots`: declares a lot (the grant of `POST /api/v1/lots` on its product).
pub(in crate::http::console) async fn declare(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<LotForm>, FormRejection>,
) -> Response {
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let w = Write {
        api: ("POST", "/api/v1/lots"),
        console: HERE,
        path: HERE.into(),
        named: vec![("gtin", f.gtin.clone()), ("lot", f.lot.clone())],
        back: HERE.into(),
    };
    let target = |_: &Viewer| Some(vec![Target::Product(f.gtin.clone())]);
    let a = match admit(&st, &headers, &f.csrf_token, &w, target).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let input = LotInput {
        gtin: f.gtin.trim().to_string(),
        lot: f.lot.trim().to_string(),
    };
    let svc = st.svc.clone();
    let done = blocking(move || svc.custody().declare_lot(&input)).await;
    let ok = match &done {
        Ok((_, true)) => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    finish(&st, &a, &w, done, ok, |(v, _)| format!("{HERE}/{}", v.lot)).await
}

/// `?after=<leaf index>`: the next page of a lot's records.
#[derive(Debug, Default, Deserialize)]
pub(in crate::http::console) struct RecordsAfter {
    #[serde(default)]
    after: Option<u64>,
}

/// `GET /console/lots/{id}`: one lot's custody state (the grant of
/// `GET /api/v1/products/{gtin}` on its product).
pub(in crate::http::console) async fn lot(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<RecordsAfter>, QueryRejection>,
) -> Response {
    let lang = Lang::from_headers(&headers, None);
    let v = match signed_in(&st, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = id.map(|Path(i)| i).unwrap_or_default();
    let route = "/api/v1/products/{gtin}";
    if let Err((s, why)) = owned(
        &st,
        &v.principal,
        "GET",
        route,
        Some(Target::Lot(id.clone())),
    )
    .await
    {
        return failed(lang, &v, s, &why, HERE);
    }
    let after = q.map(|Query(q)| q.after).unwrap_or_default();
    let (svc, i) = (st.svc.clone(), id.clone());
    let read = blocking(move || {
        let view = svc.custody().lot_view(
            &i,
            LotPage {
                after,
                limit: Some(ROWS),
            },
        )?;
        let product = svc
            .master()
            .product(view.lot.split('.').next().unwrap_or_default())?;
        Ok((view, product))
    })
    .await;
    let (view, product) = match read {
        Ok(x) => x,
        Err(e) => return failed(lang, &v, e.status, &e.detail, HERE),
    };
    let may_recall = owned(
        &st,
        &v.principal,
        RECALL.0,
        RECALL.1,
        Some(Target::Lot(id.clone())),
    )
    .await
    .is_ok();
    let body = format!(
        "{}{}{}{}{}",
        facts(lang, &view.state, &product),
        next_section(lang, &view.state),
        holds_section(lang, &view),
        timeline(lang, &view),
        recall_section(lang, &v, &view, may_recall),
    );
    let title = format!("{} {}", tr(lang, "批号", "Lot"), view.lot);
    ok_page(lang, &v, &title, HERE, &body)
}

fn facts(lang: Lang, s: &LotState, p: &Product) -> String {
    let yes_no = |b: bool| {
        if b {
            tr(lang, "是", "yes")
        } else {
            tr(lang, "否", "no")
        }
    };
    let attestation = match s.attestation {
        Some(crate::custody::event::Conformance::Conformant) => tr(lang, "合格", "conformant"),
        Some(_) => tr(lang, "不合格", "non-conformant"),
        None => "—",
    };
    let rows: [(&str, &str, String); 8] = [
        (
            "商品",
            "Product",
            format!(
                "{} · <span class=\"mono\">{}</span>",
                esc(tr(lang, &p.name_zh, &p.name_en)),
                esc(&p.gtin)
            ),
        ),
        ("进度", "Stage", words::stage(lang, s.stage).into()),
        ("检验结论", "Inspection", attestation.into()),
        (
            "报关单号",
            "Declaration no.",
            esc(s.declaration_no.as_deref().unwrap_or("—")),
        ),
        ("整批出区", "Released as a whole", yes_no(s.released).into()),
        (
            "逐件出区 / 售出",
            "Items released / sold",
            format!("{} / {}", s.items_released, s.items_sold),
        ),
        ("记录数", "Records", s.records.to_string()),
        (
            "申报时间",
            "Declared",
            s.declared_at.map(when).unwrap_or_else(|| "—".into()),
        ),
    ];
    let body: String = rows
        .iter()
        .map(|(zh, en, v)| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{v}</td></tr>",
                tr(lang, zh, en)
            )
        })
        .collect();
    format!(
        "<section><h2>{}</h2><div class=\"table\"><table>{body}</table></div></section>",
        tr(lang, "概况", "Summary")
    )
}

/// What the rules accept next, and who records it.
fn next_section(lang: Lang, s: &LotState) -> String {
    let items: String = next_steps(s)
        .iter()
        .map(|n| {
            let who: Vec<String> = n
                .roles
                .iter()
                .map(|r| words::role(lang, r.as_str()))
                .collect();
            format!(
                "<li><strong>{}</strong> — {}</li>",
                esc(&words::step(lang, n.step.as_str())),
                esc(&who.join(tr(lang, "、", ", ")))
            )
        })
        .collect();
    let list = match items.is_empty() {
        true => format!(
            "<p class=\"muted\">{}</p>",
            tr(
                lang,
                "规则不再接受此批号的记录。",
                "The rules accept no further record for this lot."
            )
        ),
        false => format!("<ul class=\"next\">{items}</ul>"),
    };
    format!(
        "<section><h2>{}</h2>{list}</section>",
        tr(
            lang,
            "下一步（按服务端规则）",
            "What comes next (the server's rules)"
        )
    )
}

fn hold_type(r: &RecordView) -> Option<HoldType> {
    serde_json::from_value(r.data.get("hold_type")?.clone()).ok()
}

fn reason(r: &RecordView) -> String {
    r.data
        .get("reason")
        .and_then(|x| x.as_str())
        .unwrap_or("")
        .to_string()
}

/// The holds placed in this page of records, each with its outcome (lifted, by whom and
/// why, or still in force).
fn holds_section(lang: Lang, view: &LotView) -> String {
    let rec = &view.records;
    let rows: String = rec
        .iter()
        .enumerate()
        .filter(|(_, r)| r.step == "holding")
        .map(|(i, r)| {
            let t = hold_type(r);
            let lifted = rec[i + 1..].iter().find(|x| x.step == "hold_release" && hold_type(x) == t);
            let outcome = match lifted {
                Some(x) => format!("{} {} · {} · {}", tr(lang, "已解除", "lifted"), esc(&x.time), esc(&x.signer), esc(&reason(x))),
                None if t.is_some_and(|t| view.state.holds.contains(&t)) => format!("<strong>{}</strong>", tr(lang, "仍在扣留", "in force")),
                None => tr(lang, "见后续记录", "see later records").into(),
            };
            let kind = t.map(|t| words::hold(lang, t)).unwrap_or("—");
            format!("<tr><td>{kind}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{outcome}</td></tr>", esc(&r.time), esc(&r.signer), esc(&reason(r)))
        })
        .collect();
    let head = [
        ("类型", "Type"),
        ("扣留时间", "Placed"),
        ("扣留方", "By"),
        ("原因", "Reason"),
        ("结果", "Outcome"),
    ];
    format!(
        "<section><h2>{}</h2>{}</section>",
        tr(lang, "扣留", "Holds"),
        table(lang, &head, &rows)
    )
}

/// A record's data as `field: value` pairs (strings and numbers), shortened.
fn data_words(r: &RecordView) -> String {
    let Some(m) = r.data.as_object() else {
        return String::new();
    };
    let s: Vec<String> = m
        .iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(x) => Some(format!("{k}: {x}")),
            serde_json::Value::Number(x) => Some(format!("{k}: {x}")),
            _ => None,
        })
        .collect();
    s.join(" · ").chars().take(200).collect()
}

fn timeline(lang: Lang, view: &LotView) -> String {
    let rows: String = view
        .records
        .iter()
        .map(|r| {
            let scope = match r.items {
                0 => tr(lang, "整批", "whole lot").to_string(),
                n => format!("{n} {}", tr(lang, "件", "items")),
            };
            let warn = match r.key_revoked {
                true => format!(" <strong class=\"st-recalled\">{}</strong>", tr(lang, "签名密钥已吊销", "signing key revoked")),
                false => String::new(),
            };
            format!(
                "<tr><td>{}</td><td>{}{warn}</td><td><span class=\"mono\">{}</span> {} · {}</td><td>{}</td><td>{scope}</td><td>{}</td></tr>",
                r.leaf_index,
                esc(&words::step(lang, &r.step)),
                esc(&r.signer),
                esc(&r.organisation),
                esc(&words::role(lang, &r.role)),
                esc(&r.time),
                esc(&data_words(r)),
            )
        })
        .collect();
    let head = [
        ("日志序号", "Leaf"),
        ("环节", "Step"),
        ("签署方", "Actor"),
        ("时间", "Time"),
        ("范围", "Scope"),
        ("内容", "Details"),
    ];
    let next = match view.next_after {
        Some(n) => format!(
            "<p><a href=\"{HERE}/{}?after={n}\">{}</a></p>",
            esc(&view.lot),
            tr(lang, "后续记录 →", "Later records →")
        ),
        None => String::new(),
    };
    format!(
        "<section><h2>{}</h2>{}{next}</section>",
        tr(lang, "流转记录", "Custody timeline"),
        table(lang, &head, &rows)
    )
}

/// The recall classes, as the options of a select (none chosen: the operator must choose).
fn class_options(lang: Lang) -> String {
    let mut out = format!(
        "<option value=\"\">{}</option>",
        tr(lang, "请选择", "Choose")
    );
    for (c, zh, en) in [
        (
            RecallClass::Safety,
            "安全（健康或安全风险）",
            "Safety (a risk to health or safety)",
        ),
        (
            RecallClass::Quality,
            "质量（无安全风险）",
            "Quality (no safety risk)",
        ),
        (RecallClass::Labelling, "标签错误或缺失", "Labelling"),
        (RecallClass::Other, "其他", "Other"),
    ] {
        out.push_str(&format!(
            "<option value=\"{}\">{}</option>",
            c.as_str(),
            tr(lang, zh, en)
        ));
    }
    out
}

fn recall_section(lang: Lang, v: &Viewer, view: &LotView, may: bool) -> String {
    let state = match &view.state.recalled {
        Some(r) => format!(
            "<p class=\"err\" role=\"status\">{}{}</p><p class=\"muted\">{}</p>",
            tr(lang, "已召回：", "Recalled: "),
            esc(r),
            tr(
                lang,
                "此批号商品扫码结果为“非正品”。",
                "Items of this lot scan as not genuine."
            )
        ),
        None => format!("<p>{}</p>", tr(lang, "未召回。", "Not recalled.")),
    };
    let form = match may && view.state.recalled.is_none() {
        true => format!(
            "<form method=\"post\" action=\"{HERE}/{}/recall\"><input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
             <label for=\"reason\">{}</label><input type=\"text\" id=\"reason\" name=\"reason\" maxlength=\"200\" required>\
             <label for=\"class\">{}</label><select id=\"class\" name=\"class\" required>{}</select>\
             <button class=\"primary danger\" type=\"submit\">{}</button></form>",
            esc(&view.lot),
            esc(&v.session.csrf_token),
            tr(lang, "召回原因（消费者可见，1–200 字）", "Reason (shown to consumers, 1–200 characters)"),
            tr(lang, "召回类别（安全原因召回会降低进口商信用等级并列入预警名单）", "Class (a safety recall lowers the importer's credit grade and puts it on the warning list)"),
            class_options(lang),
            tr(lang, "召回此批号", "Recall this lot"),
        ),
        false => String::new(),
    };
    format!(
        "<section><h2>{}</h2>{state}{form}</section>",
        tr(lang, "召回", "Recall")
    )
}

/// `POST /console/lots/{id}/recall`: recalls the lot (the grant of
/// `POST /api/v1/lots/{id}/recall`: the operator's).
pub(in crate::http::console) async fn recall(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    form: Result<Form<LotForm>, FormRejection>,
) -> Response {
    let id = id.map(|Path(i)| i).unwrap_or_default();
    let f = form.map(|Form(f)| f).unwrap_or_default();
    let here = format!("{HERE}/{id}");
    let w = Write {
        api: RECALL,
        console: "/console/lots/{id}/recall",
        path: format!("{here}/recall"),
        named: vec![("id", id.clone())],
        back: here,
    };
    let target = |_: &Viewer| Some(vec![Target::Lot(id.clone())]);
    let a = match admit(&st, &headers, &f.csrf_token, &w, target).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (svc, i, input) = (
        st.svc.clone(),
        id.clone(),
        RecallInput {
            reason: f.reason.clone(),
            class: RecallClass::parse(&f.class),
        },
    );
    let done = blocking(move || svc.custody().recall(&i, &input)).await;
    finish(&st, &a, &w, done, StatusCode::CREATED, |_| {
        format!("{HERE}/{id}")
    })
    .await
}

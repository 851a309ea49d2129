//! The regulator's risk dashboard (`/console/risks`): clone warnings and scans of codes we did
//! not issue per day, and by enterprise, product and client network; complaints by enterprise
//! and status; holds, non-conformant origin attestations and recalls per day and by
//! enterprise. Each chart has its table and a CSV (`/console/risks.csv?part=…`). Every number
//! comes from an aggregate kept as scans and records arrive (telemetry's `scan_tallies`,
//! custody's `custody_days`, the complaint counts of the credit profiles): a view reads a few
//! key ranges, never the records. Read-only; the grant of `GET /api/v1/scans/forged`.

use crate::http::csv::field;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::chart::{legend, stacked_bars, Column, Series, Texts};
use super::dashboard::{days_label, RANGES, ROUTE};
use super::kit::{csv_attachment, html, tr, Viewer};
use super::pages::{frame, open_page};
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::base::rfc3339;
use crate::service::complaints::ComplaintCounts;
use crate::service::custody::CustodyDays;
use crate::service::telemetry::{Tally, TallyDim, TallyKind, DAILY_DAYS_DEFAULT};
use crate::service::{now_unix, Service};

const HERE: &str = "/console/risks";
/// Rows of each "by …" table (the CSV has every one the aggregate holds, up to [`ALL`]).
const TOP: usize = 10;
/// Most subjects a tally ranks (beyond: "others").
const ALL: usize = 1_000;
/// Enterprises whose complaint counts are read.
const ENTERPRISES: usize = 1_000;

/// `?days=&part=`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RiskQuery {
    days: Option<String>,
    part: Option<String>,
}

/// Everything the page shows.
struct Risks {
    days: u32,
    /// Per kind ([`TallyKind::ALL`] order) × dimension ([`TallyDim::ALL`] order).
    tallies: [[Tally; 3]; 2],
    names: HashMap<Vec<u8>, String>,
    complaints: Vec<(u64, String, ComplaintCounts)>,
    custody: CustodyDays,
}

fn parse_days(q: &RiskQuery) -> Option<u32> {
    match q.days.as_deref().map(str::trim) {
        None | Some("") => Some(DAILY_DAYS_DEFAULT),
        Some(s) => s.parse().ok().filter(|d| (1..=366).contains(d)),
    }
}

fn load_risks(svc: &Service, days: u32) -> crate::service::Result<Risks> {
    let today = now_unix().div_euclid(86_400);
    let t = svc.telemetry();
    let tally = |k, d| t.scan_tally(k, d, today, days, ALL);
    let [w, f] = TallyKind::ALL;
    let [e, p, n] = TallyDim::ALL;
    let tallies = [
        [tally(w, e)?, tally(w, p)?, tally(w, n)?],
        [tally(f, e)?, tally(f, p)?, tally(f, n)?],
    ];
    let enterprises = svc.master().list_enterprises(0, ENTERPRISES)?;
    let ids: Vec<u64> = enterprises.iter().map(|e| e.id).collect();
    let counts = svc.consumer().complaint_counts_of(&ids)?;
    let mut complaints: Vec<(u64, String, ComplaintCounts)> = enterprises
        .iter()
        .zip(counts)
        .filter(|(_, c)| c.received > 0)
        .map(|(e, c)| (e.id, e.name.clone(), c))
        .collect();
    complaints.sort_by(|a, b| b.2.received.cmp(&a.2.received).then(a.0.cmp(&b.0)));
    let mut names: HashMap<Vec<u8>, String> = enterprises
        .iter()
        .map(|e| (e.id.to_be_bytes().to_vec(), e.name.clone()))
        .collect();
    for (gtin, _) in tallies.iter().flat_map(|k| k[1].top.iter()).take(4 * TOP) {
        let g = String::from_utf8_lossy(gtin).to_string();
        if let Ok(p) = svc.master().product(&g) {
            names.insert(gtin.clone(), p.name_zh.clone() + " / " + &p.name_en);
        }
    }
    Ok(Risks {
        days,
        tallies,
        names,
        complaints,
        custody: svc.custody().custody_days(today, days)?,
    })
}

async fn load(
    st: &Arc<AppState>,
    h: &HeaderMap,
    q: Result<Query<RiskQuery>, QueryRejection>,
) -> Result<(Lang, Viewer, Risks, RiskQuery), Response> {
    let (lang, v, _) = open_page(st, h, ROUTE.0, ROUTE.1).await?;
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let Some(days) = parse_days(&q) else {
        let msg = tr(lang, "天数须为 1 到 366。", "The days must be 1 to 366.");
        return Err(super::pages::failed(
            lang,
            &v,
            StatusCode::BAD_REQUEST,
            msg,
            HERE,
        ));
    };
    let svc = st.svc.clone();
    match blocking(move || load_risks(&svc, days)).await {
        Ok(r) => Ok((lang, v, r, q)),
        Err(e) => Err(super::pages::failed(lang, &v, e.status, &e.detail, HERE)),
    }
}

/// `GET /console/risks`.
pub(super) async fn page(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<RiskQuery>, QueryRejection>,
) -> Response {
    let (lang, v, r, _) = match load(&st, &headers, q).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let body = [
        filter(lang, r.days),
        scans_section(lang, &r),
        complaints_section(lang, &r),
        custody_section(lang, &r),
    ]
    .concat();
    let title = tr(lang, "风险看板", "Risk dashboard");
    html(StatusCode::OK, frame(lang, title, Some(&v), HERE, &body))
}

/// `GET /console/risks.csv?part=scans|subjects|complaints|custody|custody_enterprises&days=`.
pub(super) async fn csv(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<RiskQuery>, QueryRejection>,
) -> Response {
    let (lang, v, r, q) = match load(&st, &headers, q).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let part = q.part.unwrap_or_default();
    let body = match part.as_str() {
        "scans" => csv_scans(&r),
        "subjects" => csv_subjects(&r),
        "complaints" => csv_complaints(&r),
        "custody" => csv_custody(&r),
        "custody_enterprises" => csv_custody_enterprises(&r),
        _ => {
            let msg = tr(lang, "没有这份数据。", "No such data.");
            return super::pages::failed(lang, &v, StatusCode::NOT_FOUND, msg, HERE);
        }
    };
    csv_attachment(&format!("traceseal-risks-{part}-{}d.csv", r.days), body)
}

fn filter(lang: Lang, days: u32) -> String {
    let opts: String = RANGES
        .iter()
        .map(|d| {
            let sel = if *d == days { " selected" } else { "" };
            format!(
                "<option value=\"{d}\"{sel}>{}</option>",
                days_label(lang, *d)
            )
        })
        .collect();
    format!(
        "<form class=\"filters\" method=\"get\" action=\"{HERE}\"><div><label for=\"days\">{}</label>\
         <select id=\"days\" name=\"days\">{opts}</select></div><button type=\"submit\">{}</button></form>",
        tr(lang, "时间范围", "Period"),
        tr(lang, "显示", "Show"),
    )
}

fn date(day: i64) -> String {
    rfc3339(day * 86_400)[..10].to_string()
}

/// A CSV download of one part of the page.
fn csv_link(lang: Lang, part: &str, days: u32, what: (&str, &str)) -> String {
    format!(
        "<p><a class=\"csv\" href=\"/console/risks.csv?part={part}&amp;days={days}\" download>{} · {}</a></p>",
        tr(lang, "下载 CSV", "Download CSV"),
        esc(tr(lang, what.0, what.1))
    )
}

/// A section: its heading, what it covers, the legend and chart, then its tables.
fn section(id: &str, heading: &str, note: &str, chart: &str, tables: &str) -> String {
    format!(
        "<section aria-labelledby=\"h-{id}\"><h2 id=\"h-{id}\">{}</h2><p class=\"muted\">{}</p>{chart}{tables}</section>",
        esc(heading),
        esc(note)
    )
}

/// Stacked bars, a column per day, and their legend.
fn day_chart(lang: Lang, title: &str, series: &[Series], days: &[(i64, Vec<u64>)]) -> String {
    let labels: Vec<String> = days
        .iter()
        .map(|(d, _)| date(*d)[5..].to_string())
        .collect();
    let columns: Vec<Column> = labels
        .iter()
        .zip(days)
        .map(|(label, (_, values))| Column { label, values })
        .collect();
    let texts = Texts {
        title,
        y_axis: tr(lang, "次数", "Count"),
        x_axis: tr(lang, "日期（UTC）", "Day (UTC)"),
        empty: tr(lang, "此期间没有记录", "Nothing in this period"),
    };
    format!(
        "{}{}",
        legend(series),
        stacked_bars(&columns, series, &texts)
    )
}

/// A table: the header cells, the rows (first cell a row header), a totals row.
fn table(class: &str, head: &[&str], rows: &[Vec<String>], foot: Option<Vec<String>>) -> String {
    let th: String = head
        .iter()
        .enumerate()
        .map(|(i, h)| {
            format!(
                "<th scope=\"col\"{}>{}</th>",
                if i > 0 { " class=\"num\"" } else { "" },
                esc(h)
            )
        })
        .collect();
    let tr_of = |r: &Vec<String>| {
        let mut s = String::from("<tr>");
        for (i, c) in r.iter().enumerate() {
            let _ = match i {
                0 => write!(s, "<th scope=\"row\">{}</th>", esc(c)),
                _ => write!(s, "<td>{}</td>", esc(c)),
            };
        }
        s + "</tr>"
    };
    let body: String = rows.iter().map(tr_of).collect();
    let foot = foot
        .map(|f| format!("<tfoot>{}</tfoot>", tr_of(&f)))
        .unwrap_or_default();
    format!("<div class=\"table\"><table class=\"counts {class}\"><thead><tr>{th}</tr></thead><tbody>{body}</tbody>{foot}</table></div>")
}

const SCAN_SERIES: [(&str, &str, &str); 2] = [
    ("克隆警示", "Clone warnings", "#b26a00"),
    ("伪造码扫描", "Forged-code scans", "#c21f35"),
];

fn series_of<const N: usize>(
    lang: Lang,
    s: &'static [(&str, &str, &str); N],
) -> Vec<Series<'static>> {
    s.iter()
        .map(|(zh, en, colour)| Series {
            label: tr(lang, zh, en),
            colour,
        })
        .collect()
}

/// The subject of a tally row as shown: an enterprise's or product's name, or the network.
fn subject_name(r: &Risks, dim: usize, subject: &[u8]) -> String {
    let raw = match dim {
        0 => <[u8; 8]>::try_from(subject)
            .map(|b| format!("#{}", u64::from_be_bytes(b)))
            .unwrap_or_default(),
        _ => String::from_utf8_lossy(subject).to_string(),
    };
    match (dim, r.names.get(subject)) {
        (2, _) | (_, None) => raw,
        (_, Some(n)) => format!("{n} ({raw})"),
    }
}

/// The rows of dimension `dim`: the subjects with the most of both kinds, both counts.
fn subject_rows(r: &Risks, dim: usize, limit: usize) -> Vec<(Vec<u8>, [u64; 2])> {
    let mut by: HashMap<&[u8], [u64; 2]> = HashMap::new();
    for (k, kind) in r.tallies.iter().enumerate() {
        for (s, n) in &kind[dim].top {
            by.entry(s.as_slice()).or_default()[k] += n;
        }
    }
    let mut rows: Vec<(Vec<u8>, [u64; 2])> = by.into_iter().map(|(s, c)| (s.to_vec(), c)).collect();
    rows.sort_by(|a, b| {
        (b.1[0] + b.1[1])
            .cmp(&(a.1[0] + a.1[1]))
            .then_with(|| a.0.cmp(&b.0))
    });
    rows.truncate(limit);
    rows
}

fn scans_section(lang: Lang, r: &Risks) -> String {
    let [w, f] = [&r.tallies[0][2], &r.tallies[1][2]];
    let days: Vec<(i64, Vec<u64>)> = w
        .days
        .iter()
        .zip(&f.days)
        .map(|(a, b)| (a.0, vec![a.1, b.1]))
        .collect();
    let s = series_of(lang, &SCAN_SERIES);
    let title = tr(
        lang,
        "每日克隆警示与伪造码扫描",
        "Clone warnings and forged-code scans per day",
    );
    let note = match lang {
        Lang::Zh => format!(
            "最近 {} 天（UTC）：克隆警示 {} 次，伪造码扫描 {} 次。",
            r.days,
            w.total(),
            f.total()
        ),
        Lang::En => format!(
            "Last {} days (UTC): {} clone warnings, {} forged-code scans.",
            r.days,
            w.total(),
            f.total()
        ),
    };
    let chart = day_chart(lang, title, &s, &days);
    let dims = [
        ("按企业", "By enterprise", "ent"),
        ("按商品", "By product", "prod"),
        ("按客户端网络", "By client network", "net"),
    ];
    let mut tables = String::new();
    for (i, (zh, en, class)) in dims.iter().enumerate() {
        let rows: Vec<Vec<String>> = subject_rows(r, i, TOP)
            .iter()
            .map(|(subj, c)| vec![subject_name(r, i, subj), c[0].to_string(), c[1].to_string()])
            .collect();
        let head = [tr(lang, zh, en), s[0].label, s[1].label];
        let _ = write!(
            tables,
            "<h3>{}</h3>{}",
            esc(tr(lang, zh, en)),
            table(class, &head, &rows, None)
        );
    }
    if r.tallies.iter().flatten().any(|t| t.truncated) {
        let cut = tr(
            lang,
            "数据量过大，只统计了最早的部分。",
            "Too many rows: only the earliest were counted.",
        );
        let _ = write!(tables, "<p class=\"err\">{cut}</p>");
    }
    tables += &csv_link(lang, "scans", r.days, ("每日", "per day"));
    tables += &csv_link(
        lang,
        "subjects",
        r.days,
        ("按企业、商品、网络", "by enterprise, product, network"),
    );
    section("scans", title, &note, &chart, &tables)
}

/// Stacked bars of the 10 enterprises with the most complaints: open, upheld, rejected.
fn complaints_chart(lang: Lang, r: &Risks, title: &str) -> String {
    let columns: Vec<(String, Vec<u64>)> = r
        .complaints
        .iter()
        .take(TOP)
        .map(|(id, _, c)| {
            (
                format!("#{id}"),
                vec![
                    c.received.saturating_sub(c.resolved + c.rejected),
                    c.resolved,
                    c.rejected,
                ],
            )
        })
        .collect();
    let s = series_of(
        lang,
        &[
            ("处理中", "Open", "#607d8b"),
            ("成立", "Upheld", "#c21f35"),
            ("不成立", "Rejected", "#1e7b3a"),
        ],
    );
    let cols: Vec<Column> = columns
        .iter()
        .map(|(l, v)| Column {
            label: l,
            values: v,
        })
        .collect();
    let texts = Texts {
        title,
        y_axis: tr(lang, "投诉数", "Complaints"),
        x_axis: tr(
            lang,
            "企业（投诉最多的 10 家）",
            "Enterprise (the 10 with the most)",
        ),
        empty: tr(lang, "还没有投诉", "No complaints yet"),
    };
    format!("{}{}", legend(&s), stacked_bars(&cols, &s, &texts))
}

fn complaints_section(lang: Lang, r: &Risks) -> String {
    let title = tr(
        lang,
        "各企业投诉（按状态）",
        "Complaints by enterprise and status",
    );
    let head = [
        tr(lang, "企业", "Enterprise"),
        tr(lang, "收到", "Received"),
        tr(lang, "处理中", "Open or investigating"),
        tr(lang, "成立", "Upheld"),
        tr(lang, "不成立", "Rejected"),
    ];
    let row = |name: String, c: &ComplaintCounts| {
        let open = c.received.saturating_sub(c.resolved + c.rejected);
        vec![
            name,
            c.received.to_string(),
            open.to_string(),
            c.resolved.to_string(),
            c.rejected.to_string(),
        ]
    };
    let rows: Vec<Vec<String>> = r
        .complaints
        .iter()
        .take(2 * TOP)
        .map(|(id, name, c)| row(format!("{name} (#{id})"), c))
        .collect();
    let mut sum = ComplaintCounts::default();
    for (_, _, c) in &r.complaints {
        sum.received += c.received;
        sum.resolved += c.resolved;
        sum.rejected += c.rejected;
    }
    let chart = complaints_chart(lang, r, title);
    let note = tr(
        lang,
        "全部时间的累计数（随投诉提交与处理实时更新）。",
        "All time, kept as complaints are filed and answered.",
    );
    let tables = table(
        "complaints",
        &head,
        &rows,
        Some(row(tr(lang, "合计", "Total").into(), &sum)),
    ) + &csv_link(lang, "complaints", r.days, ("各企业", "by enterprise"));
    section("complaints", title, note, &chart, &tables)
}

const CUSTODY_SERIES: [(&str, &str, &str); 3] = [
    ("扣留", "Holds placed", "#b26a00"),
    ("原产地检验不合格", "Non-conformant attestations", "#6a1b9a"),
    ("召回", "Recalls", "#c21f35"),
];

fn custody_section(lang: Lang, r: &Risks) -> String {
    let title = tr(
        lang,
        "扣留、不合格与召回",
        "Holds, non-conformant attestations and recalls",
    );
    let s = series_of(lang, &CUSTODY_SERIES);
    let days: Vec<(i64, Vec<u64>)> = r
        .custody
        .days
        .iter()
        .map(|(d, c)| (*d, c.to_vec()))
        .collect();
    let chart = day_chart(lang, title, &s, &days);
    let rows: Vec<Vec<String>> = r
        .custody
        .enterprises
        .iter()
        .take(2 * TOP)
        .map(|(id, c)| {
            let name = subject_name(r, 0, &id.to_be_bytes());
            vec![name, c[0].to_string(), c[1].to_string(), c[2].to_string()]
        })
        .collect();
    let head = [
        tr(lang, "企业", "Enterprise"),
        s[0].label,
        s[1].label,
        s[2].label,
    ];
    let totals = (0..3)
        .map(|i| r.custody.days.iter().map(|d| d.1[i]).sum::<u64>())
        .collect::<Vec<_>>();
    let note = match lang {
        Lang::Zh => format!(
            "最近 {} 天（UTC）：扣留 {} 次，不合格 {} 次，召回 {} 次。",
            r.days, totals[0], totals[1], totals[2]
        ),
        Lang::En => format!(
            "Last {} days (UTC): {} holds, {} non-conformant attestations, {} recalls.",
            r.days, totals[0], totals[1], totals[2]
        ),
    };
    let tables = table("custody", &head, &rows, None)
        + &csv_link(lang, "custody", r.days, ("每日", "per day"))
        + &csv_link(
            lang,
            "custody_enterprises",
            r.days,
            ("各企业", "by enterprise"),
        );
    section("custody", title, &note, &chart, &tables)
}

fn csv_scans(r: &Risks) -> String {
    let mut s = String::from("date,clone_warnings,forged_scans\r\n");
    for (a, b) in r.tallies[0][2].days.iter().zip(&r.tallies[1][2].days) {
        let _ = write!(s, "{},{},{}\r\n", date(a.0), a.1, b.1);
    }
    s
}

fn csv_subjects(r: &Risks) -> String {
    let mut s = String::from("dimension,subject,clone_warnings,forged_scans\r\n");
    for (i, dim) in ["enterprise", "product", "network"].iter().enumerate() {
        for (subj, c) in subject_rows(r, i, ALL) {
            let _ = write!(
                s,
                "{dim},{},{},{}\r\n",
                field(&subject_name(r, i, &subj)),
                c[0],
                c[1]
            );
        }
    }
    s
}

fn csv_complaints(r: &Risks) -> String {
    let mut s = String::from("enterprise_id,name,received,open,upheld,rejected\r\n");
    for (id, name, c) in &r.complaints {
        let open = c.received.saturating_sub(c.resolved + c.rejected);
        let _ = write!(
            s,
            "{id},{},{},{open},{},{}\r\n",
            field(name),
            c.received,
            c.resolved,
            c.rejected
        );
    }
    s
}

fn csv_custody(r: &Risks) -> String {
    let mut s = String::from("date,holds,non_conformant_attestations,recalls\r\n");
    for (d, c) in &r.custody.days {
        let _ = write!(s, "{},{},{},{}\r\n", date(*d), c[0], c[1], c[2]);
    }
    s
}

fn csv_custody_enterprises(r: &Risks) -> String {
    let mut s = String::from("enterprise_id,holds,non_conformant_attestations,recalls\r\n");
    for (id, c) in &r.custody.enterprises {
        let _ = write!(s, "{id},{},{},{}\r\n", c[0], c[1], c[2]);
    }
    s
}

//! The regulator dashboard (`/console/dashboard`, `docs/console.md`): scans per UTC day and
//! verdict over the last days, of all products or of one enterprise's, from the daily counts
//! telemetry keeps as scans arrive (one key range read, never the scan records). A stacked
//! bar chart as inline SVG ([`super::chart`]), the same data as a table, and a CSV export
//! (`/console/dashboard.csv`). Opened by the grant of `GET /api/v1/scans/forged`.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::chart::{legend, stacked_bars, Column, Series, Texts};
use super::kit::{csv_attachment, html, scope, tr, Viewer};
use super::pages::{frame, refusal, signed_in};
use crate::http::page::{esc, Lang};
use crate::http::state::{blocking, AppState};
use crate::service::master::Enterprise;
use crate::service::now_unix;
use crate::service::telemetry::{DayCounts, VerdictKind, DAILY_DAYS_DEFAULT, DAILY_DAYS_MAX};

/// The API route whose grant opens the dashboard (its menu entry names it too).
pub(super) const ROUTE: (&str, &str) = ("GET", "/api/v1/scans/forged");
const HERE: &str = "/console/dashboard";
/// Most enterprises listed in the filter's select (beyond, a number field).
const PICK: usize = 100;
/// The ranges offered, in days.
pub(super) const RANGES: [u32; 4] = [7, 30, 90, 366];

/// Per verdict, in the order of `VerdictKind::ALL`: its label and colour (those of the scan
/// page: green, amber, red, grey; each at least 4:1 against white).
const VERDICTS: [(&str, &str, &str); 4] = [
    ("正品", "Genuine", "#1e7b3a"),
    ("正品（有警示）", "Genuine, with a warning", "#b26a00"),
    ("非正品", "Not genuine", "#c21f35"),
    ("暂时无法验证", "Cannot verify now", "#607d8b"),
];

/// `?enterprise_id=&days=` (both optional; empty means unset).
#[derive(Debug, Default, Deserialize)]
pub(super) struct DashQuery {
    enterprise_id: Option<String>,
    days: Option<String>,
}

/// What the dashboard shows: one enterprise's products or all, over how many days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Filter {
    enterprise: Option<u64>,
    days: u32,
}

fn parse_filter(q: &DashQuery) -> Option<Filter> {
    let enterprise = match q.enterprise_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(s.parse::<u64>().ok()?),
    };
    let days = match q.days.as_deref().map(str::trim) {
        None | Some("") => DAILY_DAYS_DEFAULT,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=DAILY_DAYS_MAX).contains(d))?,
    };
    Some(Filter { enterprise, days })
}

/// A request's viewer, filter, the enterprise filtered on and the counts; or the answer to
/// send instead (sign-in, refusal, error page).
struct Loaded {
    lang: Lang,
    viewer: Viewer,
    filter: Filter,
    only: Option<u64>,
    enterprise: Option<Enterprise>,
    days: Vec<DayCounts>,
}

fn error_page(lang: Lang, v: &Viewer, status: StatusCode, msg: &str) -> Response {
    let body = format!("<p class=\"err\" role=\"alert\">{}</p>", esc(msg));
    html(
        status,
        frame(
            lang,
            tr(lang, "监管看板", "Dashboard"),
            Some(v),
            HERE,
            &body,
        ),
    )
}

async fn load(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    q: Result<Query<DashQuery>, QueryRejection>,
) -> Result<Loaded, Response> {
    let lang = Lang::from_headers(headers, None);
    let v = signed_in(st, headers).await?;
    let only =
        scope(&v.principal, ROUTE.0, ROUTE.1).map_err(|r| refusal(lang, &v, &r.to_string()))?;
    let Some(mut f) = q.ok().and_then(|Query(q)| parse_filter(&q)) else {
        let msg = tr(
            lang,
            "筛选条件无效：企业须为企业编号，天数须为 1 到 366。",
            "Invalid filter: the enterprise must be an enterprise number and the days 1 to 366.",
        );
        return Err(error_page(lang, &v, StatusCode::BAD_REQUEST, msg));
    };
    if let (Some(own), Some(asked)) = (only, f.enterprise) {
        if own != asked {
            let why = tr(
                lang,
                "您只能查看本企业的数据。",
                "You may see your own enterprise's data only.",
            );
            return Err(refusal(lang, &v, why));
        }
    }
    f.enterprise = only.or(f.enterprise);
    let today = now_unix().div_euclid(86_400);
    let svc = st.svc.clone();
    let res = blocking(move || {
        let e = f
            .enterprise
            .map(|id| svc.master().enterprise(id))
            .transpose()?;
        Ok((e, svc.telemetry().daily_scans(f.enterprise, today, f.days)?))
    })
    .await;
    match res {
        Ok((enterprise, days)) => Ok(Loaded {
            lang,
            viewer: v,
            filter: f,
            only,
            enterprise,
            days,
        }),
        Err(e) => Err(error_page(lang, &v, e.status, &e.detail)),
    }
}

/// The enterprises the filter offers: the viewer's own, or up to [`PICK`] (more: `None`, a
/// number field).
async fn choices(st: &Arc<AppState>, l: &Loaded) -> Option<Vec<Enterprise>> {
    if l.only.is_some() {
        return Some(l.enterprise.iter().cloned().collect());
    }
    let svc = st.svc.clone();
    let list = blocking(move || svc.master().list_enterprises(0, PICK + 1)).await;
    list.ok().filter(|l| l.len() <= PICK)
}

/// `GET /console/dashboard`.
pub(super) async fn page(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<DashQuery>, QueryRejection>,
) -> Response {
    let l = match load(&st, &headers, q).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let picks = choices(&st, &l).await;
    let repeat_mins = st.svc.telemetry().rules().repeat_secs.div_ceil(60);
    let lang = l.lang;
    let body = format!(
        "{}{}",
        filters(lang, &l.filter, picks.as_deref(), l.only.is_some()),
        body(lang, &l.filter, l.enterprise.as_ref(), &l.days, repeat_mins)
    );
    html(
        StatusCode::OK,
        frame(
            lang,
            tr(lang, "监管看板", "Dashboard"),
            Some(&l.viewer),
            HERE,
            &body,
        ),
    )
}

/// `GET /console/dashboard.csv`: the same counts, one row per day × verdict.
pub(super) async fn csv(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<DashQuery>, QueryRejection>,
) -> Response {
    let l = match load(&st, &headers, q).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let (first, last) = span(&l.days);
    let name = match l.filter.enterprise {
        Some(e) => format!("traceseal-scans-{first}_{last}-enterprise-{e}.csv"),
        None => format!("traceseal-scans-{first}_{last}.csv"),
    };
    csv_attachment(&name, csv_body(l.filter.enterprise, &l.days))
}

/// The first and last dates of the range.
fn span(days: &[DayCounts]) -> (String, String) {
    let date = |d: Option<&DayCounts>| d.map(DayCounts::date).unwrap_or_default();
    (date(days.first()), date(days.last()))
}

/// The CSV (RFC 4180, CRLF): a header row, then per day (oldest first) one row per verdict.
fn csv_body(enterprise: Option<u64>, days: &[DayCounts]) -> String {
    let e = enterprise.map(|e| e.to_string()).unwrap_or_default();
    let mut s = String::from("date,enterprise_id,verdict,scans\r\n");
    for d in days {
        let date = d.date();
        for (k, n) in VerdictKind::ALL.iter().zip(d.counts) {
            let _ = write!(s, "{date},{e},{},{n}\r\n", k.code());
        }
    }
    s
}

/// The filter form (a GET form: no script).
fn filters(lang: Lang, f: &Filter, picks: Option<&[Enterprise]>, fixed: bool) -> String {
    let who = match picks {
        Some(list) => {
            let all = match fixed {
                true => String::new(),
                false => format!(
                    "<option value=\"\">{}</option>",
                    tr(lang, "全部企业", "All enterprises")
                ),
            };
            let opts: String = list
                .iter()
                .map(|e| {
                    let sel = if f.enterprise == Some(e.id) { " selected" } else { "" };
                    format!("<option value=\"{}\"{sel}>{} (#{})</option>", e.id, esc(&e.name), e.id)
                })
                .collect();
            format!("<select id=\"enterprise_id\" name=\"enterprise_id\">{all}{opts}</select>")
        }
        None => format!(
            "<input type=\"number\" id=\"enterprise_id\" name=\"enterprise_id\" min=\"1\" value=\"{}\" placeholder=\"{}\">",
            f.enterprise.map(|e| e.to_string()).unwrap_or_default(),
            tr(lang, "企业编号（留空为全部）", "Enterprise number (empty: all)")
        ),
    };
    let mut ranges: Vec<u32> = RANGES.to_vec();
    if !ranges.contains(&f.days) {
        ranges.push(f.days);
        ranges.sort_unstable();
    }
    let days: String = ranges
        .iter()
        .map(|d| {
            let sel = if *d == f.days { " selected" } else { "" };
            format!(
                "<option value=\"{d}\"{sel}>{}</option>",
                days_label(lang, *d)
            )
        })
        .collect();
    format!(
        "<form class=\"filters\" method=\"get\" action=\"{HERE}\">\
         <div><label for=\"enterprise_id\">{}</label>{who}</div>\
         <div><label for=\"days\">{}</label><select id=\"days\" name=\"days\">{days}</select></div>\
         <button type=\"submit\">{}</button></form>",
        tr(lang, "企业", "Enterprise"),
        tr(lang, "时间范围", "Period"),
        tr(lang, "显示", "Show"),
    )
}

pub(super) fn days_label(lang: Lang, d: u32) -> String {
    match lang {
        Lang::Zh => format!("最近 {d} 天"),
        Lang::En => format!("Last {d} days"),
    }
}

fn series(lang: Lang) -> Vec<Series<'static>> {
    VERDICTS
        .iter()
        .map(|(zh, en, colour)| Series {
            label: tr(lang, zh, en),
            colour,
        })
        .collect()
}

/// The chart and the table of `days`, with what they cover and how scans are counted.
fn body(
    lang: Lang,
    f: &Filter,
    enterprise: Option<&Enterprise>,
    days: &[DayCounts],
    repeat_mins: u64,
) -> String {
    let (first, last) = span(days);
    let whose = match enterprise {
        Some(e) => format!("{} (#{})", e.name, e.id),
        None => tr(lang, "全部企业", "All enterprises").to_string(),
    };
    let total: u64 = days.iter().map(DayCounts::total).sum();
    let (title, summary) = match lang {
        Lang::Zh => (
            format!("每日扫描次数（按结果堆叠），{first} 至 {last}，{whose}；数据同下表"),
            format!("{first} 至 {last}（UTC）· {whose} · 共 {total} 次扫描"),
        ),
        Lang::En => (
            format!("Scans per day, stacked by verdict, {first} to {last}, {whose}; the same data is in the table below"),
            format!(
                "{first} to {last} (UTC) · {whose} · {total} {}",
                if total == 1 { "scan" } else { "scans" }
            ),
        ),
    };
    // `MM-DD` under the axis (the range, with its years, is said above the chart).
    let labels: Vec<String> = days.iter().map(|d| d.date()[5..].to_string()).collect();
    let columns: Vec<Column> = labels
        .iter()
        .zip(days)
        .map(|(label, d)| Column {
            label,
            values: &d.counts,
        })
        .collect();
    let texts = Texts {
        title: &title,
        y_axis: tr(lang, "扫描次数", "Scans"),
        x_axis: tr(lang, "日期（UTC）", "Day (UTC)"),
        empty: tr(lang, "此期间没有扫描", "No scans in this period"),
    };
    let s = series(lang);
    let rule = match lang {
        Lang::Zh => format!("计数规则：同一码在同一网络（IPv4 /24、IPv6 /48）{repeat_mins} 分钟内的多次扫描计为一次；“暂时无法验证”每次应答计一次。"),
        Lang::En => format!("How scans count: one code scanned from one network (IPv4 /24, IPv6 /48) counts once per {repeat_mins} minutes; each “cannot verify now” answer counts once."),
    };
    format!(
        "<section aria-labelledby=\"h-chart\"><h2 id=\"h-chart\">{}</h2><p class=\"muted\">{}</p>{}{}\
         <p class=\"muted\">{}</p></section>\
         <section aria-labelledby=\"h-table\"><h2 id=\"h-table\">{}</h2><p><a class=\"csv\" href=\"{}\" download>{}</a></p>{}</section>",
        tr(lang, "每日扫描", "Scans per day"),
        esc(&summary),
        legend(&s),
        stacked_bars(&columns, &s, &texts),
        esc(&rule),
        tr(lang, "数据表", "Data"),
        csv_href(f),
        tr(lang, "下载 CSV", "Download CSV"),
        table(lang, days),
    )
}

fn csv_href(f: &Filter) -> String {
    let e = f
        .enterprise
        .map(|e| format!("&amp;enterprise_id={e}"))
        .unwrap_or_default();
    format!("/console/dashboard.csv?days={}{e}", f.days)
}

/// The counts as a table: a row per day, newest first, a column per verdict, and the totals.
fn table(lang: Lang, days: &[DayCounts]) -> String {
    let mut head = format!("<th scope=\"col\">{}</th>", tr(lang, "日期", "Day"));
    for (zh, en, _) in VERDICTS {
        let _ = write!(
            head,
            "<th scope=\"col\" class=\"num\">{}</th>",
            tr(lang, zh, en)
        );
    }
    let _ = write!(
        head,
        "<th scope=\"col\" class=\"num\">{}</th>",
        tr(lang, "合计", "Total")
    );
    let row = |label: &str, counts: &[u64; 4], total: u64| {
        let cells: String = counts.iter().map(|n| format!("<td>{n}</td>")).collect();
        format!("<tr><th scope=\"row\">{label}</th>{cells}<td>{total}</td></tr>")
    };
    let rows: String = days
        .iter()
        .rev()
        .map(|d| row(&d.date(), &d.counts, d.total()))
        .collect();
    let mut sums = [0u64; 4];
    for d in days {
        for (s, n) in sums.iter_mut().zip(d.counts) {
            *s += n;
        }
    }
    let foot = row(tr(lang, "合计", "Total"), &sums, sums.iter().sum());
    format!(
        "<div class=\"table\"><table class=\"counts\"><thead><tr>{head}</tr></thead>\
         <tbody>{rows}</tbody><tfoot>{foot}</tfoot></table></div>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(e: Option<&str>, d: Option<&str>) -> DashQuery {
        DashQuery {
            enterprise_id: e.map(str::to_string),
            days: d.map(str::to_string),
        }
    }

    #[test]
    fn the_verdict_table_follows_verdict_kind_all() {
        for (i, k) in VerdictKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
        assert_eq!(VERDICTS.len(), VerdictKind::ALL.len());
    }

    #[test]
    fn filters_parse_with_defaults_and_bounds() {
        let f = |e, d| parse_filter(&q(e, d));
        assert_eq!(
            f(None, None),
            Some(Filter {
                enterprise: None,
                days: 30
            })
        );
        assert_eq!(
            f(Some(""), Some("366")),
            Some(Filter {
                enterprise: None,
                days: 366
            })
        );
        assert_eq!(f(Some("7"), Some("7")).unwrap().enterprise, Some(7));
        assert_eq!(f(Some("x"), None), None);
        assert_eq!(f(None, Some("0")), None);
        assert_eq!(f(None, Some("367")), None);
    }

    fn year() -> Vec<DayCounts> {
        (0..366)
            .map(|i| DayCounts {
                day: 20_000 + i,
                counts: [123_456, 7_890, 45_678, 12],
            })
            .collect()
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_day_and_verdict() {
        let days = &year()[..2];
        let csv = csv_body(Some(7), days);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 2 * 4);
        assert_eq!(lines[0], "date,enterprise_id,verdict,scans");
        assert_eq!(lines[1], "2024-10-04,7,genuine,123456");
        assert_eq!(lines[4], "2024-10-04,7,cannot_verify_now,12");
        assert_eq!(lines[8], "2024-10-05,7,cannot_verify_now,12");
        assert!(csv.ends_with("\r\n"));
        assert!(csv_body(None, days)
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("2024-10-04,,"));
    }

    #[test]
    fn a_year_with_every_verdict_every_day_and_100_enterprises_stays_under_100_kb() {
        let days = year();
        let ents: Vec<Enterprise> = (1..=100)
            .map(|id| Enterprise {
                id,
                name: format!("Enterprise number {id} Import & Export Trading Co., Ltd."),
                uscc: "91350100M000100Y43".into(),
                country: "AU".into(),
                created_at: "2026-01-01T00:00:00Z".into(),
                updated_at: "2026-01-01T00:00:00Z".into(),
            })
            .collect();
        let f = Filter {
            enterprise: Some(1),
            days: 366,
        };
        for lang in [Lang::Zh, Lang::En] {
            let page = format!(
                "{}{}",
                filters(lang, &f, Some(&ents), false),
                body(lang, &f, Some(&ents[0]), &days, 60)
            );
            assert!(page.len() < 95_000, "{} bytes", page.len());
            assert_eq!(page.matches("<path ").count(), 366 * 4);
            assert_eq!(page.matches("<tr>").count(), 1 + 366 + 1);
            assert!(page.contains("Enterprise number 1 Import &amp; Export"));
            assert!(page.contains("href=\"/console/dashboard.csv?days=366&amp;enterprise_id=1\""));
        }
    }

    #[test]
    fn an_empty_range_says_so() {
        let days: Vec<DayCounts> = (0..30)
            .map(|i| DayCounts {
                day: 20_000 + i,
                counts: [0; 4],
            })
            .collect();
        let f = Filter {
            enterprise: None,
            days: 30,
        };
        let page = body(Lang::En, &f, None, &days, 60);
        assert_eq!(page.matches("<path ").count(), 0);
        assert!(page.contains("No scans in this period") && page.contains("· 0 scans"));
        assert_eq!(page.matches("<tr>").count(), 32);
    }
}

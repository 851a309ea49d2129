//! Charts of the console as inline SVG, rendered on the server (no script, nothing external:
//! the CSP allows it). Pure functions of their data: stacked bars (one column per day, one
//! segment per non-zero value, each series in its colour) with axes, tick labels and axis
//! titles, and the legend as HTML. The SVG scales to its container (`viewBox`, `width:100%`
//! in `console.css`), which also sizes its text and hides every other date on phones.
//!
//! Sizes stay small for the 366 columns of a year: a segment is one stroked path
//! (`M x y V y`, about 30 bytes) inside one group per series.

use std::fmt::Write as _;

use crate::http::page::esc;

/// One series: its label (in the page's language) and its colour (`#rrggbb`).
pub struct Series<'a> {
    /// Shown in the legend.
    pub label: &'a str,
    /// The fill of its segments and of its legend swatch.
    pub colour: &'a str,
}

/// One column: its label (on the x axis) and one value per series.
pub struct Column<'a> {
    /// E.g. `2026-12-05`.
    pub label: &'a str,
    /// In the order of the series.
    pub values: &'a [u64],
}

/// The chart's texts, in the page's language.
pub struct Texts<'a> {
    /// The SVG's `<title>` (its accessible name).
    pub title: &'a str,
    /// Above the y axis.
    pub y_axis: &'a str,
    /// Under the x axis.
    pub x_axis: &'a str,
    /// In the plot when every value is zero (or there is no column).
    pub empty: &'a str,
}

const W: f64 = 560.0;
const H: f64 = 330.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BASE: f64 = 270.0;
/// Most date labels under the x axis.
const X_LABELS: usize = 5;
/// Most horizontal grid steps.
const Y_STEPS: u64 = 5;

/// A coordinate with at most one decimal (`12`, `12.5`).
fn c(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// The grid step: the smallest 1, 2 or 5 × 10^k that splits `max` into at most [`Y_STEPS`].
fn step_for(max: u64) -> u64 {
    let mut p: u64 = 1;
    loop {
        for m in [1, 2, 5] {
            let s = p.saturating_mul(m);
            if max.div_ceil(s) <= Y_STEPS || s == u64::MAX {
                return s;
            }
        }
        p = p.saturating_mul(10);
    }
}

/// A tick value, short: `950`, `9500`, `12k`, `1.5M`.
fn compact(v: u64) -> String {
    let short = |d: u64, unit: &str| {
        let s = format!("{:.1}", v as f64 / d as f64);
        format!("{}{unit}", s.strip_suffix(".0").unwrap_or(&s))
    };
    match v {
        0..=9_999 => v.to_string(),
        10_000..=999_999 => short(1_000, "k"),
        _ => short(1_000_000, "M"),
    }
}

/// Stacked bars of `columns` (left to right), one colour per series, as an inline `<svg>`
/// with `role="img"` and a `<title>`; every text escaped. One `<path>` per non-zero value.
pub fn stacked_bars(columns: &[Column], series: &[Series], t: &Texts) -> String {
    let max = columns.iter().map(|col| sum(col.values)).max().unwrap_or(0);
    let step = step_for(max.max(1));
    let top = max.max(1).div_ceil(step).saturating_mul(step);
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"chart-title\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"chart-title\">{}</title>\
         <text class=\"axis-title\" x=\"{LEFT}\" y=\"24\">{}</text>",
        esc(t.title),
        esc(t.y_axis),
    );
    y_grid(&mut s, top, step);
    bars(&mut s, columns, series, top);
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{BASE}\" x2=\"{}\" y2=\"{BASE}\"/>",
        W - RIGHT
    );
    x_labels(&mut s, columns);
    let mid = c(LEFT + (W - RIGHT - LEFT) / 2.0);
    let _ = write!(
        s,
        "<text class=\"axis-title\" x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        H - 6.0,
        esc(t.x_axis)
    );
    if max == 0 {
        let _ = write!(
            s,
            "<text class=\"empty\" x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            c((TOP + BASE) / 2.0),
            esc(t.empty)
        );
    }
    s.push_str("</svg>");
    s
}

fn sum(values: &[u64]) -> u64 {
    values.iter().fold(0, |a, v| a.saturating_add(*v))
}

fn y_of(v: u64, top: u64) -> f64 {
    BASE - (BASE - TOP) * v as f64 / top as f64
}

/// Horizontal grid lines and their values, from 0 to `top`.
fn y_grid(s: &mut String, top: u64, step: u64) {
    s.push_str("<g class=\"grid\">");
    let mut next = Some(0);
    while let Some(v) = next.filter(|v| *v <= top) {
        let y = c(y_of(v, top));
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 8.0,
            c(y_of(v, top) + 5.0),
            compact(v)
        );
        next = v.checked_add(step);
    }
    s.push_str("</g>");
}

/// The centre of column `i` of `n`, and the width of a slot.
fn slot(i: usize, n: usize) -> (f64, f64) {
    let w = (W - RIGHT - LEFT) / n.max(1) as f64;
    (LEFT + w * (i as f64 + 0.5), w)
}

/// One group per series, one stroked path per non-zero segment, stacked in series order.
fn bars(s: &mut String, columns: &[Column], series: &[Series], top: u64) {
    let n = columns.len();
    let (_, w) = slot(0, n);
    let bw = c((w * 0.7).clamp(0.6, 48.0));
    s.push_str("<g class=\"bars\">");
    for (k, ser) in series.iter().enumerate() {
        let _ = write!(
            s,
            "<g stroke=\"{}\" stroke-width=\"{bw}\">",
            esc(ser.colour)
        );
        for (i, col) in columns.iter().enumerate() {
            let v = col.values.get(k).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let below = sum(&col.values[..k.min(col.values.len())]);
            let (x, _) = slot(i, n);
            let _ = write!(
                s,
                "<path d=\"M{} {}V{}\"/>",
                c(x),
                c(y_of(below, top)),
                c(y_of(below.saturating_add(v), top))
            );
        }
        s.push_str("</g>");
    }
    s.push_str("</g>");
}

/// At most [`X_LABELS`] column labels, the last column's always; every other one (counting
/// from the last) is `alt`, hidden on phones. Labels near an edge are anchored inside it.
fn x_labels(s: &mut String, columns: &[Column]) {
    let n = columns.len();
    if n == 0 {
        return;
    }
    let every = n.div_ceil(X_LABELS).max(1);
    s.push_str("<g class=\"ticks\">");
    for (j, i) in (0..n).rev().step_by(every).enumerate() {
        let (x, w) = slot(i, n);
        let (x, anchor) = if n > 1 && x - LEFT < 40.0 {
            (x - w / 2.0, "start")
        } else if n > 1 && W - RIGHT - x < 40.0 {
            (x + w / 2.0, "end")
        } else {
            (x, "middle")
        };
        let alt = if j % 2 == 1 { " class=\"alt\"" } else { "" };
        let _ = write!(
            s,
            "<text{alt} x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            c(x),
            BASE + 24.0,
            esc(columns[i].label)
        );
    }
    s.push_str("</g>");
}

/// The legend: one item per series, a swatch of its colour and its label.
pub fn legend(series: &[Series]) -> String {
    let items: String = series
        .iter()
        .map(|s| {
            format!(
                "<li><svg width=\"14\" height=\"14\" viewBox=\"0 0 14 14\" aria-hidden=\"true\">\
                 <rect width=\"14\" height=\"14\" rx=\"2\" fill=\"{}\"/></svg>{}</li>",
                esc(s.colour),
                esc(s.label)
            )
        })
        .collect();
    format!("<ul class=\"legend\">{items}</ul>")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIES: [Series; 3] = [
        Series {
            label: "a",
            colour: "#1e7b3a",
        },
        Series {
            label: "b",
            colour: "#b26a00",
        },
        Series {
            label: "c",
            colour: "#c21f35",
        },
    ];

    fn texts() -> Texts<'static> {
        Texts {
            title: "Scans <per> day & \"verdict\"",
            y_axis: "Scans",
            x_axis: "Day (UTC)",
            empty: "No scans",
        }
    }

    fn paths(svg: &str) -> usize {
        svg.matches("<path ").count()
    }

    #[test]
    fn one_segment_per_non_zero_value_stacked_from_the_axis() {
        let vals = [[3u64, 0, 1], [0, 0, 0], [2, 2, 2]];
        let labels = ["2026-12-01", "2026-12-02", "2026-12-03"];
        let cols: Vec<Column> = labels
            .iter()
            .zip(&vals)
            .map(|(l, v)| Column {
                label: l,
                values: v,
            })
            .collect();
        let svg = stacked_bars(&cols, &SERIES, &texts());
        assert_eq!(paths(&svg), 5);
        assert!(svg.starts_with("<svg class=\"chart\" viewBox=\"0 0 560 330\" role=\"img\""));
        assert!(svg.contains(
            "<title id=\"chart-title\">Scans &lt;per&gt; day &amp; &quot;verdict&quot;</title>"
        ));
        // Max 6: grid step 2, top 6; the first column's green segment runs from 0 to 3.
        assert!(
            svg.contains(">6</text>") && !svg.contains(">8</text>"),
            "{svg}"
        );
        let (x, _) = slot(0, 3);
        let seg = format!("M{} {}V{}", c(x), c(BASE), c(y_of(3, 6)));
        assert!(svg.contains(&seg), "{seg} in {svg}");
        // The third column's red segment sits on the other two.
        let (x, _) = slot(2, 3);
        assert!(svg.contains(&format!("M{} {}V{}", c(x), c(y_of(4, 6)), c(TOP))));
        assert!(svg.contains(">2026-12-03</text>") && !svg.contains("No scans"));
        assert!(legend(&SERIES).matches("<li>").count() == 3);
    }

    #[test]
    fn texts_are_escaped() {
        let col = [Column {
            label: "<b>&",
            values: &[1],
        }];
        let evil = Series {
            label: "<script>",
            colour: "\"><x",
        };
        let svg = stacked_bars(&col, std::slice::from_ref(&evil), &texts());
        assert!(svg.contains("&lt;b&gt;&amp;") && !svg.contains("<b>"));
        assert!(!svg.contains("\"><x"));
        let l = legend(&[evil]);
        assert!(l.contains("&lt;script&gt;") && !l.contains("<script>") && !l.contains("\"><x"));
    }

    #[test]
    fn an_empty_range_and_an_all_zero_range_draw_axes_and_say_so() {
        let svg = stacked_bars(&[], &SERIES, &texts());
        assert_eq!(paths(&svg), 0);
        assert!(svg.contains("No scans") && svg.ends_with("</svg>"));
        let zeros = [0u64; 3];
        let cols: Vec<Column> = (0..30)
            .map(|_| Column {
                label: "d",
                values: &zeros,
            })
            .collect();
        let svg = stacked_bars(&cols, &SERIES, &texts());
        assert_eq!(paths(&svg), 0);
        assert!(svg.contains("No scans"));
        assert_eq!(svg.matches(">d</text>").count(), 5, "at most 5 date labels");
    }

    #[test]
    fn a_year_of_full_columns_stays_small_and_steps_are_round() {
        let vals = [123_456u64, 7_890, 45_678];
        let cols: Vec<Column> = (0..366)
            .map(|_| Column {
                label: "2026-12-05",
                values: &vals,
            })
            .collect();
        let svg = stacked_bars(&cols, &SERIES, &texts());
        assert_eq!(paths(&svg), 366 * 3);
        assert!(svg.len() < 45_000, "{} bytes", svg.len());
        assert_eq!(step_for(1), 1);
        assert_eq!(step_for(6), 2);
        assert_eq!(step_for(11), 5);
        assert_eq!(step_for(177_024), 50_000);
        assert_eq!(step_for(u64::MAX), 5_000_000_000_000_000_000);
        let huge = [u64::MAX, u64::MAX, 1];
        let col = [Column {
            label: "x",
            values: &huge,
        }];
        assert_eq!(
            paths(&stacked_bars(&col, &SERIES, &texts())),
            3,
            "no overflow"
        );
        assert_eq!(compact(9_999), "9999");
        assert_eq!(compact(50_000), "50k");
        assert_eq!(compact(1_500_000), "1.5M");
    }
}

//! The print form of a batch page and what it asks for: format, label stock (a stock sheet or
//! a custom grid; the label size of PNG, SVG and ZPL), range and reprint reason; the preview of
//! the job's first page before anything is printed; and the batch's print history.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::kit::tr;
use crate::http::page::{esc, Lang};
use crate::labels::job::LabelFormat;
use crate::service::issuance::Batch;
use crate::service::printing::{PrintJob, PrintJobRequest};

/// The print form's fields (the preview's too; every field but the format may be empty).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(super) struct PrintForm {
    #[serde(default, skip_serializing)]
    pub csrf_token: String,
    pub format: Option<LabelFormat>,
    #[serde(default)]
    pub sheet: String,
    #[serde(default)]
    pub columns: String,
    #[serde(default)]
    pub rows: String,
    #[serde(default)]
    pub label_width_mm: String,
    #[serde(default)]
    pub label_height_mm: String,
    #[serde(default)]
    pub margin_left_mm: String,
    #[serde(default)]
    pub margin_top_mm: String,
    #[serde(default)]
    pub gap_mm: String,
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub count: String,
    #[serde(default, skip_serializing)]
    pub reprint_reason: String,
}

/// Why a form cannot become a print request (shown in the page's language).
pub(super) struct FormError(pub &'static str, pub &'static str);

fn number(v: &str, what: (&'static str, &'static str)) -> Result<Option<f64>, FormError> {
    match v.trim() {
        "" => Ok(None),
        t => t
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or(FormError(what.0, what.1)),
    }
}

fn whole(v: &str, what: (&'static str, &'static str)) -> Result<Option<u64>, FormError> {
    match v.trim() {
        "" => Ok(None),
        t => t
            .parse::<u64>()
            .map(Some)
            .map_err(|_| FormError(what.0, what.1)),
    }
}

const SIZE: (&str, &str) = (
    "标签尺寸须为数字（毫米）。",
    "Label sizes must be numbers (mm).",
);
const GRID: (&str, &str) = (
    "自定义网格的行列数须为整数。",
    "The custom grid's columns and rows must be whole numbers.",
);
const RANGE: (&str, &str) = (
    "起始和数量须为整数。",
    "First label and number must be whole numbers.",
);

impl PrintForm {
    /// The API request the form stands for (what `POST /api/v1/batches/{id}/print-jobs`
    /// would get); the service checks the rest as it checks the API's.
    pub fn request(&self) -> Result<PrintJobRequest, FormError> {
        let format = self
            .format
            .ok_or(FormError("请选择格式。", "Choose a format."))?;
        let start = whole(&self.start, RANGE)?.unwrap_or(0);
        let count = whole(&self.count, RANGE)?
            .ok_or(FormError("请填写标签数量。", "Enter the number of labels."))?;
        Ok(PrintJobRequest {
            format,
            layout: self.layout(format)?,
            range: Some([start, count]),
            reprint_reason: Some(self.reprint_reason.trim().to_string()).filter(|r| !r.is_empty()),
        })
    }

    fn layout(&self, format: LabelFormat) -> Result<Option<Value>, FormError> {
        let (w, h) = (
            number(&self.label_width_mm, SIZE)?,
            number(&self.label_height_mm, SIZE)?,
        );
        if format != LabelFormat::Pdf {
            let mut l = serde_json::Map::new();
            if let Some(w) = w {
                l.insert("width_mm".into(), json!(w));
            }
            if let Some(h) = h {
                l.insert("height_mm".into(), json!(h));
            }
            return Ok((!l.is_empty()).then_some(Value::Object(l)));
        }
        match self.sheet.as_str() {
            "" | "a4-3x8" => Ok(None),
            "a4-4x10" => Ok(Some(json!({"sheet": "a4-4x10"}))),
            "custom" => self.custom_grid(w, h).map(Some),
            _ => Err(FormError("没有这种标签纸。", "No such label sheet.")),
        }
    }

    /// A custom grid on A4: the labels' size, columns and rows, the first label's margins
    /// and the gap between labels (pitch = size + gap).
    fn custom_grid(&self, w: Option<f64>, h: Option<f64>) -> Result<Value, FormError> {
        let need = FormError(
            "自定义网格需要列数、行数和标签宽高。",
            "A custom grid needs columns, rows, and the label width and height.",
        );
        let (Some(c), Some(r), Some(w), Some(h)) =
            (whole(&self.columns, GRID)?, whole(&self.rows, GRID)?, w, h)
        else {
            return Err(need);
        };
        let gap = number(&self.gap_mm, SIZE)?.unwrap_or(0.0);
        Ok(json!({"sheet": "custom", "grid": {
            "page_width_mm": 210.0, "page_height_mm": 297.0, "columns": c, "rows": r,
            "margin_left_mm": number(&self.margin_left_mm, SIZE)?.unwrap_or(0.0),
            "margin_top_mm": number(&self.margin_top_mm, SIZE)?.unwrap_or(0.0),
            "pitch_x_mm": w + gap, "pitch_y_mm": h + gap,
            "label_width_mm": w, "label_height_mm": h,
        }}))
    }

    /// The form's fields as a query string (the preview image's URL; no token, no reason).
    pub fn query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

fn opt(lang: Lang, value: &str, chosen: &str, zh: &str, en: &str) -> String {
    let sel = if value == chosen { " selected" } else { "" };
    format!(
        "<option value=\"{value}\"{sel}>{}</option>",
        esc(tr(lang, zh, en))
    )
}

fn field(id: &str, label: &str, value: &str) -> String {
    format!(
        "<div><label for=\"{id}\">{}</label><input type=\"text\" inputmode=\"decimal\" id=\"{id}\" name=\"{id}\" value=\"{}\"></div>",
        esc(label),
        esc(value)
    )
}

/// (value, Chinese, English) of each choice of a select.
type Choice = (&'static str, &'static str, &'static str);

const FORMATS: [Choice; 4] = [
    (
        "pdf",
        "PDF 标签纸（办公打印机）",
        "PDF label sheets (office printer)",
    ),
    (
        "zpl",
        "ZPL（斑马热敏打印机）",
        "ZPL (Zebra thermal printer)",
    ),
    ("png", "PNG 图片包", "PNG archive"),
    ("svg", "SVG 图片包", "SVG archive"),
];
const SHEETS: [Choice; 3] = [
    ("a4-3x8", "A4 3×8（70×37 毫米）", "A4 3×8 (70×37 mm)"),
    (
        "a4-4x10",
        "A4 4×10（52.5×29.7 毫米）",
        "A4 4×10 (52.5×29.7 mm)",
    ),
    ("custom", "自定义网格（A4）", "Custom grid (A4)"),
];
/// (field name, Chinese, English) of the custom grid's and the label size's fields.
const GRID_FIELDS: [Choice; 5] = [
    ("columns", "列数", "Columns"),
    ("rows", "行数", "Rows"),
    ("margin_left_mm", "左边距（毫米）", "Left margin (mm)"),
    ("margin_top_mm", "上边距（毫米）", "Top margin (mm)"),
    ("gap_mm", "标签间距（毫米）", "Gap between labels (mm)"),
];
const SIZE_FIELDS: [Choice; 2] = [
    ("label_width_mm", "标签宽（毫米）", "Label width (mm)"),
    ("label_height_mm", "标签高（毫米）", "Label height (mm)"),
];

fn options(lang: Lang, list: &[Choice], chosen: &str) -> String {
    list.iter()
        .map(|(v, zh, en)| opt(lang, v, chosen, zh, en))
        .collect()
}

fn fields(lang: Lang, list: &[Choice], f: &PrintForm) -> String {
    list.iter()
        .map(|(id, zh, en)| field(id, tr(lang, zh, en), f.value(id)))
        .collect()
}

impl PrintForm {
    /// The value of the layout field `id` as typed.
    fn value(&self, id: &str) -> &str {
        match id {
            "columns" => &self.columns,
            "rows" => &self.rows,
            "margin_left_mm" => &self.margin_left_mm,
            "margin_top_mm" => &self.margin_top_mm,
            "gap_mm" => &self.gap_mm,
            "label_width_mm" => &self.label_width_mm,
            "label_height_mm" => &self.label_height_mm,
            _ => "",
        }
    }
}

/// The print form of batch `b`, filled with `f` (a preview's values, or the defaults).
pub(super) fn render(lang: Lang, b: &Batch, csrf: &str, f: &PrintForm) -> String {
    let fmt = f
        .format
        .and_then(|x| serde_json::to_value(x).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "pdf".into());
    let sheet = if f.sheet.is_empty() {
        "a4-3x8"
    } else {
        &f.sheet
    };
    let count = if f.count.is_empty() {
        b.issued.to_string()
    } else {
        f.count.clone()
    };
    let start = if f.start.is_empty() { "0" } else { &f.start };
    let formats = options(lang, &FORMATS, &fmt);
    let sheets = options(lang, &SHEETS, sheet);
    let grid = fields(lang, &GRID_FIELDS, f);
    let size = fields(lang, &SIZE_FIELDS, f);
    format!(
        "<section><h2>{h}</h2><form method=\"post\" action=\"/console/batches/{id}/print\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"format\">{fl}</label><select id=\"format\" name=\"format\">{formats}</select>\
         <label for=\"sheet\">{sl}</label><select id=\"sheet\" name=\"sheet\">{sheets}</select>\
         <fieldset class=\"grid\"><legend>{sz}</legend>{size}</fieldset>\
         <fieldset class=\"grid\"><legend>{gl}</legend>{grid}</fieldset>\
         <label for=\"start\">{s}</label><input type=\"text\" inputmode=\"numeric\" id=\"start\" name=\"start\" value=\"{start}\">\
         <label for=\"count\">{c}</label><input type=\"text\" inputmode=\"numeric\" id=\"count\" name=\"count\" value=\"{count}\">\
         <label for=\"reprint_reason\">{r}</label><input type=\"text\" id=\"reprint_reason\" name=\"reprint_reason\" value=\"{reason}\">\
         <div class=\"buttons\"><button class=\"secondary\" type=\"submit\" id=\"preview\" formaction=\"/console/batches/{id}/preview\">{pv}</button>\
         <button class=\"primary\" type=\"submit\" id=\"print\">{go}</button></div></form></section>",
        h = tr(lang, "打印标签", "Print labels"),
        id = b.id,
        csrf = esc(csrf),
        fl = tr(lang, "格式", "Format"),
        sl = tr(lang, "标签纸（PDF）", "Label sheet (PDF)"),
        sz = tr(lang, "标签尺寸（自定义网格、PNG、SVG、ZPL；空＝默认）", "Label size (custom grid, PNG, SVG, ZPL; empty = default)"),
        gl = tr(lang, "自定义网格", "Custom grid"),
        start = esc(start),
        count = esc(&count),
        reason = esc(&f.reprint_reason),
        s = tr(lang, "从第几个标签开始（0 起）", "First label (from 0)"),
        c = tr(lang, "标签数量", "Number of labels"),
        r = tr(lang, "重印原因（重印时必填，会记入日志）", "Reprint reason (required to print again; logged)"),
        pv = tr(lang, "预览第一页", "Preview the first page"),
        go = tr(lang, "创建打印任务", "Create the print job"),
    )
}

/// The preview image of the job the form describes (`/console/batches/{id}/preview.svg?…`).
pub(super) fn preview_figure(lang: Lang, b: &Batch, f: &PrintForm) -> String {
    format!(
        "<section><h2>{}</h2><figure class=\"preview\"><img id=\"preview-image\" src=\"/console/batches/{}/preview.svg?{}\" alt=\"{}\"></figure><p class=\"muted\">{}</p></section>",
        tr(lang, "预览", "Preview"),
        b.id,
        esc(&f.query()),
        tr(lang, "打印任务第一页的预览", "Preview of the print job's first page"),
        tr(lang, "预览不记录任何打印；确认无误后点“创建打印任务”。", "A preview records no print; check it, then create the print job."),
    )
}

/// The batch's print history: every job, newest first (prints and reprints).
pub(super) fn history(lang: Lang, jobs: &[PrintJob]) -> String {
    let title = tr(lang, "打印记录", "Print history");
    if jobs.is_empty() {
        let none = tr(lang, "还没有打印过。", "Nothing printed yet.");
        return format!("<section><h2>{title}</h2><p class=\"muted\">{none}</p></section>");
    }
    let head: String = [
        ("任务", "Job"),
        ("时间", "Created"),
        ("格式", "Format"),
        ("标签", "Labels"),
        ("重印", "Reprinted"),
        ("重印原因", "Reprint reason"),
        ("下载次数", "Downloads"),
    ]
    .iter()
    .map(|(z, e)| format!("<th scope=\"col\">{}</th>", tr(lang, z, e)))
    .collect();
    let mut rows = String::new();
    for j in jobs {
        let fmt = serde_json::to_value(j.format).unwrap_or_default();
        let _ = write!(
            rows,
            "<tr><td><a href=\"/console/print-jobs/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}–{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&j.created_at),
            esc(fmt.as_str().unwrap_or_default()),
            j.start,
            j.start + j.count,
            j.reprinted,
            esc(j.reprint_reason.as_deref().unwrap_or("")),
            j.output_fetches,
            id = j.id,
        );
    }
    format!("<section><h2>{title}</h2><div class=\"table\"><table class=\"history\"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div></section>")
}

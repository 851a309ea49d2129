//! Label output formats and their dispatch: which layout each format takes, how a layout is
//! checked and prepared against the worst label of a job, and how labels become bytes (ZPL
//! programs, PNG or SVG files in a ustar archive, PDF sheets streamed a page at a time). The
//! print-job use case (records, reprints, progress) is `service::printing`'s; adding a format
//! touches this file and its renderer module only.

use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::font::{Font, FontError};
use super::layout::{Frame, LabelSpec, Placed};
use super::pdf::{PdfStream, Sheet};
use super::zpl::{self, ZplLayout};
use super::{png, svg, tar, EcLevel, LabelData, LayoutError};

/// Output formats available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelFormat {
    /// ZPL II for Zebra-compatible thermal printers.
    Zpl,
    /// PNG per label (in a tar archive).
    Png,
    /// SVG per label (in a tar archive).
    Svg,
    /// PDF label sheets for office printers.
    Pdf,
}

impl LabelFormat {
    /// Labels rendered per chunk of output.
    pub fn chunk(self) -> usize {
        match self {
            LabelFormat::Zpl => 4096,
            LabelFormat::Pdf => 240,
            LabelFormat::Png | LabelFormat::Svg => 64,
        }
    }

    /// `Content-Type` of the output.
    pub fn content_type(self) -> &'static str {
        match self {
            LabelFormat::Zpl => "text/plain; charset=utf-8",
            LabelFormat::Pdf => "application/pdf",
            LabelFormat::Png | LabelFormat::Svg => "application/x-tar",
        }
    }

    /// File name extension of the output.
    pub fn extension(self) -> &'static str {
        match self {
            LabelFormat::Zpl => "zpl",
            LabelFormat::Pdf => "pdf",
            LabelFormat::Png => "png.tar",
            LabelFormat::Svg => "svg.tar",
        }
    }
}

fn d_width() -> f64 {
    60.0
}
fn d_height() -> f64 {
    40.0
}
fn d_dpi() -> u32 {
    300
}

/// Layout of PNG and SVG labels (all fields optional).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageLayout {
    /// Label width, mm (default 60).
    #[serde(default = "d_width")]
    pub width_mm: f64,
    /// Label height, mm (default 40).
    #[serde(default = "d_height")]
    pub height_mm: f64,
    /// QR module size, mm, at least 0.33 (default: the largest up to 0.5 the label allows).
    /// PNG modules are whole pixels at `dpi`.
    #[serde(default)]
    pub module_mm: Option<f64>,
    /// PNG resolution, 72 to 1200 dpi (default 300).
    #[serde(default = "d_dpi")]
    pub dpi: u32,
    /// Error correction L, M (default), Q or H.
    #[serde(default)]
    #[schema(value_type = String)]
    pub ec: EcLevel,
}

impl Default for ImageLayout {
    fn default() -> Self {
        ImageLayout {
            width_mm: d_width(),
            height_mm: d_height(),
            module_mm: None,
            dpi: d_dpi(),
            ec: EcLevel::M,
        }
    }
}

/// Label stock of a PDF job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum SheetKind {
    /// A4, 3 × 8 labels of 70 × 37 mm.
    #[default]
    #[serde(rename = "a4-3x8")]
    A4x3x8,
    /// A4, 4 × 10 labels of 52.5 × 29.7 mm.
    #[serde(rename = "a4-4x10")]
    A4x4x10,
    /// The grid given in `grid`.
    #[serde(rename = "custom")]
    Custom,
}

/// Layout of a PDF job (all fields optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SheetLayout {
    /// `a4-3x8` (default), `a4-4x10` or `custom`.
    #[serde(default)]
    pub sheet: SheetKind,
    /// The grid of a `custom` sheet: page size, columns, rows, margins, pitch, label size.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub grid: Option<Sheet>,
    /// QR module size, mm, at least 0.33 (default: the largest up to 0.5 the label allows).
    #[serde(default)]
    pub module_mm: Option<f64>,
    /// Error correction L, M (default), Q or H.
    #[serde(default)]
    #[schema(value_type = String)]
    pub ec: EcLevel,
}

impl SheetLayout {
    /// The sheet's grid.
    pub fn sheet(&self) -> std::result::Result<Sheet, SheetChoiceError> {
        match (self.sheet, self.grid) {
            (SheetKind::A4x3x8, None) => Ok(Sheet::A4_3X8),
            (SheetKind::A4x4x10, None) => Ok(Sheet::A4_4X10),
            (SheetKind::Custom, Some(g)) => Ok(g),
            (SheetKind::Custom, None) => Err(SheetChoiceError::CustomWithoutGrid),
            (_, Some(_)) => Err(SheetChoiceError::GridWithoutCustom),
        }
    }
}

/// A sheet layout whose `sheet` and `grid` do not go together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SheetChoiceError {
    /// `custom` without its grid.
    #[error("a custom sheet needs a grid: page_width_mm, page_height_mm, columns, rows, margin_left_mm, margin_top_mm, pitch_x_mm, pitch_y_mm, label_width_mm, label_height_mm")]
    CustomWithoutGrid,
    /// A grid with a stock sheet.
    #[error("grid is only for sheet \"custom\"")]
    GridWithoutCustom,
}

/// A job's layout, by format.
#[derive(Clone, Debug, PartialEq)]
pub enum JobLayout {
    /// ZPL.
    Zpl(ZplLayout),
    /// PNG or SVG.
    Image(ImageLayout),
    /// PDF.
    Sheet(SheetLayout),
}

impl JobLayout {
    /// Reads the `layout` of a request or stored job for `format` (`None`: the defaults).
    pub fn parse(
        format: LabelFormat,
        v: Option<&serde_json::Value>,
    ) -> std::result::Result<Self, serde_json::Error> {
        fn de<T: serde::de::DeserializeOwned + Default>(
            v: Option<&serde_json::Value>,
        ) -> std::result::Result<T, serde_json::Error> {
            match v {
                None | Some(serde_json::Value::Null) => Ok(T::default()),
                Some(v) => T::deserialize(v),
            }
        }
        Ok(match format {
            LabelFormat::Zpl => JobLayout::Zpl(de(v)?),
            LabelFormat::Png | LabelFormat::Svg => JobLayout::Image(de(v)?),
            LabelFormat::Pdf => JobLayout::Sheet(de(v)?),
        })
    }

    /// As JSON (every field spelled out).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            JobLayout::Zpl(l) => serde_json::to_value(l),
            JobLayout::Image(l) => serde_json::to_value(l),
            JobLayout::Sheet(l) => serde_json::to_value(l),
        }
        .unwrap_or_default()
    }
}

/// Why a job's output cannot be prepared or rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The layout does not fit the labels or is not a valid layout (the request's problem).
    #[error("layout: {0}")]
    Layout(#[from] LayoutError),
    /// The layout is malformed.
    #[error("layout: {0}")]
    Invalid(String),
    /// The label font cannot be used (ours).
    #[error("{0}")]
    Font(#[from] FontError),
}

/// A prepared renderer: the format, its checked layout and the font.
pub enum Renderer {
    /// ZPL II.
    Zpl(ZplLayout),
    /// One PNG (`dpi`) or SVG (`None`) file per label.
    Image {
        /// The label frame, checked with the job's worst label.
        frame: Frame,
        /// PNG resolution; `None` for SVG.
        dpi: Option<u32>,
        /// The label font.
        font: Arc<Font>,
    },
    /// PDF sheets.
    Sheet {
        /// The sheet's grid.
        sheet: Sheet,
        /// The label frame, checked with the job's worst label.
        frame: Frame,
        /// The label font.
        font: Arc<Font>,
    },
}

impl Renderer {
    /// Checks `layout` for `format` with `sample` (the job's worst label: longest code,
    /// widest serial), so no label of the job can fail to fit later. `font` loads the label
    /// font (ZPL needs none: the printer draws its text).
    pub fn prepare(
        format: LabelFormat,
        layout: &JobLayout,
        sample: &LabelData,
        font: impl Fn() -> Result<Arc<Font>, FontError>,
    ) -> Result<Renderer, RenderError> {
        let spec = |width_mm, height_mm, module_mm, ec| LabelSpec {
            width_mm,
            height_mm,
            module_mm,
            ec,
        };
        Ok(match layout {
            JobLayout::Zpl(z) => {
                zpl::label(sample, z)?;
                Renderer::Zpl(z.clone())
            }
            JobLayout::Image(l) => {
                let font = font()?;
                let spec = spec(l.width_mm, l.height_mm, l.module_mm, l.ec);
                // PNG snaps modules to whole pixels at its resolution; SVG is vector (no dpi).
                let (frame, dpi) = if format == LabelFormat::Png {
                    (super::png::frame(&spec, l.dpi, sample, &font)?, Some(l.dpi))
                } else {
                    (spec.frame_for(sample, &font)?, None)
                };
                Renderer::Image { frame, dpi, font }
            }
            JobLayout::Sheet(l) => {
                let sheet = l.sheet().map_err(|e| RenderError::Invalid(e.to_string()))?;
                sheet.check()?;
                let font = font()?;
                let frame = spec(
                    sheet.label_width_mm,
                    sheet.label_height_mm,
                    l.module_mm,
                    l.ec,
                )
                .frame_for(sample, &font)?;
                Renderer::Sheet { sheet, frame, font }
            }
        })
    }
}

/// A job's output in progress: labels go in a chunk at a time, bytes come out.
pub struct Output {
    renderer: Renderer,
    pdf: Option<PdfStream>,
}

impl Output {
    /// Starts the output (`title`: the PDF document's title).
    pub fn start(renderer: Renderer, title: &str) -> Result<Output, RenderError> {
        let pdf = match &renderer {
            Renderer::Sheet { sheet, font, .. } => {
                Some(PdfStream::new(font.clone(), *sheet, title)?)
            }
            _ => None,
        };
        Ok(Output { renderer, pdf })
    }

    /// The bytes of `labels` (with their ordinals in the batch; `mtime` for archive entries).
    /// Labels are encoded and drawn in parallel (QR encoding dominates), then written in
    /// order.
    pub fn render(
        &mut self,
        labels: &[(u64, LabelData)],
        mtime: u64,
    ) -> Result<Vec<u8>, RenderError> {
        let mut out = Vec::new();
        match &self.renderer {
            Renderer::Zpl(z) => {
                for (_, d) in labels {
                    out.extend(zpl::label(d, z)?.into_bytes());
                }
            }
            Renderer::Image { frame, dpi, font } => {
                let files: Vec<Result<(String, Vec<u8>), LayoutError>> = labels
                    .par_iter()
                    .map(|(ordinal, d)| {
                        let p = frame.place(d, font)?;
                        Ok(match dpi {
                            Some(dpi) => (
                                entry_name(*ordinal, &d.serial, "png"),
                                png::render(&p, *dpi, font),
                            ),
                            None => (
                                entry_name(*ordinal, &d.serial, "svg"),
                                svg::render(&p, font).into_bytes(),
                            ),
                        })
                    })
                    .collect();
                for f in files {
                    let (name, data) = f?;
                    out.extend(tar::entry(&name, &data, mtime));
                }
            }
            Renderer::Sheet { frame, font, .. } => {
                let placed: Vec<Result<Placed, LayoutError>> = labels
                    .par_iter()
                    .map(|(_, d)| frame.place(d, font))
                    .collect();
                for p in placed {
                    let p = p?;
                    if let Some(pdf) = self.pdf.as_mut() {
                        pdf.add(&p);
                    }
                }
            }
        }
        if let Some(pdf) = self.pdf.as_mut() {
            out.extend(pdf.take());
        }
        Ok(out)
    }

    /// The end of the output: the PDF trailer, the tar end marker, nothing for ZPL.
    pub fn finish(&mut self) -> Result<Vec<u8>, RenderError> {
        Ok(match (&self.renderer, self.pdf.take()) {
            (Renderer::Sheet { .. }, Some(pdf)) => pdf.finish()?,
            (Renderer::Image { .. }, _) => tar::end(),
            _ => Vec::new(),
        })
    }
}

/// A tar entry name for a label: its position in the batch and its serial (characters other
/// than letters, digits, `.`, `-` and `_` become `_`).
pub fn entry_name(ordinal: u64, serial: &str, ext: &str) -> String {
    let safe: String = serial
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{ordinal:07}-{safe}.{ext}")
}

/// Whether `name` is a tar entry name as [`entry_name`] writes them (what a client may safely
/// create in its output directory: one path component, no `..`, no hidden file).
pub fn is_entry_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    let Some((ordinal, serial)) = stem.split_once('-') else {
        return false;
    };
    matches!(ext, "png" | "svg")
        && ordinal.len() == 7
        && ordinal.bytes().all(|b| b.is_ascii_digit())
        && !serial.is_empty()
        && serial.len() <= 80
        && serial
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

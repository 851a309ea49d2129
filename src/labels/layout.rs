//! One label's geometry, shared by the PNG, SVG and PDF renderers: where the QR symbol goes
//! (with its 4-module quiet zone), the module size, and the text column beside it, in
//! millimetres. The QR matrix comes from the `qrcode` crate.
//!
//! ```text
//! ┌──────────────────────────────────────────────┐
//! │ quiet ┌─────────┐ quiet  婴儿配方奶粉 1段     │
//! │       │ ▀▄█ ▄▀█ │        Infant formula       │
//! │       │ QR code │        GTIN 09506000134352  │
//! │       │ █▄▀ ▀▄▄ │        LOT L2026-11         │
//! │       └─────────┘        EXP 2028-06-30       │
//! │                          SN AbCdEfGh1234567   │
//! │                          扫码验真 Scan to verify│
//! └──────────────────────────────────────────────┘
//! ```

use super::font::{Font, FontError};
use super::{EcLevel, LabelData, LayoutError, MIN_MODULE_MM, QUIET_MODULES, SCAN_TO_VERIFY};

/// Smallest text size (em height), mm: about 4.5 pt.
pub const MIN_TEXT_MM: f64 = 1.6;
/// Largest text size, mm: about 9 pt.
pub const MAX_TEXT_MM: f64 = 3.2;
/// Narrowest text column, mm.
pub const MIN_TEXT_COLUMN_MM: f64 = 18.0;
/// Margin inside the label edge for text, mm.
pub const EDGE_MM: f64 = 1.5;
/// Line pitch, in text sizes.
const LEADING: f64 = 1.3;
/// Largest default module, mm.
const DEFAULT_MODULE_CAP_MM: f64 = 0.5;

impl From<FontError> for LayoutError {
    fn from(e: FontError) -> Self {
        LayoutError::Invalid(e.to_string())
    }
}

/// A QR symbol: `size` × `size` modules, row-major, `true` = dark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qr {
    /// Modules per side (without the quiet zone).
    pub size: usize,
    /// Dark modules.
    pub dark: Vec<bool>,
}

impl Qr {
    /// Encodes `code` exactly (the bytes of the string) at error-correction level `ec`.
    pub fn encode(code: &str, ec: EcLevel) -> Result<Qr, LayoutError> {
        let level = match ec {
            EcLevel::L => qrcode::EcLevel::L,
            EcLevel::M => qrcode::EcLevel::M,
            EcLevel::Q => qrcode::EcLevel::Q,
            EcLevel::H => qrcode::EcLevel::H,
        };
        let q = qrcode::QrCode::with_error_correction_level(code.as_bytes(), level)
            .map_err(|e| LayoutError::DoesNotFit(format!("the code cannot be QR-encoded: {e}")))?;
        Ok(Qr {
            size: q.width(),
            dark: q
                .to_colors()
                .into_iter()
                .map(|c| c == qrcode::Color::Dark)
                .collect(),
        })
    }

    /// Whether the module at column `x`, row `y` is dark.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.size + x]
    }

    /// Horizontal runs of dark modules: (row, first column, length).
    pub fn runs(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        (0..self.size).flat_map(move |y| {
            let mut runs = Vec::new();
            let mut x = 0;
            while x < self.size {
                if self.is_dark(x, y) {
                    let s = x;
                    while x < self.size && self.is_dark(x, y) {
                        x += 1;
                    }
                    runs.push((y, s, x - s));
                } else {
                    x += 1;
                }
            }
            runs
        })
    }
}

/// Size and QR settings of one label (PNG, SVG, or a cell of a PDF sheet).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelSpec {
    /// Width, mm.
    pub width_mm: f64,
    /// Height, mm.
    pub height_mm: f64,
    /// QR module size, mm; `None` picks the largest (up to 0.5 mm) the label allows.
    pub module_mm: Option<f64>,
    /// Error correction.
    pub ec: EcLevel,
}

/// Where things go on a label, for codes of a given length.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Label width, mm.
    pub width_mm: f64,
    /// Label height, mm.
    pub height_mm: f64,
    /// Module size, mm.
    pub module_mm: f64,
    /// Modules per side of the largest symbol a code of this length needs.
    pub box_modules: usize,
    /// Top-left corner of that symbol (inside the quiet zone), mm from the label's top-left.
    pub qr_x_mm: f64,
    /// See `qr_x_mm`.
    pub qr_y_mm: f64,
    /// Left edge and width of the text column, mm.
    pub text_x_mm: f64,
    /// See `text_x_mm`.
    pub text_w_mm: f64,
    /// Text size (em), mm.
    pub text_mm: f64,
    /// Top of the text block, mm.
    pub text_top_mm: f64,
    ec: EcLevel,
}

/// A line of text placed on a label.
#[derive(Clone, Debug, PartialEq)]
pub struct TextLine {
    /// The text (possibly shortened with "…").
    pub text: String,
    /// Glyph ids and their x offsets from the line start, in em.
    pub glyphs: Vec<(u16, f32)>,
    /// Left edge, mm from the label's left.
    pub x_mm: f64,
    /// Baseline, mm from the label's top.
    pub baseline_mm: f64,
    /// Size (em), mm.
    pub size_mm: f64,
}

/// A label ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    /// Its frame.
    pub frame: Frame,
    /// The QR symbol.
    pub qr: Qr,
    /// Top-left of the symbol, mm (centred in the frame's QR box).
    pub qr_x_mm: f64,
    /// See `qr_x_mm`.
    pub qr_y_mm: f64,
    /// Text lines, top to bottom.
    pub lines: Vec<TextLine>,
}

/// The text lines of a label: (text, may be shortened, relative size).
fn texts(d: &LabelData) -> Vec<(String, bool, f64)> {
    let mut v = vec![
        (d.name_zh.clone(), true, 1.15),
        (d.name_en.clone(), true, 1.0),
        (format!("GTIN {}", d.gtin), false, 1.0),
        (format!("LOT {}", d.lot), false, 1.0),
    ];
    if let Some(e) = &d.expiry {
        v.push((format!("EXP {e}"), false, 1.0));
    }
    v.push((format!("SN {}", d.serial), false, 1.0));
    v.push((SCAN_TO_VERIFY.to_string(), false, 1.0));
    v
}

impl LabelSpec {
    /// Checks the spec for codes of `code_len` bytes and lays the label out.
    pub fn frame(&self, code_len: usize, lines: usize) -> Result<Frame, LayoutError> {
        let (w, h) = (self.width_mm, self.height_mm);
        let in_range = |x: f64| x.is_finite() && (10.0..=500.0).contains(&x);
        if !(in_range(w) && in_range(h)) {
            return Err(LayoutError::Invalid(format!(
                "label size {w} × {h} mm must be within 10 to 500 mm each way"
            )));
        }
        let version = self.ec.version_for(code_len).ok_or_else(|| {
            LayoutError::DoesNotFit(format!(
                "a {code_len}-byte code does not fit any QR version"
            ))
        })?;
        let box_modules = super::modules(version) as usize;
        let with_quiet = (box_modules as u32 + 2 * QUIET_MODULES) as f64;
        let module_mm = match self.module_mm {
            Some(m) => {
                if !m.is_finite() || m <= 0.0 || m > 5.0 {
                    return Err(LayoutError::Invalid(format!(
                        "module_mm {m} must be between {MIN_MODULE_MM} and 5"
                    )));
                }
                if m < MIN_MODULE_MM {
                    return Err(LayoutError::BelowMinimum { module_mm: m });
                }
                m
            }
            None => {
                let fit = (h / with_quiet)
                    .min((w - MIN_TEXT_COLUMN_MM - EDGE_MM) / with_quiet)
                    .min(DEFAULT_MODULE_CAP_MM);
                let m = (fit * 100.0).floor() / 100.0;
                if m < MIN_MODULE_MM {
                    return Err(LayoutError::DoesNotFit(format!(
                        "a {w} × {h} mm label is too small for this code: at the {MIN_MODULE_MM} mm minimum module its QR code (version {version}) needs {:.1} mm square with its quiet zone, plus a {MIN_TEXT_COLUMN_MM} mm text column",
                        with_quiet * MIN_MODULE_MM
                    )));
                }
                m
            }
        };
        let qr_side = with_quiet * module_mm;
        if qr_side > h + 1e-9 || qr_side > w + 1e-9 {
            return Err(LayoutError::DoesNotFit(format!(
                "the QR code needs {qr_side:.1} mm square with its quiet zone (version {version}, {module_mm} mm modules); the label is {w} × {h} mm"
            )));
        }
        let text_x = qr_side;
        let text_w = w - text_x - EDGE_MM;
        if text_w < MIN_TEXT_COLUMN_MM - 1e-9 {
            return Err(LayoutError::DoesNotFit(format!(
                "the label leaves {:.1} mm beside the QR code; the text needs at least {MIN_TEXT_COLUMN_MM} mm (use a smaller module_mm or a wider label)",
                text_w.max(0.0)
            )));
        }
        let avail = h - 2.0 * EDGE_MM;
        let text_mm = (avail / (lines as f64 * LEADING + 0.15)).min(MAX_TEXT_MM);
        if text_mm < MIN_TEXT_MM {
            return Err(LayoutError::DoesNotFit(format!(
                "the {lines} text lines need {:.1} mm of height; the label is {h} mm high",
                (lines as f64 * LEADING + 0.15) * MIN_TEXT_MM + 2.0 * EDGE_MM
            )));
        }
        let block = (lines as f64 * LEADING + 0.15) * text_mm;
        let quiet = f64::from(QUIET_MODULES) * module_mm;
        Ok(Frame {
            width_mm: w,
            height_mm: h,
            module_mm,
            box_modules,
            qr_x_mm: quiet,
            qr_y_mm: (h - qr_side) / 2.0 + quiet,
            text_x_mm: text_x,
            text_w_mm: text_w,
            text_mm,
            text_top_mm: (h - block) / 2.0,
            ec: self.ec,
        })
    }

    /// The frame for `d` (its code length and number of lines), checked against `font`.
    ///
    /// A print job calls it with its worst label: the longest code and the widest serial of
    /// its range, so no label of the job can fail once its prints are recorded.
    pub fn frame_for(&self, d: &LabelData, font: &Font) -> Result<Frame, LayoutError> {
        let f = self.frame(d.code.len(), texts(d).len())?;
        f.place(d, font)?;
        Ok(f)
    }
}

impl Frame {
    /// A frame of `width_mm` × `height_mm` holding one symbol of up to `box_modules` modules
    /// of `module_mm` at `ec`, text placed by the caller (a poster, `super::poster`).
    pub fn single(
        width_mm: f64,
        height_mm: f64,
        module_mm: f64,
        box_modules: usize,
        ec: EcLevel,
    ) -> Frame {
        Frame {
            width_mm,
            height_mm,
            module_mm,
            box_modules,
            qr_x_mm: 0.0,
            qr_y_mm: 0.0,
            text_x_mm: 0.0,
            text_w_mm: width_mm,
            text_mm: 0.0,
            text_top_mm: 0.0,
            ec,
        }
    }

    /// Error correction level.
    pub fn ec(&self) -> EcLevel {
        self.ec
    }

    /// Places the text lines of `d`.
    fn lines(&self, d: &LabelData, font: &Font) -> Result<Vec<TextLine>, LayoutError> {
        let ellipsis = if font.glyph('…').is_some() {
            "…"
        } else {
            "..."
        };
        let mut lines = Vec::new();
        for (i, (text, shorten, rel)) in texts(d).into_iter().enumerate() {
            let mut size = self.text_mm * rel;
            let mut text = text;
            let width = |t: &str| f64::from(font.width(t));
            if width(&text) * size > self.text_w_mm {
                size = (self.text_w_mm / width(&text)).max(MIN_TEXT_MM);
                if width(&text) * size > self.text_w_mm + 1e-9 {
                    if !shorten {
                        return Err(LayoutError::DoesNotFit(format!(
                            "{text:?} does not fit the {:.1} mm text column even at {MIN_TEXT_MM} mm; use a wider label or a smaller module_mm",
                            self.text_w_mm
                        )));
                    }
                    let mut chars: Vec<char> = text.chars().collect();
                    while !chars.is_empty() {
                        chars.pop();
                        let t: String =
                            chars.iter().collect::<String>().trim_end().to_string() + ellipsis;
                        if width(&t) * size <= self.text_w_mm {
                            text = t;
                            break;
                        }
                    }
                }
            }
            let mut glyphs = Vec::new();
            let mut x = 0f32;
            for (_, g) in font.glyphs(&text)? {
                glyphs.push((g, x));
                x += font.advance(g);
            }
            lines.push(TextLine {
                text,
                glyphs,
                x_mm: self.text_x_mm,
                baseline_mm: self.text_top_mm
                    + (i as f64 * LEADING + 1.0) * self.text_mm
                    + (rel - 1.0) * self.text_mm * 0.5,
                size_mm: size,
            });
        }
        Ok(lines)
    }

    /// Places one label's QR code and text.
    pub fn place(&self, d: &LabelData, font: &Font) -> Result<Placed, LayoutError> {
        let qr = Qr::encode(&d.code, self.ec)?;
        if qr.size > self.box_modules {
            return Err(LayoutError::DoesNotFit(format!(
                "the code {:?} needs a larger QR symbol than this job's layout ({} > {} modules)",
                d.code, qr.size, self.box_modules
            )));
        }
        let offset = (self.box_modules - qr.size) as f64 / 2.0 * self.module_mm;
        let lines = self.lines(d, font)?;
        Ok(Placed {
            frame: self.clone(),
            qr_x_mm: self.qr_x_mm + offset,
            qr_y_mm: self.qr_y_mm + offset,
            qr,
            lines,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::labels::font::tests::font;

    pub(crate) fn data() -> LabelData {
        LabelData {
            code: "https://trace.example.cn/01/06901234567892/10/L2025-001/21/VTq4rQopsKCpjiEd?17=261231&k=6787cd43&s=8cgefUJzzPhjaViB2nIGzy1xwRBA35TLfNBeV7C4_yndO7Cnou2bLepjwB9bCLKxQm2xXgfbJ53fmJTYHAQiDg".into(),
            name_zh: "澳洲婴儿配方奶粉 1段 900克".into(),
            name_en: "Infant formula stage 1, 900 g".into(),
            gtin: "06901234567892".into(),
            lot: "L2025-001".into(),
            expiry: Some("2026-12-31".into()),
            serial: "VTq4rQopsKCpjiEd".into(),
        }
    }

    #[test]
    fn the_qr_matrix_encodes_the_code_and_decodes_back() {
        let d = data();
        let q = Qr::encode(&d.code, EcLevel::M).unwrap();
        assert!(q.size >= 21 && q.size <= 57, "{}", q.size);
        let img = rqrr::SimpleGrid::from_func(q.size, |x, y| q.is_dark(x, y));
        let (_, text) = rqrr::Grid::new(img).decode().unwrap();
        assert_eq!(text, d.code);
        let n: usize = q.runs().map(|(_, _, l)| l).sum();
        assert_eq!(n, q.dark.iter().filter(|&&b| b).count());
    }

    #[test]
    fn frames_for_common_stock_and_clear_refusals() {
        let f = font();
        let d = data();
        let spec = |w, h, m| LabelSpec {
            width_mm: w,
            height_mm: h,
            module_mm: m,
            ec: EcLevel::M,
        };
        // A4 3×8 (70 × 37 mm): default 0.5 mm modules.
        let fr = spec(70.0, 37.0, None).frame_for(&d, &f).unwrap();
        assert_eq!(fr.module_mm, 0.5);
        assert!(fr.text_w_mm >= MIN_TEXT_COLUMN_MM);
        // A4 4×10 (52.5 × 29.7 mm): smaller modules, still above the minimum.
        let fr = spec(52.5, 29.7, None).frame_for(&d, &f).unwrap();
        assert!(
            fr.module_mm >= MIN_MODULE_MM && fr.module_mm < 0.5,
            "{fr:?}"
        );
        let p = fr.place(&d, &f).unwrap();
        assert_eq!(p.lines.len(), 7);
        for l in &p.lines {
            let w = f64::from(f.width(&l.text)) * l.size_mm;
            assert!(w <= fr.text_w_mm + 1e-6, "{l:?}");
            assert!(l.baseline_mm > 0.0 && l.baseline_mm < fr.height_mm);
        }
        // Module below the minimum, label too small, text column too narrow.
        assert_eq!(
            spec(70.0, 37.0, Some(0.3)).frame_for(&d, &f),
            Err(LayoutError::BelowMinimum { module_mm: 0.3 })
        );
        let e = spec(25.0, 15.0, None).frame_for(&d, &f).unwrap_err();
        assert!(e.to_string().contains("too small"), "{e}");
        let e = spec(40.0, 37.0, Some(0.5)).frame_for(&d, &f).unwrap_err();
        assert!(e.to_string().contains("text needs at least 18 mm"), "{e}");
        // Long product names are shortened with an ellipsis, never overflow.
        let mut long = data();
        long.name_en = "Extremely long product name that will not fit on any label at all".into();
        let p = spec(52.5, 29.7, None)
            .frame_for(&long, &f)
            .unwrap()
            .place(&long, &f)
            .unwrap();
        assert!(p.lines[1].text.ends_with('…'), "{}", p.lines[1].text);
    }
}

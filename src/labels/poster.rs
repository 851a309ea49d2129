//! The merchant integrity poster (诚信二维码海报): one A4 page for a shop's entrance with the
//! enterprise's name, its credit-risk grade and stars, its no-reason-return promise, the date,
//! and a large QR code of its integrity page (`/m/{uscc}`), drawn with the label code (the
//! same PDF writer, font and QR encoder as the labels).

use std::sync::Arc;

use super::font::Font;
use super::layout::{Frame, Placed, Qr, TextLine};
use super::pdf::{PdfStream, Sheet};
use super::{EcLevel, LayoutError};

/// A4 portrait, mm.
const W: f64 = 210.0;
const H: f64 = 297.0;
/// QR module, mm: a symbol of the page URL (version 4–5) is about 90 mm wide, scanned from
/// a couple of metres.
const MODULE_MM: f64 = 2.6;
/// Left and right margin of the text, mm.
const MARGIN: f64 = 15.0;

/// What a poster shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PosterData {
    /// The integrity page's URL (the QR content, exactly).
    pub url: String,
    /// The enterprise's legal name.
    pub name: String,
    /// `A`–`D`.
    pub grade: String,
    /// The score, e.g. `87.0`.
    pub score: String,
    /// Stars of four, e.g. `★★★☆`.
    pub stars: String,
    /// The no-reason-return promise, in days, if any.
    pub return_days: Option<u32>,
    /// The date the poster was made, `YYYY-MM-DD`.
    pub date: String,
    /// On the warning list.
    pub listed: bool,
}

/// The poster as a one-page PDF.
pub fn render(font: Arc<Font>, d: &PosterData) -> Result<Vec<u8>, LayoutError> {
    let qr = Qr::encode(&d.url, EcLevel::M)?;
    let side = qr.size as f64 * MODULE_MM;
    let mut lines = Vec::new();
    let mut y = 28.0;
    for (text, size, gap) in texts(d) {
        y += size;
        lines.push(centred(&font, &text, size, y)?);
        y += gap;
    }
    let qr_y = y + 6.0;
    let foot = [
        ("扫码查看信用记录与区块链存证".to_string(), 6.0),
        ("Scan to see its record, anchored on chain".to_string(), 5.0),
        (d.url.clone(), 4.2),
        (format!("{} · traceseal", d.date), 4.2),
    ];
    let mut fy = qr_y + side + 8.0;
    for (text, size) in foot {
        fy += size;
        lines.push(centred(&font, &text, size, fy)?);
        fy += 2.5;
    }
    if fy > H - 8.0 {
        return Err(LayoutError::DoesNotFit(format!(
            "the poster's text and QR code need {fy:.0} mm, more than the A4 page"
        )));
    }
    let placed = Placed {
        frame: Frame::single(W, H, MODULE_MM, qr.size, EcLevel::M),
        qr_x_mm: (W - side) / 2.0,
        qr_y_mm: qr_y,
        qr,
        lines,
    };
    let sheet = Sheet {
        page_width_mm: W,
        page_height_mm: H,
        columns: 1,
        rows: 1,
        margin_left_mm: 0.0,
        margin_top_mm: 0.0,
        pitch_x_mm: W,
        pitch_y_mm: H,
        label_width_mm: W,
        label_height_mm: H,
    };
    let mut pdf = PdfStream::new(font, sheet, &format!("{} · integrity poster", d.name))?;
    pdf.add(&placed);
    let mut out = pdf.take();
    out.extend(pdf.finish()?);
    Ok(out)
}

/// The lines above the QR code: (text, size mm, gap after mm).
fn texts(d: &PosterData) -> Vec<(String, f64, f64)> {
    let mut v = vec![
        ("诚信经营 · 扫码可查".to_string(), 11.0, 3.0),
        ("Integrity record · scan to check".to_string(), 6.5, 8.0),
        (d.name.clone(), 8.0, 6.0),
        (
            format!("信用等级 Grade {}  {}", d.grade, d.stars),
            11.0,
            2.0,
        ),
        (format!("评分 Score {}/100", d.score), 6.0, 4.0),
    ];
    v.push(match d.return_days {
        Some(n) => (
            format!("承诺 {n} 天无理由退货 · {n}-day no-reason returns"),
            6.0,
            2.0,
        ),
        None => (
            "未作无理由退货承诺 · No return promise".to_string(),
            5.0,
            2.0,
        ),
    });
    if d.listed {
        v.push((
            "⚠ 在失信预警名单上 · On the warning list".to_string(),
            6.0,
            2.0,
        ));
    }
    v
}

/// `text` centred on the page with its baseline at `baseline` mm, shrunk to fit the margins.
fn centred(font: &Font, text: &str, size: f64, baseline: f64) -> Result<TextLine, LayoutError> {
    // A symbol the font lacks (★, ⚠ in some fonts) is left out rather than refused.
    let text: String = text.chars().filter(|c| font.glyph(*c).is_some()).collect();
    let text = text.trim();
    let em = f64::from(font.width(text));
    let size = if em * size > W - 2.0 * MARGIN {
        (W - 2.0 * MARGIN) / em
    } else {
        size
    };
    let mut glyphs = Vec::new();
    let mut x = 0f32;
    for (_, g) in font.glyphs(text)? {
        glyphs.push((g, x));
        x += font.advance(g);
    }
    Ok(TextLine {
        text: text.to_string(),
        glyphs,
        x_mm: (W - em * size) / 2.0,
        baseline_mm: baseline,
        size_mm: size,
    })
}

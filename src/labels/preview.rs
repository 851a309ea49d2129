//! A job's preview: what its first page looks like, as one SVG document, before anything is
//! printed or recorded. A PDF job shows its first sheet (the labels in their cells, the cell
//! edges dashed); a PNG, SVG or ZPL job shows its first label (ZPL drawn with our font: the
//! printer sets its own text, so only the layout is exact).

use std::fmt::Write as _;
use std::sync::Arc;

use super::font::{Font, FontError};
use super::job::{RenderError, Renderer};
use super::layout::LabelSpec;
use super::svg::render_at;
use super::LabelData;

/// How many labels the first page of `renderer` holds (what [`svg`] needs at most).
pub fn first_page_labels(renderer: &Renderer) -> usize {
    match renderer {
        Renderer::Sheet { sheet, .. } => sheet.per_page(),
        _ => 1,
    }
}

/// The first page of `renderer`'s output for `labels` (the job's first labels, in order), as
/// an SVG document sized in millimetres. `font` loads the label font (for ZPL).
pub fn svg(
    renderer: &Renderer,
    labels: &[LabelData],
    font: impl Fn() -> Result<Arc<Font>, FontError>,
) -> Result<String, RenderError> {
    let Some(first) = labels.first() else {
        return Err(RenderError::Invalid("no label to preview".into()));
    };
    match renderer {
        Renderer::Sheet { sheet, frame, font } => {
            let mut cells = String::new();
            for (i, d) in labels.iter().take(sheet.per_page()).enumerate() {
                let (x, y) = sheet.cell(i);
                let _ = write!(
                    cells,
                    r##"<rect x="{x:.2}" y="{y:.2}" width="{:.2}" height="{:.2}" fill="none" stroke="#999" stroke-width="0.2" stroke-dasharray="1 1"/>"##,
                    sheet.label_width_mm, sheet.label_height_mm
                );
                cells.push_str(&render_at(&frame.place(d, font)?, font, Some((x, y))));
            }
            Ok(document(
                sheet.page_width_mm,
                sheet.page_height_mm,
                &shared_defs(&cells),
            ))
        }
        Renderer::Image { frame, font, .. } => {
            let p = frame.place(first, font)?;
            Ok(document(
                frame.width_mm,
                frame.height_mm,
                &render_at(&p, font, Some((0.0, 0.0))),
            ))
        }
        Renderer::Zpl(z) => {
            let font = font()?;
            let spec = LabelSpec {
                width_mm: z.width_mm,
                height_mm: z.height_mm,
                module_mm: Some(z.module_mm),
                ec: z.ec,
            };
            let p = spec.frame_for(first, &font)?.place(first, &font)?;
            Ok(document(
                z.width_mm,
                z.height_mm,
                &render_at(&p, &font, Some((0.0, 0.0))),
            ))
        }
    }
}

/// `labels` with each label's glyph definitions moved into one `<defs>` in front, each glyph
/// once (they are the same font's, with the same ids), so a sheet of 40 labels carries its
/// glyphs once, not 40 times.
fn shared_defs(labels: &str) -> String {
    let mut glyphs = std::collections::BTreeMap::new();
    let mut rest = String::with_capacity(labels.len());
    let mut s = labels;
    while let Some(i) = s.find("<defs>") {
        rest.push_str(&s[..i]);
        let body = &s[i + 6..];
        let end = body.find("</defs>").unwrap_or(body.len());
        for path in body[..end].split_inclusive("/>") {
            if let Some(id) = path
                .strip_prefix("<path id=\"")
                .and_then(|p| p.split('"').next())
            {
                glyphs
                    .entry(id.to_string())
                    .or_insert_with(|| path.to_string());
            }
        }
        s = body.get(end + 7..).unwrap_or_default();
    }
    rest.push_str(s);
    let defs: String = glyphs.into_values().collect();
    format!("<defs>{defs}</defs>{rest}")
}

/// An SVG document of `w` × `h` mm (user unit: the millimetre) on white, holding `inner`.
fn document(w: f64, h: f64, inner: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{w:.2}mm" height="{h:.2}mm" viewBox="0 0 {w:.2} {h:.2}"><rect width="{w:.2}" height="{h:.2}" fill="#fff"/>{inner}</svg>
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::font::tests::font;
    use crate::labels::job::{JobLayout, LabelFormat};
    use crate::labels::layout::tests::data;

    fn renderer(format: LabelFormat, layout: serde_json::Value) -> Renderer {
        let l = JobLayout::parse(format, Some(&layout)).unwrap();
        Renderer::prepare(format, &l, &data(), || Ok(font())).unwrap()
    }

    #[test]
    fn a_sheet_preview_is_the_first_page_with_every_label_in_its_cell() {
        let r = renderer(LabelFormat::Pdf, serde_json::json!({"sheet": "a4-4x10"}));
        assert_eq!(first_page_labels(&r), 40);
        let labels = vec![data(); 45];
        let s = svg(&r, &labels, || Ok(font())).unwrap();
        assert!(s.starts_with("<svg") && s.contains(r#"width="210.00mm" height="297.00mm""#));
        // 40 cells on the page (the other 5 labels are on the next page), each with its label.
        assert_eq!(s.matches("stroke-dasharray").count(), 40);
        assert_eq!(s.matches("<svg x=").count(), 40);
        assert!(
            s.contains(r#"<svg x="157.5" y="267.3""#),
            "last cell: column 4, row 10"
        );
    }

    #[test]
    fn image_and_zpl_previews_show_one_label_of_the_job_size() {
        for (format, layout) in [
            (
                LabelFormat::Png,
                serde_json::json!({"width_mm": 70, "height_mm": 45}),
            ),
            (
                LabelFormat::Zpl,
                serde_json::json!({"width_mm": 70, "height_mm": 45}),
            ),
        ] {
            let r = renderer(format, layout);
            assert_eq!(first_page_labels(&r), 1);
            let s = svg(&r, &[data()], || Ok(font())).unwrap();
            assert!(
                s.contains(r#"width="70.00mm" height="45.00mm""#),
                "{format:?}"
            );
            assert_eq!(s.matches("<svg x=").count(), 1);
        }
        let r = renderer(LabelFormat::Svg, serde_json::json!({}));
        assert!(svg(&r, &[], || Ok(font())).is_err());
    }
}

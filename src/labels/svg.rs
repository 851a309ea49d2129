//! SVG labels, sized in millimetres. The QR code is one path of whole-module rectangles
//! (`crispEdges`); text is drawn as the font's glyph outlines (defined once, reused with
//! `<use>`), so the label looks the same on a machine without the font. The text is also in
//! `<title>`/`<desc>` for search and screen readers.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::font::{Font, Seg};
use super::layout::Placed;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn n(x: f32) -> String {
    let s = format!("{:.4}", x);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// The SVG path data of a glyph outline (em units, y down).
pub fn glyph_path(segs: &[Seg]) -> String {
    let mut d = String::new();
    for s in segs {
        let _ = match *s {
            Seg::Move(x, y) => write!(d, "M{} {}", n(x), n(-y)),
            Seg::Line(x, y) => write!(d, "L{} {}", n(x), n(-y)),
            Seg::Quad(a, b, x, y) => write!(d, "Q{} {} {} {}", n(a), n(-b), n(x), n(-y)),
            Seg::Cubic(a, b, c, e, x, y) => write!(
                d,
                "C{} {} {} {} {} {}",
                n(a),
                n(-b),
                n(c),
                n(-e),
                n(x),
                n(-y)
            ),
            Seg::Close => write!(d, "Z"),
        };
    }
    d
}

/// One SVG label.
pub fn render(p: &Placed, font: &Font) -> String {
    render_at(p, font, None)
}

/// The opening of a label's `<svg>`: a document's (sized in mm), or an element's placed at
/// `(x, y)` in a millimetre user space.
fn open_tag(w: f32, h: f32, at: Option<(f64, f64)>) -> String {
    match at {
        None => format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{w}mm" height="{h}mm""#
        ),
        Some((x, y)) => format!(
            r#"<svg x="{}" y="{}" width="{}" height="{}""#,
            n(x as f32),
            n(y as f32),
            n(w),
            n(h)
        ),
    }
}

/// One SVG label: a document of its own (`at`: `None`), or an `<svg>` element placed at
/// `(x, y)` mm inside a document whose user unit is the millimetre (a sheet's preview).
pub fn render_at(p: &Placed, font: &Font, at: Option<(f64, f64)>) -> String {
    let f = &p.frame;
    let (w, h) = (f.width_mm as f32, f.height_mm as f32);
    let mut s = String::with_capacity(16 * 1024);
    let text: Vec<&str> = p.lines.iter().map(|l| l.text.as_str()).collect();
    let open = open_tag(w, h, at);
    let _ = write!(
        s,
        r#"{open} viewBox="0 0 {} {}" role="img"><title>{}</title><desc>{}</desc>"#,
        n(w),
        n(h),
        esc(text.first().copied().unwrap_or_default()),
        esc(&text.join(" | "))
    );
    // Glyph definitions, each once.
    let used: BTreeSet<u16> = p
        .lines
        .iter()
        .flat_map(|l| l.glyphs.iter().map(|&(g, _)| g))
        .collect();
    // Blank glyphs (spaces) get no definition and no `<use>`.
    let mut defined = BTreeSet::new();
    s.push_str("<defs>");
    for g in &used {
        let d = glyph_path(&font.outline(*g));
        if !d.is_empty() {
            let _ = write!(s, r#"<path id="g{g}" d="{d}"/>"#);
            defined.insert(*g);
        }
    }
    s.push_str("</defs>");
    let _ = write!(
        s,
        r##"<rect width="{}" height="{}" fill="#fff"/>"##,
        n(w),
        n(h)
    );
    // QR: module units, one path.
    let m = f.module_mm as f32;
    let _ = write!(
        s,
        r##"<path transform="translate({} {}) scale({})" shape-rendering="crispEdges" fill="#000" d=""##,
        n(p.qr_x_mm as f32),
        n(p.qr_y_mm as f32),
        n(m)
    );
    for (row, col, len) in p.qr.runs() {
        let _ = write!(s, "M{col} {row}h{len}v1h-{len}z");
    }
    s.push_str(r#""/>"#);
    // Text.
    s.push_str(r##"<g fill="#000">"##);
    for l in &p.lines {
        let _ = write!(
            s,
            r#"<g transform="translate({} {}) scale({})">"#,
            n(l.x_mm as f32),
            n(l.baseline_mm as f32),
            n(l.size_mm as f32)
        );
        for &(g, x) in &l.glyphs {
            if defined.contains(&g) {
                let _ = write!(s, r##"<use xlink:href="#g{g}" x="{}"/>"##, n(x));
            }
        }
        s.push_str("</g>");
    }
    s.push_str("</g></svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::font::tests::font;
    use crate::labels::layout::tests::data;
    use crate::labels::layout::LabelSpec;
    use crate::labels::EcLevel;

    #[test]
    fn an_svg_label_is_sized_in_mm_and_its_qr_path_decodes_to_the_code() {
        let f = font();
        let d = data();
        let spec = LabelSpec {
            width_mm: 70.0,
            height_mm: 37.0,
            module_mm: None,
            ec: EcLevel::M,
        };
        let p = spec.frame_for(&d, &f).unwrap().place(&d, &f).unwrap();
        let svg = render(&p, &f);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(
            svg.contains(r#"width="70mm" height="37mm" viewBox="0 0 70 37""#),
            "{}",
            &svg[..300]
        );
        assert!(svg.contains("扫码验真 Scan to verify"));
        assert!(svg.contains("SN VTq4rQopsKCpjiEd"));
        // Parse the QR path back into a module grid and decode it.
        let start = svg
            .find(r##"shape-rendering="crispEdges" fill="#000" d=""##)
            .unwrap();
        let body = &svg[start..];
        let body = &body[body.find("d=\"").unwrap() + 3..];
        let body = &body[..body.find('"').unwrap()];
        let size = p.qr.size;
        let mut dark = vec![false; size * size];
        for cmd in body.split('M').filter(|c| !c.is_empty()) {
            let (xy, rest) = cmd.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let len: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            for i in 0..len {
                dark[y * size + x + i] = true;
            }
        }
        let grid = rqrr::SimpleGrid::from_func(size, |x, y| dark[y * size + x]);
        assert_eq!(rqrr::Grid::new(grid).decode().unwrap().1, d.code);
        // Every glyph used is defined.
        for l in &p.lines {
            for &(g, _) in &l.glyphs {
                if !f.outline(g).is_empty() {
                    assert!(svg.contains(&format!(r#"<path id="g{g}""#)));
                }
            }
        }
        assert_eq!(esc("<a&\">"), "&lt;a&amp;&quot;&gt;");
    }
}

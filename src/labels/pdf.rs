//! Print-ready PDF label sheets, written as a stream: pages go out as they fill, so a
//! 100,000-label job never holds more than one page of labels in memory (plus the offset of each
//! object written, 16 bytes per page, for the cross-reference table).
//!
//! Each QR symbol is an inline 1-bit image mask, one sample per module, scaled to the module
//! size (`/Interpolate false`: printers and viewers keep the edges sharp). Text uses the label
//! font embedded once as a CID TrueType font (subset to the glyphs used, with a ToUnicode map
//! so the text can be searched and copied). Sheets: A4 3×8 (70 × 37 mm), A4 4×10
//! (52.5 × 29.7 mm), or a custom grid.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Chunk, Filter, Name, Rect, Ref, Str, TextStr};

use super::font::{Font, Subset};
use super::layout::Placed;
use super::LayoutError;

/// Points per millimetre.
const PT: f64 = 72.0 / 25.4;

/// Font units per em in PDF glyph space (widths and metrics are in thousandths of an em).
const UPEM: f32 = 1000.0;

/// The character collection of the CID font: Adobe-Identity-0.
const SYSTEM_INFO: SystemInfo = SystemInfo {
    registry: Str(b"Adobe"),
    ordering: Str(b"Identity"),
    supplement: 0,
};

/// A sheet of labels: page size, grid, margins and pitch, in millimetres.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sheet {
    /// Page width.
    pub page_width_mm: f64,
    /// Page height.
    pub page_height_mm: f64,
    /// Labels across.
    pub columns: u32,
    /// Labels down.
    pub rows: u32,
    /// Left edge of the first column.
    pub margin_left_mm: f64,
    /// Top edge of the first row.
    pub margin_top_mm: f64,
    /// Distance from one column's left edge to the next.
    pub pitch_x_mm: f64,
    /// Distance from one row's top edge to the next.
    pub pitch_y_mm: f64,
    /// Label width.
    pub label_width_mm: f64,
    /// Label height.
    pub label_height_mm: f64,
}

impl Sheet {
    /// A4, 3 × 8 labels of 70 × 37 mm (24 per sheet, 0.5 mm top and bottom margins).
    pub const A4_3X8: Sheet = Sheet {
        page_width_mm: 210.0,
        page_height_mm: 297.0,
        columns: 3,
        rows: 8,
        margin_left_mm: 0.0,
        margin_top_mm: 0.5,
        pitch_x_mm: 70.0,
        pitch_y_mm: 37.0,
        label_width_mm: 70.0,
        label_height_mm: 37.0,
    };
    /// A4, 4 × 10 labels of 52.5 × 29.7 mm (40 per sheet, no margins).
    pub const A4_4X10: Sheet = Sheet {
        page_width_mm: 210.0,
        page_height_mm: 297.0,
        columns: 4,
        rows: 10,
        margin_left_mm: 0.0,
        margin_top_mm: 0.0,
        pitch_x_mm: 52.5,
        pitch_y_mm: 29.7,
        label_width_mm: 52.5,
        label_height_mm: 29.7,
    };

    /// Labels per page.
    pub fn per_page(&self) -> usize {
        (self.columns * self.rows) as usize
    }

    /// Top-left corner of the `i`-th label of a page, mm from the page's top-left.
    pub fn cell(&self, i: usize) -> (f64, f64) {
        let (c, r) = (i as u32 % self.columns, i as u32 / self.columns);
        (
            self.margin_left_mm + f64::from(c) * self.pitch_x_mm,
            self.margin_top_mm + f64::from(r) * self.pitch_y_mm,
        )
    }

    /// Checks that the grid is sane and fits the page.
    pub fn check(&self) -> Result<(), LayoutError> {
        let all = [
            self.page_width_mm,
            self.page_height_mm,
            self.margin_left_mm,
            self.margin_top_mm,
            self.pitch_x_mm,
            self.pitch_y_mm,
            self.label_width_mm,
            self.label_height_mm,
        ];
        if all.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(LayoutError::Invalid(
                "sheet sizes, margins and pitches must be non-negative numbers".into(),
            ));
        }
        if !(50.0..=1200.0).contains(&self.page_width_mm)
            || !(50.0..=1200.0).contains(&self.page_height_mm)
        {
            return Err(LayoutError::Invalid(
                "the page must be 50 to 1200 mm each way".into(),
            ));
        }
        if !(1..=50).contains(&self.columns) || !(1..=100).contains(&self.rows) {
            return Err(LayoutError::Invalid(
                "a sheet has 1 to 50 columns and 1 to 100 rows".into(),
            ));
        }
        if self.label_width_mm > self.pitch_x_mm + 1e-9 && self.columns > 1
            || self.label_height_mm > self.pitch_y_mm + 1e-9 && self.rows > 1
        {
            return Err(LayoutError::Invalid(format!(
                "labels of {} × {} mm overlap at a pitch of {} × {} mm",
                self.label_width_mm, self.label_height_mm, self.pitch_x_mm, self.pitch_y_mm
            )));
        }
        let right = self.margin_left_mm
            + f64::from(self.columns - 1) * self.pitch_x_mm
            + self.label_width_mm;
        let bottom =
            self.margin_top_mm + f64::from(self.rows - 1) * self.pitch_y_mm + self.label_height_mm;
        if right > self.page_width_mm + 0.01 || bottom > self.page_height_mm + 0.01 {
            return Err(LayoutError::DoesNotFit(format!(
                "the grid ends at {right:.1} × {bottom:.1} mm, beyond the {} × {} mm page",
                self.page_width_mm, self.page_height_mm
            )));
        }
        Ok(())
    }
}

const CATALOG: i32 = 1;
const PAGES: i32 = 2;
const FONT: i32 = 3;
const CID_FONT: i32 = 4;
const DESCRIPTOR: i32 = 5;
const FONT_FILE: i32 = 6;
const TO_UNICODE: i32 = 7;
const INFO: i32 = 8;
const FIRST_PAGE: i32 = 9;

/// A PDF being written page by page.
pub struct PdfStream {
    font: Arc<Font>,
    sheet: Sheet,
    title: String,
    out: Vec<u8>,
    emitted: u64,
    offsets: Vec<u64>,
    pages: i32,
    on_page: usize,
    content: String,
    glyphs: BTreeMap<u16, char>,
}

fn f(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl PdfStream {
    /// Starts a PDF of `sheet`s drawn with `font`.
    pub fn new(font: Arc<Font>, sheet: Sheet, title: &str) -> Result<Self, LayoutError> {
        sheet.check()?;
        let mut s = PdfStream {
            font,
            sheet,
            title: title.to_string(),
            out: Vec::with_capacity(64 * 1024),
            emitted: 0,
            offsets: vec![0; (FIRST_PAGE - 1) as usize],
            pages: 0,
            on_page: 0,
            content: String::new(),
            glyphs: BTreeMap::new(),
        };
        s.out.extend_from_slice(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
        Ok(s)
    }

    fn put(&mut self, id: i32, chunk: &Chunk) {
        let at = self.emitted + self.out.len() as u64;
        let slot = (id - 1) as usize;
        if self.offsets.len() <= slot {
            self.offsets.resize(slot + 1, 0);
        }
        self.offsets[slot] = at;
        self.out.extend_from_slice(chunk.as_bytes());
    }

    /// Adds a label in the next cell (starting a new page when the current one is full).
    pub fn add(&mut self, p: &Placed) {
        if self.on_page == 0 {
            self.content.clear();
            self.content.push_str("0 g\n");
        }
        let (cx, cy) = self.sheet.cell(self.on_page);
        let page_h = self.sheet.page_height_mm;
        let fr = &p.frame;
        let n = p.qr.size;
        let side = n as f64 * fr.module_mm;
        let (x, y) = (
            (cx + p.qr_x_mm) * PT,
            (page_h - (cy + p.qr_y_mm + side)) * PT,
        );
        // The symbol: 1 bit per module, 0 = dark (painted), rows padded to bytes.
        let c = &mut self.content;
        let _ = write!(
            c,
            "q {} 0 0 {} {} {} cm BI /W {n} /H {n} /IM true /BPC 1 /F /AHx /I false ID ",
            f(side * PT),
            f(side * PT),
            f(x),
            f(y)
        );
        for row in 0..n {
            for byte in 0..n.div_ceil(8) {
                let mut b = 0u8;
                for bit in 0..8 {
                    let col = byte * 8 + bit;
                    if col >= n || !p.qr.is_dark(col, row) {
                        b |= 0x80 >> bit;
                    }
                }
                let _ = write!(c, "{b:02X}");
            }
        }
        c.push_str(">\nEI Q\n");
        for l in &p.lines {
            let _ = write!(
                c,
                "BT /F0 {} Tf {} {} Td <",
                f(l.size_mm * PT),
                f((cx + l.x_mm) * PT),
                f((page_h - (cy + l.baseline_mm)) * PT)
            );
            for (&(g, _), ch) in l.glyphs.iter().zip(l.text.chars()) {
                let _ = write!(c, "{g:04X}");
                self.glyphs.entry(g).or_insert(ch);
            }
            c.push_str("> Tj ET\n");
        }
        self.on_page += 1;
        if self.on_page == self.sheet.per_page() {
            self.flush_page();
        }
    }

    fn flush_page(&mut self) {
        if self.on_page == 0 {
            return;
        }
        let page = FIRST_PAGE + 2 * self.pages;
        let contents = page + 1;
        let data = deflate(self.content.as_bytes(), flate2::Compression::fast());
        let mut ch = Chunk::new();
        {
            let mut pg = ch.page(Ref::new(page));
            pg.parent(Ref::new(PAGES))
                .media_box(Rect::new(
                    0.0,
                    0.0,
                    (self.sheet.page_width_mm * PT) as f32,
                    (self.sheet.page_height_mm * PT) as f32,
                ))
                .contents(Ref::new(contents));
            pg.resources().fonts().pair(Name(b"F0"), Ref::new(FONT));
        }
        self.put(page, &ch);
        let mut ch = Chunk::new();
        ch.stream(Ref::new(contents), &data)
            .filter(Filter::FlateDecode);
        self.put(contents, &ch);
        self.pages += 1;
        self.on_page = 0;
    }

    /// The bytes written so far (and not yet taken).
    pub fn take(&mut self) -> Vec<u8> {
        self.emitted += self.out.len() as u64;
        std::mem::take(&mut self.out)
    }

    /// Pages written.
    pub fn pages(&self) -> i32 {
        self.pages
    }

    /// Ends the document: the last page, the font, the page tree, the cross-reference table.
    pub fn finish(mut self) -> Result<Vec<u8>, LayoutError> {
        self.flush_page();
        let glyphs: Vec<u16> = std::iter::once(0)
            .chain(self.glyphs.keys().copied())
            .collect();
        let subset = self.font.subset(&glyphs)?;
        self.put_font(&subset);
        self.put_document();
        self.put_trailer();
        Ok(std::mem::take(&mut self.out))
    }

    /// The embedded font: Type 0 font → CID font → descriptor → font file, the CIDToGIDMap,
    /// and ToUnicode for text extraction.
    fn put_font(&mut self, subset: &Subset) {
        let font = self.font.clone();
        // Pages show glyphs by their ids in the full font (CIDs); the subset renumbers them.
        let cid_to_gid = FIRST_PAGE + 2 * self.pages;
        let map = deflate(&cid_to_gid_map(&subset.map), flate2::Compression::default());
        let mut ch = Chunk::new();
        ch.stream(Ref::new(cid_to_gid), &map)
            .filter(Filter::FlateDecode);
        self.put(cid_to_gid, &ch);
        let base = format!("TRCSEA+{}", font.postscript_name());
        let mut ch = Chunk::new();
        ch.type0_font(Ref::new(FONT))
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(Ref::new(CID_FONT))
            .to_unicode(Ref::new(TO_UNICODE));
        self.put(FONT, &ch);
        let mut ch = Chunk::new();
        {
            let mut cid = ch.cid_font(Ref::new(CID_FONT));
            cid.subtype(CidFontType::Type2)
                .base_font(Name(base.as_bytes()))
                .system_info(SYSTEM_INFO)
                .font_descriptor(Ref::new(DESCRIPTOR))
                .default_width(1000.0)
                .cid_to_gid_map_stream(Ref::new(cid_to_gid));
            let mut w = cid.widths();
            for &g in self.glyphs.keys() {
                w.consecutive(g, [font.advance(g) * UPEM]);
            }
        }
        self.put(CID_FONT, &ch);
        self.put_descriptor(&font, &base, subset);
        self.put_to_unicode();
    }

    /// The font descriptor and the font file (the subset, deflated).
    fn put_descriptor(&mut self, font: &Font, base: &str, subset: &Subset) {
        let b = font.bbox();
        let mut ch = Chunk::new();
        ch.font_descriptor(Ref::new(DESCRIPTOR))
            .name(Name(base.as_bytes()))
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(
                b[0] * UPEM,
                b[1] * UPEM,
                b[2] * UPEM,
                b[3] * UPEM,
            ))
            .italic_angle(0.0)
            .ascent(font.ascender() * UPEM)
            .descent(font.descender() * UPEM)
            .cap_height(font.cap_height() * UPEM)
            .stem_v(80.0)
            .font_file2(Ref::new(FONT_FILE));
        self.put(DESCRIPTOR, &ch);
        let data = deflate(&subset.data, flate2::Compression::default());
        let mut ch = Chunk::new();
        ch.stream(Ref::new(FONT_FILE), &data)
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), subset.data.len() as i32);
        self.put(FONT_FILE, &ch);
    }

    /// The ToUnicode CMap: which character each glyph shows.
    fn put_to_unicode(&mut self) {
        let mut cmap = UnicodeCmap::<u16>::new(Name(b"Traceseal-UCS"), SYSTEM_INFO);
        for (&g, &c) in &self.glyphs {
            cmap.pair(g, c);
        }
        let cmap = cmap.finish();
        let mut ch = Chunk::new();
        ch.cmap(Ref::new(TO_UNICODE), &cmap)
            .name(Name(b"Traceseal-UCS"))
            .system_info(SYSTEM_INFO);
        self.put(TO_UNICODE, &ch);
    }

    /// The page tree, the catalog and the document information.
    fn put_document(&mut self) {
        let mut ch = Chunk::new();
        ch.pages(Ref::new(PAGES))
            .kids((0..self.pages).map(|i| Ref::new(FIRST_PAGE + 2 * i)))
            .count(self.pages);
        self.put(PAGES, &ch);
        let mut ch = Chunk::new();
        ch.indirect(Ref::new(CATALOG))
            .dict()
            .pair(Name(b"Type"), Name(b"Catalog"))
            .pair(Name(b"Pages"), Ref::new(PAGES));
        self.put(CATALOG, &ch);
        let mut ch = Chunk::new();
        ch.indirect(Ref::new(INFO))
            .dict()
            .pair(Name(b"Title"), TextStr(&self.title))
            .pair(Name(b"Producer"), TextStr("traceseal"));
        self.put(INFO, &ch);
    }

    /// The cross-reference table and the trailer.
    fn put_trailer(&mut self) {
        let xref = self.emitted + self.out.len() as u64;
        let size = self.offsets.len() + 1;
        let mut t = format!("xref\n0 {size}\n0000000000 65535 f \n");
        for o in &self.offsets {
            let _ = writeln!(t, "{o:010} 00000 n ");
        }
        let _ = write!(
            t,
            "trailer\n<< /Size {size} /Root {CATALOG} 0 R /Info {INFO} 0 R >>\nstartxref\n{xref}\n%%EOF\n"
        );
        self.out.extend_from_slice(t.as_bytes());
    }
}

/// A CIDToGIDMap stream: for every CID up to the largest used, the subset's glyph id (two
/// bytes, big-endian; 0, `.notdef`, for CIDs not used).
fn cid_to_gid_map(map: &BTreeMap<u16, u16>) -> Vec<u8> {
    let last = map.keys().next_back().copied().unwrap_or(0);
    let mut out = vec![0u8; 2 * (usize::from(last) + 1)];
    for (&cid, &gid) in map {
        let i = 2 * usize::from(cid);
        out[i..i + 2].copy_from_slice(&gid.to_be_bytes());
    }
    out
}

fn deflate(data: &[u8], level: flate2::Compression) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::with_capacity(data.len() / 3), level);
    // Writing into a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::font::tests::font;
    use crate::labels::layout::tests::data;
    use crate::labels::layout::LabelSpec;
    use crate::labels::EcLevel;

    #[test]
    fn sheets_are_checked() {
        Sheet::A4_3X8.check().unwrap();
        Sheet::A4_4X10.check().unwrap();
        assert_eq!(Sheet::A4_3X8.per_page(), 24);
        assert_eq!(Sheet::A4_4X10.cell(5), (52.5, 29.7));
        let mut s = Sheet::A4_3X8;
        s.rows = 9;
        let e = s.check().unwrap_err();
        assert!(
            e.to_string().contains("beyond the 210 × 297 mm page"),
            "{e}"
        );
        s = Sheet::A4_3X8;
        s.pitch_x_mm = 60.0;
        assert!(s.check().unwrap_err().to_string().contains("overlap"));
    }

    #[test]
    fn a_pdf_has_a_valid_structure_with_one_page_per_sheet() {
        let f = font();
        let d = data();
        let s = Sheet::A4_4X10;
        let fr = LabelSpec {
            width_mm: s.label_width_mm,
            height_mm: s.label_height_mm,
            module_mm: None,
            ec: EcLevel::M,
        }
        .frame_for(&d, &f)
        .unwrap();
        let mut pdf = PdfStream::new(f.clone(), s, "test").unwrap();
        let mut bytes = Vec::new();
        for _ in 0..45 {
            pdf.add(&fr.place(&d, &f).unwrap());
            bytes.extend(pdf.take());
        }
        assert_eq!(pdf.pages(), 1);
        bytes.extend(pdf.finish().unwrap());
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("%PDF-1.7"));
        assert!(text.ends_with("%%EOF\n"));
        assert!(text.contains("/Count 2"));
        // Every xref offset points at its object.
        let start: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(&bytes[start..start + 4], b"xref");
        let xref = String::from_utf8_lossy(&bytes[start..]).to_string();
        let entries: Vec<&str> = xref
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .collect();
        // 8 fixed objects, 2 per page (2 pages), and the font's CIDToGIDMap after the pages.
        assert_eq!(entries.len(), 8 + 4 + 1);
        for (i, e) in entries.iter().enumerate() {
            let off: usize = e[..10].parse().unwrap();
            assert!(
                bytes[off..].starts_with(format!("{} 0 obj", i + 1).as_bytes()),
                "object {}",
                i + 1
            );
        }
    }
}

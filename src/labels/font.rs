//! The TrueType font labels are drawn with: one font that covers Chinese and Latin text, read
//! from disk once. The default is WenQuanYi Micro Hei from Debian's `fonts-wqy-microhei`
//! (Apache-2.0 or GPL-3+ with the font exception; TrueType outlines; the first face of the
//! collection), which `./scripts/dev setup` installs; another TrueType (`glyf`) font can be
//! configured (`[labels] font`, `TRACESEAL_LABEL_FONT`). (Droid Sans Fallback, the other
//! small Debian CJK TrueType font, has no Latin letters, so it cannot be the only font.)
//!
//! Glyphs are drawn from their outlines: PNG labels rasterise them, SVG labels carry them as
//! paths (so they print the same on a machine without the font), PDF sheets embed a subset of
//! the font.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Where Debian's `fonts-wqy-microhei` puts the font.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

/// Why the label font cannot be used.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum FontError {
    /// The file is missing or unreadable.
    #[error("the label font {path} cannot be read ({reason}); install it with `./scripts/dev setup` (Debian package fonts-wqy-microhei) or configure another TrueType font ([labels] font, TRACESEAL_LABEL_FONT)")]
    Unreadable {
        /// The path.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// Not a TrueType font we can draw with.
    #[error("the label font {path} is not a usable TrueType font: {reason}")]
    Unusable {
        /// The path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A character of the label text has no glyph in the font.
    #[error("the label font has no glyph for {ch:?} (U+{code:04X}) in {text:?}")]
    MissingGlyph {
        /// The character.
        ch: char,
        /// Its code point.
        code: u32,
        /// The text it is in.
        text: String,
    },
}

/// A loaded font. Its bytes live for the rest of the process (fonts are read once per path and
/// cached), so the parsed face is kept instead of re-parsed per glyph; glyph ids, advances and
/// outlines are cached as they are used (labels reuse the same few hundred glyphs).
pub struct Font {
    path: PathBuf,
    data: &'static [u8],
    face: ttf_parser::Face<'static>,
    units_per_em: f32,
    ascender: f32,
    cap_height: f32,
    /// Glyph ids by character (filled on use).
    cmap: Mutex<HashMap<char, Option<u16>>>,
    /// Outlines by glyph id (filled on use).
    outlines: Mutex<HashMap<u16, Arc<[Seg]>>>,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font").field("path", &self.path).finish()
    }
}

/// One step of a glyph outline, in em units (y up, origin on the baseline).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Seg {
    /// Start a contour.
    Move(f32, f32),
    /// Straight line.
    Line(f32, f32),
    /// Quadratic curve (control, end).
    Quad(f32, f32, f32, f32),
    /// Cubic curve (two controls, end).
    Cubic(f32, f32, f32, f32, f32, f32),
    /// Close the contour.
    Close,
}

struct Collect<'a> {
    scale: f32,
    out: &'a mut Vec<Seg>,
}

impl ttf_parser::OutlineBuilder for Collect<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        let s = self.scale;
        self.out.push(Seg::Move(x * s, y * s));
    }
    fn line_to(&mut self, x: f32, y: f32) {
        let s = self.scale;
        self.out.push(Seg::Line(x * s, y * s));
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let s = self.scale;
        self.out.push(Seg::Quad(x1 * s, y1 * s, x * s, y * s));
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let s = self.scale;
        self.out
            .push(Seg::Cubic(x1 * s, y1 * s, x2 * s, y2 * s, x * s, y * s));
    }
    fn close(&mut self) {
        self.out.push(Seg::Close);
    }
}

fn cache() -> &'static Mutex<HashMap<PathBuf, Arc<Font>>> {
    static C: OnceLock<Mutex<HashMap<PathBuf, Arc<Font>>>> = OnceLock::new();
    C.get_or_init(Default::default)
}

/// The font at `path`, read once per process.
pub fn load(path: &Path) -> Result<Arc<Font>, FontError> {
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = c.get(path) {
        return Ok(f.clone());
    }
    let f = Arc::new(Font::read(path)?);
    c.insert(path.to_path_buf(), f.clone());
    Ok(f)
}

impl Font {
    /// Reads and checks a TrueType font file.
    pub fn read(path: &Path) -> Result<Font, FontError> {
        let shown = path.display().to_string();
        let data = std::fs::read(path).map_err(|e| FontError::Unreadable {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Font::from_bytes(path, data)
    }

    fn from_bytes(path: &Path, data: Vec<u8>) -> Result<Font, FontError> {
        let shown = path.display().to_string();
        let bad = |reason: String| FontError::Unusable {
            path: shown.clone(),
            reason,
        };
        // Checked before the bytes are kept for good.
        ttf_parser::Face::parse(&data, 0).map_err(|e| bad(e.to_string()))?;
        let data: &'static [u8] = Box::leak(data.into_boxed_slice());
        let face = ttf_parser::Face::parse(data, 0).map_err(|e| bad(e.to_string()))?;
        if face.tables().glyf.is_none() {
            return Err(bad(
                "it has no TrueType (glyf) outlines; PDF embedding needs them".into(),
            ));
        }
        if face.is_subsetting_allowed() && !face.is_outline_embedding_allowed() {
            return Err(bad("its licence does not allow embedding".into()));
        }
        let upem = f32::from(face.units_per_em());
        let ascender = f32::from(face.ascender()) / upem;
        let cap_height = face
            .capital_height()
            .map(|h| f32::from(h) / upem)
            .unwrap_or(0.7);
        if face.glyph_index('A').is_none() || face.glyph_index('0').is_none() {
            return Err(bad("it has no Latin letters and digits".into()));
        }
        Ok(Font {
            path: path.to_path_buf(),
            data,
            face,
            units_per_em: upem,
            ascender,
            cap_height,
            cmap: Mutex::new(HashMap::new()),
            outlines: Mutex::new(HashMap::new()),
        })
    }

    fn face(&self) -> &ttf_parser::Face<'static> {
        &self.face
    }

    /// The font file's bytes.
    pub fn data(&self) -> &[u8] {
        self.data
    }

    /// The font's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The PostScript name (or a stand-in).
    pub fn postscript_name(&self) -> String {
        self.face()
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            // Unicode records decode; Macintosh Roman ones are plain ASCII for PostScript names.
            .find_map(|n| {
                n.to_string()
                    .or_else(|| String::from_utf8(n.name.to_vec()).ok())
                    .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic()))
            })
            .unwrap_or_else(|| "TracesealLabelFont".into())
    }

    /// Units per em.
    pub fn units_per_em(&self) -> f32 {
        self.units_per_em
    }

    /// Ascender, in em.
    pub fn ascender(&self) -> f32 {
        self.ascender
    }

    /// Height of capital letters, in em.
    pub fn cap_height(&self) -> f32 {
        self.cap_height
    }

    /// Descender (negative), in em.
    pub fn descender(&self) -> f32 {
        f32::from(self.face().descender()) / self.units_per_em
    }

    /// Font bounding box in em: x0, y0, x1, y1.
    pub fn bbox(&self) -> [f32; 4] {
        let b = self.face().global_bounding_box();
        let u = self.units_per_em;
        [
            f32::from(b.x_min) / u,
            f32::from(b.y_min) / u,
            f32::from(b.x_max) / u,
            f32::from(b.y_max) / u,
        ]
    }

    /// The glyph for `ch`, if the font has one.
    pub fn glyph(&self, ch: char) -> Option<u16> {
        let mut m = self.cmap.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(ch)
            .or_insert_with(|| self.face().glyph_index(ch).map(|g| g.0))
    }

    /// Glyph ids of `text`; an error names the first character the font lacks.
    pub fn glyphs(&self, text: &str) -> Result<Vec<(char, u16)>, FontError> {
        text.chars()
            .map(|ch| match self.glyph(ch) {
                Some(g) => Ok((ch, g)),
                None => Err(FontError::MissingGlyph {
                    ch,
                    code: u32::from(ch),
                    text: text.to_string(),
                }),
            })
            .collect()
    }

    /// Advance width of a glyph, in em.
    pub fn advance(&self, glyph: u16) -> f32 {
        self.face()
            .glyph_hor_advance(ttf_parser::GlyphId(glyph))
            .map(|a| f32::from(a) / self.units_per_em)
            .unwrap_or(0.5)
    }

    /// Width of `text` in em (characters without a glyph count as half an em).
    pub fn width(&self, text: &str) -> f32 {
        text.chars()
            .map(|c| self.glyph(c).map(|g| self.advance(g)).unwrap_or(0.5))
            .sum()
    }

    /// The outline of a glyph, in em (empty for blank glyphs such as the space).
    pub fn outline(&self, glyph: u16) -> Arc<[Seg]> {
        let mut m = self.outlines.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(glyph)
            .or_insert_with(|| {
                let mut out = Vec::new();
                let mut c = Collect {
                    scale: 1.0 / self.units_per_em,
                    out: &mut out,
                };
                let _ = self
                    .face()
                    .outline_glyph(ttf_parser::GlyphId(glyph), &mut c);
                out.into()
            })
            .clone()
    }

    /// A copy of the font that keeps only the outlines of `glyphs` (glyph ids unchanged).
    pub fn subset(&self, glyphs: &[u16]) -> Result<Vec<u8>, FontError> {
        subsetter::subset(self.data, 0, subsetter::Profile::pdf(glyphs)).map_err(|e| {
            FontError::Unusable {
                path: self.path.display().to_string(),
                reason: format!("subsetting failed: {e}"),
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The installed default font (the set-up installs it; tests need it).
    pub(crate) fn font() -> Arc<Font> {
        load(Path::new(DEFAULT_FONT)).expect("the label font is installed by ./scripts/dev setup")
    }

    #[test]
    fn the_default_font_covers_label_text() {
        let f = font();
        for text in [
            super::super::SCAN_TO_VERIFY,
            "婴儿配方奶粉 1段 波尔多红葡萄酒 精华液 鱼油软胶囊",
            "Infant formula GTIN 0123456789 LOT EXP SN -_.~",
        ] {
            let g = f.glyphs(text).unwrap();
            assert_eq!(g.len(), text.chars().count());
        }
        assert_eq!(f.postscript_name(), "WenQuanYiMicroHei");
        let (_, han) = f.glyphs("验").unwrap()[0];
        assert!(!f.outline(han).is_empty());
        assert!(
            f.width("验") > 0.8 && f.width("验") <= 1.05,
            "{}",
            f.width("验")
        );
        assert!(f.width("i") < f.width("W"));
        // A subset keeps the ids and is much smaller than the 4 MB font.
        let sub = f.subset(&[han, f.glyph('A').unwrap()]).unwrap();
        assert!(sub.len() < f.data().len() / 10, "{}", sub.len());
        let face = ttf_parser::Face::parse(&sub, 0).unwrap();
        assert!(face
            .outline_glyph(
                ttf_parser::GlyphId(han),
                &mut Collect {
                    scale: 1.0,
                    out: &mut Vec::new()
                }
            )
            .is_some());
    }

    #[test]
    fn clear_errors_for_missing_or_bad_fonts_and_glyphs() {
        let e = Font::read(Path::new("/nonexistent/x.ttf")).unwrap_err();
        assert!(e.to_string().contains("fonts-wqy-microhei"), "{e}");
        let e = Font::from_bytes(Path::new("junk.ttf"), b"not a font".to_vec()).unwrap_err();
        assert!(matches!(e, FontError::Unusable { .. }), "{e}");
        let e = font().glyphs("ok \u{10FFFD}").unwrap_err();
        assert!(e.to_string().contains("U+10FFFD"), "{e}");
    }
}

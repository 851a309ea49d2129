//! The TrueType font labels are drawn with: one font that covers Chinese and Latin text, read
//! from disk once. The default is WenQuanYi Micro Hei from Debian's `fonts-wqy-microhei`
//! (Apache-2.0 or GPL-3+ with the font exception; TrueType outlines; the first face of the
//! collection), which `./scripts/dev setup` installs; another TrueType (`glyf`) font can be
//! configured (`[labels] font`, `TRACESEAL_LABEL_FONT`). (Droid Sans Fallback, the other
//! small Debian CJK TrueType font, has no Latin letters, so it cannot be the only font.)
//!
//! Glyphs are drawn from their outlines: PNG labels rasterise them, SVG labels carry them as
//! paths (so they print the same on a machine without the font), PDF sheets embed a subset of
//! the font. Fonts are read with Google's fontations (`skrifa`) and subset with `subsetter`
//! (typst), both maintained; `docs/labels.md` says why not ttf-parser (RUSTSEC-2026-0192).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::raw::TableProvider;
use skrifa::string::StringId;
use skrifa::{FontRef, GlyphId, MetadataProvider};

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
    face: FontRef<'static>,
    units_per_em: f32,
    descender: f32,
    bbox: [f32; 4],
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

impl OutlinePen for Collect<'_> {
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
        FontRef::from_index(&data, 0).map_err(|e| bad(e.to_string()))?;
        let data: &'static [u8] = Box::leak(data.into_boxed_slice());
        let face = FontRef::from_index(data, 0).map_err(|e| bad(e.to_string()))?;
        check_usable(&face).map_err(|d| bad(d.to_string()))?;
        let m = face.metrics(Size::unscaled(), LocationRef::default());
        let upem = f32::from(m.units_per_em);
        let bbox = m
            .bounds
            .map(|b| {
                [
                    b.x_min / upem,
                    b.y_min / upem,
                    b.x_max / upem,
                    b.y_max / upem,
                ]
            })
            .unwrap_or([0.0, m.descent / upem, 1.0, m.ascent / upem]);
        Ok(Font {
            path: path.to_path_buf(),
            data,
            face,
            units_per_em: upem,
            descender: m.descent / upem,
            bbox,
            ascender: m.ascent / upem,
            cap_height: m.cap_height.map(|h| h / upem).unwrap_or(0.7),
            cmap: Mutex::new(HashMap::new()),
            outlines: Mutex::new(HashMap::new()),
        })
    }

    fn face(&self) -> &FontRef<'static> {
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
            .localized_strings(StringId::POSTSCRIPT_NAME)
            .map(|n| n.to_string())
            .find(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic()))
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
        self.descender
    }

    /// Font bounding box in em: x0, y0, x1, y1.
    pub fn bbox(&self) -> [f32; 4] {
        self.bbox
    }

    /// The glyph for `ch`, if the font has one.
    pub fn glyph(&self, ch: char) -> Option<u16> {
        let mut m = self.cmap.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(ch).or_insert_with(|| {
            let g = self.face().charmap().map(ch)?;
            u16::try_from(g.to_u32()).ok()
        })
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
            .glyph_metrics(Size::unscaled(), LocationRef::default())
            .advance_width(GlyphId::new(u32::from(glyph)))
            .map(|a| a / self.units_per_em)
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
            .or_insert_with(|| outline_of(self.face(), glyph, 1.0 / self.units_per_em).into())
            .clone()
    }

    /// A copy of the font that keeps only the outlines of `glyphs` (and `.notdef`), with
    /// the glyphs renumbered: the map says each kept glyph's id in the subset.
    pub fn subset(&self, glyphs: &[u16]) -> Result<Subset, FontError> {
        let mut remapper = subsetter::GlyphRemapper::new();
        let mut map = BTreeMap::new();
        for &g in glyphs {
            map.insert(g, remapper.remap(g));
        }
        let data = subsetter::subset(self.data, 0, &remapper).map_err(|e| FontError::Unusable {
            path: self.path.display().to_string(),
            reason: format!("subsetting failed: {e}"),
        })?;
        Ok(Subset { data, map })
    }
}

/// A subset of the label font ([`Font::subset`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subset {
    /// The subset font file.
    pub data: Vec<u8>,
    /// Glyph id in the full font → glyph id in the subset.
    pub map: BTreeMap<u16, u16>,
}

/// The outline of `glyph` in `face`, scaled by `scale` (empty when it has none or cannot be
/// drawn).
fn outline_of(face: &FontRef<'_>, glyph: u16, scale: f32) -> Vec<Seg> {
    let mut out = Vec::new();
    let Some(g) = face.outline_glyphs().get(GlyphId::new(u32::from(glyph))) else {
        return out;
    };
    let settings = DrawSettings::unhinted(Size::unscaled(), LocationRef::default());
    if g.draw(
        settings,
        &mut Collect {
            scale,
            out: &mut out,
        },
    )
    .is_err()
    {
        out.clear();
    }
    out
}

/// `fsType` bits of the OS/2 table (OpenType): no subsetting; bitmap embedding only.
const FS_NO_SUBSETTING: u16 = 0x0100;
const FS_BITMAP_ONLY: u16 = 0x0200;

/// Why a parsed font cannot draw labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FontDefect {
    /// No TrueType outlines.
    #[error("it has no TrueType (glyf) outlines; PDF embedding needs them")]
    NoOutlines,
    /// A licence that forbids embedding outlines.
    #[error("its licence does not allow embedding")]
    NoEmbedding,
    /// No Latin letters and digits.
    #[error("it has no Latin letters and digits")]
    NoLatin,
}

fn check_usable(face: &FontRef<'_>) -> Result<(), FontDefect> {
    if face.glyf().is_err() {
        return Err(FontDefect::NoOutlines);
    }
    let fs_type = face.os2().map(|t| t.fs_type()).unwrap_or(0);
    if fs_type & FS_NO_SUBSETTING == 0 && fs_type & FS_BITMAP_ONLY != 0 {
        return Err(FontDefect::NoEmbedding);
    }
    let cmap = face.charmap();
    if cmap.map('A').is_none() || cmap.map('0').is_none() {
        return Err(FontDefect::NoLatin);
    }
    Ok(())
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
        // A subset is much smaller than the 4 MB font, and its renumbered glyphs have the
        // same outlines.
        let a = f.glyph('A').unwrap();
        let sub = f.subset(&[han, a]).unwrap();
        assert!(sub.data.len() < f.data().len() / 10, "{}", sub.data.len());
        assert_eq!(sub.map.len(), 2);
        let small = FontRef::new(&sub.data).unwrap();
        for g in [han, a] {
            let kept = outline_of(&small, sub.map[&g], 1.0 / f.units_per_em());
            assert!(!kept.is_empty());
            assert_eq!(&kept[..], &f.outline(g)[..], "glyph {g}");
        }
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

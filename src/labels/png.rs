//! PNG labels: 8-bit greyscale at a chosen resolution, QR modules snapped to whole pixels
//! (so every module prints the same size), anti-aliased text rasterised from the font's
//! outlines, and the resolution recorded in the `pHYs` chunk so printing software prints the
//! label at its true size.

use ab_glyph_rasterizer::{point, Point, Rasterizer};

use super::font::{Font, Seg};
use super::layout::{Frame, LabelSpec, Placed};
use super::{LabelData, LayoutError, MIN_MODULE_MM};

/// Resolutions accepted, dots per inch.
pub const DPI_RANGE: std::ops::RangeInclusive<u32> = 72..=1200;
/// Largest PNG label, in pixels (a 200 × 160 mm label at 1200 dpi is 45 million).
pub const MAX_PIXELS: f64 = 50e6;

fn px(mm: f64, dpi: u32) -> f64 {
    mm * f64::from(dpi) / 25.4
}

/// The frame of a PNG label: like [`LabelSpec::frame_for`], with the module snapped to whole
/// pixels at `dpi` (rounded, or rounded up where rounding would go below the minimum).
pub fn frame(
    spec: &LabelSpec,
    dpi: u32,
    sample: &LabelData,
    font: &Font,
) -> Result<Frame, LayoutError> {
    if !DPI_RANGE.contains(&dpi) {
        return Err(LayoutError::Invalid(format!(
            "dpi must be between {} and {}, not {dpi}",
            DPI_RANGE.start(),
            DPI_RANGE.end()
        )));
    }
    let pixels = px(spec.width_mm, dpi).round() * px(spec.height_mm, dpi).round();
    if pixels > MAX_PIXELS {
        return Err(LayoutError::Invalid(format!(
            "a {} × {} mm label at {dpi} dpi is {:.0} million pixels; PNG labels are limited to {:.0} million (lower the dpi)",
            spec.width_mm,
            spec.height_mm,
            pixels / 1e6,
            MAX_PIXELS / 1e6
        )));
    }
    let wanted = match spec.module_mm {
        Some(m) => {
            if m < MIN_MODULE_MM {
                return Err(LayoutError::BelowMinimum { module_mm: m });
            }
            m
        }
        None => spec.frame_for(sample, font)?.module_mm,
    };
    let min_px = px(MIN_MODULE_MM, dpi).ceil().max(1.0);
    let mut dots = px(wanted, dpi).round().max(1.0);
    if spec.module_mm.is_none() {
        dots = px(wanted, dpi).floor().max(1.0);
    }
    let dots = dots.max(min_px);
    let snapped = LabelSpec {
        module_mm: Some(dots * 25.4 / f64::from(dpi)),
        ..*spec
    };
    snapped.frame_for(sample, font)
}

/// Draws a placed label into a greyscale buffer (255 = white).
pub fn raster(p: &Placed, dpi: u32, font: &Font) -> (u32, u32, Vec<u8>) {
    let f = &p.frame;
    let (w, h) = (
        px(f.width_mm, dpi).round() as u32,
        px(f.height_mm, dpi).round() as u32,
    );
    let mut c = Canvas {
        w,
        h,
        buf: vec![255u8; (w * h) as usize],
    };
    c.fill_qr(p, dpi);
    let mut r = Rasterizer::new(0, 0);
    for line in &p.lines {
        let scale = px(line.size_mm, dpi) as f32;
        let (lx, base) = (px(line.x_mm, dpi) as f32, px(line.baseline_mm, dpi) as f32);
        for &(g, off) in &line.glyphs {
            let segs = font.outline(g);
            if !segs.is_empty() {
                let ox = lx + off * scale;
                c.draw_glyph(&mut r, &segs, |x, y| (ox + x * scale, base - y * scale));
            }
        }
    }
    (w, h, c.buf)
}

/// A greyscale label being drawn: white 255, black 0.
struct Canvas {
    w: u32,
    h: u32,
    buf: Vec<u8>,
}

impl Canvas {
    /// The QR code, in whole pixels per module.
    fn fill_qr(&mut self, p: &Placed, dpi: u32) {
        let m = px(p.frame.module_mm, dpi).round() as u32;
        let (x0, y0) = (
            px(p.qr_x_mm, dpi).round() as u32,
            px(p.qr_y_mm, dpi).round() as u32,
        );
        for (row, col, len) in p.qr.runs() {
            let (x, y) = (x0 + col as u32 * m, y0 + row as u32 * m);
            for yy in y..(y + m).min(self.h) {
                let line = (yy * self.w) as usize;
                for xx in x..(x + len as u32 * m).min(self.w) {
                    self.buf[line + xx as usize] = 0;
                }
            }
        }
    }

    /// One glyph's outline, `to` placing font units on the canvas, anti-aliased.
    fn draw_glyph(
        &mut self,
        r: &mut Rasterizer,
        segs: &[Seg],
        to: impl Fn(f32, f32) -> (f32, f32),
    ) {
        let (bx, by, gw, gh) = glyph_box(segs, &to);
        r.reset(gw, gh);
        trace(r, segs, |x, y| {
            let (a, b) = to(x, y);
            point(a - bx, b - by)
        });
        let (w, h) = (self.w, self.h);
        r.for_each_pixel_2d(|x, y, a| {
            let (gx, gy) = (bx as i64 + i64::from(x), by as i64 + i64::from(y));
            if gx >= 0 && gy >= 0 && (gx as u32) < w && (gy as u32) < h {
                let i = (gy as u32 * w + gx as u32) as usize;
                let ink = (a.clamp(0.0, 1.0) * 255.0).round() as u16;
                self.buf[i] = (u16::from(self.buf[i]) * (255 - ink) / 255) as u8;
            }
        });
    }
}

/// The pixel box a glyph covers: its origin and size (the control points' bounding box
/// bounds the outline).
fn glyph_box(segs: &[Seg], to: &impl Fn(f32, f32) -> (f32, f32)) -> (f32, f32, usize, usize) {
    let (mut minx, mut miny, mut maxx, mut maxy) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    let mut see = |x: f32, y: f32| {
        let (a, b) = to(x, y);
        minx = minx.min(a);
        maxx = maxx.max(a);
        miny = miny.min(b);
        maxy = maxy.max(b);
    };
    for s in segs {
        match *s {
            Seg::Move(x, y) | Seg::Line(x, y) => see(x, y),
            Seg::Quad(a, b, x, y) => {
                see(a, b);
                see(x, y)
            }
            Seg::Cubic(a, b, c, d, x, y) => {
                see(a, b);
                see(c, d);
                see(x, y)
            }
            Seg::Close => {}
        }
    }
    let (bx, by) = (minx.floor(), miny.floor());
    let (gw, gh) = (
        (maxx.ceil() - bx) as usize + 1,
        (maxy.ceil() - by) as usize + 1,
    );
    (bx, by, gw, gh)
}

/// Draws an outline into the rasterizer, `at` placing font units in its box.
fn trace(r: &mut Rasterizer, segs: &[Seg], at: impl Fn(f32, f32) -> Point) {
    let (mut start, mut cur) = (point(0.0, 0.0), point(0.0, 0.0));
    for s in segs {
        match *s {
            Seg::Move(x, y) => {
                start = at(x, y);
                cur = start;
            }
            Seg::Line(x, y) => {
                let p1 = at(x, y);
                r.draw_line(cur, p1);
                cur = p1;
            }
            Seg::Quad(a, b, x, y) => {
                let p2 = at(x, y);
                r.draw_quad(cur, at(a, b), p2);
                cur = p2;
            }
            Seg::Cubic(a, b, c, d, x, y) => {
                let p3 = at(x, y);
                r.draw_cubic(cur, at(a, b), at(c, d), p3);
                cur = p3;
            }
            Seg::Close => {
                if cur != start {
                    r.draw_line(cur, start);
                }
                cur = start;
            }
        }
    }
}

/// Encodes a greyscale buffer as PNG with its resolution.
pub fn encode(w: u32, h: u32, pixels: &[u8], dpi: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(pixels.len() / 8);
    {
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(png::ColorType::Grayscale);
        e.set_depth(png::BitDepth::Eight);
        e.set_compression(png::Compression::Fast);
        let ppm = (f64::from(dpi) / 0.0254).round() as u32;
        e.set_pixel_dims(Some(png::PixelDimensions {
            xppu: ppm,
            yppu: ppm,
            unit: png::Unit::Meter,
        }));
        // Writing into a Vec cannot fail for a buffer of the declared size.
        let mut wr = e.write_header().expect("png header into memory");
        wr.write_image_data(pixels).expect("png data into memory");
    }
    out
}

/// One PNG label.
pub fn render(p: &Placed, dpi: u32, font: &Font) -> Vec<u8> {
    let (w, h, buf) = raster(p, dpi, font);
    encode(w, h, &buf, dpi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::font::tests::font;
    use crate::labels::layout::tests::data;
    use crate::labels::EcLevel;

    fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>, Option<png::PixelDimensions>) {
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut r = dec.read_info().unwrap();
        let dims = r.info().pixel_dims;
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf, dims)
    }

    #[test]
    fn a_png_label_decodes_to_the_code_at_every_resolution() {
        let f = font();
        let d = data();
        let spec = LabelSpec {
            width_mm: 60.0,
            height_mm: 40.0,
            module_mm: Some(0.4),
            ec: EcLevel::M,
        };
        for dpi in [150, 203, 300, 600] {
            let fr = frame(&spec, dpi, &d, &f).unwrap();
            let module_px = fr.module_mm * f64::from(dpi) / 25.4;
            assert!((module_px - module_px.round()).abs() < 1e-6, "{module_px}");
            assert!(fr.module_mm >= MIN_MODULE_MM);
            let bytes = render(&fr.place(&d, &f).unwrap(), dpi, &f);
            let (w, h, pixels, dims) = decode_png(&bytes);
            assert_eq!(w, (60.0 * f64::from(dpi) / 25.4).round() as u32);
            assert_eq!(h, (40.0 * f64::from(dpi) / 25.4).round() as u32);
            assert_eq!(dims.unwrap().xppu, (f64::from(dpi) / 0.0254).round() as u32);
            let mut img =
                rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
                    pixels[y * w as usize + x]
                });
            let grids = img.detect_grids();
            assert_eq!(grids.len(), 1, "at {dpi} dpi");
            assert_eq!(grids[0].decode().unwrap().1, d.code);
            // Text was drawn: there is ink in the text column, with grey (anti-aliased) edges.
            let text_x = (fr.text_x_mm * f64::from(dpi) / 25.4) as usize;
            let ink = (0..h as usize)
                .flat_map(|y| (text_x..w as usize).map(move |x| (x, y)))
                .filter(|&(x, y)| pixels[y * w as usize + x] < 128)
                .count();
            assert!(ink > 500, "{ink} text pixels at {dpi} dpi");
            assert!(pixels.iter().any(|&p| p > 30 && p < 220));
        }
        let e = frame(&spec, 50, &d, &f).unwrap_err();
        assert!(
            e.to_string().contains("dpi must be between 72 and 1200"),
            "{e}"
        );
        let huge = LabelSpec {
            width_mm: 500.0,
            height_mm: 500.0,
            ..spec
        };
        let e = frame(&huge, 1200, &d, &f).unwrap_err();
        assert!(e.to_string().contains("limited to 50 million"), "{e}");
    }
}

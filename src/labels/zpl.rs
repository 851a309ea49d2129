//! ZPL II for Zebra-compatible thermal printers (203 and 300 dpi), one `^XA … ^XZ` label per
//! item, and a syntax checker for what we generate.
//!
//! The QR code uses the printer's own encoder (`^BQN,2,m`, model 2, error correction from
//! [`EcLevel`], automatic input mode), so labels stay a few hundred bytes. Text is UTF-8
//! (`^CI28`); Latin text uses the resident font `0`, the Chinese product name and the
//! "扫码验真" line use a TrueType font stored on the printer ([`ZplLayout::cjk_font`], e.g.
//! Zebra's `E:ANMDS.TTF` (Andale Simplified Chinese) — install it with Zebra Setup Utilities).
//! Field data is hex-escaped (`^FH\`) wherever `^`, `~` or `\` could appear.

use std::fmt::Write as _;

use super::{
    modules, EcLevel, LabelData, LayoutError, MIN_MODULE_MM, QUIET_MODULES, SCAN_TO_VERIFY,
};

/// Printer resolutions supported.
pub const DPIS: [u32; 2] = [203, 300];

/// Label geometry and printer settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZplLayout {
    /// 203 or 300.
    pub dpi: u32,
    /// Label width, mm.
    pub width_mm: f64,
    /// Label height, mm.
    pub height_mm: f64,
    /// Wanted QR module size, mm (rounded to whole dots, never below [`MIN_MODULE_MM`]).
    pub module_mm: f64,
    /// QR error correction.
    #[serde(default)]
    pub ec: EcLevel,
    /// Printer font (drive and file) for Chinese text.
    pub cjk_font: String,
}

impl Default for ZplLayout {
    /// A 60 × 40 mm label at 203 dpi with 0.5 mm modules.
    fn default() -> Self {
        ZplLayout {
            dpi: 203,
            width_mm: 60.0,
            height_mm: 40.0,
            module_mm: 0.5,
            ec: EcLevel::M,
            cjk_font: "E:ANMDS.TTF".into(),
        }
    }
}

fn dots(mm: f64, dpi: u32) -> u32 {
    (mm * f64::from(dpi) / 25.4).round() as u32
}

/// Where things go on a label, in dots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Label width and height.
    pub width: u32,
    /// See `width`.
    pub height: u32,
    /// QR magnification: dots per module.
    pub magnification: u32,
    /// QR version.
    pub version: u32,
    /// Side of the QR symbol without quiet zone.
    pub qr_side: u32,
    /// Left edge of the text column.
    pub text_x: u32,
}

impl ZplLayout {
    /// Checks the layout for a code of `code_len` bytes and places the QR code and the text.
    pub fn geometry(&self, code_len: usize) -> Result<Geometry, LayoutError> {
        if !DPIS.contains(&self.dpi) {
            return Err(LayoutError::Invalid(format!(
                "dpi must be 203 or 300, not {}",
                self.dpi
            )));
        }
        if !(self.width_mm > 0.0
            && self.width_mm <= 220.0
            && self.height_mm > 0.0
            && self.height_mm <= 400.0)
        {
            return Err(LayoutError::Invalid(
                "label size must be within 220 × 400 mm".into(),
            ));
        }
        if self.cjk_font.is_empty()
            || !self.cjk_font.bytes().all(|b| b.is_ascii_graphic())
            || self.cjk_font.contains(['^', '~', ','])
        {
            return Err(LayoutError::Invalid(format!(
                "cjk_font {:?} must be a printer font path like E:ANMDS.TTF",
                self.cjk_font
            )));
        }
        let min_dots = (MIN_MODULE_MM * f64::from(self.dpi) / 25.4).ceil() as u32;
        let magnification = dots(self.module_mm, self.dpi).max(1);
        let printed_mm = f64::from(magnification) * 25.4 / f64::from(self.dpi);
        if printed_mm < MIN_MODULE_MM {
            return Err(LayoutError::ModuleTooSmall {
                module_mm: printed_mm,
                dpi: self.dpi,
                min_dots,
            });
        }
        if magnification > 10 {
            return Err(LayoutError::Invalid(format!(
                "module_mm {} is {magnification} dots; ZPL QR magnification is at most 10",
                self.module_mm
            )));
        }
        let version = self.ec.version_for(code_len).ok_or_else(|| {
            LayoutError::DoesNotFit(format!(
                "a {code_len}-byte code does not fit any QR version"
            ))
        })?;
        let qr_side = modules(version) * magnification;
        let quiet = QUIET_MODULES * magnification;
        let (width, height) = (
            dots(self.width_mm, self.dpi),
            dots(self.height_mm, self.dpi),
        );
        let need = qr_side + 2 * quiet;
        if need > height || need > width {
            return Err(LayoutError::DoesNotFit(format!(
                "the QR code needs {:.1} mm square with its quiet zone (version {version}, {magnification} dots per module); the label is {} × {} mm",
                f64::from(need) * 25.4 / f64::from(self.dpi),
                self.width_mm,
                self.height_mm
            )));
        }
        let text_x = qr_side + 2 * quiet;
        let min_text = dots(20.0, self.dpi);
        if width < text_x + min_text {
            return Err(LayoutError::DoesNotFit(format!(
                "the label leaves {:.1} mm beside the QR code; the text needs at least 20 mm",
                f64::from(width.saturating_sub(text_x)) * 25.4 / f64::from(self.dpi)
            )));
        }
        Ok(Geometry {
            width,
            height,
            magnification,
            version,
            qr_side,
            text_x,
        })
    }
}

/// Field data with `^`, `~` and `\` hex-escaped (for use after `^FH\`).
fn field(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '^' => out.push_str("\\5E"),
            '~' => out.push_str("\\7E"),
            '\\' => out.push_str("\\5C"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One label.
pub fn label(d: &LabelData, layout: &ZplLayout) -> Result<String, LayoutError> {
    let g = layout.geometry(d.code.len())?;
    let quiet = QUIET_MODULES * g.magnification;
    let dpi = layout.dpi;
    let pitch = dots(3.2, dpi);
    let latin = dots(2.4, dpi);
    let cjk = dots(2.8, dpi);
    let mut lines: Vec<(bool, String)> = vec![
        (true, d.name_zh.clone()),
        (false, d.name_en.clone()),
        (false, format!("GTIN {}", d.gtin)),
        (false, format!("LOT {}", d.lot)),
    ];
    if let Some(e) = &d.expiry {
        lines.push((false, format!("EXP {e}")));
    }
    lines.push((false, format!("SN {}", d.serial)));
    lines.push((true, SCAN_TO_VERIFY.to_string()));
    let text_height = quiet + pitch * lines.len() as u32;
    if text_height > g.height {
        return Err(LayoutError::DoesNotFit(format!(
            "the {} text lines need {:.1} mm of height; the label is {} mm high",
            lines.len(),
            f64::from(text_height) * 25.4 / f64::from(dpi),
            layout.height_mm
        )));
    }
    let mut z = String::with_capacity(640);
    let _ = write!(z, "^XA^CI28^PW{}^LL{}^LH0,0", g.width, g.height);
    let _ = write!(
        z,
        "^FO{quiet},{quiet}^BQN,2,{}^FD{}A,{}^FS",
        g.magnification,
        layout.ec.letter(),
        d.code
    );
    for (i, (chinese, text)) in lines.iter().enumerate() {
        let y = quiet + pitch * i as u32;
        let font = if *chinese {
            format!("^A@N,{cjk},{cjk},{}", layout.cjk_font)
        } else {
            format!("^A0N,{latin},{latin}")
        };
        let _ = write!(z, "^FO{},{y}{font}^FH\\^FD{}^FS", g.text_x, field(text));
    }
    z.push_str("^XZ\n");
    Ok(z)
}

/// What [`check`] found in a ZPL stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Labels (`^XA … ^XZ`).
    pub labels: usize,
    /// QR fields, with their data (after the `MA,` prefix).
    pub qr_data: Vec<String>,
}

/// Syntax check of ZPL II as this module writes it (a strict subset): labels open with `^XA`
/// and close with `^XZ`, every command is one we use with numeric parameters where ZPL wants
/// them, every `^FD` is closed by `^FS`, a QR field follows `^BQN,2,1..10` and starts with an
/// error-correction letter and `A,`. Returns the labels and the QR contents.
pub fn check(text: &str) -> Result<Checked, ZplSyntaxError> {
    let mut c = Checker {
        out: Checked {
            labels: 0,
            qr_data: Vec::new(),
        },
        open: false,
        last_bq: false,
    };
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(['\n', '\r']);
        if rest.is_empty() {
            break;
        }
        let (cmd, params, next) = next_command(rest)?;
        c.command(&cmd, params)?;
        rest = next;
    }
    if c.open {
        return syntax("the last label is not closed with ^XZ");
    }
    Ok(c.out)
}

/// Splits the next `^XX params` off `rest`: the command, its parameters, and what follows.
/// Field data (`^FD`) runs to its `^FS`; other parameters to the next `^`.
fn next_command(rest: &str) -> Result<(String, &str, &str), ZplSyntaxError> {
    let Some(body) = rest.strip_prefix('^') else {
        return syntax(format!("expected a ^command at {:?}", preview(rest)));
    };
    let cmd: String = body.chars().take(2).collect();
    let after = &body[cmd.len()..];
    let end = match cmd.as_str() {
        "FD" => after.find("^FS").ok_or("^FD without ^FS")?,
        _ => after.find('^').unwrap_or(after.len()),
    };
    Ok((cmd, &after[..end], &after[end..]))
}

/// The checker's state between commands.
struct Checker {
    out: Checked,
    /// Inside `^XA … ^XZ`.
    open: bool,
    /// The previous command was `^BQ`: the next field data is a QR code's.
    last_bq: bool,
}

impl Checker {
    fn command(&mut self, cmd: &str, params: &str) -> Result<(), ZplSyntaxError> {
        if !self.open && cmd != "XA" {
            return syntax(format!("^{cmd} outside ^XA … ^XZ"));
        }
        match cmd {
            "XA" => {
                if self.open {
                    return syntax("^XA inside a label");
                }
                if !params.is_empty() {
                    return syntax("^XA takes no parameters");
                }
                self.open = true;
            }
            "XZ" => {
                self.open = false;
                self.out.labels += 1;
            }
            "BQ" => {
                check_bq(params)?;
                self.last_bq = true;
            }
            "FD" => self.field_data(params)?,
            "FS" => {}
            other => check_setting(other, params)?,
        }
        Ok(())
    }

    fn field_data(&mut self, params: &str) -> Result<(), ZplSyntaxError> {
        if params.contains('^') || params.contains('~') {
            return syntax(format!(
                "unescaped ^ or ~ in field data {:?} (a missing ^FS?)",
                preview(params)
            ));
        }
        if self.last_bq {
            let data = params
                .get(1..)
                .and_then(|d| d.strip_prefix("A,"))
                .filter(|_| params.starts_with(['L', 'M', 'Q', 'H']))
                .ok_or_else(|| {
                    ZplSyntaxError(format!(
                        "QR field {:?} must start with L/M/Q/H and A,",
                        preview(params)
                    ))
                })?;
            self.out.qr_data.push(data.to_string());
            self.last_bq = false;
        }
        Ok(())
    }
}

fn check_bq(params: &str) -> Result<(), ZplSyntaxError> {
    let p: Vec<&str> = params.split(',').collect();
    let ok = p.len() == 3
        && p[0] == "N"
        && p[1] == "2"
        && p[2].parse::<u32>().is_ok_and(|m| (1..=10).contains(&m));
    if !ok {
        return syntax(format!("^BQ{params}: expected N,2,<1-10>"));
    }
    Ok(())
}

/// The commands that set up a label or field: encoding, sizes, origins, fonts, hex escapes.
fn check_setting(cmd: &str, params: &str) -> Result<(), ZplSyntaxError> {
    let nums = |n: usize| -> Result<(), ZplSyntaxError> {
        let v: Vec<&str> = params.split(',').collect();
        if v.len() != n || v.iter().any(|p| p.parse::<u32>().is_err()) {
            return syntax(format!("^{cmd}{params}: expected {n} numbers"));
        }
        Ok(())
    };
    match cmd {
        "CI" if params != "28" => syntax(format!("^CI{params}: only UTF-8 (^CI28) is used")),
        "CI" => Ok(()),
        "PW" | "LL" => nums(1),
        "LH" | "FO" => nums(2),
        "A0" | "A@" => {
            let p: Vec<&str> = params.split(',').collect();
            let want = if cmd == "A0" { 3 } else { 4 };
            if p.len() != want || p[0] != "N" || p[1..3].iter().any(|x| x.parse::<u32>().is_err()) {
                return syntax(format!("^{cmd}{params}: bad font parameters"));
            }
            Ok(())
        }
        "FH" if params != "\\" => syntax(format!("^FH{params}: expected ^FH\\")),
        "FH" => Ok(()),
        other => syntax(format!("unknown command ^{other}")),
    }
}

/// ZPL that the checker refuses, with what it found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ZPL: {0}")]
pub struct ZplSyntaxError(pub String);

impl From<&str> for ZplSyntaxError {
    fn from(m: &str) -> Self {
        ZplSyntaxError(m.to_string())
    }
}

fn syntax<T>(message: impl Into<String>) -> Result<T, ZplSyntaxError> {
    Err(ZplSyntaxError(message.into()))
}

fn preview(s: &str) -> String {
    s.chars().take(24).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> LabelData {
        LabelData {
            code: "https://verify.example.com/01/09506000134352/10/LOT-2026-11/21/AbCdEfGh_1234567?17=280630&k=1a2b3c4d&s=Fq3Nqv2SxJ9dOqkYjW7y8n3mKc9bVz1XxRtYuIoPaSdFgHjKlZxCvBnMqWeRtYuIoPaSdFgHjKlZxCvBnMqWeRtYu".into(),
            name_zh: "婴儿配方奶粉^1段".into(),
            name_en: "Infant formula ~ stage 1".into(),
            gtin: "09506000134352".into(),
            lot: "LOT-2026-11".into(),
            expiry: Some("2028-06-30".into()),
            serial: "AbCdEfGh_1234567".into(),
        }
    }

    #[test]
    fn a_label_passes_the_syntax_check_and_carries_the_code_exactly() {
        for dpi in DPIS {
            let layout = ZplLayout {
                dpi,
                ..ZplLayout::default()
            };
            let z = label(&data(), &layout).unwrap();
            let c = check(&z).unwrap();
            assert_eq!(c.labels, 1);
            assert_eq!(c.qr_data, vec![data().code]);
            assert!(z.contains("^FH\\^FD婴儿配方奶粉\\5E1段^FS"), "{z}");
            assert!(z.contains("Infant formula \\7E stage 1"));
            assert!(z.contains(SCAN_TO_VERIFY));
            let g = layout.geometry(data().code.len()).unwrap();
            let module_mm = f64::from(g.magnification) * 25.4 / f64::from(dpi);
            assert!(module_mm >= MIN_MODULE_MM, "{module_mm}");
        }
        // Known geometry: 60 × 40 mm at 203 dpi, 0.5 mm modules → 4 dots; this 192-byte code
        // needs version 10 at M (57 modules: 228 dots, 260 with the quiet zone).
        assert_eq!(data().code.len(), 192);
        let g = ZplLayout::default().geometry(data().code.len()).unwrap();
        assert_eq!(
            (g.width, g.height, g.magnification, g.version),
            (480, 320, 4, 10)
        );
        assert_eq!((g.qr_side, g.text_x), (228, 260));
    }

    #[test]
    fn layouts_that_break_scanning_or_do_not_fit_are_refused() {
        let small = ZplLayout {
            module_mm: 0.2,
            ..ZplLayout::default()
        };
        let e = small.geometry(150).unwrap_err();
        assert!(
            matches!(e, LayoutError::ModuleTooSmall { min_dots: 3, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("0.33 mm minimum"));
        let tiny = ZplLayout {
            width_mm: 25.0,
            height_mm: 15.0,
            ..ZplLayout::default()
        };
        assert!(matches!(
            tiny.geometry(150),
            Err(LayoutError::DoesNotFit(_))
        ));
        let narrow = ZplLayout {
            width_mm: 35.0,
            ..ZplLayout::default()
        };
        let e = narrow.geometry(150).unwrap_err();
        assert!(e.to_string().contains("text needs at least 20 mm"), "{e}");
        let dpi = ZplLayout {
            dpi: 600,
            ..ZplLayout::default()
        };
        assert!(matches!(dpi.geometry(150), Err(LayoutError::Invalid(_))));
    }

    #[test]
    fn the_checker_rejects_broken_zpl() {
        let good = label(&data(), &ZplLayout::default()).unwrap();
        assert!(check(&good.replace("^XZ", ""))
            .unwrap_err()
            .0
            .contains("not closed"));
        assert!(check(&good.replacen("^FS", "", 1)).is_err());
        assert!(check(&good.replace("^BQN,2,4", "^BQN,2,11"))
            .unwrap_err()
            .0
            .contains("^BQ"));
        assert!(check(&good.replace("^PW480", "^PWabc"))
            .unwrap_err()
            .0
            .contains("numbers"));
        assert!(check(&format!("{good}{good}")).unwrap().labels == 2);
        assert!(check("^XA^ZZ^XZ")
            .unwrap_err()
            .0
            .contains("unknown command"));
        assert!(check("hello").is_err());
    }

    #[test]
    fn qr_versions_follow_the_capacity_table() {
        assert_eq!(EcLevel::M.version_for(14), Some(1));
        assert_eq!(EcLevel::M.version_for(15), Some(2));
        assert_eq!(EcLevel::M.version_for(152), Some(8));
        assert_eq!(EcLevel::L.version_for(2953), Some(40));
        assert_eq!(EcLevel::H.version_for(1274), None);
        assert_eq!(modules(8), 49);
    }
}

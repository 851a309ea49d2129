//! Label rendering (adapter layer): what a printed label carries, the QR sizing rules shared
//! by every output format, and the renderers: PNG ([`png`]) and SVG ([`svg`]) per item, PDF
//! label sheets ([`pdf`]) for office printers, ZPL II ([`zpl`]) for thermal printers. PNG, SVG
//! and PDF share one geometry ([`layout`]) and one CJK TrueType font ([`font`]).
//!
//! The QR code always encodes exactly the signed code URI. Its printed module (one black or
//! white square) is never smaller than [`MIN_MODULE_MM`], the size below which phone cameras
//! start to misread labels; a layout that would go below it is refused with a clear message.
//! The quiet zone is 4 modules on every side (ISO/IEC 18004).

pub mod font;
pub mod job;
pub mod layout;
pub mod pdf;
pub mod png;
pub mod poster;
pub mod preview;
pub mod svg;
pub mod tar;
pub mod zpl;

/// Smallest printed QR module, in millimetres (13 mil, the usual floor for reliable phone
/// scanning at arm's length).
pub const MIN_MODULE_MM: f64 = 0.33;
/// Quiet zone around the QR symbol, in modules.
pub const QUIET_MODULES: u32 = 4;
/// The line under the QR code on every label.
pub const SCAN_TO_VERIFY: &str = "扫码验真 Scan to verify";

/// QR error-correction level (default M: 15 % of the symbol may be damaged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EcLevel {
    /// ~7 %.
    L,
    /// ~15 % (default).
    #[default]
    M,
    /// ~25 %.
    Q,
    /// ~30 %.
    H,
}

impl EcLevel {
    /// The letter used by ZPL and most tools.
    pub fn letter(self) -> char {
        match self {
            EcLevel::L => 'L',
            EcLevel::M => 'M',
            EcLevel::Q => 'Q',
            EcLevel::H => 'H',
        }
    }

    /// Byte-mode capacity of QR versions 1–40 at this level (ISO/IEC 18004 table 7).
    fn byte_capacity(self) -> &'static [u16; 40] {
        match self {
            EcLevel::L => &[
                17, 32, 53, 78, 106, 134, 154, 192, 230, 271, 321, 367, 425, 458, 520, 586, 644,
                718, 792, 858, 929, 1003, 1091, 1171, 1273, 1367, 1465, 1528, 1628, 1732, 1840,
                1952, 2068, 2188, 2303, 2431, 2563, 2699, 2809, 2953,
            ],
            EcLevel::M => &[
                14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504,
                560, 624, 666, 711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370, 1452, 1538,
                1628, 1722, 1809, 1911, 1989, 2099, 2213, 2331,
            ],
            EcLevel::Q => &[
                11, 20, 32, 46, 60, 74, 86, 108, 130, 151, 177, 203, 241, 258, 292, 322, 364, 394,
                442, 482, 509, 565, 611, 661, 715, 751, 805, 868, 908, 982, 1030, 1112, 1168, 1228,
                1283, 1351, 1423, 1499, 1579, 1663,
            ],
            EcLevel::H => &[
                7, 14, 24, 34, 44, 58, 64, 84, 98, 119, 137, 155, 177, 194, 220, 250, 280, 310,
                338, 382, 403, 439, 461, 511, 535, 593, 625, 658, 698, 742, 790, 842, 898, 958,
                983, 1051, 1093, 1139, 1219, 1273,
            ],
        }
    }

    /// The smallest QR version holding `bytes` bytes in byte mode, if any.
    pub fn version_for(self, bytes: usize) -> Option<u32> {
        self.byte_capacity()
            .iter()
            .position(|&c| usize::from(c) >= bytes)
            .map(|i| i as u32 + 1)
    }
}

/// Modules per side of a QR symbol of `version` (without the quiet zone).
pub fn modules(version: u32) -> u32 {
    17 + 4 * version
}

/// What one label shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelData {
    /// The signed code URI (the QR content, exactly).
    pub code: String,
    /// Product name, Chinese.
    pub name_zh: String,
    /// Product name, English.
    pub name_en: String,
    /// GTIN-14.
    pub gtin: String,
    /// Lot.
    pub lot: String,
    /// Expiry `YYYY-MM-DD`, if any.
    pub expiry: Option<String>,
    /// Serial.
    pub serial: String,
}

/// Why a layout cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LayoutError {
    /// The module would be printed smaller than [`MIN_MODULE_MM`].
    #[error("a QR module of {module_mm:.3} mm is below the {MIN_MODULE_MM} mm minimum for reliable phone scanning; use a larger module size (at {dpi} dpi: at least {min_dots} dots)")]
    ModuleTooSmall {
        /// Requested module size.
        module_mm: f64,
        /// Printer resolution.
        dpi: u32,
        /// Smallest module in dots at that resolution.
        min_dots: u32,
    },
    /// A vector layout asks for modules below [`MIN_MODULE_MM`].
    #[error("a QR module of {module_mm} mm is below the {MIN_MODULE_MM} mm minimum for reliable phone scanning; use a larger module_mm")]
    BelowMinimum {
        /// Requested module size.
        module_mm: f64,
    },
    /// The QR symbol (with its quiet zone) or the text does not fit the label.
    #[error("{0}")]
    DoesNotFit(String),
    /// A parameter is out of range.
    #[error("{0}")]
    Invalid(String),
}

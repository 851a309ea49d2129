//! GS1 identifiers and the other registry codes an item carries.
//!
//! Every type here is a "parse, don't validate" newtype: the only way to get one is through its
//! parser, which checks the value and stores it in its one canonical encoding. Holding a [`Gtin`]
//! therefore means holding a 14-digit GTIN with a correct check digit, and so on.
//!
//! | type | what | canonical form |
//! | --- | --- | --- |
//! | [`Gtin`] | GS1 AI (01), GTIN-8/12/13/14 | 14 digits, left zero-padded |
//! | [`Lot`] | GS1 AI (10), batch/lot | 1–20 chars of `[A-Za-z0-9._-]` |
//! | [`Serial`] | GS1 AI (21), serial number | 1–20 chars of `[A-Za-z0-9._-]` |
//! | [`Expiry`] | GS1 AI (17), expiration date | `YYMMDD` (AI 17) or ISO `YYYY-MM-DD` |
//! | [`Uscc`] | Chinese unified social credit code (GB 32100-2015) | 18 upper-case chars |
//! | [`CountryCode`] | ISO 3166-1 alpha-2 | 2 upper-case letters |
//!
//! Character positions in error messages are 1-based, as a person counts them.
//!
//! The lot and serial alphabet `[A-Za-z0-9._-]` is the RFC 3986 "unreserved" set minus `~`: it
//! needs no percent-encoding in a URI and stays inside the characters GB/T 33993 allows for
//! commodity codes, so every value prints the same on a label, in a URI and in a database.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest lot or serial GS1 allows (AI 10 and AI 21 are `X..20`).
pub const MAX_LOT_SERIAL_LEN: usize = 20;

/// Number of random bytes in a [`Serial::random`] serial (96 bits).
pub const SERIAL_RANDOM_BYTES: usize = 12;

/// Why a GS1 identifier, USCC or country code was rejected.
///
/// Messages say what is wrong and what was expected; they are shown to API clients as-is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Gs1Error {
    /// The GTIN has a length other than 8, 12, 13 or 14.
    #[error("GTIN must have 8, 12, 13 or 14 digits, found {len} characters")]
    GtinLength {
        /// Number of characters found.
        len: usize,
    },
    /// The GTIN contains something other than a digit.
    #[error("GTIN character {ch:?} at position {position} is not a digit")]
    GtinChar {
        /// The offending character.
        ch: char,
        /// 1-based position of the character.
        position: usize,
    },
    /// The GTIN's last digit does not match the GS1 mod-10 check digit of the others.
    #[error("GTIN check digit is {found}, expected {expected}")]
    GtinCheckDigit {
        /// Check digit written in the GTIN.
        found: u8,
        /// Check digit computed from the other digits.
        expected: u8,
    },
    /// The lot is the empty string.
    #[error("lot must not be empty")]
    LotEmpty,
    /// The lot is longer than 20 characters.
    #[error("lot has {len} characters, at most 20 allowed")]
    LotTooLong {
        /// Number of characters found.
        len: usize,
    },
    /// The lot contains a character outside `[A-Za-z0-9._-]`.
    #[error("lot character {ch:?} at position {position} is not allowed (only A-Z a-z 0-9 . _ -)")]
    LotChar {
        /// The offending character.
        ch: char,
        /// 1-based position of the character.
        position: usize,
    },
    /// The serial is the empty string.
    #[error("serial must not be empty")]
    SerialEmpty,
    /// The serial is longer than 20 characters.
    #[error("serial has {len} characters, at most 20 allowed")]
    SerialTooLong {
        /// Number of characters found.
        len: usize,
    },
    /// The serial contains a character outside `[A-Za-z0-9._-]`.
    #[error(
        "serial character {ch:?} at position {position} is not allowed (only A-Z a-z 0-9 . _ -)"
    )]
    SerialChar {
        /// The offending character.
        ch: char,
        /// 1-based position of the character.
        position: usize,
    },
    /// The expiry date is not written in the expected layout.
    #[error("expiry date must be written as {expected}")]
    ExpiryFormat {
        /// The expected layout, e.g. `YYMMDD`.
        expected: &'static str,
    },
    /// The expiry year is outside 2000–2099.
    #[error("expiry year {year} is outside 2000-2099")]
    ExpiryYear {
        /// Year found.
        year: u16,
    },
    /// The expiry month is outside 01–12.
    #[error("expiry month {month:02} is not between 01 and 12")]
    ExpiryMonth {
        /// Month found.
        month: u8,
    },
    /// The expiry day does not exist in that month.
    #[error("expiry day {day:02} does not exist in {year}-{month:02}")]
    ExpiryDay {
        /// Year of the date.
        year: u16,
        /// Month of the date.
        month: u8,
        /// Day found.
        day: u8,
    },
    /// The unified social credit code is not 18 characters long.
    #[error("unified social credit code must have 18 characters, found {len}")]
    UsccLength {
        /// Number of characters found.
        len: usize,
    },
    /// The unified social credit code contains a character outside its alphabet.
    #[error(
        "unified social credit code character {ch:?} at position {position} is not allowed \
         (only 0-9 and A-Z without I, O, S, V, Z)"
    )]
    UsccChar {
        /// The offending character.
        ch: char,
        /// 1-based position of the character.
        position: usize,
    },
    /// Positions 3–8 (the administrative division code) are not all digits.
    #[error(
        "unified social credit code character {ch:?} at position {position} must be a digit \
         (positions 3-8 are the administrative division code)"
    )]
    UsccRegion {
        /// The offending character.
        ch: char,
        /// 1-based position of the character.
        position: usize,
    },
    /// The unified social credit code's check character is wrong.
    #[error("unified social credit code check character is {found}, expected {expected}")]
    UsccCheck {
        /// Check character written in the code.
        found: char,
        /// Check character computed from the first 17.
        expected: char,
    },
    /// The country code is not two characters long.
    #[error("country code must have 2 letters, found {len} characters")]
    CountryLength {
        /// Number of characters found.
        len: usize,
    },
    /// The country code contains something other than a letter.
    #[error("country code character {ch:?} at position {position} is not a letter")]
    CountryChar {
        /// The offending character.
        ch: char,
        /// 1-based position of the character.
        position: usize,
    },
    /// The country code is two letters but not an officially assigned ISO 3166-1 code.
    #[error("{code} is not an officially assigned ISO 3166-1 alpha-2 country code")]
    CountryUnassigned {
        /// The code found, upper-cased.
        code: String,
    },
}

impl Gs1Error {
    /// A short, stable, machine-readable name for the kind of error, e.g. `gtin_check_digit`.
    ///
    /// Used in test vectors and as the problem type suffix in HTTP error responses.
    pub fn kind(&self) -> &'static str {
        match self {
            Gs1Error::GtinLength { .. } => "gtin_length",
            Gs1Error::GtinChar { .. } => "gtin_char",
            Gs1Error::GtinCheckDigit { .. } => "gtin_check_digit",
            Gs1Error::LotEmpty => "lot_empty",
            Gs1Error::LotTooLong { .. } => "lot_too_long",
            Gs1Error::LotChar { .. } => "lot_char",
            Gs1Error::SerialEmpty => "serial_empty",
            Gs1Error::SerialTooLong { .. } => "serial_too_long",
            Gs1Error::SerialChar { .. } => "serial_char",
            Gs1Error::ExpiryFormat { .. } => "expiry_format",
            Gs1Error::ExpiryYear { .. } => "expiry_year",
            Gs1Error::ExpiryMonth { .. } => "expiry_month",
            Gs1Error::ExpiryDay { .. } => "expiry_day",
            Gs1Error::UsccLength { .. } => "uscc_length",
            Gs1Error::UsccChar { .. } => "uscc_char",
            Gs1Error::UsccRegion { .. } => "uscc_region",
            Gs1Error::UsccCheck { .. } => "uscc_check",
            Gs1Error::CountryLength { .. } => "country_length",
            Gs1Error::CountryChar { .. } => "country_char",
            Gs1Error::CountryUnassigned { .. } => "country_unassigned",
        }
    }
}

/// Implements `Display`, `FromStr` and string serde (serialize `as_str`, deserialize via `parse`)
/// for a newtype with `parse(&str) -> Result<Self, E>` and `as_str(&self) -> &str`.
macro_rules! string_newtype_impls {
    ($ty:ty, $err:ty) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$ty>::parse(s)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                <$ty>::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_newtype_impls;

// ---------------------------------------------------------------------------------------------
// GTIN

/// A GS1 Global Trade Item Number (AI 01), normalised to 14 digits.
///
/// [`Gtin::parse`] accepts GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN-13) and GTIN-14 with a valid
/// GS1 mod-10 check digit and left-pads shorter forms with zeros, so `96385074` and
/// `00000096385074` are the same `Gtin`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtin(String);

impl Gtin {
    /// Parses a GTIN-8/12/13/14 and normalises it to 14 digits.
    pub fn parse(s: &str) -> Result<Gtin, Gs1Error> {
        if let Some((i, ch)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(Gs1Error::GtinChar {
                ch,
                position: i + 1,
            });
        }
        // All characters are ASCII digits from here on, so byte length = character count.
        let len = s.len();
        if !matches!(len, 8 | 12 | 13 | 14) {
            return Err(Gs1Error::GtinLength { len });
        }
        let mut digits = String::with_capacity(14);
        digits.extend(std::iter::repeat_n('0', 14 - len));
        digits.push_str(s);
        let bytes = digits.as_bytes();
        let expected = gs1_check_digit(&bytes[..13]);
        let found = bytes[13] - b'0';
        if found != expected {
            return Err(Gs1Error::GtinCheckDigit { found, expected });
        }
        Ok(Gtin(digits))
    }

    /// The 14-digit form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_impls!(Gtin, Gs1Error);

/// GS1 mod-10 check digit of ASCII `digits` (all but the check digit).
///
/// Weights alternate 3, 1, 3, … starting from the digit next to the check digit.
fn gs1_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    // `sum % 10` is < 10, so the result fits in a u8.
    ((10 - sum % 10) % 10) as u8
}

// ---------------------------------------------------------------------------------------------
// Lot and serial

/// Whether `c` is in the lot/serial alphabet `[A-Za-z0-9._-]`.
fn is_lot_serial_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Which of the two AI-10/AI-21 style fields is being parsed (selects the error variants).
#[derive(Clone, Copy)]
enum LotOrSerial {
    Lot,
    Serial,
}

/// Checks 1..=20 characters of `[A-Za-z0-9._-]`.
fn check_lot_serial(s: &str, field: LotOrSerial) -> Result<(), Gs1Error> {
    for (i, ch) in s.chars().enumerate() {
        if !is_lot_serial_char(ch) {
            return Err(match field {
                LotOrSerial::Lot => Gs1Error::LotChar {
                    ch,
                    position: i + 1,
                },
                LotOrSerial::Serial => Gs1Error::SerialChar {
                    ch,
                    position: i + 1,
                },
            });
        }
    }
    // Every character is ASCII from here on, so byte length = character count.
    let len = s.len();
    match (len, field) {
        (0, LotOrSerial::Lot) => Err(Gs1Error::LotEmpty),
        (0, LotOrSerial::Serial) => Err(Gs1Error::SerialEmpty),
        (len, LotOrSerial::Lot) if len > MAX_LOT_SERIAL_LEN => Err(Gs1Error::LotTooLong { len }),
        (len, LotOrSerial::Serial) if len > MAX_LOT_SERIAL_LEN => {
            Err(Gs1Error::SerialTooLong { len })
        }
        _ => Ok(()),
    }
}

/// A batch or lot number (GS1 AI 10): 1–20 characters of `[A-Za-z0-9._-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lot(String);

impl Lot {
    /// Parses a lot number; case is significant and kept.
    pub fn parse(s: &str) -> Result<Lot, Gs1Error> {
        check_lot_serial(s, LotOrSerial::Lot)?;
        Ok(Lot(s.to_owned()))
    }

    /// The lot number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_impls!(Lot, Gs1Error);

/// A serial number (GS1 AI 21): 1–20 characters of `[A-Za-z0-9._-]`.
///
/// Serials that traceseal issues come from [`Serial::random`]: 96 bits from the OS CSPRNG as 16
/// base64url characters, so they cannot be guessed or enumerated. [`Serial::parse`] accepts any
/// well-formed serial (for example one printed by a manufacturer).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(String);

impl Serial {
    /// Parses a serial number; case is significant and kept.
    pub fn parse(s: &str) -> Result<Serial, Gs1Error> {
        check_lot_serial(s, LotOrSerial::Serial)?;
        Ok(Serial(s.to_owned()))
    }

    /// A fresh unguessable serial: 12 bytes (96 bits) from the operating system's CSPRNG,
    /// encoded as 16 characters of base64url without padding.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails (as [`OsRng`] does); there is
    /// no safe way to continue issuing serials without one.
    pub fn random() -> Serial {
        let mut bytes = [0u8; SERIAL_RANDOM_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Serial::from_random_bytes(&bytes)
    }

    /// The serial for 12 caller-supplied random bytes: their base64url encoding without padding
    /// (16 characters). Batch issuance fills one buffer from the OS CSPRNG per chunk and cuts it
    /// into 12-byte pieces; the bytes must come from a CSPRNG.
    pub fn from_random_bytes(bytes: &[u8; SERIAL_RANDOM_BYTES]) -> Serial {
        // base64url uses only [A-Za-z0-9_-], a subset of the serial alphabet, and 12 bytes
        // encode to exactly 16 characters, so the result is a valid serial.
        Serial(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The serial number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_impls!(Serial, Gs1Error);

// ---------------------------------------------------------------------------------------------
// Expiry

/// An expiration date (GS1 AI 17) in 2000–2099.
///
/// The day may be 0, which GS1 AI 17 (`YYMMDD` with `DD` = `00`) uses to mean "the end of that
/// month" when only year and month are known; [`Expiry::to_iso`] then gives the month's last
/// day. Such a date and the explicit last day are different values, because they are written
/// differently in a code.
///
/// Serde uses ISO 8601: `"YYYY-MM-DD"`, or the calendar month `"YYYY-MM"` when the day is 0, so
/// every value round-trips exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Expiry {
    year: u16,
    month: u8,
    day: u8,
}

impl Expiry {
    /// Parses an ISO 8601 calendar date `YYYY-MM-DD` (a real date in 2000–2099).
    pub fn parse_iso(s: &str) -> Result<Expiry, Gs1Error> {
        const EXPECTED: &str = "YYYY-MM-DD";
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(Gs1Error::ExpiryFormat { expected: EXPECTED });
        }
        let year = digits_value(&b[0..4]).ok_or(Gs1Error::ExpiryFormat { expected: EXPECTED })?;
        let month = digits_value(&b[5..7]).ok_or(Gs1Error::ExpiryFormat { expected: EXPECTED })?;
        let day = digits_value(&b[8..10]).ok_or(Gs1Error::ExpiryFormat { expected: EXPECTED })?;
        // `digits_value` of 4 and 2 digits is < 10_000 and < 100 respectively.
        Expiry::new(year as u16, month as u8, day as u8, false)
    }

    /// Parses GS1 AI 17 `YYMMDD`: `YY` means 20YY; `DD` = `00` means the end of the month.
    pub fn parse_yymmdd(s: &str) -> Result<Expiry, Gs1Error> {
        const EXPECTED: &str = "YYMMDD";
        let b = s.as_bytes();
        if b.len() != 6 {
            return Err(Gs1Error::ExpiryFormat { expected: EXPECTED });
        }
        let yy = digits_value(&b[0..2]).ok_or(Gs1Error::ExpiryFormat { expected: EXPECTED })?;
        let month = digits_value(&b[2..4]).ok_or(Gs1Error::ExpiryFormat { expected: EXPECTED })?;
        let day = digits_value(&b[4..6]).ok_or(Gs1Error::ExpiryFormat { expected: EXPECTED })?;
        // Two-digit values are < 100.
        Expiry::new(2000 + yy as u16, month as u8, day as u8, true)
    }

    /// Parses the calendar month form `YYYY-MM` used by serde for day 0.
    fn parse_iso_month(s: &str) -> Result<Expiry, Gs1Error> {
        const EXPECTED: &str = "YYYY-MM-DD or YYYY-MM";
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return Err(Gs1Error::ExpiryFormat { expected: EXPECTED });
        }
        let year = digits_value(&b[0..4]).ok_or(Gs1Error::ExpiryFormat { expected: EXPECTED })?;
        let month = digits_value(&b[5..7]).ok_or(Gs1Error::ExpiryFormat { expected: EXPECTED })?;
        Expiry::new(year as u16, month as u8, 0, true)
    }

    /// Checks the ranges; `day_zero_ok` admits day 0 (end of month).
    fn new(year: u16, month: u8, day: u8, day_zero_ok: bool) -> Result<Expiry, Gs1Error> {
        if !(2000..=2099).contains(&year) {
            return Err(Gs1Error::ExpiryYear { year });
        }
        if !(1..=12).contains(&month) {
            return Err(Gs1Error::ExpiryMonth { month });
        }
        let day_ok = if day == 0 {
            day_zero_ok
        } else {
            day <= days_in_month(year, month)
        };
        if !day_ok {
            return Err(Gs1Error::ExpiryDay { year, month, day });
        }
        Ok(Expiry { year, month, day })
    }

    /// The year, 2000–2099.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day as written: 1–31, or 0 for "end of the month" (AI 17 `DD` = `00`).
    pub fn day(&self) -> u8 {
        self.day
    }

    /// The day the item expires: [`Expiry::day`], or the month's last day when that is 0.
    pub fn effective_day(&self) -> u8 {
        if self.day == 0 {
            days_in_month(self.year, self.month)
        } else {
            self.day
        }
    }

    /// The GS1 AI 17 form `YYMMDD` (keeps `DD` = `00`).
    pub fn to_yymmdd(&self) -> String {
        format!("{:02}{:02}{:02}", self.year % 100, self.month, self.day)
    }

    /// Appends the `YYMMDD` form to `out` without allocating (for code building).
    pub(crate) fn push_yymmdd(&self, out: &mut String) {
        for v in [(self.year % 100) as u8, self.month, self.day] {
            out.push(char::from(b'0' + v / 10));
            out.push(char::from(b'0' + v % 10));
        }
    }

    /// The ISO 8601 date `YYYY-MM-DD` of the day the item expires (the last day of the month
    /// when the day is 0).
    pub fn to_iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}",
            self.year,
            self.month,
            self.effective_day()
        )
    }
}

impl Serialize for Expiry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.day == 0 {
            serializer.serialize_str(&format!("{:04}-{:02}", self.year, self.month))
        } else {
            serializer.serialize_str(&self.to_iso())
        }
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        let parsed = if s.len() == 7 {
            Expiry::parse_iso_month(&s)
        } else {
            Expiry::parse_iso(&s)
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// The decimal value of ASCII digits, or `None` if any byte is not a digit.
fn digits_value(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

/// Days in `month` (1–12) of `year` in the Gregorian calendar.
fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// ---------------------------------------------------------------------------------------------
// Unified social credit code

/// Alphabet of the unified social credit code; a character's index is its value.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of positions 1–17 (3^(i) mod 31).
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A Chinese unified social credit code (统一社会信用代码, GB 32100-2015), the registration number
/// of an enterprise or other organisation.
///
/// 18 characters from `0-9A-Z` without `I O S V Z`; positions 3–8 are the administrative
/// division code (digits); the last character is the mod-31 check character. Lower-case input
/// is accepted and upper-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc(String);

impl Uscc {
    /// Parses a unified social credit code (upper-casing it first).
    pub fn parse(s: &str) -> Result<Uscc, Gs1Error> {
        let mut values = [0u8; 18];
        let mut len = 0;
        for (i, ch) in s.chars().enumerate() {
            let upper = ch.to_ascii_uppercase();
            let value = u8::try_from(upper)
                .ok()
                .and_then(|b| USCC_ALPHABET.iter().position(|&a| a == b))
                .ok_or(Gs1Error::UsccChar {
                    ch,
                    position: i + 1,
                })?;
            if (2..8).contains(&i) && value >= 10 {
                return Err(Gs1Error::UsccRegion {
                    ch,
                    position: i + 1,
                });
            }
            if i < 18 {
                // `position` indexes a 31-entry alphabet, so it fits in a u8.
                values[i] = value as u8;
            }
            len = i + 1;
        }
        if len != 18 {
            return Err(Gs1Error::UsccLength { len });
        }
        let sum: u32 = values[..17]
            .iter()
            .zip(USCC_WEIGHTS)
            .map(|(&v, w)| u32::from(v) * w)
            .sum();
        let expected = ((31 - sum % 31) % 31) as usize;
        if usize::from(values[17]) != expected {
            return Err(Gs1Error::UsccCheck {
                found: char::from(USCC_ALPHABET[usize::from(values[17])]),
                expected: char::from(USCC_ALPHABET[expected]),
            });
        }
        let code = values
            .iter()
            .map(|&v| char::from(USCC_ALPHABET[usize::from(v)]))
            .collect();
        Ok(Uscc(code))
    }

    /// The 18-character upper-case code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_impls!(Uscc, Gs1Error);

// ---------------------------------------------------------------------------------------------
// Country code

/// The 249 officially assigned ISO 3166-1 alpha-2 codes, sorted (from the Debian `iso-codes`
/// 4.15 data, which follows the ISO 3166 Maintenance Agency).
const ISO_3166_1_ALPHA_2: [[u8; 2]; 249] = [
    *b"AD", *b"AE", *b"AF", *b"AG", *b"AI", *b"AL", *b"AM", *b"AO", *b"AQ", *b"AR", *b"AS", *b"AT",
    *b"AU", *b"AW", *b"AX", *b"AZ", *b"BA", *b"BB", *b"BD", *b"BE", *b"BF", *b"BG", *b"BH", *b"BI",
    *b"BJ", *b"BL", *b"BM", *b"BN", *b"BO", *b"BQ", *b"BR", *b"BS", *b"BT", *b"BV", *b"BW", *b"BY",
    *b"BZ", *b"CA", *b"CC", *b"CD", *b"CF", *b"CG", *b"CH", *b"CI", *b"CK", *b"CL", *b"CM", *b"CN",
    *b"CO", *b"CR", *b"CU", *b"CV", *b"CW", *b"CX", *b"CY", *b"CZ", *b"DE", *b"DJ", *b"DK", *b"DM",
    *b"DO", *b"DZ", *b"EC", *b"EE", *b"EG", *b"EH", *b"ER", *b"ES", *b"ET", *b"FI", *b"FJ", *b"FK",
    *b"FM", *b"FO", *b"FR", *b"GA", *b"GB", *b"GD", *b"GE", *b"GF", *b"GG", *b"GH", *b"GI", *b"GL",
    *b"GM", *b"GN", *b"GP", *b"GQ", *b"GR", *b"GS", *b"GT", *b"GU", *b"GW", *b"GY", *b"HK", *b"HM",
    *b"HN", *b"HR", *b"HT", *b"HU", *b"ID", *b"IE", *b"IL", *b"IM", *b"IN", *b"IO", *b"IQ", *b"IR",
    *b"IS", *b"IT", *b"JE", *b"JM", *b"JO", *b"JP", *b"KE", *b"KG", *b"KH", *b"KI", *b"KM", *b"KN",
    *b"KP", *b"KR", *b"KW", *b"KY", *b"KZ", *b"LA", *b"LB", *b"LC", *b"LI", *b"LK", *b"LR", *b"LS",
    *b"LT", *b"LU", *b"LV", *b"LY", *b"MA", *b"MC", *b"MD", *b"ME", *b"MF", *b"MG", *b"MH", *b"MK",
    *b"ML", *b"MM", *b"MN", *b"MO", *b"MP", *b"MQ", *b"MR", *b"MS", *b"MT", *b"MU", *b"MV", *b"MW",
    *b"MX", *b"MY", *b"MZ", *b"NA", *b"NC", *b"NE", *b"NF", *b"NG", *b"NI", *b"NL", *b"NO", *b"NP",
    *b"NR", *b"NU", *b"NZ", *b"OM", *b"PA", *b"PE", *b"PF", *b"PG", *b"PH", *b"PK", *b"PL", *b"PM",
    *b"PN", *b"PR", *b"PS", *b"PT", *b"PW", *b"PY", *b"QA", *b"RE", *b"RO", *b"RS", *b"RU", *b"RW",
    *b"SA", *b"SB", *b"SC", *b"SD", *b"SE", *b"SG", *b"SH", *b"SI", *b"SJ", *b"SK", *b"SL", *b"SM",
    *b"SN", *b"SO", *b"SR", *b"SS", *b"ST", *b"SV", *b"SX", *b"SY", *b"SZ", *b"TC", *b"TD", *b"TF",
    *b"TG", *b"TH", *b"TJ", *b"TK", *b"TL", *b"TM", *b"TN", *b"TO", *b"TR", *b"TT", *b"TV", *b"TW",
    *b"TZ", *b"UA", *b"UG", *b"UM", *b"US", *b"UY", *b"UZ", *b"VA", *b"VC", *b"VE", *b"VG", *b"VI",
    *b"VN", *b"VU", *b"WF", *b"WS", *b"YE", *b"YT", *b"ZA", *b"ZM", *b"ZW",
];

/// An officially assigned ISO 3166-1 alpha-2 country code, e.g. `CN`, `DE`, `NZ`.
///
/// [`CountryCode::parse`] accepts either case and stores upper case (so `cn` parses as `CN`);
/// reserved, withdrawn and user-assigned codes (`UK`, `EU`, `XK`, `ZZ`, …) are rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses a two-letter code, upper-casing it, and checks it is officially assigned.
    pub fn parse(s: &str) -> Result<CountryCode, Gs1Error> {
        let mut code = [0u8; 2];
        let mut len = 0;
        for (i, ch) in s.chars().enumerate() {
            if !ch.is_ascii_alphabetic() {
                return Err(Gs1Error::CountryChar {
                    ch,
                    position: i + 1,
                });
            }
            if i < 2 {
                // ASCII letter, so the cast is lossless.
                code[i] = ch.to_ascii_uppercase() as u8;
            }
            len = i + 1;
        }
        if len != 2 {
            return Err(Gs1Error::CountryLength { len });
        }
        if ISO_3166_1_ALPHA_2.binary_search(&code).is_err() {
            return Err(Gs1Error::CountryUnassigned {
                code: code.iter().map(|&b| char::from(b)).collect(),
            });
        }
        Ok(CountryCode(code))
    }

    /// The two upper-case letters.
    pub fn as_str(&self) -> &str {
        // Invariant: `parse` only stores ASCII upper-case letters, which are valid UTF-8.
        std::str::from_utf8(&self.0).expect("country code is ASCII")
    }
}

string_newtype_impls!(CountryCode, Gs1Error);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_accepts_all_lengths_and_pads_to_14() {
        // Published examples: GTIN-8, UPC-A (GTIN-12), EAN-13, GTIN-14.
        assert_eq!(Gtin::parse("96385074").unwrap().as_str(), "00000096385074");
        assert_eq!(
            Gtin::parse("036000291452").unwrap().as_str(),
            "00036000291452"
        );
        assert_eq!(
            Gtin::parse("4006381333931").unwrap().as_str(),
            "04006381333931"
        );
        assert_eq!(
            Gtin::parse("10614141000415").unwrap().as_str(),
            "10614141000415"
        );
        assert_eq!(
            Gtin::parse("96385074").unwrap(),
            Gtin::parse("00000096385074").unwrap()
        );
    }

    #[test]
    fn gtin_rejects_with_precise_errors() {
        let err = Gtin::parse("4006381333933").unwrap_err();
        assert_eq!(
            err,
            Gs1Error::GtinCheckDigit {
                found: 3,
                expected: 1
            }
        );
        assert_eq!(err.to_string(), "GTIN check digit is 3, expected 1");
        assert_eq!(
            Gtin::parse("400638133393").unwrap_err(),
            Gs1Error::GtinCheckDigit {
                found: 3,
                expected: 0
            }
        );
        assert_eq!(
            Gtin::parse("12345").unwrap_err(),
            Gs1Error::GtinLength { len: 5 }
        );
        assert_eq!(
            Gtin::parse("").unwrap_err(),
            Gs1Error::GtinLength { len: 0 }
        );
        assert_eq!(
            Gtin::parse("4006381x33931").unwrap_err(),
            Gs1Error::GtinChar {
                ch: 'x',
                position: 8
            }
        );
        assert_eq!(
            Gtin::parse("４006381333931").unwrap_err().kind(),
            "gtin_char"
        );
    }

    #[test]
    fn gtin_check_digit_matches_every_single_digit_error() {
        // Mod-10 with weights 3/1 detects every single-digit substitution.
        let good = "04006381333931";
        for i in 0..14 {
            for d in b'0'..=b'9' {
                let mut b = good.as_bytes().to_vec();
                if b[i] == d {
                    continue;
                }
                b[i] = d;
                let s = String::from_utf8(b).unwrap();
                assert!(Gtin::parse(&s).is_err(), "{s} accepted");
            }
        }
    }

    #[test]
    fn lot_and_serial_charset_and_length() {
        assert_eq!(Lot::parse("L2025-01_a.b").unwrap().as_str(), "L2025-01_a.b");
        assert_eq!(
            Serial::parse("ABCDEFGHIJ0123456789")
                .unwrap()
                .as_str()
                .len(),
            20
        );
        assert_eq!(Lot::parse("").unwrap_err(), Gs1Error::LotEmpty);
        assert_eq!(Serial::parse("").unwrap_err(), Gs1Error::SerialEmpty);
        assert_eq!(
            Lot::parse(&"a".repeat(21)).unwrap_err(),
            Gs1Error::LotTooLong { len: 21 }
        );
        assert_eq!(
            Serial::parse(&"a".repeat(21)).unwrap_err(),
            Gs1Error::SerialTooLong { len: 21 }
        );
        assert_eq!(
            Serial::parse("ab~c").unwrap_err(),
            Gs1Error::SerialChar {
                ch: '~',
                position: 3
            }
        );
        assert_eq!(
            Lot::parse("批次1").unwrap_err(),
            Gs1Error::LotChar {
                ch: '批',
                position: 1
            }
        );
        for bad in [
            " ", "a b", "a/b", "a%20", "a+b", "a?b", "a#b", "a&b", "a=b", "a*b",
        ] {
            assert!(Lot::parse(bad).is_err(), "{bad:?}");
            assert!(Serial::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serial_random_is_16_chars_96_bits() {
        let a = Serial::random();
        let b = Serial::random();
        assert_eq!(a.as_str().len(), 16);
        assert_ne!(a, b);
        assert_eq!(Serial::parse(a.as_str()).unwrap(), a);
        assert_eq!(
            Serial::from_random_bytes(&[0u8; 12]).as_str(),
            "AAAAAAAAAAAAAAAA"
        );
        assert_eq!(
            Serial::from_random_bytes(&[0xffu8; 12]).as_str(),
            "________________"
        );
        assert_eq!(
            Serial::from_random_bytes(&[0xfbu8; 12]).as_str(),
            "-_v7-_v7-_v7-_v7"
        );
    }

    #[test]
    fn expiry_iso_and_yymmdd() {
        let e = Expiry::parse_iso("2024-02-29").unwrap();
        assert_eq!((e.year(), e.month(), e.day()), (2024, 2, 29));
        assert_eq!(e.to_yymmdd(), "240229");
        assert_eq!(e.to_iso(), "2024-02-29");
        assert_eq!(Expiry::parse_yymmdd("240229").unwrap(), e);
        assert_eq!(
            Expiry::parse_iso("2023-02-29").unwrap_err(),
            Gs1Error::ExpiryDay {
                year: 2023,
                month: 2,
                day: 29
            }
        );
        assert!(Expiry::parse_iso("2000-02-29").is_ok());
        assert!(Expiry::parse_iso("2100-02-28").is_err());
        assert_eq!(
            Expiry::parse_iso("1999-12-31").unwrap_err(),
            Gs1Error::ExpiryYear { year: 1999 }
        );
        assert_eq!(
            Expiry::parse_iso("2025-13-01").unwrap_err(),
            Gs1Error::ExpiryMonth { month: 13 }
        );
        assert_eq!(
            Expiry::parse_iso("2025-04-31").unwrap_err().kind(),
            "expiry_day"
        );
        assert_eq!(
            Expiry::parse_iso("2025-04-00").unwrap_err().kind(),
            "expiry_day"
        );
        for bad in [
            "2025-4-01",
            "20250401",
            "2025/04/01",
            "2025-04-0a",
            "+025-04-01",
            "",
        ] {
            assert_eq!(
                Expiry::parse_iso(bad).unwrap_err().kind(),
                "expiry_format",
                "{bad}"
            );
        }
        for bad in ["25041", "2504011", "25-401", "25 401", "2504+1"] {
            assert_eq!(
                Expiry::parse_yymmdd(bad).unwrap_err().kind(),
                "expiry_format",
                "{bad}"
            );
        }
        assert_eq!(
            Expiry::parse_yymmdd("250431").unwrap_err().kind(),
            "expiry_day"
        );
        assert_eq!(
            Expiry::parse_yymmdd("250001").unwrap_err().kind(),
            "expiry_month"
        );
    }

    #[test]
    fn expiry_day_zero_means_end_of_month() {
        let e = Expiry::parse_yymmdd("240200").unwrap();
        assert_eq!(e.day(), 0);
        assert_eq!(e.effective_day(), 29);
        assert_eq!(e.to_yymmdd(), "240200");
        assert_eq!(e.to_iso(), "2024-02-29");
        assert_eq!(
            Expiry::parse_yymmdd("250200").unwrap().to_iso(),
            "2025-02-28"
        );
        assert_eq!(
            Expiry::parse_yymmdd("991100").unwrap().to_iso(),
            "2099-11-30"
        );
        assert_ne!(e, Expiry::parse_iso("2024-02-29").unwrap());
        let mut s = String::new();
        e.push_yymmdd(&mut s);
        assert_eq!(s, "240200");
    }

    #[test]
    fn expiry_serde_round_trips_including_day_zero() {
        for yymmdd in ["240229", "240200", "991231", "000101"] {
            let e = Expiry::parse_yymmdd(yymmdd).unwrap();
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<Expiry>(&json).unwrap(), e, "{json}");
        }
        assert_eq!(
            serde_json::to_string(&Expiry::parse_yymmdd("240200").unwrap()).unwrap(),
            "\"2024-02\""
        );
        assert_eq!(
            serde_json::to_string(&Expiry::parse_yymmdd("240201").unwrap()).unwrap(),
            "\"2024-02-01\""
        );
        assert!(serde_json::from_str::<Expiry>("\"2024-13\"").is_err());
        assert!(serde_json::from_str::<Expiry>("\"240201\"").is_err());
    }

    #[test]
    fn uscc_known_answers() {
        // Published codes of well-known companies (public registration data).
        for code in [
            "914403001922038216", // 华为技术有限公司 (Huawei Technologies Co., Ltd.)
            "91440300708461136T", // 深圳市腾讯计算机系统有限公司 (Shenzhen Tencent Computer Systems)
            "91110108551385082Q", // 小米科技有限责任公司 (Xiaomi Inc.)
            "91310110666007217T", // Hutool's CreditCodeUtilTest positive example
        ] {
            assert_eq!(Uscc::parse(code).unwrap().as_str(), code);
        }
        assert_eq!(
            Uscc::parse("91440300708461136t").unwrap().as_str(),
            "91440300708461136T"
        );
        // An early pilot-area code that predates the national standard's check character.
        let err = Uscc::parse("91350211M00013FA1N").unwrap_err();
        assert_eq!(
            err,
            Gs1Error::UsccCheck {
                found: 'N',
                expected: '3'
            }
        );
        assert_eq!(
            err.to_string(),
            "unified social credit code check character is N, expected 3"
        );
    }

    #[test]
    fn uscc_rejects_with_precise_errors() {
        assert_eq!(
            Uscc::parse("91440300708461136").unwrap_err(),
            Gs1Error::UsccLength { len: 17 }
        );
        assert_eq!(
            Uscc::parse("91440300708461136TT").unwrap_err(),
            Gs1Error::UsccLength { len: 19 }
        );
        assert_eq!(
            Uscc::parse("9144030070846113OT").unwrap_err(),
            Gs1Error::UsccChar {
                ch: 'O',
                position: 17
            }
        );
        assert_eq!(
            Uscc::parse("91A40300708461136T").unwrap_err(),
            Gs1Error::UsccRegion {
                ch: 'A',
                position: 3
            }
        );
        assert_eq!(
            Uscc::parse("914403007084611366").unwrap_err(),
            Gs1Error::UsccCheck {
                found: '6',
                expected: 'T'
            }
        );
    }

    #[test]
    fn country_codes() {
        assert_eq!(ISO_3166_1_ALPHA_2.len(), 249);
        assert!(
            ISO_3166_1_ALPHA_2.windows(2).all(|w| w[0] < w[1]),
            "list must be sorted"
        );
        for code in ["CN", "DE", "NZ", "US", "HK", "TW", "MO", "AX", "ZW", "AD"] {
            assert_eq!(CountryCode::parse(code).unwrap().as_str(), code);
        }
        assert_eq!(CountryCode::parse("cn").unwrap().as_str(), "CN");
        for bad in ["UK", "EU", "XK", "ZZ", "AA", "QM"] {
            assert_eq!(
                CountryCode::parse(bad).unwrap_err().kind(),
                "country_unassigned",
                "{bad}"
            );
        }
        assert_eq!(
            CountryCode::parse("CHN").unwrap_err(),
            Gs1Error::CountryLength { len: 3 }
        );
        assert_eq!(
            CountryCode::parse("").unwrap_err(),
            Gs1Error::CountryLength { len: 0 }
        );
        assert_eq!(
            CountryCode::parse("C1").unwrap_err(),
            Gs1Error::CountryChar {
                ch: '1',
                position: 2
            }
        );
        assert_eq!(
            CountryCode::parse("EU").unwrap_err().to_string(),
            "EU is not an officially assigned ISO 3166-1 alpha-2 country code"
        );
    }

    #[test]
    fn string_serde_parses_on_deserialize() {
        let g: Gtin = serde_json::from_str("\"96385074\"").unwrap();
        assert_eq!(serde_json::to_string(&g).unwrap(), "\"00000096385074\"");
        assert!(serde_json::from_str::<Gtin>("\"96385075\"").is_err());
        assert!(serde_json::from_str::<Serial>("\"a b\"").is_err());
        assert_eq!(
            serde_json::from_str::<CountryCode>("\"NZ\"")
                .unwrap()
                .to_string(),
            "NZ"
        );
        assert_eq!("L-1".parse::<Lot>().unwrap().to_string(), "L-1");
    }
}

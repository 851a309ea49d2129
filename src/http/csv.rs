//! CSV exports (RFC 4180): fields quoted and safe to open in a spreadsheet, and the download
//! response.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// A CSV field: quoted, quotes doubled (RFC 4180); a leading `=`, `+`, `-` or `@` gets a `'`
/// so a spreadsheet does not run it as a formula.
pub fn field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    format!("\"{}\"", v.replace('"', "\"\""))
}

/// A CSV download (`text/csv`, as an attachment named `name`, never cached).
pub fn attachment(name: &str, body: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_are_quoted_and_never_formulas() {
        assert_eq!(super::field("a \"b\", c"), "\"a \"\"b\"\", c\"");
        assert_eq!(super::field("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(super::field("-1"), "\"'-1\"");
    }
}

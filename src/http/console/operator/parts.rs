//! What the operator pages share: form answers, enum values by their wire names, record
//! tables, option lists and the CSRF field.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::http::console::kit::{tr, Viewer};
use crate::http::page::{esc, Lang};

/// The answer to a form or query that could not be read: 400 with a way back to `back`.
pub(super) fn incomplete(lang: Lang, v: &Viewer, back: &str) -> Response {
    let why = tr(lang, "表单不完整。", "The form is incomplete.");
    crate::http::console::pages::failed(lang, v, StatusCode::BAD_REQUEST, why, back)
}

/// The wire name of a serde enum value (`"resolved"`, `"not_genuine"`).
pub(super) fn wire<T: Serialize>(t: &T) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A serde enum value from its wire name.
pub(super) fn from_wire<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// One `<tr><th scope=row>label</th><td>value</td></tr>` of a record's table (`value` is HTML).
pub(super) fn field(lang: Lang, zh: &str, en: &str, value: &str) -> String {
    format!(
        "<tr><th scope=\"row\">{}</th><td>{value}</td></tr>",
        tr(lang, zh, en)
    )
}

/// The hidden CSRF field of the viewer's forms.
pub(super) fn csrf_field(v: &Viewer) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        esc(&v.session.csrf_token)
    )
}

/// `<option>`s of `(value, zh, en)`, `current` selected.
pub(super) fn options(lang: Lang, all: &[(&str, &str, &str)], current: &str) -> String {
    all.iter()
        .map(|(val, zh, en)| {
            let sel = if *val == current { " selected" } else { "" };
            format!("<option value=\"{val}\"{sel}>{}</option>", tr(lang, zh, en))
        })
        .collect()
}

/// The text of `value` in a table of `(value, zh, en)` (empty when not in it).
pub(super) fn label(
    lang: Lang,
    all: &'static [(&str, &'static str, &'static str)],
    value: &str,
) -> &'static str {
    all.iter()
        .find(|(v, _, _)| *v == value)
        .map_or("", |(_, zh, en)| tr(lang, zh, en))
}

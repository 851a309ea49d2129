//! The session cookie and the CSRF header (`http::session`, `http::auth`): the cookie is
//! `__Host-traceseal-session` with `Secure; HttpOnly; SameSite=Strict; Path=/`, or
//! `traceseal-session` without `Secure` under `serve --dev` (plain HTTP on loopback).

use axum::http::{header, HeaderMap, HeaderValue};

use crate::config::SessionRules;

/// The session cookie's name over HTTPS.
pub const COOKIE: &str = "__Host-traceseal-session";
/// The session cookie's name under `serve --dev`.
pub const DEV_COOKIE: &str = "traceseal-session";
/// The header that carries the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session a request authenticated with (in the request's extensions).
#[derive(Clone, Debug)]
pub struct SessionId(pub String);

/// The session id in the request's cookie, if any.
pub fn session_cookie(headers: &HeaderMap, dev: bool) -> Option<String> {
    let name = if dev { DEV_COOKIE } else { COOKIE };
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

fn cookie_attributes(rules: &SessionRules, max_age: i64) -> String {
    let secure = if rules.dev_mode { "" } else { "; Secure" };
    format!("Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

pub fn set_cookie(rules: &SessionRules, id: &str) -> HeaderValue {
    let name = if rules.dev_mode { DEV_COOKIE } else { COOKIE };
    let max_age = i64::from(rules.absolute_hours) * 3600;
    let v = format!("{name}={id}; {}", cookie_attributes(rules, max_age));
    HeaderValue::from_str(&v).expect("a base64url id and fixed attributes are a valid header")
}

pub fn clear_cookie(rules: &SessionRules) -> HeaderValue {
    let name = if rules.dev_mode { DEV_COOKIE } else { COOKIE };
    let v = format!("{name}=; {}", cookie_attributes(rules, 0));
    HeaderValue::from_str(&v).expect("fixed attributes are a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_secure_and_host_bound_except_under_dev() {
        let mut rules = SessionRules::default();
        let prod = set_cookie(&rules, "abc");
        assert_eq!(
            prod,
            "__Host-traceseal-session=abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict; Secure"
        );
        rules.dev_mode = true;
        let dev = set_cookie(&rules, "abc");
        assert_eq!(
            dev,
            "traceseal-session=abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict"
        );
        assert!(clear_cookie(&rules).to_str().unwrap().contains("Max-Age=0"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; traceseal-session=xyz"),
        );
        assert_eq!(session_cookie(&h, true).as_deref(), Some("xyz"));
        assert_eq!(
            session_cookie(&h, false),
            None,
            "the dev name is not read in production"
        );
    }
}

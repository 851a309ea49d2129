//! The actor page's language. The site speaks Chinese and English (`page::Lang`); the actor page,
//! used by inspectors and carriers abroad, also speaks French. Chosen as the other pages
//! choose: `?lang=`, else the `ts_lang` cookie, else the most preferred of the three in
//! `Accept-Language`, else Chinese. A cookie the other pages do not know (`ts_lang=fr`) leaves
//! them on their own choice from `Accept-Language`.

use axum::http::HeaderMap;

use crate::http::page::negotiate;

/// A language of the actor page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageLang {
    /// Simplified Chinese (the default).
    Zh,
    /// English.
    En,
    /// French.
    Fr,
}

impl PageLang {
    /// `zh-CN` → Zh, `en-GB` → En, `fr-CA` → Fr; `None` for any other.
    pub fn parse(tag: &str) -> Option<PageLang> {
        let p = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match p.as_str() {
            "zh" => Some(PageLang::Zh),
            "en" => Some(PageLang::En),
            "fr" => Some(PageLang::Fr),
            _ => None,
        }
    }

    /// The language of a request (`query` is the `?lang=` value), chosen as the site's
    /// pages choose theirs ([`negotiate`]).
    pub fn from_headers(h: &HeaderMap, query: Option<&str>) -> PageLang {
        negotiate(h, query, PageLang::parse).unwrap_or(PageLang::Zh)
    }

    /// The HTML `lang` value.
    pub fn html(self) -> &'static str {
        match self {
            PageLang::Zh => "zh-CN",
            PageLang::En => "en",
            PageLang::Fr => "fr",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    fn headers(cookie: Option<&str>, accept: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(c) = cookie {
            h.insert(header::COOKIE, c.parse().unwrap());
        }
        if let Some(a) = accept {
            h.insert(header::ACCEPT_LANGUAGE, a.parse().unwrap());
        }
        h
    }

    #[test]
    fn query_then_cookie_then_accept_language_then_chinese() {
        use PageLang::*;
        /// `?lang=`, the cookie header, `Accept-Language`, and the language they choose.
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, PageLang);
        let cases: [Case; 12] = [
            (Some("fr"), Some("ts_lang=en"), Some("zh-CN"), Fr),
            (Some("de"), Some("ts_lang=en"), None, En),
            (None, Some("a=b; ts_lang=fr"), Some("en"), Fr),
            (
                None,
                Some("ts_lang=xx"),
                Some("fr-FR,fr;q=0.9,en;q=0.8"),
                Fr,
            ),
            (None, None, Some("en-AU,en;q=0.9,fr;q=0.5"), En),
            (None, None, Some("de-DE,fr;q=0.4,zh;q=0.3"), Fr),
            (None, None, Some("zh-CN,fr;q=0.9"), Zh),
            (None, None, Some("fr;q=0.5,en;q=0.5"), Fr),
            (None, None, Some("fr;q=0,en;q=0.1"), En),
            (None, None, Some("de, it"), Zh),
            (None, None, Some("fr;q=abc"), Fr),
            (None, None, None, Zh),
        ];
        for (q, c, a, want) in cases {
            assert_eq!(
                PageLang::from_headers(&headers(c, a), q),
                want,
                "?lang={q:?} cookie {c:?} accept {a:?}"
            );
        }
    }

    proptest::proptest! {
        /// Any header or query a client sends gives one of the three languages, never a
        /// panic; the shell only ever prints the language's own tag.
        #[test]
        fn hostile_headers_give_one_of_three(al in "[ -~]{0,200}", cookie in "[ -~]{0,80}", q in "\\PC{0,16}") {
            let mut h = HeaderMap::new();
            if let Ok(v) = al.parse() { h.insert(header::ACCEPT_LANGUAGE, v); }
            if let Ok(v) = cookie.parse() { h.insert(header::COOKIE, v); }
            let l = PageLang::from_headers(&h, Some(&q));
            proptest::prop_assert!(["zh-CN", "en", "fr"].contains(&l.html()));
        }
    }

    /// A long `Accept-Language` of many parts and a cookie and query made to be reflected
    /// (what a hostile client may send, within the server's header limit) still give the
    /// language the header prefers.
    #[test]
    fn a_long_hostile_accept_language_still_chooses() {
        let al = format!("{}fr;q=0.9", "de;q=0.5,".repeat(7_000));
        let h = headers(Some("ts_lang=\"><script>"), Some(&al));
        assert_eq!(PageLang::from_headers(&h, Some("<script>")), PageLang::Fr);
    }

    #[test]
    fn html_tags() {
        let tags = [PageLang::Zh, PageLang::En, PageLang::Fr].map(PageLang::html);
        assert_eq!(tags, ["zh-CN", "en", "fr"]);
    }
}

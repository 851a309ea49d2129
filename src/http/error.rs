//! The one transport error type: RFC 9457 problem details (`application/problem+json`).
//!
//! 4xx answers say precisely what is wrong; 5xx answers are opaque to the client and the full
//! cause goes to the server log.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::{ErrorKind, ServiceError};

/// Media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What exactly is wrong with this request.
    pub detail: String,
    /// The stable code of a use case's refusal, `family.variant` (e.g.
    /// `custody.stale_head`), for clients that act on or translate it; the list is in
    /// `docs/api.md`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// An error answered as problem details.
#[derive(Debug)]
pub struct ApiError {
    /// Status code.
    pub status: StatusCode,
    /// Detail text.
    pub detail: String,
    /// `Retry-After` seconds, for 429 and 503.
    pub retry_after: Option<u64>,
    /// The stable code of a use case's refusal.
    pub code: Option<String>,
}

impl ApiError {
    /// An error with a status and a precise detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            retry_after: None,
            code: None,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// Adds the stable code of a use case's refusal.
    pub fn with_code(mut self, code: String) -> Self {
        self.code = Some(code);
        self
    }

    /// Adds `Retry-After`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl From<ServiceError> for ApiError {
    /// The one place a use case's error becomes a status: by its kind. 4xx answers carry the
    /// error's text and its stable code; 5xx answers are opaque, the cause goes to the log.
    fn from(e: ServiceError) -> Self {
        let status = match e.kind() {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Unavailable => {
                tracing::error!(cause = %e, code = %e.code(), "dependency unavailable");
                let detail = match e {
                    ServiceError::Store(_) => "storage is temporarily unavailable; retry later",
                    _ => "a resource this request needs is temporarily unavailable; retry later",
                };
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail)
                    .retry_after(5)
                    .with_code(e.code());
            }
            ErrorKind::Internal => {
                tracing::error!(cause = %e, code = %e.code(), "internal error");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the cause is in the server log",
                );
            }
        };
        ApiError::new(status, e.to_string()).with_code(e.code())
    }
}

/// Whether an error was caused by the body-read deadline ([`super::server::BodyTimeout`]).
pub fn body_timed_out<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a super::server::BodyTimeout> {
    let mut cur = Some(e);
    while let Some(x) = cur {
        if let Some(t) = x.downcast_ref::<super::server::BodyTimeout>() {
            return Some(t);
        }
        cur = x.source();
    }
    None
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if let Some(t) = body_timed_out(&r) {
            return ApiError::new(StatusCode::REQUEST_TIMEOUT, t.to_string());
        }
        let status = match &r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            // Syntax and shape errors (missing or unknown fields, wrong types) are all 400:
            // the request is malformed.
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

fn title(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or("Error").to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: "about:blank".into(),
            title: title(self.status),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut res = (self.status, bytes).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

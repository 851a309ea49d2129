//! Operator records that others rely on, logged as leaves so they are checkpointed, anchored
//! and cannot be quietly rewritten (`docs/log.md`, `docs/authorization.md`, Audit trail):
//!
//! - `traceseal/credit/v1`: a version of an enterprise's credit profile, in full (the profile
//!   is public);
//! - `traceseal/account/v1`: a user or API token made, disabled or revoked, with its role and
//!   enterprise.
//!
//! - `traceseal/grade/v1`: an enterprise's credit-risk grade changed (computed by the model,
//!   or set or lifted by the operator), with the score and each factor's part.
//! - `traceseal/warning/v1`: the rules holding an enterprise on the warning list changed
//!   (listed, a rule added or ended, taken off), with each listing's dates.
//!
//! All are `kind\n<canonical JSON>\n` (RFC 8785 canonical JSON, as the custody records).
//! Who made the change is given as its role and the request id; the principal behind a request
//! id is in the (non-public) audit trail. User names are never logged: a user is named by
//! [`user_subject`], a hash of its name, so the public log holds no personal data.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a record leaf could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// Not `kind\n<JSON>\n`.
    #[error("malformed leaf: record framing")]
    Framing,
    /// The JSON does not decode as the record.
    #[error("{kind}: {message}")]
    Json {
        /// The record kind.
        kind: &'static str,
        /// What serde said.
        message: String,
    },
    /// Decodes, but is not in canonical form.
    #[error("malformed leaf: not in canonical form")]
    NotCanonical,
}

/// First line of a credit profile version leaf.
pub const CREDIT_V1: &str = "traceseal/credit/v1";
/// First line of an account change leaf.
pub const ACCOUNT_V1: &str = "traceseal/account/v1";

/// First line of a grade leaf.
pub const GRADE_V1: &str = "traceseal/grade/v1";

/// Why an enterprise's grade changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GradeCause {
    /// The model's grade moved (or the first grade).
    Computed,
    /// The operator set the grade, with a reason.
    Override,
    /// The operator lifted an override; the model's grade applies again.
    OverrideLifted,
}

/// One factor's part of a logged score, in integers (so the leaf's JSON is exact).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedContribution {
    /// The factor (`crate::grading::Factor`, snake_case).
    pub factor: String,
    /// What was counted, in hundredths.
    pub amount_hundredths: i64,
    /// Points, in tenths.
    pub points_tenths: i64,
}

/// A change of an enterprise's credit-risk grade, with the factors behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeRecord {
    /// The enterprise.
    pub enterprise: u64,
    /// 1 for its first grade, +1 per change.
    pub seq: u64,
    /// Unix seconds.
    pub at: i64,
    /// The grade now in force.
    pub grade: crate::grading::Grade,
    /// The grade before, if any.
    pub previous: Option<crate::grading::Grade>,
    /// Why it changed.
    pub cause: GradeCause,
    /// The model's score, in tenths (0–1000).
    pub score_tenths: i64,
    /// The model's grade (differs from `grade` under an override).
    pub computed: crate::grading::Grade,
    /// The model version.
    pub model: String,
    /// The factors, as the model weighed them.
    pub factors: Vec<LoggedContribution>,
    /// The operator's reason (overrides).
    pub reason: Option<String>,
    /// The role of the principal (overrides), else `model`.
    pub by_role: String,
    /// The request (overrides), else empty.
    pub request: String,
}

impl GradeRecord {
    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        json_leaf(GRADE_V1, self)
    }

    /// Decodes the leaf text; it must be in canonical form.
    pub fn parse_leaf(text: &str) -> Result<Self, RecordError> {
        parse_json_leaf(GRADE_V1, text, Self::leaf)
    }
}

/// First line of a warning-list leaf.
pub const WARNING_V1: &str = "traceseal/warning/v1";

/// One rule holding an enterprise on the warning list, as logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedListing {
    /// The rule (`crate::grading::WarningRule`).
    pub rule: crate::grading::WarningRule,
    /// The day the listing began (days since 1970-01-01, UTC).
    pub since_day: i64,
    /// The first day off the list as of this change (later if the rule fires again).
    pub until_day: i64,
}

/// A change of the rules holding an enterprise on the warning list (失信预警名单).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarningRecord {
    /// The enterprise.
    pub enterprise: u64,
    /// 1 for its first change, +1 per change.
    pub seq: u64,
    /// Unix seconds.
    pub at: i64,
    /// On the list after the change.
    pub listed: bool,
    /// Rules that began holding it.
    pub added: Vec<crate::grading::WarningRule>,
    /// Rules that stopped (their remediation period passed).
    pub ended: Vec<crate::grading::WarningRule>,
    /// The listings in force after the change.
    pub listings: Vec<LoggedListing>,
    /// The model version whose rules applied.
    pub model: String,
}

impl WarningRecord {
    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        json_leaf(WARNING_V1, self)
    }

    /// Decodes the leaf text; it must be in canonical form.
    pub fn parse_leaf(text: &str) -> Result<Self, RecordError> {
        parse_json_leaf(WARNING_V1, text, Self::leaf)
    }
}

/// A version of an enterprise's credit profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditRecord {
    /// The enterprise.
    pub enterprise: u64,
    /// 1 for the first profile, +1 per replacement.
    pub version: u64,
    /// Unix seconds.
    pub at: i64,
    /// The role of the principal that wrote it.
    pub by_role: String,
    /// The request that wrote it (its audit record names the principal).
    pub request: String,
    /// The profile as written (`CreditInput`).
    pub profile: serde_json::Value,
}

/// What happened to an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountOp {
    /// A user was made.
    UserAdded,
    /// A user was disabled.
    UserDisabled,
    /// A user's password was reset by an administrator (its sessions ended).
    PasswordReset,
    /// An API token was made.
    TokenAdded,
    /// An API token was revoked.
    TokenRevoked,
}

/// An account made, disabled or revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    /// What happened.
    pub op: AccountOp,
    /// `user:<hash>` ([`user_subject`]) or `token:<id>`.
    pub subject: String,
    /// The account's role.
    pub role: String,
    /// The enterprise of an enterprise role.
    pub enterprise: Option<u64>,
    /// Unix seconds.
    pub at: i64,
    /// The role of the principal that made the change (`cli` on the data directory).
    pub by_role: String,
    /// The request that made it.
    pub request: String,
}

/// The logged name of user `username`: `user:` and the first 32 hex characters of
/// SHA-256(`traceseal/user\n` ‖ name).
pub fn user_subject(username: &str) -> String {
    let d = Sha256::digest(format!("traceseal/user\n{username}").as_bytes());
    format!("user:{}", &crate::custody::record::hex(&d)[..32])
}

impl CreditRecord {
    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        json_leaf(CREDIT_V1, self)
    }

    /// Decodes the leaf text; it must be in canonical form.
    pub fn parse_leaf(text: &str) -> Result<Self, RecordError> {
        parse_json_leaf(CREDIT_V1, text, Self::leaf)
    }
}

impl AccountRecord {
    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        json_leaf(ACCOUNT_V1, self)
    }

    /// Decodes the leaf text; it must be in canonical form.
    pub fn parse_leaf(text: &str) -> Result<Self, RecordError> {
        parse_json_leaf(ACCOUNT_V1, text, Self::leaf)
    }
}

fn json_leaf<T: Serialize>(kind: &str, v: &T) -> Vec<u8> {
    let json = serde_json::to_value(v)
        .ok()
        .and_then(|v| crate::custody::canon::to_string(&v).ok())
        .unwrap_or_default();
    format!("{kind}\n{json}\n").into_bytes()
}

fn parse_json_leaf<T: DeserializeOwned>(
    kind: &'static str,
    text: &str,
    encode: impl Fn(&T) -> Vec<u8>,
) -> Result<T, RecordError> {
    let json = text
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('\n'))
        .and_then(|r| r.strip_suffix('\n'))
        .ok_or(RecordError::Framing)?;
    let r: T = serde_json::from_str(json).map_err(|e| RecordError::Json {
        kind,
        message: e.to_string(),
    })?;
    if encode(&r) != text.as_bytes() {
        return Err(RecordError::NotCanonical);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_other_forms() {
        let a = AccountRecord {
            op: AccountOp::UserAdded,
            subject: user_subject("alice@example.com"),
            role: "label_printer".into(),
            enterprise: Some(3),
            at: 1_700_000_000,
            by_role: "enterprise_admin".into(),
            request: "r1".into(),
        };
        let text = String::from_utf8(a.leaf()).unwrap();
        assert!(!text.contains("alice"));
        assert_eq!(AccountRecord::parse_leaf(&text).unwrap(), a);
        let c = CreditRecord {
            enterprise: 3,
            version: 2,
            at: 1_700_000_000,
            by_role: "operator".into(),
            request: "r2".into(),
            profile: serde_json::json!({"rating": "B", "rated_on": "2026-01-01"}),
        };
        let ctext = String::from_utf8(c.leaf()).unwrap();
        assert_eq!(CreditRecord::parse_leaf(&ctext).unwrap(), c);
        // Not canonical (a space), an unknown field, a missing final newline: refused.
        let spaced = ctext.replacen(':', ": ", 1);
        assert_eq!(
            CreditRecord::parse_leaf(&spaced),
            Err(RecordError::NotCanonical)
        );
        let extra = text.replace("{\"at\"", "{\"x\":1,\"at\"");
        assert!(matches!(
            AccountRecord::parse_leaf(&extra),
            Err(RecordError::Json { .. })
        ));
        assert_eq!(
            AccountRecord::parse_leaf(&text[..text.len() - 1]),
            Err(RecordError::Framing)
        );
    }

    #[test]
    fn grade_records_round_trip_through_the_leaf_parser() {
        let g = GradeRecord {
            enterprise: 7,
            seq: 2,
            at: 1_800_000_000,
            grade: crate::grading::Grade::C,
            previous: Some(crate::grading::Grade::B),
            cause: GradeCause::Computed,
            score_tenths: 550,
            computed: crate::grading::Grade::C,
            model: "2026-12.2".into(),
            factors: vec![LoggedContribution {
                factor: "recall".into(),
                amount_hundredths: 100,
                points_tenths: -150,
            }],
            reason: None,
            by_role: "model".into(),
            request: String::new(),
        };
        let text = String::from_utf8(g.leaf()).unwrap();
        assert!(text.starts_with("traceseal/grade/v1\n{"), "{text}");
        assert_eq!(GradeRecord::parse_leaf(&text).unwrap(), g);
        match crate::leaf::LeafRecord::parse(text.as_bytes()).unwrap() {
            crate::leaf::LeafRecord::Grade(back) => assert_eq!(back, g),
            other => panic!("parsed as {}", other.kind()),
        }
        let spaced = text.replacen(':', ": ", 1);
        assert!(crate::leaf::LeafRecord::parse(spaced.as_bytes()).is_err());
    }
}

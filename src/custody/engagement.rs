//! Who may sign custody records for whose products: product ownership and engagements.
//!
//! A custody record counts only if its signer was **engaged by the lot's importer** when it
//! signed. Both facts are log leaves, so a verifier checks them from logged records alone:
//!
//! ```text
//! traceseal/product/v1\n<canonical JSON of a ProductRecord>\n      who owns a GTIN (from then on)
//! traceseal/engagement/v1\n<canonical JSON of an EngagementOp>\n  an enterprise engages or ends
//! ```
//!
//! The owner of a GTIN for a record is the enterprise of the latest product record before it
//! in the log. An engagement covers a record when the record's `signed_at` lies in
//! `[not_before, not_after)`, before the engagement was ended, and the GTIN is among the
//! engagement's GTINs (none listed: every product of the enterprise). See `docs/custody.md`.

use serde::{Deserialize, Serialize};

use super::registry::{decode, encode, OpError};

/// First line of a product-ownership leaf.
pub const PRODUCT_V1: &str = "traceseal/product/v1";
/// First line of an engagement leaf.
pub const ENGAGEMENT_V1: &str = "traceseal/engagement/v1";
/// Most GTINs one engagement may list.
pub const MAX_ENGAGEMENT_GTINS: usize = 100;

/// A product registered for an enterprise, or moved to another one. Logged when the product
/// is created and whenever its enterprise changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRecord {
    /// GTIN-14.
    pub gtin: String,
    /// The owning enterprise (the importer).
    pub enterprise: u64,
    /// Unix seconds.
    pub at: i64,
}

/// A change of an enterprise's engagements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum EngagementOp {
    /// The enterprise engages an actor.
    Engage {
        /// Enterprise id.
        enterprise: u64,
        /// Actor id.
        actor: String,
        /// GTIN-14s the engagement covers, sorted; none: every product of the enterprise.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        gtins: Vec<String>,
        /// Valid for signatures from (Unix seconds).
        not_before: i64,
        /// Valid for signatures before (exclusive), if limited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_after: Option<i64>,
        /// Unix seconds.
        at: i64,
    },
    /// The enterprise ends every open engagement of the actor: signatures from `at` on no
    /// longer count.
    End {
        /// Enterprise id.
        enterprise: u64,
        /// Actor id.
        actor: String,
        /// Unix seconds.
        at: i64,
    },
}

impl EngagementOp {
    /// The enterprise and actor this op is about.
    pub fn parties(&self) -> (u64, &str) {
        match self {
            EngagementOp::Engage {
                enterprise, actor, ..
            }
            | EngagementOp::End {
                enterprise, actor, ..
            } => (*enterprise, actor),
        }
    }
}

/// One period of an engagement, as the log establishes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// GTIN-14s covered; empty: every product of the enterprise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gtins: Vec<String>,
    /// Valid from.
    pub not_before: i64,
    /// Valid until (exclusive), if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
    /// When it was ended, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
}

impl Period {
    /// The exclusive end of the period's validity, if any.
    pub fn until(&self) -> Option<i64> {
        match (self.not_after, self.ended_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the period is still open at `now` (not ended, not expired).
    pub fn open_at(&self, now: i64) -> bool {
        self.ended_at.is_none() && self.not_after.is_none_or(|a| now < a)
    }

    /// Whether the period covers a signature at `t` for `gtin`.
    pub fn covers(&self, gtin: &str, t: i64) -> bool {
        self.covers_gtin(gtin) && self.covers_time(t)
    }

    fn covers_gtin(&self, gtin: &str) -> bool {
        self.gtins.is_empty() || self.gtins.iter().any(|g| g == gtin)
    }

    /// Whether a signature at `t` falls in the period.
    pub fn covers_time(&self, t: i64) -> bool {
        t >= self.not_before && self.until().is_none_or(|u| t < u)
    }
}

/// Applies a logged op to the periods of its (enterprise, actor) pair.
pub fn apply(periods: &mut Vec<Period>, op: &EngagementOp) {
    match op {
        EngagementOp::Engage {
            gtins,
            not_before,
            not_after,
            ..
        } => periods.push(Period {
            gtins: gtins.clone(),
            not_before: *not_before,
            not_after: *not_after,
            ended_at: None,
        }),
        EngagementOp::End { at, .. } => {
            for p in periods.iter_mut().filter(|p| p.ended_at.is_none()) {
                p.ended_at = Some(*at);
            }
        }
    }
}

/// Why a signer's record does not count for a product (HTTP 403 on submission).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("actor {actor} is not engaged by enterprise {enterprise} for GTIN {gtin}{detail}")]
pub struct NotEngaged {
    /// The actor.
    pub actor: String,
    /// The product's enterprise.
    pub enterprise: u64,
    /// The GTIN.
    pub gtin: String,
    /// What the engagements say instead (`""` when there is none).
    pub detail: String,
}

/// Checks that `periods` (the engagements of `actor` by `enterprise`) cover a signature made
/// at `signed_at` for `gtin`.
pub fn check(
    periods: &[Period],
    enterprise: u64,
    actor: &str,
    gtin: &str,
    signed_at: i64,
) -> Result<(), NotEngaged> {
    if periods
        .iter()
        .any(|p| p.covers_gtin(gtin) && p.covers_time(signed_at))
    {
        return Ok(());
    }
    let detail = match periods.last() {
        None => String::new(),
        Some(p) if !p.covers_gtin(gtin) => {
            format!(" (its engagement covers GTIN {} only)", p.gtins.join(", "))
        }
        Some(p) => match (p.ended_at, p.until()) {
            (Some(e), _) if signed_at >= e => format!(
                " (the engagement was ended at {}; signed at {})",
                when(e),
                when(signed_at)
            ),
            (_, Some(u)) if signed_at >= u => format!(
                " (the engagement ran until {}; signed at {})",
                when(u),
                when(signed_at)
            ),
            _ => format!(
                " (the engagement starts at {}; signed at {})",
                when(p.not_before),
                when(signed_at)
            ),
        },
    };
    Err(NotEngaged {
        actor: actor.to_string(),
        enterprise,
        gtin: gtin.to_string(),
        detail,
    })
}

/// RFC 3339 text of Unix seconds (the number itself if out of range).
fn when(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

impl ProductRecord {
    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        encode(PRODUCT_V1, self)
    }

    /// Parses leaf text starting with [`PRODUCT_V1`].
    pub fn parse_leaf(text: &str) -> Result<ProductRecord, OpError> {
        decode(PRODUCT_V1, text)
    }
}

impl EngagementOp {
    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        encode(ENGAGEMENT_V1, self)
    }

    /// Parses leaf text starting with [`ENGAGEMENT_V1`].
    pub fn parse_leaf(text: &str) -> Result<EngagementOp, OpError> {
        decode(ENGAGEMENT_V1, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engage(gtins: &[&str], not_before: i64, not_after: Option<i64>) -> EngagementOp {
        EngagementOp::Engage {
            enterprise: 7,
            actor: "au-insp".into(),
            gtins: gtins.iter().map(|g| g.to_string()).collect(),
            not_before,
            not_after,
            at: not_before,
        }
    }

    #[test]
    fn leaves_round_trip_and_are_canonical() {
        let op = engage(&["09506000134352"], 100, Some(200));
        let leaf = String::from_utf8(op.leaf()).unwrap();
        assert_eq!(
            leaf,
            "traceseal/engagement/v1\n{\"actor\":\"au-insp\",\"at\":100,\"enterprise\":7,\"gtins\":[\"09506000134352\"],\"not_after\":200,\"not_before\":100,\"op\":\"engage\"}\n"
        );
        assert_eq!(EngagementOp::parse_leaf(&leaf).unwrap(), op);
        assert!(EngagementOp::parse_leaf(&leaf.replace(":7,", ": 7,")).is_err());
        let p = ProductRecord {
            gtin: "09506000134352".into(),
            enterprise: 7,
            at: 5,
        };
        let leaf = String::from_utf8(p.leaf()).unwrap();
        assert_eq!(
            leaf,
            "traceseal/product/v1\n{\"at\":5,\"enterprise\":7,\"gtin\":\"09506000134352\"}\n"
        );
        assert_eq!(ProductRecord::parse_leaf(&leaf).unwrap(), p);
    }

    #[test]
    fn periods_cover_time_gtin_and_end() {
        let g = "09506000134352";
        let mut ps = Vec::new();
        assert!(check(&ps, 7, "au-insp", g, 150)
            .unwrap_err()
            .to_string()
            .ends_with("for GTIN 09506000134352"));
        apply(&mut ps, &engage(&[], 100, Some(200)));
        assert!(check(&ps, 7, "au-insp", g, 100).is_ok());
        assert!(check(&ps, 7, "au-insp", g, 199).is_ok());
        let e = check(&ps, 7, "au-insp", g, 200).unwrap_err();
        assert!(e.detail.contains("ran until 1970-01-01T00:03:20Z"), "{e}");
        let e = check(&ps, 7, "au-insp", g, 99).unwrap_err();
        assert!(e.detail.contains("starts at 1970-01-01T00:01:40Z"), "{e}");
        apply(
            &mut ps,
            &EngagementOp::End {
                enterprise: 7,
                actor: "au-insp".into(),
                at: 150,
            },
        );
        assert!(
            check(&ps, 7, "au-insp", g, 149).is_ok(),
            "signed before the end"
        );
        let e = check(&ps, 7, "au-insp", g, 150).unwrap_err();
        assert!(e.detail.contains("ended at 1970-01-01T00:02:30Z"), "{e}");
        // A new engagement for another GTIN only.
        apply(&mut ps, &engage(&["09312345000128"], 300, None));
        assert!(check(&ps, 7, "au-insp", "09312345000128", 400).is_ok());
        let e = check(&ps, 7, "au-insp", g, 400).unwrap_err();
        assert!(e.detail.contains("covers GTIN 09312345000128 only"), "{e}");
        assert!(ps[1].open_at(400) && !ps[0].open_at(400));
    }
}

//! The audit trail: every authenticated write that the authorization table let through, with
//! who made it (principal, role, enterprise), what (method, route, path, target ids, the
//! target's enterprise), when, the request id and the outcome (the HTTP status). Refused
//! requests (401, 403) are not in it: they changed nothing, and the server log has them.
//!
//! The trail is the service's own record, readable by operators and regulators (enterprise
//! admins: their enterprise's) through `GET /api/v1/audit`. Changes that others rely on are
//! also log leaves (credit profiles, recalls, engagements, accounts, reprints, key changes):
//! those are public, checkpointed and anchored; the trail says who was behind each (a leaf
//! names its request id).
//!
//! Schema: `audit` (sequence number, u64 BE → [`AuditRecord`] JSON); `meta` `next_audit`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::base::{lock, now_unix, rfc3339, Result};
use super::errors::InputError;
use crate::store::schema::{decode_json, decode_u64, encode_json, u64_key};
use crate::store::{Cf, Durability, Store, WriteBatch};

/// Meta key: the next audit sequence number (u64 BE).
const META_NEXT_AUDIT: &[u8] = b"next_audit";
/// Most records one list call returns.
pub const MAX_AUDIT_LIST: usize = 1000;
/// Most records one list call reads while filtering (then it answers with what it found and
/// where to go on).
pub const MAX_AUDIT_SCAN: u64 = 50_000;

/// One audited write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecord {
    /// Sequence number, from 1.
    pub seq: u64,
    /// When the answer was given (RFC 3339).
    pub at: String,
    /// Unix seconds of `at`.
    pub at_unix: i64,
    /// The principal: `user:<name>`, `token:<id>`, `bootstrap` or `cli`.
    pub principal: String,
    /// Its role.
    pub role: String,
    /// The principal's enterprise (enterprise roles).
    pub principal_enterprise: Option<u64>,
    /// HTTP method.
    pub method: String,
    /// The route pattern, e.g. `/api/v1/batches/{id}/print-jobs`.
    pub route: String,
    /// The path as asked.
    pub path: String,
    /// The path parameters (target ids).
    pub targets: BTreeMap<String, String>,
    /// The enterprise that owns the target, when one does.
    pub enterprise: Option<u64>,
    /// The request id (`X-Request-Id`; log leaves written by the request name it).
    pub request_id: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// `done` (2xx), `rejected` (4xx: the request was malformed or conflicted; nothing
    /// changed) or `failed` (5xx).
    pub outcome: String,
}

/// What the edge knows of a write; the trail adds the sequence number and the time.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    /// See [`AuditRecord`].
    pub principal: String,
    /// See [`AuditRecord`].
    pub role: String,
    /// See [`AuditRecord`].
    pub principal_enterprise: Option<u64>,
    /// See [`AuditRecord`].
    pub method: String,
    /// See [`AuditRecord`].
    pub route: String,
    /// See [`AuditRecord`].
    pub path: String,
    /// See [`AuditRecord`].
    pub targets: BTreeMap<String, String>,
    /// See [`AuditRecord`].
    pub enterprise: Option<u64>,
    /// See [`AuditRecord`].
    pub request_id: String,
    /// See [`AuditRecord`].
    pub status: u16,
}

/// Which records a list call wants.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this principal's.
    pub principal: Option<String>,
    /// Only those about (or by) this enterprise.
    pub enterprise: Option<u64>,
    /// Only this route pattern's.
    pub route: Option<String>,
    /// Only at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only before this time (Unix seconds).
    pub until: Option<i64>,
}

impl AuditFilter {
    fn keeps(&self, r: &AuditRecord) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == r.principal)
            && self
                .enterprise
                .is_none_or(|e| r.enterprise == Some(e) || r.principal_enterprise == Some(e))
            && self.route.as_ref().is_none_or(|x| *x == r.route)
            && self.since.is_none_or(|t| r.at_unix >= t)
            && self.until.is_none_or(|t| r.at_unix < t)
    }
}

/// A page of the trail, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The records.
    pub records: Vec<AuditRecord>,
    /// Pass as `before` for the next page (absent: nothing older).
    pub next_before: Option<u64>,
}

/// The audit trail unit.
pub struct AuditTrail {
    store: Arc<dyn Store>,
    /// Serializes appends (the next sequence number).
    next: Mutex<()>,
}

impl AuditTrail {
    /// The trail over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        AuditTrail {
            store,
            next: Mutex::new(()),
        }
    }

    /// Appends `e` (synced); its sequence number.
    pub fn record(&self, e: AuditEntry) -> Result<u64> {
        let _g = lock(&self.next)?;
        let seq = self.next_seq()?;
        let at = now_unix();
        let outcome = match e.status {
            200..=299 => "done",
            500..=599 => "failed",
            _ => "rejected",
        };
        let rec = AuditRecord {
            seq,
            at: rfc3339(at),
            at_unix: at,
            principal: e.principal,
            role: e.role,
            principal_enterprise: e.principal_enterprise,
            method: e.method,
            route: e.route,
            path: e.path,
            targets: e.targets,
            enterprise: e.enterprise,
            request_id: e.request_id,
            status: e.status,
            outcome: outcome.into(),
        };
        let mut b = WriteBatch::default();
        b.put(Cf::Audit, u64_key(seq).to_vec(), encode_json(&rec));
        b.put(Cf::Meta, META_NEXT_AUDIT, u64_key(seq + 1).to_vec());
        self.store.write(b, Durability::Synced)?;
        Ok(seq)
    }

    fn next_seq(&self) -> Result<u64> {
        match self.store.get(Cf::Meta, META_NEXT_AUDIT)? {
            Some(b) => Ok(decode_u64(&b)?),
            None => Ok(1),
        }
    }

    /// Records kept by `f`, newest first, older than sequence number `before` (default: all),
    /// at most `limit` (1 to [`MAX_AUDIT_LIST`]); at most [`MAX_AUDIT_SCAN`] records are read.
    pub fn list(&self, f: &AuditFilter, before: Option<u64>, limit: usize) -> Result<AuditPage> {
        if limit == 0 || limit > MAX_AUDIT_LIST {
            return Err(InputError::field(
                "limit",
                format!("limit must be 1 to {MAX_AUDIT_LIST}, got {limit}"),
            )
            .into());
        }
        let mut end = match before {
            Some(b) => b,
            None => self.next_seq()?,
        };
        let floor = end.saturating_sub(MAX_AUDIT_SCAN).max(1);
        let mut records = Vec::new();
        while records.len() < limit && end > floor {
            let start = end.saturating_sub(500).max(floor);
            let page = self
                .store
                .range(Cf::Audit, &u64_key(start), Some(&u64_key(end)), 500)?;
            for (k, v) in page.iter().rev() {
                let r: AuditRecord = decode_json("audit record", v)?;
                if f.keeps(&r) {
                    records.push(r);
                }
                if records.len() == limit {
                    end = decode_u64(k)?;
                    break;
                }
            }
            if records.len() < limit {
                end = start;
            }
        }
        Ok(AuditPage {
            records,
            next_before: (end > 1).then_some(end),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStore;

    fn entry(principal: &str, enterprise: Option<u64>) -> AuditEntry {
        AuditEntry {
            principal: principal.into(),
            role: "operator".into(),
            principal_enterprise: None,
            method: "POST".into(),
            route: "/api/v1/products".into(),
            path: "/api/v1/products".into(),
            targets: BTreeMap::new(),
            enterprise,
            request_id: "r".into(),
            status: 201,
        }
    }

    #[test]
    fn records_are_numbered_listed_newest_first_filtered_and_paged() {
        let t = AuditTrail::new(Arc::new(MemStore::default()));
        for i in 0..1200u64 {
            let who = if i % 3 == 0 { "token:a" } else { "user:b" };
            assert_eq!(t.record(entry(who, Some(i % 2))).unwrap(), i + 1);
        }
        let all = t.list(&AuditFilter::default(), None, 1000).unwrap();
        assert_eq!(all.records.len(), 1000);
        assert_eq!(all.records[0].seq, 1200);
        assert_eq!(all.records[999].seq, 201);
        let rest = t
            .list(&AuditFilter::default(), all.next_before, 1000)
            .unwrap();
        assert_eq!(rest.records.len(), 200);
        assert_eq!(rest.records[0].seq, 200);
        assert_eq!(rest.next_before, None);
        let f = AuditFilter {
            principal: Some("token:a".into()),
            enterprise: Some(1),
            ..AuditFilter::default()
        };
        let some = t.list(&f, None, 10).unwrap();
        assert_eq!(some.records.len(), 10);
        assert!(some
            .records
            .iter()
            .all(|r| r.principal == "token:a" && r.enterprise == Some(1)));
        assert_eq!(some.records[0].seq, 1198, "the newest with i % 6 == 3");
        assert_eq!(some.records[1].seq, 1192);
        let next = t.list(&f, some.next_before, 1).unwrap();
        assert_eq!(next.records[0].seq, some.records[9].seq - 6);
        assert!(t.list(&f, None, 0).is_err());
    }
}

//! The audit record of a write the table let through (`service::audit`): built before the
//! handler runs, stored with the answer's status after it.

use std::sync::Arc;

use axum::http::StatusCode;

use crate::authz::{Principal, Rule};
use crate::http::state::{blocking, AppState};
use crate::service::audit::AuditEntry;

/// A fresh request id: 16 random bytes, hex.
pub(super) fn new_request_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::getrandom(&mut b).is_err() {
        // Ids only need to be unique enough to find a request in the logs.
        b[..8].copy_from_slice(&crate::service::now_unix().to_be_bytes());
    }
    crate::custody::record::hex(&b)
}

/// What the trail will record of this write (the status is added after the handler).
pub(super) fn entry(
    p: &Principal,
    rule: &Rule,
    path: &str,
    params: &[(String, String)],
    owner: Option<u64>,
) -> AuditEntry {
    AuditEntry {
        principal: p.id.clone(),
        role: p.role.as_str().to_string(),
        principal_enterprise: p.enterprise,
        method: rule.method.to_string(),
        route: rule.path.to_string(),
        path: path.chars().take(1024).collect(),
        targets: params.iter().cloned().collect(),
        enterprise: owner,
        request_id: p.request.clone(),
        status: 0,
    }
}

/// Stores `e` with the answer's status. A failure is logged, not answered: the write itself
/// is done, and its answer must say so.
pub(super) async fn record(st: &Arc<AppState>, mut e: AuditEntry, status: StatusCode) {
    e.status = status.as_u16();
    let request = e.request_id.clone();
    let svc = st.svc.clone();
    if let Err(err) = blocking(move || svc.audit().record(e)).await {
        tracing::error!(request, error = ?err, "the audit record of a write could not be stored");
    }
}

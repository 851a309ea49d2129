//! What every unit of the service shares: the error type, process counters, the clock, the
//! lock helper, and the write locks that serialize check-then-write sequences spanning units.
//! It imports no unit, so every unit may import it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use time::OffsetDateTime;

pub(crate) use super::errors::rfc3339;
use super::errors::InputError;
pub use super::errors::{ErrorKind, ServiceError};

/// Result of a use case.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Counters the metrics endpoint reads.
#[derive(Debug, Default)]
pub struct Stats {
    /// Codes issued by this process since start.
    pub codes_issued: AtomicU64,
    /// Scans answered by this process since start.
    pub scans: AtomicU64,
    /// Checkpoints signed by this process since start.
    pub checkpoints_signed: AtomicU64,
    /// Scans whose telemetry could not be read or written (the verdict was served anyway).
    pub scan_telemetry_failures: AtomicU64,
}

/// Locks that serialize writes whose check-then-write spans more than one unit. Each unit
/// that takes one holds the same `Arc<WriteLocks>`; the lock order is `batches` before
/// `custody` before `complaints`.
#[derive(Debug, Default)]
pub struct WriteLocks {
    /// Master data, batches and print jobs (uniqueness and idempotency checks, code ranges).
    pub batches: Mutex<()>,
    /// Custody chains, the actor registry, engagements and product ownership records.
    pub custody: Mutex<()>,
    /// Complaints and the credit profiles computed from them.
    pub complaints: Mutex<()>,
    /// Moves after every change that can alter a custody submission's authorization (actor
    /// keys, engagements, product owners); see [`WriteLocks::custody_change`].
    custody_epoch: AtomicU64,
}

/// The custody lock, held for a change to actor keys, engagements or product owners. Dropping
/// it moves the custody epoch (while the lock is still held), so a submission that checked its
/// authorization before the change checks it again.
pub struct CustodyChange<'a> {
    locks: &'a WriteLocks,
    _guard: std::sync::MutexGuard<'a, ()>,
}

impl Drop for CustodyChange<'_> {
    fn drop(&mut self) {
        self.locks.custody_epoch.fetch_add(1, Ordering::Release);
    }
}

impl WriteLocks {
    /// Takes the custody lock for a change that can alter a submission's authorization.
    pub fn custody_change(&self) -> Result<CustodyChange<'_>> {
        Ok(CustodyChange {
            locks: self,
            _guard: lock(&self.custody)?,
        })
    }

    /// The custody epoch: unchanged between two reads means no key, engagement or owner
    /// changed in between (a change moves it before releasing the custody lock).
    pub fn custody_epoch(&self) -> u64 {
        self.custody_epoch.load(Ordering::Acquire)
    }
}

/// Free text in a logged record: trimmed, 1 to `MAX_TEXT` characters, no control characters.
pub fn check_text(field: &'static str, v: &str) -> Result<String> {
    let t = v.trim();
    if t.is_empty()
        || t.chars().count() > crate::custody::record::MAX_TEXT
        || t.chars().any(char::is_control)
    {
        return Err(InputError::field(
            field,
            format!(
                "{field} must be 1 to {} characters without control characters",
                crate::custody::record::MAX_TEXT
            ),
        )
        .into());
    }
    Ok(t.to_string())
}

/// Timestamps in operator records: Unix seconds from 1970 to 9999 (they are logged as
/// canonical JSON integers).
pub fn check_unix(field: &'static str, t: i64) -> Result<()> {
    if (0..=crate::custody::record::MAX_UNIX).contains(&t) {
        Ok(())
    } else {
        Err(InputError::field(
            field,
            format!("{field} must be Unix seconds between 1970 and 9999, got {t}"),
        )
        .into())
    }
}

/// Current time, truncated to whole seconds.
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Lock a mutex, turning poisoning (a panic elsewhere while holding it) into an error.
pub(crate) fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| ServiceError::Internal("a lock was poisoned by an earlier panic".into()))
}

/// Each enterprise's count of one kind on each day of a range (a unit's daily counters, as
/// the credit model reads them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnterpriseDays {
    /// `(day, enterprise, count)`.
    pub rows: Vec<(i64, u64, u64)>,
    /// The range held more keys than the unit reads at once (its newest days are left out).
    pub truncated: bool,
}

/// Current Unix time in seconds.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

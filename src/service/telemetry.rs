//! Scan telemetry: who scanned a code, the clone warning, scan records for complaints, and
//! aggregates of forged-code scans. None of it decides whether a code is genuine, and none of
//! it can fail a scan: when it cannot be read or written (disk full, store fault) the verdict
//! is served without it and the failure is counted (`traceseal_scan_telemetry_failures_total`).
//!
//! **The warning rule** ([`crate::config::ScanRules`], `docs/operations.md`): a label copied
//! onto counterfeits is scanned by many buyers in many places; the original is scanned a few
//! times by one. So what counts is **distinct client networks** (IPv4 /24, IPv6 /48) that
//! scanned the code **within a sliding window** (`window_days`, default 30): a genuine code
//! scanned from more than `warn_after_networks` (default 5) of them is answered
//! `genuine_with_warning`. Networks not seen within the window drop out (decay). One network
//! counts **once per `repeat_secs`** (default one hour) however often it scans, so no single
//! client — one phone, one office, one attacker's script — can flag anyone's item: 200 scans
//! from one network are one network.
//!
//! **Bounded**: per code at most [`MAX_TRACKED_NETWORKS`] networks are kept (the least recently
//! seen is forgotten), and a scan that does not count writes nothing. Scan records (what a
//! complaint refers to) are one per code × network × `repeat_secs` bucket, with an id derived
//! from them under a secret key, so a flood of repeated scans is one record. Forged-code scans
//! (bad signature, unknown key or serial) are also aggregated per day × product × reason
//! ([`ForgedDay`]) for the operator and the credit model; their records are kept within daily
//! quotas ([`MAX_FORGED_RECORDS_PER_DAY`], [`MAX_FORGED_RECORDS_PER_NETWORK`]) so a flood of
//! made-up codes cannot fill the disk. Records are purged after [`SCAN_RETENTION_DAYS`] days,
//! aggregates after [`FORGED_RETENTION_DAYS`].
//!
//! **Daily counts** ([`daily`], the regulator dashboard): every scan that writes a record (or,
//! for a forged code, counts in its day's aggregate) also adds one to its UTC day × verdict
//! (the verdict shown, the clone warning included), for all products and for the enterprise of
//! the product the code names when it is known, **in the same write**. A `cannot_verify_now`
//! answer has no record: it is counted on its own, each answer once, when the store takes it.
//! Read back per range of days ([`Telemetry::daily_scans`]), purged with the forged aggregates.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash as _, Hasher};
use std::net::IpAddr;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::base::Stats;
use super::base::{rfc3339, Result, ServiceError};
use super::master::MasterData;
use crate::code::Code;
use crate::config::ScanRules;
use crate::store::schema::{
    decode_json, decode_u64, encode_json, forged_day_prefix, forged_key, item_key, key_after,
    parse_forged_key, u64_key, META_SCAN_ID_KEY,
};
use crate::store::Store;
use crate::store::{Cf, Durability, WriteBatch};
use std::sync::Arc;
use std::sync::Mutex;
use utoipa::ToSchema;

mod daily;
mod tally;

pub use self::daily::DayCounts;
pub use self::tally::{EnterpriseDays, Tally, TallyDim, TallyKind};

/// The four possible scan answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Signed by our issuer, issued, nothing suspicious.
    Genuine,
    /// Genuine, but the scan history is suspicious (see reasons).
    GenuineWithWarning,
    /// Not a code we issued, or no longer valid (see reasons).
    NotGenuine,
    /// We cannot answer now (our fault, e.g. storage unavailable). Never means fake.
    CannotVerifyNow,
}

impl VerdictKind {
    /// Every verdict, in the order of the daily counts ([`DayCounts::counts`]).
    pub const ALL: [VerdictKind; daily::VERDICTS] = [
        VerdictKind::Genuine,
        VerdictKind::GenuineWithWarning,
        VerdictKind::NotGenuine,
        VerdictKind::CannotVerifyNow,
    ];

    /// Its index in [`VerdictKind::ALL`] (the verdict byte of `scan_days` keys).
    pub fn index(self) -> usize {
        match self {
            VerdictKind::Genuine => 0,
            VerdictKind::GenuineWithWarning => 1,
            VerdictKind::NotGenuine => 2,
            VerdictKind::CannotVerifyNow => 3,
        }
    }

    /// Its name in the API (`genuine`, `genuine_with_warning`, …).
    pub fn code(self) -> &'static str {
        match self {
            VerdictKind::Genuine => "genuine",
            VerdictKind::GenuineWithWarning => "genuine_with_warning",
            VerdictKind::NotGenuine => "not_genuine",
            VerdictKind::CannotVerifyNow => "cannot_verify_now",
        }
    }

    /// The verdict shown once the clone warning is applied (as `scan::apply_note` does): a
    /// genuine code scanned too widely is genuine with a warning.
    pub fn with_clone_warning(self, warn: bool) -> VerdictKind {
        match (self, warn) {
            (VerdictKind::Genuine, true) => VerdictKind::GenuineWithWarning,
            (v, _) => v,
        }
    }
}

/// Scan history of the code, including this scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScanSummary {
    /// Distinct client networks (IPv4 /24, IPv6 /48) that scanned the code within the
    /// window, this scan's included.
    pub networks: u64,
    /// RFC 3339: since when (the earliest of those networks' first scans in the window).
    pub since: String,
    /// The window, in days.
    pub window_days: u32,
    /// Scans counted within the window (each network once per `scan.repeat_secs`).
    pub scans: u64,
    /// RFC 3339 time of the first scan ever counted.
    pub first_scan_at: String,
}

pub use crate::config::MAX_TRACKED_NETWORKS;

/// How long scan records are kept: complaints may refer to a scan for
/// [`SCAN_VALID_DAYS`] days; two more for clock slack.
pub const SCAN_RETENTION_DAYS: i64 = SCAN_VALID_DAYS + 2;

/// How long after a scan a complaint may refer to it.
pub const SCAN_VALID_DAYS: i64 = 90;

/// How long daily forged-scan aggregates and daily scan counts are kept (a little over a year:
/// the credit model looks back twelve months, the dashboard up to [`DAILY_DAYS_MAX`] days).
pub const FORGED_RETENTION_DAYS: i64 = 400;

/// Days of daily counts a dashboard shows unless asked otherwise.
pub const DAILY_DAYS_DEFAULT: u32 = 30;
/// Most days of daily counts read at once.
pub const DAILY_DAYS_MAX: u32 = 366;

/// Most scan records of forged codes kept per day (a flood of made-up codes must not fill the
/// disk: beyond this a forged scan is still answered and aggregated, without a record).
pub const MAX_FORGED_RECORDS_PER_DAY: u64 = 20_000;
/// Most scan records of forged codes kept per day from one client network.
pub const MAX_FORGED_RECORDS_PER_NETWORK: u32 = 50;

/// Forged-scan records kept today, by network (bounded by [`MAX_FORGED_RECORDS_PER_DAY`]).
#[derive(Default)]
pub struct ForgedQuota {
    day: i64,
    total: u64,
    by_network: std::collections::HashMap<String, u32>,
}

impl ForgedQuota {
    /// Takes one record for `net` on `day`, if both quotas allow.
    fn take(&mut self, net: &str, day: i64) -> bool {
        if day != self.day {
            *self = ForgedQuota {
                day,
                ..Default::default()
            };
        }
        let n = self.by_network.get(net).copied().unwrap_or(0);
        if self.total >= MAX_FORGED_RECORDS_PER_DAY || n >= MAX_FORGED_RECORDS_PER_NETWORK {
            return false;
        }
        self.total += 1;
        self.by_network.insert(net.to_string(), n + 1);
        true
    }
}

/// GTIN recorded for forged scans naming a GTIN that is not a registered product (so random
/// GTINs cannot grow the aggregates).
pub const UNKNOWN_GTIN: &str = "00000000000000";

/// One scan as recorded (`scans` column family), for complaints and the operator.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScanRecord {
    /// Unix seconds of the first scan of this code from this network in the bucket.
    pub at: i64,
    /// The code as presented.
    pub code: String,
    /// GTIN-14, lot and serial as read from the code.
    pub gtin: Option<String>,
    /// Lot.
    pub lot: Option<String>,
    /// Serial.
    pub serial: Option<String>,
    /// The verdict shown.
    pub verdict: VerdictKind,
    /// Its reason codes.
    pub reasons: Vec<String>,
    /// Coarse client network.
    pub network: String,
    /// The product's enterprise, when known.
    pub enterprise_id: Option<u64>,
    /// Complaints filed from this scan.
    pub complaints: u32,
}

/// The record of one scan.
fn scan_record(code: &Code, net: &str, now: i64, facts: &ScanFacts) -> ScanRecord {
    let (gtin, lot, serial) = match &facts.item {
        Some((g, l, s)) => (Some(g.clone()), Some(l.clone()), Some(s.clone())),
        None => (None, None, None),
    };
    ScanRecord {
        at: now,
        code: code.as_str().to_string(),
        gtin,
        lot,
        serial,
        verdict: facts.verdict,
        reasons: facts.reasons.clone(),
        network: net.to_string(),
        enterprise_id: facts.enterprise_id,
        complaints: 0,
    }
}

/// The 16 bytes of a scan id given as 32 hex characters (either case).
pub fn scan_id_bytes(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The coarse network of a client address: IPv4 /24 or IPv6 /48 (IPv4-mapped IPv6 as IPv4);
/// "unknown" without one.
pub fn coarse_network(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => coarse_network(Some(IpAddr::V4(v4))),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
        None => "unknown".into(),
    }
}

/// One network that scanned a code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSeen {
    /// The coarse network.
    pub net: String,
    /// First counted scan since it (re)entered the window, Unix seconds.
    pub first: i64,
    /// Latest counted scan, Unix seconds.
    pub last: i64,
    /// The `repeat_secs` bucket of the latest counted scan.
    pub bucket: i64,
    /// Counted scans (once per bucket) since `first`.
    pub counted: u64,
}

/// Per-code scan aggregate as stored (`scan_stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanStats {
    /// First counted scan ever, Unix seconds.
    pub first_at: i64,
    /// The networks, at most [`MAX_TRACKED_NETWORKS`].
    pub networks: Vec<NetworkSeen>,
}

/// What one scan does to a code's aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counted {
    /// Whether the scan counted (first from its network in its bucket): only then is
    /// anything written.
    pub counted: bool,
    /// The summary the verdict shows.
    pub summary: ScanSummary,
    /// More distinct networks in the window than the rule allows.
    pub warn: bool,
}

/// Adds a scan at `now` shown as `verdict` to its day's counts in `wb` (counter adds).
fn stage_daily(wb: &mut WriteBatch, now: i64, enterprise: Option<u64>, verdict: VerdictKind) {
    daily::stage(
        wb,
        now.div_euclid(86_400),
        enterprise,
        verdict.index() as u8,
    );
}

fn bucket_of(t: i64, repeat_secs: u64) -> i64 {
    t.div_euclid(repeat_secs.max(1) as i64)
}

impl ScanStats {
    /// Applies a scan from `net` at `now` under `rules` (pure: the caller persists the result
    /// when it counted).
    pub fn observe(&mut self, net: &str, now: i64, rules: &ScanRules) -> Counted {
        let window_start = now - rules.window_days as i64 * 86_400;
        let bucket = bucket_of(now, rules.repeat_secs);
        // Decay: networks not seen within the window are forgotten.
        self.networks.retain(|n| n.last >= window_start);
        let counted = match self.networks.iter_mut().find(|n| n.net == net) {
            Some(n) if n.bucket == bucket => false,
            Some(n) => {
                n.last = now;
                n.bucket = bucket;
                n.counted += 1;
                true
            }
            None => {
                if self.networks.len() >= MAX_TRACKED_NETWORKS {
                    if let Some(i) = (0..self.networks.len()).min_by_key(|i| self.networks[*i].last)
                    {
                        self.networks.swap_remove(i);
                    }
                }
                self.networks.push(NetworkSeen {
                    net: net.to_string(),
                    first: now,
                    last: now,
                    bucket,
                    counted: 1,
                });
                true
            }
        };
        if self.first_at == 0 {
            self.first_at = now;
        }
        let since = self.networks.iter().map(|n| n.first).min().unwrap_or(now);
        let summary = ScanSummary {
            networks: self.networks.len() as u64,
            since: rfc3339(since),
            window_days: rules.window_days,
            scans: self.networks.iter().map(|n| n.counted).sum(),
            first_scan_at: rfc3339(self.first_at),
        };
        Counted {
            counted,
            warn: self.networks.len() > rules.warn_after_networks,
            summary,
        }
    }
}

/// Forged-code scans of one day, product and reason (`GET /api/v1/scans/forged`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ForgedDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// GTIN-14 named by the codes ([`UNKNOWN_GTIN`] when not a registered product).
    pub gtin: String,
    /// `bad_signature`, `unknown_key`, `unknown_serial`, `code_mismatch`, `issuer_key_revoked`.
    pub reason: String,
    /// Scans counted (each code × network once per `repeat_secs`).
    pub scans: u64,
}

/// What telemetry is told about a scan's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanFacts {
    /// The code names an item we issued (its aggregate and warning apply).
    pub issued: bool,
    /// The verdict shown.
    pub verdict: VerdictKind,
    /// Its reason codes, first the one that decided.
    pub reasons: Vec<String>,
    /// GTIN-14, lot and serial as read from the code.
    pub item: Option<(String, String, String)>,
    /// The product's enterprise, when known.
    pub enterprise_id: Option<u64>,
}

/// What telemetry adds to a scan's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanNote {
    /// The id of the scan's record (32 hex), when it has one.
    pub scan_id: Option<String>,
    /// The code's scan history, for issued items.
    pub summary: Option<ScanSummary>,
    /// The warning rule fired: copies of one label may be in circulation.
    pub warn: bool,
}

/// Stripes of the per-item scan-record locks.
const SCAN_LOCK_STRIPES: usize = 64;

/// Scan records: what each scan saw, the clone-warning rule, forged-code attempts, purging.
pub struct Telemetry {
    store: Arc<dyn Store>,
    stats: Arc<Stats>,
    master: Arc<MasterData>,
    scan_rules: ScanRules,
    scan_locks: Vec<Mutex<()>>,
    scan_id_key: Mutex<Option<[u8; 32]>>,
    forged_quota: Mutex<ForgedQuota>,
}

impl Telemetry {
    /// Telemetry over `store` under `scan_rules`.
    pub fn new(
        store: Arc<dyn Store>,
        stats: Arc<Stats>,
        master: Arc<MasterData>,
        scan_rules: ScanRules,
    ) -> Telemetry {
        Telemetry {
            store,
            stats,
            master,
            scan_rules,
            scan_locks: (0..SCAN_LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            scan_id_key: Mutex::new(None),
            forged_quota: Mutex::default(),
        }
    }

    /// The scan rules in force.
    pub fn rules(&self) -> &ScanRules {
        &self.scan_rules
    }

    /// The scan record `sid`, if it is kept.
    pub fn scan_record(&self, sid: &[u8; 16]) -> Result<Option<ScanRecord>> {
        match self.store.get(Cf::Scans, sid)? {
            Some(b) => Ok(Some(decode_json("scan", &b)?)),
            None => Ok(None),
        }
    }

    /// Adds the write of scan record `sid` to `wb` (a complaint counts itself on its scan in
    /// the same atomic write).
    pub fn stage_scan_record(&self, wb: &mut WriteBatch, sid: &[u8; 16], record: &ScanRecord) {
        wb.put(Cf::Scans, sid.to_vec(), encode_json(record));
    }
}

impl Telemetry {
    /// Records the scan and returns what it adds to the answer; never fails (a storage
    /// problem is counted and logged, and the answer is served without a note).
    pub(crate) fn record_telemetry(
        &self,
        code: &Code,
        client: Option<IpAddr>,
        now: i64,
        facts: &ScanFacts,
    ) -> ScanNote {
        self.try_telemetry(code, client, now, facts)
            .unwrap_or_else(|e| {
                self.stats
                    .scan_telemetry_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "scan telemetry not recorded; the verdict is served without it");
                ScanNote::default()
            })
    }

    fn try_telemetry(
        &self,
        code: &Code,
        client: Option<IpAddr>,
        now: i64,
        facts: &ScanFacts,
    ) -> Result<ScanNote> {
        let net = coarse_network(client);
        let bucket = bucket_of(now, self.scan_rules.repeat_secs);
        let id = self.scan_id(code, &net, bucket)?;
        let record = scan_record(code, &net, now, facts);
        let mut note = ScanNote::default();
        let recorded = if facts.issued {
            let (summary, warn) = self.telemetry_issued(code, id, now, &record)?;
            note.summary = Some(summary);
            note.warn = warn;
            true
        } else {
            self.telemetry_forged(code, id, now, &record)?
        };
        if recorded {
            note.scan_id = Some(crate::custody::record::hex(&id));
        }
        Ok(note)
    }

    /// An issued item: the per-code aggregate (read-modify-write under the code's stripe
    /// lock) and the scan record when the scan counted. Returns the summary and whether the
    /// warning rule fired.
    fn telemetry_issued(
        &self,
        code: &Code,
        id: [u8; 16],
        now: i64,
        record: &ScanRecord,
    ) -> Result<(ScanSummary, bool)> {
        let item = code.item();
        let ikey = item_key(item.gtin.as_str(), item.serial.as_str());
        let _guard = super::base::lock(&self.scan_locks[self.stripe(&ikey)])?;
        let mut stats: ScanStats = match self.store.get(Cf::ScanStats, &ikey)? {
            Some(b) => decode_json("scan stats", &b)?,
            None => ScanStats::default(),
        };
        let c = stats.observe(&record.network, now, &self.scan_rules);
        if c.counted {
            let mut wb = WriteBatch::new();
            wb.put(Cf::ScanStats, ikey, encode_json(&stats));
            // A network forgotten (over the per-code cap) and back within the same period
            // must not reset the record its complaints count against.
            if self.store.get(Cf::Scans, &id)?.is_none() {
                wb.put(Cf::Scans, id.to_vec(), encode_json(record));
            }
            let shown = record.verdict.with_clone_warning(c.warn);
            stage_daily(&mut wb, now, record.enterprise_id, shown);
            if c.warn {
                let s = tally::Subjects {
                    enterprise: record.enterprise_id,
                    gtin: code.item().gtin.as_str(),
                    network: &record.network,
                };
                tally::stage(&mut wb, TallyKind::CloneWarning, now.div_euclid(86_400), &s);
            }
            // Telemetry is not critical state: buffered, not fsynced per scan.
            self.store.write(wb, Durability::Buffered)?;
        }
        Ok((c.summary, c.warn))
    }

    /// A code we did not issue (or cannot vouch for): one scan record per code × network ×
    /// bucket, within the day's quotas, and the day's aggregate for its product and reason.
    /// Returns whether the scan has a record (a scan id to complain from).
    fn telemetry_forged(
        &self,
        code: &Code,
        id: [u8; 16],
        now: i64,
        record: &ScanRecord,
    ) -> Result<bool> {
        if self.store.get(Cf::Scans, &id)?.is_some() {
            return Ok(true);
        }
        let day = now.div_euclid(86_400);
        let recorded = super::base::lock(&self.forged_quota)?.take(&record.network, day);
        let reason = record.reasons.first().map(String::as_str).unwrap_or("none");
        let gtin = &code.item().gtin;
        // The product the code names, when it is ours: its GTIN and its enterprise count.
        let (gtin, enterprise) = match self.master.find_product(gtin)? {
            Some(p) => (gtin.as_str(), Some(p.enterprise_id)),
            None => (UNKNOWN_GTIN, None),
        };
        let mut wb = WriteBatch::new();
        if recorded {
            wb.put(Cf::Scans, id.to_vec(), encode_json(record));
        }
        wb.add(Cf::ForgedScans, forged_key(day, gtin, reason), 1);
        stage_daily(&mut wb, now, enterprise, record.verdict);
        let s = tally::Subjects {
            enterprise,
            gtin,
            network: &record.network,
        };
        tally::stage(&mut wb, TallyKind::Forged, day, &s);
        self.store.write(wb, Durability::Buffered)?;
        Ok(recorded)
    }

    /// Counts a `cannot_verify_now` answer at `now` in its day's counts (it has no scan record:
    /// each answer counts). Never fails: when the store refuses (the likely reason for the
    /// answer) the failure is counted and logged like any telemetry failure.
    pub(crate) fn record_unverifiable(&self, now: i64) {
        let mut wb = WriteBatch::new();
        stage_daily(&mut wb, now, None, VerdictKind::CannotVerifyNow);
        let res = self.store.write(wb, Durability::Buffered);
        if let Err(e) = res {
            self.stats
                .scan_telemetry_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "a cannot_verify_now answer was not counted");
        }
    }

    /// Scans per UTC day and verdict of the `days` days (1 to [`DAILY_DAYS_MAX`]) ending with
    /// `today` (days since the epoch), oldest first, every day present; of the products of
    /// `enterprise` when given. Reads only those days' counts (at most `days` × 4 keys).
    pub fn daily_scans(
        &self,
        enterprise: Option<u64>,
        today: i64,
        days: u32,
    ) -> Result<Vec<DayCounts>> {
        daily::read(
            &*self.store,
            enterprise,
            today,
            days.clamp(1, DAILY_DAYS_MAX),
        )
    }

    /// Clone warnings or forged-code scans (`kind`) of the `days` days (1 to
    /// [`DAILY_DAYS_MAX`]) ending with `today`, per day and by `dim` (the `top` subjects with
    /// the most). One key range of the tallies (at most [`tally::MAX_KEYS`] keys).
    pub fn scan_tally(
        &self,
        kind: TallyKind,
        dim: TallyDim,
        today: i64,
        days: u32,
        top: usize,
    ) -> Result<Tally> {
        let days = days.clamp(1, DAILY_DAYS_MAX);
        tally::read(&*self.store, kind, dim, today, days, top)
    }

    /// Each enterprise's clone warnings or forged-code scans (`kind`) on each of the `days`
    /// days (1 to [`DAILY_DAYS_MAX`]) ending with `today` (the credit model's dated events).
    pub fn enterprise_tallies(
        &self,
        kind: TallyKind,
        today: i64,
        days: u32,
    ) -> Result<EnterpriseDays> {
        tally::enterprise_rows(&*self.store, kind, today, days.clamp(1, DAILY_DAYS_MAX))
    }

    fn stripe(&self, key: &[u8]) -> usize {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() % self.scan_locks.len() as u64) as usize
    }

    /// The scan id of a code scanned from `net` in `bucket`: the bucket's start time (so ids
    /// sort by time and old ones purge as a range), then 8 bytes of SHA-256 under a secret
    /// (so ids cannot be guessed).
    fn scan_id(&self, code: &Code, net: &str, bucket: i64) -> Result<[u8; 16]> {
        let mut h = Sha256::new();
        h.update(self.scan_id_key()?);
        h.update(code.as_str().as_bytes());
        h.update([0]);
        h.update(net.as_bytes());
        h.update(bucket.to_be_bytes());
        let digest = h.finalize();
        let start = (bucket * self.scan_rules.repeat_secs.max(1) as i64).max(0) as u64;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&u64_key(start));
        id[8..].copy_from_slice(&digest[..8]);
        Ok(id)
    }

    fn scan_id_key(&self) -> Result<[u8; 32]> {
        if let Some(k) = *super::base::lock(&self.scan_id_key)? {
            return Ok(k);
        }
        let mut slot = super::base::lock(&self.scan_id_key)?;
        let key = match self.store.get(Cf::Meta, META_SCAN_ID_KEY)? {
            Some(b) => b
                .as_slice()
                .try_into()
                .map_err(|_| ServiceError::Internal("scan id key is not 32 bytes".into()))?,
            None => {
                let mut k = [0u8; 32];
                getrandom::getrandom(&mut k).map_err(|e| {
                    ServiceError::Internal(format!("OS random generator failed: {e}"))
                })?;
                let mut wb = WriteBatch::new();
                wb.put(Cf::Meta, META_SCAN_ID_KEY, k.to_vec());
                self.store.write(wb, Durability::Synced)?;
                k
            }
        };
        *slot = Some(key);
        Ok(key)
    }

    /// Forged-code scans by day, product and reason, newest day first (`before_day`: only
    /// days before it, as days since the epoch), at most `limit` rows.
    pub fn forged_scans(&self, before_day: Option<i64>, limit: usize) -> Result<Vec<ForgedDay>> {
        let end = before_day.map(|d| forged_day_prefix(d).to_vec());
        let rows = self
            .store
            .range(Cf::ForgedScans, &[], end.as_deref(), usize::MAX)?;
        let mut out: Vec<ForgedDay> = rows
            .iter()
            .rev()
            .take(limit)
            .filter_map(|(k, v)| {
                let (day, gtin, reason) = parse_forged_key(k)?;
                Some(ForgedDay {
                    day: rfc3339(day * 86_400)[..10].to_string(),
                    gtin,
                    reason,
                    scans: decode_u64(v).ok()?,
                })
            })
            .collect();
        out.truncate(limit);
        Ok(out)
    }

    /// Deletes scan records older than `before` (Unix seconds), and forged-scan aggregates
    /// and daily counts of days more than [`FORGED_RETENTION_DAYS`] before the scan records'
    /// own cut ([`SCAN_RETENTION_DAYS`] before now); returns how many records went.
    /// Complaints keep their own copy of the scan.
    pub fn purge_scans(&self, before: i64) -> Result<u64> {
        let n = self.purge_range(Cf::Scans, &u64_key(before.max(0) as u64))?;
        let day =
            (before - (FORGED_RETENTION_DAYS - SCAN_RETENTION_DAYS) * 86_400).div_euclid(86_400);
        self.purge_range(Cf::ForgedScans, &forged_day_prefix(day))?;
        daily::purge(&*self.store, day)?;
        tally::purge(&*self.store, day)?;
        Ok(n)
    }

    fn purge_range(&self, cf: Cf, end: &[u8]) -> Result<u64> {
        let mut n = 0;
        let mut start = Vec::new();
        loop {
            // Each page starts after the last key deleted, so deleted keys are not rescanned.
            let page = self.store.range(cf, &start, Some(end), 10_000)?;
            let Some((last, _)) = page.last() else {
                return Ok(n);
            };
            start = key_after(last);
            let mut wb = WriteBatch::with_capacity(page.len());
            for (k, _) in &page {
                wb.delete(cf, k.clone());
            }
            n += page.len() as u64;
            self.store.write(wb, Durability::Buffered)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ScanRules {
        ScanRules {
            warn_after_networks: 3,
            window_days: 30,
            repeat_secs: 3600,
        }
    }

    #[test]
    fn one_network_counts_once_per_bucket_and_never_warns() {
        let mut s = ScanStats::default();
        let t0 = 1_800_000_000;
        let first = s.observe("10.0.0.0/24", t0, &rules());
        assert!(first.counted);
        for i in 1..200 {
            let c = s.observe("10.0.0.0/24", t0 + i, &rules());
            assert!(!c.counted && !c.warn, "scan {i}");
            assert_eq!(c.summary.networks, 1);
        }
        // An hour later it counts again, still one network.
        let c = s.observe("10.0.0.0/24", t0 + 3600, &rules());
        assert!(c.counted && !c.warn);
        assert_eq!((c.summary.networks, c.summary.scans), (1, 2));
    }

    #[test]
    fn many_networks_warn_and_decay_out_of_the_window() {
        let mut s = ScanStats::default();
        let t0 = 1_800_000_000;
        for i in 0..3 {
            assert!(!s.observe(&format!("10.0.{i}.0/24"), t0, &rules()).warn);
        }
        let c = s.observe("10.0.3.0/24", t0 + 10, &rules());
        assert!(c.warn, "4 networks > 3");
        assert_eq!(c.summary.since, rfc3339(t0));
        // 31 days later the old networks are gone: one new network does not warn.
        let later = t0 + 31 * 86_400;
        let c = s.observe("10.9.9.0/24", later, &rules());
        assert!(!c.warn);
        assert_eq!(c.summary.networks, 1);
        assert_eq!(c.summary.since, rfc3339(later));
        assert_eq!(
            c.summary.first_scan_at,
            rfc3339(t0),
            "the first scan ever is kept"
        );
    }

    #[test]
    fn at_most_64_networks_are_kept() {
        let mut s = ScanStats::default();
        for i in 0..200 {
            s.observe(
                &format!("10.{}.{}.0/24", i / 256, i % 256),
                1_800_000_000 + i,
                &rules(),
            );
        }
        assert_eq!(s.networks.len(), MAX_TRACKED_NETWORKS);
        assert!(s
            .networks
            .iter()
            .all(|n| n.last >= 1_800_000_000 + 200 - 64));
    }

    #[test]
    fn forged_records_are_kept_within_daily_quotas() {
        let mut q = ForgedQuota::default();
        for _ in 0..MAX_FORGED_RECORDS_PER_NETWORK {
            assert!(q.take("10.0.0.0/24", 20_000));
        }
        assert!(
            !q.take("10.0.0.0/24", 20_000),
            "one network's quota is spent"
        );
        assert!(
            q.take("10.0.1.0/24", 20_000),
            "another network still has one"
        );
        assert!(q.take("10.0.0.0/24", 20_001), "a new day");
        let mut q = ForgedQuota::default();
        let mut kept = 0;
        for i in 0..(MAX_FORGED_RECORDS_PER_DAY + 100) {
            kept += u64::from(q.take(&format!("n{}", i / 10), 7));
        }
        assert_eq!(kept, MAX_FORGED_RECORDS_PER_DAY, "the day's quota holds");
        assert!(q.by_network.len() as u64 <= MAX_FORGED_RECORDS_PER_DAY);
    }

    #[test]
    fn coarse_networks() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(coarse_network(ip("203.0.113.77")), "203.0.113.0/24");
        assert_eq!(coarse_network(ip("2001:db8:1:2::5")), "2001:db8:1::/48");
        assert_eq!(coarse_network(ip("::ffff:1.2.3.4")), "1.2.3.0/24");
        assert_eq!(coarse_network(None), "unknown");
    }
}

//! Custody counts per day (`custody_days`), for the regulator's risk dashboard: holds placed,
//! non-conformant origin attestations and recalls, per UTC day and enterprise. Counted in the
//! record's own write (counter adds), read as one key range per kind and range of days.

use std::collections::{BTreeSet, HashMap};

use crate::custody::event::Conformance;
use crate::custody::Event;
use crate::service::base::Result;
use crate::store::schema::{
    custody_day_key, decode_u64, origin_key, parse_custody_day_key, parse_origin_key,
};
use crate::store::{Cf, Store, WriteBatch};

/// Most keys one kind's read takes (days × enterprises).
pub const MAX_KEYS: usize = 50_000;

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustodyKind {
    /// A customs or quality hold placed.
    Hold,
    /// An origin attestation or a sampling inspection whose result is non-conformant.
    NonConformant,
    /// A lot recalled.
    Recall,
    /// A lot recalled for a safety reason (counted as a recall too).
    SafetyRecall,
    /// A customs clearance or a receiving later than the on-time limit after the step before.
    Late,
    /// A hold lifted (its outcome: resolved, not a recall or a refusal).
    HoldLifted,
}

impl CustodyKind {
    /// Every kind.
    pub const ALL: [CustodyKind; 6] = [
        CustodyKind::Hold,
        CustodyKind::NonConformant,
        CustodyKind::Recall,
        CustodyKind::SafetyRecall,
        CustodyKind::Late,
        CustodyKind::HoldLifted,
    ];

    /// The kinds on the risk dashboard, in the order of [`CustodyDays`]' arrays.
    pub const DASHBOARD: [CustodyKind; 3] = [
        CustodyKind::Hold,
        CustodyKind::NonConformant,
        CustodyKind::Recall,
    ];

    fn byte(self) -> u8 {
        match self {
            CustodyKind::Hold => b'h',
            CustodyKind::NonConformant => b'n',
            CustodyKind::Recall => b'r',
            CustodyKind::SafetyRecall => b's',
            CustodyKind::Late => b'l',
            CustodyKind::HoldLifted => b'u',
        }
    }

    /// What a signed custody event counts as, if anything.
    pub fn of(event: &Event) -> Option<CustodyKind> {
        match event {
            Event::Holding(_) => Some(CustodyKind::Hold),
            Event::HoldRelease(_) => Some(CustodyKind::HoldLifted),
            Event::OriginAttestation(a) if a.result == Conformance::NonConformant => {
                Some(CustodyKind::NonConformant)
            }
            Event::Sampling(s) if s.result == Conformance::NonConformant => {
                Some(CustodyKind::NonConformant)
            }
            _ => None,
        }
    }
}

/// Adds one `kind` on `day` for `enterprise` to `wb`.
pub(super) fn stage(wb: &mut WriteBatch, kind: CustodyKind, day: i64, enterprise: u64) {
    wb.add(
        Cf::CustodyDays,
        custody_day_key(kind.byte(), day, enterprise),
        1,
    );
}

/// Adds one origin attestation from `country` for `enterprise`'s lots to `wb`.
pub(super) fn stage_origin(wb: &mut WriteBatch, enterprise: u64, country: &str) {
    wb.add(Cf::CustodyDays, origin_key(enterprise, country), 1);
}

/// The countries each enterprise's lots were attested from (one range; `true` if cut at
/// [`MAX_KEYS`]).
pub(super) fn origins(store: &dyn Store) -> Result<(HashMap<u64, BTreeSet<String>>, bool)> {
    let rows = store.range(Cf::CustodyDays, b"o", Some(b"p"), MAX_KEYS + 1)?;
    let mut out: HashMap<u64, BTreeSet<String>> = HashMap::new();
    for (k, _) in rows.iter().take(MAX_KEYS) {
        if let Some((e, c)) = parse_origin_key(k) {
            out.entry(e).or_default().insert(c);
        }
    }
    Ok((out, rows.len() > MAX_KEYS))
}

/// Counts over a range of days, by kind (in [`CustodyKind::DASHBOARD`] order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustodyDays {
    /// Every day of the range, oldest first.
    pub days: Vec<(i64, [u64; 3])>,
    /// Each enterprise with any, most first (ties by id).
    pub enterprises: Vec<(u64, [u64; 3])>,
    /// A kind's range held more than [`MAX_KEYS`] keys (counted from its first keys only).
    pub truncated: bool,
}

/// One counter: how many of `kind` the enterprise had on `day`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustodyDayRow {
    /// What was counted.
    pub kind: CustodyKind,
    /// Days since the epoch (UTC).
    pub day: i64,
    /// The enterprise (the product's owner when it was counted).
    pub enterprise: u64,
    /// How many.
    pub count: u64,
}

/// Every counter of the `days` days ending with `last_day`, by kind, day and enterprise (the
/// credit model's dated events), and whether a kind had more than [`MAX_KEYS`].
pub(super) fn rows(
    store: &dyn Store,
    last_day: i64,
    days: u32,
) -> Result<(Vec<CustodyDayRow>, bool)> {
    let first = last_day - i64::from(days) + 1;
    let (mut out, mut truncated) = (Vec::new(), false);
    for kind in CustodyKind::ALL {
        let start = custody_day_key(kind.byte(), first.max(0), 0);
        let end = custody_day_key(kind.byte(), last_day.max(0) + 1, 0);
        let raw = store.range(Cf::CustodyDays, &start, Some(&end), MAX_KEYS + 1)?;
        truncated |= raw.len() > MAX_KEYS;
        out.extend(raw.iter().take(MAX_KEYS).filter_map(|(k, v)| {
            let ((day, enterprise), count) = (parse_custody_day_key(k)?, decode_u64(v).ok()?);
            Some(CustodyDayRow {
                kind,
                day,
                enterprise,
                count,
            })
        }));
    }
    Ok((out, truncated))
}

/// The counts of the `days` days ending with `last_day`: one range read per kind.
pub(super) fn read(store: &dyn Store, last_day: i64, days: u32) -> Result<CustodyDays> {
    let first = last_day - i64::from(days) + 1;
    let mut out = CustodyDays {
        days: (first..=last_day).map(|d| (d, [0; 3])).collect(),
        ..CustodyDays::default()
    };
    let mut by: HashMap<u64, [u64; 3]> = HashMap::new();
    for (i, kind) in CustodyKind::DASHBOARD.into_iter().enumerate() {
        let start = custody_day_key(kind.byte(), first.max(0), 0);
        let end = custody_day_key(kind.byte(), last_day.max(0) + 1, 0);
        let rows = store.range(Cf::CustodyDays, &start, Some(&end), MAX_KEYS + 1)?;
        out.truncated |= rows.len() > MAX_KEYS;
        for (k, v) in rows.iter().take(MAX_KEYS) {
            let (Some((day, e)), Ok(n)) = (parse_custody_day_key(k), decode_u64(v)) else {
                continue;
            };
            if let Some(d) = usize::try_from(day - first)
                .ok()
                .and_then(|j| out.days.get_mut(j))
            {
                d.1[i] += n;
            }
            by.entry(e).or_default()[i] += n;
        }
    }
    let mut ranked: Vec<(u64, [u64; 3])> = by.into_iter().collect();
    ranked.sort_by(|a, b| {
        let t = |x: &[u64; 3]| x.iter().sum::<u64>();
        t(&b.1).cmp(&t(&a.1)).then(a.0.cmp(&b.0))
    });
    out.enterprises = ranked;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStore;
    use crate::store::Durability;

    #[test]
    fn counts_add_up_per_day_kind_and_enterprise_within_the_range() {
        let s = MemStore::new();
        let add = |k, day, e| {
            let mut wb = WriteBatch::new();
            stage(&mut wb, k, day, e);
            s.write(wb, Durability::Synced).unwrap();
        };
        add(CustodyKind::Hold, 10, 1);
        add(CustodyKind::Hold, 10, 1);
        add(CustodyKind::Recall, 11, 2);
        add(CustodyKind::NonConformant, 11, 1);
        add(CustodyKind::Hold, 5, 3);
        let r = read(&s, 11, 2).unwrap();
        assert_eq!(r.days, vec![(10, [2, 0, 0]), (11, [0, 1, 1])]);
        assert_eq!(
            r.enterprises,
            vec![(1, [2, 1, 0]), (2, [0, 0, 1])],
            "day 5 is outside"
        );
        assert!(!r.truncated);
        assert_eq!(read(&s, 11, 7).unwrap().enterprises.len(), 3);
    }
}

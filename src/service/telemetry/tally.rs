//! Scan tallies (`scan_tallies`), for the regulator's risk dashboard: clone warnings and scans
//! of codes we did not issue, per UTC day, by enterprise, by product and by client network.
//! Counted as scans arrive (counter adds in the scan's own write: no read, no lock) and read
//! as one key range per kind × dimension × range of days, never the scan records. A range reads
//! at most [`MAX_KEYS`] keys: a flood from very many networks shows as "truncated" instead of
//! making the page slow.

use std::collections::HashMap;

use super::daily::delete_range;
use crate::service::base::Result;
use crate::store::schema::{
    decode_u64, parse_scan_tally_key, scan_tally_key, scan_tally_prefix, u64_key,
};
use crate::store::{Cf, Store, WriteBatch};

/// Most keys one read takes (days × subjects).
pub const MAX_KEYS: usize = 50_000;

/// What is tallied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TallyKind {
    /// A scan of an issued code that fired the clone warning.
    CloneWarning,
    /// A scan of a code we did not issue (forged, or of a revoked key).
    Forged,
}

impl TallyKind {
    /// Both kinds.
    pub const ALL: [TallyKind; 2] = [TallyKind::CloneWarning, TallyKind::Forged];

    fn byte(self) -> u8 {
        match self {
            TallyKind::CloneWarning => b'w',
            TallyKind::Forged => b'f',
        }
    }
}

/// What it is tallied by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TallyDim {
    /// The enterprise of the product the code names (when it is a registered product).
    Enterprise,
    /// The product (GTIN-14; `00000000000000` for a GTIN that is no registered product).
    Product,
    /// The client network (IPv4 /24, IPv6 /48, as scan records hold it).
    Network,
}

impl TallyDim {
    /// Every dimension.
    pub const ALL: [TallyDim; 3] = [TallyDim::Enterprise, TallyDim::Product, TallyDim::Network];

    fn byte(self) -> u8 {
        match self {
            TallyDim::Enterprise => b'e',
            TallyDim::Product => b'p',
            TallyDim::Network => b'n',
        }
    }
}

/// One scan's subjects: its enterprise (if known), product and network.
pub(super) struct Subjects<'a> {
    pub enterprise: Option<u64>,
    pub gtin: &'a str,
    pub network: &'a str,
}

/// Adds one scan of `kind` on `day` to `wb`, under each of its subjects.
pub(super) fn stage(wb: &mut WriteBatch, kind: TallyKind, day: i64, s: &Subjects<'_>) {
    let k = kind.byte();
    if let Some(e) = s.enterprise {
        wb.add(
            Cf::ScanTallies,
            scan_tally_key(k, b'e', day, &u64_key(e)),
            1,
        );
    }
    wb.add(
        Cf::ScanTallies,
        scan_tally_key(k, b'p', day, s.gtin.as_bytes()),
        1,
    );
    wb.add(
        Cf::ScanTallies,
        scan_tally_key(k, b'n', day, s.network.as_bytes()),
        1,
    );
}

/// A kind's tally by one dimension over a range of days.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Every day of the range, oldest first: (days since the epoch, count).
    pub days: Vec<(i64, u64)>,
    /// The subjects with the most, most first (ties by subject), at most the `top` asked for:
    /// (subject bytes: enterprise id u64 BE, GTIN-14 or network text; count).
    pub top: Vec<(Vec<u8>, u64)>,
    /// The count of every other subject.
    pub others: u64,
    /// The range held more than [`MAX_KEYS`] keys: the counts are of its first days' keys only.
    pub truncated: bool,
}

impl Tally {
    /// The range's total.
    pub fn total(&self) -> u64 {
        self.days.iter().map(|d| d.1).sum()
    }
}

/// The tally of `kind` by `dim` over the `days` days ending with `last_day`, with the `top`
/// subjects. One range read.
pub(super) fn read(
    store: &dyn Store,
    kind: TallyKind,
    dim: TallyDim,
    last_day: i64,
    days: u32,
    top: usize,
) -> Result<Tally> {
    let first = last_day - i64::from(days) + 1;
    let (k, d) = (kind.byte(), dim.byte());
    let start = scan_tally_prefix(k, d, first.max(0));
    let end = scan_tally_prefix(k, d, last_day.max(0) + 1);
    let rows = store.range(Cf::ScanTallies, &start, Some(&end), MAX_KEYS + 1)?;
    let mut t = Tally {
        days: (first..=last_day).map(|day| (day, 0)).collect(),
        truncated: rows.len() > MAX_KEYS,
        ..Tally::default()
    };
    let mut by: HashMap<Vec<u8>, u64> = HashMap::new();
    for (key, v) in rows.iter().take(MAX_KEYS) {
        let (Some((day, subject)), Ok(n)) = (parse_scan_tally_key(key), decode_u64(v)) else {
            continue;
        };
        if let Some(slot) = usize::try_from(day - first)
            .ok()
            .and_then(|i| t.days.get_mut(i))
        {
            slot.1 += n;
        }
        *by.entry(subject.to_vec()).or_default() += n;
    }
    let mut ranked: Vec<(Vec<u8>, u64)> = by.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    t.others = ranked.iter().skip(top).map(|r| r.1).sum();
    ranked.truncate(top);
    t.top = ranked;
    Ok(t)
}

pub use crate::service::base::EnterpriseDays;

/// Each enterprise's count of `kind` on each of the `days` days ending with `last_day`.
pub(super) fn enterprise_rows(
    store: &dyn Store,
    kind: TallyKind,
    last_day: i64,
    days: u32,
) -> Result<EnterpriseDays> {
    let first = last_day - i64::from(days) + 1;
    let (k, d) = (kind.byte(), TallyDim::Enterprise.byte());
    let start = scan_tally_prefix(k, d, first.max(0));
    let end = scan_tally_prefix(k, d, last_day.max(0) + 1);
    let raw = store.range(Cf::ScanTallies, &start, Some(&end), MAX_KEYS + 1)?;
    let rows = raw
        .iter()
        .take(MAX_KEYS)
        .filter_map(|(key, v)| {
            let (day, subject) = parse_scan_tally_key(key)?;
            let id = u64::from_be_bytes(subject.try_into().ok()?);
            Some((day, id, decode_u64(v).ok()?))
        })
        .collect();
    Ok(EnterpriseDays {
        rows,
        truncated: raw.len() > MAX_KEYS,
    })
}

/// Deletes the tallies of days before `before_day`. Returns how many went.
pub(super) fn purge(store: &dyn Store, before_day: i64) -> Result<u64> {
    let mut n = 0;
    for kind in TallyKind::ALL {
        for dim in TallyDim::ALL {
            let (k, d) = (kind.byte(), dim.byte());
            let end = scan_tally_prefix(k, d, before_day);
            n += delete_range(store, Cf::ScanTallies, scan_tally_prefix(k, d, 0), &end)?;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStore;
    use crate::store::Durability;

    fn add(s: &dyn Store, kind: TallyKind, day: i64, e: Option<u64>, gtin: &str, net: &str) {
        let mut wb = WriteBatch::new();
        let subjects = Subjects {
            enterprise: e,
            gtin,
            network: net,
        };
        stage(&mut wb, kind, day, &subjects);
        s.write(wb, Durability::Buffered).unwrap();
    }

    #[test]
    fn tallies_sum_per_day_and_rank_subjects_within_the_range() {
        let s = MemStore::new();
        let g = "09506000134352";
        for _ in 0..3 {
            add(&s, TallyKind::Forged, 100, Some(7), g, "10.0.0.0/24");
        }
        add(
            &s,
            TallyKind::Forged,
            101,
            None,
            "00000000000000",
            "10.0.1.0/24",
        );
        add(&s, TallyKind::Forged, 90, Some(7), g, "10.0.9.0/24");
        add(&s, TallyKind::CloneWarning, 100, Some(8), g, "10.0.0.0/24");
        let n = read(&s, TallyKind::Forged, TallyDim::Network, 101, 2, 1).unwrap();
        assert_eq!(n.days, vec![(100, 3), (101, 1)]);
        assert_eq!(n.top, vec![(b"10.0.0.0/24".to_vec(), 3)]);
        assert_eq!((n.others, n.total(), n.truncated), (1, 4, false));
        let e = read(&s, TallyKind::Forged, TallyDim::Enterprise, 101, 2, 10).unwrap();
        assert_eq!(
            e.top,
            vec![(u64_key(7).to_vec(), 3)],
            "unknown products have no enterprise"
        );
        let p = read(&s, TallyKind::Forged, TallyDim::Product, 101, 12, 10).unwrap();
        assert_eq!(p.total(), 5, "day 90 is in a 12-day range");
        let w = read(
            &s,
            TallyKind::CloneWarning,
            TallyDim::Enterprise,
            101,
            2,
            10,
        )
        .unwrap();
        assert_eq!(w.top, vec![(u64_key(8).to_vec(), 1)], "kinds are apart");
        assert_eq!(purge(&s, 95).unwrap(), 3, "day 90: one key per dimension");
        assert_eq!(
            read(&s, TallyKind::Forged, TallyDim::Product, 101, 12, 10)
                .unwrap()
                .total(),
            4
        );
    }
}

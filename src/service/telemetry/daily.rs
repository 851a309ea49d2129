//! Daily scan counts (`scan_days`), for the regulator dashboard: per UTC day × verdict, of
//! every scan and of each enterprise's products. Maintained as scans arrive, as counter adds
//! in the same buffered write as the scan's record (no read, no lock), and read as one key
//! range per view: `days` × 4 keys at most, never the scan records.
//!
//! Verdicts are counted by their index in `VerdictKind::ALL` (`0..VERDICTS`); this module
//! knows nothing else of them.

use crate::service::base::{rfc3339, Result};
use crate::store::schema::{
    decode_u64, key_after, parse_scan_day_key, scan_day_key, scan_day_prefix,
};
use crate::store::{prefix_end, Cf, Durability, Store, WriteBatch};

/// How many verdicts are counted (the length of `VerdictKind::ALL`).
pub const VERDICTS: usize = 4;

/// Scans counted on one UTC day, by verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayCounts {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// Scans by verdict, in the order of `VerdictKind::ALL`.
    pub counts: [u64; VERDICTS],
}

impl DayCounts {
    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        rfc3339(self.day * 86_400)[..10].to_string()
    }

    /// Scans of the day, every verdict.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Adds one scan of `verdict` (an index below [`VERDICTS`]) on `day` to `wb`: the count of
/// every scan and, when the product's enterprise is known, that enterprise's. Counter adds
/// (`WriteBatch::add`): nothing is read and no lock is held, so concurrent scans never wait
/// on each other here.
pub(super) fn stage(wb: &mut WriteBatch, day: i64, enterprise: Option<u64>, verdict: u8) {
    wb.add(Cf::ScanDays, scan_day_key(None, day, verdict), 1);
    if enterprise.is_some() {
        wb.add(Cf::ScanDays, scan_day_key(enterprise, day, verdict), 1);
    }
}

/// The counts of the `days` days ending with `last_day`, oldest first, every day present
/// (zeros where nothing was counted); of one enterprise's products when `enterprise` is given.
/// One range read of at most `days` × [`VERDICTS`] keys.
pub(super) fn read(
    store: &dyn Store,
    enterprise: Option<u64>,
    last_day: i64,
    days: u32,
) -> Result<Vec<DayCounts>> {
    let first = last_day - i64::from(days) + 1;
    let mut out: Vec<DayCounts> = (first..=last_day)
        .map(|day| DayCounts {
            day,
            counts: [0; VERDICTS],
        })
        .collect();
    if out.is_empty() {
        return Ok(out);
    }
    let start = scan_day_key(enterprise, first.max(0), 0);
    let end = scan_day_key(enterprise, last_day.max(0) + 1, 0);
    let rows = store.range(Cf::ScanDays, &start, Some(&end), out.len() * VERDICTS)?;
    for (k, v) in rows {
        let Some((_, day, verdict)) = parse_scan_day_key(&k) else {
            continue;
        };
        let (Ok(i), Ok(n)) = (usize::try_from(day - first), decode_u64(&v)) else {
            continue;
        };
        if let Some(slot) = out
            .get_mut(i)
            .and_then(|d| d.counts.get_mut(usize::from(verdict)))
        {
            *slot = n;
        }
    }
    Ok(out)
}

/// Deletes the counts of days before `before_day`, of every scope: the totals as one range,
/// then each enterprise's (found by seeking from one enterprise's keys to the next, so only
/// the keys deleted and one key per enterprise are read). Returns how many went.
pub(super) fn purge(store: &dyn Store, before_day: i64) -> Result<u64> {
    let mut n = delete_range(
        store,
        Cf::ScanDays,
        scan_day_key(None, 0, 0),
        &scan_day_key(None, before_day, 0),
    )?;
    let enterprises_end = prefix_end(b"e");
    let mut next = Some(scan_day_prefix(Some(0)));
    while let Some(start) = next {
        let first = store.range(Cf::ScanDays, &start, enterprises_end.as_deref(), 1)?;
        let Some((Some(e), _, _)) = first.first().and_then(|(k, _)| parse_scan_day_key(k)) else {
            break;
        };
        n += delete_range(
            store,
            Cf::ScanDays,
            scan_day_key(Some(e), 0, 0),
            &scan_day_key(Some(e), before_day, 0),
        )?;
        next = e.checked_add(1).map(|e| scan_day_prefix(Some(e)));
    }
    Ok(n)
}

/// Deletes the keys of `cf` from `start` to `end` (exclusive), a page at a time. Returns how
/// many went.
pub(super) fn delete_range(
    store: &dyn Store,
    cf: Cf,
    mut start: Vec<u8>,
    end: &[u8],
) -> Result<u64> {
    let mut n = 0;
    loop {
        let page = store.range(cf, &start, Some(end), 10_000)?;
        let Some((last, _)) = page.last() else {
            return Ok(n);
        };
        start = key_after(last);
        let mut wb = WriteBatch::with_capacity(page.len());
        for (k, _) in &page {
            wb.delete(cf, k.clone());
        }
        n += page.len() as u64;
        store.write(wb, Durability::Buffered)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStore;

    fn add(s: &dyn Store, day: i64, e: Option<u64>, v: u8) {
        let mut wb = WriteBatch::new();
        stage(&mut wb, day, e, v);
        s.write(wb, Durability::Buffered).unwrap();
    }

    #[test]
    fn counts_add_up_per_day_verdict_and_enterprise_and_read_back_as_a_range() {
        let s = MemStore::new();
        add(&s, 20_000, Some(7), 0);
        add(&s, 20_000, Some(7), 0);
        add(&s, 20_000, Some(8), 2);
        add(&s, 20_002, None, 3);
        add(&s, 19_990, Some(7), 1);
        let all = read(&s, None, 20_002, 3).unwrap();
        let days: Vec<(i64, [u64; 4])> = all.iter().map(|d| (d.day, d.counts)).collect();
        assert_eq!(
            days,
            [
                (20_000, [2, 0, 1, 0]),
                (20_001, [0; 4]),
                (20_002, [0, 0, 0, 1])
            ]
        );
        assert_eq!(all[0].date(), "2024-10-04");
        assert_eq!(all[0].total(), 3);
        let seven = read(&s, Some(7), 20_002, 3).unwrap();
        assert_eq!(seven[0].counts, [2, 0, 0, 0]);
        assert_eq!(seven.iter().map(DayCounts::total).sum::<u64>(), 2);
        assert_eq!(
            read(&s, Some(8), 20_000, 1).unwrap()[0].counts,
            [0, 0, 1, 0]
        );
        assert_eq!(read(&s, Some(9), 20_002, 366).unwrap().len(), 366);
        // Only the range's keys are read: the older day is outside it.
        assert_eq!(
            read(&s, Some(7), 19_990, 1).unwrap()[0].counts,
            [0, 1, 0, 0]
        );
        assert!(read(&s, None, 20_002, 0).unwrap().is_empty());
    }

    #[test]
    fn purge_drops_old_days_of_every_scope_and_keeps_the_rest() {
        let s = MemStore::new();
        for e in [None, Some(1), Some(5), Some(u64::MAX)] {
            add(&s, 100, e, 0);
            add(&s, 200, e, 2);
        }
        // Day 100: the totals' key and each enterprise's.
        assert_eq!(purge(&s, 150).unwrap(), 4);
        for (e, n) in [(None, 4), (Some(1), 1), (Some(5), 1), (Some(u64::MAX), 1)] {
            let d = read(&s, e, 200, 101).unwrap();
            assert_eq!(d[0].total(), 0, "{e:?}: day 100 is gone");
            assert_eq!(d[100].counts, [0, 0, n, 0], "{e:?}: day 200 is kept");
        }
        assert_eq!(purge(&s, 150).unwrap(), 0);
    }
}

//! What the model reads of each enterprise, gathered through the other units' public reads:
//! a cheap signature per enterprise for every tick, the dated events of the window (read in
//! full once an hour and at the turn of the day, older than yesterday kept in memory), and
//! per dirty enterprise its recent events, upheld complaints and profile.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use super::{Grading, Watch, DAY, FULL_EVERY_SECS};
use crate::grading::{Dated, Factor, Facts, Grade};
use crate::service::base::Result;
use crate::service::complaints::credit::{DisclosureCategory, Rating};
use crate::service::complaints::ComplaintCategory;
use crate::service::custody::CustodyKind;
use crate::service::master::{Enterprise, MAX_LIST};
use crate::service::telemetry::TallyKind;

impl Watch {
    /// Whether every enterprise is due to be graded again at `now` (the first call, an
    /// hour after the last full pass, or a new day).
    pub(super) fn full_due(&self, now: i64) -> bool {
        self.full_at
            .is_none_or(|t| now - t >= FULL_EVERY_SECS || t.div_euclid(DAY) != now.div_euclid(DAY))
    }
}

impl Grading {
    pub(super) fn enterprises(&self) -> Result<Vec<Enterprise>> {
        let mut out = Vec::new();
        loop {
            let after = out.last().map_or(0, |e: &Enterprise| e.id);
            let page = self.deps.master.list_enterprises(after, MAX_LIST)?;
            let done = page.len() < MAX_LIST;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// Today's and yesterday's counters by enterprise: one small range per counter kind,
    /// read once a tick for both the signatures and the facts.
    pub(super) fn recent_events(&self, today: i64) -> Result<HashMap<u64, Vec<Dated>>> {
        let mut recent: HashMap<u64, Vec<Dated>> = HashMap::new();
        self.dated(today, 2, |day, e, factor, count| {
            recent
                .entry(e)
                .or_default()
                .push(Dated { factor, day, count });
        })?;
        Ok(recent)
    }

    /// A hash per enterprise of what can move its grade: its profile's version, its
    /// complaint counts and changes, and its `recent` counters. Two multi-reads.
    pub(super) fn signatures(
        &self,
        ents: &[Enterprise],
        recent: &HashMap<u64, Vec<Dated>>,
    ) -> Result<HashMap<u64, u64>> {
        let ids: Vec<u64> = ents.iter().map(|e| e.id).collect();
        let versions = self.deps.consumer.credit_versions_of(&ids)?;
        let counts = self.deps.consumer.complaint_counts_of(&ids)?;
        let mut hashers: HashMap<u64, DefaultHasher> = HashMap::new();
        for ((id, v), c) in ids.iter().zip(versions).zip(counts) {
            let h = hashers.entry(*id).or_default();
            (v, c.received, c.resolved, c.rejected, c.changes).hash(h);
            for d in recent.get(id).into_iter().flatten() {
                (d.day, d.factor, d.count).hash(h);
            }
        }
        Ok(hashers.into_iter().map(|(k, h)| (k, h.finish())).collect())
    }

    /// Every dated counter of the `days` days ending `today`, by enterprise and factor;
    /// `true` if a range was cut.
    fn dated(
        &self,
        today: i64,
        days: u32,
        mut f: impl FnMut(i64, u64, Factor, u64),
    ) -> Result<bool> {
        let (rows, mut cut) = self.deps.custody.custody_day_rows(today, days)?;
        for r in rows {
            f(r.day, r.enterprise, custody_factor(r.kind), r.count);
        }
        for (kind, factor) in [
            (TallyKind::CloneWarning, Factor::CloneWarning),
            (TallyKind::Forged, Factor::ForgedScan),
        ] {
            let t = self.deps.telemetry.enterprise_tallies(kind, today, days)?;
            cut |= t.truncated;
            for (day, e, n) in t.rows {
                f(day, e, factor, n);
            }
        }
        let r = self.deps.printing.reprint_days(today, days)?;
        for (day, e, n) in r.rows {
            f(day, e, Factor::Reprint, n);
        }
        Ok(cut || r.truncated)
    }

    /// Reads every product's category again when products were written since the last
    /// read (or on a full pass); returns the enterprises whose categories changed.
    pub(super) fn recategorise(&self, watch: &mut Watch, full: bool) -> Result<HashSet<u64>> {
        let generation = self.deps.master.products_generation();
        if !full && watch.products_seen == Some(generation) {
            return Ok(HashSet::new());
        }
        let now: HashMap<u64, BTreeSet<_>> = self.deps.master.categories_by_enterprise()?;
        let changed = now
            .keys()
            .chain(watch.categories.keys())
            .filter(|e| now.get(e) != watch.categories.get(e))
            .copied()
            .collect();
        watch.categories = now;
        watch.products_seen = Some(generation);
        Ok(changed)
    }

    /// Reads the countries each enterprise's lots were attested from again when an origin
    /// attestation was accepted since the last read (or on a full pass); returns the
    /// enterprises whose countries changed.
    pub(super) fn reorigin(&self, watch: &mut Watch, full: bool) -> Result<HashSet<u64>> {
        let generation = self.deps.custody.origins_generation();
        if !full && watch.origins_seen == Some(generation) {
            return Ok(HashSet::new());
        }
        let (now, cut) = self.deps.custody.origins_by_enterprise()?;
        if cut {
            tracing::warn!("credit grades: the origin countries' range was cut");
        }
        let changed = now
            .keys()
            .chain(watch.origins.keys())
            .filter(|e| now.get(e) != watch.origins.get(e))
            .copied()
            .collect();
        watch.origins = now;
        watch.origins_seen = Some(generation);
        Ok(changed)
    }

    /// The counters of the model's window older than yesterday, by enterprise: they do not
    /// change any more (counters are dated by the day they are counted), so a full pass reads
    /// them once and the ticks in between read only today and yesterday.
    pub(super) fn past_events(&self, today: i64) -> Result<HashMap<u64, Vec<Dated>>> {
        let mut past: HashMap<u64, Vec<Dated>> = HashMap::new();
        let cut = self.dated(
            today,
            self.model.decay.window_days,
            |day, e, factor, count| {
                if day < today - 1 {
                    past.entry(e)
                        .or_default()
                        .push(Dated { factor, day, count });
                }
            },
        )?;
        if cut {
            tracing::warn!("credit grades: a counter range was cut; its newest days are left out");
        }
        Ok(past)
    }

    /// The model's facts about each of `ents` on day `today`: the `watch`'s past events and
    /// categories, the `recent` counters, upheld complaints and the profile.
    pub(super) fn facts(
        &self,
        ents: &[&Enterprise],
        today: i64,
        watch: &Watch,
        recent: &HashMap<u64, Vec<Dated>>,
    ) -> Result<HashMap<u64, Facts>> {
        ents.iter()
            .map(|e| {
                let mut f = self.static_facts(e, today)?;
                let cats = watch.categories.get(&e.id);
                f.categories = cats.into_iter().flatten().copied().collect();
                let origins = watch.origins.get(&e.id);
                f.origins = origins.into_iter().flatten().cloned().collect();
                f.events = recent.get(&e.id).cloned().unwrap_or_default();
                let past = watch.past.get(&e.id);
                f.events.extend(past.into_iter().flatten().cloned());
                f.events.extend(self.upheld_events(e.id, today)?);
                Ok((e.id, f))
            })
            .collect()
    }

    /// Upheld complaints as dated events (a date ahead of `today`, from a clock set back,
    /// counts as today).
    fn upheld_events(&self, id: u64, today: i64) -> Result<Vec<Dated>> {
        let (list, cut) = self.deps.consumer.upheld_of(id)?;
        if cut {
            tracing::warn!(
                enterprise = id,
                "credit grades: upheld complaints cut at the cap"
            );
        }
        Ok(list
            .into_iter()
            .map(|u| Dated {
                factor: complaint_factor(u.category),
                day: u.at.div_euclid(DAY).min(today),
                count: 1,
            })
            .collect())
    }

    fn static_facts(&self, e: &Enterprise, today: i64) -> Result<Facts> {
        let created = time::OffsetDateTime::parse(
            &e.created_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map(|t| t.unix_timestamp().div_euclid(DAY))
        .unwrap_or(today);
        let profile = self.deps.consumer.find_credit(e.id, &e.name)?;
        let filed = profile.as_ref().is_some_and(|p| {
            p.disclosures
                .iter()
                .any(|d| d.category == DisclosureCategory::Registration)
        });
        Ok(Facts {
            registered_days: today - created,
            registration_filed: filed,
            categories: Vec::new(),
            origins: Vec::new(),
            authority_rating: profile.as_ref().map(|p| rating_grade(p.rating)),
            listed: profile.as_ref().is_some_and(|p| p.dishonest.is_some()),
            events: Vec::new(),
            // Set under the write lock, from the state the new one replaces.
            previous: None,
        })
    }
}

fn custody_factor(k: CustodyKind) -> Factor {
    match k {
        CustodyKind::Hold => Factor::Hold,
        CustodyKind::HoldLifted => Factor::HoldLifted,
        CustodyKind::NonConformant => Factor::NonConformant,
        CustodyKind::Recall => Factor::Recall,
        CustodyKind::SafetyRecall => Factor::SafetyRecall,
        CustodyKind::Late => Factor::LateCustody,
    }
}

fn complaint_factor(c: ComplaintCategory) -> Factor {
    match c {
        ComplaintCategory::Counterfeit => Factor::ComplaintCounterfeit,
        ComplaintCategory::Quality => Factor::ComplaintQuality,
        ComplaintCategory::Service => Factor::ComplaintService,
    }
}

fn rating_grade(r: Rating) -> Grade {
    match r {
        Rating::A => Grade::A,
        Rating::B => Grade::B,
        Rating::C => Grade::C,
        Rating::D => Grade::D,
    }
}

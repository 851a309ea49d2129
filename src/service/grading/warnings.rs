//! The warning list (失信预警名单) and supervision, read from the grades: the enterprises on
//! the list now, one enterprise's listing changes, and whether a lot of an enterprise's
//! product needs a sampling inspection before release (`crate::grading::sampling`). The
//! listings themselves are computed with the grades, in `Grading::refresh`.

use super::{
    listing_view, GradedEnterprise, Grading, ListingView, SupervisionLevel, WarnedEnterprise,
    WarningChange, MAX_GRADED, MAX_HISTORY, MAX_WARNED,
};
use crate::grading::{sampling, ProductCategory, SamplingDecision, Standing, Supervision};
use crate::records::WarningRecord;
use crate::service::base::{rfc3339, Result};
use crate::store::schema::{decode_json, grade_key, warned_key, warning_change_key};
use crate::store::Cf;

impl Grading {
    /// The enterprises on the warning list now, by id after `after`, at most `limit` (≤
    /// [`MAX_WARNED`]): one range and one multi-read.
    pub fn warning_list(&self, after: u64, limit: usize) -> Result<Vec<WarnedEnterprise>> {
        let limit = limit.clamp(1, MAX_WARNED);
        let start = warned_key(after.saturating_add(1));
        let end = warned_key(u64::MAX);
        let rows = self.store.range(Cf::Grades, &start, Some(&end), limit)?;
        let ids: Vec<u64> = rows
            .iter()
            .filter_map(|(k, _)| Some(u64::from_be_bytes(k.get(1..9)?.try_into().ok()?)))
            .collect();
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| grade_key(*id)).collect();
        let states = self.store.multi_get(Cf::Grades, &keys)?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, st) in ids.into_iter().zip(states) {
            let Some(b) = st else { continue };
            let s: super::Stored = decode_json("grade", &b)?;
            let name = self.deps.master.enterprise(id)?.name;
            out.push(WarnedEnterprise {
                enterprise_id: id,
                enterprise_name: name,
                listings: s.warnings.iter().map(listing_view).collect(),
            });
        }
        Ok(out)
    }

    /// Every graded enterprise by id after `after`, at most `limit` (≤ [`MAX_GRADED`]),
    /// with its grade, score, listings and supervision (the regulator's export for other
    /// departments): one range, then the enterprise and its profile per row.
    pub fn graded_list(&self, after: u64, limit: usize) -> Result<Vec<GradedEnterprise>> {
        let limit = limit.clamp(1, MAX_GRADED);
        let start = grade_key(after.saturating_add(1));
        let end = grade_key(u64::MAX);
        let rows = self.store.range(Cf::Grades, &start, Some(&end), limit)?;
        let mut out = Vec::with_capacity(rows.len());
        for (k, v) in rows {
            let Some(id) = k
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
            else {
                continue;
            };
            let s: super::Stored = decode_json("grade", &v)?;
            let e = self.deps.master.enterprise(id)?;
            let standing = Standing {
                grade: Some(s.grade),
                warnings: super::rules_of(&s.warnings),
                dishonest: self.deps.consumer.is_dishonest(id)?,
            };
            out.push(GradedEnterprise {
                enterprise_id: id,
                enterprise_name: e.name,
                uscc: e.uscc,
                grade: s.grade,
                score: s.assessment.score,
                computed: s.assessment.grade,
                overridden: s.r#override.is_some(),
                model: s.assessment.model,
                assessed_at: rfc3339(s.assessed_at),
                warnings: standing.warnings.clone(),
                dishonest: standing.dishonest,
                supervision: supervision_of(&self.model.supervision, &standing),
            });
        }
        Ok(out)
    }

    /// The newest [`MAX_HISTORY`] listing changes of enterprise `id` up to `seq`, oldest
    /// first (one bounded range).
    pub(super) fn warning_history(&self, id: u64, seq: u64) -> Result<Vec<WarningChange>> {
        if seq == 0 {
            return Ok(Vec::new());
        }
        let from = (seq + 1).saturating_sub(MAX_HISTORY as u64).max(1);
        let rows = self.store.range(
            Cf::Grades,
            &warning_change_key(id, from),
            Some(&warning_change_key(id, seq + 1)),
            MAX_HISTORY,
        )?;
        rows.iter()
            .map(|(_, v)| {
                let (i, r): (u64, WarningRecord) = decode_json("warning change", v)?;
                Ok(change_of(i, &r))
            })
            .collect()
    }

    /// Whether a lot of enterprise `id`'s product of `category` needs a sampling inspection
    /// before release, by the model's supervision rules: its grade in force, its warning
    /// listings and an authority's dishonesty listing (two reads).
    pub fn sampling(&self, id: u64, category: Option<ProductCategory>) -> Result<SamplingDecision> {
        let s = self.stored(id)?;
        let standing = Standing {
            grade: s.as_ref().map(|s| s.grade),
            warnings: s.map(|s| super::rules_of(&s.warnings)).unwrap_or_default(),
            dishonest: self.deps.consumer.is_dishonest(id)?,
        };
        Ok(sampling(&self.model.supervision, &standing, category))
    }
}

/// What an enterprise's standing means for its lots, whatever their product.
fn supervision_of(s: &Supervision, standing: &Standing) -> SupervisionLevel {
    match sampling(s, standing, None) {
        SamplingDecision::Required(_) => SupervisionLevel::Sampling,
        SamplingDecision::GreenChannel => SupervisionLevel::GreenChannel,
        SamplingDecision::NotRequired => SupervisionLevel::Standard,
    }
}

fn change_of(leaf_index: u64, r: &WarningRecord) -> WarningChange {
    let day = |d: i64| super::day_date(d);
    WarningChange {
        seq: r.seq,
        at: rfc3339(r.at),
        listed: r.listed,
        added: r.added.clone(),
        ended: r.ended.clone(),
        listings: r
            .listings
            .iter()
            .map(|l| ListingView {
                rule: l.rule,
                since: day(l.since_day),
                until: day(l.until_day),
            })
            .collect(),
        leaf_index,
    }
}

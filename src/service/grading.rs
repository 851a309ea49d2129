//! Credit-risk grades: each enterprise graded A–D by the model (`crate::grading`) from what
//! the other units record, graded again within one checkpoint interval of anything that
//! moves it, every change a `traceseal/grade/v1` log leaf with its factors (so the history
//! is public, checkpointed, anchored and cannot be rewritten); the operator may override a
//! grade with a reason, also logged. See `docs/credit-model.md`.
//!
//! [`Grading::refresh`] runs on the checkpointer's tick. It reads a cheap signature of each
//! enterprise (its credit profile's version, its complaint counts, its custody and scan
//! counters of today and yesterday) and grades again only the enterprises whose signature
//! moved, plus every enterprise once an hour and at the turn of the day (time decay).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::base::{lock, rfc3339, Result};
use super::complaints::credit::{DisclosureCategory, Rating};
use super::complaints::{ComplaintCategory, ConsumerServices};
use super::custody::{Custody, CustodyKind};
use super::errors::GradeError;
use super::log::{LogBook, PendingLeaf};
use super::master::{check_text, Enterprise, MasterData};
use super::telemetry::{TallyKind, Telemetry};
use crate::authz::Principal;
use crate::grading::{
    assess, factor_name, Assessment, Contribution, Dated, Factor, Facts, Grade, Model,
};
use crate::records::{GradeCause, GradeRecord, LoggedContribution};
use crate::store::schema::{decode_json, encode_json, grade_change_key, grade_key};
use crate::store::{Cf, Durability, Store, WriteBatch};

const DAY: i64 = 86_400;
/// Every enterprise is graded again at least this often (seconds), for the time decay.
pub const FULL_EVERY_SECS: i64 = 3_600;
/// Longest override reason, in characters.
pub const MAX_REASON: usize = 2_000;
/// Most changes `GET …/grade` lists (the newest).
pub const MAX_HISTORY: usize = 1_000;

/// The units grades are read from.
#[derive(Clone)]
pub struct GradingDeps {
    /// The log the changes go to.
    pub log: Arc<LogBook>,
    /// Enterprises.
    pub master: Arc<MasterData>,
    /// Holds, non-conformant attestations and recalls.
    pub custody: Arc<Custody>,
    /// Clone warnings and forged-code scans.
    pub telemetry: Arc<Telemetry>,
    /// Credit profiles and upheld complaints.
    pub consumer: Arc<ConsumerServices>,
}

/// Credit-risk grades.
pub struct Grading {
    store: Arc<dyn Store>,
    deps: GradingDeps,
    model: Model,
    watch: Mutex<Watch>,
    write: Mutex<()>,
}

/// What the last refresh saw.
#[derive(Default)]
struct Watch {
    seen: HashMap<u64, u64>,
    full_at: Option<i64>,
}

/// An operator's override in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Override {
    /// The grade set.
    pub grade: Grade,
    /// Why.
    pub reason: String,
    /// When (RFC 3339).
    pub at: String,
    /// The role of who set it.
    pub by_role: String,
}

/// Body of `PUT /api/v1/enterprises/{id}/grade/override`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideInput {
    /// The grade to set.
    pub grade: Grade,
    /// Why, 1–2,000 characters (public, in the log).
    pub reason: String,
}

/// Body of `DELETE /api/v1/enterprises/{id}/grade/override`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftInput {
    /// Why, 1–2,000 characters (public, in the log).
    pub reason: String,
}

/// What the store keeps of an enterprise's grade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Stored {
    assessment: Assessment,
    computed_at: i64,
    grade: Grade,
    #[serde(default)]
    r#override: Option<Override>,
    seq: u64,
}

/// One change of a grade, as `GET …/grade` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GradeChange {
    /// 1 for the first grade, +1 per change.
    pub seq: u64,
    /// When (RFC 3339).
    pub at: String,
    /// The grade in force after it.
    pub grade: Grade,
    /// The grade before.
    pub previous: Option<Grade>,
    /// Why it changed.
    pub cause: GradeCause,
    /// The model's score then.
    pub score: f64,
    /// The model's grade then.
    pub computed: Grade,
    /// The operator's reason (overrides).
    pub reason: Option<String>,
    /// `model`, or the role of the operator.
    pub by_role: String,
    /// Its log leaf (`GET /api/v1/log/leaves/{index}`), checkpointed and anchored.
    pub leaf_index: u64,
}

/// `GET /api/v1/enterprises/{id}/grade`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GradeView {
    /// The enterprise.
    pub enterprise_id: u64,
    /// Its legal name.
    pub enterprise_name: String,
    /// The grade in force (the override's, if any, else the model's).
    pub grade: Grade,
    /// The model's score, 0–100.
    pub score: f64,
    /// The model's grade.
    pub computed: Grade,
    /// The model version.
    pub model: String,
    /// When the model last graded it (RFC 3339).
    pub computed_at: String,
    /// Each factor's part of the score.
    pub contributions: Vec<Contribution>,
    /// The operator's override, while in force.
    pub r#override: Option<Override>,
    /// Changes, oldest first (the newest [`MAX_HISTORY`]).
    pub history: Vec<GradeChange>,
}

/// What one refresh did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refresh {
    /// Enterprises graded.
    pub graded: usize,
    /// Of those, whose grade changed (a leaf each).
    pub changed: usize,
}

impl Grading {
    /// Grades over `store`, reading `deps`, with `model`.
    pub fn new(store: Arc<dyn Store>, deps: GradingDeps, model: Model) -> Grading {
        Grading {
            store,
            deps,
            model,
            watch: Mutex::new(Watch::default()),
            write: Mutex::new(()),
        }
    }

    /// The model in use.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Grades again the enterprises whose records moved since the last call (all of them
    /// on the first call, hourly and at the turn of the day), at Unix time `now`.
    pub fn refresh(&self, now: i64) -> Result<Refresh> {
        let today = now.div_euclid(DAY);
        let ents = self.enterprises()?;
        let seen = self.signatures(&ents, today)?;
        let mut watch = lock(&self.watch)?;
        let full = watch
            .full_at
            .is_none_or(|t| now - t >= FULL_EVERY_SECS || t.div_euclid(DAY) != today);
        let dirty: Vec<&Enterprise> = ents
            .iter()
            .filter(|e| full || watch.seen.get(&e.id) != seen.get(&e.id))
            .collect();
        let changed = if dirty.is_empty() {
            0
        } else {
            self.regrade(&dirty, now)?
        };
        watch.seen = seen;
        if full {
            watch.full_at = Some(now);
        }
        Ok(Refresh {
            graded: dirty.len(),
            changed,
        })
    }

    fn enterprises(&self) -> Result<Vec<Enterprise>> {
        let mut out = Vec::new();
        loop {
            let after = out.last().map_or(0, |e: &Enterprise| e.id);
            let page = self
                .deps
                .master
                .list_enterprises(after, super::master::MAX_LIST)?;
            let done = page.len() < super::master::MAX_LIST;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// A hash per enterprise of what can move its grade today: cheap reads only.
    fn signatures(&self, ents: &[Enterprise], today: i64) -> Result<HashMap<u64, u64>> {
        let ids: Vec<u64> = ents.iter().map(|e| e.id).collect();
        let counts = self.deps.consumer.complaint_counts_of(&ids)?;
        let mut hashers: HashMap<u64, DefaultHasher> = HashMap::new();
        for (e, c) in ents.iter().zip(counts) {
            let h = hashers.entry(e.id).or_default();
            c.resolved.hash(h);
            let profile = self.deps.consumer.find_credit(e.id, &e.name)?;
            profile.map(|p| p.version).hash(h);
        }
        for (day, e, kind, n) in self.recent_rows(today)? {
            if let Some(h) = hashers.get_mut(&e) {
                (day, kind, n).hash(h);
            }
        }
        Ok(hashers.into_iter().map(|(k, h)| (k, h.finish())).collect())
    }

    /// Today's and yesterday's counters, as (day, enterprise, factor, count).
    fn recent_rows(&self, today: i64) -> Result<Vec<(i64, u64, Factor, u64)>> {
        let mut out = Vec::new();
        self.dated(today, 2, |day, e, f, n| out.push((day, e, f, n)))?;
        Ok(out)
    }

    /// Every dated counter of the `days` days ending `today`, by enterprise and factor.
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
        Ok(cut)
    }

    /// The model's facts about each of `ents`, on day `today`.
    fn facts(&self, ents: &[&Enterprise], today: i64) -> Result<HashMap<u64, Facts>> {
        let wanted: HashSet<u64> = ents.iter().map(|e| e.id).collect();
        let mut events: HashMap<u64, Vec<Dated>> = HashMap::new();
        let mut push = |day, e, factor, count| {
            if wanted.contains(&e) {
                events
                    .entry(e)
                    .or_default()
                    .push(Dated { factor, day, count });
            }
        };
        let window = self.model.decay.window_days;
        if self.dated(today, window, &mut push)? {
            tracing::warn!("credit grades: a counter range was cut; its newest days are left out");
        }
        for (e, u) in self.deps.consumer.upheld_complaints()? {
            push(u.at.div_euclid(DAY), e, complaint_factor(u.category), 1);
        }
        ents.iter()
            .map(|e| {
                let mut f = self.static_facts(e, today)?;
                f.events = events.remove(&e.id).unwrap_or_default();
                Ok((e.id, f))
            })
            .collect()
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
            authority_rating: profile.as_ref().map(|p| rating_grade(p.rating)),
            listed: profile.as_ref().is_some_and(|p| p.dishonest.is_some()),
            events: Vec::new(),
            previous: self.stored(e.id)?.map(|s| s.assessment.grade),
        })
    }

    /// Grades `ents` at `now`; returns how many grades changed.
    fn regrade(&self, ents: &[&Enterprise], now: i64) -> Result<usize> {
        let today = now.div_euclid(DAY);
        let mut facts = self.facts(ents, today)?;
        let _w = lock(&self.write)?;
        let mut next = Vec::with_capacity(ents.len());
        for e in ents {
            let f = facts.remove(&e.id).unwrap_or_default();
            let a = assess(&self.model, &f, today);
            next.push(self.step(e.id, self.stored(e.id)?, a, now));
        }
        let changed = next.iter().filter(|(_, _, r)| r.is_some()).count();
        self.write_states(next)?;
        Ok(changed)
    }

    /// The state after a new assessment, and the change to log if the grade moved.
    fn step(
        &self,
        id: u64,
        old: Option<Stored>,
        a: Assessment,
        now: i64,
    ) -> (u64, Stored, Option<GradeRecord>) {
        let over = old.as_ref().and_then(|s| s.r#override.clone());
        let grade = over.as_ref().map_or(a.grade, |o| o.grade);
        let moved = old
            .as_ref()
            .is_none_or(|s| s.grade != grade || s.assessment.grade != a.grade);
        let seq = old.as_ref().map_or(0, |s| s.seq) + u64::from(moved);
        let state = Stored {
            assessment: a,
            computed_at: now,
            grade,
            r#override: over,
            seq,
        };
        let record = moved.then(|| {
            let previous = old.as_ref().map(|s| s.grade);
            record(id, &state, previous, GradeCause::Computed, None, None)
        });
        (id, state, record)
    }

    /// Writes the states; the changes go to the log in the same write.
    fn write_states(&self, next: Vec<(u64, Stored, Option<GradeRecord>)>) -> Result<()> {
        let leaves: Vec<PendingLeaf> = next
            .iter()
            .filter_map(|(_, _, r)| r.as_ref())
            .map(|r| PendingLeaf::new(r.leaf()))
            .collect();
        let stage = |first: Option<u64>, wb: &mut WriteBatch| {
            let mut index = first;
            for (id, state, r) in &next {
                wb.put(Cf::Grades, grade_key(*id), encode_json(state));
                if let (Some(r), Some(i)) = (r, index) {
                    wb.put(
                        Cf::Grades,
                        grade_change_key(*id, r.seq),
                        encode_json(&(i, r)),
                    );
                    index = Some(i + 1);
                }
            }
        };
        if leaves.is_empty() {
            let mut wb = WriteBatch::new();
            stage(None, &mut wb);
            return Ok(self.store.write(wb, Durability::Synced)?);
        }
        self.deps.log.append_leaves(leaves, |first, wb| {
            stage(Some(first), wb);
            Ok(())
        })?;
        Ok(())
    }

    fn stored(&self, id: u64) -> Result<Option<Stored>> {
        match self.store.get(Cf::Grades, &grade_key(id))? {
            Some(b) => Ok(Some(decode_json("grade", &b)?)),
            None => Ok(None),
        }
    }

    fn graded(&self, id: u64) -> Result<Stored> {
        self.stored(id)?
            .ok_or_else(|| GradeError::NotGradedYet { enterprise_id: id }.into())
    }

    /// Enterprise `id`'s grade, score, factors and history (public).
    pub fn grade(&self, id: u64) -> Result<GradeView> {
        let ent = self.deps.master.enterprise(id)?;
        let s = self.graded(id)?;
        Ok(GradeView {
            enterprise_id: id,
            enterprise_name: ent.name,
            grade: s.grade,
            score: s.assessment.score,
            computed: s.assessment.grade,
            model: s.assessment.model,
            computed_at: rfc3339(s.computed_at),
            contributions: s.assessment.contributions,
            r#override: s.r#override,
            history: self.history(id)?,
        })
    }

    fn history(&self, id: u64) -> Result<Vec<GradeChange>> {
        let rows = self.store.range(
            Cf::Grades,
            &grade_change_key(id, 0),
            Some(&grade_change_key(id + 1, 0)),
            usize::MAX,
        )?;
        let skip = rows.len().saturating_sub(MAX_HISTORY);
        rows.iter()
            .skip(skip)
            .map(|(_, v)| {
                let (i, r): (u64, GradeRecord) = decode_json("grade change", v)?;
                Ok(change_of(i, &r))
            })
            .collect()
    }

    /// Sets enterprise `id`'s grade to `input.grade` until lifted, logged with the reason.
    pub fn set_override(
        &self,
        id: u64,
        input: &OverrideInput,
        by: &Principal,
    ) -> Result<GradeView> {
        let reason = check_text("reason", &input.reason, MAX_REASON, true)?;
        let o = Override {
            grade: input.grade,
            reason: reason.clone(),
            at: rfc3339(super::now_unix()),
            by_role: by.role.as_str().to_string(),
        };
        self.operator_change(id, Some(o), GradeCause::Override, reason, by)
    }

    /// Lifts the override of enterprise `id`: the model's grade applies again.
    pub fn lift_override(&self, id: u64, input: &LiftInput, by: &Principal) -> Result<GradeView> {
        let reason = check_text("reason", &input.reason, MAX_REASON, true)?;
        self.operator_change(id, None, GradeCause::OverrideLifted, reason, by)
    }

    fn operator_change(
        &self,
        id: u64,
        over: Option<Override>,
        cause: GradeCause,
        reason: String,
        by: &Principal,
    ) -> Result<GradeView> {
        self.deps.master.enterprise(id)?;
        {
            let _w = lock(&self.write)?;
            let old = self.graded(id)?;
            if over.is_none() && old.r#override.is_none() {
                return Err(GradeError::NoOverride { enterprise_id: id }.into());
            }
            let state = Stored {
                grade: over.as_ref().map_or(old.assessment.grade, |o| o.grade),
                r#override: over,
                seq: old.seq + 1,
                ..old.clone()
            };
            let mut r = record(id, &state, Some(old.grade), cause, Some(reason), Some(by));
            r.at = super::now_unix();
            self.write_states(vec![(id, state, Some(r))])?;
        }
        self.grade(id)
    }
}

/// The log record of a grade change.
fn record(
    id: u64,
    s: &Stored,
    previous: Option<Grade>,
    cause: GradeCause,
    reason: Option<String>,
    by: Option<&Principal>,
) -> GradeRecord {
    GradeRecord {
        enterprise: id,
        seq: s.seq,
        at: s.computed_at,
        grade: s.grade.as_str().to_string(),
        previous: previous.map(|g| g.as_str().to_string()),
        cause,
        score_tenths: (s.assessment.score * 10.0).round() as i64,
        computed: s.assessment.grade.as_str().to_string(),
        model: s.assessment.model.clone(),
        factors: s.assessment.contributions.iter().map(logged).collect(),
        reason,
        by_role: by.map_or("model".to_string(), |p| p.role.as_str().to_string()),
        request: by.map(|p| p.request.clone()).unwrap_or_default(),
    }
}

fn logged(c: &Contribution) -> LoggedContribution {
    LoggedContribution {
        factor: factor_name(c.factor),
        amount_hundredths: (c.amount * 100.0).round() as i64,
        points_tenths: (c.points * 10.0).round() as i64,
    }
}

fn change_of(leaf_index: u64, r: &GradeRecord) -> GradeChange {
    GradeChange {
        seq: r.seq,
        at: rfc3339(r.at),
        grade: grade_of(&r.grade),
        previous: r.previous.as_deref().map(grade_of),
        cause: r.cause,
        score: r.score_tenths as f64 / 10.0,
        computed: grade_of(&r.computed),
        reason: r.reason.clone(),
        by_role: r.by_role.clone(),
        leaf_index,
    }
}

fn grade_of(s: &str) -> Grade {
    Grade::ALL
        .into_iter()
        .find(|g| g.as_str() == s)
        .unwrap_or(Grade::D)
}

fn custody_factor(k: CustodyKind) -> Factor {
    match k {
        CustodyKind::Hold => Factor::Hold,
        CustodyKind::NonConformant => Factor::NonConformant,
        CustodyKind::Recall => Factor::Recall,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Role;
    use crate::leaf::LeafRecord;
    use crate::service::custody::{LotInput, RecallInput};
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::{now_unix, ErrorKind, Service};

    fn operator() -> Principal {
        Principal {
            id: "op".into(),
            role: Role::Operator,
            enterprise: None,
            request: "req-1".into(),
        }
    }

    fn graded_lot(svc: &Service) -> (u64, String) {
        let p = seed(svc);
        let input = LotInput {
            gtin: p.gtin.clone(),
            lot: "G1".into(),
        };
        svc.custody().declare_lot(&input).unwrap();
        (p.enterprise_id, format!("{}.G1", p.gtin))
    }

    fn last_leaf(svc: &Service) -> GradeRecord {
        let n = svc.log().log_size().unwrap();
        let data = svc.log().leaves_data(&[n - 1]).unwrap().remove(0);
        match LeafRecord::parse(&data).unwrap() {
            LeafRecord::Grade(g) => g,
            other => panic!("expected a grade leaf, got {}", other.kind()),
        }
    }

    /// The first refresh grades every enterprise (one leaf each); the next grades none until
    /// something moves; a recall moves the importer from B to C with a leaf naming it.
    #[test]
    fn a_recall_regrades_its_importer_and_logs_the_change() {
        let (svc, _) = test_service();
        let (id, lot) = graded_lot(&svc);
        let g = svc.grading();
        let now = now_unix();
        assert_eq!(
            g.refresh(now).unwrap(),
            Refresh {
                graded: 1,
                changed: 1
            }
        );
        let first = g.grade(id).unwrap();
        assert_eq!((first.grade, first.score), (Grade::B, 70.0));
        assert_eq!(last_leaf(&svc).cause, GradeCause::Computed);
        assert_eq!(
            g.refresh(now + 1).unwrap(),
            Refresh::default(),
            "nothing moved"
        );

        let reason = RecallInput {
            reason: "contamination".into(),
        };
        svc.custody().recall(&lot, &reason).unwrap();
        let size = svc.log().log_size().unwrap();
        assert_eq!(
            g.refresh(now + 2).unwrap(),
            Refresh {
                graded: 1,
                changed: 1
            }
        );
        assert_eq!(svc.log().log_size().unwrap(), size + 1, "one grade leaf");
        let after = g.grade(id).unwrap();
        assert_eq!((after.grade, after.score), (Grade::C, 55.0));
        let recall = after
            .contributions
            .iter()
            .find(|c| c.factor == Factor::Recall)
            .unwrap();
        assert_eq!((recall.amount, recall.points), (1.0, -15.0));
        let leaf = last_leaf(&svc);
        assert_eq!(
            (leaf.grade.as_str(), leaf.previous.as_deref()),
            ("C", Some("B"))
        );
        assert!(leaf
            .factors
            .iter()
            .any(|f| f.factor == "recall" && f.points_tenths == -150));
        assert_eq!(after.history.len(), 2);
        assert_eq!(after.history[1].leaf_index, size);
    }

    #[test]
    fn an_override_holds_until_lifted_and_both_are_logged() {
        let (svc, _) = test_service();
        let (id, _) = graded_lot(&svc);
        let g = svc.grading();
        g.refresh(now_unix()).unwrap();
        let lift = LiftInput {
            reason: "none to lift".into(),
        };
        let err = g.lift_override(id, &lift, &operator()).unwrap_err();
        assert_eq!(
            (err.kind(), err.code()),
            (ErrorKind::Conflict, "grade.no_override".into())
        );
        let set = OverrideInput {
            grade: Grade::D,
            reason: "Customs suspended its filing, notice 2026-118".into(),
        };
        let v = g.set_override(id, &set, &operator()).unwrap();
        assert_eq!((v.grade, v.computed), (Grade::D, Grade::B));
        let leaf = last_leaf(&svc);
        assert_eq!(leaf.cause, GradeCause::Override);
        assert_eq!(
            (leaf.by_role.as_str(), leaf.request.as_str()),
            ("operator", "req-1")
        );
        // The model grading again does not undo it.
        g.refresh(now_unix() + FULL_EVERY_SECS).unwrap();
        assert_eq!(g.grade(id).unwrap().grade, Grade::D);
        let v = g.lift_override(id, &lift, &operator()).unwrap();
        assert_eq!((v.grade, v.r#override.is_none()), (Grade::B, true));
        assert_eq!(last_leaf(&svc).cause, GradeCause::OverrideLifted);
        let causes: Vec<GradeCause> = v.history.iter().map(|c| c.cause).collect();
        assert_eq!(
            causes,
            [
                GradeCause::Computed,
                GradeCause::Override,
                GradeCause::OverrideLifted
            ]
        );
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let (svc, _) = test_service();
        let (id, _) = graded_lot(&svc);
        let g = svc.grading();
        let err = g.grade(id).unwrap_err();
        assert_eq!(err.code(), "grade.not_graded_yet");
        g.refresh(now_unix()).unwrap();
        let empty = OverrideInput {
            grade: Grade::A,
            reason: " ".into(),
        };
        let err = g.set_override(id, &empty, &operator()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert_eq!(g.grade(id + 1).unwrap_err().kind(), ErrorKind::NotFound);
    }
}

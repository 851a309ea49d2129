//! Credit-risk grades: each enterprise graded A–D by the model (`crate::grading`) from what
//! the other units record, graded again within one checkpoint interval of anything that
//! moves it, every change a `traceseal/grade/v1` log leaf with its factors (so the history
//! is public, checkpointed, anchored and cannot be rewritten); the operator may override a
//! grade with a reason, also logged. See `docs/credit-model.md`.
//!
//! [`Grading::refresh`] runs on the checkpointer's tick. It reads a cheap signature of each
//! enterprise (its credit profile's version, its complaint counts, its custody and scan
//! counters of today and yesterday) and grades again only the enterprises whose signature
//! moved, plus every enterprise once an hour and at the turn of the day (time decay). The
//! gathering of facts is in `grading/facts.rs`.

mod facts;
mod warnings;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::base::{lock, rfc3339, Result, ServiceError};
use super::complaints::ConsumerServices;
use super::custody::Custody;
use super::errors::GradeError;
use super::log::{LogBook, PendingLeaf};
use super::master::{check_text, Enterprise, MasterData};
use super::printing::Printing;
use super::telemetry::Telemetry;
use crate::authz::Principal;
use crate::grading::{
    assess, factor_name, listings, Assessment, Contribution, Dated, Grade, Listing, Model,
    ProductCategory, WarningRule,
};
use crate::records::{GradeCause, GradeRecord, LoggedContribution, LoggedListing, WarningRecord};
use crate::store::schema::{
    decode_json, encode_json, grade_change_key, grade_key, warned_key, warning_change_key,
};
use crate::store::{Cf, Durability, Store, WriteBatch};

const DAY: i64 = 86_400;
/// Every enterprise is graded again at least this often (seconds), for the time decay.
pub const FULL_EVERY_SECS: i64 = 3_600;
/// Longest override reason, in characters.
pub const MAX_REASON: usize = 2_000;
/// Most changes `GET …/grade` lists (the newest).
pub const MAX_HISTORY: usize = 1_000;
/// Most enterprises one page of the warning list holds.
pub const MAX_WARNED: usize = 500;
/// Most enterprises one page of the graded list holds.
pub const MAX_GRADED: usize = 5_000;

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
    /// Labels printed again.
    pub printing: Arc<Printing>,
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
    /// Each enterprise's signature.
    seen: HashMap<u64, u64>,
    /// When every enterprise was last graded.
    full_at: Option<i64>,
    /// The window's events older than yesterday, as of the last full pass.
    past: HashMap<u64, Vec<Dated>>,
    /// Each enterprise's product categories, and the products generation they are of.
    categories: HashMap<u64, BTreeSet<ProductCategory>>,
    products_seen: Option<u64>,
    /// The countries each enterprise's lots were attested from, and the custody origins
    /// generation they are of.
    origins: HashMap<u64, BTreeSet<String>>,
    origins_seen: Option<u64>,
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

/// Body of `POST /api/v1/enterprises/{id}/grade/override/lift`.
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
    /// When the assessment (score, grade or factors) last changed.
    assessed_at: i64,
    grade: Grade,
    #[serde(default)]
    r#override: Option<Override>,
    seq: u64,
    /// The warning-list rules holding the enterprise on the list now.
    #[serde(default)]
    warnings: Vec<Listing>,
    /// Changes of its listing so far.
    #[serde(default)]
    warning_seq: u64,
}

/// What one enterprise's grading writes: its new state, and the leaves of what changed.
struct Next {
    id: u64,
    state: Stored,
    grade: Option<GradeRecord>,
    warning: Option<WarningRecord>,
}

impl Next {
    fn leaves(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        let g = self.grade.as_ref().map(GradeRecord::leaf);
        g.into_iter()
            .chain(self.warning.as_ref().map(WarningRecord::leaf))
    }
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
    /// When the model's score, grade or factors last changed (RFC 3339).
    pub assessed_at: String,
    /// Each factor's part of the score.
    pub contributions: Vec<Contribution>,
    /// The operator's override, while in force.
    pub r#override: Option<Override>,
    /// Changes, oldest first (the newest [`MAX_HISTORY`] of them).
    pub history: Vec<GradeChange>,
    /// The warning-list rules holding the enterprise on the list now (empty: not listed).
    pub warnings: Vec<ListingView>,
    /// Changes of its listing, oldest first (the newest [`MAX_HISTORY`] of them).
    pub warning_history: Vec<WarningChange>,
}

/// One rule holding an enterprise on the warning list (失信预警名单).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListingView {
    /// The rule.
    pub rule: WarningRule,
    /// The day the listing began (YYYY-MM-DD, UTC).
    pub since: String,
    /// The first day off the list, unless the rule fires again (YYYY-MM-DD, UTC).
    pub until: String,
}

/// One change of an enterprise's warning listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WarningChange {
    /// 1 for the first change, +1 per change.
    pub seq: u64,
    /// When (RFC 3339).
    pub at: String,
    /// On the list after it.
    pub listed: bool,
    /// Rules that began holding the enterprise.
    pub added: Vec<WarningRule>,
    /// Rules whose remediation period passed.
    pub ended: Vec<WarningRule>,
    /// The listings in force after it.
    pub listings: Vec<ListingView>,
    /// Its log leaf (`GET /api/v1/log/leaves/{index}`), checkpointed and anchored.
    pub leaf_index: u64,
}

/// An enterprise on the warning list, as `GET /api/v1/credit/warnings` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WarnedEnterprise {
    /// The enterprise.
    pub enterprise_id: u64,
    /// Its legal name.
    pub enterprise_name: String,
    /// The rules holding it on the list.
    pub listings: Vec<ListingView>,
}

/// What an enterprise's standing means for its lots, whatever their product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupervisionLevel {
    /// Every lot needs a sampling inspection before release (listed, or graded for it).
    Sampling,
    /// No sampling inspection is required (grade A, not listed).
    GreenChannel,
    /// Lots of high-risk product categories need one; others do not.
    Standard,
}

/// A graded enterprise, as the regulator's export lists it (`GET /api/v1/grades`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GradedEnterprise {
    /// The enterprise.
    pub enterprise_id: u64,
    /// Its legal name.
    pub enterprise_name: String,
    /// Its unified social credit code.
    pub uscc: String,
    /// The grade in force.
    pub grade: Grade,
    /// The model's score, 0–100.
    pub score: f64,
    /// The model's grade.
    pub computed: Grade,
    /// The operator has set the grade in force.
    pub overridden: bool,
    /// The model version.
    pub model: String,
    /// When the model's assessment last changed (RFC 3339).
    pub assessed_at: String,
    /// The warning-list rules holding it on the list (empty: not listed).
    pub warnings: Vec<WarningRule>,
    /// On an authority's dishonesty list.
    pub dishonest: bool,
    /// What its standing means for its lots.
    pub supervision: SupervisionLevel,
}

/// What a scan shows of an enterprise's grade (the whole of it is
/// `GET /api/v1/enterprises/{id}/grade`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GradeSummary {
    /// The grade in force.
    pub grade: Grade,
    /// The model's score, 0–100.
    pub score: f64,
    /// The model's grade.
    pub computed: Grade,
    /// The operator has set the grade in force.
    pub overridden: bool,
    /// The model version.
    pub model: String,
    /// The warning-list rules holding the enterprise on the list (empty: not listed).
    pub warnings: Vec<WarningRule>,
}

// Scores are finite (the model file is checked and the score clamped), so `==` is total.
impl Eq for GradeSummary {}

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

    /// The custody unit graded from (and supervised by these grades).
    pub fn custody(&self) -> &Arc<Custody> {
        &self.deps.custody
    }

    /// Grades again the enterprises whose records moved since the last call (all of them
    /// on the first call, hourly and at the turn of the day), at Unix time `now`.
    pub fn refresh(&self, now: i64) -> Result<Refresh> {
        let today = now.div_euclid(DAY);
        let mut watch = lock(&self.watch)?;
        let ents = self.enterprises()?;
        let recent = self.recent_events(today)?;
        let seen = self.signatures(&ents, &recent)?;
        let full = watch.full_due(now);
        if full {
            watch.past = self.past_events(today)?;
        }
        let mut moved = self.recategorise(&mut watch, full)?;
        moved.extend(self.reorigin(&mut watch, full)?);
        let dirty: Vec<&Enterprise> = ents
            .iter()
            .filter(|e| full || moved.contains(&e.id) || watch.seen.get(&e.id) != seen.get(&e.id))
            .collect();
        let changed = if dirty.is_empty() {
            0
        } else {
            self.regrade(&dirty, now, &watch, &recent)?
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

    /// Grades `ents` at `now`; returns how many grades changed (a leaf each).
    fn regrade(
        &self,
        ents: &[&Enterprise],
        now: i64,
        watch: &Watch,
        recent: &HashMap<u64, Vec<Dated>>,
    ) -> Result<usize> {
        let today = now.div_euclid(DAY);
        let mut facts = self.facts(ents, today, watch, recent)?;
        let _w = lock(&self.write)?;
        let mut next = Vec::new();
        for e in ents {
            let mut f = facts.remove(&e.id).ok_or_else(|| {
                ServiceError::internal(format!("no facts of enterprise {}", e.id))
            })?;
            let old = self.stored(e.id)?;
            f.previous = old.as_ref().map(|s| s.assessment.grade);
            let a = assess(&self.model, &f, today);
            let in_force = old
                .as_ref()
                .and_then(|s| s.r#override.as_ref())
                .map_or(a.grade, |o| o.grade);
            let before = old.as_ref().map_or(&[][..], |s| &s.warnings[..]);
            let list = listings(&self.model, in_force, &f, before, today);
            next.extend(step(e.id, old, a, list, now));
        }
        let changed = next.iter().filter(|n| n.grade.is_some()).count();
        if !next.is_empty() {
            self.write_states(next)?;
        }
        Ok(changed)
    }

    /// Writes the states, synced; the changes go to the log in the same write, each with
    /// its leaf index.
    fn write_states(&self, next: Vec<Next>) -> Result<()> {
        let leaves: Vec<PendingLeaf> = next
            .iter()
            .flat_map(Next::leaves)
            .map(PendingLeaf::new)
            .collect();
        let stage = |first: u64, wb: &mut WriteBatch| {
            let mut index = first;
            for n in &next {
                wb.put(Cf::Grades, grade_key(n.id), encode_json(&n.state));
                if n.state.warnings.is_empty() {
                    wb.delete(Cf::Grades, warned_key(n.id));
                } else {
                    wb.put(Cf::Grades, warned_key(n.id), Vec::new());
                }
                if let Some(r) = &n.grade {
                    let key = grade_change_key(r.enterprise, r.seq);
                    wb.put(Cf::Grades, key, encode_json(&(index, r)));
                    index += 1;
                }
                if let Some(r) = &n.warning {
                    let key = warning_change_key(r.enterprise, r.seq);
                    wb.put(Cf::Grades, key, encode_json(&(index, r)));
                    index += 1;
                }
            }
        };
        if leaves.is_empty() {
            let mut wb = WriteBatch::new();
            stage(0, &mut wb);
            return Ok(self.store.write(wb, Durability::Synced)?);
        }
        self.deps.log.append_leaves(leaves, |first, wb| {
            stage(first, wb);
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

    /// Enterprise `id`'s grade in short, if it has one (one read).
    pub fn summary(&self, id: u64) -> Result<Option<GradeSummary>> {
        Ok(self.stored(id)?.map(|s| GradeSummary {
            grade: s.grade,
            score: s.assessment.score,
            computed: s.assessment.grade,
            overridden: s.r#override.is_some(),
            model: s.assessment.model,
            warnings: rules_of(&s.warnings),
        }))
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
            assessed_at: rfc3339(s.assessed_at),
            contributions: s.assessment.contributions,
            r#override: s.r#override,
            history: self.history(id, s.seq)?,
            warnings: s.warnings.iter().map(listing_view).collect(),
            warning_history: self.warning_history(id, s.warning_seq)?,
        })
    }

    /// The newest [`MAX_HISTORY`] changes up to `seq`, oldest first (one bounded range).
    fn history(&self, id: u64, seq: u64) -> Result<Vec<GradeChange>> {
        let from = (seq + 1).saturating_sub(MAX_HISTORY as u64).max(1);
        let rows = self.store.range(
            Cf::Grades,
            &grade_change_key(id, from),
            Some(&grade_change_key(id, seq + 1)),
            MAX_HISTORY,
        )?;
        rows.iter()
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
            let now = super::now_unix();
            let grade = over.as_ref().map_or(old.assessment.grade, |o| o.grade);
            // The grade in force moves the warning list at once (grade D lists); the other
            // rules' listings go on from the dates they hold.
            let list = listings(
                &self.model,
                grade,
                &crate::grading::Facts::default(),
                &old.warnings,
                now.div_euclid(DAY),
            );
            let warning = (rules_of(&old.warnings) != rules_of(&list)).then(|| {
                let m = &old.assessment.model;
                warning_record(id, old.warning_seq + 1, &old.warnings, &list, m, now)
            });
            let state = Stored {
                grade,
                r#override: over,
                seq: old.seq + 1,
                warning_seq: warning.as_ref().map_or(old.warning_seq, |w| w.seq),
                warnings: list,
                ..old.clone()
            };
            let mut r = record(id, &state, Some(old.grade), cause, Some(reason), Some(by));
            r.at = now;
            self.write_states(vec![Next {
                id,
                state,
                grade: Some(r),
                warning,
            }])?;
        }
        self.grade(id)
    }
}

impl super::custody::Supervisor for Grading {
    fn sampling(
        &self,
        owner: u64,
        category: Option<ProductCategory>,
    ) -> Result<crate::grading::SamplingDecision> {
        Grading::sampling(self, owner, category)
    }
}

/// The state after a new assessment `a` and warning listings `list`, with the changes to
/// log: the grade's if it moved (or the model changed), the listing's if its rules changed;
/// `None` if nothing changed at all.
fn step(id: u64, old: Option<Stored>, a: Assessment, list: Vec<Listing>, now: i64) -> Option<Next> {
    let over = old.as_ref().and_then(|s| s.r#override.clone());
    let grade = over.as_ref().map_or(a.grade, |o| o.grade);
    let moved = old.as_ref().is_none_or(|s| {
        s.grade != grade || s.assessment.grade != a.grade || s.assessment.model != a.model
    });
    let before = old.as_ref().map_or(&[][..], |s| &s.warnings[..]);
    let relisted = rules_of(before) != rules_of(&list);
    if !moved
        && !relisted
        && old
            .as_ref()
            .is_some_and(|s| s.assessment == a && s.warnings == list)
    {
        return None;
    }
    let warning = relisted.then(|| {
        let seq = old.as_ref().map_or(0, |s| s.warning_seq) + 1;
        warning_record(id, seq, before, &list, &a.model, now)
    });
    let state = Stored {
        assessed_at: if old.as_ref().is_some_and(|s| s.assessment == a) {
            old.as_ref().map_or(now, |s| s.assessed_at)
        } else {
            now
        },
        assessment: a,
        grade,
        r#override: over,
        seq: old.as_ref().map_or(0, |s| s.seq) + u64::from(moved),
        warning_seq: warning
            .as_ref()
            .map_or(old.as_ref().map_or(0, |s| s.warning_seq), |w| w.seq),
        warnings: list,
    };
    let record = moved.then(|| {
        let previous = old.as_ref().map(|s| s.grade);
        let mut r = record(id, &state, previous, GradeCause::Computed, None, None);
        r.at = now;
        r
    });
    Some(Next {
        id,
        state,
        grade: record,
        warning,
    })
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
        at: s.assessed_at,
        grade: s.grade,
        previous,
        cause,
        score_tenths: (s.assessment.score * 10.0).round() as i64,
        computed: s.assessment.grade,
        model: s.assessment.model.clone(),
        factors: s.assessment.contributions.iter().map(logged).collect(),
        reason,
        by_role: by.map_or("model".to_string(), |p| p.role.as_str().to_string()),
        request: by.map(|p| p.request.clone()).unwrap_or_default(),
    }
}

/// The rules of `l`, in order.
fn rules_of(l: &[Listing]) -> Vec<WarningRule> {
    l.iter().map(|l| l.rule).collect()
}

/// The log record of a change of the rules holding enterprise `id` on the warning list.
fn warning_record(
    id: u64,
    seq: u64,
    before: &[Listing],
    after: &[Listing],
    model: &str,
    now: i64,
) -> WarningRecord {
    let (was, is) = (rules_of(before), rules_of(after));
    WarningRecord {
        enterprise: id,
        seq,
        at: now,
        listed: !after.is_empty(),
        added: is.iter().filter(|r| !was.contains(r)).copied().collect(),
        ended: was.iter().filter(|r| !is.contains(r)).copied().collect(),
        listings: after
            .iter()
            .map(|l| LoggedListing {
                rule: l.rule,
                since_day: l.since,
                until_day: l.until,
            })
            .collect(),
        model: model.to_string(),
    }
}

/// A listing with its days as dates.
fn listing_view(l: &Listing) -> ListingView {
    ListingView {
        rule: l.rule,
        since: day_date(l.since),
        until: day_date(l.until),
    }
}

/// Day `d` (days since 1970-01-01) as `YYYY-MM-DD`.
fn day_date(d: i64) -> String {
    rfc3339(d.saturating_mul(DAY))
        .get(..10)
        .unwrap_or_default()
        .to_string()
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
        grade: r.grade,
        previous: r.previous,
        cause: r.cause,
        score: r.score_tenths as f64 / 10.0,
        computed: r.computed,
        reason: r.reason.clone(),
        by_role: r.by_role.clone(),
        leaf_index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Role;
    use crate::grading::Factor;
    use crate::leaf::LeafRecord;
    use crate::service::custody::{LotInput, RecallInput};
    use crate::service::master::tests::seed;
    use crate::service::master::{ProductCategory, ProductInput};
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

    /// The newest grade leaf (a warning-list leaf may follow it in the same write).
    fn last_leaf(svc: &Service) -> GradeRecord {
        let n = svc.log().log_size().unwrap();
        for i in (n.saturating_sub(2)..n).rev() {
            let data = svc.log().leaves_data(&[i]).unwrap().remove(0);
            match LeafRecord::parse(&data).unwrap() {
                LeafRecord::Grade(g) => return g,
                LeafRecord::Warning(_) => continue,
                other => panic!("expected a grade leaf, got {}", other.kind()),
            }
        }
        panic!("no grade leaf at the end of the log")
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
        assert_eq!((first.grade, first.score), (Grade::B, 73.0));
        assert_eq!(last_leaf(&svc).cause, GradeCause::Computed);
        assert_eq!(
            g.refresh(now + 1).unwrap(),
            Refresh::default(),
            "nothing moved"
        );

        let reason = RecallInput {
            reason: "contamination".into(),
            class: None,
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
        assert_eq!((after.grade, after.score), (Grade::C, 58.0));
        let recall = after
            .contributions
            .iter()
            .find(|c| c.factor == Factor::Recall)
            .unwrap();
        assert_eq!((recall.amount, recall.points), (1.0, -15.0));
        let leaf = last_leaf(&svc);
        assert_eq!((leaf.grade, leaf.previous), (Grade::C, Some(Grade::B)));
        assert!(leaf
            .factors
            .iter()
            .any(|f| f.factor == "recall" && f.points_tenths == -150));
        assert_eq!(after.history.len(), 2);
        assert_eq!(after.history[1].leaf_index, size);
    }

    /// Grading again with nothing new writes nothing, not even on the hourly pass; a new
    /// model version is logged even where the grade stays.
    #[test]
    fn nothing_new_writes_nothing_and_a_new_model_is_logged() {
        let (svc, _) = test_service();
        let (id, _) = graded_lot(&svc);
        let g = svc.grading();
        let now = now_unix();
        g.refresh(now).unwrap();
        let (size, before) = (svc.log().log_size().unwrap(), g.grade(id).unwrap());
        let hourly = g.refresh(now + FULL_EVERY_SECS).unwrap();
        assert_eq!(
            hourly,
            Refresh {
                graded: 1,
                changed: 0
            }
        );
        assert_eq!(
            g.grade(id).unwrap(),
            before,
            "not rewritten (assessed_at unchanged)"
        );
        assert_eq!(svc.log().log_size().unwrap(), size);

        let mut model = Model::default_model();
        model.version = "2026-12.4-test".into();
        let deps = GradingDeps {
            log: svc.log().clone(),
            master: svc.master().clone(),
            custody: svc.custody().clone(),
            telemetry: svc.telemetry().clone(),
            consumer: svc.consumer().clone(),
            printing: svc.printing().clone(),
        };
        let other = Grading::new(svc.store().clone(), deps, model);
        assert_eq!(
            other.refresh(now).unwrap(),
            Refresh {
                graded: 1,
                changed: 1
            }
        );
        let leaf = last_leaf(&svc);
        assert_eq!(
            (leaf.model.as_str(), leaf.grade),
            ("2026-12.4-test", Grade::B)
        );
    }

    /// A product's category, registered or changed, is a static factor taken within a
    /// tick: the riskiest category of the enterprise's products counts.
    #[test]
    fn a_product_category_moves_its_owners_grade() {
        let (svc, _) = test_service();
        let (id, _) = graded_lot(&svc);
        let g = svc.grading();
        let now = now_unix();
        g.refresh(now).unwrap();
        assert_eq!(g.grade(id).unwrap().score, 73.0);
        let gtin = "09506000134352";
        let p = svc.master().product(gtin).unwrap();
        let input = |category| ProductInput {
            gtin: p.gtin.clone(),
            name_zh: p.name_zh.clone(),
            name_en: p.name_en.clone(),
            enterprise_id: id,
            category,
        };
        let updated = svc
            .master()
            .update_product(gtin, &input(Some(ProductCategory::InfantFormula)))
            .unwrap();
        assert_eq!(updated.category, Some(ProductCategory::InfantFormula));
        assert_eq!(
            g.refresh(now + 1).unwrap(),
            Refresh {
                graded: 1,
                changed: 1
            }
        );
        let v = g.grade(id).unwrap();
        assert_eq!((v.grade, v.score), (Grade::C, 65.0));
        let c = v
            .contributions
            .iter()
            .find(|c| c.factor == Factor::CategoryRisk);
        assert_eq!(c.map(|c| c.points), Some(-8.0));
        svc.master()
            .update_product(gtin, &input(Some(ProductCategory::Cosmetics)))
            .unwrap();
        g.refresh(now + 2).unwrap();
        assert_eq!(
            g.grade(id).unwrap().score,
            72.0,
            "C back to B needs 72: 73 − 1"
        );
        assert_eq!(g.grade(id).unwrap().grade, Grade::B);
    }

    /// Labels printed again count against the product's owner, per label, from the day
    /// they were printed again; printing them the first time does not.
    #[test]
    fn reprinted_labels_count_against_the_owner() {
        use crate::labels::job::LabelFormat;
        use crate::service::printing::PrintJobRequest;
        let (svc, _) = test_service();
        let (id, _) = graded_lot(&svc);
        let req = crate::service::issuance::tests::req(10);
        let (b, _) = svc.issuance().issue_batch(&req, "k", &|_| {}).unwrap();
        let job = |reason: Option<&str>| PrintJobRequest {
            format: LabelFormat::Zpl,
            layout: None,
            range: None,
            reprint_reason: reason.map(String::from),
        };
        let g = svc.grading();
        let now = now_unix();
        svc.printing().create_print_job(b.id, &job(None)).unwrap();
        g.refresh(now).unwrap();
        assert_eq!(
            g.grade(id).unwrap().score,
            73.0,
            "a first print is not a reprint"
        );
        svc.printing()
            .create_print_job(b.id, &job(Some("ribbon jammed")))
            .unwrap();
        let today = now.div_euclid(DAY);
        let rows = svc.printing().reprint_days(today, 1).unwrap().rows;
        assert_eq!(rows, vec![(today, id, 10)]);
        assert_eq!(g.refresh(now + 1).unwrap().graded, 1);
        let v = g.grade(id).unwrap();
        let r = v.contributions.iter().find(|c| c.factor == Factor::Reprint);
        assert_eq!(r.map(|c| (c.amount, c.points)), Some((10.0, -0.2)));
        assert_eq!(v.score, 72.8);
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
        // A grade D set by the operator lists at once, in the same write.
        let rules: Vec<_> = v.warnings.iter().map(|l| l.rule).collect();
        assert_eq!(rules, [crate::grading::WarningRule::GradeD]);
        assert_eq!(v.warning_history.len(), 1);
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

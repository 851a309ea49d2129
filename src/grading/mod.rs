//! The credit-risk model (pure core): an enterprise's grade (A–D) and score (0–100) from
//! static factors (how long it has been registered, whether its filing is disclosed, the
//! authorities' rating and listing) and dynamic ones taken from our own records with time
//! decay (non-conformant attestations, holds, recalls, upheld complaints by category, clone
//! warnings and forged-code scans against its products).
//!
//! The weights, caps, thresholds and decay live in a versioned TOML file ([`DEFAULT_MODEL`],
//! `src/grading/model.toml`); every assessment names the version it used and lists each
//! factor's contribution, so a published grade can be recomputed from what it shows.
//! `docs/credit-model.md` explains the model; `fixtures/credit-model-vectors.json` holds
//! golden vectors (facts → score → grade).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The model shipped with this build.
pub const DEFAULT_MODEL: &str = include_str!("model.toml");

/// A credit-risk grade, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Grade {
    /// Low risk: the green channel.
    A,
    /// Ordinary risk.
    B,
    /// Elevated risk: closer supervision.
    C,
    /// High risk.
    D,
}

impl Grade {
    /// All grades, best first.
    pub const ALL: [Grade; 4] = [Grade::A, Grade::B, Grade::C, Grade::D];

    /// Position in [`Grade::ALL`] (0 for A).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Stars of four, as the integrity page and poster show them: A ★★★★ … D ★☆☆☆.
    pub fn stars(self) -> (usize, String) {
        let n = 4 - self.index();
        (n, format!("{}{}", "★".repeat(n), "☆".repeat(4 - n)))
    }

    /// `"A"` … `"D"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
        }
    }
}

/// What a product is, for its inherent risk (registered with the product; the credit
/// model weighs the riskiest category an enterprise imports).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProductCategory {
    /// Infant formula (婴幼儿配方食品).
    InfantFormula,
    /// Food for special medical purposes (特殊医学用途配方食品).
    SpecialMedicalFood,
    /// Health food and supplements (保健食品).
    HealthFood,
    /// Milk and dairy products.
    Dairy,
    /// Wine, beer and spirits.
    Alcohol,
    /// Other food.
    Food,
    /// Cosmetics and personal care.
    Cosmetics,
    /// Anything else.
    Other,
}

impl ProductCategory {
    /// Every category, riskiest first as the model ships.
    pub const ALL: [ProductCategory; 8] = [
        ProductCategory::InfantFormula,
        ProductCategory::SpecialMedicalFood,
        ProductCategory::HealthFood,
        ProductCategory::Dairy,
        ProductCategory::Alcohol,
        ProductCategory::Food,
        ProductCategory::Cosmetics,
        ProductCategory::Other,
    ];

    /// The snake_case name (as in the API and the model file).
    pub fn as_str(self) -> &'static str {
        match self {
            ProductCategory::InfantFormula => "infant_formula",
            ProductCategory::SpecialMedicalFood => "special_medical_food",
            ProductCategory::HealthFood => "health_food",
            ProductCategory::Dairy => "dairy",
            ProductCategory::Alcohol => "alcohol",
            ProductCategory::Food => "food",
            ProductCategory::Cosmetics => "cosmetics",
            ProductCategory::Other => "other",
        }
    }
}

/// Something that moves a score.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// Years registered with the platform.
    Age,
    /// The registration/filing disclosure, present or missing.
    Registration,
    /// The riskiest category among the enterprise's products.
    CategoryRisk,
    /// The riskiest country its lots were attested from, by the regulator's country list.
    OriginRisk,
    /// The authorities' rating in the operator's profile.
    AuthorityRating,
    /// On the dishonesty list by an authority's decision.
    Listed,
    /// Origin attestations with a non-conformant result.
    NonConformant,
    /// Holds placed on its lots.
    Hold,
    /// Holds on its lots that were lifted (resolved): half a hold back.
    HoldLifted,
    /// Recalls of its lots.
    Recall,
    /// Recalls of its lots for a safety reason (on top of [`Factor::Recall`]).
    SafetyRecall,
    /// Upheld complaints of counterfeiting.
    ComplaintCounterfeit,
    /// Upheld complaints about quality.
    ComplaintQuality,
    /// Upheld complaints about service.
    ComplaintService,
    /// Clone warnings on scans of its items.
    CloneWarning,
    /// Scans of forged codes naming its products.
    ForgedScan,
    /// Labels of its products printed again (each label counts).
    Reprint,
    /// Customs clearances and receivings of its lots later than the on-time limits.
    LateCustody,
}

impl Factor {
    /// The dynamic factors, in the model file's order.
    pub const DYNAMIC: [Factor; 12] = [
        Factor::NonConformant,
        Factor::Hold,
        Factor::HoldLifted,
        Factor::Recall,
        Factor::SafetyRecall,
        Factor::ComplaintCounterfeit,
        Factor::ComplaintQuality,
        Factor::ComplaintService,
        Factor::CloneWarning,
        Factor::ForgedScan,
        Factor::Reprint,
        Factor::LateCustody,
    ];
}

/// Why a model file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// Not valid TOML, or fields missing or unknown.
    #[error("credit model: {0}")]
    Syntax(String),
    /// Valid, but a value is out of range.
    #[error("credit model: {0}")]
    Invalid(String),
}

/// Grade floors and the hysteresis that keeps a grade from flapping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Lowest score of grade A.
    #[serde(rename = "A")]
    pub a: f64,
    /// Lowest score of grade B.
    #[serde(rename = "B")]
    pub b: f64,
    /// Lowest score of grade C; below is D.
    #[serde(rename = "C")]
    pub c: f64,
    /// Points past a floor, up or down, before the grade moves across it.
    pub hysteresis: f64,
}

/// How an event's weight fades.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decay {
    /// Days for the weight to halve.
    pub half_life_days: f64,
    /// Events older than this many days no longer count.
    pub window_days: u32,
}

/// Weights of the static factors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statics {
    /// Points per year registered.
    pub points_per_year: f64,
    /// Most points for age.
    pub max_age_points: f64,
    /// A registration/filing disclosure is present.
    pub registration_filed: f64,
    /// No registration/filing disclosure.
    pub registration_missing: f64,
    /// Points of each authority rating.
    pub authority_rating: BTreeMap<Grade, f64>,
    /// Points of each product category (the riskiest one an enterprise has counts).
    pub category_risk: BTreeMap<ProductCategory, f64>,
    /// Points of origin countries (ISO 3166-1 alpha-2) by the regulator's country risk list;
    /// the riskiest country an enterprise's lots were attested from counts; countries not
    /// listed count 0.
    #[serde(default)]
    pub origin_risk: BTreeMap<String, f64>,
    /// On the dishonesty list.
    pub listed: f64,
}

impl Statics {
    fn check(&self) -> Result<(), ModelError> {
        let all = [
            ("points_per_year", self.points_per_year),
            ("max_age_points", self.max_age_points),
            ("registration_filed", self.registration_filed),
            ("registration_missing", self.registration_missing),
            ("listed", self.listed),
        ];
        if let Some((name, v)) = all.iter().find(|(_, v)| !points(*v)) {
            return Err(ModelError::Invalid(format!(
                "static.{name} must be a number from -100 to 100, got {v}"
            )));
        }
        if let Some((c, v)) = self.origin_risk.iter().find(|(c, v)| {
            !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) && points(**v))
        }) {
            return Err(ModelError::Invalid(format!(
                "static.origin_risk.{c} = {v}: keys are ISO 3166-1 alpha-2 codes (2 capital letters), values from -100 to 100"
            )));
        }
        let ratings = Grade::ALL.map(|g| (g.as_str(), self.authority_rating.get(&g)));
        let categories = ProductCategory::ALL.map(|c| (c.as_str(), self.category_risk.get(&c)));
        for (table, entries) in [
            ("authority_rating", &ratings[..]),
            ("category_risk", &categories[..]),
        ] {
            if let Some((key, _)) = entries.iter().find(|(_, v)| !v.is_some_and(|v| points(*v))) {
                return Err(ModelError::Invalid(format!(
                    "static.{table}.{key} must be a number from -100 to 100"
                )));
            }
        }
        Ok(())
    }
}

/// A finite number of points within ±100.
fn points(v: f64) -> bool {
    v.is_finite() && (-100.0..=100.0).contains(&v)
}

/// A rule that puts an enterprise on the warning list (失信预警名单) by itself.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WarningRule {
    /// Its grade in force is D.
    GradeD,
    /// A lot of its was recalled for a safety reason.
    SafetyRecall,
    /// A complaint of counterfeiting against it was upheld.
    CounterfeitComplaint,
}

impl WarningRule {
    /// Every rule.
    pub const ALL: [WarningRule; 3] = [
        WarningRule::GradeD,
        WarningRule::SafetyRecall,
        WarningRule::CounterfeitComplaint,
    ];

    /// The snake_case name (as in the model file and the API).
    pub fn as_str(self) -> &'static str {
        match self {
            WarningRule::GradeD => "grade_d",
            WarningRule::SafetyRecall => "safety_recall",
            WarningRule::CounterfeitComplaint => "counterfeit_complaint",
        }
    }
}

/// The warning list's rules: how long a listing lasts after its rule last fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warnings {
    /// The remediation period of each rule, in days (at most the decay window).
    pub remediation_days: BTreeMap<WarningRule, u32>,
}

/// Rewards and punishments the custody state machine enforces (守信激励/失信惩戒).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supervision {
    /// Grades whose lots need a sampling inspection before release.
    pub sampling_grades: BTreeSet<Grade>,
    /// Product categories whose lots need one, unless the enterprise has the green channel.
    pub sampling_categories: BTreeSet<ProductCategory>,
    /// Grades with the green channel: no sampling inspection required, unless listed.
    pub green_channel_grades: BTreeSet<Grade>,
}

/// Points per (decayed) event and the most a factor may take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weight {
    /// Points per event at full weight (negative: a penalty).
    pub points: f64,
    /// The most the factor may add in all (same sign as `points`).
    pub cap: f64,
}

/// The whole model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Named in every assessment and grade leaf.
    pub version: String,
    /// Every score starts here.
    pub base: f64,
    /// Grade floors.
    pub grades: Thresholds,
    /// Time decay of events.
    pub decay: Decay,
    /// Static factors.
    #[serde(rename = "static")]
    pub statics: Statics,
    /// Dynamic factors by name.
    pub dynamic: BTreeMap<Factor, Weight>,
    /// The warning list's rules.
    pub warning: Warnings,
    /// What a grade and a listing change in custody.
    pub supervision: Supervision,
}

impl Model {
    /// The model shipped with this build.
    pub fn default_model() -> Model {
        Model::parse(DEFAULT_MODEL).expect("the shipped credit model is valid")
    }

    /// Parses and checks a model file.
    pub fn parse(text: &str) -> Result<Model, ModelError> {
        let m: Model = toml::from_str(text).map_err(|e| ModelError::Syntax(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    fn check(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Invalid(m));
        if self.version.trim().is_empty() || self.version.len() > 64 {
            return bad("version must be 1–64 characters".into());
        }
        let g = &self.grades;
        if !(100.0 >= g.a && g.a > g.b && g.b > g.c && g.c > 0.0) {
            return bad(format!(
                "grades must satisfy 100 ≥ A > B > C > 0, got A {} B {} C {}",
                g.a, g.b, g.c
            ));
        }
        if !(0.0..=10.0).contains(&g.hysteresis) {
            return bad("grades.hysteresis must be 0–10".into());
        }
        if !(self.decay.half_life_days >= 1.0 && (1..=366).contains(&self.decay.window_days)) {
            return bad("decay: half_life_days ≥ 1 and window_days 1–366".into());
        }
        if !(0.0..=100.0).contains(&self.base) {
            return bad("base must be 0–100".into());
        }
        self.statics.check()?;
        for f in Factor::DYNAMIC {
            let Some(w) = self.dynamic.get(&f) else {
                return bad(format!("dynamic.{} is missing", factor_name(f)));
            };
            if w.points.signum() != w.cap.signum() || !points(w.points) || !points(w.cap) {
                return bad(format!(
                    "dynamic.{}: points and cap must be of one sign, each from -100 to 100",
                    factor_name(f)
                ));
            }
        }
        if let Some(f) = self.dynamic.keys().find(|f| !Factor::DYNAMIC.contains(f)) {
            return bad(format!(
                "dynamic.{} is not a dynamic factor",
                factor_name(*f)
            ));
        }
        self.check_rules()
    }

    fn check_rules(&self) -> Result<(), ModelError> {
        let window = self.decay.window_days;
        for r in WarningRule::ALL {
            match self.warning.remediation_days.get(&r) {
                Some(d) if (1..=window).contains(d) => {}
                _ => {
                    return Err(ModelError::Invalid(format!(
                        "warning.remediation_days.{} must be 1–{window} (the decay window)",
                        r.as_str()
                    )))
                }
            }
        }
        let s = &self.supervision;
        if let Some(g) = s
            .sampling_grades
            .intersection(&s.green_channel_grades)
            .next()
        {
            return Err(ModelError::Invalid(format!(
                "supervision: grade {} cannot both need sampling and have the green channel",
                g.as_str()
            )));
        }
        Ok(())
    }

    /// The remediation period of `rule`, in days.
    pub fn remediation_days(&self, rule: WarningRule) -> i64 {
        self.warning
            .remediation_days
            .get(&rule)
            .map_or(0, |d| i64::from(*d))
    }

    /// The grade of `score`, given the grade held before: a grade moves only once the score
    /// is `hysteresis` points past each floor it crosses, up or down, so a score hovering at
    /// a floor (or nudged by a few scans) does not make the grade flap.
    pub fn grade_of(&self, score: f64, previous: Option<Grade>) -> Grade {
        let raw = self.raw_grade(score);
        let Some(held) = previous else { return raw };
        let h = self.grades.hysteresis;
        let (r, p) = (raw.index(), held.index());
        if r < p {
            // Up: the best grade between the raw one and the one held whose floor the score
            // clears by the margin; else the grade held.
            Grade::ALL[r..p]
                .iter()
                .copied()
                .find(|g| score >= self.floor(*g) + h)
                .unwrap_or(held)
        } else {
            // Down (or level): from the grade held, the first the score keeps (no more than
            // the margin below its floor); else the raw grade.
            Grade::ALL[p..r]
                .iter()
                .copied()
                .find(|g| score >= self.floor(*g) - h)
                .unwrap_or(raw)
        }
    }

    /// The grade whose floor the score reaches (no hysteresis).
    fn raw_grade(&self, score: f64) -> Grade {
        let g = &self.grades;
        if score >= g.a {
            Grade::A
        } else if score >= g.b {
            Grade::B
        } else if score >= g.c {
            Grade::C
        } else {
            Grade::D
        }
    }

    /// The lowest score of grade `g` (D's is 0).
    fn floor(&self, g: Grade) -> f64 {
        match g {
            Grade::A => self.grades.a,
            Grade::B => self.grades.b,
            Grade::C => self.grades.c,
            Grade::D => 0.0,
        }
    }

    fn weight(&self, age_days: i64) -> f64 {
        if age_days < 0 || age_days >= i64::from(self.decay.window_days) {
            return if age_days < 0 { 1.0 } else { 0.0 };
        }
        (-(age_days as f64) / self.decay.half_life_days).exp2()
    }
}

/// The snake_case name of a factor (as in the model file and the API).
pub fn factor_name(f: Factor) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Events of one dynamic factor on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dated {
    /// The factor.
    pub factor: Factor,
    /// Day (days since 1970-01-01, UTC).
    pub day: i64,
    /// How many.
    pub count: u64,
}

/// What the model reads of one enterprise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// Days since the enterprise was registered with the platform.
    pub registered_days: i64,
    /// The operator's profile has a registration/filing disclosure.
    pub registration_filed: bool,
    /// The categories of the enterprise's products.
    #[serde(default)]
    pub categories: Vec<ProductCategory>,
    /// The countries its lots were attested from (ISO 3166-1 alpha-2).
    #[serde(default)]
    pub origins: Vec<String>,
    /// The authorities' rating in the operator's profile, if any.
    #[serde(default)]
    pub authority_rating: Option<Grade>,
    /// On the dishonesty list.
    #[serde(default)]
    pub listed: bool,
    /// Dated events of the dynamic factors.
    #[serde(default)]
    pub events: Vec<Dated>,
    /// The grade computed before (for hysteresis).
    #[serde(default)]
    pub previous: Option<Grade>,
}

/// One factor's part of a score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contribution {
    /// The factor.
    pub factor: Factor,
    /// What was counted: years, events after decay, or 1/0 for a yes/no factor.
    pub amount: f64,
    /// Points added (negative: taken), after the cap, to 0.1.
    pub points: f64,
}

/// A score, its grade and how it was reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Assessment {
    /// The model version used.
    pub model: String,
    /// 0–100, to 0.1.
    pub score: f64,
    /// The grade.
    pub grade: Grade,
    /// Each factor that moved the score, static ones first.
    pub contributions: Vec<Contribution>,
}

/// Assesses `facts` on day `today`.
pub fn assess(model: &Model, facts: &Facts, today: i64) -> Assessment {
    let mut contributions = statics(model, facts);
    contributions.extend(dynamics(model, facts, today));
    let sum: f64 = contributions.iter().map(|c| c.points).sum();
    let score = round1((model.base + sum).clamp(0.0, 100.0));
    Assessment {
        model: model.version.clone(),
        score,
        grade: model.grade_of(score, facts.previous),
        contributions,
    }
}

fn statics(model: &Model, facts: &Facts) -> Vec<Contribution> {
    let s = &model.statics;
    let years = facts.registered_days.max(0) as f64 / 365.0;
    let mut out = vec![contribution(
        Factor::Age,
        round1(years),
        (years * s.points_per_year).min(s.max_age_points),
    )];
    let (filed, points) = if facts.registration_filed {
        (1.0, s.registration_filed)
    } else {
        (0.0, s.registration_missing)
    };
    out.push(contribution(Factor::Registration, filed, points));
    out.extend(category_risk(s, facts));
    out.extend(origin_risk(s, facts));
    if let Some(p) = facts
        .authority_rating
        .and_then(|r| s.authority_rating.get(&r))
    {
        out.push(contribution(Factor::AuthorityRating, 1.0, *p));
    }
    if facts.listed {
        out.push(contribution(Factor::Listed, 1.0, s.listed));
    }
    out
}

/// The riskiest of the enterprise's product categories, if it has any.
fn category_risk(s: &Statics, facts: &Facts) -> Option<Contribution> {
    let riskiest = facts
        .categories
        .iter()
        .filter_map(|c| s.category_risk.get(c))
        .copied()
        .reduce(f64::min)?;
    Some(contribution(Factor::CategoryRisk, 1.0, riskiest))
}

/// The riskiest listed country among the enterprise's origins, if any is listed.
fn origin_risk(s: &Statics, facts: &Facts) -> Option<Contribution> {
    let riskiest = facts
        .origins
        .iter()
        .filter_map(|c| s.origin_risk.get(c))
        .copied()
        .reduce(f64::min)?;
    Some(contribution(Factor::OriginRisk, 1.0, riskiest))
}

fn dynamics(model: &Model, facts: &Facts, today: i64) -> Vec<Contribution> {
    let mut amounts: BTreeMap<Factor, f64> = BTreeMap::new();
    for e in &facts.events {
        let w = model.weight(today - e.day);
        if w > 0.0 {
            *amounts.entry(e.factor).or_default() += w * e.count as f64;
        }
    }
    amounts
        .into_iter()
        .filter_map(|(f, amount)| {
            let w = model.dynamic.get(&f)?;
            let raw = amount * w.points;
            let points = if w.cap < 0.0 {
                raw.max(w.cap)
            } else {
                raw.min(w.cap)
            };
            Some(contribution(f, round2(amount), points))
        })
        .collect()
}

fn contribution(factor: Factor, amount: f64, points: f64) -> Contribution {
    Contribution {
        factor,
        amount,
        points: round1(points),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

mod policy;
mod warning;

pub use policy::{sampling, SamplingDecision, SamplingReason, Standing};
pub use warning::{listings, Listing};

#[cfg(test)]
mod tests;

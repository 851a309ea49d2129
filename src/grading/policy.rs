//! Rewards and punishments the custody state machine enforces (守信激励/失信惩戒): whether
//! a lot needs a sampling inspection before release, from its importer's standing (grade in
//! force, listings) and its product's category, by the model's `[supervision]` table.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Grade, ProductCategory, Supervision, WarningRule};

/// What supervision knows of an importer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    /// The grade in force, once graded.
    pub grade: Option<Grade>,
    /// The warning-list rules holding it on the list.
    pub warnings: Vec<WarningRule>,
    /// On an authority's dishonesty list.
    pub dishonest: bool,
}

/// Why a lot needs a sampling inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SamplingReason {
    /// The importer is on the warning list by this rule.
    WarningList {
        /// The rule.
        rule: WarningRule,
    },
    /// The importer is on an authority's dishonesty list.
    DishonestyList,
    /// The importer's grade in force needs sampling.
    Grade {
        /// The grade.
        grade: Grade,
    },
    /// The product's category needs sampling.
    Category {
        /// The category.
        category: ProductCategory,
    },
}

impl std::fmt::Display for SamplingReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SamplingReason::WarningList { rule } => {
                write!(f, "the importer is on the warning list ({})", rule.as_str())
            }
            SamplingReason::DishonestyList => {
                write!(f, "the importer is on an authority's dishonesty list")
            }
            SamplingReason::Grade { grade } => {
                write!(f, "the importer's credit grade is {}", grade.as_str())
            }
            SamplingReason::Category { category } => {
                write!(
                    f,
                    "the product is {}, a high-risk category",
                    category.as_str()
                )
            }
        }
    }
}

/// Whether a lot needs a sampling inspection before release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "decision", content = "reasons", rename_all = "snake_case")]
pub enum SamplingDecision {
    /// It does, for these reasons.
    Required(Vec<SamplingReason>),
    /// The importer has the green channel: it does not.
    GreenChannel,
    /// It does not.
    NotRequired,
}

/// The decision for a lot of a product in `category` (if registered with one) imported by
/// an enterprise of `standing`: a listing or a grade needing sampling always requires it;
/// otherwise the green channel waives it; otherwise a high-risk category requires it.
pub fn sampling(
    s: &Supervision,
    standing: &Standing,
    category: Option<ProductCategory>,
) -> SamplingDecision {
    let mut reasons: Vec<SamplingReason> = standing
        .warnings
        .iter()
        .map(|rule| SamplingReason::WarningList { rule: *rule })
        .collect();
    if standing.dishonest {
        reasons.push(SamplingReason::DishonestyList);
    }
    if let Some(grade) = standing.grade.filter(|g| s.sampling_grades.contains(g)) {
        reasons.push(SamplingReason::Grade { grade });
    }
    if !reasons.is_empty() {
        return SamplingDecision::Required(reasons);
    }
    if standing
        .grade
        .is_some_and(|g| s.green_channel_grades.contains(&g))
    {
        return SamplingDecision::GreenChannel;
    }
    match category.filter(|c| s.sampling_categories.contains(c)) {
        Some(category) => SamplingDecision::Required(vec![SamplingReason::Category { category }]),
        None => SamplingDecision::NotRequired,
    }
}

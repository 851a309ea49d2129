//! The merchant integrity page's data (`/m/{uscc}`, 诚信二维码): an enterprise found by its
//! USCC, with its grade, history and listings, its credit profile and its upheld complaints
//! by category, in one call for the edge.

use super::complaints::{credit::CreditProfile, ComplaintCategory};
use super::grading::GradeView;
use super::master::Enterprise;
use super::{Result, Service};

/// What the integrity page shows of an enterprise.
#[derive(Clone, Debug, PartialEq)]
pub struct MerchantView {
    /// The enterprise.
    pub enterprise: Enterprise,
    /// Its grade, score, factors, history and warning listings.
    pub grade: GradeView,
    /// The operator's credit profile (rating, disclosures, dishonesty listing, return
    /// promise), if written.
    pub credit: Option<CreditProfile>,
    /// Upheld complaints by category (counterfeit, quality, service).
    pub upheld: [(ComplaintCategory, u64); 3],
}

impl Service {
    /// The integrity page's data of the enterprise with USCC `uscc` (400 malformed; 404 no
    /// such enterprise, or not graded yet).
    pub fn merchant(&self, uscc: &str) -> Result<MerchantView> {
        let enterprise = self.master().enterprise_by_uscc(uscc)?;
        let grade = self.grading().grade(enterprise.id)?;
        let credit = self
            .consumer()
            .find_credit(enterprise.id, &enterprise.name)?;
        let (list, _) = self.consumer().upheld_of(enterprise.id)?;
        let mut upheld = [
            (ComplaintCategory::Counterfeit, 0),
            (ComplaintCategory::Quality, 0),
            (ComplaintCategory::Service, 0),
        ];
        for u in list {
            if let Some(slot) = upheld.iter_mut().find(|(c, _)| *c == u.category) {
                slot.1 += 1;
            }
        }
        Ok(MerchantView {
            enterprise,
            grade,
            credit,
            upheld,
        })
    }
}

impl Service {
    /// The URL of the integrity page of `uscc` on this service's public host.
    pub fn merchant_url(&self, uscc: &str) -> String {
        format!("https://{}/m/{uscc}", self.host().as_str())
    }

    /// The A4 integrity poster of the enterprise with USCC `uscc`: its name, grade and stars,
    /// return promise and a QR code of its integrity page (one PDF page).
    pub fn merchant_poster(&self, uscc: &str) -> Result<Vec<u8>> {
        let m = self.merchant(uscc)?;
        let (_, stars) = m.grade.grade.stars();
        let d = crate::labels::poster::PosterData {
            url: self.merchant_url(&m.enterprise.uscc),
            name: m.enterprise.name.clone(),
            grade: m.grade.grade.as_str().to_string(),
            score: format!("{:.1}", m.grade.score),
            stars,
            return_days: m.credit.as_ref().and_then(|c| c.return_days),
            date: super::rfc3339(super::now_unix())[..10].to_string(),
            listed: !m.grade.warnings.is_empty(),
        };
        let font = self.printing().label_font()?;
        crate::labels::poster::render(font, &d)
            .map_err(|l| super::errors::PrintError::UnfitLayout(l).into())
    }
}

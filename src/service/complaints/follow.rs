//! Complaints the consumer can follow, and referrals to partner bodies: the consumer shows
//! the reference and the secret from the receipt and sees the status, the operator's answers
//! and any referral (never the contact, the network or the item); the operator refers a
//! complaint to a partner body (`complaints.partners`) and records the outcome the partner
//! reports. See `docs/complaints.md`.

use subtle::ConstantTimeEq;

use super::{
    now, rfc3339, secret_hash, Complaint, ComplaintProgress, ConsumerServices, FollowInput,
    OutcomeInput, Referral, ReferralInput, ReferralOutcome, MAX_NOTE,
};
use crate::service::base::{lock, Result};
use crate::service::errors::{ComplaintError, InputError};
use crate::service::master::check_text;
use crate::store::schema::{encode_json, u64_key};
use crate::store::{Cf, Durability, WriteBatch};

/// Longest secret accepted as typed, in characters (24 and the separators, with room).
const MAX_SECRET: usize = 64;

impl ConsumerServices {
    /// The progress of complaint `reference`, for whoever holds its secret; one answer (404)
    /// for an unknown reference, a wrong secret and a complaint without one.
    pub fn complaint_progress(
        &self,
        reference: &str,
        input: &FollowInput,
    ) -> Result<ComplaintProgress> {
        let refused = || ComplaintError::NotFollowable {
            reference: reference.to_string(),
        };
        if input.secret.chars().count() > MAX_SECRET {
            return Err(refused().into());
        }
        let (_, c) = self.find_complaint(reference)?.ok_or_else(refused)?;
        let want = c.secret_sha256.as_deref().ok_or_else(refused)?;
        let got = secret_hash(&input.secret);
        if !bool::from(got.as_bytes().ct_eq(want.as_bytes())) {
            return Err(refused().into());
        }
        Ok(ComplaintProgress {
            reference: c.reference,
            category: c.category,
            status: c.status,
            created_at: c.created_at,
            updated_at: c.updated_at,
            history: c.history,
            referral: c.referral,
        })
    }

    /// Refers complaint `reference` to a partner body (once).
    pub fn refer_complaint(&self, reference: &str, input: &ReferralInput) -> Result<Complaint> {
        let note = check_text("note", &input.note, MAX_NOTE, true)?;
        let partner = self
            .complaint_rules
            .partners
            .iter()
            .find(|p| p.id == input.partner)
            .cloned()
            .ok_or_else(|| {
                let ids: Vec<&str> = self
                    .complaint_rules
                    .partners
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect();
                InputError::field(
                    "partner",
                    format!(
                        "partner {:?} is not one of the configured partners: {}",
                        input.partner,
                        ids.join(", ")
                    ),
                )
            })?;
        self.change_referral(reference, |c| {
            if let Some(r) = &c.referral {
                return Err(ComplaintError::AlreadyReferred {
                    reference: reference.to_string(),
                    partner: r.partner.id.clone(),
                });
            }
            c.referral = Some(Referral {
                partner,
                note,
                at: rfc3339(now().unix_timestamp()),
                outcome: None,
            });
            Ok(())
        })
    }

    /// Records the outcome a partner reported for referred complaint `reference` (once).
    pub fn referral_outcome(&self, reference: &str, input: &OutcomeInput) -> Result<Complaint> {
        let note = check_text("note", &input.note, MAX_NOTE, true)?;
        self.change_referral(reference, |c| {
            let closed = |why| ComplaintError::ReferralClosed {
                reference: reference.to_string(),
                why,
            };
            let r = c
                .referral
                .as_mut()
                .ok_or_else(|| closed("it was not referred to a partner"))?;
            if r.outcome.is_some() {
                return Err(closed("the referral's outcome is recorded already"));
            }
            r.outcome = Some(ReferralOutcome {
                result: input.result,
                note,
                at: rfc3339(now().unix_timestamp()),
            });
            Ok(())
        })
    }

    /// Applies `f` to complaint `reference` under the complaints lock and writes it (synced).
    fn change_referral(
        &self,
        reference: &str,
        f: impl FnOnce(&mut Complaint) -> std::result::Result<(), ComplaintError>,
    ) -> Result<Complaint> {
        let _guard = lock(&self.locks.complaints)?;
        let (n, mut c) =
            self.find_complaint(reference)?
                .ok_or_else(|| ComplaintError::ComplaintNotFound {
                    reference: reference.to_string(),
                })?;
        f(&mut c)?;
        c.updated_at = rfc3339(now().unix_timestamp());
        let mut wb = WriteBatch::new();
        wb.put(Cf::Complaints, u64_key(n), encode_json(&c));
        self.store.write(wb, Durability::Synced)?;
        Ok(c)
    }
}

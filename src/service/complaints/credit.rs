//! Merchant credit: the operator's credit profile of each enterprise (the seed platform's
//! "credit disclosure") — a rating, dated disclosures in six categories, and the dishonesty
//! list — plus complaint counts kept with every complaint. Scans show the importer's rating,
//! and an item whose importer is on the dishonesty list scans `genuine_with_warning`.
//!
//! Each profile version is a log leaf (`traceseal/credit/v1`, the profile in full, with the
//! writer's role and request id), so no version can be quietly rewritten, and the full history
//! is public (`GET /api/v1/credit/{id}/history`). The current profile is what a consumer sees
//! on a scan. Each replacement bumps `version`. See `docs/credit.md`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::authz::Principal;
use crate::records::CreditRecord;
use crate::service::base::{lock, now, rfc3339, Result, ServiceError};
use crate::service::complaints::ComplaintCounts;
use crate::service::complaints::ConsumerServices;
use crate::service::errors::{ComplaintError, InputError};
use crate::service::log::PendingLeaf;
use crate::service::master::check_text;
use crate::store::schema::{
    decode_json, encode_json, key_after, profile_key, profile_key_id, PROFILES_END,
};
use crate::store::Cf;

/// Most disclosures one profile may hold.
pub const MAX_DISCLOSURES: usize = 200;
/// Longest title, authority or source, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest detail text, in characters.
pub const MAX_DETAIL: usize = 2000;

/// Credit rating of an enterprise, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Rating {
    /// Excellent (优): no adverse record, certified (e.g. customs AEO advanced).
    A,
    /// Good (良): minor, corrected issues only.
    B,
    /// Fair (中): adverse records under supervision.
    C,
    /// Poor (差): serious violations; usually on the dishonesty list.
    D,
}

/// What a disclosure is about (the seed platform's six kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisclosureCategory {
    /// Registration: legal form, capital, licences, filing with customs.
    Registration,
    /// Business: trade volume, platforms, brands carried.
    Business,
    /// Regulatory: inspections, customs and market-supervision findings.
    Regulatory,
    /// Service: after-sales commitments and performance.
    Service,
    /// Rewards: commendations, certifications.
    Reward,
    /// Punishments: penalties, sanctions.
    Punishment,
    /// Complaints handled (the operator's summary; live counts are kept automatically).
    Complaint,
}

/// One dated disclosure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// Category.
    pub category: DisclosureCategory,
    /// Short title, 1–200 characters (shown to consumers as written).
    pub title: String,
    /// Details, up to 2,000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Date `YYYY-MM-DD`.
    pub date: String,
    /// Who reported it (authority, document number), up to 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// An entry on the dishonesty list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DishonestListing {
    /// Why, 1–200 characters.
    pub reason: String,
    /// Listing date `YYYY-MM-DD`.
    pub listed_on: String,
    /// The listing authority, 1–200 characters.
    pub authority: String,
}

/// Body of `PUT /api/v1/enterprises/{id}/credit` (replaces the profile).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditInput {
    /// The rating.
    pub rating: Rating,
    /// Date of the rating `YYYY-MM-DD`.
    pub rated_on: String,
    /// What the rating rests on, up to 2,000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Disclosures, at most 200, newest first when shown.
    #[serde(default)]
    pub disclosures: Vec<Disclosure>,
    /// Set while the enterprise is on the dishonesty list; absent to take it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dishonest: Option<DishonestListing>,
    /// The no-reason-return promise (无理由退货承诺) the merchant made: days, 1–365; absent
    /// when it made none. Shown on its integrity page (`/m/{uscc}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_days: Option<u32>,
}

/// An enterprise's credit profile as disclosed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreditProfile {
    /// The enterprise.
    pub enterprise_id: u64,
    /// Its legal name.
    pub enterprise_name: String,
    /// The rating.
    pub rating: Rating,
    /// Date of the rating.
    pub rated_on: String,
    /// What the rating rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Disclosures, newest first.
    pub disclosures: Vec<Disclosure>,
    /// The dishonesty-list entry, while listed.
    pub dishonest: Option<DishonestListing>,
    /// The no-reason-return promise, in days, if the merchant made one.
    #[serde(default)]
    pub return_days: Option<u32>,
    /// Complaints about the enterprise's items that the operator looked into and upheld
    /// (live). Only upheld complaints are public: anyone can file a complaint, so counts of
    /// received or rejected ones would let a competitor paint an enterprise.
    pub complaints_upheld: u64,
    /// 1 for the first profile, +1 per replacement.
    pub version: u64,
    /// RFC 3339 time of the last replacement.
    pub updated_at: String,
}

/// One version of a credit profile, as `GET /api/v1/credit/{id}/history` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreditVersion {
    /// 1 for the first profile, +1 per replacement.
    pub version: u64,
    /// When it was written (RFC 3339).
    pub written_at: String,
    /// The role of who wrote it (the audit trail names the principal behind `request_id`).
    pub by_role: String,
    /// The request that wrote it.
    pub request_id: String,
    /// Its log leaf (`GET /api/v1/log/leaves/{index}`), checkpointed and anchored.
    pub leaf_index: u64,
    /// The profile as written.
    pub profile: CreditInput,
}

impl CreditVersion {
    fn of(r: &CreditRecord, input: &CreditInput, leaf_index: u64) -> Self {
        CreditVersion {
            version: r.version,
            written_at: rfc3339(r.at),
            by_role: r.by_role.clone(),
            request_id: r.request.clone(),
            leaf_index,
            profile: input.clone(),
        }
    }
}

/// `h` ‖ enterprise id ‖ version: a version of a profile in the history.
fn history_key(id: u64, version: u64) -> Vec<u8> {
    let mut k = b"h".to_vec();
    k.extend_from_slice(&crate::store::schema::u64_key(id));
    k.extend_from_slice(&crate::store::schema::u64_key(version));
    k
}

/// One line of `GET /api/v1/credit/dishonest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DishonestEntry {
    /// The enterprise.
    pub enterprise_id: u64,
    /// Its legal name.
    pub enterprise_name: String,
    /// Its unified social credit code.
    pub uscc: String,
    /// The listing.
    pub listing: DishonestListing,
}

/// What the store holds for a profile (complaint counts live under their own key).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredProfile {
    input: CreditInput,
    version: u64,
    updated_at: i64,
}

/// `v` is a date `YYYY-MM-DD`. `field` is the field as the API names it, `name` as this
/// request names it (`disclosures[3].date` for `disclosures[].date`).
fn check_date(field: &'static str, name: &str, v: &str) -> Result<String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(v, &fmt).map_err(|_| {
        InputError::field(
            field,
            format!("{name} must be a date YYYY-MM-DD, got {v:?}"),
        )
    })?;
    Ok(v.to_string())
}

fn validate(input: &CreditInput) -> Result<CreditInput> {
    if input.disclosures.len() > MAX_DISCLOSURES {
        return Err(InputError::field(
            "disclosures",
            format!(
                "disclosures: {} given, at most {MAX_DISCLOSURES} allowed",
                input.disclosures.len()
            ),
        )
        .into());
    }
    let mut disclosures = input
        .disclosures
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Ok(Disclosure {
                category: d.category,
                title: check_text(
                    &format!("disclosures[{i}].title"),
                    &d.title,
                    MAX_TITLE,
                    false,
                )?,
                detail: d
                    .detail
                    .as_deref()
                    .map(|x| check_text(&format!("disclosures[{i}].detail"), x, MAX_DETAIL, true))
                    .transpose()?,
                date: check_date(
                    "disclosures[].date",
                    &format!("disclosures[{i}].date"),
                    &d.date,
                )?,
                source: d
                    .source
                    .as_deref()
                    .map(|x| check_text(&format!("disclosures[{i}].source"), x, MAX_TITLE, false))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Newest first; ISO dates sort as text. Stable, so same-day entries keep their order.
    disclosures.sort_by(|a, b| b.date.cmp(&a.date));
    if input.return_days.is_some_and(|d| !(1..=365).contains(&d)) {
        return Err(InputError::field(
            "return_days",
            "return_days must be 1–365 (days of the no-reason-return promise), or absent",
        )
        .into());
    }
    Ok(CreditInput {
        return_days: input.return_days,
        rating: input.rating,
        rated_on: check_date("rated_on", "rated_on", &input.rated_on)?,
        basis: input
            .basis
            .as_deref()
            .map(|b| check_text("basis", b, MAX_DETAIL, true))
            .transpose()?,
        disclosures,
        dishonest: input
            .dishonest
            .as_ref()
            .map(|d| {
                Ok::<_, ServiceError>(DishonestListing {
                    reason: check_text("dishonest.reason", &d.reason, MAX_TITLE, false)?,
                    listed_on: check_date(
                        "dishonest.listed_on",
                        "dishonest.listed_on",
                        &d.listed_on,
                    )?,
                    authority: check_text("dishonest.authority", &d.authority, MAX_TITLE, false)?,
                })
            })
            .transpose()?,
    })
}

impl ConsumerServices {
    /// Replaces the credit profile of enterprise `id` (creating it the first time), written
    /// by `by`: the new version is logged and kept in the history, in one synced write.
    pub fn put_credit(
        &self,
        id: u64,
        input: &CreditInput,
        by: &Principal,
    ) -> Result<CreditProfile> {
        let input = validate(input)?;
        let ent = self.master.enterprise(id)?;
        let _guard = lock(&self.locks.complaints)?;
        let version = match self.store.get(Cf::Credit, &profile_key(id))? {
            Some(b) => decode_json::<StoredProfile>("credit profile", &b)?.version + 1,
            None => 1,
        };
        let stored = StoredProfile {
            input,
            version,
            updated_at: now().unix_timestamp(),
        };
        let record = CreditRecord {
            enterprise: id,
            version,
            at: stored.updated_at,
            by_role: by.role.as_str().to_string(),
            request: by.request.clone(),
            profile: serde_json::to_value(&stored.input)
                .map_err(|e| ServiceError::internal(format!("credit profile JSON: {e}")))?,
        };
        let data = record.leaf();
        let leaf = PendingLeaf {
            hash: crate::merkle::leaf_hash(&data),
            data,
        };
        self.log.append_leaves(vec![leaf], |index, wb| {
            wb.put(Cf::Credit, profile_key(id), encode_json(&stored));
            let row = CreditVersion::of(&record, &stored.input, index);
            wb.put(Cf::Credit, history_key(id, version), encode_json(&row));
            Ok(())
        })?;
        let counts = self.complaint_counts(id)?;
        Ok(profile(&ent.name, id, stored, counts))
    }

    /// Every version of enterprise `id`'s credit profile, oldest first (public).
    pub fn credit_history(&self, id: u64) -> Result<Vec<CreditVersion>> {
        self.master.enterprise(id)?;
        let start = history_key(id, 0);
        let end = history_key(id + 1, 0);
        self.store
            .range(Cf::Credit, &start, Some(&end), usize::MAX)?
            .iter()
            .map(|(_, v)| Ok(decode_json("credit version", v)?))
            .collect()
    }

    /// The credit profile of enterprise `id`.
    pub fn credit(&self, id: u64) -> Result<CreditProfile> {
        let ent = self.master.enterprise(id)?;
        self.find_credit(id, &ent.name)?
            .ok_or_else(|| ComplaintError::NoCreditProfile { enterprise_id: id }.into())
    }

    /// The profile, if the operator has written one.
    pub(crate) fn find_credit(&self, id: u64, name: &str) -> Result<Option<CreditProfile>> {
        let Some(b) = self.store.get(Cf::Credit, &profile_key(id))? else {
            return Ok(None);
        };
        let stored: StoredProfile = decode_json("credit profile", &b)?;
        Ok(Some(profile(name, id, stored, self.complaint_counts(id)?)))
    }

    /// Whether enterprise `id` is on an authority's dishonesty list (its profile says so):
    /// one read.
    pub fn is_dishonest(&self, id: u64) -> Result<bool> {
        let Some(b) = self.store.get(Cf::Credit, &profile_key(id))? else {
            return Ok(false);
        };
        let stored: StoredProfile = decode_json("credit profile", &b)?;
        Ok(stored.input.dishonest.is_some())
    }

    /// The version of each enterprise's credit profile in `ids`, in order (0 where there is
    /// none): one multi-read, decoding the version alone.
    pub fn credit_versions_of(&self, ids: &[u64]) -> Result<Vec<u64>> {
        #[derive(Deserialize)]
        struct Version {
            version: u64,
        }
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| profile_key(*id)).collect();
        self.store
            .multi_get(Cf::Credit, &keys)?
            .into_iter()
            .map(|v| match v {
                Some(b) => Ok(decode_json::<Version>("credit profile", &b)?.version),
                None => Ok(0),
            })
            .collect()
    }

    /// Every enterprise currently on the dishonesty list, by id.
    pub fn dishonest_list(&self) -> Result<Vec<DishonestEntry>> {
        let mut out = Vec::new();
        let mut start = profile_key(0);
        loop {
            let page = self
                .store
                .range(Cf::Credit, &start, Some(PROFILES_END), 1000)?;
            let Some((last, _)) = page.last() else { break };
            start = key_after(last);
            for (k, v) in &page {
                let stored: StoredProfile = decode_json("credit profile", v)?;
                let Some(listing) = stored.input.dishonest else {
                    continue;
                };
                let id = profile_key_id(k)?;
                if let Some(e) = self.master.find_enterprise(id)? {
                    out.push(DishonestEntry {
                        enterprise_id: id,
                        enterprise_name: e.name,
                        uscc: e.uscc,
                        listing,
                    });
                }
            }
            if page.len() < 1000 {
                break;
            }
        }
        Ok(out)
    }
}

fn profile(name: &str, id: u64, s: StoredProfile, counts: ComplaintCounts) -> CreditProfile {
    CreditProfile {
        enterprise_id: id,
        enterprise_name: name.to_string(),
        rating: s.input.rating,
        rated_on: s.input.rated_on,
        basis: s.input.basis,
        disclosures: s.input.disclosures,
        dishonest: s.input.dishonest,
        return_days: s.input.return_days,
        complaints_upheld: counts.resolved,
        version: s.version,
        updated_at: rfc3339(s.updated_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::ErrorKind;

    pub(crate) fn listed() -> CreditInput {
        CreditInput {
            return_days: None,
            rating: Rating::D,
            rated_on: "2026-10-01".into(),
            basis: Some("Sold relabelled goods twice in 2026".into()),
            disclosures: vec![
                Disclosure {
                    category: DisclosureCategory::Registration,
                    title: "Customs registration 3302960ABC".into(),
                    detail: None,
                    date: "2019-03-01".into(),
                    source: None,
                },
                Disclosure {
                    category: DisclosureCategory::Punishment,
                    title: "Fine for false origin declaration".into(),
                    detail: Some("CNY 200,000\nNingbo Customs".into()),
                    date: "2026-09-12".into(),
                    source: Some("甬关缉决字〔2026〕12号".into()),
                },
            ],
            dishonest: Some(DishonestListing {
                reason: "false origin declarations".into(),
                listed_on: "2026-10-01".into(),
                authority: "Ningbo Customs".into(),
            }),
        }
    }

    #[test]
    fn profiles_replace_validate_and_list() {
        let (svc, _) = test_service();
        seed(&svc);
        assert!(matches!(
            svc.consumer().credit(1),
            Err(ServiceError::Complaint(ComplaintError::NoCreditProfile {
                enterprise_id: 1
            }))
        ));
        assert!(matches!(
            svc.consumer().put_credit(99, &listed(), &Principal::cli()),
            Err(e) if e.kind() == ErrorKind::NotFound
        ));
        let p = svc
            .consumer()
            .put_credit(1, &listed(), &Principal::cli())
            .unwrap();
        assert_eq!(p.version, 1);
        assert_eq!(p.rating, Rating::D);
        assert_eq!(p.disclosures[0].date, "2026-09-12", "newest first");
        assert_eq!(svc.consumer().dishonest_list().unwrap().len(), 1);
        let mut ok = listed();
        ok.dishonest = None;
        ok.rating = Rating::B;
        let p = svc
            .consumer()
            .put_credit(1, &ok, &Principal::cli())
            .unwrap();
        assert_eq!(p.version, 2);
        assert_eq!(svc.consumer().credit(1).unwrap().rating, Rating::B);
        assert!(svc.consumer().dishonest_list().unwrap().is_empty());
        for (bad, want) in [
            (
                CreditInput {
                    rated_on: "2026-13-01".into(),
                    ..listed()
                },
                "rated_on must be a date",
            ),
            (
                CreditInput {
                    disclosures: vec![Disclosure {
                        title: " ".into(),
                        ..listed().disclosures[0].clone()
                    }],
                    ..listed()
                },
                "disclosures[0].title must not be empty",
            ),
            (
                CreditInput {
                    disclosures: vec![listed().disclosures[0].clone(); MAX_DISCLOSURES + 1],
                    ..listed()
                },
                "at most 200",
            ),
        ] {
            match svc.consumer().put_credit(1, &bad, &Principal::cli()) {
                Err(e) if e.kind() == ErrorKind::Invalid => {
                    assert!(e.to_string().contains(want), "{e}")
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            svc.consumer().credit(1).unwrap().version,
            2,
            "refusals change nothing"
        );
    }

    #[test]
    fn an_importer_on_the_dishonesty_list_makes_scans_warn() {
        use crate::service::telemetry::VerdictKind;
        let (svc, _) = test_service();
        seed(&svc);
        let code = crate::service::scan::tests::issue(&svc, 1).remove(0);
        let t = time::OffsetDateTime::now_utc();
        let v = svc.scans().scan(&code, None, t);
        assert_eq!(v.verdict, VerdictKind::Genuine);
        assert!(v.product.unwrap().credit.is_none());
        svc.consumer()
            .put_credit(1, &listed(), &Principal::cli())
            .unwrap();
        let v = svc.scans().scan(&code, None, t);
        assert_eq!(v.verdict, VerdictKind::GenuineWithWarning);
        assert_eq!(v.reasons[0].code, "dishonest_enterprise");
        assert!(v.reasons[0].message.contains("Ningbo Customs"));
        assert_eq!(v.product.unwrap().credit.unwrap().rating, Rating::D);
    }
}

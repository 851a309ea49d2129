//! The demo data set (`fixtures/demo.json`): enterprises, products, actors with their own
//! keys, issued lots and their complete custody chains, signed by the actors' keys exactly as
//! `traceseal attest` / `traceseal event` would. Loaded by `traceseal demo` and by
//! `serve --init` on a new data directory.

use std::path::{Path, PathBuf};

use base64::Engine;
use ed25519_dalek::SigningKey;
use serde::Deserialize;
use tracing::info;

use super::custody::{ActorInput, KeyInput, RecallInput};
use super::errors::SetupError;
use super::issuance::BatchRequest;
use super::master::{EnterpriseInput, ProductInput};
use super::{Result, Service, ServiceError};
use crate::code::KeyId;
use crate::custody::record::{Event, Place, Role};
use crate::custody::Statement;
use crate::store::schema::META_DEMO_LOADED;
use crate::store::{Cf, Durability, WriteBatch};

/// The built-in copy of `fixtures/demo.json`.
pub const BUILTIN: &str = include_str!("../../fixtures/demo.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Demo {
    #[allow(dead_code)]
    about: String,
    enterprises: Vec<DemoEnterprise>,
    products: Vec<DemoProduct>,
    actors: Vec<DemoActor>,
    lots: Vec<DemoLot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoEnterprise {
    key: String,
    name: String,
    uscc: String,
    country: String,
    /// Its credit profile, written before its lots (so its first grades count it).
    #[serde(default)]
    credit: Option<super::credit::CreditInput>,
    /// A grade set by the operator after the lots (e.g. the green channel by a joint review).
    #[serde(default)]
    grade_override: Option<super::grading::OverrideInput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoProduct {
    gtin: String,
    name_zh: String,
    name_en: String,
    enterprise: String,
    #[serde(default)]
    category: Option<crate::service::master::ProductCategory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoActor {
    id: String,
    organisation: String,
    country: String,
    role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoLot {
    gtin: String,
    lot: String,
    #[serde(default)]
    expiry: Option<String>,
    quantity: u64,
    #[serde(default)]
    recall: Option<String>,
    #[serde(default)]
    recall_class: Option<crate::custody::RecallClass>,
    events: Vec<DemoEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoEvent {
    actor: String,
    time: String,
    #[serde(default)]
    place: Option<Place>,
    event: Event,
    /// Item-scoped: the first N items of the lot's batch.
    #[serde(default)]
    first_items: Option<usize>,
}

/// What was loaded.
#[derive(Debug, Default)]
pub struct DemoReport {
    /// Products registered.
    pub products: usize,
    /// Actors registered (their keys are in `keys_dir`).
    pub actors: usize,
    /// Lots issued.
    pub lots: usize,
    /// Custody records accepted.
    pub records: usize,
    /// Engagements made (importer × actor).
    pub engagements: usize,
    /// Where the actors' private keys were written.
    pub keys_dir: PathBuf,
    /// One code per lot, to try a scan with.
    pub sample_codes: Vec<String>,
    /// False when the data directory already had the demo data.
    pub loaded: bool,
}

impl Service {
    /// Loads the demo data set from `text`, writing each actor's private key to
    /// `keys_dir/{actor}.pem` (0600). Does nothing if it was loaded before.
    pub fn load_demo(&self, text: &str, keys_dir: &Path) -> Result<DemoReport> {
        let mut report = DemoReport {
            keys_dir: keys_dir.to_path_buf(),
            ..Default::default()
        };
        if self.store.get(Cf::Meta, META_DEMO_LOADED)?.is_some() {
            return Ok(report);
        }
        let demo: Demo =
            serde_json::from_str(text).map_err(|source| SetupError::BadDemoFile { source })?;
        self.demo_master_data(&demo, &mut report)?;
        let keys = self.demo_actors(&demo, keys_dir, &mut report)?;
        self.demo_engagements(&demo, &mut report)?;
        for l in &demo.lots {
            self.demo_lot(l, &keys, &mut report)?;
        }
        self.demo_grades(&demo)?;
        let mut wb = WriteBatch::new();
        wb.put(Cf::Meta, META_DEMO_LOADED, b"1".to_vec());
        self.store.write(wb, Durability::Synced)?;
        self.log().checkpoint_now()?;
        report.loaded = true;
        info!(
            products = report.products,
            actors = report.actors,
            lots = report.lots,
            records = report.records,
            "loaded the demo data"
        );
        Ok(report)
    }

    /// The demo's enterprises and products.
    fn demo_master_data(&self, demo: &Demo, report: &mut DemoReport) -> Result<()> {
        let mut enterprise_ids = std::collections::HashMap::new();
        for e in &demo.enterprises {
            let created = self.master().create_enterprise(&EnterpriseInput {
                name: e.name.clone(),
                uscc: e.uscc.clone(),
                country: e.country.clone(),
            })?;
            if let Some(c) = &e.credit {
                self.consumer()
                    .put_credit(created.id, c, &demo_operator())?;
            }
            enterprise_ids.insert(e.key.clone(), created.id);
        }
        for p in &demo.products {
            let id = *enterprise_ids.get(&p.enterprise).ok_or_else(|| {
                SetupError::DemoUnknownEnterprise {
                    gtin: p.gtin.clone(),
                    enterprise: p.enterprise.clone(),
                }
            })?;
            self.master().create_product(&ProductInput {
                gtin: p.gtin.clone(),
                name_zh: p.name_zh.clone(),
                name_en: p.name_en.clone(),
                enterprise_id: id,
                category: p.category,
            })?;
            report.products += 1;
        }
        Ok(())
    }

    /// Grades every enterprise now (the lots moved them), then applies the demo's overrides.
    fn demo_grades(&self, demo: &Demo) -> Result<()> {
        self.grading().refresh(super::now_unix())?;
        for e in &demo.enterprises {
            if let Some(o) = &e.grade_override {
                let id = self.master().enterprise_by_uscc(&e.uscc)?.id;
                self.grading().set_override(id, o, &demo_operator())?;
            }
        }
        Ok(())
    }

    /// The demo's actors, each registered with a new key written to `keys_dir`.
    fn demo_actors(
        &self,
        demo: &Demo,
        keys_dir: &Path,
        report: &mut DemoReport,
    ) -> Result<std::collections::HashMap<String, SigningKey>> {
        std::fs::create_dir_all(keys_dir).map_err(|e| {
            ServiceError::Internal(format!("cannot create {}: {e}", keys_dir.display()))
        })?;
        let mut keys = std::collections::HashMap::new();
        for a in &demo.actors {
            let key = crate::keys::generate();
            let path = keys_dir.join(format!("{}.pem", a.id));
            crate::keys::write_private_pem(&path, &key)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            self.registry().register_actor(&ActorInput {
                id: a.id.clone(),
                organisation: a.organisation.clone(),
                country: a.country.clone(),
                role: a.role,
                keys: vec![KeyInput {
                    public_key: base64::engine::general_purpose::STANDARD
                        .encode(key.verifying_key().as_bytes()),
                    not_before: None,
                    not_after: None,
                    replaces: None,
                }],
            })?;
            keys.insert(a.id.clone(), key);
            report.actors += 1;
        }
        Ok(keys)
    }

    /// Each importer engages the actors that handle its lots, for those products only.
    fn demo_engagements(&self, demo: &Demo, report: &mut DemoReport) -> Result<()> {
        let mut engaged: std::collections::BTreeMap<(u64, String), Vec<String>> =
            std::collections::BTreeMap::new();
        for l in &demo.lots {
            let p = self.master().product(&l.gtin)?;
            for ev in &l.events {
                engaged
                    .entry((p.enterprise_id, ev.actor.clone()))
                    .or_default()
                    .push(p.gtin.clone());
            }
        }
        for ((enterprise, actor), gtins) in engaged {
            self.engagements().engage(
                enterprise,
                &super::engagements::EngagementInput {
                    actor_id: actor,
                    gtins,
                    not_before: None,
                    not_after: None,
                },
            )?;
            report.engagements += 1;
        }
        Ok(())
    }

    /// One demo lot: its batch, its custody records signed by the actors' keys, its recall.
    fn demo_lot(
        &self,
        l: &DemoLot,
        keys: &std::collections::HashMap<String, SigningKey>,
        report: &mut DemoReport,
    ) -> Result<()> {
        let (batch, _) = self.issuance().issue_batch(
            &BatchRequest {
                gtin: l.gtin.clone(),
                lot: l.lot.clone(),
                expiry: l.expiry.clone(),
                quantity: l.quantity,
            },
            &format!("demo-{}-{}", l.gtin, l.lot),
            &|_| {},
        )?;
        let codes = self
            .issuance()
            .batch_codes(&batch, 0, l.quantity as usize)?;
        if let Some(c) = codes.first() {
            report.sample_codes.push(c.code.clone());
        }
        let lot_id = format!("{}.{}", batch.gtin, l.lot);
        for ev in &l.events {
            let key = keys
                .get(&ev.actor)
                .ok_or_else(|| SetupError::DemoUnknownActor {
                    actor: ev.actor.clone(),
                })?;
            let mut items: Vec<String> = match ev.first_items {
                Some(n) => codes
                    .iter()
                    .take(n)
                    .map(|c| crate::commitment::ItemRef::of_uri(&c.code).to_string())
                    .collect(),
                None => Vec::new(),
            };
            items.sort();
            let sub = sign(
                key,
                Statement {
                    log: self.origin().to_string(),
                    lot: lot_id.clone(),
                    items,
                    prev: self.custody().lot_head(&lot_id)?,
                    actor: ev.actor.clone(),
                    kid: String::new(),
                    time: ev.time.clone(),
                    signed_at: super::now_unix(),
                    nonce: crate::custody::record::random_nonce(),
                    place: ev.place.clone(),
                    event: ev.event.clone(),
                },
            );
            self.custody()
                .submit(&sub)
                .map_err(|e| SetupError::DemoRecordRefused {
                    lot: lot_id.clone(),
                    step: ev.event.step(),
                    actor: ev.actor.clone(),
                    source: Box::new(e),
                })?;
            report.records += 1;
        }
        if let Some(reason) = &l.recall {
            self.custody().recall(
                &lot_id,
                &RecallInput {
                    reason: reason.clone(),
                    class: l.recall_class,
                },
            )?;
            report.records += 1;
        }
        report.lots += 1;
        Ok(())
    }
}

/// Who writes the demo's operator records (their log leaves say `operator`, request `demo`).
fn demo_operator() -> crate::authz::Principal {
    crate::authz::Principal {
        id: "demo".into(),
        role: crate::authz::Role::Operator,
        enterprise: None,
        request: "demo".into(),
    }
}

fn sign(key: &SigningKey, mut st: Statement) -> super::custody::Submission {
    st.kid = KeyId::of(&key.verifying_key()).to_string();
    super::custody::Submission {
        statement: st.canonical(),
        signature: st.sign(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::LotId;
    use crate::service::setup::test_service;

    #[test]
    fn the_builtin_demo_loads_complete_chains_once() {
        let (svc, _) = test_service();
        let dir = tempfile::tempdir().unwrap();
        let r = svc.load_demo(BUILTIN, dir.path()).unwrap();
        assert!(r.loaded);
        assert_eq!((r.products, r.lots), (4, 5));
        assert_eq!(r.records, 60, "59 signed records and one recall");
        // Different grades with histories: a safety recall takes Ningbo Haishu (infant
        // formula) from B to C and onto the warning list; Yongjiang has the green channel by
        // an override; Beilun stays B.
        let grade = |uscc: &str| {
            let id = svc.master().enterprise_by_uscc(uscc).unwrap().id;
            svc.grading().grade(id).unwrap()
        };
        let haishu = grade("91330206MA2AF1C3XT");
        assert_eq!(
            (haishu.grade, haishu.score),
            (crate::grading::Grade::C, 55.0)
        );
        assert_eq!(haishu.warnings.len(), 1);
        let yongjiang = grade("91330201MA2H7KQ4PB");
        assert_eq!(yongjiang.grade, crate::grading::Grade::A);
        assert_eq!(
            yongjiang.history.last().unwrap().cause,
            crate::records::GradeCause::Override
        );
        assert_eq!(grade("91330206MA2CL9T8BD").grade, crate::grading::Grade::B);
        for a in ["au-oceania-inspection", "cn-nb-bonded-wh3"] {
            let p = dir.path().join(format!("{a}.pem"));
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        // Each of the four main lots went from attestation to release and pickup.
        for lot in [
            "09312345000128.AU2610A",
            "03780000000459.BDX22-117",
            "08800123000671.KR5521",
            "04901234000896.JP26H031",
        ] {
            let l = LotId::parse(lot).unwrap();
            assert!(
                svc.custody()
                    .lot_has_step(&l, crate::custody::Step::SelfPickup)
                    .unwrap(),
                "{lot}"
            );
            let st = svc.custody().find_lot_state(&l).unwrap().unwrap();
            assert!(st.holds.is_empty() && st.recalled.is_none(), "{lot}");
        }
        let again = svc.load_demo(BUILTIN, dir.path()).unwrap();
        assert!(!again.loaded, "loaded only once");
    }
}

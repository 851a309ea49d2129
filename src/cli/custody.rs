//! Actor commands: make an actor key, and sign custody statements locally with it and submit
//! them (`attest`, `event`). The private key never leaves the actor's machine: only the
//! statement and its signature are sent.

use anyhow::{anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use crate::code::KeyId;
use crate::custody::record::{
    self, format_event_time, random_nonce, Attestation, Conformance, Customs, DocumentRef, Event,
    Hold, HoldType, Movement, Outbound, Packing, Place, Sampling, Step, Warehousing,
};
use crate::custody::{LotId, Statement, GENESIS};
use crate::service::custody::{Accepted, Submission};

/// Exit codes of `attest` and `event`.
pub mod exit {
    /// Accepted.
    pub const OK: u8 = 0;
    /// The server refused the record (the reason is printed).
    pub const REFUSED: u8 = 1;
    /// Usage error, unreadable key or file.
    pub const USAGE: u8 = 2;
    /// The server could not be reached or failed.
    pub const UNREACHABLE: u8 = 4;
}

/// Who signs, where to submit, and the common fields of a statement.
#[derive(Debug, Args)]
pub struct Signer {
    /// Base URL of the traceseal service, e.g. https://verify.example.com.
    #[arg(
        long,
        env = "TRACESEAL_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// Your actor id, as registered by the operator.
    #[arg(long, env = "TRACESEAL_ACTOR")]
    pub actor: String,
    /// Your private key (PKCS#8 PEM, mode 0600), from `traceseal actor-key`.
    #[arg(long, env = "TRACESEAL_ACTOR_KEY")]
    pub key: PathBuf,
    /// The lot: `{gtin14}.{lot}`, e.g. 09312345678907.L2026A.
    #[arg(long)]
    pub lot: String,
    /// When it happened, `YYYY-MM-DDTHH:MM:SS±HH:MM` (default: now, UTC).
    #[arg(long)]
    pub time: Option<String>,
    /// Place name, e.g. "Port of Melbourne".
    #[arg(long)]
    pub place: Option<String>,
    /// Place country (ISO 3166-1 alpha-2), required with --place.
    #[arg(long)]
    pub place_country: Option<String>,
    /// UN/LOCODE of the place, e.g. AUMEL.
    #[arg(long)]
    pub unlocode: Option<String>,
    /// GLN of the place (13 digits).
    #[arg(long)]
    pub gln: Option<String>,
}

/// `traceseal attest`: an origin attestation.
#[derive(Debug, Args)]
pub struct AttestArgs {
    #[command(flatten)]
    pub signer: Signer,
    /// Inspection certificate number.
    #[arg(long)]
    pub certificate: String,
    /// Country of origin (ISO 3166-1 alpha-2).
    #[arg(long)]
    pub origin: String,
    /// Producer.
    #[arg(long)]
    pub producer: String,
    /// Inspection date, YYYY-MM-DD.
    #[arg(long)]
    pub inspection_date: String,
    /// `conformant` or `non_conformant`.
    #[arg(long)]
    pub result: String,
    /// A supporting document: its SHA-256 is attested (the file is not sent). Repeatable.
    #[arg(long = "document")]
    pub documents: Vec<PathBuf>,
}

/// `traceseal event`: any other custody step.
#[derive(Debug, Args)]
pub struct EventArgs {
    #[command(flatten)]
    pub signer: Signer,
    /// packing, shipping, departing, arriving, customs_declaration, customs_clearance,
    /// receiving, storing, sampling, holding, hold_release, release, retail_sale,
    /// self_pickup.
    #[arg(long)]
    pub step: String,
    /// The codes of the items the event covers, as scanned from their labels (release,
    /// retail_sale and self_pickup only; repeat the option or separate with spaces inside one
    /// quoted argument). The statement names each item by its item reference, computed here
    /// from the code; the codes themselves are never sent. Default: the whole lot.
    #[arg(long = "code", value_delimiter = ' ')]
    pub codes: Vec<String>,
    /// A file with one scanned code per line (in addition to --code).
    #[arg(long)]
    pub codes_file: Option<PathBuf>,
    /// Customs declaration number (customs_declaration, customs_clearance; per-order list
    /// number for release, retail_sale, self_pickup).
    #[arg(long)]
    pub declaration_no: Option<String>,
    /// `customs` or `quality` (holding, hold_release).
    #[arg(long)]
    pub hold_type: Option<String>,
    /// Why (holding) or what resolved it (hold_release).
    #[arg(long)]
    pub reason: Option<String>,
    /// Vessel, voyage or flight (shipping, departing, arriving).
    #[arg(long)]
    pub transport: Option<String>,
    /// Bill of lading / air waybill (shipping, departing, arriving).
    #[arg(long)]
    pub bill_of_lading: Option<String>,
    /// Number of packages (packing).
    #[arg(long)]
    pub packages: Option<u32>,
    /// Container or SSCC (packing).
    #[arg(long)]
    pub container: Option<String>,
    /// Storage location (receiving, storing).
    #[arg(long)]
    pub location: Option<String>,
    /// Order number (release, retail_sale, self_pickup).
    #[arg(long)]
    pub order_no: Option<String>,
    /// Inspection report number (sampling).
    #[arg(long)]
    pub report_no: Option<String>,
    /// Units sampled (sampling).
    #[arg(long)]
    pub samples: Option<u32>,
    /// `conformant` or `non_conformant` (sampling).
    #[arg(long)]
    pub result: Option<String>,
    /// A supporting document of a sampling inspection: its SHA-256 is recorded (the file
    /// is not sent). Repeatable.
    #[arg(long = "document")]
    pub documents: Vec<PathBuf>,
}

fn need(v: &Option<String>, flag: &str, step: Step) -> anyhow::Result<String> {
    v.clone().ok_or_else(|| anyhow!("{step} needs --{flag}"))
}

impl EventArgs {
    fn event(&self) -> anyhow::Result<Event> {
        let step = Step::parse(&self.step).ok_or_else(|| {
            anyhow!(
                "unknown step {:?}; one of: {}",
                self.step,
                Step::ALL
                    .iter()
                    .filter(|s| **s != Step::OriginAttestation)
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let movement = || Movement {
            transport: self.transport.clone(),
            bill_of_lading: self.bill_of_lading.clone(),
        };
        let hold = || -> anyhow::Result<Hold> {
            let t = match need(&self.hold_type, "hold-type", step)?.as_str() {
                "customs" => HoldType::Customs,
                "quality" => HoldType::Quality,
                other => {
                    return Err(anyhow!(
                        "--hold-type must be customs or quality, not {other:?}"
                    ))
                }
            };
            Ok(Hold {
                hold_type: t,
                reason: need(&self.reason, "reason", step)?,
            })
        };
        let outbound = || Outbound {
            order_no: self.order_no.clone(),
            declaration_no: self.declaration_no.clone(),
        };
        let wh = || Warehousing {
            location: self.location.clone(),
        };
        Ok(match step {
            Step::OriginAttestation => {
                return Err(anyhow!("use `traceseal attest` for an origin attestation"))
            }
            Step::Packing => Event::Packing(Packing {
                packages: self.packages,
                container: self.container.clone(),
            }),
            Step::Shipping => Event::Shipping(movement()),
            Step::Departing => Event::Departing(movement()),
            Step::Arriving => Event::Arriving(movement()),
            Step::CustomsDeclaration => Event::CustomsDeclaration(Customs {
                declaration_no: need(&self.declaration_no, "declaration-no", step)?,
            }),
            Step::CustomsClearance => Event::CustomsClearance(Customs {
                declaration_no: need(&self.declaration_no, "declaration-no", step)?,
            }),
            Step::Receiving => Event::Receiving(wh()),
            Step::Storing => Event::Storing(wh()),
            Step::Sampling => Event::Sampling(Sampling {
                report_no: need(&self.report_no, "report-no", step)?,
                samples: self
                    .samples
                    .ok_or_else(|| anyhow!("{step} needs --samples"))?,
                result: conformance(&need(&self.result, "result", step)?)?,
                documents: document_refs(&self.documents)?,
            }),
            Step::Holding => Event::Holding(hold()?),
            Step::HoldRelease => Event::HoldRelease(hold()?),
            Step::Release => Event::Release(outbound()),
            Step::RetailSale => Event::RetailSale(outbound()),
            Step::SelfPickup => Event::SelfPickup(outbound()),
        })
    }

    /// The item references of the codes given, sorted and unique; every code must be of
    /// the lot.
    fn items(&self) -> anyhow::Result<Vec<String>> {
        let mut codes: Vec<String> = self.codes.iter().map(|x| x.trim().to_string()).collect();
        if let Some(f) = &self.codes_file {
            let text = std::fs::read_to_string(f)
                .map_err(|e| anyhow!("cannot read {}: {e}", f.display()))?;
            codes.extend(text.lines().map(|l| l.trim().to_string()));
        }
        let lot = LotId::parse(&self.signer.lot)?;
        let mut refs = Vec::with_capacity(codes.len());
        for (i, c) in codes.iter().filter(|c| !c.is_empty()).enumerate() {
            let code = crate::code::Code::parse(c).map_err(|e| anyhow!("code {}: {e}", i + 1))?;
            let item = code.item();
            if item.gtin != lot.gtin || item.lot != lot.lot {
                bail!(
                    "code {} is of lot {}.{}, not {lot}",
                    i + 1,
                    item.gtin.as_str(),
                    item.lot.as_str()
                );
            }
            refs.push(crate::commitment::ItemRef::of(&code).to_string());
        }
        refs.sort();
        refs.dedup();
        Ok(refs)
    }
}

/// `traceseal actor-key --out PATH`: a new Ed25519 key (PKCS#8 PEM, 0600).
pub fn actor_key(out: &Path) -> ExitCode {
    if out.exists() {
        eprintln!(
            "error: {} exists; refusing to overwrite a key",
            out.display()
        );
        return ExitCode::from(exit::USAGE);
    }
    let key = crate::keys::generate();
    if let Err(e) = crate::keys::write_private_pem(out, &key) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::USAGE);
    }
    let vk = key.verifying_key();
    println!(
        "wrote {} (mode 0600; keep it on this machine)",
        out.display()
    );
    println!("  kid         {}", KeyId::of(&vk));
    println!(
        "  public key  {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, vk.as_bytes())
    );
    println!("give the public key (not the file) to the platform operator to register");
    ExitCode::SUCCESS
}

/// `traceseal attest`.
pub fn attest(a: &AttestArgs) -> ExitCode {
    let event = (|| -> anyhow::Result<Event> {
        Ok(Event::OriginAttestation(Attestation {
            certificate_no: a.certificate.clone(),
            origin_country: a.origin.clone(),
            producer: a.producer.clone(),
            inspection_date: a.inspection_date.clone(),
            result: conformance(&a.result)?,
            documents: document_refs(&a.documents)?,
        }))
    })();
    match event {
        Ok(e) => submit(&a.signer, e, Vec::new()),
        Err(m) => usage(&m),
    }
}

/// `--result`: `conformant` or `non_conformant`.
fn conformance(v: &str) -> anyhow::Result<Conformance> {
    match v {
        "conformant" => Ok(Conformance::Conformant),
        "non_conformant" => Ok(Conformance::NonConformant),
        other => Err(anyhow!(
            "--result must be conformant or non_conformant, not {other:?}"
        )),
    }
}

/// The files given with `--document`, by name and SHA-256 (the files are not sent).
fn document_refs(files: &[PathBuf]) -> anyhow::Result<Vec<DocumentRef>> {
    files
        .iter()
        .map(|d| {
            let bytes =
                std::fs::read(d).map_err(|e| anyhow!("cannot read {}: {e}", d.display()))?;
            Ok(DocumentRef {
                name: d
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                sha256: record::hex(&Sha256::digest(&bytes)),
            })
        })
        .collect()
}

/// `traceseal event`.
pub fn event(a: &EventArgs) -> ExitCode {
    match a.event().and_then(|e| Ok((e, a.items()?))) {
        Ok((e, items)) => submit(&a.signer, e, items),
        Err(m) => usage(&m),
    }
}

fn usage(m: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {m:#}");
    ExitCode::from(exit::USAGE)
}

/// Everything a statement needs except `prev`, signed_at and nonce.
pub struct Draft {
    /// Lot id text.
    pub lot: String,
    /// Item references (sorted, unique) or empty.
    pub items: Vec<String>,
    /// Actor id.
    pub actor: String,
    /// Event time text.
    pub time: String,
    /// Place.
    pub place: Option<Place>,
    /// The event.
    pub event: Event,
}

impl Draft {
    /// A signed submission for the log `log` and the lot head `prev`, signed now.
    pub fn sign(&self, key: &SigningKey, log: &str, prev: &str) -> Submission {
        let st = Statement {
            log: log.to_string(),
            lot: self.lot.clone(),
            items: self.items.clone(),
            prev: prev.to_string(),
            actor: self.actor.clone(),
            kid: KeyId::of(&key.verifying_key()).to_string(),
            time: self.time.clone(),
            signed_at: crate::service::now_unix(),
            nonce: random_nonce(),
            place: self.place.clone(),
            event: self.event.clone(),
        };
        Submission {
            statement: st.canonical(),
            signature: st.sign(key),
        }
    }
}

/// The outcome of a submission.
pub enum Outcome {
    /// Accepted.
    Accepted(Accepted),
    /// Refused with this status and problem detail.
    Refused(u16, String),
}

/// Client of the custody endpoints.
pub struct Client {
    base: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Client {
    /// A client of `server`.
    pub fn new(server: &str) -> anyhow::Result<Client> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| anyhow!("cannot start the async runtime: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| anyhow!("HTTP client: {e}"))?;
        Ok(Client {
            base: server.trim_end_matches('/').to_string(),
            http,
            rt,
        })
    }

    /// The service's log origin and the lot's head (GENESIS for a lot with no record yet).
    pub fn head(&self, lot: &str) -> anyhow::Result<(String, String)> {
        let url = format!("{}/api/v1/lots/{lot}/head", self.base);
        self.rt.block_on(async {
            let r = self
                .http
                .get(&url)
                .send()
                .await
                .map_err(|e| anyhow!("cannot reach {url}: {e}"))?;
            match r.status().as_u16() {
                200 => r
                    .json::<crate::http::custody::LotHead>()
                    .await
                    .map(|v| (v.log, v.head))
                    .map_err(|e| anyhow!("unexpected answer from {url}: {e}")),
                429 => Err(anyhow!(
                    "{url}: rate-limited by the server; retry in a moment"
                )),
                s => Err(anyhow!(
                    "{url} answered {s}: {}",
                    r.text().await.unwrap_or_default()
                )),
            }
        })
    }

    /// Posts a submission.
    pub fn post(&self, sub: &Submission) -> anyhow::Result<Outcome> {
        let url = format!("{}/api/v1/custody/records", self.base);
        self.rt.block_on(async {
            let r = self
                .http
                .post(&url)
                .json(sub)
                .send()
                .await
                .map_err(|e| anyhow!("cannot reach {url}: {e}"))?;
            let status = r.status().as_u16();
            if status == 201 {
                return r
                    .json::<Accepted>()
                    .await
                    .map(Outcome::Accepted)
                    .map_err(|e| anyhow!("unexpected answer: {e}"));
            }
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let detail = body
                .get("detail")
                .and_then(|d| d.as_str())
                .unwrap_or("no detail")
                .to_string();
            if status >= 500 {
                bail!("the server failed ({status}): {detail}");
            }
            Ok(Outcome::Refused(status, detail))
        })
    }

    /// Signs with the current head and submits; when another record moved the head in
    /// between, fetches it and signs again (3 attempts in all).
    pub fn sign_and_submit(&self, draft: &Draft, key: &SigningKey) -> anyhow::Result<Outcome> {
        let mut last = None;
        for _ in 0..3 {
            let (log, prev) = self.head(&draft.lot)?;
            match self.post(&draft.sign(key, &log, &prev))? {
                Outcome::Refused(409, d) if d.contains("is not the head") => last = Some(d),
                other => return Ok(other),
            }
        }
        Ok(Outcome::Refused(409, last.unwrap_or_default()))
    }
}

fn submit(s: &Signer, event: Event, items: Vec<String>) -> ExitCode {
    let key = match crate::keys::read_private_pem(&s.key) {
        Ok(k) => k,
        Err(e) => return usage(e),
    };
    if let Err(e) = LotId::parse(&s.lot) {
        return usage(&e);
    }
    let time = match &s.time {
        Some(t) => t.clone(),
        None => format_event_time(
            time::OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap_or(time::OffsetDateTime::now_utc()),
        ),
    };
    let place = match (&s.place, &s.place_country) {
        (Some(name), Some(country)) => Some(Place {
            name: name.clone(),
            country: country.clone(),
            unlocode: s.unlocode.clone(),
            gln: s.gln.clone(),
        }),
        (None, None) if s.unlocode.is_none() && s.gln.is_none() => None,
        _ => {
            return usage(
                "--place and --place-country go together (with optional --unlocode, --gln)",
            )
        }
    };
    let draft = Draft {
        lot: s.lot.clone(),
        items,
        actor: s.actor.clone(),
        time,
        place,
        event,
    };
    // Check the statement's shape locally before anything is signed or sent.
    let probe = draft.sign(&key, "probe", GENESIS);
    if let Err(e) = record::parse_statement(&probe.statement) {
        return usage(e);
    }
    let client = match Client::new(&s.server) {
        Ok(c) => c,
        Err(e) => return usage(&e),
    };
    match client.sign_and_submit(&draft, &key) {
        Ok(Outcome::Accepted(a)) => {
            println!(
                "accepted: {} for lot {} is log leaf {} (record hash {})",
                a.step, a.lot, a.leaf_index, a.record_hash
            );
            ExitCode::from(exit::OK)
        }
        Ok(Outcome::Refused(status, detail)) => {
            println!("refused ({status}): {detail}");
            ExitCode::from(exit::REFUSED)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::UNREACHABLE)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn codes_become_item_references_of_the_lot() {
        let host = crate::code::Host::parse("verify.example.com").unwrap();
        let key = crate::keys::generate();
        let kid = crate::code::KeyId::of(&key.verifying_key());
        let code = |lot: &str, serial: &str| {
            let item = crate::code::ItemId {
                gtin: crate::gs1::Gtin::parse("09506000134352").unwrap(),
                lot: crate::gs1::Lot::parse(lot).unwrap(),
                serial: crate::gs1::Serial::parse(serial).unwrap(),
                expiry: None,
            };
            crate::code::Code::sign(&host, &item, kid, &key)
                .as_str()
                .to_string()
        };
        let (a, b) = (code("L1", "-3abc"), code("L1", "Zx_9"));
        let parse = |codes: &[&str]| {
            let mut args = vec![
                "traceseal",
                "event",
                "--actor",
                "a1",
                "--key",
                "k.pem",
                "--lot",
                "09506000134352.L1",
                "--step",
                "release",
            ];
            for c in codes {
                args.extend(["--code", c]);
            }
            let Command::Event(e) = Cli::try_parse_from(args).unwrap().command else {
                panic!("not an event command")
            };
            e.items()
        };
        let mut want = vec![
            crate::commitment::ItemRef::of_uri(&a).to_string(),
            crate::commitment::ItemRef::of_uri(&b).to_string(),
        ];
        want.sort();
        assert_eq!(parse(&[&b, &a, &b]).unwrap(), want, "sorted and unique");
        let other = code("L2", "Zx_9");
        assert!(parse(&[&a, &other])
            .unwrap_err()
            .to_string()
            .contains("not 09506000134352.L1"));
        assert!(parse(&["https://nope"])
            .unwrap_err()
            .to_string()
            .starts_with("code 1:"));
    }
}

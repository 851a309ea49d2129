//! Custody submissions: accepted events per second end to end through the service
//! (canonical-JSON parse, `verify_strict`, key validity and freshness, role, replay guard,
//! lot state machine, one synced RocksDB write with the log append), against raw
//! `verify_strict` of the same signed messages on the same core, in the same run. Plus one
//! item-scoped release naming 10,000 items (a whole lot's worth in one event). The concurrent
//! runs submit from 1, 8 or 32 async tasks on a runtime with one worker per core, through
//! `Custody::submit_async` (the HTTP handler's call), against raw `verify_strict` by as many
//! threads. At 32 submitters, paired rounds then measure both sides on the same statements
//! back to back, for a ratio that a change in the machine's speed between criterion's two
//! measurements cannot move.
//!
//! Run: `./scripts/dev bench --bench custody` (`-- 'threads|tasks'` for the concurrent runs only)

use std::time::{Duration, Instant};

use base64::Engine;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use traceseal::code::KeyId;
use traceseal::custody::record::{self, Event, Outbound, Role, Warehousing};
use traceseal::custody::{SignedStatement, Statement};
use traceseal::service::custody::{ActorInput, KeyInput, Submission};
use traceseal::service::issuance::BatchRequest;
use traceseal::service::Service;

mod common;

use common::GTIN;

/// Events per measured iteration.
const N: u64 = 2_000;
/// Records per measured iteration of the concurrent runs (divisible by every count below).
const CONCURRENT_N: u64 = 3_200;
/// Concurrent submitters measured.
const SUBMITTERS: [u64; 3] = [1, 8, 32];
/// Serials in the bulk release.
const BULK: u64 = 10_000;
/// Paired rounds at 32 submitters (see [`paired_rounds`]).
const PAIRED_ROUNDS: usize = 48;
/// The issue's target: accepted records/s at 32 submitters at least this share of raw
/// `verify_strict` by 32 threads.
const TARGET: f64 = 0.60;

/// The paired rounds' summary line, printed with the others at the end.
static PAIRED: std::sync::OnceLock<String> = std::sync::OnceLock::new();

struct World {
    _dir: tempfile::TempDir,
    svc: Service,
    keys: Vec<(Role, String, SigningKey)>,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let svc = common::service(dir.path());
    let mut keys = Vec::new();
    for (i, role) in Role::ALL.into_iter().enumerate() {
        let sk = SigningKey::from_bytes(&[i as u8 + 1; 32]);
        let id = role.as_str().replace('_', "-");
        svc.registry()
            .register_actor(&ActorInput {
                id: id.clone(),
                organisation: id.clone(),
                country: "AU".into(),
                role,
                keys: vec![KeyInput {
                    public_key: base64::engine::general_purpose::STANDARD
                        .encode(sk.verifying_key().as_bytes()),
                    not_before: Some(0),
                    not_after: None,
                    replaces: None,
                }],
            })
            .unwrap();
        keys.push((role, id, sk));
    }
    // The product's importer engages every actor (only engaged actors' records count).
    let enterprise = svc.master().list_enterprises(0, 1).unwrap()[0].id;
    for (_, id, _) in &keys {
        svc.engagements()
            .engage(
                enterprise,
                &traceseal::service::engagements::EngagementInput {
                    actor_id: id.clone(),
                    gtins: vec![],
                    not_before: Some(0),
                    not_after: None,
                },
            )
            .unwrap();
    }
    World {
        _dir: dir,
        svc,
        keys,
    }
}

impl World {
    fn statement(
        &self,
        role: Role,
        lot: &str,
        prev: &str,
        event: Event,
        items: Vec<String>,
    ) -> (Statement, &SigningKey) {
        let (_, id, sk) = self.keys.iter().find(|(r, _, _)| *r == role).unwrap();
        (
            Statement {
                log: self.svc.origin().to_string(),
                lot: lot.into(),
                items,
                prev: prev.into(),
                actor: id.clone(),
                kid: KeyId::of(&sk.verifying_key()).to_string(),
                time: "2026-11-20T10:00:00+08:00".into(),
                signed_at: traceseal::service::now_unix(),
                nonce: record::random_nonce(),
                place: None,
                event,
            },
            sk,
        )
    }

    fn submit(&self, role: Role, lot: &str, event: Event, items: Vec<String>) {
        let prev = self.svc.custody().lot_head(lot).unwrap();
        let (st, sk) = self.statement(role, lot, &prev, event, items);
        self.svc
            .custody()
            .submit(&Submission {
                statement: st.canonical(),
                signature: st.sign(sk),
            })
            .unwrap();
    }

    /// Brings `lot` (declared here) to the bonded warehouse (stage received).
    fn to_warehouse(&self, lot: &str) {
        let (gtin, lot_no) = lot.split_once('.').unwrap();
        self.svc
            .custody()
            .declare_lot(&traceseal::service::custody::LotInput {
                gtin: gtin.into(),
                lot: lot_no.into(),
            })
            .unwrap();
        let route = traceseal::custody::rules::standard_route("310420261000001");
        for (r, e) in route.into_iter().take(7) {
            self.submit(r, lot, e, vec![]);
        }
    }

    /// `n` chained, pre-signed `storing` records over fresh lots brought to the warehouse
    /// (at most `MAX_STORING` per lot, as the service allows).
    fn chains(&self, prefix: &str, n: u64) -> Vec<Submission> {
        let per_lot = traceseal::custody::rules::MAX_STORING as u64;
        let mut out = Vec::with_capacity(n as usize);
        let mut i = 0;
        while (out.len() as u64) < n {
            i += 1;
            let lot = format!("{GTIN}.{prefix}{i}");
            self.to_warehouse(&lot);
            out.extend(self.chain(&lot, per_lot.min(n - out.len() as u64)));
        }
        out
    }

    /// `n` chained, pre-signed `storing` records: each `prev` is the leaf hash of the one
    /// before, computed offline exactly as the server will.
    fn chain(&self, lot: &str, n: u64) -> Vec<Submission> {
        let mut prev = self.svc.custody().lot_head(lot).unwrap();
        (0..n)
            .map(|i| {
                let e = Event::Storing(Warehousing {
                    location: Some(format!("rack {i}")),
                });
                let (st, sk) = self.statement(Role::BondedWarehouse, lot, &prev, e, vec![]);
                let sub = Submission {
                    statement: st.canonical(),
                    signature: st.sign(sk),
                };
                let signed = SignedStatement {
                    checked: record::parse_statement(&sub.statement).unwrap(),
                    signature: record::parse_signature(&sub.signature).unwrap(),
                };
                prev = record::hex(traceseal::merkle::leaf_hash(&signed.leaf()).as_bytes());
                sub
            })
            .collect()
    }

    /// `per` records for each of `threads` submitters, over fresh lots named from `prefix`.
    fn sets(&self, prefix: &str, threads: u64, per: u64) -> Vec<Vec<Submission>> {
        (0..threads)
            .map(|t| self.chains(&format!("{prefix}-{t}-"), per))
            .collect()
    }
}

/// The statements of `sets`, parsed, for raw `verify_strict`.
fn signed_sets(sets: &[Vec<Submission>]) -> Vec<Vec<SignedStatement>> {
    sets.iter()
        .map(|set| set.iter().map(signed_of).collect())
        .collect()
}

/// Raw `verify_strict` of each set on its own thread, the threads concurrent; every signature
/// must verify.
fn verify_in_threads(signed: &[Vec<SignedStatement>], vk: &ed25519_dalek::VerifyingKey) {
    std::thread::scope(|s| {
        for set in signed {
            s.spawn(|| assert!(set.iter().all(|x| x.verify(vk))));
        }
    });
}

/// CPU time of this process so far (user + system, from `/proc/self/stat`), in seconds; 0
/// where there is no `/proc`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 of the line (utime, stime) are 12 and 13 after the command name, in
    // clock ticks of 1/100 s.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Each set submitted in order by its own task, the tasks concurrent (`submit_async`, the
/// HTTP handler's call).
async fn submit_all(svc: &Service, sets: Vec<Vec<Submission>>) {
    let tasks: Vec<_> = sets
        .into_iter()
        .map(|set| {
            let custody = svc.custody().clone();
            tokio::spawn(async move {
                for sub in set {
                    custody.submit_async(sub).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Raw `verify_strict` by `sets.len()` threads and the service on the very same statements,
/// back to back, [`PAIRED_ROUNDS`] times, which goes first alternating. Criterion measures
/// each side for 20 s in turn, so a change in the machine's speed between the two (it is a
/// shared VM) moves the ratio; within a round both sides meet the same machine. Each side
/// starts once RocksDB has no flush or compaction running or queued, and the service's time
/// runs until the flushes and compactions its records caused are done as well: neither side
/// meets the other's background work, and the service is charged all of its own (more than
/// in criterion's runs, where part of it overlaps the next iteration's idle moments).
/// Returns the summary line: the ratio of the total times, then by round the median, the
/// middle half, the extremes and how many rounds reach the target.
fn paired_rounds(
    w: &World,
    rt: &tokio::runtime::Runtime,
    vk: &ed25519_dalek::VerifyingKey,
    lot_no: &mut u64,
    threads: u64,
) -> String {
    let per = CONCURRENT_N / threads;
    let mut ratios = Vec::with_capacity(PAIRED_ROUNDS);
    let (mut raw_total, mut svc_total) = (Duration::ZERO, Duration::ZERO);
    // Rounds with raw first, and with the service first.
    let mut by_order: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..PAIRED_ROUNDS {
        *lot_no += 1;
        let sets = w.sets(&format!("P{lot_no}"), threads, per);
        let signed = signed_sets(&sets);
        let quiet = || {
            w.svc
                .store()
                .wait_for_background_work(Duration::from_secs(120))
                .unwrap()
        };
        let raw = || {
            quiet();
            let t = Instant::now();
            verify_in_threads(&signed, vk);
            t.elapsed()
        };
        let service = |sets| {
            quiet();
            let t = Instant::now();
            rt.block_on(submit_all(&w.svc, sets));
            quiet();
            t.elapsed()
        };
        let (raw_t, svc_t) = if round % 2 == 0 {
            let r = raw();
            (r, service(sets))
        } else {
            let s = service(sets);
            (raw(), s)
        };
        ratios.push(raw_t.as_secs_f64() / svc_t.as_secs_f64());
        by_order[round % 2].push(ratios[round]);
        raw_total += raw_t;
        svc_total += svc_t;
    }
    let records = (CONCURRENT_N * PAIRED_ROUNDS as u64) as f64;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        100.0 * v[v.len() / 2]
    };
    let (raw_first, svc_first) = (median(&mut by_order[0]), median(&mut by_order[1]));
    ratios.sort_by(f64::total_cmp);
    let q = |f: f64| 100.0 * ratios[((ratios.len() - 1) as f64 * f).round() as usize];
    let reached = ratios.iter().filter(|r| **r >= TARGET).count();
    format!(
        "custody: {threads} submitters, {PAIRED_ROUNDS} paired rounds (raw verify_strict and the service on the same {CONCURRENT_N} statements, back to back): in all, accepted {:.0} records/s, raw {:.0} sig/s: ratio {:.1}%; by round, median {:.1}%, middle half {:.1}–{:.1}%, lowest {:.1}%, highest {:.1}%; {reached} of {PAIRED_ROUNDS} rounds at or above {:.0}% (median {raw_first:.1}% in the rounds with raw first, {svc_first:.1}% with the service first)",
        records / svc_total.as_secs_f64(),
        records / raw_total.as_secs_f64(),
        100.0 * raw_total.as_secs_f64() / svc_total.as_secs_f64(),
        q(0.5),
        q(0.25),
        q(0.75),
        q(0.0),
        q(1.0),
        100.0 * TARGET
    )
}

fn signed_of(s: &Submission) -> SignedStatement {
    SignedStatement {
        checked: record::parse_statement(&s.statement).unwrap(),
        signature: record::parse_signature(&s.signature).unwrap(),
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("custody");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(N));

    // The limit: verify_strict of the same kind of signed statements, one core.
    let w = world();
    let subs = w.chains("RAW", N);
    let (_, _, sk) = &w.keys[3];
    let vk = sk.verifying_key();
    let signed: Vec<SignedStatement> = subs.iter().map(signed_of).collect();
    g.bench_function(BenchmarkId::new("raw_verify_strict", N), |b| {
        b.iter(|| signed.iter().filter(|s| s.verify(&vk)).count())
    });

    // The storage floor: N synced single-row writes to the same RocksDB (one fsync each),
    // what every accepted record pays at least once.
    g.bench_function(BenchmarkId::new("store_synced_write", N), |b| {
        use traceseal::store::{Cf, Durability, WriteBatch};
        let mut k = 0u64;
        b.iter(|| {
            for _ in 0..N {
                k += 1;
                let mut wb = WriteBatch::new();
                wb.put(Cf::Nonces, k.to_be_bytes().to_vec(), vec![0u8; 64]);
                w.svc.store().write(wb, Durability::Synced).unwrap();
            }
        })
    });

    // End to end: a fresh lot per iteration, N chained records submitted one by one.
    let mut lot_no = 0u64;
    g.bench_function(BenchmarkId::new("service_accept_synced", N), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                lot_no += 1;
                let subs = w.chains(&format!("B{lot_no}-"), N);
                let t = Instant::now();
                for s in &subs {
                    w.svc.custody().submit(s).unwrap();
                }
                total += t.elapsed();
            }
            total
        })
    });

    // Concurrent submitters, each walking its own lots (group commit), against raw
    // verify_strict of the same statements by as many threads, on the same cores.
    g.throughput(Throughput::Elements(CONCURRENT_N));
    // The submitters are tasks on a runtime with one worker per core, as HTTP requests are.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores())
        .build()
        .unwrap();
    for threads in SUBMITTERS {
        let per = CONCURRENT_N / threads;
        let sets = w.sets(&format!("V{threads}"), threads, per);
        let signed = signed_sets(&sets);
        g.bench_function(
            BenchmarkId::new("raw_verify_strict_threads", threads),
            |b| b.iter(|| verify_in_threads(&signed, &vk)),
        );
        let (mut busy, mut wall) = (0.0f64, 0.0f64);
        let (mut groups, mut records, mut fsyncs) = (0u64, 0u64, 0u64);
        g.bench_function(BenchmarkId::new("service_accept_tasks", threads), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    lot_no += 1;
                    let sets: Vec<Vec<Submission>> = (0..threads)
                        .map(|t| w.chains(&format!("T{lot_no}-{t}-"), per))
                        .collect();
                    let cpu = cpu_seconds();
                    let before = w.svc.custody().intake_stats();
                    let t = Instant::now();
                    rt.block_on(submit_all(&w.svc, sets));
                    total += t.elapsed();
                    busy += cpu_seconds() - cpu;
                    let after = w.svc.custody().intake_stats();
                    groups += after.groups - before.groups;
                    records += after.records - before.records;
                    fsyncs += after.fsyncs - before.fsyncs;
                    wall += t.elapsed().as_secs_f64();
                }
                total
            })
        });
        if threads == 32 {
            let _ = PAIRED.set(paired_rounds(&w, &rt, &vk, &mut lot_no, threads));
        }
        if wall > 0.0 {
            eprintln!(
                "service_accept_tasks/{threads}: {records} records in {groups} groups ({:.1} each), {fsyncs} fsyncs ({:.1} records each)",
                records as f64 / groups.max(1) as f64,
                records as f64 / fsyncs.max(1) as f64
            );
            eprintln!(
            "service_accept_tasks/{threads}: the cores were busy {:.0}% of the measured time ({} cores)",
            100.0 * busy / (wall * cores() as f64),
            cores()
        );
        }
    }

    // One release naming 10,000 items.
    g.throughput(Throughput::Elements(BULK));
    g.bench_function(
        BenchmarkId::new("release_10000_items_one_event", BULK),
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    lot_no += 1;
                    let lot_name = format!("R{lot_no}");
                    let lot = format!("{GTIN}.{lot_name}");
                    let (batch, _) = w
                        .svc
                        .issuance()
                        .issue_batch(
                            &BatchRequest {
                                gtin: GTIN.into(),
                                lot: lot_name.clone(),
                                expiry: None,
                                quantity: BULK,
                            },
                            &format!("bulk-{lot_no}"),
                            &|_| {},
                        )
                        .unwrap();
                    let mut items: Vec<String> = w
                        .svc
                        .issuance()
                        .batch_codes(&batch, 0, BULK as usize)
                        .unwrap()
                        .into_iter()
                        .map(|c| traceseal::commitment::ItemRef::of_uri(&c.code).to_string())
                        .collect();
                    items.sort();
                    w.to_warehouse(&lot);
                    let prev = w.svc.custody().lot_head(&lot).unwrap();
                    let (st, sk) = w.statement(
                        Role::BondedWarehouse,
                        &lot,
                        &prev,
                        Event::Release(Outbound::default()),
                        items,
                    );
                    let sub = Submission {
                        statement: st.canonical(),
                        signature: st.sign(sk),
                    };
                    let t = Instant::now();
                    w.svc.custody().submit(&sub).unwrap();
                    total += t.elapsed();
                }
                total
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);

fn mean_ns(id: &str, n: u64) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let p = format!("{dir}/criterion/custody/{id}/{n}/new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let (Some(raw), Some(svc)) = (
        mean_ns("raw_verify_strict", N),
        mean_ns("service_accept_synced", N),
    ) {
        let per_s = |ns: f64, n: u64| n as f64 / (ns / 1e9);
        println!(
            "\ncustody: accepted {:.0} events/s (one stream, each a synced write), raw verify_strict {:.0} sig/s on one core: ratio {:.1}%",
            per_s(svc, N),
            per_s(raw, N),
            100.0 * raw / svc
        );
    }
    if let (Some(fsync), Some(svc)) = (
        mean_ns("store_synced_write", N),
        mean_ns("service_accept_synced", N),
    ) {
        println!(
            "custody: a synced RocksDB write alone: {:.0} writes/s; accepted events reach {:.1}% of that floor",
            N as f64 / (fsync / 1e9),
            100.0 * fsync / svc
        );
    }
    for threads in SUBMITTERS {
        let raw = mean_ns("raw_verify_strict_threads", threads);
        let svc = mean_ns("service_accept_tasks", threads);
        if let (Some(raw), Some(svc)) = (raw, svc) {
            let per_s = |ns: f64| CONCURRENT_N as f64 / (ns / 1e9);
            println!(
                "custody: {threads} submitters: accepted {:.0} records/s, raw verify_strict by {threads} threads {:.0} sig/s: ratio {:.1}%",
                per_s(svc),
                per_s(raw),
                100.0 * raw / svc
            );
        }
    }
    if let Some(line) = PAIRED.get() {
        println!("{line}");
    }
    if let Some(bulk) = mean_ns("release_10000_items_one_event", BULK) {
        println!(
            "custody: one release of {BULK} items accepted in {:.1} ms ({:.0} items/s)",
            bulk / 1e6,
            BULK as f64 / (bulk / 1e9)
        );
    }
}

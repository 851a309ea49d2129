//! The intake's tests: shared fsyncs, refusals, async and blocking submitters, large
//! statements, a panicking writer, closing.

use std::future::Future;

use super::super::tests::{cast, declare, signed, GTIN};
use super::*;
use crate::service::master::tests::seed;
use crate::service::setup::test_service;
use crate::service::Service;
use crate::test_support::nice_of_threads;

fn accepted(i: u64) -> Accepted {
    Accepted {
        leaf_index: i,
        record_hash: String::new(),
        lot: String::new(),
        step: String::new(),
        head: String::new(),
    }
}

/// Each caller is answered only after an fsync that began once its group was written,
/// callers waiting together share fsyncs, and a failed fsync acknowledges no one.
#[test]
fn one_fsync_covers_every_group_written_before_it_began() {
    let shared = Arc::new(Shared::default());
    let written = AtomicU64::new(0);
    let began = Mutex::new(Vec::new());
    let fail = std::sync::atomic::AtomicBool::new(false);
    let fsync = || {
        began.lock().unwrap().push(written.load(Ordering::SeqCst));
        std::thread::sleep(std::time::Duration::from_millis(2));
        if fail.load(Ordering::SeqCst) {
            Err(ServiceError::Internal("disk gone".into()))
        } else {
            Ok(())
        }
    };
    /// Stops the syncer when the test ends, even by a failed assertion.
    struct Closing<'a>(&'a Shared);
    impl Drop for Closing<'_> {
        fn drop(&mut self) {
            self.0.close();
        }
    }
    std::thread::scope(|s| {
        s.spawn(|| sync_loop(&shared, &fsync));
        let _closing = Closing(&shared);
        let callers: Vec<_> = (0..16)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..10 {
                        let (tx, rx) = std::sync::mpsc::sync_channel(1);
                        let g = written.fetch_add(1, Ordering::SeqCst) + 1;
                        let w = Written {
                            answers: vec![(0, Ok(accepted(g)))],
                            records: 1,
                        };
                        shared.wrote(w, vec![Reply::Thread(tx)]);
                        rx.recv().unwrap().unwrap();
                        let covered = began.lock().unwrap().iter().any(|w| *w >= g);
                        assert!(covered, "group {g} answered before an fsync covered it");
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
        fail.store(true, Ordering::SeqCst);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let w = Written {
            answers: vec![(0, Ok(accepted(0)))],
            records: 1,
        };
        shared.wrote(w, vec![Reply::Thread(tx)]);
        let e = rx.recv().unwrap().unwrap_err();
        assert_eq!(e.code(), "internal.invariant", "{e}");
    });
    let n = began.lock().unwrap().len() as u64;
    assert!(n < 161, "{n} fsyncs for 161 groups: none shared");
    let stats = IntakeStats {
        groups: shared.groups.load(Ordering::SeqCst),
        records: shared.records.load(Ordering::SeqCst),
        fsyncs: shared.fsyncs.load(Ordering::SeqCst),
    };
    assert_eq!(
        stats,
        IntakeStats {
            groups: 160,
            records: 160,
            fsyncs: n
        }
    );
}

/// The syncer syncs a lone submitter's record at once; with more submitters in the intake
/// it waits until half of them are written, or the first written has waited
/// [`MAX_SYNC_WAIT`].
#[test]
fn the_syncer_waits_for_half_the_submitters_or_max_sync_wait() {
    let shared = Shared::default();
    let mut u = Unsynced {
        records: 1,
        since: Some(std::time::Instant::now()),
        ..Unsynced::default()
    };
    let _one = shared.enter();
    assert!(shared.sync_due(&u), "alone");
    let _more: Vec<_> = (0..3).map(|_| shared.enter()).collect();
    assert!(!shared.sync_due(&u), "1 of 4 written");
    u.records = 2;
    assert!(shared.sync_due(&u), "2 of 4 written");
    u.records = 1;
    u.since = Some(std::time::Instant::now() - MAX_SYNC_WAIT);
    assert!(shared.sync_due(&u), "waited long enough");
    u.since = Some(std::time::Instant::now());
    u.closed = true;
    assert!(shared.sync_due(&u), "closing");
}

/// A writer that panics (a bug) leaves no caller waiting: its group's and every queued
/// caller's reply is dropped (they are answered with an error), and the next caller to
/// queue becomes the writer.
#[test]
fn a_panicking_writer_leaves_no_caller_waiting() {
    let (svc, _) = test_service();
    seed(&svc);
    let c = cast(&svc);
    let (id, sk) = &c.keys[&crate::custody::record::Role::Inspector];
    let prepared = |i: u32| {
        let lot = format!("{GTIN}.W{i}");
        declare(&svc, &lot);
        let a = super::super::tests::attest(crate::custody::record::Conformance::Conformant);
        let sub = signed(id, sk, &lot, GENESIS, a, vec![]);
        svc.custody().prepare(&sub, now_unix()).unwrap()
    };
    let shared = Shared::default();
    let (tx1, rx1) = std::sync::mpsc::sync_channel(1);
    let (tx2, rx2) = std::sync::mpsc::sync_channel(1);
    assert_eq!(
        shared.enqueue(prepared(1), Reply::Thread(tx1), false),
        Role::Write
    );
    let late = Mutex::new(Some((prepared(2), Reply::Thread(tx2))));
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        write_waiting(&shared, MAX_GROUP_BYTES, &|_| {
            // One more arrives while the group is written.
            let (p, r) = late.lock().unwrap().take().unwrap();
            assert_eq!(shared.enqueue(p, r, false), Role::Wait, "someone writes");
            panic!("a bug in the group write")
        })
    }));
    assert!(panicked.is_err());
    let ten = std::time::Duration::from_secs(10);
    let gone = std::sync::mpsc::RecvTimeoutError::Disconnected;
    assert_eq!(
        rx1.recv_timeout(ten).unwrap_err(),
        gone,
        "the group's caller"
    );
    assert_eq!(
        rx2.recv_timeout(ten).unwrap_err(),
        gone,
        "the waiting caller"
    );
    let (tx3, _rx3) = std::sync::mpsc::sync_channel(1);
    assert_eq!(
        shared.enqueue(prepared(3), Reply::Thread(tx3), true),
        Role::Yield(1),
        "the next caller writes"
    );
}

/// A group is a quarter of the submissions in the intake (rounded up), from 4 to 8.
#[test]
fn the_group_target_follows_the_submitters_in_the_intake() {
    let targets: Vec<usize> = [0, 1, 8, 16, 20, 27, 28, 32, 33, 64, 1000]
        .into_iter()
        .map(group_target)
        .collect();
    assert_eq!(targets, [4, 4, 4, 4, 5, 7, 7, 8, 8, 8, 8]);
}

/// A yielded writer keeps its turn until [`group_target`] submissions wait: the caller that
/// queues the last of them writes, and the yielded one, resumed, only waits. A writer that
/// is not yielded is never taken over.
#[test]
fn the_caller_completing_a_group_takes_over_from_a_yielded_writer() {
    const ACTIVE: usize = 32;
    let target = group_target(ACTIVE);
    let (svc, c, lots) = declared_lots("Y", target + 3);
    let (id, sk) = &c.keys[&crate::custody::record::Role::Inspector];
    let mut prepared = lots.iter().map(|lot| {
        let a = super::super::tests::attest(crate::custody::record::Conformance::Conformant);
        let sub = signed(id, sk, lot, GENESIS, a, vec![]);
        svc.custody().prepare(&sub, now_unix()).unwrap()
    });
    let shared = Shared::default();
    shared.active.store(ACTIVE, Ordering::Relaxed);
    let mut queue = |may_yield| {
        let (tx, _rx) = tokio::sync::oneshot::channel();
        shared.enqueue(prepared.next().unwrap(), Reply::Task(tx), may_yield)
    };
    assert_eq!(queue(true), Role::Yield(1));
    for _ in 1..target - 1 {
        assert_eq!(
            queue(true),
            Role::Wait,
            "the turn is still the yielded one's"
        );
    }
    assert_eq!(
        queue(true),
        Role::Write,
        "the group is complete: this caller writes"
    );
    assert!(!shared.resume(1), "the yielded writer only waits");
    assert_eq!(queue(true), Role::Wait, "someone writes; no yield");
    // The writer drains the queue; the next caller yields with a new turn, which it keeps.
    guard(&shared.queue).waiting.clear();
    assert!(matches!(shared.next_group(MAX_GROUP_BYTES), Next::Idle));
    assert_eq!(queue(true), Role::Yield(2));
    assert!(shared.resume(2), "no one took over: it writes");
    assert_eq!(queue(true), Role::Wait);
}

/// A writer's task dropped during its yield (a client that hung up) leaves no submission
/// unwritten: its own and the ones queued behind it are written and answered.
#[test]
fn a_writer_dropped_during_its_yield_hands_the_writing_on() {
    let (svc, c, lots) = declared_lots("D", 2);
    let (id, sk) = &c.keys[&crate::custody::record::Role::Inspector];
    let sub = |lot: &String| {
        let a = super::super::tests::attest(crate::custody::record::Conformance::Conformant);
        signed(id, sk, lot, GENESIS, a, vec![])
    };
    let custody = svc.custody().clone();
    let size = svc.log().log_size().unwrap();
    let rt = two_workers();
    rt.block_on(async {
        // Another submitter in the intake, so that the first caller yields.
        let _other = custody.intake.shared.enter();
        let mut first = Box::pin(custody.submit_async(sub(&lots[0])));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(first.as_mut().poll(&mut cx).is_pending(), "yielded");
        assert!(matches!(
            guard(&custody.intake.shared.queue).writer,
            Writer::Yielded(_)
        ));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let p = custody.prepare(&sub(&lots[1]), now_unix()).unwrap();
        assert_eq!(custody.queue(p, Reply::Task(tx), true).unwrap(), Role::Wait);
        drop(first);
        let limit = std::time::Duration::from_secs(60);
        let answer = tokio::time::timeout(limit, rx).await;
        answer
            .expect("answered: the writing was handed on")
            .unwrap()
            .unwrap();
    });
    assert_eq!(svc.log().log_size().unwrap(), size + 2, "both written");
    assert_ne!(svc.custody().lot_head(&lots[0]).unwrap(), GENESIS);
}

/// A refused member is answered without waiting for the fsync, and a group with no
/// accepted member is never handed to the syncer.
#[test]
fn refusals_are_answered_at_once() {
    let shared = Shared::default();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let (tx2, rx2) = std::sync::mpsc::sync_channel(1);
    let refused = ServiceError::Internal("refused".into());
    let w = Written {
        answers: vec![(0, Ok(accepted(1))), (1, Err(refused))],
        records: 1,
    };
    shared.wrote(w, vec![Reply::Thread(tx), Reply::Thread(tx2)]);
    assert!(
        rx2.try_recv().unwrap().is_err(),
        "the refusal is answered now"
    );
    assert!(rx.try_recv().is_err(), "the acceptance waits for the fsync");
    assert_eq!(guard(&shared.written).groups.len(), 1);
    let (tx3, rx3) = std::sync::mpsc::sync_channel(1);
    shared.wrote(Written::refused(1, &stopped()), vec![Reply::Thread(tx3)]);
    assert!(rx3.try_recv().unwrap().is_err());
    assert_eq!(guard(&shared.written).groups.len(), 1);
}

/// A seeded service, one actor per role engaged, and `n` declared lots `{GTIN}.{tag}{i}`.
fn declared_lots(tag: &str, n: usize) -> (Service, super::super::tests::Cast, Vec<String>) {
    let (svc, _) = test_service();
    seed(&svc);
    let c = cast(&svc);
    let lots: Vec<String> = (0..n).map(|i| format!("{GTIN}.{tag}{i}")).collect();
    for l in &lots {
        declare(&svc, l);
    }
    (svc, c, lots)
}

/// Many threads, each walking its own lot: every record is accepted, in fewer groups than
/// records, and each lot's chain is whole.
#[test]
fn concurrent_submitters_share_groups_and_every_chain_is_whole() {
    let threads = 8;
    let (svc, c, lots) = declared_lots("C", threads);
    let route = crate::custody::rules::standard_route("531620261000123");
    let before = svc.custody().intake_stats();
    std::thread::scope(|s| {
        for l in &lots {
            let (svc, c, route) = (&svc, &c, &route);
            s.spawn(move || {
                for (role, e) in route.iter().take(9) {
                    let (id, sk) = &c.keys[role];
                    let prev = svc.custody().lot_head(l).unwrap();
                    let sub = signed(id, sk, l, &prev, e.clone(), vec![]);
                    svc.custody().submit(&sub).unwrap();
                }
            });
        }
    });
    let after = svc.custody().intake_stats();
    assert_eq!(after.records - before.records, threads as u64 * 9);
    assert!(after.groups - before.groups <= after.records - before.records);
    assert!(after.fsyncs - before.fsyncs <= after.groups - before.groups);
    for l in &lots {
        assert_chain_whole(&svc, l, 9);
    }
}

/// `lot` holds `n` records, each chained to the one before.
fn assert_chain_whole(svc: &Service, lot: &str, n: usize) {
    let page = LotPage {
        after: None,
        limit: None,
    };
    let v = svc.custody().lot_view(lot, page).unwrap();
    assert_eq!(v.records.len(), n);
    let mut prev = GENESIS.to_string();
    for r in &v.records {
        assert_eq!(r.prev, prev);
        prev = r.record_hash.clone();
    }
    assert_eq!(v.head, prev);
}

/// A runtime with two workers, as the service runs on this machine.
fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// Each chain submitted in order by its own task (`submit_async`, the HTTP path) on a
/// two-worker runtime; the answers, chain by chain. Each task must end within 60 s, so that
/// a writing never handed on fails the test instead of hanging it.
fn submit_from_tasks(svc: &Service, chains: Vec<Vec<Submission>>) -> Vec<Vec<Result<Accepted>>> {
    let rt = two_workers();
    rt.block_on(async {
        let tasks: Vec<_> = chains
            .into_iter()
            .map(|chain| {
                let custody = svc.custody().clone();
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    for sub in chain {
                        answers.push(custody.submit_async(sub).await);
                    }
                    answers
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            let limit = std::time::Duration::from_secs(60);
            let answers = tokio::time::timeout(limit, t).await;
            out.push(
                answers
                    .expect("answered: the writing was handed on")
                    .unwrap(),
            );
        }
        out
    })
}

/// Submitters as async tasks on a two-thread runtime (the HTTP path): every record is
/// accepted, in fewer fsyncs than records, and each chain is whole.
#[test]
fn async_submitters_share_fsyncs_and_every_chain_is_whole() {
    let (svc, c, lots) = declared_lots("A", 16);
    let route = crate::custody::rules::standard_route("531620261000124");
    // Signed ahead: each record's prev is the one before's hash.
    let chains: Vec<Vec<Submission>> = lots
        .iter()
        .map(|l| {
            let mut prev = GENESIS.to_string();
            route
                .iter()
                .take(7)
                .map(|(role, e)| {
                    let (id, sk) = &c.keys[role];
                    let sub = signed(id, sk, l, &prev, e.clone(), vec![]);
                    prev = super::super::group::tests::prev_after(&sub);
                    sub
                })
                .collect()
        })
        .collect();
    let before = svc.custody().intake_stats();
    for answer in submit_from_tasks(&svc, chains).into_iter().flatten() {
        answer.unwrap();
    }
    let after = svc.custody().intake_stats();
    assert_eq!(after.records - before.records, 16 * 7);
    assert!(after.fsyncs - before.fsyncs < 16 * 7, "fsyncs shared");
    for l in &lots {
        assert_chain_whole(&svc, l, 7);
    }
}

/// A release naming 300 items (a statement and leaf over [`INLINE_MAX`]) submitted from an
/// async task while small records flow: it is prepared and written on a blocking thread,
/// and every record, large and small, is accepted.
#[test]
fn a_large_statement_is_written_off_the_async_task() {
    use crate::custody::record::{Event, Outbound, Role};
    let (svc, _) = test_service();
    seed(&svc);
    let c = cast(&svc);
    let (b, _) = svc
        .issuance()
        .issue_batch(&crate::service::issuance::tests::req(300), "k", &|_| {})
        .unwrap();
    let lot = format!("{GTIN}.{}", b.lot);
    let release = crate::custody::Step::Release;
    for (r, e) in super::super::tests::prefix_until(release) {
        c.submit(&svc, r, &lot, e, vec![]).unwrap();
    }
    let mut refs: Vec<String> = svc
        .issuance()
        .batch_codes(&b, 0, 300)
        .unwrap()
        .iter()
        .map(|c| crate::commitment::ItemRef::of_uri(&c.code).to_string())
        .collect();
    refs.sort();
    let (id, sk) = &c.keys[&Role::BondedWarehouse];
    let head = svc.custody().lot_head(&lot).unwrap();
    let big = signed(
        id,
        sk,
        &lot,
        &head,
        Event::Release(Outbound::default()),
        refs,
    );
    assert!(big.statement.len() > INLINE_MAX);
    let small = |i: usize| {
        let l = format!("{GTIN}.S{i}");
        declare(&svc, &l);
        let (id, sk) = &c.keys[&Role::Inspector];
        let a = super::super::tests::attest(crate::custody::record::Conformance::Conformant);
        signed(id, sk, &l, GENESIS, a, vec![])
    };
    let chains: Vec<Vec<Submission>> = (0..8).map(small).chain([big]).map(|s| vec![s]).collect();
    let answers: Vec<Result<Accepted>> = submit_from_tasks(&svc, chains)
        .into_iter()
        .flatten()
        .collect();
    for a in &answers {
        assert!(a.is_ok(), "{a:?}");
    }
    assert_eq!(answers[8].as_ref().unwrap().step, "release");
}

/// Dropping the service stops the intake's threads and closes the store: the data
/// directory opens again at once, with every acknowledged record.
#[test]
fn dropping_the_service_closes_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = crate::service::setup::DataDir::new(tmp.path().join("d"));
    let host = crate::code::Host::parse("verify.example.com").unwrap();
    crate::service::setup::init(&dir, &host).unwrap();
    let opts = || crate::service::setup::OpenOptions::defaults(host.clone());
    let svc = crate::service::setup::open(&dir, opts()).unwrap();
    seed(&svc);
    let c = cast(&svc);
    let lot = format!("{GTIN}.D1");
    declare(&svc, &lot);
    let (id, sk) = &c.keys[&crate::custody::record::Role::Inspector];
    let a = super::super::tests::attest(crate::custody::record::Conformance::Conformant);
    let got = svc
        .custody()
        .submit(&signed(id, sk, &lot, GENESIS, a, vec![]))
        .unwrap();
    drop(svc);
    let svc = crate::service::setup::open(&dir, opts()).unwrap();
    assert_eq!(svc.custody().lot_head(&lot).unwrap(), got.head);
}

/// Whether this process may lower a nice value (`CAP_SYS_NICE`, bit 23 of the effective set).
fn may_raise_priority() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap()
        .trim();
    u64::from_str_radix(caps, 16).unwrap() & (1 << 23) != 0
}

/// The syncer runs at `SYNCER_NICE` when the process may raise priorities (CI runs as root),
/// and at the default otherwise.
#[test]
fn the_syncer_runs_at_a_raised_priority() {
    let (svc, c, lots) = declared_lots("NICE", 1);
    let (insp, isk) = &c.keys[&crate::custody::record::Role::Inspector];
    let a = signed(
        insp,
        isk,
        &lots[0],
        GENESIS,
        super::super::tests::attest(crate::custody::record::Conformance::Conformant),
        vec![],
    );
    svc.custody().submit(&a).unwrap();
    let nices = nice_of_threads("custody-sync");
    assert!(!nices.is_empty(), "no syncer thread");
    let want = if may_raise_priority() {
        i64::from(SYNCER_NICE)
    } else {
        0
    };
    assert!(nices.contains(&want), "{nices:?}, want {want}");
}

//! The custody intake: submissions committed in groups, fsyncs shared.
//!
//! A submission is parsed and its signature checked (`verify_strict`) by its own caller, in
//! parallel with every other ([`Custody::prepare`]). What must be serial is done for whole
//! groups of waiting submissions:
//!
//! - a caller that queues its submission when no one is writing becomes the **writer**: it
//!   takes every submission waiting (within [`MAX_GROUP_RECORDS`] and [`MAX_GROUP_BYTES`]) as
//!   one group, checks each member under the custody lock against the state the members before
//!   it leave, and writes the accepted ones in one atomic write, not yet synced (`group.rs`).
//!   It answers the refused members at once, and goes on with the next group until none is
//!   waiting (no thread is woken to write). An async writer first yields once, so that the
//!   tasks ready on its worker check their submissions and queue them into its first group:
//!   a group write costs far more than one member's share of it. The yield lasts until its
//!   worker has nothing else to run, so once [`group_target`] submissions wait, the caller
//!   that queued the last of them writes instead (the yielded one then only waits): the
//!   group is large enough, and the records written keep the syncer going;
//! - the intake's **syncer** thread takes every group written so far and makes them durable
//!   with one fsync. It first lets the group grow while the submitters in the intake are
//!   still coming (see [`Shared::next_sync`]): an fsync costs more than a record's checks, so
//!   fewer, larger ones raise throughput, at a bounded cost in latency.
//!   The write-ahead log keeps writes in order, so an fsync that began after a group was
//!   written covers it and every group before it. Only then are the acceptances given; when
//!   the fsync fails, every accepted member is answered 503 instead.
//!
//! The next group is checked and written while the last ones sync, and one fsync covers every
//! group written in the meantime. A caller waits on its reply channel: a blocked thread
//! ([`Custody::submit`]) or a suspended task ([`Custody::submit_async`], the HTTP path, where
//! waiting costs no thread). A crash leaves a group
//! whole or absent, and no caller has been told "accepted" before its record was durable.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use super::group::{run_group, Prepared, Written};
use super::*;

/// Most records in one group.
pub const MAX_GROUP_RECORDS: usize = 256;
/// A group stops growing once its leaves reach this many bytes (one record may be larger).
pub const MAX_GROUP_BYTES: usize = 8 << 20;
/// Statements up to this long are prepared, and groups of leaves up to this long written, on
/// the async task that received them (about 50 µs a record: parsing, `verify_strict`, the
/// checks and the write); a longer one (a release naming hundreds or thousands of items reads
/// and writes as many item states, milliseconds) goes to a blocking thread, so that no
/// executor thread stalls and scans keep their latency.
const INLINE_MAX: usize = 4 << 10;
/// Submissions waiting that make a group worth writing at once: the caller that queues the
/// last of them writes, instead of the yielded writer. A quarter of the submissions in the
/// intake (rounded up), from [`MIN_GROUP_TARGET`] to [`MAX_GROUP_TARGET`]: at 32 submitters groups of 8
/// (4.0 records a group instead of 2.4 with 4, 2–3 µs less CPU a record), at 8 submitters
/// groups of 4 (with 8 there the cores were idler and fewer records accepted;
/// `docs/performance.md`, Custody intake).
pub fn group_target(active: usize) -> usize {
    active.div_ceil(4).clamp(MIN_GROUP_TARGET, MAX_GROUP_TARGET)
}
/// The smallest [`group_target`].
pub const MIN_GROUP_TARGET: usize = 4;
/// The largest [`group_target`] (16 at 32 submitters left the cores idler).
pub const MAX_GROUP_TARGET: usize = 8;
/// Longest the syncer lets written records wait for more before their fsync.
pub const MAX_SYNC_WAIT: std::time::Duration = std::time::Duration::from_millis(1);
/// The syncer thread's nice value. Every waiting submitter is answered by the syncer once
/// its fsync returns, and with the cores busy checking the next records a syncer at the
/// default priority waited for a core: about one fsync in ten took 0.6 ms instead of 0.2 ms.
/// At -10 the p90 is 0.26–0.28 ms (`docs/performance.md`, Custody intake). The syncer
/// sleeps in its fsync or its wait nearly all the time, so it takes little from the others.
pub const SYNCER_NICE: i32 = -10;

/// Where a caller waits for its answer.
pub(super) enum Reply {
    /// A thread blocked in [`Custody::submit`].
    Thread(std::sync::mpsc::SyncSender<Result<Accepted>>),
    /// A task suspended in [`Custody::submit_async`].
    Task(tokio::sync::oneshot::Sender<Result<Accepted>>),
}

impl Reply {
    /// Gives the answer. A caller that went away (a client that hung up) is not waited for:
    /// its record stands as answered.
    fn send(self, a: Result<Accepted>) {
        match self {
            Reply::Thread(tx) => drop(tx.send(a)),
            Reply::Task(tx) => drop(tx.send(a)),
        }
    }
}

/// The intake of one [`Custody`]: its queue, its syncer thread (started with the first
/// submission, stopped when the custody unit is dropped) and what it has made durable.
#[derive(Default)]
pub(super) struct Intake {
    shared: Arc<Shared>,
    started: OnceLock<std::result::Result<(), String>>,
    /// Blocking callers preparing now (at most four per core, see [`Intake::slot`]).
    preparing: Mutex<usize>,
    slot_free: Condvar,
}

/// What the callers and the syncer share.
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    written: Mutex<Unsynced>,
    to_sync: Condvar,
    /// Submissions in the intake: from the start of `submit` to its answer.
    active: AtomicUsize,
    groups: AtomicU64,
    records: AtomicU64,
    fsyncs: AtomicU64,
}

/// Prepared submissions waiting to be written.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<(Reply, Prepared)>,
    writer: Writer,
    /// Yields so far (each yielded writer's turn).
    turns: u64,
}

/// Who writes the waiting submissions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Writer {
    /// No one: the next caller to queue writes.
    #[default]
    None,
    /// A caller is writing.
    Writing,
    /// An async caller yielded (its turn) and writes when it runs again, unless a caller
    /// queued the [`group_target`]th waiting submission first and writes instead.
    Yielded(u64),
}

/// What a caller does once its submission is queued.
#[derive(Debug, PartialEq, Eq)]
enum Role {
    /// Waits for its answer: someone else writes.
    Wait,
    /// Writes the waiting submissions.
    Write,
    /// Yields, then writes if it still is its turn ([`Shared::resume`]).
    Yield(u64),
}

/// Groups written, waiting for the syncer: each with the replies of its accepted members.
#[derive(Default)]
struct Unsynced {
    groups: Vec<(Written, Vec<Option<Reply>>)>,
    /// Records in `groups`, and when the first of them was written.
    records: usize,
    since: Option<std::time::Instant>,
    /// The syncer waits for more records (a written group that makes the sync due wakes it).
    gathering: bool,
    /// The syncer waits for a first group (the next one written wakes it).
    idle: bool,
    closed: bool,
}

/// A submission in the intake (counted in [`Shared::active`] until dropped).
pub(super) struct Active<'a>(&'a Shared);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many groups were written, with how many records in all and how many fsyncs made them
/// durable, since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntakeStats {
    /// Group writes made durable.
    pub groups: u64,
    /// Records they wrote.
    pub records: u64,
    /// Fsyncs that made them durable (one covers every group written before it began).
    pub fsyncs: u64,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn stopped() -> ServiceError {
    ServiceError::Internal("custody intake stopped before answering".into())
}

/// A place among the blocking callers preparing; freed on drop.
pub(super) struct Slot<'a>(&'a Intake);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *guard(&self.0.preparing) -= 1;
        self.0.slot_free.notify_one();
    }
}

/// Blocking callers preparing at once: four per core, so that 32 threads submitting leave the
/// intake's writer a core's share (`docs/performance.md`, Custody intake).
fn max_preparing() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| 4 * std::thread::available_parallelism().map_or(2, |n| n.get()))
}

impl Queue {
    /// The next group: the oldest waiting submissions, within the record cap and `max_bytes`
    /// of leaves (a first record larger than that is taken alone).
    fn take_group(&mut self, max_bytes: usize) -> Vec<(Reply, Prepared)> {
        let mut bytes = 0;
        let mut group = Vec::new();
        while let Some((_, p)) = self.waiting.front() {
            if !group.is_empty()
                && (group.len() >= MAX_GROUP_RECORDS || bytes + p.leaf.len() > max_bytes)
            {
                break;
            }
            bytes += p.leaf.len();
            group.extend(self.waiting.pop_front());
        }
        group
    }
}

impl Shared {
    /// Queues `p`, and says what the caller does next: write when no one writes (first
    /// yielding, when `may_yield`), or when a yielded writer has not started and the group is
    /// [`group_target`] large; wait otherwise.
    fn enqueue(&self, p: Prepared, reply: Reply, may_yield: bool) -> Role {
        let mut q = guard(&self.queue);
        q.waiting.push_back((reply, p));
        match q.writer {
            Writer::None if may_yield => {
                q.turns += 1;
                q.writer = Writer::Yielded(q.turns);
                Role::Yield(q.turns)
            }
            Writer::Yielded(_)
                if q.waiting.len() < group_target(self.active.load(Ordering::Relaxed)) =>
            {
                Role::Wait
            }
            Writer::None | Writer::Yielded(_) => {
                q.writer = Writer::Writing;
                Role::Write
            }
            Writer::Writing => Role::Wait,
        }
    }

    /// After its yield, a caller writes if it still is its `turn` (no one took over).
    fn resume(&self, turn: u64) -> bool {
        let mut q = guard(&self.queue);
        let mine = q.writer == Writer::Yielded(turn);
        if mine {
            q.writer = Writer::Writing;
        }
        mine
    }

    /// The writer's next group, of at most `max_bytes` of leaves; `Idle` (no one writing) once
    /// none is waiting, `TooLarge` (still writing) when the next record alone is larger.
    fn next_group(&self, max_bytes: usize) -> Next {
        let mut q = guard(&self.queue);
        match q.waiting.front() {
            None => {
                q.writer = Writer::None;
                Next::Idle
            }
            Some((_, p)) if p.leaf.len() > max_bytes => Next::TooLarge,
            Some(_) => Next::Group(q.take_group(max_bytes)),
        }
    }

    /// Answers a written group's refused members now and hands its accepted ones to the
    /// syncer.
    fn wrote(&self, mut w: Written, replies: Vec<Reply>) {
        let mut replies: Vec<Option<Reply>> = replies.into_iter().map(Some).collect();
        let answers = std::mem::take(&mut w.answers);
        for (id, a) in answers {
            if w.records > 0 && a.is_ok() {
                w.answers.push((id, a));
            } else if let Some(r) = replies[id as usize].take() {
                r.send(a);
            }
        }
        if w.records == 0 {
            return;
        }
        let mut u = guard(&self.written);
        u.records += w.records as usize;
        u.since.get_or_insert_with(std::time::Instant::now);
        u.groups.push((w, replies));
        // Woken only when it has something to do: each wake-up costs a context switch, and
        // with many small groups most would find the sync not yet due.
        let wake = u.idle || (u.gathering && self.sync_due(&u));
        // ... and only once the lock is free: the syncer runs at a higher priority, so woken
        // while the lock is held it would take this core, find the lock taken and sleep again,
        // and be woken a second time by the unlock (two preemptions instead of one).
        drop(u);
        if wake {
            self.to_sync.notify_one();
        }
    }

    /// Counts a submission in the intake until the guard drops.
    fn enter(&self) -> Active<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        Active(self)
    }

    /// Whether the written records should be synced now: they are at least half of the
    /// submissions in the intake (the others are still being checked and written, and
    /// will follow), or the first has waited [`MAX_SYNC_WAIT`]. One submitter alone is
    /// synced at once; many share an fsync and the next half is checked while it runs.
    fn sync_due(&self, u: &Unsynced) -> bool {
        let active = self.active.load(Ordering::Relaxed);
        u.closed || 2 * u.records >= active || u.since.is_some_and(|t| t.elapsed() >= MAX_SYNC_WAIT)
    }

    /// Waits for written groups, lets them grow until [`Shared::sync_due`], and takes them
    /// all; `None` once closed and empty.
    fn next_sync(&self) -> Option<Vec<(Written, Vec<Option<Reply>>)>> {
        let mut u = guard(&self.written);
        loop {
            if !u.groups.is_empty() && self.sync_due(&u) {
                u.records = 0;
                u.since = None;
                return Some(std::mem::take(&mut u.groups));
            }
            if u.groups.is_empty() && u.closed {
                return None;
            }
            u.gathering = !u.groups.is_empty();
            u.idle = !u.gathering;
            u = if u.gathering {
                let waited = u.since.map_or(MAX_SYNC_WAIT, |t| t.elapsed());
                let left = MAX_SYNC_WAIT.saturating_sub(waited);
                self.to_sync
                    .wait_timeout(u, left)
                    .map_or_else(|e| e.into_inner().0, |r| r.0)
            } else {
                self.to_sync.wait(u).unwrap_or_else(PoisonError::into_inner)
            };
            u.gathering = false;
            u.idle = false;
        }
    }

    /// Answers the groups one fsync ended for (`synced`), and counts them when it succeeded.
    fn synced(&self, groups: Vec<(Written, Vec<Option<Reply>>)>, synced: &Result<()>) {
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        for (w, mut replies) in groups {
            if synced.is_ok() {
                self.groups.fetch_add(1, Ordering::Relaxed);
                self.records.fetch_add(w.records, Ordering::Relaxed);
            }
            for (id, a) in w.answers_after(synced) {
                if let Ok(a) = &a {
                    info!(lot = %a.lot, step = %a.step, leaf = a.leaf_index, "accepted custody record");
                }
                if let Some(r) = replies[id as usize].take() {
                    r.send(a);
                }
            }
        }
    }

    fn close(&self) {
        guard(&self.written).closed = true;
        self.to_sync.notify_all();
    }
}

/// A writer's yielded turn. When its task is dropped during the yield (an HTTP client that
/// hung up) and the turn is still its own, the waiting submissions are written from a
/// blocking thread: no one else would write them.
struct YieldedTurn<'a> {
    custody: &'a Arc<Custody>,
    turn: u64,
    over: bool,
}

impl YieldedTurn<'_> {
    /// True when the caller writes now (no one took over during the yield).
    fn resume(mut self) -> bool {
        self.over = true;
        self.custody.intake.shared.resume(self.turn)
    }
}

impl Drop for YieldedTurn<'_> {
    fn drop(&mut self) {
        if !self.over && self.custody.intake.shared.resume(self.turn) {
            self.custody.write_on_blocking_thread();
        }
    }
}

/// What the writer does next.
enum Next {
    Group(Vec<(Reply, Prepared)>),
    /// The next record is larger than this writer writes: hand the writing on.
    TooLarge,
    /// Nothing waiting; no one is writing any more.
    Idle,
}

/// The writer: the waiting submissions, a group of at most `max_bytes` of leaves at a time,
/// checked and written by `write` (under the custody lock), until none is waiting (returns
/// true) or the next record is larger than `max_bytes` (returns false: the caller is still
/// the writer and hands the writing on). A panic (a bug) answers that group's members and
/// every waiting one with an internal error (their replies are dropped), and the next caller
/// writes again.
fn write_waiting(
    shared: &Shared,
    max_bytes: usize,
    write: &dyn Fn(Vec<(u64, Prepared)>) -> Written,
) -> bool {
    /// On a panic (a bug: `write` catches its own), the waiting submissions are dropped
    /// unwritten, so that their callers are answered (500) instead of waiting for a writer.
    struct Writing<'a>(&'a Shared);
    impl Drop for Writing<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let mut q = guard(&self.0.queue);
                q.writer = Writer::None;
                q.waiting.clear();
            }
        }
    }
    let _w = Writing(shared);
    loop {
        let group = match shared.next_group(max_bytes) {
            Next::Group(g) => g,
            Next::TooLarge => return false,
            Next::Idle => return true,
        };
        let (replies, members): (Vec<Reply>, Vec<Prepared>) = group.into_iter().unzip();
        let written = write((0..).zip(members).collect());
        shared.wrote(written, replies);
    }
}

/// The syncer: every group written so far, made durable by one `fsync`, then answered.
fn sync_loop(shared: &Shared, fsync: &dyn Fn() -> Result<()>) {
    raise_priority();
    while let Some(groups) = shared.next_sync() {
        let synced = fsync();
        let done = catch_unwind(AssertUnwindSafe(|| shared.synced(groups, &synced)));
        drop(done);
    }
}

/// Gives the calling thread (the syncer) the nice value [`SYNCER_NICE`]. That needs
/// `CAP_SYS_NICE` (root has it, or a systemd unit's `AmbientCapabilities=CAP_SYS_NICE`);
/// without it the syncer keeps the default priority and a warning says what that costs.
fn raise_priority() {
    // SAFETY: setpriority(2) takes integers only and touches no memory of ours. On Linux the
    // nice value is per thread, and `who` = 0 names the calling thread.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, SYNCER_NICE) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        warn!(error = %e, nice = SYNCER_NICE, "cannot raise the custody syncer's priority (needs CAP_SYS_NICE): with busy cores, custody submissions may wait longer after each fsync");
    }
}

/// Starts a named thread running `run` over the intake's shared state.
fn spawn(
    name: &str,
    shared: &Arc<Shared>,
    run: impl FnOnce(&Shared) + Send + 'static,
) -> std::result::Result<(), String> {
    let shared = shared.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(&shared))
        .map(drop)
        .map_err(|e| format!("cannot start the {name} thread: {e}"))
}

impl Drop for Intake {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl Intake {
    /// Waits for a core to prepare a blocking caller's submission on (parse, `verify_strict`,
    /// the lock-free checks).
    pub(super) fn slot(&self) -> Slot<'_> {
        let mut n = guard(&self.preparing);
        while *n >= max_preparing() {
            n = self
                .slot_free
                .wait(n)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *n += 1;
        Slot(self)
    }

    /// Starts the syncer of `custody` (once). It holds the custody unit only while it syncs,
    /// so that dropping the service closes the store at once.
    fn start(&self, custody: &Arc<Custody>) -> Result<()> {
        let started = self.started.get_or_init(|| {
            let weak = Arc::downgrade(custody);
            spawn("custody-sync", &self.shared, move |shared| {
                sync_loop(shared, &|| match weak.upgrade() {
                    Some(c) => c.log.sync(),
                    None => Err(stopped()),
                })
            })
        });
        started.clone().map_err(ServiceError::Internal)
    }

    /// Groups and records made durable, and fsyncs made, since the start.
    pub(super) fn stats(&self) -> IntakeStats {
        IntakeStats {
            groups: self.shared.groups.load(Ordering::Relaxed),
            records: self.shared.records.load(Ordering::Relaxed),
            fsyncs: self.shared.fsyncs.load(Ordering::Relaxed),
        }
    }
}

impl Custody {
    /// Groups and records written by the intake since the start.
    pub fn intake_stats(&self) -> IntakeStats {
        self.intake.stats()
    }

    /// Accepts a signed custody statement, or refuses it and stores nothing; blocks until the
    /// answer (see [`Custody::submit_async`] for the checks).
    #[instrument(skip(self, sub))]
    pub fn submit(self: &Arc<Self>, sub: &Submission) -> Result<Accepted> {
        self.submit_at(sub, now_unix())
    }

    pub(crate) fn submit_at(self: &Arc<Self>, sub: &Submission, now: i64) -> Result<Accepted> {
        let _active = self.intake.shared.enter();
        let p = {
            let _slot = self.intake.slot();
            self.prepare(sub, now)?
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        if self.queue(p, Reply::Thread(tx), false)? == Role::Write {
            // A blocking thread writes groups of any size.
            self.write_waiting(MAX_GROUP_BYTES);
        }
        rx.recv().unwrap_or_else(|_| Err(stopped()))
    }

    /// Accepts a signed custody statement, or refuses it and stores nothing; the answer comes
    /// once the record is durable, and the task waits for it suspended.
    ///
    /// Checks, in order: shape and canonical form (400); actor and key known, signature
    /// (`verify_strict`), key valid at `signed_at`, freshness (401); the actor's role may
    /// record the step (403); product registered (422); nonce unused (409); `prev` is the lot
    /// head (409); named serials are issued items of the lot (422); the step is in order for
    /// the lot (409). See `docs/custody.md`.
    #[instrument(skip(self, sub))]
    pub async fn submit_async(self: &Arc<Self>, sub: Submission) -> Result<Accepted> {
        let _active = self.intake.shared.enter();
        let now = now_unix();
        let p = if sub.statement.len() <= INLINE_MAX {
            self.prepare(&sub, now)?
        } else {
            let c = self.clone();
            tokio::task::spawn_blocking(move || {
                let _slot = c.intake.slot();
                c.prepare(&sub, now)
            })
            .await
            .map_err(|e| ServiceError::Internal(format!("custody prepare task failed: {e}")))??
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A writer first lets the tasks ready on this worker run (they check their submissions
        // and queue them), so that one group takes them all: a group write costs much more
        // than a member's checks. Alone, it goes on at once.
        let may_yield = self.intake.shared.active.load(Ordering::Relaxed) > 1;
        let write = match self.queue(p, Reply::Task(tx), may_yield)? {
            Role::Wait => false,
            Role::Write => true,
            Role::Yield(turn) => {
                let turn = YieldedTurn {
                    custody: self,
                    turn,
                    over: false,
                };
                tokio::task::yield_now().await;
                turn.resume()
            }
        };
        if write && !self.write_waiting(INLINE_MAX) {
            // A record too large to write on this task: a blocking thread writes from here.
            self.write_on_blocking_thread();
        }
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Queues `p` (the syncer starts with the first submission); what the caller does next.
    fn queue(self: &Arc<Self>, p: Prepared, reply: Reply, may_yield: bool) -> Result<Role> {
        self.intake.start(self)?;
        Ok(self.intake.shared.enqueue(p, reply, may_yield))
    }

    /// Writes the waiting submissions, of any size, from a blocking thread (here, outside a
    /// runtime).
    fn write_on_blocking_thread(self: &Arc<Self>) {
        let c = self.clone();
        let write = move || {
            let _ = c.write_waiting(MAX_GROUP_BYTES);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(write)),
            Err(_) => write(),
        }
    }

    fn write_waiting(&self, max_bytes: usize) -> bool {
        write_waiting(&self.intake.shared, max_bytes, &|members| {
            run_group(self, members)
        })
    }
}

#[cfg(test)]
mod tests;

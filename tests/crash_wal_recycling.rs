//! Crash test of the store with WAL files recycled (`RocksStore::options`): a child process
//! writes synced batches, each of several keys, through enough memtable switches that RocksDB
//! writes over old WAL files, and is killed with `kill -9` three times. After each kill the
//! store must reopen with every acknowledged batch whole, and any later batch whole or
//! absent. The test fails if no WAL file was reused, so it cannot pass without testing
//! recycling.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use traceseal::store::rocks::RocksStore;
use traceseal::store::{Cf, Durability, Store, WriteBatch};

const CHILD: &str = "TRACESEAL_WAL_CRASH_CHILD";
/// Keys per batch and their value size: 64 KiB a batch, so the 8 MiB nonce memtable switches
/// (and a new WAL file begins) every 128 batches.
const KEYS: u64 = 16;
const VALUE: usize = 4096;

fn key(batch: u64, k: u64) -> Vec<u8> {
    format!("crash-{batch:08}-{k:02}").into_bytes()
}

fn value(batch: u64, k: u64) -> Vec<u8> {
    let mut v = vec![(batch % 251) as u8; VALUE];
    v[..16].copy_from_slice(&(batch * 100 + k).to_be_bytes().repeat(2));
    v
}

/// The child: writes batches from `first` on, each synced, and prints each one's number once
/// it is durable; it runs until killed.
fn child(dir: &Path, first: u64) -> ! {
    let store = RocksStore::open(dir).expect("open in the child");
    for batch in first.. {
        let mut wb = WriteBatch::new();
        for k in 0..KEYS {
            wb.put(Cf::Nonces, key(batch, k), value(batch, k));
        }
        store.write(wb, Durability::Synced).expect("write");
        println!("acked {batch}");
    }
    unreachable!()
}

/// Runs the child from `first` until `kill_after` batches were acknowledged past `first`, kills
/// it, and returns the last acknowledged batch.
fn run_and_kill(dir: &Path, first: u64, kill_after: u64) -> u64 {
    let mut c = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "wal_recycling_survives_kill_9", "--nocapture"])
        .env(CHILD, format!("{}|{first}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = BufReader::new(c.stdout.take().unwrap());
    let mut last = None;
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("acked ") {
            let n: u64 = n.parse().unwrap();
            last = Some(n);
            if n >= first + kill_after {
                // SIGKILL: no destructor, no flush, mid-write of the next batch.
                c.kill().unwrap();
                break;
            }
        }
    }
    c.wait().unwrap();
    last.expect("the child acknowledged batches")
}

/// Every batch up to `acked` is whole; the first later one is whole or absent; returns the
/// next batch number to write.
fn check(dir: &Path, acked: u64) -> u64 {
    let store = RocksStore::open(dir).expect("reopens after kill -9");
    for batch in 0..=acked {
        for k in 0..KEYS {
            let v = store.get(Cf::Nonces, &key(batch, k)).unwrap();
            assert_eq!(
                v,
                Some(value(batch, k)),
                "acknowledged batch {batch} key {k}"
            );
        }
    }
    let next = acked + 1;
    let present = (0..KEYS)
        .filter(|k| store.get(Cf::Nonces, &key(next, *k)).unwrap().is_some())
        .count() as u64;
    assert!(
        present == 0 || present == KEYS,
        "batch {next} half-written: {present} of {KEYS} keys"
    );
    next + u64::from(present == KEYS)
}

fn reused_wal_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("LOG"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .map(|log| log.matches("from recycle list").count())
        .sum()
}

#[test]
fn wal_recycling_survives_kill_9() {
    if let Ok(arg) = std::env::var(CHILD) {
        let (dir, first) = arg.split_once('|').unwrap();
        child(Path::new(dir), first.parse().unwrap());
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    drop(RocksStore::create(&dir).unwrap());
    let mut next = 0;
    // 400 to 520 batches a run: three or four WAL files each, so later ones are reused.
    for (run, extra) in [(0u64, 37u64), (1, 101), (2, 0)] {
        let acked = run_and_kill(&dir, next, 400 + extra);
        next = check(&dir, acked);
        eprintln!("run {run}: killed after batch {acked}; the store reopened whole");
    }
    let reused = reused_wal_files(&dir);
    assert!(
        reused > 0,
        "no WAL file was reused: this test tested nothing"
    );
    eprintln!("{reused} WAL files reused");
}

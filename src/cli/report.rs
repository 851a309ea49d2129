//! `traceseal verify-report`: a bank's or insurer's check of an enterprise's credit report,
//! offline (the log key's signatures, every inclusion proof, a complete history) and, with
//! `--rpc`, against the chain (the anchored root and the contract's own proof checks).

use std::path::Path;
use std::process::ExitCode;

use super::verify::{bundle_exit, check_on_chain, read_bundle};
use crate::bundle::{parse_report, verify_report as check, VerifiedReport};
use crate::checkpoint::NoteVerifier;
use crate::issuer::when;
use crate::service::setup::KeySet;

/// `traceseal verify-report FILE [--keys FILE] [--rpc URL]`. Exit 0 verified (offline, or on
/// chain with `--rpc`), 1 invalid, 2 usage, 3 not anchored, 4 chain unreachable.
pub(super) fn verify_report(file: &Path, keys: Option<&Path>, rpc: Option<&str>) -> ExitCode {
    let usage = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        ExitCode::from(bundle_exit::USAGE)
    };
    let text = match read_bundle(file) {
        Ok(t) => t,
        Err(e) => return usage(&e),
    };
    let pinned = match keys.map(pinned_log_key).transpose() {
        Ok(p) => p,
        Err(e) => return usage(&e),
    };
    if let Some(Err(e)) = rpc.map(crate::chain::parse_rpc_url) {
        return usage(&format!("--rpc: {e}"));
    }
    let verified = parse_report(&text).and_then(|r| check(&r, pinned.as_ref()));
    let v = match verified {
        Ok(v) => v,
        Err(e) => {
            println!("FAILED {e}");
            return ExitCode::from(bundle_exit::INVALID);
        }
    };
    print_report(&v, keys);
    let Some(claim) = v.anchor.clone() else {
        println!("NOT ANCHORED: the report's checkpoint is not anchored on chain (yet); fetch a new report later");
        return ExitCode::from(bundle_exit::NOT_ANCHORED);
    };
    println!(
        "ok  anchor claim matches the checkpoint: chain {} contract {}",
        claim.chain_id,
        crate::anchor::hex0x(&claim.contract)
    );
    let Some(url) = rpc else {
        println!("VERIFIED offline. Pass --rpc URL to check the anchor on chain.");
        return ExitCode::from(bundle_exit::OK);
    };
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(check_on_chain(
            url,
            &v.records,
            &claim,
            "the grade and its history are",
        )),
        Err(e) => usage(&e),
    }
}

/// The log's note verifier from `GET /api/v1/keys` saved to `path`.
fn pinned_log_key(path: &Path) -> anyhow::Result<NoteVerifier> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--keys {}: {e}", path.display()))?;
    let set: KeySet = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "--keys {}: not the JSON of GET /api/v1/keys: {e}",
            path.display()
        )
    })?;
    let vkey = set
        .keys
        .iter()
        .find(|k| k.role == "log")
        .and_then(|k| k.vkey.clone())
        .ok_or_else(|| anyhow::anyhow!("--keys {}: no log key", path.display()))?;
    NoteVerifier::from_vkey(&vkey).map_err(|e| anyhow::anyhow!("--keys: log key: {e}"))
}

/// What the offline checks established, a line each.
fn print_report(v: &VerifiedReport, keys: Option<&Path>) {
    let e = &v.enterprise;
    match keys {
        Some(p) => println!("ok  signed by the pinned log key ({})", p.display()),
        None => println!("note: the log key is the report's own; pin it with --keys (GET /api/v1/keys, fetched independently)"),
    }
    println!(
        "ok  enterprise {} {} (USCC {}, {}), report made {}",
        e.id,
        e.name,
        e.uscc,
        e.country,
        when(v.issued_at)
    );
    println!(
        "ok  {} grade and {} warning-list changes, each in the checkpoint of {} at size {}, none left out",
        v.grades.len(),
        v.warnings.len(),
        v.origin,
        v.tree_size
    );
    if let Some(g) = v.latest_grade() {
        println!(
            "ok  grade {} (score {:.1}, model's grade {}, model {}), since {}",
            g.grade.as_str(),
            g.score_tenths as f64 / 10.0,
            g.computed.as_str(),
            g.model,
            when(g.at)
        );
        for f in &g.factors {
            println!(
                "      {:<22} {:>8.2} → {:>+6.1} points",
                f.factor,
                f.amount_hundredths as f64 / 100.0,
                f.points_tenths as f64 / 10.0
            );
        }
    }
    for (i, g) in &v.grades {
        let by = g
            .reason
            .as_deref()
            .map_or(String::new(), |r| format!(" — {r}"));
        println!(
            "      change {} at {}: {} → {} ({:?}){by} [leaf {i}]",
            g.seq,
            when(g.at),
            g.previous.map_or("-", |p| p.as_str()),
            g.grade.as_str(),
            g.cause
        );
    }
    match v.latest_warning().filter(|w| w.listed) {
        Some(w) => {
            let rules: Vec<&str> = w.listings.iter().map(|l| l.rule.as_str()).collect();
            println!(
                "WARNING LIST: listed by {} (as of {})",
                rules.join(", "),
                when(w.at)
            );
        }
        None => println!("ok  not on the warning list (as of the checkpoint)"),
    }
}

//! `traceseal verify` (a code, offline, against issuer keys) and `traceseal verify-bundle` (a
//! proof bundle, offline, and its anchor on chain when given an RPC URL).

use anyhow::{anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;

use super::support::{fail, load_issuer_keys, PublishedKeys};
use crate::code::Code;
use crate::issuer::{check_revocation, when, REVOKED_REASON};
use crate::service::setup::KeySet;

/// Offline verification of a code: exit 0 genuine, 1 not genuine (with the reason), 2 on
/// usage errors. A code of a revoked issuer key is genuine only when `bundle` (the item's
/// proof bundle, checked offline and pinned to the keys file's log key) shows that its batch
/// was issued before the revocation (`crate::issuer`, the revocation rule).
pub(super) fn verify(code: &str, keys_file: &Path, bundle: Option<&Path>) -> ExitCode {
    let keys = match load_issuer_keys(keys_file) {
        Ok(k) => k,
        Err(e) => return fail(&e),
    };
    let bundle = match bundle.map(|f| read_bundle(f).and_then(|t| pinned_bundle(&t, &keys))) {
        Some(Err(e)) => return fail(&e),
        Some(Ok(b)) => Some(b),
        None => None,
    };
    let not_genuine = |why: &dyn std::fmt::Display| {
        println!("NOT GENUINE {why}");
        ExitCode::from(1)
    };
    let code = match Code::parse(code.trim()) {
        Ok(c) => c,
        Err(e) => return not_genuine(&format!("(malformed): the code is malformed: {e}")),
    };
    let Some((key, revocation)) = keys.issuer(code.kid()) else {
        return not_genuine(&format!(
            "(unknown_key): the code names issuer key {}, which is not in {}",
            code.kid(),
            keys_file.display()
        ));
    };
    if let Err(e) = code.verify(key) {
        return not_genuine(&format!("(bad_signature): {e}"));
    }
    let issued = match &bundle {
        Some(b) => match bundle_issuance(b, &code, key) {
            Ok(v) => Some(v),
            Err(e) => return not_genuine(&e),
        },
        None => None,
    };
    let kid = code.kid().to_string();
    if let Err(r) = check_revocation(
        &kid,
        revocation.as_ref(),
        issued.as_ref().map(|v| v.issued_at),
    ) {
        println!("NOT GENUINE ({REVOKED_REASON}): {r}");
        if bundle.is_none() {
            println!("(a code of a revoked key counts only with its issuance record: pass the item's proof bundle with --bundle FILE to show it was issued before the revocation)");
        }
        return ExitCode::from(1);
    }
    print_genuine(&code, revocation.as_ref(), issued.as_ref());
    ExitCode::SUCCESS
}

/// The bundle file's bundle, when it is signed by the keys file's log key.
fn pinned_bundle(text: &str, keys: &PublishedKeys) -> anyhow::Result<crate::bundle::Bundle> {
    let b = crate::bundle::parse(text).map_err(|e| anyhow!("--bundle: {e}"))?;
    let Some(log_vkey) = &keys.log_vkey else {
        bail!("--bundle needs --keys to be the JSON of GET /api/v1/keys: the bundle's checkpoints must be signed by its log key");
    };
    if &b.keys.log_vkey != log_vkey {
        bail!("--bundle: its log key is not the log key of --keys");
    }
    Ok(b)
}

/// What the bundle proves about the code: it verifies offline, it is the bundle of this very
/// code, and its issuer key is the keys file's. `Err` is the reason to print.
fn bundle_issuance(
    b: &crate::bundle::Bundle,
    code: &Code,
    key: &ed25519_dalek::VerifyingKey,
) -> Result<crate::bundle::Verified, String> {
    if b.code != code.as_str() {
        return Err("(bundle): the bundle is the proof of another code".into());
    }
    let v = crate::bundle::verify(b).map_err(|e| match e {
        crate::bundle::BundleError::IssuerKeyRevoked(d) => format!("({REVOKED_REASON}): {d}"),
        e => format!("(bundle): the bundle does not verify: {e}"),
    })?;
    let same_key = b.keys.issuers.iter().any(|k| {
        k.kid == v.kid
            && k.public_key == base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
    });
    if !same_key {
        return Err("(bundle): the bundle's issuer key is not the one in --keys".into());
    }
    Ok(v)
}

fn print_genuine(
    code: &Code,
    revocation: Option<&crate::issuer::Revocation>,
    issued: Option<&crate::bundle::Verified>,
) {
    let i = code.item();
    println!(
        "GENUINE signature: GTIN {} lot {} serial {}{} (issuer key {})",
        i.gtin.as_str(),
        i.lot.as_str(),
        i.serial.as_str(),
        i.expiry
            .as_ref()
            .map(|e| format!(" expiry {}", e.to_iso()))
            .unwrap_or_default(),
        code.kid()
    );
    if let Some(v) = issued {
        println!(
            "ok  issued at {} (its issuance record, in the signed checkpoint of size {} of {})",
            when(v.issued_at),
            v.tree_size,
            v.origin
        );
    }
    if let Some(r) = revocation {
        println!(
            "ok  issuer key {} is revoked from {} ({}); this item was issued before that: its code stays valid",
            code.kid(),
            when(r.from),
            r.reason
        );
    }
    if issued.is_none() {
        println!("(offline check: the code was signed by this issuer; scan online for issuance status and scan history)");
    }
}

/// Exit codes of `verify-bundle`.
pub(super) mod bundle_exit {
    pub const OK: u8 = 0;
    pub const INVALID: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_ANCHORED: u8 = 3;
    pub const CHAIN_UNREACHABLE: u8 = 4;
}

pub(super) fn read_bundle(file: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let limit = crate::bundle::MAX_BUNDLE_BYTES;
    let mut text = String::new();
    let res = if file == Path::new("-") {
        std::io::stdin().take(limit + 1).read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit + 1).read_to_string(&mut text))
    };
    res.map_err(|e| anyhow!("{}: {e}", file.display()))?;
    if text.len() as u64 > limit {
        bail!("{}: larger than {limit} bytes", file.display());
    }
    Ok(text)
}

/// What `verify-bundle` is told to trust instead of the bundle's own claims.
pub(super) struct Pins {
    pub(super) keys: Option<PathBuf>,
    pub(super) contract: Option<String>,
    pub(super) chain_id: Option<u64>,
}

/// Checks the bundle's keys and anchor against the pins; `Err` is the failure to print.
fn check_pins(
    b: &crate::bundle::Bundle,
    v: &crate::bundle::Verified,
    pins: &Pins,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    match &pins.keys {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| anyhow!("--keys {}: {e}", path.display()))?;
            let set: KeySet = serde_json::from_str(&text)
                .map_err(|e| anyhow!("--keys {}: not the JSON of GET /api/v1/keys: {e}", path.display()))?;
            let issuer = b
                .keys
                .issuers
                .iter()
                .find(|k| k.kid == v.kid)
                .ok_or_else(|| anyhow!("the bundle has no issuer key {}", v.kid))?;
            let Some(pinned) = set
                .keys
                .iter()
                .find(|k| k.role == "issuer" && k.kid == issuer.kid && k.public_key == issuer.public_key)
            else {
                bail!("keys: issuer key {} is not one of the pinned keys", v.kid);
            };
            // The pinned keys may know of a revocation newer than the bundle.
            check_revocation(&v.kid, pinned.revocation().as_ref(), Some(v.issued_at))
                .map_err(|e| anyhow!("{REVOKED_REASON}: {e}"))?;
            if !set
                .keys
                .iter()
                .any(|k| k.role == "log" && k.vkey.as_deref() == Some(b.keys.log_vkey.as_str()))
            {
                bail!("keys: the bundle's log key is not the pinned log key");
            }
            notes.push(format!("ok  issuer and log keys are the pinned ones ({})", path.display()));
        }
        None => notes.push("note: keys are the bundle's own; pin them with --keys (GET /api/v1/keys, fetched independently)".into()),
    }
    if let Some(claim) = &v.anchor {
        if let Some(c) = &pins.contract {
            let want = crate::chain::parse_address(c).map_err(|e| anyhow!("--contract: {e}"))?;
            if want != claim.contract {
                bail!(
                    "anchor: the bundle's contract {} is not the pinned {}",
                    crate::anchor::hex0x(&claim.contract),
                    c
                );
            }
        }
        if let Some(id) = pins.chain_id {
            if id != claim.chain_id {
                bail!(
                    "anchor: the bundle's chain {} is not the pinned chain {id}",
                    claim.chain_id
                );
            }
        }
        if pins.contract.is_none() {
            notes.push(
                "note: the contract is the bundle's own; pin it with --contract (and --chain-id)"
                    .into(),
            );
        }
    }
    Ok(notes)
}

/// `traceseal verify-bundle FILE [--rpc URL] [--keys FILE] [--contract ADDR] [--chain-id N]`.
pub(super) fn verify_bundle(file: &Path, rpc: Option<&str>, pins: &Pins) -> ExitCode {
    use crate::anchor::hex0x;
    let text = match read_bundle(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(bundle_exit::USAGE);
        }
    };
    let bad = |e: &dyn std::fmt::Display| {
        println!("FAILED {e}");
        ExitCode::from(bundle_exit::INVALID)
    };
    let b = match crate::bundle::parse(&text) {
        Ok(b) => b,
        Err(e) => return bad(&e),
    };
    let v = match crate::bundle::verify(&b) {
        Ok(v) => v,
        Err(e) => return bad(&e),
    };
    let notes = match check_pins(&b, &v, pins) {
        Ok(n) => n,
        Err(e) => {
            println!("FAILED {e}");
            return ExitCode::from(bundle_exit::INVALID);
        }
    };
    print_offline_checks(&v, &notes);
    let Some(claim) = v.anchor.clone() else {
        match v.anchor_status {
            Some(s) => println!("NOT ANCHORED YET: the checkpoint's anchoring state was {:?} when the bundle was made; fetch a new bundle later", s.as_str()),
            None => println!("NOT ANCHORED: the service that made this bundle does not anchor"),
        }
        return ExitCode::from(bundle_exit::NOT_ANCHORED);
    };
    println!(
        "ok  anchor claim matches the checkpoint: chain {} contract {} tx {} block {}",
        claim.chain_id,
        hex0x(&claim.contract),
        claim
            .tx_hash
            .map(|t| hex0x(&t))
            .unwrap_or_else(|| "-".into()),
        claim
            .block_number
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into())
    );
    if let Some(u) = rpc {
        if let Err(e) = crate::chain::parse_rpc_url(u) {
            eprintln!("error: --rpc: {e}");
            return ExitCode::from(bundle_exit::USAGE);
        }
    }
    let Some(url) = rpc else {
        println!("VERIFIED offline. Pass --rpc URL to check the anchor on chain.");
        return ExitCode::from(bundle_exit::OK);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(bundle_exit::USAGE);
        }
    };
    let what = "the item's records are";
    rt.block_on(check_on_chain(url, &v.records, &claim, what))
}

/// What the offline verification established, a line each (warnings and pin notes too).
fn print_offline_checks(v: &crate::bundle::Verified, notes: &[String]) {
    use crate::anchor::hex0x;
    println!(
        "ok  code signature (issuer key {}): GTIN {} serial {}",
        v.kid, v.gtin, v.serial
    );
    if let Some(r) = &v.key_revocation {
        println!(
            "ok  issuer key {} is revoked from {} ({}); this item was issued at {}, before that: its code stays valid",
            v.kid,
            when(r.from),
            r.reason,
            when(v.issued_at)
        );
    }
    println!(
        "ok  {} record(s) included in the signed checkpoint of {} (size {}, root {})",
        v.records.len(),
        v.origin,
        v.tree_size,
        hex0x(&v.root)
    );
    if v.newer_records > 0 {
        println!(
            "ok  {} newer record(s) included in the latest signed checkpoint (not anchored yet)",
            v.newer_records
        );
    }
    if v.custody_records > 0 {
        println!(
            "ok  {} custody record(s): signatures by the signers' logged keys, roles, engagements by the importer, lot and hash links",
            v.custody_records
        );
        println!(
            "note: the links prove nothing is missing between the bundle's first and last lot-wide record; records after them (or an item record, an engagement's end or a product's change of owner left out) cannot be excluded offline: compare GET /api/v1/lots/{{lot}}/head"
        );
    }
    for w in &v.custody_warnings {
        println!("WARN {w}");
    }
    if let Some(l) = v.latest_size {
        println!("ok  consistent with the latest signed checkpoint (size {l})");
    }
    for n in notes {
        println!("{n}");
    }
}

pub(super) async fn check_on_chain(
    url: &str,
    records: &[(u64, crate::anchor::Word, Vec<crate::anchor::Word>)],
    claim: &crate::bundle::AnchorClaim,
    what: &str,
) -> ExitCode {
    match chain_checks(url, records, claim).await {
        Ok(()) => {
            println!(
                "VERIFIED: {what} in a checkpoint whose root is anchored on chain {}",
                claim.chain_id
            );
            ExitCode::from(bundle_exit::OK)
        }
        Err(ChainCheck::Unreachable(e)) => {
            println!("CANNOT CHECK the chain: {e}");
            ExitCode::from(bundle_exit::CHAIN_UNREACHABLE)
        }
        Err(ChainCheck::Failed(e)) => {
            println!("FAILED chain: {e}");
            ExitCode::from(bundle_exit::INVALID)
        }
    }
}

/// Why the on-chain checks stopped.
enum ChainCheck {
    /// The node could not be asked (exit `CHAIN_UNREACHABLE`).
    Unreachable(String),
    /// The chain contradicts the bundle (exit `INVALID`).
    Failed(String),
}

impl From<crate::anchor::ChainError> for ChainCheck {
    fn from(e: crate::anchor::ChainError) -> Self {
        match e {
            crate::anchor::ChainError::Unavailable(e) => ChainCheck::Unreachable(e.to_string()),
            e => ChainCheck::Failed(e.to_string()),
        }
    }
}

/// The on-chain checks in order: the contract, its anchor of the bundle's checkpoint, the
/// contract's own inclusion checks, and (for information) the anchor transaction.
async fn chain_checks(
    url: &str,
    records: &[(u64, crate::anchor::Word, Vec<crate::anchor::Word>)],
    claim: &crate::bundle::AnchorClaim,
) -> Result<(), ChainCheck> {
    let reader = connect_contract(url, claim).await?;
    let on = check_anchor(&reader, claim).await?;
    for (index, leaf_hash, proof) in records {
        let ok = reader
            .verify_anchored_inclusion(&claim.log_id, claim.tree_size, leaf_hash, *index, proof)
            .await?;
        if !ok {
            return Err(ChainCheck::Failed(format!(
                "the contract rejects the inclusion proof of leaf {index}"
            )));
        }
        println!("ok  contract verifies the inclusion of leaf {index}");
    }
    // The contract state above is what proves the anchor. The transaction is informative:
    // after a reorg the anchor may have been re-sent in another transaction or block.
    if let Some(tx) = claim.tx_hash {
        report_transaction(&reader, claim, &tx, on.block_number).await?;
    }
    Ok(())
}

/// A reader of the bundle's contract, on the bundle's chain.
async fn connect_contract(
    url: &str,
    claim: &crate::bundle::AnchorClaim,
) -> Result<crate::chain::Reader, ChainCheck> {
    use crate::anchor::hex0x;
    let reader =
        crate::chain::Reader::connect(url, claim.contract, std::time::Duration::from_secs(10))
            .await
            .map_err(|e| ChainCheck::Unreachable(e.to_string()))?;
    if reader.chain_id() != claim.chain_id {
        return Err(ChainCheck::Failed(format!(
            "{url} is chain {}, the bundle's anchor is on chain {}",
            reader.chain_id(),
            claim.chain_id
        )));
    }
    let has_code = reader
        .has_code()
        .await
        .map_err(|e| ChainCheck::Unreachable(e.to_string()))?;
    if !has_code {
        return Err(ChainCheck::Failed(format!(
            "no contract at {} on chain {}",
            hex0x(&claim.contract),
            claim.chain_id
        )));
    }
    Ok(reader)
}

/// The contract's anchor of the bundle's tree size, which must match the bundle's checkpoint.
async fn check_anchor(
    reader: &crate::chain::Reader,
    claim: &crate::bundle::AnchorClaim,
) -> Result<crate::anchor::OnChainAnchor, ChainCheck> {
    use crate::anchor::hex0x;
    let on = reader
        .anchor_at(&claim.log_id, claim.tree_size)
        .await?
        .ok_or_else(|| ChainCheck::Failed(format!(
            "the contract holds no anchor of tree size {} for this log (reorged away, or never anchored)",
            claim.tree_size
        )))?;
    if on.root != claim.root {
        return Err(ChainCheck::Failed(format!(
            "the contract's root for tree size {} is {}, the bundle's checkpoint has {}",
            claim.tree_size,
            hex0x(&on.root),
            hex0x(&claim.root)
        )));
    }
    if on.checkpoint_hash != claim.checkpoint_hash {
        return Err(ChainCheck::Failed(format!(
            "the contract's checkpoint hash is {}, the bundle's checkpoint hashes to {}",
            hex0x(&on.checkpoint_hash),
            hex0x(&claim.checkpoint_hash)
        )));
    }
    println!(
        "ok  contract holds root {} for tree size {} (block {})",
        hex0x(&on.root),
        on.tree_size,
        on.block_number
    );
    Ok(on)
}

/// Where the anchor transaction the bundle names is now (for information only).
async fn report_transaction(
    reader: &crate::chain::Reader,
    claim: &crate::bundle::AnchorClaim,
    tx: &crate::anchor::Word,
    anchored_in: u64,
) -> Result<(), ChainCheck> {
    use crate::anchor::hex0x;
    match reader.receipt(tx).await? {
        Some(r) if r.success && Some(r.block_number) == claim.block_number => {
            println!("ok  anchor transaction {} is in block {}", hex0x(tx), r.block_number);
        }
        Some(r) => println!(
            "note: anchor transaction {} is in block {} (the bundle says {:?}); the contract holds the anchor from block {}",
            hex0x(tx),
            r.block_number,
            claim.block_number,
            anchored_in
        ),
        None => println!(
            "note: anchor transaction {} is not on this chain (re-sent after a reorg); the contract holds the same anchor from block {}",
            hex0x(tx),
            anchored_in
        ),
    }
    Ok(())
}

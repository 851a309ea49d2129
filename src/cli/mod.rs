//! The command line (clap): `init`, `serve`, `demo`, `verify`, `verify-bundle`, `token`,
//! `keys`, and the actor commands `actor-key`, `attest`, `event` ([`custody`]).

use anyhow::anyhow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::service::setup::DataDir;

pub mod custody;
mod keys;
pub mod labels;
mod report;
mod serve;
mod support;
mod token;
mod user;
mod verify;

use self::report::verify_report;
use self::serve::{serve, ServeOptions};
pub use self::support::load_issuer_keys;
use self::support::{fail, init, load_config, open_service, print_demo};
use self::verify::{verify, verify_bundle, Pins};

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// traceseal: signed item codes, an append-only Merkle log, public scans.
#[derive(Debug, Parser)]
#[command(name = "traceseal", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a data directory: store, issuer and log keys (PKCS#8 PEM, 0600), operator token.
    Init {
        /// The data directory (must not be initialised).
        #[arg(long, default_value = DEFAULT_DATA_DIR, env = "TRACESEAL_DATA_DIR")]
        data_dir: PathBuf,
        /// Public verification host for codes and the log origin (default: from the config).
        #[arg(long)]
        public_host: Option<String>,
    },
    /// Run the service.
    Serve {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA_DIR, env = "TRACESEAL_DATA_DIR")]
        data_dir: PathBuf,
        /// Listen address (overrides the config file and TRACESEAL_LISTEN).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Config file (default: DATA_DIR/traceseal.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Initialise DATA_DIR first if it is not initialised yet.
        #[arg(long)]
        init: bool,
        /// With --init: load the demo data set into the new data directory (demo actors'
        /// keys go to DATA_DIR/demo-keys/). Never on a production directory.
        #[arg(long, requires = "init")]
        demo: bool,
        /// Development mode: with no chain configured, start the local development chain
        /// (anvil) and let the scan page read it on loopback. Without --dev, anchoring needs
        /// a configured chain (TRACESEAL_CHAIN_RPC and an anchoring key) or
        /// chain.enabled = false, and `serve` refuses to start otherwise.
        #[arg(long)]
        dev: bool,
    },
    /// Check a proof bundle (GET /api/v1/bundle?code=CODE) offline and, with
    /// --rpc, against the anchor contract. Exit 0: verified and anchored; 1: a check failed
    /// (the reason is printed); 2: usage error or unreadable file; 3: valid but not anchored
    /// yet; 4: the chain could not be reached.
    VerifyBundle {
        /// The bundle file (`-` for standard input).
        file: PathBuf,
        /// JSON-RPC URL of a node of the bundle's chain: read the anchored root from the
        /// contract and check every record with its on-chain verifier.
        #[arg(long)]
        rpc: Option<String>,
        /// Pin the keys: the JSON of GET /api/v1/keys obtained independently of the bundle. The
        /// bundle's issuer and log keys must be among them.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Pin the anchor contract (0x address) the bundle's anchor must be in.
        #[arg(long)]
        contract: Option<String>,
        /// Pin the chain id the bundle's anchor must be on.
        #[arg(long)]
        chain_id: Option<u64>,
    },
    /// Check an enterprise's credit report (GET /api/v1/enterprises/{id}/credit-report)
    /// without trusting the service: the log key's signatures, every grade and warning-list
    /// change's inclusion proof, a history without gaps, and with --rpc the anchor on chain.
    /// Exit 0 verified, 1 invalid, 2 usage, 3 not anchored, 4 chain unreachable.
    VerifyReport {
        /// The report file (`-` for standard input).
        file: PathBuf,
        /// Pin the log key: the JSON of GET /api/v1/keys obtained independently.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// JSON-RPC URL of a node of the report's chain: check the anchored root and every
        /// proof with the contract.
        #[arg(long)]
        rpc: Option<String>,
    },
    /// Make an actor's Ed25519 signing key (PKCS#8 PEM, 0600) and print its public key and
    /// kid for the operator to register.
    ActorKey {
        /// Where to write the private key (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign an origin attestation with your actor key and submit it. Exit 0: accepted;
    /// 1: refused (the reason is printed); 2: usage; 4: server unreachable.
    Attest(custody::AttestArgs),
    /// Sign a custody event with your actor key and submit it (exit codes as `attest`).
    Event(custody::EventArgs),
    /// Load the demo data set (products, actors with their keys, issued lots and complete
    /// custody chains) into a data directory. The service must not be running on it.
    Demo {
        /// The data directory (initialised).
        #[arg(long, default_value = DEFAULT_DATA_DIR, env = "TRACESEAL_DATA_DIR")]
        data_dir: PathBuf,
        /// The demo file (default: the built-in copy of fixtures/demo.json).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Create a print job for a batch (prints are recorded; reprints need --reprint-reason
    /// and are logged) and write its labels to a file, with progress. Exit 0: all labels
    /// written; 1: refused (reason printed); 2: usage; 4: server unreachable or stream broken.
    Labels(labels::LabelsArgs),
    /// API tokens for machines and regulators: `token add --role regulator --name …`,
    /// `token list`, `token revoke ID`, on the data directory (the service stopped). Exit 0:
    /// done; 2: refused or unusable (the reason is printed).
    Token(token::TokenArgs),
    /// Users (people who sign in with a password): `user add --username alice --role operator
    /// --generate-password`, `user list`, `user disable NAME`, on the data directory (the
    /// service stopped). Exit 0: done; 2: refused or unusable (the reason is printed).
    User(user::UserArgs),
    /// Issuer keys: `keys list`, `keys rotate` (a new key signs new batches; the old one's
    /// codes stay valid), `keys revoke KID --from TIME --reason …` (after a leak), on the data
    /// directory (the service stopped). Exit 0: done; 2: refused or unusable (the reason is
    /// printed).
    Keys(keys::KeysArgs),
    /// Check a code offline against public keys. Exit 0: genuine; 1: not genuine (the reason
    /// is printed; a code of a revoked issuer key needs --bundle to show it was issued before
    /// the revocation); 2: usage error or unreadable file.
    Verify {
        /// The code URI.
        code: String,
        /// Keys: the JSON of GET /api/v1/keys, or a PEM public (or private) key.
        #[arg(long)]
        keys: PathBuf,
        /// The item's proof bundle (GET /api/v1/bundle?code=CODE), checked offline: its
        /// issuance record dates the code, for a key revoked since (needs --keys JSON, whose
        /// log key the bundle's checkpoints must be signed with).
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
}

/// Runs the CLI; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Init {
            data_dir,
            public_host,
        } => done(init(&data_dir, public_host)),
        Command::Serve {
            data_dir,
            listen,
            config,
            init,
            demo,
            dev,
        } => done(serve(
            &data_dir,
            &ServeOptions {
                listen,
                config,
                init,
                demo,
                dev,
            },
        )),
        Command::Verify { code, keys, bundle } => verify(&code, &keys, bundle.as_deref()),
        Command::ActorKey { out } => custody::actor_key(&out),
        Command::Attest(a) => custody::attest(&a),
        Command::Event(a) => custody::event(&a),
        Command::Labels(a) => labels::run(&a),
        Command::Demo { data_dir, file } => done(demo_cmd(&data_dir, file)),
        Command::Token(a) => done(token::run(&a)),
        Command::User(a) => done(user::run(&a)),
        Command::Keys(a) => done(keys::run(&a)),
        Command::VerifyReport { file, keys, rpc } => {
            verify_report(&file, keys.as_deref(), rpc.as_deref())
        }
        Command::VerifyBundle {
            file,
            rpc,
            keys,
            contract,
            chain_id,
        } => verify_bundle(
            &file,
            rpc.as_deref(),
            &Pins {
                keys,
                contract,
                chain_id,
            },
        ),
    }
}

fn done(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn demo_cmd(data_dir: &Path, file: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = DataDir::new(data_dir);
    let cfg = load_config(&dir, None)?;
    let text = match &file {
        Some(f) => {
            std::fs::read_to_string(f).map_err(|e| anyhow!("cannot read {}: {e}", f.display()))?
        }
        None => crate::service::demo::BUILTIN.to_string(),
    };
    let svc = open_service(&dir, &cfg).map_err(|e| {
        anyhow!("{e:#} (is the service running on this data directory? stop it first)")
    })?;
    let r = svc
        .load_demo(&text, &dir.root().join("demo-keys"))
        .map_err(anyhow::Error::from)?;
    print_demo(&r);
    Ok(())
}

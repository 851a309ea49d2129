#![doc = include_str!("../README.md")]
//!
//! # Layout
//!
//! Layers, lowest first; a module imports only from layers below it.
//!
//! | layer | modules | owns |
//! | --- | --- | --- |
//! | pure core (no I/O) | [`gs1`], [`code`], [`commitment`], [`leaf`], [`issuer`], [`merkle`], [`checkpoint`], [`custody`], [`epcis`], [`anchor`], [`bundle`] | formats, signatures, proofs, custody rules, EPCIS, the chain port |
//! | adapters | [`store`] (RocksDB; `store::schema`: every key and value codec), [`keys`] (PEM key files), [`chain`] (alloy, anvil), [`labels`] (QR sizing, fonts, PNG/SVG/PDF/ZPL) | one external resource each |
//! | settings | [`config`] | the configuration: TOML file, then the `TRACESEAL_*` table, then checks |
//! | service | [`service`]: one unit per concern (`log`, `master`, `registry`, `keyring`, `engagements`, `issuance`, `custody`, `telemetry`, `complaints`, `scan`, `printing`, `anchoring`), composed by `Service`; its own use cases `setup`, `bundle`, `verify`, `demo`; `base` | use cases, transactions, background workers |
//! | edges | [`http`] (axum), [`cli`] (clap), [`wiring`] | transport, composition |
//!
//! No import cycles between modules that are not parent and child (`scripts/check-imports.py`;
//! `docs/development.md`).

/// Every binary built on this crate (the service, its tests and benches) allocates with
/// mimalloc: the custody intake makes many short-lived allocations per record (the parsed
/// statement, its canonical text, the leaf, the write batch), and glibc's malloc cost about
/// 5 µs of CPU more per record at 32 submitters (`docs/performance.md`, Custody intake).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod anchor;
pub mod authz;
pub mod bundle;
pub mod chain;
pub mod checkpoint;
pub mod cli;
pub mod code;
pub mod commitment;
pub mod config;
pub mod custody;
pub mod epcis;
pub mod grading;
pub mod gs1;
pub mod http;
pub mod issuer;
pub mod keys;
pub mod labels;
pub mod leaf;
pub mod merkle;
pub mod records;
pub mod service;
pub mod store;
#[cfg(test)]
pub(crate) mod test_support;
pub mod wiring;

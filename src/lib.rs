#![doc = include_str!("../README.md")]
//!
//! # Layout
//!
//! Layers, lowest first; a module imports only from layers below it.
//!
//! | layer | modules | owns |
//! | --- | --- | --- |
//! | pure core (no I/O) | [`gs1`], [`code`], [`commitment`], [`leaf`], [`merkle`], [`checkpoint`], [`custody`], [`epcis`], [`anchor`], [`bundle`] | formats, signatures, proofs, custody rules, EPCIS, the chain port |
//! | adapters | [`store`] (RocksDB), [`keys`] (PEM key files), [`chain`] (alloy, anvil), [`labels`] (QR sizing, ZPL) | one external resource each |
//! | service | [`service`] | use cases, transactions, background workers |
//! | edges | [`http`] (axum), [`cli`] (clap), [`config`], [`wiring`] | transport, composition |

pub mod anchor;
pub mod bundle;
pub mod chain;
pub mod checkpoint;
pub mod cli;
pub mod code;
pub mod commitment;
pub mod config;
pub mod custody;
pub mod epcis;
pub mod gs1;
pub mod http;
pub mod keys;
pub mod labels;
pub mod leaf;
pub mod merkle;
pub mod service;
pub mod store;
pub mod wiring;

//! traceseal: anti-counterfeit traceability for cross-border e-commerce imports.
//!
//! # Layout
//!
//! Layers, lowest first; a module imports only from layers below it.
//!
//! | layer | modules | owns |
//! | --- | --- | --- |
//! | pure core (no I/O) | [`gs1`], [`code`], [`merkle`], [`checkpoint`] | formats, signatures, proofs, rules |
//! | adapters | [`store`] (RocksDB), [`keys`] (PEM key files) | one external resource each |
//! | service | [`service`] | use cases, transactions, background workers |
//! | edges | [`http`] (axum), [`cli`] (clap), [`config`] | transport only |

pub mod checkpoint;
pub mod code;
pub mod gs1;
pub mod merkle;

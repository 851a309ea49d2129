//! The custody chain (pure core): what actors sign, how it is encoded in the log, who may
//! record which step, and in which order.
//!
//! - [`canon`]: canonical JSON (RFC 8785) — the bytes statements are signed over.
//! - [`record`]: custody statements, their signing and their log leaves.
//! - [`registry`]: operator records — actor and key registration, rotation, revocation, recalls.
//! - [`rules`]: the permission matrix and the lot state machine.
//! - [`request`]: signed actor requests (reads and uploads authenticated by an actor's key).
//!
//! Hash links: every statement carries `prev`, the leaf hash of the lot's latest lot-wide
//! record (or zeros). Lot-wide records advance the lot's head; item-scoped records (a release
//! or sale of some serials) point at the head they saw without moving it, so per-order events
//! never have to re-sign because another order moved the head, and an item's history is the
//! lot-wide chain plus its own records. (The service checks records one at a time against the
//! lot state and writes them in groups, one synced write per group.) See `docs/custody.md`.

pub mod canon;
pub mod engagement;
pub mod event;
pub mod record;
pub mod registry;
pub mod request;
pub mod rules;

pub use record::{
    CheckedStatement, Event, LotId, Role, SignedStatement, Statement, Step, CUSTODY_V2, GENESIS,
};
pub use registry::{ActorOp, Recall, RecallClass};
pub use rules::{ItemState, LotState, OrderError};

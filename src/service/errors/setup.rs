//! Errors of one operation family: setting up and opening a data directory, loading demo data.

use std::path::PathBuf;

use super::{ErrorKind, ServiceError};
use crate::custody::Step;

/// Setting up and opening a data directory, loading demo data: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `init` was pointed at a directory that already holds a data directory's files.
    #[error(
        "{} is already initialised (or partially: it holds db/, keys/ or admin.token); \
         refusing to touch it. Use another directory, or remove it to start over",
        .dir.display()
    )]
    AlreadyInitialised {
        /// The data directory.
        dir: PathBuf,
    },
    /// `open` was pointed at a directory that `init` never set up.
    #[error(
        "{} is not initialised: run `traceseal init --data-dir {}` (or `serve --init`)",
        .dir.display(),
        .dir.display()
    )]
    NotInitialised {
        /// The data directory.
        dir: PathBuf,
    },
    /// The demo file is not a demo data set.
    #[error("demo file: {source}")]
    BadDemoFile {
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A demo product names an enterprise the demo does not define.
    #[error("demo product {gtin}: unknown enterprise")]
    DemoUnknownEnterprise {
        /// The product's GTIN.
        gtin: String,
        /// The enterprise key it names.
        enterprise: String,
    },
    /// A demo custody event is by an actor the demo does not define.
    #[error("demo event by unknown actor {actor}")]
    DemoUnknownActor {
        /// The actor id it names.
        actor: String,
    },
    /// A demo custody record was refused by the custody service.
    #[error("demo lot {lot}, {step} by {actor}: {source}")]
    DemoRecordRefused {
        /// The lot id.
        lot: String,
        /// The record's step.
        step: Step,
        /// The actor who signed it.
        actor: String,
        /// Why custody refused it.
        #[source]
        source: Box<ServiceError>,
    },
}

impl SetupError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SetupError::AlreadyInitialised { .. } => ErrorKind::Conflict,
            SetupError::NotInitialised { .. } => ErrorKind::NotFound,
            SetupError::BadDemoFile { .. }
            | SetupError::DemoUnknownEnterprise { .. }
            | SetupError::DemoUnknownActor { .. }
            | SetupError::DemoRecordRefused { .. } => ErrorKind::Invalid,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match self {
            SetupError::AlreadyInitialised { .. } => "already_initialised",
            SetupError::NotInitialised { .. } => "not_initialised",
            SetupError::BadDemoFile { .. } => "bad_demo_file",
            SetupError::DemoUnknownEnterprise { .. } => "demo_unknown_enterprise",
            SetupError::DemoUnknownActor { .. } => "demo_unknown_actor",
            SetupError::DemoRecordRefused { .. } => "demo_record_refused",
        }
    }
}

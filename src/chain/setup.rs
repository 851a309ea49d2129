//! Connecting to a chain and deploying the registry: the errors of start-up, kept apart from
//! [`ChainError`], the errors of running.

use std::future::IntoFuture;
use std::time::Duration;

use alloy::primitives::{TxKind, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionInput, TransactionRequest};
use alloy::sol_types::SolConstructor;
use alloy::transports::TransportError;

use super::{AnchorRegistry, ChainClient, SendOutcome, ARTIFACT};
use crate::anchor::{Address, ChainError, ChainPort, Word};

/// Why connecting to a chain or deploying the registry failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The RPC URL does not parse.
    #[error("RPC URL {url:?}: {source}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// The parser's complaint.
        source: url::ParseError,
    },
    /// An `https` URL in a build without TLS.
    #[error("RPC URL {0:?} uses https, but this build has no TLS client: rebuild with `--features rpc-tls`, or use a local node / TLS-terminating proxy over http")]
    NoTls(String),
    /// Neither http nor https.
    #[error("RPC URL {url:?}: unsupported scheme {scheme:?} (http or https)")]
    Scheme {
        /// The URL given.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// The node did not answer in time.
    #[error("{url}: no answer within {timeout:?}")]
    Timeout {
        /// The node.
        url: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The node answered with an error, or the connection failed.
    #[error("{url}: {source}")]
    Rpc {
        /// The node.
        url: String,
        /// The transport's error.
        source: TransportError,
    },
    /// The node is another chain than configured.
    #[error("{url} is chain {actual} but chain.chain_id is {want}")]
    WrongChain {
        /// The node.
        url: String,
        /// Its chain id.
        actual: u64,
        /// The configured one.
        want: u64,
    },
    /// The compiled contract artifact we ship is unusable (a build problem).
    #[error("contract artifact: {0}")]
    Artifact(String),
    /// A step of the deployment failed.
    #[error("deploy: {step}: {source}")]
    Deploy {
        /// The step (nonce, gas estimate, fees, signing, sending, receipt).
        step: &'static str,
        /// The chain's error.
        source: ChainError,
    },
    /// The deployment transaction was refused, reverted or not mined in time.
    #[error("deploy transaction {0}")]
    DeployFailed(String),
    /// An address that is not 20 bytes of hex.
    #[error("address {input:?}: {source}")]
    Address {
        /// The text given.
        input: String,
        /// Why.
        source: crate::anchor::HexError,
    },
}

/// Creation bytecode of the registry.
pub fn creation_bytecode() -> Result<Vec<u8>, SetupError> {
    let v: serde_json::Value =
        serde_json::from_str(ARTIFACT).map_err(|e| SetupError::Artifact(e.to_string()))?;
    let hex = v["bytecode"]
        .as_str()
        .ok_or_else(|| SetupError::Artifact("no bytecode".into()))?;
    crate::anchor::parse_hex_vec(hex).map_err(|e| SetupError::Artifact(format!("bytecode: {e}")))
}

/// Parses an RPC URL; `https` needs the `rpc-tls` build feature.
pub fn parse_rpc_url(url: &str) -> Result<alloy::transports::http::reqwest::Url, SetupError> {
    let u: alloy::transports::http::reqwest::Url =
        url.parse().map_err(|source| SetupError::BadUrl {
            url: url.to_string(),
            source,
        })?;
    match u.scheme() {
        "http" => Ok(u),
        "https" if cfg!(feature = "rpc-tls") => Ok(u),
        "https" => Err(SetupError::NoTls(url.to_string())),
        s => Err(SetupError::Scheme {
            url: url.to_string(),
            scheme: s.to_string(),
        }),
    }
}

impl SetupError {
    /// A problem of the configuration (the URL), not of the node: retrying will not help.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            SetupError::BadUrl { .. } | SetupError::NoTls(_) | SetupError::Scheme { .. }
        )
    }
}

/// Parses a `0x` address.
pub fn parse_address(s: &str) -> Result<Address, SetupError> {
    crate::anchor::parse_hex::<20>(s).map_err(|source| SetupError::Address {
        input: s.to_string(),
        source,
    })
}

impl ChainClient {
    /// Deploys a registry whose anchorer is this key's account; waits (up to `wait`) for the
    /// receipt. Returns (contract, tx hash, block number).
    pub async fn deploy(&self, wait: Duration) -> Result<(Address, Word, u64), SetupError> {
        let mut code = creation_bytecode()?;
        code.extend(
            AnchorRegistry::constructorCall {
                anchorer_: self.signer.address(),
            }
            .abi_encode(),
        );
        let me = self.signer.address();
        let p = &self.reader.provider;
        let nonce = self
            .reader
            .t(p.get_transaction_count(me).pending().into_future())
            .await
            .map_err(|source| SetupError::Deploy {
                step: "nonce",
                source,
            })?;
        let est = self
            .reader
            .t(p.estimate_gas(TransactionRequest {
                from: Some(me),
                to: Some(TxKind::Create),
                input: TransactionInput::new(code.clone().into()),
                ..Default::default()
            })
            .into_future())
            .await
            .map_err(|source| SetupError::Deploy {
                step: "gas estimate",
                source,
            })?;
        let fees = self
            .suggested_fees()
            .await
            .map_err(|source| SetupError::Deploy {
                step: "fees",
                source,
            })?;
        let tx = self
            .sign(TxKind::Create, code, nonce, est + est / 4, fees)
            .map_err(|source| SetupError::Deploy {
                step: "signing",
                source,
            })?;
        match self
            .send_raw(&tx.raw)
            .await
            .map_err(|source| SetupError::Deploy {
                step: "sending",
                source,
            })? {
            SendOutcome::Accepted => {}
            other => return Err(SetupError::DeployFailed(format!("refused: {other:?}"))),
        }
        self.wait_deployed(tx.hash, wait).await
    }

    /// Waits (up to `wait`) for the deployment transaction `hash` to be mined; returns
    /// (contract, tx hash, block number).
    async fn wait_deployed(
        &self,
        hash: Word,
        wait: Duration,
    ) -> Result<(Address, Word, u64), SetupError> {
        let p = &self.reader.provider;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let r = self
                .reader
                .t(p.get_transaction_receipt(B256::from(hash)).into_future())
                .await
                .map_err(|source| SetupError::Deploy {
                    step: "receipt",
                    source,
                })?;
            if let Some(r) = r {
                if !r.status() {
                    return Err(SetupError::DeployFailed("reverted".into()));
                }
                let addr = r.contract_address.ok_or_else(|| {
                    SetupError::DeployFailed("mined without a contract address".into())
                })?;
                return Ok((addr.0 .0, hash, r.block_number.unwrap_or(0)));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(SetupError::DeployFailed(format!(
                    "{} not mined within {wait:?}",
                    crate::anchor::hex0x(&hash)
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

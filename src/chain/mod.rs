//! The EVM adapter: the only module that uses alloy.
//!
//! - [`ChainClient`]: JSON-RPC client of one deployment of `contracts/AnchorRegistry.sol`,
//!   implementing [`ChainPort`] for the anchoring worker. Transactions are built and signed
//!   here (EIP-1559, local secp256k1 key) and returned as bytes, so the worker can persist them
//!   before they are sent.
//! - [`Reader`]: read-only access (no key) for `traceseal verify-bundle --rpc`.
//! - [`key`]: the anchoring key file (secp256k1, PKCS#8 PEM, mode 0600).
//! - [`anvil`]: the local development node (npm `@foundry-rs/anvil-linux-amd64`).
//!
//! Why alloy and not ethers: ethers-rs was deprecated and archived by its maintainers in 2024
//! in favour of alloy, written by the same team.

pub mod anvil;
pub mod key;
mod setup;

pub use self::setup::{creation_bytecode, parse_address, parse_rpc_url, SetupError};

/// Selector of the registry's `anchorAt(bytes32,uint64)`: the scan page's script reads the
/// anchored root with it (`eth_call`).
pub const ANCHOR_AT_SELECTOR: [u8; 4] = AnchorRegistry::anchorAtCall::SELECTOR;

use std::future::IntoFuture;
use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::eips::BlockNumberOrTag;
use alloy::network::{Ethereum, TxSignerSync};
use alloy::primitives::{Address as EvmAddress, Bytes, TxKind, B256, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{TransactionInput, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolInterface};
use alloy::transports::{RpcError, TransportError};

use crate::anchor::{
    Address, AnchorCall, ChainError, ChainPort, Fees, Inclusion, OnChainAnchor, SendOutcome,
    SignedTx, Word,
};

alloy::sol!(
    #[allow(missing_docs)]
    #[derive(Debug)]
    AnchorRegistry,
    "contracts/out/AnchorRegistry.json"
);

/// The compiled contract artifact (ABI, bytecode), as committed.
pub const ARTIFACT: &str = include_str!("../../contracts/out/AnchorRegistry.json");

fn classify(e: TransportError) -> ChainError {
    match &e {
        RpcError::ErrorResp(p) => {
            let mut msg = p.message.to_string();
            if let Some(data) = p.data.as_ref() {
                let raw = data.get().trim_matches('"');
                if let Ok(bytes) = crate::anchor::parse_hex_vec(raw) {
                    if let Ok(err) = AnchorRegistry::AnchorRegistryErrors::abi_decode(&bytes) {
                        msg = format!("{msg}: {}", describe_error(&err));
                    }
                }
            }
            ChainError::Rejected(msg)
        }
        RpcError::NullResp => ChainError::Rejected("null response".into()),
        RpcError::DeserError { .. } => ChainError::Rejected(e.to_string()),
        _ => ChainError::Unavailable(e.to_string()),
    }
}

/// Human text of a contract error.
pub fn describe_error(e: &AnchorRegistry::AnchorRegistryErrors) -> String {
    use AnchorRegistry::AnchorRegistryErrors as E;
    match e {
        E::NotOwner(_) => "NotOwner: only the owner may do this".into(),
        E::NotPendingOwner(_) => "NotPendingOwner: only the pending owner may accept".into(),
        E::NotAnchorer(_) => "NotAnchorer: this account is not the contract's anchorer".into(),
        E::ZeroAddress(_) => "ZeroAddress".into(),
        E::ZeroRoot(_) => "ZeroRoot".into(),
        E::TreeSizeNotIncreasing(x) => format!(
            "TreeSizeNotIncreasing: latest anchored tree size is {}, got {}",
            x.latestTreeSize, x.treeSize
        ),
        E::NoAnchor(_) => "NoAnchor: nothing anchored for this log".into(),
        E::AnchorNotFound(x) => format!("AnchorNotFound: no anchor of tree size {}", x.treeSize),
    }
}

fn word(b: B256) -> Word {
    b.0
}

fn on_chain_anchor(a: AnchorRegistry::Anchor) -> OnChainAnchor {
    OnChainAnchor {
        tree_size: a.treeSize,
        root: word(a.root),
        checkpoint_hash: word(a.checkpointHash),
        block_number: a.blockNumber,
        timestamp: a.timestamp,
    }
}

/// Read-only client of a registry deployment.
#[derive(Clone, Debug)]
pub struct Reader {
    provider: RootProvider<Ethereum>,
    contract: EvmAddress,
    chain_id: u64,
    timeout: Duration,
}

impl Reader {
    /// Connects and reads the chain id (see [`Reader::has_code`] to check the contract).
    pub async fn connect(
        url: &str,
        contract: Address,
        timeout: Duration,
    ) -> Result<Reader, SetupError> {
        let provider = RootProvider::<Ethereum>::new_http(parse_rpc_url(url)?);
        let chain_id = tokio::time::timeout(timeout, provider.get_chain_id())
            .await
            .map_err(|_| SetupError::Timeout {
                url: url.to_string(),
                timeout,
            })?
            .map_err(|source| SetupError::Rpc {
                url: url.to_string(),
                source,
            })?;
        let r = Reader {
            provider,
            contract: EvmAddress::from(contract),
            chain_id,
            timeout,
        };
        Ok(r)
    }

    /// Chain id of the node.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Whether `contract` has code on this chain.
    pub async fn has_code(&self) -> Result<bool, ChainError> {
        let code = self
            .t(self.provider.get_code_at(self.contract).into_future())
            .await?;
        Ok(!code.is_empty())
    }

    async fn t<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, TransportError>>,
    ) -> Result<T, ChainError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(classify),
            Err(_) => Err(ChainError::Unavailable(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }

    async fn eth_call(&self, data: Vec<u8>) -> Result<Bytes, ChainError> {
        let req = TransactionRequest {
            to: Some(TxKind::Call(self.contract)),
            input: TransactionInput::new(data.into()),
            ..Default::default()
        };
        self.t(self.provider.call(req).into_future()).await
    }

    /// The anchor of exactly `tree_size`, `None` if the contract has none.
    pub async fn anchor_at(
        &self,
        log_id: &Word,
        tree_size: u64,
    ) -> Result<Option<OnChainAnchor>, ChainError> {
        let data = AnchorRegistry::anchorAtCall {
            logId: B256::from(*log_id),
            treeSize: tree_size,
        }
        .abi_encode();
        match self.eth_call(data).await {
            Ok(out) => {
                let a = AnchorRegistry::anchorAtCall::abi_decode_returns(&out)
                    .map_err(|e| ChainError::Rejected(format!("anchorAt result: {e}")))?;
                Ok(Some(on_chain_anchor(a)))
            }
            Err(ChainError::Rejected(m)) if m.contains("AnchorNotFound") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The newest anchor of `log_id`, `None` if there is none.
    pub async fn latest(&self, log_id: &Word) -> Result<Option<OnChainAnchor>, ChainError> {
        let data = AnchorRegistry::latestCall {
            logId: B256::from(*log_id),
        }
        .abi_encode();
        match self.eth_call(data).await {
            Ok(out) => {
                let a = AnchorRegistry::latestCall::abi_decode_returns(&out)
                    .map_err(|e| ChainError::Rejected(format!("latest result: {e}")))?;
                Ok(Some(on_chain_anchor(a)))
            }
            Err(ChainError::Rejected(m)) if m.contains("NoAnchor") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The contract's `verifyInclusion` (pure RFC 9162 check with the SHA-256 precompile).
    pub async fn verify_inclusion(
        &self,
        leaf_hash: &Word,
        index: u64,
        tree_size: u64,
        proof: &[Word],
        root: &Word,
    ) -> Result<bool, ChainError> {
        let data = AnchorRegistry::verifyInclusionCall {
            leafHash: B256::from(*leaf_hash),
            index,
            treeSize: tree_size,
            proof: proof.iter().map(|p| B256::from(*p)).collect(),
            root: B256::from(*root),
        }
        .abi_encode();
        let out = self.eth_call(data).await?;
        AnchorRegistry::verifyInclusionCall::abi_decode_returns(&out)
            .map_err(|e| ChainError::Rejected(format!("verifyInclusion result: {e}")))
    }

    /// The contract's `verifyAnchoredInclusion`: the proof checked against the root the
    /// contract stores for `tree_size`.
    pub async fn verify_anchored_inclusion(
        &self,
        log_id: &Word,
        tree_size: u64,
        leaf_hash: &Word,
        index: u64,
        proof: &[Word],
    ) -> Result<bool, ChainError> {
        let data = AnchorRegistry::verifyAnchoredInclusionCall {
            logId: B256::from(*log_id),
            treeSize: tree_size,
            leafHash: B256::from(*leaf_hash),
            index,
            proof: proof.iter().map(|p| B256::from(*p)).collect(),
        }
        .abi_encode();
        let out = self.eth_call(data).await?;
        AnchorRegistry::verifyAnchoredInclusionCall::abi_decode_returns(&out)
            .map_err(|e| ChainError::Rejected(format!("verifyAnchoredInclusion result: {e}")))
    }

    /// Every `Anchored` event of `log_id`, oldest first: (tree size, root, checkpoint hash,
    /// block number, transaction hash).
    pub async fn anchored_events(
        &self,
        log_id: &Word,
    ) -> Result<Vec<(u64, Word, Word, u64, Word)>, ChainError> {
        use alloy::sol_types::SolEvent;
        let filter = alloy::rpc::types::Filter::new()
            .address(self.contract)
            .event_signature(AnchorRegistry::Anchored::SIGNATURE_HASH)
            .topic1(B256::from(*log_id))
            .from_block(0u64);
        let logs = self.t(self.provider.get_logs(&filter)).await?;
        let mut out = Vec::with_capacity(logs.len());
        for l in logs {
            let ev = AnchorRegistry::Anchored::decode_log_data(l.data())
                .map_err(|e| ChainError::Rejected(format!("Anchored event: {e}")))?;
            out.push((
                ev.treeSize,
                word(ev.root),
                word(ev.checkpointHash),
                l.block_number.unwrap_or(0),
                l.transaction_hash.map(word).unwrap_or([0; 32]),
            ));
        }
        Ok(out)
    }

    /// The contract's current anchorer and owner.
    pub async fn roles(&self) -> Result<(Address, Address), ChainError> {
        let out = self
            .eth_call(AnchorRegistry::anchorerCall {}.abi_encode())
            .await?;
        let anchorer = AnchorRegistry::anchorerCall::abi_decode_returns(&out)
            .map_err(|e| ChainError::Rejected(format!("anchorer result: {e}")))?;
        let out = self
            .eth_call(AnchorRegistry::ownerCall {}.abi_encode())
            .await?;
        let owner = AnchorRegistry::ownerCall::abi_decode_returns(&out)
            .map_err(|e| ChainError::Rejected(format!("owner result: {e}")))?;
        Ok((anchorer.0 .0, owner.0 .0))
    }

    /// Block number, hash and timestamp of `tag` (`latest`, `finalized`, a number).
    async fn block_at(
        &self,
        tag: BlockNumberOrTag,
    ) -> Result<Option<(u64, Word, u64)>, ChainError> {
        let b = self
            .t(self.provider.get_block_by_number(tag).into_future())
            .await?;
        Ok(b.map(|b| (b.header.number, word(b.header.hash), b.header.timestamp)))
    }

    /// Receipt of a transaction, reduced.
    pub async fn receipt(&self, hash: &Word) -> Result<Option<Inclusion>, ChainError> {
        let r = self
            .t(self
                .provider
                .get_transaction_receipt(B256::from(*hash))
                .into_future())
            .await?;
        Ok(r.and_then(|r| {
            Some(Inclusion {
                block_number: r.block_number?,
                block_hash: word(r.block_hash?),
                success: r.status(),
                gas_used: r.gas_used,
                effective_gas_price: r.effective_gas_price,
            })
        }))
    }

    /// Sends a raw JSON-RPC request (used for the dev node's `anvil_*` methods).
    pub async fn raw<P, R>(&self, method: &'static str, params: P) -> Result<R, ChainError>
    where
        P: serde::Serialize + Clone + std::fmt::Debug + Send + Sync + Unpin,
        R: serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + Unpin + 'static,
    {
        self.t(self.provider.client().request(method, params).into_future())
            .await
    }
}

/// A registry deployment plus the anchoring key: everything the worker sends.
#[derive(Clone, Debug)]
pub struct ChainClient {
    reader: Reader,
    signer: PrivateKeySigner,
}

impl ChainClient {
    /// Connects to `url` with the anchoring key; `expect_chain_id` (if given) must match.
    pub async fn connect(
        url: &str,
        signer: PrivateKeySigner,
        contract: Address,
        expect_chain_id: Option<u64>,
        timeout: Duration,
    ) -> Result<ChainClient, SetupError> {
        let reader = Reader::connect(url, contract, timeout).await?;
        if let Some(want) = expect_chain_id {
            if want != reader.chain_id {
                return Err(SetupError::WrongChain {
                    url: url.to_string(),
                    actual: reader.chain_id,
                    want,
                });
            }
        }
        Ok(ChainClient { reader, signer })
    }

    /// The read-only half.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    /// This client pointed at another contract.
    pub fn with_contract(mut self, contract: Address) -> ChainClient {
        self.reader.contract = EvmAddress::from(contract);
        self
    }

    /// Sends `calldata` to the contract as a transaction from this key and waits (up to
    /// `wait`) for the receipt. A call that would revert fails before sending, with the
    /// contract's error decoded (e.g. `NotOwner`).
    pub async fn transact(
        &self,
        calldata: Vec<u8>,
        wait: Duration,
    ) -> Result<(Word, Inclusion), ChainError> {
        let me = self.signer.address();
        let p = &self.reader.provider;
        let gas = self
            .reader
            .t(p.estimate_gas(TransactionRequest {
                from: Some(me),
                to: Some(TxKind::Call(self.reader.contract)),
                input: TransactionInput::new(calldata.clone().into()),
                ..Default::default()
            })
            .into_future())
            .await?;
        let nonce = self.nonce(true).await?;
        let fees = self.suggested_fees().await?;
        let tx = self.sign(
            TxKind::Call(self.reader.contract),
            calldata,
            nonce,
            gas + gas / 4,
            fees,
        )?;
        match self.send_raw(&tx.raw).await? {
            SendOutcome::Accepted => {}
            other => {
                return Err(ChainError::Rejected(format!(
                    "transaction refused: {other:?}"
                )))
            }
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(inc) = self.reader.receipt(&tx.hash).await? {
                return Ok((tx.hash, inc));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ChainError::Unavailable(format!(
                    "not mined within {wait:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn sign(
        &self,
        to: TxKind,
        input: Vec<u8>,
        nonce: u64,
        gas_limit: u64,
        fees: Fees,
    ) -> Result<SignedTx, ChainError> {
        let mut tx = TxEip1559 {
            chain_id: self.reader.chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            to,
            value: U256::ZERO,
            access_list: Default::default(),
            input: input.into(),
        };
        let sig = self
            .signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| ChainError::Rejected(format!("signing: {e}")))?;
        let env = TxEnvelope::from(tx.into_signed(sig));
        Ok(SignedTx {
            hash: word(*env.tx_hash()),
            raw: env.encoded_2718(),
        })
    }
}

fn send_outcome(e: ChainError) -> Result<SendOutcome, ChainError> {
    match e {
        ChainError::Rejected(m) => {
            let l = m.to_ascii_lowercase();
            if l.contains("already known")
                || l.contains("already imported")
                || l.contains("known transaction")
            {
                Ok(SendOutcome::Accepted)
            } else if l.contains("nonce too low") {
                Ok(SendOutcome::NonceTooLow)
            } else if l.contains("underpriced") || l.contains("replacement") {
                Ok(SendOutcome::Underpriced)
            } else {
                Ok(SendOutcome::Rejected(m))
            }
        }
        other => Err(other),
    }
}

impl ChainPort for ChainClient {
    fn chain_id(&self) -> u64 {
        self.reader.chain_id
    }

    fn contract(&self) -> Address {
        self.reader.contract.0 .0
    }

    fn account(&self) -> Address {
        self.signer.address().0 .0
    }

    async fn head(&self) -> Result<u64, ChainError> {
        self.reader
            .t(self.reader.provider.get_block_number().into_future())
            .await
    }

    async fn finalized(&self) -> Result<Option<u64>, ChainError> {
        match self.reader.block_at(BlockNumberOrTag::Finalized).await {
            Ok(b) => Ok(b.map(|(n, _, _)| n)),
            // Chains without the tag answer with an error: no finality beyond confirmations.
            Err(ChainError::Rejected(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn block(&self, number: u64) -> Result<Option<(Word, u64)>, ChainError> {
        Ok(self
            .reader
            .block_at(BlockNumberOrTag::Number(number))
            .await?
            .map(|(_, h, t)| (h, t)))
    }

    async fn nonce(&self, pending: bool) -> Result<u64, ChainError> {
        let me = self.signer.address();
        let p = &self.reader.provider;
        if pending {
            self.reader
                .t(p.get_transaction_count(me).pending().into_future())
                .await
        } else {
            self.reader
                .t(p.get_transaction_count(me).latest().into_future())
                .await
        }
    }

    async fn suggested_fees(&self) -> Result<Fees, ChainError> {
        let p = &self.reader.provider;
        let base = self
            .reader
            .t(p.get_block_by_number(BlockNumberOrTag::Latest)
                .into_future())
            .await?
            .and_then(|b| b.header.base_fee_per_gas)
            .unwrap_or(0) as u128;
        let tip = match self
            .reader
            .t(p.get_max_priority_fee_per_gas().into_future())
            .await
        {
            Ok(t) => t,
            Err(ChainError::Rejected(_)) => 1_000_000_000,
            Err(e) => return Err(e),
        };
        Ok(Fees {
            max_fee_per_gas: base * 2 + tip,
            max_priority_fee_per_gas: tip,
        })
    }

    async fn estimate_anchor(&self, call: &AnchorCall) -> Result<u64, ChainError> {
        let req = TransactionRequest {
            from: Some(self.signer.address()),
            to: Some(TxKind::Call(self.reader.contract)),
            input: TransactionInput::new(anchor_calldata(call).into()),
            ..Default::default()
        };
        self.reader
            .t(self.reader.provider.estimate_gas(req).into_future())
            .await
    }

    fn sign_anchor(
        &self,
        call: &AnchorCall,
        nonce: u64,
        gas_limit: u64,
        fees: Fees,
    ) -> Result<SignedTx, ChainError> {
        self.sign(
            TxKind::Call(self.reader.contract),
            anchor_calldata(call),
            nonce,
            gas_limit,
            fees,
        )
    }

    async fn send_raw(&self, raw: &[u8]) -> Result<SendOutcome, ChainError> {
        match self
            .reader
            .t(self.reader.provider.send_raw_transaction(raw))
            .await
        {
            Ok(_) => Ok(SendOutcome::Accepted),
            Err(e) => send_outcome(e),
        }
    }

    async fn receipt(&self, hash: &Word) -> Result<Option<Inclusion>, ChainError> {
        self.reader.receipt(hash).await
    }

    async fn tx_known(&self, hash: &Word) -> Result<bool, ChainError> {
        let t = self
            .reader
            .t(self
                .reader
                .provider
                .get_transaction_by_hash(B256::from(*hash))
                .into_future())
            .await?;
        Ok(t.is_some())
    }

    async fn anchor_at(
        &self,
        log_id: &Word,
        tree_size: u64,
    ) -> Result<Option<OnChainAnchor>, ChainError> {
        self.reader.anchor_at(log_id, tree_size).await
    }
}

/// ABI-encoded `anchor(...)` call.
pub fn anchor_calldata(call: &AnchorCall) -> Vec<u8> {
    AnchorRegistry::anchorCall {
        logId: B256::from(call.log_id),
        treeSize: call.tree_size,
        root: B256::from(call.root),
        checkpointHash: B256::from(call.checkpoint_hash),
    }
    .abi_encode()
}

/// Development-node (anvil) helpers over JSON-RPC, for the dev chain and tests.
impl Reader {
    /// `anvil_setBalance`.
    pub async fn anvil_set_balance(&self, who: Address, wei: u128) -> Result<(), ChainError> {
        let _: serde_json::Value = self
            .raw(
                "anvil_setBalance",
                (EvmAddress::from(who), format!("0x{wei:x}")),
            )
            .await?;
        Ok(())
    }

    /// `anvil_mine`: mines `blocks` blocks.
    pub async fn anvil_mine(&self, blocks: u64) -> Result<(), ChainError> {
        let _: serde_json::Value = self.raw("anvil_mine", (format!("0x{blocks:x}"),)).await?;
        Ok(())
    }

    /// `anvil_reorg`: replaces the last `depth` blocks with empty ones.
    pub async fn anvil_reorg(&self, depth: u64) -> Result<(), ChainError> {
        let _: serde_json::Value = self
            .raw("anvil_reorg", (depth, Vec::<serde_json::Value>::new()))
            .await?;
        Ok(())
    }

    /// `evm_snapshot`.
    pub async fn evm_snapshot(&self) -> Result<String, ChainError> {
        let v: serde_json::Value = self.raw("evm_snapshot", ()).await?;
        Ok(v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()))
    }

    /// `evm_revert`.
    pub async fn evm_revert(&self, id: &str) -> Result<bool, ChainError> {
        self.raw("evm_revert", (id.to_string(),)).await
    }

    /// `evm_setAutomine`.
    pub async fn set_automine(&self, on: bool) -> Result<(), ChainError> {
        let _: serde_json::Value = self.raw("evm_setAutomine", (on,)).await?;
        Ok(())
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.t(self.provider.get_block_number().into_future()).await
    }

    /// Number, hash and timestamp of block `n`.
    pub async fn block_info(&self, n: u64) -> Result<Option<(u64, Word, u64)>, ChainError> {
        self.block_at(BlockNumberOrTag::Number(n)).await
    }
}

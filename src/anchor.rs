//! Anchoring, the pure part: how a checkpoint is identified on chain (log id, checkpoint
//! hash), the public anchoring states, and [`ChainPort`], the chain as the anchoring worker
//! needs it. The worker is [`crate::service::anchoring`]; the alloy implementation of the port is
//! [`crate::chain`].

use std::future::Future;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A 32-byte word (hash, root).
pub type Word = [u8; 32];
/// A 20-byte EVM address.
pub type Address = [u8; 20];

/// Why a chain call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChainError {
    /// The node could not be reached or timed out; retry with backoff.
    #[error("chain RPC unavailable: {0}")]
    Unavailable(String),
    /// The node answered with an error for this request (e.g. the call reverts).
    #[error("chain rejected the request: {0}")]
    Rejected(String),
}

/// What the node said to a raw transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted into the pool (or already there: same bytes).
    Accepted,
    /// The nonce is already used on chain.
    NonceTooLow,
    /// A transaction with this nonce is in the pool and this one does not outbid it.
    Underpriced,
    /// Any other refusal.
    Rejected(String),
}

/// The anchor call's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorCall {
    /// SHA-256 of the log origin.
    pub log_id: Word,
    /// Checkpoint tree size.
    pub tree_size: u64,
    /// Checkpoint root.
    pub root: Word,
    /// SHA-256 of the signed checkpoint note.
    pub checkpoint_hash: Word,
}

/// EIP-1559 fee parameters, in wei.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fees {
    /// `maxFeePerGas`.
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: u128,
}

/// A signed transaction ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// Transaction hash.
    pub hash: Word,
    /// EIP-2718 encoded bytes.
    pub raw: Vec<u8>,
}

/// A mined transaction's receipt, reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inclusion {
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: Word,
    /// Receipt status (false: reverted).
    pub success: bool,
    /// Gas used by the transaction.
    pub gas_used: u64,
    /// Price paid per gas, in wei.
    pub effective_gas_price: u128,
}

/// An anchor as stored by the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnChainAnchor {
    /// Tree size.
    pub tree_size: u64,
    /// Root.
    pub root: Word,
    /// Checkpoint hash.
    pub checkpoint_hash: Word,
    /// Block it was written in.
    pub block_number: u64,
    /// That block's timestamp.
    pub timestamp: u64,
}

/// The EVM chain as the anchoring worker needs it. Implemented with alloy in
/// [`crate::chain::ChainClient`]; tests may use fakes.
pub trait ChainPort: Send + Sync + 'static {
    /// Chain id the client is connected to.
    fn chain_id(&self) -> u64;
    /// The registry contract's address.
    fn contract(&self) -> Address;
    /// The anchoring account's address.
    fn account(&self) -> Address;
    /// Latest block number.
    fn head(&self) -> impl Future<Output = Result<u64, ChainError>> + Send;
    /// The `finalized` block number, or `None` when the chain has no such tag.
    fn finalized(&self) -> impl Future<Output = Result<Option<u64>, ChainError>> + Send;
    /// Hash and timestamp of canonical block `number`, `None` past the head.
    fn block(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<(Word, u64)>, ChainError>> + Send;
    /// The account's nonce: mined transactions (`pending = false`) or including the pool.
    fn nonce(&self, pending: bool) -> impl Future<Output = Result<u64, ChainError>> + Send;
    /// Suggested fees for a transaction sent now.
    fn suggested_fees(&self) -> impl Future<Output = Result<Fees, ChainError>> + Send;
    /// Gas the anchor call needs; `Rejected` when it would revert (with the reason).
    fn estimate_anchor(
        &self,
        call: &AnchorCall,
    ) -> impl Future<Output = Result<u64, ChainError>> + Send;
    /// Builds and signs the anchor transaction.
    fn sign_anchor(
        &self,
        call: &AnchorCall,
        nonce: u64,
        gas_limit: u64,
        fees: Fees,
    ) -> Result<SignedTx, ChainError>;
    /// Sends signed bytes.
    fn send_raw(&self, raw: &[u8]) -> impl Future<Output = Result<SendOutcome, ChainError>> + Send;
    /// The receipt of a mined transaction, `None` if it is not (or no longer) mined.
    fn receipt(
        &self,
        hash: &Word,
    ) -> impl Future<Output = Result<Option<Inclusion>, ChainError>> + Send;
    /// Whether the node knows the transaction (pool or chain).
    fn tx_known(&self, hash: &Word) -> impl Future<Output = Result<bool, ChainError>> + Send;
    /// The contract's anchor of exactly `tree_size` for `log_id`, if any.
    fn anchor_at(
        &self,
        log_id: &Word,
        tree_size: u64,
    ) -> impl Future<Output = Result<Option<OnChainAnchor>, ChainError>> + Send;
}

/// Public anchoring state of a checkpoint (and of the items it covers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnchorStatus {
    /// In a signed checkpoint; no anchor transaction yet.
    Logged,
    /// An anchor transaction is signed and sent (or being re-sent) but not in a canonical block.
    AnchorPending,
    /// Mined in a canonical block.
    Anchored,
    /// The block has at least the configured number of confirmations.
    Confirmed,
    /// The chain's `finalized` tag has passed the block.
    Finalized,
}

impl AnchorStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnchorStatus::Logged => "logged",
            AnchorStatus::AnchorPending => "anchor_pending",
            AnchorStatus::Anchored => "anchored",
            AnchorStatus::Confirmed => "confirmed",
            AnchorStatus::Finalized => "finalized",
        }
    }

    /// Whether the root is in a canonical block (anchored or later).
    pub fn on_chain(self) -> bool {
        self >= AnchorStatus::Anchored
    }
}

/// Log id of an origin: SHA-256 of its bytes.
pub fn log_id(origin: &str) -> Word {
    Sha256::digest(origin.as_bytes()).into()
}

/// Checkpoint hash: SHA-256 of the signed note text.
pub fn checkpoint_hash(note: &str) -> Word {
    Sha256::digest(note.as_bytes()).into()
}

/// `0x` + lowercase hex.
pub fn hex0x(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    s
}

/// Text that is not the hex expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// The wrong number of hex digits.
    #[error("expected {expected} hex digits, got {got}")]
    Length {
        /// Digits expected.
        expected: usize,
        /// Digits found.
        got: usize,
    },
    /// An odd number of hex digits.
    #[error("odd number of hex digits ({0})")]
    Odd(usize),
    /// A character that is not a hex digit.
    #[error("not hex: {0:?}")]
    NotHex(String),
}

/// Parses `0x`-prefixed (or bare) hex of exactly `N` bytes.
pub fn parse_hex<const N: usize>(s: &str) -> std::result::Result<[u8; N], HexError> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    if h.len() != N * 2 {
        return Err(HexError::Length {
            expected: N * 2,
            got: h.len(),
        });
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(h.get(2 * i..2 * i + 2).unwrap_or("zz"), 16)
            .map_err(|_| HexError::NotHex(s.to_string()))?;
    }
    Ok(out)
}

/// Parses `0x` hex of any length.
pub fn parse_hex_vec(s: &str) -> std::result::Result<Vec<u8>, HexError> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    if h.len() % 2 != 0 {
        return Err(HexError::Odd(h.len()));
    }
    (0..h.len() / 2)
        .map(|i| {
            u8::from_str_radix(h.get(2 * i..2 * i + 2).unwrap_or("zz"), 16)
                .map_err(|_| HexError::NotHex(s.to_string()))
        })
        .collect()
}

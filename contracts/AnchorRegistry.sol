// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title AnchorRegistry
/// @author traceseal
/// @notice Append-only, on-chain anchors for traceseal transparency logs (RFC 6962 / RFC 9162
/// Merkle trees). For every log (identified by `logId`) the registry keeps the sequence of anchored
/// checkpoints, each recording the tree size, the Merkle root hash and the hash of the signed
/// checkpoint note, together with the block number and timestamp at which it was anchored.
/// @dev Guarantees:
///  - Only the current `anchorer` account can add anchors; nobody (not even the owner) can modify
///    or delete an anchor once written.
///  - Per log, anchored tree sizes are strictly increasing (and the first is at least 1), so there
///    is at most one anchor per (logId, treeSize) and `anchorAt` can binary-search.
///  - The root hash of an anchor is never zero.
///  - `verifyInclusion` is the RFC 9162 section 2.1.3.2 algorithm, bit for bit; it never reverts.
///
/// Conventions used by traceseal (not enforced here): `logId` is SHA-256 of the log origin string
/// bytes, `checkpointHash` is SHA-256 of the full signed checkpoint note bytes. Leaf hashes passed
/// to the verification functions are already hashed: SHA-256(0x00 || leaf data).
///
/// Administration is a two-step owner (`transferOwnership` then `acceptOwnership`) who can replace
/// the anchorer. The owner has no other powers.
contract AnchorRegistry {
    /// @notice One anchored checkpoint of one log.
    /// @param treeSize Number of leaves in the tree the checkpoint commits to (>= 1).
    /// @param root RFC 6962 Merkle tree head (root hash) at `treeSize`.
    /// @param checkpointHash SHA-256 of the full signed checkpoint note bytes.
    /// @param blockNumber Number of the block in which the anchor was written.
    /// @param timestamp Timestamp (seconds since the Unix epoch) of that block.
    struct Anchor {
        uint64 treeSize;
        bytes32 root;
        bytes32 checkpointHash;
        uint64 blockNumber;
        uint64 timestamp;
    }

    /// @notice The account that may change the anchorer and transfer ownership.
    address public owner;

    /// @notice The account nominated by `transferOwnership`, which may call `acceptOwnership`;
    /// zero when no transfer is in progress.
    address public pendingOwner;

    /// @notice The only account allowed to call `anchor`.
    address public anchorer;

    /// @dev Storage layout of an anchor: the three 64-bit fields share one slot, so an anchor
    /// costs three new storage slots instead of four.
    struct Stored {
        uint64 treeSize;
        uint64 blockNumber;
        uint64 timestamp;
        bytes32 root;
        bytes32 checkpointHash;
    }

    /// @dev logId => anchors of that log, in the order written (strictly increasing tree size).
    mapping(bytes32 => Stored[]) private _anchors;

    /// @notice A checkpoint of log `logId` at size `treeSize` was anchored.
    /// @param logId The log identifier (SHA-256 of the log origin string).
    /// @param treeSize The anchored tree size.
    /// @param root The anchored Merkle root hash.
    /// @param checkpointHash SHA-256 of the signed checkpoint note.
    event Anchored(bytes32 indexed logId, uint64 indexed treeSize, bytes32 root, bytes32 checkpointHash);

    /// @notice The anchorer changed (also emitted by the constructor, from the zero address).
    /// @param previousAnchorer The old anchorer (zero at deployment).
    /// @param newAnchorer The new anchorer.
    event AnchorerChanged(address indexed previousAnchorer, address indexed newAnchorer);

    /// @notice The owner nominated `newOwner` (zero: a pending transfer was cancelled).
    /// @param previousOwner The current owner.
    /// @param newOwner The nominated owner, who must call `acceptOwnership`.
    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);

    /// @notice Ownership moved (also emitted by the constructor, from the zero address).
    /// @param previousOwner The old owner (zero at deployment).
    /// @param newOwner The new owner.
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// @notice The caller is not the owner.
    error NotOwner();
    /// @notice The caller is not the pending owner.
    error NotPendingOwner();
    /// @notice The caller is not the anchorer.
    error NotAnchorer();
    /// @notice An address argument that must be non-zero was zero.
    error ZeroAddress();
    /// @notice `anchor` was called with a zero root hash.
    error ZeroRoot();
    /// @notice `anchor` was called with a tree size not greater than the latest anchored one
    /// (`latestTreeSize` is 0 when the log has no anchor yet, so a tree size of 0 is rejected).
    /// @param latestTreeSize The latest anchored tree size of the log (0 if none).
    /// @param treeSize The rejected tree size.
    error TreeSizeNotIncreasing(uint64 latestTreeSize, uint64 treeSize);
    /// @notice The log has no anchor.
    /// @param logId The log identifier.
    error NoAnchor(bytes32 logId);
    /// @notice No anchor of the log at that tree size (or, from `anchorByIndex`, at that index:
    /// then `treeSize` is 0).
    /// @param logId The log identifier.
    /// @param treeSize The requested tree size (0 for an out-of-range index).
    error AnchorNotFound(bytes32 logId, uint64 treeSize);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @notice Deploys the registry; the deployer becomes the owner.
    /// @param anchorer_ The account allowed to call `anchor`; must be non-zero.
    constructor(address anchorer_) {
        if (anchorer_ == address(0)) revert ZeroAddress();
        owner = msg.sender;
        anchorer = anchorer_;
        emit OwnershipTransferred(address(0), msg.sender);
        emit AnchorerChanged(address(0), anchorer_);
    }

    // ---------------------------------------------------------------------------------------------
    // Anchoring
    // ---------------------------------------------------------------------------------------------

    /// @notice Anchors a checkpoint of log `logId`: records (treeSize, root, checkpointHash) with the
    /// current block number and timestamp, and emits `Anchored`.
    /// @dev Reverts `NotAnchorer` unless called by the anchorer, `ZeroRoot` if `root` is zero, and
    /// `TreeSizeNotIncreasing` unless `treeSize` is greater than the latest anchored tree size of
    /// the log (greater than 0 for the first anchor).
    /// @param logId The log identifier (SHA-256 of the log origin string).
    /// @param treeSize The checkpoint's tree size.
    /// @param root The checkpoint's Merkle root hash.
    /// @param checkpointHash SHA-256 of the full signed checkpoint note.
    function anchor(bytes32 logId, uint64 treeSize, bytes32 root, bytes32 checkpointHash) external {
        if (msg.sender != anchorer) revert NotAnchorer();
        if (root == bytes32(0)) revert ZeroRoot();
        Stored[] storage list = _anchors[logId];
        uint256 n = list.length;
        uint64 latestTreeSize = n == 0 ? 0 : list[n - 1].treeSize;
        if (treeSize <= latestTreeSize) revert TreeSizeNotIncreasing(latestTreeSize, treeSize);
        list.push(
            Stored({
                treeSize: treeSize,
                blockNumber: uint64(block.number),
                timestamp: uint64(block.timestamp),
                root: root,
                checkpointHash: checkpointHash
            })
        );
        emit Anchored(logId, treeSize, root, checkpointHash);
    }

    /// @notice Number of anchors of log `logId`.
    /// @param logId The log identifier.
    /// @return The number of anchors (0 if none).
    function anchorCount(bytes32 logId) external view returns (uint256) {
        return _anchors[logId].length;
    }

    /// @notice The most recent (largest tree size) anchor of log `logId`.
    /// @dev Reverts `NoAnchor` if the log has no anchor.
    /// @param logId The log identifier.
    /// @return The latest anchor.
    function latest(bytes32 logId) external view returns (Anchor memory) {
        Stored[] storage list = _anchors[logId];
        uint256 n = list.length;
        if (n == 0) revert NoAnchor(logId);
        return _view(list[n - 1]);
    }

    /// @notice The anchor of log `logId` at exactly `treeSize`.
    /// @dev Binary search (tree sizes are strictly increasing). Reverts `AnchorNotFound` if no
    /// anchor has that tree size.
    /// @param logId The log identifier.
    /// @param treeSize The tree size.
    /// @return The anchor at that tree size.
    function anchorAt(bytes32 logId, uint64 treeSize) external view returns (Anchor memory) {
        (bool found, uint256 i) = _find(_anchors[logId], treeSize);
        if (!found) revert AnchorNotFound(logId, treeSize);
        return _view(_anchors[logId][i]);
    }

    /// @notice The `i`-th anchor (0-based, in order of increasing tree size) of log `logId`.
    /// @dev Reverts `AnchorNotFound(logId, 0)` if `i >= anchorCount(logId)`.
    /// @param logId The log identifier.
    /// @param i The index.
    /// @return The anchor at that index.
    function anchorByIndex(bytes32 logId, uint256 i) external view returns (Anchor memory) {
        Stored[] storage list = _anchors[logId];
        if (i >= list.length) revert AnchorNotFound(logId, 0);
        return _view(list[i]);
    }

    // ---------------------------------------------------------------------------------------------
    // Administration
    // ---------------------------------------------------------------------------------------------

    /// @notice Replaces the anchorer. Only the owner; reverts `ZeroAddress` for the zero address.
    /// @param newAnchorer The new anchorer.
    function setAnchorer(address newAnchorer) external onlyOwner {
        if (newAnchorer == address(0)) revert ZeroAddress();
        address previous = anchorer;
        anchorer = newAnchorer;
        emit AnchorerChanged(previous, newAnchorer);
    }

    /// @notice Starts a two-step ownership transfer to `newOwner`, who must then call
    /// `acceptOwnership`. Only the owner. The zero address cancels a pending transfer. Replaces any
    /// earlier nomination.
    /// @param newOwner The nominated owner (zero to cancel).
    function transferOwnership(address newOwner) external onlyOwner {
        pendingOwner = newOwner;
        emit OwnershipTransferStarted(owner, newOwner);
    }

    /// @notice Completes an ownership transfer: the pending owner becomes the owner. Only the
    /// pending owner.
    function acceptOwnership() external {
        if (msg.sender != pendingOwner) revert NotPendingOwner();
        address previous = owner;
        owner = msg.sender;
        pendingOwner = address(0);
        emit OwnershipTransferred(previous, msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Verification
    // ---------------------------------------------------------------------------------------------

    /// @notice Verifies an RFC 9162 (section 2.1.3.2) inclusion proof: that the leaf with hash
    /// `leafHash` is at `index` in the tree of size `treeSize` whose root hash is `root`.
    /// @dev Never reverts: returns false for `index >= treeSize`, a proof of the wrong length, or a
    /// root mismatch. Node hashes are SHA-256(0x01 || left || right) (the sha256 precompile). At
    /// most 64 proof elements are ever hashed whatever the calldata length.
    /// @param leafHash The leaf hash, SHA-256(0x00 || leaf data).
    /// @param index The 0-based leaf index.
    /// @param treeSize The tree size.
    /// @param proof The audit path, from the leaf towards the root.
    /// @param root The expected root hash.
    /// @return True iff the proof is valid.
    function verifyInclusion(
        bytes32 leafHash,
        uint64 index,
        uint64 treeSize,
        bytes32[] calldata proof,
        bytes32 root
    ) public pure returns (bool) {
        // 1. leaf_index must be < tree_size.
        if (index >= treeSize) return false;
        // 2. fn = leaf_index, sn = tree_size - 1.
        uint64 fn = index;
        uint64 sn = treeSize - 1;
        // 3. r = hash.
        bytes32 r = leafHash;
        // 4. For each p in the inclusion path:
        uint256 len = proof.length;
        for (uint256 i = 0; i < len; ++i) {
            // a. sn == 0 means the proof is too long.
            if (sn == 0) return false;
            bytes32 p = proof[i];
            // b. Right child, or the last node of its level: p is the left sibling.
            if (fn & 1 == 1 || fn == sn) {
                r = sha256(abi.encodePacked(bytes1(0x01), p, r));
                // ii. Skip the levels where this node has no right sibling.
                if (fn & 1 == 0) {
                    while (fn & 1 == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                // Otherwise p is the right sibling.
                r = sha256(abi.encodePacked(bytes1(0x01), r, p));
            }
            // c. Up one level.
            fn >>= 1;
            sn >>= 1;
        }
        // 5. The path must have reached the root, and r must be the root hash.
        return sn == 0 && r == root;
    }

    /// @notice Verifies an inclusion proof against the root anchored for log `logId` at exactly
    /// `treeSize`.
    /// @dev Returns false (never reverts) if there is no anchor at that tree size or the proof is
    /// invalid.
    /// @param logId The log identifier.
    /// @param treeSize The anchored tree size the proof is for.
    /// @param leafHash The leaf hash, SHA-256(0x00 || leaf data).
    /// @param index The 0-based leaf index.
    /// @param proof The audit path, from the leaf towards the root.
    /// @return True iff an anchor exists at `treeSize` and the proof is valid against its root.
    function verifyAnchoredInclusion(
        bytes32 logId,
        uint64 treeSize,
        bytes32 leafHash,
        uint64 index,
        bytes32[] calldata proof
    ) external view returns (bool) {
        Stored[] storage list = _anchors[logId];
        (bool found, uint256 i) = _find(list, treeSize);
        if (!found) return false;
        return verifyInclusion(leafHash, index, treeSize, proof, list[i].root);
    }

    /// @dev Binary search for `treeSize` in `list` (strictly increasing tree sizes).
    /// @return found Whether an anchor has exactly that tree size.
    /// @return index Its index in `list` when found.
    function _find(Stored[] storage list, uint64 treeSize) private view returns (bool found, uint256 index) {
        uint256 lo = 0;
        uint256 hi = list.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) >> 1;
            uint64 s = list[mid].treeSize;
            if (s == treeSize) return (true, mid);
            if (s < treeSize) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return (false, 0);
    }

    /// @dev The public view of a stored anchor.
    function _view(Stored storage a) private view returns (Anchor memory) {
        return Anchor({
            treeSize: a.treeSize,
            root: a.root,
            checkpointHash: a.checkpointHash,
            blockNumber: a.blockNumber,
            timestamp: a.timestamp
        });
    }
}

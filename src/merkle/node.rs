//! Addressing of perfect subtrees: [`NodeId`].

use std::fmt;

/// A perfect subtree: the one over leaves `[index << level, (index + 1) << level)`.
///
/// Level 0 nodes are leaf hashes. Only perfect subtrees have a `NodeId`; the hash of a
/// subtree that is not yet complete (on the right edge of a tree) is never stored, it is
/// recomputed from the perfect subtrees that make it up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves: the subtree holds `2^level` leaves (`level <= 63`).
    pub level: u8,
    /// Position among the nodes of the same level, counting from 0 at the left.
    pub index: u64,
}

impl NodeId {
    /// The node at `level` and `index`.
    pub const fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// The node holding the single leaf `index`.
    pub const fn leaf(index: u64) -> Self {
        NodeId { level: 0, index }
    }

    /// The first leaf index covered, or `None` if it does not fit in a `u64`.
    pub fn first_leaf(&self) -> Option<u64> {
        self.index
            .checked_shl(u32::from(self.level))
            .and_then(|first| {
                // checked_shl only checks the shift amount, not lost bits.
                (first >> self.level == self.index).then_some(first)
            })
    }

    /// The last leaf index covered, or `None` if it does not fit in a `u64`. Every node an
    /// append completes ends at the appended leaf, so nodes in order of their last leaf (then
    /// level) are in the order they were made.
    pub fn last_leaf(&self) -> Option<u64> {
        let span = 1u64.checked_shl(u32::from(self.level))? - 1;
        self.first_leaf()?.checked_add(span)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node(level {}, index {})", self.level, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_leaf() {
        assert_eq!(NodeId::new(3, 2).first_leaf(), Some(16));
        assert_eq!(NodeId::leaf(9).first_leaf(), Some(9));
        assert_eq!(NodeId::new(63, 1).first_leaf(), Some(1 << 63));
        assert_eq!(NodeId::new(63, 2).first_leaf(), None);
        assert_eq!(NodeId::new(64, 0).first_leaf(), None);
    }

    #[test]
    fn last_leaf() {
        assert_eq!(NodeId::new(3, 2).last_leaf(), Some(23));
        assert_eq!(NodeId::leaf(9).last_leaf(), Some(9));
        assert_eq!(NodeId::new(63, 1).last_leaf(), Some(u64::MAX));
        assert_eq!(NodeId::new(63, 2).last_leaf(), None);
        assert_eq!(NodeId::new(64, 0).last_leaf(), None);
        assert_eq!(NodeId::leaf(u64::MAX).last_leaf(), Some(u64::MAX));
    }
}

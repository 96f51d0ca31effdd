//! Emptying a sled tree in batches.

/// How many removals one batch of [`clear_tree`] holds.
const CLEAR_BATCH: usize = 1024;

/// Removes every key of `tree`, [`CLEAR_BATCH`] keys to a batch. sled's own
/// `Tree::clear` writes one log record per key; an empty tree costs one read here and
/// no write.
pub(crate) fn clear_tree(tree: &sled::Tree) -> sled::Result<()> {
    loop {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for key in tree.iter().keys().take(CLEAR_BATCH) {
            batch.remove(key?);
            n += 1;
        }
        if n == 0 {
            return Ok(());
        }
        tree.apply_batch(batch)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empties_trees_of_any_size() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        for n in [0usize, 1, CLEAR_BATCH - 1, CLEAR_BATCH, 2 * CLEAR_BATCH + 7] {
            let tree = db.open_tree(format!("t{n}")).unwrap();
            for i in 0..n {
                tree.insert((i as u32).to_be_bytes(), &[1u8][..]).unwrap();
            }
            let other = db.open_tree(format!("keep{n}")).unwrap();
            other.insert(b"k", &b"v"[..]).unwrap();
            clear_tree(&tree).unwrap();
            assert!(tree.is_empty(), "{n} keys");
            assert_eq!(other.len(), 1, "another tree is left alone");
        }
    }
}

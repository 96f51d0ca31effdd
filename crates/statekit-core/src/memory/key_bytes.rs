//! Map keys that keep short keys inline: a key of up to 22 bytes lives in the map's
//! slot itself, with no allocation of its own, which makes inserts cheaper, lookups
//! touch one cache line less, and saves an allocation's overhead per entry.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// The longest key stored inline.
pub const INLINE_KEY: usize = 22;

/// A key of the memory tier's map. Hashes, compares and borrows as its bytes.
#[derive(Clone)]
pub enum KeyBytes {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

impl KeyBytes {
    /// The key's bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            KeyBytes::Inline { len, bytes } => &bytes[..*len as usize],
            KeyBytes::Heap(b) => b,
        }
    }
}

impl From<&[u8]> for KeyBytes {
    #[inline]
    fn from(key: &[u8]) -> Self {
        if key.len() <= INLINE_KEY {
            let mut bytes = [0u8; INLINE_KEY];
            bytes[..key.len()].copy_from_slice(key);
            KeyBytes::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            KeyBytes::Heap(key.into())
        }
    }
}

impl Borrow<[u8]> for KeyBytes {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Hash for KeyBytes {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Exactly as `[u8]` hashes, so lookups by `&[u8]` find the key.
        self.as_slice().hash(state)
    }
}

impl PartialEq for KeyBytes {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for KeyBytes {}

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn inline_and_heap_keys_behave_as_bytes() {
        assert_eq!(std::mem::size_of::<KeyBytes>(), 24);
        let mut m: HashMap<KeyBytes, u32> = HashMap::new();
        let short = b"user:42".as_slice();
        let long = [7u8; 40];
        m.insert(short.into(), 1);
        m.insert(long.as_slice().into(), 2);
        m.insert(b"".as_slice().into(), 3);
        assert_eq!(m.get(short), Some(&1));
        assert_eq!(m.get(long.as_slice()), Some(&2));
        assert_eq!(m.get(b"".as_slice()), Some(&3));
        assert!(matches!(KeyBytes::from(short), KeyBytes::Inline { .. }));
        assert!(matches!(
            KeyBytes::from([1u8; 23].as_slice()),
            KeyBytes::Heap(_)
        ));
        assert_eq!(KeyBytes::from([1u8; 22].as_slice()).as_slice(), &[1u8; 22]);
    }
}

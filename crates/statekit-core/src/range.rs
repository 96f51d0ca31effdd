//! Key ranges for ordered iteration: prefix, gte, lt, limit and reverse.

/// Which keys an ordered scan visits, and in which order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// Only keys that start with these bytes.
    pub prefix: Option<Vec<u8>>,
    /// Only keys greater than or equal to this.
    pub gte: Option<Vec<u8>>,
    /// Only keys less than this.
    pub lt: Option<Vec<u8>>,
    /// At most this many entries.
    pub limit: Option<usize>,
    /// Descending key order instead of ascending.
    pub reverse: bool,
}

impl KeyRange {
    /// All keys that start with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        KeyRange {
            prefix: Some(prefix.to_vec()),
            ..KeyRange::default()
        }
    }

    /// Whether `key` lies in the range (limit and order aside).
    #[inline]
    pub fn contains(&self, key: &[u8]) -> bool {
        if let Some(p) = &self.prefix {
            if !key.starts_with(p) {
                return false;
            }
        }
        if let Some(g) = &self.gte {
            if key < g.as_slice() {
                return false;
            }
        }
        if let Some(l) = &self.lt {
            if key >= l.as_slice() {
                return false;
            }
        }
        true
    }

    /// The tightest lower bound (inclusive) implied by prefix and gte.
    pub fn lower_bound(&self) -> Option<&[u8]> {
        match (&self.prefix, &self.gte) {
            (Some(p), Some(g)) => Some(if p > g { p } else { g }),
            (Some(p), None) => Some(p),
            (None, Some(g)) => Some(g),
            (None, None) => None,
        }
    }

    /// The tightest upper bound (exclusive) implied by prefix and lt.
    pub fn upper_bound(&self) -> Option<Vec<u8>> {
        let from_prefix = self.prefix.as_deref().and_then(prefix_successor);
        match (from_prefix, &self.lt) {
            (Some(p), Some(l)) => Some(if p.as_slice() < l.as_slice() {
                p
            } else {
                l.clone()
            }),
            (Some(p), None) => Some(p),
            (None, Some(l)) => Some(l.clone()),
            (None, None) => None,
        }
    }
}

/// The smallest key greater than every key with this prefix, if there is one.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let r = KeyRange {
            prefix: Some(b"ab".to_vec()),
            gte: Some(b"abc".to_vec()),
            lt: Some(b"b".to_vec()),
            ..Default::default()
        };
        assert_eq!(r.lower_bound(), Some(&b"abc"[..]));
        assert_eq!(r.upper_bound(), Some(b"ac".to_vec()));
        assert!(r.contains(b"abd"));
        assert!(!r.contains(b"abb"));
        assert!(!r.contains(b"ac"));
        assert_eq!(prefix_successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
    }
}

//! Splices of `set`/`unset` and of `team`'s edits of `.sops.yaml` ([`super::entries`]),
//! applied by the crate's one splice applier, the engine's.

use std::ops::Range;

use zeroize::Zeroizing;

/// One replacement of a byte range of the original text.
#[derive(Debug, Clone)]
pub struct Splice {
    /// The bytes replaced (empty for an insertion).
    pub range: Range<usize>,
    /// Their new text.
    pub text: Zeroizing<String>,
}

impl Splice {
    /// Replaces `range` with `text`.
    pub fn new(range: Range<usize>, text: impl Into<String>) -> Splice {
        Splice {
            range,
            text: Zeroizing::new(text.into()),
        }
    }

    /// Inserts `text` at `at`.
    pub fn insert(at: usize, text: impl Into<String>) -> Splice {
        Splice::new(at..at, text)
    }

    /// Deletes `range`.
    pub fn delete(range: Range<usize>) -> Splice {
        Splice::new(range, String::new())
    }
}

/// Two splices of one edit touch the same bytes (the engine's error: one applier).
pub use crate::engine::Overlap;

/// `src` with every splice applied (in order of position; insertions at one offset keep
/// their given order). Refused when two of them overlap. The engine's applier
/// ([`crate::engine::apply_splices`]) does the work: the crate has one.
pub fn apply(src: &str, splices: Vec<Splice>) -> Result<Zeroizing<String>, Overlap> {
    let edits: Vec<(Range<usize>, &str)> = splices
        .iter()
        .map(|s| (s.range.clone(), s.text.as_str()))
        .collect();
    crate::engine::apply_splices(src, &edits).map(|(out, _)| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_in_position_order_and_refuses_overlaps() {
        let out = apply(
            "abcdef",
            vec![
                Splice::insert(6, "!"),
                Splice::delete(1..3),
                Splice::new(4..5, "E"),
            ],
        )
        .unwrap();
        assert_eq!(out.as_str(), "adEf!");
        assert_eq!(
            apply("abc", vec![Splice::delete(0..2), Splice::delete(1..3)]).unwrap_err(),
            Overlap
        );
    }
}

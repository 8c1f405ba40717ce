//! The one splice applier: replacements of byte ranges of a text, used by `set`/`unset`
//! and by `team`'s edits of `.sops.yaml` ([`super::entries`]).

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

/// Two splices of one edit touch the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("two edits overlap")]
pub struct Overlap;

/// `src` with every splice applied (in order of position; insertions at one offset keep
/// their given order). Refused when two of them overlap.
pub fn apply(src: &str, mut splices: Vec<Splice>) -> Result<Zeroizing<String>, Overlap> {
    splices.sort_by_key(|s| (s.range.start, s.range.end));
    let extra: usize = splices.iter().map(|s| s.text.len()).sum();
    let mut out = Zeroizing::new(String::with_capacity(src.len() + extra));
    let mut at = 0;
    for s in &splices {
        if s.range.start < at {
            return Err(Overlap);
        }
        out.push_str(&src[at..s.range.start]);
        out.push_str(&s.text);
        at = s.range.end;
    }
    out.push_str(&src[at..]);
    Ok(out)
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

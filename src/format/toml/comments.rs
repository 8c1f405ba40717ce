//! The comments of a TOML document that the parser has already accepted: every `#` outside
//! a string, through the end of its line.

use std::ops::Range;

/// The span of each comment's text (after `#`, up to the line break, a CR before the LF
/// excluded), in document order. `src` must be valid TOML.
pub fn comments(src: &str, from: usize) -> Vec<Range<usize>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'#' => {
                let end = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
                let end = if end > i + 1 && b[end - 1] == b'\r' && end < b.len() {
                    end - 1
                } else {
                    end
                };
                out.push(i + 1..end.max(i + 1));
                i = end;
            }
            q @ (b'"' | b'\'') => i = string_end(b, i, q),
            _ => i += 1,
        }
    }
    out
}

/// The offset just after the string (basic or literal, one- or multi-line) starting at
/// `start` with quote `q`.
fn string_end(b: &[u8], start: usize, q: u8) -> usize {
    let multi = b.len() >= start + 3 && b[start + 1] == q && b[start + 2] == q;
    if multi {
        let mut i = start + 3;
        while i < b.len() {
            if q == b'"' && b[i] == b'\\' {
                i += 2;
            } else if b[i] == q && b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q) {
                // Up to two more quotes may close the string (`""""` ends with a quote).
                let mut end = i + 3;
                while end < b.len() && end < i + 5 && b[end] == q {
                    end += 1;
                }
                return end;
            } else {
                i += 1;
            }
        }
        return b.len();
    }
    if b.get(start + 1) == Some(&q) {
        return start + 2; // empty string
    }
    let mut i = start + 1;
    while i < b.len() {
        if q == b'"' && b[i] == b'\\' {
            i += 2;
        } else if b[i] == q || b[i] == b'\n' {
            return i + 1;
        } else {
            i += 1;
        }
    }
    b.len()
}

//! Line arithmetic on byte offsets, shared by the YAML syntax and the in-place config
//! editor, and the line splitting of the line-based syntaxes (.env, INI: [`line_at`]).
//!
//! Lines are YAML's: a line break is `\r\n`, `\n` or a lone `\r` (YAML 1.2 `b-break`, as
//! saphyr-parser and SOPS's yaml.v3 read them). A `\r\n` is one break: an offset on its
//! `\n` belongs to the line the `\r` ends.

fn is_break(c: u8) -> bool {
    c == b'\n' || c == b'\r'
}

/// Start of the line holding byte `at`.
pub fn line_start(src: &str, at: usize) -> usize {
    let b = src.as_bytes();
    let mut end = at;
    loop {
        match b[..end].iter().rposition(|&c| is_break(c)) {
            // The `\r` of the `\r\n` whose `\n` is at `at`: not a break of its own.
            Some(i) if i + 1 == at && b[i] == b'\r' && b.get(at) == Some(&b'\n') => end = i,
            Some(i) => return i + 1,
            None => return 0,
        }
    }
}

/// End of the line holding byte `at`, before its `\n`, `\r\n` or `\r`.
pub fn line_end(src: &str, at: usize) -> usize {
    let b = src.as_bytes();
    b[at..]
        .iter()
        .position(|&c| is_break(c))
        .map_or(src.len(), |i| at + i)
}

/// Start of the line after the one holding byte `at` (the end of `src` on the last line).
pub fn next_line(src: &str, at: usize) -> usize {
    let b = src.as_bytes();
    match b[at..].iter().position(|&c| is_break(c)) {
        Some(i) if b[at + i] == b'\r' && b.get(at + i + 1) == Some(&b'\n') => at + i + 2,
        Some(i) => at + i + 1,
        None => src.len(),
    }
}

/// One line of a text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line {
    /// Start of the line.
    pub start: usize,
    /// End of its content (before `\r\n`, `\n`, or a `\r` that ends the file).
    pub end: usize,
    /// Start of the next line (after the line break), or the end of the file.
    pub next: usize,
}

/// The line starting at `start` (which is below `src.len()`).
pub(crate) fn line_at(src: &str, start: usize) -> Line {
    let b = src.as_bytes();
    match memchr::memchr(b'\n', &b[start..]).map(|i| start + i) {
        Some(nl) => {
            let end = if nl > start && b[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            Line {
                start,
                end,
                next: nl + 1,
            }
        }
        // A CR that ends the file is the line's break, as it is before an LF (it becomes
        // one when the metadata is inserted after it).
        None => Line {
            start,
            end: if src.len() > start && src.ends_with('\r') {
                src.len() - 1
            } else {
                src.len()
            },
            next: src.len(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_yaml_line_break_ends_a_line() {
        let src = "a\nb\r\nc\rd";
        //         0 12 3 45 6 78
        assert_eq!(line_start(src, 0), 0);
        assert_eq!(line_start(src, 2), 2);
        assert_eq!(line_start(src, 4), 2, "the \\n of a \\r\\n");
        assert_eq!(line_start(src, 5), 5);
        assert_eq!(line_start(src, 7), 7, "after a lone \\r");
        assert_eq!(line_start(src, 8), 7);
        assert_eq!(line_end(src, 0), 1);
        assert_eq!(line_end(src, 2), 3);
        assert_eq!(line_end(src, 5), 6);
        assert_eq!(line_end(src, 7), 8);
        assert_eq!(next_line(src, 0), 2);
        assert_eq!(next_line(src, 2), 5);
        assert_eq!(next_line(src, 5), 7);
        assert_eq!(next_line(src, 7), 8);
    }
}

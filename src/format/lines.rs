//! Line arithmetic on byte offsets, shared by the syntaxes and the in-place config editor.

/// Start of the line holding byte `at`.
pub fn line_start(src: &str, at: usize) -> usize {
    src[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// End of the line holding byte `at`, before its `\n` or `\r\n`.
pub fn line_end(src: &str, at: usize) -> usize {
    let e = src[at..].find('\n').map_or(src.len(), |i| at + i);
    if e > at && src.as_bytes()[e - 1] == b'\r' {
        e - 1
    } else {
        e
    }
}

/// Start of the line after the one holding byte `at` (the end of `src` on the last line).
pub fn next_line(src: &str, at: usize) -> usize {
    src[at..].find('\n').map_or(src.len(), |i| at + i + 1)
}

//! Exact byte spans of YAML scalars (pass 1): saphyr's character indexes turned into byte
//! offsets, anchors and tags skipped, block scalars' headers found, quoted scalars' ends.

use super::*;

/// Converts the parser's character indexes to byte offsets.
pub(super) struct Offsets {
    pub(super) table: Option<Vec<usize>>,
    pub(super) len: usize,
    /// White space added to the parser's copy of the source (see [`reindented_closers`]).
    pub(super) added: Vec<Added>,
}

/// Spaces added to the parser's copy of the source: (character index in the copy, count,
/// characters added before it).
pub(super) type Added = (usize, usize, usize);

impl Offsets {
    pub(super) fn new(src: &str) -> Offsets {
        let table = (!src.is_ascii()).then(|| {
            let mut t: Vec<usize> = src.char_indices().map(|(i, _)| i).collect();
            t.push(src.len());
            t
        });
        Offsets {
            table,
            len: src.len(),
            added: Vec::new(),
        }
    }
    pub(super) fn byte(&self, char_index: usize) -> usize {
        // A character index of the parser's copy: back to the source's (an index inside
        // added white space is the character that follows it).
        let char_index = match self.added.partition_point(|a| a.0 <= char_index) {
            0 => char_index,
            i => {
                let (at, n, before) = self.added[i - 1];
                char_index - before - (char_index - at).min(n)
            }
        };
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

/// yaml.v3 (so sops) writes an empty flow collection that holds comments with its closing
/// bracket at column 0 (`labels: {`, comment lines, `}`), which YAML does not allow inside
/// a block collection (the line must be indented past it), and saphyr-parser refuses. For
/// a source that does not parse, the parser is given a copy in which each such closing
/// bracket — alone on its line, after only blank and comment lines that follow an opening
/// bracket ending a `key: {` or `- [` line, and left of that opening bracket — is indented
/// to the opening bracket's column. Returns the copy and the added white space, or `None`
/// when there is no such bracket. Every span is still one of the source: only the parser
/// reads the copy.
pub(super) fn reindented_closers(src: &str) -> Option<(String, Vec<Added>)> {
    let mut lines: Vec<Range<usize>> = Vec::new();
    let mut at = 0;
    while at < src.len() {
        lines.push(at..line_end(src, at));
        at = next_line(src, at);
    }
    let mut fixes: Vec<(usize, usize)> = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        let text = &src[line.clone()];
        let close = text.trim_start_matches(' ');
        let open = match close.trim_end_matches([' ', '\t']) {
            "}" => '{',
            "]" => '[',
            _ => continue,
        };
        let col = text.len() - close.len();
        let Some(opener) = lines[..k].iter().rev().find(|l| {
            let t = src[(*l).clone()].trim_start_matches([' ', '\t']);
            !(t.is_empty() || t.starts_with('#'))
        }) else {
            continue;
        };
        let o = src[opener.clone()].trim_end_matches([' ', '\t']);
        let Some(head) = o.strip_suffix(open) else {
            continue;
        };
        if !(head.ends_with(": ") || head.ends_with("- ")) || head.contains(" #") {
            continue;
        }
        let open_col = column_of(src, opener.start, opener.start + head.len());
        if col < open_col {
            fixes.push((line.start + col, open_col - col));
        }
    }
    if fixes.is_empty() {
        return None;
    }
    let mut copy = String::with_capacity(src.len() + fixes.iter().map(|f| f.1).sum::<usize>());
    let mut added = Vec::with_capacity(fixes.len());
    let (mut from, mut chars, mut before) = (0, 0, 0);
    for (at, n) in fixes {
        chars += src[from..at].chars().count();
        copy.push_str(&src[from..at]);
        added.push((chars + before, n, before));
        copy.extend(std::iter::repeat_n(' ', n));
        before += n;
        from = at;
    }
    copy.push_str(&src[from..]);
    Some((copy, added))
}

/// The exact layout of one scalar, from pass 1.
#[derive(Debug, Clone)]
pub(super) struct ScalarInfo {
    /// Where the node starts (anchor/tag included) — for keys and error positions.
    pub(super) node_start: usize,
    /// The bytes replaced when encrypting (tag included, anchor excluded).
    pub(super) span: Range<usize>,
    /// Everything that belongs to the scalar (header and content for block scalars).
    pub(super) occupied: Range<usize>,
    /// Inside `occupied`, where a comment may still be (after a block scalar's header).
    pub(super) comment_gap: Option<Range<usize>>,
    pub(super) style: Style,
}

pub(super) static BLOCK_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([|>])([1-9+-]{0,2})[ \t]*(#[^\n]*)?\r?$").unwrap());

/// Column (in characters, a BOM not counted) of `at` on the line starting at `ls`.
pub(super) fn column_of(src: &str, ls: usize, at: usize) -> usize {
    src[ls..at].chars().filter(|&c| c != '\u{feff}').count()
}

/// Skips node properties (`&anchor`, `!tag`) at `at`; returns (tag start, value start).
pub(super) fn skip_properties(src: &str, mut at: usize, limit: usize) -> (Option<usize>, usize) {
    let b = src.as_bytes();
    let mut tag = None;
    loop {
        while at < limit && matches!(b[at], b' ' | b'\t' | b'\r' | b'\n') {
            at += 1;
        }
        if at < limit && (b[at] == b'&' || b[at] == b'!') {
            if b[at] == b'!' && tag.is_none() {
                tag = Some(at);
            }
            at = property_end(src, at, limit);
        } else {
            return (tag, at);
        }
    }
}

/// End of the anchor or tag starting at `at`: a verbatim tag (`!<…>`) ends after its `>`;
/// an anchor or a shorthand tag at white space or a flow indicator, which cannot be part
/// of its name (`&a[x]` is an anchor glued to a flow sequence).
pub(super) fn property_end(src: &str, at: usize, limit: usize) -> usize {
    let b = &src.as_bytes()[..limit];
    if b[at..].starts_with(b"!<") {
        return b[at..]
            .iter()
            .position(|&c| c == b'>')
            .map_or(limit, |i| at + i + 1);
    }
    b[at + 1..]
        .iter()
        .position(|&c| {
            matches!(
                c,
                b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}'
            )
        })
        .map_or(limit, |i| at + 1 + i)
}

pub(super) fn quoted_end(src: &str, open: usize, quote: u8) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if quote == b'"' => i += 2,
            c if c == quote => {
                if quote == b'\'' && b.get(i + 1) == Some(&b'\'') {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

pub(super) fn leading_spaces(line: &str) -> usize {
    line.bytes().take_while(|&c| c == b' ').count()
}

/// Pass 1 for one scalar event (`empty`: its value is the empty string).
pub(super) fn scalar_info(
    src: &str,
    eol: &'static str,
    style: ScalarStyle,
    empty: bool,
    start: usize,
    end: usize,
    content_col: usize,
) -> Result<ScalarInfo, SyntaxError> {
    match style {
        ScalarStyle::Literal | ScalarStyle::Folded => {
            let has_props = matches!(src.as_bytes().get(start), Some(b'!' | b'&' | b'|' | b'>'));
            let (indicator_at, header_line) = if has_props {
                // The event starts at the properties; the header indicator follows them.
                let (_, at) = skip_properties(src, start, src.len());
                (at, line_start(src, at))
            } else {
                // The event starts at the content; the header is on the last non-blank line above.
                let mut ls = line_start(src, start);
                let header_line = loop {
                    if ls == 0 {
                        return Err(SyntaxError::new(start, "block scalar without a header"));
                    }
                    let prev = line_start(src, ls - 1);
                    if !src[prev..ls].trim().is_empty() {
                        break prev;
                    }
                    ls = prev;
                };
                let header_end = line_end(src, header_line);
                let m = BLOCK_HEADER
                    .find(&src[header_line..header_end])
                    .ok_or_else(|| {
                        SyntaxError::new(header_line, "block scalar header not recognised")
                    })?;
                (header_line + m.start(), header_line)
            };
            let header_end = line_end(src, indicator_at);
            let m = BLOCK_HEADER
                .captures(&src[indicator_at..header_end])
                .filter(|m| m.get(0).is_some_and(|g| g.start() == 0))
                .ok_or_else(|| {
                    SyntaxError::new(indicator_at, "block scalar header not recognised")
                })?;
            let _ = header_line;
            let chomp = m
                .get(2)
                .and_then(|g| g.as_str().chars().find(|c| *c == '+' || *c == '-'));
            let content_start = next_line(src, indicator_at);
            let content_col = if has_props {
                let mut at = content_start;
                loop {
                    if at >= src.len() {
                        break 0;
                    }
                    let le = line_end(src, at);
                    if !src[at..le].trim().is_empty() {
                        break leading_spaces(&src[at..le]);
                    }
                    at = next_line(src, at);
                }
            } else {
                content_col
            };
            // Content lines: blank, or indented at least `content_col`.
            let mut at = content_start;
            let mut last_end = None;
            while at < src.len() {
                let le = line_end(src, at);
                let line = &src[at..le];
                if line.trim().is_empty() {
                    at = next_line(src, at);
                    continue;
                }
                if leading_spaces(line) < content_col.max(1) {
                    break;
                }
                last_end = Some(le);
                at = next_line(src, at);
            }
            let indicator_end = indicator_at + m.get(2).map_or(1, |g| g.end());
            let comment_gap = Some(indicator_end..header_end);
            let Some(span_end) = last_end else {
                // No content line: the value is empty or only line breaks. The header
                // indicator itself is replaced by a plain token (its spelling is kept).
                return Ok(ScalarInfo {
                    node_start: indicator_at,
                    span: indicator_at..indicator_end,
                    occupied: indicator_at..header_end,
                    comment_gap,
                    style: Style::Plain,
                });
            };
            Ok(ScalarInfo {
                node_start: indicator_at,
                span: content_start..span_end.max(content_start),
                occupied: indicator_at..span_end.max(header_end),
                comment_gap,
                style: Style::Block(Box::new(BlockStyle {
                    indent: " ".repeat(content_col),
                    literal: m.get(1).is_some_and(|g| g.as_str() == "|"),
                    chomp,
                    eol,
                })),
            })
        }
        _ => {
            let (tag, value_start) = skip_properties(src, start, src.len());
            // A standard tag other than `!!str` must not stay on a token (`!!int ENC[...]`
            // is not an int); it is replaced along with the value and its spelling kept.
            let tag = tag.filter(|&t| {
                let name = &src[t..property_end(src, t, src.len())];
                name.starts_with("!!") && name != "!!str"
            });
            let b = src.as_bytes();
            let (value_end, style) = match style {
                ScalarStyle::DoubleQuoted | ScalarStyle::SingleQuoted => {
                    let q = if style == ScalarStyle::DoubleQuoted {
                        b'"'
                    } else {
                        b'\''
                    };
                    if b.get(value_start) != Some(&q) {
                        return Err(SyntaxError::new(
                            value_start,
                            "quoted scalar not found where expected",
                        ));
                    }
                    let e = quoted_end(src, value_start, q).ok_or_else(|| {
                        SyntaxError::new(value_start, "unterminated quoted scalar")
                    })?;
                    let st = if q == b'"' {
                        Style::DoubleQuoted
                    } else {
                        Style::SingleQuoted
                    };
                    (e, st)
                }
                _ if empty && value_start == start => {
                    // An empty scalar without properties (`{a}`, `[a: ]`): the parser gives
                    // it the span of the token after it (`}`, `,`…), which is not its own.
                    (start, Style::Plain)
                }
                _ => {
                    let mut e = end.max(value_start);
                    while e > value_start && matches!(b[e - 1], b' ' | b'\t' | b'\r' | b'\n') {
                        e -= 1;
                    }
                    (e, Style::Plain)
                }
            };
            Ok(ScalarInfo {
                node_start: start,
                span: tag.unwrap_or(value_start)..value_end,
                occupied: start..value_end,
                comment_gap: None,
                style,
            })
        }
    }
}

/// The `-` of the block sequence item whose value starts at `at`: the previous token,
/// skipping white space, line breaks and comments.
pub(super) fn dash_before(src: &str, at: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = at;
    loop {
        while i > 0 && matches!(b[i - 1], b' ' | b'\t' | b'\r' | b'\n') {
            i -= 1;
        }
        if i == 0 {
            return None;
        }
        if b[i - 1] == b'-' {
            return Some(i - 1);
        }
        // A comment ending here: continue before its `#`.
        let ls = line_start(src, i - 1);
        let line = &src[ls..i];
        let hash = line
            .char_indices()
            .find(|&(k, c)| c == '#' && (k == 0 || line[..k].ends_with([' ', '\t'])))
            .map(|(k, _)| ls + k)?;
        i = hash;
    }
}

pub(super) fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == needle)
}

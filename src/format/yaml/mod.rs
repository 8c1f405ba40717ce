//! YAML: saphyr-parser's event stream, with exact byte spans recomputed from the source
//! (the parser's spans are character indexes, include anchors and tags, start block
//! scalars at their content and can run past a closing quote), plus a comment scanner
//! over the bytes that no scalar covers (the parser drops comments).
//!
//! Three passes over one parse: (1) exact extents of every scalar, (2) comments in the
//! gaps, (3) the structural walk that builds paths, leaves and entry ends, with each
//! comment attached to the innermost open collection whose column it does not precede.

mod emit;
mod resolve;
mod typing;
pub mod value;

use compact_str::CompactString;
use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use zeroize::Zeroizing;

use super::lines::{line_end, line_start, next_line};
use super::{
    BlockStyle, Comment, CommentItem, Detail, Document, Format, Insertion, Item, ItemList, KeyPath,
    Leaf, Node, NodeKind, Outline, Scalar, SopsEntry, Step, Style, SyntaxError, bom_len,
    detect_eol, yaml_value,
};

pub use emit::{double_quoted, needs_escape, plain_safe, push_double_quoted};

/// The YAML syntax.
pub struct Yaml;

/// Deepest nesting accepted (no stack or memory blow-up on hostile input).
const MAX_DEPTH: usize = 1000;

impl Format for Yaml {
    fn parse_detail<'s>(&self, src: &'s str, detail: Detail) -> Result<Outline<'s>, SyntaxError> {
        parse(src, detail)
    }

    fn token_affixes<'l>(&self, leaf: &'l Leaf) -> (&'l str, &'static str, Style) {
        match &leaf.style {
            Style::Block(b) => (&b.indent, "", leaf.style.clone()),
            Style::SingleQuoted => ("'", "'", Style::SingleQuoted),
            Style::DoubleQuoted => ("\"", "\"", Style::DoubleQuoted),
            _ if leaf.in_flow => ("\"", "\"", Style::DoubleQuoted),
            _ => ("", "", Style::Plain),
        }
    }

    fn spelled_canonically(&self, style: &Style, f: bool, value: &Scalar, original: &str) -> bool {
        match (style, value) {
            (Style::Plain, Scalar::Str(s)) if emit::plain_safe(s, f) => s == original,
            _ => super::renders_as(self, style, f, value, original),
        }
    }

    fn render_str_into(&self, style: &Style, f: bool, s: &str, out: &mut Zeroizing<String>) {
        if *style == Style::Plain && emit::plain_safe(s, f) {
            crate::codec::wipe::push_str(out, s);
        } else {
            super::push_rendered(self, style, f, &Scalar::Str(Cow::Borrowed(s)), out);
        }
    }

    fn render(&self, style: &Style, in_flow: bool, value: &Scalar) -> String {
        emit::render(style, in_flow, value)
    }

    fn metadata_text(&self, meta: &serde_json::Value, outline: &Outline, doc: &Document) -> String {
        match doc.insertion {
            Insertion::Block { .. } => emit::metadata_block(meta, &doc.member_indent, outline.eol),
            Insertion::Flow { .. } => {
                format!(
                    " \"sops\": {}",
                    serde_json::to_string(meta).unwrap_or_default()
                )
            }
        }
    }
}

/// Converts the parser's character indexes to byte offsets.
struct Offsets {
    table: Option<Vec<usize>>,
    len: usize,
    /// White space added to the parser's copy of the source (see [`reindented_closers`]).
    added: Vec<Added>,
}

/// Spaces added to the parser's copy of the source: (character index in the copy, count,
/// characters added before it).
type Added = (usize, usize, usize);

impl Offsets {
    fn new(src: &str) -> Offsets {
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
    fn byte(&self, char_index: usize) -> usize {
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
fn reindented_closers(src: &str) -> Option<(String, Vec<Added>)> {
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
struct ScalarInfo {
    /// Where the node starts (anchor/tag included) — for keys and error positions.
    node_start: usize,
    /// The bytes replaced when encrypting (tag included, anchor excluded).
    span: Range<usize>,
    /// Everything that belongs to the scalar (header and content for block scalars).
    occupied: Range<usize>,
    /// Inside `occupied`, where a comment may still be (after a block scalar's header).
    comment_gap: Option<Range<usize>>,
    style: Style,
}

static BLOCK_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([|>])([1-9+-]{0,2})[ \t]*(#[^\n]*)?\r?$").unwrap());

/// Column (in characters, a BOM not counted) of `at` on the line starting at `ls`.
fn column_of(src: &str, ls: usize, at: usize) -> usize {
    src[ls..at].chars().filter(|&c| c != '\u{feff}').count()
}

/// Skips node properties (`&anchor`, `!tag`) at `at`; returns (tag start, value start).
fn skip_properties(src: &str, mut at: usize, limit: usize) -> (Option<usize>, usize) {
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
fn property_end(src: &str, at: usize, limit: usize) -> usize {
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

fn quoted_end(src: &str, open: usize, quote: u8) -> Option<usize> {
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

fn leading_spaces(line: &str) -> usize {
    line.bytes().take_while(|&c| c == b' ').count()
}

/// Pass 1 for one scalar event (`empty`: its value is the empty string).
fn scalar_info(
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
fn dash_before(src: &str, at: usize) -> Option<usize> {
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

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == needle)
}

#[derive(Debug)]
enum Kind {
    Map { key: Option<CompactString> },
    Seq,
}

#[derive(Debug)]
struct Frame {
    kind: Kind,
    path: KeyPath,
    column: usize,
    flow: bool,
    /// Tree steps of the collection (with sequence indexes).
    steps: Vec<Step>,
    /// Index of the next sequence item.
    index: usize,
    /// Its node in the document's nodes.
    node: usize,
    /// The current mapping key's span.
    key_span: Option<Range<usize>>,
    /// End of the last member's value.
    last_end: Option<usize>,
    /// Block sequence items that hold a `type:comment` token (SOPS's comments in
    /// sequences), and the item index of the first.
    comment_items: usize,
    first_comment_item: Option<usize>,
}

/// What an alias-free, tag-free YAML 1.1 reader would not see: an explicit tag.
const LOOSE_TAG: &str = "a tag";
/// The message for a top-level `sops` key whose value is not a mapping.
const SOPS_NOT_MAPPING: &str =
    "the top-level key `sops` is reserved for the metadata and must hold a mapping";
/// The message for a second top-level `sops` key.
const SOPS_TWICE: &str = "a second top-level `sops` key: a file has exactly one metadata block";

/// A subtree being skipped: a complex key, or the top-level `sops` value.
#[derive(Debug)]
struct Skip {
    depth: usize,
    sops: Option<SopsSkip>,
    end: usize,
    start: usize,
}

#[derive(Debug)]
struct SopsSkip {
    key_start: usize,
    prev_member_end: Option<usize>,
}

struct DocState<'s> {
    start: usize,
    /// Whether the document starts with `---`.
    explicit: bool,
    /// The top-level mapping: flow, column, where its value starts (after properties).
    top: Option<(bool, usize, usize)>,
    items: ItemList<'s>,
    nodes: Vec<Node>,
    sops: Option<SopsEntry>,
    last_member_end: Option<usize>,
}

fn parse(src: &str, detail: Detail) -> Result<Outline<'_>, SyntaxError> {
    if let Some((at, msg)) = resolve::yaml11_break(src) {
        return Err(SyntaxError::new(at, msg));
    }
    let offs = Offsets::new(src);
    match parse_with(src, src, offs, detail) {
        Err(e) => match reindented_closers(src) {
            Some((copy, added)) => {
                let offs = Offsets {
                    added,
                    ..Offsets::new(src)
                };
                parse_with(src, &copy, offs, detail).map_err(|_| e)
            }
            None => Err(e),
        },
        ok => ok,
    }
}

/// Parses `src`, the parser reading `text` (`src` itself, or [`reindented_closers`]'s copy).
fn parse_with<'s>(
    src: &'s str,
    text: &str,
    offs: Offsets,
    detail: Detail,
) -> Result<Outline<'s>, SyntaxError> {
    let eol = detect_eol(src);
    let bom = bom_len(src);
    let mut w = Walk {
        src,
        eol,
        bom,
        comments: Vec::new(),
        scan_pos: 0,
        next_comment: 0,
        stack: Vec::new(),
        skip: None,
        docs: Vec::new(),
        doc: None,
        sops_key_start: 0,
        last_token_end: 0,
        aliases: 0,
        loose: None,
        detail,
    };
    // One pass over the event stream with one event of lookahead: each event's exact
    // extent is computed, the gap before it scanned for comments, then it is walked.
    let mut events = Parser::new_from_str(text).peekable();
    while let Some(ev) = events.next() {
        let (ev, span) =
            ev.map_err(|e| SyntaxError::new(offs.byte(e.marker().index()), e.info().to_string()))?;
        let start = offs.byte(span.start.index());
        let end = offs.byte(span.end.index());
        let info = match &ev {
            Event::Scalar(value, style, _, _) => Some(scalar_info(
                src,
                eol,
                *style,
                value.is_empty(),
                start,
                end,
                span.start.col(),
            )?),
            _ => None,
        };
        match (&ev, &info) {
            (_, Some(i)) => {
                w.scan_comments(i.occupied.start);
                if let Some(gap) = &i.comment_gap {
                    w.scan_pos = gap.start;
                    w.scan_comments(gap.end);
                }
                w.scan_pos = w.scan_pos.max(i.occupied.end);
            }
            (Event::StreamEnd, _) => w.scan_comments(src.len()),
            (Event::Alias(_), _) => {
                w.scan_comments(start);
                w.scan_pos = w.scan_pos.max(end);
            }
            _ => w.scan_comments(start),
        }
        let next = match events.peek() {
            Some(Ok(n)) => Some(n),
            _ => None,
        };
        w.event(
            &ev,
            start,
            end,
            span.start.col(),
            info.as_ref(),
            next,
            &offs,
        )?;
    }
    if w.docs.is_empty() {
        return Err(SyntaxError::new(
            bom,
            "the file holds no document; the top level must be a mapping",
        ));
    }
    // The line break inserted with the metadata after a lone CR must be a CRLF: an LF would
    // make one `\r\n` of the two, which the removal takes whole.
    let eol = if w
        .docs
        .iter()
        .any(|d| matches!(d.insertion, Insertion::Block { at } if src[..at].ends_with('\r')))
    {
        "\r\n"
    } else {
        eol
    };
    Ok(Outline {
        docs: w.docs,
        eol,
        aliases: w.aliases,
        loose: w.loose,
    })
}

struct Walk<'s> {
    src: &'s str,
    eol: &'static str,
    bom: usize,
    /// Comments found so far: offset of `#`, text span.
    comments: Vec<(usize, Range<usize>)>,
    /// Everything before this offset has been scanned for comments.
    scan_pos: usize,
    next_comment: usize,
    stack: Vec<Frame>,
    skip: Option<Skip>,
    docs: Vec<Document<'s>>,
    doc: Option<DocState<'s>>,
    /// Start of the latest top-level key (where a `sops` entry begins).
    sops_key_start: usize,
    /// End of the latest scalar, alias or collection.
    last_token_end: usize,
    /// Aliases seen.
    aliases: usize,
    /// The first alias or tag in a document (not in the metadata).
    loose: Option<(usize, &'static str)>,
    /// What to record.
    detail: Detail,
}

impl<'s> Walk<'s> {
    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        ev: &Event<'_>,
        start: usize,
        end: usize,
        col: usize,
        info: Option<&ScalarInfo>,
        next: Option<&(Event<'_>, Span)>,
        offs: &Offsets,
    ) -> Result<(), SyntaxError> {
        match ev {
            Event::DocumentStart(explicit) => {
                let doc_start = if self.docs.is_empty() {
                    0
                } else {
                    start.max(self.bom)
                };
                self.doc = Some(DocState {
                    start: doc_start,
                    explicit: *explicit,
                    top: None,
                    // The first document usually is the whole file.
                    items: if self.docs.is_empty() {
                        ItemList::room_for_lines(self.detail, self.src)
                    } else {
                        ItemList::new(self.detail, 0)
                    },
                    nodes: Vec::new(),
                    sops: None,
                    last_member_end: None,
                });
                self.stack.clear();
            }
            Event::DocumentEnd => {
                let doc_end = document_end(self.src, start, end, next, offs);
                self.flush_comments(doc_end);
                self.finish_doc(doc_end)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            _ if self.skip.is_some() => self.skip_event(ev, start, end, info),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                self.flush_comments_on_line_of(self.last_token_end, start);
                let is_map = matches!(ev, Event::MappingStart(..));
                if let Event::MappingStart(_, Some(_)) | Event::SequenceStart(_, Some(_)) = ev {
                    self.note_loose(start, LOOSE_TAG);
                }
                // A block mapping's column is its first key's (the event may sit on a
                // `--- !!tag` line or after `- `).
                let col = match next {
                    Some((
                        Event::Scalar(..)
                        | Event::Alias(_)
                        | Event::MappingStart(..)
                        | Event::SequenceStart(..),
                        sp,
                    )) if is_map => {
                        let at = offs.byte(sp.start.index());
                        // An explicit key (`? key`, or `?` then a block collection on the
                        // next lines) starts at its `?`, where the event sits (after its
                        // properties and comments, if any). A `?` found by looking back from
                        // the key could be in a comment or an anchor (`# c?`, `&x?`).
                        let mut own = start;
                        let own = loop {
                            let (_, i) = skip_properties(self.src, own, at);
                            if i < at && self.src[i..].starts_with('#') {
                                own = line_end(self.src, i);
                            } else {
                                break i;
                            }
                        };
                        let explicit = own < at
                            && self.src[own..].starts_with('?')
                            && self.src[own + 1..]
                                .chars()
                                .next()
                                .is_none_or(char::is_whitespace);
                        let key_at = if explicit { own } else { at };
                        column_of(self.src, line_start(self.src, key_at), key_at)
                    }
                    _ => col,
                };
                let (_, at) = skip_properties(self.src, start, end.max(start));
                let flow = at < end && matches!(self.src.as_bytes()[at], b'{' | b'[');
                if flow {
                    self.flush_comments(start);
                }
                // Comments on the parent key's line (flushed above) belong to the parent;
                // the ones between that line and the first entry to the new collection.
                self.open(is_map, start, end, col)?;
                self.flush_comments(start);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if self.stack.last().is_some_and(|f| !f.flow) {
                    // A comment indented deeper than the next token is a foot comment of
                    // the collection that ends here (as yaml.v3 attaches it).
                    let next_col = self.next_column(start);
                    self.flush_comments_deeper_than(next_col, start);
                } else {
                    // A comment before a closing bracket belongs to the flow collection
                    // it closes (sops encrypts the comments of an empty `{` … `}` with
                    // that collection's path), and so does one after the bracket on its
                    // line when the collection is a value in block context (`key: [] # c`:
                    // yaml.v3 makes it the collection's line comment).
                    let outer = self.stack.len() >= 2 && !self.stack[self.stack.len() - 2].flow;
                    let to = if outer && self.src[start..].starts_with(['}', ']']) {
                        let le = line_end(self.src, start);
                        let rest = self.src[start + 1..le].trim_start_matches([' ', '\t']);
                        if rest.starts_with('#') {
                            self.scan_comments(le);
                            le
                        } else {
                            start
                        }
                    } else {
                        start
                    };
                    self.flush_comments(to);
                }
                let frame = self.stack.pop();
                if let Some(f) = &frame
                    && matches!(f.kind, Kind::Seq)
                    && f.index > 0
                    && f.comment_items == f.index
                {
                    self.empty_comment_sequence(f);
                }
                let close_end = if frame.as_ref().is_some_and(|f| f.flow) {
                    start + 1
                } else {
                    start
                };
                let node_end = frame.as_ref().map(|f| {
                    let end = if f.flow {
                        close_end
                    } else {
                        f.last_end.unwrap_or(close_end)
                    };
                    if self.detail != Detail::Tree {
                        return end;
                    }
                    let node = &mut self.nodes()[f.node];
                    node.span.end = end.max(node.span.start);
                    node.span.end
                });
                if frame.as_ref().is_some_and(|f| !f.flow) {
                    // Block collection: flush comments only when the next token comes.
                } else {
                    self.flush_comments(start);
                }
                self.value_done(close_end);
                if let (Some(parent), Some(e)) = (self.stack.last_mut(), node_end) {
                    parent.last_end = Some(e);
                }
            }
            Event::Scalar(value, style, _, tag) => {
                self.flush_comments(start);
                let info = info.expect("pass 1 covers every scalar");
                self.scalar(value, *style, tag.as_deref(), info)?;
            }
            Event::Alias(_) => {
                self.aliases += 1;
                self.note_loose(start, "an alias");
                self.flush_comments(start);
                if !self.expecting_key() && self.at_top_sops_value() {
                    return Err(SyntaxError::new(start, SOPS_NOT_MAPPING));
                }
                if self.expecting_key() {
                    self.set_key(CompactString::from(&self.src[start..end]), start..end);
                } else {
                    self.add_node(NodeKind::Alias, false, start, start..end, None, None);
                    self.value_done(end);
                }
            }
        }
        Ok(())
    }

    /// Column of the token at `start` that follows a block collection. At the end of the
    /// document that is where the `sops` key goes (the top-level column), so that comments
    /// are attached the same before and after metadata is inserted: a last line without a
    /// line break would otherwise give the column of its own end.
    fn next_column(&self, start: usize) -> usize {
        let rest = &self.src[start..];
        let marker = (rest.starts_with("---") || rest.starts_with("..."))
            && rest[3..].chars().next().is_none_or(char::is_whitespace)
            && line_start(self.src, start) == start;
        match self.doc.as_ref().and_then(|d| d.top) {
            Some((_, top_col, _)) if rest.is_empty() || rest.starts_with('\u{feff}') || marker => {
                top_col
            }
            _ => column_of(self.src, line_start(self.src, start), start),
        }
    }

    /// Records the first alias or tag of the documents: the MAC does not cover them (the
    /// engine refuses them unless sealed's own layout digest does).
    fn note_loose(&mut self, at: usize, what: &'static str) {
        if self.loose.is_none() {
            self.loose = Some((at, what));
        }
    }

    /// Is the next node the value of a top-level `sops` key (the metadata)?
    fn at_top_sops_value(&self) -> bool {
        self.stack.len() == 1
            && matches!(&self.stack[0].kind, Kind::Map { key: Some(k) } if k == "sops")
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                kind: Kind::Map { key: None },
                ..
            })
        )
    }

    fn depth(&self) -> usize {
        self.stack.len().saturating_sub(1)
    }

    fn in_flow(&self) -> bool {
        self.stack.last().is_some_and(|f| f.flow)
    }

    fn nodes(&mut self) -> &mut Vec<Node> {
        &mut self.doc.as_mut().expect("inside a document").nodes
    }

    /// Records the node of a value of the current frame that starts at `start` (its
    /// properties included); returns its index.
    fn add_node(
        &mut self,
        kind: NodeKind,
        flow_coll: bool,
        start: usize,
        span: Range<usize>,
        header: Option<Range<usize>>,
        leaf: Option<usize>,
    ) -> usize {
        if self.detail != Detail::Tree {
            return 0;
        }
        let (steps, entry_start, key, flow, block_parent) = match self.stack.last() {
            None => (Vec::new(), span.start, None, false, None),
            Some(f) => {
                let mut steps = f.steps.clone();
                let (entry_start, key) = match &f.kind {
                    Kind::Map { key } => {
                        steps.push(Step::Key(key.as_deref().unwrap_or_default().to_string()));
                        let k = f.key_span.clone();
                        (k.as_ref().map_or(start, |k| k.start), k)
                    }
                    Kind::Seq => {
                        steps.push(Step::Index(f.index));
                        let at = if f.flow {
                            start
                        } else {
                            dash_before(self.src, start).unwrap_or(start)
                        };
                        (at, None)
                    }
                };
                let first = f.last_end.is_none() && (f.index == 0);
                (
                    steps,
                    entry_start,
                    key,
                    f.flow,
                    (!f.flow && first).then_some(f.node),
                )
            }
        };
        let flow = flow || flow_coll;
        let nodes = self.nodes();
        if let Some(p) = block_parent {
            // A block collection starts where its first entry does.
            nodes[p].span.start = entry_start;
        }
        nodes.push(Node {
            steps,
            kind,
            span,
            entry_start,
            key,
            flow,
            header,
            leaf,
        });
        nodes.len() - 1
    }

    fn items(&mut self) -> &mut ItemList<'s> {
        &mut self.doc.as_mut().expect("inside a document").items
    }

    fn set_key(&mut self, key: CompactString, key_span: Range<usize>) {
        if let Some(Frame {
            kind: Kind::Map { key: k },
            key_span: ks,
            ..
        }) = self.stack.last_mut()
        {
            *k = Some(key);
            *ks = Some(key_span);
        }
    }

    /// Path of a value about to be read in the current frame.
    fn value_path(&self) -> KeyPath {
        match self.stack.last() {
            Some(Frame {
                kind: Kind::Map { key: Some(k) },
                path,
                ..
            }) => path.child(k),
            Some(f) => f.path.clone(),
            None => KeyPath::root(),
        }
    }

    fn open(
        &mut self,
        is_map: bool,
        start: usize,
        end: usize,
        col: usize,
    ) -> Result<(), SyntaxError> {
        let (_, at) = skip_properties(self.src, start, end.max(start));
        let flow = at < end && matches!(self.src.as_bytes()[at], b'{' | b'[');
        if self.stack.is_empty() {
            if !is_map {
                return Err(SyntaxError::new(
                    start,
                    "the top level of the document must be a mapping",
                ));
            }
            let doc = self.doc.as_mut().expect("inside a document");
            // A flow mapping's metadata goes after its `{`, past any anchor or tag.
            doc.top = Some((flow, col, at));
        } else if self.expecting_key() {
            // A complex key: skipped entirely.
            self.skip = Some(Skip {
                depth: 1,
                sops: None,
                end,
                start,
            });
            return Ok(());
        } else if self.at_top_sops_value() {
            if !is_map {
                return Err(SyntaxError::new(start, SOPS_NOT_MAPPING));
            }
            if self.doc.as_ref().is_some_and(|d| d.sops.is_some()) {
                return Err(SyntaxError::new(self.sops_key_start, SOPS_TWICE));
            }
            let prev = self.doc.as_ref().and_then(|d| d.last_member_end);
            let key_start = self.sops_key_start;
            self.skip = Some(Skip {
                depth: 1,
                sops: Some(SopsSkip {
                    key_start,
                    prev_member_end: prev,
                }),
                end: if flow { end } else { start },
                start,
            });
            return Ok(());
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError::new(start, "nesting too deep"));
        }
        let column = if flow || is_map {
            col
        } else {
            // Block sequence: the column of its `-`.
            let ls = line_start(self.src, start);
            self.src[ls..start]
                .rfind('-')
                .map_or(col, |i| column_of(self.src, ls, ls + i))
        };
        let path = self.value_path();
        let kind = if is_map { NodeKind::Map } else { NodeKind::Seq };
        let span = if flow { at..at + 1 } else { at..at };
        let node = self.add_node(kind, flow, start, span, None, None);
        let steps = if self.detail == Detail::Tree {
            self.nodes()[node].steps.clone()
        } else {
            Vec::new()
        };
        self.stack.push(Frame {
            kind: if is_map {
                Kind::Map { key: None }
            } else {
                Kind::Seq
            },
            path,
            column,
            flow: flow || self.in_flow(),
            steps,
            index: 0,
            node,
            key_span: None,
            last_end: None,
            comment_items: 0,
            first_comment_item: None,
        });
        Ok(())
    }

    /// A scalar's text, borrowed from the source when it is written there as is (a plain
    /// or quoted scalar without escapes, folding or a tag in its span), else a copy.
    fn text(&self, value: &str, info: &ScalarInfo) -> Cow<'s, str> {
        let span = &info.span;
        let inner = match info.style {
            Style::Plain => span.clone(),
            Style::SingleQuoted | Style::DoubleQuoted => span.start + 1..span.end.wrapping_sub(1),
            _ => return Cow::Owned(value.to_string()),
        };
        match self.src.get(inner) {
            Some(t) if t == value => Cow::Borrowed(t),
            _ => Cow::Owned(value.to_string()),
        }
    }

    fn scalar(
        &mut self,
        value: &str,
        style: ScalarStyle,
        tag: Option<&saphyr_parser::Tag>,
        info: &ScalarInfo,
    ) -> Result<(), SyntaxError> {
        if self.stack.is_empty() {
            // An empty document (`---` and nothing, or only comments): SOPS reads it as an
            // empty mapping and writes its metadata into it, after the document's text.
            let bare = self
                .src
                .get(info.node_start..info.occupied.end)
                .is_some_and(|t| t.trim().is_empty());
            if value.is_empty() && style == ScalarStyle::Plain && tag.is_none() && bare {
                let doc = self.doc.as_mut().expect("inside a document");
                doc.top = Some((false, 0, info.node_start));
                return Ok(());
            }
            return Err(SyntaxError::new(
                info.node_start,
                "the top level of the document must be a mapping",
            ));
        }
        if self.expecting_key() {
            if self.stack.len() == 1 {
                self.sops_key_start = info.node_start;
            }
            // sops writes merge keys as `!!merge <<:` (their values expanded): the values
            // under them are bound to the `<<` path like any other. Only an alias could
            // merge a mapping under a name of an editor's choosing, and aliases are noted.
            let merge = value == "<<"
                && tag.is_some_and(|t| {
                    (t.handle == "!!" || t.handle == "tag:yaml.org,2002:") && t.suffix == "merge"
                });
            if tag.is_some() && !merge {
                self.note_loose(info.node_start, LOOSE_TAG);
            }
            self.set_key(
                CompactString::from(value),
                info.node_start..info.occupied.end,
            );
            self.last_token_end = info.occupied.end;
            return Ok(());
        }
        if self.at_top_sops_value() {
            return Err(SyntaxError::new(info.node_start, SOPS_NOT_MAPPING));
        }
        if tag.is_some() {
            self.note_loose(info.node_start, LOOSE_TAG);
        }
        let text = self.text(value, info);
        let typed = match (tag, style) {
            (Some(t), _) if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" => {
                resolve::tagged(&t.suffix, text)
            }
            (None, ScalarStyle::Plain) => resolve::plain(text),
            _ => Scalar::Str(text),
        };
        if let Some(t) = tag
            && (t.handle == "tag:yaml.org,2002:" || t.handle == "!!")
            && t.suffix == "binary"
            && !value.starts_with(crate::codec::token::PREFIX)
            && (matches!(info.style, Style::Block(_)) || !resolve::binary_is_text(value))
        {
            // sops encrypts the decoded bytes as a string; sealed keeps values as text and
            // cannot put a token after a block scalar's tag.
            return Err(SyntaxError::new(
                info.node_start,
                "a !!binary value must be UTF-8 text written on the tag's line to be \
                 encrypted (sops encrypts the decoded bytes); write it as a plain string",
            ));
        }
        let leaf_index = self.items().len();
        let comment_item = self.comment_item(value, info);
        if comment_item.is_some()
            && let Some(f) = self.stack.last_mut()
        {
            f.comment_items += 1;
            f.first_comment_item.get_or_insert(leaf_index);
        }
        let leaf = Leaf {
            path: self.value_path(),
            span: info.span.clone(),
            value: typed,
            style: info.style.clone(),
            in_flow: self.in_flow(),
            depth: self.depth(),
            comment_item,
        };
        self.items().push(Item::Leaf(leaf));
        let mut end = info.occupied.end;
        let mut node_span = info.span.clone();
        if value.is_empty() && style == ScalarStyle::Plain && info.span.is_empty() {
            // An implicit null: the entry ends after its `:`.
            let rest = &self.src[end..];
            let trimmed = rest.trim_start_matches([' ', '\t']);
            if trimmed.starts_with(':') {
                end += rest.len() - trimmed.len() + 1;
                node_span = end..end;
            }
        }
        let header = info
            .comment_gap
            .as_ref()
            .map(|gap| info.occupied.start..gap.start);
        if header.is_some() {
            node_span = info.occupied.clone();
        }
        self.add_node(
            NodeKind::Scalar,
            false,
            info.node_start,
            node_span,
            header,
            Some(leaf_index),
        );
        self.value_done(end);
        Ok(())
    }

    /// A block sequence item of the current frame that holds a `type:comment` token (how
    /// SOPS stores a comment inside a sequence): it goes from its `-` through the token.
    fn comment_item(&self, value: &str, info: &ScalarInfo) -> Option<Box<CommentItem>> {
        let f = self.stack.last()?;
        if !matches!(f.kind, Kind::Seq)
            || f.flow
            || !(value.starts_with(crate::codec::token::PREFIX)
                && value.ends_with(",type:comment]"))
            || matches!(info.style, Style::Block(_))
        {
            return None;
        }
        let dash = dash_before(self.src, info.node_start)?;
        let between = &self.src[dash + 1..info.node_start];
        if !between
            .bytes()
            .all(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        {
            return None;
        }
        Some(Box::new(CommentItem {
            range: dash..info.span.end,
            lead: String::new(),
        }))
    }

    /// A block sequence `f` that has just ended held only comment items: once they are
    /// comments again, what remains is an empty sequence, `[]`, which the first one writes.
    /// After the parent's `key:` when only white space separates them (`key: [] # c`, as a
    /// sops comment item usually comes from), else in place of the first `-`, indented
    /// past the parent if the sequence was not (`key:` then `- c` at the key's column).
    fn empty_comment_sequence(&mut self, f: &Frame) {
        let Some(i) = f.first_comment_item else {
            return;
        };
        let src = self.src;
        let ws = |t: &str| t.bytes().all(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'));
        let Some(dash) = (match self.items().get(i) {
            Some(Item::Leaf(l)) => l.comment_item.as_ref().map(|c| c.range.start),
            _ => None,
        }) else {
            return;
        };
        let parent = self.stack.last();
        let after_colon = parent.and_then(|p| p.key_span.as_ref()).and_then(|key| {
            let colon = key.end + src[key.end..dash].find(':')?;
            (ws(&src[key.end..colon]) && ws(&src[colon + 1..dash])).then_some(colon + 1)
        });
        let (start, lead) = match after_colon {
            Some(at) => (at, " [] ".to_string()),
            None => {
                let ls = line_start(src, dash);
                let col = column_of(src, ls, dash);
                let parent_col = parent.map_or(0, |p| p.column);
                let pad = if ws(&src[ls..dash]) && col <= parent_col {
                    parent_col + 1 - col
                } else {
                    0
                };
                (dash, format!("{}[] ", " ".repeat(pad)))
            }
        };
        if let Some(Item::Leaf(leaf)) = self.items().get_mut(i)
            && let Some(item) = leaf.comment_item.as_mut()
        {
            item.range.start = start;
            item.lead = lead;
        }
    }

    /// A value (scalar, alias or collection) of the current frame has ended at `end`.
    fn value_done(&mut self, end: usize) {
        self.last_token_end = end;
        let depth = self.depth();
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        if let Kind::Map { key } = &mut frame.kind {
            *key = None;
        } else {
            frame.index += 1;
        }
        frame.last_end = Some(end);
        if self.stack.len() == 1
            && let Some(doc) = self.doc.as_mut()
        {
            doc.last_member_end = Some(end);
        }
        self.items().push(Item::EntryEnd(depth));
    }

    fn skip_event(&mut self, ev: &Event<'_>, start: usize, end: usize, info: Option<&ScalarInfo>) {
        let skip = self.skip.as_mut().expect("skipping");
        match ev {
            Event::MappingStart(..) | Event::SequenceStart(..) => skip.depth += 1,
            Event::MappingEnd | Event::SequenceEnd => {
                skip.depth -= 1;
                if end > start && matches!(self.src.as_bytes()[start], b'}' | b']') {
                    skip.end = skip.end.max(start + 1);
                }
            }
            Event::Scalar(..) => {
                if let Some(i) = info {
                    skip.end = skip.end.max(i.occupied.end);
                }
            }
            Event::Alias(_) => skip.end = skip.end.max(end),
            _ => {}
        }
        // Comments inside a skipped subtree are not items.
        let skip_end = skip.end;
        while self.next_comment < self.comments.len()
            && self.comments[self.next_comment].0 < skip_end.max(start)
        {
            self.next_comment += 1;
        }
        if self.skip.as_ref().is_some_and(|s| s.depth == 0) {
            let skip = self.skip.take().expect("skipping");
            match skip.sops {
                None => {
                    let text = CompactString::from(&self.src[skip.start..skip.end]);
                    self.set_key(text, skip.start..skip.end);
                }
                Some(s) => self.finish_sops(s, skip.end),
            }
        }
    }

    fn finish_sops(&mut self, s: SopsSkip, value_end: usize) {
        let src = self.src;
        let (flow, _, top_start) = self
            .doc
            .as_ref()
            .and_then(|d| d.top)
            .unwrap_or((false, 0, 0));
        let removal = if flow {
            let start = s.prev_member_end.unwrap_or(top_start + 1);
            let mut end = value_end;
            if s.prev_member_end.is_none() {
                let rest = &src[end..];
                let trimmed = rest.trim_start();
                if trimmed.starts_with(',') {
                    end += rest.len() - trimmed.len() + 1;
                }
            }
            start..end
        } else {
            let ls = line_start(src, s.key_start);
            let doc_start = self.doc.as_ref().map_or(0, |d| d.start);
            if ls > doc_start && ls > 0 {
                let eol_len = if src.as_bytes()[..ls].ends_with(b"\r\n") {
                    2
                } else {
                    1
                };
                ls - eol_len..value_end
            } else {
                ls..next_line(src, value_end)
            }
        };
        let text_start = if flow {
            s.key_start
        } else {
            line_start(src, s.key_start)
        };
        let value = yaml_value::load(&src[text_start..value_end])
            .ok()
            .and_then(|docs| docs.into_iter().next())
            .and_then(|v| v.get("sops").cloned())
            .unwrap_or(serde_json::Value::Null);
        let entry = SopsEntry {
            value,
            removal,
            restore: "",
        };
        if let Some(doc) = self.doc.as_mut() {
            doc.sops = Some(entry);
        }
        if let Some(Frame {
            kind: Kind::Map { key },
            ..
        }) = self.stack.last_mut()
        {
            *key = None;
        }
    }

    /// Flushes the comments before `before` that sit on the line where `at` is.
    fn flush_comments_on_line_of(&mut self, at: usize, before: usize) {
        let line_end = line_end(self.src, at.min(self.src.len()));
        self.flush_comments(before.min(line_end.max(at)));
    }

    /// Flushes consecutive comments before `before` whose column is greater than `col`.
    fn flush_comments_deeper_than(&mut self, col: usize, before: usize) {
        while let Some((hash, _)) = self.comments.get(self.next_comment) {
            let hash = *hash;
            if hash >= before || column_of(self.src, line_start(self.src, hash), hash) <= col {
                break;
            }
            self.flush_comments_into(hash + 1, self.stack.len().checked_sub(1));
        }
    }

    fn flush_comments(&mut self, before: usize) {
        self.flush_comments_into(before, None);
    }

    /// Records the comments between the scan position and `to` (bytes no scalar covers).
    fn scan_comments(&mut self, to: usize) {
        let src = self.src;
        let b = src.as_bytes();
        let mut i = self.scan_pos;
        while i < to {
            let Some(k) = memchr(b'#', &b[i..to]) else {
                break;
            };
            let h = i + k;
            let prev_ok = h == 0
                || matches!(b[h - 1], b' ' | b'\t' | b'\n' | b'\r')
                || (h == 3 && src.starts_with('\u{feff}'));
            if prev_ok {
                let e = line_end(src, h);
                self.comments.push((h, h + 1..e));
                i = e.max(h + 1);
            } else {
                i = h + 1;
            }
        }
        self.scan_pos = self.scan_pos.max(i).max(to);
    }

    /// Flushes comments before `before` into frame `force` (or the innermost frame whose
    /// column the comment does not precede).
    fn flush_comments_into(&mut self, before: usize, force: Option<usize>) {
        while self.next_comment < self.comments.len() && self.comments[self.next_comment].0 < before
        {
            let (hash, span) = self.comments[self.next_comment].clone();
            self.next_comment += 1;
            if self.doc.is_none() {
                continue;
            }
            let col = column_of(self.src, line_start(self.src, hash), hash);
            let idx = force.unwrap_or_else(|| {
                self.stack
                    .iter()
                    .rposition(|f| f.flow || col >= f.column)
                    .unwrap_or(0)
            });
            let path = self
                .stack
                .get(idx)
                .map(|f| f.path.clone())
                .unwrap_or_default();
            self.items().push(Item::Comment(Comment {
                path,
                span,
                depth: idx,
            }));
        }
    }

    fn finish_doc(&mut self, doc_end: usize) -> Result<(), SyntaxError> {
        let Some(mut doc) = self.doc.take() else {
            return Ok(());
        };
        // A first document without `---` that holds only the metadata, after comments at
        // most (SOPS's spelling of an empty first document): decrypting keeps a `---` so
        // that it stays a document.
        if let (Some(sops), Some((false, ..)), None, true, false) = (
            doc.sops.as_mut(),
            doc.top,
            doc.last_member_end,
            self.docs.is_empty(),
            doc.explicit,
        ) && self.src[doc.start.max(self.bom)..sops.removal.start]
            .lines()
            .all(|l| matches!(l.trim_start().bytes().next(), None | Some(b'#')))
        {
            let eol = if self.src[..sops.removal.end].ends_with("\r\n") {
                "---\r\n"
            } else {
                "---\n"
            };
            sops.restore = match self.src.as_bytes().get(sops.removal.start) {
                Some(b'\r') => "\r\n---",
                Some(b'\n') => "\n---",
                _ => eol,
            };
        }
        let Some((flow, column, top_start)) = doc.top else {
            return Err(SyntaxError::new(
                doc.start.max(self.bom),
                "the top level of the document must be a mapping",
            ));
        };
        let insertion = if flow {
            match doc.last_member_end.filter(|_| doc.items.top_entry_ended()) {
                Some(at) => Insertion::Flow { at, empty: false },
                None => Insertion::Flow {
                    at: top_start + 1,
                    empty: true,
                },
            }
        } else {
            // A BOM that starts a line after the last member prefixes a next document (a
            // document cannot hold one): the metadata goes before it.
            let from = doc.last_member_end.unwrap_or(doc.start).min(doc_end);
            let doc_end = self.src[from..doc_end]
                .match_indices('\u{feff}')
                .map(|(i, _)| from + i)
                .find(|&i| line_start(self.src, i) == i)
                .unwrap_or(doc_end);
            let content = &self.src[..doc_end];
            let at = if content.ends_with("\r\n") {
                doc_end - 2
            } else if content.ends_with(['\n', '\r']) {
                doc_end - 1
            } else {
                doc_end
            };
            Insertion::Block {
                at: at.max(doc.start),
            }
        };
        let _ = self.eol;
        self.docs.push(Document {
            items: doc.items.into_vec(),
            nodes: doc.nodes,
            sops: doc.sops,
            insertion,
            indent_unit: "    ".into(),
            member_indent: " ".repeat(column),
        });
        Ok(())
    }
}

/// End offset of a document whose DocumentEnd event spans `start..end`: a `...` marker's
/// start, the start of the next explicit `---` line, or the end of the file.
fn document_end(
    src: &str,
    start: usize,
    end: usize,
    next: Option<&(Event<'_>, Span)>,
    offs: &Offsets,
) -> usize {
    if end > start && src[start..end].starts_with("...") {
        return line_start(src, start);
    }
    match next {
        Some((Event::DocumentStart(true), sp)) => line_start(src, offs.byte(sp.start.index())),
        _ => src.len(),
    }
}

#[cfg(test)]
mod tests;

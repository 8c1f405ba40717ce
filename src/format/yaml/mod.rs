//! YAML: saphyr-parser's event stream, with exact byte spans recomputed from the source
//! (the parser's spans are character indexes, include anchors and tags, start block
//! scalars at their content and can run past a closing quote), plus a comment scanner
//! over the bytes that no scalar covers (the parser drops comments).
//!
//! Three passes over one parse: (1) exact extents of every scalar, (2) comments in the
//! gaps, (3) the structural walk that builds paths, leaves and entry ends, with each
//! comment attached to the innermost open collection whose column it does not precede.

mod comments;
mod emit;
mod from_outline;
mod nodes;
mod resolve;
mod scalars;
mod spans;
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
    detect_eol, tree, yaml_value,
};

use spans::*;

pub use emit::{double_quoted, needs_escape, plain_safe, push_double_quoted};

/// The YAML syntax.
pub struct Yaml;

/// Deepest nesting accepted (no stack or memory blow-up on hostile input).
const MAX_DEPTH: usize = 1000;

impl Format for Yaml {
    fn parse_detail<'s>(&self, src: &'s str, detail: Detail) -> Result<Outline<'s>, SyntaxError> {
        parse(src, detail)
    }

    fn load_tree(&self, src: &str) -> Result<tree::Node, tree::DataError> {
        value::tree(src)
    }

    fn tree_from_outline(
        &self,
        src: &str,
        outline: &Outline,
        opened: &[tree::Opened],
        plain: &str,
    ) -> Option<tree::Node> {
        from_outline::build(src, outline, opened, plain)
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
        tree: matches!(detail, Detail::Tree | Detail::BoundedTree),
        path_budget: (detail == Detail::BoundedTree)
            .then(|| src.len().saturating_mul(4).saturating_add(1 << 20)),
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
    if w.path_budget == Some(0) {
        // Over its budget, a bounded tree has no nodes at all.
        for doc in &mut w.docs {
            doc.nodes = Vec::new();
        }
    }
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
    /// Whether nodes are recorded.
    tree: bool,
    /// [`Detail::BoundedTree`]: the bytes of node paths still allowed (0 once spent: no
    /// more nodes are recorded, and none is kept).
    path_budget: Option<usize>,
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
                    if !self.tree {
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

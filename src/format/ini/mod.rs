//! INI (`[section]` and `key = value` lines) as an [`Outline`], read as SOPS reads it
//! (getsops/sops `stores/ini`, through go-ini's `ini.Load` with its default options):
//!
//! - a line whose first non-blank character is `;` or `#` is a comment; `[name]` starts a
//!   section (the name trimmed); any other line is `key = value` or `key: value` (the key
//!   and the value trimmed). Keys before the first section belong to `DEFAULT`, which
//!   sops writes without a header;
//! - a value starting with `"""` or a backtick runs to the last matching quote, across
//!   lines; otherwise a `;` or `#` in it starts an inline comment, and one pair of `"` or
//!   `'` around it is removed;
//! - every value is a string; its key path is `[section, key]`.
//!
//! Refused, as they would make sealed and sops read different trees: the same section or
//! key twice (go-ini merges them), a line continued by a final `\`, a quoted key. The
//! metadata is SOPS's flattened `[sops]` section, the last of the file. Error messages
//! never quote source text.

use super::*;
use crate::format::lines::{Line, line_at};

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::format::flat;

/// The section sops keeps its metadata in.
const SOPS_SECTION: &str = "sops";
/// go-ini's name of the section of the keys before the first header.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// The INI syntax.
pub struct Ini;

impl Format for Ini {
    fn parse_detail<'s>(&self, src: &'s str, detail: Detail) -> Result<Outline<'s>, SyntaxError> {
        parse(src, detail)
    }

    fn load_tree(&self, src: &str) -> Result<tree::Node, tree::DataError> {
        load(src)
    }

    fn token_affixes<'l>(&self, _leaf: &'l Leaf<'_>) -> (&'l str, &'static str, Style) {
        ("", "", Style::Ini)
    }

    fn render(&self, _style: &Style, _in_flow: bool, value: &Scalar) -> String {
        match value {
            Scalar::Str(s) | Scalar::Time(s) => spell(s),
            Scalar::Null => String::new(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => format!("{f}"),
            Scalar::Bool(b) => b.to_string(),
        }
    }

    fn metadata_text(&self, meta: &Value, outline: &Outline, _doc: &Document) -> String {
        let eol = outline.eol;
        let flat = flat::flatten(meta);
        let width = flat
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!("{eol}[{SOPS_SECTION}]");
        for (k, v) in &flat {
            let pad = width - k.chars().count();
            out.push_str(eol);
            out.push_str(k);
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(" = ");
            out.push_str(&spell(&v.replace('\n', "\\n")));
        }
        out
    }
}

/// How go-ini writes a value: in `"""` when it holds a line break or a backtick, in
/// backticks when it holds `#` or `;`, in `"` when it has blanks around it, else bare.
pub fn spell(v: &str) -> String {
    if v.contains(['\n', '`']) {
        format!("\"\"\"{v}\"\"\"")
    } else if v.contains(['#', ';']) {
        format!("`{v}`")
    } else if v.trim() != v {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

/// A value as read: its bytes (quotes included), its content, and an inline comment.
struct Read<'s> {
    span: Range<usize>,
    content: Cow<'s, str>,
    comment: Option<Range<usize>>,
    /// Start of the line after the value (a quoted value may span lines).
    next: usize,
}

/// The span of a comment's text starting at `at` (the `;` or `#`) and ending at `end`:
/// without the comment characters and blanks sops strips.
fn comment_span(src: &str, at: usize, end: usize) -> Option<Range<usize>> {
    let set: &[char] = if src.as_bytes()[at] == b';' {
        &[';', ' ']
    } else {
        &['#', ' ']
    };
    let text = &src[at..end];
    let start = end - text.trim_start_matches(set).len();
    (start < end).then_some(start..end)
}

/// The name of the section header that ends the run of comment and blank lines starting
/// at `from`, if one does: go-ini gives such comments to that section, so sops encrypts
/// them with its name.
fn header_after_comments(src: &str, mut from: usize) -> Option<&str> {
    while from < src.len() {
        let line = line_at(src, from);
        let body = src[line.start..line.end].trim();
        if body.starts_with('[') {
            return body.rfind(']').map(|close| body[1..close].trim());
        }
        if !body.is_empty() && !body.starts_with([';', '#']) {
            return None;
        }
        from = line.next;
    }
    None
}

/// Reads the value after a key's delimiter at `from` on `line` (go-ini's `readValue`).
fn read_value<'s>(src: &'s str, from: usize, line: Line) -> Result<Read<'s>, SyntaxError> {
    let text = &src[from..line.end];
    let lead = text.len() - text.trim_start().len();
    let vstart = from + lead;
    let rest = &src[vstart..line.end];
    // go-ini counts the line break too: `"""` alone opens a value when a line follows.
    let quote = if rest.starts_with("\"\"\"") && (rest.len() > 3 || line.next > line.end) {
        Some("\"\"\"")
    } else if rest.starts_with('`') {
        Some("`")
    } else {
        None
    };
    if let Some(q) = quote {
        let open = vstart + q.len();
        let mut l = line;
        let mut search_from = open;
        loop {
            if let Some(i) = src[search_from..l.end].rfind(q) {
                let close = search_from + i;
                let after = src[close + q.len()..l.end].trim();
                if !after.is_empty() {
                    return Err(SyntaxError::new(
                        close + q.len(),
                        "text after a closing quote (sealed keeps such values as they are only without it)",
                    ));
                }
                return Ok(Read {
                    span: vstart..close + q.len(),
                    content: Cow::Borrowed(&src[open..close]),
                    comment: None,
                    next: l.next,
                });
            }
            if l.next >= src.len() || l.next == l.end {
                return Err(SyntaxError::new(
                    vstart,
                    "quoted value without its closing quote",
                ));
            }
            l = line_at(src, l.next);
            search_from = l.start;
        }
    }
    let trimmed = rest.trim_end();
    let vend = vstart + trimmed.len();
    if trimmed.ends_with('\\') {
        return Err(SyntaxError::new(
            vend - 1,
            "a value continued on the next line by a final backslash is not supported",
        ));
    }
    let (value_end, comment) = match trimmed.find(['#', ';']) {
        Some(i) => (
            vstart + trimmed[..i].trim_end().len(),
            comment_span(src, vstart + i, vend),
        ),
        None => (vend, None),
    };
    let raw = &src[vstart..value_end];
    let content = match raw.as_bytes() {
        [q @ (b'"' | b'\''), .., l] if raw.len() >= 2 && q == l => &raw[1..raw.len() - 1],
        _ => raw,
    };
    Ok(Read {
        span: vstart..value_end,
        content: Cow::Borrowed(content),
        comment,
        next: line.next,
    })
}

/// A `key = value` line of the `[sops]` section.
struct MetaEntry<'s> {
    key: &'s str,
    value: Cow<'s, str>,
    at: usize,
}

/// Parses an INI file (see the module documentation for the rules).
fn parse(src: &str, detail: Detail) -> Result<Outline<'_>, SyntaxError> {
    let tree = detail == Detail::Tree;
    let bom = bom_len(src);
    let mut items = ItemList::room_for_lines(detail, src);
    let mut nodes = vec![Node {
        steps: Vec::new(),
        kind: NodeKind::Map,
        span: bom..src.len(),
        entry_start: bom,
        key: None,
        flow: false,
        header: None,
        leaf: None,
    }];
    let mut section = KeyPath::root().child(DEFAULT_SECTION);
    let mut section_name = DEFAULT_SECTION.to_string();
    let mut sections_seen: HashSet<&str> = HashSet::new();
    let mut keys_seen: HashSet<&str> = HashSet::new();
    let mut default_used = false;
    let mut in_sops: Option<usize> = None;
    let mut meta: Vec<MetaEntry> = Vec::new();
    // The path of the comments of the current run of comment lines.
    let mut run_path: Option<KeyPath> = None;
    let mut pos = bom;
    while pos < src.len() {
        let line = line_at(src, pos);
        pos = line.next;
        let text = &src[line.start..line.end];
        let body = text.trim_start();
        let indent = line.start + (text.len() - body.len());
        if body.is_empty() {
            continue;
        }
        if !body.starts_with([';', '#']) {
            run_path = None;
        }
        if body.starts_with([';', '#']) {
            if in_sops.is_none()
                && let Some(span) = comment_span(src, indent, indent + body.trim_end().len())
            {
                let path = run_path
                    .get_or_insert_with(|| match header_after_comments(src, line.next) {
                        Some(name) if name != SOPS_SECTION => KeyPath::root().child(name),
                        _ => section.clone(),
                    })
                    .clone();
                items.push(Item::Comment(Comment {
                    path,
                    span,
                    depth: 1,
                }));
            }
            continue;
        }
        if body.starts_with('[') {
            let Some(close) = body.rfind(']') else {
                return Err(SyntaxError::new(
                    indent,
                    "section header without its closing ]",
                ));
            };
            let name = body[1..close].trim();
            if in_sops.is_some() {
                return Err(SyntaxError::new(
                    indent,
                    "the [sops] section must be the last one",
                ));
            }
            if sections_seen.contains(name)
                || (name == DEFAULT_SECTION && (default_used || !sections_seen.is_empty()))
            {
                return Err(SyntaxError::new(
                    indent,
                    "the same section twice (sops merges them, which would reorder the values)",
                ));
            }
            sections_seen.insert(name);
            keys_seen.clear();
            if name == SOPS_SECTION {
                // Metadata, not an entry: the items stay those of the file without it.
                in_sops = Some(line.start);
                continue;
            }
            if sections_seen.len() > 1 || default_used {
                items.push(Item::EntryEnd(0));
            }
            default_used |= name == DEFAULT_SECTION;
            section = KeyPath::root().child(name);
            section_name = name.to_string();
            if tree {
                nodes.push(Node {
                    steps: vec![Step::Key(name.to_string())],
                    kind: NodeKind::Map,
                    span: line.start..line.end,
                    entry_start: line.start,
                    key: Some(indent + 1..indent + close),
                    flow: false,
                    header: None,
                    leaf: None,
                });
            }
            continue;
        }
        if body.starts_with(['"', '`']) {
            return Err(SyntaxError::new(indent, "quoted keys are not supported"));
        }
        let Some(delim) = body.find(['=', ':']) else {
            return Err(SyntaxError::new(indent, "expected key = value"));
        };
        let key = body[..delim].trim_end();
        let value = read_value(src, indent + delim + 1, line)?;
        pos = value.next;
        if in_sops.is_some() {
            meta.push(MetaEntry {
                key,
                value: value.content,
                at: indent,
            });
            continue;
        }
        if sections_seen.is_empty() {
            default_used = true;
        }
        if !keys_seen.insert(key) {
            return Err(SyntaxError::new(indent, "the same key twice in a section"));
        }
        if tree {
            nodes.push(Node {
                steps: vec![Step::Key(section_name.clone()), Step::Key(key.to_string())],
                kind: NodeKind::Scalar,
                span: value.span.clone(),
                entry_start: indent,
                key: Some(indent..indent + key.len()),
                flow: false,
                header: None,
                leaf: Some(items.len()),
            });
        }
        items.push(Item::Leaf(Leaf {
            path: section.child(key),
            span: value.span,
            value: Scalar::Str(value.content),
            style: Style::Ini,
            in_flow: false,
            depth: 1,
            comment_item: None,
        }));
        if let Some(span) = value.comment {
            items.push(Item::Comment(Comment {
                path: section.clone(),
                span,
                depth: 1,
            }));
        }
        items.push(Item::EntryEnd(1));
    }
    if !tree {
        nodes.clear();
    }
    let sops = match in_sops {
        Some(start) => Some(SopsEntry {
            value: unflatten(&meta, start)?,
            removal: removal(src, start, last_meta_end(src)),
            restore: "",
        }),
        None => None,
    };
    let at = if src.ends_with("\r\n") {
        src.len() - 2
    } else if src.ends_with('\n') {
        src.len() - 1
    } else {
        src.len()
    };
    Ok(Outline {
        docs: vec![Document {
            items: items.into_vec(),
            nodes,
            sops,
            insertion: Insertion::Block { at: at.max(bom) },
            indent_unit: String::new(),
            member_indent: String::new(),
        }],
        eol: detect_eol(src),
        aliases: 0,
        loose: None,
    })
}

/// The end of the `[sops]` section: the end of the file before its final line break. Line
/// breaks before that one are part of the section (sops before 3.8 wrote a blank line
/// after every section, the last one too).
fn last_meta_end(src: &str) -> usize {
    if src.ends_with("\r\n") {
        src.len() - 2
    } else if src.ends_with('\n') {
        src.len() - 1
    } else {
        src.len()
    }
}

/// The bytes metadata insertion added: up to two line breaks before the `[sops]` header
/// (the blank line sops and sealed write between sections), through the end of the
/// section's content.
fn removal(src: &str, header: usize, end: usize) -> Range<usize> {
    let b = src.as_bytes();
    let mut start = header;
    for _ in 0..2 {
        if start > 0 && b[start - 1] == b'\n' {
            start -= 1;
            if start > 0 && b[start - 1] == b'\r' {
                start -= 1;
            }
        }
    }
    start..end
}

/// The metadata tree from the `[sops]` section's entries.
fn unflatten(meta: &[MetaEntry], header: usize) -> Result<Value, SyntaxError> {
    let mut root = Value::Object(Map::new());
    for m in meta {
        flat::insert_flat(&mut root, m.key, &m.value).map_err(|e| {
            SyntaxError::new(
                m.at,
                match e {
                    flat::FlatError::BadKey => "invalid key in the [sops] section",
                    flat::FlatError::Conflict => "conflicting keys in the [sops] section",
                    flat::FlatError::BadThreshold => "shamir_threshold is not an integer",
                },
            )
        })?;
    }
    if meta.is_empty() {
        return Err(SyntaxError::new(header, "the [sops] section is empty"));
    }
    Ok(root)
}

/// The data reader: sections as mappings of strings, in go-ini's order (`DEFAULT` first,
/// even empty, as sops gives it).
pub fn load(src: &str) -> Result<tree::Node, tree::DataError> {
    let outline = parse(src, Detail::Tree).map_err(|e| tree::DataError::Syntax {
        offset: e.offset,
        msg: e.msg,
    })?;
    let mut sections = vec![(DEFAULT_SECTION.to_string(), tree::Node::Map(Vec::new()))];
    for doc in &outline.docs {
        for node in &doc.nodes {
            let name = match node.steps.first() {
                Some(Step::Key(name)) => name,
                _ => continue,
            };
            // A section's nodes follow its header (the reader refuses a section twice), so
            // a key belongs to the last section pushed, or to DEFAULT (first or no header).
            if node.kind == NodeKind::Map && name != DEFAULT_SECTION {
                sections.push((name.clone(), tree::Node::Map(Vec::new())));
            }
            let at = sections.len() - 1;
            let (Some(Step::Key(key)), Some(Item::Leaf(leaf))) =
                (node.steps.get(1), node.leaf.and_then(|i| doc.items.get(i)))
            else {
                continue;
            };
            let text = match &leaf.value {
                Scalar::Str(s) => s.to_string(),
                _ => String::new(),
            };
            if let tree::Node::Map(entries) = &mut sections[at].1 {
                entries.push((key.clone(), tree::Node::Scalar(tree::Scalar::string(text))));
            }
        }
    }
    Ok(tree::Node::Map(sections))
}

#[cfg(test)]
mod tests;

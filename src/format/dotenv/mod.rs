//! dotenv (`KEY=value` lines) as an [`Outline`].
//!
//! SOPS compatibility comes first. SOPS splits the file on `\n`, drops empty lines, treats a
//! line starting with `#` as a comment, takes the text before the first `=` as the key (not
//! trimmed) and the rest as the value (no quote handling), and turns a literal two-character
//! `\n` in the value into a line feed. Sealed reads the same keys and values, and on top:
//!
//! - a CR before the LF (or ending the file) is not part of the value, so CRLF files keep
//!   working;
//! - blank and whitespace-only lines are kept, and a comment may be indented;
//! - a value starting with a quote (`"`, `'` or a backtick) whose closing quote (not escaped
//!   by a backslash) is on a later line is one multi-line value, up to the end of the line
//!   holding the closing quote, as dotenv libraries read it;
//! - inline `# …` after an unquoted value stays part of the value (SOPS has no inline
//!   comments).
//!
//! The metadata is SOPS's flattened `sops_…` lines; they are not items but the document's
//! [`SopsEntry`]. Error messages never quote source text.

use super::*;
use crate::format::lines::{Line, line_at};

pub mod data;

use serde_json::{Map, Value};

use crate::format::flat;

/// Prefix of the metadata lines.
const SOPS_PREFIX: &str = "sops_";
/// The dotenv syntax.
pub struct Dotenv;

impl Format for Dotenv {
    fn parse_detail<'s>(&self, src: &'s str, detail: Detail) -> Result<Outline<'s>, SyntaxError> {
        parse(src, detail)
    }

    fn load_tree(&self, src: &str) -> Result<tree::Node, tree::DataError> {
        data::load(src)
    }

    fn token_affixes<'l>(&self, _leaf: &'l Leaf<'_>) -> (&'l str, &'static str, Style) {
        ("", "", Style::DotenvRaw)
    }

    fn spelled_canonically(&self, _: &Style, _: bool, value: &Scalar, original: &str) -> bool {
        match value {
            Scalar::Str(s) if !s.contains('\n') => s == original,
            _ => renders_as(self, &Style::DotenvRaw, false, value, original),
        }
    }

    fn render_str_into(&self, _: &Style, _: bool, s: &str, out: &mut Zeroizing<String>) {
        let mut rest = s;
        while let Some(i) = rest.find('\n') {
            crate::codec::wipe::push_str(out, &rest[..i]);
            crate::codec::wipe::push_str(out, "\\n");
            rest = &rest[i + 1..];
        }
        crate::codec::wipe::push_str(out, rest);
    }

    fn render(&self, _style: &Style, _in_flow: bool, value: &Scalar) -> String {
        match value {
            Scalar::Str(s) | Scalar::Time(s) => s.replace('\n', "\\n"),
            Scalar::Null => String::new(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => format!("{f}"),
            Scalar::Bool(b) => b.to_string(),
        }
    }

    fn metadata_text(&self, meta: &Value, outline: &Outline, _doc: &Document) -> String {
        flat::flatten(meta)
            .iter()
            .map(|(k, v)| format!("{SOPS_PREFIX}{k}={}", v.replace('\n', "\\n")))
            .collect::<Vec<_>>()
            .join(outline.eol)
    }
}

/// Position of the first `quote` at or after `from` that is not escaped by a backslash.
fn closing_quote(b: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut p = from;
    while p < b.len() {
        match b[p] {
            b'\\' => p += 2,
            c if c == quote => return Some(p),
            _ => p += 1,
        }
    }
    None
}

/// A `sops_…` line seen so far.
struct MetaLine {
    /// Its line.
    line: Line,
    /// The flattened key (after `sops_`).
    key: (usize, usize),
    /// The value text.
    value: (usize, usize),
}

/// Parses a dotenv file (see the module documentation for the rules).
fn parse(src: &str, detail: Detail) -> Result<Outline<'_>, SyntaxError> {
    let b = src.as_bytes();
    let tree = detail == Detail::Tree;
    let mut items = ItemList::room_for_lines(detail, src);
    let mut nodes = vec![Node {
        steps: Vec::new(),
        kind: NodeKind::Map,
        span: bom_len(src)..bom_len(src),
        entry_start: bom_len(src),
        key: None,
        flow: false,
        header: None,
        leaf: None,
    }];
    let mut meta_lines: Vec<MetaLine> = Vec::new();
    // Index in `items` when the first metadata line was seen (to check the block).
    let mut items_at_meta: Option<usize> = None;
    // For each quote character, a position from which no unescaped closing quote exists
    // (a scan from there reached the end): later scans from further on fail the same way.
    let mut no_close_from: [Option<usize>; 3] = [None; 3];
    let mut pos = bom_len(src);
    // sops keeps a BOM as the first bytes of the first line: only a KEY=value line reads
    // the same (the BOM then starts its key); a blank or comment line would be a line
    // without `=`, which sops refuses.
    if pos > 0 && !src[..line_at(src, 0).end].contains('=') {
        return Err(SyntaxError::new(
            0,
            "a byte order mark must start a KEY=value line (sops reads it as part of the first line)",
        ));
    }
    while pos < src.len() {
        let line = line_at(src, pos);
        pos = line.next;
        let text = &src[line.start..line.end];
        let trimmed = text.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed == "\r" {
            continue;
        }
        if trimmed.starts_with('#') {
            let hash = line.end - trimmed.len();
            items.push(Item::Comment(Comment {
                path: KeyPath::root(),
                span: hash + 1..line.end,
                depth: 0,
            }));
            continue;
        }
        let Some(eq) = text.find('=') else {
            return Err(SyntaxError::new(line.start, "expected KEY=value"));
        };
        // An empty key (`=x`) is a key for sops, which encrypts and decrypts it; so is it here
        // (`exec` and the variable-name outputs refuse names that are not variables).
        let key = &text[..eq];
        let vstart = line.start + eq + 1;
        if let Some(flat) = key.strip_prefix(SOPS_PREFIX) {
            if items_at_meta.is_none() {
                items_at_meta = Some(items.len());
            } else if items_at_meta != Some(items.len()) {
                return Err(SyntaxError::new(
                    line.start,
                    "sops_ metadata lines must form one block",
                ));
            }
            let kstart = line.start + SOPS_PREFIX.len();
            meta_lines.push(MetaLine {
                key: (kstart, kstart + flat.len()),
                value: (vstart, line.end),
                line,
            });
            continue;
        }
        let mut vend = line.end;
        let quote = b
            .get(vstart)
            .copied()
            .filter(|c| matches!(c, b'"' | b'\'' | b'`'));
        if let Some(q) = quote {
            let slot = match q {
                b'"' => 0,
                b'\'' => 1,
                _ => 2,
            };
            let from = vstart + 1;
            let known_open = no_close_from[slot].is_some_and(|s| s <= from);
            if !known_open {
                match closing_quote(b, from, q) {
                    Some(close) if close >= line.end => {
                        // Closed on a later line: the value runs to the end of that line.
                        let mut l = line_at(src, pos);
                        while l.next <= close {
                            l = line_at(src, l.next);
                        }
                        vend = l.end;
                        pos = l.next;
                    }
                    Some(_) => {}
                    None => no_close_from[slot] = Some(from),
                }
            }
        }
        let raw = &src[vstart..vend];
        let value = if raw.contains('\\') {
            Cow::Owned(raw.replace("\\n", "\n"))
        } else {
            Cow::Borrowed(raw)
        };
        if tree {
            nodes.push(Node {
                steps: vec![Step::Key(key.to_string())],
                kind: NodeKind::Scalar,
                span: vstart..vend,
                entry_start: line.start,
                key: Some(line.start..line.start + eq),
                flow: false,
                header: None,
                leaf: Some(items.len()),
            });
        }
        // SOPS reads the file without removing a BOM, so the first key carries it in its
        // additional data; keep it there to read and write files sops can share.
        let path = if line.start == bom_len(src) && line.start > 0 {
            KeyPath::root().child(&format!("\u{feff}{key}"))
        } else {
            KeyPath::root().child(key)
        };
        items.push(Item::Leaf(Leaf {
            path,
            span: vstart..vend,
            value: Scalar::Str(value),
            style: Style::DotenvRaw,
            in_flow: false,
            depth: 0,
            comment_item: None,
        }));
        items.push(Item::EntryEnd(0));
    }
    if !tree {
        nodes.clear();
    } else if let Some(last) = nodes.last().map(|n| n.span.end) {
        let first = nodes.get(1).map_or(last, |n| n.entry_start);
        nodes[0].span = first..last;
    }
    let sops = match (meta_lines.first(), meta_lines.last()) {
        (Some(first), Some(last)) => Some(SopsEntry {
            value: unflatten(src, &meta_lines)?,
            removal: block_removal(src, first.line.start, &last.line),
            restore: "",
        }),
        _ => None,
    };
    let at = if src.ends_with("\r\n") {
        src.len() - 2
    } else if src.ends_with(['\n', '\r']) {
        src.len() - 1
    } else {
        src.len()
    };
    // The line break inserted with the metadata after a CR that is part of the line (a
    // value or a blank line ending in `\r`) must be a CRLF: an LF would make that CR the
    // line's break, and the removal takes the CRLF whole.
    let eol = if src[..at].ends_with('\r') {
        "\r\n"
    } else {
        detect_eol(src)
    };
    Ok(Outline {
        docs: vec![Document {
            items: items.into_vec(),
            nodes,
            sops,
            insertion: Insertion::Block { at },
            indent_unit: String::new(),
            member_indent: String::new(),
        }],
        eol,
        aliases: 0,
        loose: None,
    })
}

/// The removal range of the metadata block from the line starting at `first_start` to
/// `last`: the line break before the block and the block's lines, without the block's final
/// line break; when nothing precedes the block, from its start through that line break.
fn block_removal(src: &str, first_start: usize, last: &Line) -> Range<usize> {
    let b = src.as_bytes();
    if first_start == 0 || b[first_start - 1] != b'\n' {
        return first_start..last.next;
    }
    let nl = first_start - 1;
    let start = if nl > 0 && b[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    start..last.end
}

/// The metadata tree from its flattened lines (SOPS's `DecodeNewLines`,
/// `DecodeNonStrings` and `Unflatten`).
fn unflatten(src: &str, lines: &[MetaLine]) -> Result<Value, SyntaxError> {
    let mut root = Value::Object(Map::new());
    for m in lines {
        let key = &src[m.key.0..m.key.1];
        let raw = &src[m.value.0..m.value.1];
        flat::insert_flat(&mut root, key, raw).map_err(|e| match e {
            flat::FlatError::BadThreshold => {
                SyntaxError::new(m.value.0, "sops_shamir_threshold is not an integer")
            }
            flat::FlatError::BadKey => SyntaxError::new(m.line.start, "invalid sops_ metadata key"),
            flat::FlatError::Conflict => {
                SyntaxError::new(m.line.start, "conflicting sops_ metadata keys")
            }
        })?;
    }
    Ok(root)
}

#[cfg(test)]
mod tests;

//! Inserting and removing YAML list items, comma-separated items of a string and mapping
//! entries, located by the leaves of a YAML [`Outline`](crate::format::Outline): the
//! edits `team` makes to `.sops.yaml`. Each function returns [`Splice`]s into the original
//! text, written in the layout around them (the list's item prefix, the mapping's
//! indentation, the string's separator and quoting, flow or block); what it cannot place
//! safely is refused with a short reason. The caller applies them with
//! [`super::splice::apply`] and verifies the result by reading it back.

use crate::format::lines::{line_end, line_start, next_line};
use crate::format::{Item, Leaf, Scalar, Style};

use super::splice::Splice;

/// Why an entry could not be placed or removed: a short reason (no value in it).
pub type Refusal = &'static str;

/// The entries of a collection at `depth`: the items up to each `EntryEnd(depth)`.
pub fn split<'a>(items: &'a [Item<'a>], depth: usize) -> Vec<&'a [Item<'a>]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, item) in items.iter().enumerate() {
        if matches!(item, Item::EntryEnd(d) if *d == depth) {
            out.push(&items[start..=i]);
            start = i + 1;
        }
    }
    out
}

/// The leaves among `items`.
pub fn leaves<'a>(items: &'a [Item<'a>]) -> impl Iterator<Item = &'a Leaf<'a>> {
    items.iter().filter_map(|i| match i {
        Item::Leaf(l) => Some(l),
        _ => None,
    })
}

/// The key (at path position `level`) of the entry these items belong to.
pub fn entry_key<'a>(items: &'a [Item<'a>], level: usize) -> Option<&'a str> {
    leaves(items)
        .find(|l| l.path.len() > level)
        .map(|l| &l.path[level])
}

/// `  - ` : indentation, a dash, spaces.
pub fn is_item_prefix(prefix: &str) -> bool {
    let t = prefix.trim_start_matches(' ');
    t.strip_prefix('-')
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c == ' ' || c == '\t'))
}

/// Whether `leaf` is an item of a block sequence, alone after its `-`.
pub fn is_block_item(src: &str, leaf: &Leaf) -> bool {
    !leaf.in_flow && is_item_prefix(&src[line_start(src, leaf.span.start)..leaf.span.start])
}

/// Whether `leaf` is an item of a flow sequence.
pub fn is_flow_item(src: &str, leaf: &Leaf) -> bool {
    leaf.in_flow
        && matches!(
            src[..leaf.span.start].trim_end().chars().next_back(),
            Some('[' | ',')
        )
}

/// A new line after the line holding `at`, in the file's line break.
pub fn insert_line_after(src: &str, at: usize, line: &str) -> Splice {
    let eol = crate::format::detect_eol(src);
    let pos = next_line(src, at);
    if pos == src.len() && !src.ends_with('\n') {
        Splice::insert(pos, format!("{eol}{line}"))
    } else {
        Splice::insert(pos, format!("{line}{eol}"))
    }
}

/// Appends `item` after `last`, the last item of a sequence: `, item` in flow style, else
/// a new line with `last`'s prefix (and ` # comment` when given).
pub fn append_item(
    src: &str,
    last: &Leaf,
    item: &str,
    comment: Option<&str>,
) -> Result<Splice, Refusal> {
    if last.in_flow {
        return Ok(Splice::insert(last.span.end, format!(", {item}")));
    }
    let prefix = &src[line_start(src, last.span.start)..last.span.start];
    if !is_item_prefix(prefix) {
        return Err("unusual list layout");
    }
    let line = match comment {
        Some(c) => format!("{prefix}{item} # {c}"),
        None => format!("{prefix}{item}"),
    };
    Ok(insert_line_after(src, last.span.end, &line))
}

/// Appends `entry` (`key: value`) after `last`, the last value of a mapping: `, entry` in
/// flow style, else a new line at `last`'s line's indentation.
pub fn append_member(src: &str, last: &Leaf, entry: &str) -> Splice {
    if last.in_flow {
        return Splice::insert(last.span.end, format!(", {entry}"));
    }
    let ls = line_start(src, last.span.start);
    let indent: String = src[ls..].chars().take_while(|c| *c == ' ').collect();
    insert_line_after(src, last.span.end, &format!("{indent}{entry}"))
}

/// Fills the empty value of the block mapping entry whose key holds `null` with the first
/// entry `entry`, one line below, indented by two.
pub fn fill_null_mapping(src: &str, null: &Leaf, entry: &str, eol: &str) -> Splice {
    let at = line_end(src, null.span.start);
    Splice::insert(at, format!("{eol}  {entry}"))
}

/// Appends `item` to the comma-separated string `leaf` (plain, quoted or a block scalar),
/// with the separator it already uses (`,` or `, `).
pub fn append_to_commas(src: &str, leaf: &Leaf, item: &str) -> Result<Splice, Refusal> {
    let current = match &leaf.value {
        Scalar::Str(s) => s.as_ref(),
        Scalar::Null => "",
        _ => return Err("is not a string"),
    };
    let sep = if current.contains(", ") { ", " } else { "," };
    let (start, end) = content(src, leaf);
    if current.trim().is_empty() {
        return match leaf.style {
            Style::Plain if leaf.span.is_empty() => {
                Ok(Splice::insert(after_colon(src, start), format!(" {item}")))
            }
            Style::Plain | Style::SingleQuoted | Style::DoubleQuoted => {
                Ok(Splice::insert(start, item))
            }
            _ => Err("is an empty block scalar"),
        };
    }
    match &leaf.style {
        Style::Block(b) => {
            let (eol, indent) = (b.eol, &b.indent);
            Ok(Splice::insert(end, format!(",{eol}{indent}{item}")))
        }
        Style::Plain | Style::SingleQuoted | Style::DoubleQuoted => {
            Ok(Splice::insert(end, format!("{sep}{item}")))
        }
        _ => Err("has an unusual style"),
    }
}

/// The splices that take `item` out of one leaf: the whole entry when the leaf is a list
/// item holding only `item`, else `item` and one comma from the comma-separated string.
/// None when the leaf does not hold it.
pub fn remove_from_commas(src: &str, leaf: &Leaf, item: &str) -> Result<Vec<Splice>, Refusal> {
    let Scalar::Str(value) = &leaf.value else {
        return Ok(vec![]);
    };
    if !value.split(',').any(|r| r.trim() == item) {
        return Ok(vec![]);
    }
    let is_item = is_block_item(src, leaf) || is_flow_item(src, leaf);
    if is_item && value.trim() == item {
        return Ok(vec![remove_entry(src, leaf, '[')?]);
    }
    let (start, end) = content(src, leaf);
    let b = src.as_bytes();
    let ws = |c: char| c.is_ascii_whitespace();
    let mut out = Vec::new();
    for (i, _) in src[start..end].match_indices(item) {
        let (s, e) = (start + i, start + i + item.len());
        let p = start + src[start..s].trim_end_matches(ws).len();
        let n = e + (src[e..end].len() - src[e..end].trim_start_matches(ws).len());
        let prev_comma = p > start && b[p - 1] == b',';
        let next_comma = n < end && b[n] == b',';
        if !(p == start || prev_comma) || !(n == end || next_comma) {
            continue;
        }
        let range = if next_comma {
            let after = n + 1;
            let skip = src[after..end].len() - src[after..end].trim_start_matches(ws).len();
            s..after + skip
        } else if prev_comma {
            p - 1..e
        } else {
            s..e
        };
        out.push(Splice::delete(range));
    }
    if out.is_empty() {
        return Err("a recipient string has an unusual spelling");
    }
    Ok(out)
}

/// Removes a list item or mapping entry: its whole line in block style, or the entry and
/// one comma in flow style (`open` is `[` or `{`).
pub fn remove_entry(src: &str, leaf: &Leaf, open: char) -> Result<Splice, Refusal> {
    if leaf.in_flow {
        let before = &src[..leaf.span.start];
        let Some(at) = before.rfind([',', open]) else {
            return Err("unusual flow layout");
        };
        if before.as_bytes()[at] == b',' {
            return Ok(Splice::delete(at..leaf.span.end));
        }
        let end = match src[leaf.span.end..].trim_start().strip_prefix(',') {
            Some(after) => src.len() - after.trim_start().len(),
            None => leaf.span.end,
        };
        return Ok(Splice::delete(at + 1..end));
    }
    let ls = line_start(src, leaf.span.start);
    let prefix = &src[ls..leaf.span.start];
    let simple_key = prefix.trim_end().ends_with(':')
        && !prefix.trim_start().starts_with('-')
        && !prefix.trim().trim_end_matches(':').contains([':', ' ']);
    if !(is_item_prefix(prefix) || simple_key) {
        return Err("unusual layout around an entry");
    }
    Ok(Splice::delete(ls..next_line(src, leaf.span.end)))
}

/// Just after the `:` of an implicit null's key (its empty span is at or before it).
pub fn after_colon(src: &str, at: usize) -> usize {
    let end = line_end(src, at);
    src[at..end].find(':').map_or(at, |i| at + i + 1)
}

/// The range of a scalar's content: inside the quotes, or the block's lines without the
/// final line break.
pub fn content(src: &str, leaf: &Leaf) -> (usize, usize) {
    let s = &leaf.span;
    match leaf.style {
        Style::SingleQuoted | Style::DoubleQuoted if s.len() >= 2 => (s.start + 1, s.end - 1),
        Style::Block(_) => {
            let t = src[s.clone()].trim_end_matches(['\n', '\r']);
            (s.start, s.start + t.len())
        }
        _ => (s.start, s.end),
    }
}

/// Adds the entry `key:` holding the one-item block list `- item` to the block mapping
/// whose one-line entry `first` is (a line after `first`, at its key's column).
pub fn insert_list_entry_after(
    src: &str,
    first: &Leaf,
    key: &str,
    item: &str,
    eol: &str,
) -> Result<Splice, Refusal> {
    let ls = line_start(src, first.span.start);
    let before = &src[ls..first.span.start];
    let stripped = before.trim_start_matches([' ', '-']);
    let key_col = before.len() - stripped.len();
    if !before[..key_col].chars().all(|c| c == ' ' || c == '-')
        || src[first.span.clone()].contains('\n')
    {
        return Err("unusual layout");
    }
    let pad = " ".repeat(key_col);
    let line = format!("{pad}{key}:{eol}{pad}  - {item}");
    Ok(insert_line_after(src, first.span.end, &line))
}

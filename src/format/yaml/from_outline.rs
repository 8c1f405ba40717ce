//! The typed tree of a decrypted YAML document built from the ciphertext's outline (its
//! [`Detail::Tree`](crate::format::Detail) nodes) and what the decrypt pass wrote for each
//! leaf, so that `exec` and `decrypt --extract`/`--output-type` do not parse the plaintext
//! a second time. Wherever the two could differ, it gives up (`None`) and the caller
//! parses the plaintext as before ([`super::value::tree`]): several documents, aliases and
//! tags, complex or duplicate keys, comment items, a block scalar where the plaintext ends
//! without a line break, a string restored from a recorded spelling.

use std::collections::HashSet;

use zeroize::Zeroizing;

use super::typing::resolve_plain;
use crate::format::tree::{self, Kind, Opened};
use crate::format::{Item, Leaf, NodeKind, Outline, Scalar, Step, Style};

/// A collection being built.
enum Frame {
    Map(Vec<(String, tree::Node)>, HashSet<String>),
    List(Vec<tree::Node>),
}

/// The tree of the decryption of `src` (a single document), or `None` to parse instead.
pub(super) fn build(
    src: &str,
    outline: &Outline,
    opened: &[Opened],
    plain: &str,
) -> Option<tree::Node> {
    let [doc] = outline.docs.as_slice() else {
        return None;
    };
    if outline.aliases > 0 || outline.loose.is_some() || opened.len() != doc.items.len() {
        return None;
    }
    // An explicit key (`? `) may be a collection whose span the outline cannot tell from
    // a scalar key's: any `?` outside the metadata leaves the file to the parse.
    let sops = doc
        .sops
        .as_ref()
        .map_or(src.len()..src.len(), |s| s.removal.clone());
    let outside = [src.get(..sops.start)?, src.get(sops.end..)?];
    if outside
        .iter()
        .any(|part| memchr::memchr(b'?', part.as_bytes()).is_some())
    {
        return None;
    }
    let (root, nodes) = doc.nodes.split_first()?;
    if root.kind != NodeKind::Map || !root.steps.is_empty() {
        return None;
    }
    let ends_with_break = plain.ends_with(['\n', '\r']);
    let mut stack = vec![(None::<Step>, Frame::Map(Vec::new(), HashSet::new()))];
    for node in nodes {
        let depth = node.steps.len();
        if depth == 0 {
            return None;
        }
        while stack.len() > depth {
            let (step, frame) = stack.pop()?;
            attach(stack.last_mut()?, step?, finish(frame))?;
        }
        if stack.len() != depth || !plain_key(src, node) {
            return None;
        }
        let step = node.steps.last()?.clone();
        match node.kind {
            NodeKind::Map => stack.push((Some(step), Frame::Map(Vec::new(), HashSet::new()))),
            NodeKind::Seq => stack.push((Some(step), Frame::List(Vec::new()))),
            NodeKind::Alias => return None,
            NodeKind::Scalar => {
                let index = node.leaf?;
                let Some(Item::Leaf(leaf)) = doc.items.get(index) else {
                    return None;
                };
                if matches!(leaf.style, Style::Block(_)) && !ends_with_break {
                    return None;
                }
                let scalar = scalar(src, leaf, opened.get(index)?)?;
                attach(stack.last_mut()?, step, tree::Node::Scalar(scalar))?;
            }
        }
    }
    while stack.len() > 1 {
        let (step, frame) = stack.pop()?;
        attach(stack.last_mut()?, step?, finish(frame))?;
    }
    let (_, root) = stack.pop()?;
    Some(finish(root))
}

/// Whether a node's key (if it has one) is a scalar the data reader reads as the step's
/// text. An implicit complex key (a flow collection: the outline skips it and names its
/// value by the key's source text) starts with `[` or `{`; a key with an anchor, tag or
/// alias is left to the parse too, and so is one that looks like a block collection.
fn plain_key(src: &str, node: &crate::format::Node) -> bool {
    let indicator = |b: &[u8]| matches!(b, [] | [b' ' | b'\t' | b'\r' | b'\n', ..]);
    match &node.key {
        None => matches!(node.steps.last(), Some(Step::Index(_))),
        Some(k) => match src.as_bytes().get(k.start..k.end) {
            None => false,
            Some([]) => matches!(node.steps.last(), Some(Step::Key(s)) if s.is_empty()),
            Some([b'[' | b'{' | b'&' | b'!' | b'*', ..]) => false,
            Some([b'?' | b'-', rest @ ..]) => !indicator(rest),
            Some(_) => true,
        },
    }
}

fn finish(frame: Frame) -> tree::Node {
    match frame {
        Frame::Map(entries, _) => tree::Node::Map(entries),
        Frame::List(items) => tree::Node::List(items),
    }
}

/// Adds `node` at `step` to `parent`; `None` for a duplicate key or a step out of order.
fn attach(parent: &mut (Option<Step>, Frame), step: Step, node: tree::Node) -> Option<()> {
    match (&mut parent.1, step) {
        (Frame::Map(entries, keys), Step::Key(k)) => {
            if !keys.insert(k.clone()) {
                return None;
            }
            entries.push((k, node));
        }
        (Frame::List(items), Step::Index(i)) if i == items.len() => items.push(node),
        _ => return None,
    }
    Some(())
}

/// The tree scalar of one leaf: typed as [`super::value::tree`] types the plaintext.
fn scalar(src: &str, leaf: &Leaf, opened: &Opened) -> Option<tree::Scalar> {
    let (kind, text) = match opened {
        Opened::Unknown => return None,
        Opened::Str(s) => (Kind::Str, s.clone()),
        // A number or boolean is written unquoted (a tag would have made the outline
        // loose), so it reads back as the data reader types a plain scalar.
        Opened::Spelled(t) if t.starts_with(['\'', '"']) => return None,
        Opened::Spelled(t) => (resolve_plain(t), t.clone()),
        Opened::Kept => match (&leaf.style, &leaf.value) {
            (_, _) if leaf.comment_item.is_some() => return None,
            (Style::Plain, value) => {
                // An empty block scalar is recorded as a plain empty string at its `|`.
                let raw = src.get(leaf.span.clone())?;
                if raw.starts_with(['|', '>', '\'', '"']) {
                    return None;
                }
                let text = match value {
                    Scalar::Str(s) => s,
                    _ => raw,
                };
                (resolve_plain(text), Zeroizing::new(text.to_string()))
            }
            (Style::SingleQuoted | Style::DoubleQuoted | Style::Block(_), Scalar::Str(s)) => {
                (Kind::Str, Zeroizing::new(s.to_string()))
            }
            _ => return None,
        },
    };
    Some(tree::Scalar { kind, text })
}

//! The document tree as a comparable value, used to check that an in-place edit changed
//! exactly what it was asked to and nothing else.
//!
//! Scalars are replaced by a digest of their type and plaintext bytes, so these trees hold
//! no secret; mappings compare without regard to order (a new key is appended, and YAML
//! and JSON mappings are unordered).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::codec::value;
use crate::format::{Document, Item, NodeKind, Scalar, Step};

/// The comparable form of a scalar: a digest of its type and bytes.
pub fn scalar(s: &Scalar) -> Value {
    let mut h = Sha256::new();
    match value::encode(s) {
        None => h.update(b"null"),
        Some((bytes, kind)) => {
            h.update(kind.as_bytes());
            h.update([0]);
            h.update(&bytes[..]);
        }
    }
    let digest = h.finalize();
    Value::String(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// The tree of a document.
pub fn of_document(src: &str, doc: &Document) -> Value {
    let mut root = Value::Null;
    for node in &doc.nodes {
        let v = match node.kind {
            NodeKind::Map => Value::Object(Map::new()),
            NodeKind::Seq => Value::Array(Vec::new()),
            NodeKind::Alias => Value::String(format!("alias {}", &src[node.span.clone()])),
            NodeKind::Scalar => match node.leaf.and_then(|i| doc.items.get(i)) {
                Some(Item::Leaf(l)) => scalar(&l.value),
                _ => Value::Null,
            },
        };
        put(&mut root, &node.steps, v);
    }
    root
}

/// Stores `v` at `steps` under `root`, creating collections on the way; a later duplicate
/// key replaces an earlier one (as YAML and JSON readers do).
pub fn put(root: &mut Value, steps: &[Step], v: Value) {
    let Some((last, parents)) = steps.split_last() else {
        *root = v;
        return;
    };
    let mut at = root;
    for step in parents {
        at = child(at, step);
    }
    *child(at, last) = v;
}

fn child<'v>(at: &'v mut Value, step: &Step) -> &'v mut Value {
    match step {
        Step::Key(k) => {
            if !at.is_object() {
                *at = Value::Object(Map::new());
            }
            let Value::Object(m) = at else {
                unreachable!("just made an object")
            };
            m.entry(k.clone()).or_insert(Value::Null)
        }
        Step::Index(i) => {
            if !at.is_array() {
                *at = Value::Array(Vec::new());
            }
            let Value::Array(a) = at else {
                unreachable!("just made an array")
            };
            let i = (*i).min(a.len());
            if i == a.len() {
                a.push(Value::Null);
            }
            &mut a[i]
        }
    }
}

/// Removes the value at `steps`.
pub fn remove(root: &mut Value, steps: &[Step]) {
    let Some((last, parents)) = steps.split_last() else {
        *root = Value::Object(Map::new());
        return;
    };
    let mut at = root;
    for step in parents {
        at = child(at, step);
    }
    match (at, last) {
        (Value::Object(m), Step::Key(k)) => {
            m.shift_remove(k);
        }
        (Value::Array(a), Step::Index(i)) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Syntax;

    #[test]
    fn trees_compare_without_order_and_hold_digests() {
        let a = Syntax::Yaml
            .format()
            .parse_tree("a: 1\nb: [x, {c: d}]\n")
            .unwrap();
        let b = Syntax::Yaml
            .format()
            .parse_tree("b: [x, {c: d}]\na: 1\n")
            .unwrap();
        let ta = of_document("a: 1\nb: [x, {c: d}]\n", &a.docs[0]);
        assert_eq!(ta, of_document("b: [x, {c: d}]\na: 1\n", &b.docs[0]));
        assert_eq!(ta["a"], scalar(&Scalar::Int(1)));
        assert!(!ta.to_string().contains("\"x\""));
        let mut t = ta.clone();
        remove(&mut t, &[Step::Key("b".into()), Step::Index(0)]);
        assert_eq!(t["b"].as_array().unwrap().len(), 1);
        put(
            &mut t,
            &[Step::Key("n".into()), Step::Index(3)],
            Value::Bool(true),
        );
        assert_eq!(t["n"], serde_json::json!([true]));
    }
}

//! Finding a tree path among a document's [`Node`]s.

use crate::format::{Document, Step};

/// Where a path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// The node holding the value (an index into [`Document::nodes`]).
    Found(usize),
    /// The value does not exist: `parent` is the deepest node that does, reached by the
    /// first `matched` steps.
    Missing {
        /// Index of the deepest existing node.
        parent: usize,
        /// How many steps lead to it.
        matched: usize,
    },
}

/// The direct members of the collection `at` (indexes into `doc.nodes`), in order.
pub fn children(doc: &Document, at: usize) -> Vec<usize> {
    let depth = doc.nodes[at].steps.len();
    let mut out = Vec::new();
    for (i, n) in doc.nodes.iter().enumerate().skip(at + 1) {
        if n.steps.len() <= depth {
            break;
        }
        if n.steps.len() == depth + 1 {
            out.push(i);
        }
    }
    out
}

/// The node a path leads to, or the deepest one on its way. With duplicate keys, the last
/// one counts (as YAML and JSON readers take it).
pub fn locate(doc: &Document, steps: &[Step]) -> Located {
    let mut at = match doc.nodes.iter().position(|n| n.steps.is_empty()) {
        Some(root) => root,
        None => {
            return Located::Missing {
                parent: 0,
                matched: 0,
            };
        }
    };
    for (matched, step) in steps.iter().enumerate() {
        let next = children(doc, at)
            .into_iter()
            .rev()
            .find(|&c| doc.nodes[c].steps.last() == Some(step));
        match next {
            Some(c) => at = c,
            None => {
                return Located::Missing {
                    parent: at,
                    matched,
                };
            }
        }
    }
    Located::Found(at)
}

/// The parent collection of a node.
pub fn parent(doc: &Document, at: usize) -> Option<usize> {
    let steps = &doc.nodes[at].steps;
    let len = steps.len().checked_sub(1)?;
    (0..at)
        .rev()
        .find(|&i| doc.nodes[i].steps.len() == len && doc.nodes[i].steps[..] == steps[..len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Syntax;

    fn key(k: &str) -> Step {
        Step::Key(k.into())
    }

    #[test]
    fn finds_nodes_in_every_syntax() {
        let y = "a:\n  - x\n  - b: 1\n    c: [2, 3]\nd: ~\n";
        let o = Syntax::Yaml.format().parse_tree(y).unwrap();
        let doc = &o.docs[0];
        let Located::Found(c) = locate(doc, &[key("a"), Step::Index(1), key("c")]) else {
            panic!("not found")
        };
        assert_eq!(&y[doc.nodes[c].span.clone()], "[2, 3]");
        assert_eq!(children(doc, c).len(), 2);
        let Located::Found(b) = locate(doc, &[key("a"), Step::Index(1), key("b")]) else {
            panic!("not found")
        };
        assert_eq!(&y[doc.nodes[b].span.clone()], "1");
        assert_eq!(&y[doc.nodes[b].key.clone().unwrap()], "b");
        let item = parent(doc, b).unwrap();
        assert_eq!(&y[doc.nodes[item].span.clone()], "b: 1\n    c: [2, 3]");
        assert_eq!(
            &y[doc.nodes[item].entry_start..item_end(doc, item)],
            "- b: 1\n    c: [2, 3]"
        );
        assert_eq!(
            locate(doc, &[key("a"), Step::Index(5)]),
            Located::Missing {
                parent: parent(doc, item).unwrap(),
                matched: 1
            }
        );
        let j = "{\"a\": [1, {\"b\": true}]}";
        let o = Syntax::Json.format().parse_tree(j).unwrap();
        let Located::Found(n) = locate(&o.docs[0], &[key("a"), Step::Index(1)]) else {
            panic!("not found")
        };
        assert_eq!(&j[o.docs[0].nodes[n].span.clone()], "{\"b\": true}");
        let e = "A=1\nB=two\n";
        let o = Syntax::Dotenv.format().parse_tree(e).unwrap();
        let Located::Found(n) = locate(&o.docs[0], &[key("B")]) else {
            panic!("not found")
        };
        assert_eq!(&e[o.docs[0].nodes[n].span.clone()], "two");
    }

    fn item_end(doc: &Document, at: usize) -> usize {
        doc.nodes[at].span.end
    }
}

//! YAML → [`Node`]: types from [`crate::format::yaml_value`] (yaml.v3's resolution, as
//! SOPS types values, with its alias budget and depth limit), and each scalar's text from a
//! second pass over the same parser events, so `0755` stays `0755` in an environment
//! variable while JSON output gets the integer 493.
//!
//! Only single-document files are accepted; aliases are expanded (within the loader's
//! budget); merge keys (`<<`) are ordinary keys, as in the loader.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser};
use serde_json::Value;
use zeroize::Zeroizing;

use super::{DataError, Kind, Node, Scalar, wipe};
use crate::format::yaml_value;

/// Loads a single-document YAML text.
pub fn load(src: &str) -> Result<Node, DataError> {
    let mut docs = yaml_value::load(src).map_err(|e| DataError::Syntax {
        offset: e.offset,
        msg: e.msg,
    })?;
    if docs.len() > 1 {
        docs.iter_mut().for_each(wipe);
        return Err(DataError::MultiDocument(docs.len()));
    }
    let Some(mut typed) = docs.pop() else {
        return Err(DataError::NotMapping);
    };
    // An empty document (`---` alone, what decrypting SOPS's spelling of one gives): SOPS
    // reads it as an empty mapping.
    if typed.is_null() {
        return Ok(Node::Map(Vec::new()));
    }
    let texts = scalar_texts(src)?;
    let mut next = texts.iter();
    let node = merge(&typed, &mut next);
    wipe(&mut typed);
    let node = node?;
    if next.next().is_some() {
        return Err(DataError::Internal("YAML scalars left over"));
    }
    Ok(node)
}

/// Pairs each scalar of the typed tree with its text, walking both in document order.
fn merge<'t>(
    typed: &Value,
    texts: &mut impl Iterator<Item = &'t Zeroizing<String>>,
) -> Result<Node, DataError> {
    let mut take = || {
        texts
            .next()
            .ok_or(DataError::Internal("YAML scalars missing"))
    };
    Ok(match typed {
        Value::Object(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                entries.push((k.clone(), merge(v, texts)?));
            }
            Node::Map(entries)
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for v in items {
                out.push(merge(v, texts)?);
            }
            Node::List(out)
        }
        Value::String(s) => {
            let text = take()?;
            if text.as_str() != s.as_str() {
                return Err(DataError::Internal("YAML scalar texts out of step"));
            }
            Node::Scalar(Scalar::string(s.as_str()))
        }
        Value::Null => Node::Scalar(Scalar {
            kind: Kind::Null,
            text: take()?.clone(),
        }),
        Value::Bool(b) => Node::Scalar(Scalar {
            kind: Kind::Bool(*b),
            text: take()?.clone(),
        }),
        Value::Number(n) => Node::Scalar(Scalar {
            kind: Kind::Number(n.clone()),
            text: take()?.clone(),
        }),
    })
}

/// Where the next node goes.
enum Frame {
    /// In a sequence.
    Seq {
        /// Anchor of the sequence (0: none).
        anchor: usize,
        /// Index in the text list where the sequence's scalars start.
        start: usize,
    },
    /// In a mapping.
    Map {
        /// The next node is a key.
        want_key: bool,
        /// Anchor of the mapping (0: none).
        anchor: usize,
        /// Index in the text list where the mapping's scalars start.
        start: usize,
    },
}

/// The text of every value scalar of the first document, in document order, with aliases
/// expanded (keys are not included: the typed tree has them).
fn scalar_texts(src: &str) -> Result<Vec<Zeroizing<String>>, DataError> {
    let mut texts: Vec<Zeroizing<String>> = Vec::new();
    // An anchored value's scalars are a range of `texts` (the list only grows).
    let mut anchors: HashMap<usize, Range<usize>> = HashMap::new();
    // Anchored mapping keys, for an alias of one used as a value.
    let mut key_anchors: HashMap<usize, Zeroizing<String>> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let in_key = |stack: &[Frame]| matches!(stack.last(), Some(Frame::Map { want_key: true, .. }));
    for item in Parser::new_from_str(src) {
        let (event, _) = item.map_err(|_| DataError::Internal("YAML rescan failed"))?;
        match event {
            Event::DocumentEnd => break,
            Event::Scalar(text, _, anchor, _) => {
                if in_key(&stack) {
                    if anchor != 0 {
                        key_anchors.insert(anchor, Zeroizing::new(text.into_owned()));
                    }
                } else {
                    let at = texts.len();
                    texts.push(Zeroizing::new(text.into_owned()));
                    if anchor != 0 {
                        anchors.insert(anchor, at..at + 1);
                    }
                }
                toggle(&mut stack);
            }
            Event::SequenceStart(anchor, _) => stack.push(Frame::Seq {
                anchor,
                start: texts.len(),
            }),
            Event::MappingStart(anchor, _) => stack.push(Frame::Map {
                want_key: true,
                anchor,
                start: texts.len(),
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                match stack.pop() {
                    Some(Frame::Seq { anchor, start } | Frame::Map { anchor, start, .. }) => {
                        if anchor != 0 {
                            anchors.insert(anchor, start..texts.len());
                        }
                    }
                    None => return Err(DataError::Internal("YAML collections unbalanced")),
                }
                toggle(&mut stack);
            }
            Event::Alias(id) => {
                if !in_key(&stack) {
                    if let Some(range) = anchors.get(&id).cloned() {
                        texts.extend_from_within(range);
                    } else if let Some(text) = key_anchors.get(&id) {
                        texts.push(text.clone());
                    } else {
                        return Err(DataError::Internal("YAML alias without anchor"));
                    }
                }
                toggle(&mut stack);
            }
            _ => {}
        }
    }
    Ok(texts)
}

/// After a complete node in a mapping, the next node is a key again (and the reverse).
fn toggle(stack: &mut [Frame]) {
    if let Some(Frame::Map { want_key, .. }) = stack.last_mut() {
        *want_key = !*want_key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(node: &Node, out: &mut Vec<String>) {
        match node {
            Node::Map(m) => m.iter().for_each(|(k, v)| {
                out.push(format!("k:{k}"));
                flat(v, out)
            }),
            Node::List(l) => l.iter().for_each(|v| flat(v, out)),
            Node::Scalar(s) => out.push(format!("{:?}={}", s.kind, &*s.text)),
        }
    }

    fn walk(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        flat(&load(src).unwrap_or_else(|e| panic!("{e}")), &mut out);
        out
    }

    #[test]
    fn scalars_keep_their_text_and_type() {
        assert_eq!(
            walk("a: 0755\nb: True\nc: 1.50\nd: ~\ne: '007'\nf: !!str 12\ng:\n"),
            [
                "k:a",
                "Number(Number(493))=0755",
                "k:b",
                "Bool(true)=True",
                "k:c",
                "Number(Number(1.5))=1.50",
                "k:d",
                "Null=~",
                "k:e",
                "Str=007",
                "k:f",
                "Str=12",
                "k:g",
                "Null=",
            ]
        );
    }

    #[test]
    fn aliases_expand_with_their_texts() {
        let src = "base: &b {port: 0x10, host: h}\ncopy: *b\n&k key: v\nalias_of_key: *k\nlist: &l [1, two]\nagain: *l\n";
        assert_eq!(
            walk(src),
            [
                "k:base",
                "k:port",
                "Number(Number(16))=0x10",
                "k:host",
                "Str=h",
                "k:copy",
                "k:port",
                "Number(Number(16))=0x10",
                "k:host",
                "Str=h",
                "k:key",
                "Str=v",
                "k:alias_of_key",
                "Str=key",
                "k:list",
                "Number(Number(1))=1",
                "Str=two",
                "k:again",
                "Number(Number(1))=1",
                "Str=two",
            ]
        );
    }

    #[test]
    fn syntax_errors_carry_an_offset() {
        assert!(matches!(load("a: [1\n"), Err(DataError::Syntax { .. })));
        assert!(matches!(load(""), Err(DataError::NotMapping)));
    }

    /// Every mapping document of the shared YAML corpus loads without the two passes
    /// disagreeing.
    #[test]
    fn corpus_loads_consistently() {
        let Some(root) = crate::testutil::shared("corpus") else {
            return;
        };
        let mut checked = 0;
        for p in crate::testutil::files_below(&root) {
            let yamlish = p.extension().is_some_and(|x| x == "yaml" || x == "yml");
            let Ok(src) = std::fs::read_to_string(&p) else {
                continue;
            };
            if !yamlish {
                continue;
            }
            match load(&src) {
                Err(DataError::Internal(m)) => panic!("{}: {m}", p.display()),
                Ok(node) => {
                    checked += 1;
                    // The emitters write the same data back.
                    let want = &yaml_value::load(&src).expect("loaded once")[0];
                    // An empty document is read as an empty mapping, as SOPS reads it.
                    let empty = Value::Object(Default::default());
                    let want = if want.is_null() { &empty } else { want };
                    let yaml = crate::data::emit::emit(
                        &node,
                        crate::format::Syntax::Yaml,
                        crate::data::emit::OutputType::Yaml,
                    )
                    .expect("emits");
                    let back = yaml_value::load(&yaml)
                        .unwrap_or_else(|e| panic!("{}: {e:?}\n{}", p.display(), &*yaml));
                    assert_eq!(&back[0], want, "{}\n{}", p.display(), &*yaml);
                    let json = crate::data::emit::emit(
                        &node,
                        crate::format::Syntax::Yaml,
                        crate::data::emit::OutputType::Json,
                    )
                    .expect("emits");
                    let back: Value = serde_json::from_str(&json)
                        .unwrap_or_else(|e| panic!("{}: {e}\n{}", p.display(), &*json));
                    assert_eq!(&back, want, "{}", p.display());
                }
                Err(_) => {}
            }
        }
        eprintln!("{checked} corpus documents checked");
        assert!(checked > 100);
    }
}

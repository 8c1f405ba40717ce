//! JSON → [`Node`] with `serde_json`'s streaming deserializer. Numbers keep their text
//! (`1.50` stays `1.50`): a scan of the source lists every number token in document order,
//! which is the order the deserializer meets them. A key repeated in one object is an
//! error (which of the two a program would see differs between JSON readers).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use zeroize::Zeroizing;

use crate::format::tree::{DataError, Kind, Node, Scalar, Step, display_path};

/// Loads a JSON text.
pub fn load(src: &str) -> Result<Node, DataError> {
    let state = State {
        numbers: number_tokens(src),
        next_number: RefCell::new(0),
        path: RefCell::new(Vec::new()),
        error: RefCell::new(None),
    };
    let mut de = serde_json::Deserializer::from_str(src);
    let result = NodeSeed(&state)
        .deserialize(&mut de)
        .and_then(|node| de.end().map(|()| node));
    match result {
        Ok(node) => Ok(node),
        Err(e) => Err(state
            .error
            .into_inner()
            .unwrap_or_else(|| DataError::Syntax {
                offset: offset_of(src, e.line(), e.column()),
                msg: match e.classify() {
                    serde_json::error::Category::Eof => "unexpected end of JSON input".into(),
                    _ => "invalid JSON".into(),
                },
            })),
    }
}

/// What the visitors share.
struct State<'s> {
    /// Every number token of the source, in order.
    numbers: Vec<&'s str>,
    /// The next number token.
    next_number: RefCell<usize>,
    /// The key path being read (for messages).
    path: RefCell<Vec<Step>>,
    /// The error a visitor raised, with its key path.
    error: RefCell<Option<DataError>>,
}

impl State<'_> {
    fn fail<E: de::Error>(&self, e: DataError) -> E {
        *self.error.borrow_mut() = Some(e);
        E::custom("rejected")
    }

    /// The next number's text, checked against the value the deserializer read.
    fn number<E: de::Error>(&self, check: impl Fn(&str) -> bool) -> Result<String, E> {
        let mut i = self.next_number.borrow_mut();
        let text = self.numbers.get(*i).copied().filter(|t| check(t));
        *i += 1;
        text.map(str::to_string)
            .ok_or_else(|| self.fail(DataError::Internal("JSON number texts out of step")))
    }
}

/// Deserializes one node.
struct NodeSeed<'a, 's>(&'a State<'s>);

impl<'de> DeserializeSeed<'de> for NodeSeed<'_, '_> {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_, '_> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar {
            kind: Kind::Bool(b),
            text: Zeroizing::new(b.to_string()),
        }))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        let text = self.0.number(|t| t.parse::<i64>() == Ok(v))?;
        Ok(number(serde_json::Number::from(v), text))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        let text = self.0.number(|t| t.parse::<u64>() == Ok(v))?;
        Ok(number(serde_json::Number::from(v), text))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        let text = self.0.number(|t| t.parse::<f64>() == Ok(v))?;
        let n = serde_json::Number::from_f64(v).ok_or_else(|| {
            self.0
                .fail(DataError::Internal("JSON number is not finite"))
        })?;
        Ok(number(n, text))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::string(s)))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::string(s)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar {
            kind: Kind::Null,
            text: Zeroizing::new("null".into()),
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        loop {
            self.0.path.borrow_mut().push(Step::Index(items.len()));
            let item = seq.next_element_seed(NodeSeed(self.0));
            self.0.path.borrow_mut().pop();
            match item? {
                Some(node) => items.push(node),
                None => return Ok(Node::List(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            self.0.path.borrow_mut().push(Step::Key(key.clone()));
            if !seen.insert(key.clone()) {
                let path = display_path(&self.0.path.borrow());
                return Err(self.0.fail(DataError::DuplicateKey(path)));
            }
            let value = map.next_value_seed(NodeSeed(self.0));
            self.0.path.borrow_mut().pop();
            entries.push((key, value?));
        }
        Ok(Node::Map(entries))
    }
}

fn number(n: serde_json::Number, text: String) -> Node {
    Node::Scalar(Scalar {
        kind: Kind::Number(n),
        text: Zeroizing::new(text),
    })
}

/// Every number token outside strings, in order. The text is valid JSON (the deserializer
/// checks it), so a number is a run of `-+.eE0-9` starting with `-` or a digit.
fn number_tokens(src: &str) -> Vec<&str> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                out.push(&src[start..i]);
            }
            _ => i += 1,
        }
    }
    out
}

/// Byte offset of serde_json's 1-based line and column.
fn offset_of(src: &str, line: usize, column: usize) -> usize {
    let line_start: usize = src
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(src.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalars(node: &Node, out: &mut Vec<(Kind, String)>) {
        match node {
            Node::Map(m) => m.iter().for_each(|(_, v)| scalars(v, out)),
            Node::List(l) => l.iter().for_each(|v| scalars(v, out)),
            Node::Scalar(s) => out.push((s.kind.clone(), s.text.to_string())),
        }
    }

    #[test]
    fn numbers_keep_their_text() {
        let src = r#"{"a": 1.50, "b": [-0, 1E2, 12345678901234567890], "s": "x\"-1", "n": null, "t": true, "i": 7}"#;
        let node = load(src).expect("loads");
        let mut got = Vec::new();
        scalars(&node, &mut got);
        let texts: Vec<&str> = got.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "1.50",
                "-0",
                "1E2",
                "12345678901234567890",
                "x\"-1",
                "null",
                "true",
                "7"
            ]
        );
        assert_eq!(got[7].0, Kind::Number(7.into()));
        assert_eq!(got[5].0, Kind::Null);
    }

    #[test]
    fn duplicate_keys_are_named() {
        let e = load(r#"{"db": {"user": 1, "user": 2}}"#).unwrap_err();
        assert_eq!(e.to_string(), "duplicate key at 'db.user'");
    }

    #[test]
    fn invalid_json_has_an_offset_and_no_text() {
        let e = load("{\"a\": secret}").unwrap_err();
        assert!(matches!(e, DataError::Syntax { offset: 6, .. }), "{e:?}");
        assert!(!e.to_string().contains("secret"));
    }

    /// Every JSON object of the shared corpus loads, and JSON output gives the same data.
    #[test]
    fn corpus_roundtrips() {
        let Some(root) = crate::testutil::shared("corpus") else {
            return;
        };
        let mut checked = 0;
        for p in crate::testutil::files_below(&root) {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.ends_with(".json") || name.starts_with("n_") || name.starts_with("i_") {
                continue;
            }
            let Ok(src) = std::fs::read_to_string(&p) else {
                continue;
            };
            let Ok(want) = serde_json::from_str::<serde_json::Value>(&src) else {
                continue;
            };
            match load(&src) {
                Ok(node) => {
                    checked += 1;
                    let out = crate::data::emit::emit(
                        &node,
                        crate::format::Syntax::Json,
                        crate::data::emit::OutputType::Json,
                    )
                    .expect("emits");
                    let back: serde_json::Value = serde_json::from_str(&out)
                        .unwrap_or_else(|e| panic!("{}: {e}\n{}", p.display(), &*out));
                    assert_eq!(back, want, "{}", p.display());
                }
                Err(DataError::DuplicateKey(_)) => {}
                Err(e) => panic!("{}: {e}", p.display()),
            }
        }
        eprintln!("{checked} corpus documents checked");
        assert!(checked > 100);
    }
}

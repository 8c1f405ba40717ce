//! Loads YAML into `serde_json::Value`s (one per document), resolving aliases with an
//! expansion budget. Used for `.sops.yaml` and for the `sops` metadata block.
//!
//! # Typing
//!
//! Plain scalars are resolved the way Go's `gopkg.in/yaml.v3` resolves them when decoding
//! into `interface{}` (which is what SOPS does):
//!
//! - `""`, `~`, `null`, `Null`, `NULL` → `null`;
//! - `true`/`True`/`TRUE`, `false`/`False`/`FALSE` → booleans (`yes`/`no`/`on`/`off` stay strings);
//! - integers as Go's `strconv.ParseInt(s, 0, 64)` reads them after removing `_`: decimal,
//!   `0x…`, `0o…`, `0b…` and a leading `0` meaning octal (`010` → 8), optional sign;
//!   unsigned values up to `u64::MAX` too;
//! - floats matching `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (and `09`, which
//!   is not valid octal, becomes the float 9); `.inf`, `-.inf`, `.nan` and their capitalised
//!   spellings are floats to YAML but JSON cannot hold them, so they are kept as strings
//!   (with their source spelling), as are floats that overflow `f64`;
//! - everything else, including timestamps, is a string.
//!
//! Quoted and block scalars are always strings. Explicit tags: `!!str`, `!!binary`,
//! `!!timestamp` and any non-core tag give a string; `!!null`, `!!bool`, `!!int` and
//! `!!float` resolve the text (even when quoted) and fail when it is not of that type.
//! Tags on collections are ignored.
//!
//! # Structure
//!
//! Mapping keys must be scalars (or aliases of scalars) and become their text; a duplicate
//! key is an error (as in yaml.v3). Merge keys (`<<`) are **not** applied: `<<` is kept as
//! an ordinary key whose value is the (expanded) merged mapping. Neither `.sops.yaml` nor the
//! `sops` metadata block uses them.
//!
//! Aliases are expanded by copying the anchored value. To defeat "billion laughs" inputs
//! every expansion is charged to a budget ([`ALIAS_NODE_BUDGET`] nodes and
//! [`ALIAS_BYTE_BUDGET`] bytes of scalar text per call); beyond it loading fails with
//! "too many alias expansions". An alias to a node that is not finished yet (a recursive
//! alias) is an error. Nesting deeper than [`MAX_DEPTH`] (including nesting brought in by
//! aliases) is an error; the tree is built iteratively, so hostile input cannot overflow
//! the stack.
//!
//! Errors carry a byte offset into `src` and a fixed description, never source text.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Number, Value};

use super::SyntaxError;

/// Deepest nesting of collections accepted.
pub const MAX_DEPTH: usize = 1000;

/// Most nodes (scalars and collections) that alias expansion may create in one [`load`].
pub const ALIAS_NODE_BUDGET: usize = 100_000;

/// Most bytes of scalar text (values and keys) that alias expansion may copy in one [`load`].
pub const ALIAS_BYTE_BUDGET: usize = 16 * 1024 * 1024;

/// Size of a finished node, used for the alias budget and the depth limit.
#[derive(Clone, Copy, Default)]
struct Stats {
    /// Nodes in the subtree, this one included.
    nodes: usize,
    /// Bytes of scalar text (values and mapping keys) in the subtree.
    bytes: usize,
    /// 0 for a scalar, 1 + the tallest child for a collection.
    height: usize,
}

impl Stats {
    fn absorb(&mut self, child: Stats) {
        self.nodes = self.nodes.saturating_add(child.nodes);
        self.bytes = self.bytes.saturating_add(child.bytes);
        self.height = self.height.max(child.height + 1);
    }
}

/// A finished node.
struct Node {
    value: Value,
    stats: Stats,
    /// The scalar's text (for use as a mapping key); `None` for collections.
    key_text: Option<String>,
}

/// An anchored node kept for later aliases.
struct Anchored {
    value: Value,
    stats: Stats,
    key_text: Option<String>,
}

/// A collection being built.
enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        stats: Stats,
    },
    Map {
        map: Map<String, Value>,
        /// The key waiting for its value.
        key: Option<String>,
        anchor: usize,
        stats: Stats,
    },
}

/// Loads every document of `src`. Mapping keys become strings; aliases are expanded, but
/// at most a bounded number of nodes in total (no billion-laughs blow-up).
///
/// A leading UTF-8 byte order mark is accepted. An empty stream gives no documents; an
/// empty document (`---` alone) gives `null`. See the module documentation for how
/// scalars are typed.
pub fn load(src: &str) -> Result<Vec<Value>, SyntaxError> {
    Loader::new(src).run()
}

struct Loader<'s> {
    src: &'s str,
    docs: Vec<Value>,
    stack: Vec<Frame>,
    root: Option<Value>,
    anchors: HashMap<usize, Anchored>,
    expanded_nodes: usize,
    expanded_bytes: usize,
}

impl<'s> Loader<'s> {
    fn new(src: &'s str) -> Self {
        Loader {
            src,
            docs: Vec::new(),
            stack: Vec::new(),
            root: None,
            anchors: HashMap::new(),
            expanded_nodes: 0,
            expanded_bytes: 0,
        }
    }

    fn run(mut self) -> Result<Vec<Value>, SyntaxError> {
        for item in Parser::new_from_str(self.src) {
            let (event, span) = item.map_err(|e| self.scan_error(&e))?;
            let at = span.start.index();
            match event {
                Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
                Event::DocumentStart(_) => {
                    self.anchors.clear();
                    self.root = None;
                }
                Event::DocumentEnd => {
                    self.docs.push(self.root.take().unwrap_or(Value::Null));
                    self.anchors.clear();
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let value = resolve_scalar(&text, style, tag.as_deref())
                        .map_err(|msg| self.error_at(at, msg))?;
                    let text = text.into_owned();
                    let stats = Stats {
                        nodes: 1,
                        bytes: text.len(),
                        height: 0,
                    };
                    self.finish(
                        Node {
                            value,
                            stats,
                            key_text: Some(text),
                        },
                        anchor,
                        at,
                    )?;
                }
                Event::SequenceStart(anchor, _tag) => {
                    self.open(at)?;
                    self.stack.push(Frame::Seq {
                        items: Vec::new(),
                        anchor,
                        stats: Stats::default(),
                    });
                }
                Event::MappingStart(anchor, _tag) => {
                    self.open(at)?;
                    self.stack.push(Frame::Map {
                        map: Map::new(),
                        key: None,
                        anchor,
                        stats: Stats::default(),
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (value, mut stats, anchor) = match self.stack.pop() {
                        Some(Frame::Seq {
                            items,
                            anchor,
                            stats,
                        }) => (Value::Array(items), stats, anchor),
                        Some(Frame::Map {
                            map, anchor, stats, ..
                        }) => (Value::Object(map), stats, anchor),
                        None => return Err(self.error_at(at, "unbalanced collection end")),
                    };
                    stats.nodes = stats.nodes.saturating_add(1);
                    stats.height = stats.height.max(1);
                    self.finish(
                        Node {
                            value,
                            stats,
                            key_text: None,
                        },
                        anchor,
                        at,
                    )?;
                }
                Event::Alias(id) => {
                    let Some(anchored) = self.anchors.get(&id) else {
                        return Err(self.error_at(at, "alias refers to an unfinished node"));
                    };
                    let stats = anchored.stats;
                    if self.stack.len().saturating_add(stats.height) > MAX_DEPTH {
                        return Err(self.error_at(at, "nesting too deep"));
                    }
                    self.expanded_nodes = self.expanded_nodes.saturating_add(stats.nodes);
                    self.expanded_bytes = self.expanded_bytes.saturating_add(stats.bytes);
                    if self.expanded_nodes > ALIAS_NODE_BUDGET
                        || self.expanded_bytes > ALIAS_BYTE_BUDGET
                    {
                        return Err(self.error_at(at, "too many alias expansions"));
                    }
                    let node = Node {
                        value: anchored.value.clone(),
                        stats,
                        key_text: anchored.key_text.clone(),
                    };
                    // An alias carries no anchor of its own.
                    self.finish(node, 0, at)?;
                }
            }
        }
        if !self.stack.is_empty() {
            return Err(SyntaxError::new(self.src.len(), "unexpected end of input"));
        }
        Ok(self.docs)
    }

    /// Checks the depth before a collection is opened.
    fn open(&self, at: usize) -> Result<(), SyntaxError> {
        // A mapping waiting for a key cannot take a collection as the key.
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            return Err(self.error_at(at, "mapping key is not a scalar"));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error_at(at, "nesting too deep"));
        }
        Ok(())
    }

    /// Records a finished node: anchors it, then hands it to its parent.
    fn finish(&mut self, node: Node, anchor: usize, at: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    value: node.value.clone(),
                    stats: node.stats,
                    key_text: node.key_text.clone(),
                },
            );
        }
        let src = self.src;
        let err = |msg: &'static str| SyntaxError::new(byte_offset(src, at), msg);
        match self.stack.last_mut() {
            None => {
                // A second root cannot happen in a well-formed event stream.
                self.root = Some(node.value);
            }
            Some(Frame::Seq { items, stats, .. }) => {
                stats.absorb(node.stats);
                items.push(node.value);
            }
            Some(Frame::Map {
                map, key, stats, ..
            }) => match key.take() {
                None => {
                    let Some(text) = node.key_text else {
                        return Err(err("mapping key is not a scalar"));
                    };
                    if map.contains_key(&text) {
                        return Err(err("duplicate mapping key"));
                    }
                    stats.bytes = stats.bytes.saturating_add(text.len());
                    *key = Some(text);
                }
                Some(k) => {
                    stats.absorb(node.stats);
                    map.insert(k, node.value);
                }
            },
        }
        Ok(())
    }

    fn error_at(&self, char_index: usize, msg: &str) -> SyntaxError {
        SyntaxError::new(byte_offset(self.src, char_index), msg)
    }

    fn scan_error(&self, e: &ScanError) -> SyntaxError {
        // Some scanner messages quote a source character; keep only the fixed part.
        let info = e.info();
        let msg = match info.find('`') {
            Some(i) => info[..i].trim_end().trim_end_matches(':'),
            None => info,
        };
        self.error_at(e.marker().index(), msg)
    }
}

/// Converts a character index (as saphyr's markers count) to a byte offset into `src`.
fn byte_offset(src: &str, char_index: usize) -> usize {
    src.char_indices()
        .nth(char_index)
        .map_or(src.len(), |(b, _)| b)
}

/// The JSON value of a scalar.
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> Result<Value, &'static str> {
    if let Some(tag) = tag {
        let core = if tag.handle == "tag:yaml.org,2002:" {
            Some(tag.suffix.as_str())
        } else if tag.handle.is_empty() || tag.handle == "!" {
            // Verbatim `!<tag:yaml.org,2002:int>` arrives with the full tag as the suffix.
            tag.suffix.strip_prefix("tag:yaml.org,2002:")
        } else {
            None
        };
        return match core {
            Some("null") => match resolve_plain(text) {
                Value::Null => Ok(Value::Null),
                _ => Err("value does not match its !!null tag"),
            },
            Some("bool") => match resolve_plain(text) {
                v @ Value::Bool(_) => Ok(v),
                _ => Err("value does not match its !!bool tag"),
            },
            Some("int") => match resolve_plain(text) {
                Value::Number(n) if !n.is_f64() => Ok(Value::Number(n)),
                _ => Err("value does not match its !!int tag"),
            },
            Some("float") => match resolve_plain(text) {
                Value::Number(n) => Ok(n
                    .as_f64()
                    .and_then(Number::from_f64)
                    .map_or(Value::Number(n), Value::Number)),
                Value::String(s) if is_special_float(&s) => Ok(Value::String(s)),
                _ => Err("value does not match its !!float tag"),
            },
            _ => Ok(Value::String(text.to_owned())),
        };
    }
    match style {
        ScalarStyle::Plain => Ok(resolve_plain(text)),
        _ => Ok(Value::String(text.to_owned())),
    }
}

fn is_special_float(s: &str) -> bool {
    matches!(
        s,
        ".nan"
            | ".NaN"
            | ".NAN"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
    )
}

/// yaml.v3's resolution of an untagged plain scalar.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if is_special_float(s) {
        return Value::String(s.to_owned());
    }
    match s.as_bytes().first() {
        Some(b'.') => {
            // yaml.v3 tries strconv.ParseFloat on the text as is.
            let digits = &s[1..];
            let (mantissa, exp) = match digits.find(['e', 'E']) {
                Some(i) => (&digits[..i], Some(&digits[i + 1..])),
                None => (digits, None),
            };
            let exp_ok = exp.is_none_or(|e| {
                let e = e.strip_prefix(['+', '-']).unwrap_or(e);
                !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
            });
            if !mantissa.is_empty()
                && mantissa.bytes().all(|b| b.is_ascii_digit())
                && exp_ok
                && let Some(v) = finite_float(s)
            {
                return v;
            }
            Value::String(s.to_owned())
        }
        Some(b'0'..=b'9' | b'+' | b'-') => {
            let plain = s.replace('_', "");
            if let Some(i) = go_parse_int(&plain) {
                return Value::from(i);
            }
            if let Some(u) = go_parse_uint(&plain) {
                return Value::from(u);
            }
            if is_yaml_style_float(&plain)
                && let Some(v) = finite_float(&plain)
            {
                return v;
            }
            Value::String(s.to_owned())
        }
        _ => Value::String(s.to_owned()),
    }
}

/// A float that JSON can hold, or `None` (overflow: Go's ParseFloat fails with ErrRange).
fn finite_float(s: &str) -> Option<Value> {
    let f: f64 = s.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Splits Go's base-0 integer syntax (after the sign) into radix and digits.
fn go_radix(s: &str) -> (u32, &str) {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'0' {
        match b[1] {
            b'x' | b'X' => return (16, &s[2..]),
            b'b' | b'B' => return (2, &s[2..]),
            b'o' | b'O' => return (8, &s[2..]),
            _ => return (8, &s[1..]),
        }
    }
    (10, s)
}

/// Go's `strconv.ParseUint(s, 0, 64)` (no sign allowed).
fn go_parse_uint(s: &str) -> Option<u64> {
    let (radix, digits) = go_radix(s);
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = go_parse_uint(rest)?;
    if negative {
        if magnitude == 1u64 << 63 {
            Some(i64::MIN)
        } else {
            i64::try_from(magnitude).ok().map(|m| -m)
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(src: &str) -> Value {
        let mut docs = load(src).expect("valid YAML");
        assert_eq!(docs.len(), 1, "one document in {src:?}");
        docs.remove(0)
    }

    fn scalar(src: &str) -> Value {
        one(&format!("k: {src}\n"))["k"].clone()
    }

    #[test]
    fn plain_scalar_typing() {
        assert_eq!(scalar(""), Value::Null);
        assert_eq!(scalar("~"), Value::Null);
        assert_eq!(scalar("null"), Value::Null);
        assert_eq!(scalar("NULL"), Value::Null);
        assert_eq!(scalar("true"), json!(true));
        assert_eq!(scalar("True"), json!(true));
        assert_eq!(scalar("FALSE"), json!(false));
        assert_eq!(scalar("yes"), json!("yes"));
        assert_eq!(scalar("off"), json!("off"));
        assert_eq!(scalar("42"), json!(42));
        assert_eq!(scalar("-42"), json!(-42));
        assert_eq!(scalar("+7"), json!(7));
        assert_eq!(scalar("1_000"), json!(1000));
        assert_eq!(scalar("0x10"), json!(16));
        assert_eq!(scalar("0o17"), json!(15));
        assert_eq!(scalar("0b101"), json!(5));
        assert_eq!(scalar("007"), json!(7));
        assert_eq!(scalar("010"), json!(8));
        assert_eq!(scalar("09"), json!(9.0));
        assert_eq!(scalar("18446744073709551615"), json!(u64::MAX));
        assert_eq!(scalar("-9223372036854775808"), json!(i64::MIN));
        assert_eq!(scalar("1e3"), json!(1000.0));
        assert_eq!(scalar("0.75"), json!(0.75));
        assert_eq!(scalar(".5"), json!(0.5));
        assert_eq!(scalar("1."), json!(1.0));
        assert_eq!(scalar("1e400"), json!("1e400"));
        assert_eq!(scalar(".inf"), json!(".inf"));
        assert_eq!(scalar("-.Inf"), json!("-.Inf"));
        assert_eq!(scalar(".NaN"), json!(".NaN"));
        assert_eq!(scalar("2024-01-01"), json!("2024-01-01"));
        assert_eq!(
            scalar("2024-01-01T10:00:00Z"),
            json!("2024-01-01T10:00:00Z")
        );
        assert_eq!(scalar("0x"), json!("0x"));
        assert_eq!(resolve_plain("-"), json!("-"));
        assert_eq!(resolve_plain("+"), json!("+"));
        assert_eq!(scalar("1.2.3"), json!("1.2.3"));
        assert_eq!(scalar("hello world"), json!("hello world"));
        assert_eq!(scalar("'42'"), json!("42"));
        assert_eq!(scalar("\"true\""), json!("true"));
        assert_eq!(scalar("''"), json!(""));
        assert_eq!(scalar("|\n  x\n"), json!("x\n"));
    }

    #[test]
    fn tags() {
        assert_eq!(scalar("!!str 42"), json!("42"));
        assert_eq!(scalar("!!str true"), json!("true"));
        assert_eq!(scalar("!!int \"42\""), json!(42));
        assert_eq!(scalar("!!float 1"), json!(1.0));
        assert_eq!(scalar("!!bool 'true'"), json!(true));
        assert_eq!(scalar("!!null ''"), Value::Null);
        assert_eq!(scalar("!custom 42"), json!("42"));
        assert_eq!(scalar("! 42"), json!("42"));
        assert_eq!(scalar("!<tag:yaml.org,2002:str> 42"), json!("42"));
        assert!(load("k: !!int abc\n").is_err());
        assert!(load("k: !!bool 1\n").is_err());
        assert_eq!(one("k: !!map {a: 1}\n"), json!({"k": {"a": 1}}));
    }

    #[test]
    fn structure_and_documents() {
        assert_eq!(load("").unwrap(), Vec::<Value>::new());
        assert_eq!(load("---\n").unwrap(), vec![Value::Null]);
        let docs = load("a: 1\n---\n- x\n- {b: [1, 2]}\n...\n---\nplain\n").unwrap();
        assert_eq!(
            docs,
            vec![json!({"a": 1}), json!(["x", {"b": [1, 2]}]), json!("plain")]
        );
        // Keys become their text, order is kept.
        assert_eq!(
            one("z: 1\n1: a\ntrue: b\n~: c\n0x10: d\n"),
            json!({"z": 1, "1": "a", "true": "b", "~": "c", "0x10": "d"})
        );
        let v = one("z: 1\na: 2\nm: 3\n");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
        // BOM.
        assert_eq!(one("\u{feff}a: b\n"), json!({"a": "b"}));
    }

    #[test]
    fn anchors_and_aliases() {
        let v = one("base: &b {x: 1, y: [a, b]}\ncopy: *b\nname: &n hello\nagain: *n\n*n : key\n");
        assert_eq!(
            v,
            json!({
                "base": {"x": 1, "y": ["a", "b"]},
                "copy": {"x": 1, "y": ["a", "b"]},
                "name": "hello",
                "again": "hello",
                "hello": "key",
            })
        );
        // Redefined anchors: the latest definition wins.
        assert_eq!(one("- &a 1\n- *a\n- &a 2\n- *a\n"), json!([1, 1, 2, 2]));
        // Typed scalars keep their type through an alias.
        assert_eq!(one("a: &t true\nb: *t\n"), json!({"a": true, "b": true}));
        // Merge keys are left as plain keys.
        assert_eq!(
            one("d: &d {a: 1}\ne:\n  <<: *d\n  b: 2\n"),
            json!({"d": {"a": 1}, "e": {"<<": {"a": 1}, "b": 2}})
        );
    }

    #[test]
    fn unknown_and_recursive_aliases_fail() {
        let err = load("a: 1\nb: *nope\n").unwrap_err();
        assert_eq!(err.offset, 8);
        // The anchor refers to the node that contains the alias.
        let err = load("a: &x [1, *x]\n").unwrap_err();
        assert_eq!(err.msg, "alias refers to an unfinished node");
        assert_eq!(err.offset, 10);
        // Anchors do not cross documents.
        assert!(load("a: &x 1\n---\nb: *x\n").is_err());
    }

    #[test]
    fn collection_keys_fail() {
        assert!(load("? [a, b]\n: 1\n").is_err());
        assert!(load("? {a: 1}\n: 1\n").is_err());
        let err = load("l: &l [1]\n*l : 2\n").unwrap_err();
        assert_eq!(err.msg, "mapping key is not a scalar");
    }

    #[test]
    fn duplicate_keys_fail() {
        let err = load("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.msg, "duplicate mapping key");
        assert_eq!(err.offset, 10);
    }

    #[test]
    fn billion_laughs_hits_the_budget() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            let list = [prev.as_str(); 10].join(", ");
            src.push_str(&format!("a{i}: &a{i} [{list}]\n"));
        }
        let err = load(&src).unwrap_err();
        assert_eq!(err.msg, "too many alias expansions");
        assert!(err.offset > 0 && err.offset < src.len());
        // A moderate amount of aliasing is fine.
        let mut ok = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..4 {
            let prev = format!("*a{}", i - 1);
            let list = [prev.as_str(); 10].join(", ");
            ok.push_str(&format!("a{i}: &a{i} [{list}]\n"));
        }
        let v = one(&ok);
        assert_eq!(v["a3"].as_array().unwrap().len(), 10);
        assert_eq!(v["a3"][9][9][9][9], json!("x"));
    }

    #[test]
    fn byte_budget_is_enforced() {
        let big = "y".repeat(1 << 20);
        let mut src = format!("s: &s {big}\nl:\n");
        for _ in 0..20 {
            src.push_str("  - *s\n");
        }
        assert_eq!(load(&src).unwrap_err().msg, "too many alias expansions");
    }

    #[test]
    fn deep_nesting_fails_without_overflow() {
        // Block sequences nest without limit in the parser: `- - - … x`.
        let deep = format!("{}x\n", "- ".repeat(100_000));
        let err = load(&deep).unwrap_err();
        assert_eq!(err.msg, "nesting too deep");
        assert_eq!(err.offset, 2 * MAX_DEPTH);
        let ok = format!("{}x\n", "- ".repeat(MAX_DEPTH));
        let mut v = &one(&ok);
        for _ in 0..MAX_DEPTH {
            v = &v[0];
        }
        assert_eq!(v, &json!("x"));
        // Flow collections: the parser itself stops at 255 levels.
        assert!(load(&"[".repeat(100_000)).is_err());
        // Aliases cannot be used to exceed the limit either.
        let src = format!("a: &a\n  {}x\nb:\n  - *a\n", "- ".repeat(MAX_DEPTH - 1));
        let err = load(&src).unwrap_err();
        assert_eq!(err.msg, "nesting too deep");
        assert_eq!(&src[err.offset..], "*a\n");
        let src = format!("a: &a\n  {}x\nb: *a\n", "- ".repeat(MAX_DEPTH - 1));
        assert!(load(&src).is_ok());
    }

    #[test]
    fn syntax_error_offsets_are_bytes() {
        // "é" and "€" are multi-byte: the offset must count bytes, not characters.
        let src = "k: \"é€\"\nbad: [1, 2\n";
        let err = load(src).unwrap_err();
        assert!(err.offset <= src.len());
        assert!(src.is_char_boundary(err.offset));
        let src = "é: x\n  - y: z\n";
        let err = load(src).unwrap_err();
        assert_eq!(err.offset, 11);
        assert_eq!(&src[err.offset..err.offset + 1], ":");
        let src = "\u{feff}é€: x\n  - y: z\n";
        let err = load(src).unwrap_err();
        assert_eq!(&src[err.offset..err.offset + 1], ":");
        let src = "k: \"€\"\nv: *missing\n";
        let err = load(src).unwrap_err();
        assert_eq!(&src[err.offset..], "*missing\n");
        // Messages never quote the source.
        let err = load("a: 1\n@x: 2\n").unwrap_err();
        assert!(!err.msg.contains('@'), "{}", err.msg);
    }
}

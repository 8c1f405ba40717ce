//! The one YAML data reader: loads YAML into `serde_json::Value`s (one per document, for
//! `.sops.yaml` and the `sops` metadata block, [`load`]) or into the typed tree of
//! [`crate::format::tree`] (for `exec`, `--extract` and `--output-type`, [`tree`]), in one
//! pass over saphyr-parser's events, resolving aliases with an expansion budget. The tree
//! keeps each scalar's text as written next to its type, so `0755` stays `0755` in an
//! environment variable while JSON output gets the integer 493.
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
use std::hash::BuildHasher;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::typing::resolve_scalar;
use crate::format::SyntaxError;
use crate::format::tree::{DataError, Kind, Node, Scalar};

/// Deepest nesting of collections accepted.
pub const MAX_DEPTH: usize = 1000;

/// Most nodes (scalars and collections) that alias expansion may create in one [`load`].
pub const ALIAS_NODE_BUDGET: usize = 100_000;

/// Most bytes of scalar text (values and keys) that alias expansion may copy in one [`load`].
pub const ALIAS_BYTE_BUDGET: usize = 16 * 1024 * 1024;

/// Loads every document of `src`. Mapping keys become strings; aliases are expanded, but
/// at most a bounded number of nodes in total (no billion-laughs blow-up).
///
/// A leading UTF-8 byte order mark is accepted. An empty stream gives no documents; an
/// empty document (`---` alone) gives `null`. See the module documentation for how
/// scalars are typed.
pub fn load(src: &str) -> Result<Vec<Value>, SyntaxError> {
    Loader::<Json>::new(src).run()
}

/// Loads a single-document YAML text as the typed tree (the same pass and rules as
/// [`load`]). Aliases are expanded (within the budget); merge keys (`<<`) are ordinary keys.
/// An empty document (`---` alone, what decrypting SOPS's spelling of one gives) or a null
/// one is an empty mapping, as SOPS reads it.
pub fn tree(src: &str) -> Result<Node, DataError> {
    let mut docs = Loader::<Tree>::new(src)
        .run()
        .map_err(|e| DataError::Syntax {
            offset: e.offset,
            msg: e.msg,
        })?;
    if docs.len() > 1 {
        return Err(DataError::MultiDocument(docs.len()));
    }
    match docs.pop() {
        None => Err(DataError::NotMapping),
        Some(Node::Scalar(Scalar {
            kind: Kind::Null, ..
        })) => Ok(Node::Map(Vec::new())),
        Some(root) => Ok(root),
    }
}

/// What the loader builds: JSON values or the typed tree.
trait Build {
    /// A finished node.
    type Node: Clone;
    /// A mapping being built.
    type Map: Default;
    /// A scalar of type `kind` whose text is `text`.
    fn scalar(kind: Kind, text: &str) -> Self::Node;
    /// A placeholder for a mapping key's node (only its text is used).
    fn key() -> Self::Node;
    /// A finished sequence.
    fn seq(items: Vec<Self::Node>) -> Self::Node;
    /// Whether `map` has `key`.
    fn has(map: &Self::Map, key: &str) -> bool;
    /// Adds an entry (the key is new).
    fn insert(map: &mut Self::Map, key: String, value: Self::Node);
    /// A finished mapping.
    fn map(map: Self::Map) -> Self::Node;
}

/// Builds `serde_json::Value`s.
struct Json;

impl Build for Json {
    type Node = Value;
    type Map = Map<String, Value>;
    fn scalar(kind: Kind, text: &str) -> Value {
        match kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(b),
            Kind::Number(n) => Value::Number(n),
            Kind::Str | Kind::Time(_) => Value::String(text.to_owned()),
        }
    }
    fn key() -> Value {
        Value::Null
    }
    fn seq(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
    fn has(map: &Self::Map, key: &str) -> bool {
        map.contains_key(key)
    }
    fn insert(map: &mut Self::Map, key: String, value: Value) {
        map.insert(key, value);
    }
    fn map(map: Self::Map) -> Value {
        Value::Object(map)
    }
}

/// Builds the typed tree (scalar texts wiped on drop).
struct Tree;

/// A tree mapping being built, with an index of its keys' hashes for the duplicate check.
#[derive(Default)]
struct TreeMap {
    entries: Vec<(String, Node)>,
    /// Hash of a key → the index of the first entry with that hash.
    index: HashMap<u64, usize>,
    hasher: std::collections::hash_map::RandomState,
}

impl Build for Tree {
    type Node = Node;
    type Map = TreeMap;
    fn scalar(kind: Kind, text: &str) -> Node {
        Node::Scalar(Scalar {
            kind,
            text: Zeroizing::new(text.to_owned()),
        })
    }
    fn key() -> Node {
        Node::List(Vec::new())
    }
    fn seq(items: Vec<Node>) -> Node {
        Node::List(items)
    }
    fn has(map: &TreeMap, key: &str) -> bool {
        match map.index.get(&map.hasher.hash_one(key)) {
            None => false,
            Some(&i) if map.entries[i].0 == key => true,
            // Another key with the same hash: look at every entry.
            Some(_) => map.entries.iter().any(|(k, _)| k == key),
        }
    }
    fn insert(map: &mut TreeMap, key: String, value: Node) {
        let at = map.entries.len();
        map.index.entry(map.hasher.hash_one(&key)).or_insert(at);
        map.entries.push((key, value));
    }
    fn map(map: TreeMap) -> Node {
        Node::Map(map.entries)
    }
}

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

/// A finished node (also what an anchor keeps for later aliases).
struct Finished<N> {
    value: N,
    stats: Stats,
    /// The scalar's text, for a scalar that is a mapping key or anchored (an alias of it
    /// may be a key); `None` otherwise and for collections.
    key_text: Option<Zeroizing<String>>,
}

impl<N: Clone> Clone for Finished<N> {
    fn clone(&self) -> Self {
        Finished {
            value: self.value.clone(),
            stats: self.stats,
            key_text: self.key_text.clone(),
        }
    }
}

/// A collection being built.
enum Frame<B: Build> {
    Seq {
        items: Vec<B::Node>,
        anchor: usize,
        stats: Stats,
    },
    Map {
        map: B::Map,
        /// The key waiting for its value.
        key: Option<String>,
        anchor: usize,
        stats: Stats,
    },
}

struct Loader<'s, B: Build> {
    src: &'s str,
    docs: Vec<B::Node>,
    stack: Vec<Frame<B>>,
    root: Option<B::Node>,
    anchors: HashMap<usize, Finished<B::Node>>,
    expanded_nodes: usize,
    expanded_bytes: usize,
    /// The source's length in characters (saphyr's positions), counted when first needed.
    chars: Option<usize>,
}

impl<'s, B: Build> Loader<'s, B> {
    fn new(src: &'s str) -> Self {
        Loader {
            src,
            docs: Vec::new(),
            stack: Vec::new(),
            root: None,
            anchors: HashMap::new(),
            expanded_nodes: 0,
            expanded_bytes: 0,
            chars: None,
        }
    }

    fn run(mut self) -> Result<Vec<B::Node>, SyntaxError> {
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
                    let root = self
                        .root
                        .take()
                        .unwrap_or_else(|| B::scalar(Kind::Null, ""));
                    self.docs.push(root);
                    self.anchors.clear();
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                    let src = self.src;
                    let at_eof = block
                        && span.end.index()
                            >= *self.chars.get_or_insert_with(|| src.chars().count());
                    let text = match super::scalars::block_at_eof(self.src, style, &text, at_eof) {
                        t if t.len() == text.len() => text,
                        t => std::borrow::Cow::Owned(t.to_string()),
                    };
                    let kind = resolve_scalar(&text, style, tag.as_deref())
                        .map_err(|msg| self.error_at(at, msg))?;
                    let is_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                    let value = if is_key && anchor == 0 {
                        B::key()
                    } else {
                        B::scalar(kind, &text)
                    };
                    let stats = Stats {
                        nodes: 1,
                        bytes: text.len(),
                        height: 0,
                    };
                    let key_text =
                        (is_key || anchor != 0).then(|| Zeroizing::new(text.into_owned()));
                    self.finish(
                        Finished {
                            value,
                            stats,
                            key_text,
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
                        map: B::Map::default(),
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
                        }) => (B::seq(items), stats, anchor),
                        Some(Frame::Map {
                            map, anchor, stats, ..
                        }) => (B::map(map), stats, anchor),
                        None => return Err(self.error_at(at, "unbalanced collection end")),
                    };
                    stats.nodes = stats.nodes.saturating_add(1);
                    stats.height = stats.height.max(1);
                    self.finish(
                        Finished {
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
                    let node = anchored.clone();
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
    fn finish(
        &mut self,
        node: Finished<B::Node>,
        anchor: usize,
        at: usize,
    ) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
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
                    let Some(mut text) = node.key_text else {
                        return Err(err("mapping key is not a scalar"));
                    };
                    if B::has(map, &text) {
                        return Err(err("duplicate mapping key"));
                    }
                    stats.bytes = stats.bytes.saturating_add(text.len());
                    *key = Some(std::mem::take(&mut *text));
                }
                Some(k) => {
                    stats.absorb(node.stats);
                    B::insert(map, k, node.value);
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

#[cfg(test)]
mod tests;

//! Document syntaxes. Each syntax (YAML, JSON, .env) only *describes* a document: it parses
//! the source into an [`Outline`] — the byte spans of every scalar value and comment, the
//! key path of each, the `sops` metadata entry if there is one, and where metadata goes —
//! and it knows how to spell a token or a value in a given place. The single engine in
//! [`crate::engine`] does all the encrypting, decrypting and splicing for every syntax.

pub mod binary;
pub mod dotenv;
pub mod flat;
pub mod ini;
pub mod json;
pub mod keypath;
pub mod lines;
pub mod quote;
pub mod toml;
pub mod tree;
pub mod yaml;

/// The YAML data reader's former path (`.sops.yaml`, the metadata block).
pub use yaml::value as yaml_value;

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

use zeroize::{Zeroize, Zeroizing};

pub use keypath::KeyPath;

/// The three syntaxes sealed understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// YAML 1.2 (one or several documents).
    Yaml,
    /// JSON (RFC 8259).
    Json,
    /// dotenv (`KEY=value` lines).
    Dotenv,
    /// TOML 1.0 / 1.1 (sealed's own metadata layout: a `[sops]` table).
    Toml,
    /// INI (`[section]`, `key = value`).
    Ini,
    /// sops's binary store: the whole file is one value, `data` of a JSON document.
    Binary,
}

impl Syntax {
    /// The syntax implied by a file name: `.yaml`/`.yml`, `.json`, `.env` / `*.env` / `.env.*`.
    pub fn from_path(path: &Path) -> Option<Syntax> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            Some(Syntax::Yaml)
        } else if name.ends_with(".json") {
            Some(Syntax::Json)
        } else if name == ".env" || name.ends_with(".env") || name.starts_with(".env.") {
            Some(Syntax::Dotenv)
        } else if name.ends_with(".toml") {
            Some(Syntax::Toml)
        } else if name.ends_with(".ini") {
            Some(Syntax::Ini)
        } else {
            None
        }
    }

    /// The syntax a file is encrypted with, as sops chooses it: by its name, and sops's
    /// binary store (the whole file as one value) for any other name.
    pub fn of_file(path: &Path) -> Syntax {
        Syntax::from_path(path).unwrap_or(Syntax::Binary)
    }

    /// Parses SOPS's `--input-type` names: `yaml`, `json`, `dotenv`.
    pub fn from_name(name: &str) -> Option<Syntax> {
        match name {
            "yaml" | "yml" => Some(Syntax::Yaml),
            "json" => Some(Syntax::Json),
            "dotenv" | "env" => Some(Syntax::Dotenv),
            "toml" => Some(Syntax::Toml),
            "ini" => Some(Syntax::Ini),
            "binary" => Some(Syntax::Binary),
            _ => None,
        }
    }

    /// The implementation of this syntax.
    pub fn format(self) -> &'static dyn Format {
        match self {
            Syntax::Yaml => &yaml::Yaml,
            Syntax::Json => &json::Json,
            Syntax::Dotenv => &dotenv::Dotenv,
            Syntax::Toml => &toml::Toml,
            Syntax::Ini => &ini::Ini,
            Syntax::Binary => &json::Json,
        }
    }
}

/// A scalar value typed as SOPS types it (SOPS's typed plaintext: [`crate::codec::value`]).
pub use crate::codec::value::Scalar;

/// How a value is written in the source; a syntax uses it to spell a token or a value in
/// the same place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    /// YAML plain scalar.
    Plain,
    /// YAML `'single-quoted'` scalar.
    SingleQuoted,
    /// YAML `"double-quoted"` scalar.
    DoubleQuoted,
    /// YAML literal (`|`) or folded (`>`) block scalar. The span covers the content lines
    /// only (from the first content line's start through the last non-blank content line's
    /// end of line); the header stays in place. (Boxed: it is rare, and keeps every value
    /// of an outline small.)
    Block(Box<BlockStyle>),
    /// A JSON string (span includes the quotes).
    JsonString,
    /// A JSON number, `true` or `false`.
    JsonBare,
    /// A dotenv value: the text after `=` to the end of the line (or of the multi-line quote).
    DotenvRaw,
    /// A TOML string of any kind (basic, literal, multi-line; span includes the quotes).
    TomlString,
    /// A TOML integer, float, boolean or datetime.
    TomlBare,
    /// An INI value, quotes included.
    Ini,
}

/// How a YAML block scalar is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockStyle {
    /// Indentation of the content lines.
    pub indent: String,
    /// Literal (`|`) rather than folded (`>`).
    pub literal: bool,
    /// Chomping indicator: `-` strip, `+` keep, none clip.
    pub chomp: Option<char>,
    /// The file's line break.
    pub eol: &'static str,
}

/// One scalar value of the document.
#[derive(Debug, Clone)]
pub struct Leaf<'s> {
    /// Mapping keys from the document root to this value; sequence indexes are not part of
    /// it (SOPS's additional data is `path.join(":") + ":"`).
    pub path: KeyPath,
    /// The bytes that hold the value and are replaced by its token.
    pub span: Range<usize>,
    /// The value, typed as SOPS types it. In an encrypted document a token is a `Str`.
    pub value: Scalar<'s>,
    /// How it is written.
    pub style: Style,
    /// Inside a YAML flow collection (a token must then be quoted).
    pub in_flow: bool,
    /// Nesting depth of the collection that holds it (0: the top-level mapping).
    pub depth: usize,
    /// A YAML block sequence item holding a `type:comment` token: where the comment goes
    /// back when decrypting. `None` for every other value.
    pub comment_item: Option<Box<CommentItem>>,
}

/// SOPS stores a comment that sits inside a YAML sequence as a sequence item holding a
/// `type:comment` token (`- ENC[...,type:comment]`). Such an item is not a value (it is
/// not in the MAC, and `sops decrypt` gives it back as a comment), so decrypting writes
/// `lead` + `#` + the comment in place of `range`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentItem {
    /// From the item's `-` through the end of the token (or, for the first item of a
    /// sequence of comment items only, from just after its key's `:`).
    pub range: Range<usize>,
    /// Text before the comment: empty, or the `[]` (with the white space around it) that
    /// stands for a sequence whose items are all comments, since what remains of it once
    /// they are comment lines again is an empty sequence.
    pub lead: String,
}

/// One comment.
#[derive(Debug, Clone)]
pub struct Comment {
    /// Path of the collection that holds it (SOPS encrypts a comment with that path).
    pub path: KeyPath,
    /// The comment text after `#`, up to the end of the line (line break excluded).
    pub span: Range<usize>,
    /// Nesting depth of the collection that holds it.
    pub depth: usize,
}

/// The document walk, in SOPS's walk order.
#[derive(Debug, Clone)]
pub enum Item<'s> {
    /// A scalar value.
    Leaf(Leaf<'s>),
    /// A comment.
    Comment(Comment),
    /// A mapping entry or sequence item at this depth has ended (SOPS clears the comments
    /// that applied to it; used by the comment regexes).
    EntryEnd(usize),
}

/// How much of a document a parse records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// What the engine reads: the items without the entry ends that clear no comment (see
    /// [`ItemList`]).
    Lean,
    /// Every item.
    Items,
    /// Every item and the tree nodes ([`Document::nodes`]).
    Tree,
    /// Like [`Detail::Tree`], for a reader that can do without the nodes (the decrypt
    /// pass's typed tree, [`Format::tree_from_outline`]): a syntax may leave them out
    /// (every document's nodes empty) where they would take much more memory than the
    /// source, since each node holds its whole path.
    BoundedTree,
}

/// A document's items as a parser records them, in walk order.
///
/// The engine keeps a stack of the comments that apply to the current entry (SOPS's
/// comment regexes match against it): a comment joins the level of its depth, a value or
/// comment at depth `d` sees levels `0..=d` (deeper ones are dropped), and
/// `EntryEnd(d)` empties level `d` and drops the deeper ones. An entry end that finds
/// every level from `d` down empty changes nothing, so a [`Detail::Lean`] list leaves it
/// out: in a file without comments, that is one item per value. The decision only looks
/// at item kinds and depths, so two lean parses of the same structure agree.
#[derive(Debug, Default)]
pub struct ItemList<'s> {
    items: Vec<Item<'s>>,
    lean: bool,
    /// The stack's shape: whether each level holds a comment.
    holds: Vec<bool>,
    /// An entry of the top-level collection has ended (kept or not).
    top_entry_ended: bool,
}

impl<'s> ItemList<'s> {
    /// An empty list (`Detail::Lean`: without the idle entry ends).
    pub fn new(detail: Detail, capacity: usize) -> ItemList<'s> {
        ItemList {
            items: Vec::with_capacity(capacity),
            lean: detail == Detail::Lean,
            ..ItemList::default()
        }
    }

    /// Appends `item` (a lean list skips an entry end that clears nothing).
    pub fn push(&mut self, item: Item<'s>) {
        match &item {
            Item::Leaf(leaf) => self.holds.resize(leaf.depth + 1, false),
            Item::Comment(c) => {
                self.holds.resize(c.depth + 1, false);
                self.holds[c.depth] = true;
            }
            &Item::EntryEnd(depth) => {
                self.top_entry_ended |= depth == 0;
                let clears = self.holds.iter().skip(depth).any(|&h| h);
                self.holds.truncate(depth + 1);
                if let Some(h) = self.holds.get_mut(depth) {
                    *h = false;
                }
                if self.lean && !clears {
                    return;
                }
            }
        }
        self.items.push(item);
    }

    /// Number of items recorded.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no item is recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The item at `index`.
    pub fn get(&self, index: usize) -> Option<&Item<'s>> {
        self.items.get(index)
    }

    /// The item at `index`, to amend.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut Item<'s>> {
        self.items.get_mut(index)
    }

    /// Whether an entry of the top-level collection has ended.
    pub fn top_entry_ended(&self) -> bool {
        self.top_entry_ended
    }

    /// Room for a value per line of `src` (and its entry end, unless lean), about what a
    /// YAML, pretty-printed JSON or .env document holds: one allocation instead of growth
    /// copies (room not used is never touched, so it costs no memory).
    pub fn room_for_lines(detail: Detail, src: &str) -> ItemList<'s> {
        let lines = memchr::memchr_iter(b'\n', src.as_bytes()).count() + 1;
        let per_line = if detail == Detail::Lean { 1 } else { 2 };
        ItemList::new(detail, per_line * lines)
    }

    /// The items, trimmed to their length.
    pub fn into_vec(mut self) -> Vec<Item<'s>> {
        self.items.shrink_to_fit();
        self.items
    }
}

/// The `sops` metadata entry found in a document.
#[derive(Debug, Clone)]
pub struct SopsEntry {
    /// The metadata tree (as JSON).
    pub value: serde_json::Value,
    /// The bytes to remove so that the document is as it was before metadata was inserted
    /// (the exact inverse of [`Insertion`]).
    pub removal: Range<usize>,
    /// The text put in place of [`SopsEntry::removal`] when decrypting: empty, except for
    /// a YAML first document that holds only the metadata and has no `---` of its own
    /// (how SOPS writes an empty document), which keeps a `---` so that it stays a document.
    pub restore: &'static str,
}

/// Where metadata is inserted into a document that has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insertion {
    /// Block layout (YAML block mapping, dotenv): the engine inserts `eol` followed by the
    /// metadata text (which has no final line break) at `at`, which is the end of the
    /// document's content before its final line break (or the end of the document when it
    /// has none).
    Block {
        /// Byte offset.
        at: usize,
    },
    /// Flow layout (JSON object, YAML flow mapping): the engine inserts `","` (unless the
    /// mapping is empty), then the metadata text, at `at`: the end of the last member's
    /// value, or just after `{` for an empty mapping.
    Flow {
        /// Byte offset.
        at: usize,
        /// The mapping has no member yet.
        empty: bool,
    },
}

/// One step of a tree path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// A mapping key.
    Key(String),
    /// A sequence index (0-based).
    Index(usize),
}

/// What a [`Node`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A scalar value (its [`Leaf`] is [`Node::leaf`]).
    Scalar,
    /// A mapping.
    Map,
    /// A sequence.
    Seq,
    /// A YAML alias (`*name`).
    Alias,
}

/// The layout of one value of the document tree — scalar or collection — as the
/// format-preserving editor ([`crate::edit`]) needs it. The engine does not use nodes.
#[derive(Debug, Clone)]
pub struct Node {
    /// Keys and sequence indexes from the document root (empty for the root).
    pub steps: Vec<Step>,
    /// What it is.
    pub kind: NodeKind,
    /// The value's bytes. A scalar: what a new value replaces (a YAML anchor or local tag
    /// stays before it; a block scalar runs from its header indicator through its last
    /// content line; an implicit YAML null is empty, just after its `:`). A flow
    /// collection (JSON, YAML `{}`/`[]`): from the opening through the closing bracket. A
    /// block collection: from its first entry through the end of its last value.
    pub span: Range<usize>,
    /// Where the entry holding the value starts: a mapping key's first byte, a block
    /// sequence item's `-`, else the value itself.
    pub entry_start: usize,
    /// A mapping entry's key (quotes included).
    pub key: Option<Range<usize>>,
    /// A flow collection (always for JSON), or a value inside one; dotenv: never.
    pub flow: bool,
    /// A YAML block scalar's header indicator (`|`, `>-`, `|2+`…).
    pub header: Option<Range<usize>>,
    /// The index in [`Document::items`] of a scalar's [`Item::Leaf`].
    pub leaf: Option<usize>,
}

/// One document of a file (YAML may hold several; JSON and dotenv hold one).
#[derive(Debug, Clone)]
pub struct Document<'s> {
    /// Leaves, comments and entry ends in walk order, the `sops` entry excluded.
    pub items: Vec<Item<'s>>,
    /// Every value of the tree (the root mapping first), in document order, each
    /// collection before its members; the `sops` entry and complex YAML keys excluded.
    /// Filled by [`Format::parse_tree`] only (empty after [`Format::parse`]).
    pub nodes: Vec<Node>,
    /// The `sops` entry, if the document has one.
    pub sops: Option<SopsEntry>,
    /// Where metadata goes when the document has none.
    pub insertion: Insertion,
    /// The indentation unit to use for metadata in this document (e.g. `"  "`, `"\t"`),
    /// and the indentation of the top-level members (empty for YAML block mappings).
    pub indent_unit: String,
    /// Indentation of the top-level members (JSON: usually one unit; YAML block: empty).
    pub member_indent: String,
}

/// A parsed file.
#[derive(Debug, Clone)]
pub struct Outline<'s> {
    /// Its documents, in order.
    pub docs: Vec<Document<'s>>,
    /// The line break the file uses (`"\n"` or `"\r\n"`).
    pub eol: &'static str,
    /// Number of YAML aliases (SOPS expands them, so it cannot decrypt aliased values).
    pub aliases: usize,
    /// The first YAML alias or tag in the documents (offset, what it is): neither SOPS's
    /// MAC nor the values' additional data covers them. (A merge key `<<` is a key like
    /// another: the values under it are bound to its path; only an alias could merge a
    /// mapping an editor chose.)
    pub loose: Option<(usize, &'static str)>,
}

/// A syntax error: byte offset and a fixed description (never source text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset into the source.
    pub offset: usize,
    /// What is wrong.
    pub msg: String,
}

impl SyntaxError {
    /// An error at `offset`.
    pub fn new(offset: usize, msg: impl Into<String>) -> SyntaxError {
        SyntaxError {
            offset,
            msg: msg.into(),
        }
    }
}

/// What a syntax provides to the engine.
pub trait Format: Sync {
    /// Parses `src` (a leading UTF-8 BOM is allowed and kept out of every span).
    /// Errors when the document is invalid or its top level is not a mapping.
    fn parse<'s>(&self, src: &'s str) -> Result<Outline<'s>, SyntaxError> {
        self.parse_detail(src, Detail::Items)
    }

    /// Like [`Format::parse`], with the tree [`Document::nodes`] filled too (for the
    /// editor; the engine does not need them).
    fn parse_tree<'s>(&self, src: &'s str) -> Result<Outline<'s>, SyntaxError> {
        self.parse_detail(src, Detail::Tree)
    }

    /// What the engine reads: [`Format::parse`] without the entry ends that change
    /// nothing (see [`ItemList`]).
    fn parse_lean<'s>(&self, src: &'s str) -> Result<Outline<'s>, SyntaxError> {
        self.parse_detail(src, Detail::Lean)
    }

    /// Whether a document of this syntax without sealed's layout digest is refused: true for
    /// a syntax no other tool writes (TOML), where a missing digest can only have been
    /// removed (`mac_only_encrypted`, which writes none, is refused for such a syntax).
    fn layout_required(&self) -> bool {
        false
    }

    /// Parses `src`, recording `detail`.
    fn parse_detail<'s>(&self, src: &'s str, detail: Detail) -> Result<Outline<'s>, SyntaxError>;

    /// The syntax's data reader: a decrypted document as the typed tree ([`tree::Node`],
    /// each scalar with its text as written and its type), for `exec`, `--extract` and
    /// `--output-type` ([`crate::data::load`] checks that the top level is a mapping).
    /// Errors carry a byte offset into `src` and a fixed description, never source text.
    fn load_tree(&self, src: &str) -> Result<tree::Node, tree::DataError>;

    /// The typed tree of a decryption built without parsing it: from the
    /// [`Detail::Tree`] outline of the ciphertext `src` and what the decrypt pass wrote for
    /// each of its items (`opened`), `plain` being the decryption. `None` wherever the
    /// result could differ from [`Format::load_tree`] of `plain` (the caller then parses).
    fn tree_from_outline(
        &self,
        _src: &str,
        _outline: &Outline,
        _opened: &[tree::Opened],
        _plain: &str,
    ) -> Option<tree::Node> {
        None
    }

    /// What goes around a token that replaces `leaf.span` (quotes, a block scalar's
    /// indentation), and the style under which the text will be parsed back.
    fn token_affixes<'l>(&self, leaf: &'l Leaf<'_>) -> (&'l str, &'static str, Style);

    /// Appends to `out` the text that replaces `leaf.span` when the leaf is encrypted to
    /// `token`, and returns the style under which that text will be parsed back.
    fn write_token(&self, leaf: &Leaf, token: &str, out: &mut String) -> Style {
        let (before, after, style) = self.token_affixes(leaf);
        out.push_str(before);
        out.push_str(token);
        out.push_str(after);
        style
    }

    /// [`Format::write_token`] into a new string.
    fn token_text(&self, leaf: &Leaf, token: &str) -> (String, Style) {
        let mut text = String::new();
        let style = self.write_token(leaf, token, &mut text);
        (text, style)
    }

    /// The canonical spelling of `value` in place of a leaf written in `style`
    /// (what decrypt writes when it has no recorded original spelling).
    fn render(&self, style: &Style, in_flow: bool, value: &Scalar) -> String;

    /// Whether [`Format::render`] gives exactly `original` (a syntax may answer without
    /// rendering).
    fn spelled_canonically(
        &self,
        style: &Style,
        in_flow: bool,
        value: &Scalar,
        original: &str,
    ) -> bool {
        renders_as(self, style, in_flow, value, original)
    }

    /// Appends [`Format::render`] of the string `s` to `out` (a syntax may do it without
    /// an intermediate copy).
    fn render_str_into(&self, style: &Style, in_flow: bool, s: &str, out: &mut Zeroizing<String>) {
        push_rendered(self, style, in_flow, &Scalar::Str(Cow::Borrowed(s)), out);
    }

    /// The metadata tree serialized for this document: for [`Insertion::Block`], lines
    /// joined by `outline.eol` without a final line break; for [`Insertion::Flow`], the
    /// member text starting with its own line break and indentation (or none for a
    /// single-line document), e.g. `\n\t"sops": {...}`.
    fn metadata_text(&self, meta: &serde_json::Value, outline: &Outline, doc: &Document) -> String;
}

/// Whether `format` renders `value` exactly as `original` (the canonical rendering is wiped).
pub fn renders_as<F: Format + ?Sized>(
    format: &F,
    style: &Style,
    in_flow: bool,
    value: &Scalar,
    original: &str,
) -> bool {
    let mut canonical = format.render(style, in_flow, value);
    let same = canonical == original;
    canonical.zeroize();
    same
}

/// Appends `format`'s rendering of `value` to `out` (the intermediate text is wiped).
pub fn push_rendered<F: Format + ?Sized>(
    format: &F,
    style: &Style,
    in_flow: bool,
    value: &Scalar,
    out: &mut Zeroizing<String>,
) {
    let mut text = format.render(style, in_flow, value);
    crate::codec::wipe::push_str(out, &text);
    text.zeroize();
}

/// Detects the line break of a file: CRLF if the first line break is CRLF.
pub fn detect_eol(src: &str) -> &'static str {
    match src.find('\n') {
        Some(i) if i > 0 && src.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// Length of a leading UTF-8 byte order mark (0 or 3).
pub fn bom_len(src: &str) -> usize {
    if src.starts_with('\u{feff}') { 3 } else { 0 }
}

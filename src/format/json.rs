//! JSON (RFC 8259) as an [`Outline`].
//!
//! The scanner is hand-written because sealed needs the byte span of every value, which
//! `serde_json` does not give. It is strict: it accepts exactly RFC 8259's grammar (every
//! `y_` file of JSONTestSuite whose top level is an object, and none of its `n_` files),
//! with two deliberate limits: the top level must be an object (SOPS's rule), and escapes
//! that decode to a lone UTF-16 surrogate are rejected (a Rust `String` cannot hold one,
//! and `serde_json` rejects them too). A leading UTF-8 byte order mark is allowed.
//!
//! It is iterative (an explicit stack, no recursion) and refuses documents nested more than
//! [`MAX_DEPTH`] containers deep, so hostile input cannot overflow the stack. Error messages
//! are fixed descriptions with a byte offset; they never quote source text, which may be a
//! secret.

use super::*;

/// The deepest container nesting accepted (the top-level object counts as one level).
pub const MAX_DEPTH: usize = 1000;

/// The JSON syntax.
pub struct Json;

impl Format for Json {
    fn parse_detail<'s>(&self, src: &'s str, detail: Detail) -> Result<Outline<'s>, SyntaxError> {
        Parser::new(src, detail).run()
    }

    fn token_affixes<'l>(&self, _leaf: &'l Leaf) -> (&'l str, &'static str, Style) {
        // A token holds only base64 and ASCII punctuation: no escaping is needed.
        ("\"", "\"", Style::JsonString)
    }

    fn spelled_canonically(&self, style: &Style, f: bool, value: &Scalar, original: &str) -> bool {
        match value {
            Scalar::Str(s) if needs_no_escape(s) => {
                original.len() == s.len() + 2
                    && original.starts_with('"')
                    && original.ends_with('"')
                    && &original[1..original.len() - 1] == s
            }
            _ => super::renders_as(self, style, f, value, original),
        }
    }

    fn render_str_into(&self, style: &Style, f: bool, s: &str, out: &mut Zeroizing<String>) {
        if needs_no_escape(s) {
            crate::codec::wipe::reserve_str(out, s.len() + 2);
            out.push('"');
            out.push_str(s);
            out.push('"');
        } else {
            super::push_rendered(self, style, f, &Scalar::Str(Cow::Borrowed(s)), out);
        }
    }

    fn render(&self, _style: &Style, _in_flow: bool, value: &Scalar) -> String {
        match value {
            Scalar::Null => "null".to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => render_float(*f),
            Scalar::Str(s) | Scalar::Time(s) => json_string(s),
        }
    }

    fn metadata_text(&self, meta: &serde_json::Value, outline: &Outline, doc: &Document) -> String {
        if doc.indent_unit.is_empty() {
            // One-line (minified) document: keep it on one line.
            let compact = serde_json::to_string(meta).unwrap_or_else(|_| "{}".to_string());
            return format!("\"sops\":{compact}");
        }
        let pretty = pretty_json(meta, &doc.indent_unit);
        let sep = format!("{}{}", outline.eol, doc.member_indent);
        let mut out = String::with_capacity(pretty.len() + 16);
        out.push_str(&sep);
        out.push_str("\"sops\": ");
        for (i, line) in pretty.split('\n').enumerate() {
            if i > 0 {
                out.push_str(&sep);
            }
            out.push_str(line);
        }
        out
    }
}

/// A float as Go's `strconv.FormatFloat(f, 'f', -1, 64)` writes it (shortest round-trip
/// decimal, no exponent); infinities and NaN are not JSON numbers and become the strings
/// `"+Inf"`, `"-Inf"`, `"NaN"`.
fn render_float(f: f64) -> String {
    if f.is_nan() {
        "\"NaN\"".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "\"+Inf\"" } else { "\"-Inf\"" }.to_string()
    } else {
        format!("{f}")
    }
}

/// A JSON string literal as `serde_json` writes it.
/// Whether `json_string` writes `s` between quotes unchanged (serde_json escapes only
/// `"`, `\\` and control characters).
fn needs_no_escape(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// `value` pretty-printed with `indent` per level, lines joined by `\n`.
fn pretty_json(value: &serde_json::Value, indent: &str) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if value.serialize(&mut ser).is_err() {
        return "{}".to_string();
    }
    String::from_utf8(buf).unwrap_or_else(|_| "{}".to_string())
}

/// One open container.
struct Frame {
    /// An object (else an array).
    obj: bool,
    /// An object member key was pushed on the path for the current member.
    key_pushed: bool,
    /// Its node in [`Parser::nodes`] (none inside the `sops` member).
    node: Option<usize>,
    /// The current member's key span (objects).
    key: Option<Range<usize>>,
    /// The index of the next element (arrays).
    index: usize,
}

/// What the scanner expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    /// A value (array element or member value).
    Value,
    /// Just after `{`: a key or `}`.
    ObjStart,
    /// Just after `[`: a value or `]`.
    ArrStart,
    /// After a member key's `,`: a key.
    Key,
    /// A value just ended in the top frame: `,` or the closing bracket.
    AfterValue,
}

/// Bookkeeping about the top-level `sops` member.
#[derive(Default)]
struct SopsMember {
    /// Start of its key.
    key_start: usize,
    /// End of the value of the member before it, if any.
    prev_value_end: Option<usize>,
    /// Start of its value.
    value_start: usize,
    /// End of its value.
    value_end: usize,
    /// Start of the key of the member after it, if any.
    next_key_start: Option<usize>,
}

/// The strict, span-recording scanner.
struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    items: ItemList<'a>,
    stack: Vec<Frame>,
    path: KeyPath,
    /// The tree nodes (see [`Node`]), when `tree`.
    nodes: Vec<Node>,
    /// Record the tree nodes.
    tree: bool,
    /// Tree steps of the innermost open container.
    steps: Vec<Step>,
    /// Start of the `{` of the top-level object.
    open: usize,
    /// End of the previous top-level member's value.
    last_top_value_end: Option<usize>,
    /// End of the last top-level member's value that is not `sops`.
    last_plain_value_end: Option<usize>,
    /// Whether there is a top-level member other than `sops`.
    has_plain_member: bool,
    /// The `sops` member being parsed (stack depth of the top frame is 1).
    in_sops: bool,
    /// The top-level member whose value is being parsed is `sops` with an object value.
    sops: Option<SopsMember>,
    /// A `sops` member has ended and the next top-level key has not been seen yet.
    awaiting_next_key: bool,
    /// Indentation of the first top-level member that starts a line.
    member_indent: Option<String>,
    /// Indentation of the first member/element of a depth-1 container starting a line.
    nested_indent: Option<String>,
    /// The last whitespace run skipped, with whether it held a line break.
    ws_start: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, detail: Detail) -> Self {
        Parser {
            src,
            b: src.as_bytes(),
            pos: bom_len(src),
            items: ItemList::room_for_lines(detail, src),
            stack: Vec::new(),
            path: KeyPath::root(),
            nodes: Vec::new(),
            tree: detail == Detail::Tree,
            steps: Vec::new(),
            open: 0,
            last_top_value_end: None,
            last_plain_value_end: None,
            has_plain_member: false,
            in_sops: false,
            sops: None,
            awaiting_next_key: false,
            member_indent: None,
            nested_indent: None,
            ws_start: 0,
        }
    }

    fn err<T>(&self, at: usize, msg: &str) -> Result<T, SyntaxError> {
        Err(SyntaxError::new(at, msg))
    }

    /// Skips JSON whitespace; remembers where the run started.
    fn skip_ws(&mut self) {
        self.ws_start = self.pos;
        while let Some(&c) = self.b.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The indentation before the current position if the last skipped whitespace run
    /// held a line break.
    fn line_indent(&self) -> Option<String> {
        let ws = &self.src[self.ws_start..self.pos];
        ws.rfind('\n').map(|i| ws[i + 1..].to_string())
    }

    /// Notes indentation at the start of a member (key) or array element.
    fn note_member_start(&mut self) {
        let depth = self.stack.len();
        if depth == 1 && self.member_indent.is_none() {
            self.member_indent = self.line_indent();
        } else if depth == 2 && self.nested_indent.is_none() {
            self.nested_indent = self.line_indent();
        }
    }

    fn run(mut self) -> Result<Outline<'a>, SyntaxError> {
        self.skip_ws();
        match self.b.get(self.pos) {
            None => return self.err(self.pos, "unexpected end of input"),
            Some(b'{') => {}
            Some(_) => return self.err(self.pos, "top level must be an object"),
        }
        self.open = self.pos;
        let root = self.tree.then_some(0);
        self.nodes.push(Node {
            steps: Vec::new(),
            kind: NodeKind::Map,
            span: self.pos..self.pos + 1,
            entry_start: self.pos,
            key: None,
            flow: true,
            header: None,
            leaf: None,
        });
        if !self.tree {
            self.nodes.clear();
        }
        self.pos += 1;
        self.stack.push(Frame {
            obj: true,
            key_pushed: false,
            node: root,
            key: None,
            index: 0,
        });
        let mut next = Next::ObjStart;
        loop {
            match next {
                Next::ObjStart | Next::Key => {
                    self.skip_ws();
                    if next == Next::ObjStart && self.b.get(self.pos) == Some(&b'}') {
                        next = self.close_container()?;
                        if self.stack.is_empty() {
                            break;
                        }
                        continue;
                    }
                    self.note_member_start();
                    next = self.member_key()?;
                }
                Next::ArrStart | Next::Value => {
                    self.skip_ws();
                    if next == Next::ArrStart {
                        if self.b.get(self.pos) == Some(&b']') {
                            next = self.close_container()?;
                            if self.stack.is_empty() {
                                break;
                            }
                            continue;
                        }
                        self.note_member_start();
                    }
                    next = self.value()?;
                }
                Next::AfterValue => {
                    self.skip_ws();
                    let frame = self.stack.last().expect("open frame");
                    let obj = frame.obj;
                    match self.b.get(self.pos) {
                        Some(b',') => {
                            self.pos += 1;
                            if obj {
                                next = Next::Key;
                            } else {
                                self.skip_ws();
                                self.note_member_start();
                                next = Next::Value;
                            }
                        }
                        Some(b'}') if obj => {
                            next = self.close_container()?;
                            if self.stack.is_empty() {
                                break;
                            }
                        }
                        Some(b']') if !obj => {
                            next = self.close_container()?;
                            if self.stack.is_empty() {
                                break;
                            }
                        }
                        None => return self.err(self.pos, "unexpected end of input"),
                        Some(_) if obj => {
                            return self.err(self.pos, "expected ',' or '}' after object member");
                        }
                        Some(_) => {
                            return self.err(self.pos, "expected ',' or ']' after array element");
                        }
                    }
                }
            }
        }
        let close = self.pos;
        self.skip_ws();
        if self.pos != self.b.len() {
            return self.err(self.pos, "unexpected content after the top-level object");
        }
        self.finish(close)
    }

    /// Builds the outline once the top-level object closed at `close` (just after `}`).
    fn finish(self, close: usize) -> Result<Outline<'a>, SyntaxError> {
        let one_line = !self.src[self.open..close].contains('\n');
        let (indent_unit, member_indent) = if one_line {
            (String::new(), String::new())
        } else {
            let member = self.member_indent.clone().unwrap_or_default();
            let unit = match &self.nested_indent {
                Some(n) if n.len() > member.len() && n.starts_with(member.as_str()) => {
                    n[member.len()..].to_string()
                }
                _ if !member.is_empty() => member.clone(),
                _ => "\t".to_string(),
            };
            let member = match self.member_indent {
                Some(m) => m,
                None if self.has_plain_member || self.sops.is_some() => String::new(),
                None => unit.clone(),
            };
            (unit, member)
        };
        let insertion = match self.last_plain_value_end {
            Some(at) => Insertion::Flow { at, empty: false },
            None => Insertion::Flow {
                at: self.open + 1,
                empty: true,
            },
        };
        let sops = match self.sops {
            None => None,
            Some(m) => {
                let value: serde_json::Value =
                    serde_json::from_str(&self.src[m.value_start..m.value_end]).map_err(|_| {
                        SyntaxError::new(m.value_start, "invalid sops metadata object")
                    })?;
                let removal = match (m.prev_value_end, m.next_key_start) {
                    (Some(prev), _) => prev..m.value_end,
                    (None, Some(next)) => m.key_start..next,
                    (None, None) => self.open + 1..m.value_end,
                };
                Some(SopsEntry {
                    value,
                    removal,
                    restore: "",
                })
            }
        };
        Ok(Outline {
            docs: vec![Document {
                items: self.items.into_vec(),
                nodes: self.nodes,
                sops,
                insertion,
                indent_unit,
                member_indent,
            }],
            eol: detect_eol(self.src),
            aliases: 0,
            loose: None,
        })
    }

    /// Reads an object member key and its `:`; returns what comes next.
    fn member_key(&mut self) -> Result<Next, SyntaxError> {
        let key_start = self.pos;
        match self.b.get(self.pos) {
            Some(b'"') => {}
            None => return self.err(self.pos, "unexpected end of input"),
            Some(_) => return self.err(self.pos, "expected a string as object key"),
        }
        let key = self.string()?;
        let key_len = self.pos - key_start;
        self.skip_ws();
        match self.b.get(self.pos) {
            Some(b':') => self.pos += 1,
            None => return self.err(self.pos, "unexpected end of input"),
            Some(_) => return self.err(self.pos, "expected ':' after object key"),
        }
        let top = self.stack.len() == 1;
        if top && self.awaiting_next_key {
            if let Some(m) = self.sops.as_mut() {
                m.next_key_start = Some(key_start);
            }
            self.awaiting_next_key = false;
        }
        if top && key == "sops" {
            self.skip_ws();
            if self.b.get(self.pos) == Some(&b'{') {
                if self.sops.is_some() {
                    return self.err(key_start, "duplicate sops metadata member");
                }
                self.sops = Some(SopsMember {
                    key_start,
                    prev_value_end: self.last_top_value_end,
                    value_start: self.pos,
                    ..SopsMember::default()
                });
                self.in_sops = true;
            }
        }
        if top && !self.in_sops {
            self.has_plain_member = true;
        }
        let frame = self.stack.last_mut().expect("open frame");
        frame.key_pushed = true;
        frame.key = Some(key_start..key_start + key_len);
        self.path = self.path.child(&key);
        Ok(Next::Value)
    }

    /// Reads a value at the current position (whitespace already skipped).
    fn value(&mut self) -> Result<Next, SyntaxError> {
        let start = self.pos;
        let depth = self.stack.len() - 1;
        let (value, style) = match self.b.get(self.pos) {
            None => return self.err(self.pos, "unexpected end of input"),
            Some(b'{') | Some(b'[') => {
                if self.stack.len() >= MAX_DEPTH {
                    return self.err(self.pos, "nesting deeper than 1000 levels");
                }
                let obj = self.b[self.pos] == b'{';
                let node = if self.in_sops || !self.tree {
                    None
                } else {
                    let (steps, entry_start, key) = self.value_place(start);
                    self.nodes.push(Node {
                        steps: steps.clone(),
                        kind: if obj { NodeKind::Map } else { NodeKind::Seq },
                        span: start..start + 1,
                        entry_start,
                        key,
                        flow: true,
                        header: None,
                        leaf: None,
                    });
                    self.steps = steps;
                    Some(self.nodes.len() - 1)
                };
                self.pos += 1;
                self.stack.push(Frame {
                    obj,
                    key_pushed: false,
                    node,
                    key: None,
                    index: 0,
                });
                return Ok(if obj { Next::ObjStart } else { Next::ArrStart });
            }
            Some(b'"') => (Scalar::Str(self.string()?), Style::JsonString),
            Some(b'-' | b'0'..=b'9') => (self.number()?, Style::JsonBare),
            Some(b't') => (self.literal("true", Scalar::Bool(true))?, Style::JsonBare),
            Some(b'f') => (self.literal("false", Scalar::Bool(false))?, Style::JsonBare),
            Some(b'n') => (self.literal("null", Scalar::Null)?, Style::JsonBare),
            Some(_) => return self.err(self.pos, "expected a value"),
        };
        if !self.in_sops {
            if self.tree {
                let (steps, entry_start, key) = self.value_place(start);
                self.nodes.push(Node {
                    steps,
                    kind: NodeKind::Scalar,
                    span: start..self.pos,
                    entry_start,
                    key,
                    flow: true,
                    header: None,
                    leaf: Some(self.items.len()),
                });
            }
            self.items.push(Item::Leaf(Leaf {
                path: self.path.clone(),
                span: start..self.pos,
                value,
                style,
                in_flow: false,
                depth,
                comment_item: None,
            }));
        }
        self.value_done(self.pos);
        Ok(Next::AfterValue)
    }

    /// The tree steps, entry start and key span of a value starting at `start` in the
    /// innermost open container.
    fn value_place(&self, start: usize) -> (Vec<Step>, usize, Option<Range<usize>>) {
        let frame = self.stack.last().expect("open frame");
        let mut steps = self.steps.clone();
        if frame.obj {
            steps.push(Step::Key(self.path.last().unwrap_or_default().to_string()));
            let key = frame.key.clone();
            (steps, key.as_ref().map_or(start, |k| k.start), key)
        } else {
            steps.push(Step::Index(frame.index));
            (steps, start, None)
        }
    }

    /// A member or element of the innermost open container ended at `end`.
    fn value_done(&mut self, end: usize) {
        let depth = self.stack.len() - 1;
        let top = self.stack.len() == 1;
        let frame = self.stack.last_mut().expect("open frame");
        frame.index += 1;
        if frame.key_pushed {
            frame.key_pushed = false;
            self.path = self.path.parent().cloned().unwrap_or_default();
        }
        if top && self.in_sops {
            // The top-level `sops` member has ended: no item for it.
            self.in_sops = false;
            self.awaiting_next_key = true;
            if let Some(m) = self.sops.as_mut() {
                m.value_end = end;
            }
        } else {
            if top {
                self.last_plain_value_end = Some(end);
            }
            if !self.in_sops {
                self.items.push(Item::EntryEnd(depth));
            }
        }
        if top {
            self.last_top_value_end = Some(end);
        }
    }

    /// Closes the innermost container at the current `}` or `]`.
    fn close_container(&mut self) -> Result<Next, SyntaxError> {
        self.pos += 1;
        let frame = self.stack.pop();
        if let Some(i) = frame.and_then(|f| f.node) {
            self.nodes[i].span.end = self.pos;
            self.steps.pop();
        }
        if self.stack.is_empty() {
            return Ok(Next::AfterValue);
        }
        self.value_done(self.pos);
        Ok(Next::AfterValue)
    }

    /// Reads `word` exactly.
    fn literal(&mut self, word: &str, value: Scalar<'a>) -> Result<Scalar<'a>, SyntaxError> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            self.err(self.pos, "invalid literal (expected true, false or null)")
        }
    }

    /// Reads a number per RFC 8259: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<Scalar<'a>, SyntaxError> {
        let start = self.pos;
        let b = self.b;
        let mut p = self.pos;
        let digits = |p: &mut usize| {
            let s = *p;
            while b.get(*p).is_some_and(u8::is_ascii_digit) {
                *p += 1;
            }
            *p - s
        };
        if b.get(p) == Some(&b'-') {
            p += 1;
        }
        match b.get(p) {
            Some(b'0') => p += 1,
            Some(b'1'..=b'9') => {
                digits(&mut p);
            }
            _ => return self.err(p, "invalid number"),
        }
        let mut integral = true;
        if b.get(p) == Some(&b'.') {
            p += 1;
            integral = false;
            if digits(&mut p) == 0 {
                return self.err(p, "invalid number: digit expected after '.'");
            }
        }
        if matches!(b.get(p), Some(b'e' | b'E')) {
            p += 1;
            integral = false;
            if matches!(b.get(p), Some(b'+' | b'-')) {
                p += 1;
            }
            if digits(&mut p) == 0 {
                return self.err(p, "invalid number: digit expected in exponent");
            }
        }
        self.pos = p;
        let text = &self.src[start..p];
        if integral && let Ok(i) = text.parse::<i64>() {
            return Ok(Scalar::Int(i));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Scalar::Float(f)),
            // Go's JSON decoder (so sops) refuses a number beyond a 64-bit float's range;
            // sealed would store an infinity that sops then cannot write out.
            Ok(_) => self.err(
                start,
                "number out of the range of a 64-bit float (sops cannot read it); write it as a string",
            ),
            Err(_) => self.err(start, "invalid number"),
        }
    }

    /// Reads four hex digits at `p`.
    fn hex4(&self, p: usize) -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for i in 0..4 {
            let d = match self.b.get(p + i) {
                Some(c) => (*c as char).to_digit(16),
                None => return self.err(p + i, "unexpected end of input"),
            };
            match d {
                Some(d) => v = v * 16 + d,
                None => return self.err(p + i, "invalid \\u escape: hex digit expected"),
            }
        }
        Ok(v)
    }

    /// Reads a string literal at the current `"` and returns its decoded contents.
    fn string(&mut self) -> Result<Cow<'a, str>, SyntaxError> {
        let start = self.pos;
        let b = self.b;
        let mut p = start + 1;
        // Fast path: find the end and check whether it has escapes.
        let mut run = p;
        let mut out: Option<String> = None;
        loop {
            let Some(&c) = b.get(p) else {
                return self.err(start, "unterminated string");
            };
            match c {
                b'"' => {
                    let tail = &self.src[run..p];
                    self.pos = p + 1;
                    return Ok(match out {
                        None => Cow::Borrowed(tail),
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let s = out.get_or_insert_with(|| String::with_capacity(p - start));
                    s.push_str(&self.src[run..p]);
                    let Some(&e) = b.get(p + 1) else {
                        return self.err(start, "unterminated string");
                    };
                    p += 2;
                    match e {
                        b'"' => s.push('"'),
                        b'\\' => s.push('\\'),
                        b'/' => s.push('/'),
                        b'b' => s.push('\u{8}'),
                        b'f' => s.push('\u{c}'),
                        b'n' => s.push('\n'),
                        b'r' => s.push('\r'),
                        b't' => s.push('\t'),
                        b'u' => {
                            let esc = p - 2;
                            let hi = self.hex4(p)?;
                            p += 4;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if b.get(p) != Some(&b'\\') || b.get(p + 1) != Some(&b'u') {
                                    return self.err(esc, "invalid \\u escape: lone surrogate");
                                }
                                let lo = self.hex4(p + 2)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.err(esc, "invalid \\u escape: lone surrogate");
                                }
                                p += 6;
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return self.err(esc, "invalid \\u escape: lone surrogate");
                            } else {
                                hi
                            };
                            match char::from_u32(cp) {
                                Some(ch) => s.push(ch),
                                None => return self.err(esc, "invalid \\u escape"),
                            }
                        }
                        _ => return self.err(p - 2, "invalid escape in string"),
                    }
                    run = p;
                }
                0..=0x1f => return self.err(p, "control character in string (must be escaped)"),
                _ => p += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves<'a>(doc: &'a Document<'a>) -> Vec<&'a Leaf<'a>> {
        doc.items
            .iter()
            .filter_map(|i| match i {
                Item::Leaf(l) => Some(l),
                _ => None,
            })
            .collect()
    }

    fn parse(src: &str) -> Outline<'_> {
        Json.parse_tree(src).expect("parses")
    }

    fn err(src: &str) -> SyntaxError {
        Json.parse(src).expect_err("rejected")
    }

    #[test]
    fn nested_spans_paths_values_and_entry_ends() {
        let src =
            "{\n  \"a\": {\"b\": \"x\\ny\", \"c\": [1, {\"d\": true}, null]},\n  \"e\": -2.5\n}\n";
        let o = parse(src);
        assert_eq!(o.eol, "\n");
        let doc = &o.docs[0];
        let ls = leaves(doc);
        assert_eq!(ls.len(), 5);
        assert_eq!(ls[0].path, vec!["a", "b"]);
        assert_eq!(&src[ls[0].span.clone()], "\"x\\ny\"");
        assert_eq!(ls[0].value, Scalar::Str("x\ny".into()));
        assert_eq!(ls[0].style, Style::JsonString);
        assert_eq!(ls[0].depth, 1);
        assert_eq!(ls[1].path, vec!["a", "c"]);
        assert_eq!(ls[1].value, Scalar::Int(1));
        assert_eq!(ls[1].depth, 2);
        assert_eq!(ls[2].path, vec!["a", "c", "d"]);
        assert_eq!(ls[2].value, Scalar::Bool(true));
        assert_eq!(ls[2].depth, 3);
        assert_eq!(&src[ls[2].span.clone()], "true");
        assert_eq!(ls[3].value, Scalar::Null);
        assert_eq!(ls[3].depth, 2);
        assert_eq!(ls[4].path, vec!["e"]);
        assert_eq!(ls[4].value, Scalar::Float(-2.5));
        assert_eq!(ls[4].depth, 0);
        assert!(!ls[4].in_flow);
        // Walk order with entry ends.
        let shape: Vec<String> = doc
            .items
            .iter()
            .map(|i| match i {
                Item::Leaf(l) => format!("L{}", l.path.join(".")),
                Item::EntryEnd(d) => format!("E{d}"),
                Item::Comment(_) => "C".into(),
            })
            .collect();
        assert_eq!(
            shape,
            [
                "La.b", "E1", "La.c", "E2", "La.c.d", "E3", "E2", "La.c", "E2", "E1", "E0", "Le",
                "E0"
            ]
        );
        assert!(doc.sops.is_none());
        assert_eq!(
            doc.insertion,
            Insertion::Flow {
                at: src.find("-2.5").unwrap() + 4,
                empty: false
            }
        );
        assert_eq!(doc.indent_unit, "  ");
        assert_eq!(doc.member_indent, "  ");
    }

    #[test]
    fn tree_nodes() {
        let src =
            "{\n  \"a\": [1, {\"b\": null}],\n  \"sops\": {\"mac\": \"m\"},\n  \"c\" : \"x\"\n}";
        let o = parse(src);
        let got: Vec<(Vec<Step>, NodeKind, &str, &str)> = o.docs[0]
            .nodes
            .iter()
            .map(|n| {
                (
                    n.steps.clone(),
                    n.kind,
                    &src[n.span.clone()],
                    n.key.clone().map_or("", |k| &src[k]),
                )
            })
            .collect();
        let k = |s: &str| Step::Key(s.into());
        assert_eq!(
            got,
            vec![
                (vec![], NodeKind::Map, src, ""),
                (vec![k("a")], NodeKind::Seq, "[1, {\"b\": null}]", "\"a\""),
                (vec![k("a"), Step::Index(0)], NodeKind::Scalar, "1", ""),
                (
                    vec![k("a"), Step::Index(1)],
                    NodeKind::Map,
                    "{\"b\": null}",
                    ""
                ),
                (
                    vec![k("a"), Step::Index(1), k("b")],
                    NodeKind::Scalar,
                    "null",
                    "\"b\""
                ),
                (vec![k("c")], NodeKind::Scalar, "\"x\"", "\"c\""),
            ]
        );
        let n = &o.docs[0].nodes;
        assert!(n.iter().all(|n| n.flow));
        assert_eq!(n[5].entry_start, src.find("\"c\"").unwrap());
        assert!(
            matches!(&o.docs[0].items[n[4].leaf.unwrap()], Item::Leaf(l) if l.value == Scalar::Null)
        );
    }

    #[test]
    fn number_typing() {
        let src = r#"{"a":0,"b":-0,"c":9223372036854775807,"d":9223372036854775808,"e":1e3,"f":1.0,"g":-1E-2,"h":1e-400}"#;
        let o = parse(src);
        let v: Vec<Scalar> = leaves(&o.docs[0]).iter().map(|l| l.value.clone()).collect();
        assert_eq!(v[0], Scalar::Int(0));
        assert_eq!(v[1], Scalar::Int(0));
        assert_eq!(v[2], Scalar::Int(i64::MAX));
        assert_eq!(v[3], Scalar::Float(9223372036854775808.0));
        assert_eq!(v[4], Scalar::Float(1000.0));
        assert_eq!(v[5], Scalar::Float(1.0));
        assert_eq!(v[6], Scalar::Float(-0.01));
        assert_eq!(v[7], Scalar::Float(0.0));
        for big in ["1e400", "-1e400", "1.5e309"] {
            let e = Json.parse(&format!("{{\"a\": {big}}}")).unwrap_err();
            assert_eq!(e.offset, 6, "{big}");
            assert!(e.msg.contains("out of the range"), "{big}: {}", e.msg);
        }
        for bad in [
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.1}",
            "{\"a\":+1}",
            "{\"a\":1e}",
            "{\"a\":-}",
        ] {
            err(bad);
        }
    }

    #[test]
    fn render_is_canonical() {
        let j = Json;
        let r = |v: Scalar| j.render(&Style::JsonString, false, &v);
        assert_eq!(
            r(Scalar::Str("a\"b\\c\n\t\u{1}/é".into())),
            "\"a\\\"b\\\\c\\n\\t\\u0001/é\""
        );
        assert_eq!(r(Scalar::Int(-5)), "-5");
        assert_eq!(r(Scalar::Float(1000.0)), "1000");
        assert_eq!(r(Scalar::Float(0.75)), "0.75");
        assert_eq!(r(Scalar::Float(1e21)), "1000000000000000000000");
        assert_eq!(r(Scalar::Float(f64::INFINITY)), "\"+Inf\"");
        assert_eq!(r(Scalar::Float(f64::NEG_INFINITY)), "\"-Inf\"");
        assert_eq!(r(Scalar::Float(f64::NAN)), "\"NaN\"");
        assert_eq!(r(Scalar::Bool(false)), "false");
        assert_eq!(r(Scalar::Null), "null");
        assert_eq!(
            r(Scalar::Time("2020-01-01T00:00:00Z".into())),
            "\"2020-01-01T00:00:00Z\""
        );
    }

    #[test]
    fn token_text_parses_back_as_reported() {
        let src = "{\"a\": 5}";
        let o = parse(src);
        let leaf = leaves(&o.docs[0])[0].clone();
        let tok = "ENC[AES256_GCM,data:AA==,iv:BB==,tag:CC==,type:int]";
        let (text, style) = Json.token_text(&leaf, tok);
        let mut enc = src.to_string();
        enc.replace_range(leaf.span.clone(), &text);
        let o2 = parse(&enc);
        let l2 = leaves(&o2.docs[0])[0].clone();
        assert_eq!(l2.style, style);
        assert_eq!(l2.value, Scalar::Str(tok.into()));
    }

    #[test]
    fn bom_and_crlf() {
        let src = "\u{feff}{\r\n\t\"k\": \"v\"\r\n}\r\n";
        let o = parse(src);
        assert_eq!(o.eol, "\r\n");
        let l = leaves(&o.docs[0])[0].clone();
        assert_eq!(&src[l.span.clone()], "\"v\"");
        assert_eq!(l.span.start, src.find("\"v\"").unwrap());
        assert_eq!(o.docs[0].member_indent, "\t");
        assert_eq!(o.docs[0].indent_unit, "\t");
    }

    #[test]
    fn errors_have_offsets_and_no_source_text() {
        let e = err("[1]");
        assert_eq!(e, SyntaxError::new(0, "top level must be an object"));
        let e = err("{\"secret\" 1}");
        assert_eq!(e.offset, 10);
        assert_eq!(e.msg, "expected ':' after object key");
        let e = err("{\"a\": 1,}");
        assert_eq!(e.offset, 8);
        let e = err("{\"a\": \"hunter2\ttab\"}");
        assert_eq!(e.offset, 14);
        assert!(!e.msg.contains("hunter2"));
        let e = err("{\"a\": 1} x");
        assert_eq!(e.offset, 9);
        assert_eq!(err("").msg, "unexpected end of input");
        assert_eq!(err("  ").offset, 2);
        err("{\"a\": \"\\ud800\"}");
        err("{\"a\": \"\\x\"}");
        err("{\"a\": tru}");
        err("{\"a\": 1");
        err("{\"a\": [1 2]}");
        err("{\"a\" 1}");
        err("{'a': 1}");
        // Trailing whitespace is fine.
        parse("{} \n\t\r\n");
        // Duplicate keys are kept.
        assert_eq!(leaves(&parse("{\"a\":1,\"a\":2}").docs[0]).len(), 2);
        // Surrogate pairs decode.
        let o = parse("{\"a\": \"\\ud834\\udd1e\"}");
        assert_eq!(leaves(&o.docs[0])[0].value, Scalar::Str("\u{1d11e}".into()));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let n = 100_000;
        let src = format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n));
        let e = err(&src);
        assert!(e.msg.contains("nesting"));
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(998), "]".repeat(998));
        parse(&ok);
        let bad = format!("{{\"a\":{}{}}}", "[".repeat(1000), "]".repeat(1000));
        err(&bad);
    }

    /// Splices metadata as the engine does, parses back, removes the removal range.
    fn roundtrip(src: &str) {
        let o = parse(src);
        let doc = &o.docs[0];
        let meta = serde_json::json!({
            "age": [{"recipient": "age1xyz", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\nAAA\n-----END AGE ENCRYPTED FILE-----\n"}],
            "lastmodified": "2026-01-01T00:00:00Z",
            "mac": "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
            "unencrypted_suffix": "_unencrypted",
            "version": "3.11.0"
        });
        let text = Json.metadata_text(&meta, &o, doc);
        let Insertion::Flow { at, empty } = doc.insertion else {
            panic!("flow insertion expected")
        };
        let mut enc = String::new();
        enc.push_str(&src[..at]);
        if !empty {
            enc.push(',');
        }
        enc.push_str(&text);
        enc.push_str(&src[at..]);
        let o2 = Json
            .parse(&enc)
            .unwrap_or_else(|e| panic!("{e:?} in {enc}"));
        let sops = o2.docs[0].sops.clone().expect("sops entry");
        assert_eq!(sops.value, meta);
        // The leaves are the same.
        assert_eq!(o2.docs[0].items.len(), doc.items.len());
        let mut back = enc.clone();
        back.replace_range(sops.removal.clone(), "");
        assert_eq!(back, src, "encrypted form:\n{enc}");
    }

    #[test]
    fn insertion_then_removal_is_identity() {
        roundtrip("{\n\t\"a\": 1,\n\t\"b\": {\n\t\t\"c\": \"d\"\n\t}\n}\n");
        roundtrip("{\n    \"a\": [\n        1\n    ]\n}");
        roundtrip("{\"a\":1,\"b\":[true,null]}");
        roundtrip("{\"a\": 1, \"b\": 2}\n");
        roundtrip("{}");
        roundtrip("{}\n");
        roundtrip("{\n}\n");
        roundtrip("{\r\n  \"a\": \"x\",\r\n  \"b\": {\r\n    \"c\": 2\r\n  }\r\n}\r\n");
        roundtrip("\u{feff}{\n  \"a\": 1\n}\n");
        let o = parse("{\n  \"a\": {\n    \"b\": 1\n  }\n}\n");
        let text = Json.metadata_text(
            &serde_json::json!({"age": [{"r": "x"}], "v": "1"}),
            &o,
            &o.docs[0],
        );
        assert_eq!(
            text,
            "\n  \"sops\": {\n    \"age\": [\n      {\n        \"r\": \"x\"\n      }\n    ],\n    \"v\": \"1\"\n  }"
        );
    }

    #[test]
    fn sops_member_elsewhere_is_removed_cleanly() {
        let src = "{\n\t\"sops\": {\"mac\": \"m\"},\n\t\"a\": 1\n}\n";
        let o = parse(src);
        let sops = o.docs[0].sops.clone().unwrap();
        let mut s = src.to_string();
        s.replace_range(sops.removal, "");
        assert_eq!(s, "{\n\t\"a\": 1\n}\n");
        assert_eq!(leaves(&o.docs[0]).len(), 1);
        let src = "{\"a\": 1, \"sops\": {\"mac\": \"m\"}, \"b\": 2}";
        let o = parse(src);
        let sops = o.docs[0].sops.clone().unwrap();
        let mut s = src.to_string();
        s.replace_range(sops.removal, "");
        assert_eq!(s, "{\"a\": 1, \"b\": 2}");
        // A non-object `sops` is an ordinary member.
        let o = parse("{\"sops\": 1}");
        assert!(o.docs[0].sops.is_none());
        assert_eq!(leaves(&o.docs[0]).len(), 1);
        err("{\"sops\": {}, \"sops\": {}}");
    }

    #[test]
    fn real_sops_fixture() {
        let Some(path) =
            crate::testutil::shared("sops-fixtures/generated-sops-3.11.0/secrets.enc.json")
        else {
            return;
        };
        let src = std::fs::read_to_string(&path).unwrap();
        let o = parse(&src);
        let doc = &o.docs[0];
        let sops = doc.sops.clone().expect("sops entry");
        assert!(
            sops.value["age"][0]["recipient"]
                .as_str()
                .unwrap()
                .starts_with("age1")
        );
        assert!(sops.value["mac"].as_str().unwrap().starts_with("ENC["));
        assert!(sops.value["lastmodified"].is_string());
        assert_eq!(doc.indent_unit, "\t");
        assert_eq!(doc.member_indent, "\t");
        let mut s = src.clone();
        s.replace_range(sops.removal.clone(), "");
        assert!(s.ends_with("type:float]\"\n}\n"));
        // Re-inserting with our writer gives sops's own bytes back.
        let text = Json.metadata_text(&sops.value, &o, doc);
        let at = sops.removal.start;
        let mut again = s.clone();
        again.insert_str(at, &format!(",{text}"));
        assert_eq!(again, src);
        assert!(leaves(doc).iter().all(|l| !l.path.any(|p| p == "sops")));
    }

    #[test]
    fn json_test_suite() {
        let Some(dir) = crate::testutil::shared("corpus/json-test-suite") else {
            return;
        };
        let rd = std::fs::read_dir(&dir).unwrap();
        let (mut y, mut n) = (0, 0);
        for entry in rd {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".json") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let Ok(text) = String::from_utf8(bytes) else {
                assert!(!name.starts_with("y_"), "{name} is not UTF-8");
                continue; // cannot reach the parser
            };
            let res = Json.parse(&text);
            if name.starts_with("y_") {
                let top_obj = text
                    .trim_start_matches([' ', '\t', '\n', '\r'])
                    .starts_with('{');
                if top_obj {
                    assert!(res.is_ok(), "{name} should parse: {res:?}");
                    y += 1;
                } else {
                    assert!(
                        res.is_err(),
                        "{name}: non-object top level must be rejected"
                    );
                }
            } else if name.starts_with("n_") {
                assert!(res.is_err(), "{name} should be rejected");
                n += 1;
            } else {
                let _ = res; // i_: either, but no panic
            }
        }
        eprintln!("JSONTestSuite: {y} y_ object files parsed, {n} n_ files rejected");
        assert!(y > 0 && n > 0);
    }

    /// Every y_/n_ file wrapped as the value of a member, so array and scalar top levels
    /// exercise the value grammar too.
    #[test]
    fn json_test_suite_wrapped() {
        let Some(dir) = crate::testutil::shared("corpus/json-test-suite") else {
            return;
        };
        let rd = std::fs::read_dir(&dir).unwrap();
        let mut bad = Vec::new();
        for entry in rd {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let wrapped = format!("{{\"x\": {text}}}");
            let ok = Json.parse(&wrapped).is_ok();
            if (name.starts_with("y_") && !ok) || (name.starts_with("n_") && ok) {
                bad.push(name);
            }
        }
        assert!(bad.is_empty(), "{bad:?}");
    }
}

//! The JSON scanner: an iterative walk of RFC 8259's grammar that records the byte span
//! and key path of every value (its lexemes are in [`lex`]).

use super::*;

mod lex;

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
pub(super) struct Parser<'a> {
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
    pub(super) fn new(src: &'a str, detail: Detail) -> Self {
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

    pub(super) fn run(mut self) -> Result<Outline<'a>, SyntaxError> {
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
}

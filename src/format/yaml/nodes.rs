//! The structural walk's collections and key paths: where the walk is, the nodes and
//! items it adds, and opening a mapping or a sequence.

use super::*;

impl<'s> Walk<'s> {
    /// Column of the token at `start` that follows a block collection. At the end of the
    /// document that is where the `sops` key goes (the top-level column), so that comments
    /// are attached the same before and after metadata is inserted: a last line without a
    /// line break would otherwise give the column of its own end.
    pub(super) fn next_column(&self, start: usize) -> usize {
        let rest = &self.src[start..];
        let marker = (rest.starts_with("---") || rest.starts_with("..."))
            && rest[3..].chars().next().is_none_or(char::is_whitespace)
            && line_start(self.src, start) == start;
        match self.doc.as_ref().and_then(|d| d.top) {
            Some((_, top_col, _)) if rest.is_empty() || rest.starts_with('\u{feff}') || marker => {
                top_col
            }
            _ => column_of(self.src, line_start(self.src, start), start),
        }
    }

    /// Records the first alias or tag of the documents: the MAC does not cover them (the
    /// engine refuses them unless sealed's own layout digest does).
    pub(super) fn note_loose(&mut self, at: usize, what: &'static str) {
        if self.loose.is_none() {
            self.loose = Some((at, what));
        }
    }

    /// Is the next node the value of a top-level `sops` key (the metadata)?
    pub(super) fn at_top_sops_value(&self) -> bool {
        self.stack.len() == 1
            && matches!(&self.stack[0].kind, Kind::Map { key: Some(k) } if k == "sops")
    }

    pub(super) fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                kind: Kind::Map { key: None },
                ..
            })
        )
    }

    pub(super) fn depth(&self) -> usize {
        self.stack.len().saturating_sub(1)
    }

    pub(super) fn in_flow(&self) -> bool {
        self.stack.last().is_some_and(|f| f.flow)
    }

    pub(super) fn nodes(&mut self) -> &mut Vec<Node> {
        &mut self.doc.as_mut().expect("inside a document").nodes
    }

    /// Records the node of a value of the current frame that starts at `start` (its
    /// properties included); returns its index.
    pub(super) fn add_node(
        &mut self,
        kind: NodeKind,
        flow_coll: bool,
        start: usize,
        span: Range<usize>,
        header: Option<Range<usize>>,
        leaf: Option<usize>,
    ) -> usize {
        if !self.tree {
            return 0;
        }
        let (steps, entry_start, key, flow, block_parent) = match self.stack.last() {
            None => (Vec::new(), span.start, None, false, None),
            Some(f) => {
                let mut steps = f.steps.clone();
                let (entry_start, key) = match &f.kind {
                    Kind::Map { key } => {
                        steps.push(Step::Key(key.as_deref().unwrap_or_default().to_string()));
                        let k = f.key_span.clone();
                        (k.as_ref().map_or(start, |k| k.start), k)
                    }
                    Kind::Seq => {
                        steps.push(Step::Index(f.index));
                        let at = if f.flow {
                            start
                        } else {
                            dash_before(self.src, start).unwrap_or(start)
                        };
                        (at, None)
                    }
                };
                let first = f.last_end.is_none() && (f.index == 0);
                (
                    steps,
                    entry_start,
                    key,
                    f.flow,
                    (!f.flow && first).then_some(f.node),
                )
            }
        };
        let flow = flow || flow_coll;
        if let Some(left) = &mut self.path_budget {
            let cost = steps.iter().fold(std::mem::size_of::<Node>(), |n, s| {
                n + std::mem::size_of::<Step>()
                    + match s {
                        Step::Key(k) => k.len(),
                        Step::Index(_) => 0,
                    }
            });
            match left.checked_sub(cost) {
                Some(rest) => *left = rest,
                None => {
                    *left = 0;
                    self.tree = false;
                    return 0;
                }
            }
        }
        let nodes = self.nodes();
        if let Some(p) = block_parent {
            // A block collection starts where its first entry does.
            nodes[p].span.start = entry_start;
        }
        nodes.push(Node {
            steps,
            kind,
            span,
            entry_start,
            key,
            flow,
            header,
            leaf,
        });
        nodes.len() - 1
    }

    pub(super) fn items(&mut self) -> &mut ItemList<'s> {
        &mut self.doc.as_mut().expect("inside a document").items
    }

    pub(super) fn set_key(&mut self, key: CompactString, key_span: Range<usize>) {
        if let Some(Frame {
            kind: Kind::Map { key: k },
            key_span: ks,
            ..
        }) = self.stack.last_mut()
        {
            *k = Some(key);
            *ks = Some(key_span);
        }
    }

    /// Path of a value about to be read in the current frame.
    pub(super) fn value_path(&self) -> KeyPath {
        match self.stack.last() {
            Some(Frame {
                kind: Kind::Map { key: Some(k) },
                path,
                ..
            }) => path.child(k),
            Some(f) => f.path.clone(),
            None => KeyPath::root(),
        }
    }

    pub(super) fn open(
        &mut self,
        is_map: bool,
        start: usize,
        end: usize,
        col: usize,
    ) -> Result<(), SyntaxError> {
        let (_, at) = skip_properties(self.src, start, end.max(start));
        let flow = at < end && matches!(self.src.as_bytes()[at], b'{' | b'[');
        if self.stack.is_empty() {
            if !is_map {
                return Err(SyntaxError::new(
                    start,
                    "the top level of the document must be a mapping",
                ));
            }
            let doc = self.doc.as_mut().expect("inside a document");
            // A flow mapping's metadata goes after its `{`, past any anchor or tag.
            doc.top = Some((flow, col, at));
        } else if self.expecting_key() {
            // A complex key: skipped entirely.
            self.skip = Some(Skip {
                depth: 1,
                sops: None,
                end,
                start,
            });
            return Ok(());
        } else if self.at_top_sops_value() {
            if !is_map {
                return Err(SyntaxError::new(start, SOPS_NOT_MAPPING));
            }
            if self.doc.as_ref().is_some_and(|d| d.sops.is_some()) {
                return Err(SyntaxError::new(self.sops_key_start, SOPS_TWICE));
            }
            let prev = self.doc.as_ref().and_then(|d| d.last_member_end);
            let key_start = self.sops_key_start;
            self.skip = Some(Skip {
                depth: 1,
                sops: Some(SopsSkip {
                    key_start,
                    prev_member_end: prev,
                }),
                end: if flow { end } else { start },
                start,
            });
            return Ok(());
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError::new(start, "nesting too deep"));
        }
        let column = if flow || is_map {
            col
        } else {
            // Block sequence: the column of its `-`.
            let ls = line_start(self.src, start);
            self.src[ls..start]
                .rfind('-')
                .map_or(col, |i| column_of(self.src, ls, ls + i))
        };
        let path = self.value_path();
        let kind = if is_map { NodeKind::Map } else { NodeKind::Seq };
        let span = if flow { at..at + 1 } else { at..at };
        let node = self.add_node(kind, flow, start, span, None, None);
        let steps = if self.tree {
            self.nodes()[node].steps.clone()
        } else {
            Vec::new()
        };
        self.stack.push(Frame {
            kind: if is_map {
                Kind::Map { key: None }
            } else {
                Kind::Seq
            },
            path,
            column,
            flow: flow || self.in_flow(),
            steps,
            index: 0,
            node,
            key_span: None,
            last_end: None,
            comment_items: 0,
            first_comment_item: None,
        });
        Ok(())
    }
}

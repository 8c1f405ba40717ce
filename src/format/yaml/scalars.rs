//! Scalars in the structural walk: their text, their leaf or comment item, entries that
//! end, and the parts of a document the walk skips (the `sops` block).

use super::*;

impl<'s> Walk<'s> {
    /// A scalar's text, borrowed from the source when it is written there as is (a plain
    /// or quoted scalar without escapes, folding or a tag in its span), else a copy.
    pub(super) fn text(&self, value: &str, info: &ScalarInfo) -> Cow<'s, str> {
        let span = &info.span;
        let inner = match info.style {
            Style::Plain => span.clone(),
            Style::SingleQuoted | Style::DoubleQuoted => span.start + 1..span.end.wrapping_sub(1),
            _ => return Cow::Owned(value.to_string()),
        };
        match self.src.get(inner) {
            Some(t) if t == value => Cow::Borrowed(t),
            _ => Cow::Owned(value.to_string()),
        }
    }

    pub(super) fn scalar(
        &mut self,
        value: &str,
        style: ScalarStyle,
        tag: Option<&saphyr_parser::Tag>,
        info: &ScalarInfo,
    ) -> Result<(), SyntaxError> {
        let value = block_at_eof(self.src, style, value, info.span.end >= self.src.len());
        if self.stack.is_empty() {
            // An empty document (`---` and nothing, or only comments): SOPS reads it as an
            // empty mapping and writes its metadata into it, after the document's text.
            let bare = self
                .src
                .get(info.node_start..info.occupied.end)
                .is_some_and(|t| t.trim().is_empty());
            if value.is_empty() && style == ScalarStyle::Plain && tag.is_none() && bare {
                let doc = self.doc.as_mut().expect("inside a document");
                doc.top = Some((false, 0, info.node_start));
                return Ok(());
            }
            return Err(SyntaxError::new(
                info.node_start,
                "the top level of the document must be a mapping",
            ));
        }
        if self.expecting_key() {
            if self.stack.len() == 1 {
                self.sops_key_start = info.node_start;
            }
            // sops writes merge keys as `!!merge <<:` (their values expanded): the values
            // under them are bound to the `<<` path like any other. Only an alias could
            // merge a mapping under a name of an editor's choosing, and aliases are noted.
            let merge = value == "<<"
                && tag.is_some_and(|t| {
                    (t.handle == "!!" || t.handle == "tag:yaml.org,2002:") && t.suffix == "merge"
                });
            if tag.is_some() && !merge {
                self.note_loose(info.node_start, LOOSE_TAG);
            }
            self.set_key(
                CompactString::from(value),
                info.node_start..info.occupied.end,
            );
            self.last_token_end = info.occupied.end;
            return Ok(());
        }
        if self.at_top_sops_value() {
            return Err(SyntaxError::new(info.node_start, SOPS_NOT_MAPPING));
        }
        if tag.is_some() {
            self.note_loose(info.node_start, LOOSE_TAG);
        }
        let text = self.text(value, info);
        let typed = match (tag, style) {
            (Some(t), _) if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" => {
                resolve::tagged(&t.suffix, text)
            }
            (None, ScalarStyle::Plain) => resolve::plain(text),
            _ => Scalar::Str(text),
        };
        if let Some(t) = tag
            && (t.handle == "tag:yaml.org,2002:" || t.handle == "!!")
            && t.suffix == "binary"
            && !value.starts_with(crate::codec::token::PREFIX)
            && (matches!(info.style, Style::Block(_)) || !resolve::binary_is_text(value))
        {
            // sops encrypts the decoded bytes as a string; sealed keeps values as text and
            // cannot put a token after a block scalar's tag.
            return Err(SyntaxError::new(
                info.node_start,
                "a !!binary value must be UTF-8 text written on the tag's line to be \
                 encrypted (sops encrypts the decoded bytes); write it as a plain string",
            ));
        }
        let leaf_index = self.items().len();
        let comment_item = self.comment_item(value, info);
        if comment_item.is_some()
            && let Some(f) = self.stack.last_mut()
        {
            f.comment_items += 1;
            f.first_comment_item.get_or_insert(leaf_index);
        }
        let leaf = Leaf {
            path: self.value_path(),
            span: info.span.clone(),
            value: typed,
            style: info.style.clone(),
            in_flow: self.in_flow(),
            depth: self.depth(),
            comment_item,
        };
        self.items().push(Item::Leaf(leaf));
        let mut end = info.occupied.end;
        let mut node_span = info.span.clone();
        if value.is_empty() && style == ScalarStyle::Plain && info.span.is_empty() {
            // An implicit null: the entry ends after its `:`.
            let rest = &self.src[end..];
            let trimmed = rest.trim_start_matches([' ', '\t']);
            if trimmed.starts_with(':') {
                end += rest.len() - trimmed.len() + 1;
                node_span = end..end;
            }
        }
        let header = info
            .comment_gap
            .as_ref()
            .map(|gap| info.occupied.start..gap.start);
        if header.is_some() {
            node_span = info.occupied.clone();
        }
        self.add_node(
            NodeKind::Scalar,
            false,
            info.node_start,
            node_span,
            header,
            Some(leaf_index),
        );
        self.value_done(end);
        Ok(())
    }

    /// A block sequence item of the current frame that holds a `type:comment` token (how
    /// SOPS stores a comment inside a sequence): it goes from its `-` through the token.
    pub(super) fn comment_item(&self, value: &str, info: &ScalarInfo) -> Option<Box<CommentItem>> {
        let f = self.stack.last()?;
        if !matches!(f.kind, Kind::Seq)
            || f.flow
            || !(value.starts_with(crate::codec::token::PREFIX)
                && value.ends_with(",type:comment]"))
            || matches!(info.style, Style::Block(_))
        {
            return None;
        }
        let dash = dash_before(self.src, info.node_start)?;
        let between = &self.src[dash + 1..info.node_start];
        if !between
            .bytes()
            .all(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        {
            return None;
        }
        Some(Box::new(CommentItem {
            range: dash..info.span.end,
            lead: String::new(),
        }))
    }

    /// A block sequence `f` that has just ended held only comment items: once they are
    /// comments again, what remains is an empty sequence, `[]`, which the first one writes.
    /// After the parent's `key:` when only white space separates them (`key: [] # c`, as a
    /// sops comment item usually comes from), else in place of the first `-`, indented
    /// past the parent if the sequence was not (`key:` then `- c` at the key's column).
    pub(super) fn empty_comment_sequence(&mut self, f: &Frame) {
        let Some(i) = f.first_comment_item else {
            return;
        };
        let src = self.src;
        let ws = |t: &str| t.bytes().all(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'));
        let Some(dash) = (match self.items().get(i) {
            Some(Item::Leaf(l)) => l.comment_item.as_ref().map(|c| c.range.start),
            _ => None,
        }) else {
            return;
        };
        let parent = self.stack.last();
        let after_colon = parent.and_then(|p| p.key_span.as_ref()).and_then(|key| {
            let colon = key.end + src[key.end..dash].find(':')?;
            (ws(&src[key.end..colon]) && ws(&src[colon + 1..dash])).then_some(colon + 1)
        });
        let (start, lead) = match after_colon {
            Some(at) => (at, " [] ".to_string()),
            None => {
                let ls = line_start(src, dash);
                let col = column_of(src, ls, dash);
                let parent_col = parent.map_or(0, |p| p.column);
                let pad = if ws(&src[ls..dash]) && col <= parent_col {
                    parent_col + 1 - col
                } else {
                    0
                };
                (dash, format!("{}[] ", " ".repeat(pad)))
            }
        };
        if let Some(Item::Leaf(leaf)) = self.items().get_mut(i)
            && let Some(item) = leaf.comment_item.as_mut()
        {
            item.range.start = start;
            item.lead = lead;
        }
    }

    /// A value (scalar, alias or collection) of the current frame has ended at `end`.
    pub(super) fn value_done(&mut self, end: usize) {
        self.last_token_end = end;
        let depth = self.depth();
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        if let Kind::Map { key } = &mut frame.kind {
            *key = None;
        } else {
            frame.index += 1;
        }
        frame.last_end = Some(end);
        if self.stack.len() == 1
            && let Some(doc) = self.doc.as_mut()
        {
            doc.last_member_end = Some(end);
        }
        self.items().push(Item::EntryEnd(depth));
    }

    pub(super) fn skip_event(
        &mut self,
        ev: &Event<'_>,
        start: usize,
        end: usize,
        info: Option<&ScalarInfo>,
    ) {
        let skip = self.skip.as_mut().expect("skipping");
        match ev {
            Event::MappingStart(..) | Event::SequenceStart(..) => skip.depth += 1,
            Event::MappingEnd | Event::SequenceEnd => {
                skip.depth -= 1;
                if end > start && matches!(self.src.as_bytes()[start], b'}' | b']') {
                    skip.end = skip.end.max(start + 1);
                }
            }
            Event::Scalar(..) => {
                if let Some(i) = info {
                    skip.end = skip.end.max(i.occupied.end);
                }
            }
            Event::Alias(_) => skip.end = skip.end.max(end),
            _ => {}
        }
        // Comments inside a skipped subtree are not items.
        let skip_end = skip.end;
        while self.next_comment < self.comments.len()
            && self.comments[self.next_comment].0 < skip_end.max(start)
        {
            self.next_comment += 1;
        }
        if self.skip.as_ref().is_some_and(|s| s.depth == 0) {
            let skip = self.skip.take().expect("skipping");
            match skip.sops {
                None => {
                    let text = CompactString::from(&self.src[skip.start..skip.end]);
                    self.set_key(text, skip.start..skip.end);
                }
                Some(s) => self.finish_sops(s, skip.end),
            }
        }
    }

    pub(super) fn finish_sops(&mut self, s: SopsSkip, value_end: usize) {
        let src = self.src;
        let (flow, _, top_start) = self
            .doc
            .as_ref()
            .and_then(|d| d.top)
            .unwrap_or((false, 0, 0));
        let removal = if flow {
            let start = s.prev_member_end.unwrap_or(top_start + 1);
            let mut end = value_end;
            if s.prev_member_end.is_none() {
                let rest = &src[end..];
                let trimmed = rest.trim_start();
                if trimmed.starts_with(',') {
                    end += rest.len() - trimmed.len() + 1;
                }
            }
            start..end
        } else {
            let ls = line_start(src, s.key_start);
            let doc_start = self.doc.as_ref().map_or(0, |d| d.start);
            if ls > doc_start && ls > 0 {
                let eol_len = if src.as_bytes()[..ls].ends_with(b"\r\n") {
                    2
                } else {
                    1
                };
                ls - eol_len..value_end
            } else {
                ls..next_line(src, value_end)
            }
        };
        let text_start = if flow {
            s.key_start
        } else {
            line_start(src, s.key_start)
        };
        let value = yaml_value::load(&src[text_start..value_end])
            .ok()
            .and_then(|docs| docs.into_iter().next())
            .and_then(|v| v.get("sops").cloned())
            .unwrap_or(serde_json::Value::Null);
        let entry = SopsEntry {
            value,
            removal,
            restore: "",
        };
        if let Some(doc) = self.doc.as_mut() {
            doc.sops = Some(entry);
        }
        if let Some(Frame {
            kind: Kind::Map { key },
            ..
        }) = self.stack.last_mut()
        {
            *key = None;
        }
    }
}

/// A block scalar (`|`, `>`) whose last line ends the file without a line break has no
/// final line break (YAML 1.2, 8.1.1.2: clip and keep keep the final break only when there
/// is one), as yaml.v3 and so sops read it; saphyr-parser adds one. `at_eof`: the scalar's
/// content runs to the end of `src`.
pub(super) fn block_at_eof<'v>(
    src: &str,
    style: ScalarStyle,
    value: &'v str,
    at_eof: bool,
) -> &'v str {
    let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
    if block && at_eof && !src.ends_with(['\n', '\r']) {
        value.strip_suffix('\n').unwrap_or(value)
    } else {
        value
    }
}

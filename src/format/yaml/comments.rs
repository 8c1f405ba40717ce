//! Comments (pass 2 and their attachment): the scanner over the bytes no scalar covers, and
//! the rules that attach each comment to the innermost open collection whose column it
//! does not precede.

use super::*;

impl<'s> Walk<'s> {
    /// Flushes the comments before `before` that sit on the line where `at` is.
    pub(super) fn flush_comments_on_line_of(&mut self, at: usize, before: usize) {
        let line_end = line_end(self.src, at.min(self.src.len()));
        self.flush_comments(before.min(line_end.max(at)));
    }

    /// Flushes consecutive comments before `before` whose column is greater than `col`.
    pub(super) fn flush_comments_deeper_than(&mut self, col: usize, before: usize) {
        while let Some((hash, _)) = self.comments.get(self.next_comment) {
            let hash = *hash;
            if hash >= before || column_of(self.src, line_start(self.src, hash), hash) <= col {
                break;
            }
            self.flush_comments_into(hash + 1, self.stack.len().checked_sub(1));
        }
    }

    pub(super) fn flush_comments(&mut self, before: usize) {
        self.flush_comments_into(before, None);
    }

    /// Records the comments between the scan position and `to` (bytes no scalar covers).
    pub(super) fn scan_comments(&mut self, to: usize) {
        let src = self.src;
        let b = src.as_bytes();
        let mut i = self.scan_pos;
        while i < to {
            let Some(k) = memchr(b'#', &b[i..to]) else {
                break;
            };
            let h = i + k;
            let prev_ok = h == 0
                || matches!(b[h - 1], b' ' | b'\t' | b'\n' | b'\r')
                || (h == 3 && src.starts_with('\u{feff}'));
            if prev_ok {
                let e = line_end(src, h);
                self.comments.push((h, h + 1..e));
                i = e.max(h + 1);
            } else {
                i = h + 1;
            }
        }
        self.scan_pos = self.scan_pos.max(i).max(to);
    }

    /// Flushes comments before `before` into frame `force` (or the innermost frame whose
    /// column the comment does not precede).
    pub(super) fn flush_comments_into(&mut self, before: usize, force: Option<usize>) {
        while self.next_comment < self.comments.len() && self.comments[self.next_comment].0 < before
        {
            let (hash, span) = self.comments[self.next_comment].clone();
            self.next_comment += 1;
            if self.doc.is_none() {
                continue;
            }
            let col = column_of(self.src, line_start(self.src, hash), hash);
            let idx = force.unwrap_or_else(|| {
                self.stack
                    .iter()
                    .rposition(|f| f.flow || col >= f.column)
                    .unwrap_or(0)
            });
            let path = self
                .stack
                .get(idx)
                .map(|f| f.path.clone())
                .unwrap_or_default();
            self.items().push(Item::Comment(Comment {
                path,
                span,
                depth: idx,
            }));
        }
    }

    pub(super) fn finish_doc(&mut self, doc_end: usize) -> Result<(), SyntaxError> {
        let Some(mut doc) = self.doc.take() else {
            return Ok(());
        };
        // A first document without `---` that holds only the metadata, after comments at
        // most (SOPS's spelling of an empty first document): decrypting keeps a `---` so
        // that it stays a document.
        if let (Some(sops), Some((false, ..)), None, true, false) = (
            doc.sops.as_mut(),
            doc.top,
            doc.last_member_end,
            self.docs.is_empty(),
            doc.explicit,
        ) && self.src[doc.start.max(self.bom)..sops.removal.start]
            .lines()
            .all(|l| matches!(l.trim_start().bytes().next(), None | Some(b'#')))
        {
            let eol = if self.src[..sops.removal.end].ends_with("\r\n") {
                "---\r\n"
            } else {
                "---\n"
            };
            sops.restore = match self.src.as_bytes().get(sops.removal.start) {
                Some(b'\r') => "\r\n---",
                Some(b'\n') => "\n---",
                _ => eol,
            };
        }
        let Some((flow, column, top_start)) = doc.top else {
            return Err(SyntaxError::new(
                doc.start.max(self.bom),
                "the top level of the document must be a mapping",
            ));
        };
        let insertion = if flow {
            match doc.last_member_end.filter(|_| doc.items.top_entry_ended()) {
                Some(at) => Insertion::Flow { at, empty: false },
                None => Insertion::Flow {
                    at: top_start + 1,
                    empty: true,
                },
            }
        } else {
            // A BOM that starts a line after the last member prefixes a next document (a
            // document cannot hold one): the metadata goes before it.
            let from = doc.last_member_end.unwrap_or(doc.start).min(doc_end);
            let doc_end = self.src[from..doc_end]
                .match_indices('\u{feff}')
                .map(|(i, _)| from + i)
                .find(|&i| line_start(self.src, i) == i)
                .unwrap_or(doc_end);
            let content = &self.src[..doc_end];
            let at = if content.ends_with("\r\n") {
                doc_end - 2
            } else if content.ends_with(['\n', '\r']) {
                doc_end - 1
            } else {
                doc_end
            };
            Insertion::Block {
                at: at.max(doc.start),
            }
        };
        let _ = self.eol;
        self.docs.push(Document {
            items: doc.items.into_vec(),
            nodes: doc.nodes,
            sops: doc.sops,
            insertion,
            indent_unit: "    ".into(),
            member_indent: " ".repeat(column),
        });
        Ok(())
    }
}

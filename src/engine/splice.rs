//! Splicing replacement texts into a document: one pass writes the output directly when
//! the replacements come in byte order, else through an arena ([`apply`]); [`Shift`] tells
//! where untouched input bytes land in the output.

use std::ops::Range;

use zeroize::Zeroizing;

use crate::codec::wipe;
use crate::format::{Document, Format, Insertion, Item, Outline, Scalar};

use super::error::EngineError;

/// One replacement of a byte range of the input by a range of an arena string (every
/// text of one pass lives in one arena: no allocation per value).
#[derive(Debug, Clone)]
pub(super) struct Splice {
    pub(super) range: Range<usize>,
    pub(super) text: Range<usize>,
}

/// A replacement that cannot be applied: it overlaps another one, or its range is not in
/// the text (a bug in whoever made it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("two edits overlap")]
pub struct Overlap;

/// `src` with every replacement `(range, text)` applied, and where each text starts in the
/// output, in the order given. Replacements go in byte order (two insertions at one offset
/// in the order given); overlapping ones, or one whose range is not in `src`, are refused,
/// never sliced. The output is wiped when dropped (it may hold plaintext).
///
/// The crate's one splice applier: the engine, `edit` (`set`/`unset`) and `team` (edits of
/// `.sops.yaml`) all apply their edits with it.
pub fn apply_splices(
    src: &str,
    edits: &[(Range<usize>, &str)],
) -> Result<(Zeroizing<String>, Vec<usize>), Overlap> {
    let mut order: Vec<usize> = (0..edits.len()).collect();
    order.sort_by_key(|&i| (edits[i].0.start, edits[i].0.end));
    let removed: usize = edits.iter().map(|(r, _)| r.len()).sum();
    let added: usize = edits.iter().map(|(_, t)| t.len()).sum();
    let mut out = Zeroizing::new(String::with_capacity(
        (src.len() + added).saturating_sub(removed),
    ));
    let mut starts = vec![0; edits.len()];
    let mut at = 0;
    for &i in &order {
        let (range, text) = &edits[i];
        let kept = src
            .get(at..range.start)
            .filter(|_| range.end <= src.len())
            .ok_or(Overlap)?;
        out.push_str(kept);
        starts[i] = out.len();
        out.push_str(text);
        at = range.end;
    }
    out.push_str(src.get(at..).ok_or(Overlap)?);
    Ok((out, starts))
}

/// The input with every splice applied (texts taken from `arena`), and where each splice's
/// text starts in the output, in the order given ([`apply_splices`]). Overlapping splices (a
/// parser bug) are refused, never sliced.
pub(super) fn apply(
    src: &str,
    splices: &[Splice],
    arena: &str,
) -> Result<(Zeroizing<String>, Vec<usize>), EngineError> {
    let edits = splices
        .iter()
        .map(|s| Some((s.range.clone(), arena.get(s.text.clone())?)))
        .collect::<Option<Vec<_>>>()
        .ok_or(EngineError::Unsupported)?;
    apply_splices(src, &edits).map_err(|_| EngineError::Unsupported)
}

/// Where the replacement texts of a pass go: straight into the output when each
/// replacement comes after the previous one (a single document: the usual case), else into
/// an arena that [`apply`] splices in at the end. Writing straight saves a copy of the
/// output (for a 2 MB file, 9 MB of memory and a pass over it).
pub(super) struct Texts<'s> {
    src: &'s str,
    direct: bool,
    /// The output so far (direct) or the arena (wiped when dropped: decrypting writes
    /// plaintext into it).
    pub(super) buf: Zeroizing<String>,
    /// Direct: how much of `src` has been copied.
    at: usize,
}

impl<'s> Texts<'s> {
    pub(super) fn new(src: &'s str, direct: bool, capacity: usize) -> Texts<'s> {
        Texts {
            src,
            direct,
            buf: Zeroizing::new(String::with_capacity(capacity)),
            at: 0,
        }
    }

    /// Starts the text that replaces `range`: returns where it starts in `buf`; the caller
    /// appends it to `buf`.
    #[inline]
    pub(super) fn open(&mut self, range: &Range<usize>) -> Result<usize, EngineError> {
        if self.direct {
            let kept = self
                .src
                .get(self.at..range.start)
                .ok_or(EngineError::Unsupported)?;
            wipe::push_str(&mut self.buf, kept);
            self.at = range.end;
        }
        Ok(self.buf.len())
    }

    /// The output, and where each splice's text starts in it.
    pub(super) fn finish(
        mut self,
        splices: &[Splice],
    ) -> Result<(Zeroizing<String>, Vec<usize>), EngineError> {
        if !self.direct {
            return apply(self.src, splices, &self.buf);
        }
        let rest = self.src.get(self.at..).ok_or(EngineError::Unsupported)?;
        wipe::push_str(&mut self.buf, rest);
        let starts = splices.iter().map(|s| s.text.start).collect();
        Ok((self.buf, starts))
    }

    /// Keeps `splice` for [`Texts::finish`] when the texts go into an arena (writing
    /// straight, the output already holds it).
    #[inline]
    pub(super) fn keep(&self, splices: &mut Vec<Splice>, splice: Splice) {
        if !self.direct {
            splices.push(splice);
        }
    }
}

/// Whether every value, comment and the metadata insertion of `outline` come in byte order
/// (so that [`Texts`] can write the output directly).
pub(super) fn in_byte_order(outline: &Outline) -> bool {
    let [doc] = &outline.docs[..] else {
        return false;
    };
    let at = match doc.insertion {
        Insertion::Block { at } | Insertion::Flow { at, .. } => at,
    };
    items_end(doc).is_some_and(|end| at >= end)
}

/// Whether the values and comments of an encrypted `outline`, and then its metadata, come
/// in byte order (so that decrypting can write the output directly).
pub(super) fn sealed_in_byte_order(outline: &Outline) -> bool {
    let [doc] = &outline.docs[..] else {
        return false;
    };
    let Some(sops) = &doc.sops else {
        return false;
    };
    items_end(doc).is_some_and(|end| sops.removal.start >= end)
}

/// Where the last value or comment of `doc` ends, if they come in byte order. A sequence
/// item holding a comment token counts from the start of its item.
fn items_end(doc: &Document) -> Option<usize> {
    let mut end = 0;
    for item in &doc.items {
        let span = match item {
            Item::Leaf(l) => match &l.comment_item {
                Some(c) => c.range.start.min(l.span.start)..c.range.end.max(l.span.end),
                None => l.span.clone(),
            },
            Item::Comment(c) => c.span.clone(),
            Item::EntryEnd(_) => continue,
        };
        if span.start < end {
            return None;
        }
        end = span.end;
    }
    Some(end)
}

/// Where input offsets land in the output once splices are applied.
pub(super) struct Shift {
    /// Splice starts in order, with whether the splice is an insertion.
    starts: Vec<(usize, bool)>,
    /// `before[k]`: the growth caused by the first `k` splices.
    before: Vec<isize>,
}

impl Shift {
    pub(super) fn new(splices: &[Splice]) -> Shift {
        let mut sorted: Vec<&Splice> = splices.iter().collect();
        sorted.sort_by_key(|s| (s.range.start, s.range.end));
        let mut before = vec![0isize];
        for s in &sorted {
            let last = *before.last().expect("not empty");
            before.push(last + s.text.len() as isize - s.range.len() as isize);
        }
        Shift {
            starts: sorted
                .iter()
                .map(|s| (s.range.start, s.range.is_empty()))
                .collect(),
            before,
        }
    }

    /// Whether input bytes no splice touches landed at `got` in the output. An empty
    /// range where text was inserted may sit before or after the insertion.
    pub(super) fn moved_to(&self, r: &Range<usize>, got: &Range<usize>) -> bool {
        let at = |k: usize| (r.start as isize + self.before[k]) as usize;
        let after = self
            .starts
            .partition_point(|&(s, insert)| s < r.start || (s == r.start && insert));
        let before = self.starts.partition_point(|&(s, _)| s < r.start);
        got.len() == r.len()
            && (got.start == at(after) || (r.is_empty() && got.start == at(before)))
    }
}

/// The insertions that add `meta` to every document of a file that has none (texts
/// written through `texts`).
pub(super) fn metadata_splices(
    format: &dyn Format,
    outline: &Outline,
    meta: &serde_json::Value,
    texts: &mut Texts<'_>,
) -> Result<Vec<Splice>, EngineError> {
    let mut splices = Vec::with_capacity(outline.docs.len());
    for doc in &outline.docs {
        let text = format.metadata_text(meta, outline, doc);
        let (at, lead) = match doc.insertion {
            Insertion::Block { at } => (at, outline.eol),
            Insertion::Flow { at, empty } => (at, if empty { "" } else { "," }),
        };
        let start = texts.open(&(at..at))?;
        texts.buf.push_str(lead);
        texts.buf.push_str(&text);
        splices.push(Splice {
            range: at..at,
            text: start..texts.buf.len(),
        });
    }
    Ok(splices)
}

/// The size of the decryption of `src`, near enough to size its buffer once: the source
/// without its metadata, each token replaced by its data's decoded length (a token's
/// other fields take at least 107 bytes) and two bytes for quotes.
pub(super) fn plaintext_len_estimate(src: &str, outline: &Outline) -> usize {
    let mut len = src.len();
    for doc in &outline.docs {
        if let Some(s) = &doc.sops {
            len = len.saturating_sub(s.removal.len());
        }
        for item in &doc.items {
            if let Item::Leaf(l) = item
                && let Scalar::Str(t) = &l.value
            {
                let plain = t.len().saturating_sub(107).div_ceil(4) * 3 + 2;
                len = (len + plain).saturating_sub(l.span.len());
            }
        }
    }
    len
}

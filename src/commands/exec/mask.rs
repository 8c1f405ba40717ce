//! `sealed exec --mask`: the command's standard output and error pass through sealed, with
//! every secret value replaced by [`MASK`].
//!
//! One Aho-Corasick automaton (leftmost-longest) holds every value; each stream is masked
//! as it comes, chunk by chunk, by a [`Masker`] that keeps back only the bytes that could
//! still begin a value (at most the longest value's length minus one). What cannot begin a
//! value is written at once, so prompts and slowly arriving lines are not held back; a
//! value split across writes is still found. The result is the same as masking the whole
//! stream at once (leftmost-longest, non-overlapping).

use std::io::{Read, Write};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Input, MatchKind};
use zeroize::Zeroizing;

use crate::error::{Error, exit};

/// What a secret value is replaced with.
pub const MASK: &[u8] = b"*****";

/// Values shorter than this are not masked by default (`--mask-min-len`).
pub const DEFAULT_MIN_LEN: usize = 4;

/// The values to mask, and the automaton that finds them.
pub struct Patterns {
    ac: AhoCorasick,
    /// Every pattern, sorted: the ones that begin with a given text are a contiguous run.
    sorted: Vec<Zeroizing<Vec<u8>>>,
    /// The longest pattern's length.
    longest: usize,
}

impl Patterns {
    /// The patterns for `values`: each value of at least `min_len` bytes, each line of a
    /// multi-line value of at least `min_len` bytes, and the JSON-escaped spelling of a
    /// value when it differs (a value with a quote, backslash, line break or control
    /// character, as a program logging JSON prints it). `None` when nothing is left.
    pub fn new<'a>(
        values: impl IntoIterator<Item = &'a str>,
        min_len: usize,
    ) -> Result<Option<Patterns>, Error> {
        let min_len = min_len.max(1);
        let mut all: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut add = |s: &str| {
            if s.len() >= min_len {
                all.push(Zeroizing::new(s.as_bytes().to_vec()));
            }
        };
        for v in values {
            add(v);
            if v.contains('\n') {
                for line in v.split('\n') {
                    add(line.strip_suffix('\r').unwrap_or(line));
                }
            }
            let json = Zeroizing::new(serde_json::to_string(v).unwrap_or_default());
            if let Some(inner) = json.get(1..json.len().saturating_sub(1))
                && inner != v
            {
                add(inner);
            }
        }
        all.sort_unstable_by(|a, b| a.as_slice().cmp(b.as_slice()));
        all.dedup_by(|a, b| a.as_slice() == b.as_slice());
        if all.is_empty() {
            return Ok(None);
        }
        // A DFA is the fastest search (one table lookup a byte); very many or very long
        // values may exceed its size limit, then the crate picks an NFA.
        let build = |kind| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(kind)
                .build(all.iter().map(|p| p.as_slice()))
        };
        let ac = build(Some(AhoCorasickKind::DFA))
            .or_else(|_| build(None))
            .map_err(|e| Error::other(exit::GENERIC, format!("--mask: {e}")))?;
        let longest = all.iter().map(|p| p.len()).max().unwrap_or(0);
        Ok(Some(Patterns {
            ac,
            sorted: all,
            longest,
        }))
    }

    /// How many patterns there are.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are none (never: [`Patterns::new`] gives `None` then).
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Whether some pattern is longer than `text` and begins with it: `text`, at the end
    /// of what has come so far, may be the start of a value still arriving.
    fn continues(&self, text: &[u8]) -> bool {
        let i = self.sorted.partition_point(|p| p.as_slice() < text);
        self.sorted[i..]
            .iter()
            .take_while(|p| p.starts_with(text))
            .any(|p| p.len() > text.len())
    }
}

/// Masks one stream: feed it what comes, in any pieces; [`Masker::finish`] at the end.
pub struct Masker<'p> {
    patterns: &'p Patterns,
    /// The bytes kept back: what could still begin a value, then the chunk being read.
    buf: Zeroizing<Vec<u8>>,
    /// Output ready to be written.
    out: Zeroizing<Vec<u8>>,
}

impl<'p> Masker<'p> {
    /// A masker with nothing kept back.
    pub fn new(patterns: &'p Patterns) -> Masker<'p> {
        Masker {
            patterns,
            buf: Zeroizing::new(Vec::new()),
            out: Zeroizing::new(Vec::new()),
        }
    }

    /// Takes `chunk` and returns what can be written now.
    pub fn push(&mut self, chunk: &[u8]) -> &[u8] {
        self.buf.extend_from_slice(chunk);
        self.process(false);
        &self.out
    }

    /// The end of the stream: everything left, masked.
    pub fn finish(&mut self) -> &[u8] {
        self.process(true);
        &self.out
    }

    /// Moves to `out` every byte of `buf` whose fate is known (all of them at the end).
    fn process(&mut self, end: bool) {
        self.out.clear();
        let (buf, out, p) = (&self.buf[..], &mut self.out, self.patterns);
        let len = buf.len();
        // A value that starts before `safe` ends within `buf`: the matches there are final.
        let safe = if end {
            len
        } else {
            len.saturating_sub(p.longest.saturating_sub(1))
        };
        let mut pos = 0;
        let mut next = p.ac.find(Input::new(buf));
        while let Some(m) = next {
            if m.start() >= safe {
                break;
            }
            out.extend_from_slice(&buf[pos..m.start()]);
            out.extend_from_slice(MASK);
            pos = m.end();
            next = p.ac.find(Input::new(buf).range(pos..));
        }
        // The tail: keep from the first byte that may begin a longer value than what has
        // come; a complete value that nothing longer could extend is masked now.
        let mut j = pos.max(safe);
        let mut keep = len;
        while j < len {
            if !end && p.continues(&buf[j..]) {
                keep = j;
                break;
            }
            match next {
                Some(m) if m.start() == j => {
                    out.extend_from_slice(&buf[pos..j]);
                    out.extend_from_slice(MASK);
                    pos = m.end();
                    j = pos;
                    next = p.ac.find(Input::new(buf).range(pos..));
                }
                _ => j += 1,
            }
        }
        let keep = keep.max(pos);
        out.extend_from_slice(&buf[pos..keep]);
        self.buf.drain(..keep);
    }
}

/// Copies `from` to `to` masked, writing as soon as something is known, until the end of
/// `from`. A write error (the reader went away) stops the copy: `from` is then dropped by
/// the caller, and the command gets SIGPIPE or EPIPE as it would without sealed.
pub fn pump(patterns: &Patterns, mut from: impl Read, mut to: impl Write) {
    let mut masker = Masker::new(patterns);
    let mut chunk = Zeroizing::new(vec![0u8; 64 * 1024]);
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let ready = masker.push(&chunk[..n]);
        if !ready.is_empty() && (to.write_all(ready).is_err() || to.flush().is_err()) {
            return;
        }
    }
    let rest = masker.finish();
    let _ = to.write_all(rest);
    let _ = to.flush();
}

#[cfg(test)]
mod tests;

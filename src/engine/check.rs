//! The check of every encryption's output before it is written: the output is parsed
//! again (with its tokens cut short, [`cut_tokens`]) and must read back exactly as
//! decrypting will read it.

use std::ops::Range;

use crate::codec::metadata::Metadata;
use crate::codec::token::{self, TokenText, is_token};
use crate::format::{Format, Item, Outline, Scalar, Style};

use super::error::EngineError;
use super::select::{CommentStack, Selector};
use super::splice::{Shift, Splice};

/// What encrypting did with one item of the walk, for the verification (small: there is
/// one per item).
#[derive(Clone, Copy)]
pub(super) struct Expect {
    /// The selection rules say it is encrypted.
    pub(super) encrypt: bool,
    /// The index of its splice (and [`Planned`]) when it was replaced by a token.
    pub(super) splice: Option<u32>,
}

/// A value or comment replaced by a token (one per splice).
pub(super) struct Planned {
    /// Where the token sits in the splice text.
    pub(super) token: Range<usize>,
    /// The style the syntax said the text parses back as, when it is not the style the
    /// value had.
    pub(super) style: Option<Box<Style>>,
}

/// The text [`Check`] parses: `out` with the base64 of every token's `data`, `iv` and `tag`
/// cut to its first character (`ENC[AES256_GCM,data:Q,iv:x,tag:7,type:str]`), and the
/// splices, starts and planned tokens amended to describe it.
///
/// Every syntax reads a run of base64 characters inside a token as it reads one of them:
/// they are letters, digits, `+`, `/` and `=`, which end nothing and start nothing in the
/// middle of a YAML plain, quoted or block scalar, a JSON string, a .env value or a
/// comment, and a shorter token leaves every later line where it was. So the structure
/// parsed from the cut text is the structure of `out`, and checking it checks `out`, while
/// the parser reads 45 bytes of each token instead of 150: the parse of the output is
/// most of what encrypting costs (docs/performance.md). The metadata is kept whole.
pub(super) fn cut_tokens(
    out: &str,
    splices: &mut [Splice],
    starts: &mut [usize],
    planned: &mut [Planned],
    first_meta: usize,
) -> String {
    let mut order: Vec<usize> = (0..splices.len()).collect();
    if !starts.is_sorted() {
        order.sort_by_key(|&i| starts[i]);
    }
    let mut cut = String::with_capacity(out.len());
    let mut at = 0;
    for i in order {
        let (start, len) = (starts[i], splices[i].text.len());
        cut.push_str(&out[at..start]);
        let new_start = cut.len();
        let text = &out[start..start + len];
        if i < first_meta {
            let token = planned[i].token.clone();
            cut.push_str(&text[..token.start]);
            let token_start = cut.len() - new_start;
            push_cut_token(&text[token.clone()], &mut cut);
            planned[i].token = token_start..cut.len() - new_start;
            cut.push_str(&text[token.end..]);
        } else {
            cut.push_str(text);
        }
        starts[i] = new_start;
        splices[i].text = 0..cut.len() - new_start;
        at = start + len;
    }
    cut.push_str(&out[at..]);
    cut
}

/// Appends `token` with its `data`, `iv` and `tag` base64 cut to one character (anything
/// that is not such a token is appended whole).
pub(super) fn push_cut_token(token: &str, out: &mut String) {
    const BASE64: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            table[b] = c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=');
            b += 1;
        }
        table
    };
    let base64 = |run: &str| !run.is_empty() && run.bytes().all(|b| BASE64[b as usize]);
    let body = token.trim_end();
    match TokenText::split(body) {
        Ok(t) if base64(t.data) && base64(t.iv) && base64(t.tag) => {
            out.push_str(token::PREFIX);
            out.push_str(&t.data[..1]);
            out.push_str(",iv:");
            out.push_str(&t.iv[..1]);
            out.push_str(",tag:");
            out.push_str(&t.tag[..1]);
            out.push_str(",type:");
            out.push_str(t.kind);
            out.push(']');
            out.push_str(&token[body.len()..]);
        }
        _ => out.push_str(token),
    }
}

/// Nothing is written that would not decrypt back to the input. The output is parsed
/// again and every item must come back as decrypting will read it: same key path, depth
/// and selection, each token exactly where it was put with the style its spelling was
/// checked against, every other byte shifted but unchanged, and each metadata block
/// exactly the inserted text. Decrypting is then the inverse of the splices (the
/// ciphertext itself is AES-GCM's). A mismatch (a parser bug) becomes a clean refusal
/// instead of a file that can no longer be opened.
pub(super) struct Check<'a> {
    pub(super) before: &'a Outline<'a>,
    pub(super) expects: &'a [Expect],
    pub(super) planned: &'a [Planned],
    pub(super) splices: &'a [Splice],
    pub(super) starts: &'a [usize],
    pub(super) first_meta: usize,
    pub(super) meta: &'a serde_json::Value,
}

impl Check<'_> {
    pub(super) fn verify(
        &self,
        out: &str,
        format: &dyn Format,
        selector: &Selector,
    ) -> Result<(), EngineError> {
        let bad = || EngineError::Unsupported;
        let after = format.parse_lean(out).map_err(|_| bad())?;
        if after.docs.len() != self.before.docs.len() {
            return Err(bad());
        }
        let meta = Metadata::from_value(self.meta).map_err(|_| bad())?;
        let shift = Shift::new(self.splices);
        let placed = |i: usize| self.starts[i]..self.starts[i] + self.splices[i].text.len();
        let mut expects = self.expects.iter();
        for (k, (a, b)) in self.before.docs.iter().zip(&after.docs).enumerate() {
            let sops = b.sops.as_ref().ok_or_else(bad)?;
            if sops.removal != placed(self.first_meta + k)
                || Metadata::from_value(&sops.value).ok().as_ref() != Some(&meta)
            {
                return Err(bad());
            }
            if a.items.len() != b.items.len() {
                return Err(bad());
            }
            let mut stack = CommentStack::default();
            for (x, y) in a.items.iter().zip(&b.items) {
                let e = expects.next().ok_or_else(bad)?;
                let ok = match (x, y) {
                    (Item::Leaf(x), Item::Leaf(y)) => {
                        x.path == y.path
                            && x.depth == y.depth
                            && x.in_flow == y.in_flow
                            && selector.should_encrypt(&y.path, stack.at(y.depth), false)
                                == e.encrypt
                            && match e.splice.map(|i| i as usize) {
                                Some(i) => {
                                    let p = &self.planned[i];
                                    let at = self.starts[i];
                                    let token = &out[at + p.token.start..at + p.token.end];
                                    y.span == placed(i)
                                        && y.style == *p.style.as_deref().unwrap_or(&x.style)
                                        && matches!(&y.value, Scalar::Str(t) if t.trim_end() == token)
                                }
                                // An implicit null has no bytes: where the parser puts it
                                // does not matter to decrypting.
                                None => {
                                    (shift.moved_to(&x.span, &y.span)
                                        || x.span.is_empty() && y.span.is_empty())
                                        && y.style == x.style
                                        && same_scalar(&x.value, &y.value)
                                }
                            }
                    }
                    (Item::Comment(x), Item::Comment(y)) => {
                        let text = out.get(y.span.clone()).ok_or_else(bad)?;
                        let opens =
                            selector.should_encrypt(&y.path, stack.push(y.depth, text, true), true);
                        x.path == y.path
                            && x.depth == y.depth
                            && opens == e.encrypt
                            && match e.splice {
                                Some(i) => y.span == placed(i as usize),
                                None => {
                                    shift.moved_to(&x.span, &y.span) && !(opens && is_token(text))
                                }
                            }
                    }
                    (Item::EntryEnd(x), Item::EntryEnd(y)) => {
                        stack.entry_end(*y);
                        x == y
                    }
                    _ => false,
                };
                if !ok {
                    return Err(bad());
                }
            }
        }
        Ok(())
    }
}

/// Scalar equality with floats compared bit for bit (NaN included).
fn same_scalar(a: &Scalar, b: &Scalar) -> bool {
    match (a, b) {
        (Scalar::Float(x), Scalar::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

//! Opening an encrypted document: [`Sealed`] parses it and reads its metadata, then
//! decrypts every token, checks the MAC before any text is returned, restores original
//! spellings from sealed's field and checks the layout digest.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::codec::layout::{SealedField, layout_digest, same_digest};
use crate::codec::mac::{MacHasher, open_mac};
use crate::codec::metadata::{Metadata, SEALED_FIELD};
use crate::codec::token::{DataKey, Token, TokenText, is_token};
use crate::codec::wipe;
use crate::codec::{CodecError, value};
use crate::format::tree::{Node as TreeNode, Opened};
use crate::format::{Comment, Detail, Format, Item, KeyPath, Leaf, Outline, Scalar};

use super::error::EngineError;
use super::seal::{Reuse, SEALED_AAD};
use super::select::{CommentStack, Selector};
use super::splice::{
    Splice, Texts, apply, metadata_splices, plaintext_len_estimate, sealed_in_byte_order,
};

/// An encrypted document, parsed and with its metadata read, ready to decrypt.
pub struct Sealed<'a> {
    pub(super) src: &'a str,
    pub(super) format: &'a dyn Format,
    pub(super) outline: Outline<'a>,
    /// The document's metadata.
    pub metadata: Metadata,
    /// Read a layout that is not authenticated (`SEALED_ALLOW_UNAUTHENTICATED=1`) instead
    /// of refusing it.
    allow_unauthenticated: bool,
    /// Skip the MAC check (`--ignore-mac`, sops's flag): the caller warns the user.
    ignore_mac: bool,
    /// After a decrypt: whether sealed's layout digest authenticated the whole document.
    layout_authenticated: std::cell::Cell<bool>,
}

/// The variable that lets a user read a file whose layout is not authenticated (a YAML
/// alias, merge key or tag in a file sops wrote, or a file changed outside its values).
pub const ALLOW_UNAUTHENTICATED_VAR: &str = "SEALED_ALLOW_UNAUTHENTICATED";

impl<'a> Sealed<'a> {
    /// Parses an encrypted document.
    pub fn parse(src: &'a str, format: &'a dyn Format) -> Result<Sealed<'a>, EngineError> {
        Sealed::parse_detail(src, format, Detail::Lean)
    }

    /// Parses an encrypted document whose values will be read as a tree
    /// ([`Sealed::decrypt_to_tree`]): the outline also records the document's nodes.
    pub fn parse_for_tree(src: &'a str, format: &'a dyn Format) -> Result<Sealed<'a>, EngineError> {
        Sealed::parse_detail(src, format, Detail::BoundedTree)
    }

    fn parse_detail(
        src: &'a str,
        format: &'a dyn Format,
        detail: Detail,
    ) -> Result<Sealed<'a>, EngineError> {
        let outline = format
            .parse_detail(src, detail)
            .map_err(EngineError::Syntax)?;
        let first = outline
            .docs
            .iter()
            .find_map(|d| d.sops.as_ref())
            .ok_or(EngineError::NotEncrypted)?;
        // One metadata block, unambiguous: sops reads it from the first document only,
        // so it must be there; every other document that carries one (sops writes the
        // same block into each YAML document) carries the same.
        if outline.docs.first().is_some_and(|d| d.sops.is_none()) {
            return Err(EngineError::AmbiguousMetadata {
                offset: first.removal.start,
            });
        }
        if let Some(other) = outline
            .docs
            .iter()
            .filter_map(|d| d.sops.as_ref())
            .find(|s| s.value != first.value)
        {
            return Err(EngineError::AmbiguousMetadata {
                offset: other.removal.start,
            });
        }
        let metadata = Metadata::from_value(&first.value).map_err(EngineError::Metadata)?;
        Ok(Sealed {
            src,
            format,
            outline,
            metadata,
            allow_unauthenticated: std::env::var_os(ALLOW_UNAUTHENTICATED_VAR)
                .is_some_and(|v| v == "1"),
            ignore_mac: false,
            layout_authenticated: std::cell::Cell::new(false),
        })
    }

    /// After a successful decrypt: whether the whole decrypted document (keys, nulls,
    /// empty and clear values, comments, aliases, tags) was authenticated by sealed's
    /// layout digest, not only its values by the MAC.
    pub fn layout_authenticated(&self) -> bool {
        self.layout_authenticated.get()
    }

    /// Key paths (and byte offsets) of values the rules say are encrypted but that are
    /// stored in clear text — what a blob staged around the filter looks like. Needs no key.
    pub fn unprotected_values(&self) -> Result<Vec<(String, usize)>, EngineError> {
        let selector = Selector::new(&self.metadata.selection)?;
        let mut out = Vec::new();
        for doc in &self.outline.docs {
            let mut stack = CommentStack::default();
            for item in &doc.items {
                match item {
                    Item::Leaf(leaf) => {
                        if !selector.should_encrypt(&leaf.path, stack.at(leaf.depth), false) {
                            continue;
                        }
                        let clear = match &leaf.value {
                            Scalar::Null => false,
                            Scalar::Str(s) => !s.is_empty() && !is_token(s),
                            _ => true,
                        };
                        if clear {
                            out.push((leaf.path.aad(), leaf.span.start));
                        }
                    }
                    Item::Comment(c) => {
                        stack.push(c.depth, &self.src[c.span.clone()], true);
                    }
                    Item::EntryEnd(depth) => stack.entry_end(*depth),
                }
            }
        }
        Ok(out)
    }

    /// From now on, decrypts without checking the MAC or sealed's layout digest (sops's
    /// `--ignore-mac`, chosen on the command line): the document is then not
    /// authenticated ([`Sealed::layout_authenticated`] is false), and a YAML alias or tag
    /// is still refused as without a layout.
    pub fn ignore_mac(&mut self) {
        self.ignore_mac = true;
    }

    /// Decrypts, verifying the MAC before returning anything.
    pub fn decrypt(&self, key: &DataKey) -> Result<Zeroizing<String>, EngineError> {
        self.decrypt_inner(key, None)
    }

    /// [`Sealed::decrypt`], with the decryption's typed tree built from the outline and the
    /// decrypted values when the syntax can ([`Format::tree_from_outline`], after
    /// [`Sealed::parse_for_tree`]); `None`: parse the text instead.
    pub fn decrypt_to_tree(
        &self,
        key: &DataKey,
    ) -> Result<(Zeroizing<String>, Option<TreeNode>), EngineError> {
        let mut opened = Vec::new();
        let collect = self.outline.docs.len() == 1 && !self.outline.docs[0].nodes.is_empty();
        let out = self.decrypt_work(key, None, false, collect.then_some(&mut opened))?;
        let tree = collect
            .then(|| {
                self.format
                    .tree_from_outline(self.src, &self.outline, &opened, &out)
            })
            .flatten();
        Ok((out, tree))
    }

    /// The metadata tree as stored (the first document's), fields sealed does not know
    /// included.
    pub fn metadata_value(&self) -> serde_json::Value {
        self.outline
            .docs
            .iter()
            .find_map(|d| d.sops.as_ref())
            .map(|s| s.value.clone())
            .unwrap_or_default()
    }

    /// The same ciphertext with `meta` as its metadata (for re-wrapping the data key to
    /// other recipients): values, comments and layout are untouched.
    pub fn with_metadata(
        &self,
        meta: &serde_json::Value,
    ) -> Result<Zeroizing<String>, EngineError> {
        let mut restored = String::new();
        let removals: Vec<Splice> = self
            .outline
            .docs
            .iter()
            .filter_map(|d| d.sops.as_ref())
            .map(|s| {
                let start = restored.len();
                restored.push_str(s.restore);
                Splice {
                    range: s.removal.clone(),
                    text: start..restored.len(),
                }
            })
            .collect();
        let (bare, _) = apply(self.src, &removals, &restored)?;
        let outline = self.format.parse(&bare).map_err(EngineError::Syntax)?;
        let mut texts = Texts::new(&bare, false, 0);
        let splices = metadata_splices(self.format, &outline, meta, &mut texts)?;
        Ok(texts.finish(&splices)?.0)
    }

    /// Decrypts the tokens of a file that also holds values typed in clear text where the
    /// rules want them encrypted (a ciphertext file edited by hand without a key): every
    /// token is opened and authenticated by its GCM tag as usual, clear values are kept as
    /// written, and the MAC is **not** checked (those values cannot match it). For the git
    /// clean filter only, which then encrypts the result afresh as plaintext; never a way
    /// to deliver a file's values.
    pub fn decrypt_with_clear_values(
        &self,
        key: &DataKey,
    ) -> Result<Zeroizing<String>, EngineError> {
        self.decrypt_work(key, None, true, None)
    }

    pub(super) fn decrypt_inner(
        &self,
        key: &DataKey,
        reuse: Option<&mut Reuse>,
    ) -> Result<Zeroizing<String>, EngineError> {
        self.decrypt_work(key, reuse, false, None)
    }

    fn decrypt_work(
        &self,
        key: &DataKey,
        mut reuse: Option<&mut Reuse>,
        clear_values: bool,
        mut opened: Option<&mut Vec<Opened>>,
    ) -> Result<Zeroizing<String>, EngineError> {
        let src = self.src;
        let md = &self.metadata;
        if md.mac.is_empty() && !self.ignore_mac {
            return Err(EngineError::MacMissing);
        }
        let field = self.sealed_field(key, reuse.as_deref_mut())?;
        let spellings = &field.spell;
        self.layout_authenticated.set(false);
        // `decrypt_with_clear_values` reads a work-tree file as the user's own input, to be
        // encrypted again: its layout is the user's, not to be checked against the old one.
        if field.layout.is_none() && !clear_values {
            self.refuse_loose()?;
        }
        let selector = Selector::new(&md.selection)?;
        let mut mac = MacHasher::new(md.selection.mac_only_encrypted);
        let direct = sealed_in_byte_order(&self.outline);
        let capacity = if direct {
            plaintext_len_estimate(src, &self.outline)
        } else {
            src.len() / 2
        };
        let mut work = LeafWork {
            out: Texts::new(src, direct, capacity),
            plain: Zeroizing::new(Vec::new()),
            aad: String::new(),
            clear_values,
            collect: opened.is_some(),
            opened: Opened::Kept,
        };
        let mut splices = Vec::new();
        for doc in &self.outline.docs {
            let mut stack = CommentStack::default();
            // The values before and after the current item (a comment may be bound to
            // their paths); the one after, with its index, is looked up once per value.
            let mut last_leaf: Option<&Leaf> = None;
            let mut next_leaf: Option<(usize, Option<&Leaf>)> = None;
            for (index, item) in doc.items.iter().enumerate() {
                match item {
                    Item::Leaf(leaf) => {
                        last_leaf = Some(leaf);
                        let encrypted =
                            selector.should_encrypt(&leaf.path, stack.at(leaf.depth), false);
                        if let Some(s) = self.decrypt_leaf(
                            leaf,
                            encrypted,
                            key,
                            spellings,
                            &mut mac,
                            reuse.as_deref_mut(),
                            &mut work,
                        )? {
                            work.out.keep(&mut splices, s);
                        }
                        if let Some(all) = opened.as_deref_mut() {
                            all.resize_with(index, Opened::default);
                            all.push(std::mem::take(&mut work.opened));
                        }
                    }
                    Item::Comment(c) => {
                        let text = &src[c.span.clone()];
                        let encrypted =
                            selector.should_encrypt(&c.path, stack.push(c.depth, text, true), true);
                        if encrypted && is_token(text) {
                            let next = match next_leaf {
                                Some((at, leaf)) if at > index => leaf,
                                _ => {
                                    let found =
                                        doc.items[index..].iter().enumerate().find_map(|(k, i)| {
                                            match i {
                                                Item::Leaf(l) => Some((index + k, l)),
                                                _ => None,
                                            }
                                        });
                                    let at = found.map_or(doc.items.len(), |(at, _)| at);
                                    next_leaf = Some((at, found.map(|(_, l)| l)));
                                    found.map(|(_, l)| l)
                                }
                            };
                            let near = [last_leaf, next].into_iter().flatten();
                            let (plain, aad) = open_comment(text, c, near, key)?;
                            if let (Some(r), Ok(t)) = (reuse.as_deref_mut(), Token::parse(text)) {
                                r.remember(&aad, "comment", plain.as_bytes(), &t.iv);
                            }
                            let start = work.out.open(&c.span)?;
                            wipe::push_str(&mut work.out.buf, &plain);
                            let text = start..work.out.buf.len();
                            work.out.keep(
                                &mut splices,
                                Splice {
                                    range: c.span.clone(),
                                    text,
                                },
                            );
                        }
                    }
                    Item::EntryEnd(depth) => stack.entry_end(*depth),
                }
            }
            if let Some(all) = opened.as_deref_mut() {
                all.resize_with(doc.items.len(), Opened::default);
            }
        }
        let computed = mac.finish();
        // `decrypt_with_clear_values` does not check the MAC (its clear values cannot match).
        if !clear_values && !self.ignore_mac {
            let stored =
                open_mac(&md.mac, key, &md.lastmodified).map_err(|_| EngineError::MacMismatch)?;
            if !constant_time_eq(stored.as_bytes(), computed.as_bytes()) {
                return Err(EngineError::MacMismatch);
            }
        }
        for doc in &self.outline.docs {
            if let Some(s) = &doc.sops {
                let start = work.out.open(&s.removal)?;
                wipe::push_str(&mut work.out.buf, s.restore);
                let removal = Splice {
                    range: s.removal.clone(),
                    text: start..work.out.buf.len(),
                };
                work.out.keep(&mut splices, removal);
            }
        }
        let out = work.out.finish(&splices)?.0;
        if let Some(recorded) = field.layout.as_ref().filter(|_| !clear_values) {
            if same_digest(recorded, &layout_digest(&out)) {
                self.layout_authenticated.set(true);
            } else if self.allow_unauthenticated || self.ignore_mac {
                self.refuse_loose()?;
            } else {
                return Err(EngineError::LayoutChanged);
            }
        } else if self.format.layout_required()
            && !clear_values
            && !self.allow_unauthenticated
            && !self.ignore_mac
        {
            // A syntax only sealed writes (TOML) always has the digest (sealed refuses
            // `mac_only_encrypted` for it, so that option cannot excuse its absence): it was
            // removed.
            return Err(EngineError::LayoutChanged);
        }
        Ok(out)
    }

    /// Without an authenticated layout, a YAML alias, merge key or tag would let an editor
    /// copy a secret under a name of their choosing or change a value's type: refused,
    /// unless the user allows it ([`ALLOW_UNAUTHENTICATED_VAR`]).
    fn refuse_loose(&self) -> Result<(), EngineError> {
        match self.outline.loose {
            Some((offset, what)) if !self.allow_unauthenticated => {
                Err(EngineError::Unauthenticated { what, offset })
            }
            _ => Ok(()),
        }
    }

    fn sealed_field(
        &self,
        key: &DataKey,
        reuse: Option<&mut Reuse>,
    ) -> Result<SealedField, EngineError> {
        let Some(field) = &self.metadata.sealed else {
            return Ok(SealedField::default());
        };
        let bad = |cause| EngineError::Value {
            path: format!("sops:{SEALED_FIELD}:"),
            offset: 0,
            cause,
        };
        let token = Token::parse(field).map_err(bad)?;
        let json = token.open(key, SEALED_AAD).map_err(bad)?;
        if let Some(r) = reuse {
            r.remember(SEALED_AAD, "str", &json, &token.iv);
        }
        SealedField::from_json(&json).map_err(bad)
    }

    #[allow(clippy::too_many_arguments)]
    fn decrypt_leaf(
        &self,
        leaf: &Leaf,
        encrypted: bool,
        key: &DataKey,
        spellings: &BTreeMap<String, Zeroizing<String>>,
        mac: &mut MacHasher,
        reuse: Option<&mut Reuse>,
        w: &mut LeafWork,
    ) -> Result<Option<Splice>, EngineError> {
        if !encrypted {
            if value::encode_into(&leaf.value, &mut w.plain).is_some() {
                mac.add(&w.plain, false);
            }
            return Ok(None);
        }
        let token_text = match &leaf.value {
            Scalar::Null => return Ok(None),
            Scalar::Str(s) if s.is_empty() => return Ok(None),
            Scalar::Str(s) if is_token(s) => s,
            // Typed in clear text: kept as written (`decrypt_with_clear_values`).
            _ if w.clear_values => return Ok(None),
            _ => {
                return Err(EngineError::Unencrypted {
                    path: leaf.path.aad(),
                    offset: leaf.span.start,
                });
            }
        };
        w.aad.clear();
        leaf.path.write_aad(&mut w.aad);
        let err = |cause| EngineError::Value {
            path: leaf.path.aad(),
            offset: leaf.span.start,
            cause,
        };
        let t = TokenText::split(token_text).map_err(err)?;
        t.open_into(key, w.aad.as_bytes(), &mut w.plain)
            .map_err(err)?;
        let range = match (t.kind, leaf.comment_item.as_deref()) {
            ("comment", Some(item)) => item.range.clone(),
            _ => leaf.span.clone(),
        };
        let start = w.out.open(&range)?;
        if t.kind == "comment" {
            // A comment SOPS stored as a sequence item: not a value, not in the MAC. It
            // goes back as a comment line; anywhere else it has no meaning.
            let bad = || err(CodecError::BadType("comment".into()));
            let item = leaf.comment_item.as_deref().ok_or_else(bad)?;
            let text = std::str::from_utf8(&w.plain).map_err(|_| bad())?;
            if text.contains(['\n', '\r']) {
                return Err(bad());
            }
            if w.collect {
                w.opened = Opened::Unknown;
            }
            wipe::push_str(&mut w.out.buf, &item.lead);
            wipe::push_str(&mut w.out.buf, "#");
            wipe::push_str(&mut w.out.buf, text);
            return Ok(Some(Splice {
                range,
                text: start..w.out.buf.len(),
            }));
        }
        let remember = |r: Option<&mut Reuse>, kind: &str, bytes: &[u8]| {
            let (mut iv, mut tag) = ([0u8; 32], [0u8; 16]);
            if let Some(r) = r
                && t.decode_iv_tag(&mut iv, &mut tag).is_ok()
            {
                r.remember(&w.aad, kind, bytes, &iv);
            }
        };
        let spelled = if spellings.is_empty() {
            None
        } else {
            spellings.get(t.iv)
        };
        if t.kind == "str" {
            // The common case, without an intermediate value.
            let text = std::str::from_utf8(&w.plain).map_err(|_| err(CodecError::NotText))?;
            mac.add(text.as_bytes(), true);
            remember(reuse, "str", text.as_bytes());
            match spelled {
                Some(raw) => wipe::push_str(&mut w.out.buf, raw),
                None => {
                    self.format
                        .render_str_into(&leaf.style, leaf.in_flow, text, &mut w.out.buf)
                }
            }
            // However it is spelled, a string reads back as this string (encrypting checked it).
            if w.collect {
                w.opened = Opened::Str(Zeroizing::new(text.to_owned()));
            }
        } else {
            let value = value::decode(&w.plain, t.kind).map_err(err)?.into_owned();
            if let Some(kind) = value::encode_into(&value, &mut w.plain) {
                mac.add(&w.plain, true);
                remember(reuse, kind, &w.plain);
            }
            match spelled {
                Some(raw) => wipe::push_str(&mut w.out.buf, raw),
                None => crate::format::push_rendered(
                    self.format,
                    &leaf.style,
                    leaf.in_flow,
                    &value,
                    &mut w.out.buf,
                ),
            }
            if w.collect {
                w.opened = Opened::Spelled(Zeroizing::new(w.out.buf[start..].to_owned()));
            }
        }
        Ok(Some(Splice {
            range,
            text: start..w.out.buf.len(),
        }))
    }
}

/// Reusable buffers of a decryption pass.
struct LeafWork<'s> {
    /// The output (or, when values do not come in byte order, the arena of the texts
    /// spliced into it).
    out: Texts<'s>,
    /// The current value's plaintext.
    plain: Zeroizing<Vec<u8>>,
    /// The current value's additional data.
    aad: String,
    /// Keep values typed in clear text instead of refusing them.
    clear_values: bool,
    /// Whether to record what each leaf becomes ([`Sealed::decrypt_to_tree`]).
    collect: bool,
    /// What the last leaf became, when recording.
    opened: Opened,
}

/// Decrypts a comment. SOPS binds a comment to the path of the collection that holds it,
/// and YAML tools disagree on where a comment between two entries belongs, so the paths
/// of the enclosing collections and of the neighbouring values are tried; the tag still
/// authenticates the comment under the data key.
fn open_comment<'l>(
    text: &str,
    c: &Comment,
    near: impl Iterator<Item = &'l Leaf<'l>>,
    key: &DataKey,
) -> Result<(Zeroizing<String>, String), EngineError> {
    let err = || EngineError::Comment {
        offset: c.span.start,
    };
    let token = Token::parse(text).map_err(|_| err())?;
    let prefixes = |p: &KeyPath| {
        let mut all = vec![p.clone()];
        while let Some(parent) = all.last().and_then(KeyPath::parent) {
            all.push(parent.clone());
        }
        all
    };
    let mut candidates: Vec<KeyPath> = Vec::new();
    for leaf in near {
        for p in prefixes(leaf.path.parent().unwrap_or(&leaf.path)) {
            if !candidates.contains(&p) {
                candidates.push(p);
            }
        }
    }
    for path in prefixes(&c.path).into_iter().chain(candidates) {
        let aad = path.aad();
        if let Ok(plain) = token.open(key, &aad) {
            return String::from_utf8(plain.to_vec())
                .map(|p| (Zeroizing::new(p), aad))
                .map_err(|_| err());
        }
    }
    Err(err())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

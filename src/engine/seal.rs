//! The encryption pass: seals every selected value and comment, writes the metadata with
//! the MAC and sealed's own field, and has the output checked before returning it. IVs
//! are fresh, or reused from an earlier version of the file ([`Reuse`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use aes_gcm::aead::{OsRng, rand_core::RngCore};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::codec::layout::{SealedField, layout_digest};
use crate::codec::mac::{MacHasher, seal_mac};
use crate::codec::metadata::SEALED_FIELD;
use crate::codec::token::{self, DataKey, Token};
use crate::codec::value;
use crate::config::Selection;
use crate::format::{Format, Item, Outline, Scalar};

use super::check::{Check, Expect, Planned, cut_tokens};
use super::error::EngineError;
use super::select::{CommentStack, Selector};
use super::splice::{Splice, Texts, in_byte_order, metadata_splices};

/// Additional data of sealed's own metadata field.
pub(super) const SEALED_AAD: &str = "sealed:";

/// Random IVs drawn in one batch (one system call for a whole document).
struct IvPool {
    bytes: Vec<u8>,
    used: usize,
}

impl IvPool {
    fn new(count: usize) -> IvPool {
        let mut bytes = vec![0u8; count.max(1) * 32];
        OsRng.fill_bytes(&mut bytes);
        IvPool { bytes, used: 0 }
    }
    #[inline]
    fn take(&mut self) -> [u8; 32] {
        if self.used + 32 > self.bytes.len() {
            *self = IvPool::new(64);
        }
        let mut iv = [0u8; 32];
        iv.copy_from_slice(&self.bytes[self.used..self.used + 32]);
        self.used += 32;
        iv
    }
}

/// The IV for a value: the reused IV of an identical (path, type, plaintext) if there is
/// one, else a fresh one.
#[inline]
fn next_iv(
    reuse: Option<&Reuse>,
    aad: &str,
    kind: &str,
    plain: &[u8],
    ivs: &mut IvPool,
) -> [u8; 32] {
    reuse
        .and_then(|r| r.iv(aad, kind, plain))
        .and_then(|iv| <[u8; 32]>::try_from(iv.as_slice()).ok())
        .unwrap_or_else(|| ivs.take())
}

/// The current time as SOPS writes `lastmodified`.
fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn leaf_count(outline: &Outline) -> usize {
    outline.docs.iter().map(|d| d.items.len()).sum()
}

/// The warning when a file without an authenticated layout is sealed again.
pub const ADOPTED_LAYOUT: &str = "the file had no layout sealed authenticates (sops wrote it, \
     or its `sealed` field was removed); its keys, nulls, empty and clear values are now \
     authenticated as they stand: review them in the decrypted file";

/// What encrypting noticed that the user should know.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EncryptReport {
    /// YAML aliases in the document (SOPS cannot decrypt aliased encrypted values).
    pub aliases: usize,
    /// A re-encryption whose previous version had no authenticated layout (sops wrote
    /// it, or sealed's field was removed) and whose new version authenticates the layout
    /// as it stands: keys, nulls, empty and clear values an editor may have added become
    /// authenticated. Callers say so, so that the user reviews them.
    pub adopted_layout: bool,
}

/// The IVs of an existing document's tokens, by (key path, type, plaintext) digest: what
/// [`reencrypt`] may reuse. Holds no plaintext. Each remembered IV is handed out at most
/// once, in document order, so two equal values (items of one list, duplicate comments)
/// never end up with the same token.
#[derive(Default)]
pub struct Reuse {
    ivs: RefCell<HashMap<[u8; 32], VecDeque<Vec<u8>>>>,
    used: RefCell<HashSet<Vec<u8>>>,
}

impl Reuse {
    fn digest(aad: &str, kind: &str, plain: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((aad.len() as u64).to_le_bytes());
        h.update(aad.as_bytes());
        h.update((kind.len() as u64).to_le_bytes());
        h.update(kind.as_bytes());
        h.update(plain);
        h.finalize().into()
    }

    pub(super) fn remember(&mut self, aad: &str, kind: &str, plain: &[u8], iv: &[u8]) {
        self.ivs
            .get_mut()
            .entry(Reuse::digest(aad, kind, plain))
            .or_default()
            .push_back(iv.to_vec());
    }

    pub(super) fn iv(&self, aad: &str, kind: &str, plain: &[u8]) -> Option<Vec<u8>> {
        let mut ivs = self.ivs.borrow_mut();
        let queue = ivs.get_mut(&Reuse::digest(aad, kind, plain))?;
        while let Some(iv) = queue.pop_front() {
            if self.used.borrow_mut().insert(iv.clone()) {
                return Some(iv);
            }
        }
        None
    }
}

/// Seals one value (outside the per-value loop: the `sealed` field).
fn seal_value(
    plain: &[u8],
    key: &DataKey,
    aad: &str,
    kind: &str,
    reuse: Option<&Reuse>,
    ivs: &mut IvPool,
) -> Token {
    let iv = next_iv(reuse, aad, kind, plain, ivs);
    Token::seal_with_iv(plain, key, aad, kind, iv.to_vec())
}

/// The shared encryption pass: seals every selected value and comment of `src`, then
/// appends `template` (a metadata tree) with fresh `lastmodified`, `mac` and `sealed`.
pub(super) fn seal_document(
    src: &str,
    format: &dyn Format,
    key: &DataKey,
    selection: &Selection,
    template: &serde_json::Value,
    reuse: Option<&Reuse>,
) -> Result<(Zeroizing<String>, EncryptReport), EngineError> {
    let mut outline = format.parse_lean(src).map_err(EngineError::Syntax)?;
    if outline.docs.iter().any(|d| d.sops.is_some()) {
        return Err(EngineError::AlreadyEncrypted);
    }
    if let (true, Some((offset, what))) = (selection.mac_only_encrypted, outline.loose) {
        return Err(EngineError::LooseWithMacOnly { what, offset });
    }
    // A syntax whose layout is always authenticated (TOML) has no digest-less form: a
    // `mac_only_encrypted` file would have none, and an editor who strips the digest could
    // then turn the option on and rename keys unnoticed.
    if selection.mac_only_encrypted && format.layout_required() {
        return Err(EngineError::MacOnlyWithoutLayout);
    }
    let selector = Selector::new(selection)?;
    let items = leaf_count(&outline);
    let mut ivs = IvPool::new(items);
    let mut mac = MacHasher::new(selection.mac_only_encrypted);
    // Tokens and ciphertext only: nothing secret goes into it.
    let mut texts = Texts::new(src, in_byte_order(&outline), src.len().saturating_mul(4));
    let mut splices = Vec::with_capacity(items);
    let mut expects = Vec::with_capacity(items);
    let mut planned = Vec::with_capacity(items);
    let mut spellings: BTreeMap<String, Zeroizing<String>> = BTreeMap::new();
    let mut plain = Zeroizing::new(Vec::new());
    let mut sealer = token::Sealer::new(key);
    let mut aad = String::new();

    for doc in &mut outline.docs {
        let mut stack = CommentStack::default();
        for item in &mut doc.items {
            let mut expect = Expect {
                encrypt: false,
                splice: None,
            };
            match item {
                Item::Leaf(leaf) => {
                    expect.encrypt =
                        selector.should_encrypt(&leaf.path, stack.at(leaf.depth), false);
                    let Some(kind) = value::encode_into(&leaf.value, &mut plain) else {
                        expects.push(expect);
                        continue;
                    };
                    mac.add(&plain, expect.encrypt);
                    if expect.encrypt && !plain.is_empty() {
                        aad.clear();
                        leaf.path.write_aad(&mut aad);
                        let iv = next_iv(reuse, &aad, kind, &plain, &mut ivs);
                        // Sealed in place (`plain` is not needed any more) and written
                        // straight into the output: a 20 MB value is not copied again.
                        let start = texts.open(&leaf.span)?;
                        let (before, after, style) = format.token_affixes(leaf);
                        texts.buf.push_str(before);
                        let at = texts.buf.len() - start;
                        sealer.seal_buffer_into(
                            &mut texts.buf,
                            &mut plain,
                            aad.as_bytes(),
                            kind,
                            &iv,
                        );
                        let token_len = texts.buf.len() - start - at;
                        texts.buf.push_str(after);
                        let original = &src[leaf.span.clone()];
                        if !format.spelled_canonically(&style, leaf.in_flow, &leaf.value, original)
                        {
                            spellings.insert(B64.encode(iv), Zeroizing::new(original.to_string()));
                        }
                        expect.splice = Some(splices.len() as u32);
                        splices.push(Splice {
                            range: leaf.span.clone(),
                            text: start..texts.buf.len(),
                        });
                        // The verification needs no sealed value: free it (and its memory
                        // for what comes next).
                        leaf.value = Scalar::Null;
                        planned.push(Planned {
                            token: at..at + token_len,
                            style: (style != leaf.style).then(|| Box::new(style)),
                        });
                    }
                }
                Item::Comment(c) => {
                    let text = &src[c.span.clone()];
                    expect.encrypt =
                        selector.should_encrypt(&c.path, stack.push(c.depth, text, true), true);
                    if expect.encrypt && !text.is_empty() {
                        aad.clear();
                        c.path.write_aad(&mut aad);
                        let iv = next_iv(reuse, &aad, "comment", text.as_bytes(), &mut ivs);
                        let start = texts.open(&c.span)?;
                        sealer.seal_into(
                            &mut texts.buf,
                            text.as_bytes(),
                            aad.as_bytes(),
                            "comment",
                            &iv,
                        );
                        expect.splice = Some(splices.len() as u32);
                        splices.push(Splice {
                            range: c.span.clone(),
                            text: start..texts.buf.len(),
                        });
                        planned.push(Planned {
                            token: 0..texts.buf.len() - start,
                            style: None,
                        });
                    }
                }
                Item::EntryEnd(depth) => stack.entry_end(*depth),
            }
            expects.push(expect);
        }
    }

    let lastmodified = now_rfc3339();
    let mut meta_value = template.clone();
    if let Some(m) = meta_value.as_object_mut() {
        m.insert("lastmodified".into(), lastmodified.clone().into());
        m.insert(
            "mac".into(),
            seal_mac(&mac.finish(), key, &lastmodified).into(),
        );
        m.shift_remove(SEALED_FIELD);
        // `mac_only_encrypted` asks for clear values that can be edited by hand: no
        // layout digest then (the file is read as one sops wrote, docs/security.md).
        let field = SealedField {
            spell: spellings,
            layout: (!selection.mac_only_encrypted).then(|| layout_digest(src)),
        };
        if !field.spell.is_empty() || field.layout.is_some() {
            let json = field.to_json();
            drop(field);
            let token = seal_value(json.as_bytes(), key, SEALED_AAD, "str", reuse, &mut ivs);
            m.insert(SEALED_FIELD.into(), token.to_string().into());
        }
    }
    let first_meta = splices.len();
    splices.extend(metadata_splices(format, &outline, &meta_value, &mut texts)?);
    let (out, mut starts) = texts.finish(&splices)?;
    let checked = cut_tokens(&out, &mut splices, &mut starts, &mut planned, first_meta);
    let check = Check {
        before: &outline,
        expects: &expects,
        planned: &planned,
        splices: &splices,
        starts: &starts,
        first_meta,
        meta: &meta_value,
    };
    check.verify(&checked, format, &selector)?;
    Ok((
        out,
        EncryptReport {
            aliases: outline.aliases,
            adopted_layout: false,
        },
    ))
}

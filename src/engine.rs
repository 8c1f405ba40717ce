//! The format-preserving engine, shared by every syntax.
//!
//! Encrypting parses the document once into an [`Outline`], encrypts each selected value
//! and comment, and splices the tokens into the original text in one pass; every other
//! byte stays where it was. Decrypting does the reverse, verifying the MAC before any
//! plaintext leaves this module, and removes exactly the metadata that encrypting added.
//! When the canonical spelling of a value (what [`Format::render`] writes) differs from
//! how it was written, the original spelling travels encrypted in the metadata's
//! `sealed` field, keyed by the value token's IV, so decrypt restores it byte for byte.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::Range;

use aes_gcm::aead::{OsRng, rand_core::RngCore};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use regex::Regex;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::codec::layout::{SealedField, layout_digest, same_digest};
use crate::codec::mac::{MacHasher, open_mac, seal_mac};
use crate::codec::metadata::{AgeEntry, Metadata, SEALED_FIELD, SOPS_VERSION};
use crate::codec::token::{self, DataKey, Token, TokenText, is_token};
use crate::codec::wipe;
use crate::codec::{CodecError, shamir, value};
use crate::config::Selection;
use crate::format::{
    Comment, Document, Format, Insertion, Item, KeyPath, Leaf, Outline, Scalar, Style, SyntaxError,
};
use crate::keys::{IdentitySet, KeyError, Recipient, wrap_data_key};

/// Additional data of sealed's own metadata field.
const SEALED_AAD: &str = "sealed:";

/// What can go wrong in the engine. Positions are byte offsets into the input; no variant
/// carries plaintext.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input is not valid in its syntax.
    #[error("{}", .0.msg)]
    Syntax(SyntaxError),
    /// `encrypt` was given a file that already has `sops` metadata.
    #[error("the file is already encrypted (it has sops metadata)")]
    AlreadyEncrypted,
    /// `decrypt` was given a file without `sops` metadata.
    #[error("the file is not encrypted (no sops metadata found)")]
    NotEncrypted,
    /// The metadata block is malformed.
    #[error("{0}")]
    Metadata(CodecError),
    /// Nothing to encrypt to.
    #[error(
        "no recipients: pass --age, set SOPS_AGE_RECIPIENTS, or add a creation rule to .sops.yaml"
    )]
    NoRecipients,
    /// A recipient could not be used.
    #[error("{0}")]
    Key(KeyError),
    /// No identity could recover the data key.
    #[error(
        "no identity opens this file; it is encrypted for: {}; looked in: {}. \
         To be let in, ask a teammate who can open it to run `sealed team add <your-name> <your-public-key>` \
         and share the result (`sealed init` creates your key and prints its public key); \
         if your key is elsewhere, point SOPS_AGE_KEY_FILE at it",
        first_few(.recipients), .searched.join(", ")
    )]
    NoKey {
        /// The file's recipients.
        recipients: Vec<String>,
        /// Where identities were looked for.
        searched: Vec<String>,
    },
    /// An identity that could open the file could not be used.
    #[error("cannot use the identity for this file ({reason}); it is encrypted for: {}", first_few(.recipients))]
    NoKeyBecause {
        /// The file's recipients.
        recipients: Vec<String>,
        /// Why (a locked key file without a terminal, a wrong passphrase…).
        reason: String,
    },
    /// A value token failed to decrypt.
    #[error("cannot decrypt the value at key path '{path}': {cause}")]
    Value {
        /// The key path (`a:b:`); key names are not secret.
        path: String,
        /// Byte offset of the value.
        offset: usize,
        /// Why.
        cause: CodecError,
    },
    /// A value the rules say is encrypted is stored in clear text.
    #[error("the value at key path '{path}' should be encrypted but is not (file altered?)")]
    Unencrypted {
        /// Key path.
        path: String,
        /// Byte offset.
        offset: usize,
    },
    /// An encrypted comment failed to authenticate.
    #[error("an encrypted comment failed authentication (file altered?)")]
    Comment {
        /// Byte offset.
        offset: usize,
    },
    /// The MAC is missing.
    #[error("the file has no MAC")]
    MacMissing,
    /// The MAC does not match the values.
    #[error("MAC mismatch: the file was altered (values changed, swapped, added or removed)")]
    MacMismatch,
    /// The encrypted form would not decrypt back to the input byte for byte (a construct
    /// sealed does not handle yet); nothing is written.
    #[error(
        "this document uses a construct sealed cannot yet encrypt reversibly; nothing was written (please report it)"
    )]
    Unsupported,
    /// A YAML alias, merge key or tag in a file whose layout is not authenticated.
    #[error(
        "{what} that the file's MAC does not cover; sealed refuses it (a file sealed wrote \
         authenticates its layout, one written by sops cannot hold it)"
    )]
    Unauthenticated {
        /// What was found.
        what: &'static str,
        /// Byte offset.
        offset: usize,
    },
    /// A YAML alias or tag in a document encrypted with `mac_only_encrypted`, whose
    /// layout sealed does not authenticate (clear values stay editable by hand).
    #[error(
        "{what} cannot be encrypted with mac_only_encrypted: sealed would not authenticate it \
         (drop mac_only_encrypted, or write the value out in full)"
    )]
    LooseWithMacOnly {
        /// What was found.
        what: &'static str,
        /// Byte offset.
        offset: usize,
    },
    /// The layout digest sealed recorded does not match the decrypted document.
    #[error(
        "the file was changed outside its encrypted values since it was encrypted (keys, \
         nulls, empty or clear values, comments, YAML aliases or tags: what the MAC does not \
         cover)"
    )]
    LayoutChanged,
    /// The documents of one file carry different metadata blocks.
    #[error(
        "the documents of this file carry different sops metadata blocks, or the first \
         document carries none (sops reads the first document's)"
    )]
    AmbiguousMetadata {
        /// Byte offset of the block that differs.
        offset: usize,
    },
    /// A regular expression of the selection rules is invalid.
    #[error("invalid regular expression in the sops rules: {0}")]
    BadRegex(String),
}

/// The first five recipients, then how many more: a hostile file can list any number, of
/// any length (a long one shows its first and last 40 characters, control characters as ?).
fn first_few(recipients: &[String]) -> String {
    let short = |r: &String| {
        let c: Vec<char> = r
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        match c.len() {
            ..=100 => c.into_iter().collect::<String>(),
            n => format!(
                "{}…{}",
                String::from_iter(&c[..40]),
                String::from_iter(&c[n - 40..])
            ),
        }
    };
    let shown = recipients.iter().take(5).map(short).collect::<Vec<_>>();
    match recipients.len().saturating_sub(shown.len()) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

impl EngineError {
    /// Byte offset of the problem, when there is one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            EngineError::Syntax(e) => Some(e.offset),
            EngineError::Value { offset, .. }
            | EngineError::Unencrypted { offset, .. }
            | EngineError::Comment { offset }
            | EngineError::Unauthenticated { offset, .. }
            | EngineError::LooseWithMacOnly { offset, .. }
            | EngineError::AmbiguousMetadata { offset } => Some(*offset),
            _ => None,
        }
    }

    /// SOPS's exit code for the same failure.
    pub fn exit_code(&self) -> i32 {
        use crate::error::exit;
        match self {
            EngineError::AlreadyEncrypted => exit::ALREADY_ENCRYPTED,
            EngineError::NoKey { .. } | EngineError::NoKeyBecause { .. } => exit::NO_KEY,
            EngineError::NoRecipients => exit::NO_RECIPIENT,
            EngineError::Value { .. }
            | EngineError::Unencrypted { .. }
            | EngineError::Comment { .. } => exit::DECRYPT_TREE,
            EngineError::MacMismatch
            | EngineError::LayoutChanged
            | EngineError::Unauthenticated { .. } => exit::MAC_MISMATCH,
            EngineError::MacMissing => exit::MAC_NOT_FOUND,
            _ => exit::GENERIC,
        }
    }
}

/// SOPS's decision of which values and comments are encrypted (`shouldBeEncrypted`).
struct Selector {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<Regex>,
    encrypted_regex: Option<Regex>,
    unencrypted_comment_regex: Option<Regex>,
    encrypted_comment_regex: Option<Regex>,
}

impl Selector {
    fn new(sel: &Selection) -> Result<Selector, EngineError> {
        let re = |r: &Option<String>| -> Result<Option<Regex>, EngineError> {
            r.as_deref()
                .filter(|r| !r.is_empty())
                .map(|r| Regex::new(r).map_err(|_| EngineError::BadRegex(r.to_string())))
                .transpose()
        };
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Ok(Selector {
            unencrypted_suffix: nonempty(&sel.unencrypted_suffix),
            encrypted_suffix: nonempty(&sel.encrypted_suffix),
            unencrypted_regex: re(&sel.unencrypted_regex)?,
            encrypted_regex: re(&sel.encrypted_regex)?,
            unencrypted_comment_regex: re(&sel.unencrypted_comment_regex)?,
            encrypted_comment_regex: re(&sel.encrypted_comment_regex)?,
        })
    }

    fn should_encrypt(&self, path: &KeyPath, stack: &[Vec<String>], is_comment: bool) -> bool {
        let mut encrypted = true;
        if let Some(suffix) = &self.unencrypted_suffix
            && path.any(|p| p.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = &self.encrypted_suffix {
            encrypted = path.any(|p| p.ends_with(suffix.as_str()));
        }
        if let Some(re) = &self.unencrypted_regex
            && path.any(|p| re.is_match(p))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_regex {
            encrypted = path.any(|p| re.is_match(p));
        }
        if let Some(re) = &self.unencrypted_comment_regex
            && stack.iter().flatten().any(|c| re.is_match(c))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_comment_regex {
            let last_level = stack.len().saturating_sub(1);
            let last_len = stack.last().map_or(0, Vec::len);
            encrypted = stack.iter().enumerate().any(|(i, cs)| {
                cs.iter().enumerate().any(|(j, c)| {
                    // SOPS skips the matching comment line itself.
                    !(is_comment && i == last_level && j + 1 == last_len) && re.is_match(c)
                })
            });
        }
        encrypted
    }
}

/// SOPS's stack of active comments per nesting level.
#[derive(Default)]
struct CommentStack(Vec<Vec<String>>);

impl CommentStack {
    fn at(&mut self, depth: usize) -> &[Vec<String>] {
        self.0.resize_with(depth + 1, Vec::new);
        &self.0
    }
    fn push(&mut self, depth: usize, text: &str, keep: bool) -> &[Vec<String>] {
        self.0.resize_with(depth + 1, Vec::new);
        if keep {
            self.0[depth].push(text.to_string());
        }
        &self.0
    }
    fn entry_end(&mut self, depth: usize) {
        if let Some(level) = self.0.get_mut(depth) {
            level.clear();
        }
        self.0.truncate(depth + 1);
    }
}

/// One replacement of a byte range of the input by a range of an arena string (every
/// text of one pass lives in one arena: no allocation per value).
#[derive(Debug, Clone)]
struct Splice {
    range: Range<usize>,
    text: Range<usize>,
}

/// The input with every splice applied (texts taken from `arena`), and where each splice's
/// text starts in the output, in the order given. Overlapping splices (a parser bug) are
/// refused, never sliced.
fn apply(
    src: &str,
    splices: &[Splice],
    arena: &str,
) -> Result<(Zeroizing<String>, Vec<usize>), EngineError> {
    let mut order: Vec<usize> = (0..splices.len()).collect();
    order.sort_by_key(|&i| (splices[i].range.start, splices[i].range.end));
    let removed: usize = splices.iter().map(|s| s.range.len()).sum();
    let added: usize = splices.iter().map(|s| s.text.len()).sum();
    let mut out = Zeroizing::new(String::with_capacity(
        (src.len() + added).saturating_sub(removed),
    ));
    let mut starts = vec![0; splices.len()];
    let mut at = 0;
    for &i in &order {
        let s = &splices[i];
        let (Some(kept), Some(text)) = (
            src.get(at..s.range.start)
                .filter(|_| s.range.end <= src.len()),
            arena.get(s.text.clone()),
        ) else {
            return Err(EngineError::Unsupported);
        };
        out.push_str(kept);
        starts[i] = out.len();
        out.push_str(text);
        at = s.range.end;
    }
    out.push_str(src.get(at..).ok_or(EngineError::Unsupported)?);
    Ok((out, starts))
}

/// Where the replacement texts of a pass go: straight into the output when each
/// replacement comes after the previous one (a single document: the usual case), else into
/// an arena that [`apply`] splices in at the end. Writing straight saves a copy of the
/// output (for a 2 MB file, 9 MB of memory and a pass over it).
struct Texts<'s> {
    src: &'s str,
    direct: bool,
    /// The output so far (direct) or the arena (wiped when dropped: decrypting writes
    /// plaintext into it).
    buf: Zeroizing<String>,
    /// Direct: how much of `src` has been copied.
    at: usize,
}

impl<'s> Texts<'s> {
    fn new(src: &'s str, direct: bool, capacity: usize) -> Texts<'s> {
        Texts {
            src,
            direct,
            buf: Zeroizing::new(String::with_capacity(capacity)),
            at: 0,
        }
    }

    /// Starts the text that replaces `range`: returns where it starts in `buf`; the caller
    /// appends it to `buf`.
    fn open(&mut self, range: &Range<usize>) -> Result<usize, EngineError> {
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
    fn finish(
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
    fn keep(&self, splices: &mut Vec<Splice>, splice: Splice) {
        if !self.direct {
            splices.push(splice);
        }
    }
}

/// Whether every value, comment and the metadata insertion of `outline` come in byte order
/// (so that [`Texts`] can write the output directly).
fn in_byte_order(outline: &Outline) -> bool {
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
fn sealed_in_byte_order(outline: &Outline) -> bool {
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
struct Shift {
    /// Splice starts in order, with whether the splice is an insertion.
    starts: Vec<(usize, bool)>,
    /// `before[k]`: the growth caused by the first `k` splices.
    before: Vec<isize>,
}

impl Shift {
    fn new(splices: &[Splice]) -> Shift {
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
    fn moved_to(&self, r: &Range<usize>, got: &Range<usize>) -> bool {
        let at = |k: usize| (r.start as isize + self.before[k]) as usize;
        let after = self
            .starts
            .partition_point(|&(s, insert)| s < r.start || (s == r.start && insert));
        let before = self.starts.partition_point(|&(s, _)| s < r.start);
        got.len() == r.len()
            && (got.start == at(after) || (r.is_empty() && got.start == at(before)))
    }
}

/// The recipients of an encryption: key groups (one group unless Shamir) and threshold.
pub struct KeyPlan {
    /// Key groups of recipients.
    pub groups: Vec<Vec<Recipient>>,
    /// Shamir threshold when there are several groups.
    pub threshold: Option<usize>,
}

impl KeyPlan {
    /// Wraps `key` to every recipient, splitting it with Shamir when there are several groups.
    fn wrap(&self, key: &DataKey) -> Result<(Vec<Vec<AgeEntry>>, Option<usize>), EngineError> {
        if self.groups.iter().all(Vec::is_empty) {
            return Err(EngineError::NoRecipients);
        }
        let (parts, threshold): (Vec<Zeroizing<Vec<u8>>>, Option<usize>) = if self.groups.len() > 1
        {
            let t = self.threshold.unwrap_or(self.groups.len());
            let shares = shamir::split(key.as_bytes(), self.groups.len(), t)
                .map_err(|e| EngineError::Metadata(CodecError::Metadata(e.to_string())))?;
            (shares.into_iter().map(Zeroizing::new).collect(), Some(t))
        } else {
            (vec![Zeroizing::new(key.as_bytes().to_vec())], None)
        };
        let mut groups = Vec::new();
        for (group, part) in self.groups.iter().zip(&parts) {
            let mut entries = Vec::new();
            for r in group {
                entries.push(AgeEntry {
                    recipient: r.text().to_string(),
                    enc: wrap_data_key(part, r).map_err(EngineError::Key)?,
                });
            }
            groups.push(entries);
        }
        Ok((groups, threshold))
    }
}

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

/// What encrypting noticed that the user should know.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EncryptReport {
    /// YAML aliases in the document (SOPS cannot decrypt aliased encrypted values).
    pub aliases: usize,
}

/// Encrypts a plaintext document.
pub fn encrypt(
    src: &str,
    format: &dyn Format,
    plan: &KeyPlan,
    selection: &Selection,
) -> Result<(Zeroizing<String>, EncryptReport), EngineError> {
    let key = DataKey::generate();
    let (groups, shamir_threshold) = plan.wrap(&key)?;
    encrypt_with_key(src, format, &key, groups, shamir_threshold, selection)
}

/// Encrypts a plaintext document under a given data key, with the key already wrapped.
pub fn encrypt_with_key(
    src: &str,
    format: &dyn Format,
    key: &DataKey,
    groups: Vec<Vec<AgeEntry>>,
    shamir_threshold: Option<usize>,
    selection: &Selection,
) -> Result<(Zeroizing<String>, EncryptReport), EngineError> {
    let template = Metadata {
        groups,
        shamir_threshold,
        foreign_keys: 0,
        mac: String::new(),
        lastmodified: String::new(),
        selection: selection.clone(),
        version: SOPS_VERSION.to_string(),
        sealed: None,
    }
    .to_value();
    seal_document(src, format, key, selection, &template, None)
}

/// Re-encrypts `plain` — an edited decryption of `old` — under `old`'s data key and
/// metadata (recipients, rules, and any field sealed does not know, such as pgp keys).
/// Every value and comment whose key path and plaintext are unchanged keeps its exact
/// token (same IV, so the same ciphertext); only changed or new ones get fresh IVs.
/// When `plain` is exactly `old`'s decryption, `old` is returned unchanged.
pub fn reencrypt(
    plain: &str,
    old: &Sealed<'_>,
    key: &DataKey,
) -> Result<(Zeroizing<String>, EncryptReport), EngineError> {
    reencrypt_from_many(plain, old, &[], key)
}

/// Like [`reencrypt`], reusing tokens from `old` and from `others` (other versions of the
/// same file, e.g. both sides of a merge) that are under the same data key; `old` gives
/// the metadata.
pub fn reencrypt_from_many(
    plain: &str,
    old: &Sealed<'_>,
    others: &[&Sealed<'_>],
    key: &DataKey,
) -> Result<(Zeroizing<String>, EncryptReport), EngineError> {
    let mut reuse = Reuse::default();
    let old_plain = old.decrypt_inner(key, Some(&mut reuse))?;
    if old_plain.as_str() == plain {
        return Ok((
            Zeroizing::new(old.src.to_string()),
            EncryptReport {
                aliases: old.outline.aliases,
            },
        ));
    }
    for other in others {
        // A version under another data key (rotated on one branch) cannot share tokens.
        let _ = other.decrypt_inner(key, Some(&mut reuse));
    }
    let template = old.metadata_value();
    seal_document(
        plain,
        old.format,
        key,
        &old.metadata.selection,
        &template,
        Some(&reuse),
    )
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

    fn remember(&mut self, aad: &str, kind: &str, plain: &[u8], iv: &[u8]) {
        self.ivs
            .get_mut()
            .entry(Reuse::digest(aad, kind, plain))
            .or_default()
            .push_back(iv.to_vec());
    }

    fn iv(&self, aad: &str, kind: &str, plain: &[u8]) -> Option<Vec<u8>> {
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

/// What encrypting did with one item of the walk, for the verification (small: there is
/// one per item).
#[derive(Clone, Copy)]
struct Expect {
    /// The selection rules say it is encrypted.
    encrypt: bool,
    /// The index of its splice (and [`Planned`]) when it was replaced by a token.
    splice: Option<u32>,
}

/// A value or comment replaced by a token (one per splice).
struct Planned {
    /// Where the token sits in the splice text.
    token: Range<usize>,
    /// The style the syntax said the text parses back as, when it is not the style the
    /// value had.
    style: Option<Box<Style>>,
}

/// The shared encryption pass: seals every selected value and comment of `src`, then
/// appends `template` (a metadata tree) with fresh `lastmodified`, `mac` and `sealed`.
fn seal_document(
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
        },
    ))
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
fn cut_tokens(
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
fn push_cut_token(token: &str, out: &mut String) {
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
struct Check<'a> {
    before: &'a Outline<'a>,
    expects: &'a [Expect],
    planned: &'a [Planned],
    splices: &'a [Splice],
    starts: &'a [usize],
    first_meta: usize,
    meta: &'a serde_json::Value,
}

impl Check<'_> {
    fn verify(
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

/// The insertions that add `meta` to every document of a file that has none (texts
/// written through `texts`).
fn metadata_splices(
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

/// Recovers the data key from the metadata with the identities available.
pub fn unwrap_data_key(md: &Metadata, identities: &IdentitySet) -> Result<DataKey, EngineError> {
    let no_key = || EngineError::NoKey {
        recipients: md.recipients().map(str::to_string).collect(),
        searched: identities.searched().to_vec(),
    };
    let mut parts: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    // Why an identity could not be used (a locked key file without a terminal, a wrong
    // passphrase, a malformed entry) matters more than "no identity matched".
    let mut reason: Option<KeyError> = None;
    for group in &md.groups {
        let mut found = None;
        for entry in group {
            match identities.unwrap(&entry.enc) {
                Ok(part) => {
                    found = Some(part);
                    break;
                }
                Err(KeyError::NoMatchingIdentity) => {}
                Err(e) => {
                    reason.get_or_insert(e);
                }
            }
        }
        if let Some(part) = found {
            parts.push(part);
        }
    }
    let no_key = || match &reason {
        Some(e) => EngineError::NoKeyBecause {
            recipients: md.recipients().map(str::to_string).collect(),
            reason: e.to_string(),
        },
        None => no_key(),
    };
    let key = match md.shamir_threshold {
        Some(t) => {
            if parts.len() < t.max(1) {
                return Err(no_key());
            }
            let shares: Vec<Vec<u8>> = parts.iter().map(|p| p.to_vec()).collect();
            let key = shamir::combine(&shares)
                .map_err(|e| EngineError::Metadata(CodecError::Metadata(e.to_string())))?;
            let mut shares = shares;
            shares.iter_mut().for_each(|s| s.zeroize());
            key
        }
        None => parts.into_iter().next().ok_or_else(no_key)?,
    };
    DataKey::from_slice(&key).map_err(EngineError::Metadata)
}

/// An encrypted document, parsed and with its metadata read, ready to decrypt.
pub struct Sealed<'a> {
    src: &'a str,
    format: &'a dyn Format,
    outline: Outline<'a>,
    /// The document's metadata.
    pub metadata: Metadata,
    /// Read a layout that is not authenticated (`SEALED_ALLOW_UNAUTHENTICATED=1`) instead
    /// of refusing it.
    allow_unauthenticated: bool,
    /// After a decrypt: whether sealed's layout digest authenticated the whole document.
    layout_authenticated: std::cell::Cell<bool>,
}

/// The variable that lets a user read a file whose layout is not authenticated (a YAML
/// alias, merge key or tag in a file sops wrote, or a file changed outside its values).
pub const ALLOW_UNAUTHENTICATED_VAR: &str = "SEALED_ALLOW_UNAUTHENTICATED";

impl<'a> Sealed<'a> {
    /// Parses an encrypted document.
    pub fn parse(src: &'a str, format: &'a dyn Format) -> Result<Sealed<'a>, EngineError> {
        let outline = format.parse_lean(src).map_err(EngineError::Syntax)?;
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

    /// Decrypts, verifying the MAC before returning anything.
    pub fn decrypt(&self, key: &DataKey) -> Result<Zeroizing<String>, EngineError> {
        self.decrypt_inner(key, None)
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
        self.decrypt_work(key, None, true)
    }

    fn decrypt_inner(
        &self,
        key: &DataKey,
        reuse: Option<&mut Reuse>,
    ) -> Result<Zeroizing<String>, EngineError> {
        self.decrypt_work(key, reuse, false)
    }

    fn decrypt_work(
        &self,
        key: &DataKey,
        mut reuse: Option<&mut Reuse>,
        clear_values: bool,
    ) -> Result<Zeroizing<String>, EngineError> {
        let src = self.src;
        let md = &self.metadata;
        if md.mac.is_empty() {
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
        }
        let computed = mac.finish();
        // `decrypt_with_clear_values` does not check the MAC (its clear values cannot match).
        if !clear_values {
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
            } else if self.allow_unauthenticated {
                self.refuse_loose()?;
            } else {
                return Err(EngineError::LayoutChanged);
            }
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
        }
        Ok(Some(Splice {
            range,
            text: start..w.out.buf.len(),
        }))
    }
}

/// The size of the decryption of `src`, near enough to size its buffer once: the source
/// without its metadata, each token replaced by its data's decoded length (a token's
/// other fields take at least 107 bytes) and two bytes for quotes.
fn plaintext_len_estimate(src: &str, outline: &Outline) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::metadata::default_selection;
    use crate::format::Syntax;

    /// YAML with a bug: tokens are written bare wherever they go, and said to be read
    /// back in `claimed` style.
    struct BareTokens {
        claimed: Style,
    }

    impl Format for BareTokens {
        fn parse_detail<'s>(
            &self,
            src: &'s str,
            detail: crate::format::Detail,
        ) -> Result<Outline<'s>, SyntaxError> {
            crate::format::yaml::Yaml.parse_detail(src, detail)
        }
        fn token_affixes<'l>(&self, _leaf: &'l Leaf<'_>) -> (&'l str, &'static str, Style) {
            ("", "", self.claimed.clone())
        }
        fn render(&self, style: &Style, in_flow: bool, value: &Scalar) -> String {
            crate::format::yaml::Yaml.render(style, in_flow, value)
        }
        fn metadata_text(&self, meta: &serde_json::Value, o: &Outline, d: &Document) -> String {
            crate::format::yaml::Yaml.metadata_text(meta, o, d)
        }
    }

    #[test]
    fn the_check_refuses_a_token_that_breaks_the_structure() {
        let key = DataKey::generate();
        let seal = |format: &dyn Format, src: &str| {
            encrypt_with_key(src, format, &key, vec![vec![]], None, &default_selection())
        };
        let plain = BareTokens {
            claimed: Style::Plain,
        };
        // Bare tokens are fine in block context...
        let (out, _) = seal(&plain, "a: x\nb:\n  c: y\n").expect("block values take bare tokens");
        assert!(out.contains("a: ENC[AES256_GCM,data:"));
        // ...but their commas end a value inside a flow collection.
        for src in ["a: {b: x, c: y}\n", "a: [x, y]\n"] {
            assert!(
                matches!(seal(&plain, src), Err(EngineError::Unsupported)),
                "{src:?}"
            );
        }
        // A token read back in another style than the one its spelling was checked against.
        let quoted = BareTokens {
            claimed: Style::DoubleQuoted,
        };
        assert!(matches!(
            seal(&quoted, "a: x\n"),
            Err(EngineError::Unsupported)
        ));
    }

    #[test]
    fn cut_tokens_keep_one_character_of_each_base64_field() {
        let mut out = String::new();
        push_cut_token(
            "ENC[AES256_GCM,data:QUJD+/==,iv:aXZ2,tag:dGFn,type:str]",
            &mut out,
        );
        assert_eq!(out, "ENC[AES256_GCM,data:Q,iv:a,tag:d,type:str]");
        out.clear();
        push_cut_token("ENC[AES256_GCM,data:a b,iv:,tag:x,type:str]", &mut out);
        assert_eq!(
            out, "ENC[AES256_GCM,data:a b,iv:,tag:x,type:str]",
            "not base64: whole"
        );
        out.clear();
        push_cut_token("not a token", &mut out);
        assert_eq!(out, "not a token");
    }

    /// What the comment stack holds at every value and comment of `items`.
    fn stack_views(src: &str, items: &[Item<'_>]) -> Vec<Vec<Vec<String>>> {
        let mut stack = CommentStack::default();
        let mut views = Vec::new();
        for item in items {
            match item {
                Item::Leaf(l) => views.push(stack.at(l.depth).to_vec()),
                Item::Comment(c) => {
                    views.push(stack.push(c.depth, &src[c.span.clone()], true).to_vec())
                }
                Item::EntryEnd(d) => stack.entry_end(*d),
            }
        }
        views
    }

    #[test]
    fn dropping_idle_entry_ends_keeps_every_comment_stack() {
        let yaml = "# top\na:\n  # in a\n  b: 1\n  c:\n    - x # after x\n    # before y\n    - y\n  d: 2\ne: 3\n# before f\nf:\n  g: [1, 2]\nh: 4\n";
        let json = "{\"a\": {\"b\": 1, \"c\": [1, {\"d\": 2}]}, \"e\": 3}";
        let env = "# one\nA=1\nB=2\n# two\nC=3\n";
        for (src, syntax) in [
            (yaml, Syntax::Yaml),
            (json, Syntax::Json),
            (env, Syntax::Dotenv),
        ] {
            let all = syntax.format().parse(src).unwrap();
            let kept = syntax.format().parse_lean(src).unwrap();
            let (all, kept) = (&all.docs[0].items, &kept.docs[0].items);
            assert_eq!(stack_views(src, all), stack_views(src, kept), "{syntax:?}");
            let ends = |items: &[Item<'_>]| {
                items
                    .iter()
                    .filter(|i| matches!(i, Item::EntryEnd(_)))
                    .count()
            };
            assert!(ends(kept) < ends(all), "{syntax:?}: nothing dropped");
            if syntax == Syntax::Json {
                assert_eq!(ends(kept), 0, "no comment, no entry end");
            } else {
                assert!(
                    ends(kept) > 0,
                    "{syntax:?}: the ends that clear a comment stay"
                );
            }
        }
    }

    /// Encrypts and decrypts with a bare data key; returns (ciphertext, plaintext).
    pub fn roundtrip(src: &str, syntax: Syntax) -> (String, String) {
        let key = DataKey::generate();
        let (enc, _) = encrypt_with_key(
            src,
            syntax.format(),
            &key,
            vec![vec![]],
            None,
            &default_selection(),
        )
        .unwrap_or_else(|e| panic!("encrypt failed: {e}"));
        let sealed = Sealed::parse(&enc, syntax.format())
            .unwrap_or_else(|e| panic!("parse failed: {e}\n{}", &*enc));
        let dec = sealed
            .decrypt(&key)
            .unwrap_or_else(|e| panic!("decrypt failed: {e}\n{}", &*enc));
        (enc.to_string(), dec.to_string())
    }

    #[test]
    fn yaml_roundtrip_is_byte_exact() {
        let cases = [
            "a: 1\n",
            "a: 1",
            "# top\ndb:\n  user: admin   # inline\n  password: hunter2\n\n  port: 5432\nlist:\n  - one\n  - 2\n",
            "a: \"x\\ty\"   # c1\nb: 'it''s'\nc: |-\n  line1\n  line2\n\nd: >\n  folded\ne: [1, {f: g}]\n",
            "k: !!int \"5\"\nan: &x val\nal: *x\nempty:\nq: \"\"\n",
            "---\ndata: foo\n---\ndata: bar\n",
            "{a: 1, b: [x, y]}\n",
            "{}\n",
            "a: 1\r\nb: two\r\n",
            "\u{feff}a: caf\u{e9}\n",
            "t: 2024-01-01\nh: 0x10\nf: 1e3\nb: True\n",
            "multi: |\n  line1\n  line2\nafter: x\n",
        ];
        for src in cases {
            let (enc, dec) = roundtrip(src, Syntax::Yaml);
            assert_eq!(dec, src, "ciphertext was:\n{enc}");
            assert!(enc.contains("ENC[AES256_GCM"));
        }
    }

    fn tokens(text: &str) -> Vec<String> {
        text.match_indices("ENC[")
            .map(|(i, _)| text[i..i + text[i..].find(']').unwrap() + 1].to_string())
            .collect()
    }

    #[test]
    fn reencrypt_changes_only_what_changed() {
        let src = "# note\ndb:\n  user: admin\n  password: old-pass\nlist: [a, b]\n";
        let key = DataKey::generate();
        let (enc, _) = encrypt_with_key(
            src,
            Syntax::Yaml.format(),
            &key,
            vec![vec![]],
            None,
            &default_selection(),
        )
        .unwrap();
        let old = Sealed::parse(&enc, Syntax::Yaml.format()).unwrap();

        let (same, _) = reencrypt(src, &old, &key).unwrap();
        assert_eq!(
            same.as_str(),
            enc.as_str(),
            "a no-op keeps the file byte-identical"
        );

        let edited = src.replace("old-pass", "new-pass");
        let (next, _) = reencrypt(&edited, &old, &key).unwrap();
        let (before, after) = (tokens(&enc), tokens(&next));
        assert_eq!(before.len(), after.len());
        let changed: Vec<usize> = (0..before.len())
            .filter(|&i| before[i] != after[i])
            .collect();
        // The password, the MAC and sealed's layout digest change; the comment, user, list
        // items keep their tokens.
        assert_eq!(changed.len(), 3, "changed tokens: {changed:?}");
        let again = Sealed::parse(&next, Syntax::Yaml.format()).unwrap();
        assert_eq!(again.decrypt(&key).unwrap().as_str(), edited);
    }

    #[test]
    fn with_metadata_keeps_values() {
        for (src, syntax) in [
            ("a: 1\nb: two\n", Syntax::Yaml),
            ("{\n  \"a\": 1\n}\n", Syntax::Json),
            ("A=1\nB=two\n", Syntax::Dotenv),
        ] {
            let key = DataKey::generate();
            let (enc, _) = encrypt_with_key(
                src,
                syntax.format(),
                &key,
                vec![vec![]],
                None,
                &default_selection(),
            )
            .unwrap();
            let sealed = Sealed::parse(&enc, syntax.format()).unwrap();
            let mut meta = sealed.metadata_value();
            meta["version"] = "9.9.9".into();
            let rewritten = sealed.with_metadata(&meta).unwrap();
            assert_eq!(tokens(&rewritten)[..2], tokens(&enc)[..2]);
            let again = Sealed::parse(&rewritten, syntax.format()).unwrap();
            assert_eq!(again.metadata.version, "9.9.9");
            assert_eq!(again.decrypt(&key).unwrap().as_str(), src);
        }
    }

    #[test]
    fn json_and_dotenv_roundtrip() {
        for (src, syntax) in [
            (
                "{\"a\": \"x\", \"n\": 1.50, \"l\": [true, null]}",
                Syntax::Json,
            ),
            ("{\r\n\t\"a\": \"\\u00e9\"\r\n}\r\n", Syntax::Json),
            (
                "# c\nexport A=1\nB=\"two words\" # not a comment for sops\nC='x'\nM=\"l1\nl2\"\nE=",
                Syntax::Dotenv,
            ),
        ] {
            let (_, dec) = roundtrip(src, syntax);
            assert_eq!(dec, src);
        }
    }
}

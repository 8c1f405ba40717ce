//! Which values and comments are encrypted: SOPS's `shouldBeEncrypted` rules (suffixes,
//! key regexes, comment regexes) and the stack of comments they look at.

use regex::Regex;

use crate::config::Selection;
use crate::format::KeyPath;

use super::error::EngineError;

/// SOPS's decision of which values and comments are encrypted (`shouldBeEncrypted`).
pub(super) struct Selector {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<Regex>,
    encrypted_regex: Option<Regex>,
    unencrypted_comment_regex: Option<Regex>,
    encrypted_comment_regex: Option<Regex>,
}

impl Selector {
    pub(super) fn new(sel: &Selection) -> Result<Selector, EngineError> {
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

    #[inline]
    pub(super) fn should_encrypt(
        &self,
        path: &KeyPath,
        stack: &[Vec<String>],
        is_comment: bool,
    ) -> bool {
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
pub(super) struct CommentStack(Vec<Vec<String>>);

impl CommentStack {
    #[inline]
    pub(super) fn at(&mut self, depth: usize) -> &[Vec<String>] {
        self.0.resize_with(depth + 1, Vec::new);
        &self.0
    }
    #[inline]
    pub(super) fn push(&mut self, depth: usize, text: &str, keep: bool) -> &[Vec<String>] {
        self.0.resize_with(depth + 1, Vec::new);
        if keep {
            self.0[depth].push(text.to_string());
        }
        &self.0
    }
    #[inline]
    pub(super) fn entry_end(&mut self, depth: usize) {
        if let Some(level) = self.0.get_mut(depth) {
            level.clear();
        }
        self.0.truncate(depth + 1);
    }
}

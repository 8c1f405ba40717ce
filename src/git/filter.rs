//! The clean and smudge filters: plaintext in the work tree, SOPS ciphertext in the index.
//!
//! Clean is stable: when the work-tree file decrypts to what the index (or HEAD) holds,
//! the stored blob comes back unchanged; when some values changed, the data key and the
//! untouched values' tokens are reused, so a blob diff shows only the changed values, the
//! MAC and `lastmodified`. Clean never lets plaintext through: what it cannot parse or
//! encrypt is an error (with `filter.sealed.required`, `git add` fails). Ciphertext given to
//! clean passes through unchanged. Smudge decrypts; without a usable identity it leaves the
//! ciphertext in place (so `git status` stays clean) and warns once per process.

use std::path::Path;

use zeroize::Zeroizing;

use super::known::Known;
use super::leak::SecretDoc;
use crate::engine::{self, EngineError, Sealed, unwrap_data_key};
use crate::format::Syntax;
use crate::keys::IdentitySet;
use crate::plan::{EncryptOptions, plan_for};

/// A filter failure, reported to git for one path. Never holds plaintext.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {msg}")]
pub struct FilterError {
    /// The path git asked about.
    pub path: String,
    /// What went wrong.
    pub msg: String,
}

impl FilterError {
    fn new(path: &str, msg: impl Into<String>) -> FilterError {
        FilterError {
            path: path.to_string(),
            msg: msg.into(),
        }
    }
}

/// One filter session: the repository and the identities, opened once for many files.
pub struct Filter {
    repo: Option<git2::Repository>,
    /// `Some` for the `sealed-rules` driver: only the paths a `.sops.yaml` rule protects
    /// are filtered (the rules, loaded once), every other file passes through unchanged.
    by_rules: Option<Option<crate::config::Config>>,
    identities: Option<Result<IdentitySet, String>>,
    warned_no_key: bool,
    /// The known-values store, loaded at the first file cleaned or smudged and written
    /// back when the session ends.
    known: Option<Known>,
}

impl Drop for Filter {
    fn drop(&mut self) {
        if let Some(known) = &mut self.known {
            known.save();
        }
    }
}

impl Default for Filter {
    fn default() -> Self {
        Filter::new()
    }
}

impl Filter {
    /// A session for the repository around the working directory.
    pub fn new() -> Filter {
        Filter {
            repo: git2::Repository::open_from_env().ok(),
            by_rules: None,
            identities: None,
            warned_no_key: false,
            known: None,
        }
    }

    /// A session for the `sealed-rules` driver (the attribute of the globs derived from
    /// `.sops.yaml`): a path no rule protects is passed through byte for byte, both ways,
    /// so it never shows as modified.
    pub fn by_rules() -> Filter {
        let mut f = Filter::new();
        let config = f
            .repo
            .as_ref()
            .and_then(|r| r.workdir())
            .and_then(crate::config::Config::discover)
            .and_then(|p| crate::config::Config::load(&p).ok());
        f.by_rules = Some(config);
        f
    }

    /// Whether this session leaves `path` alone (the `sealed-rules` driver, and no rule
    /// protects it).
    fn passes_through(&self, path: &str) -> bool {
        match &self.by_rules {
            None => false,
            Some(config) => {
                let root = self.repo.as_ref().and_then(|r| r.workdir());
                match (config, root) {
                    (Some(c), Some(root)) => !super::check::rule_protects(c, root, path),
                    _ => true,
                }
            }
        }
    }

    /// The identities, discovered (and unlocked) once.
    fn identities(&mut self) -> Result<&IdentitySet, String> {
        if self.identities.is_none() {
            self.identities = Some(IdentitySet::discover().map_err(|e| e.to_string()));
        }
        match self.identities.as_ref().expect("set above") {
            Ok(ids) => Ok(ids),
            Err(e) => Err(e.clone()),
        }
    }

    fn warn_no_key(&mut self, path: &str, why: &str) {
        if !self.warned_no_key {
            self.warned_no_key = true;
            eprintln!(
                "sealed: warning: cannot decrypt {path} ({why}); encrypted files stay encrypted in the work tree. \
                 Set SOPS_AGE_KEY_FILE or run `sealed keygen`, then `sealed git init` again"
            );
        }
    }

    /// What the index (stage 0) and HEAD hold for `path`, in that order (the index's may
    /// not verify, e.g. after `git add -p`; HEAD's then gives the tokens to keep).
    fn previous_blobs(&self, path: &str) -> Vec<Vec<u8>> {
        let Some(repo) = self.repo.as_ref() else {
            return vec![];
        };
        let mut ids = Vec::new();
        if let Some(entry) = repo
            .index()
            .ok()
            .and_then(|i| i.get_path(Path::new(path), 0))
        {
            ids.push(entry.id);
        }
        if let Some(id) = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_tree().ok())
            .and_then(|t| t.get_path(Path::new(path)).ok().map(|e| e.id()))
            && !ids.contains(&id)
        {
            ids.push(id);
        }
        ids.into_iter()
            .filter_map(|id| repo.find_blob(id).ok().map(|b| b.content().to_vec()))
            .collect()
    }

    /// The path as the config sees it: relative to the work tree root.
    fn work_path(&self, path: &str) -> std::path::PathBuf {
        match self.repo.as_ref().and_then(|r| r.workdir()) {
            Some(root) => root.join(path),
            None => Path::new(path).to_path_buf(),
        }
    }

    /// Work tree → index.
    pub fn clean(&mut self, path: &str, input: &[u8]) -> Result<Vec<u8>, FilterError> {
        if self.passes_through(path) {
            return Ok(input.to_vec());
        }
        let syntax = Syntax::of_file(Path::new(path));
        let text = std::str::from_utf8(input)
            .map_err(|_| FilterError::new(path, "not valid UTF-8; refusing to stage it"))?;
        // A file of another name is sops's binary store: the plaintext file is sealed as the
        // `data` of a JSON document; that document, sealed, is what the index holds.
        let wrapped;
        let (text, parsed) = match Sealed::parse(text, syntax.format()) {
            Err(_) if syntax == Syntax::Binary => {
                wrapped = crate::format::binary::wrap(text);
                (wrapped.as_str(), Sealed::parse(&wrapped, syntax.format()))
            }
            parsed => (text, parsed),
        };
        match parsed {
            Ok(sealed) => {
                let clear = sealed
                    .unprotected_values()
                    .map_err(|e| positioned(path, text, e, "refusing to stage it"))?;
                let Some((first, at)) = clear.first() else {
                    return Ok(input.to_vec());
                };
                // Ciphertext with values typed in clear (edited without decrypting): never
                // staged as is. With a key the values are encrypted as the plaintext they
                // are; without one the filter fails and git refuses to add the file.
                let at = crate::error::Pos::of_offset(text, *at);
                let what = format!(
                    "{} value(s) typed in clear text in an encrypted file (first at key path '{first}')",
                    clear.len()
                );
                let plain = self.open_with_clear_values(&sealed).map_err(|why| {
                    FilterError::new(
                        &format!("{path}:{at}"),
                        format!(
                            "{what}, and {why}; refusing to stage it. Set SOPS_AGE_KEY_FILE to an identity of its recipients and add it again, or undo the edit with `git checkout -- {}`",
                            super::setup::shell_quote(path)
                        ),
                    )
                })?;
                eprintln!("sealed: warning: {path}:{at}: {what}; encrypting them");
                let out = self.seal(path, &plain, syntax)?;
                self.learn(path, &out, &plain);
                Ok(out)
            }
            Err(EngineError::NotEncrypted) => {
                let out = self.seal(path, text, syntax)?;
                self.learn(path, &out, text);
                Ok(out)
            }
            Err(e) => Err(positioned(path, text, e, "refusing to stage it")),
        }
    }

    /// The plaintext of a ciphertext file with values typed in clear text: its tokens
    /// opened (each authenticated by its tag), its clear values kept. `Err` says why not.
    fn open_with_clear_values(&mut self, sealed: &Sealed<'_>) -> Result<Zeroizing<String>, String> {
        let ids = self
            .identities()
            .map_err(|_| "no identity is available".to_string())?;
        let key = unwrap_data_key(&sealed.metadata, ids)
            .map_err(|_| "no identity opens its data key".to_string())?;
        sealed
            .decrypt_with_clear_values(&key)
            .map_err(|e| format!("its ciphertext does not decrypt ({e})"))
    }

    /// Encrypts plaintext for the index: over the previous blob (same data key, unchanged
    /// tokens kept), else afresh for the recipients of the `.sops.yaml` rule.
    fn seal(&mut self, path: &str, text: &str, syntax: Syntax) -> Result<Vec<u8>, FilterError> {
        for prev in self.previous_blobs(path) {
            if let Some(out) = self.reencrypt_over(path, text, &prev, syntax)? {
                return Ok(out);
            }
        }
        let (plan, selection) = plan_for(&self.work_path(path), &EncryptOptions::default())
            .map_err(|e| FilterError::new(path, e.to_string()))?;
        let (out, _) = engine::encrypt(text, syntax.format(), &plan, &selection)
            .map_err(|e| positioned(path, text, e, "refusing to stage it"))?;
        Ok(out.as_bytes().to_vec())
    }

    /// Re-encrypts `text` over the previous ciphertext when that can be decrypted.
    fn reencrypt_over(
        &mut self,
        path: &str,
        text: &str,
        prev: &[u8],
        syntax: Syntax,
    ) -> Result<Option<Vec<u8>>, FilterError> {
        let Ok(prev_text) = std::str::from_utf8(prev) else {
            return Ok(None);
        };
        let Ok(old) = Sealed::parse(prev_text, syntax.format()) else {
            return Ok(None);
        };
        let Ok(ids) = self.identities() else {
            return Ok(None);
        };
        let Ok(key) = unwrap_data_key(&old.metadata, ids) else {
            return Ok(None);
        };
        match engine::reencrypt(text, &old, &key) {
            Ok((out, report)) => {
                if report.adopted_layout {
                    eprintln!("sealed: warning: {path}: {}", engine::ADOPTED_LAYOUT);
                }
                Ok(Some(out.as_bytes().to_vec()))
            }
            // The previous blob does not verify (tampered, staged in part, values in clear):
            // encrypt afresh instead.
            Err(
                EngineError::MacMismatch
                | EngineError::MacMissing
                | EngineError::Unencrypted { .. }
                | EngineError::Value { .. }
                | EngineError::Comment { .. },
            ) => Ok(None),
            Err(e) => Err(positioned(path, text, e, "refusing to stage it")),
        }
    }

    /// Remembers the values of the sealed blob `cipher` at `path` (its plaintext `plain`
    /// at hand) in the known-values store, for the pre-commit guard (`super::known`).
    fn learn(&mut self, path: &str, cipher: &[u8], plain: &str) {
        let Some(repo) = &self.repo else { return };
        let known = self.known.get_or_insert_with(|| Known::load(repo));
        let Ok(id) = git2::Oid::hash_object(git2::ObjectType::Blob, cipher) else {
            return;
        };
        if !known.knows(path, id)
            && let Some(doc) = SecretDoc::with_plaintext(path, cipher, plain)
        {
            known.learn(id, &doc);
        }
    }

    /// Index → work tree.
    pub fn smudge(&mut self, path: &str, input: &[u8]) -> Result<Vec<u8>, FilterError> {
        if self.passes_through(path) {
            return Ok(input.to_vec());
        }
        let syntax = Syntax::of_file(Path::new(path));
        let Ok(text) = std::str::from_utf8(input) else {
            return Ok(input.to_vec());
        };
        let Ok(sealed) = Sealed::parse(text, syntax.format()) else {
            // Not ciphertext (committed before sealed was set up): leave it.
            return Ok(input.to_vec());
        };
        let key = match self.identities() {
            Ok(ids) => unwrap_data_key(&sealed.metadata, ids),
            Err(e) => {
                self.warn_no_key(path, &e);
                return Ok(input.to_vec());
            }
        };
        let key = match key {
            Ok(k) => k,
            Err(_) => {
                self.warn_no_key(path, "no identity for its recipients");
                return Ok(input.to_vec());
            }
        };
        match sealed.decrypt(&key) {
            Ok(plain) => {
                self.learn(path, input, &plain);
                match crate::format::binary::from_engine(syntax, plain) {
                    Ok(file) => Ok(file.as_bytes().to_vec()),
                    Err(e) => {
                        eprintln!("sealed: warning: {path}: {e}; left encrypted in the work tree");
                        Ok(input.to_vec())
                    }
                }
            }
            Err(e) => {
                eprintln!("sealed: warning: {path}: {e}; left encrypted in the work tree");
                Ok(input.to_vec())
            }
        }
    }

    /// Decrypts for display (`diff.sealed.textconv`); anything that cannot be decrypted is
    /// shown as it is. Works on any path: git hands textconv a temporary file.
    pub fn textconv(&mut self, path: &str, input: &[u8]) -> Zeroizing<Vec<u8>> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let syntax = Syntax::of_file(Path::new(name));
        let Ok(text) = std::str::from_utf8(input) else {
            return Zeroizing::new(input.to_vec());
        };
        let Ok(sealed) = Sealed::parse(text, syntax.format()) else {
            return Zeroizing::new(input.to_vec());
        };
        let Ok(ids) = self.identities() else {
            return Zeroizing::new(input.to_vec());
        };
        let Ok(key) = unwrap_data_key(&sealed.metadata, ids) else {
            return Zeroizing::new(input.to_vec());
        };
        match sealed
            .decrypt(&key)
            .ok()
            .and_then(|plain| crate::format::binary::from_engine(syntax, plain).ok())
        {
            Some(plain) => Zeroizing::new(plain.as_bytes().to_vec()),
            None => Zeroizing::new(input.to_vec()),
        }
    }
}

fn positioned(path: &str, text: &str, e: EngineError, what: &str) -> FilterError {
    let at = e
        .offset()
        .map(|o| format!(":{}", crate::error::Pos::of_offset(text, o)))
        .unwrap_or_default();
    FilterError::new(&format!("{path}{at}"), format!("{e}; {what}"))
}

//! The guard: a path that the rules protect must hold SOPS ciphertext in the index (and in
//! history), never a plaintext blob — e.g. one staged with the filter bypassed
//! (`git update-index --cacheinfo`, a missing `sealed git init`, `GIT_CONFIG_NOSYSTEM` tricks).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use git2::{AttrCheckFlags, ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use super::known::Known;
use super::leak::{Keys, SecretDoc};
use super::setup::shell_quote as q;
use crate::config::Config;
use crate::engine::{Sealed, unwrap_data_key};
use crate::format::Syntax;

/// Why a blob was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where it was found (`index`, or a commit id).
    pub place: String,
    /// The path in the repository.
    pub path: String,
    /// What is wrong (key paths, never values).
    pub problem: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.path, self.place, self.problem)
    }
}

/// Decides which paths are protected: the `filter=sealed` attribute, or a `.sops.yaml`
/// creation rule with a `path_regex` that matches.
pub struct Protection<'r> {
    repo: &'r Repository,
    config: Option<Config>,
}

impl<'r> Protection<'r> {
    /// For a repository with a work tree.
    pub fn new(repo: &'r Repository) -> Protection<'r> {
        let config = repo
            .workdir()
            .and_then(Config::discover)
            .and_then(|p| Config::load(&p).ok());
        Protection { repo, config }
    }

    /// Is `path` (relative to the work tree) protected?
    pub fn covers(&self, path: &str) -> bool {
        let attr = self
            .repo
            .get_attr(Path::new(path), "filter", AttrCheckFlags::FILE_THEN_INDEX)
            .ok()
            .flatten();
        if attr == Some("sealed") {
            return true;
        }
        match (&self.config, self.repo.workdir()) {
            (Some(c), Some(root)) => rule_protects(c, root, path),
            _ => false,
        }
    }
}

/// Does a creation rule of `config` with a `path_regex` protect `path` (relative to the
/// work tree `root`)? The guard and the `sealed-rules` filter decide alike.
///
/// Every name counts: a file a rule matches whose name is not YAML, JSON, .env, INI or TOML
/// is encrypted whole, as sops's binary store (`Syntax::of_file`), never left in clear.
pub fn rule_protects(config: &Config, root: &Path, path: &str) -> bool {
    config
        .rule_for(&root.join(path))
        .is_some_and(|r| r.path_regex.is_some())
}

/// `sealed git init` (when the attributes are missing), then `git add --renormalize`,
/// which runs the clean filter again on a path whose index entry looks up to date (a plain
/// `git add` would skip it, and `git rm --cached` refuses a blob that differs from both the
/// file and HEAD).
pub fn restage_advice(path: &str) -> String {
    format!(
        "`sealed git init && git add --renormalize -- {}`",
        super::setup::shell_quote(path)
    )
}

/// Checks one blob; `None` when it is proper ciphertext.
pub fn check_blob(path: &str, content: &[u8]) -> Option<String> {
    let syntax = Syntax::of_file(Path::new(path));
    let Ok(text) = std::str::from_utf8(content) else {
        return Some("not valid UTF-8 text, so not SOPS ciphertext".into());
    };
    match Sealed::parse(text, syntax.format()) {
        Err(e) => Some(format!("not sealed/SOPS ciphertext ({e})")),
        Ok(sealed) => match sealed.unprotected_values() {
            Ok(v) if v.is_empty() => None,
            Ok(v) => Some(format!(
                "has sops metadata but {} value(s) in clear text (first at key path '{}')",
                v.len(),
                v[0].0
            )),
            Err(e) => Some(e.to_string()),
        },
    }
}

/// One entry of a snapshot (the index, or a commit's tree).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its path, `/`-separated.
    pub path: String,
    /// Its git file mode (`0o100644`, `0o120000` for a symbolic link…).
    pub mode: u32,
    /// Its object.
    pub id: Oid,
}

const MODE_TYPE: u32 = 0o170000;
const REGULAR: u32 = 0o100000;
const SYMLINK: u32 = 0o120000;

/// The entries of the index (merged entries only).
pub fn index_entries(repo: &Repository) -> Result<Vec<Entry>, git2::Error> {
    Ok(repo
        .index()?
        .iter()
        .filter(|e| (e.flags >> 12) & 3 == 0)
        .map(|e| Entry {
            path: String::from_utf8_lossy(&e.path).into_owned(),
            mode: e.mode,
            id: e.id,
        })
        .collect())
}

/// The blobs (files and symbolic links) of a tree.
pub fn tree_entries(tree: &git2::Tree<'_>) -> Result<Vec<Entry>, git2::Error> {
    let mut out = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(ObjectType::Blob) {
            out.push(Entry {
                path: format!("{dir}{}", entry.name().unwrap_or_default()),
                mode: entry.filemode() as u32,
                id: entry.id(),
            });
        }
        TreeWalkResult::Ok
    })?;
    Ok(out)
}

/// What one check run shares across the changes it looks at: the protection rules, the
/// identities, and what was already checked.
pub struct Guard<'r> {
    repo: &'r Repository,
    protection: Protection<'r>,
    keys: Keys,
    /// Protected blobs already checked (path, blob).
    seen: HashSet<(Oid, String)>,
    /// Blobs whose MAC was checked: `Some(problem)` when it failed.
    verified: HashMap<Oid, Option<String>>,
    /// The values of sealed blobs learned before (keyed digests): those are not decrypted
    /// again (`super::known`). Written back by [`Guard::finish`].
    known: Known,
}

impl<'r> Guard<'r> {
    /// A guard for `repo` (identities are looked for only when a file needs them).
    pub fn new(repo: &'r Repository) -> Guard<'r> {
        Guard {
            repo,
            protection: Protection::new(repo),
            keys: Keys::default(),
            seen: HashSet::new(),
            verified: HashMap::new(),
            known: Known::load(repo),
        }
    }

    /// Ends the run: what was learned is kept for the next one.
    pub fn finish(mut self) {
        self.known.save();
    }

    /// Checks the change from `base` to `new`, reporting findings at `place`: every
    /// protected entry of `new` (ciphertext, MAC verified with a key when its blob is
    /// new), and every unprotected blob the change adds or changes (no secret of a sealed
    /// file of `base` or `new` in it).
    pub fn check_change(
        &mut self,
        base: &[Entry],
        new: &[Entry],
        place: &str,
    ) -> Result<Vec<Finding>, git2::Error> {
        let before: HashMap<&str, Oid> = base.iter().map(|e| (e.path.as_str(), e.id)).collect();
        let by_path: HashMap<&str, &Entry> = new.iter().map(|e| (e.path.as_str(), e)).collect();
        let mut out = Vec::new();
        let mut candidates = Vec::new();
        for e in new {
            let changed = before.get(e.path.as_str()) != Some(&e.id);
            if !self.protection.covers(&e.path) {
                if changed && e.mode & MODE_TYPE == REGULAR {
                    candidates.push(e);
                }
                continue;
            }
            if !self.seen.insert((e.id, e.path.clone())) {
                continue;
            }
            let problem = match e.mode & MODE_TYPE {
                REGULAR => {
                    let blob = self.repo.find_blob(e.id)?;
                    match check_blob(&e.path, blob.content()) {
                        Some(p) if place == "index" => Some(format!(
                            "{p}; stage it encrypted: {}",
                            restage_advice(&e.path)
                        )),
                        Some(p) => Some(p),
                        None if changed => self.verify_mac(&e.path, e.id, blob.content()),
                        None => None,
                    }
                }
                SYMLINK => self.check_symlink(e, &by_path)?,
                // A submodule (gitlink) holds no file content.
                _ => None,
            };
            if let Some(problem) = problem {
                out.push(Finding {
                    place: place.to_string(),
                    path: e.path.clone(),
                    problem,
                });
            }
        }
        if !candidates.is_empty() {
            out.extend(self.check_leaks(base, new, &candidates, place)?);
        }
        Ok(out)
    }

    /// With an identity that opens the file: does its MAC verify?
    fn verify_mac(&mut self, path: &str, id: Oid, content: &[u8]) -> Option<String> {
        if let Some(done) = self.verified.get(&id) {
            return done.clone();
        }
        let syntax = Syntax::of_file(Path::new(path));
        let text = std::str::from_utf8(content).ok()?;
        let sealed = Sealed::parse(text, syntax.format()).ok()?;
        let ids = self.keys.get()?;
        // Without a key that opens it only the structure could be checked (above).
        let key = unwrap_data_key(&sealed.metadata, ids).ok()?;
        let problem = sealed.decrypt(&key).err().map(|e| {
            format!(
                "does not decrypt ({e}): staged in part (`git add -p`?) or altered; stage the whole file: `git add --renormalize -- {}`",
                q(path)
            )
        });
        self.verified.insert(id, problem.clone());
        problem
    }

    /// A symbolic link holds a path, not secrets: it is fine unless it points at a file of
    /// the same snapshot that is not protected and holds plaintext.
    fn check_symlink(
        &self,
        e: &Entry,
        by_path: &HashMap<&str, &Entry>,
    ) -> Result<Option<String>, git2::Error> {
        let blob = self.repo.find_blob(e.id)?;
        let Some(target) = std::str::from_utf8(blob.content())
            .ok()
            .and_then(|t| resolve_link(&e.path, t))
        else {
            return Ok(None);
        };
        let Some(t) = by_path.get(target.as_str()) else {
            return Ok(None);
        };
        if t.mode & MODE_TYPE != REGULAR || self.protection.covers(&target) {
            return Ok(None);
        }
        let content = self.repo.find_blob(t.id)?;
        Ok(check_blob(&e.path, content.content()).map(|_| {
            format!(
                "a symbolic link to {target}, which is not protected and not ciphertext; move that file under a protected path, or unstage it: `git rm -q -f --cached -- {}`",
                q(&target)
            )
        }))
    }

    /// Unprotected blobs of the change that expose a sealed file of `base` or `new`.
    fn check_leaks(
        &mut self,
        base: &[Entry],
        new: &[Entry],
        candidates: &[&Entry],
        place: &str,
    ) -> Result<Vec<Finding>, git2::Error> {
        let mut docs: Vec<SecretDoc> = Vec::new();
        let mut read: HashSet<(Oid, &str)> = HashSet::new();
        let sealed_after: HashSet<&str> = new
            .iter()
            .filter(|e| e.mode & MODE_TYPE == REGULAR)
            .filter(|e| self.is_sealed(e))
            .map(|e| e.path.as_str())
            .collect();
        for e in base.iter().chain(new) {
            if e.mode & MODE_TYPE != REGULAR || !read.insert((e.id, e.path.as_str())) {
                continue;
            }
            let left = !sealed_after.contains(e.path.as_str());
            // A file that leaves its path is compared value by value at its key paths,
            // which needs its texts.
            if !left && self.known.knows(&e.path, e.id) {
                continue;
            }
            let blob = self.repo.find_blob(e.id)?;
            if !looks_sealed(blob.content()) {
                continue;
            }
            if let Some(mut doc) = SecretDoc::read(&e.path, blob.content(), &mut self.keys) {
                doc.left = left;
                self.known.learn(e.id, &doc);
                docs.push(doc);
            }
        }
        let known = &self.known;
        let fix = |c: &Entry, left: Option<&str>| {
            if place != "index" {
                "; the values are in the history: rotate them".to_string()
            } else if let Some(p) = left {
                let dir = match p.rsplit_once('/') {
                    Some((dir, _)) => format!("mkdir -p -- {} && ", q(dir)),
                    None => String::new(),
                };
                format!(
                    "; keep it protected: `git rm -q -f --cached -- {c} && {dir}mv -- {c} {p} && git add -- {p}`",
                    c = q(&c.path),
                    p = q(p)
                )
            } else {
                format!(
                    "; unstage it (`git rm -q -f --cached -- {}`) and take the secret values out of it",
                    q(&c.path)
                )
            }
        };
        let mut out = Vec::new();
        for c in candidates {
            let blob = self.repo.find_blob(c.id)?;
            let problem = docs
                .iter()
                .find_map(|d| {
                    let why = d.exposed_in(blob.content())?;
                    Some(format!("{why}{}", fix(c, d.left.then_some(d.path.as_str()))))
                })
                .or_else(|| {
                    let (source, key_path) = known.find(blob.content())?;
                    Some(format!(
                        "holds in clear text the value at key path '{key_path}' of the protected file {source}{}",
                        fix(c, None)
                    ))
                });
            if let Some(problem) = problem {
                out.push(Finding {
                    place: place.to_string(),
                    path: c.path.clone(),
                    problem,
                });
            }
        }
        Ok(out)
    }

    fn is_sealed(&self, e: &Entry) -> bool {
        let syntax = Syntax::of_file(Path::new(&e.path));
        self.repo.find_blob(e.id).is_ok_and(|b| {
            looks_sealed(b.content())
                && std::str::from_utf8(b.content())
                    .is_ok_and(|t| Sealed::parse(t, syntax.format()).is_ok())
        })
    }
}

/// A cheap test before parsing: every SOPS file names its `sops` metadata.
pub fn looks_sealed(content: &[u8]) -> bool {
    memchr::memmem::find(content, b"sops").is_some()
}

/// The repository path a symbolic link at `link` with target `target` points to, when it
/// stays inside the repository.
fn resolve_link(link: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for step in target.split('/') {
        match step {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Checks the index against HEAD (the pre-commit guard).
pub fn check_index(repo: &Repository) -> Result<Vec<Finding>, git2::Error> {
    let base = match repo.head().ok().and_then(|h| h.peel_to_tree().ok()) {
        Some(tree) => tree_entries(&tree)?,
        None => Vec::new(),
    };
    let new = index_entries(repo)?;
    let mut guard = Guard::new(repo);
    let out = guard.check_change(&base, &new, "index")?;
    guard.finish();
    Ok(out)
}

/// Checks each of `revs` (commits) against its first parent, as the guard checked the
/// index against HEAD when it was made.
pub fn check_commits(repo: &Repository, revs: &[Oid]) -> Result<Vec<Finding>, git2::Error> {
    let mut guard = Guard::new(repo);
    let mut out = Vec::new();
    for &rev in revs {
        let commit = repo.find_commit(rev)?;
        let new = tree_entries(&commit.tree()?)?;
        let base = match commit.parents().next() {
            Some(parent) => tree_entries(&parent.tree()?)?,
            None => Vec::new(),
        };
        let place = format!("commit {}", &rev.to_string()[..12]);
        out.extend(guard.check_change(&base, &new, &place)?);
    }
    guard.finish();
    Ok(out)
}

/// The commits of a range `A..B`, or of everything reachable from HEAD.
pub fn commits(repo: &Repository, range: Option<&str>) -> Result<Vec<Oid>, git2::Error> {
    let mut walk = repo.revwalk()?;
    match range {
        Some(r) if r.contains("..") => walk.push_range(r)?,
        Some(r) => walk.push(repo.revparse_single(r)?.peel_to_commit()?.id())?,
        None => walk.push_head()?,
    }
    walk.collect()
}

//! The guard: a path that the rules protect must hold SOPS ciphertext in the index (and in
//! history), never a plaintext blob — e.g. one staged with the filter bypassed
//! (`git update-index --cacheinfo`, a missing `sealed git init`, `GIT_CONFIG_NOSYSTEM` tricks).

use std::collections::HashSet;
use std::path::Path;

use git2::{AttrCheckFlags, ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use crate::config::Config;
use crate::engine::Sealed;
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
            (Some(c), Some(root)) => c.rule_for(&root.join(path)).is_some_and(|r| {
                r.path_regex.is_some() && Syntax::from_path(Path::new(path)).is_some()
            }),
            _ => false,
        }
    }
}

/// Checks one blob; `None` when it is proper ciphertext.
pub fn check_blob(path: &str, content: &[u8]) -> Option<String> {
    let Some(syntax) = Syntax::from_path(Path::new(path)) else {
        return Some("protected, but not YAML, JSON or .env by its name".into());
    };
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

/// Checks the protected entries of the index.
pub fn check_index(repo: &Repository) -> Result<Vec<Finding>, git2::Error> {
    let protection = Protection::new(repo);
    let index = repo.index()?;
    let mut out = Vec::new();
    for entry in index.iter() {
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        if !protection.covers(&path) {
            continue;
        }
        let blob = repo.find_blob(entry.id)?;
        if let Some(problem) = check_blob(&path, blob.content()) {
            out.push(Finding {
                place: "index".into(),
                path,
                problem,
            });
        }
    }
    Ok(out)
}

/// Checks the trees of `revs` (each a commit), every blob once.
pub fn check_commits(repo: &Repository, revs: &[Oid]) -> Result<Vec<Finding>, git2::Error> {
    let protection = Protection::new(repo);
    let mut seen: HashSet<(Oid, String)> = HashSet::new();
    let mut out = Vec::new();
    for &rev in revs {
        let commit = repo.find_commit(rev)?;
        let tree = commit.tree()?;
        let mut blobs = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(ObjectType::Blob) {
                blobs.push((
                    format!("{dir}{}", entry.name().unwrap_or_default()),
                    entry.id(),
                ));
            }
            TreeWalkResult::Ok
        })?;
        for (path, id) in blobs {
            if !protection.covers(&path) || !seen.insert((id, path.clone())) {
                continue;
            }
            let blob = repo.find_blob(id)?;
            if let Some(problem) = check_blob(&path, blob.content()) {
                out.push(Finding {
                    place: format!("commit {}", &rev.to_string()[..12]),
                    path,
                    problem,
                });
            }
        }
    }
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

//! `sealed scan`: the secret values of the repository's sealed files, found in clear in
//! other files of the work tree, the index, or any commit.
//!
//! The values come from every sealed file (SOPS ciphertext) of the scanned snapshots that
//! an identity opens (MAC verified first). All of them go into one Aho-Corasick automaton,
//! and each file or blob is searched once for all values at once; in history each blob is
//! read once (deduplicated by id) and reported at the oldest commit that added it. A
//! finding names the path, line, commit, the sealed file and the key path of the value,
//! never the value.

use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use git2::{ObjectType, Oid, Repository, Sort, Status, StatusOptions};
use zeroize::Zeroizing;

use super::check::{Protection, index_entries, looks_sealed, tree_entries};
use super::leak::{Keys, SecretDoc};

/// Values shorter than this are not looked for by default (`--min-len`): ports, booleans
/// and short names are too often in other files by chance (the guard's limit).
pub const DEFAULT_MIN_LEN: usize = super::leak::MIN_SECRET_LEN;

/// What to scan.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The files of the work tree (tracked, and untracked ones that are not ignored).
    WorkTree,
    /// The blobs of the index.
    Staged,
    /// Every commit reachable from HEAD, or those of a range (`A..B`, or `REV` for
    /// `REV..HEAD`).
    History(Option<String>),
}

/// A value found in clear.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The path of the file that holds it.
    pub path: String,
    /// Its line (1-based).
    pub line: usize,
    /// The commit that added the blob (history scans).
    pub commit: Option<String>,
    /// The sealed file the value belongs to.
    pub source: String,
    /// The value's key path there (`db:password:`, SOPS's spelling).
    pub key_path: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.path, self.line)?;
        if let Some(c) = &self.commit {
            write!(f, "(commit {c}) ")?;
        }
        write!(
            f,
            "the value at key path '{}' of {} in clear text",
            self.key_path, self.source
        )
    }
}

/// The result of a scan.
#[derive(Debug, Default)]
pub struct Report {
    /// The values found, in path and line order (history: oldest commit first).
    pub findings: Vec<Finding>,
    /// Sealed files no identity opened: their values were not looked for.
    pub unopened: Vec<String>,
    /// How many values (patterns) were looked for.
    pub values: usize,
    /// How many files or blobs were searched.
    pub searched: usize,
}

/// Every value to look for, with the sealed file and key path it comes from.
struct Values {
    ac: Option<AhoCorasick>,
    owners: Vec<(String, String)>,
}

impl Values {
    fn new(docs: &[SecretDoc], min_len: usize) -> Result<Values, String> {
        let min_len = min_len.max(1);
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut patterns: Vec<&str> = Vec::new();
        let mut owners = Vec::new();
        for doc in docs {
            for (key, text) in doc.secrets() {
                let lines = text.contains('\n').then(|| text.lines().map(str::trim));
                for t in std::iter::once(text).chain(lines.into_iter().flatten()) {
                    if t.len() >= min_len && !index.contains_key(t) {
                        index.insert(t, patterns.len());
                        patterns.push(t);
                        owners.push((doc.path.clone(), key.to_string()));
                    }
                }
            }
        }
        let ac = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .map_err(|e| e.to_string())?,
            )
        };
        Ok(Values { ac, owners })
    }

    /// The values in `content` at `path` (outside their own file), one finding each.
    fn search(&self, path: &str, content: &[u8], commit: Option<&str>, out: &mut Vec<Finding>) {
        let Some(ac) = &self.ac else { return };
        let (mut line, mut at) = (1, 0);
        for m in ac.find_iter(content) {
            let (source, key_path) = &self.owners[m.pattern().as_usize()];
            if source == path {
                continue;
            }
            line += memchr::memchr_iter(b'\n', &content[at..m.start()]).count();
            at = m.start();
            out.push(Finding {
                path: path.to_string(),
                line,
                commit: commit.map(str::to_string),
                source: source.clone(),
                key_path: key_path.clone(),
            });
        }
    }
}

/// Reads `content` at `path` as a sealed file: `None` when it is not SOPS ciphertext. A
/// file of any name can be one (sops's binary store holds a file of another name).
fn sealed_doc(path: &str, content: &[u8], keys: &mut Keys) -> Option<SecretDoc> {
    if !looks_sealed(content) {
        return None;
    }
    SecretDoc::read(path, content, keys)
}

/// Scans `repo` in `scope` for values of at least `min_len` bytes.
pub fn scan(repo: &Repository, scope: &Scope, min_len: usize) -> Result<Report, String> {
    let git = |e: git2::Error| format!("git: {}", e.message());
    let mut keys = Keys::default();
    let mut docs = Vec::new();
    let mut seen_docs: HashSet<(Oid, String)> = HashSet::new();
    let mut report = Report::default();
    // (path, commit, blob or work-tree file) to search once the values are known.
    let mut targets: Vec<(String, Option<String>, Target)> = Vec::new();
    match scope {
        Scope::Staged | Scope::WorkTree => {
            let entries = index_entries(repo).map_err(git)?;
            for e in &entries {
                let staged = matches!(scope, Scope::Staged);
                let blob = repo.find_blob(e.id).map_err(git)?;
                match sealed_doc(&e.path, blob.content(), &mut keys) {
                    Some(doc) => docs.push(doc),
                    None if staged => {
                        targets.push((e.path.clone(), None, Target::Blob(e.id)));
                    }
                    None => {}
                }
            }
            if matches!(scope, Scope::WorkTree) {
                let root = repo
                    .workdir()
                    .ok_or("scan: a bare repository has no work tree; use --staged or --history")?;
                let protection = Protection::new(repo);
                let mut paths: Vec<String> = entries.into_iter().map(|e| e.path).collect();
                paths.extend(untracked(repo).map_err(git)?);
                for path in paths {
                    let file = root.join(&path);
                    let Ok(meta) = std::fs::symlink_metadata(&file) else {
                        continue;
                    };
                    if !meta.is_file() || protection.covers(&path) {
                        continue;
                    }
                    let Ok(content) = std::fs::read(&file) else {
                        continue;
                    };
                    match sealed_doc(&path, &content, &mut keys) {
                        Some(doc) => docs.push(doc),
                        None => targets.push((path, None, Target::File(file))),
                    }
                }
            }
        }
        Scope::History(range) => {
            // Each object is read once; its hash is not verified again (a read-only scan;
            // `git fsck` checks a repository's objects).
            git2::opts::strict_hash_verification(false);
            let mut blobs: HashSet<Oid> = HashSet::new();
            // The sealed files of HEAD give their values even when a range leaves out the
            // commits that added them.
            if let Some(tree) = repo.head().ok().and_then(|h| h.peel_to_tree().ok()) {
                for e in tree_entries(&tree).map_err(git)? {
                    let blob = repo.find_blob(e.id).map_err(git)?;
                    if let Some(doc) = sealed_doc(&e.path, blob.content(), &mut keys)
                        && seen_docs.insert((e.id, e.path))
                    {
                        docs.push(doc);
                    }
                }
            }
            let mut trees: HashSet<Oid> = HashSet::new();
            let (revs, boundary) = history(repo, range.as_deref()).map_err(git)?;
            // What the range starts from is not scanned: its trees and blobs count as seen
            // (its sealed files still give their values).
            if let Some(start) = boundary {
                let mut before = Vec::new();
                let tree = repo
                    .find_commit(start)
                    .and_then(|c| c.tree())
                    .map_err(git)?;
                new_blobs(repo, &tree, "", &mut trees, &mut before).map_err(git)?;
                for (path, id) in before {
                    blobs.insert(id);
                    let blob = repo.find_blob(id).map_err(git)?;
                    if let Some(doc) = sealed_doc(&path, blob.content(), &mut keys)
                        && seen_docs.insert((id, path))
                    {
                        docs.push(doc);
                    }
                }
            }
            for rev in revs {
                let commit = repo.find_commit(rev).map_err(git)?;
                let short = rev.to_string()[..12].to_string();
                let mut added = Vec::new();
                new_blobs(
                    repo,
                    &commit.tree().map_err(git)?,
                    "",
                    &mut trees,
                    &mut added,
                )
                .map_err(git)?;
                for (path, id) in added {
                    if !blobs.insert(id) {
                        continue;
                    }
                    let blob = repo.find_blob(id).map_err(git)?;
                    match sealed_doc(&path, blob.content(), &mut keys) {
                        Some(doc) if seen_docs.insert((id, path.clone())) => docs.push(doc),
                        Some(_) => {}
                        None => targets.push((path, Some(short.clone()), Target::Blob(id))),
                    }
                }
            }
        }
    }
    let mut unopened: Vec<String> = docs
        .iter()
        .filter(|d| !d.opened())
        .map(|d| d.path.clone())
        .collect();
    unopened.sort();
    unopened.dedup();
    report.unopened = unopened;
    let values = Values::new(&docs, min_len)?;
    drop(docs);
    report.values = values.owners.len();
    for (path, commit, target) in &targets {
        report.searched += 1;
        match target {
            Target::Blob(id) => {
                let blob = repo.find_blob(*id).map_err(git)?;
                values.search(
                    path,
                    blob.content(),
                    commit.as_deref(),
                    &mut report.findings,
                );
            }
            Target::File(file) => {
                if let Ok(content) = std::fs::read(file) {
                    let content = Zeroizing::new(content);
                    values.search(path, &content, None, &mut report.findings);
                }
            }
        }
    }
    // History keeps its order: oldest commit first.
    if !matches!(scope, Scope::History(_)) {
        report
            .findings
            .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    }
    Ok(report)
}

/// Where a target's content is.
enum Target {
    Blob(Oid),
    File(std::path::PathBuf),
}

/// The regular files under `tree` (at `prefix`) that are in no tree seen before: a tree
/// already in `trees` was walked at an earlier commit, so each tree and blob is read once.
fn new_blobs(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    prefix: &str,
    trees: &mut HashSet<Oid>,
    out: &mut Vec<(String, Oid)>,
) -> Result<(), git2::Error> {
    if !trees.insert(tree.id()) {
        return Ok(());
    }
    for entry in tree.iter() {
        let name = String::from_utf8_lossy(entry.name_bytes());
        let path = format!("{prefix}{name}");
        match entry.kind() {
            Some(ObjectType::Tree) => {
                let sub = repo.find_tree(entry.id())?;
                new_blobs(repo, &sub, &format!("{path}/"), trees, out)?;
            }
            Some(ObjectType::Blob) if entry.filemode() & 0o170000 == 0o100000 => {
                out.push((path, entry.id()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Untracked files that are not ignored.
fn untracked(repo: &Repository) -> Result<Vec<String>, git2::Error> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    Ok(repo
        .statuses(Some(&mut opts))?
        .iter()
        .filter(|s| s.status().contains(Status::WT_NEW))
        .filter_map(|s| s.path().ok().map(str::to_string))
        .collect())
}

/// The commits to scan, oldest first: every one reachable from HEAD, those of `A..B`, or
/// those after `REV` (`REV..HEAD`); and the commit the range starts from (`A`, `REV`).
fn history(repo: &Repository, range: Option<&str>) -> Result<(Vec<Oid>, Option<Oid>), git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
    let boundary = match range {
        Some(r) if r.contains("..") => {
            walk.push_range(r)?;
            let from = r.split("..").next().unwrap_or_default();
            Some(repo.revparse_single(from)?.peel_to_commit()?.id())
        }
        Some(r) => {
            walk.push_head()?;
            let from = repo.revparse_single(r)?.peel_to_commit()?.id();
            walk.hide(from)?;
            Some(from)
        }
        None => {
            walk.push_head()?;
            None
        }
    };
    Ok((walk.collect::<Result<_, _>>()?, boundary))
}
